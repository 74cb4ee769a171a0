"""StorageLayer: resources, defaults that keep data, and mount_on(fleet)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import RemovalPolicy, Stack
from aws_cdk.assertions import Match, Template
from hypothesis import strategies as st

from hpc_constructs import (
    ComputeFleet,
    ConfigError,
    EbsSpec,
    EfsSpec,
    HpcNetwork,
    LustreDataRepository,
    LustreSpec,
    StorageLayer,
)
from tests.cfn_lint import findings
from tests.support import hypothesis_outcomes, new_stack

FULL = {
    "bucket": True,
    "ebs_volumes": [EbsSpec(2_048, "io2", iops=64_000, name="project")],
    "lustre": LustreSpec(2_400, "PERSISTENT_2", 250, data_repositories=(LustreDataRepository("/data"),)),
    "efs": EfsSpec(mount_point="/shared/home"),
}


@pytest.fixture(scope="module")
def mounted() -> tuple[Stack, StorageLayer, ComputeFleet, Template]:
    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    fleet = ComputeFleet(stack, "Fleet", vpc=network.vpc, subnet=network.cluster_subnet,
                         instance_types=["hpc7a.96xlarge"], max_capacity=2)
    storage = StorageLayer(stack, "Storage", vpc=network.vpc, subnet=network.cluster_subnet, **FULL)  # type: ignore[arg-type]
    storage.mount_on(fleet)
    return stack, storage, fleet, Template.from_stack(stack)


def _by_type(template: Template, kind: str) -> dict[str, Any]:
    found: dict[str, Any] = template.find_resources(kind)
    return found


def test_every_stateful_resource_is_retained(mounted: Any) -> None:
    _, _, _, template = mounted
    for kind in ("AWS::EC2::Volume", "AWS::FSx::FileSystem", "AWS::EFS::FileSystem", "AWS::S3::Bucket"):
        resources = _by_type(template, kind)
        assert resources, kind
        for resource in resources.values():
            assert resource["DeletionPolicy"] == "Retain", kind
            assert resource["UpdateReplacePolicy"] == "Retain", kind


def test_removal_policy_can_be_changed_explicitly() -> None:
    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    StorageLayer(stack, "Storage", vpc=network.vpc, ebs_volumes=[EbsSpec(100, "gp3")],
                 removal_policy=RemovalPolicy.SNAPSHOT)
    Template.from_stack(stack).has_resource("AWS::EC2::Volume", {"DeletionPolicy": "Snapshot"})


def test_io2_volume_is_a_cfn_volume_encrypted_beyond_cdk_l2_limits() -> None:
    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    StorageLayer(stack, "Storage", vpc=network.vpc, ebs_volumes=[EbsSpec(65_536, "io2", iops=256_000)])
    Template.from_stack(stack).has_resource_properties("AWS::EC2::Volume", {
        "VolumeType": "io2", "Size": 65_536, "Iops": 256_000, "Encrypted": True})


def test_bucket_is_private_tls_only_encrypted_versioned_and_logged(mounted: Any) -> None:
    _, storage, _, template = mounted
    assert storage.bucket is not None and storage.log_bucket is not None
    template.has_resource_properties("AWS::S3::Bucket", {
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                           "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
        "BucketEncryption": Match.object_like({}),
        "VersioningConfiguration": {"Status": "Enabled"},
        "LoggingConfiguration": Match.object_like({"DestinationBucketName": Match.any_value()}),
    })
    template.has_resource_properties("AWS::S3::BucketPolicy", {"PolicyDocument": Match.object_like({
        "Statement": Match.array_with([Match.object_like({
            "Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})])})})


def test_efs_is_encrypted_elastic_in_private_subnets(mounted: Any) -> None:
    _, _, _, template = mounted
    template.has_resource_properties("AWS::EFS::FileSystem", {"Encrypted": True, "ThroughputMode": "elastic"})
    template.resource_count_is("AWS::EFS::MountTarget", 2)


@pytest.mark.parametrize("mibps", [1, 2, 512, 3_413, 3_414])
def test_efs_provisioned_throughput(mibps: int) -> None:
    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    StorageLayer(stack, "Storage", vpc=network.vpc, efs=EfsSpec("provisioned", mibps))
    Template.from_stack(stack).has_resource_properties("AWS::EFS::FileSystem", {
        "ThroughputMode": "provisioned", "ProvisionedThroughputInMibps": mibps})


@pytest.mark.parametrize(("spec", "match"), [
    (EfsSpec("provisioned"), "provisioned_throughput_mibps=None"),
    (EfsSpec("provisioned", 0), "provisioned_throughput_mibps=0"),
    (EfsSpec("provisioned", 3_415), "provisioned_throughput_mibps=3415"),
    (EfsSpec("elastic", 100), "none with elastic"),
    (EfsSpec("elastic", performance_mode="maxIO"), "Max I/O"),
    (EfsSpec(mount_point="/shared home"), "mount_point"),
    (EfsSpec(mount_point="/"), "mount_point"),
])
def test_efs_rules(spec: EfsSpec, match: str) -> None:
    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    with pytest.raises(ConfigError, match=match):
        StorageLayer(stack, "Storage", vpc=network.vpc, efs=spec)


def test_lustre_is_in_one_subnet_with_its_configuration(mounted: Any) -> None:
    _, storage, _, template = mounted
    (fs,) = _by_type(template, "AWS::FSx::FileSystem").values()
    props = fs["Properties"]
    assert len(props["SubnetIds"]) == 1
    assert props["StorageCapacity"] == 2_400
    assert props["LustreConfiguration"]["DeploymentType"] == "PERSISTENT_2"
    assert props["LustreConfiguration"]["PerUnitStorageThroughput"] == 250
    assert "ImportPath" not in props["LustreConfiguration"]
    assert storage.lustre is not None
    assert storage.lustre.dns_name and storage.lustre.mount_name


def test_lustre_links_the_layer_bucket_through_a_data_repository_association(mounted: Any) -> None:
    _, _, _, template = mounted
    template.has_resource_properties("AWS::FSx::DataRepositoryAssociation", {
        "FileSystemPath": "/data",
        "DataRepositoryPath": {"Fn::Join": ["", ["s3://", {"Ref": Match.string_like_regexp("StorageBucket")}, "/"]]},
        "S3": {"AutoImportPolicy": {"Events": ["NEW", "CHANGED", "DELETED"]},
               "AutoExportPolicy": {"Events": ["NEW", "CHANGED", "DELETED"]}},
    })


def test_repository_without_a_path_needs_the_layer_bucket() -> None:
    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    with pytest.raises(ConfigError, match="bucket=True"):
        StorageLayer(stack, "Storage", vpc=network.vpc,
                     lustre=LustreSpec(data_repositories=(LustreDataRepository("/data"),)))


def _group_id(template: Template, description: str) -> dict[str, Any]:
    groups = template.find_resources("AWS::EC2::SecurityGroup", {
        "Properties": {"GroupDescription": Match.string_like_regexp(description)}})
    assert len(groups) == 1, groups
    return {"Fn::GetAtt": [next(iter(groups)), "GroupId"]}


def _rules_between(template: Template, a: dict[str, Any], b: dict[str, Any]) -> set[tuple[str, str, int, int]]:
    """(direction, protocol, from, to) of every rule on group a whose peer is group b."""
    rules = set()
    for kind, peer_key, direction in (("AWS::EC2::SecurityGroupIngress", "SourceSecurityGroupId", "in"),
                                      ("AWS::EC2::SecurityGroupEgress", "DestinationSecurityGroupId", "out")):
        for rule in _by_type(template, kind).values():
            p = rule["Properties"]
            if p["GroupId"] == a and p.get(peer_key) == b:
                rules.add((direction, p["IpProtocol"], p.get("FromPort", -1), p.get("ToPort", -1)))
    return rules


def test_mount_on_opens_exactly_the_lustre_ports_and_the_nfs_port(mounted: Any) -> None:
    _, _, _, template = mounted
    fleet_sg = _group_id(template, "fleet nodes")
    lustre_sg = _group_id(template, "FSx for Lustre")
    efs_sg = _group_id(template, "Storage/Efs")
    lustre = {("tcp", 988, 988), ("tcp", 1018, 1023)}
    assert _rules_between(template, lustre_sg, fleet_sg) == {("in", *p) for p in lustre} | {("out", *p) for p in lustre}
    assert _rules_between(template, fleet_sg, lustre_sg) == {("in", *p) for p in lustre}
    assert _rules_between(template, efs_sg, fleet_sg) == {("in", "tcp", 2049, 2049)}
    assert _rules_between(template, fleet_sg, efs_sg) == set()


def _user_data(template: Template) -> str:
    (lt,) = _by_type(template, "AWS::EC2::LaunchTemplate").values()
    return json.dumps(lt["Properties"]["LaunchTemplateData"]["UserData"])


def test_mount_on_mounts_through_fstab_automount_and_retried_steps(mounted: Any) -> None:
    _, _, _, template = mounted
    user_data = _user_data(template)
    assert "hpc_step 'Lustre client' hpc_install lustre-client" in user_data
    assert "grep -qs ' /fsx lustre ' /etc/fstab ||" in user_data
    assert "grep -qs ' /shared/home efs ' /etc/fstab ||" in user_data
    # systemd mounts both at every boot on first access, and again after a failure
    for mount_point, fstype in (("/fsx", "lustre"), ("/shared/home", "efs")):
        (entry,) = [line for line in user_data.split("\\n") if f" {mount_point} {fstype} " in line and "echo" in line]
        assert "_netdev" in entry and "x-systemd.automount" in entry
    # the first mount is a reported step through hpc-mount (retries), never a one-shot `mount ... || echo`
    assert "hpc_step 'mount /fsx (Lustre)' /usr/local/sbin/hpc-mount /fsx lustre" in user_data
    assert "hpc_step 'mount /shared/home (EFS)' /usr/local/sbin/hpc-mount /shared/home nfs4" in user_data
    assert "|| mount /" not in user_data
    assert "/usr/local/sbin/hpc-ebs-attach" in user_data and "/ebs/project" in user_data


def test_ebs_attach_script_is_valid_bash(tmp_path: Any) -> None:
    import subprocess

    from hpc_constructs import boot

    script = boot.script_text("hpc-ebs-attach")
    assert "nvme-Amazon_Elastic_Block_Store_" in script  # found by volume ID, not by device name
    path = tmp_path / "hpc-ebs-attach"
    path.write_text(script)
    subprocess.run(["bash", "-n", str(path)], check=True)  # behaviour: tests/unit/test_boot_scripts.py


def test_mounting_twice_is_refused(mounted: Any) -> None:
    _, storage, fleet, _ = mounted
    with pytest.raises(ConfigError, match="each fleet once"):
        storage.mount_on(fleet)


BUCKET_ARN = {"Fn::GetAtt": ["StorageBucket5CB7C8EA", "Arn"]}
BUCKET_RESOURCES = [BUCKET_ARN, {"Fn::Join": ["", [BUCKET_ARN, "/*"]]}]
EFS_STATEMENT = {"Condition": {"Bool": {"elasticfilesystem:AccessedViaMountTarget": "true"}}, "Effect": "Allow",
                 "Resource": {"Fn::GetAtt": ["StorageEfs3FF3C1A5", "Arn"]}}
READ = [
    {"Action": ["s3:GetBucket*", "s3:GetObject*", "s3:List*"], "Effect": "Allow", "Resource": BUCKET_RESOURCES},
    {"Action": "elasticfilesystem:ClientMount", **EFS_STATEMENT},
]
READ_WRITE = [
    {"Action": ["s3:Abort*", "s3:DeleteObject*", "s3:GetBucket*", "s3:GetObject*", "s3:List*", "s3:PutObject",
                "s3:PutObjectLegalHold", "s3:PutObjectRetention", "s3:PutObjectTagging",
                "s3:PutObjectVersionTagging"], "Effect": "Allow", "Resource": BUCKET_RESOURCES},
    {"Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"], **EFS_STATEMENT},
]
ROOT_ACCESS = [{"Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientRootAccess",
                           "elasticfilesystem:ClientWrite"], **EFS_STATEMENT}]


@pytest.mark.parametrize(("method", "expected"), [("grant_read", READ), ("grant_read_write", READ_WRITE),
                                                  ("grant_root_access", ROOT_ACCESS)])
def test_grant_gives_exactly(method: str, expected: list[dict[str, Any]]) -> None:
    """Each grant's statements on the grantee's policy, and nothing else, for a layer with a bucket and EFS."""
    from aws_cdk import aws_iam as iam

    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    storage = StorageLayer(stack, "Storage", vpc=network.vpc, bucket=True, efs=EfsSpec())
    role = iam.Role(stack, "Grantee", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"))
    getattr(storage, method)(role)
    policies = [p["Properties"] for p in Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()
                if {"Ref": stack.get_logical_id(role.node.default_child)} in p["Properties"]["Roles"]]
    (policy,) = policies
    assert policy["PolicyDocument"]["Statement"] == expected


def test_figures_report_throughput(mounted: Any) -> None:
    _, storage, _, _ = mounted
    assert "600 MB/s aggregate" in str(storage.figures["lustre"])
    assert "64,000 IOPS" in str(storage.figures["ebs project"])
    assert "elastic" in str(storage.figures["efs"])


def test_template_is_clean_under_cfn_lint(mounted: Any) -> None:
    _, _, _, template = mounted
    assert findings(template.to_json()) == []


def _synth_or_refused(props: dict[str, Any], error_prefix: str) -> Template | None:
    """A StorageLayer with `props`: its template, clean under cfn-lint; or None when ConfigError refused it."""
    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    try:
        StorageLayer(stack, "Storage", vpc=network.vpc, **props)
    except ConfigError as err:
        assert str(err).startswith(error_prefix)
        return None
    template = Template.from_stack(stack)
    assert findings(template.to_json()) == []
    return template


@st.composite
def ebs_specs(draw: st.DrawFn) -> EbsSpec:
    """Mostly specs inside the table (so that the synth path is exercised), sometimes one step outside."""
    from hpc_constructs.catalog.limits import EBS_VOLUME_TYPES

    kind = draw(st.sampled_from(sorted(EBS_VOLUME_TYPES)))
    limits = EBS_VOLUME_TYPES[kind]
    size = draw(st.integers(limits.min_size_gib, limits.max_size_gib) | st.sampled_from(
        [limits.min_size_gib - 1, limits.max_size_gib + 1]))
    iops = None
    if limits.min_iops is not None and limits.max_iops is not None and limits.max_iops_per_gib is not None:
        top = max(limits.min_iops, min(limits.max_iops, limits.max_iops_per_gib * max(size, 1)))
        iops = draw(st.integers(limits.min_iops, top) | st.sampled_from([limits.min_iops - 1, limits.max_iops + 1]))
    throughput = None
    if kind == "gp3" and draw(st.booleans()):
        throughput = draw(st.integers(125, max(125, min(2_000, int((iops or 3_000) * 0.25)))) | st.just(2_001))
    return EbsSpec(size, kind, iops=iops, throughput_mibps=throughput)


def _ebs_volumes_synthesize(specs: list[EbsSpec]) -> bool:
    specs = [EbsSpec(s.size_gib, s.volume_type, s.iops, s.throughput_mibps, name=f"v{i}") for i, s in enumerate(specs)]
    template = _synth_or_refused({"ebs_volumes": specs}, "Test/Storage: ebs_volumes[")
    if template is None:
        return False
    template.resource_count_is("AWS::EC2::Volume", len(specs))
    return True


def test_random_ebs_specs_synthesize_cleanly_or_raise_config_error() -> None:
    accepted, examples = hypothesis_outcomes(_ebs_volumes_synthesize, max_examples=12,  # make fuzz: 1,000
                                             specs=st.lists(ebs_specs(), min_size=1, max_size=4))
    # a list of up to 4 volumes is refused when any one is: a quarter is the share that exercises the synth path
    assert accepted >= examples // 4, f"only {accepted} of {examples} random volume lists synthesized"
    assert examples - accepted >= 1, "no random volume list was refused"


@st.composite
def lustre_specs(draw: st.DrawFn) -> LustreSpec:
    """Mostly valid combinations of the capacity and throughput tables, sometimes one step outside."""
    from hpc_constructs.catalog.limits import LUSTRE_DEPLOYMENTS, LUSTRE_HDD_CAPACITY_STEP_GIB

    deployment, storage = draw(st.sampled_from(sorted(LUSTRE_DEPLOYMENTS)))
    limits = LUSTRE_DEPLOYMENTS[(deployment, storage)]
    throughput = draw(st.sampled_from(limits.per_unit_throughputs)) if limits.per_unit_throughputs else None
    if draw(st.integers(0, 9)) == 0:
        throughput = draw(st.sampled_from([12, 50, 125, 200, 1_000]))
    step = LUSTRE_HDD_CAPACITY_STEP_GIB.get(throughput or 0, limits.capacity_step_gib) if storage == "HDD" \
        else limits.capacity_step_gib
    capacity = draw(st.sampled_from(limits.fixed_capacities_gib or (step,)) | st.integers(1, 8).map(lambda n: n * step))
    if draw(st.integers(0, 9)) == 0:
        capacity += draw(st.sampled_from([-1, 1]))
    repos = (LustreDataRepository("/data", "s3://hpc-data/in/"),) if draw(st.booleans()) else ()
    return LustreSpec(capacity, deployment, throughput, storage, data_repositories=repos,
                      efa=deployment == "PERSISTENT_2" and draw(st.booleans()))


def _lustre_synthesizes(spec: LustreSpec) -> bool:
    template = _synth_or_refused({"lustre": spec}, "Test/Storage: lustre.")
    if template is None:
        return False
    template.resource_count_is("AWS::FSx::FileSystem", 1)
    template.resource_count_is("AWS::FSx::DataRepositoryAssociation", len(spec.data_repositories))
    return True


def test_random_lustre_specs_synthesize_cleanly_or_raise_config_error() -> None:
    accepted, examples = hypothesis_outcomes(_lustre_synthesizes, max_examples=12,  # make fuzz: 1,000
                                             spec=lustre_specs())
    assert accepted >= examples // 3, f"only {accepted} of {examples} random Lustre specs synthesized"
    assert examples - accepted >= 1, "no random Lustre spec was refused"


def test_efa_enabled_lustre_allows_all_traffic_with_its_clients() -> None:
    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    fleet = ComputeFleet(stack, "Fleet", vpc=network.vpc, subnet=network.cluster_subnet,
                         instance_types=["p5.48xlarge"])
    storage = StorageLayer(stack, "Storage", vpc=network.vpc, subnet=network.cluster_subnet,
                           lustre=LustreSpec(4_800, "PERSISTENT_2", 1_000, efa=True))
    storage.mount_on(fleet)
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::FSx::FileSystem", {"LustreConfiguration": Match.object_like({
        "EfaEnabled": True, "MetadataConfiguration": {"Mode": "AUTOMATIC"}}), "FileSystemTypeVersion": "2.15"})
    fleet_sg = _group_id(template, "fleet nodes")
    lustre_sg = _group_id(template, "FSx for Lustre")
    assert _rules_between(template, lustre_sg, lustre_sg) == {("in", "-1", -1, -1), ("out", "-1", -1, -1)}
    assert _rules_between(template, lustre_sg, fleet_sg) == {("in", "-1", -1, -1), ("out", "-1", -1, -1)}
    assert _rules_between(template, fleet_sg, lustre_sg) == {("in", "-1", -1, -1), ("out", "-1", -1, -1)}
    assert findings(template.to_json()) == []


def test_two_layers_on_one_fleet_get_distinct_devices_and_rules() -> None:
    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    fleet = ComputeFleet(stack, "Fleet", vpc=network.vpc, subnet=network.cluster_subnet,
                         instance_types=["c7i.4xlarge"])
    from constructs import Construct

    for scope_id in ("A", "B"):  # the same layer id under two scopes
        scope = Construct(stack, scope_id)
        layer = StorageLayer(scope, "Storage", vpc=network.vpc, subnet=network.cluster_subnet,
                             ebs_volumes=[EbsSpec(100, "gp3", name=f"data{scope_id.lower()}")])
        layer.mount_on(fleet)
    user_data = _user_data(Template.from_stack(stack))
    assert "/dev/sdf /ebs/dataa" in user_data and "/dev/sdg /ebs/datab" in user_data


def test_two_layers_mounting_the_same_path_on_one_fleet_is_refused() -> None:
    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    fleet = ComputeFleet(stack, "Fleet", vpc=network.vpc, subnet=network.cluster_subnet,
                         instance_types=["c7i.4xlarge"])
    first = StorageLayer(stack, "First", vpc=network.vpc, subnet=network.cluster_subnet,
                         ebs_volumes=[EbsSpec(100, "gp3", name="data")])
    second = StorageLayer(stack, "Second", vpc=network.vpc, subnet=network.cluster_subnet,
                          ebs_volumes=[EbsSpec(100, "gp3", name="data")])
    first.mount_on(fleet)
    with pytest.raises(ConfigError, match="Test/Second: mount point='/ebs/data'.*Test/First mounts /ebs/data"):
        second.mount_on(fleet)


def test_layer_works_in_a_plain_vpc_with_isolated_subnets() -> None:
    from aws_cdk import aws_ec2 as ec2

    stack = new_stack()
    isolated = ec2.SubnetConfiguration(name="Iso", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
    vpc = ec2.Vpc(stack, "Plain", max_azs=2, nat_gateways=0, restrict_default_security_group=False,
                  subnet_configuration=[isolated])
    StorageLayer(stack, "Storage", vpc=vpc, lustre=LustreSpec(), efs=EfsSpec(), ebs_volumes=[EbsSpec(100, "gp3")])
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::EFS::MountTarget", 2)
    template.resource_count_is("AWS::FSx::FileSystem", 1)


def test_layer_with_bucket_works_in_a_plain_app_without_cdk_json_flags() -> None:
    from aws_cdk import App
    from aws_cdk import aws_ec2 as ec2

    stack = Stack(App(), "Plain")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2)
    storage = StorageLayer(stack, "Storage", vpc=vpc, bucket=True)
    assert storage.bucket is not None and storage.log_bucket is not None
    Template.from_stack(stack).has_resource_properties("AWS::S3::Bucket", {
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}})


def test_fleet_waits_for_the_efs_mount_targets(mounted: Any) -> None:
    _, _, _, template = mounted
    (group,) = _by_type(template, "AWS::AutoScaling::AutoScalingGroup").values()
    targets = set(_by_type(template, "AWS::EFS::MountTarget"))
    assert targets and targets <= set(group.get("DependsOn", []))


def test_more_than_21_volumes_attached_at_boot_is_refused() -> None:
    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    fleet = ComputeFleet(stack, "Fleet", vpc=network.vpc, subnet=network.cluster_subnet, instance_types=["c7i.large"])
    StorageLayer(stack, "A", vpc=network.vpc, ebs_volumes=[EbsSpec(10, "gp3", name=f"v{i}") for i in range(21)]
                 ).mount_on(fleet)  # /dev/sdf to /dev/sdz
    with pytest.raises(ConfigError, match="at most 21 volumes attached at boot"):
        StorageLayer(stack, "B", vpc=network.vpc, ebs_volumes=[EbsSpec(10, "gp3")]).mount_on(fleet)


def test_a_volume_mounted_in_a_stack_bound_to_an_account_passes_cdk_nag() -> None:
    """Found by `make fuzz`: in a stack with account and Region, cdk-nag names the instance ARN of ec2:AttachVolume
    with concrete values (arn:aws:ec2:us-east-1:111122223333:instance/*), and the acknowledgment must match that."""
    from pathlib import Path

    from aws_cdk import Environment, Validations
    from cdk_nag import AwsSolutionsChecks

    from tests.support import new_app

    app = new_app()
    stack = Stack(app, "Bound", env=Environment(account="111122223333", region="us-east-1"))
    network = HpcNetwork(stack, "Net")
    fleet = ComputeFleet(stack, "Cpu", vpc=network.vpc, instance_types=["c7i.large"], max_capacity=1)
    storage = StorageLayer(stack, "Storage", vpc=network.vpc, ebs_volumes=[EbsSpec(200, "st1", name="data")])
    storage.mount_on(fleet)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    report = json.loads((Path(app.synth().directory) / "validation-report.json").read_text())
    (nag,) = [r for r in report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    assert nag["violations"] == []
    suppressed = [v["ruleName"] for v in nag["suppressedViolations"]]
    assert "AwsSolutions-IAM5[Resource::arn:aws:ec2:us-east-1:111122223333:instance/*]" in suppressed
