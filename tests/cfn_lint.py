"""cfn-lint over a synthesized template, with every ignored rule listed beside its reason."""

from __future__ import annotations

import functools
import json
from typing import Any

from cfnlint.api import ManualArgs
from cfnlint.config import ConfigMixIn
from cfnlint.decode.decode import decode_str
from cfnlint.runner import Runner, run_template_by_data

# rule id -> why it is ignored. Keep this short; every entry hides a class of findings.
IGNORED_RULES: dict[str, str] = {
    # Fires on the Lambda handler of CDK's own restrict-default-security-group custom resource
    # (HpcNetwork): CDK adds a DependsOn on its role that a GetAtt already implies. Harmless.
    "W3005": "redundant DependsOn in CDK's own custom-resource handler (a GetAtt already orders it)",
}

REGIONS = ["us-east-1"]


def _config() -> ManualArgs:
    return ManualArgs(regions=REGIONS, ignore_checks=sorted(IGNORED_RULES))


@functools.cache
def _rules() -> Any:
    """cfn-lint's rules, loaded once a process: cfnlint.api.lint reloads them on every call (half its cost)."""
    return Runner(ConfigMixIn(**_config())).rules


def findings(template: dict[str, Any], *, warnings: bool = True) -> list[str]:
    """cfn-lint's findings as readable lines: errors always, warnings unless warnings=False.

    What cfnlint.api.lint does (decode, then run the template), with the rules loaded once.
    """
    decoded, errors = decode_str(json.dumps(template))
    matches = errors or ([] if decoded is None else list(run_template_by_data(decoded, ConfigMixIn(**_config()),
                                                                              _rules())))
    out = []
    for m in matches:
        severity = m.rule.id[0]
        if severity == "I" or (severity == "W" and not warnings):
            continue
        out.append(f"{m.rule.id} {m.path_string if hasattr(m, 'path_string') else m.path}: {m.message}")
    return out
