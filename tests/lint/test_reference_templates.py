"""Every reference template is clean under cfn-lint, cdk-nag and CDK's validator, and within quotas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import aws_s3 as s3

from app import load_config
from hpc_constructs.catalog import limits
from stacks import build_reference_app
from tests.cfn_lint import findings
from tests.support import ROOT, new_app


def test_reference_app_has_stacks(reference_templates: dict[str, dict[str, Any]]) -> None:
    assert {"HpcNetwork", "HpcStorage", "HpcCompute"} <= set(reference_templates)


def test_cfn_lint_finds_nothing(reference_templates: dict[str, dict[str, Any]]) -> None:
    problems = {name: findings(t) for name, t in reference_templates.items()}
    assert problems == {name: [] for name in reference_templates}


def test_cfn_lint_catches_a_broken_template() -> None:
    """The lint harness itself must be able to fail: a bad instance type and a bad GetAtt."""
    broken = {
        "Resources": {
            "Box": {"Type": "AWS::EC2::Instance",
                    "Properties": {"InstanceType": "t3.giant", "ImageId": "ami-12345678"}},
            "Out": {"Type": "AWS::SSM::Parameter",
                    "Properties": {"Type": "String", "Value": {"Fn::GetAtt": ["Box", "NoSuchAttribute"]}}},
        }
    }
    assert any(line.startswith("E") for line in findings(broken))


def _aws_solutions(report: dict[str, Any]) -> dict[str, Any]:
    (nag,) = [r for r in report.get("pluginReports", []) if r.get("pluginName") == "AwsSolutions"]
    return nag


def test_cdk_nag_ran_and_found_nothing(validation_report: dict[str, Any]) -> None:
    """cdk-nag's AwsSolutions report is in the reference app's validation report, with no violation.

    CDK writes validation-report.json with empty pluginReports when no plugin is registered, so the
    report's presence proves nothing: the AwsSolutions entry must be there.
    """
    nag = _aws_solutions(validation_report)
    assert nag["conclusion"] == "success"
    assert nag["violations"] == []
    # the acknowledged findings are in the report, each with its reason
    assert nag["suppressedViolations"]
    assert all(v["reason"].strip() for v in nag["suppressedViolations"])


def test_cdk_nag_checks_every_reference_stack(tmp_path: Path) -> None:
    """A bucket without access logs or TLS (AwsSolutions-S1, S10) in each reference stack is reported in each."""
    app = new_app(outdir=str(tmp_path))
    stacks = build_reference_app(app, load_config(ROOT / "config" / "reference.yaml"))
    for stack in stacks.values():
        s3.CfnBucket(stack, "NagCanary")
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    nag = _aws_solutions(json.loads((tmp_path / "validation-report.json").read_text()))
    assert nag["conclusion"] == "failure"
    reported = {(v["ruleName"], c["constructPath"]) for v in nag["violations"] for c in v["violatingConstructs"]}
    names = sorted(stack.stack_name for stack in stacks.values())
    assert names == ["HpcAccess", "HpcBatch", "HpcCompute", "HpcDataTransfer", "HpcLicense", "HpcNetwork", "HpcSlurm",
                     "HpcStorage"]
    for rule in ("AwsSolutions-S1", "AwsSolutions-S10"):
        assert {path for r, path in reported if r == rule} == {f"{name}/NagCanary" for name in names}


@pytest.mark.parametrize("limit", ["resources", "bytes"])
def test_templates_within_cloudformation_quotas(reference_template_files: dict[str, Path], limit: str) -> None:
    for name, path in reference_template_files.items():
        if limit == "resources":
            count = len(json.loads(path.read_text()).get("Resources", {}))
            assert count <= limits.CLOUDFORMATION.max_resources_per_template, name
        else:
            assert path.stat().st_size <= limits.CLOUDFORMATION.max_template_bytes, name
