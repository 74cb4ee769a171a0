"""HpcDashboard in the reference environment, read from the synthesized templates as CloudFormation and CloudWatch
read them: every alarm's metric (namespace, name, statistic, period, and the resource each dimension names),
threshold, comparison and action; every metric against catalog.metrics (the services' documentation); every event
rule against catalog.metrics.EVENTS; the topic, its key and the event log's policies; the dashboard's widgets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from hpc_constructs.catalog.metrics import EVENTS, LIBRARY_NAMESPACE, METRICS, metric_fact
from hpc_constructs.dashboard_plan import GIB, MB, failed_ssh_pattern

Templates = dict[str, dict[str, Any]]
MONITORING = "HpcMonitoring"
GTE, LT = "GreaterThanOrEqualToThreshold", "LessThanThreshold"


@dataclass(frozen=True)
class Dim:
    """A dimension and what its value must resolve to: (stack, resource type, Ref or GetAtt attribute)."""

    name: str
    stack: str
    type: str
    attribute: str = "Ref"  # or the Fn::GetAtt attribute, or "Select/Split TaskArn" for an ID cut out of an ARN


@dataclass(frozen=True)
class Expect:
    metrics: tuple[tuple[str, str, str, int, tuple[Dim, ...]], ...]  # namespace, name, statistic, period s, dims
    threshold: float
    comparison: str
    periods: int
    expression: str | None = None
    missing: str = "notBreaching"


def _asg(stack: str = "HpcCompute") -> tuple[Dim, ...]:
    return (Dim("AutoScalingGroupName", stack, "AWS::AutoScaling::AutoScalingGroup"),)


def _rule() -> tuple[Dim, ...]:
    return (Dim("RuleName", MONITORING, "AWS::Events::Rule"),)


FLEET = Expect((("AWS/AutoScaling", "GroupDesiredCapacity", "Average", 60, _asg()),
                ("AWS/AutoScaling", "GroupInServiceInstances", "Average", 60, _asg())),
               1, GTE, 15, expression="desired - in_service")
EVENT = Expect((("AWS/Events", "TriggeredRules", "Sum", 300, _rule()),), 1, GTE, 1)
FSX = (Dim("FileSystemId", "HpcStorage", "AWS::FSx::FileSystem"),)
EFS = (Dim("FileSystemId", "HpcStorage", "AWS::EFS::FileSystem"),)
EBS = (Dim("VolumeId", "HpcStorage", "AWS::EC2::Volume"),)
DLQ = Expect((("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", 300,
               (Dim("QueueName", "HpcBatch", "AWS::SQS::Queue", "QueueName"),)),), 1, GTE, 1)

# Every alarm of the reference environment, by what it watches (the first part of its description).
EXPECTED: dict[str, Expect] = {
    **{f"HpcCompute/{fleet}: nodes in service below the desired capacity": FLEET for fleet in ("Gpu", "Cpu", "Viz")},
    **{f"HpcCompute/{fleet}: instance launches that failed": EVENT for fleet in ("Gpu", "Cpu", "Viz")},
    "HpcStorage/Storage: Lustre free capacity": Expect(
        (("AWS/FSx", "FreeDataStorageCapacity", "Sum", 60, FSX),), 0.2 * 2400 * GIB, LT, 5, missing="missing"),
    "HpcStorage/Storage: Lustre client throughput": Expect(
        (("AWS/FSx", "DataReadBytes", "Sum", 300, FSX), ("AWS/FSx", "DataWriteBytes", "Sum", 300, FSX)),
        250 * 2.4 * MB, GTE, 3, expression="(read + write) / PERIOD(read)"),
    "HpcStorage/Storage: EFS throughput utilization": Expect(
        (("AWS/EFS", "MeteredIOBytes", "Sum", 300, EFS), ("AWS/EFS", "PermittedThroughput", "Average", 300, EFS)),
        90, GTE, 3, expression="100 * (metered / PERIOD(metered)) / permitted"),
    "HpcStorage/Storage: EBS volume project asked for more IOPS than it provisions": Expect(
        (("AWS/EBS", "VolumeIOPSExceededCheck", "Maximum", 60, EBS),), 1, GTE, 5),
    "HpcStorage/Storage: EBS volume project asked for more throughput than it provisions": Expect(
        (("AWS/EBS", "VolumeThroughputExceededCheck", "Maximum", 60, EBS),), 1, GTE, 5),
    **{f"HpcBatch/Batch: job events in a dead-letter queue ({name})": DLQ
       for name in ("target", "subscriptions", "queue default")},
    "HpcBatch/Batch: jobs that failed": EVENT,
    "HpcBatch/Batch: job queues a RUNNABLE job blocks": EVENT,
    "HpcDataTransfer/DataTransfer: DataSync task executions that ended in error": EVENT,
    "HpcAccess/Bastion: healthy bastions behind the load balancer": Expect(
        (("AWS/NetworkELB", "HealthyHostCount", "Minimum", 60,
          (Dim("LoadBalancer", "HpcAccess", "AWS::ElasticLoadBalancingV2::LoadBalancer", "LoadBalancerFullName"),
           Dim("TargetGroup", "HpcAccess", "AWS::ElasticLoadBalancingV2::TargetGroup", "TargetGroupFullName"))),),
        2, LT, 15, missing="missing"),
    "HpcAccess/Bastion: failed SSH logins": Expect(
        ((f"{LIBRARY_NAMESPACE}/HaBastion/", "FailedSshLogins", "Sum", 300, ()),), 10, GTE, 1),
    # the failover bound of the reference license server (HaInstance's defaults): the health check's 3 failures 30 s
    # apart, then the launch hook's 900 s = 990 s, in whole minutes
    "HpcLicense/LicenseServer: the server in service": Expect(
        (("AWS/AutoScaling", "GroupInServiceInstances", "Minimum", 60, _asg("HpcLicense")),), 1, LT, 17,
        missing="breaching"),
    "HpcLicense/LicenseServer: instance launches that failed": EVENT,
}


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _alarms(templates: Templates) -> dict[str, dict[str, Any]]:
    """The monitoring stack's alarms by what they watch."""
    out = {}
    for resource in _resources(templates[MONITORING], "AWS::CloudWatch::Alarm").values():
        props = resource["Properties"]
        what = props["AlarmDescription"].split(". Why: ")[0].rsplit(": ", 1)[0]
        assert what not in out, f"two alarms watch {what!r}"
        out[what] = props
    return out


def _target(value: Any, stack: str, templates: Templates) -> tuple[str, str, str]:
    """(stack, logical ID, attribute) that a template value names, through Fn::GetStackOutput and the producer's
    output; an ID cut out of an ARN (Fn::Select 1 of Fn::Split '/') is '<attribute> (ID)'."""
    if isinstance(value, dict) and "Fn::GetStackOutput" in value:
        spec = value["Fn::GetStackOutput"]
        producer = spec["StackName"]
        return _target(templates[producer]["Outputs"][spec["OutputName"]]["Value"], producer, templates)
    if isinstance(value, dict) and "Ref" in value:
        return stack, value["Ref"], "Ref"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical, attribute = value["Fn::GetAtt"]
        return stack, logical, attribute
    if isinstance(value, dict) and "Fn::Select" in value:
        index, inner = value["Fn::Select"]
        assert index == 1 and inner["Fn::Split"][0] == "/", value
        found_stack, logical, attribute = _target(inner["Fn::Split"][1], stack, templates)
        return found_stack, logical, f"{attribute} (ID)"
    raise AssertionError(f"not a reference: {value!r}")


def _metric_stats(props: dict[str, Any]) -> list[dict[str, Any]]:
    """The alarm's metrics as MetricStat entries, in either of PutMetricAlarm's forms (one metric, or Metrics)."""
    if "MetricName" in props:
        metric = {"Namespace": props["Namespace"], "MetricName": props["MetricName"],
                  **({"Dimensions": props["Dimensions"]} if "Dimensions" in props else {})}
        return [{"Metric": metric, "Stat": props["Statistic"], "Period": props["Period"]}]
    return [q["MetricStat"] for q in props["Metrics"] if "MetricStat" in q]


def test_the_reference_environment_has_exactly_the_expected_alarms(reference_templates: Templates) -> None:
    assert sorted(_alarms(reference_templates)) == sorted(EXPECTED)


@pytest.mark.parametrize("what", sorted(EXPECTED))
def test_alarm_metric_threshold_and_action(what: str, reference_templates: Templates) -> None:
    """One test per alarm: its metrics and the resources they name, its threshold and its actions."""
    expect = EXPECTED[what]
    props = _alarms(reference_templates)[what]
    stats = _metric_stats(props)
    got = []
    for stat in stats:
        metric = stat["Metric"]
        dims = []
        for dimension in metric.get("Dimensions", []):
            stack, logical, attribute = _target(dimension["Value"], MONITORING, reference_templates)
            dims.append(Dim(dimension["Name"], stack,
                            reference_templates[stack]["Resources"][logical]["Type"], attribute))
        namespace = metric["Namespace"]
        if namespace.startswith(f"{LIBRARY_NAMESPACE}/HaBastion/"):
            namespace = f"{LIBRARY_NAMESPACE}/HaBastion/"
        got.append((namespace, metric["MetricName"], stat["Stat"], stat["Period"], tuple(dims)))
    assert tuple(got) == expect.metrics
    expressions = [q["Expression"] for q in props.get("Metrics", []) if "Expression" in q]
    assert expressions == ([expect.expression] if expect.expression else [])
    assert props["Threshold"] == pytest.approx(expect.threshold)
    assert props["ComparisonOperator"] == expect.comparison
    assert props["EvaluationPeriods"] == props["DatapointsToAlarm"] == expect.periods
    assert props["TreatMissingData"] == expect.missing
    topic = _topic(reference_templates)
    assert props["AlarmActions"] == props["OKActions"] == [{"Ref": topic}]
    assert "Why: " in props["AlarmDescription"] and len(props["AlarmDescription"]) <= 1024


def test_dlq_alarms_name_each_dead_letter_queue_once(reference_templates: Templates) -> None:
    queues = []
    for what, props in _alarms(reference_templates).items():
        if "dead-letter" in what:
            (stat,) = _metric_stats(props)
            _, logical, _ = _target(stat["Metric"]["Dimensions"][0]["Value"], MONITORING, reference_templates)
            queues.append(logical)
    batch = reference_templates["HpcBatch"]
    dead = [k for k, v in _resources(batch, "AWS::SQS::Queue").items() if "DeadLetters" in k]
    assert sorted(queues) == sorted(dead) and len(dead) == 3


def _topic(templates: Templates) -> str:
    (topic,) = _resources(templates[MONITORING], "AWS::SNS::Topic")
    return topic


# -- the catalog: every metric and event as its service documents it -----------------------------------------

def _all_metrics(templates: Templates) -> list[tuple[str, str, tuple[str, ...], str]]:
    """(namespace, name, dimension names, statistic) of every metric in an alarm or a graph of the dashboard."""
    found = []
    for props in _alarms(templates).values():
        for stat in _metric_stats(props):
            metric = stat["Metric"]
            found.append((metric["Namespace"], metric["MetricName"],
                          tuple(d["Name"] for d in metric.get("Dimensions", [])), stat["Stat"]))
    (dashboard,) = _resources(templates[MONITORING], "AWS::CloudWatch::Dashboard").values()
    body = json.loads(_body_text(dashboard["Properties"]["DashboardBody"]))
    for widget in body["widgets"]:
        for entry in widget.get("properties", {}).get("metrics", []):
            if isinstance(entry[-1], dict) and "expression" in entry[-1]:
                continue
            options = entry[-1] if isinstance(entry[-1], dict) else {}
            fields = entry[:-1] if isinstance(entry[-1], dict) else entry
            namespace, name, *pairs = fields
            found.append((namespace, name, tuple(pairs[0::2]), options.get("stat", "Average")))
    return found


def _body_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    separator, parts = value["Fn::Join"]
    return str(separator).join(p if isinstance(p, str) else "TOKEN" for p in parts)


def test_every_metric_is_in_the_catalog_with_its_documented_dimensions_and_statistic(
        reference_templates: Templates) -> None:
    metrics = _all_metrics(reference_templates)
    assert len(metrics) > 30
    for namespace, name, dimensions, statistic in metrics:
        fact = metric_fact(namespace, name)
        assert fact is not None, f"{namespace} {name} is not in catalog.metrics: check its service's documentation"
        assert dimensions == fact.dimensions, (namespace, name)
        assert statistic in fact.statistics, (namespace, name, statistic)


def test_the_catalog_refuses_what_no_service_documents() -> None:
    assert metric_fact("AWS/PCS", "ComputeNodeGroupCapacity") is None  # PCS publishes no CloudWatch metrics
    assert metric_fact("AWS/FSx", "FreeStorageCapacity") is None  # FSx for Windows/ONTAP; not a Lustre metric
    assert metric_fact(f"{LIBRARY_NAMESPACE}/HaBastion/", "FailedSshLogins") is None  # a construct must follow
    assert metric_fact(f"{LIBRARY_NAMESPACE}/HaBastion/X", "FailedSshLogins") is not None
    assert all(fact.source and "checked" in fact.source for fact in METRICS.values())


def test_every_event_rule_matches_a_catalogued_event(reference_templates: Templates) -> None:
    rules = _resources(reference_templates[MONITORING], "AWS::Events::Rule")
    assert len(rules) == 7
    seen = set()
    for rule in rules.values():
        pattern = rule["Properties"]["EventPattern"]
        (source,), (detail_type,) = pattern["source"], pattern["detail-type"]
        fact = EVENTS[(source, detail_type)]
        seen.add(detail_type)
        for field, values in pattern.get("detail", {}).items():
            assert field in fact.fields, (detail_type, field)
            if fact.fields[field]:
                assert set(values) <= set(fact.fields[field]), (detail_type, field, values)
    assert seen == {e.detail_type for e in EVENTS.values()}


# -- where the alarms and events go --------------------------------------------------------------------------

def _stack_outputs_read(value: Any) -> list[dict[str, Any]]:
    """Every Fn::GetStackOutput in a template value."""
    if isinstance(value, dict):
        found = [value["Fn::GetStackOutput"]] if "Fn::GetStackOutput" in value else []
        return found + [f for v in value.values() for f in _stack_outputs_read(v)]
    if isinstance(value, list):
        return [f for v in value for f in _stack_outputs_read(v)]
    return []


def test_the_watched_stacks_keep_no_export_for_the_dashboard(reference_templates: Templates) -> None:
    """Weak references only: an Export read by HpcMonitoring would stop HpcCompute from replacing a group (or
    HpcBatch a queue) while the dashboard reads it."""
    template = reference_templates[MONITORING]
    assert "Fn::ImportValue" not in json.dumps(template)
    read = _stack_outputs_read(template["Resources"])
    assert {r["StackName"] for r in read} >= {"HpcCompute", "HpcStorage", "HpcBatch", "HpcAccess", "HpcDataTransfer"}
    for spec in read:
        output = reference_templates[spec["StackName"]]["Outputs"][spec["OutputName"]]
        assert "Export" not in output, (spec, output)


def test_the_topic_is_encrypted_and_admits_only_this_accounts_alarms(reference_templates: Templates) -> None:
    template = reference_templates[MONITORING]
    (key_id, key), = _resources(template, "AWS::KMS::Key").items()
    topic = template["Resources"][_topic(reference_templates)]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert key["Properties"]["EnableKeyRotation"] is True and key["DeletionPolicy"] == "Retain"
    (policy,) = _resources(template, "AWS::SNS::TopicPolicy").values()
    statements = {s.get("Sid"): s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    publish = statements["PublishAlarmsOfThisAccount"]
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"} and publish["Action"] == "sns:Publish"
    assert set(publish["Condition"]) == {"StringEquals", "ArnLike"}
    assert ":alarm:*" in json.dumps(publish["Condition"]["ArnLike"]["aws:SourceArn"])
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               for s in statements.values())
    (kms,) = [s for s in key["Properties"]["KeyPolicy"]["Statement"]
              if s.get("Sid") == "CloudWatchAlarmsOfThisAccount"]
    assert kms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert sorted(kms["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"] and kms["Condition"] == publish["Condition"]


def test_events_go_to_an_aws_events_log_group_that_admits_eventbridge(reference_templates: Templates) -> None:
    template = reference_templates[MONITORING]
    (log_id, log), = _resources(template, "AWS::Logs::LogGroup").items()
    assert log["Properties"]["LogGroupName"].startswith("/aws/events/")
    assert log["DeletionPolicy"] == "Retain" and log["Properties"]["RetentionInDays"] == 90
    for rule in _resources(template, "AWS::Events::Rule").values():
        (target,) = rule["Properties"]["Targets"]
        assert target["Arn"]["Fn::Join"][1][-2:] == [":log-group:", {"Ref": log_id}]
        assert "RoleArn" not in target  # EventBridge's guide: no role for a CloudWatch Logs target
    (policy,) = _resources(template, "AWS::Logs::ResourcePolicy").values()
    (statement,) = json.loads(_body_text(policy["Properties"]["PolicyDocument"]))["Statement"]
    assert sorted(statement["Principal"]["Service"]) == ["delivery.logs.amazonaws.com", "events.amazonaws.com"]
    assert sorted(statement["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"].endswith(":log-group:TOKEN:*")


# -- what the watched constructs carry themselves --------------------------------------------------------------

def test_every_fleet_collects_the_group_metrics_its_graph_and_alarm_use(reference_templates: Templates) -> None:
    groups = {**_resources(reference_templates["HpcCompute"], "AWS::AutoScaling::AutoScalingGroup"),
              **_resources(reference_templates["HpcLicense"], "AWS::AutoScaling::AutoScalingGroup")}
    assert len(groups) == 4  # the Gpu, Cpu and Viz fleets, and the license server's group of one
    for group in groups.values():
        (collection,) = group["Properties"]["MetricsCollection"]
        assert collection["Granularity"] == "1Minute"
        assert {"GroupDesiredCapacity", "GroupInServiceInstances"} <= set(collection["Metrics"])


def test_the_bastions_ssh_log_has_the_failed_login_filter(reference_templates: Templates) -> None:
    access = reference_templates["HpcAccess"]
    (metric_filter,) = _resources(access, "AWS::Logs::MetricFilter").values()
    props = metric_filter["Properties"]
    (log_id,) = _resources(access, "AWS::Logs::LogGroup")
    assert props["LogGroupName"] == {"Ref": log_id}
    assert props["FilterPattern"] == failed_ssh_pattern() == '?"Invalid user" ?"authenticating user"'
    (transformation,) = props["MetricTransformations"]
    assert transformation["MetricName"] == "FailedSshLogins" and transformation["MetricValue"] == "1"
    assert transformation["MetricNamespace"].startswith(f"{LIBRARY_NAMESPACE}/HaBastion/")
    (alarm,) = [a for w, a in _alarms(reference_templates).items() if w.endswith("failed SSH logins")]
    assert _metric_stats(alarm)[0]["Metric"]["Namespace"] == transformation["MetricNamespace"]


# -- the dashboard ---------------------------------------------------------------------------------------------

def test_the_dashboard_shows_every_alarm_and_every_part(reference_templates: Templates) -> None:
    template = reference_templates[MONITORING]
    (dashboard,) = _resources(template, "AWS::CloudWatch::Dashboard").values()
    parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    body = json.loads(_body_text(dashboard["Properties"]["DashboardBody"]))
    (status,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    alarm_refs = [p for p in parts if isinstance(p, dict) and "Fn::GetAtt" in p and p["Fn::GetAtt"][1] == "Arn"]
    assert len(status["properties"]["alarms"]) == len(alarm_refs) == len(EXPECTED)
    texts = " ".join(w["properties"]["markdown"] for w in body["widgets"] if w["type"] == "text")
    for title in ("HpcCompute/Gpu (ComputeFleet)", "HpcStorage/Storage (StorageLayer)",
                  "HpcBatch/Batch (BatchOrchestration)", "HpcSlurm/Slurm (SlurmCluster)",
                  "HpcDataTransfer/DataTransfer (DataTransferLayer)", "HpcAccess/Bastion (HaBastion)"):
        assert f"## {title}" in texts
    assert "PCS publishes no CloudWatch metrics" in texts
    assert "| cpu | cpu-" in texts and "| 0-4 | ONDEMAND | yes |" in texts
    assert all(w["x"] >= 0 and w["x"] + w["width"] <= 24 for w in body["widgets"])
    (log,) = [w for w in body["widgets"] if w["type"] == "log"]
    assert log["properties"]["query"].startswith("SOURCE 'TOKEN' | fields @timestamp, source, `detail-type`")
    (log_id,) = _resources(template, "AWS::Logs::LogGroup")
    assert {"Ref": log_id} in parts
