"""Snowball import: the job's settings, the role's actions and the `aws snowball create-job` command (no CDK).

CloudFormation cannot create Snowball jobs; DataTransferLayer creates what a job needs (the landing
bucket, a role that Snowball assumes, a KMS key when asked) and prints the command that orders the
device. Limits and enums live in catalog.limits.SNOWBALL, with their source.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from hpc_constructs.catalog.limits import SNOWBALL
from hpc_constructs.errors import ConfigError

SERVICE_PRINCIPAL = "importexport.amazonaws.com"
# The import role's permissions ('Amazon S3 import-only role policy', Snowball Edge Developer Guide),
# scoped here to the landing bucket instead of the guide's arn:aws:s3:::*.
BUCKET_ACTIONS = ("s3:GetBucketPolicy", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads", "s3:ListBucket")
OBJECT_ACTIONS = ("s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "s3:PutObjectAcl",
                  "s3:GetObject")
# With a job KMS key: the guide documents no action list for the role; these two are what an S3 writer
# that encrypts with the key needs. Snowball itself uses the key for the job's unlock code.
KMS_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
ADDRESS_PLACEHOLDER = "<address-id from: aws snowball create-address>"


@dataclass(frozen=True, slots=True)
class SnowballImportSpec:
    """An offline import into the landing bucket.

    kms_key: False. True creates a customer managed KMS key (rotated, retained) for the job.
    snowball_type: "V3_5S" (Snowball Edge Storage Optimized 210 TB).
    capacity: "T240" (the V3_5S's capacity).
    shipping_option: "SECOND_DAY".
    AWS Snowball Edge is available to existing customers only since 2025-11-07, and Snowmobile is not
    offered through any API; new customers use DataSync or AWS Data Transfer Terminal.
    """

    kms_key: bool = False
    snowball_type: str = SNOWBALL.default_type
    capacity: str = SNOWBALL.default_capacity
    shipping_option: str = "SECOND_DAY"


def check_snowball(path: str, spec: SnowballImportSpec, *, has_landing_bucket: bool) -> None:
    """Validate a SnowballImportSpec (pure). Raises ConfigError."""
    if not isinstance(spec, SnowballImportSpec):
        raise ConfigError(path, "snowball_import", spec, "True, False or a SnowballImportSpec")
    if not has_landing_bucket:
        raise ConfigError(path, "snowball_import", True, "False when landing_bucket=False",
                          hint="A Snowball import job writes into an S3 bucket: keep the landing bucket "
                               "(landing_bucket=True, a BucketSpec or an s3.IBucket).")
    for prop, value, allowed in (("snowball_type", spec.snowball_type, SNOWBALL.snowball_types),
                                 ("capacity", spec.capacity, SNOWBALL.capacities),
                                 ("shipping_option", spec.shipping_option, SNOWBALL.shipping_options)):
        if value not in allowed:
            raise ConfigError(path, f"snowball_import.{prop}", value, ", ".join(allowed))


def create_job_command(spec: SnowballImportSpec, *, bucket_arn: str, role_arn: str, kms_key_arn: str | None,
                       description: str) -> str:
    """The `aws snowball create-job` command for an import into the bucket (tokens stay as they are)."""
    resources = json.dumps({"S3Resources": [{"BucketArn": bucket_arn}]}, separators=(",", ":"))
    parts = [
        "aws snowball create-job --job-type IMPORT",
        f"--resources '{resources}'",
        f"--role-arn {role_arn}",
        *([f"--kms-key-arn {kms_key_arn}"] if kms_key_arn else []),
        f"--snowball-type {spec.snowball_type}",
        f"--snowball-capacity-preference {spec.capacity}",
        f"--shipping-option {spec.shipping_option}",
        f"--description '{description}'",
        f"--address-id '{ADDRESS_PLACEHOLDER}'",
    ]
    return " ".join(parts)
