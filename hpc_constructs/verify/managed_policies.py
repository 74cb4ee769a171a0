"""The statements of AWS-managed policies that the library relies on, with their source and date.

An AWS-managed policy is attached by ARN; its document is not in any template. hpc-verify reads these statements
in its place: only the actions a declared path asks for, copied from the policy's default version in the AWS
Managed Policy Reference (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/<name>.html), which
names the version and the date it was last edited. A role that relies on a managed policy missing here gets no
permission from it: the path is reported blocked with the policy's name, so that the table is extended, not
guessed. When AWS edits a policy, compare its new version with the statements here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

REFERENCE = "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/"


@dataclass(frozen=True)
class ManagedPolicy:
    name: str  # as it follows arn:aws:iam::aws:policy/
    version: str
    edited: str  # the date AWS last edited the default version
    checked: str  # when we compared these statements with it
    statements: tuple[dict[str, Any], ...]

    @property
    def source(self) -> str:
        return f"{REFERENCE}{self.name.rsplit('/', 1)[-1]}.html ({self.version}, edited {self.edited})"


MANAGED_POLICIES: dict[str, ManagedPolicy] = {p.name: p for p in (
    # Session Manager and the SSM agent on every node kind and the bastions.
    ManagedPolicy("AmazonSSMManagedInstanceCore", "v2", "2019-05-23", "2026-11", (
        {"Effect": "Allow", "Resource": "*", "Action": [
            "ssm:DescribeAssociation", "ssm:GetDeployablePatchSnapshotForInstance", "ssm:GetDocument",
            "ssm:DescribeDocument", "ssm:GetManifest", "ssm:GetParameter", "ssm:GetParameters",
            "ssm:ListAssociations", "ssm:ListInstanceAssociations", "ssm:PutInventory", "ssm:PutComplianceItems",
            "ssm:PutConfigurePackageResult", "ssm:UpdateAssociationStatus", "ssm:UpdateInstanceAssociationStatus",
            "ssm:UpdateInstanceInformation"]},
        {"Effect": "Allow", "Resource": "*", "Action": [
            "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel",
            "ssmmessages:OpenDataChannel"]},
        {"Effect": "Allow", "Resource": "*", "Action": [
            "ec2messages:AcknowledgeMessage", "ec2messages:DeleteMessage", "ec2messages:FailMessage",
            "ec2messages:GetEndpoint", "ec2messages:GetMessages", "ec2messages:SendReply"]},
    )),
    # The ECS agent on Batch's container instances: registering, image pulls from ECR, awslogs.
    ManagedPolicy("service-role/AmazonEC2ContainerServiceforEC2Role", "v10", "2026-02-12", "2026-11", (
        {"Effect": "Allow", "Resource": "*", "Action": [
            "ec2:DescribeTags", "ecs:CreateCluster", "ecs:DeregisterContainerInstance", "ecs:DiscoverPollEndpoint",
            "ecs:Poll", "ecs:RegisterContainerInstance", "ecs:StartTelemetrySession",
            "ecs:UpdateContainerInstancesState", "ecs:Submit*", "ecr:GetAuthorizationToken",
            "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage",
            "logs:CreateLogStream", "logs:PutLogEvents"]},
    )),
)}


def managed_policy(arn: str) -> ManagedPolicy | None:
    """The table's entry for an AWS-managed policy ARN (arn:<partition>:iam::aws:policy/<name>), if any."""
    marker = ":iam::aws:policy/"
    if marker not in arn:
        return None
    return MANAGED_POLICIES.get(arn.split(marker, 1)[1])


def is_aws_managed(arn: str) -> bool:
    return ":iam::aws:policy/" in arn
