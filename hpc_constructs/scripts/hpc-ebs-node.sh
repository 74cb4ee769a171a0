#!/bin/bash
# hpc-ebs-node DEVICE MOUNT_POINT: format (only if blank) and mount a node's own EBS volume.
# The volume comes from the launch template's block device mappings (EbsSpec attach="per_node") under
# the name DEVICE (/dev/sdf, ...). On Nitro instances EBS volumes are NVMe devices whose kernel names
# (nvme1n1, ...) do not follow the mapping, so the device is found by the mapping name that EBS
# stores in the NVMe controller's vendor data: Amazon Linux's udev rules (amazon-ec2-utils) turn it
# into a /dev/sdf link, and ebsnvme-id reads it where the link is missing.
# Runs at every boot (hpc-ebs-node-<name>.service) and is idempotent: already mounted, nothing to do;
# a file system on the volume (after a reboot or a stop/start), mounted as it is; blank, formatted.
set -euo pipefail

DEVICE="$1"
MOUNT_POINT="$2"
FSTAB="${HPC_FSTAB:-/etc/fstab}"
DEV_DIR="${HPC_DEV_DIR:-/dev}"

if mountpoint -q "$MOUNT_POINT"; then
  echo "hpc-ebs-node: $MOUNT_POINT already mounted"
  exit 0
fi
WANT="${DEVICE##*/}"  # sdf
find_device() {
  local link="$DEV_DIR/$WANT" dev name
  if [ -e "$link" ]; then readlink -f "$link"; return 0; fi
  for dev in "$DEV_DIR"/nvme*n1; do
    [ -e "$dev" ] || continue
    name=$(ebsnvme-id --block-dev "$dev" 2>/dev/null || true)
    name="${name##*/}"
    if [ "$name" = "$WANT" ] || [ "$name" = "xvd${WANT#sd}" ]; then echo "$dev"; return 0; fi
  done
  return 1
}
udevadm settle --timeout=60 || true
TARGET=""
for _ in $(seq 1 30); do
  TARGET=$(find_device) && break
  sleep "${HPC_WAIT_SECONDS:-2}"
done
[ -n "$TARGET" ] || { echo "hpc-ebs-node: no EBS volume mapped as $DEVICE on this node" >&2; exit 1; }

# blkid -p exit codes: 0 a signature was found, 2 nothing was found (blank), anything else: unknown.
status=0
blkid -p "$TARGET" >/dev/null 2>&1 || status=$?
case "$status" in
  0) ;;
  2) mkfs.xfs "$TARGET" ;;  # blank; no -f: mkfs.xfs itself refuses to overwrite
  *) echo "hpc-ebs-node: blkid -p could not read $TARGET (exit $status); not formatting it" >&2; exit 1 ;;
esac
mkdir -p "$MOUNT_POINT"
UUID=$(blkid -s UUID -o value "$TARGET")
grep -qs "UUID=$UUID " "$FSTAB" \
  || echo "UUID=$UUID $MOUNT_POINT xfs defaults,noatime,nofail,x-systemd.device-timeout=30s 0 2" >> "$FSTAB"
mount "$MOUNT_POINT"
echo "hpc-ebs-node: $DEVICE ($TARGET) mounted at $MOUNT_POINT"
