"""Drift: the network ACL and load-balancer figures HaBastion relies on match the pinned botocore models, and the
construct's own settings sit inside them."""

from __future__ import annotations

import re

from hpc_constructs import bastion
from hpc_constructs.bastion_plan import ALLOW_BASE, DENY_BASE, SSH_ALLOW_BASE
from hpc_constructs.catalog.limits import BASTION, NETWORK_ACL
from tests.unit.test_transfer_limits_drift import _doc, _shape


def test_acl_rule_numbers() -> None:
    text = _doc("ec2", "CreateNetworkAclEntryRequest", "RuleNumber")
    low, high = map(int, re.search(r"Positive integer from (\d+) to (\d+)", text).groups())  # type: ignore[union-attr]
    assert (low, high) == (NETWORK_ACL.min_rule_number, NETWORK_ACL.max_rule_number)
    quota = NETWORK_ACL.max_rules_per_direction
    numbers = [*DENY_BASE.values(), *(b + quota - 1 for b in DENY_BASE.values()), *ALLOW_BASE.values(),
               *(b + quota for b in SSH_ALLOW_BASE.values())]
    assert all(low <= n <= high for n in numbers)
    assert max(b + quota - 1 for b in DENY_BASE.values()) < min(ALLOW_BASE.values())


def test_health_check_interval_and_thresholds() -> None:
    interval = _shape("elbv2", "HealthCheckIntervalSeconds")
    assert (interval["min"], interval["max"]) == BASTION.health_check_interval_range
    threshold = _shape("elbv2", "HealthCheckThresholdCount")
    assert (threshold["min"], threshold["max"]) == BASTION.health_check_threshold_range
    low, high = BASTION.health_check_interval_range
    assert low <= bastion.HEALTH_CHECK_INTERVAL.to_seconds() <= high
    low, high = BASTION.health_check_threshold_range
    assert low <= bastion.HEALTH_CHECK_THRESHOLD <= high


def test_key_pair_name_length() -> None:
    text = _doc("ec2", "CreateKeyPairRequest", "KeyName")
    assert f"Up to {BASTION.max_key_name_chars} ASCII characters" in text


def test_deregistration_delay() -> None:
    text = _doc("elbv2", "TargetGroupAttribute", "Key")
    match = re.search(r"deregistration_delay.timeout_seconds - .*?The range is (\d+)-(\d+) seconds", text)
    assert match, "the model no longer documents the deregistration delay's range"
    assert tuple(map(int, match.groups())) == BASTION.deregistration_delay_range
    low, high = BASTION.deregistration_delay_range
    assert low <= bastion.DEREGISTRATION_DELAY.to_seconds() <= high


def test_host_key_version_token() -> None:
    """The script's fixed client request token fits the model, becomes the version ID, and a version never
    changes: what makes the first writer the only one."""
    from importlib import resources

    script = resources.files("hpc_constructs").joinpath("scripts/hpc-bastion-host-keys.sh").read_text()
    token = re.search(r'^token="([^"]+)"', script, re.M).group(1)  # type: ignore[union-attr]
    for shape in ("ClientRequestTokenType", "SecretVersionIdType"):
        limits = _shape("secretsmanager", shape)
        assert limits["min"] <= len(token) <= limits["max"]
    text = _doc("secretsmanager", "PutSecretValueRequest", "ClientRequestToken")
    assert "This value becomes the VersionId of the new version" in text
    assert "the request fails because you can't modify a secret version" in text
