"""The reference environment's compute: fleets in the network's cluster subnet."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Stack
from constructs import Construct

from hpc_constructs import ComputeFleet, HaBastion, HpcNetwork, StorageLayer
from stacks.config import FleetConfig


class ComputeStack(Stack):
    """One ComputeFleet per entry of the config's `fleets` section (name -> ComputeFleet props).

    With a StorageLayer, every fleet mounts it; a fleet's `mount_ebs` (true, false or a list of volume
    names; default true) says which EBS volumes it gets. With a bastion, every fleet admits SSH from it.
    """

    def __init__(self, scope: Construct, id: str, *, network: HpcNetwork, fleets: Mapping[str, FleetConfig],
                 storage: StorageLayer | None = None, bastion: HaBastion | None = None, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self.fleets: dict[str, ComputeFleet] = {}
        for name, config in fleets.items():
            fleet = ComputeFleet(self, name, vpc=network.vpc, subnet=network.cluster_subnet, **config.props())
            if storage is not None:
                storage.mount_on(fleet, ebs_volumes=config.ebs_selection)
            if bastion is not None:
                fleet.allow_ssh_from(bastion)
            self.fleets[name] = fleet
