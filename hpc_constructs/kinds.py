"""Kinds: every public entry point's arguments checked against their annotations before anything is made.

Each construct's `__init__` (and each public method that takes other constructs) is decorated with `@check_kinds`.
The annotation is the one place a prop's kinds are declared; the decorator checks every argument against it, specs
(frozen dataclasses such as JobQueueSpec) field by field, and turns a value of the wrong kind into a ConfigError that
names the construct path, the property, the value's kind, what is allowed and what to pass instead (`pass
network.vpc`, `write compute_environments=['cpu']`), instead of an AttributeError or a TypeError deep inside.

Why our own checker rather than a library: typeguard (which jsii already installs, at 2.13) and beartype both take
annotations as PEP 484 does, and PEP 484 is not what a user means here: a str is a Sequence[str] (so
`instance_types="c7i.large"` would pass), True is an int, and jsii's interfaces (ec2.IVpc, iam.IRole) are Protocols
that are not runtime-checkable, so typeguard accepts any object for them. What an object implements is recorded by
jsii instead (`__jsii_ifaces__` on classes, the interface proxies behind an imported resource), which is what
`implements` reads. The core install also stays aws-cdk-lib + constructs.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import functools
import importlib
import inspect
import re
import sys
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from aws_cdk import Token
from constructs import Construct

from hpc_constructs.errors import ConfigError

__all__ = ["check_kinds", "implements", "problem"]

F = TypeVar("F", bound=Callable[..., Any])

# What a user calls an instance of these in examples (`pass network.vpc`); other classes: their snake_case name.
VARIABLE_NAMES = {
    "HpcNetwork": "network",
    "StorageLayer": "storage",
    "ComputeFleet": "fleet",
    "HaBastion": "bastion",
    "SlurmCluster": "cluster",
    "BatchOrchestration": "batch",
    "DataTransferLayer": "transfer",
    "SshUsers": "users",
    "LustreFileSystem": "lustre",
    "EfsFileSystem": "efs",
}
# Structural kinds (typing.Protocol) in the user's words: what satisfies them.
PROTOCOL_WORDS = {
    "Monitored": "a construct with monitoring(scope, settings) (ComputeFleet, StorageLayer or one of its tiers, "
                 "BatchOrchestration, SlurmCluster, DataTransferLayer, HaBastion, HaInstance)",
    "MountTarget": "a construct with user_data, role and connections (a Batch environment: "
                   "batch.environment_constructs[name], an AutoScalingGroup, an Instance)",
}
_SEQUENCES = (collections.abc.Sequence, list, tuple, collections.abc.Collection, collections.abc.Iterable)
_MAPPINGS = (collections.abc.Mapping, dict)


@dataclass(frozen=True)
class Problem:
    """Where under the prop a value is of the wrong kind ("" for the prop itself, "[2]", ".compute_environments"),
    the value, and the annotation that refuses it."""

    where: str
    value: object
    expected: Any


# -- the decorator ----------------------------------------------------------------------------------------------

@overload
def check_kinds(function: F) -> F: ...


@overload
def check_kinds(*, hints: Mapping[str, str]) -> Callable[[F], F]: ...


def check_kinds(function: F | None = None, *, hints: Mapping[str, str] | None = None) -> F | Callable[[F], F]:
    """Check every argument of `function` (a construct's __init__, a classmethod, a public method) against its
    annotation before the function runs. `hints`: per-prop advice added to the ConfigError (what to pass instead).

    Arguments whose name starts with "_" (private hooks such as `_imported`) are not checked.
    """
    def decorate(inner: F) -> F:
        signature = inspect.signature(inner)

        @functools.wraps(inner)
        def checked(*args: Any, **kwargs: Any) -> Any:
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError:
                return inner(*args, **kwargs)  # a call of the wrong shape: Python's own error says which argument
            annotations = _hints(inner)
            for name, value in bound.arguments.items():
                if name in ("self", "cls") or name.startswith("_") or name not in annotations:
                    continue
                found = problem(value, annotations[name])
                if found is not None:
                    raise _error(_owner_path(bound.arguments), inner, name, found, (hints or {}).get(name, ""))
            return inner(*args, **kwargs)

        return typing.cast(F, checked)

    return decorate(function) if function is not None else decorate


@functools.cache
def _hints(function: Callable[..., Any]) -> dict[str, Any]:
    """The resolved annotations of `function` (names that exist only for type checkers come from the package)."""
    module = sys.modules[function.__module__]
    return typing.get_type_hints(function, globalns=vars(module), localns=_namespace(module))


@functools.cache
def _dataclass_hints(cls: type) -> dict[str, Any]:
    module = sys.modules[cls.__module__]
    return typing.get_type_hints(cls, globalns=vars(module), localns=_namespace(module))


def _namespace(module: types.ModuleType) -> dict[str, Any]:
    """Every public name of the package's loaded modules (aws_cdk aliases included), the module's own names first:
    annotations name classes imported only under TYPE_CHECKING (to avoid import cycles). A public name of the
    package whose module is not loaded yet (hpc_constructs imports its names on first use) is imported when an
    annotation asks for it."""
    loaded = tuple(name for name in sys.modules if name == "hpc_constructs" or name.startswith("hpc_constructs."))
    names = _PackageNames(_package_names(loaded))
    names.update(vars(module))
    return names


@functools.lru_cache(maxsize=4)
def _package_names(loaded: tuple[str, ...]) -> dict[str, Any]:
    """The public names of these loaded modules of the package, gathered once per set of loaded modules (each
    construct class and spec asks: about 50 times per reference synth, each time over every module's names)."""
    names: dict[str, Any] = {}
    for name in loaded:
        # The package's own submodules are not what annotations mean: hpc_constructs.verify.iam is not
        # `iam` (aws_cdk.aws_iam) in `iam.IRole`.
        names.update({k: v for k, v in vars(sys.modules[name]).items() if not k.startswith("_") and not (
            isinstance(v, types.ModuleType) and v.__name__.startswith("hpc_constructs."))})
    return names


class _PackageNames(dict[str, Any]):
    """eval() looks a missing name up through __missing__ when the locals are a dict subclass."""

    def __missing__(self, key: str) -> Any:
        import hpc_constructs

        try:
            value = getattr(hpc_constructs, key)
        except AttributeError:
            value = None
        if value is None and key.islower():  # the package's aliases: ec2 is aws_cdk.aws_ec2, lambda_ aws_lambda
            try:
                value = importlib.import_module(f"aws_cdk.aws_{key.rstrip('_')}")
            except ImportError:
                value = None
        if value is None:
            raise KeyError(key)
        self[key] = value
        return value


# -- the check ------------------------------------------------------------------------------------------------

def problem(value: object, expected: Any) -> Problem | None:
    """None when `value` is of a kind `expected` (an annotation) allows, else where and what refuses it."""
    if expected is Any or expected is object:
        return None
    if expected is None or expected is type(None):
        return None if value is None else Problem("", value, expected)
    origin = typing.get_origin(expected)
    arguments = typing.get_args(expected)
    if origin is typing.Union or origin is types.UnionType:
        return _union(value, arguments, expected)
    if origin is typing.Literal:
        return None if value in arguments else Problem("", value, expected)
    if origin in _MAPPINGS:
        return _mapping(value, arguments, expected)
    if origin in _SEQUENCES:
        return _sequence(value, origin, arguments, expected)
    if origin is collections.abc.Callable:
        return None if callable(value) else Problem("", value, expected)
    if origin is type:
        return None if isinstance(value, type) else Problem("", value, expected)
    if isinstance(expected, type):
        return _instance(value, expected)
    return None  # an annotation this checker does not model (a TypeVar): the rules decide


def _union(value: object, arms: tuple[Any, ...], expected: Any) -> Problem | None:
    deeper: list[Problem] = []
    for arm in arms:
        found = problem(value, arm)
        if found is None:
            return None
        if found.where:  # the arm's outer kind fits (a list, a spec); something inside does not
            deeper.append(found)
    return deeper[0] if len(deeper) == 1 else Problem("", value, expected)


def _mapping(value: object, arguments: tuple[Any, ...], expected: Any) -> Problem | None:
    if not isinstance(value, collections.abc.Mapping):
        return Problem("", value, expected)
    key_kind, value_kind = arguments or (Any, Any)
    for key, item in value.items():
        found = problem(key, key_kind)
        if found is not None:
            return Problem(f"[{key!r}] (the key)", key, key_kind)
        found = problem(item, value_kind)
        if found is not None:
            return Problem(f"[{key!r}]{found.where}", found.value, found.expected)
    return None


def _sequence(value: object, origin: Any, arguments: tuple[Any, ...], expected: Any) -> Problem | None:
    # Text is a sequence of characters, never a list of names; a mapping or a set has no order to keep.
    if isinstance(value, str | bytes | collections.abc.Mapping) or not isinstance(value, collections.abc.Sequence):
        return Problem("", value, expected)
    if origin is tuple and arguments and arguments[-1] is not Ellipsis:
        if len(value) != len(arguments):
            return Problem("", value, expected)
        kinds = list(arguments)
    else:
        kinds = [arguments[0] if arguments else Any] * len(value)
    for index, (item, kind) in enumerate(zip(value, kinds, strict=True)):
        found = problem(item, kind)
        if found is not None:
            return Problem(f"[{index}]{found.where}", found.value, found.expected)
    return None


def _instance(value: object, expected: type) -> Problem | None:
    if expected is bool:
        ok = isinstance(value, bool)
    elif expected is int:
        # A number that CloudFormation fills in at deploy time (a parameter) is a float token.
        ok = (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and Token.is_unresolved(value))
    elif expected is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif _is_jsii_interface(expected):
        ok = implements(value, expected)
    elif _is_protocol(expected):
        ok = all(_has(value, member) for member in _protocol_members(expected))
    else:
        ok = isinstance(value, expected)
    if not ok:
        return Problem("", value, expected)
    if dataclasses.is_dataclass(expected) and expected.__module__.startswith("hpc_constructs"):
        return _fields(value, expected)
    return None


def _fields(value: object, cls: type) -> Problem | None:
    """A spec's fields, each against its annotation."""
    kinds = _dataclass_hints(cls)
    for field in dataclasses.fields(cls):
        found = problem(getattr(value, field.name), kinds[field.name])
        if found is not None:
            return Problem(f".{field.name}{found.where}", found.value, found.expected)
    return None


def _is_protocol(cls: type) -> bool:
    return bool(getattr(cls, "_is_protocol", False))


def _is_jsii_interface(cls: type) -> bool:
    return _is_protocol(cls) and "__jsii_type__" in vars(cls)


def _protocol_members(cls: type) -> list[str]:
    return sorted({name for base in cls.__mro__ if base is not object and _is_protocol(base)
                   for name in vars(base) if not name.startswith("_")})


def _has(value: object, member: str) -> bool:
    try:
        getattr(value, member)
    except Exception:  # a jsii property that refuses to be read (no user data) is as good as absent
        return False
    return True


def implements(value: object, interface: type) -> bool:
    """True when `value` implements the jsii interface `interface` (ec2.IVpc, iam.IRole, ...).

    jsii interfaces are Protocols that `isinstance` refuses to check. jsii records what a class implements in
    `__jsii_ifaces__` (classes made in Python, such as ComputeFleet, and aws-cdk-lib's own), and an object made in
    JavaScript whose class is not exported (an imported security group, role or VPC) arrives as a proxy whose
    delegates are one proxy class per interface, each carrying the interface's `__jsii_type__`.
    """
    wanted = vars(interface)["__jsii_type__"]
    return wanted in _jsii_types(value)


def _jsii_types(value: object) -> set[str]:
    objects: list[object] = [value]
    delegates = vars(value).get("_delegates") if hasattr(value, "__dict__") else None
    if isinstance(delegates, list):  # jsii's InterfaceDynamicProxy
        objects.extend(delegates)
    found: set[str] = set()
    for item in objects:
        for cls in type(item).__mro__:
            own = vars(cls)
            if isinstance(own.get("__jsii_type__"), str):
                found.add(own["__jsii_type__"])
            for interface in own.get("__jsii_ifaces__", ()):
                found.update(vars(base)["__jsii_type__"] for base in interface.__mro__
                             if isinstance(vars(base).get("__jsii_type__"), str))
    return found


# -- the error ------------------------------------------------------------------------------------------------

def _owner_path(arguments: Mapping[str, Any]) -> str:
    """The construct path the error names: the new construct's (scope + id), or the object's a method runs on."""
    if "scope" in arguments and "id" in arguments:
        scope = arguments["scope"]
        parent = scope.node.path if isinstance(scope, Construct) else f"<{type(scope).__name__}>"
        return f"{parent}/{arguments['id']}" if parent else str(arguments["id"])
    owner = arguments.get("self")
    if isinstance(owner, Construct):
        return owner.node.path
    return "hpc_constructs"


def _error(path: str, function: Callable[..., Any], name: str, found: Problem, advice: str) -> ConfigError:
    prop = f"{name}{found.where}"
    owner, _, method = function.__qualname__.rpartition(".")
    subject = owner if method == "__init__" else function.__qualname__  # a function: its own name
    hint = _teach(prop, found) or advice or f"See help({subject}) for {name}."
    if advice and advice not in hint:
        hint = f"{hint} {advice}"
    return ConfigError(path, prop, found.value, allowed(found.expected), hint=hint, shown=describe(found.value))


def _teach(prop: str, found: Problem) -> str:
    """What to pass instead, when the mistake is a known one: a single value for a list, a construct for one of its
    attributes, text for a number or a flag."""
    value, expected = found.value, found.expected
    if isinstance(value, str) and problem([value], expected) is None:
        return f"Write {prop}=[{value!r}]: a list, even of one."
    if not isinstance(value, str) and problem([value], expected) is None:
        return f"Write {prop}=[{_variable(value)}]: a list of them, even of one."
    attributes = _fitting_attributes(value, expected)
    if attributes:
        name = _variable(value)
        passes = " or ".join(f"{name}.{a}" for a in attributes[:3])
        what = allowed(expected).removeprefix("an ").removeprefix("a ")
        return f"Pass {passes} (the {type(value).__name__}'s {what})."
    if expected is bool and isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
        return f"Write {prop}={bool(value)}."
    if expected is int and isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return f"Write {prop}={int(value)} (a number, not text)."
    if expected is int and isinstance(value, float) and value.is_integer():
        return f"Write {prop}={int(value)} (a whole number)."
    if expected in (int, float) and isinstance(value, str):
        return f"Write {prop} as a number, not text."
    return ""


def _fitting_attributes(value: object, expected: Any) -> list[str]:
    """The public attributes of one of the library's objects that are of the expected kind (network.vpc)."""
    if not type(value).__module__.startswith("hpc_constructs") or not hasattr(value, "__dict__"):
        return []
    return [name for name, item in vars(value).items()
            if not name.startswith("_") and item is not None and problem(item, expected) is None]


def _variable(value: object) -> str:
    name = type(value).__name__
    return VARIABLE_NAMES.get(name, re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower())


def describe(value: object) -> str:
    """The bad value as the error shows it: its kind, and which one (a construct's path, a short repr)."""
    if isinstance(value, Construct) or "_delegates" in getattr(value, "__dict__", {}):
        kind = _jsii_kind(value)
        try:
            where = value.node.path  # type: ignore[attr-defined]
        except Exception:
            where = "?"
        return f"{_article(kind)} {kind} ({where})"
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    if value is None or isinstance(value, bool):
        return shown
    return f"{shown} ({_article(type(value).__name__)} {type(value).__name__})"


def _jsii_kind(value: object) -> str:
    if "_delegates" not in getattr(value, "__dict__", {}):
        return _qualified(type(value))
    names = sorted(t.rsplit(".", 1)[-1] for t in _jsii_types(value) if t.rsplit(".", 1)[-1].startswith("I"))
    specific = [n for n in names if n not in ("IConstruct", "IDependable", "IResource", "IEnvironmentAware")]
    return f"imported {specific[0] if specific else 'resource'}"


def allowed(expected: Any) -> str:
    """An annotation in words: "an ec2.IVpc", "a list of str", "a StorageLayer, a LustreFileSystem or None"."""
    origin = typing.get_origin(expected)
    arguments = typing.get_args(expected)
    if expected is None or expected is type(None):
        return "None"
    if origin is typing.Union or origin is types.UnionType:
        arms = [allowed(a) for a in arguments if a is not type(None)]
        if type(None) in arguments:
            arms.append("None")
        return arms[0] if len(arms) == 1 else ", ".join(arms[:-1]) + " or " + arms[-1]
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in arguments)
    if origin in _MAPPINGS:
        key, item = arguments or (Any, Any)
        return f"a dict of {_bare(key)} to {_bare(item)}"
    if origin in _SEQUENCES:
        item = arguments[0] if arguments else Any
        return f"a list of {_bare(item)}"
    if expected is bool:
        return "True or False"
    if expected is int:
        return "a whole number (int)"
    if expected is float:
        return "a number"
    if expected is str:
        return "text (a str)"
    if isinstance(expected, type) and expected.__name__ in PROTOCOL_WORDS and _is_protocol(expected):
        return PROTOCOL_WORDS[expected.__name__]
    if isinstance(expected, type):
        name = _qualified(expected)
        return f"{_article(name)} {name}"
    return str(expected)


def _bare(expected: Any) -> str:
    """An item kind inside "a list of ...": without the article."""
    if expected in (str, int, float, bool):
        return str(expected.__name__)
    text = allowed(expected)
    return text.removeprefix("an ").removeprefix("a ") if isinstance(expected, type) else f"({text})"


def _qualified(cls: type) -> str:
    """How a user writes the class: ec2.IVpc, iam.IRole, RemovalPolicy, StorageLayer."""
    module = cls.__module__
    if module.startswith("aws_cdk.aws_"):
        return f"{module.split('.')[1].removeprefix('aws_')}.{cls.__name__}"
    return cls.__name__


def _article(word: str) -> str:
    # "an HpcNetwork", "an SshUsers": the library's acronyms are read letter by letter.
    return "an" if word[:1].lower() in "aeiou" or word.startswith(("Hpc", "HaB", "Ssh")) else "a"
