"""The rules behind SshUsers, as pure functions of plain values (no CDK).

`plan_ssh_users` checks each user (a POSIX name that is not a system account, public keys OpenSSH accepts, a
UID in the range the library gives out) and returns the document the nodes sync from: a JSON list of
{"name", "uid", "keys"}, small enough for one SSM parameter.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from hpc_constructs.errors import ConfigError

# useradd(8): "Usernames may contain only lower and upper case letters, digits, underscores, or dashes. They can end
# with a dollar sign. Dashes are not allowed at the beginning"; 32 characters at most (Linux utmp). The library
# keeps to lower case, the portable subset (POSIX portable filename characters, no leading dash).
USER_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
# Accounts an image or a service already owns: a sync must never take them over.
RESERVED_NAMES = frozenset({
    "root", "bin", "daemon", "adm", "lp", "sync", "shutdown", "halt", "mail", "operator", "games", "ftp", "nobody",
    "ec2-user", "ssm-user", "ec2-instance-connect", "sshd", "chrony", "systemd-network", "systemd-resolve",
    "dbus", "tss", "rpc", "rpcuser", "slurm", "munge", "cwagent", "ecs", "docker", "admin", "ubuntu", "rocky",
})
# UIDs the library gives out when none is given: a stable hash of the name in this range (the same on every node,
# so that files on the shared file systems and Slurm jobs keep their owner), above the images' own users.
UID_RANGE = (20_000, 59_999)
KEY_TYPES = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa",
             "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com")
MIN_RSA_BITS = 3072  # NIST SP 800-57 Part 1: RSA below 3072 bits falls short of 128-bit security
# SSM PutParameter Value: "Standard parameters have a value limit of 4 KB. Advanced parameters have a value limit of
# 8 KB." (SSM API reference). Past 8 KB a directory service is the tool, not a parameter.
STANDARD_PARAMETER_BYTES = 4_096
ADVANCED_PARAMETER_BYTES = 8_192


@dataclass(frozen=True)
class SshUser:
    """A person who may SSH in: a user name, their public keys (OpenSSH authorized_keys lines), and a UID.

    uid: None derives a stable UID from the name (20,000-59,999), the same on every node; give one to match an
    existing directory.
    """

    name: str
    public_keys: Sequence[str]
    uid: int | None = None


@dataclass(frozen=True, slots=True)
class SshUsersPlan:
    users: tuple[tuple[str, int, tuple[str, ...]], ...]  # (name, uid, keys)
    document: str  # what the SSM parameter holds
    tier: str  # "Standard" or "Advanced"


def plan_ssh_users(path: str, users: Sequence[SshUser]) -> SshUsersPlan:
    """Check every user; the parameter's document and tier. Rules, in order: a sequence of SshUser; each name a
    POSIX user name, not a system account, once; at least one key each, of a type OpenSSH accepts, whose blob
    names that type, RSA of at least 3,072 bits; UIDs within the range and unique; the document within 8 KB."""
    if isinstance(users, SshUser | str):
        raise ConfigError(path, "users", users, "a sequence of SshUser", hint="users=[SshUser(...), ...]")
    planned: list[tuple[str, int, tuple[str, ...]]] = []
    for index, user in enumerate(users):
        if not isinstance(user, SshUser):
            raise ConfigError(path, f"users[{index}]", user, "an SshUser(name, public_keys)")
        where = f"{path}/{user.name}"
        if not isinstance(user.name, str) or not USER_NAME.fullmatch(user.name):
            raise ConfigError(path, "users.name", user.name, "a user name of 1-32 lower-case letters, digits, _ "
                              "and -, starting with a letter or _", hint="useradd(8)'s portable subset.")
        if user.name in RESERVED_NAMES:
            raise ConfigError(path, "users.name", user.name, "a name no image or service uses",
                              hint=f"{user.name} belongs to the system; a sync must not take it over.")
        if user.name in [p[0] for p in planned]:
            raise ConfigError(path, "users.name", user.name, "each user once")
        keys = user.public_keys
        if isinstance(keys, str) or not keys:
            raise ConfigError(where, "public_keys", keys, "a list of one or more public keys",
                              hint='public_keys=["ssh-ed25519 AAAA... you@laptop"] (the .pub file\'s line)')
        planned.append((user.name, _uid(where, user), tuple(check_public_key(where, key) for key in keys)))
    taken: dict[int, str] = {}
    for name, uid, _ in planned:
        if uid in taken:
            raise ConfigError(f"{path}/{name}", "uid", uid, f"a UID no other user has ({taken[uid]} has it)",
                              hint="Give one of them an explicit uid=.")
        taken[uid] = name
    document = json.dumps([{"name": n, "uid": u, "keys": list(k)} for n, u, k in planned], separators=(",", ":"))
    size = len(document.encode())
    if size > ADVANCED_PARAMETER_BYTES:
        raise ConfigError(path, "users", f"{len(planned)} users ({size:,} bytes)",
                          f"at most {ADVANCED_PARAMETER_BYTES:,} bytes of users and keys (an advanced SSM parameter)",
                          hint="That many users belong in a directory (AWS Directory Service with SSSD on the "
                               "nodes); ed25519 keys take a tenth of the room RSA keys take.")
    return SshUsersPlan(tuple(planned), document, "Standard" if size <= STANDARD_PARAMETER_BYTES else "Advanced")


def derived_uid(name: str) -> int:
    """The UID a name gets when none is given: stable across nodes, deploys and the order of the list."""
    low, high = UID_RANGE
    return low + int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % (high - low + 1)


def _uid(where: str, user: SshUser) -> int:
    if user.uid is None:
        return derived_uid(user.name)
    low, high = UID_RANGE
    if not isinstance(user.uid, int) or isinstance(user.uid, bool) or not 1_000 <= user.uid <= 4_294_967_294:
        raise ConfigError(where, "uid", user.uid, "a UID from 1,000 to 4,294,967,294",
                          hint=f"Below 1,000 belongs to the system; None derives one in {low:,}-{high:,}.")
    return user.uid


def check_public_key(where: str, line: object) -> str:
    """One authorized_keys line: a key type OpenSSH accepts, its base64 blob (whose first field names the same
    type), an optional comment; RSA keys of at least 3,072 bits. Returns the line, stripped."""
    if not isinstance(line, str) or "\n" in line.strip():
        raise ConfigError(where, "public_keys", line, "one OpenSSH public key line")
    parts = line.strip().split()
    if len(parts) < 2 or parts[0] not in KEY_TYPES:
        raise ConfigError(where, "public_keys", line[:60], f"a key of type {', '.join(KEY_TYPES)}",
                          hint="The line of the .pub file (ssh-keygen -t ed25519), not the private key; no options.")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(where, "public_keys", parts[1][:40], "a base64 key blob") from None
    fields = _ssh_strings(blob)
    if not fields or fields[0] != parts[0].encode():
        raise ConfigError(where, "public_keys", line[:60], f"a {parts[0]} key whose blob says {parts[0]}",
                          hint="The key's type and its blob disagree: copy the whole line of the .pub file.")
    if parts[0] == "ssh-rsa":
        bits = (len(fields[2].lstrip(b"\x00")) * 8) if len(fields) >= 3 else 0
        if bits < MIN_RSA_BITS:
            raise ConfigError(where, "public_keys", f"ssh-rsa ({bits} bits)", f"RSA of at least {MIN_RSA_BITS} bits",
                              hint="ssh-keygen -t ed25519 makes a short, strong key.")
    return " ".join(parts)


def _ssh_strings(blob: bytes) -> list[bytes]:
    """The length-prefixed strings of an SSH public key blob (RFC 4253, section 6.6); [] when malformed."""
    fields: list[bytes] = []
    offset = 0
    while offset < len(blob):
        if offset + 4 > len(blob):
            return []
        (length,) = struct.unpack(">I", blob[offset:offset + 4])
        offset += 4
        if offset + length > len(blob):
            return []
        fields.append(blob[offset:offset + length])
        offset += length
    return fields
