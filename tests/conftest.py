"""Session-scoped fixtures: the reference app is synthesized once (jsii start-up is costly)."""

from __future__ import annotations

import json
import os

# jsii's end-of-life banner for Node 20 is silenced when the value names the major version.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import cx_api

from app import load_config
from stacks import build_reference_app
from tests.support import ROOT, new_app


@pytest.fixture(scope="session")
def reference_outdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cdk.out")


@pytest.fixture(scope="session")
def reference_assembly(reference_outdir: Path) -> cx_api.CloudAssembly:
    """The reference app as `make synth` builds it: cdk.json context, config/reference.yaml, cdk-nag."""
    app = new_app(outdir=str(reference_outdir))
    build_reference_app(app, load_config(ROOT / "config" / "reference.yaml"))
    return app.synth()


@pytest.fixture(scope="session")
def reference_templates(reference_assembly: cx_api.CloudAssembly) -> dict[str, dict[str, Any]]:
    return {stack.stack_name: stack.template for stack in reference_assembly.stacks}


@pytest.fixture(scope="session")
def reference_template_files(reference_assembly: cx_api.CloudAssembly) -> dict[str, Path]:
    outdir = Path(reference_assembly.directory)
    return {stack.stack_name: outdir / stack.template_file for stack in reference_assembly.stacks}


@pytest.fixture(scope="session")
def validation_report(reference_assembly: cx_api.CloudAssembly) -> dict[str, Any]:
    path = Path(reference_assembly.directory) / "validation-report.json"
    report: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {"pluginReports": []}
    return report
