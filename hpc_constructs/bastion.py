"""HaBastion: SSH bastions in several Availability Zones behind an internet-facing Network Load Balancer."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

import jsii
from aws_cdk import Acknowledgment, CfnOutput, Duration, RemovalPolicy, Stack, Token, Validations
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from hpc_constructs import boot, paths
from hpc_constructs.bastion_plan import (
    DEFAULT_SSH_LOG_RETENTION_DAYS,
    SSH_PORT,
    AclRule,
    BastionPlan,
    plan_bastion,
)
from hpc_constructs.catalog.limits import NETWORK_ACL
from hpc_constructs.catalog.software import AL2023_ROOT_DEVICE, CLOUDWATCH_AGENT, RSYSLOG
from hpc_constructs.compute_fleet import UserDataFits
from hpc_constructs.errors import ConfigError
from hpc_constructs.given import (
    SSM_POLICY,
    add_statement,
    instance_role,
    role_anchor,
    takes_rules,
    warn_fixed_group,
)
from hpc_constructs.image_plan import check_image_for, image_plan_of
from hpc_constructs.kinds import check_kinds
from hpc_constructs.monitoring import Monitoring, MonitoringSettings
from hpc_constructs.nag import acknowledge_ec26_misreport
from hpc_constructs.ssh_users import SshUsers

if TYPE_CHECKING:
    from hpc_constructs.image import HpcImage

ROOT_VOLUME_GIB = 16  # Amazon Linux 2023 needs 8; the rest is room for logs and packages
HEALTH_CHECK_GRACE = Duration.minutes(5)  # first boot installs rsyslog and the CloudWatch agent
SIGNAL_TIMEOUT = Duration.minutes(15)  # how long CloudFormation waits for a new bastion's boot to succeed
HEALTH_CHECK_INTERVAL = Duration.seconds(10)
HEALTH_CHECK_THRESHOLD = 2  # 2 failed checks 10 s apart take a bastion out of service
DEREGISTRATION_DELAY = Duration.seconds(60)
LOGIN_USER = "ec2-user"  # Amazon Linux 2023
SSH_LOG = "/var/log/secure"
CLOUDWATCH_AGENT_CONFIG = "/opt/aws/amazon-cloudwatch-agent/etc/hpc-bastion.json"
SSHD_DROP_IN = "/etc/ssh/sshd_config.d/10-hpc-bastion.conf"  # sshd keeps the first value it reads: ours first
HOST_KEY_TAG = "hpc-host-keys-generation"
# rsyslog reads /etc/rsyslog.d/*.conf before its own rules: this one takes the load balancer's health checks (a TCP
# connection to port 22 that closes before the SSH banner, every 10 s from each load-balancer node) out of
# /var/log/secure, into a file of their own.
HEALTH_CHECK_RSYSLOG = "/etc/rsyslog.d/01-hpc-health-checks.conf"
HEALTH_CHECK_LOG = "/var/log/sshd-health-checks"


@jsii.implements(ec2.IConnectable)
class HaBastion(Construct):
    """SSH bastions in several Availability Zones behind one internet-facing Network Load Balancer.

    Props (keyword-only) and their defaults:
      vpc: the VPC (required). It needs a public subnet (the load balancer) and a private subnet with a route
           out (an instance) in each AZ used. HpcNetwork has both.
      allowed_cidrs: who may connect (required, non-empty): IPv4 or IPv6 CIDRs in canonical form. An IPv6
                     CIDR makes the load balancer dual-stack (the VPC's public subnets need IPv6 ranges).
      blocked_cidrs: (). Addresses denied at the public subnets' boundary, inbound and outbound, by network ACL
                     deny rules numbered before every allow rule. Up to 20 rules per direction and IP family
                     (the VPC quota) hold the allow rules too: with one allowed IPv4 CIDR, 15 blocked IPv4 CIDRs
                     fit (`more_blocked_cidrs_that_fit`).
      instance_type: "t3.micro". Any On-Demand x86_64 or arm64 type Amazon Linux 2023 runs on (t4g.micro).
      availability_zones: 2. One instance in each of the first N AZs where the VPC has both subnets; at least 2.
      ssh_users: None. An SshUsers: the people who may SSH in, each with their own account on every bastion
                 (no sudo) and their public keys, synced from one SSM parameter every few minutes. The way in
                 (`ssh -J <user>@<endpoint> <user>@<node>`). Without it, only key_name's key or Session Manager.
      key_name: None. An EC2 key pair for ec2-user (an administrator). ssh_users is the way in for people.
      host_key_generation: 1. The generation of the group's SSH host keys: a new number is a rotation (the next
                           bastion stores new keys under it, a rolling update replaces the others; users accept
                           the new host key once).
      host_key_admins: None is the account's root user. The principals (ARNs) that may still read or write the
                       host-key secret beside the bastions' role: the break-glass for an incident. The secret's
                       resource policy denies everyone else.
      allow_open_ssh: None. A reason, required to allow 0.0.0.0/0 or ::/0; it becomes the cdk-nag
                      acknowledgment's reason.
      ssh_log_retention_days: 365. How long the SSH logs (/var/log/secure of every bastion) stay in
                              CloudWatch Logs. The log group is retained when the stack is deleted.
      acl_rule_quota: 20. Your account's 'Rules per network ACL' quota (20 to 40).
      machine_image: None: the latest Amazon Linux 2023 at each deploy, which installs rsyslog, the CloudWatch
                     agent and iptables at first boot. An HpcImage (base "al2023", the instance type's
                     architecture) holds them: a new bastion installs nothing, and a rolling update follows the
                     image's rebuilds instead of every new Amazon Linux release.
      security_group: None makes the bastions' group (all outbound). A group of yours instead (made in the app, or
                      imported): the bastion adds SSH from its load balancer's group to it; imported with
                      mutable=False it takes none, and the bastion warns naming the rule.
      role: None makes the bastions' role. A role of yours instead: the bastion adds its statements (the SSH log,
            the host-key secret, the signal to CloudFormation, the SSH users' parameter) and names it in the
            secret's resource policy; it attaches AmazonSSMManagedInstanceCore to a role made in the app. A role
            CDK cannot add to gets a warning naming what it must already have.

    What is built:
      - an Auto Scaling group with min = max = desired = availability_zones, one instance per AZ in the
        private subnets; health checks through the load balancer (ELB) after a 5-minute grace period. Each
        bastion signals CloudFormation when its boot ends (SUCCESS only if every step succeeded): creation
        waits for all of them, and rolling updates replace one instance at a time and wait for the new one,
        so that a new image (the latest Amazon Linux 2023 at each deploy) never takes both down;
      - instances: Amazon Linux 2023 (latest at each deploy), IMDSv2 only, an encrypted gp3 root volume, a role
        with Session Manager (a second way in, no open port), no key pair unless key_name is given;
        rsyslog writes sshd's log to /var/log/secure (Amazon Linux 2023 logs to the journal only) and the
        CloudWatch agent ships it to a log group; sshd sends keepalives every 60 s, so that idle sessions
        survive the load balancer's idle timeout; every bastion presents the same SSH host keys, kept as one
        immutable version of a Secrets Manager secret (hpc-bastion-host-keys, the first boot step), so that
        users' known_hosts hold one identity whichever bastion a connection lands on and after any
        replacement. A bastion that cannot get them stops sshd rather than present another identity (its
        health check then fails and the group replaces it);
      - an internet-facing Network Load Balancer in the public subnets of the same AZs, cross-zone load
        balancing on, a TCP 22 listener, a target group with a TCP health check and client IP preservation
        (sshd and its log see an IPv4 user's address; IPv6 users appear as the load balancer's); the load
        balancer's security group admits only
        allowed_cidrs on port 22, and the instances admit port 22 only from that security group;
      - a network ACL on every public subnet of the VPC (the load balancer's and the NAT gateways', so that
        blocked addresses are also cut from the nodes' outbound traffic): deny rules for blocked_cidrs first,
        then allow rules for SSH from allowed_cidrs, everything from the VPC's primary IPv4 range, return
        traffic on ephemeral ports 1024-65535 and ICMP inbound, and everything outbound. Anything else in the
        public subnets that takes inbound connections (an ALB on 443), and private subnets in a secondary
        IPv4 range (their NAT traffic), need allow entries of their own in `network_acl`, numbered above
        1000 so that the deny rules still come first. IPv6 is admitted only when an allowed CIDR is IPv6.

    Failover:
      - an instance fails (its EC2 status or the TCP health check): the load balancer stops routing new
        connections to it after 2 failed checks (20 s); the Auto Scaling group, whose health checks include
        the load balancer's, replaces it in the same AZ; sessions on that instance drop, and reconnecting
        lands on a healthy bastion;
      - a whole AZ fails: the load balancer routes every connection to the bastions in the other AZs (cross-zone
        load balancing lets each load-balancer node reach every target, so the endpoint keeps serving from
        whichever AZ still answers); the group launches the lost AZ's instance in a healthy AZ, and rebalances
        back when the AZ recovers.

    Attributes: load_balancer, listener, target_group, auto_scaling_group, security_group (the instances'),
    load_balancer_security_group, connections (the instances' security group: `fleet.allow_ssh_from(bastion)`
    or `fleet.connections.allow_from(bastion, ec2.Port.tcp(22))`), network_acl, log_group, host_keys (the
    secret), role, launch_template, ssh_command (a CfnOutput: the ssh command line with the load balancer's DNS
    name), plan (bastion_plan.BastionPlan), more_blocked_cidrs_that_fit (per IP family, for the figures).
    """

    @check_kinds
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc,
        allowed_cidrs: Sequence[str],
        blocked_cidrs: Sequence[str] = (),
        instance_type: str = "t3.micro",
        availability_zones: int = 2,
        key_name: str | None = None,
        ssh_users: SshUsers | None = None,
        host_key_generation: int = 1,
        host_key_admins: Sequence[str] | None = None,
        allow_open_ssh: str | None = None,
        ssh_log_retention_days: int = DEFAULT_SSH_LOG_RETENTION_DAYS,
        acl_rule_quota: int = NETWORK_ACL.rules_per_direction,
        machine_image: HpcImage | None = None,
        security_group: ec2.ISecurityGroup | None = None,
        role: iam.IRole | None = None,
    ) -> None:
        super().__init__(scope, id)
        zones = _zones(vpc)
        self.plan: BastionPlan = plan_bastion(
            self.node.path, allowed_cidrs=allowed_cidrs, blocked_cidrs=blocked_cidrs,
            instance_type_name=instance_type, availability_zones=availability_zones, usable_zones=len(zones),
            allow_open_ssh=allow_open_ssh, ssh_log_retention_days=ssh_log_retention_days,
            vpc_cidr=_vpc_cidr(vpc), key_name=key_name, acl_rule_quota=acl_rule_quota)
        plan = self.plan
        image = image_plan_of(machine_image)
        if machine_image is not None and image is None:
            raise ConfigError(self.node.path, "machine_image", machine_image, "an HpcImage or None")
        if image is not None:
            check_image_for(self.node.path, image, [plan.instance_type], use="fleet")
        installed = image.contents if image is not None else frozenset()
        chosen = zones[:plan.availability_zones]
        public = [pair[0] for pair in chosen]
        private = [pair[1] for pair in chosen]
        if plan.dual_stack:
            _require_ipv6(self.node.path, public)

        # -- security groups: clients -> load balancer (allow-list) -> instances (load balancer only) ---------
        self.load_balancer_security_group = ec2.SecurityGroup(
            self, "LoadBalancerSecurityGroup", vpc=vpc, allow_all_outbound=False,
            description=f"{self.node.path}: SSH load balancer; port 22 from allowed_cidrs only")
        for cidr in plan.allowed:
            peer = ec2.Peer.ipv6(str(cidr)) if cidr.version == 6 else ec2.Peer.ipv4(str(cidr))
            self.load_balancer_security_group.add_ingress_rule(peer, ec2.Port.tcp(SSH_PORT), f"SSH from {cidr}")
        self.security_group: ec2.ISecurityGroup = security_group or ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, allow_all_outbound=True,
            description=f"{self.node.path}: bastions; port 22 from the load balancer only")
        instance_ingress: Construct | None = None
        if takes_rules(self.security_group):
            instance_ingress = ec2.CfnSecurityGroupIngress(
                self, "SshFromLoadBalancer", group_id=self.security_group.security_group_id, ip_protocol="tcp",
                from_port=SSH_PORT, to_port=SSH_PORT,
                source_security_group_id=self.load_balancer_security_group.security_group_id,
                description="SSH and health checks from the load balancer (client IP preserved)")
        else:
            warn_fixed_group(self, self.security_group.node.path, [
                f"TCP {SSH_PORT} from {self.load_balancer_security_group.node.path}"],
                why="SSH and the load balancer's health checks")
        ec2.CfnSecurityGroupEgress(
            self, "LoadBalancerToBastions", group_id=self.load_balancer_security_group.security_group_id,
            ip_protocol="tcp", from_port=SSH_PORT, to_port=SSH_PORT,
            destination_security_group_id=self.security_group.security_group_id,
            description="SSH and health checks to the bastions")
        self._connections = ec2.Connections(security_groups=[self.security_group],
                                            default_port=ec2.Port.tcp(SSH_PORT))
        if plan.open_to_world:
            Validations.of(self.load_balancer_security_group).acknowledge(Acknowledgment(
                id="AwsSolutions::AwsSolutions-EC23", reason=f"allow_open_ssh: {allow_open_ssh}"))

        # -- logs, host keys, role ---------------------------------------------------------------------------
        self.log_group = logs.LogGroup(self, "SshLog", removal_policy=RemovalPolicy.RETAIN)
        cfn_log_group = self.log_group.node.default_child
        assert isinstance(cfn_log_group, logs.CfnLogGroup)
        cfn_log_group.retention_in_days = plan.log_retention_days
        self.host_keys = secretsmanager.Secret(
            self, "HostKeys", removal_policy=RemovalPolicy.DESTROY,
            description=f"{self.node.path}: the SSH host keys every bastion presents (hpc-bastion-host-keys)")
        Validations.of(self.host_keys).acknowledge(Acknowledgment(
            id="AwsSolutions::AwsSolutions-SMG4",
            reason="SSH host keys: rotating them would change the bastions' identity and break every user's "
                   "known_hosts. They change when the secret is replaced, as a new endpoint's would."))
        self.role = instance_role(
            self, role, description=f"{self.node.path}: bastions (Session Manager, SSH log shipping, shared host keys)",
            policies={SSM_POLICY: "AWS-maintained least-privilege policy for Session Manager: a second way in with no "
                                  "open port."}, why="Session Manager on the bastions")
        why = "the bastions' boot (SSH log, shared host keys, the signal to CloudFormation)"
        add_statement(self, self.role, iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            resources=[self.log_group.log_group_arn]), why=why)
        who = paths.role(self.role, f"{self.node.path} bastion role")
        anchor = role_anchor(self.role, self.host_keys)
        paths.declare_iam(anchor, who, ["logs:CreateLogStream", "logs:PutLogEvents"],
                          [self.log_group.log_group_arn], on=f"the SSH log {self.log_group.node.path}")
        add_statement(self, self.role, iam.PolicyStatement(
            actions=["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"],
            resources=[self.host_keys.secret_arn]), why=why)
        # The first bastion marks the keys as written (their generation); the resource policy then denies any write.
        add_statement(self, self.role, iam.PolicyStatement(
            actions=["secretsmanager:TagResource"], resources=[self.host_keys.secret_arn],
            conditions={"StringEquals": {f"aws:RequestTag/{HOST_KEY_TAG}": str(host_key_generation)},
                        "ForAllValues:StringEquals": {"aws:TagKeys": [HOST_KEY_TAG]}}), why=why)
        self._host_key_policy(host_key_generation, host_key_admins)
        paths.declare_iam(anchor, who, ["secretsmanager:GetSecretValue"], [self.host_keys.secret_arn],
                          on=f"the host-key secret {self.host_keys.node.path}", why="first boot step")
        admins = [paths.role(arn, f"break-glass admin {arn}") for arn in self.host_key_admins]
        paths.declare_exclusive(self.host_keys, [who, *admins], ["secretsmanager:GetSecretValue"],
                                [self.host_keys.secret_arn], on=f"the host-key secret {self.host_keys.node.path}",
                                why="the shared SSH identity: the secret's policy refuses everyone else")
        written = {f"secretsmanager:ResourceTag/{HOST_KEY_TAG}": str(host_key_generation)}
        paths.declare_iam(anchor, who, ["secretsmanager:PutSecretValue", "secretsmanager:TagResource"],
                          [self.host_keys.secret_arn], on=f"the host-key secret {self.host_keys.node.path}",
                          context={f"aws:RequestTag/{HOST_KEY_TAG}": str(host_key_generation),
                                   "aws:TagKeys": [HOST_KEY_TAG]},
                          why="the first bastion of a generation writes its keys and tags the secret with it")
        paths.declare_iam(anchor, who, ["secretsmanager:PutSecretValue"], [self.host_keys.secret_arn],
                          on=f"the host-key secret {self.host_keys.node.path} once tagged with its generation",
                          context=written, denied=True, why="once the keys exist, no bastion may replace them")
        add_statement(self, self.role, iam.PolicyStatement(  # the boot's success or failure, to this stack only
            actions=["cloudformation:SignalResource"], resources=[Stack.of(self).stack_id]), why=why)
        paths.declare_iam(anchor, who, ["cloudformation:SignalResource"], [Stack.of(self).stack_id],
                          on="its stack", why="boot signal")
        paths.declare_iam(anchor, who, paths.SSM_ACTIONS, ["*"], on="any resource", why="Session Manager")

        # -- instances ---------------------------------------------------------------------------------------
        self.user_data = ec2.UserData.for_linux()
        self.node.add_validation(UserDataFits(self, self.user_data))
        # At exit, before the boot report: tell CloudFormation whether every step succeeded.
        self.user_data.add_on_exit_commands("hpc_bastion_signal", *boot.ON_EXIT)
        self.user_data.add_commands(*boot.PRELUDE, *boot.image_check(installed))
        # Users who log in here are not the bastion: the instance role (the host-key secret) stays root's.
        self.user_data.add_commands(*boot.install_boot_script(boot.IMDS_GUARD_SCRIPT),
                                    *boot.without_installed(boot.imds_guard(), installed))
        self.ssh_users = ssh_users
        if ssh_users is not None:
            _check_ssh_users(self.node.path, ssh_users)
            self.user_data.add_commands(*boot.without_installed(ssh_users.boot_commands(self), installed))
            add_statement(self, self.role, ssh_users.read_statement(), why="the SSH users' sync on the bastions")
            ssh_users.declare_read(anchor, self.role)
        self.user_data.add_commands(*boot.without_installed(_boot_commands(
            self.log_group.log_group_name, self.host_keys.secret_arn, Stack.of(self).region, host_key_generation,
            [s.ipv4_cidr_block for s in public]), installed))
        arch = plan.instance_type.architecture
        self.launch_template = ec2.LaunchTemplate(
            self, "LaunchTemplate",
            machine_image=machine_image or ec2.MachineImage.latest_amazon_linux2023(
                cpu_type=ec2.AmazonLinuxCpuType.ARM_64 if arch == "arm64" else ec2.AmazonLinuxCpuType.X86_64),
            instance_type=ec2.InstanceType(plan.instance_type.name),
            require_imdsv2=True,
            http_put_response_hop_limit=1,  # nothing on a bastion runs in a container
            role=self.role,
            security_group=self.security_group,
            user_data=self.user_data,
            key_pair=ec2.KeyPair.from_key_pair_name(self, "KeyPair", key_name) if key_name else None,
            block_devices=[ec2.BlockDevice(device_name=AL2023_ROOT_DEVICE, volume=ec2.BlockDeviceVolume.ebs(
                ROOT_VOLUME_GIB, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3,
                delete_on_termination=True))],
        )
        count = plan.availability_zones
        self.auto_scaling_group = autoscaling.AutoScalingGroup(
            self, "Group", vpc=vpc, vpc_subnets=ec2.SubnetSelection(subnets=private),
            launch_template=self.launch_template,
            min_capacity=count, max_capacity=count, desired_capacity=count,
            health_checks=autoscaling.HealthChecks.with_additional_checks(
                additional_types=[autoscaling.AdditionalHealthCheckType.ELB], grace_period=HEALTH_CHECK_GRACE),
            # Creation and each rolling step wait for the new bastion's boot to succeed (hpc_bastion_signal).
            signals=autoscaling.Signals.wait_for_all(timeout=SIGNAL_TIMEOUT),
            update_policy=autoscaling.UpdatePolicy.rolling_update(
                max_batch_size=1, min_instances_in_service=count - 1, pause_time=SIGNAL_TIMEOUT),
        )
        cfn_group = self.auto_scaling_group.node.default_child
        assert isinstance(cfn_group, autoscaling.CfnAutoScalingGroup)
        stack = Stack.of(self)
        self.user_data.add_commands(*_signal_function(stack.stack_id, stack.get_logical_id(cfn_group), stack.region))
        # The first boot reads the secret, writes the log and signals: the role's policy must exist by then.
        self.auto_scaling_group.node.add_dependency(self.role)
        Validations.of(self.auto_scaling_group).acknowledge(Acknowledgment(
            id="Annotation::@aws-cdk/aws-autoscaling:desiredCapacitySet",
            reason="A fixed-size group: min = max = desired = one bastion per AZ, reset to that on every deploy."))
        # Instances must not boot before the rule that admits the health checks.
        if instance_ingress is not None:
            self.auto_scaling_group.node.add_dependency(instance_ingress)
        self.path_endpoint = paths.nodes(self.auto_scaling_group, f"{self.node.path} bastions")
        for services, why in ((["secretsmanager"], "the shared host keys, first boot step"),
                              (["logs"], "the SSH log, CloudWatch agent"), (paths.SSM, "Session Manager"),
                              (["cloudformation"], "the boot's signal")):
            paths.declare_services(self.auto_scaling_group, self.path_endpoint, services, why=why)
        paths.declare_packages(self.auto_scaling_group, self.path_endpoint)
        paths.declare_imds(self.auto_scaling_group, self.path_endpoint,
                           why="users who log in are not the role: it reads the host keys")
        acknowledge_ec26_misreport(self.auto_scaling_group)
        Validations.of(self.auto_scaling_group).acknowledge(Acknowledgment(
            id="AwsSolutions::AwsSolutions-EC26",
            reason="cdk-nag's EC26 throws on this group's launch-template reference when a ComputeFleet shares the "
                   "stack (a user's one-stack app); the template's only EBS volume (root) is encrypted, as tests "
                   "assert."))
        Validations.of(self.auto_scaling_group).acknowledge(Acknowledgment(
            id="AwsSolutions::AwsSolutions-AS3",
            reason="Scaling events are visible in the group's activity history and CloudTrail; the group is "
                   "fixed-size (one bastion per AZ), so notifications would only report replacements."))

        # -- load balancer -----------------------------------------------------------------------------------
        self.load_balancer = elbv2.NetworkLoadBalancer(
            self, "LoadBalancer", vpc=vpc, internet_facing=True,
            vpc_subnets=ec2.SubnetSelection(subnets=public), cross_zone_enabled=True,
            security_groups=[self.load_balancer_security_group],
            ip_address_type=elbv2.IpAddressType.DUAL_STACK if plan.dual_stack else elbv2.IpAddressType.IPV4)
        Validations.of(self.load_balancer).acknowledge(Acknowledgment(
            id="AwsSolutions::AwsSolutions-ELB2",
            reason="Network Load Balancer access logs exist only for TLS listeners; this is a TCP 22 listener (SSH "
                   "is encrypted end to end and not terminated here). Connections are recorded by sshd in "
                   "/var/log/secure, shipped to CloudWatch Logs with the clients' preserved addresses."))
        self.target_group = elbv2.NetworkTargetGroup(
            self, "Targets", vpc=vpc, port=SSH_PORT, protocol=elbv2.Protocol.TCP,
            target_type=elbv2.TargetType.INSTANCE, preserve_client_ip=True,
            deregistration_delay=DEREGISTRATION_DELAY, targets=[self.auto_scaling_group],
            health_check=elbv2.HealthCheck(
                protocol=elbv2.Protocol.TCP, port="traffic-port", interval=HEALTH_CHECK_INTERVAL,
                healthy_threshold_count=HEALTH_CHECK_THRESHOLD, unhealthy_threshold_count=HEALTH_CHECK_THRESHOLD))
        self.listener = self.load_balancer.add_listener(
            "Ssh", port=SSH_PORT, protocol=elbv2.Protocol.TCP, default_target_groups=[self.target_group])
        for client, hops in self.ssh_entry():
            paths.declare(self.load_balancer, {
                "path": f"{client} to {self.path_endpoint['name']}: TCP 22, through the load balancer "
                        f"{self.load_balancer.node.path} (SSH)", **hops[0]})

        # -- network ACL on the public subnets ---------------------------------------------------------------
        self.network_acl = ec2.NetworkAcl(self, "PublicAcl", vpc=vpc)
        Validations.of(self.network_acl).acknowledge(Acknowledgment(
            id="AwsSolutions::AwsSolutions-VPC3",
            reason="The block-list is this network ACL's purpose: AWS's way to deny addresses at the subnet "
                   "boundary (security groups cannot deny). Deny rules come first; the allow rules keep SSH, NAT "
                   "and return traffic working, as tests assert."))
        entries = [_acl_entry(self.network_acl, rule) for rule in plan.acl_rules]
        for i, subnet in enumerate(vpc.public_subnets):
            association = ec2.SubnetNetworkAclAssociation(
                self, f"PublicAclAssociation{i}", subnet=subnet, network_acl=self.network_acl)
            # A subnet gets the ACL only once every entry exists: an ACL without its allow rules would drop the
            # NAT gateways' traffic while the rest is created.
            association.node.add_dependency(*entries)

        if ssh_users is not None:
            self.ssh_command = CfnOutput(
                self, "SshCommand", value=f"ssh -J <user>@{self.load_balancer.load_balancer_dns_name} "
                                          "<user>@<node private address>",
                description="SSH through a bastion to a node, as one of the SshUsers (ssh -J: the bastion only "
                            "forwards; your key never leaves your machine)")
        else:
            user = f"{LOGIN_USER}@"
            key = f"-i ~/.ssh/{key_name}.pem " if key_name else ""
            self.ssh_command = CfnOutput(
                self, "SshCommand", value=f"ssh {key}{user}{self.load_balancer.load_balancer_dns_name}",
                description="SSH to a bastion through the load balancer (add -J to reach a node: "
                            "ssh -J <this> ec2-user@<node address>)")

        self.more_blocked_cidrs_that_fit = {f"IPv{v}": plan.more_blocked_cidrs_that_fit(v) for v in (4, 6)}
        self.figures: dict[str, object] = {
            "instances": f"{count} x {plan.instance_type.name}, one per AZ, On-Demand, "
                         + (image.description if image is not None else "Amazon Linux 2023"),
            "availability zones": count,
            "SSH endpoint": "internet-facing NLB, TCP 22, cross-zone, client IP preserved"
                            + (", dual-stack" if plan.dual_stack else ""),
            "allowed CIDRs": ", ".join(str(c) for c in plan.allowed),
            "blocked CIDRs": len(plan.blocked),
            "network ACL rules (in/out, IPv4)": f"{plan.rule_count(egress=False, ipv6=False)}/"
                                                f"{plan.rule_count(egress=True, ipv6=False)} of {plan.acl_rule_quota}",
            "more blocked CIDRs that fit (IPv4)": self.more_blocked_cidrs_that_fit["IPv4"],
            "failover": f"ELB health checks, {HEALTH_CHECK_GRACE.to_seconds()} s grace; unhealthy after "
                        f"{HEALTH_CHECK_THRESHOLD} x {HEALTH_CHECK_INTERVAL.to_seconds()} s",
            "SSH log retention (days)": plan.log_retention_days,
        }
        if plan.dual_stack:
            self.figures["network ACL rules (in/out, IPv6)"] = (
                f"{plan.rule_count(egress=False, ipv6=True)}/{plan.rule_count(egress=True, ipv6=True)} "
                f"of {plan.acl_rule_quota}")
        self.node.add_metadata("hpc:figures", self.figures)

    def _host_key_policy(self, generation: int, admins: Sequence[str] | None) -> None:
        """The host-key secret's resource policy: only the bastions' role (and the break-glass admins) read or write
        it, nobody writes a generation's keys twice, and only the admins may lift that (untag)."""
        if not isinstance(generation, int) or isinstance(generation, bool) or generation < 1:
            raise ConfigError(self.node.path, "host_key_generation", generation, "a whole number from 1",
                              hint="Raise it by one to rotate the bastions' host keys.")
        stack = Stack.of(self)
        chosen = list(admins) if admins is not None else [f"arn:{stack.partition}:iam::{stack.account}:root"]
        if isinstance(admins, str) or not chosen:
            raise ConfigError(self.node.path, "host_key_admins", admins, "a list of one or more IAM principal ARNs",
                              hint="The break-glass principals; None is the account's root user.")
        self.host_key_admins = chosen
        everyone = iam.AnyPrincipal()
        self.host_keys.add_to_resource_policy(iam.PolicyStatement(
            sid="OnlyTheBastionsAndTheAdmins", effect=iam.Effect.DENY, principals=[everyone],
            actions=["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"], resources=["*"],
            conditions={"StringNotEquals": {"aws:PrincipalArn": [self.role.role_arn, *chosen]}}))
        self.host_keys.add_to_resource_policy(iam.PolicyStatement(
            sid="WriteEachGenerationOnce", effect=iam.Effect.DENY, principals=[everyone],
            actions=["secretsmanager:PutSecretValue"], resources=["*"],
            conditions={"StringEquals": {f"secretsmanager:ResourceTag/{HOST_KEY_TAG}": str(generation)}}))
        self.host_keys.add_to_resource_policy(iam.PolicyStatement(
            sid="OnlyTheAdminsUntag", effect=iam.Effect.DENY, principals=[everyone],
            actions=["secretsmanager:UntagResource"], resources=["*"],
            conditions={"ForAnyValue:StringEquals": {"aws:TagKeys": [HOST_KEY_TAG]},
                        "StringNotEquals": {"aws:PrincipalArn": chosen}}))

    @property
    def connections(self) -> ec2.Connections:
        """The bastions' security group, default port 22 (ec2.IConnectable)."""
        return self._connections

    # -- monitoring (HpcDashboard) ---------------------------------------------------------------------

    def monitoring(self, scope: Construct, settings: MonitoringSettings | None = None) -> Monitoring:
        """Healthy bastions behind the load balancer, and failed SSH logins (hpc_constructs.monitoring).

        Adds a metric filter to the SSH log group (in this construct; once, however often this is called): every
        line of /var/log/secure that ends a login attempt without authentication counts 1 in
        hpc-constructs/HaBastion/<this construct's unique id> FailedSshLogins (dashboard_plan.FAILED_SSH_PHRASES: an
        unknown user, or a known user's connection closed before it authenticated; the NLB's TCP health checks,
        which connect and close before any user is named, are not counted). Alarms, in `scope`: fewer healthy
        targets than AZs for 15 minutes; settings.failed_ssh_logins or more failed logins in 5 minutes.
        """
        from aws_cdk import Names
        from aws_cdk import aws_cloudwatch as cloudwatch

        from hpc_constructs import dashboard_plan as dp
        from hpc_constructs.catalog.metrics import LIBRARY_NAMESPACE
        from hpc_constructs.monitoring import graph, metric, watch

        settings = settings or MonitoringSettings()
        path = self.node.path
        minute, five = Duration.minutes(1), Duration.minutes(5)
        found = self.node.try_find_child("FailedSshLogins")
        if isinstance(found, logs.MetricFilter):
            failed_filter = found
        else:
            failed_filter = logs.MetricFilter(
                self, "FailedSshLogins", log_group=self.log_group,
                metric_namespace=f"{LIBRARY_NAMESPACE}/HaBastion/{Names.unique_id(self)[-200:]}",
                metric_name="FailedSshLogins", metric_value="1", default_value=0,
                filter_pattern=logs.FilterPattern.literal(dp.failed_ssh_pattern()))
        failed = failed_filter.metric(statistic="Sum", period=five, label="failed SSH logins")
        # By the load balancer's and target group's own full names (Fn::GetAtt): CDK's healthy_host_count() splits
        # them out of the listener's ARN, which another stack cannot do with this stack's output.
        healthy = metric("AWS/NetworkELB", "HealthyHostCount",
                         {"LoadBalancer": self.load_balancer.load_balancer_full_name,
                          "TargetGroup": self.target_group.target_group_full_name},
                         "Minimum", minute, "healthy bastions")
        zones = self.plan.availability_zones
        low = dp.bastion_healthy(zones)
        replacement = int(SIGNAL_TIMEOUT.to_minutes())  # the time CloudFormation gives a new bastion's boot
        result = Monitoring(title=f"{path} (HaBastion)")
        result.widgets += [
            graph("Bastions: healthy behind the NLB", [healthy], unit="bastions", lines={"AZs": zones}),
            graph("Bastions: failed SSH logins", [failed], unit="per 5 minutes",
                  lines={"alarm": settings.failed_ssh_logins}),
        ]
        result.alarms += [
            watch(scope, "HealthyBastions", what=f"{path}: healthy bastions behind the load balancer",
                  metric_=healthy, threshold=zones, comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                  periods=replacement, condition=f"{low.text} for {replacement} minutes", why=dp.WHY_BASTION_HEALTHY,
                  missing=cloudwatch.TreatMissingData.MISSING),
            watch(scope, "FailedSshLogins", what=f"{path}: failed SSH logins", metric_=failed,
                  threshold=settings.failed_ssh_logins,
                  comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, periods=1,
                  condition=f"{settings.failed_ssh_logins} or more in 5 minutes", why=dp.WHY_FAILED_SSH),
        ]
        return result

    def ssh_entry(self) -> list[tuple[str, list[dict[str, object]]]]:
        """For hpc_constructs.paths: each allowed CIDR, with the hop from it through the load balancer to the
        bastions (what a path through a bastion starts with)."""
        return [(str(cidr), [paths.load_balancer_hop(paths.cidr(str(cidr)), self.load_balancer.load_balancer_arn,
                                                     SSH_PORT, self.path_endpoint)])
                for cidr in self.plan.allowed]


def _zones(vpc: ec2.IVpc) -> list[tuple[ec2.ISubnet, ec2.ISubnet]]:
    """(public subnet, private subnet) for each AZ that has both, in the VPC's AZ order."""
    public: dict[str, ec2.ISubnet] = {}
    for subnet in vpc.public_subnets:
        public.setdefault(subnet.availability_zone, subnet)
    pairs: list[tuple[ec2.ISubnet, ec2.ISubnet]] = []
    seen: set[str] = set()
    for subnet in vpc.private_subnets:
        zone = subnet.availability_zone
        if zone in public and zone not in seen:
            seen.add(zone)
            pairs.append((public[zone], subnet))
    return pairs


def _vpc_cidr(vpc: ec2.IVpc) -> str:
    """The VPC's IPv4 range: a literal when known at synth time (a created VPC's), else the deploy-time token."""
    cidr = vpc.vpc_cidr_block
    if not Token.is_unresolved(cidr):
        return cidr
    cfn = vpc.node.default_child
    if isinstance(cfn, ec2.CfnVPC) and cfn.cidr_block and not Token.is_unresolved(cfn.cidr_block):
        return cfn.cidr_block
    return cidr


def _require_ipv6(path: str, subnets: Sequence[ec2.ISubnet]) -> None:
    """A dual-stack load balancer needs IPv6 ranges on its subnets; refuse when a created subnet has none."""
    for subnet in subnets:
        cfn = subnet.node.default_child
        if isinstance(cfn, ec2.CfnSubnet) and not cfn.ipv6_cidr_block and not cfn.ipv6_native:
            raise ConfigError(path, "allowed_cidrs", "an IPv6 CIDR",
                              "IPv4 CIDRs only, in a VPC whose public subnets have no IPv6 range",
                              hint=f"{subnet.node.path} has no IPv6 range, so the load balancer cannot listen on "
                                   "IPv6. Make the VPC dual-stack (ec2.Vpc ip_protocol=DUAL_STACK) or drop the IPv6 "
                                   "CIDR.")


def _acl_entry(acl: ec2.NetworkAcl, rule: AclRule) -> ec2.CfnNetworkAclEntry:
    entry = ec2.CfnNetworkAclEntry(
        acl, rule.key, network_acl_id=acl.network_acl_id, rule_number=rule.number, rule_action=rule.action,
        egress=rule.egress, protocol=rule.protocol,
        cidr_block=None if rule.ipv6 else rule.cidr, ipv6_cidr_block=rule.cidr if rule.ipv6 else None,
        port_range=ec2.CfnNetworkAclEntry.PortRangeProperty(from_=rule.ports[0], to=rule.ports[1])
        if rule.ports else None,
        icmp=ec2.CfnNetworkAclEntry.IcmpProperty(type=rule.icmp[0], code=rule.icmp[1]) if rule.icmp else None)
    return entry


def _check_ssh_users(path: str, ssh_users: object) -> None:
    if not isinstance(ssh_users, SshUsers):
        raise ConfigError(path, "ssh_users", type(ssh_users).__name__, "an SshUsers (hpc_constructs.SshUsers)",
                          hint="ssh_users=SshUsers(scope, 'Users', users=[SshUser('alice', ['ssh-ed25519 ...'])])")


def health_check_pattern(cidrs: Sequence[str]) -> str:
    """An rsyslog regex (POSIX ERE) for the line sshd writes when a load-balancer node's health check closes its
    connection ("Connection closed by <address> port <port>"), for addresses in `cidrs` (the load balancer's
    subnets: its nodes' addresses). Each CIDR is written as its /24 prefixes (at most 256); a CIDR not known at
    synth (an imported VPC) falls back to the private ranges (RFC 1918), where the load balancer's nodes are."""
    prefixes: list[str] = []
    for cidr in cidrs:
        try:
            network = ipaddress.ip_network(cidr)
        except ValueError:
            return (r"^ ?Connection closed by (10\.|172\.(1[6-9]|2[0-9]|3[01])\.|192\.168\.)[0-9.]+ "
                    r"port [0-9]+$")
        if network.version != 4 or network.prefixlen < 16:
            continue
        for block in (network.subnets(new_prefix=24) if network.prefixlen < 24 else [network.supernet(new_prefix=24)]):
            prefix = str(block.network_address).rsplit(".", 1)[0].replace(".", r"\.") + r"\."
            if prefix not in prefixes:
                prefixes.append(prefix)
    alternatives = "|".join(prefixes) or r"[0-9]+\.[0-9]+\.[0-9]+\."
    return rf"^ ?Connection closed by ({alternatives})[0-9]+ port [0-9]+$"


def _boot_commands(log_group_name: str, secret_arn: str, region: str, generation: int,
                   load_balancer_cidrs: Sequence[str]) -> list[str]:
    """User-data steps: shared host keys (first), sshd keepalives, rsyslog for /var/log/secure (the load balancer's
    health checks kept apart), the CloudWatch agent, sshd reloaded."""
    health_checks = _rsyslog_quote(health_check_pattern(load_balancer_cidrs))
    agent = json.dumps({
        "agent": {"run_as_user": "root"},  # /var/log/secure is readable by root only
        "logs": {"logs_collected": {"files": {"collect_list": [{
            "file_path": SSH_LOG, "log_group_name": log_group_name, "log_stream_name": "{instance_id}"}]}}},
    }, indent=1)
    return [
        # First, before the package installs: a new bastion must present the group's identity as early as it can.
        *boot.install_boot_script("hpc-bastion-host-keys"),
        *boot.function("hpc_bastion_host_keys", [
            f"hpc_retry 3 /usr/local/sbin/hpc-bastion-host-keys {secret_arn} {region} {generation} && return 0",
            "# Never serve another identity: without sshd the health check fails and the group replaces this one.",
            "systemctl stop sshd",
            "return 1",
        ]),
        boot.step("shared SSH host keys", "hpc_bastion_host_keys"),
        *boot.write_file(SSHD_DROP_IN, "\n".join([
            "# hpc-constructs HaBastion: keepalives hold idle sessions open through the load balancer",
            "ClientAliveInterval 60",
            "ClientAliveCountMax 3",
            "PasswordAuthentication no",
        ]), mode="0600"),
        # Amazon Linux 2023 keeps logs in the journal only: rsyslog writes sshd's to /var/log/secure.
        boot.install_step("SSH log tools (rsyslog, CloudWatch agent)", RSYSLOG, CLOUDWATCH_AGENT),
        *boot.function("hpc_bastion_ssh_log", [
            "systemctl enable --now rsyslog",
            "/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s "
            f"-c file:{CLOUDWATCH_AGENT_CONFIG}",
        ]),
        *boot.write_file(CLOUDWATCH_AGENT_CONFIG, agent),
        # The load balancer's health checks: not SSH sessions, so not in the audit log; counted apart.
        *boot.write_file(HEALTH_CHECK_RSYSLOG, "\n".join([
            "# hpc-constructs HaBastion: the load balancer's TCP health checks, out of /var/log/secure",
            f"if $programname == 'sshd' and re_match($msg, '{health_checks}')"
            f" then {{ action(type=\"omfile\" file=\"{HEALTH_CHECK_LOG}\") stop }}",
        ])),
        boot.step("SSH log to CloudWatch Logs (rsyslog, CloudWatch agent)", "hpc_bastion_ssh_log"),
        *boot.function("hpc_bastion_sshd_reload", [
            # after a failed host-key step sshd stays stopped (see hpc_bastion_host_keys)
            "systemctl is-active --quiet sshd || return 0",
            "systemctl reload-or-restart sshd",
        ]),
        boot.step("sshd configuration", "hpc_bastion_sshd_reload"),
    ]


def _rsyslog_quote(pattern: str) -> str:
    """A regex inside an rsyslog single-quoted string: backslashes doubled, quotes escaped."""
    return pattern.replace("\\", "\\\\").replace("'", "\\'")


def _signal_function(stack_id: str, logical_id: str, region: str) -> list[str]:
    """hpc_bastion_signal: SUCCESS to CloudFormation when every boot step succeeded, FAILURE otherwise."""
    return [
        *boot.function("hpc_bastion_signal", [
            "local status=SUCCESS token id",
            '[ "${#HPC_FAILED_STEPS[@]}" -gt 0 ] && status=FAILURE',
            "token=$(curl -sS -X PUT http://169.254.169.254/latest/api/token "
            "-H 'X-aws-ec2-metadata-token-ttl-seconds: 60')",
            'id=$(curl -sS -H "X-aws-ec2-metadata-token: $token" '
            "http://169.254.169.254/latest/meta-data/instance-id)",
            f'aws --region {region} cloudformation signal-resource --stack-name {stack_id} '
            f'--logical-resource-id {logical_id} --unique-id "$id" --status "$status" '
            '|| echo "hpc-constructs: could not signal CloudFormation" >&2',
        ]),
    ]
