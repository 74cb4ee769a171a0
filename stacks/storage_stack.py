"""The reference environment's storage: S3, FSx for Lustre linked to it, an io2 volume and EFS."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from hpc_constructs import BucketSpec, EbsSpec, EfsSpec, HpcNetwork, LustreDataRepository, LustreSpec, StorageLayer


def storage_props(config: dict[str, Any]) -> dict[str, Any]:
    """Turn the config's plain mappings into StorageLayer props (specs)."""
    props: dict[str, Any] = {}
    if "bucket" in config:
        bucket = config["bucket"]
        props["bucket"] = BucketSpec(**bucket) if isinstance(bucket, dict) else bool(bucket)
    if "ebs_volumes" in config:
        props["ebs_volumes"] = [EbsSpec(**v) for v in config["ebs_volumes"]]
    if "lustre" in config:
        lustre = dict(config["lustre"])
        lustre["data_repositories"] = tuple(LustreDataRepository(**r) for r in lustre.get("data_repositories", ()))
        props["lustre"] = LustreSpec(**lustre)
    if "efs" in config:
        props["efs"] = EfsSpec(**config["efs"])
    unknown = sorted(set(config) - {"bucket", "ebs_volumes", "lustre", "efs"})
    if unknown:
        raise ValueError(f"config storage: unknown keys {unknown}")
    return props


class StorageStack(Stack):
    """One StorageLayer in the network's cluster subnet."""

    def __init__(self, scope: Construct, id: str, *, network: HpcNetwork, storage: dict[str, Any],
                 **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self.storage = StorageLayer(self, "Storage", vpc=network.vpc, subnet=network.cluster_subnet,
                                    **storage_props(storage))
