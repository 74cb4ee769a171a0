"""ComputeFleet: what the synthesized template holds, rule by rule."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk.assertions import Match, Template

from hpc_constructs import ComputeFleet, ConfigError, HpcNetwork, catalog
from hpc_constructs.compute_fleet import scratch_commands, scratch_script
from tests.cfn_lint import findings
from tests.fleet_invariants import check_layout
from tests.support import new_stack


def _fleet(stack: Stack | None = None, **props: Any) -> tuple[ComputeFleet, Template, HpcNetwork]:
    stack = stack or new_stack()
    network = HpcNetwork(stack, "Net")
    props.setdefault("subnet", network.cluster_subnet)
    fleet = ComputeFleet(stack, "Fleet", vpc=network.vpc, **props)
    return fleet, Template.from_stack(stack), network


@pytest.fixture(scope="module")
def p5() -> tuple[ComputeFleet, Template, HpcNetwork]:
    return _fleet(instance_types=["p5.48xlarge"], max_capacity=2)


def _only(template: Template, resource_type: str) -> dict[str, Any]:
    found = template.find_resources(resource_type)
    assert len(found) == 1, found.keys()
    return next(iter(found.values()))


def _interfaces(template: Template) -> list[dict[str, Any]]:
    lt = _only(template, "AWS::EC2::LaunchTemplate")
    interfaces: list[dict[str, Any]] = lt["Properties"]["LaunchTemplateData"]["NetworkInterfaces"]
    return interfaces


def test_p5_launch_template_has_an_efa_interface_on_each_of_32_cards(p5: Any) -> None:
    fleet, template, _ = p5
    interfaces = _interfaces(template)
    check_layout([catalog.instance_type("p5.48xlarge")], interfaces, efa=True)
    assert sum(i["InterfaceType"] in ("efa", "efa-only") for i in interfaces) == 32
    # EC2 refuses AssociatePublicIpAddress (even false) when launching with several interfaces
    assert all("AssociatePublicIpAddress" not in i for i in interfaces)
    assert fleet.network_bandwidth_gbps == 3200 == fleet.max_network_bandwidth_gbps


def test_launch_template_requires_imdsv2_and_encrypts_the_root_volume(p5: Any) -> None:
    _, template, _ = p5
    template.has_resource_properties("AWS::EC2::LaunchTemplate", {"LaunchTemplateData": Match.object_like({
        "MetadataOptions": {"HttpTokens": "required"},
        "BlockDeviceMappings": [Match.object_like({"Ebs": Match.object_like({"Encrypted": True})})],
    })})
    data = _only(template, "AWS::EC2::LaunchTemplate")["Properties"]["LaunchTemplateData"]
    assert "SecurityGroupIds" not in data  # security groups go on each interface


def test_default_image_is_amazon_linux_2023_for_the_architecture(p5: Any) -> None:
    _, template, _ = p5
    params = template.to_json()["Parameters"]
    assert any("al2023-ami-kernel" in p.get("Default", "") and "x86_64" in p["Default"] for p in params.values())
    _, arm, _ = _fleet(instance_types=["hpc7g.16xlarge"])
    assert any("al2023" in p.get("Default", "") and "arm64" in p["Default"]
               for p in arm.to_json()["Parameters"].values())


def test_security_group_allows_all_traffic_to_and_from_itself(p5: Any) -> None:
    _, template, _ = p5
    sg_id = {"Fn::GetAtt": [next(iter(template.find_resources("AWS::EC2::SecurityGroup", {
        "Properties": {"GroupDescription": Match.string_like_regexp("fleet nodes")}}))), "GroupId"]}
    template.has_resource_properties("AWS::EC2::SecurityGroupIngress", {
        "GroupId": sg_id, "SourceSecurityGroupId": sg_id, "IpProtocol": "-1"})
    template.has_resource_properties("AWS::EC2::SecurityGroupEgress", {
        "GroupId": sg_id, "DestinationSecurityGroupId": sg_id, "IpProtocol": "-1"})
    for interface in _interfaces(template):
        assert interface["Groups"] == [sg_id]


def test_connections_expose_the_fleet_security_group(p5: Any) -> None:
    fleet, _, _ = p5
    assert [sg.node.path for sg in fleet.connections.security_groups] == [fleet.security_group.node.path]


def test_efa_fleet_is_in_one_subnet_with_a_cluster_placement_group(p5: Any) -> None:
    fleet, template, _ = p5
    groups = template.find_resources("AWS::EC2::PlacementGroup", {"Properties": {"Strategy": "cluster"}})
    assert len(groups) == 1
    group = _only(template, "AWS::AutoScaling::AutoScalingGroup")["Properties"]
    assert len(group["VPCZoneIdentifier"]) == 1
    assert group["PlacementGroup"] == {"Fn::GetAtt": [next(iter(groups)), "GroupName"]}
    assert fleet.placement_group is not None


def test_on_demand_by_default(p5: Any) -> None:
    _, template, _ = p5
    template.has_resource_properties("AWS::AutoScaling::AutoScalingGroup", {
        "MinSize": "0", "MaxSize": "2", "CapacityRebalance": False,
        "MixedInstancesPolicy": Match.object_like({"InstancesDistribution": Match.object_like(
            {"OnDemandPercentageAboveBaseCapacity": 100})}),
    })


def test_spot_uses_price_capacity_optimized_and_capacity_rebalance() -> None:
    _, template, _ = _fleet(instance_types=["c6i.32xlarge", "m6i.32xlarge"], spot=True, max_capacity=8)
    template.has_resource_properties("AWS::AutoScaling::AutoScalingGroup", {
        "CapacityRebalance": True,
        "MixedInstancesPolicy": Match.object_like({
            "InstancesDistribution": Match.object_like({
                "OnDemandPercentageAboveBaseCapacity": 0,
                "SpotAllocationStrategy": "price-capacity-optimized"}),
            "LaunchTemplate": Match.object_like({"Overrides": [{"InstanceType": "c6i.32xlarge"},
                                                               {"InstanceType": "m6i.32xlarge"}]}),
        }),
    })


def test_efa_with_several_subnets_is_refused() -> None:
    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    with pytest.raises(ConfigError, match="Test/Fleet: subnets='2 subnets'"):
        ComputeFleet(stack, "Fleet", vpc=network.vpc, instance_types=["c6in.32xlarge"],
                     vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS))


def test_fleet_without_efa_may_span_subnets() -> None:
    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    fleet = ComputeFleet(stack, "Fleet", vpc=network.vpc, instance_types=["c7i.large"],
                         vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS))
    template = Template.from_stack(stack)
    assert len(_only(template, "AWS::AutoScaling::AutoScalingGroup")["Properties"]["VPCZoneIdentifier"]) == 2
    template.resource_count_is("AWS::EC2::PlacementGroup", 0)
    assert fleet.placement_group is None


def test_cluster_placement_group_on_t3_micro_is_refused() -> None:
    with pytest.raises(ConfigError, match="placement_group=True"):
        _fleet(instance_types=["t3.micro"], placement_group=True)


def test_t3_micro_fleet_has_no_efa_and_no_placement_group() -> None:
    fleet, template, _ = _fleet(instance_types=["t3.micro"])
    interfaces = _interfaces(template)
    assert len(interfaces) == 1
    assert (interfaces[0]["NetworkCardIndex"], interfaces[0]["DeviceIndex"], interfaces[0]["InterfaceType"]) == (
        0, 0, "interface")
    assert interfaces[0]["AssociatePublicIpAddress"] is False  # one interface: say no explicitly
    template.resource_count_is("AWS::EC2::PlacementGroup", 0)
    assert fleet.placement_group is None


def test_subnet_and_vpc_subnets_together_are_refused() -> None:
    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    with pytest.raises(ConfigError, match="vpc_subnets"):
        ComputeFleet(stack, "Fleet", vpc=network.vpc, instance_types=["c7i.large"], subnet=network.cluster_subnet,
                     vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS))


def _user_data(template: Template) -> str:
    data = _only(template, "AWS::EC2::LaunchTemplate")["Properties"]["LaunchTemplateData"]["UserData"]
    text = data["Fn::Base64"]
    assert isinstance(text, str)
    return text


def test_nvme_instance_store_is_striped_and_mounted_at_scratch(p5: Any) -> None:
    _, template, _ = p5
    user_data = _user_data(template)
    assert "Amazon EC2 NVMe Instance Storage" in user_data  # found by model, not by count
    assert "--level=0" in user_data and 'HPC_SCRATCH_MOUNT_POINT:-/scratch' in user_data
    assert "systemctl enable --now hpc-scratch.service" in user_data  # runs at every boot


def test_types_without_instance_store_get_no_scratch_script() -> None:
    _, template, _ = _fleet(instance_types=["c6in.32xlarge"])
    assert "hpc-scratch" not in _user_data(template)
    assert "efa_installer.sh" in _user_data(template)


def test_scratch_script_is_valid_bash_and_idempotent_by_design(tmp_path: Any) -> None:
    script = tmp_path / "hpc-scratch"
    script.write_text(scratch_script())
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = scratch_script()
    assert 'mountpoint -q "$MOUNT_POINT"' in text  # already mounted: exit
    assert "mdadm --assemble" in text  # reboot: re-assemble before creating
    assert 'blkid "$TARGET"' in text  # never re-format a disk that has a file system
    whole = tmp_path / "user-data"
    whole.write_text("\n".join(scratch_commands()))
    subprocess.run(["bash", "-n", str(whole)], check=True)


def test_legacy_type_is_refused_with_an_ena_explanation() -> None:
    with pytest.raises(ConfigError, match="Intel 82599"):
        _fleet(instance_types=["c4.8xlarge"])


def test_root_volume_size_is_validated() -> None:
    with pytest.raises(ConfigError, match="Test/Fleet: root_volume_size_gib=4"):
        _fleet(instance_types=["c7i.large"], root_volume_size_gib=4)


def test_fleet_template_is_clean_under_cfn_lint(p5: Any) -> None:
    _, template, _ = p5
    assert findings(template.to_json()) == []
