"""Software the nodes boot with: the EFA installer pin and the public images, each with its source.

Images are named by the public SSM parameters that AWS keeps pointing at the newest build, so a
template never hard-codes an AMI ID and a deploy always resolves today's image.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CHECKED = "2026-11"

EFA_INSTALLER_SOURCE = (
    "Amazon EC2 User Guide, 'EFA installer release notes' (efa-changelog: 1.51.0, October 22, 2026), "
    "'Get started with EFA and MPI' (download URLs "
    "https://efa-installer.amazonaws.com/aws-efa-installer-<version>.tar.gz, .tar.gz.sig and "
    "aws-efa-installer.key) and 'Verify the EFA installer using a GPG signature' (\"The command should "
    "return a fingerprint that is identical to 4E90 91BC BB97 A96B 26B1 5E59 A054 80B1 DD2D 3CCC\"; "
    f"uid \"Amazon EC2 EFA <ec2-efa-maintainers@amazon.com>\"); checked {CHECKED}"
)


@dataclass(frozen=True, slots=True)
class EfaInstaller:
    """A pinned AWS EFA installer release and the key that signs it."""

    version: str
    key_fingerprint: str  # 40 hex digits, no spaces: the primary key gpg must report in VALIDSIG
    released: str = ""
    source: str = EFA_INSTALLER_SOURCE

    @property
    def url(self) -> str:
        return f"https://efa-installer.amazonaws.com/aws-efa-installer-{self.version}.tar.gz"


EFA_INSTALLER = EfaInstaller(version="1.51.0", key_fingerprint="4E9091BCBB97A96B26B15E59A05480B1DD2D3CCC",
                             released="2026-10-22")
# "1.25.0 - Add support for Amazon Linux 2023" (EFA installer release notes): older releases cannot
# install on the library's images.
EFA_INSTALLER_MIN_VERSION = "1.25.0"
EFA_INSTALLER_VERSION_PATTERN = re.compile(r"^\d+\.\d+\.\d+$")
KEY_FINGERPRINT_PATTERN = re.compile(r"^[0-9A-F]{40}$")


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


DLAMI_SOURCE = (
    "AWS Deep Learning AMIs Developer Guide, 'Finding the ID of a DLAMI' (\"the parameter name format is "
    "/aws/service/deeplearning/ami/$architecture/$ami_type/latest/ami-id ... Specify the ami_type by taking "
    "the DLAMI name and removing the keywords 'deep', 'learning', and 'ami'\"), and the release notes of "
    "'Deep Learning Base OSS Nvidia Driver GPU AMI (Amazon Linux 2023)' 20260519 (supported_ec2_instances: "
    "G4dn, G5, G6, Gr6, G6e, G7e, P4d, P4de, P5, P5e, P5en, P6-B200, P6-B300; NVIDIA driver, CUDA, "
    "GDRCopy, NVIDIA GDS, DCGM, EFA installer 1.47.0, aws-ofi-nccl) and of 'Deep Learning ARM64 Base OSS "
    "Nvidia Driver GPU AMI (Amazon Linux 2023)' 20260917 (G5g, P6e-GB200, P6e-GB300; EFA 1.50.0); "
    f"checked {CHECKED}"
)
AMAZON_LINUX_SOURCE = (
    "Amazon Linux 2023 User Guide, 'Amazon Linux 2023 on Amazon EC2' (public parameter "
    "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-<arch>; root device /dev/xvda); "
    f"checked {CHECKED}"
)
AL2023_ROOT_DEVICE = "/dev/xvda"

IMAGE_OS_SOURCE = (
    "AWS PCS User Guide, 'Supported operating systems in AWS PCS' (Amazon Linux 2, RHEL 9, Rocky Linux 9, Ubuntu "
    "22.04; the PCS sample AMIs run Amazon Linux 2023) and the root device names of the aws-hpc-recipes image "
    "recipes (recipes/pcs/hpc_ready_ami/assets/create-pcs-image.yaml: /dev/xvda for Amazon Linux 2 and 2023, "
    f"/dev/sda1 for Rocky Linux 9, RHEL 9, Ubuntu 22.04 and 24.04); checked {CHECKED}"
)


@dataclass(frozen=True, slots=True)
class ImageOs:
    """An operating system a node image may run: how it installs packages and where its root volume is."""

    name: str
    package_manager: str
    root_device_name: str


# The boot steps (hpc_constructs/scripts) install packages with dnf: images of another package manager are refused.
BOOT_PACKAGE_MANAGER = "dnf"
IMAGE_OPERATING_SYSTEMS: dict[str, ImageOs] = {
    "al2023": ImageOs("Amazon Linux 2023", "dnf", "/dev/xvda"),
    "rhel9": ImageOs("Red Hat Enterprise Linux 9", "dnf", "/dev/sda1"),
    "rocky9": ImageOs("Rocky Linux 9", "dnf", "/dev/sda1"),
    "al2": ImageOs("Amazon Linux 2", "yum", "/dev/xvda"),
    "ubuntu22.04": ImageOs("Ubuntu 22.04", "apt", "/dev/sda1"),
    "ubuntu24.04": ImageOs("Ubuntu 24.04", "apt", "/dev/sda1"),
}
# "Amazon Linux 2023 does not support A1 instances" (Amazon Linux 2023 User Guide, requirements; checked 2026-11).
AL2023_UNSUPPORTED_FAMILIES: tuple[str, ...] = ("a1",)


@dataclass(frozen=True, slots=True)
class PublicImage:
    """An image that AWS publishes under an SSM parameter, and what it brings."""

    name: str
    architecture: str
    ssm_parameter: str
    root_device_name: str
    families: tuple[str, ...]  # instance families it supports; () for every family
    efa_software: bool  # ships the EFA installer's software (libfabric, the EFA provider, aws-ofi-nccl)
    gpu_driver: bool  # ships the NVIDIA driver (and fabric manager, GDRCopy)
    source: str


AMAZON_LINUX_2023: dict[str, PublicImage] = {
    arch: PublicImage(
        name="Amazon Linux 2023", architecture=arch,
        ssm_parameter=f"/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{arch}",
        root_device_name=AL2023_ROOT_DEVICE, families=(), efa_software=False, gpu_driver=False,
        source=AMAZON_LINUX_SOURCE)
    for arch in ("x86_64", "arm64")
}
# The NVIDIA open-kernel-module ("OSS") driver these images ship supports only the families listed:
# p3dn (V100), g7 (RTX PRO 4500) and the fractional-GPU g6f/gr6f are not among them, and need an
# image of the user's (the proprietary-driver DLAMI is Amazon Linux 2 only).
GPU_BASE_IMAGES: dict[str, PublicImage] = {
    "x86_64": PublicImage(
        name="Deep Learning Base OSS Nvidia Driver GPU AMI (Amazon Linux 2023)", architecture="x86_64",
        ssm_parameter="/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id",
        root_device_name=AL2023_ROOT_DEVICE,
        families=("g4dn", "g5", "g6", "gr6", "g6e", "g7e", "p4d", "p4de", "p5", "p5e", "p5en", "p6-b200",
                  "p6-b300"),
        efa_software=True, gpu_driver=True, source=DLAMI_SOURCE),
    "arm64": PublicImage(
        name="Deep Learning ARM64 Base OSS Nvidia Driver GPU AMI (Amazon Linux 2023)", architecture="arm64",
        ssm_parameter="/aws/service/deeplearning/ami/arm64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id",
        root_device_name=AL2023_ROOT_DEVICE, families=("g5g", "p6e-gb200", "p6e-gb300"),
        efa_software=True, gpu_driver=True, source=DLAMI_SOURCE),
}

# -- what an image may hold, and what a node then skips at boot ------------------------------------------------

ECS_SOURCE = (
    "Amazon ECS Developer Guide, 'Retrieving Amazon ECS-optimized Linux AMI metadata' (parameters "
    "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id, .../amazon-linux-2023/arm64/..., "
    ".../amazon-linux-2023/gpu/...), and AWS Batch User Guide, 'Compute resource AMIs' (ECS_AL2023, "
    "ECS_AL2023_NVIDIA; a custom AMI through Ec2Configuration.ImageIdOverride). The ECS agent sets iptables rules for "
    "task IAM roles in host and awsvpc network modes, so the ECS-optimized images ship iptables; "
    f"checked {CHECKED}"
)
# The ECS-optimized Amazon Linux 2023 images Batch uses (ECS_AL2023, ECS_AL2023_NVIDIA), as an HpcImage's parent.
ECS_IMAGES: dict[tuple[str, bool], PublicImage] = {
    (arch, False): PublicImage(
        name="Amazon ECS-optimized Amazon Linux 2023", architecture=arch,
        ssm_parameter="/aws/service/ecs/optimized-ami/amazon-linux-2023/"
                      + ("arm64/" if arch == "arm64" else "") + "recommended/image_id",
        root_device_name=AL2023_ROOT_DEVICE, families=(), efa_software=False, gpu_driver=False, source=ECS_SOURCE)
    for arch in ("x86_64", "arm64")
}
ECS_IMAGES[("x86_64", True)] = PublicImage(
    name="Amazon ECS-optimized Amazon Linux 2023 GPU", architecture="x86_64",
    ssm_parameter="/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id",
    root_device_name=AL2023_ROOT_DEVICE, families=(), efa_software=False, gpu_driver=True, source=ECS_SOURCE)

# The names a node's boot steps know software by, and what each public image already holds. "efa" is the EFA
# installer's software; the others are dnf packages of Amazon Linux 2023 (the boot steps install them with
# `hpc_install`); "pcs-agent" and "slurm-<version>" are the PCS installers'.
EFA = "efa"
PCS_AGENT = "pcs-agent"
IPTABLES = "iptables-nft"  # hpc-imds-guard's rules
LUSTRE_CLIENT = "lustre-client"
EFS_UTILS = "amazon-efs-utils"
CLOUDWATCH_AGENT = "amazon-cloudwatch-agent"
RSYSLOG = "rsyslog"
SCRATCH_TOOLS = ("mdadm", "xfsprogs")
VOLUME_TOOLS = ("xfsprogs", "util-linux")  # HaInstance: the data volume's mkfs.xfs, blkid and findmnt
ECS_IMAGE_CONTENTS = frozenset({IPTABLES})
DLAMI_CONTENTS = frozenset({EFA})


def slurm_item(version: str) -> str:
    """The name an image's manifest gives the Slurm of one PCS version: slurm-26.05."""
    return f"slurm-{version}"


PCS_INSTALLERS_SOURCE = (
    "AWS PCS User Guide, 'Custom Amazon Machine Images (AMIs) for AWS PCS': 'Step 2 - Install the AWS PCS agent' "
    "(https://aws-pcs-repo-<region>.s3.<region>.amazonaws.com/aws-pcs-agent/aws-pcs-agent-v<release>.tar.gz, "
    "'replacing the version number with latest ... aws-pcs-agent-v1-latest.tar.gz'; its .sig; installer.sh; "
    "/opt/aws/pcs/version) and 'Step 3 - Install Slurm' (.../aws-pcs-slurm/aws-pcs-slurm-<version>-installer-"
    "<release>.tar.gz, 'aws-pcs-slurm-25.05-installer-latest.tar.gz'; installer.sh -y; "
    "/opt/aws/pcs/scheduler/slurm-<version>/version); both: the public key "
    "https://aws-pcs-repo-public-keys-<region>.s3.<region>.amazonaws.com/aws-pcs-public-key.pub, \"gpg "
    "--fingerprint 7EEF030EDDF5C21C ... should return a fingerprint that is identical to 1C24 32C1 862F 64D1 F90A "
    "239A 7EEF 030E DDF5 C21C\", \"Don't run the ... installation script if the fingerprint doesn't match\"; "
    f"checked {CHECKED}"
)


@dataclass(frozen=True, slots=True)
class PcsInstallers:
    """The AWS PCS agent and Slurm installers an image is built with, and the key that signs them.

    agent_release: "1-latest" (AWS's name for the newest agent of major version 1) or a release such as "1.3.1-1".
    slurm_release: "latest" (the newest installer of the Slurm version) or a release such as "25.05.5-1".
    The image build records the versions it installed (/etc/hpc-constructs/image-contents).
    """

    agent_release: str = "1-latest"
    slurm_release: str = "latest"
    key_fingerprint: str = "1C2432C1862F64D1F90A239A7EEF030EDDF5C21C"
    source: str = PCS_INSTALLERS_SOURCE


PCS_INSTALLERS = PcsInstallers()
PCS_AGENT_RELEASE_PATTERN = re.compile(r"^1(-latest|\.\d+\.\d+-\d+)$")
PCS_SLURM_RELEASE_PATTERN = re.compile(r"^(latest|\d+\.\d+\.\d+-\d+)$")
