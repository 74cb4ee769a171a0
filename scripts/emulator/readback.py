"""Read a deployed environment back through the service APIs, and list what is left after a destroy.

Works against any endpoint (the local emulator, or AWS with read-only credentials): it only calls Describe*
and List* operations.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import boto3

Row = tuple[str, str, str]  # (what, name, detail)


def clients(endpoint_url: str | None, region: str) -> Callable[[str], Any]:
    session = boto3.session.Session(region_name=region)

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=endpoint_url)  # type: ignore[call-overload]

    return client


def _interfaces(data: dict[str, Any]) -> str:
    cards: dict[int, list[str]] = {}
    for interface in data.get("NetworkInterfaces", []):
        kind = interface.get("InterfaceType", "interface")
        label = {"efa": "EFA", "efa-only": "EFA-only", "interface": "ENA"}.get(kind, kind)
        cards.setdefault(int(interface.get("NetworkCardIndex", 0)), []).append(
            f"{label}@{interface.get('DeviceIndex', 0)}")
    if not cards:
        return "ENA primary interface from the instance type's defaults (no explicit interfaces)"
    efa = sum(label.startswith("EFA") for labels in cards.values() for label in labels)
    shapes = Counter(" + ".join(labels) for card, labels in sorted(cards.items()) if card > 0)
    further = "; ".join(f"{n} cards: {shape}" for shape, n in sorted(shapes.items()))
    return (f"{len(cards)} network cards, {efa} EFA interfaces. card 0: {' + '.join(cards[0])}"
            + (f"; {further}" if further else ""))


def launch_templates(client: Callable[[str], Any]) -> list[Row]:
    ec2 = client("ec2")
    rows = []
    for template in ec2.describe_launch_templates()["LaunchTemplates"]:
        version = ec2.describe_launch_template_versions(
            LaunchTemplateId=template["LaunchTemplateId"], Versions=["$Latest"])["LaunchTemplateVersions"][0]
        data = version["LaunchTemplateData"]
        placement = data.get("Placement", {}).get("GroupName")
        detail = _interfaces(data) + (f"; placement group {placement}" if placement else "")
        rows.append(("launch template", template["LaunchTemplateName"], detail))
    return rows


def placement_groups(client: Callable[[str], Any]) -> list[Row]:
    return [("placement group", g["GroupName"], f"strategy {g['Strategy']}, {g['State']}")
            for g in client("ec2").describe_placement_groups()["PlacementGroups"]]


def file_systems(client: Callable[[str], Any]) -> list[Row]:
    rows = []
    fsx = client("fsx")
    for system in fsx.describe_file_systems()["FileSystems"]:
        lustre = system.get("LustreConfiguration", {})
        throughput = lustre.get("PerUnitStorageThroughput")
        rows.append(("FSx file system", system["FileSystemId"],
                     f"{system['FileSystemType']} {lustre.get('DeploymentType', '')} {system.get('StorageType', '')} "
                     f"{system['StorageCapacity']:,} GiB" + (f", {throughput} MB/s/TiB" if throughput else "")))
    for association in fsx.describe_data_repository_associations()["Associations"]:
        rows.append(("FSx data repository", association["AssociationId"],
                     f"{association['FileSystemId']}:{association['FileSystemPath']} <-> "
                     f"{association['DataRepositoryPath']}"))
    for system in client("efs").describe_file_systems()["FileSystems"]:
        rows.append(("EFS file system", system["FileSystemId"],
                     f"{system.get('ThroughputMode')}, {system.get('PerformanceMode')}, "
                     f"encrypted {system.get('Encrypted')}"))
    return rows


def volumes(client: Callable[[str], Any]) -> list[Row]:
    rows = []
    for volume in client("ec2").describe_volumes()["Volumes"]:
        if volume.get("Attachments"):
            continue  # root volumes of instances
        throughput = volume.get("Throughput")
        rows.append(("EBS volume", volume["VolumeId"],
                     f"{volume['VolumeType']} {volume['Size']:,} GiB, {volume.get('Iops', 0):,} IOPS"
                     + (f", {throughput} MiB/s" if throughput else "") + f", encrypted {volume.get('Encrypted')}, "
                     f"{volume['AvailabilityZone']}"))
    return rows


def batch(client: Callable[[str], Any]) -> list[Row]:
    api = client("batch")
    rows = []
    for env in api.describe_compute_environments()["computeEnvironments"]:
        res = env.get("computeResources", {})
        rows.append(("Batch compute environment", env["computeEnvironmentName"],
                     f"{env['type']} {res.get('type', '')}, {', '.join(res.get('instanceTypes', []))}, "
                     f"{res.get('minvCpus', 0)}-{res.get('maxvCpus', 0)} vCPUs, {env.get('state')}"))
    for queue in api.describe_job_queues()["jobQueues"]:
        order = sorted(queue["computeEnvironmentOrder"], key=lambda o: o["order"])
        names = [o["computeEnvironment"].rsplit("/", 1)[-1] for o in order]
        rows.append(("Batch job queue", queue["jobQueueName"],
                     f"priority {queue['priority']}: {', '.join(names)}"))
    for definition in api.describe_job_definitions(status="ACTIVE")["jobDefinitions"]:
        nodes = definition.get("nodeProperties", {}).get("numNodes")
        rows.append(("Batch job definition", definition["jobDefinitionName"],
                     f"{definition['type']}" + (f", {nodes} nodes" if nodes else "")))
    return rows


def load_balancers(client: Callable[[str], Any]) -> list[Row]:
    elbv2 = client("elbv2")
    rows = []
    for balancer in elbv2.describe_load_balancers()["LoadBalancers"]:
        attributes = {a["Key"]: a["Value"] for a in elbv2.describe_load_balancer_attributes(
            LoadBalancerArn=balancer["LoadBalancerArn"])["Attributes"]}
        rows.append(("load balancer", balancer["LoadBalancerName"],
                     f"{balancer['Type']}, {balancer['Scheme']}, {len(balancer.get('SecurityGroups', []))} security "
                     f"group(s), {len(balancer.get('AvailabilityZones', []))} AZs, cross-zone "
                     f"{attributes.get('load_balancing.cross_zone.enabled', '?')}"))
        for listener in elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]:
            rows.append(("listener", balancer["LoadBalancerName"], f"{listener['Protocol']} {listener['Port']}"))
    for group in client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]:
        rows.append(("auto scaling group", group["AutoScalingGroupName"],
                     f"min {group['MinSize']}, max {group['MaxSize']}, desired {group['DesiredCapacity']}, "
                     f"{len(group.get('TargetGroupARNs', []))} target group(s)"))
    return rows


def data_transfer(client: Callable[[str], Any]) -> list[Row]:
    datasync = client("datasync")
    rows = [("DataSync location", loc["LocationArn"].rsplit("/", 1)[-1], loc["LocationUri"])
            for loc in datasync.list_locations()["Locations"]]
    uris = {loc["LocationArn"]: loc["LocationUri"] for loc in datasync.list_locations()["Locations"]}
    for task in datasync.list_tasks()["Tasks"]:
        info = datasync.describe_task(TaskArn=task["TaskArn"])
        rows.append(("DataSync task", info.get("Name", ""),
                     f"{uris.get(info['SourceLocationArn'], '?')} -> {uris.get(info['DestinationLocationArn'], '?')}"))
    dx = client("directconnect")
    for gateway in dx.describe_direct_connect_gateways()["directConnectGateways"]:
        rows.append(("Direct Connect gateway", gateway["directConnectGatewayName"],
                     f"ASN {gateway['amazonSideAsn']}, {gateway['directConnectGatewayState']}"))
    for association in dx.describe_direct_connect_gateway_associations()["directConnectGatewayAssociations"]:
        rows.append(("Direct Connect association", association["associationId"],
                     f"-> {association['associatedGateway']['id']}, {association['associationState']}"))
    return rows


def _endpoints(cluster: dict[str, Any]) -> str:
    return ", ".join(f"{e['type']} {e['privateIpAddress']}:{e['port']}" for e in cluster.get("endpoints", []))


def _node_group_detail(group: dict[str, Any]) -> str:
    scaling = group["scalingConfiguration"]
    template = group.get("customLaunchTemplate", {}).get("id")
    return (f"{', '.join(c['instanceType'] for c in group['instanceConfigs'])}, "
            f"{scaling['minInstanceCount']}-{scaling['maxInstanceCount']} instances, "
            f"{group.get('purchaseOption', 'ONDEMAND')}" + (f", launch template {template}" if template else ""))


def _pcs_clusters(pcs: Any) -> list[dict[str, Any]]:
    return [pcs.get_cluster(clusterIdentifier=c["id"])["cluster"] for c in pcs.list_clusters()["clusters"]]


def pcs(client: Callable[[str], Any]) -> list[Row]:
    """Each PCS cluster, then its compute node groups and its queues (with the node groups each one serves)."""
    api = client("pcs")
    rows: list[Row] = []
    for cluster in _pcs_clusters(api):
        scheduler = cluster["scheduler"]
        rows.append(("PCS cluster", cluster["name"], f"{cluster['size']}, {scheduler['type'].title()} "
                     f"{scheduler['version']}, {cluster['status']}, endpoints {_endpoints(cluster)}"))
        names: dict[str, str] = {}
        for summary in api.list_compute_node_groups(clusterIdentifier=cluster["id"])["computeNodeGroups"]:
            group = api.get_compute_node_group(clusterIdentifier=cluster["id"],
                                               computeNodeGroupIdentifier=summary["id"])["computeNodeGroup"]
            names[group["id"]] = group["name"]
            rows.append(("PCS node group", group["name"], _node_group_detail(group)))
        for summary in api.list_queues(clusterIdentifier=cluster["id"])["queues"]:
            queue = api.get_queue(clusterIdentifier=cluster["id"], queueIdentifier=summary["id"])["queue"]
            served = [names.get(c["computeNodeGroupId"], c["computeNodeGroupId"])
                      for c in queue.get("computeNodeGroupConfigurations", [])]
            rows.append(("PCS queue", queue["name"], f"-> {', '.join(served) or '(no node groups)'}"))
    return rows


HA_OWNER_TAG = "hpc-constructs:ha-instance"  # hpc_constructs.ha_instance.OWNER_TAG (the read-back imports no CDK)


def ha_instances(client: Callable[[str], Any]) -> list[Row]:
    """Each HaInstance, found by its owner tag: its group of one and lifecycle hooks, its data volumes, its address
    (Elastic IP, network interfaces, or private hosted zone), its clients' ports, and its snapshot schedule."""
    autoscaling, ec2 = client("autoscaling"), client("ec2")
    rows: list[Row] = []
    for group in autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]:
        owner = next((t["Value"] for t in group.get("Tags", []) if t["Key"] == HA_OWNER_TAG), None)
        if owner is None:
            continue
        hooks = autoscaling.describe_lifecycle_hooks(AutoScalingGroupName=group["AutoScalingGroupName"])
        hook_text = "; ".join(f"{h['LifecycleHookName']} {h['LifecycleTransition'].rsplit('_', 1)[-1].lower()} "
                              f"{h['HeartbeatTimeout']} s -> {h['DefaultResult']}"
                              for h in sorted(hooks["LifecycleHooks"], key=lambda h: h["LifecycleHookName"]))
        subnets = [s for s in (group.get("VPCZoneIdentifier") or "").split(",") if s]
        found = ec2.describe_subnets(SubnetIds=subnets)["Subnets"] if subnets else []
        zones = {s["AvailabilityZone"] for s in found}
        rows.append(("HaInstance", owner, f"group min {group['MinSize']}, max {group['MaxSize']}, desired "
                     f"{group['DesiredCapacity']} over {len(zones)} AZs ({', '.join(sorted(zones))}); hooks: "
                     f"{hook_text or 'none'}"))
        owned = [{"Name": f"tag:{HA_OWNER_TAG}", "Values": [owner]}]
        for volume in ec2.describe_volumes(Filters=owned)["Volumes"]:
            tags = {t["Key"]: t["Value"] for t in volume.get("Tags", [])}
            rows.append(("HaInstance data volume", volume["VolumeId"],
                         f"generation {tags.get('hpc-constructs:ha-generation', '?')}, {volume['VolumeType']} "
                         f"{volume['Size']} GiB, encrypted {volume.get('Encrypted')}, {volume['AvailabilityZone']}, "
                         f"snapshot target {tags.get('hpc-constructs:ha-current') == owner}"))
        for address in ec2.describe_addresses(Filters=owned)["Addresses"]:
            rows.append(("HaInstance Elastic IP", address["AllocationId"], address["PublicIp"]))
        for interface in ec2.describe_network_interfaces(Filters=owned)["NetworkInterfaces"]:
            if interface.get("Attachment"):
                continue  # an instance's own interface, not an address that moves
            rows.append(("HaInstance interface", interface["NetworkInterfaceId"],
                         f"{interface['PrivateIpAddress']} MAC {interface.get('MacAddress', '?')} in "
                         f"{interface['AvailabilityZone']}"))
    route53 = client("route53")
    for zone in route53.list_hosted_zones()["HostedZones"]:
        if not zone.get("Config", {}).get("PrivateZone"):
            continue
        vpcs = route53.get_hosted_zone(Id=zone["Id"]).get("VPCs", [])
        records = [r for r in route53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
                   if r["Type"] not in ("NS", "SOA")]
        rows.append(("private hosted zone", zone["Name"],
                     f"{len(vpcs)} VPC(s); {len(records)} record(s) now (the instance writes its A record at boot)"))
    for rule in _ha_ingress(ec2, rows):
        rows.append(rule)
    schedules = client("scheduler")
    for summary in schedules.list_schedules()["Schedules"]:
        schedule = schedules.get_schedule(Name=summary["Name"], GroupName=summary.get("GroupName", "default"))
        target = schedule["Target"]["Arn"].rsplit(":", 2)
        rows.append(("EventBridge schedule", schedule["Name"],
                     f"{schedule['ScheduleExpression']} -> {':'.join(target[-2:])}, {schedule['State']}"))
    for document in client("ssm").list_documents(Filters=[{"Key": "Owner", "Values": ["Self"]}])["DocumentIdentifiers"]:
        rows.append(("SSM document", document["Name"], f"{document['DocumentType']}, {document['DocumentFormat']}"))
    return rows


def _ha_ingress(ec2: Any, rows: list[Row]) -> list[Row]:
    """The TCP ports each HaInstance's security group admits, and from how many client groups."""
    out: list[Row] = []
    owners = {r[1] for r in rows if r[0] == "HaInstance"}
    for group in ec2.describe_security_groups()["SecurityGroups"]:
        owner = next((o for o in owners if group.get("Description", "").startswith(f"{o}: HaInstance")), None)
        if owner is None:
            continue
        ports = sorted({p["FromPort"] for p in group.get("IpPermissions", []) if p.get("IpProtocol") == "tcp"})
        sources = {pair["GroupId"] for p in group.get("IpPermissions", []) for pair in p.get("UserIdGroupPairs", [])}
        out.append(("HaInstance clients", owner,
                    f"TCP {', '.join(map(str, ports)) or 'none'} from {len(sources)} security group(s)"))
    return out


READBACK = (launch_templates, placement_groups, file_systems, volumes, batch, load_balancers, data_transfer, pcs,
            ha_instances)


def read_back(client: Callable[[str], Any]) -> list[Row]:
    rows: list[Row] = []
    for section in READBACK:
        rows.extend(section(client))
    return rows


def table(rows: Iterable[Row]) -> str:
    rows = list(rows)
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(("what", "name", "detail"))]
    widths[1] = min(widths[1], 48)
    lines = [f"{'what':<{widths[0]}}  {'name':<{widths[1]}}  detail"]
    lines += [f"{what:<{widths[0]}}  {name[:48]:<{widths[1]}}  {detail}" for what, name, detail in rows]
    return "\n".join(lines)


# --- inventory: everything that exists, to diff before deploy and after destroy --------------------------

def _ids(items: Iterable[dict[str, Any]], key: str, kind: str, keep: Callable[[dict[str, Any]], bool] | None = None,
         label: Callable[[dict[str, Any]], str] | None = None) -> set[tuple[str, str]]:
    return {(kind, str(item[key]) + (f" ({label(item)})" if label else ""))
            for item in items if keep is None or keep(item)}


def inventory(client: Callable[[str], Any]) -> set[tuple[str, str]]:
    """(kind, id) of every resource of the kinds our stacks create, AWS's defaults and deleted ones left out."""
    ec2 = client("ec2")
    found: set[tuple[str, str]] = set()
    found |= _ids(ec2.describe_vpcs()["Vpcs"], "VpcId", "VPC", lambda v: not v.get("IsDefault"))
    found |= _ids(ec2.describe_subnets()["Subnets"], "SubnetId", "subnet", lambda s: not s.get("DefaultForAz"))
    found |= _ids(ec2.describe_security_groups()["SecurityGroups"], "GroupId", "security group",
                  lambda g: g["GroupName"] != "default", lambda g: g["GroupName"])
    found |= _ids(ec2.describe_route_tables()["RouteTables"], "RouteTableId", "route table",
                  lambda t: not any(a.get("Main") for a in t.get("Associations", [])))
    found |= _ids(ec2.describe_network_acls()["NetworkAcls"], "NetworkAclId", "network ACL",
                  lambda a: not a.get("IsDefault"))
    found |= _ids(ec2.describe_internet_gateways()["InternetGateways"], "InternetGatewayId", "internet gateway")
    found |= _ids(ec2.describe_nat_gateways()["NatGateways"], "NatGatewayId", "NAT gateway",
                  lambda n: n.get("State") not in ("deleted", "deleting"))
    found |= _ids(ec2.describe_vpc_endpoints()["VpcEndpoints"], "VpcEndpointId", "VPC endpoint",
                  lambda e: e.get("State", "").lower() != "deleted")
    found |= _ids(ec2.describe_network_interfaces()["NetworkInterfaces"], "NetworkInterfaceId", "network interface",
                  label=lambda n: n.get("Description") or n.get("InterfaceType", ""))
    found |= _ids(ec2.describe_launch_templates()["LaunchTemplates"], "LaunchTemplateId", "launch template",
                  label=lambda t: t["LaunchTemplateName"])
    found |= _ids(ec2.describe_volumes()["Volumes"], "VolumeId", "EBS volume", lambda v: not v.get("Attachments"))
    found |= _ids(ec2.describe_addresses()["Addresses"], "AllocationId", "Elastic IP")
    found |= _ids(ec2.describe_vpn_gateways()["VpnGateways"], "VpnGatewayId", "VPN gateway",
                  lambda g: g.get("State") != "deleted")
    found |= _ids(ec2.describe_placement_groups()["PlacementGroups"], "GroupName", "placement group")
    found |= _ids(ec2.describe_flow_logs()["FlowLogs"], "FlowLogId", "flow log")
    found |= {("instance", i["InstanceId"]) for r in ec2.describe_instances()["Reservations"]
              for i in r["Instances"] if i["State"]["Name"] not in ("terminated", "shutting-down")}
    iam = client("iam")
    found |= _ids(iam.list_roles()["Roles"], "RoleName", "IAM role", lambda r: not r["Path"].startswith("/aws-"))
    found |= _ids(iam.list_instance_profiles()["InstanceProfiles"], "InstanceProfileName", "instance profile")
    found |= _ids(iam.list_policies(Scope="Local")["Policies"], "PolicyName", "IAM managed policy")
    found |= _ids(client("s3").list_buckets()["Buckets"], "Name", "S3 bucket")
    found |= _ids(client("efs").describe_file_systems()["FileSystems"], "FileSystemId", "EFS file system")
    found |= _ids(client("fsx").describe_file_systems()["FileSystems"], "FileSystemId", "FSx file system")
    found |= _ids(client("fsx").describe_data_repository_associations()["Associations"], "AssociationId",
                  "FSx data repository association")
    api = client("batch")
    found |= _ids(api.describe_compute_environments()["computeEnvironments"], "computeEnvironmentName",
                  "Batch compute environment")
    found |= _ids(api.describe_job_queues()["jobQueues"], "jobQueueName", "Batch job queue")
    found |= _ids(api.describe_job_definitions(status="ACTIVE")["jobDefinitions"], "jobDefinitionArn",
                  "Batch job definition")
    arns = client("ecs").list_clusters()["clusterArns"]
    clusters = client("ecs").describe_clusters(clusters=arns)["clusters"] if arns else []
    found |= _ids(clusters, "clusterArn", "ECS cluster", lambda c: c["status"] != "INACTIVE")
    elbv2 = client("elbv2")
    found |= _ids(elbv2.describe_load_balancers()["LoadBalancers"], "LoadBalancerName", "load balancer")
    found |= _ids(elbv2.describe_target_groups()["TargetGroups"], "TargetGroupName", "target group")
    found |= _ids(client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"],
                  "AutoScalingGroupName", "auto scaling group")
    datasync = client("datasync")
    found |= _ids(datasync.list_locations()["Locations"], "LocationUri", "DataSync location")
    found |= _ids(datasync.list_tasks()["Tasks"], "TaskArn", "DataSync task")
    dx = client("directconnect")
    found |= _ids(dx.describe_direct_connect_gateways()["directConnectGateways"], "directConnectGatewayId",
                  "Direct Connect gateway")
    found |= _ids(dx.describe_direct_connect_gateway_associations()["directConnectGatewayAssociations"],
                  "associationId", "Direct Connect association")
    found |= _ids(client("sns").list_topics()["Topics"], "TopicArn", "SNS topic")
    found |= _ids(client("sns").list_subscriptions()["Subscriptions"], "SubscriptionArn", "SNS subscription")
    found |= {("SQS queue", url) for url in client("sqs").list_queues().get("QueueUrls", [])}
    found |= _ids(client("logs").describe_log_groups()["logGroups"], "logGroupName", "log group")
    kms = client("kms")
    aws_managed = {a["TargetKeyId"] for a in kms.list_aliases()["Aliases"]
                   if a["AliasName"].startswith("alias/aws/") and "TargetKeyId" in a}
    keys = [kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"] for k in kms.list_keys()["Keys"]
            if k["KeyId"] not in aws_managed]
    found |= {("KMS key", k["KeyId"]) for k in keys if k["KeyState"] != "PendingDeletion"}
    found |= _ids(client("secretsmanager").list_secrets()["SecretList"], "Name", "secret")
    found |= _ids(client("lambda").list_functions()["Functions"], "FunctionName", "Lambda function")
    found |= _ids(client("events").list_rules()["Rules"], "Name", "EventBridge rule")
    found |= _ids(client("route53").list_hosted_zones()["HostedZones"], "Id", "hosted zone", label=lambda z: z["Name"])
    found |= {("schedule", s["Name"]) for s in client("scheduler").list_schedules()["Schedules"]}
    found |= _ids(client("ssm").list_documents(Filters=[{"Key": "Owner", "Values": ["Self"]}])["DocumentIdentifiers"],
                  "Name", "SSM document")
    found |= _ids(client("ssm").describe_parameters()["Parameters"], "Name", "SSM parameter",
                  lambda p: not p["Name"].startswith("/aws/service/"))  # AWS's public parameters
    return found | _pcs_inventory(client("pcs"))


def _pcs_inventory(pcs: Any) -> set[tuple[str, str]]:
    """PCS clusters with their node groups and queues (which only a cluster's ID lists)."""
    found: set[tuple[str, str]] = set()
    for cluster in pcs.list_clusters()["clusters"]:
        found.add(("PCS cluster", f"{cluster['id']} ({cluster['name']})"))
        found |= _ids(pcs.list_compute_node_groups(clusterIdentifier=cluster["id"])["computeNodeGroups"], "id",
                      "PCS compute node group", label=lambda g: g["name"])
        found |= _ids(pcs.list_queues(clusterIdentifier=cluster["id"])["queues"], "id", "PCS queue",
                      label=lambda q: q["name"])
    return found
