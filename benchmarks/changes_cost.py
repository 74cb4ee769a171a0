#!/usr/bin/env python3
"""What the update-safety tests add to `make test`: the suite timed with and without them.

    .venv/bin/python benchmarks/changes_cost.py [--runs 1]        (writes benchmarks/changes_cost.md)

Runs pytest as `make unit` does (xdist, --dist loadfile, one worker per core, at most 4), alternately with every
test and without tests/test_changes_catalogue.py and tests/unit/test_changes.py, --runs times each, and reports
the wall times. Also the catalogue alone, serially (its own cost, on one worker, with the reference app's
synthesis it shares with the rest of the suite). The machine may be shared: read the spread, not one run.
"""

from __future__ import annotations

import argparse
import os
import platform
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
CHANGES_TESTS = ("tests/test_changes_catalogue.py", "tests/unit/test_changes.py")


def timed(args: list[str]) -> tuple[float, str]:
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    start = time.perf_counter()
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    summary = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
    return elapsed, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    with_all: list[float] = []
    without: list[float] = []
    summaries = {}
    for _ in range(args.runs):
        elapsed, summaries["with"] = timed(PYTEST + XDIST)
        with_all.append(elapsed)
        elapsed, summaries["without"] = timed(PYTEST + XDIST + [f"--ignore={t}" for t in CHANGES_TESTS])
        without.append(elapsed)
    alone, summaries["catalogue"] = timed([*PYTEST, "tests/test_changes_catalogue.py", "--durations=0"])
    unit, summaries["unit"] = timed([*PYTEST, "tests/unit/test_changes.py"])
    added = statistics.median(with_all) - statistics.median(without)
    lines = [
        "# What the update-safety tests add to make test",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, with `python benchmarks/changes_cost.py --runs {args.runs}`.",
        "",
        "| pytest run | wall s (each run) | median s | result |",
        "|---|---|---:|---|",
        f"| the suite, as `make unit` | {', '.join(f'{t:.0f}' for t in with_all)} | {statistics.median(with_all):.0f}"
        f" | {summaries['with']} |",
        f"| the suite without {' and '.join(CHANGES_TESTS)} | {', '.join(f'{t:.0f}' for t in without)} | "
        f"{statistics.median(without):.0f} | {summaries['without']} |",
        f"| tests/test_changes_catalogue.py alone, one process (with the reference app's synthesis) | {alone:.0f} |"
        f" {alone:.0f} | {summaries['catalogue']} |",
        f"| tests/unit/test_changes.py alone, one process | {unit:.0f} | {unit:.0f} | {summaries['unit']} |",
        "",
        f"Added to the suite's wall time: {added:+.0f} s (difference of the medians).",
        "",
    ]
    OUT.write_text("\n".join(lines))
    print(OUT.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
