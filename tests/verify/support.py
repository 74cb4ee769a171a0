"""Helpers for hpc-verify's tests: the reference assembly's templates, edited as JSON, checked again."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from hpc_constructs.verify import Assembly, Checker

Templates = dict[str, dict[str, Any]]


def variant(base: Assembly, edit: Callable[[Templates], None]) -> Assembly:
    """A copy of `base` whose templates `edit` changed in place ({stack name: template})."""
    stacks = copy.deepcopy(base.stacks)
    edit({s.name: s.template for s in stacks if s.parent is None})
    return Assembly(stacks)


def blocked(assembly: Assembly, lost_az: str | None = None) -> dict[str, str]:
    """The blocked paths and their reasons."""
    checker = Checker(assembly)
    return {r.path: r.reason for r in checker.run(lost_az) if not r.ok}


def results(assembly: Assembly, lost_az: str | None = None) -> dict[str, tuple[str, str]]:
    checker = Checker(assembly)
    return {r.path: (r.status, r.reason) for r in checker.run(lost_az)}


def logical_id(template: dict[str, Any], path: str) -> str:
    """The logical ID of the resource whose construct path (aws:cdk:path) is `path` (…/Resource optional)."""
    found = [k for k, r in template["Resources"].items()
             if r.get("Metadata", {}).get("aws:cdk:path") in (path, f"{path}/Resource")]
    assert len(found) == 1, f"{path}: {found}"
    return found[0]


def resource(template: dict[str, Any], path: str) -> dict[str, Any]:
    resources: dict[str, Any] = template["Resources"]
    return resources[logical_id(template, path)]


def delete(template: dict[str, Any], path: str) -> None:
    del template["Resources"][logical_id(template, path)]
