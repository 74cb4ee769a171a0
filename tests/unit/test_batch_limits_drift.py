"""Drift: the Batch figures in catalog.limits.BATCH match the pinned botocore batch model's documentation.

Each test reads the sentence AWS documents in the service model shipped with the pinned boto3 and
compares it with one catalog figure, so a boto3 bump that moves a limit names the figure that moved.
"""

from __future__ import annotations

import re

import pytest

from hpc_constructs.catalog.limits import BATCH
from tests.unit.test_transfer_limits_drift import _doc, _shape


def _words_number(text: str) -> int:
    return {"three": 3, "five": 5, "ten": 10}[text]


def test_compute_environments_per_queue() -> None:
    doc = _doc("batch", "CreateJobQueueRequest", "computeEnvironmentOrder")
    match = re.search(r"associate up to (\w+) compute environments with a job queue", doc)
    assert match and _words_number(match.group(1)) == BATCH.max_compute_environments_per_queue


def test_queues_do_not_mix_ec2_and_fargate_or_architectures() -> None:
    doc = _doc("batch", "CreateJobQueueRequest", "computeEnvironmentOrder")
    assert "EC2 and Fargate compute environments can't be mixed" in doc
    assert "must share the same architecture" in doc


def test_multi_node_jobs_refuse_spot() -> None:
    assert "Multi-node parallel jobs aren't supported on Spot Instances" in _doc("batch", "ComputeResource", "type")


def test_node_ranges_cover_every_node_and_one_instance_type() -> None:
    assert "accumulative node ranges must account for all nodes" in _doc("batch", "NodeRangeProperty", "targetNodes")
    assert "All node groups in a multi-node parallel job must use the same instance type" in _doc(
        "batch", "ContainerProperties", "instanceType")


def test_timeout_minimum() -> None:
    match = re.search(r"minimum value for the timeout is (\d+) seconds", _doc("batch", "JobTimeout",
                                                                              "attemptDurationSeconds"))
    assert match and int(match.group(1)) == BATCH.min_timeout_seconds


def test_retry_attempts() -> None:
    match = re.search(r"between (\d+) and (\d+) attempts", _doc("batch", "RetryStrategy", "attempts"))
    assert match and (int(match.group(1)), int(match.group(2))) == (BATCH.min_attempts, BATCH.max_attempts)


def test_resource_minimums() -> None:
    doc = _doc("batch", "ResourceRequirement", "value")
    match = re.search(r"at least (\d+) MiB of memory for a job", doc)
    assert match and int(match.group(1)) == BATCH.min_memory_mib
    assert "For Amazon EC2 resources you must specify at least one vCPU" in doc
    assert BATCH.min_ec2_vcpus == 1


def test_fargate_vcpu_and_memory_combinations() -> None:
    doc = _doc("batch", "ResourceRequirement", "value")
    vcpu_part = doc[doc.index('type="VCPU"'):]
    found = {float(v): tuple(int(m) for m in re.findall(r"\d+", ms))
             for v, ms in re.findall(r"value = ([\d.]+) MEMORY = ([\d ,or]+?)(?= value| type|$)", vcpu_part)}
    assert found == {float(k): v for k, v in BATCH.fargate_memory_mib_by_vcpus.items()}


@pytest.mark.parametrize("category", ["default_x86_64", "default_arm64"])
def test_instance_categories(category: str) -> None:
    doc = _doc("batch", "ComputeResource", "instanceTypes")
    match = re.search(rf"{category} to choose \w+ based instance types \(from the (.*?) instance families\)", doc)
    assert match, doc
    families = tuple(re.findall(r"[a-z]\d[a-z]", match.group(1)))
    assert families == BATCH.instance_categories[category]


def test_optimal_is_default_x86_64() -> None:
    assert "optimal Semantically equivalent to default_x86_64" in _doc("batch", "ComputeResource", "instanceTypes")
    assert BATCH.instance_categories["optimal"] == BATCH.instance_categories["default_x86_64"]


def test_image_types() -> None:
    doc = _doc("batch", "Ec2Configuration", "imageType")
    assert re.search(rf"{BATCH.cpu_image_type}\W+Amazon Linux 2023\s?: Default for all non-GPU instance families", doc)
    assert re.search(rf"{BATCH.gpu_image_type}\W+Amazon Linux 2023 \(GPU\)\s?: Default for all GPU instance families",
                     doc)
    assert f"{BATCH.gpu_image_type} doesn't support p3 and g3 instance types" in doc
    assert BATCH.gpu_image_excluded_families == ("p3", "g3")
    assert "Amazon Linux 2023 does not support A1 instances" in doc and BATCH.al2023_excluded_families == ("a1",)


def test_names() -> None:
    for structure, member in (("CreateJobQueueRequest", "jobQueueName"),
                              ("RegisterJobDefinitionRequest", "jobDefinitionName"),
                              ("CreateComputeEnvironmentRequest", "computeEnvironmentName")):
        doc = _doc("batch", structure, member)
        match = re.search(r"up to (\d+) (?:letters|characters) long", doc)
        assert match and int(match.group(1)) == BATCH.max_name_length, structure
        assert "hyphens (-) and underscores (_)" in doc


def test_fargate_subnets() -> None:
    match = re.search(r"Fargate compute resources can contain up to (\d+) subnets", _doc("batch", "ComputeResource",
                                                                                         "subnets"))
    assert match and int(match.group(1)) == BATCH.max_fargate_subnets


def test_allocation_strategies_exist() -> None:
    enum = set(_shape("batch", "CRAllocationStrategy")["enum"])
    assert {"BEST_FIT_PROGRESSIVE", "SPOT_PRICE_CAPACITY_OPTIMIZED"} <= enum
