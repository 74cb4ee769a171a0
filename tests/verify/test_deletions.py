"""hpc-verify can fail: for each kind of path, delete the one rule, route or statement that opens it from a copy of the
reference app's templates, and expect that path, and only it, reported blocked (compared with the unedited app, so
the known defects of tests/verify/test_reference.py stay as they are)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from hpc_constructs.verify import Assembly
from tests.verify.support import Templates, blocked, delete, logical_id, resource, results, variant

CPU_SELF = "HpcCompute/Cpu nodes to each other: all traffic, both directions (MPI, EFA)"
CPU_LUSTRE = ("HpcCompute/Cpu nodes to HpcStorage/Storage Lustre: TCP 988 and 1018-1023, both directions (Lustre "
              "client, both sides open connections)")
CPU_EFS = "HpcCompute/Cpu nodes to HpcStorage/Storage EFS: TCP 2049 (NFS, to the mount target in the client's AZ)"
CPU_SSM = "HpcCompute/Cpu nodes to Systems Manager (ssm, ssmmessages, ec2messages): HTTPS (Session Manager)"
CPU_EFA_DOWNLOAD = ("HpcCompute/Cpu nodes to the internet: HTTPS (EFA installer download at first boot, "
                    "efa-installer.amazonaws.com)")
LUSTRE_SERVERS = ("HpcStorage/Storage Lustre servers to each other: TCP 988 and 1018-1023, both directions (between "
                  "file servers)")
SLURMCTLD = "HpcSlurm/Slurm nodes to HpcSlurm/Slurm controller: TCP 6817 (slurmctld)"
REGISTER = ("HpcSlurm/Slurm node role may pcs:RegisterComputeNodeGroupInstance on the cluster HpcSlurm/Slurm (every "
            "node registers at boot)")
CPU_ROLE_SSM = ("HpcCompute/Cpu node role may ssm:UpdateInstanceInformation, ssmmessages:CreateControlChannel, "
                "ssmmessages:OpenDataChannel, ec2messages:GetMessages on any resource (Session Manager)")
JOB_OBJECTS = ("HpcBatch/Batch job role may s3:GetObject, s3:PutObject, s3:AbortMultipartUpload, "
               "s3:ListMultipartUploadParts on the objects of HpcStorage/Storage/DataBucket/Bucket")
EVENTS_KEY = ("events.amazonaws.com may kms:GenerateDataKey, kms:Decrypt on the topic's key "
              "HpcBatch/Batch/JobEvents/Key (rule HpcBatch/Batch/JobEvents/Rule)")
EVENTS_QUEUE = ("sns.amazonaws.com may sqs:SendMessage on the events queue HpcBatch/Batch/JobEvents/defaultQueue "
                "(from HpcBatch/Batch/JobEvents/Topic)")
SECRET_READ = ("HpcAccess/Bastion bastion role may secretsmanager:GetSecretValue on the host-key secret "
               "HpcAccess/Bastion/HostKeys (first boot step)")
SECRET_ONLY = ("only HpcAccess/Bastion bastion role and break-glass admin arn:aws:iam::unknown-account:root may "
               "secretsmanager:GetSecretValue on the host-key secret HpcAccess/Bastion/HostKeys (the shared SSH "
               "identity: the secret's policy refuses everyone else)")
SECRET_REWRITE = ("HpcAccess/Bastion bastion role may not secretsmanager:PutSecretValue on the host-key secret "
                  "HpcAccess/Bastion/HostKeys once tagged with its generation (once the keys exist, no bastion may "
                  "replace them)")
DATASYNC_LOGS = ("datasync.amazonaws.com may logs:CreateLogStream, logs:PutLogEvents on the log group of task "
                 "genomics-daily (task logs)")
DIRECT_CONNECT = ("HpcNetwork/Network/Vpc private subnets route to the data centre through "
                  "HpcDataTransfer/DataTransfer/VpnGateway (Direct Connect, route propagation)")
LOGIN_SSH = "203.0.113.0/24 to HpcSlurm/Slurm login nodes: TCP 22, through HpcAccess/Bastion (SSH)"
MPI_JOB = ("HpcBatch/Batch job mpi-osu's containers to each other: all traffic, both directions (MPI: the child nodes "
           "reach AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS)")
MPI_JOB_S3 = "HpcBatch/Batch job mpi-osu's containers to S3: HTTPS (the job's data in the storage's bucket)"
SPOT_EFS = ("HpcBatch/Batch/Environmentspot-cpu nodes to HpcStorage/Storage EFS: TCP 2049 (NFS, to the mount target "
            "in the client's AZ)")
GPU_EFS = ("HpcBatch/Batch/Environmentgpu nodes to HpcStorage/Storage EFS: TCP 2049 (NFS, to the mount target in the "
           "client's AZ)")
_IMDS = "the instance metadata service, the instance role's credentials"
CPU_IMDS = f"HpcCompute/Cpu nodes: {_IMDS}: only root reaches it (users on the nodes are not the role)"


@pytest.fixture(scope="module")
def baseline(reference: Assembly) -> dict[str, tuple[str, str]]:
    return results(reference)


def entry_paths(baseline: dict[str, tuple[str, str]]) -> set[str]:
    """Every path that starts at the allow-listed range and goes through the load balancer."""
    return {p for p in baseline if p.startswith("203.0.113.0/24 to ")}


def through_nat(baseline: dict[str, tuple[str, str]], *, only: str = "") -> set[str]:
    """The paths that are open through the NAT gateway (as the unedited app's reasons say)."""
    return {p for p, (status, reason) in baseline.items()
            if status == "ok" and "through NAT gateway" in reason and only in p}


def newly_blocked(reference: Assembly, edit: Callable[[Templates], None], lost: str | None = None, *,
                  opens: frozenset[str] = frozenset()) -> set[str]:
    """The paths the edit blocks; it must open none but `opens`."""
    before = set(blocked(reference, lost))
    after = blocked(variant(reference, edit), lost)
    assert before - set(after) == set(opens), "an edit that closes a path opened another"
    return set(after) - before


def _rule(template: dict[str, Any], path: str) -> None:
    delete(template, path)


# -- security groups -----------------------------------------------------------------------------------------------

def test_a_separate_self_egress_rule_opens_efa_between_fleet_nodes(reference: Assembly) -> None:
    assert newly_blocked(reference, lambda t: _rule(t["HpcCompute"], "HpcCompute/Cpu/SelfEgress")) == {CPU_SELF}


def test_a_separate_self_ingress_rule_opens_mpi_between_fleet_nodes(reference: Assembly) -> None:
    assert newly_blocked(reference, lambda t: _rule(t["HpcCompute"], "HpcCompute/Cpu/SelfIngress")) == {CPU_SELF}


def test_a_group_reference_opens_lustre_to_its_clients(reference: Assembly) -> None:
    path = "HpcCompute/Cpu/MountHpcStorageD5024E82/LustreFromFleet988"
    assert newly_blocked(reference, lambda t: _rule(t["HpcCompute"], path)) == {CPU_LUSTRE}


def test_the_servers_own_rule_opens_lustre_between_file_servers(reference: Assembly) -> None:
    group = "HpcStorage/Storage/LustreFileSystem/LustreSecurityGroup"
    rule = f"{group}/from HpcStorageLustreFileSystemLustreSecurityGroupE353C320:988"  # allow_internally's
    assert newly_blocked(reference, lambda t: _rule(t["HpcStorage"], rule)) == {LUSTRE_SERVERS}


def test_a_controller_rule_opens_slurmctld_to_the_nodes(reference: Assembly) -> None:
    edit = lambda t: _rule(t["HpcSlurm"], "HpcSlurm/Slurm/ControllerFromNodes-slurmctld")  # noqa: E731
    assert newly_blocked(reference, edit) == {SLURMCTLD}


def test_an_inline_cidr_rule_admits_the_allow_listed_range_at_the_load_balancer(
        reference: Assembly, baseline: dict[str, tuple[str, str]]) -> None:
    def edit(t: Templates) -> None:
        resource(t["HpcAccess"], "HpcAccess/Bastion/LoadBalancerSecurityGroup")["Properties"][
            "SecurityGroupIngress"] = []

    closed = newly_blocked(reference, edit)
    assert closed == entry_paths(baseline) and len(closed) == 5
    reason = blocked(variant(reference, edit))[LOGIN_SSH]
    assert "no inbound rule of HpcAccess/Bastion/LoadBalancerSecurityGroup" in reason


def test_the_load_balancers_egress_rule_reaches_the_bastions(reference: Assembly,
                                                             baseline: dict[str, tuple[str, str]]) -> None:
    edit = lambda t: _rule(t["HpcAccess"], "HpcAccess/Bastion/LoadBalancerToBastions")  # noqa: E731
    assert newly_blocked(reference, edit) == entry_paths(baseline)


def test_the_bastions_rule_admits_the_load_balancer_and_its_health_checks(
        reference: Assembly, baseline: dict[str, tuple[str, str]]) -> None:
    edit = lambda t: _rule(t["HpcAccess"], "HpcAccess/Bastion/SshFromLoadBalancer")  # noqa: E731
    assert newly_blocked(reference, edit) == entry_paths(baseline)


def test_a_prefix_list_rule_opens_the_s3_gateway_endpoint_and_nothing_else(reference: Assembly) -> None:
    """The Cpu fleet's group loses its 0.0.0.0/0 egress for a prefix-list rule on 443: S3 (through the gateway
    endpoint) stays open, what needed the open egress closes."""
    def edit(t: Templates) -> None:
        resource(t["HpcCompute"], "HpcCompute/Cpu/SecurityGroup")["Properties"]["SecurityGroupEgress"] = [
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "DestinationPrefixListId": "pl-63a5400a"}]

    license_server = ("HpcCompute/Cpu HpcCompute/Cpu/SecurityGroup to HpcLicense/LicenseServer instance: TCP 27000 "
                      "and 27001 (the server's clients)")
    assert newly_blocked(reference, edit) == {CPU_SSM, CPU_EFA_DOWNLOAD, CPU_LUSTRE, CPU_EFS, license_server}
    s3 = results(variant(reference, edit))["HpcCompute/Cpu nodes to S3: HTTPS (Amazon Linux packages at boot)"]
    assert s3[0] == "ok" and "gateway endpoint" in s3[1]


# -- Batch's multi-node job interfaces and the VPC's default group ---------------------------------------------------

DEFAULT_GROUP = "HpcBatch/Batch/VpcDefaultSecurityGroup"
DEFAULT_IN = f"{DEFAULT_GROUP}/from HpcBatchVpcDefaultSecurityGroupCF39C33D:ALL TRAFFIC"
DEFAULT_HTTPS = f"{DEFAULT_GROUP}/to 0.0.0.0_0:443"


def test_the_default_groups_own_rule_opens_mpi_between_a_jobs_containers(reference: Assembly) -> None:
    """Batch gives the job's awsvpc interfaces the VPC's default group (the environment has no SecurityGroupIds):
    the rules the Batch stack adds to it, after CDK's restriction emptied it, carry MPI and HTTPS."""
    assert newly_blocked(reference, lambda t: _rule(t["HpcBatch"], DEFAULT_IN)) == {MPI_JOB}
    assert newly_blocked(reference, lambda t: _rule(t["HpcBatch"], DEFAULT_HTTPS)) == {MPI_JOB_S3}
    reason = blocked(variant(reference, lambda t: _rule(t["HpcBatch"], DEFAULT_IN)))[MPI_JOB]
    assert "get the VPC's default security group" in reason and "Batch guide" in reason
    assert "CDK's restriction (HpcNetwork/Network/Vpc/RestrictDefaultSecurityGroupCustomResource) revokes" in reason


def test_a_default_group_rule_made_before_cdks_restriction_is_revoked(reference: Assembly) -> None:
    """The same rule in the network's own stack, where nothing orders it after the restriction, is revoked (or
    fails as a duplicate of the default rule it repeats); with DependsOn on the restriction it stays."""
    def move(t: Templates, depends: bool) -> None:
        logical = logical_id(t["HpcBatch"], DEFAULT_IN)
        rule = t["HpcBatch"]["Resources"].pop(logical)
        group = {"Fn::GetAtt": ["NetworkVpc7FB7348F", "DefaultSecurityGroup"]}
        rule["Properties"].update(GroupId=group, SourceSecurityGroupId=group)
        if depends:
            rule["DependsOn"] = ["NetworkVpcRestrictDefaultSecurityGroupCustomResource491E144D"]
        t["HpcNetwork"]["Resources"][logical] = rule

    racing = blocked(variant(reference, lambda t: move(t, depends=False)))
    assert "repeats a rule that HpcNetwork/Network/Vpc/RestrictDefaultSecurityGroupCustomResource revokes" in \
        racing[MPI_JOB]
    assert results(variant(reference, lambda t: move(t, depends=True)))[MPI_JOB][0] == "ok"


def test_security_groups_on_the_environment_reach_the_job_interfaces(reference: Assembly) -> None:
    def edit(t: Templates) -> None:
        for path in (DEFAULT_IN, DEFAULT_HTTPS):
            _rule(t["HpcBatch"], path)
        environment = resource(t["HpcBatch"], "HpcBatch/Batch/Environmentefa-cpu")
        environment["Properties"]["ComputeResources"]["SecurityGroupIds"] = [
            {"Fn::GetAtt": [logical_id(t["HpcBatch"], "HpcBatch/Batch/Environmentefa-cpu/SecurityGroup"),
                            "GroupId"]}]

    opened = results(variant(reference, edit))
    assert opened[MPI_JOB][0] == opened[MPI_JOB_S3][0] == "ok"


# -- launch templates -------------------------------------------------------------------------------------------------

def test_the_launch_templates_interfaces_carry_the_login_nodes_group(reference: Assembly) -> None:
    def edit(t: Templates) -> None:
        data = resource(t["HpcSlurm"], "HpcSlurm/Slurm/NodeGroup-login/LaunchTemplate")["Properties"][
            "LaunchTemplateData"]
        login = logical_id(t["HpcSlurm"], "HpcSlurm/Slurm/LoginSecurityGroup")
        for interface in data["NetworkInterfaces"]:
            interface["Groups"] = [g for g in interface["Groups"] if g != {"Fn::GetAtt": [login, "GroupId"]}]

    assert newly_blocked(reference, edit) == {LOGIN_SSH}


# -- network ACLs -----------------------------------------------------------------------------------------------------

def test_the_acl_entry_for_ssh_admits_the_allow_listed_range(reference: Assembly,
                                                            baseline: dict[str, tuple[str, str]]) -> None:
    edit = lambda t: _rule(t["HpcAccess"], "HpcAccess/Bastion/PublicAcl/IngressAllowIpv4Ssh0")  # noqa: E731
    assert newly_blocked(reference, edit) == entry_paths(baseline)


def test_the_acl_entry_for_return_traffic_lets_the_nat_gateway_work(reference: Assembly,
                                                                   baseline: dict[str, tuple[str, str]]) -> None:
    edit = lambda t: _rule(t["HpcAccess"], "HpcAccess/Bastion/PublicAcl/IngressAllowIpv4EphemeralTcp")  # noqa: E731
    closed = newly_blocked(reference, edit)
    assert closed == through_nat(baseline) and len(closed) > 20
    assert "network ACL HpcAccess/Bastion/PublicAcl: no rule allows TCP 1024-65535 from" in \
        blocked(variant(reference, edit))[CPU_SSM]


def test_a_deny_entry_first_closes_what_a_later_allow_entry_opens(reference: Assembly,
                                                                  baseline: dict[str, tuple[str, str]]) -> None:
    """The block-list's deny rule, widened to the whole allow-listed range, comes first (rule 100)."""
    def edit(t: Templates) -> None:
        resource(t["HpcAccess"], "HpcAccess/Bastion/PublicAcl/IngressDenyIpv4Blocked0")["Properties"][
            "CidrBlock"] = "203.0.113.0/24"

    closed = newly_blocked(reference, edit)
    assert closed == entry_paths(baseline)
    assert "rule 100 (deny all traffic from 203.0.113.0/24) comes first" in blocked(variant(reference, edit))[LOGIN_SSH]


# -- routes, NAT gateways, endpoints ----------------------------------------------------------------------------------

def test_a_subnets_default_route_to_its_nat_gateway(reference: Assembly, baseline: dict[str, tuple[str, str]]) -> None:
    edit = lambda t: _rule(t["HpcNetwork"], "HpcNetwork/Network/Vpc/PrivateSubnet2/DefaultRoute")  # noqa: E731
    closed = newly_blocked(reference, edit)
    # only what runs in the second private subnet: the bastions, the license server and the Batch environments
    # spread over both AZs
    expected = {p for p in through_nat(baseline)
                if p.startswith(("HpcAccess/Bastion", "HpcLicense/LicenseServer", "HpcBatch/Batch/Environmentspot-cpu",
                                 "HpcBatch/Batch/Environmentgpu"))}
    assert closed == expected and expected


def test_without_the_gateway_endpoint_s3_goes_through_nat_and_breaks_with_its_az(reference: Assembly) -> None:
    edit = lambda t: _rule(t["HpcNetwork"], "HpcNetwork/Network/Vpc/S3Endpoint")  # noqa: E731
    assert newly_blocked(reference, edit) == set()
    s3 = "HpcAccess/Bastion bastions to S3: HTTPS (Amazon Linux packages at boot)"
    assert "through NAT gateway" in results(variant(reference, edit))[s3][1]
    assert s3 not in newly_blocked(reference, edit, lost="az0")  # the other AZ's NAT gateway still carries it

    def one_nat_gateway_too(t: Templates) -> None:
        edit(t)
        network = t["HpcNetwork"]
        route = resource(network, "HpcNetwork/Network/Vpc/PrivateSubnet2/DefaultRoute")
        route["Properties"]["NatGatewayId"] = {"Ref": logical_id(network, "HpcNetwork/Network/Vpc/PublicSubnet1/"
                                                                          "NATGateway")}

    assert s3 in newly_blocked(reference, one_nat_gateway_too, lost="az0")


def _interface_endpoints(t: Templates, services: tuple[str, ...], *, ingress: list[dict[str, Any]]) -> None:
    network = t["HpcNetwork"]["Resources"]
    network["EndpointGroup"] = {"Type": "AWS::EC2::SecurityGroup", "Properties": {
        "GroupDescription": "endpoints", "VpcId": {"Ref": "NetworkVpc7FB7348F"}, "SecurityGroupIngress": ingress}}
    for service in services:
        network[f"Endpoint{service.replace('.', '')}"] = {"Type": "AWS::EC2::VPCEndpoint", "Properties": {
            "ServiceName": {"Fn::Join": ["", ["com.amazonaws.", {"Ref": "AWS::Region"}, f".{service}"]]},
            "VpcEndpointType": "Interface", "PrivateDnsEnabled": True, "VpcId": {"Ref": "NetworkVpc7FB7348F"},
            "SubnetIds": [{"Ref": "NetworkVpcPrivateSubnet1Subnet6DD86AE6"},
                          {"Ref": "NetworkVpcPrivateSubnet2Subnet1BDBE877"}],
            "SecurityGroupIds": [{"Fn::GetAtt": ["EndpointGroup", "GroupId"]}]}}


def test_interface_endpoints_keep_a_service_when_the_nat_gateways_az_is_lost(reference: Assembly) -> None:
    ssm = ("ssm", "ssmmessages", "ec2messages")
    edit = lambda t: _interface_endpoints(t, ssm, ingress=[  # noqa: E731
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "10.0.0.0/16"}])
    lost = results(variant(reference, edit), "az0")
    path = "HpcAccess/Bastion bastions to Systems Manager (ssm, ssmmessages, ec2messages): HTTPS (Session Manager)"
    assert lost[path][0] == "ok" and "interface endpoint" in lost[path][1]


def test_an_interface_endpoints_group_must_admit_the_nodes(reference: Assembly) -> None:
    """With private DNS the service's name resolves to the endpoint: its group decides, whatever the NAT allows."""
    edit = lambda t: _interface_endpoints(t, ("ssm",), ingress=[])  # noqa: E731
    closed = newly_blocked(reference, edit)
    assert closed == {p for p in blocked(variant(reference, edit)) if "to Systems Manager" in p}
    # 3 fleets, the bastions, the license server, 3 Batch environments, 4 node groups
    assert CPU_SSM in closed and len(closed) == 12


def test_an_efs_mount_target_serves_the_clients_of_its_az(reference: Assembly) -> None:
    edit = lambda t: _rule(t["HpcStorage"], "HpcStorage/Storage/EfsFileSystem/Efs/EfsMountTarget-PrivateSubnet2")  # noqa: E731
    closed = newly_blocked(reference, edit)
    assert closed == {SPOT_EFS, GPU_EFS}
    assert "has no mount target in az1" in blocked(variant(reference, edit))[SPOT_EFS]


def test_route_propagation_brings_the_data_centre_to_the_private_subnets(reference: Assembly) -> None:
    edit = lambda t: _rule(t["HpcDataTransfer"], "HpcDataTransfer/DataTransfer/RoutePropagation")  # noqa: E731
    assert newly_blocked(reference, edit) == {DIRECT_CONNECT}


# -- the load balancer ------------------------------------------------------------------------------------------------

def test_the_listener_forwards_the_declared_port(reference: Assembly, baseline: dict[str, tuple[str, str]]) -> None:
    def edit(t: Templates) -> None:
        resource(t["HpcAccess"], "HpcAccess/Bastion/LoadBalancer/Ssh")["Properties"]["Port"] = 2222

    assert newly_blocked(reference, edit) == entry_paths(baseline)
    assert "has no listener on TCP 22" in blocked(variant(reference, edit))[LOGIN_SSH]


def test_without_its_own_group_the_load_balancer_needs_the_client_range_at_the_targets(
        reference: Assembly, baseline: dict[str, tuple[str, str]]) -> None:
    """Client IP preserved: the bastions must admit 203.0.113.0/24 itself once the load balancer has no group."""
    def edit(t: Templates) -> None:
        del resource(t["HpcAccess"], "HpcAccess/Bastion/LoadBalancer")["Properties"]["SecurityGroups"]

    assert newly_blocked(reference, edit) == entry_paths(baseline)
    assert "from the client 203.0.113.0/24 (client IP preserved)" in blocked(variant(reference, edit))[LOGIN_SSH]


# -- IAM ---------------------------------------------------------------------------------------------------------------

def _statements(template: dict[str, Any], policy: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = resource(template, policy)["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_an_identity_statement_lets_a_node_register(reference: Assembly) -> None:
    def edit(t: Templates) -> None:
        statements = _statements(t["HpcSlurm"], "HpcSlurm/Slurm/NodeRole/DefaultPolicy")
        statements[:] = [s for s in statements if s["Action"] != "pcs:RegisterComputeNodeGroupInstance"]

    assert newly_blocked(reference, edit) == {REGISTER}


def test_an_aws_managed_policy_from_the_table(reference: Assembly) -> None:
    def edit(t: Templates) -> None:
        role = resource(t["HpcCompute"], "HpcCompute/Cpu/Role")["Properties"]
        role["ManagedPolicyArns"] = []

    assert newly_blocked(reference, edit) == {CPU_ROLE_SSM}


def test_an_aws_managed_policy_missing_from_the_table_grants_nothing_and_says_so(reference: Assembly) -> None:
    def edit(t: Templates) -> None:
        resource(t["HpcCompute"], "HpcCompute/Cpu/Role")["Properties"]["ManagedPolicyArns"] = [
            "arn:aws:iam::aws:policy/AmazonSSMFullAccess"]

    assert "AmazonSSMFullAccess is attached but not in hpc-verify's table" in blocked(variant(reference, edit))[
        CPU_ROLE_SSM]


def test_a_deny_statement_wins_over_the_allow(reference: Assembly) -> None:
    def edit(t: Templates) -> None:
        _statements(t["HpcBatch"], "HpcBatch/Batch/JobRole/DefaultPolicy").append(
            {"Effect": "Deny", "Action": "s3:Put*", "Resource": "*"})

    assert newly_blocked(reference, edit) == {JOB_OBJECTS}


def test_the_buckets_policy_can_refuse_a_role(reference: Assembly) -> None:
    def edit(t: Templates) -> None:  # the role's ARN with a wildcard: the bucket's stack holds no reference to it
        _statements(t["HpcStorage"], "HpcStorage/Storage/DataBucket/Bucket/Policy").append({
            "Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::unknown-account:role/HpcBatch-BatchJobRole*"},
            "Action": "s3:GetObject", "Resource": "*"})

    assert newly_blocked(reference, edit) == {JOB_OBJECTS}


def test_the_key_policy_admits_eventbridge(reference: Assembly) -> None:
    def edit(t: Templates) -> None:
        policy = resource(t["HpcBatch"], "HpcBatch/Batch/JobEvents/Key")["Properties"]["KeyPolicy"]
        events = {"Service": "events.amazonaws.com"}
        policy["Statement"] = [s for s in policy["Statement"] if s.get("Principal") != events]

    assert newly_blocked(reference, edit) == {EVENTS_KEY}


def test_the_conditions_on_eventbridge_keep_another_accounts_rules_out(reference: Assembly) -> None:
    """Issue 24 #3's fix: aws:SourceArn and aws:SourceAccount on the topic's and the key's statements for
    EventBridge. Without them, another account's rule could publish."""
    exclusive = ("only this account's EventBridge rules may kms:GenerateDataKey on the topic's key "
                 "HpcBatch/Batch/JobEvents/Key (this account's rules: another account's cannot inject events)")

    def edit(t: Templates) -> None:
        policy = resource(t["HpcBatch"], "HpcBatch/Batch/JobEvents/Key")["Properties"]["KeyPolicy"]
        for statement in policy["Statement"]:
            if statement.get("Principal") == {"Service": "events.amazonaws.com"}:
                del statement["Condition"]

    assert newly_blocked(reference, edit) == {exclusive}
    assert "not exclusive: events.amazonaws.com for another account's resource" in blocked(
        variant(reference, edit))[exclusive]


def test_the_queue_policy_admits_the_topic(reference: Assembly) -> None:
    def edit(t: Templates) -> None:
        statements = _statements(t["HpcBatch"], "HpcBatch/Batch/JobEvents/defaultQueue/Policy")
        statements[:] = [s for s in statements if s["Effect"] == "Deny"]

    assert newly_blocked(reference, edit) == {EVENTS_QUEUE}


def test_the_logs_resource_policy_admits_datasync(reference: Assembly) -> None:
    edit = lambda t: _rule(t["HpcDataTransfer"], "HpcDataTransfer/DataTransfer/DataSyncLogsPolicy/ResourcePolicy")  # noqa: E731
    assert newly_blocked(reference, edit) == {DATASYNC_LOGS}


def test_the_trust_policy_lets_datasync_assume_its_role(reference: Assembly) -> None:
    def edit(t: Templates) -> None:
        role = resource(t["HpcDataTransfer"], "HpcDataTransfer/DataTransfer/LocationS3LandingGenomics/BucketAccessRole")
        role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] = {"Service": "ec2.amazonaws.com"}

    closed = newly_blocked(reference, edit)
    assert closed == {p for p in results(reference) if p.startswith("DataSync, as ")} and len(closed) == 2


def _secret_statements(t: Templates) -> list[dict[str, Any]]:
    policy = resource(t["HpcAccess"], "HpcAccess/Bastion/HostKeys/Policy")["Properties"]["ResourcePolicy"]
    statements: list[dict[str, Any]] = policy["Statement"]
    return statements


def test_the_secrets_resource_policy_makes_the_host_keys_the_bastions_alone(reference: Assembly) -> None:
    """OnlyTheBastionsAndTheAdmins: without it another role of the account reads the keys; with another role in
    place of the bastions' the bastions cannot."""
    def drop(t: Templates) -> None:
        _secret_statements(t)[:] = [s for s in _secret_statements(t) if s["Sid"] != "OnlyTheBastionsAndTheAdmins"]

    assert newly_blocked(reference, drop) == {SECRET_ONLY}

    def someone_else(t: Templates) -> None:
        (only,) = [s for s in _secret_statements(t) if s["Sid"] == "OnlyTheBastionsAndTheAdmins"]
        only["Condition"]["StringNotEquals"]["aws:PrincipalArn"][0] = "arn:aws:iam::unknown-account:role/Someone"

    assert SECRET_READ in newly_blocked(reference, someone_else)


def test_the_secrets_resource_policy_writes_each_generation_once(reference: Assembly) -> None:
    def drop(t: Templates) -> None:
        _secret_statements(t)[:] = [s for s in _secret_statements(t) if s["Sid"] != "WriteEachGenerationOnce"]

    assert newly_blocked(reference, drop) == {SECRET_REWRITE}


# -- what the nodes' users reach --------------------------------------------------------------------------------------

def _replace_in(node: Any, old: str, new: str) -> Any:
    if isinstance(node, str):
        return node.replace(old, new)
    if isinstance(node, list):
        return [_replace_in(v, old, new) for v in node]
    if isinstance(node, dict):
        return {k: _replace_in(v, old, new) for k, v in node.items()}
    return node


def _cpu_user_data(t: Templates, old: str, new: str, *, append: str = "") -> None:
    data = resource(t["HpcCompute"], "HpcCompute/Cpu/LaunchTemplate")["Properties"]["LaunchTemplateData"]
    data["UserData"] = _replace_in(data["UserData"], old, new)
    if append:
        data["UserData"]["Fn::Base64"]["Fn::Join"][1].append(append)


def test_the_guards_non_root_option_keeps_the_metadata_service_from_users(reference: Assembly) -> None:
    edit = lambda t: _cpu_user_data(t, "hpc-imds-guard --non-root", "hpc-imds-guard")  # noqa: E731
    assert newly_blocked(reference, edit) == {CPU_IMDS}
    assert "no boot step refuses 169.254.169.254 to non-root users" in blocked(variant(reference, edit))[CPU_IMDS]
    rule = "\niptables -A OUTPUT -d 169.254.169.254 -m owner ! --uid-owner root -j REJECT\n"  # a rule of one's own
    own = lambda t: _cpu_user_data(t, "hpc-imds-guard --non-root", "hpc-imds-guard", append=rule)  # noqa: E731
    assert results(variant(reference, own))[CPU_IMDS][0] == "ok"


def test_the_hop_limit_keeps_a_slurm_nodes_containers_from_the_metadata_service(reference: Assembly) -> None:
    login = (f"HpcSlurm/Slurm/NodeGroup-login nodes: {_IMDS}: only root reaches it, containers do not (hop limit "
             "1) (the node role registers, and RegisterComputeNodeGroupInstance returns the Munge key)")

    def edit(t: Templates) -> None:
        data = resource(t["HpcSlurm"], "HpcSlurm/Slurm/NodeGroup-login/LaunchTemplate")["Properties"][
            "LaunchTemplateData"]
        data["MetadataOptions"]["HttpPutResponseHopLimit"] = 2

    assert newly_blocked(reference, edit) == {login}
    assert "HttpPutResponseHopLimit is 2, above 1" in blocked(variant(reference, edit))[login]


def test_the_guards_ecs_tasks_option_keeps_batch_jobs_from_the_instance_role(reference: Assembly) -> None:
    spot = (f"HpcBatch/Batch/Environmentspot-cpu nodes: {_IMDS}: only root reaches it, containers do not (hop limit "
            "1), ECS tasks' containers do not (a cgroup rule) (a job gets its job role only)")

    def edit(t: Templates) -> None:
        data = resource(t["HpcBatch"], "HpcBatch/Batch/Environmentspot-cpu/LaunchTemplate")["Properties"][
            "LaunchTemplateData"]
        data["UserData"] = _replace_in(data["UserData"], " --ecs-tasks", "")

    assert newly_blocked(reference, edit) == {spot}
    assert "no boot step refuses 169.254.169.254 to the containers of ECS tasks" in blocked(
        variant(reference, edit))[spot]


# -- cross-stack references ------------------------------------------------------------------------------------------

def test_an_output_another_stack_reads_must_exist(reference: Assembly) -> None:
    from hpc_constructs.verify import AssemblyError

    def edit(t: Templates) -> None:
        del t["HpcNetwork"]["Outputs"]["PublishOutputRefNetworkVpc7FB7348F2D3313D5"]

    with pytest.raises(AssemblyError, match="HpcNetwork: no output PublishOutputRefNetworkVpc7FB7348F2D3313D5"):
        blocked(variant(reference, edit))


# -- the license server (HaInstance) and the SSH user list ------------------------------------------------------------

LICENSE_FROM_MPI = ("HpcBatch/Batch efa-cpu's multi-node jobs' containers to HpcLicense/LicenseServer instance: TCP "
                    "27000 and 27001 (the server's clients)")
LICENSE_RECORD = ("HpcLicense/LicenseServer role may route53:ChangeResourceRecordSets on its record "
                  "license.hpc.internal (the address follows the instance)")
LICENSE_OTHER_RECORD = ("HpcLicense/LicenseServer role may not route53:ChangeResourceRecordSets on another record of "
                        "the zone HpcLicense/LicenseServer/Zone (only its own name)")
LICENSE_IMDS = (f"HpcLicense/LicenseServer instance: {_IMDS}: only root reaches it, containers do not (hop limit 1) "
                "(the server's users and daemons are not the role: it moves volumes and addresses)")
USER_LIST = ("HpcCompute/Cpu/Role may ssm:GetParameter on the SSH user list HpcNetwork/SshUsers (hpc-users, at boot "
             "and every few minutes)")


def test_the_default_groups_egress_rule_lets_multi_node_jobs_reach_the_license_server(reference: Assembly) -> None:
    """The default group lists its way out: without the rule HaInstance.allow_from adds, the jobs' containers
    cannot open a connection to the server, whatever the server admits."""
    def edit(t: Templates) -> None:
        batch = t["HpcBatch"]["Resources"]
        for key in [k for k, r in batch.items() if r["Type"] == "AWS::EC2::SecurityGroupEgress"
                    and r["Properties"].get("FromPort") == 27000]:
            del batch[key]

    assert newly_blocked(reference, edit) == {LICENSE_FROM_MPI}


def test_the_record_statement_names_only_the_servers_record(reference: Assembly) -> None:
    def drop(t: Templates) -> None:
        statements = _statements(t["HpcLicense"], "HpcLicense/LicenseServer/Role/DefaultPolicy")
        statements[:] = [s for s in statements if s.get("Sid") != "UpdateItsRecord"]

    assert newly_blocked(reference, drop) == {LICENSE_RECORD}

    def any_record(t: Templates) -> None:
        statements = _statements(t["HpcLicense"], "HpcLicense/LicenseServer/Role/DefaultPolicy")
        (record,) = [s for s in statements if s.get("Sid") == "UpdateItsRecord"]
        del record["Condition"]["ForAllValues:StringEquals"]["route53:ChangeResourceRecordSetsNormalizedRecordNames"]

    assert newly_blocked(reference, any_record) == {LICENSE_OTHER_RECORD}


def test_the_license_servers_guard_keeps_the_metadata_service_from_its_daemons(reference: Assembly) -> None:
    def edit(t: Templates) -> None:
        template = resource(t["HpcLicense"], "HpcLicense/LicenseServer/LaunchTemplate")
        data = template["Properties"]["LaunchTemplateData"]
        data["UserData"] = _replace_in(data["UserData"], "hpc-imds-guard --non-root", "hpc-imds-guard")

    assert newly_blocked(reference, edit) == {LICENSE_IMDS}


def test_the_nodes_read_the_ssh_user_list(reference: Assembly) -> None:
    """SshUsers.grant_read's statement, and AmazonSSMManagedInstanceCore's ssm:GetParameter on *: either opens it."""
    def own_statement(t: Templates) -> None:
        statements = _statements(t["HpcCompute"], "HpcCompute/Cpu/Role/DefaultPolicy")
        statements[:] = [s for s in statements if s["Action"] != "ssm:GetParameter"]

    assert newly_blocked(reference, own_statement) == set()

    def both(t: Templates) -> None:
        own_statement(t)
        del resource(t["HpcCompute"], "HpcCompute/Cpu/Role")["Properties"]["ManagedPolicyArns"]

    assert newly_blocked(reference, both) == {USER_LIST, CPU_ROLE_SSM}
