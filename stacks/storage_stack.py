"""The reference environment's storage: S3, FSx for Lustre linked to it, an io2 volume and EFS."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from hpc_constructs import HpcNetwork, StorageLayer
from stacks.config import StorageConfig


class StorageStack(Stack):
    """One StorageLayer in the network's cluster subnet, from the config's `storage` section."""

    def __init__(self, scope: Construct, id: str, *, network: HpcNetwork, storage: StorageConfig,
                 **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self.storage = StorageLayer(self, "Storage", vpc=network.vpc, subnet=network.cluster_subnet,
                                    **storage.props())
