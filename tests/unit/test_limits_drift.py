"""Drift: the EBS limits in the catalog match the ranges documented in the pinned botocore EC2 model.

When AWS moves a limit, a boto3 bump changes the documentation text and this test says which figure moved.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import botocore
import pytest

from hpc_constructs.catalog.limits import (
    EBS_VOLUME_TYPES,
    EFS_MAX_PROVISIONED_THROUGHPUT_MIBPS,
    LUSTRE_DEPLOYMENTS,
    LUSTRE_HDD_CAPACITY_STEP_GIB,
)


def _member_doc(service: str, shape: str, member: str) -> str:
    root = Path(botocore.__file__).parent / "data" / service
    (model,) = sorted(root.glob("*/service-2.json.gz"))[-1:]
    data = json.loads(gzip.decompress(model.read_bytes()))
    text: str = data["shapes"][shape]["members"][member]["documentation"]
    return re.sub(r"<[^>]+>", " ", text).replace(",", "").replace("\u00a0", " ")


def _range(doc: str, volume_type: str) -> tuple[int, int]:
    match = re.search(rf"{volume_type}( and \w+)?\s*:\s*(\d+)\s*-\s*(\d+)", doc)
    assert match, f"no range for {volume_type} in: {doc[:400]}"
    return int(match.group(2)), int(match.group(3))


@pytest.mark.parametrize("volume_type", ["gp3", "io1", "io2", "st1", "sc1"])
def test_size_range_matches_botocore(volume_type: str) -> None:
    limits = EBS_VOLUME_TYPES[volume_type]
    assert _range(_member_doc("ec2", "CreateVolumeRequest", "Size"), volume_type) == (
        limits.min_size_gib, limits.max_size_gib)


@pytest.mark.parametrize("volume_type", ["gp3", "io1", "io2"])
def test_iops_range_matches_botocore(volume_type: str) -> None:
    doc = _member_doc("ec2", "CreateVolumeRequest", "Iops")
    if volume_type == "gp3":  # "gp3: 3000 (default) - 80000 IOPS"
        match = re.search(r"gp3:\s*(\d+)\s*\(\s*default\s*\)\s*-\s*(\d+)", doc)
        assert match
        documented = (int(match.group(1)), int(match.group(2)))
    else:
        documented = _range(doc, volume_type)
    limits = EBS_VOLUME_TYPES[volume_type]
    assert documented == (limits.min_iops, limits.max_iops)


def test_gp3_throughput_range_matches_botocore() -> None:
    doc = _member_doc("ec2", "CreateVolumeRequest", "Throughput")
    match = re.search(r"Valid Range:\s*(\d+)\s*-\s*(\d+)", doc)
    assert match, doc
    gp3 = EBS_VOLUME_TYPES["gp3"]
    assert (int(match.group(1)), int(match.group(2))) == (gp3.min_throughput_mibps, gp3.max_throughput_mibps)


def _lustre_capacity_sentences() -> dict[str, str]:
    doc = re.sub(r"\s+", " ", _member_doc("fsx", "CreateFileSystemRequest", "StorageCapacity"))
    patterns = {
        "ssd": r"For SCRATCH_2 PERSISTENT_2 and PERSISTENT_1 deployment types using SSD storage type "
               r"the valid values are ([^.]*)\.",
        "hdd": r"For PERSISTENT_1 HDD file systems valid values are ([^.]*)\.",
        "scratch_1": r"For SCRATCH_1 deployment type valid values are ([^.]*)\.",
    }
    sentences = {}
    for key, pattern in patterns.items():
        match = re.search(pattern, doc)
        assert match, f"botocore's StorageCapacity text changed: no match for {key}"
        sentences[key] = match.group(1)
    return sentences


def _numbers(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", text)]


@pytest.mark.parametrize(("deployment", "sentence"), [("SCRATCH_2", "ssd"), ("PERSISTENT_1", "ssd"),
                                                      ("PERSISTENT_2", "ssd"), ("SCRATCH_1", "scratch_1")])
def test_lustre_capacity_rules_match_botocore(deployment: str, sentence: str) -> None:
    """The sentence lists the fixed sizes, then the step: '1200 GiB 2400 GiB and increments of 2400 GiB'."""
    limits = LUSTRE_DEPLOYMENTS[(deployment, "SSD")]
    *fixed, step = _numbers(_lustre_capacity_sentences()[sentence])
    assert "increments of" in _lustre_capacity_sentences()[sentence]
    assert step == limits.capacity_step_gib
    assert set(fixed) - {step} == set(limits.fixed_capacities_gib)


def test_lustre_hdd_capacity_steps_match_botocore() -> None:
    # "increments of 6000 GiB for 12 MB/s/TiB file systems and increments of 1800 GiB for 40 MB/s/TiB"
    numbers = _numbers(_lustre_capacity_sentences()["hdd"])
    documented = {numbers[1]: numbers[0], numbers[3]: numbers[2]}
    assert documented == dict(LUSTRE_HDD_CAPACITY_STEP_GIB)


def test_lustre_per_unit_throughput_matches_botocore() -> None:
    doc = re.sub(r"\s+", " ", _member_doc("fsx", "CreateFileSystemLustreConfiguration", "PerUnitStorageThroughput"))
    for (deployment, storage), label in {("PERSISTENT_1", "SSD"): "PERSISTENT_1 SSD storage",
                                         ("PERSISTENT_1", "HDD"): "PERSISTENT_1 HDD storage",
                                         ("PERSISTENT_2", "SSD"): "PERSISTENT_2 SSD storage"}.items():
        match = re.search(rf"For {label}: ([\d ]+) MB/s/TiB", doc)
        assert match, label
        assert tuple(_numbers(match.group(1))) == LUSTRE_DEPLOYMENTS[(deployment, storage)].per_unit_throughputs


def test_efs_provisioned_throughput_limit_matches_botocore() -> None:
    doc = _member_doc("efs", "CreateFileSystemRequest", "ProvisionedThroughputInMibps")
    match = re.search(r"Valid values are 1-(\d+) MiBps", doc)
    assert match and int(match.group(1)) == EFS_MAX_PROVISIONED_THROUGHPUT_MIBPS
