"""Patches moto's CloudFormation engine so that CDK's templates deploy as CloudFormation would deploy them.

What changes, and why (each is a gap of stock moto 5.2.5, not a rule of ours):
- Resource types: `handlers.HANDLERS` first, then moto's models. A type that neither knows fails the stack
  (stock moto skips it with a warning and reports CREATE_COMPLETE).
- `Fn::GetStackOutput` (CDK's weak cross-stack references) resolves from the named stack's outputs.
- A change set named by its name is looked up within the named stack (stacks deployed at the same time each
  have a change set of the same name).
- A change set creates resources in dependency order (DependsOn, Ref, Fn::GetAtt, Fn::Sub), with an event per
  resource; a failure rolls the stack back (ROLLBACK_COMPLETE) with the error as the event's reason, where
  stock moto answers HTTP 500 and leaves a CREATE_COMPLETE stack. Updates of an existing stack are refused:
  deploy-local always starts from a fresh emulator.
- Stack deletion goes in reverse dependency order with an event per resource, keeps `DeletionPolicy: Retain`
  resources, and ends in DELETE_FAILED (naming what is left) rather than an HTTP 500.
- AWS's public SSM parameters (`/aws/service/...`, e.g. the latest AMI IDs) resolve to an image that moto
  knows when moto's own copy lacks them; the read-back lists each one as simulated.
"""

from __future__ import annotations

import re
from typing import Any

from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing
from moto.cloudformation.custom_model import CustomModel
from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.responses import CloudFormationResponse
from moto.core.responses import ActionResult, EmptyResult
from moto.ec2.models import ec2_backends
from moto.ec2.models.core import TaggedEC2Resource

from scripts.emulator import api
from scripts.emulator.handlers import (
    DELETERS,
    HANDLERS,
    SIMULATED,
    Emulated,
    install_attributes,
    record_simulated,
)

_INSTALLED = False
_ORIGINAL: dict[str, Any] = {}


class UnsupportedResourceError(Exception):
    pass


def _resource_class(resource_type: str) -> Any:
    if resource_type in HANDLERS:
        return HANDLERS[resource_type]
    if resource_type in parsing.NULL_MODELS:
        return None
    model = parsing.get_model_map().get(resource_type)
    if model is None or model is CustomModel or resource_type.startswith("Custom::"):
        raise UnsupportedResourceError(
            f"the local emulator cannot create {resource_type}: neither moto nor scripts/emulator/handlers.py "
            "has a handler for it (add one that does what CloudFormation does, and nothing else)")
    return model


def _clean_json(resource_json: Any, resources_map: Any) -> Any:
    if isinstance(resource_json, dict) and "Fn::GetStackOutput" in resource_json:
        spec = _ORIGINAL["clean_json"](resource_json["Fn::GetStackOutput"], resources_map)
        backend = cfn_models.cloudformation_backends[resources_map._account_id][
            spec.get("Region") or resources_map._region_name]
        stack = next((s for s in backend.stacks.values()
                      if s.name == spec["StackName"] and s.status.endswith("_COMPLETE")
                      and not s.status.startswith(("ROLLBACK", "DELETE"))), None)
        if stack is None:
            raise ValidationError(message=f"Fn::GetStackOutput: stack {spec['StackName']} does not exist")
        output = stack.output_map.get(spec["OutputName"])
        if output is None:
            raise ValidationError(message=f"Fn::GetStackOutput: stack {spec['StackName']} has no output "
                                          f"{spec['OutputName']}")
        return output.value
    return _ORIGINAL["clean_json"](resource_json, resources_map)


_SUB_NAME = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}")


def _references(node: Any) -> set[str]:
    """Logical IDs a resource definition names through Ref, Fn::GetAtt and Fn::Sub."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else str(value).split(".")[0])
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                found.update(_SUB_NAME.findall(text))
                if isinstance(value, list):
                    found.update(_references(value[1]))
            else:
                found.update(_references(value))
    elif isinstance(node, list):
        for value in node:
            found.update(_references(value))
    return found


def dependency_order(resources: dict[str, Any]) -> list[str]:
    """A topological order of the template's resources (stable: template order among independent ones)."""
    deps: dict[str, set[str]] = {}
    for logical_id, definition in resources.items():
        depends_on = definition.get("DependsOn", [])
        names = {depends_on} if isinstance(depends_on, str) else set(depends_on)
        names |= _references(definition.get("Properties", {}))
        deps[logical_id] = {n for n in names if n in resources and n != logical_id}
    order: list[str] = []
    done: set[str] = set()

    def visit(logical_id: str, path: tuple[str, ...]) -> None:
        if logical_id in done:
            return
        if logical_id in path:
            raise ValidationError(message=f"Circular dependency between resources: {list(path)}")
        for dep in sorted(deps[logical_id], key=list(resources).index):
            visit(dep, (*path, logical_id))
        done.add(logical_id)
        order.append(logical_id)

    for logical_id in resources:
        visit(logical_id, ())
    return order


def _event(stack: Any, logical_id: str, physical_id: str, resource_type: str, status: str,
           reason: str | None = None) -> None:
    stack.events.append(cfn_models.Event(
        stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=logical_id,
        physical_resource_id=physical_id, resource_type=resource_type, resource_status=status,
        resource_status_reason=reason, resource_properties=None,
    ))


def _physical_id(instance: Any) -> str:
    return str(getattr(instance, "physical_resource_id", "") or "")


def _delete_resources(stack: Any, order: list[str], failed_status: str) -> list[str]:
    """Delete created resources in reverse order; returns the logical IDs that could not be deleted."""
    resource_map = stack.resource_map
    remaining = [lid for lid in reversed(order) if lid in resource_map._parsed_resources]
    errors: dict[str, str] = {}
    for _attempt in range(3):  # a later pass may succeed once a dependant is gone
        for logical_id in list(remaining):
            definition = resource_map._resource_json_map[logical_id]
            instance = resource_map._parsed_resources[logical_id]
            if definition.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate") \
                    and failed_status == "DELETE_FAILED":
                _event(stack, logical_id, _physical_id(instance), definition["Type"], "DELETE_SKIPPED")
                remaining.remove(logical_id)
                continue
            try:
                if definition["Type"] in DELETERS:
                    DELETERS[definition["Type"]](stack.account_id, stack.region_name, instance)
                else:
                    resource_map._delete_resource(instance, definition)
            except Exception as error:
                errors[logical_id] = f"{type(error).__name__}: {error}"
                continue
            resource_map._parsed_resources.pop(logical_id, None)
            _event(stack, logical_id, _physical_id(instance), definition["Type"], "DELETE_COMPLETE")
            remaining.remove(logical_id)
    for logical_id in remaining:
        definition = resource_map._resource_json_map[logical_id]
        _event(stack, logical_id, _physical_id(resource_map._parsed_resources[logical_id]), definition["Type"],
               failed_status, errors.get(logical_id))
    return remaining


def _change_set_key(backend: Any, change_set_name: str, stack_name: str | None) -> str:
    """A change set by ARN, or by name within the named stack: every `cdk deploy` change set is called
    cdk-deploy-change-set, and with `--concurrency` several stacks have one at once (stock moto takes the first of
    that name, another stack's)."""
    if change_set_name in backend.change_sets:
        return str(change_set_name)
    for key, change_set in backend.change_sets.items():
        if change_set.change_set_name == change_set_name and stack_name in (None, change_set.stack_name,
                                                                             change_set.stack_id):
            return str(key)
    raise ValidationError(message=f"ChangeSet [{change_set_name}] does not exist")


def _describe_change_set(self: Any) -> ActionResult:
    backend = self.cloudformation_backend
    return ActionResult(backend.change_sets[_change_set_key(backend, self._get_param("ChangeSetName"),
                                                            self._get_param("StackName"))])


def _delete_change_set(self: Any) -> ActionResult:
    backend = self.cloudformation_backend
    del backend.change_sets[_change_set_key(backend, self._get_param("ChangeSetName"), self._get_param("StackName"))]
    return EmptyResult()


def _execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
    change_set = self.change_sets[_change_set_key(self, change_set_name, stack_name)]
    stack = self.stacks[change_set.stack_id]
    if change_set.change_set_type != "CREATE":
        raise ValidationError(message="the local emulator creates stacks but does not update them: "
                                      "start from a fresh emulator (make deploy-local does)")
    stack._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
    stack.status = "CREATE_IN_PROGRESS"
    stack.template = change_set.template
    stack._parse_template()
    template = stack.template_dict
    resource_map = stack.resource_map
    resource_map._template = template
    resource_map._resource_json_map = template.get("Resources", {})
    if change_set.parameters:
        resource_map.input_parameters = change_set.parameters
    resource_map.tags.update({"aws:cloudformation:stack-name": stack.name,
                              "aws:cloudformation:stack-id": stack.stack_id})
    order = dependency_order(resource_map._resource_json_map)
    current = None
    try:
        try:
            resource_map.load()
        except Exception as error:
            raise RuntimeError(f"parameters, mappings or conditions: {type(error).__name__}: {error}") from error
        for logical_id in order:
            current = logical_id
            definition = resource_map._resource_json_map[logical_id]
            condition = definition.get("Condition")
            if condition and not resource_map.lazy_condition_map[condition]:
                continue
            _event(stack, logical_id, "", definition["Type"], "CREATE_IN_PROGRESS")
            instance = resource_map[logical_id]
            if isinstance(instance, TaggedEC2Resource):
                tags = {**resource_map.tags, "aws:cloudformation:logical-id": logical_id}
                ec2_backends[stack.account_id][stack.region_name].create_tags([instance.physical_resource_id], tags)
            _event(stack, logical_id, _physical_id(instance), definition["Type"], "CREATE_COMPLETE")
    except Exception as error:
        reason = f"{type(error).__name__}: {error}"
        if current is not None:
            _event(stack, current, "", resource_map._resource_json_map[current]["Type"], "CREATE_FAILED", reason)
        stack._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=(
            f"The following resource(s) failed to create: [{current}]." if current else reason))
        _delete_resources(stack, order, "DELETE_FAILED_ON_ROLLBACK")
        stack._add_stack_event("ROLLBACK_COMPLETE")
        stack.status = "ROLLBACK_COMPLETE"
        change_set.execution_status = "EXECUTE_FAILED"
        return
    stack.output_map = stack._create_output_map()
    stack.description = template.get("Description")
    stack._add_stack_event("CREATE_COMPLETE")
    stack.status = "CREATE_COMPLETE"
    change_set.execution_status = "EXECUTE_COMPLETE"


def _stack_delete(self: Any) -> None:
    self._add_stack_event("DELETE_IN_PROGRESS", resource_status_reason="User Initiated")
    order = dependency_order(self.resource_map._resource_json_map) if self.template_dict else []
    left = _delete_resources(self, order, "DELETE_FAILED")
    if left:
        self._add_stack_event("DELETE_FAILED", resource_status_reason=f"could not delete: {', '.join(left)}")
        self.status = "DELETE_FAILED"
        return
    self._add_stack_event("DELETE_COMPLETE")
    self.status = "DELETE_COMPLETE"


def _delete_stack(self: Any, name_or_stack_id: str) -> None:
    """As moto's, except that a stack whose deletion fails stays, in DELETE_FAILED, as on AWS."""
    stack = self.stacks.get(name_or_stack_id) or next(
        (s for s in self.stacks.values() if s.name == name_or_stack_id), None)
    if stack is None:
        return
    export_names = [export.name for export in stack.exports]
    stack.delete()
    if stack.status == "DELETE_FAILED":
        return
    self.stacks.pop(stack.stack_id, None)
    self.deleted_stacks[stack.stack_id] = stack
    for export_name in export_names:
        self.exports.pop(export_name, None)


def _stack_resources(self: Any) -> list[Any]:
    """Only what was created (stock moto creates a resource when asked to describe it)."""
    parsed = self.resource_map._parsed_resources
    return [parsed[lid] for lid in self.resource_map._resource_json_map
            if lid in parsed and hasattr(parsed[lid], "physical_resource_id")]


def _parse_ssm_parameter(self: Any, value: str, value_type: str) -> Any:
    try:
        return _ORIGINAL["parse_ssm_parameter"](self, value, value_type)
    except Exception:
        if not value.startswith("/aws/service/"):
            raise
    image = sorted(ec2_backends[self._account_id][self._region_name].amis)[0]
    record_simulated(f"SSM public parameter {value}",
                     f"resolved to moto's image {image} (moto's copy of AWS's public parameters lacks it)")
    return image


def install() -> None:
    """Apply the patches once per process (the server, or a test's in-process moto)."""
    global _INSTALLED
    if _INSTALLED:
        return
    _ORIGINAL["clean_json"] = parsing.clean_json
    _ORIGINAL["parse_ssm_parameter"] = parsing.ResourceMap.parse_ssm_parameter
    parsing.clean_json = _clean_json
    parsing.resource_class_from_type = _resource_class
    parsing.ResourceMap.parse_ssm_parameter = _parse_ssm_parameter  # type: ignore[method-assign]
    cfn_models.CloudFormationBackend.execute_change_set = _execute_change_set  # type: ignore[method-assign]
    CloudFormationResponse.describe_change_set = _describe_change_set  # type: ignore[method-assign]
    CloudFormationResponse.delete_change_set = _delete_change_set  # type: ignore[method-assign]
    cfn_models.Stack.delete = _stack_delete  # type: ignore[method-assign]
    cfn_models.CloudFormationBackend.delete_stack = _delete_stack  # type: ignore[method-assign]
    cfn_models.Stack.stack_resources = property(_stack_resources)  # type: ignore[assignment,method-assign]
    api.install()
    install_attributes()
    _INSTALLED = True


__all__ = ["SIMULATED", "Emulated", "dependency_order", "install"]
