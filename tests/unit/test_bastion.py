"""HaBastion's resources: the Auto Scaling group and its instances, the load balancer, the security groups, the
network ACL, the logs, the shared host keys, and SSH from the bastion to a fleet. One app is synthesized once
per module with cdk-nag on (a finding fails the synth)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Stack, Validations
from aws_cdk import aws_ec2 as ec2
from cdk_nag import AwsSolutionsChecks

from hpc_constructs import ComputeFleet, ConfigError, HaBastion, HpcNetwork
from tests.cfn_lint import findings
from tests.support import new_app, new_stack

ENV = {"account": "111122223333", "region": "us-east-1"}
OPEN = {"0.0.0.0/0", "::/0"}


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _one(template: dict[str, Any], kind: str) -> dict[str, Any]:
    (found,) = _of_type(template, kind).values()
    props: dict[str, Any] = found.get("Properties", {})
    return props


@pytest.fixture(scope="module")
def full() -> tuple[HaBastion, dict[str, Any], ComputeFleet]:
    app = new_app()
    stack = Stack(app, "Access", env=ENV)
    network = HpcNetwork(stack, "Net", max_azs=3)
    bastion = HaBastion(stack, "Bastion", vpc=network.vpc, allowed_cidrs=["203.0.113.0/24", "192.0.2.0/28"],
                        blocked_cidrs=["203.0.113.66/32", "198.51.100.0/24"])
    fleet = ComputeFleet(stack, "Cpu", vpc=network.vpc, instance_types=["c7i.large"])
    fleet.allow_ssh_from(bastion)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    template = app.synth().get_stack_by_name("Access").template
    return bastion, template, fleet


def _logical(bastion: HaBastion, construct: Any) -> str:
    child = construct.node.default_child or construct
    return Stack.of(bastion).get_logical_id(child)


# -- Auto Scaling group and failover ------------------------------------------------------------------------

def test_one_instance_per_zone_in_two_zones(full: tuple[HaBastion, dict[str, Any], ComputeFleet]) -> None:
    _, template, _ = full
    (group,) = [g for k, g in _of_type(template, "AWS::AutoScaling::AutoScalingGroup").items() if "Bastion" in k]
    props = group["Properties"]
    assert props["MinSize"] == props["MaxSize"] == props["DesiredCapacity"] == "2"
    subnets = [ref["Ref"] for ref in props["VPCZoneIdentifier"]]
    zones = {json.dumps(template["Resources"][s]["Properties"]["AvailabilityZone"]) for s in subnets}
    assert len(subnets) == 2 and len(zones) == 2, "the instances' subnets are in more than one AZ"
    assert all(template["Resources"][s]["Properties"]["MapPublicIpOnLaunch"] is False for s in subnets)


def test_failover_is_encoded(full: tuple[HaBastion, dict[str, Any], ComputeFleet]) -> None:
    """The group replaces failed instances (ELB health checks with a grace period), the load balancer routes
    around them (a TCP health check), and cross-zone load balancing serves from every zone's targets."""
    bastion, template, _ = full
    group = template["Resources"][_logical(bastion, bastion.auto_scaling_group)]
    assert group["Properties"]["HealthCheckType"] == "ELB"
    assert group["Properties"]["HealthCheckGracePeriod"] == 300
    assert group["Properties"]["TargetGroupARNs"] == [{"Ref": _logical(bastion, bastion.target_group)}]
    rolling = group["UpdatePolicy"]["AutoScalingRollingUpdate"]
    assert rolling["MaxBatchSize"] == 1 and rolling["MinInstancesInService"] == 1
    assert rolling["WaitOnResourceSignals"] is True  # a step waits for the new bastion's boot to succeed
    assert group["CreationPolicy"]["ResourceSignal"]["Count"] == 2
    assert _logical(bastion, bastion.role) in group["DependsOn"]  # its permissions exist at first boot
    targets = template["Resources"][_logical(bastion, bastion.target_group)]["Properties"]
    assert targets["HealthCheckProtocol"] == "TCP" and targets["HealthCheckPort"] == "traffic-port"
    balancer = template["Resources"][_logical(bastion, bastion.load_balancer)]["Properties"]
    assert {"Key": "load_balancing.cross_zone.enabled", "Value": "true"} in balancer["LoadBalancerAttributes"]
    zones = {json.dumps(template["Resources"][s["Ref"]]["Properties"]["AvailabilityZone"])
             for s in balancer["Subnets"]}
    assert len(zones) == 2


def test_instances_wait_for_the_rule_that_admits_health_checks(
        full: tuple[HaBastion, dict[str, Any], ComputeFleet]) -> None:
    bastion, template, _ = full
    group = template["Resources"][_logical(bastion, bastion.auto_scaling_group)]
    (rule,) = [k for k in _of_type(template, "AWS::EC2::SecurityGroupIngress") if "SshFromLoadBalancer" in k]
    assert rule in group["DependsOn"]


def test_instances_have_imdsv2_an_encrypted_root_ssm_and_no_key(
        full: tuple[HaBastion, dict[str, Any], ComputeFleet]) -> None:
    bastion, template, _ = full
    data = template["Resources"][_logical(bastion, bastion.launch_template)]["Properties"]["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    (root,) = data["BlockDeviceMappings"]
    assert root["DeviceName"] == "/dev/xvda" and root["Ebs"]["Encrypted"] is True and root["Ebs"]["VolumeType"] == "gp3"
    assert "KeyName" not in data
    assert data["InstanceType"] == "t3.micro"
    assert "al2023" in data["ImageId"]["Ref"]
    role = template["Resources"][_logical(bastion, bastion.role)]["Properties"]
    assert any("AmazonSSMManagedInstanceCore" in json.dumps(arn) for arn in role["ManagedPolicyArns"])


def test_a_key_name_goes_into_the_launch_template_and_the_ssh_command() -> None:
    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    bastion = HaBastion(stack, "Bastion", vpc=network.vpc, allowed_cidrs=["203.0.113.0/24"], key_name="ops",
                        instance_type="t4g.micro")
    resolved = stack.resolve(bastion.ssh_command.value)
    assert resolved["Fn::Join"][1][0] == "ssh -i ~/.ssh/ops.pem ec2-user@"
    data = stack.resolve(bastion.launch_template.node.default_child.launch_template_data)  # type: ignore[union-attr]
    assert data["keyName"] == "ops"
    assert "arm64" in json.dumps(data["imageId"])


def test_role_statements_are_scoped_to_the_log_group_the_secret_and_the_stack(
        full: tuple[HaBastion, dict[str, Any], ComputeFleet]) -> None:
    bastion, template, _ = full
    (policy,) = [p for k, p in _of_type(template, "AWS::IAM::Policy").items() if k.startswith("BastionRole")]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    actions = [s["Action"] if isinstance(s["Action"], list) else [s["Action"]] for s in statements]
    scope = sorted((json.dumps(s["Resource"]), sorted(a)) for s, a in zip(statements, actions, strict=True))
    secret = json.dumps({"Ref": _logical(bastion, bastion.host_keys)})
    assert scope == sorted([
        (json.dumps({"Fn::GetAtt": [_logical(bastion, bastion.log_group), "Arn"]}),
         ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]),
        (secret, ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"]),
        (secret, ["secretsmanager:TagResource"]),
        (json.dumps({"Ref": "AWS::StackId"}), ["cloudformation:SignalResource"]),
    ])
    assert all("*" not in action for a in actions for action in a)
    # The one tag the role may set: the host keys' generation, to that generation's value only.
    (tag,) = [s for s in statements if s["Action"] == "secretsmanager:TagResource"]
    assert tag["Condition"] == {"StringEquals": {"aws:RequestTag/hpc-host-keys-generation": "1"},
                                "ForAllValues:StringEquals": {"aws:TagKeys": ["hpc-host-keys-generation"]}}


def test_only_the_bastions_and_the_admins_read_the_host_keys_and_each_generation_is_written_once(
        full: tuple[HaBastion, dict[str, Any], ComputeFleet]) -> None:
    bastion, template, _ = full
    (policy,) = _of_type(template, "AWS::SecretsManager::ResourcePolicy").values()
    assert policy["Properties"]["SecretId"] == {"Ref": _logical(bastion, bastion.host_keys)}
    statements = {s["Sid"]: s for s in policy["Properties"]["ResourcePolicy"]["Statement"]}
    role = {"Fn::GetAtt": [_logical(bastion, bastion.role), "Arn"]}
    root = "arn:aws:iam::111122223333:root"  # the stack's account (None admins: the account's root user)
    only = statements["OnlyTheBastionsAndTheAdmins"]
    assert (only["Effect"], only["Principal"]) == ("Deny", {"AWS": "*"})
    assert sorted(only["Action"]) == ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"]
    assert only["Condition"] == {"StringNotEquals": {"aws:PrincipalArn": [role, root]}}
    once = statements["WriteEachGenerationOnce"]
    assert (once["Effect"], once["Action"]) == ("Deny", "secretsmanager:PutSecretValue")
    assert once["Condition"] == {"StringEquals": {"secretsmanager:ResourceTag/hpc-host-keys-generation": "1"}}
    untag = statements["OnlyTheAdminsUntag"]
    assert untag["Effect"] == "Deny" and untag["Condition"]["StringNotEquals"] == {"aws:PrincipalArn": [root]}


# -- load balancer and security groups ----------------------------------------------------------------------

def test_an_internet_facing_nlb_in_the_public_subnets_with_a_tcp_22_listener(
        full: tuple[HaBastion, dict[str, Any], ComputeFleet]) -> None:
    bastion, template, _ = full
    balancer = template["Resources"][_logical(bastion, bastion.load_balancer)]["Properties"]
    assert balancer["Type"] == "network" and balancer["Scheme"] == "internet-facing"
    public = {k for k, v in _of_type(template, "AWS::EC2::Subnet").items() if v["Properties"]["MapPublicIpOnLaunch"]}
    assert {s["Ref"] for s in balancer["Subnets"]} <= public
    assert balancer["SecurityGroups"] == [{"Fn::GetAtt": [_logical(bastion, bastion.load_balancer_security_group),
                                                           "GroupId"]}]
    listener = _one(template, "AWS::ElasticLoadBalancingV2::Listener")
    assert listener["Port"] == 22 and listener["Protocol"] == "TCP"
    targets = _one(template, "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert targets["Port"] == 22 and targets["TargetType"] == "instance"
    assert {"Key": "preserve_client_ip.enabled", "Value": "true"} in targets["TargetGroupAttributes"]


def test_the_nlb_admits_only_the_allowed_cidrs_and_the_instances_only_the_nlb(
        full: tuple[HaBastion, dict[str, Any], ComputeFleet]) -> None:
    bastion, template, _ = full
    balancer_sg = _logical(bastion, bastion.load_balancer_security_group)
    ingress = template["Resources"][balancer_sg]["Properties"]["SecurityGroupIngress"]
    assert {(r["CidrIp"], r["FromPort"], r["ToPort"]) for r in ingress} == {
        ("203.0.113.0/24", 22, 22), ("192.0.2.0/28", 22, 22)}
    instance_sg = _logical(bastion, bastion.security_group)
    assert "SecurityGroupIngress" not in template["Resources"][instance_sg]["Properties"]
    rules = [r["Properties"] for r in _of_type(template, "AWS::EC2::SecurityGroupIngress").values()
             if r["Properties"]["GroupId"] == {"Fn::GetAtt": [instance_sg, "GroupId"]}]
    assert rules == [{"GroupId": {"Fn::GetAtt": [instance_sg, "GroupId"]}, "IpProtocol": "tcp", "FromPort": 22,
                      "ToPort": 22, "SourceSecurityGroupId": {"Fn::GetAtt": [balancer_sg, "GroupId"]},
                      "Description": rules[0]["Description"]}]
    (egress,) = [r["Properties"] for r in _of_type(template, "AWS::EC2::SecurityGroupEgress").values()
                 if r["Properties"]["GroupId"] == {"Fn::GetAtt": [balancer_sg, "GroupId"]}]
    assert egress["DestinationSecurityGroupId"] == {"Fn::GetAtt": [instance_sg, "GroupId"]}
    assert egress["FromPort"] == egress["ToPort"] == 22


def test_no_security_group_admits_the_whole_internet_by_default(
        full: tuple[HaBastion, dict[str, Any], ComputeFleet]) -> None:
    _, template, _ = full
    sources = []
    for group in _of_type(template, "AWS::EC2::SecurityGroup").values():
        for rule in group["Properties"].get("SecurityGroupIngress", []):
            sources += [rule.get("CidrIp"), rule.get("CidrIpv6")]
    for rule in _of_type(template, "AWS::EC2::SecurityGroupIngress").values():
        sources += [rule["Properties"].get("CidrIp"), rule["Properties"].get("CidrIpv6")]
    assert sources and not OPEN & set(sources)


def test_open_ssh_with_a_reason_is_acknowledged_with_that_reason(tmp_path: Any) -> None:
    app = new_app(outdir=str(tmp_path))
    stack = Stack(app, "Open", env=ENV)
    network = HpcNetwork(stack, "Net")
    HaBastion(stack, "Bastion", vpc=network.vpc, allowed_cidrs=["0.0.0.0/0"],
              allow_open_ssh="public teaching cluster; keys only")
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    template = app.synth().get_stack_by_name("Open").template  # no unacknowledged finding
    groups = _of_type(template, "AWS::EC2::SecurityGroup")
    assert any(r.get("CidrIp") == "0.0.0.0/0" for g in groups.values()
               for r in g["Properties"].get("SecurityGroupIngress", []))
    report = json.loads((tmp_path / "validation-report.json").read_text())
    reasons = {v["reason"] for r in report["pluginReports"] for v in r.get("suppressedViolations", [])
               if v["ruleName"] == "AwsSolutions-EC23"}
    assert reasons == {"allow_open_ssh: public teaching cluster; keys only"}


def test_fleet_allow_ssh_from_admits_the_bastions(full: tuple[HaBastion, dict[str, Any], ComputeFleet]) -> None:
    bastion, template, fleet = full
    fleet_sg = {"Fn::GetAtt": [_logical(bastion, fleet.security_group), "GroupId"]}
    rules = [r["Properties"] for r in _of_type(template, "AWS::EC2::SecurityGroupIngress").values()
             if r["Properties"]["GroupId"] == fleet_sg and r["Properties"].get("FromPort") == 22]
    assert [(r["SourceSecurityGroupId"], r["ToPort"]) for r in rules] == [
        ({"Fn::GetAtt": [_logical(bastion, bastion.security_group), "GroupId"]}, 22)]


def test_the_connections_one_liner_works_across_stacks() -> None:
    app = new_app()
    access = Stack(app, "Access", env=ENV)
    network = HpcNetwork(access, "Net")
    bastion = HaBastion(access, "Bastion", vpc=network.vpc, allowed_cidrs=["203.0.113.0/24"])
    compute = Stack(app, "Compute", env=ENV)
    fleet = ComputeFleet(compute, "Cpu", vpc=network.vpc, instance_types=["c7i.large"])
    fleet.connections.allow_from(bastion, ec2.Port.tcp(22))
    template = app.synth().get_stack_by_name("Compute").template
    (rule,) = [r["Properties"] for r in _of_type(template, "AWS::EC2::SecurityGroupIngress").values()
               if r["Properties"].get("FromPort") == 22]
    source = json.dumps(rule["SourceSecurityGroupId"])  # a cross-stack reference to the bastions' group
    assert "Access" in source and "BastionSecurityGroup" in source and "LoadBalancer" not in source


# -- network ACL ----------------------------------------------------------------------------------------------

def _acl_entries(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["Properties"] for e in _of_type(template, "AWS::EC2::NetworkAclEntry").values()]


def test_the_acl_denies_blocked_cidrs_before_any_allow_in_both_directions(
        full: tuple[HaBastion, dict[str, Any], ComputeFleet]) -> None:
    _, template, _ = full
    entries = _acl_entries(template)
    for egress in (False, True):
        denies = [e["RuleNumber"] for e in entries if e["Egress"] is egress and e["RuleAction"] == "deny"]
        allows = [e["RuleNumber"] for e in entries if e["Egress"] is egress and e["RuleAction"] == "allow"]
        assert len(denies) == 2 and allows
        assert max(denies) < min(allows)
    assert {e["CidrBlock"] for e in entries if e["RuleAction"] == "deny"} == {"203.0.113.66/32", "198.51.100.0/24"}


def test_the_acl_keeps_ephemeral_ports_nat_and_ssh_open(full: tuple[HaBastion, dict[str, Any], ComputeFleet]) -> None:
    _, template, _ = full
    inbound = [e for e in _acl_entries(template) if not e["Egress"] and e["RuleAction"] == "allow"]
    ephemeral = {(e["Protocol"], e["CidrBlock"]) for e in inbound
                 if e.get("PortRange") == {"From": 1024, "To": 65535}}
    assert ephemeral == {(6, "0.0.0.0/0"), (17, "0.0.0.0/0")}
    assert any(e["Protocol"] == -1 and e["CidrBlock"] == "10.0.0.0/16" for e in inbound)
    ssh = {e["CidrBlock"] for e in inbound if e.get("PortRange") == {"From": 22, "To": 22}}
    assert ssh == {"203.0.113.0/24", "192.0.2.0/28"}
    outbound = [e for e in _acl_entries(template) if e["Egress"] and e["RuleAction"] == "allow"]
    assert [(e["Protocol"], e["CidrBlock"]) for e in outbound] == [(-1, "0.0.0.0/0")]


def test_every_public_subnet_gets_the_acl_once_its_entries_exist(
        full: tuple[HaBastion, dict[str, Any], ComputeFleet]) -> None:
    _, template, _ = full
    public = {k for k, v in _of_type(template, "AWS::EC2::Subnet").items() if v["Properties"]["MapPublicIpOnLaunch"]}
    associations = _of_type(template, "AWS::EC2::SubnetNetworkAclAssociation")
    assert {a["Properties"]["SubnetId"]["Ref"] for a in associations.values()} == public
    assert len(public) == 3  # all three AZs' public subnets, though the bastions use two
    entries = set(_of_type(template, "AWS::EC2::NetworkAclEntry"))
    for association in associations.values():
        assert entries <= set(association["DependsOn"])


def test_too_many_blocked_cidrs_say_how_many_fit() -> None:
    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    with pytest.raises(ConfigError) as caught:
        HaBastion(stack, "Bastion", vpc=network.vpc, allowed_cidrs=["203.0.113.0/24"],
                  blocked_cidrs=[f"198.51.100.{i}/32" for i in range(16)])
    assert caught.value.path == "Test/Bastion" and "at most 15" in caught.value.allowed


def test_a_blocked_cidr_inside_the_created_vpc_is_refused() -> None:
    stack = new_stack()
    network = HpcNetwork(stack, "Net", cidr="10.20.0.0/16")
    with pytest.raises(ConfigError, match="10.20.0.0/16"):
        HaBastion(stack, "Bastion", vpc=network.vpc, allowed_cidrs=["203.0.113.0/24"], blocked_cidrs=["10.20.5.0/24"])


# -- AZs, IPv6 -------------------------------------------------------------------------------------------------

def test_one_zone_is_refused() -> None:
    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    with pytest.raises(ConfigError, match="availability_zones=1"):
        HaBastion(stack, "Bastion", vpc=network.vpc, allowed_cidrs=["203.0.113.0/24"], availability_zones=1)


def test_more_zones_than_the_vpc_has_are_refused() -> None:
    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    with pytest.raises(ConfigError, match="at most 2"):
        HaBastion(stack, "Bastion", vpc=network.vpc, allowed_cidrs=["203.0.113.0/24"], availability_zones=3)


def test_a_vpc_without_private_subnets_is_refused() -> None:
    stack = new_stack()
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=0,
                  subnet_configuration=[ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC)])
    with pytest.raises(ConfigError, match="at most 0"):
        HaBastion(stack, "Bastion", vpc=vpc, allowed_cidrs=["203.0.113.0/24"])


def test_ipv6_clients_need_a_dual_stack_vpc() -> None:
    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    with pytest.raises(ConfigError, match="no IPv6 range"):
        HaBastion(stack, "Bastion", vpc=network.vpc, allowed_cidrs=["2001:db8:1::/48"])


def test_ipv6_clients_on_a_dual_stack_vpc_get_a_dual_stack_nlb() -> None:
    app = new_app()
    stack = Stack(app, "Dual", env=ENV)
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, ip_protocol=ec2.IpProtocol.DUAL_STACK)
    HaBastion(stack, "Bastion", vpc=vpc, allowed_cidrs=["203.0.113.0/24", "2001:db8:1::/48"],
              blocked_cidrs=["2001:db8:1:66::/64"])
    template = app.synth().get_stack_by_name("Dual").template
    assert _one(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")["IpAddressType"] == "dualstack"
    entries = _acl_entries(template)
    v6 = [e for e in entries if "Ipv6CidrBlock" in e]
    assert {(e["Egress"], e["RuleAction"]) for e in v6} == {(False, "deny"), (True, "deny"), (False, "allow"),
                                                            (True, "allow")}
    assert any(e.get("PortRange") == {"From": 22, "To": 22} and e["Ipv6CidrBlock"] == "2001:db8:1::/48" for e in v6)
    groups = _of_type(template, "AWS::EC2::SecurityGroup")
    assert any(r.get("CidrIpv6") == "2001:db8:1::/48" for g in groups.values()
               for r in g["Properties"].get("SecurityGroupIngress", []))
    assert findings(template) == []


# -- logs, host keys, outputs, figures, lint ---------------------------------------------------------------------

def test_ssh_logs_go_to_a_retained_log_group_with_a_stated_retention(
        full: tuple[HaBastion, dict[str, Any], ComputeFleet]) -> None:
    bastion, template, _ = full
    group = template["Resources"][_logical(bastion, bastion.log_group)]
    assert group["Properties"]["RetentionInDays"] == 365 and group["DeletionPolicy"] == "Retain"
    user_data = json.dumps(template["Resources"][_logical(bastion, bastion.launch_template)]["Properties"]
                           ["LaunchTemplateData"]["UserData"])
    assert "hpc_install rsyslog amazon-cloudwatch-agent" in user_data  # AL2023 has no /var/log/secure without it
    assert '\\"file_path\\": \\"/var/log/secure\\"' in user_data
    assert "amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s" in user_data
    assert _logical(bastion, bastion.log_group) in user_data


def test_every_bastion_installs_the_shared_host_keys(full: tuple[HaBastion, dict[str, Any], ComputeFleet]) -> None:
    bastion, template, _ = full
    user_data = json.dumps(template["Resources"][_logical(bastion, bastion.launch_template)]["Properties"]
                           ["LaunchTemplateData"]["UserData"])
    assert "/usr/local/sbin/hpc-bastion-host-keys" in user_data
    assert _logical(bastion, bastion.host_keys) in user_data
    assert "ClientAliveInterval 60" in user_data


def test_the_ssh_command_output_names_the_load_balancer(full: tuple[HaBastion, dict[str, Any], ComputeFleet]) -> None:
    bastion, template, _ = full
    (output,) = [o for k, o in template["Outputs"].items() if k.startswith("BastionSshCommand")]
    assert output["Value"] == {"Fn::Join": ["", ["ssh ec2-user@", {"Fn::GetAtt": [
        _logical(bastion, bastion.load_balancer), "DNSName"]}]]}


def test_figures(full: tuple[HaBastion, dict[str, Any], ComputeFleet]) -> None:
    bastion, _, _ = full
    (figures,) = [m.data for m in bastion.node.metadata if m.type == "hpc:figures"]
    assert figures["availability zones"] == 2
    assert figures["network ACL rules (in/out, IPv4)"] == "8/3 of 20"  # 2 denies, 4 fixed, 2 SSH; 2 denies, 1 allow
    assert figures["more blocked CIDRs that fit (IPv4)"] == 12


def test_cfn_lint_is_clean(full: tuple[HaBastion, dict[str, Any], ComputeFleet]) -> None:
    _, template, _ = full
    assert findings(template) == []

