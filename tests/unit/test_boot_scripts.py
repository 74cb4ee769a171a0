"""The boot scripts the user data installs, run for real against stub commands (lsblk, mdadm, aws, ...).

Each stub logs its arguments; the scripts' decisions (which disks, create or re-assemble, format or
not, attach or not) are read back from the log.
"""

from __future__ import annotations

import os
import stat
import subprocess
from importlib import resources
from pathlib import Path

import pytest

STUBS = {
    # lsblk --nodeps ... lists disks; lsblk <disk> lists what is built on it (an assembled array)
    "lsblk": 'if [[ " $* " == *" --nodeps "* ]]; then printf "%b" "$STUB_DISKS"; else printf "%b" "${STUB_RAID:-}"; fi',
    "mountpoint": 'exit "${STUB_MOUNTED:-1}"',
    "mdadm": '[[ "$1" == --assemble && "${STUB_ASSEMBLES:-no}" == yes ]] && touch "$2"; '
             '[[ "$1" == --assemble && "${STUB_ASSEMBLES:-no}" != yes ]] && exit 1; '
             '[[ "$1" == --create ]] && touch "$2"; exit 0',
    "blkid": '[[ " $* " == *" -o value "* ]] && { echo 1234-uuid; exit 0; }; exit "${STUB_HAS_FS:-2}"',
    "mkfs.xfs": "exit 0",
    "mount": "exit 0",
    "curl": 'case "$*" in *api/token*) echo tok;; *instance-id*) echo i-self;; '
            '*availability-zone*) echo "$STUB_AZ";; *region*) echo us-east-1;; esac',
    "aws": 'case "$*" in *"AvailabilityZone,State"*) echo "$STUB_VOLUME_AZ $STUB_STATE";; '
           '*Attachments*) echo "${STUB_ATTACHED:-}";; '
           '*attach-volume*) touch "$HPC_DISK_BY_ID/nvme-Amazon_Elastic_Block_Store_vol0abc";; esac',
}


def _run(tmp_path: Path, script_name: str, args: list[str], env: dict[str, str]) -> tuple[int, list[str], str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "calls.log"
    for name, body in STUBS.items():
        stub = bin_dir / name
        stub.write_text(f'#!/bin/bash\necho "{name} $*" >> "{log}"\n{body}\n')
        stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    script = tmp_path / script_name
    script.write_text(resources.files("hpc_constructs").joinpath(f"scripts/{script_name}.sh").read_text())
    full_env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "HPC_WAIT_SECONDS": "0", **env}
    result = subprocess.run(["bash", str(script), *args], env=full_env, capture_output=True, text=True, timeout=30)
    calls = log.read_text().splitlines() if log.exists() else []
    return result.returncode, calls, result.stdout + result.stderr


def _called(calls: list[str], name: str) -> list[str]:
    return [c for c in calls if c.split(" ", 1)[0] == name]


def _disks(*names: str, model: str = "Amazon EC2 NVMe Instance Storage") -> str:
    return "".join(f"{n} {model}\\n" for n in names)


@pytest.fixture
def scratch_env(tmp_path: Path) -> dict[str, str]:
    return {"HPC_SCRATCH_MOUNT_POINT": str(tmp_path / "scratch"), "HPC_SCRATCH_ARRAY": str(tmp_path / "md-scratch")}


def test_scratch_without_instance_store_does_nothing(tmp_path: Path, scratch_env: dict[str, str]) -> None:
    code, calls, _ = _run(tmp_path, "hpc-scratch", [], {**scratch_env, "STUB_DISKS": _disks(
        "/dev/nvme0n1", model="Amazon Elastic Block Store")})
    assert code == 0
    assert not _called(calls, "mdadm") and not _called(calls, "mkfs.xfs") and not _called(calls, "mount")


def test_scratch_formats_and_mounts_a_single_disk_without_raid(tmp_path: Path, scratch_env: dict[str, str]) -> None:
    code, calls, _ = _run(tmp_path, "hpc-scratch", [], {**scratch_env, "STUB_DISKS": _disks("/dev/nvme1n1")})
    assert code == 0
    assert not _called(calls, "mdadm")
    assert _called(calls, "mkfs.xfs") == ["mkfs.xfs -f -K -L hpc-scratch /dev/nvme1n1"]
    assert _called(calls, "mount")[0].endswith(f"/dev/nvme1n1 {scratch_env['HPC_SCRATCH_MOUNT_POINT']}")


def test_scratch_stripes_every_instance_store_disk_and_ignores_ebs(tmp_path: Path, scratch_env: dict[str, str]) -> None:
    disks = _disks("/dev/nvme2n1", "/dev/nvme1n1", "/dev/nvme4n1", "/dev/nvme3n1")
    disks += _disks("/dev/nvme0n1", model="Amazon Elastic Block Store")
    code, calls, _ = _run(tmp_path, "hpc-scratch", [], {**scratch_env, "STUB_DISKS": disks})
    assert code == 0
    (create,) = [c for c in _called(calls, "mdadm") if " --create " in f" {c} "]
    assert "--level=0" in create and "--raid-devices=4" in create
    assert create.endswith("/dev/nvme1n1 /dev/nvme2n1 /dev/nvme3n1 /dev/nvme4n1")
    assert "/dev/nvme0n1" not in " ".join(calls)
    assert _called(calls, "mkfs.xfs") == [f"mkfs.xfs -f -K -L hpc-scratch {scratch_env['HPC_SCRATCH_ARRAY']}"]


def test_scratch_after_reboot_mounts_the_assembled_array_without_formatting(tmp_path: Path,
                                                                          scratch_env: dict[str, str]) -> None:
    code, calls, _ = _run(tmp_path, "hpc-scratch", [], {
        **scratch_env, "STUB_DISKS": _disks("/dev/nvme1n1", "/dev/nvme2n1"),
        "STUB_RAID": "/dev/nvme1n1 disk\\n/dev/md127 raid0\\n", "STUB_HAS_FS": "0"})
    assert code == 0
    assert not _called(calls, "mdadm") and not _called(calls, "mkfs.xfs")
    assert _called(calls, "mount")[0].endswith(f"/dev/md127 {scratch_env['HPC_SCRATCH_MOUNT_POINT']}")


def test_scratch_reassembles_before_it_would_create(tmp_path: Path, scratch_env: dict[str, str]) -> None:
    code, calls, _ = _run(tmp_path, "hpc-scratch", [], {
        **scratch_env, "STUB_DISKS": _disks("/dev/nvme1n1", "/dev/nvme2n1"), "STUB_ASSEMBLES": "yes",
        "STUB_HAS_FS": "0"})
    assert code == 0
    assert [c.split()[1] for c in _called(calls, "mdadm")] == ["--assemble"]
    assert not _called(calls, "mkfs.xfs")


def test_scratch_already_mounted_is_left_alone(tmp_path: Path, scratch_env: dict[str, str]) -> None:
    code, calls, _ = _run(tmp_path, "hpc-scratch", [], {
        **scratch_env, "STUB_DISKS": _disks("/dev/nvme1n1", "/dev/nvme2n1"), "STUB_MOUNTED": "0"})
    assert code == 0
    assert not _called(calls, "mdadm") and not _called(calls, "mkfs.xfs") and not _called(calls, "mount")


@pytest.fixture
def ebs_env(tmp_path: Path) -> dict[str, str]:
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    return {"HPC_DISK_BY_ID": str(by_id), "HPC_FSTAB": str(tmp_path / "fstab"), "STUB_AZ": "us-east-1a",
            "STUB_VOLUME_AZ": "us-east-1a", "STUB_STATE": "available"}


def _attach(tmp_path: Path, env: dict[str, str], mode: str = "single") -> tuple[int, list[str], str]:
    return _run(tmp_path, "hpc-ebs-attach", ["vol-0abc", "/dev/sdf", str(tmp_path / "ebs" / "project"), mode], env)


def test_ebs_available_volume_is_attached_formatted_and_mounted(tmp_path: Path, ebs_env: dict[str, str]) -> None:
    code, calls, _ = _attach(tmp_path, ebs_env)
    assert code == 0
    assert any("attach-volume" in c and "--device /dev/sdf" in c for c in _called(calls, "aws"))
    link = f"{ebs_env['HPC_DISK_BY_ID']}/nvme-Amazon_Elastic_Block_Store_vol0abc"
    assert _called(calls, "mkfs.xfs") == [f"mkfs.xfs -f {link}"]
    assert Path(ebs_env["HPC_FSTAB"]).read_text().count("UUID=1234-uuid ") == 1


def test_ebs_volume_in_use_elsewhere_is_left_alone(tmp_path: Path, ebs_env: dict[str, str]) -> None:
    code, calls, out = _attach(tmp_path, {**ebs_env, "STUB_STATE": "in-use", "STUB_ATTACHED": "i-other"})
    assert code == 0 and "not attached here" in out
    assert not any("attach-volume" in c for c in calls) and not _called(calls, "mkfs.xfs")


def test_ebs_volume_in_another_az_is_left_alone(tmp_path: Path, ebs_env: dict[str, str]) -> None:
    code, calls, out = _attach(tmp_path, {**ebs_env, "STUB_VOLUME_AZ": "us-east-1b"})
    assert code == 0 and "us-east-1b" in out
    assert not any("attach-volume" in c for c in calls)


def test_ebs_after_reboot_is_mounted_without_attaching_or_formatting(tmp_path: Path, ebs_env: dict[str, str]) -> None:
    (Path(ebs_env["HPC_DISK_BY_ID"]) / "nvme-Amazon_Elastic_Block_Store_vol0abc").touch()
    Path(ebs_env["HPC_FSTAB"]).write_text("UUID=1234-uuid /ebs/project xfs defaults 0 2\n")
    code, calls, _ = _attach(tmp_path, {**ebs_env, "STUB_STATE": "in-use", "STUB_ATTACHED": "i-self",
                                        "STUB_HAS_FS": "0"})
    assert code == 0
    assert not any("attach-volume" in c for c in calls) and not _called(calls, "mkfs.xfs")
    assert _called(calls, "mount")
    assert Path(ebs_env["HPC_FSTAB"]).read_text().count("UUID=1234-uuid ") == 1


def test_ebs_multi_attach_volume_is_attached_beside_others_but_never_formatted(tmp_path: Path,
                                                                              ebs_env: dict[str, str]) -> None:
    code, calls, _ = _attach(tmp_path, {**ebs_env, "STUB_STATE": "in-use", "STUB_ATTACHED": "i-other"}, mode="multi")
    assert code == 0
    assert any("attach-volume" in c for c in calls)
    assert not _called(calls, "mkfs.xfs") and not _called(calls, "mount")
