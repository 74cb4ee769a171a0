#!/bin/bash
# hpc-slurm-drain REASON: drain this node in Slurm with REASON, so that it takes no job.
# Started (systemd unit hpc-slurm-drain.service, in the background) when a boot step of the node failed: a node
# whose Lustre or EFS mount failed would otherwise accept jobs that cannot see their files. PCS runs the user
# data's shell parts before slurmd starts, and Slurm's client commands work only once it has (PCS User Guide,
# node lifecycle stages), so this waits, up to HPC_DRAIN_WAIT_SECONDS (1,800: the half hour PCS gives a node to
# join Slurm), until the controller knows the node at one of this instance's addresses, then runs
#   scontrol update nodename=<node> state=drain reason=REASON
# (Slurm's way to take a node out of scheduling with a reason that sinfo -R shows; an administrator resumes it
# with state=resume, or lets PCS replace the instance).
set -uo pipefail

REASON="${1:?usage: hpc-slurm-drain REASON}"
WAIT="${HPC_DRAIN_WAIT_SECONDS:-1800}"
POLL="${HPC_DRAIN_POLL_SECONDS:-10}"
export PATH="$PATH:/opt/slurm/bin"  # where PCS's Slurm installer puts scontrol

# The node name Slurm knows this instance by: the NodeName whose NodeAddr is one of our addresses, or whose
# NodeHostName is our host name (PCS names nodes <node group>-<n>, not after the instance).
own_node() {
  local addresses host
  addresses=" $(hostname -I 2>/dev/null) "
  host=$(hostname -s 2>/dev/null)
  scontrol show node --oneliner 2>/dev/null | awk -v addresses="$addresses" -v host="$host" '{
    name = ""; addr = ""; hn = ""
    for (i = 1; i <= NF; i++) {
      split($i, kv, "=")
      if (kv[1] == "NodeName") name = kv[2]
      else if (kv[1] == "NodeAddr") addr = kv[2]
      else if (kv[1] == "NodeHostName") hn = kv[2]
    }
    if (name != "" && (index(addresses, " " addr " ") > 0 || (host != "" && hn == host))) { print name; exit }
  }'
}

deadline=$((SECONDS + WAIT))
while :; do
  if command -v scontrol >/dev/null 2>&1; then
    node=$(own_node)
    if [ -n "$node" ] && scontrol update nodename="$node" state=drain reason="$REASON"; then
      echo "hpc-slurm-drain: drained $node: $REASON"
      exit 0
    fi
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "hpc-slurm-drain: Slurm did not list this node within ${WAIT}s; it was not drained ($REASON)" >&2
    exit 1
  fi
  sleep "$POLL"
done
