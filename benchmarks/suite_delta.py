#!/usr/bin/env python3
"""The test suite's time on this checkout against a base commit, run alternately on the same machine.

    .venv/bin/python benchmarks/suite_delta.py --base main [--runs 1]

The base commit is checked out in a temporary git worktree and run with this checkout's venv and
node_modules, its own code first on the import path. Each run is pytest as that tree's own `make unit` runs it
(the flags of its Makefile's pytest line: xdist, one worker per core, at most 4, --dist loadfile, and on the
head --no-loadscope-reorder), without pytest's cache; the runs alternate base, head, base, head, ... so that a
change in the machine's load falls on both. Prints each run's wall seconds, its CPU seconds (user + system of
pytest and everything it waited for: the xdist workers, their jsii node processes, the CLI runs), its last line
and the 1-minute load average before and after it, then the medians and their difference. CPU seconds are the
figure the machine's load stretches least (it is shared with other sessions).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def pytest_command(where: Path) -> list[str]:
    """The pytest line of `where`'s Makefile `unit` target, with this checkout's venv and one worker per core."""
    makefile = (where / "Makefile").read_text()
    line = re.search(r"^unit:.*\n\t(\$\(BIN\)/pytest .*)$", makefile, re.MULTILINE)
    if line is None:
        raise SystemExit(f"no pytest line under `unit:` in {where / 'Makefile'}")
    args = line.group(1).replace("$(PYTEST_WORKERS)", "auto").split()[1:]
    return [str(ROOT / ".venv" / "bin" / "pytest"), *args, "-p", "no:cacheprovider"]


def export(commit: str, into: Path) -> None:
    """A detached git worktree of `commit` (make diff's test runs git in it), with this checkout's venv and
    node_modules linked in (make diff's script runs the app with the venv's python)."""
    subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(into), commit], cwd=ROOT, check=True)
    for name in ("node_modules", ".venv"):
        (into / name).symlink_to(ROOT / name)


def run_suite(where: Path) -> tuple[float, float, str, float, float]:
    """(wall seconds, CPU seconds, last line, load before, load after) of one run."""
    load = os.getloadavg()[0]
    env = {**os.environ, "PYTHONPATH": str(where)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    result = subprocess.run(pytest_command(where), cwd=where, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    return seconds, cpu, lines[-1] if lines else f"exit {result.returncode}", load, os.getloadavg()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="main", help="the commit to compare with (default main)")
    parser.add_argument("--runs", type=int, default=1, help="runs of each (alternating)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="suite-delta-") as tmp:
        base = Path(tmp) / "base"
        export(args.base, base)
        try:
            times: dict[str, list[float]] = {"base": [], "head": []}
            cpus: dict[str, list[float]] = {"base": [], "head": []}
            for _ in range(args.runs):
                for name, where in (("base", base), ("head", ROOT)):
                    seconds, cpu, outcome, load, load_after = run_suite(where)
                    times[name].append(seconds)
                    cpus[name].append(cpu)
                    print(f"{name}: {seconds:.0f} s wall, {cpu:.0f} s CPU (load {load:.1f} before, {load_after:.1f} "
                          f"after): {outcome}", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, check=True)
    for label, figures in (("wall", times), ("CPU", cpus)):
        base_s, head_s = statistics.median(figures["base"]), statistics.median(figures["head"])
        print(f"median {label}: base {base_s:.0f} s, head {head_s:.0f} s: {head_s - base_s:+.0f} s "
              f"({(head_s / base_s - 1) * 100:+.0f} %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
