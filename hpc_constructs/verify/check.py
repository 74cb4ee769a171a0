"""Every declared path of an assembly, checked: open ("ok") or not ("blocked"), with the reason.

The declarations are the "hpc:paths" metadata that constructs put on their resources (hpc_constructs.paths
documents the format). With an AZ lost, every check is repeated without that AZ's subnets, and so without the
NAT gateways, interface-endpoint interfaces, mount targets, load-balancer nodes and instances in it. A path whose
source (or destination) lives only in the lost AZ has nothing left to check: it is reported ok, with the reason
"not applicable" (a single-AZ fleet or file system is lost with its AZ by design). What breaks is what survives
but can no longer reach what it needs: a bastion in the other AZ whose only NAT gateway was in the lost one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hpc_constructs.verify.assembly import Assembly
from hpc_constructs.verify.errors import AssemblyError
from hpc_constructs.verify.iam import IamModel
from hpc_constructs.verify.network import (
    NetworkModel,
    Placement,
    SgRule,
    covered,
    rule_matches_cidr,
)
from hpc_constructs.verify.traffic import (
    ANY_EPHEMERAL,
    IPV4_ANY,
    LINUX_EPHEMERAL,
    Box,
    Network,
    acl_verdict,
    describe,
    network,
    query,
    returning,
)

METADATA_KEY = "hpc:paths"
GATEWAY_SERVICES = ("s3", "dynamodb")


@dataclass(frozen=True)
class Result:
    path: str
    status: str  # "ok" or "blocked"
    reason: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def as_json(self) -> dict[str, str]:
        return {"path": self.path, "status": self.status, "reason": self.reason}


class _BlockedError(Exception):
    """A path's check stops at the first thing that closes it."""


class _NotApplicableError(Exception):
    """What a path joins is gone with the lost AZ."""


def declarations(assembly: Assembly) -> list[dict[str, Any]]:
    """Every declaration in the assembly's templates, evaluated (tokens resolved), once each, in template order."""
    found: dict[str, dict[str, Any]] = {}
    for ref in assembly.resources():
        declared = ref.resource.get("Metadata", {}).get(METADATA_KEY)
        if not declared:
            continue
        for item in assembly.value(ref.stack, declared):
            if not isinstance(item, dict) or "path" not in item or "kind" not in item:
                raise AssemblyError(f"{ref.path}: an {METADATA_KEY} entry without path and kind")
            found.setdefault(json.dumps(item, sort_keys=True), item)
    return list(found.values())


class Checker:
    """Checks an assembly's declared paths; build once, run for each AZ lost."""

    def __init__(self, assembly: Assembly) -> None:
        self.assembly = assembly
        self.net = NetworkModel(assembly)
        self.iam = IamModel(assembly)
        self.declared = declarations(assembly)
        self._lost: str | None = None
        self._carved: set[str] = set()
        self._acl_verdicts: dict[tuple[Any, ...], tuple[str | None, tuple[str, ...]]] = {}

    # -- entry points -----------------------------------------------------------------------------------------

    def azs(self) -> list[str]:
        return self.net.azs()

    def resolve_az(self, given: str) -> str:
        """An AZ from --lose-az: an index (0 is the first AZ; `az0` in an environment-agnostic app) or a name."""
        azs = self.azs()
        if given in azs:
            return given
        if given.isdigit():
            index = int(given)
            if f"az{index}" in azs:
                return f"az{index}"
            if index < len(azs):
                return sorted(azs)[index]
        raise AssemblyError(f"--lose-az {given}: the assembly's subnets are in {', '.join(azs) or 'no AZ'} "
                            f"(give an index 0-{max(len(azs) - 1, 0)} or one of these names)")

    def run(self, lost_az: str | None = None) -> list[Result]:
        self._lost = lost_az
        results = []
        for declaration in self.declared:
            path = str(declaration["path"])
            self._carved = set()
            try:
                reason = self._check(declaration)
                if self._carved and declaration.get("kind") in ("load_balancer", "chain"):
                    reason += f"; except what a network ACL denies: {', '.join(sorted(self._carved))}"
                results.append(Result(path, "ok", reason))
            except _NotApplicableError as gone:
                results.append(Result(path, "ok", f"not applicable: {gone}"))
            except _BlockedError as blocked:
                results.append(Result(path, "blocked", str(blocked)))
        return results

    def _check(self, declaration: dict[str, Any]) -> str:
        kind = declaration.get("kind")
        if kind == "network":
            return self._network(declaration)
        if kind == "service":
            return self._services(declaration)
        if kind == "load_balancer":
            return self._load_balancer(declaration)
        if kind == "chain":
            return self._chain(declaration)
        if kind == "iam":
            return self._iam(declaration)
        if kind == "route":
            return self._route(declaration)
        if kind == "exclusive":
            return self._exclusive(declaration)
        if kind == "imds":
            return self._imds(declaration)
        raise _BlockedError(f"hpc-verify does not know the kind {kind!r} (a newer library declared it?)")

    # -- endpoints --------------------------------------------------------------------------------------------

    def _placements(self, endpoint: dict[str, Any]) -> list[Placement]:
        """The endpoint's interfaces that survive; _BlockedError when it has none at all, _NotApplicableError when
        all are in the lost AZ."""
        name = endpoint.get("name", "?")
        if "nodes" in endpoint or "resource" in endpoint:
            found, problem = self.net.placements_of(endpoint.get("nodes", endpoint.get("resource")))
        elif "groups" in endpoint:
            found = self.net.carriers(map(str, endpoint["groups"]))
            problem = f"no network interface carries {self.net.groups_text(map(str, endpoint['groups']))}"
        elif "batch_jobs" in endpoint:
            found, problem = self.net.batch_job_placements(endpoint["batch_jobs"])
        elif "subnets" in endpoint:
            found = [Placement(self.net.subnets[s], ()) for s in map(str, endpoint["subnets"])
                     if s in self.net.subnets]
            problem = "its subnets are not in the assembly"
        else:
            raise _BlockedError(f"{name}: an endpoint hpc-verify does not know ({sorted(endpoint)})")
        if not found:
            raise _BlockedError(f"{name}: {problem}")
        alive = [p for p in found if p.subnet.az != self._lost]
        if not alive:
            raise _NotApplicableError(f"{name} is only in {self._lost}, the lost AZ")
        return _unique(alive)

    def _is_efs(self, endpoint: dict[str, Any]) -> bool:
        owner = self.assembly.owner(endpoint.get("resource"))
        return owner is not None and owner.type == "AWS::EFS::FileSystem"

    # -- network paths ----------------------------------------------------------------------------------------

    def _network(self, hop: dict[str, Any]) -> str:
        source, destination = hop["from"], hop["to"]
        boxes = query(str(hop.get("protocol", "tcp")), [tuple(p) for p in hop.get("ports", [])])
        senders = self._placements(source)
        receivers = self._placements(destination)
        efs = self._is_efs(destination)
        checked = 0
        for a in senders:
            targets = [b for b in receivers if b.subnet.az == a.subnet.az] if efs else receivers
            if efs and not targets:
                raise _BlockedError(f"{destination['name']} has no mount target in {a.subnet.az}, where "
                                    f"{a.owner} runs (EFS clients mount the target in their own AZ)")
            for b in targets:
                self._segment(a, b, boxes)
                if hop.get("both_directions"):
                    self._segment(b, a, boxes)
                if hop.get("efa"):
                    self._efa(a, b)
                checked += 1
        return f"open ({checked} pair{'s' if checked != 1 else ''} of interfaces checked)"

    def _segment(self, a: Placement, b: Placement, boxes: list[Box], *, what: str = "") -> None:
        """Traffic from a to b: security groups both sides, network ACLs both subnets and the return traffic."""
        if a.subnet.vpc != b.subnet.vpc:
            raise _BlockedError(f"{a.owner} and {b.owner} are in different VPCs (peering and transit gateways are not "
                                "modelled)")
        outbound = [r for g in a.groups for r in self._rules(g, egress=True)
                    if self._matches(r, b.groups, b.subnet.cidr)]
        missing = covered(outbound, boxes)
        if missing:
            raise _BlockedError(f"no outbound rule of {self.net.groups_text(a.groups)} on {a.owner} allows "
                                f"{describe(missing)} to {b.owner} ({self.net.groups_text(b.groups)}, {b.subnet.cidr})"
                                f"{what}{self._why(a)}{self._notes(a.groups)}")
        inbound = [r for g in b.groups for r in self._rules(g, egress=False)
                   if self._matches(r, a.groups, a.subnet.cidr)]
        missing = covered(inbound, boxes)
        if missing:
            raise _BlockedError(f"no inbound rule of {self.net.groups_text(b.groups)} on {b.owner} allows "
                                f"{describe(missing)} from {a.owner} ({self.net.groups_text(a.groups)}, "
                                f"{a.subnet.cidr}){what}{self._why(b)}{self._notes(b.groups)}")
        if a.subnet.id != b.subnet.id:
            back = returning(boxes, LINUX_EPHEMERAL)
            self._acl(a, egress=True, boxes=boxes, peer=b.subnet.cidr)
            self._acl(a, egress=False, boxes=back, peer=b.subnet.cidr)
            self._acl(b, egress=False, boxes=boxes, peer=a.subnet.cidr)
            self._acl(b, egress=True, boxes=back, peer=a.subnet.cidr)

    def _efa(self, a: Placement, b: Placement) -> None:
        """EFA interfaces: all traffic to and from each other's groups by group reference, both ways (EC2 User
        Guide, "Get started with EFA": a security group "that allows all inbound and outbound traffic to and from
        the security group itself"). OS-bypass traffic is not IP, so CIDR rules and 0.0.0.0/0 do not carry it."""
        for sender, receiver in ((a, b), (b, a)):
            for groups in sender.efa_groups:
                for peer in receiver.efa_groups or (receiver.groups,):
                    rules = [r for g in groups for r in self._rules(g, egress=True)
                             if r.peer_kind == "group" and r.peer in peer]
                    if covered(rules, query("all")):
                        raise _BlockedError(
                            f"the EFA interfaces of {sender.owner} ({self.net.groups_text(groups)}) have no outbound "
                            f"rule for all traffic to {self.net.groups_text(peer)} by group reference (EFA's "
                            "OS-bypass traffic is not IP: 0.0.0.0/0 does not carry it)")
                    rules = [r for g in peer for r in self._rules(g, egress=False)
                             if r.peer_kind == "group" and r.peer in groups]
                    if covered(rules, query("all")):
                        raise _BlockedError(
                            f"the EFA interfaces of {receiver.owner} ({self.net.groups_text(peer)}) have no inbound "
                            f"rule for all traffic from {self.net.groups_text(groups)} by group reference")

    def _rules(self, group_id: str, *, egress: bool) -> list[SgRule]:
        group = self.net.groups.get(group_id)
        return [r for r in group.rules if r.egress == egress] if group is not None else []

    def _matches(self, rule: SgRule, groups: Iterable[str], cidr: Network) -> bool:
        if rule.peer_kind == "group":
            return rule.peer in set(groups)
        if rule.peer_kind == "cidr":
            return rule_matches_cidr(rule, cidr)
        listed = self.net.prefix_list_cidrs(rule.peer)
        return listed is not None and any(cidr.subnet_of(n) for n in listed if n.version == cidr.version)  # type: ignore[arg-type]

    def _groups(self, placement: Placement) -> str:
        return self.net.groups_text(placement.groups)

    @staticmethod
    def _why(placement: Placement) -> str:
        """How a service chose the placement's groups, when it did."""
        return f"; {placement.owner} get {placement.note}" if placement.note else ""

    def _notes(self, groups: Iterable[str]) -> str:
        notes = [n for g in groups if g in self.net.groups for n in self.net.groups[g].notes]
        return f"; {'; '.join(notes)}" if notes else ""

    def _acl(self, placement: Placement, *, egress: bool, boxes: list[Box], peer: Network,
             outside: bool = False) -> None:
        """The subnet's network ACL lets `boxes` out to (in from) `peer`. `outside`: `peer` is a range of addresses
        outside the VPC, of which a block-list may carve out a part (traffic_acl_verdict)."""
        found = self.net.acl_entries(placement.subnet)
        if found is None:
            return
        name, entries = found
        key = (placement.subnet.acl, egress, tuple(boxes), peer, outside)
        if key not in self._acl_verdicts:  # the same ACL, traffic and peer recur in many paths (a NAT subnet's)
            carved: list[str] | None = [] if outside else None
            self._acl_verdicts[key] = (acl_verdict(entries, egress=egress, boxes=boxes, peer=peer, acl=name,
                                                   carved=carved), tuple(carved or ()))
        problem, carved_parts = self._acl_verdicts[key]
        self._carved.update(carved_parts)
        if problem is not None:
            raise _BlockedError(f"{problem} (on {placement.subnet.name}, {'out' if egress else 'in'}bound, for "
                                f"{placement.owner})")

    # -- services ---------------------------------------------------------------------------------------------

    def _services(self, declaration: dict[str, Any]) -> str:
        senders = self._placements(declaration["from"])
        port = int(declaration.get("port", 443))
        ways: list[str] = []
        for service in map(str, declaration["services"]):
            for a in senders:
                ways.append(self._service(a, service, port))
        return "open: " + "; ".join(dict.fromkeys(ways))

    def _service(self, a: Placement, service: str, port: int) -> str:
        net = self.net
        boxes = [Box("tcp", port, port)]
        where = f"{a.subnet.name} ({a.subnet.az})"
        if service != "internet":
            for endpoint in net.interface_endpoints:
                if endpoint.service != service or endpoint.vpc != a.subnet.vpc or not endpoint.private_dns:
                    continue
                alive = [s for s in endpoint.subnets if s.az != self._lost]
                if not alive:
                    raise _BlockedError(f"{where} resolves {service} to interface endpoint {endpoint.name}, whose "
                                        f"interfaces are all in {self._lost}, the lost AZ")
                subnet = next((s for s in alive if s.az == a.subnet.az), alive[0])
                self._segment(a, Placement(subnet, endpoint.groups, owner=f"interface endpoint {endpoint.name}"),
                              boxes)
                return f"{service} through interface endpoint {endpoint.name}"
            gateway = net.gateway_endpoint(a.subnet, service)
            if gateway is not None:
                self._to_public(a, boxes, service, allow_prefix_list=True)
                return f"{service} through gateway endpoint {gateway.origin}"
        route = net.default_route(a.subnet)
        if route is None:
            endpoints = "" if service == "internet" else (
                f"no interface endpoint for {service} with private DNS, "
                + ("no gateway endpoint in its route table, " if service in GATEWAY_SERVICES else ""))
            raise _BlockedError(f"{where} has no way to {service}: {endpoints}and no default route (0.0.0.0/0)")
        if route.kind == "nat":
            nat = net.nat(route.target)
            if nat is None:
                raise _BlockedError(f"{where}: its default route goes to NAT gateway {route.target}, which is not in "
                                    "the assembly")
            nat_subnet, nat_name, public = nat
            if nat_subnet.az == self._lost:
                missing = f"; no interface endpoint for {service}" if service != "internet" else ""
                what = service if service != "internet" else "the internet"
                raise _BlockedError(f"{where} reaches {what} only through NAT gateway {nat_name} in {self._lost}, the "
                                    f"lost AZ ({route.origin}{missing})")
            if not public:
                raise _BlockedError(f"{where}: NAT gateway {nat_name} is private (no internet)")
            if net.internet_gateway_of(nat_subnet) is None:
                raise _BlockedError(f"NAT gateway {nat_name}'s subnet {nat_subnet.name} has no route to an internet "
                                    "gateway attached to the VPC")
            self._to_public(a, boxes, service, allow_prefix_list=False)
            nat_placement = Placement(nat_subnet, (), owner=f"NAT gateway {nat_name}")
            self._acl(nat_placement, egress=False, boxes=boxes, peer=a.subnet.cidr)
            self._acl(nat_placement, egress=True, boxes=boxes, peer=IPV4_ANY, outside=True)
            self._acl(nat_placement, egress=False, boxes=returning(boxes, ANY_EPHEMERAL), peer=IPV4_ANY,
                      outside=True)
            self._acl(nat_placement, egress=True, boxes=returning(boxes, LINUX_EPHEMERAL), peer=a.subnet.cidr)
            return f"{service} through NAT gateway {nat_name} ({nat_subnet.az})"
        if route.kind == "igw":
            if not a.public_ip:
                raise _BlockedError(f"{where}: the default route goes to an internet gateway, but {a.owner} has no "
                                    "public IP address")
            if net.internet_gateway_of(a.subnet) is None:
                raise _BlockedError(f"{where}: internet gateway {route.target} is not attached to the VPC")
            self._to_public(a, boxes, service, allow_prefix_list=False)
            return f"{service} through internet gateway ({a.subnet.name})"
        raise _BlockedError(f"{where}: its default route ({route.origin}) goes to a {route.kind} target, which does "
                            f"not reach {service}")

    def _to_public(self, a: Placement, boxes: list[Box], service: str, *, allow_prefix_list: bool) -> None:
        """Security groups and the subnet's ACL for traffic to a service's public addresses (any address:
        0.0.0.0/0; a gateway endpoint's traffic may also match a prefix-list rule)."""
        rules = [r for g in a.groups for r in self._rules(g, egress=True)
                 if rule_matches_cidr(r, IPV4_ANY) or (allow_prefix_list and r.peer_kind == "prefix_list"
                                                       and self.net.prefix_list_cidrs(r.peer) is None)]
        missing = covered(rules, boxes)
        if missing:
            allowed = "0.0.0.0/0" + (" or the service's prefix list" if allow_prefix_list else "")
            raise _BlockedError(f"no outbound rule of {self._groups(a)} on {a.owner} allows {describe(missing)} to "
                                f"{service} ({allowed}){self._why(a)}{self._notes(a.groups)}")
        self._acl(a, egress=True, boxes=boxes, peer=IPV4_ANY, outside=True)
        self._acl(a, egress=False, boxes=returning(boxes, LINUX_EPHEMERAL), peer=IPV4_ANY, outside=True)

    # -- load balancers ---------------------------------------------------------------------------------------

    def _load_balancer(self, hop: dict[str, Any]) -> str:
        net = self.net
        client = network(hop["from"].get("cidr"))
        if client is None:
            raise _BlockedError(f"{hop['from'].get('name')}: not a CIDR")
        balancer = net.load_balancers.get(str(hop["load_balancer"]))
        if balancer is None:
            raise _BlockedError(f"load balancer {hop['load_balancer']} is not in the assembly")
        port = int(hop["port"])
        boxes = [Box("tcp", port, port)]
        if not balancer.internet_facing and not client.is_private:
            raise _BlockedError(f"{balancer.name} is internal: {client} on the internet cannot reach it")
        nodes = [s for s in balancer.subnets if s.az != self._lost]
        if not nodes:
            raise _BlockedError(f"{balancer.name} has no subnet left outside {self._lost}")
        if balancer.groups:
            rules = [r for g in balancer.groups for r in self._rules(g, egress=False) if rule_matches_cidr(r, client)]
            missing = covered(rules, boxes)
            if missing:
                raise _BlockedError(f"no inbound rule of {net.groups_text(balancer.groups)} on {balancer.name} allows "
                                    f"{describe(missing)} from {client}")
        for subnet in nodes:
            if balancer.internet_facing and net.internet_gateway_of(subnet) is None:
                raise _BlockedError(f"{balancer.name}'s subnet {subnet.name} has no route to an internet gateway")
            place = Placement(subnet, balancer.groups, owner=f"load balancer {balancer.name}")
            self._acl(place, egress=False, boxes=boxes, peer=client, outside=True)
            self._acl(place, egress=True, boxes=returning(boxes, ANY_EPHEMERAL), peer=client, outside=True)
        target_groups = [net.target_groups[arn] for arn in balancer.listeners.get(port, []) if arn in net.target_groups]
        if not target_groups:
            raise _BlockedError(f"{balancer.name} has no listener on TCP {port} that forwards to a target group")
        wanted = self.assembly.owner(hop["to"].get("nodes"))
        chosen = [t for t in target_groups if wanted in t.launchers]
        if not chosen:
            forwarded = ", ".join(t.name for t in target_groups)
            raise _BlockedError(f"{balancer.name}'s listener on {port} forwards to {forwarded}, which does not hold "
                                f"{hop['to'].get('name')}")
        target_group = chosen[0]
        targets = self._placements(hop["to"])
        target_azs = {t.subnet.az for t in targets}
        if not balancer.cross_zone:
            empty = [s for s in nodes if s.az not in target_azs]
            if empty:
                raise _BlockedError(f"{balancer.name}'s node in {empty[0].az} has no target in its AZ and cross-zone "
                                    "load balancing is off")
        preserve = target_group.preserve_client_ip and client.version == 4
        for target in targets:
            for subnet in nodes if balancer.cross_zone else [s for s in nodes if s.az == target.subnet.az]:
                self._balanced(balancer.name, balancer.groups, subnet, target, target_group.port, client, preserve)
                self._balanced(balancer.name, balancer.groups, subnet, target, target_group.health_check_port,
                               None, False, what=" (health checks)")
        source = "client IP preserved" if preserve else "from the load balancer's addresses"
        return f"open: {client} to {balancer.name} on TCP {port}, forwarded to {target_group.name} ({source})"

    def _balanced(self, name: str, groups: tuple[str, ...], subnet: Any, target: Placement, port: int,
                  client: Network | None, preserve: bool, *, what: str = "") -> None:
        """One load-balancer node to one target: the load balancer's egress, the target's ingress, both ACLs.

        Elastic Load Balancing, Network Load Balancers guide, "Update the security groups for your Network Load
        Balancer": a target rule that references the load balancer's security group admits its traffic "even if
        you enable client IP preservation"; without one, the target must admit the client's address (client IP
        preserved) or the load balancer's (not preserved). Health checks always come from the load balancer's
        own addresses.
        """
        boxes = [Box("tcp", port, port)]
        source_cidr = client if preserve and client is not None else subnet.cidr
        if groups:
            rules = [r for g in groups for r in self._rules(g, egress=True)
                     if self._matches(r, target.groups, target.subnet.cidr)]
            missing = covered(rules, boxes)
            if missing:
                raise _BlockedError(f"no outbound rule of {self.net.groups_text(groups)} on {name} allows "
                                    f"{describe(missing)} to {target.owner} ({self._groups(target)}){what}")
        rules = [r for g in target.groups for r in self._rules(g, egress=False)
                 if (groups and r.peer_kind == "group" and r.peer in groups) or rule_matches_cidr(r, source_cidr)]
        missing = covered(rules, boxes)
        if missing:
            admitted = "the load balancer's security group" if groups else ""
            admitted += (" or " if admitted else "") + (f"the client {source_cidr} (client IP preserved)" if preserve
                                                         else f"the load balancer's subnet {source_cidr}")
            raise _BlockedError(f"no inbound rule of {self._groups(target)} on {target.owner} allows "
                                f"{describe(missing)} "
                                f"from {admitted}{what}")
        front = Placement(subnet, groups, owner=f"load balancer {name}")
        self._acl(front, egress=True, boxes=boxes, peer=target.subnet.cidr)
        self._acl(front, egress=False, boxes=returning(boxes, ANY_EPHEMERAL), peer=target.subnet.cidr)
        self._acl(target, egress=False, boxes=boxes, peer=source_cidr, outside=preserve)
        self._acl(target, egress=True, boxes=returning(boxes, ANY_EPHEMERAL), peer=source_cidr, outside=preserve)

    # -- chains, IAM, routes ----------------------------------------------------------------------------------

    def _chain(self, declaration: dict[str, Any]) -> str:
        reasons = []
        for number, hop in enumerate(declaration["hops"], start=1):
            try:
                reasons.append(self._check(hop))
            except _BlockedError as blocked:
                ends = f"{hop.get('from', {}).get('name', '?')} to {hop.get('to', {}).get('name', '?')}"
                raise _BlockedError(f"hop {number} ({ends}): {blocked}") from None
        return f"open ({len(reasons)} hops)"

    def _iam(self, declaration: dict[str, Any]) -> str:
        spec = declaration["principal"]
        account = next(iter(self.assembly.stacks)).account
        principal = self.iam.principal(spec, account)
        if isinstance(principal, str):
            raise _BlockedError(principal)
        context = _context(declaration.get("context"))
        if declaration.get("assumed_by") and principal.kind == "role":
            trusted = self.iam.trusts(principal.value, str(declaration["assumed_by"]), context)
            if not trusted.allowed:
                raise _BlockedError(trusted.reason)
        notes: list[str] = []
        denied = declaration.get("expect") == "denied"
        for item in declaration["resources"]:
            arn = str(item["arn"]) if isinstance(item, dict) else str(item)
            extra = _context(item.get("context")) if isinstance(item, dict) else {}
            for action in map(str, declaration["actions"]):
                outcome = self.iam.allows(principal, action, arn, {**context, **extra})
                if denied and outcome.allowed:
                    raise _BlockedError(f"open, but must not be: {principal.describe(self.assembly)} may {action} on "
                                        f"{arn}{self._granted_by(principal, action, arn)}")
                if not denied and not outcome.allowed:
                    raise _BlockedError(outcome.reason)
                notes += outcome.unevaluated
        if denied:
            return "denied, as declared"
        return "allowed" + (f" (not evaluated: {'; '.join(dict.fromkeys(notes))})" if notes else "")

    def _granted_by(self, principal: Any, action: str, arn: str) -> str:
        statements = self.iam.granting(principal, action, arn)
        return f" ({'; '.join(statements)} allows it)" if statements else ""

    def _exclusive(self, declaration: dict[str, Any]) -> str:
        """Only the declared principals may do the actions: another role of the account whose identity policy
        allows everything ("account_roles"), or the declared service acting for another account's resource
        ("foreign_sources"), must be refused, which only the resource's policy can do."""
        account = next(iter(self.assembly.stacks)).account
        others: list[tuple[Any, dict[str, str], str]] = []
        against = declaration.get("against", ["account_roles"])
        if "account_roles" in against:
            others.append((self.iam.any_other_role(account), {}, "another role of the account whose identity "
                                                                  "policy allows it"))
        if "foreign_sources" in against:
            for spec in declaration["principals"]:
                if "service" in spec:
                    foreign = {"aws:SourceAccount": "999999999999",
                               "aws:SourceArn": "arn:aws:events:unknown-region:999999999999:rule/another-account"}
                    others.append((self.iam.principal(spec, account), foreign,
                                   f"{spec['service']} for another account's resource (aws:SourceAccount "
                                   "999999999999)"))
        for item in declaration["resources"]:
            arn = str(item)
            for action in map(str, declaration["actions"]):
                for principal, context, who in others:
                    if isinstance(principal, str):
                        raise _BlockedError(principal)
                    outcome = self.iam.allows(principal, action, arn, context)
                    if outcome.allowed:
                        owner = self.assembly.owner(arn)
                        raise _BlockedError(f"not exclusive: {who} may {action} on {owner.path if owner else arn}; "
                                            "no statement of its resource policy refuses other principals")
        return "only the declared principals"

    def _imds(self, declaration: dict[str, Any]) -> str:
        """Who on the nodes reaches the instance metadata service, and so the instance role's credentials."""
        from hpc_constructs.verify.boot_text import imds_findings

        self._placements(declaration["from"])  # not applicable when the nodes are gone with the lost AZ
        launcher = self.assembly.owner(declaration["from"].get("nodes"))
        template = self.net.launch_template_of(launcher) if launcher is not None else None
        if launcher is None or template is None:
            raise _BlockedError(f"{declaration['from'].get('name')}: no launch template to read its metadata options "
                                "and user data from")
        problem = imds_findings(self.assembly, template, root_only=bool(declaration.get("root_only")),
                                max_hop_limit=declaration.get("max_hop_limit"),
                                awsvpc_blocked=bool(declaration.get("awsvpc_blocked")),
                                ecs_tasks_blocked=bool(declaration.get("ecs_tasks_blocked")))
        if problem:
            raise _BlockedError(f"{launcher.path} ({template.path}): {problem}")
        return "isolated, as declared"

    def _route(self, declaration: dict[str, Any]) -> str:
        gateway = str(declaration["gateway"])
        for placement in self._placements(declaration["from"]):
            subnet = placement.subnet
            if subnet.vpc not in self.net.vgw_vpcs.get(gateway, set()):
                raise _BlockedError(f"virtual private gateway {gateway} is not attached to the VPC of {subnet.name}")
            if gateway not in self.net.propagations.get(subnet.route_table or "", set()):
                raise _BlockedError(f"the route table of {subnet.name} does not receive routes from {gateway} "
                                    "(no route propagation)")
        return "routes propagate"


def _unique(placements: list[Placement]) -> list[Placement]:
    seen: dict[tuple[Any, ...], Placement] = {}
    for p in placements:
        seen.setdefault((p.subnet.id, p.groups, p.efa_groups, p.owner), p)
    return list(seen.values())


def verify(assembly: Assembly, lost_az: str | None = None) -> list[Result]:
    """Check every declared path of the assembly (with `lost_az` gone, when given)."""
    checker = Checker(assembly)
    return checker.run(checker.resolve_az(lost_az) if lost_az is not None else None)


def _context(given: Any) -> dict[str, Any]:
    """A declaration's request context: strings, and lists of strings for multivalued keys (aws:TagKeys)."""
    return {str(k): [str(i) for i in v] if isinstance(v, list) else str(v) for k, v in (given or {}).items()}
