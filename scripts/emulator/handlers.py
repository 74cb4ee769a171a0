"""CloudFormation handlers for the resource types stock moto cannot create, or creates wrongly.

Each handler does what CloudFormation's own handler does with the same properties, through moto's backends
where moto models the service (EC2, FSx, DataSync, S3, SNS, SQS, Secrets Manager, ELBv2) and through
`state.Store` where it does not (placement groups, Direct Connect gateways and associations, FSx data
repository associations, AWS Parallel Computing Service). No handler checks a value: the constructs' rules decide
what is valid. A handler only fails where AWS would find that something it names does not exist.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import string
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.core.common_models import CloudFormationModel
from moto.datasync.models import datasync_backends
from moto.ec2.models import ec2_backends
from moto.elbv2.models import elbv2_backends
from moto.fsx.models import fsx_backends
from moto.route53.models import route53_backends
from moto.s3.models import s3_backends
from moto.scheduler.models import scheduler_backends
from moto.secretsmanager.models import secretsmanager_backends
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends
from moto.ssm.models import ssm_backends

from scripts.emulator.state import store

# Custom resources whose Lambda the emulator cannot run (no Docker): their documented effect is done
# instead, and recorded here so that the read-back can say so.
SIMULATED: list[dict[str, str]] = []
JOURNAL: list[Path] = []  # where the server also writes SIMULATED, for the read-back in another process


def record_simulated(resource: str, effect: str) -> None:
    entry = {"resource": resource, "effect": effect}
    if entry not in SIMULATED:
        SIMULATED.append(entry)
    for path in JOURNAL:
        path.write_text(json.dumps(SIMULATED, indent=1))


def _random_id(prefix: str, length: int = 17) -> str:
    return prefix + "".join(secrets.choice("0123456789abcdef") for _ in range(length))


def _tags(props: dict[str, Any]) -> list[dict[str, str]]:
    return [{"Key": t["Key"], "Value": t["Value"]} for t in props.get("Tags", [])]


class Emulated(CloudFormationModel):
    """A resource the emulator created: its physical ID (what Ref returns), attributes and a delete action."""

    TYPE: ClassVar[str] = ""
    ATTRIBUTES: ClassVar[tuple[str, ...]] = ()

    def __init__(self, physical_id: str, attributes: dict[str, Any] | None = None,
                 on_delete: Callable[[], None] | None = None) -> None:
        self.physical_id = physical_id
        self.attributes = attributes or {}
        self._on_delete = on_delete

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def cloudformation_type(cls) -> str:  # type: ignore[override]
        return cls.TYPE

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name not in self.attributes:
            raise UnformattedGetAttTemplateException()
        return self.attributes[attribute_name]

    def is_created(self) -> bool:
        return True

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
        **kwargs: Any,
    ) -> Emulated:
        return cls.create(resource_name, cloudformation_json.get("Properties", {}), account_id, region_name,
                          kwargs)

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region_name: str,
               context: dict[str, Any]) -> Emulated:
        raise NotImplementedError

    @classmethod
    def update_from_cloudformation_json(cls, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        raise NotImplementedError("the local emulator creates stacks; it does not update them")

    @classmethod
    def delete_from_cloudformation_json(cls, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        return None

    def delete(self, account_id: str, region_name: str) -> None:
        if self._on_delete is not None:
            self._on_delete()


class CdkMetadata(Emulated):
    """CDK's version-reporting resource: CloudFormation stores it and does nothing."""

    TYPE = "AWS::CDK::Metadata"

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region_name: str,
               context: dict[str, Any]) -> Emulated:
        return cls(context.get("LogicalId", name))


class PlacementGroup(Emulated):
    TYPE = "AWS::EC2::PlacementGroup"
    ATTRIBUTES = ("GroupName",)

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region_name: str,
               context: dict[str, Any]) -> Emulated:
        group_name = props.get("GroupName") or name
        groups = store(account_id, region_name).placement_groups
        groups[group_name] = {
            "GroupName": group_name, "GroupId": _random_id("pg-"), "State": "available",
            "Strategy": props.get("Strategy", "cluster"), "PartitionCount": props.get("PartitionCount"),
            "SpreadLevel": props.get("SpreadLevel"), "Tags": _tags(props),
        }
        return cls(group_name, {"GroupName": group_name}, lambda: groups.pop(group_name, None))


class NetworkAcl(Emulated):
    TYPE = "AWS::EC2::NetworkAcl"
    ATTRIBUTES = ("Id",)

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region_name: str,
               context: dict[str, Any]) -> Emulated:
        ec2 = ec2_backends[account_id][region_name]
        acl = ec2.create_network_acl(props["VpcId"], tags=_tags(props))
        return cls(acl.id, {"Id": acl.id}, lambda: ec2.delete_network_acl(acl.id))


class NetworkAclEntry(Emulated):
    TYPE = "AWS::EC2::NetworkAclEntry"
    ATTRIBUTES = ("Id",)

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region_name: str,
               context: dict[str, Any]) -> Emulated:
        ec2 = ec2_backends[account_id][region_name]
        icmp, ports = props.get("Icmp", {}), props.get("PortRange", {})
        egress = bool(props.get("Egress", False))
        acl_id, number = props["NetworkAclId"], int(props["RuleNumber"])
        ec2.create_network_acl_entry(
            acl_id, number, str(props["Protocol"]), props["RuleAction"], egress, props.get("CidrBlock"),
            icmp.get("Code"), icmp.get("Type"), ports.get("From"), ports.get("To"), props.get("Ipv6CidrBlock"),
        )
        physical = f"{acl_id}|{'egress' if egress else 'ingress'}|{number}"
        return cls(physical, {"Id": physical}, lambda: ec2.delete_network_acl_entry(acl_id, number, egress))


class SubnetNetworkAclAssociation(Emulated):
    """Moves the subnet from its current ACL to this one; on delete, back to the VPC's default ACL."""

    TYPE = "AWS::EC2::SubnetNetworkAclAssociation"
    ATTRIBUTES = ("AssociationId",)

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region_name: str,
               context: dict[str, Any]) -> Emulated:
        ec2 = ec2_backends[account_id][region_name]
        subnet_id = props["SubnetId"]
        current = next(assoc_id for acl in ec2.network_acls.values()
                       for assoc_id, assoc in acl._associations.items() if assoc.subnet_id == subnet_id)
        association = ec2.replace_network_acl_association(current, props["NetworkAclId"])

        def restore() -> None:
            acl = ec2.get_network_acl(props["NetworkAclId"])
            default = next(a for a in ec2.network_acls.values() if a.default and a.vpc_id == acl.vpc_id)
            for assoc_id, assoc in list(acl._associations.items()):
                if assoc.subnet_id == subnet_id:
                    ec2.replace_network_acl_association(assoc_id, default.id)

        return cls(association.id, {"AssociationId": association.id}, restore)


class SecurityGroupEgress(Emulated):
    TYPE = "AWS::EC2::SecurityGroupEgress"
    ATTRIBUTES = ("Id",)

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region_name: str,
               context: dict[str, Any]) -> Emulated:
        ec2 = ec2_backends[account_id][region_name]
        rule: dict[str, Any] = {
            "ip_protocol": str(props["IpProtocol"]), "from_port": props.get("FromPort"),
            "to_port": props.get("ToPort"),
            "ip_ranges": [{"CidrIp": props["CidrIp"], "Description": props.get("Description")}]
            if "CidrIp" in props else [],
            "source_groups": [{"GroupId": props["DestinationSecurityGroupId"]}]
            if "DestinationSecurityGroupId" in props else [],
        }
        if "CidrIpv6" in props:
            rule["ip_ranges"] = [{"CidrIpv6": props["CidrIpv6"], "Description": props.get("Description")}]
        rules, _ = ec2.authorize_security_group_egress(props["GroupId"], **rule)

        def revoke() -> None:
            if props["GroupId"] in {g.id for g in ec2.describe_security_groups()}:
                ec2.revoke_security_group_egress(props["GroupId"], **rule)

        return cls(rules[0].id, {"Id": rules[0].id}, revoke)


class VpnGateway(Emulated):
    """moto's handler has no Fn::GetAtt VPNGatewayId; this one has."""

    TYPE = "AWS::EC2::VPNGateway"
    ATTRIBUTES = ("VPNGatewayId",)

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region_name: str,
               context: dict[str, Any]) -> Emulated:
        ec2 = ec2_backends[account_id][region_name]
        asn = props.get("AmazonSideAsn")
        gateway = ec2.create_vpn_gateway(gateway_type=props.get("Type", "ipsec.1"),
                                         amazon_side_asn=str(asn) if asn is not None else None,
                                         tags={t["Key"]: t["Value"] for t in _tags(props)})
        return cls(gateway.id, {"VPNGatewayId": gateway.id}, lambda: ec2.delete_vpn_gateway(gateway.id))


class VpnGatewayRoutePropagation(Emulated):
    TYPE = "AWS::EC2::VPNGatewayRoutePropagation"

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region_name: str,
               context: dict[str, Any]) -> Emulated:
        ec2 = ec2_backends[account_id][region_name]
        for table in props["RouteTableIds"]:
            ec2.get_route_table(table)  # the tables must exist
        ec2.get_vpn_gateway(props["VpnGatewayId"])  # and so must the gateway
        physical = _random_id("RoutePropagation-", 12)
        propagations = store(account_id, region_name).route_propagations
        propagations[physical] = {"VpnGatewayId": props["VpnGatewayId"], "RouteTableIds": props["RouteTableIds"]}
        return cls(physical, {}, lambda: propagations.pop(physical, None))


class Volume(Emulated):
    """moto's handler drops the volume type, IOPS, throughput and encryption; this one keeps them."""

    TYPE = "AWS::EC2::Volume"
    ATTRIBUTES = ("VolumeId",)

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region_name: str,
               context: dict[str, Any]) -> Emulated:
        ec2 = ec2_backends[account_id][region_name]
        volume = ec2.create_volume(
            size=props.get("Size"), zone_name=props["AvailabilityZone"], snapshot_id=props.get("SnapshotId"),
            encrypted=bool(props.get("Encrypted", False)), kms_key_id=props.get("KmsKeyId"),
            volume_type=props.get("VolumeType", "gp2"), iops=props.get("Iops"), throughput=props.get("Throughput"),
            multi_attach_enabled=props.get("MultiAttachEnabled"),
        )
        for tag in _tags(props):
            volume.add_tag(tag["Key"], tag["Value"])
        return cls(volume.id, {"VolumeId": volume.id}, lambda: ec2.delete_volume(volume.id))


class LoadBalancer(Emulated):
    """moto's handler makes every load balancer an ALB; this one keeps the type, security groups and attributes."""

    TYPE = "AWS::ElasticLoadBalancingV2::LoadBalancer"
    ATTRIBUTES = ("DNSName", "LoadBalancerName", "LoadBalancerFullName", "CanonicalHostedZoneID",
                  "LoadBalancerArn", "SecurityGroups")

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region_name: str,
               context: dict[str, Any]) -> Emulated:
        elbv2 = elbv2_backends[account_id][region_name]
        lb_name = props.get("Name") or name
        balancer = elbv2.create_load_balancer(
            lb_name, props.get("SecurityGroups", []), props.get("Subnets", []),
            subnet_mappings=props.get("SubnetMappings"), scheme=props.get("Scheme", "internet-facing"),
            loadbalancer_type=props.get("Type", "application"), ip_address_type=props.get("IpAddressType", "ipv4"),
            tags=_tags(props),
        )
        if props.get("LoadBalancerAttributes"):
            elbv2.modify_load_balancer_attributes(
                balancer.arn, {a["Key"]: a["Value"] for a in props["LoadBalancerAttributes"]})
        full_name = balancer.arn.split(":loadbalancer/", 1)[1]
        return cls(balancer.arn, {
            "DNSName": balancer.dns_name, "LoadBalancerName": balancer.name, "LoadBalancerFullName": full_name,
            "CanonicalHostedZoneID": "Z26RNL4JYFTOTI", "LoadBalancerArn": balancer.arn,
            "SecurityGroups": list(props.get("SecurityGroups", [])),
        }, lambda: elbv2.delete_load_balancer(balancer.arn))


class FsxFileSystem(Emulated):
    TYPE = "AWS::FSx::FileSystem"
    ATTRIBUTES = ("DNSName", "LustreMountName", "ResourceARN", "RootVolumeId")

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region_name: str,
               context: dict[str, Any]) -> Emulated:
        fsx = fsx_backends[account_id][region_name]
        lustre = props.get("LustreConfiguration")
        system = fsx.create_file_system(
            client_request_token=_random_id("", 12), file_system_type=props["FileSystemType"],
            storage_capacity=props.get("StorageCapacity"), storage_type=props.get("StorageType", "SSD"),
            subnet_ids=props["SubnetIds"], security_group_ids=props.get("SecurityGroupIds", []),
            tags=_tags(props), kms_key_id=props.get("KmsKeyId"),
            windows_configuration=props.get("WindowsConfiguration"),
            lustre_configuration={**(lustre or {}), "MountName": _random_id("", 8)} if lustre else None,
            ontap_configuration=props.get("OntapConfiguration"),
            file_system_type_version=props.get("FileSystemTypeVersion"),
            open_zfs_configuration=props.get("OpenZFSConfiguration"),
        )
        mount_name = (system.lustre_configuration or {}).get("MountName", "")
        return cls(system.file_system_id, {
            "DNSName": system.dns_name, "LustreMountName": mount_name, "ResourceARN": system.resource_arn,
        }, lambda: fsx.delete_file_system(system.file_system_id, None, None, None))


class DataRepositoryAssociation(Emulated):
    TYPE = "AWS::FSx::DataRepositoryAssociation"
    ATTRIBUTES = ("AssociationId", "ResourceARN")

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region_name: str,
               context: dict[str, Any]) -> Emulated:
        fsx_backends[account_id][region_name].describe_file_systems([props["FileSystemId"]])  # must exist
        association_id = _random_id("dra-")
        arn = f"arn:aws:fsx:{region_name}:{account_id}:association/{props['FileSystemId']}/{association_id}"
        associations = store(account_id, region_name).data_repository_associations
        associations[association_id] = {
            "AssociationId": association_id, "ResourceARN": arn, "FileSystemId": props["FileSystemId"],
            "Lifecycle": "AVAILABLE", "FileSystemPath": props["FileSystemPath"],
            "DataRepositoryPath": props["DataRepositoryPath"],
            "BatchImportMetaDataOnCreate": props.get("BatchImportMetaDataOnCreate", False),
            "ImportedFileChunkSize": props.get("ImportedFileChunkSize", 1024), "S3": props.get("S3", {}),
            "Tags": _tags(props),
        }
        return cls(association_id, {"AssociationId": association_id, "ResourceARN": arn},
                   lambda: associations.pop(association_id, None))


class DataSyncLocation(Emulated):
    """LocationS3, LocationNFS, LocationEFS and LocationFSxLustre: moto's DataSync backend keeps them."""

    ATTRIBUTES = ("LocationArn", "LocationUri")
    KIND: ClassVar[str] = ""

    @classmethod
    def uri(cls, props: dict[str, Any]) -> str:
        raise NotImplementedError

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region_name: str,
               context: dict[str, Any]) -> Emulated:
        datasync = datasync_backends[account_id][region_name]
        uri = cls.uri(props)
        metadata = {k: v for k, v in props.items() if k != "Tags"}
        arn = datasync.create_location(uri, cls.KIND, metadata)
        return cls(arn, {"LocationArn": arn, "LocationUri": uri}, lambda: datasync.delete_location(arn))


def _subdirectory(props: dict[str, Any]) -> str:
    sub = str(props.get("Subdirectory", "/"))
    return sub if sub.startswith("/") else "/" + sub


class DataSyncLocationS3(DataSyncLocation):
    TYPE, KIND = "AWS::DataSync::LocationS3", "S3"

    @classmethod
    def uri(cls, props: dict[str, Any]) -> str:
        return f"s3://{props['S3BucketArn'].split(':::', 1)[1]}{_subdirectory(props)}"


class DataSyncLocationNfs(DataSyncLocation):
    TYPE, KIND = "AWS::DataSync::LocationNFS", "NFS"

    @classmethod
    def uri(cls, props: dict[str, Any]) -> str:
        return f"nfs://{props['ServerHostname']}{_subdirectory(props)}"


class DataSyncLocationEfs(DataSyncLocation):
    TYPE, KIND = "AWS::DataSync::LocationEFS", "EFS"

    @classmethod
    def uri(cls, props: dict[str, Any]) -> str:
        return f"efs://{props['EfsFilesystemArn'].rsplit('/', 1)[-1]}{_subdirectory(props)}"


class DataSyncLocationFsxLustre(DataSyncLocation):
    TYPE, KIND = "AWS::DataSync::LocationFSxLustre", "FSX_LUSTRE"

    @classmethod
    def uri(cls, props: dict[str, Any]) -> str:
        return f"fsxl://{props['FsxFilesystemArn'].rsplit('/', 1)[-1]}{_subdirectory(props)}"


class DataSyncTask(Emulated):
    TYPE = "AWS::DataSync::Task"
    ATTRIBUTES = ("TaskArn",)

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region_name: str,
               context: dict[str, Any]) -> Emulated:
        datasync = datasync_backends[account_id][region_name]
        metadata = {k: v for k, v in props.items() if k not in ("Tags", "Name")}
        arn = datasync.create_task(props["SourceLocationArn"], props["DestinationLocationArn"],
                                   props.get("Name", name), metadata)
        return cls(arn, {"TaskArn": arn}, lambda: datasync.delete_task(arn))


class DirectConnectGateway(Emulated):
    TYPE = "AWS::DirectConnect::DirectConnectGateway"
    ATTRIBUTES = ("DirectConnectGatewayId", "DirectConnectGatewayArn")

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region_name: str,
               context: dict[str, Any]) -> Emulated:
        gateway_id = _random_id("", 8) + "-" + _random_id("", 4)
        arn = f"arn:aws:directconnect::{account_id}:dx-gateway/{gateway_id}"
        gateways = store(account_id, region_name).dx_gateways
        gateways[gateway_id] = {
            "directConnectGatewayId": gateway_id, "directConnectGatewayName": props["DirectConnectGatewayName"],
            "amazonSideAsn": int(props.get("AmazonSideAsn", 64512)), "ownerAccount": account_id,
            "directConnectGatewayState": "available",
        }
        return cls(arn, {"DirectConnectGatewayId": gateway_id, "DirectConnectGatewayArn": arn},
                   lambda: gateways.pop(gateway_id, None))


class DirectConnectGatewayAssociation(Emulated):
    TYPE = "AWS::DirectConnect::DirectConnectGatewayAssociation"
    ATTRIBUTES = ("AssociationId",)

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region_name: str,
               context: dict[str, Any]) -> Emulated:
        state = store(account_id, region_name)
        gateway_id = props["DirectConnectGatewayId"]
        if gateway_id not in state.dx_gateways:
            raise KeyError(f"Direct Connect gateway {gateway_id} does not exist")
        association_id = _random_id("", 8) + "-" + _random_id("", 4)
        state.dx_associations[association_id] = {
            "associationId": association_id, "directConnectGatewayId": gateway_id,
            "associatedGateway": {"id": props["AssociatedGatewayId"], "type": "virtualPrivateGateway",
                                  "ownerAccount": account_id, "region": region_name},
            "allowedPrefixesToDirectConnectGateway": [{"cidr": p["Cidr"]} for p in props.get("AllowedPrefixes", [])
                                                      if isinstance(p, dict)],
            "associationState": "associated", "directConnectGatewayOwnerAccount": account_id,
        }
        return cls(association_id, {"AssociationId": association_id},
                   lambda: state.dx_associations.pop(association_id, None))


def _launch_template_groups(account_id: str, region_name: str, resources: dict[str, Any]) -> list[str]:
    spec = resources.get("launchTemplate") or {}
    ec2 = ec2_backends[account_id][region_name]
    template_id = spec.get("LaunchTemplateId") or spec.get("launchTemplateId")
    template_name = spec.get("LaunchTemplateName") or spec.get("launchTemplateName")
    if template_id:
        template = ec2.get_launch_template(template_id)
    elif template_name:
        template = ec2.get_launch_template_by_name(template_name)
    else:
        return []
    data = template.default_version().data
    groups = list(data.get("SecurityGroupIds", []))
    for interface in data.get("NetworkInterfaces", []):
        groups.extend(g for g in interface.get("Groups", []) if g not in groups)
    return groups


class BatchComputeEnvironment(Emulated):
    """moto's handler requires ServiceRole; AWS Batch, given none, uses its service-linked role
    AWSServiceRoleForBatch (created on first use), and minvCpus defaults to 0. This handler does both."""

    TYPE = "AWS::Batch::ComputeEnvironment"
    ATTRIBUTES = ("ComputeEnvironmentArn",)

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region_name: str,
               context: dict[str, Any]) -> Emulated:
        from moto.batch.models import batch_backends
        from moto.batch.utils import lowercase_first_key
        from moto.iam.models import iam_backends

        batch = batch_backends[account_id][region_name]
        role = props.get("ServiceRole")
        if role is None:
            iam = iam_backends[account_id]["aws"]
            existing = next((r for r in iam.roles.values() if r.name.lower() == "awsservicerolefor" "batch"), None)
            role = (existing or iam.create_service_linked_role("batch.amazonaws.com", "", "")).arn
        resources = props.get("ComputeResources")
        if resources is not None:
            resources = lowercase_first_key(resources)
            if "FARGATE" not in resources.get("type", ""):
                resources.setdefault("minvCpus", 0)
                if not resources.get("securityGroupIds"):  # AWS takes them from the launch template
                    resources["securityGroupIds"] = _launch_template_groups(account_id, region_name, resources)
        environment = batch.create_compute_environment(
            props.get("ComputeEnvironmentName") or name, props["Type"], props.get("State", "ENABLED"),
            resources, role, tags=props.get("Tags"),
        )
        return cls(environment.arn, {"ComputeEnvironmentArn": environment.arn},
                   lambda: batch.delete_compute_environment(environment.arn))


class BatchJobDefinition(Emulated):
    """moto's handler registers every job definition as a single-node `container` under a generated name; this
    one keeps the template's type (multinode), name, timeout, platform capabilities and tag propagation."""

    TYPE = "AWS::Batch::JobDefinition"
    ATTRIBUTES = ("JobDefinitionArn",)

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region_name: str,
               context: dict[str, Any]) -> Emulated:
        from moto.batch.models import batch_backends
        from moto.batch.utils import lowercase_first_key

        batch = batch_backends[account_id][region_name]

        def lowered(key: str) -> Any:
            return lowercase_first_key(props[key]) if key in props else None

        definition = batch.register_job_definition(
            def_name=props.get("JobDefinitionName") or name, parameters=props.get("Parameters", {}),
            _type=props["Type"], tags=props.get("Tags", {}), retry_strategy=lowered("RetryStrategy") or {},
            container_properties=lowered("ContainerProperties"), node_properties=lowered("NodeProperties"),
            eks_properties=lowered("EksProperties"), timeout=lowered("Timeout") or {},
            platform_capabilities=props.get("PlatformCapabilities"), propagate_tags=props.get("PropagateTags"),
        )
        return cls(definition.arn, {"JobDefinitionArn": definition.arn},
                   lambda: batch.deregister_job_definition(definition.arn))


class KmsKey(Emulated):
    """moto's handler reads tags as TagKey/TagValue (the KMS API's shape); CloudFormation's are Key/Value."""

    TYPE = "AWS::KMS::Key"
    ATTRIBUTES = ("Arn", "KeyId")

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region_name: str,
               context: dict[str, Any]) -> Emulated:
        from moto.kms.models import kms_backends

        kms = kms_backends[account_id][region_name]
        policy = props.get("KeyPolicy")
        key = kms.create_key(
            policy=json.dumps(policy) if isinstance(policy, dict) else policy,
            key_usage=props.get("KeyUsage", "ENCRYPT_DECRYPT"), key_spec=props.get("KeySpec", "SYMMETRIC_DEFAULT"),
            description=props.get("Description", ""),
            tags=[{"TagKey": t["Key"], "TagValue": t["Value"]} for t in _tags(props)],
            multi_region=bool(props.get("MultiRegion", False)),
        )
        if props.get("EnableKeyRotation"):
            kms.enable_key_rotation(key.id)
        window = int(props.get("PendingWindowInDays", 30))
        return cls(key.id, {"Arn": key.arn, "KeyId": key.id},
                   lambda: kms.schedule_key_deletion(key.id, window))


class BucketPolicy(Emulated):
    TYPE = "AWS::S3::BucketPolicy"

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region_name: str,
               context: dict[str, Any]) -> Emulated:
        s3 = s3_backends[account_id]["aws"]
        bucket = props["Bucket"]
        s3.put_bucket_policy(bucket, json.dumps(props["PolicyDocument"]).encode())

        def remove() -> None:
            if bucket in s3.buckets:
                s3.delete_bucket_policy(bucket)

        return cls(bucket, {}, remove)


class TopicPolicy(Emulated):
    TYPE = "AWS::SNS::TopicPolicy"
    ATTRIBUTES = ("Id",)

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region_name: str,
               context: dict[str, Any]) -> Emulated:
        sns = sns_backends[account_id][region_name]
        for topic in props["Topics"]:
            sns.set_topic_attribute(topic, "Policy", json.dumps(props["PolicyDocument"]))
        physical = _random_id("TopicPolicy-", 12)
        return cls(physical, {"Id": physical})


class Subscription(Emulated):
    TYPE = "AWS::SNS::Subscription"
    ATTRIBUTES = ("Arn",)

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region_name: str,
               context: dict[str, Any]) -> Emulated:
        sns = sns_backends[account_id][region_name]
        subscription = sns.subscribe(props["TopicArn"], props["Endpoint"], props["Protocol"])
        for key in ("RawMessageDelivery", "FilterPolicy", "RedrivePolicy", "FilterPolicyScope"):
            if key in props:
                value = props[key]
                if isinstance(value, dict):
                    text = json.dumps(value)
                elif isinstance(value, bool):
                    text = str(value).lower()
                else:
                    text = str(value)
                sns.set_subscription_attributes(subscription.arn, key, text)
        return cls(subscription.arn, {"Arn": subscription.arn}, lambda: sns.unsubscribe(subscription.arn))


class QueuePolicy(Emulated):
    TYPE = "AWS::SQS::QueuePolicy"
    ATTRIBUTES = ("Id",)

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region_name: str,
               context: dict[str, Any]) -> Emulated:
        sqs = sqs_backends[account_id][region_name]
        for url in props["Queues"]:
            sqs.set_queue_attributes(url.rsplit("/", 1)[-1], {"Policy": json.dumps(props["PolicyDocument"])})
        physical = _random_id("QueuePolicy-", 12)
        return cls(physical, {"Id": physical})


class Secret(Emulated):
    TYPE = "AWS::SecretsManager::Secret"
    ATTRIBUTES = ("Id",)

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region_name: str,
               context: dict[str, Any]) -> Emulated:
        backend = secretsmanager_backends[account_id][region_name]
        secret_string = props.get("SecretString")
        generate = props.get("GenerateSecretString")
        if secret_string is None and generate is not None:  # what CloudFormation generates by default
            length = int(generate.get("PasswordLength", 32))
            secret_string = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(length))
            if "SecretStringTemplate" in generate:
                body = json.loads(generate["SecretStringTemplate"])
                body[generate["GenerateStringKey"]] = secret_string
                secret_string = json.dumps(body)
        secret_name = props.get("Name") or name
        created = backend.create_secret(
            name=secret_name, secret_string=secret_string, secret_binary=None,
            description=props.get("Description"), tags=_tags(props), kms_key_id=props.get("KmsKeyId"),
            client_request_token=None, replica_regions=[], force_overwrite=False,
        )
        arn = json.loads(created)["ARN"] if isinstance(created, str) else created["ARN"]
        return cls(arn, {"Id": arn}, lambda: backend.delete_secret(arn, None, True))


class SecretResourcePolicy(Emulated):
    """AWS::SecretsManager::ResourcePolicy: the policy put on the secret (moto's CloudFormation has no model)."""

    TYPE = "AWS::SecretsManager::ResourcePolicy"
    ATTRIBUTES = ("Id",)

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region_name: str,
               context: dict[str, Any]) -> Emulated:
        backend = secretsmanager_backends[account_id][region_name]
        secret = props["SecretId"]
        policy = props["ResourcePolicy"]
        backend.put_resource_policy(secret, policy if isinstance(policy, str) else json.dumps(policy))

        def remove() -> None:
            with contextlib.suppress(Exception):  # the secret went first: its policy with it
                backend.delete_resource_policy(secret)

        return cls(secret, {"Id": secret}, remove)


class SsmParameter(Emulated):
    """AWS::SSM::Parameter with or without a Name: CloudFormation generates one when the template gives none
    (CFN-<logical ID>-<suffix>), which moto's own model does not."""

    TYPE = "AWS::SSM::Parameter"
    ATTRIBUTES = ("Type", "Value")

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region_name: str,
               context: dict[str, Any]) -> Emulated:
        backend = ssm_backends[account_id][region_name]
        parameter_name = props.get("Name") or f"CFN-{context.get('LogicalId', name)}-{_random_id('', 12)}"
        backend.put_parameter(
            name=parameter_name, description=props.get("Description", ""), value=props["Value"],
            parameter_type=props["Type"], allowed_pattern=props.get("AllowedPattern", ""), keyid="",
            overwrite=False, tags=[{"Key": k, "Value": v} for k, v in (props.get("Tags") or {}).items()],
            data_type=props.get("DataType", "text"), tier=props.get("Tier"),
            policies=props.get("Policies"))
        return cls(parameter_name, {"Type": props["Type"], "Value": props["Value"]},
                   lambda: backend.delete_parameter(parameter_name))

class HostedZone(Emulated):
    """moto's handler names the zone after its logical ID and makes it public; this one keeps its Name and makes it
    private to the VPCs the template gives (a private zone needs one at creation)."""

    TYPE = "AWS::Route53::HostedZone"
    ATTRIBUTES = ("Id", "NameServers")

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region_name: str,
               context: dict[str, Any]) -> Emulated:
        backend = route53_backends[account_id]["aws"]
        vpcs = props.get("VPCs", [])
        zone = backend.create_hosted_zone(
            props["Name"], private_zone=bool(vpcs), caller_reference=_random_id("cfn-", 12),
            vpcid=vpcs[0]["VPCId"] if vpcs else None, vpcregion=vpcs[0]["VPCRegion"] if vpcs else None,
            comment=props.get("HostedZoneConfig", {}).get("Comment"))
        for vpc in vpcs[1:]:
            backend.associate_vpc_with_hosted_zone(zone.resource_id, vpc["VPCId"], vpc["VPCRegion"])
        return cls(zone.resource_id, {"Id": zone.resource_id, "NameServers": []},
                   lambda: backend.delete_hosted_zone(zone.resource_id))

class Schedule(Emulated):
    """AWS::Scheduler::Schedule, which moto's EventBridge Scheduler has no CloudFormation handler for. The schedule
    is stored; nothing runs it (the emulator has no clock-driven targets)."""

    TYPE = "AWS::Scheduler::Schedule"
    ATTRIBUTES = ("Arn",)

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region_name: str,
               context: dict[str, Any]) -> Emulated:
        backend = scheduler_backends[account_id][region_name]
        schedule_name = props.get("Name") or context.get("LogicalId", name)
        group = props.get("GroupName")
        schedule = backend.create_schedule(
            description=props.get("Description", ""), end_date=props.get("EndDate"),
            flexible_time_window=props["FlexibleTimeWindow"], group_name=group, kms_key_arn=props.get("KmsKeyArn"),
            name=schedule_name, schedule_expression=props["ScheduleExpression"],
            schedule_expression_timezone=props.get("ScheduleExpressionTimezone"), start_date=props.get("StartDate"),
            state=props.get("State", "ENABLED"), target=props["Target"], action_after_completion=None)
        return cls(schedule_name, {"Arn": schedule.arn}, lambda: backend.delete_schedule(group, schedule_name))


class RestrictDefaultSecurityGroup(Emulated):
    """CDK's Custom::VpcRestrictDefaultSG runs a Lambda function (Docker in moto). Its documented effect, done
    here: on create, revoke the default security group's self-referencing ingress rule and its allow-all egress
    rule; on delete, put both back."""

    TYPE = "Custom::VpcRestrictDefaultSG"

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region_name: str,
               context: dict[str, Any]) -> Emulated:
        ec2 = ec2_backends[account_id][region_name]
        group_id = props["DefaultSecurityGroupId"]
        ingress = {"ip_protocol": "-1", "from_port": None, "to_port": None, "ip_ranges": [],
                   "source_groups": [{"GroupId": group_id, "UserId": props.get("Account", account_id)}]}
        egress = {"ip_protocol": "-1", "from_port": None, "to_port": None,
                  "ip_ranges": [{"CidrIp": "0.0.0.0/0"}]}
        for revoke, rule in ((ec2.revoke_security_group_egress, egress), (ec2.revoke_security_group_ingress, ingress)):
            try:
                revoke(group_id, **rule)
            except Exception as error:  # CDK's handler ignores InvalidPermission.NotFound, and so does this
                if "InvalidPermission.NotFound" not in repr(error) and "NotFound" not in type(error).__name__:
                    raise
        record_simulated(f"{context.get('LogicalId', name)} ({cls.TYPE})",
                         f"revoked the default security group {group_id}'s ingress and egress rules "
                         "(CDK's Lambda handler, not run: moto would need Docker)")

        def restore() -> None:
            if group_id in {g.id for g in ec2.describe_security_groups()}:
                ec2.authorize_security_group_ingress(group_id, **ingress)
                ec2.authorize_security_group_egress(group_id, **egress)

        return cls(_random_id("restrict-default-sg-", 8), {}, restore)


class IamPropagationWait(Emulated):
    """hpc-constructs' Custom::HpcIamPropagationWait runs a Lambda function that sleeps (Docker in moto). Its
    effect is time for IAM to propagate, which the emulator's IAM does not need: nothing to do but record it."""

    TYPE = "Custom::HpcIamPropagationWait"

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region_name: str,
               context: dict[str, Any]) -> Emulated:
        roles = len(props.get("RoleArns", []))
        record_simulated(f"{context.get('LogicalId', name)} ({cls.TYPE})",
                         f"waited 0 s of {props.get('Seconds')} s for IAM to propagate {roles} "
                         "role(s) (the emulator's IAM is consistent at once; the Lambda function is not run)")
        return cls(_random_id("iam-wait-", 8), {}, lambda: None)


# --- AWS Parallel Computing Service: moto has none. The records live in `state.Store`, in the PCS API's shape, and
# api.py serves them to boto3's `pcs` client. Ref returns the ARN (the types' primaryIdentifier, as CDK's
# `clusterRef.clusterArn` assumes); the IDs that other resources name come from Fn::GetAtt Id.

class PcsNotFoundError(LookupError):
    """What PCS answers (ResourceNotFoundException) when a request names something that does not exist."""


class PcsConflictError(Exception):
    """What PCS answers (ConflictException) when a cluster that still has node groups or queues is deleted."""


def _pcs_id() -> str:
    return "pcs_" + "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(10))


def _pcs_arn(region_name: str, account_id: str, kind: str, *ids: str) -> str:
    return f"arn:aws:pcs:{region_name}:{account_id}:{kind}/{'/'.join(ids)}"


def _api_shape(value: Any) -> Any:
    """CloudFormation's PascalCase properties as the PCS API's camelCase members, so that a record is stored once,
    in the shape that GetCluster and the like return."""
    if isinstance(value, dict):
        return {key[:1].lower() + key[1:]: _api_shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_api_shape(item) for item in value]
    return value


def _pcs_record(name: str, pcs_id: str, arn: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"name": name, "id": pcs_id, "arn": arn, "status": "ACTIVE", "createdAt": now, "modifiedAt": now,
            "errorInfo": []}


def pcs_cluster(account_id: str, region_name: str, identifier: str) -> dict[str, Any]:
    """The cluster a ClusterId names. PCS takes the cluster's ID or name; an ARN (what Ref returns) is not one."""
    for cluster in store(account_id, region_name).pcs_clusters.values():
        if identifier in (cluster["id"], cluster["name"]):
            return cluster
    hint = " (that is an ARN, what Ref returns: use Fn::GetAtt Id)" if identifier.startswith("arn:") else ""
    raise PcsNotFoundError(f"PCS cluster {identifier} does not exist{hint}")


def _cluster_endpoints(ip: str, slurm: dict[str, Any]) -> list[dict[str, str]]:
    """slurmctld always; slurmrestd and slurmdbd when the Slurm configuration turns them on."""
    endpoints = [{"Type": "SLURMCTLD", "PrivateIpAddress": ip, "Port": "6817"}]
    if slurm.get("SlurmRest", {}).get("Mode") == "STANDARD":
        endpoints.append({"Type": "SLURMRESTD", "PrivateIpAddress": ip, "Port": "6820"})
    if slurm.get("Accounting", {}).get("Mode") == "STANDARD":
        endpoints.append({"Type": "SLURMDBD", "PrivateIpAddress": ip, "Port": "6819"})
    return endpoints


class PcsCluster(Emulated):
    """The controller's network interface is created in the cluster's subnet, as PCS creates it, so that the
    endpoints have an address from the subnet and the subnet and security groups are in use while it exists."""

    TYPE = "AWS::PCS::Cluster"
    ATTRIBUTES = ("Id", "Arn", "Status", "Endpoints", "ErrorInfo", "Name")

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region_name: str,
               context: dict[str, Any]) -> Emulated:
        ec2 = ec2_backends[account_id][region_name]
        networking = props["Networking"]
        subnet = ec2.get_subnet(networking["SubnetIds"][0])  # must exist
        groups = list(networking.get("SecurityGroupIds", []))
        if groups:
            ec2.describe_security_groups(group_ids=groups)  # must exist (moto's ENI would invent them)
        cluster_id, cluster_name = _pcs_id(), props.get("Name") or name
        eni = ec2.create_network_interface(subnet, [], group_ids=groups or None,
                                           description=f"AWS PCS cluster {cluster_id}")
        endpoints = _cluster_endpoints(str(eni.private_ip_address), props.get("SlurmConfiguration", {}))
        arn = _pcs_arn(region_name, account_id, "cluster", cluster_id)
        state = store(account_id, region_name)
        state.pcs_clusters[cluster_id] = {
            **_pcs_record(cluster_name, cluster_id, arn), "scheduler": _api_shape(props["Scheduler"]),
            "size": props["Size"], "slurmConfiguration": _api_shape(props.get("SlurmConfiguration", {})),
            "networking": _api_shape(networking), "endpoints": _api_shape(endpoints),
        }

        def delete() -> None:
            members = [r["name"] for r in (*state.pcs_node_groups.values(), *state.pcs_queues.values())
                       if r["clusterId"] == cluster_id]
            if members:
                raise PcsConflictError(f"PCS cluster {cluster_id} still has compute node groups or queues: "
                                       f"{', '.join(sorted(members))}")
            if eni.id in ec2.enis:
                ec2.delete_network_interface(eni.id)
            state.pcs_clusters.pop(cluster_id, None)

        return cls(arn, {"Id": cluster_id, "Arn": arn, "Status": "ACTIVE", "Endpoints": endpoints, "ErrorInfo": [],
                         "Name": cluster_name}, delete)


def _check_node_group_references(account_id: str, region_name: str, props: dict[str, Any]) -> None:
    """What PCS looks up when it creates a node group: its subnets, launch template and instance profile."""
    from moto.iam.models import iam_backends

    ec2 = ec2_backends[account_id][region_name]
    for subnet_id in props["SubnetIds"]:
        ec2.get_subnet(subnet_id)
    template_id = props.get("CustomLaunchTemplate", {}).get("TemplateId")
    if template_id:
        ec2.get_launch_template(template_id)
    iam_backends[account_id]["aws"].get_instance_profile_by_arn(props["IamInstanceProfileArn"])


class PcsComputeNodeGroup(Emulated):
    TYPE = "AWS::PCS::ComputeNodeGroup"
    ATTRIBUTES = ("Id", "Arn", "Status", "ErrorInfo")

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region_name: str,
               context: dict[str, Any]) -> Emulated:
        cluster = pcs_cluster(account_id, region_name, props["ClusterId"])
        _check_node_group_references(account_id, region_name, props)
        group_id = _pcs_id()
        arn = _pcs_arn(region_name, account_id, "computenodegroup", cluster["id"], group_id)
        groups = store(account_id, region_name).pcs_node_groups
        groups[group_id] = {**_pcs_record(props.get("Name") or name, group_id, arn), "clusterId": cluster["id"],
                            **cls.api_members(props)}
        return cls(arn, {"Id": group_id, "Arn": arn, "Status": "ACTIVE", "ErrorInfo": []},
                   lambda: groups.pop(group_id, None))

    @staticmethod
    def api_members(props: dict[str, Any]) -> dict[str, Any]:
        """The properties as GetComputeNodeGroup returns them: the API calls the template's TemplateId `id`, and
        reports the default purchase option (ONDEMAND) when the template gives none."""
        members: dict[str, Any] = _api_shape({key: value for key, value in props.items()
                                              if key not in ("ClusterId", "Name", "Tags", "CustomLaunchTemplate")})
        members.setdefault("purchaseOption", "ONDEMAND")
        template = props.get("CustomLaunchTemplate")
        if template:
            members["customLaunchTemplate"] = {"id": template.get("TemplateId"), "version": template.get("Version")}
        return members


class PcsQueue(Emulated):
    TYPE = "AWS::PCS::Queue"
    ATTRIBUTES = ("Id", "Arn", "Status", "ErrorInfo")

    @classmethod
    def create(cls, name: str, props: dict[str, Any], account_id: str, region_name: str,
               context: dict[str, Any]) -> Emulated:
        cluster = pcs_cluster(account_id, region_name, props["ClusterId"])
        state = store(account_id, region_name)
        configurations = props.get("ComputeNodeGroupConfigurations", [])
        for configuration in configurations:
            group = state.pcs_node_groups.get(configuration.get("ComputeNodeGroupId", ""))
            if group is None or group["clusterId"] != cluster["id"]:
                raise PcsNotFoundError(f"PCS compute node group {configuration.get('ComputeNodeGroupId')} does not "
                                       f"exist in cluster {cluster['id']} (a queue names node groups by ID)")
        queue_id = _pcs_id()
        arn = _pcs_arn(region_name, account_id, "queue", cluster["id"], queue_id)
        state.pcs_queues[queue_id] = {
            **_pcs_record(props.get("Name") or name, queue_id, arn), "clusterId": cluster["id"],
            "computeNodeGroupConfigurations": _api_shape(configurations),
            **({"slurmConfiguration": _api_shape(props["SlurmConfiguration"])} if "SlurmConfiguration" in props
               else {}),
        }
        return cls(arn, {"Id": queue_id, "Arn": arn, "Status": "ACTIVE", "ErrorInfo": []},
                   lambda: state.pcs_queues.pop(queue_id, None))


HANDLERS: dict[str, type[Emulated]] = {
    handler.TYPE: handler
    for handler in (
        CdkMetadata, PlacementGroup, NetworkAcl, NetworkAclEntry, SubnetNetworkAclAssociation, SecurityGroupEgress,
        VpnGateway, VpnGatewayRoutePropagation, Volume, LoadBalancer, FsxFileSystem, DataRepositoryAssociation,
        DataSyncLocationS3, DataSyncLocationNfs, DataSyncLocationEfs, DataSyncLocationFsxLustre, DataSyncTask,
        DirectConnectGateway, DirectConnectGatewayAssociation, BatchComputeEnvironment, BatchJobDefinition, KmsKey,
        BucketPolicy, TopicPolicy, Subscription, QueuePolicy, Secret, SecretResourcePolicy, SsmParameter,
        RestrictDefaultSecurityGroup, IamPropagationWait, HostedZone, Schedule,
        PcsCluster, PcsComputeNodeGroup, PcsQueue,
    )
}


def _ec2(account_id: str, region_name: str) -> Any:
    return ec2_backends[account_id][region_name]


def _delete_route_association(account_id: str, region_name: str, instance: Any) -> None:
    ec2 = _ec2(account_id, region_name)
    table = ec2.get_route_table(instance.route_table_id)
    for association_id, subnet_id in list(table._associations.items()):
        if subnet_id == instance.subnet_id:
            ec2.disassociate_route_table(association_id)


def _delete_nat_gateway(account_id: str, region_name: str, instance: Any) -> None:
    ec2 = _ec2(account_id, region_name)
    ec2.delete_nat_gateway(instance.id)  # moto keeps it, in state "deleted", as AWS does for a while
    eni = getattr(instance, "_eni", None)
    if eni is not None and eni.id in ec2.enis:
        ec2.delete_network_interface(eni.id)


def _detach_gateway(account_id: str, region_name: str, instance: Any) -> None:
    ec2 = _ec2(account_id, region_name)
    if instance.gateway_id and instance.gateway_id.startswith("igw-"):
        ec2.detach_internet_gateway(instance.gateway_id, instance.vpc_id)
        return
    for gateway in ec2.vpn_gateways.values():  # moto's VPN attachment does not record its gateway
        attachment = gateway.attachments.get(instance.vpc_id)
        if attachment is not None and attachment.state == "attached":
            ec2.detach_vpn_gateway(gateway.id, instance.vpc_id)


def _delete_vpc_endpoint(account_id: str, region_name: str, instance: Any) -> None:
    ec2 = _ec2(account_id, region_name)
    ec2.delete_vpc_endpoints([instance.id])
    ec2.vpc_end_points.pop(instance.id, None)  # moto keeps it, "deleted", and then refuses to delete the VPC


def _delete_vpc(account_id: str, region_name: str, instance: Any) -> None:
    ec2 = _ec2(account_id, region_name)
    ec2.delete_vpc(instance.id)
    for acl_id, acl in list(ec2.network_acls.items()):  # AWS deletes the default ACL with its VPC; moto keeps it
        if acl.vpc_id == instance.id:
            ec2.network_acls.pop(acl_id)


def _delete_auto_scaling_group(account_id: str, region_name: str, instance: Any) -> None:
    """Terminates the group's instances, and deletes their primary interfaces as EC2 does (moto keeps them)."""
    from moto.autoscaling.models import autoscaling_backends

    ec2 = _ec2(account_id, region_name)
    instance_ids = {state.instance.id for state in instance.instance_states}
    autoscaling_backends[account_id][region_name].delete_auto_scaling_group(instance.name)
    for eni_id, eni in list(ec2.enis.items()):
        if getattr(eni, "instance", None) is not None and eni.instance.id in instance_ids:
            ec2.enis.pop(eni_id)


def _delete_target_group(account_id: str, region_name: str, instance: Any) -> None:
    elbv2_backends[account_id][region_name].delete_target_group(instance.arn)


def _delete_job_queue(account_id: str, region_name: str, instance: Any) -> None:
    from moto.batch.models import batch_backends

    batch_backends[account_id][region_name].delete_job_queue(instance.arn)


def _run(ec2_call: Callable[[Any, Any], Any]) -> Callable[[str, str, Any], Any]:
    return lambda account_id, region_name, instance: ec2_call(_ec2(account_id, region_name), instance)


# Deletions stock moto's CloudFormation skips or leaves half done (teardown leaks): type -> what DeleteStack
# does on AWS.
DELETERS: dict[str, Callable[[str, str, Any], Any]] = {
    "AWS::EC2::Route": _run(lambda ec2, r: ec2.delete_route(r.route_table.id, r.destination_cidr_block)),
    "AWS::EC2::SubnetRouteTableAssociation": _delete_route_association,
    "AWS::EC2::RouteTable": _run(lambda ec2, r: ec2.delete_route_table(r.id)),
    "AWS::EC2::NatGateway": _delete_nat_gateway,
    "AWS::EC2::EIP": _run(lambda ec2, r: ec2.release_address(allocation_id=r.allocation_id)),
    "AWS::EC2::VPCGatewayAttachment": _detach_gateway,
    "AWS::EC2::InternetGateway": _run(lambda ec2, r: ec2.delete_internet_gateway(r.id)),
    "AWS::EC2::VPCEndpoint": _delete_vpc_endpoint,
    "AWS::EC2::FlowLog": _run(lambda ec2, r: ec2.delete_flow_logs([r.id])),
    "AWS::EC2::VPC": _delete_vpc,
    "AWS::AutoScaling::AutoScalingGroup": _delete_auto_scaling_group,
    "AWS::ElasticLoadBalancingV2::TargetGroup": _delete_target_group,
    "AWS::Batch::JobQueue": _delete_job_queue,
}


def _efs_attribute(self: Any, name: str) -> Any:
    attributes = {"Arn": self.file_system_arn, "FileSystemId": self.file_system_id}
    if name not in attributes:
        raise UnformattedGetAttTemplateException()
    return attributes[name]


def _job_queue_attribute(self: Any, name: str) -> Any:
    attributes = {"JobQueueArn": self.arn, "JobQueueName": self.name}
    if name not in attributes:
        raise UnformattedGetAttTemplateException()
    return attributes[name]


def _bucket_permission(self: Any, action: str, resource: str) -> Any:
    """moto evaluates a bucket policy's statements without their conditions, so CDK's and our deny-unless-TLS
    statements (aws:SecureTransport false) deny every request to the emulator's plain-HTTP endpoint. Statements
    with a condition are left to AWS: moto cannot evaluate them."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    if self.policy is None:
        return PermissionResult.NEUTRAL
    document = json.loads(self.policy.decode())
    statements = document.get("Statement", [])
    kept = [st for st in (statements if isinstance(statements, list) else [statements]) if "Condition" not in st]
    return IAMPolicy(json.dumps({**document, "Statement": kept})).is_action_permitted(action, resource)


def _group_with_hooks(original: Callable[..., Any]) -> Callable[..., Any]:
    """moto's Auto Scaling group handler ignores LifecycleHookSpecificationList: register each hook, as
    CloudFormation does when it creates the group, so that DescribeLifecycleHooks lists them."""

    def create(cls: Any, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
               region_name: str, **kwargs: Any) -> Any:
        group = original(resource_name, cloudformation_json, account_id, region_name, **kwargs)
        from moto.autoscaling.models import autoscaling_backends

        backend = autoscaling_backends[account_id][region_name]
        for hook in cloudformation_json["Properties"].get("LifecycleHookSpecificationList", []):
            backend.create_lifecycle_hook(
                name=hook["LifecycleHookName"], as_name=group.name, transition=hook["LifecycleTransition"],
                timeout=int(hook.get("HeartbeatTimeout", 3600)), result=hook.get("DefaultResult", "ABANDON"))
        return group

    return create


def install_attributes() -> None:
    """Fn::GetAtt attributes that moto's own models lack, its bucket-policy evaluation (above), and the lifecycle
    hooks of an Auto Scaling group's own definition."""
    from moto.autoscaling.models import FakeAutoScalingGroup
    from moto.batch.models import JobQueue

    FakeAutoScalingGroup.create_from_cloudformation_json = classmethod(  # type: ignore[method-assign,assignment]
        _group_with_hooks(FakeAutoScalingGroup.create_from_cloudformation_json))
    from moto.efs.models import FileSystem as EfsFileSystem
    from moto.s3.models import FakeBucket

    FakeBucket.get_permission = _bucket_permission  # type: ignore[method-assign]
    EfsFileSystem.get_cfn_attribute = _efs_attribute  # type: ignore[method-assign]
    EfsFileSystem.has_cfn_attr = classmethod(lambda cls, attr: attr in ("Arn", "FileSystemId"))  # type: ignore
    JobQueue.get_cfn_attribute = _job_queue_attribute  # type: ignore[attr-defined]
    JobQueue.has_cfn_attr = classmethod(lambda cls, attr: attr in ("JobQueueArn", "JobQueueName"))  # type: ignore
