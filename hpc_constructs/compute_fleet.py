"""ComputeFleet: EC2 capacity for tightly coupled HPC, with EFA on every network card."""

from __future__ import annotations

from collections.abc import Sequence

import jsii
from aws_cdk import Acknowledgment, Stack, Tags, Validations
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct, IValidation

from hpc_constructs import boot, paths
from hpc_constructs.catalog import InstanceType
from hpc_constructs.catalog.limits import EC2_USER_DATA_MAX_BYTES, ROOT_VOLUME
from hpc_constructs.catalog.software import EFA, SCRATCH_TOOLS
from hpc_constructs.errors import ConfigError
from hpc_constructs.fleet_plan import FleetPlan, launch_template_interfaces, plan_fleet
from hpc_constructs.given import (
    SSM_POLICY,
    SSM_REASON,
    add_statement,
    instance_role,
    role_anchor,
    self_rules,
    takes_rules,
    warn_fixed_group,
)
from hpc_constructs.image_plan import check_image_for, image_plan_of
from hpc_constructs.kinds import check_kinds
from hpc_constructs.monitoring import Monitoring, MonitoringSettings
from hpc_constructs.ssh_users import SshUsers

SCRATCH_MOUNT_POINT = "/scratch"
# Every instance carries this tag (value: the fleet's construct path), so that IAM policies can name
# the fleet's instances without referring to the Auto Scaling group (which would be a cycle).
FLEET_TAG_KEY = "hpc-constructs:fleet"

EBS_DEVICE_LETTERS = "fghijklmnopqrstuvwxyz"  # the names EC2 recommends for EBS volumes on Linux
# The group metrics that monitoring() turns on (Auto Scaling collects none unless asked; they cost nothing).
FLEET_GROUP_METRICS = ("GroupDesiredCapacity", "GroupInServiceInstances", "GroupPendingInstances",
                       "GroupTerminatingInstances")



@jsii.implements(ec2.IConnectable, iam.IGrantable)
class ComputeFleet(Construct):
    """EC2 capacity for tightly coupled HPC: EFA on every card, one AZ, a cluster placement group.

    Props (keyword-only) and their defaults:
      vpc: the VPC (required).
      instance_types: one or more catalog names, e.g. ["p5.48xlarge"] (required; at most 40).
      efa: None turns EFA on when every instance type supports it. True on a type without EFA is a
           ConfigError.
      subnet: None places the fleet in one private subnet of the VPC (the first; pass
              HpcNetwork.cluster_subnet to choose it).
      vpc_subnets: None. A selection of several subnets, only for fleets without EFA and without a
                   cluster placement group (both live in a single AZ). Not together with `subnet`.
      placement_group: None adds a cluster placement group when every type supports the cluster
                       strategy and the fleet has one subnet. True on a type without it is a ConfigError.
      spot: False. True runs Spot capacity with the price-capacity-optimized allocation strategy and
            capacity rebalancing; False runs On-Demand.
      min_capacity: 0, max_capacity: 1, desired_capacity: None (left to scaling). 0 <= min <= desired <= max.
      subnet / vpc_subnets: None picks the VPC's first private subnet, else its first isolated one; a
                  VPC with only public subnets is a ConfigError unless the subnet is passed (nodes get
                  no public IP, so a public subnet gives them no route out).
      machine_image: None uses, from its public SSM parameter (resolved at deploy time), the latest
                     Amazon Linux 2023 for the types' architecture, or for GPU types the AWS Deep
                     Learning Base OSS Nvidia Driver GPU AMI (Amazon Linux 2023: NVIDIA driver, fabric
                     manager for NVSwitch, GDRCopy, EFA software). GPU types that image does not support
                     (p3dn, g7, g6f, gr6f) need a machine_image. The boot scripts use dnf and systemd:
                     Amazon Linux 2023 or a RHEL 9 family image. See catalog/software.py. An HpcImage (built
                     by the app, with the EFA software and the clients) needs no root_device_name, and the
                     nodes skip at boot what it holds (the first boot step checks its manifest).
      root_device_name: None. Required with machine_image (e.g. "/dev/xvda" on Amazon Linux,
                        "/dev/sda1" on Ubuntu and RHEL): the encrypted gp3 root is mapped under it.
      root_volume_size_gib: None gives 64 GiB on Amazon Linux 2023 and the image's own size on other
                            images. Encrypted gp3 root volume, deleted with the node.
      install_efa_software: True. On an EFA fleet whose image lacks the EFA software, the first boot
                            downloads the pinned EFA installer, checks its GPG signature against the
                            pinned key fingerprint, and runs it. False: the image has it. In an isolated
                            subnet (no route out) True is a ConfigError.
      efa_installer_version: None pins catalog.software.EFA_INSTALLER (1.51.0); another release number
                             (1.25.0 or later).
      efa_installer_key_fingerprint: None pins the fingerprint AWS documents for the installer's key.
      notifications_topic: None. An SNS topic for the group's launch/terminate notifications.
      ssh_users: None. An SshUsers: the people who may SSH to the nodes (through an HaBastion), each with their
                 own account (the same UID on every node), their keys, no sudo.
      security_group: None makes one (all outbound). A group of yours (ec2.SecurityGroup, or imported with
                      SecurityGroup.from_security_group_id) instead: the fleet adds all traffic to and from itself
                      to it (MPI, EFA), allow_ssh_from and storage mounts add theirs. One imported with
                      mutable=False takes no rule: the fleet warns, naming the rules it must already have.
      role: None makes one. A role of yours (iam.Role, or imported with Role.from_role_arn) for the nodes: the
            fleet attaches AmazonSSMManagedInstanceCore to a role made in the app and adds the statements the
            nodes need (the SSH users' parameter; storage mounts add theirs). A role CDK cannot add to (imported
            with mutable=False, from another account, without_policy_updates()) gets a warning naming what it
            must already have; so does an imported role for the managed policy (CDK attaches none to it).

    Rules (checked at synth time, in this order, by fleet_plan.plan_fleet):
      known, distinct instance types; ENA on every type; one (Linux) architecture; EFA only where
      every type has it; Spot only where offered; cluster placement only where supported; EFA and
      cluster placement in exactly one subnet; 0 <= min <= desired <= max; the image (GPU types);
      root volume size; EFA software (version, fingerprint, route out).

    Boot: user data of named steps (hpc_constructs.boot): a failed step never skips the ones after
    it, and the user data exits 1 naming them (cloud-init status; /var/lib/hpc-constructs/failed-steps).
    User data longer than EC2's 16 KB fails synth, naming the fleet.
    Instance-store NVMe disks are striped and mounted at /scratch by a unit run at every boot. The
    Auto Scaling group waits for the security-group rules its nodes need.

    Network layout: one interface on every network card, so the instance can use its full
    bandwidth. We use AWS's recommended layout (ENA primary at card 0/device 0, efa-only at card 0/
    device 1 and at device 0 of every further EFA-capable card), rather than EFA on the primary,
    because efa-only interfaces take no IPv4 address (a 32-card p5.48xlarge fleet would otherwise
    drain the subnet) and it is the only layout that also fits types whose card 0 is ENA-only
    (p6-b300). Further cards that cannot take EFA, or that come after MaximumEfaInterfaces is used
    up, get an ENA interface at device 1. No interface gets a public IP. See fleet_plan.efa_layout.

    SSH: nodes admit nothing from outside the fleet until asked: `fleet.allow_ssh_from(bastion)`.

    Attributes: launch_template, placement_group (None without one), security_group, connections, subnets,
    grant_principal (the nodes' role: the fleet is iam.IGrantable, so bucket.grant_read(fleet) works),
    installed_boot_scripts,
    auto_scaling_group, role, user_data, fleet_tag (instance tag key and value), instance_types
    (catalog records), plan, network_bandwidth_gbps (what the configured interfaces carry) and
    max_network_bandwidth_gbps (the type's full bandwidth).
    """

    @check_kinds
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc,
        instance_types: Sequence[str],
        efa: bool | None = None,
        subnet: ec2.ISubnet | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        placement_group: bool | None = None,
        spot: bool = False,
        min_capacity: int = 0,
        max_capacity: int = 1,
        desired_capacity: int | None = None,
        machine_image: ec2.IMachineImage | None = None,
        root_device_name: str | None = None,
        root_volume_size_gib: int | None = None,
        install_efa_software: bool = True,
        efa_installer_version: str | None = None,
        efa_installer_key_fingerprint: str | None = None,
        notifications_topic: sns.ITopic | None = None,
        ssh_users: SshUsers | None = None,
        security_group: ec2.ISecurityGroup | None = None,
        role: iam.IRole | None = None,
    ) -> None:
        super().__init__(scope, id)
        image = image_plan_of(machine_image)
        if image is not None:
            root_device_name = root_device_name or image.root_device_name
            install_efa_software = install_efa_software and EFA not in image.contents
            if root_volume_size_gib is None and image.root_volume_size_gib is not None:
                root_volume_size_gib = max(ROOT_VOLUME.default_gib, image.root_volume_size_gib)
        # What the image holds: the boot steps that would install it are left out (add_boot_commands).
        self.image_contents: frozenset[str] = image.contents if image is not None else frozenset()
        if subnet is not None and vpc_subnets is not None:
            raise ConfigError(self.node.path, "vpc_subnets", "given with subnet", "subnet or vpc_subnets, not both")
        subnets = select_subnets(self.node.path, vpc, subnet, vpc_subnets)
        self.subnets: tuple[ec2.ISubnet, ...] = tuple(subnets)
        self.plan: FleetPlan = plan_fleet(
            self.node.path, instance_types, efa=efa, placement_group=placement_group, spot=spot,
            min_capacity=min_capacity, max_capacity=max_capacity, desired_capacity=desired_capacity,
            subnet_count=len(subnets), root_volume_size_gib=root_volume_size_gib,
            custom_image=machine_image is not None, root_device_name=root_device_name,
            install_efa_software=install_efa_software, efa_installer_version=efa_installer_version,
            efa_installer_key_fingerprint=efa_installer_key_fingerprint,
            route_out=not without_route_out(vpc, subnets),
        )
        plan = self.plan
        if image is not None:
            check_image_for(self.node.path, image, plan.instance_types, use="fleet")
        self.instance_types: tuple[InstanceType, ...] = plan.instance_types
        self.network_bandwidth_gbps: float = plan.network_bandwidth_gbps
        self.max_network_bandwidth_gbps: float = plan.max_network_bandwidth_gbps

        self.security_group: ec2.ISecurityGroup = security_group or ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, allow_all_outbound=True,
            description=f"{self.node.path}: fleet nodes; all traffic to and from itself (EFA, MPI)",
        )
        # EFA's OS-bypass traffic is not IP, so the 0.0.0.0/0 egress rule does not cover it:
        # both self-referencing rules are explicit, separate resources (on a given group too).
        rules = self_rules(self, self.security_group, ("All traffic from fleet nodes (EFA, MPI)",
                                                       "All traffic to fleet nodes (EFA OS-bypass is not IP)"),
                           what="the fleet's nodes")
        self._connections = ec2.Connections(security_groups=[self.security_group])
        self.mounted_storage: set[str] = set()  # paths of the StorageLayers mounted here (mount_on)
        self._ebs_devices = 0

        self.role = instance_role(self, role, description=f"{self.node.path}: fleet nodes",
                                  policies={SSM_POLICY: SSM_REASON}, why="Session Manager on the fleet's nodes")

        self.user_data = ec2.UserData.for_linux()
        self.node.add_validation(UserDataFits(self, self.user_data))
        self.user_data.add_on_exit_commands(*boot.ON_EXIT)
        self.user_data.add_commands(*boot.PRELUDE, *boot.image_check(self.image_contents))
        self.installed_boot_scripts: set[str] = set()
        self._mount_points: dict[str, str] = {}
        # Users and their jobs on a node are not the node: the instance role stays root's (hpc-imds-guard).
        self.install_boot_script(boot.IMDS_GUARD_SCRIPT)
        self.add_boot_commands(*boot.imds_guard())
        if ssh_users is not None:
            if not isinstance(ssh_users, SshUsers):
                raise ConfigError(self.node.path, "ssh_users", type(ssh_users).__name__, "an SshUsers")
            self.add_boot_commands(*ssh_users.boot_commands(self))
            add_statement(self, self.role, ssh_users.read_statement(), why="the SSH users' sync on the nodes")
            if isinstance(self.role, iam.Role):  # else on the Auto Scaling group, once it exists (below)
                ssh_users.declare_read(self.role, self.role)
        if plan.efa_software == "install":
            self.install_boot_script("hpc-efa-install")
            self.add_boot_commands(boot.step(
                f"EFA software {plan.efa_installer.version}", "/usr/local/sbin/hpc-efa-install",
                plan.efa_installer.version, plan.efa_installer.key_fingerprint))
        if plan.nvme_instance_store:
            self.install_boot_script("hpc-scratch")
            self.add_boot_commands(*scratch_commands())

        self.launch_template = ec2.LaunchTemplate(
            self, "LaunchTemplate",
            machine_image=machine_image or _default_image(plan),
            require_imdsv2=True,
            # 1: only the host's root processes use the metadata service; images with ImdsSupport v2.0
            # (Amazon Linux 2023) would otherwise default to 2, which lets bridge-networked containers reach it.
            http_put_response_hop_limit=1,
            role=self.role,
            user_data=self.user_data,
        )
        cfn_template = self.launch_template.node.default_child
        assert isinstance(cfn_template, ec2.CfnLaunchTemplate)
        self._cfn_template = cfn_template
        interfaces = launch_template_interfaces(plan.interfaces, [self.security_group.security_group_id])
        root: dict[str, object] = {"DeleteOnTermination": True, "Encrypted": True, "VolumeType": "gp3"}
        if plan.root_volume_size_gib is not None:
            root["VolumeSize"] = plan.root_volume_size_gib
        self._block_devices: list[dict[str, object]] = [{"DeviceName": plan.image.root_device_name, "Ebs": root}]
        cfn_template.add_property_override("LaunchTemplateData.BlockDeviceMappings", self._block_devices)
        cfn_template.add_property_override("LaunchTemplateData.NetworkInterfaces", interfaces)

        self.placement_group: ec2.PlacementGroup | None = None
        if plan.placement_group:
            self.placement_group = cluster_placement_group(self, "PlacementGroup")

        on_demand_percentage = 0 if plan.spot else 100
        self.auto_scaling_group = autoscaling.AutoScalingGroup(
            self, "Group",
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnets=subnets),
            min_capacity=plan.min_capacity,
            max_capacity=plan.max_capacity,
            desired_capacity=plan.desired_capacity,
            capacity_rebalance=plan.spot,
            mixed_instances_policy=autoscaling.MixedInstancesPolicy(
                launch_template=self.launch_template,
                launch_template_overrides=[
                    autoscaling.LaunchTemplateOverrides(instance_type=ec2.InstanceType(t.name))
                    for t in plan.instance_types
                ],
                instances_distribution=autoscaling.InstancesDistribution(
                    on_demand_base_capacity=0,
                    on_demand_percentage_above_base_capacity=on_demand_percentage,
                    on_demand_allocation_strategy=autoscaling.OnDemandAllocationStrategy.PRIORITIZED,
                    spot_allocation_strategy=autoscaling.SpotAllocationStrategy.PRICE_CAPACITY_OPTIMIZED,
                ),
            ),
            notifications=[autoscaling.NotificationConfiguration(topic=notifications_topic)]
            if notifications_topic else None,
        )
        # Nodes must not boot before the rules that MPI and EFA between them need: with min_capacity > 0
        # the first nodes would otherwise start while the rules are still being created.
        if rules:
            self.auto_scaling_group.node.add_dependency(*rules)
        self.path_endpoint = paths.nodes(self.auto_scaling_group, f"{self.node.path} nodes")
        paths.declare_network(self.auto_scaling_group, self.path_endpoint, self.path_endpoint, protocol="all",
                              both_directions=True, efa=plan.efa, why="MPI, EFA" if plan.efa else "MPI")
        paths.declare_services(self.auto_scaling_group, self.path_endpoint, paths.SSM, why="Session Manager")
        role_paths = role_anchor(self.role, self.auto_scaling_group)
        paths.declare_iam(role_paths, paths.role(self.role, f"{self.node.path} node role"), paths.SSM_ACTIONS,
                          ["*"], on="any resource", why="Session Manager")
        if ssh_users is not None and not isinstance(self.role, iam.Role):
            ssh_users.declare_read(role_paths, self.role)
        paths.declare_imds(self.auto_scaling_group, self.path_endpoint, why="users on the nodes are not the role")
        if plan.efa_software == "install":
            paths.declare_services(self.auto_scaling_group, self.path_endpoint, ["internet"],
                                   why="EFA installer download at first boot, efa-installer.amazonaws.com")
        if plan.nvme_instance_store:
            paths.declare_packages(self.auto_scaling_group, self.path_endpoint)
        self.fleet_tag = (FLEET_TAG_KEY, self.node.path)
        Tags.of(self.auto_scaling_group).add(*self.fleet_tag, apply_to_launched_instances=True)
        cfn_group = self.auto_scaling_group.node.default_child
        assert isinstance(cfn_group, autoscaling.CfnAutoScalingGroup)
        if self.placement_group is not None:
            cfn_group.placement_group = self.placement_group.placement_group_name
        Validations.of(self.auto_scaling_group).acknowledge(Acknowledgment(
            id="AwsSolutions::AwsSolutions-EC26",
            reason="cdk-nag cannot follow the mixed-instances policy's launch-template reference; the "
                   "template's only EBS volume (root) is encrypted, as tests assert.",
        ))
        if notifications_topic is None:
            Validations.of(self.auto_scaling_group).acknowledge(Acknowledgment(
                id="AwsSolutions::AwsSolutions-AS3",
                reason="Scaling events of HPC fleets are frequent and visible in EventBridge and CloudWatch; "
                       "pass notifications_topic to get SNS notifications.",
            ))

        self.node.add_metadata("hpc:figures", {
            "instance types": ", ".join(t.name for t in plan.instance_types),
            "capacity": f"{plan.min_capacity}-{plan.max_capacity} {'Spot' if plan.spot else 'On-Demand'}",
            "EFA interfaces per instance": plan.efa_interface_count,
            "network interfaces per instance": len(plan.interfaces),
            "network bandwidth (Gbps)": f"{plan.network_bandwidth_gbps:g} of {plan.max_network_bandwidth_gbps:g}, "
                                        f"summed card baselines of {plan.layout_type.name} (EC2 rates it "
                                        f"'{plan.layout_type.network_performance}')",
            "cluster placement group": plan.placement_group,
            "NVMe scratch per instance (GB)": max(t.nvme_instance_store_gb for t in plan.instance_types),
            "image": image.description if image is not None else plan.image.description,
            "EFA software": {"install": f"EFA installer {plan.efa_installer.version}, GPG-verified at first boot",
                             "image": "from the image", "none": "none (no EFA)"}[plan.efa_software],
        })

    @property
    def connections(self) -> ec2.Connections:
        """The security groups that clients must reach (ec2.IConnectable)."""
        return self._connections

    @check_kinds
    def allow_ssh_from(self, peer: ec2.IConnectable) -> None:
        """Admit SSH (TCP 22) to the nodes from `peer`, e.g. an HaBastion: `fleet.allow_ssh_from(bastion)`.

        The same as `fleet.connections.allow_from(peer, ec2.Port.tcp(22))`. The rule lives in the fleet's
        stack and refers to the peer's security group, so a bastion in another stack is deployed first.
        """
        where = peer.node.path if isinstance(peer, Construct) else "peer"
        if not takes_rules(self.security_group):
            warn_fixed_group(self, self.security_group.node.path, [f"TCP 22 from {where}"], why="SSH to the nodes")
        self._connections.allow_from(peer, ec2.Port.tcp(22), f"SSH from {where}")
        paths.declare_ssh(self.auto_scaling_group, peer, self.path_endpoint)

    @property
    def grant_principal(self) -> iam.IPrincipal:
        """The nodes' role: what `x.grant_*(fleet)` grants to (iam.IGrantable)."""
        return self.role

    # -- what other constructs (StorageLayer.mount_on) add to the nodes -------------------------

    def add_boot_commands(self, *lines: str) -> None:
        """Lines for the nodes' user data, after everything added before (see hpc_constructs.boot), without the
        installs of what the image holds."""
        self.user_data.add_commands(*boot.without_installed(lines, self.image_contents))

    def install_boot_script(self, name: str) -> None:
        """Install hpc_constructs/scripts/<name>.sh as /usr/local/sbin/<name>, once per fleet."""
        if name not in self.installed_boot_scripts:
            self.installed_boot_scripts.add(name)
            self.add_boot_commands(*boot.install_boot_script(name))

    @property
    def mount_points(self) -> tuple[str, ...]:
        """The mount points of the storage mounted on the nodes, in the order they were mounted."""
        return tuple(self._mount_points)

    def claim_mount_point(self, mount_point: str, owner: str) -> None:
        """Reserve a mount point on the nodes; a second claim is a ConfigError naming the first owner."""
        claim_mount_point(self._mount_points, mount_point, owner, self.node.path)

    def add_node_volume(self, *, device_name: str, size_gib: int, volume_type: str, iops: int | None = None,
                        throughput_mibps: int | None = None) -> None:
        """An encrypted EBS volume on every node, in the launch template, deleted with its node."""
        ebs: dict[str, object] = {"DeleteOnTermination": True, "Encrypted": True, "VolumeSize": size_gib,
                                  "VolumeType": volume_type}
        if iops is not None:
            ebs["Iops"] = iops
        if throughput_mibps is not None:
            ebs["Throughput"] = throughput_mibps
        self._block_devices.append({"DeviceName": device_name, "Ebs": ebs})
        self._cfn_template.add_property_override("LaunchTemplateData.BlockDeviceMappings", self._block_devices)

    def next_ebs_device_name(self) -> str:
        """A device name for the next EBS volume attached at boot (/dev/sdf to /dev/sdz), across layers."""
        self._ebs_devices += 1
        return ebs_device_name(self.node.path, self._ebs_devices)

    # -- monitoring (HpcDashboard) ---------------------------------------------------------------------

    def monitoring(self, scope: Construct, settings: MonitoringSettings | None = None) -> Monitoring:
        """Nodes in service against the desired capacity, and launches that failed (hpc_constructs.monitoring).

        Turns on the group's metrics collection (desired, in service, pending and terminating instances: one-minute
        granularity, no charge), which CloudWatch has only when asked. Alarms, in `scope`: in service below desired
        for 15 minutes in a row; and, as an event the dashboard counts, any 'EC2 Instance Launch Unsuccessful' of
        this group (InsufficientInstanceCapacity for p5 or hpc7a, a quota, a template error).
        """
        from aws_cdk import Duration
        from aws_cdk import aws_cloudwatch as cloudwatch
        from aws_cdk import aws_events as events

        from hpc_constructs.dashboard_plan import FLEET_SHORTFALL_MINUTES, WHY_FLEET_SHORTFALL, WHY_LAUNCH_FAILED
        from hpc_constructs.monitoring import EventWatch, graph, metric, watch

        cfn_group = self.auto_scaling_group.node.default_child
        assert isinstance(cfn_group, autoscaling.CfnAutoScalingGroup)
        cfn_group.metrics_collection = [autoscaling.CfnAutoScalingGroup.MetricsCollectionProperty(
            granularity="1Minute", metrics=list(FLEET_GROUP_METRICS))]
        name = self.auto_scaling_group.auto_scaling_group_name
        minute = Duration.minutes(1)
        group = {"AutoScalingGroupName": name}
        desired = metric("AWS/AutoScaling", "GroupDesiredCapacity", group, "Average", minute, "desired")
        in_service = metric("AWS/AutoScaling", "GroupInServiceInstances", group, "Average", minute, "in service")
        pending = metric("AWS/AutoScaling", "GroupPendingInstances", group, "Average", minute, "pending")
        shortfall = cloudwatch.MathExpression(expression="desired - in_service", period=minute,
                                              using_metrics={"desired": desired, "in_service": in_service},
                                              label="desired - in service")
        path = self.node.path
        result = Monitoring(title=f"{path} (ComputeFleet)")
        result.widgets.append(graph(f"{self.node.id}: nodes", [desired, in_service, pending],
                                    lines={f"max {self.plan.max_capacity}": self.plan.max_capacity}, unit="nodes"))
        result.alarms.append(watch(
            scope, "InServiceBelowDesired", what=f"{path}: nodes in service below the desired capacity",
            metric_=shortfall, threshold=1, comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            periods=FLEET_SHORTFALL_MINUTES, condition=f"at least 1 fewer for {FLEET_SHORTFALL_MINUTES} minutes",
            why=WHY_FLEET_SHORTFALL))
        result.events.append(EventWatch(
            "LaunchFailed", what=f"{path}: instance launches that failed", why=WHY_LAUNCH_FAILED,
            pattern=events.EventPattern(source=["aws.autoscaling"], detail_type=["EC2 Instance Launch Unsuccessful"],
                                        detail={"AutoScalingGroupName": [name]})))
        return result


def claim_mount_point(claimed: dict[str, str], mount_point: str, owner: str, where: str) -> None:
    """Reserve `mount_point` for `owner` in `claimed` (the mount points on `where`'s nodes)."""
    if mount_point in claimed:
        raise ConfigError(owner, "mount point", mount_point, f"a mount point not already used on {where}",
                          hint=f"{claimed[mount_point]} mounts {mount_point} there already; "
                               "give one of them another mount_point or volume name.")
    claimed[mount_point] = owner


def ebs_device_name(where: str, count: int) -> str:
    """The device name of the count-th EBS volume attached at boot (1 -> /dev/sdf ... 21 -> /dev/sdz)."""
    if count > len(EBS_DEVICE_LETTERS):
        raise ConfigError(where, "ebs volumes mounted", count,
                          f"at most {len(EBS_DEVICE_LETTERS)} volumes attached at boot (/dev/sdf to /dev/sdz)")
    return f"/dev/sd{EBS_DEVICE_LETTERS[count - 1]}"


# A value that CloudFormation fills in at deploy time (a file-system ID, a DNS name) is counted at
# this length: longer than any of the IDs and names the user data refers to.
TOKEN_BYTES = 96


@jsii.implements(IValidation)
class UserDataFits:
    """At synth, after every mount_on: the nodes' user data must fit EC2's 16 KB limit."""

    def __init__(self, owner: Construct, user_data: ec2.UserData) -> None:
        self._owner = owner
        self._user_data = user_data

    def validate(self) -> list[str]:
        size = user_data_bytes(Stack.of(self._owner).resolve(self._user_data.render()))
        if size <= EC2_USER_DATA_MAX_BYTES:
            return []
        return [str(ConfigError(
            self._owner.node.path, "user data", f"about {size:,} bytes",
            f"at most {EC2_USER_DATA_MAX_BYTES:,} bytes (EC2's limit on raw user data; the launch would fail)",
            hint="Each StorageLayer mounted and each boot script adds to it. Mount fewer layers or volumes on "
                 "this fleet, or bake the EFA software and file-system clients into a machine_image."))]


def user_data_bytes(resolved: object) -> int:
    """The byte length of resolved user data, each deploy-time value counted as TOKEN_BYTES."""
    if isinstance(resolved, str):
        return len(resolved.encode())
    if isinstance(resolved, dict) and "Fn::Join" in resolved:
        separator, parts = resolved["Fn::Join"]
        return len(str(separator).encode()) * max(len(parts) - 1, 0) + sum(user_data_bytes(p) for p in parts)
    return TOKEN_BYTES


def _default_image(plan: FleetPlan) -> ec2.IMachineImage:
    """The public image the plan chose, resolved from its SSM parameter at deploy time."""
    public = plan.image.public
    assert public is not None
    if not public.gpu_driver:  # CDK's own Amazon Linux 2023 lookup: the same public parameter
        cpu = ec2.AmazonLinuxCpuType.ARM_64 if public.architecture == "arm64" else ec2.AmazonLinuxCpuType.X86_64
        return ec2.MachineImage.latest_amazon_linux2023(cpu_type=cpu)
    return ec2.MachineImage.from_ssm_parameter(public.ssm_parameter, os=ec2.OperatingSystemType.LINUX)


def cluster_placement_group(scope: Construct, id: str) -> ec2.PlacementGroup:
    """A cluster placement group without tags: CloudFormation's schema for AWS::EC2::PlacementGroup lists Tags as
    create-only (tagging.tagUpdatable false), so an app-wide tag would replace the group under running nodes."""
    group = ec2.PlacementGroup(scope, id, strategy=ec2.PlacementGroupStrategy.CLUSTER)
    cfn = group.node.default_child
    assert isinstance(cfn, ec2.CfnPlacementGroup)
    cfn.add_property_deletion_override("Tags")
    return group


def select_subnets(path: str, vpc: ec2.IVpc, subnet: ec2.ISubnet | None,
             vpc_subnets: ec2.SubnetSelection | None) -> list[ec2.ISubnet]:
    if subnet is not None:
        return [subnet]
    if vpc_subnets is not None:
        return list(vpc.select_subnets(
            availability_zones=vpc_subnets.availability_zones, one_per_az=vpc_subnets.one_per_az,
            subnet_filters=vpc_subnets.subnet_filters, subnet_group_name=vpc_subnets.subnet_group_name,
            subnets=vpc_subnets.subnets, subnet_type=vpc_subnets.subnet_type).subnets)
    private = list(vpc.private_subnets) or list(vpc.isolated_subnets)
    if not private:
        raise ConfigError(path, "subnet", None, "a private or isolated subnet, or a subnet passed explicitly",
                          hint="The VPC has only public subnets. Fleet nodes get no public IP, so in a public "
                               "subnet they would have no route out (no package installs, no SSM). Add private "
                               "subnets with a NAT gateway (HpcNetwork does), or pass subnet= to choose one.")
    return private[:1]


def without_route_out(vpc: ec2.IVpc, subnets: Sequence[ec2.ISubnet]) -> bool:
    """True when every subnet is one of the VPC's isolated subnets (no NAT, no internet gateway)."""
    isolated = {s.node.path for s in vpc.isolated_subnets}
    return bool(subnets) and all(s.node.path in isolated for s in subnets)


def scratch_commands() -> list[str]:
    """User-data lines that install hpc-scratch as a systemd unit run at every boot, and start it."""
    return [
        boot.install_step("scratch tools (mdadm, xfsprogs)", *SCRATCH_TOOLS),
        *boot.systemd_unit("hpc-scratch.service", "\n".join([
            "[Unit]",
            "Description=Stripe NVMe instance-store disks (RAID0) and mount them at " + SCRATCH_MOUNT_POINT,
            "After=local-fs.target",
            "Before=remote-fs-pre.target",
            "[Service]",
            "Type=oneshot",
            "RemainAfterExit=yes",
            "ExecStart=/usr/local/sbin/hpc-scratch",
            "[Install]",
            "WantedBy=multi-user.target",
        ])),
        "systemctl daemon-reload",
        boot.step(f"NVMe scratch at {SCRATCH_MOUNT_POINT}", "systemctl", "enable", "--now", "hpc-scratch.service"),
    ]
