"""The reference environment's AWS Batch: Spot CPU and EFA environments, two queues, an MPI job, a GPU job."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import CfnOutput, NestedStack, Stack
from constructs import Construct

from hpc_constructs import BatchOrchestration, ComputeFleet, HpcNetwork, StorageLayer
from stacks.config import BatchConfig
from stacks.nesting import (
    BATCH_GROUP_ID,
    BatchUnit,
    FleetFacts,
    Grouping,
    StorageFacts,
    nested_description,
    plan_batch,
)


class BatchStack(Stack):
    """One BatchOrchestration over the network, with the StorageLayer mounted on every EC2 environment.

    An environment's `fleet: <name>` is that fleet of the compute stack; `cluster_subnet: true` puts an
    environment without a fleet into the network's cluster subnet.

    When one template would pass stacks.nesting's thresholds, the section is split into Batch units (job
    queues with their compute environments and the job definitions that run there; see
    stacks.nesting.batch_units) and the units are grouped, in config order, into nested stacks Queues1,
    Queues2, ..., each with a BatchOrchestration of its own. Each of those has its own job role, log group
    and, with job_events, its own job-events topic and queue: subscribe to each (the parent stack's outputs
    name every group's log group and events queue, and every queue's ARN). Job queues and job definitions in a
    nested stack are named <stack>-Queues<n>-<name>, so that one that moves between templates (the first
    split, or a regrouping) gets a new name instead of failing the deploy on a name still taken
    (BatchOrchestration, physical_name_prefix). Every EC2 environment
    still mounts the storage, and a multi-node job's definition sits beside its environment.

    Limits that span the orchestrations: AWS Batch takes at most 50 job queues and 50 compute environments per
    account and Region (not adjustable); BatchOrchestration counts them across every orchestration of the app,
    nested or not, and refuses a config past them at synth. With job_events, each orchestration's job-events
    rules list the queues' ARNs in EventBridge patterns of at most 2,048 characters (JobEvents splits them
    over several rules); stacks.nesting still keeps a group's queues within one pattern, about 20 queues.

    Attributes: orchestrations (one BatchOrchestration, or one per nested stack), batch (the orchestration
    when there is one, None when nested), units and grouping (the decision and its estimates).
    """

    def __init__(self, scope: Construct, id: str, *, network: HpcNetwork, storage: StorageLayer | None,
                 fleets: Mapping[str, ComputeFleet], batch: BatchConfig, license_ports: int = 0, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        facts = {name: FleetFacts(tuple(t.name for t in fleet.instance_types), fleet.plan.efa,
                                  fleet.placement_group is not None) for name, fleet in fleets.items()}
        self.units: list[BatchUnit]
        self.grouping: Grouping
        self.units, self.grouping = plan_batch(self.node.path, batch, storage=StorageFacts.of_layer(storage),
                                               fleets=facts, stack_name=self.stack_name, license_ports=license_ports)
        self.batch: BatchOrchestration | None = None
        if not self.grouping.nested:
            self.batch = BatchOrchestration(self, "Batch", vpc=network.vpc, storage=storage,
                                            **batch.props(network, fleets))
            self.orchestrations = [self.batch]
            return
        self.orchestrations: list[BatchOrchestration] = []
        outputs = Construct(self, "Outputs")
        groups = self.grouping.groups or ()
        for number, group in enumerate(groups, start=1):
            part = BatchUnit.merge(self.units[int(i)] for i in group)
            nested = NestedStack(self, BATCH_GROUP_ID.format(number), description=nested_description(
                self.node.path, "Batch queues" if part.queues else "Batch environments", part.queue_names(batch),
                number, len(groups)))
            orchestration = BatchOrchestration(nested, "Batch", vpc=network.vpc, storage=storage,
                                               **part.config(batch).props(network, fleets))
            _outputs(outputs, BATCH_GROUP_ID.format(number), orchestration)
            self.orchestrations.append(orchestration)


def _outputs(scope: Construct, group: str, orchestration: BatchOrchestration) -> None:
    """What users read from a nested stack's outputs, repeated on its parent (a nested stack's are not listed there)."""
    for name, queue in orchestration.job_queues.items():
        CfnOutput(scope, f"Queue{name}Arn", value=queue.ref,
                  description=f"Batch job queue {name} ({group}): submit-job --job-queue takes it or its name")
    CfnOutput(scope, f"{group}JobLogGroupName", value=orchestration.log_group.log_group_name,
              description=f"The stdout and stderr of {group}'s jobs (aws logs tail ...)")
    for name, events in orchestration.event_queues.items():
        CfnOutput(scope, f"{group}EventQueue{name}Url", value=events.queue_url,
                  description=f"Job events of {group}'s queues, queue {name} (aws sqs receive-message ...)")
