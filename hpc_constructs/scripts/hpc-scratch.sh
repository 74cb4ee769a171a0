#!/bin/bash
# hpc-scratch: stripe every NVMe instance-store disk as RAID0 and mount the result at /scratch.
# Runs at every boot (systemd unit hpc-scratch.service) and is idempotent:
#  - already mounted: nothing to do;
#  - after a reboot the disks keep their data: the array (whatever name the kernel gave it when it
#    assembled it at boot) is found, or re-assembled, and mounted as it was;
#  - after a stop/start the disks are new and blank: the array and file system are made again.
# Disks are found by their NVMe model, never by a fixed count or device name: EBS volumes are NVMe
# devices too on Nitro instances, and the count differs between instance types of one fleet.
set -euo pipefail

MOUNT_POINT="${HPC_SCRATCH_MOUNT_POINT:-/scratch}"
ARRAY="${HPC_SCRATCH_ARRAY:-/dev/md/hpc-scratch}"
MODEL="Amazon EC2 NVMe Instance Storage"

mapfile -t DISKS < <(lsblk --nodeps --noheadings --paths --output NAME,MODEL | awk -v m="$MODEL" 'index($0, m) {print $1}' | sort)
if [ "${#DISKS[@]}" -eq 0 ]; then
  echo "hpc-scratch: no NVMe instance-store disks on this instance"
  exit 0
fi
if mountpoint -q "$MOUNT_POINT"; then
  echo "hpc-scratch: $MOUNT_POINT already mounted"
  exit 0
fi
mkdir -p "$MOUNT_POINT"

if [ "${#DISKS[@]}" -eq 1 ]; then
  TARGET="${DISKS[0]}"
else
  # An array the kernel already assembled from these disks, under any name (md127 after a reboot).
  TARGET=$(lsblk --noheadings --paths --raw --output NAME,TYPE "${DISKS[0]}" | awk '$2 ~ /^raid/ {print $1; exit}')
  if [ -z "$TARGET" ]; then
    [ -e "$ARRAY" ] || mdadm --assemble "$ARRAY" "${DISKS[@]}" >/dev/null 2>&1 || true
    if [ ! -e "$ARRAY" ]; then
      mdadm --create "$ARRAY" --name=hpc-scratch --homehost=any --run --level=0 --chunk=256 \
        --raid-devices="${#DISKS[@]}" "${DISKS[@]}"
    fi
    TARGET="$ARRAY"
  fi
fi

blkid "$TARGET" >/dev/null 2>&1 || mkfs.xfs -f -K -L hpc-scratch "$TARGET"
mount -o noatime,nodiratime "$TARGET" "$MOUNT_POINT"
chmod 1777 "$MOUNT_POINT"
echo "hpc-scratch: ${#DISKS[@]} disk(s) mounted at $MOUNT_POINT ($TARGET)"
