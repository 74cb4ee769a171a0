#!/bin/bash
# hpc-ebs-attach VOLUME_ID DEVICE MOUNT_POINT FORMAT(yes|no)
# Attach an EBS volume to this instance and mount it. Idempotent, and safe on every fleet instance:
#  - already mounted: nothing to do;
#  - attached to another instance, or in another Availability Zone: say so and leave it;
#  - blank: make an XFS file system (FORMAT=yes only; multi-attach volumes need a cluster file system).
# The NVMe device is found by the volume ID in its serial number, never by the requested device name.
set -euo pipefail

VOLUME_ID="$1"
DEVICE="$2"
MOUNT_POINT="$3"
FORMAT="$4"

if mountpoint -q "$MOUNT_POINT"; then
  echo "hpc-ebs-attach: $MOUNT_POINT already mounted"
  exit 0
fi
TOKEN=$(curl -fsS -X PUT http://169.254.169.254/latest/api/token -H "X-aws-ec2-metadata-token-ttl-seconds: 300")
imds() { curl -fsS -H "X-aws-ec2-metadata-token: $TOKEN" "http://169.254.169.254/latest/meta-data/$1"; }
INSTANCE_ID=$(imds instance-id)
AZ=$(imds placement/availability-zone)
REGION=$(imds placement/region)

read -r VOLUME_AZ STATE ATTACHED_TO < <(aws ec2 describe-volumes --region "$REGION" --volume-ids "$VOLUME_ID" \
  --query 'Volumes[0].[AvailabilityZone,State,Attachments[0].InstanceId]' --output text)
if [ "$VOLUME_AZ" != "$AZ" ]; then
  echo "hpc-ebs-attach: $VOLUME_ID is in $VOLUME_AZ, this instance in $AZ: not attached"
  exit 0
fi
if [ "$STATE" = "in-use" ] && [ "$ATTACHED_TO" != "$INSTANCE_ID" ]; then
  echo "hpc-ebs-attach: $VOLUME_ID is attached to $ATTACHED_TO: not attached here"
  exit 0
fi
if [ "$STATE" = "available" ]; then
  aws ec2 attach-volume --region "$REGION" --volume-id "$VOLUME_ID" --instance-id "$INSTANCE_ID" --device "$DEVICE"
  aws ec2 wait volume-in-use --region "$REGION" --volume-ids "$VOLUME_ID"
fi

LINK="/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${VOLUME_ID//-/}"
for _ in $(seq 1 60); do
  [ -e "$LINK" ] && break
  sleep 2
done
[ -e "$LINK" ] || { echo "hpc-ebs-attach: $LINK did not appear" >&2; exit 1; }

if ! blkid "$LINK" >/dev/null 2>&1; then
  if [ "$FORMAT" != "yes" ]; then
    echo "hpc-ebs-attach: $VOLUME_ID has no file system and FORMAT=no: attached, not mounted"
    exit 0
  fi
  mkfs.xfs -f "$LINK"
fi
mkdir -p "$MOUNT_POINT"
UUID=$(blkid -s UUID -o value "$LINK")
grep -qs "UUID=$UUID " /etc/fstab || echo "UUID=$UUID $MOUNT_POINT xfs defaults,noatime,nofail 0 2" >> /etc/fstab
mount "$MOUNT_POINT"
echo "hpc-ebs-attach: $VOLUME_ID mounted at $MOUNT_POINT"
