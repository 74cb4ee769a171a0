"""hpc-imds-guard, run for real against stub iptables, systemctl and dnf: which rules it adds, in which order,
and that a second run (every boot runs it) adds nothing twice."""

from __future__ import annotations

import os
import subprocess
from importlib import resources
from pathlib import Path

from hpc_constructs import boot
from tests.support import install_stubs

# iptables -C (check) succeeds for the rules listed in STUB_PRESENT (one per line, as "-C <args>" would name
# them); -N fails when STUB_CHAIN_EXISTS=yes, as it does for a chain that exists.
STUBS = {
    "iptables": 'case "$*" in '
                '*" -C "*) grep -qxF -- "$*" <<< "${STUB_PRESENT:-}" && exit 0; exit 1;; '
                '*" -N "*) [ "${STUB_CHAIN_EXISTS:-no}" = yes ] && exit 1; exit 0;; '
                '*" -A "*cgroup*) exit "${STUB_CGROUP_FAILS:-0}";; esac; exit 0',
    "systemctl": "exit 0",
    "dnf": "exit 0",
}


def _run(tmp_path: Path, args: list[str], env: dict[str, str] | None = None,
         stubs: dict[str, str] | None = None) -> tuple[int, list[str], str]:
    bin_dir = tmp_path / "bin"
    log = tmp_path / "calls.log"
    install_stubs(bin_dir, log, stubs or STUBS)
    script = tmp_path / "hpc-imds-guard"
    script.write_text(resources.files("hpc_constructs").joinpath("scripts/hpc-imds-guard.sh").read_text())
    units = tmp_path / "units"
    units.mkdir(exist_ok=True)
    full_env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HPC_SYSTEMD_DIR": str(units), **(env or {})}
    result = subprocess.run(["bash", str(script), *args], env=full_env, capture_output=True, text=True, timeout=30)
    calls = log.read_text().splitlines() if log.exists() else []
    return result.returncode, calls, result.stdout + result.stderr


def _iptables(calls: list[str]) -> list[str]:
    return [c.removeprefix("iptables ") for c in calls if c.startswith("iptables ")]


def test_non_root_owners_are_refused_the_metadata_service(tmp_path: Path) -> None:
    code, calls, out = _run(tmp_path, ["--non-root"])
    assert code == 0, out
    assert _iptables(calls) == [
        "-w -N HPC-IMDS", "-w -F HPC-IMDS",
        "-w -A HPC-IMDS -m owner ! --uid-owner 0 -j REJECT",
        "-w -C OUTPUT -d 169.254.169.254/32 -j HPC-IMDS",
        "-w -I OUTPUT 1 -d 169.254.169.254/32 -j HPC-IMDS"]
    assert not [c for c in calls if c.startswith("systemctl")]  # no ECS task slice without --ecs-tasks
    assert "non-root users" in out


def test_ecs_task_containers_are_refused_too_and_their_slice_exists_first(tmp_path: Path) -> None:
    code, calls, out = _run(tmp_path, ["--non-root", "--ecs-tasks"])
    assert code == 0, out
    rules = _iptables(calls)
    assert "-w -A HPC-IMDS -m cgroup --path ecstasks.slice -j REJECT" in rules
    assert "-w -A HPC-IMDS -m owner ! --uid-owner 0 -j REJECT" in rules
    start = calls.index("systemctl start ecstasks.slice")
    assert start < calls.index("iptables -w -A HPC-IMDS -m cgroup --path ecstasks.slice -j REJECT")
    assert (tmp_path / "units" / "ecstasks.slice").read_text().endswith("[Slice]\n")
    assert "non-root users and ECS task containers" in out


def test_a_second_run_rebuilds_the_chain_and_jumps_to_it_once(tmp_path: Path) -> None:
    present = "-w -C OUTPUT -d 169.254.169.254/32 -j HPC-IMDS"
    code, calls, out = _run(tmp_path, ["--non-root"], {"STUB_PRESENT": present, "STUB_CHAIN_EXISTS": "yes"})
    assert code == 0, out
    rules = _iptables(calls)
    assert "-w -F HPC-IMDS" in rules  # flushed, then filled again: no rule twice
    assert not [r for r in rules if r.startswith("-w -I OUTPUT")]


def test_a_host_without_the_cgroup_match_fails_the_step_loudly(tmp_path: Path) -> None:
    code, _, out = _run(tmp_path, ["--ecs-tasks"], {"STUB_CGROUP_FAILS": "1"})
    assert code == 1 and "cgroup v2 and the xt_cgroup match are needed" in out


def test_no_option_or_an_unknown_one_is_an_error(tmp_path: Path) -> None:
    assert _run(tmp_path, [])[0] == 1
    code, _, out = _run(tmp_path, ["--everyone"])
    assert code == 1 and "unknown option --everyone" in out


def test_iptables_is_installed_when_the_image_lacks_it(tmp_path: Path) -> None:
    stubs = {k: v for k, v in STUBS.items() if k != "iptables"}
    stubs["dnf"] = 'cp "$(dirname "$0")/iptables.later" "$(dirname "$0")/iptables"; exit 0'
    bin_dir = tmp_path / "bin"
    install_stubs(bin_dir, tmp_path / "calls.log", {"iptables.later": STUBS["iptables"]})
    code, calls, out = _run(tmp_path, ["--non-root"], stubs=stubs)
    assert code == 0, out
    assert calls[0] == "dnf install -y iptables-nft"


def test_the_unit_runs_the_guard_before_anyone_is_let_in() -> None:
    text = "\n".join(boot.imds_guard(ecs_tasks=True))
    assert "Before=sshd.service ecs.service slurmd.service" in text
    assert "ExecStart=/usr/local/sbin/hpc-imds-guard --non-root --ecs-tasks" in text
    assert "WantedBy=multi-user.target" in text
    assert text.endswith("systemctl enable --now hpc-imds-guard.service")
    assert "--ecs-tasks" not in "\n".join(boot.imds_guard())


def test_the_script_is_valid_bash(tmp_path: Path) -> None:
    script = tmp_path / "guard"
    script.write_text(boot.script_text("hpc-imds-guard"))
    subprocess.run(["bash", "-n", str(script)], check=True)
    assert os.access(script, os.R_OK)


def _plain_texts(value: object) -> list[str]:
    """Every literal string inside a (possibly nested) CloudFormation value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _plain_texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _plain_texts(v)]
    return []


def test_every_node_kind_of_the_reference_keeps_the_metadata_service_for_root(
        reference_templates: dict[str, dict[str, object]]) -> None:
    """Fleets, Batch environments, Slurm node groups (login too) and bastions: each launch template installs and
    enables the guard, and keeps the hop limit at 1."""
    kinds: dict[str, int] = {}
    for stack, template in reference_templates.items():
        resources = template["Resources"]
        assert isinstance(resources, dict)
        for logical, resource in resources.items():
            if resource["Type"] != "AWS::EC2::LaunchTemplate":
                continue
            data = resource["Properties"]["LaunchTemplateData"]
            text = "".join(_plain_texts(data["UserData"]))
            assert "hpc-imds-guard" in boot.packed_scripts(text), (stack, logical)
            assert "ExecStart=/usr/local/sbin/hpc-imds-guard --non-root" in text, (stack, logical)
            assert "systemctl enable --now hpc-imds-guard.service" in text, (stack, logical)
            assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 1, (stack, logical)
            assert data["MetadataOptions"]["HttpTokens"] == "required", (stack, logical)
            kinds[stack] = kinds.get(stack, 0) + 1
    # HpcCompute: 3 fleets; HpcBatch: 3 environments; HpcSlurm: 3 node groups and the login nodes; HpcAccess: the
    # bastions; HpcLicense: the license server
    assert kinds == {"HpcCompute": 3, "HpcBatch": 3, "HpcSlurm": 4, "HpcAccess": 1, "HpcLicense": 1}
