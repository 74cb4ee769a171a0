"""The reference environment's ways in: DataSync from an NFS server, Direct Connect, Snowball import."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from hpc_constructs import (
    DataSyncLocation,
    DataSyncTaskSpec,
    DataTransferLayer,
    DirectConnectSpec,
    HpcNetwork,
    SnowballImportSpec,
    StorageLayer,
)


def location(raw: dict[str, Any], storage: StorageLayer | None) -> DataSyncLocation:
    """One location from config: {s3: {prefix}}, {nfs: {...}}, {efs: {subdirectory}} or {fsx_lustre: {...}}."""
    if len(raw) != 1:
        raise ValueError(f"config data_transfer location: one of s3, nfs, efs, fsx_lustre, got {sorted(raw)}")
    ((kind, props),) = raw.items()
    props = dict(props or {})
    if kind == "s3":
        return DataSyncLocation.s3(None, **props)  # the landing bucket
    if kind == "nfs":
        return DataSyncLocation.nfs(props.pop("server_hostname"), props.pop("subdirectory"),
                                    props.pop("agent_arns"), **props)
    if kind == "efs":
        return DataSyncLocation.efs(storage, **props)
    if kind == "fsx_lustre":
        return DataSyncLocation.fsx_lustre(storage, **props)
    raise ValueError(f"config data_transfer location: unknown kind {kind!r}")


def data_transfer_props(config: dict[str, Any], storage: StorageLayer | None) -> dict[str, Any]:
    """Turn the config's plain mappings into DataTransferLayer props (specs)."""
    unknown = sorted(set(config) - {"datasync_tasks", "direct_connect", "snowball_import"})
    if unknown:
        raise ValueError(f"config data_transfer: unknown keys {unknown}")
    props: dict[str, Any] = {}
    tasks = []
    for raw in config.get("datasync_tasks", ()):
        task = dict(raw)
        source, destination = location(task.pop("source"), storage), location(task.pop("destination"), storage)
        for key in ("includes", "excludes"):
            if key in task:
                task[key] = tuple(task[key])
        tasks.append(DataSyncTaskSpec(source, destination, **task))
    props["datasync_tasks"] = tasks
    if "direct_connect" in config:
        direct = dict(config["direct_connect"])
        direct["allowed_prefixes"] = tuple(direct.get("allowed_prefixes", ()))
        props["direct_connect"] = DirectConnectSpec(**direct)
    snowball = config.get("snowball_import", False)
    props["snowball_import"] = SnowballImportSpec(**snowball) if isinstance(snowball, dict) else bool(snowball)
    return props


class DataTransferStack(Stack):
    """One DataTransferLayer that lands in the StorageLayer (its bucket, linked to Lustre at /fsx/data)."""

    def __init__(self, scope: Construct, id: str, *, network: HpcNetwork, storage: StorageLayer | None,
                 data_transfer: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self.data_transfer = DataTransferLayer(self, "DataTransfer", vpc=network.vpc, storage=storage,
                                               **data_transfer_props(data_transfer, storage))
