"""EC2 Image Builder on the local emulator: an HpcImage's resources created from a real template, the image's AMI ID
in a launch template, read back through boto3's `imagebuilder` and `ec2` clients, and deleted, in-process.

moto has no Image Builder; scripts/emulator records the components, recipes, infrastructure configurations and
images, registers the AMI a build would make (nothing is built) and serves the read-only Image Builder API. With
DeletionSettings the AMI goes with the image, as on AWS; a recipe that names a missing component fails the stack.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2

from hpc_constructs import HpcImage
from scripts.emulator.readback import inventory, read_back
from tests.deploy.conftest import REGION
from tests.support import new_app

Client = Callable[[str], Any]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    """An HpcImage with Slurm and a launch template that uses it, synthesized (no cdk-nag: the lint tests run it)."""
    app = new_app()
    stack = Stack(app, "ImageEmulator")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=1, nat_gateways=1, restrict_default_security_group=False)
    image = HpcImage(stack, "SlurmCpu", vpc=vpc, slurm_version="26.05")
    ec2.CfnLaunchTemplate(stack, "Nodes", launch_template_data=ec2.CfnLaunchTemplate.LaunchTemplateDataProperty(
        image_id=image.image_id))
    body: dict[str, Any] = app.synth().get_stack_by_name("ImageEmulator").template
    body.pop("Rules", None)
    body.get("Parameters", {}).pop("BootstrapVersion", None)
    return body


def _create(client: Client, name: str, template: dict[str, Any]) -> dict[str, Any]:
    cfn = client("cloudformation")
    change_set = cfn.create_change_set(StackName=name, ChangeSetName="deploy", ChangeSetType="CREATE",
                                       TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM"])
    cfn.execute_change_set(ChangeSetName=change_set["Id"])
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    events = cfn.describe_stack_events(StackName=name)["StackEvents"]
    return {"status": stack["StackStatus"],
            "failed": {e["LogicalResourceId"]: e.get("ResourceStatusReason", "") for e in events
                       if e["ResourceStatus"] == "CREATE_FAILED"}}


def _logical(template: dict[str, Any], kind: str) -> str:
    (logical,) = [k for k, r in template["Resources"].items() if r["Type"] == kind]
    return logical


@pytest.fixture(scope="module")
def deployed(emulator: Client, template: dict[str, Any]) -> dict[str, Any]:
    baseline = inventory(emulator)
    created = _create(emulator, "ImageEmulator", template)
    resources = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in emulator("cloudformation")
                 .list_stack_resources(StackName="ImageEmulator")["StackResourceSummaries"]}
    return {"created": created, "baseline": baseline, "resources": resources, "rows": read_back(emulator)}


def test_the_stack_is_created(deployed: dict[str, Any]) -> None:
    assert deployed["created"]["status"] == "CREATE_COMPLETE", deployed["created"]["failed"]


def test_the_launch_template_gets_the_images_ami(emulator: Client, deployed: dict[str, Any],
                                                 template: dict[str, Any]) -> None:
    template_id = deployed["resources"][_logical(template, "AWS::EC2::LaunchTemplate")]
    data = emulator("ec2").describe_launch_template_versions(LaunchTemplateId=template_id)[
        "LaunchTemplateVersions"][0]["LaunchTemplateData"]
    (ami,) = emulator("ec2").describe_images(ImageIds=[data["ImageId"]])["Images"]
    tags = {t["Key"]: t["Value"] for t in ami["Tags"]}
    assert tags["CreatedBy"] == "EC2 Image Builder"
    image_arn = deployed["resources"][_logical(template, "AWS::ImageBuilder::Image")]
    assert tags["Ec2ImageBuilderArn"] == image_arn
    image = emulator("imagebuilder").get_image(imageBuildVersionArn=image_arn)["image"]
    assert image["outputResources"]["amis"] == [{"region": REGION, "image": ami["ImageId"], "name": ami["Name"]}]
    parent = "ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
    assert image["imageRecipe"]["parentImage"] == parent


def test_the_read_back_lists_the_image_and_its_ami(deployed: dict[str, Any]) -> None:
    rows = {(what, name): detail for what, name, detail in deployed["rows"]}
    (image,) = [detail for (what, _), detail in rows.items() if what == "Image Builder image"]
    assert image.startswith("AVAILABLE, AMI ami-")
    amis = [(name, detail) for (what, name), detail in rows.items() if what == "AMI"]
    assert len(amis) == 1 and "built by imageemulator-slurmcpu-" in amis[0][1]


def test_delete_leaves_nothing_not_even_the_ami(emulator: Client, deployed: dict[str, Any]) -> None:
    cfn = emulator("cloudformation")
    cfn.delete_stack(StackName="ImageEmulator")
    left = inventory(emulator) - deployed["baseline"]
    assert left == set(), sorted(left)


def test_without_deletion_settings_the_ami_stays_as_on_aws(emulator: Client, template: dict[str, Any]) -> None:
    """Image Builder's DeleteImage 'does not delete any EC2 AMIs': the emulator leaves it too."""
    body = json.loads(json.dumps(template))
    body["Resources"][_logical(body, "AWS::ImageBuilder::Image")]["Properties"].pop("DeletionSettings")
    baseline = inventory(emulator)
    assert _create(emulator, "KeepsAmi", body)["status"] == "CREATE_COMPLETE"
    emulator("cloudformation").delete_stack(StackName="KeepsAmi")
    left = inventory(emulator) - baseline
    assert {kind for kind, _ in left} == {"AMI"}


def test_a_recipe_naming_a_missing_component_fails_and_rolls_back(emulator: Client,
                                                                 template: dict[str, Any]) -> None:
    body = json.loads(json.dumps(template))
    recipe = body["Resources"][_logical(body, "AWS::ImageBuilder::ImageRecipe")]["Properties"]
    recipe["Components"] = [{"ComponentArn": f"arn:aws:imagebuilder:{REGION}:123456789012:component/none/1.0.0/1"}]
    created = _create(emulator, "Dangling", body)
    assert created["status"] == "ROLLBACK_COMPLETE"
    assert "component" in created["failed"][_logical(body, "AWS::ImageBuilder::ImageRecipe")]
