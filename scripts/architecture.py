#!/usr/bin/env python3
"""Draw a cloud assembly as a Mermaid flowchart: one subgraph per stack, one node per construct, who connects to whom.

Nodes come from the construct tree (tree.json): the top-level constructs of each stack that own CloudFormation
resources. A construct's class is read from its `constructInfo.fqn` when the library's (a jsii build would record
it); Python constructs are recorded as `constructs.Construct`, so the class is then recognised by the resources the
construct owns (a VPC: HpcNetwork; Batch compute environments: BatchOrchestration; ...). Unknown constructs that
publish `hpc:figures` metadata or own resources are drawn as "Construct"; CDK's own (CDKMetadata, providers,
parameters, outputs) are left out.

Edges are derived from the synthesized resources, never hard-coded. Every reference (Ref, Fn::GetAtt, Fn::Sub, and
across stacks Fn::GetStackOutput or Fn::ImportValue, resolved through the producing stack's Outputs) from a resource
of construct A to a resource of construct B is a connection A -> B, labelled by what it is:

- a security-group ingress rule whose source group belongs to A and target group to B: the port ("SSH 22",
  "Lustre 988, 1018-1023", "NFS 2049"); a rule that only lets the answering side back in (Lustre's file servers to
  their clients) is drawn once, from the side that depends on the other;
- a Batch compute environment built on another construct's security group, placement group or launch template:
  "environment <name>";
- a DataSync location on B's bucket or file system: "DataSync <task names>"; an EBS volume of B: "EBS";
- a VPC, subnet or route table of B: a dotted edge B -.-> A, "VPC";
- anything else, only where nothing above applies: the referenced resource's service ("S3", "IAM", ...).

Usage: architecture.py [--write] [--update-readme README.md] [OUTDIR]   (OUTDIR defaults to cdk.out)
Prints architecture.md; --write also writes it to OUTDIR/architecture.md; --update-readme rewrites the block
between the README's architecture markers.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LIBRARY_FQN_PREFIXES = ("hpc_constructs.", "hpc-constructs.")
# Python constructs appear in the tree as plain constructs; recognise the library's by what they own.
# (class, every one of these resource types, at least one of these), first match wins.
SIGNATURES: tuple[tuple[str, frozenset[str], frozenset[str]], ...] = (
    ("HpcNetwork", frozenset({"AWS::EC2::VPC"}), frozenset()),
    ("SlurmCluster", frozenset({"AWS::PCS::Cluster"}), frozenset()),
    ("BatchOrchestration", frozenset(), frozenset({"AWS::Batch::ComputeEnvironment", "AWS::Batch::JobQueue"})),
    ("DataTransferLayer", frozenset(), frozenset({
        "AWS::DataSync::Task", "AWS::DirectConnect::DirectConnectGateway", "AWS::DataSync::LocationNFS",
        "AWS::DataSync::LocationS3"})),
    ("HaBastion", frozenset({"AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::AutoScaling::AutoScalingGroup"}),
     frozenset()),
    ("HaInstance", frozenset({"AWS::AutoScaling::AutoScalingGroup", "AWS::EC2::Volume"}), frozenset()),
    ("ComputeFleet", frozenset({"AWS::AutoScaling::AutoScalingGroup"}), frozenset()),
    ("StorageLayer", frozenset(), frozenset({
        "AWS::FSx::FileSystem", "AWS::EFS::FileSystem", "AWS::S3::Bucket", "AWS::EC2::Volume"})),
    ("SshUsers", frozenset({"AWS::SSM::Parameter"}), frozenset()),
)
UNKNOWN_CLASS = "Construct"
PLAIN_FQNS = {"constructs.Construct", ""}

NETWORK_TYPES = {"AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::RouteTable"}
RULE_TYPES = {"AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"}
ENVIRONMENT_SOURCES = {"AWS::EC2::SecurityGroup", "AWS::EC2::PlacementGroup", "AWS::EC2::LaunchTemplate"}
DATASYNC_TARGETS = {"AWS::S3::Bucket", "AWS::EFS::FileSystem", "AWS::FSx::FileSystem"}
PORT_NAMES = {(22, 22): "SSH", (80, 80): "HTTP", (443, 443): "HTTPS", (988, 988): "Lustre",
              (1018, 1023): "Lustre", (2049, 2049): "NFS", (3389, 3389): "RDP"}
MERMAID_RESERVED = {"end", "graph", "flowchart", "subgraph", "style", "class", "classdef", "click", "linkstyle",
                    "default", "direction", "call", "href"}
README_BEGIN = "<!-- architecture:begin -->"
README_END = "<!-- architecture:end -->"


@dataclass(frozen=True)
class Resource:
    stack: str
    logical_id: str
    type: str
    path: str  # construct path, e.g. HpcCompute/Cpu/SecurityGroup/Resource
    owner: str | None  # top-level construct path, e.g. HpcCompute/Cpu
    properties: Any


@dataclass
class Stack:
    name: str  # artifact id (the construct path of a top-level stack)
    stack_name: str  # the CloudFormation stack name that Fn::GetStackOutput names
    template: dict[str, Any]
    resources: dict[str, Resource] = field(default_factory=dict)


@dataclass(frozen=True)
class Node:
    stack: str
    path: str
    id: str
    cls: str


@dataclass(frozen=True)
class Edge:
    source: str  # node path
    target: str
    label: str
    dotted: bool = False


@dataclass
class Architecture:
    stacks: list[str]
    nodes: list[Node]
    edges: list[Edge]


# ---------------------------------------------------------------------------------------------- loading


def _load(outdir: Path) -> tuple[dict[str, Stack], dict[str, Any], set[str]]:
    manifest = json.loads((outdir / "manifest.json").read_text())
    tree_file = outdir / next((a["properties"]["file"] for a in manifest["artifacts"].values()
                               if a.get("type") == "cdk:tree"), "tree.json")
    # without a tree (tree metadata turned off), the templates' aws:cdk:path metadata places the resources
    tree: dict[str, Any] = json.loads(tree_file.read_text())["tree"] if tree_file.exists() else {}
    stacks: dict[str, Stack] = {}
    figure_paths: set[str] = set()
    for name, artifact in manifest["artifacts"].items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        props = artifact.get("properties", {})
        template = json.loads((outdir / props["templateFile"]).read_text())
        stacks[name] = Stack(name=name, stack_name=props.get("stackName", name), template=template)
        metadata = dict(artifact.get("metadata", {}))
        if "additionalMetadataFile" in artifact:
            metadata.update(json.loads((outdir / artifact["additionalMetadataFile"]).read_text()))
        figure_paths |= {path.strip("/") for path, entries in metadata.items()
                         if any(e.get("type") == "hpc:figures" for e in entries)}
    return stacks, tree, figure_paths


def _walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in (node.get("children") or {}).values():
        yield from _walk(child)


def _stack_nodes(tree: dict[str, Any], stacks: dict[str, Stack]) -> dict[str, dict[str, Any]]:
    """Stack name -> its node in the tree (the artifact id is the stack's construct path for top-level stacks)."""
    found: dict[str, dict[str, Any]] = {}
    for node in _walk(tree):
        if node.get("path") in stacks:
            found[node["path"]] = node
    return found


def _index_resources(stack: Stack, stack_node: dict[str, Any] | None) -> None:
    prefix = stack.name + "/"
    paths: dict[str, str] = {}
    if stack_node is not None:
        for node in _walk(stack_node):
            logical_id = (node.get("attributes") or {}).get("aws:cdk:cloudformation:logicalId")
            if logical_id:
                paths.setdefault(logical_id, node["path"])
    for logical_id, resource in (stack.template.get("Resources") or {}).items():
        path = paths.get(logical_id) or str((resource.get("Metadata") or {}).get("aws:cdk:path", ""))
        rest = path[len(prefix):] if path.startswith(prefix) else ""
        owner = prefix + rest.split("/", 1)[0] if rest else None
        stack.resources[logical_id] = Resource(stack.name, logical_id, resource.get("Type", ""), path, owner,
                                               resource.get("Properties") or {})


# ---------------------------------------------------------------------------------------------- references


class _Resolver:
    """Turns intrinsic functions into the resources they point at, following cross-stack references."""

    def __init__(self, stacks: dict[str, Stack]) -> None:
        self.stacks = stacks
        self.by_stack_name = {s.stack_name: s for s in stacks.values()} | {s.name: s for s in stacks.values()}
        self.exports: dict[str, tuple[Stack, Any]] = {}
        for stack in stacks.values():
            for output in (stack.template.get("Outputs") or {}).values():
                export = (output.get("Export") or {}).get("Name")
                name = self._literal(export, stack)
                if name is not None:
                    self.exports[name] = (stack, output.get("Value"))

    @staticmethod
    def _literal(value: Any, stack: Stack) -> str | None:
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
            return str(value["Fn::Sub"]).replace("${AWS::StackName}", stack.stack_name)
        if isinstance(value, dict) and isinstance(value.get("Fn::Join"), list) and len(value["Fn::Join"]) == 2:
            separator, parts = value["Fn::Join"]
            texts: list[str] = []
            for part in parts:
                if isinstance(part, str):
                    texts.append(part)
                elif part == {"Ref": "AWS::StackName"}:
                    texts.append(stack.stack_name)
                else:
                    return None
            return str(separator).join(texts)
        return None

    def refs(self, value: Any, stack: Stack, depth: int = 0) -> Iterator[Resource]:
        if depth > 10:
            return
        if isinstance(value, list):
            for item in value:
                yield from self.refs(item, stack, depth)
            return
        if not isinstance(value, dict):
            return
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref" and isinstance(arg, str):
                yield from self._local(stack, arg)
                return
            if key == "Fn::GetAtt":
                target = arg[0] if isinstance(arg, list) and arg else str(arg).split(".", 1)[0]
                yield from self._local(stack, target)
                return
            if key == "Fn::Sub":
                text, variables = (arg[0], arg[1] if len(arg) > 1 else {}) if isinstance(arg, list) else (arg, {})
                for name in re.findall(r"\$\{([^}!][^}]*)\}", str(text)):
                    target = name.split(".", 1)[0]
                    if target not in variables:
                        yield from self._local(stack, target)
                yield from self.refs(variables, stack, depth)
                return
            if key == "Fn::GetStackOutput" and isinstance(arg, dict):
                producer = self.by_stack_name.get(str(arg.get("StackName")))
                output = (producer.template.get("Outputs") or {}).get(arg.get("OutputName")) if producer else None
                if producer and output:
                    yield from self.refs(output.get("Value"), producer, depth + 1)
                return
            if key == "Fn::ImportValue":
                name = self._literal(arg, stack)
                if name in self.exports:
                    producer, exported = self.exports[name]
                    yield from self.refs(exported, producer, depth + 1)
                return
        for item in value.values():
            yield from self.refs(item, stack, depth)

    @staticmethod
    def _local(stack: Stack, logical_id: str) -> Iterator[Resource]:
        if logical_id in stack.resources:
            yield stack.resources[logical_id]


# ---------------------------------------------------------------------------------------------- model


def _classify(node: dict[str, Any], owned_types: set[str], has_figures: bool) -> str | None:
    fqn = str((node.get("constructInfo") or {}).get("fqn", ""))
    if fqn.startswith(LIBRARY_FQN_PREFIXES):
        return fqn.rsplit(".", 1)[-1]
    if fqn not in PLAIN_FQNS:
        return None  # a CDK construct placed directly in the stack (providers, CDKMetadata, parameters)
    if not owned_types and not has_figures:
        return None  # outputs only, or nothing
    for cls, all_of, any_of in SIGNATURES:
        if all_of <= owned_types and (not any_of or any_of & owned_types):
            return cls
    return UNKNOWN_CLASS


def _port_label(rule: dict[str, Any]) -> tuple[str, str]:
    """(service, port text) of an ingress rule."""
    protocol = str(rule.get("IpProtocol", "")).lower()
    if protocol in ("-1", "all"):
        return "all traffic", ""
    try:
        low, high = int(rule.get("FromPort", -1)), int(rule.get("ToPort", -1))
    except (TypeError, ValueError):
        return protocol.upper(), ""
    name = PORT_NAMES.get((low, high), "TCP") if protocol in ("tcp", "6") else protocol.upper()
    if low < 0:
        return name, ""
    return name, str(low) if low == high else f"{low}-{high}"


def _environment_name(resource: Resource, stack: Stack, tree_paths: set[str]) -> str:
    name = resource.properties.get("ComputeEnvironmentName") if isinstance(resource.properties, dict) else None
    if isinstance(name, str):
        return name
    parent = resource.path.rsplit("/", 1)[0]
    scope = parent if parent != resource.owner and parent in tree_paths else resource.path
    segment = scope.rsplit("/", 1)[-1]
    prefix = "Environment"  # BatchOrchestration's children are Environment<name>
    return segment[len(prefix):] if segment.startswith(prefix) and len(segment) > len(prefix) else segment


def build(outdir: str | Path) -> Architecture:
    """The nodes and edges of the assembly in `outdir` (a cdk.out directory)."""
    outdir = Path(outdir)
    stacks, tree, figure_paths = _load(outdir)
    stack_nodes = _stack_nodes(tree, stacks)
    for stack in stacks.values():
        _index_resources(stack, stack_nodes.get(stack.name))
    tree_paths = {n["path"] for n in _walk(tree) if "path" in n} if tree else {
        r.path.rsplit("/", depth)[0] for s in stacks.values() for r in s.resources.values() for depth in (1, 2)}

    nodes: dict[str, Node] = {}
    for stack in stacks.values():
        owned: dict[str, set[str]] = defaultdict(set)
        for resource in stack.resources.values():
            if resource.owner and not resource.type.startswith("AWS::CDK::"):  # CDKMetadata: version reporting
                owned[resource.owner].add(resource.type)
        children = (stack_nodes.get(stack.name) or {}).get("children") or {  # no tree: CDK's providers are Custom::
            owner: {"id": owner.rsplit("/", 1)[-1], "path": owner} for owner in owned if "::" not in owner}
        for child in children.values():
            path = child["path"]
            cls = _classify(child, owned.get(path, set()), path in figure_paths)
            if cls:
                nodes[path] = Node(stack.name, path, child["id"], cls)

    resolver = _Resolver(stacks)
    depends: set[tuple[str, str]] = set()  # (A, B): a resource of A points at a resource of B
    ports: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    specific: dict[tuple[str, str], set[str]] = defaultdict(set)
    fallback: dict[tuple[str, str], set[str]] = defaultdict(set)
    in_vpc: set[tuple[str, str]] = set()

    def owners(value: Any, stack: Stack) -> set[str]:
        return {r.owner for r in resolver.refs(value, stack) if r.owner is not None and r.owner in nodes}

    for stack in stacks.values():
        tasks = [r for r in stack.resources.values() if r.type == "AWS::DataSync::Task"]
        for resource in stack.resources.values():
            source = resource.owner
            props = resource.properties if isinstance(resource.properties, dict) else {}
            # security-group ingress: source group's construct -> target group's construct, with the port
            rules: list[tuple[set[str], dict[str, Any]]] = []
            if resource.type == "AWS::EC2::SecurityGroupIngress":
                rules.append((owners([props.get("GroupId"), props.get("GroupName")], stack), props))
            elif resource.type == "AWS::EC2::SecurityGroup" and source in nodes:
                rules += [({source}, rule) for rule in props.get("SecurityGroupIngress") or []
                          if isinstance(rule, dict)]
            for targets, rule in rules:
                for src in owners(rule.get("SourceSecurityGroupId"), stack):
                    for group_owner in targets - {src}:
                        ports[(src, group_owner)].add(_port_label(rule))
            if source is None or source not in nodes:
                continue
            for target in resolver.refs(props, stack):
                dst = target.owner
                if dst is None or dst not in nodes or dst == source:
                    continue
                depends.add((source, dst))
                if resource.type in RULE_TYPES:
                    continue
                if target.type in NETWORK_TYPES:
                    in_vpc.add((dst, source))
                elif target.type in ENVIRONMENT_SOURCES and (environment := _environment_of(resource, stack)):
                    specific[(source, dst)].add(f"environment {_environment_name(environment, stack, tree_paths)}")
                elif resource.type.startswith("AWS::DataSync::Location") and target.type in DATASYNC_TARGETS:
                    names = sorted(_task_name(t) for t in tasks
                                   if any(r.logical_id == resource.logical_id for r in resolver.refs(
                                       [t.properties.get("SourceLocationArn"),
                                        t.properties.get("DestinationLocationArn")], stack)))
                    specific[(source, dst)].add(" ".join(["DataSync", ", ".join(names)]).strip())
                elif target.type == "AWS::EC2::Volume":
                    specific[(source, dst)].add("EBS")
                else:
                    fallback[(source, dst)].add(target.type.split("::")[1] if "::" in target.type else target.type)

    # a rule that only lets the other side answer (B -> A on the ports A already opened to B) is drawn once,
    # from the side that depends on the other
    for (a, b), forward in list(ports.items()):
        backward = ports.get((b, a), set())
        common = forward & backward
        if common and (a, b) in depends and (b, a) not in depends:
            ports[(b, a)] = backward - common
    for (a, b), port_labels in ports.items():
        services: dict[str, list[str]] = defaultdict(list)
        for service, port in port_labels:
            services[service].append(port)
        for service, port_texts in services.items():
            texts = sorted({p for p in port_texts if p}, key=lambda p: (int(p.split("-")[0]), p))
            specific[(a, b)].add(" ".join([service, ", ".join(texts)]).strip())

    edges: set[Edge] = set()
    for pair in set(specific) | set(fallback):
        labels = specific.get(pair) or fallback.get(pair) or set()
        if labels:
            edges.add(Edge(pair[0], pair[1], " + ".join(sorted(labels))))
    edges |= {Edge(a, b, "VPC", dotted=True) for a, b in in_vpc}

    return Architecture(
        stacks=sorted(stacks),
        nodes=sorted(nodes.values(), key=lambda n: (n.stack, n.id)),
        edges=sorted(edges, key=lambda e: (e.dotted, e.source, e.target, e.label)),
    )


def _environment_of(resource: Resource, stack: Stack) -> Resource | None:
    """The Batch compute environment `resource` is, or belongs to (a resource under the same construct)."""
    if resource.type == "AWS::Batch::ComputeEnvironment":
        return resource
    for candidate in stack.resources.values():
        if candidate.type != "AWS::Batch::ComputeEnvironment":
            continue
        scope = candidate.path.rsplit("/", 1)[0]
        if scope != candidate.owner and resource.path.startswith(scope + "/"):
            return candidate
    return None


def _task_name(task: Resource) -> str:
    name = task.properties.get("Name") if isinstance(task.properties, dict) else None
    return name if isinstance(name, str) else task.path.rsplit("/", 2)[-2]


# ---------------------------------------------------------------------------------------------- rendering


def _mermaid_ids(architecture: Architecture) -> tuple[dict[str, str], dict[str, str]]:
    """Alphanumeric ids: stacks by name, nodes by construct id (prefixed with the stack's where ambiguous)."""
    def clean(text: str) -> str:
        out = re.sub(r"[^A-Za-z0-9]", "", text) or "x"
        return out if out[0].isalpha() else "n" + out

    stack_ids: dict[str, str] = {}
    for name in architecture.stacks:
        base, n = clean(name), 1
        candidate = base if base.lower() not in MERMAID_RESERVED else "stack" + base
        while candidate in stack_ids.values():
            n += 1
            candidate = f"{base}{n}"
        stack_ids[name] = candidate
    short = [clean(node.id) for node in architecture.nodes]
    taken = set(stack_ids.values())
    node_ids: dict[str, str] = {}
    for node, base in zip(architecture.nodes, short, strict=True):
        candidate = base
        if short.count(base) > 1 or base in taken or base.lower() in MERMAID_RESERVED:
            candidate = stack_ids[node.stack] + base
        n = 1
        while candidate in taken:
            n += 1
            candidate = f"{stack_ids[node.stack]}{base}{n}"
        taken.add(candidate)
        node_ids[node.path] = candidate
    return stack_ids, node_ids


def _quote(text: str) -> str:
    return '"' + text.replace('"', "#quot;").replace("\n", " ") + '"'


def mermaid(outdir: str | Path) -> str:
    """The Mermaid flowchart (without the Markdown fence) of the assembly in `outdir`."""
    architecture = build(outdir)
    stack_ids, node_ids = _mermaid_ids(architecture)
    lines = ["flowchart LR"]
    for stack in architecture.stacks:
        lines.append(f"  subgraph {stack_ids[stack]}[{_quote(stack)}]")
        members = sorted((node_ids[n.path], n) for n in architecture.nodes if n.stack == stack)
        lines += [f"    {node_id}[{_quote(f'{n.id} ({n.cls})')}]" for node_id, n in members]
        lines.append("  end")
    for edge in sorted(architecture.edges, key=lambda e: (e.dotted, node_ids[e.source], node_ids[e.target])):
        source, target = node_ids[edge.source], node_ids[edge.target]
        if edge.dotted:
            lines.append(f"  {source} -.->|{_quote(edge.label)}| {target}")
        else:
            lines.append(f"  {source} -- {_quote(edge.label)} --> {target}")
    return "\n".join(lines) + "\n"


def mermaid_block(outdir: str | Path) -> str:
    """The diagram in a Markdown mermaid fence, as README.md embeds it."""
    return "```mermaid\n" + mermaid(outdir) + "```\n"


def architecture_markdown(outdir: str | Path) -> str:
    return (
        "# Architecture\n\n"
        "Generated by scripts/architecture.py from this cloud assembly's construct tree (tree.json) and "
        "synthesized templates: one box per stack, one node per construct (its id and class). Solid arrows "
        "are connections the resources make (security-group ingress with its ports, mounts, Batch environments "
        "built from a fleet, DataSync tasks); dotted arrows lead from the network to what runs in its VPC.\n\n"
        + mermaid_block(outdir)
    )


def update_readme(readme: str | Path, outdir: str | Path) -> bool:
    """Rewrite the block between README's architecture markers; True when it changed."""
    readme = Path(readme)
    text = readme.read_text()
    start, end = text.index(README_BEGIN) + len(README_BEGIN), text.index(README_END)
    updated = text[:start] + "\n" + mermaid_block(outdir) + text[end:]
    if updated != text:
        readme.write_text(updated)
    return updated != text


def readme_block(readme_text: str) -> str:
    """What README.md holds between its architecture markers, stripped."""
    start = readme_text.index(README_BEGIN) + len(README_BEGIN)
    return readme_text[start:readme_text.index(README_END)].strip()


def write(outdir: str | Path) -> Path:
    path = Path(outdir) / "architecture.md"
    path.write_text(architecture_markdown(outdir))
    return path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("outdir", nargs="?", default="cdk.out")
    parser.add_argument("--write", action="store_true", help="also write OUTDIR/architecture.md")
    parser.add_argument("--update-readme", metavar="README", help="rewrite the diagram between the markers")
    args = parser.parse_args(argv[1:])
    print(architecture_markdown(args.outdir), end="")
    if args.write:
        write(args.outdir)
    if args.update_readme and update_readme(args.update_readme, args.outdir):
        print(f"updated {args.update_readme}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
