"""A bastion's whole user data, run in bash against stub commands: the shared host keys come first, a failure
stops sshd rather than serve another identity, and CloudFormation is signalled SUCCESS or FAILURE."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from aws_cdk import Stack

from hpc_constructs import HaBastion, HpcNetwork, boot
from tests.support import install_stubs, new_stack
from tests.unit.test_boot_sequence import _flatten

STUBS = {
    "curl": 'case "$*" in *api/token*) echo tok;; *instance-id*) echo i-0bastion;; esac',
    "rpm": "exit 1",
    "dnf": "exit 0",
    "systemctl": 'case "$*" in "is-active --quiet sshd") [ -f "$STUB_STORE/sshd-stopped" ] && exit 3; exit 0;; '
                 '"stop sshd") touch "$STUB_STORE/sshd-stopped";; esac; exit 0',
    "aws": 'case "$*" in '
           '*get-secret-value*) [ -z "${STUB_AWS_DOWN:-}" ] && [ -f "$STUB_STORE/version" ] && '
           '{ cat "$STUB_STORE/version"; exit 0; }; exit 254;; '
           '*put-secret-value*) [ -n "${STUB_AWS_DOWN:-}" ] && exit 254; '
           'for a in "$@"; do case "$a" in file://*) cp "${a#file://}" "$STUB_STORE/version";; esac; done;; '
           'esac; exit 0',
    "ssh-keygen": 'echo "public"',
    "install": 'eval "dst=\\${$#}"; src="${@: -2:1}"; cp "$src" "$dst"',
    "getent": "exit 0",
}


@pytest.fixture(scope="module")
def bastion_user_data() -> tuple[str, str]:
    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    bastion = HaBastion(stack, "Bastion", vpc=network.vpc, allowed_cidrs=["203.0.113.0/24"])
    data = stack.resolve(bastion.launch_template.node.default_child.launch_template_data)  # type: ignore[union-attr]
    group = Stack.of(bastion).get_logical_id(bastion.auto_scaling_group.node.default_child)  # type: ignore[arg-type]
    return _flatten(data["userData"]["Fn::Base64"]), group


def _run(tmp_path: Path, text: str, **env: str) -> tuple[int, list[str], str, Path]:
    root, bin_dir, store = tmp_path / "root", tmp_path / "bin", tmp_path / "store"
    for d in (bin_dir, store, root / "etc" / "ssh"):
        d.mkdir(parents=True)
    (root / "etc" / "ssh" / "ssh_host_ed25519_key").write_text("own-ed25519\n")
    log = tmp_path / "calls.log"
    install_stubs(bin_dir, log, STUBS)
    for path in ("/usr/local/sbin", "/etc/", "/var/lib/hpc-constructs", "/opt/aws"):
        text = text.replace(path, f"{root}{path}")
    agent = root / "opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl"
    agent.parent.mkdir(parents=True)
    agent.write_text(f'#!/bin/bash\necho "amazon-cloudwatch-agent-ctl $*" >> "{log}"\n')
    agent.chmod(0o755)
    script = tmp_path / "user-data"
    script.write_text(text)
    full_env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "HPC_RETRY_SECONDS": "0",
                "STUB_STORE": str(store), "HPC_SSH_DIR": str(root / "etc" / "ssh"), **env}
    result = subprocess.run(["bash", str(script)], env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, timeout=60)
    return result.returncode, log.read_text().splitlines(), result.stdout, root


def _signals(calls: list[str]) -> list[str]:
    return [c for c in calls if "signal-resource" in c]


def test_a_clean_boot_shares_its_keys_ships_the_log_and_signals_success(
        tmp_path: Path, bastion_user_data: tuple[str, str]) -> None:
    text, group = bastion_user_data
    code, calls, out, root = _run(tmp_path, text)
    assert code == 0, out
    assert "every boot step succeeded" in out
    (signal,) = _signals(calls)
    assert f"--logical-resource-id {group} " in signal and "--unique-id i-0bastion" in signal
    assert signal.endswith("--status SUCCESS")
    put = next(i for i, c in enumerate(calls) if "put-secret-value" in c)
    assert put < calls.index("dnf install -y rsyslog amazon-cloudwatch-agent"), "the host keys come first"
    assert any(c.startswith("amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c file:") for c in calls)
    assert "ClientAliveInterval 60" in (root / "etc/ssh/sshd_config.d/10-hpc-bastion.conf").read_text()


def test_without_the_group_keys_sshd_stops_and_the_boot_signals_failure(
        tmp_path: Path, bastion_user_data: tuple[str, str]) -> None:
    text, _ = bastion_user_data
    code, calls, out, root = _run(tmp_path, text, STUB_AWS_DOWN="1")
    assert code == 1, out
    assert (root / boot.FAILED_STEPS_FILE.lstrip("/")).read_text().splitlines() == ["shared SSH host keys"]
    assert "systemctl stop sshd" in calls
    assert not [c for c in calls if c.startswith("systemctl reload-or-restart sshd")], "sshd stays stopped"
    assert "dnf install -y rsyslog amazon-cloudwatch-agent" in calls, "the steps after it still ran"
    (signal,) = _signals(calls)
    assert signal.endswith("--status FAILURE")


def test_the_user_data_is_valid_bash(tmp_path: Path, bastion_user_data: tuple[str, str]) -> None:
    script = tmp_path / "user-data"
    script.write_text(bastion_user_data[0])
    subprocess.run(["bash", "-n", str(script)], check=True)


def test_the_load_balancers_health_checks_stay_out_of_the_ssh_audit_log() -> None:
    """A TCP health check every 10 s from each load-balancer node closes before the SSH banner; sshd writes
    "Connection closed by <node> port <n>". Those lines go to a file of their own; a user's lines never match."""
    import re as regex

    from hpc_constructs.bastion import health_check_pattern

    pattern = regex.compile(health_check_pattern(["10.0.0.0/24", "10.0.1.0/24"]))
    assert pattern.search("Connection closed by 10.0.1.37 port 41522")
    assert pattern.search(" Connection closed by 10.0.0.4 port 3")  # rsyslog's msg keeps the leading space
    assert not pattern.search("Connection closed by 198.51.100.7 port 41522")  # a user, through the NLB
    assert not pattern.search("Connection closed by authenticating user alice 10.0.0.4 port 2 [preauth]")
    assert not pattern.search("Connection closed by 10.0.2.4 port 3")  # not the load balancer's subnets
    wide = regex.compile(health_check_pattern(["10.4.16.0/20"]))
    assert wide.search("Connection closed by 10.4.31.255 port 1") and not wide.search(
        "Connection closed by 10.4.32.1 port 1")
    # a CIDR only known at deploy (an imported VPC): the private ranges, where the load balancer's nodes are
    token = regex.compile(health_check_pattern(["${Token[TOKEN.1]}"]))
    assert token.search("Connection closed by 172.20.1.1 port 9") and not token.search(
        "Connection closed by 198.51.100.7 port 9")
