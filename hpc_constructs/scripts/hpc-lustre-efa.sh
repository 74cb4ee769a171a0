#!/bin/bash
# hpc-lustre-efa COUNT | TYPE=COUNT...: set up LNet so that this node reaches EFA-enabled FSx for Lustre file systems
# over EFA, as the FSx for Lustre User Guide describes ('Configuring EFA clients'): the Lustre
# networking modules (kefalnd bound to the primary interface, ksocklnd), LNet with its tcp network on
# the primary interface, COUNT of the node's EFA devices as efa networks (peer credits 32), discovery on,
# and a UDSP rule that prefers efa. The mount address stays NAME@tcp: discovery moves the traffic to EFA.
#
# hpc-lustre-efa.service runs it at every boot (LNet configuration does not survive a reboot), before
# the Lustre mounts: their fstab entries require the service.
#  - LNet already has efa networks: nothing to do.
#  - COUNT: how many EFA devices LNet uses (the guide's default for the instance type); with TYPE=COUNT
#    pairs (a fleet of several types), the pair of this node's type, read from instance metadata.
#  - COUNT devices are chosen evenly across the node's EFA devices (on a 32-device p5.48xlarge with
#    COUNT 8: every fourth, one per PCIe switch).
#  - No EFA device, no kefalnd module, or an lnetctl step fails: LNet is left on tcp alone, so the
#    mounts still work (over TCP), and the script exits 3. The unit treats 3 as success
#    (SuccessExitStatus=3), so the mounts go on; the boot step `hpc-lustre-efa --check` fails and names it.
#  - --check: exit 0 when LNet has at least one efa network, 1 otherwise.
set -uo pipefail

SYSFS="${HPC_SYSFS:-/sys}"

efa_nids() { lnetctl net show --net efa 2>/dev/null | grep -c '@efa'; }

if [ "${1:-}" = "--check" ]; then
  count=$(efa_nids)
  if [ "${count:-0}" -gt 0 ]; then
    echo "hpc-lustre-efa: LNet has $count EFA network interface(s)"
    exit 0
  fi
  echo "hpc-lustre-efa: LNet has no EFA network: Lustre traffic goes over TCP (journalctl -u hpc-lustre-efa)" >&2
  exit 1
fi

[ "$#" -gt 0 ] || { echo "usage: hpc-lustre-efa COUNT | TYPE=COUNT... | --check" >&2; exit 2; }
COUNT=""
if [ "$#" -eq 1 ] && [[ "$1" =~ ^[0-9]+$ ]]; then
  COUNT="$1"
else
  TYPE="${HPC_INSTANCE_TYPE:-}"
  if [ -z "$TYPE" ]; then
    TOKEN=$(curl -fsS -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 60')
    TYPE=$(curl -fsS -H "X-aws-ec2-metadata-token: $TOKEN" http://169.254.169.254/latest/meta-data/instance-type)
  fi
  for pair in "$@"; do
    [ "${pair%%=*}" = "$TYPE" ] && COUNT="${pair#*=}"
  done
  [ -n "$COUNT" ] || { echo "hpc-lustre-efa: no EFA interface count for instance type '$TYPE'" >&2; exit 2; }
fi

tcp_only() {
  echo "hpc-lustre-efa: $1; LNet stays on tcp, so Lustre mounts work over TCP" >&2
  exit 3
}

# The primary interface: the one that carries the default route.
PRIMARY=$(ip -4 route show default 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "dev") {print $(i + 1); exit}}')
[ -n "$PRIMARY" ] || { echo "hpc-lustre-efa: no default route, cannot tell the primary interface" >&2; exit 1; }

# EFA devices: RDMA devices whose driver is efa, in name order.
DEVICES=()
for dev in "$SYSFS"/class/infiniband/*; do
  [ -e "$dev/device/driver" ] || continue
  [ "$(basename "$(readlink -f "$dev/device/driver")")" = efa ] || continue
  DEVICES+=("$(basename "$dev")")
done

modprobe lnet || { echo "hpc-lustre-efa: the Lustre client modules are missing (lnet)" >&2; exit 1; }
if [ "$(efa_nids)" -gt 0 ] 2>/dev/null; then
  echo "hpc-lustre-efa: LNet already has EFA networks"
  exit 0
fi
EFA_LND=yes
modprobe kefalnd "ipif_name=$PRIMARY" || EFA_LND=no
modprobe ksocklnd || { echo "hpc-lustre-efa: cannot load ksocklnd" >&2; exit 1; }
lnetctl lnet configure || { echo "hpc-lustre-efa: lnetctl lnet configure failed" >&2; exit 1; }
lnetctl net del --net tcp >/dev/null 2>&1 || true
lnetctl net add --net tcp --if "$PRIMARY" || { echo "hpc-lustre-efa: cannot add the tcp network on $PRIMARY" >&2; exit 1; }

[ "${#DEVICES[@]}" -gt 0 ] || tcp_only "no EFA device on this node (is the EFA driver installed?)"
[ "$EFA_LND" = yes ] || tcp_only "the kefalnd module is missing (a Lustre client without EFA support)"

N=${#DEVICES[@]}
[ "$COUNT" -le "$N" ] || COUNT=$N
for i in $(seq 0 $((COUNT - 1))); do
  dev="${DEVICES[$((i * N / COUNT))]}"
  lnetctl net add --net efa --if "$dev" --peer-credits 32 || tcp_only "cannot add EFA device $dev to LNet"
done
lnetctl set discovery 1 || tcp_only "cannot turn on LNet discovery"
lnetctl udsp add --src efa --priority 0 || tcp_only "cannot add the UDSP rule that prefers efa"
modprobe lustre || { echo "hpc-lustre-efa: cannot load the lustre module" >&2; exit 1; }
echo "hpc-lustre-efa: LNet over EFA on $COUNT of $N EFA device(s), tcp on $PRIMARY"
