"""The EC2 User Guide's EFA layout rules, written as checks on a launch template's interfaces.

These are checked against templates, independently of how fleet_plan builds the layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hpc_constructs.catalog import InstanceType

EFA_KINDS = ("efa", "efa-only")


def check_layout(types: Sequence[InstanceType], interfaces: Sequence[dict[str, Any]], *, efa: bool) -> None:
    """Raise AssertionError naming the first rule the interfaces break, for every type in `types`."""
    cards = min(len(t.network_cards) for t in types)
    by_card: dict[int, list[dict[str, Any]]] = {}
    for i in interfaces:
        by_card.setdefault(i["NetworkCardIndex"], []).append(i)
    # every card carries an interface, and no interface is on a card some type lacks
    assert sorted(by_card) == list(range(cards)), f"cards with interfaces: {sorted(by_card)}, expected 0..{cards - 1}"
    primary = [i for i in by_card[0] if i["DeviceIndex"] == 0]
    assert len(primary) == 1, "exactly one primary interface (card 0, device 0)"
    assert primary[0]["InterfaceType"] != "efa-only", "the primary interface is never efa-only"
    for i in by_card[0]:
        if i is not primary[0]:
            assert i["DeviceIndex"] == 1, "further interfaces on card 0 use device index 1"
    for card_index, on_card in by_card.items():
        if card_index == 0:
            continue
        room = min(t.network_cards[card_index].maximum_network_interfaces for t in types)
        for i in on_card:  # EC2 User Guide: further cards take EFA at device 0 and ENA at device 1
            expected_device = 0 if i["InterfaceType"] in EFA_KINDS or room == 1 else 1
            assert i["DeviceIndex"] == expected_device, f"card {card_index}: {i['InterfaceType']} at {i['DeviceIndex']}"
    for t in types:
        for card_index, on_card in by_card.items():
            card = t.network_cards[card_index]
            assert len(on_card) <= card.maximum_network_interfaces, f"{t.name} card {card_index}: too many"
            for i in on_card:
                assert i["InterfaceType"] in card.interface_types, f"{t.name} card {card_index}: {i}"
        assert len(interfaces) <= t.maximum_network_interfaces, f"{t.name}: more interfaces than allowed"
    efa_count = sum(1 for i in interfaces if i["InterfaceType"] in EFA_KINDS)
    if not efa:
        assert efa_count == 0, "EFA interfaces on a fleet without EFA"
        check_no_public_ip(interfaces)
        return
    expected = min(min(len([c for c in t.network_cards[:cards] if c.supports_efa]) for t in types),
                   min(t.maximum_efa_interfaces for t in types))
    assert efa_count == expected, f"{efa_count} EFA interfaces; expected one per EFA card, at most {expected}"
    for card_index, on_card in by_card.items():
        efa_here = [i for i in on_card if i["InterfaceType"] in EFA_KINDS]
        assert len(efa_here) <= 1, f"card {card_index}: more than one EFA interface"
    check_no_public_ip(interfaces)


def check_no_public_ip(interfaces: Sequence[dict[str, Any]]) -> None:
    """No public IP; with several interfaces EC2 refuses AssociatePublicIpAddress even when false."""
    if len(interfaces) == 1:
        assert interfaces[0].get("AssociatePublicIpAddress") is False
    else:
        assert all("AssociatePublicIpAddress" not in i for i in interfaces), "AssociatePublicIpAddress with several"
