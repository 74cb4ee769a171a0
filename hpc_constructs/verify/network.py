"""The network an assembly would deploy: VPCs, subnets and AZs, routes, network ACLs, security groups (the VPC's
default group too), and where each kind of node puts its network interfaces.

Service behaviour that no template states is taken from the guides cited beside the code: which security groups a
Batch multi-node job's interfaces get, what CDK's restriction of the default security group revokes, which groups
EFS mount targets, FSx, PCS and DataSync put on their interfaces.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from hpc_constructs.verify.assembly import Assembly, Ref
from hpc_constructs.verify.traffic import (
    AclEntry,
    Box,
    Network,
    contains,
    network,
    ports_of,
    protocol_name,
    subtract,
)

RESTRICT_DEFAULT_SG = "Custom::VpcRestrictDefaultSG"


@dataclass(frozen=True)
class SgRule:
    group: str
    egress: bool
    protocol: str
    low: int
    high: int
    peer_kind: str  # "cidr", "group" or "prefix_list"
    peer: str
    origin: str

    def describe(self) -> str:
        what = "all traffic" if self.protocol == "all" else Box(self.protocol, self.low, self.high).describe()
        return f"{self.origin} ({what} {'to' if self.egress else 'from'} {self.peer})"


@dataclass
class Group:
    id: str
    vpc: str
    name: str
    rules: list[SgRule] = field(default_factory=list)
    default: bool = False
    notes: list[str] = field(default_factory=list)  # e.g. why the default group has no rules


@dataclass
class Subnet:
    id: str
    vpc: str
    cidr: Network
    az: str
    name: str
    route_table: str | None
    acl: str | None  # None: the VPC's default ACL, which allows everything
    map_public_ip: bool


@dataclass(frozen=True)
class Route:
    destination: str  # a CIDR, or "service:<name>" for a gateway endpoint's prefix list
    kind: str  # "igw", "nat", "vgw", "gateway-endpoint", "other"
    target: str
    origin: str


@dataclass(frozen=True)
class Placement:
    """Where a kind of node puts an interface: its subnet, the groups of its primary interface, its EFA interfaces."""

    subnet: Subnet
    groups: tuple[str, ...]
    efa_groups: tuple[tuple[str, ...], ...] = ()
    public_ip: bool = False
    owner: str = ""  # the launcher, as reports name it
    note: str = ""  # how the groups were chosen, when a service chose them


@dataclass
class InterfaceEndpoint:
    service: str
    vpc: str
    subnets: list[Subnet]
    groups: tuple[str, ...]
    private_dns: bool
    name: str


@dataclass
class LoadBalancer:
    ref: Ref
    name: str
    internet_facing: bool
    subnets: list[Subnet]
    groups: tuple[str, ...]
    cross_zone: bool
    listeners: dict[int, list[str]]  # port -> target group ARNs


@dataclass
class TargetGroup:
    arn: str
    name: str
    port: int
    health_check_port: int
    preserve_client_ip: bool
    launchers: list[Ref]


class NetworkModel:
    """What the checks ask of the network, built once from the assembly."""

    def __init__(self, assembly: Assembly) -> None:
        self.assembly = assembly
        self.vpc_cidrs: dict[str, list[Network]] = {}
        self.subnets: dict[str, Subnet] = {}
        self.route_tables: dict[str, list[Route]] = {}
        self.main_tables: dict[str, str] = {}
        self.acls: dict[str, list[AclEntry]] = {}
        self.acl_names: dict[str, str] = {}
        self.groups: dict[str, Group] = {}
        self.nat_gateways: dict[str, tuple[Subnet, str, bool]] = {}  # id -> (subnet, name, public)
        self.igw_vpcs: dict[str, set[str]] = {}  # internet gateway -> VPCs it is attached to
        self.vgw_vpcs: dict[str, set[str]] = {}
        self.propagations: dict[str, set[str]] = {}  # route table -> virtual private gateways propagating into it
        self.interface_endpoints: list[InterfaceEndpoint] = []
        self.prefix_lists: dict[str, list[Network]] = {}
        self.load_balancers: dict[str, LoadBalancer] = {}
        self.target_groups: dict[str, TargetGroup] = {}
        self._launch_templates: dict[str, Ref] = {}
        self._every_placement: list[Placement] | None = None
        self._build()

    # -- reading the templates --------------------------------------------------------------------------------

    def _build(self) -> None:
        a = self.assembly
        for ref in a.resources("AWS::EC2::VPC"):
            vpc = a.physical(ref.stack, ref.logical_id)
            cidr = network(a.prop(ref, "CidrBlock"))
            self.vpc_cidrs[vpc] = [cidr] if cidr else []
        for ref in a.resources("AWS::EC2::VPCCidrBlock"):
            cidr = network(a.prop(ref, "CidrBlock"))
            if cidr:
                self.vpc_cidrs.setdefault(str(a.prop(ref, "VpcId")), []).append(cidr)
        for ref in a.resources("AWS::EC2::PrefixList"):
            self.prefix_lists[a.physical(ref.stack, ref.logical_id)] = [
                n for n in (network(e.get("Cidr")) for e in a.prop(ref, "Entries", [])) if n]
        self._build_routes()
        self._build_acls()
        for ref in a.resources("AWS::EC2::Subnet"):
            subnet_id = a.physical(ref.stack, ref.logical_id)
            cidr = network(a.prop(ref, "CidrBlock")) or ipaddress.ip_network("0.0.0.0/32")
            vpc = str(a.prop(ref, "VpcId"))
            self.subnets[subnet_id] = Subnet(
                subnet_id, vpc, cidr, str(a.prop(ref, "AvailabilityZone", "az?")), ref.path,
                self._subnet_tables.get(subnet_id, self.main_tables.get(vpc)), self._subnet_acls.get(subnet_id),
                bool(a.prop(ref, "MapPublicIpOnLaunch", False)))
        self._build_groups()
        for ref in a.resources("AWS::EC2::VPCEndpoint"):
            self._endpoint(ref)
        for ref in a.resources("AWS::EC2::NatGateway"):
            subnet = self.subnets.get(str(a.prop(ref, "SubnetId")))
            if subnet is not None:
                public = str(a.prop(ref, "ConnectivityType", "public")) == "public"
                self.nat_gateways[a.physical(ref.stack, ref.logical_id)] = (subnet, ref.path, public)
        for ref in a.resources("AWS::EC2::LaunchTemplate"):
            self._launch_templates[a.physical(ref.stack, ref.logical_id)] = ref
        self._build_load_balancers()

    def _build_routes(self) -> None:
        a = self.assembly
        self._subnet_tables: dict[str, str] = {}
        for ref in a.resources("AWS::EC2::RouteTable"):
            self.route_tables.setdefault(a.physical(ref.stack, ref.logical_id), [])
        for ref in a.resources("AWS::EC2::SubnetRouteTableAssociation"):
            self._subnet_tables[str(a.prop(ref, "SubnetId"))] = str(a.prop(ref, "RouteTableId"))
        for ref in a.resources("AWS::EC2::VPCGatewayAttachment"):
            vpc = str(a.prop(ref, "VpcId"))
            if a.prop(ref, "InternetGatewayId"):
                self.igw_vpcs.setdefault(str(a.prop(ref, "InternetGatewayId")), set()).add(vpc)
            if a.prop(ref, "VpnGatewayId"):
                self.vgw_vpcs.setdefault(str(a.prop(ref, "VpnGatewayId")), set()).add(vpc)
        for ref in a.resources("AWS::EC2::Route"):
            table = str(a.prop(ref, "RouteTableId"))
            destination = a.prop(ref, "DestinationCidrBlock") or a.prop(ref, "DestinationIpv6CidrBlock") or \
                f"prefix-list:{a.prop(ref, 'DestinationPrefixListId')}"
            kind, target = "other", ""
            gateway = a.prop(ref, "GatewayId")
            if isinstance(gateway, str):
                owner = a.owner(gateway)
                kind = "vgw" if owner is not None and owner.type == "AWS::EC2::VPNGateway" else "igw"
                target = gateway
            elif a.prop(ref, "NatGatewayId"):
                kind, target = "nat", str(a.prop(ref, "NatGatewayId"))
            elif a.prop(ref, "VpcEndpointId"):
                kind, target = "gateway-endpoint", str(a.prop(ref, "VpcEndpointId"))
            self.route_tables.setdefault(table, []).append(Route(str(destination), kind, target, ref.path))
        for ref in a.resources("AWS::EC2::VPNGatewayRoutePropagation"):
            for table in a.prop(ref, "RouteTableIds", []):
                self.propagations.setdefault(str(table), set()).add(str(a.prop(ref, "VpnGatewayId")))

    def _build_acls(self) -> None:
        a = self.assembly
        self._subnet_acls: dict[str, str] = {}
        for ref in a.resources("AWS::EC2::NetworkAcl"):
            acl = a.physical(ref.stack, ref.logical_id)
            self.acls.setdefault(acl, [])
            self.acl_names[acl] = ref.path
        for ref in a.resources("AWS::EC2::SubnetNetworkAclAssociation"):
            self._subnet_acls[str(a.prop(ref, "SubnetId"))] = str(a.prop(ref, "NetworkAclId"))
        for ref in a.resources("AWS::EC2::NetworkAclEntry"):
            acl = str(a.prop(ref, "NetworkAclId"))
            cidr = network(a.prop(ref, "CidrBlock") or a.prop(ref, "Ipv6CidrBlock"))
            if cidr is None:
                continue
            protocol = protocol_name(a.prop(ref, "Protocol"))
            port_range = a.prop(ref, "PortRange") or {}
            low, high = ports_of(protocol, port_range.get("From", -1), port_range.get("To", -1))
            egress = a.prop(ref, "Egress", False)
            self.acls.setdefault(acl, []).append(AclEntry(
                int(a.prop(ref, "RuleNumber")), egress is True or str(egress).lower() == "true",
                str(a.prop(ref, "RuleAction")).lower() == "allow", protocol, low, high, cidr, ref.path))

    def _build_groups(self) -> None:
        a = self.assembly
        for ref in a.resources("AWS::EC2::SecurityGroup"):
            group_id = a.physical(ref.stack, ref.logical_id)
            group = Group(group_id, str(a.prop(ref, "VpcId")), ref.path)
            for egress, key in ((False, "SecurityGroupIngress"), (True, "SecurityGroupEgress")):
                for index, rule in enumerate(a.prop(ref, key, [])):
                    made = self._rule(group_id, egress, rule, f"{ref.path} ({key}[{index}])")
                    if made is not None:
                        group.rules.append(made)
            self.groups[group_id] = group
        # The VPC's default group: AWS creates it with "all traffic from itself" in and "all traffic to 0.0.0.0/0"
        # out (Amazon VPC User Guide, "Default security groups for your VPCs").
        for ref in a.resources("AWS::EC2::VPC"):
            vpc = a.physical(ref.stack, ref.logical_id)
            default = a.physical(ref.stack, ref.logical_id, "DefaultSecurityGroup")
            self.groups[default] = Group(default, vpc, f"the default security group of {ref.path}", [
                SgRule(default, False, "all", 0, 65535, "group", default, "the default group's own inbound rule"),
                SgRule(default, True, "all", 0, 65535, "cidr", "0.0.0.0/0", "the default group's own outbound rule"),
            ], default=True)
        restrictions = self._restrictions()
        for group_id, restriction in restrictions.items():
            restricted = self.groups.get(group_id)
            if restricted is not None:
                # aws-cdk-lib's handler (custom-resource-handlers/lib/aws-ec2/restrict-default-security-group-
                # handler, v2.275.0) revokes exactly these two rules when the custom resource is created.
                restricted.rules = [r for r in restricted.rules if not r.origin.startswith("the default group's own")]
                restricted.notes.append(f"CDK's restriction ({restriction.path}) revokes its inbound rule (all traffic "
                                   "from itself) and outbound rule (all traffic to 0.0.0.0/0)")
        for kind, egress in (("AWS::EC2::SecurityGroupIngress", False), ("AWS::EC2::SecurityGroupEgress", True)):
            for ref in a.resources(kind):
                group_id = str(a.prop(ref, "GroupId"))
                rule = self._rule(group_id, egress, {k: a.prop(ref, k) for k in ref.properties}, ref.path)
                if rule is None:
                    continue
                group = self.groups.setdefault(group_id, Group(group_id, "", f"security group {group_id}"))
                revoker = restrictions.get(group_id)  # a group made outside the assembly: its rules only
                if revoker is not None and self._revoked_by(rule, group_id) and not _depends_on(a, ref, revoker):
                    group.notes.append(f"{ref.path} repeats a rule that {revoker.path} revokes, and does not "
                                       "depend on it: it is created first (or fails as a duplicate) and then revoked")
                    continue
                group.rules.append(rule)

    def _restrictions(self) -> dict[str, Ref]:
        a = self.assembly
        found: dict[str, Ref] = {}
        for ref in a.resources(RESTRICT_DEFAULT_SG):
            found[str(a.prop(ref, "DefaultSecurityGroupId"))] = ref
        return found

    @staticmethod
    def _revoked_by(rule: SgRule, group_id: str) -> bool:
        if rule.protocol != "all":
            return False
        if rule.egress:
            return rule.peer_kind == "cidr" and rule.peer == "0.0.0.0/0"
        return rule.peer_kind == "group" and rule.peer == group_id

    def _rule(self, group_id: str, egress: bool, rule: dict[str, Any], origin: str) -> SgRule | None:
        protocol = protocol_name(rule.get("IpProtocol", "-1"))
        low, high = ports_of(protocol, rule.get("FromPort", -1), rule.get("ToPort", -1))
        for key, kind in (("CidrIp", "cidr"), ("CidrIpv6", "cidr"), ("SourceSecurityGroupId", "group"),
                          ("DestinationSecurityGroupId", "group"), ("SourcePrefixListId", "prefix_list"),
                          ("DestinationPrefixListId", "prefix_list")):
            if rule.get(key) is not None:
                peer = str(rule[key])
                if kind == "cidr":
                    parsed = network(peer)
                    if parsed is None:
                        return None
                    peer = str(parsed)
                return SgRule(group_id, egress, protocol, low, high, kind, peer, origin)
        return None

    def _endpoint(self, ref: Ref) -> None:
        a = self.assembly
        service = _service_of(str(a.prop(ref, "ServiceName", "")))
        vpc = str(a.prop(ref, "VpcId"))
        kind = str(a.prop(ref, "VpcEndpointType", "Gateway"))
        endpoint_id = a.physical(ref.stack, ref.logical_id)
        if kind == "Gateway":
            for table in a.prop(ref, "RouteTableIds", []):
                self.route_tables.setdefault(str(table), []).append(
                    Route(f"service:{service}", "gateway-endpoint", endpoint_id, ref.path))
            return
        subnets = [self.subnets[s] for s in map(str, a.prop(ref, "SubnetIds", [])) if s in self.subnets]
        groups = tuple(map(str, a.prop(ref, "SecurityGroupIds", []))) or (self.default_group(vpc),)
        private_dns = a.prop(ref, "PrivateDnsEnabled", False)  # CloudFormation's default: false
        self.interface_endpoints.append(InterfaceEndpoint(
            service, vpc, subnets, groups, private_dns is True or str(private_dns).lower() == "true", ref.path))

    def _build_load_balancers(self) -> None:
        a = self.assembly
        for ref in a.resources("AWS::ElasticLoadBalancingV2::TargetGroup"):
            arn = a.physical(ref.stack, ref.logical_id)
            attributes = {str(x.get("Key")): str(x.get("Value")) for x in a.prop(ref, "TargetGroupAttributes", [])}
            target_type = str(a.prop(ref, "TargetType", "instance"))
            protocol = str(a.prop(ref, "Protocol", "TCP"))
            # Client IP preservation: on by default for instance targets, and for IP targets over UDP and TCP_UDP
            # (Elastic Load Balancing, Network Load Balancers guide, "Client IP preservation").
            default = target_type == "instance" or protocol in ("UDP", "TCP_UDP")
            preserve = attributes.get("preserve_client_ip.enabled", str(default)).lower() == "true"
            port = int(a.prop(ref, "Port", 0) or 0)
            check = str(a.prop(ref, "HealthCheckPort", "traffic-port"))
            self.target_groups[arn] = TargetGroup(arn, ref.path, port, port if check == "traffic-port" else int(check),
                                                  preserve, [])
        for ref in a.resources("AWS::AutoScaling::AutoScalingGroup"):
            for arn in a.prop(ref, "TargetGroupARNs", []):
                if str(arn) in self.target_groups:
                    self.target_groups[str(arn)].launchers.append(ref)
        for ref in a.resources("AWS::ElasticLoadBalancingV2::LoadBalancer"):
            attributes = {str(x.get("Key")): str(x.get("Value")) for x in a.prop(ref, "LoadBalancerAttributes", [])}
            subnets = [str(s) for s in a.prop(ref, "Subnets", [])] + [
                str(m.get("SubnetId")) for m in a.prop(ref, "SubnetMappings", [])]
            arn = a.physical(ref.stack, ref.logical_id)
            self.load_balancers[arn] = LoadBalancer(
                ref, ref.path, str(a.prop(ref, "Scheme", "internet-facing")) == "internet-facing",
                [self.subnets[s] for s in subnets if s in self.subnets],
                tuple(map(str, a.prop(ref, "SecurityGroups", []))),
                attributes.get("load_balancing.cross_zone.enabled", "false").lower() == "true", {})
        for ref in a.resources("AWS::ElasticLoadBalancingV2::Listener"):
            balancer = self.load_balancers.get(str(a.prop(ref, "LoadBalancerArn")))
            if balancer is None:
                continue
            groups: list[str] = []
            for action in a.prop(ref, "DefaultActions", []):
                if str(action.get("Type")) != "forward":
                    continue
                if action.get("TargetGroupArn"):
                    groups.append(str(action["TargetGroupArn"]))
                for target in (action.get("ForwardConfig") or {}).get("TargetGroups", []):
                    groups.append(str(target.get("TargetGroupArn")))
            balancer.listeners.setdefault(int(a.prop(ref, "Port", 0) or 0), []).extend(groups)

    # -- questions ---------------------------------------------------------------------------------------------

    def default_group(self, vpc: str) -> str:
        owner = self.assembly.owner(vpc)
        if owner is None:
            return f"sg-default-of-{vpc}"
        return self.assembly.physical(owner.stack, owner.logical_id, "DefaultSecurityGroup")

    def group_name(self, group_id: str) -> str:
        group = self.groups.get(group_id)
        return group.name if group is not None else f"security group {group_id}"

    def groups_text(self, groups: Iterable[str]) -> str:
        return ", ".join(self.group_name(g) for g in groups) or "no security group"

    def routes(self, subnet: Subnet) -> list[Route]:
        return self.route_tables.get(subnet.route_table or "", [])

    def acl_entries(self, subnet: Subnet) -> tuple[str, list[AclEntry]] | None:
        """The subnet's network ACL and its entries; None for the VPC's default ACL (it allows everything)."""
        if subnet.acl is None:
            return None
        return self.acl_names.get(subnet.acl, subnet.acl), self.acls.get(subnet.acl, [])

    def prefix_list_cidrs(self, prefix_list: str) -> list[Network] | None:
        """A customer-managed prefix list's entries; None for an AWS-managed list (its entries are not in the
        templates)."""
        return self.prefix_lists.get(prefix_list)

    def nat(self, nat_id: str) -> tuple[Subnet, str, bool] | None:
        return self.nat_gateways.get(nat_id)

    def internet_gateway_of(self, subnet: Subnet) -> Route | None:
        """The subnet's route to the internet through an internet gateway attached to its VPC (0.0.0.0/0)."""
        for route in self.routes(subnet):
            if route.kind == "igw" and route.destination == "0.0.0.0/0" and \
                    subnet.vpc in self.igw_vpcs.get(route.target, set()):
                return route
        return None

    def default_route(self, subnet: Subnet) -> Route | None:
        for route in self.routes(subnet):
            if route.destination == "0.0.0.0/0":
                return route
        return None

    def gateway_endpoint(self, subnet: Subnet, service: str) -> Route | None:
        for route in self.routes(subnet):
            if route.kind == "gateway-endpoint" and route.destination == f"service:{service}":
                return route
        return None

    def vpc_networks(self, vpc: str) -> list[Network]:
        return self.vpc_cidrs.get(vpc, [])

    def azs(self) -> list[str]:
        """Every AZ that holds a subnet, in the order subnets first name them."""
        return list(dict.fromkeys(s.az for s in self.subnets.values()))

    # -- where interfaces are -------------------------------------------------------------------------------

    def placements_of(self, value: Any) -> tuple[list[Placement], str]:
        """The placements of the nodes a launcher (an Auto Scaling group, a Batch compute environment, a PCS node
        group, an instance) starts, and how it is named. Empty with the reason when unknown."""
        ref = self.assembly.owner(value)
        if ref is None:
            return [], f"{value} is not a resource of the assembly"
        kind = ref.type
        if kind == "AWS::AutoScaling::AutoScalingGroup":
            return self._asg(ref), ref.path
        if kind == "AWS::Batch::ComputeEnvironment":
            return self._batch_hosts(ref), ref.path
        if kind == "AWS::PCS::ComputeNodeGroup":
            return self._pcs_node_group(ref), ref.path
        if kind == "AWS::EC2::Instance":
            return self._instance(ref), ref.path
        if kind == "AWS::PCS::Cluster":
            return self._pcs_cluster(ref), ref.path
        if kind in ("AWS::FSx::FileSystem", "AWS::EFS::FileSystem"):
            return self._file_system(ref), ref.path
        return [], f"{ref.path} ({kind}) starts no nodes hpc-verify knows"

    def batch_job_placements(self, value: Any) -> tuple[list[Placement], str]:
        """The network interfaces of a multi-node parallel job's containers on a Batch compute environment.

        AWS Batch User Guide, "Compute environment considerations for MNP": multi-node parallel jobs use the ECS
        awsvpc network mode; each container gets its own network interface "in the same VPC subnet as its host
        compute resource", and "the elastic network interfaces that are created and attached to an MNP task will
        use the security groups specified in your compute environment. If you don't specify a security group, the
        default security group for the VPC is used."
        """
        ref = self.assembly.owner(value)
        if ref is None or ref.type != "AWS::Batch::ComputeEnvironment":
            return [], f"{value} is not a Batch compute environment of the assembly"
        resources = self.assembly.prop(ref, "ComputeResources", {})
        subnets = [self.subnets[s] for s in map(str, resources.get("Subnets", [])) if s in self.subnets]
        given = tuple(map(str, resources.get("SecurityGroupIds", [])))
        placements = []
        for subnet in subnets:
            if given:
                groups, note = given, "the compute environment's SecurityGroupIds (Batch guide, MNP considerations)"
            else:
                groups = (self.default_group(subnet.vpc),)
                note = ("the VPC's default security group: the compute environment has no SecurityGroupIds (Batch "
                        "guide, MNP considerations: \"If you don't specify a security group, the default security "
                        "group for the VPC is used\")")
            placements.append(Placement(subnet, groups, owner=f"{ref.path} multi-node job containers", note=note))
        return placements, f"{ref.path} multi-node job containers"

    def carriers(self, groups: Iterable[str]) -> list[Placement]:
        """Every interface that carries all of `groups` (whatever starts it)."""
        wanted = set(groups)
        found = []
        if self._every_placement is None:
            self._every_placement = list(self._all_placements())
        for placement in self._every_placement:
            for interface in (placement.groups, *placement.efa_groups):
                if wanted <= set(interface):
                    found.append(placement)
                    break
        return found

    def _all_placements(self) -> Iterator[Placement]:
        a = self.assembly
        for ref in a.resources("AWS::AutoScaling::AutoScalingGroup"):
            yield from self._asg(ref)
        for ref in a.resources("AWS::Batch::ComputeEnvironment"):
            yield from self._batch_hosts(ref)
        for ref in a.resources("AWS::PCS::ComputeNodeGroup"):
            yield from self._pcs_node_group(ref)
        for ref in a.resources("AWS::EC2::Instance"):
            yield from self._instance(ref)
        for ref in a.resources("AWS::PCS::Cluster"):
            yield from self._pcs_cluster(ref)
        for ref in a.resources("AWS::FSx::FileSystem", "AWS::EFS::FileSystem"):
            yield from self._file_system(ref)
        for balancer in self.load_balancers.values():
            for subnet in balancer.subnets:
                yield Placement(subnet, balancer.groups, owner=balancer.name)
        for endpoint in self.interface_endpoints:
            for subnet in endpoint.subnets:
                yield Placement(subnet, endpoint.groups, owner=endpoint.name)
        yield from self._datasync()

    def launch_template_of(self, launcher: Ref) -> Ref | None:
        """The launch template an Auto Scaling group, Batch compute environment, PCS node group or instance uses."""
        a = self.assembly
        if launcher.type == "AWS::AutoScaling::AutoScalingGroup":
            return self._launch_template(a.prop(launcher, "LaunchTemplate") or (
                a.prop(launcher, "MixedInstancesPolicy") or {}).get("LaunchTemplate", {}).get(
                "LaunchTemplateSpecification"))
        if launcher.type == "AWS::Batch::ComputeEnvironment":
            return self._launch_template(a.prop(launcher, "ComputeResources", {}).get("LaunchTemplate"))
        if launcher.type == "AWS::PCS::ComputeNodeGroup":
            return self._launch_template(a.prop(launcher, "CustomLaunchTemplate"))
        if launcher.type == "AWS::EC2::Instance":
            return self._launch_template(a.prop(launcher, "LaunchTemplate"))
        return None

    def _launch_template(self, spec: Any) -> Ref | None:
        if not isinstance(spec, dict):
            return None
        template = spec.get("LaunchTemplateId") or spec.get("TemplateId") or spec.get("LaunchTemplateName")
        return self._launch_templates.get(str(template)) if template is not None else None

    def _interfaces(self, template: Ref | None, fallback_groups: tuple[str, ...]) -> list[dict[str, Any]]:
        """The launch template's interfaces: [{groups, efa, primary, subnet, public_ip}]."""
        data = self.assembly.prop(template, "LaunchTemplateData", {}) if template is not None else {}
        interfaces = []
        for item in data.get("NetworkInterfaces", []):
            card = int(item.get("NetworkCardIndex", 0) or 0)
            device = int(item.get("DeviceIndex", 0) or 0)
            interfaces.append({
                "groups": tuple(map(str, item.get("Groups", []))),
                "efa": str(item.get("InterfaceType", "")) in ("efa", "efa-only"),
                "primary": card == 0 and device == 0,
                "subnet": str(item["SubnetId"]) if item.get("SubnetId") else None,
                "public_ip": item.get("AssociatePublicIpAddress"),
            })
        if not interfaces:
            groups = tuple(map(str, data.get("SecurityGroupIds", []))) or fallback_groups
            interfaces.append({"groups": groups, "efa": False, "primary": True, "subnet": None, "public_ip": None})
        return interfaces

    def _place(self, subnets: list[str], interfaces: list[dict[str, Any]], owner: str,
               override_groups: tuple[str, ...] = ()) -> list[Placement]:
        primary = next((i for i in interfaces if i["primary"]), interfaces[0])
        subnet_ids = [primary["subnet"]] if primary["subnet"] else subnets
        placements = []
        for subnet_id in subnet_ids:
            subnet = self.subnets.get(subnet_id)
            if subnet is None:
                continue
            groups = override_groups or primary["groups"] or (self.default_group(subnet.vpc),)
            efa = tuple(i["groups"] or groups for i in interfaces if i["efa"])
            public = primary["public_ip"] if primary["public_ip"] is not None else subnet.map_public_ip
            placements.append(Placement(subnet, tuple(groups), efa, bool(public), owner))
        return placements

    def _asg(self, ref: Ref) -> list[Placement]:
        a = self.assembly
        spec = a.prop(ref, "LaunchTemplate") or (a.prop(ref, "MixedInstancesPolicy") or {}).get(
            "LaunchTemplate", {}).get("LaunchTemplateSpecification")
        template = self._launch_template(spec)
        fallback: tuple[str, ...] = ()
        config_name = a.prop(ref, "LaunchConfigurationName")
        if config_name is not None:
            config = a.owner(config_name)
            if config is not None:
                fallback = tuple(map(str, a.prop(config, "SecurityGroups", [])))
        return self._place([str(s) for s in a.prop(ref, "VPCZoneIdentifier", [])],
                           self._interfaces(template, fallback), ref.path)

    def _batch_hosts(self, ref: Ref) -> list[Placement]:
        resources = self.assembly.prop(ref, "ComputeResources", {})
        subnets = [str(s) for s in resources.get("Subnets", [])]
        given = tuple(map(str, resources.get("SecurityGroupIds", [])))
        if str(resources.get("Type", "")).startswith("FARGATE"):
            return self._place(subnets, [{"groups": given, "efa": False, "primary": True, "subnet": None,
                                          "public_ip": None}], ref.path)
        template = self._launch_template(resources.get("LaunchTemplate"))
        return self._place(subnets, self._interfaces(template, given), ref.path, override_groups=given)

    def _pcs_node_group(self, ref: Ref) -> list[Placement]:
        a = self.assembly
        template = self._launch_template(a.prop(ref, "CustomLaunchTemplate"))
        return self._place([str(s) for s in a.prop(ref, "SubnetIds", [])], self._interfaces(template, ()), ref.path)

    def _instance(self, ref: Ref) -> list[Placement]:
        a = self.assembly
        template = self._launch_template(a.prop(ref, "LaunchTemplate"))
        interfaces = self._interfaces(template, tuple(map(str, a.prop(ref, "SecurityGroupIds", []))))
        subnet = a.prop(ref, "SubnetId")
        return self._place([str(subnet)] if subnet else [], interfaces, ref.path)

    def _pcs_cluster(self, ref: Ref) -> list[Placement]:
        networking = self.assembly.prop(ref, "Networking", {})
        return self._place([str(s) for s in networking.get("SubnetIds", [])], [{
            "groups": tuple(map(str, networking.get("SecurityGroupIds", []))), "efa": False, "primary": True,
            "subnet": None, "public_ip": None}], f"{ref.path} (the Slurm controller)")

    def _file_system(self, ref: Ref) -> list[Placement]:
        a = self.assembly
        if ref.type == "AWS::FSx::FileSystem":
            groups = tuple(map(str, a.prop(ref, "SecurityGroupIds", [])))
            return self._place([str(s) for s in a.prop(ref, "SubnetIds", [])[:1]], [{
                "groups": groups, "efa": False, "primary": True, "subnet": None, "public_ip": False}], ref.path)
        file_system = a.physical(ref.stack, ref.logical_id)
        placements = []
        for target in a.resources("AWS::EFS::MountTarget"):
            if str(a.prop(target, "FileSystemId")) != file_system:
                continue
            subnet = self.subnets.get(str(a.prop(target, "SubnetId")))
            if subnet is not None:
                placements.append(Placement(subnet, tuple(map(str, a.prop(target, "SecurityGroups", []))),
                                            owner=f"{ref.path} mount target {target.path}"))
        return placements

    def _datasync(self) -> Iterator[Placement]:
        """DataSync's network interfaces for EFS and FSx for Lustre locations (DataSync User Guide: in the EFS
        location's subnet, and in the Lustre file system's own subnet, with the location's security groups)."""
        a = self.assembly
        for ref in a.resources("AWS::DataSync::LocationEFS"):
            config = a.prop(ref, "Ec2Config", {})
            subnet = _arn_tail(config.get("SubnetArn"))
            groups = tuple(_arn_tail(g) for g in config.get("SecurityGroupArns", []))
            yield from self._place([subnet], [{"groups": groups, "efa": False, "primary": True, "subnet": None,
                                               "public_ip": False}], f"{ref.path} (DataSync interfaces)")
        for ref in a.resources("AWS::DataSync::LocationFSxLustre"):
            file_system = a.owner(a.prop(ref, "FsxFilesystemArn"))
            subnets = [str(s) for s in a.prop(file_system, "SubnetIds", [])[:1]] if file_system else []
            groups = tuple(_arn_tail(g) for g in a.prop(ref, "SecurityGroupArns", []))
            yield from self._place(subnets, [{"groups": groups, "efa": False, "primary": True, "subnet": None,
                                              "public_ip": False}], f"{ref.path} (DataSync interfaces)")


def _arn_tail(value: Any) -> str:
    """The ID at the end of an ARN (arn:...:security-group/sg-123 -> sg-123)."""
    return str(value).rsplit("/", 1)[-1]


def _service_of(name: str) -> str:
    """The service of an endpoint service name: com.amazonaws.<region>.ecr.dkr -> ecr.dkr."""
    parts = name.split(".")
    if len(parts) >= 4 and parts[0] in ("com", "cn") and parts[1] == "amazonaws":
        return ".".join(parts[3:])
    return name


def _depends_on(assembly: Assembly, ref: Ref, target: Ref) -> bool:
    """Whether `ref` is created after `target`: DependsOn, Ref or Fn::GetAtt, directly or through others; or its
    stack is deployed after the target's (it reads that stack's outputs)."""
    if ref.stack is not target.stack:
        return assembly.deployed_after(ref.stack, target.stack)
    seen: set[str] = set()
    todo = [ref.logical_id]
    while todo:
        logical_id = todo.pop()
        if logical_id in seen:
            continue
        seen.add(logical_id)
        resource = ref.stack.resources.get(logical_id, {})
        depends = resource.get("DependsOn", [])
        names = [depends] if isinstance(depends, str) else list(depends)
        names += _referenced(resource.get("Properties", {}))
        if target.logical_id in names:
            return True
        todo.extend(n for n in names if n in ref.stack.resources)
    return False


def _referenced(node: Any) -> list[str]:
    if isinstance(node, dict):
        if "Ref" in node and len(node) == 1:
            return [str(node["Ref"])]
        if "Fn::GetAtt" in node and len(node) == 1:
            target = node["Fn::GetAtt"]
            return [str(target[0] if isinstance(target, list) else str(target).split(".")[0])]
        return [n for v in node.values() for n in _referenced(v)]
    if isinstance(node, list):
        return [n for v in node for n in _referenced(v)]
    return []


def covered(rules: Iterable[SgRule], boxes: list[Box], *, icmp_whole: bool = True) -> list[Box]:
    """What of `boxes` the rules leave uncovered (each rule already matches the peer)."""
    remaining = list(boxes)
    for rule in rules:
        remaining = [piece for box in remaining for piece in subtract(box, rule.protocol, rule.low, rule.high,
                                                                        whole_icmp=icmp_whole)]
        if not remaining:
            break
    return remaining


def rule_matches_cidr(rule: SgRule, peer: Network) -> bool:
    parsed = network(rule.peer) if rule.peer_kind == "cidr" else None
    return parsed is not None and contains(parsed, peer)
