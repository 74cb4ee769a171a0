"""Ctrl-C during `make deploy-local`: the run says it was interrupted and that nothing is left, and reports no orphans.

A terminal's Ctrl-C sends SIGINT to its foreground process group: scripts/deploy_local.py and the CDK CLI it
runs (the emulator runs in a session of its own). Here the script runs in a new session, as a terminal's job
would, on a one-resource app, and the group gets SIGINT while the pinned CLI bootstraps the emulator. Before
the fix, a CLI killed by the signal was taken for a failed step and the run went on: read-back, destroy and an
orphan count of an emulator about to be discarded anyway. The second case sends SIGINT to the CLI alone, as when
it dies of the signal before the script sees its own: the script must still take the run as interrupted.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_cloudformation as cloudformation

from tests.support import ROOT

pytestmark = pytest.mark.cli


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _cli_pid(script_pid: int) -> int:
    """The CDK CLI that the script runs: its child whose command line names node_modules/.bin/cdk."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue  # the process ended while we looked
        if parent == script_pid and b"node_modules/.bin/cdk" in command:
            return int(stat.parent.name)
    raise AssertionError(f"no CDK CLI under process {script_pid}")


@pytest.mark.parametrize("target", ["group", "cli"])
def test_ctrl_c_says_interrupted_and_nothing_left(tmp_path: Path, target: str) -> None:
    app = App(outdir=str(tmp_path / "cdk.out"))
    cloudformation.CfnWaitConditionHandle(Stack(app, "Tiny"), "Handle")
    assembly = app.synth().directory
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
           "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED": "true", "CDK_DISABLE_CLI_TELEMETRY": "true"}
    process = subprocess.Popen([sys.executable, "-u", "scripts/deploy_local.py", "--app", assembly], cwd=ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    assert process.stdout is not None
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if line.startswith("$ cdk bootstrap"):
                time.sleep(1.0)  # the CLI is starting
                if target == "group":
                    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the script and the CLI together
                else:
                    os.kill(_cli_pid(process.pid), signal.SIGINT)  # the CLI alone dies of it
                break
        lines += process.stdout.readlines()
        status = process.wait(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    output = "".join(lines)
    assert status == 130, output
    assert "interrupted" in output and "nothing is left on this machine" in output, output
    assert "orphans" not in output and "Read back" not in output, output
    port = int(re.search(r"moto on http://localhost:(\d+)", output)[1])  # type: ignore[index]
    assert not _port_open(port)
    work = Path(re.search(r"log (\S+)/cdk\.log", output)[1])  # type: ignore[index]
    assert not work.exists(), f"{work} is left"
