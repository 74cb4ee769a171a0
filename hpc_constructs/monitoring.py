"""The monitoring protocol: what one construct contributes to a dashboard, and the helpers its part is built with.

A construct that can be watched has one method, `monitoring(scope, settings=None) -> Monitoring`: it builds its alarms
(and anything they need that is not the construct's own, in `scope`) and returns them with its graphs and the
events it wants counted. HpcDashboard calls it on every construct it is given, so that an app composes only what it
has; anything else can implement it too (the Monitored protocol).

Every metric used here is one of catalog.metrics.METRICS, every event one of catalog.metrics.EVENTS.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from aws_cdk import CfnOutput, Duration, Fn, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from constructs import Construct, Node

from hpc_constructs.dashboard_plan import (
    EVENT_PERIOD_MINUTES,
    MonitoringSettings,
    alarm_description,
    check_evaluation,
)

__all__ = ["EventWatch", "Monitored", "Monitoring", "MonitoringSettings", "WatchedAlarm"]

GRAPH_WIDTH = 8  # three graphs to a row of CloudWatch's 24-unit grid
GRAPH_HEIGHT = 6


@dataclass(frozen=True, slots=True)
class WatchedAlarm:
    """An alarm with what it watches in words: its metric, its condition and why that condition matters."""

    alarm: cloudwatch.Alarm
    what: str
    metric: str  # "AWS/FSx FreeDataStorageCapacity (Sum, 1 min)", or the expression's metrics
    condition: str
    why: str


@dataclass(frozen=True, slots=True)
class EventWatch:
    """Events to count: the dashboard sends them to its event log with a rule and alarms on the first one.

    id: the rule's construct id in the part's scope. pattern: an EventBridge pattern over one of
    catalog.metrics.EVENTS. what: the alarm's subject ('Cpu: instance launches that failed').
    """

    id: str
    what: str
    pattern: events.EventPattern
    why: str


@dataclass(slots=True)
class Monitoring:
    """One construct's part of a dashboard."""

    title: str  # '<construct path> (<class>)'
    widgets: list[cloudwatch.IWidget] = field(default_factory=list)
    alarms: list[WatchedAlarm] = field(default_factory=list)
    events: list[EventWatch] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what is not watched, and why


@runtime_checkable
class Monitored(Protocol):
    """A construct that can say what to watch (ComputeFleet, StorageLayer and its tiers, BatchOrchestration,
    SlurmCluster, DataTransferLayer, HaBastion, HaInstance)."""

    @property
    def node(self) -> Node: ...

    def monitoring(self, scope: Construct, settings: MonitoringSettings | None = None) -> Monitoring: ...


def metric(namespace: str, name: str, dimensions: Mapping[str, str], statistic: str, period: Duration,
           label: str | None = None) -> cloudwatch.Metric:
    """A metric of catalog.metrics (the catalog test checks every one the templates name)."""
    return cloudwatch.Metric(namespace=namespace, metric_name=name, dimensions_map=dict(dimensions),
                             statistic=statistic, period=period, label=label)


def describe(metric_: cloudwatch.IMetric) -> str:
    """'AWS/FSx FreeDataStorageCapacity (Sum, 1 min)', or each metric of an expression."""
    if isinstance(metric_, cloudwatch.MathExpression):
        inner = "; ".join(describe(m) for _, m in sorted(metric_.using_metrics.items()))
        return f"{metric_.expression} of {inner}"
    assert isinstance(metric_, cloudwatch.Metric)
    minutes = metric_.period.to_minutes()
    return f"{metric_.namespace} {metric_.metric_name} ({metric_.statistic}, {minutes:g} min)"


def watch(scope: Construct, id: str, *, what: str, metric_: cloudwatch.IMetric, threshold: float,
          comparison: cloudwatch.ComparisonOperator, periods: int, condition: str, why: str,
          missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING) -> WatchedAlarm:
    """An alarm that fires when `periods` periods in a row breach `threshold`, described for people."""
    period = metric_.period if isinstance(metric_, cloudwatch.MathExpression) else _period(metric_)
    check_evaluation(scope.node.path, f"alarm {id}", int(period.to_seconds()), periods)
    alarm = cloudwatch.Alarm(
        scope, id, metric=metric_, threshold=threshold, comparison_operator=comparison,
        evaluation_periods=periods, datapoints_to_alarm=periods, treat_missing_data=missing,
        alarm_description=alarm_description(what, condition, why, scope.node.path))
    return WatchedAlarm(alarm, what, describe(metric_), condition, why)


def _period(metric_: cloudwatch.IMetric) -> Duration:
    assert isinstance(metric_, cloudwatch.Metric)
    return metric_.period


def graph(title: str, left: Sequence[cloudwatch.IMetric], *, lines: Mapping[str, float] | None = None,
          unit: str | None = None, width: int = GRAPH_WIDTH) -> cloudwatch.GraphWidget:
    """A graph of `left`, with a horizontal line per `lines` entry (label -> value: a provisioned figure or a
    threshold) and the y axis from 0."""
    return cloudwatch.GraphWidget(
        title=title, left=list(left), width=width, height=GRAPH_HEIGHT,
        left_y_axis=cloudwatch.YAxisProps(min=0, label=unit, show_units=False),
        left_annotations=[cloudwatch.HorizontalAnnotation(value=value, label=label)
                          for label, value in (lines or {}).items()])


def produced(producer: Construct, consumer: Construct, id: str, value: str, description: str) -> str:
    """`value` (an expression over the producer's attributes, e.g. an ID split out of an ARN) as the consumer's
    stack can read it. In another stack the expression is evaluated where its inputs live, in an output of the
    producer's stack that the consumer reads with Fn::GetStackOutput (CDK's weak reference, by hand): CloudFormation
    functions such as Fn::Split are not applied to another stack's output. The consumer's stack deploys after."""
    producer_stack, consumer_stack = Stack.of(producer), Stack.of(consumer)
    if producer_stack is consumer_stack:
        return value
    found = producer.node.try_find_child(id)
    output = found if isinstance(found, CfnOutput) else CfnOutput(producer, id, value=value, description=description)
    consumer_stack.add_stack_dependency(producer_stack, "reads an output for its alarms and graphs")
    return Fn.get_stack_output(producer_stack.stack_name, producer_stack.resolve(output.logical_id))


def event_count(rule_name: str, label: str) -> cloudwatch.Metric:
    """How many events a rule matched in 5 minutes (AWS/Events TriggeredRules, Sum)."""
    return metric("AWS/Events", "TriggeredRules", {"RuleName": rule_name}, "Sum",
                  Duration.minutes(EVENT_PERIOD_MINUTES), label)
