"""HaInstance's rules, as pure functions: the AZs, the instance type, the address, the data volume, the snapshot
schedule, the health check, and the failover figures that follow from them.

Nothing here touches CDK. `plan_ha_instance` checks the props in the order its docstring gives and returns an
HaPlan, from which ha_instance.py builds the resources. A check that fails raises ConfigError naming the construct
path, the property, the bad value and what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from hpc_constructs.catalog import InstanceType, instance_type
from hpc_constructs.catalog.limits import HA_INSTANCE, SNAPSHOT_SCHEDULES
from hpc_constructs.catalog.software import AL2023_UNSUPPORTED_FAMILIES
from hpc_constructs.ebs import EbsFigures, EbsSpec, check_ebs
from hpc_constructs.errors import ConfigError

AddressKind = Literal["elastic_ip", "eni", "dns"]
ADDRESS_KINDS: tuple[AddressKind, ...] = ("elastic_ip", "eni", "dns")
ScheduleKind = Literal["dlm", "scheduler"]

DEFAULT_DATA_VOLUME = EbsSpec(size_gib=20, volume_type="gp3", name="data")
DEFAULT_MOUNT_POINT = "/data"
DEFAULT_SNAPSHOT_INTERVAL_MINUTES = 60
DEFAULT_SNAPSHOT_RETENTION = 48
MAX_SNAPSHOT_INTERVAL_MINUTES = 24 * 60  # a library bound: a recovery point older than a day is no HA
DEFAULT_HEALTH_CHECK_INTERVAL_SECONDS = 30
DEFAULT_HEALTH_CHECK_FAILURES = 3
HEALTH_CHECK_INTERVAL_RANGE = (10, 300)  # library bounds: the systemd timer's period
HEALTH_CHECK_FAILURES_RANGE = (1, 10)
DEFAULT_LAUNCH_TIMEOUT_SECONDS = 900  # the launch hook: boot, restore from a snapshot, the user's steps
DEFAULT_TERMINATION_TIMEOUT_SECONDS = 300  # the termination hook: stop the service, unmount, start a snapshot
# A new instance waits for the old one's volume to be free (its termination hook: stop, unmount, final snapshot)
# and for that snapshot to complete for the termination hook's timeout plus this margin, then falls back to the
# newest completed snapshot; and its launch hook must leave it at least BOOT_SECONDS after that wait.
VOLUME_WAIT_MARGIN_SECONDS = 120
BOOT_SECONDS = 300

_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_UNIT = re.compile(r"^[A-Za-z0-9@._:-]+\.(service|target)$")


@dataclass(frozen=True, slots=True)
class ZoneFacts:
    """One chosen subnet, as the plan needs it: its AZ (a name, or a token known only at deploy time), whether it
    is public (a route to an internet gateway), and whether the AZ name is known at synth time."""

    availability_zone: str
    public: bool
    known: bool = True


@dataclass(frozen=True, slots=True)
class FailoverFigures:
    """Bounds, in seconds, from the configured and documented intervals (not measurements)."""

    application_detection_seconds: int  # the health command fails `failures` times, `interval` apart
    ec2_status_check_seconds: int  # EC2 runs status checks every minute
    termination_hook_seconds: int  # at most: the termination hook's heartbeat timeout
    launch_hook_seconds: int  # at most: boot, volume restore and the user's steps
    snapshot_interval_seconds: int  # the worst-case recovery point when the old AZ is lost

    @property
    def worst_case_seconds(self) -> int:
        """Application failure to a new instance in service, each stage at its bound. The group terminates and
        launches at the same time, so the termination hook runs inside the new instance's launch hook (its volume
        step waits for it)."""
        return self.application_detection_seconds + self.launch_hook_seconds


@dataclass(frozen=True, slots=True)
class HaPlan:
    instance_type: InstanceType
    zones: tuple[ZoneFacts, ...]
    address: AddressKind
    record_name: str | None  # dns: the record's fully qualified name, lower case, no trailing dot
    ports: tuple[int, ...]
    data_volume: EbsSpec
    data_volume_figures: EbsFigures
    mount_point: str
    schedule: ScheduleKind
    snapshot_interval_minutes: int
    snapshot_retention: int
    health_check_command: str | None
    health_check_interval_seconds: int
    health_check_failures: int
    service_name: str | None
    launch_timeout_seconds: int
    termination_timeout_seconds: int
    volume_wait_seconds: int  # how long a new instance waits for the old volume or a pending snapshot
    failover: FailoverFigures

    @property
    def public(self) -> bool:
        return all(z.public for z in self.zones)


def plan_ha_instance(
    path: str,
    *,
    instance_type_name: object,
    zones: Sequence[ZoneFacts],
    offerings: Mapping[str, Sequence[str]] | None = None,
    address: str | None = None,
    record_name: str = "server",
    zone_name: str = "hpc.internal",
    ports: Sequence[int] = (),
    data_volume: EbsSpec = DEFAULT_DATA_VOLUME,
    mount_point: str = DEFAULT_MOUNT_POINT,
    snapshot_interval_minutes: int = DEFAULT_SNAPSHOT_INTERVAL_MINUTES,
    snapshot_retention: int = DEFAULT_SNAPSHOT_RETENTION,
    health_check_command: str | None = None,
    health_check_interval_seconds: int = DEFAULT_HEALTH_CHECK_INTERVAL_SECONDS,
    health_check_failures: int = DEFAULT_HEALTH_CHECK_FAILURES,
    service_name: str | None = None,
    launch_timeout_seconds: int = DEFAULT_LAUNCH_TIMEOUT_SECONDS,
    termination_timeout_seconds: int = DEFAULT_TERMINATION_TIMEOUT_SECONDS,
) -> HaPlan:
    """Check HaInstance's props and decide how it is built.

    Checks, in this order: the AZs (at least 2, one subnet each); the instance type (one name, known, On-Demand, a
    Linux architecture Amazon Linux 2023 runs on, offered in every chosen AZ when `offerings` says where it is);
    the address (one of ADDRESS_KINDS; an Elastic IP only in public subnets, and no mix of public and private
    subnets; the record name and zone name for dns); the ports; the data volume (EBS rules, a standalone volume) and
    its mount point; the snapshot interval (DLM's intervals from 1 hour, EventBridge Scheduler's whole minutes below
    and between them, at most a day) and retention; the health check; the service name; the lifecycle hooks'
    timeouts.
    """
    zones = tuple(zones)
    minimum = HA_INSTANCE.min_availability_zones
    if len(zones) < minimum:
        raise ConfigError(path, "vpc_subnets", [z.availability_zone for z in zones],
                          f"subnets in at least {minimum} Availability Zones",
                          hint="One AZ is a single point of failure: its loss would take the server down until the "
                               "AZ recovers. Pass subnets in two or more AZs (HpcNetwork max_azs >= 2).")
    named = [z.availability_zone for z in zones if z.known]
    repeated = sorted({az for az in named if named.count(az) > 1})
    if repeated:
        raise ConfigError(path, "vpc_subnets", repeated, "one subnet per Availability Zone",
                          hint="The group places the instance in one subnet of an AZ at a time; a second subnet in the "
                               "same AZ adds no availability. Keep one subnet per AZ.")

    itype = _instance_type(path, instance_type_name)
    if offerings is not None:
        for zone in (z for z in zones if z.known):
            offered = offerings.get(zone.availability_zone)
            if offered is not None and itype.name not in offered:
                others = [az for az, types in sorted(offerings.items()) if itype.name in types]
                raise ConfigError(path, "instance_type", itype.name,
                                  "a type offered in every chosen AZ "
                                  f"({', '.join(z.availability_zone for z in zones)})",
                                  hint=f"{zone.availability_zone} does not offer {itype.name} "
                                       f"(DescribeInstanceTypeOfferings), so a failover into it would never launch. "
                                       f"It is offered in: {', '.join(others) or 'none of the given AZs'}. Choose "
                                       "another type or other subnets.")

    kind = _address(path, address, zones)
    record = _record_name(path, record_name, zone_name) if kind == "dns" else None
    checked_ports = _ports(path, ports)

    if data_volume.attach != "one_node" or data_volume.multi_attach or data_volume.availability_zone is not None:
        raise ConfigError(path, "data_volume", data_volume,
                          "an EbsSpec with attach='one_node', multi_attach=False and no availability_zone",
                          hint="The data volume is the instance's own: it is created in the AZ the instance runs in "
                               "and follows it to another AZ through snapshots.")
    try:
        figures = check_ebs(path, data_volume)
    except ConfigError as error:  # the EBS rules name a StorageLayer's list; here it is one prop
        raise ConfigError(path, error.prop.replace("ebs_volumes[0]", "data_volume"), error.value, error.allowed,
                          hint=error.hint) from None
    if not (mount_point.startswith("/") and mount_point != "/" and " " not in mount_point
            and "//" not in mount_point and not mount_point.endswith("/")):
        raise ConfigError(path, "mount_point", mount_point, "an absolute path without spaces, e.g. /data")

    schedule = _schedule(path, snapshot_interval_minutes)
    if not (isinstance(snapshot_retention, int) and 1 <= snapshot_retention <= SNAPSHOT_SCHEDULES.dlm_max_retain_count):
        raise ConfigError(path, "snapshot_retention", snapshot_retention,
                          f"1 to {SNAPSHOT_SCHEDULES.dlm_max_retain_count:,} snapshots (Data Lifecycle Manager's "
                          "RetainRule.Count; the same count for scheduled snapshots the instance takes)")

    command = _health_check(path, health_check_command)
    low, high = HEALTH_CHECK_INTERVAL_RANGE
    if not (isinstance(health_check_interval_seconds, int) and low <= health_check_interval_seconds <= high):
        raise ConfigError(path, "health_check_interval_seconds", health_check_interval_seconds,
                          f"{low} to {high} seconds")
    low, high = HEALTH_CHECK_FAILURES_RANGE
    if not (isinstance(health_check_failures, int) and low <= health_check_failures <= high):
        raise ConfigError(path, "health_check_failures", health_check_failures,
                          f"{low} to {high} consecutive failures before the instance reports itself unhealthy")
    if service_name is not None and not _UNIT.match(service_name):
        raise ConfigError(path, "service_name", service_name, "a systemd unit name, e.g. lmgrd.service",
                          hint="The termination hook stops this unit before it unmounts the data volume and takes the "
                               "final snapshot, so that the snapshot holds a clean state.")
    low, high = HA_INSTANCE.heartbeat_timeout_range
    for prop, value in (("launch_timeout_seconds", launch_timeout_seconds),
                        ("termination_timeout_seconds", termination_timeout_seconds)):
        if not (isinstance(value, int) and low <= value <= high):
            raise ConfigError(path, prop, value, f"{low} to {high:,} seconds (a lifecycle hook's heartbeat timeout)")

    wait = termination_timeout_seconds + VOLUME_WAIT_MARGIN_SECONDS
    if launch_timeout_seconds < wait + BOOT_SECONDS:
        raise ConfigError(path, "launch_timeout_seconds", launch_timeout_seconds,
                          f"at least {wait + BOOT_SECONDS} s: termination_timeout_seconds + "
                          f"{VOLUME_WAIT_MARGIN_SECONDS} s (a new instance waits that long for the old one's volume "
                          f"and final snapshot) + {BOOT_SECONDS} s for the rest of the boot",
                          hint="Otherwise the launch hook would abandon a new instance that is still waiting for the "
                               "data, and the group would start over. Raise launch_timeout_seconds or lower "
                               "termination_timeout_seconds.")
    failover = FailoverFigures(
        application_detection_seconds=health_check_interval_seconds * health_check_failures,
        ec2_status_check_seconds=HA_INSTANCE.ec2_status_check_interval_seconds,
        termination_hook_seconds=termination_timeout_seconds,
        launch_hook_seconds=launch_timeout_seconds,
        snapshot_interval_seconds=snapshot_interval_minutes * 60,
    )
    return HaPlan(
        instance_type=itype, zones=zones, address=kind, record_name=record, ports=checked_ports,
        data_volume=data_volume, data_volume_figures=figures, mount_point=mount_point, schedule=schedule,
        snapshot_interval_minutes=snapshot_interval_minutes, snapshot_retention=snapshot_retention,
        health_check_command=command, health_check_interval_seconds=health_check_interval_seconds,
        health_check_failures=health_check_failures, service_name=service_name,
        launch_timeout_seconds=launch_timeout_seconds, termination_timeout_seconds=termination_timeout_seconds,
        volume_wait_seconds=wait, failover=failover)


def _instance_type(path: str, name: object) -> InstanceType:
    if not isinstance(name, str):
        raise ConfigError(path, "instance_type", name, "one instance type name, e.g. \"t3.medium\"",
                          hint="An HaInstance is one server: one type, so that every failover lands on the same "
                               "hardware (and a license bound to it keeps its cores and memory).")
    itype = instance_type(name, path=path, prop="instance_type")
    if "on-demand" not in itype.usage_classes:
        raise ConfigError(path, "instance_type", name, "a type sold On-Demand",
                          hint=f"{name} is offered only as {', '.join(itype.usage_classes)}; an HaInstance runs "
                               "On-Demand so that it is never reclaimed.")
    if itype.architecture not in ("x86_64", "arm64") or itype.family in AL2023_UNSUPPORTED_FAMILIES:
        raise ConfigError(path, "instance_type", name, "an x86_64 or arm64 type Amazon Linux 2023 runs on",
                          hint="The boot scripts use dnf and systemd on Amazon Linux 2023; t3.medium or t4g.medium "
                               "suit a license server.")
    return itype


def _address(path: str, address: str | None, zones: Sequence[ZoneFacts]) -> AddressKind:
    public = [z.public for z in zones]
    if any(public) and not all(public):
        raise ConfigError(path, "vpc_subnets", "public and private subnets", "subnets of one kind",
                          hint="After a failover the server would change from reachable from the internet to not, or "
                               "back. Choose public subnets (Elastic IP) or private ones (dns or eni).")
    if address is None:
        return "elastic_ip" if all(public) else "dns"
    if address not in ADDRESS_KINDS:
        raise ConfigError(path, "address", address, ", ".join(ADDRESS_KINDS))
    if address == "elastic_ip" and not all(public):
        raise ConfigError(path, "address", address, "dns or eni in private subnets",
                          hint="An Elastic IP is a public IPv4 address: in a private subnet (no internet gateway) it "
                               "carries no traffic. Use dns (a private Route 53 record) or eni (one network interface "
                               "per AZ), or put the server in public subnets.")
    return address


def _record_name(path: str, record_name: str, zone_name: str) -> str:
    labels = zone_name.lower().rstrip(".").split(".")
    if not zone_name or not all(_DNS_LABEL.match(label) for label in labels):
        raise ConfigError(path, "zone_name", zone_name, "a DNS name of lower-case labels, e.g. hpc.internal")
    if not _DNS_LABEL.match(record_name):
        raise ConfigError(path, "record_name", record_name,
                          "one DNS label: lower-case letters, digits and inner hyphens, at most 63, e.g. license")
    fqdn = f"{record_name}.{'.'.join(labels)}"
    if len(fqdn) > 253:
        raise ConfigError(path, "record_name", record_name, "a name that, with the zone, has at most 253 characters")
    return fqdn


def _ports(path: str, ports: Sequence[int]) -> tuple[int, ...]:
    if isinstance(ports, str | int):
        raise ConfigError(path, "ports", ports, "a list of TCP ports, e.g. [27000, 27001]")
    out: list[int] = []
    for port in ports:
        if not (isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65_535):
            raise ConfigError(path, "ports", port, "TCP ports from 1 to 65535")
        if port in out:
            raise ConfigError(path, "ports", port, "each port once",
                              hint="A repeated port would make two identical security-group rules, which EC2 refuses.")
        out.append(port)
    return tuple(out)


def _schedule(path: str, minutes: int) -> ScheduleKind:
    dlm_hours = SNAPSHOT_SCHEDULES.dlm_interval_hours
    low = SNAPSHOT_SCHEDULES.scheduler_min_rate_minutes
    allowed = (f"{low} to {MAX_SNAPSHOT_INTERVAL_MINUTES:,} minutes: Data Lifecycle Manager's intervals "
               f"({', '.join(str(h * 60) for h in dlm_hours)}) or EventBridge Scheduler's whole minutes")
    if not (isinstance(minutes, int) and not isinstance(minutes, bool)):
        raise ConfigError(path, "snapshot_interval_minutes", minutes, allowed)
    if minutes < low:
        raise ConfigError(path, "snapshot_interval_minutes", minutes, allowed,
                          hint=f"EventBridge Scheduler's shortest rate is rate({low} minute); Data Lifecycle Manager's "
                               f"is {dlm_hours[0]} hour.")
    if minutes > MAX_SNAPSHOT_INTERVAL_MINUTES:
        raise ConfigError(path, "snapshot_interval_minutes", minutes, allowed,
                          hint="The interval is the worst-case recovery point when the instance's AZ is lost: longer "
                               "than a day is not high availability.")
    if minutes % 60 == 0 and minutes // 60 in dlm_hours:
        return "dlm"
    return "scheduler"


def _health_check(path: str, command: str | None) -> str | None:
    if command is None:
        return None
    if not command.strip() or "\n" in command or "\r" in command:
        raise ConfigError(path, "health_check_command", command,
                          "one non-empty command line, e.g. \"/opt/flexlm/lmutil lmstat -c 27000@localhost\"",
                          hint="It runs as root through bash -c every health_check_interval_seconds; exit 0 means "
                               "healthy. For more than one line, install a script and name it here.")
    if "'" in command:
        raise ConfigError(path, "health_check_command", command, "a command line without single quotes",
                          hint="It is written into a single-quoted line of the instance's configuration; use double "
                               "quotes, or install a script and name it here.")
    return command
