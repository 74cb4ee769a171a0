#!/usr/bin/env python3
"""How synth time and template sizes grow with the number of Batch queues: 1, 10 and 50 queues.

    .venv/bin/python benchmarks/scale.py --runs 3 --out benchmarks/scale.md

Each size is the reference environment's shape, generated (scale_config) and built the way app.py builds
it: stacks.parse_config on the config, build_reference_app with cdk.json's context and cdk-nag on. Every
queue runs on a compute environment made from a fleet of its own with 10 instance types (c7i, m7i or r7i
sizes), which mounts the storage (FSx for Lustre, EFS). Each run is a fresh Python process that imports,
builds and synthesizes the app (what `cdk synth` waits for, without the CLI's node start-up); the runs are
interleaved across the sizes (1, 10, 50, 1, 10, 50, ...) so that drift on a busy machine falls on every
size alike. The script fits time = a + b x queues by least squares over every run, and reports R^2 (over
the runs, and over the sizes' medians) and each median's residual.

Importable: run_benchmark(runs=3) returns the results (rows per size, the fits) and render(results, command)
the Markdown; tests/lint/test_scale.py synthesizes scale_config(50).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SIZES = (1, 10, 50)
INSTANCE_TYPES_PER_QUEUE = 10
FAMILIES = ("c7i", "m7i", "r7i")  # Intel compute, general purpose and memory-optimized, one a queue in turn
SIZES_OF_A_FAMILY = ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge",
                     "48xlarge", "metal-24xl")
# Linear enough: the fitted line explains this much of the variance of the sizes' medians.
LINEAR_R_SQUARED = 0.95


def instance_types(queue: int) -> list[str]:
    """The 10 instance types of queue `queue`'s fleet: every size of c7i, m7i or r7i up to metal-24xl."""
    family = FAMILIES[queue % len(FAMILIES)]
    return [f"{family}.{size}" for size in SIZES_OF_A_FAMILY[:INSTANCE_TYPES_PER_QUEUE]]


def scale_config(queues: int) -> dict[str, Any]:
    """The reference environment's config (network, storage, tags) with `queues` Batch queues.

    Queue i (queue00, queue01, ...) runs on compute environment env<i>, made from fleet Fleet<i> of 10
    instance types (Spot-capable, no EFA: the smaller sizes have none); fleets mount Lustre and EFS, not the
    EBS volumes (the project volume is held by one node at a time).
    """
    import yaml

    reference = yaml.safe_load((ROOT / "config" / "reference.yaml").read_text())
    config: dict[str, Any] = {"name": "Scale", "tags": reference["tags"], "network": reference["network"],
                              "storage": reference["storage"], "fleets": {},
                              "batch": {"compute_environments": [], "job_queues": []}}
    for i in range(queues):
        config["fleets"][f"Fleet{i:02d}"] = {"instance_types": instance_types(i), "min_capacity": 0,
                                             "max_capacity": 4, "mount_ebs": False}
        config["batch"]["compute_environments"].append({"name": f"env{i:02d}", "fleet": f"Fleet{i:02d}",
                                                        "max_vcpus": 1024})
        config["batch"]["job_queues"].append({"name": f"queue{i:02d}", "compute_environments": [f"env{i:02d}"],
                                              "priority": i + 1})
    return config


def synthesize(queues: int, outdir: str) -> dict[str, Any]:
    """Build and synthesize the app of `queues` queues into `outdir` (in this process); its templates' sizes."""
    started = time.perf_counter()
    from stacks import build_reference_app, parse_config
    from tests.support import new_app

    imported = time.perf_counter()
    app = new_app(outdir=outdir)
    build_reference_app(app, parse_config(scale_config(queues), source=f"benchmarks/scale.py ({queues} queues)"))
    built = time.perf_counter()
    app.synth()
    done = time.perf_counter()
    return {"import_s": imported - started, "build_s": built - imported, "synth_s": done - built,
            **template_sizes(Path(outdir))}


def template_sizes(outdir: Path) -> dict[str, Any]:
    """How many templates (nested ones among them) and the largest one by resources and by bytes."""
    sizes = {}
    for path in sorted(outdir.glob("*.template.json")):
        sizes[path.name] = (len(json.loads(path.read_text()).get("Resources", {})), path.stat().st_size)
    largest_resources = max(sizes.items(), key=lambda item: item[1][0])
    largest_bytes = max(sizes.items(), key=lambda item: item[1][1])
    return {"templates": len(sizes), "nested": sum(1 for name in sizes if name.endswith(".nested.template.json")),
            "max_resources": largest_resources[1][0], "max_resources_template": largest_resources[0],
            "max_bytes": largest_bytes[1][1], "max_bytes_template": largest_bytes[0]}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    return env


def _one_run(queues: int) -> dict[str, Any]:
    """A fresh Python process that synthesizes the app: its wall time and its CPU time (with jsii's node
    process), measured from here."""
    with tempfile.TemporaryDirectory() as outdir:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", str(queues), outdir],
                              cwd=ROOT, env=_env(), check=True, capture_output=True, text=True)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_s"] = wall
    result["cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result


def fit(xs: Sequence[float], ys: Sequence[float]) -> dict[str, Any]:
    """Least squares y = a + b x: a, b, R^2."""
    n = len(xs)
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    b = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx
    a = mean_y - b * mean_x
    total = sum((y - mean_y) ** 2 for y in ys)
    residual = sum((y - (a + b * x)) ** 2 for x, y in zip(xs, ys, strict=True))
    return {"a": a, "b": b, "r_squared": 1 - residual / total if total else 1.0}


def run_benchmark(runs: int = 3, sizes: Sequence[int] = SIZES) -> dict[str, Any]:
    """`runs` whole-process runs of every size, interleaved; rows per size and the fits of time on queues.

    Two fits, each over every run: wall time (what a user waits for) and CPU time (the work done). R^2 is
    given over the runs (it falls with the run-to-run noise of a shared machine) and over the sizes' medians
    (how well the line follows them). Growth is called linear when the line explains the medians (R^2 at
    least LINEAR_R_SQUARED) and no median is further from it than its size's own spread (max - min, or 5%).
    """
    if runs < 3:
        raise ValueError("at least 3 runs: a median and a spread need them")
    samples: dict[int, list[dict[str, Any]]] = {size: [] for size in sizes}
    for _ in range(runs):
        for size in sizes:
            samples[size].append(_one_run(size))
    rows = []
    for size in sizes:
        last = samples[size][-1]
        row: dict[str, Any] = {"queues": size}
        for measure in ("wall", "cpu"):
            values = [s[f"{measure}_s"] for s in samples[size]]
            row[measure] = {"median": statistics.median(values), "min": min(values), "max": max(values)}
        row["build_s"] = statistics.median(s["build_s"] for s in samples[size])
        row["synth_s"] = statistics.median(s["synth_s"] for s in samples[size])
        row.update({k: last[k] for k in ("templates", "nested", "max_resources", "max_resources_template",
                                         "max_bytes", "max_bytes_template")})
        rows.append(row)
    fits = {}
    for measure in ("wall", "cpu"):
        xs = [float(size) for size in sizes for _ in samples[size]]
        ys = [s[f"{measure}_s"] for size in sizes for s in samples[size]]
        line = fit(xs, ys)
        residuals = {row["queues"]: row[measure]["median"] - (line["a"] + line["b"] * row["queues"]) for row in rows}
        medians = [row[measure]["median"] for row in rows]
        spread = sum((m - sum(medians) / len(medians)) ** 2 for m in medians)
        line["residuals"] = residuals
        line["r_squared_medians"] = 1 - sum(r ** 2 for r in residuals.values()) / spread if spread else 1.0
        line["linear"] = line["r_squared_medians"] >= LINEAR_R_SQUARED and all(
            abs(residuals[row["queues"]]) <= max(row[measure]["max"] - row[measure]["min"],
                                                 0.05 * row[measure]["median"]) for row in rows)
        line["growth"] = growth(rows, measure, linear=line["linear"])
        fits[measure] = line
    return {"rows": rows, "fits": fits, "runs": runs, **_machine()}


SUPERLINEAR_FACTOR = 1.25  # a later size's cost per queue this much above an earlier one's is super-linear


def growth(rows: Sequence[dict[str, Any]], measure: str, *, linear: bool) -> str:
    """'linear'; else 'sub-linear' when each further queue costs no more than at the sizes before (within
    SUPERLINEAR_FACTOR), else 'super-linear': the one that breaks "synth time must grow linearly"."""
    if linear:
        return "linear"
    steps = [(b[measure]["median"] - a[measure]["median"]) / (b["queues"] - a["queues"])
             for a, b in itertools.pairwise(rows)]
    rising = any(later > SUPERLINEAR_FACTOR * max(earlier, 1e-9)
                 for i, earlier in enumerate(steps) for later in steps[i + 1:])
    return "super-linear" if rising else "sub-linear"


def _machine() -> dict[str, str]:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "unknown"

    dirty = " (with uncommitted changes)" if git("status", "--porcelain") else ""
    return {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
            "python": platform.python_version(), "date": time.strftime("%Y-%m-%d %H:%M %Z"),
            "commit": git("rev-parse", "--short", "HEAD") + dirty}


def render(results: dict[str, Any], command: str) -> str:
    rows, fits = results["rows"], results["fits"]
    out = [
        "# Scale benchmark: synth time and template sizes by Batch queues",
        "",
        f"Measured {results['date']} on {results['machine']}, Python {results['python']}, commit "
        f"{results['commit']}, with `{command}`.",
        "",
        "Each size is the reference environment's shape (network, storage, tags; `benchmarks/scale.py`, "
        "`scale_config`): every queue runs on a compute environment made from its own fleet of "
        f"{INSTANCE_TYPES_PER_QUEUE} instance types (sizes of c7i, m7i or r7i), which mounts Lustre and EFS. "
        "Built through `stacks/` with cdk.json's context and cdk-nag on. Each run is a fresh Python process "
        "(imports and jsii start-up, build, synth; no CDK CLI), timed from outside: wall time, and CPU time of "
        f"the process and its jsii node process. {results['runs']} runs per size, interleaved across sizes.",
        "",
        "| queues | wall median s | wall min-max s | CPU median s | build s | synth s | templates (nested) "
        "| largest by resources | largest by bytes |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        wall, cpu = row["wall"], row["cpu"]
        out.append(f"| {row['queues']} | {wall['median']:.1f} | {wall['min']:.1f}-{wall['max']:.1f} "
                   f"| {cpu['median']:.1f} | {row['build_s']:.1f} | {row['synth_s']:.1f} "
                   f"| {row['templates']} ({row['nested']}) | {row['max_resources']} ({row['max_resources_template']}) "
                   f"| {row['max_bytes']:,} ({row['max_bytes_template']}) |")
    out += ["",
            "Build and synth: medians of the wall time inside the process after its imports (constructing the "
            "stacks; `app.synth()` with cdk-nag and CDK's validation).",
            "",
            "Least-squares fits over every run, time = a + b x queues:",
            "",
            "| time | a (s) | b (s per queue) | R^2 (runs) | R^2 (medians) | "
            + " | ".join(f"median - line at {r['queues']}" for r in rows) + " |",
            "|---|---:|---:|---:|---:|" + "---:|" * len(rows)]
    for measure, label in (("wall", "wall"), ("cpu", "CPU")):
        line = fits[measure]
        out.append(f"| {label} | {line['a']:.2f} | {line['b']:.3f} | {line['r_squared']:.3f} "
                   f"| {line['r_squared_medians']:.3f} | "
                   + " | ".join(f"{line['residuals'][r['queues']]:+.2f}" for r in rows) + " |")
    out.append("")
    for measure, label in (("wall", "Wall time"), ("cpu", "CPU time")):
        line = fits[measure]
        if line["linear"]:
            out.append(f"{label} grows linearly: the line follows the medians (R^2 {line['r_squared_medians']:.3f}, "
                       f"at least {LINEAR_R_SQUARED}), each within its size's spread of the runs; each further queue "
                       f"(with its fleet and environment) costs about {line['b']:.2f} s. R^2 over the runs, "
                       f"{line['r_squared']:.3f}, is the run-to-run noise of the machine.")
        else:
            out.append(f"{label} is {line['growth']}: the line does not follow the medians closely enough to call it "
                       f"linear (R^2 of the medians {line['r_squared_medians']:.3f}, linear needs {LINEAR_R_SQUARED}, "
                       f"or a median further from the line than its size's spread), and a further queue costs "
                       f"{'more' if line['growth'] == 'super-linear' else 'no more'} at the larger sizes than at the "
                       f"smaller; the slope is {line['b']:.2f} s per queue.")
        out.append("")
    steps = [f"{a['queues']} to {b['queues']} queues: "
             f"{(b['wall']['median'] - a['wall']['median']) / (b['queues'] - a['queues']):.2f} s"
             for a, b in itertools.pairwise(rows)]
    out.append(f"Wall time per further queue between the sizes' medians: {'; '.join(steps)}.")
    out.append("")
    out.append(f"The constant (about {fits['wall']['a']:.0f} s of wall time) is Python and jsii start-up, the "
               "network and storage stacks, and cdk-nag.")
    out.append("")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="whole-process runs per size (at least 3)")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="queue counts (default 1 10 50)")
    parser.add_argument("--out", type=Path, help="write the Markdown report here (e.g. benchmarks/scale.md)")
    parser.add_argument("--child", nargs=2, metavar=("QUEUES", "OUTDIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(synthesize(int(args.child[0]), args.child[1])))
        return 0
    results = run_benchmark(args.runs, args.sizes)
    command = "python benchmarks/scale.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = render(results, command.strip())
    if args.out:
        args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
