"""hpc-slurm-drain, run for real against stub scontrol and hostname: it waits until Slurm knows this node at one of
its addresses, drains it with the reason, and gives up (exit 1) when the node never appears."""

from __future__ import annotations

import subprocess
from importlib import resources
from pathlib import Path

from tests.support import install_stubs

NODES = ("NodeName=cpu-1a2b-1 Arch=x86_64 NodeAddr=10.0.1.7 NodeHostName=ip-10-0-1-7 State=IDLE\n"
         "NodeName=cpu-1a2b-2 Arch=x86_64 NodeAddr=10.0.1.9 NodeHostName=ip-10-0-1-9 State=IDLE+CLOUD\n")
# scontrol show node: STUB_NODES, but only once the call log holds STUB_KNOWN_AFTER "show" calls (slurmd not yet
# registered before); scontrol update fails when STUB_UPDATE_FAILS=yes.
STUBS = {
    "scontrol": 'if [ "$1" = show ]; then n=$(grep -c "^scontrol show" "$HPC_CALL_LOG"); '
                '[ "$n" -gt "${STUB_KNOWN_AFTER:-0}" ] && printf "%b" "$STUB_NODES"; exit 0; fi; '
                '[ "${STUB_UPDATE_FAILS:-no}" = yes ] && exit 1; exit 0',
    "hostname": '[ "$1" = -I ] && { echo "$STUB_ADDRESSES"; exit 0; }; echo "$STUB_HOST"',
    "sleep": "exit 0",
}


def _run(tmp_path: Path, reason: str, env: dict[str, str]) -> tuple[int, list[str], str]:
    bin_dir = tmp_path / "bin"
    log = tmp_path / "calls.log"
    log.touch()
    install_stubs(bin_dir, log, STUBS)
    script = tmp_path / "hpc-slurm-drain"
    script.write_text(resources.files("hpc_constructs").joinpath("scripts/hpc-slurm-drain.sh").read_text())
    full_env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HPC_CALL_LOG": str(log), "HPC_DRAIN_POLL_SECONDS": "0",
                "STUB_NODES": NODES, "STUB_ADDRESSES": "10.0.1.9 10.0.2.9", "STUB_HOST": "ip-10-0-1-9", **env}
    result = subprocess.run(["bash", str(script), reason], env=full_env, capture_output=True, text=True, timeout=30)
    return result.returncode, log.read_text().splitlines(), result.stdout + result.stderr


REASON = "hpc-constructs boot step failed: mount /fsx (Lustre)"


def test_the_node_is_drained_by_the_name_slurm_knows_it_at_its_address(tmp_path: Path) -> None:
    code, calls, out = _run(tmp_path, REASON, {})
    assert code == 0, out
    assert calls[-1] == f"scontrol update nodename=cpu-1a2b-2 state=drain reason={REASON}"
    assert "drained cpu-1a2b-2" in out


def test_it_waits_for_slurmd_to_register_the_node(tmp_path: Path) -> None:
    code, calls, _ = _run(tmp_path, REASON, {"STUB_KNOWN_AFTER": "3"})
    assert code == 0
    shows = [c for c in calls if c.startswith("scontrol show")]
    assert len(shows) == 4 and calls.count("sleep 0") == 3
    assert calls[-1].startswith("scontrol update nodename=cpu-1a2b-2 state=drain")


def test_the_host_name_identifies_the_node_too(tmp_path: Path) -> None:
    code, calls, _ = _run(tmp_path, REASON, {"STUB_ADDRESSES": "192.168.0.1", "STUB_HOST": "ip-10-0-1-7"})
    assert code == 0 and calls[-1].startswith("scontrol update nodename=cpu-1a2b-1 ")


def test_a_node_slurm_never_lists_is_reported_not_drained(tmp_path: Path) -> None:
    code, calls, out = _run(tmp_path, REASON, {"STUB_ADDRESSES": "192.168.0.1", "STUB_HOST": "other",
                                               "HPC_DRAIN_WAIT_SECONDS": "0"})
    assert code == 1 and "was not drained" in out
    assert not [c for c in calls if c.startswith("scontrol update")]


def test_a_refused_update_is_retried_until_the_deadline(tmp_path: Path) -> None:
    code, calls, _ = _run(tmp_path, REASON, {"STUB_UPDATE_FAILS": "yes", "HPC_DRAIN_WAIT_SECONDS": "0"})
    assert code == 1 and len([c for c in calls if c.startswith("scontrol update")]) == 1


def test_the_script_is_valid_bash(tmp_path: Path) -> None:
    script = tmp_path / "drain"
    script.write_text(resources.files("hpc_constructs").joinpath("scripts/hpc-slurm-drain.sh").read_text())
    subprocess.run(["bash", "-n", str(script)], check=True)
