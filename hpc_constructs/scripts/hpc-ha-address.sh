#!/bin/bash
# hpc-ha-address take|release: the HaInstance's stable address, moved to this instance at boot.
#
# HPC_HA_ADDRESS (from /etc/hpc-ha-instance.env) says which kind:
#  elastic_ip  associate the Elastic IP HPC_HA_ALLOCATION_ID with this instance (--allow-reassociation: the
#              instance before may still hold it while it terminates);
#  eni         attach this AZ's network interface (tagged with the owner) as device 1, once the instance before
#              has let it go (an ENI lives in one AZ: each AZ has its own, with its own address and MAC);
#  dns         UPSERT the A record HPC_HA_RECORD in the private hosted zone HPC_HA_ZONE_ID to this instance's
#              private address (TTL HPC_HA_TTL).
# release (termination hook, dns only): DELETE the record if it still holds this instance's address. Route 53
# deletes only an exact match, so a record a newer instance has already taken over is left alone; and the hosted
# zone holds nothing CloudFormation did not make when the stack is deleted.
set -euo pipefail

source "${HPC_HA_ENV:-/etc/hpc-ha-instance.env}"
IMDS="${HPC_IMDS_URL:-http://169.254.169.254}"
POLL="${HPC_WAIT_SECONDS:-5}"
OWNER_KEY="hpc-constructs:ha-instance"

TOKEN=$(curl -fsS -X PUT "$IMDS/latest/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 300")
imds() { curl -fsS -H "X-aws-ec2-metadata-token: $TOKEN" "$IMDS/latest/meta-data/$1"; }
INSTANCE_ID=$(imds instance-id)
AZ=$(imds placement/availability-zone)
REGION=$(imds placement/region)
log() { echo "hpc-ha-address: $*" >&2; }

record() {  # record ACTION: change the A record to this instance's private IPv4 address
  local ip
  ip=$(imds local-ipv4)
  aws route53 change-resource-record-sets --hosted-zone-id "$HPC_HA_ZONE_ID" --change-batch \
    "{\"Changes\":[{\"Action\":\"$1\",\"ResourceRecordSet\":{\"Name\":\"$HPC_HA_RECORD\",\"Type\":\"A\",\"TTL\":$HPC_HA_TTL,\"ResourceRecords\":[{\"Value\":\"$ip\"}]}}]}" \
    > /dev/null || return 1  # explicit: set -e does not apply inside `record DELETE || ...`
  log "$1 $HPC_HA_RECORD A $ip"
}

take_eni() {
  local deadline=$((SECONDS + HPC_HA_WAIT_SECONDS)) eni status holder
  while :; do
    read -r eni status holder < <(aws --region "$REGION" ec2 describe-network-interfaces \
      --filters "Name=tag:$OWNER_KEY,Values=$HPC_HA_OWNER" "Name=availability-zone,Values=$AZ" \
      --query 'NetworkInterfaces[0].[NetworkInterfaceId,Status,Attachment.InstanceId]' --output text)
    if [ -z "$eni" ] || [ "$eni" = None ]; then
      log "no network interface tagged $OWNER_KEY=$HPC_HA_OWNER in $AZ"
      return 1
    fi
    [ "$holder" = "$INSTANCE_ID" ] && { log "$eni already attached"; return 0; }
    [ "$status" = available ] && break
    [ "$SECONDS" -ge "$deadline" ] && { log "$eni is still $status ($holder)"; return 1; }
    sleep "$POLL"
  done
  aws --region "$REGION" ec2 attach-network-interface --network-interface-id "$eni" --instance-id "$INSTANCE_ID" \
    --device-index 1 > /dev/null
  log "$eni attached as device 1"
}

case "${1:-}" in
  take)
    case "$HPC_HA_ADDRESS" in
      elastic_ip)
        aws --region "$REGION" ec2 associate-address --allocation-id "$HPC_HA_ALLOCATION_ID" \
          --instance-id "$INSTANCE_ID" --allow-reassociation > /dev/null
        log "Elastic IP $HPC_HA_ALLOCATION_ID associated" ;;
      eni) take_eni ;;
      dns) record UPSERT ;;
      *) log "unknown address kind $HPC_HA_ADDRESS"; exit 2 ;;
    esac ;;
  release)
    if [ "$HPC_HA_ADDRESS" = dns ]; then
      record DELETE || log "the record no longer holds this instance's address: left as it is"
    fi ;;
  *) echo "usage: hpc-ha-address take|release" >&2; exit 2 ;;
esac
