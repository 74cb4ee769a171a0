"""hpc-verify on the reference app: exactly the known defects are blocked, with every AZ up and with each AZ lost.

KNOWN_DEFECTS is the list of paths the open issues name: the lead removes an entry when the fix for it merges, and
this test then insists the path is ok. A path blocked that is not listed, or listed and ok, fails the test.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest

from hpc_constructs.verify import Assembly, Checker
from tests.verify.support import blocked

UP, AZ0, AZ1 = "every AZ up", "az0", "az1"
SCENARIOS = {UP: None, AZ0: "az0", AZ1: "az1"}
ALWAYS = (UP, AZ0, AZ1)
BOTH_UP = (UP, AZ1)  # nodes in az0 only (the cluster subnet): nothing to check once az0 is lost


@dataclass(frozen=True)
class Defect:
    path: str
    issue: str  # the issue whose fix opens (or closes) the path
    when: tuple[str, ...]


KNOWN_DEFECTS: tuple[Defect, ...] = (
    # Issue 24 (Batch) is fixed on main (be8afea): its defects, the multi-node jobs' interfaces in the emptied
    # default group, the job-events policies open to another account's rules, jobs able to take the instance role,
    # are ok now.
    # Issue 25 is fixed on main (25b0afc): only root reaches the metadata service on every node kind (hpc-imds-guard
    # --non-root and hop limit 1 on Slurm nodes, fleets and bastions), which was also issue 26 §3's first part.
    # Issue 26 §3: the host-key secret.
    Defect("only HpcAccess/Bastion bastion role may secretsmanager:GetSecretValue on the host-key secret "
           "HpcAccess/Bastion/HostKeys (the shared SSH identity: the secret's policy refuses everyone else)", "26 §3",
           ALWAYS),
    Defect("HpcAccess/Bastion bastion role may not secretsmanager:PutSecretValue on the host-key secret "
           "HpcAccess/Bastion/HostKeys (once the keys exist, no bastion may replace them)", "26 §3", ALWAYS),
    # Issue 26 §2: one NAT gateway, only an S3 endpoint: the other AZ's bastion and nodes lose their way out.
    *(Defect(f"HpcAccess/Bastion bastions to {what}", "26 §2", (AZ0,)) for what in (
        "Secrets Manager: HTTPS (the shared host keys, first boot step)",
        "CloudWatch Logs: HTTPS (the SSH log, CloudWatch agent)",
        "Systems Manager (ssm, ssmmessages, ec2messages): HTTPS (Session Manager)",
        "CloudFormation: HTTPS (the boot's signal)")),
    *(Defect(f"HpcBatch/Batch/Environment{environment} nodes to {what}", "26 §2", (AZ0,))
      for environment in ("spot-cpu", "gpu") for what in (
          "ECS (ecs, ecs-agent, ecs-telemetry): HTTPS (the ECS agent)",
          "CloudWatch Logs: HTTPS (the jobs' awslogs driver)",
          "Systems Manager (ssm, ssmmessages, ec2messages): HTTPS (Session Manager)")),
    # A public image needs the internet: a NAT gateway in each AZ the environment uses (interface endpoints do not
    # reach public.ecr.aws), or the image in the account's ECR.
    Defect("HpcBatch/Batch/Environmentgpu nodes to the internet: HTTPS (pull public.ecr.aws/hpc/render:latest)",
           "26 §2", (AZ0,)),
)


@pytest.fixture(scope="module")
def checker(reference: Assembly) -> Checker:
    return Checker(reference)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_the_reference_app_blocks_exactly_the_known_defects(checker: Checker, scenario: str) -> None:
    lost = SCENARIOS[scenario]
    found = {r.path for r in checker.run(lost) if not r.ok}
    expected = {d.path for d in KNOWN_DEFECTS if scenario in d.when}
    assert sorted(found - expected) == [], "blocked, and not a known defect"
    assert sorted(expected - found) == [], "a known defect that is ok now: remove it from KNOWN_DEFECTS"


def test_every_known_defect_names_an_open_issue() -> None:
    assert {d.issue.split()[0] for d in KNOWN_DEFECTS} <= {"24", "25", "26"}
    assert len({d.path for d in KNOWN_DEFECTS}) == len(KNOWN_DEFECTS)


def test_each_construct_declares_its_paths(checker: Checker) -> None:
    paths = [str(d["path"]) for d in checker.declared]
    for who in ("HpcCompute/Cpu nodes", "HpcCompute/Gpu nodes", "HpcStorage/Storage Lustre", "HpcStorage/Storage EFS",
                "HpcBatch/Batch", "HpcSlurm/Slurm", "HpcAccess/Bastion", "HpcDataTransfer/DataTransfer"):
        assert any(who in p for p in paths), who
    kinds = {str(d["kind"]) for d in checker.declared}
    assert kinds == {"network", "service", "load_balancer", "chain", "iam", "route", "exclusive", "imds"}


def test_the_issue_examples_are_declared_and_checked(checker: Checker) -> None:
    results = {r.path: r for r in checker.run()}
    examples = [
        "HpcCompute/Cpu nodes to each other: all traffic, both directions (MPI, EFA)",
        "HpcCompute/Cpu nodes to HpcStorage/Storage Lustre: TCP 988 and 1018-1023, both directions (Lustre client, "
        "both sides open connections)",
        "203.0.113.0/24 to HpcCompute/Cpu nodes: TCP 22, through HpcAccess/Bastion (SSH)",
        "HpcSlurm/Slurm node role may pcs:RegisterComputeNodeGroupInstance on the cluster HpcSlurm/Slurm (every node "
        "registers at boot)",
        "HpcAccess/Bastion bastion role may secretsmanager:GetSecretValue on the host-key secret "
        "HpcAccess/Bastion/HostKeys (first boot step)",
    ]
    for example in examples:
        assert results[example].ok, results[example].reason


def test_a_single_az_fleet_is_not_applicable_when_its_az_is_lost(checker: Checker) -> None:
    result = {r.path: r for r in checker.run("az0")}["HpcCompute/Cpu nodes to each other: all traffic, both "
                                                        "directions (MPI, EFA)"]
    assert result.ok and result.reason.startswith("not applicable: HpcCompute/Cpu nodes is only in az0")


def test_the_defects_name_their_cause(reference: Assembly) -> None:
    lost = blocked(reference, "az0")
    bastion = lost["HpcAccess/Bastion bastions to Secrets Manager: HTTPS (the shared host keys, first boot step)"]
    assert "only through NAT gateway HpcNetwork/Network/Vpc/PublicSubnet1/NATGateway in az0, the lost AZ" in bastion
    reasons = blocked(reference)
    secret = reasons[next(d.path for d in KNOWN_DEFECTS if d.path.startswith("only HpcAccess/Bastion"))]
    assert "no statement of its resource policy refuses other principals" in secret


def test_verifying_the_reference_app_takes_under_5_seconds(reference_directory: Any) -> None:
    """Loading the assembly and checking every path with every AZ up and with each AZ lost (benchmarks/verify.py
    measures the same from the command line)."""
    started = time.perf_counter()
    checker = Checker(Assembly.load(reference_directory))
    for az in (None, *checker.azs()):
        checker.run(az)
    assert time.perf_counter() - started < 5.0
