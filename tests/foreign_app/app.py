#!/usr/bin/env python3
"""A foreign CDK app: what a user writes after `pip install hpc-constructs`.

It is not part of the test suite's import path: tests/test_foreign_app.py copies this file out of the
repository and runs it with a virtual environment that holds only the built wheel (plus the third-party
dependencies), so `hpc_constructs` must come from the installed wheel, data files included. There is no
cdk.json here: the app runs with CDK's default feature flags, as a user's app would.

    python app.py OUTDIR

synthesizes one stack, ForeignHpc, into OUTDIR and prints one JSON line: where hpc_constructs was
imported from and what the catalog says about the fleets' instance types (for the test to compare).
"""

from __future__ import annotations

import json
import sys

from aws_cdk import App, Stack

import hpc_constructs
from hpc_constructs import ComputeFleet, EfsSpec, HaBastion, HpcNetwork, StorageLayer, catalog

CPU_TYPE = "c6i.xlarge"
EFA_TYPE = "hpc7a.96xlarge"
STACK = "ForeignHpc"


def main(outdir: str) -> None:
    app = App(outdir=outdir)
    stack = Stack(app, STACK)
    network = HpcNetwork(stack, "Network")
    cpu = ComputeFleet(stack, "Cpu", vpc=network.vpc, instance_types=[CPU_TYPE], max_capacity=2)
    efa = ComputeFleet(stack, "Efa", vpc=network.vpc, subnet=network.cluster_subnet, instance_types=[EFA_TYPE],
                       max_capacity=2)
    storage = StorageLayer(stack, "Storage", vpc=network.vpc, efs=EfsSpec(mount_point="/shared"))
    storage.mount_on(cpu)
    storage.mount_on(efa)
    bastion = HaBastion(stack, "Bastion", vpc=network.vpc, allowed_cidrs=["203.0.113.0/24"])
    efa.allow_ssh_from(bastion)
    assembly = app.synth()

    efa_type = catalog.instance_type(EFA_TYPE)
    print(json.dumps({
        "hpc_constructs_file": hpc_constructs.__file__,
        "template_file": assembly.get_stack_by_name(STACK).template_full_path,
        "efa_type": EFA_TYPE,
        "efa_maximum_efa_interfaces": efa_type.maximum_efa_interfaces,
        "efa_network_cards": len(efa_type.network_cards),
    }))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: app.py OUTDIR")
    main(sys.argv[1])
