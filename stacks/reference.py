"""Builds the reference HPC environment from a parsed config (app.py reads and parses the YAML)."""

from __future__ import annotations

from typing import Any

from aws_cdk import App, Stack, Tags

from hpc_constructs import enable_cdk_nag
from stacks.access_stack import AccessStack
from stacks.batch_stack import BatchStack
from stacks.compute_stack import ComputeStack
from stacks.config import ReferenceConfig
from stacks.data_transfer_stack import DataTransferStack
from stacks.license_stack import LicenseStack
from stacks.network_stack import NetworkStack
from stacks.slurm_stack import SlurmStack
from stacks.storage_stack import StorageStack


def build_reference_app(app: App, config: ReferenceConfig, *, nag: bool = True) -> dict[str, Stack]:
    """Add the reference stacks to `app`, with cdk-nag's AwsSolutions checks over all of them unless `nag` is False.

    The network stack always; storage, data transfer, access (bastion), license server, compute (fleets), batch and
    slurm when the config has the section. The license server admits every fleet, Batch environment and Slurm node.
    With account and region, every stack gets that environment.
    """
    common: dict[str, Any] = {} if config.environment is None else {"env": config.environment}
    network = NetworkStack(app, f"{config.name}Network", network=config.network, ssh_users=config.ssh_users,
                           description="hpc-constructs reference environment: network and SSH users", **common)
    stacks: dict[str, Stack] = {"network": network}
    storage = None
    if config.storage is not None:
        storage_stack = StorageStack(app, f"{config.name}Storage", network=network.network, storage=config.storage,
                                     description="hpc-constructs reference environment: storage", **common)
        stacks["storage"] = storage_stack
        storage = storage_stack.storage
    if config.data_transfer is not None:
        stacks["data_transfer"] = DataTransferStack(
            app, f"{config.name}DataTransfer", network=network.network, storage=storage,
            data_transfer=config.data_transfer,
            description="hpc-constructs reference environment: data transfer (DataSync, Direct Connect, Snowball)",
            **common)
    bastion = None
    if config.bastion is not None:
        access = AccessStack(app, f"{config.name}Access", network=network.network, bastion=config.bastion,
                             ssh_users=network.ssh_users,
                             description="hpc-constructs reference environment: SSH bastions behind an NLB", **common)
        stacks["access"] = access
        bastion = access.bastion
    license = None
    # The stacks' templates estimate the license server's rules beside each client group (stacks.nesting).
    license_ports = len(config.license_server.ports) if config.license_server is not None else 0
    if config.license_server is not None:
        license = LicenseStack(
            app, f"{config.name}License", network=network.network, license_server=config.license_server,
            description="hpc-constructs reference environment: license server (HaInstance)", **common)
        stacks["license"] = license
    if config.fleets:
        stacks["compute"] = ComputeStack(app, f"{config.name}Compute", network=network.network,
                                         fleets=config.fleets, storage=storage, bastion=bastion,
                                         ssh_users=network.ssh_users, license_ports=license_ports,
                                         description="hpc-constructs reference environment: compute fleets", **common)
    if config.batch is not None:
        compute = stacks.get("compute")
        stacks["batch"] = BatchStack(
            app, f"{config.name}Batch", network=network.network, storage=storage,
            fleets=compute.fleets if isinstance(compute, ComputeStack) else {}, batch=config.batch,
            license_ports=license_ports,
            description="hpc-constructs reference environment: AWS Batch (queues, MPI jobs over EFA, job events)",
            **common)
    if config.slurm is not None:
        stacks["slurm"] = SlurmStack(
            app, f"{config.name}Slurm", network=network.network, slurm=config.slurm, storage=storage, bastion=bastion,
            ssh_users=network.ssh_users,
            description="hpc-constructs reference environment: Slurm on AWS PCS (queues over EFA, login nodes)",
            **common)
    if license is not None:
        compute, batch, slurm = stacks.get("compute"), stacks.get("batch"), stacks.get("slurm")
        license.allow_clients(*(compute.fleets.values() if isinstance(compute, ComputeStack) else ()),
                              *(batch.orchestrations if isinstance(batch, BatchStack) else ()),
                              *((slurm.cluster,) if isinstance(slurm, SlurmStack) else ()))
    for key, value in config.tags.items():
        Tags.of(app).add(key, value)
    if nag:
        enable_cdk_nag(app)
    return stacks
