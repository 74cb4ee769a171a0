"""tests/cfn_lint.py's `findings` (rules loaded once a process) gives what cfnlint.api.lint gives."""

from __future__ import annotations

import copy
import json
from typing import Any

from cfnlint.api import ManualArgs, lint

from tests.cfn_lint import IGNORED_RULES, REGIONS, findings


def _lint_lines(template: dict[str, Any]) -> list[str]:
    config = ManualArgs(regions=REGIONS, ignore_checks=sorted(IGNORED_RULES))
    return [f"{m.rule.id} {m.path_string if hasattr(m, 'path_string') else m.path}: {m.message}"
            for m in lint(json.dumps(template), config=config) if m.rule.id[0] != "I"]


def test_findings_are_cfn_lints_own(reference_templates: dict[str, dict[str, Any]]) -> None:
    template = reference_templates["HpcStorage"]
    broken = copy.deepcopy(template)
    group = next(r for r in broken["Resources"].values() if r["Type"] == "AWS::EC2::SecurityGroup")
    group["Properties"]["NoSuchProperty"] = 1
    del group["Properties"]["GroupDescription"]
    for candidate in (template, broken, template):  # the cached rules carry nothing from one template to the next
        assert findings(candidate) == _lint_lines(candidate)
    assert len(findings(broken)) >= 2 and findings(template) == []
