#!/usr/bin/env python3
"""What the update-safety tests add to `make test`, in CPU and wall time.

    .venv/bin/python benchmarks/changes_cost.py [--runs 3] [--suite]       (writes benchmarks/changes_cost.md)

The catalogue (tests/test_changes_catalogue.py) synthesizes one app per edit in the pytest worker that runs it,
beside the reference app the session synthesizes anyway (tests/conftest.py). Its own cost is the file's run minus
that shared synthesis: pytest of the file with --setup-only on one case (the fixture's synthesis, nothing else),
subtracted from pytest of the whole file. tests/unit/test_changes.py is timed alone. Each is a fresh pytest
process, --runs times, interleaved; CPU is user + system time of the process and its children (Python and the
jsii node process), which a busy machine inflates much less than wall time. With 2 workers kept busy, the suite's
wall time grows by about half the added CPU. --suite also times the whole suite as `make unit` runs it, with and
without both files (one pair per run; on a shared machine the difference is mostly noise).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "changes_cost.md"
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
XDIST = ["-n", "auto", "--maxprocesses", "4", "--dist", "loadfile"]
CATALOGUE = "tests/test_changes_catalogue.py"
UNIT = "tests/unit/test_changes.py"

CASES = {
    "reference synthesis only (catalogue --setup-only, one case)": [*PYTEST, f"{CATALOGUE}::test_weekly_edit[no edit]",
                                                                    "--setup-only"],
    "tests/test_changes_catalogue.py": [*PYTEST, CATALOGUE],
    "tests/unit/test_changes.py": [*PYTEST, UNIT],
}
SUITE = {
    "the suite, as make unit": [*PYTEST, *XDIST],
    "the suite without both files": [*PYTEST, *XDIST, f"--ignore={CATALOGUE}", f"--ignore={UNIT}"],
}


def timed(args: list[str]) -> tuple[float, float, str]:
    """(wall s, CPU s of the process tree, pytest's last line)."""
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, (result.stdout.strip().splitlines() or ["?"])[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--suite", action="store_true")
    args = parser.parse_args()
    cases = {**CASES, **(SUITE if args.suite else {})}
    wall: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    last: dict[str, str] = {}
    for run in range(args.runs):
        for name in list(cases)[run % len(cases):] + list(cases)[:run % len(cases)]:
            w, c, last[name] = timed(cases[name])
            wall[name].append(w)
            cpu[name].append(c)
    med = {name: (statistics.median(wall[name]), statistics.median(cpu[name])) for name in cases}
    shared, catalogue, unit = (med[name] for name in CASES)
    own_cpu = catalogue[1] - shared[1]
    load = os.getloadavg()
    lines = [
        "# What the update-safety tests add to make test",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, {os.cpu_count()} cores "
        f"(load average at the end {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f}), Python {platform.python_version()}, "
        f"with `python benchmarks/changes_cost.py --runs {args.runs}{' --suite' if args.suite else ''}`.",
        "",
        "| pytest run | wall s (runs) | CPU s (runs) | median wall s | median CPU s | last line |",
        "|---|---|---|---:|---:|---|",
        *(f"| {name} | {', '.join(f'{t:.0f}' for t in wall[name])} | {', '.join(f'{t:.0f}' for t in cpu[name])} | "
          f"{med[name][0]:.0f} | {med[name][1]:.0f} | {last[name]} |" for name in cases),
        "",
        f"The catalogue's own CPU, beyond the reference synthesis the suite shares: {own_cpu:.0f} s "
        f"(wall {catalogue[0] - shared[0]:.0f} s on this machine); tests/unit/test_changes.py: {unit[1]:.0f} s CPU "
        f"(wall {unit[0]:.0f} s, including pytest's start). Together about {own_cpu + unit[1]:.0f} s of CPU: about "
        f"{(own_cpu + unit[1]) / 2:.0f} s of `make test`'s wall time on 2 idle cores.",
        "",
    ]
    if args.suite:
        with_all, without = (med[name][0] for name in SUITE)
        lines += [f"The whole suite: {with_all - without:+.0f} s of wall time with both files (medians).", ""]
    OUT.write_text("\n".join(lines))
    print(OUT.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
