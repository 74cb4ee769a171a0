"""hpc-constructs: AWS CDK v2 constructs for high-performance computing on AWS.

Only the names below are public; everything else may change without notice.
"""

from hpc_constructs import catalog
from hpc_constructs.compute_fleet import ComputeFleet
from hpc_constructs.ebs import EbsSpec
from hpc_constructs.errors import ConfigError
from hpc_constructs.lustre import LustreDataRepository, LustreSpec
from hpc_constructs.network import HpcNetwork
from hpc_constructs.storage import BucketSpec, EfsSpec, LustreFileSystem, StorageLayer

__all__ = [
    "BucketSpec",
    "ComputeFleet",
    "ConfigError",
    "EbsSpec",
    "EfsSpec",
    "HpcNetwork",
    "LustreDataRepository",
    "LustreFileSystem",
    "LustreSpec",
    "StorageLayer",
    "catalog",
]
__version__ = "0.1.0"
