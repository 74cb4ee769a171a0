"""StorageLayer: EBS, instance store, S3, EFS and FSx for Lustre for an HPC environment, mountable on a fleet."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Acknowledgment, Annotations, Names, RemovalPolicy, Size, Stack, Validations, aws_efs
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_fsx as fsx
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from hpc_constructs import boot
from hpc_constructs.catalog.limits import (
    EFS_MAX_PROVISIONED_THROUGHPUT_MIBPS,
    LUSTRE_CLIENT_PORTS,
    LUSTRE_EFA_MAX_CONNECTIONS,
)
from hpc_constructs.compute_fleet import SCRATCH_MOUNT_POINT, ComputeFleet
from hpc_constructs.ebs import EbsFigures, EbsSpec, check_ebs
from hpc_constructs.errors import ConfigError
from hpc_constructs.lustre import (
    MOUNT_POINT,
    LustrePlan,
    LustreSpec,
    efa_client_interfaces,
    lustre_client_lines,
    plan_lustre,
)

EBS_MOUNT_ROOT = "/ebs"
NFS_PORT = 2049


@dataclass(frozen=True, slots=True)
class EfsSpec:
    """An encrypted EFS file system with mount targets in the VPC's private subnets.

    throughput_mode: "elastic" (default), "bursting" or "provisioned".
    provisioned_throughput_mibps: required with "provisioned" (1 to 3,414 MiB/s; the upper limit
                                  depends on the Region); not allowed otherwise.
    performance_mode: "generalPurpose" (default) or "maxIO" (not with elastic throughput).
    mount_point: "/efs". Where mount_on mounts it.

    Access is IAM-only and TLS-only: the file-system policy denies every request not made over TLS and
    grants nothing to anyone, so anonymous NFS clients are refused and a principal gets exactly what an
    identity policy grants it (StorageLayer.mount_on and grant_*). Nodes mount with amazon-efs-utils'
    `tls,iam` options.
    """

    throughput_mode: str = "elastic"
    provisioned_throughput_mibps: float | None = None
    performance_mode: str = "generalPurpose"
    mount_point: str = "/efs"


@dataclass(frozen=True, slots=True)
class BucketSpec:
    """The layer's S3 bucket: public access blocked, TLS only, encrypted, retained.

    versioned: True.
    access_logs: True writes server access logs to a second, retained bucket.
    """

    versioned: bool = True
    access_logs: bool = True


@dataclass(frozen=True, slots=True)
class LustreFileSystem:
    """What a fleet needs from the layer's Lustre file system.

    The file system depends on its security group and every rule in the group's scope: FSx checks
    them when it creates the file system.
    """

    file_system: fsx.CfnFileSystem
    security_group: ec2.SecurityGroup
    connections: ec2.Connections
    plan: LustrePlan
    associations: tuple[fsx.CfnDataRepositoryAssociation, ...]

    @property
    def file_system_id(self) -> str:
        return self.file_system.ref

    @property
    def dns_name(self) -> str:
        return self.file_system.attr_dns_name

    @property
    def mount_name(self) -> str:
        return self.file_system.attr_lustre_mount_name


def check_efs(path: str, spec: EfsSpec) -> None:
    """Validate an EFS spec (pure). Raises ConfigError."""
    modes = ("elastic", "bursting", "provisioned")
    if spec.throughput_mode not in modes:
        raise ConfigError(path, "efs.throughput_mode", spec.throughput_mode, ", ".join(modes))
    if spec.performance_mode not in ("generalPurpose", "maxIO"):
        raise ConfigError(path, "efs.performance_mode", spec.performance_mode, "generalPurpose or maxIO")
    value = spec.provisioned_throughput_mibps
    if spec.throughput_mode == "provisioned":
        if value is None or not 1 <= value <= EFS_MAX_PROVISIONED_THROUGHPUT_MIBPS:
            raise ConfigError(path, "efs.provisioned_throughput_mibps", value,
                              f"1 to {EFS_MAX_PROVISIONED_THROUGHPUT_MIBPS:,} MiB/s with provisioned throughput "
                              "(the upper limit depends on the Region)")
    elif value is not None:
        raise ConfigError(path, "efs.provisioned_throughput_mibps", value,
                          f"none with {spec.throughput_mode} throughput (provisioned only)")
    if spec.performance_mode == "maxIO" and spec.throughput_mode == "elastic":
        raise ConfigError(path, "efs.performance_mode", "maxIO",
                          "generalPurpose with elastic throughput (Max I/O needs bursting or provisioned)")
    if not MOUNT_POINT.match(spec.mount_point):
        raise ConfigError(path, "efs.mount_point", spec.mount_point,
                          "an absolute path other than /, of letters, digits, '.', '_', '-' and '/'")


class StorageLayer(Construct):
    """HPC storage tiers for one VPC, each with its limits checked at synth time.

    Props (keyword-only) and their defaults:
      vpc: the VPC (required).
      ebs_volumes: (). EbsSpec per volume, checked against today's limits (io2 Block Express 4 GiB-64 TiB,
                   100-256,000 IOPS, 1,000 IOPS/GiB; io1; gp3; st1; sc1), always encrypted.
                   attach="one_node" (default) makes a standalone, retained CfnVolume that one node of
                   each mounting fleet holds at a time; attach="per_node" gives every node of each
                   mounting fleet a volume of its own, deleted with the node. See EbsSpec.
      lustre: None. A LustreSpec: one FSx for Lustre file system in `subnet`.
      efs: None. An EfsSpec: encrypted, elastic throughput by default, mount targets in private subnets,
           IAM-only and TLS-only access.
      bucket: False. True or a BucketSpec for an S3 bucket (BPA, TLS-only, encrypted, versioned, logged).
      subnet: None uses the VPC's first private subnet (HpcNetwork.cluster_subnet is the same one;
              isolated, then public subnets where a VPC has no private ones):
              the Lustre file system and EBS volumes without an availability_zone live there.
      removal_policy: RemovalPolicy.RETAIN for every stateful resource: deleting the stack never
                      deletes data. SNAPSHOT applies to the EBS volumes (the only storage here that
                      CloudFormation can snapshot on deletion); the bucket, EFS and Lustre are then
                      retained. DESTROY deletes them (a bucket that still holds objects fails to
                      delete, which keeps it).

    Rules (checked in one place, _validate): each EBS volume (hpc_constructs.ebs), the Lustre spec
    (hpc_constructs.lustre), the EFS spec (check_efs), and a data repository without an S3 path
    needs the layer's bucket.

    Attributes: volumes (the standalone EBS volumes), node_volumes (the per-node EbsSpecs), lustre
    (LustreFileSystem with dns_name, mount_name, connections), file_system (EFS), bucket, log_bucket,
    figures; grant_read (bucket read, EFS ClientMount only) / grant_read_write (+ bucket write, EFS
    ClientWrite as a squashed user) / grant_root_access (+ EFS ClientRootAccess); mount_on(fleet).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc,
        ebs_volumes: Sequence[EbsSpec] = (),
        lustre: LustreSpec | None = None,
        efs: EfsSpec | None = None,
        bucket: BucketSpec | bool = False,
        subnet: ec2.ISubnet | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        # Server access logs are delivered through a bucket policy, not the LogDeliveryWrite ACL, so that
        # both buckets can enforce bucket-owner object ownership (ACLs off). This is CDK's recommended
        # flag; setting it here makes the layer behave the same in an app without cdk.json's flags.
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        bucket_spec = BucketSpec() if bucket is True else (bucket or None)
        ebs_figures, lustre_plan = _validate(self.node.path, ebs_volumes, lustre, efs, bucket_spec)
        self.vpc = vpc
        self.subnet = subnet or _inner_subnets(self.node.path, vpc)[0]
        self.removal_policy = removal_policy
        self.figures: dict[str, object] = {}
        if removal_policy == RemovalPolicy.SNAPSHOT:
            self.figures["removal policy"] = ("SNAPSHOT for the EBS volumes; RETAIN for the bucket, EFS and Lustre "
                                              "(CloudFormation snapshots none of them)")

        self.bucket: s3.Bucket | None = None
        self.log_bucket: s3.Bucket | None = None
        if bucket_spec is not None:
            self._make_bucket(bucket_spec)

        specs = list(zip(ebs_volumes, ebs_figures, strict=True))
        self._efa_connections = 0  # EFA connections to the Lustre file system at the fleets' max_capacity
        self._standalone: list[tuple[EbsSpec, EbsFigures, ec2.CfnVolume]] = [
            (spec, figures, self._make_volume(spec, figures)) for spec, figures in specs if spec.attach == "one_node"]
        self.volumes: list[ec2.CfnVolume] = [volume for _, _, volume in self._standalone]
        self._per_node: list[tuple[EbsSpec, EbsFigures]] = [(s, f) for s, f in specs if s.attach == "per_node"]
        self.node_volumes: tuple[EbsSpec, ...] = tuple(spec for spec, _ in self._per_node)
        for _, figures in self._per_node:
            self.figures[f"ebs {figures.name}"] = f"per node: {_volume_figure(figures)}"

        self.file_system: aws_efs.FileSystem | None = None
        self._efs_spec = efs
        if efs is not None:
            self._make_efs(efs)

        self.lustre: LustreFileSystem | None = None
        if lustre_plan is not None:
            self.lustre = self._make_lustre(lustre_plan)

        self.node.add_metadata("hpc:figures", self.figures)

    # -- resources -------------------------------------------------------------------------------

    def _policy(self, *, snapshots: bool = False) -> RemovalPolicy:
        """The removal policy for one resource: SNAPSHOT only where CloudFormation can take one."""
        if self.removal_policy == RemovalPolicy.SNAPSHOT and not snapshots:
            return RemovalPolicy.RETAIN
        return self.removal_policy

    def _make_bucket(self, spec: BucketSpec) -> None:
        common = {
            "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
            "encryption": s3.BucketEncryption.S3_MANAGED,
            "enforce_ssl": True,
            "removal_policy": self._policy(),
            "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        }
        if spec.access_logs:
            self.log_bucket = s3.Bucket(self, "AccessLogs", versioned=False, **common)  # type: ignore[arg-type]
            Validations.of(self.log_bucket).acknowledge(Acknowledgment(
                id="AwsSolutions::AwsSolutions-S1",
                reason="This is the access-log bucket; logging it to itself would loop.",
            ))
        self.bucket = s3.Bucket(self, "Bucket", versioned=spec.versioned, server_access_logs_bucket=self.log_bucket,
                                server_access_logs_prefix="bucket/" if self.log_bucket else None,
                                **common)  # type: ignore[arg-type]
        if not spec.access_logs:
            Validations.of(self.bucket).acknowledge(Acknowledgment(
                id="AwsSolutions::AwsSolutions-S1", reason="access_logs=False was asked for in BucketSpec.",
            ))
        self.figures["bucket"] = f"S3, versioned={spec.versioned}, access logs={spec.access_logs}"

    def _make_volume(self, spec: EbsSpec, figures: EbsFigures) -> ec2.CfnVolume:
        volume = ec2.CfnVolume(
            self, f"Volume-{figures.name}",
            availability_zone=spec.availability_zone or self.subnet.availability_zone,
            size=spec.size_gib,
            volume_type=spec.volume_type,
            iops=spec.iops,
            throughput=spec.throughput_mibps,
            encrypted=True,
            multi_attach_enabled=spec.multi_attach or None,
            tags=[{"key": "Name", "value": f"{self.node.path}/{figures.name}"}],
        )
        volume.apply_removal_policy(self._policy(snapshots=True))
        holder = "every node in its AZ (Multi-Attach)" if spec.multi_attach else "one node at a time"
        self.figures[f"ebs {figures.name}"] = f"{_volume_figure(figures)}; {holder}"
        return volume

    def _make_efs(self, spec: EfsSpec) -> None:
        throughput = {
            "elastic": aws_efs.ThroughputMode.ELASTIC,
            "bursting": aws_efs.ThroughputMode.BURSTING,
            "provisioned": aws_efs.ThroughputMode.PROVISIONED,
        }[spec.throughput_mode]
        subnets = ec2.SubnetSelection(subnets=_inner_subnets(self.node.path, self.vpc))
        self.file_system = aws_efs.FileSystem(
            self, "Efs",
            vpc=self.vpc,
            vpc_subnets=subnets,
            encrypted=True,
            throughput_mode=throughput,
            provisioned_throughput_per_second=Size.mebibytes(spec.provisioned_throughput_mibps)
            if spec.provisioned_throughput_mibps else None,
            performance_mode=aws_efs.PerformanceMode.MAX_IO if spec.performance_mode == "maxIO"
            else aws_efs.PerformanceMode.GENERAL_PURPOSE,
            enable_automatic_backups=True,
            removal_policy=self._policy(),
        )
        # The whole policy is ours. CDK's own default (under its deny-anonymous flag, or after any
        # grant) lets every IAM principal that reaches a mount target write as root.
        cfn = self.file_system.node.default_child
        assert isinstance(cfn, aws_efs.CfnFileSystem)
        cfn.add_property_override("FileSystemPolicy", EFS_FILE_SYSTEM_POLICY)
        mode = spec.throughput_mode
        if mode == "provisioned":
            mode += f" {spec.provisioned_throughput_mibps:g} MiB/s"
        self.figures["efs"] = f"{mode} throughput, {spec.performance_mode}; IAM and TLS only"

    def _make_lustre(self, plan: LustrePlan) -> LustreFileSystem:
        spec = plan.spec
        traffic = "all traffic (EFA-enabled)" if spec.efa else "TCP 988, 1018-1023"
        sg = ec2.SecurityGroup(self, "LustreSecurityGroup", vpc=self.vpc, allow_all_outbound=False,
                               description=f"{self.node.path}: FSx for Lustre ({traffic})")
        connections = ec2.Connections(security_groups=[sg])
        # An EFA-enabled file system needs "all inbound and outbound traffic to and from the security
        # group itself and the security group of the clients" (FSx for Lustre User Guide).
        for port in [ec2.Port.all_traffic()] if spec.efa else _lustre_ports():
            connections.allow_internally(port, "Lustre traffic between file servers")
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
            self, "Lustre",
            file_system_type="LUSTRE",
            file_system_type_version=spec.lustre_version,
            storage_capacity=spec.storage_capacity_gib,
            storage_type=spec.storage_type,
            subnet_ids=[self.subnet.subnet_id],
            security_group_ids=[sg.security_group_id],
            lustre_configuration=config,
        )
        # FSx checks the security group when it creates the file system ("do not permit Lustre LNET
        # network traffic on port 988"): its rules, which live in the group's scope, must exist first
        # (aws-parallelcluster#6181).
        file_system.node.add_dependency(sg)
        file_system.apply_removal_policy(self._policy())
        associations = []
        for i, repo in enumerate(spec.data_repositories):
            path = repo.data_repository_path
            if path is None:
                assert self.bucket is not None  # _validate guarantees it
                path = f"s3://{self.bucket.bucket_name}/"
            events = ["NEW", "CHANGED", "DELETED"]
            association = fsx.CfnDataRepositoryAssociation(
                self, f"DataRepository{i}",
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
            )
            associations.append(association)
        self.figures["lustre"] = (
            f"{spec.deployment_type} {spec.storage_type} {spec.storage_capacity_gib:,} GiB: "
            f"{plan.throughput_mbps:,.0f} MB/s aggregate ({plan.throughput_basis})"
        )
        return LustreFileSystem(file_system, sg, connections, plan, tuple(associations))

    # -- grants ----------------------------------------------------------------------------------

    def grant_read(self, grantee: iam.IGrantable) -> None:
        """Read the bucket, and mount EFS read-only (ClientMount only: writes are refused)."""
        if self.bucket is not None:
            self.bucket.grant_read(grantee)
        if self.file_system is not None:
            self._grant_efs(grantee, EFS_READ)

    def grant_read_write(self, grantee: iam.IGrantable) -> None:
        """Read and write the bucket, and mount EFS read-write (as a non-root user: root is squashed).

        EBS volumes are not part of it: a fleet that mounts the layer gets the right to attach its
        standalone volumes to the fleet's own instances (mount_on), and nobody gets more.
        """
        if self.bucket is not None:
            self.bucket.grant_read_write(grantee)
        if self.file_system is not None:
            self._grant_efs(grantee, EFS_READ_WRITE)

    def grant_root_access(self, grantee: iam.IGrantable) -> None:
        """Mount EFS read-write with root access (ClientRootAccess: root is not squashed)."""
        if self.file_system is not None:
            self._grant_efs(grantee, EFS_ROOT)

    def _grant_efs(self, grantee: iam.IGrantable, actions: Sequence[str]) -> None:
        assert self.file_system is not None
        iam.Grant.add_to_principal(grantee=grantee, actions=list(actions),
                                   resource_arns=[self.file_system.file_system_arn],
                                   conditions={"Bool": {"elasticfilesystem:AccessedViaMountTarget": "true"}})

    def _grant_attach(self, fleet: ComputeFleet, volumes: Sequence[ec2.CfnVolume]) -> None:
        """ec2:AttachVolume for these volumes, onto this fleet's own instances only (by their tag)."""
        stack = Stack.of(self)
        tag_key, tag_value = fleet.fleet_tag
        volume_arns = [stack.format_arn(service="ec2", resource="volume", resource_name=v.ref) for v in volumes]
        instance_arn = stack.format_arn(service="ec2", resource="instance", resource_name="*")
        fleet.role.add_to_principal_policy(iam.PolicyStatement(actions=["ec2:AttachVolume"], resources=volume_arns))
        fleet.role.add_to_principal_policy(iam.PolicyStatement(
            actions=["ec2:AttachVolume"], resources=[instance_arn],
            conditions={"StringEquals": {f"aws:ResourceTag/{tag_key}": tag_value}}))
        fleet.role.add_to_principal_policy(iam.PolicyStatement(actions=["ec2:DescribeVolumes"], resources=["*"]))
        Validations.of(fleet.role).acknowledge(Acknowledgment(
            id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            reason="ec2:DescribeVolumes has no resource-level permissions.",
        ), Acknowledgment(
            id="AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:"
               "<AWS::AccountId>:instance/*]",
            reason="Instances of an Auto Scaling group are not known at synth time; the statement is "
                   "limited to instances carrying this fleet's hpc-constructs:fleet tag.",
        ))

    # -- mounting --------------------------------------------------------------------------------

    def mount_on(self, fleet: ComputeFleet, *, ebs_volumes: bool | Sequence[str] = True,
                 efs_root_access: bool = False) -> None:
        """Open the ports between `fleet` and each file system, and mount everything at boot.

        ebs_volumes: True mounts every EBS volume of the layer on the fleet, False none, or a list of
        volume names. A one_node volume is held by one node at a time (see EbsSpec); a per_node volume
        goes into the fleet's launch template, one for every node. EBS volumes need a Nitro instance
        type (they are found by their NVMe identity): Xen types are a ConfigError.
        efs_root_access: False. True lets the fleet's root user act as root on EFS (ClientRootAccess);
        otherwise root is squashed to an unprivileged user, as with any NFS server.

        Lustre: TCP 988 and 1018-1023 both ways (clients and servers both open connections); an
        EFA-enabled file system gets all traffic both ways instead, as FSx requires, and is mounted
        over EFA when the fleet is EFA-enabled (over TCP otherwise); EFS: NFS (TCP 2049) from the fleet,
        IAM and TLS. Nothing else is opened. Mounting the same layer on the same fleet twice is a
        ConfigError.

        At boot the fleet's nodes install the clients, write fstab entries (network file systems with
        _netdev and x-systemd.automount: systemd mounts them at every boot on first access, and tries
        again at the next access after a failure) and mount each file system with retries; a mount
        that still fails is reported as a failed boot step. The Auto Scaling group waits for every
        security-group rule and mount target its nodes need.
        """
        if self.node.path in fleet.mounted_storage:
            raise ConfigError(self.node.path, "mount_on", fleet.node.path, "each fleet once per StorageLayer")
        standalone, per_node = self._chosen_volumes(fleet, ebs_volumes)
        fleet.mounted_storage.add(self.node.path)
        fleet.add_boot_commands("# hpc-constructs StorageLayer " + self.node.path)
        # The rules live in the fleet's scope (its stack), so that a layer in another stack never
        # depends on the fleet's stack: that would be a cycle with the user data's references.
        rules = Construct(fleet, f"Mount{Names.unique_id(self)}")
        mounts: dict[str, str] = {}
        if self.lustre is not None:
            mounts.update(self._mount_lustre(fleet, rules))
        if self.file_system is not None and self._efs_spec is not None:
            mounts.update(self._mount_efs(fleet, rules, efs_root_access))
        # Instances must not boot before the rules their mounts need exist, or the first mount fails.
        fleet.auto_scaling_group.node.add_dependency(rules)
        if standalone:
            mounts.update(self._mount_standalone_volumes(fleet, standalone))
        for spec, figures in per_node:
            mounts.update(self._mount_node_volume(fleet, spec, figures))
        store = max(t.nvme_instance_store_gb for t in fleet.instance_types)
        figure = f"{store:,} GB NVMe per instance at {SCRATCH_MOUNT_POINT}" if store else "none"
        self.node.add_metadata("hpc:figures", {f"instance store on {fleet.node.path}": figure})
        fleet.node.add_metadata("hpc:figures", {f"mounts from {self.node.path}": "; ".join(
            f"{path}: {how}" for path, how in mounts.items()) or "none"})

    def _chosen_volumes(self, fleet: ComputeFleet, ebs_volumes: bool | Sequence[str]
                        ) -> tuple[list[tuple[EbsSpec, EbsFigures, ec2.CfnVolume]], list[tuple[EbsSpec, EbsFigures]]]:
        chosen: set[str] | None
        if isinstance(ebs_volumes, bool):
            chosen = None if ebs_volumes else set()
        else:
            if isinstance(ebs_volumes, str):
                raise ConfigError(self.node.path, "mount_on.ebs_volumes", ebs_volumes,
                                  "True, False or a list of volume names", hint=f"Write ebs_volumes=[{ebs_volumes!r}].")
            chosen = set(ebs_volumes)
            known = {f.name for _, f, _ in self._standalone} | {f.name for _, f in self._per_node}
            unknown = sorted(chosen - known)
            if unknown:
                raise ConfigError(self.node.path, "mount_on.ebs_volumes", ", ".join(unknown),
                                  f"names of this layer's volumes: {', '.join(sorted(known)) or 'none'}")
        standalone = [v for v in self._standalone if chosen is None or v[1].name in chosen]
        per_node = [v for v in self._per_node if chosen is None or v[1].name in chosen]
        if standalone or per_node:
            xen = [t.name for t in fleet.instance_types if not t.ebs_as_nvme]
            if xen:
                raise ConfigError(self.node.path, "mount_on(fleet)", f"{fleet.node.path} with {', '.join(xen)}",
                                  "EBS volumes only on fleets of Nitro instance types",
                                  hint="On Xen types EBS volumes are not NVMe devices, so the boot scripts cannot "
                                       "find them by their volume ID or mapping name. Choose a Nitro type (the "
                                       "catalog's hypervisor is 'nitro', or bare metal), or pass "
                                       "ebs_volumes=False.")
        return standalone, per_node

    def _mount_lustre(self, fleet: ComputeFleet, rules: Construct) -> dict[str, str]:
        assert self.lustre is not None
        lustre_sg = self.lustre.security_group.security_group_id
        fleet_sg = fleet.security_group.security_group_id
        spec = self.lustre.plan.spec
        if spec.efa:
            _all_traffic_rules(rules, lustre_sg, fleet_sg)
        else:
            for low, high in LUSTRE_CLIENT_PORTS:
                _tcp_rule(rules, f"LustreFromFleet{low}", group=lustre_sg, source=fleet_sg, ports=(low, high),
                          description="Lustre client to file servers")
                _tcp_rule(rules, f"LustreToFleet{low}", group=lustre_sg, destination=fleet_sg, ports=(low, high),
                          description="Lustre file servers to client")
                _tcp_rule(rules, f"FleetFromLustre{low}", group=fleet_sg, source=lustre_sg, ports=(low, high),
                          description="Lustre file servers to client")
        interfaces = {t.name: efa_client_interfaces(t) for t in fleet.instance_types}
        over_efa = spec.efa and fleet.plan.efa and all(interfaces.values())
        fleet.claim_mount_point(spec.mount_point, self.node.path)
        fleet.install_boot_script("hpc-mount")
        if over_efa:
            fleet.install_boot_script("hpc-lustre-efa")
        fleet.add_boot_commands(*lustre_client_lines(
            dns_name=self.lustre.dns_name, mount_name=self.lustre.mount_name, mount_point=spec.mount_point,
            efa_interfaces=interfaces if over_efa else None))
        if over_efa:
            most = max(interfaces.values()) * fleet.plan.max_capacity
            self._efa_connections += most
            how = (f"Lustre over EFA ({', '.join(f'{n}: {c}' for n, c in sorted(interfaces.items()))} EFA "
                   f"interfaces per node; up to {most:,} of the file system's {LUSTRE_EFA_MAX_CONNECTIONS:,} "
                   "EFA connections)")
            if self._efa_connections > LUSTRE_EFA_MAX_CONNECTIONS:
                Annotations.of(fleet).add_warning_v2(
                    "hpc-constructs:lustre-efa-connections",
                    f"At max_capacity the fleets that mount {self.node.path} over EFA use up to "
                    f"{self._efa_connections:,} EFA connections; an FSx for Lustre file system takes at most "
                    f"{LUSTRE_EFA_MAX_CONNECTIONS:,} across all clients (FSx for Lustre User Guide, 'Configuring "
                    "EFA clients'). Lower max_capacity: the guide documents no behaviour past the limit.")
        elif spec.efa and fleet.plan.efa:
            how = "Lustre over TCP (the file system is EFA-enabled; these instance types cannot be EFA clients)"
        elif spec.efa:
            how = "Lustre over TCP (the file system is EFA-enabled, the fleet is not)"
        else:
            how = "Lustre over TCP"
        return {spec.mount_point: how}

    def _mount_efs(self, fleet: ComputeFleet, rules: Construct, root_access: bool) -> dict[str, str]:
        assert self.file_system is not None and self._efs_spec is not None
        efs_sg = self.file_system.connections.security_groups[0].security_group_id
        _tcp_rule(rules, "EfsFromFleet", group=efs_sg, source=fleet.security_group.security_group_id,
                  ports=(NFS_PORT, NFS_PORT), description="NFS from the fleet")
        self._grant_efs(fleet.role, EFS_ROOT if root_access else EFS_READ_WRITE)
        # Instances must not boot before the mount targets exist, or the first mount fails.
        fleet.auto_scaling_group.node.add_dependency(self.file_system.mount_targets_available)
        mount_point = self._efs_spec.mount_point
        fleet.claim_mount_point(mount_point, self.node.path)
        fleet.install_boot_script("hpc-mount")
        fleet.add_boot_commands(*_efs_mount_lines(self.file_system.file_system_id, mount_point))
        return {mount_point: "EFS over NFS with TLS and IAM" + (", root access" if root_access else "")}

    def _mount_standalone_volumes(self, fleet: ComputeFleet,
                                  volumes: Sequence[tuple[EbsSpec, EbsFigures, ec2.CfnVolume]]) -> dict[str, str]:
        self._grant_attach(fleet, [volume for _, _, volume in volumes])
        fleet.install_boot_script("hpc-ebs-attach")
        mounts = {}
        for spec, figures, volume in volumes:
            device = fleet.next_ebs_device_name()
            mount_point = f"{EBS_MOUNT_ROOT}/{figures.name}"
            if not spec.multi_attach:
                fleet.claim_mount_point(mount_point, self.node.path)
            mode = "multi" if spec.multi_attach else "single"
            unit = f"hpc-ebs-attach-{Names.unique_id(self).lower()}-{figures.name}"
            fleet.add_boot_commands(
                *boot.systemd_unit(f"{unit}.service", "\n".join([
                    "[Unit]",
                    f"Description=Attach and mount EBS volume {figures.name} of {self.node.path} "
                    "when no other node holds it",
                    "After=network-online.target",
                    "Wants=network-online.target",
                    "[Service]",
                    "Type=oneshot",
                    f"ExecStart=/usr/local/sbin/hpc-ebs-attach {volume.ref} {device} {mount_point} {mode}",
                ])),
                *boot.systemd_unit(f"{unit}.timer", "\n".join([
                    "[Unit]",
                    f"Description=Take over EBS volume {figures.name} when its holder goes away",
                    "[Timer]",
                    "OnBootSec=1min",
                    "OnUnitInactiveSec=2min",
                    "RandomizedDelaySec=30s",
                    "[Install]",
                    "WantedBy=timers.target",
                ])),
                "systemctl daemon-reload",
                boot.step(f"EBS volume {figures.name} (one node)", "systemctl", "start", f"{unit}.service"),
                boot.step(f"EBS volume {figures.name} takeover timer", "systemctl", "enable", "--now",
                          f"{unit}.timer"),
            )
            if spec.multi_attach:
                mounts[f"ebs {figures.name}"] = "attached to every node in its AZ (Multi-Attach), not mounted"
            else:
                mounts[mount_point] = f"EBS {spec.volume_type}, one node at a time (takeover timer)"
                if fleet.plan.max_capacity > 1:
                    Annotations.of(fleet).add_warning_v2(
                        "hpc-constructs:ebs-one-node",
                        f"EBS volume '{figures.name}' of {self.node.path} is attach='one_node': only one of this "
                        f"fleet's up to {fleet.plan.max_capacity} nodes has it at a time, at {mount_point}. For "
                        "data that every node needs, use EFS or FSx for Lustre; for a volume on every node, "
                        "EbsSpec(attach='per_node').")
        return mounts

    def _mount_node_volume(self, fleet: ComputeFleet, spec: EbsSpec, figures: EbsFigures) -> dict[str, str]:
        device = fleet.next_ebs_device_name()
        fleet.add_node_volume(device_name=device, size_gib=spec.size_gib, volume_type=spec.volume_type,
                              iops=spec.iops, throughput_mibps=spec.throughput_mibps)
        mount_point = f"{EBS_MOUNT_ROOT}/{figures.name}"
        fleet.claim_mount_point(mount_point, self.node.path)
        unit = f"hpc-ebs-node-{figures.name}.service"
        fleet.install_boot_script("hpc-ebs-node")
        fleet.add_boot_commands(
            *boot.systemd_unit(unit, "\n".join([
                "[Unit]",
                f"Description=Format (if blank) and mount this node's EBS volume {figures.name} at {mount_point}",
                "After=local-fs.target",
                "[Service]",
                "Type=oneshot",
                "RemainAfterExit=yes",
                f"ExecStart=/usr/local/sbin/hpc-ebs-node {device} {mount_point}",
                "[Install]",
                "WantedBy=multi-user.target",
            ])),
            "systemctl daemon-reload",
            boot.step(f"EBS volume {figures.name} (per node)", "systemctl", "enable", "--now", unit),
        )
        most = fleet.plan.max_capacity
        total = f"{spec.size_gib * most:,} GiB"
        if figures.iops is not None:
            total += f", {figures.iops * most:,} IOPS"
        fleet.node.add_metadata("hpc:figures", {
            f"EBS {figures.name} per node": f"{_volume_figure(figures)} at {mount_point}, deleted with its node",
            f"EBS {figures.name} at max_capacity ({most})": total,
        })
        return {mount_point: f"EBS {spec.volume_type}, one volume per node (deleted with the node)"}


EFS_READ = ("elasticfilesystem:ClientMount",)
EFS_READ_WRITE = ("elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite")
EFS_ROOT = (*EFS_READ_WRITE, "elasticfilesystem:ClientRootAccess")
# Deny everything that does not come over TLS, and allow nothing: with a policy in place EFS refuses
# anonymous clients, and a principal can do exactly what its identity policy grants ("Using IAM to
# control access to file systems", Amazon EFS User Guide; the TLS statement is the guide's own
# "enforce in-transit encryption" example).
EFS_FILE_SYSTEM_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{
        "Sid": "DenyWithoutTls",
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }],
}


def _volume_figure(figures: EbsFigures) -> str:
    iops = f"{figures.iops:,} IOPS" if figures.iops is not None else "HDD"
    return (f"{figures.volume_type} {figures.size_gib:,} GiB, {iops}, {figures.throughput_mibps:,.0f} MiB/s "
            f"({figures.throughput_basis})")


def _inner_subnets(path: str, vpc: ec2.IVpc) -> list[ec2.ISubnet]:
    """The VPC's private subnets, else its isolated ones, else (a public-only VPC) its public ones."""
    subnets = list(vpc.private_subnets) or list(vpc.isolated_subnets) or list(vpc.public_subnets)
    if not subnets:
        raise ConfigError(path, "vpc", "a VPC without subnets", "a VPC with at least one subnet")
    return subnets


def _validate(path: str, ebs_volumes: Sequence[EbsSpec], lustre: LustreSpec | None, efs_spec: EfsSpec | None,
              bucket: BucketSpec | None) -> tuple[list[EbsFigures], LustrePlan | None]:
    """Every StorageLayer rule, in the order the docstring lists them."""
    if isinstance(ebs_volumes, EbsSpec):
        raise ConfigError(path, "ebs_volumes", ebs_volumes, "a sequence of EbsSpec",
                          hint="Write ebs_volumes=[EbsSpec(...)].")
    figures = [check_ebs(path, spec, i) for i, spec in enumerate(ebs_volumes)]
    names = [f.name for f in figures]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(path, "ebs_volumes", ", ".join(duplicates), "a distinct name for each volume")
    plan = plan_lustre(path, lustre) if lustre is not None else None
    if lustre is not None and bucket is None:
        for i, repo in enumerate(lustre.data_repositories):
            if repo.data_repository_path is None:
                raise ConfigError(path, f"lustre.data_repositories[{i}].data_repository_path", None,
                                  "an s3:// path, or bucket=True so that the layer's own bucket is linked")
    if efs_spec is not None:
        check_efs(path, efs_spec)
    return figures, plan


def _all_traffic_rules(scope: Construct, lustre_sg: str, fleet_sg: str) -> None:
    """EFA-enabled Lustre: all traffic both ways between the file system's group and the fleet's."""
    description = "EFA-enabled Lustre and its clients (EFA traffic is not IP)"
    ec2.CfnSecurityGroupIngress(scope, "LustreFromFleetAll", group_id=lustre_sg, source_security_group_id=fleet_sg,
                                ip_protocol="-1", description=description)
    ec2.CfnSecurityGroupEgress(scope, "LustreToFleetAll", group_id=lustre_sg, destination_security_group_id=fleet_sg,
                               ip_protocol="-1", description=description)
    ec2.CfnSecurityGroupIngress(scope, "FleetFromLustreAll", group_id=fleet_sg, source_security_group_id=lustre_sg,
                                ip_protocol="-1", description=description)
    ec2.CfnSecurityGroupEgress(scope, "FleetToLustreAll", group_id=fleet_sg, destination_security_group_id=lustre_sg,
                               ip_protocol="-1", description=description)


def _lustre_ports() -> list[ec2.Port]:
    return [ec2.Port.tcp(low) if low == high else ec2.Port.tcp_range(low, high) for low, high in LUSTRE_CLIENT_PORTS]


def _tcp_rule(scope: Construct, id: str, *, group: str, ports: tuple[int, int], description: str,
              source: str | None = None, destination: str | None = None) -> None:
    """One TCP rule between two security groups: ingress from `source`, or egress to `destination`."""
    low, high = ports
    if source is not None:
        ec2.CfnSecurityGroupIngress(scope, id, group_id=group, source_security_group_id=source, ip_protocol="tcp",
                                    from_port=low, to_port=high, description=description)
    else:
        ec2.CfnSecurityGroupEgress(scope, id, group_id=group, destination_security_group_id=destination,
                                   ip_protocol="tcp", from_port=low, to_port=high, description=description)


def _efs_mount_lines(file_system_id: str, mount_point: str) -> list[str]:
    """amazon-efs-utils, an fstab entry (TLS, IAM, automount) and the first mount, with retries."""
    entry = f"{file_system_id}:/ {mount_point} efs _netdev,noresvport,tls,iam,x-systemd.automount 0 0"
    return [
        *boot.function("hpc_efs_client", [
            "rpm -q amazon-efs-utils >/dev/null 2>&1 || hpc_retry 5 dnf install -y amazon-efs-utils",
        ]),
        boot.step("EFS client (amazon-efs-utils)", "hpc_efs_client"),
        f"mkdir -p {mount_point}",
        boot.fstab_entry(entry, mount_point, "efs"),
        boot.step(f"mount {mount_point} (EFS)", "/usr/local/sbin/hpc-mount", mount_point, "nfs4"),
    ]
