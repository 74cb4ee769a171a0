"""Drift: the snapshot-schedule and lifecycle-hook figures HaInstance relies on match the pinned botocore models."""

from __future__ import annotations

import re

from hpc_constructs.catalog.limits import HA_INSTANCE, SNAPSHOT_SCHEDULES
from hpc_constructs.ha_instance_plan import DEFAULT_LAUNCH_TIMEOUT_SECONDS, DEFAULT_TERMINATION_TIMEOUT_SECONDS
from tests.unit.test_transfer_limits_drift import _doc, _member_shape, _shape


def test_dlm_intervals() -> None:
    text = _doc("dlm", "CreateRule", "Interval")
    match = re.search(r"The supported values are ([\d ,and]+)\.", text)
    assert match, f"the DLM model no longer lists its intervals: {text}"
    assert tuple(int(n) for n in re.findall(r"\d+", match.group(1))) == SNAPSHOT_SCHEDULES.dlm_interval_hours
    assert _shape("dlm", "IntervalUnitValues")["enum"] == ["HOURS"]


def test_dlm_cron_is_no_shorter_than_an_hour() -> None:
    text = _doc("dlm", "CreateRule", "CronExpression")
    assert "The schedule interval must be between 1 hour and 1 year" in text
    assert SNAPSHOT_SCHEDULES.dlm_interval_hours[0] == 1


def test_dlm_retain_count() -> None:
    assert _member_shape("dlm", "RetainRule", "Count")["max"] == SNAPSHOT_SCHEDULES.dlm_max_retain_count


def test_scheduler_rate_is_whole_minutes_from_one() -> None:
    text = _doc("scheduler", "CreateScheduleInput", "ScheduleExpression")
    assert "a value as a positive integer" in text and "minute | minutes" in text
    assert SNAPSHOT_SCHEDULES.scheduler_min_rate_minutes == 1
    assert _shape("scheduler", "ScheduleExpression")["max"] == SNAPSHOT_SCHEDULES.scheduler_max_expression_chars


def test_lifecycle_hook_heartbeat_timeout() -> None:
    text = _doc("autoscaling", "LifecycleHookSpecification", "HeartbeatTimeout")
    low, high = map(int, re.search(r"The range is from (\d+) to (\d+) seconds", text).groups())  # type: ignore[union-attr]
    assert (low, high) == HA_INSTANCE.heartbeat_timeout_range
    assert low <= DEFAULT_LAUNCH_TIMEOUT_SECONDS <= high and low <= DEFAULT_TERMINATION_TIMEOUT_SECONDS <= high


def test_terminate_and_launch_percentages() -> None:
    minimum = _doc("autoscaling", "InstanceMaintenancePolicy", "MinHealthyPercentage")
    maximum = _doc("autoscaling", "InstanceMaintenancePolicy", "MaxHealthyPercentage")
    assert "Value range is 0 to 100" in minimum and "Value range is 100 to 200" in maximum
    assert HA_INSTANCE.min_healthy_percentage == 0 and HA_INSTANCE.max_healthy_percentage == 100
