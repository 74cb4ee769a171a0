"""ParallelCluster's scale, 50 Batch queues each over a fleet of 10 instance types, never passes a template limit.

One app (benchmarks/scale.py's scale_config(50): the reference network, storage and tags, 50 fleets, 50
compute environments made from them, 50 queues) is synthesized once for the module, cdk-nag on. The
compute and batch stacks must split into nested stacks, every template (parents and nested) must be within
CloudFormation's quotas and stacks.nesting's thresholds, clean under cfn-lint and cdk-nag, and every
cross-stack reference must name an output that exists. Takes about 30 s on 2 quiet cores (synth 5 s, cfn-lint
over 2.5 MB of templates 20 s in two processes, the 60-queue build 4 s), up to 75 s on a loaded machine.
"""

from __future__ import annotations

import json
import multiprocessing
import re
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import NestedStack, Stack

from benchmarks.scale import instance_types, scale_config
from hpc_constructs import ConfigError
from hpc_constructs.catalog import limits
from stacks import build_reference_app, parse_config
from stacks.batch_stack import BatchStack
from stacks.compute_stack import ComputeStack
from stacks.nesting import MAX_BYTES, MAX_EVENT_PATTERN_CHARS, MAX_RESOURCES
from tests.cfn_lint import findings
from tests.support import new_app

QUEUES = 50
# CloudFormation quotas ('CloudFormation quotas' in the CloudFormation User Guide): outputs and parameters.
MAX_OUTPUTS = 200
MAX_PARAMETERS = 200


class Synthesized:
    def __init__(self, stacks: dict[str, Stack], outdir: Path) -> None:
        self.stacks = stacks
        self.outdir = outdir
        self.templates = {path.name: json.loads(path.read_text()) for path in sorted(outdir.glob("*.template.json"))}

    def nested(self, stack: Stack) -> list[Path]:
        """The nested templates of `stack`, in the order of its groups."""
        children = [c for c in stack.node.children if isinstance(c, NestedStack)]
        return [self.outdir / c.template_file for c in children]

    def parent(self, stack: Stack) -> Path:
        return self.outdir / stack.template_file


@pytest.fixture(scope="module")
def scale(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    outdir = tmp_path_factory.mktemp("scale.out")
    app = new_app(outdir=str(outdir))
    stacks = build_reference_app(app, parse_config(scale_config(QUEUES), source="benchmarks/scale.py"))
    app.synth()
    return Synthesized(stacks, outdir)


def test_the_app_is_fifty_queues_each_over_a_fleet_of_ten_instance_types(scale: Synthesized) -> None:
    queues = _resources(scale.templates, "AWS::Batch::JobQueue")
    environments = _resources(scale.templates, "AWS::Batch::ComputeEnvironment")
    groups = _resources(scale.templates, "AWS::AutoScaling::AutoScalingGroup")
    assert len(queues) == len(environments) == len(groups) == QUEUES
    for _, group in groups:
        overrides = group["Properties"]["MixedInstancesPolicy"]["LaunchTemplate"]["Overrides"]
        assert len({o["InstanceType"] for o in overrides}) == 10
    for _, environment in environments:
        assert len(environment["Properties"]["ComputeResources"]["InstanceTypes"]) == 10
    assert {t for i in range(QUEUES) for t in instance_types(i)} == {
        t for _, e in environments for t in e["Properties"]["ComputeResources"]["InstanceTypes"]}


def test_compute_and_batch_are_split_into_nested_stacks(scale: Synthesized) -> None:
    """Without nesting, HpcCompute alone would hold 50 x 16 = 800 resources: CDK refuses more than 500."""
    for key, kind in (("compute", ComputeStack), ("batch", BatchStack)):
        stack = scale.stacks[key]
        assert isinstance(stack, kind) and stack.grouping.nested
        nested = scale.nested(stack)
        assert len(nested) >= 2, key
        assert all(path.name.endswith(".nested.template.json") for path in nested)
        parent = scale.templates[scale.parent(stack).name]
        types = {r["Type"] for r in parent["Resources"].values()}
        assert types == {"AWS::CloudFormation::Stack", "AWS::CDK::Metadata"}, key
    # every fleet and every queue is in exactly one nested stack
    compute = scale.stacks["compute"]
    assert isinstance(compute, ComputeStack)
    assert sorted(name for group in compute.grouping.groups or () for name in group) == sorted(compute.fleets)


@pytest.mark.parametrize("quota", ["resources", "bytes", "outputs", "parameters"])
def test_every_template_is_within_quotas_and_thresholds(scale: Synthesized, quota: str) -> None:
    assert sum(name.endswith(".nested.template.json") for name in scale.templates) >= 4
    for name, template in scale.templates.items():
        if quota == "resources":
            count = len(template["Resources"])
            assert count <= MAX_RESOURCES < limits.CLOUDFORMATION.max_resources_per_template, (name, count)
        elif quota == "bytes":
            size = (scale.outdir / name).stat().st_size
            assert size <= MAX_BYTES < limits.CLOUDFORMATION.max_template_bytes, (name, size)
        elif quota == "outputs":
            assert len(template.get("Outputs", {})) <= MAX_OUTPUTS, name
        else:
            assert len(template.get("Parameters", {})) <= MAX_PARAMETERS, name


def test_the_estimates_bound_every_template(scale: Synthesized) -> None:
    for key in ("compute", "batch"):
        stack = scale.stacks[key]
        assert isinstance(stack, ComputeStack | BatchStack)
        grouping = stack.grouping
        assert grouping.parent_estimate is not None
        for estimate, path in [(grouping.parent_estimate, scale.parent(stack)),
                               *zip(grouping.group_estimates, scale.nested(stack), strict=True)]:
            template = scale.templates[path.name]
            assert len(template["Resources"]) <= estimate.resources, path.name
            assert path.stat().st_size <= estimate.bytes, path.name


def test_cfn_lint_finds_nothing_in_any_template(scale: Synthesized) -> None:
    names = sorted(scale.templates)
    # cfn-lint takes about 8 s for each 450 kB nested template: two processes, which import cfn-lint only.
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        problems = dict(zip(names, pool.map(findings, [scale.templates[n] for n in names]), strict=True))
    assert problems == {name: [] for name in names}
    assert sum(name.endswith(".nested.template.json") for name in problems) >= 4


def test_cdk_nag_checked_the_nested_stacks_and_found_nothing(scale: Synthesized) -> None:
    report = json.loads((scale.outdir / "validation-report.json").read_text())
    (nag,) = [r for r in report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    assert nag["conclusion"] == "success" and nag["violations"] == []
    checked = {c["constructPath"] for v in nag["suppressedViolations"] for c in v["violatingConstructs"]}
    assert any(path.startswith("ScaleCompute/Fleets2/") for path in checked)
    assert any(path.startswith("ScaleBatch/Queues2/") for path in checked)


def test_every_cross_stack_reference_names_an_output_that_exists(scale: Synthesized) -> None:
    """Nested stacks read the network, storage and fleets through outputs; each one they name must exist."""
    checked, missing = cross_stack_references(scale.templates)
    assert missing == []
    assert checked > 4 * QUEUES


def cross_stack_references(templates: dict[str, dict[str, Any]]) -> tuple[int, list[str]]:
    """(how many references, the ones that name no output): every Fn::GetStackOutput of a top-level stack's
    output, and every Fn::GetAtt of a nested stack's Outputs.<name>, in templates by file name."""
    top = {name.removesuffix(".template.json"): t for name, t in templates.items()
           if not name.endswith(".nested.template.json")}
    checked, missing = 0, []
    for name, template in templates.items():
        nested_files = {logical: r["Metadata"]["aws:asset:path"] for logical, r in template["Resources"].items()
                        if r["Type"] == "AWS::CloudFormation::Stack"}
        for node in _walk(template):
            if "Fn::GetStackOutput" in node:
                reference = node["Fn::GetStackOutput"]
                checked += 1
                if reference["OutputName"] not in top.get(reference["StackName"], {}).get("Outputs", {}):
                    missing.append(f"{name}: {reference}")
            attribute = node.get("Fn::GetAtt")
            if isinstance(attribute, list) and attribute[0] in nested_files:
                checked += 1
                outputs = templates[nested_files[attribute[0]]].get("Outputs", {})
                if attribute[1].removeprefix("Outputs.") not in outputs:
                    missing.append(f"{name}: {attribute}")
    return checked, missing


def test_queues_are_named_after_their_template_and_sit_beside_their_environments(scale: Synthesized) -> None:
    """<stack>-Queues<n>-<name>: a queue that moves to another template gets another name (a name still taken
    when CloudFormation creates the moved queue would fail the deploy)."""
    batch = scale.stacks["batch"]
    assert isinstance(batch, BatchStack)
    names = []
    for number, path in enumerate(scale.nested(batch), start=1):
        template = scale.templates[path.name]
        for queue in (r for r in template["Resources"].values() if r["Type"] == "AWS::Batch::JobQueue"):
            name = queue["Properties"]["JobQueueName"]
            assert name.startswith(f"ScaleBatch-Queues{number}-queue"), (path.name, name)
            names.append(name.rsplit("-", 1)[1])
            for entry in queue["Properties"]["ComputeEnvironmentOrder"]:
                logical = entry["ComputeEnvironment"]["Fn::GetAtt"][0]
                assert template["Resources"][logical]["Type"] == "AWS::Batch::ComputeEnvironment"
    assert sorted(names) == [f"queue{i:02d}" for i in range(QUEUES)]


def test_every_environment_and_fleet_mounts_the_storage(scale: Synthesized) -> None:
    templates = [t for name, t in scale.templates.items() if name.endswith(".nested.template.json")]
    launch_templates = [r for t in templates for r in t["Resources"].values()
                        if r["Type"] == "AWS::EC2::LaunchTemplate"]
    assert len(launch_templates) == 2 * QUEUES
    for launch_template in launch_templates:
        user_data = json.dumps(launch_template["Properties"]["LaunchTemplateData"]["UserData"])
        assert "mount /fsx (Lustre)" in user_data and "mount /shared/home (EFS)" in user_data


def test_job_events_cover_every_queue_once(scale: Synthesized) -> None:
    """Each nested Batch stack reports its own queues' final job states; the parent lists every events queue."""
    batch = scale.stacks["batch"]
    assert isinstance(batch, BatchStack)
    nested = scale.nested(batch)
    reported = []
    for path in nested:
        template = scale.templates[path.name]
        queues = {k for k, r in template["Resources"].items() if r["Type"] == "AWS::Batch::JobQueue"}
        (rule,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Events::Rule"]
        listed = [q["Fn::GetAtt"][0] for q in rule["Properties"]["EventPattern"]["detail"]["jobQueue"]]
        assert sorted(listed) == sorted(queues)
        reported += listed
    assert len(reported) == QUEUES
    outputs = scale.templates[scale.parent(batch).name]["Outputs"]
    events = [k for k in outputs if re.fullmatch(r"OutputsQueues\d+EventQueuedefaultUrl[0-9A-F]{8}", k)]
    assert len(events) == len(nested)
    assert len([k for k in outputs if re.fullmatch(r"OutputsQueuequeue\d\dArn[0-9A-F]{8}", k)]) == QUEUES


def test_every_job_events_pattern_fits_eventbridge_in_any_region(scale: Synthesized) -> None:
    """EventBridge takes patterns of at most 2,048 characters; each queue ARN at its longest (aws-us-gov,
    a 14-character Region)."""
    rules = _resources(scale.templates, "AWS::Events::Rule")
    assert len(rules) >= 3  # 50 queues take three patterns
    for template, rule in rules:
        resources = scale.templates[template]["Resources"]
        pattern = rule["Properties"]["EventPattern"]
        queues = [resources[queue["Fn::GetAtt"][0]] for queue in pattern["detail"]["jobQueue"]]
        names = [queue["Properties"]["JobQueueName"] for queue in queues]
        arns = [f"arn:aws-us-gov:batch:ap-southeast-4:123456789012:job-queue/{name}" for name in names]
        rendered = {**pattern, "detail": {**pattern["detail"], "jobQueue": arns}}
        assert len(json.dumps(rendered, separators=(",", ":"))) <= MAX_EVENT_PATTERN_CHARS, template


def test_sixty_queues_are_refused_even_across_nested_stacks() -> None:
    """AWS Batch takes at most 50 job queues per account and Region (not adjustable): the orchestrations count
    together, so splitting them over nested stacks does not get round it."""
    with pytest.raises(ConfigError, match=r"at most 50 job queues across every BatchOrchestration"):
        build_reference_app(new_app(), parse_config(scale_config(60), source="benchmarks/scale.py"))


def _resources(templates: dict[str, dict[str, Any]], kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [(name, r) for name, t in templates.items() for r in t["Resources"].values() if r["Type"] == kind]


def _walk(node: object) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_the_synth_summary_lists_the_nested_templates_within_the_limits(scale: Synthesized) -> None:
    """`make synth`'s summary (scripts/summary.py) checks every template against the limits, nested ones too."""
    from scripts.summary import over_limits, stacks

    rows = stacks(scale.outdir)
    nested = [r for r in rows if r["name"].endswith("(nested)")]
    assert len(rows) == len(scale.templates) and len(nested) == len(list(scale.outdir.glob("*.nested.template.json")))
    assert nested and over_limits(rows) == []
