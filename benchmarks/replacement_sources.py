#!/usr/bin/env python3
"""Which properties replace a resource: cfn-lint's resource schemas against the CDK CLI's spec, measured.

    make synth && .venv/bin/python benchmarks/replacement_sources.py --assembly cdk.out
    (writes benchmarks/replacement_sources.md)

hpc_constructs.changes reads cfn-lint's schemas (CloudFormation's registry schemas, `createOnlyProperties`). The CDK
CLI's diff reads its own spec (@aws-cdk/aws-service-spec, bundled as node_modules/aws-cdk/db.json.gz), which merges
the same registry schemas with CloudFormation's older resource specification ("UpdateType": "Immutable", nested
properties included). This counts, for every resource type both know, the property paths each marks as replacing:
in both, only in one, nested or top-level, on types with registry handlers (where the schema is what CloudFormation
acts on) or without (where CloudFormation's own implementation and its reference page decide). With --assembly, the
same for the types of that cloud assembly, with each difference listed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CDK = ROOT / "node_modules" / "aws-cdk"
OUT = ROOT / "benchmarks" / "replacement_sources.md"


def cdk_spec() -> dict[str, set[str]]:
    """{type: property paths the CDK CLI's spec marks causesReplacement: yes}, nested paths joined with '/'."""
    spec = json.loads(gzip.decompress((CDK / "db.json.gz").read_bytes()))["schema"]
    types = {t["$id"]: t for t in spec["typeDefinition"]["entities"]}

    def walk(properties: dict[str, Any], prefix: str, seen: frozenset[str]) -> Iterator[str]:
        for name, prop in properties.items():
            if prop.get("causesReplacement") == "yes":
                yield prefix + name
            for reference in _references(prop["type"]):
                if reference not in seen:
                    yield from walk(types[reference]["properties"], f"{prefix}{name}/", seen | {reference})

    return {r["cloudFormationType"]: set(walk(r["properties"], "", frozenset()))
            for r in spec["resource"]["entities"]}


def _references(type_: dict[str, Any]) -> Iterator[str]:
    if type_.get("type") == "ref":
        yield type_["reference"]["$ref"]
    if "element" in type_:
        yield from _references(type_["element"])
    for member in type_.get("types", []) if type_.get("type") == "union" else []:
        yield from _references(member)


def cfn_lint() -> tuple[dict[str, set[str]], set[str], str, str]:
    """({type: create-only paths}, types with registry handlers, schema date, cfn-lint version), us-east-1."""
    from importlib.metadata import version

    import cfnlint
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    paths, handlers = {}, set()
    for resource_type in PROVIDER_SCHEMA_MANAGER.get_resource_types("us-east-1"):
        if "::" not in resource_type or resource_type.startswith("AWS::Serverless"):
            continue
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type).schema
        paths[resource_type] = {p.removeprefix("/properties/").replace("/*", "")
                                for p in schema.get("createOnlyProperties", [])}
        if "handlers" in schema:
            handlers.add(resource_type)
    data = Path(cfnlint.__file__).parent / "data" / "schemas" / "version.json"
    date = json.loads(data.read_text()).get("schema_date", "?") if data.exists() else "?"
    return paths, handlers, date, version("cfn-lint")


def assembly_types(directory: Path) -> set[str]:
    from hpc_constructs.changes import load_assembly

    return {r["Type"] for t in load_assembly(directory).values() for r in t.resources.values()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assembly", type=Path, help="a cloud assembly (cdk.out) whose types to list")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    lint, handlers, schema_date, lint_version = cfn_lint()
    cdk = cdk_spec()
    cdk_version = json.loads((CDK / "package.json").read_text())["version"]
    cdk_built = json.loads((CDK / "build-info.json").read_text()).get("comment", "")
    both_types = sorted(set(lint) & set(cdk))

    rows = []
    for label, selected in (("all types", both_types), ("with registry handlers", [t for t in both_types
                                                                                   if t in handlers]),
                            ("without registry handlers", [t for t in both_types if t not in handlers])):
        both = sum(len(lint[t] & cdk[t]) for t in selected)
        only_lint = [(t, p) for t in selected for p in sorted(lint[t] - cdk[t])]
        only_cdk = [(t, p) for t in selected for p in sorted(cdk[t] - lint[t])]
        rows.append(f"| {label} | {len(selected):,} | {both:,} | {len(only_lint):,} | "
                    f"{sum('/' in p for _, p in only_lint):,} | {len(only_cdk):,} | "
                    f"{sum('/' in p for _, p in only_cdk):,} | {len({t for t, _ in only_cdk}):,} |")

    lines = [
        "# Which properties replace a resource: cfn-lint's schemas and the CDK CLI's spec",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, Python "
        f"{platform.python_version()}, with `python benchmarks/replacement_sources.py"
        f"{' --assembly ' + str(args.assembly) if args.assembly else ''}`.",
        "",
        f"- cfn-lint {lint_version}, resource schemas of us-east-1 dated {schema_date} (`createOnlyProperties`;"
        " array items `/*` folded into their property)",
        f"- aws-cdk (the CDK CLI) {cdk_version}, spec `node_modules/aws-cdk/db.json.gz` ({cdk_built}):"
        " properties with `causesReplacement: yes`, nested ones through their property types",
        "",
        "Property paths that replace a resource, by source (a nested path is a property of a property):",
        "",
        "| resource types known to both | types | in both | only cfn-lint | of them nested | only CDK CLI |"
        " of them nested | types with CDK-only paths |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
    ]
    if args.assembly:
        types = sorted(assembly_types(args.assembly) & set(both_types))
        differ = [t for t in types if lint[t] != cdk[t]]
        lines += [f"Of the {len(types)} resource types in `{args.assembly}`, the two differ on {len(differ)}:", ""]
        for resource_type in differ:
            only_lint = sorted(lint[resource_type] - cdk[resource_type])
            only_cdk = sorted(cdk[resource_type] - lint[resource_type])
            registry = "registry handlers" if resource_type in handlers else "no registry handlers"
            lines.append(f"- {resource_type} ({registry}): only cfn-lint {only_lint or '-'}; "
                         f"only CDK CLI {only_cdk or '-'}")
        lines.append("")
    args.out.write_text("\n".join(lines))
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
