"""JobEvents: Batch job-state changes fanned out through an encrypted SNS topic to SQS queues with their DLQs.

No hop loses an event silently. EventBridge retries its target (the topic) for a day, then parks the event in a
dead-letter queue; SNS parks a message it cannot deliver to a subscribed queue (a KMS or policy failure is a
client-side error, which SNS does not retry) in another; a consumer that fails a message five times parks it in
its queue's own dead-letter queue. Each of those queues is an alarm-ready metric (`undelivered_metrics`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import jsii
from aws_cdk import Acknowledgment, Aws, Duration, RemovalPolicy, Stack, Token, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk.interfaces.aws_events import IRuleRef
from constructs import Construct

from hpc_constructs import paths
from hpc_constructs.batch_plan import check_name
from hpc_constructs.catalog.limits import (
    BATCH,
    EVENTBRIDGE_MAX_EVENT_AGE_SECONDS,
    EVENTBRIDGE_MAX_EVENT_PATTERN_CHARS,
    EVENTBRIDGE_MAX_RETRY_ATTEMPTS,
    LAMBDA_DEFAULT_TIMEOUT_SECONDS,
    LAMBDA_SQS_VISIBILITY_TIMEOUT_FACTOR,
    SQS_DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
    SQS_MAX_MESSAGE_RETENTION_SECONDS,
    SQS_MAX_VISIBILITY_TIMEOUT_SECONDS,
)
from hpc_constructs.errors import ConfigError
from hpc_constructs.kinds import check_kinds

__all__ = ["JobEvents"]

FINAL_STATES = ("FAILED", "SUCCEEDED")
EVENTS_PRINCIPAL = "events.amazonaws.com"
SNS_PRINCIPAL = "sns.amazonaws.com"
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
    encryption, which SNS and EventBridge can deliver to. Topic and queues refuse requests without TLS.

    Who may publish: the topic's policy admits EventBridge only for these rules (aws:SourceArn) of this
    account (aws:SourceAccount); the key's policy admits EventBridge only for rules of this account and
    Region (it cannot name the rules: each rule depends on the topic, which depends on the key).

    Delivery that fails is kept, never dropped (EventBridge's retry policy, then dead-letter queues):
      - EventBridge to the topic: retried for up to 185 attempts over 24 hours (EventBridge's maximum),
        then the event goes to `target_dead_letter_queue`;
      - SNS to each subscribed queue: a message SNS cannot deliver goes to
        `subscription_dead_letter_queue` (SNS's redrive policy);
      - a consumer that fails a message 5 times: its queue's dead-letter queue (`dead_letter_queues`).
    Every dead-letter queue keeps messages 14 days (SQS's longest); any message in one means an event a
    consumer has not seen: `undelivered_metrics()` gives one metric per dead-letter queue to alarm on.

    Attributes: topic, key, rules (one per batch of queues), rule (the first), queues (dict by name),
    dead_letter_queues (dict by name), target_dead_letter_queue, subscription_dead_letter_queue;
    subscribe_queue(queue), subscribe_function(function, name=...), undelivered_metrics().
    """

    @check_kinds
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
        self.topic = sns.Topic(self, "Topic", master_key=self.key, enforce_ssl=True,
                               display_name="Batch job events")
        self.target_dead_letter_queue = self._dead_letter_queue(
            "TargetDeadLetters", "events EventBridge could not publish to the topic (after its retries)")
        self.subscription_dead_letter_queue = self._dead_letter_queue(
            "SubscriptionDeadLetters", "messages SNS could not deliver to a subscribed queue")
        self.rules: list[events.Rule] = []
        for number, batch in enumerate(pattern_batches(names), start=1):
            rule = events.Rule(self, "Rule" if number == 1 else f"Rule{number}",
                               description=f"{self.node.path}: final states of its Batch jobs",
                               event_pattern=events.EventPattern(
                                   source=["aws.batch"], detail_type=["Batch Job State Change"],
                                   detail={"status": list(FINAL_STATES), "jobQueue": [arns[i] for i in batch]}))
            rule.add_target(_TopicTarget(self.topic, self.target_dead_letter_queue))
            self.rules.append(rule)
            self._declare_publishing(rule)
        self.rule = self.rules[0]
        self._admit_eventbridge()
        self.queues: dict[str, sqs.Queue] = {}
        self.dead_letter_queues: dict[str, sqs.Queue] = {}
        for name in queues:
            self._event_queue(name)

    def _admit_eventbridge(self) -> None:
        """EventBridge may publish to the topic for these rules only, and use the key for this account's rules."""
        account = Stack.of(self).account
        rule_arns = [rule.rule_arn for rule in self.rules]
        self.topic.add_to_resource_policy(iam.PolicyStatement(
            sid="PublishJobEventsFromTheseRules", principals=[iam.ServicePrincipal(EVENTS_PRINCIPAL)],
            actions=["sns:Publish"], resources=[self.topic.topic_arn],
            conditions={"ArnEquals": {"aws:SourceArn": rule_arns}, "StringEquals": {"aws:SourceAccount": account}}))
        # EventBridge encrypts what it publishes to the topic with this key (EventBridge User Guide, 'Authorizing
        # EventBridge to use a customer managed key': scope it with aws:SourceArn or aws:SourceAccount).
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid="EventBridgeRulesOfThisAccount", principals=[iam.ServicePrincipal(EVENTS_PRINCIPAL)],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"], resources=["*"],
            conditions={"StringEquals": {"aws:SourceAccount": account},
                        "ArnLike": {"aws:SourceArn": f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{account}:rule/*"}}))
        self.target_dead_letter_queue.add_to_resource_policy(iam.PolicyStatement(
            sid="UndeliveredEventsOfTheseRules", principals=[iam.ServicePrincipal(EVENTS_PRINCIPAL)],
            actions=["sqs:SendMessage"], resources=[self.target_dead_letter_queue.queue_arn],
            conditions={"ArnEquals": {"aws:SourceArn": rule_arns}}))

    def _dead_letter_queue(self, id: str, what: str) -> sqs.Queue:
        dead = sqs.Queue(self, id, encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
                         retention_period=DEAD_LETTER_RETENTION)
        Validations.of(dead).acknowledge(Acknowledgment(
            id="AwsSolutions::AwsSolutions-SQS3",
            reason=f"This is a dead-letter queue ({what}): a DLQ of a DLQ would hide failures."))
        return dead

    def _event_queue(self, name: str, visibility_timeout: Duration | None = None) -> sqs.Queue:
        check_name(self.node.path, "queues", name)
        if name in self.queues:
            raise ConfigError(self.node.path, "queues", name, "each event queue name once")
        dead = self._dead_letter_queue(f"{name}DeadLetters", f"of the events queue {name}")
        queue = sqs.Queue(self, f"{name}Queue", encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
                          retention_period=QUEUE_RETENTION, visibility_timeout=visibility_timeout,
                          dead_letter_queue=sqs.DeadLetterQueue(queue=dead, max_receive_count=MAX_RECEIVE_COUNT))
        self._subscribe(queue)
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

    def _subscribe(self, queue: sqs.IQueue) -> None:
        self.topic.add_subscription(subscriptions.SqsSubscription(
            queue, raw_message_delivery=True, dead_letter_queue=self.subscription_dead_letter_queue))

    def subscribe_queue(self, queue: sqs.IQueue) -> None:
        """Deliver every event to the user's queue too (raw messages: the EventBridge event as JSON).

        A queue made in this app must have a dead-letter queue; one imported by ARN is trusted to. What SNS
        cannot deliver to it goes to subscription_dead_letter_queue.
        """
        if isinstance(queue, sqs.Queue) and queue.dead_letter_queue is None:
            raise ConfigError(self.node.path, "subscribe_queue", queue.node.path, "a queue with a dead-letter queue",
                              hint="Pass dead_letter_queue=sqs.DeadLetterQueue(queue=..., max_receive_count=...) to "
                                   "the queue, so that a message no consumer can process is kept, not lost.")
        self._subscribe(queue)

    def subscribe_function(self, function: lambda_.IFunction, *, name: str | None = None,
                           batch_size: int = 10, function_timeout: Duration | None = None) -> sqs.Queue:
        """Run `function` for every event, through an events queue of its own (with its dead-letter queue).

        The function reads the queue (an SQS event source), so a failing function retries and then
        parks the event in the dead-letter queue instead of losing it. Returns the queue.

        The queue's visibility timeout is six times the function's timeout (Lambda Developer Guide, 'Using
        Lambda with Amazon SQS'; Lambda refuses an event source whose queue's visibility timeout is shorter
        than the function's timeout). The timeout is read from a lambda_.Function (3 s, Lambda's default,
        when it sets none); any other function (imported, an alias or a version) must say it:
        function_timeout=Duration.seconds(...).
        """
        timeout = _function_timeout_seconds(self.node.path, function, function_timeout)
        visibility = min(LAMBDA_SQS_VISIBILITY_TIMEOUT_FACTOR * timeout, SQS_MAX_VISIBILITY_TIMEOUT_SECONDS)
        queue = self._event_queue(name or function.node.id,
                                  Duration.seconds(max(visibility, SQS_DEFAULT_VISIBILITY_TIMEOUT_SECONDS)))
        function.add_event_source(event_sources.SqsEventSource(queue, batch_size=batch_size,
                                                               report_batch_item_failures=True))
        return queue

    def undelivered_metrics(self) -> dict[str, cloudwatch.Metric]:
        """One metric per dead-letter queue (messages visible in it, the maximum over 5 minutes), by queue: any
        value above 0 is an event some consumer has not seen."""
        dead = {"target": self.target_dead_letter_queue, "subscriptions": self.subscription_dead_letter_queue,
                **{f"queue {name}": queue for name, queue in self.dead_letter_queues.items()}}
        return {name: queue.metric_approximate_number_of_messages_visible(statistic="Maximum",
                                                                          period=Duration.minutes(5))
                for name, queue in dead.items()}


def _function_timeout_seconds(path: str, function: lambda_.IFunction, given: Duration | None) -> int:
    """The function's timeout in seconds: `given`, else a lambda_.Function's own (Lambda's 3 s when unset)."""
    known: Duration | None = None
    if isinstance(function, lambda_.Function):
        known = function.timeout or Duration.seconds(LAMBDA_DEFAULT_TIMEOUT_SECONDS)
    timeout = given or known
    if timeout is None:
        raise ConfigError(path, "subscribe_function(function_timeout)", function.node.path,
                          "the function's timeout, for a function whose timeout the construct cannot read",
                          hint="Pass function_timeout=Duration.seconds(...) (the imported function's timeout): the "
                               "events queue's visibility timeout is six times it, as Lambda's guide asks, and "
                               "Lambda refuses an SQS event source whose visibility timeout is shorter.")
    if _is_token(timeout):
        raise ConfigError(path, "subscribe_function(function_timeout)", "a token",
                          "a timeout known at synth (Duration.seconds(...))")
    seconds = int(timeout.to_seconds())
    if known is not None and given is not None and not _is_token(known) and seconds < known.to_seconds():
        raise ConfigError(path, "subscribe_function(function_timeout)", f"{seconds} s",
                          f"at least the function's own timeout ({int(known.to_seconds())} s)")
    return seconds


def _is_token(duration: Duration) -> bool:
    return Token.is_unresolved(duration.to_string())


@jsii.implements(events.IRuleTarget)
class _TopicTarget:
    """The job-events topic as a rule target, with EventBridge's longest retry policy and a dead-letter queue.

    aws_events_targets.SnsTopic would also grant EventBridge sns:Publish on the topic with no condition; the
    topic's policy here admits these rules only (JobEvents._admit_eventbridge).
    """

    def __init__(self, topic: sns.ITopic, dead_letter_queue: sqs.IQueue) -> None:
        self._topic = topic
        self._dead_letter_queue = dead_letter_queue

    def bind(self, rule: IRuleRef, id: str | None = None) -> events.RuleTargetConfig:
        return events.RuleTargetConfig(
            arn=self._topic.topic_arn,
            dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=self._dead_letter_queue.queue_arn),
            retry_policy=events.CfnRule.RetryPolicyProperty(
                maximum_retry_attempts=EVENTBRIDGE_MAX_RETRY_ATTEMPTS,
                maximum_event_age_in_seconds=EVENTBRIDGE_MAX_EVENT_AGE_SECONDS))
