#!/bin/bash
# hpc-bastion-host-keys SECRET_ID REGION [GENERATION]: give this bastion the SSH host keys every bastion of its
# group shares (GENERATION, default 1: HaBastion's host_key_generation; a new one is a rotation).
#
# Behind one load balancer, each connection may land on any bastion. With a host key of its own per instance,
# users' ssh would refuse the second instance ("REMOTE HOST IDENTIFICATION HAS CHANGED"), and again after every
# replacement. So the group has one identity, kept in a Secrets Manager secret:
# - the group's keys are the secret's version whose ID is a fixed client request token;
# - the first instance finds no such version and stores its own host keys under that token. Secrets Manager
#   takes one value per token and refuses a different one ("You can't modify an existing version"), so exactly
#   one instance wins, even when several boot at once;
# - every instance then installs that version and restarts sshd when its keys changed.
# A version never changes once written, so a later PutSecretValue (by anyone) cannot swap the group's identity,
# and a new current value written over the secret (CloudFormation's placeholder, say) does not lose it.
# Once the group's version exists, the secret is tagged hpc-host-keys-generation=GENERATION: the secret's resource
# policy then denies PutSecretValue to everyone (write once per generation), so no bastion keeps the power to
# write host keys after the first one did.
# Run once, at first boot (user data); the keys stay on disk across reboots. Key material never appears on a
# command line (other users of the bastion could read it in ps): it goes through files readable by root only.
set -euo pipefail

secret="$1"
region="$2"
generation="${3:-1}"
ssh_dir="${HPC_SSH_DIR:-/etc/ssh}"
token="hpc-constructs-bastion-host-keys-version-$generation"
key_types=(ed25519 ecdsa rsa)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 0700 "$work"

fetch() {  # the group's version, if it exists
  aws --region "$region" secretsmanager get-secret-value --secret-id "$secret" --version-id "$token" \
    --query SecretString --output text > "$work/secret.json"
}

holds_keys() {
  python3 - "$work/secret.json" <<'PY'
import json, sys
try:
    value = json.load(open(sys.argv[1]))
except ValueError:
    sys.exit(1)
sys.exit(0 if isinstance(value, dict) and "ssh_host_ed25519_key" in value else 1)
PY
}

if ! { fetch 2> /dev/null && holds_keys; }; then
  python3 - "$ssh_dir" "$work/mine.json" "${key_types[@]}" <<'PY'
import base64, json, os, sys
ssh_dir, out, types = sys.argv[1], sys.argv[2], sys.argv[3:]
keys = {}
for t in types:
    path = os.path.join(ssh_dir, f"ssh_host_{t}_key")
    if os.path.exists(path):
        keys[f"ssh_host_{t}_key"] = base64.b64encode(open(path, "rb").read()).decode()
if "ssh_host_ed25519_key" not in keys:
    sys.exit(f"no {ssh_dir}/ssh_host_ed25519_key to share")
with open(out, "w") as f:
    json.dump(keys, f)
PY
  # Fails when another instance stored its keys first: then the secret holds theirs.
  if aws --region "$region" secretsmanager put-secret-value --secret-id "$secret" \
      --client-request-token "$token" --secret-string "file://$work/mine.json" > /dev/null; then
    echo "hpc-bastion-host-keys: stored this instance's host keys as the group's"
  else
    echo "hpc-bastion-host-keys: another bastion stored the group's host keys first"
  fi
  fetch && holds_keys || { echo "hpc-bastion-host-keys: the secret holds no host keys" >&2; exit 1; }
fi
# Write once: the tag turns on the resource policy's deny of PutSecretValue for this generation. A failure here
# leaves the keys usable (and the deny off): reported, never a reason to stop sshd.
aws --region "$region" secretsmanager tag-resource --secret-id "$secret" \
    --tags "Key=hpc-host-keys-generation,Value=$generation" > /dev/null \
  || echo "hpc-bastion-host-keys: could not tag the secret; PutSecretValue stays allowed until a bastion does" >&2

changed=$(python3 - "$work/secret.json" "$ssh_dir" "$work" <<'PY'
import base64, json, os, sys
value = json.load(open(sys.argv[1]))
ssh_dir, work = sys.argv[2], sys.argv[3]
changed = []
for name, blob in sorted(value.items()):
    if not (name.startswith("ssh_host_") and name.endswith("_key")) or "/" in name:
        continue
    key = base64.b64decode(blob)
    path = os.path.join(ssh_dir, name)
    if not os.path.exists(path) or open(path, "rb").read() != key:
        with open(os.path.join(work, name), "wb") as f:
            f.write(key)
        changed.append(name)
print(" ".join(changed))
PY
)
for name in $changed; do
  # Amazon Linux 2023: root:ssh_keys 0640; elsewhere sshd wants root 0600
  if getent group ssh_keys > /dev/null 2>&1; then
    install -m 0640 -o root -g ssh_keys "$work/$name" "$ssh_dir/$name"
  else
    install -m 0600 -o root -g root "$work/$name" "$ssh_dir/$name"
  fi
  ssh-keygen -y -f "$ssh_dir/$name" > "$ssh_dir/$name.pub"
  chmod 0644 "$ssh_dir/$name.pub"
done
if [ -n "$changed" ]; then
  systemctl restart sshd
  echo "hpc-bastion-host-keys: installed the group's host keys ($changed); sshd restarted"
else
  echo "hpc-bastion-host-keys: this bastion already has the group's host keys"
fi
