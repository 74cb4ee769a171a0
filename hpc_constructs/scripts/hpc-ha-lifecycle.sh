#!/bin/bash
# hpc-ha-lifecycle launch CONTINUE|ABANDON | watch | health: the HaInstance's side of its Auto Scaling group.
#
# launch RESULT  at the end of the user data: complete the launch lifecycle hook. CONTINUE puts the instance in
#                service; ABANDON (a boot step failed) makes the group terminate it and launch another.
# watch          a systemd service: polls the instance metadata item autoscaling/target-lifecycle-state every
#                HPC_WAIT_SECONDS. When it reads Terminated (the instance is in Terminating:Wait, held by the
#                termination hook), it stops HPC_HA_SERVICE, unmounts the data volume, takes the final snapshot
#                (hpc-ha-volume snapshot termination), releases a dns address, and completes the hook with
#                CONTINUE. Each of these is tried on its own: a failed one never keeps the hook from completing
#                (else the instance would wait out the heartbeat timeout).
# health         a systemd timer: the data volume must be mounted and HPC_HA_HEALTH_COMMAND (if any) exit 0.
#                After HPC_HA_HEALTH_FAILURES failures in a row, while the instance is InService, it reports
#                itself Unhealthy (aws autoscaling set-instance-health): the group terminates and replaces it.
set -uo pipefail

source "${HPC_HA_ENV:-/etc/hpc-ha-instance.env}"
IMDS="${HPC_IMDS_URL:-http://169.254.169.254}"
POLL="${HPC_WAIT_SECONDS:-5}"
STATE_DIR="${HPC_HA_STATE_DIR:-/var/lib/hpc-constructs}"
SBIN="${HPC_SBIN:-/usr/local/sbin}"

token() { curl -fsS -X PUT "$IMDS/latest/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 300"; }
imds() { curl -fsS -H "X-aws-ec2-metadata-token: $(token)" "$IMDS/latest/meta-data/$1"; }
INSTANCE_ID=$(imds instance-id) || exit 1
REGION=$(imds placement/region) || exit 1
log() { echo "hpc-ha-lifecycle: $*" >&2; }
autoscaling() { aws --region "$REGION" autoscaling "$@"; }

group() {
  autoscaling describe-auto-scaling-instances --instance-ids "$INSTANCE_ID" \
    --query 'AutoScalingInstances[0].AutoScalingGroupName' --output text
}

complete() {  # complete HOOK RESULT
  autoscaling complete-lifecycle-action --lifecycle-hook-name "$1" --auto-scaling-group-name "$(group)" \
    --instance-id "$INSTANCE_ID" --lifecycle-action-result "$2"
}

case "${1:-}" in
  launch)
    complete "$HPC_HA_LAUNCH_HOOK" "${2:-CONTINUE}" && log "launch hook completed: ${2:-CONTINUE}" ;;
  watch)
    until [ "$(imds autoscaling/target-lifecycle-state 2> /dev/null)" = Terminated ]; do
      sleep "$POLL"
    done
    log "terminating: final snapshot, then the termination hook"
    if [ -n "${HPC_HA_SERVICE:-}" ]; then
      systemctl stop "$HPC_HA_SERVICE" || log "could not stop $HPC_HA_SERVICE"
    fi
    sync
    umount "$HPC_HA_MOUNT_POINT" || log "could not unmount $HPC_HA_MOUNT_POINT: the snapshot is frozen instead"
    "$SBIN/hpc-ha-volume" snapshot termination || log "no final snapshot: the newest scheduled one is the recovery point"
    "$SBIN/hpc-ha-address" release || true
    complete "$HPC_HA_TERMINATION_HOOK" CONTINUE ;;
  health)
    mkdir -p "$STATE_DIR"
    failures_file="$STATE_DIR/ha-health-failures"
    if mountpoint -q "$HPC_HA_MOUNT_POINT" && bash -c "${HPC_HA_HEALTH_COMMAND:-true}"; then
      echo 0 > "$failures_file"
      exit 0
    fi
    failures=$(( $(cat "$failures_file" 2> /dev/null || echo 0) + 1 ))
    echo "$failures" > "$failures_file"
    log "health check failed ($failures of $HPC_HA_HEALTH_FAILURES)"
    if [ "$failures" -ge "$HPC_HA_HEALTH_FAILURES" ] \
        && [ "$(imds autoscaling/target-lifecycle-state 2> /dev/null)" = InService ]; then
      autoscaling set-instance-health --instance-id "$INSTANCE_ID" --health-status Unhealthy
      log "reported Unhealthy: the Auto Scaling group replaces this instance"
    fi
    exit 1 ;;
  *) echo "usage: hpc-ha-lifecycle launch RESULT|watch|health" >&2; exit 2 ;;
esac
