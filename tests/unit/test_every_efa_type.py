"""A ComputeFleet for every EFA-capable type in the catalog, synthesized and checked rule by rule.

The fleets are spread over stacks of 40 (well under 500 resources each) in one app: one synth.
"""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2

from hpc_constructs import ComputeFleet, catalog
from tests.cfn_lint import findings
from tests.fleet_invariants import check_layout
from tests.support import image_props, new_app

EFA_TYPES = [t for t in catalog.instance_types() if t.efa_supported]
PER_STACK = 40


@pytest.fixture(scope="module")
def every_efa_fleet() -> dict[str, tuple[ComputeFleet, dict[str, Any]]]:
    app = new_app()
    fleets: dict[str, tuple[ComputeFleet, str]] = {}
    for start in range(0, len(EFA_TYPES), PER_STACK):
        stack = Stack(app, f"Efa{start // PER_STACK}")
        # a private subnet with a NAT gateway: the nodes download the pinned EFA installer
        vpc = ec2.Vpc(stack, "Vpc", max_azs=1, nat_gateways=1, restrict_default_security_group=False,
                      subnet_configuration=[
                          ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC),
                          ec2.SubnetConfiguration(name="Cluster", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)])
        for t in EFA_TYPES[start:start + PER_STACK]:
            fleet = ComputeFleet(stack, t.name.replace(".", "-"), vpc=vpc, instance_types=[t.name],
                                 subnet=vpc.private_subnets[0], max_capacity=2, **image_props(t))
            fleets[t.name] = (fleet, stack.stack_name)
    assembly = app.synth()
    templates = {s.stack_name: s.template for s in assembly.stacks}
    return {name: (fleet, templates[stack]) for name, (fleet, stack) in fleets.items()}


def _resources(template: dict[str, Any], fleet: ComputeFleet, resource_type: str) -> list[dict[str, Any]]:
    prefix = fleet.node.id.replace("-", "")
    return [r for logical_id, r in template["Resources"].items()
            if r["Type"] == resource_type and logical_id.startswith(prefix)]


def test_one_fleet_per_efa_type() -> None:
    assert len(EFA_TYPES) == 303


@pytest.mark.parametrize("t", EFA_TYPES, ids=lambda t: t.name)
def test_efa_fleet_is_right_for(t: catalog.InstanceType, every_efa_fleet: dict[str, Any]) -> None:
    fleet, template = every_efa_fleet[t.name]
    (launch_template,) = _resources(template, fleet, "AWS::EC2::LaunchTemplate")
    check_layout([t], launch_template["Properties"]["LaunchTemplateData"]["NetworkInterfaces"], efa=True)
    (group,) = _resources(template, fleet, "AWS::AutoScaling::AutoScalingGroup")
    assert len(group["Properties"]["VPCZoneIdentifier"]) == 1
    if t.supports_cluster_placement:
        (placement,) = _resources(template, fleet, "AWS::EC2::PlacementGroup")
        assert placement["Properties"]["Strategy"] == "cluster"
        assert "PlacementGroup" in group["Properties"]
    else:  # vt1.24xlarge: partition and spread only
        assert not _resources(template, fleet, "AWS::EC2::PlacementGroup")
    (ingress,) = _resources(template, fleet, "AWS::EC2::SecurityGroupIngress")
    (egress,) = _resources(template, fleet, "AWS::EC2::SecurityGroupEgress")
    assert ingress["Properties"]["IpProtocol"] == egress["Properties"]["IpProtocol"] == "-1"
    assert ingress["Properties"]["SourceSecurityGroupId"] == ingress["Properties"]["GroupId"]
    assert egress["Properties"]["DestinationSecurityGroupId"] == egress["Properties"]["GroupId"]
    interfaces = launch_template["Properties"]["LaunchTemplateData"]["NetworkInterfaces"]
    carried = {i["NetworkCardIndex"] for i in interfaces}
    full = sum(card.baseline_bandwidth_gbps for card in t.network_cards)
    assert fleet.network_bandwidth_gbps == sum(t.network_cards[c].baseline_bandwidth_gbps for c in carried) == full


def test_every_efa_stack_is_clean_under_cfn_lint(every_efa_fleet: dict[str, Any]) -> None:
    templates = {id(template): template for _, template in every_efa_fleet.values()}
    problems = [line for template in templates.values() for line in findings(template)]
    assert problems == []
