"""A fleet's whole user data, run in bash against stub commands: a failed step never skips the
steps after it, and the user data ends non-zero, naming the failed steps."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from hpc_constructs import ComputeFleet, EfsSpec, HpcNetwork, StorageLayer, boot
from tests.support import install_stubs, new_stack

STUBS = {
    "curl": "exit 22",  # no download works: the EFA installer cannot be fetched
    "rpm": "exit 1",  # no package installed yet
    "dnf": "exit 0",
    "systemctl": "exit 0",
    "systemd-escape": r'p="${@: -1}"; p="${p#/}"; echo "${p//\//-}.mount"',
    # mounted once the mount unit has been started
    "findmnt": 'grep -q "^systemctl start" "$HPC_CALL_LOG" && echo nfs4; exit 0',
}


def _flatten(value: Any) -> str:
    """The user data's text, with each CloudFormation token replaced by a placeholder."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_flatten(part) for part in parts)
    return "fs-0123456789abcdef0"


@pytest.fixture(scope="module")
def user_data() -> str:
    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    fleet = ComputeFleet(stack, "Fleet", vpc=network.vpc, subnet=network.cluster_subnet,
                         instance_types=["c6in.32xlarge"])
    StorageLayer(stack, "Storage", vpc=network.vpc, efs=EfsSpec(mount_point="/shared/home")).mount_on(fleet)
    (lt,) = Template.from_stack(stack).find_resources("AWS::EC2::LaunchTemplate").values()
    return _flatten(lt["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"])


def _run(tmp_path: Path, text: str) -> tuple[int, list[str], str, Path]:
    root = tmp_path / "root"
    bin_dir = tmp_path / "bin"
    log = tmp_path / "calls.log"
    install_stubs(bin_dir, log, STUBS)
    # every absolute path the user data writes goes under tmp_path/root
    for path in ("/usr/local/sbin", "/etc/", "/var/lib/hpc-constructs", "/shared/home"):
        text = text.replace(path, f"{root}{path}")
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "fstab").write_text("")
    script = tmp_path / "user-data"
    script.write_text(text)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "HPC_RETRY_SECONDS": "0",
           "HPC_WAIT_SECONDS": "0", "HPC_CALL_LOG": str(log)}
    result = subprocess.run(["bash", str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, timeout=60)
    return result.returncode, log.read_text().splitlines(), result.stdout, root


def test_a_failed_efa_install_does_not_skip_the_mounts_and_is_reported(tmp_path: Path, user_data: str) -> None:
    code, calls, out, root = _run(tmp_path, user_data)
    assert code == 1, out
    failed = (root / boot.FAILED_STEPS_FILE.lstrip("/")).read_text().splitlines()
    assert failed == ["EFA software 1.51.0"]
    assert "1 boot step(s) failed: EFA software 1.51.0" in out
    # the steps after the failure ran: EFS client, fstab entry, the mount through its systemd unit
    assert "dnf install -y amazon-efs-utils" in calls
    starts = [c for c in calls if c.startswith("systemctl start ")]
    assert starts and starts[0].endswith(".mount") and "shared-home" in starts[0]
    fstab = (root / "etc" / "fstab").read_text()
    assert "efs _netdev,noresvport,tls,iam,x-systemd.automount 0 0" in fstab
    assert out.index("step failed (exit") < out.index("hpc-mount:")


def test_every_step_succeeding_ends_zero_with_an_empty_report(tmp_path: Path, user_data: str) -> None:
    # an image that already has the EFA software: the installer skips itself
    fi_info = tmp_path / "fi_info"
    fi_info.write_text("#!/bin/bash\n")
    fi_info.chmod(0o755)
    text = user_data.replace("#!/bin/bash\n", f"#!/bin/bash\nexport HPC_EFA_FI_INFO={fi_info}\n", 1)
    code, _, out, root = _run(tmp_path, text)
    assert code == 0, out
    assert (root / boot.FAILED_STEPS_FILE.lstrip("/")).read_text() == ""
    assert "every boot step succeeded" in out


def test_the_user_data_is_valid_bash(user_data: str, tmp_path: Path) -> None:
    script = tmp_path / "user-data"
    script.write_text(user_data)
    subprocess.run(["bash", "-n", str(script)], check=True)
    assert json.dumps(user_data).count("hpc_boot_report") == 2  # defined once, called once by the exit trap
