#!/usr/bin/env python3
"""CDK entry point: reads the environment config and builds the reference HPC stacks.

The config file comes from the context key "hpc:config" (cdk.json: config/reference.yaml), so
`cdk synth -c hpc:config=config/minimal.yaml` builds another one. A config that does not fit the schema
(stacks/config.py) stops here with one line per problem on stderr and exit status 1.

Environment-agnostic unless the config gives account and region: synthesizes without an AWS account.
Run through the CDK CLI (`make synth`) so that cdk.json's context (feature flags) applies; tests load
the same context. This is the only module that reads files.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml
from aws_cdk import App, Stack

from scripts.summary import summary_text
from stacks import ConfigFileError, ReferenceConfig, build_reference_app, parse_config

CONFIG_CONTEXT_KEY = "hpc:config"
DEFAULT_CONFIG = "config/reference.yaml"
NAG_CONTEXT_KEY = "hpc:nag"


def load_config(path: str | Path) -> ReferenceConfig:
    """Read a YAML config (an empty file is an empty mapping) and check it. Raises ConfigFileError."""
    source = str(path)
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise ConfigFileError(source, [f"cannot read the file: {error.strerror or error}"]) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigFileError(source, [f"not valid YAML: {_yaml_problem(error)}"]) from None
    return parse_config({} if raw is None else raw, source=source)


def _yaml_problem(error: yaml.YAMLError) -> str:
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        return f"{error.problem} (line {mark.line + 1}, column {mark.column + 1})"
    return " ".join(str(error).split())


def config_path(app: App) -> str:
    """The config file the app builds: the context key hpc:config, else config/reference.yaml."""
    value = app.node.try_get_context(CONFIG_CONTEXT_KEY)
    return str(value) if value else DEFAULT_CONFIG


def nag_enabled(app: App) -> bool:
    """cdk-nag's AwsSolutions checks run unless the context says `hpc:nag=false` (`cdk synth -c hpc:nag=false`).

    On by default, and always in tests and CI; off saves about a second of every synth (benchmarks/results.md).
    """
    value = app.node.try_get_context(NAG_CONTEXT_KEY)
    if value is None or value is True or str(value).strip().lower() in ("true", "1", "yes", "on"):
        return True
    if value is False or str(value).strip().lower() in ("false", "0", "no", "off"):
        return False
    raise ConfigFileError(f"context {NAG_CONTEXT_KEY}", [f"{value!r} is not true or false"])


def build_app(app: App) -> dict[str, Stack]:
    """Build the reference stacks into `app` from the config its context names (cdk-nag per `hpc:nag`)."""
    nag = nag_enabled(app)
    return build_reference_app(app, load_config(config_path(app)), nag=nag)


def main(app: App | None = None) -> None:
    """Build and synthesize `app` (by default App(), which the CDK CLI gives its context and output directory)."""
    app = app or App()
    try:
        build_app(app)
    except ConfigFileError as error:
        print(error, file=sys.stderr)
        raise SystemExit(1) from None
    assembly = app.synth()
    print(summary_text(Path(assembly.directory)), file=sys.stderr)  # every synth shows the human summary


if __name__ == "__main__":
    main()
