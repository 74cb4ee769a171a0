"""Traffic as boxes (protocol x ports x addresses), and what security-group rules and network ACL entries leave of it.

A query such as "all traffic" or "TCP 988 and 1018-1023" is a list of boxes, one per protocol and port range. A
security group's rules are allow rules: a query is open when the rules that match the peer cover every box. A
network ACL is ordered: its entries are read by rule number, the first entry that matches a packet decides, and
what no entry matches is denied (the `*` rule); so each entry takes the part of the remaining boxes it matches,
and a deny entry that takes any part closes the path (Amazon VPC User Guide, "Control subnet traffic with network
access control lists").
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

PROTOCOLS = ("tcp", "udp", "icmp", "other")
ALL_PORTS = (0, 65535)
# Return traffic goes to the client's source port. Linux clients (the nodes, the bastions) take it from
# 32768-60999; a NAT gateway and an internet client may use 1024-65535 (Amazon VPC User Guide, "Ephemeral
# ports"): a network ACL must allow those ranges back.
LINUX_EPHEMERAL = (32768, 60999)
ANY_EPHEMERAL = (1024, 65535)
IPV4_ANY = ipaddress.ip_network("0.0.0.0/0")


@dataclass(frozen=True)
class Box:
    """One protocol and port range (icmp and other protocols have no ports: 0-0)."""

    protocol: str
    low: int = 0
    high: int = 0

    def describe(self) -> str:
        if self.protocol in ("tcp", "udp"):
            ports = str(self.low) if self.low == self.high else f"{self.low}-{self.high}"
            return f"{self.protocol.upper()} {ports}"
        return self.protocol.upper() if self.protocol == "icmp" else "other protocols"


def query(protocol: str, ports: Sequence[tuple[int, int]] | None = None) -> list[Box]:
    """The boxes of a declared path: protocol "all", or "tcp"/"udp" with port ranges (all ports when none)."""
    if protocol == "all":
        return [Box("tcp", *ALL_PORTS), Box("udp", *ALL_PORTS), Box("icmp"), Box("other")]
    if protocol in ("tcp", "udp"):
        return [Box(protocol, low, high) for low, high in (ports or [ALL_PORTS])]
    if protocol == "icmp":
        return [Box("icmp")]
    return [Box("other")]


def returning(boxes: Iterable[Box], ephemeral: tuple[int, int]) -> list[Box]:
    """The return traffic of `boxes`: TCP and UDP back to the client's ephemeral ports."""
    out: list[Box] = []
    for box in boxes:
        if box.protocol in ("tcp", "udp"):
            out.append(Box(box.protocol, *ephemeral))
        else:
            out.append(box)
    return list(dict.fromkeys(out))


def describe(boxes: Sequence[Box]) -> str:
    if {b.protocol for b in boxes} == set(PROTOCOLS) and all(
            (b.low, b.high) == ALL_PORTS for b in boxes if b.protocol in ("tcp", "udp")):
        return "all traffic"
    return ", ".join(b.describe() for b in boxes)


def protocol_name(value: object) -> str:
    """A rule's protocol as one of all/tcp/udp/icmp/icmpv6/other (CloudFormation takes names or numbers)."""
    text = str(value).lower()
    return {"-1": "all", "all": "all", "tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "icmp": "icmp",
            "1": "icmp", "icmpv6": "icmpv6", "58": "icmpv6"}.get(text, "other")


def subtract(box: Box, protocol: str, low: int, high: int, *, whole_icmp: bool = True) -> list[Box]:
    """What of `box` a rule for (protocol, low-high) leaves uncovered."""
    if protocol == "all":
        return []
    if protocol != box.protocol:
        return [box]
    if box.protocol in ("tcp", "udp"):
        if high < box.low or low > box.high:
            return [box]
        left = [Box(box.protocol, box.low, low - 1)] if low > box.low else []
        right = [Box(box.protocol, high + 1, box.high)] if high < box.high else []
        return left + right
    if box.protocol == "icmp":
        return [] if whole_icmp else [box]
    return [box]  # a rule for one "other" protocol number does not cover every other protocol


def ports_of(protocol: str, from_port: object, to_port: object) -> tuple[int, int]:
    """A rule's port range: -1 or absent means every port."""
    if protocol not in ("tcp", "udp"):
        return ALL_PORTS
    try:
        low, high = int(str(from_port)), int(str(to_port))
    except ValueError:
        return ALL_PORTS
    if low == -1 or high == -1:
        return ALL_PORTS
    return low, high


def network(text: object) -> Network | None:
    try:
        return ipaddress.ip_network(str(text), strict=False)
    except ValueError:
        return None


def contains(outer: Network, inner: Network) -> bool:
    return outer.version == inner.version and inner.subnet_of(outer)  # type: ignore[arg-type]


# -- network ACLs --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AclEntry:
    number: int
    egress: bool
    allow: bool
    protocol: str
    low: int
    high: int
    cidr: Network
    origin: str  # how a report names it

    def describe(self) -> str:
        what = Box(self.protocol, self.low, self.high).describe() if self.protocol != "all" else "all traffic"
        return f"rule {self.number} ({'allow' if self.allow else 'deny'} {what} {'to' if self.egress else 'from'} " \
               f"{self.cidr})"


@dataclass(frozen=True)
class _Cell:
    box: Box
    cidr: Network


def acl_verdict(entries: Sequence[AclEntry], *, egress: bool, boxes: Sequence[Box], peer: Network,
                acl: str, carved: list[str] | None = None) -> str | None:
    """None when the ACL lets every box to/from `peer` through; else why not (the entry that denies, or none).

    `carved`: `peer` is a range of outside addresses (allow-listed clients, a service's public addresses) rather
    than a subnet whose every address matters: a deny entry for part of it is a block-list doing its job, so that
    part is left out (and named in `carved`) instead of closing the path; a deny of all of it still closes it.
    """
    remaining = [_Cell(b, peer) for b in boxes]
    for entry in sorted((e for e in entries if e.egress == egress and e.cidr.version == peer.version),
                        key=lambda e: e.number):
        kept: list[_Cell] = []
        for cell in remaining:
            taken = _intersection(entry, cell)
            if taken is None:
                kept.append(cell)
                continue
            if not entry.allow:
                if carved is not None and taken.cidr != peer:
                    carved.append(f"{taken.cidr} ({entry.describe()})")
                    kept.extend(_difference(cell, taken))
                    continue
                return (f"network ACL {acl}: {entry.describe()} comes first and denies "
                        f"{taken.box.describe()} {'to' if egress else 'from'} {taken.cidr}")
            kept.extend(_difference(cell, taken))
        remaining = kept
        if not remaining:
            return None
    cell = remaining[0]
    return (f"network ACL {acl}: no rule allows {cell.box.describe()} {'to' if egress else 'from'} {cell.cidr} "
            "(the final * rule denies it)")


def _intersection(entry: AclEntry, cell: _Cell) -> _Cell | None:
    if entry.protocol != "all" and entry.protocol != cell.box.protocol:
        return None
    if contains(entry.cidr, cell.cidr):
        cidr = cell.cidr
    elif contains(cell.cidr, entry.cidr):
        cidr = entry.cidr
    else:
        return None
    box = cell.box
    if box.protocol in ("tcp", "udp") and entry.protocol != "all":
        low, high = max(box.low, entry.low), min(box.high, entry.high)
        if low > high:
            return None
        box = Box(box.protocol, low, high)
    return _Cell(box, cidr)


def _difference(cell: _Cell, taken: _Cell) -> list[_Cell]:
    """What of `cell` is left once `taken` (a part of it: fewer addresses, fewer ports) is decided."""
    out = [_Cell(cell.box, part) for part in _exclude(cell.cidr, taken.cidr)]
    if cell.box.protocol in ("tcp", "udp"):  # ICMP and other protocols have no ports: taken whole
        out += [_Cell(piece, taken.cidr) for piece in subtract(cell.box, "tcp" if cell.box.protocol == "tcp"
                                                                  else "udp", taken.box.low, taken.box.high)]
    return out


def _exclude(outer: Network, inner: Network) -> list[Network]:
    if outer == inner:
        return []
    return list(outer.address_exclude(inner))  # type: ignore[arg-type]
