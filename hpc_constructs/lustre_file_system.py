"""LustreFileSystem: the FSx for Lustre tier of StorageLayer, usable on its own, or imported."""

from __future__ import annotations

from typing import cast

import jsii
from aws_cdk import Annotations, RemovalPolicy, Resource, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_fsx as fsx
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct

from hpc_constructs import paths
from hpc_constructs.catalog.limits import LUSTRE_CLIENT_PORTS, LUSTRE_EFA_MAX_CONNECTIONS
from hpc_constructs.compute_fleet import ComputeFleet
from hpc_constructs.errors import ConfigError
from hpc_constructs.given import warn_fixed_group
from hpc_constructs.kinds import check_kinds
from hpc_constructs.lustre import (
    LustrePlan,
    LustreSpec,
    check_mount_point,
    check_repository_paths,
    efa_client_interfaces,
    lustre_client_lines,
    plan_lustre,
)
from hpc_constructs.monitoring import Monitoring, MonitoringSettings
from hpc_constructs.mounting import (
    MountTarget,
    Nodes,
    removal,
    rule_id,
    rules_scope,
    start_mount,
    tcp_rule,
    unruled_groups,
)


@jsii.implements(fsx.IFileSystem)
class LustreFileSystem(Resource):
    """One FSx for Lustre file system with its security group and S3 data repository associations.

    Props (keyword-only) and their defaults:
      vpc: the VPC (required).
      subnet: the subnet of the file system (required; FSx for Lustre lives in one AZ: put it beside
              the fleets that mount it, HpcNetwork.cluster_subnet).
      spec: LustreSpec() (checked by lustre.plan_lustre: deployment, capacity, throughput, version...).
      bucket: None. The bucket linked by data repositories that give no data_repository_path.
      removal_policy: RemovalPolicy.RETAIN (SNAPSHOT means RETAIN: CloudFormation cannot snapshot
                      FSx; automatic backups follow the spec).
      owner: None. The construct whose path names the security group, rules, boot steps and errors
             (StorageLayer passes itself); None: the tier itself.

    The file system depends on its security group and every rule in the group's scope: FSx checks
    them when it creates the file system.

    Like fsx.LustreFileSystem (it implements fsx.IFileSystem): file_system_id, dns_name, mount_name,
    connections. Also: file_system (the CfnFileSystem; None when imported), security_group, plan
    (LustrePlan; None when imported), associations, efa_enabled, mount_point, figures;
    mount_on(target). No grant_*: Lustre clients are allowed by the network (connections) and POSIX
    permissions, not IAM.

    LustreFileSystem.from_lustre_file_system_attributes(scope, id, file_system_id=, dns_name=,
    mount_name=, security_group=, efa_enabled=False, mount_point="/fsx") brings in a file system
    made elsewhere, so that mount_on works for it.
    """

    @check_kinds
    def __init__(self, scope: Construct, id: str, *, vpc: ec2.IVpc | None, subnet: ec2.ISubnet | None,
                 spec: LustreSpec | None = None, bucket: s3.IBucket | None = None,
                 removal_policy: RemovalPolicy = RemovalPolicy.RETAIN, owner: Construct | None = None,
                 _imported: dict[str, object] | None = None) -> None:
        # _imported is from_lustre_file_system_attributes': the tier then creates nothing.
        super().__init__(scope, id)
        self._owner: Construct = owner or self
        self._efa_connections = 0  # EFA connections to the file system at the mounting fleets' max_capacity
        self.associations: tuple[fsx.CfnDataRepositoryAssociation, ...] = ()
        path = self._owner.node.path
        if _imported is not None:
            self.file_system: fsx.CfnFileSystem | None = None
            self.plan: LustrePlan | None = None
            sg = cast(ec2.ISecurityGroup, _imported["security_group"])
            self.security_group: ec2.ISecurityGroup = sg
            self._id, self._dns, self._mount = (str(_imported[k]) for k in ("file_system_id", "dns_name",
                                                                               "mount_name"))
            self.efa_enabled = bool(_imported["efa_enabled"])
            self.mount_point = str(_imported["mount_point"])
            check_mount_point(path, "mount_point", self.mount_point)
            self._connections = ec2.Connections(security_groups=[sg])
            self.figures: dict[str, object] = {"lustre": f"imported {self._id}"}
            return
        spec = spec or LustreSpec()
        plan = plan_lustre(path, spec)
        if vpc is None or subnet is None:
            raise ConfigError(path, "vpc" if vpc is None else "subnet", None, "the VPC and subnet of the file system")
        check_repository_paths(path, spec, has_bucket=bucket is not None, allowed="an s3:// path, or a bucket to link")
        self.plan = plan
        self.efa_enabled = spec.efa
        self.mount_point = spec.mount_point
        traffic = "all traffic (EFA-enabled)" if spec.efa else "TCP 988, 1018-1023"
        group = ec2.SecurityGroup(self, "LustreSecurityGroup", vpc=vpc, allow_all_outbound=False,
                                  description=f"{path}: FSx for Lustre ({traffic})")
        self.security_group = group
        self._connections = ec2.Connections(security_groups=[group])
        # An EFA-enabled file system needs "all inbound and outbound traffic to and from the security
        # group itself and the security group of the clients" (FSx for Lustre User Guide).
        for port in [ec2.Port.all_traffic()] if spec.efa else _lustre_ports():
            self.connections.allow_internally(port, "Lustre traffic between file servers")
        self.file_system = _make_file_system(self, plan, subnet, group)
        servers = paths.resource(self.file_system, f"{path} Lustre servers")
        paths.declare_network(self.file_system, servers, servers, protocol="all" if spec.efa else "tcp",
                              ports=[] if spec.efa else LUSTRE_CLIENT_PORTS, both_directions=True,
                              why="between file servers")
        self.file_system.apply_removal_policy(removal(removal_policy))
        self._id, self._dns, self._mount = (self.file_system.ref, self.file_system.attr_dns_name,
                                            self.file_system.attr_lustre_mount_name)
        self.associations = tuple(_associations(self, plan, self.file_system, bucket))
        self.figures = {"lustre": (
            f"{spec.deployment_type} {spec.storage_type} {spec.storage_capacity_gib:,} GiB: "
            f"{plan.throughput_mbps:,.0f} MB/s aggregate ({plan.throughput_basis})")}
        if owner is None:
            self.node.add_metadata("hpc:figures", self.figures)

    @property
    def connections(self) -> ec2.Connections:
        """The security groups that clients must reach (ec2.IConnectable)."""
        return self._connections

    @classmethod
    @check_kinds
    def from_lustre_file_system_attributes(cls, scope: Construct, id: str, *, file_system_id: str, dns_name: str,
                                           mount_name: str, security_group: ec2.ISecurityGroup,
                                           efa_enabled: bool = False, mount_point: str = "/fsx") -> LustreFileSystem:
        """A file system made elsewhere, to mount_on like one made here (over EFA if efa_enabled)."""
        return cls(scope, id, vpc=None, subnet=None, _imported={
            "file_system_id": file_system_id, "dns_name": dns_name, "mount_name": mount_name,
            "security_group": security_group, "efa_enabled": efa_enabled, "mount_point": mount_point})

    @property
    def file_system_id(self) -> str:
        return self._id

    @property
    def dns_name(self) -> str:
        return self._dns

    @property
    def mount_name(self) -> str:
        return self._mount

    @property
    def file_system_arn(self) -> str:
        """arn:<partition>:fsx:<region>:<account>:file-system/<id> (DataSync locations take the ARN)."""
        if self.file_system is not None:
            return self.file_system.attr_resource_arn
        return Stack.of(self).format_arn(service="fsx", resource="file-system", resource_name=self._id)

    def apply_removal_policy(self, policy: RemovalPolicy) -> None:
        """The file system's removal policy (an imported one has none to set)."""
        if self.file_system is not None:
            self.file_system.apply_removal_policy(policy)

    # -- mounting --------------------------------------------------------------------------------

    @check_kinds
    def mount_on(self, target: MountTarget | ComputeFleet) -> None:
        """Open Lustre's ports between the target and the file system, and mount it at boot.

        TCP 988 and 1018-1023 both ways (clients and servers both open connections); an EFA-enabled
        file system gets all traffic both ways instead, as FSx requires, and is mounted over EFA when
        the target is an EFA-enabled ComputeFleet (over TCP otherwise). The nodes launch after the rules.
        """
        nodes = start_mount(self._owner, "LustreFileSystem", target)
        rules = rules_scope(self._owner, "LustreFileSystem", nodes)
        how = self.mount(nodes, rules)
        nodes.wait_for(rules)
        nodes.add_figures({f"mounts from {self._owner.node.path}": f"{self.mount_point}: {how}"})

    def allow_client(self, rules: Construct, group: str, index: int = 0, *, client: str = "Fleet",
                     client_egress: bool = False, client_ingress: bool = True, anchor: IConstruct | None = None,
                     client_name: str | None = None) -> None:
        """The rules between the file system and one client security group, created in `rules`.

        TCP 988 and 1018-1023 both ways (clients and servers both open connections); all traffic both
        ways for an EFA-enabled file system, as FSx requires. client names the rules ("Fleet": the ids
        mount_on has always used); client_egress adds the client's own egress rules, for a group
        without an allow-all egress rule; client_ingress=False leaves the client's group alone (a group the user
        imported with mutable=False). anchor: a resource of the client's stack that holds the declaration of the
        path (hpc_constructs.paths), named client_name.
        """
        lustre_sg = self.security_group.security_group_id
        if anchor is not None:
            paths.declare_network(
                anchor, paths.groups(client_name or f"{client} {group}", group),
                paths.resource(self.file_system if self.file_system is not None else self._id,
                               f"{self._owner.node.path} Lustre"),
                protocol="all" if self.efa_enabled else "tcp", ports=[] if self.efa_enabled else LUSTRE_CLIENT_PORTS,
                both_directions=True, why="Lustre client, both sides open connections")
        if self.efa_enabled:
            _all_traffic_rules(rules, index, lustre_sg, group, client=client, client_side=client_ingress)
            return
        for low, high in LUSTRE_CLIENT_PORTS:
            tcp_rule(rules, rule_id(f"LustreFrom{client}{low}", index), group=lustre_sg, source=group,
                     ports=(low, high), description="Lustre client to file servers")
            tcp_rule(rules, rule_id(f"LustreTo{client}{low}", index), group=lustre_sg, destination=group,
                     ports=(low, high), description="Lustre file servers to client")
            if client_ingress:
                tcp_rule(rules, rule_id(f"{client}FromLustre{low}", index), group=group, source=lustre_sg,
                         ports=(low, high), description="Lustre file servers to client")
            if client_egress and client_ingress:
                tcp_rule(rules, rule_id(f"{client}ToLustre{low}", index), group=group, destination=lustre_sg,
                         ports=(low, high), description="Lustre client to file servers")

    def mount(self, nodes: Nodes, rules: Construct) -> str:
        """The rules and boot lines of one mount (mount_on and StorageLayer.mount_on); how it mounts."""
        for i, group in unruled_groups(self, nodes):
            fixed = group in nodes.fixed_groups
            self.allow_client(rules, group, i, client_ingress=not fixed, client_egress=group in nodes.egress_groups,
                              anchor=nodes.path_anchor, client_name=f"{nodes.path} nodes")
            if fixed:
                ports = "all traffic" if self.efa_enabled else "TCP 988 and 1018-1023"
                needs = [f"{ports} from {self.security_group.node.path} (inbound)"]
                if group in nodes.egress_groups:
                    needs.append(f"{ports} to {self.security_group.node.path} (outbound)")
                warn_fixed_group(nodes.target, nodes.group_name(group), needs,
                                 why=f"the Lustre file system {self._owner.node.path}")
        paths.declare_packages(nodes.path_anchor, nodes.path_endpoint())
        types = nodes.instance_types
        interfaces = {t.name: efa_client_interfaces(t) for t in types}
        over_efa = self.efa_enabled and nodes.efa and bool(interfaces) and all(interfaces.values())
        nodes.claim_mount_point(self.mount_point, self._owner.node.path)
        nodes.install_boot_script("hpc-mount")
        if over_efa:
            nodes.install_boot_script("hpc-lustre-efa")
        nodes.add_boot_commands(*lustre_client_lines(
            dns_name=self.dns_name, mount_name=self.mount_name, mount_point=self.mount_point,
            efa_interfaces=interfaces if over_efa else None))
        if over_efa:
            most = max(interfaces.values()) * nodes.max_capacity
            self._efa_connections += most
            if self._efa_connections > LUSTRE_EFA_MAX_CONNECTIONS:
                Annotations.of(nodes.target).add_warning_v2(
                    "hpc-constructs:lustre-efa-connections",
                    f"At max_capacity the fleets that mount {self._owner.node.path} over EFA use up to "
                    f"{self._efa_connections:,} EFA connections; an FSx for Lustre file system takes at most "
                    f"{LUSTRE_EFA_MAX_CONNECTIONS:,} across all clients (FSx for Lustre User Guide, 'Configuring "
                    "EFA clients'). Lower max_capacity: the guide documents no behaviour past the limit.")
            return (f"Lustre over EFA ({', '.join(f'{n}: {c}' for n, c in sorted(interfaces.items()))} EFA "
                    f"interfaces per node; up to {most:,} of the file system's {LUSTRE_EFA_MAX_CONNECTIONS:,} "
                    "EFA connections)")
        if self.efa_enabled and nodes.efa:
            return "Lustre over TCP (the file system is EFA-enabled; these instance types cannot be EFA clients)"
        if self.efa_enabled:
            return "Lustre over TCP (the file system is EFA-enabled, the fleet is not)"
        return "Lustre over TCP"

    # -- monitoring (HpcDashboard) ---------------------------------------------------------------------

    def monitoring(self, scope: Construct, settings: MonitoringSettings | None = None) -> Monitoring:
        """Free capacity and client throughput against the deployment type's baseline (hpc_constructs.monitoring).

        Alarms, in `scope`: free capacity (FreeDataStorageCapacity, Sum at one minute: FSx reports each disk once a
        minute) below settings.lustre_free_capacity_share of the storage capacity for 5 minutes; client throughput
        (DataReadBytes + DataWriteBytes over the period) at or above the baseline that the plan computed for 15
        minutes. An imported file system has no plan: its graphs only.
        """
        from aws_cdk import Duration
        from aws_cdk import aws_cloudwatch as cloudwatch

        from hpc_constructs import dashboard_plan as dp
        from hpc_constructs.monitoring import graph, metric, watch

        settings = settings or MonitoringSettings()
        owner = self._owner.node.path
        fs = {"FileSystemId": self.file_system_id}
        free = metric("AWS/FSx", "FreeDataStorageCapacity", fs, "Sum", Duration.minutes(1), "free bytes")
        five = Duration.minutes(5)
        read = metric("AWS/FSx", "DataReadBytes", fs, "Sum", five, "read")
        write = metric("AWS/FSx", "DataWriteBytes", fs, "Sum", five, "write")
        throughput = cloudwatch.MathExpression(expression="(read + write) / PERIOD(read)", period=five,
                                               using_metrics={"read": read, "write": write}, label="bytes/s")
        shown_mbps = cloudwatch.MathExpression(expression=f"(read + write) / PERIOD(read) / {dp.MB}", period=five,
                                               using_metrics={"read": read, "write": write}, label="MB/s")
        shown_gib = cloudwatch.MathExpression(expression=f"free / {dp.GIB}", period=Duration.minutes(1),
                                              using_metrics={"free": free}, label="free GiB")
        result = Monitoring(title=f"{owner} (FSx for Lustre {self.mount_point})")
        if self.plan is None:
            result.widgets += [graph("Lustre: free capacity", [shown_gib], unit="GiB"),
                               graph("Lustre: client throughput", [shown_mbps], unit="MB/s")]
            result.notes.append(f"{owner}: an imported file system; its capacity and baseline are not known here, "
                                "so it has graphs and no alarms.")
            return result
        capacity = self.plan.spec.storage_capacity_gib
        low = dp.lustre_free_capacity(capacity, settings.lustre_free_capacity_share)
        baseline = dp.lustre_throughput(self.plan.throughput_mbps)
        result.widgets += [
            graph("Lustre: free capacity", [shown_gib], unit="GiB",
                  lines={f"capacity {capacity:,}": capacity, "alarm": low.value / dp.GIB}),
            graph("Lustre: client throughput", [shown_mbps], unit="MB/s",
                  lines={"baseline": self.plan.throughput_mbps}),
        ]
        result.alarms += [
            watch(scope, "LustreFreeCapacity", what=f"{owner}: Lustre free capacity", metric_=free,
                  threshold=low.value, comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                  periods=dp.LUSTRE_FREE_MINUTES,
                  condition=f"below {low.text} for {dp.LUSTRE_FREE_MINUTES} minutes", why=dp.WHY_LUSTRE_FREE,
                  missing=cloudwatch.TreatMissingData.MISSING),
            watch(scope, "LustreThroughput", what=f"{owner}: Lustre client throughput", metric_=throughput,
                  threshold=baseline.value,
                  comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                  periods=dp.LUSTRE_THROUGHPUT_PERIODS,
                  condition=f"at or above {baseline.text} for {5 * dp.LUSTRE_THROUGHPUT_PERIODS} minutes "
                            f"({self.plan.throughput_basis})",
                  why=dp.WHY_LUSTRE_THROUGHPUT),
        ]
        return result


def _make_file_system(scope: Construct, plan: LustrePlan, subnet: ec2.ISubnet,
                      group: ec2.SecurityGroup) -> fsx.CfnFileSystem:
    spec = plan.spec
    linked = plan.linked_to_s3
    config = fsx.CfnFileSystem.LustreConfigurationProperty(
        deployment_type=spec.deployment_type,
        per_unit_storage_throughput=plan.per_unit_storage_throughput,
        drive_cache_type=plan.drive_cache_type,
        data_compression_type=spec.data_compression,
        import_path=spec.import_path,
        export_path=spec.export_path,
        automatic_backup_retention_days=plan.automatic_backup_retention_days,
        copy_tags_to_backups=True if plan.automatic_backup_retention_days and not linked else None,
        efa_enabled=True if spec.efa else None,
        metadata_configuration=fsx.CfnFileSystem.MetadataConfigurationProperty(
            mode=plan.metadata_mode, iops=spec.metadata_iops) if plan.metadata_mode else None,
    )
    file_system = fsx.CfnFileSystem(
        scope, "Lustre",
        file_system_type="LUSTRE",
        file_system_type_version=spec.lustre_version,
        storage_capacity=spec.storage_capacity_gib,
        storage_type=spec.storage_type,
        subnet_ids=[subnet.subnet_id],
        security_group_ids=[group.security_group_id],
        lustre_configuration=config,
    )
    # FSx checks the security group when it creates the file system ("do not permit Lustre LNET
    # network traffic on port 988"): its rules, which live in the group's scope, must exist first
    # (aws-parallelcluster#6181).
    file_system.node.add_dependency(group)
    return file_system


def _associations(scope: Construct, plan: LustrePlan, file_system: fsx.CfnFileSystem,
                  bucket: s3.IBucket | None) -> list[fsx.CfnDataRepositoryAssociation]:
    associations = []
    for i, repo in enumerate(plan.spec.data_repositories):
        path = repo.data_repository_path
        if path is None:
            assert bucket is not None  # checked in __init__
            path = f"s3://{bucket.bucket_name}/"
        events = ["NEW", "CHANGED", "DELETED"]
        associations.append(fsx.CfnDataRepositoryAssociation(
            scope, f"DataRepository{i}",
            file_system_id=file_system.ref,
            file_system_path=repo.file_system_path,
            data_repository_path=path,
            batch_import_meta_data_on_create=True,
            s3=fsx.CfnDataRepositoryAssociation.S3Property(
                auto_import_policy=fsx.CfnDataRepositoryAssociation.AutoImportPolicyProperty(events=events)
                if repo.auto_import else None,
                auto_export_policy=fsx.CfnDataRepositoryAssociation.AutoExportPolicyProperty(events=events)
                if repo.auto_export else None,
            ),
        ))
    return associations


def _all_traffic_rules(scope: Construct, index: int, lustre_sg: str, group: str, *, client: str,
                       client_side: bool = True) -> None:
    """EFA-enabled Lustre: all traffic both ways between the file system's group and the client's."""
    description = "EFA-enabled Lustre and its clients (EFA traffic is not IP)"
    ec2.CfnSecurityGroupIngress(scope, rule_id(f"LustreFrom{client}All", index), group_id=lustre_sg,
                                source_security_group_id=group, ip_protocol="-1", description=description)
    ec2.CfnSecurityGroupEgress(scope, rule_id(f"LustreTo{client}All", index), group_id=lustre_sg,
                               destination_security_group_id=group, ip_protocol="-1", description=description)
    if not client_side:
        return
    ec2.CfnSecurityGroupIngress(scope, rule_id(f"{client}FromLustreAll", index), group_id=group,
                                source_security_group_id=lustre_sg, ip_protocol="-1", description=description)
    ec2.CfnSecurityGroupEgress(scope, rule_id(f"{client}ToLustreAll", index), group_id=group,
                               destination_security_group_id=lustre_sg, ip_protocol="-1", description=description)


def _lustre_ports() -> list[ec2.Port]:
    return [ec2.Port.tcp(low) if low == high else ec2.Port.tcp_range(low, high) for low, high in LUSTRE_CLIENT_PORTS]
