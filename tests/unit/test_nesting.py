"""stacks.nesting: when ComputeStack and BatchStack split into nested stacks, and whether its estimates hold.

The grouping rules are plain functions (fast tests). The estimates are checked against synthesized templates
of several shapes: each part (a fleet; a Batch unit) and each template must be at most its estimate, and the
estimate not far above it. A construct change that adds resources or bytes fails here, not at deploy time.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from aws_cdk import NestedStack, Stack

from app import load_config
from hpc_constructs import ConfigError
from hpc_constructs.catalog import limits
from hpc_constructs.job_events import job_queue_arn_chars
from stacks import build_reference_app, nesting, parse_config
from stacks.batch_stack import BatchStack
from stacks.compute_stack import ComputeStack
from stacks.config import BatchConfig, ReferenceConfig
from stacks.nesting import (
    MAX_BYTES,
    MAX_RESOURCES,
    BatchUnit,
    FleetFacts,
    Footprint,
    StorageFacts,
    batch_shared_footprint,
    batch_unit_footprint,
    batch_units,
    fleet_footprint,
    plan_batch,
    plan_fleets,
    plan_groups,
)
from tests.lint.test_scale import cross_stack_references
from tests.support import ROOT, new_app

# How far above the real template an estimate may be: beyond it, the estimate wastes nested stacks.
TEMPLATE_SLACK = 1.3
PART_SLACK = 1.5  # a small part's fixed allowances weigh more


# -- thresholds and grouping ------------------------------------------------------------------------------------

def test_thresholds_leave_a_fifth_of_cloudformations_limits() -> None:
    assert 0.8 * limits.CLOUDFORMATION.max_resources_per_template == MAX_RESOURCES
    assert 0.8 * limits.CLOUDFORMATION.max_template_bytes == MAX_BYTES


def test_a_stack_that_fits_stays_one_template() -> None:
    grouping = plan_groups("S", [(f"p{i}", Footprint(30, 40_000)) for i in range(10)])
    assert not grouping.nested and grouping.groups is None
    assert grouping.estimate == nesting.TEMPLATE_OVERHEAD + Footprint(300, 400_000)


def test_parts_fill_nested_stacks_in_config_order_within_the_thresholds() -> None:
    grouping = plan_groups("S", [(f"p{i}", Footprint(100, 1_000)) for i in range(10)])
    assert grouping.groups == (("p0", "p1", "p2"), ("p3", "p4", "p5"), ("p6", "p7", "p8"), ("p9",))
    assert all(e.fits for e in grouping.group_estimates)
    assert grouping.group_estimates[0] == nesting.TEMPLATE_OVERHEAD + Footprint(300, 3_000)
    assert grouping.parent_estimate == nesting.TEMPLATE_OVERHEAD + Footprint(4, 4 * nesting.NESTED_STACK.bytes)


def test_bytes_alone_split_a_stack() -> None:
    grouping = plan_groups("S", [(f"p{i}", Footprint(1, 300_000)) for i in range(4)])
    assert grouping.groups == (("p0", "p1"), ("p2", "p3"))


def test_one_more_part_than_fits_opens_a_nested_stack() -> None:
    room = MAX_RESOURCES - nesting.TEMPLATE_OVERHEAD.resources
    assert not plan_groups("S", [("a", Footprint(room, 0))]).nested
    assert plan_groups("S", [("a", Footprint(room, 0)), ("b", Footprint(1, 0))]).groups == (("a",), ("b",))


def test_appending_parts_moves_no_existing_part() -> None:
    parts = [(f"p{i}", Footprint(37 + 11 * (i % 5), 20_000 * (i % 3))) for i in range(40)]
    before = plan_groups("S", parts[:30]).groups or ()
    after = plan_groups("S", parts).groups or ()
    assert after[:len(before) - 1] == before[:-1]
    assert after[len(before) - 1][:len(before[-1])] == before[-1]


def test_a_part_too_big_for_any_template_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"HpcBatch: Batch unit='q1, q2' .*within 400 resources.*cannot be split"):
        plan_groups("HpcBatch", [("0", Footprint(10, 10)), ("1", Footprint(MAX_RESOURCES, 10))],
                    what="Batch unit", describe={"1": "q1, q2"})


def test_a_parent_past_the_thresholds_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="parent"):
        plan_groups("S", [(f"p{i}", Footprint(300, 0)) for i in range(3)], parent_per_part={
            f"p{i}": Footprint(0, MAX_BYTES) for i in range(3)})


# -- Batch units ------------------------------------------------------------------------------------------------

def _batch(**section: Any) -> BatchConfig:
    config = parse_config({"batch": section}, source="test")
    assert config.batch is not None
    return config.batch


def _environments(*names: str, fargate: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    return [{"name": n, "fargate": True} if n in fargate else {"name": n, "instance_types": ["c7i"]} for n in names]


def _names(batch: BatchConfig, unit: BatchUnit) -> tuple[list[str], list[str], list[str], list[str]]:
    return ([batch.compute_environments[i].name for i in unit.environments],
            [batch.job_queues[i].name for i in unit.queues],
            [batch.multi_node_jobs[i].name for i in unit.multi_node_jobs],
            [batch.container_jobs[i].name for i in unit.container_jobs])


def test_queues_join_their_environments_into_units() -> None:
    batch = _batch(compute_environments=_environments("a", "b", "c", "d"), job_queues=[
        {"name": "q1", "compute_environments": ["a", "b"]}, {"name": "q2", "compute_environments": ["c"]},
        {"name": "q3", "compute_environments": ["b", "d"], "priority": 2}])
    assert [_names(batch, u)[:2] for u in batch_units(batch)] == [(["a", "b", "d"], ["q1", "q3"]), (["c"], ["q2"])]


def test_jobs_go_with_the_environment_they_name() -> None:
    batch = _batch(
        compute_environments=_environments("a", "b"),
        job_queues=[{"name": "qa", "compute_environments": ["a"]}, {"name": "qb", "compute_environments": ["b"]}],
        multi_node_jobs=[{"name": "mpi", "image": "i", "compute_environment": "b", "num_nodes": 2,
                          "instance_type": "c7i.48xlarge"}],
        container_jobs=[{"name": "one", "image": "i", "vcpus": 1, "memory_mib": 1024, "compute_environment": "b"}])
    assert [_names(batch, u) for u in batch_units(batch)] == [(["a"], ["qa"], [], []),
                                                              (["b"], ["qb"], ["mpi"], ["one"])]


def test_a_container_job_without_environment_goes_with_the_first_ec2_unit() -> None:
    batch = _batch(
        compute_environments=_environments("f", "a", fargate=("f",)),
        job_queues=[{"name": "qf", "compute_environments": ["f"]}, {"name": "qa", "compute_environments": ["a"]}],
        container_jobs=[{"name": "any", "image": "i", "vcpus": 1, "memory_mib": 1024}])
    assert [_names(batch, u)[3] for u in batch_units(batch)] == [[], ["any"]]


def test_parts_of_one_name_land_in_one_unit_for_the_construct_to_refuse() -> None:
    batch = _batch(compute_environments=_environments("a", "b"), job_queues=[
        {"name": "q", "compute_environments": ["a"]}, {"name": "q", "compute_environments": ["b"]}])
    (unit,) = batch_units(batch)
    assert _names(batch, unit)[:2] == (["a", "b"], ["q", "q"])


def test_without_queues_everything_is_one_unit() -> None:
    batch = _batch(compute_environments=_environments("a", "b"))
    assert batch_units(batch) == [BatchUnit((0, 1))]


def test_a_units_config_keeps_the_rest_of_the_section() -> None:
    batch = _batch(compute_environments=_environments("a", "b"), job_events=False, log_retention_days=7,
                   job_queues=[{"name": "qa", "compute_environments": ["a"]},
                               {"name": "qb", "compute_environments": ["b"]}])
    part = batch_units(batch)[1].config(batch)
    assert [e.name for e in part.compute_environments] == ["b"] and [q.name for q in part.job_queues] == ["qb"]
    assert part.job_events is False and part.log_retention_days == 7
    assert part.given().keys() >= {"job_events", "log_retention_days"}


def test_queues_past_one_job_events_pattern_split_the_batch_stack() -> None:
    """30 small queues fit a template's resources and bytes, but not one EventBridge pattern of their ARNs."""
    section = {"compute_environments": [{"name": f"e{i:02d}", "instance_types": ["c7i"]} for i in range(30)],
               "job_queues": [{"name": f"q{i:02d}", "compute_environments": [f"e{i:02d}"]} for i in range(30)]}
    _, grouping = plan_batch("HpcBatch", _batch(**section), storage=None, fleets={})
    assert grouping.estimate.resources < MAX_RESOURCES and grouping.estimate.bytes < MAX_BYTES
    assert grouping.estimate.pattern > nesting.MAX_EVENT_PATTERN_CHARS
    assert grouping.groups is not None and len(grouping.groups) == 2
    assert all(e.pattern <= nesting.MAX_EVENT_PATTERN_CHARS for e in grouping.group_estimates)
    per_queue = job_queue_arn_chars("HpcBatch-q00")
    assert grouping.group_estimates[0].pattern + per_queue > nesting.MAX_EVENT_PATTERN_CHARS  # full
    _, without_events = plan_batch("HpcBatch", _batch(**section, job_events=False), storage=None, fleets={})
    assert not without_events.nested


# -- what the storage adds --------------------------------------------------------------------------------------

def test_a_fleet_pays_for_the_ebs_volumes_it_mounts() -> None:
    storage = StorageFacts(lustre=True, efs=True, one_node_volumes=1, per_node_volumes=2)
    none, named, every = storage.mount(False), storage.mount(["local"]), storage.mount(True)
    assert none.rules == named.rules == every.rules == nesting.LUSTRE_RULES + nesting.EFS_RULES
    assert (none.node_volumes, every.node_volumes) == (0, 2)
    assert every.boot_steps.count("ebs-one-node") == 1 and every.boot_steps.count("ebs-per-node") == 2
    assert named.boot_steps.count("ebs-one-node") == 1  # a volume by name is counted as the costlier kind
    assert StorageFacts(lustre=True, lustre_efa=True).mount().rules == nesting.LUSTRE_EFA_RULES


def test_the_estimate_grows_with_what_a_fleet_carries() -> None:
    config = parse_config({"fleets": {"A": {"instance_types": ["c7i.large"]},
                                      "B": {"instance_types": ["p5.48xlarge"]}}}, source="test")
    small, big = (fleet_footprint("S/A", f) for f in config.fleets.values())
    assert big.bytes > small.bytes + 32 * nesting.INTERFACE_BYTES  # 32 EFA interfaces, the EFA installer, scratch
    assert fleet_footprint("S/" + "A" * 100, config.fleets["A"]).bytes > small.bytes
    assert fleet_footprint("S/A", config.fleets["A"], bastion=True).resources == small.resources + 1


# -- nested stacks, built (thresholds lowered so that a small config splits) -------------------------------------

SMALL: dict[str, Any] = {"name": "Small", "network": {"max_azs": 2, "nat_gateways": 1},
         "fleets": {f"F{i}": {"instance_types": ["c7i.large"]} for i in range(3)},
         "batch": {"compute_environments": [{"name": f"e{i}", "fleet": f"F{i}"} for i in range(3)],
                   "job_queues": [{"name": f"q{i}", "compute_environments": [f"e{i}"]} for i in range(3)],
                   "job_events": False}}


@pytest.fixture
def low_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Room for one fleet (8 resources) or one Batch unit (6, and 2 shared) per template, not two."""
    monkeypatch.setattr(nesting, "MAX_RESOURCES", 14)


def test_small_thresholds_put_every_fleet_and_unit_in_a_nested_stack_of_its_own(low_thresholds: None) -> None:
    stacks = build_reference_app(new_app(), parse_config(SMALL, source="test"))
    compute, batch = stacks["compute"], stacks["batch"]
    assert isinstance(compute, ComputeStack) and isinstance(batch, BatchStack)
    assert compute.grouping.groups == (("F0",), ("F1",), ("F2",))
    assert [c.node.id for c in compute.node.children if isinstance(c, NestedStack)] == ["Fleets1", "Fleets2", "Fleets3"]
    assert compute.fleets["F1"].node.path == "SmallCompute/Fleets2/F1"
    assert batch.batch is None and len(batch.orchestrations) == 3
    for i, orchestration in enumerate(batch.orchestrations):
        assert orchestration.node.path == f"SmallBatch/Queues{i + 1}/Batch"
        assert list(orchestration.job_queues) == [f"q{i}"]
        queue = orchestration.job_queues[f"q{i}"]
        # the top-level stack's name and the nested stack's id (a queue that moves between templates is renamed),
        # never the nested stack's own name, a token
        assert Stack.of(queue).resolve(queue.job_queue_name) == f"SmallBatch-Queues{i + 1}-q{i}"


def test_a_name_too_long_for_batch_in_a_nested_stack_is_a_config_error(low_thresholds: None) -> None:
    """<stack>-<nested id>-<name> within Batch's 128 characters, the top-level stack's name counted (not the
    nested one's, a token)."""
    config = copy.deepcopy(SMALL)
    config["name"] = "L" * 40
    config["batch"]["job_queues"][2]["name"] = "q" * 74
    build_reference_app(new_app(), parse_config(config, source="test"))  # 45 + 1 + 7 + 1 + 74 = 128: fits
    config["batch"]["job_queues"][2]["name"] = "q" * 75
    with pytest.raises(ConfigError, match=r"L{40}Batch/Queues3/Batch: name='q{75}' .*at most 74 characters after "
                                          r"'L{40}Batch-Queues3-'"):
        build_reference_app(new_app(), parse_config(config, source="test"))


def test_a_fleet_too_big_for_a_template_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nesting, "MAX_RESOURCES", 5)
    with pytest.raises(ConfigError, match=r"SmallCompute: fleet='F0'.*about \d+ resources"):
        build_reference_app(new_app(), parse_config(SMALL, source="test"))


# -- the estimates against synthesized templates ----------------------------------------------------------------

REFERENCE = ROOT / "config" / "reference.yaml"


def _mixed(storage: bool) -> dict[str, Any]:
    """Every kind of fleet and Batch unit the estimates know, and with storage enough to nest both stacks."""
    reference = yaml.safe_load(REFERENCE.read_text())
    fleets: dict[str, Any] = {
        "Cpu": reference["fleets"]["Cpu"], "Gpu": reference["fleets"]["Gpu"], "Viz": reference["fleets"]["Viz"],
        "Mixed": {"instance_types": [f"m7i.{s}" for s in ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge")],
                  "spot": True, "placement_group": False, "mount_ebs": False},
        "Scratch": {"instance_types": ["c6id.32xlarge"]},
        "F" + "x" * 60: {"instance_types": ["hpc7a.96xlarge", "hpc7a.48xlarge"], "mount_ebs": ["local"]},
    }
    environments = [
        {"name": "spot-cpu", "instance_types": ["c7i", "m7i", "r7i"], "spot": True, "max_vcpus": 1024},
        {"name": "efa-cpu", "fleet": "Cpu", "max_vcpus": 768},
        {"name": "gpu", "instance_types": ["g6e.xlarge", "g6e.2xlarge"], "max_vcpus": 64},
        {"name": "far", "fargate": True, "max_vcpus": 64},
        {"name": "mixed", "fleet": "Mixed", "max_vcpus": 512},
        {"name": "e" + "x" * 60, "instance_types": ["r7i.large", "r7i.xlarge"], "max_vcpus": 64},
    ]
    queues = [
        {"name": "high", "compute_environments": ["efa-cpu", "gpu"], "priority": 10},
        {"name": "low", "compute_environments": ["spot-cpu"], "priority": 1},
        {"name": "mid", "compute_environments": ["spot-cpu"], "priority": 2},
        {"name": "fargate", "compute_environments": ["far"]},
        {"name": "q" + "y" * 60, "compute_environments": ["e" + "x" * 60, "mixed"]},
    ]
    train = {"image": "public.ecr.aws/hpc/train:latest", "num_nodes": 8, "instance_type": "p5.48xlarge",
             "command": ["torchrun", "--nproc-per-node=8", "train.py"],
             "environment": {"NCCL_DEBUG": "INFO", "FI_PROVIDER": "efa"},
             "node_ranges": [{"start": 0, "end": 0, "command": ["/opt/main.sh"]}, {"start": 1, "end": 7}]}
    multi_node = [*reference["batch"]["multi_node_jobs"]]
    heavy = 18 if storage else 0  # 32-card p5.48xlarge fleets and environments: enough to nest both stacks
    for i in range(heavy):
        fleets[f"P5n{i:02d}"] = {"instance_types": ["p5.48xlarge"], "max_capacity": 1}
        environments.append({"name": f"p5n{i:02d}", "instance_types": ["p5.48xlarge"], "max_vcpus": 1536})
        queues.append({"name": f"p5q{i:02d}", "compute_environments": [f"p5n{i:02d}"]})
        multi_node.append({**train, "name": f"train{i:02d}", "compute_environment": f"p5n{i:02d}"})
    config: dict[str, Any] = {"name": "Mixed" if storage else "Bare", "network": reference["network"],
                              "fleets": fleets, "batch": {
                                  "compute_environments": environments, "job_queues": queues,
                                  "multi_node_jobs": multi_node,
                                  "container_jobs": [*reference["batch"]["container_jobs"],
                                                     {"name": "small", "image": "i", "vcpus": 1, "memory_mib": 2048,
                                                      "compute_environment": "far"},
                                                     {"name": "anywhere", "image": "i", "vcpus": 2, "memory_mib": 4096,
                                                      "command": ["echo", "hi"]}]}}
    if storage:
        config.update(storage=reference["storage"], bastion=reference["bastion"], tags=reference["tags"])
    else:
        for fleet in fleets.values():
            fleet["mount_ebs"] = False
    return config


class Synthesized:
    def __init__(self, raw: dict[str, Any], outdir: Path) -> None:
        self.config: ReferenceConfig = parse_config(raw, source="test")
        app = new_app(outdir=str(outdir))
        self.stacks = build_reference_app(app, self.config)
        app.synth()
        self.outdir = outdir

    def templates(self, stack: Stack) -> list[Path]:
        """The templates that hold the stack's parts: the stack itself, or its nested stacks in group order."""
        nested = [self.outdir / c.template_file for c in stack.node.children if isinstance(c, NestedStack)]
        return nested or [self.outdir / stack.template_file]


@pytest.fixture(scope="module", params=[True, False], ids=["with storage", "bare"])
def synthesized(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return Synthesized(_mixed(request.param), tmp_path_factory.mktemp("nesting"))


def test_the_mixed_shape_nests_both_stacks_and_the_bare_one_neither(synthesized: Synthesized) -> None:
    nested = {key: synthesized.stacks[key].grouping.nested for key in ("compute", "batch")}  # type: ignore[attr-defined]
    storage = synthesized.config.storage is not None
    assert nested == {"compute": storage, "batch": storage}


def test_every_template_is_within_its_estimate_and_not_far_below(synthesized: Synthesized) -> None:
    for key in ("compute", "batch"):
        stack = synthesized.stacks[key]
        assert isinstance(stack, ComputeStack | BatchStack)
        grouping = stack.grouping
        estimates = grouping.group_estimates if grouping.nested else (grouping.estimate,)
        paths = synthesized.templates(stack)
        assert len(paths) == len(estimates)
        for estimate, path in zip(estimates, paths, strict=True):
            _assert_bounded(path.name, estimate, _real(json.loads(path.read_text())), TEMPLATE_SLACK)
        if grouping.parent_estimate is not None:  # it counts a Batch environment's outputs for every fleet
            parent = _real(json.loads((synthesized.outdir / stack.template_file).read_text()))
            assert parent.resources <= grouping.parent_estimate.resources
            assert parent.bytes <= grouping.parent_estimate.bytes


def test_nested_stacks_read_the_network_storage_bastion_and_fleets_through_outputs_that_exist(
        synthesized: Synthesized) -> None:
    templates = {p.name: json.loads(p.read_text()) for p in synthesized.outdir.glob("*.template.json")}
    checked, missing = cross_stack_references(templates)
    assert missing == []
    assert checked >= 2 * len(synthesized.config.fleets)  # at least each fleet's VPC and subnet


def test_every_fleet_is_within_its_estimate(synthesized: Synthesized) -> None:
    compute = synthesized.stacks["compute"]
    assert isinstance(compute, ComputeStack)
    storage = StorageFacts.of_config(synthesized.config.storage)
    templates = [json.loads(p.read_text()) for p in synthesized.templates(compute)]
    for name, config in synthesized.config.fleets.items():
        path = compute.fleets[name].node.path
        (real,) = [r for r in (_part(t, [path + "/"]) for t in templates) if r.resources]
        estimate = fleet_footprint(path, config, storage=storage, bastion=synthesized.config.bastion is not None)
        _assert_bounded(name, estimate, real, PART_SLACK)


def test_every_batch_unit_and_the_shared_part_are_within_their_estimates(synthesized: Synthesized) -> None:
    batch_stack = synthesized.stacks["batch"]
    assert isinstance(batch_stack, BatchStack)
    batch = synthesized.config.batch
    assert batch is not None
    storage = StorageFacts.of_config(synthesized.config.storage)
    fleets = {name: FleetFacts.of_config(f) for name, f in synthesized.config.fleets.items()}
    templates = [json.loads(p.read_text()) for p in synthesized.templates(batch_stack)]
    for orchestration, template in zip(batch_stack.orchestrations, templates, strict=True):
        path = orchestration.node.path
        once: frozenset[str] = frozenset()  # what the template holds once for its units (the default group's rules)
        for unit in batch_units(batch):
            markers = [f"{path}/Environment{batch.compute_environments[i].name}/" for i in unit.environments]
            markers += [f"{path}/Queue{batch.job_queues[i].name}" for i in unit.queues]
            markers += [f"{path}/Job{batch.multi_node_jobs[i].name}" for i in unit.multi_node_jobs]
            markers += [f"{path}/Job{batch.container_jobs[i].name}" for i in unit.container_jobs]
            real = _part(template, markers)
            if real.resources:
                estimate = batch_unit_footprint(path, unit, batch, storage=storage, fleets=fleets)
                once |= estimate.once
                _assert_bounded(unit.names(batch), replace(estimate, once=frozenset()), real, PART_SLACK)
        shared = _part(template, [f"{path}/{p}" for p in ("JobLogs", "JobRole", "JobEvents", "FargateExecutionRole",
                                                          "VpcDefaultSecurityGroup")])
        _assert_bounded(f"{path} shared", batch_shared_footprint(path, batch, storage=storage) + Footprint(once=once),
                        shared, PART_SLACK)


def test_the_reference_stacks_are_within_their_estimates(reference_templates: dict[str, dict[str, Any]]) -> None:
    config = load_config(REFERENCE)
    assert config.batch is not None
    storage = StorageFacts.of_config(config.storage)
    ports = len(config.license_server.ports) if config.license_server is not None else 0
    compute = plan_fleets("HpcCompute", config.fleets, storage=storage, bastion=config.bastion is not None,
                          ssh_users=bool(config.ssh_users), license_ports=ports)
    _, batch = plan_batch("HpcBatch", config.batch, storage=storage,
                          fleets={name: FleetFacts.of_config(f) for name, f in config.fleets.items()},
                          license_ports=ports)
    assert not compute.nested and not batch.nested
    _assert_bounded("HpcCompute", compute.estimate, _real(reference_templates["HpcCompute"]), TEMPLATE_SLACK)
    _assert_bounded("HpcBatch", batch.estimate, _real(reference_templates["HpcBatch"]), TEMPLATE_SLACK)


def test_the_drift_check_can_fail(synthesized: Synthesized, monkeypatch: pytest.MonkeyPatch) -> None:
    """A model that forgets the network interfaces is below what a p5.48xlarge fleet's template holds."""
    monkeypatch.setattr(nesting, "INTERFACE_BYTES", 0)
    with pytest.raises(AssertionError, match="Gpu"):
        test_every_fleet_is_within_its_estimate(synthesized)


def _assert_bounded(what: str, estimate: Footprint, real: Footprint, slack: float) -> None:
    assert real.resources <= estimate.resources <= real.resources + 2, f"{what}: {estimate} for {real}"
    assert real.bytes <= estimate.bytes <= slack * real.bytes, f"{what}: {estimate} for {real}"


def _dump(template: dict[str, Any]) -> int:
    """The template's size as CDK writes it (JSON, one-space indentation)."""
    return len(json.dumps(template, indent=1, ensure_ascii=False).encode())


def _real(template: dict[str, Any]) -> Footprint:
    return Footprint(len(template["Resources"]), _dump(template))


def _part(template: dict[str, Any], markers: list[str]) -> Footprint:
    """The resources whose construct path starts with a marker, and their bytes with the outputs that read them
    (what the template would lose without them)."""
    ids = {k for k, r in template["Resources"].items()
           if any(r.get("Metadata", {}).get("aws:cdk:path", "").startswith(m) for m in markers)}
    rest = copy.deepcopy(template)
    for logical in ids:
        del rest["Resources"][logical]
    for name, output in template.get("Outputs", {}).items():
        if any(f'"{logical}"' in json.dumps(output) for logical in ids):
            del rest["Outputs"][name]
    return Footprint(len(ids), _dump(template) - _dump(rest))
