"""HpcDashboard: one CloudWatch dashboard and the alarms each construct knows it needs, notifying one topic."""

from __future__ import annotations

import re
from collections.abc import Sequence

import jsii
from aws_cdk import ArnFormat, Aws, Names, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk.interfaces.aws_events import IRuleRef
from constructs import Construct

from hpc_constructs import paths
from hpc_constructs.catalog.limits import LOG_RETENTION_DAYS
from hpc_constructs.dashboard_plan import (
    DASHBOARD_GRID_WIDTH,
    EVENT_PERIOD_MINUTES,
    MonitoringSettings,
    check_settings,
    grid_rows,
    part_id,
)
from hpc_constructs.errors import ConfigError
from hpc_constructs.kinds import check_kinds
from hpc_constructs.monitoring import GRAPH_WIDTH, Monitored, Monitoring, WatchedAlarm, event_count, graph, watch

__all__ = ["HpcDashboard"]

CLOUDWATCH_PRINCIPAL = "cloudwatch.amazonaws.com"
EVENTS_PRINCIPALS = ("events.amazonaws.com", "delivery.logs.amazonaws.com")
# DashboardName: "can contain only alphanumerics, dash (-), and underscore (_)", at most 255 (PutDashboard).
_DASHBOARD_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
# An address SNS can deliver to: one @, no spaces, a dot in the domain. SNS confirms it by mail before delivering.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# CDK's context key for the default strength of the cross-stack references a stack consumes (aws-cdk-lib README,
# 'Reference strength'); cx_api does not export it in Python.
CROSS_STACK_REFERENCES_CONTEXT = "@aws-cdk/core:defaultCrossStackReferences"
EVENT_LOG_PREFIX = "/aws/events/"  # where EventBridge's guide puts the log groups of rule targets
DEFAULT_EVENT_LOG_RETENTION_DAYS = 90


class HpcDashboard(Construct):
    """One CloudWatch dashboard and the alarms of the constructs it watches, all notifying one encrypted SNS topic.

    Props (keyword-only) and their defaults:
      parts: the constructs to watch, in dashboard order (required, at least one): ComputeFleet, StorageLayer (or
             one tier), BatchOrchestration, SlurmCluster, DataTransferLayer, HaBastion, HaInstance, or anything with
             `monitoring(scope, settings)` (hpc_constructs.monitoring.Monitored). Each contributes its graphs and
             alarms; an app composes only what it has.
      settings: MonitoringSettings() (a Lustre file system's free share at 20%, 10 failed SSH logins in 5 minutes);
                the other thresholds follow from documented facts (hpc_constructs.dashboard_plan).
      email_addresses: (). Each is subscribed to the topic; SNS mails a confirmation first. For chat, subscribe an
                       AWS Chatbot or Lambda endpoint to `topic`.
      dashboard_name: None lets CloudFormation name it; else letters, digits, '-' and '_' (at most 255).
      event_log_retention_days: 90, for the log of the events the alarms count (retained on stack deletion).

    What is built:
      - a customer managed KMS key (rotated, retained) and an SNS topic encrypted with it, TLS only. CloudWatch may
        publish to it, and use the key, only for alarms of this account and Region (aws:SourceAccount and
        aws:SourceArn arn:...:cloudwatch:<region>:<account>:alarm:*; SNS Developer Guide, 'Enable compatibility
        between event sources from AWS services and encrypted topics'); hpc-verify checks both policies (the paths
        this construct declares: CloudWatch publishes and uses the key, another account's alarms do not, EventBridge
        writes to the event log);
      - every part's alarms, each with the topic as its alarm and OK action, and a description that says what it
        watches, where it fires and why;
      - for the events a part wants counted (a failed launch, a failed job, a blocked job queue, a DataSync
        execution in error): an EventBridge rule per watch that writes the event to the event log, an
        /aws/events/ log group (EventBridge User Guide, 'CloudWatch Logs permissions': the resource policy admits
        events.amazonaws.com and delivery.logs.amazonaws.com to this log group only), and an alarm on the rule's
        TriggeredRules: the first matching event in 5 minutes;
      - the dashboard: a header, every alarm's state, then each part in order (its title, its notes: what is not
        watched and why, its graphs three to a row, its event counts), and the latest 20 events of the event log.

    The part's alarms and rules live in this construct (its stack), so that the watched stacks do not depend on
    it: this stack reads their resource names. A part in another stack is read through weak references only
    (Fn::GetStackOutput of a plain output): this stack's context must set @aws-cdk/core:defaultCrossStackReferences
    to "weak" (cdk.json, or CrossStackReferences.of(stack).consume(ReferenceStrength.WEAK) before the stack has
    children), else HpcDashboard refuses. A strong reference (an Export and Fn::ImportValue) would stop the watched
    stack from ever replacing or removing the group, queue or file system that an alarm reads.

    Attributes: topic, key, dashboard, event_log, parts (the Monitoring of each), alarms (WatchedAlarm, in order),
    rules (the event rules), settings.
    """

    @check_kinds
    def __init__(self, scope: Construct, id: str, *, parts: Sequence[Monitored],
                 settings: MonitoringSettings | None = None, email_addresses: Sequence[str] = (),
                 dashboard_name: str | None = None,
                 event_log_retention_days: int = DEFAULT_EVENT_LOG_RETENTION_DAYS) -> None:
        super().__init__(scope, id)
        self.settings = settings or MonitoringSettings()
        _validate(self.node.path, parts, self.settings, email_addresses, dashboard_name, event_log_retention_days)
        stack = Stack.of(self)
        _check_reference_strength(self.node.path, stack, parts)

        self.key = kms.Key(self, "Key", enable_key_rotation=True, removal_policy=RemovalPolicy.RETAIN,
                           description=f"{self.node.path}: the alarm topic")
        alarms_of_this_account = {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {"aws:SourceArn": f"arn:{Aws.PARTITION}:cloudwatch:{stack.region}:{stack.account}:alarm:*"}}
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudWatchAlarmsOfThisAccount", principals=[iam.ServicePrincipal(CLOUDWATCH_PRINCIPAL)],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"], resources=["*"], conditions=alarms_of_this_account))
        self.topic = sns.Topic(self, "Topic", master_key=self.key, enforce_ssl=True, display_name="HPC alarms")
        self.topic.add_to_resource_policy(iam.PolicyStatement(
            sid="PublishAlarmsOfThisAccount", principals=[iam.ServicePrincipal(CLOUDWATCH_PRINCIPAL)],
            actions=["sns:Publish"], resources=[self.topic.topic_arn], conditions=alarms_of_this_account))
        for address in email_addresses:
            self.topic.add_subscription(subscriptions.EmailSubscription(address))

        self.event_log = logs.LogGroup(
            self, "EventLog", log_group_name=f"{EVENT_LOG_PREFIX}hpc-constructs/{Names.unique_id(self)[-200:]}",
            removal_policy=RemovalPolicy.RETAIN)
        cfn_log = self.event_log.node.default_child
        assert isinstance(cfn_log, logs.CfnLogGroup)
        cfn_log.retention_in_days = event_log_retention_days

        action = actions.SnsAction(self.topic)
        self.parts: list[Monitoring] = []
        self.alarms: list[WatchedAlarm] = []
        self.rules: list[events.Rule] = []
        for part in parts:
            part_scope = Construct(self, part_id(part.node.path))
            monitoring = part.monitoring(part_scope, self.settings)
            self._count_events(part_scope, monitoring)
            for watched in monitoring.alarms:
                watched.alarm.add_alarm_action(action)
                watched.alarm.add_ok_action(action)
            self.parts.append(monitoring)
            self.alarms += monitoring.alarms
        if self.rules:
            self._admit_eventbridge()
        self._declare_paths()
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=dashboard_name)
        self._lay_out()
        self.node.add_metadata("hpc:figures", {
            "dashboard": f"{dashboard_name or 'named by CloudFormation'}: {len(self.parts)} parts, "
                         f"{len(self.alarms)} alarms, {len(self.rules)} event rules",
            "notifications": "one SNS topic, KMS-encrypted (customer managed key), TLS only; "
                             + (f"{len(email_addresses)} email subscription(s)" if email_addresses
                                else "no subscription yet (email_addresses, or subscribe to the topic)"),
            **{f"alarm {w.what}": f"{w.condition} ({w.metric})" for w in self.alarms},
        })

    def _count_events(self, scope: Construct, monitoring: Monitoring) -> None:
        """A rule per event watch, writing to the event log, and an alarm on its first match in 5 minutes."""
        counts = []
        for watch_ in monitoring.events:
            rule = events.Rule(scope, watch_.id, event_pattern=watch_.pattern,
                               description=f"{watch_.what} (HpcDashboard {self.node.path})"[:512],
                               targets=[_EventLogTarget(self.event_log)])
            self.rules.append(rule)
            count = event_count(rule.rule_name, watch_.what.rsplit(": ", 1)[-1])
            counts.append(count)
            monitoring.alarms.append(watch(
                scope, f"{watch_.id}Alarm", what=watch_.what, metric_=count, threshold=1,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, periods=1,
                condition=f"at least 1 event in {EVENT_PERIOD_MINUTES} minutes", why=watch_.why))
        if counts:
            monitoring.widgets.append(graph("Events (5 minutes)", counts, unit="events", lines={"alarm": 1}))

    def _admit_eventbridge(self) -> None:
        """EventBridge's documented policy for log-group targets, for this one log group."""
        logs.ResourcePolicy(
            self, "EventLogPolicy", resource_policy_name=f"{Names.unique_id(self)[-200:]}-Events",
            policy_statements=[iam.PolicyStatement(
                sid="EventBridgeRulesToTheEventLog",
                principals=[iam.ServicePrincipal(p) for p in EVENTS_PRINCIPALS],
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[f"{_log_group_arn(self.event_log)}:*"])])

    def _declare_paths(self) -> None:
        """For hpc-verify: CloudWatch (for this account's alarms) publishes to the topic and uses its key, and no other
        account's alarm does; EventBridge (for this account's rules) writes to the event log. One alarm and one rule
        stand for the others: the policies name them by pattern (alarm:*), not one by one."""
        account = Stack.of(self).account
        cloudwatch_ = paths.service_principal(CLOUDWATCH_PRINCIPAL)
        if self.alarms:
            alarm = self.alarms[0].alarm
            context = {"aws:SourceArn": alarm.alarm_arn, "aws:SourceAccount": account}
            why = f"alarm {alarm.node.path}: its notifications"
            paths.declare_iam(self.topic, cloudwatch_, ["sns:Publish"], [self.topic.topic_arn],
                              on=f"the alarm topic {self.topic.node.path}", context=context, why=why)
            paths.declare_iam(self.topic, cloudwatch_, ["kms:GenerateDataKey", "kms:Decrypt"], [self.key.key_arn],
                              on=f"the alarm topic's key {self.key.node.path}", context=context, why=why)
            this_account = [{**cloudwatch_, "name": "this account's CloudWatch alarms"}]
            for actions, resource, what in ((["sns:Publish"], self.topic.topic_arn,
                                             f"the alarm topic {self.topic.node.path}"),
                                            (["kms:GenerateDataKey"], self.key.key_arn,
                                             f"the alarm topic's key {self.key.node.path}")):
                paths.declare_exclusive(self.topic, this_account, actions, [resource], on=what,
                                        against=["foreign_sources"],
                                        why="another account's alarms cannot notify this team")
        if self.rules:
            rule = self.rules[0]
            paths.declare_iam(self.event_log, paths.service_principal(EVENTS_PRINCIPALS[0]),
                              ["logs:CreateLogStream", "logs:PutLogEvents"], [self.event_log.log_group_arn],
                              on=f"the event log {self.event_log.node.path}",
                              context={"aws:SourceArn": rule.rule_arn, "aws:SourceAccount": account},
                              why=f"rule {rule.node.path}: the events its alarm counts")

    def _lay_out(self) -> None:
        names = " · ".join(m.title for m in self.parts)
        self.dashboard.add_widgets(cloudwatch.TextWidget(
            width=DASHBOARD_GRID_WIDTH, height=3,
            markdown=f"# HPC environment\nEvery alarm below notifies one SNS topic (hpc-constructs HpcDashboard). "
                     f"Watched: {names}"))
        if self.alarms:
            self.dashboard.add_widgets(cloudwatch.AlarmStatusWidget(
                title="Alarms", alarms=[w.alarm for w in self.alarms], width=DASHBOARD_GRID_WIDTH,
                height=2 + (len(self.alarms) + 3) // 4))
        per_row = DASHBOARD_GRID_WIDTH // GRAPH_WIDTH
        for monitoring in self.parts:
            notes = "".join(f"\n- {note}" for note in monitoring.notes)
            self.dashboard.add_widgets(cloudwatch.TextWidget(
                markdown=f"## {monitoring.title}{notes}", width=DASHBOARD_GRID_WIDTH,
                height=1 + 2 * len(monitoring.notes)))
            for row in grid_rows(len(monitoring.widgets), per_row):
                self.dashboard.add_widgets(*(monitoring.widgets[i] for i in row))
        if self.rules:
            self.dashboard.add_widgets(cloudwatch.LogQueryWidget(
                title="Latest events (event log)", log_group_names=[self.event_log.log_group_name],
                width=DASHBOARD_GRID_WIDTH, height=6,
                query_lines=["fields @timestamp, source, `detail-type`, resources.0",
                             "sort @timestamp desc", "limit 20"]))


def _log_group_arn(log_group: logs.ILogGroup) -> str:
    """arn:...:log-group:<name>, without the ':*' that LogGroup.log_group_arn ends with (a rule target's form)."""
    return Stack.of(log_group).format_arn(service="logs", resource="log-group",
                                          resource_name=log_group.log_group_name,
                                          arn_format=ArnFormat.COLON_RESOURCE_NAME)


@jsii.implements(events.IRuleTarget)
class _EventLogTarget:
    """The event log as a rule target. aws_events_targets.CloudWatchLogGroup would set the log group's resource
    policy through a Lambda-backed custom resource; HpcDashboard writes the documented policy itself."""

    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._log_group = log_group

    def bind(self, rule: IRuleRef, id: str | None = None) -> events.RuleTargetConfig:
        return events.RuleTargetConfig(arn=_log_group_arn(self._log_group))


def _check_reference_strength(path: str, stack: Stack, parts: Sequence[Monitored]) -> None:
    """Parts in other stacks are read through weak references only (see the class docstring).

    CDK decides a reference's strength by the consuming stack's context (aws-cdk-lib 2.275, core/lib/private/refs.js:
    the resource's own override, else the consumer stack's DEFAULT_CROSS_STACK_REFERENCES, else "strong"), not by a
    construct's, so HpcDashboard cannot weaken its own references inside a stack that has other children."""
    # _validate has checked that every part is a construct.
    elsewhere = [part for part in parts if isinstance(part, Construct) and Stack.of(part) is not stack]
    strength = stack.node.try_get_context(CROSS_STACK_REFERENCES_CONTEXT)
    if not elsewhere or strength == "weak":
        return
    first = elsewhere[0]
    raise ConfigError(
        path, "parts", f"{first.node.path} (stack {Stack.of(first).stack_name}, references {strength or 'strong'})",
        "constructs of this stack, or of other stacks read through weak references",
        hint=f'Set "{CROSS_STACK_REFERENCES_CONTEXT}": "weak" in cdk.json\'s context (the reference app does), or '
             f"call CrossStackReferences.of(<this stack>).consume(ReferenceStrength.WEAK) right after creating the "
             f"stack. A strong reference is an Export that {Stack.of(first).stack_name} could not change or remove "
             "while this dashboard reads it: replacing a fleet's group or a queue would fail.")


def _validate(path: str, parts: Sequence[Monitored], settings: MonitoringSettings, email_addresses: Sequence[str],
              dashboard_name: str | None, retention_days: int) -> None:
    """Every HpcDashboard rule, in the order the docstring lists the props."""
    if isinstance(parts, Construct) or not parts:
        raise ConfigError(path, "parts", parts, "a sequence of one or more constructs to watch",
                          hint="HpcDashboard(self, 'Ops', parts=[fleet, storage, batch]).")
    ids: dict[str, str] = {}
    for i, part in enumerate(parts):
        if not callable(getattr(part, "monitoring", None)) or not isinstance(part, Construct):
            raise ConfigError(path, f"parts[{i}]", type(part).__name__,
                              "a construct with monitoring(scope, settings) (hpc_constructs.monitoring.Monitored)",
                              hint="ComputeFleet, StorageLayer, LustreFileSystem, EfsFileSystem, EbsVolumes, "
                                   "BatchOrchestration, SlurmCluster, DataTransferLayer, HaBastion and HaInstance "
                                   "have it.")
        taken = ids.get(part_id(part.node.path))
        if taken is not None:
            raise ConfigError(path, f"parts[{i}]", part.node.path, "each construct once",
                              hint=f"{taken} is already a part" if taken == part.node.path else
                              f"{taken} and {part.node.path} would share a scope id; rename one of them.")
        ids[part_id(part.node.path)] = part.node.path
    check_settings(path, settings)
    if isinstance(email_addresses, str):
        raise ConfigError(path, "email_addresses", email_addresses, "a sequence of addresses",
                          hint=f"Write email_addresses=[{email_addresses!r}].")
    for i, address in enumerate(email_addresses):
        if not isinstance(address, str) or not _EMAIL.match(address):
            raise ConfigError(path, f"email_addresses[{i}]", address, "an email address (name@domain)")
    if dashboard_name is not None and not _DASHBOARD_NAME.match(dashboard_name):
        raise ConfigError(path, "dashboard_name", dashboard_name,
                          "1 to 255 letters, digits, '-' and '_' (CloudWatch PutDashboard)")
    if isinstance(retention_days, bool) or retention_days not in LOG_RETENTION_DAYS:
        raise ConfigError(path, "event_log_retention_days", retention_days,
                          "one of CloudWatch Logs' retention periods: " + ", ".join(map(str, LOG_RETENTION_DAYS)))

