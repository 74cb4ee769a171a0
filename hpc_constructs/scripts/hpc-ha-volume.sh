#!/bin/bash
# hpc-ha-volume attach|snapshot REASON: the HaInstance's data volume, which follows the instance from AZ to AZ.
#
# An EBS volume lives in one Availability Zone, so the data reaches a new instance in another AZ through a snapshot
# (snapshots are regional). Every data volume carries three tags: the owner (the HaInstance's construct path), its
# generation (0 for the volume CloudFormation made, +1 at each move), and "current" (the Data Lifecycle Manager
# policy's target; a volume that was moved away from is re-tagged "superseded-by-<new volume>").
#
# attach (first boot step): the current volume is the owner's volume with the highest generation.
#  - in this AZ: wait until it is free (the previous instance's termination detaches it), attach it, mount it;
#  - in another AZ: wait (bounded) until it is free; if it is, snapshot it now (nothing writes to a detached
#    volume, so the snapshot holds its last state); then restore the newest of the owner's snapshots into a new
#    volume here (generation + 1), waiting for a pending snapshot to complete, or falling back to the newest
#    completed one when the wait runs out (the old AZ is lost: the scheduled snapshots are the recovery point).
#    The old volume is kept, tagged superseded: after an AZ loss it may hold writes newer than the snapshot.
#  It formats only a device that blkid -p reports as blank (the first boot of generation 0).
# snapshot REASON (scheduled, termination): a snapshot of the attached data volume, file-system consistent: frozen
#  (fsfreeze) until CreateSnapshot returns, or already unmounted at termination. Then the instance's own snapshots
#  beyond the retention count are deleted (Data Lifecycle Manager prunes its own).
# Settings come from /etc/hpc-ha-instance.env, which the user data writes.
set -euo pipefail

source "${HPC_HA_ENV:-/etc/hpc-ha-instance.env}"
IMDS="${HPC_IMDS_URL:-http://169.254.169.254}"
BY_ID="${HPC_DISK_BY_ID:-/dev/disk/by-id}"
FSTAB="${HPC_FSTAB:-/etc/fstab}"
POLL="${HPC_WAIT_SECONDS:-5}"
OWNER_KEY="hpc-constructs:ha-instance"
GENERATION_KEY="hpc-constructs:ha-generation"
CURRENT_KEY="hpc-constructs:ha-current"
TAKEN_KEY="hpc-constructs:ha-snapshot"

TOKEN=$(curl -fsS -X PUT "$IMDS/latest/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 300")
imds() { curl -fsS -H "X-aws-ec2-metadata-token: $TOKEN" "$IMDS/latest/meta-data/$1"; }
INSTANCE_ID=$(imds instance-id)
AZ=$(imds placement/availability-zone)
REGION=$(imds placement/region)
ec2() { aws --region "$REGION" ec2 "$@"; }
log() { echo "hpc-ha-volume: $*" >&2; }

tags() {  # tags RESOURCE_TYPE KEY=VALUE...: a --tag-specifications value (JSON; the owner may hold any tag character)
  local type="$1" pairs="" pair
  shift
  for pair in "$@"; do
    pairs+="${pairs:+,}{\"Key\":\"${pair%%=*}\",\"Value\":\"${pair#*=}\"}"
  done
  echo "[{\"ResourceType\":\"$type\",\"Tags\":[$pairs]}]"
}

volume_state() {  # volume_state VOLUME: "STATE ATTACHED_INSTANCE"
  ec2 describe-volumes --volume-ids "$1" --query 'Volumes[0].[State,Attachments[0].InstanceId]' --output text
}

wait_until_free() {  # wait_until_free VOLUME SECONDS: 0 when the volume is available or attached here
  local volume="$1" deadline=$((SECONDS + $2)) state holder
  while :; do
    read -r state holder < <(volume_state "$volume")
    [ "$state" = available ] && return 0
    [ "$holder" = "$INSTANCE_ID" ] && return 0
    [ "$SECONDS" -ge "$deadline" ] && { log "$volume is still $state ($holder)"; return 1; }
    sleep "$POLL"
  done
}

newest_snapshot() {  # newest_snapshot [STATE]: "SNAPSHOT_ID STATE" of the owner's newest snapshot (any state)
  local filters=("Name=tag:$OWNER_KEY,Values=$HPC_HA_OWNER")
  [ -n "${1:-}" ] && filters+=("Name=status,Values=$1")
  ec2 describe-snapshots --owner-ids self --filters "${filters[@]}" \
    --query 'reverse(sort_by(Snapshots,&StartTime))[0].[SnapshotId,State]' --output text
}

restore() {  # restore CURRENT GENERATION: a new volume in this AZ from the newest snapshot; prints its ID
  local current="$1" generation="$2" deadline=$((SECONDS + HPC_HA_WAIT_SECONDS)) snapshot state volume
  if wait_until_free "$current" "$HPC_HA_WAIT_SECONDS"; then
    snapshot=$(ec2 create-snapshot --volume-id "$current" --description "hpc-constructs HaInstance: move to $AZ" \
      --tag-specifications "$(tags snapshot "$OWNER_KEY=$HPC_HA_OWNER" "$TAKEN_KEY=move")" \
      --query SnapshotId --output text)
    log "snapshot $snapshot of $current (detached) taken for the move"
  fi
  read -r snapshot state < <(newest_snapshot)
  while [ "$state" = pending ] && [ "$SECONDS" -lt "$deadline" ]; do
    sleep "$POLL"
    read -r snapshot state < <(newest_snapshot)
  done
  if [ "$state" != completed ]; then
    log "the newest snapshot ($snapshot) is $state: restoring the newest completed one"
    read -r snapshot state < <(newest_snapshot completed)
  fi
  if [ -z "$snapshot" ] || [ "$snapshot" = None ]; then
    log "no completed snapshot of $HPC_HA_OWNER: cannot bring its data to $AZ"
    return 1
  fi
  local extra=()
  [ -n "${HPC_HA_VOLUME_IOPS:-}" ] && extra+=(--iops "$HPC_HA_VOLUME_IOPS")
  [ -n "${HPC_HA_VOLUME_THROUGHPUT:-}" ] && extra+=(--throughput "$HPC_HA_VOLUME_THROUGHPUT")
  volume=$(ec2 create-volume --availability-zone "$AZ" --snapshot-id "$snapshot" \
    --volume-type "$HPC_HA_VOLUME_TYPE" "${extra[@]}" \
    --tag-specifications "$(tags volume "$OWNER_KEY=$HPC_HA_OWNER" "$GENERATION_KEY=$((generation + 1))" \
      "$CURRENT_KEY=$HPC_HA_OWNER")" --query VolumeId --output text)
  log "volume $volume (generation $((generation + 1))) restored in $AZ from $snapshot"
  # Kept, never deleted: after an AZ loss the old volume may hold writes newer than the snapshot.
  ec2 create-tags --resources "$current" --tags "Key=$CURRENT_KEY,Value=superseded-by-$volume" || true
  echo "$volume"
}

attach() {
  if mountpoint -q "$HPC_HA_MOUNT_POINT"; then
    log "$HPC_HA_MOUNT_POINT already mounted"
    return 0
  fi
  local current current_az generation volume state holder
  read -r current current_az generation < <(ec2 describe-volumes \
    --filters "Name=tag:$OWNER_KEY,Values=$HPC_HA_OWNER" "Name=status,Values=available,in-use,creating" \
    --query "reverse(sort_by(Volumes,&to_number(Tags[?Key=='$GENERATION_KEY']|[0].Value)))[0].[VolumeId,AvailabilityZone,Tags[?Key=='$GENERATION_KEY']|[0].Value]" \
    --output text)
  if [ -z "$current" ] || [ "$current" = None ]; then
    log "no data volume tagged $OWNER_KEY=$HPC_HA_OWNER"
    return 1
  fi
  if [ "$current_az" = "$AZ" ]; then
    volume="$current"
  else
    log "the current volume $current is in $current_az, this instance in $AZ: moving the data"
    volume=$(restore "$current" "$generation")
  fi
  wait_until_free "$volume" "$HPC_HA_WAIT_SECONDS" || return 1
  read -r state holder < <(volume_state "$volume")
  if [ "$holder" != "$INSTANCE_ID" ]; then
    ec2 attach-volume --volume-id "$volume" --instance-id "$INSTANCE_ID" --device "$HPC_HA_DEVICE" > /dev/null
  fi
  local link="$BY_ID/nvme-Amazon_Elastic_Block_Store_${volume//-/}" status=0 uuid
  for _ in $(seq 1 60); do
    [ -e "$link" ] && break
    sleep "$POLL"
  done
  [ -e "$link" ] || { log "$link did not appear"; return 1; }
  # blkid -p exit codes: 0 a signature was found, 2 nothing was found (blank), anything else: unknown.
  blkid -p "$link" > /dev/null 2>&1 || status=$?
  case "$status" in
    0) ;;
    2) mkfs.xfs "$link" ;;  # no -f: mkfs.xfs itself refuses to overwrite
    *) log "blkid -p could not read $link (exit $status); not formatting it"; return 1 ;;
  esac
  mkdir -p "$HPC_HA_MOUNT_POINT"
  uuid=$(blkid -s UUID -o value "$link")
  grep -qs "UUID=$uuid " "$FSTAB" \
    || echo "UUID=$uuid $HPC_HA_MOUNT_POINT xfs defaults,noatime,nofail 0 2" >> "$FSTAB"
  mount "$HPC_HA_MOUNT_POINT"
  log "$volume mounted at $HPC_HA_MOUNT_POINT"
}

snapshot() {
  local reason="$1" volume snapshot frozen=""
  volume=$(ec2 describe-volumes --filters "Name=attachment.instance-id,Values=$INSTANCE_ID" \
    "Name=tag:$OWNER_KEY,Values=$HPC_HA_OWNER" --query 'Volumes[0].VolumeId' --output text)
  if [ -z "$volume" ] || [ "$volume" = None ]; then
    log "no data volume attached to $INSTANCE_ID"
    return 1
  fi
  if mountpoint -q "$HPC_HA_MOUNT_POINT"; then
    fsfreeze -f "$HPC_HA_MOUNT_POINT"
    frozen=yes
    trap 'fsfreeze -u "$HPC_HA_MOUNT_POINT"' EXIT
  fi
  snapshot=$(ec2 create-snapshot --volume-id "$volume" --description "hpc-constructs HaInstance: $reason" \
    --tag-specifications "$(tags snapshot "$OWNER_KEY=$HPC_HA_OWNER" "$TAKEN_KEY=$reason")" \
    --query SnapshotId --output text)
  # The snapshot's point in time is fixed when CreateSnapshot returns: writes may go on while it completes.
  if [ -n "$frozen" ]; then
    fsfreeze -u "$HPC_HA_MOUNT_POINT"
    trap - EXIT
  fi
  log "snapshot $snapshot of $volume ($reason)"
  local old
  for old in $(ec2 describe-snapshots --owner-ids self \
      --filters "Name=tag:$OWNER_KEY,Values=$HPC_HA_OWNER" "Name=tag-key,Values=$TAKEN_KEY" \
      --query 'reverse(sort_by(Snapshots,&StartTime))[].SnapshotId' --output text \
      | tr '\t' '\n' | tail -n +"$((HPC_HA_RETENTION + 1))"); do
    ec2 delete-snapshot --snapshot-id "$old" && log "deleted $old (beyond the newest $HPC_HA_RETENTION)"
  done
}

case "${1:-}" in
  attach) attach ;;
  snapshot) snapshot "${2:-scheduled}" ;;
  *) echo "usage: hpc-ha-volume attach|snapshot REASON" >&2; exit 2 ;;
esac
