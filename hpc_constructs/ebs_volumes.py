"""EbsVolumes: the EBS tier of StorageLayer, usable on its own."""

from __future__ import annotations

from collections.abc import Sequence

import jsii
from aws_cdk import Acknowledgment, Annotations, Names, RemovalPolicy, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from hpc_constructs import boot, paths
from hpc_constructs.compute_fleet import ComputeFleet
from hpc_constructs.ebs import EbsFigures, EbsSpec, check_ebs_volumes
from hpc_constructs.errors import ConfigError
from hpc_constructs.kinds import check_kinds
from hpc_constructs.monitoring import Monitoring, MonitoringSettings
from hpc_constructs.mounting import MountTarget, Nodes, removal, rules_scope, start_mount
from hpc_constructs.nag import flatten_cfn_reference

EBS_MOUNT_ROOT = "/ebs"

Standalone = tuple[EbsSpec, EbsFigures, ec2.CfnVolume]


@jsii.implements(ec2.IConnectable)
class EbsVolumes(Construct):
    """Encrypted EBS volumes, checked against today's limits, attached and mounted at boot.

    Props (keyword-only) and their defaults:
      volumes: the EbsSpecs (required; distinct names). attach="one_node" (default) makes a
               standalone, retained CfnVolume that one node of each mounting fleet holds at a time;
               attach="per_node" gives every node of each mounting fleet a volume of its own, deleted
               with the node. See EbsSpec.
      subnet: the subnet whose AZ holds volumes without an availability_zone (required: the AZ of
              the fleets that attach them, HpcNetwork.cluster_subnet).
      removal_policy: RemovalPolicy.RETAIN; SNAPSHOT snapshots the standalone volumes on deletion.
      owner: None. The construct whose path names the volumes, boot units and errors (StorageLayer
             passes itself); None: the tier itself.

    Attributes: volumes (the standalone CfnVolumes), node_volumes (the per-node EbsSpecs),
    connections (no security groups: EBS is reached through the instance, not the network),
    figures; mount_on(target, volumes=True). No grant_*: mount_on grants the nodes the right to
    attach the volumes to their own instances, and nobody gets more.
    """

    @check_kinds
    def __init__(self, scope: Construct, id: str, *, volumes: Sequence[EbsSpec], subnet: ec2.ISubnet,
                 removal_policy: RemovalPolicy = RemovalPolicy.RETAIN, owner: Construct | None = None) -> None:
        super().__init__(scope, id)
        self._owner: Construct = owner or self
        path = self._owner.node.path
        specs = list(zip(volumes, check_ebs_volumes(path, volumes), strict=True))
        self._connections = ec2.Connections()
        self.figures: dict[str, object] = {}
        self._policy = removal(removal_policy, snapshots=True)
        self._standalone: list[Standalone] = [
            (spec, figures, self._make_volume(spec, figures, subnet)) for spec, figures in specs
            if spec.attach == "one_node"]
        self.volumes: list[ec2.CfnVolume] = [volume for _, _, volume in self._standalone]
        self._per_node: list[tuple[EbsSpec, EbsFigures]] = [(s, f) for s, f in specs if s.attach == "per_node"]
        self.node_volumes: tuple[EbsSpec, ...] = tuple(spec for spec, _ in self._per_node)
        for _, figures in self._per_node:
            self.figures[f"ebs {figures.name}"] = f"per node: {volume_figure(figures)}"
        if owner is None:
            self.node.add_metadata("hpc:figures", self.figures)

    @property
    def connections(self) -> ec2.Connections:
        """The security groups that clients must reach (ec2.IConnectable)."""
        return self._connections

    def _make_volume(self, spec: EbsSpec, figures: EbsFigures, subnet: ec2.ISubnet) -> ec2.CfnVolume:
        volume = ec2.CfnVolume(
            self, f"Volume-{figures.name}",
            availability_zone=spec.availability_zone or subnet.availability_zone,
            size=spec.size_gib,
            volume_type=spec.volume_type,
            iops=spec.iops,
            throughput=spec.throughput_mibps,
            encrypted=True,
            multi_attach_enabled=spec.multi_attach or None,
            tags=[{"key": "Name", "value": f"{self._owner.node.path}/{figures.name}"}],
        )
        volume.apply_removal_policy(self._policy)
        holder = "every node in its AZ (Multi-Attach)" if spec.multi_attach else "one node at a time"
        self.figures[f"ebs {figures.name}"] = f"{volume_figure(figures)}; {holder}"
        return volume

    # -- mounting --------------------------------------------------------------------------------

    @check_kinds
    def mount_on(self, target: MountTarget | ComputeFleet, *, volumes: bool | Sequence[str] = True) -> None:
        """Attach and mount the volumes on the target's nodes at boot (see StorageLayer.mount_on)."""
        nodes = start_mount(self._owner, "EbsVolumes", target)
        standalone, per_node = self.chosen(nodes, volumes, "mount_on.volumes")
        rules_scope(self._owner, "EbsVolumes", nodes)
        mounts = self.mount(nodes, standalone, per_node)
        nodes.add_figures({f"mounts from {self._owner.node.path}": "; ".join(
            f"{path}: {how}" for path, how in mounts.items()) or "none"})

    def chosen(self, nodes: Nodes, selection: bool | Sequence[str], prop: str
               ) -> tuple[list[Standalone], list[tuple[EbsSpec, EbsFigures]]]:
        """The volumes that `selection` names, checked against the target (Nitro types, a launch template)."""
        path = self._owner.node.path
        chosen: set[str] | None
        if isinstance(selection, bool):
            chosen = None if selection else set()
        else:
            if isinstance(selection, str):
                raise ConfigError(path, prop, selection, "True, False or a list of volume names",
                                  hint=f"Write {prop.rsplit('.', 1)[-1]}=[{selection!r}].")
            chosen = set(selection)
            known = {f.name for _, f, _ in self._standalone} | {f.name for _, f in self._per_node}
            unknown = sorted(chosen - known)
            if unknown:
                raise ConfigError(path, prop, ", ".join(unknown),
                                  f"names of this layer's volumes: {', '.join(sorted(known)) or 'none'}")
        standalone = [v for v in self._standalone if chosen is None or v[1].name in chosen]
        per_node = [v for v in self._per_node if chosen is None or v[1].name in chosen]
        if standalone or per_node:
            xen = [t.name for t in nodes.instance_types if not t.ebs_as_nvme]
            if xen:
                raise ConfigError(path, "mount_on(fleet)", f"{nodes.path} with {', '.join(xen)}",
                                  "EBS volumes only on fleets of Nitro instance types",
                                  hint="On Xen types EBS volumes are not NVMe devices, so the boot scripts cannot "
                                       "find them by their volume ID or mapping name. Choose a Nitro type (the "
                                       "catalog's hypervisor is 'nitro', or bare metal), or pass "
                                       "ebs_volumes=False.")
        if per_node and nodes.fleet is None:
            raise ConfigError(path, "mount_on(target)", f"{nodes.path} with per_node volumes "
                              f"{', '.join(f.name for _, f in per_node)}", "a ComputeFleet for attach='per_node'",
                              hint="Per-node volumes go into the fleet's launch template, which only a "
                                   "ComputeFleet lets the layer change. Use attach='one_node', or mount "
                                   "the other volumes only (a list of names).")
        return standalone, per_node

    def mount(self, nodes: Nodes, standalone: Sequence[Standalone],
              per_node: Sequence[tuple[EbsSpec, EbsFigures]]) -> dict[str, str]:
        """The grants, launch-template entries and boot lines of one mount; {mount point: how}."""
        mounts: dict[str, str] = {}
        if standalone:
            mounts.update(self._mount_standalone(nodes, standalone))
        for spec, figures in per_node:
            mounts.update(self._mount_per_node(nodes, spec, figures))
        return mounts

    def _mount_standalone(self, nodes: Nodes, volumes: Sequence[Standalone]) -> dict[str, str]:
        owner = self._owner.node.path
        self._grant_attach(nodes, [volume for _, _, volume in volumes])
        nodes.install_boot_script("hpc-ebs-attach")
        mounts = {}
        for spec, figures, volume in volumes:
            device = nodes.next_ebs_device_name()
            mount_point = f"{EBS_MOUNT_ROOT}/{figures.name}"
            if not spec.multi_attach:
                nodes.claim_mount_point(mount_point, owner)
            mode = "multi" if spec.multi_attach else "single"
            unit = f"hpc-ebs-attach-{Names.unique_id(self._owner).lower()}-{figures.name}"
            nodes.add_boot_commands(
                *boot.systemd_unit(f"{unit}.service", "\n".join([
                    "[Unit]",
                    f"Description=Attach and mount EBS volume {figures.name} of {owner} "
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
                continue
            mounts[mount_point] = f"EBS {spec.volume_type}, one node at a time (takeover timer)"
            if nodes.max_capacity > 1:
                Annotations.of(nodes.target).add_warning_v2(
                    "hpc-constructs:ebs-one-node",
                    f"EBS volume '{figures.name}' of {owner} is attach='one_node': only one of this "
                    f"fleet's up to {nodes.max_capacity} nodes has it at a time, at {mount_point}. For "
                    "data that every node needs, use EFS or FSx for Lustre; for a volume on every node, "
                    "EbsSpec(attach='per_node').")
        return mounts

    def _mount_per_node(self, nodes: Nodes, spec: EbsSpec, figures: EbsFigures) -> dict[str, str]:
        fleet = nodes.fleet
        assert fleet is not None  # chosen() refuses per_node volumes on other targets
        device = nodes.next_ebs_device_name()
        fleet.add_node_volume(device_name=device, size_gib=spec.size_gib, volume_type=spec.volume_type,
                              iops=spec.iops, throughput_mibps=spec.throughput_mibps)
        mount_point = f"{EBS_MOUNT_ROOT}/{figures.name}"
        nodes.claim_mount_point(mount_point, self._owner.node.path)
        unit = f"hpc-ebs-node-{figures.name}.service"
        nodes.install_boot_script("hpc-ebs-node")
        nodes.add_boot_commands(
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
        most = nodes.max_capacity
        total = f"{spec.size_gib * most:,} GiB"
        if figures.iops is not None:
            total += f", {figures.iops * most:,} IOPS"
        nodes.add_figures({
            f"EBS {figures.name} per node": f"{volume_figure(figures)} at {mount_point}, deleted with its node",
            f"EBS {figures.name} at max_capacity ({most})": total,
        })
        return {mount_point: f"EBS {spec.volume_type}, one volume per node (deleted with the node)"}

    def _grant_attach(self, nodes: Nodes, volumes: Sequence[ec2.CfnVolume]) -> None:
        """ec2:AttachVolume for these volumes, onto the target's own instances only (by their tag)."""
        stack = Stack.of(self)
        tag_key, tag_value = nodes.tag
        volume_arns = [stack.format_arn(service="ec2", resource="volume", resource_name=v.ref) for v in volumes]
        instance_arn = stack.format_arn(service="ec2", resource="instance", resource_name="*")
        role = nodes.role
        nodes.grant_or_warn([
            iam.PolicyStatement(actions=["ec2:AttachVolume"], resources=volume_arns),
            iam.PolicyStatement(actions=["ec2:AttachVolume"], resources=[instance_arn],
                                conditions={"StringEquals": {f"aws:ResourceTag/{tag_key}": tag_value}}),
            iam.PolicyStatement(actions=["ec2:DescribeVolumes"], resources=["*"])],
            why=f"attaching {self._owner.node.path}'s volumes at boot")
        who = paths.role(role, f"{nodes.path} node role")
        names = ", ".join(str(v.node.id).removeprefix("Volume-") for v in volumes)
        paths.declare_iam(nodes.path_anchor, who, ["ec2:AttachVolume"], [
            *volume_arns, {"arn": stack.format_arn(service="ec2", resource="instance", resource_name="i-node"),
                           "context": {f"aws:ResourceTag/{tag_key}": tag_value}}],
            on=f"EBS volumes {names} of {self._owner.node.path} and its own instances", why="hpc-ebs-attach")
        paths.declare_iam(nodes.path_anchor, who, ["ec2:DescribeVolumes"], ["*"], on="any resource",
                          why="hpc-ebs-attach")
        paths.declare_services(nodes.path_anchor, nodes.path_endpoint(), ["ec2"], why="hpc-ebs-attach")
        Validations.of(role).acknowledge(Acknowledgment(
            id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            reason="ec2:DescribeVolumes has no resource-level permissions.",
        ), Acknowledgment(
            # as cdk-nag flattens it: arn:<AWS::Partition>:ec2:<AWS::Region>:... in an environment-agnostic
            # stack, arn:aws:ec2:us-east-1:111122223333:instance/* in one bound to an account and Region
            id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{flatten_cfn_reference(Stack.of(role).resolve(instance_arn))}]",
            reason="Instances of an Auto Scaling group are not known at synth time; the statement is "
                   "limited to instances carrying this fleet's hpc-constructs:fleet tag.",
        ))

    # -- monitoring (HpcDashboard) ---------------------------------------------------------------------

    def monitoring(self, scope: Construct, settings: MonitoringSettings | None = None) -> Monitoring:
        """Each standalone volume's IOPS, throughput and queue length against what it provisions
        (hpc_constructs.monitoring).

        Alarms, in `scope`, per standalone volume that is not Multi-Attach: VolumeIOPSExceededCheck and
        VolumeThroughputExceededCheck at 1 (the application consistently asked for more than the volume provisions)
        for 5 minutes in a row. Per-node volumes have no volume ID at synth: not watched (a note says so).
        """
        from aws_cdk import Duration
        from aws_cdk import aws_cloudwatch as cloudwatch

        from hpc_constructs import dashboard_plan as dp
        from hpc_constructs.monitoring import graph, metric, watch

        owner = self._owner.node.path
        minute, five = Duration.minutes(1), Duration.minutes(5)
        result = Monitoring(title=f"{owner} (EBS volumes)")
        for spec, figures, volume in self._standalone:
            vol = {"VolumeId": volume.ref}
            name = figures.name
            ops = cloudwatch.MathExpression(
                expression="(reads + writes) / PERIOD(reads)", period=five, label="IOPS",
                using_metrics={"reads": metric("AWS/EBS", "VolumeReadOps", vol, "Sum", five),
                               "writes": metric("AWS/EBS", "VolumeWriteOps", vol, "Sum", five)})
            mibps = cloudwatch.MathExpression(
                expression=f"(reads + writes) / PERIOD(reads) / {dp.MIB}", period=five, label="MiB/s",
                using_metrics={"reads": metric("AWS/EBS", "VolumeReadBytes", vol, "Sum", five),
                               "writes": metric("AWS/EBS", "VolumeWriteBytes", vol, "Sum", five)})
            queue = metric("AWS/EBS", "VolumeQueueLength", vol, "Average", minute, "queue length")
            provisioned = {"provisioned": float(figures.iops)} if figures.iops is not None else {}
            result.widgets += [
                graph(f"EBS {name}: IOPS", [ops], unit="IOPS", lines=provisioned),
                graph(f"EBS {name}: throughput", [mibps], unit="MiB/s",
                      lines={figures.throughput_basis: figures.throughput_mibps}),
                graph(f"EBS {name}: queue length", [queue], unit="requests"),
            ]
            if spec.multi_attach:
                result.notes.append(f"EBS {name}: Multi-Attach, for which EBS publishes no Exceeded checks; graphs "
                                    "only.")
                continue
            figure = dp.ebs_figure(figures.iops, figures.throughput_mibps)
            for kind, words, why in (("IOPS", "IOPS", dp.WHY_EBS_IOPS),
                                     ("Throughput", "throughput", dp.WHY_EBS_THROUGHPUT)):
                check = metric("AWS/EBS", f"Volume{kind}ExceededCheck", vol, "Maximum", minute, f"{words} exceeded")
                result.alarms.append(watch(
                    scope, f"Ebs{_id_part(name)}{kind}Exceeded",
                    what=f"{owner}: EBS volume {name} asked for more {words} than it provisions",
                    metric_=check, threshold=1,
                    comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                    periods=dp.EBS_EXCEEDED_MINUTES,
                    condition=f"1 (exceeded; it provisions {figure}) for {dp.EBS_EXCEEDED_MINUTES} minutes",
                    why=why))
        for _, figures in self._per_node:
            result.notes.append(f"EBS {figures.name}: a volume per node, from the launch template; its volume IDs are "
                                "not known at synth, so CloudWatch's AWS/EBS metrics cannot be named here.")
        return result


def _id_part(name: str) -> str:
    """A volume name as part of a construct id: project-data -> ProjectData."""
    return "".join(word.capitalize() for word in name.split("-"))


def volume_figure(figures: EbsFigures) -> str:
    return (f"{figures.volume_type} {figures.size_gib:,} GiB, "
            f"{f'{figures.iops:,} IOPS' if figures.iops is not None else 'HDD'}, "
            f"{figures.throughput_mibps:,.0f} MiB/s ({figures.throughput_basis})")
