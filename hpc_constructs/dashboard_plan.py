"""What the alarms watch and where they fire, as pure functions of plain values (no CDK).

Each threshold is a documented fact about the resource (its provisioned throughput, its capacity, the number of
AZs a bastion serves) or a setting the user states (MonitoringSettings), and each alarm carries its reason: the
WHY_* texts below become the alarms' descriptions, and README's alarm table is read back from the templates.
Metric names, dimensions and statistics come from catalog.metrics.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from hpc_constructs.errors import ConfigError

GIB = 2**30
MIB = 2**20
MB = 10**6  # FSx for Lustre states throughput in MB/s (per TiB of capacity)

# CloudWatch's own limits (CloudWatch API Reference, PutMetricAlarm and PutDashboard; checked 2026-12).
ALARM_DESCRIPTION_MAX_CHARS = 1024
DASHBOARD_GRID_WIDTH = 24
ALARM_EVALUATION_MAX_SECONDS = 24 * 3600  # EvaluationPeriods x Period may not pass one day

# An event-based alarm counts the rule's TriggeredRules over 5 minutes: one matching event is an alarm.
EVENT_PERIOD_MINUTES = 5
# A fleet whose in-service count stays below its desired capacity this long is not catching up by itself.
FLEET_SHORTFALL_MINUTES = 15
LUSTRE_THROUGHPUT_PERIODS = 3  # x 5 minutes
EFS_UTILIZATION_PERCENT = 90
EFS_UTILIZATION_PERIODS = 3  # x 5 minutes
EBS_EXCEEDED_MINUTES = 5
LUSTRE_FREE_MINUTES = 5

WHY_FLEET_SHORTFALL = (
    "Auto Scaling launches toward the desired capacity and retries failed launches; an instance counts as in "
    "service as soon as EC2 runs it (this group has no lifecycle hooks). Fifteen minutes short means launches keep "
    "failing (see the launch-failure alarm's events: capacity, quota, image) or instances keep being replaced.")
WHY_LAUNCH_FAILED = (
    "Auto Scaling sends 'EC2 Instance Launch Unsuccessful' when EC2 refuses a launch: InsufficientInstanceCapacity "
    "for p5 or hpc7a in the AZ, a vCPU quota, a launch-template error. Every one leaves jobs without nodes.")
WHY_HA_LAUNCH_FAILED = (
    "Auto Scaling sends 'EC2 Instance Launch Unsuccessful' when EC2 refuses a launch (InsufficientInstanceCapacity "
    "for the type in the AZ, a quota, a launch-template error); the group of one retries, and until a launch "
    "succeeds there is no server.")
WHY_LUSTRE_FREE = (
    "A full Lustre file system fails writes (ENOSPC) on every client. FSx grows only by a storage capacity "
    "increase, after which it rebalances data across its file servers for hours ('Managing storage capacity'): "
    "alarm while this share is still free, not when writes fail.")
WHY_LUSTRE_THROUGHPUT = (
    "The deployment type provisions this baseline (per-unit throughput x capacity, or the scratch baseline); "
    "clients at or above it for 15 minutes are bound by the file system. More needs a higher per-unit "
    "throughput tier or more capacity.")
WHY_EFS_UTILIZATION = (
    "PermittedThroughput is the most EFS lets this file system drive (Elastic: its maximum write throughput); "
    "within 10% of it for 15 minutes, the file system is the jobs' limit.")
WHY_EBS_IOPS = (
    "EBS reports 1 when the application consistently tried to drive more IOPS than the volume provisions; five "
    "minutes in a row means the volume, not the node, is the limit: provision more IOPS.")
WHY_EBS_THROUGHPUT = (
    "EBS reports 1 when the application consistently tried to drive more throughput than the volume provisions; "
    "five minutes in a row means the volume is the limit.")
WHY_JOB_FAILED = (
    "A job of these queues reached FAILED (Batch retries only lost hosts, so this is the job's own failure or a "
    "timeout); the event log on the dashboard gives its statusReason.")
WHY_QUEUE_BLOCKED = (
    "Batch emits 'Batch Job Queue Blocked' when it detects that a RUNNABLE job at the head of a queue cannot run "
    "(CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY, MISCONFIGURATION:...): every job behind it waits. No metric gives "
    "how long a job has been RUNNABLE; this is Batch's own detection.")
WHY_DEAD_LETTER = (
    "Any message in a dead-letter queue is a job event that a consumer has not seen (JobEvents keeps them 14 "
    "days): one is an alarm.")
WHY_TRANSFER_FAILED = (
    "A DataSync task execution that ends in ERROR transferred nothing or part of the data (a scheduled night's "
    "transfer, for example); the event log gives the execution.")
WHY_BASTION_HEALTHY = (
    "One bastion per AZ: fewer healthy targets than AZs means an AZ has no bastion. A replacement passes its health "
    "checks within the 15 minutes CloudFormation gives a bastion's boot; longer means it is not coming back "
    "by itself.")
WHY_HA_DOWN = (
    "The group of one counts its server in service only once the launch hook completes (data volume attached, "
    "address taken, the user's steps run). A failover may take the health check's detection plus the launch hook's "
    "timeout (HaInstance's failover bound); out of service longer than that, the server is not coming back by "
    "itself and every client that checks out a license waits or fails.")
WHY_FAILED_SSH = (
    "Counts SSH connections that ended before authenticating (an unknown user, or a known user's failed keys); "
    "the NLB's TCP health checks are not counted. The stated number in 5 minutes is more than a user's "
    "mistakes; sshd itself starts dropping unauthenticated connections past 10 at once (MaxStartups 10:30:100).")

# What ends an SSH login attempt without authentication in /var/log/secure (OpenSSH 8.7, Amazon Linux 2023):
# auth.c logs "Invalid user <name> from <addr> port <port>" once per attempt with an unknown name, and a known
# user's connection that closes before it authenticates is logged with the preamble "authenticating user <name>"
# (auth2.c, ssh_packet_set_log_preamble) in "Connection closed by", "Disconnected from" or "Disconnecting"
# (packet.c, sshpkt_vfatal), once per connection. The NLB's TCP health check connects and closes before the
# banner exchange: "Connection closed by <addr> port <port>" with no user, which neither phrase matches. Filter
# pattern terms are case sensitive, so the lower-case "invalid user" of an unknown user's closing line is not
# counted a second time.
FAILED_SSH_PHRASES = ("Invalid user", "authenticating user")


@dataclass(frozen=True, slots=True)
class MonitoringSettings:
    """The thresholds a user states; the others follow from documented facts (WHY_* in dashboard_plan).

    lustre_free_capacity_share: 0.2. Alarm when less than this share of an FSx for Lustre file system's
                                storage capacity is free (0 < share < 1).
    failed_ssh_logins: 10. Alarm when a bastion logs at least this many failed SSH logins in 5 minutes (>= 1).
    """

    lustre_free_capacity_share: float = 0.2
    failed_ssh_logins: int = 10


def check_settings(path: str, settings: MonitoringSettings) -> None:
    """Validate MonitoringSettings. Raises ConfigError."""
    share = settings.lustre_free_capacity_share
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share < 1:
        raise ConfigError(path, "settings.lustre_free_capacity_share", share, "a share between 0 and 1 (exclusive)",
                          hint="0.2 alarms when less than a fifth of the file system is free.")
    logins = settings.failed_ssh_logins
    if isinstance(logins, bool) or not isinstance(logins, int) or logins < 1:
        raise ConfigError(path, "settings.failed_ssh_logins", logins, "a whole number of failed logins, at least 1")


@dataclass(frozen=True, slots=True)
class Threshold:
    """An alarm's threshold in the metric's unit, and the same in words for people."""

    value: float
    text: str


def lustre_free_capacity(capacity_gib: int, share: float) -> Threshold:
    """FreeDataStorageCapacity (bytes) below `share` of the file system's storage capacity."""
    free_gib = capacity_gib * share
    return Threshold(free_gib * GIB, f"{free_gib:,.0f} GiB free ({share:.0%} of {capacity_gib:,} GiB)")


def lustre_throughput(baseline_mbps: float) -> Threshold:
    """Client throughput (bytes/s) at the file system's provisioned baseline (MB/s)."""
    return Threshold(baseline_mbps * MB, f"{baseline_mbps:,.0f} MB/s (the deployment type's baseline)")


def ebs_figure(iops: int | None, throughput_mibps: float) -> str:
    """A standalone volume's provisioned figures, for its graphs."""
    return (f"{iops:,} IOPS, " if iops is not None else "") + f"{throughput_mibps:,.0f} MiB/s"


def bastion_healthy(availability_zones: int) -> Threshold:
    return Threshold(availability_zones, f"fewer than {availability_zones} healthy (one per AZ)")


def ha_outage_minutes(worst_case_seconds: int) -> int:
    """Whole minutes that cover an HaInstance's failover bound (at least one): the alarm waits that long."""
    return max(1, -(-worst_case_seconds // 60))


def alarm_description(what: str, condition: str, why: str, path: str) -> str:
    """'<what>: <condition>. Why: <why>', within CloudWatch's 1,024 characters (a longer one is our bug)."""
    text = f"{what}: {condition}. Why: {why}"
    if len(text) > ALARM_DESCRIPTION_MAX_CHARS:
        raise ConfigError(path, "alarm description", f"{len(text)} characters",
                          f"at most {ALARM_DESCRIPTION_MAX_CHARS} (CloudWatch PutMetricAlarm)",
                          hint="Shorten the construct path or the reason.")
    return text


def check_evaluation(path: str, what: str, period_seconds: int, periods: int) -> None:
    """CloudWatch evaluates at most one day of periods."""
    if period_seconds * periods > ALARM_EVALUATION_MAX_SECONDS:
        raise ConfigError(path, what, f"{periods} x {period_seconds} s",
                          f"at most {ALARM_EVALUATION_MAX_SECONDS:,} s of evaluation (CloudWatch PutMetricAlarm)")


def failed_ssh_pattern(phrases: Sequence[str] = FAILED_SSH_PHRASES) -> str:
    """The metric filter pattern: any of the phrases, each quoted (CloudWatch Logs filter pattern syntax)."""
    for phrase in phrases:
        if '"' in phrase or not phrase.strip():
            raise ValueError(f"a filter-pattern phrase cannot be empty or hold a double quote: {phrase!r}")
    return " ".join(f'?"{phrase}"' for phrase in phrases)


_TERM = re.compile(r'\?"([^"]+)"')


def pattern_matches(pattern: str, line: str) -> bool:
    """Whether a log line matches a pattern of ?"phrase" terms, as CloudWatch Logs defines them: any term
    matches, a quoted term matches its exact text, case-sensitively. Only this form (failed_ssh_pattern's)."""
    terms = _TERM.findall(pattern)
    if not terms or _TERM.sub("", pattern).strip():
        raise ValueError(f"not a pattern of ?\"phrase\" terms: {pattern!r}")
    return any(term in line for term in terms)


def part_id(path: str) -> str:
    """A construct id for a monitored construct's part of the dashboard, from its path: letters and digits."""
    cleaned = re.sub(r"[^A-Za-z0-9]", "", path)
    return cleaned or "Part"


def grid_rows(count: int, per_row: int = 3) -> list[range]:
    """Widget indexes by row: `per_row` graphs of width 24 / per_row to a row."""
    return [range(start, min(start + per_row, count)) for start in range(0, count, per_row)]
