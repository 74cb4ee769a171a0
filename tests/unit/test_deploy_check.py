"""`make deploy` refuses, before any AWS call, a config that still holds values that cannot work on AWS."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from scripts.deploy_check import main, problems
from tests.support import ROOT


def test_the_reference_config_names_each_example_value_once() -> None:
    found = problems(yaml.safe_load((ROOT / "config" / "reference.yaml").read_text()))
    keys = [line.split(":", 1)[0] for line in found]
    assert keys == ["ssh_users[0].public_keys[0]",
                    "data_transfer.datasync_tasks[0].source.nfs.server_hostname",
                    "data_transfer.datasync_tasks[0].source.nfs.agent_arns[0]",
                    "bastion.allowed_cidrs[0]"]  # no example AMI: the reference builds its images (images:)
    assert all("; replace it with " in line for line in found)


def test_the_reference_config_names_no_ami_it_does_not_build() -> None:
    config = yaml.safe_load((ROOT / "config" / "reference.yaml").read_text())
    assert "ami_id" not in json.dumps(config)
    named = [config["slurm"]["image"], config["bastion"]["image"],
             *(f["image"] for f in config["fleets"].values()),
             *(e["image"] for e in config["batch"]["compute_environments"]),
             *(g["image"] for g in config["slurm"]["node_groups"] if "image" in g)]
    assert set(named) == set(config["images"])  # every image is used, every node kind names one


def test_an_example_slurm_ami_is_refused_with_the_way_to_a_real_image() -> None:
    (line,) = problems({"slurm": {"ami_id": "ami-0123456789abcdef0"}})
    assert line.startswith("slurm.ami_id: 'ami-0123456789abcdef0': an example AMI ID")
    assert "slurm_version, named by slurm.image" in line and "aws-pcs-sample_ami-al2023" in line
    (line,) = problems({"slurm": {"node_groups": [{"ami_id": "ami-1234567890abcdef0"}]}})
    assert line.startswith("slurm.node_groups[0].ami_id:") and "slurm.image" in line


def test_the_reference_config_marks_each_value_to_replace() -> None:
    lines = (ROOT / "config" / "reference.yaml").read_text().splitlines()
    for value in ("- name: alice", "server_hostname:", "agent_arns:", "allowed_cidrs:"):
        index = next(i for i, line in enumerate(lines) if line.strip().startswith(value))
        before = "\n".join(lines[max(0, index - 6):index])
        assert "REPLACE before `make deploy`" in before, value


@pytest.mark.parametrize("cidr", ["192.0.2.0/24", "198.51.100.7/32", "203.0.113.0/25", "2001:db8::/48"])
def test_documentation_ranges_are_refused_in_allow_lists(cidr: str) -> None:
    assert problems({"bastion": {"allowed_cidrs": ["10.1.0.0/16", cidr]}}) == [
        f"bastion.allowed_cidrs[1]: {cidr!r}: a documentation-only address range (RFC 5737 / RFC 3849): nobody "
        "connects from it; replace it with your users' public address ranges (for one machine: curl -s "
        "https://checkip.amazonaws.com, then /32)"]


def test_real_values_pass() -> None:
    nfs = {"server_hostname": "nfs.corp.internal",
           "agent_arns": ["arn:aws:datasync:eu-west-1:210987654321:agent/agent-0a1b2c3d4e5f60718"]}
    assert problems({"account": "210987654321", "bastion": {"allowed_cidrs": ["198.51.101.0/24", "2001:db9::/32"],
                                                             "blocked_cidrs": ["203.0.113.66/32"]},
                     "slurm": {"ami_id": "ami-0f1e2d3c4b5a69788"},
                     "data_transfer": {"datasync_tasks": [{"source": {"nfs": nfs}}]}}) == []


def test_the_example_account_anywhere_is_refused() -> None:
    (line,) = problems({"account": "111122223333"})
    assert line.startswith("account: '111122223333': the example account") and "get-caller-identity" in line
    (line,) = problems({"fleets": {"Cpu": {"machine_image": "ami-0abcdef1234567890"}}})
    assert "an example AMI ID" in line and "pcs-sample" not in line


def test_the_command_exits_1_with_one_line_per_value_and_0_on_a_clean_config(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "scripts/deploy_check.py", "config/reference.yaml"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and len(re.findall(r"^  \S", result.stderr, re.M)) == 4
    clean = tmp_path / "clean.yaml"
    clean.write_text("name: Clean\nbastion:\n  allowed_cidrs: [10.20.0.0/16]\n")
    assert main([str(clean)]) == 0
    assert main([str(tmp_path / "missing.yaml")]) == 2


def test_make_deploy_checks_before_any_aws_call() -> None:
    """The check runs before the synth (whose lookups call AWS) and before cdk bootstrap."""
    recipe = (ROOT / "Makefile").read_text().split("\ndeploy: ", 1)[1].split("\n\n", 1)[0]
    check = recipe.index("scripts/deploy_check.py")
    assert check < recipe.index("synth") < recipe.index("bootstrap") < recipe.index("deploy --all")
