"""Shared test helpers: the same context the CDK CLI gives app.py, and template normalization."""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from aws_cdk import App, Stack

ROOT = Path(__file__).resolve().parent.parent

# What the CDK CLI adds to cdk.json's context when it runs app.py (cdk synth defaults).
CLI_CONTEXT: dict[str, Any] = {
    "aws:cdk:enable-path-metadata": True,
    "aws:cdk:enable-asset-metadata": True,
    "aws:cdk:version-reporting": True,
    "aws:cdk:bundling-stacks": ["**"],
}


@cache
def _cdk_json_context() -> str:
    return json.dumps(json.loads((ROOT / "cdk.json").read_text())["context"])


def cdk_context() -> dict[str, Any]:
    """cdk.json's context plus the CLI's defaults: tests must see what `cdk synth` sees."""
    context: dict[str, Any] = json.loads(_cdk_json_context())
    context.update(CLI_CONTEXT)
    return context


def new_app(**kwargs: Any) -> App:
    return App(context=cdk_context(), **kwargs)


def new_stack(id: str = "Test") -> Stack:
    """A stack in a fresh app with the real context, for fine-grained assertions on one construct."""
    return Stack(new_app(), id)


_HASH = re.compile(r"[0-9a-f]{64}")


def normalize(template: dict[str, Any]) -> dict[str, Any]:
    """Drop what changes without a real change: asset hashes, CDK version metadata, bootstrap checks."""
    out = copy.deepcopy(template)
    out.get("Resources", {}).pop("CDKMetadata", None)
    out.get("Conditions", {}).pop("CDKMetadataAvailable", None)
    if not out.get("Conditions"):
        out.pop("Conditions", None)
    text = _HASH.sub("<asset-hash>", json.dumps(out, sort_keys=True))
    normalized: dict[str, Any] = json.loads(text)
    return normalized


def image_props(instance_type: Any) -> dict[str, Any]:
    """ComputeFleet props for a type: none, or a custom image for GPU types without a default image."""
    from aws_cdk import aws_ec2 as ec2

    from hpc_constructs.catalog.software import GPU_BASE_IMAGES

    if instance_type.has_gpu and instance_type.family not in GPU_BASE_IMAGES[instance_type.architecture].families:
        return {"machine_image": ec2.MachineImage.from_ssm_parameter("/hpc/test/gpu-image",
                                                                     os=ec2.OperatingSystemType.LINUX),
                "root_device_name": "/dev/xvda"}
    return {}


def hypothesis_outcomes(check: Any, *, max_examples: int, **strategies: Any) -> tuple[int, int]:
    """Run `check(**drawn)` over `max_examples` generated inputs; return (accepted, examples).

    `check` returns True when the input was accepted (and has asserted what an accepted input must
    give) and False when it was refused. A property test that only checks "synthesizes or raises"
    would pass if every input were refused; its caller asserts a share of each. Derandomized, so the
    share does not change between runs.
    """
    from hypothesis import HealthCheck, given, settings

    seen: list[bool] = []

    @settings(max_examples=max_examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(**strategies)
    def run(**drawn: Any) -> None:
        seen.append(bool(check(**drawn)))

    run()
    return sum(seen), len(seen)


def install_stubs(bin_dir: Path, log: Path, stubs: dict[str, str]) -> None:
    """Write each stub command (name -> bash body) into bin_dir; every call is appended to `log` first."""
    import stat

    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, body in stubs.items():
        stub = bin_dir / name
        stub.write_text(f'#!/bin/bash\necho "{name} $*" >> "{log}"\n{body}\n')
        stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
