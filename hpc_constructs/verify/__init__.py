"""hpc-verify: every path an HPC user walks, checked from the synthesized templates, also with an AZ lost.

    python -m hpc_constructs.verify cdk.out [--lose-az 0 | --each-az] [--json]

Constructs declare the paths their users and boot need as template metadata (hpc_constructs.paths); this package
reads a cloud assembly (manifest.json, the templates, nested stacks, cross-stack references) and checks each path
against the security groups (and the VPC's default group), launch templates, network ACLs, route tables, VPC
endpoints, NAT gateways, load balancers and IAM policies the templates define. Pure Python over JSON: it imports
no CDK and deploys nothing. What it models and what it does not: docs/verify.md.

Written here rather than on a library: none evaluates a whole cloud assembly offline. cfn-lint (a development
tool of this repo, not a runtime dependency) resolves conditions but not physical IDs, cross-stack values or CDK's
Fn::GetStackOutput; cloud-radar renders one template's intrinsics (no nested stacks, no other stacks' outputs);
policyuniverse parses ARNs and wildcards but evaluates no request, condition or resource policy (last release
2023); iam-ape needs an account's authorization-details dump; moto's IAM (a test dependency) skips conditions.
The library keeps aws-cdk-lib and constructs as its only runtime dependencies.
"""

from hpc_constructs.verify.assembly import Assembly
from hpc_constructs.verify.check import Checker, Result, declarations, verify
from hpc_constructs.verify.errors import AssemblyError

__all__ = ["Assembly", "AssemblyError", "Checker", "Result", "declarations", "verify"]
