#!/usr/bin/env python3
"""How long hpc-verify takes on a cloud assembly: `make bench-verify` (the reference app's cdk.out).

    python benchmarks/verify.py --app cdk.out [--runs 7] [--out benchmarks/verify.md]

Two measurements, each the median of --runs runs:
  - the command a user runs, `python -m hpc_constructs.verify <app> --each-az --json` (a new interpreter each
    time: imports, loading the assembly, every path with every AZ up and with each AZ lost, the JSON printed);
  - in-process: Assembly.load + Checker + every scenario, without the interpreter's start.
The goal (issue 27): under 5 s for the reference app.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOAL_SECONDS = 5.0


def command_seconds(app: Path) -> tuple[float, int, int]:
    """One run of the command: seconds, paths checked per scenario, exit status."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "hpc_constructs.verify", str(app), "--each-az", "--json"],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    seconds = time.perf_counter() - started
    if done.returncode == 2:
        raise SystemExit(f"hpc-verify refused {app}: {done.stderr.strip()}")
    return seconds, len(json.loads(done.stdout)["paths"]), done.returncode


def in_process_seconds(app: Path) -> float:
    from hpc_constructs.verify import Assembly, Checker

    started = time.perf_counter()
    checker = Checker(Assembly.load(app))
    for az in (None, *checker.azs()):
        checker.run(az)
    return time.perf_counter() - started


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--app", type=Path, default=ROOT / "cdk.out")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--out", type=Path, help="write the results as markdown here")
    args = parser.parse_args(argv)
    commands = [command_seconds(args.app) for _ in range(args.runs)]
    in_process = [in_process_seconds(args.app) for _ in range(args.runs)]
    median_command = statistics.median(c[0] for c in commands)
    median_in_process = statistics.median(in_process)
    paths, status = commands[0][1], commands[0][2]
    lines = [
        "# hpc-verify on the reference app",
        "",
        f"Measured {date.today().isoformat()} with `python benchmarks/verify.py --app {args.app.name} --runs "
        f"{args.runs}` (`make bench-verify`), Python {platform.python_version()}, {platform.machine()}.",
        "",
        "| what | median | min | max |",
        "|---|---|---|---|",
        f"| `python -m hpc_constructs.verify {args.app.name} --each-az --json` (new interpreter) | "
        f"{median_command:.2f} s | {min(c[0] for c in commands):.2f} s | {max(c[0] for c in commands):.2f} s |",
        f"| in-process: load, check every AZ up and each AZ lost | {median_in_process:.2f} s | "
        f"{min(in_process):.2f} s | {max(in_process):.2f} s |",
        "",
        f"{paths} declared paths, checked 3 times (every AZ up, each of 2 AZs lost); exit status {status}. Goal: under "
        f"{GOAL_SECONDS:g} s: {'met' if median_command < GOAL_SECONDS else 'NOT met'}.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out is not None:
        args.out.write_text(text)
    return 0 if median_command < GOAL_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
