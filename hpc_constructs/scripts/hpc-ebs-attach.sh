#!/bin/bash
# hpc-ebs-attach VOLUME_ID DEVICE MOUNT_POINT MODE(single|multi)
# Attach a standalone EBS volume (EbsSpec attach="one_node") to this instance and mount it.
# A systemd timer runs it on every node of the fleet, so that when the node holding the volume goes
# away, another node takes it over. It is idempotent, and safe on every node:
#  - already mounted here: nothing to do (no API call);
#  - in another Availability Zone: say so and leave it;
#  - single: attached to another instance: say so and leave it (the timer tries again later);
#  - multi (Multi-Attach io1/io2): attach here too, but never format or mount (that needs a cluster
#    file system such as GFS2, which is the user's to set up).
# It never detaches a volume from anyone, and formats only a device that blkid -p reports as blank.
# The NVMe device is found by the volume ID in its serial number, never by the requested device name.
set -euo pipefail

VOLUME_ID="$1"
DEVICE="$2"
MOUNT_POINT="$3"
MODE="$4"
IMDS="${HPC_IMDS_URL:-http://169.254.169.254}"
BY_ID="${HPC_DISK_BY_ID:-/dev/disk/by-id}"
FSTAB="${HPC_FSTAB:-/etc/fstab}"

if [ "$MODE" = "single" ] && mountpoint -q "$MOUNT_POINT"; then
  echo "hpc-ebs-attach: $MOUNT_POINT already mounted"
  exit 0
fi
LINK="$BY_ID/nvme-Amazon_Elastic_Block_Store_${VOLUME_ID//-/}"
if [ "$MODE" = "multi" ] && [ -e "$LINK" ]; then
  echo "hpc-ebs-attach: $VOLUME_ID already attached (Multi-Attach)"
  exit 0
fi
TOKEN=$(curl -fsS -X PUT "$IMDS/latest/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 300")
imds() { curl -fsS -H "X-aws-ec2-metadata-token: $TOKEN" "$IMDS/latest/meta-data/$1"; }
INSTANCE_ID=$(imds instance-id)
AZ=$(imds placement/availability-zone)
REGION=$(imds placement/region)

read -r VOLUME_AZ STATE < <(aws ec2 describe-volumes --region "$REGION" --volume-ids "$VOLUME_ID" \
  --query 'Volumes[0].[AvailabilityZone,State]' --output text)
ATTACHED=$(aws ec2 describe-volumes --region "$REGION" --volume-ids "$VOLUME_ID" \
  --query 'Volumes[0].Attachments[].InstanceId' --output text)
if [ "$VOLUME_AZ" != "$AZ" ]; then
  echo "hpc-ebs-attach: $VOLUME_ID is in $VOLUME_AZ, this instance in $AZ: not attached"
  exit 0
fi
case " $ATTACHED " in
  *" $INSTANCE_ID "*) ;;  # attached here already (a reboot)
  *)
    if [ "$MODE" = "single" ] && [ "$STATE" != "available" ]; then
      echo "hpc-ebs-attach: $VOLUME_ID is $STATE (attached to $ATTACHED): not attached here; will try again"
      exit 0
    fi
    aws ec2 attach-volume --region "$REGION" --volume-id "$VOLUME_ID" --instance-id "$INSTANCE_ID" \
      --device "$DEVICE" >/dev/null
    ;;
esac

for _ in $(seq 1 60); do
  [ -e "$LINK" ] && break
  sleep "${HPC_WAIT_SECONDS:-2}"
done
[ -e "$LINK" ] || { echo "hpc-ebs-attach: $LINK did not appear" >&2; exit 1; }
if [ "$MODE" = "multi" ]; then
  echo "hpc-ebs-attach: $VOLUME_ID attached (Multi-Attach): not formatted or mounted"
  exit 0
fi

# blkid -p exit codes: 0 a signature was found, 2 nothing was found (blank), anything else: unknown.
status=0
blkid -p "$LINK" >/dev/null 2>&1 || status=$?
case "$status" in
  0) ;;  # the volume's data, from this node or the one before: mount it as it is
  2) mkfs.xfs "$LINK" ;;  # blank; no -f: mkfs.xfs itself refuses to overwrite
  *) echo "hpc-ebs-attach: blkid -p could not read $LINK (exit $status); not formatting it" >&2; exit 1 ;;
esac
mkdir -p "$MOUNT_POINT"
UUID=$(blkid -s UUID -o value "$LINK")
grep -qs "UUID=$UUID " "$FSTAB" \
  || echo "UUID=$UUID $MOUNT_POINT xfs defaults,noatime,nofail,x-systemd.device-timeout=30s 0 2" >> "$FSTAB"
mount "$MOUNT_POINT"
echo "hpc-ebs-attach: $VOLUME_ID mounted at $MOUNT_POINT"
