"""What the storage tiers mount on: a ComputeFleet, or any construct with user data, a role and connections.

`mount_on` of every storage tier (and of StorageLayer) takes a MountTarget: a ComputeFleet, an
autoscaling.AutoScalingGroup, an ec2.Instance, or anything else with `user_data`, `role` and
`connections`. A ComputeFleet gives the tiers everything they can use (its instance types for EFA
and EBS checks, its launch template for per-node volumes, its boot-script bookkeeping); for any other
target the tiers add the boot prelude (hpc_constructs.boot) to its user data once, mount over TCP,
and refuse what needs a fleet (per-node EBS volumes), saying so.

Also here: the security-group rules the tiers create between two groups, the subnets they use, and
the aspect that keeps a composed tier's logical IDs where they were before the tiers were split.
"""

from __future__ import annotations

import hashlib
import re
import weakref
from collections.abc import Sequence
from typing import Protocol, cast

import jsii
from aws_cdk import Annotations, CfnElement, CfnResource, IAspect, RemovalPolicy, Stack, Tags
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct, IConstruct, IDependable, Node

from hpc_constructs import boot, paths
from hpc_constructs.catalog import InstanceType, instance_type
from hpc_constructs.compute_fleet import FLEET_TAG_KEY, ComputeFleet, claim_mount_point, ebs_device_name
from hpc_constructs.errors import ConfigError
from hpc_constructs.given import add_statement, takes_rules


class MountTarget(Protocol):
    """What mount_on needs from the nodes it mounts storage on."""

    @property
    def node(self) -> Node: ...

    @property
    def user_data(self) -> ec2.UserData | boot.BootCommands: ...

    @property
    def role(self) -> iam.IRole: ...

    @property
    def connections(self) -> ec2.Connections: ...


class Nodes:
    """The tiers' view of a mount target: a ComputeFleet or a plain construct (see nodes_of)."""

    def __init__(self, target: Construct, *, fleet: ComputeFleet | None, user_data: ec2.UserData | boot.BootCommands,
                 role: iam.IRole, security_groups: Sequence[ec2.ISecurityGroup]) -> None:
        self.target = target
        self.fleet = fleet
        self.path = target.node.path
        self.user_data = user_data
        self.role = role
        self.security_groups = list(security_groups)
        self.security_group_ids = [g.security_group_id for g in security_groups]
        # Groups the user gave that take no rule (imported with mutable=False): the tiers warn instead of adding;
        # groups without an allow-all egress rule: the tiers add the clients' egress rules as well.
        self.fixed_groups = {g.security_group_id for g in security_groups if not takes_rules(g)}
        self.egress_groups = {g.security_group_id for g in security_groups if not g.allow_all_outbound}
        self.mounted_storage: set[str] = fleet.mounted_storage if fleet is not None else set()
        # What the target's image holds (an HpcImage's contents): its installs are left out of the boot lines. A
        # SlurmCluster keeps every line and leaves them out per node group, whose images differ.
        self.installed: frozenset[str] = frozenset(getattr(target, "image_contents", None) or ())
        self._scripts: set[str] = set()
        self._mount_points: dict[str, str] = {}
        self._ebs_devices = 0

    # -- what the tiers know about the nodes ---------------------------------------------------

    @property
    def instance_types(self) -> tuple[InstanceType, ...]:
        """The catalog records of the nodes' types; () when unknown (an Auto Scaling group)."""
        if self.fleet is not None:
            return self.fleet.instance_types
        cfn = self.target.node.default_child
        name = cfn.instance_type if isinstance(cfn, ec2.CfnInstance) else None
        try:
            return (instance_type(name),) if isinstance(name, str) else ()
        except ConfigError:
            return ()

    @property
    def efa(self) -> bool:
        return self.fleet is not None and self.fleet.plan.efa

    @property
    def max_capacity(self) -> int:
        if self.fleet is not None:
            return self.fleet.plan.max_capacity
        return 1

    @property
    def tag(self) -> tuple[str, str]:
        """The tag every node carries (value: the target's path), for IAM conditions on its instances."""
        if self.fleet is not None:
            return self.fleet.fleet_tag
        tag = (FLEET_TAG_KEY, self.path)
        Tags.of(self.target).add(*tag, apply_to_launched_instances=True)
        return tag

    # -- what the tiers add to the nodes -------------------------------------------------------

    def add_boot_commands(self, *lines: str) -> None:
        if self.fleet is not None:
            self.fleet.add_boot_commands(*lines)
        else:
            self.user_data.add_commands(*boot.without_installed(lines, self.installed))

    def install_boot_script(self, name: str) -> None:
        if self.fleet is not None:
            self.fleet.install_boot_script(name)
        elif name not in self._scripts:
            self._scripts.add(name)
            self.add_boot_commands(*boot.install_boot_script(name))

    @property
    def mount_points(self) -> tuple[str, ...]:
        """The mount points claimed on the nodes so far, in the order they were mounted."""
        return tuple(self.fleet.mount_points if self.fleet is not None else self._mount_points)

    def claim_mount_point(self, mount_point: str, owner: str) -> None:
        if self.fleet is not None:
            self.fleet.claim_mount_point(mount_point, owner)
            return
        claim_mount_point(self._mount_points, mount_point, owner, self.path)

    def next_ebs_device_name(self) -> str:
        if self.fleet is not None:
            return self.fleet.next_ebs_device_name()
        self._ebs_devices += 1
        return ebs_device_name(self.path, self._ebs_devices)

    def wait_for(self, *constructs: IDependable) -> None:
        """The nodes are not launched before `constructs` exist (rules, mount targets)."""
        if self.fleet is not None:
            self.fleet.auto_scaling_group.node.add_dependency(*constructs)
            return
        launch_after = getattr(self.target, "launch_after", None)
        if callable(launch_after):  # a target that launches through resources of its own (SlurmCluster)
            launch_after(*constructs)
            return
        # Only the launching resource: the target's own security group must not wait for rules that
        # refer to it.
        cfn = self.target.node.default_child
        (cfn if isinstance(cfn, CfnResource) else self.target).node.add_dependency(*constructs)

    def add_figures(self, figures: dict[str, object]) -> None:
        self.target.node.add_metadata("hpc:figures", figures)

    def group_name(self, group_id: str) -> str:
        """One of the target's security groups by its path, for warnings."""
        group = self.security_groups[self.security_group_ids.index(group_id)]
        return group.node.path

    def grant_or_warn(self, statements: Sequence[iam.PolicyStatement], *, why: str) -> None:
        """Add `statements` to the nodes' role, or warn on the target naming them when the role takes none."""
        for statement in statements:
            add_statement(self.target, self.role, statement, why=why)

    # -- what the tiers declare for hpc-verify (hpc_constructs.paths) -----------------------------------------

    @property
    def path_anchor(self) -> IConstruct:
        """The resource that holds the path declarations of what is mounted here: the fleet's Auto Scaling group,
        else the target's own resource (a Batch environment, a PCS cluster, an instance)."""
        if self.fleet is not None:
            return self.fleet.auto_scaling_group
        return paths.anchor_of(self.target)

    def path_endpoint(self) -> dict[str, object]:
        """The nodes as a path's end: the fleet's or target's own endpoint, else what its default child launches."""
        own = getattr(self.fleet if self.fleet is not None else self.target, "path_endpoint", None)
        if isinstance(own, dict):
            return own
        return paths.nodes(paths.anchor_of(self.target), f"{self.path} nodes")


_PLAIN: weakref.WeakKeyDictionary[object, Nodes] = weakref.WeakKeyDictionary()


def nodes_of(owner: str, target: MountTarget | ComputeFleet) -> Nodes:
    """The Nodes view of `target`; the same object for the same plain target on every call."""
    if isinstance(target, ComputeFleet):
        return Nodes(target, fleet=target, user_data=target.user_data, role=target.role,
                     security_groups=[target.security_group])
    if target in _PLAIN:
        return _PLAIN[target]
    what = "a ComputeFleet, an AutoScalingGroup, an Instance, or a construct with user_data, role and connections"
    if not isinstance(target, Construct):
        raise ConfigError(owner, "mount_on(target)", type(target).__name__, what)
    try:
        user_data, role, connections = target.user_data, target.role, target.connections
    except (AttributeError, RuntimeError) as err:  # jsii raises RuntimeError for "no user data"
        raise ConfigError(owner, "mount_on(target)", target.node.path, what,
                          hint=f"It has no user data, role or connections: {err}.") from err
    groups = list(connections.security_groups)
    if not groups:
        raise ConfigError(owner, "mount_on(target)", target.node.path, "a target with a security group",
                          hint="Rules for NFS and Lustre are made between security groups.")
    nodes = Nodes(target, fleet=None, user_data=user_data, role=role, security_groups=groups)
    # Boot commands shared by node groups (SlurmCluster) are registered by shared_boot_nodes, never seen here.
    rendered = cast(ec2.UserData, user_data)
    rendered.add_on_exit_commands(*boot.ON_EXIT)
    rendered.add_commands(*boot.PRELUDE)
    Annotations.of(target).add_info(
        f"hpc-constructs mounts storage on {target.node.path} at boot with dnf and systemd (Amazon Linux 2023 "
        "or a RHEL 9 family image); failed steps make the user data exit 1.")
    _PLAIN[target] = nodes
    return nodes


def shared_boot_nodes(target: Construct, *, commands: boot.BootCommands, role: iam.IRole,
                      security_groups: Sequence[ec2.ISecurityGroup]) -> Nodes:
    """The Nodes view of a target whose node groups each render `commands` into user data of their own (after
    their own prelude): the tiers add their steps to `commands`. The same object on every later nodes_of."""
    nodes = Nodes(target, fleet=None, user_data=commands, role=role, security_groups=security_groups)
    _PLAIN[target] = nodes
    return nodes


def adopt(target: Construct, *, user_data: ec2.UserData, role: iam.IRole,
          security_groups: Sequence[ec2.ISecurityGroup]) -> None:
    """Register a target whose user data already has the boot prelude and its exit report (HaInstance), so that
    mount_on adds neither a second time (a second prelude would forget the steps that failed before it)."""
    _PLAIN[target] = Nodes(target, fleet=None, user_data=user_data, role=role, security_groups=security_groups)


def start_mount(owner: Construct, kind: str, target: MountTarget | ComputeFleet) -> Nodes:
    """The Nodes view of `target`, after refusing a second mount of `owner` on it."""
    path = owner.node.path
    nodes = nodes_of(path, target)
    if path in nodes.mounted_storage:
        raise ConfigError(path, "mount_on", nodes.path, f"each fleet once per {kind}")
    return nodes


def rules_scope(owner: Construct, kind: str, nodes: Nodes) -> Construct:
    """Record the mount, comment it in the user data, and make the scope for its security-group rules.

    The rules live in the target's scope (its stack), so that storage in another stack never depends
    on the target's stack: that would be a cycle with the user data's references.
    """
    nodes.mounted_storage.add(owner.node.path)
    nodes.add_boot_commands(f"# hpc-constructs {kind} {owner.node.path}")
    return Construct(nodes.target, f"Mount{unique_id(owner.node.path.split(PATH_SEPARATOR))}")


def inner_subnets(path: str, vpc: ec2.IVpc) -> list[ec2.ISubnet]:
    """The VPC's private subnets, else its isolated ones, else (a public-only VPC) its public ones."""
    subnets = list(vpc.private_subnets) or list(vpc.isolated_subnets) or list(vpc.public_subnets)
    if not subnets:
        raise ConfigError(path, "vpc", "a VPC without subnets", "a VPC with at least one subnet")
    return subnets


def tcp_rule(scope: Construct, id: str, *, group: str, ports: tuple[int, int], description: str,
             source: str | None = None, destination: str | None = None) -> None:
    """One TCP rule between two security groups: ingress from `source`, or egress to `destination`."""
    low, high = ports
    if source is not None:
        ec2.CfnSecurityGroupIngress(scope, id, group_id=group, source_security_group_id=source, ip_protocol="tcp",
                                    from_port=low, to_port=high, description=description)
    else:
        ec2.CfnSecurityGroupEgress(scope, id, group_id=group, destination_security_group_id=destination,
                                   ip_protocol="tcp", from_port=low, to_port=high, description=description)


def unruled_groups(storage: object, nodes: Nodes) -> list[tuple[int, str]]:
    """The target's security groups that `storage` has no rules with yet, each with its index (for rule_id).

    A Batch environment made from a fleet carries the fleet's group beside its own. When the fleet mounts the
    same storage, the rules for its group exist already, and a second copy of a security-group rule fails at
    deploy time (InvalidPermission.Duplicate), so it is made once.
    """
    ruled: set[str] = storage.__dict__.setdefault("_hpc_ruled_groups", set())
    fresh = [(index, group) for index, group in enumerate(nodes.security_group_ids) if group not in ruled]
    ruled.update(group for _, group in fresh)
    return fresh


def rule_id(base: str, index: int) -> str:
    """Rule ids for a target's security groups: the first keeps the plain id (a fleet has one group)."""
    return base if index == 0 else f"{base}Group{index}"


@jsii.implements(IAspect)
class KeepLogicalIds:
    """Give every CloudFormation element under a tier the logical ID it had before StorageLayer was split.

    StorageLayer used to create its resources directly (Storage/Lustre); it now composes tiers
    (Storage/LustreFileSystem/Lustre). A new logical ID would make CloudFormation create a new, empty
    file system and delete or orphan the old one (and a renamed security-group rule fails as a
    duplicate of the one it replaces), so each element under a composed tier gets the ID of its path
    without the tier's own component, computed by CDK's own algorithm (`unique_id`, in Python: no jsii round-trip) for
    that path. Construct ids that embed another construct's unique id (CDK names a security group's
    rules after their peer) get the peer's old unique id too. tests/lock/ guards the result.
    """

    def __init__(self, tier: Construct) -> None:
        self._tier = tier
        self._tier_depth = len(tier.node.path.split(PATH_SEPARATOR))
        self._renames: dict[str, str] | None = None

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, CfnElement):
            return
        # Plain strings from one read of each path: every jsii round-trip is a callback's cost at synth.
        depth = len(Stack.of(node).node.path.split(PATH_SEPARATOR))
        node.override_logical_id(unique_id(self._legacy_components(node.node.path)[depth:]))

    def _legacy_components(self, path: str) -> list[str]:
        """The ids from the app's root to the construct at `path`, without the tier, with unique ids renamed."""
        ids = path.split(PATH_SEPARATOR)
        del ids[self._tier_depth - 1]
        if self._renames is None:
            self._renames = {}  # set first: the renames below use this method themselves
            paths = [c.node.path for c in self._tier.node.find_all()[1:]]  # find_all()[0] is the tier
            self._renames = {unique_id(p.split(PATH_SEPARATOR)): unique_id(self._legacy_components(p))
                             for p in paths}
        return [_rename(i, self._renames) for i in ids]


def _rename(component: str, renames: dict[str, str]) -> str:
    for new, old in renames.items():
        if new in component:
            component = component.replace(new, old)
    return component


PATH_SEPARATOR = "/"  # construct ids cannot contain it, so a path splits into its ids


def unique_id(components: Sequence[str]) -> str:
    """CDK's unique id (Names.unique_id) of the construct whose ids below the root are `components`.

    Pure Python, so no jsii round-trip: aws-cdk-lib core/lib/private/uniqueid.ts (makeUniqueId), v2.275.0.
    "Default" ids are dropped; a single component is its alphanumerics; otherwise the alphanumerics of the
    components (without "Resource", and without one that ends the previous one) joined, cut to 240
    characters, plus the first 8 hex digits, upper case, of the MD5 of the path. tests/unit/test_unique_id.py
    compares it with Names.unique_id.
    """
    parts = [c for c in components if c != "Default"]
    if not parts:
        raise ValueError("a unique id needs at least one component other than 'Default'")
    if len(parts) == 1:
        candidate = _alphanumeric(parts[0])
        if len(candidate) <= 255:
            return candidate
    digest = hashlib.md5(PATH_SEPARATOR.join(parts).encode(), usedforsecurity=False).hexdigest()[:8].upper()
    human: list[str] = []
    for part in parts:
        if not human or not human[-1].endswith(part):
            human.append(part)
    return "".join(_alphanumeric(h) for h in human if h != "Resource")[:240] + digest


def _alphanumeric(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", text)


def removal(policy: RemovalPolicy, *, snapshots: bool = False) -> RemovalPolicy:
    """The removal policy for one resource: SNAPSHOT only where CloudFormation can take one (EBS)."""
    if policy == RemovalPolicy.SNAPSHOT and not snapshots:
        return RemovalPolicy.RETAIN
    return policy
