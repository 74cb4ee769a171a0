"""The reference environment's way in: SSH bastions in two AZs behind a Network Load Balancer."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from aws_cdk import Stack
from constructs import Construct

from hpc_constructs import HaBastion, HpcImage, HpcNetwork, SshUsers
from stacks.config import BastionConfig


class AccessStack(Stack):
    """One HaBastion built from the config's `bastion` section (HaBastion props; `allowed_cidrs` required).

    The fleets admit SSH from it (ComputeStack calls `fleet.allow_ssh_from(bastion)`), so this stack deploys
    before the compute stack.
    """

    def __init__(self, scope: Construct, id: str, *, network: HpcNetwork, bastion: BastionConfig,
                 ssh_users: SshUsers | None = None, images: Mapping[str, HpcImage] = MappingProxyType({}),
                 **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self.bastion = HaBastion(self, "Bastion", vpc=network.vpc, ssh_users=ssh_users, **bastion.props(images))
