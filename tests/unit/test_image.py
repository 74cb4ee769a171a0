"""HpcImage and the constructs that take one: the Image Builder resources, and nodes that skip at boot exactly what
their image holds (one synthesized app for the module, plus the shared reference assembly)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Stack, cx_api
from aws_cdk import aws_ec2 as ec2

from hpc_constructs import (
    BatchOrchestration,
    ComputeEnvironmentSpec,
    ComputeFleet,
    HaBastion,
    HaInstance,
    HpcImage,
    HpcNetwork,
    NodeGroupSpec,
    SlurmCluster,
    StorageLayer,
    boot,
)
from hpc_constructs.errors import ConfigError
from hpc_constructs.lustre import LustreSpec
from scripts import summary
from tests.support import new_app, new_stack


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def _plain(value: object) -> str:
    """The literal text of a (possibly nested) CloudFormation value: user data as the node receives it."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(_plain(v) for v in value)
    if isinstance(value, dict):
        if "Fn::Join" in value:
            return _plain(value["Fn::Join"][1])
        if "Fn::Base64" in value:
            return _plain(value["Fn::Base64"])
        return "<ref>"
    return ""


@pytest.fixture(scope="module")
def app_template() -> tuple[dict[str, Any], dict[str, Any]]:
    """One stack: images, a fleet on an image and one on the public image, a Batch environment on an ECS image,
    a Slurm cluster with a GPU group on its own image, a bastion on the CPU image, an HaInstance on the CPU image
    and one on the public image; Lustre mounted on the fleets, Batch and Slurm."""
    app = new_app()
    stack = Stack(app, "Images")
    network = HpcNetwork(stack, "Network")
    vpc = network.vpc
    cpu = HpcImage(stack, "Cpu", vpc=vpc)
    batch_image = HpcImage(stack, "BatchCpu", vpc=vpc, base="ecs")
    slurm_cpu = HpcImage(stack, "SlurmCpu", vpc=vpc, slurm_version="26.05")
    slurm_gpu = HpcImage(stack, "SlurmGpu", vpc=vpc, gpu=True, slurm_version="26.05")
    storage = StorageLayer(stack, "Storage", vpc=vpc, subnet=network.cluster_subnet,
                           lustre=LustreSpec(storage_capacity_gib=1200, deployment_type="SCRATCH_2"))
    on_image = ComputeFleet(stack, "OnImage", vpc=vpc, subnet=network.cluster_subnet,
                            instance_types=["hpc7a.96xlarge"], machine_image=cpu)
    public = ComputeFleet(stack, "Public", vpc=vpc, subnet=network.cluster_subnet, instance_types=["hpc7a.96xlarge"])
    for fleet in (on_image, public):
        storage.mount_on(fleet)
    BatchOrchestration(stack, "Batch", vpc=vpc, storage=storage, job_events=False, compute_environments=[
        ComputeEnvironmentSpec(name="cpu", instance_types=["c7i"], image=batch_image),
        ComputeEnvironmentSpec(name="plain", instance_types=["m7i"])])
    SlurmCluster(stack, "Slurm", vpc=vpc, subnet=network.cluster_subnet, slurm_version="26.05", image=slurm_cpu,
                 storage=storage, node_groups=[
                     NodeGroupSpec(name="cpu", instance_types=["hpc7a.96xlarge"]),
                     NodeGroupSpec(name="gpu", instance_types=["p5.48xlarge"], image=slurm_gpu)])
    HaBastion(stack, "Bastion", vpc=vpc, allowed_cidrs=["198.51.101.0/24"], machine_image=cpu)
    HaInstance(stack, "LicenseOnImage", vpc=vpc, ports=[27000], machine_image=cpu)
    HaInstance(stack, "LicensePublic", vpc=vpc, ports=[27000])
    template = app.synth().get_stack_by_name("Images").template
    logical = {name: stack.get_logical_id(image.resource)
               for name, image in {"cpu": cpu, "batch": batch_image, "slurm-cpu": slurm_cpu,
                                   "slurm-gpu": slurm_gpu}.items()}
    return template, logical


def _launch_template(template: dict[str, Any], path_part: str) -> dict[str, Any]:
    (found,) = [r for r in _resources(template, "AWS::EC2::LaunchTemplate").values()
                if path_part in r["Metadata"]["aws:cdk:path"]]
    data: dict[str, Any] = found["Properties"]["LaunchTemplateData"]
    return data


def test_an_image_is_built_by_image_builder_from_its_recipe(app_template: tuple[dict[str, Any], dict[str, Any]]
                                                          ) -> None:
    template, logical = app_template
    image = template["Resources"][logical["slurm-cpu"]]["Properties"]
    assert image["ImageTestsConfiguration"] == {"ImageTestsEnabled": False}
    assert "ExecutionRole" in image["DeletionSettings"]  # the replaced image's AMI and snapshots go
    recipe = template["Resources"][image["ImageRecipeArn"]["Fn::GetAtt"][0]]["Properties"]
    component = template["Resources"][recipe["Components"][0]["ComponentArn"]["Fn::GetAtt"][0]]["Properties"]
    assert recipe["ParentImage"] == "ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
    digest = recipe["Name"].rsplit("-", 1)[1]
    assert recipe["Name"] == component["Name"] == f"Images-SlurmCpu-{digest}" and len(digest) == 8
    assert "hpc-pcs-install agent" in _plain(component["Data"]) and {"Ref": "AWS::Region"} in (
        component["Data"]["Fn::Join"][1])
    infrastructure = template["Resources"][image["InfrastructureConfigurationArn"]["Fn::GetAtt"][0]]["Properties"]
    assert infrastructure["InstanceMetadataOptions"] == {"HttpTokens": "required", "HttpPutResponseHopLimit": 1}
    assert infrastructure["TerminateInstanceOnFailure"] is True
    assert infrastructure["SubnetId"]["Ref"].startswith("NetworkVpcPrivateSubnet")


def test_a_fleet_on_an_image_installs_and_downloads_nothing_and_checks_the_manifest(
        app_template: tuple[dict[str, Any], dict[str, Any]]) -> None:
    template, logical = app_template
    data = _launch_template(template, "/OnImage/")
    assert data["ImageId"] == {"Fn::GetAtt": [logical["cpu"], "ImageId"]}
    assert data["BlockDeviceMappings"][0]["DeviceName"] == "/dev/xvda"
    assert data["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"] == 64
    user_data = _plain(data["UserData"])
    work = boot.boot_work(user_data)
    assert work.downloads == () and work.packages == ()
    assert "for item in amazon-cloudwatch-agent amazon-efs-utils efa iptables-nft lustre-client" in user_data
    assert "hpc_step 'the image holds what boot skips' hpc_image_check" in user_data
    assert "hpc_step 'mount /fsx (Lustre)'" in user_data  # what is not software still happens at boot


def test_the_same_fleet_on_the_public_image_does_the_work_at_boot(
        app_template: tuple[dict[str, Any], dict[str, Any]]) -> None:
    template, _ = app_template
    user_data = _plain(_launch_template(template, "/Public/")["UserData"])
    work = boot.boot_work(user_data)
    assert work.downloads == ("EFA installer 1.51.0",)
    assert work.packages == ("iptables-nft", "lustre-client")  # hpc7a has no instance store: no scratch tools
    assert "hpc_image_check" not in user_data


def test_a_batch_environment_on_an_image_overrides_batchs_image(
        app_template: tuple[dict[str, Any], dict[str, Any]]) -> None:
    template, logical = app_template
    environments = {r["Metadata"]["aws:cdk:path"]: r["Properties"]["ComputeResources"]
                    for r in _resources(template, "AWS::Batch::ComputeEnvironment").values()}
    (cpu,) = [v for k, v in environments.items() if "/Environmentcpu/" in k]
    (plain,) = [v for k, v in environments.items() if "/Environmentplain/" in k]
    assert cpu["Ec2Configuration"] == [{"ImageType": "ECS_AL2023",
                                        "ImageIdOverride": {"Fn::GetAtt": [logical["batch"], "ImageId"]}}]
    assert plain["Ec2Configuration"] == [{"ImageType": "ECS_AL2023"}]
    on_image = boot.boot_work(_plain(_launch_template(template, "/Environmentcpu/")["UserData"]))
    assert on_image.packages == () and on_image.downloads == ()
    assert boot.boot_work(_plain(_launch_template(template, "/Environmentplain/")["UserData"])).packages == (
        "lustre-client",)  # Batch's ECS image has iptables, not the Lustre client


def test_each_slurm_node_group_gets_its_image_and_skips_what_it_holds(
        app_template: tuple[dict[str, Any], dict[str, Any]]) -> None:
    template, logical = app_template
    groups = {r["Properties"]["Name"].split("-")[0]: r["Properties"]
              for r in _resources(template, "AWS::PCS::ComputeNodeGroup").values()}
    assert groups["cpu"]["AmiId"] == {"Fn::GetAtt": [logical["slurm-cpu"], "ImageId"]}
    assert groups["gpu"]["AmiId"] == {"Fn::GetAtt": [logical["slurm-gpu"], "ImageId"]}
    for name in ("NodeGroup-cpu", "NodeGroup-gpu"):
        user_data = _plain(_launch_template(template, f"/{name}/")["UserData"])
        assert boot.boot_work(user_data) == boot.BootWork((), ()), name
        assert "slurm-26.05" in user_data and "hpc_step 'mount /fsx (Lustre)'" in user_data


def test_a_bastion_on_the_image_installs_nothing(app_template: tuple[dict[str, Any], dict[str, Any]]) -> None:
    template, logical = app_template
    data = _launch_template(template, "/Bastion/")
    assert data["ImageId"] == {"Fn::GetAtt": [logical["cpu"], "ImageId"]}
    user_data = _plain(data["UserData"])
    assert boot.boot_work(user_data) == boot.BootWork((), ())
    assert "amazon-cloudwatch-agent-ctl -a fetch-config" in user_data  # configured at boot, installed in the image


def test_an_ha_instance_on_the_image_installs_nothing_and_checks_the_manifest(
        app_template: tuple[dict[str, Any], dict[str, Any]]) -> None:
    template, logical = app_template
    data = _launch_template(template, "/LicenseOnImage/")
    assert data["ImageId"] == {"Fn::GetAtt": [logical["cpu"], "ImageId"]}
    user_data = _plain(data["UserData"])
    assert boot.boot_work(user_data) == boot.BootWork((), ())
    assert "hpc_step 'the image holds what boot skips' hpc_image_check" in user_data
    assert "/usr/local/sbin/hpc-ha-volume attach" in user_data  # the volume is still attached at boot
    public = _plain(_launch_template(template, "/LicensePublic/")["UserData"])
    # on the public image: the volume tools and the metadata guard's iptables at boot, and no manifest to check
    assert boot.boot_work(public).packages == ("iptables-nft", "xfsprogs", "util-linux")
    assert "hpc_image_check" not in public


def test_every_node_kind_of_the_reference_downloads_and_installs_nothing_at_boot(
        reference_assembly: cx_api.CloudAssembly) -> None:
    rows = summary.boot_work_rows(Path(reference_assembly.directory))
    kinds = {row["kind"].split("/")[0] for row in rows}
    assert kinds == {"HpcCompute", "HpcBatch", "HpcSlurm", "HpcAccess", "HpcLicense"} and len(rows) == 12
    for row in rows:
        assert row["work"] == boot.BootWork((), ()), row
        assert row["image"].startswith("HpcImage HpcImages/"), row
    printed = summary.summary_text(Path(reference_assembly.directory))
    assert "HpcSlurm/Slurm/NodeGroup-gpu" in printed and "nothing: 0 downloads, 0 package installs" in printed


@pytest.mark.parametrize(("build", "message"), [
    (lambda s, v, i: ComputeFleet(s, "F", vpc=v, instance_types=["p5.48xlarge"], machine_image=i(gpu=False)),
     "NVIDIA driver"),
    (lambda s, v, i: BatchOrchestration(s, "B", vpc=v, job_events=False, compute_environments=[
        ComputeEnvironmentSpec(name="e", instance_types=["c7i"], image=i())]), "base='ecs'"),
    (lambda s, v, i: SlurmCluster(s, "S", vpc=v, slurm_version="26.05", image=i(slurm_version="25.11"),
                                  node_groups=[NodeGroupSpec(name="cpu", instance_types=["c7i.large"])]),
     "Slurm 26.05"),
    (lambda s, v, i: SlurmCluster(s, "S", vpc=v, slurm_version="26.05", image=i(slurm_version="26.05"),
                                  ami_id="ami-0f1e2d3c4b5a69788",
                                  node_groups=[NodeGroupSpec(name="cpu", instance_types=["c7i.large"])]),
     "not both"),
    (lambda s, v, i: HaInstance(s, "H", vpc=v, machine_image=i(base="ecs")), "base='al2023'"),
    (lambda s, v, i: HaInstance(s, "H", vpc=v, machine_image=i(slurm_version="26.05")), "without the PCS agent"),
])
def test_an_image_that_does_not_fit_is_refused_at_synth(build: Any, message: str) -> None:
    stack = new_stack()
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2)
    count = iter(range(10))

    def image(**props: Any) -> HpcImage:
        return HpcImage(stack, f"Image{next(count)}", vpc=vpc, **props)

    with pytest.raises(ConfigError, match=message):
        build(stack, vpc, image)


def test_an_image_in_an_isolated_subnet_is_refused() -> None:
    stack = new_stack()
    vpc = ec2.Vpc(stack, "Vpc", max_azs=1, subnet_configuration=[
        ec2.SubnetConfiguration(name="Isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)])
    with pytest.raises(ConfigError, match="route out"):
        HpcImage(stack, "Image", vpc=vpc)


def test_the_images_figures_say_when_it_builds() -> None:
    stack = new_stack()
    image = HpcImage(stack, "Image", vpc=ec2.Vpc(stack, "Vpc", max_azs=1))
    (figures,) = [m.data for m in image.node.metadata if m.type == "hpc:figures"]
    assert figures["built"] == f"once per change of the recipe (digest {image.plan.digest}), on c7i.2xlarge"
    assert json.dumps(figures)
