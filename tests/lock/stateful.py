"""Which resources hold data, and the lock file that pins their logical IDs in the reference stacks.

CloudFormation knows a resource by its logical ID. Rename one (move its construct, change an id)
and the next deploy creates a new, empty resource under the new ID and deletes the old one, or, with
RETAIN, leaves it orphaned outside the stack: the data does not follow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

LOCK_FILE = Path(__file__).resolve().parent / "stateful-logical-ids.json"

# Types whose replacement loses data: file systems, volumes, buckets, logs, keys. Every FSx type counts
# (file systems, volumes, data repository associations).
STATEFUL_TYPES = frozenset({
    "AWS::EC2::Volume",
    "AWS::EFS::FileSystem",
    "AWS::KMS::Key",  # a new key cannot decrypt what the old one encrypted
    "AWS::Logs::LogGroup",
    "AWS::PCS::Cluster",  # a new cluster starts with an empty queue and, with accounting, no job records
    "AWS::S3::Bucket",
})
STATEFUL_PREFIXES = ("AWS::FSx::",)


def is_stateful(resource_type: str) -> bool:
    return resource_type in STATEFUL_TYPES or resource_type.startswith(STATEFUL_PREFIXES)


def stateful_ids(templates: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    """{stack: {logical ID: type}} for every stateful resource in the templates."""
    return {
        stack: dict(sorted((logical_id, resource["Type"])
                           for logical_id, resource in template.get("Resources", {}).items()
                           if is_stateful(resource["Type"])))
        for stack, template in sorted(templates.items())
    }


def read_lock() -> dict[str, dict[str, str]]:
    locked: dict[str, dict[str, str]] = json.loads(LOCK_FILE.read_text())
    return locked


def render(ids: dict[str, dict[str, str]]) -> str:
    return json.dumps(ids, indent=2, sort_keys=True) + "\n"


def lock_problems(locked: dict[str, dict[str, str]], current: dict[str, dict[str, str]]) -> list[str]:
    """What breaks the lock, each with its consequence; [] when every locked resource is in place."""
    problems = []
    for stack, resources in sorted(locked.items()):
        now = current.get(stack)
        if now is None:
            problems.append(f"{stack}: the stack is gone, and with it {len(resources)} stateful resource(s): "
                            f"{', '.join(sorted(resources))}. Its data would be deleted or orphaned.")
            continue
        for logical_id, resource_type in sorted(resources.items()):
            if logical_id not in now:
                same_type = sorted(i for i, t in now.items() if t == resource_type and i not in resources)
                moved = f" (now under {', '.join(same_type)}?)" if same_type else ""
                problems.append(
                    f"{stack}: {logical_id} ({resource_type}) is no longer in the template{moved}. On the next "
                    "deploy CloudFormation would create a new, empty resource and delete the old one, or "
                    "orphan it under RETAIN: the data does not move. Keep the logical ID (restore the "
                    "construct path, or override_logical_id), or, if losing it is the point, change "
                    f"{LOCK_FILE.name} in a commit that says why.")
            elif now[logical_id] != resource_type:
                problems.append(
                    f"{stack}: {logical_id} changed type from {resource_type} to {now[logical_id]}. "
                    "CloudFormation would delete the old resource and its data. Change "
                    f"{LOCK_FILE.name} in a commit that says why.")
    for stack, resources in sorted(current.items()):
        new = sorted(set(resources) - set(locked.get(stack, {})))
        if new:
            problems.append(
                f"{stack}: stateful resource(s) not in the lock: {', '.join(new)}. Add them to "
                f"{LOCK_FILE.name} (scripts/stateful_lock.py --write) in the commit that adds them, so that "
                "a later rename is caught.")
    return problems
