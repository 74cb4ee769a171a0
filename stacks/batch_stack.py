"""The reference environment's AWS Batch: Spot CPU and EFA environments, two queues, an MPI job, a GPU job."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Stack
from constructs import Construct

from hpc_constructs import BatchOrchestration, ComputeFleet, HpcNetwork, StorageLayer
from stacks.config import BatchConfig


class BatchStack(Stack):
    """One BatchOrchestration over the network, with the StorageLayer mounted on every EC2 environment.

    An environment's `fleet: <name>` is that fleet of the compute stack; `cluster_subnet: true` puts an
    environment without a fleet into the network's cluster subnet.
    """

    def __init__(self, scope: Construct, id: str, *, network: HpcNetwork, storage: StorageLayer | None,
                 fleets: Mapping[str, ComputeFleet], batch: BatchConfig, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self.batch = BatchOrchestration(self, "Batch", vpc=network.vpc, storage=storage,
                                        **batch.props(network, fleets))
