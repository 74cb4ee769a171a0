#!/usr/bin/env python3
"""`make deploy-local`: the synthesized app through the pinned CDK CLI's real bootstrap, deploy and destroy, on
the local emulator (scripts/emulator: moto on loopback), with a read-back and an orphan report.

    python scripts/deploy_local.py [--app cdk.out] [--port 0]

The emulator runs in its own process group and is stopped on success, on failure and on Ctrl-C; the script
then checks that its port is closed. Exit status: 0 when every stack deployed and was destroyed with no
orphans, 1 otherwise, 130 when interrupted.

Ctrl-C (SIGINT to the terminal's process group: this script and the CDK CLI it runs) interrupts the run
wherever it is, even when the CLI dies of it first: the CLI is stopped, then the emulator; its state was only
in its memory, so it is gone, and the work directory (logs, journal) is removed. The script says that the run
was interrupted and that nothing is left on this machine; it reads nothing back and reports no orphans, since
there is no emulator left to hold any.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.emulator.readback import clients, inventory, read_back, table  # noqa: E402

REGION = "us-east-1"
CDK = ROOT / "node_modules" / ".bin" / "cdk"
# How a child ends when Ctrl-C or a kill reached it: killed by the signal (negative), or exiting 128 + signal.
INTERRUPTED_STATUSES = {-signal.SIGINT, -signal.SIGTERM, 128 + signal.SIGINT, 128 + signal.SIGTERM}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Emulator:
    """The emulator process: started in its own session, so that stop() can end it and all it started."""

    def __init__(self, port: int, journal: Path, log: Path) -> None:
        self.port, self.journal, self.log = port, journal, log
        self.endpoint = f"http://localhost:{port}"
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "scripts.emulator", "--port", str(self.port), "--journal", str(self.journal)],
                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        deadline = time.monotonic() + 60
        while not self.log.read_text().startswith("ready"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the emulator did not start:\n{self.log.read_text()}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        for _ in range(50):
            if not port_open(self.port):
                return
            time.sleep(0.1)
        raise RuntimeError(f"port {self.port} is still open after the emulator stopped")


def cdk(args: list[str], env: dict[str, str], log: Path) -> int:
    """Run the pinned CDK CLI; its output goes to the terminal and to the log.

    Raises KeyboardInterrupt when the run is interrupted: Ctrl-C here (the CLI is then stopped too, never left
    running against a stopped emulator), or a CLI that died of SIGINT or SIGTERM.
    """
    print(f"$ cdk {' '.join(args)}", flush=True)
    with log.open("a") as out:
        process = subprocess.Popen([str(CDK), *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        try:
            assert process.stdout is not None
            for line in process.stdout:
                out.write(line)
                if any(mark in line for mark in ("✅", "❌", "FAILED", "failed", "Error", "error")):
                    print("  " + line.rstrip(), flush=True)
            status = process.wait()
        finally:
            if process.poll() is None:  # interrupted while the CLI runs
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
    if status in INTERRUPTED_STATUSES:
        raise KeyboardInterrupt(f"cdk {args[0]}")
    return status


def retained_resources(client: Any, app: Path) -> list[tuple[str, str, str]]:
    """(stack, type, physical id) of every deployed resource whose DeletionPolicy keeps it."""
    manifest = json.loads((app / "manifest.json").read_text())
    cfn = client("cloudformation")
    kept = []
    for name, artifact in manifest["artifacts"].items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        template = json.loads((app / artifact["properties"]["templateFile"]).read_text())
        retain = {lid for lid, r in template["Resources"].items() if r.get("DeletionPolicy") == "Retain"}
        for resource in cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]:
            if resource["LogicalResourceId"] in retain:
                kept.append((name, resource["ResourceType"], resource["PhysicalResourceId"]))
    return kept


def not_exercised(app: Path) -> list[str]:
    notes = []
    manifest = json.loads((app / "manifest.json").read_text())
    for name, artifact in manifest["artifacts"].items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        template = json.loads((app / artifact["properties"]["templateFile"]).read_text())
        for lid, resource in template["Resources"].items():
            signal_spec = resource.get("CreationPolicy", {}).get("ResourceSignal")
            if signal_spec:
                notes.append(f"{name}/{lid}: CreationPolicy waits for {signal_spec.get('Count', 1)} signal(s) "
                             "from booting instances; the emulator boots nothing and does not wait (not exercised)")
    return notes


def is_retained(ident: str, kept: list[tuple[str, str, str]]) -> bool:
    """Whether an inventory ID (with its label) names one of the retained physical resources."""
    return any(physical and (physical in ident or ident.split(" ")[0] in physical) for _, _, physical in kept)


def print_paths(app: Path) -> None:
    """hpc-verify's table beside the read-back: the emulator stores security groups and policies without enforcing
    them, so whether each declared path is open is read from the same templates instead (it does not change the
    exit status: `make verify` is the gate)."""
    from hpc_constructs.verify import Assembly, AssemblyError, Checker
    from hpc_constructs.verify.cli import table as paths_table

    print("\nThe declared paths, checked from the same templates (hpc-verify; the emulator does not enforce them):\n")
    try:
        checker = Checker(Assembly.load(app))
        print("\n\n".join(paths_table(checker.run(az), az) for az in (None, *checker.azs())))
    except AssemblyError as error:
        print(f"hpc-verify: {error}")


def run(app: Path, port: int) -> int:
    work = Path(tempfile.mkdtemp(prefix="deploy-local-"))
    log, journal = work / "cdk.log", work / "simulated.json"
    emulator = Emulator(port or free_port(), journal, work / "emulator.log")
    env = {**os.environ, "AWS_ENDPOINT_URL": emulator.endpoint, "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": REGION,
           "AWS_DEFAULT_REGION": REGION, "CDK_DISABLE_CLI_TELEMETRY": "true",
           "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED": "true"}
    for key in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        env.pop(key, None)
    os.environ.update({k: env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                            "AWS_DEFAULT_REGION")})
    started = time.monotonic()
    interrupted = False
    try:
        emulator.start()
        print(f"emulator: moto on {emulator.endpoint} (scripts/emulator), log {log}", flush=True)
        client = clients(emulator.endpoint, REGION)
        if cdk(["bootstrap", "--app", str(app)], env, log) != 0:
            print("cdk bootstrap failed: see the log", file=sys.stderr)
            return 1
        baseline = inventory(client)
        deployed = cdk(["deploy", "--all", "--require-approval", "never", "--app", str(app)], env, log)
        print("\nRead back through the service APIs:\n")
        print(table(read_back(client)))
        print_paths(app)
        simulated = json.loads(journal.read_text()) if journal.exists() else []
        print("\nSimulated by the emulator (what it could not run, and did instead):")
        print("\n".join(f"  {s['resource']}: {s['effect']}" for s in simulated) or "  nothing")
        print("Not exercised:")
        print("\n".join(f"  {note}" for note in not_exercised(app)) or "  nothing")
        kept = retained_resources(client, app) if deployed == 0 else []
        destroyed = cdk(["destroy", "--all", "--force", "--app", str(app)], env, log)
        left = sorted(inventory(client) - baseline)
        retained = [item for item in left if is_retained(item[1], kept)]
        orphans = [item for item in left if item not in retained]
        print(f"\nRetained by design ({len(retained)}, DeletionPolicy Retain: the stateful storage and logs):")
        print("\n".join(f"  {kind}: {ident}" for kind, ident in retained) or "  none")
        print(f"{len(orphans)} orphans" + (":" if orphans else ""))
        print("\n".join(f"  {kind}: {ident}" for kind, ident in orphans), end="\n" if orphans else "")
        status = 0 if deployed == 0 and destroyed == 0 and not orphans else 1
        if deployed != 0:
            print("cdk deploy failed: see the log above and " + str(log), file=sys.stderr)
        return status
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        emulator.stop()
        if interrupted:
            # The emulator held every resource in its own memory, and the log and journal are this run's alone.
            shutil.rmtree(work, ignore_errors=True)
            print(f"\ninterrupted: the run stopped before its report; the emulator was stopped and its state "
                  f"discarded, port {emulator.port} closed, {work} removed: nothing is left on this machine; "
                  f"{time.monotonic() - started:.0f} s", flush=True)
        else:
            print(f"emulator stopped, port {emulator.port} closed; {time.monotonic() - started:.0f} s", flush=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--app", type=Path, default=ROOT / "cdk.out", help="a synthesized cloud assembly")
    parser.add_argument("--port", type=int, default=0, help="the emulator's port (default: a free one)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks on kill
    # Ctrl-C interrupts the run even when this process started with SIGINT ignored (a shell's background job, a
    # harness): Python installs its KeyboardInterrupt handler only where SIGINT was not ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return run(args.app.resolve(), args.port)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
