"""ComputeFleet: what the synthesized template holds, rule by rule."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk.assertions import Match, Template

from hpc_constructs import ComputeFleet, ConfigError, HpcNetwork, boot, catalog
from hpc_constructs.compute_fleet import scratch_commands
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


def _image_parameters(template: Template) -> list[str]:
    return [p["Default"] for p in template.to_json()["Parameters"].values()
            if str(p.get("Default", "")).startswith("/aws/service/")]


def test_default_image_is_amazon_linux_2023_for_the_architecture() -> None:
    _, x86, _ = _fleet(instance_types=["c7i.large"])
    assert any("al2023-ami-kernel" in p and "x86_64" in p for p in _image_parameters(x86))
    _, arm, _ = _fleet(instance_types=["hpc7g.16xlarge"])
    assert any("al2023" in p and "arm64" in p for p in _image_parameters(arm))


def test_gpu_fleet_defaults_to_the_aws_gpu_base_image(p5: Any) -> None:
    fleet, template, _ = p5
    # AWS Deep Learning Base OSS Nvidia Driver GPU AMI (Amazon Linux 2023): NVIDIA driver, fabric
    # manager, EFA; resolved from its public SSM parameter at deploy time
    assert _image_parameters(template) == [
        "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id"]
    assert fleet.plan.efa_software == "image"  # the image has the EFA software: no installer at boot
    assert "hpc-efa-install" not in _user_data(template)
    _, arm, _ = _fleet(instance_types=["g5g.16xlarge"])
    assert _image_parameters(arm) == [
        "/aws/service/deeplearning/ami/arm64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id"]


@pytest.mark.parametrize("name", ["p3dn.24xlarge", "g7.48xlarge", "g6f.large"])
def test_gpu_type_without_a_default_image_needs_machine_image(name: str) -> None:
    with pytest.raises(ConfigError, match=f"machine_image=None.*{name}.*SSM parameter /aws/service/deeplearning"):
        _fleet(instance_types=[name])


def test_custom_image_needs_its_root_device_name_and_the_mapping_uses_it() -> None:
    image = ec2.MachineImage.generic_linux({"us-east-1": "ami-0123456789abcdef0"})
    with pytest.raises(ConfigError, match="root_device_name=None"):
        _fleet(instance_types=["c7i.large"], machine_image=image)
    _, template, _ = _fleet(instance_types=["c7i.large"], machine_image=image, root_device_name="/dev/sda1")
    data = _only(template, "AWS::EC2::LaunchTemplate")["Properties"]["LaunchTemplateData"]
    (root,) = data["BlockDeviceMappings"]
    assert root["DeviceName"] == "/dev/sda1"
    assert root["Ebs"] == {"DeleteOnTermination": True, "Encrypted": True, "VolumeType": "gp3"}  # image's size
    with pytest.raises(ConfigError, match="root_device_name='/dev/sda1'.*None without machine_image"):
        _fleet(instance_types=["c7i.large"], root_device_name="/dev/sda1")


def test_amazon_linux_root_is_xvda_64_gib_encrypted_gp3() -> None:
    _, template, _ = _fleet(instance_types=["c7i.large"])
    data = _only(template, "AWS::EC2::LaunchTemplate")["Properties"]["LaunchTemplateData"]
    assert data["BlockDeviceMappings"] == [{"DeviceName": "/dev/xvda", "Ebs": {
        "DeleteOnTermination": True, "Encrypted": True, "VolumeType": "gp3", "VolumeSize": 64}}]


def test_efa_software_is_pinned_and_verified_never_latest() -> None:
    from hpc_constructs.catalog.software import EFA_INSTALLER

    _, template, _ = _fleet(instance_types=["c6in.32xlarge"])
    user_data = _user_data(template)
    assert "latest" not in user_data
    assert (f"hpc_step 'EFA software {EFA_INSTALLER.version}' /usr/local/sbin/hpc-efa-install "
            f"{EFA_INSTALLER.version} {EFA_INSTALLER.key_fingerprint}") in user_data
    _, other, _ = _fleet(instance_types=["c6in.32xlarge"], efa_installer_version="1.47.0",
                         efa_installer_key_fingerprint="4e90 91bc bb97 a96b 26b1 5e59 a054 80b1 dd2d 3ccc")
    assert "/usr/local/sbin/hpc-efa-install 1.47.0 4E9091BCBB97A96B26B15E59A05480B1DD2D3CCC" in _user_data(other)


def test_efa_installer_from_1_25_0_the_first_release_for_amazon_linux_2023() -> None:
    fleet, _, _ = _fleet(instance_types=["c6in.32xlarge"], efa_installer_version="1.25.0")
    assert fleet.plan.efa_installer.version == "1.25.0"


@pytest.mark.parametrize(("props", "match"), [
    ({"efa_installer_version": "latest"}, "efa_installer_version='latest'"),
    ({"efa_installer_version": "1.24.0"}, "efa_installer_version='1.24.0'"),
    ({"efa_installer_key_fingerprint": "ABCD"}, "efa_installer_key_fingerprint='ABCD'"),
])
def test_efa_installer_pin_is_validated(props: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        _fleet(instance_types=["c6in.32xlarge"], **props)


def _isolated_vpc(stack: Stack) -> ec2.Vpc:
    return ec2.Vpc(stack, "Iso", max_azs=1, nat_gateways=0, subnet_configuration=[
        ec2.SubnetConfiguration(name="Iso", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)])


def test_efa_install_in_an_isolated_subnet_is_refused() -> None:
    stack = new_stack()
    vpc = _isolated_vpc(stack)
    with pytest.raises(ConfigError, match="install_efa_software=True.*no route out"):
        ComputeFleet(stack, "Fleet", vpc=vpc, instance_types=["c6in.32xlarge"])
    # an image that has the software: nothing to download
    fleet = ComputeFleet(stack, "Ok", vpc=vpc, instance_types=["c6in.32xlarge"], install_efa_software=False)
    assert fleet.plan.efa_software == "image"


def test_public_only_vpc_is_refused_unless_the_subnet_is_explicit() -> None:
    stack = new_stack()
    vpc = ec2.Vpc(stack, "Pub", max_azs=1, nat_gateways=0, subnet_configuration=[
        ec2.SubnetConfiguration(name="Pub", subnet_type=ec2.SubnetType.PUBLIC)])
    with pytest.raises(ConfigError, match="Test/Fleet: subnet=None.*only public subnets"):
        ComputeFleet(stack, "Fleet", vpc=vpc, instance_types=["c7i.large"])
    ComputeFleet(stack, "Explicit", vpc=vpc, instance_types=["c7i.large"], subnet=vpc.public_subnets[0])


def test_nodes_wait_for_the_self_rules(p5: Any) -> None:
    _, template, _ = p5
    (group,) = template.find_resources("AWS::AutoScaling::AutoScalingGroup").values()
    rules = [*template.find_resources("AWS::EC2::SecurityGroupIngress"),
             *template.find_resources("AWS::EC2::SecurityGroupEgress")]
    assert len(rules) == 2 and set(rules) <= set(group["DependsOn"])


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
    scratch = boot.packed_scripts(user_data)["hpc-scratch"]
    assert scratch == boot.compact(boot.script_text("hpc-scratch")).replace(
        "#!/bin/bash\n", "#!/bin/bash\n# hpc-scratch: hpc_constructs/scripts/hpc-scratch.sh of hpc-constructs, "
        "without its comments\n", 1)
    assert "Amazon EC2 NVMe Instance Storage" in scratch  # found by model, not by count
    assert "--level=0" in scratch and 'HPC_SCRATCH_MOUNT_POINT:-/scratch' in scratch
    assert "systemctl enable --now hpc-scratch.service" in user_data  # runs at every boot


def test_types_without_instance_store_get_no_scratch_script() -> None:
    _, template, _ = _fleet(instance_types=["c6in.32xlarge"])
    assert "hpc-scratch" not in _user_data(template)
    assert set(boot.packed_scripts(_user_data(template))) == {"hpc-efa-install", "hpc-imds-guard"}


def test_scratch_script_is_valid_bash_and_idempotent_by_design(tmp_path: Any) -> None:
    script = tmp_path / "hpc-scratch"
    text = boot.script_text("hpc-scratch")
    script.write_text(text)
    subprocess.run(["bash", "-n", str(script)], check=True)
    assert "mdadm --assemble" in text  # reboot: re-assemble before creating (behaviour: test_boot_scripts)
    whole = tmp_path / "user-data"
    whole.write_text("\n".join(scratch_commands()))
    subprocess.run(["bash", "-n", str(whole)], check=True)


def test_user_data_beyond_ec2s_16_kb_fails_synth_naming_the_fleet() -> None:
    from hpc_constructs import EbsSpec, StorageLayer

    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    fleet = ComputeFleet(stack, "Fleet", vpc=network.vpc, subnet=network.cluster_subnet, instance_types=["c7i.large"])
    StorageLayer(stack, "Storage", vpc=network.vpc, ebs_volumes=[EbsSpec(10, "gp3", name=f"v{i}") for i in range(21)]
                 ).mount_on(fleet)
    with pytest.raises(RuntimeError, match="Test/Fleet: user data='about [0-9,]+ bytes'.*at most 16,384 bytes"):
        Template.from_stack(stack)


def _padded_fleet(size: int) -> Stack:
    """A fleet whose user data is exactly `size` bytes (a comment line pads it)."""
    from hpc_constructs.compute_fleet import user_data_bytes

    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    fleet = ComputeFleet(stack, "Fleet", vpc=network.vpc, subnet=network.cluster_subnet, instance_types=["c7i.large"])
    base = user_data_bytes(stack.resolve(fleet.user_data.render()))
    fleet.add_boot_commands("#" + "x" * (size - base - 2))  # a newline and the '#'
    assert user_data_bytes(stack.resolve(fleet.user_data.render())) == size
    return stack


def test_user_data_of_exactly_16_kb_synthesizes_and_one_byte_more_does_not() -> None:
    Template.from_stack(_padded_fleet(16_384))
    with pytest.raises(RuntimeError, match="user data='about 16,385 bytes'"):
        Template.from_stack(_padded_fleet(16_385))


def test_legacy_type_is_refused_with_an_ena_explanation() -> None:
    with pytest.raises(ConfigError, match="Intel 82599"):
        _fleet(instance_types=["c4.8xlarge"])


def test_root_volume_size_is_validated() -> None:
    with pytest.raises(ConfigError, match="Test/Fleet: root_volume_size_gib=4"):
        _fleet(instance_types=["c7i.large"], root_volume_size_gib=4)


def test_fleet_template_is_clean_under_cfn_lint(p5: Any) -> None:
    _, template, _ = p5
    assert findings(template.to_json()) == []
