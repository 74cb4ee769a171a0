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

from hpc_constructs.catalog.limits import EBS_VOLUME_TYPES


def _member_doc(service: str, shape: str, member: str) -> str:
    root = Path(botocore.__file__).parent / "data" / service
    (model,) = sorted(root.glob("*/service-2.json.gz"))[-1:]
    data = json.loads(gzip.decompress(model.read_bytes()))
    text: str = data["shapes"][shape]["members"][member]["documentation"]
    return re.sub(r"<[^>]+>", " ", text).replace(",", "")


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


def test_lustre_capacity_rules_match_botocore() -> None:
    doc = _member_doc("fsx", "CreateFileSystemRequest", "StorageCapacity")
    assert "1200 GiB 2400 GiB and increments of 2400 GiB" in re.sub(r"\s+", " ", doc)
    assert "increments of 6000 GiB for 12 MB/s/TiB" in doc and "increments of 1800 GiB for 40 MB/s/TiB" in doc
    assert "increments of 3600 GiB" in doc
