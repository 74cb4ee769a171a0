"""A pause after IAM roles are created, for a service that assumes them as it creates a resource of its own.

IAM is eventually consistent: a role that CreateRole has returned may not yet be assumable by a service for
some seconds. CloudFormation creates a resource as soon as its dependencies are complete, and some handlers
(DataSync's locations) fail the resource at once when the service cannot assume the role. A DependsOn on the
role cannot wait for propagation; this custom resource can: a small Lambda function that sleeps on Create and on
Update (a replaced role is a new role) and answers CloudFormation at once on Delete.

Why a function of our own: aws-cdk-lib has no wait (its custom-resource Provider framework adds a state machine
and two more functions for what one sleep does; AwsCustomResource makes an API call, and no API call tells when
a role has propagated to another service), and the constructs on Construct Hub that sleep (e.g. cdk-time-sleep
style constructs) are single-maintainer packages that would be a dependency for twenty lines.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import CustomResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from hpc_constructs.errors import ConfigError

RESOURCE_TYPE = "Custom::HpcIamPropagationWait"
FUNCTION_ID = "HpcIamPropagationWaitFunction"
MAX_WAIT_SECONDS = 600  # a Lambda function runs at most 15 minutes; a wait longer than this is a mistake

# The function: standard library only, so its code fits inline (ZipFile) and needs no asset.
HANDLER = '''\
import json
import time
import urllib.request


def handler(event, context):
    status, reason = "SUCCESS", "waited"
    try:
        if event["RequestType"] in ("Create", "Update"):
            time.sleep(int(event["ResourceProperties"]["Seconds"]))
        else:
            reason = "nothing to wait for"
    except Exception as error:  # any failure must still answer CloudFormation
        status, reason = "FAILED", str(error)[:200]
    body = json.dumps({
        "Status": status, "Reason": reason, "StackId": event["StackId"], "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "PhysicalResourceId": event.get("PhysicalResourceId") or event["LogicalResourceId"],
    }).encode()
    request = urllib.request.Request(event["ResponseURL"], data=body, method="PUT",
                                     headers={"Content-Type": "", "Content-Length": str(len(body))})
    urllib.request.urlopen(request, timeout=30).read()
'''


class IamPropagationWait(Construct):
    """Wait `seconds` after `roles` (and their policies) exist; make what assumes them depend on this construct.

    One Lambda function per stack serves every wait in it. Properties: the role ARNs (so a replaced role waits
    again) and the seconds.
    """

    def __init__(self, scope: Construct, id: str, *, roles: Sequence[iam.IRole], seconds: int) -> None:
        super().__init__(scope, id)
        if isinstance(seconds, bool) or not isinstance(seconds, int) or not 1 <= seconds <= MAX_WAIT_SECONDS:
            raise ConfigError(self.node.path, "seconds", seconds, f"a whole number of seconds, 1 to {MAX_WAIT_SECONDS}")
        function = _function(Stack.of(self))
        self.resource = CustomResource(
            self, "Resource", service_token=function.function_arn, resource_type=RESOURCE_TYPE,
            properties={"Seconds": str(seconds), "RoleArns": [r.role_arn for r in roles]})
        for role in roles:
            self.resource.node.add_dependency(role)  # the role and its DefaultPolicy
        self.seconds = seconds


def _function(stack: Stack) -> lambda_.Function:
    existing = stack.node.try_find_child(FUNCTION_ID)
    if isinstance(existing, lambda_.Function):
        return existing
    log_group = logs.LogGroup(stack, f"{FUNCTION_ID}Logs", retention=logs.RetentionDays.ONE_MONTH,
                              removal_policy=RemovalPolicy.DESTROY)
    role = iam.Role(stack, f"{FUNCTION_ID}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                    description="hpc-constructs: the IAM propagation wait's function (its own log group only)")
    log_group.grant_write(role)
    function = lambda_.Function(
        stack, FUNCTION_ID, runtime=lambda_.Runtime.PYTHON_3_14, handler="index.handler",
        code=lambda_.Code.from_inline(HANDLER), role=role, log_group=log_group,
        timeout=Duration.seconds(MAX_WAIT_SECONDS + 60), memory_size=128,
        description="hpc-constructs: waits for IAM to propagate new roles before a service assumes them")
    function.node.add_dependency(role)
    return function
