"""The cloud assembly as hpc-verify reads it: its stacks and nested stacks, and every value their templates build.

Only what `cdk synth` wrote is read: manifest.json (and the manifests of nested cloud assemblies, i.e. stages), the
stack templates it names, and the nested stack templates their AWS::CloudFormation::Stack resources point at
(`aws:asset:path` metadata). Nothing is deployed and no construct is built.

Values are evaluated the way CloudFormation would, with a deterministic stand-in for every physical ID: a Ref or
Fn::GetAtt becomes a string such as `sg-HpcCompute.CpuSecurityGroup82F6CBAE` or
`arn:aws:iam::unknown-account:role/HpcCompute-CpuRole1234`, built from the stack and logical ID, so that a value
that reaches another template through Fn::GetStackOutput (CDK's weak references), Fn::ImportValue and an export, or
a nested stack's parameters and outputs is the same string there. Fn::Join, Fn::Sub, Fn::Select, Fn::Split,
Fn::If (with the template's conditions), Fn::GetAZs and Fn::FindInMap are evaluated; IAM policies are then
matched against plain strings. `Assembly.owner(value)` goes back from such a string to the resource.

Environment-agnostic stacks have the account `unknown-account` and the region `unknown-region`, as in the
manifest; Fn::GetAZs then gives `az0`, `az1`, ... (an AZ's index is its name), and a stack bound to a region
gives `<region>a`, `<region>b`, ...
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpc_constructs.verify.errors import AssemblyError

UNKNOWN_ACCOUNT = "unknown-account"
UNKNOWN_REGION = "unknown-region"
PARTITION = "aws"
URL_SUFFIX = "amazonaws.com"
STACK_TYPE = "aws:cloudformation:stack"
NESTED_ASSEMBLY_TYPE = "cdk:cloud-assembly"
NESTED_STACK_TYPE = "AWS::CloudFormation::Stack"
AZ_COUNT = 6  # Fn::GetAZs: more than any VPC here uses


class _NoValue:
    """AWS::NoValue: the property or list item is dropped."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


@dataclass(eq=False)
class Stack:
    """One template: a top-level stack, or a nested stack inside one (parent and the resource that holds it)."""

    name: str  # the CloudFormation stack name of a top-level stack; parent/logical ID for a nested one
    template: dict[str, Any]
    account: str
    region: str
    artifact: str = ""  # a top-level stack's artifact ID in the manifest (its construct ID)
    parent: Stack | None = None
    parent_logical_id: str | None = None
    children: dict[str, Stack] = field(default_factory=dict)  # nested stacks by their logical ID in this template

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.template.get("Resources", {})
        return resources

    def path_of(self, logical_id: str) -> str:
        """The construct path CDK wrote (aws:cdk:path), else stack/logical ID: how reports name a resource."""
        resource = self.resources.get(logical_id, {})
        path = resource.get("Metadata", {}).get("aws:cdk:path")
        if isinstance(path, str):
            return path.removesuffix("/Resource").removesuffix("/Default")
        return f"{self.name}/{logical_id}"


@dataclass(frozen=True)
class Ref:
    """A resource of the assembly: its stack and logical ID."""

    stack: Stack
    logical_id: str

    @property
    def resource(self) -> dict[str, Any]:
        return self.stack.resources[self.logical_id]

    @property
    def type(self) -> str:
        return str(self.resource.get("Type", ""))

    @property
    def properties(self) -> dict[str, Any]:
        properties: dict[str, Any] = self.resource.get("Properties", {}) or {}
        return properties

    @property
    def path(self) -> str:
        return self.stack.path_of(self.logical_id)

    def __hash__(self) -> int:
        return hash((id(self.stack), self.logical_id))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ref) and other.stack is self.stack and other.logical_id == self.logical_id


class Assembly:
    """Every stack of a cloud assembly, with evaluation of the values their templates build."""

    def __init__(self, stacks: list[Stack], directory: Path | None = None) -> None:
        self.stacks = stacks
        self.directory = directory
        self._by_name = {s.name: s for s in stacks if s.parent is None}
        self._by_artifact = {s.artifact or s.name: s for s in stacks if s.parent is None}
        self._owners: dict[str, Ref] = {}
        self._cache: dict[tuple[int, str, str | None], str] = {}
        self._conditions: dict[tuple[int, str], bool] = {}
        self._parameters: dict[tuple[int, str], Any] = {}
        self._exports: dict[str, tuple[Stack, Any]] | None = None
        self._exports_by: dict[str, Stack] = {}
        self._evaluating: set[tuple[int, str, str | None]] = set()
        for stack in self.all_stacks():  # every resource's own IDs are known up front, so owner() finds them
            for logical_id, resource in stack.resources.items():
                if self.exists(stack, logical_id):
                    self.physical(stack, logical_id)
                    for attribute in _OWNED_ATTRIBUTES.get(str(resource.get("Type")), ()):
                        self.physical(stack, logical_id, attribute)

    # -- loading ----------------------------------------------------------------------------------------------

    @classmethod
    def load(cls, directory: str | Path) -> Assembly:
        """Read a cloud assembly directory (what `cdk synth` writes to cdk.out). Raises AssemblyError."""
        root = Path(directory)
        manifest_file = root / "manifest.json"
        if not root.is_dir():
            raise AssemblyError(f"{root}: not a directory (give the cloud assembly directory, e.g. cdk.out)")
        if not manifest_file.is_file():
            raise AssemblyError(f"{root}: not a cloud assembly (no manifest.json; run `cdk synth` first)")
        stacks: list[Stack] = []
        _load_manifest(root, manifest_file, stacks)
        if not stacks:
            raise AssemblyError(f"{root}: the cloud assembly has no CloudFormation stacks")
        return cls(stacks, root)

    @classmethod
    def from_templates(cls, templates: dict[str, dict[str, Any]], *, account: str = UNKNOWN_ACCOUNT,
                       region: str = UNKNOWN_REGION) -> Assembly:
        """An assembly of top-level stacks given as {stack name: template} (tests, other tools)."""
        return cls([Stack(name, template, account, region, artifact=name) for name, template in templates.items()])

    def all_stacks(self) -> Iterator[Stack]:
        def walk(stack: Stack) -> Iterator[Stack]:
            yield stack
            for child in stack.children.values():
                yield from walk(child)

        for stack in self.stacks:
            if stack.parent is None:
                yield from walk(stack)

    def stack(self, name: str) -> Stack:
        return self._by_name[name]

    def resources(self, *types: str) -> Iterator[Ref]:
        """Every resource of these types (all when none given) that exists (its condition holds)."""
        wanted = set(types)
        for stack in self.all_stacks():
            for logical_id, resource in stack.resources.items():
                if (not wanted or resource.get("Type") in wanted) and self.exists(stack, logical_id):
                    yield Ref(stack, logical_id)

    def top(self, stack: Stack) -> Stack:
        while stack.parent is not None:
            stack = stack.parent
        return stack

    def deployed_after(self, later: Stack, earlier: Stack) -> bool:
        """Whether every resource of `earlier` exists before `later`'s are made: `later`'s top-level stack reads,
        directly or through others, an output of `earlier`'s (Fn::GetStackOutput, Fn::ImportValue), so CDK and
        CloudFormation deploy it afterwards. Stacks with no such reference may deploy in any order."""
        target = self.top(earlier)
        seen: set[int] = set()
        todo = [self.top(later)]
        while todo:
            stack = todo.pop()
            if id(stack) in seen:
                continue
            seen.add(id(stack))
            for read in self._reads(stack):
                if read is target:
                    return True
                todo.append(read)
        return False

    def _reads(self, top: Stack) -> list[Stack]:
        """The top-level stacks whose outputs `top` (with its nested stacks) reads."""
        found: list[Stack] = []

        def walk(node: Any, stack: Stack) -> None:
            if isinstance(node, dict):
                if "Fn::GetStackOutput" in node:
                    name = self.value(stack, node["Fn::GetStackOutput"].get("StackName"))
                    if name in self._by_name:
                        found.append(self._by_name[str(name)])
                elif "Fn::ImportValue" in node:
                    self._import(stack, self.text(stack, node["Fn::ImportValue"]))
                    exporter = self._exports_by.get(self.text(stack, node["Fn::ImportValue"]))
                    if exporter is not None:
                        found.append(self.top(exporter))
                for value in node.values():
                    walk(value, stack)
            elif isinstance(node, list):
                for value in node:
                    walk(value, stack)

        stacks = [top]
        while stacks:
            stack = stacks.pop()
            walk(stack.template.get("Resources", {}), stack)
            stacks.extend(stack.children.values())
        return found

    def exists(self, stack: Stack, logical_id: str) -> bool:
        condition = stack.resources[logical_id].get("Condition")
        return condition is None or self.condition(stack, str(condition))

    # -- evaluation -------------------------------------------------------------------------------------------

    def value(self, stack: Stack, node: Any) -> Any:
        """The value CloudFormation would give `node` (a template fragment) in `stack`."""
        if isinstance(node, dict):
            if len(node) == 1:
                (key, argument), = node.items()
                if key == "Ref" or key.startswith("Fn::") or key == "Condition":
                    return self._intrinsic(stack, key, argument)
                if key == "hpc:join":
                    return "".join(self.text(stack, part) for part in argument)
            if "hpc:ref" in node:
                target, logical_id = self._locate(node["hpc:ref"])
                return self.physical(target, logical_id, node.get("attr"))
            if "hpc:pseudo" in node:
                target, _ = self._locate([*node["stack"], ""])
                return self._ref(target, f"AWS::{node['hpc:pseudo']}")
            out = {}
            for key, item in node.items():
                evaluated = self.value(stack, item)
                if evaluated is not NO_VALUE:
                    out[key] = evaluated
            return out
        if isinstance(node, list):
            return [v for v in (self.value(stack, item) for item in node) if v is not NO_VALUE]
        return node

    def _locate(self, path: list[Any]) -> tuple[Stack, str]:
        """The stack and logical ID an hpc:ref names: [artifact ID, nested stack logical IDs..., logical ID]."""
        *stacks, logical_id = (str(p) for p in path)
        if not stacks or stacks[0] not in self._by_artifact:
            raise AssemblyError(f"a path declaration refers to stack {stacks[:1]}, which the assembly does not hold")
        stack = self._by_artifact[stacks[0]]
        for nested in stacks[1:]:
            if nested not in stack.children:
                raise AssemblyError(f"a path declaration refers to nested stack {nested} of {stack.name}, which the "
                                    "assembly does not hold")
            stack = stack.children[nested]
        if logical_id and logical_id not in stack.resources:
            raise AssemblyError(f"a path declaration refers to {logical_id}, which {stack.name} does not hold")
        return stack, logical_id

    def text(self, stack: Stack, node: Any) -> str:
        """A value that must be a string (an ID, an ARN)."""
        value = self.value(stack, node)
        return value if isinstance(value, str) else json.dumps(value, sort_keys=True)

    def prop(self, ref: Ref, name: str, default: Any = None) -> Any:
        """A property of a resource, evaluated; `default` when absent."""
        if name not in ref.properties:
            return default
        value = self.value(ref.stack, ref.properties[name])
        return default if value is NO_VALUE else value

    def owner(self, value: Any) -> Ref | None:
        """The resource whose Ref or attribute `value` is, if any (an ARN with a path after it, too)."""
        if not isinstance(value, str):
            return None
        found = self._owners.get(value)
        if found is not None:
            return found
        for separator in ("/", ":"):  # arn:aws:s3:::bucket/key, a log group's arn ...:log-group:name:*
            head = value
            while separator in head:
                head = head.rsplit(separator, 1)[0]
                found = self._owners.get(head)
                if found is not None:
                    return found
        return None

    def condition(self, stack: Stack, name: str) -> bool:
        key = (id(stack), name)
        if key not in self._conditions:
            conditions = stack.template.get("Conditions", {})
            if name not in conditions:
                raise AssemblyError(f"{stack.name}: condition {name} is not defined")
            self._conditions[key] = bool(self._truth(stack, conditions[name]))
        return self._conditions[key]

    def _truth(self, stack: Stack, node: Any) -> bool:
        value = self.value(stack, node)
        if isinstance(value, bool):
            return value
        return str(value).lower() == "true"

    def _intrinsic(self, stack: Stack, key: str, argument: Any) -> Any:
        if key == "Ref":
            return self._ref(stack, str(argument))
        if key == "Fn::GetAtt":
            logical_id, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
            attribute = self.value(stack, attribute)
            return self._get_att(stack, str(logical_id), str(attribute))
        if key == "Fn::Join":
            separator, items = argument
            values = self.value(stack, items)
            return str(separator).join(v if isinstance(v, str) else json.dumps(v) for v in values)
        if key == "Fn::Sub":
            return self._sub(stack, argument)
        if key == "Fn::Select":
            index, items = argument
            values = self.value(stack, items)
            return values[int(self.value(stack, index))]
        if key == "Fn::Split":
            separator, source = argument
            return self.text(stack, source).split(str(separator))
        if key == "Fn::GetAZs":
            return self._azs(stack)
        if key == "Fn::If":
            name, when_true, when_false = argument
            return self.value(stack, when_true if self.condition(stack, name) else when_false)
        if key == "Condition":
            return self.condition(stack, str(argument))
        if key == "Fn::Equals":
            left, right = (self.value(stack, a) for a in argument)
            return left == right
        if key == "Fn::Not":
            return not self._truth(stack, argument[0])
        if key == "Fn::And":
            return all(self._truth(stack, a) for a in argument)
        if key == "Fn::Or":
            return any(self._truth(stack, a) for a in argument)
        if key == "Fn::Contains":
            haystack, needle = (self.value(stack, a) for a in argument)
            return needle in haystack
        if key == "Fn::FindInMap":
            name, top, second = (self.value(stack, a) for a in argument)
            return stack.template["Mappings"][name][top][second]
        if key == "Fn::Base64":
            return self.value(stack, argument)
        if key == "Fn::ToJsonString":
            return json.dumps(self.value(stack, argument))
        if key == "Fn::ImportValue":
            return self._import(stack, self.text(stack, argument))
        if key == "Fn::GetStackOutput":
            return self._stack_output(stack, argument)
        return f"<{key} not evaluated>"

    def _ref(self, stack: Stack, name: str) -> Any:
        pseudo = {
            "AWS::AccountId": stack.account, "AWS::Region": stack.region, "AWS::Partition": PARTITION,
            "AWS::URLSuffix": URL_SUFFIX, "AWS::StackName": _stack_name(stack), "AWS::NoValue": NO_VALUE,
            "AWS::StackId": f"arn:{PARTITION}:cloudformation:{stack.region}:{stack.account}:stack/"
                            f"{_stack_name(stack)}/id",
            "AWS::NotificationARNs": [],
        }
        if name in pseudo:
            return pseudo[name]
        if name in stack.template.get("Parameters", {}):
            return self._parameter(stack, name)
        if name in stack.resources:
            return self.physical(stack, name)
        raise AssemblyError(f"{stack.name}: Ref {name} names no parameter or resource")

    def _parameter(self, stack: Stack, name: str) -> Any:
        key = (id(stack), name)
        if key in self._parameters:
            return self._parameters[key]
        parameter = stack.template["Parameters"][name]
        value: Any
        if stack.parent is not None and stack.parent_logical_id is not None:
            holder = stack.parent.resources[stack.parent_logical_id]
            given = holder.get("Properties", {}).get("Parameters", {})
            if name in given:
                value = self.value(stack.parent, given[name])
            else:
                value = parameter.get("Default", f"<parameter {name}>")
        else:
            value = parameter.get("Default", f"<parameter {name}>")
            if str(parameter.get("Type", "")).startswith("AWS::SSM::Parameter::Value"):
                value = f"ssm-parameter:{value}"  # resolved at deploy time; an image ID
        self._parameters[key] = value
        return value

    def _azs(self, stack: Stack) -> list[str]:
        if stack.region == UNKNOWN_REGION:
            return [f"az{i}" for i in range(AZ_COUNT)]
        return [f"{stack.region}{chr(ord('a') + i)}" for i in range(AZ_COUNT)]

    def _sub(self, stack: Stack, argument: Any) -> str:
        if isinstance(argument, list):
            template, variables = argument
            bound = {k: self.value(stack, v) for k, v in variables.items()}
        else:
            template, bound = argument, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in bound:
                value = bound[name]
            elif "." in name:
                logical_id, attribute = name.split(".", 1)
                value = self._get_att(stack, logical_id, attribute)
            else:
                value = self._ref(stack, name)
            return value if isinstance(value, str) else json.dumps(value)

        return re.sub(r"\$\{([^}]+)\}", replace, str(template))

    def _get_att(self, stack: Stack, logical_id: str, attribute: str) -> Any:
        if logical_id not in stack.resources:
            raise AssemblyError(f"{stack.name}: Fn::GetAtt {logical_id}.{attribute} names no resource")
        resource = stack.resources[logical_id]
        if resource.get("Type") == NESTED_STACK_TYPE and attribute.startswith("Outputs."):
            child = stack.children.get(logical_id)
            if child is None:
                raise AssemblyError(f"{stack.name}: nested stack {logical_id} has no template in the assembly")
            return self._output(child, attribute.removeprefix("Outputs."))
        return self.physical(stack, logical_id, attribute)

    def _output(self, stack: Stack, name: str) -> Any:
        outputs = stack.template.get("Outputs", {})
        if name not in outputs:
            raise AssemblyError(f"{stack.name}: no output {name}, which another template reads")
        return self.value(stack, outputs[name]["Value"])

    def _stack_output(self, stack: Stack, argument: dict[str, Any]) -> Any:
        name = self.text(stack, argument["StackName"])
        if name not in self._by_name:
            raise AssemblyError(f"{stack.name}: Fn::GetStackOutput reads stack {name}, which the assembly does not "
                                "hold")
        return self._output(self._by_name[name], self.text(stack, argument["OutputName"]))

    def _import(self, stack: Stack, name: str) -> Any:
        if self._exports is None:
            self._exports = {}
            for candidate in self.all_stacks():
                for output in candidate.template.get("Outputs", {}).values():
                    export = output.get("Export", {}).get("Name")
                    if export is not None:
                        self._exports[self.text(candidate, export)] = (candidate, output["Value"])
                        self._exports_by[self.text(candidate, export)] = candidate
        if name not in self._exports:
            raise AssemblyError(f"{stack.name}: Fn::ImportValue {name}: no stack of the assembly exports it")
        exporter, value = self._exports[name]
        return self.value(exporter, value)

    # -- physical IDs ------------------------------------------------------------------------------------------

    def physical(self, stack: Stack, logical_id: str, attribute: str | None = None) -> str:
        """The stand-in for a resource's Ref (attribute None) or Fn::GetAtt value."""
        key = (id(stack), logical_id, attribute)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        if key in self._evaluating:  # a name built from its own attributes: fall back to the plain ID
            return f"{_stack_name(stack)}.{logical_id}"
        self._evaluating.add(key)
        try:
            value = _physical(self, Ref(stack, logical_id), attribute)
        finally:
            self._evaluating.discard(key)
        self._cache[key] = value
        self._owners.setdefault(value, Ref(stack, logical_id))
        return value


# -- the physical-ID stand-ins, by resource type ------------------------------------------------------------------

# The attributes (besides Ref) that name a resource, so that owner() finds it from them.
_OWNED_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "AWS::EC2::VPC": ("DefaultSecurityGroup",), "AWS::S3::Bucket": ("Arn",), "AWS::IAM::Role": ("Arn",),
    "AWS::IAM::InstanceProfile": ("Arn",), "AWS::KMS::Key": ("Arn",), "AWS::SQS::Queue": ("Arn",),
    "AWS::Logs::LogGroup": ("Arn",), "AWS::EFS::FileSystem": ("Arn",), "AWS::FSx::FileSystem": ("ResourceARN",),
    "AWS::Events::Rule": ("Arn",), "AWS::PCS::Cluster": ("Arn", "Id"), "AWS::Lambda::Function": ("Arn",),
}

def _stack_name(stack: Stack) -> str:
    return stack.name.replace("/", "-")


def _physical(assembly: Assembly, ref: Ref, attribute: str | None) -> str:
    stack, kind = ref.stack, ref.type
    ident = f"{_stack_name(stack)}.{ref.logical_id}"
    account, region = stack.account, stack.region

    def named(prop: str, default: str | None = None) -> str:
        given = assembly.prop(ref, prop) if prop else None
        return str(given) if isinstance(given, str) else (default or f"{_stack_name(stack)}-{ref.logical_id}")

    def arn(service: str, resource: str, *, global_: bool = False) -> str:
        return f"arn:{PARTITION}:{service}:{'' if global_ else region}:{account}:{resource}"

    if kind == "AWS::EC2::VPC":
        vpc = f"vpc-{ident}"
        attributes = {None: vpc, "VpcId": vpc, "DefaultSecurityGroup": f"sg-default-{ident}",
                      "DefaultNetworkAcl": f"acl-default-{ident}", "CidrBlock": named("CidrBlock")}
        return attributes.get(attribute, f"{vpc}.{attribute}")
    if kind == "AWS::EC2::Subnet":
        if attribute in ("AvailabilityZone", "CidrBlock", "VpcId"):
            return str(assembly.prop(ref, attribute))
        return f"subnet-{ident}"
    prefixes = {"AWS::EC2::SecurityGroup": "sg", "AWS::EC2::LaunchTemplate": "lt", "AWS::EC2::RouteTable": "rtb",
                "AWS::EC2::NatGateway": "nat", "AWS::EC2::InternetGateway": "igw", "AWS::EC2::VPNGateway": "vgw",
                "AWS::EC2::VPCEndpoint": "vpce", "AWS::EC2::NetworkAcl": "acl", "AWS::EC2::Volume": "vol",
                "AWS::EC2::Instance": "i", "AWS::EC2::PrefixList": "pl", "AWS::EC2::EIP": "eipalloc",
                "AWS::EFS::FileSystem": "fs", "AWS::FSx::FileSystem": "fs", "AWS::EC2::PlacementGroup": "pg",
                "AWS::EC2::NetworkInterface": "eni", "AWS::EC2::TransitGateway": "tgw"}
    if kind in prefixes:
        base = f"{prefixes[kind]}-{ident}"
        if kind == "AWS::EC2::LaunchTemplate" and attribute in ("LatestVersionNumber", "DefaultVersionNumber"):
            return "1"
        if kind == "AWS::EFS::FileSystem" and attribute == "Arn":
            return arn("elasticfilesystem", f"file-system/{base}")
        if kind == "AWS::FSx::FileSystem" and attribute == "ResourceARN":
            return arn("fsx", f"file-system/{base}")
        if kind == "AWS::EC2::Volume" and attribute is None:
            return base
        if attribute in (None, "GroupId", "Id", "LaunchTemplateId", "FileSystemId", "VolumeId", "InstanceId",
                         "PrefixListId", "RouteTableId", "NetworkAclId", "AllocationId", "VpnGatewayId"):
            return base
        return f"{base}.{attribute}"
    if kind == "AWS::IAM::Role":
        name = named("RoleName")
        path = named("Path", "/")
        return {None: name, "Arn": arn("iam", f"role{path}{name}", global_=True),
                "RoleId": f"AROA{ident}"}.get(attribute, f"{name}.{attribute}")
    if kind == "AWS::IAM::InstanceProfile":
        name = named("InstanceProfileName")
        path = named("Path", "/")
        return {None: name, "Arn": arn("iam", f"instance-profile{path}{name}", global_=True)}.get(
            attribute, f"{name}.{attribute}")
    if kind == "AWS::IAM::ManagedPolicy":
        name = named("ManagedPolicyName")
        path = named("Path", "/")
        return arn("iam", f"policy{path}{name}", global_=True)
    if kind == "AWS::S3::Bucket":
        name = named("BucketName", f"{_stack_name(stack)}-{ref.logical_id}".lower())
        return {None: name, "Arn": f"arn:{PARTITION}:s3:::{name}",
                "DomainName": f"{name}.s3.{URL_SUFFIX}"}.get(attribute, f"{name}.{attribute}")
    if kind == "AWS::SecretsManager::Secret":
        return arn("secretsmanager", f"secret:{named('Name')}-AbCdEf")
    if kind == "AWS::KMS::Key":
        key = f"key-{ident}"
        return arn("kms", f"key/{key}") if attribute == "Arn" else key
    if kind == "AWS::SNS::Topic":
        name = named("TopicName")
        return name if attribute == "TopicName" else arn("sns", name)
    if kind == "AWS::SQS::Queue":
        name = named("QueueName")
        return {None: f"https://sqs.{region}.{URL_SUFFIX}/{account}/{name}", "QueueUrl":
                f"https://sqs.{region}.{URL_SUFFIX}/{account}/{name}", "Arn": arn("sqs", name),
                "QueueName": name}.get(attribute, f"{name}.{attribute}")
    if kind == "AWS::Logs::LogGroup":
        name = named("LogGroupName")
        return arn("logs", f"log-group:{name}:*") if attribute == "Arn" else name
    if kind == "AWS::Events::Rule":
        name = named("Name")
        return arn("events", f"rule/{name}") if attribute == "Arn" else name
    if kind == "AWS::PCS::Cluster":
        cluster = f"pcs_{ident}"
        return {"Id": cluster, "Arn": arn("pcs", f"cluster/{cluster}")}.get(attribute or "Arn",
                                                                              f"{cluster}.{attribute}")
    if kind in ("AWS::PCS::ComputeNodeGroup", "AWS::PCS::Queue"):
        child = f"pcs_{ident}"
        what = "computenodegroup" if kind.endswith("Group") else "queue"
        return {"Id": child, "Arn": arn("pcs", f"cluster/*/{what}/{child}")}.get(attribute or "Arn",
                                                                                  f"{child}.{attribute}")
    if kind.startswith("AWS::Batch::"):
        what = {"AWS::Batch::ComputeEnvironment": "compute-environment", "AWS::Batch::JobQueue": "job-queue",
                "AWS::Batch::JobDefinition": "job-definition"}.get(kind, "resource")
        return arn("batch", f"{what}/{ident}")
    if kind.startswith("AWS::DataSync::"):
        if kind == "AWS::DataSync::Task":
            return arn("datasync", f"task/task-{ident}")
        return arn("datasync", f"location/loc-{ident}")
    if kind.startswith("AWS::ElasticLoadBalancingV2::"):
        what = kind.rsplit("::", 1)[1].lower()
        return f"{arn('elasticloadbalancing', f'{what}/{ident}')}" + (f".{attribute}" if attribute else "")
    if kind == "AWS::Lambda::Function":
        name = named("FunctionName")
        return arn("lambda", f"function:{name}") if attribute == "Arn" else name
    if kind == NESTED_STACK_TYPE:
        return arn("cloudformation", f"stack/{ident}/id")
    if kind == "AWS::AutoScaling::AutoScalingGroup":
        return named("AutoScalingGroupName")
    short = kind.rsplit("::", 1)[-1].lower()
    if attribute == "Arn":
        service = kind.split("::")[1].lower() if kind.count("::") == 2 else "unknown"
        return arn(service, f"{short}/{ident}")
    return f"{short}-{ident}" + (f".{attribute}" if attribute else "")


# -- reading the manifest ------------------------------------------------------------------------------------------

def _load_manifest(root: Path, manifest_file: Path, stacks: list[Stack]) -> None:
    try:
        manifest = json.loads(manifest_file.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise AssemblyError(f"{manifest_file}: not a readable cloud assembly manifest ({error})") from None
    artifacts = manifest.get("artifacts")
    if not isinstance(artifacts, dict):
        raise AssemblyError(f"{manifest_file}: not a cloud assembly manifest (no artifacts)")
    for artifact_id, artifact in artifacts.items():
        kind = artifact.get("type")
        properties = artifact.get("properties", {})
        if kind == STACK_TYPE:
            account, region = _environment(str(artifact.get("environment", "")))
            template_file = root / properties["templateFile"]
            name = str(properties.get("stackName") or artifact.get("displayName") or artifact_id)
            name = name.rsplit("/", 1)[-1] if "stackName" not in properties and "/" in name else name
            stack = Stack(name, _read(template_file), account, region, artifact=artifact_id)
            _load_nested(root, stack)
            stacks.append(stack)
        elif kind == NESTED_ASSEMBLY_TYPE:
            directory = root / properties["directoryName"]
            _load_manifest(directory, directory / "manifest.json", stacks)


def _load_nested(root: Path, stack: Stack) -> None:
    for logical_id, resource in stack.resources.items():
        if resource.get("Type") != NESTED_STACK_TYPE:
            continue
        asset = resource.get("Metadata", {}).get("aws:asset:path")
        if not isinstance(asset, str) or not (root / asset).is_file():
            continue  # a nested stack from elsewhere (a TemplateURL): its resources are not known here
        child = Stack(f"{stack.name}/{logical_id}", _read(root / asset), stack.account, stack.region,
                      parent=stack, parent_logical_id=logical_id)
        stack.children[logical_id] = child
        _load_nested(root, child)


def _environment(environment: str) -> tuple[str, str]:
    match = re.fullmatch(r"aws://([^/]+)/([^/]+)", environment)
    if match is None:
        return UNKNOWN_ACCOUNT, UNKNOWN_REGION
    return match.group(1), match.group(2)


def _read(path: Path) -> dict[str, Any]:
    try:
        template: dict[str, Any] = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise AssemblyError(f"{path}: not a readable template ({error})") from None
    return template
