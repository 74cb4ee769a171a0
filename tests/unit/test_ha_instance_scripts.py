"""HaInstance's boot scripts (hpc-ha-volume, hpc-ha-address, hpc-ha-lifecycle), run for real against stub commands.

The stub `aws` answers from environment variables (which volume is current and where, each volume's state, the
newest snapshot and its state) and logs every call; the scripts' decisions (attach here or restore from a
snapshot, which snapshot, format or not, which address call) are read back from the log.
"""

from __future__ import annotations

import os
import subprocess
from importlib import resources
from pathlib import Path

import pytest

from tests.support import install_stubs

OWNER = "HpcLicense/LicenseServer"

STUBS = {
    "curl": 'case "$*" in *api/token*) echo tok;; *instance-id*) echo i-self;; *availability-zone*) echo "$STUB_AZ";; '
            '*region*) echo us-east-1;; *local-ipv4*) echo 10.0.1.7;; '
            '*target-lifecycle-state*) echo "${STUB_LIFECYCLE:-InService}";; esac',
    "aws": r'''
state_of() { local v="STUB_STATE_${1//-/_}"; echo "${!v:-available None}"; }
case "$*" in
  *"describe-volumes"*"Name=status,Values="*) echo "$STUB_CURRENT";;
  *"describe-volumes"*"attachment.instance-id"*) echo "${STUB_ATTACHED_VOLUME:-vol-0abc}";;
  *"describe-volumes --volume-ids"*) set -- $*; while [ "$1" != --volume-ids ]; do shift; done; state_of "$2";;
  *"create-snapshot"*) echo "snap-0${STUB_SNAPSHOT_NAME:-move}";;
  *"describe-snapshots"*"tag-key"*) printf '%b\n' "${STUB_TAKEN:-}";;
  *"describe-snapshots"*"Values=completed"*) echo "${STUB_COMPLETED:-None None}";;
  *"describe-snapshots"*)
    if grep -q "create-snapshot" "$HPC_CALL_LOG"; then echo "snap-0move ${STUB_MOVE_STATE:-completed}";
    else echo "${STUB_NEWEST:-None None}"; fi;;
  *"create-volume"*) echo vol-0new;;
  *"attach-volume"*) set -- $*; while [ "$1" != --volume-id ]; do shift; done;
                     touch "$HPC_DISK_BY_ID/nvme-Amazon_Elastic_Block_Store_${2//-/}";;
  *"describe-network-interfaces"*) echo "${STUB_ENI:-eni-0a available None}";;
  *"describe-auto-scaling-instances"*) echo hpc-group;;
  *"change-resource-record-sets"*"DELETE"*) exit "${STUB_DELETE_FAILS:-0}";;
esac
exit 0''',
    "mountpoint": 'exit "${STUB_MOUNTED:-1}"',
    "blkid": '[[ " $* " == *" -o value "* ]] && { echo 1234-uuid; exit 0; }; dev="${@: -1}"; '
             '[[ " ${STUB_SIGNED:-} " == *" $dev "* ]] && exit 0; exit "${STUB_BLKID_BLANK:-2}"',
    "mkfs.xfs": "exit 0",
    "mount": "exit 0",
    "umount": "exit 0",
    "fsfreeze": "exit 0",
    "sync": "exit 0",
    "systemctl": "exit 0",
    "sleep": "exit 0",
}


def _run(tmp_path: Path, script: str, args: list[str], env: dict[str, str]) -> tuple[int, list[str], str]:
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    install_stubs(bin_dir, log, STUBS)
    by_id = tmp_path / "by-id"
    by_id.mkdir(exist_ok=True)
    settings = {
        "HPC_HA_OWNER": OWNER, "HPC_HA_MOUNT_POINT": str(tmp_path / "data"), "HPC_HA_DEVICE": "/dev/sdf",
        "HPC_HA_VOLUME_TYPE": "gp3", "HPC_HA_VOLUME_IOPS": "", "HPC_HA_VOLUME_THROUGHPUT": "",
        "HPC_HA_RETENTION": "2", "HPC_HA_WAIT_SECONDS": "3", "HPC_HA_ADDRESS": "dns", "HPC_HA_ZONE_ID": "Z123",
        "HPC_HA_RECORD": "license.hpc.internal", "HPC_HA_TTL": "10", "HPC_HA_ALLOCATION_ID": "eipalloc-0a",
        "HPC_HA_SERVICE": "", "HPC_HA_HEALTH_COMMAND": "", "HPC_HA_HEALTH_FAILURES": "3",
        "HPC_HA_LAUNCH_HOOK": "hpc-launch", "HPC_HA_TERMINATION_HOOK": "hpc-terminate",
    }
    settings.update({k: v for k, v in env.items() if k.startswith("HPC_HA_")})
    env_file = tmp_path / "ha.env"
    env_file.write_text("".join(f"{k}='{v}'\n" for k, v in settings.items()))
    path = tmp_path / script
    path.write_text(resources.files("hpc_constructs").joinpath(f"scripts/{script}.sh").read_text())
    path.chmod(0o755)
    sbin = tmp_path / "sbin"
    sbin.mkdir(exist_ok=True)
    for name in ("hpc-ha-volume", "hpc-ha-address"):  # the lifecycle script calls the other two
        stub = sbin / name
        stub.write_text(f'#!/bin/bash\necho "{name} $*" >> "{log}"\nexit "${{STUB_{name[7:].upper()}_FAILS:-0}}"\n')
        stub.chmod(0o755)
    full_env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "HPC_WAIT_SECONDS": "0",
                "HPC_CALL_LOG": str(log), "HPC_HA_ENV": str(env_file), "HPC_DISK_BY_ID": str(by_id),
                "HPC_FSTAB": str(tmp_path / "fstab"), "HPC_SBIN": str(sbin), "HPC_HA_STATE_DIR": str(tmp_path),
                "STUB_AZ": "us-east-1b", **{k: v for k, v in env.items() if not k.startswith("HPC_HA_")}}
    result = subprocess.run(["bash", str(path), *args], env=full_env, capture_output=True, text=True, timeout=30)
    calls = log.read_text().splitlines() if log.exists() else []
    return result.returncode, calls, result.stdout + result.stderr


def _aws(calls: list[str], what: str) -> list[str]:
    return [c for c in calls if c.startswith("aws ") and what in c]


def _called(calls: list[str], name: str) -> list[str]:
    return [c for c in calls if c.split(" ", 1)[0] == name]


# -- hpc-ha-volume attach ---------------------------------------------------------------------------------------

def test_volume_in_this_az_is_attached_and_formatted_only_when_blank(tmp_path: Path) -> None:
    code, calls, out = _run(tmp_path, "hpc-ha-volume", ["attach"], {"STUB_CURRENT": "vol-0abc us-east-1b 0"})
    assert code == 0, out
    assert _aws(calls, "attach-volume --volume-id vol-0abc --instance-id i-self --device /dev/sdf")
    assert not _aws(calls, "create-snapshot") and not _aws(calls, "create-volume")
    assert _called(calls, "mkfs.xfs")  # generation 0, blank: the first boot formats it
    assert "UUID=1234-uuid" in (tmp_path / "fstab").read_text()


def test_volume_with_data_is_mounted_without_formatting(tmp_path: Path) -> None:
    link = str(tmp_path / "by-id" / "nvme-Amazon_Elastic_Block_Store_vol0abc")
    code, calls, _ = _run(tmp_path, "hpc-ha-volume", ["attach"], {
        "STUB_CURRENT": "vol-0abc us-east-1b 3", "STUB_SIGNED": link})
    assert code == 0
    assert not _called(calls, "mkfs.xfs") and _called(calls, "mount")


def test_volume_still_held_by_the_old_instance_is_waited_for_then_not_stolen(tmp_path: Path) -> None:
    code, calls, out = _run(tmp_path, "hpc-ha-volume", ["attach"], {
        "STUB_CURRENT": "vol-0abc us-east-1b 2", "STUB_STATE_vol_0abc": "in-use i-old"})
    assert code != 0 and "still in-use (i-old)" in out
    assert not _aws(calls, "attach-volume") and not _aws(calls, "detach-volume")


def test_move_to_another_az_snapshots_the_detached_volume_and_restores_it_here(tmp_path: Path) -> None:
    code, calls, out = _run(tmp_path, "hpc-ha-volume", ["attach"], {
        "STUB_CURRENT": "vol-0abc us-east-1a 4", "STUB_SIGNED": str(tmp_path / "by-id" /
                                                                    "nvme-Amazon_Elastic_Block_Store_vol0new")})
    assert code == 0, out
    (snapshot,) = _aws(calls, "create-snapshot")
    assert "--volume-id vol-0abc" in snapshot and "hpc-constructs:ha-snapshot" in snapshot
    (create,) = _aws(calls, "create-volume")
    assert "--availability-zone us-east-1b --snapshot-id snap-0move --volume-type gp3" in create
    assert '"Key":"hpc-constructs:ha-generation","Value":"5"' in create  # generation + 1
    assert f'"Key":"hpc-constructs:ha-instance","Value":"{OWNER}"' in create
    assert _aws(calls, "create-tags --resources vol-0abc --tags Key=hpc-constructs:ha-current,"
                       "Value=superseded-by-vol-0new")
    assert _aws(calls, "attach-volume --volume-id vol-0new")
    assert not _called(calls, "mkfs.xfs")  # restored data is never formatted
    assert not _aws(calls, "delete-volume")  # the old volume is kept


def test_move_passes_the_volume_iops_and_throughput_on(tmp_path: Path) -> None:
    _, calls, _ = _run(tmp_path, "hpc-ha-volume", ["attach"], {
        "STUB_CURRENT": "vol-0abc us-east-1a 0", "HPC_HA_VOLUME_IOPS": "6000", "HPC_HA_VOLUME_THROUGHPUT": "250"})
    (create,) = _aws(calls, "create-volume")
    assert "--iops 6000 --throughput 250" in create


def test_move_after_an_az_loss_restores_the_newest_completed_snapshot(tmp_path: Path) -> None:
    """The old volume never frees (its AZ is gone) and the final snapshot never completes: the scheduled one is the
    recovery point."""
    code, calls, out = _run(tmp_path, "hpc-ha-volume", ["attach"], {
        "STUB_CURRENT": "vol-0abc us-east-1a 1", "STUB_STATE_vol_0abc": "in-use i-lost",
        "STUB_NEWEST": "snap-0final pending", "STUB_COMPLETED": "snap-0hourly completed"})
    assert code == 0, out
    assert not _aws(calls, "create-snapshot")  # a volume still attached elsewhere is not snapshotted
    (create,) = _aws(calls, "create-volume")
    assert "--snapshot-id snap-0hourly" in create
    assert "restoring the newest completed one" in out


def test_move_waits_for_the_final_snapshot_when_it_completes_in_time(tmp_path: Path) -> None:
    code, calls, _ = _run(tmp_path, "hpc-ha-volume", ["attach"], {
        "STUB_CURRENT": "vol-0abc us-east-1a 1", "STUB_STATE_vol_0abc": "in-use i-lost",
        "STUB_NEWEST": "snap-0final completed", "STUB_COMPLETED": "snap-0hourly completed"})
    assert code == 0
    (create,) = _aws(calls, "create-volume")
    assert "--snapshot-id snap-0final" in create


def test_move_without_any_snapshot_fails_rather_than_start_empty(tmp_path: Path) -> None:
    code, calls, out = _run(tmp_path, "hpc-ha-volume", ["attach"], {
        "STUB_CURRENT": "vol-0abc us-east-1a 0", "STUB_STATE_vol_0abc": "in-use i-lost"})
    assert code != 0 and "no completed snapshot" in out
    assert not _aws(calls, "create-volume") and not _called(calls, "mkfs.xfs")


def test_no_tagged_volume_is_an_error(tmp_path: Path) -> None:
    code, calls, out = _run(tmp_path, "hpc-ha-volume", ["attach"], {"STUB_CURRENT": "None None None"})
    assert code != 0 and "no data volume tagged" in out
    assert not _aws(calls, "attach-volume") and not _aws(calls, "create-volume")


def test_mounted_volume_makes_no_api_call(tmp_path: Path) -> None:
    code, calls, _ = _run(tmp_path, "hpc-ha-volume", ["attach"], {"STUB_MOUNTED": "0", "STUB_CURRENT": "x"})
    assert code == 0 and not _called(calls, "aws")


# -- hpc-ha-volume snapshot ---------------------------------------------------------------------------------------

def test_scheduled_snapshot_is_frozen_until_create_snapshot_returns(tmp_path: Path) -> None:
    code, calls, out = _run(tmp_path, "hpc-ha-volume", ["snapshot", "scheduled"], {
        "STUB_MOUNTED": "0", "STUB_SNAPSHOT_NAME": "sched"})
    assert code == 0, out
    names = [c for c in calls if c.startswith(("fsfreeze", "aws --region us-east-1 ec2 create-snapshot"))]
    assert [n.split()[0] + (" " + n.split()[1] if n.startswith("fsfreeze") else "") for n in names] == [
        "fsfreeze -f", "aws", "fsfreeze -u"]
    (snapshot,) = _aws(calls, "create-snapshot")
    assert '"Key":"hpc-constructs:ha-snapshot","Value":"scheduled"' in snapshot


def test_snapshot_prunes_only_the_instances_own_beyond_the_retention(tmp_path: Path) -> None:
    code, calls, _ = _run(tmp_path, "hpc-ha-volume", ["snapshot", "scheduled"], {
        "STUB_TAKEN": "snap-04\\tsnap-03\\tsnap-02\\tsnap-01"})  # newest first; HPC_HA_RETENTION=2
    assert code == 0
    (listing,) = _aws(calls, "describe-snapshots")
    assert "Name=tag-key,Values=hpc-constructs:ha-snapshot" in listing  # never Data Lifecycle Manager's
    assert [c.split()[-1] for c in _aws(calls, "delete-snapshot")] == ["snap-02", "snap-01"]


def test_snapshot_without_an_attached_volume_fails(tmp_path: Path) -> None:
    code, calls, _ = _run(tmp_path, "hpc-ha-volume", ["snapshot", "scheduled"], {"STUB_ATTACHED_VOLUME": "None"})
    assert code != 0 and not _aws(calls, "create-snapshot")


# -- hpc-ha-address ---------------------------------------------------------------------------------------------

def test_elastic_ip_is_reassociated_to_this_instance(tmp_path: Path) -> None:
    code, calls, _ = _run(tmp_path, "hpc-ha-address", ["take"], {"HPC_HA_ADDRESS": "elastic_ip"})
    assert code == 0
    assert _aws(calls, "associate-address --allocation-id eipalloc-0a --instance-id i-self --allow-reassociation")


def test_dns_record_is_upserted_to_the_private_address(tmp_path: Path) -> None:
    code, calls, _ = _run(tmp_path, "hpc-ha-address", ["take"], {})
    assert code == 0
    (change,) = _aws(calls, "change-resource-record-sets --hosted-zone-id Z123")
    assert '"Action":"UPSERT"' in change and '"Name":"license.hpc.internal","Type":"A","TTL":10' in change
    assert '"Value":"10.0.1.7"' in change


def test_dns_release_deletes_only_its_own_address_and_never_fails(tmp_path: Path) -> None:
    code, calls, out = _run(tmp_path, "hpc-ha-address", ["release"], {"STUB_DELETE_FAILS": "1"})
    assert code == 0 and "left as it is" in out
    (change,) = _aws(calls, "change-resource-record-sets")
    assert '"Action":"DELETE"' in change and '"Value":"10.0.1.7"' in change


def test_eni_of_this_az_is_attached_as_device_1(tmp_path: Path) -> None:
    code, calls, _ = _run(tmp_path, "hpc-ha-address", ["take"], {"HPC_HA_ADDRESS": "eni"})
    assert code == 0
    (lookup,) = _aws(calls, "describe-network-interfaces")
    assert "Name=availability-zone,Values=us-east-1b" in lookup and f"Values={OWNER}" in lookup
    assert _aws(calls, "attach-network-interface --network-interface-id eni-0a --instance-id i-self --device-index 1")


def test_eni_held_by_the_old_instance_is_never_taken(tmp_path: Path) -> None:
    code, calls, out = _run(tmp_path, "hpc-ha-address", ["take"], {
        "HPC_HA_ADDRESS": "eni", "STUB_ENI": "eni-0a in-use i-old"})
    assert code != 0 and "still in-use" in out
    assert not _aws(calls, "attach-network-interface") and not _aws(calls, "detach-network-interface")


# -- hpc-ha-lifecycle -------------------------------------------------------------------------------------------

def test_launch_completes_the_launch_hook_with_the_result(tmp_path: Path) -> None:
    code, calls, _ = _run(tmp_path, "hpc-ha-lifecycle", ["launch", "ABANDON"], {})
    assert code == 0
    assert _aws(calls, "complete-lifecycle-action --lifecycle-hook-name hpc-launch --auto-scaling-group-name "
                       "hpc-group --instance-id i-self --lifecycle-action-result ABANDON")


def test_termination_stops_the_service_unmounts_snapshots_then_completes(tmp_path: Path) -> None:
    code, calls, out = _run(tmp_path, "hpc-ha-lifecycle", ["watch"], {
        "STUB_LIFECYCLE": "Terminated", "HPC_HA_SERVICE": "lmgrd.service"})
    assert code == 0, out
    order = [c for c in calls if c.startswith(("systemctl stop", "umount", "hpc-ha-volume", "hpc-ha-address",
                                               "aws --region us-east-1 autoscaling complete"))]
    assert [o.split()[0] for o in order] == ["systemctl", "umount", "hpc-ha-volume", "hpc-ha-address", "aws"]
    assert order[2] == "hpc-ha-volume snapshot termination" and "hpc-terminate" in order[4]


def test_termination_completes_the_hook_even_when_the_snapshot_fails(tmp_path: Path) -> None:
    code, calls, out = _run(tmp_path, "hpc-ha-lifecycle", ["watch"], {
        "STUB_LIFECYCLE": "Terminated", "STUB_VOLUME_FAILS": "1"})
    assert "no final snapshot" in out
    assert _aws(calls, "--lifecycle-hook-name hpc-terminate") and code == 0


def test_health_reports_unhealthy_after_the_given_failures_in_a_row(tmp_path: Path) -> None:
    env = {"STUB_MOUNTED": "0", "HPC_HA_HEALTH_COMMAND": "false"}
    for attempt in (1, 2):
        code, calls, _ = _run(tmp_path, "hpc-ha-lifecycle", ["health"], env)
        assert code != 0 and not _aws(calls, "set-instance-health"), attempt
    code, calls, _ = _run(tmp_path, "hpc-ha-lifecycle", ["health"], env)
    assert _aws(calls, "set-instance-health --instance-id i-self --health-status Unhealthy")


def test_health_success_resets_the_count(tmp_path: Path) -> None:
    for command in ("false", "false", "true", "false", "false"):
        _, calls, _ = _run(tmp_path, "hpc-ha-lifecycle", ["health"], {
            "STUB_MOUNTED": "0", "HPC_HA_HEALTH_COMMAND": command})
    assert not _aws(calls, "set-instance-health")


def test_health_fails_when_the_data_volume_is_not_mounted(tmp_path: Path) -> None:
    code, _, out = _run(tmp_path, "hpc-ha-lifecycle", ["health"], {"STUB_MOUNTED": "1", "HPC_HA_HEALTH_FAILURES": "5"})
    assert code != 0 and "1 of 5" in out


def test_health_is_not_reported_while_the_instance_is_leaving(tmp_path: Path) -> None:
    _, calls, _ = _run(tmp_path, "hpc-ha-lifecycle", ["health"], {
        "STUB_MOUNTED": "1", "HPC_HA_HEALTH_FAILURES": "1", "STUB_LIFECYCLE": "Terminated"})
    assert not _aws(calls, "set-instance-health")


@pytest.mark.parametrize("script", ["hpc-ha-volume", "hpc-ha-address", "hpc-ha-lifecycle"])
def test_unknown_subcommand_is_a_usage_error(tmp_path: Path, script: str) -> None:
    code, _, out = _run(tmp_path, script, ["bogus"], {})
    assert code == 2 and "usage" in out
