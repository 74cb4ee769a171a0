"""aws-cdk-lib conventions and the tiers on their own: IGrantable fleets, grants that return iam.Grant,
IConnectable tiers, importers, mount_on for plain Auto Scaling groups and instances, and logical IDs
that stay where they were when StorageLayer composes the tiers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_efs as efs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template
from constructs import Construct

from hpc_constructs import (
    BucketSpec,
    ComputeFleet,
    ConfigError,
    DataBucket,
    EbsSpec,
    EbsVolumes,
    EfsFileSystem,
    EfsSpec,
    HpcNetwork,
    LustreFileSystem,
    LustreSpec,
    StorageLayer,
)
from tests.cfn_lint import findings
from tests.support import new_stack


def _env() -> tuple[Stack, HpcNetwork]:
    stack = new_stack()
    return stack, HpcNetwork(stack, "Net")


def _fleet(stack: Stack, network: HpcNetwork, types: tuple[str, ...] = ("c7i.large",)) -> ComputeFleet:
    return ComputeFleet(stack, "Fleet", vpc=network.vpc, subnet=network.cluster_subnet, instance_types=list(types))


def _statements_of(template: Template, role: Any, stack: Stack) -> list[dict[str, Any]]:
    ref = {"Ref": stack.get_logical_id(role.node.default_child)}
    return [s for p in template.find_resources("AWS::IAM::Policy").values() if ref in p["Properties"]["Roles"]
            for s in p["Properties"]["PolicyDocument"]["Statement"]]


def _user_data(template: Template, kind: str = "AWS::EC2::LaunchTemplate") -> str:
    (resource,) = template.find_resources(kind).values()
    data = resource["Properties"]["LaunchTemplateData"]["UserData"] if kind == "AWS::EC2::LaunchTemplate" \
        else resource["Properties"]["UserData"]
    return json.dumps(data["Fn::Base64"])


# -- IGrantable, iam.Grant ---------------------------------------------------------------------------

def test_a_fleet_is_grantable_and_connectable() -> None:
    stack, network = _env()
    fleet = _fleet(stack, network)
    bucket = s3.Bucket(stack, "Outside")
    grant = bucket.grant_read(fleet)
    assert grant.success
    assert fleet.grant_principal is fleet.role
    # and an aws-cdk-lib API that takes an IConnectable reaches the fleet's security group
    ec2.SecurityGroup(stack, "Peer", vpc=network.vpc).connections.allow_from(fleet, ec2.Port.tcp(8443), "test")
    template = Template.from_stack(stack)
    actions = {a for s in _statements_of(template, fleet.role, stack) for a in s["Action"]}
    assert "s3:GetObject*" in actions
    (rule,) = template.find_resources("AWS::EC2::SecurityGroupIngress", {"Properties": {"FromPort": 8443}}).values()
    assert rule["Properties"]["SourceSecurityGroupId"] == stack.resolve(fleet.security_group.security_group_id)


@pytest.mark.parametrize("method", ["grant_read", "grant_read_write", "grant_root_access"])
def test_layer_grants_return_one_grant(method: str) -> None:
    stack, network = _env()
    storage = StorageLayer(stack, "Storage", vpc=network.vpc, bucket=True, efs=EfsSpec())
    role = iam.Role(stack, "Grantee", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"))
    grant = getattr(storage, method)(role)
    assert isinstance(grant, iam.Grant) and grant.success
    actions = [stack.resolve(s.to_statement_json())["Action"] for s in grant.principal_statements]
    flat = [a for action in actions for a in ([action] if isinstance(action, str) else action)]
    assert "elasticfilesystem:ClientMount" in flat, "the grant carries the EFS statement"
    assert (any(a.startswith("s3:") for a in flat)) == (method != "grant_root_access"), "and the bucket's"


def test_a_layer_with_nothing_to_grant_returns_a_grant_that_does_nothing() -> None:
    stack, network = _env()
    storage = StorageLayer(stack, "Storage", vpc=network.vpc, ebs_volumes=[EbsSpec(100, "gp3")])
    role = iam.Role(stack, "Grantee", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"))
    grant = storage.grant_read_write(role)
    assert isinstance(grant, iam.Grant)
    assert not Template.from_stack(stack).find_resources("AWS::IAM::Policy", {
        "Properties": {"Roles": [{"Ref": stack.get_logical_id(role.node.default_child)}]}})


# -- IConnectable ---------------------------------------------------------------------------------

def test_layer_and_tiers_are_connectable() -> None:
    stack, network = _env()
    storage = StorageLayer(stack, "Storage", vpc=network.vpc, subnet=network.cluster_subnet, bucket=True,
                           efs=EfsSpec(), lustre=LustreSpec(), ebs_volumes=[EbsSpec(100, "gp3")])
    assert storage.lustre is not None and storage.efs is not None
    assert storage.data_bucket is not None and storage.ebs is not None
    groups = {g.node.path for g in storage.connections.security_groups}
    assert groups == {storage.lustre.security_group.node.path,
                      storage.efs.connections.security_groups[0].node.path}
    for tier in (storage.lustre, storage.efs, storage.data_bucket, storage.ebs):
        assert isinstance(tier.connections, ec2.Connections)
    # An aws-cdk-lib API that takes an IConnectable: a peer reaches the layer's file systems.
    peer = ec2.SecurityGroup(stack, "Peer", vpc=network.vpc)
    peer.connections.allow_to(storage, ec2.Port.tcp(988), "test")
    ingress = Template.from_stack(stack).find_resources("AWS::EC2::SecurityGroupIngress", {
        "Properties": {"FromPort": 988, "Description": "test"}})
    assert len(ingress) == 2  # into the Lustre group and into the EFS group


def test_lustre_tier_has_the_l2_attributes() -> None:
    stack, network = _env()
    storage = StorageLayer(stack, "Storage", vpc=network.vpc, lustre=LustreSpec())
    lustre = storage.lustre
    assert lustre is not None and lustre.file_system is not None
    Template.from_stack(stack)  # logical IDs are final once the app is synthesized
    resolved = [stack.resolve(v) for v in (lustre.file_system_id, lustre.dns_name, lustre.mount_name)]
    assert resolved == [{"Ref": "StorageLustre6434AAB0"}, {"Fn::GetAtt": ["StorageLustre6434AAB0", "DNSName"]},
                        {"Fn::GetAtt": ["StorageLustre6434AAB0", "LustreMountName"]}]
    assert lustre.stack is stack or lustre.stack.node.path == stack.node.path  # an aws_cdk.Resource
    assert isinstance(lustre.connections, ec2.Connections)


# -- the tiers on their own -------------------------------------------------------------------------

def test_lustre_tier_alone_validates_and_mounts() -> None:
    stack, network = _env()
    with pytest.raises(ConfigError, match=r"^Test/Scratch: lustre.storage_capacity_gib"):
        LustreFileSystem(stack, "Scratch", vpc=network.vpc, subnet=network.cluster_subnet,
                         spec=LustreSpec(1_000, "SCRATCH_2"))
    lustre = LustreFileSystem(stack, "Fs", vpc=network.vpc, subnet=network.cluster_subnet,
                              spec=LustreSpec(2_400, "SCRATCH_2"))
    fleet = _fleet(stack, network)
    lustre.mount_on(fleet)
    template = Template.from_stack(stack)
    assert findings(template.to_json()) == []
    template.resource_count_is("AWS::FSx::FileSystem", 1)
    template.resource_count_is("AWS::S3::Bucket", 0)
    template.resource_count_is("AWS::EFS::FileSystem", 0)
    assert "mount /fsx (Lustre)" in _user_data(template)
    (group,) = template.find_resources("AWS::AutoScaling::AutoScalingGroup").values()
    assert any(d.startswith("FleetMountTestFs") for d in group["DependsOn"])
    with pytest.raises(ConfigError, match="each fleet once per LustreFileSystem"):
        lustre.mount_on(fleet)


def test_efs_tier_alone_grants_and_mounts() -> None:
    stack, network = _env()
    shared = EfsFileSystem(stack, "Home", vpc=network.vpc, spec=EfsSpec(mount_point="/home/shared"))
    fleet = _fleet(stack, network)
    shared.mount_on(fleet, root_access=True)
    template = Template.from_stack(stack)
    assert findings(template.to_json()) == []
    efs_actions = [s["Action"] for s in _statements_of(template, fleet.role, stack)
                   if "elasticfilesystem:ClientMount" in s["Action"]]
    assert efs_actions == [["elasticfilesystem:ClientMount", "elasticfilesystem:ClientRootAccess",
                            "elasticfilesystem:ClientWrite"]]
    assert "mount /home/shared (EFS)" in _user_data(template)


def test_bucket_and_ebs_tiers_alone() -> None:
    stack, network = _env()
    data = DataBucket(stack, "Data", spec=BucketSpec(access_logs=False))
    volumes = EbsVolumes(stack, "Scratch", volumes=[EbsSpec(200, "gp3", name="work")], subnet=network.cluster_subnet)
    fleet = _fleet(stack, network)
    assert data.grant_read_write(fleet).success
    volumes.mount_on(fleet)
    template = Template.from_stack(stack)
    assert findings(template.to_json()) == []
    template.resource_count_is("AWS::S3::Bucket", 1)
    template.resource_count_is("AWS::EC2::Volume", 1)
    assert "hpc-ebs-attach" in _user_data(template)
    with pytest.raises(ConfigError, match="names of this layer's volumes: x"):
        EbsVolumes(stack, "More", volumes=[EbsSpec(10, "gp3", name="x")], subnet=network.cluster_subnet) \
            .mount_on(fleet, volumes=["y"])


# -- importers ----------------------------------------------------------------------------------------

def test_imported_lustre_mounts_over_its_own_security_group() -> None:
    stack, network = _env()
    group = ec2.SecurityGroup.from_security_group_id(stack, "FsxGroup", "sg-0123456789abcdef0")
    lustre = LustreFileSystem.from_lustre_file_system_attributes(
        stack, "Existing", file_system_id="fs-0123456789abcdef0",
        dns_name="fs-0123456789abcdef0.fsx.us-east-1.amazonaws.com", mount_name="abcdefgh", security_group=group,
        mount_point="/lustre")
    fleet = _fleet(stack, network)
    lustre.mount_on(fleet)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::FSx::FileSystem", 0)
    assert "fs-0123456789abcdef0.fsx.us-east-1.amazonaws.com@tcp:/abcdefgh /lustre lustre" in _user_data(template)
    rules = template.find_resources("AWS::EC2::SecurityGroupIngress", {"Properties": {"FromPort": 988}})
    assert {json.dumps(r["Properties"]["GroupId"]) for r in rules.values()} >= {'"sg-0123456789abcdef0"'}
    assert findings(template.to_json()) == []


def test_imported_efs_mounts_and_grants() -> None:
    stack, network = _env()
    group = ec2.SecurityGroup.from_security_group_id(stack, "EfsGroup", "sg-0fedcba9876543210")
    existing = efs.FileSystem.from_file_system_attributes(stack, "Efs", file_system_id="fs-0fedcba9",
                                                          security_group=group)
    shared = EfsFileSystem.from_file_system(stack, "Shared", existing, mount_point="/data")
    assert shared.file_system is None
    fleet = _fleet(stack, network)
    shared.mount_on(fleet)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::EFS::FileSystem", 0)
    assert "fs-0fedcba9:/ /data efs" in _user_data(template)
    (rule,) = template.find_resources("AWS::EC2::SecurityGroupIngress", {"Properties": {"FromPort": 2049}}).values()
    assert rule["Properties"]["GroupId"] == "sg-0fedcba9876543210"
    assert any("elasticfilesystem:ClientWrite" in s["Action"] for s in _statements_of(template, fleet.role, stack))


# -- mount_on a plain Auto Scaling group or instance ------------------------------------------------

def _plain_asg(stack: Stack, network: HpcNetwork) -> autoscaling.AutoScalingGroup:
    return autoscaling.AutoScalingGroup(
        stack, "Asg", vpc=network.vpc, vpc_subnets=ec2.SubnetSelection(subnets=[network.cluster_subnet]),
        instance_type=ec2.InstanceType("c7i.large"), machine_image=ec2.MachineImage.latest_amazon_linux2023())


def test_layer_mounts_on_a_plain_auto_scaling_group() -> None:
    stack, network = _env()
    storage = StorageLayer(stack, "Storage", vpc=network.vpc, subnet=network.cluster_subnet,
                           lustre=LustreSpec(), efs=EfsSpec(), ebs_volumes=[EbsSpec(100, "gp3", name="proj")])
    asg = _plain_asg(stack, network)
    storage.mount_on(asg)
    template = Template.from_stack(stack)
    user_data = _user_data(template)
    assert user_data.count("hpc_step() {") == 1  # the boot prelude, once
    for line in ("mount /fsx (Lustre)", "mount /efs (EFS)", "hpc-ebs-attach", "hpc_boot_report"):
        assert line in user_data, line
    asg_sg = stack.resolve(asg.connections.security_groups[0].security_group_id)
    nfs = template.find_resources("AWS::EC2::SecurityGroupIngress", {"Properties": {"FromPort": 2049}})
    assert [r["Properties"]["SourceSecurityGroupId"] for r in nfs.values()] == [asg_sg]
    (group,) = template.find_resources("AWS::AutoScaling::AutoScalingGroup").values()
    assert any(d.startswith("AsgMountTestStorage") for d in group["DependsOn"])  # waits for the rules
    tags = {t["Key"]: t["Value"] for t in group["Properties"]["Tags"]}
    assert tags["hpc-constructs:fleet"] == "Test/Asg"  # the attach grant's condition names these instances
    assert findings(template.to_json()) == []


def test_layer_mounts_on_a_plain_instance_and_reads_its_type() -> None:
    stack, network = _env()
    storage = StorageLayer(stack, "Storage", vpc=network.vpc, subnet=network.cluster_subnet, efs=EfsSpec(),
                           ebs_volumes=[EbsSpec(100, "gp3", name="proj")])
    xen = ec2.Instance(stack, "Old", vpc=network.vpc, instance_type=ec2.InstanceType("c4.large"),
                       machine_image=ec2.MachineImage.latest_amazon_linux2023())
    with pytest.raises(ConfigError, match="EBS volumes only on fleets of Nitro instance types"):
        storage.mount_on(xen)
    storage.mount_on(xen, ebs_volumes=False)
    template = Template.from_stack(stack)
    (instance,) = template.find_resources("AWS::EC2::Instance").values()
    assert "mount /efs (EFS)" in json.dumps(instance["Properties"]["UserData"])
    assert any(d.startswith("OldMountTestStorage") for d in instance["DependsOn"])


def test_per_node_volumes_need_a_compute_fleet() -> None:
    stack, network = _env()
    storage = StorageLayer(stack, "Storage", vpc=network.vpc, ebs_volumes=[EbsSpec(100, "gp3", attach="per_node")])
    with pytest.raises(ConfigError, match="a ComputeFleet for attach='per_node'"):
        storage.mount_on(_plain_asg(stack, network))


def test_an_imported_file_system_needs_a_valid_mount_point() -> None:
    stack, _ = _env()
    group = ec2.SecurityGroup.from_security_group_id(stack, "G", "sg-0123456789abcdef0")
    with pytest.raises(ConfigError, match=r"^Test/Fsx: mount_point='/my fsx' is not allowed"):
        LustreFileSystem.from_lustre_file_system_attributes(stack, "Fsx", file_system_id="fs-1", dns_name="d",
                                                            mount_name="m", security_group=group,
                                                            mount_point="/my fsx")
    existing = efs.FileSystem.from_file_system_attributes(stack, "Efs", file_system_id="fs-2", security_group=group)
    with pytest.raises(ConfigError, match=r"^Test/Shared: mount_point='/' is not allowed"):
        EfsFileSystem.from_file_system(stack, "Shared", existing, mount_point="/")


class _Nodes(Construct):
    """A mount target of one's own: user data, a role and connections, here without a security group."""

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        self.user_data = ec2.UserData.for_linux()
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"))
        self.connections = ec2.Connections()


def test_a_target_without_a_security_group_is_refused() -> None:
    stack, network = _env()
    storage = StorageLayer(stack, "Storage", vpc=network.vpc, efs=EfsSpec())
    with pytest.raises(ConfigError, match=r"^Test/Storage: mount_on\(target\)='Test/Mine' is not allowed. "
                                          r"Allowed: a target with a security group"):
        storage.mount_on(_Nodes(stack, "Mine"))


def test_a_target_without_user_data_is_refused() -> None:
    stack, network = _env()
    storage = StorageLayer(stack, "Storage", vpc=network.vpc, efs=EfsSpec())
    with pytest.raises(ConfigError, match=r"target=an HpcNetwork \(Test/Net\) is not allowed. Allowed: a construct "
                                          r"with user_data, role and connections \(a Batch environment: .*\) or a "
                                          r"ComputeFleet"):
        storage.mount_on(network)  # type: ignore[arg-type]


# -- logical IDs ---------------------------------------------------------------------------------------

def test_composed_tiers_keep_the_unsplit_layers_logical_ids() -> None:
    stack, network = _env()
    StorageLayer(stack, "Storage", vpc=network.vpc, subnet=network.cluster_subnet, bucket=True, efs=EfsSpec(),
                 lustre=LustreSpec(), ebs_volumes=[EbsSpec(100, "gp3", name="proj")])
    ids = set(Template.from_stack(stack).to_json()["Resources"])
    # the IDs of the reference stack's lock (tests/lock/), whose layer has the same id
    assert {"StorageLustre6434AAB0", "StorageLustreSecurityGroupC49655E1", "StorageEfs3FF3C1A5",
            "StorageBucket5CB7C8EA", "StorageAccessLogs96FB524C"} <= ids
    assert any(i.startswith("StorageVolumeproj") for i in ids)
    assert not [i for i in ids if any(tier in i for tier in ("DataBucket", "EbsVolumes", "EfsFileSystem",
                                                               "LustreFileSystem"))]
    # a security group's own rules are named after their peer's unique id: the old one
    assert [i for i in ids if i.startswith("StorageLustreSecurityGroupfromTestStorageLustreSecurityGroup")]


def test_a_tier_alone_keeps_cdks_own_ids() -> None:
    stack, network = _env()
    LustreFileSystem(stack, "Fs", vpc=network.vpc, subnet=network.cluster_subnet)
    ids = set(Template.from_stack(stack).to_json()["Resources"])
    assert any(i.startswith("FsLustre") and not i.startswith("FsLustreSecurityGroup") for i in ids)
