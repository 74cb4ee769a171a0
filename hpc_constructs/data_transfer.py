"""DataTransferLayer: the three ways data comes in (Direct Connect, DataSync, Snowball), landing in the StorageLayer.

The rules live in the pure modules datasync.py, direct_connect.py and snowball.py; limits in
catalog.limits (DATASYNC, DIRECT_CONNECT, SNOWBALL), with their source.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import jsii
from aws_cdk import ArnFormat, CfnOutput, CfnResource, Names, RemovalPolicy, Stack, Token
from aws_cdk import aws_datasync as datasync
from aws_cdk import aws_directconnect as directconnect
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from hpc_constructs import paths
from hpc_constructs.catalog.limits import DATASYNC, DIRECT_CONNECT
from hpc_constructs.data_bucket import BucketSpec, DataBucket
from hpc_constructs.datasync import (
    DataSyncLocation,
    DataSyncTaskSpec,
    check_filters,
    check_task,
    check_task_set,
    normalized_subdirectory,
)
from hpc_constructs.direct_connect import DirectConnectSpec, check_direct_connect
from hpc_constructs.efs_file_system import EfsFileSystem
from hpc_constructs.errors import ConfigError
from hpc_constructs.iam_wait import IamPropagationWait
from hpc_constructs.kinds import check_kinds
from hpc_constructs.lustre_file_system import LustreFileSystem
from hpc_constructs.monitoring import Monitoring, MonitoringSettings
from hpc_constructs.mounting import inner_subnets, removal
from hpc_constructs.nag import acknowledge_wildcards
from hpc_constructs.snowball import (
    BUCKET_ACTIONS,
    KMS_ACTIONS,
    OBJECT_ACTIONS,
    SERVICE_PRINCIPAL,
    SnowballImportSpec,
    check_snowball,
    create_job_command,
)
from hpc_constructs.storage import StorageLayer

__all__ = ["DataTransferLayer"]

# The bucket-access role's actions ('Creating an Amazon S3 location', DataSync User Guide): on the bucket,
# and on the objects under the location's prefix, for a source and for a destination.
S3_BUCKET_ACTIONS = ("s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads")
S3_READ_ACTIONS = ("s3:GetObject", "s3:GetObjectTagging", "s3:GetObjectVersion", "s3:GetObjectVersionTagging",
                   "s3:ListMultipartUploadParts")
S3_WRITE_ACTIONS = ("s3:AbortMultipartUpload", "s3:DeleteObject", "s3:PutObject", "s3:PutObjectTagging")
DATASYNC_PRINCIPAL = "datasync.amazonaws.com"


@dataclass(frozen=True, slots=True)
class _Plan:
    """What _validate decided: each task's schedule in words, the Direct Connect line, the Snowball job."""

    schedules: tuple[str, ...]
    direct_connect: str | None
    snowball: SnowballImportSpec | None


@jsii.implements(ec2.IConnectable)
class DataTransferLayer(Construct):
    """The ways data comes into an HPC environment, each landing where the fleets already mount it.

    Props (keyword-only) and their defaults:
      vpc: the VPC (required).
      storage: None. The StorageLayer that data lands in: its bucket is the default landing bucket, and
               DataSyncLocation.efs / .fsx_lustre reach its file systems.
      landing_bucket: True lands in `storage`'s bucket when it has one (the Lustre file system's data
                      repository: objects appear under /fsx on the nodes with no wiring), else in a new
                      bucket built like the StorageLayer's (DataBucket: public access blocked, TLS only,
                      encrypted, versioned, logged, retained). A BucketSpec always makes a new bucket;
                      an s3.IBucket lands there; False has none.
      datasync_tasks: (). DataSyncTaskSpec per task: a CloudWatch log group each (retained), verify
                      mode, filters, an optional schedule (at most hourly), Basic or Enhanced mode.
      direct_connect: None. A DirectConnectSpec: a virtual private gateway attached to the VPC and
                      propagating into its private (and isolated) route tables, a Direct Connect gateway
                      associated with it, and a private virtual interface when the connection, VLAN and
                      customer ASN are given.
      snowball_import: False. True or a SnowballImportSpec: the role Snowball assumes to write into the
                       landing bucket, a KMS key when asked, and a stack output with the `aws snowball
                       create-job` command.
      removal_policy: RemovalPolicy.RETAIN for the landing bucket it makes, the task log groups and the
                      Snowball key: deleting the stack never deletes data or logs.

    Rules (checked in one place, _validate, before anything is made): datasync.py (locations, tasks,
    filters, schedules), direct_connect.py, snowball.py, and what ties them to this layer (an S3
    location without a bucket needs the landing bucket; EFS and Lustre locations need that storage).

    Attributes: landing_bucket (s3.IBucket or None), landing (the DataBucket made here, or None),
    locations and tasks (dicts keyed by name: the L1 location resources and CfnTasks), log_groups
    (by task name), security_group (DataSync's network interfaces for EFS and Lustre; None without
    them), connections, direct_connect_gateway, vpn_gateway, virtual_interface (None without them),
    snowball_import_role, snowball_key (None without them), figures.
    """

    @check_kinds
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc,
        storage: StorageLayer | None = None,
        landing_bucket: BucketSpec | s3.IBucket | bool = True,
        datasync_tasks: Sequence[DataSyncTaskSpec] = (),
        direct_connect: DirectConnectSpec | None = None,
        snowball_import: SnowballImportSpec | bool = False,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        tasks = tuple(datasync_tasks)
        plan = _validate(self.node.path, vpc, storage, landing_bucket, tasks, direct_connect, snowball_import)
        self.vpc = vpc
        self.storage = storage
        self.removal_policy = removal_policy
        self.figures: dict[str, object] = {}

        self.landing: DataBucket | None = None
        self.landing_bucket: s3.IBucket | None = None
        self._on_nodes: str | None = None  # where the landing bucket's root appears on the nodes
        if landing_bucket is True and storage is not None and storage.bucket is not None:
            self.landing_bucket = storage.bucket
            self._on_nodes = _lustre_view(storage)
            self.figures["landing bucket"] = f"{storage.node.path}'s bucket" + (
                f", its Lustre file system's data repository: s3://<bucket>/ appears at {self._on_nodes}/ on the "
                "nodes that mount it" if self._on_nodes else "")
        elif landing_bucket is True or isinstance(landing_bucket, BucketSpec):
            spec = landing_bucket if isinstance(landing_bucket, BucketSpec) else BucketSpec()
            self.landing = DataBucket(self, "LandingBucket", spec=spec, removal_policy=removal_policy, owner=self)
            self.landing_bucket = self.landing.bucket
            self.figures["landing bucket"] = f"new: {self.landing.figures['bucket']}"
        elif landing_bucket is not False:
            self.landing_bucket = landing_bucket
            self.figures["landing bucket"] = f"given: {self.landing_bucket.node.path}"

        self.security_group: ec2.SecurityGroup | None = None
        self._connections = ec2.Connections()
        self._ids: dict[str, str] = {}
        self.locations: dict[str, CfnResource] = {}
        self.tasks: dict[str, datasync.CfnTask] = {}
        self.log_groups: dict[str, logs.ILogGroup] = {}
        self._make_tasks(tasks, plan.schedules)

        self.direct_connect_gateway: directconnect.CfnDirectConnectGateway | None = None
        self.vpn_gateway: ec2.CfnVPNGateway | None = None
        self.virtual_interface: directconnect.CfnPrivateVirtualInterface | None = None
        if direct_connect is not None:
            self._make_direct_connect(direct_connect)
            self.figures["direct connect"] = plan.direct_connect

        self.snowball_import_role: iam.Role | None = None
        self.snowball_key: kms.Key | None = None
        if plan.snowball is not None:
            self._make_snowball(plan.snowball)
        self.node.add_metadata("hpc:figures", self.figures)

    @property
    def connections(self) -> ec2.Connections:
        """DataSync's security group, when the layer has EFS or Lustre locations (ec2.IConnectable)."""
        return self._connections

    # -- DataSync ----------------------------------------------------------------------------------

    def _make_tasks(self, tasks: tuple[DataSyncTaskSpec, ...], schedules: tuple[str, ...]) -> None:
        if not tasks:
            return
        uses: dict[str, set[str]] = {}
        for task in tasks:
            uses.setdefault(task.source.key, set()).add("source")
            uses.setdefault(task.destination.key, set()).add("destination")
        basic_log_groups: list[logs.LogGroup] = []
        for task, schedule in zip(tasks, schedules, strict=True):
            source = self._location(task.source, uses[task.source.key])
            destination = self._location(task.destination, uses[task.destination.key])
            scope = Construct(self, self._construct_id("Task", task.key))
            if task.task_mode == "ENHANCED":
                # "For Enhanced mode tasks, you must use /aws/datasync as your log group name" (UpdateTask);
                # DataSync creates it through its service-linked role.
                log_group = logs.LogGroup.from_log_group_name(scope, "Logs", DATASYNC.enhanced_log_group)
                kept = f"{DATASYNC.enhanced_log_group} (DataSync's; its retention is the account's)"
            else:
                made = logs.LogGroup(scope, "Logs", removal_policy=removal(self.removal_policy))
                cast(logs.CfnLogGroup, made.node.default_child).retention_in_days = task.log_retention_days
                basic_log_groups.append(made)
                log_group = made
                kept = f"own log group, kept {task.log_retention_days} days"
            cfn_task = datasync.CfnTask(
                scope, "Task",
                source_location_arn=_location_arn(source),
                destination_location_arn=_location_arn(destination),
                name=task.key,
                task_mode=task.task_mode,
                cloud_watch_log_group_arn=log_group.log_group_arn,
                options=datasync.CfnTask.OptionsProperty(
                    verify_mode=task.verify_mode,
                    log_level=task.log_level,
                    transfer_mode="CHANGED",
                    overwrite_mode="ALWAYS",
                    # A transfer never deletes data: files removed at the source stay at the destination.
                    preserve_deleted_files="PRESERVE",
                ),
                includes=_filter(check_filters(self.node.path, "includes", task.includes, include=True)),
                excludes=_filter(check_filters(self.node.path, "excludes", task.excludes, include=False)),
                schedule=datasync.CfnTask.TaskScheduleProperty(schedule_expression=task.schedule, status="ENABLED")
                if task.schedule is not None else None,
            )
            self.tasks[task.key] = cfn_task
            self.log_groups[task.key] = log_group
            on_nodes = ""
            if task.destination.kind == "s3" and task.destination.target is None and self._on_nodes:
                where = normalized_subdirectory(task.destination.subdirectory)
                on_nodes = f" (at {self._on_nodes}{where} on the nodes)"
            self.figures[f"datasync {task.key}"] = (
                f"{_describe(task.source)} -> {_describe(task.destination)}{on_nodes}; {schedule}; verify "
                f"{task.verify_mode}; {task.task_mode.lower()} mode; {kept}")
        if basic_log_groups:
            policy = self._log_policy(basic_log_groups)
            for key, cfn_task in self.tasks.items():
                cfn_task.node.add_dependency(policy)
                if self.log_groups[key] in basic_log_groups:
                    paths.declare_iam(cfn_task, paths.service_principal(DATASYNC_PRINCIPAL),
                                      ["logs:CreateLogStream", "logs:PutLogEvents"],
                                      [self.log_groups[key].log_group_arn],
                                      on=f"the log group of task {key}", why="task logs",
                                      context={"aws:SourceArn": cfn_task.attr_task_arn,
                                               "aws:SourceAccount": Stack.of(self).account})

    def _log_policy(self, log_groups: list[logs.LogGroup]) -> logs.ResourcePolicy:
        """One CloudWatch Logs resource policy for the layer's task log groups.

        A Region holds at most 10 resource policies of at most 5,120 characters each (CloudWatch Logs quotas): the
        policy names the log groups by a prefix, not one ARN per task, so that it does not grow with the tasks.
        CloudFormation names a log group it creates <stack name>-<logical ID>-<suffix>: the prefix is this stack's
        name, and the conditions keep it to this account's DataSync tasks.
        """
        stack = Stack.of(self)
        del log_groups  # named by their prefix
        return logs.ResourcePolicy(
            self, "DataSyncLogsPolicy",
            resource_policy_name=f"{Names.unique_id(self)[-200:]}-DataSync",
            policy_statements=[iam.PolicyStatement(
                sid="DataSyncLogsToCloudWatchLogs",
                principals=[iam.ServicePrincipal(DATASYNC_PRINCIPAL)],
                actions=["logs:PutLogEvents", "logs:CreateLogStream"],
                resources=[stack.format_arn(service="logs", resource="log-group",
                                            resource_name=f"{stack.stack_name}-*",
                                            arn_format=ArnFormat.COLON_RESOURCE_NAME)],
                conditions={
                    "ArnLike": {"aws:SourceArn": stack.format_arn(service="datasync", resource="task",
                                                                  resource_name="*")},
                    "StringEquals": {"aws:SourceAccount": stack.account},
                },
            )],
        )

    def _location(self, location: DataSyncLocation, uses: set[str]) -> CfnResource:
        key = location.key
        if key in self.locations:
            return self.locations[key]
        scope = Construct(self, self._construct_id("Location", key))
        subdirectory = normalized_subdirectory(location.subdirectory)
        made: CfnResource
        if location.kind == "s3":
            made = self._s3_location(scope, location, subdirectory, uses)
        elif location.kind == "nfs":
            made = datasync.CfnLocationNFS(
                scope, "Location", server_hostname=str(location.server_hostname), subdirectory=subdirectory,
                on_prem_config=datasync.CfnLocationNFS.OnPremConfigProperty(agent_arns=list(location.agent_arns)))
        elif location.kind == "smb":
            secret = location.password_secret
            value = secret.secret_value_from_json(location.password_field) if location.password_field \
                else secret.secret_value
            made = datasync.CfnLocationSMB(
                scope, "Location", server_hostname=location.server_hostname, subdirectory=subdirectory,
                agent_arns=list(location.agent_arns), user=location.user, domain=location.domain,
                authentication_type="NTLM",
                # A {{resolve:secretsmanager:...}} reference: CloudFormation reads the secret at deploy time.
                password=value.unsafe_unwrap())
        elif location.kind == "efs":
            made = self._efs_location(scope, _efs_of(self.node.path, location.target), subdirectory)
        else:
            made = self._lustre_location(scope, _lustre_of(self.node.path, location.target), subdirectory)
        self.locations[key] = made
        return made

    def _s3_location(self, scope: Construct, location: DataSyncLocation, subdirectory: str,
                     uses: set[str]) -> CfnResource:
        bucket = _bucket_of(self.node.path, location.target, self.landing_bucket)
        stack = Stack.of(self)
        role = iam.Role(scope, "BucketAccessRole", assumed_by=_datasync_principal(stack),
                        description="DataSync's access to one S3 location: its bucket, and objects under its prefix")
        prefix = subdirectory.lstrip("/")
        objects = bucket.arn_for_objects(f"{prefix}*")
        object_actions = [*S3_READ_ACTIONS, *(S3_WRITE_ACTIONS if "destination" in uses else ())]
        # ListBucket stays on the bucket, as the guide's policy has it: DataSync lists from the
        # location's prefix, and a prefix condition it did not document could fail the location.
        role.add_to_policy(iam.PolicyStatement(actions=list(S3_BUCKET_ACTIONS), resources=[bucket.bucket_arn]))
        role.add_to_policy(iam.PolicyStatement(actions=sorted(object_actions), resources=[objects]))
        if bucket.encryption_key is not None:
            if "destination" in uses:
                bucket.encryption_key.grant_encrypt_decrypt(role)
            else:
                bucket.encryption_key.grant_decrypt(role)
        acknowledge_wildcards(role, suffixes=[f"/{prefix}*"], reason=(
            f"DataSync reads{' and writes' if 'destination' in uses else ''} the objects under this location's "
            f"prefix ({subdirectory}) of one bucket, whose names are not known in advance."))
        made = datasync.CfnLocationS3(
            scope, "Location", s3_bucket_arn=bucket.bucket_arn, subdirectory=subdirectory,
            s3_config=datasync.CfnLocationS3.S3ConfigProperty(bucket_access_role_arn=role.role_arn))
        # DataSync assumes the role when it creates the location: the role and its policy come first, and then
        # IAM's propagation (CloudFormation's handler fails the location at once if DataSync cannot assume it).
        made.node.add_dependency(IamPropagationWait(scope, "RoleWait", roles=[role],
                                                    seconds=DATASYNC.role_propagation_wait_seconds))
        who = paths.role(role, f"DataSync, as {role.node.path}")
        trust = {"aws:SourceAccount": stack.account, "aws:SourceArn": made.attr_location_arn}
        paths.declare_iam(role, who, list(S3_BUCKET_ACTIONS), [bucket.bucket_arn], on=f"the bucket of {location.key}",
                          assumed_by=DATASYNC_PRINCIPAL, context=trust)
        paths.declare_iam(role, who, sorted(object_actions), [objects], on=f"the objects under {subdirectory}",
                          assumed_by=DATASYNC_PRINCIPAL, context=trust)
        return made

    def _datasync_group(self) -> tuple[ec2.SecurityGroup, str]:
        if self.security_group is None:
            self.security_group = ec2.SecurityGroup(
                self, "DataSyncSecurityGroup", vpc=self.vpc, allow_all_outbound=False,
                description="DataSync network interfaces - to the layer EFS and Lustre file systems only")
            self._connections.add_security_group(self.security_group)
        arn = Stack.of(self).format_arn(service="ec2", resource="security-group",
                                        resource_name=self.security_group.security_group_id)
        return self.security_group, arn

    def _open_to(self, tier: EfsFileSystem | LustreFileSystem) -> tuple[str, Construct]:
        """DataSync's security group ARN, and the rules between it and one file system (made once)."""
        group, group_arn = self._datasync_group()
        id = self._construct_id("DataSyncTo", tier.node.path)
        existing = self.node.try_find_child(id)
        if existing is not None:
            return group_arn, cast(Construct, existing)
        rules = Construct(self, id)
        tier.allow_client(rules, group.security_group_id, client="DataSync", client_egress=True, anchor=group,
                          client_name=f"{self.node.path} DataSync interfaces")
        return group_arn, rules

    def _efs_location(self, scope: Construct, tier: EfsFileSystem, subdirectory: str) -> CfnResource:
        group_arn, rules = self._open_to(tier)
        stack = Stack.of(self)
        role = iam.Role(scope, "FileSystemAccessRole", assumed_by=_datasync_principal(stack),
                        description="DataSync's access to one EFS location, as root (it keeps owners and modes)")
        tier.grant_root_access(role)
        # Any subnet in the AZ of one of the file system's mount targets; the tiers put them in all the
        # VPC's inner subnets.
        subnet = inner_subnets(self.node.path, self.vpc)[0]
        made = datasync.CfnLocationEFS(
            scope, "Location", efs_filesystem_arn=tier.file_system_arn, subdirectory=subdirectory,
            ec2_config=datasync.CfnLocationEFS.Ec2ConfigProperty(
                security_group_arns=[group_arn],
                subnet_arn=stack.format_arn(service="ec2", resource="subnet", resource_name=subnet.subnet_id)),
            # The file system's policy refuses anything but TLS, and an IAM role needs TLS1_2 anyway.
            in_transit_encryption="TLS1_2",
            file_system_access_role_arn=role.role_arn)
        made.node.add_dependency(rules, IamPropagationWait(scope, "RoleWait", roles=[role],
                                                           seconds=DATASYNC.role_propagation_wait_seconds))
        if tier.file_system is not None:
            made.node.add_dependency(tier.file_system.mount_targets_available)
        paths.declare_iam(role, paths.role(role, f"DataSync, as {role.node.path}"),
                          ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite",
                           "elasticfilesystem:ClientRootAccess"], [tier.file_system_arn],
                          on=f"{tier.node.path} EFS", assumed_by=DATASYNC_PRINCIPAL,
                          context={"aws:SourceAccount": stack.account, "aws:SourceArn": made.attr_location_arn,
                                   "elasticfilesystem:AccessedViaMountTarget": "true"})
        return made

    def _lustre_location(self, scope: Construct, tier: LustreFileSystem, subdirectory: str) -> CfnResource:
        group_arn, rules = self._open_to(tier)
        # DataSync puts its network interfaces in the file system's own subnet.
        made = datasync.CfnLocationFSxLustre(scope, "Location", fsx_filesystem_arn=tier.file_system_arn,
                                             security_group_arns=[group_arn], subdirectory=subdirectory)
        made.node.add_dependency(rules)
        return made

    def _construct_id(self, prefix: str, key: str) -> str:
        """A stable construct id from a name: the same name keeps its logical IDs when tasks are reordered."""
        words = "".join(w[:1].upper() + w[1:] for w in re.split(r"[^A-Za-z0-9]+", key) if w)[:48]
        id = f"{prefix}{words}"
        if self._ids.get(id, key) != key or len(words) == 48:
            id += hashlib.sha256(key.encode()).hexdigest()[:8]
        self._ids[id] = key
        return id

    # -- Direct Connect ---------------------------------------------------------------------------

    def _make_direct_connect(self, spec: DirectConnectSpec) -> None:
        name = _dx_name(self.node.path)
        self.vpn_gateway = ec2.CfnVPNGateway(self, "VpnGateway", type="ipsec.1")
        attachment = ec2.CfnVPCGatewayAttachment(self, "VpnGatewayAttachment", vpc_id=self.vpc.vpc_id,
                                                 vpn_gateway_id=self.vpn_gateway.ref)
        self.direct_connect_gateway = directconnect.CfnDirectConnectGateway(
            self, "DirectConnectGateway", direct_connect_gateway_name=name,
            amazon_side_asn=str(spec.amazon_side_asn))
        association = directconnect.CfnDirectConnectGatewayAssociation(
            self, "GatewayAssociation",
            direct_connect_gateway_id=self.direct_connect_gateway.attr_direct_connect_gateway_id,
            associated_gateway_id=self.vpn_gateway.attr_vpn_gateway_id,
            allowed_prefixes_to_direct_connect_gateway=list(spec.allowed_prefixes) or None)
        # "A virtual private gateway that you associate with a Direct Connect gateway must be attached to
        # a VPC" (Direct Connect User Guide).
        association.node.add_dependency(attachment)
        route_tables = list(dict.fromkeys(s.route_table.route_table_id
                                          for s in [*self.vpc.private_subnets, *self.vpc.isolated_subnets]))
        if route_tables:
            propagation = ec2.CfnVPNGatewayRoutePropagation(self, "RoutePropagation", route_table_ids=route_tables,
                                                            vpn_gateway_id=self.vpn_gateway.ref)
            # CloudFormation: the propagation "cannot use the VPN gateway until it has successfully attached
            # to the VPC"; Direct Connect: "Do not enable route propagation until after you've associated a
            # virtual gateway with a Direct Connect gateway."
            propagation.node.add_dependency(attachment)
            propagation.node.add_dependency(association)
            paths.declare_route(self.vpn_gateway, paths.subnets(
                f"{self.vpc.node.path} private subnets", *[s.subnet_id for s in
                                                          [*self.vpc.private_subnets, *self.vpc.isolated_subnets]]),
                self.vpn_gateway.ref, to=f"the data centre through {self.vpn_gateway.node.path}",
                why="Direct Connect, route propagation")
        if spec.has_virtual_interface:
            self.virtual_interface = directconnect.CfnPrivateVirtualInterface(
                self, "PrivateVirtualInterface",
                connection_id=str(spec.connection_id), vlan=cast(int, spec.vlan),
                virtual_interface_name=name,
                direct_connect_gateway_id=self.direct_connect_gateway.attr_direct_connect_gateway_id,
                bgp_peers=[directconnect.CfnPrivateVirtualInterface.BgpPeerProperty(
                    address_family="ipv4", asn=str(spec.customer_asn))])

    # -- Snowball ---------------------------------------------------------------------------------

    def _make_snowball(self, spec: SnowballImportSpec) -> None:
        bucket = self.landing_bucket
        assert bucket is not None  # checked in _validate
        role = iam.Role(self, "SnowballImportRole", assumed_by=iam.ServicePrincipal(SERVICE_PRINCIPAL),
                        description="Snowball import jobs: write into the landing bucket")
        role.add_to_policy(iam.PolicyStatement(actions=list(BUCKET_ACTIONS), resources=[bucket.bucket_arn]))
        role.add_to_policy(iam.PolicyStatement(actions=list(OBJECT_ACTIONS), resources=[bucket.arn_for_objects("*")]))
        acknowledge_wildcards(role, suffixes=["/*"], reason=(
            "A Snowball import writes objects, named on the device, anywhere in the landing bucket; the statement "
            "covers that one bucket's objects."))
        if bucket.encryption_key is not None:
            bucket.encryption_key.grant_encrypt_decrypt(role)
        paths.declare_iam(role, paths.role(role, f"Snowball, as {role.node.path}"), list(OBJECT_ACTIONS),
                          [bucket.arn_for_objects("*")], on="the landing bucket's objects",
                          assumed_by=SERVICE_PRINCIPAL)
        self.snowball_import_role = role
        key_arn = None
        if spec.kms_key:
            self.snowball_key = kms.Key(self, "SnowballKey", enable_key_rotation=True,
                                        removal_policy=removal(self.removal_policy),
                                        description=f"Snowball import jobs of {self.node.path}")
            self.snowball_key.grant(role, *KMS_ACTIONS)
            key_arn = self.snowball_key.key_arn
        command = create_job_command(spec, bucket_arn=bucket.bucket_arn, role_arn=role.role_arn, kms_key_arn=key_arn,
                                     description=f"Import into {self.node.path}")
        CfnOutput(self, "SnowballCreateJobCommand", value=command,
                  description="Order a Snowball import into the landing bucket (fill in the address ID)")
        self.figures["snowball import"] = (
            f"{spec.snowball_type} ({spec.capacity}) into the landing bucket, shipped {spec.shipping_option}; "
            f"role {SERVICE_PRINCIPAL}{', KMS key' if spec.kms_key else ''}; command in the stack output")

    # -- monitoring (HpcDashboard) ---------------------------------------------------------------------

    def monitoring(self, scope: Construct, settings: MonitoringSettings | None = None) -> Monitoring:
        """Bytes each DataSync task transferred, and task executions that ended in error (hpc_constructs.monitoring).

        An event the dashboard counts (an alarm on the first one): 'DataSync Task Execution State Change' to ERROR
        for an execution of one of these tasks (its ARN starts with the task's). Direct Connect and Snowball are not
        watched: the layer makes no connection or virtual interface of its own (a note says so).
        """
        from aws_cdk import Duration, Fn
        from aws_cdk import aws_events as events

        from hpc_constructs.dashboard_plan import WHY_TRANSFER_FAILED
        from hpc_constructs.monitoring import EventWatch, graph, metric, produced

        path = self.node.path
        result = Monitoring(title=f"{path} (DataTransferLayer)")
        if not self.tasks:
            result.notes.append(f"{path}: no DataSync task to watch.")
        else:
            hour = Duration.hours(1)
            transferred = [metric("AWS/DataSync", "BytesTransferred", {"TaskId": produced(
                task, scope, "TaskIdForMetrics", Fn.select(1, Fn.split("/", task.attr_task_arn)),
                f"DataSync task {name}'s ID (the TaskId dimension of its CloudWatch metrics)")}, "Sum", hour, name)
                for name, task in self.tasks.items()]
            result.widgets.append(graph("DataSync: bytes transferred per hour", transferred, unit="bytes"))
            result.events.append(EventWatch(
                "TransferFailed", what=f"{path}: DataSync task executions that ended in error", why=WHY_TRANSFER_FAILED,
                pattern=events.EventPattern(
                    source=["aws.datasync"], detail_type=["DataSync Task Execution State Change"],
                    resources=events.Match.any_of(*(events.Match.prefix(t.attr_task_arn) for t in self.tasks.values())),
                    detail={"State": ["ERROR"]})))
        if self.direct_connect_gateway is not None:
            result.notes.append(f"{path}: Direct Connect is not watched: AWS/DX metrics are per connection and "
                                "virtual interface, which the layer does not own.")
        return result


# -- validation (one place) -----------------------------------------------------------------------


def _validate(path: str, vpc: ec2.IVpc, storage: StorageLayer | None, landing: Any,
              tasks: tuple[DataSyncTaskSpec, ...], direct_connect: DirectConnectSpec | None,
              snowball_import: SnowballImportSpec | bool) -> _Plan:
    """Every DataTransferLayer rule, in the order the docstring lists them."""
    if storage is not None and not isinstance(storage, StorageLayer):
        raise ConfigError(path, "storage", storage, "a StorageLayer, or None")
    if not (isinstance(landing, bool | BucketSpec) or hasattr(landing, "bucket_arn")):
        raise ConfigError(path, "landing_bucket", landing, "True, False, a BucketSpec or an s3.IBucket")
    has_landing = landing is not False
    landing_ref: object = "landing"
    if landing is True and storage is not None and storage.bucket is not None:
        landing_ref = storage.bucket
    elif hasattr(landing, "bucket_arn"):
        landing_ref = landing
    schedules = []
    identity: dict[int, tuple[object, ...]] = {}
    named: dict[str, DataSyncLocation] = {}
    for i, task in enumerate(tasks):
        schedules.append(check_task(path, f"datasync_tasks[{i}]", task))
        for end in ("source", "destination"):
            location: DataSyncLocation = getattr(task, end)
            prop = f"datasync_tasks[{i}].{end}"
            if location.kind == "s3" and location.target is None and not has_landing:
                raise ConfigError(path, f"{prop}.bucket", None, "an s3.IBucket when landing_bucket=False",
                                  hint="DataSyncLocation.s3() without a bucket is the layer's landing bucket.")
            identity[id(location)] = _identity(path, prop, location, landing_ref)
            earlier = named.setdefault(location.key, location)
            if earlier is not location and identity[id(earlier)] != identity[id(location)]:
                raise ConfigError(path, f"{prop}.name", location.key, "a name that no other location has")
    check_task_set(path, tasks, identity)
    line = None
    if direct_connect is not None:
        line = check_direct_connect(path, direct_connect, vpc_cidr=_known_cidr(vpc))
        if vpc.vpn_gateway_id is not None:
            raise ConfigError(path, "direct_connect", direct_connect,
                              "a VPC without a virtual private gateway (a VPC takes one; this one has "
                              f"{vpc.vpn_gateway_id})")
    snowball = SnowballImportSpec() if snowball_import is True else (snowball_import or None)
    if snowball is not None:
        check_snowball(path, snowball, has_landing_bucket=has_landing)
    return _Plan(tuple(schedules), line, snowball)


def _identity(path: str, prop: str, location: DataSyncLocation, landing: object) -> tuple[object, ...]:
    """What a location points at, so that two spellings of one place compare equal.

    landing: the landing bucket when it is known before it is made (storage's, or a given IBucket),
    else the marker "landing".
    """
    where = normalized_subdirectory(location.subdirectory)
    target: object
    if location.kind == "s3":
        target = landing if location.target is None else _bucket_of(path, location.target, None, f"{prop}.bucket")
    elif location.kind == "efs":
        target = _efs_of(path, location.target, prop)
    elif location.kind == "fsx_lustre":
        target = _lustre_of(path, location.target, prop)
    else:
        target = str(location.server_hostname).lower()
    return (location.kind, target if isinstance(target, str) else id(target), where)


def _known_cidr(vpc: ec2.IVpc) -> str | None:
    """The VPC's IPv4 CIDR when synth knows it: an ec2.Vpc made here, or an import that was given one."""
    cfn = vpc.node.default_child
    if isinstance(cfn, ec2.CfnVPC) and isinstance(cfn.cidr_block, str) and not Token.is_unresolved(cfn.cidr_block):
        return cfn.cidr_block
    try:
        cidr = vpc.vpc_cidr_block
    except RuntimeError:  # an imported VPC without vpc_cidr_block
        return None
    return None if Token.is_unresolved(cidr) else cidr


def _bucket_of(path: str, target: Any, landing: s3.IBucket | None, prop: str = "bucket") -> s3.IBucket:
    if target is None and landing is not None:
        return landing
    if isinstance(target, StorageLayer) and target.bucket is not None:
        return target.bucket
    if isinstance(target, DataBucket):
        return target.bucket
    if target is not None and hasattr(target, "bucket_arn"):
        return cast(s3.IBucket, target)
    raise ConfigError(path, prop, target, "an s3.IBucket, a DataBucket or a StorageLayer with a bucket")


def _efs_of(path: str, target: Any, prop: str = "efs") -> EfsFileSystem:
    if isinstance(target, StorageLayer) and target.efs is not None:
        return target.efs
    if isinstance(target, EfsFileSystem):
        return target
    raise ConfigError(path, f"{prop}.storage", target, "a StorageLayer with efs=EfsSpec(...), or an EfsFileSystem")


def _lustre_of(path: str, target: Any, prop: str = "fsx_lustre") -> LustreFileSystem:
    if isinstance(target, StorageLayer) and target.lustre is not None:
        return target.lustre
    if isinstance(target, LustreFileSystem):
        return target
    raise ConfigError(path, f"{prop}.storage", target,
                      "a StorageLayer with lustre=LustreSpec(...), or a LustreFileSystem")


# -- small helpers --------------------------------------------------------------------------------


def _datasync_principal(stack: Stack) -> iam.IPrincipal:
    """datasync.amazonaws.com, for this account's DataSync only (the guide's confused-deputy conditions)."""
    return iam.ServicePrincipal(DATASYNC_PRINCIPAL, conditions={
        "StringEquals": {"aws:SourceAccount": stack.account},
        "ArnLike": {"aws:SourceArn": stack.format_arn(service="datasync", resource="*")},
    })


def _location_arn(location: CfnResource) -> str:
    return location.get_att("LocationArn").to_string()


def _filter(value: str | None) -> list[datasync.CfnTask.FilterRuleProperty] | None:
    return [datasync.CfnTask.FilterRuleProperty(filter_type="SIMPLE_PATTERN", value=value)] if value else None


def _describe(location: DataSyncLocation) -> str:
    where = normalized_subdirectory(location.subdirectory)
    if location.kind in ("nfs", "smb"):
        return f"{location.kind.upper()} {location.server_hostname}:{where}"
    if location.kind == "s3":
        target = "landing bucket" if location.target is None else f"bucket {location.target.node.path}"
        return f"S3 {target} {where}"
    kind = "EFS" if location.kind == "efs" else "FSx for Lustre"
    return f"{kind} of {location.target.node.path} {where}"


def _lustre_view(storage: StorageLayer) -> str | None:
    """Where the storage bucket's root appears on the nodes: its Lustre link to the layer's bucket."""
    lustre = storage.lustre
    if lustre is None or lustre.plan is None:
        return None
    for repo in lustre.plan.spec.data_repositories:
        if repo.data_repository_path is None and repo.auto_import:
            return f"{lustre.mount_point.rstrip('/')}{repo.file_system_path.rstrip('/')}"
    return None


def _dx_name(path: str) -> str:
    """A Direct Connect name from the construct path, in the characters the API takes: "a-z, 0-9 and a hyphen (-)",
    at most 100 (NewPrivateVirtualInterface.virtualInterfaceName; CloudFormation's looser pattern would pass upper
    case and "/", which the API refuses)."""
    name = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", path.lower())).strip("-")
    return name[-DIRECT_CONNECT.max_name_chars:].strip("-") or "hpc-constructs"
