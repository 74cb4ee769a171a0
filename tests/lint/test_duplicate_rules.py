"""No security-group rule twice across the reference app: EC2 refuses a duplicate (InvalidPermission.Duplicate),
so CloudFormation fails the second stack that creates it. Found by the local deploy: a Batch environment built
from a fleet carries the fleet's group, and mounting the storage on both made the fleet's rules twice."""

from __future__ import annotations

from collections import Counter
from typing import Any


def _resolve(value: Any, stack: str, templates: dict[str, dict[str, Any]]) -> Any:
    """A reference, as (stack, logical ID, attribute), whichever stack names it."""
    if isinstance(value, dict):
        if "Ref" in value:
            return (stack, value["Ref"], "Ref")
        if "Fn::GetAtt" in value:
            return (stack, *value["Fn::GetAtt"])
        if "Fn::GetStackOutput" in value:
            spec = value["Fn::GetStackOutput"]
            producer = spec["StackName"]
            return _resolve(templates[producer]["Outputs"][spec["OutputName"]]["Value"], producer, templates)
        if "Fn::ImportValue" in value:
            return ("import", str(value["Fn::ImportValue"]))
    return value


def _rules(templates: dict[str, dict[str, Any]]) -> Counter[tuple[Any, ...]]:
    rules: Counter[tuple[Any, ...]] = Counter()
    for stack, template in templates.items():
        for resource in template["Resources"].values():
            kind = resource["Type"].rsplit("::", 1)[-1]
            if kind not in ("SecurityGroupIngress", "SecurityGroupEgress"):
                continue
            props = resource["Properties"]
            peer = props.get("SourceSecurityGroupId") or props.get("DestinationSecurityGroupId") \
                or props.get("CidrIp") or props.get("CidrIpv6")
            rules[(kind, _resolve(props["GroupId"], stack, templates), _resolve(peer, stack, templates),
                   str(props["IpProtocol"]), props.get("FromPort"), props.get("ToPort"))] += 1
    return rules


def test_no_security_group_rule_is_made_twice(reference_templates: dict[str, dict[str, Any]]) -> None:
    rules = _rules(reference_templates)
    assert sum(rules.values()) > 50  # the reference app's rules were all found
    assert [rule for rule, count in rules.items() if count > 1] == []
