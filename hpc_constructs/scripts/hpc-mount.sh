#!/bin/bash
# hpc-mount MOUNT_POINT FSTYPE: mount a file system that /etc/fstab describes, with retries.
# Used at first boot for the network file systems (Lustre, EFS). Their fstab entries carry
# _netdev and x-systemd.automount, so at every later boot systemd mounts them on first access, and
# retries at every access after a failure; this script makes the first mount happen now, through the
# same systemd mount unit (and so with its x-systemd.requires set-up units), and fails loudly if the
# file system is still not mounted after the last attempt.
set -euo pipefail

MOUNT_POINT="$1"
FSTYPE="$2"
ATTEMPTS="${HPC_MOUNT_ATTEMPTS:-6}"
PAUSE="${HPC_WAIT_SECONDS:-10}"

mounted() { findmnt -rn -o FSTYPE --mountpoint "$MOUNT_POINT" 2>/dev/null | grep -qx "$FSTYPE"; }

mkdir -p "$MOUNT_POINT"
UNIT=$(systemd-escape --path --suffix=mount "$MOUNT_POINT")
systemctl daemon-reload
for attempt in $(seq 1 "$ATTEMPTS"); do
  if mounted; then
    echo "hpc-mount: $MOUNT_POINT mounted ($FSTYPE)"
    exit 0
  fi
  systemctl start "$UNIT" || echo "hpc-mount: attempt $attempt of $ATTEMPTS to mount $MOUNT_POINT failed" >&2
  mounted && continue
  [ "$attempt" -lt "$ATTEMPTS" ] && sleep $((attempt * PAUSE))
done
if mounted; then
  echo "hpc-mount: $MOUNT_POINT mounted ($FSTYPE)"
  exit 0
fi
echo "hpc-mount: $MOUNT_POINT is not mounted after $ATTEMPTS attempts; systemd retries at the next access (journalctl -u $UNIT)" >&2
exit 1
