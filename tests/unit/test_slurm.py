"""SlurmCluster's resources: the PCS cluster, node groups laid out by ComputeFleet's plan, queues, login nodes, the
security groups between controller and nodes, the node role, storage on the nodes. One app (three stacks) is
synthesized once per module; construct-time refusals need no synth."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_ec2 as ec2

from hpc_constructs import (
    ComputeFleet,
    ConfigError,
    EfsSpec,
    HpcNetwork,
    LoginNodesSpec,
    LustreSpec,
    NodeGroupSpec,
    SlurmCluster,
    SlurmQueueSpec,
    StorageLayer,
    catalog,
)
from hpc_constructs.bastion import HaBastion
from hpc_constructs.catalog.limits import PCS, PCS_PORTS
from hpc_constructs.catalog.software import EFA_INSTALLER
from tests.cfn_lint import findings
from tests.fleet_invariants import check_layout
from tests.support import cdk_context, new_app, new_stack

AMI = "ami-0123456789abcdef0"
VERSION = "26.05"
INGRESS, EGRESS = "AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"
ENV = {"account": "111122223333", "region": "us-east-1"}


@dataclass
class Built:
    slurm: SlurmCluster  # stack Test: the reference-like cluster
    storage: StorageLayer
    bastion: HaBastion
    fleet: ComputeFleet  # stack Fleet: a ComputeFleet of p5.48xlarge
    options: SlurmCluster  # stack Options: accounting, REST API, explicit queues, login from CIDRs, own role
    network: HpcNetwork  # the Options stack's network
    templates: dict[str, dict[str, Any]]

    def template(self, construct: Any) -> dict[str, Any]:
        return self.templates[Stack.of(construct).stack_name]

    def resource(self, cfn: Any) -> dict[str, Any]:
        found: dict[str, Any] = self.template(cfn)["Resources"][Stack.of(cfn).get_logical_id(cfn)]
        return found


@pytest.fixture(scope="module")
def built() -> Built:
    app = new_app()
    stack = Stack(app, "Test")
    network = HpcNetwork(stack, "Net")
    storage = StorageLayer(stack, "Storage", vpc=network.vpc, subnet=network.cluster_subnet,
                           efs=EfsSpec(mount_point="/shared/home"), lustre=LustreSpec(2_400, "PERSISTENT_2", 250))
    bastion = HaBastion(stack, "Bastion", vpc=network.vpc, allowed_cidrs=["198.51.100.0/24"])
    slurm = SlurmCluster(
        stack, "Slurm", vpc=network.vpc, subnet=network.cluster_subnet, ami_id=AMI, storage=storage,
        slurm_version=VERSION,
        node_groups=[NodeGroupSpec("cpu", ["hpc7a.96xlarge"], max_instances=4),
                     NodeGroupSpec("gpu", ["p5.48xlarge"], max_instances=2),
                     NodeGroupSpec("spot", ["c7i.8xlarge", "c7i-flex.8xlarge"], max_instances=8,
                                   purchase_option="SPOT")],
        login_nodes=LoginNodesSpec(bastion=bastion, count=2))

    fleet_stack = Stack(app, "Fleet")
    fleet_network = HpcNetwork(fleet_stack, "Net")
    fleet = ComputeFleet(fleet_stack, "P5", vpc=fleet_network.vpc, subnet=fleet_network.cluster_subnet,
                         instance_types=["p5.48xlarge"], max_capacity=2)

    options_stack = Stack(app, "Options")
    options_network = HpcNetwork(options_stack, "Net")
    options = SlurmCluster(
        options_stack, "Slurm", vpc=options_network.vpc, ami_id=AMI, cluster_name="research", size="MEDIUM",
        slurm_version=VERSION,
        accounting=True, accounting_purge_days=30, slurm_rest_api=True, slurm_settings={"SrunPortRange": "61000-61999"},
        node_groups=[NodeGroupSpec("cpu", ["c7i.large"]), NodeGroupSpec("big", ["c7i.8xlarge"], min_instances=1),
                     NodeGroupSpec("idle", ["c7i.large"], min_instances=1)],
        queues=[SlurmQueueSpec("all", ["cpu", "big"]),
                SlurmQueueSpec("small", ["cpu"], slurm_settings={"QOS": "normal"})],
        login_nodes=LoginNodesSpec(allowed_cidrs=["198.51.100.0/24", "2001:db8::/32"]),
        node_role_name="AWSPCS-research", node_role_path="/")

    assembly = app.synth()
    return Built(slurm, storage, bastion, fleet, options, options_network,
                 {s.stack_name: s.template for s in assembly.stacks})


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _group_id(construct: Any) -> Any:
    return Stack.of(construct).resolve(construct.security_group_id)


def _rules_between(template: dict[str, Any], a: Any, b: Any) -> set[tuple[str, str, int, int]]:
    """(direction, protocol, from, to) of every rule resource on group a whose peer is group b."""
    rules = set()
    for kind, peer_key, direction in ((INGRESS, "SourceSecurityGroupId", "in"),
                                      (EGRESS, "DestinationSecurityGroupId", "out")):
        for rule in _of_type(template, kind).values():
            p = rule["Properties"]
            if p["GroupId"] == a and p.get(peer_key) == b:
                rules.add((direction, p["IpProtocol"], p.get("FromPort", -1), p.get("ToPort", -1)))
    return rules


def _launch_template(built: Built, slurm: SlurmCluster, name: str) -> dict[str, Any]:
    data: dict[str, Any] = built.resource(
        slurm.node_groups[name].launch_template.node.default_child)["Properties"]["LaunchTemplateData"]
    return data


def _node_group(built: Built, slurm: SlurmCluster, name: str) -> dict[str, Any]:
    return built.resource(slurm.node_groups[name].resource)


def _login(built: Built, slurm: SlurmCluster) -> tuple[dict[str, Any], dict[str, Any]]:
    assert slurm.login_nodes is not None
    group = built.resource(slurm.login_nodes.resource)
    data = built.resource(slurm.login_nodes.launch_template.node.default_child)["Properties"]["LaunchTemplateData"]
    return group, data


def _all_groups(slurm: SlurmCluster) -> list[Any]:
    return [*slurm.node_groups.values(), *([slurm.login_nodes] if slurm.login_nodes else [])]


def _figures(slurm: SlurmCluster) -> dict[str, str]:
    merged: dict[str, str] = {}
    for entry in slurm.node.metadata:
        if entry.type == "hpc:figures":
            merged.update(entry.data)
    return merged


# -- the cluster -------------------------------------------------------------------------------------------------

def test_cluster_is_slurm_newest_version_in_one_subnet(built: Built) -> None:
    slurm = built.slurm
    props = built.resource(slurm.cluster)["Properties"]
    assert props["Scheduler"] == {"Type": "SLURM", "Version": PCS.slurm_versions[-1]}
    assert props["Size"] == "SMALL" and "Name" not in props
    stack = Stack.of(slurm)
    network = next(c for c in stack.node.children if isinstance(c, HpcNetwork))
    assert props["Networking"] == {"SubnetIds": [stack.resolve(network.cluster_subnet.subnet_id)],
                                   "SecurityGroupIds": [_group_id(slurm.controller_security_group)]}


def test_accounting_and_rest_api_are_off_by_default(built: Built) -> None:
    slurm = built.slurm
    assert built.resource(slurm.cluster)["Properties"]["SlurmConfiguration"] == {
        "ScaleDownIdleTimeInSeconds": PCS.default_scale_down_idle_seconds}
    inbound = _rules_between(built.template(slurm), _group_id(slurm.controller_security_group),
                             _group_id(slurm.security_group))
    assert {r for r in inbound if r[0] == "in"} == {("in", "tcp", *PCS_PORTS["slurmctld"])}


def test_accounting_and_rest_api_are_standard_when_on(built: Built) -> None:
    options = built.options
    props = built.resource(options.cluster)["Properties"]
    assert (props["Name"], props["Size"]) == ("research", "MEDIUM")
    assert props["SlurmConfiguration"] == {
        "ScaleDownIdleTimeInSeconds": 600,
        "Accounting": {"Mode": "STANDARD", "DefaultPurgeTimeInDays": 30},
        "SlurmRest": {"Mode": "STANDARD"},
        "SlurmCustomSettings": [{"ParameterName": "SrunPortRange", "ParameterValue": "61000-61999"}]}
    inbound = _rules_between(built.template(options), _group_id(options.controller_security_group),
                             _group_id(options.security_group))
    assert {r for r in inbound if r[0] == "in"} == {("in", "tcp", 6817, 6817), ("in", "tcp", 6819, 6819),
                                                    ("in", "tcp", 6820, 6820)}


def test_controller_and_node_security_group_rules(built: Built) -> None:
    slurm = built.slurm
    template = built.template(slurm)
    controller, nodes = _group_id(slurm.controller_security_group), _group_id(slurm.security_group)
    assert _rules_between(template, controller, nodes) == {
        ("in", "tcp", 6817, 6817), ("out", "tcp", 6818, 6818), ("out", "tcp", 60001, 63000)}
    assert _rules_between(template, nodes, controller) == {("in", "tcp", 6818, 6818), ("in", "tcp", 60001, 63000)}
    assert _rules_between(template, nodes, nodes) == {("in", "-1", -1, -1), ("out", "-1", -1, -1)}
    # the controller's group reaches nothing else: CDK's placeholder is its only inline egress rule
    (group,) = [v for k, v in _of_type(template, "AWS::EC2::SecurityGroup").items()
                if {"Fn::GetAtt": [k, "GroupId"]} == controller]
    assert [r["Description"] for r in group["Properties"]["SecurityGroupEgress"]] == ["Disallow all traffic"]
    assert "SecurityGroupIngress" not in group["Properties"]


def test_srun_rules_follow_srun_port_range(built: Built) -> None:
    options = built.options
    controller, nodes = _group_id(options.controller_security_group), _group_id(options.security_group)
    assert ("out", "tcp", 61000, 61999) in _rules_between(built.template(options), controller, nodes)
    assert ("in", "tcp", 61000, 61999) in _rules_between(built.template(options), nodes, controller)
    assert not [r for r in _rules_between(built.template(options), controller, nodes) if r[2] == 60001]


def test_the_cluster_waits_for_the_slurm_rules(built: Built) -> None:
    slurm = built.slurm
    depends = built.resource(slurm.cluster)["DependsOn"]
    assert set(_slurm_rules(built, slurm)) <= set(depends)


# -- node groups -----------------------------------------------------------------------------------------------

def test_p5_group_has_32_efa_interfaces_laid_out_like_a_compute_fleet(built: Built) -> None:
    interfaces = _launch_template(built, built.slurm, "gpu")["NetworkInterfaces"]
    check_layout(["p5.48xlarge"], interfaces, efa=True)
    assert sum(i["InterfaceType"] in ("efa", "efa-only") for i in interfaces) == 32
    fleet_lt = next(iter(_of_type(built.template(built.fleet), "AWS::EC2::LaunchTemplate").values()))
    fleet_interfaces = fleet_lt["Properties"]["LaunchTemplateData"]["NetworkInterfaces"]
    slots = [(i["NetworkCardIndex"], i["DeviceIndex"], i["InterfaceType"]) for i in interfaces]
    assert slots == [(i["NetworkCardIndex"], i["DeviceIndex"], i["InterfaceType"]) for i in fleet_interfaces]
    assert len(slots) == catalog.instance_type("p5.48xlarge").maximum_efa_interfaces + 1  # + the ENA primary
    assert all("AssociatePublicIpAddress" not in i for i in interfaces)  # EC2 refuses it with several


def test_every_interface_is_in_its_node_groups_subnet_and_security_groups(built: Built) -> None:
    slurm = built.slurm
    nodes = _group_id(slurm.security_group)
    for group in _all_groups(slurm):
        subnets = built.resource(group.resource)["Properties"]["SubnetIds"]
        assert len(subnets) == 1, group.plan.name
        data = built.resource(group.launch_template.node.default_child)["Properties"]["LaunchTemplateData"]
        assert "SecurityGroupIds" not in data
        for interface in data["NetworkInterfaces"]:
            assert interface["SubnetId"] == subnets[0], group.plan.name
            assert interface["Groups"][0] == nodes and interface["DeleteOnTermination"] is True, group.plan.name


def test_efa_groups_have_a_cluster_placement_group(built: Built) -> None:
    slurm = built.slurm
    template = built.template(slurm)
    for name in ("cpu", "gpu"):
        group_name = _launch_template(built, slurm, name)["Placement"]["GroupName"]
        logical = group_name["Fn::GetAtt"][0]
        assert template["Resources"][logical]["Properties"] == {"Strategy": "cluster"}, name
        assert slurm.node_groups[name].placement_group is not None
    assert "Placement" not in _launch_template(built, slurm, "spot")  # c7i-flex has no cluster placement
    assert slurm.node_groups["spot"].placement_group is None
    assert len(_of_type(template, "AWS::EC2::PlacementGroup")) == 2


def test_spot_group_is_spot_price_capacity_optimized_without_efa(built: Built) -> None:
    slurm = built.slurm
    props = _node_group(built, slurm, "spot")["Properties"]
    assert props["PurchaseOption"] == "SPOT"
    assert props["SpotOptions"] == {"AllocationStrategy": "price-capacity-optimized"}
    assert props["InstanceConfigs"] == [{"InstanceType": "c7i.8xlarge"}, {"InstanceType": "c7i-flex.8xlarge"}]
    assert [i["InterfaceType"] for i in _launch_template(built, slurm, "spot")["NetworkInterfaces"]] == ["interface"]
    for name in ("cpu", "gpu"):
        on_demand = _node_group(built, slurm, name)["Properties"]
        assert on_demand["PurchaseOption"] == "ONDEMAND" and "SpotOptions" not in on_demand, name


def test_node_groups_scale_from_their_specs_with_the_ami_and_launch_template(built: Built) -> None:
    slurm = built.slurm
    stack = Stack.of(slurm)
    for name, types, high in (("cpu", ["hpc7a.96xlarge"], 4), ("gpu", ["p5.48xlarge"], 2)):
        props = _node_group(built, slurm, name)["Properties"]
        assert props["Name"] == slurm.node_groups[name].plan.pcs_name == f"{name}-{_digest(types)}"
        assert props["AmiId"] == AMI
        assert props["InstanceConfigs"] == [{"InstanceType": t} for t in types]
        assert props["ScalingConfiguration"] == {"MinInstanceCount": 0, "MaxInstanceCount": high}
        assert props["ClusterId"] == {"Fn::GetAtt": [stack.get_logical_id(slurm.cluster), "Id"]}
        template = stack.get_logical_id(slurm.node_groups[name].launch_template.node.default_child)
        assert props["CustomLaunchTemplate"] == {"TemplateId": {"Ref": template},
                                                 "Version": {"Fn::GetAtt": [template, "LatestVersionNumber"]}}
        assert "SecurityGroupIds" not in props  # PCS refuses them beside a launch template's interfaces


def _digest(types: list[str]) -> str:
    import hashlib

    return hashlib.sha256(",".join(sorted(types)).encode()).hexdigest()[:4]


def test_launch_templates_require_imdsv2_with_hop_limit_1_and_encrypt_the_root(built: Built) -> None:
    for group in _all_groups(built.slurm):
        data = built.resource(group.launch_template.node.default_child)["Properties"]["LaunchTemplateData"]
        assert data["MetadataOptions"] == {"HttpPutResponseHopLimit": 1, "HttpTokens": "required"}, group.plan.name
        assert data["BlockDeviceMappings"] == [{"DeviceName": "/dev/xvda", "Ebs": {
            "DeleteOnTermination": True, "Encrypted": True, "VolumeType": "gp3"}}], group.plan.name


# -- the nodes' role -------------------------------------------------------------------------------------------------

def test_node_role_registers_with_this_cluster_only(built: Built) -> None:
    slurm = built.slurm
    stack = Stack.of(slurm)
    template = built.template(slurm)
    role_id = stack.get_logical_id(slurm.node_role.node.default_child)
    role = template["Resources"][role_id]["Properties"]
    assert role["Path"] == "/aws-pcs/" and "RoleName" not in role
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}}]
    assert role["ManagedPolicyArns"] == [{"Fn::Join": ["", [
        "arn:", {"Ref": "AWS::Partition"}, ":iam::aws:policy/AmazonSSMManagedInstanceCore"]]}]
    policies = [p["Properties"] for p in _of_type(template, "AWS::IAM::Policy").values()]
    statements = [s for p in policies if {"Ref": role_id} in p["Roles"] for s in p["PolicyDocument"]["Statement"]]
    pcs = [s for s in statements if any(a.startswith("pcs:") for a in _actions(s))]
    assert pcs == [{"Action": "pcs:RegisterComputeNodeGroupInstance", "Effect": "Allow",
                    "Resource": {"Fn::GetAtt": [stack.get_logical_id(slurm.cluster), "Arn"]}}]
    assert not [s for s in statements if s["Resource"] == "*" or "*" in _actions(s)]
    profile_id = stack.get_logical_id(slurm.instance_profile)
    assert template["Resources"][profile_id]["Properties"] == {"Path": "/aws-pcs/", "Roles": [{"Ref": role_id}]}
    for group in _all_groups(slurm):
        assert built.resource(group.resource)["Properties"]["IamInstanceProfileArn"] == {
            "Fn::GetAtt": [profile_id, "Arn"]}


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return actions if isinstance(actions, list) else [actions]


def test_node_role_name_with_awspcs_prefix_keeps_its_path(built: Built) -> None:
    options = built.options
    role = built.resource(options.node_role.node.default_child)["Properties"]
    assert (role["RoleName"], role["Path"]) == ("AWSPCS-research", "/")
    assert built.resource(options.instance_profile)["Properties"]["Path"] == "/"


# -- login nodes --------------------------------------------------------------------------------------------------

def test_login_nodes_are_static_in_no_queue_and_reached_only_from_the_bastion(built: Built) -> None:
    slurm = built.slurm
    template = built.template(slurm)
    group, data = _login(built, slurm)
    props = group["Properties"]
    assert props["Name"] == f"login-{_digest(['c7i.large'])}" and props["InstanceConfigs"] == [
        {"InstanceType": "c7i.large"}]
    assert props["ScalingConfiguration"] == {"MinInstanceCount": 2, "MaxInstanceCount": 2}
    assert slurm.login_nodes is not None
    login_id = {"Fn::GetAtt": [Stack.of(slurm).get_logical_id(slurm.login_nodes.resource), "Id"]}
    assert not [q for q in _of_type(template, "AWS::PCS::Queue").values() if login_id in [
        c["ComputeNodeGroupId"] for c in q["Properties"]["ComputeNodeGroupConfigurations"]]]
    # private: the cluster's subnet, no public IP
    assert props["SubnetIds"] == built.resource(slurm.node_groups["cpu"].resource)["Properties"]["SubnetIds"]
    (interface,) = data["NetworkInterfaces"]
    assert interface["AssociatePublicIpAddress"] is False
    assert slurm.login_security_group is not None
    login_sg = _group_id(slurm.login_security_group)
    assert interface["Groups"] == [_group_id(slurm.security_group), login_sg]
    # SSH only, only from the bastion's security group
    ingress = [r["Properties"] for r in _of_type(template, INGRESS).values() if r["Properties"]["GroupId"] == login_sg]
    assert [(r["IpProtocol"], r["FromPort"], r["ToPort"], r["SourceSecurityGroupId"]) for r in ingress] == [
        ("tcp", 22, 22, _group_id(built.bastion.security_group))]
    (login_group,) = [v for k, v in _of_type(template, "AWS::EC2::SecurityGroup").items()
                      if {"Fn::GetAtt": [k, "GroupId"]} == login_sg]
    assert "SecurityGroupIngress" not in login_group["Properties"]


def test_login_nodes_from_allowed_cidrs_are_public_and_admit_only_them(built: Built) -> None:
    options = built.options
    stack = Stack.of(options)
    group, data = _login(built, options)
    public = stack.resolve(built.network.vpc.public_subnets[0].subnet_id)
    assert group["Properties"]["SubnetIds"] == [public]
    (interface,) = data["NetworkInterfaces"]
    assert interface["AssociatePublicIpAddress"] is True and interface["SubnetId"] == public
    assert options.login_security_group is not None
    login_sg = _group_id(options.login_security_group)
    (login_group,) = [v for k, v in _of_type(built.template(options), "AWS::EC2::SecurityGroup").items()
                      if {"Fn::GetAtt": [k, "GroupId"]} == login_sg]
    rules = login_group["Properties"]["SecurityGroupIngress"]
    assert [(r.get("CidrIp") or r.get("CidrIpv6"), r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in rules] == [
        ("198.51.100.0/24", "tcp", 22, 22), ("2001:db8::/32", "tcp", 22, 22)]
    assert not [r for r in _of_type(built.template(options), INGRESS).values()
                if r["Properties"]["GroupId"] == login_sg]
    # the compute nodes stay private
    cpu = _launch_template(built, options, "cpu")["NetworkInterfaces"][0]
    assert cpu["AssociatePublicIpAddress"] is False and cpu["SubnetId"] != public


# -- queues --------------------------------------------------------------------------------------------------------

def _queues(built: Built, slurm: SlurmCluster) -> dict[str, dict[str, Any]]:
    return {name: built.resource(queue)["Properties"] for name, queue in slurm.queues.items()}


def _group_ref(slurm: SlurmCluster, name: str) -> dict[str, Any]:
    return {"ComputeNodeGroupId": {"Fn::GetAtt": [Stack.of(slurm).get_logical_id(slurm.node_groups[name].resource),
                                                  "Id"]}}


def test_default_queues_one_per_node_group(built: Built) -> None:
    slurm = built.slurm
    queues = _queues(built, slurm)
    assert sorted(queues) == ["cpu", "gpu", "spot"]
    assert len(_of_type(built.template(slurm), "AWS::PCS::Queue")) == 3
    for name, props in queues.items():
        assert props["Name"] == name and props["ComputeNodeGroupConfigurations"] == [_group_ref(slurm, name)]
        assert props["ClusterId"] == {"Fn::GetAtt": [Stack.of(slurm).get_logical_id(slurm.cluster), "Id"]}
        assert "SlurmConfiguration" not in props


def test_a_queue_with_two_node_groups_and_a_group_in_two_queues(built: Built) -> None:
    options = built.options
    queues = _queues(built, options)
    assert sorted(queues) == ["all", "small"]
    assert queues["all"]["ComputeNodeGroupConfigurations"] == [_group_ref(options, "cpu"), _group_ref(options, "big")]
    assert queues["small"]["ComputeNodeGroupConfigurations"] == [_group_ref(options, "cpu")]
    assert queues["small"]["SlurmConfiguration"] == {
        "SlurmCustomSettings": [{"ParameterName": "QOS", "ParameterValue": "normal"}]}


def test_an_unqueued_group_with_static_nodes_is_a_warning(built: Built) -> None:
    idle = built.options.node_groups["idle"]
    warnings = [str(m.data) for m in idle.node.metadata if m.type == "aws:cdk:warning"]
    assert len(warnings) == 1 and "No queue names node group idle" in warnings[0]
    assert "1 static nodes run and cost money" in warnings[0]
    assert not [m for m in built.options.node_groups["cpu"].node.metadata if m.type == "aws:cdk:warning"]


# -- ordering, storage, user data ----------------------------------------------------------------------------------

def _slurm_rules(built: Built, slurm: SlurmCluster) -> list[str]:
    """The rule resources between the controller's and the nodes' groups, and of the nodes' group with itself."""
    groups = {json.dumps(_group_id(slurm.controller_security_group)), json.dumps(_group_id(slurm.security_group))}
    return [k for k, v in built.template(slurm)["Resources"].items() if v["Type"] in (INGRESS, EGRESS)
            and json.dumps(v["Properties"]["GroupId"]) in groups
            and json.dumps(v["Properties"].get("SourceSecurityGroupId",
                                               v["Properties"].get("DestinationSecurityGroupId"))) in groups]


def test_every_node_group_waits_for_the_rules_the_role_and_the_storage(built: Built) -> None:
    slurm, storage = built.slurm, built.storage
    stack = Stack.of(slurm)
    template = built.template(slurm)
    slurm_rules = _slurm_rules(built, slurm)
    assert len(slurm_rules) == 7  # self in/out, 6817 in, 6818 and srun out and in
    policy = stack.get_logical_id(slurm.node_role.node.find_child("DefaultPolicy").node.default_child)
    nodes = _group_id(slurm.security_group)
    storage_groups = [_group_id(g) for g in storage.connections.security_groups]
    assert len(storage_groups) == 2  # Lustre and EFS
    pairs = [{json.dumps(nodes), json.dumps(g)} for g in storage_groups]
    storage_rules = [k for k, v in template["Resources"].items() if v["Type"] in (INGRESS, EGRESS) and {
        json.dumps(v["Properties"]["GroupId"]),
        json.dumps(v["Properties"].get("SourceSecurityGroupId", v["Properties"].get("DestinationSecurityGroupId")))}
        in pairs]
    assert len(storage_rules) == 7  # Lustre 988 and 1018-1023 both ways and back, EFS 2049
    mount_targets = list(_of_type(template, "AWS::EFS::MountTarget"))
    for group in _all_groups(slurm):
        depends = set(built.resource(group.resource)["DependsOn"])
        assert set(slurm_rules) <= depends, group.plan.name
        assert policy in depends, group.plan.name
        assert set(storage_rules) <= depends and set(mount_targets) <= depends, group.plan.name


def _user_data(built: Built, slurm: SlurmCluster, name: str) -> str:
    return json.dumps(_launch_template(built, slurm, name)["UserData"])


def test_each_node_group_has_its_own_user_data_with_the_shared_steps(built: Built) -> None:
    """The mounts, the metadata guard and the drain on every node; the EFA installer only where the group uses EFA
    (the login and Spot groups have none)."""
    slurm = built.slurm
    texts = {name: _user_data(built, slurm, name) for name in slurm.node_groups}
    _, data = _login(built, slurm)
    texts["login"] = json.dumps(data["UserData"])
    efa = f"hpc_step 'EFA software {EFA_INSTALLER.version}' /usr/local/sbin/hpc-efa-install"
    for name, text in texts.items():
        assert text.startswith('{"Fn::Base64": {"Fn::Join": ["", ["Content-Type: multipart/mixed'), name
        assert "MIME-Version: 1.0" in text and "Content-Type: text/x-shellscript" in text, name
        assert "hpc_step 'mount /fsx (Lustre)' /usr/local/sbin/hpc-mount /fsx lustre" in text, name
        assert "hpc_step 'mount /shared/home (EFS)' /usr/local/sbin/hpc-mount /shared/home nfs4" in text, name
        assert "ExecStart=/usr/local/sbin/hpc-imds-guard --non-root" in text, name
        assert "systemctl enable --now hpc-imds-guard.service" in text, name
        assert "hpc_slurm_drain_on_failure" in text and "hpc-slurm-drain.service" in text, name
        assert (efa in text) is (name in ("cpu", "gpu")), name
        # the group's own steps come before the shared ones: EFA before the mounts
        if efa in text:
            assert text.index(efa) < text.index("mount /fsx (Lustre)"), name
    assert len(set(texts.values())) == 2  # cpu and gpu alike (EFA), spot and login alike (none)


def test_a_failed_boot_step_drains_the_node_before_the_report(built: Built) -> None:
    text = _user_data(built, built.slurm, "cpu")
    trap = text[text.index("function exitTrap()"):text.index("trap exitTrap EXIT")]
    assert trap.index("hpc_slurm_drain_on_failure") < trap.index("hpc_boot_report")  # the report exits 1


def test_user_data_without_efa_or_storage_has_neither(built: Built) -> None:
    text = _user_data(built, built.options, "cpu")
    assert "multipart/mixed" in text
    assert "hpc-efa-install" not in text and "hpc-mount" not in text


def test_cfn_lint_finds_nothing(built: Built) -> None:
    for name in ("Test", "Options"):
        assert findings(built.templates[name]) == [], name


# -- figures -------------------------------------------------------------------------------------------------------

def test_figures_show_each_queue_with_its_efa_bandwidth_and_the_size_headroom(built: Built) -> None:
    figures = _figures(built.slurm)
    p5 = catalog.instance_type("p5.48xlarge")
    assert figures["queue gpu"] == (f"gpu: up to 2 x p5.48xlarge On-Demand, EFA {p5.network_bandwidth_gbps:g} Gbps per "
                                    "node (32 interfaces)")
    assert "EFA" in figures["queue cpu"] and figures["queue spot"].endswith("Spot, no EFA")
    # 4 cpu + 2 gpu + 8 spot + 2 login
    assert figures["size tier"] == "SMALL: 16 of 32 nodes at full scale (headroom 16), up to 256 jobs"
    assert figures["login nodes"] == "2 x c7i.large, SSH through the bastion"
    names = figures["node groups (PCS names, Slurm node names <name>-<n>)"]
    assert names.startswith(f"cpu: cpu-{_digest(['hpc7a.96xlarge'])}, gpu: gpu-") and "login: login-" in names
    assert (figures["accounting"], figures["Slurm REST API"]) == ("off", "off")
    assert _figures(built.options)["queue all"].startswith("cpu: up to 4 x c7i.large On-Demand, no EFA; big: ")


# -- construct-time refusals and the sample AMI lookup -----------------------------------------------------------

def _cluster(stack: Stack | None = None, vpc: ec2.IVpc | None = None, **props: Any) -> SlurmCluster:
    stack = stack or new_stack()
    vpc = vpc or HpcNetwork(stack, "Net").vpc
    props.setdefault("node_groups", [NodeGroupSpec("cpu", ["c7i.large"])])
    props.setdefault("ami_id", AMI)
    props.setdefault("slurm_version", VERSION)
    return SlurmCluster(stack, "Slurm", vpc=vpc, **props)


@pytest.mark.parametrize(("props", "message"), [
    ({"cluster_name": "ab"}, "Test/Slurm: cluster_name='ab' is not allowed"),
    ({"size": "HUGE"}, "Test/Slurm: size='HUGE' is not allowed"),
    ({"node_groups": [NodeGroupSpec("cpu", ["c7i.large"], purchase_option="CAPACITY_BLOCK")]},
     "Test/Slurm/cpu: purchase_option='CAPACITY_BLOCK' is not allowed"),
    ({"node_role_name": "MyNodes", "node_role_path": "/"}, "Test/Slurm: node_role_name='MyNodes' is not allowed"),
    ({"login_nodes": LoginNodesSpec(allowed_cidrs=["0.0.0.0/0"])},
     "Test/Slurm/login: allowed_cidrs='0.0.0.0/0' is not allowed"),
    ({"ami_id": None}, "Test/Slurm/cpu: ami_id=None is not allowed"),
], ids=["cluster_name", "size", "purchase_option", "node_role", "allowed_cidrs", "ami_id"])
def test_config_errors_name_the_construct_path(props: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        _cluster(**props)
    assert str(error.value).startswith(message)


def test_without_env_or_ami_the_error_explains_the_lookup() -> None:
    with pytest.raises(ConfigError, match="ami_id=None.*or a stack with an account and region.*env="):
        _cluster(ami_id=None)


def test_login_from_cidrs_in_a_vpc_without_public_subnets_is_refused() -> None:
    stack = new_stack()
    vpc = ec2.Vpc(stack, "Private", max_azs=1, nat_gateways=0, subnet_configuration=[
        ec2.SubnetConfiguration(name="Iso", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)])
    with pytest.raises(ConfigError, match="Test/Slurm/login: subnet=None is not allowed.*no public subnet"):
        _cluster(stack, vpc, login_nodes=LoginNodesSpec(allowed_cidrs=["198.51.100.0/24"]))


def test_efa_install_in_an_isolated_subnet_is_refused() -> None:
    stack = new_stack()
    vpc = ec2.Vpc(stack, "Iso", max_azs=1, nat_gateways=0, subnet_configuration=[
        ec2.SubnetConfiguration(name="Iso", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)])
    with pytest.raises(ConfigError, match="Test/Slurm/cpu: install_efa_software=True"):
        _cluster(stack, vpc, node_groups=[NodeGroupSpec("cpu", ["hpc7a.96xlarge"])])


def test_without_ami_a_stack_with_env_looks_up_the_sample_ami_per_architecture() -> None:
    """The lookup leaves CDK's placeholder AMI and a missing-context entry that the CLI resolves.

    With cdk.json's context as `cdk synth` sees it: the placeholder, ami-1234, would fail
    '@aws-cdk/core:validateAgainstDefaultRules' (CloudFormation-Validate::E1152) before the CLI could look the
    AMI up, so the construct acknowledges that finding while the lookup is pending.
    """
    app = App(context=cdk_context())
    stack = Stack(app, "Lookup", env=ENV)
    vpc = ec2.Vpc(stack, "Vpc", max_azs=1, nat_gateways=1)
    slurm = SlurmCluster(stack, "Slurm", vpc=vpc, slurm_version=VERSION,
                         node_groups=[NodeGroupSpec("cpu", ["c7i.large"]), NodeGroupSpec("arm", ["c7g.large"])])
    assert [g.ami_id for g in slurm.plan.node_groups] == [None, None]
    assembly = app.synth()
    missing = json.loads((Path(assembly.directory) / "manifest.json").read_text())["missing"]
    lookups = {m["props"]["filters"]["name"][0]: m["props"] for m in missing if m["provider"] == "ami"}
    # One sample AMI per OS and architecture carries every Slurm version that is not EOL; its description lists
    # them ('Sample AMIs for AWS PCS'): the lookup asks for the one that names the cluster's version.
    assert set(lookups) == {f"aws-pcs-sample_ami-al2023-{arch}*" for arch in ("x86_64", "arm64")}
    assert all(p["filters"]["description"] == [f"*{VERSION}*"] for p in lookups.values())
    assert all(p["owners"] == ["amazon"] and (p["account"], p["region"]) == (ENV["account"], ENV["region"])
               for p in lookups.values())
    template = assembly.get_stack_by_name("Lookup").template
    dummy = {p["dummyValue"] for p in lookups.values()}
    assert {g["Properties"]["AmiId"] for g in _of_type(template, "AWS::PCS::ComputeNodeGroup").values()} == dummy
