"""Builds the reference HPC environment from a config mapping (read from YAML by app.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aws_cdk import App, Stack, Tags, Validations
from cdk_nag import AwsSolutionsChecks

from stacks.access_stack import AccessStack
from stacks.batch_stack import BatchStack
from stacks.compute_stack import ComputeStack
from stacks.data_transfer_stack import DataTransferStack
from stacks.network_stack import NetworkStack
from stacks.storage_stack import StorageStack


@dataclass(frozen=True)
class ReferenceConfig:
    """What config/*.yaml may say. Unknown keys are an error, so a typo is not silently ignored."""

    name: str = "Hpc"
    tags: dict[str, str] = field(default_factory=dict)
    network: dict[str, Any] = field(default_factory=dict)
    fleets: dict[str, dict[str, Any]] = field(default_factory=dict)
    storage: dict[str, Any] = field(default_factory=dict)
    data_transfer: dict[str, Any] = field(default_factory=dict)
    batch: dict[str, Any] = field(default_factory=dict)
    bastion: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, raw: dict[str, Any]) -> ReferenceConfig:
        known = {"name", "tags", "network", "fleets", "storage", "data_transfer", "batch", "bastion"}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"config: unknown keys {unknown}; allowed: {sorted(known)}")
        return cls(**raw)


def load_config(path: str | Path) -> ReferenceConfig:
    raw = yaml.safe_load(Path(path).read_text()) or {}
    return ReferenceConfig.from_mapping(raw)


def build_reference_app(app: App, config: ReferenceConfig) -> dict[str, Stack]:
    """Add the reference stacks to `app`, with cdk-nag's AwsSolutions checks over all of them."""
    network = NetworkStack(app, f"{config.name}Network", network=config.network,
                           description="hpc-constructs reference environment: network")
    stacks: dict[str, Stack] = {"network": network}
    storage = None
    if config.storage:
        storage_stack = StorageStack(app, f"{config.name}Storage", network=network.network, storage=config.storage,
                                     description="hpc-constructs reference environment: storage")
        stacks["storage"] = storage_stack
        storage = storage_stack.storage
    if config.data_transfer:
        stacks["data_transfer"] = DataTransferStack(
            app, f"{config.name}DataTransfer", network=network.network, storage=storage,
            data_transfer=config.data_transfer,
            description="hpc-constructs reference environment: data transfer (DataSync, Direct Connect, Snowball)")
    bastion = None
    if config.bastion:
        access = AccessStack(app, f"{config.name}Access", network=network.network, bastion=config.bastion,
                             description="hpc-constructs reference environment: SSH bastions behind an NLB")
        stacks["access"] = access
        bastion = access.bastion
    if config.fleets:
        stacks["compute"] = ComputeStack(app, f"{config.name}Compute", network=network.network,
                                         fleets=config.fleets, storage=storage, bastion=bastion,
                                         description="hpc-constructs reference environment: compute fleets")
    if config.batch:
        compute = stacks.get("compute")
        stacks["batch"] = BatchStack(
            app, f"{config.name}Batch", network=network.network, storage=storage,
            fleets=compute.fleets if isinstance(compute, ComputeStack) else {}, batch=config.batch,
            description="hpc-constructs reference environment: AWS Batch (queues, MPI jobs over EFA, job events)")
    for key, value in config.tags.items():
        Tags.of(app).add(key, value)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stacks
