#!/bin/bash
# hpc-scratch: stripe every NVMe instance-store disk as RAID0 and mount the result at /scratch.
# Runs at every boot (systemd unit hpc-scratch.service) and is idempotent:
#  - already mounted: nothing to do;
#  - after a reboot the disks keep their data: the array (whatever name the kernel gave it when it
#    assembled it at boot) is found, or re-assembled, and mounted as it was;
#  - after a stop/start the disks are new and blank: the array and file system are made again.
# It never writes over data: an array is created only over disks that carry no signature at all (no
# md superblock, file system or partition table, as mdadm --examine and blkid -p see them), and a file
# system is made only on a device that blkid -p reports as blank. Anything else stops it with an error.
# Disks are found by their NVMe model, never by a fixed count or device name: EBS volumes are NVMe
# devices too on Nitro instances, and the count differs between instance types of one fleet.
set -euo pipefail

MOUNT_POINT="${HPC_SCRATCH_MOUNT_POINT:-/scratch}"
ARRAY="${HPC_SCRATCH_ARRAY:-/dev/md/hpc-scratch}"
MODEL="Amazon EC2 NVMe Instance Storage"

fail() { echo "hpc-scratch: $*" >&2; exit 1; }

# blkid -p exit codes: 0 a signature was found, 2 nothing was found (blank), anything else: unknown.
probe() {
  local status=0
  blkid -p "$1" >/dev/null 2>&1 || status=$?
  echo "$status"
}

# The disks' device nodes and their by-id links appear through udev: wait for it before looking.
udevadm settle --timeout=60 || true
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
    SUPERBLOCKS=()
    for disk in "${DISKS[@]}"; do
      if mdadm --examine "$disk" >/dev/null 2>&1; then SUPERBLOCKS+=("$disk"); fi
    done
    if [ "${#SUPERBLOCKS[@]}" -gt 0 ]; then
      # Our own array after a reboot that did not assemble it: assemble it, never create over it.
      [ -e "$ARRAY" ] || mdadm --assemble "$ARRAY" "${DISKS[@]}" >/dev/null 2>&1 \
        || fail "${SUPERBLOCKS[*]} carry an md superblock but do not assemble as one array of ${DISKS[*]}; not touching them"
    else
      for disk in "${DISKS[@]}"; do
        [ "$(probe "$disk")" = 2 ] || fail "$disk is not blank (blkid -p found a signature, or could not read it); not creating an array over it"
        parts=$(lsblk --noheadings --paths --raw --output NAME "$disk" | tail -n +2)
        [ -z "$parts" ] || fail "$disk has partitions ($parts); not creating an array over it"
      done
      mdadm --create "$ARRAY" --name=hpc-scratch --homehost=any --run --level=0 --chunk=256 \
        --raid-devices="${#DISKS[@]}" "${DISKS[@]}"
      udevadm settle --timeout=60 || true
    fi
    TARGET="$ARRAY"
  fi
fi

case "$(probe "$TARGET")" in
  0) ;;  # a file system (ours, from before a reboot): mount it as it is
  2) mkfs.xfs -K -L hpc-scratch "$TARGET" ;;  # blank; no -f: mkfs.xfs itself refuses to overwrite
  *) fail "blkid -p could not read $TARGET; not formatting it" ;;
esac
mount -o noatime,nodiratime "$TARGET" "$MOUNT_POINT"
chmod 1777 "$MOUNT_POINT"
echo "hpc-scratch: ${#DISKS[@]} disk(s) mounted at $MOUNT_POINT ($TARGET)"
