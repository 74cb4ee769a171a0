"""SshUsers: named people and their public SSH keys, materialized on bastions and nodes from one SSM parameter.

Why this way in (docs/ssh-users.md compares it with the alternatives): a key pair on the instances (key_name) is one key
for everyone, so nobody is accountable and nobody can be removed; EC2 Instance Connect pushes a key to one named
instance for 60 seconds, which a load balancer that picks the instance defeats, and it needs an IAM user per
person; an EC2 Instance Connect Endpoint reaches private instances without a bastion but not through one, and
every session costs an API call with the user's AWS credentials. A directory (AWS Directory Service with SSSD) is
the answer for hundreds of users. For the few dozen of an HPC team: a list of users and keys in the app, one
parameter, and a timer on every node that makes the node's accounts match it (hpc-users), so that adding or
removing a person is a deploy, never a change to each instance.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm
from constructs import Construct, IConstruct

from hpc_constructs import boot, paths
from hpc_constructs.errors import ConfigError
from hpc_constructs.kinds import check_kinds
from hpc_constructs.ssh_users_plan import SshUser, SshUsersPlan, plan_ssh_users

__all__ = ["SshUser", "SshUsers"]

SCRIPT = "hpc-users"
SERVICE = "hpc-users.service"
TIMER = "hpc-users.timer"


class SshUsers(Construct):
    """The people who may SSH in, and their public keys, for every bastion and node that takes them.

    Props (keyword-only):
      users: SshUser per person (name, public_keys, uid=None). The nodes create each account with the same UID
             (derived from the name unless given), a home under /home, authorized_keys exactly as listed, and no
             administrator rights (no wheel, no sudoers); accounts the list drops are locked and lose their keys.
      sync_minutes: 5. How often every node compares its accounts with the list (and at every boot).

    HaBastion(ssh_users=...), ComputeFleet(ssh_users=...) and SlurmCluster(ssh_users=...) install the sync and may
    read the parameter. The way in: `ssh -J <user>@<bastion endpoint> <user>@<node's private address>`.

    Attributes: parameter (the ssm.StringParameter), plan (ssh_users_plan.SshUsersPlan), sync_minutes.
    """

    @check_kinds
    def __init__(self, scope: Construct, id: str, *, users: Sequence[SshUser], sync_minutes: int = 5) -> None:
        super().__init__(scope, id)
        self.plan: SshUsersPlan = plan_ssh_users(self.node.path, users)
        if not isinstance(sync_minutes, int) or isinstance(sync_minutes, bool) or not 1 <= sync_minutes <= 1_440:
            raise ConfigError(self.node.path, "sync_minutes", sync_minutes, "1 to 1,440 minutes")
        self.sync_minutes = sync_minutes
        self.parameter = ssm.StringParameter(
            self, "Parameter", string_value=self.plan.document,
            description=f"{self.node.path}: SSH users and public keys (hpc-users syncs every node from it)",
            tier=ssm.ParameterTier.ADVANCED if self.plan.tier == "Advanced" else ssm.ParameterTier.STANDARD)
        self.node.add_metadata("hpc:figures", {
            "users": ", ".join(f"{name} (uid {uid}, {len(keys)} key{'s' if len(keys) > 1 else ''})"
                               for name, uid, keys in self.plan.users) or "none",
            "sync": f"every {sync_minutes} minutes and at boot, from {self.plan.tier.lower()} SSM parameter"})

    def grant_read(self, role: iam.IRole) -> None:
        """`role` (a node's) may read the list; nothing else."""
        role.add_to_principal_policy(self.read_statement())
        if isinstance(role, iam.Role):
            self.declare_read(role, role)

    def read_statement(self) -> iam.PolicyStatement:
        """What a node's role needs to sync the users: ssm:GetParameter on the list, nothing else."""
        return iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[self.parameter.parameter_arn])

    def declare_read(self, anchor: IConstruct, role: iam.IRole) -> None:
        """hpc-verify: `role` reads the list (the nodes reach SSM for Session Manager too); the declaration lives
        on `anchor` (the role when it is made in the app, else a resource of the nodes that use it)."""
        paths.declare_iam(anchor, paths.role(role, f"{role.node.path}"), ["ssm:GetParameter"],
                          [self.parameter.parameter_arn], on=f"the SSH user list {self.node.path}",
                          why="hpc-users, at boot and every few minutes")

    def boot_commands(self, scope: Construct) -> list[str]:
        """What a node's user data runs: the sync script, its service and timer, and a first sync now."""
        region = Stack.of(scope).region
        interval = Duration.minutes(self.sync_minutes).to_seconds()
        return [
            *boot.install_boot_script(SCRIPT),
            *boot.systemd_unit(SERVICE, "\n".join([
                "[Unit]",
                "Description=hpc-constructs: SSH users from their SSM parameter",
                "After=network-online.target",
                "Wants=network-online.target",
                "[Service]",
                "Type=oneshot",
                f"ExecStart=/usr/local/sbin/{SCRIPT} {self.parameter.parameter_name} {region}"])),
            *boot.systemd_unit(TIMER, "\n".join([
                "[Unit]",
                "Description=hpc-constructs: SSH users, every few minutes",
                "[Timer]",
                "OnBootSec=30",
                f"OnUnitActiveSec={int(interval)}",
                "[Install]",
                "WantedBy=timers.target"])),
            boot.step("SSH users", "systemctl", "start", SERVICE),
            boot.step("SSH users timer", "systemctl", "enable", "--now", TIMER),
        ]
