#!/usr/bin/env python3
"""Print a one-screen summary of a cloud assembly: stacks, resource counts, template sizes, figures.

Constructs publish their figures (bandwidth, throughput, capacity) as construct metadata of type
"hpc:figures"; CDK copies it into the assembly manifest, where this script reads it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

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


def main(argv: list[str]) -> int:
    outdir = Path(argv[1] if len(argv) > 1 else "cdk.out")
    rows = stacks(outdir)
    print(render(rows))
    over = [r["name"] for r in rows if r["resources"] > RESOURCE_LIMIT or r["bytes"] > BYTES_LIMIT]
    if over:
        print(f"over CloudFormation's per-template limits: {', '.join(over)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
