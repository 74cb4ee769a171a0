"""cdk-nag in any app (`enable_cdk_nag`), and acknowledgments for wildcards known only once references resolve.

`enable_cdk_nag(app)` is the one line a user's app needs: every construct of the library acknowledges its
own expected findings where it creates the resource (`Validations.of(resource).acknowledge(...)`, each with
its reason), so those travel with the constructs, and whatever else cdk-nag finds fails the synth. cdk-nag
is an optional extra (`pip install "hpc-constructs[nag]"`): nothing else in the library imports it, so the
core install stays aws-cdk-lib + constructs.

cdk-nag names an IAM5 finding after the flattened resource, e.g.
"AwsSolutions-IAM5[Resource::<StorageBucket5CB7C8EA.Arn>/genomics/*]"; in another stack the same bucket
is an Fn::ImportValue or Fn::GetStackOutput. The name is therefore computed when the app is validated
(after CDK has resolved cross-stack references, before cdk-nag runs), and only for the statements'
resources that end the way the caller expects: an unexpected wildcard stays a finding.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import jsii
from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import IConstruct, IValidation

from hpc_constructs.kinds import check_kinds

NAG_EXTRA_HINT = 'pip install "hpc-constructs[nag]" (or pip install "cdk-nag>=3,<4")'


@check_kinds(hints={"app": "Pass your App: enable_cdk_nag(app)."})
def enable_cdk_nag(app: IConstruct) -> None:
    """Run cdk-nag's AwsSolutions checks on every stack of `app` when it synthesizes; a finding fails the synth.

    The library's own acknowledgments (each with its reason, beside the resource it concerns) apply as they
    are; findings on your resources are yours to fix or acknowledge:
    `Validations.of(resource).acknowledge(Acknowledgment(id="AwsSolutions::AwsSolutions-XX", reason=...))`.
    The report is in the cloud assembly's `validation-report.json`. Raises ImportError, naming the extra to
    install, when cdk-nag is not installed.
    """
    try:
        # Imported here, not at module level: the core install has no cdk-nag, and importing it costs a fifth
        # of a second of every synth that does not use it.
        from cdk_nag import AwsSolutionsChecks
    except ImportError as error:
        raise ImportError(f"enable_cdk_nag needs cdk-nag, the library's optional extra: {NAG_EXTRA_HINT}. "
                          f"({error})", name="cdk_nag") from error
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def acknowledge_ec26_misreport(group: IConstruct) -> None:
    """Acknowledge AwsSolutions-EC26 on an Auto Scaling group whose launch template's volumes are all encrypted.

    cdk-nag 3.0's EC26 throws on a group without a LaunchTemplate property (a ComputeFleet's mixed-instances group)
    and reports the error on the next group it checks: a fleet made before a bastion or an HaInstance in the same
    stack failed the user's synth there ("Rule threw an error"). Call it only where tests assert the encryption.
    """
    Validations.of(group).acknowledge(Acknowledgment(
        id="AwsSolutions::AwsSolutions-EC26",
        reason="The launch template's only EBS volume (root) is encrypted, as tests assert; cdk-nag 3.0 reports "
               "here an error it meets on another construct's mixed-instances group in the same stack."))


def acknowledge_wildcards(role: iam.IRole, *, suffixes: Sequence[str], reason: str) -> None:
    """Acknowledge AwsSolutions-IAM5 for the role's resources that end with one of `suffixes` (e.g. "/data/*")."""
    role.node.add_validation(_WildcardAcknowledgment(role, tuple(suffixes), reason))


@jsii.implements(IValidation)
class _WildcardAcknowledgment:
    def __init__(self, role: iam.IRole, suffixes: tuple[str, ...], reason: str) -> None:
        self._role = role
        self._suffixes = suffixes
        self._reason = reason

    def validate(self) -> list[str]:
        stack = Stack.of(self._role)
        for policy in _policies(self._role):
            document = stack.resolve(policy.policy_document)
            for statement in document.get("Statement", []):
                resources = statement.get("Resource", [])
                for resource in resources if isinstance(resources, list) else [resources]:
                    flat = flatten_cfn_reference(resource)
                    if "*" in flat and any(flat.endswith(s) for s in self._suffixes):
                        Validations.of(self._role).acknowledge(Acknowledgment(
                            id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{flat}]", reason=self._reason))
        return []


def _policies(role: iam.IRole) -> list[iam.CfnPolicy]:
    """The role's policies: one jsii call for the whole subtree, not one per node and child list."""
    return [node for node in role.node.find_all() if isinstance(node, iam.CfnPolicy)]


def flatten_cfn_reference(node: Any) -> str:
    """cdk-nag's flattenCfnReference (utils/flatten-cfn-reference.ts in cdk-nag 3), in Python."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict):
        if "Fn::Join" in node:
            delimiter, items = node["Fn::Join"]
            return str(delimiter).join(flatten_cfn_reference(i) for i in items)
        if "Fn::Sub" in node:
            return flatten_cfn_reference(node["Fn::Sub"])
        if "Fn::GetAtt" in node:
            resource, attribute = node["Fn::GetAtt"]
            return f"<{flatten_cfn_reference(resource)}.{flatten_cfn_reference(attribute)}>"
        if "Fn::ImportValue" in node:
            return flatten_cfn_reference(node["Fn::ImportValue"])
        if "Ref" in node:
            return f"<{flatten_cfn_reference(node['Ref'])}>"
    return json.dumps(node, separators=(",", ":"), ensure_ascii=False)
