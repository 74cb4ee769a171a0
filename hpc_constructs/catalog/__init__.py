"""Facts as data: EC2 instance types and AWS service limits, each with its source and date.

    >>> from hpc_constructs import catalog
    >>> catalog.instance_type("p5.48xlarge").maximum_efa_interfaces
    32
"""

from hpc_constructs.catalog import limits
from hpc_constructs.catalog.instance_types import (
    InstanceStoreDisks,
    InstanceType,
    NetworkCard,
    family_members,
    instance_type,
    instance_types,
    source,
)

__all__ = [
    "InstanceStoreDisks",
    "InstanceType",
    "NetworkCard",
    "family_members",
    "instance_type",
    "instance_types",
    "limits",
    "source",
]
