"""Drift: the DataSync, Direct Connect, Snowball and log-retention figures in the catalog match the pinned botocore.

Each test reads the service model shipped with the pinned boto3 (shape 'max', 'enum', or the documented
text) and compares it with one catalog figure, so a boto3 bump that moves a limit names the figure that moved.
"""

from __future__ import annotations

import gzip
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import botocore
import pytest

from hpc_constructs.catalog.limits import DATASYNC, DIRECT_CONNECT, LOG_RETENTION_DAYS, SNOWBALL


@cache
def _model(service: str) -> dict[str, Any]:
    root = Path(botocore.__file__).parent / "data" / service
    (path,) = sorted(root.glob("*/service-2.json.gz"))[-1:]
    model: dict[str, Any] = json.loads(gzip.decompress(path.read_bytes()))
    return model


def _shape(service: str, name: str) -> dict[str, Any]:
    """The raw shape dict ('max', 'min', 'enum', 'documentation', 'members')."""
    shapes: dict[str, dict[str, Any]] = _model(service)["shapes"]
    assert name in shapes, f"botocore's {service} model has no shape {name}"
    return shapes[name]


def _member_shape(service: str, structure: str, member: str) -> dict[str, Any]:
    """The shape a member points at, so the test follows AWS if the member gets a new shape."""
    members = _shape(service, structure)["members"]
    assert member in members, f"botocore's {service} {structure} has no member {member}"
    return _shape(service, members[member]["shape"])


def _clean(html: str) -> str:
    text = re.sub(r"<[^>]+>", " ", html).replace(",", "").replace("\u00a0", " ")
    return re.sub(r"\s+", " ", text).strip()


def _doc(service: str, structure: str, member: str | None = None) -> str:
    """Documentation of a shape, or of a member; a member without its own falls back to its shape's."""
    shape = _shape(service, structure)
    if member is None:
        return _clean(shape["documentation"])
    entry = shape["members"][member]
    return _clean(entry.get("documentation") or _member_shape(service, structure, member)["documentation"])


# -- DataSync ---------------------------------------------------------------------------------------------

_MINUTES_PER_UNIT = {"minute": 1, "hour": 60, "day": 24 * 60}


def test_datasync_min_schedule_interval_matches_botocore() -> None:
    # "Configures your DataSync task to run on a schedule (at a minimum interval of 1 hour)."
    doc = _doc("datasync", "TaskSchedule")
    match = re.search(r"minimum interval of (\d+) (minute|hour|day)s?\b", doc)
    assert match, f"botocore's TaskSchedule text changed: {doc}"
    minutes = int(match.group(1)) * _MINUTES_PER_UNIT[match.group(2)]
    assert minutes == DATASYNC.min_schedule_interval_minutes


# (structure, member, catalog figure): each member's shape 'max' is the figure.
_DATASYNC_MAXIMA = [
    ("FilterRule", "Value", "max_filter_chars"),  # FilterValue
    ("CreateLocationSmbRequest", "AgentArns", "max_agents_per_location"),  # AgentArnList
    ("TaskSchedule", "ScheduleExpression", "max_schedule_expression_chars"),  # ScheduleExpressionCron
    ("CreateTaskRequest", "Name", "max_task_name_chars"),  # TagValue
    ("CreateLocationNfsRequest", "ServerHostname", "max_server_hostname_chars"),  # ServerHostname
    ("CreateLocationSmbRequest", "ServerHostname", "max_server_hostname_chars"),
    ("CreateLocationNfsRequest", "Subdirectory", "max_subdirectory_chars"),  # NfsSubdirectory
    ("CreateLocationSmbRequest", "Subdirectory", "max_subdirectory_chars"),  # SmbSubdirectory
    ("CreateLocationSmbRequest", "User", "max_smb_user_chars"),  # SmbUser
    ("CreateLocationSmbRequest", "Domain", "max_smb_domain_chars"),  # SmbDomain
]


@pytest.mark.parametrize(("structure", "member", "figure"), [
    pytest.param(*row, id=f"{row[2]}-{row[0]}.{row[1]}") for row in _DATASYNC_MAXIMA])
def test_datasync_max_lengths_match_botocore(structure: str, member: str, figure: str) -> None:
    shape = _member_shape("datasync", structure, member)
    assert shape.get("max") == getattr(DATASYNC, figure), f"datasync {structure}.{member}: max {shape.get('max')}"


@pytest.mark.parametrize("member", ["Includes", "Excludes"])
def test_datasync_filter_list_holds_one_rule(member: str) -> None:
    # The catalog joins all patterns with "|" into one FilterRule: FilterList must still take at most one.
    assert _member_shape("datasync", "CreateTaskRequest", member).get("max") == 1


def test_datasync_shape_names_are_the_expected_ones() -> None:
    """The shapes named in the catalog comments still carry those maxima."""
    assert _shape("datasync", "FilterValue")["max"] == DATASYNC.max_filter_chars
    assert _shape("datasync", "FilterList")["max"] == 1
    assert _shape("datasync", "AgentArnList")["max"] == DATASYNC.max_agents_per_location
    assert _shape("datasync", "ScheduleExpressionCron")["max"] == DATASYNC.max_schedule_expression_chars
    assert _shape("datasync", "TagValue")["max"] == DATASYNC.max_task_name_chars
    assert _shape("datasync", "ServerHostname")["max"] == DATASYNC.max_server_hostname_chars
    assert _shape("datasync", "NfsSubdirectory")["max"] == DATASYNC.max_subdirectory_chars


@pytest.mark.parametrize(("structure", "member", "catalog"), [
    ("CreateTaskRequest", "TaskMode", DATASYNC.task_modes),
    ("Options", "VerifyMode", DATASYNC.verify_modes),
    ("Options", "LogLevel", DATASYNC.log_levels),
], ids=["TaskMode", "VerifyMode", "LogLevel"])
def test_datasync_enums_match_botocore(structure: str, member: str, catalog: tuple[str, ...]) -> None:
    enum = _member_shape("datasync", structure, member).get("enum")
    assert enum, f"datasync {structure}.{member} is no longer an enum"
    assert set(enum) == set(catalog)


def _verify_mode_bullets() -> dict[str, str]:
    """Options.VerifyMode documents each mode as a bullet: '<MODE> [(recommended)] - <text>'."""
    modes = _member_shape("datasync", "Options", "VerifyMode")["enum"]
    alternatives = "|".join(re.escape(mode) for mode in modes)
    head = rf"\b(?:{alternatives})(?: \([^)]*\))? - "
    doc = _doc("datasync", "Options", "VerifyMode")
    bullets = dict(re.findall(rf"\b({alternatives})(?: \([^)]*\))? - (.*?)(?={head}|$)", doc))
    assert set(bullets) == set(modes), f"botocore's Options.VerifyMode text changed: {doc}"
    return bullets


def test_datasync_enhanced_verify_modes_match_botocore() -> None:
    # POINT_IN_TIME_CONSISTENT: "The is the default option for Basic mode tasks and isn't currently
    # supported with Enhanced mode tasks." When AWS lifts it, the text goes and this test fails.
    bullets = _verify_mode_bullets()
    assert "isn't currently supported with Enhanced mode" in bullets["POINT_IN_TIME_CONSISTENT"]
    assert "POINT_IN_TIME_CONSISTENT" not in DATASYNC.enhanced_verify_modes
    unsupported = {mode for mode, text in bullets.items() if re.search(r"n[o']t (currently )?supported with Enhanced",
                                                                       text)}
    assert set(DATASYNC.verify_modes) - set(DATASYNC.enhanced_verify_modes) == unsupported
    assert set(DATASYNC.enhanced_verify_modes) <= set(DATASYNC.verify_modes)


# -- Direct Connect and the virtual private gateway --------------------------------------------------------


def test_direct_connect_gateway_amazon_side_asn_matches_botocore() -> None:
    # "The ASN must be in the private range of 64,512 to 65,534 or 4,200,000,000 to 4,294,967,294."
    doc = _doc("directconnect", "CreateDirectConnectGatewayRequest", "amazonSideAsn")
    match = re.search(r"private range of ([\d to or]+)\.", doc)
    assert match, f"botocore's amazonSideAsn text changed: {doc}"
    ranges = tuple((int(low), int(high)) for low, high in re.findall(r"(\d+) to (\d+)", match.group(1)))
    assert ranges == DIRECT_CONNECT.amazon_side_asn_ranges


def test_direct_connect_customer_asn_range_matches_botocore() -> None:
    # "The valid range is from 1 to 4294967294 for BGP configuration."
    doc = _doc("directconnect", "NewPrivateVirtualInterface", "asnLong")
    match = re.search(r"valid range is from (\d+) to (\d+)", doc)
    assert match, f"botocore's asnLong text changed: {doc}"
    assert (int(match.group(1)), int(match.group(2))) == DIRECT_CONNECT.customer_asn_range


def test_vpn_gateway_amazon_side_asn_matches_botocore() -> None:
    # "If you're using a 16-bit ASN, it must be in the 64512 to 65534 range. If you're using a 32-bit ASN,
    # it must be in the 4200000000 to 4294967294 range." The VGW takes the same private ranges.
    doc = _doc("ec2", "CreateVpnGatewayRequest", "AmazonSideAsn")
    ranges = tuple((int(low), int(high)) for low, high in re.findall(r"in the (\d+) to (\d+) range", doc))
    assert ranges, f"botocore's CreateVpnGateway AmazonSideAsn text changed: {doc}"
    assert ranges == DIRECT_CONNECT.amazon_side_asn_ranges


_GBPS_PER_UNIT = {"Mbps": 1_000, "Gbps": 1}


def _speeds_gbps(structure: str, member: str) -> set[float]:
    # Commas are stripped by _clean: "The possible values are 50Mbps 100Mbps ... 10Gbps and 25Gbps."
    doc = _doc("directconnect", structure, member)
    match = re.search(r"possible values are ([^.]*)\.", doc)
    assert match, f"botocore's {structure}.{member} text changed: {doc}"
    speeds = re.findall(r"(\d+)\s*(Mbps|Gbps)", match.group(1))
    assert speeds, match.group(1)
    return {int(value) / _GBPS_PER_UNIT[unit] for value, unit in speeds}


def test_direct_connect_hosted_speeds_match_botocore() -> None:
    assert _speeds_gbps("AllocateHostedConnectionRequest", "bandwidth") == set(
        DIRECT_CONNECT.hosted_port_speeds_gbps)


def test_direct_connect_dedicated_speeds_match_botocore() -> None:
    # CreateLag: "The possible values are 1Gbps,10Gbps, 100Gbps, and 400Gbps."
    assert _speeds_gbps("CreateLagRequest", "connectionsBandwidth") == set(DIRECT_CONNECT.dedicated_port_speeds_gbps)


# -- Snowball ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("member", "catalog"), [
    ("SnowballType", SNOWBALL.snowball_types),
    ("SnowballCapacityPreference", SNOWBALL.capacities),
    ("ShippingOption", SNOWBALL.shipping_options),
], ids=["SnowballType", "SnowballCapacity", "ShippingOption"])
def test_snowball_enums_match_botocore(member: str, catalog: tuple[str, ...]) -> None:
    enum = _member_shape("snowball", "CreateJobRequest", member).get("enum")
    assert enum, f"snowball CreateJobRequest.{member} is no longer an enum"
    assert set(enum) == set(catalog)


def test_snowball_default_device_is_documented_in_create_job() -> None:
    # CreateJob lists the pairs: "Device type: V3_5S Capacity: T240 Description: Snowball Edge Storage Optimized
    # 210TB".
    doc = _clean(_model("snowball")["operations"]["CreateJob"]["documentation"])
    pairs = set(re.findall(r"Device type: (\w+) Capacity: (\w+)", doc))
    assert (SNOWBALL.default_type, SNOWBALL.default_capacity) in pairs
    assert SNOWBALL.default_type in _shape("snowball", "SnowballType")["enum"]
    assert SNOWBALL.default_capacity in _shape("snowball", "SnowballCapacity")["enum"]
    assert SNOWBALL.default_type in SNOWBALL.snowball_types
    assert SNOWBALL.default_capacity in SNOWBALL.capacities


# -- CloudWatch Logs retention -----------------------------------------------------------------------------


def test_log_retention_days_match_botocore() -> None:
    # The member PutRetentionPolicyRequest.retentionInDays has no documentation of its own; the list is on
    # its shape, Days (an integer with no 'enum'): "Possible values are: 1, 3, 5, ..., 3288, and 3653."
    assert "documentation" not in _shape("logs", "PutRetentionPolicyRequest")["members"]["retentionInDays"]
    doc = _doc("logs", "PutRetentionPolicyRequest", "retentionInDays")
    match = re.search(r"Possible values are: ([\d\s]+(?:and \d+)?)\.", doc)
    assert match, f"botocore's Days text changed: {doc}"
    days = [int(n) for n in re.findall(r"\d+", match.group(1))]
    assert len(days) == len(set(days))
    assert set(days) == set(LOG_RETENTION_DAYS)
    assert len(LOG_RETENTION_DAYS) == len(set(LOG_RETENTION_DAYS))
