#!/bin/bash
# hpc-users PARAMETER REGION: make this node's SSH users what the SSM parameter lists.
# The parameter (SshUsers) holds JSON: [{"name": "alice", "uid": 41234, "keys": ["ssh-ed25519 AAAA... alice@laptop"]}].
# Run at boot and every few minutes (systemd timer hpc-users.timer), so that adding or removing a user is a deploy
# that changes the parameter, never a change to each instance. For each listed user:
#   - the account is created with its UID and a group of the same name (the same on every node, so files on the
#     shared file systems and Slurm jobs keep their owner), a home under HPC_HOME_BASE (/home), a login shell;
#   - its authorized_keys are exactly the listed keys (0600, owned by the user);
#   - it is no administrator: never in wheel, no sudoers file, so root's files (host keys) and the instance
#     role (hpc-imds-guard refuses the metadata service to non-root users) stay out of its reach.
# A user this script made earlier and no longer listed is locked and loses its keys; its home stays (its data).
# An account the script did not make (ec2-user, a service) is never touched, even when the list names it.
set -euo pipefail

parameter="$1"
region="$2"
export HPC_HOME_BASE="${HPC_HOME_BASE:-/home}"
export HPC_USERS_STATE="${HPC_USERS_STATE:-/var/lib/hpc-constructs/ssh-users}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
aws --region "$region" ssm get-parameter --name "$parameter" --query Parameter.Value --output text > "$work/users.json"

python3 - "$work/users.json" <<'PY'
import json, os, subprocess, sys

base, state_file = os.environ["HPC_HOME_BASE"], os.environ["HPC_USERS_STATE"]
sudoers_dir = os.environ.get("HPC_SUDOERS_DIR", "/etc/sudoers.d")
users = json.load(open(sys.argv[1]))
managed = set(open(state_file).read().split()) if os.path.exists(state_file) else set()
failed = []


def run(*command):
    subprocess.run(command, check=True)


def account(name):
    """(uid, gid, home) from the passwd database (getent: local files and any directory), or None."""
    found = subprocess.run(["getent", "passwd", name], capture_output=True, text=True)
    if found.returncode != 0 or not found.stdout.strip():
        return None
    fields = found.stdout.strip().split(":")
    return int(fields[2]), int(fields[3]), fields[5]


def members(group):
    found = subprocess.run(["getent", "group", group], capture_output=True, text=True)
    return found.stdout.strip().split(":")[-1].split(",") if found.returncode == 0 else []


for user in users:
    name, uid, keys = user["name"], int(user["uid"]), user["keys"]
    entry = account(name)
    if entry is None:
        run("useradd", "--uid", str(uid), "--user-group", "--create-home", "--home-dir", f"{base}/{name}",
            "--shell", "/bin/bash", name)
        entry = account(name)
    elif name not in managed:
        print(f"hpc-users: {name} exists and is not ours; not touching it", file=sys.stderr)
        failed.append(name)
        continue
    if entry is None or entry[0] != uid:
        print(f"hpc-users: {name} does not have UID {uid}; not touching it", file=sys.stderr)
        failed.append(name)
        continue
    managed.add(name)
    run("usermod", "--unlock", "--expiredate", "", name)
    if name in members("wheel"):
        run("gpasswd", "--delete", name, "wheel")
    sudoers = os.path.join(sudoers_dir, name)
    if os.path.exists(sudoers):
        os.remove(sudoers)
    ssh = os.path.join(entry[2], ".ssh")
    os.makedirs(ssh, mode=0o700, exist_ok=True)
    path = os.path.join(ssh, "authorized_keys")
    with open(path + ".new", "w") as handle:
        handle.write("".join(f"{key}\n" for key in keys))
    os.chmod(path + ".new", 0o600)
    os.replace(path + ".new", path)
    run("chown", "-R", f"{entry[0]}:{entry[1]}", ssh)

listed = {u["name"] for u in users}
for name in sorted(managed - listed):
    entry = account(name)
    if entry is not None:
        run("usermod", "--lock", "--expiredate", "1", name)
        keys = os.path.join(entry[2], ".ssh", "authorized_keys")
        if os.path.exists(keys):
            os.remove(keys)
    print(f"hpc-users: {name} is no longer listed: locked, keys removed, home kept")

os.makedirs(os.path.dirname(state_file), exist_ok=True)
with open(state_file, "w") as handle:
    handle.write("".join(f"{name}\n" for name in sorted(managed)))
print(f"hpc-users: {len(listed) - len(failed)} of {len(listed)} users in place")
sys.exit(1 if failed else 0)
PY
