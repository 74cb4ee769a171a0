"""HaInstance: one server (a license server, a head node) that survives the loss of its instance or its AZ."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import jsii
from aws_cdk import (
    Acknowledgment,
    Annotations,
    ArnFormat,
    CfnOutput,
    CfnTag,
    Duration,
    RemovalPolicy,
    Stack,
    Tags,
    Token,
    Validations,
)
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_dlm as dlm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_ssm as ssm
from constructs import Construct, IDependable

from hpc_constructs import boot, mounting, paths
from hpc_constructs.catalog.limits import HA_INSTANCE
from hpc_constructs.catalog.software import AL2023_ROOT_DEVICE, VOLUME_TOOLS
from hpc_constructs.compute_fleet import UserDataFits
from hpc_constructs.ebs import EbsSpec
from hpc_constructs.errors import ConfigError
from hpc_constructs.given import (
    SSM_POLICY,
    add_statement,
    instance_role,
    role_anchor,
    takes_rules,
    warn_fixed_group,
)
from hpc_constructs.ha_instance_plan import (
    DEFAULT_DATA_VOLUME,
    DEFAULT_HEALTH_CHECK_FAILURES,
    DEFAULT_HEALTH_CHECK_INTERVAL_SECONDS,
    DEFAULT_LAUNCH_TIMEOUT_SECONDS,
    DEFAULT_MOUNT_POINT,
    DEFAULT_SNAPSHOT_INTERVAL_MINUTES,
    DEFAULT_SNAPSHOT_RETENTION,
    DEFAULT_TERMINATION_TIMEOUT_SECONDS,
    HaPlan,
    ZoneFacts,
    plan_ha_instance,
)
from hpc_constructs.image_plan import check_image_for, image_plan_of
from hpc_constructs.kinds import check_kinds
from hpc_constructs.monitoring import Monitoring, MonitoringSettings
from hpc_constructs.mounting import removal
from hpc_constructs.nag import acknowledge_ec26_misreport, acknowledge_wildcards

if TYPE_CHECKING:
    from hpc_constructs.image import HpcImage

OWNER_TAG = "hpc-constructs:ha-instance"  # value: the construct path, on the group, instances, volumes, snapshots
GENERATION_TAG = "hpc-constructs:ha-generation"
CURRENT_TAG = "hpc-constructs:ha-current"  # the Data Lifecycle Manager policy's target: the current volume only
TAKEN_TAG = "hpc-constructs:ha-snapshot"  # on the snapshots the instance takes itself (and may delete)
LAUNCH_HOOK = "hpc-launch"
TERMINATION_HOOK = "hpc-terminate"
DATA_DEVICE = "/dev/sdf"
ROOT_VOLUME_GIB = 16
RECORD_TTL_SECONDS = 10  # clients re-resolve within 10 s of a failover
ENV_FILE = "/etc/hpc-ha-instance.env"
SCRIPTS = ("hpc-ha-volume", "hpc-ha-address", "hpc-ha-lifecycle")
_TAG_VALUE = re.compile(r"^[A-Za-z0-9 _.:/=+@-]{1,256}$")  # what an EC2 tag value takes, without quotes


@jsii.implements(ec2.IConnectable, iam.IGrantable)
class HaInstance(Construct):
    """One instance kept alive by an Auto Scaling group over two or more AZs; its address and its data follow it.

    Props (keyword-only) and their defaults:
      vpc: the VPC (required).
      instance_type: "t3.medium". One type, On-Demand, Amazon Linux 2023; checked against
                     availability_zone_offerings when given.
      vpc_subnets: None uses the VPC's private subnets, one per AZ (public ones in a VPC without private subnets).
                   At least two AZs, one subnet each, all public or all private.
      availability_zone_offerings: None. {AZ name: instance types offered there} (DescribeInstanceTypeOfferings
                   --location-type availability-zone); the type must be offered in every chosen AZ. Without it the
                   offering is not checked (the catalog knows types, not which AZ sells them).
      address: None picks "elastic_ip" in public subnets and "dns" in private ones.
        "elastic_ip": an Elastic IP (public subnets only), associated at boot.
        "dns": a private Route 53 A record, record_name in hosted_zone (or in a private zone named zone_name,
               created for the VPC), set at boot to the instance's private address (TTL 10 s).
        "eni": one network interface per AZ, attached at boot as device 1. Each AZ's has its own address and MAC:
               clients list them all (FlexLM: LM_LICENSE_FILE=27000@a:27000@b).
      hosted_zone, zone_name ("hpc.internal"), record_name (None: the construct id, lower case): dns only.
      ports: (). TCP ports clients use (FlexLM: lmgrd's and the vendor daemon's); `allow_from(peer)` opens them.
      data_volume: EbsSpec(size_gib=20, volume_type="gp3"). Encrypted; mounted at mount_point ("/data").
      snapshot_interval_minutes: 60. Data Lifecycle Manager takes the snapshots at its intervals (60, 120, 180, 240,
                   360, 480, 720, 1440 minutes); any other whole number of minutes from 1 to 1440 is an EventBridge
                   Scheduler schedule that has the instance take them (Systems Manager Run Command). The interval is
                   the worst-case recovery point when an AZ is lost.
      snapshot_retention: 48 snapshots.
      health_check_command: None. A command line run every health_check_interval_seconds (30); after
                   health_check_failures (3) failures in a row the instance reports itself unhealthy and the group
                   replaces it. The data volume being mounted is always checked.
      service_name: None. A systemd unit stopped before the termination hook's final snapshot.
      launch_timeout_seconds: 900, termination_timeout_seconds: 300: the lifecycle hooks' heartbeat timeouts.
      key_name: None. An EC2 key pair; Session Manager works without one.
      machine_image: None: the latest Amazon Linux 2023 at each deploy (boot installs the volume tools and iptables
                   when missing). An HpcImage (base "al2023", the instance type's architecture) holds them: boot
                   installs nothing, and the instance is replaced when the image is rebuilt, not at each release.
      security_group: None makes one. A group of your own (ec2.SecurityGroup, or imported): allow_from adds its
                   rules to it; one imported with mutable=False takes none, and a warning names them.
      role: None makes one. A role of your own: the boot's statements (each by ARN or owner tag) and
                   AmazonSSMManagedInstanceCore are added to it; a role that takes none (imported with
                   mutable=False, another account's) gets a warning naming each.
      removal_policy: RETAIN for the data volume and the Elastic IP (SNAPSHOT for the volume takes a snapshot).

    Boot (user data steps, hpc_constructs.boot): the data volume (hpc-ha-volume attach: attach it in this AZ, or
    restore it here from the newest snapshot), the address (hpc-ha-address take), the lifecycle watcher and the
    health timer; then whatever `add_boot_commands` added (install and start the server there); at the end the
    launch hook is completed, CONTINUE if every step succeeded, ABANDON otherwise.

    Attributes: auto_scaling_group, launch_template, role, security_group, connections, data_volume (the
    CfnVolume of generation 0), elastic_ip / network_interfaces / hosted_zone and dns_name (by address kind),
    address (what clients use: a token), snapshot_policy or snapshot_schedule, user_data, plan, figures;
    allow_from(peer, ports=None); add_boot_commands(*lines).
    """

    @check_kinds
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc,
        instance_type: str = "t3.medium",
        vpc_subnets: ec2.SubnetSelection | None = None,
        availability_zone_offerings: Mapping[str, Sequence[str]] | None = None,
        address: str | None = None,
        hosted_zone: route53.IPrivateHostedZone | None = None,
        zone_name: str = "hpc.internal",
        record_name: str | None = None,
        ports: Sequence[int] = (),
        data_volume: EbsSpec = DEFAULT_DATA_VOLUME,
        mount_point: str = DEFAULT_MOUNT_POINT,
        snapshot_interval_minutes: int = DEFAULT_SNAPSHOT_INTERVAL_MINUTES,
        snapshot_retention: int = DEFAULT_SNAPSHOT_RETENTION,
        health_check_command: str | None = None,
        health_check_interval_seconds: int = DEFAULT_HEALTH_CHECK_INTERVAL_SECONDS,
        health_check_failures: int = DEFAULT_HEALTH_CHECK_FAILURES,
        service_name: str | None = None,
        launch_timeout_seconds: int = DEFAULT_LAUNCH_TIMEOUT_SECONDS,
        termination_timeout_seconds: int = DEFAULT_TERMINATION_TIMEOUT_SECONDS,
        key_name: str | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        machine_image: HpcImage | None = None,
        security_group: ec2.ISecurityGroup | None = None,
        role: iam.IRole | None = None,
    ) -> None:
        super().__init__(scope, id)
        path = self.node.path
        if not _TAG_VALUE.match(path):
            raise ConfigError(path, "id", id, "letters, digits, spaces and _ . : / = + @ - in the construct path",
                              hint="The path is the value of the owner tag that the boot role's IAM conditions match.")
        subnets = _subnets(path, vpc, vpc_subnets)
        public = {s.node.path for s in vpc.public_subnets}
        zones = [ZoneFacts(s.availability_zone, s.node.path in public, not Token.is_unresolved(s.availability_zone))
                 for s in subnets]
        self.plan: HaPlan = plan_ha_instance(
            path, instance_type_name=instance_type, zones=zones, offerings=availability_zone_offerings,
            address=address, record_name=record_name if record_name is not None else _label(id),
            zone_name=hosted_zone.zone_name if hosted_zone is not None and not Token.is_unresolved(
                hosted_zone.zone_name) else zone_name,
            ports=ports, data_volume=data_volume, mount_point=mount_point,
            snapshot_interval_minutes=snapshot_interval_minutes, snapshot_retention=snapshot_retention,
            health_check_command=health_check_command, health_check_interval_seconds=health_check_interval_seconds,
            health_check_failures=health_check_failures, service_name=service_name,
            launch_timeout_seconds=launch_timeout_seconds, termination_timeout_seconds=termination_timeout_seconds)
        plan = self.plan
        stack = Stack.of(self)
        self.owner_tag = (OWNER_TAG, path)
        nat_gateways = sum(1 for c in vpc.node.find_all() if isinstance(c, ec2.CfnNatGateway))
        if not plan.public and 0 < nat_gateways < len(plan.zones):
            Annotations.of(self).add_warning_v2("hpc-constructs:ha-instance-shared-nat", (
                f"{path}: its {len(plan.zones)} AZs share {nat_gateways} NAT gateway(s). A new instance calls EC2, "
                "Auto Scaling and Route 53 to take the data and the address: if the AZ of the NAT gateway is lost, "
                "an instance in another AZ cannot. Give the VPC one NAT gateway per AZ (HpcNetwork nat_gateways)."))
        if hosted_zone is not None and plan.address != "dns":
            raise ConfigError(path, "hosted_zone", hosted_zone.node.path, "a hosted zone only with address='dns'")

        # -- security group: clients reach the ports through allow_from ---------------------------------------
        self.security_group: ec2.ISecurityGroup = security_group or ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, allow_all_outbound=True,
            description=f"{path}: HaInstance; its ports from allow_from peers only")
        self._connections = ec2.Connections(security_groups=[self.security_group])
        self._ruled: set[str] = set()

        # -- the data volume of generation 0, in the first AZ (later ones are made at boot, from snapshots) ----
        spec = plan.data_volume
        self.data_volume = ec2.CfnVolume(
            self, "DataVolume", availability_zone=subnets[0].availability_zone, size=spec.size_gib,
            volume_type=spec.volume_type, iops=spec.iops, throughput=spec.throughput_mibps, encrypted=True,
            tags=[_tag(OWNER_TAG, path), _tag(GENERATION_TAG, "0"), _tag(CURRENT_TAG, path)])
        self.data_volume.apply_removal_policy(removal(removal_policy, snapshots=True))

        # -- the address --------------------------------------------------------------------------------------
        self.elastic_ip: ec2.CfnEIP | None = None
        self.network_interfaces: list[ec2.CfnNetworkInterface] = []
        self.hosted_zone: route53.IPrivateHostedZone | None = None
        self.dns_name: str | None = None
        if plan.address == "elastic_ip":
            self.elastic_ip = ec2.CfnEIP(self, "ElasticIp", domain="vpc", tags=[_tag(OWNER_TAG, path)])
            self.elastic_ip.apply_removal_policy(removal(removal_policy))
            self.address: str = self.elastic_ip.attr_public_ip
        elif plan.address == "eni":
            for i, subnet in enumerate(subnets):
                self.network_interfaces.append(ec2.CfnNetworkInterface(
                    self, f"Interface{i}", subnet_id=subnet.subnet_id,
                    group_set=[self.security_group.security_group_id],
                    description=f"{path}: the stable address in {subnet.availability_zone}",
                    tags=[_tag(OWNER_TAG, path)]))
            self.address = ",".join(n.attr_primary_private_ip_address for n in self.network_interfaces)
        else:
            self.hosted_zone = hosted_zone or route53.PrivateHostedZone(self, "Zone", zone_name=zone_name, vpc=vpc)
            assert plan.record_name is not None
            self.dns_name = plan.record_name
            self.address = plan.record_name

        # -- role: Session Manager, and exactly what the boot scripts do --------------------------------------
        self.role = instance_role(
            self, role, description=f"{path}: HaInstance (its data volume, snapshots, address, lifecycle hooks)",
            policies={SSM_POLICY: "AWS-maintained least-privilege policy for Session Manager and Run Command "
                                  "(scheduled snapshots)."},
            why="Session Manager and the scheduled snapshots (Run Command)")
        for statement in boot_statements(self, plan):
            add_statement(self, self.role, statement, why="the boot (data volume, address, lifecycle hooks)")
        acknowledge_wildcards(self.role, suffixes=(":volume/*", "::snapshot/*", ":instance/*",
                                                   ":network-interface/*", ":autoScalingGroupName/*"),
                              reason="Each wildcard ARN is narrowed by a condition on the owner tag (this "
                                     "HaInstance's path), or on tagging at creation; tests check every statement.")
        Validations.of(self.role).acknowledge(Acknowledgment(
            id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            reason="Describe* and DescribeAutoScalingInstances support no resource-level permissions."))

        # -- the instance: launch template, Auto Scaling group of one, lifecycle hooks --------------------------
        self.user_data = ec2.UserData.for_linux()
        self.node.add_validation(UserDataFits(self, self.user_data))
        # At exit, before the boot report (which exits): the launch hook and CloudFormation get the outcome.
        self.user_data.add_on_exit_commands("hpc_ha_launch_complete", *boot.ON_EXIT)
        image = image_plan_of(machine_image)
        if machine_image is not None and image is None:
            raise ConfigError(path, "machine_image", machine_image, "an HpcImage or None")
        if image is not None:
            check_image_for(path, image, [plan.instance_type], use="fleet")
        installed = image.contents if image is not None else frozenset()
        self.user_data.add_commands(*boot.PRELUDE, *boot.image_check(installed))
        self.user_data.add_commands(*boot.without_installed(_boot_commands(self, plan), installed))
        arch = plan.instance_type.architecture
        self.launch_template = ec2.LaunchTemplate(
            self, "LaunchTemplate",
            machine_image=machine_image or ec2.MachineImage.latest_amazon_linux2023(
                cpu_type=ec2.AmazonLinuxCpuType.ARM_64 if arch == "arm64" else ec2.AmazonLinuxCpuType.X86_64),
            instance_type=ec2.InstanceType(plan.instance_type.name),
            require_imdsv2=True, http_put_response_hop_limit=1,
            role=self.role, security_group=self.security_group, user_data=self.user_data,
            key_pair=ec2.KeyPair.from_key_pair_name(self, "KeyPair", key_name) if key_name else None,
            block_devices=[ec2.BlockDevice(device_name=AL2023_ROOT_DEVICE, volume=ec2.BlockDeviceVolume.ebs(
                ROOT_VOLUME_GIB, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3,
                delete_on_termination=True))])
        cfn_template = self.launch_template.node.default_child
        assert isinstance(cfn_template, ec2.CfnLaunchTemplate)
        # The owner tag on the instance, its volumes and its interface from the first moment: the role's conditions
        # need it before the group's tag propagation could be relied on.
        cfn_template.add_property_override("LaunchTemplateData.TagSpecifications", [
            {"ResourceType": kind, "Tags": [{"Key": OWNER_TAG, "Value": path}]}
            for kind in ("instance", "volume", "network-interface")])
        timeout = Duration.seconds(plan.launch_timeout_seconds)
        self.auto_scaling_group = autoscaling.AutoScalingGroup(
            self, "Group", vpc=vpc, vpc_subnets=ec2.SubnetSelection(subnets=subnets),
            launch_template=self.launch_template, min_capacity=1, max_capacity=1, desired_capacity=1,
            # With a launch hook the grace period starts when the hook completes: 0 is AWS's advice.
            health_checks=autoscaling.HealthChecks.ec2(grace_period=Duration.seconds(0)),
            # Terminate and launch: never two instances holding the volume and the address.
            min_healthy_percentage=HA_INSTANCE.min_healthy_percentage,
            max_healthy_percentage=HA_INSTANCE.max_healthy_percentage,
            signals=autoscaling.Signals.wait_for_count(1, timeout=timeout),
            update_policy=autoscaling.UpdatePolicy.rolling_update(
                max_batch_size=1, min_instances_in_service=0, pause_time=timeout))
        cfn_group = self.auto_scaling_group.node.default_child
        assert isinstance(cfn_group, autoscaling.CfnAutoScalingGroup)
        # In the group's own definition, so that the first instance already waits in Pending:Wait (a separate
        # AWS::AutoScaling::LifecycleHook would be created after the group has launched it).
        cfn_group.lifecycle_hook_specification_list = [
            autoscaling.CfnAutoScalingGroup.LifecycleHookSpecificationProperty(
                lifecycle_hook_name=LAUNCH_HOOK, lifecycle_transition="autoscaling:EC2_INSTANCE_LAUNCHING",
                heartbeat_timeout=plan.launch_timeout_seconds, default_result="ABANDON"),
            autoscaling.CfnAutoScalingGroup.LifecycleHookSpecificationProperty(
                lifecycle_hook_name=TERMINATION_HOOK, lifecycle_transition="autoscaling:EC2_INSTANCE_TERMINATING",
                heartbeat_timeout=plan.termination_timeout_seconds, default_result="CONTINUE"),
        ]
        Tags.of(self.auto_scaling_group).add(OWNER_TAG, path, apply_to_launched_instances=True)
        self.user_data.add_commands(*_signal_function(stack.stack_id, stack.get_logical_id(cfn_group), stack.region))
        # The first boot attaches the volume, takes the address and completes the hook: the policy must exist.
        self.auto_scaling_group.node.add_dependency(self.role)
        Validations.of(self.auto_scaling_group).acknowledge(Acknowledgment(
            id="Annotation::@aws-cdk/aws-autoscaling:desiredCapacitySet",
            reason="A group of exactly one: min = max = desired = 1, reset to that on every deploy."))
        acknowledge_ec26_misreport(self.auto_scaling_group)
        Validations.of(self.auto_scaling_group).acknowledge(Acknowledgment(
            id="AwsSolutions::AwsSolutions-AS3",
            reason="Replacements are in the group's activity history, CloudTrail and EventBridge; a group of one "
                   "has no scaling to notify."))

        # -- snapshots on a schedule --------------------------------------------------------------------------
        self.snapshot_policy: dlm.CfnLifecyclePolicy | None = None
        self.snapshot_schedule: scheduler.CfnSchedule | None = None
        if plan.schedule == "dlm":
            self.snapshot_policy = _dlm_policy(self, plan)
        else:
            self.snapshot_schedule = _scheduled_snapshots(self, plan)

        self._declare_paths(plan)
        self.figures: dict[str, object] = _figures(plan, path, image.description if image is not None else None)
        self.node.add_metadata("hpc:figures", self.figures)
        mounting.adopt(self, user_data=self.user_data, role=self.role, security_groups=[self.security_group])
        CfnOutput(self, "Address", value=self.address,
                  description=f"{path}: the address clients use ({plan.address}); it follows the instance")

    # -- what clients and other constructs use ---------------------------------------------------------------

    @property
    def connections(self) -> ec2.Connections:
        """The instance's security group (ec2.IConnectable)."""
        return self._connections

    @property
    def grant_principal(self) -> iam.IPrincipal:
        return self.role

    @check_kinds
    def allow_from(self, peer: ec2.IConnectable, *, ports: Sequence[int] | None = None) -> None:
        """Admit `peer` (a ComputeFleet, a BatchOrchestration, a SlurmCluster, ...) on the ports (default: `ports`).

        One ingress rule per port and per security group of the peer, made once per group (a Batch environment
        built from a fleet carries the fleet's group too: a second copy of a rule fails at deploy time). Each rule
        lives beside the peer's security group, in the peer's stack, so the HaInstance's stack deploys first and
        clients can read its address.
        """
        wanted = self.plan.ports if ports is None else tuple(ports)
        if not wanted:
            raise ConfigError(self.node.path, "ports", wanted, "at least one TCP port to open",
                              hint="Give the HaInstance ports=[...] or pass ports= to allow_from.")
        where = peer.node.path if isinstance(peer, Construct) else "peer"
        for group in peer.connections.security_groups:
            key = group.security_group_id
            if key in self._ruled:
                continue
            self._ruled.add(key)
            if not takes_rules(self.security_group):
                client = group.node.path if isinstance(group, Construct) else key
                warn_fixed_group(self, self.security_group.node.path,
                                 [f"TCP {port} from {client} (inbound)" for port in wanted],
                                 why=f"the clients in {where}")
                continue
            # Beside the peer's group, in the peer's stack (a group that is not a construct: in the peer itself).
            scope = group if isinstance(group, Construct) else peer
            assert isinstance(scope, Construct)
            rules = [ec2.CfnSecurityGroupIngress(
                scope, f"To{mounting.unique_id(self.node.path.split('/'))}Port{port}",
                group_id=self.security_group.security_group_id, source_security_group_id=key,
                ip_protocol="tcp", from_port=port, to_port=port,
                description=f"TCP {port} from {where} to {self.node.path}") for port in wanted]
            if not group.allow_all_outbound:  # a group that lists its way out (multi-node jobs' default group)
                for port in wanted:
                    group.add_egress_rule(self.security_group, ec2.Port.tcp(port),
                                          f"TCP {port} to {self.node.path}")
            # hpc-verify: a peer that knows which interfaces carry the group names them (Batch's multi-node jobs)
            sources = getattr(peer, "path_sources", None)
            client = f"{where} {group.node.path if isinstance(group, Construct) else key}"
            for source in (sources(key) if callable(sources) else None) or [paths.groups(client, key)]:
                paths.declare_network(rules[0], source, self.path_endpoint,
                                      ports=[(port, port) for port in wanted], why="the server's clients")

    def _declare_paths(self, plan: HaPlan) -> None:
        """What hpc-verify checks (hpc_constructs.paths): the services the boot and the hooks call from every AZ,
        the role's actions on its own volume, snapshots, group and record, and the metadata service kept for
        root. Clients' paths are declared beside their rules (allow_from)."""
        group, stack = self.auto_scaling_group, Stack.of(self)
        self.path_endpoint = paths.nodes(group, f"{self.node.path} instance")
        for services, why in ((["ec2"], "its data volume, snapshots and address"),
                              (["autoscaling"], "lifecycle hooks and health"), (paths.SSM, "Session Manager and "
                                                                                          "the scheduled snapshots"),
                              (["cloudformation"], "the boot's signal"),
                              *([(["route53"], "its DNS record")] if self.hosted_zone is not None else [])):
            paths.declare_services(group, self.path_endpoint, services, why=why)
        paths.declare_packages(group, self.path_endpoint)
        paths.declare_imds(group, self.path_endpoint, max_hop_limit=1,
                           why="the server's users and daemons are not the role: it moves volumes and addresses")
        role = paths.role(self.role, f"{self.node.path} role")
        anchor = role_anchor(self.role, self.data_volume)
        owned = {f"aws:ResourceTag/{OWNER_TAG}": self.node.path}
        volume = stack.format_arn(service="ec2", resource="volume", resource_name=self.data_volume.ref,
                                  arn_format=ArnFormat.SLASH_RESOURCE_NAME)
        snapshot = f"arn:{stack.partition}:ec2:{stack.region}::snapshot/snap-0123456789abcdef0"
        on_volume = f"its data volume {self.data_volume.node.path}"
        paths.declare_iam(anchor, role, ["ec2:AttachVolume", "ec2:CreateSnapshot"], [volume], context=owned,
                          on=on_volume, why="attach at boot, snapshot on schedule and at termination")
        paths.declare_iam(anchor, role, ["ec2:CreateVolume"], [{"arn": snapshot, "context": owned}],
                          on="its own snapshots", why="restore in another AZ")
        paths.declare_iam(anchor, role, ["ec2:DeleteSnapshot"], [snapshot],
                          context={**owned, f"aws:ResourceTag/{TAKEN_TAG}": "1"}, on="the snapshots it took",
                          why="keep snapshot_retention")
        paths.declare_iam(anchor, role, ["ec2:AttachVolume", "ec2:CreateSnapshot"], [volume],
                          context={f"aws:ResourceTag/{OWNER_TAG}": "another/Construct"}, denied=True,
                          on="a volume another construct owns", why="the owner tag is the boundary")
        group_arn = stack.format_arn(service="autoscaling", resource="autoScalingGroup",
                                     resource_name=f"0-1-2:autoScalingGroupName/{group.auto_scaling_group_name}",
                                     arn_format=ArnFormat.COLON_RESOURCE_NAME)
        paths.declare_iam(anchor, role, ["autoscaling:CompleteLifecycleAction", "autoscaling:SetInstanceHealth"],
                          [group_arn], context=owned, on=f"its group {group.node.path}",
                          why="the launch and termination hooks, the health check")
        paths.declare_iam(anchor, role, paths.SSM_ACTIONS, ["*"], on="any resource", why="Session Manager")
        if self.hosted_zone is not None and plan.record_name is not None:
            zone = f"arn:{stack.partition}:route53:::hostedzone/{self.hosted_zone.hosted_zone_id}"
            change = {"route53:ChangeResourceRecordSetsNormalizedRecordNames": [plan.record_name],
                      "route53:ChangeResourceRecordSetsRecordTypes": ["A"],
                      "route53:ChangeResourceRecordSetsActions": ["UPSERT"]}
            paths.declare_iam(anchor, role, ["route53:ChangeResourceRecordSets"], [zone], context=change,
                              on=f"its record {plan.record_name}", why="the address follows the instance")
            paths.declare_iam(anchor, role, ["route53:ChangeResourceRecordSets"], [zone], denied=True,
                              context={**change, "route53:ChangeResourceRecordSetsNormalizedRecordNames": [
                                  f"other.{plan.record_name}"]},
                              on=f"another record of the zone {self.hosted_zone.node.path}",
                              why="only its own name")

    # -- monitoring (HpcDashboard) ---------------------------------------------------------------------

    def monitoring(self, scope: Construct, settings: MonitoringSettings | None = None) -> Monitoring:
        """The server in service, and launches that failed (hpc_constructs.monitoring).

        Turns on the group's metrics collection (one-minute granularity, no charge). Alarms, in `scope`: no instance
        in service for longer than the failover bound (the health check's detection plus the launch hook's timeout,
        plan.failover.worst_case_seconds, in whole minutes): the launch hook keeps a new instance out of service until
        its volume and address are in place, so in service means serving. As an event the dashboard counts, any
        'EC2 Instance Launch Unsuccessful' of this group (capacity for the type in the AZ, a quota, a template error).
        """
        from aws_cdk import aws_cloudwatch as cloudwatch
        from aws_cdk import aws_events as events

        from hpc_constructs import dashboard_plan as dp
        from hpc_constructs.compute_fleet import FLEET_GROUP_METRICS
        from hpc_constructs.monitoring import EventWatch, graph, metric, watch

        cfn_group = self.auto_scaling_group.node.default_child
        assert isinstance(cfn_group, autoscaling.CfnAutoScalingGroup)
        cfn_group.metrics_collection = [autoscaling.CfnAutoScalingGroup.MetricsCollectionProperty(
            granularity="1Minute", metrics=list(FLEET_GROUP_METRICS))]
        name = self.auto_scaling_group.auto_scaling_group_name
        group, minute = {"AutoScalingGroupName": name}, Duration.minutes(1)
        in_service = metric("AWS/AutoScaling", "GroupInServiceInstances", group, "Minimum", minute, "in service")
        pending = metric("AWS/AutoScaling", "GroupPendingInstances", group, "Maximum", minute, "pending")
        terminating = metric("AWS/AutoScaling", "GroupTerminatingInstances", group, "Maximum", minute, "terminating")
        bound = self.plan.failover.worst_case_seconds
        minutes = dp.ha_outage_minutes(bound)
        path = self.node.path
        result = Monitoring(title=f"{path} (HaInstance)")
        result.widgets.append(graph(f"{self.node.id}: the server", [in_service, pending, terminating],
                                    unit="instances", lines={"one in service": 1}))
        result.alarms.append(watch(
            scope, "NotInService", what=f"{path}: the server in service", metric_=in_service, threshold=1,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD, periods=minutes,
            condition=f"none for {minutes} minutes (the failover bound, {bound} s)", why=dp.WHY_HA_DOWN,
            missing=cloudwatch.TreatMissingData.BREACHING))
        result.events.append(EventWatch(
            "LaunchFailed", what=f"{path}: instance launches that failed", why=dp.WHY_HA_LAUNCH_FAILED,
            pattern=events.EventPattern(source=["aws.autoscaling"], detail_type=["EC2 Instance Launch Unsuccessful"],
                                        detail={"AutoScalingGroupName": [name]})))
        return result

    def add_boot_commands(self, *lines: str) -> None:
        """User-data lines after the data volume and the address are in place (install and start the server)."""
        self.user_data.add_commands(*lines)

    def launch_after(self, *constructs: IDependable) -> None:
        """The instance is not launched before `constructs` exist (mount_on's rules and mount targets)."""
        self.auto_scaling_group.node.add_dependency(*constructs)


def boot_statements(owner: HaInstance, plan: HaPlan) -> list[iam.PolicyStatement]:
    """The boot role's statements: each action on the fewest resources, by ARN or by the owner tag.

    (cloudformation:SignalResource on this stack comes from the group's creation signals: CDK grants it.)
    """
    stack = Stack.of(owner)
    path = owner.node.path
    owned = {"StringEquals": {f"aws:ResourceTag/{OWNER_TAG}": path}}

    def arn(service: str, resource: str, *, account: bool = True) -> str:
        return stack.format_arn(service=service, resource=resource, account=None if account else "",
                                arn_format=ArnFormat.SLASH_RESOURCE_NAME)

    volumes, instances = arn("ec2", "volume/*"), arn("ec2", "instance/*")
    snapshots = f"arn:{stack.partition}:ec2:{stack.region}::snapshot/*"
    statements = [
        iam.PolicyStatement(sid="Describe", actions=[
            "ec2:DescribeVolumes", "ec2:DescribeSnapshots", "ec2:DescribeNetworkInterfaces",
            "autoscaling:DescribeAutoScalingInstances"], resources=["*"]),
        iam.PolicyStatement(sid="AttachOwnVolumes", actions=["ec2:AttachVolume"], resources=[volumes, instances],
                            conditions=owned),
        iam.PolicyStatement(sid="CreateVolumeTagged", actions=["ec2:CreateVolume"], resources=[volumes],
                            conditions={"StringEquals": {f"aws:RequestTag/{OWNER_TAG}": path}}),
        iam.PolicyStatement(sid="CreateVolumeFromOwnSnapshots", actions=["ec2:CreateVolume"], resources=[snapshots],
                            conditions=owned),
        iam.PolicyStatement(sid="SnapshotOwnVolumes", actions=["ec2:CreateSnapshot"], resources=[volumes],
                            conditions=owned),
        iam.PolicyStatement(sid="CreateSnapshotTagged", actions=["ec2:CreateSnapshot"], resources=[snapshots],
                            conditions={"StringEquals": {f"aws:RequestTag/{OWNER_TAG}": path}}),
        iam.PolicyStatement(sid="TagOnCreate", actions=["ec2:CreateTags"], resources=[volumes, snapshots],
                            conditions={"StringEquals": {"ec2:CreateAction": ["CreateVolume", "CreateSnapshot"]}}),
        iam.PolicyStatement(sid="MarkSuperseded", actions=["ec2:CreateTags"], resources=[volumes],
                            conditions={**owned, "ForAllValues:StringEquals": {"aws:TagKeys": [CURRENT_TAG]}}),
        iam.PolicyStatement(sid="PruneOwnSnapshots", actions=["ec2:DeleteSnapshot"], resources=[snapshots],
                            conditions={**owned, "Null": {f"aws:ResourceTag/{TAKEN_TAG}": "false"}}),
        iam.PolicyStatement(sid="LifecycleAndHealth", actions=[
            "autoscaling:CompleteLifecycleAction", "autoscaling:SetInstanceHealth"],
            resources=[stack.format_arn(service="autoscaling", resource="autoScalingGroup",
                                        resource_name="*:autoScalingGroupName/*",
                                        arn_format=ArnFormat.COLON_RESOURCE_NAME)], conditions=owned),
    ]
    if owner.elastic_ip is not None:
        statements.append(iam.PolicyStatement(
            sid="AssociateItsElasticIp", actions=["ec2:AssociateAddress"],
            resources=[arn("ec2", f"elastic-ip/{owner.elastic_ip.attr_allocation_id}")]))
        statements.append(iam.PolicyStatement(
            sid="AssociateToOwnInstance", actions=["ec2:AssociateAddress"],
            resources=[instances, arn("ec2", "network-interface/*")], conditions=owned))
    if owner.network_interfaces:
        statements.append(iam.PolicyStatement(
            sid="AttachOwnInterfaces", actions=["ec2:AttachNetworkInterface"],
            resources=[arn("ec2", "network-interface/*"), instances], conditions=owned))
    if owner.hosted_zone is not None:
        assert plan.record_name is not None
        statements.append(iam.PolicyStatement(
            sid="UpdateItsRecord", actions=["route53:ChangeResourceRecordSets"],
            resources=[f"arn:{stack.partition}:route53:::hostedzone/{owner.hosted_zone.hosted_zone_id}"],
            conditions={"ForAllValues:StringEquals": {
                "route53:ChangeResourceRecordSetsNormalizedRecordNames": [plan.record_name],
                "route53:ChangeResourceRecordSetsRecordTypes": ["A"],
                "route53:ChangeResourceRecordSetsActions": ["UPSERT", "DELETE"]}}))
    return statements


def _tag(key: str, value: str) -> CfnTag:
    return CfnTag(key=key, value=value)


def _label(construct_id: str) -> str:
    """A DNS label from a construct id: LicenseServer -> licenseserver."""
    return re.sub(r"[^a-z0-9-]", "", construct_id.lower()).strip("-")[:63] or "server"


def _subnets(path: str, vpc: ec2.IVpc, selection: ec2.SubnetSelection | None) -> list[ec2.ISubnet]:
    if selection is not None:
        return list(vpc.select_subnets(
            availability_zones=selection.availability_zones, one_per_az=selection.one_per_az,
            subnet_filters=selection.subnet_filters, subnet_group_name=selection.subnet_group_name,
            subnets=selection.subnets, subnet_type=selection.subnet_type).subnets)
    chosen: dict[str, ec2.ISubnet] = {}
    for subnet in list(vpc.private_subnets) or list(vpc.public_subnets):
        chosen.setdefault(subnet.availability_zone, subnet)
    if not chosen:
        raise ConfigError(path, "vpc", "a VPC without private or public subnets",
                          "a VPC with private subnets (and a route out) in at least two AZs")
    return list(chosen.values())


def _env_file(owner: HaInstance, plan: HaPlan) -> list[str]:
    spec = plan.data_volume
    values: dict[str, str] = {
        "HPC_HA_OWNER": owner.node.path, "HPC_HA_MOUNT_POINT": plan.mount_point, "HPC_HA_DEVICE": DATA_DEVICE,
        "HPC_HA_VOLUME_TYPE": spec.volume_type, "HPC_HA_VOLUME_IOPS": str(spec.iops or ""),
        "HPC_HA_VOLUME_THROUGHPUT": str(spec.throughput_mibps or ""),
        "HPC_HA_RETENTION": str(plan.snapshot_retention), "HPC_HA_WAIT_SECONDS": str(plan.volume_wait_seconds),
        "HPC_HA_ADDRESS": plan.address, "HPC_HA_SERVICE": plan.service_name or "",
        "HPC_HA_HEALTH_COMMAND": plan.health_check_command or "",
        "HPC_HA_HEALTH_FAILURES": str(plan.health_check_failures),
        "HPC_HA_LAUNCH_HOOK": LAUNCH_HOOK, "HPC_HA_TERMINATION_HOOK": TERMINATION_HOOK,
    }
    if owner.elastic_ip is not None:
        values["HPC_HA_ALLOCATION_ID"] = owner.elastic_ip.attr_allocation_id
    if owner.hosted_zone is not None:
        assert plan.record_name is not None
        values.update(HPC_HA_ZONE_ID=owner.hosted_zone.hosted_zone_id, HPC_HA_RECORD=plan.record_name,
                      HPC_HA_TTL=str(RECORD_TTL_SECONDS))
    return boot.write_file(ENV_FILE, "\n".join(f"{key}='{value}'" for key, value in values.items()), mode="0600")


def _boot_commands(owner: HaInstance, plan: HaPlan) -> list[str]:
    """The data volume first (the server's state), then the address, then the lifecycle watcher and health timer."""
    interval = plan.health_check_interval_seconds
    # The server's own users and daemons (a license manager runs as its own user) are not the role: the
    # metadata service stays root's (the guard every node kind of the library runs).
    lines = [*boot.install_boot_script(boot.IMDS_GUARD_SCRIPT), *boot.imds_guard(), *_env_file(owner, plan)]
    for name in SCRIPTS:
        lines += boot.install_boot_script(name)
    lines += [
        boot.install_step("volume tools (xfsprogs)", *VOLUME_TOOLS),
        boot.step(f"data volume at {plan.mount_point}", "/usr/local/sbin/hpc-ha-volume", "attach"),
        boot.step(f"address ({plan.address})", "/usr/local/sbin/hpc-ha-address", "take"),
        *boot.systemd_unit("hpc-ha-lifecycle.service", "\n".join([
            "[Unit]", "Description=hpc-constructs HaInstance: final snapshot in the termination lifecycle hook",
            "After=network-online.target", "[Service]", "ExecStart=/usr/local/sbin/hpc-ha-lifecycle watch",
            "Restart=on-failure", "[Install]", "WantedBy=multi-user.target"])),
        *boot.systemd_unit("hpc-ha-health.service", "\n".join([
            "[Unit]", "Description=hpc-constructs HaInstance: health check", "[Service]", "Type=oneshot",
            "ExecStart=/usr/local/sbin/hpc-ha-lifecycle health"])),
        *boot.systemd_unit("hpc-ha-health.timer", "\n".join([
            "[Unit]", "Description=hpc-constructs HaInstance: health check timer", "[Timer]",
            f"OnActiveSec={interval}", f"OnUnitActiveSec={interval}", "AccuracySec=1s", "[Install]",
            "WantedBy=timers.target"])),
        "systemctl daemon-reload",
        boot.step("lifecycle watcher and health timer", "systemctl", "enable", "--now", "hpc-ha-lifecycle.service",
                  "hpc-ha-health.timer"),
    ]
    return lines


def _signal_function(stack_id: str, logical_id: str, region: str) -> list[str]:
    """hpc_ha_launch_complete: the launch hook (CONTINUE or ABANDON), then CloudFormation (SUCCESS or FAILURE)."""
    return boot.function("hpc_ha_launch_complete", [
        "local result=CONTINUE status=SUCCESS token id",
        '[ "${#HPC_FAILED_STEPS[@]}" -gt 0 ] && { result=ABANDON; status=FAILURE; }',
        '/usr/local/sbin/hpc-ha-lifecycle launch "$result" || echo "hpc-constructs: launch hook not completed" >&2',
        "token=$(curl -sS -X PUT http://169.254.169.254/latest/api/token "
        "-H 'X-aws-ec2-metadata-token-ttl-seconds: 60')",
        'id=$(curl -sS -H "X-aws-ec2-metadata-token: $token" http://169.254.169.254/latest/meta-data/instance-id)',
        f'aws --region {region} cloudformation signal-resource --stack-name {stack_id} '
        f'--logical-resource-id {logical_id} --unique-id "$id" --status "$status" '
        '|| echo "hpc-constructs: could not signal CloudFormation" >&2',
    ])


def _dlm_policy(owner: HaInstance, plan: HaPlan) -> dlm.CfnLifecyclePolicy:
    role = iam.Role(owner, "SnapshotRole", assumed_by=iam.ServicePrincipal("dlm.amazonaws.com"),
                    description=f"{owner.node.path}: Data Lifecycle Manager snapshots of the data volume",
                    managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(
                        "service-role/AWSDataLifecycleManagerServiceRole")])
    Validations.of(role).acknowledge(Acknowledgment(
        id="AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
           "AWSDataLifecycleManagerServiceRole]",
        reason="AWS-maintained policy for Data Lifecycle Manager's default snapshot role; the policy targets only "
               "the volume tagged as this HaInstance's current one."))
    hours = plan.snapshot_interval_minutes // 60
    return dlm.CfnLifecyclePolicy(
        owner, "SnapshotPolicy",
        # DLM's description takes only letters, digits, spaces, '_' and '-'
        description=re.sub(r"[^0-9A-Za-z _-]", " ", f"{owner.node.path} data volume every {hours} h")[:500],
        state="ENABLED", execution_role_arn=role.role_arn,
        policy_details=dlm.CfnLifecyclePolicy.PolicyDetailsProperty(
            policy_type="EBS_SNAPSHOT_MANAGEMENT", resource_types=["VOLUME"],
            target_tags=[_tag(CURRENT_TAG, owner.node.path)],
            schedules=[dlm.CfnLifecyclePolicy.ScheduleProperty(
                name=f"every {hours} h", copy_tags=True,
                create_rule=dlm.CfnLifecyclePolicy.CreateRuleProperty(interval=hours, interval_unit="HOURS"),
                retain_rule=dlm.CfnLifecyclePolicy.RetainRuleProperty(count=plan.snapshot_retention))]))


def _scheduled_snapshots(owner: HaInstance, plan: HaPlan) -> scheduler.CfnSchedule:
    """Below DLM's hour: EventBridge Scheduler runs a Run Command document on the instance that takes the snapshot."""
    stack = Stack.of(owner)
    document = ssm.CfnDocument(owner, "SnapshotDocument", document_type="Command", document_format="JSON", content={
        "schemaVersion": "2.2",
        "description": f"{owner.node.path}: snapshot the HaInstance's data volume (file-system consistent)",
        "mainSteps": [{"action": "aws:runShellScript", "name": "snapshot",
                       "inputs": {"runCommand": ["/usr/local/sbin/hpc-ha-volume snapshot scheduled"]}}]})
    role = iam.Role(owner, "ScheduleRole", assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"),
                    description=f"{owner.node.path}: EventBridge Scheduler runs the snapshot document")
    role.add_to_policy(iam.PolicyStatement(
        sid="RunTheSnapshotDocument", actions=["ssm:SendCommand"],
        resources=[stack.format_arn(service="ssm", resource="document", resource_name=document.ref)]))
    role.add_to_policy(iam.PolicyStatement(
        sid="OnItsInstanceOnly", actions=["ssm:SendCommand"],
        resources=[stack.format_arn(service="ec2", resource="instance", resource_name="*")],
        conditions={"StringEquals": {f"ssm:resourceTag/{OWNER_TAG}": owner.node.path}}))
    acknowledge_wildcards(role, suffixes=(":instance/*",),
                          reason="Run Command only on instances carrying this HaInstance's owner tag (condition).")
    return scheduler.CfnSchedule(
        owner, "SnapshotSchedule", description=f"{owner.node.path}: data volume snapshot",
        schedule_expression=f"rate({plan.snapshot_interval_minutes} minute"
                            f"{'s' if plan.snapshot_interval_minutes > 1 else ''})",
        flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
        target=scheduler.CfnSchedule.TargetProperty(
            arn="arn:aws:scheduler:::aws-sdk:ssm:sendCommand", role_arn=role.role_arn,
            input=stack.to_json_string({"DocumentName": document.ref,
                                        "Targets": [{"Key": f"tag:{OWNER_TAG}", "Values": [owner.node.path]}]})))


def _figures(plan: HaPlan, path: str, image: str | None = None) -> dict[str, object]:
    f = plan.failover
    schedule = ("Data Lifecycle Manager" if plan.schedule == "dlm"
                else "EventBridge Scheduler -> Run Command on the instance")
    return {
        "instance": f"1 x {plan.instance_type.name} (On-Demand, {image or 'Amazon Linux 2023'}), "
                    "Auto Scaling group 1-1-1",
        "availability zones": len(plan.zones),
        "address": plan.address + (f" ({plan.record_name})" if plan.record_name else ""),
        "ports": ", ".join(map(str, plan.ports)) or "none",
        "data volume": f"{plan.data_volume.volume_type} {plan.data_volume.size_gib} GiB at {plan.mount_point}, "
                       "encrypted, retained",
        "snapshots": f"every {plan.snapshot_interval_minutes} min ({schedule}), keep {plan.snapshot_retention}; "
                     "and one in the termination hook",
        "recovery point (AZ lost)": f"up to {plan.snapshot_interval_minutes} min of writes",
        "recovery point (instance lost, AZ up)": "none lost: the detached volume is reattached or snapshotted",
        "failover bound (s)": f"detection {f.application_detection_seconds} (health) or every "
                              f"{f.ec2_status_check_seconds} (EC2 status checks), then a new instance in service "
                              f"within the launch hook's {f.launch_hook_seconds} (it waits up to "
                              f"{plan.volume_wait_seconds} for the old volume and final snapshot)",
        "owner tag": f"{OWNER_TAG}={path}",
    }


__all__ = ["HaInstance", "boot_statements"]
