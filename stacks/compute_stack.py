"""The reference environment's compute: fleets in the network's cluster subnet."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from hpc_constructs import ComputeFleet, HaBastion, HpcNetwork, StorageLayer


class ComputeStack(Stack):
    """One ComputeFleet per entry of the config's `fleets` mapping (name -> ComputeFleet props).

    With a StorageLayer, every fleet mounts it; a fleet's `mount_ebs` (true, false or a list of volume
    names; default true) says which EBS volumes it gets. With a bastion, every fleet admits SSH from it.
    """

    def __init__(self, scope: Construct, id: str, *, network: HpcNetwork, fleets: dict[str, dict[str, Any]],
                 storage: StorageLayer | None = None, bastion: HaBastion | None = None, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self.fleets: dict[str, ComputeFleet] = {}
        for name, raw in fleets.items():
            props = dict(raw)
            mount_ebs = props.pop("mount_ebs", True)
            if not isinstance(mount_ebs, bool):
                mount_ebs = [str(name) for name in mount_ebs]
            fleet = ComputeFleet(self, name, vpc=network.vpc, subnet=network.cluster_subnet, **props)
            if storage is not None:
                storage.mount_on(fleet, ebs_volumes=mount_ebs)
            if bastion is not None:
                fleet.allow_ssh_from(bastion)
            self.fleets[name] = fleet
