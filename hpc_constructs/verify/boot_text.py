"""What a launch template lets the users and containers of a node reach: its metadata options and its boot.

The instance role's credentials come from the instance metadata service (IMDS). Three things decide who reaches it
(EC2 User Guide, "Configure the instance metadata options"): IMDSv2 required (a session token, whose PUT response
travels at most HttpPutResponseHopLimit network hops: 1 keeps containers on a bridge network out; unset, EC2
uses 1, or 2 for images that declare IMDS support v2.0, as Amazon Linux 2023's do, so unset counts as 2 here);
and a firewall rule on the node itself, which is the only thing that keeps a non-root *local* user out, as AWS
ParallelCluster does on its nodes (an iptables or nftables rule for 169.254.169.254 that matches the socket's
owner: `-m owner ! --uid-owner root -j REJECT`, or nftables `meta skuid != 0 ... reject`). For the ECS agent's
awsvpc tasks (Batch multi-node jobs), ECS_AWSVPC_BLOCK_IMDS=true in /etc/ecs/ecs.config blocks IMDS (ECS
Developer Guide, "Amazon ECS task IAM role").

The boot is read from the launch template's user data as evaluated from the template, with the scripts that
hpc_constructs.boot packs into it unpacked (boot.packed_scripts). Two forms are recognized: one firewall line that
names 169.254.169.254, an owner (or cgroup) match and REJECT or DROP; or the library's own guard
(hpc_constructs/scripts/hpc-imds-guard.sh, packed into the user data) run with --non-root (--ecs-tasks for the
containers of ECS tasks, whose root is not the host's). A rule written some other way (a baked image, a script
fetched at boot) is not seen: the path is then reported blocked, naming what was looked for.
"""

from __future__ import annotations

import re

from hpc_constructs.boot import packed_scripts
from hpc_constructs.verify.assembly import Assembly, Ref

IMDS_ADDRESS = "169.254.169.254"
GUARD = "hpc-imds-guard"  # hpc_constructs.boot.IMDS_GUARD_SCRIPT
DEFAULT_HOP_LIMIT = 2  # unset: 2 for images with IMDS support v2.0 (Amazon Linux 2023)
_IPTABLES = re.compile(r"(--uid-owner|meta\s+skuid|\bskuid\b)")
_ACTION = re.compile(r"\b(REJECT|DROP|reject|drop)\b")


def boot_text(assembly: Assembly, template: Ref) -> str:
    """The launch template's user data as text, with the scripts packed into it appended."""
    data = assembly.prop(template, "LaunchTemplateData", {})
    text = data.get("UserData", "")
    text = text if isinstance(text, str) else str(text)
    scripts = packed_scripts(text.replace("\r\n", "\n"))
    return "\n".join([text, *scripts.values()])


def _guarded(text: str, option: str, match: str) -> bool:
    """The library's guard is in the boot (packed, with its `match` rule) and runs with `option`."""
    script = packed_scripts(text).get(GUARD, "")
    return match in script and re.search(rf"{GUARD}\b[^\n]*{option}", text) is not None


def root_only_rule(text: str) -> bool:
    """Whether the boot installs a firewall rule that refuses IMDS to every user but root."""
    joined = re.sub(r"\\\n\s*", " ", text)
    return any(IMDS_ADDRESS in line and _IPTABLES.search(line) and _ACTION.search(line)
               for line in joined.split("\n")) or _guarded(text, "--non-root", "--uid-owner")


def ecs_tasks_rule(text: str) -> bool:
    """Whether the boot refuses IMDS to the containers of ECS tasks (a cgroup match on their slice)."""
    joined = re.sub(r"\\\n\s*", " ", text)
    return any(IMDS_ADDRESS in line and "-m cgroup" in line and _ACTION.search(line)
               for line in joined.split("\n")) or _guarded(text, "--ecs-tasks", "-m cgroup")


def imds_findings(assembly: Assembly, template: Ref, *, root_only: bool, max_hop_limit: int | None,
                  awsvpc_blocked: bool, ecs_tasks_blocked: bool = False) -> str | None:
    """None when the launch template keeps IMDS as the declaration asks; else what lets others in."""
    data = assembly.prop(template, "LaunchTemplateData", {})
    options = data.get("MetadataOptions", {}) or {}
    if str(options.get("HttpEndpoint", "enabled")) == "disabled":
        return None
    problems = []
    if str(options.get("HttpTokens", "optional")) != "required":
        problems.append("IMDSv1 is allowed (MetadataOptions.HttpTokens is not required): any process that can make "
                        "an HTTP request gets the role's credentials")
    if max_hop_limit is not None:
        hops = options.get("HttpPutResponseHopLimit")
        value = int(hops) if hops is not None else DEFAULT_HOP_LIMIT
        if value > max_hop_limit:
            problems.append(f"HttpPutResponseHopLimit is {value}{' (unset: the image default)' if hops is None else ''}"
                            f", above {max_hop_limit}: containers on a bridge network reach IMDS")
    text = boot_text(assembly, template) if root_only or awsvpc_blocked or ecs_tasks_blocked else ""
    if root_only and not root_only_rule(text):
        problems.append(f"no boot step refuses {IMDS_ADDRESS} to non-root users (an iptables or nftables rule that "
                        "matches the socket owner: -m owner ! --uid-owner root -j REJECT): every local user reaches "
                        "the role's credentials")
    if ecs_tasks_blocked and not ecs_tasks_rule(text):
        problems.append(f"no boot step refuses {IMDS_ADDRESS} to the containers of ECS tasks (a cgroup match on "
                        "their slice, as hpc-imds-guard --ecs-tasks does): jobs in the host's network, root in their "
                        "container, reach the instance role")
    if awsvpc_blocked and not re.search(r"ECS_AWSVPC_BLOCK_IMDS=true", text):
        problems.append("the user data does not set ECS_AWSVPC_BLOCK_IMDS=true in /etc/ecs/ecs.config: the awsvpc "
                        "containers of multi-node jobs reach the instance role")
    return "; ".join(problems) or None
