"""mounting.unique_id is CDK's Names.unique_id in Python: the storage's logical IDs depend on it being exact."""

from __future__ import annotations

import pytest
from aws_cdk import Names
from constructs import Construct, RootConstruct
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hpc_constructs.mounting import unique_id

# Construct ids as CDK allows them (no "/"), with the cases the algorithm treats specially.
IDS = st.one_of(
    st.sampled_from(["Default", "Resource", "Storage", "StorageLustre", "Lustre", "a-b.c", "x" * 300]),
    st.text(alphabet=st.characters(blacklist_characters="/", blacklist_categories=("Cs",)), min_size=1, max_size=30),
)


def _both(components: list[str]) -> tuple[str, str]:
    """Ours from the path's ids (as KeepLogicalIds reads them) and CDK's, for a detached tree with those ids."""
    leaf: Construct = RootConstruct("")
    for component in components:
        leaf = Construct(leaf, component)
    return unique_id(leaf.node.path.split("/")), Names.unique_id(leaf)


@settings(max_examples=150, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(IDS, min_size=1, max_size=6).filter(lambda ids: any(i != "Default" for i in ids)))
def test_unique_id_is_cdks(components: list[str]) -> None:
    ours, cdks = _both(components)
    assert ours == cdks


@pytest.mark.parametrize("components", [
    ["HpcStorage", "Storage", "Lustre", "Resource"],
    ["HpcStorage", "Storage", "Default"],
    ["Stack", "StorageLustre", "Lustre"],  # "StorageLustre" ends with "Lustre": the human part drops the repeat
    ["x" * 300],                           # one component longer than 255 characters gets a hash
])
def test_unique_id_special_cases(components: list[str]) -> None:
    ours, cdks = _both(components)
    assert ours == cdks


def test_unique_id_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one component"):
        unique_id(["Default"])
