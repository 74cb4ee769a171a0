"""DataBucket: the S3 tier of StorageLayer, usable on its own."""

from __future__ import annotations

from dataclasses import dataclass

import jsii
from aws_cdk import Acknowledgment, RemovalPolicy, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from hpc_constructs.kinds import check_kinds
from hpc_constructs.mounting import removal


@dataclass(frozen=True, slots=True)
class BucketSpec:
    """The layer's S3 bucket: public access blocked, TLS only, encrypted, retained.

    versioned: True.
    access_logs: True writes server access logs to a second, retained bucket.
    """

    versioned: bool = True
    access_logs: bool = True


@jsii.implements(ec2.IConnectable)
class DataBucket(Construct):
    """An S3 bucket for HPC data: public access blocked, TLS only, S3-managed encryption, ACLs off, retained.

    Props (keyword-only) and their defaults:
      spec: BucketSpec() (versioned, server access logs to a second bucket).
      removal_policy: RemovalPolicy.RETAIN: deleting the stack keeps both buckets. SNAPSHOT means
                      RETAIN here (S3 has no snapshots). DESTROY deletes them when empty (a bucket
                      that still holds objects fails to delete, which keeps it).
      owner: None. The StorageLayer that composes this tier and publishes its figures; None publishes
             them on the tier.

    Attributes: bucket, log_bucket (None without access logs), connections (no security groups:
    nodes reach S3 over HTTPS through the VPC's S3 endpoint or NAT, so there is nothing to open),
    figures; grant_read / grant_read_write return iam.Grant. Nodes use the bucket through IAM (SDKs,
    the AWS CLI) or through a Lustre data repository association (LustreSpec.data_repositories); it
    is not mounted as a file system.
    """

    @check_kinds
    def __init__(self, scope: Construct, id: str, *, spec: BucketSpec | None = None,
                 removal_policy: RemovalPolicy = RemovalPolicy.RETAIN, owner: Construct | None = None) -> None:
        super().__init__(scope, id)
        spec = spec or BucketSpec()
        # Server access logs are delivered through a bucket policy, not the LogDeliveryWrite ACL, so that
        # both buckets can enforce bucket-owner object ownership (ACLs off). This is CDK's recommended
        # flag; setting it here makes the tier behave the same in an app without cdk.json's flags.
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        self._connections = ec2.Connections()
        common = {
            "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
            "encryption": s3.BucketEncryption.S3_MANAGED,
            "enforce_ssl": True,
            "removal_policy": removal(removal_policy),
            "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        }
        self.log_bucket: s3.Bucket | None = None
        if spec.access_logs:
            self.log_bucket = s3.Bucket(self, "AccessLogs", versioned=False, **common)  # type: ignore[arg-type]
            Validations.of(self.log_bucket).acknowledge(Acknowledgment(
                id="AwsSolutions::AwsSolutions-S1",
                reason="This is the access-log bucket; logging it to itself would loop.",
            ))
        self.bucket: s3.Bucket = s3.Bucket(
            self, "Bucket", versioned=spec.versioned, server_access_logs_bucket=self.log_bucket,
            server_access_logs_prefix="bucket/" if self.log_bucket else None, **common)  # type: ignore[arg-type]
        if not spec.access_logs:
            Validations.of(self.bucket).acknowledge(Acknowledgment(
                id="AwsSolutions::AwsSolutions-S1", reason="access_logs=False was asked for in BucketSpec.",
            ))
        self.figures: dict[str, object] = {
            "bucket": f"S3, versioned={spec.versioned}, access logs={spec.access_logs}"}
        if owner is None:
            self.node.add_metadata("hpc:figures", self.figures)

    @property
    def connections(self) -> ec2.Connections:
        """The security groups that clients must reach (ec2.IConnectable)."""
        return self._connections

    @check_kinds
    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read the bucket's objects and list it."""
        return self.bucket.grant_read(grantee)

    @check_kinds
    def grant_read_write(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read, write and delete the bucket's objects."""
        return self.bucket.grant_read_write(grantee)
