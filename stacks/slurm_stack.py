"""The reference environment's Slurm cluster: AWS PCS in the network's cluster subnet, with the storage mounted."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from hpc_constructs import HaBastion, HpcImage, HpcNetwork, SlurmCluster, SshUsers, StorageLayer
from stacks.config import SlurmConfig


class SlurmStack(Stack):
    """One SlurmCluster from the config's `slurm` section (SlurmCluster props).

    Its node groups and the controller's ENI go into the cluster subnet; every node mounts the StorageLayer
    (unless `mount_storage: false`); the login nodes admit SSH from the bastion when the config has one.
    """

    def __init__(self, scope: Construct, id: str, *, network: HpcNetwork, slurm: SlurmConfig,
                 storage: StorageLayer | None = None, bastion: HaBastion | None = None,
                 ssh_users: SshUsers | None = None, images: Mapping[str, HpcImage] = MappingProxyType({}),
                 **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self.cluster = SlurmCluster(self, "Slurm", vpc=network.vpc, subnet=network.cluster_subnet,
                                    storage=storage if slurm.mount_storage else None, ssh_users=ssh_users,
                                    **slurm.props(bastion, images))
        CfnOutput(self, "ClusterId", value=self.cluster.cluster.attr_id,
                  description="aws pcs get-cluster --cluster-identifier <this>")
        CfnOutput(self, "ClusterArn", value=self.cluster.cluster.attr_arn)
