"""EC2 instance-type facts, loaded from the compact JSON that scripts/refresh_catalog.py writes."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from hpc_constructs.errors import ConfigError

EFA_INTERFACE_TYPES = frozenset({"efa", "efa-only"})


@dataclass(frozen=True, slots=True)
class NetworkCard:
    """One network card: which interface types it takes, and what it carries."""

    index: int
    interface_types: tuple[str, ...]
    baseline_bandwidth_gbps: float
    peak_bandwidth_gbps: float
    maximum_network_interfaces: int

    @property
    def supports_efa(self) -> bool:
        return bool(EFA_INTERFACE_TYPES & set(self.interface_types))

    @property
    def supports_efa_only(self) -> bool:
        return "efa-only" in self.interface_types


@dataclass(frozen=True, slots=True)
class InstanceStoreDisks:
    """A group of identical instance-store disks."""

    count: int
    size_gb: int
    disk_type: str  # "ssd" or "hdd"


@dataclass(frozen=True, slots=True)
class InstanceType:
    """What DescribeInstanceTypes says about one EC2 instance type, as the library needs it."""

    name: str
    vcpus: int
    memory_mib: int
    architectures: tuple[str, ...]
    gpus: int
    gpu_manufacturer: str
    gpu_name: str
    gpu_memory_mib: int
    efa_supported: bool
    maximum_efa_interfaces: int
    ena_support: str  # "required", "supported" or "unsupported"
    network_cards: tuple[NetworkCard, ...]
    maximum_network_interfaces: int
    network_performance: str
    instance_store_disks: tuple[InstanceStoreDisks, ...]
    instance_store_nvme: str  # "required", "supported" or "unsupported"
    placement_strategies: tuple[str, ...]
    current_generation: bool
    burstable: bool
    bare_metal: bool
    usage_classes: tuple[str, ...]
    hypervisor: str  # "nitro", "xen", or "" for bare metal (Nitro system, no hypervisor)
    ebs_nvme_support: str  # "required", "supported" or "unsupported": do EBS volumes appear as NVMe?

    @property
    def has_gpu(self) -> bool:
        """Carries GPUs, whole or fractional (g6f and gr6f list an L4 with a count of 0)."""
        return self.gpus > 0 or bool(self.gpu_manufacturer)

    @property
    def nitro(self) -> bool:
        """Built on the Nitro system: a Nitro hypervisor, or bare metal (which DescribeInstanceTypes
        lists without a hypervisor)."""
        return self.hypervisor in ("nitro", "")

    @property
    def ebs_as_nvme(self) -> bool:
        """EBS volumes always appear as NVMe devices, with the volume ID as the serial number.

        On Xen types (i3, m4, r4, x1, ...) EBS appears as /dev/xvd* (or, on i3, optionally as NVMe
        depending on the image's drivers), so the library's boot scripts cannot find it by volume ID.
        """
        return self.ebs_nvme_support == "required"

    @property
    def family(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def architecture(self) -> str:
        """The one architecture the library builds for ("x86_64" or "arm64")."""
        for arch in ("arm64", "x86_64"):
            if arch in self.architectures:
                return arch
        return self.architectures[0]

    @property
    def ena_capable(self) -> bool:
        return self.ena_support in ("required", "supported")

    @property
    def supports_cluster_placement(self) -> bool:
        return "cluster" in self.placement_strategies

    @property
    def supports_spot(self) -> bool:
        return "spot" in self.usage_classes

    @property
    def efa_capable_cards(self) -> tuple[NetworkCard, ...]:
        return tuple(c for c in self.network_cards if c.supports_efa)

    @property
    def network_bandwidth_gbps(self) -> float:
        """Sum of the baseline bandwidth of every network card: the instance's full bandwidth."""
        return sum(c.baseline_bandwidth_gbps for c in self.network_cards)

    @property
    def nvme_instance_store_gb(self) -> int:
        """Total NVMe instance-store capacity, 0 when the disks are not NVMe (or absent)."""
        if self.instance_store_nvme == "unsupported":
            return 0
        return sum(d.count * d.size_gb for d in self.instance_store_disks)

    @property
    def instance_store_gb(self) -> int:
        return sum(d.count * d.size_gb for d in self.instance_store_disks)


def _record(name: str, fields: list[str], row: list[Any]) -> InstanceType:
    raw = dict(zip(fields, row, strict=True))
    raw["architectures"] = tuple(raw["architectures"])
    raw["network_cards"] = tuple(
        NetworkCard(index=i, interface_types=tuple(kinds), baseline_bandwidth_gbps=float(base),
                    peak_bandwidth_gbps=float(peak), maximum_network_interfaces=int(most))
        for i, kinds, base, peak, most in raw["network_cards"]
    )
    raw["instance_store_disks"] = tuple(
        InstanceStoreDisks(count=int(n), size_gb=int(size), disk_type=kind)
        for n, size, kind in raw["instance_store_disks"]
    )
    raw["placement_strategies"] = tuple(raw["placement_strategies"])
    raw["usage_classes"] = tuple(raw["usage_classes"])
    return InstanceType(name=name, **raw)


@cache
def _document() -> dict[str, Any]:
    text = resources.files("hpc_constructs.catalog").joinpath("instance_types.json").read_text()
    doc: dict[str, Any] = json.loads(text)
    return doc


@cache
def _all() -> dict[str, InstanceType]:
    """Every record (the same objects `instance_type` returns), for the callers that scan the whole catalog."""
    return {name: record for name in _document()["types"] if (record := _named(name)) is not None}


def source() -> str:
    """Where the instance-type data came from, and when it was retrieved."""
    doc = _document()
    return f"{doc['source']}, retrieved {doc['retrieved']}"


def instance_types() -> tuple[InstanceType, ...]:
    """Every instance type in the catalog, sorted by name."""
    return tuple(_all().values())


@cache
def _named(name: str) -> InstanceType | None:
    """One record, built on first use: an app that names 10 types does not build all of the catalog's records."""
    doc = _document()
    row = doc["types"].get(name)
    return None if row is None else _record(name, doc["fields"], row)


def family_members(*families: str) -> tuple[InstanceType, ...]:
    """The catalog's types of the given families (c7i, ...), sorted by name; builds only their records."""
    wanted = set(families)
    return tuple(record for name in _document()["types"] if name.split(".", 1)[0] in wanted
                 if (record := _named(name)) is not None)


def instance_type(name: str, *, path: str = "catalog", prop: str = "instance_type") -> InstanceType:
    """The catalog record for `name`; ConfigError with close matches when the name is unknown."""
    found = _named(name) if isinstance(name, str) else None
    if found is not None:
        return found
    known = _all()
    nearest = difflib.get_close_matches(str(name), known.keys(), n=5, cutoff=0.6)
    family = str(name).split(".", 1)[0]
    sizes = sorted(k for k in known if k.split(".", 1)[0] == family)[:8]
    hint = f"Did you mean: {', '.join(nearest)}?" if nearest else ""
    if sizes and not nearest:
        hint = f"Sizes of {family} in the catalog: {', '.join(sizes)}."
    raise ConfigError(path, prop, name, f"one of the {len(known)} instance types in the catalog ({source()})",
                      hint=hint or "No close match; check the spelling (family.size, e.g. c6in.32xlarge).")
