"""AWS Parallel Computing Service on the local emulator: a hand-written template created, read back through boto3's
`pcs` client, and deleted, in-process.

moto has no PCS; scripts/emulator creates the clusters, node groups and queues, checks what PCS would look up (the
cluster, the node groups a queue serves, the launch template, subnets and instance profile) and serves the read-only
PCS API. A template with a dangling reference fails and rolls back, as it would on AWS.
"""

from __future__ import annotations

import copy
import ipaddress
import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from moto import mock_aws

from scripts.emulator import install
from scripts.emulator.readback import inventory, read_back
from tests.deploy.conftest import ACCOUNT, REGION

SUBNET_CIDR = "10.40.1.0/24"

Client = Callable[[str], Any]


def _network() -> dict[str, Any]:
    """A VPC with one subnet and a security group: what the cluster and its nodes are placed in."""
    return {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.40.0.0/16"}},
        "Subnet": {"Type": "AWS::EC2::Subnet", "Properties": {
            "VpcId": {"Ref": "Vpc"}, "CidrBlock": SUBNET_CIDR, "AvailabilityZone": f"{REGION}a"}},
        "ClusterSg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "GroupDescription": "PCS controller and nodes", "VpcId": {"Ref": "Vpc"}}},
    }


def _cluster() -> dict[str, Any]:
    return {"Cluster": {"Type": "AWS::PCS::Cluster", "Properties": {
        "Name": "hpc-pcs", "Size": "SMALL", "Scheduler": {"Type": "SLURM", "Version": "24.11"},
        "Networking": {"SubnetIds": [{"Ref": "Subnet"}],
                       "SecurityGroupIds": [{"Fn::GetAtt": ["ClusterSg", "GroupId"]}]},
        "SlurmConfiguration": {"SlurmRest": {"Mode": "STANDARD"}, "Accounting": {"Mode": "STANDARD"}},
    }}}


def _node_group(name: str, cluster_id: Any, instance_types: list[str], scaling: tuple[int, int],
                **extra: Any) -> dict[str, Any]:
    return {"Type": "AWS::PCS::ComputeNodeGroup", "Properties": {
        "ClusterId": cluster_id, "Name": name, "SubnetIds": [{"Ref": "Subnet"}],
        "InstanceConfigs": [{"InstanceType": t} for t in instance_types],
        "ScalingConfiguration": {"MinInstanceCount": scaling[0], "MaxInstanceCount": scaling[1]},
        "IamInstanceProfileArn": {"Fn::GetAtt": ["NodeProfile", "Arn"]},
        "CustomLaunchTemplate": {"TemplateId": {"Ref": "NodeTemplate"},
                                 "Version": {"Fn::GetAtt": ["NodeTemplate", "LatestVersionNumber"]}},
        **extra,
    }}


def _nodes(cluster_id: Any) -> dict[str, Any]:
    """The nodes' launch template and instance profile, a login group and a Spot compute group."""
    return {
        "NodeTemplate": {"Type": "AWS::EC2::LaunchTemplate", "Properties": {"LaunchTemplateData": {
            "SecurityGroupIds": [{"Fn::GetAtt": ["ClusterSg", "GroupId"]}]}}},
        "NodeRole": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "ec2.amazonaws.com"}}]}}},
        "NodeProfile": {"Type": "AWS::IAM::InstanceProfile", "Properties": {"Roles": [{"Ref": "NodeRole"}]}},
        "LoginNodes": _node_group("login", cluster_id, ["c7i.large"], (1, 1)),
        "ComputeNodes": _node_group("compute", cluster_id, ["hpc7a.96xlarge", "c7a.48xlarge"], (0, 16),
                                    PurchaseOption="SPOT"),
    }


def _queue(cluster_id: Any) -> dict[str, Any]:
    return {"Queue": {"Type": "AWS::PCS::Queue", "Properties": {
        "ClusterId": cluster_id, "Name": "batch",
        "ComputeNodeGroupConfigurations": [{"ComputeNodeGroupId": {"Fn::GetAtt": ["ComputeNodes", "Id"]}}],
    }}}


def _template() -> dict[str, Any]:
    cluster_id = {"Fn::GetAtt": ["Cluster", "Id"]}
    return {
        "Resources": {**_network(), **_cluster(), **_nodes(cluster_id), **_queue(cluster_id)},
        "Outputs": {"ClusterId": {"Value": cluster_id}, "ClusterArn": {"Value": {"Ref": "Cluster"}},
                    "QueueArn": {"Value": {"Fn::GetAtt": ["Queue", "Arn"]}}},
    }


def _create(client: Client, name: str, template: dict[str, Any], parameters: dict[str, str] | None = None
            ) -> dict[str, Any]:
    """Create a stack by a change set, as `cdk deploy` does; its status, outputs and failure reasons."""
    cfn = client("cloudformation")
    change_set = cfn.create_change_set(
        StackName=name, ChangeSetName="deploy", ChangeSetType="CREATE", TemplateBody=json.dumps(template),
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()])
    cfn.execute_change_set(ChangeSetName=change_set["Id"])
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    events = cfn.describe_stack_events(StackName=name)["StackEvents"]
    return {"status": stack["StackStatus"],
            "outputs": {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
            "failed": {e["LogicalResourceId"]: e.get("ResourceStatusReason", "") for e in events
                       if e["ResourceStatus"] == "CREATE_FAILED"}}


def _delete(client: Client, name: str) -> str:
    """The stack's status after DeleteStack: gone (DELETE_COMPLETE) or DELETE_FAILED."""
    cfn = client("cloudformation")
    cfn.delete_stack(StackName=name)
    stacks = {s["StackName"]: s["StackStatus"] for s in cfn.describe_stacks()["Stacks"]}
    return str(stacks.get(name, "DELETE_COMPLETE"))


@pytest.fixture(scope="module")
def deployed(emulator: Client) -> dict[str, Any]:
    baseline = inventory(emulator)
    created = _create(emulator, "PcsEmulator", _template())
    pcs = emulator("pcs")
    clusters = [pcs.get_cluster(clusterIdentifier=c["id"])["cluster"] for c in pcs.list_clusters()["clusters"]
                if c["name"] == "hpc-pcs"]
    cluster_id = clusters[0]["id"] if clusters else ""
    groups = [pcs.get_compute_node_group(clusterIdentifier=cluster_id, computeNodeGroupIdentifier=g["id"])
              ["computeNodeGroup"] for g in pcs.list_compute_node_groups(clusterIdentifier=cluster_id)
              ["computeNodeGroups"]] if cluster_id else []
    queues = [pcs.get_queue(clusterIdentifier=cluster_id, queueIdentifier=q["id"])["queue"]
              for q in pcs.list_queues(clusterIdentifier=cluster_id)["queues"]] if cluster_id else []
    rows = read_back(emulator)
    during = inventory(emulator) - baseline
    status = _delete(emulator, "PcsEmulator")
    return {**created, "clusters": clusters, "groups": groups, "queues": queues, "rows": rows, "during": during,
            "deleted": status, "left": inventory(emulator) - baseline}


def test_the_stack_is_created(deployed: dict[str, Any]) -> None:
    assert deployed["status"] == "CREATE_COMPLETE", deployed["failed"]


def test_attributes_are_what_the_schema_defines(deployed: dict[str, Any]) -> None:
    outputs = deployed["outputs"]
    cluster_id = outputs["ClusterId"]
    assert cluster_id.startswith("pcs_") and len(cluster_id) == 14 and cluster_id[4:].isalnum()
    assert outputs["ClusterArn"] == f"arn:aws:pcs:{REGION}:{ACCOUNT}:cluster/{cluster_id}"  # Ref is the ARN
    assert outputs["QueueArn"].startswith(f"arn:aws:pcs:{REGION}:{ACCOUNT}:queue/{cluster_id}/pcs_")


def test_the_cluster_reads_back_through_the_pcs_api(deployed: dict[str, Any]) -> None:
    [cluster] = deployed["clusters"]
    assert (cluster["status"], cluster["size"], cluster["scheduler"]) == (
        "ACTIVE", "SMALL", {"type": "SLURM", "version": "24.11"})
    ports = {e["type"]: e["port"] for e in cluster["endpoints"]}
    assert ports == {"SLURMCTLD": "6817", "SLURMRESTD": "6820", "SLURMDBD": "6819"}
    addresses = {e["privateIpAddress"] for e in cluster["endpoints"]}
    assert len(addresses) == 1 and ipaddress.ip_address(addresses.pop()) in ipaddress.ip_network(SUBNET_CIDR)


def test_node_groups_and_queue_read_back(deployed: dict[str, Any]) -> None:
    groups = {g["name"]: g for g in deployed["groups"]}
    assert sorted(groups) == ["compute", "login"]
    compute = groups["compute"]
    assert compute["arn"] == (f"arn:aws:pcs:{REGION}:{ACCOUNT}:computenodegroup/"
                              f"{deployed['outputs']['ClusterId']}/{compute['id']}")
    assert (compute["purchaseOption"], compute["scalingConfiguration"]) == (
        "SPOT", {"minInstanceCount": 0, "maxInstanceCount": 16})
    assert compute["customLaunchTemplate"]["id"].startswith("lt-")
    [queue] = deployed["queues"]
    assert [c["computeNodeGroupId"] for c in queue["computeNodeGroupConfigurations"]] == [compute["id"]]


def test_read_back_table_and_inventory_list_pcs(deployed: dict[str, Any]) -> None:
    rows = {(what, name): detail for what, name, detail in deployed["rows"] if what.startswith("PCS")}
    assert rows[("PCS cluster", "hpc-pcs")].startswith("SMALL, Slurm 24.11, ACTIVE, endpoints SLURMCTLD 10.40.1.")
    assert rows[("PCS node group", "compute")].startswith("hpc7a.96xlarge, c7a.48xlarge, 0-16 instances, SPOT, "
                                                          "launch template lt-")
    assert rows[("PCS node group", "login")].startswith("c7i.large, 1-1 instances, ONDEMAND")
    assert rows[("PCS queue", "batch")] == "-> compute"
    kinds = sorted(kind for kind, _ in deployed["during"] if kind.startswith("PCS"))
    assert kinds == ["PCS cluster", "PCS compute node group", "PCS compute node group", "PCS queue"]
    assert any(kind == "network interface" and "AWS PCS cluster" in ident for kind, ident in deployed["during"])


def test_delete_leaves_nothing(deployed: dict[str, Any]) -> None:
    assert deployed["deleted"] == "DELETE_COMPLETE"
    assert deployed["left"] == set()


def _dangling_queue(template: dict[str, Any]) -> None:
    template["Resources"]["Queue"]["Properties"]["ComputeNodeGroupConfigurations"] = [
        {"ComputeNodeGroupId": "pcs_0123456789"}]


def _ref_as_cluster_id(template: dict[str, Any]) -> None:
    template["Resources"]["LoginNodes"]["Properties"]["ClusterId"] = {"Ref": "Cluster"}


def _missing_profile(template: dict[str, Any]) -> None:
    template["Resources"]["ComputeNodes"]["Properties"]["IamInstanceProfileArn"] = (
        f"arn:aws:iam::{ACCOUNT}:instance-profile/no-such-profile")


def _missing_launch_template(template: dict[str, Any]) -> None:
    template["Resources"]["ComputeNodes"]["Properties"]["CustomLaunchTemplate"] = {
        "TemplateId": "lt-0123456789abcdef0", "Version": "1"}


@pytest.mark.parametrize(("break_template", "resource", "reason"), [
    (_dangling_queue, "Queue", "compute node group pcs_0123456789 does not exist"),
    (_ref_as_cluster_id, "LoginNodes", "that is an ARN, what Ref returns"),
    (_missing_profile, "ComputeNodes", "no-such-profile"),
    (_missing_launch_template, "ComputeNodes", "lt-0123456789abcdef0"),
])
def test_a_dangling_reference_fails_and_rolls_back(emulator: Client, break_template: Callable[[dict[str, Any]], None],
                                                   resource: str, reason: str) -> None:
    baseline = inventory(emulator)
    template = copy.deepcopy(_template())
    break_template(template)
    name = f"PcsBroken{break_template.__name__.title().replace('_', '')}"
    created = _create(emulator, name, template)
    assert created["status"] == "ROLLBACK_COMPLETE"
    assert list(created["failed"]) == [resource] and reason in created["failed"][resource]
    assert inventory(emulator) - baseline == set()
    assert _delete(emulator, name) == "DELETE_COMPLETE"


def test_a_cluster_with_node_groups_is_not_deleted(emulator: Client) -> None:
    """The cluster in one stack, its node groups in another: deleting the cluster's stack first fails, as PCS
    refuses to delete a cluster that has node groups; once they are gone, it succeeds."""
    baseline = inventory(emulator)
    cluster_stack = {"Resources": {**_network(), **_cluster()}, "Outputs": {
        "ClusterId": {"Value": {"Fn::GetAtt": ["Cluster", "Id"]}}, "Subnet": {"Value": {"Ref": "Subnet"}},
        "Sg": {"Value": {"Fn::GetAtt": ["ClusterSg", "GroupId"]}}}}
    outputs = _create(emulator, "PcsClusterOnly", cluster_stack)["outputs"]
    nodes = _nodes({"Ref": "ClusterId"})
    nodes["NodeTemplate"]["Properties"]["LaunchTemplateData"]["SecurityGroupIds"] = [{"Ref": "Sg"}]
    node_stack = {"Parameters": {k: {"Type": "String"} for k in ("ClusterId", "Subnet", "Sg")}, "Resources": nodes}
    assert _create(emulator, "PcsNodesOnly", node_stack, outputs)["status"] == "CREATE_COMPLETE"
    assert _delete(emulator, "PcsClusterOnly") == "DELETE_FAILED"
    events = emulator("cloudformation").describe_stack_events(StackName="PcsClusterOnly")["StackEvents"]
    reasons = [e.get("ResourceStatusReason", "") for e in events if e["ResourceStatus"] == "DELETE_FAILED"]
    assert any("still has compute node groups or queues: compute, login" in r for r in reasons)
    assert _delete(emulator, "PcsNodesOnly") == "DELETE_COMPLETE"
    assert _delete(emulator, "PcsClusterOnly") == "DELETE_COMPLETE"
    assert inventory(emulator) - baseline == set()


def test_mock_aws_routes_pcs_in_process() -> None:
    """Without a server: moto's botocore stubber sends pcs.REGION.amazonaws.com to the emulator's PCS actions."""
    install()
    with mock_aws():
        client = boto3.session.Session(region_name=REGION).client
        created = _create(client, "PcsInProcess", {"Resources": {**_network(), **_cluster()}})
        assert created["status"] == "CREATE_COMPLETE", created["failed"]
        pcs = client("pcs")
        assert [c["name"] for c in pcs.list_clusters()["clusters"]] == ["hpc-pcs"]
        with pytest.raises(pcs.exceptions.ResourceNotFoundException):
            pcs.get_cluster(clusterIdentifier="no-such-cluster")
        assert _delete(client, "PcsInProcess") == "DELETE_COMPLETE"
        assert pcs.list_clusters()["clusters"] == []
