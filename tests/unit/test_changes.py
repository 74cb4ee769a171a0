"""hpc_constructs.changes: what a deployment replaces and what that costs, on small hand-written assemblies.

Each impact class is reached, each cause of a replacement (a create-only property read from the schema, a documented
nested property, tags that are not updatable, a conditional property, a reference to a replaced resource, a move
between templates), and the CLI's output and exit status. The catalogue of weekly edits to the reference app is in
tests/test_changes_catalogue.py.
"""

from __future__ import annotations

import copy
import gzip
import json
import runpy
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from hpc_constructs import changes
from hpc_constructs.catalog.replacement import DOCUMENTED_REPLACEMENTS
from hpc_constructs.changes import (
    DATA_LOSS,
    DISRUPTS,
    FAILS,
    REPLACED,
    Change,
    compare_assemblies,
    exit_status,
    main,
    replacement_rules,
)
from tests.support import ROOT

CDK_SPEC = ROOT / "node_modules" / "aws-cdk" / "db.json.gz"


def resource(type_: str, path: str | None = None, **properties: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"Type": type_, "Properties": properties}
    if path:
        body["Metadata"] = {"aws:cdk:path": path}
    return body


def nested_stack(parent: str, id: str, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    """A parent's AWS::CloudFormation::Stack as CDK writes it: the template is an asset of the assembly."""
    body = resource("AWS::CloudFormation::Stack", **({"Parameters": parameters} if parameters else {}))
    body["Metadata"] = {"aws:cdk:path": f"{parent}/{id}.NestedStack/{id}.NestedStackResource",
                        "aws:asset:path": f"{parent}{id}.nested.template.json"}
    return body


def write(directory: Path, stacks: dict[str, dict[str, Any]],
          nested: dict[tuple[str, str], dict[str, Any]] | None = None) -> Path:
    """A cloud assembly: top-level stacks {name: resources}, nested ones {(parent, id): resources}."""
    directory.mkdir(parents=True)
    artifacts = {}
    for name, resources in stacks.items():
        (directory / f"{name}.template.json").write_text(json.dumps({"Resources": resources}))
        artifacts[name] = {"type": "aws:cloudformation:stack", "environment": "aws://unknown-account/unknown-region",
                           "properties": {"templateFile": f"{name}.template.json"}, "displayName": name}
    for (parent, id), resources in (nested or {}).items():
        (directory / f"{parent}{id}.nested.template.json").write_text(json.dumps(resources))
    (directory / "manifest.json").write_text(json.dumps({"version": "55.0.0", "artifacts": artifacts}))
    return directory


def compare(tmp_path: Path, old: dict[str, Any], new: dict[str, Any], *, old_nested: Any = None,
            new_nested: Any = None) -> list[Change]:
    found, _ = compare_assemblies(write(tmp_path / "old", old, old_nested), write(tmp_path / "new", new, new_nested))
    return found


def only(found: list[Change]) -> Change:
    assert len(found) == 1, [c.line() for c in found]
    return found[0]


PCS_CLUSTER = resource("AWS::PCS::Cluster", "App/Slurm/Resource", Size="SMALL", Networking={"SubnetIds": ["s-1"]},
                       Scheduler={"Type": "SLURM", "Version": "25.11"})
NODE_GROUP = resource("AWS::PCS::ComputeNodeGroup", "App/Slurm/cpu/Resource", Name="cpu",
                      ClusterId={"Fn::GetAtt": ["Cluster", "Id"]}, InstanceConfigs=[{"InstanceType": "c7i.large"}],
                      ScalingConfiguration={"MinInstanceCount": 0, "MaxInstanceCount": 4})
PCS_QUEUE = resource("AWS::PCS::Queue", "App/Slurm/q/Resource", Name="cpu", ClusterId={"Fn::GetAtt": ["Cluster", "Id"]},
                     ComputeNodeGroupConfigurations=[{"ComputeNodeGroupId": {"Fn::GetAtt": ["Group", "Id"]}}])
SLURM = {"App": {"Cluster": PCS_CLUSTER, "Group": NODE_GROUP, "Queue": PCS_QUEUE}}


def edited(stacks: dict[str, Any], stack: str, logical_id: str, **properties: Any) -> dict[str, Any]:
    out = copy.deepcopy(stacks)
    out[stack][logical_id]["Properties"].update(properties)
    return out


# -- causes ---------------------------------------------------------------------------------------------------------

def test_a_create_only_property_from_the_schema_replaces_the_resource(tmp_path: Path) -> None:
    found = compare(tmp_path, SLURM, edited(SLURM, "App", "Cluster", Size="MEDIUM"))
    cluster = found[0]
    assert (cluster.stack, cluster.logical_id, cluster.type, cluster.impact) == (
        "App", "Cluster", "AWS::PCS::Cluster", DISRUPTS)
    assert cluster.cause.startswith('Size "SMALL" -> "MEDIUM" (create-only in the schema)')


def test_the_create_only_list_is_the_schemas_not_ours(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Take Size out of the PCS cluster's schema as cfn-lint serves it: the same edit replaces nothing."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    real = PROVIDER_SCHEMA_MANAGER.get_resource_schema

    def without_size(region: str, resource_type: str) -> Any:
        schema = real(region, resource_type)
        if resource_type != "AWS::PCS::Cluster":
            return schema
        edited_schema = copy.deepcopy(schema)
        edited_schema.schema["createOnlyProperties"].remove("/properties/Size")
        return edited_schema

    monkeypatch.setattr(PROVIDER_SCHEMA_MANAGER, "get_resource_schema", without_size)
    replacement_rules.cache_clear()
    try:
        assert compare(tmp_path, SLURM, edited(SLURM, "App", "Cluster", Size="MEDIUM")) == []
    finally:
        replacement_rules.cache_clear()


def test_an_updatable_property_replaces_nothing(tmp_path: Path) -> None:
    old = {"S": {"Vol": resource("AWS::EC2::Volume", AvailabilityZone="us-east-1a", Size=2048, VolumeType="io2")}}
    assert compare(tmp_path, old, edited(old, "S", "Vol", Size=4096)) == []


def test_a_documented_nested_replacement_the_schema_misses(tmp_path: Path) -> None:
    assert "/properties/LustreConfiguration/DeploymentType" not in replacement_rules("AWS::FSx::FileSystem").create_only
    lustre = {"DeploymentType": "PERSISTENT_2", "PerUnitStorageThroughput": 250}
    old = {"S": {"Fs": resource("AWS::FSx::FileSystem", FileSystemType="LUSTRE", StorageCapacity=2400,
                                LustreConfiguration=lustre)}}
    new = edited(old, "S", "Fs", LustreConfiguration={**lustre, "DeploymentType": "PERSISTENT_1"})
    change = only(compare(tmp_path, old, new))
    assert change.impact == DATA_LOSS
    assert change.cause.startswith('LustreConfiguration/DeploymentType "PERSISTENT_2" -> "PERSISTENT_1" '
                                   "(the CloudFormation reference: Update requires Replacement)")
    assert "a new, empty file system" in change.cause


def test_tags_the_schema_says_are_not_updatable_replace(tmp_path: Path) -> None:
    rules = replacement_rules("AWS::AppStream::ImageBuilder")
    assert rules.fixed_tags == "/properties/Tags" and "/properties/Tags" not in rules.create_only
    old = {"S": {"Builder": resource("AWS::AppStream::ImageBuilder", InstanceType="stream.standard.large",
                                     Tags=[{"Key": "project", "Value": "a"}])}}
    change = only(compare(tmp_path, old, edited(old, "S", "Builder", Tags=[{"Key": "project", "Value": "b"}])))
    assert change.impact == REPLACED and "(the schema says tags are not updatable)" in change.cause


def test_a_conditional_property_replaces_a_batch_environment_only_when_it_must(tmp_path: Path) -> None:
    environment = resource("AWS::Batch::ComputeEnvironment", Type="MANAGED", ComputeResources={
        "Type": "EC2", "AllocationStrategy": "BEST_FIT_PROGRESSIVE", "InstanceTypes": ["c7i"], "MaxvCpus": 64,
        "Subnets": ["s-1"]})
    old = {"S": {"Env": environment}}
    resources = {**environment["Properties"]["ComputeResources"], "InstanceTypes": ["m7i"]}
    in_place = compare(tmp_path / "a", edited(old, "S", "Env", ReplaceComputeEnvironment=False),
                       edited(old, "S", "Env", ReplaceComputeEnvironment=False, ComputeResources=resources))
    assert in_place == []
    change = only(compare(tmp_path / "b", old, edited(old, "S", "Env", ComputeResources=resources)))
    assert change.impact == DISRUPTS
    assert change.cause.startswith("ComputeResources/InstanceTypes changed, and ReplaceComputeEnvironment is not false")


def test_a_conditional_property_without_a_known_condition_may_replace(tmp_path: Path) -> None:
    old = {"S": {"Vpc": resource("AWS::EC2::VPC", CidrBlock="10.0.0.0/16", InstanceTenancy="default")}}
    change = only(compare(tmp_path, old, edited(old, "S", "Vpc", InstanceTenancy="dedicated")))
    assert change.cause.startswith("may be replaced: InstanceTenancy changed")


# -- impacts --------------------------------------------------------------------------------------------------------

def test_a_fixed_name_still_taken_fails(tmp_path: Path) -> None:
    queue = resource("AWS::Batch::JobQueue", JobQueueName="App-high", Priority=1, JobQueueType="ECS_BATCH",
                     ComputeEnvironmentOrder=[{"Order": 1, "ComputeEnvironment": "arn:ce"}])
    old = {"S": {"Queue": queue}}
    change = only(compare(tmp_path / "a", old, edited(old, "S", "Queue", JobQueueType="SAGEMAKER_TRAINING")))
    assert change.impact == FAILS
    assert 'JobQueueName "App-high" is still taken when CloudFormation creates the replacement' in change.cause
    del queue["Properties"]["JobQueueName"]  # CloudFormation names it: the new queue gets a new name
    unnamed = only(compare(tmp_path / "b", old, edited(old, "S", "Queue", JobQueueType="SAGEMAKER_TRAINING")))
    assert unnamed.impact == DISRUPTS


def test_a_node_group_whose_instance_types_change_keeps_its_name_in_the_same_cluster_and_fails(tmp_path: Path) -> None:
    new_types = edited(SLURM, "App", "Group", InstanceConfigs=[{"InstanceType": "m7i.large"}])
    change = only(compare(tmp_path, SLURM, new_types))
    assert (change.logical_id, change.impact) == ("Group", FAILS)
    assert 'Name "cpu" (in the same ClusterId) is still taken' in change.cause


def test_a_new_cluster_replaces_its_node_groups_and_queues_whose_names_are_then_free(tmp_path: Path) -> None:
    found = compare(tmp_path, SLURM, edited(SLURM, "App", "Cluster", Size="MEDIUM"))
    assert [(c.logical_id, c.impact) for c in found] == [("Cluster", DISRUPTS), ("Group", DISRUPTS),
                                                         ("Queue", DISRUPTS)]
    assert found[1].cause.startswith("ClusterId changes: Cluster is replaced (create-only in the schema)")


def test_a_node_group_with_new_instance_types_in_a_new_cluster_takes_no_name(tmp_path: Path) -> None:
    both = edited(edited(SLURM, "App", "Cluster", Size="MEDIUM"), "App", "Group",
                  InstanceConfigs=[{"InstanceType": "m7i.large"}])
    group = next(c for c in compare(tmp_path, SLURM, both) if c.logical_id == "Group")
    assert group.impact == DISRUPTS
    assert group.cause.startswith('InstanceConfigs [{"InstanceType":"c7i.large"}] -> [{"InstanceType":"m7i.large"}] '
                                  "(create-only in the schema); ClusterId changes: Cluster is replaced")


def test_a_stateless_replacement_is_replaced(tmp_path: Path) -> None:
    old = {"S": {"Rule": resource("AWS::EC2::SecurityGroupIngress", GroupId="sg-1", IpProtocol="tcp", FromPort=22,
                                  ToPort=22, CidrIp="203.0.113.0/24")}}
    change = only(compare(tmp_path, old, edited(old, "S", "Rule", CidrIp="198.51.100.0/24")))
    assert change.impact == REPLACED
    assert change.line() == ('replaced: S Rule (AWS::EC2::SecurityGroupIngress): CidrIp "203.0.113.0/24" -> '
                             '"198.51.100.0/24" (create-only in the schema)')


def test_a_retained_resource_left_behind_is_data_loss(tmp_path: Path) -> None:
    topic = resource("AWS::SNS::Topic", TopicName="events", FifoTopic=False)
    topic["UpdateReplacePolicy"] = "Retain"
    old = {"S": {"Topic": topic}}
    change = only(compare(tmp_path, old, edited(old, "S", "Topic", TopicName="events2")))
    assert change.impact == DATA_LOSS and "the old one is retained, orphaned outside the stack" in change.cause


def test_removals_that_lose_data_or_work_are_listed(tmp_path: Path) -> None:
    bucket = resource("AWS::S3::Bucket")
    kept = copy.deepcopy(bucket)
    kept["DeletionPolicy"] = "Retain"
    old = {"S": {"Bucket": bucket, "Kept": kept, "Sg": resource("AWS::EC2::SecurityGroup", GroupDescription="d"),
                 "Asg": resource("AWS::AutoScaling::AutoScalingGroup", MinSize="0", MaxSize="1")},
           "Gone": {"Bucket": bucket}}
    found = compare(tmp_path, old, {"S": {}})
    assert [(c.stack, c.logical_id, c.impact) for c in found] == [
        ("S", "Bucket", DATA_LOSS), ("S", "Kept", DATA_LOSS), ("S", "Asg", DISRUPTS)]
    assert found[1].cause == "removed from the app: it is retained, orphaned outside the stack with its data"


# -- moves, nested stacks, references across templates ----------------------------------------------------------------

QUEUE = resource("AWS::Batch::JobQueue", "App/Batch/Queuehigh", JobQueueName="App-high", Priority=1,
                 ComputeEnvironmentOrder=[{"Order": 1, "ComputeEnvironment": "arn:ce"}])


def test_a_queue_that_moves_into_a_nested_stack_is_replaced_and_its_name_is_taken(tmp_path: Path) -> None:
    moved = copy.deepcopy(QUEUE)
    moved["Metadata"]["aws:cdk:path"] = "App/Queues1/Batch/Queuehigh"
    found = compare(tmp_path, {"App": {"BatchQueuehigh": QUEUE}},
                    {"App": {"Queues1": nested_stack("App", "Queues1")}},
                    new_nested={("App", "Queues1"): {"Resources": {"BatchQueuehigh": moved}}})
    change = only(found)
    assert (change.stack, change.logical_id, change.impact) == ("App/Queues1", "BatchQueuehigh", FAILS)
    assert change.cause.startswith("moved from App to App/Queues1: CloudFormation creates it anew")


def test_a_renamed_construct_is_paired_by_its_fixed_name(tmp_path: Path) -> None:
    renamed = copy.deepcopy(QUEUE)
    renamed["Metadata"]["aws:cdk:path"] = "App/Batch/QueueHigh"
    change = only(compare(tmp_path, {"App": {"BatchQueuehigh": QUEUE}}, {"App": {"BatchQueueHigh": renamed}}))
    assert (change.logical_id, change.impact) == ("BatchQueueHigh", FAILS)
    assert change.cause.startswith("renamed from BatchQueuehigh")


def test_a_nested_stack_parameter_from_a_replaced_resource_replaces_inside(tmp_path: Path) -> None:
    parent = {"Cluster": PCS_CLUSTER, "Nodes": nested_stack("App", "Nodes", {"ClusterId": {"Fn::GetAtt": [
        "Cluster", "Id"]}})}
    group = copy.deepcopy(NODE_GROUP)
    group["Properties"]["ClusterId"] = {"Ref": "ClusterId"}
    nested = {("App", "Nodes"): {"Parameters": {"ClusterId": {"Type": "String"}}, "Resources": {"Group": group}}}
    new_parent = copy.deepcopy(parent)
    new_parent["Cluster"]["Properties"]["Size"] = "LARGE"
    found = compare(tmp_path, {"App": parent}, {"App": new_parent}, old_nested=nested, new_nested=nested)
    assert [(c.stack, c.logical_id) for c in found] == [("App", "Cluster"), ("App/Nodes", "Group")]
    assert found[1].cause.startswith("ClusterId changes: parameter ClusterId: Cluster is replaced")


def test_a_stack_output_read_by_another_stack_carries_the_replacement(tmp_path: Path) -> None:
    storage = {"Resources": {"Fs": resource("AWS::EFS::FileSystem", Encrypted=True)},
               "Outputs": {"FsId": {"Value": {"Ref": "Fs"}}}}
    reader = resource("AWS::EFS::MountTarget", SubnetId="s-1", SecurityGroups=["sg-1"], FileSystemId={
        "Fn::GetStackOutput": {"StackName": "Storage", "Region": {"Ref": "AWS::Region"}, "OutputName": "FsId"}})
    old_dir = write(tmp_path / "old", {"Storage": {}, "Compute": {"Target": reader}})
    (old_dir / "Storage.template.json").write_text(json.dumps(storage))
    new_storage = copy.deepcopy(storage)
    new_storage["Resources"]["Fs"]["Properties"]["Encrypted"] = False
    new_dir = write(tmp_path / "new", {"Storage": {}, "Compute": {"Target": reader}})
    (new_dir / "Storage.template.json").write_text(json.dumps(new_storage))
    found, _ = compare_assemblies(old_dir, new_dir)
    assert [(c.stack, c.logical_id, c.impact) for c in found] == [("Storage", "Fs", DATA_LOSS),
                                                                 ("Compute", "Target", REPLACED)]
    assert found[1].cause.startswith("FileSystemId changes: Storage output FsId: Fs is replaced")


def test_a_replaced_resource_behind_an_export_in_use_fails(tmp_path: Path) -> None:
    producer = {"Resources": {"Sg": resource("AWS::EC2::SecurityGroup", GroupDescription="a", VpcId="vpc-1")},
                "Outputs": {"SgId": {"Value": {"Ref": "Sg"}, "Export": {"Name": "App:SgId"}}}}
    consumer = {"Rule": resource("AWS::EC2::SecurityGroupIngress", GroupId={"Fn::ImportValue": "App:SgId"},
                                 IpProtocol="-1")}
    dirs = []
    for side, description in (("old", "a"), ("new", "b")):
        directory = write(tmp_path / side, {"Producer": {}, "Consumer": consumer})
        body = copy.deepcopy(producer)
        body["Resources"]["Sg"]["Properties"]["GroupDescription"] = description
        (directory / "Producer.template.json").write_text(json.dumps(body))
        dirs.append(directory)
    found, _ = compare_assemblies(*dirs)
    assert [(c.logical_id, c.impact) for c in found] == [("Sg", FAILS), ("Rule", REPLACED)]
    assert "export App:SgId, which another stack imports" in found[0].cause


def test_a_stack_that_leaves_the_app_is_not_deleted_by_a_deploy(tmp_path: Path) -> None:
    assert compare(tmp_path, {"App": {}, "Old": {"Bucket": resource("AWS::S3::Bucket")}}, {"App": {}}) == []


# -- the documented extras against the CDK CLI's spec ----------------------------------------------------------------

@cache
def _cdk_spec() -> tuple[dict[str, Any], dict[str, Any]]:
    """The pinned CDK CLI's resource spec (@aws-cdk/aws-service-spec, bundled in node_modules/aws-cdk)."""
    assert CDK_SPEC.exists(), "node_modules/aws-cdk is missing: run make setup"
    spec = json.loads(gzip.decompress(CDK_SPEC.read_bytes()))["schema"]
    return ({r["cloudFormationType"]: r for r in spec["resource"]["entities"]},
            {t["$id"]: t for t in spec["typeDefinition"]["entities"]})


def _cdk_spec_replacements(resource_type: str) -> Iterator[str]:
    """The property paths the pinned CDK CLI's diff marks as causing replacement."""
    resources, types = _cdk_spec()

    def walk(properties: dict[str, Any], prefix: str, seen: frozenset[str]) -> Iterator[str]:
        for name, prop in properties.items():
            if prop.get("causesReplacement") == "yes":
                yield f"{prefix}/{name}"
            reference = prop["type"].get("reference", {}).get("$ref")
            if reference and reference not in seen:
                yield from walk(types[reference]["properties"], f"{prefix}/{name}", seen | {reference})

    yield from walk(resources[resource_type]["properties"], "/properties", frozenset())


@pytest.mark.parametrize("documented", DOCUMENTED_REPLACEMENTS, ids=lambda d: d.pointer)
def test_each_documented_replacement_is_the_cdk_clis_too_and_not_yet_the_schemas(documented: Any) -> None:
    assert documented.pointer not in replacement_rules(documented.resource_type).create_only, (
        "cfn-lint's schema lists it now: remove it from catalog.replacement.DOCUMENTED_REPLACEMENTS")
    assert documented.pointer in set(_cdk_spec_replacements(documented.resource_type))


def test_the_documented_lustre_replacements_are_all_the_cdk_cli_knows() -> None:
    cdk = {p for p in _cdk_spec_replacements("AWS::FSx::FileSystem") if p.startswith("/properties/Lustre")}
    ours = {d.pointer for d in DOCUMENTED_REPLACEMENTS if d.resource_type == "AWS::FSx::FileSystem"}
    assert cdk == ours


# -- the command ------------------------------------------------------------------------------------------------------

def test_the_command_prints_lines_or_json_and_exits_1_on_data_loss_or_fails(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = write(tmp_path / "old", SLURM)
    size = write(tmp_path / "size", edited(SLURM, "App", "Cluster", Size="MEDIUM"))
    types = write(tmp_path / "types", edited(SLURM, "App", "Group", InstanceConfigs=[{"InstanceType": "m7i.large"}]))
    assert main([str(old), str(size)]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0] == "3 resource(s) replaced or removed (3 disrupts running work):"
    assert text.splitlines()[1].startswith("disrupts running work: App Cluster (AWS::PCS::Cluster): Size")
    assert main(["--json", str(old), str(types)]) == 1
    (entry,) = json.loads(capsys.readouterr().out)
    assert set(entry) == {"stack", "logical_id", "type", "cause", "impact"} and entry["impact"] == FAILS
    assert main([str(old), str(old)]) == 0
    assert capsys.readouterr().out.strip() == "No resource is replaced."
    assert main([str(tmp_path / "missing"), str(old)]) == 2


def test_types_without_a_schema_are_named_not_judged(tmp_path: Path) -> None:
    old = {"S": {"Custom": resource("Acme::Widget::Thing", Size=1)}}
    found, unknown = compare_assemblies(write(tmp_path / "old", old),
                                        write(tmp_path / "new", edited(old, "S", "Custom", Size=2)))
    assert found == [] and unknown == {"Acme::Widget::Thing"}
    assert changes.report(found, unknown) == ("No resource is replaced.\n"
                                              "Not judged (no resource schema): Acme::Widget::Thing.")


def test_exit_status_follows_the_most_severe_line() -> None:
    def line(impact: str) -> Change:
        return Change("S", "R", "T", "c", impact)

    assert exit_status([line(REPLACED), line(DISRUPTS)]) == 0
    assert exit_status([line(REPLACED), line(FAILS)]) == 1
    assert exit_status([line(DATA_LOSS)]) == 1


def test_python_m_runs_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m hpc_constructs.changes` (in this process: a new one would spend seconds importing aws-cdk-lib)."""
    old = write(tmp_path / "old", SLURM)
    new = write(tmp_path / "new", edited(SLURM, "App", "Group", InstanceConfigs=[{"InstanceType": "m7i.large"}]))
    monkeypatch.setattr(sys, "argv", ["hpc_constructs.changes", str(old), str(new)])
    monkeypatch.delitem(sys.modules, "hpc_constructs.changes")  # run as __main__, as python -m does
    with pytest.raises(SystemExit) as exit:
        runpy.run_module("hpc_constructs.changes", run_name="__main__")
    assert exit.value.code == 1
    assert capsys.readouterr().out.splitlines()[1].startswith(
        "fails: App Group (AWS::PCS::ComputeNodeGroup): InstanceConfigs")


def test_the_console_script_is_declared() -> None:
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["hpc-changes"] == "hpc_constructs.changes:main"
