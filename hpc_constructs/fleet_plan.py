"""The decisions behind a ComputeFleet, as pure functions of plain values (no CDK, no jsii).

`plan_fleet` checks the props in the order ComputeFleet's docstring lists its rules and returns a
FleetPlan: which interfaces go on which network card, whether there is a placement group, what the
configured interfaces can carry. It raises ConfigError for anything AWS would refuse at deploy time.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from hpc_constructs import catalog
from hpc_constructs.catalog import InstanceType
from hpc_constructs.catalog.limits import AUTO_SCALING, ROOT_VOLUME
from hpc_constructs.catalog.software import (
    AMAZON_LINUX_2023,
    EFA_INSTALLER,
    EFA_INSTALLER_MIN_VERSION,
    EFA_INSTALLER_VERSION_PATTERN,
    GPU_BASE_IMAGES,
    KEY_FINGERPRINT_PATTERN,
    EfaInstaller,
    PublicImage,
    version_tuple,
)
from hpc_constructs.errors import ConfigError

MAX_INSTANCE_TYPES = AUTO_SCALING.max_launch_template_overrides

ENA_EXPLANATION = (
    "Every current EC2 instance type requires the Elastic Network Adapter (ENA); the library's images "
    "and network layouts assume it. Types without ENA use the legacy Intel 82599 Virtual Function "
    "(ixgbevf) path for enhanced networking, which caps bandwidth at 10 Gbps, supports neither EFA nor "
    "several network cards, and is not built for here. Choose a current-generation type with ENA."
)


@dataclass(frozen=True, slots=True)
class InterfacePlan:
    """One network interface of the launch template."""

    network_card_index: int
    device_index: int
    interface_type: str  # "interface" (ENA), "efa" (EFA with ENA) or "efa-only"

    @property
    def is_efa(self) -> bool:
        return self.interface_type in ("efa", "efa-only")


@dataclass(frozen=True, slots=True)
class ImagePlan:
    """The nodes' image: a public image by its SSM parameter, or the user's machine_image."""

    public: PublicImage | None  # None: the user's machine_image
    root_device_name: str

    @property
    def description(self) -> str:
        if self.public is None:
            return f"custom (machine_image), root device {self.root_device_name}"
        return f"{self.public.name} (SSM parameter {self.public.ssm_parameter})"


@dataclass(frozen=True, slots=True)
class FleetPlan:
    instance_types: tuple[InstanceType, ...]
    architecture: str
    efa: bool
    placement_group: bool
    spot: bool
    min_capacity: int
    max_capacity: int
    desired_capacity: int | None
    interfaces: tuple[InterfacePlan, ...]
    layout_type: InstanceType  # the type with the fewest network cards: the layout fits it and all others
    network_bandwidth_gbps: float
    max_network_bandwidth_gbps: float
    nvme_instance_store: bool  # some type has NVMe instance-store disks: stripe and mount them
    image: ImagePlan
    root_volume_size_gib: int | None  # None: the image's own root volume size
    efa_software: str  # "install" (at first boot, pinned and verified), "image" or "none" (no EFA)
    efa_installer: EfaInstaller

    @property
    def efa_interface_count(self) -> int:
        return sum(1 for i in self.interfaces if i.is_efa)


def plan_fleet(
    path: str,
    instance_types: Sequence[str],
    *,
    efa: bool | None = None,
    placement_group: bool | None = None,
    spot: bool = False,
    min_capacity: int = 0,
    max_capacity: int = 1,
    desired_capacity: int | None = None,
    subnet_count: int = 1,
    root_volume_size_gib: int | None = None,
    custom_image: bool = False,
    root_device_name: str | None = None,
    install_efa_software: bool = True,
    efa_installer_version: str | None = None,
    efa_installer_key_fingerprint: str | None = None,
    route_out: bool = True,
) -> FleetPlan:
    """Validate a fleet's props and decide its layout. Rules, in order:

    1. instance_types: 1 to 40 known, distinct names.
    2. ENA: every type supports it (legacy Intel 82599 VF types are refused).
    3. One architecture for all types.
    4. EFA: efa=True needs every type to support EFA; None turns it on when they all do.
    5. Spot: spot=True needs every type to offer the spot usage class.
    6. Placement: placement_group=True needs the cluster strategy on every type; None adds a cluster
       group when every type supports it and the fleet has one subnet.
    7. Subnets: an EFA fleet or a cluster placement group lives in exactly one subnet (one AZ).
    8. Capacity: 0 <= min <= desired <= max (max 0 parks the fleet).
    9. Image: without a custom image, Amazon Linux 2023 for the architecture, or for GPU types the
       AWS GPU base image (NVIDIA driver, fabric manager, GDRCopy, EFA); GPU types that image does
       not support need a custom image. A custom image needs root_device_name.
    10. Root volume: 8 to 16,384 GiB; None is 64 GiB on Amazon Linux 2023 and the image's own size
        on other images.
    11. EFA software: on an EFA fleet, from the image where it has it (the GPU base image, or
        install_efa_software=False for a custom image that does), else the pinned installer at first
        boot, verified against its GPG key: a well-formed version (1.25.0 or later, the first with
        Amazon Linux 2023) and key fingerprint, and a subnet with a route out to download it.
    """
    types = _instance_types(path, instance_types)
    _require_ena(path, types)
    architecture = _one_architecture(path, types)
    network = plan_network(path, types, efa=efa, placement_group=placement_group, spot=spot,
                           subnet_count=subnet_count)
    use_efa = network.efa
    _check_capacity(path, min_capacity, max_capacity, desired_capacity)
    image = choose_image(path, types, architecture, custom_image=custom_image, root_device_name=root_device_name)
    root_size = _root_volume(path, image, root_volume_size_gib)
    efa_software, installer = _efa_software(
        path, use_efa, image, install_efa_software=install_efa_software, version=efa_installer_version,
        fingerprint=efa_installer_key_fingerprint, route_out=route_out)

    return FleetPlan(
        instance_types=types,
        architecture=architecture,
        efa=use_efa,
        placement_group=network.placement_group,
        spot=spot,
        min_capacity=min_capacity,
        max_capacity=max_capacity,
        desired_capacity=desired_capacity,
        interfaces=network.interfaces,
        layout_type=network.layout_type,
        network_bandwidth_gbps=network.network_bandwidth_gbps,
        max_network_bandwidth_gbps=network.max_network_bandwidth_gbps,
        nvme_instance_store=any(t.nvme_instance_store_gb > 0 for t in types),
        image=image,
        root_volume_size_gib=root_size,
        efa_software=efa_software,
        efa_installer=installer,
    )


@dataclass(frozen=True, slots=True)
class NetworkPlan:
    """How the nodes of one launch template connect: EFA, placement, and an interface on every card."""

    efa: bool
    placement_group: bool
    interfaces: tuple[InterfacePlan, ...]
    layout_type: InstanceType  # the type with the fewest network cards: the layout fits it and all others
    network_bandwidth_gbps: float  # what the configured interfaces carry on layout_type
    max_network_bandwidth_gbps: float  # layout_type's full bandwidth

    @property
    def efa_interface_count(self) -> int:
        return sum(1 for i in self.interfaces if i.is_efa)


def plan_network(path: str, types: Sequence[InstanceType], *, efa: bool | None, placement_group: bool | None,
                 spot: bool, subnet_count: int, card0_reserve: int = 0) -> NetworkPlan:
    """Rules 4 to 7 of plan_fleet (EFA, Spot, placement, one subnet) and the interface layout.

    The one place that decides EFA and placement for a set of instance types: ComputeFleet, the Batch
    compute environments and the Slurm node groups all lay out their launch templates from it.
    """
    use_efa = _decide_efa(path, types, efa)
    _require_spot(path, types, spot)
    use_placement_group = _decide_placement_group(path, types, placement_group, subnet_count)
    if subnet_count != 1 and use_efa:
        raise ConfigError(path, "subnets", f"{subnet_count} subnets", "exactly one subnet for an EFA fleet",
                          hint="EFA traffic does not cross Availability Zones: pass subnet=<one subnet>, "
                               "or efa=False for a fleet that spans AZs.")
    layout_type = min(types, key=lambda t: (len(t.network_cards), t.network_bandwidth_gbps, t.name))
    interfaces = efa_layout(types, efa=use_efa, card0_reserve=card0_reserve)
    carried = {i.network_card_index for i in interfaces}
    bandwidth = sum(c.baseline_bandwidth_gbps for c in layout_type.network_cards if c.index in carried)
    return NetworkPlan(use_efa, use_placement_group, interfaces, layout_type, bandwidth,
                       layout_type.network_bandwidth_gbps)


def launch_template_interfaces(interfaces: Sequence[InterfacePlan],
                               group_ids: Sequence[object]) -> list[dict[str, object]]:
    """LaunchTemplateData.NetworkInterfaces for a layout, every interface in `group_ids`, none public."""
    specs: list[dict[str, object]] = [
        {
            "NetworkCardIndex": i.network_card_index,
            "DeviceIndex": i.device_index,
            "InterfaceType": i.interface_type,
            "Groups": list(group_ids),
            "DeleteOnTermination": True,
        }
        for i in interfaces
    ]
    if len(specs) == 1:
        # With several interfaces EC2 refuses the parameter even when false
        # ("cannot be specified when launching with multiple network interfaces") and assigns no
        # public IP anyway; with one interface, say no explicitly rather than follow the subnet.
        specs[0]["AssociatePublicIpAddress"] = False
    return specs


ROOT_DEVICE_NAME = re.compile(r"^/dev/(xvd[a-z]|sd[a-z][0-9]?|nvme0n1)$")


def choose_image(path: str, types: Sequence[InstanceType], architecture: str, *, custom_image: bool,
                 root_device_name: str | None) -> ImagePlan:
    """The image rule (9): a public image for the types, or the user's image with its root device."""
    if custom_image:
        if root_device_name is None:
            raise ConfigError(path, "root_device_name", None, "the custom image's root device name, e.g. /dev/xvda "
                              "or /dev/sda1",
                              hint="The launch template maps the encrypted gp3 root volume under this name; a wrong "
                                   "name adds a spare volume and leaves the image's own root as it is. Read it "
                                   "with: aws ec2 describe-images --image-ids <ami> --query "
                                   "'Images[0].RootDeviceName'.")
        if not ROOT_DEVICE_NAME.match(root_device_name):
            raise ConfigError(path, "root_device_name", root_device_name,
                              "a Linux root device name: /dev/xvda (Amazon Linux), /dev/sda1 (Ubuntu, RHEL), ...")
        return ImagePlan(None, root_device_name)
    if root_device_name is not None:
        raise ConfigError(path, "root_device_name", root_device_name, "None without machine_image",
                          hint="The library's default images say their own root device.")
    gpu = [t for t in types if t.has_gpu]
    if not gpu:
        public = AMAZON_LINUX_2023[architecture]
        return ImagePlan(public, public.root_device_name)
    public = GPU_BASE_IMAGES[architecture]
    unsupported = [t.name for t in gpu if t.family not in public.families]
    if unsupported:
        raise ConfigError(path, "machine_image", None,
                          f"an image with an NVIDIA driver for {', '.join(unsupported)}",
                          hint=f"The default GPU image, {public.name} (SSM parameter {public.ssm_parameter}), "
                               f"supports the {', '.join(public.families)} families only. Pass machine_image= an "
                               "image with the driver these types need (and root_device_name=).")
    return ImagePlan(public, public.root_device_name)


def _root_volume(path: str, image: ImagePlan, size: int | None) -> int | None:
    if size is None:
        if image.public is not None and not image.public.gpu_driver:
            return ROOT_VOLUME.default_gib
        return None  # the image's own snapshot size: a smaller root volume would not launch
    if not _is_int(size) or not ROOT_VOLUME.min_gib <= size <= ROOT_VOLUME.max_gib:
        raise ConfigError(path, "root_volume_size_gib", size,
                          f"{ROOT_VOLUME.min_gib} to {ROOT_VOLUME.max_gib:,} GiB (encrypted gp3 root volume; "
                          "Amazon Linux 2023 needs at least 8; at least the image's own root snapshot)")
    return size


def _efa_software(path: str, efa: bool, image: ImagePlan, *, install_efa_software: bool, version: str | None,
                  fingerprint: str | None, route_out: bool) -> tuple[str, EfaInstaller]:
    """The EFA software rule (11): where the EFA software comes from, and the installer if it is installed."""
    installer = efa_installer(path, version, fingerprint)
    if not efa:
        return "none", installer
    if (image.public is not None and image.public.efa_software) or not install_efa_software:
        return "image", installer
    if not route_out:
        raise ConfigError(path, "install_efa_software", True,
                          "an image that already has the EFA software, in a subnet with no route out",
                          hint="The fleet's subnet is isolated (no NAT gateway, no internet gateway), so the EFA "
                               f"installer cannot be downloaded from {installer.url}. Pass machine_image= an image "
                               "built with the EFA installer (an HpcImage) and install_efa_software=False, or put "
                               "the fleet in a private subnet with a NAT gateway.")
    return "install", installer


def efa_installer(path: str, version: str | None, fingerprint: str | None) -> EfaInstaller:
    """The EFA installer release and key fingerprint (None: the catalog's pins), checked; ComputeFleet and HpcImage."""
    version = EFA_INSTALLER.version if version is None else version
    fingerprint = EFA_INSTALLER.key_fingerprint if fingerprint is None else fingerprint
    if not isinstance(version, str) or not EFA_INSTALLER_VERSION_PATTERN.match(version) \
            or version_tuple(version) < version_tuple(EFA_INSTALLER_MIN_VERSION):
        raise ConfigError(path, "efa_installer_version", version,
                          f"a release number such as {EFA_INSTALLER.version}, {EFA_INSTALLER_MIN_VERSION} or later "
                          "(the first release that installs on Amazon Linux 2023)",
                          hint="Releases are listed in the EC2 User Guide's 'EFA installer release notes'.")
    normalized = fingerprint.replace(" ", "").upper() if isinstance(fingerprint, str) else fingerprint
    if not isinstance(normalized, str) or not KEY_FINGERPRINT_PATTERN.match(normalized):
        raise ConfigError(path, "efa_installer_key_fingerprint", fingerprint,
                          "a 40-digit hexadecimal OpenPGP fingerprint (spaces allowed)",
                          hint=f"AWS documents {EFA_INSTALLER.key_fingerprint} for the EFA installer's key.")
    return EfaInstaller(version, normalized)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def efa_layout(types: Sequence[InstanceType], *, efa: bool, card0_reserve: int = 0) -> tuple[InterfacePlan, ...]:
    """One interface on every network card that all `types` share, EFA where the cards allow it.

    The layout follows the EC2 User Guide's recommendation for EFA types with several network cards
    ('Maximize network bandwidth on Amazon EC2 instances with multiple network cards'):
      - the primary interface (card 0, device 0) is an ENA interface: never efa-only, and it keeps
        IP traffic off the EFA devices;
      - if card 0 supports EFA, an efa-only interface at card 0, device 1;
      - on every further card, device 0: efa-only, which takes no IPv4 address from the subnet
        (a p5.48xlarge would otherwise take 32 addresses per instance);
      - an ENA interface, at device index 1 as the guide gives for ENA on further cards, where a card
        cannot take EFA or the type's MaximumEfaInterfaces is used up (i7ie.48xlarge: 2 EFA-capable
        cards, 1 EFA interface), so that every card carries traffic and the instance gets its full
        bandwidth. (p6-b300's card 0 is ENA-only: it carries just the ENA primary.)
    Where card 0 can hold only one interface, the primary itself is an EFA-with-ENA ("efa")
    interface, the other documented layout. `card0_reserve` keeps that many of card 0's interfaces
    free for ones attached after launch (a Batch multi-node job's awsvpc interface), which also
    makes the primary an "efa" interface where card 0 has no room for both.
    For several types the layout is made for the type with the fewest cards, and each card's
    capabilities are those every type has at that index.
    """
    card_count = min(len(t.network_cards) for t in types)
    efa_budget = min(t.maximum_efa_interfaces for t in types) if efa else 0

    def shared(index: int, kind: str) -> bool:
        return all(kind in t.network_cards[index].interface_types for t in types)

    card0_room = min(t.network_cards[0].maximum_network_interfaces for t in types)
    interfaces: list[InterfacePlan] = []
    if efa_budget and shared(0, "efa-only") and card0_room - card0_reserve >= 2:
        interfaces += [InterfacePlan(0, 0, "interface"), InterfacePlan(0, 1, "efa-only")]
        efa_budget -= 1
    elif efa_budget and shared(0, "efa"):
        interfaces.append(InterfacePlan(0, 0, "efa"))
        efa_budget -= 1
    else:
        interfaces.append(InterfacePlan(0, 0, "interface"))
    for index in range(1, card_count):
        if efa_budget and shared(index, "efa-only"):
            interfaces.append(InterfacePlan(index, 0, "efa-only"))
            efa_budget -= 1
        elif efa_budget and shared(index, "efa"):
            interfaces.append(InterfacePlan(index, 0, "efa"))
            efa_budget -= 1
        else:
            # ENA on a further card goes at device 1, as the guide gives, unless the card holds one
            # interface only (hpc6id.32xlarge): then device 0 is the only place it can go.
            room = min(t.network_cards[index].maximum_network_interfaces for t in types)
            interfaces.append(InterfacePlan(index, 1 if room >= 2 else 0, "interface"))
    return tuple(interfaces)


def _instance_types(path: str, names: Sequence[str]) -> tuple[InstanceType, ...]:
    if isinstance(names, str):
        raise ConfigError(path, "instance_types", names, "a sequence of instance type names",
                          hint=f"Write instance_types=[{names!r}].")
    if not 1 <= len(names) <= MAX_INSTANCE_TYPES:
        raise ConfigError(path, "instance_types", list(names), f"1 to {MAX_INSTANCE_TYPES} instance types",
                          hint=f"An Auto Scaling group's mixed-instances policy takes at most "
                               f"{MAX_INSTANCE_TYPES} types.")
    duplicates = sorted({n for n in names if list(names).count(n) > 1})
    if duplicates:
        raise ConfigError(path, "instance_types", list(names), "each instance type once",
                          hint=f"Listed more than once: {', '.join(duplicates)}.")
    return tuple(catalog.instance_type(n, path=path, prop="instance_types") for n in names)


def _require_ena(path: str, types: Sequence[InstanceType]) -> None:
    legacy = [t.name for t in types if not t.ena_capable]
    if legacy:
        raise ConfigError(path, "instance_types", ", ".join(legacy), "instance types that support ENA",
                          hint=ENA_EXPLANATION)


def _one_architecture(path: str, types: Sequence[InstanceType]) -> str:
    by_arch: dict[str, list[str]] = {}
    for t in types:
        by_arch.setdefault(t.architecture, []).append(t.name)
    if len(by_arch) > 1:
        detail = "; ".join(f"{arch}: {', '.join(names)}" for arch, names in sorted(by_arch.items()))
        raise ConfigError(path, "instance_types", detail, "instance types of one architecture",
                          hint="One launch template carries one image; build one fleet per architecture.")
    mac = [t.name for t in types if t.architecture not in ("x86_64", "arm64")]
    if mac:
        raise ConfigError(path, "instance_types", ", ".join(mac), "x86_64 or arm64 (Linux) instance types",
                          hint="Mac instances run macOS on Dedicated Hosts, not in Auto Scaling groups.")
    return types[0].architecture


def _decide_efa(path: str, types: Sequence[InstanceType], efa: bool | None) -> bool:
    lacking = [t for t in types if not t.efa_supported]
    if efa is None:
        return not lacking
    if efa and lacking:
        first = lacking[0]
        raise ConfigError(path, "efa", True, "EFA only on instance types whose catalog entry says EfaSupported",
                          hint=f"{', '.join(t.name for t in lacking)} has no EFA support. "
                               f"{_efa_alternatives(first)}")
    return efa


def _efa_alternatives(t: InstanceType) -> str:
    efa_types = [x for x in catalog.instance_types() if x.efa_supported]
    same_family = sorted((x for x in efa_types if x.family == t.family), key=lambda x: x.vcpus)
    in_family = ", ".join(x.name for x in same_family[:4]) or "none"
    names = [x.name for x in efa_types]
    nearest = difflib.get_close_matches(t.name, names, n=3, cutoff=0.0)
    return f"EFA-capable types in this family: {in_family}; nearest: {', '.join(nearest)}."


def _require_spot(path: str, types: Sequence[InstanceType], spot: bool) -> None:
    lacking = [t.name for t in types if not t.supports_spot]
    if spot and lacking:
        raise ConfigError(path, "spot", True, "Spot only on instance types that offer the spot usage class",
                          hint=f"No Spot capacity for: {', '.join(lacking)}.")


def _decide_placement_group(path: str, types: Sequence[InstanceType], placement_group: bool | None,
                            subnet_count: int) -> bool:
    lacking = [t.name for t in types if not t.supports_cluster_placement]
    if placement_group is None:
        return not lacking and subnet_count == 1
    if placement_group and lacking:
        raise ConfigError(path, "placement_group", True,
                          "a cluster placement group only for instance types that support the cluster strategy",
                          hint=f"{', '.join(lacking)} supports only: "
                               f"{', '.join(catalog.instance_type(lacking[0]).placement_strategies) or 'none'}.")
    if placement_group and subnet_count != 1:
        raise ConfigError(path, "subnets", f"{subnet_count} subnets",
                          "exactly one subnet with a cluster placement group",
                          hint="A cluster placement group lives in a single Availability Zone.")
    return placement_group


def _check_capacity(path: str, min_capacity: int, max_capacity: int, desired_capacity: int | None) -> None:
    if min_capacity < 0:
        raise ConfigError(path, "min_capacity", min_capacity, "0 or more")
    if max_capacity < 0:
        raise ConfigError(path, "max_capacity", max_capacity, "0 or more")
    if min_capacity > max_capacity:
        raise ConfigError(path, "min_capacity", min_capacity, f"at most max_capacity ({max_capacity})")
    if desired_capacity is not None and not min_capacity <= desired_capacity <= max_capacity:
        raise ConfigError(path, "desired_capacity", desired_capacity,
                          f"min_capacity ({min_capacity}) to max_capacity ({max_capacity})")
