"""hpc-constructs: AWS CDK v2 constructs for high-performance computing on AWS.

Only the names below are public; everything else may change without notice.

The names are imported on first use (PEP 562), so that `python -m hpc_constructs.verify` (pure Python over a
cloud assembly) does not start aws-cdk-lib and its Node runtime, which takes seconds; `from hpc_constructs
import StorageLayer` works as before.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from hpc_constructs.dashboard import HpcDashboard
    from hpc_constructs.dashboard_plan import MonitoringSettings
    from hpc_constructs.data_bucket import BucketSpec, DataBucket
    from hpc_constructs.data_transfer import DataTransferLayer
    from hpc_constructs.datasync import DataSyncLocation, DataSyncTaskSpec
    from hpc_constructs.direct_connect import DirectConnectSpec
    from hpc_constructs.ebs import EbsSpec
    from hpc_constructs.ebs_volumes import EbsVolumes
    from hpc_constructs.efs import EfsSpec
    from hpc_constructs.efs_file_system import EfsFileSystem
    from hpc_constructs.errors import ConfigError
    from hpc_constructs.ha_instance import HaInstance
    from hpc_constructs.image import HpcImage
    from hpc_constructs.job_events import JobEvents
    from hpc_constructs.lustre import LustreDataRepository, LustreSpec
    from hpc_constructs.lustre_file_system import LustreFileSystem
    from hpc_constructs.monitoring import Monitored, Monitoring
    from hpc_constructs.mounting import MountTarget
    from hpc_constructs.nag import enable_cdk_nag
    from hpc_constructs.network import HpcNetwork
    from hpc_constructs.slurm import SlurmCluster, SlurmNodeGroup
    from hpc_constructs.slurm_plan import LoginNodesSpec, NodeGroupSpec, SlurmQueueSpec
    from hpc_constructs.snowball import SnowballImportSpec
    from hpc_constructs.ssh_users import SshUser, SshUsers
    from hpc_constructs.storage import StorageLayer

# public name -> the module that defines it
_MODULES = {
    "BatchComputeEnvironment": "batch",
    "BatchJobDefinition": "batch",
    "BatchJobQueue": "batch",
    "BatchOrchestration": "batch",
    "BucketSpec": "data_bucket",
    "ComputeEnvironmentSpec": "batch_plan",
    "ComputeFleet": "compute_fleet",
    "ConfigError": "errors",
    "ContainerJobSpec": "batch_plan",
    "DataBucket": "data_bucket",
    "DataSyncLocation": "datasync",
    "DataSyncTaskSpec": "datasync",
    "DataTransferLayer": "data_transfer",
    "DirectConnectSpec": "direct_connect",
    "EbsSpec": "ebs",
    "EbsVolumes": "ebs_volumes",
    "EfsFileSystem": "efs_file_system",
    "EfsSpec": "efs",
    "HaBastion": "bastion",
    "HaInstance": "ha_instance",
    "HpcDashboard": "dashboard",
    "HpcImage": "image",
    "HpcNetwork": "network",
    "JobEvents": "job_events",
    "JobQueueSpec": "batch_plan",
    "LoginNodesSpec": "slurm_plan",
    "LustreDataRepository": "lustre",
    "LustreFileSystem": "lustre_file_system",
    "LustreSpec": "lustre",
    "Monitored": "monitoring",
    "Monitoring": "monitoring",
    "MonitoringSettings": "dashboard_plan",
    "MountTarget": "mounting",
    "MultiNodeJobSpec": "batch_plan",
    "NodeGroupSpec": "slurm_plan",
    "NodeRangeSpec": "batch_plan",
    "SlurmCluster": "slurm",
    "SlurmNodeGroup": "slurm",
    "SlurmQueueSpec": "slurm_plan",
    "SnowballImportSpec": "snowball",
    "SshUser": "ssh_users",
    "SshUsers": "ssh_users",
    "StorageLayer": "storage",
    "enable_cdk_nag": "nag",
}

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
    "HaInstance",
    "HpcDashboard",
    "HpcImage",
    "HpcNetwork",
    "JobEvents",
    "JobQueueSpec",
    "LoginNodesSpec",
    "LustreDataRepository",
    "LustreFileSystem",
    "LustreSpec",
    "Monitored",
    "Monitoring",
    "MonitoringSettings",
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
    "enable_cdk_nag",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "catalog":
        return importlib.import_module("hpc_constructs.catalog")
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'hpc_constructs' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"hpc_constructs.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*__all__, "__version__"])
