#!/usr/bin/env python3
"""Refuse, before any AWS call, a config that still holds a value that cannot work on AWS.

    python scripts/deploy_check.py [CONFIG]      (default config/reference.yaml; `make deploy` runs it first)

Prints one line per value: the config key, the value, and how to get a real one; exit 1 when there is one,
0 when there is none, 2 when the file cannot be read. The values it knows, each documented as an example:
  - documentation-only address ranges in an allow-list: RFC 5737 (192.0.2.0/24, 198.51.100.0/24,
    203.0.113.0/24) and RFC 3849 (2001:db8::/32): no user connects from them;
  - the example account 111122223333 (AWS's documentation account) anywhere, an ARN included;
  - AMI IDs that AWS's documentation uses as examples (ami-0123456789abcdef0 and the like);
  - DataSync agent ARNs of the documentation's example agent (agent-0123456789abcdef0);
  - host names under the example domains of RFC 2606 (example.com, .net, .org, .example), and public keys whose
    comment is an address under them (the reference config's example user).
The local emulator (`make deploy-local`) accepts all of them; only an AWS deploy is refused.
"""

from __future__ import annotations

import ipaddress
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

DOCUMENTATION_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24",  # RFC 5737 (TEST-NET-1, -2, -3)
    "2001:db8::/32"))  # RFC 3849
EXAMPLE_ACCOUNT = "111122223333"
EXAMPLE_AMIS = frozenset({"ami-0123456789abcdef0", "ami-0abcdef1234567890", "ami-1234567890abcdef0", "ami-12345678",
                          "ami-0abcdef1234567890a"})
EXAMPLE_AGENT = re.compile(r"agent-0123456789abcdef0")
EXAMPLE_HOST = re.compile(r"(^|\.)example(\.(com|net|org))?$", re.IGNORECASE)
ALLOW_LISTS = ("allowed_cidrs",)
HOST_KEYS = ("server_hostname", "hostname", "host")

HOW = {
    "cidr": "your users' public address ranges (for one machine: curl -s https://checkip.amazonaws.com, then /32)",
    "account": "your account ID: aws sts get-caller-identity --query Account --output text",
    "ami": "an image the app builds (an `images:` entry named by the node kind's `image:`), or an AMI of your "
           "Region with what the nodes need (aws ec2 describe-images --owners self amazon ...)",
    "ami-slurm": "an image the app builds with the PCS agent and the cluster's Slurm version (an `images:` entry "
                 "with slurm_version, named by slurm.image; config/reference.yaml does so), or an AMI with them: aws "
                 "ec2 describe-images --owners amazon --filters 'Name=name,Values=aws-pcs-sample_ami-al2023-x86_64*' "
                 "'Name=description,Values=*<slurm_version>*' --query 'sort_by(Images,&CreationDate)[-1].ImageId'",
    "agent": "the ARN of a DataSync agent activated in your data centre (DataSync User Guide, 'Activating your "
             "AWS DataSync agent'; aws datasync list-agents)",
    "host": "the real DNS name or IP address of your server",
    "key": "your users' own public keys (the line of each person's ~/.ssh/id_ed25519.pub)",
}


def problems(config: Any) -> list[str]:
    """One line per value in `config` (the parsed YAML) that cannot work on AWS."""
    return [f"{key}: {value!r}: {why}; replace it with {HOW[how]}" for key, value, why, how in _findings(config, "")]


def _findings(value: Any, key: str) -> Iterator[tuple[str, Any, str, str]]:
    if isinstance(value, dict):
        for name, child in value.items():
            yield from _findings(child, f"{key}.{name}" if key else str(name))
        return
    if isinstance(value, list):
        for index, child in enumerate(value):
            yield from _findings(child, f"{key}[{index}]")
        return
    if not isinstance(value, str | int) or isinstance(value, bool):
        return
    found = _why(key, str(value))
    if found is not None:
        yield key, value, *found


def _why(key: str, text: str) -> tuple[str, str] | None:
    """Why the value at `key` cannot work, and which advice fits; None when it may. The first reason only."""
    leaf = re.sub(r"\[\d+\]$", "", key).rsplit(".", 1)[-1]
    if leaf in ALLOW_LISTS and _documentation_only(text):
        return "a documentation-only address range (RFC 5737 / RFC 3849): nobody connects from it", "cidr"
    if EXAMPLE_AGENT.search(text):
        return "the example DataSync agent of AWS's documentation: no such agent is activated", "agent"
    if EXAMPLE_ACCOUNT in text:
        return f"the example account {EXAMPLE_ACCOUNT} of AWS's documentation", "account"
    if text in EXAMPLE_AMIS:
        return "an example AMI ID of AWS's documentation", "ami-slurm" if key.startswith("slurm") else "ami"
    if leaf in HOST_KEYS and EXAMPLE_HOST.search(text):
        return "a host under an example domain (RFC 2606)", "host"
    if leaf == "public_keys" and len(text.split()) > 2 and EXAMPLE_HOST.search(text.split()[-1].rsplit("@", 1)[-1]):
        return "an example user's key (its comment is an address under an example domain, RFC 2606)", "key"
    return None


def _documentation_only(text: str) -> bool:
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return any(network.version == d.version and network.subnet_of(d) for d in DOCUMENTATION_NETWORKS)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0] if args else "config/reference.yaml")
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        print(f"deploy check: cannot read {path}: {error}", file=sys.stderr)
        return 2
    found = problems(config)
    if not found:
        return 0
    print(f"make deploy: {path} holds {len(found)} value(s) that cannot work on AWS (the local emulator accepts "
          "them; AWS does not):", file=sys.stderr)
    for line in found:
        print(f"  {line}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
