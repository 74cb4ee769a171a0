"""The reference environment's ways in: DataSync from an NFS server, Direct Connect, Snowball import."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from hpc_constructs import DataTransferLayer, HpcNetwork, StorageLayer
from stacks.config import DataTransferConfig


class DataTransferStack(Stack):
    """One DataTransferLayer that lands in the StorageLayer (its bucket, linked to Lustre at /fsx/data).

    DataSync locations come from the config as {s3: {prefix}}, {nfs: {...}}, {efs: {subdirectory}} or
    {fsx_lustre: {subdirectory}}; efs and fsx_lustre are the StorageLayer's file systems.
    """

    def __init__(self, scope: Construct, id: str, *, network: HpcNetwork, storage: StorageLayer | None,
                 data_transfer: DataTransferConfig, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self.data_transfer = DataTransferLayer(self, "DataTransfer", vpc=network.vpc, storage=storage,
                                               **data_transfer.props(storage))
