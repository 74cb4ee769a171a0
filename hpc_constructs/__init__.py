"""hpc-constructs: AWS CDK v2 constructs for high-performance computing on AWS.

Only the names below are public; everything else may change without notice.
"""

from hpc_constructs import catalog
from hpc_constructs.bastion import HaBastion
from hpc_constructs.batch import BatchComputeEnvironment, BatchJobDefinition, BatchJobQueue, BatchOrchestration
from hpc_constructs.batch_plan import (
    ComputeEnvironmentSpec,
    ContainerJobSpec,
    JobQueueSpec,
    MultiNodeJobSpec,
    NodeRangeSpec,
)
from hpc_constructs.compute_fleet import ComputeFleet
from hpc_constructs.data_bucket import BucketSpec, DataBucket
from hpc_constructs.data_transfer import DataTransferLayer
from hpc_constructs.datasync import DataSyncLocation, DataSyncTaskSpec
from hpc_constructs.direct_connect import DirectConnectSpec
from hpc_constructs.ebs import EbsSpec
from hpc_constructs.ebs_volumes import EbsVolumes
from hpc_constructs.efs import EfsSpec
from hpc_constructs.efs_file_system import EfsFileSystem
from hpc_constructs.errors import ConfigError
from hpc_constructs.job_events import JobEvents
from hpc_constructs.lustre import LustreDataRepository, LustreSpec
from hpc_constructs.lustre_file_system import LustreFileSystem
from hpc_constructs.mounting import MountTarget
from hpc_constructs.network import HpcNetwork
from hpc_constructs.slurm import SlurmCluster, SlurmNodeGroup
from hpc_constructs.slurm_plan import LoginNodesSpec, NodeGroupSpec, SlurmQueueSpec
from hpc_constructs.snowball import SnowballImportSpec
from hpc_constructs.ssh_users import SshUser, SshUsers
from hpc_constructs.storage import StorageLayer

__all__ = [
    "BatchComputeEnvironment",
    "BatchJobDefinition",
    "BatchJobQueue",
    "BatchOrchestration",
    "BucketSpec",
    "ComputeEnvironmentSpec",
    "ComputeFleet",
    "ConfigError",
    "ContainerJobSpec",
    "DataBucket",
    "DataSyncLocation",
    "DataSyncTaskSpec",
    "DataTransferLayer",
    "DirectConnectSpec",
    "EbsSpec",
    "EbsVolumes",
    "EfsFileSystem",
    "EfsSpec",
    "HaBastion",
    "HpcNetwork",
    "JobEvents",
    "JobQueueSpec",
    "LoginNodesSpec",
    "LustreDataRepository",
    "LustreFileSystem",
    "LustreSpec",
    "MountTarget",
    "MultiNodeJobSpec",
    "NodeGroupSpec",
    "NodeRangeSpec",
    "SlurmCluster",
    "SlurmNodeGroup",
    "SlurmQueueSpec",
    "SnowballImportSpec",
    "SshUser",
    "SshUsers",
    "StorageLayer",
    "catalog",
]
__version__ = "0.1.0"
