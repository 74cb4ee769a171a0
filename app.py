#!/usr/bin/env python3
"""CDK entry point: reads the environment config and builds the reference HPC stacks.

Environment-agnostic: synthesizes without an AWS account. Run through the CDK CLI (`make synth`) so
that cdk.json's context (feature flags) applies; tests load the same context.
"""

from aws_cdk import App

from stacks import build_reference_app, load_config

app = App()
config_path = app.node.try_get_context("hpc:config") or "config/reference.yaml"
build_reference_app(app, load_config(config_path))
app.synth()
