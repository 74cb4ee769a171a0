"""The reference environment's compute: fleets in the network's cluster subnet, in nested stacks when there are many."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import NestedStack, Stack
from constructs import Construct

from hpc_constructs import ComputeFleet, HaBastion, HpcNetwork, SshUsers, StorageLayer
from stacks.config import FleetConfig
from stacks.nesting import FLEET_GROUP_ID, Grouping, StorageFacts, nested_description, plan_fleets


class ComputeStack(Stack):
    """One ComputeFleet per entry of the config's `fleets` section (name -> ComputeFleet props).

    With a StorageLayer, every fleet mounts it; a fleet's `mount_ebs` (true, false or a list of volume
    names; default true) says which EBS volumes it gets. With a bastion, every fleet admits SSH from it; with
    ssh_users, every node has their accounts.

    Fleets that would pass stacks.nesting's thresholds as one template (about two dozen fleets, fewer with
    many network cards or boot steps) go into nested stacks Fleets1, Fleets2, ..., filled in config order.
    CDK wires the references: the nested templates read the network, storage and bastion stacks' outputs,
    and a Batch environment reads its fleet through an output of this stack that repeats the nested one.
    `grouping` holds the decision and its estimates.
    """

    def __init__(self, scope: Construct, id: str, *, network: HpcNetwork, fleets: Mapping[str, FleetConfig],
                 storage: StorageLayer | None = None, bastion: HaBastion | None = None,
                 ssh_users: SshUsers | None = None, license_ports: int = 0, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self.grouping: Grouping = plan_fleets(self.node.path, fleets, storage=StorageFacts.of_layer(storage),
                                              bastion=bastion is not None, ssh_users=ssh_users is not None,
                                              license_ports=license_ports)
        scopes: dict[str, Construct] = dict.fromkeys(fleets, self)
        groups = self.grouping.groups or ()
        for number, group in enumerate(groups, start=1):
            nested = NestedStack(self, FLEET_GROUP_ID.format(number), description=nested_description(
                self.node.path, "fleets", group, number, len(groups)))
            scopes.update(dict.fromkeys(group, nested))
        self.fleets: dict[str, ComputeFleet] = {}
        for name, config in fleets.items():
            fleet = ComputeFleet(scopes[name], name, vpc=network.vpc, subnet=network.cluster_subnet,
                                 ssh_users=ssh_users, **config.props())
            if storage is not None:
                storage.mount_on(fleet, ebs_volumes=config.ebs_selection)
            if bastion is not None:
                fleet.allow_ssh_from(bastion)
            self.fleets[name] = fleet
