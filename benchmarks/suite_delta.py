#!/usr/bin/env python3
"""The test suite's time on this checkout against a base commit, run alternately on the same machine.

    .venv/bin/python benchmarks/suite_delta.py --base main [--runs 1]

The base commit is exported (git archive) to a temporary directory and run with this checkout's venv and
node_modules, its own code first on the import path. Each run is pytest as `make unit` runs it (xdist, one
worker per core, at most 4, --dist loadfile); the runs alternate base, head, base, head, ... so that a change
in the machine's load falls on both. Prints each run's wall seconds, its last line and the 1-minute load
average before it, then the medians and their difference.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTEST = [str(ROOT / ".venv" / "bin" / "pytest"), "-q", "-n", "auto", "--maxprocesses", "4", "--dist", "loadfile",
          "-p", "no:cacheprovider"]


def export(commit: str, into: Path) -> None:
    archive = into.parent / "base.tar"
    subprocess.run(["git", "archive", "--format=tar", "-o", str(archive), commit], cwd=ROOT, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    archive.unlink()
    (into / "node_modules").symlink_to(ROOT / "node_modules")


def run_suite(where: Path) -> tuple[float, str, float]:
    load = os.getloadavg()[0]
    env = {**os.environ, "PYTHONPATH": str(where)}
    started = time.monotonic()
    result = subprocess.run(PYTEST, cwd=where, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    return seconds, lines[-1] if lines else f"exit {result.returncode}", load


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="main", help="the commit to compare with (default main)")
    parser.add_argument("--runs", type=int, default=1, help="runs of each (alternating)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="suite-delta-") as tmp:
        base = Path(tmp) / "base"
        base.mkdir()
        export(args.base, base)
        times: dict[str, list[float]] = {"base": [], "head": []}
        for _ in range(args.runs):
            for name, where in (("base", base), ("head", ROOT)):
                seconds, outcome, load = run_suite(where)
                times[name].append(seconds)
                print(f"{name}: {seconds:.0f} s (load {load:.1f} before): {outcome}", flush=True)
    base_s, head_s = statistics.median(times["base"]), statistics.median(times["head"])
    print(f"median base {base_s:.0f} s, head {head_s:.0f} s: {head_s - base_s:+.0f} s "
          f"({(head_s / base_s - 1) * 100:+.0f} %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
