"""EFS specs and their rules, as pure functions (no CDK)."""

from __future__ import annotations

from dataclasses import dataclass

from hpc_constructs.catalog.limits import EFS_MAX_PROVISIONED_THROUGHPUT_MIBPS
from hpc_constructs.errors import ConfigError
from hpc_constructs.lustre import check_mount_point

EFS_READ = ("elasticfilesystem:ClientMount",)
EFS_READ_WRITE = ("elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite")
EFS_ROOT = (*EFS_READ_WRITE, "elasticfilesystem:ClientRootAccess")
# Deny everything that does not come over TLS, and allow nothing: with a policy in place EFS refuses
# anonymous clients, and a principal can do exactly what its identity policy grants ("Using IAM to
# control access to file systems", Amazon EFS User Guide; the TLS statement is the guide's own
# "enforce in-transit encryption" example).
EFS_FILE_SYSTEM_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{
        "Sid": "DenyWithoutTls",
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }],
}


@dataclass(frozen=True, slots=True)
class EfsSpec:
    """An encrypted EFS file system with mount targets in the VPC's private subnets.

    throughput_mode: "elastic" (default), "bursting" or "provisioned".
    provisioned_throughput_mibps: required with "provisioned" (1 to 3,414 MiB/s; the upper limit
                                  depends on the Region); not allowed otherwise.
    performance_mode: "generalPurpose" (default) or "maxIO" (not with elastic throughput).
    mount_point: "/efs". Where mount_on mounts it.

    Access is IAM-only and TLS-only: the file-system policy denies every request not made over TLS and
    grants nothing to anyone, so anonymous NFS clients are refused and a principal gets exactly what an
    identity policy grants it (mount_on and grant_*). Nodes mount with amazon-efs-utils' `tls,iam`
    options.
    """

    throughput_mode: str = "elastic"
    provisioned_throughput_mibps: float | None = None
    performance_mode: str = "generalPurpose"
    mount_point: str = "/efs"


def check_efs(path: str, spec: EfsSpec) -> None:
    """Validate an EFS spec (pure). Raises ConfigError."""
    modes = ("elastic", "bursting", "provisioned")
    if spec.throughput_mode not in modes:
        raise ConfigError(path, "efs.throughput_mode", spec.throughput_mode, ", ".join(modes))
    if spec.performance_mode not in ("generalPurpose", "maxIO"):
        raise ConfigError(path, "efs.performance_mode", spec.performance_mode, "generalPurpose or maxIO")
    value = spec.provisioned_throughput_mibps
    if spec.throughput_mode == "provisioned":
        if value is None or not 1 <= value <= EFS_MAX_PROVISIONED_THROUGHPUT_MIBPS:
            raise ConfigError(path, "efs.provisioned_throughput_mibps", value,
                              f"1 to {EFS_MAX_PROVISIONED_THROUGHPUT_MIBPS:,} MiB/s with provisioned throughput "
                              "(the upper limit depends on the Region)")
    elif value is not None:
        raise ConfigError(path, "efs.provisioned_throughput_mibps", value,
                          f"none with {spec.throughput_mode} throughput (provisioned only)")
    if spec.performance_mode == "maxIO" and spec.throughput_mode == "elastic":
        raise ConfigError(path, "efs.performance_mode", "maxIO",
                          "generalPurpose with elastic throughput (Max I/O needs bursting or provisioned)")
    check_mount_point(path, "efs.mount_point", spec.mount_point)

