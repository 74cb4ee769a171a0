"""FSx for Lustre specs and their rules, as pure functions (no CDK).

Limits live in catalog.limits (LUSTRE_DEPLOYMENTS and friends), with their source.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from hpc_constructs import boot
from hpc_constructs.catalog import InstanceType
from hpc_constructs.catalog.limits import (
    LUSTRE_DEPLOYMENTS,
    LUSTRE_EFA_CAPACITY_STEP_GIB,
    LUSTRE_EFA_CLIENT_EXCLUDED_FAMILIES,
    LUSTRE_EFA_CLIENT_INTERFACES,
    LUSTRE_EFA_CLIENT_INTERFACES_MULTI_CARD,
    LUSTRE_EFA_CLIENT_INTERFACES_SINGLE_CARD,
    LUSTRE_HDD_CAPACITY_STEP_GIB,
    LUSTRE_MAX_BACKUP_RETENTION_DAYS,
    LUSTRE_MAX_DATA_REPOSITORY_ASSOCIATIONS,
    LUSTRE_VERSIONS,
    METADATA_IOPS_FIXED,
    METADATA_IOPS_MAX,
    METADATA_IOPS_STEP,
    LustreDeploymentLimits,
)
from hpc_constructs.catalog.software import LUSTRE_CLIENT
from hpc_constructs.errors import ConfigError

DEPLOYMENT_TYPES = ("SCRATCH_1", "SCRATCH_2", "PERSISTENT_1", "PERSISTENT_2")
STORAGE_TYPES = ("SSD", "HDD")
_FS_PATH = re.compile(r"^/[^\s'\"`$\\]{0,4095}$")
MOUNT_POINT = re.compile(r"^(/[A-Za-z0-9._-]+)+$")  # goes into fstab and shell: no spaces or quotes
_S3_PATH = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]*)?$")


@dataclass(frozen=True, slots=True)
class LustreDataRepository:
    """An S3 data repository association (DRA): an S3 prefix linked to a file-system directory.

    file_system_path: where the repository appears, e.g. "/data" (required; "/" links the root).
    data_repository_path: "s3://bucket/prefix/". None links the StorageLayer's own bucket.
    auto_import: True imports new, changed and deleted S3 objects as they happen.
    auto_export: True exports new, changed and deleted files back to S3.
    """

    file_system_path: str
    data_repository_path: str | None = None
    auto_import: bool = True
    auto_export: bool = True


@dataclass(frozen=True, slots=True)
class LustreSpec:
    """An FSx for Lustre file system, in one subnet.

    storage_capacity_gib: 1200. See the capacity table in catalog.limits.
    deployment_type: "PERSISTENT_2". Also SCRATCH_1, SCRATCH_2, PERSISTENT_1.
    per_unit_storage_throughput: MB/s per TiB. None picks the lowest tier of a persistent type
                                 (PERSISTENT_2: 125, PERSISTENT_1 SSD: 50, HDD: 12); scratch takes none.
    storage_type: "SSD"; "HDD" only with PERSISTENT_1.
    data_repositories: up to 8 DRAs. Not on SCRATCH_1, not on Lustre 2.10, not with import_path.
    drive_cache_type: None means "NONE" on HDD; "READ" caches 20% of capacity on SSD. HDD only.
    import_path / export_path: the older file-system-level S3 link ("s3://bucket/prefix"); not with DRAs.
    lustre_version: "2.15" (2.10 not on PERSISTENT_2).
    data_compression: "LZ4" or "NONE". Default "LZ4".
    automatic_backup_retention_days: None keeps 7 days on a persistent file system not linked to S3,
                                     and none otherwise; 0 to 90 on persistent types; backups are not
                                     available on scratch types or file systems linked to S3.
    mount_point: "/fsx". Where mount_on mounts it.
    efa: False. True makes an EFA-enabled file system: PERSISTENT_2 SSD on Lustre 2.15 with a
         metadata configuration, its capacity a multiple of 38,400 / 19,200 / 9,600 / 4,800 GiB at
         125 / 250 / 500 / 1,000 MB/s/TiB; its security group then allows all traffic to and from itself and
         the fleets that mount it. Fixed at creation. mount_on mounts it over EFA on EFA-enabled fleets
         (LNet configured at every boot as the FSx for Lustre User Guide's 'Configuring EFA clients'
         describes; the guide's default number of EFA interfaces per type, each one of the file system's
         1,024 EFA connections), and over TCP on other fleets.
    metadata_iops: None. PERSISTENT_2 only. None gives no metadata configuration, or AUTOMATIC mode when
                   efa=True; a number provisions that many metadata IOPS (USER_PROVISIONED: 1,500, 3,000,
                   6,000, 12,000, or a multiple of 12,000 up to 192,000) and needs Lustre 2.15.
    """

    storage_capacity_gib: int = 1200
    deployment_type: str = "PERSISTENT_2"
    per_unit_storage_throughput: int | None = None
    storage_type: str = "SSD"
    data_repositories: Sequence[LustreDataRepository] = field(default_factory=tuple)
    drive_cache_type: str | None = None
    import_path: str | None = None
    export_path: str | None = None
    lustre_version: str = "2.15"
    data_compression: str = "LZ4"
    automatic_backup_retention_days: int | None = None
    mount_point: str = "/fsx"
    efa: bool = False
    metadata_iops: int | None = None


@dataclass(frozen=True, slots=True)
class LustrePlan:
    """The validated decisions for one file system."""

    spec: LustreSpec
    limits: LustreDeploymentLimits
    per_unit_storage_throughput: int | None
    drive_cache_type: str | None
    automatic_backup_retention_days: int | None
    throughput_mbps: float  # aggregate baseline throughput
    throughput_basis: str
    metadata_mode: str | None = None  # "AUTOMATIC", "USER_PROVISIONED" or None (no metadata configuration)

    @property
    def linked_to_s3(self) -> bool:
        return bool(self.spec.data_repositories or self.spec.import_path)


def plan_lustre(path: str, spec: LustreSpec) -> LustrePlan:
    """Validate a Lustre spec. Rules, in order: deployment and storage type, per-unit throughput,
    capacity, drive cache, Lustre version, S3 links (DRAs or import/export paths), backups, mount point.
    """
    prop = "lustre"
    if spec.deployment_type not in DEPLOYMENT_TYPES:
        raise ConfigError(path, f"{prop}.deployment_type", spec.deployment_type, ", ".join(DEPLOYMENT_TYPES))
    if spec.storage_type not in STORAGE_TYPES:
        raise ConfigError(path, f"{prop}.storage_type", spec.storage_type, ", ".join(STORAGE_TYPES))
    limits = LUSTRE_DEPLOYMENTS.get((spec.deployment_type, spec.storage_type))
    if limits is None:
        raise ConfigError(path, f"{prop}.storage_type", spec.storage_type,
                          f"SSD with {spec.deployment_type} (HDD only with PERSISTENT_1)")

    throughput = _per_unit_throughput(path, prop, spec, limits)
    _check_capacity(path, prop, spec, limits, throughput)
    drive_cache = _drive_cache(path, prop, spec)
    _check_version(path, prop, spec)
    _check_s3_links(path, prop, spec, limits)
    backups = _backups(path, prop, spec, limits)
    metadata_mode = _metadata(path, prop, spec)
    check_mount_point(path, f"{prop}.mount_point", spec.mount_point)

    # FSx counts the 2,400 GiB file system as 2.4 TiB: "For a 2.4-TiB file system, provisioning
    # 50 MB/s/TiB of PerUnitStorageThroughput yields 120 MB/s" (FSx API, CreateFileSystemLustreConfiguration).
    tib = spec.storage_capacity_gib / 1000
    if throughput is not None:
        aggregate, basis = tib * throughput, f"{throughput} MB/s/TiB x {tib:g} TiB"
    else:
        assert limits.baseline_throughput_per_tib is not None
        aggregate = tib * limits.baseline_throughput_per_tib
        basis = f"documented scratch baseline {limits.baseline_throughput_per_tib} MB/s/TiB x {tib:g} TiB"
    return LustrePlan(spec, limits, throughput, drive_cache, backups, aggregate, basis, metadata_mode)


def _per_unit_throughput(path: str, prop: str, spec: LustreSpec, limits: LustreDeploymentLimits) -> int | None:
    value = spec.per_unit_storage_throughput
    if not limits.per_unit_throughputs:
        if value is not None:
            raise ConfigError(path, f"{prop}.per_unit_storage_throughput", value,
                              f"none on {spec.deployment_type} (scratch file systems have a fixed baseline)")
        return None
    if value is None:
        return limits.per_unit_throughputs[0]
    if not _is_int(value) or value not in limits.per_unit_throughputs:
        allowed = ", ".join(str(v) for v in limits.per_unit_throughputs)
        raise ConfigError(path, f"{prop}.per_unit_storage_throughput", value,
                          f"{allowed} MB/s/TiB for {spec.deployment_type} {spec.storage_type}")
    return value


def _check_capacity(path: str, prop: str, spec: LustreSpec, limits: LustreDeploymentLimits,
                    throughput: int | None) -> None:
    gib = spec.storage_capacity_gib
    if spec.efa and spec.deployment_type == "PERSISTENT_2" and throughput is not None \
            and throughput in LUSTRE_EFA_CAPACITY_STEP_GIB:
        step = LUSTRE_EFA_CAPACITY_STEP_GIB[throughput]
        ok = _is_int(gib) and gib > 0 and gib % step == 0
        rule = f"a multiple of {step:,} GiB for an EFA-enabled file system at {throughput} MB/s/TiB"
    elif spec.storage_type == "HDD":
        assert throughput is not None
        step = LUSTRE_HDD_CAPACITY_STEP_GIB[throughput]
        ok = isinstance(gib, int) and gib > 0 and gib % step == 0
        rule = f"a multiple of {step:,} GiB for PERSISTENT_1 HDD at {throughput} MB/s/TiB"
    else:
        ok = isinstance(gib, int) and limits.capacity_allowed(gib)
        rule = f"{limits.capacity_rule} for {spec.deployment_type}"
    if not ok or not _is_int(gib):
        raise ConfigError(path, f"{prop}.storage_capacity_gib", gib, rule)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _drive_cache(path: str, prop: str, spec: LustreSpec) -> str | None:
    if spec.storage_type != "HDD":
        if spec.drive_cache_type is not None:
            raise ConfigError(path, f"{prop}.drive_cache_type", spec.drive_cache_type,
                              "no drive cache on SSD file systems (HDD only)")
        return None
    cache = spec.drive_cache_type or "NONE"
    if cache not in ("NONE", "READ"):
        raise ConfigError(path, f"{prop}.drive_cache_type", cache, "NONE or READ")
    return cache


def _check_version(path: str, prop: str, spec: LustreSpec) -> None:
    allowed = LUSTRE_VERSIONS.get(spec.deployment_type, ())
    if spec.lustre_version not in allowed:
        raise ConfigError(path, f"{prop}.lustre_version", spec.lustre_version,
                          f"{', '.join(allowed)} for {spec.deployment_type}")
    if spec.data_compression not in ("LZ4", "NONE"):
        raise ConfigError(path, f"{prop}.data_compression", spec.data_compression, "LZ4 or NONE")


def check_mount_point(path: str, prop: str, mount_point: str) -> None:
    """A mount point that can go into fstab and shell lines (Lustre, EFS, imported file systems)."""
    if not MOUNT_POINT.match(mount_point):
        raise ConfigError(path, prop, mount_point,
                          "an absolute path other than /, of letters, digits, '.', '_', '-' and '/'")


def check_repository_paths(path: str, spec: LustreSpec, *, has_bucket: bool, allowed: str) -> None:
    """A data repository without an S3 path links the bucket it is given: there must be one."""
    if has_bucket:
        return
    for i, repo in enumerate(spec.data_repositories):
        if repo.data_repository_path is None:
            raise ConfigError(path, f"lustre.data_repositories[{i}].data_repository_path", None, allowed)


def _check_s3_links(path: str, prop: str, spec: LustreSpec, limits: LustreDeploymentLimits) -> None:
    if isinstance(spec.data_repositories, (str, LustreDataRepository)):
        raise ConfigError(path, f"{prop}.data_repositories", spec.data_repositories,
                          "a sequence of LustreDataRepository")
    repos = list(spec.data_repositories)
    for name in ("import_path", "export_path"):
        value = getattr(spec, name)
        if value is not None and not _S3_PATH.match(value):
            raise ConfigError(path, f"{prop}.{name}", value, "an S3 URI, s3://bucket[/prefix]")
    if spec.import_path is not None and not limits.import_export_paths:
        raise ConfigError(path, f"{prop}.import_path", spec.import_path,
                          f"no import/export path on {spec.deployment_type}",
                          hint="PERSISTENT_2 links S3 only through data repository associations: "
                               "LustreDataRepository('/', 's3://bucket/prefix/').")
    if spec.export_path is not None:
        if spec.import_path is None:
            raise ConfigError(path, f"{prop}.export_path", spec.export_path, "an export path only with an import path")
        if _bucket(spec.export_path) != _bucket(spec.import_path):
            raise ConfigError(path, f"{prop}.export_path", spec.export_path,
                              f"a path in the import path's bucket ({_bucket(spec.import_path)})")
    if not repos:
        return
    if spec.import_path is not None:
        raise ConfigError(path, f"{prop}.import_path", spec.import_path,
                          "no import/export path on a file system with data repository associations",
                          hint="Express the link as a LustreDataRepository(file_system_path='/', ...) instead.")
    if not limits.data_repository_associations:
        raise ConfigError(path, f"{prop}.data_repositories", f"{len(repos)} associations",
                          f"none on {spec.deployment_type}: DRAs need SCRATCH_2, PERSISTENT_1 or PERSISTENT_2",
                          hint="Use import_path/export_path on SCRATCH_1, or choose SCRATCH_2.")
    if spec.lustre_version == "2.10":
        raise ConfigError(path, f"{prop}.lustre_version", "2.10", "2.12 or 2.15 with data repository associations")
    if len(repos) > LUSTRE_MAX_DATA_REPOSITORY_ASSOCIATIONS:
        raise ConfigError(path, f"{prop}.data_repositories", f"{len(repos)} associations",
                          f"at most {LUSTRE_MAX_DATA_REPOSITORY_ASSOCIATIONS} per file system")
    # "Two data repository associations cannot have overlapping file system paths" and "each data
    # repository association must have a unique ... S3 bucket or prefix" (FSx API, CreateDataRepositoryAssociation).
    seen_paths: list[str] = []
    seen_s3: list[str] = []
    for i, repo in enumerate(repos):
        item = f"{prop}.data_repositories[{i}]"
        if not isinstance(repo, LustreDataRepository):
            raise ConfigError(path, item, repo, "a LustreDataRepository(file_system_path, data_repository_path)")
        if not _FS_PATH.match(repo.file_system_path):
            raise ConfigError(path, f"{item}.file_system_path", repo.file_system_path, "an absolute path, e.g. /data")
        fs_path = _directory(repo.file_system_path)
        for other in seen_paths:
            if _overlaps(fs_path, other):
                raise ConfigError(path, f"{item}.file_system_path", repo.file_system_path,
                                  f"a path that does not overlap another association's ({other})",
                                  hint="Associations cannot nest: /ns1 and /ns1/ns2 overlap, and / overlaps all.")
        seen_paths.append(fs_path)
        s3_path = repo.data_repository_path or "<the layer's bucket>/"
        if repo.data_repository_path is not None and not _is_token(s3_path):
            if not _S3_PATH.match(s3_path):
                raise ConfigError(path, f"{item}.data_repository_path", s3_path, "an S3 URI, s3://bucket[/prefix]")
            s3_path = _directory(s3_path)
        if s3_path in seen_s3:
            raise ConfigError(path, f"{item}.data_repository_path", repo.data_repository_path,
                              "a unique S3 bucket or prefix for each association")
        seen_s3.append(s3_path)


def _bucket(s3_uri: str) -> str:
    return s3_uri.removeprefix("s3://").split("/", 1)[0]


def _directory(value: str) -> str:
    """A path with exactly one trailing slash, so that /data and /data/ compare equal."""
    return value.rstrip("/") + "/"


def _overlaps(a: str, b: str) -> bool:
    return a.startswith(b) or b.startswith(a)


def _is_token(value: str) -> bool:
    return "${Token[" in value


def _metadata(path: str, prop: str, spec: LustreSpec) -> str | None:
    """Metadata configuration and EFA: both PERSISTENT_2 only, both on Lustre 2.15 only."""
    iops = spec.metadata_iops
    if spec.efa and spec.deployment_type != "PERSISTENT_2":
        raise ConfigError(path, f"{prop}.efa", True, "EFA only on PERSISTENT_2 file systems",
                          hint="EFA-enabled FSx for Lustre is PERSISTENT_2 with a metadata configuration.")
    if iops is not None and spec.deployment_type != "PERSISTENT_2":
        raise ConfigError(path, f"{prop}.metadata_iops", iops, "a metadata configuration only on PERSISTENT_2")
    if not spec.efa and iops is None:
        return None
    if spec.lustre_version != "2.15":
        raise ConfigError(path, f"{prop}.lustre_version", spec.lustre_version,
                          "2.15 with a metadata configuration (efa=True or metadata_iops)")
    if iops is None:
        return "AUTOMATIC"
    steps = _is_int(iops) and (
        iops in METADATA_IOPS_FIXED or (iops % METADATA_IOPS_STEP == 0 and 0 < iops <= METADATA_IOPS_MAX))
    if not steps:
        raise ConfigError(path, f"{prop}.metadata_iops", iops,
                          f"{', '.join(f'{v:,}' for v in METADATA_IOPS_FIXED)}, or a multiple of "
                          f"{METADATA_IOPS_STEP:,} up to {METADATA_IOPS_MAX:,}")
    return "USER_PROVISIONED"


def _backups(path: str, prop: str, spec: LustreSpec, limits: LustreDeploymentLimits) -> int | None:
    days = spec.automatic_backup_retention_days
    linked = bool(spec.data_repositories or spec.import_path)
    if days is None:
        return 7 if limits.persistent and not linked else None
    if not limits.persistent:
        raise ConfigError(path, f"{prop}.automatic_backup_retention_days", days,
                          f"no backups on {spec.deployment_type} (persistent types only)")
    if days and linked:
        raise ConfigError(path, f"{prop}.automatic_backup_retention_days", days,
                          "0: backups are not supported on file systems linked to S3",
                          hint="S3 is the durable copy of a linked file system.")
    if not 0 <= days <= LUSTRE_MAX_BACKUP_RETENTION_DAYS:
        raise ConfigError(path, f"{prop}.automatic_backup_retention_days", days,
                          f"0 to {LUSTRE_MAX_BACKUP_RETENTION_DAYS} days")
    return days



def efa_client_interfaces(instance_type: InstanceType) -> int:
    """How many EFA interfaces a Lustre client of this type configures for LNet (the guide's defaults).

    0 when the type cannot be an EFA client (no EFA, or a family the guide excludes).
    """
    if not instance_type.efa_supported or instance_type.family in LUSTRE_EFA_CLIENT_EXCLUDED_FAMILIES:
        return 0
    if instance_type.name in LUSTRE_EFA_CLIENT_INTERFACES:
        return LUSTRE_EFA_CLIENT_INTERFACES[instance_type.name]
    if len(instance_type.network_cards) > 1:
        return LUSTRE_EFA_CLIENT_INTERFACES_MULTI_CARD
    return LUSTRE_EFA_CLIENT_INTERFACES_SINGLE_CARD


EFA_CLIENT_UNIT = "hpc-lustre-efa.service"


def lustre_client_lines(*, dns_name: str, mount_name: str, mount_point: str,
                        efa_interfaces: Mapping[str, int] | None = None) -> list[str]:
    """Boot lines for one Lustre mount: the client, an fstab entry, and the first mount.

    efa_interfaces: None mounts over TCP. For an EFA-enabled file system on an EFA fleet, the EFA
    interfaces per instance type (efa_client_interfaces): the lines then also install
    hpc-lustre-efa.service (LNet over EFA at every boot, FSx for Lustre User Guide, 'Configuring EFA
    clients'), which the fstab entry requires, and a step that reports a node left on TCP. The mount
    address is NAME@tcp either way: LNet discovery moves the traffic to EFA.
    """
    options = ["defaults", "noatime", "flock", "_netdev", "x-systemd.automount",
               "x-systemd.requires=network-online.target", "x-systemd.after=network-online.target"]
    lines = [boot.install_step("Lustre client", LUSTRE_CLIENT)]
    if efa_interfaces:
        counts = sorted(set(efa_interfaces.values()))
        args = str(counts[0]) if len(counts) == 1 else " ".join(
            f"{name}={count}" for name, count in sorted(efa_interfaces.items()))
        options.append(f"x-systemd.requires={EFA_CLIENT_UNIT}")
        lines += [
            *boot.systemd_unit(EFA_CLIENT_UNIT, "\n".join([
                "[Unit]",
                "Description=LNet over EFA for EFA-enabled FSx for Lustre file systems",
                "After=network-online.target",
                "Wants=network-online.target",
                "[Service]",
                "Type=oneshot",
                "RemainAfterExit=yes",
                "SuccessExitStatus=3",
                f"ExecStart=/usr/local/sbin/hpc-lustre-efa {args}",
                "[Install]",
                "WantedBy=multi-user.target",
            ])),
            "systemctl daemon-reload",
            boot.step("LNet over EFA (service)", "systemctl", "enable", "--now", EFA_CLIENT_UNIT),
        ]
    entry = f"{dns_name}@tcp:/{mount_name} {mount_point} lustre {','.join(options)} 0 0"
    lines += [
        f"mkdir -p {mount_point}",
        boot.fstab_entry(entry, mount_point, "lustre"),
        boot.step(f"mount {mount_point} (Lustre)", "/usr/local/sbin/hpc-mount", mount_point, "lustre"),
    ]
    if efa_interfaces:
        lines.append(boot.step(f"Lustre at {mount_point} over EFA", "/usr/local/sbin/hpc-lustre-efa", "--check"))
    return lines
