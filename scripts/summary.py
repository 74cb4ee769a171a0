#!/usr/bin/env python3
"""Print a one-screen summary of a cloud assembly: stacks, resource counts, template sizes, the deploy waves, the
boot work of every node kind, figures.

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
LAUNCH_TEMPLATE = "AWS::EC2::LaunchTemplate"


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


def deploy_waves(outdir: Path) -> tuple[list[list[str]], list[str]]:
    """The stacks in waves (each wave's stacks depend only on earlier waves: `cdk deploy --concurrency` deploys them
    together) and the longest chain of dependencies, read from the assembly's manifest."""
    artifacts = json.loads((outdir / "manifest.json").read_text())["artifacts"]
    names = [n for n, a in artifacts.items() if a.get("type") == "aws:cloudformation:stack"]
    deps = {n: [d for d in artifacts[n].get("dependencies", []) if d in names] for n in names}
    depth: dict[str, int] = {}
    before: dict[str, str | None] = {}

    def level(name: str) -> int:
        if name not in depth:
            parents = deps[name]
            depth[name] = 1 + max((level(d) for d in parents), default=-1)
            before[name] = max(parents, key=lambda d: (depth[d], d)) if parents else None
        return depth[name]

    for name in names:
        level(name)
    waves = [[n for n in names if depth[n] == i] for i in range(max(depth.values(), default=-1) + 1)]
    chain: list[str] = []
    last: str | None = max(names, key=lambda n: (depth[n], n)) if names else None
    while last is not None:
        chain.insert(0, last)
        last = before[last]
    return waves, chain


def _texts(value: Any) -> list[str]:
    """The literal strings in a CloudFormation value, a deploy-time value as '<ref>' (user data's Fn::Join parts)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    if isinstance(value, dict):
        if "Fn::Join" in value:
            return _texts(value["Fn::Join"][1])
        if "Fn::Base64" in value:
            return _texts(value["Fn::Base64"])
        return ["<ref>"]
    return []


def boot_work_rows(outdir: str | Path) -> list[dict[str, Any]]:
    """Per node kind (every launch template of every template): its image and what its user data downloads and
    installs at boot (hpc_constructs.boot.boot_work)."""
    from hpc_constructs.boot import boot_work  # pure, but the package's import loads aws-cdk-lib: only when asked

    outdir = Path(outdir)
    templates = {p.name.removesuffix(".template.json"): json.loads(p.read_text())
                 for p in sorted(outdir.glob("*.template.json"))}
    rows = []
    for stack, template in templates.items():
        resources = template.get("Resources", {})
        for logical, resource in resources.items():
            if resource.get("Type") != LAUNCH_TEMPLATE:
                continue
            data = resource.get("Properties", {}).get("LaunchTemplateData", {})
            text = "".join(_texts(data.get("UserData", "")))
            path = resource.get("Metadata", {}).get("aws:cdk:path", f"{stack}/{logical}")
            kind = path.removesuffix("/Resource").removesuffix("/LaunchTemplate")
            image = _image_of(logical, data, resources, templates)
            rows.append({"kind": kind, "image": image, "work": boot_work(text)})
    return rows


def _image_of(logical: str, data: dict[str, Any], resources: dict[str, Any], templates: dict[str, Any]) -> str:
    """Where a launch template's nodes get their image: the launch template, or the Batch environment's
    ImageIdOverride, or the PCS node group's AmiId that uses it."""
    value = data.get("ImageId")
    for resource in resources.values():
        props = resource.get("Properties", {})
        uses = json.dumps(props).count(f'"Ref": "{logical}"')
        if not uses:
            continue
        if resource["Type"] == "AWS::Batch::ComputeEnvironment":
            configs = props.get("ComputeResources", {}).get("Ec2Configuration", [])
            overrides = [c["ImageIdOverride"] for c in configs if "ImageIdOverride" in c]
            value = overrides[0] if overrides else "Batch: " + " + ".join(c.get("ImageType", "") for c in configs)
        elif resource["Type"] == "AWS::PCS::ComputeNodeGroup":
            value = props.get("AmiId", value)
    return _describe_image(value, resources, templates)


def _describe_image(value: Any, resources: dict[str, Any], templates: dict[str, Any]) -> str:
    if isinstance(value, str):
        return value
    if not isinstance(value, dict):
        return "the instance's default"
    if "Fn::GetStackOutput" in value:  # a weak reference to another stack's output
        spec = value["Fn::GetStackOutput"]
        producer = templates.get(spec.get("StackName", ""), {})
        output = producer.get("Outputs", {}).get(spec.get("OutputName", ""), {})
        return _describe_image(output.get("Value"), producer.get("Resources", {}), templates)
    if "Fn::ImportValue" in value:
        return "an imported value"
    if "Fn::GetAtt" in value:
        target = resources.get(value["Fn::GetAtt"][0], {})
        if target.get("Type") == "AWS::ImageBuilder::Image":
            return "HpcImage " + target.get("Metadata", {}).get("aws:cdk:path", value["Fn::GetAtt"][0]).removesuffix(
                "/Resource")
    if "Ref" in value:
        return f"public image (SSM parameter {value['Ref']})"
    return "a deploy-time value"


def render(rows: list[dict[str, Any]], waves: tuple[list[list[str]], list[str]] | None = None,
           boot: list[dict[str, Any]] | None = None) -> str:
    lines = [f"{'stack':<28} {'resources':>9} {'of':>4} {'template bytes':>15} {'of':>10}"]
    for row in rows:
        lines.append(
            f"{row['name']:<28} {row['resources']:>9} {RESOURCE_LIMIT:>4} {row['bytes']:>15,} {BYTES_LIMIT:>10,}"
        )
    if waves is not None:
        lines.append("deploy waves (make deploy: cdk deploy --concurrency, each wave's stacks together):")
        lines += [f"  {i}: {', '.join(wave)}" for i, wave in enumerate(waves[0], start=1)]
        lines.append(f"  longest chain ({len(waves[1])} stacks): {' -> '.join(waves[1])}")
    if boot is not None:
        lines.append("boot work per node kind (downloads and package installs at first boot):")
        width = max((len(b["kind"]) for b in boot), default=0)
        lines += [f"  {b['kind']:<{width}}  {b['work'].describe()}; image: {b['image']}" for b in boot]
    for row in rows:
        if row["figures"]:
            lines.append(f"{row['name']}:")
        for path, data in row["figures"]:
            lines.append(f"  {path}")
            lines.extend(f"    {key}: {value}" for key, value in data.items())
    return "\n".join(lines)


def over_limits(rows: list[dict[str, Any]]) -> list[str]:
    return [r["name"] for r in rows if r["resources"] > RESOURCE_LIMIT or r["bytes"] > BYTES_LIMIT]


def summary_text(outdir: str | Path) -> str:
    """The human summary that `make synth` prints."""
    outdir = Path(outdir)
    return render(stacks(outdir), deploy_waves(outdir), boot_work_rows(outdir))


def _md(text: object) -> str:
    """Escape Markdown (and inline HTML) in a figure or a name."""
    out = str(text).replace("\\", "\\\\")
    for char in "`*_[]|":
        out = out.replace(char, "\\" + char)
    return out.replace("<", "&lt;")  # `<bucket>` would be taken for an HTML tag


def render_markdown(rows: list[dict[str, Any]], waves: tuple[list[list[str]], list[str]] | None = None,
                    boot: list[dict[str, Any]] | None = None) -> str:
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
    if waves is not None:
        lines += ["", "## Deploy waves", "",
                  "`make deploy` and `make deploy-local` run `cdk deploy --concurrency`: the stacks of one wave "
                  "depend only on earlier waves and deploy together.", "",
                  "| Wave | Stacks |", "| ---: | --- |"]
        lines += [f"| {i} | {_md(', '.join(wave))} |" for i, wave in enumerate(waves[0], start=1)]
        lines += ["", f"Longest chain ({len(waves[1])} stacks): {_md(' -> '.join(waves[1]))}"]
    if boot is not None:
        lines += ["", "## Boot work per node kind", "",
                  "What each node kind's user data downloads and installs at first boot (every launch template).",
                  "", "| Node kind | Downloads | Package installs | Image |", "| --- | ---: | ---: | --- |"]
        lines += [f"| {_md(b['kind'])} | {len(b['work'].downloads)} | {len(b['work'].packages)} | {_md(b['image'])} |"
                  for b in boot]
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
    outdir = Path(outdir)
    return render_markdown(stacks(outdir), deploy_waves(outdir), boot_work_rows(outdir))


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
    print(render(rows, deploy_waves(outdir), boot_work_rows(outdir)))
    if args.write:
        write(outdir)
    over = over_limits(rows)
    if over:
        print(f"over CloudFormation's per-template limits: {', '.join(over)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
