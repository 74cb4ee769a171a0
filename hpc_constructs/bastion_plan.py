"""HaBastion's rules, as pure functions: the allow-list, the block-list, the network ACL, the AZs, the instance.

Nothing here touches CDK. `plan_bastion` checks the props in the order its docstring gives and returns a
BastionPlan, from which bastion.py builds the resources. A check that fails raises ConfigError naming the
construct path, the property, the bad value and what is allowed.

The network ACL (on the VPC's public subnets, where the load balancer and the NAT gateways live) is a
block-list first: every deny rule has a lower number than every allow rule, inbound and outbound. Its
rule numbers depend only on a rule's role and its position in its list, never on the other lists, so that
editing the block-list changes entries in place. CloudFormation replaces an entry whose RuleNumber
changes (a create-only property): it would create the new entry before deleting the old one, and two
entries with one number in one direction fail.

  inbound, per IP family       numbers        outbound, per IP family     numbers
  deny each blocked IPv4       100 + i        deny each blocked IPv4      100 + i
  deny each blocked IPv6       200 + i        deny each blocked IPv6      200 + i
  allow all from the VPC       1000           allow all to 0.0.0.0/0      1000
  allow TCP/UDP 1024-65535     1010, 1020     allow all to ::/0           2000 (dual-stack)
  allow ICMP                   1030           (replies to SSH clients, the nodes' traffic
  allow TCP 22 from allowed    1100 + i        through the NAT gateways)
  IPv6 (dual-stack only):      2010-2030, 2100 + i

An entry's key (its construct id, so its logical ID) is deployed state too: renaming a key while keeping its
number makes CloudFormation create the renamed entry before deleting the old one, on the same number, and
fail. Give a renamed rule a new number as well.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from hpc_constructs.catalog import InstanceType, instance_type
from hpc_constructs.catalog.limits import BASTION, LOG_RETENTION_DAYS, NETWORK_ACL
from hpc_constructs.catalog.software import AL2023_UNSUPPORTED_FAMILIES
from hpc_constructs.errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

SSH_PORT = 22
OPEN = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))
DENY_BASE = {4: 100, 6: 200}
ALLOW_BASE = {4: 1000, 6: 2000}
SSH_ALLOW_BASE = {4: 1100, 6: 2100}
# Allow rules every IPv4 ACL has, and every dual-stack one has for IPv6, besides one SSH rule per allowed CIDR.
FIXED_INBOUND_ALLOWS = {4: 4, 6: 3}
TCP, UDP, ICMP, ICMPV6, ALL = 6, 17, 1, 58, -1

DEFAULT_SSH_LOG_RETENTION_DAYS = 365


@dataclass(frozen=True, slots=True)
class AclRule:
    """One network ACL entry. `key` is its construct id: stable while its role and position stay."""

    key: str
    egress: bool
    number: int
    action: Literal["allow", "deny"]
    cidr: str
    protocol: int  # IANA number; -1 is every protocol
    ports: tuple[int, int] | None = None  # TCP and UDP
    icmp: tuple[int, int] | None = None  # ICMP type and code (-1: every code)
    purpose: str = ""

    @property
    def ipv6(self) -> bool:
        return ":" in self.cidr


@dataclass(frozen=True, slots=True)
class BastionPlan:
    allowed: tuple[Network, ...]
    blocked: tuple[Network, ...]
    open_to_world: bool
    dual_stack: bool  # the load balancer listens on IPv6 too (an IPv6 CIDR is allowed)
    availability_zones: int
    instance_type: InstanceType
    log_retention_days: int
    acl_rules: tuple[AclRule, ...]
    acl_rule_quota: int

    def rule_count(self, *, egress: bool, ipv6: bool) -> int:
        return sum(1 for r in self.acl_rules if r.egress == egress and r.ipv6 == ipv6)

    def more_blocked_cidrs_that_fit(self, version: int) -> int:
        """How many more blocked CIDRs of this IP family the ACL takes, inbound (the tighter direction)."""
        used = sum(1 for b in self.blocked if b.version == version)
        return blocked_that_fit(self.acl_rule_quota, version, self.allowed, self.dual_stack) - used


def plan_bastion(
    path: str,
    *,
    allowed_cidrs: Sequence[str],
    blocked_cidrs: Sequence[str] = (),
    instance_type_name: str = "t3.micro",
    availability_zones: int = 2,
    usable_zones: int,
    allow_open_ssh: str | None = None,
    ssh_log_retention_days: int = DEFAULT_SSH_LOG_RETENTION_DAYS,
    vpc_cidr: str,
    key_name: str | None = None,
    acl_rule_quota: int = NETWORK_ACL.rules_per_direction,
) -> BastionPlan:
    """Check HaBastion's props and lay out its network ACL.

    Checks, in this order: the allow-list (required, CIDR syntax in canonical form, no repeats, 0.0.0.0/0 and
    ::/0 only with an allow_open_ssh reason); the block-list (CIDR syntax, canonical, no repeats, not the
    whole internet, not the VPC's own range, not covering an allowed CIDR); availability zones (at least 2,
    at most the AZs where the VPC has both a public and a private subnet, `usable_zones`); the instance type
    (known, On-Demand, a Linux architecture, one Amazon Linux 2023 runs on); the key name; the log retention;
    the ACL quota (per direction and IP family, allow rules included).

    `vpc_cidr` is the VPC's IPv4 range: a CIDR, or a token known only at deploy time (no overlap check then).
    """
    allowed = parse_cidrs(path, "allowed_cidrs", allowed_cidrs)
    if not allowed:
        raise ConfigError(path, "allowed_cidrs", list(allowed_cidrs),
                          "at least one CIDR, e.g. your site's public range 198.51.100.0/24 or one address /32",
                          hint="There is no default: the bastion is closed until you say who may reach it.")
    open_cidrs = [str(c) for c in allowed if c in OPEN]
    reason = (allow_open_ssh or "").strip()
    if open_cidrs and not reason:
        raise ConfigError(path, "allowed_cidrs", open_cidrs,
                          "specific CIDRs; 0.0.0.0/0 and ::/0 only with allow_open_ssh=\"<why>\"",
                          hint="Port 22 open to the whole internet is scanned within minutes. If it must be, say "
                               "why in allow_open_ssh: the reason goes into the cdk-nag acknowledgment.")

    blocked = parse_cidrs(path, "blocked_cidrs", blocked_cidrs)
    for cidr in blocked:
        if cidr in OPEN:
            raise ConfigError(path, "blocked_cidrs", str(cidr), "specific CIDRs to deny, not the whole internet",
                              hint="Blocking 0.0.0.0/0 or ::/0 would cut the NAT gateways' return traffic and every "
                                   "SSH session. Narrow allowed_cidrs instead.")
        if cidr in allowed:
            raise ConfigError(path, "blocked_cidrs", str(cidr), "a CIDR that is not also in allowed_cidrs",
                              hint="It is both allowed and blocked; the deny rule would win. Remove it from one list.")
        covered = [str(a) for a in allowed if a.version == cidr.version and a.subnet_of(cidr)]  # type: ignore[arg-type]
        if covered:
            raise ConfigError(path, "blocked_cidrs", str(cidr), "CIDRs that leave some of every allowed CIDR open",
                              hint=f"It covers the allowed {', '.join(covered)}: nobody from there could connect. "
                                   "Block narrower ranges, or drop the allowed CIDR.")
    vpc = _parsed(vpc_cidr)
    if vpc is not None:
        inside = [str(c) for c in blocked if c.version == vpc.version and c.overlaps(vpc)]
        if inside:
            raise ConfigError(path, "blocked_cidrs", inside, f"CIDRs outside the VPC's own range {vpc}",
                              hint="Deny rules for the VPC's addresses would cut the load balancer from the bastions "
                                   "and the private subnets from their NAT gateway.")

    minimum = BASTION.min_availability_zones
    if availability_zones < minimum:
        raise ConfigError(path, "availability_zones", availability_zones, f"at least {minimum}",
                          hint="One instance in one AZ is a single point of failure: an AZ outage would cut every "
                               "user off. The bastion runs one instance in each of at least two AZs.")
    if availability_zones > usable_zones:
        raise ConfigError(path, "availability_zones", availability_zones,
                          f"at most {usable_zones} (the AZs where the VPC has both a public subnet, for the load "
                          "balancer, and a private subnet with a route out, for the instances)",
                          hint="Add AZs to the VPC (HpcNetwork max_azs) or ask for fewer.")

    itype = _instance_type(path, instance_type_name)
    if key_name is not None and not (0 < len(key_name) <= BASTION.max_key_name_chars and key_name.isascii()
                                     and key_name == key_name.strip()):
        raise ConfigError(path, "key_name", key_name,
                          f"an EC2 key pair's name: 1-{BASTION.max_key_name_chars} ASCII characters, no leading or "
                          "trailing space; or None (no key: Session Manager, or EC2 Instance Connect)")
    if ssh_log_retention_days not in LOG_RETENTION_DAYS:
        raise ConfigError(path, "ssh_log_retention_days", ssh_log_retention_days,
                          "one of CloudWatch Logs' retention periods: " + ", ".join(map(str, LOG_RETENTION_DAYS)))
    if not NETWORK_ACL.rules_per_direction <= acl_rule_quota <= NETWORK_ACL.max_rules_per_direction:
        raise ConfigError(path, "acl_rule_quota", acl_rule_quota,
                          f"{NETWORK_ACL.rules_per_direction} (the default quota) to "
                          f"{NETWORK_ACL.max_rules_per_direction}"
                          " (the most AWS raises it to): your account's 'Rules per network ACL' quota")

    dual_stack = any(c.version == 6 for c in allowed)
    rules = acl_rules(allowed, blocked, vpc_cidr=vpc_cidr, dual_stack=dual_stack)
    _check_quota(path, rules, allowed, blocked, dual_stack, acl_rule_quota)
    return BastionPlan(
        allowed=allowed, blocked=blocked, open_to_world=bool(open_cidrs), dual_stack=dual_stack,
        availability_zones=availability_zones, instance_type=itype, log_retention_days=ssh_log_retention_days,
        acl_rules=rules, acl_rule_quota=acl_rule_quota)


def acl_rules(allowed: Sequence[Network], blocked: Sequence[Network], *, vpc_cidr: str,
              dual_stack: bool) -> tuple[AclRule, ...]:
    """The network ACL's entries, deny rules first in each direction (see the module docstring)."""
    rules: list[AclRule] = []
    for version in (4, 6):
        label = f"Ipv{version}"
        for egress in (False, True):
            direction = "Egress" if egress else "Ingress"
            for i, cidr in enumerate(c for c in blocked if c.version == version):
                rules.append(AclRule(f"{direction}Deny{label}Blocked{i}", egress, DENY_BASE[version] + i, "deny",
                                     str(cidr), ALL, purpose=f"blocked_cidrs[{cidr}]: every protocol"))
        if version == 6 and not dual_stack:
            continue
        anywhere = str(OPEN[0] if version == 4 else OPEN[1])
        base = ALLOW_BASE[version]
        ephemeral = NETWORK_ACL.ephemeral_ports
        if version == 4:
            rules.append(AclRule("IngressAllowIpv4Vpc", False, base, "allow", vpc_cidr, ALL,
                                 purpose="the VPC: private subnets through their NAT gateway, the bastions' replies "
                                         "to the load balancer, health checks"))
        rules += [
            AclRule(f"IngressAllow{label}EphemeralTcp", False, base + 10, "allow", anywhere, TCP, ports=ephemeral,
                    purpose="replies to outbound TCP (NAT gateways use ports 1024-65535)"),
            AclRule(f"IngressAllow{label}EphemeralUdp", False, base + 20, "allow", anywhere, UDP, ports=ephemeral,
                    purpose="replies to outbound UDP"),
            AclRule(f"IngressAllow{label}Icmp", False, base + 30, "allow", anywhere,
                    ICMP if version == 4 else ICMPV6, icmp=(-1, -1),
                    purpose="ICMP: path MTU discovery, replies to the nodes' ping and traceroute"),
        ]
        for i, cidr in enumerate(c for c in allowed if c.version == version):
            rules.append(AclRule(f"IngressAllow{label}Ssh{i}", False, SSH_ALLOW_BASE[version] + i, "allow", str(cidr),
                                 TCP, ports=(SSH_PORT, SSH_PORT), purpose=f"SSH from allowed_cidrs[{cidr}]"))
        rules.append(AclRule(f"EgressAllow{label}All", True, base, "allow", anywhere, ALL,
                             purpose="replies to SSH clients; the nodes' outbound traffic through the NAT gateways"))
    return tuple(rules)


def blocked_that_fit(quota: int, version: int, allowed: Sequence[Network], dual_stack: bool) -> int:
    """Blocked CIDRs of one IP family that fit beside the allow rules (inbound holds more rules than outbound)."""
    if version == 6 and not dual_stack:
        return quota
    return max(quota - FIXED_INBOUND_ALLOWS[version] - sum(1 for a in allowed if a.version == version), 0)


def _check_quota(path: str, rules: Sequence[AclRule], allowed: Sequence[Network], blocked: Sequence[Network],
                 dual_stack: bool, quota: int) -> None:
    for version in (4, 6):
        inbound = sum(1 for r in rules if not r.egress and r.ipv6 == (version == 6))
        if inbound <= quota:
            continue
        n_allowed = sum(1 for a in allowed if a.version == version)
        n_blocked = sum(1 for b in blocked if b.version == version)
        fixed = FIXED_INBOUND_ALLOWS[version] if (version == 4 or dual_stack) else 0
        fit = blocked_that_fit(quota, version, allowed, dual_stack)
        if n_allowed + fixed > quota:
            raise ConfigError(path, "allowed_cidrs", f"{n_allowed} IPv{version} CIDRs",
                              f"at most {quota - fixed} IPv{version} CIDRs: the network ACL takes {quota} inbound "
                              f"IPv{version} rules and needs {fixed} of its own",
                              hint="Merge neighbouring ranges into wider CIDRs, or raise the account's 'Rules per "
                                   "network ACL' quota (up to 40) and pass acl_rule_quota.")
        raise ConfigError(path, "blocked_cidrs", f"{n_blocked} IPv{version} CIDRs",
                          f"at most {fit} IPv{version} CIDRs: {quota} inbound rules per network ACL and IP family "
                          f"(the VPC quota), less {fixed} fixed allow rules and {n_allowed} SSH allow rule(s)",
                          hint="Merge blocked addresses into wider CIDRs, raise the account's 'Rules per network "
                               "ACL' quota (up to 40) and pass acl_rule_quota, or use AWS Network Firewall for long "
                               "block-lists.")


def parse_cidrs(path: str, prop: str, values: Sequence[str]) -> tuple[Network, ...]:
    if isinstance(values, str):
        raise ConfigError(path, prop, values, "a list of CIDRs, e.g. [\"203.0.113.0/24\"]")
    out: list[Network] = []
    for value in values:
        text = str(value).strip()
        if "/" not in text:
            raise ConfigError(path, prop, value, "CIDR notation with a prefix length, e.g. 203.0.113.7/32",
                              hint="A bare address is ambiguous; write /32 (IPv4) or /128 (IPv6) for one address.")
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise ConfigError(path, prop, value, "an IPv4 or IPv6 CIDR, e.g. 203.0.113.0/24 or 2001:db8::/32") from None
        if ipaddress.ip_interface(text).ip != network.network_address:
            raise ConfigError(path, prop, value, f"a CIDR whose address is its network's first ({network})",
                              hint=f"{value} has host bits set: {network} is the network it names, or write "
                                   f"/{network.max_prefixlen} for one address.")
        if network in out:
            raise ConfigError(path, prop, value, "each CIDR once",
                              hint="A repeated CIDR would make two identical rules, which EC2 refuses.")
        out.append(network)
    return tuple(out)


def _parsed(cidr: str) -> Network | None:
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except ValueError:  # a token: known only at deploy time
        return None


def _instance_type(path: str, name: str) -> InstanceType:
    itype = instance_type(name, path=path, prop="instance_type")
    if "on-demand" not in itype.usage_classes:
        raise ConfigError(path, "instance_type", name, "a type sold On-Demand",
                          hint=f"{name} is offered only as {', '.join(itype.usage_classes)}; the bastions run "
                               "On-Demand so that they are never reclaimed.")
    if itype.architecture not in ("x86_64", "arm64"):
        raise ConfigError(path, "instance_type", name, "an x86_64 or arm64 type (Amazon Linux 2023)",
                          hint=f"{name} is {', '.join(itype.architectures)}: Mac types run only on Dedicated Hosts.")
    if itype.family in AL2023_UNSUPPORTED_FAMILIES:
        raise ConfigError(path, "instance_type", name, "a type Amazon Linux 2023 runs on",
                          hint=f"Amazon Linux 2023 does not support {itype.family}; t4g.micro is the small arm64 "
                               "choice.")
    return itype
