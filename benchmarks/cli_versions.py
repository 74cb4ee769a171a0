#!/usr/bin/env python3
"""Which CDK CLI versions read the cloud assembly that the pinned aws-cdk-lib writes.

    .venv/bin/python benchmarks/cli_versions.py [VERSION ...]      (writes benchmarks/cli_versions.md)

Synthesizes config/minimal.yaml once with the pinned CLI (node_modules/.bin/cdk, package.json), then installs
each CLI version (default: the pin, npm's `latest` tag and 3.0.0) into a temporary directory with npm and runs
`cdk ls --app <assembly>` with it: the CLI reads the manifest's schema version before anything else, so this
is where an incompatible CLI stops. For each version: npm's publish date and deprecation notice, the
cloud-assembly schema version it was built with, exit status and the first error line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "cli_versions.md"
PINNED_CLI = ROOT / "node_modules" / ".bin" / "cdk"


def _env() -> dict[str, str]:
    node_major = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip().lstrip("v")
    return {**os.environ, "CDK_DISABLE_CLI_TELEMETRY": "true",
            "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED": "true",
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": node_major.split(".")[0],
            "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"}


def _npm_view(spec: str, *fields: str) -> dict[str, object]:
    done = subprocess.run(["npm", "view", spec, *fields, "--json"], capture_output=True, text=True, timeout=120)
    value = json.loads(done.stdout or "{}")
    return value if isinstance(value, dict) else {fields[0]: value}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("versions", nargs="*", help="CLI versions (default: the pin, npm latest, 3.0.0)")
    args = parser.parse_args(argv)
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"]
    tags = _npm_view("aws-cdk", "dist-tags")
    latest = str(tags.get("latest", tags.get("dist-tags", {}).get("latest")))  # type: ignore[union-attr]
    versions = args.versions or list(dict.fromkeys([pinned, latest, "3.0.0"]))
    times = _npm_view("aws-cdk", "time")
    times = times.get("time", times)  # type: ignore[assignment]
    rows = []
    with tempfile.TemporaryDirectory(prefix="cli-versions-") as tmp:
        assembly = Path(tmp) / "cdk.out"
        subprocess.run([str(PINNED_CLI), "synth", "--quiet", "-c", "hpc:config=config/minimal.yaml",
                        "-c", "hpc:nag=false", "-o", str(assembly)],
                       cwd=ROOT, env=_env(), check=True, capture_output=True, timeout=600)
        schema = json.loads((assembly / "manifest.json").read_text())["version"]
        for version in versions:
            prefix = Path(tmp) / f"cli-{version}"
            subprocess.run(["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--loglevel=error",
                            f"aws-cdk@{version}"], check=True, capture_output=True, timeout=600)
            package = json.loads((prefix / "node_modules" / "aws-cdk" / "package.json").read_text())
            built_with = package.get("devDependencies", {}).get("@aws-cdk/cloud-assembly-schema") or package.get(
                "dependencies", {}).get("@aws-cdk/cloud-assembly-schema", "?")
            deprecated = _npm_view(f"aws-cdk@{version}", "deprecated").get("deprecated") or ""
            done = subprocess.run([str(prefix / "node_modules" / ".bin" / "cdk"), "ls", "--app", str(assembly)],
                                  cwd=tmp, env=_env(), capture_output=True, text=True, timeout=300)
            output = (done.stdout + done.stderr).strip().splitlines()
            error = next((line for line in output if "rror" in line or "schema" in line), "") if done.returncode else ""
            rows.append((version, str(times.get(version, "?"))[:10], str(deprecated), built_with, done.returncode,
                         error.strip()))
            print(rows[-1], flush=True)
    lines = [
        "# CDK CLI versions against the pinned aws-cdk-lib",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} by `benchmarks/cli_versions.py`: config/minimal.yaml synthesized "
        f"with the pinned CLI ({pinned}); the assembly's manifest schema version is **{schema}**; "
        f"`cdk ls --app <assembly>` with each CLI. npm's `latest` tag: {latest}.",
        "",
        "| CLI | published | npm deprecation | built with cloud-assembly-schema | `cdk ls` exit | first error line |",
        "|---|---|---|---|---:|---|",
        *[f"| {v} | {d} | {dep or '-'} | {s} | {rc} | {err.replace('|', '/') or '-'} |"
          for v, d, dep, s, rc, err in rows],
        "",
    ]
    OUT.write_text("\n".join(lines))
    print(OUT.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
