"""hpc-verify: every path an HPC user walks, checked from the synthesized templates, also with an AZ lost.

    python -m hpc_constructs.verify cdk.out [--lose-az 0 | --each-az] [--json]

Constructs declare the paths their users and boot need as template metadata (hpc_constructs.paths); this package
reads a cloud assembly (manifest.json, the templates, nested stacks, cross-stack references) and checks each path
against the security groups (and the VPC's default group), launch templates, network ACLs, route tables, VPC
endpoints, NAT gateways, load balancers and IAM policies the templates define. Pure Python over JSON: it imports
no CDK and deploys nothing. What it models and what it does not: README.md, "hpc-verify".
"""

from hpc_constructs.verify.assembly import Assembly
from hpc_constructs.verify.check import Checker, Result, declarations, verify
from hpc_constructs.verify.errors import AssemblyError

__all__ = ["Assembly", "AssemblyError", "Checker", "Result", "declarations", "verify"]
