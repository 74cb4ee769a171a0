"""The reference environment's network."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from hpc_constructs import HpcNetwork, SshUsers
from stacks.config import NetworkConfig, SshUserConfig


class NetworkStack(Stack):
    """One HpcNetwork, and the SshUsers of the config's `ssh_users` (None without any); other reference stacks
    take `network` and `ssh_users` from here: the bastion, the fleets and the Slurm nodes sync the same list."""

    def __init__(self, scope: Construct, id: str, *, network: NetworkConfig,
                 ssh_users: tuple[SshUserConfig, ...] = (), **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self.network = HpcNetwork(self, "Network", **network.props())
        self.ssh_users: SshUsers | None = (
            SshUsers(self, "SshUsers", users=[u.spec() for u in ssh_users]) if ssh_users else None)
