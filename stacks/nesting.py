"""When a reference stack outgrows one CloudFormation template, and how its parts are grouped into nested stacks.

CloudFormation takes at most 500 resources and 1,000,000 bytes per template (catalog.limits.CLOUDFORMATION).
ComputeStack and BatchStack stay one template while their estimate fits MAX_RESOURCES and MAX_BYTES; past
that they put their parts (fleets; Batch units: job queues with their compute environments and the job
definitions that run there) into nested stacks of at most that much each, filled in config order, and keep
only the nested stacks (and the outputs users read) in the parent.

CDK cannot move a construct into another stack once it is built, so the grouping is decided before
anything is built, from the estimates below: plain functions of the config and of facts about the
storage and fleets (no construct is built, nothing is synthesized). Each estimate is an upper bound:
every resource a part can make is counted, and the bytes are what the template file holds (JSON with
CDK's one-space indentation): a fixed size per resource, a size per character of the part's construct
path (logical IDs, metadata, descriptions and references repeat it), and the lists that grow with the
config (instance types, network interfaces, boot steps, job definitions). tests/unit/test_nesting.py
synthesizes several shapes and checks that each estimate is at least what the template holds and not far
above it, so that a change in a construct cannot make an estimate wrong silently.

A part that moves to another template (into a nested stack when its stack first grows past the
thresholds, or to another nested stack) is replaced, since its logical IDs now live elsewhere; the
stateful storage is never in these stacks. Groups are filled in config order: fleets and queues appended
at the end of the config move nothing that exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from hpc_constructs import ConfigError, StorageLayer, catalog
from hpc_constructs.catalog.limits import CLOUDFORMATION, EVENTBRIDGE_MAX_EVENT_PATTERN_CHARS
from hpc_constructs.job_events import job_queue_arn_chars, pattern_base_chars
from stacks.config import BatchConfig, ComputeEnvironmentConfig, FleetConfig, MultiNodeJobConfig, StorageConfig

# What a template may hold by the estimate: CloudFormation's 500 resources and 1,000,000 bytes, less a
# fifth for what is added after the decision and is not estimated: CDK's own resources and metadata,
# custom resources another construct may add, and the outputs CDK writes for every value another stack
# reads.
MAX_RESOURCES = 400
MAX_BYTES = 800_000
# An EventBridge event pattern holds at most 2,048 characters (catalog.limits). JobEvents splits its rules to fit
# it; a group still keeps its queues within one pattern, so that each group has one job-events rule. Each queue
# is counted as JobEvents counts it (its ARN at the longest partition and Region, with its quotes and comma).
MAX_EVENT_PATTERN_CHARS = EVENTBRIDGE_MAX_EVENT_PATTERN_CHARS
EVENT_PATTERN_CHARS = pattern_base_chars()  # the pattern without queues: source, detail type, final states

FLEET_GROUP_ID = "Fleets{}"  # ComputeStack's nested stacks: Fleets1, Fleets2, ...
BATCH_GROUP_ID = "Queues{}"  # BatchStack's nested stacks: Queues1, Queues2, ...

# -- the size model: bytes of the template file, measured on synthesized templates (2026-11) -----------------
# A resource without lists (a security group or rule, a role, an instance profile, a queue, a placement group)
# is at most RESOURCE_BYTES with its tags, plus PATH_BYTES for each character of its part's construct path
# (the logical ID, the metadata path, descriptions and the references to it repeat the path).
RESOURCE_BYTES = 650
PATH_BYTES = 4
DEPENDENCY_BYTES = 50  # an entry of a DependsOn list (the nodes wait for their rules), beside the path it names
SMALL_RESOURCE_BYTES = 300  # an instance profile or placement group (no tags, no description)
OUTPUT_BYTES = 250  # an output in the template that holds the value: a queue's ARN, a value another stack reads
PARENT_OUTPUT_BYTES = 400  # the same output repeated in a nested stack's parent (its value read from the nested stack)
INSTANCE_TYPE_BYTES = 50  # an Auto Scaling override or a compute environment's instance type
INTERFACE_BYTES = 320  # a launch template's network interface
SECURITY_GROUP_REFERENCE_BYTES = 250  # another security group on an interface (a fleet's, from its stack)
BLOCK_DEVICE_BYTES = 200  # a volume in a launch template (a per-node EBS volume)
LAUNCH_TEMPLATE_BYTES = 900  # a launch template's root volume, metadata options, tags and profile
AUTO_SCALING_GROUP_BYTES = 900  # its instances distribution, subnet, placement group, tags
COMPUTE_ENVIRONMENT_BYTES = 900  # its compute resources, update policy, image and subnet
FARGATE_ENVIRONMENT_BYTES = 300  # a Fargate environment's compute resources
POLICY_STATEMENT_BYTES = 700  # a statement mounting adds to the nodes' role (EFS client, EBS attach)
USER_DATA_BYTES = 1_300  # the boot prelude every launch template's user data starts with (hpc_constructs.boot)
MULTIPART_BYTES = 450  # a Batch launch template's MIME wrapper around it
BOOT_STEP_BYTES: Mapping[str, int] = {  # what each kind of boot step adds to the user data
    "efa-installer": 1_600,  # the pinned EFA installer script (compressed) and its GPG-checked step
    "nvme-scratch": 2_600,  # the RAID0 script and its systemd unit
    "storage-layer": 150,  # the layer's comment line
    "mount-script": 1_000,  # hpc-mount, once for Lustre and EFS
    "lustre": 1_000,  # the client install and the fstab line with the file system's DNS and mount names
    "lustre-efa": 2_000,  # the same, with the EFA configuration script
    "efs": 700,
    "ebs-one-node-script": 2_100,  # hpc-ebs-attach, once
    "ebs-one-node": 1_500,  # each volume's attach service and takeover timer
    "ebs-per-node-script": 1_400,  # hpc-ebs-node, once
    "ebs-per-node": 700,  # each volume's format-and-mount unit
    "imds-guard": 1_900,  # hpc-imds-guard (compressed), its systemd unit and step
    "ssh-users": 3_200,  # hpc-users (compressed), its service, timer and steps
    "ecs-agent-settings": 600,  # the ECS agent's settings (job roles, no metadata service for awsvpc tasks)
}
QUEUE_ORDER_BYTES = 200  # a compute environment in a queue's order
EVENTS_RULE_QUEUE_BYTES = 120  # a queue's ARN (a GetAtt) in the job-events rule's pattern
EVENTS_BYTES = 3_500  # the job events' key policy, topic policy and queue policies, beyond RESOURCE_BYTES each
JOB_DEFINITION_BYTES = 300  # a job definition's retry strategy, timeout and platform, beyond RESOURCE_BYTES
CONTAINER_BYTES = 600  # a container's resource requirements, job role and log configuration
STORAGE_VOLUME_BYTES = 300  # a StorageLayer file system in an EC2 job's container (volume and mount point)
MULTI_NODE_CONTAINER_BYTES = 400  # a node range's target nodes, instance type, memlock limit and shared memory
EFA_DEVICE_BYTES = 250  # a /dev/infiniband/uverbsN device in a multi-node container
FARGATE_CONTAINER_BYTES = 400  # a Fargate job's execution role, network and platform configuration
STRING_BYTES = 12  # the quotes, comma and indentation around a string from the config
LUSTRE_RULES = 6  # per security group: TCP 988 and 1018-1023, in on both sides and out to the file system
LUSTRE_EFA_RULES = 4  # EFA-enabled Lustre: all traffic, both ways
EFS_RULES = 1  # NFS in to the file system
ENVIRONMENT_VARIABLE_BYTES = 60  # a job's environment variable, beside its name and value
# A path declaration (hpc_constructs.paths: the hpc:paths metadata hpc-verify reads): its kind, its ends by stack
# and logical ID, ports or actions, and its one-line text, which names the part's path about three times.
DECLARATION_BYTES = 620
DECLARATION_PATH_BYTES = 3


# What a template holds once however many of its parts need it: (resources, bytes).
ONCE_PER_TEMPLATE: Mapping[str, tuple[int, int]] = {
    # A BatchOrchestration whose multi-node jobs run over a launch template's EFA interfaces: the three rules it
    # adds to the VPC's default security group (the jobs' awsvpc interfaces get that group).
    "vpc-default-group-rules": (3, 3 * (RESOURCE_BYTES + 400)),
    # ... and, with a license server, per license port an ingress rule to the server and an egress rule out of
    # that group (it lists its way out), with the path's declaration (HaInstance.allow_from):
    # "vpc-default-group-license-rules:<ports>" costs this per port.
    "vpc-default-group-license-rules": (2, 2 * (RESOURCE_BYTES + 400) + 300),
}


def _once_cost(key: str) -> tuple[int, int]:
    """A ONCE_PER_TEMPLATE cost; a key "<name>:<n>" is n times the cost of <name>."""
    name, _, count = key.partition(":")
    resources, size = ONCE_PER_TEMPLATE[name]
    times = int(count) if count else 1
    return resources * times, size * times


@dataclass(frozen=True)
class Footprint:
    """What part of a template holds (an estimate, an upper bound): resources, bytes, and the characters of
    the job-events pattern that lists its Batch queues. `once` names costs the template holds once however
    many parts need them (ONCE_PER_TEMPLATE); resources and bytes include them."""

    base_resources: int = 0
    base_bytes: int = 0
    pattern: int = 0
    once: frozenset[str] = frozenset()

    @property
    def resources(self) -> int:
        return self.base_resources + sum(_once_cost(k)[0] for k in self.once)

    @property
    def bytes(self) -> int:
        return self.base_bytes + sum(_once_cost(k)[1] for k in self.once)

    def __add__(self, other: Footprint) -> Footprint:
        return Footprint(self.base_resources + other.base_resources, self.base_bytes + other.base_bytes,
                         self.pattern + other.pattern, self.once | other.once)

    @property
    def fits(self) -> bool:
        """Within MAX_RESOURCES, MAX_BYTES and MAX_EVENT_PATTERN_CHARS."""
        return (self.resources <= MAX_RESOURCES and self.bytes <= MAX_BYTES
                and self.pattern <= MAX_EVENT_PATTERN_CHARS)

    def __str__(self) -> str:
        pattern = f", a job-events pattern of {self.pattern:,} characters" if self.pattern else ""
        return f"{self.resources:,} resources and {self.bytes:,} bytes{pattern}"


def total(footprints: Iterable[Footprint]) -> Footprint:
    return sum(footprints, Footprint())


def _resources(path: str, count: int, *extra_bytes: int) -> Footprint:
    """`count` resources of a part at `path`, each RESOURCE_BYTES + PATH_BYTES per character, plus lists."""
    return Footprint(count, count * (RESOURCE_BYTES + PATH_BYTES * len(path)) + sum(extra_bytes))


def _strings(values: Iterable[str]) -> int:
    return sum(len(v) + STRING_BYTES for v in values)


# Every template: CDKMetadata (its compressed construct list), the description, and a top-level stack's
# bootstrap-version parameter and rule.
TEMPLATE_OVERHEAD = Footprint(1, 4_000)
NESTED_STACK = Footprint(1, 1_600)  # a nested stack in its parent: AWS::CloudFormation::Stack, template URL, metadata


# -- facts the estimates use ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StorageFacts:
    """What mounting a StorageLayer adds: which tiers it has, and how many EBS volumes of each kind."""

    lustre: bool = False
    lustre_efa: bool = False
    efs: bool = False
    bucket: bool = False
    one_node_volumes: int = 0
    per_node_volumes: int = 0

    @staticmethod
    def of_layer(storage: StorageLayer | None) -> StorageFacts | None:
        """The facts of a StorageLayer that is built (its attributes; nothing is synthesized)."""
        if storage is None:
            return None
        return StorageFacts(lustre=storage.lustre is not None, lustre_efa=storage.lustre is not None
                            and storage.lustre.efa_enabled, efs=storage.efs is not None,
                            bucket=storage.bucket is not None, one_node_volumes=len(storage.volumes),
                            per_node_volumes=len(storage.node_volumes))

    @staticmethod
    def of_config(storage: StorageConfig | None) -> StorageFacts | None:
        if storage is None:
            return None
        attach = [v.attach for v in storage.ebs_volumes]
        return StorageFacts(lustre=storage.lustre is not None, lustre_efa=storage.lustre is not None
                            and storage.lustre.efa, efs=storage.efs is not None, bucket=storage.bucket is not False,
                            one_node_volumes=attach.count("one_node"), per_node_volumes=attach.count("per_node"))

    @property
    def mount_points(self) -> int:
        """The file systems every Batch job's container gets (Lustre, EFS)."""
        return int(self.lustre) + int(self.efs)

    def mount(self, ebs_selection: bool | Sequence[str] = False) -> Mount:
        """What mounting adds to one set of nodes that takes `ebs_selection` of the volumes."""
        rules, steps, statements, declarations = 0, ["storage-layer"], 0, 0
        if self.lustre or self.efs:
            steps.append("mount-script")
            declarations += 1  # the packages the clients install (S3)
        if self.lustre:
            rules += LUSTRE_EFA_RULES if self.lustre_efa else LUSTRE_RULES
            steps.append("lustre-efa" if self.lustre_efa else "lustre")
            declarations += 1
        if self.efs:
            rules += EFS_RULES
            steps.append("efs")
            statements += 1
            declarations += 2  # NFS, and the IAM mount
        if ebs_selection is True:
            one_node, per_node = self.one_node_volumes, self.per_node_volumes
        elif ebs_selection is False:
            one_node = per_node = 0
        else:  # volumes by name: counted as the costlier kind first
            chosen = len(set(ebs_selection))
            one_node = min(chosen, self.one_node_volumes)
            per_node = min(chosen - one_node, self.per_node_volumes)
        if one_node:
            steps += ["ebs-one-node-script"] + ["ebs-one-node"] * one_node
            statements += 2
            declarations += 3  # attach, describe, the EC2 API
        if per_node:
            steps += ["ebs-per-node-script"] + ["ebs-per-node"] * per_node
        return Mount(rules, tuple(steps), statements, per_node, declarations)


@dataclass(frozen=True)
class Mount:
    rules: int = 0  # security-group rules per security group of the nodes
    boot_steps: tuple[str, ...] = ()
    statements: int = 0  # statements in the nodes' role policy
    node_volumes: int = 0  # block devices in the launch template
    declarations: int = 0  # path declarations (hpc_constructs.paths)


NO_MOUNT = Mount()


@dataclass(frozen=True)
class FleetFacts:
    """What a Batch environment made from a fleet takes from it."""

    instance_types: tuple[str, ...]
    efa: bool
    placement_group: bool = True

    @staticmethod
    def of_config(config: FleetConfig) -> FleetFacts:
        types = _types(config.instance_types)
        return FleetFacts(tuple(config.instance_types), _efa_possible(types, config.efa),
                          config.placement_group is not False)


def _types(names: Iterable[str]) -> list[catalog.InstanceType]:
    """The catalog records of the names it knows (families, categories and bad names are the constructs' to judge)."""
    known = []
    for name in names:
        try:
            known.append(catalog.instance_type(name))
        except (ConfigError, KeyError, ValueError, TypeError):
            continue
    return known


def _interfaces(types: Sequence[catalog.InstanceType]) -> int:
    """At most one interface per network card the types share, and an EFA interface beside card 0's primary."""
    return min(len(t.network_cards) for t in types) + 1 if types else 1


def _efa_possible(types: Sequence[catalog.InstanceType], efa: bool | None) -> bool:
    return efa is not False and bool(types) and all(t.efa_supported for t in types)


def _launch_template(path: str, *, interfaces: int, groups: int = 1, boot_steps: Iterable[str],
                     node_volumes: int = 0, multipart: bool = False) -> Footprint:
    user_data = USER_DATA_BYTES + sum(BOOT_STEP_BYTES[step] for step in boot_steps)
    return _resources(path, 1, LAUNCH_TEMPLATE_BYTES + PATH_BYTES * len(path),  # the path in its tags, twice
                     interfaces * (INTERFACE_BYTES + (groups - 1) * SECURITY_GROUP_REFERENCE_BYTES),
                     user_data + (MULTIPART_BYTES if multipart else 0), node_volumes * BLOCK_DEVICE_BYTES)


def _small(path: str, count: int) -> Footprint:
    """`count` instance profiles or placement groups."""
    return Footprint(count, count * (SMALL_RESOURCE_BYTES + PATH_BYTES * len(path)))


def _policy(path: str, mount: Mount, extra: int = 0) -> Footprint:
    """The nodes' role policy, when mounting (EFS, EBS volumes held by one node) or the SSH users' read adds
    statements to it."""
    statements = mount.statements + extra
    return _resources(path, 1, statements * POLICY_STATEMENT_BYTES) if statements else Footprint()


def _declarations(path: str, count: int) -> Footprint:
    """`count` path declarations of a part at `path` (metadata on its resources: no resource of their own)."""
    return Footprint(0, count * (DECLARATION_BYTES + DECLARATION_PATH_BYTES * len(path)))


def _dependencies(path: str, count: int) -> int:
    """A DependsOn list of `count` of the part's own resources (the rules the nodes wait for)."""
    return count * (DEPENDENCY_BYTES + len(path))


# -- ComputeStack ------------------------------------------------------------------------------------------------

def fleet_footprint(path: str, config: FleetConfig, *, storage: StorageFacts | None = None,
                    bastion: bool = False, ssh_users: bool = False, license_ports: int = 0) -> Footprint:
    """A ComputeFleet at `path`, with the storage mounted (its `mount_ebs` volumes), SSH from a bastion, the SSH
    users' sync (its script, service, timer and the role's read of their parameter) and a rule per port of a
    license server (HaInstance.allow_from puts them beside the fleet's group).

    Its security group and two self rules, role, instance profile and placement group; the storage's rules
    and the bastion's SSH rule; the role's policy; the launch template; the Auto Scaling group, which waits
    for every rule; the outputs (security group, placement group) a Batch environment made from it reads.
    """
    types = _types(config.instance_types)
    mount = storage.mount(config.ebs_selection) if storage is not None else NO_MOUNT
    steps = ["imds-guard", *(["ssh-users"] if ssh_users else []), *mount.boot_steps]
    if _efa_possible(types, config.efa) and config.install_efa_software:
        steps.append("efa-installer")
    if any(t.nvme_instance_store_gb for t in types):
        steps.append("nvme-scratch")
    placement = 0 if config.placement_group is False else 1
    rules = 2 + mount.rules + (1 if bastion else 0)
    # MPI/EFA among the nodes, Session Manager (network and IAM), the metadata service; the EFA download, the
    # packages, SSH through the bastion (a chain of two hops: counted twice)
    declarations = (4 + (1 if "efa-installer" in steps else 0) + mount.declarations + (1 if license_ports else 0)
                    + (1 if ssh_users else 0)
                    + (1 if "nvme-scratch" in steps and not mount.declarations else 0) + (2 if bastion else 0))
    return (_resources(path, 2 + rules + license_ports, 2 * OUTPUT_BYTES) + _small(path, 1 + placement)
            + _policy(path, mount, extra=1 if ssh_users else 0)
            + _launch_template(path, interfaces=_interfaces(types), boot_steps=steps, node_volumes=mount.node_volumes)
            + _resources(path, 1, AUTO_SCALING_GROUP_BYTES, len(config.instance_types) * INSTANCE_TYPE_BYTES,
                        _dependencies(path, rules)) + _declarations(path, declarations))


# What the compute parent holds for each fleet: the outputs a Batch environment made from it reads (counted for
# every fleet: the compute stack does not know which fleets Batch uses).
FLEET_IN_PARENT = Footprint(0, 2 * PARENT_OUTPUT_BYTES)


def plan_fleets(where: str, fleets: Mapping[str, FleetConfig], *, storage: StorageFacts | None,
                bastion: bool, ssh_users: bool = False, license_ports: int = 0) -> Grouping:
    """ComputeStack's decision: every fleet in the stack, or fleets grouped into nested stacks."""
    # Paths as long as in a nested stack (Fleets99), which is longer than in the stack itself.
    parts = [(name, fleet_footprint(f"{where}/{FLEET_GROUP_ID.format(99)}/{name}", config, storage=storage,
                                    bastion=bastion, ssh_users=ssh_users, license_ports=license_ports))
             for name, config in fleets.items()]
    return plan_groups(where, parts, parent_per_part=dict.fromkeys(fleets, FLEET_IN_PARENT), what="fleet")


# -- BatchStack --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BatchUnit:
    """What one BatchOrchestration must hold together, as positions in the config's lists: queues with their
    compute environments (a queue refers to its environments) and the job definitions that name one of
    them (a multi-node job runs on its environment)."""

    environments: tuple[int, ...]
    queues: tuple[int, ...] = ()
    multi_node_jobs: tuple[int, ...] = ()
    container_jobs: tuple[int, ...] = ()

    @staticmethod
    def merge(units: Iterable[BatchUnit]) -> BatchUnit:
        """One unit of several (what one nested stack's BatchOrchestration holds), in config order."""
        units = list(units)
        return BatchUnit(*(tuple(sorted(i for u in units for i in getattr(u, kind)))
                           for kind in ("environments", "queues", "multi_node_jobs", "container_jobs")))

    def queue_names(self, batch: BatchConfig) -> list[str]:
        """The unit's queues (or its environments, without queues)."""
        if self.queues:
            return [batch.job_queues[i].name for i in self.queues]
        return [batch.compute_environments[i].name for i in self.environments]

    def names(self, batch: BatchConfig) -> str:
        """The unit's queues (or its environments, without queues), for messages."""
        return ", ".join(self.queue_names(batch))

    def config(self, batch: BatchConfig) -> BatchConfig:
        """The part of `batch` this unit holds (the rest of the section, job_events and log retention, as given)."""
        return batch.model_copy(update={
            "compute_environments": tuple(batch.compute_environments[i] for i in self.environments),
            "job_queues": tuple(batch.job_queues[i] for i in self.queues),
            "multi_node_jobs": tuple(batch.multi_node_jobs[i] for i in self.multi_node_jobs),
            "container_jobs": tuple(batch.container_jobs[i] for i in self.container_jobs)})


def batch_units(batch: BatchConfig) -> list[BatchUnit]:
    """The config's Batch parts that must stay in one BatchOrchestration, ordered by their first environment.

    Environments joined by a queue form one unit, with their queues and the jobs that name one of them.
    Parts are joined by name, so two queues, environments or jobs of one name land in one unit and the
    construct refuses the duplicate. Without queues (BatchOrchestration's one default queue over every
    environment) everything is one unit. A container job without compute_environment goes with the first
    unit that has an EC2 environment: its resources are checked against that unit's environments.
    """
    if not batch.job_queues:
        return [BatchUnit(tuple(range(len(batch.compute_environments))), (),
                          tuple(range(len(batch.multi_node_jobs))), tuple(range(len(batch.container_jobs))))]
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def root(key: tuple[str, str]) -> tuple[str, str]:
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    def join(a: tuple[str, str], b: tuple[str, str]) -> None:
        parent[root(b)] = root(a)

    for environment in batch.compute_environments:
        root(("environment", environment.name))
    for queue in batch.job_queues:
        for name in queue.compute_environments:
            join(("environment", name), ("queue", queue.name))
    jobs: list[tuple[str, str | None]] = [(j.name, j.compute_environment) for j in batch.multi_node_jobs]
    jobs += [(j.name, j.compute_environment) for j in batch.container_jobs]
    for job, environment_name in jobs:
        if environment_name is not None:
            join(("environment", environment_name), ("job", job))
    order: list[tuple[str, str]] = []
    for environment in batch.compute_environments:
        if root(("environment", environment.name)) not in order:
            order.append(root(("environment", environment.name)))

    def members(kind: str, names: Sequence[str | None], of: tuple[str, str]) -> tuple[int, ...]:
        return tuple(i for i, name in enumerate(names) if name is not None and root((kind, name)) == of)

    units = []
    for of in order:
        units.append(BatchUnit(
            members("environment", [e.name for e in batch.compute_environments], of),
            members("queue", [q.name for q in batch.job_queues], of),
            members("job", [j.name if j.compute_environment is not None else None for j in batch.multi_node_jobs], of),
            members("job", [j.name if j.compute_environment is not None else None for j in batch.container_jobs], of)))
    unbound = tuple(i for i, job in enumerate(batch.container_jobs) if job.compute_environment is None)
    if unbound:
        ec2 = [i for i, u in enumerate(units) if any(not batch.compute_environments[e].fargate for e in u.environments)]
        first = units[ec2[0] if ec2 else 0]
        units[units.index(first)] = BatchUnit(first.environments, first.queues, first.multi_node_jobs,
                                              tuple(sorted(first.container_jobs + unbound)))
    return units


def batch_unit_footprint(path: str, unit: BatchUnit, batch: BatchConfig, *, storage: StorageFacts | None = None,
                         fleets: Mapping[str, FleetFacts] | None = None, stack_name: str = "",
                         license_ports: int = 0) -> Footprint:
    """A unit inside a BatchOrchestration at `path`: its environments (EC2: security group, two self rules,
    role and policy, instance profile, launch template, placement group, the environment, the storage's
    rules for its own group; Fargate: security group and environment), its queues with their ARN outputs
    and their ARNs in the job-events rule (named <stack_name>-Queues<n>-<queue> in a nested stack: counted with a
    two-digit group number), and its job definitions."""
    fleets = fleets or {}
    multi_node = [batch.multi_node_jobs[i] for i in unit.multi_node_jobs]
    footprint = Footprint()
    for i in unit.environments:
        environment = batch.compute_environments[i]
        runs = [j for j in multi_node if j.compute_environment == environment.name]
        footprint += _environment(f"{path}/Environment{environment.name}", environment, runs, storage, fleets,
                                  license_ports)
    for i in unit.queues:
        queue = batch.job_queues[i]
        footprint += _resources(f"{path}/Queue{queue.name}", 1, len(queue.compute_environments) * QUEUE_ORDER_BYTES,
                                2 * OUTPUT_BYTES, EVENTS_RULE_QUEUE_BYTES)  # its ARN out, for users and the parent
        if batch.job_events:
            nested_name = f"{stack_name}-{BATCH_GROUP_ID.format(99)}-{queue.name}"
            footprint += Footprint(pattern=job_queue_arn_chars(nested_name))
    volumes = (storage.mount_points if storage is not None else 0) * STORAGE_VOLUME_BYTES
    for job in multi_node:
        devices = _interfaces(_types([job.instance_type])) if job.efa is not False else 0
        container = (_container(job.image, job.command, job.environment) + volumes + MULTI_NODE_CONTAINER_BYTES
                     + devices * EFA_DEVICE_BYTES)
        footprint += _resources(f"{path}/Job{job.name}", 1, JOB_DEFINITION_BYTES,
                               max(len(job.node_ranges), 1) * container,
                               sum(_strings(r.command) for r in job.node_ranges))
        # the containers to each other and to the bucket, the image pull
        footprint += _declarations(f"{path}/Job{job.name}", 3 + len(job.image) // 100)
    fargate = {e.name for e in batch.compute_environments if e.fargate}
    for i in unit.container_jobs:
        job_config = batch.container_jobs[i]
        footprint += _resources(f"{path}/Job{job_config.name}", 1, JOB_DEFINITION_BYTES,
                               _container(job_config.image, job_config.command, job_config.environment),
                               FARGATE_CONTAINER_BYTES if job_config.compute_environment in fargate else volumes)
        if job_config.compute_environment not in fargate:  # the image pull, on each EC2 environment it fits
            fits = 1 if job_config.compute_environment is not None else len(batch.compute_environments) - len(fargate)
            footprint += _declarations(f"{path}/Job{job_config.name}", fits)
    return footprint


def _container(image: str, command: Sequence[str], environment: Mapping[str, str]) -> int:
    variables = sum(ENVIRONMENT_VARIABLE_BYTES + len(k) + len(v) for k, v in environment.items())
    return CONTAINER_BYTES + len(image) + _strings(command) + variables


def _environment(path: str, config: ComputeEnvironmentConfig, multi_node: Sequence[MultiNodeJobConfig],
                 storage: StorageFacts | None, fleets: Mapping[str, FleetFacts], license_ports: int = 0) -> Footprint:
    """... and a license server's rule per port beside its own group (a fleet's group has them from the fleet)."""
    if config.fargate:  # a security group and the environment
        return _resources(path, 2, FARGATE_ENVIRONMENT_BYTES) + _resources(path, license_ports)
    fleet = fleets.get(config.fleet) if config.fleet is not None else None
    listed = fleet.instance_types if fleet is not None else config.instance_types
    job_types = _types(j.instance_type for j in multi_node)
    efa = (config.efa is True or (config.efa is None and any(t.efa_supported for t in job_types))
           or (fleet is not None and fleet.efa))
    mount = storage.mount() if storage is not None else NO_MOUNT
    steps = [*mount.boot_steps, "ecs-agent-settings", "imds-guard", *(["efa-installer"] if efa else [])]
    laid_out = bool(efa or multi_node)  # its own interfaces in the launch template, self rules, placement group
    self_rules = 2 if laid_out else 0
    placement = 1 if laid_out and not (fleet is not None and fleet.placement_group) else 0
    # Its security group, role, instance profile, self rules, placement group and the storage's rules for its
    # own group (a fleet's group has them from the fleet); the role's policy; the launch template; the
    # environment, which waits for the rules. Multi-node jobs over EFA interfaces: the VPC default group's
    # rules (and a license server's beside it), once per template.
    default_group = {"vpc-default-group-rules",
                     *([f"vpc-default-group-license-rules:{license_ports}"] if license_ports else [])}
    once = Footprint(once=frozenset(default_group)) if efa and multi_node else Footprint()
    # ECS, logs, Session Manager (network, and IAM with the agent's), MPI among the nodes, the EFA download, the
    # metadata service for multi-node jobs' containers, and what the storage's mount declares
    declarations = (5 + (1 if laid_out else 0) + (1 if efa else 0) + (1 if multi_node else 0) + mount.declarations
                    + (1 if license_ports else 0))
    return (once + _resources(path, 2 + self_rules + mount.rules + license_ports) + _small(path, 1 + placement)
            + _policy(path, mount)
            + _launch_template(path, interfaces=_interfaces(job_types or _types(listed)) if laid_out else 0,
                               groups=2 if fleet is not None else 1, boot_steps=steps, multipart=True)
            + _resources(path, 1, COMPUTE_ENVIRONMENT_BYTES, len(listed) * INSTANCE_TYPE_BYTES,
                        _dependencies(path, self_rules + mount.rules)) + _declarations(path, declarations))


def batch_shared_footprint(path: str, batch: BatchConfig, *, storage: StorageFacts | None = None) -> Footprint:
    """What every BatchOrchestration holds once: the jobs' log group, role and policy (the storage's bucket),
    the job events (KMS key, topic and policy, rule, queue and dead-letter queue with their policies,
    subscription, the rule target's and the subscriptions' dead-letter queues with their policies, and the
    queue's output), a Fargate execution role, the log group's output."""
    bucket = storage is not None and storage.bucket
    count = (2 + (1 if bucket else 0) + (13 if batch.job_events else 0)
             + (1 if any(e.fargate for e in batch.compute_environments) else 0))
    # the job role on the bucket (bucket, objects); the job events: publish, the key, exclusivity (2), delivery
    declarations = (2 if bucket else 0) + (5 if batch.job_events else 0)
    return _resources(path, count, POLICY_STATEMENT_BYTES if bucket else 0, 2 * OUTPUT_BYTES,
                      EVENTS_BYTES if batch.job_events else 0) + Footprint(
        pattern=EVENT_PATTERN_CHARS if batch.job_events else 0) + _declarations(path, declarations)


def plan_batch(where: str, batch: BatchConfig, *, storage: StorageFacts | None, fleets: Mapping[str, FleetFacts],
               stack_name: str | None = None, license_ports: int = 0) -> tuple[list[BatchUnit], Grouping]:
    """BatchStack's decision: one BatchOrchestration in the stack, or units grouped into nested stacks.

    where: the stack's path; stack_name: its name (where, by default), which names its queues.
    """
    units = batch_units(batch)
    path = f"{where}/{BATCH_GROUP_ID.format(99)}/Batch"
    parts = [(str(i), batch_unit_footprint(path, unit, batch, storage=storage, fleets=fleets,
                                           stack_name=stack_name or where, license_ports=license_ports))
             for i, unit in enumerate(units)]
    grouping = plan_groups(where, parts, shared=batch_shared_footprint(path, batch, storage=storage),
                           parent_per_group=Footprint(0, 2 * PARENT_OUTPUT_BYTES),  # log group, events queue
                           parent_per_part={str(i): Footprint(0, len(u.queues) * PARENT_OUTPUT_BYTES)
                                            for i, u in enumerate(units)},
                           what="Batch unit", describe={str(i): u.names(batch) for i, u in enumerate(units)})
    return units, grouping


def nested_description(stack: str, what: str, names: Sequence[str], number: int, count: int) -> str:
    """A nested stack's description: what it holds, the first names, within CloudFormation's 1,024 bytes."""
    shown: list[str] = []
    for name in names:
        if len(", ".join([*shown, name])) > 300:
            break
        shown.append(name)
    more = f" and {len(names) - len(shown)} more" if len(shown) < len(names) else ""
    return f"{stack}: {what} {', '.join(shown)}{more} (nested stack {number} of {count})"


# -- grouping ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Grouping:
    """One stack's decision: groups None (every part in the stack itself), or the parts of each nested stack."""

    estimate: Footprint  # the stack as one template
    groups: tuple[tuple[str, ...], ...] | None = None
    group_estimates: tuple[Footprint, ...] = ()
    parent_estimate: Footprint | None = None

    @property
    def nested(self) -> bool:
        return self.groups is not None


def plan_groups(where: str, parts: Sequence[tuple[str, Footprint]], *, shared: Footprint = Footprint(),
                parent_per_group: Footprint = Footprint(), parent_per_part: Mapping[str, Footprint] | None = None,
                what: str = "part", describe: Mapping[str, str] | None = None) -> Grouping:
    """Every part in the stack while the whole fits; else nested stacks filled in order, each within the thresholds.

    parts: (name, footprint) in config order. shared: what every template holding parts has once (a
    BatchOrchestration's log group, role and events). parent_per_group and parent_per_part: what the parent
    holds beside each nested stack and for each part (outputs). A part too big for a template of its own,
    or a parent that would pass the thresholds, is a ConfigError.
    """
    flat = TEMPLATE_OVERHEAD + shared + total(f for _, f in parts)
    if flat.fits:
        return Grouping(flat)
    groups: list[list[str]] = []
    estimates: list[Footprint] = []
    for name, footprint in parts:
        alone = TEMPLATE_OVERHEAD + shared + footprint
        if not alone.fits:
            raise ConfigError(where, what, (describe or {}).get(name, name),
                              f"a {what} within {MAX_RESOURCES} resources and {MAX_BYTES:,} bytes (and a job-events "
                              f"pattern of {MAX_EVENT_PATTERN_CHARS:,} characters)",
                              hint=f"It alone would take about {alone}, and it cannot be split across nested "
                                   f"stacks. CloudFormation takes {CLOUDFORMATION.max_resources_per_template} "
                                   f"resources and {CLOUDFORMATION.max_template_bytes:,} bytes per template.")
        if estimates and (estimates[-1] + footprint).fits:
            groups[-1].append(name)
            estimates[-1] += footprint
        else:
            groups.append([name])
            estimates.append(alone)
    parent = (TEMPLATE_OVERHEAD + total(NESTED_STACK + parent_per_group for _ in groups)
              + total((parent_per_part or {}).get(name, Footprint()) for name, _ in parts))
    if not parent.fits:
        raise ConfigError(where, f"{what}s", len(parts), f"as many as a parent stack holds ({MAX_RESOURCES} "
                          f"resources, {MAX_BYTES:,} bytes)", hint=f"The parent would take about {parent}.")
    return Grouping(flat, tuple(tuple(g) for g in groups), tuple(estimates), parent)
