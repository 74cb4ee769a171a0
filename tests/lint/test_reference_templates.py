"""Every reference template is clean under cfn-lint, cdk-nag and CDK's validator, and within quotas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hpc_constructs.catalog import limits
from tests.cfn_lint import findings


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


def test_validation_report_has_no_findings(validation_report: dict[str, Any]) -> None:
    """cdk-nag (AwsSolutions) and CDK's CloudFormation validator report nothing unacknowledged.

    cdk-nag findings fail the synth itself, so reaching this test already proves there are none; the
    report is checked too so that warnings do not slip through.
    """
    violations = [
        v
        for report in validation_report.get("pluginReports", [])
        for v in report.get("violations", [])
    ]
    assert violations == []


def test_cdk_nag_is_wired_in(reference_assembly: Any) -> None:
    """The reference app registers the AwsSolutions pack (else 'no findings' would mean nothing)."""
    report = Path(reference_assembly.directory) / "validation-report.json"
    assert report.exists()


@pytest.mark.parametrize("limit", ["resources", "bytes"])
def test_templates_within_cloudformation_quotas(reference_template_files: dict[str, Path], limit: str) -> None:
    for name, path in reference_template_files.items():
        if limit == "resources":
            count = len(json.loads(path.read_text()).get("Resources", {}))
            assert count <= limits.CLOUDFORMATION.max_resources_per_template, name
        else:
            assert path.stat().st_size <= limits.CLOUDFORMATION.max_template_bytes, name
