"""BatchOrchestration: AWS Batch compute environments, queues, multi-node (MPI) jobs over EFA, and job events.

The rules live in the pure module batch_plan.py (limits in catalog.limits.BATCH, with their source); the
EFA layout comes from fleet_plan.plan_network, the same code that lays out a ComputeFleet. aws-cdk-lib's
Batch L2 is not used for environments and job definitions: it always sets security groups on the
environment (Batch refuses them beside a launch template's EFA interfaces), renders no launch-template
version, knows no ECS_AL2023_NVIDIA image, and lets a multi-node job onto Spot; the L1 resources are
made from the plan instead.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import jsii
from aws_cdk import (
    Acknowledgment,
    Annotations,
    Aspects,
    Aws,
    CfnOutput,
    Duration,
    IAspect,
    IStableAnyProducer,
    Lazy,
    RemovalPolicy,
    Stack,
    TagManager,
    Validations,
)
from aws_cdk import aws_batch as batch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct

from hpc_constructs import boot, paths
from hpc_constructs.batch_plan import (
    RETRY_ON_STATUS_REASON,
    BatchPlan,
    ComputeEnvironmentSpec,
    ContainerJobPlan,
    ContainerJobSpec,
    EnvironmentInput,
    EnvironmentPlan,
    FleetFacts,
    JobQueueSpec,
    MultiNodeJobPlan,
    MultiNodeJobSpec,
    plan_batch,
)
from hpc_constructs.catalog.limits import BATCH, LOG_RETENTION_DAYS
from hpc_constructs.catalog.software import AL2023_ROOT_DEVICE, ECS_IMAGE_CONTENTS, EFA, EFA_INSTALLER
from hpc_constructs.compute_fleet import (
    ComputeFleet,
    UserDataFits,
    cluster_placement_group,
    select_subnets,
    without_route_out,
)
from hpc_constructs.errors import ConfigError
from hpc_constructs.fleet_plan import launch_template_interfaces
from hpc_constructs.given import SSM_POLICY, role_anchor
from hpc_constructs.given import instance_role as given_instance_role
from hpc_constructs.given import self_rules as given_self_rules
from hpc_constructs.job_events import JobEvents
from hpc_constructs.kinds import check_kinds
from hpc_constructs.monitoring import Monitoring, MonitoringSettings
from hpc_constructs.mounting import nodes_of, removal
from hpc_constructs.nag import acknowledge_wildcards
from hpc_constructs.storage import Mountable, StorageLayer, mount_storage, storage_items

__all__ = ["BatchComputeEnvironment", "BatchJobDefinition", "BatchJobQueue", "BatchOrchestration"]

ECS_INSTANCE_POLICY = "service-role/AmazonEC2ContainerServiceforEC2Role"
TASK_EXECUTION_POLICY = "service-role/AmazonECSTaskExecutionRolePolicy"
JOB_BUCKET_ACTIONS = ("s3:GetBucketLocation", "s3:ListBucket")
JOB_OBJECT_ACTIONS = ("s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts")
ECS_SERVICES = ("ecs", "ecs-agent", "ecs-telemetry")  # what the ECS agent calls (ECS Developer Guide, VPC endpoints)
ECS_AGENT_ACTIONS = ("ecs:RegisterContainerInstance", "ecs:DiscoverPollEndpoint", "ecs:Poll",
                     "ecs:StartTelemetrySession", "ecr:GetAuthorizationToken", "ecr:BatchGetImage",
                     "ecr:GetDownloadUrlForLayer", "logs:CreateLogStream", "logs:PutLogEvents")
# The ECS agent's settings on every node (ECS Developer Guide, 'Amazon ECS task IAM role', additional
# configuration for EC2 instances; 'Amazon ECS container agent configuration'): jobs get their job role in either
# network mode Batch uses, and the awsvpc tasks of multi-node jobs cannot reach the instance metadata service.
ECS_AGENT_SETTINGS = (
    "ECS_ENABLE_TASK_IAM_ROLE=true",
    "ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST=true",
    "ECS_AWSVPC_BLOCK_IMDS=true",
)
VPC_RESTRICTION_ID = "RestrictDefaultSecurityGroupCustomResource"  # ec2.Vpc's child when it empties the group


@dataclass(frozen=True)
class BatchJobQueue:
    """One job queue of a BatchOrchestration: `orchestration.queue("high")`.

    name: its JobQueueSpec's name. job_queue_name: Batch's name for it, <top-level stack>-<name> (with
    <nested stack id>- between them inside a nested stack): what `aws batch submit-job --job-queue` takes.
    job_queue_arn. compute_environments: the environments it takes, in order. job_definitions: the names of the
    job definitions whose jobs can run on it. resource: the CfnJobQueue.
    """

    name: str
    job_queue_name: str
    job_queue_arn: str
    compute_environments: tuple[str, ...]
    job_definitions: tuple[str, ...]
    resource: batch.CfnJobQueue


@dataclass(frozen=True)
class BatchJobDefinition:
    """One job definition of a BatchOrchestration: `orchestration.job_definition("mpi")`.

    name: its spec's name. job_definition_name: Batch's name for it, named like the queues. job_definition_arn:
    the ARN of the revision CloudFormation registered (…:job-definition/<job_definition_name>:<revision>), which
    is what Batch authorizes SubmitJob against. kind: "multinode" or "container". queues: the names of the
    queues its jobs can run on. resource: the CfnJobDefinition.
    """

    name: str
    job_definition_name: str
    job_definition_arn: str
    kind: str
    queues: tuple[str, ...]
    resource: batch.CfnJobDefinition


@jsii.implements(ec2.IConnectable)
class BatchComputeEnvironment(Construct):
    """One managed EC2 compute environment and its nodes: launch template, role, security group and user data.

    Made by BatchOrchestration from an EnvironmentPlan. A mount target (hpc_constructs.mounting.MountTarget):
    StorageLayer.mount_on(environment) mounts storage on its nodes as on a fleet's, and the environment
    (its default child, which launches the nodes) waits for the rules. Batch merges its own user data
    with the launch template's, so the launch template carries a MIME multi-part document whose shell
    part is `user_data`.

    Where multi-node jobs run with the launch template's network interfaces (EFA), Batch refuses security
    groups on the environment, and the jobs' awsvpc interfaces get the VPC's default security group
    (job_interface_security_group, made ready by BatchOrchestration); elsewhere they get the environment's
    groups.

    Attributes: resource (the CfnComputeEnvironment), launch_template, role, instance_profile,
    security_group, connections (its group, and the fleet's when made from one), user_data,
    placement_group_name (None without one), job_interface_security_groups (the groups the interfaces of
    its multi-node jobs get, as Batch chooses them), plan.
    """

    @check_kinds
    def __init__(self, scope: Construct, id: str, *, vpc: ec2.IVpc, plan: EnvironmentPlan,
                 subnets: Sequence[ec2.ISubnet], fleet: ComputeFleet | None, root_volume_size_gib: int,
                 update_job_timeout_minutes: int = BATCH.default_update_job_execution_timeout_minutes,
                 job_interface_security_group: ec2.ISecurityGroup | None = None,
                 image_id: str | None = None, security_groups: Sequence[ec2.ISecurityGroup] = (),
                 instance_role: iam.IRole | None = None) -> None:
        super().__init__(scope, id)
        self.plan = plan
        # What the environment's HpcImage holds: mount_on and the steps below leave its installs out.
        self.image_contents: frozenset[str] = plan.image.contents if plan.image is not None else ECS_IMAGE_CONTENTS
        given = list(security_groups)
        self.security_group: ec2.ISecurityGroup = given[0] if given else ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, allow_all_outbound=True,
            description=f"{self.node.path}: Batch nodes of {plan.name}")
        self_rules: list[Construct] = []
        if plan.runs_multi_node or plan.efa:
            # MPI between the nodes (and, for EFA, its OS-bypass traffic, which is not IP: the 0.0.0.0/0
            # egress rule does not cover it).
            self_rules = given_self_rules(self, self.security_group, (
                "All traffic from the environment's nodes (MPI, EFA)",
                "All traffic to the environment's nodes (EFA is not IP)"), what="the environment's nodes")
        groups: list[ec2.ISecurityGroup] = [self.security_group, *given[1:]]
        if fleet is not None:
            groups.append(fleet.security_group)
        self._connections = ec2.Connections(security_groups=groups)

        self.role = given_instance_role(
            self, instance_role, description=f"{self.node.path}: ECS container instances of {plan.name}",
            policies={ECS_INSTANCE_POLICY: "The AWS-maintained policy Batch documents for its ECS container "
                                           "instances.",
                      SSM_POLICY: "AWS-maintained least-privilege policy for Session Manager access to nodes."},
            why="the ECS agent (joining the cluster, pulling images) and Session Manager")
        self.instance_profile = iam.CfnInstanceProfile(self, "InstanceProfile", roles=[self.role.role_name])

        self.user_data = ec2.UserData.for_linux()
        nodes = nodes_of(self.node.path, self)  # the boot prelude, once; storage mounts reuse it
        nodes.add_boot_commands(*boot.image_check(plan.image.contents if plan.image is not None else frozenset()))
        # Jobs act with their job role only: the agent hands it to them, and the instance role stays out of reach
        # (container jobs run as root in the host's network, multi-node jobs in awsvpc tasks).
        nodes.add_boot_commands(*boot.function("hpc_ecs_agent_settings", [
            "mkdir -p /etc/ecs", "touch /etc/ecs/ecs.config",
            *(f"grep -qx '{setting}' /etc/ecs/ecs.config || echo '{setting}' >> /etc/ecs/ecs.config"
              for setting in ECS_AGENT_SETTINGS)]),
            boot.step("ECS agent settings (job roles, no instance metadata for awsvpc tasks)",
                      "hpc_ecs_agent_settings"))
        nodes.install_boot_script(boot.IMDS_GUARD_SCRIPT)
        nodes.add_boot_commands(*boot.imds_guard(ecs_tasks=True))
        if plan.efa and EFA not in self.image_contents:
            # Batch's ECS images have no EFA software: the pinned installer, GPG-verified, at first boot.
            nodes.install_boot_script("hpc-efa-install")
            nodes.add_boot_commands(boot.step(
                f"EFA software {EFA_INSTALLER.version}", "/usr/local/sbin/hpc-efa-install", EFA_INSTALLER.version,
                EFA_INSTALLER.key_fingerprint))
        multipart = ec2.MultipartUserData()
        multipart.add_user_data_part(self.user_data, ec2.MultipartBody.SHELL_SCRIPT, True)
        self.node.add_validation(UserDataFits(self, multipart))
        self.launch_template = ec2.LaunchTemplate(
            self, "LaunchTemplate",
            user_data=multipart,
            require_imdsv2=True,
            http_tokens=ec2.LaunchTemplateHttpTokens.REQUIRED,
            # 1: nothing but the host needs it (the ECS agent runs in the host's network; jobs are refused by
            # hpc-imds-guard and ECS_AWSVPC_BLOCK_IMDS and get their credentials from the agent).
            http_put_response_hop_limit=1,
            block_devices=[ec2.BlockDevice(device_name=AL2023_ROOT_DEVICE, volume=ec2.BlockDeviceVolume.ebs(
                root_volume_size_gib, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3,
                delete_on_termination=True))],
        )
        if plan.network is not None:
            # Batch refuses security groups on the environment beside a launch template's interfaces:
            # the groups go on every interface instead.
            cfn_template = cast(ec2.CfnLaunchTemplate, self.launch_template.node.default_child)
            cfn_template.add_property_override("LaunchTemplateData.NetworkInterfaces", launch_template_interfaces(
                plan.network.interfaces, [g.security_group_id for g in groups]))

        self.placement_group_name: str | None = None
        if plan.placement_group:
            if fleet is not None and fleet.placement_group is not None:
                self.placement_group_name = fleet.placement_group.placement_group_name
            else:
                self.placement_group_name = cluster_placement_group(self, "PlacementGroup").placement_group_name
        self.resource = batch.CfnComputeEnvironment(
            self, "Resource", type="MANAGED", state="ENABLED",
            # Changes are applied in place (Batch's infrastructure updates), never by replacing the
            # environment under running jobs; nodes then move to the newest image and launch template.
            replace_compute_environment=False,
            # An infrastructure update lets running jobs finish (up to the longest job's timeout) before it
            # replaces their instances; Batch's default (30 minutes) would end longer jobs.
            update_policy=batch.CfnComputeEnvironment.UpdatePolicyProperty(
                job_execution_timeout_minutes=update_job_timeout_minutes, terminate_jobs_on_update=False),
            compute_resources=batch.CfnComputeEnvironment.ComputeResourcesProperty(
                type=plan.resource_type,
                allocation_strategy="SPOT_PRICE_CAPACITY_OPTIMIZED" if plan.resource_type == "SPOT"
                else "BEST_FIT_PROGRESSIVE",
                minv_cpus=plan.min_vcpus,
                maxv_cpus=plan.max_vcpus,
                instance_types=list(plan.instance_types),
                instance_role=self.instance_profile.attr_arn,
                subnets=[s.subnet_id for s in subnets],
                security_group_ids=None if plan.network is not None else [g.security_group_id for g in groups],
                launch_template=batch.CfnComputeEnvironment.LaunchTemplateSpecificationProperty(
                    launch_template_id=self.launch_template.launch_template_id,
                    version=self.launch_template.latest_version_number),
                placement_group=self.placement_group_name,
                ec2_configuration=[batch.CfnComputeEnvironment.Ec2ConfigurationObjectProperty(
                    image_type=i, image_id_override=image_id) for i in plan.image_types],
                update_to_latest_image_version=True,
            ))
        tags_on_instances(self.resource)
        # The groups Batch gives a multi-node job's awsvpc interfaces (mnp-ce): the environment's, or, when the
        # launch template carries the interfaces and the environment none, the VPC's default group.
        self.job_interface_security_groups: list[ec2.ISecurityGroup] = (
            [] if not plan.runs_multi_node else groups if plan.network is None
            else [g for g in [job_interface_security_group] if g is not None])
        # The nodes must not boot before the rules MPI and EFA need between them.
        if self_rules:
            self.resource.node.add_dependency(*self_rules)
        self.path_endpoint = paths.nodes(self.resource, f"{self.node.path} nodes")
        if self_rules:
            paths.declare_network(self.resource, self.path_endpoint, self.path_endpoint, protocol="all",
                                  both_directions=True, efa=plan.efa, why="MPI, EFA" if plan.efa else "MPI")
        for services, why in ((ECS_SERVICES, "the ECS agent"), (["logs"], "the jobs' awslogs driver"),
                              (paths.SSM, "Session Manager")):
            paths.declare_services(self.resource, self.path_endpoint, services, why=why)
        if plan.efa:
            paths.declare_services(self.resource, self.path_endpoint, ["internet"],
                                   why="EFA installer download at first boot, efa-installer.amazonaws.com")
        paths.declare_imds(self.resource, self.path_endpoint, max_hop_limit=1, ecs_tasks_blocked=True,
                           awsvpc_blocked=plan.runs_multi_node, why="a job gets its job role only")
        role = paths.role(self.role, f"{self.node.path} instance role")
        anchor = role_anchor(self.role, self.resource)
        paths.declare_iam(anchor, role, ECS_AGENT_ACTIONS, ["*"], on="any resource",
                          why="the ECS agent: register, pull from ECR, awslogs")
        paths.declare_iam(anchor, role, paths.SSM_ACTIONS, ["*"], on="any resource", why="Session Manager")

    @property
    def connections(self) -> ec2.Connections:
        return self._connections


@jsii.implements(ec2.IConnectable)
class BatchOrchestration(Construct):
    """AWS Batch for HPC: managed EC2 (or Fargate) environments, queues, MPI jobs over EFA, and job events.

    Props (keyword-only) and their defaults:
      vpc: the VPC (required).
      compute_environments: ComputeEnvironmentSpec per environment (at least one). On-Demand or Spot
                            (SPOT_PRICE_CAPACITY_OPTIMIZED); GPU types get Batch's ECS GPU image
                            (ECS_AL2023_NVIDIA), others ECS_AL2023. Every node: IMDSv2 required with hop
                            limit 1, the metadata service refused to jobs (they get their job role from
                            the ECS agent), an encrypted gp3 root volume, SSM. Infrastructure updates wait
                            for running jobs up to the longest job's timeout (at most 7,200 minutes).
      job_queues: (). JobQueueSpec per queue; () makes one queue, "default", over every environment.
      multi_node_jobs: (). MultiNodeJobSpec per MPI job definition; their environment gets one subnet and
                       a cluster placement group and, with EFA, an EFA interface on every card.
      container_jobs: (). ContainerJobSpec per single-container job definition.
      storage: None. A StorageLayer, a LustreFileSystem or an EfsFileSystem (made alone or imported:
               LustreFileSystem.from_lustre_file_system_attributes, EfsFileSystem.from_file_system), or a list of
               them: mounted on every EC2 environment's nodes as on a fleet's (Lustre at its mount point, EFS;
               not EBS volumes), and into every EC2 job's containers at the same paths; the jobs' role may read
               and write a StorageLayer's bucket. A tier mounted later on one environment
               (`tier.mount_on(batch.environment_constructs["cpu"])`) reaches the containers of the jobs that
               run only there; a path mounted on some but not all of a job's environments is left out of its
               containers, with a warning.
      job_events: True: FAILED and SUCCEEDED jobs of these queues go to an encrypted SNS topic and on to an
                  SQS queue ("default") with a dead-letter queue; subscribe_queue / subscribe_function add
                  consumers. False: none.
      log_retention_days: 30, for the jobs' log group (retained on stack deletion).
      vpc_default_security_group: None. The VPC's default security group, which Batch gives the interfaces
                  of multi-node jobs on an environment whose launch template carries the network interfaces
                  (EFA): Batch takes no security groups beside them. None takes it from an ec2.Vpc made in
                  the app. The library adds to it, when the group has no rules of its own (an ec2.Vpc with
                  restrict_default_security_group, as HpcNetwork makes), what the jobs need: all traffic to
                  and from the group itself (MPI between the nodes) and HTTPS out (S3, ECR and the other AWS
                  APIs a job calls). An imported VPC's group must be passed; pass it with mutable=False when
                  it keeps AWS's default rules (all traffic from itself, all out), which already admit both.

    Job queues and job definitions are named <top-level stack>-<name>, and <top-level stack>-<nested stack
    id>-<name> inside a nested stack: one that moves between templates (a stack that first splits into nested
    stacks, or a regrouping) gets a new name, because CloudFormation creates the new one before it deletes the
    old one, and a fixed name still taken would fail the deploy. Such a move deletes the old queue (its jobs
    end); `hpc_constructs.changes` reports it before the deploy.

    Rules (checked in one place, batch_plan.plan_batch, in its docstring's order): names; environments
    (types, architecture, image, Spot, vCPUs, Fargate); multi-node jobs (On-Demand EC2 only, 2-1,000
    nodes, 5 ranges covering 0..n-1, one type the environment launches, resources, max_vcpus for all
    nodes, one subnet, EFA); container jobs (resources fit an instance the environment launches);
    queues (1-3 environments, one architecture, EC2 and Fargate apart, distinct priorities where they
    share environments). Every job has a timeout and a retry strategy that retries only lost hosts.

    Attributes: compute_environments, job_queues, job_definitions (dicts keyed by name: the L1
    resources), environment_constructs (BatchComputeEnvironment by name, EC2 environments), events
    (JobEvents or None), events_topic,
    event_queues (dict by name), job_role, log_group, plan, connections (every environment's security
    groups and the groups of its multi-node jobs' interfaces), job_interface_security_group (the VPC's
    default group when a multi-node job needs it, else None); subscribe_queue(queue),
    subscribe_function(function).
    """

    @check_kinds
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc,
        compute_environments: Sequence[ComputeEnvironmentSpec],
        job_queues: Sequence[JobQueueSpec] = (),
        multi_node_jobs: Sequence[MultiNodeJobSpec] = (),
        container_jobs: Sequence[ContainerJobSpec] = (),
        storage: Mountable | Sequence[Mountable] | None = None,
        job_events: bool = True,
        log_retention_days: int = 30,
        vpc_default_security_group: ec2.ISecurityGroup | None = None,
    ) -> None:
        super().__init__(scope, id)
        subnets, self.plan = _validate(self.node.path, vpc, compute_environments, job_queues, multi_node_jobs,
                                       container_jobs, log_retention_days)
        plan = self.plan
        self.figures: dict[str, object] = {}
        specs = {s.name: s for s in compute_environments}
        # Queues and job definitions are named after the top-level stack (a nested stack's own name is a token)
        # and the nested stacks' ids between: see physical_name_prefix.
        queue_prefix = physical_name_prefix(self)
        _count_in_region(self, queue_prefix, plan)
        self.job_interface_security_group: ec2.ISecurityGroup | None = None
        self._job_interface_rules: list[Construct] = []
        if any(e.runs_multi_node and e.network is not None for e in plan.environments.values()):
            self.job_interface_security_group = self._job_interface_group(vpc, vpc_default_security_group)

        self.log_group = logs.LogGroup(self, "JobLogs", removal_policy=removal(RemovalPolicy.RETAIN))
        cast(logs.CfnLogGroup, self.log_group.node.default_child).retention_in_days = log_retention_days
        self.job_role = iam.Role(self, "JobRole", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
                                 description=f"{self.node.path}: what the jobs' containers may do")
        self.storage: tuple[Mountable, ...] = storage_items(storage)
        self._bucket_granted = False
        for item in self.storage:
            if isinstance(item, StorageLayer) and item.bucket is not None:
                self._grant_bucket(item.bucket)
                self._bucket_granted = True

        self.environment_constructs: dict[str, BatchComputeEnvironment] = {}
        self.compute_environments: dict[str, batch.CfnComputeEnvironment] = {}
        self._connections = ec2.Connections()
        if self.job_interface_security_group is not None:
            self._connections.add_security_group(self.job_interface_security_group)
        for name, environment in plan.environments.items():
            self.compute_environments[name] = self._environment(vpc, specs[name], environment, subnets[name])

        self.job_queues: dict[str, batch.CfnJobQueue] = {}
        for queue in plan.queues:
            self.job_queues[queue.name] = batch.CfnJobQueue(
                self, f"Queue{queue.name}", job_queue_name=_physical_name(self.node.path, queue_prefix, queue.name),
                priority=queue.priority, state="ENABLED",
                compute_environment_order=[
                    batch.CfnJobQueue.ComputeEnvironmentOrderProperty(
                        order=order, compute_environment=self.compute_environments[e].attr_compute_environment_arn)
                    for order, e in enumerate(queue.environments, start=1)])
            self.figures[f"queue {queue.name}"] = (f"priority {queue.priority}: {', '.join(queue.environments)}; "
                                                   f"up to {queue.max_vcpus:,} vCPUs")

        self._execution_role: iam.Role | None = None
        self.job_definitions: dict[str, batch.CfnJobDefinition] = {}
        for job in plan.multi_node_jobs:
            self.job_definitions[job.spec.name] = self._multi_node_job(job)
        for container_job in plan.container_jobs:
            self.job_definitions[container_job.spec.name] = self._container_job(container_job)
        Aspects.of(self).add(_PartlyMounted(self))

        self.events: JobEvents | None = None
        if job_events:
            self.events = JobEvents(self, "JobEvents",
                                    job_queue_arns=[q.attr_job_queue_arn for q in self.job_queues.values()],
                                    job_queue_names=[f"{queue_prefix}{name}" for name in self.job_queues])
        self.node.add_metadata("hpc:figures", self.figures)
        for name, queue_resource in self.job_queues.items():
            CfnOutput(self, f"Queue{name}Arn", value=queue_resource.ref,
                      description=f"Batch job queue {name}: submit-job --job-queue takes this ARN or its name")
        CfnOutput(self, "JobLogGroupName", value=self.log_group.log_group_name,
                  description="The jobs' stdout and stderr (aws logs tail ...)")
        for name, events_queue in self.event_queues.items():
            CfnOutput(self, f"EventQueue{name}Url", value=events_queue.queue_url,
                      description=f"Job events queue {name} (aws sqs receive-message --queue-url ...)")

    # -- queues, job definitions, submitters -----------------------------------------------------------

    @check_kinds
    def queue(self, name: str) -> BatchJobQueue:
        """The job queue `name` (a JobQueueSpec's name; "default" when job_queues was left empty)."""
        if name not in self.job_queues:
            raise ConfigError(self.node.path, "queue(name)", name, f"one of the queues: {', '.join(self.job_queues)}")
        plan = next(q for q in self.plan.queues if q.name == name)
        resource = self.job_queues[name]
        return BatchJobQueue(name, _physical_name(self.node.path, physical_name_prefix(self), name),
                             resource.attr_job_queue_arn, plan.environments,
                             tuple(j for j, environments in self._runs_on().items()
                                   if set(environments) & set(plan.environments)),
                             resource)

    @check_kinds
    def job_definition(self, name: str) -> BatchJobDefinition:
        """The job definition `name` (a MultiNodeJobSpec's or ContainerJobSpec's name)."""
        if name not in self.job_definitions:
            raise ConfigError(self.node.path, "job_definition(name)", name,
                              f"one of the job definitions: {', '.join(self.job_definitions) or 'none'}")
        resource = self.job_definitions[name]
        environments = set(self._runs_on()[name])
        return BatchJobDefinition(
            name, _physical_name(self.node.path, physical_name_prefix(self), name), resource.attr_job_definition_arn,
            "multinode" if any(j.spec.name == name for j in self.plan.multi_node_jobs) else "container",
            tuple(q.name for q in self.plan.queues if environments & set(q.environments)), resource)

    @check_kinds
    def grant_submit_job(self, grantee: iam.IGrantable, queue: str | BatchJobQueue, *,
                         job_definitions: Sequence[str] | None = None) -> iam.Grant:
        """Let `grantee` submit jobs to `queue` (its name or BatchJobQueue) with the job definitions whose jobs
        can run there (or the named ones): batch:SubmitJob on the queue's ARN and on each job definition's ARN,
        nothing else (Batch authorizes SubmitJob against both, the job definition with its revision). No
        wildcard: the policy names the revision CloudFormation registered and follows it when a deploy registers
        a new one.
        """
        chosen = self.queue(queue if isinstance(queue, str) else queue.name)
        names = chosen.job_definitions if job_definitions is None else tuple(job_definitions)
        for name in names:
            if name not in chosen.job_definitions:
                runs = self.job_definition(name)
                raise ConfigError(self.node.path, "grant_submit_job(job_definitions)", name,
                                  f"job definitions whose jobs can run on {chosen.name}: "
                                  f"{', '.join(chosen.job_definitions) or 'none'}",
                                  hint=f"{name}'s jobs run on the queues {', '.join(runs.queues) or 'none'}.")
        if not names:
            raise ConfigError(self.node.path, "grant_submit_job(queue)", chosen.name,
                              "a queue on which one of the job definitions of this orchestration runs",
                              hint="Batch authorizes SubmitJob against the queue and the job definition together; "
                                   f"none of this orchestration's job definitions runs on {chosen.name}.")
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["batch:SubmitJob"],
            resource_arns=[chosen.job_queue_arn, *(self.job_definition(n).job_definition_arn for n in names)])

    def _runs_on(self) -> dict[str, tuple[str, ...]]:
        """Each job definition's name -> the environments its jobs may run on."""
        runs: dict[str, tuple[str, ...]] = {j.spec.name: (j.environment,) for j in self.plan.multi_node_jobs}
        runs.update({j.spec.name: j.environments for j in self.plan.container_jobs})
        return runs

    def _grant_bucket(self, bucket: s3.IBucket) -> None:
        """Jobs list, read and write the storage's bucket (results with `aws s3 cp`); they never delete in it."""
        self.job_role.add_to_policy(iam.PolicyStatement(actions=list(JOB_BUCKET_ACTIONS),
                                                        resources=[bucket.bucket_arn]))
        self.job_role.add_to_policy(iam.PolicyStatement(actions=list(JOB_OBJECT_ACTIONS),
                                                        resources=[bucket.arn_for_objects("*")]))
        role = paths.role(self.job_role, f"{self.node.path} job role")
        paths.declare_iam(self.job_role, role, JOB_BUCKET_ACTIONS, [bucket.bucket_arn],
                          on=f"the bucket {bucket.node.path}")
        paths.declare_iam(self.job_role, role, JOB_OBJECT_ACTIONS, [bucket.arn_for_objects("*")],
                          on=f"the objects of {bucket.node.path}")
        acknowledge_wildcards(self.job_role, suffixes=["/*"], reason=(
            "Jobs read and write the objects of the StorageLayer's bucket, the HPC data they process; they "
            "cannot delete objects."))

    @property
    def connections(self) -> ec2.Connections:
        """The security groups of every environment's nodes (ec2.IConnectable)."""
        return self._connections

    def path_sources(self, group_id: str) -> list[dict[str, Any]]:
        """How hpc-verify names the interfaces that carry `group_id` (a path's source, for a construct that admits
        this orchestration, as HaInstance.allow_from): the VPC default group is carried by the multi-node jobs'
        containers of each environment that runs them; any other group: [] (the interfaces that carry it)."""
        job_group = self.job_interface_security_group
        if job_group is not None and group_id == job_group.security_group_id:
            return [paths.batch_jobs(environment.resource, f"{self.node.path} {name}'s multi-node jobs' containers")
                    for name, environment in self.environment_constructs.items()
                    if self.plan.environments[name].runs_multi_node]
        return []

    @property
    def events_topic(self) -> sns.Topic | None:
        """The SNS topic of job events, or None with job_events=False."""
        return self.events.topic if self.events is not None else None

    @property
    def event_queues(self) -> dict[str, sqs.Queue]:
        """The SQS queues that receive job events, by name ({} with job_events=False)."""
        return self.events.queues if self.events is not None else {}

    @check_kinds
    def subscribe_queue(self, queue: sqs.IQueue) -> None:
        """Deliver job events to the user's queue as well (it must have a dead-letter queue)."""
        self._require_events("subscribe_queue").subscribe_queue(queue)

    @check_kinds
    def subscribe_function(self, function: lambda_.IFunction, *, name: str | None = None,
                           function_timeout: Duration | None = None) -> sqs.Queue:
        """Run a Lambda function for every job event, through an events queue of its own with a DLQ, whose
        visibility timeout is six times the function's timeout (JobEvents.subscribe_function: give
        function_timeout for a function whose timeout cannot be read, such as an imported one)."""
        return self._require_events("subscribe_function").subscribe_function(function, name=name,
                                                                             function_timeout=function_timeout)

    def _job_interface_group(self, vpc: ec2.IVpc, given: ec2.ISecurityGroup | None) -> ec2.ISecurityGroup:
        """The VPC's default security group, ready for the awsvpc interfaces of multi-node jobs on EFA environments.

        Batch's guide (Compute environment considerations for MNP): the interfaces "will use the security groups
        specified in your compute environment. If you don't specify a security group, the default security
        group for the VPC is used", and Batch refuses security groups on an environment whose launch template
        carries the network interfaces. The rules below reference only the group itself (and HTTPS out), so they
        admit nothing but other members of the default group, which holds no instance of the library's.
        """
        restriction: IConstruct | None = None
        if given is None:
            if not isinstance(vpc, ec2.Vpc):
                raise ConfigError(self.node.path, "vpc_default_security_group", None,
                                  "the VPC's default security group, for an imported VPC",
                                  hint="Batch gives the interfaces of multi-node jobs on an EFA environment the VPC's "
                                       "default security group. Pass vpc_default_security_group=ec2.SecurityGroup."
                                       "from_security_group_id(self, 'Default', '<its sg- id>'): the library adds "
                                       "all traffic to and from itself and HTTPS out to it (add mutable=False if "
                                       "the group keeps AWS's default rules, which admit both already).")
            restriction = vpc.node.try_find_child(VPC_RESTRICTION_ID)
            # An ec2.Vpc without the restriction keeps AWS's default rules (all from itself, all out): MPI and
            # HTTPS are open already, and the same rule added again would fail as a duplicate.
            given = ec2.SecurityGroup.from_security_group_id(
                self, "VpcDefaultSecurityGroup", vpc.vpc_default_security_group, allow_all_outbound=False,
                mutable=restriction is not None)
        group = given
        group.add_ingress_rule(group, ec2.Port.all_traffic(),
                               "hpc-constructs: MPI between the nodes of multi-node Batch jobs (awsvpc interfaces)")
        group.add_egress_rule(group, ec2.Port.all_traffic(),
                              "hpc-constructs: MPI between the nodes of multi-node Batch jobs (awsvpc interfaces)")
        group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443),
                              "hpc-constructs: multi-node Batch jobs call AWS APIs over HTTPS (S3, ECR)")
        self._job_interface_rules = [c for c in group.node.find_all()
                                     if isinstance(c, ec2.CfnSecurityGroupIngress | ec2.CfnSecurityGroupEgress)]
        if restriction is not None:
            # The restriction revokes exactly "all traffic from the group itself" when it runs: our rule must be
            # made after it, or it would be revoked with AWS's default one.
            for rule in self._job_interface_rules:
                rule.node.add_dependency(restriction)
        return group

    def _require_events(self, what: str) -> JobEvents:
        if self.events is None:
            raise ConfigError(self.node.path, what, "job_events=False", "job_events=True to subscribe to job events")
        return self.events

    # -- compute environments ----------------------------------------------------------------------

    def _environment(self, vpc: ec2.IVpc, spec: ComputeEnvironmentSpec, plan: EnvironmentPlan,
                     subnets: Sequence[ec2.ISubnet]) -> batch.CfnComputeEnvironment:
        if plan.fargate:
            scope = Construct(self, f"Environment{plan.name}")
            fargate_groups = list(spec.security_groups) or [ec2.SecurityGroup(
                scope, "SecurityGroup", vpc=vpc, allow_all_outbound=True,
                description=f"{scope.node.path}: Fargate jobs of {plan.name}")]
            for group in fargate_groups:
                self._connections.add_security_group(group)
            self.figures[f"environment {plan.name}"] = f"{plan.resource_type}, up to {plan.max_vcpus:,} vCPUs"
            fargate = batch.CfnComputeEnvironment(
                scope, "Resource", type="MANAGED", state="ENABLED",
                compute_resources=batch.CfnComputeEnvironment.ComputeResourcesProperty(
                    type=plan.resource_type, maxv_cpus=plan.max_vcpus, subnets=[s.subnet_id for s in subnets],
                    security_group_ids=[g.security_group_id for g in fargate_groups]))
            tags_on_instances(fargate, fargate=True)
            return fargate
        fleet = spec.fleet
        update_minutes = self.plan.update_job_timeout_minutes(plan.name)
        environment = BatchComputeEnvironment(
            self, f"Environment{plan.name}", vpc=vpc, plan=plan, subnets=subnets, fleet=fleet,
            root_volume_size_gib=spec.root_volume_size_gib, update_job_timeout_minutes=update_minutes,
            image_id=spec.image.image_id if spec.image is not None else None,
            job_interface_security_group=self.job_interface_security_group if plan.network is not None else None,
            security_groups=spec.security_groups, instance_role=spec.instance_role)
        if plan.runs_multi_node and plan.network is not None and self._job_interface_rules:
            environment.resource.node.add_dependency(*self._job_interface_rules)
        self.environment_constructs[plan.name] = environment
        for environment_group in environment.connections.security_groups:
            self._connections.add_security_group(environment_group)
        for item in self.storage:
            mount_storage(item, environment)
        network = plan.network
        self.figures[f"environment {plan.name}"] = (
            f"{'Spot' if plan.resource_type == 'SPOT' else 'On-Demand'} {', '.join(plan.instance_types)}, "
            f"{plan.min_vcpus}-{plan.max_vcpus:,} vCPUs, image {' + '.join(plan.image_types)}"
            + (f" ({plan.image.description})" if plan.image is not None else "")
            + (f", EFA interfaces per node: {network.efa_interface_count}" if network is not None and network.efa
               else "")
            + (", cluster placement group" if plan.placement_group else "")
            + (f", from {fleet.node.path}" if fleet is not None else "")
            + f"; infrastructure updates wait up to {update_minutes:,} minutes for running jobs"
            + (f" (its longest job may run {self.plan.longest_job_minutes(plan.name):,}: longer than Batch allows)"
               if self.plan.longest_job_minutes(plan.name) > update_minutes else ""))
        return environment.resource

    # -- job definitions -------------------------------------------------------------------------------

    def _container(self, image: str, command: Sequence[str], environment: dict[str, str], vcpus: float,
                   memory_mib: int, gpus: int, *, environments: Sequence[str]) -> dict[str, Any]:
        requirements = [{"Type": "VCPU", "Value": f"{vcpus:g}"}, {"Type": "MEMORY", "Value": str(memory_mib)}]
        if gpus:
            requirements.append({"Type": "GPU", "Value": str(gpus)})
        container: dict[str, Any] = {
            "Image": image,
            "ResourceRequirements": requirements,
            "JobRoleArn": self.job_role.role_arn,
            "LogConfiguration": {"LogDriver": "awslogs", "Options": {"awslogs-group": self.log_group.log_group_name}},
        }
        if command:
            container["Command"] = list(command)
        # The metadata service is refused to jobs, so SDKs cannot read the Region there (Fargate sets these itself).
        environment = {"AWS_REGION": Aws.REGION, "AWS_DEFAULT_REGION": Aws.REGION, **environment}
        container["Environment"] = [{"Name": k, "Value": v} for k, v in sorted(environment.items())]
        if environments:
            # Read when the template is written: storage mounted on an environment after this (a tier's
            # mount_on(orchestration.environment_constructs[...])) reaches the containers as well.
            volumes = _ContainerVolumes(self, environments)
            container["Volumes"] = Lazy.any(_Produce(volumes.volumes), omit_empty_array=True)
            container["MountPoints"] = Lazy.any(_Produce(volumes.mount_points), omit_empty_array=True)
        return container

    def mount_points(self, environments: Sequence[str]) -> tuple[str, ...]:
        """The host paths mounted on every one of `environments` (BatchComputeEnvironment names), in mount order:
        what a job that may run on any of them sees in its containers at the same paths."""
        shared: list[str] | None = None
        for name in environments:
            on_hosts = nodes_of(self.node.path, self.environment_constructs[name]).mount_points
            shared = list(on_hosts) if shared is None else [p for p in shared if p in on_hosts]
        return tuple(shared or ())

    def _multi_node_job(self, job: MultiNodeJobPlan) -> batch.CfnJobDefinition:
        spec, t = job.spec, job.instance_type
        ranges = []
        for start, end, command in job.ranges:
            container = self._container(spec.image, command, dict(spec.environment), job.resources.vcpus,
                                        job.resources.memory_mib, job.resources.gpus, environments=(job.environment,))
            container["InstanceType"] = t.name
            # MPI and EFA pin memory for RDMA: without an unlimited memlock, registering buffers fails.
            container["Ulimits"] = [{"Name": "memlock", "SoftLimit": -1, "HardLimit": -1}]
            linux: dict[str, Any] = {"SharedMemorySize": job.shared_memory_mib}
            if job.efa_devices:
                linux["Devices"] = [{"HostPath": d, "ContainerPath": d, "Permissions": ["READ", "WRITE", "MKNOD"]}
                                    for d in job.efa_devices]
            container["LinuxParameters"] = linux
            ranges.append({"TargetNodes": f"{start}:{end}", "Container": container})
        definition = self._definition(spec.name, "multinode", spec.timeout_minutes, spec.attempts,
                                      ["EC2"])
        definition.add_property_override("NodeProperties", {"NumNodes": spec.num_nodes, "MainNode": 0,
                                                            "NodeRangeProperties": ranges})
        environment = self.environment_constructs[job.environment]
        containers = paths.batch_jobs(environment.resource, f"{self.node.path} job {spec.name}'s containers")
        paths.declare_network(definition, containers, containers, protocol="all", both_directions=True,
                              why="MPI: the child nodes reach AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS")
        if self._bucket_granted:
            paths.declare_services(definition, containers, ["s3"], why="the job's data in the storage's bucket")
        self._declare_image(definition, environment, spec.image)
        self.figures[f"job {spec.name}"] = (
            f"multi-node: {spec.num_nodes} x {t.name} on {job.environment}; EFA interfaces per node: "
            f"{len(job.efa_devices)}; aggregate network bandwidth {spec.num_nodes * job.network_bandwidth_gbps:,g} "
            f"Gbps ({spec.num_nodes} x {job.network_bandwidth_gbps:g}, what each node's interfaces carry)")
        return definition

    def _container_job(self, job: ContainerJobPlan) -> batch.CfnJobDefinition:
        spec = job.spec
        platform = "FARGATE" if job.fargate else "EC2"
        definition = self._definition(spec.name, "container", spec.timeout_minutes, spec.attempts,
                                      [platform])
        container = self._container(spec.image, spec.command, dict(spec.environment), job.resources.vcpus,
                                    job.resources.memory_mib, job.resources.gpus,
                                    environments=() if job.fargate else job.environments)
        if job.fargate:
            container["ExecutionRoleArn"] = self._fargate_execution_role().role_arn
            container["NetworkConfiguration"] = {"AssignPublicIp": "DISABLED"}
            container["FargatePlatformConfiguration"] = {"PlatformVersion": "LATEST"}
        definition.add_property_override("ContainerProperties", container)
        for name in job.environments:
            if name in self.environment_constructs:
                self._declare_image(definition, self.environment_constructs[name], spec.image)
        self.figures[f"job {spec.name}"] = (
            f"container on {platform}: {job.resources.vcpus:g} vCPUs, {job.resources.memory_mib:,} MiB"
            + (f", {job.resources.gpus} GPU{'s' if job.resources.gpus > 1 else ''}" if job.resources.gpus else "")
            + f"; fits {', '.join(job.environments)}")
        return definition

    def _definition(self, name: str, kind: str, timeout_minutes: int, attempts: int,
                    platforms: list[str]) -> batch.CfnJobDefinition:
        physical = _physical_name(self.node.path, physical_name_prefix(self), name)
        return batch.CfnJobDefinition(
            self, f"Job{name}", type=kind, job_definition_name=physical,
            platform_capabilities=platforms, propagate_tags=True,
            timeout=batch.CfnJobDefinition.TimeoutProperty(attempt_duration_seconds=timeout_minutes * 60),
            retry_strategy=batch.CfnJobDefinition.RetryStrategyProperty(attempts=attempts, evaluate_on_exit=[
                batch.CfnJobDefinition.EvaluateOnExitProperty(action="RETRY", on_status_reason=RETRY_ON_STATUS_REASON),
                batch.CfnJobDefinition.EvaluateOnExitProperty(action="EXIT", on_reason="*")]))

    def _declare_image(self, definition: batch.CfnJobDefinition, environment: BatchComputeEnvironment,
                       image: str) -> None:
        """The environment's nodes pull the job's image (the ECS agent, through the host's network)."""
        paths.declare_services(definition, environment.path_endpoint, paths.image_services(image),
                               why=f"pull {image}")

    def _fargate_execution_role(self) -> iam.Role:
        if self._execution_role is None:
            self._execution_role = iam.Role(
                self, "FargateExecutionRole", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
                description=f"{self.node.path}: pulls images and writes logs for Fargate jobs",
                managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(TASK_EXECUTION_POLICY)])
            Validations.of(self._execution_role).acknowledge(Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                   f"{TASK_EXECUTION_POLICY}]",
                reason="The AWS-maintained execution policy Fargate needs to pull images and write logs."))
        return self._execution_role

    # -- monitoring (HpcDashboard) ---------------------------------------------------------------------

    def monitoring(self, scope: Construct, settings: MonitoringSettings | None = None) -> Monitoring:
        """Jobs that fail, queues that a RUNNABLE job blocks, and job events nobody received
        (hpc_constructs.monitoring).

        Events the dashboard counts (an alarm on the first one): 'Batch Job State Change' to FAILED, and 'Batch Job
        Queue Blocked', of these job queues (split over rules as JobEvents splits its patterns). Alarms, in `scope`:
        any message in one of JobEvents' dead-letter queues (JobEvents.undelivered_metrics). No metric says how long
        a job has been RUNNABLE (catalog.metrics.NOT_PUBLISHED): Batch's blocked-queue event is its own detection.
        """
        from aws_cdk import aws_cloudwatch as cloudwatch
        from aws_cdk import aws_events as events

        from hpc_constructs import dashboard_plan as dp
        from hpc_constructs.job_events import pattern_batches
        from hpc_constructs.monitoring import EventWatch, graph, watch

        path = self.node.path
        result = Monitoring(title=f"{path} (BatchOrchestration)")
        queues = list(self.job_queues.values())
        arns = [q.attr_job_queue_arn for q in queues]
        names: list[str | None] = [q.job_queue_name for q in queues]
        for number, batch_ in enumerate(pattern_batches(names), start=1):
            suffix = "" if number == 1 else str(number)
            chosen = [arns[i] for i in batch_]
            result.events += [
                EventWatch(f"JobsFailed{suffix}", what=f"{path}: jobs that failed", why=dp.WHY_JOB_FAILED,
                           pattern=events.EventPattern(source=["aws.batch"], detail_type=["Batch Job State Change"],
                                                       detail={"status": ["FAILED"], "jobQueue": chosen})),
                EventWatch(f"QueueBlocked{suffix}", what=f"{path}: job queues a RUNNABLE job blocks",
                           why=dp.WHY_QUEUE_BLOCKED,
                           pattern=events.EventPattern(source=["aws.batch"], detail_type=["Batch Job Queue Blocked"],
                                                       detail={"jobQueue": chosen})),
            ]
        if self.events is None:
            result.notes.append(f"{path}: job_events=False, so there are no dead-letter queues to watch.")
            return result
        undelivered = self.events.undelivered_metrics()
        result.widgets.append(graph("Batch: undelivered job events",
                                    [depth.with_(label=name) for name, depth in undelivered.items()],
                                    unit="messages", lines={"alarm": 1}))
        for name, depth in undelivered.items():
            result.alarms.append(watch(
                scope, "DeadLetters" + "".join(w.capitalize() for w in name.replace("-", " ").split()),
                what=f"{path}: job events in a dead-letter queue ({name})", metric_=depth, threshold=1,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, periods=1,
                condition="at least 1 message (the maximum over 5 minutes)", why=dp.WHY_DEAD_LETTER))
        return result


@jsii.implements(IStableAnyProducer)
class _Produce:
    """A value computed when the template is written (after every mount_on), for Lazy.any."""

    def __init__(self, function: Callable[[], Any]) -> None:
        self._function = function

    def produce(self) -> Any:
        return self._function()


class _ContainerVolumes:
    """A job definition's host volumes: the paths mounted on every environment the job may run on."""

    def __init__(self, orchestration: BatchOrchestration, environments: Sequence[str]) -> None:
        self._orchestration = orchestration
        self._environments = tuple(environments)

    def volumes(self) -> list[dict[str, Any]]:
        return [{"Name": f"storage{i}", "Host": {"SourcePath": p}}
                for i, p in enumerate(self._orchestration.mount_points(self._environments))]

    def mount_points(self) -> list[dict[str, Any]]:
        return [{"SourceVolume": f"storage{i}", "ContainerPath": p, "ReadOnly": False}
                for i, p in enumerate(self._orchestration.mount_points(self._environments))]


@jsii.implements(IAspect)
class _PartlyMounted:
    """At synth, after every mount_on: warn about a path mounted on some but not all of a job's environments (its
    containers do not see it: on the others the host path would be an empty local directory)."""

    def __init__(self, orchestration: BatchOrchestration) -> None:
        self._orchestration = orchestration

    def visit(self, node: IConstruct) -> None:
        if node is not self._orchestration:
            return
        orchestration = self._orchestration
        fargate = {j.spec.name for j in orchestration.plan.container_jobs if j.fargate}
        for name, environments in orchestration._runs_on().items():
            if name in fargate:
                continue
            shared = set(orchestration.mount_points(environments))
            for environment in environments:
                hosts = nodes_of(orchestration.node.path, orchestration.environment_constructs[environment])
                for path in hosts.mount_points:
                    if path not in shared:
                        Annotations.of(orchestration.job_definitions[name]).add_warning_v2(
                            "hpc-constructs:batch-partly-mounted",
                            f"{path} is mounted on {environment} but not on every environment job {name} may run "
                            f"on ({', '.join(environments)}): its containers do not see {path}. Mount it on all of "
                            "them (storage= mounts on every EC2 environment).")


@jsii.implements(IStableAnyProducer)
class _TagValues:
    """The tags CDK's Tag aspects gave a resource, read when the template is written (after the aspects ran)."""

    def __init__(self, tags: TagManager) -> None:
        self._tags = tags

    def produce(self) -> Any:
        values = self._tags.tag_values()
        return dict(values) if values else None


def tags_on_instances(resource: batch.CfnComputeEnvironment, *, fargate: bool = False) -> None:
    """Keep tags off the environment's own Tags: CloudFormation's schema for AWS::Batch::ComputeEnvironment lists
    Tags as create-only (tagging.tagUpdatable false), so a changed app-wide tag would replace the environment.

    An EC2 environment's tags go to ComputeResources.Tags instead, which Batch puts on the instances it launches
    and updates in place (an infrastructure update: ComputeResourceUpdate.tags in the Batch API). Fargate
    environments take no ComputeResources.Tags: their tags are dropped.
    """
    if not fargate:
        resource.add_property_override("ComputeResources.Tags", Lazy.any(_TagValues(resource.tags)))
    resource.add_property_deletion_override("Tags")


def top_level_stack(scope: Construct) -> Stack:
    """The stack that holds `scope`, or, inside nested stacks, the top-level stack that holds them."""
    stack = Stack.of(scope)
    while stack.nested_stack_parent is not None:
        stack = stack.nested_stack_parent
    return stack


@dataclass
class _RegionUse:
    """What the app's BatchOrchestrations create in one account and Region, against Batch's quotas."""

    job_queues: dict[str, str] = field(default_factory=dict)  # physical name -> the orchestration's path
    compute_environments: int = 0
    job_definitions: dict[str, str] = field(default_factory=dict)


# app (by its root construct) -> (account, Region) -> use. Stacks without an environment share the
# unresolved account and Region tokens, as they share whatever account they are deployed to.
_REGION_USE: weakref.WeakKeyDictionary[Any, dict[tuple[str, str], _RegionUse]] = weakref.WeakKeyDictionary()


def _count_in_region(orchestration: Construct, prefix: str, plan: BatchPlan) -> None:
    """Batch's quotas hold per account and Region, across every orchestration of the app (nested stacks too):
    at most 50 job queues and 50 compute environments, and queue and job-definition names unique."""
    stack = top_level_stack(orchestration)
    use = _REGION_USE.setdefault(orchestration.node.root, {}).setdefault((stack.account, stack.region),
                                                                         _RegionUse())
    path = orchestration.node.path
    where = "every BatchOrchestration of the app in one account and Region"
    queues = [f"{prefix}{q.name}" for q in plan.queues]
    for physical in queues:
        if physical in use.job_queues:
            raise ConfigError(path, "job_queues", physical, "a job queue name not used by another BatchOrchestration",
                              hint=f"{use.job_queues[physical]} already names a job queue {physical}.")
    if len(use.job_queues) + len(queues) > BATCH.max_job_queues:
        raise ConfigError(path, "job_queues", f"{len(use.job_queues) + len(queues)} job queues",
                          f"at most {BATCH.max_job_queues} job queues across {where} (AWS Batch quota, not "
                          "adjustable)", hint=f"{len(use.job_queues)} are in other orchestrations; merge queues, "
                                              "or deploy some to another Region or account.")
    environments = use.compute_environments + len(plan.environments)
    if environments > BATCH.max_compute_environments:
        raise ConfigError(path, "compute_environments", f"{environments} compute environments",
                          f"at most {BATCH.max_compute_environments} compute environments across {where} (AWS "
                          "Batch quota, not adjustable)",
                          hint=f"{use.compute_environments} are in other orchestrations; a compute environment "
                               "can serve up to 3 queues.")
    jobs = [f"{prefix}{j.spec.name}" for j in plan.multi_node_jobs] + [f"{prefix}{c.spec.name}"
                                                                         for c in plan.container_jobs]
    for physical in jobs:
        if physical in use.job_definitions:
            raise ConfigError(path, "job definitions", physical,
                              "a job definition name not used by another BatchOrchestration",
                              hint=f"{use.job_definitions[physical]} already names a job definition {physical}.")
    use.job_queues.update(dict.fromkeys(queues, path))
    use.compute_environments = environments
    use.job_definitions.update(dict.fromkeys(jobs, path))


def physical_name_prefix(orchestration: Construct) -> str:
    """What a job queue's or job definition's name starts with: "<top-level stack>-", plus "<nested stack id>-"
    for each nested stack between the orchestration and the top-level stack (the ids, not the nested stacks'
    names, which are tokens).

    A queue or job definition that moves into, out of or between nested stacks thus gets a new name:
    CloudFormation creates it anew (in its new template) before it deletes the old one, and an unchanged name
    would still be taken (a job definition's name is its primary identifier in CloudFormation's schema).
    """
    stack = Stack.of(orchestration)
    nested: list[str] = []
    while stack.nested_stack_parent is not None:
        nested.insert(0, stack.node.id)
        stack = stack.nested_stack_parent
    return "".join(f"{part}-" for part in [stack.stack_name, *nested])


def _physical_name(path: str, prefix: str, name: str) -> str:
    """<prefix><name>: queue and job definition names are unique per account and Region."""
    physical = f"{prefix}{name}"
    if len(physical) > BATCH.max_name_length:
        raise ConfigError(path, "name", name, f"at most {BATCH.max_name_length - len(prefix)} characters "
                          f"after {prefix!r}",
                          hint=f"Queues and job definitions are named {prefix}<name> ({physical[:40]}...), and Batch "
                               f"takes at most {BATCH.max_name_length} characters.")
    return physical


def _validate(path: str, vpc: ec2.IVpc, specs: Sequence[ComputeEnvironmentSpec], queues: Sequence[JobQueueSpec],
              multi_node_jobs: Sequence[MultiNodeJobSpec], container_jobs: Sequence[ContainerJobSpec],
              log_retention_days: int) -> tuple[dict[str, list[ec2.ISubnet]], BatchPlan]:
    """Every BatchOrchestration rule: the subnets each environment gets, then batch_plan.plan_batch."""
    if log_retention_days not in LOG_RETENTION_DAYS:
        raise ConfigError(path, "log_retention_days", log_retention_days,
                          f"one of CloudWatch Logs' retention periods: {', '.join(map(str, LOG_RETENTION_DAYS))}")
    if isinstance(specs, ComputeEnvironmentSpec) or isinstance(queues, JobQueueSpec):
        raise ConfigError(path, "compute_environments / job_queues", "a single spec", "a sequence of specs")
    multi_node_on = {j.compute_environment for j in multi_node_jobs if isinstance(j, MultiNodeJobSpec)}
    subnets: dict[str, list[ec2.ISubnet]] = {}
    inputs = []
    for spec in specs:
        if not isinstance(spec, ComputeEnvironmentSpec):
            raise ConfigError(path, "compute_environments", type(spec).__name__, "ComputeEnvironmentSpec values")
        where = f"{path}/{spec.name}"
        fleet = spec.fleet
        groups = max(len(spec.security_groups), 1) + (fleet is not None)
        if groups > BATCH.max_security_groups_per_compute_environment:
            raise ConfigError(where, "security_groups", f"{groups} security groups",
                              f"at most {BATCH.max_security_groups_per_compute_environment} security groups, the "
                              "fleet's included", hint="Batch (and each network interface) takes at most five "
                                                       "security groups; merge rules into fewer groups.")
        if spec.fargate and spec.instance_role is not None:
            raise ConfigError(where, "instance_role", "a role", "None on Fargate (Fargate runs no instances)",
                              hint="Fargate jobs act with their job role (BatchOrchestration.job_role).")
        if fleet is not None:
            if spec.subnet is not None or spec.vpc_subnets is not None:
                raise ConfigError(where, "subnet", "given with fleet", "the fleet's subnet (leave subnet out)")
            chosen = list(fleet.subnets)
            facts = FleetFacts(fleet.node.path, tuple(t.name for t in fleet.instance_types), fleet.plan.efa,
                               fleet.plan.placement_group)
        else:
            if spec.subnet is not None and spec.vpc_subnets is not None:
                raise ConfigError(where, "vpc_subnets", "given with subnet", "subnet or vpc_subnets, not both")
            one = spec.name in multi_node_on or bool(spec.efa)
            chosen = select_subnets(where, vpc, spec.subnet, spec.vpc_subnets)
            if spec.subnet is None and spec.vpc_subnets is None and not one:
                chosen = list(vpc.private_subnets) or chosen  # spread over the AZs where nothing needs one
            facts = None
        subnets[spec.name] = chosen
        inputs.append(EnvironmentInput(spec, len(chosen), facts, route_out=not without_route_out(vpc, chosen)))
    for queue in queues:
        if not isinstance(queue, JobQueueSpec):
            raise ConfigError(path, "job_queues", type(queue).__name__, "JobQueueSpec values")
    for job in (*multi_node_jobs, *container_jobs):
        if not isinstance(job, MultiNodeJobSpec | ContainerJobSpec):
            raise ConfigError(path, "multi_node_jobs / container_jobs", type(job).__name__,
                              "MultiNodeJobSpec and ContainerJobSpec values")
    return subnets, plan_batch(path, inputs, queues, multi_node_jobs, container_jobs)

