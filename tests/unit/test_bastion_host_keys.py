"""hpc-bastion-host-keys, run for real against a stub Secrets Manager (aws), ssh-keygen, install and systemctl.

The stub keeps the secret in files: `current` is the current value; each version is `token-<version id>`.
put-secret-value stores a version under its client request token (its version ID) and, like Secrets Manager,
refuses a different value under a token already used; get-secret-value --version-id reads one version.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from importlib import resources
from pathlib import Path

import pytest

from tests.support import install_stubs

STUBS = {
    "aws": r'''
store="$STUB_STORE"
case "$*" in
  *get-secret-value*)
    version=""
    while [ $# -gt 0 ]; do [ "$1" = --version-id ] && version="$2"; shift; done
    if [ -z "$version" ]; then cat "$store/current"
    elif [ -f "$store/token-$version" ]; then cat "$store/token-$version"
    else echo "ResourceNotFoundException: no version $version" >&2; exit 254; fi;;
  *put-secret-value*)
    token=""; file=""
    while [ $# -gt 0 ]; do
      case "$1" in --client-request-token) token="$2"; shift;; --secret-string) file="${2#file://}"; shift;; esac
      shift
    done
    if [ -f "$store/token-$token" ]; then
      cmp -s "$store/token-$token" "$file" && exit 0
      echo "ResourceExistsException: You can't modify an existing version" >&2; exit 254
    fi
    cp "$file" "$store/token-$token"; cp "$file" "$store/current";;
  *tag-resource*) echo "$*" >> "$store/tags";;
esac''',
    "ssh-keygen": 'f="${@: -1}"; echo "public-of-$(md5sum < "$f" | cut -c1-8)"',
    "install": 'eval "dst=\\${$#}"; src="${@: -2:1}"; cp "$src" "$dst"',
    "getent": "exit 0",
    "systemctl": "exit 0",
}


def _host(tmp_path: Path, name: str, keys: dict[str, bytes]) -> Path:
    ssh = tmp_path / name / "ssh"
    ssh.mkdir(parents=True)
    for key_type, body in keys.items():
        (ssh / f"ssh_host_{key_type}_key").write_bytes(body)
    return ssh


def _run(tmp_path: Path, ssh_dir: Path, store: Path) -> tuple[int, list[str], str]:
    bin_dir = tmp_path / "bin"
    log = tmp_path / "calls.log"
    install_stubs(bin_dir, log, STUBS)
    script = tmp_path / "hpc-bastion-host-keys"
    script.write_text(resources.files("hpc_constructs").joinpath("scripts/hpc-bastion-host-keys.sh").read_text())
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "STUB_STORE": str(store),
           "HPC_SSH_DIR": str(ssh_dir), "TOKEN": TOKEN}
    secret = "arn:aws:secretsmanager:us-east-1:111122223333:secret:keys"
    result = subprocess.run(["bash", str(script), secret, "us-east-1"], env=env, capture_output=True, text=True,
                            timeout=30)
    calls = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return result.returncode, calls, result.stdout + result.stderr


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "secret"
    path.mkdir()
    (path / "current").write_text("Xq3!placeholder-from-GenerateSecretString")
    return path


TOKEN = "hpc-constructs-bastion-host-keys-version-1"
FIRST = {"ed25519": b"first-ed25519\n", "ecdsa": b"first-ecdsa\n", "rsa": b"first-rsa\n"}
SECOND = {"ed25519": b"second-ed25519\n", "ecdsa": b"second-ecdsa\n", "rsa": b"second-rsa\n"}


def _restarts(calls: list[str]) -> list[str]:
    return [c for c in calls if c.startswith("systemctl restart")]


def test_the_first_bastion_stores_its_keys_and_keeps_them(tmp_path: Path, store: Path) -> None:
    ssh = _host(tmp_path, "first", FIRST)
    code, calls, output = _run(tmp_path, ssh, store)
    assert code == 0, output
    stored = json.loads((store / f"token-{TOKEN}").read_text())
    assert {k: base64.b64decode(v) for k, v in stored.items()} == {f"ssh_host_{t}_key": b for t, b in FIRST.items()}
    assert not _restarts(calls), "its own keys are already in place"


def test_a_later_bastion_installs_the_group_keys_and_restarts_sshd(tmp_path: Path, store: Path) -> None:
    _run(tmp_path, _host(tmp_path, "first", FIRST), store)
    second = _host(tmp_path, "second", SECOND)
    code, calls, output = _run(tmp_path, second, store)
    assert code == 0, output
    for key_type, body in FIRST.items():
        assert (second / f"ssh_host_{key_type}_key").read_bytes() == body
        assert (second / f"ssh_host_{key_type}_key.pub").read_text().startswith("public-of-")
    assert _restarts(calls) == ["systemctl restart sshd"]
    assert not [c for c in calls if "put-secret-value" in c], "the secret already held keys"


def test_the_loser_of_a_boot_race_installs_the_winners_keys(tmp_path: Path, store: Path) -> None:
    """Both saw the placeholder; the winner stored first under the shared token, so the loser's put fails."""
    winner = json.dumps({f"ssh_host_{t}_key": base64.b64encode(b).decode() for t, b in FIRST.items()})
    loser = _host(tmp_path, "loser", SECOND)
    aws = STUBS["aws"]
    # the loser's first read finds no version; the winner's put lands just before the loser's
    STUBS["aws"] = aws.replace('token=""; file=""', f"[ -f \"$store/raced\" ] || {{ touch \"$store/raced\"; "
                               f"echo '{winner}' > \"$store/token-$TOKEN\"; }}; token=\"\"; file=\"\"")
    try:
        code, calls, output = _run(tmp_path, loser, store)
    finally:
        STUBS["aws"] = aws
    assert code == 0, output
    assert "another bastion stored the group's host keys first" in output
    assert (loser / "ssh_host_ed25519_key").read_bytes() == FIRST["ed25519"]
    assert _restarts(calls) == ["systemctl restart sshd"]


def test_a_new_current_value_does_not_lose_the_group_identity(tmp_path: Path, store: Path) -> None:
    """CloudFormation (or anyone) writing a new current value leaves the group's version, which never changes."""
    _run(tmp_path, _host(tmp_path, "first", FIRST), store)
    (store / "current").write_text("a new placeholder from CloudFormation")
    second = _host(tmp_path, "second", SECOND)
    code, _, output = _run(tmp_path, second, store)
    assert code == 0, output
    assert (second / "ssh_host_rsa_key").read_bytes() == FIRST["rsa"]


def test_the_secret_is_tagged_with_its_generation_once_the_keys_exist(tmp_path: Path, store: Path) -> None:
    """The tag turns on the resource policy's deny of PutSecretValue: no bastion can write host keys afterwards."""
    code, calls, out = _run(tmp_path, _host(tmp_path, "a", FIRST), store)
    assert code == 0, out
    tag = [c for c in calls if "tag-resource" in c]
    assert tag == ["aws --region us-east-1 secretsmanager tag-resource --secret-id "
                   "arn:aws:secretsmanager:us-east-1:111122223333:secret:keys --tags "
                   "Key=hpc-host-keys-generation,Value=1"]
    assert calls.index(tag[0]) > max(i for i, c in enumerate(calls) if "put-secret-value" in c)


def test_a_new_generation_stores_new_keys_under_its_own_version(tmp_path: Path, store: Path) -> None:
    _run(tmp_path, _host(tmp_path, "a", FIRST), store)
    bin_dir = tmp_path / "bin"
    script = tmp_path / "hpc-bastion-host-keys"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "STUB_STORE": str(store),
           "HPC_SSH_DIR": str(_host(tmp_path, "b", SECOND))}
    result = subprocess.run(["bash", str(script), "arn:aws:secretsmanager:us-east-1:111122223333:secret:keys",
                             "us-east-1", "2"], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert (store / "token-hpc-constructs-bastion-host-keys-version-2").exists()
    assert "Value=2" in (store / "tags").read_text().splitlines()[-1]


def test_a_rerun_changes_nothing(tmp_path: Path, store: Path) -> None:
    _run(tmp_path, _host(tmp_path, "first", FIRST), store)
    second = _host(tmp_path, "second", SECOND)
    _run(tmp_path, second, store)
    code, calls, _ = _run(tmp_path, second, store)
    assert code == 0 and not _restarts(calls)


def test_key_material_never_appears_on_a_command_line(tmp_path: Path, store: Path) -> None:
    _, calls, _ = _run(tmp_path, _host(tmp_path, "first", FIRST), store)
    secrets = [base64.b64encode(b).decode() for b in FIRST.values()] + [b.decode().strip() for b in FIRST.values()]
    assert [c for c in calls if "put-secret-value" in c and "file://" in c]
    assert not [c for c in calls for s in secrets if s in c]


def test_a_secret_that_cannot_be_written_fails_the_step(tmp_path: Path, store: Path) -> None:
    aws = STUBS["aws"]
    STUBS["aws"] = aws.replace('token=""', 'echo AccessDeniedException >&2; exit 254; token=""')
    try:
        code, _, output = _run(tmp_path, _host(tmp_path, "first", FIRST), store)
    finally:
        STUBS["aws"] = aws
    assert code != 0 and "holds no host keys" in output


def test_a_host_without_an_ed25519_key_fails_rather_than_sharing_nothing(tmp_path: Path, store: Path) -> None:
    code, _, output = _run(tmp_path, _host(tmp_path, "first", {"rsa": b"rsa\n"}), store)
    assert code != 0 and "ssh_host_ed25519_key" in output
