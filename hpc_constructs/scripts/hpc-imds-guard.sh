#!/bin/bash
# hpc-imds-guard: keep the instance metadata service, and with it the instance role's credentials, for the
# host's own root processes. Anything else that asks 169.254.169.254 gets a refusal (REJECT: an immediate
# "connection refused", never a hang), so that a user on a node, or a job's container, cannot act as the node.
#
#   hpc-imds-guard --non-root    refuse every socket whose owner is not root (iptables owner match). A user
#                                on a login or compute node, a Slurm job, an sshd session: none is root.
#                                ParallelCluster does the same on its nodes.
#   hpc-imds-guard --ecs-tasks   refuse the containers of ECS tasks (AWS Batch jobs), root or not: their
#                                sockets live in the cgroup v2 sub-hierarchy ecstasks.slice, where the ECS
#                                agent (systemd cgroup driver) puts every task (ecstasks-<task>.slice). The
#                                iptables cgroup match takes every socket of that sub-hierarchy. Batch's
#                                container jobs use the host's network, so neither the hop limit nor the ECS
#                                agent's ECS_AWSVPC_BLOCK_IMDS (awsvpc tasks only) keeps them away. The agent
#                                itself, Docker and the host's services live elsewhere and keep access.
#
# Both may be given. The rules live in a chain of their own (HPC-IMDS, jumped to from OUTPUT for the
# metadata address), rebuilt on every run: run at every boot (systemd unit hpc-imds-guard.service, before
# sshd, the ECS agent and slurmd accept work), since iptables rules do not survive a reboot. Idempotent.
# The IPv6 endpoint (fd00:ec2::254) stays off: the launch templates never enable it.
set -euo pipefail

IMDS="169.254.169.254/32"
CHAIN="HPC-IMDS"
TASK_SLICE="${HPC_ECS_TASK_SLICE:-ecstasks.slice}"
UNIT_DIR="${HPC_SYSTEMD_DIR:-/etc/systemd/system}"

fail() { echo "hpc-imds-guard: $*" >&2; exit 1; }

non_root=no
ecs_tasks=no
for arg in "$@"; do
  case "$arg" in
    --non-root) non_root=yes ;;
    --ecs-tasks) ecs_tasks=yes ;;
    *) fail "unknown option $arg (use --non-root and/or --ecs-tasks)" ;;
  esac
done
[ "$non_root" = yes ] || [ "$ecs_tasks" = yes ] || fail "nothing to do: give --non-root and/or --ecs-tasks"

# The boot step before it installs iptables-nft on images without it (boot.imds_guard); an HpcImage holds it.
command -v iptables >/dev/null 2>&1 || fail "iptables is missing (the image holds no iptables-nft, and its boot step did not install it)"

if [ "$ecs_tasks" = yes ]; then
  # The cgroup match resolves its path when the rule is added: the slice must exist before the first task
  # does. The unit file is the same one systemd would make implicitly for the agent's task slices.
  if [ ! -e "$UNIT_DIR/$TASK_SLICE" ]; then
    printf '[Unit]\nDescription=ECS tasks (made early by hpc-imds-guard)\n[Slice]\n' > "$UNIT_DIR/$TASK_SLICE"
    systemctl daemon-reload
  fi
  systemctl start "$TASK_SLICE" || fail "could not start $TASK_SLICE"
fi

iptables -w -N "$CHAIN" 2>/dev/null || true
iptables -w -F "$CHAIN"
if [ "$ecs_tasks" = yes ]; then
  iptables -w -A "$CHAIN" -m cgroup --path "$TASK_SLICE" -j REJECT \
    || fail "could not add the rule for $TASK_SLICE (cgroup v2 and the xt_cgroup match are needed)"
fi
if [ "$non_root" = yes ]; then
  iptables -w -A "$CHAIN" -m owner ! --uid-owner 0 -j REJECT || fail "could not add the rule for non-root owners"
fi
iptables -w -C OUTPUT -d "$IMDS" -j "$CHAIN" 2>/dev/null || iptables -w -I OUTPUT 1 -d "$IMDS" -j "$CHAIN"
echo "hpc-imds-guard: the instance metadata service is refused to:" \
  "$([ "$non_root" = yes ] && echo "non-root users")$([ "$non_root" = yes ] && [ "$ecs_tasks" = yes ] && echo " and ")$([ "$ecs_tasks" = yes ] && echo "ECS task containers")"
