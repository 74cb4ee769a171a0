#!/usr/bin/env python3
"""What HpcDashboard (issue 31) adds to `make test`: the whole suite before and after, and its own test files.

    .venv/bin/python benchmarks/dashboard_cost.py [--base b9b287f] [--runs 2]   (writes benchmarks/dashboard_cost.md)

The base is the commit the branch started from, exported with `git archive` into a temporary directory (no git
metadata is touched) that shares this tree's .venv and node_modules; `python -m pytest` run there imports that
tree's packages (the current directory comes first on sys.path). Each run is a fresh pytest process of the whole
suite as `make unit` runs it, base and branch alternating; CPU is user + system time of the process and its
children (pytest-xdist workers, jsii's node processes, the CDK CLI), which a busy machine inflates much less than
wall time. The dashboard's three test files are also timed alone on the branch (they share one reference synthesis).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "dashboard_cost.md"
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
XDIST = ["-n", "auto", "--maxprocesses", "4", "--dist", "loadfile"]
OWN_FILES = ["tests/unit/test_dashboard.py", "tests/unit/test_dashboard_rules.py",
             "tests/unit/test_dashboard_picture.py"]


def timed(args: list[str], cwd: Path) -> tuple[float, float, str]:
    """(wall s, CPU s of the process tree, pytest's last line)."""
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    last = (result.stdout.strip().splitlines() or ["?"])[-1]  # a failing test is timed too, and shows here
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, last


def export(rev: str, into: Path) -> Path:
    """The tree of `rev` in `into`, with this tree's .venv and node_modules linked in."""
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    for shared in (".venv", "node_modules"):
        (into / shared).symlink_to(ROOT / shared)
    return into


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="b9b287f", help="the commit before the dashboard (default: b9b287f)")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()
    results: dict[str, list[tuple[float, float, str]]] = {"base": [], "branch": [], "own": []}
    with tempfile.TemporaryDirectory(prefix="dashboard-base-") as tmp:
        base = export(args.base, Path(tmp))
        for run in range(args.runs):
            order = [("base", base), ("branch", ROOT)] if run % 2 == 0 else [("branch", ROOT), ("base", base)]
            for name, tree in order:
                results[name].append(timed([*PYTEST, *XDIST], tree))
            results["own"].append(timed([*PYTEST, *OWN_FILES], ROOT))
    med = {key: (statistics.median(w for w, _, _ in runs), statistics.median(c for _, c, _ in runs))
           for key, runs in results.items()}
    load = os.getloadavg()
    rows = {
        f"the suite at {args.base} (before)": "base",
        f"the suite at {head} (with HpcDashboard)": "branch",
        "the dashboard's three test files alone (one reference synthesis among them)": "own",
    }
    lines = [
        "# What HpcDashboard adds to make test",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, {os.cpu_count()} cores (load "
        f"average at the end {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f}), Python {platform.python_version()}, with "
        f"`python benchmarks/dashboard_cost.py --base {args.base} --runs {args.runs}`.",
        "",
        "| pytest run | wall s (runs) | CPU s (runs) | median wall s | median CPU s | last line |",
        "|---|---|---|---:|---:|---|",
    ]
    for label, key in rows.items():
        runs = results[key]
        lines.append(f"| {label} | {', '.join(f'{w:.0f}' for w, _, _ in runs)} | "
                     f"{', '.join(f'{c:.0f}' for _, c, _ in runs)} | {med[key][0]:.0f} | {med[key][1]:.0f} | "
                     f"{runs[-1][2]} |")
    wall_delta = med["branch"][0] - med["base"][0]
    cpu_delta = med["branch"][1] - med["base"][1]
    lines += ["", f"The suite's delta: {cpu_delta:+.0f} s of CPU and {wall_delta:+.0f} s of wall time (medians). "
              "The CPU figure is the one to compare: it counts the new tests, the larger reference app every "
              "reference synthesis now builds (the HpcMonitoring stack), and the deploy test's extra stack; wall "
              "time on this shared machine moves with other sessions' load."]
    OUT.write_text("\n".join(lines) + "\n")
    print(OUT.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
