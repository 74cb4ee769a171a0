"""`enable_cdk_nag(app)`: the one line that runs cdk-nag in a user's app, and the core install without cdk-nag.

A user's app has no cdk.json of ours and no reference stacks: App() with CDK's default feature flags. Without the
line, CDK writes validation-report.json with empty pluginReports; with it, AwsSolutions reports, the library's
acknowledgments apply (a fleet and a bastion synthesize clean) and a finding of the user's own fails the synth.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_s3 as s3

from hpc_constructs import ComputeFleet, HaBastion, HpcNetwork, enable_cdk_nag
from tests.support import ROOT


def _user_app(outdir: Path, *, nag: bool, canary: bool) -> App:
    app = App(outdir=str(outdir))
    if nag:
        enable_cdk_nag(app)
    stack = Stack(app, "MyHpc")
    network = HpcNetwork(stack, "Network")
    fleet = ComputeFleet(stack, "Cpu", vpc=network.vpc, instance_types=["c7i.large"], max_capacity=2)
    fleet.allow_ssh_from(HaBastion(stack, "Bastion", vpc=network.vpc, allowed_cidrs=["198.51.100.0/24"]))
    if canary:
        s3.CfnBucket(stack, "MyBucket")  # no access logs, no TLS-only policy: AwsSolutions-S1 and S10
    return app


def _plugin_reports(outdir: Path) -> list[dict[str, Any]]:
    reports: list[dict[str, Any]] = json.loads((outdir / "validation-report.json").read_text())["pluginReports"]
    return reports


def test_without_the_line_no_plugin_runs(tmp_path: Path) -> None:
    _user_app(tmp_path, nag=False, canary=True).synth()
    assert _plugin_reports(tmp_path) == []


def test_the_line_runs_cdk_nag_with_the_librarys_acknowledgments(tmp_path: Path) -> None:
    _user_app(tmp_path, nag=True, canary=False).synth()
    (report,) = [r for r in _plugin_reports(tmp_path) if r["pluginName"] == "AwsSolutions"]
    assert report["conclusion"] == "success", report["violations"]
    # The library's own findings are there, acknowledged where the constructs made the resources, with a reason.
    suppressed = {(v["ruleName"], c["constructPath"].split("/")[1]) for v in report["suppressedViolations"]
                  for c in v["violatingConstructs"]}
    assert {construct for _, construct in suppressed} >= {"Cpu", "Bastion"}, suppressed
    assert all(v["reason"].strip() for v in report["suppressedViolations"])


def test_the_line_reports_the_users_own_findings(tmp_path: Path) -> None:
    app = _user_app(tmp_path, nag=True, canary=True)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    (report,) = [r for r in _plugin_reports(tmp_path) if r["pluginName"] == "AwsSolutions"]
    assert report["conclusion"] == "failure"
    found = {(v["ruleName"], c["constructPath"]) for v in report["violations"] for c in v["violatingConstructs"]}
    assert {("AwsSolutions-S1", "MyHpc/MyBucket"), ("AwsSolutions-S10", "MyHpc/MyBucket")} <= found
    assert all(path == "MyHpc/MyBucket" for _, path in found), found  # nothing of the library's


# Run in a fresh interpreter where `import cdk_nag` fails, as in an install without the [nag] extra.
_WITHOUT_CDK_NAG = textwrap.dedent("""
    import importlib, json, pkgutil, sys
    sys.modules["cdk_nag"] = None  # import cdk_nag now raises ImportError, as if it were not installed
    import hpc_constructs
    modules = [m.name for m in pkgutil.walk_packages(hpc_constructs.__path__, "hpc_constructs.")
               if not m.name.endswith(".__main__")]  # a command line, not a module to import
    for name in modules:
        importlib.import_module(name)
    from aws_cdk import App, Stack
    app = App()
    network = hpc_constructs.HpcNetwork(Stack(app, "S"), "Network")
    app.synth()
    try:
        hpc_constructs.enable_cdk_nag(app)
    except ImportError as error:
        message = str(error)
    else:
        message = None
    print(json.dumps({"modules": modules, "message": message,
                      "loaded": sorted(m for m in sys.modules if m.startswith("cdk_nag") and sys.modules[m])}))
""")


def test_the_core_install_works_without_cdk_nag() -> None:
    done = subprocess.run([sys.executable, "-c", _WITHOUT_CDK_NAG], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "hpc_constructs.nag" in result["modules"] and len(result["modules"]) > 30
    assert result["loaded"] == []
    assert result["message"] is not None, "enable_cdk_nag ran without cdk-nag"
    assert 'pip install "hpc-constructs[nag]"' in result["message"]
