#!/bin/bash
# hpc-ebs-attach VOLUME_ID DEVICE MOUNT_POINT MODE(single|multi)
# Attach an EBS volume to this instance and mount it. Idempotent, and safe on every fleet instance:
#  - already mounted: nothing to do;
#  - in another Availability Zone: say so and leave it;
#  - single: attached to another instance: say so and leave it; blank: make an XFS file system;
#  - multi (Multi-Attach io1/io2): attach here too, but never format or mount (that needs a cluster
#    file system such as GFS2, which is the user's to set up).
# The NVMe device is found by the volume ID in its serial number, never by the requested device name.
set -euo pipefail

VOLUME_ID="$1"
DEVICE="$2"
MOUNT_POINT="$3"
MODE="$4"
IMDS="${HPC_IMDS_URL:-http://169.254.169.254}"
BY_ID="${HPC_DISK_BY_ID:-/dev/disk/by-id}"
FSTAB="${HPC_FSTAB:-/etc/fstab}"

if mountpoint -q "$MOUNT_POINT"; then
  echo "hpc-ebs-attach: $MOUNT_POINT already mounted"
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
      echo "hpc-ebs-attach: $VOLUME_ID is $STATE (attached to $ATTACHED): not attached here"
      exit 0
    fi
    aws ec2 attach-volume --region "$REGION" --volume-id "$VOLUME_ID" --instance-id "$INSTANCE_ID" \
      --device "$DEVICE" >/dev/null
    ;;
esac

LINK="$BY_ID/nvme-Amazon_Elastic_Block_Store_${VOLUME_ID//-/}"
for _ in $(seq 1 60); do
  [ -e "$LINK" ] && break
  sleep "${HPC_WAIT_SECONDS:-2}"
done
[ -e "$LINK" ] || { echo "hpc-ebs-attach: $LINK did not appear" >&2; exit 1; }
if [ "$MODE" = "multi" ]; then
  echo "hpc-ebs-attach: $VOLUME_ID attached (Multi-Attach): not formatted or mounted"
  exit 0
fi

blkid "$LINK" >/dev/null 2>&1 || mkfs.xfs -f "$LINK"
mkdir -p "$MOUNT_POINT"
UUID=$(blkid -s UUID -o value "$LINK")
grep -qs "UUID=$UUID " "$FSTAB" || echo "UUID=$UUID $MOUNT_POINT xfs defaults,noatime,nofail 0 2" >> "$FSTAB"
mount "$MOUNT_POINT"
echo "hpc-ebs-attach: $VOLUME_ID mounted at $MOUNT_POINT"
