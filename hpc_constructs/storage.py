"""StorageLayer: EBS, instance store, S3, EFS and FSx for Lustre for an HPC environment, mountable on a fleet."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Acknowledgment, Names, RemovalPolicy, Size, Stack, Validations, aws_efs
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_fsx as fsx
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from hpc_constructs.catalog.limits import EFS_MAX_PROVISIONED_THROUGHPUT_MIBPS, LUSTRE_CLIENT_PORTS
from hpc_constructs.compute_fleet import SCRATCH_MOUNT_POINT, ComputeFleet, install_boot_script
from hpc_constructs.ebs import EbsFigures, EbsSpec, check_ebs
from hpc_constructs.errors import ConfigError
from hpc_constructs.lustre import MOUNT_POINT, LustrePlan, LustreSpec, plan_lustre

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
    """What a fleet needs from the layer's Lustre file system."""

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
      ebs_volumes: (). EbsSpec per volume; CfnVolume, encrypted, checked against today's limits
                   (io2 Block Express 4 GiB-64 TiB, 100-256,000 IOPS, 1,000 IOPS/GiB; io1; gp3; st1; sc1).
      lustre: None. A LustreSpec: one FSx for Lustre file system in `subnet`.
      efs: None. An EfsSpec: encrypted, elastic throughput by default, mount targets in private subnets.
      bucket: False. True or a BucketSpec for an S3 bucket (BPA, TLS-only, encrypted, versioned, logged).
      subnet: None uses the VPC's first private subnet (HpcNetwork.cluster_subnet is the same one;
              isolated, then public subnets where a VPC has no private ones):
              the Lustre file system and EBS volumes without an availability_zone live there.
      removal_policy: RemovalPolicy.RETAIN for every stateful resource: deleting the stack never
                      deletes data.

    Rules (checked in one place, _validate): each EBS volume (hpc_constructs.ebs), the Lustre spec
    (hpc_constructs.lustre), the EFS spec (check_efs), and a data repository without an S3 path
    needs the layer's bucket.

    Attributes: volumes, lustre (LustreFileSystem with dns_name, mount_name, connections), file_system
    (EFS), bucket, log_bucket, figures; grant_read / grant_read_write; mount_on(fleet).
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

        self.bucket: s3.Bucket | None = None
        self.log_bucket: s3.Bucket | None = None
        if bucket_spec is not None:
            self._make_bucket(bucket_spec)

        self.volumes: list[ec2.CfnVolume] = []
        self._volume_specs: list[tuple[EbsSpec, EbsFigures]] = list(zip(ebs_volumes, ebs_figures, strict=True))
        for spec, figures in self._volume_specs:
            self.volumes.append(self._make_volume(spec, figures))

        self.file_system: aws_efs.FileSystem | None = None
        self._efs_spec = efs
        if efs is not None:
            self._make_efs(efs)

        self.lustre: LustreFileSystem | None = None
        if lustre_plan is not None:
            self.lustre = self._make_lustre(lustre_plan)

        self.node.add_metadata("hpc:figures", self.figures)

    # -- resources -------------------------------------------------------------------------------

    def _make_bucket(self, spec: BucketSpec) -> None:
        common = {
            "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
            "encryption": s3.BucketEncryption.S3_MANAGED,
            "enforce_ssl": True,
            "removal_policy": self.removal_policy,
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
        volume.apply_removal_policy(self.removal_policy)
        iops = f"{figures.iops:,} IOPS" if figures.iops is not None else "HDD"
        self.figures[f"ebs {figures.name}"] = (
            f"{figures.volume_type} {figures.size_gib:,} GiB, {iops}, {figures.throughput_mibps:,.0f} MiB/s "
            f"({figures.throughput_basis})"
        )
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
            removal_policy=self.removal_policy,
        )
        mode = spec.throughput_mode
        if mode == "provisioned":
            mode += f" {spec.provisioned_throughput_mibps:g} MiB/s"
        self.figures["efs"] = f"{mode} throughput, {spec.performance_mode}"

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
        file_system.apply_removal_policy(self.removal_policy)
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
        """Read the bucket and mount the EFS file system read-only."""
        if self.bucket is not None:
            self.bucket.grant_read(grantee)
        if self.file_system is not None:
            self.file_system.grant_read(grantee)

    def grant_read_write(self, grantee: iam.IGrantable) -> None:
        """Read and write the bucket, mount EFS read-write, attach and detach the EBS volumes."""
        if self.bucket is not None:
            self.bucket.grant_read_write(grantee)
        if self.file_system is not None:
            self.file_system.grant_read_write(grantee)
        if self.volumes:
            self._grant_attach(grantee, instance_condition=None)

    def _grant_attach(self, grantee: iam.IGrantable, instance_condition: dict[str, object] | None) -> None:
        stack = Stack.of(self)
        volume_arns = [stack.format_arn(service="ec2", resource="volume", resource_name=v.ref) for v in self.volumes]
        instance_arn = stack.format_arn(service="ec2", resource="instance", resource_name="*")
        grantee.grant_principal.add_to_principal_policy(iam.PolicyStatement(
            actions=["ec2:AttachVolume", "ec2:DetachVolume"], resources=volume_arns))
        grantee.grant_principal.add_to_principal_policy(iam.PolicyStatement(
            actions=["ec2:AttachVolume", "ec2:DetachVolume"], resources=[instance_arn],
            conditions=instance_condition))
        grantee.grant_principal.add_to_principal_policy(iam.PolicyStatement(
            actions=["ec2:DescribeVolumes"], resources=["*"]))

    # -- mounting --------------------------------------------------------------------------------

    def mount_on(self, fleet: ComputeFleet, *, ebs_volumes: bool = True) -> None:
        """Open the ports between `fleet` and each file system, and mount everything at boot.

        ebs_volumes: True also attaches the layer's EBS volumes. A volume attaches to one instance at a
        time: the first fleet instance in the volume's AZ to boot takes it, and the others log that it
        is in use. A multi-attach volume attaches to every instance in its AZ (up to EBS's limit) but
        is never formatted or mounted: it needs a cluster file system. Pass False to leave the volumes
        off this fleet.

        Lustre: TCP 988 and 1018-1023 both ways (clients and servers both open connections); an
        EFA-enabled file system gets all traffic both ways instead, as FSx requires;
        EFS: NFS (TCP 2049) from the fleet. Nothing else is opened. Mounting the same layer on the
        same fleet twice is a ConfigError. The fleet's user data installs the clients and adds
        idempotent fstab entries (at LustreSpec.mount_point and EfsSpec.mount_point); EBS volumes
        are mounted at /ebs/<name>.
        """
        if self.node.path in fleet.mounted_storage:
            raise ConfigError(self.node.path, "mount_on", fleet.node.path, "each fleet once per StorageLayer")
        fleet.mounted_storage.add(self.node.path)
        lines = ["# hpc-constructs StorageLayer " + self.node.path]
        # The rules live in the fleet's scope (its stack), so that a layer in another stack never
        # depends on the fleet's stack: that would be a cycle with the user data's references.
        rules = Construct(fleet, f"Mount{Names.unique_id(self)}")
        fleet_sg = fleet.security_group.security_group_id
        if self.lustre is not None:
            lustre_sg = self.lustre.security_group.security_group_id
            if self.lustre.plan.spec.efa:
                _all_traffic_rules(rules, lustre_sg, fleet_sg)
            for low, high in [] if self.lustre.plan.spec.efa else LUSTRE_CLIENT_PORTS:
                _tcp_rule(rules, f"LustreFromFleet{low}", group=lustre_sg, source=fleet_sg, ports=(low, high),
                          description="Lustre client to file servers")
                _tcp_rule(rules, f"LustreToFleet{low}", group=lustre_sg, destination=fleet_sg, ports=(low, high),
                          description="Lustre file servers to client")
                _tcp_rule(rules, f"FleetFromLustre{low}", group=fleet_sg, source=lustre_sg, ports=(low, high),
                          description="Lustre file servers to client")
            lines += _lustre_mount_commands(self.lustre)
        if self.file_system is not None and self._efs_spec is not None:
            efs_sg = self.file_system.connections.security_groups[0].security_group_id
            _tcp_rule(rules, "EfsFromFleet", group=efs_sg, source=fleet_sg, ports=(NFS_PORT, NFS_PORT),
                      description="NFS from the fleet")
            self.file_system.grant_read_write(fleet.role)
            # Instances must not boot before the mount targets exist, or the first mount fails.
            fleet.auto_scaling_group.node.add_dependency(self.file_system.mount_targets_available)
            lines += _efs_mount_commands(self.file_system.file_system_id, self._efs_spec.mount_point)
        if self.volumes and ebs_volumes:
            tag_key, tag_value = fleet.fleet_tag
            self._grant_attach(fleet.role, {"StringEquals": {f"aws:ResourceTag/{tag_key}": tag_value}})
            Validations.of(fleet.role).acknowledge(Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                reason="ec2:DescribeVolumes has no resource-level permissions.",
            ), Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:"
                   "<AWS::AccountId>:instance/*]",
                reason="Instances of an Auto Scaling group are not known at synth time; the statement is "
                       "limited to instances carrying this fleet's hpc-constructs:fleet tag.",
            ))
            lines += install_boot_script("hpc-ebs-attach")
            for volume, (spec, figures) in zip(self.volumes, self._volume_specs, strict=True):
                device = fleet.next_ebs_device_name()
                mode = "multi" if spec.multi_attach else "single"
                lines.append(f"/usr/local/sbin/hpc-ebs-attach {volume.ref} {device} "
                             f"{EBS_MOUNT_ROOT}/{figures.name} {mode} || true")
        fleet.user_data.add_commands(*lines)
        store = max(t.nvme_instance_store_gb for t in fleet.instance_types)
        figure = f"{store:,} GB NVMe per instance at {SCRATCH_MOUNT_POINT}" if store else "none"
        self.node.add_metadata("hpc:figures", {f"instance store on {fleet.node.path}": figure})


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


def _lustre_ports() -> list[ec2.Port]:
    return [ec2.Port.tcp(low) if low == high else ec2.Port.tcp_range(low, high) for low, high in LUSTRE_CLIENT_PORTS]


def _lustre_mount_commands(lustre: LustreFileSystem) -> list[str]:
    mount_point = lustre.plan.spec.mount_point
    # network-online.target, not network.service: Amazon Linux 2023 has no network.service unit.
    entry = (f"{lustre.dns_name}@tcp:/{lustre.mount_name} {mount_point} lustre "
             "defaults,noatime,flock,_netdev,x-systemd.automount,x-systemd.requires=network-online.target,"
             "x-systemd.after=network-online.target 0 0")
    return [
        "dnf install -y lustre-client",
        f"mkdir -p {mount_point}",
        f"grep -qs ' {mount_point} lustre ' /etc/fstab || echo '{entry}' >> /etc/fstab",
        "systemctl daemon-reload",
        f"mountpoint -q {mount_point} || mount {mount_point} || "
        f"echo 'hpc-constructs: mounting {mount_point} failed; the automount retries at first access' >&2",
    ]


def _efs_mount_commands(file_system_id: str, mount_point: str) -> list[str]:
    entry = f"{file_system_id}:/ {mount_point} efs _netdev,noresvport,tls,iam 0 0"
    return [
        "dnf install -y amazon-efs-utils",
        f"mkdir -p {mount_point}",
        f"grep -qs ' {mount_point} efs ' /etc/fstab || echo '{entry}' >> /etc/fstab",
        f"mountpoint -q {mount_point} || mount {mount_point} || "
        f"echo 'hpc-constructs: mounting {mount_point} failed; run: mount {mount_point}' >&2",
    ]

