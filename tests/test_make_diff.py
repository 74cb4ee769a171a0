"""make diff (scripts/diff.py): the pinned CLI's resource-level diff against a base ref, and the stateful check."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from scripts.diff import stateful_changes
from tests.support import ROOT

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


@pytest.mark.cli
def test_make_diff_runs_against_head() -> None:
    """Runs the pinned CLI: make test installs it (npm ci), so a missing CLI fails here rather than skips."""
    assert CDK.exists(), "node_modules/.bin/cdk is missing: run make setup"
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    result = subprocess.run([sys.executable, "scripts/diff.py", "--base", "HEAD"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    for stack in ("HpcNetwork", "HpcStorage", "HpcCompute"):
        assert f"Stack {stack}" in result.stdout
    assert "stack(s) differ from HEAD" in result.stdout
    report = result.stdout.split("Update safety (hpc_constructs.changes), HEAD -> working tree", 1)[1]
    assert report.splitlines()[1] == "No resource is replaced."
