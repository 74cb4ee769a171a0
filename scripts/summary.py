#!/usr/bin/env python3
"""Print a one-screen summary of a cloud assembly: stacks, resource counts, template sizes, figures.

Constructs publish their figures (bandwidth, throughput, capacity) as construct metadata of type
"hpc:figures"; CDK copies it into the assembly manifest, where this script reads it.

Usage: summary.py [--write] [OUTDIR]   (OUTDIR defaults to cdk.out)
--write also writes OUTDIR/summary.md (the same in Markdown) and OUTDIR/architecture.md (the Mermaid diagram of
scripts/architecture.py), and with an HpcDashboard OUTDIR/dashboard.md and dashboard.svg (its alarms and layout,
scripts/dashboard.py). Exits 1 when a template is over CloudFormation's limits.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make `scripts` importable
    sys.path.insert(0, str(ROOT))

from scripts import architecture, dashboard  # noqa: E402

RESOURCE_LIMIT = 500
BYTES_LIMIT = 1_000_000


def stacks(outdir: Path) -> list[dict[str, Any]]:
    manifest = json.loads((outdir / "manifest.json").read_text())
    rows = []
    for name, artifact in manifest["artifacts"].items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        template_path = outdir / artifact["properties"]["templateFile"]
        template = json.loads(template_path.read_text())
        metadata = dict(artifact.get("metadata", {}))
        if "additionalMetadataFile" in artifact:  # newer assemblies keep metadata beside the manifest
            metadata.update(json.loads((outdir / artifact["additionalMetadataFile"]).read_text()))
        figures = [
            (path, entry["data"])
            for path, entries in metadata.items()
            for entry in entries
            if entry.get("type") == "hpc:figures"
        ]
        rows.append({
            "name": name,
            "resources": len(template.get("Resources", {})),
            "bytes": template_path.stat().st_size,
            "figures": figures,
        })
    # Nested stacks (stacks/nesting.py) are templates of their own, under the same limits.
    for template_path in sorted(outdir.glob("*.nested.template.json")):
        template = json.loads(template_path.read_text())
        rows.append({
            "name": f"{template_path.name.removesuffix('.nested.template.json')} (nested)",
            "resources": len(template.get("Resources", {})),
            "bytes": template_path.stat().st_size,
            "figures": [],
        })
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'stack':<28} {'resources':>9} {'of':>4} {'template bytes':>15} {'of':>10}"]
    for row in rows:
        lines.append(
            f"{row['name']:<28} {row['resources']:>9} {RESOURCE_LIMIT:>4} {row['bytes']:>15,} {BYTES_LIMIT:>10,}"
        )
        for path, data in row["figures"]:
            lines.append(f"  {path}")
            lines.extend(f"    {key}: {value}" for key, value in data.items())
    return "\n".join(lines)


def over_limits(rows: list[dict[str, Any]]) -> list[str]:
    return [r["name"] for r in rows if r["resources"] > RESOURCE_LIMIT or r["bytes"] > BYTES_LIMIT]


def summary_text(outdir: str | Path) -> str:
    """The human summary that `make synth` prints."""
    return render(stacks(Path(outdir)))


def _md(text: object) -> str:
    """Escape Markdown (and inline HTML) in a figure or a name."""
    out = str(text).replace("\\", "\\\\")
    for char in "`*_[]|":
        out = out.replace(char, "\\" + char)
    return out.replace("<", "&lt;")  # `<bucket>` would be taken for an HTML tag


def render_markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "# Synth summary",
        "",
        f"| Stack | Resources (of {RESOURCE_LIMIT}) | Template bytes (of {BYTES_LIMIT:,}) |",
        "| --- | ---: | ---: |",
    ]
    lines += [f"| {_md(r['name'])} | {r['resources']} / {RESOURCE_LIMIT} | {r['bytes']:,} / {BYTES_LIMIT:,} |"
              for r in rows]
    over = over_limits(rows)
    if over:
        lines += ["", f"**Over CloudFormation's per-template limits:** {', '.join(_md(n) for n in over)}"]
    lines += ["", "## Figures"]
    for row in rows:
        by_path: dict[str, list[tuple[str, Any]]] = {}
        for path, data in row["figures"]:
            by_path.setdefault(path, []).extend(data.items())
        for path, items in by_path.items():
            lines += ["", f"### {_md(path)}", ""]
            lines += [f"- **{_md(key)}**: {_md(value)}" for key, value in items]
    return "\n".join(lines) + "\n"


def summary_markdown(outdir: str | Path) -> str:
    """summary.md: the stacks as a table (resources and bytes against the limits), then each construct's figures."""
    return render_markdown(stacks(Path(outdir)))


def write(outdir: str | Path) -> list[Path]:
    """Write OUTDIR/summary.md and OUTDIR/architecture.md, and with a dashboard OUTDIR/dashboard.md and .svg."""
    outdir = Path(outdir)
    summary = outdir / "summary.md"
    summary.write_text(summary_markdown(outdir))
    return [summary, architecture.write(outdir), *dashboard.write(outdir)]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Summarize a cloud assembly: stacks, limits, figures.")
    parser.add_argument("outdir", nargs="?", default="cdk.out")
    parser.add_argument("--write", action="store_true", help="also write OUTDIR/summary.md and OUTDIR/architecture.md")
    args = parser.parse_args(argv[1:])
    outdir = Path(args.outdir)
    rows = stacks(outdir)
    print(render(rows))
    if args.write:
        write(outdir)
    over = over_limits(rows)
    if over:
        print(f"over CloudFormation's per-template limits: {', '.join(over)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
