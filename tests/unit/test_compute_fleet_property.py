"""Hypothesis: any combination of types and options synthesizes cleanly under cfn-lint, or is a ConfigError."""

from __future__ import annotations

from aws_cdk.assertions import Template
from hypothesis import strategies as st

from hpc_constructs import ComputeFleet, ConfigError, HpcNetwork, catalog
from tests.cfn_lint import findings
from tests.fleet_invariants import check_layout
from tests.support import hypothesis_outcomes, new_stack

NAMES = [t.name for t in catalog.instance_types()]
EFA_X86 = [t.name for t in catalog.instance_types() if t.efa_supported and t.architecture == "x86_64"]
CURRENT_X86 = [t.name for t in catalog.instance_types() if t.ena_capable and t.architecture == "x86_64"]

# Mostly inputs that should synthesize (one architecture, ENA), with some of anything for the refusals.
TYPE_LISTS = (st.lists(st.sampled_from(EFA_X86), min_size=1, max_size=2, unique=True)
              | st.lists(st.sampled_from(CURRENT_X86), min_size=1, max_size=3, unique=True)
              | st.lists(st.sampled_from(NAMES), min_size=1, max_size=3))


def _fleet_synthesizes_cleanly_or_raises_config_error(names: list[str], efa: bool | None,
                                                      placement_group: bool | None, spot: bool,
                                                      max_capacity: int) -> bool:
    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    try:
        fleet = ComputeFleet(stack, "Fleet", vpc=network.vpc, subnet=network.cluster_subnet, instance_types=names,
                             efa=efa, placement_group=placement_group, spot=spot, max_capacity=max_capacity)
    except ConfigError as err:
        assert str(err).startswith("Test/Fleet: ")
        return False
    template = Template.from_stack(stack).to_json()
    assert findings(template) == []
    (lt,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::EC2::LaunchTemplate"]
    check_layout(fleet.instance_types, lt["Properties"]["LaunchTemplateData"]["NetworkInterfaces"], efa=fleet.plan.efa)
    return True


def test_fleet_synthesizes_cleanly_or_raises_config_error() -> None:
    """Random fleets: each synthesizes cleanly with a valid layout or is a ConfigError, and both happen often.

    12 examples in `make test`; `make fuzz` (benchmarks/fuzz.py) runs 1,000 random fleets with cdk-nag too."""
    accepted, examples = hypothesis_outcomes(
        _fleet_synthesizes_cleanly_or_raises_config_error, max_examples=12,
        names=TYPE_LISTS, efa=st.sampled_from([None, True, False]),
        placement_group=st.sampled_from([None, True, False]), spot=st.booleans(), max_capacity=st.integers(0, 4))
    assert examples >= 12
    assert accepted >= examples // 3, f"only {accepted} of {examples} random fleets synthesized"
    assert examples - accepted >= 1, f"only {examples - accepted} of {examples} were refused"
