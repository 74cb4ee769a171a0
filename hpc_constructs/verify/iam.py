"""IAM as the templates define it: identity policies of roles, resource policies, trust policies, and whether a
request is allowed.

Evaluation follows the IAM User Guide's policy evaluation logic for one account: an explicit Deny in any policy
that applies wins; otherwise the request is allowed when an identity policy or the resource's policy allows it.
A KMS key is the exception: its key policy must allow the principal, directly or by allowing the account (which
hands the decision to IAM policies) (AWS KMS Developer Guide, "Key policies"). A service principal has no identity
policy: the resource's policy must allow it.

Matched: Action and NotAction (case-insensitive, * and ? wildcards), Resource and NotResource (ARNs, wildcards),
Principal and NotPrincipal (roles, the account, services, *). Conditions: the String*, Arn*, Bool and Null
operators, with IfExists and the set qualifiers ForAllValues: and ForAnyValue: (a context value may be a list), over
the request context a declared path gives (plus aws:SecureTransport=true: the library's clients use TLS). Any other
operator (Numeric*, Date*, IpAddress, ...) is not evaluated: an Allow with it grants nothing and a Deny with it
applies, and the reason says so. Not modelled: permission boundaries, session policies, SCPs and RCPs, VPC endpoint
policies, cross-account access.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from hpc_constructs.verify.assembly import Assembly, Ref
from hpc_constructs.verify.managed_policies import is_aws_managed, managed_policy

DEFAULT_CONTEXT = {"aws:SecureTransport": "true"}
_SUPPORTED = {"StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
              "StringLike", "StringNotLike", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike", "Bool", "Null"}
_SET_QUALIFIERS = ("ForAllValues", "ForAnyValue")


@dataclass(frozen=True)
class Principal:
    kind: str  # "role" or "service"
    value: str  # the role's ARN, or the service principal (events.amazonaws.com)
    account: str

    def describe(self, assembly: Assembly) -> str:
        if self.kind == "service":
            return self.value
        owner = assembly.owner(self.value)
        return f"role {owner.path}" if owner is not None else f"role {self.value}"


@dataclass
class Statement:
    effect: str
    actions: list[str] | None
    not_actions: list[str] | None
    resources: list[str] | None
    not_resources: list[str] | None
    principals: dict[str, list[str]] | None  # None: an identity policy (no Principal)
    not_principals: dict[str, list[str]] | None
    conditions: dict[str, dict[str, Any]]
    origin: str

    def describe(self) -> str:
        actions = ", ".join(self.actions or [f"NotAction {self.not_actions}"])
        return f"{self.origin} ({self.effect} {actions})"


@dataclass
class Outcome:
    allowed: bool
    reason: str
    unevaluated: list[str] = field(default_factory=list)


def statements_of(document: Any, origin: str) -> list[Statement]:
    """The statements of a policy document (a dict, or a JSON string as in AWS::Logs::ResourcePolicy)."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError:
            return []
    if not isinstance(document, dict):
        return []
    raw = document.get("Statement", [])
    out = []
    for index, item in enumerate(raw if isinstance(raw, list) else [raw]):
        sid = item.get("Sid")
        where = f"{origin} statement {sid or index}"
        out.append(Statement(
            effect=str(item.get("Effect", "Allow")),
            actions=_list(item.get("Action")), not_actions=_list(item.get("NotAction")),
            resources=_list(item.get("Resource")), not_resources=_list(item.get("NotResource")),
            principals=_principals(item.get("Principal")), not_principals=_principals(item.get("NotPrincipal")),
            conditions=item.get("Condition", {}) or {}, origin=where))
    return out


def _list(value: Any) -> list[str] | None:
    if value is None:
        return None
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _principals(value: Any) -> dict[str, list[str]] | None:
    if value is None:
        return None
    if value == "*":
        return {"AWS": ["*"]}
    if isinstance(value, dict):
        return {str(k): _list(v) or [] for k, v in value.items()}
    return {"AWS": [str(value)]}


@cache
def _pattern(text: str, ignore_case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    return re.compile(regex, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return _pattern(pattern, ignore_case).fullmatch(value) is not None


def _action_matches(statement: Statement, action: str) -> bool:
    if statement.actions is not None:
        return any(wildcard_match(p, action, ignore_case=True) for p in statement.actions)
    if statement.not_actions is not None:
        return not any(wildcard_match(p, action, ignore_case=True) for p in statement.not_actions)
    return False


def _resource_matches(statement: Statement, resource: str) -> bool:
    if statement.resources is not None:
        return any(wildcard_match(p, resource) for p in statement.resources)
    if statement.not_resources is not None:
        return not any(wildcard_match(p, resource) for p in statement.not_resources)
    return statement.principals is not None  # a resource policy's statement may leave out Resource


def _principal_in(principals: dict[str, list[str]], principal: Principal) -> str | None:
    """"direct" when the principal is named (or *), "account" when its account is, else None."""
    if principal.kind == "service":
        if principal.value in principals.get("Service", []) or "*" in principals.get("AWS", []):
            return "direct"
        return None
    found = None
    for entry in principals.get("AWS", []):
        if entry == "*" or wildcard_match(entry, principal.value):
            return "direct"
        if entry in (principal.account, f"arn:aws:iam::{principal.account}:root"):
            found = "account"
    return found


def _condition(conditions: dict[str, dict[str, Any]], context: dict[str, Any]) -> tuple[bool | None, list[str]]:
    """True/False for the conditions over the context; None when one of them is not evaluated (and which)."""
    lowered = {k.lower(): v for k, v in context.items()}
    unevaluated: list[str] = []
    result = True
    for operator, pairs in conditions.items():
        qualifier, _, unqualified = operator.rpartition(":")
        base = unqualified.removesuffix("IfExists")
        if base not in _SUPPORTED or qualifier not in ("", *_SET_QUALIFIERS) or (qualifier and base == "Null"):
            unevaluated.append(operator)
            continue
        for key, wanted in pairs.items():
            values = [str(v).lower() if isinstance(v, bool) else str(v) for v in (wanted if isinstance(wanted, list)
                                                                                    else [wanted])]
            present = key.lower() in lowered
            actual = lowered.get(key.lower())
            if qualifier:
                # A multivalued key (IAM User Guide, "Set operators for multivalued context keys"): ForAllValues
                # holds when every value of the request matches (and for an absent or empty key), ForAnyValue when
                # at least one does (never for an absent key).
                items = [] if actual is None else [str(v) for v in (actual if isinstance(actual, list) else [actual])]
                matches = [_compare(base, values, item) for item in items]
                holds = all(matches) if qualifier == "ForAllValues" else any(matches)
            elif base == "Null":
                holds = any((v.lower() == "true") == (not present) for v in values)
            elif not present:
                holds = operator.endswith("IfExists") or "Not" in base
            else:
                holds = _compare(base, values, str(actual))
            result = result and holds
    if unevaluated:
        return None, unevaluated
    return result, []


def _compare(operator: str, values: list[str], actual: str) -> bool:
    negate = "Not" in operator
    if operator.startswith("Bool") or "IgnoreCase" in operator:
        matched = any(v.lower() == actual.lower() for v in values)
    elif operator.endswith("Like") or operator.startswith("Arn"):
        matched = any(wildcard_match(v, actual) for v in values)
    else:
        matched = actual in values
    return not matched if negate else matched


class IamModel:
    """Roles, their identity policies, and the resource policies of an assembly."""

    def __init__(self, assembly: Assembly) -> None:
        self.assembly = assembly
        a = assembly
        self._identity: dict[str, list[Statement]] = {}  # role name -> statements
        self._missing_managed: dict[str, list[str]] = {}  # role name -> AWS-managed policies not in the table
        roles = {a.physical(r.stack, r.logical_id): r for r in a.resources("AWS::IAM::Role")}
        for name, role in roles.items():
            statements = self._identity.setdefault(name, [])
            for index, policy in enumerate(a.prop(role, "Policies", [])):
                statements += statements_of(policy.get("PolicyDocument"),
                                            f"{role.path} inline policy {policy.get('PolicyName', index)}")
            for arn in map(str, a.prop(role, "ManagedPolicyArns", [])):
                self._attach(name, arn)
        for ref in a.resources("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy"):
            names = [str(r) for r in a.prop(ref, "Roles", [])] or ([str(a.prop(ref, "RoleName"))]
                                                                   if a.prop(ref, "RoleName") else [])
            for name in names:
                self._identity.setdefault(name, []).extend(statements_of(a.prop(ref, "PolicyDocument"), ref.path))
        self._managed_documents = {a.physical(r.stack, r.logical_id): r for r in a.resources("AWS::IAM::ManagedPolicy")}
        self.roles = roles

    def _attach(self, role: str, arn: str) -> None:
        if is_aws_managed(arn):
            policy = managed_policy(arn)
            if policy is None:
                self._missing_managed.setdefault(role, []).append(arn.rsplit("/", 1)[-1])
                return
            for statement in statements_of({"Statement": list(policy.statements)},
                                            f"AWS-managed {policy.name} (as of {policy.source})"):
                self._identity.setdefault(role, []).append(statement)

    # -- the request -------------------------------------------------------------------------------------------

    def principal(self, spec: dict[str, Any], account: str) -> Principal | str:
        """The declared principal ({"role": <role ARN>} or {"service": name}), or why it is unknown."""
        if "service" in spec:
            return Principal("service", str(spec["service"]), account)
        arn = str(spec.get("role"))
        owner = self.assembly.owner(arn)
        if owner is None or owner.type != "AWS::IAM::Role":
            return f"the role {arn} is not in the assembly"
        return Principal("role", self.assembly.physical(owner.stack, owner.logical_id, "Arn"), account)

    def allows(self, principal: Principal, action: str, resource: str, context: dict[str, Any]) -> Outcome:
        """Whether `principal` may do `action` on `resource` under `context`."""
        a = self.assembly
        context = {**DEFAULT_CONTEXT, **context}
        identity = self._role_statements(principal)
        missing: list[str] = []
        if principal.kind == "role":
            context = {"aws:PrincipalArn": principal.value, "aws:PrincipalAccount": principal.account, **context}
            owner = a.owner(principal.value)
            if owner is not None:
                missing = self._missing_managed.get(a.physical(owner.stack, owner.logical_id), [])
        target = a.owner(resource)
        resource_statements, kind = self._resource_policy(target, resource)
        unevaluated: list[str] = []

        def applying(statements: list[Statement], effect: str, *, as_resource: bool) -> list[tuple[Statement, str]]:
            found = []
            for statement in statements:
                if statement.effect != effect or not _action_matches(statement, action) or \
                        not _resource_matches(statement, resource):
                    continue
                how = "identity"
                if as_resource:
                    if statement.principals is not None:
                        matched = _principal_in(statement.principals, principal)
                        if matched is None:
                            continue
                        how = matched
                    elif statement.not_principals is not None:
                        if _principal_in(statement.not_principals, principal) is not None:
                            continue
                        how = "direct"
                holds, names = _condition(statement.conditions, context)
                if holds is None:
                    unevaluated.extend(f"{n} in {statement.origin}" for n in names)
                    if effect == "Deny":
                        found.append((statement, how))
                    continue
                if holds:
                    found.append((statement, how))
            return found

        denies = applying(identity, "Deny", as_resource=False) + applying(resource_statements, "Deny",
                                                                          as_resource=True)
        who = principal.describe(a)
        if denies:
            statement = denies[0][0]
            note = " (its condition is not evaluated, so it is taken to apply)" if unevaluated else ""
            return Outcome(False, f"{statement.origin} denies {action} on {_short(resource)} to {who}{note}",
                           unevaluated)
        identity_allows = applying(identity, "Allow", as_resource=False)
        resource_allows = applying(resource_statements, "Allow", as_resource=True)
        direct = [s for s, how in resource_allows if how == "direct"]
        to_account = [s for s, how in resource_allows if how == "account"]
        if kind == "kms":
            if direct or (to_account and identity_allows):
                return Outcome(True, "", unevaluated)
            if to_account:
                return Outcome(False, _missing(who, action, resource, identity, missing, unevaluated), unevaluated)
            return Outcome(False, f"the key policy of {target.path if target else resource} allows {action} neither "
                                  f"to {who} nor to the account" + _unevaluated(unevaluated), unevaluated)
        if identity_allows or direct:
            return Outcome(True, "", unevaluated)
        if principal.kind == "service":
            where = f"the resource policy of {target.path}" if target is not None and resource_statements else \
                f"{target.path if target else _short(resource)} has no resource policy that"
            return Outcome(False, f"{where} allows {action} to {principal.value}" if "has no" in where else
                           f"{where} does not allow {action} to {principal.value}" + _unevaluated(unevaluated),
                           unevaluated)
        return Outcome(False, _missing(who, action, resource, identity, missing, unevaluated), unevaluated)

    def any_other_role(self, account: str) -> Principal:
        """A role of the account, not in the assembly, whose identity policy allows everything (an administrator,
        or any role someone grants `*`): what a resource policy must refuse to keep a resource to its users."""
        arn = f"arn:aws:iam::{account}:role/hpc-verify-any-other-role"
        self._identity.setdefault(arn, statements_of({"Statement": [{"Effect": "Allow", "Action": "*",
                                                                     "Resource": "*"}]},
                                                     "its identity policy (Allow * on *)"))
        return Principal("role", arn, account)

    def granting(self, principal: Principal, action: str, resource: str) -> list[str]:
        """The statements (identity and resource) that allow the request: what a report names."""
        found = []
        context = dict(DEFAULT_CONTEXT)
        for statement in self._role_statements(principal) + self._resource_policy(self.assembly.owner(resource),
                                                                                  resource)[0]:
            applies = statement.effect == "Allow" and _action_matches(statement, action) and \
                _resource_matches(statement, resource) and _condition(statement.conditions, context)[0]
            named = statement.principals is None or _principal_in(statement.principals, principal) is not None
            if applies and named:
                found.append(statement.origin)
        return found

    def _role_statements(self, principal: Principal) -> list[Statement]:
        if principal.kind != "role":
            return []
        if principal.value in self._identity:
            return self._identity[principal.value]
        owner = self.assembly.owner(principal.value)
        return self._identity.get(self.assembly.physical(owner.stack, owner.logical_id), []) if owner else []

    def trusts(self, role_arn: str, service: str, context: dict[str, Any]) -> Outcome:
        """Whether the role's trust policy lets `service` assume it (sts:AssumeRole) under `context`."""
        a = self.assembly
        owner = a.owner(role_arn)
        if owner is None:
            return Outcome(False, f"the role {role_arn} is not in the assembly")
        document = a.prop(owner, "AssumeRolePolicyDocument", {})
        principal = Principal("service", service, owner.stack.account)
        context = {**DEFAULT_CONTEXT, **context}
        for statement in statements_of(document, f"{owner.path} trust policy"):
            if statement.effect != "Allow" or not _action_matches(statement, "sts:AssumeRole"):
                continue
            if statement.principals is None or _principal_in(statement.principals, principal) is None:
                continue
            holds, names = _condition(statement.conditions, context)
            if holds:
                return Outcome(True, "")
            if holds is None:
                return Outcome(False, f"{statement.origin}: condition {', '.join(names)} is not evaluated")
        return Outcome(False, f"the trust policy of {owner.path} does not let {service} assume it")

    def _resource_policy(self, target: Ref | None, resource: str) -> tuple[list[Statement], str]:
        """The statements of the policy attached to the resource, and its kind ("kms", "s3", ...)."""
        a = self.assembly
        if target is None:
            return [], ""
        kind = target.type
        name = a.physical(target.stack, target.logical_id)
        out: list[Statement] = []
        if kind == "AWS::KMS::Key":
            policy = a.prop(target, "KeyPolicy")
            if policy is None:  # KMS's default key policy: the account (and so IAM policies) may use the key
                policy = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::"
                                                                                 f"{target.stack.account}:root"},
                                         "Action": "kms:*", "Resource": "*"}]}
            return statements_of(policy, f"{target.path} key policy"), "kms"
        if kind == "AWS::EFS::FileSystem":
            return statements_of(a.prop(target, "FileSystemPolicy"), f"{target.path} file system policy"), "efs"
        holders = {"AWS::S3::Bucket": ("AWS::S3::BucketPolicy", "Bucket"),
                   "AWS::SQS::Queue": ("AWS::SQS::QueuePolicy", "Queues"),
                   "AWS::SNS::Topic": ("AWS::SNS::TopicPolicy", "Topics"),
                   "AWS::SecretsManager::Secret": ("AWS::SecretsManager::ResourcePolicy", "SecretId")}
        if kind in holders:
            policy_type, key = holders[kind]
            document_key = "ResourcePolicy" if policy_type.endswith("ResourcePolicy") else "PolicyDocument"
            for ref in a.resources(policy_type):
                named = a.prop(ref, key)
                named = named if isinstance(named, list) else [named]
                if name in map(str, named) or a.physical(target.stack, target.logical_id, "Arn") in map(str, named):
                    out += statements_of(a.prop(ref, document_key), ref.path)
            if kind == "AWS::SNS::Topic":
                for ref in a.resources("AWS::SNS::TopicInlinePolicy"):
                    if str(a.prop(ref, "TopicArn")) == name:
                        out += statements_of(a.prop(ref, "PolicyDocument"), ref.path)
            return out, kind.split("::")[1].lower()
        if kind == "AWS::Logs::LogGroup":  # CloudWatch Logs resource policies are the account's, per Region
            for ref in a.resources("AWS::Logs::ResourcePolicy"):
                out += statements_of(a.prop(ref, "PolicyDocument"), ref.path)
            return out, "logs"
        return [], ""


def _short(resource: str) -> str:
    return resource


def _unevaluated(names: list[str]) -> str:
    return f" (not evaluated: {'; '.join(dict.fromkeys(names))})" if names else ""


def _missing(who: str, action: str, resource: str, identity: list[Statement], missing: list[str],
             unevaluated: list[str]) -> str:
    text = f"no statement allows {action} on {resource} to {who}"
    if not identity:
        text += " (it has no identity policy)"
    if missing:
        text += (f"; AWS-managed {', '.join(missing)} is attached but not in hpc-verify's table "
                 "(hpc_constructs/verify/managed_policies.py)")
    return text + _unevaluated(unevaluated)
