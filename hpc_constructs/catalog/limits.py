"""AWS service limits the constructs enforce at synth time, each with its source and the date checked.

A limit moves when AWS moves it: tests/unit/test_limits_drift.py compares the EBS figures with the
ranges documented in the botocore service model that ships with the pinned boto3.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from hpc_constructs.catalog.software import AL2023_UNSUPPORTED_FAMILIES

CHECKED = "2026-11"

EBS_SOURCE = (
    "Amazon EBS User Guide, 'Amazon EBS volume types' "
    "(https://docs.aws.amazon.com/ebs/latest/userguide/ebs-volume-types.html) and the EC2 API "
    f"CreateVolume Iops/Size/Throughput documentation; checked {CHECKED}"
)
FSX_LUSTRE_SOURCE = (
    "Amazon FSx for Lustre User Guide, 'Deployment options' and 'Managing storage capacity', and the FSx API "
    "CreateFileSystem StorageCapacity / CreateFileSystemLustreConfiguration.PerUnitStorageThroughput "
    "(https://docs.aws.amazon.com/fsx/latest/APIReference/API_CreateFileSystemLustreConfiguration.html); "
    f"checked {CHECKED}"
)
BATCH_SOURCE = (
    "AWS Batch User Guide, 'Multi-node parallel jobs', 'Compute environment considerations for MNP' (mnp-ce: no Spot, "
    "awsvpc interface per node, cluster placement group), 'Elastic Fabric Adapter', 'Reserve system memory' (\"We "
    "recommend reserving a 5% memory buffer\") and 'Service quotas' "
    "(https://docs.aws.amazon.com/batch/latest/userguide/service_limits.html), and the Batch API model "
    "(CreateJobQueue, ComputeResource, Ec2Configuration, JobTimeout, RetryStrategy, ResourceRequirement); "
    f"checked {CHECKED}"
)
CLOUDFORMATION_SOURCE = (
    "AWS CloudFormation User Guide, 'CloudFormation quotas' "
    f"(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html); checked {CHECKED}"
)


@dataclass(frozen=True, slots=True)
class EbsVolumeLimits:
    """What CreateVolume accepts for one EBS volume type."""

    volume_type: str
    description: str
    min_size_gib: int
    max_size_gib: int
    iops_required: bool = False
    min_iops: int | None = None  # None: IOPS cannot be set for this type
    max_iops: int | None = None
    max_iops_per_gib: int | None = None
    baseline_iops: int | None = None  # included in the price; the per-GiB ratio applies above it
    min_throughput_mibps: int | None = None  # None: throughput cannot be set for this type
    max_throughput_mibps: int | None = None
    baseline_throughput_mibps: int | None = None
    max_throughput_mibps_per_iops: float | None = None
    source: str = EBS_SOURCE


# Throughput the IOPS-rated and HDD types can reach, used for figures (EBS User Guide, volume types):
# io2 Block Express up to 4,000 MiB/s at 256 KiB per I/O; io1 up to 500 MiB/s at 32,000 IOPS or fewer
# (256 KiB I/O) and 16 KiB per provisioned IOPS above that, up to 1,000 MiB/s; st1 40 MiB/s per TiB
# baseline up to 500; sc1 12 MiB/s per TiB up to 250.
IO2_MAX_THROUGHPUT_MIBPS = 4_000
IO1_MAX_THROUGHPUT_MIBPS = 1_000
IO1_SMALL_VOLUME_MAX_THROUGHPUT_MIBPS = 500
IO1_SMALL_VOLUME_MAX_IOPS = 32_000
HDD_BASELINE_MIBPS_PER_TIB: Mapping[str, tuple[int, int]] = MappingProxyType({"st1": (40, 500), "sc1": (12, 250)})

EBS_VOLUME_TYPES: Mapping[str, EbsVolumeLimits] = MappingProxyType({
    "io2": EbsVolumeLimits(
        "io2", "Provisioned IOPS SSD io2 Block Express", min_size_gib=4, max_size_gib=65_536,
        iops_required=True, min_iops=100, max_iops=256_000, max_iops_per_gib=1_000,
    ),
    "io1": EbsVolumeLimits(
        "io1", "Provisioned IOPS SSD io1", min_size_gib=4, max_size_gib=16_384,
        iops_required=True, min_iops=100, max_iops=64_000, max_iops_per_gib=50,
    ),
    "gp3": EbsVolumeLimits(
        "gp3", "General Purpose SSD gp3", min_size_gib=1, max_size_gib=65_536,
        min_iops=3_000, max_iops=80_000, max_iops_per_gib=500, baseline_iops=3_000,
        min_throughput_mibps=125, max_throughput_mibps=2_000, baseline_throughput_mibps=125,
        max_throughput_mibps_per_iops=0.25,
    ),
    "st1": EbsVolumeLimits("st1", "Throughput Optimized HDD st1", min_size_gib=125, max_size_gib=16_384),
    "sc1": EbsVolumeLimits("sc1", "Cold HDD sc1", min_size_gib=125, max_size_gib=16_384),
})


# A gp3 volume in a launch template (attach='per_node'): EC2 takes the 80,000 IOPS above, but the validators
# that gate synth still cap a block-device mapping's gp3 IOPS at 16,000 (CDK's CloudFormation validation,
# E3671, and cfn-lint 1.58's schema extension aws_ec2_instance/blockdevicemappings.json, which launch templates
# use too; checked 2026-11-23). A template past it fails synth, so the EBS rules refuse it first.
LAUNCH_TEMPLATE_GP3_MAX_IOPS = 16_000


@dataclass(frozen=True, slots=True)
class LustreDeploymentLimits:
    """What CreateFileSystem accepts for one FSx for Lustre deployment type and storage type."""

    deployment_type: str
    storage_type: str
    capacity_rule: str  # human-readable, used in error messages
    fixed_capacities_gib: tuple[int, ...]
    capacity_step_gib: int
    per_unit_throughputs: tuple[int, ...]  # MB/s per TiB; empty: the parameter is not allowed
    baseline_throughput_per_tib: int | None  # scratch: AWS's documented baseline, MB/s per TiB
    persistent: bool
    data_repository_associations: bool
    import_export_paths: bool = True  # ImportPath/ExportPath/AutoImportPolicy: not on PERSISTENT_2
    source: str = FSX_LUSTRE_SOURCE

    def capacity_allowed(self, gib: int) -> bool:
        return gib in self.fixed_capacities_gib or (gib > 0 and gib % self.capacity_step_gib == 0)


def _lustre(deployment: str, storage: str, fixed: tuple[int, ...], step: int, throughputs: tuple[int, ...],
            *, baseline: int | None, persistent: bool, dra: bool, paths: bool = True) -> LustreDeploymentLimits:
    rule = " GiB, ".join(f"{v:,}" for v in fixed)
    rule = f"{rule} GiB, or a multiple of {step:,} GiB" if fixed else f"a multiple of {step:,} GiB"
    return LustreDeploymentLimits(deployment, storage, rule, fixed, step, throughputs, baseline, persistent, dra,
                                  paths)


# Keyed by (deployment type, storage type). PERSISTENT_1 HDD's capacity step depends on the throughput
# tier, so it has one entry per tier, keyed by the tier in LUSTRE_HDD_CAPACITY_STEP_GIB.
LUSTRE_DEPLOYMENTS: Mapping[tuple[str, str], LustreDeploymentLimits] = MappingProxyType({
    ("SCRATCH_1", "SSD"): _lustre("SCRATCH_1", "SSD", (1_200, 2_400), 3_600, (), baseline=200,
                                  persistent=False, dra=False),
    ("SCRATCH_2", "SSD"): _lustre("SCRATCH_2", "SSD", (1_200,), 2_400, (), baseline=200,
                                  persistent=False, dra=True),
    ("PERSISTENT_1", "SSD"): _lustre("PERSISTENT_1", "SSD", (1_200,), 2_400, (50, 100, 200), baseline=None,
                                     persistent=True, dra=True),
    ("PERSISTENT_1", "HDD"): _lustre("PERSISTENT_1", "HDD", (), 6_000, (12, 40), baseline=None,
                                     persistent=True, dra=True),
    # "The following parameters are not supported for file systems with the Persistent_2 deployment type
    # [...]: AutoImportPolicy, ExportPath, ImportedChunkSize, ImportPath" (FSx API,
    # CreateFileSystemLustreConfiguration; aws-cdk-lib's LustreConfiguration says the same).
    ("PERSISTENT_2", "SSD"): _lustre("PERSISTENT_2", "SSD", (1_200,), 2_400, (125, 250, 500, 1_000),
                                     baseline=None, persistent=True, dra=True, paths=False),
})
LUSTRE_HDD_CAPACITY_STEP_GIB: Mapping[int, int] = MappingProxyType({12: 6_000, 40: 1_800})
# EFA-enabled file systems grow in units of 4,800 MB/s: "multiples of 38400 GiB for 125 MBps/TiB file
# systems, 19200 GiB for 250, 9600 GiB for 500 and 4800 GiB for 1000" (FSx for Lustre User Guide,
# 'Increasing storage capacity'); the same units apply at creation.
LUSTRE_EFA_CAPACITY_STEP_GIB: Mapping[int, int] = MappingProxyType({125: 38_400, 250: 19_200, 500: 9_600,
                                                                    1_000: 4_800})
# DRAs: "supported on all FSx for Lustre 2.12 and 2.15 file systems, excluding scratch_1" (FSx API,
# CreateDataRepositoryAssociation), at most 8 per file system, and never with ImportPath/ExportPath/
# AutoImportPolicy ("not supported for file systems with a data repository association").
LUSTRE_MAX_DATA_REPOSITORY_ASSOCIATIONS = 8
# FileSystemTypeVersion: "2.10 is supported by the Scratch and Persistent_1 Lustre deployment types";
# "2.12 ... all Lustre deployment types" (except PERSISTENT_2 with a metadata configuration); "2.15 ...
# all Lustre deployment types and is recommended for all new file systems".
LUSTRE_VERSIONS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "SCRATCH_1": ("2.10", "2.12", "2.15"),
    "SCRATCH_2": ("2.10", "2.12", "2.15"),
    "PERSISTENT_1": ("2.10", "2.12", "2.15"),
    "PERSISTENT_2": ("2.12", "2.15"),
})
# PERSISTENT_2 metadata configuration, USER_PROVISIONED Iops: "For SSD file systems, valid values are 1500,
# 3000, 6000, 12000, and multiples of 12000 up to a maximum of 192000" (FSx API,
# CreateFileSystemLustreMetadataConfiguration). EFA: "EFA is supported on Persistent 2 file systems with a
# metadata configuration specified" (FSx for Lustre User Guide, 'Working with EFA-enabled file systems').
METADATA_IOPS_FIXED = (1_500, 3_000, 6_000, 12_000)
METADATA_IOPS_STEP = 12_000
METADATA_IOPS_MAX = 192_000
# AutomaticBackupRetentionDays: 0 to 90 (FSx API, CreateFileSystemLustreConfiguration; checked 2026-11).
LUSTRE_MAX_BACKUP_RETENTION_DAYS = 90
LUSTRE_CLIENT_PORTS: tuple[tuple[int, int], ...] = ((988, 988), (1018, 1023))  # TCP, FSx Lustre User Guide
# EFA clients of an EFA-enabled file system (FSx for Lustre User Guide, 'Configuring EFA clients',
# checked 2026-11): the EFA interfaces that a client configures for LNet by default, by instance type:
# the listed GPU types by name, "other instances with multiple network cards" 2, "with a single network
# card" 1. "Each FSx for Lustre file system has a maximum limit of 1024 EFA connections across all
# client instances"; each configured interface is one connection. "EFA is supported on Nitro v4 (or
# higher) EC2 instances that support EFA, excluding the trn2 instance family."
LUSTRE_EFA_CLIENT_INTERFACES: Mapping[str, int] = MappingProxyType({
    "p6-b300.48xlarge": 16, "p6e-gb200.36xlarge": 8, "p6-b200.48xlarge": 8, "p5en.48xlarge": 8,
    "p5e.48xlarge": 8, "p5.48xlarge": 8,
})
LUSTRE_EFA_CLIENT_INTERFACES_MULTI_CARD = 2
LUSTRE_EFA_CLIENT_INTERFACES_SINGLE_CARD = 1
LUSTRE_EFA_MAX_CONNECTIONS = 1024
LUSTRE_EFA_CLIENT_EXCLUDED_FAMILIES: tuple[str, ...] = ("trn2",)


# EFS ProvisionedThroughputInMibps: "Valid values are 1-3414 MiBps, with the upper limit depending on
# Region" (EFS API, CreateFileSystem; checked 2026-11).
EFS_MAX_PROVISIONED_THROUGHPUT_MIBPS = 3_414


@dataclass(frozen=True, slots=True)
class BatchLimits:
    """What AWS Batch accepts (Batch API model and User Guide; see BATCH_SOURCE)."""

    max_compute_environments_per_queue: int = 3  # CreateJobQueue: "up to three compute environments"
    # Service quotas (User Guide, 'AWS Batch service quotas': "can't be changed. Each quota is Region specific."):
    max_job_queues: int = 50  # "Maximum number of job queues": per account and Region
    max_compute_environments: int = 50  # "Maximum number of compute environments across Amazon ECS and Amazon EKS"
    max_security_groups_per_compute_environment: int = 5  # mnp-ce: "no more than five security groups"
    max_fargate_subnets: int = 16  # ComputeResource.subnets: "Fargate compute resources can contain up to 16"
    min_mnp_nodes: int = 2  # a library bound: one node is a container job
    max_mnp_nodes: int = 1_000  # multi-node parallel jobs: up to 1,000 nodes (the ECS cluster's instance quota)
    max_mnp_node_ranges: int = 5  # multi-node parallel jobs: up to five node groups
    max_name_length: int = 128  # compute environment, job queue and job definition names
    name_pattern: str = r"^[A-Za-z0-9_-]+$"  # "letters, numbers, hyphens (-), and underscores (_)"
    min_timeout_seconds: int = 60  # JobTimeout.attemptDurationSeconds: "The minimum value ... is 60 seconds"
    min_attempts: int = 1  # RetryStrategy.attempts: "between 1 and 10 attempts"
    max_attempts: int = 10
    min_memory_mib: int = 4  # ResourceRequirement MEMORY: "at least 4 MiB"
    min_ec2_vcpus: int = 1  # ResourceRequirement VCPU: "For Amazon EC2 resources ... at least one vCPU"
    memory_buffer_percent: int = 5  # 'Reserve system memory': a 5% buffer for the ECS agent and the system
    # UpdatePolicy.jobExecutionTimeoutMinutes: how long an infrastructure update lets running jobs go on before
    # it replaces their instances ("The default value is 30. The maximum value is 7200.")
    default_update_job_execution_timeout_minutes: int = 30
    max_update_job_execution_timeout_minutes: int = 7_200
    # ComputeResource.instanceTypes: the instance categories and the families behind them.
    instance_categories: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({
        "default_x86_64": ("m6i", "c6i", "r6i", "c7i"),
        "default_arm64": ("m6g", "c6g", "r6g", "c7g"),
        "optimal": ("m6i", "c6i", "r6i", "c7i"),  # "Semantically equivalent to default_x86_64"
    }))
    # Ec2Configuration.imageType for ECS compute environments (Amazon Linux 2 images: blocked since 2026-06-30).
    cpu_image_type: str = "ECS_AL2023"
    gpu_image_type: str = "ECS_AL2023_NVIDIA"
    gpu_image_excluded_families: tuple[str, ...] = ("p3", "g3")  # "ECS_AL2023_NVIDIA doesn't support p3 and g3"
    # "Amazon Linux 2023 does not support A1 instances" (the Batch model says it too; one list for both)
    al2023_excluded_families: tuple[str, ...] = AL2023_UNSUPPORTED_FAMILIES
    # ResourceRequirement VCPU for Fargate: each vCPU value and the MEMORY values (MiB) allowed with it.
    fargate_memory_mib_by_vcpus: Mapping[float, tuple[int, ...]] = field(default_factory=lambda: MappingProxyType({
        0.25: (512, 1024, 2048),
        0.5: (1024, 2048, 3072, 4096),
        1: tuple(range(2048, 8192 + 1, 1024)),
        2: tuple(range(4096, 16384 + 1, 1024)),
        4: tuple(range(8192, 30720 + 1, 1024)),
        8: tuple(range(16384, 61440 + 1, 4096)),
        16: tuple(range(32768, 122880 + 1, 8192)),
        32: (61440, 122880, 249856),
    }))
    source: str = BATCH_SOURCE


BATCH = BatchLimits()

# SQS SetQueueAttributes MessageRetentionPeriod: "An integer from 60 seconds (1 minute) to 1,209,600 seconds
# (14 days). Default: 345,600 (4 days)" (Amazon SQS API Reference; checked 2026-11).
SQS_MAX_MESSAGE_RETENTION_SECONDS = 1_209_600
# EventBridge User Guide, 'Amazon EventBridge quotas': "Event pattern size: 2,048 ... Maximum size of an event
# pattern, in characters" (adjustable; the default is what a new account has). Retrieved 2026-11-23.
EVENTBRIDGE_MAX_EVENT_PATTERN_CHARS = 2_048
# EventBridge PutTargets RetryPolicy (events API model, shapes MaximumRetryAttempts 0-185 and
# MaximumEventAgeInSeconds 60-86,400): a target that fails is retried this often, for this long, then the event
# goes to the target's dead-letter queue. Checked 2026-12.
EVENTBRIDGE_MAX_RETRY_ATTEMPTS = 185
EVENTBRIDGE_MAX_EVENT_AGE_SECONDS = 86_400
# SQS SetQueueAttributes VisibilityTimeout: "An integer from 0 to 43,200 (12 hours). Default: 30."
SQS_MAX_VISIBILITY_TIMEOUT_SECONDS = 43_200
SQS_DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 30
# Lambda Developer Guide, 'Using Lambda with Amazon SQS' (configuring a queue): "set the source queue's
# visibility timeout to at least six times the timeout that you configure on your function"; Lambda's
# CreateFunction Timeout: "The default is 3 seconds". Checked 2026-12.
LAMBDA_SQS_VISIBILITY_TIMEOUT_FACTOR = 6
LAMBDA_DEFAULT_TIMEOUT_SECONDS = 3


@dataclass(frozen=True, slots=True)
class AutoScalingLimits:
    max_launch_template_overrides: int = 40  # mixed-instances policy: instance types per group
    source: str = ("Amazon EC2 Auto Scaling User Guide, 'Create a mixed instances group' and the "
                   f"AutoScaling API LaunchTemplate.Overrides (up to 40 items); checked {CHECKED}")


AUTO_SCALING = AutoScalingLimits()


@dataclass(frozen=True, slots=True)
class RootVolumeLimits:
    min_gib: int = 8  # Amazon Linux 2023 AMIs need an 8 GiB root volume
    max_gib: int = 16_384  # a library bound, not an AWS limit: scratch and data belong on other volumes
    default_gib: int = 64  # a library default on Amazon Linux 2023: room for the EFA software and clients
    source: str = f"Amazon Linux 2023 User Guide (AMI root volume 8 GiB); checked {CHECKED}"


ROOT_VOLUME = RootVolumeLimits()


@dataclass(frozen=True, slots=True)
class CloudFormationLimits:
    max_resources_per_template: int = 500
    max_template_bytes: int = 1_000_000  # template body uploaded through S3; 51,200 bytes inline
    source: str = CLOUDFORMATION_SOURCE


CLOUDFORMATION = CloudFormationLimits()

# "User data is limited to 16 KB, in raw form, before it is base64-encoded" (Amazon EC2 User Guide,
# 'Work with instance user data'; checked 2026-11). A longer launch template user data fails at launch.
EC2_USER_DATA_MAX_BYTES = 16 * 1024


# -- DataTransferLayer: DataSync, Direct Connect, Snowball ---------------------------------------------
DATASYNC_SOURCE = (
    "AWS DataSync User Guide, 'Scheduling your task', 'Choosing a task mode', 'Filtering data', "
    "'Configuring data verification', and the DataSync API (CreateTask, TaskSchedule, FilterRule, "
    "CreateLocation*; botocore datasync model) (https://docs.aws.amazon.com/datasync/latest/userguide/); "
    f"checked {CHECKED}"
)
DIRECT_CONNECT_SOURCE = (
    "AWS Direct Connect User Guide, 'Virtual interfaces' (VLAN 1-4094, BGP ASNs), 'Allowed prefixes', "
    "'Direct Connect quotas', and the Direct Connect API CreateDirectConnectGateway.amazonSideAsn / "
    "NewPrivateVirtualInterface.asnLong (https://docs.aws.amazon.com/directconnect/latest/UserGuide/limits.html); "
    f"checked {CHECKED}"
)
SNOWBALL_SOURCE = (
    "AWS Snowball Edge Developer Guide, 'Creating an IAM role for an import job' and the Snowball API CreateJob "
    "(SnowballType, SnowballCapacity, ShippingOption; botocore snowball model); Snowball Edge is available only "
    f"to existing customers since 2025-11-07 (Developer Guide banner); checked {CHECKED}"
)


@dataclass(frozen=True, slots=True)
class DataSyncLimits:
    # TaskSchedule: "Configures your DataSync task to run on a schedule (at a minimum interval of 1 hour)".
    min_schedule_interval_minutes: int = 60
    max_schedule_expression_chars: int = 256
    # FilterList holds at most one FilterRule; its patterns are joined with "|" into one Value of at
    # most 102,400 characters (FilterValue). Include patterns take "*" only as their last character.
    max_filter_chars: int = 102_400
    max_agents_per_location: int = 8  # AgentArnList
    max_subdirectory_chars: int = 4_096
    max_s3_subdirectory_chars: int = 1_024  # AWS::DataSync::LocationS3.Subdirectory (CloudFormation schema)
    max_server_hostname_chars: int = 255
    max_task_name_chars: int = 256  # CreateTask.Name (TagValue)
    max_smb_user_chars: int = 104
    max_smb_domain_chars: int = 253
    task_modes: tuple[str, ...] = ("BASIC", "ENHANCED")
    verify_modes: tuple[str, ...] = ("POINT_IN_TIME_CONSISTENT", "ONLY_FILES_TRANSFERRED", "NONE")
    log_levels: tuple[str, ...] = ("OFF", "BASIC", "TRANSFER")
    # Enhanced mode: "available for transfers between Amazon S3 locations, [...] and transfers between NFS
    # or SMB file servers and Amazon S3 using an Enhanced mode agent" ('Choosing a task mode'), as
    # unordered pairs of location kinds. The pinned API model's TaskMode text is broader ("all transfers
    # except those that use Amazon S3 on Outposts"); the guide's table is the one that names location
    # types, so EFS and FSx for Lustre stay Basic here until it lists them.
    enhanced_pairs: frozenset[frozenset[str]] = frozenset({
        frozenset({"s3"}), frozenset({"nfs", "s3"}), frozenset({"smb", "s3"})})
    # POINT_IN_TIME_CONSISTENT "isn't currently supported with Enhanced mode tasks" (Options.VerifyMode).
    enhanced_verify_modes: tuple[str, ...] = ("ONLY_FILES_TRANSFERRED", "NONE")
    # "For Enhanced mode tasks, you must use /aws/datasync as your log group name" (UpdateTask).
    enhanced_log_group: str = "/aws/datasync"
    # How long a location waits after its role (and the role's policy) exist, before CloudFormation creates it.
    # DataSync assumes the role in CreateLocationS3/CreateLocationEfs and fails with "Unable to assume role" while
    # IAM has not propagated the new role; CloudFormation's handler does not retry (LocationS3 CreateHandler in
    # aws-cloudformation-resource-providers-datasync). Observed: "After the creation of a role, it cannot be
    # assumed for 10-30 seconds" (hashicorp/terraform-provider-aws issue 6566, 2019); the Terraform provider
    # retries these locations' creation for IAM's eventual consistency for up to 2 minutes (pull request 10984,
    # propagation timeout). 60 s: twice the longest observed, within the Terraform bound; checked 2026-12.
    role_propagation_wait_seconds: int = 60
    source: str = DATASYNC_SOURCE


DATASYNC = DataSyncLimits()

# CloudWatch Logs retention, in days: the values PutRetentionPolicy accepts (CloudWatch Logs API,
# PutRetentionPolicy.retentionInDays; checked 2026-11). 0 is not one of them: "never expire" is no policy.
LOG_RETENTION_DAYS: tuple[int, ...] = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                                       2192, 2557, 2922, 3288, 3653)


@dataclass(frozen=True, slots=True)
class DirectConnectLimits:
    # Amazon side: "The ASN must be in the private range of 64,512 to 65,534 or 4,200,000,000 to
    # 4,294,967,294. The default is 64512" (CreateDirectConnectGateway.amazonSideAsn).
    amazon_side_asn_ranges: tuple[tuple[int, int], ...] = ((64_512, 65_534), (4_200_000_000, 4_294_967_294))
    # Customer side: "The valid range is from 1 to 4294967294" (NewPrivateVirtualInterface.asnLong;
    # User Guide: "Customer-side ASN range: 1 to 4,294,967,294"); public ASNs are allowed.
    customer_asn_range: tuple[int, int] = (1, 4_294_967_294)
    # What a virtual interface made by CloudFormation can take: AWS::DirectConnect::PrivateVirtualInterface's BgpPeer
    # has one Asn (no AsnLong), and the API's `asn` takes "1-2147483646 ... If you provide a number greater than
    # the maximum, an error is returned. Use asnLong instead" (NewPrivateVirtualInterface.asn): larger 4-byte ASNs
    # need a virtual interface made outside CloudFormation with asnLong.
    cloudformation_max_customer_asn: int = 2_147_483_646
    # VLAN: "The value must be between 1 and 4094 and must comply with the Ethernet 802.1Q standard"
    # (User Guide, 'Create a virtual interface'); CloudFormation's schema alone would take 0 and 4095.
    vlan_range: tuple[int, int] = (1, 4_094)
    # Allowed prefixes: the quota page names one count, "Number of prefixes per AWS Transit Gateway from
    # AWS to on-premise on a transit virtual interface: 200"; for a virtual private gateway "only the
    # associated VPC CIDR will be advertised" and the list must be "the same or wider than the VPC CIDR".
    max_allowed_prefixes: int = 200
    min_ipv6_prefix_length: int = 64  # "An IPv6 CIDR must use /64 or shorter" (CloudFormation schema)
    # Dedicated ports: "1 Gbps [...], 10 Gbps [...], 100Gbps [...], and 400 Gbps" (quotas page); hosted
    # connections: "50Mbps, 100Mbps, 200Mbps, 300Mbps, 400Mbps, 500Mbps, 1Gbps, 2Gbps, 5Gbps, 10Gbps, and
    # 25Gbps" (AllocateHostedConnection.bandwidth).
    dedicated_port_speeds_gbps: tuple[float, ...] = (1, 10, 100, 400)
    hosted_port_speeds_gbps: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 1, 2, 5, 10, 25)
    # VirtualInterfaceName: "a maximum of 100 characters. The following are valid characters: a-z, 0-9 and a
    # hyphen (-)" (NewPrivateVirtualInterface); the Direct Connect gateway's name is made the same way.
    max_name_chars: int = 100
    source: str = DIRECT_CONNECT_SOURCE


DIRECT_CONNECT = DirectConnectLimits()


@dataclass(frozen=True, slots=True)
class SnowballLimits:
    snowball_types: tuple[str, ...] = ("STANDARD", "EDGE", "EDGE_C", "EDGE_CG", "EDGE_S", "SNC1_HDD", "SNC1_SSD",
                                       "V3_5C", "V3_5S", "RACK_5U_C")
    capacities: tuple[str, ...] = ("T50", "T80", "T100", "T42", "T98", "T8", "T14", "T32", "NoPreference", "T240",
                                   "T13")
    shipping_options: tuple[str, ...] = ("SECOND_DAY", "NEXT_DAY", "EXPRESS", "STANDARD")
    # "Device type: V3_5S Capacity: T240 Description: Snowball Edge Storage Optimized 210TB" (CreateJob).
    default_type: str = "V3_5S"
    default_capacity: str = "T240"
    source: str = SNOWBALL_SOURCE


SNOWBALL = SnowballLimits()


# -- HaBastion: network ACLs, security groups, Network Load Balancer -------------------------------------
VPC_SOURCE = (
    "Amazon VPC User Guide, 'Amazon VPC quotas' (Network ACLs: 'Rules per network ACL: 20', adjustable up to 40, "
    "'the one-way quota for a single network ACL', 'enforced separately for IPv4 rules and IPv6 rules'; Security "
    "groups: 'Inbound or outbound rules per security group: 60', also per IP family; 'Security groups per network "
    "interface: 5', adjustable up to 16) "
    "(https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html), 'Network ACL rules' (lowest number "
    "first; ephemeral ports 1024-65535 for NAT gateways) and the EC2 API CreateNetworkAclEntry.RuleNumber "
    f"('Positive integer from 1 to 32766'); checked {CHECKED}"
)
NLB_SOURCE = (
    "Elastic Load Balancing, Network Load Balancers guide: 'Update the security groups' (a target rule that "
    "references the load balancer's security group admits its traffic even with client IP preservation), "
    "'Access logs' (\"Access logs are created only if the load balancer has a TLS listener\"), 'Listeners' and "
    "'Health checks', the ELBv2 API (TargetGroupAttribute deregistration_delay.timeout_seconds 0-3600; "
    "HealthCheckIntervalSeconds 5-300, HealthCheckThresholdCount 2-10) and the EC2 API CreateKeyPair.KeyName "
    f"('Up to 255 ASCII characters'); checked {CHECKED}"
)


@dataclass(frozen=True, slots=True)
class NetworkAclLimits:
    """What a VPC network ACL takes (see VPC_SOURCE)."""

    rules_per_direction: int = 20  # default quota, per direction and per IP family
    max_rules_per_direction: int = 40  # "can be increased up to a maximum of 40"
    min_rule_number: int = 1
    max_rule_number: int = 32_766
    ephemeral_ports: tuple[int, int] = (1024, 65_535)  # NAT gateways use 1024-65535; covers every OS's range
    source: str = VPC_SOURCE


NETWORK_ACL = NetworkAclLimits()
# Amazon VPC quotas (VPC_SOURCE): every security group on a network interface counts, ours and the user's.
SECURITY_GROUPS_PER_INTERFACE = 5


@dataclass(frozen=True, slots=True)
class BastionLimits:
    """Network Load Balancer and security-group figures the bastion relies on (see NLB_SOURCE, VPC_SOURCE)."""

    min_availability_zones: int = 2  # a library rule: one AZ is not highly available
    security_group_rules_per_direction: int = 60  # per IP family; the ACL quota keeps allowed_cidrs below it
    deregistration_delay_range: tuple[int, int] = (0, 3_600)
    max_key_name_chars: int = 255  # CreateKeyPair.KeyName: "Constraints: Up to 255 ASCII characters"
    health_check_interval_range: tuple[int, int] = (5, 300)
    health_check_threshold_range: tuple[int, int] = (2, 10)
    source: str = NLB_SOURCE


BASTION = BastionLimits()


# -- SlurmCluster: AWS Parallel Computing Service (PCS) ---------------------------------------------------
PCS_SOURCE = (
    "AWS PCS API model (botocore pcs 2023-02-10: ClusterName, ComputeNodeGroupName, QueueName, "
    "SchedulerRequest.version 'Valid Values', CreateClusterRequest.size, PurchaseOption, SpotAllocationStrategy, "
    "ClusterSlurmConfigurationRequest.scaleDownIdleTimeInSeconds, AccountingRequest) and the AWS PCS User Guide: "
    "'Slurm versions in AWS PCS', 'Cluster size', 'Security groups in AWS PCS' "
    "(https://docs.aws.amazon.com/pcs/latest/userguide/working-with_networking_sg.html), 'IAM instance profiles for "
    "AWS PCS' (https://docs.aws.amazon.com/pcs/latest/userguide/security-instance-profiles.html), 'Slurm accounting "
    f"in AWS PCS' and 'Slurm REST API in AWS PCS'; checked {CHECKED}"
)


@dataclass(frozen=True, slots=True)
class PcsLimits:
    """What AWS PCS accepts for a Slurm cluster, its compute node groups and queues (see PCS_SOURCE)."""

    min_cluster_name_chars: int = 3  # ClusterName: min 3, max 40
    max_cluster_name_chars: int = 40
    min_name_chars: int = 3  # ComputeNodeGroupName and QueueName: min 3, max 25
    max_name_chars: int = 25
    # The three name shapes' pattern "(?!pcs_)^[A-Za-z][A-Za-z0-9-]+": a letter first, then letters, digits and
    # hyphens; no "pcs_" prefix (PCS's own identifiers start with it).
    name_pattern: str = r"^(?!pcs_)[A-Za-z][A-Za-z0-9-]+$"
    # SchedulerRequest.version: "Valid Values: 24.11 | 25.05 | 25.11 | 26.05", oldest first.
    slurm_versions: tuple[str, ...] = ("24.11", "25.05", "25.11", "26.05")
    # CreateClusterRequest.size: "SMALL: 32 compute nodes and 256 jobs; MEDIUM: 512 compute nodes and 8192 jobs;
    # LARGE: 2048 compute nodes and 16,384 jobs". Smallest first.
    size_max_nodes: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({
        "SMALL": 32, "MEDIUM": 512, "LARGE": 2_048}))
    size_max_jobs: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({
        "SMALL": 256, "MEDIUM": 8_192, "LARGE": 16_384}))
    # PurchaseOption also lists CAPACITY_BLOCK and INTERRUPTIBLE_CAPACITY_RESERVATION, which need a reservation
    # in the launch template; the library builds On-Demand and Spot node groups.
    purchase_options: tuple[str, ...] = ("ONDEMAND", "SPOT")
    spot_allocation_strategy: str = "price-capacity-optimized"  # one of SpotAllocationStrategy
    # ClusterSlurmConfigurationRequest.scaleDownIdleTimeInSeconds: min 1, max 10,000,000; "Default: 600".
    scale_down_idle_seconds_range: tuple[int, int] = (1, 10_000_000)
    default_scale_down_idle_seconds: int = 600
    # AccountingRequest.defaultPurgeTimeInDays: -1 (keep records as long as the cluster exists) to 10,000;
    # "0 isn't a valid value".
    accounting_purge_days_range: tuple[int, int] = (-1, 10_000)
    # The compute node group's IAM instance profile: PCS accepts a role whose name starts with AWSPCS or whose
    # path is /aws-pcs/ ('IAM instance profiles for AWS PCS').
    instance_role_name_prefix: str = "AWSPCS"
    instance_role_path: str = "/aws-pcs/"
    ami_id_pattern: str = r"^ami-[a-z0-9]+$"  # AmiId
    # 'Compute node groups' and the EFA pages: "compute node groups must contain instances that have the same
    # number of vCPUs, processor architecture, and EFA support" (Slurm defines a node group's nodes once).
    same_vcpus_per_node_group: bool = True
    # Accounting (STANDARD) needs Slurm 24.11 or later; the Slurm REST API needs 25.05 or later
    # ('Slurm accounting in AWS PCS', 'Slurm REST API in AWS PCS').
    accounting_min_slurm_version: str = "24.11"
    rest_api_min_slurm_version: str = "25.05"
    # The PCS sample AMIs, owner amazon ('Sample AMIs for AWS PCS'): "A sample AMI supports every Slurm version
    # that is not EOL. The AMI name doesn't identify a Slurm version. Instead, the AMI description lists the
    # versions the AMI supports, for example Slurm: 25.05, 25.11, 26.05." (aws-pcs-sample_ami-al2023-<arch>);
    # the older single-version AMIs (...-slurm-25.11) "remain available for Slurm 25.11 and earlier", and those
    # before 25.11 run Amazon Linux 2, which the boot scripts (dnf) do not support. The lookup asks for an
    # Amazon Linux 2023 sample AMI whose description names the version, and only for the versions AWS
    # publishes them for: those that are not end-of-life ('Updating the scheduler version': 24.11 is EOL).
    sample_ami_name: str = "aws-pcs-sample_ami-al2023-{architecture}*"
    sample_ami_description: str = "*{version}*"
    sample_ami_owner: str = "amazon"
    sample_ami_versions: tuple[str, ...] = ("25.05", "25.11", "26.05")
    # Service Authorization Reference, 'Actions, resources, and condition keys for AWS Parallel Computing
    # Service': RegisterComputeNodeGroupInstance takes the resource type cluster* (required),
    # arn:${Partition}:pcs:${Region}:${Account}:cluster/${ClusterIdentifier}. AWS's managed AWSPCSComputeNodePolicy
    # grants it on "*"; the library scopes it to the one cluster, which the action accepts.
    register_instance_resource_type: str = "cluster"
    source: str = PCS_SOURCE


PCS = PcsLimits()

# Ports between the PCS controller (the cluster's ENI) and the nodes ('Security groups in AWS PCS', restrictive
# example: "6817 - inbound connections to slurmctld from EC2 instances; 6818 - outbound connections from slurmctld
# to slurmd"; "60001-63000 - inbound and outbound connections between node group instances to support srun";
# 'Slurm REST API': "Your cluster security group must allow HTTP traffic on port 6820"). slurmdbd listens on
# 6819 (Slurm's default DbdPort; the cluster's SLURMDBD endpoint; AWS's isolated-cluster recipe opens it).
# The srun range is also opened from the controller to the nodes: srun listens there for slurmctld's messages
# too (slurm.conf, SrunPortRange: "ports to communicate with the controller, the slurmstepd and to handle the
# application I/O").
PCS_PORTS: Mapping[str, tuple[int, int]] = MappingProxyType({
    "slurmctld": (6817, 6817),
    "slurmd": (6818, 6818),
    "slurmdbd": (6819, 6819),
    "slurmrestd": (6820, 6820),
    "srun": (60001, 63000),
})

# The Slurm parameters PCS accepts in SlurmCustomSettings, per level ("AWS PCS implements an allow-list
# approach": 'Configuring custom Slurm settings in AWS PCS', cluster / compute node group / queue pages;
# checked 2026-11). Versions: the first Slurm version a parameter is accepted with, where it is not every one.
PCS_SLURM_SETTINGS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "cluster": (
        "AccountingStorageEnforce", "AccountingStorageTRES", "AccountingStoreFlags", "AuthAltParameters",
        "CliFilterParameters", "CliFilterPlugins", "CommunicationParameters", "DefMemPerCPU", "Epilog",
        "EnforcePartLimits", "FairShareDampeningFactor", "FirstJobId", "HealthCheckInterval", "HealthCheckNodeState",
        "HealthCheckProgram", "JobRequeue", "LaunchParameters", "Licenses", "MetricsType", "MinJobAge",
        "OverTimeLimit", "PreemptExemptTime", "PreemptMode", "PreemptParameters", "PreemptType", "PriorityCalcPeriod",
        "PriorityDecayHalfLife", "PriorityFavorSmall", "PriorityFlags", "PriorityMaxAge", "PriorityUsageResetPeriod",
        "PriorityWeightAge", "PriorityWeightAssoc", "PriorityWeightFairshare", "PriorityWeightJobSize",
        "PriorityWeightPartition", "PriorityWeightQOS", "PriorityWeightTRES", "Prolog", "PrologFlags", "RequeueExit",
        "RequeueExitHold", "SchedulerParameters", "SelectTypeParameters", "SrunPortRange", "TaskEpilog",
        "TaskPluginParam", "TaskProlog", "TrackWCKey", "UnkillableStepProgram", "UnkillableStepTimeout",
    ),
    "node_group": ("CpuSpecList", "Features", "MemSpecLimit", "Parameters", "RealMemory", "Sockets", "Weight"),
    "queue": (
        "AllowAccounts", "AllowQos", "Default", "DefaultTime", "DenyAccounts", "DenyQos", "ExclusiveUser", "GraceTime",
        "MaxTime", "OverSubscribe", "OverTimeLimit", "PowerDownOnIdle", "PreemptMode", "PriorityJobFactor",
        "PriorityTier", "QOS", "TRESBillingWeights",
    ),
})
PCS_SLURM_SETTING_MIN_VERSION: Mapping[str, str] = MappingProxyType({"Parameters": "25.11", "Sockets": "25.11"})
# Queue settings that name QOS records: "QOS values ... must already exist in the Slurm accounting database".
PCS_SLURM_SETTINGS_NEED_ACCOUNTING: tuple[str, ...] = ("AllowQos", "DenyQos", "QOS")


# -- HaInstance: one instance kept alive by an Auto Scaling group, its data carried by EBS snapshots -------------
SNAPSHOT_SCHEDULE_SOURCE = (
    "Amazon Data Lifecycle Manager API (botocore dlm 2018-01-12): CreateRule.Interval 'The supported values are 1, "
    "2, 3, 4, 6, 8, 12, and 24', IntervalUnitValues HOURS, CreateRule.CronExpression 'The schedule interval must be "
    "between 1 hour and 1 year', RetainRule.Count 'up to a maximum of 1000' "
    "(https://docs.aws.amazon.com/dlm/latest/APIReference/API_CreateRule.html); EventBridge Scheduler API "
    "(botocore scheduler 2021-06-30): CreateScheduleInput.ScheduleExpression, a rate expression's value 'a positive "
    "integer' with the unit 'minute | minutes | hour | hours | day | days' "
    f"(https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html); checked {CHECKED}"
)
HA_INSTANCE_SOURCE = (
    "Amazon EC2 Auto Scaling API (botocore autoscaling 2011-01-01): LifecycleHookSpecification.HeartbeatTimeout "
    "'The range is from 30 to 7200 seconds', InstanceMaintenancePolicy Min/MaxHealthyPercentage; the Auto Scaling "
    "User Guide, 'Set the health check grace period' (\"If you use lifecycle hooks for instance launch, you can set "
    "the health check grace period to 0\") and 'Instance maintenance policies' ('Terminate and launch: new instances "
    "are provisioned at the same time your existing instances are terminated'); the EC2 User Guide, 'Status checks "
    "for Amazon EC2 instances' (status checks run every minute) "
    f"(https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-health-checks.html); checked {CHECKED}"
)


@dataclass(frozen=True, slots=True)
class SnapshotScheduleLimits:
    """How often Data Lifecycle Manager and EventBridge Scheduler can take a snapshot (see SNAPSHOT_SCHEDULE_SOURCE).

    DLM needs no code on the instance and keeps a retention count per volume, but runs at most once an hour, at
    one of its fixed intervals. EventBridge Scheduler runs down to once a minute, but takes no snapshot itself: its
    target (Systems Manager Run Command here) asks the instance to take one.
    """

    dlm_interval_hours: tuple[int, ...] = (1, 2, 3, 4, 6, 8, 12, 24)  # CreateRule.Interval, IntervalUnit HOURS
    dlm_max_retain_count: int = 1_000  # RetainRule.Count
    scheduler_min_rate_minutes: int = 1  # rate(value unit): a positive integer number of minutes
    scheduler_max_expression_chars: int = 256  # ScheduleExpression
    source: str = SNAPSHOT_SCHEDULE_SOURCE


SNAPSHOT_SCHEDULES = SnapshotScheduleLimits()


@dataclass(frozen=True, slots=True)
class HaInstanceLimits:
    """Auto Scaling and EC2 figures the HaInstance's failover relies on (see HA_INSTANCE_SOURCE)."""

    min_availability_zones: int = 2  # a library rule: one AZ is not highly available
    heartbeat_timeout_range: tuple[int, int] = (30, 7_200)  # LifecycleHookSpecification.HeartbeatTimeout
    ec2_status_check_interval_seconds: int = 60  # EC2 runs its status checks every minute
    # A group of one replaced by "terminate and launch" (MinHealthyPercentage 0, MaxHealthyPercentage 100): never two
    # instances holding the data volume or the address at once.
    min_healthy_percentage: int = 0
    max_healthy_percentage: int = 100
    source: str = HA_INSTANCE_SOURCE


HA_INSTANCE = HaInstanceLimits()
