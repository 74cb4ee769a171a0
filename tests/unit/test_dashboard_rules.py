"""HpcDashboard's rules and what each construct contributes, on small apps: a part that is not there adds nothing,
stated thresholds move, imported or per-node resources are noted instead of invented, any construct can implement
the protocol; and the pure rules of dashboard_plan, with the failed-SSH pattern against sshd's own log lines."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, CrossStackReferences, Duration, ReferenceStrength, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from hpc_constructs import (
    ComputeFleet,
    ConfigError,
    EbsSpec,
    EfsSpec,
    HaBastion,
    HpcDashboard,
    HpcNetwork,
    LustreFileSystem,
    LustreSpec,
    Monitoring,
    MonitoringSettings,
    StorageLayer,
)
from hpc_constructs import dashboard_plan as dp
from hpc_constructs.dashboard import CROSS_STACK_REFERENCES_CONTEXT
from hpc_constructs.monitoring import metric, watch
from tests.support import cdk_context, new_app, new_stack

ENV = {"account": "111122223333", "region": "us-east-1"}


class Heartbeat(Construct):
    """A user's own construct that implements the protocol: one metric of its own, one alarm."""

    def monitoring(self, scope: Construct, settings: MonitoringSettings | None = None) -> Monitoring:
        beats = metric("Example/App", "Heartbeats", {"Service": "solver"}, "Sum", Duration.minutes(5), "beats")
        result = Monitoring(title=f"{self.node.path} (Heartbeat)")
        result.alarms.append(watch(scope, "NoHeartbeat", what=f"{self.node.path}: heartbeats", metric_=beats,
                                   threshold=1, comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                                   periods=3, condition="none for 15 minutes", why="the solver stopped",
                                   missing=cloudwatch.TreatMissingData.BREACHING))
        return result


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The alarms the dashboard notifies, by what they watch."""
    return {a["Properties"]["AlarmDescription"].split(". Why: ")[0].rsplit(": ", 1)[0]: a["Properties"]
            for a in _resources(template, "AWS::CloudWatch::Alarm").values() if a["Properties"].get("AlarmActions")}


@pytest.fixture(scope="module")
def small() -> dict[str, Any]:
    """Network, a fleet, storage (scratch Lustre, EFS, a Multi-Attach io2 and a per-node gp3 volume), an imported
    Lustre file system, a bastion watched twice, and a user's own part, with a stated 10% Lustre share."""
    app = new_app()
    stack = Stack(app, "Small", env=ENV)
    network = HpcNetwork(stack, "Net")
    fleet = ComputeFleet(stack, "Cpu", vpc=network.vpc, instance_types=["c7i.large"], max_capacity=3)
    storage = StorageLayer(stack, "Storage", vpc=network.vpc, subnet=network.cluster_subnet,
                           lustre=LustreSpec(deployment_type="SCRATCH_2", storage_capacity_gib=1200), efs=EfsSpec(),
                           ebs_volumes=[EbsSpec(name="shared", size_gib=100, iops=3000, multi_attach=True),
                                        EbsSpec(name="local", volume_type="gp3", size_gib=200, attach="per_node")])
    imported = LustreFileSystem.from_lustre_file_system_attributes(
        stack, "Old", file_system_id="fs-0123456789abcdef0", dns_name="fs.example", mount_name="abcd",
        security_group=ec2.SecurityGroup(stack, "OldGroup", vpc=network.vpc))
    bastion = HaBastion(stack, "Bastion", vpc=network.vpc, allowed_cidrs=["203.0.113.0/24"])
    heartbeat = Heartbeat(stack, "Heartbeat")
    dashboard = HpcDashboard(stack, "Ops", parts=[fleet, storage, imported, bastion, heartbeat],
                             settings=MonitoringSettings(lustre_free_capacity_share=0.1, failed_ssh_logins=3),
                             email_addresses=["hpc-ops@corp.example.org"], dashboard_name="hpc-small")
    bastion.monitoring(Construct(stack, "Again"))  # a second call: the metric filter is not made twice
    template = app.synth().get_stack_by_name("Small").template
    return {"template": template, "dashboard": dashboard, "fleet": fleet}


def test_each_part_adds_its_own_alarms_and_nothing_else(small: dict[str, Any]) -> None:
    alarms = _resources(small["template"], "AWS::CloudWatch::Alarm").values()
    notified = sorted(a["Properties"]["AlarmDescription"].split(". Why: ")[0].rsplit(": ", 1)[0]
                      for a in alarms if a["Properties"].get("AlarmActions"))
    assert notified == sorted([
        "Small/Cpu: nodes in service below the desired capacity", "Small/Cpu: instance launches that failed",
        "Small/Storage: Lustre free capacity", "Small/Storage: Lustre client throughput",
        "Small/Storage: EFS throughput utilization",
        "Small/Bastion: healthy bastions behind the load balancer", "Small/Bastion: failed SSH logins",
        "Small/Heartbeat: heartbeats"])
    # the second bastion.monitoring() made its own two alarms in its scope; no dashboard notifies them
    assert len(alarms) == len(notified) + 2


def test_stated_thresholds_and_the_scratch_baseline(small: dict[str, Any]) -> None:
    alarms = _alarms(small["template"])
    assert alarms["Small/Storage: Lustre free capacity"]["Threshold"] == pytest.approx(120 * dp.GIB)
    # SCRATCH_2: 200 MB/s per TiB, 1,200 GiB counted as 1.2 TiB (FSx's own arithmetic)
    assert alarms["Small/Storage: Lustre client throughput"]["Threshold"] == pytest.approx(240 * dp.MB)
    assert alarms["Small/Bastion: failed SSH logins"]["Threshold"] == 3
    assert "documented scratch baseline 200 MB/s/TiB" in alarms["Small/Storage: Lustre client throughput"][
        "AlarmDescription"]


def test_what_cannot_be_watched_is_noted_not_invented(small: dict[str, Any]) -> None:
    dashboard: HpcDashboard = small["dashboard"]
    notes = {m.title: m.notes for m in dashboard.parts}
    storage_notes = " ".join(notes["Small/Storage (StorageLayer)"])
    assert "EBS shared: Multi-Attach, for which EBS publishes no Exceeded checks" in storage_notes
    assert "EBS local: a volume per node" in storage_notes
    assert not any("Exceeded" in w for w in _alarms(small["template"]))
    (imported,) = [n for t, n in notes.items() if t.startswith("Small/Old")]
    assert "imported file system" in imported[0]
    assert not any(w.startswith("Small/Old") for w in _alarms(small["template"]))


def test_the_bastion_filter_is_made_once_however_often_it_is_watched(small: dict[str, Any]) -> None:
    (metric_filter,) = _resources(small["template"], "AWS::Logs::MetricFilter").values()
    assert metric_filter["Properties"]["FilterPattern"] == dp.failed_ssh_pattern()


def test_a_users_own_part_is_notified_like_the_librarys(small: dict[str, Any]) -> None:
    alarm = _alarms(small["template"])["Small/Heartbeat: heartbeats"]
    (topic,) = _resources(small["template"], "AWS::SNS::Topic")
    assert alarm["AlarmActions"] == alarm["OKActions"] == [{"Ref": topic}]
    assert alarm["TreatMissingData"] == "breaching"


def test_email_subscription_name_and_the_fleets_collection(small: dict[str, Any]) -> None:
    template = small["template"]
    (subscription,) = _resources(template, "AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == "hpc-ops@corp.example.org"
    (board,) = _resources(template, "AWS::CloudWatch::Dashboard").values()
    assert board["Properties"]["DashboardName"] == "hpc-small"
    (group,) = [g for k, g in _resources(template, "AWS::AutoScaling::AutoScalingGroup").items()
                if k.startswith("Cpu")]
    assert group["Properties"]["MetricsCollection"][0]["Granularity"] == "1Minute"


# -- HpcDashboard's rules ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("props", "prop"), [
    ({"parts": []}, "parts"),
    ({"parts": ["not a construct"]}, "parts[0]"),
    ({"settings": MonitoringSettings(lustre_free_capacity_share=0)}, "settings.lustre_free_capacity_share"),
    ({"settings": MonitoringSettings(lustre_free_capacity_share=1)}, "settings.lustre_free_capacity_share"),
    ({"settings": MonitoringSettings(failed_ssh_logins=0)}, "settings.failed_ssh_logins"),
    ({"email_addresses": "ops@corp.example.org"}, "email_addresses"),
    ({"email_addresses": ["ops at corp"]}, "email_addresses[0]"),
    ({"dashboard_name": "hpc ops"}, "dashboard_name"),
    ({"event_log_retention_days": 100}, "event_log_retention_days"),
])
def test_bad_props_are_config_errors(props: dict[str, Any], prop: str) -> None:
    stack = new_stack()
    part = Heartbeat(stack, "Beat")
    with pytest.raises(ConfigError) as error:
        HpcDashboard(stack, "Ops", **{"parts": [part], **props})
    assert error.value.prop == prop


def test_the_same_construct_twice_is_a_config_error() -> None:
    stack = new_stack()
    part = Heartbeat(stack, "Beat")
    with pytest.raises(ConfigError, match="each construct once"):
        HpcDashboard(stack, "Ops", parts=[part, part])


class QueueDepth(Construct):
    """A user's part in another stack than the dashboard: an alarm on its queue's depth (a resource attribute)."""

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        self.queue = sqs.Queue(self, "Queue")

    def monitoring(self, scope: Construct, settings: MonitoringSettings | None = None) -> Monitoring:
        depth = metric("AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": self.queue.queue_name},
                       "Maximum", Duration.minutes(5), "depth")
        result = Monitoring(title=f"{self.node.path} (QueueDepth)")
        result.alarms.append(watch(scope, "Depth", what=f"{self.node.path}: depth", metric_=depth, threshold=1,
                                   comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                                   periods=1, condition="any message", why="a message nobody read"))
        return result


@pytest.mark.parametrize("strength", [None, "strong", "both"])
def test_a_part_in_another_stack_needs_weak_references(strength: str | None) -> None:
    context = {k: v for k, v in cdk_context().items() if k != CROSS_STACK_REFERENCES_CONTEXT}
    if strength is not None:
        context[CROSS_STACK_REFERENCES_CONTEXT] = strength
    app = App(context=context)
    part = QueueDepth(Stack(app, "Work", env=ENV), "Jobs")
    with pytest.raises(ConfigError, match="weak references") as error:
        HpcDashboard(Stack(app, "Ops", env=ENV), "Dashboard", parts=[part])
    assert error.value.prop == "parts" and "Work/Jobs" in str(error.value)


def test_a_part_in_another_stack_is_read_without_an_export() -> None:
    """The watched stack keeps no Export and the dashboard's stack no Fn::ImportValue: the watched stack can still
    replace what an alarm reads (the reference app sets the context in cdk.json; here the stack sets it)."""
    context = {k: v for k, v in cdk_context().items() if k != CROSS_STACK_REFERENCES_CONTEXT}
    app = App(context=context)
    part = QueueDepth(Stack(app, "Work", env=ENV), "Jobs")
    ops = Stack(app, "Ops", env=ENV)
    CrossStackReferences.of(ops).consume(ReferenceStrength.WEAK)
    HpcDashboard(ops, "Dashboard", parts=[part])
    assembly = app.synth()
    work, dashboard = (assembly.get_stack_by_name(n).template for n in ("Work", "Ops"))
    assert not [o for o in work.get("Outputs", {}).values() if "Export" in o]
    text = json.dumps(dashboard)
    assert "Fn::ImportValue" not in text and '"StackName": "Work"' in text and "Fn::GetStackOutput" in text


def test_boundary_shares_are_accepted() -> None:
    dp.check_settings("X", MonitoringSettings(lustre_free_capacity_share=0.01, failed_ssh_logins=1))
    dp.check_settings("X", MonitoringSettings(lustre_free_capacity_share=0.99))
    with pytest.raises(ConfigError):
        dp.check_settings("X", MonitoringSettings(lustre_free_capacity_share=True))  # type: ignore[arg-type]


# -- dashboard_plan ------------------------------------------------------------------------------------------------

def test_lustre_free_capacity_is_a_share_of_the_capacity_in_bytes() -> None:
    threshold = dp.lustre_free_capacity(2400, 0.2)
    assert threshold.value == 480 * 2**30 and threshold.text == "480 GiB free (20% of 2,400 GiB)"


def test_an_alarm_description_past_cloudwatchs_limit_is_refused() -> None:
    assert len(dp.alarm_description("w", "c", "y" * 1000, "X")) <= 1024
    with pytest.raises(ConfigError, match="1024"):
        dp.alarm_description("w", "c", "y" * 1020, "X")


def test_an_evaluation_longer_than_a_day_is_refused() -> None:
    dp.check_evaluation("X", "a", 3600, 24)
    with pytest.raises(ConfigError):
        dp.check_evaluation("X", "a", 3600, 25)


def test_the_pattern_is_quoted_phrases_any_of_which_matches() -> None:
    pattern = dp.failed_ssh_pattern(("Invalid user", "authenticating user"))
    assert pattern == '?"Invalid user" ?"authenticating user"'
    assert dp.pattern_matches(pattern, "x Invalid user y") and dp.pattern_matches(pattern, "authenticating user")
    assert not dp.pattern_matches(pattern, "invalid user y")  # terms are case sensitive
    with pytest.raises(ValueError):
        dp.failed_ssh_pattern(('say "hi"',))
    with pytest.raises(ValueError):
        dp.pattern_matches("Invalid user", "Invalid user")  # not the ?"..." form


# /var/log/secure as rsyslog writes sshd's messages on Amazon Linux 2023 (OpenSSH 8.7p1): the texts are sshd's
# format strings (auth.c auth_log and getpwnamallow, packet.c sshpkt_vfatal and ssh_packet_disconnect, auth2.c's
# "authenticating user"/"invalid user" preamble, kex.c kex_exchange_identification).
PREFIX = "Dec  7 02:10:01 ip-10-0-1-5 sshd[2101]: "
ATTEMPTS = {
    "unknown user, gives up": [
        "Invalid user admin from 198.51.100.7 port 51234",
        "Connection closed by invalid user admin 198.51.100.7 port 51234 [preauth]"],
    "unknown user, too many tries": [
        "Invalid user test from 198.51.100.7 port 51600",
        "error: maximum authentication attempts exceeded for invalid user test from 198.51.100.7 port 51600 ssh2 "
        "[preauth]",
        "Disconnecting invalid user test 198.51.100.7 port 51600: Too many authentication failures [preauth]"],
    "known user, wrong key, gives up": [
        "Connection closed by authenticating user ec2-user 198.51.100.7 port 51300 [preauth]"],
    "known user, wrong keys, too many tries": [
        "Failed publickey for ec2-user from 198.51.100.7 port 51400 ssh2: RSA SHA256:abc",
        "error: maximum authentication attempts exceeded for ec2-user from 198.51.100.7 port 51400 ssh2 [preauth]",
        "Disconnecting authenticating user ec2-user 198.51.100.7 port 51400: Too many authentication failures "
        "[preauth]"],
    "known user, client disconnects": [
        "Received disconnect from 198.51.100.7 port 51500:11: Bye Bye [preauth]",
        "Disconnected from authenticating user ec2-user 198.51.100.7 port 51500 [preauth]"],
}
NOT_ATTEMPTS = {
    "NLB health check (connect, close)": [
        "error: kex_exchange_identification: Connection closed by remote host",
        "Connection closed by 10.0.0.36 port 40312"],
    "NLB health check (reset)": [
        "error: kex_exchange_identification: read: Connection reset by peer",
        "Connection reset by 10.0.0.36 port 40313"],
    "a login that succeeds, and its logout": [
        "Accepted publickey for ec2-user from 198.51.100.7 port 51700 ssh2: ED25519 SHA256:def",
        "pam_unix(sshd:session): session opened for user ec2-user(uid=1000) by (uid=0)",
        "Received disconnect from 198.51.100.7 port 51700:11: disconnected by user",
        "Disconnected from user ec2-user 198.51.100.7 port 51700",
        "pam_unix(sshd:session): session closed for user ec2-user"],
}


@pytest.mark.parametrize("attempt", sorted(ATTEMPTS))
def test_every_failed_login_counts_once(attempt: str) -> None:
    pattern = dp.failed_ssh_pattern()
    assert sum(dp.pattern_matches(pattern, PREFIX + line) for line in ATTEMPTS[attempt]) == 1


@pytest.mark.parametrize("case", sorted(NOT_ATTEMPTS))
def test_health_checks_and_good_logins_count_nothing(case: str) -> None:
    pattern = dp.failed_ssh_pattern()
    assert not any(dp.pattern_matches(pattern, PREFIX + line) for line in NOT_ATTEMPTS[case])


def test_the_configs_monitoring_section_becomes_the_dashboards_props() -> None:
    from stacks import parse_config

    config = parse_config({"monitoring": {"failed_ssh_logins": 3, "email_addresses": ["ops@corp.example.org"],
                                          "lustre_free_capacity_share": 0.15}}, source="test")
    assert config.monitoring is not None
    assert config.monitoring.props() == {
        "email_addresses": ("ops@corp.example.org",),
        "settings": MonitoringSettings(lustre_free_capacity_share=0.15, failed_ssh_logins=3)}
    empty = parse_config({"monitoring": {}}, source="test").monitoring
    assert empty is not None and empty.props() == {"settings": MonitoringSettings()}
    assert parse_config({}, source="test").monitoring is None  # no section, no dashboard stack
