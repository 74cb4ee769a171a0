"""The decisions behind an HpcImage, as pure functions of plain values (no CDK, no jsii).

`plan_image` checks an HpcImage's props in the order its docstring lists them and returns an ImagePlan: the
parent image, what the image will hold (the names boot steps skip), and the EC2 Image Builder component document
that installs it, with the digest that names the component and the recipe. `check_image_for` is the one rule the
constructs that take an image share (architecture, GPU driver, ECS agent, Slurm version).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from hpc_constructs import boot, catalog
from hpc_constructs.catalog import InstanceType
from hpc_constructs.catalog.limits import PCS, ROOT_VOLUME
from hpc_constructs.catalog.software import (
    AMAZON_LINUX_2023,
    CLOUDWATCH_AGENT,
    ECS_IMAGE_CONTENTS,
    ECS_IMAGES,
    EFA,
    EFS_UTILS,
    GPU_BASE_IMAGES,
    IPTABLES,
    LUSTRE_CLIENT,
    PCS_AGENT,
    PCS_AGENT_RELEASE_PATTERN,
    PCS_INSTALLERS,
    PCS_SLURM_RELEASE_PATTERN,
    RSYSLOG,
    SCRATCH_TOOLS,
    VOLUME_TOOLS,
    EfaInstaller,
    PcsInstallers,
    PublicImage,
    slurm_item,
)
from hpc_constructs.errors import ConfigError
from hpc_constructs.fleet_plan import efa_installer

BASES = ("al2023", "ecs")
ARCHITECTURES = ("x86_64", "arm64")
# Every package a boot step of the library installs (hpc_install): an image that holds them all spares every node
# kind its package installs. Scratch tools for instance-store fleets, the clients for Lustre and EFS, iptables for
# the metadata guard, rsyslog and the CloudWatch agent for the bastion's SSH log, an HaInstance's volume tools.
DEFAULT_PACKAGES: tuple[str, ...] = tuple(dict.fromkeys(
    (IPTABLES, LUSTRE_CLIENT, EFS_UTILS, *SCRATCH_TOOLS, RSYSLOG, CLOUDWATCH_AGENT, *VOLUME_TOOLS)))
PACKAGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$")
# The build instance: general purpose, enough cores for the Slurm installer's compile (minutes, not an hour).
BUILD_INSTANCE_TYPES = {"x86_64": "c7i.2xlarge", "arm64": "c7g.2xlarge"}
# Amazon Linux 2023's own root is 8 GiB; the EFA software, the clients and Slurm take a few more. Fleets map a
# larger root (64 GiB) over it; a bastion's 16 GiB still fits. Other parents keep their own size.
AL2023_IMAGE_ROOT_GIB = 16
# Image Builder components: Data at most 16,000 characters (AWS::ImageBuilder::Component schema).
COMPONENT_MAX_CHARS = 16_000
REGION_PLACEHOLDER = "{region}"  # the construct puts the stack's Region here (the PCS buckets are regional)
SCRIPT_DIR = "/usr/local/sbin"


@dataclass(frozen=True, slots=True)
class ImagePlan:
    """What an HpcImage builds: on which parent, what it holds, and the component document that installs it."""

    base: str  # "al2023" (fleets, Slurm nodes, bastions) or "ecs" (AWS Batch)
    gpu: bool
    architecture: str
    parent: PublicImage
    packages: tuple[str, ...]
    efa_installer: EfaInstaller | None  # None: no EFA software (efa=False), or the parent's (a DLAMI)
    slurm_version: str | None  # with the PCS agent and this Slurm
    pcs: PcsInstallers | None
    build_instance_type: InstanceType
    root_volume_size_gib: int | None  # None: the parent's own
    contents: frozenset[str]  # what a node on this image skips at boot (the manifest's names)
    document: str  # the Image Builder component document (JSON, which is YAML), with REGION_PLACEHOLDER
    digest: str  # 8 hex digits of everything the build depends on: a change is a new recipe, a new build

    @property
    def root_device_name(self) -> str:
        return self.parent.root_device_name

    @property
    def parent_image(self) -> str:
        """ImageRecipe.ParentImage: the parent's public SSM parameter, resolved by Image Builder at each build."""
        return f"ssm:{self.parent.ssm_parameter}"

    @property
    def description(self) -> str:
        held = ", ".join(sorted(self.contents))
        return f"{self.parent.name} ({self.architecture}) with {held}"


def plan_image(
    path: str,
    *,
    base: str = "al2023",
    gpu: bool = False,
    architecture: str = "x86_64",
    efa: bool = True,
    packages: Sequence[str] = (),
    slurm_version: str | None = None,
    pcs_agent_release: str | None = None,
    slurm_installer_release: str | None = None,
    efa_installer_version: str | None = None,
    efa_installer_key_fingerprint: str | None = None,
    build_instance_type: str | None = None,
    root_volume_size_gib: int | None = None,
) -> ImagePlan:
    """Validate an HpcImage's props. Rules, in order:

    1. base: "al2023" or "ecs" (AWS Batch's ECS-optimized image: the ECS agent and Docker).
    2. architecture: x86_64 or arm64; with gpu, a parent with the NVIDIA driver for it (the Deep Learning Base OSS
       Nvidia Driver AMI for al2023; the ECS GPU image, x86_64 only, for ecs).
    3. packages: dnf package names, added to the library's (DEFAULT_PACKAGES).
    4. EFA software: the installer's release (1.25.0 or later) and key fingerprint, as ComputeFleet checks them.
    5. slurm_version: one that PCS lists, only on al2023 (a Batch node runs no Slurm); the installers' releases.
    6. build_instance_type: a catalog type of the architecture.
    7. root_volume_size_gib: 8 to 16,384 GiB, or None.
    """
    if base not in BASES:
        raise ConfigError(path, "base", base, " or ".join(BASES),
                          hint="al2023 builds on Amazon Linux 2023 (or, with gpu=True, the Deep Learning Base OSS "
                               "Nvidia Driver AMI) for fleets, Slurm nodes and bastions; ecs builds on the "
                               "ECS-optimized Amazon Linux 2023 that AWS Batch needs.")
    if architecture not in ARCHITECTURES:
        raise ConfigError(path, "architecture", architecture, " or ".join(ARCHITECTURES))
    if not isinstance(gpu, bool):
        raise ConfigError(path, "gpu", gpu, "True or False")
    parent = _parent(path, base, gpu, architecture)
    names = _packages(path, packages)
    installer = efa_installer(path, efa_installer_version, efa_installer_key_fingerprint) if efa else None
    if installer is not None and parent.efa_software:
        installer = None  # the parent ships it (the DLAMI, with its NVIDIA-matched libfabric and aws-ofi-nccl)
    pcs = _pcs(path, base, slurm_version, pcs_agent_release, slurm_installer_release)
    build_type = _build_instance_type(path, build_instance_type, architecture)
    root = _root_volume(path, base, gpu, root_volume_size_gib)

    contents = {*names}
    if efa:
        contents.add(EFA)
    if pcs is not None and slurm_version is not None:
        contents |= {PCS_AGENT, slurm_item(slurm_version)}
    if base == "ecs":
        contents |= ECS_IMAGE_CONTENTS
    document = component_document(names, installer, efa, slurm_version, pcs)
    if len(document) > COMPONENT_MAX_CHARS:
        raise ConfigError(path, "packages", f"{len(document):,} characters of component document",
                          f"at most {COMPONENT_MAX_CHARS:,} (Image Builder's limit on a component's data)",
                          hint="Fewer extra packages: install the rest with a component of your own.")
    digest = hashlib.sha256("\n".join([parent.ssm_parameter, str(root), document]).encode()).hexdigest()[:8]
    return ImagePlan(base, gpu, architecture, parent, names, installer, slurm_version, pcs, build_type, root,
                     frozenset(contents), document, digest)


def check_image_for(path: str, image: ImagePlan, types: Sequence[InstanceType], *, use: str,
                    slurm_version: str | None = None) -> None:
    """The rule every construct that takes an HpcImage applies: the image suits the instance types and the use.

    use: "fleet" (ComputeFleet, HaBastion), "batch" (an ECS image) or "slurm" (the PCS agent and slurm_version).
    """
    arches = sorted({t.architecture for t in types})
    if arches and arches != [image.architecture]:
        raise ConfigError(path, "image", image.description, f"an image for {' and '.join(arches)}",
                          hint=f"The image is built for {image.architecture}; build one with architecture="
                               f"{arches[0]!r} for these types.")
    gpu = sorted(t.name for t in types if t.has_gpu)
    if gpu and not image.gpu:
        raise ConfigError(path, "image", image.description, f"an image with the NVIDIA driver for {', '.join(gpu)}",
                          hint="Build it with gpu=True (on the Deep Learning Base OSS Nvidia Driver AMI, or Batch's "
                               "ECS GPU image).")
    if use == "batch" and image.base != "ecs":
        raise ConfigError(path, "image", image.description, "an image with base='ecs' (the ECS agent and Docker)",
                          hint="AWS Batch runs jobs through the ECS agent: build the environment's image on the "
                               "ECS-optimized Amazon Linux 2023 (HpcImage(base='ecs')).")
    if use != "batch" and image.base == "ecs":
        raise ConfigError(path, "image", image.description, "an image with base='al2023'",
                          hint="An ECS-optimized image starts the ECS agent at boot; it is for Batch environments.")
    if use == "slurm" and image.slurm_version != slurm_version:
        have = f"Slurm {image.slurm_version}" if image.slurm_version else "no Slurm"
        raise ConfigError(path, "image", f"{image.description} ({have})",
                          f"an image with the PCS agent and Slurm {slurm_version} (the cluster's slurm_version)",
                          hint=f"Build it with slurm_version={slurm_version!r}: PCS starts the Slurm of the "
                               "cluster's version, and the image must hold it.")
    if use != "slurm" and image.slurm_version is not None:
        raise ConfigError(path, "image", image.description, "an image without the PCS agent",
                          hint="The PCS agent registers the node with a PCS cluster at boot: it is for SlurmCluster "
                               "node groups. Use an image built without slurm_version.")


def component_document(packages: Sequence[str], installer: EfaInstaller | None, efa: bool,
                       slurm_version: str | None, pcs: PcsInstallers | None) -> str:
    """The AWSTOE component document (build and validate phases) that installs the image's software and records
    it in the manifest (boot.IMAGE_MANIFEST, one "<name> <version>" a line), as JSON."""
    manifest = boot.IMAGE_MANIFEST
    build: list[dict[str, object]] = [
        _bash("Packages", [f"dnf install -y {' '.join(packages)}"], attempts=3),
    ]
    record = [f"mkdir -p {manifest.rsplit('/', 1)[0]}", f": > {manifest}.new",
              *(f"echo \"{p} $(rpm -q --qf '%{{VERSION}}-%{{RELEASE}}' {p})\" >> {manifest}.new" for p in packages)]
    checks = [f"rpm -q {' '.join(packages)}"]
    if installer is not None:
        build.append(_bash("EfaSoftware", [*_script("hpc-efa-install"), f"{SCRIPT_DIR}/hpc-efa-install "
                                           f"{installer.version} {installer.key_fingerprint}"], attempts=2))
    if efa:
        # The installer's record of itself, or the parent's (a DLAMI): the release that is on the image.
        record.append("v=$(sed -n 's/^# EFA installer version: //p' /opt/amazon/efa_installed_packages 2>/dev/null)")
        record.append(f'echo "{EFA} ${{v:-installed}}" >> {manifest}.new')
        checks.append("test -x /opt/amazon/efa/bin/fi_info")
    if pcs is not None and slurm_version is not None:
        region = REGION_PLACEHOLDER
        build.append(_bash("PcsAgent", [*_script("hpc-pcs-install"), f"{SCRIPT_DIR}/hpc-pcs-install agent "
                                        f"{pcs.agent_release} {pcs.key_fingerprint} {region}"], attempts=2))
        build.append(_bash("Slurm", [f"{SCRIPT_DIR}/hpc-pcs-install slurm {slurm_version} {pcs.slurm_release} "
                                     f"{pcs.key_fingerprint} {region}"], attempts=2))
        scheduler = f"/opt/aws/pcs/scheduler/slurm-{slurm_version}/version"
        record += [
            f'( . /opt/aws/pcs/version; echo "{PCS_AGENT} $AGENT_VERSION-$AGENT_RELEASE" ) >> {manifest}.new',
            f'( . {scheduler}; echo "{slurm_item(slurm_version)} $SLURM_VERSION-$PCS_SLURM_RELEASE" ) '
            f">> {manifest}.new",
        ]
        checks += ["test -s /opt/aws/pcs/version", f"test -s {scheduler}"]
    record.append(f"mv {manifest}.new {manifest}")
    build.append(_bash("Manifest", record))
    items = sorted({*packages, *([EFA] if efa else []),
                    *([PCS_AGENT, slurm_item(slurm_version)] if pcs is not None and slurm_version else [])})
    validate = [_bash("Contents", [*checks, *(f"grep -q '^{item} ' {manifest}" for item in items)])]
    document = {
        "name": "hpc-constructs",
        "description": "HPC node software (hpc-constructs HpcImage): " + ", ".join(items),
        "schemaVersion": 1.0,
        "phases": [{"name": "build", "steps": build}, {"name": "validate", "steps": validate}],
    }
    return json.dumps(document, indent=1)


def _bash(name: str, commands: list[str], *, attempts: int = 1) -> dict[str, object]:
    step: dict[str, object] = {"name": name, "action": "ExecuteBash", "onFailure": "Abort",
                               "inputs": {"commands": ["set -euo pipefail", *commands]}}
    if attempts > 1:
        step["maxAttempts"] = attempts
    return step


def _script(name: str) -> list[str]:
    """Commands that write one of the package's scripts (without comments) to SCRIPT_DIR."""
    return [f"mkdir -p {SCRIPT_DIR}", f"cat > {SCRIPT_DIR}/{name} <<'HPC_SCRIPT'\n"
            f"{boot.compact(boot.script_text(name)).rstrip()}\nHPC_SCRIPT", f"chmod 0755 {SCRIPT_DIR}/{name}"]


def _parent(path: str, base: str, gpu: bool, architecture: str) -> PublicImage:
    if base == "ecs":
        parent = ECS_IMAGES.get((architecture, gpu))
        if parent is None:
            raise ConfigError(path, "architecture", architecture, "x86_64 for an ECS GPU image",
                              hint="AWS publishes the ECS-optimized Amazon Linux 2023 GPU image for x86_64 only.")
        return parent
    return GPU_BASE_IMAGES[architecture] if gpu else AMAZON_LINUX_2023[architecture]


def _packages(path: str, extra: Sequence[str]) -> tuple[str, ...]:
    if isinstance(extra, str):
        raise ConfigError(path, "packages", extra, "a sequence of dnf package names")
    for name in extra:
        if not isinstance(name, str) or not PACKAGE_NAME.match(name):
            raise ConfigError(path, "packages", name, "dnf package names (letters, digits, . _ + -)")
    return tuple(dict.fromkeys([*DEFAULT_PACKAGES, *extra]))


def _pcs(path: str, base: str, slurm_version: str | None, agent: str | None,
         slurm: str | None) -> PcsInstallers | None:
    if slurm_version is None:
        if agent is not None or slurm is not None:
            raise ConfigError(path, "pcs_agent_release" if agent is not None else "slurm_installer_release",
                              agent or slurm, "None without slurm_version")
        return None
    if slurm_version not in PCS.slurm_versions:
        raise ConfigError(path, "slurm_version", slurm_version, f"one of {', '.join(PCS.slurm_versions)}",
                          hint="The Slurm versions PCS lists ('Slurm versions in AWS PCS'); the image must hold "
                               "the version of the cluster it serves.")
    if base != "al2023":
        raise ConfigError(path, "slurm_version", slurm_version, "None with base='ecs'",
                          hint="Batch nodes run jobs through the ECS agent, not Slurm.")
    agent = PCS_INSTALLERS.agent_release if agent is None else agent
    slurm = PCS_INSTALLERS.slurm_release if slurm is None else slurm
    if not isinstance(agent, str) or not PCS_AGENT_RELEASE_PATTERN.match(agent):
        raise ConfigError(path, "pcs_agent_release", agent, "1-latest or a release such as 1.3.1-1",
                          hint="The PCS agent's releases: PCS User Guide, 'AWS PCS agent versions'.")
    if not isinstance(slurm, str) or not PCS_SLURM_RELEASE_PATTERN.match(slurm) or not (
            slurm == "latest" or slurm.startswith(f"{slurm_version}.")):
        raise ConfigError(path, "slurm_installer_release", slurm,
                          f"latest or a release of Slurm {slurm_version} such as {slurm_version}.1-1",
                          hint="The installers' releases: PCS User Guide, 'Slurm versions in AWS PCS'.")
    return PcsInstallers(agent_release=agent, slurm_release=slurm)


def _build_instance_type(path: str, name: str | None, architecture: str) -> InstanceType:
    chosen = BUILD_INSTANCE_TYPES[architecture] if name is None else name
    found = catalog.instance_type(chosen, path=path, prop="build_instance_type")
    if found.architecture != architecture:
        raise ConfigError(path, "build_instance_type", chosen, f"an {architecture} instance type",
                          hint=f"The image is built for {architecture}; {chosen} is {found.architecture}.")
    return found


def _root_volume(path: str, base: str, gpu: bool, size: int | None) -> int | None:
    if size is None:
        return AL2023_IMAGE_ROOT_GIB if base == "al2023" and not gpu else None
    if not isinstance(size, int) or isinstance(size, bool) or not ROOT_VOLUME.min_gib <= size <= ROOT_VOLUME.max_gib:
        raise ConfigError(path, "root_volume_size_gib", size, f"{ROOT_VOLUME.min_gib} to {ROOT_VOLUME.max_gib:,} GiB")
    return size


def image_plan_of(image: object) -> ImagePlan | None:
    """The ImagePlan of an HpcImage passed where an image is taken (machine_image=, image=); None for another image.

    Read by attribute, so that the pure plans and ComputeFleet need not import the construct module."""
    plan = getattr(image, "plan", None)
    return plan if isinstance(plan, ImagePlan) else None
