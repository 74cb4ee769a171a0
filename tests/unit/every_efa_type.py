"""A ComputeFleet for every EFA-capable type in the catalog, synthesized and checked rule by rule.

The 303 types are split into shards of 40, one app and stack each. Each shard's tests live in a file of their own
(tests/unit/test_efa_shard_<n>.py, three lines: `shard_tests(n)`), because `make test` runs pytest-xdist with
`--dist loadfile`: a file's tests share one worker, so each shard is synthesized once, and the shards run on
all workers in parallel. tests/unit/test_every_efa_type.py checks that the shard files cover every type.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2

from hpc_constructs import ComputeFleet, catalog
from tests.cfn_lint import findings
from tests.fleet_invariants import check_layout
from tests.support import image_props, new_app

EFA_TYPES = [t for t in catalog.instance_types() if t.efa_supported]
PER_SHARD = 40  # one stack of at most 40 fleets per shard: well under 500 resources
SHARDS = [EFA_TYPES[i:i + PER_SHARD] for i in range(0, len(EFA_TYPES), PER_SHARD)]


@functools.cache
def shard_fleets(index: int) -> dict[str, tuple[ComputeFleet, dict[str, Any]]]:
    """One shard's fleets and its synthesized template, once per test process."""
    app = new_app()
    stack = Stack(app, f"Efa{index}")
    # a private subnet with a NAT gateway: the nodes download the pinned EFA installer
    vpc = ec2.Vpc(stack, "Vpc", max_azs=1, nat_gateways=1, restrict_default_security_group=False,
                  subnet_configuration=[
                      ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC),
                      ec2.SubnetConfiguration(name="Cluster", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)])
    fleets = {t.name: ComputeFleet(stack, t.name.replace(".", "-"), vpc=vpc, instance_types=[t.name],
                                   subnet=vpc.private_subnets[0], max_capacity=2, **image_props(t))
              for t in SHARDS[index]}
    template = app.synth().get_stack_by_name(stack.stack_name).template
    return {name: (fleet, template) for name, fleet in fleets.items()}


def _resources(template: dict[str, Any], fleet: ComputeFleet, resource_type: str) -> list[dict[str, Any]]:
    prefix = fleet.node.id.replace("-", "")
    return [r for logical_id, r in template["Resources"].items()
            if r["Type"] == resource_type and logical_id.startswith(prefix)]


def check_fleet(index: int, t: catalog.InstanceType) -> None:
    """The fleet of type `t` in shard `index`: EFA on every card, placement, the EFA security-group rules."""
    fleet, template = shard_fleets(index)[t.name]
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


def shard_tests(index: int) -> tuple[Any, Any]:
    """The two tests of shard `index`: one per type in it, and cfn-lint over its template."""

    @pytest.mark.parametrize("t", SHARDS[index], ids=lambda t: t.name)
    def test_efa_fleet_is_right_for(t: catalog.InstanceType) -> None:
        check_fleet(index, t)

    def test_shard_is_clean_under_cfn_lint() -> None:
        (template,) = {id(template): template for _, template in shard_fleets(index).values()}.values()
        assert findings(template) == []

    return test_efa_fleet_is_right_for, test_shard_is_clean_under_cfn_lint
