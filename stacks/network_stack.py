"""The reference environment's network."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from hpc_constructs import HpcNetwork
from stacks.config import NetworkConfig


class NetworkStack(Stack):
    """One HpcNetwork; other reference stacks take `network` from here."""

    def __init__(self, scope: Construct, id: str, *, network: NetworkConfig, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self.network = HpcNetwork(self, "Network", **network.props())
