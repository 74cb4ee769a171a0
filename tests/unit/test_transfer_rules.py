"""The DataTransferLayer's pure rules at their boundaries: schedules, filters, locations, tasks, Direct Connect,
Snowball. No CDK here except stand-ins for the objects a location points at."""

from __future__ import annotations

import re

import pytest

from hpc_constructs import ConfigError, DataSyncLocation, DataSyncTaskSpec, DirectConnectSpec, SnowballImportSpec
from hpc_constructs.catalog.limits import DATASYNC, DIRECT_CONNECT
from hpc_constructs.datasync import check_filters, check_location, check_schedule, check_task, check_task_set
from hpc_constructs.direct_connect import check_direct_connect
from hpc_constructs.snowball import check_snowball, create_job_command

PATH = "App/Transfer"
AGENT = "arn:aws:datasync:us-east-1:111122223333:agent/agent-0123456789abcdef0"
NFS = DataSyncLocation.nfs("filer.example.com", "/exports/genomics", [AGENT])


class _Secret:
    """Stands in for a secretsmanager.ISecret: the rule only asks for a secret_arn."""

    secret_arn = "arn:aws:secretsmanager:us-east-1:111122223333:secret:smb-AbCdEf"


def _refused(prop: str) -> pytest.RaisesContext[ConfigError]:
    return pytest.raises(ConfigError, match=re.escape(f"{PATH}: {prop}="))


# -- schedules -----------------------------------------------------------------------------------


@pytest.mark.parametrize("expression", ["rate(1 hour)", "rate(60 minutes)", "rate(2 hours)", "rate(1 day)",
                                        "rate(7 days)", "cron(0 * * * ? *)", "cron(0 2 * * ? *)",
                                        "cron(15 2,14 ? * MON-FRI *)", "cron(0 8 ? * 3#1 *)", "cron(59 23 L * ? *)",
                                        "cron(0 */6 * * ? *)", "cron(0 0 1 JAN,JUL ? 2027)"])
def test_schedules_at_most_hourly_are_accepted(expression: str) -> None:
    check_schedule(PATH, "schedule", expression)


@pytest.mark.parametrize("expression", ["rate(59 minutes)", "rate(30 minutes)", "rate(1 minute)"])
def test_a_rate_below_one_hour_is_refused(expression: str) -> None:
    with pytest.raises(ConfigError, match="at least 60 minutes apart"):
        check_schedule(PATH, "schedule", expression)


@pytest.mark.parametrize("expression", ["cron(* * * * ? *)", "cron(*/30 * * * ? *)", "cron(0,30 * * * ? *)",
                                        "cron(0-5 * * * ? *)"])
def test_a_cron_that_fires_twice_an_hour_is_refused(expression: str) -> None:
    with pytest.raises(ConfigError, match="more than once an hour"):
        check_schedule(PATH, "schedule", expression)


@pytest.mark.parametrize("expression", ["daily", "rate(0 hours)", "rate(1 hours)", "rate(2 hour)", "rate(1 week)",
                                        "cron(0 2 * * *)", "cron(0 2 * * * *)", "cron(0 2 ? * ? *)",
                                        "cron(60 2 * * ? *)", "cron(0 24 * * ? *)", "cron(0 2 32 * ? *)",
                                        "cron(0 2 ? * 8 *)", "cron(0 2 * FOO ? *)", "cron(0 2 * * ? 1969)",
                                        "cron(0 2 ? * MON#6 *)", "", "rate(1 hour) ", "cron(0 2 * * ? *)" + " " * 300])
def test_malformed_schedules_are_refused(expression: str) -> None:
    with _refused("schedule"):
        check_schedule(PATH, "schedule", expression)


# -- filters ------------------------------------------------------------------------------------


def test_filters_join_into_one_rule() -> None:
    assert check_filters(PATH, "includes", ("/genomics", "/imaging*"), include=True) == "/genomics|/imaging*"
    assert check_filters(PATH, "excludes", ("*.tmp", "*/.snapshot"), include=False) == "*.tmp|*/.snapshot"
    assert check_filters(PATH, "includes", (), include=True) is None


def test_an_include_wildcard_must_be_last() -> None:
    with _refused("includes[0]"):
        check_filters(PATH, "includes", ("*.txt",), include=True)
    assert check_filters(PATH, "excludes", ("*.txt",), include=False) == "*.txt"


@pytest.mark.parametrize("pattern", ["", "  ", "/a|/b", "/a\x00"])
def test_bad_patterns_are_refused(pattern: str) -> None:
    with _refused("excludes[0]"):
        check_filters(PATH, "excludes", (pattern,), include=False)


def test_filters_longer_than_datasync_takes_are_refused() -> None:
    limit = DATASYNC.max_filter_chars
    fits = ("/" + "a" * (limit - 1),)
    assert check_filters(PATH, "excludes", fits, include=False)
    with _refused("excludes"):
        check_filters(PATH, "excludes", ("/" + "a" * limit,), include=False)


# -- locations ----------------------------------------------------------------------------------


@pytest.mark.parametrize("agents", [[], ()])
def test_nfs_without_an_agent_says_to_activate_one(agents: list[str]) -> None:
    with pytest.raises(ConfigError, match="activate it") as raised:
        check_location(PATH, "source", DataSyncLocation.nfs("filer.example.com", "/x", agents))
    assert raised.value.prop == "source.agent_arns"


def test_smb_without_an_agent_is_refused() -> None:
    smb = DataSyncLocation.smb("win.example.com", "/share", "bob", "CORP", _Secret(), [])
    with pytest.raises(ConfigError, match="agent must|activate it"):
        check_location(PATH, "source", smb)


def test_agent_arns_are_checked_and_counted() -> None:
    with _refused("source.agent_arns[0]"):
        check_location(PATH, "source", DataSyncLocation.nfs("f.example.com", "/x", ["agent-0123"]))
    eight = [AGENT[:-2] + f"{i:02d}" for i in range(DATASYNC.max_agents_per_location)]
    check_location(PATH, "source", DataSyncLocation.nfs("f.example.com", "/x", eight))
    nine = [AGENT[:-2] + f"{i:02d}" for i in range(DATASYNC.max_agents_per_location + 1)]
    with _refused("source.agent_arns"):
        check_location(PATH, "source", DataSyncLocation.nfs("f.example.com", "/x", nine))


def test_an_smb_password_as_a_string_is_refused() -> None:
    smb = DataSyncLocation.smb("win.example.com", "/share", "bob", "CORP", "hunter2", [AGENT])
    with pytest.raises(ConfigError, match="Secrets Manager") as raised:
        check_location(PATH, "source", smb)
    assert "hunter2" not in str(raised.value)
    check_location(PATH, "source", DataSyncLocation.smb("win.example.com", "/share", "bob", "CORP", _Secret(),
                                                        [AGENT]))


@pytest.mark.parametrize("location, prop", [
    (DataSyncLocation.nfs("bad host!", "/x", [AGENT]), "source.server_hostname"),
    (DataSyncLocation.nfs("f.example.com", "", [AGENT]), "source.subdirectory"),
    (DataSyncLocation.nfs("f.example.com", "/a/../b", [AGENT]), "source.subdirectory"),
    (DataSyncLocation.s3(None, "/a//b/"), "source.prefix"),
    (DataSyncLocation.s3(None, "/data*"), "source.prefix"),
    (DataSyncLocation.s3(None, "/" + "a" * DATASYNC.max_s3_subdirectory_chars), "source.prefix"),
    (DataSyncLocation.smb("w.example.com", "/", "bob", None, _Secret(), [AGENT]), "source.subdirectory"),
    (DataSyncLocation.smb("w.example.com", "/s", "bo|b", None, _Secret(), [AGENT]), "source.user"),
    (DataSyncLocation.s3(None, "/x", name="bad\u00e9name"), "source.name"),
])
def test_location_values_datasync_would_reject_are_refused(location: DataSyncLocation, prop: str) -> None:
    with _refused(prop):
        check_location(PATH, "source", location)


# -- tasks --------------------------------------------------------------------------------------


def test_a_task_returns_its_schedule_in_words() -> None:
    assert check_task(PATH, "datasync_tasks[0]", DataSyncTaskSpec(NFS, DataSyncLocation.s3())) == "on demand"
    task = DataSyncTaskSpec(NFS, DataSyncLocation.s3(), schedule="rate(12 hours)")
    assert check_task(PATH, "datasync_tasks[0]", task) == "every 12 hours"


@pytest.mark.parametrize("source, destination", [
    (DataSyncLocation.s3(None, "/a/"), DataSyncLocation.s3(None, "/b/")),
    (NFS, DataSyncLocation.s3()),
    (DataSyncLocation.s3(), NFS),
])
def test_enhanced_mode_where_datasync_supports_it(source: DataSyncLocation, destination: DataSyncLocation) -> None:
    check_task(PATH, "t", DataSyncTaskSpec(source, destination, task_mode="ENHANCED"))


@pytest.mark.parametrize("source, destination", [
    (NFS, DataSyncLocation.efs(object())),
    (DataSyncLocation.fsx_lustre(object()), DataSyncLocation.s3()),
    (DataSyncLocation.s3(), DataSyncLocation.efs(object())),
    (NFS, DataSyncLocation.nfs("other.example.com", "/x", [AGENT])),
])
def test_enhanced_mode_elsewhere_is_refused(source: DataSyncLocation, destination: DataSyncLocation) -> None:
    with _refused("t.task_mode"):
        check_task(PATH, "t", DataSyncTaskSpec(source, destination, task_mode="ENHANCED"))
    check_task(PATH, "t", DataSyncTaskSpec(source, destination, task_mode="BASIC"))


def test_point_in_time_verification_is_basic_mode_only() -> None:
    task = DataSyncTaskSpec(NFS, DataSyncLocation.s3(), verify_mode="POINT_IN_TIME_CONSISTENT")
    check_task(PATH, "t", task)
    with _refused("t.verify_mode"):
        check_task(PATH, "t", DataSyncTaskSpec(NFS, DataSyncLocation.s3(), verify_mode="POINT_IN_TIME_CONSISTENT",
                                               task_mode="ENHANCED"))


@pytest.mark.parametrize("field, value", [("verify_mode", "ALL"), ("task_mode", "FAST"), ("log_level", "DEBUG"),
                                          ("log_retention_days", 0), ("log_retention_days", 2),
                                          ("schedule", "rate(30 minutes)"), ("name", "")])
def test_task_values_datasync_would_reject_are_refused(field: str, value: object) -> None:
    with _refused(f"t.{field}"):
        check_task(PATH, "t", DataSyncTaskSpec(NFS, DataSyncLocation.s3(), **{field: value}))  # type: ignore[arg-type]


def test_task_names_up_to_256_characters() -> None:
    longest = "n" * DATASYNC.max_task_name_chars
    check_task(PATH, "t", DataSyncTaskSpec(NFS, DataSyncLocation.s3(), name=longest))
    with _refused("t.name"):
        check_task(PATH, "t", DataSyncTaskSpec(NFS, DataSyncLocation.s3(), name=longest + "n"))


def test_source_equal_to_destination_is_refused() -> None:
    same = DataSyncLocation.s3(None, "/data")
    also_same = DataSyncLocation.s3(None, "data/")
    task = DataSyncTaskSpec(same, also_same)
    identity = {id(same): ("s3", "landing", "/data/"), id(also_same): ("s3", "landing", "/data/")}
    with _refused("datasync_tasks[0].destination"):
        check_task_set(PATH, [task], identity)
    other = DataSyncLocation.s3(None, "/other")
    identity[id(other)] = ("s3", "landing", "/other/")
    check_task_set(PATH, [DataSyncTaskSpec(same, other)], identity)


def test_two_tasks_with_one_name_are_refused() -> None:
    a, b = DataSyncLocation.s3(None, "/a"), DataSyncLocation.s3(None, "/b")
    identity = {id(a): ("s3", "landing", "/a/"), id(b): ("s3", "landing", "/b/")}
    with _refused("datasync_tasks[1].name"):
        check_task_set(PATH, [DataSyncTaskSpec(a, b, name="x"), DataSyncTaskSpec(b, a, name="x")], identity)


# -- Direct Connect -----------------------------------------------------------------------------


@pytest.mark.parametrize("asn", [64_512, 65_534, 4_200_000_000, 4_294_967_294])
def test_amazon_side_asn_range_edges_are_accepted(asn: int) -> None:
    check_direct_connect(PATH, DirectConnectSpec(amazon_side_asn=asn))


@pytest.mark.parametrize("asn", [64_511, 65_535, 4_199_999_999, 4_294_967_295, 0, 1, True])
def test_amazon_side_asn_outside_the_private_ranges_is_refused(asn: int) -> None:
    with _refused("direct_connect.amazon_side_asn"):
        check_direct_connect(PATH, DirectConnectSpec(amazon_side_asn=asn))


def _vif(**changes: object) -> DirectConnectSpec:
    props: dict[str, object] = {"amazon_side_asn": 64_512, "connection_id": "dxcon-fgab1234", "vlan": 101,
                                "customer_asn": 65_000}
    props.update(changes)
    return DirectConnectSpec(**props)  # type: ignore[arg-type]


@pytest.mark.parametrize("vlan", [1, 4_094])
def test_vlan_edges_are_accepted(vlan: int) -> None:
    assert f"VLAN {vlan}" in check_direct_connect(PATH, _vif(vlan=vlan))


@pytest.mark.parametrize("vlan", [0, 4_095, -1])
def test_vlan_outside_1_to_4094_is_refused(vlan: int) -> None:
    with _refused("direct_connect.vlan"):
        check_direct_connect(PATH, _vif(vlan=vlan))


@pytest.mark.parametrize("asn", [1, DIRECT_CONNECT.cloudformation_max_customer_asn, 7224])
def test_customer_asn_edges_are_accepted(asn: int) -> None:
    check_direct_connect(PATH, _vif(customer_asn=asn))


@pytest.mark.parametrize("asn", [2_147_483_647, 4_200_000_000, DIRECT_CONNECT.customer_asn_range[1]])
def test_a_4_byte_asn_past_the_apis_asn_field_is_refused_for_cloudformation(asn: int) -> None:
    """CloudFormation's BgpPeer has one Asn; the API's asn stops at 2,147,483,646 (asnLong is not in the schema)."""
    with _refused("direct_connect.customer_asn") as error:
        check_direct_connect(PATH, _vif(customer_asn=asn))
    assert "asnLong" in str(error.value)


@pytest.mark.parametrize("asn", [0, DIRECT_CONNECT.customer_asn_range[1] + 1, 64_512])
def test_customer_asn_outside_the_range_or_equal_to_amazons_is_refused(asn: int) -> None:
    with _refused("direct_connect.customer_asn"):
        check_direct_connect(PATH, _vif(customer_asn=asn))


@pytest.mark.parametrize("missing", ["connection_id", "vlan", "customer_asn"])
def test_a_virtual_interface_needs_connection_vlan_and_customer_asn(missing: str) -> None:
    with pytest.raises(ConfigError, match="together") as raised:
        check_direct_connect(PATH, _vif(**{missing: None}))
    assert raised.value.prop == f"direct_connect.{missing}"


def test_a_connection_id_is_checked() -> None:
    with _refused("direct_connect.connection_id"):
        check_direct_connect(PATH, _vif(connection_id="con-1234"))


def test_allowed_prefixes_are_cidrs_within_the_count_and_cover_the_vpc() -> None:
    check_direct_connect(PATH, DirectConnectSpec(64_512, allowed_prefixes=("10.0.0.0/16",)), vpc_cidr="10.0.0.0/16")
    check_direct_connect(PATH, DirectConnectSpec(64_512, allowed_prefixes=("10.0.0.0/8",)), vpc_cidr="10.0.0.0/16")
    for bad in ("10.0.0.1/16", "10.0.0.0", "banana", "10.0.0.0/33", "2001:db8::/96"):
        with _refused("direct_connect.allowed_prefixes[0]"):
            check_direct_connect(PATH, DirectConnectSpec(64_512, allowed_prefixes=(bad,)))
    with _refused("direct_connect.allowed_prefixes"):
        check_direct_connect(PATH, DirectConnectSpec(64_512, allowed_prefixes=("10.0.1.0/24",)),
                             vpc_cidr="10.0.0.0/16")
    many = tuple(f"10.{i // 256}.{i % 256}.0/24" for i in range(DIRECT_CONNECT.max_allowed_prefixes + 1))
    check_direct_connect(PATH, DirectConnectSpec(64_512, allowed_prefixes=many[:-1]))
    with _refused("direct_connect.allowed_prefixes"):
        check_direct_connect(PATH, DirectConnectSpec(64_512, allowed_prefixes=many))


def test_port_speed_is_a_direct_connect_speed() -> None:
    assert "10 Gbps port" in check_direct_connect(PATH, DirectConnectSpec(64_512, port_speed_gbps=10))
    assert "0.05 Gbps port" in check_direct_connect(PATH, DirectConnectSpec(64_512, port_speed_gbps=0.05))
    with _refused("direct_connect.port_speed_gbps"):
        check_direct_connect(PATH, DirectConnectSpec(64_512, port_speed_gbps=40))


# -- Snowball -----------------------------------------------------------------------------------


def test_snowball_needs_a_landing_bucket_and_known_devices() -> None:
    check_snowball(PATH, SnowballImportSpec(), has_landing_bucket=True)
    with _refused("snowball_import"):
        check_snowball(PATH, SnowballImportSpec(), has_landing_bucket=False)
    with _refused("snowball_import.snowball_type"):
        check_snowball(PATH, SnowballImportSpec(snowball_type="SNOWMOBILE"), has_landing_bucket=True)
    with _refused("snowball_import.shipping_option"):
        check_snowball(PATH, SnowballImportSpec(shipping_option="BY_TRUCK"), has_landing_bucket=True)


def test_the_create_job_command_names_the_bucket_role_and_key() -> None:
    command = create_job_command(SnowballImportSpec(kms_key=True), bucket_arn="arn:aws:s3:::landing",
                                 role_arn="arn:aws:iam::111122223333:role/import",
                                 kms_key_arn="arn:aws:kms:us-east-1:111122223333:key/k", description="x")
    assert command.startswith("aws snowball create-job --job-type IMPORT ")
    assert """--resources '{"S3Resources":[{"BucketArn":"arn:aws:s3:::landing"}]}'""" in command
    assert "--role-arn arn:aws:iam::111122223333:role/import" in command
    assert "--kms-key-arn arn:aws:kms:us-east-1:111122223333:key/k" in command
    assert "--snowball-type V3_5S --snowball-capacity-preference T240 --shipping-option SECOND_DAY" in command
    no_key = create_job_command(SnowballImportSpec(), bucket_arn="b", role_arn="r", kms_key_arn=None, description="x")
    assert "--kms-key-arn" not in no_key
