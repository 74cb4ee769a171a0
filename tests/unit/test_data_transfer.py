"""DataTransferLayer's resources: DataSync locations and tasks, Direct Connect, Snowball import, the landing
bucket, and the IAM around them. One app with every kind of location is synthesized once per module."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.assertions import Template
from hypothesis import strategies as st

from hpc_constructs import (
    BucketSpec,
    ConfigError,
    DataSyncLocation,
    DataSyncTaskSpec,
    DataTransferLayer,
    DirectConnectSpec,
    EfsSpec,
    HpcNetwork,
    LustreDataRepository,
    LustreSpec,
    SnowballImportSpec,
    StorageLayer,
)
from hpc_constructs.nag import flatten_cfn_reference
from tests.cfn_lint import findings
from tests.support import hypothesis_outcomes, new_app, new_stack

AGENT = "arn:aws:datasync:us-east-1:111122223333:agent/agent-0123456789abcdef0"
ENV = {"account": "111122223333", "region": "us-east-1"}


def _storage(stack: Stack, network: HpcNetwork, **props: Any) -> StorageLayer:
    defaults: dict[str, Any] = {"bucket": True, "efs": EfsSpec(), "lustre": LustreSpec(
        deployment_type="PERSISTENT_2", storage_capacity_gib=2400, per_unit_storage_throughput=250,
        data_repositories=(LustreDataRepository("/data"),))}
    defaults.update(props)
    return StorageLayer(stack, "Storage", vpc=network.vpc, **defaults)


@pytest.fixture(scope="module")
def full() -> tuple[DataTransferLayer, dict[str, Any]]:
    """Every kind of location, a scheduled and filtered task, an Enhanced task, Direct Connect with a VIF,
    Snowball with a KMS key; synthesized with cdk-nag on (a finding would fail the synth)."""
    from aws_cdk import Validations
    from cdk_nag import AwsSolutionsChecks

    app = new_app()
    stack = Stack(app, "Transfer", env=ENV)
    network = HpcNetwork(stack, "Net")
    storage = _storage(stack, network)
    secret = secretsmanager.Secret.from_secret_name_v2(stack, "SmbSecret", "smb-credentials")
    nfs = DataSyncLocation.nfs("nfs.example.com", "/exports/genomics", [AGENT])
    layer = DataTransferLayer(stack, "DataTransfer", vpc=network.vpc, storage=storage, datasync_tasks=[
        DataSyncTaskSpec(nfs, DataSyncLocation.s3(prefix="/genomics/"), name="genomics",
                         schedule="cron(0 2 * * ? *)", excludes=("*.tmp", "*/.snapshot"), includes=("/run*",)),
        DataSyncTaskSpec(nfs, DataSyncLocation.fsx_lustre(storage, "/scratch"), name="to-lustre",
                         log_retention_days=30),
        DataSyncTaskSpec(DataSyncLocation.s3(prefix="/genomics/"), DataSyncLocation.efs(storage, "/home"),
                         name="to-efs"),
        DataSyncTaskSpec(DataSyncLocation.smb("win.example.com", "/share/x", "svc", "CORP", secret, [AGENT],
                                              password_field="password"),
                         DataSyncLocation.s3(prefix="/windows/"), name="windows", task_mode="ENHANCED"),
    ], direct_connect=DirectConnectSpec(amazon_side_asn=64_512, connection_id="dxcon-fgab1234", vlan=101,
                                        customer_asn=65_000, allowed_prefixes=("10.0.0.0/8",), port_speed_gbps=10),
        snowball_import=SnowballImportSpec(kms_key=True))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    template = app.synth().get_stack_by_name("Transfer").template
    return layer, template


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _one(template: dict[str, Any], kind: str, **where: Any) -> tuple[str, dict[str, Any]]:
    matches = [(k, v) for k, v in _of_type(template, kind).items()
               if all(v.get("Properties", {}).get(p) == value for p, value in where.items())]
    assert len(matches) == 1, (kind, where, [k for k, _ in matches])
    return matches[0]


def _policy_of_role(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    statements = []
    for policy in _of_type(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_attributes_are_keyed_by_name(full: tuple[DataTransferLayer, dict[str, Any]]) -> None:
    layer, _ = full
    assert sorted(layer.tasks) == ["genomics", "to-efs", "to-lustre", "windows"]
    assert sorted(layer.locations) == ["efs:Storage:/home/", "fsx_lustre:Storage:/scratch/",
                                       "nfs:nfs.example.com:/exports/genomics/", "s3:landing:/genomics/",
                                       "s3:landing:/windows/", "smb:win.example.com:/share/x/"]
    assert layer.landing_bucket is not None and layer.landing is None  # the storage's bucket, not a new one
    assert layer.direct_connect_gateway is not None and layer.vpn_gateway is not None
    assert layer.virtual_interface is not None and layer.snowball_import_role is not None
    assert layer.security_group is not None and layer.connections.security_groups == [layer.security_group]


def test_the_landing_bucket_is_the_storage_bucket(full: tuple[DataTransferLayer, dict[str, Any]]) -> None:
    layer, template = full
    assert len(_of_type(template, "AWS::S3::Bucket")) == 2  # the storage's bucket and its access-log bucket
    bucket_id = Stack.of(layer).resolve(layer.landing_bucket.bucket_arn)["Fn::GetAtt"][0]  # type: ignore[union-attr]
    for location in _of_type(template, "AWS::DataSync::LocationS3").values():
        assert location["Properties"]["S3BucketArn"] == {"Fn::GetAtt": [bucket_id, "Arn"]}


def test_each_s3_location_has_its_own_least_privilege_role(full: tuple[DataTransferLayer, dict[str, Any]]) -> None:
    _, template = full
    _, genomics = _one(template, "AWS::DataSync::LocationS3", Subdirectory="/genomics/")
    _, windows = _one(template, "AWS::DataSync::LocationS3", Subdirectory="/windows/")
    roles = [loc["Properties"]["S3Config"]["BucketAccessRoleArn"]["Fn::GetAtt"][0] for loc in (genomics, windows)]
    assert roles[0] != roles[1]
    statements = _policy_of_role(template, roles[0])
    resources = {flatten_cfn_reference(r) for s in statements for r in
                 (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])}
    assert resources == {"<StorageBucket5CB7C8EA.Arn>", "<StorageBucket5CB7C8EA.Arn>/genomics/*"}
    by_resource = {flatten_cfn_reference(s["Resource"]): sorted(s["Action"]) for s in statements}
    assert by_resource["<StorageBucket5CB7C8EA.Arn>"] == ["s3:GetBucketLocation", "s3:ListBucket",
                                                          "s3:ListBucketMultipartUploads"]
    # /genomics/ is a destination (from NFS) and a source (to EFS): read and write, under its prefix only.
    assert by_resource["<StorageBucket5CB7C8EA.Arn>/genomics/*"] == sorted([
        "s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:GetObjectTagging", "s3:GetObjectVersion",
        "s3:GetObjectVersionTagging", "s3:ListMultipartUploadParts", "s3:PutObject", "s3:PutObjectTagging"])
    trust = template["Resources"][roles[0]]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [{"Action": "sts:AssumeRole", "Effect": "Allow",
                      "Principal": {"Service": "datasync.amazonaws.com"},
                      "Condition": {"StringEquals": {"aws:SourceAccount": "111122223333"},
                                    "ArnLike": {"aws:SourceArn": "arn:aws:datasync:us-east-1:111122223333:*"}}}]


def test_every_policy_wildcard_is_scoped_and_acknowledged(full: tuple[DataTransferLayer, dict[str, Any]]) -> None:
    """No statement of this layer has a bare '*' resource; every other wildcard is an object ARN under one
    bucket, and the synth (cdk-nag on) passed, so each one is acknowledged with a reason."""
    layer, template = full
    prefix = "DataTransfer"
    for policy_id, policy in _of_type(template, "AWS::IAM::Policy").items():
        if not policy_id.startswith(prefix):
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            listed = statement["Resource"]
            for resource in listed if isinstance(listed, list) else [listed]:
                flat = flatten_cfn_reference(resource)
                assert flat != "*", (policy_id, statement)
                if "*" in flat:
                    assert flat.startswith("<StorageBucket5CB7C8EA.Arn>/") and flat.endswith("*"), flat
    acknowledged = [m for m in layer.node.find_all() for m in m.node.metadata
                    if m.type == "aws:cdk:acknowledged-rules" or "acknowledged" in m.type]
    assert acknowledged and all(all(str(v).strip() for v in m.data.values()) for m in acknowledged)


def test_efs_location_uses_tls_an_iam_role_and_opens_nfs_only(
        full: tuple[DataTransferLayer, dict[str, Any]]) -> None:
    layer, template = full
    _, location = _one(template, "AWS::DataSync::LocationEFS")
    props = location["Properties"]
    assert props["InTransitEncryption"] == "TLS1_2" and props["Subdirectory"] == "/home/"
    role_id = props["FileSystemAccessRoleArn"]["Fn::GetAtt"][0]
    (statement,) = _policy_of_role(template, role_id)
    assert sorted(statement["Action"]) == ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientRootAccess",
                                           "elasticfilesystem:ClientWrite"]
    assert statement["Condition"] == {"Bool": {"elasticfilesystem:AccessedViaMountTarget": "true"}}
    group = Stack.of(layer).resolve(layer.security_group.security_group_id)  # type: ignore[union-attr]
    nfs_in = [r["Properties"] for r in _of_type(template, "AWS::EC2::SecurityGroupIngress").values()
              if r["Properties"].get("SourceSecurityGroupId") == group and r["Properties"].get("FromPort") == 2049]
    nfs_out = [r["Properties"] for r in _of_type(template, "AWS::EC2::SecurityGroupEgress").values()
               if r["Properties"]["GroupId"] == group and r["Properties"].get("FromPort") == 2049]
    assert len(nfs_in) == 1 and len(nfs_out) == 1
    assert set(location.get("DependsOn", [])) >= {k for k, v in template["Resources"].items()
                                                  if v["Type"] == "AWS::EFS::MountTarget"}


def test_lustre_location_opens_the_lustre_ports_both_ways(full: tuple[DataTransferLayer, dict[str, Any]]) -> None:
    layer, template = full
    _, location = _one(template, "AWS::DataSync::LocationFSxLustre")
    group = Stack.of(layer).resolve(layer.security_group.security_group_id)  # type: ignore[union-attr]
    assert location["Properties"]["Subdirectory"] == "/scratch/"
    ports = {(r["Type"].rsplit("::", 1)[1], r["Properties"]["FromPort"], r["Properties"]["ToPort"])
             for r in template["Resources"].values()
             if r["Type"] in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress")
             and group in (r["Properties"].get("GroupId"), r["Properties"].get("SourceSecurityGroupId"),
                           r["Properties"].get("DestinationSecurityGroupId"))}
    assert {("SecurityGroupIngress", 988, 988), ("SecurityGroupIngress", 1018, 1023),
            ("SecurityGroupEgress", 988, 988), ("SecurityGroupEgress", 1018, 1023)} <= ports
    assert {p for _, p, _ in ports} == {988, 1018, 2049}  # nothing else is open
    sg = template["Resources"][group["Fn::GetAtt"][0]]["Properties"]
    assert sg["SecurityGroupEgress"][0]["CidrIp"] == "255.255.255.255/32"  # CDK's "no egress" placeholder


def test_tasks_log_keep_deleted_files_and_verify(full: tuple[DataTransferLayer, dict[str, Any]]) -> None:
    _, template = full
    _, task = _one(template, "AWS::DataSync::Task", Name="genomics")
    props = task["Properties"]
    assert props["Options"] == {"LogLevel": "BASIC", "OverwriteMode": "ALWAYS", "PreserveDeletedFiles": "PRESERVE",
                                "TransferMode": "CHANGED", "VerifyMode": "ONLY_FILES_TRANSFERRED"}
    assert props["Schedule"] == {"ScheduleExpression": "cron(0 2 * * ? *)", "Status": "ENABLED"}
    assert props["Includes"] == [{"FilterType": "SIMPLE_PATTERN", "Value": "/run*"}]
    assert props["Excludes"] == [{"FilterType": "SIMPLE_PATTERN", "Value": "*.tmp|*/.snapshot"}]
    assert props["TaskMode"] == "BASIC"
    group_id = props["CloudWatchLogGroupArn"]["Fn::GetAtt"][0]
    group = template["Resources"][group_id]
    assert group["Properties"]["RetentionInDays"] == 90 and group["DeletionPolicy"] == "Retain"
    _, lustre_task = _one(template, "AWS::DataSync::Task", Name="to-lustre")
    assert template["Resources"][lustre_task["Properties"]["CloudWatchLogGroupArn"]["Fn::GetAtt"][0]][
        "Properties"]["RetentionInDays"] == 30
    (policy_id, policy), = _of_type(template, "AWS::Logs::ResourcePolicy").items()
    document = json.loads(policy["Properties"]["PolicyDocument"])
    (statement,) = document["Statement"]
    assert statement["Principal"] == {"Service": "datasync.amazonaws.com"}
    assert sorted(statement["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    # One prefix, not one ARN per task: a Region holds 10 resource policies of 5,120 characters at most.
    # CloudFormation names the tasks' log groups <stack>-<logical ID>-<suffix>.
    assert statement["Resource"] == "arn:aws:logs:us-east-1:111122223333:log-group:Transfer-*"
    assert group_id not in json.dumps(document)
    assert set(statement["Condition"]) == {"ArnLike", "StringEquals"}  # the conditions stay
    assert policy_id in task["DependsOn"]


def test_the_log_policy_does_not_grow_with_the_tasks() -> None:
    """Each task's log group was listed in the policy; the prefix keeps it one size for 1 task or 40."""
    from aws_cdk import Stack
    from aws_cdk.assertions import Template

    from hpc_constructs import DataSyncLocation, DataSyncTaskSpec, DataTransferLayer, HpcNetwork
    from tests.support import new_app

    sizes = []
    for count in (1, 40):
        stack = Stack(new_app(), "Transfer", env={"account": "111122223333", "region": "us-east-1"})
        network = HpcNetwork(stack, "Net")
        tasks = [DataSyncTaskSpec(DataSyncLocation.s3(prefix=f"/in{i}/"), DataSyncLocation.s3(prefix=f"/out{i}/"),
                                  name=f"t{i}") for i in range(count)]
        DataTransferLayer(stack, "DataTransfer", vpc=network.vpc, landing_bucket=True, datasync_tasks=tasks)
        (policy,) = [r for r in Template.from_stack(stack).to_json()["Resources"].values()
                     if r["Type"] == "AWS::Logs::ResourcePolicy"]
        sizes.append(len(json.dumps(policy["Properties"]["PolicyDocument"])))
    assert sizes[0] == sizes[1] < 5_120


def test_enhanced_tasks_log_to_datasyncs_own_group(full: tuple[DataTransferLayer, dict[str, Any]]) -> None:
    _, template = full
    _, task = _one(template, "AWS::DataSync::Task", Name="windows")
    assert task["Properties"]["TaskMode"] == "ENHANCED"
    assert flatten_cfn_reference(task["Properties"]["CloudWatchLogGroupArn"]).endswith(":log-group:/aws/datasync:*")


def test_smb_password_is_resolved_from_secrets_manager(full: tuple[DataTransferLayer, dict[str, Any]]) -> None:
    _, template = full
    _, location = _one(template, "AWS::DataSync::LocationSMB")
    password = location["Properties"]["Password"]
    assert password == ("{{resolve:secretsmanager:arn:aws:secretsmanager:us-east-1:111122223333:secret:"
                        "smb-credentials:SecretString:password::}}")
    assert location["Properties"]["AgentArns"] == [AGENT] and location["Properties"]["User"] == "svc"


def test_direct_connect_gateway_vgw_association_and_vif(full: tuple[DataTransferLayer, dict[str, Any]]) -> None:
    _, template = full
    gateway_id, gateway = _one(template, "AWS::DirectConnect::DirectConnectGateway")
    assert gateway["Properties"]["AmazonSideAsn"] == "64512"
    vgw_id, vgw = _one(template, "AWS::EC2::VPNGateway")
    assert vgw["Properties"]["Type"] == "ipsec.1"
    attachment_id, _ = _one(template, "AWS::EC2::VPCGatewayAttachment", VpnGatewayId={"Ref": vgw_id})
    association_id, association = _one(template, "AWS::DirectConnect::DirectConnectGatewayAssociation")
    assert association["Properties"] == {
        "DirectConnectGatewayId": {"Fn::GetAtt": [gateway_id, "DirectConnectGatewayId"]},
        "AssociatedGatewayId": {"Fn::GetAtt": [vgw_id, "VPNGatewayId"]},
        "AllowedPrefixesToDirectConnectGateway": ["10.0.0.0/8"]}
    assert attachment_id in association["DependsOn"]
    _, propagation = _one(template, "AWS::EC2::VPNGatewayRoutePropagation")
    private_tables = {k for k, v in template["Resources"].items()
                      if v["Type"] == "AWS::EC2::RouteTable" and "Private" in k}
    assert {t["Ref"] for t in propagation["Properties"]["RouteTableIds"]} == private_tables
    assert {attachment_id, association_id} <= set(propagation["DependsOn"])
    _, vif = _one(template, "AWS::DirectConnect::PrivateVirtualInterface")
    assert vif["Properties"]["ConnectionId"] == "dxcon-fgab1234" and vif["Properties"]["Vlan"] == 101
    assert vif["Properties"]["BgpPeers"] == [{"AddressFamily": "ipv4", "Asn": "65000"}]
    assert vif["Properties"]["DirectConnectGatewayId"] == {"Fn::GetAtt": [gateway_id, "DirectConnectGatewayId"]}


def test_snowball_role_key_and_command(full: tuple[DataTransferLayer, dict[str, Any]]) -> None:
    layer, template = full
    role_id = Stack.of(layer).resolve(layer.snowball_import_role.role_arn)["Fn::GetAtt"][0]  # type: ignore[union-attr]
    role = template["Resources"][role_id]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "importexport.amazonaws.com"}
    statements = _policy_of_role(template, role_id)
    flat = {flatten_cfn_reference(s["Resource"]) for s in statements}
    assert flat == {"<StorageBucket5CB7C8EA.Arn>", "<StorageBucket5CB7C8EA.Arn>/*", "<DataTransferSnowballKey"
                    + flat_key(template) + ".Arn>"}
    key = next(v for v in _of_type(template, "AWS::KMS::Key").values())
    assert key["Properties"]["EnableKeyRotation"] is True and key["DeletionPolicy"] == "Retain"
    (output,) = [v for k, v in template["Outputs"].items() if k.startswith("DataTransferSnowballCreateJobCommand")]
    command = "".join(p if isinstance(p, str) else f"<{p['Fn::GetAtt'][0]}.Arn>"
                      for p in output["Value"]["Fn::Join"][1])
    assert command.startswith("aws snowball create-job --job-type IMPORT --resources "
                              "'{\"S3Resources\":[{\"BucketArn\":\"<StorageBucket5CB7C8EA.Arn>\"}]}'")
    assert f"--role-arn <{role_id}.Arn>" in command and "--kms-key-arn <DataTransferSnowballKey" in command


def flat_key(template: dict[str, Any]) -> str:
    (key_id,) = _of_type(template, "AWS::KMS::Key")
    return str(key_id).removeprefix("DataTransferSnowballKey")


def test_full_template_passes_cfn_lint(full: tuple[DataTransferLayer, dict[str, Any]]) -> None:
    _, template = full
    assert [f for f in findings(template) if not f.startswith("W3010")] == []


def test_figures_name_each_way_in(full: tuple[DataTransferLayer, dict[str, Any]]) -> None:
    layer, _ = full
    assert layer.figures["direct connect"].startswith("10 Gbps port dxcon-fgab1234, VLAN 101")  # type: ignore[union-attr]
    genomics = str(layer.figures["datasync genomics"])
    assert "NFS nfs.example.com:/exports/genomics/ -> S3 landing bucket /genomics/ (at /fsx/data/genomics/" in genomics
    assert "cron 0 2 * * ? * (UTC)" in genomics
    assert "V3_5S" in str(layer.figures["snowball import"])


# -- the landing bucket, alone ----------------------------------------------------------------------


def test_without_storage_a_secure_landing_bucket_is_made_and_retained() -> None:
    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    layer = DataTransferLayer(stack, "In", vpc=network.vpc, snowball_import=True)
    assert layer.landing is not None and layer.landing_bucket is layer.landing.bucket
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::S3::Bucket", 2)  # the landing bucket and its access logs
    template.has_resource("AWS::S3::Bucket", {"DeletionPolicy": "Retain", "Properties": {
        "VersioningConfiguration": {"Status": "Enabled"},
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                           "IgnorePublicAcls": True, "RestrictPublicBuckets": True}}})


def test_a_bucket_spec_or_a_given_bucket_or_none() -> None:
    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    storage = StorageLayer(stack, "Storage", vpc=network.vpc, bucket=True)
    own = DataTransferLayer(stack, "Own", vpc=network.vpc, storage=storage,
                            landing_bucket=BucketSpec(access_logs=False))
    assert own.landing is not None and own.landing_bucket is not storage.bucket
    given = s3.Bucket.from_bucket_name(stack, "Given", "my-landing")
    assert DataTransferLayer(stack, "Given2", vpc=network.vpc, landing_bucket=given).landing_bucket is given
    assert DataTransferLayer(stack, "None", vpc=network.vpc, landing_bucket=False).landing_bucket is None


# -- ConfigErrors the layer raises (beyond the pure rules) ----------------------------------------------


def _layer(**props: Any) -> DataTransferLayer:
    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    storage = props.pop("storage", None)
    if storage == "efs-only":
        storage = StorageLayer(stack, "Storage", vpc=network.vpc, efs=EfsSpec())
    return DataTransferLayer(stack, "In", vpc=props.pop("vpc", network.vpc), storage=storage, **props)


def test_snowball_without_a_landing_bucket_is_refused() -> None:
    with pytest.raises(ConfigError, match="Test/In: snowball_import="):
        _layer(landing_bucket=False, snowball_import=True)


def test_an_s3_location_without_bucket_needs_the_landing_bucket() -> None:
    task = DataSyncTaskSpec(DataSyncLocation.nfs("f.example.com", "/x", [AGENT]), DataSyncLocation.s3())
    with pytest.raises(ConfigError, match=r"datasync_tasks\[0\].destination.bucket="):
        _layer(landing_bucket=False, datasync_tasks=[task])


def test_lustre_location_on_storage_without_lustre_is_refused() -> None:
    task = DataSyncTaskSpec(DataSyncLocation.nfs("f.example.com", "/x", [AGENT]), DataSyncLocation.fsx_lustre("x"))
    with pytest.raises(ConfigError, match=r"datasync_tasks\[0\].destination.storage="):
        _layer(datasync_tasks=[task])


def test_the_same_place_twice_is_refused_however_spelled() -> None:
    task = DataSyncTaskSpec(DataSyncLocation.s3(None, "/data"), DataSyncLocation.s3(None, "data/"))
    with pytest.raises(ConfigError, match=r"datasync_tasks\[0\].destination="):
        _layer(datasync_tasks=[task])


def test_one_name_for_two_places_is_refused() -> None:
    nfs = DataSyncLocation.nfs("f.example.com", "/x", [AGENT])
    tasks = [DataSyncTaskSpec(nfs, DataSyncLocation.s3(None, "/a", name="dest")),
             DataSyncTaskSpec(nfs, DataSyncLocation.s3(None, "/b", name="dest"))]
    with pytest.raises(ConfigError, match=r"datasync_tasks\[1\].destination.name="):
        _layer(datasync_tasks=tasks)


def test_a_vpc_with_a_vpn_gateway_already_is_refused() -> None:
    stack = new_stack()
    vpc = ec2.Vpc(stack, "Vpc", vpn_gateway=True, max_azs=2)
    with pytest.raises(ConfigError, match="Test/In: direct_connect="):
        DataTransferLayer(stack, "In", vpc=vpc, direct_connect=DirectConnectSpec(64_512))


def test_allowed_prefixes_must_cover_the_vpc_cidr() -> None:
    stack = new_stack()
    vpc = ec2.Vpc(stack, "Vpc", ip_addresses=ec2.IpAddresses.cidr("10.1.0.0/16"), max_azs=2)
    with pytest.raises(ConfigError, match=r"direct_connect.allowed_prefixes="):
        DataTransferLayer(stack, "In", vpc=vpc, direct_connect=DirectConnectSpec(64_512,
                                                                                 allowed_prefixes=("10.2.0.0/16",)))


# -- property tests: accepted and cfn-lint clean, or a ConfigError -------------------------------------


def _direct_connect_check(amazon: int, customer: int | None, vlan: int | None, prefix: str | None) -> bool:
    stack = Stack(new_app(), "Dx")
    vpc = ec2.Vpc.from_vpc_attributes(stack, "Vpc", vpc_id="vpc-12345678", availability_zones=["us-east-1a"],
                                      private_subnet_ids=["subnet-1"], private_subnet_route_table_ids=["rtb-1"])
    connection = "dxcon-fgab1234" if customer is not None or vlan is not None else None
    spec = DirectConnectSpec(amazon_side_asn=amazon, connection_id=connection, vlan=vlan, customer_asn=customer,
                             allowed_prefixes=(prefix,) if prefix else ())
    try:
        DataTransferLayer(stack, "In", vpc=vpc, landing_bucket=False, direct_connect=spec)
    except ConfigError:
        return False
    assert findings(Template.from_stack(stack).to_json()) == []
    return True


def test_direct_connect_specs_are_accepted_and_lint_clean_or_refused() -> None:
    asn = st.one_of(st.integers(64_000, 66_000), st.integers(4_199_999_990, 4_294_967_300), st.integers(-5, 5))
    accepted, examples = hypothesis_outcomes(
        _direct_connect_check, max_examples=24, amazon=asn,
        customer=st.one_of(st.none(), st.integers(-2, 4_294_967_300)),
        vlan=st.one_of(st.none(), st.integers(-2, 4_100)),
        prefix=st.one_of(st.none(), st.sampled_from(["10.0.0.0/8", "10.0.0.1/8", "192.168.0.0/16", "x"])))
    assert 0 < accepted < examples, (accepted, examples)


def _schedule_template(expression: str) -> dict[str, Any]:
    """The task the layer makes, with this schedule: accepted schedules must pass cfn-lint as a template."""
    stack = Stack(new_app(), "Sched")
    vpc = ec2.Vpc.from_vpc_attributes(stack, "Vpc", vpc_id="vpc-12345678", availability_zones=["us-east-1a"],
                                      private_subnet_ids=["subnet-1"])
    bucket = s3.Bucket.from_bucket_name(stack, "B", "source-bucket")
    DataTransferLayer(stack, "In", vpc=vpc, landing_bucket=False, datasync_tasks=[
        DataSyncTaskSpec(DataSyncLocation.s3(bucket, "/a"), DataSyncLocation.s3(bucket, "/b"), schedule=expression)])
    return Template.from_stack(stack).to_json()


@pytest.fixture(scope="module")
def schedule_template() -> dict[str, Any]:
    return _schedule_template("rate(1 hour)")


def test_schedules_are_accepted_and_lint_clean_or_refused(schedule_template: dict[str, Any]) -> None:
    from hpc_constructs.datasync import check_schedule

    def check(expression: str) -> bool:
        try:
            check_schedule("P", "schedule", expression)
        except ConfigError:
            return False
        template = json.loads(json.dumps(schedule_template))
        (task,) = _of_type(template, "AWS::DataSync::Task").values()
        task["Properties"]["Schedule"]["ScheduleExpression"] = expression
        assert findings(template) == [], expression
        return True

    field = st.one_of(st.sampled_from(["*", "?", "0", "5", "*/15", "1-5", "MON", "JAN", "L", "2#3", "0,30"]),
                      st.integers(0, 70).map(str))
    cron = st.lists(field, min_size=5, max_size=7).map(lambda f: f"cron({' '.join(f)})")
    rate = st.tuples(st.integers(0, 120), st.sampled_from(["minute", "minutes", "hour", "hours", "day", "days"])
                     ).map(lambda r: f"rate({r[0]} {r[1]})")
    accepted, examples = hypothesis_outcomes(check, max_examples=150, expression=st.one_of(cron, rate))
    assert 0 < accepted < examples, (accepted, examples)
    assert findings(_schedule_template("cron(0 3 ? * SUN *)")) == []  # and one through the construct itself


def test_direct_connect_names_use_only_what_the_api_takes(full: tuple[DataTransferLayer, dict[str, Any]]) -> None:
    """The API takes a-z, 0-9 and hyphens for a virtual interface's name (NewPrivateVirtualInterface); the construct
    path has upper case and '/', which CloudFormation's looser pattern would let through to a deploy failure."""
    import re

    from hpc_constructs.data_transfer import _dx_name

    assert _dx_name("HpcDataTransfer/DataTransfer") == "hpcdatatransfer-datatransfer"
    assert _dx_name("A//B__c") == "a-b-c" and len(_dx_name("X/" * 80)) <= 100
    _, template = full
    names = [r["Properties"][key] for r in template["Resources"].values()
             for key in ("VirtualInterfaceName", "DirectConnectGatewayName") if key in r.get("Properties", {})]
    assert len(names) == 2 and all(re.fullmatch(r"[a-z0-9-]{1,100}", n) for n in names), names


# -- IAM propagation before DataSync assumes a new role ----------------------------------------------------------

def test_each_role_assuming_location_waits_for_its_role_to_propagate(
        full: tuple[DataTransferLayer, dict[str, Any]]) -> None:
    """S3 and EFS locations: DataSync assumes the role as it creates the location, so each waits (a custom resource
    that depends on the role and its policy) for DATASYNC.role_propagation_wait_seconds; one function serves all."""
    from hpc_constructs.catalog.limits import DATASYNC
    from hpc_constructs.iam_wait import RESOURCE_TYPE

    _, template = full
    resources = template["Resources"]
    waits = _of_type(template, RESOURCE_TYPE)
    role_locations = {**_of_type(template, "AWS::DataSync::LocationS3"),
                      **_of_type(template, "AWS::DataSync::LocationEFS")}
    assert role_locations and len(waits) == len(role_locations)
    functions = {w["Properties"]["ServiceToken"]["Fn::GetAtt"][0] for w in waits.values()}
    assert len(functions) == 1 and resources[functions.pop()]["Type"] == "AWS::Lambda::Function"
    for location in role_locations.values():
        role_arn = (location["Properties"].get("S3Config", {}).get("BucketAccessRoleArn")
                    or location["Properties"].get("FileSystemAccessRoleArn"))
        role = role_arn["Fn::GetAtt"][0]
        (wait,) = [k for k in location["DependsOn"] if k in waits]
        assert waits[wait]["Properties"]["Seconds"] == str(DATASYNC.role_propagation_wait_seconds)
        assert waits[wait]["Properties"]["RoleArns"] == [role_arn]
        policies = [k for k, p in _of_type(template, "AWS::IAM::Policy").items()
                    if {"Ref": role} in p["Properties"]["Roles"]]
        assert {role, *policies} <= set(waits[wait]["DependsOn"])


class _CloudFormationEndpoint:
    """A loopback HTTP server standing in for the pre-signed S3 URL where CloudFormation reads a custom resource's
    answer."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.answers: list[dict[str, Any]] = []
        answers = self.answers

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                answers.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/answer"

    def close(self) -> None:
        self.server.shutdown()


@pytest.mark.parametrize(("request_type", "seconds", "status", "least"), [
    ("Create", "1", "SUCCESS", 1.0), ("Update", "1", "SUCCESS", 1.0), ("Delete", "1", "SUCCESS", 0.0),
    ("Create", "soon", "FAILED", 0.0)])
def test_the_wait_function_sleeps_then_answers_cloudformation(request_type: str, seconds: str, status: str,
                                                               least: float) -> None:
    """The inline handler, run here: it sleeps on Create and Update, never on Delete, and always answers (a
    custom resource that never answers holds the stack for an hour)."""
    import time

    from hpc_constructs.iam_wait import HANDLER

    namespace: dict[str, Any] = {}
    exec(compile(HANDLER, "index.py", "exec"), namespace)  # the function's own source
    endpoint = _CloudFormationEndpoint()
    try:
        started = time.monotonic()
        namespace["handler"]({"RequestType": request_type, "ResponseURL": endpoint.url, "StackId": "stack",
                              "RequestId": "r-1", "LogicalResourceId": "RoleWait",
                              "ResourceProperties": {"Seconds": seconds}}, None)
        elapsed = time.monotonic() - started
    finally:
        endpoint.close()
    (answer,) = endpoint.answers
    assert answer["Status"] == status and answer["RequestId"] == "r-1" and answer["PhysicalResourceId"] == "RoleWait"
    assert least <= elapsed < least + 5


def test_a_wait_outside_what_a_function_can_sleep_is_refused() -> None:
    from aws_cdk import aws_iam as iam

    from hpc_constructs.iam_wait import IamPropagationWait

    stack = new_stack()
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("datasync.amazonaws.com"))
    for seconds in (0, 601, True):
        with pytest.raises(ConfigError, match="seconds"):
            IamPropagationWait(stack, f"Wait{seconds!s}", roles=[role], seconds=seconds)  # type: ignore[arg-type]
    for seconds in (1, 600):  # the bounds themselves are accepted, and the function is told them
        assert IamPropagationWait(stack, f"Wait{seconds}", roles=[role], seconds=seconds).seconds == seconds
    waits = Template.from_stack(stack).find_resources("Custom::HpcIamPropagationWait")
    assert sorted(int(w["Properties"]["Seconds"]) for w in waits.values()) == [1, 600]
