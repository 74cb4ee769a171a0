"""BatchOrchestration as a user's own app meets it (issue 30): one way out of the fleet/environment instance types,
queue and job-definition objects with their ARNs and a scoped grant_submit_job, and storage tiers (made alone or
imported) that reach the job containers as well as the hosts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, NestedStack, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Annotations, Match, Template

from hpc_constructs import (
    BatchOrchestration,
    ComputeEnvironmentSpec,
    ComputeFleet,
    ConfigError,
    ContainerJobSpec,
    EfsFileSystem,
    HpcNetwork,
    JobQueueSpec,
    LustreFileSystem,
    LustreSpec,
    MultiNodeJobSpec,
    NodeGroupSpec,
    SlurmCluster,
)
from tests.cfn_lint import findings
from tests.support import new_app

ENV = {"account": "111122223333", "region": "us-east-1"}
IMAGE = "public.ecr.aws/hpc/app:1"
MPI = MultiNodeJobSpec("mpi", IMAGE, "efa", 2, "hpc7a.96xlarge", command=("mpirun", "app"))


def _stack(id: str = "User") -> tuple[App, Stack, HpcNetwork]:
    app = new_app()
    stack = Stack(app, id, env=ENV)
    return app, stack, HpcNetwork(stack, "Net")


def _c7i_fleet(stack: Stack, network: HpcNetwork, types: list[str] | None = None) -> ComputeFleet:
    return ComputeFleet(stack, "Cpu", vpc=network.vpc, subnet=network.cluster_subnet,
                        instance_types=types or ["c7i.48xlarge"], max_capacity=2)


# -- one way out of the fleet's instance types ----------------------------------------------------------------

def test_a_job_type_the_fleet_lacks_points_at_the_fleet_not_at_the_environment() -> None:
    _, stack, network = _stack()
    fleet = _c7i_fleet(stack, network)
    with pytest.raises(ConfigError) as error:
        BatchOrchestration(stack, "Batch", vpc=network.vpc, multi_node_jobs=[MPI],
                           compute_environments=[ComputeEnvironmentSpec("efa", fleet=fleet, max_vcpus=1024)])
    hint = error.value.hint
    # the old hint sent the user to the environment's instance_types, which the next error refused
    assert "add it to the environment's instance_types" not in hint
    assert "Add hpc7a.96xlarge to that fleet: ComputeFleet(..., instance_types=['c7i.48xlarge', 'hpc7a.96xlarge'])" \
        in hint
    assert "ComputeEnvironmentSpec('efa', instance_types=['hpc7a.96xlarge']) without fleet=" in hint


def test_the_environment_s_own_types_beside_a_fleet_point_at_the_same_ways_out() -> None:
    _, stack, network = _stack()
    fleet = _c7i_fleet(stack, network)
    with pytest.raises(ConfigError) as error:
        BatchOrchestration(stack, "Batch", vpc=network.vpc, multi_node_jobs=[MPI], compute_environments=[
            ComputeEnvironmentSpec("efa", fleet=fleet, instance_types=["c7i.48xlarge", "hpc7a.96xlarge"],
                                   max_vcpus=1024)])
    hint = error.value.hint
    assert "leave instance_types out to use them" not in hint
    assert "Add hpc7a.96xlarge to that fleet" in hint and "and leave the environment's instance_types out" in hint
    assert "instance_types=['c7i.48xlarge', 'hpc7a.96xlarge']) without fleet=" in hint


def _synthesizes(stack: Stack) -> dict[str, Any]:
    template = Template.from_stack(stack).to_json()
    assert findings(template) == []
    return template


def test_following_the_first_way_out_synthesizes() -> None:
    _, stack, network = _stack()
    fleet = _c7i_fleet(stack, network, ["c7i.48xlarge", "hpc7a.96xlarge"])  # as the hint writes it
    batch = BatchOrchestration(stack, "Batch", vpc=network.vpc, multi_node_jobs=[MPI],
                               compute_environments=[ComputeEnvironmentSpec("efa", fleet=fleet, max_vcpus=1024)])
    template = _synthesizes(stack)
    environment = template["Resources"][stack.get_logical_id(batch.compute_environments["efa"])]
    assert environment["Properties"]["ComputeResources"]["InstanceTypes"] == ["c7i.48xlarge", "hpc7a.96xlarge"]


@pytest.mark.parametrize("types", [["hpc7a.96xlarge"], ["c7i.48xlarge", "hpc7a.96xlarge"]])
def test_following_the_second_way_out_synthesizes(types: list[str]) -> None:
    _, stack, network = _stack()
    _c7i_fleet(stack, network)
    batch = BatchOrchestration(stack, "Batch", vpc=network.vpc, multi_node_jobs=[MPI], compute_environments=[
        ComputeEnvironmentSpec("efa", instance_types=types, max_vcpus=1024)])  # as the hint writes it
    template = _synthesizes(stack)
    environment = template["Resources"][stack.get_logical_id(batch.compute_environments["efa"])]
    assert environment["Properties"]["ComputeResources"]["InstanceTypes"] == types


def test_a_type_the_fleet_cannot_take_gets_only_the_way_that_works() -> None:
    _, stack, network = _stack()
    fleet = _c7i_fleet(stack, network)
    arm = MultiNodeJobSpec("mpi", IMAGE, "efa", 2, "c7gn.16xlarge")
    with pytest.raises(ConfigError) as error:
        BatchOrchestration(stack, "Batch", vpc=network.vpc, multi_node_jobs=[arm],
                           compute_environments=[ComputeEnvironmentSpec("efa", fleet=fleet, max_vcpus=1024)])
    assert "Add c7gn.16xlarge to that fleet" not in error.value.hint  # arm64 beside x86_64: the fleet would refuse
    assert "cannot share an EFA layout" in error.value.hint
    assert "instance_types=['c7gn.16xlarge']) without fleet=" in error.value.hint
    _, stack, network = _stack()
    BatchOrchestration(stack, "Batch", vpc=network.vpc, multi_node_jobs=[arm], compute_environments=[
        ComputeEnvironmentSpec("efa", instance_types=["c7gn.16xlarge"], max_vcpus=1024)])
    _synthesizes(stack)


# -- queues, job definitions, submitters ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def submitted() -> tuple[BatchOrchestration, iam.Role, iam.Role, dict[str, Any]]:
    from cdk_nag import AwsSolutionsChecks

    app, stack, network = _stack("Jobs")
    batch = BatchOrchestration(
        stack, "Batch", vpc=network.vpc, multi_node_jobs=[
            MultiNodeJobSpec("mpi", IMAGE, "efa", 2, "hpc7a.96xlarge")],
        compute_environments=[ComputeEnvironmentSpec("efa", instance_types=["hpc7a.96xlarge"], max_vcpus=1024),
                              ComputeEnvironmentSpec("cpu", instance_types=["c7i"], spot=True)],
        job_queues=[JobQueueSpec("high", ["efa"], priority=10), JobQueueSpec("low", ["cpu"])],
        container_jobs=[ContainerJobSpec("render", IMAGE, vcpus=4, memory_mib=8192, compute_environment="cpu")])
    analysts = iam.Role(stack, "Analysts", assumed_by=iam.AccountRootPrincipal())
    batch.grant_submit_job(analysts, "high")
    renderers = iam.Role(stack, "Renderers", assumed_by=iam.AccountRootPrincipal())
    batch.grant_submit_job(renderers, batch.queue("low"), job_definitions=["render"])
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    template = app.synth().get_stack_by_name("Jobs").template  # a cdk-nag finding fails the synth
    return batch, analysts, renderers, template


def _statements(template: dict[str, Any], role: iam.Role) -> list[dict[str, Any]]:
    logical = Stack.of(role).get_logical_id(role.node.default_child)  # type: ignore[arg-type]
    return [s for policy in template["Resources"].values() if policy["Type"] == "AWS::IAM::Policy"
            and {"Ref": logical} in policy["Properties"]["Roles"]
            for s in policy["Properties"]["PolicyDocument"]["Statement"]]


def test_a_queue_object_carries_its_names_arn_environments_and_definitions(
        submitted: tuple[BatchOrchestration, iam.Role, iam.Role, dict[str, Any]]) -> None:
    batch, _, _, _ = submitted
    stack = Stack.of(batch)
    high = batch.queue("high")
    assert (high.name, high.job_queue_name, high.compute_environments, high.job_definitions) == (
        "high", "Jobs-high", ("efa",), ("mpi",))
    assert stack.resolve(high.job_queue_arn) == {"Fn::GetAtt": [stack.get_logical_id(high.resource), "JobQueueArn"]}
    assert batch.queue("low").job_definitions == ("render",)


def test_a_job_definition_object_carries_its_names_arn_and_queues(
        submitted: tuple[BatchOrchestration, iam.Role, iam.Role, dict[str, Any]]) -> None:
    batch, _, _, template = submitted
    stack = Stack.of(batch)
    mpi = batch.job_definition("mpi")
    assert (mpi.name, mpi.job_definition_name, mpi.kind, mpi.queues) == ("mpi", "Jobs-mpi", "multinode", ("high",))
    assert stack.resolve(mpi.job_definition_arn) == {
        "Fn::GetAtt": [stack.get_logical_id(mpi.resource), "JobDefinitionArn"]}
    assert template["Resources"][stack.get_logical_id(mpi.resource)]["Properties"]["JobDefinitionName"] == "Jobs-mpi"
    assert batch.job_definition("render").kind == "container"


def test_grant_submit_job_names_the_queue_and_the_definitions_that_run_there(
        submitted: tuple[BatchOrchestration, iam.Role, iam.Role, dict[str, Any]]) -> None:
    batch, analysts, renderers, template = submitted
    stack = Stack.of(batch)

    def arn(resource: Any, attribute: str) -> dict[str, Any]:
        return {"Fn::GetAtt": [stack.get_logical_id(resource), attribute]}

    def submit(*resources: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"Action": "batch:SubmitJob", "Effect": "Allow",
                 "Resource": sorted(resources, key=lambda r: json.dumps(r, sort_keys=True))}]

    def written(role: iam.Role) -> list[dict[str, Any]]:
        return [{**s, "Resource": sorted(s["Resource"], key=lambda r: json.dumps(r, sort_keys=True))}
                for s in _statements(template, role)]

    assert written(analysts) == submit(arn(batch.job_queues["high"], "JobQueueArn"),
                                       arn(batch.job_definitions["mpi"], "JobDefinitionArn"))
    assert written(renderers) == submit(arn(batch.job_queues["low"], "JobQueueArn"),
                                        arn(batch.job_definitions["render"], "JobDefinitionArn"))
    assert "*" not in json.dumps(_statements(template, analysts) + _statements(template, renderers))


def test_grant_submit_job_refuses_what_cannot_run_on_the_queue(
        submitted: tuple[BatchOrchestration, iam.Role, iam.Role, dict[str, Any]]) -> None:
    batch, analysts, _, _ = submitted
    with pytest.raises(ConfigError, match=r"render's jobs run on the queues low"):
        batch.grant_submit_job(analysts, "high", job_definitions=["render"])
    with pytest.raises(ConfigError, match=r"one of the queues: high, low"):
        batch.queue("medium")
    with pytest.raises(ConfigError, match=r"one of the job definitions: mpi, render"):
        batch.job_definition("osu")


def test_names_in_a_nested_stack_carry_its_id() -> None:
    _, stack, network = _stack("Top")
    nested = NestedStack(stack, "Hpc")
    batch = BatchOrchestration(nested, "Batch", vpc=network.vpc,
                               compute_environments=[ComputeEnvironmentSpec("cpu")],
                               container_jobs=[ContainerJobSpec("one", IMAGE, vcpus=1, memory_mib=1024)])
    assert batch.queue("default").job_queue_name == "Top-Hpc-default"
    assert batch.job_definition("one").job_definition_name == "Top-Hpc-one"


# -- storage tiers on the hosts and in the containers ---------------------------------------------------------

def _volumes(template: dict[str, Any], batch: BatchOrchestration, job: str) -> list[tuple[str, str]]:
    properties = template["Resources"][Stack.of(batch).get_logical_id(batch.job_definitions[job])]["Properties"]
    container = (properties.get("ContainerProperties")
                 or properties["NodeProperties"]["NodeRangeProperties"][0]["Container"])
    volumes = {v["Name"]: v["Host"]["SourcePath"] for v in container.get("Volumes", [])}
    return [(volumes[m["SourceVolume"]], m["ContainerPath"]) for m in container.get("MountPoints", [])]


def _user_data(template: dict[str, Any], construct: Any) -> str:
    cfn = construct.launch_template.node.default_child
    data = template["Resources"][Stack.of(construct).get_logical_id(cfn)]["Properties"]["LaunchTemplateData"]
    return json.dumps(data["UserData"])


def _imported_tiers(stack: Stack, network: HpcNetwork) -> tuple[LustreFileSystem, EfsFileSystem]:
    from aws_cdk import aws_efs

    group = ec2.SecurityGroup.from_security_group_id(stack, "LustreClients", "sg-0123456789abcdef0")
    lustre = LustreFileSystem.from_lustre_file_system_attributes(
        stack, "Lustre", file_system_id="fs-0123456789abcdef0", dns_name="fs-0123456789abcdef0.fsx.example.com",
        mount_name="abcdefgh", security_group=group, mount_point="/lustre")
    efs = EfsFileSystem.from_file_system(stack, "Home", aws_efs.FileSystem.from_file_system_attributes(
        stack, "HomeFs", file_system_id="fs-0fedcba98", security_group=ec2.SecurityGroup.from_security_group_id(
            stack, "HomeSg", "sg-0fedcba9876543210")), mount_point="/home/shared")
    return lustre, efs


def test_tiers_given_as_storage_reach_the_hosts_and_every_job_s_containers() -> None:
    _, stack, network = _stack()
    lustre, efs = _imported_tiers(stack, network)
    batch = BatchOrchestration(
        stack, "Batch", vpc=network.vpc, storage=[lustre, efs], multi_node_jobs=[MPI],
        compute_environments=[ComputeEnvironmentSpec("efa", instance_types=["hpc7a.96xlarge"], max_vcpus=1024)],
        container_jobs=[ContainerJobSpec("post", IMAGE, vcpus=2, memory_mib=4096)])
    template = _synthesizes(stack)
    for job in ("mpi", "post"):
        assert _volumes(template, batch, job) == [("/lustre", "/lustre"), ("/home/shared", "/home/shared")]
    user_data = _user_data(template, batch.environment_constructs["efa"])
    assert "fs-0123456789abcdef0.fsx.example.com@tcp:/abcdefgh" in user_data and "fs-0fedcba98:/ /home/shared" in \
        user_data


def test_a_stand_alone_lustre_file_system_is_accepted_as_storage() -> None:
    _, stack, network = _stack()
    lustre = LustreFileSystem(stack, "Scratch", vpc=network.vpc, subnet=network.cluster_subnet,
                              spec=LustreSpec(deployment_type="SCRATCH_2", storage_capacity_gib=1200))
    batch = BatchOrchestration(stack, "Batch", vpc=network.vpc, storage=lustre,
                               compute_environments=[ComputeEnvironmentSpec("cpu")],
                               container_jobs=[ContainerJobSpec("post", IMAGE, vcpus=2, memory_mib=4096)])
    assert _volumes(_synthesizes(stack), batch, "post") == [("/fsx", "/fsx")]


def test_an_imported_lustre_mounted_later_on_an_environment_reaches_its_jobs_containers() -> None:
    _, stack, network = _stack()
    lustre, _ = _imported_tiers(stack, network)
    batch = BatchOrchestration(
        stack, "Batch", vpc=network.vpc, multi_node_jobs=[MPI],
        compute_environments=[ComputeEnvironmentSpec("efa", instance_types=["hpc7a.96xlarge"], max_vcpus=1024)])
    lustre.mount_on(batch.environment_constructs["efa"])  # the way: after the orchestration is made
    template = _synthesizes(stack)
    assert _volumes(template, batch, "mpi") == [("/lustre", "/lustre")]
    assert "@tcp:/abcdefgh" in _user_data(template, batch.environment_constructs["efa"])


def test_a_path_on_some_of_a_job_s_environments_stays_out_of_its_containers_with_a_warning() -> None:
    _, stack, network = _stack()
    lustre, _ = _imported_tiers(stack, network)
    batch = BatchOrchestration(
        stack, "Batch", vpc=network.vpc,
        compute_environments=[ComputeEnvironmentSpec("a", instance_types=["c7i"]),
                              ComputeEnvironmentSpec("b", instance_types=["m7i"])],
        job_queues=[JobQueueSpec("q", ["a", "b"])],
        container_jobs=[ContainerJobSpec("post", IMAGE, vcpus=2, memory_mib=4096)])
    lustre.mount_on(batch.environment_constructs["a"])
    template = _synthesizes(stack)
    assert _volumes(template, batch, "post") == []
    Annotations.from_stack(stack).has_warning(
        "/User/Batch/Jobpost", Match.string_like_regexp("/lustre is mounted on a but not on every environment"))


def test_slurm_takes_an_imported_lustre_as_storage() -> None:
    _, stack, network = _stack()
    lustre, efs = _imported_tiers(stack, network)
    cluster = SlurmCluster(stack, "Slurm", vpc=network.vpc, slurm_version="25.05", ami_id="ami-0123456789abcdef0",
                           node_groups=[NodeGroupSpec("cpu", ["c7i.large"])], storage=[lustre, efs])
    template = _synthesizes(stack)
    user_data = _user_data(template, cluster.node_groups["cpu"])
    assert "@tcp:/abcdefgh" in user_data and "fs-0fedcba98:/ /home/shared" in user_data
