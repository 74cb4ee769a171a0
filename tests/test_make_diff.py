"""make diff (scripts/diff.py): the pinned CLI's resource-level diff against a base ref, and the stateful check; and
`cdk synth` through the pinned CLI gives the same templates as the in-process fixture (make diff's synth)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scripts.diff import stateful_changes
from tests.support import ROOT, normalize

CDK = ROOT / "node_modules" / ".bin" / "cdk"

BASE = {"Resources": {"Data1": {"Type": "AWS::EFS::FileSystem"}, "Sg": {"Type": "AWS::EC2::SecurityGroup"},
                      "Vol": {"Type": "AWS::EC2::Volume"}}}


def test_a_renamed_file_system_is_at_risk() -> None:
    head = {"Resources": {"Data2": {"Type": "AWS::EFS::FileSystem"}, "Vol": {"Type": "AWS::EC2::Volume"}}}
    (note,) = stateful_changes("S", BASE, head, "")
    assert note.startswith("S: Data1 (AWS::EFS::FileSystem) leaves the stack")


def test_a_replaced_volume_is_at_risk() -> None:
    diff = "[~] AWS::EC2::Volume Layer/Vol Vol replace\n └─ [~] AvailabilityZone (requires replacement)"
    (note,) = stateful_changes("S", BASE, BASE, diff)
    assert note == "S: Vol (AWS::EC2::Volume) is replaced: its data does not move"


def test_stateless_changes_are_not_flagged() -> None:
    diff = "[~] AWS::EC2::SecurityGroup Layer/Sg Sg replace"
    assert stateful_changes("S", BASE, {"Resources": dict(BASE["Resources"])}, diff) == []


@pytest.fixture(scope="module")
def make_diff(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """`make diff` against HEAD, run once: its output, and the working tree's cloud assembly that it synthesized
    with the pinned CLI (`cdk synth --output`, kept by --head-out), which test_cli_synth_matches_fixture compares
    with the in-process synth. One CLI synth of the working tree serves both tests."""
    assert CDK.exists(), "node_modules/.bin/cdk is missing: run make setup"
    head_out = tmp_path_factory.mktemp("head.out")
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    result = subprocess.run([sys.executable, "scripts/diff.py", "--base", "HEAD", "--head-out", str(head_out)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    return result, head_out


@pytest.mark.cli
def test_make_diff_runs_against_head(make_diff: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    """Runs the pinned CLI: make test installs it (npm ci), so a missing CLI fails here rather than skips."""
    result, _ = make_diff
    assert result.returncode == 0, result.stdout + result.stderr
    for stack in ("HpcNetwork", "HpcStorage", "HpcCompute"):
        assert f"Stack {stack}" in result.stdout
    assert "stack(s) differ from HEAD" in result.stdout
    report = result.stdout.split("Update safety (hpc_constructs.changes), HEAD -> working tree", 1)[1]
    assert report.splitlines()[1] == "No resource is replaced."


@pytest.mark.cli
def test_cli_synth_matches_fixture(make_diff: tuple[subprocess.CompletedProcess[str], Path],
                                   reference_templates: dict[str, dict[str, Any]]) -> None:
    """`cdk synth` through the pinned CLI (make diff's synth of the working tree: `cdk synth --quiet --output`
    in the repository, app.py and cdk.json as `make synth` runs them) gives the same templates as the in-process
    fixture. Like make diff's test, a missing CLI fails (the fixture's assert) rather than skips."""
    _, head_out = make_diff
    for name, template in reference_templates.items():
        cli = json.loads((head_out / f"{name}.template.json").read_text())
        assert normalize(cli) == normalize(template), name
