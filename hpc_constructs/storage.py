"""StorageLayer: EBS, S3, EFS and FSx for Lustre for an HPC environment, composed from one construct per tier.

Each tier is a construct of its own, usable alone: EbsVolumes (ebs_volumes.py), DataBucket
(data_bucket.py), EfsFileSystem (efs_file_system.py) and LustreFileSystem (lustre_file_system.py).
Their rules live in the pure modules ebs.py, efs.py and lustre.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce
from typing import TypeVar

import jsii
from aws_cdk import Aspects, RemovalPolicy, aws_efs
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from hpc_constructs.compute_fleet import SCRATCH_MOUNT_POINT, ComputeFleet
from hpc_constructs.data_bucket import BucketSpec, DataBucket
from hpc_constructs.ebs import EbsFigures, EbsSpec, check_ebs_volumes
from hpc_constructs.ebs_volumes import EbsVolumes
from hpc_constructs.efs import EfsSpec, check_efs
from hpc_constructs.efs_file_system import EfsFileSystem
from hpc_constructs.kinds import check_kinds
from hpc_constructs.lustre import LustrePlan, LustreSpec, check_repository_paths, plan_lustre
from hpc_constructs.lustre_file_system import LustreFileSystem
from hpc_constructs.monitoring import Monitoring, MonitoringSettings
from hpc_constructs.mounting import KeepLogicalIds, MountTarget, inner_subnets, rules_scope, start_mount

__all__ = ["BucketSpec", "EfsSpec", "LustreFileSystem", "StorageLayer"]

_Tier = TypeVar("_Tier", DataBucket, EbsVolumes, EfsFileSystem, LustreFileSystem)


@jsii.implements(ec2.IConnectable)
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

    Rules (checked in one place, _validate, before any tier is made): each EBS volume (ebs.py), the
    Lustre spec (lustre.py), the EFS spec (efs.py), and a data repository without an S3 path needs
    the layer's bucket.

    Tiers (None when not asked for): ebs (EbsVolumes), data_bucket (DataBucket), efs
    (EfsFileSystem), lustre (LustreFileSystem). Each keeps the logical IDs its resources had before
    the layer was split into tiers (tests/lock/ guards them).

    Attributes: volumes (the standalone EBS volumes), node_volumes (the per-node EbsSpecs), lustre
    (dns_name, mount_name, connections, ...), file_system (the aws_efs.FileSystem), bucket,
    log_bucket, connections (the Lustre and EFS security groups: ec2.IConnectable), figures;
    grant_read (bucket read, EFS ClientMount only) / grant_read_write (+ bucket write, EFS
    ClientWrite as a squashed user) / grant_root_access (+ EFS ClientRootAccess), each returning one
    iam.Grant; mount_on(target).
    """

    @check_kinds
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
        # The access-log bucket's flag (see DataBucket), for the whole layer as before the split.
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        bucket_spec = BucketSpec() if bucket is True else (bucket or None)
        _validate(self.node.path, ebs_volumes, lustre, efs, bucket_spec)
        self.vpc = vpc
        self.subnet = subnet or inner_subnets(self.node.path, vpc)[0]
        self.removal_policy = removal_policy
        self.figures: dict[str, object] = {}
        if removal_policy == RemovalPolicy.SNAPSHOT:
            self.figures["removal policy"] = ("SNAPSHOT for the EBS volumes; RETAIN for the bucket, EFS and Lustre "
                                              "(CloudFormation snapshots none of them)")

        self.data_bucket: DataBucket | None = None
        if bucket_spec is not None:
            self.data_bucket = self._tier(DataBucket(self, "DataBucket", spec=bucket_spec,
                                                     removal_policy=removal_policy, owner=self))
        self.bucket: s3.Bucket | None = self.data_bucket.bucket if self.data_bucket else None
        self.log_bucket: s3.Bucket | None = self.data_bucket.log_bucket if self.data_bucket else None

        self.ebs: EbsVolumes | None = None
        if ebs_volumes:
            self.ebs = self._tier(EbsVolumes(self, "EbsVolumes", volumes=ebs_volumes, subnet=self.subnet,
                                             removal_policy=removal_policy, owner=self))
        self.volumes: list[ec2.CfnVolume] = list(self.ebs.volumes) if self.ebs else []
        self.node_volumes: tuple[EbsSpec, ...] = self.ebs.node_volumes if self.ebs else ()

        self.efs: EfsFileSystem | None = None
        if efs is not None:
            self.efs = self._tier(EfsFileSystem(self, "EfsFileSystem", vpc=vpc, spec=efs,
                                                removal_policy=removal_policy, owner=self))
        self.file_system: aws_efs.FileSystem | None = self.efs.file_system if self.efs else None

        self.lustre: LustreFileSystem | None = None
        if lustre is not None:
            self.lustre = self._tier(LustreFileSystem(self, "LustreFileSystem", vpc=vpc, subnet=self.subnet,
                                                      spec=lustre, bucket=self.bucket,
                                                      removal_policy=removal_policy, owner=self))
        self._connections = ec2.Connections(security_groups=[
            *(self.lustre.connections.security_groups if self.lustre else []),
            *(self.efs.connections.security_groups if self.efs else [])])
        self.node.add_metadata("hpc:figures", self.figures)

    @property
    def connections(self) -> ec2.Connections:
        """The security groups of the layer's file systems, Lustre and EFS (ec2.IConnectable)."""
        return self._connections

    def _tier(self, tier: _Tier) -> _Tier:
        """Compose a tier: keep the logical IDs its resources had in the unsplit layer; take its figures."""
        Aspects.of(tier).add(KeepLogicalIds(tier))
        self.figures.update(tier.figures)
        return tier

    # -- grants ----------------------------------------------------------------------------------

    @check_kinds
    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read the bucket, and mount EFS read-only (ClientMount only: writes are refused)."""
        return self._combine(grantee, "read", [t.grant_read(grantee) for t in self._granting()])

    @check_kinds
    def grant_read_write(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read and write the bucket, and mount EFS read-write (as a non-root user: root is squashed).

        EBS volumes are not part of it: a fleet that mounts the layer gets the right to attach its
        standalone volumes to the fleet's own instances (mount_on), and nobody gets more.
        """
        return self._combine(grantee, "read and write", [t.grant_read_write(grantee) for t in self._granting()])

    @check_kinds
    def grant_root_access(self, grantee: iam.IGrantable) -> iam.Grant:
        """Mount EFS read-write with root access (ClientRootAccess: root is not squashed)."""
        grants = [self.efs.grant_root_access(grantee)] if self.efs is not None else []
        return self._combine(grantee, "root access to", grants)

    def _granting(self) -> list[DataBucket | EfsFileSystem]:
        return [t for t in (self.data_bucket, self.efs) if t is not None]

    def _combine(self, grantee: iam.IGrantable, what: str, grants: list[iam.Grant]) -> iam.Grant:
        if not grants:
            return iam.Grant.drop(grantee, f"{what} {self.node.path}, which has no bucket or EFS")
        return reduce(lambda a, b: a.combine(b), grants)

    # -- mounting --------------------------------------------------------------------------------

    @check_kinds
    def mount_on(self, target: MountTarget | ComputeFleet, *, ebs_volumes: bool | Sequence[str] = True,
                 efs_root_access: bool = False) -> None:
        """Open the ports between the target and each file system, and mount everything at boot.

        target: a ComputeFleet, or any construct with user_data, role and connections (an
        autoscaling.AutoScalingGroup, an ec2.Instance): see hpc_constructs.mounting.
        ebs_volumes: True mounts every EBS volume of the layer on the fleet, False none, or a list of
        volume names. A one_node volume is held by one node at a time (see EbsSpec); a per_node volume
        goes into the fleet's launch template, one for every node (a ComputeFleet only). EBS volumes
        need a Nitro instance type (they are found by their NVMe identity): Xen types are a ConfigError.
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
        that still fails is reported as a failed boot step. The nodes wait for every security-group
        rule and mount target they need.
        """
        nodes = start_mount(self, "StorageLayer", target)
        standalone, per_node = (self.ebs.chosen(nodes, ebs_volumes, "mount_on.ebs_volumes") if self.ebs
                                else ([], []))
        rules = rules_scope(self, "StorageLayer", nodes)
        mounts: dict[str, str] = {}
        if self.lustre is not None:
            mounts[self.lustre.mount_point] = self.lustre.mount(nodes, rules)
        if self.efs is not None:
            mounts[self.efs.mount_point] = self.efs.mount(nodes, rules, root_access=efs_root_access)
        # Instances must not boot before the rules their mounts need exist, or the first mount fails.
        nodes.wait_for(rules)
        if self.ebs is not None:
            mounts.update(self.ebs.mount(nodes, standalone, per_node))
        if nodes.fleet is not None:
            store = max(t.nvme_instance_store_gb for t in nodes.fleet.instance_types)
            figure = f"{store:,} GB NVMe per instance at {SCRATCH_MOUNT_POINT}" if store else "none"
            self.node.add_metadata("hpc:figures", {f"instance store on {nodes.path}": figure})
        nodes.add_figures({f"mounts from {self.node.path}": "; ".join(
            f"{path}: {how}" for path, how in mounts.items()) or "none"})

    # -- monitoring (HpcDashboard) ---------------------------------------------------------------------

    def monitoring(self, scope: Construct, settings: MonitoringSettings | None = None) -> Monitoring:
        """Each tier's part (LustreFileSystem, EfsFileSystem, EbsVolumes .monitoring), in one section; each tier's
        alarms in a scope of its own under `scope`. The bucket has no alarm (S3 request metrics are not turned on)."""
        result = Monitoring(title=f"{self.node.path} (StorageLayer)")
        tiers: list[tuple[str, LustreFileSystem | EfsFileSystem | EbsVolumes | None]] = [
            ("Lustre", self.lustre), ("Efs", self.efs), ("Ebs", self.ebs)]
        for id, tier in tiers:
            if tier is None:
                continue
            part = tier.monitoring(Construct(scope, id), settings)
            result.widgets += part.widgets
            result.alarms += part.alarms
            result.events += part.events
            result.notes += part.notes
        if self.data_bucket is not None:
            result.notes.append("S3 bucket: not watched (its request metrics are a paid configuration the layer does "
                                "not turn on; storage metrics are daily).")
        return result


def _validate(path: str, ebs_volumes: Sequence[EbsSpec], lustre: LustreSpec | None, efs_spec: EfsSpec | None,
              bucket: BucketSpec | None) -> tuple[list[EbsFigures], LustrePlan | None]:
    """Every StorageLayer rule, in the order the docstring lists them."""
    figures = check_ebs_volumes(path, ebs_volumes)
    plan = plan_lustre(path, lustre) if lustre is not None else None
    if lustre is not None:
        check_repository_paths(path, lustre, has_bucket=bucket is not None,
                               allowed="an s3:// path, or bucket=True so that the layer's own bucket is linked")
    if efs_spec is not None:
        check_efs(path, efs_spec)
    return figures, plan


# What BatchOrchestration and SlurmCluster take as storage=: a StorageLayer, or one of its file-system tiers made on
# its own or imported (LustreFileSystem.from_lustre_file_system_attributes, EfsFileSystem.from_file_system).
Mountable = StorageLayer | LustreFileSystem | EfsFileSystem


def storage_items(storage: Mountable | Sequence[Mountable] | None) -> tuple[Mountable, ...]:
    """`storage=` as a tuple: None is (), one StorageLayer or tier is (it,)."""
    if storage is None:
        return ()
    if isinstance(storage, StorageLayer | LustreFileSystem | EfsFileSystem):
        return (storage,)
    return tuple(storage)


def mount_storage(storage: Mountable, target: MountTarget) -> None:
    """Mount a StorageLayer's file systems (not its EBS volumes, which need a ComputeFleet) or one tier on `target`."""
    if isinstance(storage, StorageLayer):
        storage.mount_on(target, ebs_volumes=False)
    else:
        storage.mount_on(target)
