"""hpc-verify's reading of a cloud assembly, on small hand-written ones: intrinsic functions, cross-stack references
(Fn::ImportValue and exports, CDK's Fn::GetStackOutput), nested stacks (parameters in, outputs out), the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hpc_constructs.verify import Assembly, AssemblyError, Checker
from hpc_constructs.verify.cli import main
from tests.verify.support import logical_id


def _vpc() -> dict[str, Any]:
    """A VPC with a private subnet in each of two AZs, each routed through the NAT gateway in the first AZ."""
    az = {i: {"Fn::Select": [i, {"Fn::GetAZs": ""}]} for i in (0, 1)}
    return {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "Igw": {"Type": "AWS::EC2::InternetGateway"},
        "Attach": {"Type": "AWS::EC2::VPCGatewayAttachment",
                   "Properties": {"VpcId": {"Ref": "Vpc"}, "InternetGatewayId": {"Ref": "Igw"}}},
        "Public": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.0.0/24",
                                                               "AvailabilityZone": az[0]}},
        "PublicTable": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "Vpc"}}},
        "PublicAssoc": {"Type": "AWS::EC2::SubnetRouteTableAssociation",
                        "Properties": {"SubnetId": {"Ref": "Public"}, "RouteTableId": {"Ref": "PublicTable"}}},
        "PublicDefault": {"Type": "AWS::EC2::Route", "Properties": {
            "RouteTableId": {"Ref": "PublicTable"}, "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": {"Ref": "Igw"}}},
        "Nat": {"Type": "AWS::EC2::NatGateway", "Properties": {"SubnetId": {"Ref": "Public"}}},
        **{f"Private{i}": {"Type": "AWS::EC2::Subnet", "Properties": {
            "VpcId": {"Ref": "Vpc"}, "CidrBlock": f"10.0.{i + 1}.0/24", "AvailabilityZone": az[i]}} for i in (0, 1)},
        "PrivateTable": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "Vpc"}}},
        **{f"PrivateAssoc{i}": {"Type": "AWS::EC2::SubnetRouteTableAssociation", "Properties": {
            "SubnetId": {"Ref": f"Private{i}"}, "RouteTableId": {"Ref": "PrivateTable"}}} for i in (0, 1)},
        "PrivateDefault": {"Type": "AWS::EC2::Route", "Properties": {
            "RouteTableId": {"Ref": "PrivateTable"}, "DestinationCidrBlock": "0.0.0.0/0",
            "NatGatewayId": {"Ref": "Nat"}}},
    }


def _nodes_template(vpc: Any, subnets: list[Any], *, declare: list[dict[str, Any]]) -> dict[str, Any]:
    """A security group and an Auto Scaling group of nodes in `subnets`, with the declarations on the group."""
    return {"Resources": {
        "Group": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "GroupDescription": "nodes", "VpcId": vpc,
            "SecurityGroupEgress": [{"IpProtocol": "-1", "CidrIp": "0.0.0.0/0"}]}},
        "Template": {"Type": "AWS::EC2::LaunchTemplate", "Properties": {"LaunchTemplateData": {
            "SecurityGroupIds": [{"Fn::GetAtt": ["Group", "GroupId"]}]}}},
        "Nodes": {"Type": "AWS::AutoScaling::AutoScalingGroup", "Properties": {
            "MinSize": "0", "MaxSize": "2", "VPCZoneIdentifier": subnets,
            "LaunchTemplate": {"LaunchTemplateId": {"Ref": "Template"}, "Version": "1"}},
            "Metadata": {"hpc:paths": declare}},
    }}


def _ssm(stack: list[str]) -> dict[str, Any]:
    return {"path": "nodes to SSM", "kind": "service", "services": ["ssm"], "port": 443,
            "from": {"nodes": {"hpc:ref": [*stack, "Nodes"]}, "name": "nodes"}}


def test_the_checker_starts_neither_aws_cdk_lib_nor_node() -> None:
    """hpc_constructs imports its public names on first use: the checker stays pure Python (and fast)."""
    code = "import sys, hpc_constructs.verify.cli; print(sorted(m for m in sys.modules if m.split('.')[0] in " \
           "('aws_cdk', 'jsii', 'constructs')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_every_public_name_still_imports() -> None:
    import hpc_constructs

    for name in hpc_constructs.__all__:
        assert getattr(hpc_constructs, name) is not None, name
    from hpc_constructs import ComputeFleet, catalog  # noqa: F401 (the usual spelling works)


def test_intrinsic_functions_evaluate_as_cloudformation_would() -> None:
    template = {
        "Parameters": {"Env": {"Type": "String", "Default": "prod"}},
        "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]}},
        "Mappings": {"Ports": {"ssh": {"port": "22"}}},
        "Resources": {"Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "data"}},
                      "Gone": {"Type": "AWS::S3::Bucket", "Condition": "IsTest"}},
        "Outputs": {}}
    template["Conditions"]["IsTest"] = {"Fn::Not": [{"Condition": "IsProd"}]}
    assembly = Assembly.from_templates({"S": template}, region="eu-west-1", account="123456789012")
    stack = assembly.stack("S")
    value = assembly.value
    assert value(stack, {"Fn::Join": ["/", [{"Fn::GetAtt": ["Bucket", "Arn"]}, "*"]]}) == "arn:aws:s3:::data/*"
    assert value(stack, {"Fn::Sub": ["arn:${AWS::Partition}:s3:::${Bucket}/${Key}", {"Key": "k"}]}) == \
        "arn:aws:s3:::data/k"
    assert value(stack, {"Fn::Select": [1, {"Fn::GetAZs": ""}]}) == "eu-west-1b"
    assert value(stack, {"Fn::If": ["IsProd", "yes", "no"]}) == "yes"
    assert value(stack, {"Fn::FindInMap": ["Ports", "ssh", "port"]}) == "22"
    assert value(stack, {"Fn::Split": [",", "a,b"]}) == ["a", "b"]
    assert [r.logical_id for r in assembly.resources()] == ["Bucket"]  # Gone's condition is false
    assert assembly.owner("arn:aws:s3:::data/some/key") == next(assembly.resources("AWS::S3::Bucket"))


def test_an_export_and_an_import_join_two_stacks() -> None:
    network = {"Resources": _vpc(), "Outputs": {
        "Subnet": {"Value": {"Ref": "Private0"}, "Export": {"Name": {"Fn::Sub": "${AWS::StackName}-subnet"}}},
        "VpcId": {"Value": {"Ref": "Vpc"}, "Export": {"Name": "net-vpc"}}}}
    nodes = _nodes_template({"Fn::ImportValue": "net-vpc"}, [{"Fn::ImportValue": "Net-subnet"}],
                            declare=[_ssm(["Nodes"])])
    assembly = Assembly.from_templates({"Net": network, "Nodes": nodes})
    (result,) = Checker(assembly).run()
    assert result.ok and "NAT gateway Net/Nat" in result.reason
    (lost,) = Checker(assembly).run("az0")
    assert lost.reason.startswith("not applicable")  # the nodes' one subnet is in az0


def test_cdks_weak_references_read_the_other_stacks_output() -> None:
    network = {"Resources": _vpc(), "Outputs": {"Out1": {"Value": {"Ref": "Private1"}},
                                                 "OutVpc": {"Value": {"Ref": "Vpc"}}}}
    reads = {"Fn::GetStackOutput": {"StackName": "Net", "Region": {"Ref": "AWS::Region"}, "OutputName": "Out1"}}
    vpc = {"Fn::GetStackOutput": {"StackName": "Net", "Region": {"Ref": "AWS::Region"}, "OutputName": "OutVpc"}}
    assembly = Assembly.from_templates({"Net": network, "Nodes": _nodes_template(vpc, [reads],
                                                                                  declare=[_ssm(["Nodes"])])})
    (lost,) = Checker(assembly).run("az0")
    assert lost.status == "blocked" and "only through NAT gateway Net/Nat in az0, the lost AZ" in lost.reason
    del network["Outputs"]["Out1"]
    with pytest.raises(AssemblyError, match="Net: no output Out1"):
        Checker(Assembly.from_templates({"Net": network, "Nodes": _nodes_template(
            vpc, [reads], declare=[_ssm(["Nodes"])])})).run()


def _write_assembly(directory: Path, parent: dict[str, Any], nested: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Parent.template.json").write_text(json.dumps(parent))
    (directory / "ParentChild.nested.template.json").write_text(json.dumps(nested))
    (directory / "manifest.json").write_text(json.dumps({"version": "55.0.0", "artifacts": {
        "Parent": {"type": "aws:cloudformation:stack", "environment": "aws://unknown-account/unknown-region",
                   "properties": {"templateFile": "Parent.template.json"}}}}))
    return directory


def test_a_nested_stack_takes_parameters_from_its_parent_and_gives_outputs_back(tmp_path: Path) -> None:
    nested = _nodes_template({"Ref": "VpcParam"}, [{"Ref": "SubnetParam"}],
                             declare=[_ssm(["Parent", "Child"])])
    nested["Parameters"] = {"VpcParam": {"Type": "String"}, "SubnetParam": {"Type": "String"}}
    nested["Outputs"] = {"GroupId": {"Value": {"Fn::GetAtt": ["Group", "GroupId"]}}}
    parent = {"Resources": {**_vpc(), "Child": {
        "Type": "AWS::CloudFormation::Stack", "Metadata": {"aws:asset:path": "ParentChild.nested.template.json"},
        "Properties": {"TemplateURL": "https://example", "Parameters": {
            "VpcParam": {"Ref": "Vpc"}, "SubnetParam": {"Ref": "Private1"}}}},
        # a rule in the parent on the nested stack's group, read through the nested stack's output
        "SshIn": {"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {
            "GroupId": {"Fn::GetAtt": ["Child", "Outputs.GroupId"]}, "IpProtocol": "tcp", "FromPort": 22,
            "ToPort": 22, "CidrIp": "10.0.0.0/16"}}}}
    assembly = Assembly.load(_write_assembly(tmp_path / "out", parent, nested))
    child = assembly.stack("Parent").children["Child"]
    assert child.name == "Parent/Child"
    (result,) = Checker(assembly).run()
    assert result.ok and "PrivateDefault" not in result.reason
    groups = Checker(assembly).net.groups
    nested_group = assembly.physical(child, "Group")
    assert [r.origin for r in groups[nested_group].rules if not r.egress] == ["Parent/SshIn"]
    (lost,) = Checker(assembly).run("1")  # the nested nodes' subnet is in az1; the NAT gateway is in az0
    assert lost.ok
    (lost,) = Checker(assembly).run("az0")
    assert lost.status == "blocked"


def test_the_cli_reports_exit_status_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nested = _nodes_template({"Ref": "VpcParam"}, [{"Ref": "SubnetParam"}], declare=[_ssm(["Parent", "Child"])])
    nested["Parameters"] = {"VpcParam": {"Type": "String"}, "SubnetParam": {"Type": "String"}}
    parent = {"Resources": {**_vpc(), "Child": {
        "Type": "AWS::CloudFormation::Stack", "Metadata": {"aws:asset:path": "ParentChild.nested.template.json"},
        "Properties": {"TemplateURL": "x", "Parameters": {"VpcParam": {"Ref": "Vpc"},
                                                         "SubnetParam": {"Ref": "Private1"}}}}}}
    directory = _write_assembly(tmp_path / "out", parent, nested)
    assert main([str(directory), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document == {"paths": [{"path": "nodes to SSM", "status": "ok",
                                   "reason": "open: ssm through NAT gateway Parent/Nat (az0)"}]}
    assert main([str(directory), "--lose-az", "0"]) == 1
    assert "blocked  nodes to SSM" in capsys.readouterr().out
    assert main([str(directory), "--lose-az", "7"]) == 2
    assert capsys.readouterr().err.startswith("hpc-verify: --lose-az 7: the assembly's subnets are in az0, az1")
    assert main([str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"hpc-verify: {tmp_path}: not a cloud assembly (no manifest.json; run `cdk " \
                                      "synth` first)\n"


def test_the_cli_on_a_copy_of_the_reference_cdk_out_edited_on_disk(reference_directory: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "cdk.out"
    shutil.copytree(reference_directory, copy, ignore=shutil.ignore_patterns("asset.*", "tree.json"))
    template_file = copy / "HpcSlurm.template.json"
    template = json.loads(template_file.read_text())
    del template["Resources"][logical_id(template, "HpcSlurm/Slurm/ControllerFromNodes-slurmctld")]
    template_file.write_text(json.dumps(template))
    assert main([str(copy), "--json"]) == 1
    paths = {p["path"]: p for p in json.loads(capsys.readouterr().out)["paths"]}
    slurmctld = paths["HpcSlurm/Slurm nodes to HpcSlurm/Slurm controller: TCP 6817 (slurmctld)"]
    assert slurmctld["status"] == "blocked"
    assert slurmctld["reason"].startswith("no inbound rule of HpcSlurm/Slurm/ControllerSecurityGroup on "
                                          "HpcSlurm/Slurm (the Slurm controller) allows TCP 6817")
