"""JobEvents: Batch job-state changes fanned out through an encrypted SNS topic to SQS queues with their DLQs."""

from __future__ import annotations

import json
from collections.abc import Sequence

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from hpc_constructs import paths
from hpc_constructs.batch_plan import check_name
from hpc_constructs.catalog.limits import BATCH, EVENTBRIDGE_MAX_EVENT_PATTERN_CHARS, SQS_MAX_MESSAGE_RETENTION_SECONDS
from hpc_constructs.errors import ConfigError

__all__ = ["JobEvents"]

FINAL_STATES = ("FAILED", "SUCCEEDED")
EVENTS_PRINCIPAL = "events.amazonaws.com"
# A consumer has four days (SQS's default) to take a message; one that fails MAX_RECEIVE_COUNT times goes
# to the dead-letter queue, which keeps it for the longest SQS allows, longer than its source would.
QUEUE_RETENTION = Duration.days(4)
DEAD_LETTER_RETENTION = Duration.seconds(SQS_MAX_MESSAGE_RETENTION_SECONDS)
MAX_RECEIVE_COUNT = 5
# The longest a job queue's ARN can be before its name: arn:<partition>:batch:<region>:<account>:job-queue/.
# The longest partition is aws-us-gov (10 characters), the longest Region names have 14 (ap-southeast-5,
# us-isob-east-1), an account ID 12. The ARNs are tokens at synth, so each is counted at that length.
JOB_QUEUE_ARN_PREFIX_CHARS = len("arn:aws-us-gov:batch:ap-southeast-5:123456789012:job-queue/")


def job_queue_arn_chars(name: str | None) -> int:
    """What one queue adds to a pattern: its quoted ARN at the longest, and the ", " before it. A name that is
    None (not known at synth) counts as Batch's longest (128 characters)."""
    return JOB_QUEUE_ARN_PREFIX_CHARS + (BATCH.max_name_length if name is None else len(name)) + 4


def pattern_base_chars() -> int:
    """The pattern without queues: source, detail type, final states."""
    return len(json.dumps(_pattern([])))


def pattern_batches(job_queue_names: Sequence[str | None]) -> list[list[int]]:
    """The queues (by index) of each job-events rule, so that every rule's pattern fits EventBridge's limit.

    Each queue costs job_queue_arn_chars. Queues keep their order; one rule takes as many as fit, then the
    next rule starts.
    """
    overhead = pattern_base_chars()
    batches: list[list[int]] = [[]]
    size = overhead
    for index, name in enumerate(job_queue_names):
        cost = job_queue_arn_chars(name)
        if batches[-1] and size + cost > EVENTBRIDGE_MAX_EVENT_PATTERN_CHARS:
            batches.append([])
            size = overhead
        batches[-1].append(index)
        size += cost
    return batches


def _pattern(job_queue_arns: Sequence[str]) -> dict[str, object]:
    return {"source": ["aws.batch"], "detail-type": ["Batch Job State Change"],
            "detail": {"status": list(FINAL_STATES), "jobQueue": list(job_queue_arns)}}


class JobEvents(Construct):
    """Final job states (FAILED, SUCCEEDED) of some job queues, published to an SNS topic and fanned out to SQS.

    Props (keyword-only):
      job_queue_arns: the queues whose jobs are reported (an EventBridge rule on "Batch Job State
                      Change" for exactly these).
      job_queue_names: None. The queues' names, in the same order, when known at synth: they size the
                      rules' patterns. EventBridge takes at most 2,048 characters a pattern, so the queues
                      are split over as many rules as needed (Rule, Rule2, ...), each name counted at its
                      length, or at Batch's longest (128) when not given.
      queues: ("default",). An SQS queue per name, each with its dead-letter queue.
      removal_policy: RemovalPolicy.RETAIN for the topic's KMS key (messages encrypted with it stay
                      readable in a dead-letter queue); the topic and queues hold no lasting data.

    The topic is encrypted with a customer managed key that EventBridge may use (an AWS managed key's
    policy cannot admit EventBridge, so nothing would be delivered). Queues use SQS-managed
    encryption, which SNS can deliver to. Topic and queues refuse requests without TLS.

    Attributes: topic, key, rules (one per batch of queues), rule (the first), queues (dict by name),
    dead_letter_queues (dict by name);
    subscribe_queue(queue), subscribe_function(function, name=...).
    """

    def __init__(self, scope: Construct, id: str, *, job_queue_arns: Sequence[str],
                 job_queue_names: Sequence[str] | None = None, queues: Sequence[str] = ("default",),
                 removal_policy: RemovalPolicy = RemovalPolicy.RETAIN) -> None:
        super().__init__(scope, id)
        arns = list(job_queue_arns)
        if job_queue_names is not None and len(job_queue_names) != len(arns):
            raise ConfigError(self.node.path, "job_queue_names", f"{len(job_queue_names)} names",
                              f"one name per job queue ARN ({len(arns)})")
        names: list[str | None] = list(job_queue_names) if job_queue_names is not None else [None] * len(arns)
        self.key = kms.Key(self, "Key", enable_key_rotation=True, removal_policy=removal_policy,
                           description=f"{self.node.path}: Batch job events (SNS topic)")
        # EventBridge encrypts what it publishes to the topic with this key.
        self.key.grant(iam.ServicePrincipal(EVENTS_PRINCIPAL), "kms:Decrypt", "kms:GenerateDataKey*")
        self.topic = sns.Topic(self, "Topic", master_key=self.key, enforce_ssl=True,
                               display_name="Batch job events")
        self.rules: list[events.Rule] = []
        for number, batch in enumerate(pattern_batches(names), start=1):
            rule = events.Rule(self, "Rule" if number == 1 else f"Rule{number}",
                               description=f"{self.node.path}: final states of its Batch jobs",
                               event_pattern=events.EventPattern(
                                   source=["aws.batch"], detail_type=["Batch Job State Change"],
                                   detail={"status": list(FINAL_STATES), "jobQueue": [arns[i] for i in batch]}))
            rule.add_target(targets.SnsTopic(self.topic))
            self.rules.append(rule)
            self._declare_publishing(rule)
        self.rule = self.rules[0]
        self.queues: dict[str, sqs.Queue] = {}
        self.dead_letter_queues: dict[str, sqs.Queue] = {}
        for name in queues:
            self._event_queue(name)

    def _event_queue(self, name: str) -> sqs.Queue:
        check_name(self.node.path, "queues", name)
        if name in self.queues:
            raise ConfigError(self.node.path, "queues", name, "each event queue name once")
        dead = sqs.Queue(self, f"{name}DeadLetters", encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
                         retention_period=DEAD_LETTER_RETENTION)
        Validations.of(dead).acknowledge(Acknowledgment(
            id="AwsSolutions::AwsSolutions-SQS3",
            reason="This is the dead-letter queue of the events queue: a DLQ of a DLQ would hide failures."))
        queue = sqs.Queue(self, f"{name}Queue", encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
                          retention_period=QUEUE_RETENTION,
                          dead_letter_queue=sqs.DeadLetterQueue(queue=dead, max_receive_count=MAX_RECEIVE_COUNT))
        self.topic.add_subscription(subscriptions.SqsSubscription(queue, raw_message_delivery=True))
        paths.declare_iam(queue, paths.service_principal("sns.amazonaws.com"), ["sqs:SendMessage"],
                          [queue.queue_arn], on=f"the events queue {queue.node.path}",
                          context={"aws:SourceArn": self.topic.topic_arn}, why=f"from {self.topic.node.path}")
        self.queues[name] = queue
        self.dead_letter_queues[name] = dead
        return queue

    def _declare_publishing(self, rule: events.Rule) -> None:
        """EventBridge publishes the rule's events to the encrypted topic: the topic's policy and the key's."""
        context = {"aws:SourceArn": rule.rule_arn, "aws:SourceAccount": Stack.of(self).account}
        events_principal = paths.service_principal(EVENTS_PRINCIPAL)
        paths.declare_iam(self.topic, events_principal, ["sns:Publish"], [self.topic.topic_arn],
                          on=f"the topic {self.topic.node.path}", context=context, why=f"rule {rule.node.path}")
        paths.declare_iam(self.topic, events_principal, ["kms:GenerateDataKey", "kms:Decrypt"], [self.key.key_arn],
                          on=f"the topic's key {self.key.node.path}", context=context, why=f"rule {rule.node.path}")
        if rule is self.rules[0]:  # once: whatever the rules, another account's must be refused
            for actions, resource, what in (
                    (["sns:Publish"], self.topic.topic_arn, f"the topic {self.topic.node.path}"),
                    (["kms:GenerateDataKey"], self.key.key_arn, f"the topic's key {self.key.node.path}")):
                paths.declare_exclusive(self.topic, [{**paths.service_principal(EVENTS_PRINCIPAL),
                                                      "name": "this account's EventBridge rules"}], actions, [resource],
                                        on=what, against=["foreign_sources"],
                                        why="this account's rules: another account's cannot inject events")

    def subscribe_queue(self, queue: sqs.IQueue) -> None:
        """Deliver every event to the user's queue too (raw messages: the EventBridge event as JSON).

        A queue made in this app must have a dead-letter queue; one imported by ARN is trusted to.
        """
        if isinstance(queue, sqs.Queue) and queue.dead_letter_queue is None:
            raise ConfigError(self.node.path, "subscribe_queue", queue.node.path, "a queue with a dead-letter queue",
                              hint="Pass dead_letter_queue=sqs.DeadLetterQueue(queue=..., max_receive_count=...) to "
                                   "the queue, so that a message no consumer can process is kept, not lost.")
        self.topic.add_subscription(subscriptions.SqsSubscription(queue, raw_message_delivery=True))

    def subscribe_function(self, function: lambda_.IFunction, *, name: str | None = None,
                           batch_size: int = 10) -> sqs.Queue:
        """Run `function` for every event, through an events queue of its own (with its dead-letter queue).

        The function reads the queue (an SQS event source), so a failing function retries and then
        parks the event in the dead-letter queue instead of losing it. Returns the queue.
        """
        queue = self._event_queue(name or function.node.id)
        function.add_event_source(event_sources.SqsEventSource(queue, batch_size=batch_size,
                                                               report_batch_item_failures=True))
        return queue
