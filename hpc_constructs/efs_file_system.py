"""EfsFileSystem: the EFS tier of StorageLayer, usable on its own, or imported (from_file_system)."""

from __future__ import annotations

from collections.abc import Sequence

import jsii
from aws_cdk import RemovalPolicy, Size, aws_efs
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct, IConstruct

from hpc_constructs import boot, paths
from hpc_constructs.catalog.software import EFS_UTILS
from hpc_constructs.compute_fleet import ComputeFleet
from hpc_constructs.efs import EFS_FILE_SYSTEM_POLICY, EFS_READ, EFS_READ_WRITE, EFS_ROOT, EfsSpec, check_efs
from hpc_constructs.errors import ConfigError
from hpc_constructs.given import role_takes_statements, warn_fixed_group, warn_fixed_role
from hpc_constructs.kinds import check_kinds
from hpc_constructs.lustre import check_mount_point
from hpc_constructs.monitoring import Monitoring, MonitoringSettings
from hpc_constructs.mounting import (
    MountTarget,
    Nodes,
    inner_subnets,
    removal,
    rule_id,
    rules_scope,
    start_mount,
    tcp_rule,
    unruled_groups,
)

NFS_PORT = 2049


@jsii.implements(ec2.IConnectable)
class EfsFileSystem(Construct):
    """An encrypted EFS file system, IAM-only and TLS-only, with mount targets in the VPC's private subnets.

    Props (keyword-only) and their defaults:
      vpc: the VPC (required; None only inside from_file_system).
      spec: EfsSpec() (elastic throughput, General Purpose, mounted at /efs). Checked by check_efs.
      removal_policy: RemovalPolicy.RETAIN (SNAPSHOT means RETAIN: CloudFormation cannot snapshot EFS;
                      AWS Backup does, and automatic backups are on).
      owner: None. The construct whose path names the file system's rules, boot steps and errors
             (StorageLayer passes itself); None: the tier itself.

    Attributes: file_system (aws_efs.FileSystem; None on an imported tier), file_system_id,
    file_system_arn, connections, mount_point, figures; grant_read (ClientMount only: read-only),
    grant_read_write (+ ClientWrite, root squashed), grant_root_access (+ ClientRootAccess), each
    returning iam.Grant; mount_on(target).

    EfsFileSystem.from_file_system(scope, id, file_system, mount_point="/efs") brings in an EFS file
    system made elsewhere (aws_efs.FileSystem.from_file_system_attributes, or another app's), so that
    mount_on works for it: its mount targets must exist already, and its security group must be the
    one in file_system.connections.
    """

    @check_kinds
    def __init__(self, scope: Construct, id: str, *, vpc: ec2.IVpc | None, spec: EfsSpec | None = None,
                 removal_policy: RemovalPolicy = RemovalPolicy.RETAIN, owner: Construct | None = None,
                 _imported: aws_efs.IFileSystem | None = None) -> None:
        # _imported is from_file_system's: the tier then wraps that file system and creates nothing.
        super().__init__(scope, id)
        self._owner = owner or self
        spec = spec or EfsSpec()
        path = self._owner.node.path
        if _imported is not None:
            check_mount_point(path, "mount_point", spec.mount_point)
            self.file_system: aws_efs.FileSystem | None = None
            self._efs: aws_efs.IFileSystem = _imported
            self.figures: dict[str, object] = {"efs": f"imported {_imported.file_system_id}; mounted with TLS and IAM"}
        else:
            check_efs(path, spec)
            if vpc is None:
                raise ConfigError(path, "vpc", None, "the VPC for the mount targets")
            self.file_system = _make_file_system(self, vpc, spec, removal(removal_policy), path)
            self._efs = self.file_system
            mode = spec.throughput_mode
            if mode == "provisioned":
                mode += f" {spec.provisioned_throughput_mibps:g} MiB/s"
            self.figures = {"efs": f"{mode} throughput, {spec.performance_mode}; IAM and TLS only"}
        self.spec = spec
        self.mount_point = spec.mount_point
        self._connections: ec2.Connections = self._efs.connections
        if owner is None:
            self.node.add_metadata("hpc:figures", self.figures)

    @property
    def connections(self) -> ec2.Connections:
        """The security groups that clients must reach (ec2.IConnectable)."""
        return self._connections

    @classmethod
    @check_kinds
    def from_file_system(cls, scope: Construct, id: str, file_system: aws_efs.IFileSystem, *,
                         mount_point: str = "/efs") -> EfsFileSystem:
        """An EFS file system made elsewhere, to mount_on and grant like one made here."""
        return cls(scope, id, vpc=None, spec=EfsSpec(mount_point=mount_point), _imported=file_system)

    @property
    def file_system_id(self) -> str:
        return self._efs.file_system_id

    @property
    def file_system_arn(self) -> str:
        return self._efs.file_system_arn

    # -- grants ----------------------------------------------------------------------------------

    @check_kinds
    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Mount read-only (ClientMount only: writes are refused)."""
        return self._grant(grantee, EFS_READ)

    @check_kinds
    def grant_read_write(self, grantee: iam.IGrantable) -> iam.Grant:
        """Mount read-write as a non-root user (root is squashed, as on any NFS server)."""
        return self._grant(grantee, EFS_READ_WRITE)

    @check_kinds
    def grant_root_access(self, grantee: iam.IGrantable) -> iam.Grant:
        """Mount read-write with root access (ClientRootAccess: root is not squashed)."""
        return self._grant(grantee, EFS_ROOT)

    def _grant(self, grantee: iam.IGrantable, actions: Sequence[str]) -> iam.Grant:
        return iam.Grant.add_to_principal(grantee=grantee, actions=list(actions),
                                          resource_arns=[self.file_system_arn],
                                          conditions={"Bool": {"elasticfilesystem:AccessedViaMountTarget": "true"}})

    # -- mounting --------------------------------------------------------------------------------

    @check_kinds
    def mount_on(self, target: MountTarget | ComputeFleet, *, root_access: bool = False) -> None:
        """NFS (TCP 2049) from the target, grant_read_write (or grant_root_access), mount at boot.

        The nodes install amazon-efs-utils, write an fstab entry (TLS, IAM, _netdev,
        x-systemd.automount: mounted at every boot on first access) and mount with retries; a mount
        that still fails is a failed boot step. They launch after the rule and the mount targets.
        """
        nodes = start_mount(self._owner, "EfsFileSystem", target)
        rules = rules_scope(self._owner, "EfsFileSystem", nodes)
        how = self.mount(nodes, rules, root_access=root_access)
        nodes.wait_for(rules)
        nodes.add_figures({f"mounts from {self._owner.node.path}": f"{self.mount_point}: {how}"})

    def allow_client(self, rules: Construct, group: str, index: int = 0, *, client: str = "Fleet",
                     client_egress: bool = False, anchor: IConstruct | None = None,
                     client_name: str | None = None) -> None:
        """NFS (TCP 2049) from one client security group to the mount targets, created in `rules`.

        client names the rule ("Fleet": the id mount_on has always used); client_egress adds the
        client's own egress rule, for a group without an allow-all egress rule. anchor: a resource of the
        client's stack that holds the declaration of the path (hpc_constructs.paths), named client_name.
        """
        efs_sg = self.connections.security_groups[0].security_group_id
        if anchor is not None:
            paths.declare_network(anchor, paths.groups(client_name or f"{client} {group}", group),
                                  paths.resource(self.file_system_id, f"{self._owner.node.path} EFS"),
                                  ports=[(NFS_PORT, NFS_PORT)], why="NFS, to the mount target in the client's AZ")
        tcp_rule(rules, rule_id(f"EfsFrom{client}", index), group=efs_sg, source=group, ports=(NFS_PORT, NFS_PORT),
                 description="NFS from the fleet" if client == "Fleet" else f"NFS from {client}")
        if client_egress:
            tcp_rule(rules, rule_id(f"{client}ToEfs", index), group=group, destination=efs_sg,
                     ports=(NFS_PORT, NFS_PORT), description=f"NFS from {client}")

    def mount(self, nodes: Nodes, rules: Construct, *, root_access: bool) -> str:
        """The rules, grant and boot lines of one mount (mount_on and StorageLayer.mount_on)."""
        for i, group in unruled_groups(self, nodes):
            fixed = group in nodes.fixed_groups
            restricted = group in nodes.egress_groups
            self.allow_client(rules, group, i, client_egress=restricted and not fixed, anchor=nodes.path_anchor,
                              client_name=f"{nodes.path} nodes")
            if fixed and restricted:
                efs_sg = self.connections.security_groups[0].node.path
                warn_fixed_group(nodes.target, nodes.group_name(group), [f"TCP 2049 to {efs_sg} (outbound)"],
                                 why=f"the EFS file system {self._owner.node.path}")
        actions = EFS_ROOT if root_access else EFS_READ_WRITE
        if role_takes_statements(nodes.role):
            self._grant(nodes.role, actions)
        else:
            warn_fixed_role(nodes.target, nodes.role, [
                f"{', '.join(actions)} on {self._owner.node.path}'s file system "
                "(condition elasticfilesystem:AccessedViaMountTarget true)"], why=f"mounting {self.mount_point}")
        paths.declare_iam(nodes.path_anchor, paths.role(nodes.role, f"{nodes.path} node role"), actions,
                          [self.file_system_arn], on=f"{self._owner.node.path} EFS",
                          context={"elasticfilesystem:AccessedViaMountTarget": "true"}, why="mount with IAM")
        paths.declare_packages(nodes.path_anchor, nodes.path_endpoint())
        if self.file_system is not None:
            # Instances must not boot before the mount targets exist, or the first mount fails.
            nodes.wait_for(self.file_system.mount_targets_available)
        nodes.claim_mount_point(self.mount_point, self._owner.node.path)
        nodes.install_boot_script("hpc-mount")
        nodes.add_boot_commands(*efs_mount_lines(self.file_system_id, self.mount_point))
        return "EFS over NFS with TLS and IAM" + (", root access" if root_access else "")

    # -- monitoring (HpcDashboard) ---------------------------------------------------------------------

    def monitoring(self, scope: Construct, settings: MonitoringSettings | None = None) -> Monitoring:
        """Throughput utilization: metered throughput against PermittedThroughput (hpc_constructs.monitoring).

        The EFS guide's metric math: (Sum(MeteredIOBytes) / PERIOD) / PermittedThroughput x 100. Alarm, in
        `scope`: at or above 90% for 15 minutes. An imported file system is watched the same way (its ID is enough).
        """
        from aws_cdk import Duration
        from aws_cdk import aws_cloudwatch as cloudwatch

        from hpc_constructs import dashboard_plan as dp
        from hpc_constructs.monitoring import graph, metric, watch

        owner = self._owner.node.path
        fs = {"FileSystemId": self.file_system_id}
        five = Duration.minutes(5)
        metered = metric("AWS/EFS", "MeteredIOBytes", fs, "Sum", five, "metered")
        permitted = metric("AWS/EFS", "PermittedThroughput", fs, "Average", five, "permitted")
        utilization = cloudwatch.MathExpression(
            expression="100 * (metered / PERIOD(metered)) / permitted", period=five,
            using_metrics={"metered": metered, "permitted": permitted}, label="throughput utilization %")
        result = Monitoring(title=f"{owner} (EFS {self.mount_point})")
        result.widgets.append(graph("EFS: throughput utilization", [utilization], unit="%",
                                    lines={"permitted": 100, "alarm": dp.EFS_UTILIZATION_PERCENT}))
        result.alarms.append(watch(
            scope, "EfsThroughputUtilization", what=f"{owner}: EFS throughput utilization", metric_=utilization,
            threshold=dp.EFS_UTILIZATION_PERCENT,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            periods=dp.EFS_UTILIZATION_PERIODS,
            condition=f"at or above {dp.EFS_UTILIZATION_PERCENT}% of PermittedThroughput for "
                      f"{5 * dp.EFS_UTILIZATION_PERIODS} minutes",
            why=dp.WHY_EFS_UTILIZATION))
        return result


def _make_file_system(scope: Construct, vpc: ec2.IVpc, spec: EfsSpec, policy: RemovalPolicy,
                      path: str) -> aws_efs.FileSystem:
    throughput = {
        "elastic": aws_efs.ThroughputMode.ELASTIC,
        "bursting": aws_efs.ThroughputMode.BURSTING,
        "provisioned": aws_efs.ThroughputMode.PROVISIONED,
    }[spec.throughput_mode]
    file_system = aws_efs.FileSystem(
        scope, "Efs",
        vpc=vpc,
        vpc_subnets=ec2.SubnetSelection(subnets=inner_subnets(path, vpc)),
        encrypted=True,
        throughput_mode=throughput,
        provisioned_throughput_per_second=Size.mebibytes(spec.provisioned_throughput_mibps)
        if spec.provisioned_throughput_mibps else None,
        performance_mode=aws_efs.PerformanceMode.MAX_IO if spec.performance_mode == "maxIO"
        else aws_efs.PerformanceMode.GENERAL_PURPOSE,
        enable_automatic_backups=True,
        removal_policy=policy,
        # Named and described after the owner's path (as CDK would name it directly under the owner),
        # so that composing the tier into StorageLayer changed neither: a new GroupDescription would
        # replace the security group.
        file_system_name=f"{path}/Efs",
    )
    group = file_system.connections.security_groups[0].node.default_child
    assert isinstance(group, ec2.CfnSecurityGroup)
    group.add_property_override("GroupDescription", f"{path}/Efs/EfsSecurityGroup")
    # The whole policy is ours. CDK's own default (under its deny-anonymous flag, or after any
    # grant) lets every IAM principal that reaches a mount target write as root.
    cfn = file_system.node.default_child
    assert isinstance(cfn, aws_efs.CfnFileSystem)
    cfn.add_property_override("FileSystemPolicy", EFS_FILE_SYSTEM_POLICY)
    return file_system


def efs_mount_lines(file_system_id: str, mount_point: str) -> list[str]:
    """amazon-efs-utils, an fstab entry (TLS, IAM, automount) and the first mount, with retries."""
    entry = f"{file_system_id}:/ {mount_point} efs _netdev,noresvport,tls,iam,x-systemd.automount 0 0"
    return [
        boot.install_step("EFS client (amazon-efs-utils)", EFS_UTILS),
        f"mkdir -p {mount_point}",
        boot.fstab_entry(entry, mount_point, "efs"),
        boot.step(f"mount {mount_point} (EFS)", "/usr/local/sbin/hpc-mount", mount_point, "nfs4"),
    ]
