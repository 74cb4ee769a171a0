"""The decisions behind a SlurmCluster, as pure functions of plain values (no CDK, no jsii).

`plan_slurm` checks the props in the order SlurmCluster's docstring lists its rules and returns a
SlurmPlan: the cluster's size tier and headroom, each node group's FleetPlan (the same plan a
ComputeFleet makes: EFA on every card, placement, image, EFA software) and the queues. It raises
ConfigError for anything PCS would refuse at deploy time.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from hpc_constructs.bastion_plan import OPEN, parse_cidrs
from hpc_constructs.catalog.limits import (
    PCS,
    PCS_PORTS,
    PCS_SLURM_SETTING_MIN_VERSION,
    PCS_SLURM_SETTINGS,
    PCS_SLURM_SETTINGS_NEED_ACCOUNTING,
    SECURITY_GROUPS_PER_INTERFACE,
)
from hpc_constructs.catalog.software import (
    BOOT_PACKAGE_MANAGER,
    EFA,
    IMAGE_OPERATING_SYSTEMS,
    ImageOs,
    version_tuple,
)
from hpc_constructs.errors import ConfigError
from hpc_constructs.fleet_plan import FleetPlan, plan_fleet
from hpc_constructs.image_plan import ImagePlan, check_image_for, image_plan_of

if TYPE_CHECKING:
    from aws_cdk import aws_ec2 as ec2

    from hpc_constructs.image import HpcImage

NAME = re.compile(PCS.name_pattern)
AMI_ID = re.compile(PCS.ami_id_pattern)
# IAM CreateRole: RoleName 1-64 characters of [\w+=,.@-]; Path "/" or "/.../" of printable ASCII, up to 512
# (botocore iam model: roleNameType, pathType).
ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
ROLE_PATH = re.compile(r"^(/|/[\x21-\x7E]{1,510}/)$")
NEWEST_SLURM_VERSION = PCS.slurm_versions[-1]
SIZES = tuple(PCS.size_max_nodes)
# A node group's PCS name is <name>-<4 hex digits of its instance types>: InstanceConfigs is create-only on
# AWS::PCS::ComputeNodeGroup, and CloudFormation creates the replacement before it deletes the old group, in the
# same cluster, where an unchanged name would still be taken. The user's name keeps 25 - 5 characters.
NODE_GROUP_SUFFIX_CHARS = 4
MAX_NODE_GROUP_NAME_CHARS = PCS.max_name_chars - NODE_GROUP_SUFFIX_CHARS - 1
SIZE_REPLACES = ("Size is create-only on AWS::PCS::Cluster (CloudFormation's schema): a new size builds a new cluster, "
                 "with new node groups and queues, ends every running job and loses the accounting data and the "
                 "controller's endpoint; `make diff` (hpc_constructs.changes) reports it before the deploy.")

_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class NodeGroupSpec:
    """One PCS compute node group: instances that Slurm starts and stops for the queues that name it.

    name: 3-20 characters, a letter first, then letters, digits and hyphens (PCS's pattern), unique. PCS's
          name for the group adds "-" and 4 hex digits of its instance types (cpu-1a2b): a change of instance
          types (create-only in CloudFormation) makes a new node group under a new name, never a name clash.
          Queues keep their names, so jobs keep their partitions.
    instance_types: catalog names of one architecture, e.g. ["hpc7a.96xlarge"].
    min_instances: 0 (nodes always running), max_instances: 4 (the most Slurm may start).
    purchase_option: "ONDEMAND" or "SPOT" (price-capacity-optimized allocation).
    efa: None turns EFA on when every type supports it; True on a type without EFA is a ConfigError.
    placement_group: None adds a cluster placement group when every type supports the cluster strategy.
    ami_id: None uses the cluster's ami_id. An image with the PCS agent and Slurm of the cluster's version.
    image: None uses the cluster's image. An HpcImage built with the cluster's slurm_version (gpu=True for GPU
           types): the group's AMI, and what its nodes skip at boot. Not together with ami_id.
    image_os: None uses the cluster's image_os: what the image runs ("al2023", "rhel9", "rocky9"; the boot steps
              need dnf). It names the root device (/dev/xvda, /dev/sda1).
    root_device_name: None takes the image_os's root device.
    root_volume_size_gib: None keeps the image's own root volume size (always encrypted gp3).
    slurm_settings: {} Slurm node parameters PCS allows on a node group (e.g. {"Weight": "10"}).
    security_groups: () Groups of yours that the group's nodes carry besides the cluster's node group (at most 4
                     more: 5 per network interface). The library adds no rule to them.
    """

    name: str
    instance_types: Sequence[str]
    min_instances: int = 0
    max_instances: int = 4
    purchase_option: str = "ONDEMAND"
    efa: bool | None = None
    placement_group: bool | None = None
    ami_id: str | None = None
    root_volume_size_gib: int | None = None
    slurm_settings: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    image_os: str | None = None
    root_device_name: str | None = None
    image: HpcImage | None = None
    security_groups: Sequence[ec2.ISecurityGroup] = ()


@dataclass(frozen=True)
class SlurmQueueSpec:
    """One Slurm partition (a PCS queue): name (3-25 characters, PCS's pattern) and the node groups it serves."""

    name: str
    node_groups: Sequence[str]
    slurm_settings: Mapping[str, str] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True)
class LoginNodesSpec:
    """Login nodes: a static node group (min = max = count) that no queue uses, where users run sbatch.

    instance_type: "c7i.large". count: 1.
    bastion: None. An HaBastion (anything ec2.IConnectable): SSH to the login nodes only from it, and the
             login nodes stay in the cluster's private subnet.
    allowed_cidrs: (). Without a bastion, the CIDRs that may reach the login nodes over SSH (never
                   0.0.0.0/0 or ::/0); the login nodes then go into a public subnet with public IPs.
                   With neither, there is no SSH at all: Session Manager only.
    subnet: None picks the cluster subnet (with a bastion or no SSH) or the VPC's first public subnet.
    name: "login", a node group name like any other (3-20 characters; PCS's name adds 4 hex digits of the type).
    ami_id: None uses the cluster's ami_id. image_os, root_device_name, image: None uses the cluster's, as for a
    NodeGroupSpec.
    security_groups: () Groups of yours that the login nodes carry besides the cluster's node group and the SSH
                     group (at most 3 more). The library adds no rule to them.
    """

    instance_type: str = "c7i.large"
    count: int = 1
    bastion: ec2.IConnectable | None = None
    allowed_cidrs: Sequence[str] = ()
    subnet: ec2.ISubnet | None = None
    name: str = "login"
    ami_id: str | None = None
    image_os: str | None = None
    root_device_name: str | None = None
    image: HpcImage | None = None
    security_groups: Sequence[ec2.ISecurityGroup] = ()


@dataclass(frozen=True, slots=True)
class NodeGroupPlan:
    name: str
    fleet: FleetPlan  # the ComputeFleet plan: types, EFA interfaces, placement, image, EFA software
    purchase_option: str
    ami_id: str | None  # None: the PCS sample AMI for the cluster's Slurm version, looked up at synth
    slurm_settings: tuple[tuple[str, str], ...]
    login: bool = False
    image_os: str = "al2023"
    image: ImagePlan | None = None  # an HpcImage's plan (ami_id is then its image ID): what boot skips

    @property
    def pcs_name(self) -> str:
        """The name PCS knows the group by: <name>-<4 hex digits of the sorted instance types>."""
        return pcs_node_group_name(self.name, [t.name for t in self.fleet.instance_types])

    @property
    def min_instances(self) -> int:
        return self.fleet.min_capacity

    @property
    def max_instances(self) -> int:
        return self.fleet.max_capacity

    @property
    def efa_bandwidth_gbps(self) -> float:
        """What the EFA interfaces of one node carry (summed card baselines); 0 without EFA."""
        return self.fleet.network_bandwidth_gbps if self.fleet.efa else 0.0


@dataclass(frozen=True, slots=True)
class QueuePlan:
    name: str
    node_groups: tuple[str, ...]
    slurm_settings: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class LoginPlan:
    group: NodeGroupPlan
    ssh: str  # "bastion", "cidrs" or "none"
    allowed_cidrs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SlurmPlan:
    cluster_name: str | None
    slurm_version: str
    size: str
    node_groups: tuple[NodeGroupPlan, ...]  # the compute node groups, in the order given
    queues: tuple[QueuePlan, ...]
    login: LoginPlan | None
    scale_down_idle_seconds: int
    slurm_settings: tuple[tuple[str, str], ...]
    accounting: bool
    accounting_purge_days: int | None
    slurm_rest_api: bool
    unqueued: tuple[str, ...]  # compute node groups that no queue names

    @property
    def max_nodes(self) -> int:
        """Nodes at full scale: every node group's max_instances, login nodes included."""
        login = self.login.group.max_instances if self.login is not None else 0
        return sum(g.max_instances for g in self.node_groups) + login

    @property
    def size_max_nodes(self) -> int:
        return PCS.size_max_nodes[self.size]

    @property
    def headroom(self) -> int:
        return self.size_max_nodes - self.max_nodes

    @property
    def efa_software(self) -> str:
        """'install' when some node group's image lacks the EFA software and it is installed at first boot."""
        kinds = {g.fleet.efa_software for g in self.node_groups}
        return "install" if "install" in kinds else "image" if "image" in kinds else "none"

    @property
    def srun_ports(self) -> tuple[int, int]:
        """The ports srun listens on: the cluster's SrunPortRange setting, else Slurm's default on PCS."""
        value = dict(self.slurm_settings).get("SrunPortRange")
        return PCS_PORTS["srun"] if value is None else srun_port_range("", value)

    def group(self, name: str) -> NodeGroupPlan:
        return next(g for g in self.node_groups if g.name == name)


def pcs_node_group_name(name: str, instance_types: Sequence[str]) -> str:
    digest = hashlib.sha256(",".join(sorted(instance_types)).encode()).hexdigest()[:NODE_GROUP_SUFFIX_CHARS]
    return f"{name}-{digest}"


def plan_slurm(
    path: str,
    *,
    cluster_name: str | None,
    slurm_version: str | None,
    size: str,
    node_groups: Sequence[NodeGroupSpec],
    queues: Sequence[SlurmQueueSpec],
    login_nodes: LoginNodesSpec | None,
    ami_id: str | None,
    root_device_name: str | None,
    image_os: str = "al2023",
    install_efa_software: bool,
    scale_down_idle_seconds: int,
    slurm_settings: Mapping[str, str],
    accounting: bool,
    accounting_purge_days: int | None,
    slurm_rest_api: bool,
    route_out: bool,
    login_subnet_public: bool,
    sample_ami_lookup: bool,
    image: HpcImage | None = None,
) -> SlurmPlan:
    """Validate a SlurmCluster's props. Rules, in order:

    1. cluster_name (when given): 3 to 40 characters of PCS's pattern.
    2. slurm_version: required, one that PCS lists: a library upgrade never moves the scheduler.
    3. size: SMALL, MEDIUM or LARGE (create-only: a new size is a new cluster).
    4. scale_down_idle_seconds: 1 to 10,000,000; slurm_settings: names and values as text.
    5. accounting_purge_days: only with accounting, -1 or 1 to 10,000.
    6. node_groups: at least one; names of 3 to 20 characters of PCS's pattern, unique; 0 <= min <= max;
       ONDEMAND or SPOT; an AMI or an HpcImage (the group's or the cluster's, not both at one level; a sample AMI
       only for a version AWS publishes them for; an HpcImage with the cluster's Slurm version, for the types'
       architecture and GPUs); an image OS whose package manager is dnf (its root device unless given); then
       ComputeFleet's plan for the types:
       known, ENA, one architecture, EFA only where supported, Spot only where offered, cluster
       placement only where supported, one subnet, the root volume, the EFA software.
    7. login_nodes: a name unique among the node groups; count >= 1; a known type; SSH through a
       bastion, or from allowed_cidrs (never open to the world) in a public subnet, not both.
    8. queues: default one per compute node group; names unique (3 to 25 characters); each names
       existing compute node groups, each once; a node group may serve several queues.
    9. size: the node groups' max_instances and the login nodes fit the size tier; the error names the
       smallest tier that fits.
    """
    if cluster_name is not None:
        check_name(path, "cluster_name", cluster_name, PCS.min_cluster_name_chars, PCS.max_cluster_name_chars)
    version = _slurm_version(path, slurm_version)
    if size not in SIZES:
        raise ConfigError(path, "size", size, f"one of {', '.join(SIZES)}",
                          hint=_size_hint())
    _check_int(path, "scale_down_idle_seconds", scale_down_idle_seconds, *PCS.scale_down_idle_seconds_range)
    cluster_settings = settings(path, "slurm_settings", slurm_settings, level="cluster", version=version)
    if "SrunPortRange" in dict(cluster_settings):
        srun_port_range(path, dict(cluster_settings)["SrunPortRange"])
    _feature_version(path, "accounting", accounting, version, PCS.accounting_min_slurm_version)
    _feature_version(path, "slurm_rest_api", slurm_rest_api, version, PCS.rest_api_min_slurm_version)
    if accounting_purge_days is not None:
        if not accounting:
            raise ConfigError(path, "accounting_purge_days", accounting_purge_days, "None without accounting=True")
        low, high = PCS.accounting_purge_days_range
        _check_int(path, "accounting_purge_days", accounting_purge_days, low, high)
        if accounting_purge_days == 0:
            raise ConfigError(path, "accounting_purge_days", 0, f"-1 (keep every record) or 1 to {high:,} days",
                              hint="PCS refuses 0 (AccountingRequest.defaultPurgeTimeInDays).")

    if isinstance(node_groups, NodeGroupSpec) or not node_groups:
        raise ConfigError(path, "node_groups", node_groups, "a sequence of one or more NodeGroupSpec")
    groups: list[NodeGroupPlan] = []
    for index, spec in enumerate(node_groups):
        if not isinstance(spec, NodeGroupSpec):
            raise ConfigError(path, f"node_groups[{index}]", spec, "a NodeGroupSpec")
        groups.append(_node_group(path, spec, ami_id=ami_id, image=image, root_device_name=root_device_name,
                                  image_os=image_os,
                                  install_efa_software=install_efa_software, route_out=route_out,
                                  names=[g.name for g in groups], version=version, accounting=accounting,
                                  sample_ami_lookup=sample_ami_lookup))
    login = None
    if login_nodes is not None:
        login = _login(path, login_nodes, ami_id=ami_id, image=image, root_device_name=root_device_name,
                       image_os=image_os,
                       names=[g.name for g in groups], public_subnet=login_subnet_public, version=version,
                       sample_ami_lookup=sample_ami_lookup)
    everyone = [*groups, *([login.group] if login is not None else [])]
    shared = sorted({g.fleet.architecture for g in everyone if g.ami_id is not None and g.ami_id == ami_id})
    if len(shared) > 1:
        raise ConfigError(path, "ami_id", ami_id, "an AMI of one architecture for the node groups that share it",
                          hint=f"Node groups of {' and '.join(shared)} use it; an AMI runs on one architecture. Give "
                               "the others an ami_id of their own (NodeGroupSpec.ami_id, LoginNodesSpec.ami_id).")
    planned_queues = _queues(path, queues, groups, login, version=version, accounting=accounting)
    served = {name for q in planned_queues for name in q.node_groups}
    plan = SlurmPlan(
        cluster_name=cluster_name, slurm_version=version, size=size, node_groups=tuple(groups),
        queues=planned_queues, login=login, scale_down_idle_seconds=scale_down_idle_seconds,
        slurm_settings=cluster_settings, accounting=accounting, accounting_purge_days=accounting_purge_days,
        slurm_rest_api=slurm_rest_api, unqueued=tuple(g.name for g in groups if g.name not in served))
    _check_size(path, plan)
    return plan


def check_name(path: str, prop: str, name: object, low: int, high: int) -> None:
    """A PCS name: low to high characters, a letter first, then letters, digits and hyphens, no pcs_ prefix."""
    if not isinstance(name, str):
        raise ConfigError(path, prop, name, f"a name of {low} to {high} characters")
    if not low <= len(name) <= high:
        suffix = (" A node group's PCS name adds '-' and 4 hex digits of its instance types, so that a change of "
                  "types makes a new group under a new name: 20 characters are left for yours."
                  if high == MAX_NODE_GROUP_NAME_CHARS else "")
        raise ConfigError(path, prop, name, f"{low} to {high} characters (it has {len(name)})",
                          hint="PCS's limit for this name (ClusterName 3-40, ComputeNodeGroupName and QueueName "
                               "3-25)." + suffix)
    if not NAME.fullmatch(name):
        raise ConfigError(path, prop, name, "a letter first, then letters, digits and hyphens, not starting with pcs_",
                          hint="PCS's name pattern; Slurm derives partition and node names from it, so no "
                               "underscores or dots.")


def settings(path: str, prop: str, values: object, *, level: str, version: str,
             accounting: bool = True) -> tuple[tuple[str, str], ...]:
    """Slurm custom settings as (parameter, value) pairs: names PCS allows at `level`, values as one-line text."""
    if not isinstance(values, Mapping):
        raise ConfigError(path, prop, values, 'a mapping of Slurm parameter names to values, e.g. {"Weight": "10"}')
    allowed = PCS_SLURM_SETTINGS[level]
    out: list[tuple[str, str]] = []
    for key, value in values.items():
        if key not in allowed:
            near = difflib.get_close_matches(str(key), allowed, n=3)
            raise ConfigError(path, prop, key, f"a Slurm parameter PCS accepts on a {level.replace('_', ' ')}",
                              hint=(f"Did you mean {', '.join(near)}? " if near else "")
                              + f"PCS takes only its allow-list here: {', '.join(allowed)} ('Configuring custom "
                                "Slurm settings in AWS PCS').")
        needs = PCS_SLURM_SETTING_MIN_VERSION.get(key)
        if needs is not None and version_tuple(version) < version_tuple(needs):
            raise ConfigError(path, prop, key, f"Slurm {needs} or later for {key}",
                              hint=f"The cluster runs Slurm {version}; pass slurm_version=\"{needs}\" or later.")
        if key in PCS_SLURM_SETTINGS_NEED_ACCOUNTING and not accounting:
            raise ConfigError(path, prop, key, "accounting=True for QOS settings",
                              hint="QOS records live in the Slurm accounting database; PCS refuses the queue "
                                   "without it.")
        if not isinstance(value, str) or not value or "\n" in value:
            raise ConfigError(path, f"{prop}[{key!r}]", value, "a non-empty one-line string",
                              hint='Write numbers as text too: {"Weight": "10"}.')
        out.append((key, value))
    return tuple(out)


def _slurm_version(path: str, version: str | None) -> str:
    if version is None or version not in PCS.slurm_versions:
        raise ConfigError(path, "slurm_version", version, f"one of {', '.join(PCS.slurm_versions)}",
                          hint="The Slurm versions PCS runs (PCS User Guide, 'Slurm versions in AWS PCS'). Name it: "
                               "a default would move with the library, and an upgrade of the library would upgrade "
                               "the scheduler in place while the nodes' AMI still carries the old Slurm (PCS User "
                               "Guide, 'Updating the scheduler version': images with the new version come first).")
    return version


def _feature_version(path: str, prop: str, on: bool, version: str, needs: str) -> None:
    if on and version_tuple(version) < version_tuple(needs):
        raise ConfigError(path, prop, True, f"Slurm {needs} or later",
                          hint=f"The cluster runs Slurm {version}; PCS offers this from Slurm {needs}.")


def _size_hint() -> str:
    return "PCS's cluster sizes: " + "; ".join(
        f"{s} up to {PCS.size_max_nodes[s]:,} nodes and {PCS.size_max_jobs[s]:,} jobs" for s in SIZES) + "."


def _check_int(path: str, prop: str, value: object, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError(path, prop, value, f"a whole number from {low:,} to {high:,}")


def _node_group(path: str, spec: NodeGroupSpec, *, ami_id: str | None, image: HpcImage | None,
                root_device_name: str | None,
                image_os: str, install_efa_software: bool, route_out: bool, names: Sequence[str], version: str,
                accounting: bool, sample_ami_lookup: bool) -> NodeGroupPlan:
    check_name(path, "node_groups.name", spec.name, PCS.min_name_chars, MAX_NODE_GROUP_NAME_CHARS)
    where = f"{path}/{spec.name}"
    if spec.name in names:
        raise ConfigError(path, "node_groups.name", spec.name, "each node group name once")
    _check_int(where, "min_instances", spec.min_instances, 0, 1_000_000)
    _check_int(where, "max_instances", spec.max_instances, 0, 1_000_000)
    if spec.min_instances > spec.max_instances:
        raise ConfigError(where, "min_instances", spec.min_instances, f"at most max_instances ({spec.max_instances})")
    _check_groups(where, spec.security_groups, ours=1)
    if spec.purchase_option not in PCS.purchase_options:
        raise ConfigError(where, "purchase_option", spec.purchase_option, " or ".join(PCS.purchase_options),
                          hint="Capacity Blocks and interruptible capacity reservations need a reservation in the "
                               "launch template, which this construct does not make.")
    hpc, ami = _image(path, where, spec.image, spec.ami_id, image, ami_id, version=version, lookup=sample_ami_lookup)
    os_name, os = image_operating_system(where, spec.image_os, image_os)
    fleet = plan_fleet(where, spec.instance_types, efa=spec.efa, placement_group=spec.placement_group,
                       spot=spec.purchase_option == "SPOT", min_capacity=spec.min_instances,
                       max_capacity=spec.max_instances, subnet_count=1,
                       root_volume_size_gib=spec.root_volume_size_gib, custom_image=True,
                       root_device_name=spec.root_device_name or (hpc.root_device_name if hpc else None)
                       or root_device_name or os.root_device_name,
                       install_efa_software=install_efa_software and not (hpc is not None and EFA in hpc.contents),
                       route_out=route_out)
    if hpc is not None:
        check_image_for(where, hpc, fleet.instance_types, use="slurm", slurm_version=version)
    vcpus = sorted({t.vcpus for t in fleet.instance_types})
    if PCS.same_vcpus_per_node_group and len({t.efa_supported for t in fleet.instance_types}) > 1:
        detail = ", ".join(f"{t.name} ({'EFA' if t.efa_supported else 'no EFA'})" for t in fleet.instance_types)
        raise ConfigError(where, "instance_types", detail, "instance types with the same EFA support",
                          hint="PCS requires one vCPU count, architecture and EFA support per compute node group. "
                               "Make one node group for the EFA types and one for the others.")
    if PCS.same_vcpus_per_node_group and len(vcpus) > 1:
        detail = ", ".join(f"{t.name} ({t.vcpus})" for t in fleet.instance_types)
        raise ConfigError(where, "instance_types", detail, "instance types with the same number of vCPUs",
                          hint="PCS requires one vCPU count, architecture and EFA support per compute node group: "
                               "Slurm defines the group's nodes once. Make one node group per size.")
    return NodeGroupPlan(spec.name, fleet, spec.purchase_option, ami,
                         settings(where, "slurm_settings", spec.slurm_settings, level="node_group", version=version,
                                  accounting=accounting), image_os=os_name, image=hpc)


def _check_groups(where: str, groups: Sequence[object], *, ours: int) -> None:
    """The user's extra groups and the cluster's `ours` on each interface: at most the VPC's 5 per interface."""
    if len(groups) + ours > SECURITY_GROUPS_PER_INTERFACE:
        raise ConfigError(where, "security_groups", f"{len(groups)} security groups",
                          f"at most {SECURITY_GROUPS_PER_INTERFACE - ours} (besides the cluster's {ours})",
                          hint=f"Each network interface takes {SECURITY_GROUPS_PER_INTERFACE} security groups (Amazon "
                               "VPC quota); merge rules into fewer groups.")


def image_operating_system(where: str, own: str | None, cluster: str) -> tuple[str, ImageOs]:
    """The node group's image OS (its own, else the cluster's), refused unless the boot steps' dnf installs there."""
    chosen = own if own is not None else cluster
    supported = [k for k, v in IMAGE_OPERATING_SYSTEMS.items() if v.package_manager == BOOT_PACKAGE_MANAGER]
    os = IMAGE_OPERATING_SYSTEMS.get(chosen) if isinstance(chosen, str) else None
    if os is None:
        raise ConfigError(where, "image_os", chosen, f"one of {', '.join(IMAGE_OPERATING_SYSTEMS)}",
                          hint=f"What the node group's image runs; the boot steps support {', '.join(supported)}.")
    if os.package_manager != BOOT_PACKAGE_MANAGER:
        raise ConfigError(where, "image_os", chosen, f"an image whose package manager is {BOOT_PACKAGE_MANAGER}: "
                          + ", ".join(f"{k} ({IMAGE_OPERATING_SYSTEMS[k].name})" for k in supported),
                          hint=f"{os.name} installs packages with {os.package_manager}; the boot steps (EFA software, "
                               "Lustre client, EFS utilities, the metadata guard) use dnf.")
    return chosen, os


def _image(path: str, where: str, own_image: object, own_ami: str | None, cluster_image: object,
           cluster_ami: str | None, *, version: str, lookup: bool) -> tuple[ImagePlan | None, str | None]:
    """The node group's HpcImage plan and AMI ID: its own image or ami_id, else the cluster's; one of the two at
    each level. An HpcImage's AMI ID is its deploy-time image ID."""
    for where_, prop_image, image, ami in ((where, "image", own_image, own_ami), (path, "image", cluster_image,
                                                                                    cluster_ami)):
        if image is not None and ami is not None:
            raise ConfigError(where_, prop_image, "given with ami_id", "an HpcImage or an ami_id, not both")
    image = own_image if own_image is not None or own_ami is not None else cluster_image
    if image is None:
        return None, _ami(where, own_ami, cluster_ami, version=version, lookup=lookup)
    plan = image_plan_of(image)
    if plan is None:
        raise ConfigError(where, "image", image, "an HpcImage (or an AMI ID as ami_id)")
    image_id = getattr(image, "image_id", None)
    assert isinstance(image_id, str)
    return plan, image_id


def _ami(where: str, own: str | None, cluster: str | None, *, version: str, lookup: bool) -> str | None:
    """The node group's AMI ID; None: the PCS sample AMI for the Slurm version, looked up at synth."""
    chosen = own if own is not None else cluster
    if chosen is None:
        sample = PCS.sample_ami_name.format(architecture="<architecture>")
        x86 = PCS.sample_ami_name.format(architecture="x86_64")
        described = PCS.sample_ami_description.format(version=version)
        if version not in PCS.sample_ami_versions:
            raise ConfigError(where, "ami_id", None, "the ID of an AMI with the PCS agent and Slurm "
                              f"{version} (the node group's or the cluster's ami_id)",
                              hint=f"AWS publishes Amazon Linux 2023 sample AMIs for Slurm "
                                   f"{', '.join(PCS.sample_ami_versions)} only (the versions that are not end of "
                                   "life; 'Sample AMIs for AWS PCS'). Build an image with the PCS agent and Slurm "
                                   f"{version} (PCS User Guide, 'Custom Amazon Machine Images (AMIs) for AWS PCS').")
        if not lookup:
            raise ConfigError(where, "ami_id", None, "the ID of an AMI with the PCS agent and Slurm "
                              f"{version}, or a stack with an account and region",
                              hint=f"Without ami_id the library looks up the newest PCS sample AMI ({sample}, "
                                   f"description {described}, owner {PCS.sample_ami_owner}), which needs the stack's "
                                   "account and region (env=). Find one with: aws ec2 describe-images --owners "
                                   f"amazon --filters 'Name=name,Values={x86}' 'Name=description,Values={described}' "
                                   "--query 'sort_by(Images,&CreationDate)[-1].ImageId'. "
                                   "AWS calls the sample AMIs demonstrations: production clusters use their own.")
        return None
    if not isinstance(chosen, str) or not AMI_ID.fullmatch(chosen):
        raise ConfigError(where, "ami_id", chosen, "an AMI ID such as ami-0123456789abcdef0")
    return chosen


def _login(path: str, spec: LoginNodesSpec, *, ami_id: str | None, image: HpcImage | None,
           root_device_name: str | None, image_os: str,
           names: Sequence[str], public_subnet: bool, version: str, sample_ami_lookup: bool) -> LoginPlan:
    if not isinstance(spec, LoginNodesSpec):
        raise ConfigError(path, "login_nodes", spec, "a LoginNodesSpec or None")
    check_name(path, "login_nodes.name", spec.name, PCS.min_name_chars, MAX_NODE_GROUP_NAME_CHARS)
    where = f"{path}/{spec.name}"
    if spec.name in names:
        raise ConfigError(path, "login_nodes.name", spec.name, "a name no compute node group has",
                          hint="The login nodes are a node group of their own.")
    _check_int(where, "count", spec.count, 1, 1_000_000)
    _check_groups(where, spec.security_groups, ours=2)
    cidrs = parse_cidrs(where, "allowed_cidrs", spec.allowed_cidrs)
    open_cidrs = [str(c) for c in cidrs if c in OPEN]
    if open_cidrs:
        raise ConfigError(where, "allowed_cidrs", ", ".join(open_cidrs), "the networks your users connect from",
                          hint="SSH open to the whole internet is never a default here: list your site's CIDRs, "
                               "or reach the login nodes through an HaBastion (bastion=).")
    if spec.bastion is not None and cidrs:
        raise ConfigError(where, "allowed_cidrs", [str(c) for c in cidrs], "() with a bastion",
                          hint="With a bastion the login nodes admit SSH only from it; list the CIDRs on the "
                               "HaBastion instead.")
    ssh = "bastion" if spec.bastion is not None else "cidrs" if cidrs else "none"
    if ssh == "cidrs" and not public_subnet:
        raise ConfigError(where, "subnet", "a private subnet", "a public subnet for SSH from allowed_cidrs",
                          hint="Login nodes reached from allowed_cidrs need a public IP. Pass a public subnet, or "
                               "reach private login nodes through an HaBastion (bastion=).")
    hpc, ami = _image(path, where, spec.image, spec.ami_id, image, ami_id, version=version, lookup=sample_ami_lookup)
    os_name, os = image_operating_system(where, spec.image_os, image_os)
    fleet = plan_fleet(where, [spec.instance_type], efa=False, placement_group=False, min_capacity=spec.count,
                       max_capacity=spec.count, subnet_count=1, custom_image=True,
                       root_device_name=spec.root_device_name or (hpc.root_device_name if hpc else None)
                       or root_device_name or os.root_device_name)
    if hpc is not None:
        check_image_for(where, hpc, fleet.instance_types, use="slurm", slurm_version=version)
    if ssh == "cidrs" and len(fleet.interfaces) > 1:
        raise ConfigError(where, "instance_type", spec.instance_type,
                          "a type with one network card for login nodes with a public IP",
                          hint="EC2 assigns no public IP when an instance launches with several network interfaces "
                               "(one per card here). Choose a smaller type, or reach the login nodes through an "
                               "HaBastion (bastion=).")
    group = NodeGroupPlan(spec.name, fleet, "ONDEMAND", ami, (), login=True, image_os=os_name, image=hpc)
    return LoginPlan(group, ssh, tuple(str(c) for c in cidrs))


def _queues(path: str, queues: Sequence[SlurmQueueSpec], groups: Sequence[NodeGroupPlan],
            login: LoginPlan | None, *, version: str, accounting: bool) -> tuple[QueuePlan, ...]:
    if isinstance(queues, SlurmQueueSpec):
        raise ConfigError(path, "queues", queues, "a sequence of SlurmQueueSpec")
    if not queues:
        return tuple(QueuePlan(g.name, (g.name,), ()) for g in groups)
    known = [g.name for g in groups]
    out: list[QueuePlan] = []
    for index, spec in enumerate(queues):
        if not isinstance(spec, SlurmQueueSpec):
            raise ConfigError(path, f"queues[{index}]", spec, "a SlurmQueueSpec")
        check_name(path, "queues.name", spec.name, PCS.min_name_chars, PCS.max_name_chars)
        where = f"{path}/Queue-{spec.name}"
        if spec.name in [q.name for q in out]:
            raise ConfigError(path, "queues.name", spec.name, "each queue name once")
        members = spec.node_groups
        if isinstance(members, str) or not members:
            raise ConfigError(where, "node_groups", members, "a list of one or more node group names",
                              hint=f"Node groups: {', '.join(known)}.")
        for name in members:
            if login is not None and name == login.group.name:
                raise ConfigError(where, "node_groups", name, f"compute node groups: {', '.join(known)}",
                                  hint="Login nodes run no jobs; they are not in any queue.")
            if name not in known:
                raise ConfigError(where, "node_groups", name, f"a node group of this cluster: {', '.join(known)}")
        duplicates = sorted({n for n in members if list(members).count(n) > 1})
        if duplicates:
            raise ConfigError(where, "node_groups", list(members), "each node group once per queue",
                              hint=f"Listed more than once: {', '.join(duplicates)}.")
        out.append(QueuePlan(spec.name, tuple(members), settings(where, "slurm_settings", spec.slurm_settings,
                                                                 level="queue", version=version,
                                                                 accounting=accounting)))
    return tuple(out)


def smallest_size(nodes: int) -> str | None:
    """The smallest PCS size tier that holds `nodes`; None when none does."""
    return next((s for s in SIZES if nodes <= PCS.size_max_nodes[s]), None)


def _check_size(path: str, plan: SlurmPlan) -> None:
    if plan.max_nodes <= plan.size_max_nodes:
        return
    fits = smallest_size(plan.max_nodes)
    parts = [f"{g.name} {g.max_instances}" for g in plan.node_groups]
    if plan.login is not None:
        parts.append(f"{plan.login.group.name} (login) {plan.login.group.max_instances}")
    detail = f"{plan.max_nodes:,} nodes at full scale ({', '.join(parts)})"
    allowed = f"at most {plan.size_max_nodes:,} nodes for size {plan.size}"
    if fits is None:
        raise ConfigError(path, "size", detail, allowed,
                          hint=f"No PCS size holds more than {PCS.size_max_nodes[SIZES[-1]]:,} nodes: lower "
                               "max_instances or split the work over several clusters. " + _size_hint())
    raise ConfigError(path, "size", detail, allowed,
                      hint=f"The smallest size that fits is {fits} (up to {PCS.size_max_nodes[fits]:,} nodes); pass "
                           f"size=\"{fits}\" or lower max_instances. On a deployed cluster, a new size replaces it: "
                           + SIZE_REPLACES + " " + _size_hint())


def srun_port_range(path: str, value: str) -> tuple[int, int]:
    """SrunPortRange "low-high": the security groups open exactly this range between controller and nodes."""
    match = re.fullmatch(r"(\d{1,5})-(\d{1,5})", value.strip())
    low, high = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
    if not match or not 1024 <= low < high <= 65_535:
        raise ConfigError(path, "slurm_settings['SrunPortRange']", value, "a range such as 60001-63000 (1024-65535)",
                          hint="srun listens on these ports; the security groups open exactly this range.")
    return low, high


def check_node_role(path: str, name: str | None, role_path: str | None) -> tuple[str | None, str]:
    """The nodes' role name and path, as PCS accepts them: a name starting with AWSPCS, or /aws-pcs/ in the path.

    PCS User Guide, 'IAM instance profiles for AWS PCS': "The IAM role associated with the instance profile must
    have /aws-pcs/ in its path, or its name must start with AWSPCS". IAM's own rules: a name of 1-64 characters
    of [\\w+=,.@-]; a path of "/" or "/.../" in printable ASCII.
    """
    chosen_path = PCS.instance_role_path if role_path is None else role_path
    if not isinstance(chosen_path, str) or not ROLE_PATH.fullmatch(chosen_path):
        raise ConfigError(path, "node_role_path", role_path, 'an IAM path: "/" or "/name/", e.g. "/aws-pcs/"')
    if name is not None and (not isinstance(name, str) or not ROLE_NAME.fullmatch(name)):
        raise ConfigError(path, "node_role_name", name, "an IAM role name: 1-64 letters, digits and +=,.@_-")
    pcs_path = PCS.instance_role_path in chosen_path
    if not pcs_path and not (name or "").startswith(PCS.instance_role_name_prefix):
        raise ConfigError(path, "node_role_name", name,
                          f"a name starting with {PCS.instance_role_name_prefix}, or node_role_path containing "
                          f"{PCS.instance_role_path}",
                          hint="PCS refuses a compute node group whose instance profile's role has neither (PCS User "
                               "Guide, 'IAM instance profiles for AWS PCS'). Leave both None for a generated name "
                               f"under {PCS.instance_role_path}.")
    return name, chosen_path
