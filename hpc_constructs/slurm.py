"""SlurmCluster: Slurm on AWS Parallel Computing Service, with node groups laid out by ComputeFleet's plan."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import jsii
from aws_cdk import Acknowledgment, Annotations, IStableStringProducer, Lazy, Stack, Token, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_pcs as pcs
from constructs import Construct, IDependable

from hpc_constructs import boot, paths
from hpc_constructs.catalog.limits import PCS, PCS_PORTS
from hpc_constructs.compute_fleet import UserDataFits, cluster_placement_group, select_subnets, without_route_out
from hpc_constructs.errors import ConfigError
from hpc_constructs.fleet_plan import launch_template_interfaces
from hpc_constructs.given import (
    SSM_POLICY,
    SSM_REASON,
    add_statement,
    instance_role,
    role_anchor,
    takes_rules,
    warn_fixed_group,
)
from hpc_constructs.given import self_rules as given_self_rules
from hpc_constructs.kinds import check_kinds
from hpc_constructs.monitoring import Monitoring, MonitoringSettings
from hpc_constructs.mounting import shared_boot_nodes
from hpc_constructs.slurm_plan import (
    LoginNodesSpec,
    NodeGroupPlan,
    NodeGroupSpec,
    SlurmPlan,
    SlurmQueueSpec,
    check_node_role,
    plan_slurm,
)
from hpc_constructs.ssh_users import SshUsers
from hpc_constructs.storage import Mountable, mount_storage, storage_items

if TYPE_CHECKING:
    from hpc_constructs.image import HpcImage

__all__ = ["LoginNodesSpec", "NodeGroupSpec", "SlurmCluster", "SlurmNodeGroup", "SlurmQueueSpec"]

DRAIN_SCRIPT = "hpc-slurm-drain"
DRAIN_UNIT = "hpc-slurm-drain.service"
DRAIN_ENV_FILE = "/etc/hpc-constructs/slurm-drain.env"
# Run when the user data ends (before hpc_boot_report, which exits non-zero on a failure): a node whose boot step
# failed is drained in Slurm with the steps as its reason, once slurmd has registered it (PCS runs user-data shell
# parts before slurmd starts, so the unit waits for it in the background).
DRAIN_ON_FAILURE: tuple[str, ...] = (
    "hpc_slurm_drain_on_failure() {",
    '  [ "${#HPC_FAILED_STEPS[@]}" -gt 0 ] || return 0',
    f"  mkdir -p {DRAIN_ENV_FILE.rsplit('/', 1)[0]}",
    '  printf \'HPC_DRAIN_REASON="hpc-constructs boot step failed: %s"\\n\' "${HPC_FAILED_STEPS[*]}" \\',
    f"    > {DRAIN_ENV_FILE}",
    f"  systemctl start --no-block {DRAIN_UNIT}",
    "}",
)
_REAL_AMI = re.compile(r"ami-([0-9a-f]{8}|[0-9a-f]{17})")  # what a lookup returns; CDK's placeholder is not one


@jsii.implements(ec2.IConnectable)
class SlurmCluster(Construct):
    """A Slurm cluster on AWS PCS: the managed controller, node groups from ComputeFleet's plan, queues, login nodes.

    Props (keyword-only) and their defaults:
      vpc: the VPC (required).
      subnet: None picks the VPC's first private subnet (HpcNetwork.cluster_subnet is the same one). The
              controller's ENI and every compute node group live there: one AZ, as EFA needs.
      cluster_name: None lets CloudFormation name the cluster; else 3-40 characters of PCS's pattern.
      slurm_version: required: one of the versions PCS lists (catalog.limits.PCS.slurm_versions). No default, so
                     that upgrading the library never upgrades the scheduler under an AMI with the old Slurm.
      size: "SMALL" (32 nodes, 256 jobs), "MEDIUM" (512, 8,192) or "LARGE" (2,048, 16,384): every node group's
            max_instances and the login nodes must fit. Size is create-only: changing it on a deployed cluster
            builds a new cluster (new node groups and queues, running jobs end, accounting data and the endpoint
            are lost). Choose it with headroom, and check an edit with `make diff` first.
      node_groups: NodeGroupSpec per compute node group (at least one).
      queues: () makes one queue per compute node group, named after it; else SlurmQueueSpec per queue.
      login_nodes: None. A LoginNodesSpec: a static node group for users (SSH through an HaBastion or from
                   allowed_cidrs; Session Manager always).
      storage: None. A StorageLayer, a LustreFileSystem or an EfsFileSystem (made alone or imported), or a list
               of them, mounted on every node (compute and login) through the same boot steps that fleets use:
               Lustre at its mount point (/fsx), EFS (e.g. /shared/home). EBS volumes are not mounted on Slurm
               nodes.
      ami_id: None. The AMI of every node group that has none of its own. It must carry the PCS agent and Slurm
              of slurm_version. None (and no group AMI) looks up the newest Amazon Linux 2023 PCS sample AMI whose
              description names the version (AWS publishes them for 25.05, 25.11 and 26.05), which needs the
              stack's account and region.
      image: None. An HpcImage built with slurm_version (the PCS agent and that Slurm, the EFA software, the clients)
             for every node group that has neither an image nor an ami_id of its own (NodeGroupSpec.image: a GPU
             group needs an image built with gpu=True). Not together with ami_id. Its nodes download and install
             nothing at boot: they skip what the image's manifest lists, and check it first.
      image_os: "al2023". What the images run, for every node group that does not say: "al2023", "rhel9" or
                "rocky9" (the boot steps use dnf; Ubuntu and Amazon Linux 2 images are refused).
      root_device_name: None takes the image OS's root device (/dev/xvda for Amazon Linux 2023, /dev/sda1 for
                        RHEL and Rocky); each node group may name its own. The root volume is encrypted gp3.
      install_efa_software: True. When a node group uses EFA, every node checks at first boot that the EFA
                            software is there and otherwise installs the pinned, GPG-verified installer.
      accounting: False. True turns on Slurm accounting (PCS's STANDARD mode: sacct, QOS, fair share), which
                  PCS bills by the hour on top of the cluster. accounting_purge_days: None keeps records
                  as long as the cluster exists; 1-10,000 purges older ones.
      slurm_rest_api: False. True runs slurmrestd (PCS's STANDARD mode, HTTP on 6820 inside the VPC; Slurm
                      25.05 or later), reachable from the nodes' security group.
      scale_down_idle_seconds: 600. How long a dynamic node stays idle before PCS stops it.
      slurm_settings: {}. Cluster-level Slurm parameters from PCS's allow-list (e.g. {"SchedulerParameters": ...}).
      node_role_name: None. The nodes' IAM role gets the /aws-pcs/ path and a generated name; a name must
                      start with AWSPCS unless node_role_path is /aws-pcs/ (PCS's rule for instance roles).
      node_role_path: None is /aws-pcs/.
      ssh_users: None. An SshUsers: the people who may log in (login nodes) and run jobs, with the same account
                 and UID on every node (Slurm runs a job as its user on the compute nodes), no sudo.
      security_group: None makes the nodes' group. A group of yours instead (made in the app, or imported): the
                      cluster adds all traffic to and from itself and the controller's ports (slurmd 6818, srun)
                      to it, storage mounts add theirs; imported with mutable=False it takes none, and the cluster
                      warns naming them. NodeGroupSpec.security_groups and LoginNodesSpec.security_groups add
                      groups of yours to one node group.
      node_role: None makes the nodes' role. A role of yours instead (with neither node_role_name nor
                 node_role_path): its name must start with AWSPCS or its path contain /aws-pcs/ (checked where
                 known at synth). The cluster adds pcs:RegisterComputeNodeGroupInstance on this cluster and what
                 the SSH users and storage need, and attaches AmazonSSMManagedInstanceCore to a role made in the
                 app; a role CDK cannot add to gets a warning naming what it must already have.

    Rules (checked at synth time, in order, by slurm_plan.plan_slurm): names, Slurm version, size, settings,
    each node group (ComputeFleet's plan: known types of one architecture and vCPU count, EFA only where
    supported and then on every card, Spot only where offered), login nodes, queues, the size tier; then the
    node role's name and path.

    Network: the controller's security group admits slurmctld (6817) from the nodes, and slurmdbd (6819) and
    slurmrestd (6820) when on; it reaches slurmd (6818) and srun (SrunPortRange, 60001-63000) on the nodes.
    The nodes' group allows all traffic to and from itself (MPI, EFA, srun between nodes) and all outbound.
    Each node group's launch template carries an interface on every network card (EFA where the plan puts
    it), its subnet, a cluster placement group where the plan has one, IMDSv2 with a hop limit of 1, an
    encrypted root under its image's root device, and user data of its own: its own steps (the EFA software
    only where the group uses EFA), then the steps every node runs (hpc-imds-guard: the metadata service, hence
    the role that may fetch the cluster's Slurm key with pcs:RegisterComputeNodeGroupInstance, for root only;
    the storage's mounts). A node whose boot step failed is drained in Slurm with the failed steps as its
    reason, once slurmd has registered it (hpc-slurm-drain), so it takes no job.

    Names: a node group's PCS name is <name>-<4 hex digits of its instance types>, so that a change of instance
    types (create-only) makes a new group under a new name instead of failing on the old one's; queue names
    (the Slurm partitions) do not change.

    Attributes: cluster (the CfnCluster), node_groups (name -> SlurmNodeGroup), queues (name -> CfnQueue),
    login_nodes (the login SlurmNodeGroup or None), security_group (the nodes'), controller_security_group,
    login_security_group (None without login nodes), connections (the nodes' group), endpoint (the cluster's
    Endpoints attribute: slurmctld's address and port first), node_role, instance_profile, user_data (the
    boot commands every node runs, a boot.BootCommands; each node group renders them into its own user data),
    plan.
    StorageLayer.mount_on(cluster) mounts storage on every node group (a mounting.MountTarget).
    """

    @check_kinds
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc,
        node_groups: Sequence[NodeGroupSpec],
        subnet: ec2.ISubnet | None = None,
        cluster_name: str | None = None,
        slurm_version: str | None = None,  # required: refused with the versions PCS lists
        size: str = "SMALL",
        queues: Sequence[SlurmQueueSpec] = (),
        login_nodes: LoginNodesSpec | None = None,
        storage: Mountable | Sequence[Mountable] | None = None,
        ami_id: str | None = None,
        image: HpcImage | None = None,
        image_os: str = "al2023",  # the PCS sample AMIs' too
        root_device_name: str | None = None,
        install_efa_software: bool = True,
        accounting: bool = False,
        accounting_purge_days: int | None = None,
        slurm_rest_api: bool = False,
        scale_down_idle_seconds: int = PCS.default_scale_down_idle_seconds,
        slurm_settings: Mapping[str, str] = MappingProxyType({}),
        node_role_name: str | None = None,
        node_role_path: str | None = None,
        ssh_users: SshUsers | None = None,
        security_group: ec2.ISecurityGroup | None = None,
        node_role: iam.IRole | None = None,
    ) -> None:
        super().__init__(scope, id)
        path = self.node.path
        (cluster_subnet,) = select_subnets(path, vpc, subnet, None)
        login_subnet = _login_subnet(path, vpc, login_nodes, cluster_subnet)
        stack = Stack.of(self)
        self.plan: SlurmPlan = plan_slurm(
            path, cluster_name=cluster_name, slurm_version=slurm_version, size=size, node_groups=node_groups,
            queues=queues, login_nodes=login_nodes, ami_id=ami_id, root_device_name=root_device_name, image_os=image_os,
            install_efa_software=install_efa_software, scale_down_idle_seconds=scale_down_idle_seconds,
            slurm_settings=slurm_settings, accounting=accounting, accounting_purge_days=accounting_purge_days,
            slurm_rest_api=slurm_rest_api, route_out=not without_route_out(vpc, [cluster_subnet]),
            login_subnet_public=login_subnet is not None and _is_public(vpc, login_subnet),
            sample_ami_lookup=not Token.is_unresolved(stack.account) and not Token.is_unresolved(stack.region),
            image=image)
        role_name, role_path = check_node_role(path, node_role_name, node_role_path)
        if node_role is not None:
            _check_given_role(path, node_role, node_role_name, node_role_path)
        plan = self.plan
        self._launchers: list[pcs.CfnComputeNodeGroup] = []
        self._launch_after: list[IDependable] = []

        # -- security groups: the controller's ENI, the nodes, SSH to the login nodes -------------------
        self.controller_security_group = ec2.SecurityGroup(
            self, "ControllerSecurityGroup", vpc=vpc, allow_all_outbound=False,
            description=f"{path}: the PCS Slurm controller ENI (slurmctld)")
        self.security_group: ec2.ISecurityGroup = security_group or ec2.SecurityGroup(
            self, "NodeSecurityGroup", vpc=vpc, allow_all_outbound=True,
            description=f"{path}: Slurm nodes; all traffic to and from itself (MPI, EFA, srun)")
        self._connections = ec2.Connections(security_groups=[self.security_group])
        self.path_endpoint = paths.groups(f"{path} nodes", self.security_group.security_group_id)  # every group's
        self._rules = self._slurm_rules()

        # -- the controller ---------------------------------------------------------------------------
        self.cluster = pcs.CfnCluster(
            self, "Resource", name=plan.cluster_name, size=plan.size,
            scheduler=pcs.CfnCluster.SchedulerProperty(type="SLURM", version=plan.slurm_version),
            networking=pcs.CfnCluster.NetworkingProperty(
                subnet_ids=[cluster_subnet.subnet_id],
                security_group_ids=[self.controller_security_group.security_group_id]),
            slurm_configuration=pcs.CfnCluster.SlurmConfigurationProperty(
                scale_down_idle_time_in_seconds=plan.scale_down_idle_seconds,
                slurm_custom_settings=_custom_settings(pcs.CfnCluster.SlurmCustomSettingProperty, plan.slurm_settings),
                accounting=pcs.CfnCluster.AccountingProperty(
                    mode="STANDARD", default_purge_time_in_days=plan.accounting_purge_days)
                if plan.accounting else None,
                slurm_rest=pcs.CfnCluster.SlurmRestProperty(mode="STANDARD") if plan.slurm_rest_api else None,
            ))
        # The controller's ENI starts with its rules in place.
        self.cluster.node.add_dependency(*self._rules)
        self._declare_rule_paths()
        self.endpoint = self.cluster.attr_endpoints

        # -- what every node runs with: role, instance profile, user data -------------------------------
        self.node_role = instance_role(
            self, node_role, id="NodeRole", role_name=role_name, path=role_path,
            description=f"{path}: Slurm nodes (PCS compute node groups)", policies={SSM_POLICY: SSM_REASON},
            why="Session Manager on the Slurm nodes")
        # The one permission PCS documents for its nodes, on this cluster only. Service Authorization Reference,
        # 'Actions, resources, and condition keys for AWS Parallel Computing Service': RegisterComputeNodeGroupInstance
        # takes the resource type cluster* (arn:${Partition}:pcs:${Region}:${Account}:cluster/${ClusterIdentifier}),
        # so the cluster's ARN is what the action accepts; AWSPCSComputeNodePolicy grants it on "*".
        add_statement(self, self.node_role, iam.PolicyStatement(
            actions=["pcs:RegisterComputeNodeGroupInstance"], resources=[self.cluster.attr_arn]),
            why="registering the nodes with the cluster (and fetching its Slurm key)")
        who = paths.role(self.node_role, f"{path} node role")
        role_paths = role_anchor(self.node_role, self.cluster)
        paths.declare_iam(role_paths, who, ["pcs:RegisterComputeNodeGroupInstance"], [self.cluster.attr_arn],
                          on=f"the cluster {path}", why="every node registers at boot")
        paths.declare_iam(role_paths, who, paths.SSM_ACTIONS, ["*"], on="any resource",
                          why="Session Manager")
        self.instance_profile = iam.CfnInstanceProfile(self, "InstanceProfile", roles=[self.node_role.role_name],
                                                       path=role_path)
        # What every node runs at boot, recorded once and rendered into each node group's own user data after that
        # group's own steps; StorageLayer.mount_on adds the mounts here.
        self.user_data = boot.BootCommands()
        nodes = shared_boot_nodes(self, commands=self.user_data, role=self.node_role,
                                  security_groups=[self.security_group])
        nodes.install_boot_script(boot.IMDS_GUARD_SCRIPT)
        nodes.add_boot_commands(*boot.imds_guard())
        if ssh_users is not None:  # the same accounts and UIDs on login and compute nodes (Slurm runs jobs as them)
            if not isinstance(ssh_users, SshUsers):
                raise ConfigError(path, "ssh_users", type(ssh_users).__name__, "an SshUsers")
            nodes.add_boot_commands(*ssh_users.boot_commands(self))
            add_statement(self, self.node_role, ssh_users.read_statement(), why="the SSH users' sync on the nodes")
            ssh_users.declare_read(role_paths, self.node_role)
        nodes.install_boot_script(DRAIN_SCRIPT)
        nodes.add_boot_commands(*boot.systemd_unit(DRAIN_UNIT, "\n".join([
            "[Unit]",
            "Description=hpc-constructs: drain this node in Slurm when a boot step failed",
            "After=network-online.target",
            "[Service]",
            "Type=oneshot",
            f"EnvironmentFile={DRAIN_ENV_FILE}",
            f"ExecStart=/usr/local/sbin/{DRAIN_SCRIPT} ${{HPC_DRAIN_REASON}}",
            "TimeoutStartSec=2100"])))

        # -- node groups, login nodes, queues -----------------------------------------------------------
        self.node_groups: dict[str, SlurmNodeGroup] = {}
        extra = {spec.name: list(spec.security_groups) for spec in node_groups}
        for group in plan.node_groups:
            self.node_groups[group.name] = self._node_group(group, cluster_subnet,
                                                            [self.security_group, *extra[group.name]], False)
        self.login_security_group: ec2.SecurityGroup | None = None
        self.login_nodes: SlurmNodeGroup | None = None
        if plan.login is not None and login_nodes is not None and login_subnet is not None:
            self.login_security_group = ec2.SecurityGroup(
                self, "LoginSecurityGroup", vpc=vpc, allow_all_outbound=False,
                description=f"{path}: SSH to the login nodes")
            self._allow_ssh(plan, login_nodes)
            self.login_nodes = self._node_group(plan.login.group, login_subnet,
                                                [self.security_group, self.login_security_group,
                                                 *login_nodes.security_groups],
                                                _is_public(vpc, login_subnet))
        self.queues: dict[str, pcs.CfnQueue] = {}
        for queue in plan.queues:
            self.queues[queue.name] = pcs.CfnQueue(
                self, f"Queue-{queue.name}", cluster_id=self.cluster.attr_id, name=queue.name,
                compute_node_group_configurations=[
                    pcs.CfnQueue.ComputeNodeGroupConfigurationProperty(
                        compute_node_group_id=self.node_groups[name].resource.attr_id)
                    for name in queue.node_groups],
                slurm_configuration=pcs.CfnQueue.SlurmConfigurationProperty(
                    slurm_custom_settings=_custom_settings(pcs.CfnQueue.SlurmCustomSettingProperty,
                                                           queue.slurm_settings))
                if queue.slurm_settings else None)
        for name in plan.unqueued:
            Annotations.of(self.node_groups[name]).add_warning_v2(
                "hpc-constructs:slurm-unqueued-node-group",
                f"No queue names node group {name}: Slurm never schedules jobs on it"
                + (f", yet its {self.node_groups[name].plan.min_instances} static nodes run and cost money."
                   if self.node_groups[name].plan.min_instances else "."))

        for item in storage_items(storage):
            mount_storage(item, self)
        self._figures()

    # -- mounting.MountTarget -------------------------------------------------------------------------

    @property
    def connections(self) -> ec2.Connections:
        """The nodes' security group (ec2.IConnectable): what storage and clients open their ports to."""
        return self._connections

    @property
    def role(self) -> iam.IRole:
        """The nodes' role (mounting.MountTarget): storage grants go to it."""
        return self.node_role

    def launch_after(self, *constructs: IDependable) -> None:
        """No node group launches nodes before `constructs` exist (the storage's rules and mount targets)."""
        self._launch_after.extend(constructs)
        for launcher in self._launchers:
            launcher.node.add_dependency(*constructs)

    # -- building blocks -------------------------------------------------------------------------------

    def _slurm_rules(self) -> list[Construct]:
        """The rules between the controller and the nodes, and among the nodes (PCS User Guide ports)."""
        plan = self.plan
        controller = self.controller_security_group.security_group_id
        nodes = self.security_group.security_group_id
        rules: list[Construct] = given_self_rules(
            self, self.security_group, ("All traffic between Slurm nodes (MPI, EFA, srun, slurmd)",
                                        "All traffic between Slurm nodes (EFA OS-bypass is not IP)"),
            ids=("NodesSelfIngress", "NodesSelfEgress"), what="the Slurm nodes")
        fixed = not takes_rules(self.security_group)
        inbound = [("slurmctld", "slurmctld from the nodes")]
        if plan.accounting:
            inbound.append(("slurmdbd", "slurmdbd (accounting) from the nodes: sacct, sacctmgr"))
        if plan.slurm_rest_api:
            inbound.append(("slurmrestd", "slurmrestd (Slurm REST API, HTTP) from the nodes"))
        for daemon, description in inbound:
            low, high = PCS_PORTS[daemon]
            rules.append(ec2.CfnSecurityGroupIngress(
                self, f"ControllerFromNodes-{daemon}", group_id=controller, source_security_group_id=nodes,
                ip_protocol="tcp", from_port=low, to_port=high, description=description))
        outbound = [("slurmd", PCS_PORTS["slurmd"], "slurmctld to slurmd on the nodes"),
                    ("srun", plan.srun_ports, "slurmctld to srun on the nodes (SrunPortRange)")]
        for daemon, (low, high), description in outbound:
            rules.append(ec2.CfnSecurityGroupEgress(
                self, f"ControllerToNodes-{daemon}", group_id=controller, destination_security_group_id=nodes,
                ip_protocol="tcp", from_port=low, to_port=high, description=description))
            if not fixed:
                rules.append(ec2.CfnSecurityGroupIngress(
                    self, f"NodesFromController-{daemon}", group_id=nodes, source_security_group_id=controller,
                    ip_protocol="tcp", from_port=low, to_port=high, description=description))
        if fixed:
            warn_fixed_group(self, self.security_group.node.path, [
                f"TCP {low}-{high} from {self.controller_security_group.node.path} (slurmd, srun)"
                for _, (low, high), _ in outbound], why="the Slurm controller reaching the nodes")
        return rules

    def _declare_rule_paths(self) -> None:
        """The paths _slurm_rules opens: among the nodes, and between the nodes and the controller."""
        plan = self.plan
        nodes = self.path_endpoint
        controller = paths.resource(self.cluster, f"{self.node.path} controller")
        paths.declare_network(self.cluster, nodes, nodes, protocol="all", both_directions=True,
                              efa=any(g.fleet.efa for g in plan.node_groups), why="MPI, EFA, srun, slurmd")
        inbound = [("slurmctld", "slurmctld")] + ([("slurmdbd", "accounting")] if plan.accounting else []) + (
            [("slurmrestd", "Slurm REST API")] if plan.slurm_rest_api else [])
        for daemon, why in inbound:
            paths.declare_network(self.cluster, nodes, controller, ports=[PCS_PORTS[daemon]], why=why)
        for daemon, ports in (("slurmd", PCS_PORTS["slurmd"]), ("srun", plan.srun_ports)):
            paths.declare_network(self.cluster, controller, nodes, ports=[ports], why=daemon)

    def _allow_ssh(self, plan: SlurmPlan, spec: LoginNodesSpec) -> None:
        assert plan.login is not None and self.login_security_group is not None
        ssh = ec2.Port.tcp(22)
        if plan.login.ssh == "bastion" and spec.bastion is not None:
            where = spec.bastion.node.path if isinstance(spec.bastion, Construct) else "the bastion"
            self.login_security_group.connections.allow_from(spec.bastion, ssh, f"SSH from {where}")
            paths.declare_ssh(self.login_security_group, spec.bastion, paths.groups(
                f"{self.node.path} login nodes", self.login_security_group.security_group_id))
        for cidr in plan.login.allowed_cidrs:
            peer = ec2.Peer.ipv6(cidr) if ":" in cidr else ec2.Peer.ipv4(cidr)
            self.login_security_group.add_ingress_rule(peer, ssh, f"SSH from {cidr}")

    def _node_group(self, group: NodeGroupPlan, subnet: ec2.ISubnet, groups: Sequence[ec2.ISecurityGroup],
                    public_ip: bool) -> SlurmNodeGroup:
        image = group.ami_id
        if image is None:
            name = PCS.sample_ami_name.format(architecture=group.fleet.architecture)
            described = PCS.sample_ami_description.format(version=self.plan.slurm_version)
            image = ec2.MachineImage.lookup(name=name, owners=[PCS.sample_ami_owner],
                                            filters={"description": [described]}).get_image(self).image_id
            pending_lookup = not Token.is_unresolved(image) and not _REAL_AMI.fullmatch(image)
        else:
            pending_lookup = False
        node_group = SlurmNodeGroup(
            self, f"NodeGroup-{group.name}", plan=group, cluster=self.cluster, subnet=subnet,
            security_groups=groups, user_data=self._user_data(group), image_id=image,
            instance_profile_arn=self.instance_profile.attr_arn, public_ip=public_ip)
        if pending_lookup:  # CDK's placeholder until the CLI has looked the AMI up and synthesizes again
            Validations.of(node_group.resource).acknowledge(Acknowledgment(
                id="CloudFormation-Validate::E1152",
                reason="CDK's placeholder AMI ID until the CDK CLI looks up the PCS sample AMI (missing context)."))
        # Nodes register with the cluster at boot: the role's policy and every Slurm rule exist first.
        node_group.resource.node.add_dependency(self.node_role, *self._rules)
        endpoint = paths.nodes(node_group.resource, f"{node_group.node.path} nodes")
        paths.declare_imds(node_group.resource, endpoint, max_hop_limit=1,
                           why="the node role registers, and RegisterComputeNodeGroupInstance returns the Munge key")
        paths.declare_services(node_group.resource, endpoint, ["pcs"], why="registration at boot")
        paths.declare_services(node_group.resource, endpoint, paths.SSM, why="Session Manager")
        if self.plan.efa_software == "install":  # every group's user data runs the install step
            paths.declare_services(node_group.resource, endpoint, ["internet"],
                                   why="EFA installer download at first boot, efa-installer.amazonaws.com")
        if self._launch_after:
            node_group.resource.node.add_dependency(*self._launch_after)
        self._launchers.append(node_group.resource)
        return node_group

    def _user_data(self, group: NodeGroupPlan) -> ec2.MultipartUserData:
        """The node group's own user data: the boot prelude, its own steps, then what every node runs.

        PCS merges its own user data with the launch template's, which must be MIME multi-part; shell parts run
        after the node registers and before slurmd starts, so jobs find the mounts in place.
        """
        user_data = ec2.UserData.for_linux()
        user_data.add_on_exit_commands("hpc_slurm_drain_on_failure", *boot.ON_EXIT)
        installed = group.image.contents if group.image is not None else frozenset()
        user_data.add_commands(*boot.PRELUDE, *DRAIN_ON_FAILURE, *boot.image_check(installed))
        if group.fleet.efa_software == "install":
            installer = group.fleet.efa_installer
            user_data.add_commands(*boot.install_boot_script("hpc-efa-install"), boot.step(
                f"EFA software {installer.version}", "/usr/local/sbin/hpc-efa-install", installer.version,
                installer.key_fingerprint))
        user_data.add_commands(Lazy.string(_Rendered(self.user_data, installed)))
        multipart = ec2.MultipartUserData()
        multipart.add_user_data_part(user_data, ec2.MultipartBody.SHELL_SCRIPT, True)
        self.node.add_validation(UserDataFits(self, multipart))
        return multipart

    def _figures(self) -> None:
        plan = self.plan
        self.node.add_metadata("hpc:figures", {
            "Slurm": f"{plan.slurm_version} on AWS PCS",
            "size tier": f"{plan.size}: {plan.max_nodes:,} of {plan.size_max_nodes:,} nodes at full scale "
                         f"(headroom {plan.headroom:,}), up to {PCS.size_max_jobs[plan.size]:,} jobs",
            "login nodes": "none" if plan.login is None else
            f"{plan.login.group.max_instances} x {plan.login.group.fleet.instance_types[0].name}, SSH "
            + {"bastion": "through the bastion", "cidrs": "from " + ", ".join(plan.login.allowed_cidrs),
               "none": "off (Session Manager only)"}[plan.login.ssh],
            "node groups (PCS names, Slurm node names <name>-<n>)": ", ".join(
                f"{g.name}: {g.pcs_name}" for g in [*plan.node_groups, *([plan.login.group] if plan.login else [])]),
            "accounting": "STANDARD (billed by the hour)" if plan.accounting else "off",
            "Slurm REST API": "STANDARD (HTTP 6820 in the VPC)" if plan.slurm_rest_api else "off",
        })
        for queue in plan.queues:
            groups = [plan.group(name) for name in queue.node_groups]
            self.node.add_metadata("hpc:figures", {
                f"queue {queue.name}": "; ".join(
                    f"{g.name}: up to {g.max_instances} x {'/'.join(t.name for t in g.fleet.instance_types)} "
                    f"{'Spot' if g.purchase_option == 'SPOT' else 'On-Demand'}, "
                    + (f"EFA {g.efa_bandwidth_gbps:g} Gbps per node ({g.fleet.efa_interface_count} interfaces)"
                       if g.fleet.efa else "no EFA")
                    for g in groups),
            })

    # -- monitoring (HpcDashboard) ---------------------------------------------------------------------

    def monitoring(self, scope: Construct, settings: MonitoringSettings | None = None) -> Monitoring:
        """The node groups' configured capacity, as a table; no alarm (hpc_constructs.monitoring).

        AWS PCS publishes no CloudWatch metrics (catalog.metrics.NOT_PUBLISHED: its monitoring guide lists the
        scheduler and job completion logs and CloudTrail), so a node group's live node count cannot be graphed or
        alarmed on; the dashboard states each group's bounds and the size tier's headroom instead.
        """
        from aws_cdk import aws_cloudwatch as cloudwatch

        from hpc_constructs.catalog.metrics import NOT_PUBLISHED
        from hpc_constructs.dashboard_plan import DASHBOARD_GRID_WIDTH

        plan = self.plan
        groups = [*plan.node_groups, *([plan.login.group] if plan.login else [])]
        rows = [f"| {g.name} | {g.pcs_name} | {', '.join(t.name for t in g.fleet.instance_types)} | "
                f"{g.min_instances}-{g.max_instances} | {g.purchase_option} | {'yes' if g.fleet.efa else 'no'} |"
                for g in groups]
        markdown = "\n".join([
            f"**Slurm {plan.slurm_version} on AWS PCS, size {plan.size}**: {plan.max_nodes:,} of "
            f"{plan.size_max_nodes:,} nodes at full scale (headroom {plan.headroom:,}). PCS publishes no CloudWatch "
            "metrics: these are the configured bounds, not a live count.",
            "",
            "| node group | PCS name | instance types | nodes | purchase | EFA |",
            "|---|---|---|---|---|---|",
            *rows,
        ])
        result = Monitoring(title=f"{self.node.path} (SlurmCluster)")
        result.widgets.append(cloudwatch.TextWidget(markdown=markdown, width=DASHBOARD_GRID_WIDTH,
                                                    height=3 + len(rows)))
        result.notes.append(NOT_PUBLISHED["AWS PCS (SlurmCluster)"])
        return result


class SlurmNodeGroup(Construct):
    """One PCS compute node group: a launch template laid out by ComputeFleet's plan, and the CfnComputeNodeGroup.

    Made by SlurmCluster. The launch template carries an interface on every network card (EFA where the plan
    puts it; no public IP, except a login node in a public subnet), the node group's subnet on each
    interface, the cluster placement group where the plan has one, IMDSv2 required and an encrypted gp3 root
    volume. PCS passes the instance profile and instance types itself.

    Attributes: resource (the CfnComputeNodeGroup), launch_template, user_data (its MIME multi-part user data),
    placement_group (None without one), plan.
    """

    @check_kinds
    def __init__(self, scope: Construct, id: str, *, plan: NodeGroupPlan, cluster: pcs.CfnCluster,
                 subnet: ec2.ISubnet, security_groups: Sequence[ec2.ISecurityGroup], user_data: ec2.UserData,
                 image_id: str, instance_profile_arn: str, public_ip: bool) -> None:
        super().__init__(scope, id)
        self.plan = plan
        self.user_data = user_data
        fleet = plan.fleet
        self.launch_template = ec2.LaunchTemplate(
            self, "LaunchTemplate", user_data=user_data, require_imdsv2=True,
            http_tokens=ec2.LaunchTemplateHttpTokens.REQUIRED,
            # 1: the PCS agent, its registration and slurmd run as root on the host (one hop). PCS's launch-template
            # page shows 4 and states no need for it; a higher limit would let a container on the docker bridge
            # (its packets take FORWARD, not OUTPUT, past hpc-imds-guard's owner rule) reach the service.
            http_put_response_hop_limit=1,
        )
        cfn_template = self.launch_template.node.default_child
        assert isinstance(cfn_template, ec2.CfnLaunchTemplate)
        interfaces = launch_template_interfaces(fleet.interfaces, [g.security_group_id for g in security_groups])
        subnet_id = subnet.subnet_id  # one jsii read, not one per interface (p5.48xlarge has 32)
        for interface in interfaces:
            interface["SubnetId"] = subnet_id  # as PCS's EFA launch templates do: the node group's subnet
        if public_ip:
            interfaces[0]["AssociatePublicIpAddress"] = True
        cfn_template.add_property_override("LaunchTemplateData.NetworkInterfaces", interfaces)
        root: dict[str, object] = {"DeleteOnTermination": True, "Encrypted": True, "VolumeType": "gp3"}
        if fleet.root_volume_size_gib is not None:
            root["VolumeSize"] = fleet.root_volume_size_gib
        cfn_template.add_property_override("LaunchTemplateData.BlockDeviceMappings",
                                           [{"DeviceName": fleet.image.root_device_name, "Ebs": root}])
        self.placement_group: ec2.PlacementGroup | None = None
        if fleet.placement_group:
            self.placement_group = cluster_placement_group(self, "PlacementGroup")
            cfn_template.add_property_override("LaunchTemplateData.Placement.GroupName",
                                               self.placement_group.placement_group_name)
        spot = plan.purchase_option == "SPOT"
        self.resource = pcs.CfnComputeNodeGroup(
            self, "Resource", cluster_id=cluster.attr_id, name=plan.pcs_name,
            iam_instance_profile_arn=instance_profile_arn,
            instance_configs=[pcs.CfnComputeNodeGroup.InstanceConfigProperty(instance_type=t.name)
                              for t in fleet.instance_types],
            scaling_configuration=pcs.CfnComputeNodeGroup.ScalingConfigurationProperty(
                min_instance_count=plan.min_instances, max_instance_count=plan.max_instances),
            subnet_ids=[subnet.subnet_id],
            ami_id=image_id,
            custom_launch_template=pcs.CfnComputeNodeGroup.CustomLaunchTemplateProperty(
                template_id=self.launch_template.launch_template_id,
                version=self.launch_template.latest_version_number),
            purchase_option=plan.purchase_option,
            spot_options=pcs.CfnComputeNodeGroup.SpotOptionsProperty(allocation_strategy=PCS.spot_allocation_strategy)
            if spot else None,
            slurm_configuration=pcs.CfnComputeNodeGroup.SlurmConfigurationProperty(
                slurm_custom_settings=_custom_settings(pcs.CfnComputeNodeGroup.SlurmCustomSettingProperty,
                                                       plan.slurm_settings))
            if plan.slurm_settings else None,
        )


@jsii.implements(IStableStringProducer)
class _Rendered:
    """The cluster's shared boot commands as one block for one node group, rendered when the template is written
    (after the storage has added its mounts)."""

    def __init__(self, commands: boot.BootCommands, installed: frozenset[str]) -> None:
        self._commands = commands
        self._installed = installed  # what the node group's image holds: its installs are left out

    def produce(self) -> str:
        return "\n".join(boot.without_installed(self._commands.lines, self._installed))


def _custom_settings(kind: Any, pairs: Sequence[tuple[str, str]]) -> Any:
    """SlurmCustomSettings as `kind` (the cluster's, node group's or queue's SlurmCustomSettingProperty), or None."""
    return [kind(parameter_name=k, parameter_value=v) for k, v in pairs] or None


def _check_given_role(path: str, role: iam.IRole, name: str | None, role_path: str | None) -> None:
    """A node_role of the user's: not with node_role_name or node_role_path, and named as PCS requires (a name
    starting with AWSPCS or /aws-pcs/ in its path) where its ARN or name is known at synth."""
    if name is not None or role_path is not None:
        raise ConfigError(path, "node_role_name" if name is not None else "node_role_path", name or role_path,
                          "None with node_role", hint="Those name the role the cluster makes; node_role is yours.")
    arn, role_name = role.role_arn, role.role_name
    known = [text for text in (arn, role_name) if not Token.is_unresolved(text)]
    if not known:
        return  # a role made in the app with a generated name: CloudFormation names it at deploy time
    ok = (not Token.is_unresolved(arn) and PCS.instance_role_path in arn.split(":role", 1)[-1]) or (
        not Token.is_unresolved(role_name) and role_name.startswith(PCS.instance_role_name_prefix))
    if not ok:
        raise ConfigError(path, "node_role", role_name if not Token.is_unresolved(role_name) else arn,
                          f"a role whose name starts with {PCS.instance_role_name_prefix} or whose path contains "
                          f"{PCS.instance_role_path}",
                          hint="PCS refuses a compute node group whose instance profile's role has neither (PCS User "
                               "Guide, 'IAM instance profiles for AWS PCS').")


def _is_public(vpc: ec2.IVpc, subnet: ec2.ISubnet) -> bool:
    return subnet.node.path in {s.node.path for s in vpc.public_subnets}


def _login_subnet(path: str, vpc: ec2.IVpc, spec: LoginNodesSpec | None, cluster_subnet: ec2.ISubnet
                  ) -> ec2.ISubnet | None:
    """The login nodes' subnet: the one given, a public one for SSH from allowed_cidrs, else the cluster's."""
    if spec is None or not isinstance(spec, LoginNodesSpec):
        return None
    if spec.subnet is not None:
        return spec.subnet
    if spec.bastion is None and spec.allowed_cidrs:
        public = list(vpc.public_subnets)
        if not public:
            raise ConfigError(f"{path}/{spec.name}", "subnet", None, "a public subnet for SSH from allowed_cidrs",
                              hint="The VPC has no public subnet. Reach the login nodes through an HaBastion "
                                   "(bastion=), or pass subnet= a public subnet.")
        return public[0]
    return cluster_subnet
