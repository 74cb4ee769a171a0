"""The reference environment's AWS Batch: Spot CPU and EFA environments, two queues, an MPI job, a GPU job."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from hpc_constructs import (
    BatchOrchestration,
    ComputeEnvironmentSpec,
    ComputeFleet,
    ContainerJobSpec,
    HpcNetwork,
    JobQueueSpec,
    MultiNodeJobSpec,
    NodeRangeSpec,
    StorageLayer,
)

KEYS = {"compute_environments", "job_queues", "multi_node_jobs", "container_jobs", "job_events", "log_retention_days"}


def batch_props(config: dict[str, Any], network: HpcNetwork, fleets: dict[str, ComputeFleet]) -> dict[str, Any]:
    """Turn the config's plain mappings into BatchOrchestration props (specs).

    An environment's `fleet: <name>` names a fleet of the config's `fleets`; one with `multi_node: true`
    (or a fleet) lives in the network's cluster subnet.
    """
    unknown = sorted(set(config) - KEYS)
    if unknown:
        raise ValueError(f"config batch: unknown keys {unknown}; allowed: {sorted(KEYS)}")
    environments = []
    for raw in config.get("compute_environments", ()):
        props = dict(raw)
        if "fleet" in props:
            name = props.pop("fleet")
            if name not in fleets:
                raise ValueError(f"config batch: environment {props.get('name')!r} names fleet {name!r}; "
                                 f"fleets: {sorted(fleets)}")
            props["fleet"] = fleets[name]
        elif props.pop("cluster_subnet", False):
            props["subnet"] = network.cluster_subnet
        if "instance_types" in props:
            props["instance_types"] = tuple(props["instance_types"])
        environments.append(ComputeEnvironmentSpec(**props))
    queues = [JobQueueSpec(**{**q, "compute_environments": tuple(q["compute_environments"])})
              for q in config.get("job_queues", ())]
    mnp = []
    for raw in config.get("multi_node_jobs", ()):
        props = dict(raw)
        props["command"] = tuple(props.get("command", ()))
        props["node_ranges"] = tuple(NodeRangeSpec(r["start"], r["end"], tuple(r.get("command", ())))
                                     for r in props.get("node_ranges", ()))
        mnp.append(MultiNodeJobSpec(**props))
    containers = [ContainerJobSpec(**{**c, "command": tuple(c.get("command", ()))})
                  for c in config.get("container_jobs", ())]
    props_out: dict[str, Any] = {"compute_environments": environments, "job_queues": queues, "multi_node_jobs": mnp,
                                 "container_jobs": containers}
    for key in ("job_events", "log_retention_days"):
        if key in config:
            props_out[key] = config[key]
    return props_out


class BatchStack(Stack):
    """One BatchOrchestration over the network, with the StorageLayer mounted on every EC2 environment."""

    def __init__(self, scope: Construct, id: str, *, network: HpcNetwork, storage: StorageLayer | None,
                 fleets: dict[str, ComputeFleet], batch: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self.batch = BatchOrchestration(self, "Batch", vpc=network.vpc, storage=storage,
                                        **batch_props(batch, network, fleets))
