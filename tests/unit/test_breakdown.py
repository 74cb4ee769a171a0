"""benchmarks/breakdown.py: node's profile samples land in the category of what ran; bench takes medians."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


breakdown = _load("breakdown")

KERNEL = "file:///tmp/jsii-kernel-x/node_modules"
FRAMES: list[tuple[str, str, str]] = [  # (expected category, url, function name) as node's --cpu-prof writes them
    ("waiting for Python (blocked on its pipe)", "", "read"),
    ("CloudFormation Validate (aws-cdk-lib's template validation, wasm)", "wasm://wasm/021d73e6", "n"),
    ("CloudFormation Validate (aws-cdk-lib's template validation, wasm)",
     f"{KERNEL}/aws-cdk-lib/node_modules/@aws/cloudformation-validate/bindings_wasm.js", "validateTemplate"),
    ("loading JavaScript modules", "node:internal/modules/cjs/loader", "wrapSafe"),
    ("loading JavaScript modules", "", "compileFunction"),
    ("cdk-nag rules", f"{KERNEL}/cdk-nag/lib/nag-pack.js", "applyRule"),
    ("aws-cdk-lib and constructs (making and synthesizing)", f"{KERNEL}/aws-cdk-lib/core/lib/stack.js", "resolve"),
    ("aws-cdk-lib and constructs (making and synthesizing)", f"{KERNEL}/constructs/lib/construct.js", "findAll"),
    ("jsii kernel (each round trip's node side) and pipe writes", "file:///tmp/tmpabc/lib/program.js", "process"),
    ("jsii kernel (each round trip's node side) and pipe writes", "", "writeBuffer"),
    ("garbage collector", "", "(garbage collector)"),
    ("other (node's own runtime)", "node:internal/streams/readable", "read"),
]


def _profile() -> dict[str, Any]:
    """Frame i sampled (i + 1) times, each sample 1,000 us apart."""
    nodes = [{"id": i + 1, "callFrame": {"url": url, "functionName": function}}
             for i, (_, url, function) in enumerate(FRAMES)]
    samples = [i + 1 for i in range(len(FRAMES)) for _ in range(i + 1)]
    return {"nodes": nodes, "samples": samples, "timeDeltas": [1000] * len(samples)}


def test_each_sample_lands_in_the_category_of_what_ran() -> None:
    expected: dict[str, float] = {}
    for i, (category, _, _) in enumerate(FRAMES):
        expected[category] = expected.get(category, 0.0) + (i + 1) / 1000
    got = breakdown.node_categories(_profile())
    assert got == {name: round(expected.get(name, 0.0), 3) for name in got}
    assert set(got) == {name for name, _ in breakdown.CATEGORIES} | {breakdown.OTHER}


def test_bench_reports_the_median_of_each_figure() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    bench = _load("bench")
    runs = [{"phases": {"build": build, "synth": 2 * build}, "trips": {"build": {"Create": 3}},
             "trips_by_module": {"hpc_constructs/paths.py": 1}, "python_cpu": build,
             "node": {"garbage collector": 3 * build}} for build in (5.0, 1.0, 3.0)]
    assert bench._median_result(runs) == {
        "phases": {"build": 3.0, "synth": 6.0}, "trips": {"build": {"Create": 3}},
        "trips_by_module": {"hpc_constructs/paths.py": 1}, "python_cpu": 3.0, "node": {"garbage collector": 9.0}}
