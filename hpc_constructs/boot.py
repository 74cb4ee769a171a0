"""What a node does at boot, as user-data lines (pure functions, no CDK).

A fleet's user data is a sequence of named steps. Each step runs on its own, in a subshell with
`set -e`; a failed step is logged, the steps after it still run (a failed EFA install never skips the
mounts), and the user data exits non-zero at the end, naming every failed step, so that
`cloud-init status` and /var/lib/hpc-constructs/failed-steps show it. Whatever must also happen at
every later boot (scratch, mounts, LNet set-up, EBS takeover) is a systemd unit or an fstab entry;
the steps only install and start them.

The scripts that the user data installs live in hpc_constructs/scripts/ and are tested there against
stub commands. They need a dnf-based image with systemd: Amazon Linux 2023 (the library's default
images, the AWS Deep Learning AMIs on Amazon Linux 2023 included), or a RHEL 9 family image with the
same packages.
"""

from __future__ import annotations

import base64
import gzip
import re
import textwrap
from dataclasses import dataclass
from importlib import resources

FAILED_STEPS_FILE = "/var/lib/hpc-constructs/failed-steps"

# Defined before any step; the CDK user data's exit trap calls hpc_boot_report at the end.
PRELUDE: tuple[str, ...] = (
    "# hpc-constructs: each step runs on its own; a failed step is reported at the end and never",
    "# skips the steps after it.",
    "set -uo pipefail",
    "HPC_FAILED_STEPS=()",
    "hpc_step() {",
    '  local name="$1"; shift',
    '  echo "hpc-constructs: step: $name"',
    '  ( set -e; "$@" )',
    "  local status=$?",
    '  if [ "$status" -ne 0 ]; then',
    '    echo "hpc-constructs: step failed (exit $status): $name" >&2',
    '    HPC_FAILED_STEPS+=("$name")',
    "  fi",
    "  return 0",
    "}",
    "hpc_retry() {  # hpc_retry ATTEMPTS COMMAND...: network installs at first boot, with a growing pause",
    '  local attempts="$1" n=1; shift',
    '  until "$@"; do',
    '    [ "$n" -ge "$attempts" ] && return 1',
    '    sleep $((n * ${HPC_RETRY_SECONDS:-10})); n=$((n + 1))',
    "  done",
    "}",
    "hpc_install() {  # hpc_install PACKAGE...: dnf packages the image does not hold (boot.install_step)",
    '  rpm -q "$@" >/dev/null 2>&1 || hpc_retry 5 dnf install -y "$@"',
    "}",
    "hpc_boot_report() {",
    f"  mkdir -p {FAILED_STEPS_FILE.rsplit('/', 1)[0]}",
    '  if [ "${#HPC_FAILED_STEPS[@]}" -gt 0 ]; then',
    f"    printf '%s\\n' \"${{HPC_FAILED_STEPS[@]}}\" > {FAILED_STEPS_FILE}",
    '    echo "hpc-constructs: ${#HPC_FAILED_STEPS[@]} boot step(s) failed: ${HPC_FAILED_STEPS[*]}" >&2',
    "    exit 1",
    "  fi",
    f"  : > {FAILED_STEPS_FILE}",
    '  echo "hpc-constructs: every boot step succeeded"',
    "}",
)
ON_EXIT: tuple[str, ...] = ("hpc_boot_report",)

_STEP_NAME = re.compile(r"^[A-Za-z0-9 ,./_:()-]+$")
IMAGE_MANIFEST = "/etc/hpc-constructs/image-contents"  # what an HpcImage holds: one "<item> <version>" a line


def script_text(name: str) -> str:
    """The text of hpc_constructs/scripts/<name>.sh."""
    return resources.files("hpc_constructs").joinpath(f"scripts/{name}.sh").read_text()


def write_file(path: str, text: str, *, mode: str = "0644") -> list[str]:
    """Lines that write `text` to `path` as it is (a quoted heredoc: no expansion)."""
    marker = "HPC_" + re.sub(r"[^A-Za-z0-9]", "_", path.rsplit("/", 1)[-1]).upper()
    body = text.rstrip("\n").split("\n")
    assert marker not in body, f"heredoc marker {marker} occurs in {path}"
    return [f"mkdir -p {path.rsplit('/', 1)[0] or '/'}", f"cat > {path} <<'{marker}'", *body, marker,
            f"chmod {mode} {path}"]


def compact(text: str) -> str:
    """A script without its comment lines and blank lines (the shebang stays): what goes on the node."""
    lines = text.split("\n")
    kept = [line for line in lines[1:] if line.strip() and not line.lstrip().startswith("#")]
    return "\n".join([lines[0], *kept]) + "\n"


def install_boot_script(name: str) -> list[str]:
    """Lines that write hpc_constructs/scripts/<name>.sh to /usr/local/sbin/<name>.

    The script goes in without its comments, gzip-compressed and base64-encoded: EC2 takes at most
    16 KB of user data, and the scripts are most of it. The commented source is in the package and
    its tests run it; `boot.packed_scripts(user_data)` reads the scripts back out of user data.
    """
    path = f"/usr/local/sbin/{name}"
    header = f"#!/bin/bash\n# {name}: hpc_constructs/scripts/{name}.sh of hpc-constructs, without its comments\n"
    body = compact(script_text(name)).split("\n", 1)[1]
    blob = base64.b64encode(gzip.compress((header + body).encode(), compresslevel=9, mtime=0)).decode()
    marker = "HPC_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()
    return ["mkdir -p /usr/local/sbin", f"base64 -d <<'{marker}' | gunzip > {path}", *textwrap.wrap(blob, 76),
            marker, f"chmod 0755 {path}"]


_PACKED = re.compile(r"base64 -d <<'(HPC_[A-Z0-9_]+)' \| gunzip > /usr/local/sbin/(\S+)\n(.*?)\n\1\n", re.S)


def packed_scripts(user_data: str) -> dict[str, str]:
    """The scripts that install_boot_script put into `user_data`, by name, as they land on the node."""
    return {name: gzip.decompress(base64.b64decode(blob.replace("\n", ""))).decode()
            for _, name, blob in _PACKED.findall(user_data)}


def systemd_unit(name: str, text: str) -> list[str]:
    """Lines that write a systemd unit file to /etc/systemd/system/<name>."""
    return write_file(f"/etc/systemd/system/{name}", text)


class BootCommands:
    """Boot lines recorded in order, for user data made later (one per node group): what a SlurmCluster's nodes
    all run. Has the one method the storage tiers call on user data, add_commands."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add_commands(self, *lines: str) -> None:
        self.lines.extend(lines)


IMDS_GUARD_SCRIPT = "hpc-imds-guard"
IMDS_GUARD_UNIT = "hpc-imds-guard.service"


def imds_guard(*, ecs_tasks: bool = False) -> list[str]:
    """Lines that keep the instance metadata service (and the instance role's credentials) for root, now and at
    every boot: the unit runs hpc-imds-guard before sshd, the ECS agent and slurmd take anyone in.

    Install the script first (install_boot_script(IMDS_GUARD_SCRIPT)). ecs_tasks: also refuse the containers
    of ECS tasks (Batch jobs run as root in the host's network). Every node kind of the library uses this one
    step: ComputeFleet, BatchComputeEnvironment, SlurmCluster node groups, HaBastion.
    """
    options = "--non-root --ecs-tasks" if ecs_tasks else "--non-root"
    return [
        # Amazon Linux 2023 has no iptables (the ECS-optimized images and HpcImages have it): nftables' iptables.
        install_step("iptables for the metadata guard", "iptables-nft"),
        *systemd_unit(IMDS_GUARD_UNIT, "\n".join([
            "[Unit]",
            "Description=hpc-constructs: the instance metadata service for root only",
            "After=local-fs.target",
            "Before=sshd.service ecs.service slurmd.service",
            "[Service]",
            "Type=oneshot",
            "RemainAfterExit=yes",
            f"ExecStart=/usr/local/sbin/{IMDS_GUARD_SCRIPT} {options}",
            "[Install]",
            "WantedBy=multi-user.target"])),
        step("instance metadata for root only" + (" (and not ECS tasks)" if ecs_tasks else ""),
             "systemctl", "enable", "--now", IMDS_GUARD_UNIT),
    ]


def step(name: str, *command: str) -> str:
    """One boot step: `command` (a function or program and its arguments) run by hpc_step."""
    assert _STEP_NAME.match(name), name
    return f"hpc_step '{name}' " + " ".join(command)


def function(name: str, body: list[str] | tuple[str, ...]) -> list[str]:
    """A shell function for a step with several commands; run it with step(title, name)."""
    return [f"{name}() {{", *(f"  {line}" for line in body), "}"]


def fstab_entry(entry: str, mount_point: str, fstype: str) -> str:
    """An idempotent line that adds `entry` to /etc/fstab unless the mount point has one."""
    return f"grep -qs ' {mount_point} {fstype} ' /etc/fstab || echo '{entry}' >> /etc/fstab"


# -- the work a node does at boot, and what its image spares it ---------------------------------------------------

INSTALL = "hpc_install"
EFA_INSTALL_SCRIPT = "hpc-efa-install"
_INSTALL_STEP = re.compile(r"^hpc_step '([^']*)' hpc_install((?: [A-Za-z0-9._+-]+)+)$")
_DOWNLOAD_STEP = re.compile(r"^hpc_step '[^']*' /usr/local/sbin/hpc-efa-install (\S+) ", re.M)


def install_step(name: str, *packages: str) -> str:
    """A boot step that installs dnf `packages` unless they are there (retried: the first boot's network)."""
    assert packages, name
    return step(name, INSTALL, *packages)


def without_installed(lines: list[str] | tuple[str, ...], installed: frozenset[str]) -> list[str]:
    """`lines` without the install steps' packages that the image holds (a step with none left goes away).

    The image records what it holds (HpcImage: its manifest, built from the same names); the construct that
    knows the image passes `installed`, so that boot skips exactly that and installs the rest.
    """
    if not installed:
        return list(lines)
    kept = []
    for line in lines:
        match = _INSTALL_STEP.match(line)
        if match is None:
            kept.append(line)
            continue
        missing = [p for p in match.group(2).split() if p not in installed]
        if missing:
            kept.append(install_step(match.group(1), *missing))
    return kept


def image_check(items: frozenset[str] | set[str]) -> list[str]:
    """Lines of a first boot step that fails, naming them, when the image lacks an item its construct was told it
    holds (the steps that would install it are left out): a wrong image is reported, never half-booted."""
    if not items:
        return []
    return [
        *function("hpc_image_check", [
            f"local manifest=${{HPC_IMAGE_MANIFEST:-{IMAGE_MANIFEST}}} item missing=()",
            f"for item in {' '.join(sorted(items))}; do",
            '  grep -q "^$item " "$manifest" 2>/dev/null || missing+=("$item")',
            "done",
            '[ "${#missing[@]}" -eq 0 ] && return 0',
            'echo "hpc-constructs: the image lacks ${missing[*]} ($manifest); it was built without them" >&2',
            "return 1",
        ]),
        step("the image holds what boot skips", "hpc_image_check"),
    ]


@dataclass(frozen=True, slots=True)
class BootWork:
    """What one node kind's user data downloads and installs at every first boot."""

    downloads: tuple[str, ...]  # what is fetched from outside AWS's package repositories (the EFA installer)
    packages: tuple[str, ...]  # dnf packages installed (hpc_install), in order

    def describe(self) -> str:
        if not self.downloads and not self.packages:
            return "nothing: 0 downloads, 0 package installs"
        parts = [f"{len(self.downloads)} download{'s' if len(self.downloads) != 1 else ''}"
                 + (f" ({', '.join(self.downloads)})" if self.downloads else ""),
                 f"{len(self.packages)} package install{'s' if len(self.packages) != 1 else ''}"
                 + (f" ({', '.join(self.packages)})" if self.packages else "")]
        return ", ".join(parts)


def boot_work(user_data: str) -> BootWork:
    """The downloads and package installs in rendered user data (every boot step that adds software is an
    `hpc_install` step or hpc-efa-install): what the synth summary reports per node kind."""
    packages: list[str] = []
    for line in user_data.splitlines():
        match = _INSTALL_STEP.match(line.strip())
        if match is not None:
            packages.extend(p for p in match.group(2).split() if p not in packages)
    downloads = [f"EFA installer {version}" for version in _DOWNLOAD_STEP.findall(user_data)]
    return BootWork(tuple(dict.fromkeys(downloads)), tuple(packages))
