"""HaInstance's rules as pure functions (ha_instance_plan): each with the boundary value and the value just past it."""

from __future__ import annotations

from typing import Any

import pytest

from hpc_constructs import ConfigError, EbsSpec
from hpc_constructs.ha_instance_plan import ZoneFacts, plan_ha_instance

PRIVATE = (ZoneFacts("us-east-1a", False), ZoneFacts("us-east-1b", False))
PUBLIC = (ZoneFacts("us-east-1a", True), ZoneFacts("us-east-1b", True))


def plan(**props: Any) -> Any:
    props.setdefault("instance_type_name", "t3.medium")
    props.setdefault("zones", PRIVATE)
    return plan_ha_instance("App/Ha", **props)


def test_two_azs_pass_and_one_is_refused() -> None:
    assert len(plan().zones) == 2
    with pytest.raises(ConfigError, match="at least 2 Availability Zones"):
        plan(zones=PRIVATE[:1])


def test_two_subnets_in_one_az_are_refused() -> None:
    with pytest.raises(ConfigError, match="one subnet per Availability Zone"):
        plan(zones=(*PRIVATE, ZoneFacts("us-east-1a", False)))


def test_unknown_az_names_are_not_compared() -> None:
    tokens = (ZoneFacts("${Token[1]}", False, known=False), ZoneFacts("${Token[1]}", False, known=False))
    assert plan(zones=tokens, offerings={"us-east-1a": []}).address == "dns"


def test_one_instance_type_only() -> None:
    with pytest.raises(ConfigError, match="one instance type name"):
        plan(instance_type_name=["t3.medium", "t3.large"])


def test_unknown_and_unsuitable_types_are_refused() -> None:
    with pytest.raises(ConfigError, match="instance_type"):
        plan(instance_type_name="t3.mediumm")
    with pytest.raises(ConfigError, match="Amazon Linux 2023 runs on"):
        plan(instance_type_name="a1.large")


def test_type_must_be_offered_in_every_chosen_az() -> None:
    offered = {"us-east-1a": ["t3.medium"], "us-east-1b": ["t3.medium", "t3.large"]}
    assert plan(offerings=offered).instance_type.name == "t3.medium"
    with pytest.raises(ConfigError, match="us-east-1a does not offer t3.large.*offered in: us-east-1b"):
        plan(instance_type_name="t3.large", offerings=offered)


def test_an_az_missing_from_the_offerings_is_not_judged() -> None:
    assert plan(offerings={"us-east-1a": ["t3.medium"]}).instance_type.name == "t3.medium"


def test_address_defaults_follow_the_subnets() -> None:
    assert plan().address == "dns"
    assert plan(zones=PUBLIC).address == "elastic_ip"


def test_elastic_ip_in_a_private_subnet_is_refused() -> None:
    assert plan(zones=PUBLIC, address="elastic_ip").public
    with pytest.raises(ConfigError, match="address='elastic_ip'"):
        plan(address="elastic_ip")


def test_mixed_public_and_private_subnets_are_refused() -> None:
    with pytest.raises(ConfigError, match="subnets of one kind"):
        plan(zones=(PUBLIC[0], PRIVATE[1]))


def test_unknown_address_kind_is_refused() -> None:
    with pytest.raises(ConfigError, match="elastic_ip, eni, dns"):
        plan(address="vip")


def test_dns_record_name_is_one_label_in_the_zone() -> None:
    assert plan(record_name="license", zone_name="Hpc.Internal.").record_name == "license.hpc.internal"
    with pytest.raises(ConfigError, match="record_name"):
        plan(record_name="License_Server")
    with pytest.raises(ConfigError, match="zone_name"):
        plan(zone_name="hpc..internal")
    assert plan(address="eni", record_name="Not_Checked").record_name is None


def test_ports_are_tcp_ports_once_each() -> None:
    assert plan(ports=[1, 65535]).ports == (1, 65535)
    for bad in ([0], [65536], [27000, 27000], ["27000"], [True]):
        with pytest.raises(ConfigError, match="ports"):
            plan(ports=bad)


def test_data_volume_follows_the_ebs_rules_under_its_own_name() -> None:
    assert plan(data_volume=EbsSpec(size_gib=1, volume_type="gp3")).data_volume.size_gib == 1
    with pytest.raises(ConfigError, match=r"data_volume\.size_gib"):
        plan(data_volume=EbsSpec(size_gib=0, volume_type="gp3"))
    with pytest.raises(ConfigError, match="attach='one_node'"):
        plan(data_volume=EbsSpec(size_gib=20, volume_type="gp3", attach="per_node"))
    with pytest.raises(ConfigError, match="no availability_zone"):
        plan(data_volume=EbsSpec(size_gib=20, volume_type="gp3", availability_zone="us-east-1a"))


def test_mount_point_is_an_absolute_path() -> None:
    assert plan(mount_point="/opt/licenses").mount_point == "/opt/licenses"
    for bad in ("data", "/", "/da ta", "/data/"):
        with pytest.raises(ConfigError, match="mount_point"):
            plan(mount_point=bad)


@pytest.mark.parametrize("minutes", [60, 120, 180, 240, 360, 480, 720, 1440])
def test_dlm_intervals_are_dlm(minutes: int) -> None:
    assert plan(snapshot_interval_minutes=minutes).schedule == "dlm"


@pytest.mark.parametrize("minutes", [1, 15, 59, 90, 300, 1439])
def test_other_whole_minutes_are_eventbridge_scheduler(minutes: int) -> None:
    assert plan(snapshot_interval_minutes=minutes).schedule == "scheduler"


@pytest.mark.parametrize("minutes", [0, -5, 1441, 2880, 1.5])
def test_snapshot_interval_outside_both_services_is_refused(minutes: Any) -> None:
    with pytest.raises(ConfigError, match="snapshot_interval_minutes"):
        plan(snapshot_interval_minutes=minutes)


def test_snapshot_retention_is_dlms_count() -> None:
    assert plan(snapshot_retention=1000).snapshot_retention == 1000
    for bad in (0, 1001):
        with pytest.raises(ConfigError, match="snapshot_retention"):
            plan(snapshot_retention=bad)


def test_health_check_command_is_one_line_without_single_quotes() -> None:
    assert plan(health_check_command="lmutil lmstat -c 27000@localhost").health_check_command
    for bad in ("", "  ", "a\nb", "echo 'x'"):
        with pytest.raises(ConfigError, match="health_check_command"):
            plan(health_check_command=bad)


def test_health_check_interval_and_failures_bounds() -> None:
    failover = plan(health_check_interval_seconds=10, health_check_failures=10).failover
    assert failover.application_detection_seconds == 100
    for prop, bad in (("health_check_interval_seconds", 9), ("health_check_interval_seconds", 301),
                      ("health_check_failures", 0), ("health_check_failures", 11)):
        with pytest.raises(ConfigError, match=prop):
            plan(**{prop: bad})


def test_service_name_is_a_systemd_unit() -> None:
    assert plan(service_name="lmgrd.service").service_name == "lmgrd.service"
    with pytest.raises(ConfigError, match="service_name"):
        plan(service_name="lmgrd; rm -rf /")


def test_lifecycle_hook_timeouts_are_autoscalings_range() -> None:
    assert plan(launch_timeout_seconds=7200, termination_timeout_seconds=6780).termination_timeout_seconds == 6780
    assert plan(launch_timeout_seconds=450, termination_timeout_seconds=30).launch_timeout_seconds == 450
    for props in ({"termination_timeout_seconds": 29}, {"launch_timeout_seconds": 7201},
                  {"termination_timeout_seconds": 7201, "launch_timeout_seconds": 7200}):
        with pytest.raises(ConfigError, match="timeout_seconds"):
            plan(**props)


def test_launch_hook_must_outlast_the_wait_for_the_old_volume() -> None:
    """The new instance waits termination + 120 s for the old volume and snapshot, then needs 300 s to boot."""
    assert plan(termination_timeout_seconds=300, launch_timeout_seconds=720).volume_wait_seconds == 420
    with pytest.raises(ConfigError, match="at least 720 s"):
        plan(termination_timeout_seconds=300, launch_timeout_seconds=719)


def test_failover_bound_is_detection_then_the_launch_hook() -> None:
    failover = plan().failover
    assert (failover.application_detection_seconds, failover.termination_hook_seconds,
            failover.launch_hook_seconds) == (90, 300, 900)
    assert failover.worst_case_seconds == 990
    assert failover.ec2_status_check_seconds == 60 and failover.snapshot_interval_seconds == 3600
