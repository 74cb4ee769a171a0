#!/usr/bin/env python3
"""`make bench`: synth time of the reference app against bare aws-cdk-lib, the jsii floor and the import cost.

    make bench                                   # everything, 5 runs each, writes benchmarks/results.md
    .venv/bin/python benchmarks/bench.py --runs 9 --no-scale --no-suite

Measured, each as whole-process runs (a fresh python and its jsii node process every time):
  (a)  the reference app (app.py's main: config/reference.yaml, cdk.json context, cdk-nag on);
  (a0) the same with cdk-nag off (-c hpc:nag=false);
  (b)  benchmarks/bare_app.py: the same resources with the same properties, created directly (the floor);
  (c)  an empty CDK app (the jsii floor);
  (d)  `import hpc_constructs` after `import aws_cdk` (the process also prints the import's own time).
The runs are interleaved: round i runs every case once, in an order rotated each round, so the machine's
drift falls on every case alike. Reported: median, min and max of the wall times, the peak RSS of the
largest process (the jsii node process) and the ratios of medians, plus the split of one run of (a)
into phases and the top entries of its Python profile. With --scale, benchmarks/scale.py grows the
environment (1, 10, 50 Batch queues); with --suite, the test suite is timed as `make test` runs it.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results.md"
NODE = ROOT / "node_modules" / ".bin"


def _context(**extra: object) -> str:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    context.update(extra)
    return json.dumps(context)


def _env(**context: object) -> dict[str, str]:
    env = dict(os.environ)
    # Python caches compiled modules as a user's install does (the warm-up run writes them), for every case alike.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    env["CDK_CONTEXT_JSON"] = _context(**context)
    env["PYTHONPATH"] = str(ROOT)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{NODE}{os.pathsep}{env['PATH']}"
    return env


# Each case is a python program run from the repo root, as `cdk synth` runs app.py (without node's CLI).
APP = "import runpy\nrunpy.run_path('app.py', run_name='__main__')\n"
EMPTY = "import aws_cdk\naws_cdk.App().synth()\n"
IMPORT = ("import time\nimport aws_cdk\nstart = time.perf_counter()\nimport hpc_constructs\n"
          "print(f'import_s={time.perf_counter() - start:.4f}')\n")


@dataclass
class Case:
    key: str
    label: str
    code: str | None = None          # python -c code
    argv: list[str] | None = None    # or a script with arguments
    context: dict[str, object] = field(default_factory=dict)
    times: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # user + system seconds of the process and its node process
    peak_kib: list[int] = field(default_factory=list)
    printed: list[str] = field(default_factory=list)

    def command(self) -> list[str]:
        return [sys.executable, "-c", self.code] if self.code is not None else [sys.executable, *(self.argv or [])]

    def run(self) -> None:
        with tempfile.TemporaryDirectory() as out, tempfile.TemporaryFile("w+") as stdout, \
                tempfile.TemporaryFile("w+") as stderr:
            env = _env(**self.context)
            env["CDK_OUTDIR"] = out
            start = time.perf_counter()
            proc = subprocess.Popen(self.command(), cwd=ROOT, env=env, stdout=stdout, stderr=stderr)
            # wait4's rusage covers the process and its waited-for children (the jsii node process): ru_maxrss
            # is the peak RSS of the largest of them, ru_utime + ru_stime the CPU both used. On a shared machine the
            # CPU time moves far less with the load than the wall time does.
            _, status, usage = os.wait4(proc.pid, 0)
            elapsed = time.perf_counter() - start
            proc.returncode = os.waitstatus_to_exitcode(status)
            stdout.seek(0)
            stderr.seek(0)
            if proc.returncode != 0:
                raise SystemExit(f"{self.label} failed ({proc.returncode}):\n{stderr.read()[-3000:]}")
            self.printed.append(stdout.read().strip())
        self.times.append(elapsed)
        self.cpu.append(usage.ru_utime + usage.ru_stime)
        self.peak_kib.append(usage.ru_maxrss)


def _run(command: list[str], env: dict[str, str]) -> str:
    """Run a command from the repo root; its stdout, or exit with its stderr's tail."""
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])}... failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


def median(values: list[float]) -> float:
    return statistics.median(values)


def check_bare_app(reference_out: Path) -> int:
    """Synthesize (b) once and check it has (a)'s resources, properties, parameters and outputs. Returns a count."""
    with tempfile.TemporaryDirectory() as out:
        env = _env()
        env["CDK_OUTDIR"] = out
        _run([sys.executable, "benchmarks/bare_app.py", str(reference_out)], env)
        resources = 0
        for template in sorted(reference_out.glob("*.template.json")):
            ours = json.loads(template.read_text())
            bare = json.loads((Path(out) / template.name).read_text())
            for section in ("Resources", "Parameters", "Outputs"):
                if ours.get(section) != bare.get(section):
                    raise SystemExit(f"benchmarks/bare_app.py: {template.name}: {section} differ from (a)'s")
            resources += len(ours["Resources"])
    return resources


def phases_and_profile(top: int) -> tuple[dict[str, float], str]:
    """One run of (a) in this process: time per phase, then the profile's top entries (by cumulative time)."""
    code = """
import json, time
t0 = time.perf_counter()
import aws_cdk
t1 = time.perf_counter()
import app
from stacks import build_reference_app
t2 = time.perf_counter()
a = aws_cdk.App()
config = app.load_config(app.config_path(a))
t3 = time.perf_counter()
build_reference_app(a, config, nag=app.nag_enabled(a))
t4 = time.perf_counter()
assembly = a.synth()
t5 = time.perf_counter()
app.summary_text(__import__('pathlib').Path(assembly.directory))
t6 = time.perf_counter()
print(json.dumps({"import aws_cdk": t1 - t0, "import app, stacks, hpc_constructs": t2 - t1,
                  "read and check config": t3 - t2, "build the constructs": t4 - t3,
                  "synth (incl. cdk-nag, CDK's template validation)": t5 - t4, "summary": t6 - t5}))
"""
    with tempfile.TemporaryDirectory() as out:
        env = _env()
        env["CDK_OUTDIR"] = out
        phases = json.loads(_run([sys.executable, "-c", code], env).strip().splitlines()[-1])
        prof_file = Path(out) / "a.prof"
        _run([sys.executable, "-m", "cProfile", "-o", str(prof_file), "app.py"], env)
        stream = io.StringIO()
        stats = pstats.Stats(str(prof_file), stream=stream)
        stats.sort_stats("cumulative").print_stats(r"(hpc_constructs|stacks|app\.py|scripts)", top)
    lines = [line for line in stream.getvalue().splitlines() if line.strip()]
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls"))
    table = "\n".join(line.replace(str(ROOT) + "/", "") for line in lines[start:])
    return phases, table


BREAKDOWN_RUNS = 3


def _median_result(results: list[dict[str, Any]]) -> dict[str, Any]:
    """breakdown.py's results of several runs of one case: the median of every figure (round trips are the same
    in every run; times are not)."""
    first = results[0]
    return {
        "phases": {k: median([r["phases"][k] for r in results]) for k in first["phases"]},
        "trips": first["trips"], "trips_by_module": first["trips_by_module"],
        "python_cpu": median([r["python_cpu"] for r in results]),
        "node": {k: median([r["node"].get(k, 0.0) for r in results]) for k in first["node"]},
    }


def breakdown(reference_out: Path) -> list[str]:
    """benchmarks/breakdown.py for (a), (a0) and (b), BREAKDOWN_RUNS runs each: the medians of their round trips,
    Python CPU and node CPU by what ran."""
    runs: dict[str, list[dict[str, Any]]] = {"a": [], "a0": [], "b": []}
    for _ in range(BREAKDOWN_RUNS):  # interleaved, as the timed runs: a single run's node CPU moves by seconds
        for case, argv, context in (("a", ["a"], {}), ("a0", ["a"], {"hpc:nag": "false"}),
                                    ("b", ["b", str(reference_out)], {})):
            env = _env(**context)
            with tempfile.TemporaryDirectory() as out:
                env["CDK_OUTDIR"] = out
                runs[case].append(json.loads(_run([sys.executable, "benchmarks/breakdown.py", *argv], env)
                                             .strip().splitlines()[-1]))
    a, a0, b = (_median_result(runs[case]) for case in ("a", "a0", "b"))

    def trips(result: dict[str, Any], phase: str) -> int:
        return sum(result["trips"].get(phase, {}).values())

    waiting = "waiting for Python (blocked on its pipe)"
    rows = [
        ("build the constructs, wall s", *(r["phases"]["build"] for r in (a, a0, b))),
        ("app.synth(), wall s", *(r["phases"]["synth"] for r in (a, a0, b))),
        ("jsii round trips while building", *(trips(r, "build") for r in (a, a0, b))),
        ("jsii round trips in synth (callbacks into Python included)", *(trips(r, "synth") for r in (a, a0, b))),
        ("Python process CPU s (its code, imports, its half of each round trip)",
         *(r["python_cpu"] for r in (a, a0, b))),
        *[(f"node CPU s: {name}", *(r["node"].get(name, 0.0) for r in (a, a0, b)))
          for name in a["node"] if name != waiting],
        ("node blocked on its pipe, waiting for Python, s (not CPU)",
         *(r["node"].get(waiting, 0.0) for r in (a, a0, b))),
    ]
    lines = ["| | (a) ours | (a0) ours, cdk-nag off | (b) bare | (a) - (b) |", "|---|---:|---:|---:|---:|"]
    for name, ours, ours_off, bare in rows:
        fmt = "{:,}" if isinstance(ours, int) else "{:.2f}"
        lines.append(f"| {name} | {fmt.format(ours)} | {fmt.format(ours_off)} | {fmt.format(bare)} | "
                     f"{fmt.format(ours - bare)} |")
    kinds = ", ".join(f"{kind} {count:,}" for kind, count in sorted(a["trips"]["build"].items(), key=lambda kv: -kv[1]))
    modules = ", ".join(f"{name} {count:,}" for name, count in list(a["trips_by_module"].items())[:10])
    lines += ["", f"(a)'s round trips while building, by request: {kinds}.",
              f"By the module of ours that made them (top 10): {modules}."]
    return lines


def git_commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                           text=True).stdout.strip()
    return done.stdout.strip() + (" (with uncommitted changes)" if dirty else "")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return f"{cpu}, {os.cpu_count()} cores{memory}, Python {platform.python_version()}, {platform.system()}"


def time_suite() -> tuple[float, float, str]:
    """The test suite as `make test` runs it (ruff, mypy --strict, pytest), one run: wall seconds, CPU seconds (every
    process of it, the pytest-xdist workers' node processes included) and its last line."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    # the user's environment, not the cases' (CDK_CONTEXT_JSON would reach the tests' own synths and CLI runs)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDK_")}
    done = subprocess.run(["make", "test"], cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = [line for line in done.stdout.splitlines() if " passed" in line or " failed" in line]
    outcome = lines[-1].strip("= ") if lines else f"exit status {done.returncode}"
    if done.returncode != 0:
        print(done.stdout[-5000:], done.stderr[-3000:], sep="\n", file=sys.stderr)
        outcome = f"FAILED (exit status {done.returncode}): {outcome}"
    return elapsed, cpu, outcome


def _strip_images(config: dict[str, Any]) -> dict[str, Any]:
    """The reference config on the public images, as it was before HpcImage: no `images:` section, no node kind
    naming one, and the Slurm nodes on an AMI ID (an example one: this config is only synthesized, to count)."""
    import copy

    stripped = copy.deepcopy(config)
    stripped.pop("images", None)
    named = [*stripped.get("fleets", {}).values(), stripped.get("bastion") or {}, stripped.get("license_server") or {},
             *(stripped.get("batch") or {}).get("compute_environments", [])]
    slurm = stripped.get("slurm")
    if slurm is not None:
        named += [slurm, *slurm.get("node_groups", []), slurm.get("login_nodes") or {}]
        slurm["ami_id"] = "ami-0123456789abcdef0"
    for section in named:
        section.pop("image", None)
    return stripped


def boot_work_table(reference_out: Path) -> list[str]:
    """Per node kind of the reference: what its user data downloads and installs at boot (scripts/summary.py), on
    its HpcImage and, synthesized once more from the same config without `images:`, on the public images."""
    import yaml

    sys.path.insert(0, str(ROOT))
    from scripts.summary import boot_work_rows

    with tempfile.TemporaryDirectory() as out:
        config = Path(out) / "public-images.yaml"
        config.write_text(yaml.safe_dump(_strip_images(yaml.safe_load((ROOT / "config" / "reference.yaml")
                                                                       .read_text()))))
        env = _env(**{"hpc:nag": "false", "hpc:config": str(config)})
        env["CDK_OUTDIR"] = str(Path(out) / "cdk.out")
        _run([sys.executable, "-c", APP], env)
        public = {row["kind"]: row["work"] for row in boot_work_rows(Path(out) / "cdk.out")}
    lines = ["| node kind | image | downloads at boot | package installs at boot | on the public images: downloads,"
             " package installs |", "|---|---|---:|---:|---|"]
    for row in boot_work_rows(reference_out):
        work, before = row["work"], public.get(row["kind"])
        lines.append(f"| {row['kind']} | {row['image']} | {len(work.downloads)} | {len(work.packages)} | "
                     + (before.describe() if before is not None else "-") + " |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="whole-process runs per case (at least 5)")
    parser.add_argument("--top", type=int, default=15, help="profile entries to report")
    parser.add_argument("--scale", action=argparse.BooleanOptionalAction, default=True,
                        help="also run benchmarks/scale.py (1, 10, 50 Batch queues)")
    parser.add_argument("--scale-runs", type=int, default=5, help="whole-process runs per scale size")
    parser.add_argument("--suite", action=argparse.BooleanOptionalAction, default=True,
                        help="also time `make test` once")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.runs < 5:
        parser.error("--runs must be at least 5: a median of fewer runs is noise on this machine")

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as reference_out:
        env = _env()
        env["CDK_OUTDIR"] = reference_out
        _run([sys.executable, "-c", APP], env)  # warm-up, and (b)'s input
        resources = check_bare_app(Path(reference_out))
        cases = [
            Case("a", "(a) reference app, cdk-nag on", code=APP),
            Case("a0", "(a0) reference app, cdk-nag off", code=APP, context={"hpc:nag": "false"}),
            Case("b", "(b) bare aws-cdk-lib, same resources", argv=["benchmarks/bare_app.py", reference_out]),
            Case("c", "(c) empty CDK app", code=EMPTY),
            Case("d", "(d) import hpc_constructs after aws_cdk", code=IMPORT),
        ]
        for round_ in range(args.runs):
            shift = round_ % len(cases)
            for case in cases[shift:] + cases[:shift]:
                case.run()
                print(f"round {round_ + 1}/{args.runs} {case.label}: {case.times[-1]:.2f} s", file=sys.stderr)
        boot = boot_work_table(Path(reference_out))
        split = breakdown(Path(reference_out))
    by = {c.key: c for c in cases}
    ratio = median(by["a"].times) / median(by["b"].times)
    cpu_ratio = median(by["a"].cpu) / median(by["b"].cpu)
    cpu_ratio_off = median(by["a0"].cpu) / median(by["b"].cpu)
    ratio_off = median(by["a0"].times) / median(by["b"].times)
    jsii_floor = median(by["a"].times) / median(by["c"].times)
    import_s = [float(p.split("=")[1]) for p in by["d"].printed]
    phases, profile = phases_and_profile(args.top)

    lines = [
        "# Benchmarks",
        "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M %Z')}",
        f"- Commit: {git_commit()}",
        f"- Machine: {machine()}",
        f"- Command: `make bench` (`{Path(sys.executable).name} benchmarks/bench.py --runs {args.runs}`)",
        f"- {args.runs} whole-process runs per case, interleaved (round i runs every case once, rotated).",
        f"- The reference app (config/reference.yaml) has {resources} resources; (b) was checked to produce the"
        " same resources, properties, parameters and outputs before timing.",
        "",
        f"- Machine load (1, 5, 15-minute load averages) at the start: {', '.join(f'{x:.1f}' for x in load_before)};"
        f" at the end of the timed runs: {', '.join(f'{x:.1f}' for x in os.getloadavg())} (other sessions share"
        " the cores: wall times stretch with the load, CPU times much less).",
        "",
        f"synth ratio (ours / bare aws-cdk-lib): {ratio:.2f}",
        "",
        f"- the same in CPU time (user + system, the node process included): {cpu_ratio:.2f}",
        f"- cdk-nag off (`-c hpc:nag=false`), ours / bare aws-cdk-lib: {ratio_off:.2f} (CPU time {cpu_ratio_off:.2f})",
        f"- ours / empty CDK app (a/c): {jsii_floor:.2f}",
        "",
        "| case | median s | min s | max s | median CPU s | peak RSS MiB (largest process) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for case in cases:
        lines.append(f"| {case.label} | {median(case.times):.2f} | {min(case.times):.2f} | {max(case.times):.2f} | "
                     f"{median(case.cpu):.2f} | {max(case.peak_kib) / 1024:.0f} |")
    lines += [
        "",
        f"(d) measured inside the process: `import hpc_constructs` after `import aws_cdk` takes "
        f"{median(import_s):.2f} s (median; min {min(import_s):.2f}, max {max(import_s):.2f}).",
        "",
        "## Boot work per node kind",
        "",
        "What each launch template's user data downloads and installs at first boot (scripts/summary.py's count),"
        " in the reference environment and in the same config without `images:` (synthesized for this table):",
        "",
        *boot,
        "",
        "## Where (a) spends more than (b)",
        "",
        f"The median of {BREAKDOWN_RUNS} runs of each in-process (benchmarks/breakdown.py): jsii round trips"
        " counted on the Python side, node's CPU from its own sampling profiler (`--cpu-prof`) by what ran."
        " Both apps synthesize the same templates with the same context, so both pay aws-cdk-lib's"
        " CloudFormation Validate engine (`@aws-cdk/core:validateAgainstDefaultRules`).",
        "",
        *split,
        "",
        "## Where (a)'s time goes",
        "",
        "One in-process run of the reference app, split into phases (seconds):",
        "",
        "| phase | s |",
        "|---|---:|",
        *[f"| {name} | {seconds:.2f} |" for name, seconds in phases.items()],
        "",
        f"The top {args.top} entries of a cProfile of (a), our code only, by cumulative time (profiling slows"
        " Python down; jsii calls show as the time spent waiting for node):",
        "",
        "```",
        profile,
        "```",
    ]
    if args.scale:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        import scale  # benchmarks/scale.py

        results = scale.run_benchmark(runs=args.scale_runs)
        scale_file = ROOT / "benchmarks" / "scale.md"
        scale_file.write_text(scale.render(results, f"python benchmarks/bench.py (--scale-runs {args.scale_runs})"))
        wall = results["fits"]["wall"]
        lines += ["", "## Scale (benchmarks/scale.md)", "",
                  "| Batch queues (10 instance types each) | synth median s | templates (nested) | largest template |",
                  "|---:|---:|---:|---|"]
        lines += [f"| {row['queues']} | {row['wall']['median']:.1f} | {row['templates']} ({row['nested']}) | "
                  f"{row['max_resources']} resources, {row['max_bytes']:,} bytes |" for row in results["rows"]]
        lines += ["", f"Fit over every run: time = {wall['a']:.2f} s + {wall['b']:.3f} s x queues "
                      f"(R^2 {wall['r_squared_medians']:.3f} over the medians): "
                      f"{wall['growth']} (only super-linear growth would break 'synth time grows linearly')."]
    args.out.write_text("\n".join(lines) + "\n")  # written before the suite runs: it takes minutes
    if args.suite:
        load = os.getloadavg()
        seconds, cpu, outcome = time_suite()
        lines += ["", "## Test suite", "",
                  f"`make test` (ruff, mypy --strict, pytest with pytest-xdist), one run after set-up: "
                  f"{seconds:.0f} s ({seconds / 60:.1f} min), {cpu:.0f} s of CPU; pytest: {outcome}. Load averages "
                  f"before it: {', '.join(f'{x:.1f}' for x in load)}; after: "
                  f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}."]
        args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
