"""app.py's `hpc:nag` switch: cdk-nag on unless the context turns it off, and a wrong value is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import App

from app import load_config, nag_enabled
from stacks import ConfigFileError, build_reference_app
from tests.support import ROOT, cdk_context


@pytest.mark.parametrize(("value", "expected"), [
    (None, True), (True, True), ("true", True), ("TRUE", True), (False, False), ("false", False), ("off", False),
])
def test_nag_switch(value: object, expected: bool) -> None:
    context = cdk_context() if value is None else {**cdk_context(), "hpc:nag": value}
    assert nag_enabled(App(context=context)) is expected


def test_a_wrong_nag_value_is_refused() -> None:
    with pytest.raises(ConfigFileError, match=r"hpc:nag.*'maybe' is not true or false"):
        nag_enabled(App(context={"hpc:nag": "maybe"}))


def _plugins(nag: bool, tmp_path: Path) -> list[str]:
    app = App(context=cdk_context(), outdir=str(tmp_path))
    build_reference_app(app, load_config(ROOT / "config" / "minimal.yaml"), nag=nag)
    report = Path(app.synth().directory) / "validation-report.json"
    return [r["pluginName"] for r in json.loads(report.read_text())["pluginReports"]] if report.exists() else []


def test_nag_off_runs_no_cdk_nag(tmp_path: Path) -> None:
    on, off = _plugins(True, tmp_path / "on"), _plugins(False, tmp_path / "off")
    assert any("AwsSolutions" in name for name in on), on
    assert not any("AwsSolutions" in name for name in off), off
