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
