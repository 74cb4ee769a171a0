#!/usr/bin/env python3
"""The floor for `make bench`: a bare aws-cdk-lib app that creates what the reference app creates, directly.

    CDK_OUTDIR=/tmp/out python benchmarks/bare_app.py <cdk.out of the reference app>

For every stack of the given cloud assembly it makes a Stack of the same name and description, the same
dependencies between stacks, and then, for every resource, the same type, logical ID, properties and
resource attributes (DependsOn, DeletionPolicy, UpdateReplacePolicy, CreationPolicy, UpdatePolicy), the
same parameters and the same outputs and exports, and the same resource metadata (the hpc:paths declarations
that hpc-verify reads). Each resource is one aws-cdk-lib CfnResource: no
validation, no catalog, no cdk-nag, no L2 logic. It imports the aws-cdk-lib module of every resource type
it creates (aws_cdk.aws_ec2 for AWS::EC2::*, ...), as hand-written code that names those types must.
CDK adds the same BootstrapVersion parameter, rule and asset manifests to both apps.

The input is the reference app's own output, so (b) cannot drift from (a): benchmarks/bench.py
synthesizes (a) once, checks that this app's templates have the same resources and properties, then times
both. The JSON read is part of the measured time (a few milliseconds).
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk

# Resource attributes that are not properties; each present one is one add_override.
ATTRIBUTES = ("DependsOn", "DeletionPolicy", "UpdateReplacePolicy", "CreationPolicy", "UpdatePolicy", "Condition")
CDK_PARAMETERS = {"BootstrapVersion"}  # the default synthesizer adds it to every stack
CDK_METADATA = {"aws:cdk:path"}  # CDK writes it for every resource of both apps


def module_of(resource_type: str) -> str | None:
    """The aws-cdk-lib module that holds a CloudFormation type's L1 class: AWS::EC2::VPC -> aws_cdk.aws_ec2.

    None for a custom resource (Custom::...): its provider's own resources are replayed with their modules.
    """
    parts = resource_type.split("::")
    return f"aws_cdk.aws_{parts[1].lower()}" if parts[0] == "AWS" and len(parts) == 3 else None


def stack_order(manifest: dict[str, Any]) -> list[str]:
    """The assembly's stacks, each after the stacks it depends on (the order the reference app adds them)."""
    artifacts = manifest["artifacts"]
    stacks = [name for name, a in artifacts.items() if a["type"] == "aws:cloudformation:stack"]
    ordered: list[str] = []
    while len(ordered) < len(stacks):
        for name in stacks:
            deps = [d for d in artifacts[name].get("dependencies", []) if d in stacks]
            if name not in ordered and all(d in ordered for d in deps):
                ordered.append(name)
    return ordered


def build(app: cdk.App, assembly_dir: Path) -> dict[str, cdk.Stack]:
    manifest = json.loads((assembly_dir / "manifest.json").read_text())
    artifacts = manifest["artifacts"]
    stacks: dict[str, cdk.Stack] = {}
    for name in stack_order(manifest):
        template = json.loads((assembly_dir / artifacts[name]["properties"]["templateFile"]).read_text())
        stack = cdk.Stack(app, name, description=template.get("Description"))
        for dependency in artifacts[name].get("dependencies", []):
            if dependency in stacks:
                stack.add_stack_dependency(stacks[dependency])
        for logical_id, parameter in template.get("Parameters", {}).items():
            if logical_id in CDK_PARAMETERS:
                continue
            cfn_parameter = cdk.CfnParameter(stack, logical_id, type=parameter["Type"],
                                             default=parameter.get("Default"),
                                             description=parameter.get("Description"))
            cfn_parameter.override_logical_id(logical_id)
        for logical_id, resource in template.get("Resources", {}).items():
            if resource["Type"].startswith("AWS::CDK::"):
                continue  # CDK's own metadata resource, added to both apps
            module = module_of(resource["Type"])
            if module is not None:
                importlib.import_module(module)
            cfn = cdk.CfnResource(stack, logical_id, type=resource["Type"], properties=resource.get("Properties"))
            cfn.override_logical_id(logical_id)
            for attribute in ATTRIBUTES:
                if attribute in resource:
                    cfn.add_override(attribute, resource[attribute])
            for key, value in resource.get("Metadata", {}).items():
                if key not in CDK_METADATA:
                    cfn.add_metadata(key, value)  # the hpc:paths declarations hpc-verify reads, as (a) emits them
        for logical_id, output in template.get("Outputs", {}).items():
            export = output.get("Export", {}).get("Name")
            value = output["Value"]
            cfn_output = cdk.CfnOutput(stack, logical_id, export_name=export,
                                       value=value if isinstance(value, str) else cdk.Token.as_string(value),
                                       description=output.get("Description"))
            cfn_output.override_logical_id(logical_id)
        stacks[name] = stack
    return stacks


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: bare_app.py <cloud assembly directory of the reference app>", file=sys.stderr)
        return 2
    app = cdk.App()
    build(app, Path(argv[0]))
    app.synth()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
