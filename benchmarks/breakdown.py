#!/usr/bin/env python3
"""Where a synth's time goes, on both sides of jsii: `make bench` runs this once for (a) and once for (b).

    python benchmarks/breakdown.py a            # the reference app (app.py's build, cdk.json's context)
    python benchmarks/breakdown.py b <cdk.out>  # benchmarks/bare_app.py over (a)'s cloud assembly

It prints one JSON object:
- "phases": wall seconds of the build (constructs made) and of app.synth();
- "trips": jsii round trips per phase and request kind (create, get, invoke, ...), counted by a hook on the jsii
  Python runtime's send, and for (a) per module of ours that made them (the innermost frame in hpc_constructs/,
  stacks/ or app.py);
- "python_cpu": CPU seconds of the Python process (its own work and its half of every round trip);
- "node": CPU seconds of the jsii kernel's node process by what ran, from node's own sampling profiler
  (`--cpu-prof`, through a JSII_NODE wrapper): aws-cdk-lib's CloudFormation Validate plugin (the wasm engine the
  `@aws-cdk/core:validateAgainstDefaultRules` flag runs over every template), loading JavaScript modules, aws-cdk-lib,
  cdk-nag, the jsii kernel (decoding and encoding each round trip), the garbage collector, and the time node
  spent blocked reading its pipe, i.e. waiting for Python ("waiting for Python", not CPU).

Why node's own profiler and not a Python profiler: more than half of a synth runs in node, where cProfile only
sees a `readline` waiting. Why a hook on jsii's send rather than a tracing library: the count of requests per kind
is what the question asks, and jsii has no public statistics API for it (Kernel.stats counts live objects).
"""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
import stat
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# Node CPU categories: (name, test over a profile frame's url and function name), first match wins.
CATEGORIES: list[tuple[str, Any]] = [
    ("waiting for Python (blocked on its pipe)", lambda url, fn: not url and fn == "read"),
    ("CloudFormation Validate (aws-cdk-lib's template validation, wasm)",
     lambda url, fn: url.startswith("wasm") or "cloudformation-validate" in url),
    ("loading JavaScript modules", lambda url, fn: url.startswith("node:internal/modules") or fn in (
        "compileFunction", "internalModuleStat", "readFileUtf8", "Module", "wrapSafe")),
    ("cdk-nag rules", lambda url, fn: "cdk-nag" in url),
    ("aws-cdk-lib and constructs (making and synthesizing)",
     lambda url, fn: "aws-cdk-lib" in url or "/constructs/" in url),
    ("jsii kernel (each round trip's node side) and pipe writes",
     lambda url, fn: "jsii" in url or "/lib/program.js" in url or fn == "writeBuffer"),
    ("garbage collector", lambda url, fn: fn == "(garbage collector)"),
]
OTHER = "other (node's own runtime)"


def node_categories(profile: dict[str, Any]) -> dict[str, float]:
    """Self time of a .cpuprofile's samples, in seconds, per CATEGORIES entry."""
    frames = {node["id"]: node["callFrame"] for node in profile["nodes"]}
    totals: collections.Counter[str] = collections.Counter()
    for sample, delta in zip(profile["samples"], profile["timeDeltas"], strict=True):
        frame = frames[sample]
        url, function = frame.get("url", ""), frame.get("functionName", "")
        name = next((name for name, test in CATEGORIES if test(url, function)), OTHER)
        totals[name] += delta / 1e6
    return {name: round(totals[name], 3) for name, _ in [*CATEGORIES, (OTHER, None)]}


class TripCounter:
    """Counts jsii round trips (requests sent to node) per phase and kind, and per module of ours."""

    def __init__(self) -> None:
        self.phase = "import"
        self.kinds: collections.Counter[tuple[str, str]] = collections.Counter()
        self.modules: collections.Counter[str] = collections.Counter()

    def install(self) -> None:
        from jsii._kernel.providers import process

        send = process._NodeProcess.send
        counter = self

        def counted(node: Any, request: Any, response_type: Any) -> Any:
            kind = re.sub(r"(Request)$", "", type(request).__name__).lstrip("_")
            counter.kinds[(counter.phase, kind)] += 1
            if counter.phase == "build":
                counter.modules[_our_frame()] += 1
            return send(node, request, response_type)

        process._NodeProcess.send = counted  # type: ignore[method-assign]


def _our_frame() -> str:
    for frame in reversed(traceback.extract_stack(limit=40)[:-2]):
        path = Path(frame.filename)
        if path.is_relative_to(ROOT) and ".venv" not in path.parts and path.name != "breakdown.py":
            return str(path.relative_to(ROOT))
    return "(none of ours)"


def node_wrapper(directory: Path) -> Path:
    """A JSII_NODE that runs node with its sampling profiler writing into `directory`."""
    node = shutil.which("node")
    if node is None:
        raise SystemExit("breakdown.py: node is not on PATH")
    wrapper = directory / "node-with-profiler"
    wrapper.write_text(f'#!/bin/sh\nexec "{node}" --cpu-prof --cpu-prof-dir="{directory}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return wrapper


def run(case: str, assembly: Path | None) -> dict[str, Any]:
    profiles = Path(tempfile.mkdtemp(prefix="breakdown-"))
    os.environ["JSII_NODE"] = str(node_wrapper(profiles))
    counter = TripCounter()
    counter.install()
    sys.path.insert(0, str(ROOT))
    cpu_start = time.process_time()
    import aws_cdk

    if case == "a":
        import app as reference  # app.py: the reference app as `cdk synth` runs it
        from stacks import build_reference_app

        application = aws_cdk.App()
        config = reference.load_config(reference.config_path(application))
        counter.phase = "build"
        started = time.perf_counter()
        build_reference_app(application, config, nag=reference.nag_enabled(application))
    else:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        import bare_app

        assert assembly is not None
        application = aws_cdk.App()
        counter.phase = "build"
        started = time.perf_counter()
        bare_app.build(application, assembly)
    built = time.perf_counter()
    counter.phase = "synth"
    application.synth()
    synthesized = time.perf_counter()
    python_cpu = time.process_time() - cpu_start
    from jsii._kernel import Kernel

    Kernel().provider._process.stop()  # node writes its profile when it exits
    written = sorted(profiles.glob("*.cpuprofile"), key=lambda p: p.stat().st_size)
    node = node_categories(json.loads(written[-1].read_text())) if written else {}  # the kernel: the largest
    shutil.rmtree(profiles, ignore_errors=True)
    trips: dict[str, dict[str, int]] = collections.defaultdict(dict)
    for (phase, kind), count in sorted(counter.kinds.items()):
        trips[phase][kind] = count
    return {"case": case, "phases": {"build": round(built - started, 3), "synth": round(synthesized - built, 3)},
            "trips": trips, "trips_by_module": dict(counter.modules.most_common()),
            "python_cpu": round(python_cpu, 3), "node": node}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("a", "b") or (argv[0] == "b") != (len(argv) == 2):
        print("usage: breakdown.py a | breakdown.py b <cloud assembly of the reference app>", file=sys.stderr)
        return 2
    print(json.dumps(run(argv[0], Path(argv[1]) if len(argv) == 2 else None)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
