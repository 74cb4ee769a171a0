"""The boot scripts the user data installs, run for real against stub commands (lsblk, mdadm, aws, ...).

Each stub logs its arguments; the scripts' decisions (which disks, create or re-assemble, format or
not, attach or not) are read back from the log.
"""

from __future__ import annotations

import os
import subprocess
from importlib import resources
from pathlib import Path

import pytest

from tests.support import install_stubs

STUBS = {
    # lsblk --nodeps ... lists disks; lsblk NAME,TYPE <disk> lists what is built on it (an assembled
    # array); lsblk NAME <disk> lists the disk and its partitions (STUB_PARTS: "disk:partition ...").
    "lsblk": 'if [[ " $* " == *" --nodeps "* ]]; then printf "%b" "$STUB_DISKS"; '
             'elif [[ " $* " == *" NAME,TYPE "* ]]; then printf "%b" "${STUB_RAID:-}"; '
             'else disk="${@: -1}"; echo "$disk"; for p in ${STUB_PARTS:-}; do '
             '[[ "${p%%:*}" == "$disk" ]] && echo "${p#*:}"; done; fi; exit 0',
    "mountpoint": 'exit "${STUB_MOUNTED:-1}"',
    # mdadm --examine DISK succeeds for the disks in STUB_SUPERBLOCKS; --assemble makes the array node
    # when STUB_ASSEMBLES=yes; --create makes it.
    "mdadm": 'case "$1" in '
             '--examine) [[ " ${STUB_SUPERBLOCKS:-} " == *" $2 "* ]] && exit 0; exit 1;; '
             '--assemble) [[ "${STUB_ASSEMBLES:-no}" == yes ]] && { touch "$2"; exit 0; }; exit 1;; '
             '--create) touch "$2"; exit 0;; esac; exit 0',
    # blkid -s UUID -o value: a UUID; blkid -p DEV: 0 (signature) for DEV in STUB_SIGNED, else
    # STUB_BLKID_BLANK (2: blank by default; 4 or 8 to simulate a probe that could not read).
    "blkid": '[[ " $* " == *" -o value "* ]] && { echo 1234-uuid; exit 0; }; dev="${@: -1}"; '
             '[[ " ${STUB_SIGNED:-} " == *" $dev "* ]] && exit 0; exit "${STUB_BLKID_BLANK:-2}"',
    "udevadm": "exit 0",
    "mkfs.xfs": "exit 0",
    "mount": "exit 0",
    "curl": 'case "$*" in *api/token*) echo tok;; *instance-id*) echo i-self;; '
            '*availability-zone*) echo "$STUB_AZ";; *region*) echo us-east-1;; esac',
    "aws": 'case "$*" in *"AvailabilityZone,State"*) echo "$STUB_VOLUME_AZ $STUB_STATE";; '
           '*Attachments*) echo "${STUB_ATTACHED:-}";; '
           '*attach-volume*) touch "$HPC_DISK_BY_ID/nvme-Amazon_Elastic_Block_Store_vol0abc";; esac',
    # ebsnvme-id --block-dev DEV: the block-device-mapping name in STUB_EBS_NAMES ("dev:name ...")
    "ebsnvme-id": 'dev="${@: -1}"; for p in ${STUB_EBS_NAMES:-}; do [[ "${p%%:*}" == "$dev" ]] && '
                  '{ echo "${p#*:}"; exit 0; }; done; exit 1',
    # findmnt: the file-system type mounted at the mount point, from STUB_MOUNTED_FSTYPE (or, once
    # systemctl start has run STUB_MOUNT_AFTER_STARTS times, STUB_FSTYPE_AFTER_START)
    "findmnt": 'n=$(grep -c "^systemctl start" "$HPC_CALL_LOG" 2>/dev/null || true); '
               'if [[ -n "${STUB_MOUNT_AFTER_STARTS:-}" && "$n" -ge "$STUB_MOUNT_AFTER_STARTS" ]]; then '
               'echo "$STUB_FSTYPE_AFTER_START"; else echo "${STUB_MOUNTED_FSTYPE:-}"; fi',
    "systemd-escape": r'p="${@: -1}"; p="${p#/}"; echo "${p//\//-}.mount"',
    "systemctl": "exit 0",
}


def _run(tmp_path: Path, script_name: str, args: list[str], env: dict[str, str]) -> tuple[int, list[str], str]:
    bin_dir = tmp_path / "bin"
    log = tmp_path / "calls.log"
    install_stubs(bin_dir, log, STUBS)
    script = tmp_path / script_name
    script.write_text(resources.files("hpc_constructs").joinpath(f"scripts/{script_name}.sh").read_text())
    full_env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "HPC_WAIT_SECONDS": "0",
                "HPC_CALL_LOG": str(log), **env}
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


def test_scratch_waits_for_udev_before_it_looks_for_disks(tmp_path: Path, scratch_env: dict[str, str]) -> None:
    _, calls, _ = _run(tmp_path, "hpc-scratch", [], {**scratch_env, "STUB_DISKS": _disks("/dev/nvme1n1")})
    names = [c.split(" ", 1)[0] for c in calls]
    assert "udevadm" in names and names.index("udevadm") < names.index("lsblk")


def test_scratch_formats_and_mounts_a_single_blank_disk_without_raid(tmp_path: Path,
                                                                     scratch_env: dict[str, str]) -> None:
    code, calls, _ = _run(tmp_path, "hpc-scratch", [], {**scratch_env, "STUB_DISKS": _disks("/dev/nvme1n1")})
    assert code == 0
    assert not _called(calls, "mdadm")
    assert _called(calls, "mkfs.xfs") == ["mkfs.xfs -K -L hpc-scratch /dev/nvme1n1"]  # no -f: never overwrite
    assert _called(calls, "mount")[0].endswith(f"/dev/nvme1n1 {scratch_env['HPC_SCRATCH_MOUNT_POINT']}")


def test_scratch_stripes_every_blank_instance_store_disk_and_ignores_ebs(tmp_path: Path,
                                                                         scratch_env: dict[str, str]) -> None:
    disks = _disks("/dev/nvme2n1", "/dev/nvme1n1", "/dev/nvme4n1", "/dev/nvme3n1")
    disks += _disks("/dev/nvme0n1", model="Amazon Elastic Block Store")
    code, calls, _ = _run(tmp_path, "hpc-scratch", [], {**scratch_env, "STUB_DISKS": disks})
    assert code == 0
    examined = [c.split()[-1] for c in _called(calls, "mdadm") if " --examine " in f" {c} "]
    assert examined == ["/dev/nvme1n1", "/dev/nvme2n1", "/dev/nvme3n1", "/dev/nvme4n1"]
    probed = [c.split()[-1] for c in _called(calls, "blkid") if " -p " in f" {c} "]
    assert set(probed) >= {"/dev/nvme1n1", "/dev/nvme2n1", "/dev/nvme3n1", "/dev/nvme4n1"}
    (create,) = [c for c in _called(calls, "mdadm") if " --create " in f" {c} "]
    assert "--level=0" in create and "--raid-devices=4" in create
    assert create.endswith("/dev/nvme1n1 /dev/nvme2n1 /dev/nvme3n1 /dev/nvme4n1")
    assert "/dev/nvme0n1" not in " ".join(calls)
    assert _called(calls, "mkfs.xfs") == [f"mkfs.xfs -K -L hpc-scratch {scratch_env['HPC_SCRATCH_ARRAY']}"]


def test_scratch_never_creates_an_array_over_a_disk_with_a_file_system(tmp_path: Path,
                                                                      scratch_env: dict[str, str]) -> None:
    code, calls, out = _run(tmp_path, "hpc-scratch", [], {
        **scratch_env, "STUB_DISKS": _disks("/dev/nvme1n1", "/dev/nvme2n1"), "STUB_SIGNED": "/dev/nvme2n1"})
    assert code != 0 and "/dev/nvme2n1 is not blank" in out
    assert not [c for c in _called(calls, "mdadm") if "--create" in c]
    assert not _called(calls, "mkfs.xfs") and not _called(calls, "mount")


def test_scratch_never_creates_an_array_over_a_partitioned_disk(tmp_path: Path, scratch_env: dict[str, str]) -> None:
    code, calls, out = _run(tmp_path, "hpc-scratch", [], {
        **scratch_env, "STUB_DISKS": _disks("/dev/nvme1n1", "/dev/nvme2n1"),
        "STUB_PARTS": "/dev/nvme1n1:/dev/nvme1n1p1"})
    assert code != 0 and "partitions" in out
    assert not [c for c in _called(calls, "mdadm") if "--create" in c] and not _called(calls, "mkfs.xfs")


def test_scratch_never_creates_over_a_foreign_md_superblock(tmp_path: Path, scratch_env: dict[str, str]) -> None:
    """A disk with an md superblock that does not assemble with the others is someone's array: hands off."""
    code, calls, out = _run(tmp_path, "hpc-scratch", [], {
        **scratch_env, "STUB_DISKS": _disks("/dev/nvme1n1", "/dev/nvme2n1"), "STUB_SUPERBLOCKS": "/dev/nvme1n1"})
    assert code != 0 and "md superblock" in out
    assert [c.split()[1] for c in _called(calls, "mdadm") if "--examine" not in c] == ["--assemble"]
    assert not _called(calls, "mkfs.xfs") and not _called(calls, "mount")


def test_scratch_does_not_format_when_the_probe_cannot_read_the_device(tmp_path: Path,
                                                                       scratch_env: dict[str, str]) -> None:
    code, calls, out = _run(tmp_path, "hpc-scratch", [], {
        **scratch_env, "STUB_DISKS": _disks("/dev/nvme1n1"), "STUB_BLKID_BLANK": "8"})
    assert code != 0 and "not formatting" in out
    assert not _called(calls, "mkfs.xfs") and not _called(calls, "mount")


def test_scratch_after_reboot_mounts_the_assembled_array_without_formatting(tmp_path: Path,
                                                                          scratch_env: dict[str, str]) -> None:
    code, calls, _ = _run(tmp_path, "hpc-scratch", [], {
        **scratch_env, "STUB_DISKS": _disks("/dev/nvme1n1", "/dev/nvme2n1"),
        "STUB_RAID": "/dev/nvme1n1 disk\\n/dev/md127 raid0\\n", "STUB_SIGNED": "/dev/md127"})
    assert code == 0
    assert not _called(calls, "mdadm") and not _called(calls, "mkfs.xfs")
    assert _called(calls, "mount")[0].endswith(f"/dev/md127 {scratch_env['HPC_SCRATCH_MOUNT_POINT']}")


def test_scratch_reassembles_its_own_array_instead_of_creating(tmp_path: Path, scratch_env: dict[str, str]) -> None:
    array = scratch_env["HPC_SCRATCH_ARRAY"]
    code, calls, _ = _run(tmp_path, "hpc-scratch", [], {
        **scratch_env, "STUB_DISKS": _disks("/dev/nvme1n1", "/dev/nvme2n1"), "STUB_ASSEMBLES": "yes",
        "STUB_SUPERBLOCKS": "/dev/nvme1n1 /dev/nvme2n1", "STUB_SIGNED": array})
    assert code == 0
    assert [c.split()[1] for c in _called(calls, "mdadm") if "--examine" not in c] == ["--assemble"]
    assert not _called(calls, "mkfs.xfs")
    assert _called(calls, "mount")[0].endswith(f"{array} {scratch_env['HPC_SCRATCH_MOUNT_POINT']}")


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


LINK_NAME = "nvme-Amazon_Elastic_Block_Store_vol0abc"


def _attach(tmp_path: Path, env: dict[str, str], mode: str = "single") -> tuple[int, list[str], str]:
    return _run(tmp_path, "hpc-ebs-attach", ["vol-0abc", "/dev/sdf", str(tmp_path / "ebs" / "project"), mode], env)


def test_ebs_available_volume_is_attached_formatted_and_mounted(tmp_path: Path, ebs_env: dict[str, str]) -> None:
    code, calls, _ = _attach(tmp_path, ebs_env)
    assert code == 0
    assert any("attach-volume" in c and "--device /dev/sdf" in c for c in _called(calls, "aws"))
    link = f"{ebs_env['HPC_DISK_BY_ID']}/{LINK_NAME}"
    assert _called(calls, "mkfs.xfs") == [f"mkfs.xfs {link}"]  # no -f: mkfs.xfs refuses to overwrite
    assert Path(ebs_env["HPC_FSTAB"]).read_text().count("UUID=1234-uuid ") == 1
    assert "nofail" in Path(ebs_env["HPC_FSTAB"]).read_text()


def test_ebs_volume_in_use_elsewhere_is_left_alone_and_never_detached(tmp_path: Path,
                                                                     ebs_env: dict[str, str]) -> None:
    code, calls, out = _attach(tmp_path, {**ebs_env, "STUB_STATE": "in-use", "STUB_ATTACHED": "i-other"})
    assert code == 0 and "not attached here" in out
    assert not any("attach-volume" in c or "detach-volume" in c for c in calls)
    assert not _called(calls, "mkfs.xfs")


def test_ebs_takeover_mounts_the_previous_holders_data_without_formatting(tmp_path: Path,
                                                                         ebs_env: dict[str, str]) -> None:
    """The holder went away: the volume is available again, with its file system; the next node mounts it."""
    link = f"{ebs_env['HPC_DISK_BY_ID']}/{LINK_NAME}"
    code, calls, _ = _attach(tmp_path, {**ebs_env, "STUB_SIGNED": link})
    assert code == 0
    assert any("attach-volume" in c for c in calls)
    assert not _called(calls, "mkfs.xfs") and _called(calls, "mount")


def test_ebs_is_not_formatted_when_the_probe_cannot_read_it(tmp_path: Path, ebs_env: dict[str, str]) -> None:
    code, calls, out = _attach(tmp_path, {**ebs_env, "STUB_BLKID_BLANK": "4"})
    assert code != 0 and "not formatting" in out
    assert not _called(calls, "mkfs.xfs") and not _called(calls, "mount")


def test_ebs_volume_in_another_az_is_left_alone(tmp_path: Path, ebs_env: dict[str, str]) -> None:
    code, calls, out = _attach(tmp_path, {**ebs_env, "STUB_VOLUME_AZ": "us-east-1b"})
    assert code == 0 and "us-east-1b" in out
    assert not any("attach-volume" in c for c in calls)


def test_ebs_already_mounted_makes_no_api_call(tmp_path: Path, ebs_env: dict[str, str]) -> None:
    """The timer runs on every node every few minutes: the holder must not call EC2 each time."""
    code, calls, _ = _attach(tmp_path, {**ebs_env, "STUB_MOUNTED": "0"})
    assert code == 0
    assert not _called(calls, "aws") and not _called(calls, "curl")


def test_ebs_after_reboot_is_mounted_without_attaching_or_formatting(tmp_path: Path, ebs_env: dict[str, str]) -> None:
    link = Path(ebs_env["HPC_DISK_BY_ID"]) / LINK_NAME
    link.touch()
    Path(ebs_env["HPC_FSTAB"]).write_text("UUID=1234-uuid /ebs/project xfs defaults 0 2\n")
    code, calls, _ = _attach(tmp_path, {**ebs_env, "STUB_STATE": "in-use", "STUB_ATTACHED": "i-self",
                                        "STUB_SIGNED": str(link)})
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


def test_ebs_multi_attach_already_attached_here_makes_no_api_call(tmp_path: Path, ebs_env: dict[str, str]) -> None:
    (Path(ebs_env["HPC_DISK_BY_ID"]) / LINK_NAME).touch()
    code, calls, _ = _attach(tmp_path, ebs_env, mode="multi")
    assert code == 0 and not _called(calls, "aws")


@pytest.fixture
def node_env(tmp_path: Path) -> dict[str, str]:
    dev = tmp_path / "dev"
    dev.mkdir()
    for name in ("nvme0n1", "nvme1n1", "nvme2n1"):
        (dev / name).touch()
    return {"HPC_DEV_DIR": str(dev), "HPC_FSTAB": str(tmp_path / "fstab")}


def _node(tmp_path: Path, env: dict[str, str], device: str = "/dev/sdg") -> tuple[int, list[str], str]:
    return _run(tmp_path, "hpc-ebs-node", [device, str(tmp_path / "ebs" / "local")], env)


def test_per_node_volume_is_found_by_its_mapping_name_not_its_kernel_name(tmp_path: Path,
                                                                          node_env: dict[str, str]) -> None:
    dev = node_env["HPC_DEV_DIR"]
    code, calls, _ = _node(tmp_path, {**node_env, "STUB_EBS_NAMES": f"{dev}/nvme0n1:xvda {dev}/nvme1n1:sdf "
                                                                    f"{dev}/nvme2n1:/dev/sdg"})
    assert code == 0
    assert _called(calls, "mkfs.xfs") == [f"mkfs.xfs {dev}/nvme2n1"]
    assert "/ebs/local xfs" in Path(node_env["HPC_FSTAB"]).read_text()


def test_per_node_volume_follows_the_udev_link_when_there_is_one(tmp_path: Path, node_env: dict[str, str]) -> None:
    dev = Path(node_env["HPC_DEV_DIR"])
    (dev / "sdg").symlink_to(dev / "nvme1n1")
    code, calls, _ = _node(tmp_path, node_env)
    assert code == 0
    assert _called(calls, "mkfs.xfs") == [f"mkfs.xfs {dev}/nvme1n1"]
    assert not _called(calls, "ebsnvme-id")


def test_per_node_volume_with_a_file_system_is_mounted_as_it_is(tmp_path: Path, node_env: dict[str, str]) -> None:
    dev = node_env["HPC_DEV_DIR"]
    code, calls, _ = _node(tmp_path, {**node_env, "STUB_EBS_NAMES": f"{dev}/nvme1n1:sdg",
                                      "STUB_SIGNED": f"{dev}/nvme1n1"})
    assert code == 0 and not _called(calls, "mkfs.xfs") and _called(calls, "mount")


def test_per_node_volume_missing_is_an_error(tmp_path: Path, node_env: dict[str, str]) -> None:
    code, calls, out = _node(tmp_path, {**node_env, "STUB_EBS_NAMES": ""})
    assert code != 0 and "no EBS volume mapped as /dev/sdg" in out
    assert not _called(calls, "mkfs.xfs")


def _mount(tmp_path: Path, env: dict[str, str]) -> tuple[int, list[str], str]:
    return _run(tmp_path, "hpc-mount", [str(tmp_path / "fsx"), "lustre"], {"HPC_MOUNT_ATTEMPTS": "3", **env})


def test_mount_starts_the_fstab_mount_unit_until_the_file_system_is_there(tmp_path: Path) -> None:
    code, calls, _ = _mount(tmp_path, {"STUB_MOUNT_AFTER_STARTS": "2", "STUB_FSTYPE_AFTER_START": "lustre"})
    assert code == 0
    starts = [c for c in _called(calls, "systemctl") if c.startswith("systemctl start ")]
    assert len(starts) == 2 and starts[0].endswith(".mount")


def test_mount_fails_loudly_after_the_last_attempt(tmp_path: Path) -> None:
    code, calls, out = _mount(tmp_path, {"STUB_MOUNTED_FSTYPE": "autofs"})
    assert code != 0 and "not mounted after 3 attempts" in out
    assert len([c for c in _called(calls, "systemctl") if c.startswith("systemctl start ")]) == 3


def test_mount_of_a_mounted_file_system_does_nothing(tmp_path: Path) -> None:
    code, calls, _ = _mount(tmp_path, {"STUB_MOUNTED_FSTYPE": "lustre"})
    assert code == 0
    assert not [c for c in _called(calls, "systemctl") if c.startswith("systemctl start ")]


PINNED = "4E9091BCBB97A96B26B15E59A05480B1DD2D3CCC"
EFA_STUBS = {
    # curl -o FILE URL: writes FILE unless the URL's file name is in STUB_MISSING
    "curl": 'while [ $# -gt 0 ]; do case "$1" in -o) out="$2"; shift;; http*) url="$1";; esac; shift; done; '
            '[[ " ${STUB_MISSING:-} " == *" ${url##*/} "* ]] && exit 22; echo data > "$out"',
    # gpg --verify: a VALIDSIG status line naming STUB_SIGNER as the primary key (none when empty)
    "gpg": 'if [[ " $* " == *" --verify "* ]]; then [ -n "${STUB_SIGNER:-}" ] && '
           'echo "[GNUPG:] VALIDSIG 1111 2026-10-22 0 0 4 0 1 8 00 $STUB_SIGNER"; '
           '[ -n "${STUB_SIGNER:-}" ]; exit; fi; exit 0',
    # tar -xzf TARBALL -C DIR: an installer that logs how it was run
    "tar": 'dir="${@: -1}"; mkdir -p "$dir/aws-efa-installer"; '
           'printf "#!/bin/bash\\necho \\"efa_installer.sh \\$* key=\\${EFA_INSTALLER_KEY:-}\\" >> %s\\n" '
           '"$HPC_CALL_LOG" > "$dir/aws-efa-installer/efa_installer.sh"; '
           'chmod +x "$dir/aws-efa-installer/efa_installer.sh"',
    "dnf": "exit 0",
}


def _efa(tmp_path: Path, env: dict[str, str], version: str = "1.51.0") -> tuple[int, list[str], str]:
    saved = dict(STUBS)
    STUBS.update(EFA_STUBS)
    try:
        return _run(tmp_path, "hpc-efa-install", [version, "4E90 91BC BB97 A96B 26B1 5E59 A054 80B1 DD2D 3CCC"],
                    {"HPC_EFA_FI_INFO": str(tmp_path / "no-fi_info"), **env})
    finally:
        STUBS.clear()
        STUBS.update(saved)


def test_efa_install_downloads_the_pinned_version_and_runs_it_after_verifying(tmp_path: Path) -> None:
    code, calls, out = _efa(tmp_path, {"STUB_SIGNER": PINNED})
    assert code == 0, out
    urls = [c.split()[-1] for c in _called(calls, "curl")]
    assert urls == ["https://efa-installer.amazonaws.com/aws-efa-installer-1.51.0.tar.gz",
                    "https://efa-installer.amazonaws.com/aws-efa-installer-1.51.0.tar.gz.sig",
                    "https://efa-installer.amazonaws.com/aws-efa-installer.key"]
    names = [c.split(" ", 1)[0] for c in calls]
    assert names.index("gpg") < names.index("tar") < names.index("efa_installer.sh")
    (installer,) = _called(calls, "efa_installer.sh")
    assert "-y --check-signatures" in installer and "aws-efa-installer.key" in installer


def test_efa_install_refuses_a_tarball_signed_by_another_key(tmp_path: Path) -> None:
    code, calls, out = _efa(tmp_path, {"STUB_SIGNER": "0" * 40})
    assert code != 0 and "not by the pinned" in out
    assert not _called(calls, "tar") and not _called(calls, "efa_installer.sh")


def test_efa_install_refuses_a_tarball_without_a_valid_signature(tmp_path: Path) -> None:
    code, calls, out = _efa(tmp_path, {"STUB_SIGNER": ""})
    assert code != 0 and "no valid signature" in out
    assert not _called(calls, "tar") and not _called(calls, "efa_installer.sh")


def test_efa_install_fails_when_the_signature_cannot_be_downloaded(tmp_path: Path) -> None:
    code, calls, _ = _efa(tmp_path, {"STUB_SIGNER": PINNED, "STUB_MISSING": "aws-efa-installer-1.51.0.tar.gz.sig"})
    assert code != 0
    assert not _called(calls, "tar") and not _called(calls, "efa_installer.sh")


def test_efa_install_before_1_48_runs_without_check_signatures(tmp_path: Path) -> None:
    code, calls, _ = _efa(tmp_path, {"STUB_SIGNER": PINNED}, version="1.47.0")
    assert code == 0
    (installer,) = _called(calls, "efa_installer.sh")
    assert "--check-signatures" not in installer


def test_efa_install_is_skipped_when_the_software_is_there(tmp_path: Path) -> None:
    fi_info = tmp_path / "fi_info"
    fi_info.write_text("#!/bin/bash\n")
    fi_info.chmod(0o755)
    code, calls, _ = _efa(tmp_path, {"HPC_EFA_FI_INFO": str(fi_info)})
    assert code == 0 and not _called(calls, "curl")


LUSTRE_EFA_STUBS = {
    "ip": 'echo "default via 10.0.0.1 dev ens5 proto dhcp src 10.0.0.10 metric 512"',
    # modprobe MODULE: fails for the modules in STUB_NO_MODULES
    "modprobe": '[[ " ${STUB_NO_MODULES:-} " == *" $1 "* ]] && exit 1; exit 0',
    # lnetctl net show --net efa: one @efa NID per `net add --net efa` logged so far, plus STUB_EFA_NIDS
    "lnetctl": 'if [[ "$*" == "net show --net efa" ]]; then '
               'n=$(grep -c "^lnetctl net add --net efa" "$HPC_CALL_LOG"); n=$((n + ${STUB_EFA_NIDS:-0})); '
               'for i in $(seq 1 "$n"); do echo "    - nid: 10.0.0.$i@efa"; done; exit 0; fi; '
               '[[ "$*" == "udsp add"* && -n "${STUB_UDSP_FAILS:-}" ]] && exit 1; exit 0',
}


def _lustre_efa(tmp_path: Path, args: list[str], env: dict[str, str], devices: int = 32,
                other_rdma: tuple[str, ...] = ()) -> tuple[int, list[str], str]:
    sysfs = tmp_path / "sys"
    drivers = tmp_path / "drivers"
    for driver in ("efa", "mlx5_core"):
        (drivers / driver).mkdir(parents=True, exist_ok=True)
    names = [f"rdmap{i:02d}s0" for i in range(devices)]
    for name, driver in [*((n, "efa") for n in names), *((n, "mlx5_core") for n in other_rdma)]:
        device = sysfs / "class" / "infiniband" / name / "device"
        device.mkdir(parents=True, exist_ok=True)
        (device / "driver").symlink_to(drivers / driver)
    saved = dict(STUBS)
    STUBS.update(LUSTRE_EFA_STUBS)
    try:
        return _run(tmp_path, "hpc-lustre-efa", args, {"HPC_SYSFS": str(sysfs), **env})
    finally:
        STUBS.clear()
        STUBS.update(saved)


def _efa_devices_added(calls: list[str]) -> list[str]:
    return [c.split("--if ")[1].split()[0] for c in calls if c.startswith("lnetctl net add --net efa")]


def test_lustre_efa_spreads_the_guides_count_over_the_efa_devices(tmp_path: Path) -> None:
    code, calls, out = _lustre_efa(tmp_path, ["8"], {}, devices=32, other_rdma=("mlx5_0",))
    assert code == 0, out
    # every fourth of 32 devices (one per PCIe switch on p5.48xlarge), peer credits 32; never a non-EFA device
    assert _efa_devices_added(calls) == [f"rdmap{i:02d}s0" for i in range(0, 32, 4)]
    assert all("--peer-credits 32" in c for c in calls if c.startswith("lnetctl net add --net efa"))
    assert "modprobe kefalnd ipif_name=ens5" in calls
    order = [c for c in calls if c.startswith(("lnetctl lnet configure", "lnetctl net add --net tcp --if ens5",
                                               "lnetctl set discovery 1", "lnetctl udsp add --src efa --priority 0",
                                               "modprobe lustre"))]
    assert order == ["lnetctl lnet configure", "lnetctl net add --net tcp --if ens5", "lnetctl set discovery 1",
                     "lnetctl udsp add --src efa --priority 0", "modprobe lustre"]


def test_lustre_efa_takes_the_count_for_this_nodes_type(tmp_path: Path) -> None:
    code, calls, out = _lustre_efa(tmp_path, ["c6in.32xlarge=2", "p5.48xlarge=8"],
                                   {"HPC_INSTANCE_TYPE": "c6in.32xlarge"}, devices=2)
    assert code == 0, out
    assert _efa_devices_added(calls) == ["rdmap00s0", "rdmap01s0"]


def test_lustre_efa_already_configured_does_nothing(tmp_path: Path) -> None:
    code, calls, _ = _lustre_efa(tmp_path, ["2"], {"STUB_EFA_NIDS": "2"})
    assert code == 0 and not _efa_devices_added(calls) and "lnetctl lnet configure" not in calls


def test_lustre_efa_without_kefalnd_leaves_lnet_on_tcp_and_says_so(tmp_path: Path) -> None:
    code, calls, out = _lustre_efa(tmp_path, ["2"], {"STUB_NO_MODULES": "kefalnd"})
    assert code == 3 and "Lustre mounts work over TCP" in out  # the unit's SuccessExitStatus: mounts go on
    assert "lnetctl net add --net tcp --if ens5" in calls and not _efa_devices_added(calls)
    code, _, out = _lustre_efa(tmp_path / "check", ["--check"], {})
    assert code == 1 and "no EFA network" in out


def test_lustre_efa_without_efa_devices_leaves_lnet_on_tcp(tmp_path: Path) -> None:
    code, calls, out = _lustre_efa(tmp_path, ["2"], {}, devices=0, other_rdma=("mlx5_0",))
    assert code == 3 and "no EFA device" in out and not _efa_devices_added(calls)


def test_lustre_efa_check_passes_when_lnet_has_efa(tmp_path: Path) -> None:
    code, _, _ = _lustre_efa(tmp_path, ["--check"], {"STUB_EFA_NIDS": "8"})
    assert code == 0


SCRIPTS = sorted(p.name[:-3] for p in resources.files("hpc_constructs").joinpath("scripts").iterdir()
                 if p.name.endswith(".sh"))


@pytest.mark.parametrize("name", SCRIPTS)
def test_the_packed_script_is_the_source_without_comments_and_still_valid_bash(name: str, tmp_path: Path) -> None:
    from hpc_constructs import boot

    source = boot.script_text(name)
    packed = boot.packed_scripts("\n".join(boot.install_boot_script(name)) + "\n")[name]
    code = [line for line in source.split("\n")[1:] if line.strip() and not line.lstrip().startswith("#")]
    assert packed.split("\n")[2:-1] == code  # shebang and a one-line header, then every line of code
    path = tmp_path / name
    path.write_text(packed)
    subprocess.run(["bash", "-n", str(path)], check=True)
