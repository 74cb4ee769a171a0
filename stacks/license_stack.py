"""The reference environment's license server: one HaInstance in the private subnets of every AZ."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from hpc_constructs import HaInstance, HpcNetwork
from stacks.config import LicenseServerConfig


class LicenseStack(Stack):
    """One HaInstance built from the config's `license_server` section (HaInstance props; `ports` required).

    Clients are admitted with `allow_clients`: each rule lives in the client's stack, so this stack deploys before
    the compute, Batch and Slurm stacks.
    """

    def __init__(self, scope: Construct, id: str, *, network: HpcNetwork, license_server: LicenseServerConfig,
                 **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self.server = HaInstance(self, "LicenseServer", vpc=network.vpc, **license_server.props())

    def allow_clients(self, *clients: ec2.IConnectable) -> None:
        """Open the server's ports to every client (fleets, Batch orchestrations, Slurm clusters)."""
        for client in clients:
            self.server.allow_from(client)
