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
from tests.verify.support import Templates, blocked, delete, logical_id, resource, variant

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
    # Issue 26 is fixed on main (c40eadb): the host-key secret's resource policy refuses every other principal and
    # every second write of a generation's keys (§3); a NAT gateway per AZ keeps each AZ's way out when the other
    # AZ is lost (§2). test_the_defects_name_their_cause undoes each fix on a copy and sees the path blocked again.
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
    """Issue 26's defects, brought back on a copy of the reference templates, are blocked with their cause."""
    def one_nat_gateway(t: Templates) -> None:  # the second private subnet's way out through the first AZ's NAT
        network = t["HpcNetwork"]
        route = resource(network, "HpcNetwork/Network/Vpc/PrivateSubnet2/DefaultRoute")
        first = logical_id(network, "HpcNetwork/Network/Vpc/PublicSubnet1/NATGateway")
        route["Properties"]["NatGatewayId"] = {"Ref": first}

    lost = blocked(variant(reference, one_nat_gateway), "az0")
    bastion = lost["HpcAccess/Bastion bastions to Secrets Manager: HTTPS (the shared host keys, first boot step)"]
    assert "only through NAT gateway HpcNetwork/Network/Vpc/PublicSubnet1/NATGateway in az0, the lost AZ" in bastion

    def no_secret_policy(t: Templates) -> None:
        delete(t["HpcAccess"], "HpcAccess/Bastion/HostKeys/Policy")

    reasons = blocked(variant(reference, no_secret_policy))
    exclusive = next(p for p in reasons if p.startswith("only HpcAccess/Bastion bastion role"))
    assert "no statement of its resource policy refuses other principals" in reasons[exclusive]
    rewrite = next(p for p in reasons
                   if p.startswith("HpcAccess/Bastion bastion role may not secretsmanager:PutSecretValue"))
    assert "open, but must not be" in reasons[rewrite] and set(reasons) == {exclusive, rewrite}


def test_verifying_the_reference_app_takes_under_5_seconds(reference_directory: Any) -> None:
    """Loading the assembly and checking every path with every AZ up and with each AZ lost (benchmarks/verify.py
    measures the same from the command line)."""
    started = time.perf_counter()
    checker = Checker(Assembly.load(reference_directory))
    for az in (None, *checker.azs()):
        checker.run(az)
    assert time.perf_counter() - started < 5.0
