#!/usr/bin/env python3
"""Measure synth time (CDK CLI and in-process) and the reference templates' sizes. Quote medians.

    make bench                      # 5 runs each
    .venv/bin/python benchmarks/synth_time.py --runs 9 --test-suite

The machine is noisy: the script reports the median and the spread of each measurement, and the
ratio of CLI to in-process time. Results go to stdout as a table and to benchmarks/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.summary import stacks  # noqa: E402

# app.py as the CLI runs it (cdk.json context through CDK_CONTEXT_JSON), without node's CLI start-up.
IN_PROCESS = (
    "import json, os, runpy, tempfile\n"
    "os.environ['CDK_OUTDIR'] = tempfile.mkdtemp()\n"
    "os.environ['CDK_CONTEXT_JSON'] = json.dumps(json.load(open('cdk.json'))['context'])\n"
    "runpy.run_path('app.py')\n"
)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    env.setdefault("AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED", "true")
    env.setdefault("CDK_DISABLE_CLI_TELEMETRY", "true")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return env


def _time(cmd: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, env=_env(), check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def _stats(times: list[float]) -> dict[str, float]:
    return {"median_s": round(statistics.median(times), 2), "min_s": round(min(times), 2),
            "max_s": round(max(times), 2), "runs": len(times)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--test-suite", action="store_true", help="also time `pytest -q` (3 runs)")
    args = parser.parse_args()
    results: dict[str, object] = {"machine": f"{platform.machine()}, {os.cpu_count()} cores",
                                  "date": time.strftime("%Y-%m-%d")}
    with tempfile.TemporaryDirectory() as out:
        cli = _time([str(ROOT / "node_modules/.bin/cdk"), "synth", "--quiet", "--output", out], args.runs)
        rows = stacks(Path(out))
    in_process = _time([sys.executable, "-c", IN_PROCESS], args.runs)
    results["cdk_synth_cli"] = _stats(cli)
    results["app_py_in_process"] = _stats(in_process)
    results["cli_over_in_process"] = round(statistics.median(cli) / statistics.median(in_process), 2)
    results["stacks"] = {r["name"]: {"resources": r["resources"], "bytes": r["bytes"]} for r in rows}
    if args.test_suite:
        results["pytest"] = _stats(_time([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], 3))
    (ROOT / "benchmarks" / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
