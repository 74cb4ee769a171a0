"""cfn-lint over a synthesized template, with every ignored rule listed beside its reason."""

from __future__ import annotations

import json
from typing import Any

from cfnlint.api import ManualArgs, lint

# rule id -> why it is ignored. Keep this short; every entry hides a class of findings.
IGNORED_RULES: dict[str, str] = {
    # Fires on the Lambda handler of CDK's own restrict-default-security-group custom resource
    # (HpcNetwork): CDK adds a DependsOn on its role that a GetAtt already implies. Harmless.
    "W3005": "redundant DependsOn in CDK's own custom-resource handler (a GetAtt already orders it)",
}

REGIONS = ["us-east-1"]


def findings(template: dict[str, Any], *, warnings: bool = True) -> list[str]:
    """cfn-lint's findings as readable lines: errors always, warnings unless warnings=False."""
    config = ManualArgs(regions=REGIONS, ignore_checks=sorted(IGNORED_RULES))
    matches = lint(json.dumps(template), config=config)
    out = []
    for m in matches:
        severity = m.rule.id[0]
        if severity == "I" or (severity == "W" and not warnings):
            continue
        out.append(f"{m.rule.id} {m.path_string if hasattr(m, 'path_string') else m.path}: {m.message}")
    return out
