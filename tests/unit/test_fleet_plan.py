"""fleet_plan: the fleet's rules as pure functions, tested without synth."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpc_constructs import ConfigError, catalog
from hpc_constructs.fleet_plan import MAX_INSTANCE_TYPES, efa_layout, plan_fleet
from tests.fleet_invariants import check_layout

P = "Env/Fleet"
EFA_TYPES = [t for t in catalog.instance_types() if t.efa_supported]


def _as_dicts(plan_interfaces):  # type: ignore[no-untyped-def]
    out = [{"NetworkCardIndex": i.network_card_index, "DeviceIndex": i.device_index,
            "InterfaceType": i.interface_type} for i in plan_interfaces]
    if len(out) == 1:
        out[0]["AssociatePublicIpAddress"] = False
    return out


def _kinds(name: str) -> list[tuple[int, int, str]]:
    plan = plan_fleet(P, [name])
    return [(i.network_card_index, i.device_index, i.interface_type) for i in plan.interfaces]


def test_p5_gets_32_efa_interfaces_and_an_ena_primary() -> None:
    kinds = _kinds("p5.48xlarge")
    assert kinds[0] == (0, 0, "interface")
    assert kinds[1] == (0, 1, "efa-only")
    assert kinds[2:] == [(card, 0, "efa-only") for card in range(1, 32)]
    assert plan_fleet(P, ["p5.48xlarge"]).efa_interface_count == 32


@pytest.mark.parametrize(("name", "efa_count"), [("p5en.48xlarge", 16), ("p4d.24xlarge", 4), ("c5n.18xlarge", 1)])
def test_one_efa_interface_per_efa_card(name: str, efa_count: int) -> None:
    assert plan_fleet(P, [name]).efa_interface_count == efa_count


def test_p6_b300_card_zero_is_ena_only_and_cards_1_to_16_get_efa() -> None:
    kinds = _kinds("p6-b300.48xlarge")
    assert [k for k in kinds if k[0] == 0] == [(0, 0, "interface")]
    assert kinds[1:] == [(card, 0, "efa-only") for card in range(1, 17)]


def test_i7ie_gets_one_efa_interface_and_ena_on_the_second_card() -> None:
    assert _kinds("i7ie.48xlarge") == [(0, 0, "interface"), (0, 1, "efa-only"), (1, 1, "interface")]
    plan = plan_fleet(P, ["i7ie.48xlarge"])
    assert plan.network_bandwidth_gbps == 200  # 2 cards x 100 Gbps, both carrying an interface


def test_efa_off_puts_an_ena_interface_on_every_card() -> None:
    kinds = _kinds_no_efa("p5.48xlarge")
    assert kinds == [(0, 0, "interface")] + [(card, 1, "interface") for card in range(1, 32)]


def _kinds_no_efa(name: str) -> list[tuple[int, int, str]]:
    plan = plan_fleet(P, [name], efa=False)
    return [(i.network_card_index, i.device_index, i.interface_type) for i in plan.interfaces]


def test_primary_is_efa_when_card_zero_has_room_for_one_interface() -> None:
    p5 = catalog.instance_type("p5.48xlarge")
    import dataclasses
    cramped = dataclasses.replace(p5, network_cards=(dataclasses.replace(p5.network_cards[0],
                                                                         maximum_network_interfaces=1),
                                                     *p5.network_cards[1:]))
    layout = efa_layout([cramped], efa=True)
    assert (layout[0].network_card_index, layout[0].device_index, layout[0].interface_type) == (0, 0, "efa")
    assert sum(1 for i in layout if i.is_efa) == 32


def test_mixed_types_are_laid_out_for_the_type_with_fewest_cards() -> None:
    plan = plan_fleet(P, ["p5.48xlarge", "p4d.24xlarge"])
    assert plan.layout_type.name == "p4d.24xlarge"
    assert {i.network_card_index for i in plan.interfaces} == {0, 1, 2, 3}
    assert plan.efa_interface_count == 4


@pytest.mark.parametrize("t", EFA_TYPES, ids=lambda t: t.name)
def test_every_efa_type_layout_follows_the_user_guide(t: catalog.InstanceType) -> None:
    # a custom image: the layout does not depend on it, and GPU types without a default image need one
    plan = plan_fleet(P, [t.name], custom_image=True, root_device_name="/dev/xvda")
    assert plan.efa
    # vt1.24xlarge is the one EFA type whose catalog entry lacks the cluster strategy (partition, spread only)
    assert plan.placement_group == t.supports_cluster_placement
    check_layout([t], _as_dicts(plan.interfaces), efa=True)
    assert plan.network_bandwidth_gbps == sum(card.baseline_bandwidth_gbps for card in t.network_cards)


def test_efa_requested_on_a_type_without_efa_names_alternatives() -> None:
    with pytest.raises(ConfigError) as err:
        plan_fleet(P, ["t3.micro"], efa=True)
    text = str(err.value)
    assert text.startswith("Env/Fleet: efa=True") and "t3.micro has no EFA support" in text
    assert "EFA-capable types in this family: none" in text and "nearest:" in text


def test_efa_defaults_off_when_one_type_lacks_it() -> None:
    plan = plan_fleet(P, ["c6in.32xlarge", "c6i.16xlarge"])
    assert not plan.efa and plan.efa_interface_count == 0


def test_cluster_placement_on_a_type_without_the_strategy_is_refused() -> None:
    with pytest.raises(ConfigError, match="placement_group=True"):
        plan_fleet(P, ["t3.micro"], placement_group=True)
    assert not plan_fleet(P, ["t3.micro"]).placement_group


def test_efa_fleet_in_two_subnets_is_refused() -> None:
    with pytest.raises(ConfigError, match="exactly one subnet for an EFA fleet"):
        plan_fleet(P, ["c6in.32xlarge"], subnet_count=2)


def test_cluster_placement_group_in_two_subnets_is_refused() -> None:
    with pytest.raises(ConfigError, match="exactly one subnet with a cluster placement group"):
        plan_fleet(P, ["c6i.large"], placement_group=True, subnet_count=2)
    assert not plan_fleet(P, ["c6i.large"], subnet_count=2).placement_group


def test_mixed_architectures_are_refused() -> None:
    with pytest.raises(ConfigError, match="arm64: c7g.16xlarge; x86_64: c6i.16xlarge"):
        plan_fleet(P, ["c6i.16xlarge", "c7g.16xlarge"])


def test_graviton_fleet_uses_arm64() -> None:
    assert plan_fleet(P, ["hpc7g.16xlarge"]).architecture == "arm64"


def test_legacy_type_without_ena_is_refused_with_an_explanation() -> None:
    with pytest.raises(ConfigError) as err:
        plan_fleet(P, ["m4.large"])
    assert "Intel 82599" in str(err.value) and "Elastic Network Adapter" in str(err.value)


def test_unknown_type_is_refused() -> None:
    with pytest.raises(ConfigError, match="c6in.32xlarg"):
        plan_fleet(P, ["c6in.32xlarg"])


def test_string_instead_of_a_list_is_refused() -> None:
    with pytest.raises(ConfigError, match="a sequence of instance type names"):
        plan_fleet(P, "c6in.32xlarge")


def test_duplicate_and_too_many_types_are_refused() -> None:
    with pytest.raises(ConfigError, match="Listed more than once: c6i.large"):
        plan_fleet(P, ["c6i.large", "c6i.large"])
    many = [t.name for t in catalog.instance_types() if t.architecture == "x86_64" and t.ena_capable]
    with pytest.raises(ConfigError, match="1 to 40"):
        plan_fleet(P, many[:MAX_INSTANCE_TYPES + 1])
    assert len(plan_fleet(P, many[:MAX_INSTANCE_TYPES], efa=False, placement_group=False).instance_types) == 40


def test_spot_on_a_type_without_spot_is_refused() -> None:
    with pytest.raises(ConfigError, match="No Spot capacity for: hpc7a.96xlarge"):
        plan_fleet(P, ["hpc7a.96xlarge"], spot=True)


@pytest.mark.parametrize(("kwargs", "prop"), [
    ({"min_capacity": -1}, "min_capacity"),
    ({"max_capacity": -1}, "max_capacity"),
    ({"min_capacity": 3, "max_capacity": 2}, "min_capacity"),
    ({"min_capacity": 1, "max_capacity": 3, "desired_capacity": 0}, "desired_capacity"),
    ({"min_capacity": 1, "max_capacity": 3, "desired_capacity": 4}, "desired_capacity"),
])
def test_capacity_out_of_order_is_refused(kwargs: dict[str, int], prop: str) -> None:
    with pytest.raises(ConfigError, match=f"{prop}="):
        plan_fleet(P, ["c6i.large"], **kwargs)


def test_max_capacity_zero_parks_the_fleet() -> None:
    assert plan_fleet(P, ["c6i.large"], max_capacity=0).max_capacity == 0


def test_capacity_boundaries_are_accepted() -> None:
    plan = plan_fleet(P, ["c6i.large"], min_capacity=3, max_capacity=3, desired_capacity=3)
    assert (plan.min_capacity, plan.desired_capacity, plan.max_capacity) == (3, 3, 3)


NAMES = [t.name for t in catalog.instance_types()]


@settings(max_examples=300, deadline=None)
@given(
    names=st.lists(st.sampled_from(NAMES), min_size=1, max_size=3),
    efa=st.sampled_from([None, True, False]),
    placement_group=st.sampled_from([None, True, False]),
    spot=st.booleans(),
    min_capacity=st.integers(-1, 4),
    max_capacity=st.integers(0, 5),
    subnet_count=st.integers(1, 3),
)
def test_any_input_gives_a_valid_plan_or_config_error(names: list[str], efa: bool | None,
                                                      placement_group: bool | None, spot: bool,
                                                      min_capacity: int, max_capacity: int,
                                                      subnet_count: int) -> None:
    try:
        plan = plan_fleet(P, names, efa=efa, placement_group=placement_group, spot=spot,
                          min_capacity=min_capacity, max_capacity=max_capacity, subnet_count=subnet_count)
    except ConfigError as err:
        assert str(err).startswith(f"{P}: ")
        return
    check_layout(plan.instance_types, _as_dicts(plan.interfaces), efa=plan.efa)
    assert not (plan.efa and subnet_count != 1)
    assert 0 <= plan.min_capacity <= plan.max_capacity


def test_mac_instances_are_refused() -> None:
    with pytest.raises(ConfigError, match="Dedicated Hosts"):
        plan_fleet(P, ["mac2.metal"])


def test_ena_on_a_card_with_room_for_one_interface_goes_at_device_0() -> None:
    hpc6id = catalog.instance_type("hpc6id.32xlarge")
    assert [c.maximum_network_interfaces for c in hpc6id.network_cards] == [1, 1]
    assert _kinds_no_efa("hpc6id.32xlarge") == [(0, 0, "interface"), (1, 0, "interface")]


def test_root_volume_size_boundaries() -> None:
    for gib in (8, 9, 16_383, 16_384):
        assert plan_fleet(P, ["c6i.large"], root_volume_size_gib=gib)
    for gib in (7, 16_385):
        with pytest.raises(ConfigError, match=f"root_volume_size_gib={gib} is not allowed. Allowed: 8 to 16,384 GiB"):
            plan_fleet(P, ["c6i.large"], root_volume_size_gib=gib)


_HEX = "0123456789ABCDEFabcdef"


@given(major=st.integers(1, 3), minor=st.integers(0, 99), patch=st.integers(0, 20),
       fingerprint=st.text(_HEX, min_size=40, max_size=40))
@settings(max_examples=60, deadline=None)
def test_well_formed_efa_pins_are_accepted(major: int, minor: int, patch: int, fingerprint: str) -> None:
    version = f"{major}.{minor}.{patch}"
    if (major, minor, patch) < (1, 25, 0):
        with pytest.raises(ConfigError, match="efa_installer_version"):
            plan_fleet(P, ["c6in.32xlarge"], efa_installer_version=version)
        return
    spaced = " ".join(fingerprint[i:i + 4] for i in range(0, 40, 4))
    plan = plan_fleet(P, ["c6in.32xlarge"], efa_installer_version=version, efa_installer_key_fingerprint=spaced)
    assert plan.efa_software == "install"
    assert (plan.efa_installer.version, plan.efa_installer.key_fingerprint) == (version, fingerprint.upper())


@given(version=st.text(min_size=0, max_size=12).filter(lambda v: not all(c.isdigit() or c == "." for c in v) or not v),
       fingerprint=st.text(min_size=0, max_size=48).filter(
           lambda f: len(f.replace(" ", "")) != 40 or any(c not in _HEX + " " for c in f)))
@settings(max_examples=60, deadline=None)
def test_malformed_efa_pins_are_refused(version: str, fingerprint: str) -> None:
    with pytest.raises(ConfigError, match="efa_installer_version"):
        plan_fleet(P, ["c6in.32xlarge"], efa_installer_version=version)
    with pytest.raises(ConfigError, match="efa_installer_key_fingerprint"):
        plan_fleet(P, ["c6in.32xlarge"], efa_installer_key_fingerprint=fingerprint)


@given(name=st.sampled_from(["/dev/xvda", "/dev/sda1", "/dev/sda", "/dev/nvme0n1", "/dev/xvdb"])
       | st.text(max_size=16).filter(lambda t: not t.startswith("/dev/")))
@settings(max_examples=80, deadline=None)
def test_root_device_name_of_a_custom_image(name: str) -> None:
    valid = name in ("/dev/xvda", "/dev/sda1", "/dev/sda", "/dev/nvme0n1", "/dev/xvdb")
    if valid:
        assert plan_fleet(P, ["c7i.large"], custom_image=True, root_device_name=name).image.root_device_name == name
    else:
        with pytest.raises(ConfigError, match="root_device_name"):
            plan_fleet(P, ["c7i.large"], custom_image=True, root_device_name=name)
