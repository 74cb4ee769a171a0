"""What an image build runs and what a node on an image runs, for real against stub commands: hpc-pcs-install (the PCS
agent and Slurm installers, signature first), the boot check of the image's manifest, and hpc_install."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from hpc_constructs import boot
from hpc_constructs.catalog.software import PCS_INSTALLERS
from tests.support import install_stubs

PINNED = PCS_INSTALLERS.key_fingerprint
STUBS = {
    # curl -o FILE URL: writes FILE unless the URL's file name is in STUB_MISSING
    "curl": 'while [ $# -gt 0 ]; do case "$1" in -o) out="$2"; shift;; http*) url="$1";; esac; shift; done; '
            '[[ " ${STUB_MISSING:-} " == *" ${url##*/} "* ]] && exit 22; echo data > "$out"',
    # gpg --verify: a VALIDSIG status line naming STUB_SIGNER as the primary key (none when empty)
    "gpg": 'if [[ " $* " == *" --verify "* ]]; then [ -n "${STUB_SIGNER:-}" ] && '
           'echo "[GNUPG:] VALIDSIG B7E1 2026-11-06 0 0 4 0 1 8 00 $STUB_SIGNER"; [ -n "${STUB_SIGNER:-}" ]; exit; fi',
    # tar -xzf TARBALL -C DIR: both installers' directories, each with an installer.sh that logs its call and
    # writes the version file the guide says to check
    "tar": 'dir="${@: -1}"; for d in aws-pcs-agent aws-pcs-slurm-26.05-installer; do mkdir -p "$dir/$d"; '
           'printf "#!/bin/bash\\necho \\"installer.sh %s \\$*\\" >> \\"$HPC_CALL_LOG\\"\\n'
           'mkdir -p \\"\\$(dirname \\"$STUB_WRITES\\")\\"; echo VERSION=1 > \\"$STUB_WRITES\\"\\n" "$d" '
           '> "$dir/$d/installer.sh"; chmod +x "$dir/$d/installer.sh"; done',
    "dnf": "exit 0",
}


def _pcs(tmp_path: Path, args: list[str], env: dict[str, str]) -> tuple[int, list[str], str]:
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    install_stubs(bin_dir, log, STUBS)
    script = tmp_path / "hpc-pcs-install"
    script.write_text(boot.script_text("hpc-pcs-install"))
    root = tmp_path / "opt-aws-pcs"
    kind = args[0]
    writes = root / ("version" if kind == "agent" else "scheduler/slurm-26.05/version")
    full = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "HPC_CALL_LOG": str(log),
            "HPC_PCS_ROOT": str(root), "STUB_WRITES": str(writes), **env}
    result = subprocess.run(["bash", str(script), *args], env=full, capture_output=True, text=True, timeout=30)
    calls = log.read_text().splitlines() if log.exists() else []
    return result.returncode, calls, result.stdout + result.stderr


def _urls(calls: list[str]) -> list[str]:
    return [c.split()[-1] for c in calls if c.startswith("curl ")]


def test_the_agent_installer_is_downloaded_from_the_regions_bucket_verified_then_run(tmp_path: Path) -> None:
    code, calls, out = _pcs(tmp_path, ["agent", "1-latest", PINNED, "eu-west-1"], {"STUB_SIGNER": PINNED})
    assert code == 0, out
    bucket = "https://aws-pcs-repo-eu-west-1.s3.eu-west-1.amazonaws.com/aws-pcs-agent/aws-pcs-agent-v1-latest.tar.gz"
    assert _urls(calls) == [bucket, bucket + ".sig", "https://aws-pcs-repo-public-keys-eu-west-1.s3.eu-west-1"
                            ".amazonaws.com/aws-pcs-public-key.pub"]
    names = [c.split(" ", 1)[0] for c in calls]
    assert names.index("gpg") < names.index("tar") < names.index("installer.sh")
    assert "installer.sh aws-pcs-agent -y" in calls and "VERSION=1" in out


def test_slurm_of_the_version_is_installed_from_its_installer(tmp_path: Path) -> None:
    code, calls, out = _pcs(tmp_path, ["slurm", "26.05", "latest", PINNED, "us-east-1"], {"STUB_SIGNER": PINNED})
    assert code == 0, out
    assert _urls(calls)[0].endswith("/aws-pcs-slurm/aws-pcs-slurm-26.05-installer-latest.tar.gz")
    assert "installer.sh aws-pcs-slurm-26.05-installer -y" in calls


@pytest.mark.parametrize(("signer", "message"), [("0" * 40, "not by the pinned"), ("", "no valid signature")])
def test_an_installer_not_signed_by_the_pinned_key_is_never_run(tmp_path: Path, signer: str, message: str) -> None:
    code, calls, out = _pcs(tmp_path, ["agent", "1-latest", PINNED, "us-east-1"], {"STUB_SIGNER": signer})
    assert code == 1 and message in out
    assert not [c for c in calls if c.startswith(("tar", "installer.sh"))]


def test_a_missing_signature_stops_the_install(tmp_path: Path) -> None:
    code, calls, _ = _pcs(tmp_path, ["agent", "1-latest", PINNED, "us-east-1"],
                          {"STUB_SIGNER": PINNED, "STUB_MISSING": "aws-pcs-agent-v1-latest.tar.gz.sig"})
    assert code != 0 and not [c for c in calls if c.startswith(("tar", "installer.sh"))]


def test_an_installed_agent_is_left_as_it_is(tmp_path: Path) -> None:
    version = tmp_path / "opt-aws-pcs" / "version"
    version.parent.mkdir(parents=True)
    version.write_text("AGENT_VERSION='1.5.0'\n")
    code, calls, out = _pcs(tmp_path, ["agent", "1-latest", PINNED, "us-east-1"], {"STUB_SIGNER": PINNED})
    assert code == 0 and "already installed" in out and not _urls(calls)


def _run_lines(tmp_path: Path, lines: list[str], env: dict[str, str]) -> tuple[int, str]:
    script = tmp_path / "user-data.sh"
    script.write_text("\n".join(["#!/bin/bash", *boot.PRELUDE, *lines, *boot.ON_EXIT]) + "\n")
    failed = tmp_path / "failed"
    text = script.read_text().replace(boot.FAILED_STEPS_FILE, str(failed))
    script.write_text(text)
    result = subprocess.run(["bash", str(script)], env={**os.environ, **env}, capture_output=True, text=True,
                            timeout=30)
    return result.returncode, result.stdout + result.stderr


def test_the_boot_check_passes_when_the_manifest_lists_every_item(tmp_path: Path) -> None:
    manifest = tmp_path / "image-contents"
    manifest.write_text("efa 1.51.0\nlustre-client 2.15.6-1\npcs-agent 1.5.0-1\n")
    code, out = _run_lines(tmp_path, boot.image_check({"efa", "lustre-client"}), {"HPC_IMAGE_MANIFEST": str(manifest)})
    assert code == 0, out


def test_the_boot_check_fails_naming_what_the_image_lacks(tmp_path: Path) -> None:
    manifest = tmp_path / "image-contents"
    manifest.write_text("efa 1.51.0\n")
    code, out = _run_lines(tmp_path, boot.image_check({"efa", "lustre-client", "slurm-26.05"}),
                           {"HPC_IMAGE_MANIFEST": str(manifest)})
    assert code == 1
    assert "the image lacks lustre-client slurm-26.05" in out
    assert "1 boot step(s) failed: the image holds what boot skips" in out


def test_hpc_install_installs_only_what_rpm_does_not_find(tmp_path: Path) -> None:
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    install_stubs(bin_dir, log, {"rpm": 'exit "${STUB_RPM:-1}"', "dnf": "exit 0"})
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "HPC_RETRY_SECONDS": "0"}
    step = boot.install_step("Lustre client", "lustre-client")
    assert _run_lines(tmp_path, [step], env)[0] == 0
    assert log.read_text().splitlines() == ["rpm -q lustre-client", "dnf install -y lustre-client"]
    log.unlink()
    assert _run_lines(tmp_path, [step], {**env, "STUB_RPM": "0"})[0] == 0
    assert log.read_text().splitlines() == ["rpm -q lustre-client"]


def test_without_installed_drops_exactly_what_the_image_holds() -> None:
    lines = ["echo before", boot.install_step("tools", "mdadm", "xfsprogs"), boot.install_step("Lustre client",
                                                                                              "lustre-client")]
    assert boot.without_installed(lines, frozenset({"mdadm", "lustre-client"})) == [
        "echo before", "hpc_step 'tools' hpc_install xfsprogs"]
    assert boot.without_installed(lines, frozenset()) == lines


def test_boot_work_counts_installs_and_the_efa_download() -> None:
    text = "\n".join([
        boot.install_step("Lustre client", "lustre-client"), boot.install_step("tools", "mdadm", "lustre-client"),
        boot.step("EFA software 1.51.0", "/usr/local/sbin/hpc-efa-install", "1.51.0", PINNED)])
    work = boot.boot_work(text)
    assert work == boot.BootWork(("EFA installer 1.51.0",), ("lustre-client", "mdadm"))
    assert work.describe() == "1 download (EFA installer 1.51.0), 2 package installs (lustre-client, mdadm)"
    assert boot.boot_work("echo hello").describe() == "nothing: 0 downloads, 0 package installs"
