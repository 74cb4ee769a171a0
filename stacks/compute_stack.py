"""The reference environment's compute: fleets in the network's cluster subnet."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from hpc_constructs import ComputeFleet, HpcNetwork


class ComputeStack(Stack):
    """One ComputeFleet per entry of the config's `fleets` mapping (name -> ComputeFleet props)."""

    def __init__(self, scope: Construct, id: str, *, network: HpcNetwork, fleets: dict[str, dict[str, Any]],
                 **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self.fleets: dict[str, ComputeFleet] = {
            name: ComputeFleet(self, name, vpc=network.vpc, subnet=network.cluster_subnet, **props)
            for name, props in fleets.items()
        }
