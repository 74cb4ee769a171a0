"""Security groups and roles the user brings (`security_group=`, `role=`): what the library adds to them, and what it
says when CDK cannot add anything.

A group made in the app (ec2.SecurityGroup) or imported mutable (the default of SecurityGroup.from_security_group_id)
takes the rules the library needs, as separate AWS::EC2::SecurityGroupIngress/Egress resources; one imported with
mutable=False takes none: CDK's own methods do nothing on it, and so does the library, which warns instead, naming
every rule the group must already have. A role made in the app (iam.Role) takes statements and managed policies; an
imported one takes statements when it is mutable and in the stack's account (Role.from_role_arn's default), never
AWS managed policies (CDK cannot attach one to an imported role); one imported with mutable=False, from another
account, or `Role.without_policy_updates()` takes nothing, and CDK says nothing about it. The library warns then,
naming every statement and managed policy the role must already have. Each warning has an id, so that a user who
has checked can acknowledge it (`Annotations.of(construct).acknowledge_warning(id, reason)`).
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Acknowledgment, Annotations, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct, IConstruct

__all__ = [
    "FIXED_GROUP_WARNING",
    "FIXED_ROLE_WARNING",
    "add_managed_policies",
    "add_statement",
    "instance_role",
    "role_anchor",
    "role_takes_statements",
    "self_rules",
    "takes_rules",
    "warn_fixed_group",
    "warn_fixed_role",
]

FIXED_GROUP_WARNING = "hpc-constructs:security-group-takes-no-rules"
FIXED_ROLE_WARNING = "hpc-constructs:role-takes-no-statements"
# A rule nobody would write: TEST-NET-1 (RFC 5737), port 9 (discard). The probe adds it and removes it at once.
_PROBE_PEER = "192.0.2.0/32"
_PROBE_PORT = 9

_TAKES_RULES: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()
# app (its root) -> group id -> the self rules made for that group (several constructs may share one group).
_SELF_RULES: weakref.WeakKeyDictionary[Any, dict[str, list[Construct]]] = weakref.WeakKeyDictionary()


def takes_rules(group: ec2.ISecurityGroup) -> bool:
    """True when CDK adds rules to `group`: made in the app, or imported mutable.

    SecurityGroup.from_security_group_id(mutable=False) returns a group whose add_ingress_rule does nothing, and
    nothing else tells the two kinds of import apart: the probe asks CDK to add a rule nobody would write, looks
    whether it appeared, and removes it.
    """
    if isinstance(group, ec2.SecurityGroup):
        return True
    try:
        return _TAKES_RULES[group]
    except (KeyError, TypeError):
        pass
    before = {child.node.id for child in group.node.children}
    group.add_ingress_rule(ec2.Peer.ipv4(_PROBE_PEER), ec2.Port.tcp(_PROBE_PORT), "hpc-constructs probe")
    added = [child.node.id for child in group.node.children if child.node.id not in before]
    for child in added:
        group.node.try_remove_child(child)
    with contextlib.suppress(TypeError):  # an object weakref cannot hold is probed again next time
        _TAKES_RULES[group] = bool(added)
    return bool(added)


def self_rules(owner: Construct, group: ec2.ISecurityGroup, descriptions: tuple[str, str], *,
               ids: tuple[str, str] = ("SelfIngress", "SelfEgress"), what: str = "the nodes") -> list[Construct]:
    """All traffic to and from `group` itself (MPI; EFA, whose OS-bypass traffic is not IP, so that an allow-all
    egress rule does not cover it): an ingress and an egress resource in `owner`'s scope, described by
    `descriptions`; the same two for every construct given the same group. [] and a warning when the group takes no
    rules."""
    if not takes_rules(group):
        warn_fixed_group(owner, _name(group), ["all traffic from itself (inbound)", "all traffic to itself (outbound)"],
                         why=f"MPI and EFA between {what}")
        return []
    made = _SELF_RULES.setdefault(owner.node.root, {})
    group_id = group.security_group_id
    if group_id not in made:
        made[group_id] = [
            ec2.CfnSecurityGroupIngress(owner, ids[0], group_id=group_id, ip_protocol="-1",
                                        source_security_group_id=group_id, description=descriptions[0]),
            ec2.CfnSecurityGroupEgress(owner, ids[1], group_id=group_id, ip_protocol="-1",
                                       destination_security_group_id=group_id, description=descriptions[1])]
    return made[group_id]


def warn_fixed_group(owner: IConstruct, group: str, rules: Sequence[str], *, why: str) -> None:
    """A warning on `owner`: the security group at path `group` takes no rules, so it must have `rules` already."""
    Annotations.of(owner).add_warning_v2(
        FIXED_GROUP_WARNING,
        f"{group} was imported with mutable=False: CDK adds no rule to it, and neither does hpc-constructs. "
        f"For {why} it must already allow: {'; '.join(rules)}. Import it mutable (the default) to have them added.")


def role_takes_statements(role: iam.IRole) -> bool:
    """True when CDK adds policy statements to `role`: made in the app, or imported mutable in the stack's account.

    Role.from_role_arn(mutable=False), a role of another account and Role.without_policy_updates() are CDK's
    ImmutableRole, whose add_to_principal_policy does nothing but reports success. CDK builds it beside the role it
    wraps, with a known id: from_role_arn makes the imported role "MutableRole<id>" next to it, and
    without_policy_updates names the wrapper "ImmutableRole<the role's id>".
    """
    if isinstance(role, iam.Role):
        return True
    scope = role.node.scope
    if role.node.id.startswith("ImmutableRole"):
        return False
    return scope is None or scope.node.try_find_child(f"MutableRole{role.node.id}") is None


def add_managed_policies(owner: Construct, role: iam.IRole, names: Sequence[str]) -> list[str]:
    """Attach the AWS managed policies `names` to a role made in the app; for any other role, return the names that
    it must have attached already (CDK cannot attach an AWS managed policy to an imported role)."""
    if isinstance(role, iam.Role):
        for name in names:
            role.add_managed_policy(iam.ManagedPolicy.from_aws_managed_policy_name(name))
        return []
    return list(names)


SSM_POLICY = "AmazonSSMManagedInstanceCore"  # Session Manager and Run Command on a node, no SSH key needed
SSM_REASON = "AWS-maintained least-privilege policy for Session Manager access to nodes (no SSH keys)."


def instance_role(owner: Construct, given: iam.IRole | None, *, description: str, policies: Mapping[str, str],
                  why: str, id: str = "Role", **role_props: Any) -> iam.IRole:
    """The role of the EC2 instances `owner` launches, with the AWS managed policies `policies` (name -> the reason
    it is acceptable, which acknowledges cdk-nag's AwsSolutions-IAM4 finding for it).

    `given` (the user's role): the policies are attached when CDK can (a Role made in the app); for any other role
    a warning on `owner` says it must have them already, for `why`. None: a new Role (`id`, `description` and
    `role_props` such as role_name and path) that EC2 assumes, with the policies.
    """
    role = given or iam.Role(
        owner, id, assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"), description=description,
        managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(name) for name in policies], **role_props)
    if given is not None:
        missing = add_managed_policies(owner, given, list(policies))
        warn_fixed_role(owner, given, [f"the AWS managed policy {name}" for name in missing], why=why)
    Validations.of(role).acknowledge(*(Acknowledgment(
        id=f"AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{name}]", reason=reason)
        for name, reason in policies.items()))
    return role


def warn_fixed_role(owner: IConstruct, role: iam.IRole, needs: Sequence[str], *, why: str) -> None:
    """A warning on `owner`: `role` must already have `needs` (statements, managed policies) for `why`."""
    if not needs:
        return
    kind = ("takes no statements (imported with mutable=False, from another account, or without_policy_updates())"
            if not role_takes_statements(role) else "is imported: CDK attaches no AWS managed policy to it")
    Annotations.of(owner).add_warning_v2(
        FIXED_ROLE_WARNING,
        f"{_name(role)} {kind}. For {why} it must already have: {'; '.join(needs)}.")


def add_statement(owner: IConstruct, role: iam.IRole, statement: iam.PolicyStatement, *, why: str) -> None:
    """Add `statement` to `role`, or warn on `owner` naming it when the role takes no statements."""
    if role_takes_statements(role):
        role.add_to_principal_policy(statement)
        return
    warn_fixed_role(owner, role, [statement_text(owner, statement)], why=why)


def statement_text(scope: IConstruct, statement: iam.PolicyStatement) -> str:
    """A statement in a warning: its actions on its resources, as CloudFormation will see them."""
    resolved = Stack.of(scope).resolve(statement.to_statement_json())
    resources = resolved.get("Resource", "*")
    return f"{resolved.get('Action')} on {resources}"


def _name(construct: Any) -> str:
    try:
        return f"{construct.node.path}"
    except Exception:
        return "the given resource"


def role_anchor(role: iam.IRole, fallback: IConstruct) -> IConstruct:
    """Where the hpc:paths declarations about `role` live (hpc_constructs.paths): on the role when it is made in the
    app, else on `fallback`, a resource of the construct that uses it: an imported role has no resource in the
    template to carry them."""
    return role if isinstance(role, iam.Role) else fallback
