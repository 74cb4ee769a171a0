"""HaInstance's resources: the group of one over two AZs with its lifecycle hooks, the data volume, each address
kind, the snapshot schedules, the boot role statement by statement, clients admitted with allow_from, and a
StorageLayer mounted on it. One app of three stacks is synthesized once per module with cdk-nag on (a finding fails
the synth) and linted with cfn-lint."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Stack, Validations
from aws_cdk import aws_ec2 as ec2
from cdk_nag import AwsSolutionsChecks

from hpc_constructs import ComputeFleet, ConfigError, EfsSpec, HaInstance, HpcNetwork, StorageLayer, boot
from hpc_constructs.ha_instance import CURRENT_TAG, OWNER_TAG, TAKEN_TAG
from tests.cfn_lint import findings
from tests.support import new_app, new_stack

ENV = {"account": "111122223333", "region": "us-east-1"}


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _one(template: dict[str, Any], kind: str) -> dict[str, Any]:
    (found,) = _of_type(template, kind).values()
    props: dict[str, Any] = found.get("Properties", {})
    return props


@pytest.fixture(scope="module")
def app() -> dict[str, Any]:
    app = new_app()
    private = Stack(app, "Private", env=ENV)
    network = HpcNetwork(private, "Net", max_azs=2)
    license = HaInstance(private, "License", vpc=network.vpc, ports=[27000, 27001],
                         health_check_command="/opt/flexlm/lmutil lmstat -c 27000@localhost",
                         service_name="lmgrd.service")
    fleet = ComputeFleet(private, "Cpu", vpc=network.vpc, instance_types=["c7i.large"])
    license.allow_from(fleet)
    license.allow_from(fleet)  # a second call adds no second copy of the rules
    StorageLayer(private, "Storage", vpc=network.vpc, efs=EfsSpec()).mount_on(license)

    eni_stack = Stack(app, "Eni", env=ENV)
    eni_net = HpcNetwork(eni_stack, "Net", max_azs=3)
    head = HaInstance(eni_stack, "Head", vpc=eni_net.vpc, address="eni", snapshot_interval_minutes=15,
                      instance_type="t4g.medium")

    public_stack = Stack(app, "Public", env=ENV)
    public_net = HpcNetwork(public_stack, "Net", max_azs=2)
    viz = HaInstance(public_stack, "Viz", vpc=public_net.vpc,
                     vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC), ports=[8443])
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    assembly = app.synth()
    return {
        "license": license, "head": head, "viz": viz, "fleet": fleet,
        "private": assembly.get_stack_by_name("Private").template,
        "eni": assembly.get_stack_by_name("Eni").template,
        "public": assembly.get_stack_by_name("Public").template,
    }


def _statements(template: dict[str, Any], role_fragment: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for policy in _of_type(template, "AWS::IAM::Policy").values():
        roles = json.dumps(policy["Properties"]["Roles"])
        if role_fragment in roles:
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                out[statement.get("Sid", json.dumps(statement["Action"]))] = statement
    return out


def _resources(statement: dict[str, Any]) -> list[str]:
    resources = statement["Resource"]
    return [json.dumps(r) for r in (resources if isinstance(resources, list) else [resources])]


# -- the group of one, its hooks and its instance -------------------------------------------------------------

def test_one_instance_over_two_azs_replaced_by_terminate_and_launch(app: dict[str, Any]) -> None:
    template = app["private"]
    (group,) = [g["Properties"] for k, g in _of_type(template, "AWS::AutoScaling::AutoScalingGroup").items()
                if k.startswith("License")]
    assert group["MinSize"] == group["MaxSize"] == group["DesiredCapacity"] == "1"
    zones = {json.dumps(template["Resources"][s["Ref"]]["Properties"]["AvailabilityZone"])
             for s in group["VPCZoneIdentifier"]}
    assert len(zones) == 2
    assert group["InstanceMaintenancePolicy"] == {"MinHealthyPercentage": 0, "MaxHealthyPercentage": 100}
    assert group["HealthCheckType"] == "EC2" and group["HealthCheckGracePeriod"] == 0


def test_lifecycle_hooks_are_part_of_the_group_from_its_first_instance(app: dict[str, Any]) -> None:
    template = app["private"]
    assert not _of_type(template, "AWS::AutoScaling::LifecycleHook")
    (group,) = [g["Properties"] for k, g in _of_type(template, "AWS::AutoScaling::AutoScalingGroup").items()
                if k.startswith("License")]
    hooks = {h["LifecycleTransition"]: h for h in group["LifecycleHookSpecificationList"]}
    launch, terminate = hooks["autoscaling:EC2_INSTANCE_LAUNCHING"], hooks["autoscaling:EC2_INSTANCE_TERMINATING"]
    assert (launch["HeartbeatTimeout"], launch["DefaultResult"]) == (900, "ABANDON")
    assert (terminate["HeartbeatTimeout"], terminate["DefaultResult"]) == (300, "CONTINUE")


def test_instance_requires_imdsv2_with_hop_limit_1_and_carries_the_owner_tag(app: dict[str, Any]) -> None:
    (template,) = [t["Properties"]["LaunchTemplateData"] for k, t in
                   _of_type(app["private"], "AWS::EC2::LaunchTemplate").items() if k.startswith("License")]
    assert template["MetadataOptions"] == {"HttpTokens": "required", "HttpPutResponseHopLimit": 1}
    tagged = {spec["ResourceType"]: spec["Tags"] for spec in template["TagSpecifications"]}
    for kind in ("instance", "volume", "network-interface"):
        assert {"Key": OWNER_TAG, "Value": "Private/License"} in tagged[kind]
    assert all(m["Ebs"]["Encrypted"] for m in template["BlockDeviceMappings"])


def test_boot_runs_the_volume_then_the_address_then_the_watchers(app: dict[str, Any]) -> None:
    user_data = Stack.of(app["license"]).resolve(app["license"].user_data.render())
    text = user_data if isinstance(user_data, str) else json.dumps(user_data)
    steps = [text.index(s) for s in ("hpc-ha-volume attach", "hpc-ha-address take",
                                     "enable --now hpc-ha-lifecycle.service hpc-ha-health.timer")]
    assert steps == sorted(steps)
    assert text.count("HPC_FAILED_STEPS=()") == 1  # mount_on reused the prelude instead of adding a second
    assert text.index("hpc-ha-health.timer") < text.index("Private/Storage")  # the user's steps come after ours
    scripts = boot.packed_scripts(text.replace("\\n", "\n"))
    assert set(scripts) >= {"hpc-ha-volume", "hpc-ha-address", "hpc-ha-lifecycle"}
    assert "HPC_HA_HEALTH_COMMAND='/opt/flexlm/lmutil lmstat -c 27000@localhost'" in text
    assert "HPC_HA_SERVICE='lmgrd.service'" in text


# -- the data volume ---------------------------------------------------------------------------------------------

def test_data_volume_is_encrypted_retained_and_tagged_generation_0(app: dict[str, Any]) -> None:
    (volume,) = [v for k, v in _of_type(app["private"], "AWS::EC2::Volume").items() if k.startswith("License")]
    assert volume["DeletionPolicy"] == volume["UpdateReplacePolicy"] == "Retain"
    props = volume["Properties"]
    assert props["Encrypted"] is True and props["VolumeType"] == "gp3" and props["Size"] == 20
    tags = {t["Key"]: t["Value"] for t in props["Tags"]}
    assert tags == {OWNER_TAG: "Private/License", "hpc-constructs:ha-generation": "0", CURRENT_TAG: "Private/License"}


def test_hourly_snapshots_are_a_dlm_policy_on_the_current_volume_only(app: dict[str, Any]) -> None:
    policy = _one(app["private"], "AWS::DLM::LifecyclePolicy")
    details = policy["PolicyDetails"]
    assert details["TargetTags"] == [{"Key": CURRENT_TAG, "Value": "Private/License"}]
    (schedule,) = details["Schedules"]
    assert schedule["CreateRule"] == {"Interval": 1, "IntervalUnit": "HOURS"}
    assert schedule["RetainRule"] == {"Count": 48} and schedule["CopyTags"] is True
    assert not _of_type(app["private"], "AWS::Scheduler::Schedule")


def test_sub_hour_snapshots_are_a_scheduler_rate_running_the_snapshot_document(app: dict[str, Any]) -> None:
    template = app["eni"]
    schedule = _one(template, "AWS::Scheduler::Schedule")
    assert schedule["ScheduleExpression"] == "rate(15 minutes)"
    assert schedule["Target"]["Arn"] == "arn:aws:scheduler:::aws-sdk:ssm:sendCommand"
    target = json.dumps(schedule["Target"]["Input"])
    assert f"tag:{OWNER_TAG}" in target and "Eni/Head" in target
    document = _one(template, "AWS::SSM::Document")
    assert document["Content"]["mainSteps"][0]["inputs"]["runCommand"] == [
        "/usr/local/sbin/hpc-ha-volume snapshot scheduled"]
    assert not _of_type(template, "AWS::DLM::LifecyclePolicy")
    statements = _statements(template, "HeadScheduleRole")
    assert statements["OnItsInstanceOnly"]["Condition"] == {
        "StringEquals": {f"ssm:resourceTag/{OWNER_TAG}": "Eni/Head"}}
    assert statements["RunTheSnapshotDocument"]["Action"] == "ssm:SendCommand"
    assert "HeadSnapshotDocument" in json.dumps(statements["RunTheSnapshotDocument"]["Resource"])


# -- addresses --------------------------------------------------------------------------------------------------

def test_private_default_is_a_record_in_a_private_zone_of_the_vpc(app: dict[str, Any]) -> None:
    zone = _one(app["private"], "AWS::Route53::HostedZone")
    assert zone["Name"] == "hpc.internal." and zone["VPCs"]
    assert app["license"].dns_name == "license.hpc.internal"
    assert not [k for k in _of_type(app["private"], "AWS::EC2::EIP") if k.startswith("License")]


def test_eni_address_is_one_interface_per_az_in_the_instance_group(app: dict[str, Any]) -> None:
    interfaces = _of_type(app["eni"], "AWS::EC2::NetworkInterface")
    assert len(interfaces) == 3
    subnets = {json.dumps(i["Properties"]["SubnetId"]) for i in interfaces.values()}
    assert len(subnets) == 3
    for interface in interfaces.values():
        assert {"Key": OWNER_TAG, "Value": "Eni/Head"} in interface["Properties"]["Tags"]


def test_public_default_is_an_elastic_ip_retained(app: dict[str, Any]) -> None:
    (eip,) = [e for k, e in _of_type(app["public"], "AWS::EC2::EIP").items() if k.startswith("Viz")]
    assert eip["DeletionPolicy"] == "Retain" and eip["Properties"]["Domain"] == "vpc"
    assert app["viz"].plan.address == "elastic_ip"


# -- the boot role, statement by statement ----------------------------------------------------------------------

OWNED = {"StringEquals": {f"aws:ResourceTag/{OWNER_TAG}": "Private/License"}}


def test_role_attaches_only_volumes_and_instances_with_its_owner_tag(app: dict[str, Any]) -> None:
    statement = _statements(app["private"], "LicenseRole")["AttachOwnVolumes"]
    assert statement["Action"] == "ec2:AttachVolume" and statement["Condition"] == OWNED
    assert sorted(r.split(":")[-1] for r in _resources(statement)) == ['instance/*"', 'volume/*"']


def test_role_creates_volumes_only_tagged_as_its_own_and_only_from_its_snapshots(app: dict[str, Any]) -> None:
    statements = _statements(app["private"], "LicenseRole")
    tagged = statements["CreateVolumeTagged"]
    assert tagged["Condition"] == {"StringEquals": {f"aws:RequestTag/{OWNER_TAG}": "Private/License"}}
    assert _resources(tagged)[0].endswith('volume/*"')
    source = statements["CreateVolumeFromOwnSnapshots"]
    assert source["Condition"] == OWNED and _resources(source)[0].endswith('::snapshot/*"')


def test_role_snapshots_only_its_volumes_and_deletes_only_snapshots_it_took(app: dict[str, Any]) -> None:
    statements = _statements(app["private"], "LicenseRole")
    assert statements["SnapshotOwnVolumes"]["Condition"] == OWNED
    assert statements["CreateSnapshotTagged"]["Condition"] == {
        "StringEquals": {f"aws:RequestTag/{OWNER_TAG}": "Private/License"}}
    prune = statements["PruneOwnSnapshots"]
    assert prune["Action"] == "ec2:DeleteSnapshot"
    assert prune["Condition"] == {**OWNED, "Null": {f"aws:ResourceTag/{TAKEN_TAG}": "false"}}


def test_role_tags_only_at_creation_or_marks_its_own_volume_superseded(app: dict[str, Any]) -> None:
    statements = _statements(app["private"], "LicenseRole")
    assert statements["TagOnCreate"]["Condition"] == {
        "StringEquals": {"ec2:CreateAction": ["CreateVolume", "CreateSnapshot"]}}
    assert statements["MarkSuperseded"]["Condition"] == {
        **OWNED, "ForAllValues:StringEquals": {"aws:TagKeys": [CURRENT_TAG]}}


def test_role_updates_only_its_record_with_upsert_or_delete(app: dict[str, Any]) -> None:
    statement = _statements(app["private"], "LicenseRole")["UpdateItsRecord"]
    assert statement["Action"] == "route53:ChangeResourceRecordSets"
    assert statement["Condition"] == {"ForAllValues:StringEquals": {
        "route53:ChangeResourceRecordSetsNormalizedRecordNames": ["license.hpc.internal"],
        "route53:ChangeResourceRecordSetsRecordTypes": ["A"],
        "route53:ChangeResourceRecordSetsActions": ["UPSERT", "DELETE"]}}
    (resource,) = _resources(statement)
    assert "hostedzone/" in resource and "LicenseZone" in resource


def test_role_completes_hooks_and_reports_health_only_for_its_own_group(app: dict[str, Any]) -> None:
    statement = _statements(app["private"], "LicenseRole")["LifecycleAndHealth"]
    assert sorted(statement["Action"]) == ["autoscaling:CompleteLifecycleAction", "autoscaling:SetInstanceHealth"]
    assert statement["Condition"] == OWNED
    assert _resources(statement)[0].endswith(':autoScalingGroup:*:autoScalingGroupName/*"')


def test_role_associates_exactly_its_elastic_ip(app: dict[str, Any]) -> None:
    statements = _statements(app["public"], "VizRole")
    (eip,) = _resources(statements["AssociateItsElasticIp"])
    assert "elastic-ip/" in eip and "VizElasticIp" in eip and "AllocationId" in eip
    assert "Condition" not in statements["AssociateItsElasticIp"]
    target = statements["AssociateToOwnInstance"]
    assert target["Condition"] == {"StringEquals": {f"aws:ResourceTag/{OWNER_TAG}": "Public/Viz"}}
    assert "UpdateItsRecord" not in statements and "AttachOwnInterfaces" not in statements


def test_role_attaches_only_its_interfaces(app: dict[str, Any]) -> None:
    statement = _statements(app["eni"], "HeadRole")["AttachOwnInterfaces"]
    assert statement["Action"] == "ec2:AttachNetworkInterface"
    assert statement["Condition"] == {"StringEquals": {f"aws:ResourceTag/{OWNER_TAG}": "Eni/Head"}}


def test_role_has_no_statement_beyond_the_listed_ones(app: dict[str, Any]) -> None:
    """A new statement must come with a test of its own: this list names every one."""
    statements = _statements(app["private"], "LicenseRole")
    efs = {sid for sid in statements if "elasticfilesystem" in sid}  # the mounted StorageLayer's grant
    assert set(statements) - efs == {
        "Describe", "AttachOwnVolumes", "CreateVolumeTagged", "CreateVolumeFromOwnSnapshots", "SnapshotOwnVolumes",
        "CreateSnapshotTagged", "TagOnCreate", "MarkSuperseded", "PruneOwnSnapshots", "LifecycleAndHealth",
        "UpdateItsRecord", '"cloudformation:SignalResource"'}
    assert all(a.split(":")[1].startswith("Describe") for a in statements["Describe"]["Action"])
    signal = statements['"cloudformation:SignalResource"']  # CDK's grant for the group's creation signals
    assert signal["Resource"] == {"Ref": "AWS::StackId"}


# -- clients ------------------------------------------------------------------------------------------------------

def test_allow_from_opens_each_port_once_per_client_group(app: dict[str, Any]) -> None:
    rules = [r["Properties"] for r in _of_type(app["private"], "AWS::EC2::SecurityGroupIngress").values()
             if "to Private/License" in r["Properties"].get("Description", "")]
    assert sorted(r["FromPort"] for r in rules) == [27000, 27001]
    assert all(r["ToPort"] == r["FromPort"] and r["IpProtocol"] == "tcp" for r in rules)
    assert all("CpuSecurityGroup" in json.dumps(r["SourceSecurityGroupId"]) for r in rules)


def test_allow_from_without_ports_is_refused() -> None:
    stack = new_stack()
    net = HpcNetwork(stack, "Net", max_azs=2)
    head = HaInstance(stack, "Head", vpc=net.vpc)
    with pytest.raises(ConfigError, match="ports"):
        head.allow_from(ComputeFleet(stack, "Cpu", vpc=net.vpc, instance_types=["c7i.large"]))


def test_templates_lint_clean(app: dict[str, Any]) -> None:
    for name in ("private", "eni", "public"):
        assert findings(app[name]) == [], name


# -- rules checked where the construct gathers its input --------------------------------------------------------

def test_elastic_ip_in_private_subnets_is_refused() -> None:
    stack = new_stack()
    net = HpcNetwork(stack, "Net", max_azs=2)
    with pytest.raises(ConfigError, match="address='elastic_ip'.*private subnet"):
        HaInstance(stack, "Head", vpc=net.vpc, address="elastic_ip")


def test_one_az_is_refused() -> None:
    stack = new_stack()
    net = HpcNetwork(stack, "Net", max_azs=2)
    with pytest.raises(ConfigError, match="at least 2 Availability Zones"):
        HaInstance(stack, "Head", vpc=net.vpc, vpc_subnets=ec2.SubnetSelection(subnets=[net.vpc.private_subnets[0]]))


def test_a_type_not_offered_in_a_chosen_az_is_refused() -> None:
    stack = Stack(new_app(), "Bound", env=ENV)
    net = HpcNetwork(stack, "Net", max_azs=2)
    zones = [s.availability_zone for s in net.vpc.private_subnets]
    offerings = {zones[0]: ["t3.medium"], zones[1]: ["t3.large"]}
    with pytest.raises(ConfigError, match=f"{zones[1]} does not offer t3.medium"):
        HaInstance(stack, "Head", vpc=net.vpc, availability_zone_offerings=offerings)
    HaInstance(stack, "Ok", vpc=net.vpc, instance_type="t3.large",
               availability_zone_offerings={zones[0]: ["t3.large"], zones[1]: ["t3.large"]})


def test_hosted_zone_with_another_address_kind_is_refused() -> None:
    from aws_cdk import aws_route53 as route53

    stack = new_stack()
    net = HpcNetwork(stack, "Net", max_azs=2)
    zone = route53.PrivateHostedZone(stack, "Zone", zone_name="corp.internal", vpc=net.vpc)
    with pytest.raises(ConfigError, match="hosted_zone"):
        HaInstance(stack, "Head", vpc=net.vpc, address="eni", hosted_zone=zone)


def test_a_nat_gateway_shared_across_its_azs_is_warned_about() -> None:
    from aws_cdk.assertions import Annotations as Found
    from aws_cdk.assertions import Match

    for gateways, warned in ((1, True), (2, False)):
        stack = new_stack(f"Nat{gateways}")
        net = HpcNetwork(stack, "Net", max_azs=2, nat_gateways=gateways)
        HaInstance(stack, "Head", vpc=net.vpc)
        found = Found.from_stack(stack).find_warning("*", Match.string_like_regexp("share 1 NAT gateway"))
        assert bool(found) == warned, gateways
