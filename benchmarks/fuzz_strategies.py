"""Hypothesis strategies for benchmarks/fuzz.py: one recipe per construct, drawn from the documented input space.

A recipe is a dict of plain values and the library's own spec dataclasses (EbsSpec, LustreSpec, ...), so that
its repr is a reproducer that `python benchmarks/fuzz.py --reproduce NAME -` evaluates again. What a recipe
cannot hold as a value (a VPC, a fleet, a bucket, a secret) it names with a string, and fuzz.py's builders
make it in the example's own stack.

Every field has valid values (the construct's docstring allows them, taken one field at a time) and wrong
ones (past a documented limit, unknown names, negative and huge numbers, the wrong type of value). Each
recipe draws a mode first (`Fields`): "valid" takes every field from its valid values, so that the rules
that tie fields together are what refuses it, if anything; "one-wrong" makes each field wrong with
probability 1/8; "any" draws each field from both. The mix keeps each construct's accepted share between
about a third and two thirds: a fuzz that only draws refusals tests nothing but the validators.
Where the unit tests already have a strategy for a value, it is imported from them, not copied.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise
from typing import Any

from hypothesis import strategies as st

from hpc_constructs import (
    BucketSpec,
    ComputeEnvironmentSpec,
    ContainerJobSpec,
    DirectConnectSpec,
    EbsSpec,
    EfsSpec,
    JobQueueSpec,
    LustreDataRepository,
    LustreSpec,
    MultiNodeJobSpec,
    NodeRangeSpec,
    SnowballImportSpec,
    catalog,
)
from hpc_constructs.catalog.limits import EBS_VOLUME_TYPES, SNOWBALL
from hpc_constructs.catalog.software import EFA_INSTALLER, GPU_BASE_IMAGES
from tests.unit.test_bastion_rules import _JUNK, _V4, _V6
from tests.unit.test_batch_rules import TYPES as BATCH_TYPES
from tests.unit.test_compute_fleet_property import CURRENT_X86, EFA_X86, NAMES, TYPE_LISTS
from tests.unit.test_lustre import documented_specs, one_rule_broken
from tests.unit.test_storage_layer import ebs_specs, lustre_specs

# -- drawing a recipe -------------------------------------------------------------------------------------------

MODES = ("valid", "one-wrong", "any")


def one(*values: Any) -> st.SearchStrategy[Any]:
    """One of `values`, uniformly (hypothesis favours the first and last index a little)."""
    return st.sampled_from(values)


def _middle(first: Any, *others: Any) -> st.SearchStrategy[Any]:
    """`first` half the time, split around the others so that it is both the first and the last index."""
    count = max(len(others), 1)
    return st.sampled_from([first] * count + list(others) + [first] * count)


MODE = _middle("valid", "valid", "one-wrong", "one-wrong", "one-wrong", "any")  # about 5 : 3 : 1


class Fields:
    """Draws each field of one recipe from its valid or its wrong values, as the recipe's mode says."""

    def __init__(self, draw: st.DrawFn) -> None:
        self._draw = draw
        self.mode: str = draw(MODE)

    def __call__(self, valid: st.SearchStrategy[Any], wrong: st.SearchStrategy[Any] | None = None) -> Any:
        if wrong is None or self.mode == "valid":
            return self._draw(valid)
        if self.mode == "one-wrong":  # 3 of 0..7: a middle value, which hypothesis does not favour
            return self._draw(wrong if self._draw(st.integers(0, 7)) == 3 else valid)
        return self._draw(st.one_of(valid, wrong))

    def draw(self, strategy: st.SearchStrategy[Any]) -> Any:
        return self._draw(strategy)


# -- shared -----------------------------------------------------------------------------------------------------

TYPES = catalog.instance_types()
# Names the catalog does not know: a near miss, a family, wrong case, empty, a trailing space.
UNKNOWN_TYPES = ["p5.huge", "c7i", "C7I.LARGE", "", "m5.metal.x", "t3.micro ", "hpc7a.96xlarge.x"]
ARM_CURRENT = sorted(t.name for t in TYPES if t.architecture == "arm64" and t.ena_capable and t.family != "a1")
GPU_TYPES = sorted(t.name for t in TYPES if t.has_gpu)
GPU_WITH_IMAGE = sorted(t.name for t in TYPES if t.has_gpu and t.architecture in GPU_BASE_IMAGES
                        and t.family in GPU_BASE_IMAGES[t.architecture].families)
NON_EFA_TYPES = sorted(t.name for t in TYPES if t.ena_capable and not t.efa_supported)

IMAGE = "public.ecr.aws/hpc/app:1"
AGENT = "arn:aws:datasync:us-east-1:111122223333:agent/agent-0123456789abcdef0"
AGENT2 = "arn:aws:datasync:us-east-1:111122223333:agent/agent-0fedcba9876543210"

# The VPC every construct is given: HpcNetwork's (2 or 3 AZs, with or without a NAT gateway), or a dual-stack
# VPC of the same layout that HpcNetwork wraps; the stack environment-agnostic (2 AZs at most) or in
# us-east-1 with an account.
NETWORKS = st.fixed_dictionaries({
    "max_azs": _middle(2, 3),
    "nat_gateways": _middle(1, 1, 1, 0),
    "env": st.booleans(),
    "dual_stack": _middle(False, False, False, True),
})

# -- ComputeFleet -----------------------------------------------------------------------------------------------

VALID_FLEET_TYPES = st.one_of(
    st.lists(st.sampled_from(EFA_X86), min_size=1, max_size=2, unique=True),
    st.lists(st.sampled_from(CURRENT_X86), min_size=1, max_size=3, unique=True),
    st.lists(st.sampled_from(ARM_CURRENT), min_size=1, max_size=2, unique=True),
    st.lists(st.sampled_from(GPU_WITH_IMAGE), min_size=1, max_size=2, unique=True),
    st.lists(st.sampled_from(CURRENT_X86), min_size=40, max_size=40, unique=True),  # the most a group takes
)
WRONG_FLEET_TYPES = st.one_of(
    TYPE_LISTS,  # tests/unit/test_compute_fleet_property.py: one architecture with ENA, or any of the catalog
    st.lists(st.sampled_from(GPU_TYPES), min_size=1, max_size=2, unique=True),  # some need a custom image
    st.lists(st.sampled_from(NAMES + UNKNOWN_TYPES), min_size=0, max_size=3),  # unknown, empty, repeated
    st.sampled_from(CURRENT_X86),  # a bare string, not a list
    st.lists(st.sampled_from(CURRENT_X86), min_size=41, max_size=41, unique=True),
)
ORDERED_CAPACITY = st.sampled_from([0, 1, 2, 4, 16, 1_000, 2**31 - 1]).flatmap(
    lambda most: st.integers(0, min(most, 4)).flatmap(
        lambda least: st.tuples(st.just(least), st.just(most),
                                st.one_of(st.none(), st.integers(least, min(most, least + 4))))))
ANY_CAPACITY = st.one_of(st.integers(-3, 4), st.sampled_from([1_000, 2**31 - 1, 2**31, 10**12]))
WRONG_CAPACITY = st.tuples(ANY_CAPACITY, ANY_CAPACITY, st.one_of(st.none(), ANY_CAPACITY))


@st.composite
def compute_fleets(draw: st.DrawFn) -> dict[str, Any]:
    f = Fields(draw)
    least, most, desired = f(ORDERED_CAPACITY, WRONG_CAPACITY)
    custom = f.draw(_middle(False, False, False, True))
    return {
        "mode": f.mode,
        "network": f(NETWORKS),
        "instance_types": f(VALID_FLEET_TYPES, WRONG_FLEET_TYPES),
        "efa": f(one(None, None, False, True)),
        "placement_group": f(one(None, None, True, False)),
        "spot": f(_middle(False, True)),
        "subnet": f(one("cluster", "cluster", "default", "private"), one("public", "both")),
        "min_capacity": least,
        "max_capacity": most,
        "desired_capacity": desired,
        "root_volume_size_gib": f(st.one_of(st.none(), st.integers(8, 16_384), one(8, 16_384)),
                                  one(-1, 0, 7, 16_385, 100_000)),
        "machine_image": "custom" if custom else "default",
        # a custom image needs its root device name; the default images name their own
        "root_device_name": f(one("/dev/xvda", "/dev/sda1", "/dev/nvme0n1") if custom else st.none(),
                              one(None, "xvda", "/dev/xvda1", "/dev/sdb") if custom else one("/dev/xvda")),
        "install_efa_software": f(st.just(True), st.just(False)),
        "efa_installer_version": f(one(None, None, EFA_INSTALLER.version, "1.25.0", "2.0.0"),
                                   one("1.24.9", "latest", "1.25", "")),
        "efa_installer_key_fingerprint": f(one(None, None, EFA_INSTALLER.key_fingerprint),
                                           one(EFA_INSTALLER.key_fingerprint.lower(), "ABC", "")),
    }


# -- StorageLayer -----------------------------------------------------------------------------------------------


@st.composite
def documented_ebs_specs(draw: st.DrawFn) -> EbsSpec:
    """A spec inside catalog/limits.py's EBS table: size, IOPS within the per-GiB ratio, gp3 throughput per IOPS."""
    kind = draw(st.sampled_from(sorted(EBS_VOLUME_TYPES)))
    limits = EBS_VOLUME_TYPES[kind]
    size = draw(st.integers(limits.min_size_gib, limits.max_size_gib))
    iops = None
    if limits.min_iops is not None and limits.max_iops is not None and limits.max_iops_per_gib is not None \
            and (limits.iops_required or draw(st.booleans())):
        top = min(limits.max_iops, max(limits.baseline_iops or 0, limits.max_iops_per_gib * size))
        iops = draw(st.integers(limits.min_iops, max(limits.min_iops, top)))
    throughput = None
    if limits.min_throughput_mibps is not None and limits.max_throughput_mibps is not None and draw(st.booleans()):
        per_iops = limits.max_throughput_mibps_per_iops or 1.0
        top = min(limits.max_throughput_mibps, int((iops or limits.baseline_iops or 0) * per_iops))
        throughput = draw(st.integers(limits.min_throughput_mibps, max(limits.min_throughput_mibps, top)))
    return EbsSpec(size, kind, iops=iops, throughput_mibps=throughput)


def ebs_volumes(f: Fields) -> EbsSpec:
    """A spec inside the table, or one of tests/unit/test_storage_layer.py's (half of them one step outside);
    the other fields varied."""
    spec = f(documented_ebs_specs(), ebs_specs())
    return replace(
        spec,
        attach=f(one("one_node", "per_node"), one("both", "shared")),
        multi_attach=f(st.just(False), st.just(True)),  # io1/io2 one_node only
        name=f(one(None, None, None, "scratch", "data"), one("bad name", "x" * 300, "")),
        availability_zone=f(one(None, None, None, "us-east-1a"), one("mars-1a")),
    )


def lustre_file_systems(f: Fields) -> LustreSpec:
    """tests/unit/test_lustre.py's documented specs, or a spec with one rule broken, or
    tests/unit/test_storage_layer.py's (mostly valid); with the other fields varied."""
    spec = f(documented_specs(), st.one_of(one_rule_broken().map(lambda case: case[1]), lustre_specs()))
    change = f(one("none", "none", "none", "none", "efa", "metadata_iops", "data_compression", "backups",
                   "mount_point", "linked_bucket"),
               one("drive_cache_type", "import_path", "efa", "metadata_iops", "data_compression", "backups",
                   "mount_point"))
    if change == "efa":  # PERSISTENT_2 SSD on 2.15, capacity in the EFA steps
        return replace(spec, efa=True)
    if change == "metadata_iops":  # PERSISTENT_2 only
        return replace(spec, metadata_iops=f(one(1_500, 3_000, 12_000, 24_000, 192_000), one(204_000, 1_000, 0)))
    if change == "data_compression":
        return replace(spec, data_compression=f(one("NONE", "LZ4"), one("ZSTD", "lz4")))
    if change == "backups":  # persistent only
        return replace(spec, automatic_backup_retention_days=f(one(0, 1, 7, 90), one(91, -1)))
    if change == "drive_cache_type":  # HDD only
        return replace(spec, drive_cache_type=f.draw(one("NONE", "READ", "WRITE")))
    if change == "import_path":  # never with data repositories
        return replace(spec, import_path=f.draw(one("s3://hpc-in", "s3://hpc-in/prefix/", "hpc-in")),
                       export_path=f.draw(one(None, "s3://hpc-in/out/")))
    if change == "mount_point":
        return replace(spec, mount_point=f(one("/scratch", "/lustre"), one("/", "fsx", "/a b")))
    if change == "linked_bucket":  # no S3 path: the layer's own bucket, which must exist
        return replace(spec, data_repositories=(LustreDataRepository("/data"),))
    return spec


def efs_file_systems(f: Fields) -> EfsSpec:
    mode = f(one("elastic", "elastic", "bursting", "provisioned"), one("Elastic", "fast"))
    throughput = f(one(1, 100, 3_414, 1.5) if mode == "provisioned" else st.none(),
                   one(None, 0, 3_415, 0.5, -1) if mode == "provisioned" else one(100))
    return EfsSpec(throughput_mode=mode, provisioned_throughput_mibps=throughput,
                   performance_mode=f(one("generalPurpose", "generalPurpose", "maxIO"), one("max_io", "MaxIO")),
                   mount_point=f(one("/efs", "/shared/home"), one("efs", "/", "/a b", "/efs/")))


BUCKETS = one(False, True, BucketSpec(), BucketSpec(versioned=False), BucketSpec(access_logs=False),
              BucketSpec(versioned=False, access_logs=False))


@st.composite
def storage_layers(draw: st.DrawFn) -> dict[str, Any]:
    f = Fields(draw)
    volumes = [ebs_volumes(f) for _ in range(f.draw(_middle(0, 1, 1, 2, 3)))]
    return {
        "mode": f.mode,
        "network": f(NETWORKS),
        "ebs_volumes": volumes,
        "lustre": lustre_file_systems(f) if f.draw(_middle(False, True)) else None,
        "efs": efs_file_systems(f) if f.draw(_middle(False, True)) else None,
        "bucket": f(BUCKETS),
        "subnet": f(one("default", "default", "cluster", "second")),
        "removal_policy": f(one("RETAIN", "RETAIN", "SNAPSHOT", "DESTROY")),
        # mount the layer on a fleet: none, a CPU fleet without EFA, an EFA fleet (c5n.18xlarge), both
        "mount_on": f(one((), (), ("cpu",), ("efa",), ("cpu", "efa"))),
    }


# -- DataTransferLayer ------------------------------------------------------------------------------------------

SUBDIRECTORIES = one("/", "/genomics/", "/exports/genomics", "/scratch")
WRONG_SUBDIRECTORIES = one("genomics", "", "/a b/", "/x/../y", "/$share", "/ünï", "/" + "x" * 4_096)


def locations(f: Fields) -> dict[str, Any]:
    kind = f.draw(one("s3", "s3", "nfs", "nfs", "smb", "efs", "fsx_lustre"))
    where = {"kind": kind, "subdirectory": f(SUBDIRECTORIES, WRONG_SUBDIRECTORIES)}
    if kind == "s3":
        where["bucket"] = f.draw(one("landing", "landing", "imported"))
    if kind in ("nfs", "smb"):
        where["server_hostname"] = f(one("files.example.com", "10.0.0.5"), one("", "bad host!", "a" * 256))
        where["agent_arns"] = f(one((AGENT,), (AGENT, AGENT2)), one((), ("arn:aws:datasync:agent",), (AGENT, AGENT)))
    if kind == "smb":
        where["user"] = f(one("svc", "hpc-transfer"), one("", "a/b", "x" * 105))
        where["domain"] = f(one("CORP", None), one("-corp", "a..b"))
        where["password_secret"] = f(st.just("secret"), st.just("plain-string"))  # a plain string is refused
        where["password_field"] = f.draw(one(None, "password"))
    return where


# tests/unit/test_data_transfer.py draws its cron and rate expressions inside a test; these follow its fields.
CRON_FIELDS = st.one_of(st.sampled_from(["*", "?", "0", "5", "*/15", "1-5", "MON", "JAN", "L", "2#3", "0,30"]),
                        st.integers(0, 70).map(str))
VALID_SCHEDULES = one(None, None, "rate(1 hour)", "rate(2 hours)", "rate(1 day)", "cron(0 2 * * ? *)",
                      "cron(0 3 ? * SUN *)", "cron(15 */6 * * ? *)")
WRONG_SCHEDULES = st.one_of(
    one("rate(30 minutes)", "rate(0 hours)", "every day", "", "cron(* * * * ? *)"),
    st.lists(CRON_FIELDS, min_size=5, max_size=7).map(lambda f: f"cron({' '.join(f)})"),
    st.tuples(st.integers(0, 120), one("minute", "minutes", "hour", "hours", "day", "days"))
    .map(lambda r: f"rate({r[0]} {r[1]})"),
)
INCLUDES = st.lists(one("/genomics", "/run*", "/data/*"), min_size=1, max_size=2, unique=True)  # "*" at the end only
EXCLUDES = st.lists(one("/genomics", "*.tmp", "/run*", "*/.snapshot"), min_size=1, max_size=2, unique=True)
WRONG_FILTERS = st.lists(one("/a*b", "*.tmp", "", "|", "x" * 5_000, "/genomics"), min_size=1, max_size=2)


def datasync_tasks(f: Fields) -> dict[str, Any]:
    return {
        "source": locations(f),
        "destination": locations(f),
        "name": f(one(None, None, "genomics", "to-lustre"), one("bad|name", "", "x" * 300)),
        "schedule": f(VALID_SCHEDULES, WRONG_SCHEDULES),
        "verify_mode": f(one("ONLY_FILES_TRANSFERRED", "ONLY_FILES_TRANSFERRED", "POINT_IN_TIME_CONSISTENT", "NONE"),
                         one("ALL", "none")),
        "includes": tuple(f(st.one_of(st.just([]), INCLUDES), WRONG_FILTERS)),
        "excludes": tuple(f(st.one_of(st.just([]), EXCLUDES), WRONG_FILTERS)),
        "log_retention_days": f(one(90, 30, 365, 1, 3_653), one(0, 2, 400 * 10)),
        "task_mode": f(one("BASIC", "BASIC", "ENHANCED"), one("FAST", "basic")),
        "log_level": f(one("BASIC", "TRANSFER", "OFF"), one("DEBUG", "")),
    }


ASNS = st.one_of(one(64_512, 65_000, 65_534, 4_200_000_000, 4_294_967_294), st.integers(64_512, 65_534),
                 st.integers(4_200_000_000, 4_294_967_294))
WRONG_ASNS = st.one_of(st.integers(64_000, 66_000), st.integers(4_199_999_990, 4_294_967_300), st.integers(-5, 5),
                       one(65_535, 4_294_967_295, 7_224))


def direct_connects(f: Fields) -> DirectConnectSpec:
    """A gateway alone or with a whole virtual interface (connection, VLAN, customer ASN), or a part of one."""
    interface = f(one("none", "whole", "whole"), st.just("part"))
    connection = vlan = customer = None
    if interface != "none":
        connection = f(one("dxcon-fgab1234", "dxlag-ffrz71kw"), one("dxcon-", "conn-1", "dxcon-FGAB1234"))
        vlan = f(st.integers(1, 4_094), one(0, 4_095, -1))
        customer = f(st.integers(1, 4_294_967_294), one(0, 4_294_967_295, -1))
        if interface == "part":
            connection, vlan, customer = f.draw(one((connection, None, customer), (None, vlan, customer),
                                                    (connection, vlan, None)))
    prefixes = f(one((), ("10.0.0.0/16",), ("10.0.0.0/8",), ("10.0.0.0/16", "192.168.0.0/16")),
                 st.lists(one("192.168.0.0/16", "10.0.0.1/8", "x", "::/0", "10.0.0.0/17", "10.0.0.0/16"),
                          min_size=1, max_size=3).map(tuple))
    return DirectConnectSpec(f(ASNS, WRONG_ASNS), connection_id=connection, vlan=vlan, customer_asn=customer,
                             allowed_prefixes=prefixes,
                             port_speed_gbps=f(one(None, None, 1, 10, 100, 400, 0.05, 0.5), one(3, -1, 0)))


def snowball_imports(f: Fields) -> SnowballImportSpec | bool:
    kind = f.draw(one(False, False, True, "spec"))
    if kind != "spec":
        return bool(kind)
    return SnowballImportSpec(
        kms_key=f.draw(st.booleans()),
        snowball_type=f(one(SNOWBALL.default_type, *SNOWBALL.snowball_types), one("X", "v3_5s")),
        capacity=f(one(SNOWBALL.default_capacity, *SNOWBALL.capacities), one("T1000", "")),
        shipping_option=f(one(*SNOWBALL.shipping_options), one("OVERNIGHT")))


@st.composite
def data_transfer_layers(draw: st.DrawFn) -> dict[str, Any]:
    f = Fields(draw)
    return {
        "mode": f.mode,
        "network": f(NETWORKS),
        # the StorageLayer data lands in: none, one with a bucket, one with a bucket, EFS and Lustre linked to
        # it, one with EFS and no bucket
        "storage": f(one(None, None, "bucket", "bucket", "full", "no-bucket")),
        "landing_bucket": f(one(True, True, True, False, "spec", "imported")),
        "datasync_tasks": [datasync_tasks(f) for _ in range(f.draw(_middle(0, 1, 1, 2, 3)))],
        "direct_connect": direct_connects(f) if f.draw(_middle(False, True)) else None,
        "snowball_import": snowball_imports(f),
        "removal_policy": f(one("RETAIN", "RETAIN", "DESTROY")),
    }


# -- BatchOrchestration -----------------------------------------------------------------------------------------

ENVIRONMENT_NAMES = ["cpu", "gpu", "mpi", "spot"]
# tests/unit/test_batch_rules.py's types (names, families, "optimal", GPU, ARM, an unknown type, A1) and more.
ENVIRONMENT_TYPES = [*BATCH_TYPES, "m7i", "g6e", "c7g", "c7i.huge", "p4d.24xlarge", "t3.micro"]
VALID_ENVIRONMENT_TYPES = ["c5n.18xlarge", "hpc7a.96xlarge", "p5.48xlarge", "c7i.large", "g6e.xlarge", "c7i",
                           "m7i", "c7g", "c7g.large", "p4d.24xlarge", "c7i.4xlarge"]


def compute_environments(f: Fields, name: str) -> dict[str, Any]:
    fargate = f.draw(_middle(False, False, False, True))
    fleet = f.draw(_middle(None, None, None, "efa", "cpu"))  # made from a ComputeFleet of the stack
    plain = fargate or fleet  # Fargate chooses the capacity; a fleet brings its own types
    types = f(st.just(("optimal",)) if plain else st.one_of(
        st.just(("optimal",)), st.sampled_from(VALID_ENVIRONMENT_TYPES).map(lambda t: (t,)),
        st.lists(st.sampled_from(["c7i", "m7i", "c7i.large", "c5n.18xlarge"]), min_size=2, max_size=3,
                 unique=True).map(tuple)),
        st.one_of(st.lists(st.sampled_from(ENVIRONMENT_TYPES), min_size=1, max_size=3).map(tuple),
                  st.sampled_from(VALID_ENVIRONMENT_TYPES).map(lambda t: (t,))))
    spec = ComputeEnvironmentSpec(
        name,
        instance_types=types,
        spot=f.draw(_middle(False, False, True)),
        min_vcpus=f(st.just(0) if fargate else one(0, 0, 4), one(-1, 300, 4)),
        max_vcpus=f(st.one_of(one(256, 1_024, 4_096, 1), st.integers(1, 200_000)), one(0, -1)),
        fargate=fargate,
        efa=f(one(None, None, False) if fargate else one(None, None, None, True, False), st.just(True)),
        root_volume_size_gib=f(one(64, 8, 30, 16_384), one(7, 16_385, 0)),
    )
    subnet = f(st.none() if fleet else one(None, None, None, "cluster", "second"), one("cluster", "second"))
    return {"spec": spec, "fleet": fleet, "subnet": subnet}


def node_ranges(f: Fields, num_nodes: int) -> tuple[NodeRangeSpec, ...]:
    """Ranges that cover 0..n-1 once (split at random points), or a wrong set (gap, overlap, past the end)."""
    if num_nodes < 2 or f.draw(_middle(True, False)):
        return ()
    cuts = sorted(f.draw(st.sets(st.integers(1, num_nodes - 1), max_size=min(num_nodes - 1, 6))))
    bounds = [0, *cuts, num_nodes]
    ranges = [NodeRangeSpec(start, end - 1, ("rank",) if i == 0 else ())
              for i, (start, end) in enumerate(pairwise(bounds))]
    broken = f(st.just("none"), one("gap", "overlap", "past-end"))
    if broken == "gap" and len(ranges) > 1:
        ranges.pop(1)
    elif broken == "overlap":
        ranges.append(NodeRangeSpec(0, 0))
    elif broken == "past-end":
        ranges[-1] = NodeRangeSpec(ranges[-1].start, num_nodes)
    return tuple(ranges)


def multi_node_jobs(f: Fields, environments: list[dict[str, Any]], name: str) -> MultiNodeJobSpec:
    names = [e["spec"].name for e in environments] or ["cpu"]
    on_demand = [e["spec"].name for e in environments if not e["spec"].spot and not e["spec"].fargate]
    environment = f(st.sampled_from(on_demand or names), st.sampled_from([*names, "missing"]))
    concrete = [t for e in environments if e["spec"].name == environment for t in e["spec"].instance_types
                if "." in t]
    instance = f(st.sampled_from(concrete or ["c5n.18xlarge", "c7i.4xlarge"]), st.sampled_from(BATCH_TYPES[:6]))
    num_nodes = f(st.one_of(st.integers(2, 8), one(2, 1_000)), one(0, 1, 1_001, -1))
    return MultiNodeJobSpec(
        name, IMAGE, environment, num_nodes, instance,
        command=f.draw(one(("mpirun", "app"), ())),
        efa=f(one(None, None, False), st.just(True)),
        timeout_minutes=f(one(1_440, 1, 20_160), one(0, -5)),
        attempts=f(one(2, 1, 10), one(0, 11)),
        node_ranges=node_ranges(f, num_nodes) if num_nodes <= 50 else (),
        vcpus=f(one(None, None, 1), one(0, 10_000)),
        memory_mib=f(one(None, None, 1_024), one(0, 10**8)),
        shared_memory_mib=f(one(None, None, 1_024), one(0, 10**8)),
        environment=f.draw(one({}, {"OMP_NUM_THREADS": "1"})),
    )


def container_jobs(f: Fields, environments: list[dict[str, Any]], name: str) -> ContainerJobSpec:
    names = [e["spec"].name for e in environments]
    return ContainerJobSpec(
        name, IMAGE,
        vcpus=f(one(1, 1, 2, 4, 16), one(0.25, 0.5, 1.5, 0, 200, -1)),  # fractions are Fargate's
        memory_mib=f(one(512, 1_024, 2_048, 4_096), one(0, 10**7, 65_536 * 16)),
        gpus=f(st.just(0), one(1, 8, -1)),
        compute_environment=f(st.one_of(st.none(), st.sampled_from(names or [None])), st.just("missing")),
        command=f.draw(one(("render",), ())),
        timeout_minutes=f(one(1_440, 60), one(0,)),
        attempts=f(one(2, 1), one(11, 0)),
    )


@st.composite
def batch_orchestrations(draw: st.DrawFn) -> dict[str, Any]:
    f = Fields(draw)
    count = f(_middle(1, 1, 2, 3), one(0, 4))
    names = f.draw(st.permutations(ENVIRONMENT_NAMES))[:count]
    if names and f(st.just(False), st.just(True)):  # a name Batch refuses, or one given twice
        names[-1] = f.draw(one("has space", "", "x" * 129, "dots.no", names[0]))
    environments = [compute_environments(f, n) for n in names]
    queues: list[JobQueueSpec] = []
    for i in range(f(_middle(0, 1, 1, 2), st.just(2))):
        chosen = f(st.lists(st.sampled_from(names or ["cpu"]), min_size=1, max_size=3, unique=True),
                   st.lists(st.sampled_from([*names, "missing"]), max_size=4))
        queues.append(JobQueueSpec(f"q{i}", tuple(chosen), priority=f(one(1, 10, 0), st.just(-1))))
    return {
        "mode": f.mode,
        "network": f(NETWORKS),
        "compute_environments": environments,
        "job_queues": queues,
        "multi_node_jobs": [multi_node_jobs(f, environments, f"mpi{i}") for i in range(f.draw(_middle(0, 0, 1, 2)))],
        "container_jobs": [container_jobs(f, environments, f"job{i}") for i in range(f.draw(_middle(0, 1, 2)))],
        "storage": f(one(None, None, "efs", "lustre")),
        "job_events": f(one(True, False)),
        "log_retention_days": f(one(30, 1, 3_653), one(31, 0)),
    }


# -- HaBastion --------------------------------------------------------------------------------------------------

# tests/unit/test_bastion_rules.py's CIDRs (random IPv4 /12-/32, IPv6 /16-/128, junk), and common ones.
COMMON_CIDRS = one("203.0.113.0/24", "198.51.100.0/24", "192.0.2.0/28", "2001:db8::/32", "203.0.113.7/32")
WRONG_CIDRS = one("0.0.0.0/0", "::/0", "10.0.0.0/16", "10.0.1.0/24", "203.0.113.5/24", "203.0.113.7")


@st.composite
def ha_bastions(draw: st.DrawFn) -> dict[str, Any]:
    f = Fields(draw)
    allowed = f(st.lists(st.one_of(_V4, _V4, COMMON_CIDRS), min_size=1, max_size=3, unique=True),
                st.lists(st.one_of(_V4, _V6, WRONG_CIDRS, _JUNK), max_size=4))
    blocked = f(st.one_of(st.just([]), st.lists(_V4, max_size=3, unique=True)),
                st.lists(st.one_of(_V4, _V4, _V6, WRONG_CIDRS, _JUNK), min_size=1, max_size=18))
    return {
        "mode": f.mode,
        "network": f(NETWORKS),
        "allowed_cidrs": allowed,
        "blocked_cidrs": blocked,
        "instance_type": f(one("t3.micro", "t3.micro", "t4g.micro", "c7i.large", "m7g.medium"),
                           st.one_of(st.sampled_from(NAMES), st.sampled_from(UNKNOWN_TYPES))),
        "availability_zones": f(one(2, 2, 3), one(1, 0, 4, -1)),
        "key_name": f(one(None, None, "ops", "x" * 255), one("", " lead", "x" * 256, "clé")),
        "allow_open_ssh": f(one(None, None, "lab network"), one("", "   ")),
        "ssh_log_retention_days": f(one(365, 1, 30, 3_653), one(2, 0, -1)),
        "acl_rule_quota": f(one(20, 20, 30, 40), one(19, 41)),
        "ssh_to_fleet": f(st.booleans()),  # fleet.allow_ssh_from(bastion)
    }


STRATEGIES: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "ComputeFleet": compute_fleets(),
    "StorageLayer": storage_layers(),
    "DataTransferLayer": data_transfer_layers(),
    "BatchOrchestration": batch_orchestrations(),
    "HaBastion": ha_bastions(),
}
