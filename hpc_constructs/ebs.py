"""EBS volume specs and their rules, as pure functions (no CDK).

aws-cdk-lib's ec2.Volume still applies pre-2023 limits (io2 at 64,000 IOPS, 500 IOPS per GiB and
16 TiB; aws-cdk#28695, #37045, #36014), so StorageLayer builds CfnVolume and checks here instead,
against today's limits in catalog.limits.EBS_VOLUME_TYPES.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from hpc_constructs.catalog.limits import (
    EBS_VOLUME_TYPES,
    HDD_BASELINE_MIBPS_PER_TIB,
    IO1_MAX_THROUGHPUT_MIBPS,
    IO1_SMALL_VOLUME_MAX_IOPS,
    IO1_SMALL_VOLUME_MAX_THROUGHPUT_MIBPS,
    IO2_MAX_THROUGHPUT_MIBPS,
    LAUNCH_TEMPLATE_GP3_MAX_IOPS,
    EbsVolumeLimits,
)
from hpc_constructs.errors import ConfigError

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
ATTACH_MODES = ("one_node", "per_node")


@dataclass(frozen=True, slots=True)
class EbsSpec:
    """One EBS volume.

    size_gib: the size (required).
    volume_type: "io2" (io2 Block Express), "io1", "gp3", "st1" or "sc1". Default "io2".
    iops: required for io1 and io2; optional for gp3 (baseline 3,000); not allowed otherwise.
    throughput_mibps: gp3 only (baseline 125).
    availability_zone: None puts the volume in the AZ of the layer's subnet (the cluster subnet), so
                       that a fleet in that subnet can attach it. one_node only.
    name: None names the volume "vol<N>" (its position); mounted at /ebs/<name>.
    multi_attach: False. io1/io2 only, one_node only; every node in the volume's AZ attaches it (up
                  to EBS's limit), but it needs a cluster-aware file system, so it is never formatted
                  or mounted.
    attach: how a fleet that mounts the layer (StorageLayer.mount_on) gets the volume.
      "one_node" (default): one standalone volume, retained with the stack's data. One node of each
          mounting fleet holds it at a time: a systemd timer on every node attaches it to a node when
          no node holds it (at first boot, and again when its holder goes away), formats it only if
          blank, and mounts it at /ebs/<name>. Mounting it on a fleet whose max_capacity is above 1
          adds a CDK warning. For data that every node reads and writes, use EFS or FSx for Lustre.
      "per_node": no standalone volume: the launch template of every mounting fleet gets the
          volume in its block device mappings, so each node gets its own encrypted volume with these
          IOPS and this throughput, formatted at first boot and mounted at /ebs/<name>. It is deleted
          with its node (scale-in, Spot interruption, replacement): node-local working space, never
          the place for results.
      one_node is the default because a volume in a StorageLayer is expected to keep its data when
      nodes come and go: per_node volumes are deleted with their nodes, and a default that loses data
      on scale-in would surprise more than one that reaches one node at a time (which the warning
      names at synth time).
    """

    size_gib: int
    volume_type: str = "io2"
    iops: int | None = None
    throughput_mibps: int | None = None
    availability_zone: str | None = None
    name: str | None = None
    multi_attach: bool = False
    attach: str = "one_node"


@dataclass(frozen=True, slots=True)
class EbsFigures:
    name: str
    volume_type: str
    size_gib: int
    iops: int | None  # provisioned or baseline; None for HDD types (MiB/s-rated)
    throughput_mibps: float  # provisioned, baseline or documented maximum (see max_throughput_basis)
    throughput_basis: str
    attach: str = "one_node"


def check_ebs(path: str, spec: EbsSpec, index: int = 0) -> EbsFigures:
    """Validate one EBS volume against today's limits; return its figures. Raises ConfigError."""
    prop = f"ebs_volumes[{index}]"
    limits = EBS_VOLUME_TYPES.get(spec.volume_type)
    if limits is None:
        raise ConfigError(path, f"{prop}.volume_type", spec.volume_type, ", ".join(EBS_VOLUME_TYPES),
                          hint="gp2 and standard are previous-generation; gp3 costs less than gp2 for the same "
                               "baseline.")
    name = spec.name or f"vol{index}"
    if not _NAME.match(name):
        raise ConfigError(path, f"{prop}.name", name, "1 to 32 of a-z, 0-9 and '-', starting with a letter")
    _check_size(path, prop, spec, limits)
    iops = _check_iops(path, prop, spec, limits)
    throughput, basis = _check_throughput(path, prop, spec, limits, iops)
    if spec.multi_attach and spec.volume_type not in ("io1", "io2"):
        raise ConfigError(path, f"{prop}.multi_attach", True, "multi-attach only on io1 and io2 volumes")
    if spec.attach not in ATTACH_MODES:
        raise ConfigError(path, f"{prop}.attach", spec.attach, " or ".join(ATTACH_MODES),
                          hint="one_node: a standalone, retained volume that one node holds at a time; "
                               "per_node: a volume of its own on every node, deleted with the node.")
    if spec.attach == "per_node":
        if spec.multi_attach:
            raise ConfigError(path, f"{prop}.multi_attach", True, "multi-attach only with attach='one_node'",
                              hint="A per-node volume belongs to one node; Multi-Attach shares one standalone volume.")
        if spec.availability_zone is not None:
            raise ConfigError(path, f"{prop}.availability_zone", spec.availability_zone,
                              "None with attach='per_node' (each node's volume is made in the node's AZ)")
        if spec.volume_type == "gp3" and iops is not None and iops > LAUNCH_TEMPLATE_GP3_MAX_IOPS:
            raise ConfigError(path, f"{prop}.iops", iops,
                              f"at most {LAUNCH_TEMPLATE_GP3_MAX_IOPS:,} IOPS for a gp3 volume with attach='per_node'",
                              hint=f"EC2 takes up to {limits.max_iops:,} on a gp3 volume, but a launch template's "
                                   f"block device is still validated against {LAUNCH_TEMPLATE_GP3_MAX_IOPS:,} (CDK's "
                                   "CloudFormation validation and cfn-lint): use io2 for more per node, or "
                                   "attach='one_node' (a standalone volume).")
    return EbsFigures(name, spec.volume_type, spec.size_gib, iops, throughput, basis, spec.attach)


def _check_size(path: str, prop: str, spec: EbsSpec, limits: EbsVolumeLimits) -> None:
    size = spec.size_gib
    if not _is_int(size) or not limits.min_size_gib <= size <= limits.max_size_gib:
        raise ConfigError(path, f"{prop}.size_gib", size,
                          f"{limits.min_size_gib:,} to {limits.max_size_gib:,} GiB for {limits.description}")


def _check_iops(path: str, prop: str, spec: EbsSpec, limits: EbsVolumeLimits) -> int | None:
    iops = spec.iops
    if limits.min_iops is None or limits.max_iops is None:
        if iops is not None:
            raise ConfigError(path, f"{prop}.iops", iops, f"no IOPS setting for {limits.description}",
                              hint="HDD volumes are rated in MiB/s; use gp3, io1 or io2 to provision IOPS.")
        return None
    if iops is None:
        if limits.iops_required:
            raise ConfigError(path, f"{prop}.iops", None,
                              f"{limits.min_iops:,} to {limits.max_iops:,} IOPS (required for {spec.volume_type})")
        return limits.baseline_iops
    if not _is_int(iops) or not limits.min_iops <= iops <= limits.max_iops:
        raise ConfigError(path, f"{prop}.iops", iops,
                          f"a whole number, {limits.min_iops:,} to {limits.max_iops:,} IOPS for {limits.description}")
    per_gib = limits.max_iops_per_gib
    baseline = limits.baseline_iops or 0
    if per_gib is not None and iops > baseline and iops > per_gib * spec.size_gib:
        least = -(-iops // per_gib)
        raise ConfigError(path, f"{prop}.iops", iops,
                          f"at most {per_gib:,} IOPS per GiB for {spec.volume_type}: "
                          f"{per_gib * spec.size_gib:,} IOPS for {spec.size_gib:,} GiB",
                          hint=f"{iops:,} IOPS needs at least {least:,} GiB.")
    return iops


def _check_throughput(path: str, prop: str, spec: EbsSpec, limits: EbsVolumeLimits,
                      iops: int | None) -> tuple[float, str]:
    throughput = spec.throughput_mibps
    if limits.min_throughput_mibps is None or limits.max_throughput_mibps is None:
        if throughput is not None:
            raise ConfigError(path, f"{prop}.throughput_mibps", throughput,
                              f"no throughput setting for {limits.description} (gp3 only)")
        if spec.volume_type in ("io1", "io2"):
            assert iops is not None
            return _io_throughput(spec.volume_type, iops), "documented maximum for the IOPS"
        per_tib, cap = HDD_BASELINE_MIBPS_PER_TIB[spec.volume_type]
        return min(cap, per_tib * spec.size_gib / 1024), "documented baseline"
    if throughput is None:
        return float(limits.baseline_throughput_mibps or 0), "baseline"
    if not _is_int(throughput) or not limits.min_throughput_mibps <= throughput <= limits.max_throughput_mibps:
        raise ConfigError(path, f"{prop}.throughput_mibps", throughput,
                          f"{limits.min_throughput_mibps:,} to {limits.max_throughput_mibps:,} MiB/s for gp3")
    ratio = limits.max_throughput_mibps_per_iops
    baseline = limits.baseline_throughput_mibps or 0
    if ratio is not None and iops is not None and throughput > baseline and throughput > ratio * iops:
        raise ConfigError(path, f"{prop}.throughput_mibps", throughput,
                          f"at most {ratio} MiB/s per provisioned IOPS: {ratio * iops:g} MiB/s at {iops:,} IOPS",
                          hint=f"{throughput:,} MiB/s needs at least {int(-(-throughput // ratio)):,} IOPS.")
    return float(throughput), "provisioned"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _io_throughput(volume_type: str, iops: int) -> float:
    """The most an io1/io2 volume with `iops` can move (EBS User Guide, Provisioned IOPS SSD volumes)."""
    if volume_type == "io2":
        return min(IO2_MAX_THROUGHPUT_MIBPS, iops * 0.25)  # 256 KiB per I/O
    if iops <= IO1_SMALL_VOLUME_MAX_IOPS:
        return min(IO1_SMALL_VOLUME_MAX_THROUGHPUT_MIBPS, iops * 0.25)
    return min(IO1_MAX_THROUGHPUT_MIBPS, iops / 64)  # 16 KiB per provisioned IOPS above 32,000


def check_ebs_volumes(path: str, volumes: Sequence[EbsSpec]) -> list[EbsFigures]:
    """Each volume against today's limits, and distinct names (pure). Raises ConfigError."""
    if isinstance(volumes, EbsSpec):
        raise ConfigError(path, "ebs_volumes", volumes, "a sequence of EbsSpec",
                          hint="Write ebs_volumes=[EbsSpec(...)].")
    figures = [check_ebs(path, spec, i) for i, spec in enumerate(volumes)]
    names = [f.name for f in figures]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(path, "ebs_volumes", ", ".join(duplicates), "a distinct name for each volume")
    return figures
