"""hpc-constructs: AWS CDK v2 constructs for high-performance computing on AWS.

Only the names below are public; everything else may change without notice.
"""

from hpc_constructs import catalog
from hpc_constructs.compute_fleet import ComputeFleet
from hpc_constructs.errors import ConfigError
from hpc_constructs.network import HpcNetwork

__all__ = [
    "ComputeFleet",
    "ConfigError",
    "HpcNetwork",
    "catalog",
]
__version__ = "0.1.0"
