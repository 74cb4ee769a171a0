"""The reference app's config schema (config/*.yaml), as pydantic models, and its conversion to construct props.

The schema checks shape only: which keys exist, their types, required keys, one-of choices and the
references between sections (a batch environment's `fleet`, a queue's environments, a fleet's
`mount_ebs` names, an EFS or Lustre DataSync location). Value rules (EBS IOPS limits, EFA, instance
types, ...) stay in hpc_constructs, which raises hpc_constructs.ConfigError at synth time.

Scalars are strict: a quoted "64000" is not an integer, 1 is not true. Lists become tuples. Every
section's defaults are the construct's own (read from its signature), and only the keys a config
gives are passed on, so that the constructs keep deciding their defaults.

parse_config(raw, source=...) returns a ReferenceConfig or raises ConfigFileError, one line per problem:
    config/x.yaml: batch.compute_environments[1].max_vcpus: 'lots' is not allowed; expected an integer
    config/x.yaml: storage.lustre.deploymnet_type: unknown key; allowed: automatic_backup_retention_days, ...
Reading the file is app.py's job (app.load_config).
"""

import inspect
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Annotated, Any, Union, get_args, get_origin

from aws_cdk import Environment
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from hpc_constructs import (
    BatchOrchestration,
    BucketSpec,
    ComputeEnvironmentSpec,
    ComputeFleet,
    ContainerJobSpec,
    DataSyncLocation,
    DataSyncTaskSpec,
    DataTransferLayer,
    DirectConnectSpec,
    EbsSpec,
    EfsSpec,
    HaBastion,
    HaInstance,
    HpcNetwork,
    JobQueueSpec,
    LoginNodesSpec,
    LustreDataRepository,
    LustreSpec,
    MultiNodeJobSpec,
    NodeGroupSpec,
    NodeRangeSpec,
    SlurmCluster,
    SlurmQueueSpec,
    SnowballImportSpec,
    SshUser,
    StorageLayer,
)

__all__ = [
    "BastionConfig",
    "BatchConfig",
    "ConfigFileError",
    "DataTransferConfig",
    "FleetConfig",
    "LicenseServerConfig",
    "NetworkConfig",
    "ReferenceConfig",
    "SlurmConfig",
    "StorageConfig",
    "parse_config",
]


class ConfigFileError(ValueError):
    """A config file that does not fit the schema: one line per problem, each naming the file and the key path."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        super().__init__("\n".join(f"{source}: {problem}" for problem in problems))


def _default(target: Callable[..., Any], name: str) -> Any:
    """The default of `target`'s keyword argument `name`: the construct or spec decides it, not the schema."""
    default = inspect.signature(target).parameters[name].default
    assert default is not inspect.Parameter.empty, f"{target.__qualname__}: {name} has no default"
    return default


# -- one-of types: chosen by the input's own type, so that an error names one expectation ------------------------

def _one_of(expected: str, pick: Callable[[Any], str | None]) -> Discriminator:
    """Chooses a tagged union's member by `pick(input)`: a tag, or None for an error that says `expected`."""
    return Discriminator(pick, custom_error_type="choice", custom_error_message="expected {expected}",
                         custom_error_context={"expected": expected})


def _number_tag(value: Any) -> str | None:
    return "int" if type(value) is int else "float" if type(value) is float else None


def _number_or_null_tag(value: Any) -> str | None:
    return "null" if value is None else _number_tag(value)


def _bool_or_mapping_tag(value: Any) -> str | None:
    return "bool" if isinstance(value, bool) else "mapping" if isinstance(value, dict) else None


def _bool_or_list_tag(value: Any) -> str | None:
    return "bool" if isinstance(value, bool) else "list" if isinstance(value, list | tuple) else None


# An int stays an int and a float a float (StrictFloat would turn 4 into 4.0); strings and booleans are refused.
# (`Number | None` does not work: typing hashes a union's members, and the discriminator holds a dict.)
Number = Annotated[Annotated[StrictInt, Tag("int")] | Annotated[StrictFloat, Tag("float")],
                   _one_of("a number", _number_tag)]
NumberOrNull = Annotated[Annotated[StrictInt, Tag("int")] | Annotated[StrictFloat, Tag("float")]
                         | Annotated[None, Tag("null")], _one_of("a number", _number_or_null_tag)]
Strings = tuple[StrictStr, ...]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def given(self, *, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
        """The keys the config gave (not the defaults), as attributes: what to pass on to a construct."""
        return {name: getattr(self, name) for name in type(self).model_fields
                if name in self.model_fields_set and name not in exclude}


def _rule(text: str, at: str = "") -> PydanticCustomError:
    """A shape rule broken inside a section; `at` names the key under the section's path."""
    return PydanticCustomError("rule", "{text}", {"text": text, "at": at})


# -- network and fleets ---------------------------------------------------------------------------------------

_NET = HpcNetwork.__init__


class NetworkConfig(_Section):
    """HpcNetwork props."""

    cidr: StrictStr = _default(_NET, "cidr")
    max_azs: StrictInt = _default(_NET, "max_azs")
    nat_gateways: StrictInt | None = _default(_NET, "nat_gateways")
    private_subnet_mask: StrictInt = _default(_NET, "private_subnet_mask")
    cluster_availability_zone_index: StrictInt = _default(_NET, "cluster_availability_zone_index")
    flow_logs: StrictBool | None = _default(_NET, "flow_logs")
    s3_endpoint: StrictBool | None = _default(_NET, "s3_endpoint")

    def props(self) -> dict[str, Any]:
        return self.given()


_FLEET = ComputeFleet.__init__
MountEbs = Annotated[Annotated[StrictBool, Tag("bool")] | Annotated[Strings, Tag("list")],
                     _one_of("true, false or a list of EBS volume names", _bool_or_list_tag)]


class FleetConfig(_Section):
    """ComputeFleet props (the fleet goes into the network's cluster subnet), plus `mount_ebs` for the storage."""

    instance_types: Strings
    efa: StrictBool | None = _default(_FLEET, "efa")
    placement_group: StrictBool | None = _default(_FLEET, "placement_group")
    spot: StrictBool = _default(_FLEET, "spot")
    min_capacity: StrictInt = _default(_FLEET, "min_capacity")
    max_capacity: StrictInt = _default(_FLEET, "max_capacity")
    desired_capacity: StrictInt | None = _default(_FLEET, "desired_capacity")
    root_device_name: StrictStr | None = _default(_FLEET, "root_device_name")
    root_volume_size_gib: StrictInt | None = _default(_FLEET, "root_volume_size_gib")
    install_efa_software: StrictBool = _default(_FLEET, "install_efa_software")
    efa_installer_version: StrictStr | None = _default(_FLEET, "efa_installer_version")
    efa_installer_key_fingerprint: StrictStr | None = _default(_FLEET, "efa_installer_key_fingerprint")
    # StorageLayer.mount_on(fleet, ebs_volumes=...): true (every volume), false (none) or volume names.
    mount_ebs: MountEbs = True

    def props(self) -> dict[str, Any]:
        return self.given(exclude=("mount_ebs",))

    @property
    def ebs_selection(self) -> bool | list[str]:
        return self.mount_ebs if isinstance(self.mount_ebs, bool) else list(self.mount_ebs)


# -- storage ---------------------------------------------------------------------------------------------------

class BucketConfig(_Section):
    """BucketSpec."""

    versioned: StrictBool = _default(BucketSpec, "versioned")
    access_logs: StrictBool = _default(BucketSpec, "access_logs")

    def spec(self) -> BucketSpec:
        return BucketSpec(**self.given())


class EbsVolumeConfig(_Section):
    """EbsSpec."""

    size_gib: StrictInt
    volume_type: StrictStr = _default(EbsSpec, "volume_type")
    iops: StrictInt | None = _default(EbsSpec, "iops")
    throughput_mibps: StrictInt | None = _default(EbsSpec, "throughput_mibps")
    availability_zone: StrictStr | None = _default(EbsSpec, "availability_zone")
    name: StrictStr | None = _default(EbsSpec, "name")
    multi_attach: StrictBool = _default(EbsSpec, "multi_attach")
    attach: StrictStr = _default(EbsSpec, "attach")

    def spec(self) -> EbsSpec:
        return EbsSpec(**self.given())


class LustreRepositoryConfig(_Section):
    """LustreDataRepository."""

    file_system_path: StrictStr
    data_repository_path: StrictStr | None = _default(LustreDataRepository, "data_repository_path")
    auto_import: StrictBool = _default(LustreDataRepository, "auto_import")
    auto_export: StrictBool = _default(LustreDataRepository, "auto_export")

    def spec(self) -> LustreDataRepository:
        return LustreDataRepository(**self.given())


class LustreConfig(_Section):
    """LustreSpec."""

    storage_capacity_gib: StrictInt = _default(LustreSpec, "storage_capacity_gib")
    deployment_type: StrictStr = _default(LustreSpec, "deployment_type")
    per_unit_storage_throughput: StrictInt | None = _default(LustreSpec, "per_unit_storage_throughput")
    storage_type: StrictStr = _default(LustreSpec, "storage_type")
    data_repositories: tuple[LustreRepositoryConfig, ...] = ()
    drive_cache_type: StrictStr | None = _default(LustreSpec, "drive_cache_type")
    import_path: StrictStr | None = _default(LustreSpec, "import_path")
    export_path: StrictStr | None = _default(LustreSpec, "export_path")
    lustre_version: StrictStr = _default(LustreSpec, "lustre_version")
    data_compression: StrictStr = _default(LustreSpec, "data_compression")
    automatic_backup_retention_days: StrictInt | None = _default(LustreSpec, "automatic_backup_retention_days")
    mount_point: StrictStr = _default(LustreSpec, "mount_point")
    efa: StrictBool = _default(LustreSpec, "efa")
    metadata_iops: StrictInt | None = _default(LustreSpec, "metadata_iops")

    def spec(self) -> LustreSpec:
        return LustreSpec(**{**self.given(exclude=("data_repositories",)),
                             "data_repositories": tuple(r.spec() for r in self.data_repositories)})


class EfsConfig(_Section):
    """EfsSpec."""

    throughput_mode: StrictStr = _default(EfsSpec, "throughput_mode")
    provisioned_throughput_mibps: NumberOrNull = _default(EfsSpec, "provisioned_throughput_mibps")
    performance_mode: StrictStr = _default(EfsSpec, "performance_mode")
    mount_point: StrictStr = _default(EfsSpec, "mount_point")

    def spec(self) -> EfsSpec:
        return EfsSpec(**self.given())


BucketChoice = Annotated[Annotated[StrictBool, Tag("bool")] | Annotated[BucketConfig, Tag("mapping")],
                         _one_of("true, false or a mapping (BucketSpec)", _bool_or_mapping_tag)]
_STORAGE = StorageLayer.__init__


class StorageConfig(_Section):
    """StorageLayer props (the layer goes into the network's cluster subnet)."""

    bucket: BucketChoice = _default(_STORAGE, "bucket")
    ebs_volumes: tuple[EbsVolumeConfig, ...] = ()
    lustre: LustreConfig | None = None
    efs: EfsConfig | None = None

    @property
    def ebs_volume_names(self) -> list[str]:
        """What mount_on calls the volumes: their name, or vol<N> by position (as EbsSpec says)."""
        return [v.name if v.name is not None else f"vol{i}" for i, v in enumerate(self.ebs_volumes)]

    def props(self) -> dict[str, Any]:
        given = self.given()
        props: dict[str, Any] = {}
        if "bucket" in given:
            props["bucket"] = self.bucket.spec() if isinstance(self.bucket, BucketConfig) else self.bucket
        if "ebs_volumes" in given:
            props["ebs_volumes"] = [v.spec() for v in self.ebs_volumes]
        if self.lustre is not None:
            props["lustre"] = self.lustre.spec()
        if self.efs is not None:
            props["efs"] = self.efs.spec()
        return props


# -- data transfer ---------------------------------------------------------------------------------------------

class S3LocationConfig(_Section):
    """DataSyncLocation.s3 in the DataTransferLayer's landing bucket."""

    prefix: StrictStr = _default(DataSyncLocation.s3, "prefix")
    name: StrictStr | None = None


class NfsLocationConfig(_Section):
    """DataSyncLocation.nfs."""

    server_hostname: StrictStr
    subdirectory: StrictStr
    agent_arns: Strings
    name: StrictStr | None = None


class FileSystemLocationConfig(_Section):
    """DataSyncLocation.efs or .fsx_lustre: the StorageLayer's file system."""

    subdirectory: StrictStr = _default(DataSyncLocation.efs, "subdirectory")
    name: StrictStr | None = None


LOCATION_KINDS = ("efs", "fsx_lustre", "nfs", "s3")


class LocationConfig(_Section):
    """Exactly one of s3, nfs, efs, fsx_lustre (an empty value, `efs:`, takes the kind's defaults)."""

    s3: S3LocationConfig | None = None
    nfs: NfsLocationConfig | None = None
    efs: FileSystemLocationConfig | None = None
    fsx_lustre: FileSystemLocationConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _empty_kind(cls, raw: Any) -> Any:
        if isinstance(raw, dict):
            return {key: {} if key in LOCATION_KINDS and value is None else value for key, value in raw.items()}
        return raw

    @model_validator(mode="after")
    def _one_kind(self) -> "LocationConfig":
        if len(self.kinds) != 1:
            given = f"{len(self.kinds)} kinds given ({', '.join(self.kinds)})" if self.kinds else "no kind given"
            raise _rule(f"{given}; expected exactly one of {', '.join(LOCATION_KINDS)}")
        return self

    @property
    def kinds(self) -> list[str]:
        return [kind for kind in LOCATION_KINDS if kind in self.model_fields_set]

    def location(self, storage: StorageLayer | None) -> DataSyncLocation:
        if self.s3 is not None:
            return DataSyncLocation.s3(None, **self.s3.given())  # the landing bucket
        if self.nfs is not None:
            rest = self.nfs.given(exclude=("server_hostname", "subdirectory", "agent_arns"))
            return DataSyncLocation.nfs(self.nfs.server_hostname, self.nfs.subdirectory, self.nfs.agent_arns, **rest)
        if self.efs is not None:
            return DataSyncLocation.efs(storage, **self.efs.given())
        assert self.fsx_lustre is not None
        return DataSyncLocation.fsx_lustre(storage, **self.fsx_lustre.given())


class DataSyncTaskConfig(_Section):
    """DataSyncTaskSpec."""

    source: LocationConfig
    destination: LocationConfig
    name: StrictStr | None = _default(DataSyncTaskSpec, "name")
    schedule: StrictStr | None = _default(DataSyncTaskSpec, "schedule")
    verify_mode: StrictStr = _default(DataSyncTaskSpec, "verify_mode")
    includes: Strings = ()
    excludes: Strings = ()
    log_retention_days: StrictInt = _default(DataSyncTaskSpec, "log_retention_days")
    task_mode: StrictStr = _default(DataSyncTaskSpec, "task_mode")
    log_level: StrictStr = _default(DataSyncTaskSpec, "log_level")

    def spec(self, storage: StorageLayer | None) -> DataSyncTaskSpec:
        return DataSyncTaskSpec(self.source.location(storage), self.destination.location(storage),
                                **self.given(exclude=("source", "destination")))


class DirectConnectConfig(_Section):
    """DirectConnectSpec."""

    amazon_side_asn: StrictInt
    connection_id: StrictStr | None = _default(DirectConnectSpec, "connection_id")
    vlan: StrictInt | None = _default(DirectConnectSpec, "vlan")
    customer_asn: StrictInt | None = _default(DirectConnectSpec, "customer_asn")
    allowed_prefixes: Strings = ()
    port_speed_gbps: NumberOrNull = _default(DirectConnectSpec, "port_speed_gbps")

    def spec(self) -> DirectConnectSpec:
        return DirectConnectSpec(**self.given())


class SnowballConfig(_Section):
    """SnowballImportSpec."""

    kms_key: StrictBool = _default(SnowballImportSpec, "kms_key")
    snowball_type: StrictStr = _default(SnowballImportSpec, "snowball_type")
    capacity: StrictStr = _default(SnowballImportSpec, "capacity")
    shipping_option: StrictStr = _default(SnowballImportSpec, "shipping_option")

    def spec(self) -> SnowballImportSpec:
        return SnowballImportSpec(**self.given())


SnowballChoice = Annotated[Annotated[StrictBool, Tag("bool")] | Annotated[SnowballConfig, Tag("mapping")],
                           _one_of("true, false or a mapping (SnowballImportSpec)", _bool_or_mapping_tag)]
_TRANSFER = DataTransferLayer.__init__


class DataTransferConfig(_Section):
    """DataTransferLayer props; it lands in the StorageLayer's bucket when there is one."""

    landing_bucket: BucketChoice = _default(_TRANSFER, "landing_bucket")
    datasync_tasks: tuple[DataSyncTaskConfig, ...] = ()
    direct_connect: DirectConnectConfig | None = None
    snowball_import: SnowballChoice = _default(_TRANSFER, "snowball_import")

    def props(self, storage: StorageLayer | None) -> dict[str, Any]:
        props: dict[str, Any] = {"datasync_tasks": [task.spec(storage) for task in self.datasync_tasks]}
        if "landing_bucket" in self.model_fields_set:
            bucket = self.landing_bucket
            props["landing_bucket"] = bucket.spec() if isinstance(bucket, BucketConfig) else bucket
        if self.direct_connect is not None:
            props["direct_connect"] = self.direct_connect.spec()
        snowball = self.snowball_import
        props["snowball_import"] = snowball.spec() if isinstance(snowball, SnowballConfig) else snowball
        return props


# -- batch -----------------------------------------------------------------------------------------------------

class ComputeEnvironmentConfig(_Section):
    """ComputeEnvironmentSpec. `fleet: <name>` names one of the config's fleets; `cluster_subnet: true` puts
    an environment without a fleet into the network's cluster subnet."""

    name: StrictStr
    instance_types: Strings = _default(ComputeEnvironmentSpec, "instance_types")
    spot: StrictBool = _default(ComputeEnvironmentSpec, "spot")
    min_vcpus: StrictInt = _default(ComputeEnvironmentSpec, "min_vcpus")
    max_vcpus: StrictInt = _default(ComputeEnvironmentSpec, "max_vcpus")
    fleet: StrictStr | None = None
    cluster_subnet: StrictBool = False
    fargate: StrictBool = _default(ComputeEnvironmentSpec, "fargate")
    efa: StrictBool | None = _default(ComputeEnvironmentSpec, "efa")
    root_volume_size_gib: StrictInt = _default(ComputeEnvironmentSpec, "root_volume_size_gib")

    @model_validator(mode="after")
    def _fleet_or_subnet(self) -> "ComputeEnvironmentConfig":
        if self.fleet is not None and self.cluster_subnet:
            raise _rule("true is not allowed with fleet; expected false or no cluster_subnet "
                        "(the environment takes the fleet's subnet)", at="cluster_subnet")
        return self

    def spec(self, network: HpcNetwork, fleets: Mapping[str, ComputeFleet]) -> ComputeEnvironmentSpec:
        props = self.given(exclude=("fleet", "cluster_subnet"))
        if self.fleet is not None:
            props["fleet"] = fleets[self.fleet]
        elif self.cluster_subnet:
            props["subnet"] = network.cluster_subnet
        return ComputeEnvironmentSpec(**props)


class JobQueueConfig(_Section):
    """JobQueueSpec."""

    name: StrictStr
    compute_environments: Strings
    priority: StrictInt = _default(JobQueueSpec, "priority")


class NodeRangeConfig(_Section):
    """NodeRangeSpec."""

    start: StrictInt
    end: StrictInt
    command: Strings = ()


_MNP = MultiNodeJobSpec


class MultiNodeJobConfig(_Section):
    """MultiNodeJobSpec."""

    name: StrictStr
    image: StrictStr
    compute_environment: StrictStr
    num_nodes: StrictInt
    instance_type: StrictStr
    command: Strings = ()
    efa: StrictBool | None = _default(_MNP, "efa")
    timeout_minutes: StrictInt = _default(_MNP, "timeout_minutes")
    attempts: StrictInt = _default(_MNP, "attempts")
    node_ranges: tuple[NodeRangeConfig, ...] = ()
    vcpus: StrictInt | None = _default(_MNP, "vcpus")
    memory_mib: StrictInt | None = _default(_MNP, "memory_mib")
    gpus: StrictInt | None = _default(_MNP, "gpus")
    shared_memory_mib: StrictInt | None = _default(_MNP, "shared_memory_mib")
    environment: dict[StrictStr, StrictStr] = Field(default_factory=dict)

    def spec(self) -> MultiNodeJobSpec:
        return MultiNodeJobSpec(**{**self.given(exclude=("node_ranges",)),
                                   "node_ranges": tuple(NodeRangeSpec(**r.given()) for r in self.node_ranges)})


class ContainerJobConfig(_Section):
    """ContainerJobSpec."""

    name: StrictStr
    image: StrictStr
    vcpus: Number
    memory_mib: StrictInt
    gpus: StrictInt = _default(ContainerJobSpec, "gpus")
    compute_environment: StrictStr | None = _default(ContainerJobSpec, "compute_environment")
    command: Strings = ()
    timeout_minutes: StrictInt = _default(ContainerJobSpec, "timeout_minutes")
    attempts: StrictInt = _default(ContainerJobSpec, "attempts")
    environment: dict[StrictStr, StrictStr] = Field(default_factory=dict)


_BATCH = BatchOrchestration.__init__


class BatchConfig(_Section):
    """BatchOrchestration props; every EC2 environment mounts the StorageLayer."""

    compute_environments: tuple[ComputeEnvironmentConfig, ...]
    job_queues: tuple[JobQueueConfig, ...] = ()
    multi_node_jobs: tuple[MultiNodeJobConfig, ...] = ()
    container_jobs: tuple[ContainerJobConfig, ...] = ()
    job_events: StrictBool = _default(_BATCH, "job_events")
    log_retention_days: StrictInt = _default(_BATCH, "log_retention_days")

    @property
    def environment_names(self) -> list[str]:
        return [e.name for e in self.compute_environments]

    def props(self, network: HpcNetwork, fleets: Mapping[str, ComputeFleet]) -> dict[str, Any]:
        return {
            "compute_environments": [e.spec(network, fleets) for e in self.compute_environments],
            "job_queues": [JobQueueSpec(**q.given()) for q in self.job_queues],
            "multi_node_jobs": [j.spec() for j in self.multi_node_jobs],
            "container_jobs": [ContainerJobSpec(**j.given()) for j in self.container_jobs],
            **self.given(exclude=("compute_environments", "job_queues", "multi_node_jobs", "container_jobs")),
        }


# -- access ----------------------------------------------------------------------------------------------------

_BASTION = HaBastion.__init__


class SshUserConfig(_Section):
    """SshUser: a person who may SSH in (through the bastion) to the fleets' and Slurm's nodes."""

    name: StrictStr
    public_keys: Strings
    uid: StrictInt | None = None

    def spec(self) -> SshUser:
        return SshUser(**self.given())


class BastionConfig(_Section):
    """HaBastion props."""

    allowed_cidrs: Strings
    blocked_cidrs: Strings = ()
    instance_type: StrictStr = _default(_BASTION, "instance_type")
    availability_zones: StrictInt = _default(_BASTION, "availability_zones")
    key_name: StrictStr | None = _default(_BASTION, "key_name")
    host_key_generation: StrictInt = _default(_BASTION, "host_key_generation")
    host_key_admins: Strings | None = _default(_BASTION, "host_key_admins")
    allow_open_ssh: StrictStr | None = _default(_BASTION, "allow_open_ssh")
    ssh_log_retention_days: StrictInt = _default(_BASTION, "ssh_log_retention_days")
    acl_rule_quota: StrictInt = _default(_BASTION, "acl_rule_quota")

    def props(self) -> dict[str, Any]:
        return self.given()


# -- license server --------------------------------------------------------------------------------------------

_HA = HaInstance.__init__


class LicenseServerConfig(_Section):
    """HaInstance props for the reference environment's license server (in the network's private subnets); every
    fleet, Batch environment and Slurm node reaches it on `ports` (required)."""

    ports: tuple[StrictInt, ...]
    instance_type: StrictStr = _default(_HA, "instance_type")
    address: StrictStr | None = _default(_HA, "address")
    zone_name: StrictStr = _default(_HA, "zone_name")
    record_name: StrictStr | None = _default(_HA, "record_name")
    data_volume: EbsVolumeConfig | None = None
    mount_point: StrictStr = _default(_HA, "mount_point")
    snapshot_interval_minutes: StrictInt = _default(_HA, "snapshot_interval_minutes")
    snapshot_retention: StrictInt = _default(_HA, "snapshot_retention")
    health_check_command: StrictStr | None = _default(_HA, "health_check_command")
    health_check_interval_seconds: StrictInt = _default(_HA, "health_check_interval_seconds")
    health_check_failures: StrictInt = _default(_HA, "health_check_failures")
    service_name: StrictStr | None = _default(_HA, "service_name")
    launch_timeout_seconds: StrictInt = _default(_HA, "launch_timeout_seconds")
    termination_timeout_seconds: StrictInt = _default(_HA, "termination_timeout_seconds")
    key_name: StrictStr | None = _default(_HA, "key_name")

    def props(self) -> dict[str, Any]:
        props = self.given(exclude=("data_volume",))
        if self.data_volume is not None:
            props["data_volume"] = self.data_volume.spec()
        return props


# -- slurm -----------------------------------------------------------------------------------------------------

class SlurmNodeGroupConfig(_Section):
    """NodeGroupSpec."""

    name: StrictStr
    instance_types: Strings
    min_instances: StrictInt = _default(NodeGroupSpec, "min_instances")
    max_instances: StrictInt = _default(NodeGroupSpec, "max_instances")
    purchase_option: StrictStr = _default(NodeGroupSpec, "purchase_option")
    efa: StrictBool | None = _default(NodeGroupSpec, "efa")
    placement_group: StrictBool | None = _default(NodeGroupSpec, "placement_group")
    ami_id: StrictStr | None = _default(NodeGroupSpec, "ami_id")
    image_os: StrictStr | None = _default(NodeGroupSpec, "image_os")
    root_device_name: StrictStr | None = _default(NodeGroupSpec, "root_device_name")
    root_volume_size_gib: StrictInt | None = _default(NodeGroupSpec, "root_volume_size_gib")
    slurm_settings: dict[StrictStr, StrictStr] = Field(default_factory=dict)

    def spec(self) -> NodeGroupSpec:
        return NodeGroupSpec(**self.given())


class SlurmQueueConfig(_Section):
    """SlurmQueueSpec."""

    name: StrictStr
    node_groups: Strings
    slurm_settings: dict[StrictStr, StrictStr] = Field(default_factory=dict)

    def spec(self) -> SlurmQueueSpec:
        return SlurmQueueSpec(**self.given())


class LoginNodesConfig(_Section):
    """LoginNodesSpec. `bastion: true` (the default) reaches the login nodes through the config's bastion when
    it has one; otherwise SSH comes from `allowed_cidrs`, or there is none (Session Manager only)."""

    instance_type: StrictStr = _default(LoginNodesSpec, "instance_type")
    count: StrictInt = _default(LoginNodesSpec, "count")
    allowed_cidrs: Strings = ()
    bastion: StrictBool = True
    name: StrictStr = _default(LoginNodesSpec, "name")
    ami_id: StrictStr | None = _default(LoginNodesSpec, "ami_id")
    image_os: StrictStr | None = _default(LoginNodesSpec, "image_os")
    root_device_name: StrictStr | None = _default(LoginNodesSpec, "root_device_name")

    def spec(self, bastion: HaBastion | None) -> LoginNodesSpec:
        props = self.given(exclude=("bastion",))
        if self.bastion and bastion is not None:
            props["bastion"] = bastion
        return LoginNodesSpec(**props)


_SLURM = SlurmCluster.__init__


class SlurmConfig(_Section):
    """SlurmCluster props; the cluster lives in the network's cluster subnet and mounts the StorageLayer."""

    node_groups: tuple[SlurmNodeGroupConfig, ...]
    queues: tuple[SlurmQueueConfig, ...] = ()
    login_nodes: LoginNodesConfig | None = None
    cluster_name: StrictStr | None = _default(_SLURM, "cluster_name")
    slurm_version: StrictStr | None = _default(_SLURM, "slurm_version")
    size: StrictStr = _default(_SLURM, "size")
    ami_id: StrictStr | None = _default(_SLURM, "ami_id")
    image_os: StrictStr = _default(_SLURM, "image_os")
    root_device_name: StrictStr | None = _default(_SLURM, "root_device_name")
    install_efa_software: StrictBool = _default(_SLURM, "install_efa_software")
    accounting: StrictBool = _default(_SLURM, "accounting")
    accounting_purge_days: StrictInt | None = _default(_SLURM, "accounting_purge_days")
    slurm_rest_api: StrictBool = _default(_SLURM, "slurm_rest_api")
    scale_down_idle_seconds: StrictInt = _default(_SLURM, "scale_down_idle_seconds")
    slurm_settings: dict[StrictStr, StrictStr] = Field(default_factory=dict)
    node_role_name: StrictStr | None = _default(_SLURM, "node_role_name")
    node_role_path: StrictStr | None = _default(_SLURM, "node_role_path")
    mount_storage: StrictBool = True

    def props(self, bastion: HaBastion | None) -> dict[str, Any]:
        props = self.given(exclude=("node_groups", "queues", "login_nodes", "mount_storage"))
        props["node_groups"] = [g.spec() for g in self.node_groups]
        props["queues"] = [q.spec() for q in self.queues]
        if self.login_nodes is not None:
            props["login_nodes"] = self.login_nodes.spec(bastion)
        return props


# -- the whole config ------------------------------------------------------------------------------------------

class ReferenceConfig(_Section):
    """What config/*.yaml may say. A section that is absent (or null) is not built; the network always is.

    account and region: both or neither. With them every stack gets env=Environment(account, region);
    without them the stacks are environment-agnostic.
    """

    name: StrictStr = "Hpc"
    tags: dict[StrictStr, StrictStr] = Field(default_factory=dict)
    account: StrictStr | None = None
    region: StrictStr | None = None
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    ssh_users: tuple[SshUserConfig, ...] = ()
    fleets: dict[StrictStr, FleetConfig] = Field(default_factory=dict)
    storage: StorageConfig | None = None
    data_transfer: DataTransferConfig | None = None
    batch: BatchConfig | None = None
    bastion: BastionConfig | None = None
    slurm: SlurmConfig | None = None
    license_server: LicenseServerConfig | None = None

    @model_validator(mode="after")
    def _references(self) -> "ReferenceConfig":
        problems = tuple(_reference_problems(self))
        if problems:
            raise PydanticCustomError("references", "{problems}", {"problems": problems})
        return self

    @property
    def environment(self) -> Environment | None:
        if self.account is None or self.region is None:
            return None
        return Environment(account=self.account, region=self.region)


def _names(names: list[str]) -> str:
    return ", ".join(sorted(set(names))) or "none"


def _reference_problems(config: ReferenceConfig) -> Iterator[tuple[str, str]]:
    """(key path, text) for every reference inside the config that names nothing."""
    if (config.account is None) != (config.region is None):
        missing, given = ("region", "account") if config.region is None else ("account", "region")
        yield missing, f"required key missing; expected a string (with {given}: both or neither)"
    volumes = config.storage.ebs_volume_names if config.storage is not None else []
    for name, fleet in config.fleets.items():
        if isinstance(fleet.mount_ebs, tuple):
            for i, volume in enumerate(fleet.mount_ebs):
                if volume not in volumes:
                    yield (f"fleets{_key(name)}.mount_ebs[{i}]",
                           f"{volume!r} is not allowed; expected an EBS volume name "
                           f"(storage.ebs_volumes: {_names(volumes)})")
    if config.data_transfer is not None:
        storage = config.storage
        have = {"efs": storage is not None and storage.efs is not None,
                "fsx_lustre": storage is not None and storage.lustre is not None}
        section = {"efs": "storage.efs", "fsx_lustre": "storage.lustre"}
        for i, task in enumerate(config.data_transfer.datasync_tasks):
            for end, location in (("source", task.source), ("destination", task.destination)):
                (kind,) = location.kinds
                if kind in have and not have[kind]:
                    yield (f"data_transfer.datasync_tasks[{i}].{end}.{kind}",
                           f"needs {section[kind]}, which this config does not have")
    if config.slurm is not None:
        groups = [g.name for g in config.slurm.node_groups]
        for i, queue in enumerate(config.slurm.queues):
            for j, name in enumerate(queue.node_groups):
                if name not in groups:
                    yield (f"slurm.queues[{i}].node_groups[{j}]",
                           f"{name!r} is not allowed; expected a node group name (node_groups: {_names(groups)})")
    if config.batch is not None:
        batch = config.batch
        fleets = list(config.fleets)
        for i, environment in enumerate(batch.compute_environments):
            if environment.fleet is not None and environment.fleet not in fleets:
                yield (f"batch.compute_environments[{i}].fleet",
                       f"{environment.fleet!r} is not allowed; expected a fleet name (fleets: {_names(fleets)})")
        environments = batch.environment_names
        expected = f"expected a compute environment name (compute_environments: {_names(environments)})"
        for i, queue in enumerate(batch.job_queues):
            for j, name in enumerate(queue.compute_environments):
                if name not in environments:
                    yield f"batch.job_queues[{i}].compute_environments[{j}]", f"{name!r} is not allowed; {expected}"
        jobs: dict[str, list[str | None]] = {
            "multi_node_jobs": [j.compute_environment for j in batch.multi_node_jobs],
            "container_jobs": [j.compute_environment for j in batch.container_jobs]}
        for kind, names in jobs.items():
            for i, target in enumerate(names):
                if target is not None and target not in environments:
                    yield f"batch.{kind}[{i}].compute_environment", f"{target!r} is not allowed; {expected}"


# -- parsing and error messages --------------------------------------------------------------------------------

_EXPECTED = {
    "bool_type": "true or false",
    "int_type": "an integer",
    "float_type": "a number",
    "string_type": "a string",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
    "tuple_type": "a list",
}
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def parse_config(raw: object, *, source: str) -> ReferenceConfig:
    """Validate a config mapping (YAML as yaml.safe_load reads it) against the schema.

    Raises ConfigFileError naming `source`, one line per problem.
    """
    try:
        return ReferenceConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigFileError(source, [line for e in error.errors(include_url=False) for line in _lines(e)]) from None


def _show(value: Any) -> str:
    """A bad value as the message shows it: YAML's null, true and false; Python's repr otherwise, cut at 60."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _key(key: Any) -> str:
    return f".{key}" if isinstance(key, str) and _PLAIN_KEY.match(key) else f"[{key!r}]"


def _lines(error: Any) -> list[str]:
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    if kind == "references":
        return [f"{path}: {text}" for path, text in ctx["problems"]]
    path, holder, tp, key_error = _walk(error["loc"])
    if kind == "rule":
        at = f"{path}.{ctx['at']}" if ctx["at"] and path else ctx["at"] or path
        return [_at(at, ctx["text"])]
    if kind == "extra_forbidden":
        allowed = sorted(holder.model_fields) if holder is not None else []
        return [_at(path, f"unknown key; allowed: {', '.join(allowed)}")]
    if kind == "missing":
        return [_at(path, f"required key missing; expected {_field_expected(holder, error['loc'][-1])}")]
    if kind == "choice":
        expected = ctx["expected"]
    elif kind in _EXPECTED:
        described = _describe(tp)
        expected = described if described != "a value" else _EXPECTED[kind]
    else:
        expected = None
    what = f"key {_show(value)}" if key_error else _show(value)
    return [_at(path, f"{what} is not allowed; " + (f"expected {expected}" if expected else error["msg"]))]


def _at(path: str, text: str) -> str:
    return f"{path}: {text}" if path else text


def _walk(loc: tuple[Any, ...]) -> tuple[str, type[BaseModel] | None, Any, bool]:
    """Follow pydantic's error location through the schema: (key path, the model holding its last key, the
    type expected there, whether the error is about a mapping's key). Union tags in the location are dropped."""
    tp: Any = ReferenceConfig
    path = ""
    holder: type[BaseModel] | None = None
    for i, element in enumerate(loc):
        tp = _bare(tp)
        tags = _tags(tp)
        if element in tags:
            tp = tags[element]
            continue
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            holder = tp
            path += _key(element)
            field = tp.model_fields.get(element) if isinstance(element, str) else None
            tp = field.annotation if field is not None else None
        elif get_origin(tp) in (tuple, list) and isinstance(element, int):
            path += f"[{element}]"
            tp = get_args(tp)[0]
        elif get_origin(tp) is dict:
            if loc[i + 1:i + 2] == ("[key]",):  # the key itself is wrong: the path stays at the mapping
                return path.removeprefix("."), holder, get_args(tp)[0], True
            path += _key(element)
            tp = get_args(tp)[1]
        else:
            path += _key(element)
            tp = None
    return path.removeprefix("."), holder, tp, False


def _bare(tp: Any) -> Any:
    """Without Annotated metadata and without `| None`."""
    while True:
        if get_origin(tp) is Annotated:
            tp = get_args(tp)[0]
            continue
        args = get_args(tp)
        if type(None) in args and not _tags(tp):
            rest = [a for a in args if a is not type(None)]
            if len(rest) == 1:
                tp = rest[0]
                continue
        return tp


def _tags(tp: Any) -> dict[str, Any]:
    """A tagged union's members by tag ({} for anything else)."""
    if get_origin(tp) not in (Union, type(int | str)):
        return {}
    members: dict[str, Any] = {}
    for arg in get_args(tp):
        for meta in getattr(arg, "__metadata__", ()):
            if isinstance(meta, Tag):
                members[meta.tag] = arg
    return members


def _field_expected(model: type[BaseModel] | None, name: Any) -> str:
    field = model.model_fields.get(name) if model is not None and isinstance(name, str) else None
    if field is None:
        return "a value"
    for meta in field.metadata:
        if isinstance(meta, Discriminator) and meta.custom_error_context:
            return str(meta.custom_error_context["expected"])
    return _describe(field.annotation)


def _describe(tp: Any) -> str:
    tp = _bare(tp)
    if get_origin(tp) in (tuple, list):
        return f"a list of {_plural(_bare(get_args(tp)[0]))}"
    if tp is bool:
        return "true or false"
    if (isinstance(tp, type) and issubclass(tp, BaseModel)) or get_origin(tp) is dict:
        return "a mapping"
    return {int: "an integer", float: "a number", str: "a string"}.get(tp, "a value")


def _plural(tp: Any) -> str:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return "mappings"
    return {str: "strings", int: "integers", float: "numbers", bool: "booleans"}.get(tp, "values")
