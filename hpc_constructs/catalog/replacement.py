"""What CloudFormation's resource schemas do not say about replacement, each fact with its source and date.

hpc_constructs.changes reads which properties replace a resource from the resource schemas cfn-lint ships
(`createOnlyProperties`, `conditionalCreateOnlyProperties`, `tagging.tagUpdatable`, the identifiers): the
schemas CloudFormation's registry publishes. This module holds only what they leave out:

- nested properties the CloudFormation reference documents as "Update requires: Replacement" on resource types
  without registry handlers (their schema lists only top-level create-only properties);
- when a conditionally create-only property replaces (the condition is on the resource's reference page);
- names that are unique only within a parent (a PCS node group's name within its cluster);
- which resource types hold data or run work (what replacing them costs).

tests/unit/test_changes.py checks each documented replacement against the CDK CLI's own spec (the pinned
node_modules/aws-cdk/db.json.gz marks it "causesReplacement") and fails once cfn-lint's schema lists it, so that
the table shrinks as the schemas catch up. benchmarks/replacement_sources.py measures how the two sources compare
(benchmarks/replacement_sources.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

CHECKED = "2026-11"

CFN_REFERENCE = "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/"


@dataclass(frozen=True, slots=True)
class DocumentedReplacement:
    """A property (a JSON pointer into the resource) whose change replaces the resource, per its reference page."""

    resource_type: str
    pointer: str
    source: str
    note: str = ""


_LUSTRE_PAGE = (f"CloudFormation reference, 'AWS::FSx::FileSystem LustreConfiguration' "
                f"({CFN_REFERENCE}aws-properties-fsx-filesystem-lustreconfiguration.html): "
                f"'Update requires: Replacement'; checked {CHECKED}")

# AWS::FSx::FileSystem has no registry handlers: CloudFormation's own implementation decides, as its reference page
# documents. Its schema lists only the top-level create-only properties.
DOCUMENTED_REPLACEMENTS: tuple[DocumentedReplacement, ...] = (
    DocumentedReplacement("AWS::FSx::FileSystem", "/properties/LustreConfiguration/DeploymentType", _LUSTRE_PAGE),
    DocumentedReplacement(
        "AWS::FSx::FileSystem", "/properties/LustreConfiguration/PerUnitStorageThroughput", _LUSTRE_PAGE,
        note="FSx's UpdateFileSystem API can change it since 2023-11, but CloudFormation's reference page and the "
             "CDK CLI's spec still document a replacement: the report says what CloudFormation documents."),
    DocumentedReplacement("AWS::FSx::FileSystem", "/properties/LustreConfiguration/DriveCacheType", _LUSTRE_PAGE),
    DocumentedReplacement("AWS::FSx::FileSystem", "/properties/LustreConfiguration/ImportPath", _LUSTRE_PAGE),
    DocumentedReplacement("AWS::FSx::FileSystem", "/properties/LustreConfiguration/ExportPath", _LUSTRE_PAGE),
    DocumentedReplacement("AWS::FSx::FileSystem", "/properties/LustreConfiguration/ImportedFileChunkSize",
                          _LUSTRE_PAGE),
    DocumentedReplacement("AWS::FSx::FileSystem", "/properties/LustreConfiguration/CopyTagsToBackups", _LUSTRE_PAGE),
)


def _batch_environment_replaces(resource: Mapping[str, Any]) -> bool:
    value = (resource.get("Properties") or {}).get("ReplaceComputeEnvironment", True)
    return value is not False and str(value).lower() != "false"


def _auto_scaling_group_replaces(resource: Mapping[str, Any]) -> bool:
    will = ((resource.get("UpdatePolicy") or {}).get("AutoScalingReplacingUpdate") or {}).get("WillReplace")
    return will is True or str(will).lower() == "true"


@dataclass(frozen=True, slots=True)
class ReplacementCondition:
    """When a type's conditionally create-only properties replace it: a test of the new resource's template."""

    resource_type: str
    replaces: Callable[[Mapping[str, Any]], bool]
    when: str  # the condition, for the report
    source: str


# For other types with conditionally create-only properties the report says the resource may be replaced.
CONDITIONS: Mapping[str, ReplacementCondition] = MappingProxyType({c.resource_type: c for c in (
    ReplacementCondition(
        "AWS::Batch::ComputeEnvironment", _batch_environment_replaces,
        "ReplaceComputeEnvironment is not false",
        "CloudFormation reference, 'AWS::Batch::ComputeEnvironment', ReplaceComputeEnvironment: 'Specifies whether "
        "the compute environment is replaced if an update is made that requires replacing the instances in the "
        "compute environment. The default value is true.'; AWS Batch User Guide, 'Updating compute environments' "
        f"({CFN_REFERENCE}aws-resource-batch-computeenvironment.html); checked {CHECKED}"),
    ReplacementCondition(
        "AWS::AutoScaling::AutoScalingGroup", _auto_scaling_group_replaces,
        "the UpdatePolicy's AutoScalingReplacingUpdate has WillReplace: true",
        "CloudFormation reference, 'UpdatePolicy attribute', AutoScalingReplacingUpdate "
        f"({CFN_REFERENCE}aws-attribute-updatepolicy.html); checked {CHECKED}"),
)})


@dataclass(frozen=True, slots=True)
class NameScope:
    """A name unique only within a parent: a replacement in a new parent takes it freely."""

    resource_type: str
    name: str  # the property that names the resource
    within: tuple[str, ...]  # the properties that name its parent
    source: str


_PCS_SOURCE = ("AWS PCS API reference, ConflictException: 'A queue already exists in a cluster'; CloudFormation "
               "schemas of AWS::PCS::ComputeNodeGroup and AWS::PCS::Queue (Name and ClusterId create-only); "
               f"checked {CHECKED}")
NAME_SCOPES: Mapping[str, NameScope] = MappingProxyType({s.resource_type: s for s in (
    NameScope("AWS::PCS::ComputeNodeGroup", "Name", ("ClusterId",), _PCS_SOURCE),
    NameScope("AWS::PCS::Queue", "Name", ("ClusterId",), _PCS_SOURCE),
    # Not an identifier in the schema; the EC2 API refuses a second group of one name in a VPC.
    NameScope("AWS::EC2::SecurityGroup", "GroupName", ("VpcId",),
              f"EC2 API reference, CreateSecurityGroup, error InvalidGroup.Duplicate; checked {CHECKED}"),
)})

# -- what a replacement costs -----------------------------------------------------------------------------------
# Data loss: the new resource starts empty (file systems, volumes, buckets, logs, keys, secrets, tables).
DATA_TYPES: Mapping[str, str] = MappingProxyType({
    "AWS::DynamoDB::Table": "a new, empty table",
    "AWS::EC2::Volume": "a new, empty volume",
    "AWS::EFS::FileSystem": "a new, empty file system",
    "AWS::FSx::FileSystem": "a new, empty file system",
    "AWS::FSx::Snapshot": "a new snapshot of the volume as it is now",
    "AWS::FSx::Volume": "a new, empty volume",
    "AWS::KMS::Key": "a new key, which cannot decrypt what the old one encrypted",
    "AWS::Logs::LogGroup": "a new, empty log group",
    "AWS::RDS::DBCluster": "a new, empty database",
    "AWS::RDS::DBInstance": "a new, empty database",
    "AWS::S3::Bucket": "a new, empty bucket",
    "AWS::SecretsManager::Secret": "a new secret value",
})

# Disrupts running work: jobs, nodes and connections end with the old resource.
RUNNING_WORK_TYPES: Mapping[str, str] = MappingProxyType({
    "AWS::PCS::Cluster": "a new cluster: running jobs end, queues and accounting start empty, a new endpoint",
    "AWS::PCS::ComputeNodeGroup": "its nodes are terminated with their jobs",
    "AWS::PCS::Queue": "its pending and running jobs are lost",
    "AWS::Batch::ComputeEnvironment": "its instances are terminated with their jobs",
    "AWS::Batch::JobQueue": "its pending and running jobs are lost",
    "AWS::AutoScaling::AutoScalingGroup": "its running instances are terminated",
    "AWS::EC2::Instance": "the instance is terminated",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "a new DNS name; open connections are cut",
    "AWS::ElasticLoadBalancing::LoadBalancer": "a new DNS name; open connections are cut",
})


def data_loss(resource_type: str) -> str | None:
    """What the stack gets instead when a resource of this type is replaced, or None when it holds no data."""
    return DATA_TYPES.get(resource_type)
