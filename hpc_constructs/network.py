"""HpcNetwork: a VPC laid out for HPC, with one designated subnet for tightly coupled fleets."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from hpc_constructs.errors import ConfigError
from hpc_constructs.kinds import check_kinds

_MIN_AZS = 2


class HpcNetwork(Construct):
    """A multi-AZ VPC with public and private subnets, NAT, flow logs and an S3 gateway endpoint.

    A created VPC's default security group has no rules (CDK's restrict-default-security-group custom
    resource removes them), in any app, with or without cdk.json's feature flags.

    Works with no options. Attributes:
      vpc             the ec2.IVpc (created, or the one passed in)
      cluster_subnet  one private subnet, in one AZ, meant for tightly coupled EFA fleets and the
                      storage they mount (EFA fleets and FSx for Lustre live in exactly one AZ)

    Props (keyword-only):
      vpc: an existing VPC to wrap instead of creating one. Nothing is added to it unless asked
           (flow_logs=True, s3_endpoint=True).
      cidr: "10.0.0.0/16". The IPv4 range of a created VPC.
      max_azs: 2. At least 2, so that EFS has mount targets in two AZs and fleets without EFA can
               spread over AZs (vpc_subnets): an AZ outage then leaves them a second AZ.
      nat_gateways: None is one per AZ (max_azs), so that each AZ keeps its way out when another fails: Session
                    Manager, Secrets Manager (the bastions' host keys), ECR and ECS (Batch), PCS, CloudWatch Logs
                    and the EFA installer's download all leave through the NAT gateway of the node's own AZ. Fewer
                    send the other AZs' private subnets through one AZ's gateway, which is then a single point of
                    failure for every AZ (AWS VPC User Guide, NAT gateways: "create a NAT gateway in each
                    Availability Zone"); 0 leaves the private subnets without a route out.
      private_subnet_mask: 18. Private subnets are large: every EFA interface with ENA takes an address.
      cluster_availability_zone_index: 0. Which private subnet (by AZ order) is the cluster subnet.
      flow_logs: None. None means on for a created VPC, off for a wrapped one. All traffic, to
                 CloudWatch Logs kept for flow_log_retention.
      flow_log_retention: logs.RetentionDays.ONE_YEAR.
      s3_endpoint: None. None means on for a created VPC: S3 traffic (data repositories, DataSync)
                   bypasses NAT, which is cheaper and faster.
    """

    @check_kinds
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc | None = None,
        cidr: str = "10.0.0.0/16",
        max_azs: int = 2,
        nat_gateways: int | None = None,
        private_subnet_mask: int = 18,
        cluster_availability_zone_index: int = 0,
        flow_logs: bool | None = None,
        flow_log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        s3_endpoint: bool | None = None,
    ) -> None:
        super().__init__(scope, id)
        created = vpc is None
        nat_gateways = max_azs if nat_gateways is None else nat_gateways
        _validate(self.node.path, max_azs=max_azs, nat_gateways=nat_gateways,
                  private_subnet_mask=private_subnet_mask, created=created)

        if vpc is None:
            vpc = ec2.Vpc(
                self, "Vpc",
                ip_addresses=ec2.IpAddresses.cidr(cidr),
                max_azs=max_azs,
                nat_gateways=nat_gateways,
                # Explicit, not left to cdk.json's feature flag: in an app without that flag the VPC's
                # default security group would keep its allow-all rules.
                restrict_default_security_group=True,
                subnet_configuration=[
                    ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                    ec2.SubnetConfiguration(name="Private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS,
                                            cidr_mask=private_subnet_mask),
                ],
            )
        self.vpc: ec2.IVpc = vpc

        if flow_logs if flow_logs is not None else created:
            log_group = logs.LogGroup(self, "FlowLogs", retention=flow_log_retention,
                                      removal_policy=RemovalPolicy.RETAIN)
            ec2.FlowLog(self, "FlowLog", resource_type=ec2.FlowLogResourceType.from_vpc(vpc),
                        destination=ec2.FlowLogDestination.to_cloud_watch_logs(log_group),
                        traffic_type=ec2.FlowLogTrafficType.ALL,
                        max_aggregation_interval=ec2.FlowLogMaxAggregationInterval.ONE_MINUTE)
        if s3_endpoint if s3_endpoint is not None else created:
            vpc.add_gateway_endpoint("S3Endpoint", service=ec2.GatewayVpcEndpointAwsService.S3)

        private = list(vpc.private_subnets) or list(vpc.isolated_subnets)
        if not private:
            raise ConfigError(self.node.path, "vpc", vpc.vpc_id if not created else "(created)",
                              "a VPC with at least one private or isolated subnet",
                              hint="Tightly coupled fleets and FSx for Lustre belong in a private subnet.")
        if not 0 <= cluster_availability_zone_index < len(private):
            raise ConfigError(self.node.path, "cluster_availability_zone_index", cluster_availability_zone_index,
                              f"0 to {len(private) - 1} (the VPC has {len(private)} private subnets)")
        self.cluster_subnet: ec2.ISubnet = private[cluster_availability_zone_index]
        self.nat_gateways = nat_gateways if created else None
        if created:
            self.node.add_metadata("hpc:figures", {
                "NAT gateways": f"{nat_gateways} for {max_azs} AZs"
                + ("" if nat_gateways >= max_azs else
                   " (private subnets of the AZs without one go out through another AZ's: lose that AZ and they "
                   "have no way out)")})


def _validate(path: str, *, max_azs: int, nat_gateways: int, private_subnet_mask: int, created: bool) -> None:
    if not created:
        return
    if max_azs < _MIN_AZS:
        raise ConfigError(path, "max_azs", max_azs, f"at least {_MIN_AZS}",
                          hint="EFS mount targets and fleets without EFA use two Availability Zones, so that one AZ's "
                               "outage does not take them down.")
    if not 0 <= nat_gateways <= max_azs:
        raise ConfigError(path, "nat_gateways", nat_gateways, f"0 to max_azs ({max_azs})")
    if not 16 <= private_subnet_mask <= 28:
        raise ConfigError(path, "private_subnet_mask", private_subnet_mask, "16 to 28 (VPC subnet sizes)")
