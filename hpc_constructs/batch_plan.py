"""The decisions behind a BatchOrchestration, as pure functions of plain values (no CDK, no jsii).

`plan_batch` checks the specs in the order BatchOrchestration's docstring lists its rules and returns
a BatchPlan: what each compute environment can launch and how its nodes connect (the EFA layout comes
from fleet_plan.plan_network, the one place that lays out EFA), which environments run multi-node
jobs, each job's resources and devices, each queue's environments. It raises ConfigError for
anything Batch would refuse, and for anything that would leave a job in RUNNABLE forever.
Limits live in catalog.limits.BATCH, with their source.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hpc_constructs import catalog
from hpc_constructs.catalog import InstanceType
from hpc_constructs.catalog.limits import BATCH
from hpc_constructs.errors import ConfigError
from hpc_constructs.fleet_plan import ENA_EXPLANATION, NetworkPlan, plan_network
from hpc_constructs.image_plan import ImagePlan, check_image_for, image_plan_of

if TYPE_CHECKING:
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk import aws_iam as iam

    from hpc_constructs.compute_fleet import ComputeFleet
    from hpc_constructs.image import HpcImage

__all__ = [
    "BatchPlan",
    "ComputeEnvironmentSpec",
    "ContainerJobSpec",
    "EnvironmentPlan",
    "JobQueueSpec",
    "MultiNodeJobSpec",
    "NodeRangeSpec",
    "plan_batch",
]

NAME = re.compile(BATCH.name_pattern)
DEFAULT_TIMEOUT_MINUTES = 24 * 60
DEFAULT_ATTEMPTS = 2
# Retried: the attempt ended because its host went away (a Spot reclaim, a failed instance); the
# job itself is never retried for its own failure, which would only fail again.
RETRY_ON_STATUS_REASON = "Host EC2*"
UVERBS = "/dev/infiniband/uverbs{}"


# -- specs ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ComputeEnvironmentSpec:
    """One managed compute environment.

    name: the key queues and jobs use (letters, digits, - and _).
    instance_types: ("optimal",). Catalog type names, instance families ("c6i") or Batch's categories
                    ("optimal", "default_x86_64", "default_arm64"), of one architecture. With `fleet`:
                    the fleet's types (leave the default, or repeat them).
    spot: False runs On-Demand; True runs Spot with the SPOT_PRICE_CAPACITY_OPTIMIZED strategy.
          Multi-node jobs never run on Spot.
    min_vcpus: 0 (scales to zero); max_vcpus: 256.
    fleet: None. A ComputeFleet whose knowledge the environment reuses: its instance types, EFA
           decision, security group (the EFA self rules included), subnet and placement group.
    subnet / vpc_subnets: None: one private subnet (the VPC's first) for an environment that runs
                          multi-node jobs or EFA, else every private subnet of the VPC.
    fargate: False. True makes a Fargate environment (FARGATE, or FARGATE_SPOT with spot=True):
             container jobs only, no instance types.
    efa: None turns EFA on when a multi-node job on this environment uses it. True needs every
         type to support EFA.
    root_volume_size_gib: 64, an encrypted gp3 root volume (room for container images).
    image: None uses Batch's own ECS images (the nodes install the clients, and for EFA download the EFA
           installer, at first boot). An HpcImage built with base="ecs" (gpu=True for GPU types) becomes the
           environment's image (Ec2Configuration.ImageIdOverride), and the nodes skip at boot what it holds.
    security_groups: () makes one group for the nodes. Groups of yours instead (at most 5 with the fleet's): the
                     first takes the rules the environment needs (all traffic to and from itself for multi-node
                     jobs and EFA) and the storage's; the others are only attached. Fargate: the jobs' groups.
    instance_role: None makes the ECS instance role (AmazonEC2ContainerServiceforEC2Role, Session Manager). A
                   role of yours instead: a role made in the app gets both managed policies attached; an
                   imported one must have them (a warning names them). Not on Fargate.
    """

    name: str
    instance_types: Sequence[str] = ("optimal",)
    spot: bool = False
    min_vcpus: int = 0
    max_vcpus: int = 256
    fleet: ComputeFleet | None = None
    subnet: ec2.ISubnet | None = None
    vpc_subnets: ec2.SubnetSelection | None = None
    fargate: bool = False
    efa: bool | None = None
    root_volume_size_gib: int = 64
    image: HpcImage | None = None
    security_groups: Sequence[ec2.ISecurityGroup] = ()
    instance_role: iam.IRole | None = None


@dataclass(frozen=True)
class JobQueueSpec:
    """A job queue over 1 to 3 compute environments, tried in the order given.

    priority: 1. Higher runs first; queues that share an environment need different priorities.
    """

    name: str
    compute_environments: Sequence[str]
    priority: int = 1


@dataclass(frozen=True)
class NodeRangeSpec:
    """Nodes start to end (inclusive indexes, Batch's "start:end") and the command they run.

    command: () runs the job's own command.
    """

    start: int
    end: int
    command: Sequence[str] = ()


@dataclass(frozen=True)
class MultiNodeJobSpec:
    """A multi-node parallel (MPI) job definition: num_nodes nodes of one instance type.

    compute_environment: the On-Demand EC2 environment that launches its nodes.
    efa: None turns EFA on when the type supports it: the environment's launch template carries an
         EFA interface on every card, and the container gets one /dev/infiniband/uverbsN device per
         EFA interface, memlock unlimited.
    vcpus, gpus: None take the whole instance; memory_mib: None takes the instance's memory less
                 Batch's recommended 5% buffer.
    shared_memory_mib: None sizes /dev/shm at half the job's memory, as a bare-metal node's tmpfs
                       default is (Docker's 64 MiB would starve MPI's shared-memory transport).
    timeout_minutes: 1,440 (a day) per attempt, for the whole job; attempts: 2, retried only when
                     the host went away.
    node_ranges: () runs `command` on every node; else at most 5 ranges that cover 0 to n-1 once.
    environment: variables for every node.
    """

    name: str
    image: str
    compute_environment: str
    num_nodes: int
    instance_type: str
    command: Sequence[str] = ()
    efa: bool | None = None
    timeout_minutes: int = DEFAULT_TIMEOUT_MINUTES
    attempts: int = DEFAULT_ATTEMPTS
    node_ranges: Sequence[NodeRangeSpec] = ()
    vcpus: int | None = None
    memory_mib: int | None = None
    gpus: int | None = None
    shared_memory_mib: int | None = None
    environment: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ContainerJobSpec:
    """A single-container job definition.

    vcpus, memory_mib, gpus: what one job reserves; checked against the largest type the
        environment can launch (less the 5% memory buffer), so that no job waits in RUNNABLE forever.
        On Fargate: one of Fargate's vCPU and memory combinations, no GPUs.
    compute_environment: None checks the job against every EC2 environment and accepts it when one
        of them fits it (the figures name the queues that can run it).
    timeout_minutes: 1,440 per attempt; attempts: 2, retried only when the host went away.
    """

    name: str
    image: str
    vcpus: float
    memory_mib: int
    gpus: int = 0
    compute_environment: str | None = None
    command: Sequence[str] = ()
    timeout_minutes: int = DEFAULT_TIMEOUT_MINUTES
    attempts: int = DEFAULT_ATTEMPTS
    environment: Mapping[str, str] = field(default_factory=dict)


# -- plans ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EnvironmentPlan:
    name: str
    resource_type: str  # EC2, SPOT, FARGATE or FARGATE_SPOT
    instance_types: tuple[str, ...]  # as Batch gets them: names, families, categories
    launchable: tuple[InstanceType, ...]  # every catalog type Batch may launch for them
    architecture: str
    min_vcpus: int
    max_vcpus: int
    image_types: tuple[str, ...]  # Ec2Configuration, in order
    network: NetworkPlan | None  # the launch template's interfaces; None: Batch's own (security groups on the CE)
    placement_group: bool
    runs_multi_node: bool
    from_fleet: bool
    image: ImagePlan | None = None  # an HpcImage's plan: Ec2Configuration.ImageIdOverride, what boot skips

    @property
    def fargate(self) -> bool:
        return self.resource_type.startswith("FARGATE")

    @property
    def efa(self) -> bool:
        return self.network is not None and self.network.efa


@dataclass(frozen=True)
class Resources:
    vcpus: float
    memory_mib: int
    gpus: int


@dataclass(frozen=True)
class MultiNodeJobPlan:
    spec: MultiNodeJobSpec
    instance_type: InstanceType
    environment: str
    efa_devices: tuple[str, ...]  # /dev/infiniband/uverbsN, one per EFA interface
    resources: Resources
    shared_memory_mib: int
    ranges: tuple[tuple[int, int, tuple[str, ...]], ...]  # (start, end, command)
    network_bandwidth_gbps: float  # per node, what the environment's interfaces carry


@dataclass(frozen=True)
class ContainerJobPlan:
    spec: ContainerJobSpec
    fargate: bool
    resources: Resources
    environments: tuple[str, ...]  # the environments that fit it


@dataclass(frozen=True)
class QueuePlan:
    name: str
    priority: int
    environments: tuple[str, ...]
    max_vcpus: int


@dataclass(frozen=True)
class BatchPlan:
    environments: Mapping[str, EnvironmentPlan]
    queues: tuple[QueuePlan, ...]
    multi_node_jobs: tuple[MultiNodeJobPlan, ...]
    container_jobs: tuple[ContainerJobPlan, ...]

    def longest_job_minutes(self, environment: str) -> int:
        """The longest timeout (minutes per attempt) of the job definitions that run on `environment`; the
        library's default job timeout (a day) when none does: what a job submitted there can run for."""
        timeouts = [j.spec.timeout_minutes for j in self.multi_node_jobs if j.environment == environment]
        timeouts += [j.spec.timeout_minutes for j in self.container_jobs if environment in j.environments]
        return max(timeouts, default=DEFAULT_TIMEOUT_MINUTES)

    def update_job_timeout_minutes(self, environment: str) -> int:
        """UpdatePolicy.JobExecutionTimeoutMinutes for `environment`: how long an infrastructure update (a new
        launch template version, image or instance types: any `cdk deploy` that changes them) lets running jobs
        go on before it replaces their instances. The longest job that runs there, within Batch's maximum (7,200
        minutes, UpdatePolicy in the Batch API reference); Batch's default of 30 would end longer jobs."""
        return min(self.longest_job_minutes(environment), BATCH.max_update_job_execution_timeout_minutes)


@dataclass(frozen=True)
class FleetFacts:
    """What an environment takes from a ComputeFleet (plain values)."""

    path: str
    instance_types: tuple[str, ...]
    efa: bool
    placement_group: bool


@dataclass(frozen=True)
class EnvironmentInput:
    """A spec and what only the construct knows: its subnets and their route out, its fleet."""

    spec: ComputeEnvironmentSpec
    subnet_count: int
    fleet: FleetFacts | None = None
    route_out: bool = True  # False: every subnet is isolated (no NAT, no internet gateway)


# -- rules -----------------------------------------------------------------------------------------------

def plan_batch(path: str, environments: Sequence[EnvironmentInput], queues: Sequence[JobQueueSpec],
               multi_node_jobs: Sequence[MultiNodeJobSpec], container_jobs: Sequence[ContainerJobSpec]) -> BatchPlan:
    """Validate the specs and decide. Rules, in order:

    1. Names: every environment, queue and job name is 1 to 128 letters, digits, - and _, unique
       among its kind.
    2. Environments: known instance types (names, families or Batch's categories) of one
       architecture, ENA on every type, an image Batch has for them (ECS_AL2023, ECS_AL2023_NVIDIA
       for GPU types; not p3, g3 or a1; an HpcImage built on them), Spot only where offered,
       0 <= min_vcpus <= max_vcpus, max_vcpus >= 1; Fargate: no instance types, no min_vcpus, no fleet,
       at most 16 subnets; with `fleet`, the fleet's types.
    3. Multi-node jobs: an On-Demand EC2 environment (never Spot or Fargate: the job would never leave
       RUNNABLE), 2 to 1,000 nodes, one instance type the environment launches, at most 5 node
       ranges that cover 0 to n-1 with no gap and no overlap, resources within the type, room in
       max_vcpus for every node at once, a timeout of at least 60 s and 1 to 10 attempts. Its
       environment sits in one subnet with a cluster placement group and, with EFA, lays out an EFA
       interface on every card, leaving an interface free on card 0 for the job's awsvpc interface.
    4. Container jobs: resources that fit a type the environment launches (EC2: whole vCPUs >= 1,
       memory >= 4 MiB within the 5% buffer, GPUs on GPU types; Fargate: a Fargate combination, no
       GPUs); the same timeout and attempts rules.
    5. Queues (default: one queue over every environment): 1 to 3 existing environments, each once,
       one architecture, EC2 and Fargate not mixed, a priority >= 0 that differs from every other
       queue sharing an environment.
    """
    _check_names(path, environments, queues, multi_node_jobs, container_jobs)
    basics = {e.spec.name: _environment_basics(path, e) for e in environments}
    fleets = {e.spec.name: e.fleet for e in environments}
    mnp_plans_pending = [_multi_node_basics(path, job, basics, fleets) for job in multi_node_jobs]
    environment_plans = {
        e.spec.name: _finish_environment(path, e, basics[e.spec.name],
                                         [(job, t, efa) for job, t, efa in mnp_plans_pending
                                          if job.compute_environment == e.spec.name])
        for e in environments}
    mnp_plans = tuple(_finish_multi_node(path, job, t, efa, environment_plans[job.compute_environment])
                      for job, t, efa in mnp_plans_pending)
    container_plans = tuple(_container_job(path, job, environment_plans) for job in container_jobs)
    queue_plans = _queues(path, queues, environment_plans)
    return BatchPlan(environment_plans, queue_plans, mnp_plans, container_plans)


def _check_names(path: str, environments: Sequence[EnvironmentInput], queues: Sequence[JobQueueSpec],
                 multi_node_jobs: Sequence[MultiNodeJobSpec], container_jobs: Sequence[ContainerJobSpec]) -> None:
    if not environments:
        raise ConfigError(path, "compute_environments", [], "at least one ComputeEnvironmentSpec")
    kinds: list[tuple[str, list[str]]] = [
        ("compute_environments", [e.spec.name for e in environments]),
        ("job_queues", [q.name for q in queues]),
        ("job definitions (multi_node_jobs and container_jobs)",
         [j.name for j in multi_node_jobs] + [j.name for j in container_jobs]),
    ]
    for prop, names in kinds:
        for name in names:
            check_name(path, f"{prop}.name", name)
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ConfigError(path, prop, ", ".join(duplicates), "each name once",
                              hint="Queues, environments and jobs are looked up by name.")


def check_name(path: str, prop: str, name: object, *, max_length: int = BATCH.max_name_length) -> None:
    """A Batch name: 1 to 128 letters, digits, hyphens and underscores."""
    if not isinstance(name, str) or not NAME.match(name) or len(name) > max_length:
        raise ConfigError(path, prop, name, f"1 to {max_length} letters, digits, hyphens (-) and underscores (_)")


@dataclass(frozen=True)
class _Basics:
    resource_type: str
    instance_types: tuple[str, ...]
    launchable: tuple[InstanceType, ...]
    architecture: str
    image_types: tuple[str, ...]


def _environment_basics(path: str, environment: EnvironmentInput) -> _Basics:
    spec = environment.spec
    where = f"{path}/{spec.name}"
    if not _is_int(spec.min_vcpus) or spec.min_vcpus < 0:
        raise ConfigError(where, "min_vcpus", spec.min_vcpus, "0 or more")
    if not _is_int(spec.max_vcpus) or spec.max_vcpus < 1:
        raise ConfigError(where, "max_vcpus", spec.max_vcpus, "1 or more")
    if spec.min_vcpus > spec.max_vcpus:
        raise ConfigError(where, "min_vcpus", spec.min_vcpus, f"at most max_vcpus ({spec.max_vcpus})")
    if spec.fargate:
        return _fargate_basics(where, environment)
    if isinstance(spec.instance_types, str) or not spec.instance_types:
        raise ConfigError(where, "instance_types", spec.instance_types, "a non-empty sequence of instance types",
                          hint=f"Write instance_types=[{spec.instance_types!r}]." if isinstance(
                              spec.instance_types, str) else "")
    names = tuple(spec.instance_types)
    if environment.fleet is not None:
        fleet = environment.fleet
        if names not in (("optimal",), fleet.instance_types):
            extra = [n for n in names if n not in fleet.instance_types]
            wanted = [t for n in extra for t in _expand(where, n)]
            hint = ("An environment made from a fleet launches all of the fleet's types: leave instance_types out."
                    if not extra else _fleet_way_out(spec.name, fleet, wanted, given=list(names)))
            raise ConfigError(where, "instance_types", list(names),
                              f"the fleet's types ({', '.join(fleet.instance_types)}), or left out", hint=hint)
        names = fleet.instance_types
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(where, "instance_types", list(names), "each instance type once",
                          hint=f"Listed more than once: {', '.join(duplicates)}.")
    launchable: dict[str, InstanceType] = {}
    architectures: dict[str, list[str]] = {}  # architecture -> the names that bring it
    for name in names:
        for t in _expand(where, name):
            launchable[t.name] = t
            by_name = architectures.setdefault(t.architecture, [])
            if name not in by_name:
                by_name.append(name)
    types = tuple(sorted(launchable.values(), key=lambda t: t.name))
    legacy = [t.name for t in types if not t.ena_capable]
    if legacy:
        raise ConfigError(where, "instance_types", ", ".join(legacy[:8]), "instance types that support ENA",
                          hint=ENA_EXPLANATION)
    if len(architectures) > 1 or not set(architectures) <= {"x86_64", "arm64"}:
        detail = "; ".join(f"{arch}: {', '.join(n)}" for arch, n in sorted(architectures.items()))
        raise ConfigError(where, "instance_types", detail, "instance types of one architecture, x86_64 or arm64",
                          hint="Batch launches one image per environment; make one environment per architecture.")
    architecture = next(iter(architectures))
    if spec.spot:
        lacking = [t.name for t in types if not t.supports_spot]
        if lacking:
            raise ConfigError(where, "spot", True, "Spot only on instance types that offer the spot usage class",
                              hint=f"No Spot capacity for: {', '.join(lacking[:8])}.")
    return _Basics("SPOT" if spec.spot else "EC2", names, types, architecture, _image_types(where, types))


def _fargate_basics(where: str, environment: EnvironmentInput) -> _Basics:
    spec = environment.spec
    if tuple(spec.instance_types) != ("optimal",):
        raise ConfigError(where, "instance_types", list(spec.instance_types), "the default, on Fargate",
                          hint="Fargate chooses the capacity; a job says its vCPUs and memory.")
    if spec.min_vcpus:
        raise ConfigError(where, "min_vcpus", spec.min_vcpus, "0 on Fargate (it keeps no capacity running)")
    if environment.fleet is not None:
        raise ConfigError(where, "fleet", environment.fleet.path, "None on Fargate (a fleet is EC2 capacity)")
    if spec.efa:
        raise ConfigError(where, "efa", True, "False on Fargate (no EFA)")
    if environment.subnet_count > BATCH.max_fargate_subnets:
        raise ConfigError(where, "subnets", f"{environment.subnet_count} subnets",
                          f"at most {BATCH.max_fargate_subnets} subnets on Fargate")
    return _Basics("FARGATE_SPOT" if spec.spot else "FARGATE", (), (), "x86_64", ())


def _expand(where: str, name: object) -> tuple[InstanceType, ...]:
    """The catalog types behind an instance type name, a family or one of Batch's categories."""
    if not isinstance(name, str):
        raise ConfigError(where, "instance_types", name, "instance type names")
    families = BATCH.instance_categories.get(name)
    if families is not None:
        return catalog.family_members(*families)
    if "." not in name:
        family = catalog.family_members(name)
        if family:
            return family
        raise ConfigError(where, "instance_types", name,
                          "a catalog instance type, an instance family, or one of "
                          f"{', '.join(BATCH.instance_categories)}",
                          hint="No instance family of that name in the catalog.")
    return (catalog.instance_type(name, path=where, prop="instance_types"),)


def _image_types(where: str, types: Sequence[InstanceType]) -> tuple[str, ...]:
    """Ec2Configuration: ECS_AL2023 for CPU types, ECS_AL2023_NVIDIA for GPU types (the catalog decides)."""
    old = sorted({t.family for t in types if t.family in BATCH.al2023_excluded_families})
    if old:
        raise ConfigError(where, "instance_types", ", ".join(old), "instance types Amazon Linux 2023 runs on",
                          hint="Batch's Amazon Linux 2023 images do not support A1 instances, and Batch no longer "
                               "creates environments with its Amazon Linux 2 images. Use Graviton2 or later (m6g, "
                               "c7g, ...).")
    gpu = [t for t in types if t.has_gpu]
    unsupported = sorted({t.family for t in gpu if t.family in BATCH.gpu_image_excluded_families})
    if unsupported:
        raise ConfigError(where, "instance_types", ", ".join(unsupported),
                          f"GPU types that {BATCH.gpu_image_type} supports",
                          hint=f"Batch's GPU image ({BATCH.gpu_image_type}) does not support the "
                               f"{' and '.join(BATCH.gpu_image_excluded_families)} families; use g4dn or later.")
    images = []
    if len(gpu) < len(types):
        images.append(BATCH.cpu_image_type)
    if gpu:
        images.append(BATCH.gpu_image_type)
    return tuple(images)


def _multi_node_basics(path: str, job: MultiNodeJobSpec, basics: Mapping[str, _Basics],
                       fleets: Mapping[str, FleetFacts | None]) -> tuple[MultiNodeJobSpec, InstanceType, bool]:
    where = f"{path}/{job.name}"
    if job.compute_environment not in basics:
        raise ConfigError(where, "compute_environment", job.compute_environment,
                          f"one of the compute environments: {', '.join(basics)}")
    environment = basics[job.compute_environment]
    if environment.resource_type != "EC2":
        kind = "Spot" if environment.resource_type == "SPOT" else "Fargate"
        raise ConfigError(where, "compute_environment", job.compute_environment,
                          "an On-Demand EC2 compute environment",
                          hint=f"{job.compute_environment} is a {kind} environment. Batch does not run multi-node "
                               "parallel jobs on Spot or Fargate capacity: the job would never leave RUNNABLE. Add "
                               "an On-Demand environment (spot=False) for it.")
    if not _is_int(job.num_nodes) or not BATCH.min_mnp_nodes <= job.num_nodes <= BATCH.max_mnp_nodes:
        raise ConfigError(where, "num_nodes", job.num_nodes, f"{BATCH.min_mnp_nodes} to {BATCH.max_mnp_nodes:,} nodes",
                          hint="Batch runs up to 1,000 nodes in a multi-node parallel job; one node is a container "
                               "job.")
    t = catalog.instance_type(job.instance_type, path=where, prop="instance_type")
    if t.name not in {x.name for x in environment.launchable}:
        fleet = fleets.get(job.compute_environment)
        hint = ("All nodes of a multi-node job run this one type: add it to the environment's instance_types."
                if fleet is None else _fleet_way_out(job.compute_environment, fleet, [t]))
        raise ConfigError(where, "instance_type", t.name,
                          f"a type that {job.compute_environment} launches ({', '.join(environment.instance_types)})",
                          hint=hint)
    if job.efa and not t.efa_supported:
        raise ConfigError(where, "efa", True, "EFA only on instance types whose catalog entry says EfaSupported",
                          hint=f"{t.name} has no EFA support.")
    return job, t, t.efa_supported if job.efa is None else bool(job.efa)


def _fleet_way_out(environment: str, fleet: FleetFacts, wanted: Sequence[InstanceType], *,
                   given: Sequence[str] = ()) -> str:
    """How an environment made from a fleet gets more instance types: only by the fleet, whose EFA layout and
    placement were decided for its own types, or by an environment of its own (without fleet=)."""
    names = [t.name for t in wanted]
    own = list(given) or sorted({*names})
    alone = (f"give {environment} its own types: ComputeEnvironmentSpec({environment!r}, "
             f"instance_types={own!r}) without fleet= (it then makes its own launch template, placement group "
             "and EFA layout)")
    fleet_types = [catalog.instance_type(n) for n in fleet.instance_types]
    fits = all(t.architecture == fleet_types[0].architecture and (t.efa_supported or not fleet.efa)
               and (t.supports_cluster_placement or not fleet.placement_group) for t in wanted)
    if not fits:
        return (f"{environment} is made from {fleet.path} and launches its types only, with which "
                f"{', '.join(names)} cannot share an EFA layout and placement group: {alone}.")
    return (f"{environment} is made from {fleet.path} and launches its types only. Add {', '.join(names)} to that "
            f"fleet: ComputeFleet(..., instance_types={[*fleet.instance_types, *names]!r}), and leave the "
            f"environment's instance_types out; or {alone}.")


def _finish_environment(path: str, environment: EnvironmentInput, basics: _Basics,
                        jobs: Sequence[tuple[MultiNodeJobSpec, InstanceType, bool]]) -> EnvironmentPlan:
    spec = environment.spec
    where = f"{path}/{spec.name}"
    runs_multi_node = bool(jobs)
    image = image_plan_of(spec.image)
    if spec.image is not None and (image is None or basics.resource_type.startswith("FARGATE")):
        raise ConfigError(where, "image", spec.image, "an HpcImage(base='ecs'), on an EC2 environment",
                          hint="Fargate runs no image of yours; an EC2 environment takes an HpcImage built on "
                               "Batch's ECS-optimized Amazon Linux 2023.")
    if image is not None:
        check_image_for(where, image, basics.launchable, use="batch")
    if basics.resource_type.startswith("FARGATE"):
        return EnvironmentPlan(spec.name, basics.resource_type, (), (), "x86_64", 0, spec.max_vcpus, (), None, False,
                               False, False)
    fleet = environment.fleet
    wants_efa = any(efa for _, _, efa in jobs)
    efa: bool | None = spec.efa
    if fleet is not None:
        if efa is not None and efa != fleet.efa:
            raise ConfigError(where, "efa", efa, f"{fleet.efa} (the fleet's decision) or None")
        efa = fleet.efa
    if wants_efa and efa is False:
        job = next(job for job, _, e in jobs if e)
        raise ConfigError(f"{path}/{job.name}", "efa", job.efa,
                          f"False, or a compute environment with EFA ({spec.name} has efa=False)")
    if efa is None:
        efa = wants_efa
    if (runs_multi_node or efa) and environment.subnet_count != 1:
        raise ConfigError(where, "subnets", f"{environment.subnet_count} subnets",
                          "exactly one subnet for an environment that runs multi-node jobs or EFA",
                          hint="Multi-node jobs and EFA need a cluster placement group, which lives in one "
                               "Availability Zone: pass subnet=<one subnet> (HpcNetwork.cluster_subnet).")
    if fleet is not None and runs_multi_node and not fleet.placement_group:
        raise ConfigError(where, "fleet", fleet.path, "a fleet with a cluster placement group, for multi-node jobs",
                          hint="Multi-node jobs run in a cluster placement group; the fleet has none "
                               "(placement_group=False, or a type without the cluster strategy).")
    network: NetworkPlan | None = None
    placement_group = runs_multi_node or efa or (fleet is not None and fleet.placement_group)
    if efa and not environment.route_out:
        raise ConfigError(where, "subnet", "an isolated subnet", "a subnet with a route out, for EFA",
                          hint="Batch's ECS images lack the EFA software: the nodes download the pinned, "
                               "GPG-verified EFA installer at first boot, and Batch's ECS agent needs its endpoint.")
    if efa:
        # One interface stays free on card 0 for each multi-node node's awsvpc interface (mnp-ce).
        network = plan_network(where, basics.launchable, efa=True, placement_group=placement_group or None,
                               spot=basics.resource_type == "SPOT", subnet_count=1,
                               card0_reserve=1 if runs_multi_node else 0)
        placement_group = network.placement_group
    elif placement_group:
        lacking = [t.name for t in basics.launchable if not t.supports_cluster_placement]
        if lacking:
            raise ConfigError(where, "instance_types", ", ".join(lacking[:8]),
                              "types that support the cluster placement strategy, for multi-node jobs",
                              hint="Multi-node jobs run in a cluster placement group.")
    if runs_multi_node:
        _check_task_interface_room(where, basics.launchable, network)
    return EnvironmentPlan(spec.name, basics.resource_type, basics.instance_types, basics.launchable,
                           basics.architecture, spec.min_vcpus, spec.max_vcpus, basics.image_types, network,
                           placement_group, runs_multi_node, fleet is not None, image)


def _check_task_interface_room(where: str, types: Sequence[InstanceType], network: NetworkPlan | None) -> None:
    """A multi-node job's node attaches one more interface (awsvpc): every type must have room for it."""
    used = len(network.interfaces) if network is not None else 1
    full = [t.name for t in types if t.maximum_network_interfaces < used + 1]
    if full:
        raise ConfigError(where, "instance_types", ", ".join(full[:8]),
                          f"types with room for {used + 1} network interfaces",
                          hint="Batch attaches an interface to each node of a multi-node job (awsvpc network mode) "
                               f"besides the {used} of the launch template; these types take no more.")


def _finish_multi_node(path: str, job: MultiNodeJobSpec, t: InstanceType, efa: bool,
                       environment: EnvironmentPlan) -> MultiNodeJobPlan:
    where = f"{path}/{job.name}"
    _check_image(where, job.image)
    _check_command(where, "command", job.command)
    _check_timeout_and_attempts(where, job.timeout_minutes, job.attempts)
    ranges = _node_ranges(where, job)
    vcpus = t.vcpus if job.vcpus is None else job.vcpus
    memory = usable_memory_mib(t) if job.memory_mib is None else job.memory_mib
    gpus = t.gpus if job.gpus is None else job.gpus
    resources = _check_ec2_resources(where, Resources(vcpus, memory, gpus), (t,), what=t.name)
    shared = memory // 2 if job.shared_memory_mib is None else job.shared_memory_mib
    if not _is_int(shared) or not 1 <= shared <= memory:
        raise ConfigError(where, "shared_memory_mib", shared, f"1 to memory_mib ({memory:,} MiB)",
                          hint="/dev/shm is memory the container is charged for.")
    needed = job.num_nodes * t.vcpus
    if needed > environment.max_vcpus:
        raise ConfigError(where, "num_nodes", job.num_nodes,
                          f"at most {environment.max_vcpus // t.vcpus} nodes of {t.name} in {environment.name} "
                          f"(max_vcpus {environment.max_vcpus:,})",
                          hint=f"All {job.num_nodes} nodes must run at once: {job.num_nodes} x {t.vcpus} = "
                               f"{needed:,} vCPUs. Raise the environment's max_vcpus to at least {needed:,}, or the "
                               "job would never leave RUNNABLE.")
    network = environment.network
    devices: tuple[str, ...] = ()
    if efa:
        assert network is not None and network.efa
        devices = tuple(UVERBS.format(i) for i in range(network.efa_interface_count))
        bandwidth = network.network_bandwidth_gbps
    else:
        bandwidth = (network.network_bandwidth_gbps if network is not None
                     else t.network_cards[0].baseline_bandwidth_gbps)
    return MultiNodeJobPlan(job, t, environment.name, devices, resources, shared, ranges, bandwidth)


def _node_ranges(where: str, job: MultiNodeJobSpec) -> tuple[tuple[int, int, tuple[str, ...]], ...]:
    n = job.num_nodes
    if isinstance(job.node_ranges, NodeRangeSpec | str):
        raise ConfigError(where, "node_ranges", job.node_ranges, "a sequence of NodeRangeSpec")
    specs = list(job.node_ranges) or [NodeRangeSpec(0, n - 1)]
    if len(specs) > BATCH.max_mnp_node_ranges:
        raise ConfigError(where, "node_ranges", f"{len(specs)} ranges",
                          f"at most {BATCH.max_mnp_node_ranges} node ranges",
                          hint="Batch takes up to five node groups per multi-node job; merge ranges that run the "
                               "same command.")
    for r in specs:
        if not isinstance(r, NodeRangeSpec) or not _is_int(r.start) or not _is_int(r.end) \
                or not 0 <= r.start <= r.end <= n - 1:
            shown = f"{r.start}:{r.end}" if isinstance(r, NodeRangeSpec) else r
            raise ConfigError(where, "node_ranges", shown, f"start:end with 0 <= start <= end <= {n - 1} (inclusive)")
        _check_command(where, "node_ranges.command", r.command)
    covered = 0
    for r in sorted(specs, key=lambda r: r.start):
        if r.start != covered:
            what = "overlap" if r.start < covered else "gap"
            raise ConfigError(where, "node_ranges", ", ".join(f"{x.start}:{x.end}" for x in specs),
                              f"ranges that cover 0:{n - 1} once, with no gap and no overlap",
                              hint=f"A {what} at node {min(r.start, covered)}.")
        covered = r.end + 1
    if covered != n:
        raise ConfigError(where, "node_ranges", ", ".join(f"{x.start}:{x.end}" for x in specs),
                          f"ranges that cover 0:{n - 1} once, with no gap and no overlap",
                          hint=f"Nodes {covered} to {n - 1} have no range.")
    default = tuple(job.command)
    return tuple((r.start, r.end, tuple(r.command) or default)
                 for r in sorted(specs, key=lambda r: r.start))


def usable_memory_mib(t: InstanceType) -> int:
    """Memory a job can reserve on `t`: the installed memory less Batch's recommended 5% buffer."""
    return t.memory_mib * (100 - BATCH.memory_buffer_percent) // 100


def _check_ec2_resources(where: str, resources: Resources, types: Sequence[InstanceType], *, what: str) -> Resources:
    vcpus, memory, gpus = resources.vcpus, resources.memory_mib, resources.gpus
    if isinstance(vcpus, bool) or not isinstance(vcpus, int | float) or vcpus < BATCH.min_ec2_vcpus \
            or not float(vcpus).is_integer():
        raise ConfigError(where, "vcpus", vcpus, f"a whole number of vCPUs, at least {BATCH.min_ec2_vcpus}",
                          hint="Jobs on EC2 reserve whole vCPUs; fractions are Fargate's.")
    if not _is_int(memory) or memory < BATCH.min_memory_mib:
        raise ConfigError(where, "memory_mib", memory, f"at least {BATCH.min_memory_mib} MiB")
    if not _is_int(gpus) or gpus < 0:
        raise ConfigError(where, "gpus", gpus, "0 or more")
    fits = [t for t in types if t.vcpus >= vcpus and usable_memory_mib(t) >= memory and t.gpus >= gpus]
    if not fits:
        most = max(types, key=lambda t: (t.gpus if gpus else 0, t.vcpus, t.memory_mib))
        limits = (f"{most.vcpus} vCPUs, {usable_memory_mib(most):,} MiB"
                  f"{f', {most.gpus} GPUs' if most.gpus else ''}")
        raise ConfigError(where, "resources", f"{vcpus:g} vCPUs, {memory:,} MiB, {gpus} GPUs",
                          f"what one instance of {what} holds (largest: {most.name}, {limits})",
                          hint="Batch places a job on one instance; a job larger than any instance it can launch "
                               "waits in RUNNABLE forever. Memory is checked less the 5% buffer Batch recommends "
                               "for the ECS agent and the system.")
    return Resources(int(vcpus), memory, gpus)


def _container_job(path: str, job: ContainerJobSpec, environments: Mapping[str, EnvironmentPlan]) -> ContainerJobPlan:
    where = f"{path}/{job.name}"
    _check_image(where, job.image)
    _check_command(where, "command", job.command)
    _check_timeout_and_attempts(where, job.timeout_minutes, job.attempts)
    if job.compute_environment is not None:
        if job.compute_environment not in environments:
            raise ConfigError(where, "compute_environment", job.compute_environment,
                              f"None or one of the compute environments: {', '.join(environments)}")
        candidates = [environments[job.compute_environment]]
    else:
        ec2_environments = [e for e in environments.values() if not e.fargate]
        candidates = ec2_environments or list(environments.values())
    if candidates[0].fargate:
        resources = _check_fargate_resources(where, job)
        return ContainerJobPlan(job, True, resources, tuple(e.name for e in candidates))
    fitting: list[str] = []
    first_error: ConfigError | None = None
    resources = Resources(job.vcpus, job.memory_mib, job.gpus)
    for environment in candidates:
        try:
            resources = _check_ec2_resources(where, Resources(job.vcpus, job.memory_mib, job.gpus),
                                             environment.launchable, what=f"{environment.name} "
                                             f"({', '.join(environment.instance_types)})")
            fitting.append(environment.name)
        except ConfigError as error:
            first_error = first_error or error
    if not fitting:
        assert first_error is not None
        raise first_error
    return ContainerJobPlan(job, False, resources, tuple(fitting))


def _check_fargate_resources(where: str, job: ContainerJobSpec) -> Resources:
    table = BATCH.fargate_memory_mib_by_vcpus
    if job.gpus:
        raise ConfigError(where, "gpus", job.gpus, "0 on Fargate (no GPUs)")
    if isinstance(job.vcpus, bool) or job.vcpus not in table:
        raise ConfigError(where, "vcpus", job.vcpus,
                          f"one of Fargate's vCPU values: {', '.join(f'{v:g}' for v in table)}")
    allowed = table[job.vcpus]
    if job.memory_mib not in allowed:
        raise ConfigError(where, "memory_mib", job.memory_mib,
                          f"with {job.vcpus:g} vCPUs on Fargate: {', '.join(f'{m:,}' for m in allowed)} MiB")
    return Resources(job.vcpus, job.memory_mib, 0)


def _queues(path: str, queues: Sequence[JobQueueSpec],
            environments: Mapping[str, EnvironmentPlan]) -> tuple[QueuePlan, ...]:
    specs = list(queues)
    if not specs:
        names = list(environments)
        kinds = {e.fargate for e in environments.values()}
        architectures = {e.architecture for e in environments.values()}
        if len(names) > BATCH.max_compute_environments_per_queue or len(kinds) > 1 or len(architectures) > 1:
            raise ConfigError(path, "job_queues", "() (one queue over every environment)",
                              "explicit JobQueueSpecs for these environments",
                              hint=f"The default queue takes every environment, but {', '.join(names)} are more than "
                                   f"{BATCH.max_compute_environments_per_queue}, or mix EC2 and Fargate, or "
                                   "architectures; say which queue takes which.")
        specs = [JobQueueSpec("default", names)]
    plans = []
    for queue in specs:
        where = f"{path}/{queue.name}"
        listed = queue.compute_environments
        if isinstance(listed, str) or not 1 <= len(listed) <= BATCH.max_compute_environments_per_queue:
            raise ConfigError(where, "compute_environments", listed,
                              f"1 to {BATCH.max_compute_environments_per_queue} compute environments",
                              hint="Batch associates at most three compute environments with a job queue.")
        names = list(listed)
        if isinstance(names, str) or not 1 <= len(names) <= BATCH.max_compute_environments_per_queue:
            raise ConfigError(where, "compute_environments", names,
                              f"1 to {BATCH.max_compute_environments_per_queue} compute environments",
                              hint="Batch associates at most three compute environments with a job queue.")
        unknown = [n for n in names if n not in environments]
        if unknown:
            raise ConfigError(where, "compute_environments", ", ".join(map(str, unknown)),
                              f"names of compute environments: {', '.join(environments)}")
        if len(set(names)) != len(names):
            raise ConfigError(where, "compute_environments", list(names), "each environment once")
        chosen = [environments[n] for n in names]
        if len({e.fargate for e in chosen}) > 1:
            raise ConfigError(where, "compute_environments", list(names), "EC2 or Fargate environments, not both",
                              hint="Batch does not mix EC2 and Fargate environments in one queue.")
        architectures = {e.architecture for e in chosen}
        if len(architectures) > 1:
            raise ConfigError(where, "compute_environments", list(names), "environments of one architecture",
                              hint=f"These mix {' and '.join(sorted(architectures))}; Batch refuses that.")
        if not _is_int(queue.priority) or queue.priority < 0:
            raise ConfigError(where, "priority", queue.priority, "a whole number, 0 or more (higher runs first)")
        plans.append(QueuePlan(queue.name, queue.priority, tuple(names), sum(e.max_vcpus for e in chosen)))
    for a in plans:
        for b in plans:
            if a.name < b.name and a.priority == b.priority and set(a.environments) & set(b.environments):
                shared = ", ".join(sorted(set(a.environments) & set(b.environments)))
                raise ConfigError(f"{path}/{b.name}", "priority", b.priority, f"a priority other than {a.name}'s",
                                  hint=f"{a.name} and {b.name} share {shared}; "
                                       "with equal priorities Batch's order between them is not defined.")
    return tuple(plans)


def _check_timeout_and_attempts(where: str, timeout_minutes: object, attempts: object) -> None:
    if not _is_int(timeout_minutes) or timeout_minutes * 60 < BATCH.min_timeout_seconds:  # type: ignore[operator]
        raise ConfigError(where, "timeout_minutes", timeout_minutes,
                          f"a whole number of minutes, at least {math.ceil(BATCH.min_timeout_seconds / 60)}",
                          hint="Every job has a timeout, so that none runs forever.")
    if not _is_int(attempts) or not BATCH.min_attempts <= attempts <= BATCH.max_attempts:  # type: ignore[operator]
        raise ConfigError(where, "attempts", attempts, f"{BATCH.min_attempts} to {BATCH.max_attempts}")


def _check_image(where: str, image: object) -> None:
    if not isinstance(image, str) or not image.strip() or any(c.isspace() for c in image):
        raise ConfigError(where, "image", image, "a container image reference, e.g. public.ecr.aws/x/y:tag")


def _check_command(where: str, prop: str, command: object) -> None:
    if isinstance(command, str) or not all(isinstance(c, str) for c in command):  # type: ignore[attr-defined]
        raise ConfigError(where, prop, command, "a sequence of strings (the argv), e.g. ['mpirun', './app']")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
