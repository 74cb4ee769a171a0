"""HpcImage: an AMI that EC2 Image Builder builds during the deploy, with what HPC nodes would otherwise fetch at boot.

aws-cdk-lib's Image Builder L1 resources, not the `aws-cdk.aws-imagebuilder-alpha` L2 (2.275.0a0, released in step
with aws-cdk-lib), compared on their merits:
- the L2 is experimental: "subject to non-backward compatible changes or removal in any future version", outside
  semantic versioning, so a second pin that must move in lockstep with aws-cdk-lib and may break at any upgrade;
- what the library needs is a rebuild on every change of what the image holds, and never a failed deploy for it.
  Components and recipes are create-only in CloudFormation, and their name and version must be unique while they
  exist (CloudFormation makes the replacement before it deletes the old one). The L2 names a component after its
  construct and gives it version 1.0.0 unless told otherwise, so a changed document replaces it under the same
  name and version; here the name carries the digest of what the build depends on (image_plan.ImagePlan.digest);
- the L2 makes an infrastructure configuration, an instance role and profile and an execution role per image
  by default, each a few more constructs and jsii round-trips at every synth. Here: one role and profile, one
  egress-only security group in the VPC's private subnet (the build downloads), IMDSv2 with hop limit 1, and a
  deletion role, all known and tested;
- no check is lost: the L2 validates names and a few ranges; the rules that matter here (the parent by its public
  SSM parameter, the 16,000-character component, Slurm versions, what a node may skip) live in image_plan.py.
"""

from __future__ import annotations

import jsii
from aws_cdk import Acknowledgment, Aws, Fn, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_imagebuilder as imagebuilder
from constructs import Construct

from hpc_constructs import paths
from hpc_constructs.compute_fleet import select_subnets, without_route_out
from hpc_constructs.errors import ConfigError
from hpc_constructs.given import SSM_POLICY, instance_role
from hpc_constructs.image_plan import REGION_PLACEHOLDER, ImagePlan, plan_image
from hpc_constructs.kinds import check_kinds

__all__ = ["HpcImage"]

GUIDE_POLICY_REASON = "The AWS-managed policy the EC2 Image Builder guide names for this role."
BUILDER_POLICY = "EC2InstanceProfileForImageBuilder"
DELETION_POLICY = "service-role/EC2ImageBuilderLifecycleExecutionPolicy"
_ebs = imagebuilder.CfnImageRecipe.EbsInstanceBlockDeviceSpecificationProperty
NAME_CHARS = 128  # Component, ImageRecipe and InfrastructureConfiguration names: at most 128 characters


@jsii.implements(ec2.IMachineImage)
class HpcImage(Construct):
    """An AMI built with EC2 Image Builder while the stack deploys: the software HPC nodes need, so that they
    download and install nothing at boot.

    Props (keyword-only) and their defaults:
      vpc: the VPC whose private subnet the build instance runs in (required; the build downloads packages, the
           EFA installer and the PCS installers, so the subnet needs a route out).
      subnet: None picks the VPC's first private subnet.
      base: "al2023". Amazon Linux 2023 for ComputeFleet, SlurmCluster node groups and HaBastion; "ecs": the
            ECS-optimized Amazon Linux 2023 that BatchOrchestration environments need (ImageIdOverride).
      gpu: False. True builds on the AWS Deep Learning Base OSS Nvidia Driver AMI (al2023; NVIDIA driver, CUDA,
           EFA software) or Batch's ECS GPU image (ecs, x86_64 only).
      architecture: "x86_64" or "arm64".
      efa: True installs the EFA software (the pinned installer, GPG-verified as at boot; the DLAMI's own is kept).
      packages: () extra dnf packages, after the library's: iptables-nft, lustre-client, amazon-efs-utils, mdadm,
                xfsprogs, rsyslog, amazon-cloudwatch-agent (what the boot steps would otherwise install).
      slurm_version: None. A PCS Slurm version ("26.05") adds the PCS agent and that Slurm, installed with AWS's
                     installers after their GPG signatures check against the pinned AWS PCS key (PCS User Guide,
                     'Custom Amazon Machine Images (AMIs) for AWS PCS'). For SlurmCluster node groups only.
      pcs_agent_release: None is "1-latest"; slurm_installer_release: None is "latest" (the newest of that Slurm
                         version, read when the image builds; the manifest records what was installed).
      efa_installer_version, efa_installer_key_fingerprint: None pin catalog.software.EFA_INSTALLER.
      build_instance_type: None is c7i.2xlarge (x86_64) or c7g.2xlarge (arm64).
      root_volume_size_gib: None is 16 GiB on Amazon Linux 2023, the parent's own size otherwise.

    Rules (checked at synth time, in order, by image_plan.plan_image): base, architecture and the GPU parent,
    packages, the EFA installer, the Slurm version and installers, the build instance type, the root volume.

    The image records what it holds in /etc/hpc-constructs/image-contents ("<name> <version>" a line). A construct
    that gets the image (ComputeFleet(machine_image=...), ComputeEnvironmentSpec(image=...),
    SlurmCluster(image=...), NodeGroupSpec(image=...), HaBastion(machine_image=...)) leaves out the boot steps for
    exactly those names and adds one step that fails when the manifest lacks one of them.

    When it builds: the image resource is created once per change of what the build depends on (the parent's
    parameter, the component document, the root volume): the component and the recipe are named after its
    digest, so a change makes a new recipe, a new image and a new AMI ID in every launch template that uses it.
    The parent is read by Image Builder at that build (ssm:<parameter>): a newer parent alone builds nothing.
    The replaced image's AMI and snapshots are deleted once the update succeeds (DeletionSettings).

    Attributes: image_id (the AMI ID, for launch templates), image_arn, plan, contents (what nodes skip),
    root_device_name, resource (the CfnImage), recipe, component, infrastructure, role, security_group.
    It is an ec2.IMachineImage: pass it as machine_image.
    """

    @check_kinds
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc,
        subnet: ec2.ISubnet | None = None,
        base: str = "al2023",
        gpu: bool = False,
        architecture: str = "x86_64",
        efa: bool = True,
        packages: tuple[str, ...] | list[str] = (),
        slurm_version: str | None = None,
        pcs_agent_release: str | None = None,
        slurm_installer_release: str | None = None,
        efa_installer_version: str | None = None,
        efa_installer_key_fingerprint: str | None = None,
        build_instance_type: str | None = None,
        root_volume_size_gib: int | None = None,
    ) -> None:
        super().__init__(scope, id)
        path = self.node.path
        self.plan: ImagePlan = plan_image(
            path, base=base, gpu=gpu, architecture=architecture, efa=efa, packages=packages,
            slurm_version=slurm_version, pcs_agent_release=pcs_agent_release,
            slurm_installer_release=slurm_installer_release, efa_installer_version=efa_installer_version,
            efa_installer_key_fingerprint=efa_installer_key_fingerprint, build_instance_type=build_instance_type,
            root_volume_size_gib=root_volume_size_gib)
        (build_subnet,) = select_subnets(path, vpc, subnet, None)
        if without_route_out(vpc, [build_subnet]):
            raise ConfigError(path, "subnet", "an isolated subnet", "a subnet with a route out (NAT gateway)",
                              hint="The build downloads packages and installers; isolated subnets reach none.")
        plan = self.plan
        self.contents: frozenset[str] = plan.contents
        self.root_device_name: str = plan.root_device_name
        name = _name(Stack.of(self).stack_name if not Stack.of(self).nested else "", path)

        self.role = instance_role(self, None, description=f"{path}: the Image Builder build instance",
                                  policies={SSM_POLICY: GUIDE_POLICY_REASON, BUILDER_POLICY: GUIDE_POLICY_REASON},
                                  why="the build instance")
        profile = iam.CfnInstanceProfile(self, "InstanceProfile", roles=[self.role.role_name])
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, allow_all_outbound=True,
            description=f"{path}: the Image Builder build instance (downloads only, nothing comes in)")
        self.infrastructure = imagebuilder.CfnInfrastructureConfiguration(
            self, "Infrastructure", name=name, instance_profile_name=profile.ref,
            instance_types=[plan.build_instance_type.name], subnet_id=build_subnet.subnet_id,
            security_group_ids=[self.security_group.security_group_id], terminate_instance_on_failure=True,
            instance_metadata_options=imagebuilder.CfnInfrastructureConfiguration.InstanceMetadataOptionsProperty(
                http_tokens="required", http_put_response_hop_limit=1),
            description=f"{path}: builds {plan.description}")
        # The build's way out, declared on the infrastructure configuration (the group's egress opens it).
        build = paths.nodes(self.infrastructure, f"{path} build instance")
        paths.declare_services(self.infrastructure, build, paths.SSM,
                               why="Image Builder runs the build through the SSM agent")
        paths.declare_services(self.infrastructure, build, ["imagebuilder"], why="the component, read by AWSTOE")
        paths.declare_services(self.infrastructure, build, ["s3"], why="Amazon Linux packages"
                               + (", the PCS installers (regional buckets)" if plan.pcs is not None else ""))
        if plan.efa_installer is not None:
            paths.declare_services(self.infrastructure, build, ["internet"],
                                   why="EFA installer download, efa-installer.amazonaws.com")
        self.component = imagebuilder.CfnComponent(
            self, "Component", name=f"{name}-{plan.digest}", version="1.0.0", platform="Linux",
            data=_with_region(plan.document),
            description=f"{path}: {plan.description}")
        root = plan.root_volume_size_gib
        self.recipe = imagebuilder.CfnImageRecipe(
            self, "Recipe", name=f"{name}-{plan.digest}", version="1.0.0", parent_image=plan.parent_image,
            components=[imagebuilder.CfnImageRecipe.ComponentConfigurationProperty(
                component_arn=self.component.attr_arn)],
            block_device_mappings=[imagebuilder.CfnImageRecipe.InstanceBlockDeviceMappingProperty(
                device_name=plan.root_device_name, ebs=_ebs(volume_size=root, volume_type="gp3", encrypted=True,
                                                            delete_on_termination=True))]
            if root is not None else None,
            description=f"{path}: {plan.description}")
        deletion = iam.Role(self, "DeletionRole", assumed_by=iam.ServicePrincipal("imagebuilder.amazonaws.com"),
                            description=f"{path}: deletes a replaced image's AMI and snapshots",
                            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(DELETION_POLICY)])
        self.resource = imagebuilder.CfnImage(
            self, "Resource", image_recipe_arn=self.recipe.attr_arn,
            infrastructure_configuration_arn=self.infrastructure.attr_arn,
            # The manifest and the validate phase check what the build installed; a test instance would add a
            # launch without adding a check. Each node checks the manifest at boot (boot.image_check).
            image_tests_configuration=imagebuilder.CfnImage.ImageTestsConfigurationProperty(image_tests_enabled=False),
            deletion_settings=imagebuilder.CfnImage.DeletionSettingsProperty(execution_role=deletion.role_arn))
        self.image_id: str = self.resource.attr_image_id
        self.image_arn: str = self.resource.attr_arn
        Validations.of(deletion).acknowledge(Acknowledgment(
            id=f"AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{DELETION_POLICY}]",
            reason=GUIDE_POLICY_REASON))
        self.node.add_metadata("hpc:figures", {
            "image": plan.description,
            "parent": f"{plan.parent.name}, SSM parameter {plan.parent.ssm_parameter}, read at each build",
            "built": f"once per change of the recipe (digest {plan.digest}), on {plan.build_instance_type.name}",
        })

    def get_image(self, scope: Construct) -> ec2.MachineImageConfig:
        """ec2.IMachineImage: the AMI this image builds, Linux."""
        return ec2.MachineImageConfig(image_id=self.image_id, os_type=ec2.OperatingSystemType.LINUX,
                                      user_data=ec2.UserData.for_linux())


def _with_region(document: str) -> str:
    """The document with the stack's Region where REGION_PLACEHOLDER stands (an Fn::Join at deploy time)."""
    parts = document.split(REGION_PLACEHOLDER)
    if len(parts) == 1:
        return document
    joined: list[str] = [parts[0]]
    for part in parts[1:]:
        joined += [Aws.REGION, part]
    return Fn.join("", joined)


def _name(stack_name: str, path: str) -> str:
    """An Image Builder name for the construct at `path`: its ids joined by '-', within 128 characters with room for
    '-' and the 8-digit digest (names are per account and Region: the stack's name keeps two apps apart)."""
    raw = "-".join(part for part in [stack_name, *path.split("/")[1:]] if part)
    cleaned = "".join(c if c.isalnum() or c in "-_" else "-" for c in raw).strip("-_") or "image"
    return cleaned[:NAME_CHARS - 9]
