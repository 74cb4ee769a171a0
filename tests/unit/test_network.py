"""HpcNetwork: works with no options, lays out an HPC VPC, wraps an existing one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk.assertions import Match, Template

from hpc_constructs import ConfigError, HpcNetwork
from tests.support import new_stack


@pytest.fixture(scope="module")
def default_network() -> tuple[HpcNetwork, Template]:
    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    return network, Template.from_stack(stack)


def test_default_vpc_spans_two_azs_with_public_and_private_subnets(default_network: Any) -> None:
    network, template = default_network
    template.resource_count_is("AWS::EC2::VPC", 1)
    template.resource_count_is("AWS::EC2::Subnet", 4)
    template.has_resource_properties("AWS::EC2::Subnet", {"MapPublicIpOnLaunch": True})
    template.has_resource_properties("AWS::EC2::Subnet", {"MapPublicIpOnLaunch": False})
    assert len(network.vpc.public_subnets) == 2 and len(network.vpc.private_subnets) == 2


def test_each_az_goes_out_through_its_own_nat_gateway_by_default(default_network: Any) -> None:
    """Lose one AZ and the other's bastion and nodes keep Session Manager, Secrets Manager, ECR, PCS, logs."""
    _, template = default_network
    resources = template.to_json()["Resources"]
    nats = {k: v for k, v in resources.items() if v["Type"] == "AWS::EC2::NatGateway"}
    assert len(nats) == 2
    def az(subnet: str) -> Any:  # a literal, or Fn::Select over Fn::GetAZs in an environment-agnostic stack
        return resources[subnet]["Properties"]["AvailabilityZone"]

    nat_az = {k: az(v["Properties"]["SubnetId"]["Ref"]) for k, v in nats.items()}
    assert len({json.dumps(a) for a in nat_az.values()}) == 2
    subnets = {k: v for k, v in resources.items() if v["Type"] == "AWS::EC2::Subnet"
               and v["Properties"]["MapPublicIpOnLaunch"] is False}
    for subnet, _props in subnets.items():
        table = next(a["Properties"]["RouteTableId"]["Ref"] for a in resources.values()
                     if a["Type"] == "AWS::EC2::SubnetRouteTableAssociation"
                     and a["Properties"]["SubnetId"] == {"Ref": subnet})
        (route,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::EC2::Route"
                    and r["Properties"]["RouteTableId"] == {"Ref": table}
                    and r["Properties"].get("DestinationCidrBlock") == "0.0.0.0/0"]
        assert nat_az[route["NatGatewayId"]["Ref"]] == az(subnet), subnet


def test_fewer_nat_gateways_than_azs_are_named_in_the_figures() -> None:
    stack = new_stack()
    network = HpcNetwork(stack, "Net", nat_gateways=1)
    assert network.nat_gateways == 1
    figures = [e.data for e in network.node.metadata if e.type == "hpc:figures"]
    assert "lose that AZ and they have no way out" in str(figures)


def test_default_vpc_has_nat_flow_logs_and_s3_endpoint(default_network: Any) -> None:
    _, template = default_network
    template.resource_count_is("AWS::EC2::NatGateway", 2)
    template.has_resource_properties("AWS::EC2::FlowLog", {"ResourceType": "VPC", "TrafficType": "ALL"})
    template.has_resource_properties("AWS::EC2::VPCEndpoint", {
        "VpcEndpointType": "Gateway",
        "ServiceName": Match.object_like({"Fn::Join": Match.array_with([Match.array_with([".s3"])])}),
    })
    template.has_resource("AWS::Logs::LogGroup", {"DeletionPolicy": "Retain"})


def test_cluster_subnet_is_one_private_subnet(default_network: Any) -> None:
    network, _ = default_network
    assert network.cluster_subnet.node.path == network.vpc.private_subnets[0].node.path


def test_cluster_subnet_can_be_chosen_by_az_index() -> None:
    network = HpcNetwork(new_stack(), "Net", cluster_availability_zone_index=1)
    assert network.cluster_subnet.node.path == network.vpc.private_subnets[1].node.path
    assert network.cluster_subnet.node.path != network.vpc.private_subnets[0].node.path


def test_cluster_subnet_index_out_of_range_is_refused() -> None:
    with pytest.raises(ConfigError, match="cluster_availability_zone_index=2"):
        HpcNetwork(new_stack(), "Net", cluster_availability_zone_index=2)


@pytest.mark.parametrize("max_azs", [0, 1])
def test_fewer_than_two_azs_is_refused(max_azs: int) -> None:
    with pytest.raises(ConfigError, match=f"Test/Net: max_azs={max_azs}"):
        HpcNetwork(new_stack(), "Net", max_azs=max_azs)


def test_more_nat_gateways_than_azs_is_refused() -> None:
    with pytest.raises(ConfigError, match="nat_gateways=3"):
        HpcNetwork(new_stack(), "Net", max_azs=2, nat_gateways=3)


def test_wraps_an_existing_vpc_without_adding_to_it() -> None:
    stack: Stack = new_stack()
    vpc = ec2.Vpc(stack, "Existing", max_azs=2, nat_gateways=0, restrict_default_security_group=False,
                  subnet_configuration=[ec2.SubnetConfiguration(name="Iso",
                                                                subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)])
    network = HpcNetwork(stack, "Net", vpc=vpc)
    assert network.vpc is vpc
    assert network.cluster_subnet.node.path == vpc.isolated_subnets[0].node.path
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::EC2::VPC", 1)
    template.resource_count_is("AWS::EC2::FlowLog", 0)
    template.resource_count_is("AWS::EC2::VPCEndpoint", 0)


def test_wrapped_vpc_without_private_subnets_is_refused() -> None:
    stack = new_stack()
    vpc = ec2.Vpc(stack, "PublicOnly", max_azs=2, nat_gateways=0, restrict_default_security_group=False,
                  subnet_configuration=[ec2.SubnetConfiguration(name="Pub", subnet_type=ec2.SubnetType.PUBLIC)])
    with pytest.raises(ConfigError, match="private or isolated subnet"):
        HpcNetwork(stack, "Net", vpc=vpc)


def test_default_security_group_is_locked_down_in_an_app_without_cdk_json_context() -> None:
    """A plain App() has none of cdk.json's feature flags: the lockdown must not depend on them."""
    from aws_cdk import App

    stack = Stack(App(), "Plain")
    HpcNetwork(stack, "Net")
    template = Template.from_stack(stack)
    template.resource_count_is("Custom::VpcRestrictDefaultSG", 1)
    template.has_resource_properties("Custom::VpcRestrictDefaultSG", {
        "DefaultSecurityGroupId": {"Fn::GetAtt": [Match.string_like_regexp("NetVpc"), "DefaultSecurityGroup"]}})
