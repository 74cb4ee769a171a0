"""Ctrl-C during `make deploy-local`: the run says it was interrupted and that nothing is left, and reports no orphans.

A terminal's Ctrl-C sends SIGINT to its foreground process group: scripts/deploy_local.py and the CDK CLI it
runs (the emulator runs in a session of its own). Here the script runs in a new session, as a terminal's job
would, on a one-resource app, and the group gets SIGINT while the pinned CLI bootstraps the emulator. Before
the fix, a CLI killed by the signal was taken for a failed step and the run went on: read-back, destroy and an
orphan count of an emulator about to be discarded anyway.
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


def test_ctrl_c_says_interrupted_and_nothing_left(tmp_path: Path) -> None:
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
                time.sleep(1.0)  # the CLI is starting: Ctrl-C reaches it and the script together
                os.killpg(process.pid, signal.SIGINT)
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
