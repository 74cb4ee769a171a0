"""Paths: what a construct's users and boot need, declared in the template where the construct opens them.

A construct declares each path next to the security-group rule, route or IAM statement that opens it (STYLE.md:
"A path is declared where it is opened"). `hpc-verify` (hpc_constructs.verify) reads the declarations from the
synthesized templates and checks each one from the templates alone: it never imports the construct.

    from hpc_constructs import paths

    ingress = ec2.CfnSecurityGroupIngress(self, "SelfIngress", ...)
    egress = ec2.CfnSecurityGroupEgress(self, "SelfEgress", ...)
    nodes = paths.nodes(self.auto_scaling_group, f"{self.node.path} nodes")
    paths.declare_network(self.auto_scaling_group, nodes, nodes, protocol="all", both_directions=True,
                          efa=True, why="MPI, EFA")
    self.node_role.add_to_policy(iam.PolicyStatement(actions=["pcs:RegisterComputeNodeGroupInstance"], ...))
    paths.declare_iam(self.node_role, paths.role(self.node_role, f"{self.node.path} node role"),
                      ["pcs:RegisterComputeNodeGroupInstance"], [self.cluster.attr_arn], on="the cluster")

Where a declaration lives: in the resource-level metadata of an *anchor*, a CfnResource of the declaring
construct (its nodes' launcher, security group or role), under the key "hpc:paths", as a list. Choose an anchor
that the rule which opens the path is not: a check that deletes the rule must still find the declaration.

Declarations take CDK tokens (a group ID, a role ARN, `bucket.arn_for_objects("*")`), but never write a Ref or
Fn::GetAtt into the template: CloudFormation reads intrinsic functions in Metadata as dependencies, which would
add deploy-time ordering and cycles (a resource whose metadata names itself). A token that refers to a resource
is written as {"hpc:ref": [stack artifact ID, nested stack logical IDs..., logical ID], "attr": attribute}, a
string that mixes text and tokens as {"hpc:join": [parts]}, and a pseudo parameter of a stack (its ID) as
{"hpc:pseudo": "StackId", "stack": [...]}; hpc-verify evaluates them as it evaluates a Ref or Fn::GetAtt.
Other tokens (AWS::Region, AWS::Partition) stay as CDK writes them.

Each declaration is a JSON object with a one-line "path" (both ends, the ports or actions: what reports show and
what tests name) and a "kind":

  network        {"from": E, "to": E, "protocol": "all"|"tcp"|"udp"|"icmp", "ports": [[low, high], ...],
                  "both_directions": bool, "efa": bool}
                 Security groups (egress of the sender, ingress of the receiver), network ACLs of both subnets
                 (and the return traffic), same VPC. "efa": the EFA interfaces' groups must admit all traffic
                 to and from themselves by group reference (EFA's OS-bypass traffic is not IP).
  service        {"from": E, "services": ["ssm", "ssmmessages", ...], "port": 443}
                 Each service (an endpoint service name, or "internet" for a public host): through an interface
                 endpoint with private DNS, else a gateway endpoint (s3, dynamodb), else the default route (a NAT
                 gateway alive in its AZ, or an internet gateway with a public IP), with the groups and ACLs.
  load_balancer  {"from": {"cidr": c}, "load_balancer": <ARN>, "port": p, "to": E}
                 The client to a Network Load Balancer's listener, and the load balancer to its targets (which
                 must include E), health checks, client IP preservation and cross-zone load balancing included.
  chain          {"hops": [<network or load_balancer without "path">, ...]}: every hop must be open.
  iam            {"principal": {"role": <ARN>} | {"service": "events.amazonaws.com"}, "assumed_by": service,
                  "actions": [...], "resources": [<ARN> | {"arn": <ARN>, "context": {...}}], "context": {...}}
                 Identity policies (inline, customer- and AWS-managed), the resource's policy, trust.
                 "expect": "denied" turns it round: the principal must *not* be allowed (declare_iam(denied=True)).
  route          {"from": E, "gateway": <virtual private gateway ID>}: the subnets' route tables receive
                 the gateway's routes (route propagation) and the gateway is attached to their VPC.

Some paths must stay closed; these kinds are ok when they are:
  exclusive      {"principals": [...], "actions": [...], "resources": [...], "against": ["account_roles",
                  "foreign_sources"]}: only the principals may; the resource's policy must refuse another role of
                 the account whose identity policy allows everything, and a declared service acting for another
                 account (aws:SourceAccount, aws:SourceArn).
  imds           {"from": nodes(launcher), "root_only": bool, "max_hop_limit": n | null, "awsvpc_blocked": bool,
                  "ecs_tasks_blocked": bool}:
                 who on the nodes reaches the instance metadata service, so the instance role's credentials (the
                 launch template's metadata options, and a firewall rule in its user data: verify/boot_text.py).

Endpoints E: nodes(launcher) (an Auto Scaling group, Batch compute environment, PCS node group or instance: the
interfaces its launch template gives; an Image Builder infrastructure configuration: its build instance),
groups(ids) (every interface carrying the groups), batch_jobs(environment) (the awsvpc interfaces of its multi-node
jobs, as Batch chooses their groups), resource(file system or PCS cluster), cidr(block), subnets(ids). Each has a
"name" for the report.

Other constructs (HaInstance, a dashboard) declare their paths the same way, in the same change that creates their
resources; a test then deletes the one rule that opens each path and expects it reported blocked.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import CfnElement, CfnResource, IResolvable, Reference, Stack, Token, Tokenization
from constructs import Construct, IConstruct

METADATA_KEY = "hpc:paths"

# How a report names the services a node calls (endpoint service names, com.amazonaws.<region>.<name>).
SERVICE_NAMES: Mapping[str, str] = {
    "ssm": "Systems Manager", "ssmmessages": "Session Manager channels", "ec2messages": "SSM agent messages",
    "s3": "S3", "ecr.api": "ECR", "ecr.dkr": "ECR registry", "ecs": "ECS", "ecs-agent": "ECS agent",
    "ecs-telemetry": "ECS telemetry", "logs": "CloudWatch Logs", "secretsmanager": "Secrets Manager",
    "pcs": "AWS PCS", "cloudformation": "CloudFormation", "ec2": "EC2", "sts": "STS", "kms": "KMS",
    "monitoring": "CloudWatch", "autoscaling": "Auto Scaling", "route53": "Route 53", "internet": "the internet",
    "imagebuilder": "EC2 Image Builder",
}
SSM = ("ssm", "ssmmessages", "ec2messages")  # Session Manager and the SSM agent (AmazonSSMManagedInstanceCore)
# What the SSM agent calls for Session Manager: its registration, and the session channels.
SSM_ACTIONS = ("ssm:UpdateInstanceInformation", "ssmmessages:CreateControlChannel", "ssmmessages:OpenDataChannel",
               "ec2messages:GetMessages")
SSH_PORT = 22


def _jsii_id(construct: IConstruct) -> str:
    """The jsii kernel's ID of a construct: the same for every Python proxy of it, and read without a round trip."""
    return str(construct.__jsii_ref__.ref)  # type: ignore[attr-defined]


# Per construct (its jsii ID), looked up once: its anchor, and each anchor's declarations so far. A construct's
# Python proxy is not the same object on every access, its jsii ID is; reading the list back from the resource
# and sending the grown list again cost two round trips per declaration (about 180 per reference synth).
_ANCHORS: dict[str, CfnResource] = {}
_DECLARED: dict[str, list[dict[str, Any]]] = {}


def anchor_of(construct: IConstruct) -> CfnResource:
    """The CfnResource a construct's declarations live on: itself, its default child, or its first resource."""
    if isinstance(construct, CfnResource):
        return construct
    key = _jsii_id(construct)
    if key not in _ANCHORS:
        _ANCHORS[key] = _find_anchor(construct)
    return _ANCHORS[key]


def _find_anchor(construct: IConstruct) -> CfnResource:
    child = construct.node.default_child
    if isinstance(child, CfnResource):
        return child
    for found in construct.node.find_all():
        if isinstance(found, CfnResource):
            return found
    raise ValueError(f"{construct.node.path} holds no CloudFormation resource to declare paths on")


def declare(anchor: IConstruct, declaration: dict[str, Any]) -> str:
    """Add one declaration (a dict as the module docstring describes) to the anchor's metadata; return its path."""
    resource = anchor_of(anchor)
    declared = _DECLARED.setdefault(_jsii_id(resource), [])
    entry = portable(declaration)
    if entry not in declared:
        declared.append(entry)
        resource.add_metadata(METADATA_KEY, list(declared))  # replaces the key's value: the whole list so far
    return str(declaration["path"])


_TOKEN = re.compile(r"\$\{Token\[[^\]]+\]\}")


# CDK's markers for a token inside a string ("${Token[...]}") and a list ("#{Token[...]}"): a Python string
# without either holds no token, and needs no round trip to the jsii kernel to say so (a declaration's names,
# ports and actions are most of its leaves: about 2,000 such calls per reference synth).
_MARKERS = ("${Token[", "#{Token[")


def portable(value: Any) -> Any:
    """`value` with every token that refers to a resource written as hpc:ref (see the module docstring)."""
    if isinstance(value, dict):
        return {k: portable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [portable(v) for v in value]
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        if not any(marker in value for marker in _MARKERS):
            return value
        # with a marker it is unresolved: no need to ask node (Token.is_unresolved)
    elif not isinstance(value, int | float) and Tokenization.is_resolvable(value):
        value = Token.as_string(value)
    else:
        return value
    parts: list[Any] = []
    position = 0
    for match in _TOKEN.finditer(value):
        if match.start() > position:
            parts.append(value[position:match.start()])
        parts.append(_reference(match.group(0)))
        position = match.end()
    if position < len(value):
        parts.append(value[position:])
    return parts[0] if len(parts) == 1 else {"hpc:join": parts}


_STACK_PATHS: dict[str, list[str]] = {}  # per stack (its jsii ID): its artifact ID and nested stack logical IDs


def _stack_path(stack: Stack) -> list[str]:
    key = _jsii_id(stack)
    if key not in _STACK_PATHS:
        _STACK_PATHS[key] = _find_stack_path(stack)
    return list(_STACK_PATHS[key])


def _find_stack_path(stack: Stack) -> list[str]:
    chain: list[str] = []
    while stack.nested_stack_parent is not None:
        holder = stack.nested_stack_resource
        assert holder is not None
        chain.append(holder.logical_id)
        stack = stack.nested_stack_parent
    return [stack.artifact_id, *reversed(chain)]


_REFERENCES: dict[str, Any] = {}  # marker -> what it refers to; a token's marker is unique in the process


def _reference(marker: str) -> Any:
    """What a token's marker refers to, looked up once per marker (the same Ref recurs across declarations)."""
    if marker not in _REFERENCES:
        _REFERENCES[marker] = _lookup(marker)
    return copy.deepcopy(_REFERENCES[marker])


def _lookup(marker: str) -> Any:
    token = Tokenization.reverse_string(marker).first_token
    if isinstance(token, Reference):
        target = token.target
        if isinstance(target, CfnElement):
            reference: dict[str, Any] = {"hpc:ref": [*_stack_path(target.stack), target.logical_id]}
            if token.display_name != "Ref":
                reference["attr"] = token.display_name
            return reference
        if isinstance(target, Stack):
            # without "AWS::": the template validator takes a literal "AWS::StackId" for a forgotten Ref
            return {"hpc:pseudo": token.display_name.removeprefix("AWS::"), "stack": _stack_path(target)}
    return marker  # AWS::Region, AWS::Partition, ...: CDK writes them; they name no resource


# -- endpoints ---------------------------------------------------------------------------------------------------

def _ref(value: IConstruct | str) -> str | IResolvable:
    """A token for a resource: its Ref when given the construct, else the value itself (an ID or ARN token)."""
    if isinstance(value, str):
        return value
    resource = anchor_of(value)
    return resource.ref


def nodes(launcher: IConstruct | str, name: str) -> dict[str, Any]:
    """The nodes a launcher starts (Auto Scaling group, Batch compute environment, PCS node group, instance)."""
    return {"nodes": _ref(launcher), "name": name}


def groups(name: str, *group_ids: str) -> dict[str, Any]:
    """Every network interface that carries all of these security groups, whatever starts it."""
    return {"groups": list(group_ids), "name": name}


def batch_jobs(environment: IConstruct, name: str) -> dict[str, Any]:
    """The containers of multi-node parallel jobs on a Batch compute environment (their awsvpc interfaces)."""
    return {"batch_jobs": _ref(environment), "name": name}


def resource(value: IConstruct | str, name: str) -> dict[str, Any]:
    """A file system (FSx: its interfaces; EFS: the mount target in the client's AZ) or a PCS cluster's controller."""
    return {"resource": _ref(value), "name": name}


def cidr(block: str) -> dict[str, Any]:
    """Addresses outside the VPC (an allow-listed client range on the internet)."""
    return {"cidr": block, "name": block}


def subnets(name: str, *subnet_ids: str) -> dict[str, Any]:
    return {"subnets": list(subnet_ids), "name": name}


def role(value: Any, name: str) -> dict[str, Any]:
    """An IAM role as a principal (an iam.Role, or its ARN token)."""
    arn = value if isinstance(value, str) else value.role_arn
    return {"role": arn, "name": name}


def service_principal(service: str) -> dict[str, Any]:
    return {"service": service, "name": service}


# -- declarations ------------------------------------------------------------------------------------------------

def describe_ports(protocol: str, ports: Sequence[tuple[int, int]] = ()) -> str:
    if protocol == "all":
        return "all traffic"
    if not ports:
        return f"all {protocol.upper()}"
    ranges = [str(low) if low == high else f"{low}-{high}" for low, high in ports]
    joined = ranges[0] if len(ranges) == 1 else ", ".join(ranges[:-1]) + " and " + ranges[-1]
    return f"{protocol.upper()} {joined}"


def network_hop(source: dict[str, Any], destination: dict[str, Any], *, protocol: str = "tcp",
                ports: Sequence[tuple[int, int]] = (), both_directions: bool = False,
                efa: bool = False) -> dict[str, Any]:
    return {"kind": "network", "from": source, "to": destination, "protocol": protocol,
            "ports": [list(p) for p in ports], "both_directions": both_directions, "efa": efa}


def load_balancer_hop(source: dict[str, Any], load_balancer_arn: str, port: int,
                      targets: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "load_balancer", "from": source, "load_balancer": load_balancer_arn, "port": port,
            "to": targets}


def declare_network(anchor: IConstruct, source: dict[str, Any], destination: dict[str, Any], *,
                    protocol: str = "tcp", ports: Sequence[tuple[int, int]] = (), both_directions: bool = False,
                    efa: bool = False, why: str = "") -> str:
    """A path between two endpoints on a protocol and ports; both_directions: either side opens connections."""
    same = source == destination
    ends = f"{source['name']} to each other" if same else f"{source['name']} to {destination['name']}"
    text = f"{ends}: {describe_ports(protocol, ports)}"
    if both_directions:
        text += ", both directions"
    if why:
        text += f" ({why})"
    return declare(anchor, {"path": text, **network_hop(source, destination, protocol=protocol, ports=ports,
                                                          both_directions=both_directions, efa=efa)})


def declare_services(anchor: IConstruct, source: dict[str, Any], services: Sequence[str], *, why: str = "",
                     port: int = 443) -> str:
    """A path from nodes to AWS services (endpoint service names) or "internet", HTTPS by default."""
    label = SERVICE_NAMES.get(services[0], services[0])
    names = f" ({', '.join(services)})" if len(services) > 1 else ""
    text = f"{source['name']} to {label}{names}: {'HTTPS' if port == 443 else f'TCP {port}'}"
    if why:
        text += f" ({why})"
    return declare(anchor, {"path": text, "kind": "service", "from": source, "services": list(services),
                            "port": port})


def declare_packages(anchor: IConstruct, source: dict[str, Any]) -> str:
    """Nodes that install Amazon Linux packages at boot reach S3: AL2023's dnf repositories are S3 buckets in each
    Region (al2023-repos-<region>-de612dc2), reachable through an S3 gateway endpoint."""
    return declare_services(anchor, source, ["s3"], why="Amazon Linux packages at boot")


def declare_chain(anchor: IConstruct, text: str, hops: Sequence[dict[str, Any]]) -> str:
    """A path made of hops (e.g. a client to a load balancer, to a bastion, to a node): all must be open."""
    return declare(anchor, {"path": text, "kind": "chain", "hops": list(hops)})


def declare_iam(anchor: IConstruct, principal: dict[str, Any], actions: Sequence[str],
                resources: Sequence[str | dict[str, Any]], *, on: str, why: str = "",
                context: Mapping[str, Any] | None = None, assumed_by: str | None = None,
                denied: bool = False) -> str:
    """A principal (role(...) or service_principal(...)) may do `actions` on `resources` (ARNs; or {"arn", "context"}
    where one resource needs its own request context); `on` names the resources for the report. denied: the
    principal must *not* be allowed them (what a construct takes away on purpose)."""
    principal_spec = {k: v for k, v in principal.items() if k != "name"}
    text = f"{principal['name']} {'may not' if denied else 'may'} {', '.join(actions)} on {on}"
    if why:
        text += f" ({why})"
    declaration: dict[str, Any] = {"path": text, "kind": "iam", "principal": principal_spec,
                                   "actions": list(actions), "resources": list(resources),
                                   "context": dict(context or {})}
    if assumed_by is not None:
        declaration["assumed_by"] = assumed_by
    if denied:
        declaration["expect"] = "denied"
    return declare(anchor, declaration)


def declare_exclusive(anchor: IConstruct, principals: Sequence[dict[str, Any]], actions: Sequence[str],
                      resources: Sequence[str], *, on: str, against: Sequence[str] = ("account_roles",),
                      why: str = "") -> str:
    """Only `principals` may do `actions` on `resources`: the resource's policy must refuse the others. against:
    "account_roles" (another role of the account whose identity policy allows everything), "foreign_sources"
    (a declared service principal acting for another account's resource: aws:SourceArn / aws:SourceAccount)."""
    names = " and ".join(p["name"] for p in principals)
    text = f"only {names} may {', '.join(actions)} on {on}"
    if why:
        text += f" ({why})"
    return declare(anchor, {"path": text, "kind": "exclusive", "actions": list(actions), "resources": list(resources),
                            "principals": [{k: v for k, v in p.items() if k != "name"} for p in principals],
                            "against": list(against)})


def declare_imds(anchor: IConstruct, source: dict[str, Any], *, root_only: bool = True,
                 max_hop_limit: int | None = None, awsvpc_blocked: bool = False, ecs_tasks_blocked: bool = False,
                 why: str = "") -> str:
    """Who on the nodes reaches the instance metadata service (the instance role's credentials): root only (a
    boot step's firewall rule), containers kept out by the hop limit, awsvpc tasks by ECS_AWSVPC_BLOCK_IMDS, ECS
    tasks' containers in the host's network by a cgroup rule."""
    kept = (["only root reaches it"] if root_only else []) + (
        [f"containers do not (hop limit {max_hop_limit})"] if max_hop_limit else []) + (
        ["ECS tasks' containers do not (a cgroup rule)"] if ecs_tasks_blocked else []) + (
        ["multi-node jobs' awsvpc containers do not (ECS_AWSVPC_BLOCK_IMDS)"] if awsvpc_blocked else [])
    text = f"{source['name']}: the instance metadata service, the instance role's credentials: {', '.join(kept)}"
    if why:
        text += f" ({why})"
    return declare(anchor, {"path": text, "kind": "imds", "from": source, "root_only": root_only,
                            "max_hop_limit": max_hop_limit, "awsvpc_blocked": awsvpc_blocked,
                            "ecs_tasks_blocked": ecs_tasks_blocked})


def declare_route(anchor: IConstruct, source: dict[str, Any], gateway: str, *, to: str, why: str = "") -> str:
    text = f"{source['name']} route to {to}"
    if why:
        text += f" ({why})"
    return declare(anchor, {"path": text, "kind": "route", "from": source, "gateway": gateway})


def declare_ssh(anchor: IConstruct, peer: Any, destination: dict[str, Any]) -> list[str]:
    """SSH (TCP 22) from `peer` to `destination`. A peer with `ssh_entry()` (HaBastion) gives the hops from its
    allowed CIDRs to it (through its load balancer): one path per CIDR, through the peer. Any other peer: from the
    interfaces that carry its security groups."""
    groups_of_peer = [g.security_group_id for g in peer.connections.security_groups]
    name = f"{peer.node.path} instances" if isinstance(peer, Construct) else "the peer"
    hop = network_hop(groups(name, *groups_of_peer), destination, ports=[(SSH_PORT, SSH_PORT)])
    entry = getattr(peer, "ssh_entry", None)
    if not callable(entry):
        return [declare_network(anchor, hop["from"], destination, ports=[(SSH_PORT, SSH_PORT)], why="SSH")]
    declared = []
    for client, hops in entry():
        text = f"{client} to {destination['name']}: TCP 22, through {peer.node.path} (SSH)"
        declared.append(declare_chain(anchor, text, [*hops, hop]))
    return declared


def image_services(image: str) -> tuple[str, ...]:
    """What pulling a container image needs: a private ECR registry (its API, its registry endpoint, and S3,
    where ECR keeps the layers: Amazon ECR User Guide, "Amazon ECR interface VPC endpoints"), else the internet
    (public.ecr.aws, Docker Hub and other public registries have no VPC endpoint)."""
    registry = image.split("/", 1)[0]
    if ".dkr.ecr." in registry and registry.endswith(".amazonaws.com"):
        return ("ecr.api", "ecr.dkr", "s3")
    return ("internet",)


def construct_name(construct: Construct, what: str) -> str:
    """How a report names what a construct's nodes are: '<path> <what>'."""
    return f"{construct.node.path} {what}"
