#!/usr/bin/env python3
"""`make diff`: what a pull request changes in the reference stacks, resource by resource.

Synthesizes the working tree and a base ref (BASE=...; default origin/main, else HEAD~1) checked out
in a temporary git worktree, then runs the pinned CDK CLI's `cdk diff --template <base template>` for
each stack: CloudFormation's resource-level diff, with replacements marked ("replace", "may be
replaced", "destroy", "orphan"). Then the stateful resources (tests/lock/stateful.py) that the change
would replace, remove or orphan, and the update-safety report of hpc_constructs.changes: every resource
CloudFormation would replace, with its cause and impact (data loss, fails, disrupts running work,
replaced). Exits 1 when that report has a `data loss` or `fails` line, as `hpc-changes` does.
Offline: no AWS account or credentials are used.

The base is synthesized with this checkout's virtualenv and CLI; a base that needs other package
versions may fail to synthesize (the script says so).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CDK = ROOT / "node_modules" / ".bin" / "cdk"
VENV_BIN = ROOT / ".venv" / "bin"

from hpc_constructs.changes import compare_assemblies, exit_status, report  # noqa: E402
from tests.lock.stateful import is_stateful  # noqa: E402


def git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def default_base() -> str:
    for ref in ("origin/main", "HEAD~1"):
        if subprocess.run(["git", "rev-parse", "--verify", "--quiet", ref + "^{commit}"], cwd=ROOT,
                          capture_output=True).returncode == 0:
            return ref
    raise SystemExit("make diff: neither origin/main nor HEAD~1 exists; pass BASE=<ref>")


def environment(source: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        # the tree being synthesized comes first on the module path, before the editable install
        "PYTHONPATH": str(source),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": env.get("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20"),
        "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED": "true",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        # nothing here may look for credentials on the network (no instance metadata service)
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_REGION": env.get("AWS_REGION", "us-east-1"),
    })
    return env


def synth(source: Path, outdir: Path) -> dict[str, dict[str, Any]]:
    """{stack: template} of the app in `source`, synthesized by the pinned CLI."""
    result = subprocess.run([str(CDK), "synth", "--quiet", "--output", str(outdir)], cwd=source,
                            env=environment(source), capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"make diff: cdk synth failed in {source}:\n{result.stderr[-4000:]}")
    manifest = json.loads((outdir / "manifest.json").read_text())
    return {name: json.loads((outdir / artifact["properties"]["templateFile"]).read_text())
            for name, artifact in manifest["artifacts"].items()
            if artifact.get("type") == "aws:cloudformation:stack"}


def stateful_changes(stack: str, base: dict[str, Any], head: dict[str, Any], diff_text: str) -> list[str]:
    """Stateful resources of the base that the head removes, or that the diff marks for replacement."""
    notes = []
    head_resources = head.get("Resources", {})
    for logical_id, resource in base.get("Resources", {}).items():
        if not is_stateful(resource["Type"]):
            continue
        if logical_id not in head_resources:
            notes.append(f"{stack}: {logical_id} ({resource['Type']}) leaves the stack: a new, empty resource "
                         "takes its place if it was renamed, and the old one is deleted or orphaned")
        elif re.search(rf"\b{re.escape(logical_id)}\b.*(replace|destroy)", diff_text):
            notes.append(f"{stack}: {logical_id} ({resource['Type']}) is replaced: its data does not move")
    return notes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default=os.environ.get("BASE") or None, help="git ref to compare with")
    parser.add_argument("--head-out", type=Path, default=None,
                        help="keep the working tree's cloud assembly (cdk synth --output) in this directory "
                             "(default: a temporary one, removed at the end)")
    args = parser.parse_args()
    if not CDK.exists():
        raise SystemExit("make diff: node_modules/.bin/cdk is missing; run `make setup`")
    base_ref = args.base or default_base()
    base_commit = git("rev-parse", "--short", base_ref + "^{commit}")
    print(f"make diff: working tree against {base_ref} ({base_commit})", flush=True)
    with tempfile.TemporaryDirectory(prefix="hpc-diff-") as tmp:
        work = Path(tmp)
        head_out = args.head_out.resolve() if args.head_out else work / "head.out"
        head = synth(ROOT, head_out)
        git("worktree", "add", "--detach", "--quiet", str(work / "base"), base_commit)
        try:
            base = synth(work / "base", work / "base.out")
        finally:
            git("worktree", "remove", "--force", str(work / "base"))
        notes: list[str] = []
        changed = 0
        for stack in sorted(set(base) - set(head)):
            changed += 1
            print(f"\nStack {stack}\n[-] the stack is gone from the app (cdk does not delete it; its resources "
                  "stay until you run cdk destroy)")
            notes += stateful_changes(stack, base[stack], {}, "")
        for stack in sorted(head):
            base_template = work / f"{stack}.base.json"
            base_template.write_text(json.dumps(base.get(stack, {})))
            result = subprocess.run(
                [str(CDK), "diff", "--app", str(head_out), "--exclusively", stack,
                 "--template", str(base_template)],
                cwd=ROOT, env=environment(ROOT), capture_output=True, text=True)
            output = (result.stdout + result.stderr).strip()
            if result.returncode not in (0, 1):
                raise SystemExit(f"make diff: cdk diff failed for {stack}:\n{output}")
            if stack not in base:
                print(f"\n(new stack {stack}: everything is added)")
            print("\n" + "\n".join(line for line in output.splitlines()
                                   if "Number of stacks with differences" not in line).strip())
            if "There were no differences" not in output:
                changed += 1
            notes += stateful_changes(stack, base.get(stack, {}), head[stack], output)
        replacements, unknown = compare_assemblies(work / "base.out", head_out)
    print(f"\nmake diff: {changed} of {len(set(base) | set(head))} stack(s) differ from {base_ref}.")
    if notes:
        print("Stateful resources at risk (see tests/lock/stateful-logical-ids.json):")
        for note in notes:
            print("  ! " + note)
    else:
        print("No stateful resource is replaced, removed or orphaned.")
    print(f"\nUpdate safety (hpc_constructs.changes), {base_ref} -> working tree, nested stacks included:")
    print(report(replacements, unknown))
    status = exit_status(replacements)
    if status:
        print("make diff: exit 1, a change above loses data or fails to deploy.")
    return status


if __name__ == "__main__":
    sys.exit(main())
