"""SshUsers: the people who may SSH in. The plan's rules (pure), the construct's parameter and grants, every node
kind that takes them, and hpc-users run for real against stub useradd, getent, usermod, gpasswd, chown and aws."""

from __future__ import annotations

import base64
import json
import os
import struct
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template
from hypothesis import given
from hypothesis import strategies as st

from hpc_constructs import (
    ComputeFleet,
    ConfigError,
    HaBastion,
    HpcNetwork,
    NodeGroupSpec,
    SlurmCluster,
    SshUser,
    SshUsers,
    boot,
)
from hpc_constructs.ssh_users_plan import (
    RESERVED_NAMES,
    STANDARD_PARAMETER_BYTES,
    UID_RANGE,
    check_public_key,
    derived_uid,
    plan_ssh_users,
)
from tests.support import install_stubs, new_stack

PATH = "Test/Users"
ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBtzpnlOYINfuM7Z9YA5AY525lPWi1R5o4/5GDUbOlUY alice@laptop"


def _rsa(bits: int) -> str:
    def field(data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + data
    blob = field(b"ssh-rsa") + field(b"\x01\x00\x01") + field(b"\x00" + b"\xc3" * (bits // 8 - 1) + b"\x01")
    return "ssh-rsa " + base64.b64encode(blob).decode() + " bob@desk"


# -- the plan's rules -----------------------------------------------------------------------------------------

def test_a_user_gets_a_stable_uid_and_the_document_lists_name_uid_keys() -> None:
    plan = plan_ssh_users(PATH, [SshUser("alice", [ED25519]), SshUser("bob", [_rsa(4096)], uid=5001)])
    assert [(n, u) for n, u, _ in plan.users] == [("alice", derived_uid("alice")), ("bob", 5001)]
    assert json.loads(plan.document)[0] == {"name": "alice", "uid": derived_uid("alice"), "keys": [ED25519]}
    assert plan.tier == "Standard"
    # the same UID whatever the order of the list
    assert plan_ssh_users(PATH, [SshUser("bob", [ED25519]), SshUser("alice", [ED25519])]).users[1][1] == \
        derived_uid("alice")


@given(st.from_regex(r"[a-z_][a-z0-9_-]{0,31}", fullmatch=True))
def test_derived_uids_stay_in_the_range(name: str) -> None:
    low, high = UID_RANGE
    assert low <= derived_uid(name) <= high


@pytest.mark.parametrize("name", ["Alice", "-bob", "a" * 33, "al ice", "", "1abc".upper()])
def test_user_names_are_posix_names(name: str) -> None:
    with pytest.raises(ConfigError, match="users.name"):
        plan_ssh_users(PATH, [SshUser(name, [ED25519])])


@pytest.mark.parametrize("name", [*sorted(RESERVED_NAMES)[:6], "ec2-user", "root", "slurm"])
def test_system_accounts_are_never_taken_over(name: str) -> None:
    with pytest.raises(ConfigError, match="a name no image or service uses"):
        plan_ssh_users(PATH, [SshUser(name, [ED25519])])


@pytest.mark.parametrize(("key", "says"), [
    ("", "one OpenSSH public key line|a key of type"),
    ("ssh-dss AAAAB3NzaC1kc3M= x", "a key of type"),
    ("ssh-ed25519 not-base64!", "a base64 key blob"),
    ("ssh-rsa " + ED25519.split()[1], "whose blob says ssh-rsa"),
    (_rsa(2048), "RSA of at least 3072 bits"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----", "a key of type"),
])
def test_keys_are_public_keys_openssh_accepts(key: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        check_public_key(PATH, key)


def test_rsa_of_3072_bits_is_accepted() -> None:
    assert check_public_key(PATH, _rsa(3072)).startswith("ssh-rsa ")


def test_duplicates_and_shapes_are_refused() -> None:
    with pytest.raises(ConfigError, match="each user once"):
        plan_ssh_users(PATH, [SshUser("alice", [ED25519]), SshUser("alice", [ED25519])])
    with pytest.raises(ConfigError, match="a UID no other user has"):
        plan_ssh_users(PATH, [SshUser("alice", [ED25519], uid=5000), SshUser("bob", [ED25519], uid=5000)])
    with pytest.raises(ConfigError, match="a list of one or more public keys"):
        plan_ssh_users(PATH, [SshUser("alice", ED25519)])
    with pytest.raises(ConfigError, match="a sequence of SshUser"):
        plan_ssh_users(PATH, SshUser("alice", [ED25519]))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="UID from 1,000"):
        plan_ssh_users(PATH, [SshUser("alice", [ED25519], uid=0)])


def test_the_list_fits_an_ssm_parameter_or_is_refused() -> None:
    many = [SshUser(f"user{i}", [_rsa(4096)]) for i in range(12)]
    assert plan_ssh_users(PATH, many[:6]).tier == "Advanced"  # over 4 KB, within 8 KB
    assert len(plan_ssh_users(PATH, many[:5]).document) <= STANDARD_PARAMETER_BYTES < len(
        plan_ssh_users(PATH, many[:6]).document)
    with pytest.raises(ConfigError, match="at most 8,192 bytes"):
        plan_ssh_users(PATH, many)


# -- the construct and the node kinds -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def built() -> dict[str, Any]:
    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    users = SshUsers(stack, "Users", users=[SshUser("alice", [ED25519])])
    bastion = HaBastion(stack, "Bastion", vpc=network.vpc, allowed_cidrs=["198.51.101.0/24"], ssh_users=users)
    fleet = ComputeFleet(stack, "Fleet", vpc=network.vpc, instance_types=["c7i.large"], ssh_users=users)
    slurm = SlurmCluster(stack, "Slurm", vpc=network.vpc, slurm_version="26.05", ami_id="ami-0f1e2d3c4b5a69788",
                         node_groups=[NodeGroupSpec("cpu", ["c7i.large"])], ssh_users=users)
    return {"stack": stack, "users": users, "bastion": bastion, "fleet": fleet, "slurm": slurm,
            "template": Template.from_stack(stack).to_json()}


def test_the_list_is_one_ssm_parameter(built: dict[str, Any]) -> None:
    (parameter,) = [r for r in built["template"]["Resources"].values() if r["Type"] == "AWS::SSM::Parameter"]
    assert json.loads(parameter["Properties"]["Value"]) == [
        {"name": "alice", "uid": derived_uid("alice"), "keys": [ED25519]}]
    assert parameter["Properties"]["Tier"] == "Standard"


def test_every_node_kind_syncs_the_users_and_may_read_only_that_parameter(built: dict[str, Any]) -> None:
    stack, template = built["stack"], built["template"]
    parameter = stack.resolve(built["users"].parameter.parameter_arn)
    roles = {"bastion": built["bastion"].role, "fleet": built["fleet"].role, "slurm": built["slurm"].node_role}
    policies = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Policy"]
    for kind, role in roles.items():
        role_ref = stack.resolve(role.role_name)
        statements = [s for p in policies if role_ref in p["Roles"] for s in p["PolicyDocument"]["Statement"]]
        assert {"Action": "ssm:GetParameter", "Effect": "Allow", "Resource": parameter} in statements, kind
    texts = [json.dumps(r["Properties"]["LaunchTemplateData"]["UserData"]) for r in template["Resources"].values()
             if r["Type"] == "AWS::EC2::LaunchTemplate"]
    assert len(texts) == 3  # the bastions, the fleet, the Slurm node group
    for text in texts:
        assert "hpc_step 'SSH users' systemctl start hpc-users.service" in text
        assert "systemctl enable --now hpc-users.timer" in text
        assert "OnUnitActiveSec=300" in text


def test_wrong_kinds_get_a_config_error() -> None:
    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    with pytest.raises(ConfigError, match="ssh_users"):
        ComputeFleet(stack, "F", vpc=network.vpc, instance_types=["c7i.large"], ssh_users=["alice"])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="sync_minutes"):
        SshUsers(stack, "U", users=[SshUser("alice", [ED25519])], sync_minutes=0)


# -- hpc-users on a node -------------------------------------------------------------------------------------

STUBS = {
    "aws": 'cat "$STUB_USERS"',
    # getent passwd NAME / getent group NAME from the stub files
    "getent": 'grep -E "^$2:" "$STUB_DIR/$1" || exit 2',
    # useradd --uid UID ... --home-dir HOME ... NAME: an entry in the stub passwd file, and the home
    "useradd": 'uid="$2"; home="$6"; name="${@: -1}"; echo "$name:x:$uid:$uid::$home:/bin/bash" >> "$STUB_DIR/passwd"; '
               'mkdir -p "$home"',
    "usermod": "exit 0",
    "gpasswd": "exit 0",
    "chown": "exit 0",
}


def _sync(tmp_path: Path, users: list[dict[str, Any]], *, passwd: str = "", group: str = "wheel:x:10:\n"
          ) -> tuple[int, list[str], str]:
    bin_dir, log, stubs = tmp_path / "bin", tmp_path / "calls.log", tmp_path / "stubs"
    install_stubs(bin_dir, log, STUBS)
    stubs.mkdir(exist_ok=True)
    (stubs / "passwd").open("a").write(passwd)
    (stubs / "group").write_text(group)
    (tmp_path / "users.json").write_text(json.dumps(users))
    (tmp_path / "sudoers").mkdir(exist_ok=True)
    script = tmp_path / "hpc-users"
    script.write_text(resources.files("hpc_constructs").joinpath("scripts/hpc-users.sh").read_text())
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "STUB_USERS": str(tmp_path / "users.json"), "STUB_DIR": str(stubs),
           "HPC_HOME_BASE": str(tmp_path / "home"), "HPC_USERS_STATE": str(tmp_path / "state"),
           "HPC_SUDOERS_DIR": str(tmp_path / "sudoers")}
    result = subprocess.run(["bash", str(script), "/hpc/users", "us-east-1"], env=env, capture_output=True, text=True,
                            timeout=60)
    calls = log.read_text().splitlines() if log.exists() else []
    return result.returncode, calls, result.stdout + result.stderr


def test_a_listed_user_gets_an_account_and_exactly_the_listed_keys(tmp_path: Path) -> None:
    code, calls, out = _sync(tmp_path, [{"name": "alice", "uid": 41234, "keys": [ED25519]}])
    assert code == 0, out
    assert f"useradd --uid 41234 --user-group --create-home --home-dir {tmp_path}/home/alice --shell /bin/bash " \
           "alice" in calls
    keys = tmp_path / "home" / "alice" / ".ssh" / "authorized_keys"
    assert keys.read_text() == ED25519 + "\n" and oct(os.stat(keys).st_mode & 0o777) == "0o600"
    assert (tmp_path / "state").read_text() == "alice\n"
    assert not [c for c in calls if c.startswith("gpasswd")]  # not in wheel: nothing to remove


def test_no_user_of_the_list_is_an_administrator(tmp_path: Path) -> None:
    (tmp_path / "sudoers").mkdir()
    (tmp_path / "sudoers" / "alice").write_text("alice ALL=(ALL) NOPASSWD: ALL\n")
    code, calls, _ = _sync(tmp_path, [{"name": "alice", "uid": 41234, "keys": [ED25519]}],
                           group="wheel:x:10:ec2-user,alice\n")
    assert code == 0
    assert "gpasswd --delete alice wheel" in calls
    assert not (tmp_path / "sudoers" / "alice").exists()


def test_a_user_dropped_from_the_list_is_locked_and_loses_its_keys(tmp_path: Path) -> None:
    _sync(tmp_path, [{"name": "alice", "uid": 41234, "keys": [ED25519]}])
    code, calls, out = _sync(tmp_path, [])
    assert code == 0, out
    assert "usermod --lock --expiredate 1 alice" in calls
    assert not (tmp_path / "home" / "alice" / ".ssh" / "authorized_keys").exists()
    assert (tmp_path / "home" / "alice").is_dir()  # the home (the user's data) stays


def test_an_account_the_sync_did_not_make_is_never_touched(tmp_path: Path) -> None:
    code, calls, out = _sync(tmp_path, [{"name": "ec2-user", "uid": 41234, "keys": [ED25519]}],
                             passwd=f"ec2-user:x:1000:1000::{tmp_path}/ec2:/bin/bash\n")
    assert code == 1 and "exists and is not ours" in out
    assert not [c for c in calls if c.split()[0] in ("useradd", "usermod", "chown")]


def test_the_script_is_packed_into_user_data() -> None:
    lines = boot.install_boot_script("hpc-users")
    assert "hpc-users" in boot.packed_scripts("\n".join(lines) + "\n")
