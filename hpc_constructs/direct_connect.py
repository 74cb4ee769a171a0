"""Direct Connect specs and their rules, as pure functions (no CDK).

Limits live in catalog.limits.DIRECT_CONNECT, with their source.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

from hpc_constructs.catalog.limits import DIRECT_CONNECT
from hpc_constructs.errors import ConfigError

CONNECTION_ID = re.compile(r"^dx(con|lag)-[a-z0-9]{8}$")


@dataclass(frozen=True, slots=True)
class DirectConnectSpec:
    """A private line from the data centre into the VPC.

    amazon_side_asn: the Direct Connect gateway's BGP ASN: 64,512-65,534 or 4,200,000,000-4,294,967,294.
    connection_id: None. A dedicated or hosted connection ("dxcon-..." or a LAG, "dxlag-..."), ordered
                   outside CloudFormation. With vlan and customer_asn, it gets a private virtual interface.
    vlan: None. The 802.1Q VLAN of the private virtual interface, 1-4094.
    customer_asn: None. Your router's BGP ASN, 1-2,147,483,646 (public or private), not the Amazon side's: a
                  virtual interface made by CloudFormation takes no larger one (asnLong is not in its schema).
    allowed_prefixes: (). The prefixes the gateway association advertises on premises; () lets AWS
                      advertise the VPC's CIDR. When given, one must contain the VPC's CIDR.
    port_speed_gbps: None. The connection's speed, for the figures (dedicated 1, 10, 100, 400; hosted
                     0.05-25).
    """

    amazon_side_asn: int
    connection_id: str | None = None
    vlan: int | None = None
    customer_asn: int | None = None
    allowed_prefixes: tuple[str, ...] = ()
    port_speed_gbps: float | None = None

    @property
    def has_virtual_interface(self) -> bool:
        return self.connection_id is not None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_direct_connect(path: str, spec: DirectConnectSpec, *, vpc_cidr: str | None = None) -> str:
    """Validate a DirectConnectSpec (pure). Returns the line in words, for the figures.

    vpc_cidr: the VPC's IPv4 CIDR when known (not a token): allowed prefixes must cover it.
    """
    if not isinstance(spec, DirectConnectSpec):
        raise ConfigError(path, "direct_connect", spec, "a DirectConnectSpec(amazon_side_asn=...)")
    ranges = DIRECT_CONNECT.amazon_side_asn_ranges
    asn = spec.amazon_side_asn
    if not _is_int(asn) or not any(low <= asn <= high for low, high in ranges):
        raise ConfigError(path, "direct_connect.amazon_side_asn", asn,
                          " or ".join(f"{low:,}-{high:,}" for low, high in ranges) + " (private ASNs)")
    given = {"connection_id": spec.connection_id, "vlan": spec.vlan, "customer_asn": spec.customer_asn}
    if any(v is not None for v in given.values()):
        missing = [k for k, v in given.items() if v is None]
        if missing:
            raise ConfigError(path, f"direct_connect.{missing[0]}", None,
                              "connection_id, vlan and customer_asn together (a private virtual interface needs all "
                              f"three; {', '.join(missing)} missing)")
        _check_virtual_interface(path, spec)
    prefixes = _check_prefixes(path, spec.allowed_prefixes, vpc_cidr)
    speed = spec.port_speed_gbps
    speeds = sorted(set(DIRECT_CONNECT.dedicated_port_speeds_gbps) | set(DIRECT_CONNECT.hosted_port_speeds_gbps))
    if speed is not None and (isinstance(speed, bool) or not isinstance(speed, int | float) or speed not in speeds):
        raise ConfigError(path, "direct_connect.port_speed_gbps", speed,
                          "a Direct Connect speed in Gbps: dedicated "
                          + ", ".join(f"{s:g}" for s in DIRECT_CONNECT.dedicated_port_speeds_gbps) + "; hosted "
                          + ", ".join(f"{s:g}" for s in DIRECT_CONNECT.hosted_port_speeds_gbps))
    line = f"{speed:g} Gbps port" if speed is not None else "port speed not given"
    if spec.connection_id is not None:
        line += f" {spec.connection_id}, VLAN {spec.vlan}, customer ASN {spec.customer_asn}"
    else:
        line += ", no virtual interface yet (give connection_id, vlan and customer_asn)"
    advertised = ", ".join(prefixes) if prefixes else "the VPC's CIDR"
    return f"{line} -> Direct Connect gateway (ASN {asn}) -> virtual private gateway; advertises {advertised}"


def _check_virtual_interface(path: str, spec: DirectConnectSpec) -> None:
    if not isinstance(spec.connection_id, str) or not CONNECTION_ID.match(spec.connection_id):
        raise ConfigError(path, "direct_connect.connection_id", spec.connection_id,
                          "a connection ID, dxcon-xxxxxxxx, or a LAG ID, dxlag-xxxxxxxx")
    low, high = DIRECT_CONNECT.vlan_range
    if not _is_int(spec.vlan) or not low <= spec.vlan <= high:  # type: ignore[operator]
        raise ConfigError(path, "direct_connect.vlan", spec.vlan, f"an 802.1Q VLAN ID, {low}-{high:,}")
    low, high = DIRECT_CONNECT.customer_asn_range
    customer = spec.customer_asn
    if not _is_int(customer) or not low <= customer <= high:  # type: ignore[operator]
        raise ConfigError(path, "direct_connect.customer_asn", customer, f"a BGP ASN, {low}-{high:,}")
    if customer > DIRECT_CONNECT.cloudformation_max_customer_asn:  # type: ignore[operator]
        raise ConfigError(path, "direct_connect.customer_asn", customer,
                          f"a BGP ASN of 1-{DIRECT_CONNECT.cloudformation_max_customer_asn:,} for a virtual interface "
                          "made by CloudFormation",
                          hint="AWS::DirectConnect::PrivateVirtualInterface takes one Asn, and the API's asn field "
                               "stops at 2,147,483,646 (larger 4-byte ASNs need asnLong, which CloudFormation does "
                               "not offer). Create the virtual interface outside CloudFormation (aws directconnect "
                               "create-private-virtual-interface ... asnLong=...), or peer with a smaller ASN.")
    if customer == spec.amazon_side_asn:
        raise ConfigError(path, "direct_connect.customer_asn", customer,
                          f"an ASN other than the Amazon side's ({spec.amazon_side_asn}): the virtual interface "
                          "peers over external BGP")


def _check_prefixes(path: str, prefixes: Sequence[str], vpc_cidr: str | None) -> list[str]:
    prop = "direct_connect.allowed_prefixes"
    if isinstance(prefixes, str):
        raise ConfigError(path, prop, prefixes, "a sequence of CIDRs, e.g. ('10.0.0.0/16',)")
    if len(prefixes) > DIRECT_CONNECT.max_allowed_prefixes:
        raise ConfigError(path, prop, f"{len(prefixes)} prefixes",
                          f"at most {DIRECT_CONNECT.max_allowed_prefixes} (Direct Connect quotas)")
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for i, prefix in enumerate(prefixes):
        try:
            network = ipaddress.ip_network(prefix, strict=True) if isinstance(prefix, str) and "/" in prefix else None
        except ValueError:
            network = None
        if network is None:
            raise ConfigError(path, f"{prop}[{i}]", prefix,
                              "a CIDR block with no host bits set, IPv4 (10.0.0.0/16) or IPv6 (2001:db8::/56)")
        if network.version == 6 and network.prefixlen > DIRECT_CONNECT.min_ipv6_prefix_length:
            raise ConfigError(path, f"{prop}[{i}]", prefix,
                              f"an IPv6 CIDR of /{DIRECT_CONNECT.min_ipv6_prefix_length} or shorter")
        if network in networks:
            raise ConfigError(path, f"{prop}[{i}]", prefix, "each prefix once")
        networks.append(network)
    if networks and vpc_cidr is not None:
        vpc = ipaddress.ip_network(vpc_cidr)
        if not any(n.version == vpc.version and vpc.subnet_of(n) for n in networks):  # type: ignore[arg-type]
            raise ConfigError(path, prop, tuple(prefixes),
                              f"prefixes of which one is {vpc} or wider: a virtual private gateway advertises the "
                              "whole VPC CIDR, and the allowed prefixes must be 'the same or wider than the VPC CIDR'")
    return [str(n) for n in networks]
