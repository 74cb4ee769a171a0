"""What a change replaces, and what that costs: two cloud assemblies compared with CloudFormation's resource schemas.

    python -m hpc_constructs.changes OLD_ASSEMBLY NEW_ASSEMBLY [--json]
    hpc-changes OLD_ASSEMBLY NEW_ASSEMBLY            (the same, as a console script)

One line for every resource CloudFormation would replace when NEW is deployed over OLD (two `cdk.out` directories:
any CDK app's, top-level and nested stacks): its stack, logical ID, type, the cause and the impact.

A resource is replaced when
- a create-only property changes: the resource schemas cfn-lint ships (`createOnlyProperties`; `tagging` with
  `tagUpdatable: false` for its tags), read at run time, plus the few nested properties the CloudFormation reference
  documents and the schema misses (catalog.replacement.DOCUMENTED_REPLACEMENTS);
- a conditionally create-only property changes and the resource's condition holds (catalog.replacement.CONDITIONS;
  otherwise the line says "may be replaced");
- a create-only property refers to a resource that is replaced, or to a value that changes because of one (Ref,
  GetAtt, Sub, a nested stack's parameter, Fn::GetStackOutput, Fn::ImportValue): a PCS cluster's node groups follow it;
- its logical ID or its template changes: a construct renamed, or moved between a stack and a nested stack.
A resource that leaves the app is listed when that loses data or running work.

Impacts, most severe first:
- `data loss`: it holds data (a file system, volume, bucket, log group, key, secret), or the old one is retained and
  orphaned outside the stack (UpdateReplacePolicy or DeletionPolicy Retain);
- `fails`: CloudFormation creates the replacement before it deletes the old resource, and a name the template fixes
  (a name property the schema makes create-only, or an identifier) is still taken; or the old resource's value is a
  stack export another stack imports, which CloudFormation refuses to change;
- `disrupts running work`: a PCS cluster, node group or queue, a Batch environment or queue, an Auto Scaling group,
  an instance, a load balancer;
- `replaced`: the rest.

Exit status: 1 when any line is `data loss` or `fails`, else 0 (2 for bad arguments). `--json` prints the lines as a
list of objects with the fields stack, logical_id, type, cause and impact.

Resource types without a schema (third-party and private types) are not judged: the text report names them; custom
resources (Custom::*) are judged by the schema of AWS::CloudFormation::CustomResource.
Needs cfn-lint (`pip install "hpc-constructs[changes]"`). Plain Python over the assemblies' JSON: this module
imports no CDK module and calls no AWS API (importing the hpc_constructs package still loads aws-cdk-lib).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from hpc_constructs.catalog.replacement import (
    CONDITIONS,
    DOCUMENTED_REPLACEMENTS,
    NAME_SCOPES,
    RUNNING_WORK_TYPES,
    data_loss,
)

DATA_LOSS = "data loss"
FAILS = "fails"
DISRUPTS = "disrupts running work"
REPLACED = "replaced"
IMPACTS = (DATA_LOSS, FAILS, DISRUPTS, REPLACED)  # most severe first
DEFAULT_REGION = "us-east-1"
_STACK_PSEUDO_PARAMETERS = frozenset({"AWS::StackName", "AWS::StackId"})


@dataclass(frozen=True)
class Change:
    """One resource that the deployment replaces (or removes), and what that costs."""

    stack: str  # a top-level stack, or a nested one as <stack>/<nested stack's construct id>
    logical_id: str
    type: str
    cause: str
    impact: str

    def line(self) -> str:
        return f"{self.impact}: {self.stack} {self.logical_id} ({self.type}): {self.cause}"


# -- the assembly --------------------------------------------------------------------------------------------------

@dataclass
class Template:
    """One CloudFormation template of an assembly: a top-level stack, or a nested stack inside one."""

    name: str  # the stack's name; a nested stack's is <parent's name>/<its construct id>
    body: dict[str, Any]
    region: str
    construct_path: str  # the stack's construct path, which begins its resources' aws:cdk:path
    root_path: str  # the top-level stack's construct path
    parent: tuple[str, str] | None = None  # (parent template, logical ID of its AWS::CloudFormation::Stack)

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.body.get("Resources", {})
        return resources

    def normalized_path(self, logical_id: str) -> str | None:
        """The resource's construct path without nested-stack levels: it stays when a part moves between them."""
        path = (self.resources[logical_id].get("Metadata") or {}).get("aws:cdk:path")
        if not isinstance(path, str):
            return None
        if path.startswith(self.construct_path + "/"):
            return self.root_path + path[len(self.construct_path):]
        return path


class AssemblyError(ValueError):
    """A directory that is not a readable cloud assembly."""


def load_assembly(directory: str | Path) -> dict[str, Template]:
    """Every template of a cloud assembly (cdk.out): top-level stacks, nested stacks and nested assemblies (stages)."""
    directory = Path(directory)
    manifest_file = directory / "manifest.json"
    try:
        manifest = json.loads(manifest_file.read_text())
    except (OSError, ValueError) as error:
        raise AssemblyError(f"{directory}: not a cloud assembly ({manifest_file.name}: {error})") from None
    templates: dict[str, Template] = {}
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        properties = artifact.get("properties", {})
        if artifact.get("type") == "cdk:cloud-assembly":
            templates.update(load_assembly(directory / properties["directoryName"]))
        elif artifact.get("type") == "aws:cloudformation:stack":
            region = str(artifact.get("environment", "")).rsplit("/", 1)[-1]
            path = str(artifact.get("displayName") or artifact_id)
            _add_template(templates, directory, Template(
                name=str(properties.get("stackName") or artifact_id),
                body=json.loads((directory / properties["templateFile"]).read_text()),
                region=region if region and region != "unknown-region" else DEFAULT_REGION,
                construct_path=path, root_path=path))
    return templates


def _add_template(templates: dict[str, Template], directory: Path, template: Template) -> None:
    """Add a template and, recursively, the nested stacks whose templates the assembly holds (aws:asset:path)."""
    templates[template.name] = template
    for logical_id, resource in template.resources.items():
        metadata = resource.get("Metadata") or {}
        asset = metadata.get("aws:asset:path")
        if resource.get("Type") != "AWS::CloudFormation::Stack" or not isinstance(asset, str) \
                or not (directory / asset).is_file():
            continue
        # CDK's path of a nested stack's resource: <construct path>.NestedStack/<id>.NestedStackResource
        path = str(metadata.get("aws:cdk:path", ""))
        construct_path = path.split(".NestedStack/", 1)[0] if ".NestedStack/" in path else ""
        own = construct_path[len(template.construct_path) + 1:] \
            if construct_path.startswith(template.construct_path + "/") else logical_id
        _add_template(templates, directory, Template(
            name=f"{template.name}/{own}", body=json.loads((directory / asset).read_text()), region=template.region,
            construct_path=construct_path or f"{template.construct_path}/{logical_id}", root_path=template.root_path,
            parent=(template.name, logical_id)))


# -- the schemas -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReplacementRules:
    """What replaces a resource of one type, from its schema (and catalog.replacement)."""

    create_only: tuple[str, ...] = ()  # JSON pointers, /properties/...
    documented: tuple[str, ...] = ()  # catalog.replacement.DOCUMENTED_REPLACEMENTS
    conditional: tuple[str, ...] = ()
    fixed_tags: str | None = None  # the tag property when tags are not updatable (and not already create-only)
    identities: tuple[tuple[str, ...], ...] = ()  # property sets that name the resource (unique while it exists)
    known: bool = True  # False: no schema; the type is not judged


class SchemaError(RuntimeError):
    """cfn-lint is missing."""


@cache
def replacement_rules(resource_type: str, region: str = DEFAULT_REGION) -> ReplacementRules:
    """The type's replacement rules from the schema cfn-lint ships (or its cache, when `cfn-lint -u` got newer ones)."""
    try:
        from cfnlint.schema import PROVIDER_SCHEMA_MANAGER, ResourceNotFoundError
        from cfnlint.schema.manager import REGIONS
    except ImportError as error:  # an optional dependency: hpc-constructs[changes]
        raise SchemaError('hpc_constructs.changes reads CloudFormation\'s resource schemas from cfn-lint: '
                          'pip install "hpc-constructs[changes]" (or cfn-lint)') from error
    try:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(
            region if region in REGIONS else DEFAULT_REGION, resource_type).schema
    except ResourceNotFoundError:
        return ReplacementRules(known=False)
    return rules_from_schema(resource_type, schema)


def rules_from_schema(resource_type: str, schema: Mapping[str, Any]) -> ReplacementRules:
    create_only = tuple(schema.get("createOnlyProperties", ()))
    read_only = set(schema.get("readOnlyProperties", ()))
    tagging = schema.get("tagging") or {}
    tag_property = tagging.get("tagProperty")
    fixed_tags = (tag_property if tagging.get("tagUpdatable") is False and tag_property
                  and tag_property not in create_only else None)
    properties = schema.get("properties", {})

    def writable_name(pointer: str) -> str | None:
        name = pointer.removeprefix("/properties/")
        kind = properties.get(name, {}).get("type")
        return name if ("/" not in name and pointer in create_only and pointer not in read_only
                        and kind in ("string", None)) else None

    identities: list[tuple[str, ...]] = []
    for group in [schema.get("primaryIdentifier", []), *schema.get("additionalIdentifiers", [])]:
        names = [writable_name(p) for p in group]
        if names and all(names):
            identities.append(tuple(n for n in names if n))
    # CloudFormation's rule for named resources: "If you specify a name, you can't perform updates that require
    # replacement of this resource." Its name property is Name or <Type>Name (JobQueueName, LaunchTemplateName).
    for candidate in ("Name", resource_type.rsplit("::", 1)[-1] + "Name"):
        if writable_name(f"/properties/{candidate}") and (candidate,) not in identities:
            identities.append((candidate,))
    scope = NAME_SCOPES.get(resource_type)
    if scope is not None:
        identities = [i for i in identities if i != (scope.name,)] + [(scope.name, *scope.within)]
    return ReplacementRules(
        create_only=create_only,
        documented=tuple(d.pointer for d in DOCUMENTED_REPLACEMENTS
                         if d.resource_type == resource_type and d.pointer not in create_only),
        conditional=tuple(schema.get("conditionalCreateOnlyProperties", ())),
        fixed_tags=fixed_tags,
        identities=tuple(identities))


# -- values ---------------------------------------------------------------------------------------------------------

_MISSING = object()


def _at(resource: Mapping[str, Any], pointer: str) -> Any:
    """The value at a schema pointer (/properties/A/B, `*` for every item of a list), or _MISSING."""
    value: Any = resource.get("Properties") or {}
    for part in pointer.removeprefix("/properties/").split("/"):
        if isinstance(value, dict) and len(value) == 1 and next(iter(value)).startswith("Fn::"):
            return value  # an intrinsic function: compared as written
        if part == "*" and isinstance(value, list):
            items = [_at({"Properties": item}, "/properties/" + pointer.split("/*/", 1)[1])
                     if "/*/" in pointer else item for item in value]
            return [i for i in items if i is not _MISSING]
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _text(value: Any, limit: int = 80) -> str:
    if value is _MISSING:
        return "(unset)"
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _same(a: Any, b: Any) -> bool:
    return (a is _MISSING and b is _MISSING) or (a is not _MISSING and b is not _MISSING and _text(a, 10**9)
                                                  == _text(b, 10**9))


_SUB_NAME = re.compile(r"\$\{([^!][^}]*)\}")


def _references(value: Any) -> Iterator[tuple[str, Any]]:
    """What a template value refers to: ("ref", name), ("import", export name), ("output", (stack, output))."""
    if isinstance(value, list):
        for item in value:
            yield from _references(item)
    elif isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str):
            yield "ref", value["Ref"]
        elif "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            yield "ref", target[0] if isinstance(target, list) else str(target).split(".", 1)[0]
        elif "Fn::Sub" in value:
            body = value["Fn::Sub"]
            text, variables = (body[0], body[1]) if isinstance(body, list) else (body, {})
            for name in _SUB_NAME.findall(str(text)):
                if name not in variables:
                    yield "ref", name.split(".", 1)[0]
            yield from _references(variables)
        elif "Fn::ImportValue" in value and isinstance(value["Fn::ImportValue"], str):
            yield "import", value["Fn::ImportValue"]
        elif "Fn::GetStackOutput" in value and isinstance(value["Fn::GetStackOutput"], dict):
            target = value["Fn::GetStackOutput"]
            if isinstance(target.get("StackName"), str) and isinstance(target.get("OutputName"), str):
                yield "output", (target["StackName"], target["OutputName"])
        for key, item in value.items():
            if key not in ("Ref",):
                yield from _references(item)


# -- the comparison ------------------------------------------------------------------------------------------------

Key = tuple[str, str]  # (template name, logical ID)


@dataclass
class _Replacement:
    old: Key
    new: Key
    causes: list[str] = field(default_factory=list)


class _Comparison:
    """Old and new templates paired resource by resource; what is replaced, and why, to a fixed point."""

    def __init__(self, old: Mapping[str, Template], new: Mapping[str, Template]) -> None:
        self.old, self.new = old, new
        self.pairs: dict[Key, Key] = {}  # new key -> old key
        self.removed: list[Key] = []
        self.replaced: dict[Key, _Replacement] = {}  # by new key
        self.unknown_types: set[str] = set()
        self._pair()
        self._find_replacements()

    def _resource(self, side: Mapping[str, Template], key: Key) -> dict[str, Any]:
        return side[key[0]].resources[key[1]]

    def _rules(self, side: Mapping[str, Template], key: Key) -> ReplacementRules:
        rules = replacement_rules(self._resource(side, key)["Type"], side[key[0]].region)
        if not rules.known:
            self.unknown_types.add(self._resource(side, key)["Type"])
        return rules

    # Pairing: the same template and logical ID; else (a move or a rename) the same type and the same construct
    # path without nested-stack levels, the same logical ID in another template, or the same fixed name.
    def _pair(self) -> None:
        old_keys = [(t, lid) for t, template in self.old.items() for lid in template.resources]
        new_keys = [(t, lid) for t, template in self.new.items() for lid in template.resources]
        new_set = set(new_keys)
        unpaired_old = [k for k in old_keys if k not in new_set or self._type(self.old, k) != self._type(self.new, k)]
        unpaired_new = {k for k in new_keys if k not in set(old_keys) or k in unpaired_old}
        for key in new_keys:
            if key not in unpaired_new:
                self.pairs[key] = key
        def path(side: Mapping[str, Template], key: Key) -> Any:
            return side[key[0]].normalized_path(key[1])

        def logical_id(side: Mapping[str, Template], key: Key) -> Any:
            return key[1]

        for match in (path, logical_id, self._identity_values):
            index: dict[tuple[str, Any], Key] = {}
            for key in sorted(unpaired_new):
                value = match(self.new, key)
                if value is not None:
                    index.setdefault((self._type(self.new, key), value), key)
            for key in list(unpaired_old):
                value = match(self.old, key)
                found = index.get((self._type(self.old, key), value)) if value is not None else None
                if found is not None and found in unpaired_new:
                    self.pairs[found] = key
                    unpaired_new.discard(found)
                    unpaired_old.remove(key)
        # A stack that leaves the app keeps its resources until `cdk destroy`: only nested stacks' resources go.
        self.removed = [k for k in unpaired_old if k[0].split("/", 1)[0] in self.new]

    def _type(self, side: Mapping[str, Template], key: Key) -> str:
        return str(self._resource(side, key).get("Type"))

    def _identity_values(self, side: Mapping[str, Template], key: Key) -> Any:
        resource = self._resource(side, key)
        values = []
        for identity in self._rules(side, key).identities:
            found = [_at(resource, f"/properties/{p}") for p in identity]
            if all(v is not _MISSING for v in found):
                values.append(_text(found, 10**9))
        return tuple(values) or None

    # What changes with a deployment: replaced resources, and values computed from them.
    def _changing(self, template: str, value: Any, seen: frozenset[Key] = frozenset()) -> str | None:
        """Why `value` (in the new template) changes with the replacements found so far, or None."""
        new_template = self.new[template]
        for kind, target in _references(value):
            if kind == "ref" and (template, target) in self.replaced:
                return f"{target} is replaced"
            if kind == "ref" and target in (new_template.body.get("Parameters") or {}):
                reason = self._changing_parameter(template, target, seen)
                if reason:
                    return reason
            if kind == "output":
                stack, output = target
                if stack in self.new and (stack, output) not in seen:
                    found = (self.new[stack].body.get("Outputs") or {}).get(output)
                    reason = self._changing(stack, found.get("Value"), seen | {(stack, output)}) if found else None
                    if reason:
                        return f"{stack} output {output}: {reason}"
            if kind == "import":
                for stack, t in self.new.items():
                    for output_id, output in (t.body.get("Outputs") or {}).items():
                        if (output.get("Export") or {}).get("Name") == target and (stack, output_id) not in seen:
                            reason = self._changing(stack, output.get("Value"), seen | {(stack, output_id)})
                            if reason:
                                return f"export {target}: {reason}"
        return None

    def _changing_parameter(self, template: str, parameter: str, seen: frozenset[Key]) -> str | None:
        parent = self.new[template].parent
        if parent is None or (template, "Parameters/" + parameter) in seen:
            return None
        parent_template, stack_id = parent
        value = ((self.new[parent_template].resources[stack_id].get("Properties") or {}).get("Parameters")
                 or {}).get(parameter, _MISSING)
        if value is _MISSING:
            return None
        old_key = self.pairs.get((parent_template, stack_id))
        if old_key is not None:
            old_value = ((self._resource(self.old, old_key).get("Properties") or {}).get("Parameters")
                         or {}).get(parameter, _MISSING)
            if not _same(old_value, value):
                return f"parameter {parameter} changes"
        reason = self._changing(parent_template, value, seen | {(template, "Parameters/" + parameter)})
        return f"parameter {parameter}: {reason}" if reason else None

    def _find_replacements(self) -> None:
        for new_key, old_key in self.pairs.items():
            causes = self._direct_causes(old_key, new_key)
            if causes:
                self.replaced[new_key] = _Replacement(old_key, new_key, causes)
        while True:  # cascades: create-only values computed from what is replaced
            found = False
            for new_key, old_key in self.pairs.items():
                if new_key in self.replaced:
                    continue
                causes = self._cascade_causes(new_key)
                if causes:
                    self.replaced[new_key] = _Replacement(old_key, new_key, causes)
                    found = True
            if not found:
                break
        for replacement in self.replaced.values():  # what else changes under a replaced resource: a new parent
            if replacement.old == replacement.new:
                replacement.causes += [c for c in self._cascade_causes(replacement.new)
                                       if c not in replacement.causes]

    def _direct_causes(self, old_key: Key, new_key: Key) -> list[str]:
        old, new = self._resource(self.old, old_key), self._resource(self.new, new_key)
        if old_key != new_key:
            where = (f"moved from {old_key[0]} to {new_key[0]}" if old_key[0] != new_key[0]
                     else f"renamed from {old_key[1]}")
            return [f"{where}: CloudFormation creates it anew and deletes the old one"]
        rules = self._rules(self.new, new_key)
        causes = []
        for pointer in (*rules.create_only, *rules.documented):
            before, after = _at(old, pointer), _at(new, pointer)
            if not _same(before, after):
                causes.append(f"{_name(pointer)} {_text(before)} -> {_text(after)} ({_why(rules, pointer)})")
        if rules.fixed_tags:
            before, after = _at(old, rules.fixed_tags), _at(new, rules.fixed_tags)
            if not _same(before, after):
                causes.append(f"{_name(rules.fixed_tags)} {_text(before)} -> {_text(after)} "
                              "(the schema says tags are not updatable)")
        conditional = [p for p in rules.conditional if not _same(_at(old, p), _at(new, p))]
        if conditional:
            condition = CONDITIONS.get(new["Type"])
            changed = ", ".join(_name(p) for p in conditional)
            if condition is None:
                causes.append(f"may be replaced: {changed} changed (conditionally create-only in the schema)")
            elif condition.replaces(new):
                causes.append(f"{changed} changed, and {condition.when}")
        return causes

    def _cascade_causes(self, new_key: Key) -> list[str]:
        rules = self._rules(self.new, new_key)
        resource = self._resource(self.new, new_key)
        causes = []
        for pointer in (*rules.create_only, *rules.documented):
            value = _at(resource, pointer)
            if value is not _MISSING:
                reason = self._changing(new_key[0], value)
                if reason:
                    causes.append(f"{_name(pointer)} changes: {reason} ({_why(rules, pointer)})")
        return causes

    # -- what it costs ---------------------------------------------------------------------------------------------

    def changes(self) -> list[Change]:
        out = [self._replacement_change(r) for r in self.replaced.values()]
        for key in self.removed:
            change = self._removal_change(key)
            if change is not None:
                out.append(change)
        return sorted(out, key=lambda c: (IMPACTS.index(c.impact), c.stack, c.logical_id))

    def _replacement_change(self, replacement: _Replacement) -> Change:
        old = self._resource(self.old, replacement.old)
        new = self._resource(self.new, replacement.new)
        causes = list(replacement.causes)
        impacts = [REPLACED]
        lost = data_loss(new["Type"])
        retained = str(old.get("UpdateReplacePolicy") or old.get("DeletionPolicy") or "") == "Retain" \
            if replacement.old != replacement.new else str(old.get("UpdateReplacePolicy") or "") == "Retain"
        if retained:
            impacts.append(DATA_LOSS)
            causes.append("the old one is retained, orphaned outside the stack, and the stack gets "
                          + (lost or "a new one"))
        elif lost:
            impacts.append(DATA_LOSS)
            causes.append(f"the old one is deleted: {lost}")
        taken = self._names_taken(replacement)
        if taken:
            impacts.append(FAILS)
            causes.append(f"{taken} is still taken when CloudFormation creates the replacement (it deletes the old "
                          "one afterwards): the deployment fails")
        for export in self._exports_in_use(replacement.old):
            impacts.append(FAILS)
            causes.append(f"its value is export {export}, which another stack imports: CloudFormation refuses to "
                          "change it, the deployment fails")
        if new["Type"] in RUNNING_WORK_TYPES:
            impacts.append(DISRUPTS)
            causes.append(RUNNING_WORK_TYPES[new["Type"]])
        impact = min(impacts, key=IMPACTS.index)
        return Change(replacement.new[0], replacement.new[1], new["Type"], "; ".join(causes), impact)

    def _removal_change(self, key: Key) -> Change | None:
        old = self._resource(self.old, key)
        resource_type = old["Type"]
        lost = data_loss(resource_type)
        if str(old.get("DeletionPolicy") or "") == "Retain" and (lost or resource_type in RUNNING_WORK_TYPES):
            return Change(key[0], key[1], resource_type, "removed from the app: it is retained, orphaned outside "
                          "the stack" + (" with its data" if lost else ", still running"), DATA_LOSS)
        if lost:
            return Change(key[0], key[1], resource_type, "removed from the app: deleted with its data", DATA_LOSS)
        if resource_type in RUNNING_WORK_TYPES:
            return Change(key[0], key[1], resource_type, f"removed from the app: {RUNNING_WORK_TYPES[resource_type]}",
                          DISRUPTS)
        return None

    def _names_taken(self, replacement: _Replacement) -> str | None:
        """The fixed name the old resource still holds when the new one is created (same value, same scope)."""
        old = self._resource(self.old, replacement.old)
        new = self._resource(self.new, replacement.new)
        moved = replacement.old[0] != replacement.new[0]
        for identity in self._rules(self.new, replacement.new).identities:
            before = [_at(old, f"/properties/{p}") for p in identity]
            after = [_at(new, f"/properties/{p}") for p in identity]
            if any(v is _MISSING for v in after) or not all(_same(b, a) for b, a in zip(before, after, strict=True)):
                continue
            if any(self._changing(replacement.new[0], v) for v in after):
                continue  # computed from something replaced: a new value (a new parent, a new name)
            if moved and any(kind == "ref" and target in _STACK_PSEUDO_PARAMETERS
                             for v in after for kind, target in _references(v)):
                continue  # the stack's own name, which differs in the new template
            scope = NAME_SCOPES.get(new["Type"])
            if scope is not None and identity == (scope.name, *scope.within):
                return f"{scope.name} {_text(after[0], 60)} (in the same {', '.join(scope.within)})"
            return " and ".join(f"{p} {_text(v, 60)}" for p, v in zip(identity, after, strict=True))
        return None

    def _exports_in_use(self, old_key: Key) -> list[str]:
        """Exports of the old template whose value is this resource and that another old stack imports."""
        template = self.old[old_key[0]]
        imported = {target for name, t in self.old.items() if name != old_key[0]
                    for kind, target in _references(t.body) if kind == "import"}
        exports = []
        for output in (template.body.get("Outputs") or {}).values():
            export = (output.get("Export") or {}).get("Name")
            if isinstance(export, str) and export in imported and any(
                    kind == "ref" and target == old_key[1] for kind, target in _references(output.get("Value"))):
                exports.append(export)
        return exports


def _name(pointer: str) -> str:
    return pointer.removeprefix("/properties/")


def _why(rules: ReplacementRules, pointer: str) -> str:
    return "create-only in the schema" if pointer in rules.create_only else \
        "the CloudFormation reference: Update requires Replacement"


def compare(old: Mapping[str, Template], new: Mapping[str, Template]) -> list[Change]:
    """Every resource of `old` that deploying `new` replaces (or removes, losing data or running work)."""
    return _Comparison(old, new).changes()


def compare_assemblies(old_dir: str | Path, new_dir: str | Path) -> tuple[list[Change], set[str]]:
    """compare() on two cdk.out directories; also the resource types without a schema (not judged)."""
    comparison = _Comparison(load_assembly(old_dir), load_assembly(new_dir))
    return comparison.changes(), comparison.unknown_types


def exit_status(changes: Sequence[Change]) -> int:
    return 1 if any(c.impact in (DATA_LOSS, FAILS) for c in changes) else 0


def report(changes: Sequence[Change], unknown_types: set[str] | frozenset[str] = frozenset()) -> str:
    """The text report: a summary line, then one line per resource, most severe first."""
    if not changes:
        lines = ["No resource is replaced."]
    else:
        counts = ", ".join(f"{sum(c.impact == i for c in changes)} {i}" for i in IMPACTS
                           if any(c.impact == i for c in changes))
        lines = [f"{len(changes)} resource(s) replaced or removed ({counts}):", *(c.line() for c in changes)]
    if unknown_types:
        lines.append(f"Not judged (no resource schema): {', '.join(sorted(unknown_types))}.")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="hpc-changes", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old", help="the deployed app's cloud assembly (cdk.out)")
    parser.add_argument("new", help="the cloud assembly to deploy")
    parser.add_argument("--json", action="store_true", help="print a JSON list of {stack, logical_id, type, cause, "
                                                            "impact}")
    args = parser.parse_args(argv)
    try:
        changes, unknown = compare_assemblies(args.old, args.new)
    except (AssemblyError, SchemaError) as error:
        print(f"hpc-changes: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([asdict(c) for c in changes], indent=2))
    else:
        print(report(changes, unknown))
    return exit_status(changes)


if __name__ == "__main__":
    sys.exit(main())
