"""The EC2 User Guide's rules for network interfaces, as checks on a launch template's interfaces.

Written from the guide, not from fleet_plan.py, and sharing no code with it: the facts about each
type come straight from the DescribeInstanceTypes records in the catalog's JSON file (not from the
catalog's InstanceType class), and nothing here computes a layout. Sources (EC2 User Guide):
  - "Elastic Fabric Adapter for AI/ML and HPC workloads on Amazon EC2", "Maximize network bandwidth
    on Amazon EC2 instances with multiple network cards": the primary network interface (network card
    0, device index 0) must be an ENA or EFA interface, never EFA-only; on card 0 a further interface
    uses device index 1; on every further card, one interface at device index 0.
  - "EFA interfaces per instance" (MaximumEfaInterfaces, DescribeInstanceTypes): at most that many
    interfaces of type efa or efa-only.
  - "Network cards": each card takes at most its MaximumNetworkInterfaces, and only the interface
    types it lists (NetworkCardInfo.InterfaceTypes / EfaInfo).
hpc-constructs' own requirements on top: every card carries an interface (the full bandwidth), EFA
on every EFA-capable card up to MaximumEfaInterfaces, and no public IP.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

CATALOG_JSON = Path(__file__).resolve().parent.parent / "hpc_constructs" / "catalog" / "instance_types.json"


@cache
def _records() -> dict[str, dict[str, Any]]:
    raw = json.loads(CATALOG_JSON.read_text())
    return {name: dict(zip(raw["fields"], values, strict=True)) for name, values in raw["types"].items()}


def describe(name: str) -> dict[str, Any]:
    """The DescribeInstanceTypes facts for one type: cards as {index: (interface types, max interfaces)}."""
    record = _records()[name]
    return {
        "cards": {card[0]: (set(card[1]), card[4]) for card in record["network_cards"]},
        "max_efa": record["maximum_efa_interfaces"] if record["efa_supported"] else 0,
        "max_interfaces": record["maximum_network_interfaces"],
    }


def check_layout(types: Iterable[Any], interfaces: Sequence[dict[str, Any]], *, efa: bool) -> None:
    """Raise AssertionError naming the rule that `interfaces` (one launch template) break for any of `types`.

    `types` are instance-type names or objects with a `name`.
    """
    names = [t if isinstance(t, str) else t.name for t in types]
    placed = [(i["NetworkCardIndex"], i["DeviceIndex"], i["InterfaceType"]) for i in interfaces]
    slots = [(card, device) for card, device, _ in placed]
    assert len(set(slots)) == len(slots), f"two interfaces share a slot: {placed}"

    # The primary: card 0, device 0, never efa-only.
    primary = [kind for card, device, kind in placed if (card, device) == (0, 0)]
    assert primary, "no primary interface at network card 0, device index 0"
    assert primary[0] != "efa-only", "the primary interface (card 0, device 0) is efa-only"
    # Card 0's second interface at device index 1; no third.
    assert sorted(device for card, device, _ in placed if card == 0) in ([0], [0, 1]), \
        f"card 0 carries devices {sorted(d for c, d, _ in placed if c == 0)}; the guide allows 0, then 1"
    # At most one interface at device index 0 of each card.
    for card in {c for c, _, _ in placed}:
        at_zero = [kind for c, device, kind in placed if c == card and device == 0]
        assert len(at_zero) <= 1, f"card {card}: {len(at_zero)} interfaces at device index 0"

    efa_count = sum(1 for _, _, kind in placed if kind in ("efa", "efa-only"))
    if not efa:
        assert efa_count == 0, f"{efa_count} EFA interfaces on a fleet without EFA"
    facts = {name: describe(name) for name in names}
    # One launch template serves every type: only the cards that every type has can carry interfaces,
    # and each of them does.
    common = set.intersection(*(set(f["cards"]) for f in facts.values()))
    assert {c for c, _, _ in placed} == common, \
        f"interfaces on cards {sorted({c for c, _, _ in placed})}; the types share cards {sorted(common)}"
    for name, f in facts.items():
        for card in common:
            kinds, most = f["cards"][card]
            here = [kind for c, _, kind in placed if c == card]
            assert len(here) <= most, f"{name}: card {card} takes {most} interfaces, got {len(here)}"
            for kind in here:
                assert kind in kinds, f"{name}: card {card} takes {sorted(kinds)}, not {kind}"
        assert len(placed) <= f["max_interfaces"], f"{name}: {len(placed)} interfaces, at most {f['max_interfaces']}"
        assert efa_count <= f["max_efa"], f"{name}: {efa_count} EFA interfaces, MaximumEfaInterfaces is {f['max_efa']}"
    if efa:
        efa_cards = [c for c in common if all(f["cards"][c][0] & {"efa", "efa-only"} for f in facts.values())]
        wanted = min([len(efa_cards)] + [f["max_efa"] for f in facts.values()])
        assert efa_count >= wanted, (f"{efa_count} EFA interfaces; {len(efa_cards)} shared cards take EFA and the "
                                     f"smallest MaximumEfaInterfaces is {min(f['max_efa'] for f in facts.values())}, "
                                     f"so {wanted}")
        on_efa_cards = {c for c, _, kind in placed if kind in ("efa", "efa-only")}
        assert len(on_efa_cards) == efa_count, "two EFA interfaces on one card while another EFA card has none"
    check_no_public_ip(interfaces)


def check_no_public_ip(interfaces: Sequence[dict[str, Any]]) -> None:
    """No public IP; with several interfaces EC2 refuses AssociatePublicIpAddress even when false."""
    if len(interfaces) == 1:
        assert interfaces[0].get("AssociatePublicIpAddress") is False
    else:
        assert all("AssociatePublicIpAddress" not in i for i in interfaces), "AssociatePublicIpAddress with several"
