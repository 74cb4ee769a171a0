"""Bring your own security groups and roles (issue 30): ComputeFleet, Batch compute environments, SlurmCluster
(node groups and login nodes) and HaBastion take a group and a role made elsewhere; the library adds the rules and
statements it needs where CDK can add them, and names them in a warning where it cannot (mutable=False).

One app is synthesized once, with cdk-nag on (a finding fails the synth)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Annotations, Match

from hpc_constructs import (
    BatchOrchestration,
    ComputeEnvironmentSpec,
    ComputeFleet,
    ConfigError,
    EfsSpec,
    HaBastion,
    HaInstance,
    HpcNetwork,
    LoginNodesSpec,
    LustreSpec,
    MultiNodeJobSpec,
    NodeGroupSpec,
    SlurmCluster,
    SshUser,
    SshUsers,
    StorageLayer,
)
from hpc_constructs.given import FIXED_GROUP_WARNING, FIXED_ROLE_WARNING, takes_rules
from tests.cfn_lint import findings
from tests.support import new_app

ENV = {"account": "111122223333", "region": "us-east-1"}
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBtzpnlOYINfuM7Z9YA5AY525lPWi1R5o4/5GDUbOlUY alice@laptop"
AMI = "ami-0123456789abcdef0"
SITE_SG = "sg-0123456789abcdef0"
FIXED_SG = "sg-0fedcba9876543210"


@pytest.fixture(scope="module")
def byo() -> dict[str, Any]:
    from cdk_nag import AwsSolutionsChecks

    app = new_app()
    stack = Stack(app, "Byo", env=ENV)
    network = HpcNetwork(stack, "Net")
    users = SshUsers(stack, "Users", users=[SshUser("alice", [KEY])])
    storage = StorageLayer(stack, "Storage", vpc=network.vpc, efs=EfsSpec(), lustre=LustreSpec())
    # the site's groups and roles: one made here, one imported mutable, one imported immutable
    nodes_group = ec2.SecurityGroup(stack, "SiteNodes", vpc=network.vpc, allow_all_outbound=False,
                                    description="site group for HPC nodes")
    imported_group = ec2.SecurityGroup.from_security_group_id(stack, "SiteImported", SITE_SG)
    fixed_group = ec2.SecurityGroup.from_security_group_id(stack, "SiteFixed", FIXED_SG, mutable=False)
    nodes_role = iam.Role(stack, "SiteRole", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"))
    imported_role = iam.Role.from_role_arn(stack, "SiteImportedRole", "arn:aws:iam::111122223333:role/hpc-nodes")
    fixed_role = iam.Role.from_role_arn(stack, "SiteFixedRole", "arn:aws:iam::111122223333:role/hpc-fixed",
                                        mutable=False)

    fleet = ComputeFleet(stack, "Fleet", vpc=network.vpc, subnet=network.cluster_subnet,
                         instance_types=["hpc7a.96xlarge"], security_group=nodes_group, role=nodes_role,
                         ssh_users=users)
    twin = ComputeFleet(stack, "Twin", vpc=network.vpc, subnet=network.cluster_subnet,
                        instance_types=["hpc7a.96xlarge"], security_group=nodes_group)  # the same group again
    storage.mount_on(fleet)
    fixed = ComputeFleet(stack, "Fixed", vpc=network.vpc, subnet=network.cluster_subnet,
                         instance_types=["hpc7a.96xlarge"], security_group=fixed_group, role=fixed_role,
                         ssh_users=users)
    storage.mount_on(fixed)
    imported = ComputeFleet(stack, "Imported", vpc=network.vpc, subnet=network.cluster_subnet,
                            instance_types=["c7i.large"], security_group=imported_group, role=imported_role)

    bastion_group = ec2.SecurityGroup(stack, "SiteBastion", vpc=network.vpc, description="site bastions")
    bastion_role = iam.Role(stack, "SiteBastionRole", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"))
    bastion = HaBastion(stack, "Bastion", vpc=network.vpc, allowed_cidrs=["203.0.113.0/24"],
                        security_group=bastion_group, role=bastion_role, ssh_users=users)
    fleet.allow_ssh_from(bastion)

    batch_group = ec2.SecurityGroup(stack, "SiteBatch", vpc=network.vpc, description="site Batch nodes")
    extra_group = ec2.SecurityGroup(stack, "SiteMonitoring", vpc=network.vpc, description="monitoring agents")
    batch_role = iam.Role(stack, "SiteBatchRole", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"))
    batch = BatchOrchestration(
        stack, "Batch", vpc=network.vpc, storage=storage,
        compute_environments=[ComputeEnvironmentSpec("efa", instance_types=["hpc7a.96xlarge"], max_vcpus=1024,
                                                     security_groups=[batch_group, extra_group],
                                                     instance_role=batch_role)],
        multi_node_jobs=[MultiNodeJobSpec("mpi", "public.ecr.aws/hpc/app:1", "efa", 2, "hpc7a.96xlarge")])

    slurm_group = ec2.SecurityGroup(stack, "SiteSlurm", vpc=network.vpc, description="site Slurm nodes")
    slurm_role = iam.Role(stack, "SiteSlurmRole", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
                          role_name="AWSPCS-site-nodes")
    cluster = SlurmCluster(
        stack, "Slurm", vpc=network.vpc, slurm_version="25.05", ami_id=AMI, storage=storage, ssh_users=users,
        security_group=slurm_group, node_role=slurm_role,
        node_groups=[NodeGroupSpec("cpu", ["c7i.large"], security_groups=[extra_group])],
        login_nodes=LoginNodesSpec(bastion=bastion, security_groups=[extra_group]))

    server_group = ec2.SecurityGroup(stack, "SiteLicense", vpc=network.vpc, description="site license server")
    server_role = iam.Role(stack, "SiteLicenseRole", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"))
    server = HaInstance(stack, "License", vpc=network.vpc, ports=[27000], security_group=server_group,
                        role=server_role)
    server.allow_from(fleet)
    fixed_server = HaInstance(stack, "FixedLicense", vpc=network.vpc, ports=[27000], security_group=fixed_group,
                              zone_name="fixed.internal")
    fixed_server.allow_from(fleet)

    # the test's own roles, as a site's would be
    for role in (nodes_role, bastion_role, batch_role, slurm_role, server_role):
        Validations.of(role).acknowledge()
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    template = app.synth().get_stack_by_name("Byo").template
    return {"app": app, "stack": stack, "template": template, "fleet": fleet, "twin": twin, "fixed": fixed,
            "imported": imported, "bastion": bastion, "batch": batch, "cluster": cluster, "server": server,
            "groups": {"server": server_group, "nodes": nodes_group, "bastion": bastion_group, "batch": batch_group,
                       "extra": extra_group, "slurm": slurm_group, "lb": bastion.load_balancer_security_group,
                       "storage": storage},
            "roles": {"server": server_role, "nodes": nodes_role, "bastion": bastion_role, "batch": batch_role,
                      "slurm": slurm_role}}


def _id(byo: dict[str, Any], construct: Any) -> dict[str, Any]:
    """How the template refers to a group made in the app."""
    stack: Stack = byo["stack"]
    return {"Fn::GetAtt": [stack.get_logical_id(construct.node.default_child), "GroupId"]}


def _rules(byo: dict[str, Any], kind: str, group: Any) -> list[dict[str, Any]]:
    return [r["Properties"] for r in byo["template"]["Resources"].values()
            if r["Type"] == f"AWS::EC2::SecurityGroup{kind}" and r["Properties"]["GroupId"] == group]


def _launch_template(byo: dict[str, Any], construct: Any) -> dict[str, Any]:
    cfn = construct.launch_template.node.default_child
    data: dict[str, Any] = byo["template"]["Resources"][byo["stack"].get_logical_id(cfn)]["Properties"][
        "LaunchTemplateData"]
    return data


def _role_statements(byo: dict[str, Any], role: iam.Role) -> str:
    ref = {"Ref": byo["stack"].get_logical_id(role.node.default_child)}
    return json.dumps([p["Properties"]["PolicyDocument"] for p in byo["template"]["Resources"].values()
                       if p["Type"] == "AWS::IAM::Policy" and ref in p["Properties"]["Roles"]])


def _managed(byo: dict[str, Any], role: iam.Role) -> str:
    return json.dumps(byo["template"]["Resources"][byo["stack"].get_logical_id(role.node.default_child)]
                      ["Properties"].get("ManagedPolicyArns", []))


def _self_rules(byo: dict[str, Any], group: Any) -> tuple[int, int]:
    ref = _id(byo, group) if not isinstance(group, str) else group
    ingress = [r for r in _rules(byo, "Ingress", ref)
               if r.get("SourceSecurityGroupId") == ref and r["IpProtocol"] == "-1"]
    egress = [r for r in _rules(byo, "Egress", ref)
              if r.get("DestinationSecurityGroupId") == ref and r["IpProtocol"] == "-1"]
    return len(ingress), len(egress)


def test_cfn_lint_and_cdk_nag_find_nothing(byo: dict[str, Any]) -> None:
    assert findings(byo["template"]) == []  # cdk-nag ran in the fixture's synth


# -- ComputeFleet ----------------------------------------------------------------------------------------------

def test_a_fleet_runs_in_the_given_group_and_makes_none(byo: dict[str, Any]) -> None:
    group = _id(byo, byo["groups"]["nodes"])
    interfaces = _launch_template(byo, byo["fleet"])["NetworkInterfaces"]
    assert interfaces and all(i["Groups"] == [group] for i in interfaces)
    assert byo["fleet"].node.try_find_child("SecurityGroup") is None


def test_the_given_group_gets_efa_s_self_rules_once_for_two_fleets(byo: dict[str, Any]) -> None:
    # EFA needs all traffic to and from the group itself, both ways; a second copy would fail the deploy
    # (InvalidPermission.Duplicate), so the twin fleet shares the first one's rules.
    assert _self_rules(byo, byo["groups"]["nodes"]) == (1, 1)
    assert _self_rules(byo, SITE_SG) == (1, 1)  # an imported (mutable) group takes them too


def test_a_group_without_allow_all_outbound_gets_the_storage_s_egress_rules(byo: dict[str, Any]) -> None:
    egress = _rules(byo, "Egress", _id(byo, byo["groups"]["nodes"]))
    ports = sorted((r.get("FromPort"), r.get("ToPort")) for r in egress if r["IpProtocol"] == "tcp")
    assert (988, 988) in ports and (1018, 1023) in ports and (2049, 2049) in ports


def test_a_fleet_s_role_gets_session_manager_and_the_users_parameter(byo: dict[str, Any]) -> None:
    role = byo["roles"]["nodes"]
    assert "AmazonSSMManagedInstanceCore" in _managed(byo, role)
    statements = _role_statements(byo, role)
    assert "ssm:GetParameter" in statements and "elasticfilesystem:ClientMount" in statements
    profile = byo["fleet"].launch_template.node.try_find_child("Profile")  # CDK's CfnInstanceProfile for the role
    assert byo["stack"].resolve(profile.roles) == [{"Ref": byo["stack"].get_logical_id(role.node.default_child)}]


def test_ssh_from_the_bastion_lands_on_the_given_group(byo: dict[str, Any]) -> None:
    ingress = _rules(byo, "Ingress", _id(byo, byo["groups"]["nodes"]))
    assert any(r.get("FromPort") == 22 and r.get("SourceSecurityGroupId") == _id(byo, byo["groups"]["bastion"])
               for r in ingress)


def test_an_immutable_group_and_role_take_nothing_and_say_what_they_need(byo: dict[str, Any]) -> None:
    assert not takes_rules(byo["fixed"].security_group)
    assert _rules(byo, "Ingress", FIXED_SG) == [] and _rules(byo, "Egress", FIXED_SG) == []
    warnings = Annotations.from_stack(byo["stack"]).find_warning("/Byo/Fixed", Match.any_value())
    texts = " ".join(str(w.entry.data) for w in warnings)
    assert "all traffic from itself (inbound); all traffic to itself (outbound)" in texts
    assert "TCP 988 and 1018-1023 from Byo/Storage/LustreFileSystem/LustreSecurityGroup" in texts
    assert "['ssm:GetParameter'] on" in texts or "ssm:GetParameter on" in texts
    assert "elasticfilesystem:ClientMount, elasticfilesystem:ClientWrite" in texts
    assert FIXED_GROUP_WARNING in texts and FIXED_ROLE_WARNING in texts
    fixed_role = "hpc-fixed"
    assert fixed_role not in json.dumps([p for p in byo["template"]["Resources"].values()
                                        if p["Type"] == "AWS::IAM::Policy"])


def test_an_imported_role_takes_statements_but_names_the_managed_policy_it_needs(byo: dict[str, Any]) -> None:
    warnings = Annotations.from_stack(byo["stack"]).find_warning("/Byo/Imported", Match.any_value())
    assert any("is imported: CDK attaches no AWS managed policy to it" in str(w.entry.data)
               and "AmazonSSMManagedInstanceCore" in str(w.entry.data) for w in warnings)


# -- HaBastion --------------------------------------------------------------------------------------------------

def test_a_bastion_runs_in_the_given_group_with_ssh_from_its_load_balancer(byo: dict[str, Any]) -> None:
    group = _id(byo, byo["groups"]["bastion"])
    assert _launch_template(byo, byo["bastion"])["SecurityGroupIds"] == [group]
    ingress = _rules(byo, "Ingress", group)
    assert any(r.get("FromPort") == 22 and r.get("SourceSecurityGroupId") == _id(byo, byo["groups"]["lb"])
               for r in ingress)


def test_a_bastion_s_role_gets_its_statements_and_the_secret_names_it(byo: dict[str, Any]) -> None:
    role = byo["roles"]["bastion"]
    statements = _role_statements(byo, role)
    for action in ("logs:PutLogEvents", "secretsmanager:GetSecretValue", "cloudformation:SignalResource",
                   "ssm:GetParameter"):
        assert action in statements
    secret_policy = json.dumps([r for r in byo["template"]["Resources"].values()
                                if r["Type"] == "AWS::SecretsManager::ResourcePolicy"])
    assert byo["stack"].get_logical_id(role.node.default_child) in secret_policy


# -- HaInstance ---------------------------------------------------------------------------------------------------

def test_a_license_server_runs_in_the_given_group_and_its_clients_reach_it_there(byo: dict[str, Any]) -> None:
    group = _id(byo, byo["groups"]["server"])
    assert _launch_template(byo, byo["server"])["SecurityGroupIds"] == [group]
    assert byo["server"].node.try_find_child("SecurityGroup") is None
    ingress = _rules(byo, "Ingress", group)
    assert [(r["FromPort"], r["SourceSecurityGroupId"]) for r in ingress] == [(27000, _id(byo, byo["groups"]["nodes"]))]


def test_a_license_server_s_role_gets_the_boot_statements_and_session_manager(byo: dict[str, Any]) -> None:
    role = byo["roles"]["server"]
    assert "AmazonSSMManagedInstanceCore" in _managed(byo, role)
    statements = _role_statements(byo, role)
    for action in ("ec2:AttachVolume", "ec2:CreateSnapshot", "autoscaling:CompleteLifecycleAction",
                   "route53:ChangeResourceRecordSets"):
        assert action in statements
    profile = byo["server"].launch_template.node.try_find_child("Profile")
    assert byo["stack"].resolve(profile.roles) == [{"Ref": byo["stack"].get_logical_id(role.node.default_child)}]


def test_an_immutable_group_on_a_license_server_names_the_port_its_clients_need(byo: dict[str, Any]) -> None:
    warnings = Annotations.from_stack(byo["stack"]).find_warning("/Byo/FixedLicense", Match.any_value())
    assert any("TCP 27000 from Byo/SiteNodes (inbound)" in str(w.entry.data) for w in warnings)
    assert not [r for r in _rules(byo, "Ingress", FIXED_SG) if r.get("FromPort") == 27000]


# -- Batch --------------------------------------------------------------------------------------------------------

def test_a_batch_environment_runs_in_the_given_groups_with_the_self_rules_on_the_first(byo: dict[str, Any]) -> None:
    environment = byo["batch"].environment_constructs["efa"]
    first, extra = _id(byo, byo["groups"]["batch"]), _id(byo, byo["groups"]["extra"])
    interfaces = _launch_template(byo, environment)["NetworkInterfaces"]
    assert all(i["Groups"] == [first, extra] for i in interfaces)
    assert _self_rules(byo, byo["groups"]["batch"]) == (1, 1)
    assert environment.node.try_find_child("SecurityGroup") is None


def test_the_vpc_default_group_still_takes_the_multi_node_jobs_rules(byo: dict[str, Any]) -> None:
    default = byo["batch"].job_interface_security_group
    assert default is not None
    rules = [r for r in byo["template"]["Resources"].values()
             if r["Type"].startswith("AWS::EC2::SecurityGroup") and "multi-node Batch jobs" in
             r["Properties"].get("Description", "")]
    assert len(rules) == 3


def test_a_batch_instance_role_gets_the_ecs_policy_and_its_profile(byo: dict[str, Any]) -> None:
    role = byo["roles"]["batch"]
    managed = _managed(byo, role)
    assert "AmazonEC2ContainerServiceforEC2Role" in managed and "AmazonSSMManagedInstanceCore" in managed
    environment = byo["batch"].environment_constructs["efa"]
    assert byo["stack"].resolve(environment.instance_profile.roles) == [
        {"Ref": byo["stack"].get_logical_id(role.node.default_child)}]


def test_too_many_groups_and_a_fargate_role_are_refused() -> None:
    app = new_app()
    stack = Stack(app, "S", env=ENV)
    network = HpcNetwork(stack, "Net")
    groups = [ec2.SecurityGroup(stack, f"G{i}", vpc=network.vpc) for i in range(6)]
    with pytest.raises(ConfigError, match=r"at most 5 security groups"):
        BatchOrchestration(stack, "B1", vpc=network.vpc,
                           compute_environments=[ComputeEnvironmentSpec("cpu", security_groups=groups)])
    role = iam.Role(stack, "R", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"))
    with pytest.raises(ConfigError, match=r"instance_role=.*None on Fargate"):
        BatchOrchestration(stack, "B2", vpc=network.vpc,
                           compute_environments=[ComputeEnvironmentSpec("f", fargate=True, instance_role=role)])


# -- SlurmCluster -------------------------------------------------------------------------------------------------

def test_slurm_nodes_run_in_the_given_group_and_the_extra_ones(byo: dict[str, Any]) -> None:
    cluster = byo["cluster"]
    nodes, extra = _id(byo, byo["groups"]["slurm"]), _id(byo, byo["groups"]["extra"])
    compute = _launch_template(byo, cluster.node_groups["cpu"])["NetworkInterfaces"]
    assert all(i["Groups"] == [nodes, extra] for i in compute)
    login = _launch_template(byo, cluster.login_nodes)["NetworkInterfaces"]
    assert all(i["Groups"] == [nodes, _id(byo, cluster.login_security_group), extra] for i in login)
    assert cluster.node.try_find_child("NodeSecurityGroup") is None


def test_the_given_slurm_group_gets_the_self_rules_and_the_controller_s_ports(byo: dict[str, Any]) -> None:
    group = _id(byo, byo["groups"]["slurm"])
    assert _self_rules(byo, byo["groups"]["slurm"]) == (1, 1)
    controller = _id(byo, byo["cluster"].controller_security_group)
    ports = {(r["FromPort"], r["ToPort"]) for r in _rules(byo, "Ingress", group)
             if r.get("SourceSecurityGroupId") == controller}
    assert ports == {(6818, 6818), (60001, 63000)}


def test_the_given_slurm_role_registers_nodes_and_backs_the_instance_profile(byo: dict[str, Any]) -> None:
    role = byo["roles"]["slurm"]
    statements = _role_statements(byo, role)
    assert "pcs:RegisterComputeNodeGroupInstance" in statements and "ssm:GetParameter" in statements
    assert byo["stack"].resolve(byo["cluster"].instance_profile.roles) == [
        {"Ref": byo["stack"].get_logical_id(role.node.default_child)}]


@pytest.mark.parametrize(("role_arn", "kwargs", "message"), [
    ("arn:aws:iam::111122223333:role/hpc-nodes", {}, r"node_role='hpc-nodes' is not allowed.*AWSPCS"),
    ("arn:aws:iam::111122223333:role/aws-pcs/hpc-nodes", {"node_role_name": "AWSPCS-x"},
     r"node_role_name='AWSPCS-x' is not allowed. Allowed: None with node_role"),
])
def test_a_given_slurm_role_is_named_as_pcs_requires(role_arn: str, kwargs: dict[str, Any], message: str) -> None:
    app = App()
    stack = Stack(app, "S", env=ENV)
    network = HpcNetwork(stack, "Net")
    role = iam.Role.from_role_arn(stack, "Role", role_arn)
    with pytest.raises(ConfigError, match=message):
        SlurmCluster(stack, "Slurm", vpc=network.vpc, slurm_version="25.05", ami_id=AMI, node_role=role,
                     node_groups=[NodeGroupSpec("cpu", ["c7i.large"])], **kwargs)
    SlurmCluster(stack, "Ok", vpc=network.vpc, slurm_version="25.05", ami_id=AMI,  # a path with /aws-pcs/ is fine
                 node_role=iam.Role.from_role_arn(stack, "PcsRole", "arn:aws:iam::111122223333:role/aws-pcs/nodes"),
                 node_groups=[NodeGroupSpec("cpu", ["c7i.large"])])


def test_too_many_groups_on_a_node_group_are_refused() -> None:
    app = App()
    stack = Stack(app, "S", env=ENV)
    network = HpcNetwork(stack, "Net")
    groups = [ec2.SecurityGroup(stack, f"G{i}", vpc=network.vpc) for i in range(5)]
    with pytest.raises(ConfigError, match=r"security_groups='5 security groups'.*at most 4"):
        SlurmCluster(stack, "Slurm", vpc=network.vpc, slurm_version="25.05", ami_id=AMI,
                     node_groups=[NodeGroupSpec("cpu", ["c7i.large"], security_groups=groups)])
