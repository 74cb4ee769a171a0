"""DataSync locations and tasks, and their rules, as pure functions (no CDK).

DataTransferLayer (data_transfer.py) turns them into resources. Limits live in catalog.limits.DATASYNC,
with their source. A location refers to what it reads or writes (an S3 bucket, a StorageLayer) as an
opaque object: the rules here only look at plain values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hpc_constructs.catalog.limits import DATASYNC, LOG_RETENTION_DAYS
from hpc_constructs.errors import ConfigError

KINDS = ("s3", "nfs", "smb", "efs", "fsx_lustre")
AGENT_ARN = re.compile(r"^arn:(aws|aws-cn|aws-us-gov|aws-eusc|aws-iso|aws-iso-b):datasync:[a-z\-0-9]+:[0-9]{12}:"
                       r"agent/agent-[0-9a-z]{17}$")
SERVER_HOSTNAME = re.compile(r"^(([a-zA-Z0-9\-]*[a-zA-Z0-9])\.)*([A-Za-z0-9\-:]*[A-Za-z0-9])$")
# Subdirectory patterns (botocore datasync: S3Subdirectory, NfsSubdirectory, SmbSubdirectory, ...).
_SUBDIRECTORY = {
    "s3": re.compile(r"^[a-zA-Z0-9_\-+./() ]*$"),
    "nfs": re.compile(r"^[a-zA-Z0-9_\-+./() ]+$"),
    "smb": re.compile(r"^[a-zA-Z0-9_\-+./()$ ]+$"),
    "efs": re.compile(r"^[a-zA-Z0-9_\-+./() ]*$"),
    "fsx_lustre": re.compile(r"^[a-zA-Z0-9_\-+./()$ ]+$"),
}
NAME = re.compile(r"^[a-zA-Z0-9\s+=._:@/-]+$")  # CreateTask.Name and tag values (TagValue)
SMB_USER = re.compile(r"^[^\x22\x5B\x5D/\\:;|=,+*?\x3C\x3E]{1,104}$")
SMB_DOMAIN = re.compile(r"^[A-Za-z0-9]((\.|-+)?[A-Za-z0-9]){0,252}$")
DEFAULT_LOG_RETENTION_DAYS = 90


@dataclass(frozen=True, slots=True)
class DataSyncLocation:
    """One end of a DataSync task. Make it with a class method: s3, nfs, smb, efs or fsx_lustre.

    name: None derives one from the location (e.g. "nfs:filer.example.com:/exports/genomics"); it keys
          DataTransferLayer.locations and names the task by default.
    """

    kind: str
    target: Any = None  # s3: the bucket (None: the layer's landing bucket); efs / fsx_lustre: the storage
    subdirectory: str = "/"
    server_hostname: str | None = None
    agent_arns: tuple[str, ...] = ()
    user: str | None = None
    domain: str | None = None
    password_secret: Any = None  # smb: a secretsmanager.ISecret
    password_field: str | None = None
    name: str | None = None

    @classmethod
    def s3(cls, bucket: Any = None, prefix: str = "/", *, name: str | None = None) -> DataSyncLocation:
        """An S3 bucket (an s3.IBucket) under `prefix`. bucket=None is the DataTransferLayer's landing bucket.

        DataSync reaches it through a bucket-access role of its own, scoped to the bucket and prefix.
        """
        return cls("s3", bucket, prefix, name=name)

    @classmethod
    def nfs(cls, server_hostname: str, subdirectory: str, agent_arns: Sequence[str], *,
            name: str | None = None) -> DataSyncLocation:
        """An on-premises (or in-cloud) NFS export, read through DataSync agents that are activated already."""
        return cls("nfs", None, subdirectory, server_hostname, tuple(agent_arns), name=name)

    @classmethod
    def smb(cls, server_hostname: str, subdirectory: str, user: str, domain: str | None, password_secret: Any,
            agent_arns: Sequence[str], *, password_field: str | None = None,
            name: str | None = None) -> DataSyncLocation:
        """An SMB share with NTLM authentication, through activated DataSync agents.

        password_secret: a secretsmanager.ISecret (a plain string is a ConfigError: it would be written
        into the template). password_field: the JSON key that holds the password; None takes the
        whole secret string. CloudFormation resolves it at deploy time.
        """
        return cls("smb", None, subdirectory, server_hostname, tuple(agent_arns), user, domain, password_secret,
                   password_field, name)

    @classmethod
    def efs(cls, storage: Any, subdirectory: str = "/", *, name: str | None = None) -> DataSyncLocation:
        """The EFS file system of a StorageLayer (or an EfsFileSystem tier), over TLS with an IAM role."""
        return cls("efs", storage, subdirectory, name=name)

    @classmethod
    def fsx_lustre(cls, storage: Any, subdirectory: str = "/", *, name: str | None = None) -> DataSyncLocation:
        """The FSx for Lustre file system of a StorageLayer (or a LustreFileSystem tier)."""
        return cls("fsx_lustre", storage, subdirectory, name=name)

    @property
    def key(self) -> str:
        """The location's name: given, or derived from what it points at."""
        if self.name is not None:
            return self.name
        where = normalized_subdirectory(self.subdirectory)
        if self.kind in ("nfs", "smb"):
            return f"{self.kind}:{self.server_hostname}:{where}"
        target = "landing" if self.target is None else _node_id(self.target)
        return f"{self.kind}:{target}:{where}"


@dataclass(frozen=True, slots=True)
class DataSyncTaskSpec:
    """A DataSync task from `source` to `destination`, logged to its own CloudWatch log group.

    name: None is "<source name> to <destination name>".
    schedule: None runs on demand. "rate(N hours|days)" or "cron(min hour dom month dow year)", at
              most once an hour (DataSync's minimum interval).
    verify_mode: "ONLY_FILES_TRANSFERRED" checks what was copied; "POINT_IN_TIME_CONSISTENT" checks the
                 whole destination (Basic mode only); "NONE".
    includes / excludes: DataSync filter patterns, e.g. "/genomics" or "*.tmp", relative to the source's
                         subdirectory. Include patterns take "*" only at their end.
    log_retention_days: 90 (a CloudWatch Logs retention value). Enhanced tasks log to /aws/datasync,
                        which DataSync creates: its retention is the account's, not the layer's.
    task_mode: "BASIC" (default) or "ENHANCED" (S3 to S3, and NFS or SMB to or from S3 with an
               Enhanced-mode agent).
    log_level: "BASIC" logs errors and summaries; "TRANSFER" logs every file; "OFF".
    Files deleted at the source stay at the destination (PreserveDeletedFiles=PRESERVE): a transfer
    never deletes data.
    """

    source: DataSyncLocation
    destination: DataSyncLocation
    name: str | None = None
    schedule: str | None = None
    verify_mode: str = "ONLY_FILES_TRANSFERRED"
    includes: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    log_retention_days: int = DEFAULT_LOG_RETENTION_DAYS
    task_mode: str = "BASIC"
    log_level: str = "BASIC"

    @property
    def key(self) -> str:
        return self.name if self.name is not None else f"{self.source.key} to {self.destination.key}"


def _node_id(target: Any) -> str:
    node = getattr(target, "node", None)
    return str(node.id) if node is not None else type(target).__name__


def normalized_subdirectory(subdirectory: str) -> str:
    """'/data' and 'data/' are the same directory: '/data/'."""
    inner = subdirectory.strip("/")
    return f"/{inner}/" if inner else "/"


# -- locations ----------------------------------------------------------------------------------


def check_location(path: str, prop: str, location: DataSyncLocation) -> None:
    """One location's own rules (pure). Raises ConfigError naming `prop`."""
    if not isinstance(location, DataSyncLocation):
        raise ConfigError(path, prop, location, "a DataSyncLocation (DataSyncLocation.s3/nfs/smb/efs/fsx_lustre)")
    if location.kind not in KINDS:
        raise ConfigError(path, f"{prop}.kind", location.kind, ", ".join(KINDS))
    if location.name is not None:
        _check_name(path, f"{prop}.name", location.name)
    _check_subdirectory(path, prop, location)
    if location.kind in ("nfs", "smb"):
        _check_server(path, prop, location)
    if location.kind == "smb":
        _check_smb_credentials(path, prop, location)


def _check_name(path: str, prop: str, name: str) -> None:
    if not isinstance(name, str) or not NAME.match(name) or len(name) > DATASYNC.max_task_name_chars:
        raise ConfigError(path, prop, name, f"1 to {DATASYNC.max_task_name_chars} characters of letters, digits, "
                          "spaces and + = . _ : @ / -")


def _check_subdirectory(path: str, prop: str, location: DataSyncLocation) -> None:
    value = location.subdirectory
    limit = DATASYNC.max_s3_subdirectory_chars if location.kind == "s3" else DATASYNC.max_subdirectory_chars
    what = "prefix" if location.kind == "s3" else "subdirectory"
    allowed = (f"a path of at most {limit:,} characters: letters, digits, spaces and _ - + . / ( )"
               + (" $" if location.kind in ("smb", "fsx_lustre") else ""))
    if not isinstance(value, str) or not _SUBDIRECTORY[location.kind].match(value) or len(value) > limit:
        raise ConfigError(path, f"{prop}.{what}", value, allowed)
    if location.kind == "smb" and not value.strip("/"):
        raise ConfigError(path, f"{prop}.{what}", value, "the share's name and path, e.g. /share/projects")
    # "DataSync can't transfer objects with a prefix that begins with a slash (/) or includes //, /./,
    # or /../ patterns" (Creating an S3 location); the same segments make no sense in a file path.
    padded = normalized_subdirectory(value)
    if "//" in padded or "/./" in padded or "/../" in padded:
        raise ConfigError(path, f"{prop}.{what}", value, "a path without //, /./ or /../")


def _check_server(path: str, prop: str, location: DataSyncLocation) -> None:
    host = location.server_hostname
    if (not isinstance(host, str) or not host or len(host) > DATASYNC.max_server_hostname_chars
            or not SERVER_HOSTNAME.match(host)):
        raise ConfigError(path, f"{prop}.server_hostname", host,
                          "the server's DNS name or IP address (at most 255 characters)")
    arns = location.agent_arns
    if isinstance(arns, str) or not arns:
        raise ConfigError(
            path, f"{prop}.agent_arns", arns, f"1 to {DATASYNC.max_agents_per_location} DataSync agent ARNs",
            hint=f"A {location.kind.upper()} location is read through a DataSync agent near the server: deploy "
                 "the agent (a VM image or an EC2 instance), activate it (aws datasync create-agent), and pass "
                 "its ARN, arn:aws:datasync:<region>:<account>:agent/agent-<17 characters>.")
    if len(arns) > DATASYNC.max_agents_per_location:
        raise ConfigError(path, f"{prop}.agent_arns", arns,
                          f"at most {DATASYNC.max_agents_per_location} agents per location")
    for i, arn in enumerate(arns):
        if not isinstance(arn, str) or not AGENT_ARN.match(arn):
            raise ConfigError(path, f"{prop}.agent_arns[{i}]", arn,
                              "an activated agent's ARN, arn:aws:datasync:<region>:<account>:agent/agent-<17 "
                              "lowercase letters or digits>")
    if len(set(arns)) != len(arns):
        raise ConfigError(path, f"{prop}.agent_arns", arns, "each agent once")


def _check_smb_credentials(path: str, prop: str, location: DataSyncLocation) -> None:
    if location.user is None or not SMB_USER.match(location.user):
        raise ConfigError(path, f"{prop}.user", location.user,
                          "the user that mounts the share: 1 to 104 characters, none of "
                          "\" [ ] / \\ : ; | = , + * ? < >")
    if location.domain is not None and not SMB_DOMAIN.match(location.domain):
        raise ConfigError(path, f"{prop}.domain", location.domain, "a Windows domain name, or None")
    secret = location.password_secret
    if isinstance(secret, str) or secret is None or not hasattr(secret, "secret_arn"):
        shown = "<a plain string>" if isinstance(secret, str) else secret
        raise ConfigError(path, f"{prop}.password_secret", shown, "a Secrets Manager secret (secretsmanager.ISecret)",
                          hint="A password given as a string would be written into the template and the cloud "
                               "assembly. Store it in Secrets Manager and pass the secret; CloudFormation resolves it "
                               "at deploy time.")


# -- tasks --------------------------------------------------------------------------------------


def check_task(path: str, prop: str, task: DataSyncTaskSpec) -> str:
    """A task's own rules (pure), after its two locations'. Returns the schedule in words."""
    if not isinstance(task, DataSyncTaskSpec):
        raise ConfigError(path, prop, task, "a DataSyncTaskSpec(source, destination, ...)")
    check_location(path, f"{prop}.source", task.source)
    check_location(path, f"{prop}.destination", task.destination)
    if task.name is not None:
        _check_name(path, f"{prop}.name", task.name)
    if task.task_mode not in DATASYNC.task_modes:
        raise ConfigError(path, f"{prop}.task_mode", task.task_mode, " or ".join(DATASYNC.task_modes))
    if task.verify_mode not in DATASYNC.verify_modes:
        raise ConfigError(path, f"{prop}.verify_mode", task.verify_mode, ", ".join(DATASYNC.verify_modes))
    if task.log_level not in DATASYNC.log_levels:
        raise ConfigError(path, f"{prop}.log_level", task.log_level, ", ".join(DATASYNC.log_levels))
    if task.task_mode == "ENHANCED":
        kinds = frozenset({task.source.kind, task.destination.kind})
        if kinds not in DATASYNC.enhanced_pairs:
            raise ConfigError(path, f"{prop}.task_mode", "ENHANCED",
                              f"BASIC for {task.source.kind} to {task.destination.kind}; ENHANCED only between S3 "
                              "locations, or between an NFS or SMB server (with an Enhanced-mode agent) and S3")
        if task.verify_mode not in DATASYNC.enhanced_verify_modes:
            raise ConfigError(path, f"{prop}.verify_mode", task.verify_mode,
                              " or ".join(DATASYNC.enhanced_verify_modes) + " with ENHANCED task mode")
    if task.log_retention_days not in LOG_RETENTION_DAYS:
        raise ConfigError(path, f"{prop}.log_retention_days", task.log_retention_days,
                          "a CloudWatch Logs retention: " + ", ".join(str(d) for d in LOG_RETENTION_DAYS) + " days")
    check_filters(path, f"{prop}.includes", task.includes, include=True)
    check_filters(path, f"{prop}.excludes", task.excludes, include=False)
    return check_schedule(path, f"{prop}.schedule", task.schedule) if task.schedule is not None else "on demand"


def check_filters(path: str, prop: str, patterns: Sequence[str], *, include: bool) -> str | None:
    """Filter patterns (pure): returns DataSync's one FilterRule value ("a|b"), or None without patterns."""
    if isinstance(patterns, str):
        raise ConfigError(path, prop, patterns, "a sequence of patterns, e.g. ('/genomics', '/imaging*')")
    for i, pattern in enumerate(patterns):
        if not isinstance(pattern, str) or not pattern.strip() or "\x00" in pattern:
            raise ConfigError(path, f"{prop}[{i}]", pattern, "a non-empty pattern such as /genomics or *.tmp")
        if "|" in pattern:
            raise ConfigError(path, f"{prop}[{i}]", pattern, "one pattern without '|' (DataSync's separator: give "
                              "each pattern as its own item)")
        if include and "*" in pattern[:-1]:
            raise ConfigError(path, f"{prop}[{i}]", pattern,
                              "an include pattern with '*' only as its last character, e.g. /imaging* "
                              "(DataSync: '/documents*|/code* is supported, but *.txt isn't'; use excludes for "
                              "wildcards elsewhere)")
    if not patterns:
        return None
    value = "|".join(patterns)
    if len(value) > DATASYNC.max_filter_chars:
        raise ConfigError(path, prop, f"{len(patterns)} patterns, {len(value):,} characters joined",
                          f"at most {DATASYNC.max_filter_chars:,} characters, patterns joined with '|'")
    return value


def check_task_set(path: str, tasks: Sequence[DataSyncTaskSpec],
                   identity: dict[int, tuple[object, ...]]) -> None:
    """Rules across tasks (pure): unique names; a task's source differs from its destination.

    identity maps id(location) to what the location resolves to (kind, target, server, directory):
    two DataSyncLocation objects that name the same place resolve to the same tuple.
    """
    seen: dict[str, int] = {}
    for i, task in enumerate(tasks):
        if identity[id(task.source)] == identity[id(task.destination)]:
            raise ConfigError(path, f"datasync_tasks[{i}].destination", task.destination.key,
                              "a location other than the source: a task copies from one place to another")
        if task.key in seen:
            raise ConfigError(path, f"datasync_tasks[{i}].name", task.key,
                              f"a name other than datasync_tasks[{seen[task.key]}]'s: names key .tasks")
        seen[task.key] = i


# -- schedules ----------------------------------------------------------------------------------

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\(([^()]*)\)$")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# (field, low, high, names) for cron's six fields (EventBridge syntax, which DataSync schedules use).
_FIELDS = (("minutes", 0, 59, ()), ("hours", 0, 23, ()), ("day-of-month", 1, 31, ()),
           ("month", 1, 12, _MONTHS), ("day-of-week", 1, 7, _DAYS), ("year", 1970, 2199, ()))


def check_schedule(path: str, prop: str, expression: str) -> str:
    """A DataSync schedule (pure): a rate or cron expression that runs at most once an hour.

    Returns it in words. DataSync's minimum interval (catalog.limits.DATASYNC) is 1 hour: a rate below
    it, and a cron expression that fires more than once in an hour (a list, range, step or wildcard in
    the minutes field), are refused.
    """
    minimum = DATASYNC.min_schedule_interval_minutes
    allowed = (f"rate(N hours) or rate(N days), or cron(minutes hours day-of-month month day-of-week year) with one "
               f"minute value, at least {minimum} minutes apart (DataSync's minimum interval)")
    if not isinstance(expression, str) or len(expression) > DATASYNC.max_schedule_expression_chars:
        raise ConfigError(path, prop, expression, allowed)
    rate = _RATE.match(expression)
    if rate:
        count, unit = int(rate.group(1)), rate.group(2)
        if count < 1 or (count == 1) != (not unit.endswith("s")):
            raise ConfigError(path, prop, expression, f"{allowed}; a rate of 1 takes a singular unit, "
                              "e.g. rate(1 day), and a larger one a plural, e.g. rate(12 hours)")
        minutes = count * {"minute": 1, "hour": 60, "day": 1440}[unit.rstrip("s")]
        if minutes < minimum:
            raise ConfigError(path, prop, expression, allowed)
        return f"every {count} {unit}"
    cron = _CRON.match(expression)
    if not cron:
        raise ConfigError(path, prop, expression, allowed)
    fields = cron.group(1).split()
    if len(fields) != 6:
        raise ConfigError(path, prop, expression, f"{allowed}; cron takes exactly six fields")
    for value, (name, low, high, names) in zip(fields, _FIELDS, strict=True):
        if not _cron_field_ok(value, name, low, high, names):
            raise ConfigError(path, prop, expression, f"{allowed}; the {name} field {value!r} is not valid")
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        raise ConfigError(path, prop, expression,
                          f"{allowed}; exactly one of day-of-month and day-of-week is '?'")
    if not re.fullmatch(r"\d{1,2}", fields[0]):
        raise ConfigError(path, prop, expression, allowed,
                          hint="A list, range, step or '*' in the minutes field runs the task more than once an hour.")
    return f"cron {cron.group(1)} (UTC)"


def _cron_field_ok(value: str, name: str, low: int, high: int, names: tuple[str, ...]) -> bool:
    if value == "?":
        return name in ("day-of-month", "day-of-week")
    if name == "day-of-month" and re.fullmatch(r"L|LW|\d{1,2}W", value):
        return value in ("L", "LW") or low <= int(value[:-1]) <= high
    if name == "day-of-week":
        nth = re.fullmatch(r"([1-7]|[A-Z]{3})#([1-5])", value)
        if nth:
            return _cron_number(nth.group(1), low, high, names) is not None
        if re.fullmatch(r"([1-7]|[A-Z]{3})L", value):
            return _cron_number(value[:-1], low, high, names) is not None
    for item in value.split(","):
        base, _, step = item.partition("/")
        if step and (not step.isdigit() or not 1 <= int(step) <= high):
            return False
        if base == "*":
            continue
        start, _, end = base.partition("-")
        first = _cron_number(start, low, high, names)
        if first is None:
            return False
        if end and (_cron_number(end, low, high, names) is None):
            return False
    return True


def _cron_number(text: str, low: int, high: int, names: tuple[str, ...]) -> int | None:
    if text in names:
        return names.index(text) + low
    if text.isdigit() and low <= int(text) <= high:
        return int(text)
    return None
