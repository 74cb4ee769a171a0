"""`cdk deploy --concurrency` on the emulator: several stacks each have a change set named cdk-deploy-change-set at
once, and the CLI names them by name and stack. The emulator finds each in its own stack (stock moto takes the first
change set of that name, another stack's, and so created a stack before the stacks it depends on)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

NAME = "cdk-deploy-change-set"  # what the CDK CLI calls every change set


def _template(topic: str) -> str:
    return json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": topic}}}})


def test_change_sets_of_the_same_name_are_found_in_their_own_stack(emulator: Callable[[str], Any]) -> None:
    cfn = emulator("cloudformation")
    for stack in ("First", "Second"):
        cfn.create_change_set(StackName=stack, ChangeSetName=NAME, ChangeSetType="CREATE",
                              TemplateBody=_template(f"topic-of-{stack.lower()}"))
    assert cfn.describe_change_set(StackName="Second", ChangeSetName=NAME)["StackName"] == "Second"
    cfn.execute_change_set(StackName="Second", ChangeSetName=NAME)
    statuses = {s["StackName"]: s["StackStatus"] for s in cfn.describe_stacks()["Stacks"]}
    assert statuses["Second"] == "CREATE_COMPLETE" and statuses["First"] == "REVIEW_IN_PROGRESS"
    topics = [t["TopicArn"].rsplit(":", 1)[1] for t in emulator("sns").list_topics()["Topics"]]
    assert "topic-of-second" in topics and "topic-of-first" not in topics
    cfn.delete_change_set(StackName="First", ChangeSetName=NAME)
    assert cfn.describe_change_set(StackName="Second", ChangeSetName=NAME)["ExecutionStatus"] == "EXECUTE_COMPLETE"
