"""The logical IDs of the reference stacks' stateful resources are locked (tests/lock/stateful-logical-ids.json).

Changing the lock is deliberate: run scripts/stateful_lock.py --write and say why in the commit message.
"""

from __future__ import annotations

from typing import Any

from tests.lock.stateful import LOCK_FILE, lock_problems, read_lock, render, stateful_ids


def test_stateful_logical_ids_are_locked(reference_templates: dict[str, dict[str, Any]]) -> None:
    problems = lock_problems(read_lock(), stateful_ids(reference_templates))
    assert not problems, "\n".join(problems)


def test_lock_file_is_in_canonical_form() -> None:
    assert LOCK_FILE.read_text() == render(read_lock())


def test_lock_covers_every_kind_of_storage() -> None:
    """The reference environment has each stateful type, so the lock guards each of them."""
    types = {t for resources in read_lock().values() for t in resources.values()}
    assert {"AWS::FSx::FileSystem", "AWS::EC2::Volume", "AWS::EFS::FileSystem", "AWS::S3::Bucket",
            "AWS::Logs::LogGroup"} <= types


LOCKED = {"S": {"Data1234": "AWS::EFS::FileSystem", "Logs": "AWS::S3::Bucket"}}


def test_a_renamed_resource_breaks_the_lock() -> None:
    problem, unlocked = lock_problems(LOCKED, {"S": {"Data9999": "AWS::EFS::FileSystem", "Logs": "AWS::S3::Bucket"}})
    assert "not in the lock: Data9999" in unlocked
    assert problem.startswith("S: Data1234 (AWS::EFS::FileSystem) is no longer in the template (now under Data9999?)")
    assert "new, empty resource" in problem


def test_a_changed_type_breaks_the_lock() -> None:
    (problem,) = lock_problems(LOCKED, {"S": {"Data1234": "AWS::FSx::FileSystem", "Logs": "AWS::S3::Bucket"}})
    assert "changed type from AWS::EFS::FileSystem to AWS::FSx::FileSystem" in problem


def test_a_new_unlocked_resource_breaks_the_lock() -> None:
    (problem,) = lock_problems(LOCKED, {"S": {**LOCKED["S"], "Extra": "AWS::Logs::LogGroup"}})
    assert "not in the lock: Extra" in problem


def test_a_removed_stack_breaks_the_lock() -> None:
    (problem,) = lock_problems(LOCKED, {})
    assert problem.startswith("S: the stack is gone")


def test_an_unchanged_template_keeps_the_lock() -> None:
    assert lock_problems(LOCKED, {"S": dict(LOCKED["S"])}) == []
