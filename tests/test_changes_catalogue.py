"""The edits platform engineers make every week, each applied to config/reference.yaml and judged by the report.

Each edit is made to the parsed YAML, the edited app is synthesized in this process (cdk.json's context, as
`make synth`), and hpc_constructs.changes compares it with the session's reference assembly (tests/conftest.py):
the lines it must print are written below, one (stack, logical ID, type, impact, words of the cause) each.
No `data loss` or `fails` line appears unless the edit means it.

The edited apps are built without cdk-nag: it checks and reports but adds nothing to a template except the name of
its library in CDKMetadata, which the report does not judge; the first case (no edit at all) shows that this,
and everything else that is not the edit, replaces nothing. Building with it would cost a second per edit.

The Batch and Slurm fixes of issues 24 and 25 shaped several lines: a queue or job definition that moves to another
template gets a new name (24.6), app-wide tags stay off create-only Tags (24.5), a node group's PCS name follows its
instance types (25.3), the Slurm version is pinned in the config (25.4).
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from aws_cdk import cx_api

from hpc_constructs.catalog.limits import LUSTRE_DEPLOYMENTS, PCS
from hpc_constructs.changes import DATA_LOSS, DISRUPTS, FAILS, REPLACED, Change, compare_assemblies, exit_status
from stacks import build_reference_app, parse_config
from stacks.nesting import FleetFacts, StorageFacts, plan_batch
from tests.support import ROOT, new_app

Config = dict[str, Any]
# (stack, logical ID, type, impact, words the cause must contain)
Line = tuple[str, str, str, str, str]

# The fewest Batch queues that, added to the reference config (each on a Fargate environment of its own, so that
# each is a unit of its own), take the Batch stack past stacks.nesting's thresholds: test_nesting_count checks it.
QUEUES_PAST_THE_NESTING_THRESHOLD = 20


@dataclass(frozen=True)
class Edit:
    name: str
    apply: Callable[[Config], None]
    lines: tuple[Line, ...] = ()
    # Many lines of one kind, by type: {type: count}, each `replaced` with `bulk_cause` in its cause.
    bulk: dict[str, int] = field(default_factory=dict)
    bulk_stack: str = ""
    bulk_cause: str = ""


def _no_edit(config: Config) -> None:
    pass


def _add_fleet(config: Config) -> None:
    config["fleets"]["Mem"] = {"instance_types": ["r7i.48xlarge"], "min_capacity": 0, "max_capacity": 2,
                               "mount_ebs": False}


def _add_batch_queue(config: Config) -> None:
    config["batch"]["job_queues"].append({"name": "medium", "compute_environments": ["spot-cpu"], "priority": 5})


def _extra_queues(config: Config, count: int) -> None:
    for i in range(count):
        config["batch"]["compute_environments"].append({"name": f"burst{i}", "fargate": True, "max_vcpus": 16})
        config["batch"]["job_queues"].append({"name": f"burst{i}", "compute_environments": [f"burst{i}"],
                                              "priority": 100 + i})


def _add_queues_past_the_nesting_threshold(config: Config) -> None:
    _extra_queues(config, QUEUES_PAST_THE_NESTING_THRESHOLD)


def _node_group_instance_types(config: Config) -> None:
    group = next(g for g in config["slurm"]["node_groups"] if g["name"] == "cpu")
    group["instance_types"] = ["hpc6a.48xlarge"]


def _slurm_size(config: Config) -> None:
    sizes = list(PCS.size_max_nodes)
    config["slurm"]["size"] = sizes[sizes.index(config["slurm"].get("size", sizes[0])) + 1]


def _slurm_version(config: Config) -> None:
    current = config["slurm"].get("slurm_version", PCS.slurm_versions[-1])
    config["slurm"]["slurm_version"] = next(v for v in reversed(PCS.slurm_versions) if v != current)


def _app_wide_tag(config: Config) -> None:
    key = next(iter(config["tags"]))
    config["tags"][key] = config["tags"][key] + "-2"


def _lustre_throughput(config: Config) -> None:
    lustre = config["storage"]["lustre"]
    tiers = LUSTRE_DEPLOYMENTS[(lustre["deployment_type"], lustre.get("storage_type", "SSD"))].per_unit_throughputs
    lustre["per_unit_storage_throughput"] = next(t for t in tiers if t > lustre["per_unit_storage_throughput"])


def _lustre_deployment_type(config: Config) -> None:
    lustre = config["storage"]["lustre"]
    lustre["deployment_type"] = "SCRATCH_2"  # keeps the data repository association; no per-unit throughput
    del lustre["per_unit_storage_throughput"]


def _grow_io2_volume(config: Config) -> None:
    volume = next(v for v in config["storage"]["ebs_volumes"] if v["volume_type"] == "io2")
    volume["size_gib"] *= 2


def _bastion_allow_list(config: Config) -> None:
    config["bastion"]["allowed_cidrs"] = [*config["bastion"]["allowed_cidrs"], "198.51.100.0/24"]


def _efa_installer_version(config: Config) -> None:
    config["fleets"]["Cpu"]["efa_installer_version"] = "1.52.0"  # the next release after the pinned 1.51.0


_CLUSTER = ("HpcSlurm", "Slurm2B67DB19", "AWS::PCS::Cluster")
_NODE_GROUPS = ("SlurmNodeGroupcpu9F609BB3", "SlurmNodeGroupgpu7B4FC251", "SlurmNodeGrouploginBD0AA79E",
                "SlurmNodeGroupspot8205842D")
_SLURM_QUEUES = ("SlurmQueuecpu2CB0746F", "SlurmQueuegpu9113C89D", "SlurmQueuespotE2ECFD93")
_ENVIRONMENTS = ("BatchEnvironmentefacpu353699B0", "BatchEnvironmentgpuD5F14AAD", "BatchEnvironmentspotcpuA2BCB28B")
_LUSTRE = ("HpcStorage", "StorageLustre6434AAB0", "AWS::FSx::FileSystem")
_LUSTRE_LINK = ("HpcStorage", "StorageDataRepository04344B7E6", "AWS::FSx::DataRepositoryAssociation", REPLACED,
                "FileSystemId changes: StorageLustre6434AAB0 is replaced")
_MOVED = "moved from HpcBatch to HpcBatch/Queues1"

CATALOGUE = (
    Edit("no edit", _no_edit),
    Edit("add a fleet", _add_fleet),
    Edit("add a Batch queue", _add_batch_queue),
    # The Batch stack's first split into nested stacks moves every Batch resource into Queues1. Queues and job
    # definitions get names of their new template (HpcBatch-Queues1-...), so none fails on a name still taken (24.6);
    # the orchestration's retained key and log group are moved too, which orphans the old ones: data loss, as meant.
    Edit("add Batch queues past the nesting threshold", _add_queues_past_the_nesting_threshold, (
        ("HpcBatch/Queues1", "BatchJobEventsKey903C7FA6", "AWS::KMS::Key", DATA_LOSS, _MOVED),
        ("HpcBatch/Queues1", "BatchJobLogsF59D7852", "AWS::Logs::LogGroup", DATA_LOSS, "retained, orphaned"),
        ("HpcBatch/Queues1", "BatchQueuehighB360629C", "AWS::Batch::JobQueue", DISRUPTS, _MOVED),
        ("HpcBatch/Queues1", "BatchQueuelow239FBDA8", "AWS::Batch::JobQueue", DISRUPTS, _MOVED),
        *(("HpcBatch/Queues1", e, "AWS::Batch::ComputeEnvironment", DISRUPTS, _MOVED) for e in _ENVIRONMENTS),
    # Bulk: the license server's client rules (TCP 27000 and 27001 from each environment's group and the VPC default
    # group, and the default group's egress to it) move with the rest.
    ), bulk={"AWS::EC2::SecurityGroupIngress": 24, "AWS::EC2::SecurityGroupEgress": 10, "AWS::IAM::Role": 4,
             "AWS::IAM::Policy": 4, "AWS::EC2::SecurityGroup": 3, "AWS::EC2::LaunchTemplate": 3,
             "AWS::IAM::InstanceProfile": 3, "AWS::SQS::Queue": 4, "AWS::SQS::QueuePolicy": 4, "AWS::SNS::Topic": 1,
             "AWS::SNS::TopicPolicy": 1, "AWS::Events::Rule": 1, "AWS::Batch::JobDefinition": 2},
         bulk_stack="HpcBatch/Queues1", bulk_cause=_MOVED),
    # 25.3: the group's PCS name follows its instance types, so the replacement gets a new name: it disrupts the
    # group's running work and never fails on the old one's name.
    Edit("change a node group's instance types", _node_group_instance_types, (
        ("HpcSlurm", "SlurmNodeGroupcpu9F609BB3", "AWS::PCS::ComputeNodeGroup", DISRUPTS,
         'InstanceConfigs [{"InstanceType":"hpc7a.96xlarge"}] -> [{"InstanceType":"hpc6a.48xlarge"}]'),
    )),
    Edit("change the Slurm size", _slurm_size, (
        (*_CLUSTER, DISRUPTS, 'Size "MEDIUM" -> "LARGE"'),
        *(("HpcSlurm", g, "AWS::PCS::ComputeNodeGroup", DISRUPTS, "ClusterId changes: Slurm2B67DB19 is replaced")
          for g in _NODE_GROUPS),
        *(("HpcSlurm", q, "AWS::PCS::Queue", DISRUPTS, "ClusterId changes: Slurm2B67DB19 is replaced")
          for q in _SLURM_QUEUES),
    )),
    # 25.4: the reference pins slurm_version; moving the pin updates the cluster in place (Scheduler is not
    # create-only): no line.
    Edit("change the Slurm version", _slurm_version),
    # 24.5: app-wide tags stay off the environments' and placement groups' create-only Tags: no line.
    Edit("change an app-wide tag", _app_wide_tag),
    # CloudFormation's reference documents PerUnitStorageThroughput as "Update requires: Replacement" (the FSx API
    # can change it in place, CloudFormation does not say it does): the edit means a new, empty file system.
    Edit("raise Lustre throughput", _lustre_throughput, (
        (*_LUSTRE, DATA_LOSS, "LustreConfiguration/PerUnitStorageThroughput 250 -> 500"),
        _LUSTRE_LINK,
    )),
    Edit("change Lustre's deployment type", _lustre_deployment_type, (
        (*_LUSTRE, DATA_LOSS, 'LustreConfiguration/DeploymentType "PERSISTENT_2" -> "SCRATCH_2"'),
        _LUSTRE_LINK,
    )),
    Edit("grow the io2 volume", _grow_io2_volume),
    Edit("change the bastion's allow-list", _bastion_allow_list),
    Edit("bump the EFA installer version", _efa_installer_version),
)


def _reference_config() -> Config:
    config: Config = yaml.safe_load((ROOT / "config" / "reference.yaml").read_text())
    return config


def _synthesize(config: Config, outdir: Path) -> Path:
    app = new_app(outdir=str(outdir))
    build_reference_app(app, parse_config(config, source="catalogue edit"), nag=False)
    return Path(app.synth().directory)


@pytest.mark.parametrize("edit", CATALOGUE, ids=lambda e: e.name)
def test_weekly_edit(edit: Edit, reference_assembly: cx_api.CloudAssembly, tmp_path: Path) -> None:
    config = _reference_config()
    edit.apply(config)
    found, _ = compare_assemblies(reference_assembly.directory, _synthesize(config, tmp_path / "cdk.out"))
    bulk = [c for c in found if edit.bulk and c.impact == REPLACED]
    lines = [c for c in found if c not in bulk]
    assert sorted(_row(c) for c in lines) == sorted(line[:4] for line in edit.lines), "\n".join(c.line() for c in found)
    causes = {_row(c): c.cause for c in lines}
    for line in edit.lines:
        assert line[4] in causes[line[:4]], causes[line[:4]]
    assert Counter(c.type for c in bulk) == Counter(edit.bulk)
    assert all(c.stack == edit.bulk_stack and edit.bulk_cause in c.cause for c in bulk)
    assert exit_status(found) == int(any(line[3] in (DATA_LOSS, FAILS) for line in edit.lines))


def _row(change: Change) -> tuple[str, str, str, str]:
    return change.stack, change.logical_id, change.type, change.impact


def test_nesting_count() -> None:
    """QUEUES_PAST_THE_NESTING_THRESHOLD is the fewest extra queues that nest the Batch stack (stacks.nesting)."""
    def nested(count: int) -> bool:
        config = _reference_config()
        _extra_queues(config, count)
        parsed = parse_config(copy.deepcopy(config), source="catalogue edit")
        assert parsed.batch is not None
        facts = {name: FleetFacts(tuple(f.instance_types), True, True) for name, f in parsed.fleets.items()}
        _, grouping = plan_batch("HpcBatch", parsed.batch, storage=StorageFacts.of_config(parsed.storage),
                                 fleets=facts)
        return grouping.nested

    assert nested(QUEUES_PAST_THE_NESTING_THRESHOLD)
    assert not nested(QUEUES_PAST_THE_NESTING_THRESHOLD - 1)
