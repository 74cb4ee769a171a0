"""StorageLayer + ComputeFleet as a real account deploys them: creation order, least-privilege EBS,
IAM-only EFS, removal policies, the EFA Lustre client, and the two EBS attach modes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import RemovalPolicy, Stack
from aws_cdk.assertions import Annotations, Match, Template
from constructs import Construct

from hpc_constructs import (
    ComputeFleet,
    ConfigError,
    EbsSpec,
    EfsSpec,
    HpcNetwork,
    LustreDataRepository,
    LustreSpec,
    StorageLayer,
    boot,
    catalog,
)
from hpc_constructs.lustre import efa_client_interfaces
from tests.support import new_stack

RULE_TYPES = ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress")


def _layer_and_fleet(instance_types: list[str], *, max_capacity: int = 2, fleet_props: dict[str, Any] | None = None,
                     mount_props: dict[str, Any] | None = None, **layer: Any
                     ) -> tuple[Stack, StorageLayer, ComputeFleet, Template]:
    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    fleet = ComputeFleet(stack, "Fleet", vpc=network.vpc, subnet=network.cluster_subnet,
                         instance_types=instance_types, max_capacity=max_capacity, **(fleet_props or {}))
    storage = StorageLayer(stack, "Storage", vpc=network.vpc, subnet=network.cluster_subnet, **layer)
    storage.mount_on(fleet, **(mount_props or {}))
    return stack, storage, fleet, Template.from_stack(stack)


@pytest.fixture(scope="module")
def tcp() -> tuple[Stack, StorageLayer, ComputeFleet, Template]:
    return _layer_and_fleet(
        ["hpc7a.96xlarge"], bucket=True, efs=EfsSpec(mount_point="/shared/home"),
        ebs_volumes=[EbsSpec(2_048, "io2", iops=64_000, name="project")],
        lustre=LustreSpec(2_400, "PERSISTENT_2", 250, data_repositories=(LustreDataRepository("/data"),)))


@pytest.fixture(scope="module")
def efa() -> tuple[Stack, StorageLayer, ComputeFleet, Template]:
    return _layer_and_fleet(["p5.48xlarge"], lustre=LustreSpec(4_800, "PERSISTENT_2", 1_000, efa=True))


def _id(resource_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [resource_id, "GroupId"]}


def _group(template: Template, description: str) -> str:
    (found,) = template.find_resources("AWS::EC2::SecurityGroup", {
        "Properties": {"GroupDescription": Match.string_like_regexp(description)}})
    return str(found)


def _rules_touching(template: Template, group: str) -> set[str]:
    """Logical IDs of every rule on `group` or with `group` as its peer."""
    ref = _id(group)
    found = set()
    for kind in RULE_TYPES:
        for logical_id, rule in template.find_resources(kind).items():
            p = rule["Properties"]
            if ref in (p["GroupId"], p.get("SourceSecurityGroupId"), p.get("DestinationSecurityGroupId")):
                found.add(logical_id)
    return found


def _depends_on(template: Template, kind: str) -> set[str]:
    (resource,) = template.find_resources(kind).values()
    return set(resource.get("DependsOn", []))


def _user_data(template: Template) -> str:
    (lt,) = template.find_resources("AWS::EC2::LaunchTemplate").values()
    return json.dumps(lt["Properties"]["LaunchTemplateData"]["UserData"])


# -- creation order -------------------------------------------------------------------------------

@pytest.mark.parametrize("layer", ["tcp", "efa"])
def test_lustre_file_system_waits_for_its_own_security_group_rules(layer: str, request: Any) -> None:
    _, _, _, template = request.getfixturevalue(layer)
    lustre_sg = _group(template, "FSx for Lustre")
    resources = template.to_json()["Resources"]
    own = {i for i in _rules_touching(template, lustre_sg)
           if resources[i]["Properties"]["GroupId"] == _id(lustre_sg)
           and _id(lustre_sg) in (resources[i]["Properties"].get("SourceSecurityGroupId"),
                                  resources[i]["Properties"].get("DestinationSecurityGroupId"))}
    assert len(own) == (2 if layer == "efa" else 4)  # all traffic, or 988 and 1018-1023, both ways
    assert own <= _depends_on(template, "AWS::FSx::FileSystem")


@pytest.mark.parametrize("layer", ["tcp", "efa"])
def test_nodes_wait_for_every_rule_they_need(layer: str, request: Any) -> None:
    _, _, _, template = request.getfixturevalue(layer)
    fleet_rules = _rules_touching(template, _group(template, "fleet nodes"))
    # the fleet's own all-traffic pair, and every rule between it and Lustre (and EFS)
    assert len(fleet_rules) == (2 + 6 + 1 if layer == "tcp" else 2 + 4)
    assert fleet_rules <= _depends_on(template, "AWS::AutoScaling::AutoScalingGroup")


# -- mounts -----------------------------------------------------------------------------------------

def test_efa_fleet_mounts_efa_lustre_over_efa(efa: Any) -> None:
    _, storage, fleet, template = efa
    user_data = _user_data(template)
    (lt,) = template.find_resources("AWS::EC2::LaunchTemplate").values()
    parts = lt["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"]["Fn::Join"][1]
    assert "hpc-lustre-efa" in boot.packed_scripts("".join(p for p in parts if isinstance(p, str)))
    assert "ExecStart=/usr/local/sbin/hpc-lustre-efa 8\\n" in user_data  # the guide's 8 for p5.48xlarge
    assert "SuccessExitStatus=3" in user_data
    assert "hpc_step 'LNet over EFA (service)' systemctl enable --now hpc-lustre-efa.service" in user_data
    (entry,) = [line for line in user_data.split("\\n") if " /fsx lustre " in line and "echo" in line]
    assert "x-systemd.requires=hpc-lustre-efa.service" in entry and "@tcp:/" in entry
    assert "hpc_step 'Lustre at /fsx over EFA' /usr/local/sbin/hpc-lustre-efa --check" in user_data
    figures = _fleet_figures(fleet)
    assert figures[f"mounts from {storage.node.path}"].startswith("/fsx: Lustre over EFA (p5.48xlarge: 8 EFA")
    assert "up to 16 of the file system's 1,024 EFA connections" in figures[f"mounts from {storage.node.path}"]


def _fleet_figures(fleet: ComputeFleet) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for entry in fleet.node.metadata:
        if entry.type == "hpc:figures":
            merged.update(entry.data)
    return merged


@pytest.mark.parametrize(("types", "why"), [
    (["c7i.4xlarge"], "the fleet is not"),
    (["trn2.48xlarge"], "these instance types cannot be EFA clients"),
])
def test_other_fleets_mount_efa_lustre_over_tcp(types: list[str], why: str) -> None:
    _, storage, fleet, template = _layer_and_fleet(types, lustre=LustreSpec(4_800, "PERSISTENT_2", 1_000, efa=True))
    assert "hpc-lustre-efa" not in _user_data(template)
    assert "hpc_step 'mount /fsx (Lustre)' /usr/local/sbin/hpc-mount /fsx lustre" in _user_data(template)
    assert why in _fleet_figures(fleet)[f"mounts from {storage.node.path}"]


def test_tcp_lustre_is_mounted_over_tcp_even_from_an_efa_fleet() -> None:
    _, storage, fleet, template = _layer_and_fleet(["p5.48xlarge"], lustre=LustreSpec())
    assert "hpc-lustre-efa" not in _user_data(template)
    assert _fleet_figures(fleet)[f"mounts from {storage.node.path}"] == "/fsx: Lustre over TCP"


@pytest.mark.parametrize(("name", "count"), [
    ("p5.48xlarge", 8), ("p5en.48xlarge", 8), ("p6-b300.48xlarge", 16),
    ("hpc7a.96xlarge", 2), ("c6in.32xlarge", 2), ("c5n.18xlarge", 1), ("trn2.48xlarge", 0), ("c7i.large", 0),
])
def test_efa_client_interfaces_follow_the_fsx_guide(name: str, count: int) -> None:
    assert efa_client_interfaces(catalog.instance_type(name)) == count


def test_more_efa_clients_than_the_file_system_takes_is_a_warning() -> None:
    efa_lustre = LustreSpec(4_800, "PERSISTENT_2", 1_000, efa=True)
    # 8 interfaces per p5.48xlarge: 128 nodes use exactly the 1,024 connections, 129 use 1,032
    stack, _, _, _ = _layer_and_fleet(["p5.48xlarge"], max_capacity=128, lustre=efa_lustre)
    Annotations.from_stack(stack).has_no_warning("*", Match.string_like_regexp("EFA connections"))
    stack, _, fleet, _ = _layer_and_fleet(["p5.48xlarge"], max_capacity=129, lustre=efa_lustre)
    Annotations.from_stack(stack).has_warning(f"/{fleet.node.path}", Match.string_like_regexp(
        "up to 1,032 EFA connections.*at most 1,024"))


# -- least privilege --------------------------------------------------------------------------------

def _statements(template: Template) -> list[dict[str, Any]]:
    return [s for policy in template.find_resources("AWS::IAM::Policy").values()
            for s in policy["Properties"]["PolicyDocument"]["Statement"]]


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def _resources(statement: dict[str, Any]) -> list[Any]:
    resources = statement["Resource"]
    return resources if isinstance(resources, list) else [resources]


def test_ebs_attach_is_scoped_to_the_fleets_own_instances_and_nothing_detaches(tcp: Any) -> None:
    _, _, fleet, template = tcp
    statements = _statements(template)
    assert not [s for s in statements if "ec2:DetachVolume" in _actions(s)]
    on_instances = [s for s in statements if any("instance/*" in json.dumps(r) for r in _resources(s))]
    assert on_instances, "the fleet must be able to attach to its own instances"
    for statement in on_instances:
        assert statement["Condition"] == {"StringEquals": {"aws:ResourceTag/hpc-constructs:fleet": fleet.node.path}}
    (attach_volume,) = [s for s in statements if _actions(s) == ["ec2:AttachVolume"] and "Condition" not in s]
    assert all(":volume/" in json.dumps(r) for r in _resources(attach_volume))


def _grant(method: str) -> list[dict[str, Any]]:
    from aws_cdk import aws_iam as iam

    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    storage = StorageLayer(stack, "Storage", vpc=network.vpc, bucket=True, efs=EfsSpec(),
                           ebs_volumes=[EbsSpec(100, "gp3", name="data")])
    role = iam.Role(stack, "Grantee", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"))
    getattr(storage, method)(role)
    return _statements(Template.from_stack(stack))


def _efs_statement(statements: list[dict[str, Any]]) -> dict[str, Any]:
    (statement,) = [s for s in statements if any(a.startswith("elasticfilesystem:") for a in _actions(s))]
    assert statement["Condition"] == {"Bool": {"elasticfilesystem:AccessedViaMountTarget": "true"}}
    return statement


def test_grant_read_is_really_read_only() -> None:
    statements = _grant("grant_read")
    assert _actions(_efs_statement(statements)) == ["elasticfilesystem:ClientMount"]
    everything = {a for s in statements for a in _actions(s)}
    assert not {a for a in everything if a.startswith(("s3:Put", "s3:Delete", "ec2:"))}


def test_grant_read_write_writes_as_a_squashed_user_and_attaches_no_volume() -> None:
    statements = _grant("grant_read_write")
    assert sorted(_actions(_efs_statement(statements))) == ["elasticfilesystem:ClientMount",
                                                             "elasticfilesystem:ClientWrite"]
    everything = {a for s in statements for a in _actions(s)}
    assert "s3:PutObject" in everything and not {a for a in everything if a.startswith("ec2:")}


def test_root_access_only_when_asked() -> None:
    statements = _grant("grant_root_access")
    assert "elasticfilesystem:ClientRootAccess" in _actions(_efs_statement(statements))
    _, _, _, template = _layer_and_fleet(["c7i.large"], efs=EfsSpec())
    assert "elasticfilesystem:ClientRootAccess" not in _actions(_efs_statement(_statements(template)))
    _, _, _, root = _layer_and_fleet(["c7i.large"], efs=EfsSpec(), mount_props={"efs_root_access": True})
    assert "elasticfilesystem:ClientRootAccess" in _actions(_efs_statement(_statements(root)))


def test_efs_policy_allows_no_one_and_denies_access_without_tls(tcp: Any) -> None:
    _, _, _, template = tcp
    (fs,) = template.find_resources("AWS::EFS::FileSystem").values()
    statements = fs["Properties"]["FileSystemPolicy"]["Statement"]
    assert [s["Effect"] for s in statements] == ["Deny"]
    assert statements[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    (entry,) = [part for part in _user_data(template).split(" /shared/home efs ")[1:] if not part.startswith("'")]
    options = entry.split(" ")[0].split(",")
    assert "tls" in options and "iam" in options


# -- removal policies -------------------------------------------------------------------------------

def test_snapshot_removal_policy_snapshots_volumes_and_retains_the_rest() -> None:
    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    StorageLayer(stack, "Storage", vpc=network.vpc, bucket=True, efs=EfsSpec(), lustre=LustreSpec(),
                 ebs_volumes=[EbsSpec(100, "gp3")], removal_policy=RemovalPolicy.SNAPSHOT)
    template = Template.from_stack(stack)
    policies = {kind: {r["DeletionPolicy"] for r in template.find_resources(kind).values()}
                for kind in ("AWS::EC2::Volume", "AWS::S3::Bucket", "AWS::EFS::FileSystem", "AWS::FSx::FileSystem")}
    assert policies == {"AWS::EC2::Volume": {"Snapshot"}, "AWS::S3::Bucket": {"Retain"},
                        "AWS::EFS::FileSystem": {"Retain"}, "AWS::FSx::FileSystem": {"Retain"}}


# -- EBS attach modes -------------------------------------------------------------------------------

def test_per_node_volume_is_in_the_launch_template_of_every_node() -> None:
    _, storage, fleet, template = _layer_and_fleet(
        ["c7i.4xlarge"], max_capacity=4,
        ebs_volumes=[EbsSpec(500, "gp3", iops=6_000, throughput_mibps=500, name="work", attach="per_node")])
    template.resource_count_is("AWS::EC2::Volume", 0)
    assert storage.volumes == []
    (lt,) = template.find_resources("AWS::EC2::LaunchTemplate").values()
    mappings = lt["Properties"]["LaunchTemplateData"]["BlockDeviceMappings"]
    assert mappings[1] == {"DeviceName": "/dev/sdf", "Ebs": {
        "DeleteOnTermination": True, "Encrypted": True, "VolumeSize": 500, "VolumeType": "gp3", "Iops": 6_000,
        "Throughput": 500}}
    assert "ExecStart=/usr/local/sbin/hpc-ebs-node /dev/sdf /ebs/work" in _user_data(template)
    figures = _fleet_figures(fleet)
    assert "deleted with its node" in figures["EBS work per node"]
    assert figures["EBS work at max_capacity (4)"] == "2,000 GiB, 24,000 IOPS"
    assert not [s for s in _statements(template) if "ec2:AttachVolume" in _actions(s)]


def test_one_node_volume_is_taken_over_by_a_timer_and_warns_on_a_fleet_of_many(tcp: Any) -> None:
    stack, _, fleet, template = tcp
    user_data = _user_data(template)
    assert "OnUnitInactiveSec=2min" in user_data
    assert "systemctl enable --now hpc-ebs-attach-" in user_data and ".timer" in user_data
    Annotations.from_stack(stack).has_warning(f"/{fleet.node.path}", Match.string_like_regexp(
        "EBS volume 'project' .* only one of this fleet's up to 2 nodes has it at a time"))


def test_one_node_volume_on_a_single_node_fleet_does_not_warn() -> None:
    stack, _, _, _ = _layer_and_fleet(["c7i.large"], max_capacity=1, ebs_volumes=[EbsSpec(100, "gp3", name="v")])
    Annotations.from_stack(stack).has_no_warning("*", Match.string_like_regexp("only one of this fleet"))


@pytest.mark.parametrize("name", ["i3.16xlarge", "m4.16xlarge"])
def test_ebs_on_xen_types_is_refused(name: str) -> None:
    assert not catalog.instance_type(name).ebs_as_nvme
    with pytest.raises(ConfigError, match=f"mount_on\\(fleet\\)=.*{name}.*Nitro"):
        _layer_and_fleet([name], ebs_volumes=[EbsSpec(100, "gp3")])
    _layer_and_fleet([name], ebs_volumes=[EbsSpec(100, "gp3")], mount_props={"ebs_volumes": False})


def test_only_the_named_volumes_are_mounted() -> None:
    _, _, _, template = _layer_and_fleet(
        ["c7i.large"], max_capacity=1, ebs_volumes=[EbsSpec(100, "gp3", name="a"), EbsSpec(100, "gp3", name="b")],
        mount_props={"ebs_volumes": ["b"]})
    assert "/ebs/b" in _user_data(template) and "/ebs/a" not in _user_data(template)
    with pytest.raises(ConfigError, match="mount_on.ebs_volumes='c'.*a, b"):
        _layer_and_fleet(["c7i.large"], ebs_volumes=[EbsSpec(100, "gp3", name="a"), EbsSpec(100, "gp3", name="b")],
                         mount_props={"ebs_volumes": ["c"]})


def test_rules_live_in_the_fleets_stack(tcp: Any) -> None:
    _, storage, fleet, _ = tcp
    rules = [c for c in fleet.node.children if isinstance(c, Construct) and c.node.id.startswith("Mount")]
    assert len(rules) == 1 and storage.node.path not in rules[0].node.path
