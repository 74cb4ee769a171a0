"""One syrupy JSON snapshot per reference stack, normalized so only real changes show in a diff.

CI never updates snapshots. To accept a reviewed change: `.venv/bin/pytest tests/snapshots --snapshot-update`,
then commit the snapshot with a message that explains why it changed.
"""

from __future__ import annotations

from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from tests.support import normalize


@pytest.fixture
def snapshot_json(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension)


STACKS = ["HpcNetwork", "HpcStorage", "HpcDataTransfer", "HpcAccess", "HpcLicense", "HpcCompute", "HpcBatch",
          "HpcSlurm"]


@pytest.mark.parametrize("stack", STACKS)
def test_stack_snapshot(reference_templates: dict[str, dict[str, Any]], snapshot_json: SnapshotAssertion,
                        stack: str) -> None:
    assert normalize(reference_templates[stack]) == snapshot_json


def test_every_stack_has_a_snapshot(reference_templates: dict[str, dict[str, Any]]) -> None:
    assert set(reference_templates) == set(STACKS)


def test_normalize_removes_volatile_values() -> None:
    template = {
        "Resources": {
            "CDKMetadata": {"Type": "AWS::CDK::Metadata", "Properties": {"Analytics": "v2:deflate64:abc"}},
            "Fn": {"Type": "AWS::Lambda::Function",
                   "Properties": {"Code": {"S3Key": "0123456789abcdef" * 4 + ".zip"}}},
        },
        "Conditions": {"CDKMetadataAvailable": {}},
    }
    assert normalize(template) == {
        "Resources": {"Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Code": {"S3Key": "<asset-hash>.zip"}}}}
    }
