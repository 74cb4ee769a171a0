"""BatchOrchestration's resources: environments (Spot, EFA from a fleet, GPU), queues, job definitions, job events,
storage on the nodes and in the containers, and the IAM around them. One app is synthesized once per module,
with cdk-nag on (a finding would fail the synth)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Acknowledgment, NestedStack, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template
from constructs import Construct
from hypothesis import strategies as st

from hpc_constructs import (
    BatchOrchestration,
    ComputeEnvironmentSpec,
    ComputeFleet,
    ConfigError,
    ContainerJobSpec,
    EfsSpec,
    HpcNetwork,
    JobQueueSpec,
    LustreDataRepository,
    LustreSpec,
    MultiNodeJobSpec,
    NodeRangeSpec,
    StorageLayer,
)
from hpc_constructs.catalog import instance_type
from hpc_constructs.catalog.software import EFA_INSTALLER
from tests.cfn_lint import findings
from tests.support import hypothesis_outcomes, new_app, new_stack

ENV = {"account": "111122223333", "region": "us-east-1"}
IMAGE = "public.ecr.aws/hpc/app:1"


@pytest.fixture(scope="module")
def full() -> tuple[BatchOrchestration, dict[str, Any]]:
    from cdk_nag import AwsSolutionsChecks

    app = new_app()
    stack = Stack(app, "Batch", env=ENV)
    network = HpcNetwork(stack, "Net")
    fleet = ComputeFleet(stack, "Cpu", vpc=network.vpc, subnet=network.cluster_subnet,
                         instance_types=["hpc7a.96xlarge"], max_capacity=4)
    storage = StorageLayer(stack, "Storage", vpc=network.vpc, bucket=True, efs=EfsSpec(), lustre=LustreSpec(
        deployment_type="PERSISTENT_2", storage_capacity_gib=2400, per_unit_storage_throughput=250,
        data_repositories=(LustreDataRepository("/data"),)))
    storage.mount_on(fleet)
    orchestration = BatchOrchestration(
        stack, "Orchestration", vpc=network.vpc, storage=storage,
        compute_environments=[
            ComputeEnvironmentSpec("spot-cpu", instance_types=("c7i", "m7i"), spot=True, max_vcpus=1024),
            ComputeEnvironmentSpec("efa-cpu", fleet=fleet, max_vcpus=768),
            ComputeEnvironmentSpec("gpu", instance_types=("g6e.xlarge", "g6e.2xlarge"), max_vcpus=64),
            ComputeEnvironmentSpec("p5", instance_types=("p5.48xlarge",), max_vcpus=384,
                                   subnet=network.cluster_subnet),
        ],
        job_queues=[JobQueueSpec("high", ("efa-cpu", "gpu"), priority=10), JobQueueSpec("low", ("spot-cpu",)),
                    JobQueueSpec("gpu-mpi", ("p5",), priority=5)],
        multi_node_jobs=[
            MultiNodeJobSpec("mpi", IMAGE, "efa-cpu", 4, "hpc7a.96xlarge", command=("mpirun", "app"),
                             node_ranges=(NodeRangeSpec(0, 0, ("main",)), NodeRangeSpec(1, 3))),
            MultiNodeJobSpec("nccl", IMAGE, "p5", 2, "p5.48xlarge", command=("all_reduce_perf",)),
        ],
        container_jobs=[ContainerJobSpec("render", IMAGE, vcpus=4, memory_mib=16384, gpus=1,
                                         compute_environment="gpu", command=("render",))])
    user_queue = sqs.Queue(stack, "UserQueue", enforce_ssl=True, dead_letter_queue=sqs.DeadLetterQueue(
        queue=sqs.Queue(stack, "UserDlq", enforce_ssl=True), max_receive_count=3))
    orchestration.subscribe_queue(user_queue)
    function = lambda_.Function(stack, "Consumer", runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler",
                                code=lambda_.Code.from_inline("def handler(event, context):\n    return None\n"))
    orchestration.subscribe_function(function, name="notify")
    Validations.of(function).acknowledge(  # the test's own consumer, not the construct's
        Acknowledgment(id="AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                          "AWSLambdaBasicExecutionRole]", reason="test consumer"),
        Acknowledgment(id="AwsSolutions::AwsSolutions-L1", reason="test consumer"))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    template = app.synth().get_stack_by_name("Batch").template
    return orchestration, template


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _resource(template: dict[str, Any], orchestration: BatchOrchestration, resource: Any) -> dict[str, Any]:
    logical = Stack.of(orchestration).get_logical_id(resource)
    found: dict[str, Any] = template["Resources"][logical]
    return found


def _environment(full: tuple[BatchOrchestration, dict[str, Any]], name: str) -> dict[str, Any]:
    orchestration, template = full
    props: dict[str, Any] = _resource(template, orchestration, orchestration.compute_environments[name])["Properties"]
    return props


def _launch_template(full: tuple[BatchOrchestration, dict[str, Any]], name: str) -> dict[str, Any]:
    orchestration, template = full
    environment = orchestration.environment_constructs[name]
    cfn = environment.launch_template.node.default_child
    data: dict[str, Any] = _resource(template, orchestration, cfn)["Properties"]["LaunchTemplateData"]
    return data


def _job(full: tuple[BatchOrchestration, dict[str, Any]], name: str) -> dict[str, Any]:
    orchestration, template = full
    props: dict[str, Any] = _resource(template, orchestration, orchestration.job_definitions[name])["Properties"]
    return props


# -- compute environments -----------------------------------------------------------------------------------

def test_attributes_are_keyed_by_name(full: tuple[BatchOrchestration, dict[str, Any]]) -> None:
    orchestration, _ = full
    assert sorted(orchestration.compute_environments) == ["efa-cpu", "gpu", "p5", "spot-cpu"]
    assert sorted(orchestration.job_queues) == ["gpu-mpi", "high", "low"]
    assert sorted(orchestration.job_definitions) == ["mpi", "nccl", "render"]
    assert orchestration.events_topic is not None
    assert sorted(orchestration.event_queues) == ["default", "notify"]


def test_spot_environment_uses_price_capacity_optimized(full: tuple[BatchOrchestration, dict[str, Any]]) -> None:
    resources = _environment(full, "spot-cpu")["ComputeResources"]
    assert resources["Type"] == "SPOT" and resources["AllocationStrategy"] == "SPOT_PRICE_CAPACITY_OPTIMIZED"
    assert resources["InstanceTypes"] == ["c7i", "m7i"]
    assert "SpotIamFleetRole" not in resources  # not needed with SPOT_PRICE_CAPACITY_OPTIMIZED
    assert len(resources["Subnets"]) == 2  # spread over the AZs: nothing in it needs one AZ
    assert "PlacementGroup" not in resources


def test_on_demand_environments_use_best_fit_progressive(full: tuple[BatchOrchestration, dict[str, Any]]) -> None:
    for name in ("efa-cpu", "gpu", "p5"):
        resources = _environment(full, name)["ComputeResources"]
        assert (resources["Type"], resources["AllocationStrategy"]) == ("EC2", "BEST_FIT_PROGRESSIVE"), name


def test_gpu_types_get_the_ecs_gpu_image(full: tuple[BatchOrchestration, dict[str, Any]]) -> None:
    assert _environment(full, "gpu")["ComputeResources"]["Ec2Configuration"] == [{"ImageType": "ECS_AL2023_NVIDIA"}]
    assert _environment(full, "spot-cpu")["ComputeResources"]["Ec2Configuration"] == [{"ImageType": "ECS_AL2023"}]


def test_every_node_requires_imdsv2_with_hop_limit_1_and_an_encrypted_root(
        full: tuple[BatchOrchestration, dict[str, Any]]) -> None:
    for name in ("spot-cpu", "efa-cpu", "gpu", "p5"):
        data = _launch_template(full, name)
        assert data["MetadataOptions"] == {"HttpPutResponseHopLimit": 1, "HttpTokens": "required"}, name
        (root,) = data["BlockDeviceMappings"]
        assert root["Ebs"]["Encrypted"] is True and root["Ebs"]["VolumeType"] == "gp3", name


def test_launch_template_version_follows_every_change(full: tuple[BatchOrchestration, dict[str, Any]]) -> None:
    orchestration, _ = full
    spec = _environment(full, "spot-cpu")["ComputeResources"]["LaunchTemplate"]
    logical = Stack.of(orchestration).get_logical_id(
        orchestration.environment_constructs["spot-cpu"].launch_template.node.default_child)  # type: ignore[arg-type]
    assert spec == {"LaunchTemplateId": {"Ref": logical}, "Version": {"Fn::GetAtt": [logical, "LatestVersionNumber"]}}
    environment = _environment(full, "spot-cpu")
    assert environment["ReplaceComputeEnvironment"] is False
    assert environment["ComputeResources"]["UpdateToLatestImageVersion"] is True


def test_user_data_is_mime_multipart_for_batch(full: tuple[BatchOrchestration, dict[str, Any]]) -> None:
    """Batch merges its own user data with the launch template's, which must be MIME multi-part."""
    orchestration, _ = full
    stack = Stack.of(orchestration)
    text = json.dumps(stack.resolve(_launch_template(full, "spot-cpu")["UserData"]))
    assert "Content-Type: multipart/mixed" in text and "text/x-shellscript" in text


def test_efa_environment_reuses_the_fleet(full: tuple[BatchOrchestration, dict[str, Any]]) -> None:
    orchestration, _template = full
    stack = Stack.of(orchestration)
    fleet = next(c for c in stack.node.children if isinstance(c, ComputeFleet))
    resources = _environment(full, "efa-cpu")["ComputeResources"]
    assert resources["InstanceTypes"] == ["hpc7a.96xlarge"]
    assert resources["PlacementGroup"] == stack.resolve(fleet.placement_group.placement_group_name)  # type: ignore[union-attr]
    assert resources["Subnets"] == [stack.resolve(fleet.subnets[0].subnet_id)]
    # Batch refuses security groups on the environment beside a launch template's interfaces.
    assert "SecurityGroupIds" not in resources
    interfaces = _launch_template(full, "efa-cpu")["NetworkInterfaces"]
    own = orchestration.environment_constructs["efa-cpu"].security_group
    groups = [stack.resolve(own.security_group_id), stack.resolve(fleet.security_group.security_group_id)]
    assert all(i["Groups"] == groups for i in interfaces)
    # hpc7a.96xlarge: 2 cards, 2 interfaces each; the EFA primary leaves card 0 room for the job's awsvpc interface
    assert [(i["NetworkCardIndex"], i["DeviceIndex"], i["InterfaceType"]) for i in interfaces] == [
        (0, 0, "efa"), (1, 0, "efa-only")]
    assert fleet.plan.interfaces[0].interface_type == "interface"  # the fleet's own layout is unchanged


def test_environment_without_efa_keeps_security_groups_on_the_environment(
        full: tuple[BatchOrchestration, dict[str, Any]]) -> None:
    orchestration, _ = full
    resources = _environment(full, "gpu")["ComputeResources"]
    own = orchestration.environment_constructs["gpu"].security_group
    assert resources["SecurityGroupIds"] == [Stack.of(orchestration).resolve(own.security_group_id)]
    assert "NetworkInterfaces" not in _launch_template(full, "gpu")


def test_multi_node_environment_gets_its_own_cluster_placement_group(
        full: tuple[BatchOrchestration, dict[str, Any]]) -> None:
    _orchestration, template = full
    resources = _environment(full, "p5")["ComputeResources"]
    group = resources["PlacementGroup"]["Fn::GetAtt"][0]
    assert template["Resources"][group]["Properties"] == {"Strategy": "cluster"}
    assert len(resources["Subnets"]) == 1


def test_efa_nodes_install_the_pinned_efa_software(full: tuple[BatchOrchestration, dict[str, Any]]) -> None:
    orchestration, _ = full
    stack = Stack.of(orchestration)
    for name, expected in (("efa-cpu", True), ("p5", True), ("gpu", False)):
        script = json.dumps(stack.resolve(orchestration.environment_constructs[name].user_data.render()))
        step = f"hpc_step 'EFA software {EFA_INSTALLER.version}' /usr/local/sbin/hpc-efa-install"
        assert (step in script) is expected, name


def test_self_rules_exist_and_the_environment_waits_for_them(full: tuple[BatchOrchestration, dict[str, Any]]) -> None:
    orchestration, template = full
    logical = Stack.of(orchestration).get_logical_id(orchestration.compute_environments["p5"])
    depends = template["Resources"][logical]["DependsOn"]
    own = Stack.of(orchestration).resolve(
        orchestration.environment_constructs["p5"].security_group.security_group_id)
    rules = [k for k, v in template["Resources"].items() if v["Type"].startswith("AWS::EC2::SecurityGroup")
             and v["Properties"].get("GroupId") == own and (v["Properties"].get("SourceSecurityGroupId") == own
                                                           or v["Properties"].get("DestinationSecurityGroupId") == own)]
    assert len(rules) == 2 and set(rules) <= set(depends)


# -- storage --------------------------------------------------------------------------------------------

def test_storage_is_mounted_on_the_nodes_and_the_environment_waits(
        full: tuple[BatchOrchestration, dict[str, Any]]) -> None:
    orchestration, template = full
    stack = Stack.of(orchestration)
    for name in ("spot-cpu", "efa-cpu", "gpu", "p5"):
        text = json.dumps(stack.resolve(orchestration.environment_constructs[name].user_data.render()))
        assert "/fsx" in text and "/efs" in text, name
        logical = stack.get_logical_id(orchestration.compute_environments[name])
        depends = template["Resources"][logical]["DependsOn"]
        assert any("LustreFromFleet988" in d for d in depends) and any("EfsFromFleet" in d for d in depends), name


def test_containers_see_the_storage_at_the_same_paths(full: tuple[BatchOrchestration, dict[str, Any]]) -> None:
    container = _job(full, "render")["ContainerProperties"]
    assert [(m["ContainerPath"], v["Host"]["SourcePath"]) for m, v in
            zip(container["MountPoints"], container["Volumes"], strict=True)] == [("/fsx", "/fsx"), ("/efs", "/efs")]
    for node_range in _job(full, "mpi")["NodeProperties"]["NodeRangeProperties"]:
        assert [m["ContainerPath"] for m in node_range["Container"]["MountPoints"]] == ["/fsx", "/efs"]


def test_jobs_role_reads_and_writes_the_bucket_but_never_deletes(
        full: tuple[BatchOrchestration, dict[str, Any]]) -> None:
    orchestration, template = full
    role = Stack.of(orchestration).get_logical_id(orchestration.job_role.node.default_child)  # type: ignore[arg-type]
    actions = [a for p in _of_type(template, "AWS::IAM::Policy").values() if {"Ref": role} in p["Properties"]["Roles"]
               for s in p["Properties"]["PolicyDocument"]["Statement"] for a in (
                   s["Action"] if isinstance(s["Action"], list) else [s["Action"]])]
    assert "s3:PutObject" in actions and "s3:GetObject" in actions
    assert not [a for a in actions if "Delete" in a or "*" in a]


# -- job definitions ------------------------------------------------------------------------------------

def test_mnp_job_on_p5_exposes_32_uverbs_devices(full: tuple[BatchOrchestration, dict[str, Any]]) -> None:
    (node_range,) = _job(full, "nccl")["NodeProperties"]["NodeRangeProperties"]
    devices = node_range["Container"]["LinuxParameters"]["Devices"]
    assert [d["HostPath"] for d in devices] == [f"/dev/infiniband/uverbs{i}" for i in range(32)]
    assert all(d["ContainerPath"] == d["HostPath"] and d["Permissions"] == ["READ", "WRITE", "MKNOD"] for d in devices)
    assert {"Type": "GPU", "Value": "8"} in node_range["Container"]["ResourceRequirements"]
    interfaces = _launch_template(full, "p5")["NetworkInterfaces"]
    assert sum(i["InterfaceType"] in ("efa", "efa-only") for i in interfaces) == 32


def test_mnp_job_on_c5n_exposes_one_uverbs_device() -> None:
    stack = new_stack()
    vpc = HpcNetwork(stack, "Net").vpc
    orchestration = BatchOrchestration(
        stack, "B", vpc=vpc, job_events=False,
        compute_environments=[ComputeEnvironmentSpec("c5n", instance_types=("c5n.18xlarge",), max_vcpus=144)],
        multi_node_jobs=[MultiNodeJobSpec("mpi", IMAGE, "c5n", 2, "c5n.18xlarge")])
    template = Template.from_stack(stack).to_json()
    job = template["Resources"][stack.get_logical_id(orchestration.job_definitions["mpi"])]
    (node_range,) = job["Properties"]["NodeProperties"]["NodeRangeProperties"]
    assert [d["HostPath"] for d in node_range["Container"]["LinuxParameters"]["Devices"]] == ["/dev/infiniband/uverbs0"]


def test_mnp_job_definition(full: tuple[BatchOrchestration, dict[str, Any]]) -> None:
    _orchestration, _ = full
    job = _job(full, "mpi")
    assert job["Type"] == "multinode" and job["PlatformCapabilities"] == ["EC2"]
    assert job["JobDefinitionName"] == "Batch-mpi"
    nodes = job["NodeProperties"]
    assert (nodes["NumNodes"], nodes["MainNode"]) == (4, 0)
    ranges = nodes["NodeRangeProperties"]
    assert [(r["TargetNodes"], r["Container"]["Command"]) for r in ranges] == [("0:0", ["main"]),
                                                                              ("1:3", ["mpirun", "app"])]
    t = instance_type("hpc7a.96xlarge")
    for r in ranges:
        container = r["Container"]
        assert container["InstanceType"] == "hpc7a.96xlarge"
        assert container["Ulimits"] == [{"Name": "memlock", "SoftLimit": -1, "HardLimit": -1}]
        assert container["ResourceRequirements"] == [{"Type": "VCPU", "Value": "192"},
                                                     {"Type": "MEMORY", "Value": str(t.memory_mib * 95 // 100)}]
        assert container["LinuxParameters"]["SharedMemorySize"] == t.memory_mib * 95 // 100 // 2
        assert len(container["LinuxParameters"]["Devices"]) == 2


def test_every_job_has_a_timeout_and_retries_only_lost_hosts(full: tuple[BatchOrchestration, dict[str, Any]]) -> None:
    for name in ("mpi", "nccl", "render"):
        job = _job(full, name)
        assert job["Timeout"]["AttemptDurationSeconds"] == 24 * 3600, name
        assert job["RetryStrategy"] == {"Attempts": 2, "EvaluateOnExit": [
            {"Action": "RETRY", "OnStatusReason": "Host EC2*"}, {"Action": "EXIT", "OnReason": "*"}]}, name


def test_container_job(full: tuple[BatchOrchestration, dict[str, Any]]) -> None:
    job = _job(full, "render")
    assert job["Type"] == "container" and job["PlatformCapabilities"] == ["EC2"]
    container = job["ContainerProperties"]
    assert container["ResourceRequirements"] == [{"Type": "VCPU", "Value": "4"}, {"Type": "MEMORY", "Value": "16384"},
                                                 {"Type": "GPU", "Value": "1"}]
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"


# -- queues and events ----------------------------------------------------------------------------------

def test_queues_keep_order_and_priority(full: tuple[BatchOrchestration, dict[str, Any]]) -> None:
    orchestration, template = full
    stack = Stack.of(orchestration)
    high = _resource(template, orchestration, orchestration.job_queues["high"])["Properties"]
    assert high["Priority"] == 10 and high["JobQueueName"] == "Batch-high"
    assert high["ComputeEnvironmentOrder"] == [
        {"ComputeEnvironment": {"Fn::GetAtt": [stack.get_logical_id(orchestration.compute_environments[n]),
                                               "ComputeEnvironmentArn"]}, "Order": i}
        for i, n in ((1, "efa-cpu"), (2, "gpu"))]


def test_events_rule_covers_exactly_this_constructs_queues(full: tuple[BatchOrchestration, dict[str, Any]]) -> None:
    orchestration, template = full
    (rule,) = _of_type(template, "AWS::Events::Rule").values()
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.batch"] and pattern["detail-type"] == ["Batch Job State Change"]
    assert pattern["detail"]["status"] == ["FAILED", "SUCCEEDED"]
    stack = Stack.of(orchestration)
    assert pattern["detail"]["jobQueue"] == [{"Fn::GetAtt": [stack.get_logical_id(q), "JobQueueArn"]}
                                             for q in orchestration.job_queues.values()]
    topic = stack.get_logical_id(orchestration.events_topic.node.default_child)
    assert rule["Properties"]["Targets"][0]["Arn"] == {"Ref": topic}


def test_topic_is_encrypted_with_a_key_eventbridge_may_use(full: tuple[BatchOrchestration, dict[str, Any]]) -> None:
    _orchestration, template = full
    (topic,) = _of_type(template, "AWS::SNS::Topic").values()
    key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key = template["Resources"][key_id]
    assert key["Properties"]["EnableKeyRotation"] is True and key["DeletionPolicy"] == "Retain"
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    assert any(s.get("Principal") == {"Service": "events.amazonaws.com"} and "kms:GenerateDataKey*" in s["Action"]
               for s in statements)


def test_every_events_queue_has_a_longer_lived_dead_letter_queue(
        full: tuple[BatchOrchestration, dict[str, Any]]) -> None:
    orchestration, template = full
    stack = Stack.of(orchestration)
    for name, queue in orchestration.event_queues.items():
        props = _resource(template, orchestration, queue.node.default_child)["Properties"]
        dead = props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        assert props["RedrivePolicy"]["maxReceiveCount"] == 5, name
        assert template["Resources"][dead]["Properties"]["MessageRetentionPeriod"] > props["MessageRetentionPeriod"]
        assert dead == stack.get_logical_id(orchestration.events.dead_letter_queues[name].node.default_child)  # type: ignore[union-attr]


def test_topic_and_queues_refuse_requests_without_tls(full: tuple[BatchOrchestration, dict[str, Any]]) -> None:
    _, template = full
    policies = [*_of_type(template, "AWS::SNS::TopicPolicy").values(),
                *_of_type(template, "AWS::SQS::QueuePolicy").values()]
    assert len(_of_type(template, "AWS::SQS::QueuePolicy")) == len(_of_type(template, "AWS::SQS::Queue"))
    for policy in policies:
        assert any(s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
                   for s in policy["Properties"]["PolicyDocument"]["Statement"])


def test_subscribers(full: tuple[BatchOrchestration, dict[str, Any]]) -> None:
    _, template = full
    subscriptions = _of_type(template, "AWS::SNS::Subscription")
    assert len(subscriptions) == 3  # default, notify, the user's queue
    assert all(s["Properties"]["Protocol"] == "sqs" for s in subscriptions.values())
    (mapping,) = _of_type(template, "AWS::Lambda::EventSourceMapping").values()
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_a_subscribed_queue_without_dead_letter_queue_is_refused() -> None:
    stack = new_stack()
    vpc = HpcNetwork(stack, "Net").vpc
    orchestration = BatchOrchestration(stack, "B", vpc=vpc, compute_environments=[ComputeEnvironmentSpec("cpu")])
    with pytest.raises(ConfigError, match="dead-letter queue"):
        orchestration.subscribe_queue(sqs.Queue(stack, "NoDlq"))
    # Another app: in the same one, its default queue would take the name Test-default a second time.
    other = new_stack()
    quiet = BatchOrchestration(other, "Quiet", vpc=HpcNetwork(other, "Net").vpc, job_events=False,
                               compute_environments=[ComputeEnvironmentSpec("cpu")])
    assert quiet.events_topic is None and quiet.event_queues == {}
    with pytest.raises(ConfigError, match="job_events"):
        quiet.subscribe_queue(sqs.Queue(other, "Other"))


def test_figures(full: tuple[BatchOrchestration, dict[str, Any]]) -> None:
    orchestration, _ = full
    figures = orchestration.figures
    assert figures["queue high"] == "priority 10: efa-cpu, gpu; up to 832 vCPUs"
    mpi = str(figures["job mpi"])
    t = instance_type("hpc7a.96xlarge")
    assert "4 x hpc7a.96xlarge" in mpi and "EFA interfaces per node: 2" in mpi
    assert f"aggregate network bandwidth {4 * t.network_bandwidth_gbps:,g} Gbps" in mpi
    assert "EFA interfaces per node: 32" in str(figures["job nccl"])


def test_cfn_lint_and_cdk_nag_find_nothing(full: tuple[BatchOrchestration, dict[str, Any]]) -> None:
    _, template = full  # cdk-nag ran in the fixture's synth: a finding would have failed it
    assert findings(template) == []


# -- construct-level rules ------------------------------------------------------------------------------

def test_several_subnets_with_mnp_are_refused() -> None:
    stack = new_stack()
    vpc = HpcNetwork(stack, "Net").vpc
    with pytest.raises(ConfigError, match="exactly one subnet"):
        BatchOrchestration(stack, "B", vpc=vpc, compute_environments=[ComputeEnvironmentSpec(
            "c5n", instance_types=("c5n.18xlarge",), max_vcpus=144,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS))],
            multi_node_jobs=[MultiNodeJobSpec("mpi", IMAGE, "c5n", 2, "c5n.18xlarge")])


def test_fleet_environment_refuses_its_own_subnet() -> None:
    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    fleet = ComputeFleet(stack, "Cpu", vpc=network.vpc, instance_types=["c5n.18xlarge"])
    with pytest.raises(ConfigError, match="fleet's subnet"):
        BatchOrchestration(stack, "B", vpc=network.vpc, compute_environments=[ComputeEnvironmentSpec(
            "c5n", fleet=fleet, subnet=network.vpc.private_subnets[1])])


def _synth_or_refuse(types: tuple[str, ...], spot: bool, nodes: int, job_type: str, vcpus: int, memory: int,
                     gpus: int) -> bool:
    stack = new_stack()
    vpc = HpcNetwork(stack, "Net").vpc
    try:
        BatchOrchestration(stack, "B", vpc=vpc,
                           compute_environments=[ComputeEnvironmentSpec("e", instance_types=types, spot=spot,
                                                                        max_vcpus=4096)],
                           multi_node_jobs=[MultiNodeJobSpec("mpi", IMAGE, "e", nodes, job_type)] if nodes else [],
                           container_jobs=[ContainerJobSpec("one", IMAGE, vcpus=vcpus, memory_mib=memory, gpus=gpus)])
    except ConfigError:
        return False
    assert findings(Template.from_stack(stack).to_json()) == []
    return True


def test_specs_synthesize_clean_or_raise_config_error() -> None:
    accepted, examples = hypothesis_outcomes(
        _synth_or_refuse, max_examples=8,
        types=st.sampled_from([("c5n.18xlarge",), ("g6e.xlarge", "c7i.large"), ("optimal",), ("p5.48xlarge",),
                               ("c7g",)]),
        spot=st.booleans(), nodes=st.sampled_from([0, 2, 2000]),
        job_type=st.sampled_from(["c5n.18xlarge", "p5.48xlarge"]), vcpus=st.integers(1, 64),
        memory=st.sampled_from([512, 4096, 65536]), gpus=st.integers(0, 1))
    assert examples == 8 and 1 <= accepted <= 7, accepted


def test_physical_names_fit_batchs_128_characters() -> None:
    stack = new_stack("S")  # names become S-<name>: 126 characters left
    vpc = HpcNetwork(stack, "Net").vpc
    BatchOrchestration(stack, "Ok", vpc=vpc, job_events=False, compute_environments=[ComputeEnvironmentSpec("cpu")],
                       job_queues=[JobQueueSpec("q" * 126, ("cpu",))])
    with pytest.raises(ConfigError, match="at most 126 characters"):
        BatchOrchestration(stack, "Long", vpc=vpc, job_events=False,
                           compute_environments=[ComputeEnvironmentSpec("cpu")],
                           job_queues=[JobQueueSpec("q" * 127, ("cpu",))])


@pytest.mark.parametrize(("days", "ok"), [(30, True), (31, False)])
def test_log_retention_is_a_cloudwatch_period(days: int, ok: bool) -> None:
    stack = new_stack()
    vpc = HpcNetwork(stack, "Net").vpc
    make = lambda: BatchOrchestration(stack, "B", vpc=vpc, log_retention_days=days,  # noqa: E731
                                      compute_environments=[ComputeEnvironmentSpec("cpu")])
    if ok:
        make()
    else:
        with pytest.raises(ConfigError, match="log_retention_days"):
            make()


def _orchestration(scope: Construct, vpc: ec2.IVpc, queues: int, prefix: str = "q") -> BatchOrchestration:
    return BatchOrchestration(
        scope, "Batch", vpc=vpc,
        compute_environments=[ComputeEnvironmentSpec(f"ce{i}", instance_types=("c7i.large",), max_vcpus=16)
                              for i in range(queues)],
        job_queues=[JobQueueSpec(f"{prefix}{i}", (f"ce{i}",)) for i in range(queues)])


def test_region_quotas_count_every_orchestration_of_the_app() -> None:
    """50 job queues and 50 compute environments per account and Region, across nested stacks too."""
    stack = new_stack()
    vpc = HpcNetwork(stack, "Net").vpc
    first = _orchestration(NestedStack(stack, "One"), vpc, 30)
    # named after the top-level stack and the nested stack's id, not the nested stack's token
    assert first.job_queues["q0"].job_queue_name == "Test-One-q0"
    with pytest.raises(ConfigError, match=r"'60 job queues'.*at most 50 job queues across every BatchOrchestration"):
        _orchestration(NestedStack(stack, "Two"), vpc, 30, prefix="r")
    _orchestration(NestedStack(stack, "Four"), vpc, 20, prefix="s")  # 50 in all: allowed
    with pytest.raises(ConfigError, match=r"'51 job queues'"):
        _orchestration(NestedStack(stack, "Five"), vpc, 1, prefix="t")
    other = new_stack()  # another app is another deploy
    _orchestration(other, HpcNetwork(other, "Net").vpc, 30)


def test_job_events_split_over_rules_that_fit_eventbridge_patterns() -> None:
    """EventBridge takes at most 2,048 characters a pattern; 30 queues' ARNs need two rules."""
    stack = new_stack()
    orchestration = _orchestration(stack, HpcNetwork(stack, "Net").vpc, 30)
    assert orchestration.events is not None
    resources = Template.from_stack(stack).to_json()["Resources"]
    rules = [r for r in resources.values() if r["Type"] == "AWS::Events::Rule"]
    assert len(rules) == len(orchestration.events.rules) == 2
    listed = [arn["Fn::GetAtt"][0] for r in rules for arn in r["Properties"]["EventPattern"]["detail"]["jobQueue"]]
    assert sorted(listed) == sorted(stack.resolve(q.logical_id) for q in orchestration.job_queues.values())
    for rule in rules:
        pattern = rule["Properties"]["EventPattern"]
        # every ARN at its longest (partition aws-us-gov, a 14-character Region), with the queue's real name
        arns = [f"arn:aws-us-gov:batch:ap-southeast-5:123456789012:job-queue/"
                f"{resources[a['Fn::GetAtt'][0]]['Properties']['JobQueueName']}" for a in pattern["detail"]["jobQueue"]]
        assert len(json.dumps({**pattern, "detail": {**pattern["detail"], "jobQueue": arns}})) <= 2_048
        assert rule["Properties"]["Targets"]


def test_pattern_batches_fill_each_rule() -> None:
    from hpc_constructs.job_events import (
        JOB_QUEUE_ARN_PREFIX_CHARS,
        job_queue_arn_chars,
        pattern_base_chars,
        pattern_batches,
    )

    # the boundary: queues that fill 2,048 characters exactly share one rule; one character more needs two
    room = 2_048 - pattern_base_chars()
    count = room // job_queue_arn_chars("q")
    last = "q" * (1 + room - count * job_queue_arn_chars("q"))
    names = ["q"] * (count - 1) + [last]
    assert pattern_base_chars() + sum(job_queue_arn_chars(n) for n in names) == 2_048
    assert pattern_batches(names) == [list(range(count))]
    assert pattern_batches([*names[:-1], last + "x"]) == [list(range(count - 1)), [count - 1]]

    assert pattern_batches([]) == [[]]
    assert pattern_batches(["q"] * 3) == [[0, 1, 2]]
    unknown = pattern_batches([None] * 30)  # 128-character names: about ten to a rule
    assert [len(b) for b in unknown][:2] == [10, 10] and sum(len(b) for b in unknown) == 30
    per_arn = JOB_QUEUE_ARN_PREFIX_CHARS + 10 + 4
    assert all(len(b) * per_arn <= 2_048 for b in pattern_batches(["x" * 10] * 100))


def test_compute_environments_count_across_orchestrations_to_fifty() -> None:
    """Three environments a queue: the 50-environment quota is reached before the 50-queue one."""
    def three_per_queue(scope: Construct, vpc: ec2.IVpc, queues: int, prefix: str) -> BatchOrchestration:
        return BatchOrchestration(
            scope, "Batch", vpc=vpc,
            compute_environments=[ComputeEnvironmentSpec(f"{prefix}{i}", instance_types=("c7i.large",), max_vcpus=16)
                                  for i in range(3 * queues)],
            job_queues=[JobQueueSpec(f"{prefix}q{i}", tuple(f"{prefix}{3 * i + k}" for k in range(3)))
                        for i in range(queues)])

    stack = new_stack()
    vpc = HpcNetwork(stack, "Net").vpc
    three_per_queue(NestedStack(stack, "One"), vpc, 10, "a")  # 30 environments
    three_per_queue(NestedStack(stack, "Two"), vpc, 6, "b")   # 48
    BatchOrchestration(NestedStack(stack, "Three"), "Batch", vpc=vpc, job_events=False,  # 50: allowed
                       compute_environments=[ComputeEnvironmentSpec(n, instance_types=("c7i.large",), max_vcpus=16)
                                             for n in ("c0", "c1")], job_queues=[JobQueueSpec("cq", ("c0", "c1"))])
    with pytest.raises(ConfigError, match=r"'51 compute environments'.*at most 50 compute environments"):
        _orchestration(NestedStack(stack, "Four"), vpc, 1, prefix="d")
