"""EBS rules at every boundary of the limits table: the value, one past it, one short of it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hpc_constructs import ConfigError, EbsSpec
from hpc_constructs.catalog.limits import EBS_VOLUME_TYPES
from hpc_constructs.ebs import check_ebs

P = "Env/Storage"


def ok(**kw: object) -> None:
    check_ebs(P, EbsSpec(**kw))  # type: ignore[arg-type]


def bad(match: str, **kw: object) -> None:
    with pytest.raises(ConfigError, match=match):
        check_ebs(P, EbsSpec(**kw))  # type: ignore[arg-type]


# size: (type, min, max, iops that fits every size of the type)
SIZES = [("io2", 4, 65_536, 100), ("io1", 4, 16_384, 100), ("gp3", 1, 65_536, None),
         ("st1", 125, 16_384, None), ("sc1", 125, 16_384, None)]


@pytest.mark.parametrize(("kind", "low", "high", "iops"), SIZES)
def test_size_boundaries(kind: str, low: int, high: int, iops: int | None) -> None:
    ok(size_gib=low, volume_type=kind, iops=iops)
    ok(size_gib=low + 1, volume_type=kind, iops=iops)
    ok(size_gib=high - 1, volume_type=kind, iops=iops)
    ok(size_gib=high, volume_type=kind, iops=iops)
    bad("size_gib", size_gib=low - 1, volume_type=kind, iops=iops)
    bad("size_gib", size_gib=high + 1, volume_type=kind, iops=iops)


def test_io2_block_express_accepts_what_cdk_l2_rejects() -> None:
    ok(size_gib=65_536, volume_type="io2", iops=256_000)  # 64 TiB, 256,000 IOPS
    ok(size_gib=256, volume_type="io2", iops=256_000)  # 1,000 IOPS per GiB


@pytest.mark.parametrize(("kind", "low", "high", "size"), [
    ("io2", 100, 256_000, 65_536), ("io1", 100, 64_000, 16_384), ("gp3", 3_000, 80_000, 65_536)])
def test_iops_boundaries(kind: str, low: int, high: int, size: int) -> None:
    for value in (low, low + 1, high - 1, high):
        ok(size_gib=size, volume_type=kind, iops=value)
    bad("iops", size_gib=size, volume_type=kind, iops=low - 1)
    bad("iops", size_gib=size, volume_type=kind, iops=high + 1)


def test_io2_rejects_more_than_1000_iops_per_gib() -> None:
    ok(size_gib=100, volume_type="io2", iops=100_000)
    ok(size_gib=100, volume_type="io2", iops=99_999)
    bad("at most 1,000 IOPS per GiB", size_gib=100, volume_type="io2", iops=100_001)


def test_io1_rejects_more_than_50_iops_per_gib() -> None:
    ok(size_gib=100, volume_type="io1", iops=5_000)
    ok(size_gib=100, volume_type="io1", iops=4_999)
    bad("at most 50 IOPS per GiB", size_gib=100, volume_type="io1", iops=5_001)


def test_gp3_rejects_more_than_500_iops_per_gib_above_the_baseline() -> None:
    ok(size_gib=1, volume_type="gp3", iops=3_000)  # the baseline is always allowed
    ok(size_gib=10, volume_type="gp3", iops=5_000)
    ok(size_gib=10, volume_type="gp3", iops=4_999)
    bad("at most 500 IOPS per GiB", size_gib=10, volume_type="gp3", iops=5_001)


@pytest.mark.parametrize("kind", ["io1", "io2"])
def test_io_volumes_require_iops(kind: str) -> None:
    bad(r"iops=None.*required", size_gib=100, volume_type=kind)


@pytest.mark.parametrize("kind", ["st1", "sc1"])
def test_hdd_volumes_take_no_iops_or_throughput(kind: str) -> None:
    bad("no IOPS setting", size_gib=500, volume_type=kind, iops=500)
    bad("no throughput setting", size_gib=500, volume_type=kind, throughput_mibps=250)


def test_gp3_throughput_boundaries() -> None:
    for value in (125, 126, 1_999, 2_000):
        ok(size_gib=1_000, volume_type="gp3", iops=8_000, throughput_mibps=value)
    bad("throughput_mibps=124", size_gib=1_000, volume_type="gp3", iops=8_000, throughput_mibps=124)
    bad("throughput_mibps=2001", size_gib=1_000, volume_type="gp3", iops=80_000, throughput_mibps=2_001)


def test_gp3_throughput_at_most_a_quarter_of_iops() -> None:
    ok(size_gib=100, volume_type="gp3", throughput_mibps=750)  # 3,000 IOPS baseline x 0.25
    ok(size_gib=100, volume_type="gp3", throughput_mibps=749)
    bad("at most 0.25 MiB/s per provisioned IOPS", size_gib=100, volume_type="gp3", throughput_mibps=751)
    ok(size_gib=100, volume_type="gp3", iops=8_000, throughput_mibps=2_000)
    bad("at most 0.25", size_gib=100, volume_type="gp3", iops=7_996, throughput_mibps=2_000)


@pytest.mark.parametrize("kind", ["io1", "io2"])
def test_throughput_is_gp3_only(kind: str) -> None:
    bad("gp3 only", size_gib=100, volume_type=kind, iops=1_000, throughput_mibps=500)


def test_unknown_volume_type_is_refused() -> None:
    bad("volume_type='gp2'", size_gib=100, volume_type="gp2")


def test_multi_attach_only_on_io1_and_io2() -> None:
    ok(size_gib=100, volume_type="io2", iops=1_000, multi_attach=True)
    bad("multi-attach only on io1 and io2", size_gib=100, volume_type="gp3", multi_attach=True)


def test_error_names_the_volume_index() -> None:
    with pytest.raises(ConfigError, match=r"Env/Storage: ebs_volumes\[3\].iops=300000"):
        check_ebs(P, EbsSpec(1_000, "io2", iops=300_000), 3)


def test_figures() -> None:
    io2 = check_ebs(P, EbsSpec(2_048, "io2", iops=64_000))
    assert (io2.iops, io2.throughput_mibps) == (64_000, 4_000)
    gp3 = check_ebs(P, EbsSpec(100, "gp3"))
    assert (gp3.iops, gp3.throughput_mibps) == (3_000, 125)
    assert check_ebs(P, EbsSpec(1_000, "io1", iops=10_000)).throughput_mibps == 500  # 256 KiB I/O cap
    assert check_ebs(P, EbsSpec(1_000, "io1", iops=40_000)).throughput_mibps == 625  # 16 KiB per IOPS
    assert check_ebs(P, EbsSpec(2_000, "io1", iops=64_000)).throughput_mibps == 1_000
    st1 = check_ebs(P, EbsSpec(2_048, "st1"))
    assert st1.iops is None and st1.throughput_mibps == 80


@given(size=st.integers(-10, 70_000), kind=st.sampled_from([*EBS_VOLUME_TYPES, "gp2"]),
       iops=st.none() | st.integers(0, 300_000), throughput=st.none() | st.integers(0, 2_500))
def test_any_spec_is_accepted_within_limits_or_refused(size: int, kind: str, iops: int | None,
                                                       throughput: int | None) -> None:
    spec = EbsSpec(size, kind, iops=iops, throughput_mibps=throughput)
    try:
        figures = check_ebs(P, spec)
    except ConfigError as err:
        assert str(err).startswith(f"{P}: ebs_volumes[0].")
        return
    limits = EBS_VOLUME_TYPES[kind]
    assert limits.min_size_gib <= size <= limits.max_size_gib
    if iops is not None:
        assert limits.min_iops is not None and limits.max_iops is not None and limits.max_iops_per_gib is not None
        assert limits.min_iops <= iops <= limits.max_iops
        assert iops <= max(limits.max_iops_per_gib * size, limits.baseline_iops or 0)
    if throughput is not None:
        assert kind == "gp3" and figures.iops is not None
        assert 125 <= throughput <= 2_000 and (throughput <= 125 or throughput <= 0.25 * figures.iops)


def test_fractional_iops_and_throughput_are_refused() -> None:
    bad("iops=1000.5", size_gib=100, volume_type="io2", iops=1000.5)
    bad("throughput_mibps=125.5", size_gib=100, volume_type="gp3", throughput_mibps=125.5)
    bad("size_gib=100.0", size_gib=100.0, volume_type="gp3")


def test_volume_name_boundaries() -> None:
    ok(size_gib=100, volume_type="gp3", name="a" * 32)
    ok(size_gib=100, volume_type="gp3", name="a")
    bad(r"name='a{33}'", size_gib=100, volume_type="gp3", name="a" * 33)
    bad("name='Data'", size_gib=100, volume_type="gp3", name="Data")
    bad("name='1data'", size_gib=100, volume_type="gp3", name="1data")


def test_attach_modes() -> None:
    assert check_ebs("P", EbsSpec(100, "gp3")).attach == "one_node"  # the default keeps data
    assert check_ebs("P", EbsSpec(100, "gp3", attach="per_node")).attach == "per_node"
    with pytest.raises(ConfigError, match="attach='shared'.*one_node or per_node"):
        check_ebs("P", EbsSpec(100, "gp3", attach="shared"))
    with pytest.raises(ConfigError, match="multi_attach"):
        check_ebs("P", EbsSpec(100, "io2", iops=3_000, multi_attach=True, attach="per_node"))
    with pytest.raises(ConfigError, match="availability_zone"):
        check_ebs("P", EbsSpec(100, "gp3", availability_zone="us-east-1a", attach="per_node"))


def test_per_node_gp3_iops_stay_within_what_launch_templates_are_validated_against() -> None:
    """Found by `make fuzz`: CDK's validation and cfn-lint cap a launch template's gp3 at 16,000 IOPS."""
    assert check_ebs("P", EbsSpec(100, "gp3", iops=16_000, attach="per_node")).iops == 16_000
    with pytest.raises(ConfigError, match=r"iops=16001 .*at most 16,000 IOPS for a gp3 volume with attach='per_node'"):
        check_ebs("P", EbsSpec(100, "gp3", iops=16_001, attach="per_node"))
    assert check_ebs("P", EbsSpec(200, "gp3", iops=80_000)).iops == 80_000  # a standalone volume: today's limit
