"""The CloudWatch metrics and EventBridge events the constructs watch, each as its service documents it.

Every alarm and graph of `monitoring()` (hpc_constructs.monitoring, HpcDashboard) uses only the metrics listed in
METRICS, with a dimension set and statistic listed here, and event rules match only the events in EVENTS:
tests/unit/test_dashboard.py reads every alarm and rule of the synthesized templates and looks each one up here.
A metric that a service does not publish is not here, and what we wanted from it is written down in NOT_PUBLISHED
instead (never invented).

Units and statistics are the documentation's. Two facts shape the alarms: a Sum over a period longer than the
service's own sampling interval adds up its samples (FreeDataStorageCapacity is reported per disk per minute, so
its Sum is the file system's free bytes only at a 1-minute period), and "bytes per second" from a Sum is the Sum
divided by the period's seconds (the FSx and EBS guides' own formula).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

CHECKED = "2026-12"

AUTOSCALING_SOURCE = ("Amazon EC2 Auto Scaling User Guide, 'Amazon CloudWatch metrics for Amazon EC2 Auto Scaling' "
                      "(https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-metrics.html): "
                      "group metrics at one-minute granularity, no charge, reported only if metrics collection is "
                      f"enabled; checked {CHECKED}")
FSX_SOURCE = ("Amazon FSx for Lustre User Guide, 'Amazon FSx for Lustre metrics and dimensions' "
              "(https://docs.aws.amazon.com/fsx/latest/LustreGuide/fs-metrics.html) and 'How to use Amazon FSx for "
              "Lustre CloudWatch metrics' (throughput = SUM(DataReadBytes + DataWriteBytes)/PERIOD); one data point "
              f"per disk per minute; checked {CHECKED}")
EFS_SOURCE = ("Amazon EFS User Guide, 'Amazon CloudWatch metrics for Amazon EFS' "
              "(https://docs.aws.amazon.com/efs/latest/ug/efs-metrics.html) and 'Using metric math with Amazon EFS' "
              "(throughput utilization = (Sum(MeteredIOBytes)/PERIOD) / PermittedThroughput x 100); "
              f"checked {CHECKED}")
EBS_SOURCE = ("Amazon EBS User Guide, 'Amazon CloudWatch metrics for Amazon EBS' "
              "(https://docs.aws.amazon.com/ebs/latest/userguide/using_cloudwatch_ebs.html): the only dimension is "
              "VolumeId; the Exceeded checks are 0 or 1 per minute, for volumes attached to Nitro instances, not "
              f"for Multi-Attach volumes; checked {CHECKED}")
EVENTS_METRICS_SOURCE = ("Amazon EventBridge User Guide, 'Monitoring Amazon EventBridge' "
                         "(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html): "
                         "'TriggeredRules: the number of rules that have run and matched with any event', dimension "
                         f"RuleName, unit Count, Sum the useful statistic; checked {CHECKED}")
SQS_SOURCE = ("Amazon SQS Developer Guide, 'Available CloudWatch metrics for Amazon SQS' "
              "(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/"
              f"sqs-available-cloudwatch-metrics.html), dimension QueueName; checked {CHECKED}")
NLB_SOURCE = ("Elastic Load Balancing, Network Load Balancers, 'CloudWatch metrics for your Network Load Balancer' "
              "(https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-cloudwatch-metrics.html)"
              ": HealthyHostCount by LoadBalancer and TargetGroup, Minimum and Maximum the most useful statistics; "
              f"checked {CHECKED}")
DATASYNC_SOURCE = ("AWS DataSync User Guide, 'Monitoring data transfers with Amazon CloudWatch metrics' "
                   "(https://docs.aws.amazon.com/datasync/latest/userguide/monitor-datasync.html), dimension TaskId; "
                   f"checked {CHECKED}")
METRIC_FILTER_SOURCE = ("Amazon CloudWatch Logs User Guide, 'Creating metrics from log events using filters' and "
                        "'Filter pattern syntax' (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/"
                        "FilterAndPatternSyntax.html): a metric filter publishes its own metric, in its own "
                        "namespace; terms in double quotes are matched as written, ?term matches any of the terms; "
                        f"checked {CHECKED}")
EVENTS_SOURCE = ("Amazon EventBridge Events Reference (https://docs.aws.amazon.com/eventbridge/latest/ref/): "
                 "'Amazon EC2 Auto Scaling events', 'AWS Batch events', 'AWS DataSync events'; delivery best effort; "
                 f"checked {CHECKED}")
BATCH_EVENTS_SOURCE = ("AWS Batch User Guide, 'Job state change events' and 'Job queue blocked events' "
                       "(https://docs.aws.amazon.com/batch/latest/userguide/batch-job-queue-blocked-events.html): "
                       "'Anytime that AWS Batch detects a job in the RUNNABLE state and thus blocking a queue, an "
                       f"event is created'; checked {CHECKED}")

# The namespace of the metrics that the library's own metric filters publish (a custom namespace: not AWS/).
LIBRARY_NAMESPACE = "hpc-constructs"


@dataclass(frozen=True, slots=True)
class MetricFact:
    """One CloudWatch metric as its service documents it.

    namespace: AWS/<service>, or for the library's own metric filters a namespace under LIBRARY_NAMESPACE
    (namespace_is_prefix: the rest names the construct). dimensions: the dimension set the constructs use.
    statistics: the statistics the documentation calls valid or useful for it.
    """

    namespace: str
    name: str
    dimensions: tuple[str, ...]
    unit: str
    statistics: tuple[str, ...]
    meaning: str
    source: str
    namespace_is_prefix: bool = False


def _facts(*facts: MetricFact) -> Mapping[tuple[str, str], MetricFact]:
    return MappingProxyType({(f.namespace, f.name): f for f in facts})


_GROUP = ("AutoScalingGroupName",)
_ANY = ("Average", "Minimum", "Maximum")
METRICS: Mapping[tuple[str, str], MetricFact] = _facts(
    MetricFact("AWS/AutoScaling", "GroupDesiredCapacity", _GROUP, "Count", _ANY,
               "The number of instances that the Auto Scaling group attempts to maintain.", AUTOSCALING_SOURCE),
    MetricFact("AWS/AutoScaling", "GroupInServiceInstances", _GROUP, "Count", _ANY,
               "The number of instances running as part of the group (not pending or terminating).",
               AUTOSCALING_SOURCE),
    MetricFact("AWS/AutoScaling", "GroupPendingInstances", _GROUP, "Count", _ANY,
               "The number of instances that are pending (not yet in service).", AUTOSCALING_SOURCE),
    MetricFact("AWS/AutoScaling", "GroupTerminatingInstances", _GROUP, "Count", _ANY,
               "The number of instances in the process of terminating.", AUTOSCALING_SOURCE),
    MetricFact("AWS/FSx", "FreeDataStorageCapacity", ("FileSystemId",), "Bytes",
               ("Sum", "Minimum", "Maximum", "Average", "SampleCount"),
               "Available storage capacity; Sum: the bytes available in the file system (per one-minute sample).",
               FSX_SOURCE),
    MetricFact("AWS/FSx", "DataReadBytes", ("FileSystemId",), "Bytes",
               ("Sum", "Minimum", "Maximum", "Average", "SampleCount"),
               "Bytes read by clients; Sum / period seconds is the read throughput.", FSX_SOURCE),
    MetricFact("AWS/FSx", "DataWriteBytes", ("FileSystemId",), "Bytes",
               ("Sum", "Minimum", "Maximum", "Average", "SampleCount"),
               "Bytes written by clients; Sum / period seconds is the write throughput.", FSX_SOURCE),
    MetricFact("AWS/EFS", "PermittedThroughput", ("FileSystemId",), "Bytes/Second", ("Minimum", "Maximum", "Average"),
               "The most throughput the file system can drive (Elastic: its maximum write throughput).", EFS_SOURCE),
    MetricFact("AWS/EFS", "MeteredIOBytes", ("FileSystemId",), "Bytes",
               ("Minimum", "Maximum", "Average", "Sum", "SampleCount"),
               "Metered I/O (reads count at a discount); Sum / period is the metered throughput.", EFS_SOURCE),
    MetricFact("AWS/EBS", "VolumeQueueLength", ("VolumeId",), "Count", ("Average", "Minimum", "Maximum"),
               "Read and write requests waiting to be completed.", EBS_SOURCE),
    MetricFact("AWS/EBS", "VolumeReadBytes", ("VolumeId",), "Bytes", ("Sum", "Average", "Minimum", "Maximum"),
               "Bytes read; Sum: the bytes transferred during the period.", EBS_SOURCE),
    MetricFact("AWS/EBS", "VolumeWriteBytes", ("VolumeId",), "Bytes", ("Sum", "Average", "Minimum", "Maximum"),
               "Bytes written; Sum: the bytes transferred during the period.", EBS_SOURCE),
    MetricFact("AWS/EBS", "VolumeReadOps", ("VolumeId",), "Count", ("Sum", "Average", "Minimum", "Maximum"),
               "Read operations; Sum / period seconds is the read IOPS.", EBS_SOURCE),
    MetricFact("AWS/EBS", "VolumeWriteOps", ("VolumeId",), "Count", ("Sum", "Average", "Minimum", "Maximum"),
               "Write operations; Sum / period seconds is the write IOPS.", EBS_SOURCE),
    MetricFact("AWS/EBS", "VolumeIOPSExceededCheck", ("VolumeId",), "None", ("Maximum", "Average", "Minimum"),
               "1 when the application consistently tried to drive more IOPS than provisioned within the minute.",
               EBS_SOURCE),
    MetricFact("AWS/EBS", "VolumeThroughputExceededCheck", ("VolumeId",), "None", ("Maximum", "Average", "Minimum"),
               "1 when the application consistently tried to drive more throughput than provisioned within the "
               "minute.", EBS_SOURCE),
    MetricFact("AWS/Events", "TriggeredRules", ("RuleName",), "Count", ("Sum", "SampleCount"),
               "The number of times the rule ran and matched an event.", EVENTS_METRICS_SOURCE),
    MetricFact("AWS/SQS", "ApproximateNumberOfMessagesVisible", ("QueueName",), "Count",
               ("Average", "Minimum", "Maximum", "Sum"),
               "The number of messages available for retrieval from the queue.", SQS_SOURCE),
    MetricFact("AWS/NetworkELB", "HealthyHostCount", ("LoadBalancer", "TargetGroup"), "Count",
               ("Minimum", "Maximum", "Average"), "The number of targets that are considered healthy.", NLB_SOURCE),
    MetricFact("AWS/DataSync", "BytesTransferred", ("TaskId",), "Bytes", ("Sum",),
               "The bytes that took part in the transfer (source and destination) of the task's executions.",
               DATASYNC_SOURCE),
    MetricFact(f"{LIBRARY_NAMESPACE}/HaBastion/", "FailedSshLogins", (), "Count", ("Sum",),
               "Lines of a bastion's /var/log/secure that end an SSH login attempt without authentication: "
               "'Invalid user' (an unknown user, once per attempt) or 'authenticating user' (a known user's "
               "connection closed or cut before it authenticated, once per connection). HaBastion.monitoring's "
               "metric filter publishes it.", METRIC_FILTER_SOURCE, namespace_is_prefix=True),
)


def metric_fact(namespace: str, name: str) -> MetricFact | None:
    """The catalogued metric for a namespace and name (library namespaces match by prefix), or None."""
    fact = METRICS.get((namespace, name))
    if fact is not None and not fact.namespace_is_prefix:
        return fact
    return next((f for (ns, n), f in METRICS.items()
                 if f.namespace_is_prefix and n == name and namespace.startswith(ns) and len(namespace) > len(ns)),
                None)


@dataclass(frozen=True, slots=True)
class EventFact:
    """One EventBridge event type as its service documents it: the source, the detail type, the detail fields the
    constructs match on and the values they match."""

    source: str
    detail_type: str
    fields: Mapping[str, tuple[str, ...]]  # detail field -> values matched (empty: any value, e.g. an ARN)
    meaning: str
    source_doc: str


EVENTS: Mapping[tuple[str, str], EventFact] = MappingProxyType({(e.source, e.detail_type): e for e in (
    EventFact("aws.autoscaling", "EC2 Instance Launch Unsuccessful", MappingProxyType({"AutoScalingGroupName": ()}),
              "Auto Scaling failed to launch an instance (StatusMessage and Cause give EC2's reason, e.g. "
              "InsufficientInstanceCapacity).", EVENTS_SOURCE),
    EventFact("aws.batch", "Batch Job State Change", MappingProxyType({"status": ("FAILED",), "jobQueue": ()}),
              "A job of one of the queues reached FAILED (statusReason says why).", BATCH_EVENTS_SOURCE),
    EventFact("aws.batch", "Batch Job Queue Blocked", MappingProxyType({"jobQueue": ()}),
              "A RUNNABLE job blocks the head of the queue (statusReason: CAPACITY:..., MISCONFIGURATION:...).",
              BATCH_EVENTS_SOURCE),
    EventFact("aws.datasync", "DataSync Task Execution State Change", MappingProxyType({"State": ("ERROR",)}),
              "A task execution ended in ERROR.", EVENTS_SOURCE),
)})

# What the issue asked to watch that the services do not publish as a metric, and what is done instead.
NOT_PUBLISHED: Mapping[str, str] = MappingProxyType({
    "AWS PCS (SlurmCluster)": (
        "PCS publishes no CloudWatch metrics: its guide's 'Logging and monitoring for AWS PCS' lists CloudWatch "
        "Logs (scheduler logs and job completion logs, delivered as vended logs) and CloudTrail "
        "(https://docs.aws.amazon.com/pcs/latest/userguide/monitoring-overview.html). A node group's live node "
        "count is not a metric; the dashboard shows each node group's configured capacity instead."),
    "AWS Batch RUNNABLE age": (
        "No metric gives how long a job has been RUNNABLE. AWS Batch's job metrics (AWS/Batch, JobQueueName, "
        "announced 2026-10) are emitted when a job changes state, so a job still waiting emits nothing, and their "
        "metric names could not be checked against the guide's table offline. Batch's own detection is watched "
        "instead: a 'Batch Job Queue Blocked' event, which Batch emits when a RUNNABLE job blocks the head of a "
        "queue."),
    "ComputeFleet launch failures": (
        "Auto Scaling has no failed-launch metric; its 'EC2 Instance Launch Unsuccessful' events are counted "
        "through an EventBridge rule (TriggeredRules)."),
    "EBS per-node volumes": (
        "Volumes that a launch template gives every node have no volume ID at synth, so none of their AWS/EBS "
        "metrics can be named; only standalone volumes are watched."),
})
