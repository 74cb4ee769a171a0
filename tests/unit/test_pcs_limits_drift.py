"""Drift: the AWS PCS figures in catalog.limits.PCS match the pinned botocore pcs model (shapes and documentation).

Each test reads one shape's 'min', 'max', 'pattern' or 'enum', or the sentence AWS documents, from the service
model shipped with the pinned boto3, and compares it with one catalog figure, so that a boto3 bump that moves a
limit names the figure that moved.
"""

from __future__ import annotations

import re

import pytest

from hpc_constructs.catalog.limits import PCS, PCS_PORTS
from hpc_constructs.catalog.software import version_tuple
from tests.unit.test_transfer_limits_drift import _doc, _member_shape, _shape

# (shape, structure.member that uses it, the catalog's min and max)
_NAMES = [
    ("ClusterName", ("CreateClusterRequest", "clusterName"), PCS.min_cluster_name_chars, PCS.max_cluster_name_chars),
    ("ComputeNodeGroupName", ("CreateComputeNodeGroupRequest", "computeNodeGroupName"), PCS.min_name_chars,
     PCS.max_name_chars),
    ("QueueName", ("CreateQueueRequest", "queueName"), PCS.min_name_chars, PCS.max_name_chars),
]

# Strings on both sides of the name pattern: a letter first, then letters, digits and hyphens; no pcs_ prefix.
_NAME_PROBES = ["abc", "ABC", "a-b", "a--", "a1-", "Z9", "pcs-abc", "Pcs1", "pcsabc", "1abc", "-abc", "a_b", "pcs_abc",
                "a.b", "a b", "ab/", "é-ab", "a", "", "ab\u00e9"]


@pytest.mark.parametrize(("shape", "member", "low", "high"), _NAMES, ids=[row[0] for row in _NAMES])
def test_name_lengths_match_botocore(shape: str, member: tuple[str, str], low: int, high: int) -> None:
    model = _shape("pcs", shape)
    assert (model["min"], model["max"]) == (low, high)
    assert _member_shape("pcs", *member) is model  # the request member still uses this shape


@pytest.mark.parametrize("shape", [row[0] for row in _NAMES])
def test_name_pattern_means_what_the_catalogs_means(shape: str) -> None:
    """AWS validates a pattern against the whole value; the catalog anchors its own. Same verdict on every probe."""
    model = _shape("pcs", shape)["pattern"]
    assert model == "(?!pcs_)^[A-Za-z][A-Za-z0-9-]+", f"botocore's {shape} pattern changed: {model}"
    for probe in _NAME_PROBES:
        assert bool(re.fullmatch(model, probe)) == bool(re.fullmatch(PCS.name_pattern, probe)), probe
    # normalized: the lookahead moved after the anchor, and the end anchored
    assert PCS.name_pattern == "^" + model.replace("^", "") + "$"


def test_slurm_versions_match_the_documented_valid_values() -> None:
    # SchedulerRequest.version: "Valid Values: 24.11 | 25.05 | 25.11 | 26.05"
    doc = _doc("pcs", "SchedulerRequest", "version")
    match = re.search(r"Valid Values: ([\d. |]+)", doc)
    assert match, f"botocore's SchedulerRequest.version text changed: {doc}"
    documented = tuple(v.strip() for v in match.group(1).split("|") if v.strip())
    assert documented == PCS.slurm_versions
    assert list(PCS.slurm_versions) == sorted(PCS.slurm_versions, key=version_tuple)  # oldest first: [-1] is newest
    assert _shape("pcs", "SchedulerType")["enum"] == ["SLURM"]


def test_sizes_match_the_enum_and_the_documented_node_and_job_counts() -> None:
    assert _member_shape("pcs", "CreateClusterRequest", "size")["enum"] == list(PCS.size_max_nodes)
    # "SMALL: 32 compute nodes and 256 jobs ... LARGE: 2048 compute nodes and 16,384 jobs" (_doc drops commas and
    # puts a space where a tag was)
    doc = _doc("pcs", "CreateClusterRequest", "size")
    found = {size: (int(nodes), int(jobs))
             for size, nodes, jobs in re.findall(r"\b([A-Z]+) ?: (\d+) compute nodes and (\d+) jobs", doc)}
    assert found == {size: (PCS.size_max_nodes[size], PCS.size_max_jobs[size]) for size in PCS.size_max_nodes}, doc
    assert list(PCS.size_max_nodes) == sorted(PCS.size_max_nodes, key=PCS.size_max_nodes.__getitem__)


def test_purchase_options_are_in_the_enum() -> None:
    enum = _member_shape("pcs", "CreateComputeNodeGroupRequest", "purchaseOption")["enum"]
    assert set(PCS.purchase_options) <= set(enum)
    # the ones the library leaves out need a reservation in the launch template
    assert set(enum) - set(PCS.purchase_options) == {"CAPACITY_BLOCK", "INTERRUPTIBLE_CAPACITY_RESERVATION"}


def test_spot_allocation_strategy_is_in_the_enum_and_the_documented_default() -> None:
    assert PCS.spot_allocation_strategy in _member_shape("pcs", "SpotOptions", "allocationStrategy")["enum"]
    doc = _doc("pcs", "SpotOptions", "allocationStrategy")
    match = re.search(r"defaults to (\w+(?: \w+)*) ?\.", doc)
    assert match and match.group(1).replace(" ", "-") == PCS.spot_allocation_strategy, doc


def test_scale_down_idle_time_range_and_default() -> None:
    shape = _member_shape("pcs", "ClusterSlurmConfigurationRequest", "scaleDownIdleTimeInSeconds")
    assert (shape["min"], shape["max"]) == PCS.scale_down_idle_seconds_range
    match = re.search(r"Default: (\d+)", _doc("pcs", "ClusterSlurmConfigurationRequest", "scaleDownIdleTimeInSeconds"))
    assert match and int(match.group(1)) == PCS.default_scale_down_idle_seconds


def test_accounting_purge_days_range_and_zero() -> None:
    shape = _shape("pcs", "AccountingRequestDefaultPurgeTimeInDaysInteger")
    assert (shape["min"], shape["max"]) == PCS.accounting_purge_days_range
    assert _member_shape("pcs", "AccountingRequest", "defaultPurgeTimeInDays") is shape
    doc = _doc("pcs", "AccountingRequest", "defaultPurgeTimeInDays")
    assert "0 isn't a valid value" in doc and "-1 means there is no purge time" in doc
    assert "STANDARD" in _shape("pcs", "AccountingMode")["enum"]
    assert "STANDARD" in _shape("pcs", "SlurmRestMode")["enum"]


_AMI_PROBES = ["ami-0123456789abcdef0", "ami-12345678", "ami-a", "ami-", "AMI-12345678", "ami-ABCDEF12", "ami-12_34",
               "xami-1234", "ami-1234 ", "ami_1234"]


def test_ami_id_pattern_means_what_the_catalogs_means() -> None:
    model = _shape("pcs", "AmiId")["pattern"]
    assert model == "ami-[a-z0-9]+", f"botocore's AmiId pattern changed: {model}"
    for probe in _AMI_PROBES:
        assert bool(re.fullmatch(model, probe)) == bool(re.fullmatch(PCS.ami_id_pattern, probe)), probe
    assert _member_shape("pcs", "CreateComputeNodeGroupRequest", "amiId")["pattern"] == model


def test_endpoint_types_are_the_daemons_the_security_groups_open() -> None:
    enum = _shape("pcs", "EndpointType")["enum"]
    assert {"SLURMCTLD", "SLURMDBD", "SLURMRESTD"} <= set(enum)
    assert {e.lower() for e in enum} <= set(PCS_PORTS)  # every endpoint has its port


def test_node_role_rule_is_the_documented_one() -> None:
    # "the role name must start with AWSPCS or must have the path /aws-pcs/"
    doc = _doc("pcs", "CreateComputeNodeGroupRequest", "iamInstanceProfileArn")
    assert f"must start with {PCS.instance_role_name_prefix} or must have the path {PCS.instance_role_path}" in doc
    assert "pcs:RegisterComputeNodeGroupInstance" in doc


def test_scaling_counts_start_at_zero() -> None:
    """plan_slurm takes min_instances and max_instances from 0 (static groups of 0 park a group)."""
    for member in ("minInstanceCount", "maxInstanceCount"):
        assert _member_shape("pcs", "ScalingConfigurationRequest", member)["min"] == 0
