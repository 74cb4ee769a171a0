"""Wrong kinds at every public entry point: a ConfigError naming what to pass, never an AttributeError or a TypeError
from deep inside (hpc_constructs/kinds.py, applied by @check_kinds to every construct of the public API).

The named cases of issue 30 first, then the checker itself, then hypothesis: random values of every kind, for every
keyword prop of every public construct and every field of the specs they take, give a ConfigError or a construct,
never another exception.
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct
from hypothesis import strategies as st

import hpc_constructs
from hpc_constructs import (
    BatchComputeEnvironment,
    BatchOrchestration,
    BucketSpec,
    ComputeEnvironmentSpec,
    ComputeFleet,
    ConfigError,
    ContainerJobSpec,
    DataBucket,
    DataSyncLocation,
    DataSyncTaskSpec,
    DataTransferLayer,
    DirectConnectSpec,
    EbsSpec,
    EbsVolumes,
    EfsFileSystem,
    EfsSpec,
    HaBastion,
    HaInstance,
    HpcDashboard,
    HpcImage,
    HpcNetwork,
    JobEvents,
    JobQueueSpec,
    LoginNodesSpec,
    LustreDataRepository,
    LustreFileSystem,
    LustreSpec,
    MultiNodeJobSpec,
    NodeGroupSpec,
    NodeRangeSpec,
    SlurmCluster,
    SlurmNodeGroup,
    SlurmQueueSpec,
    SnowballImportSpec,
    SshUser,
    SshUsers,
    StorageLayer,
)
from hpc_constructs.kinds import allowed, implements, problem
from tests.support import hypothesis_outcomes, new_app

ENV = {"account": "111122223333", "region": "us-east-1"}
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBtzpnlOYINfuM7Z9YA5AY525lPWi1R5o4/5GDUbOlUY alice@laptop"
AMI = "ami-0123456789abcdef0"
IMAGE = "public.ecr.aws/hpc/app:1"


# -- the cases the issue names ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def world() -> dict[str, Any]:
    """One app with what the props take: a network, an imported Lustre, a fleet, groups, roles, plans."""
    app = new_app()
    stack = Stack(app, "Pool", env=ENV)
    network = HpcNetwork(stack, "Net")
    group = ec2.SecurityGroup.from_security_group_id(stack, "Sg", "sg-0123456789abcdef0")
    lustre = LustreFileSystem.from_lustre_file_system_attributes(
        stack, "ImportedLustre", file_system_id="fs-0123456789abcdef0", dns_name="fs.example.com",
        mount_name="abcdefgh", security_group=group)
    fleet = ComputeFleet(stack, "Fleet", vpc=network.vpc, subnet=network.cluster_subnet,
                         instance_types=["c7i.large"])
    batch = BatchOrchestration(stack, "Batch", vpc=network.vpc, compute_environments=[ComputeEnvironmentSpec("cpu")])
    cluster = SlurmCluster(stack, "Slurm", vpc=network.vpc, slurm_version="25.05", ami_id=AMI,
                           node_groups=[NodeGroupSpec("cpu", ["c7i.large"])])
    users = SshUsers(stack, "Users", users=[SshUser("alice", [KEY])])
    return {"app": app, "stack": stack, "network": network, "group": group, "lustre": lustre, "fleet": fleet,
            "batch": batch, "cluster": cluster, "users": users,
            "role": iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com")),
            "bucket": s3.Bucket(stack, "Bucket")}


_count = itertools.count()


def fresh(world: dict[str, Any]) -> Stack:
    return Stack(world["app"], f"Example{next(_count)}", env=ENV)


def test_an_hpc_network_where_a_vpc_goes_says_pass_network_vpc(world: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as error:
        ComputeFleet(fresh(world), "Fleet", vpc=world["network"], instance_types=["c7i.large"])
    text = str(error.value)
    assert "vpc=an HpcNetwork" in text and "Allowed: an ec2.IVpc." in text and "Pass network.vpc" in text
    assert error.value.prop == "vpc" and error.value.value is world["network"]


@pytest.mark.parametrize("construct", [BatchOrchestration, SlurmCluster, StorageLayer, HaBastion, DataTransferLayer,
                                       HaInstance])
def test_every_construct_with_a_vpc_says_pass_network_vpc(world: dict[str, Any], construct: Any) -> None:
    with pytest.raises(ConfigError, match=r"Pass network\.vpc"):
        construct(fresh(world), "X", **{**minimal(construct, world), "vpc": world["network"]})


def test_a_queue_s_environments_as_a_string_get_the_list_form(world: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as error:
        BatchOrchestration(fresh(world), "Batch", vpc=world["network"].vpc,
                           compute_environments=[ComputeEnvironmentSpec("cpu")],
                           job_queues=[JobQueueSpec("high", "cpu")])  # type: ignore[arg-type]
    text = str(error.value)
    assert "job_queues[0].compute_environments='cpu' (a str)" in text
    assert "Write job_queues[0].compute_environments=['cpu']" in text
    assert "1 to 3 compute environments" not in text


def test_a_single_spec_where_a_list_goes_gets_the_list_form(world: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"Write compute_environments=\[compute_environment_spec\]"):
        BatchOrchestration(fresh(world), "Batch", vpc=world["network"].vpc,
                           compute_environments=ComputeEnvironmentSpec("cpu"))  # type: ignore[arg-type]


def test_instance_types_as_a_string_get_the_list_form(world: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"Write instance_types=\['c7i.large'\]"):
        ComputeFleet(fresh(world), "Fleet", vpc=world["network"].vpc, instance_types="c7i.large")


def test_a_storage_layer_where_its_tier_goes_names_the_attribute(world: dict[str, Any]) -> None:
    stack = fresh(world)
    storage = StorageLayer(stack, "Storage", vpc=world["network"].vpc, efs=EfsSpec())
    with pytest.raises(ConfigError, match=r"Pass storage\.file_system"):
        EfsFileSystem.from_file_system(stack, "Again", storage)  # type: ignore[arg-type]


def test_numbers_as_text_and_flags_as_numbers_are_named(world: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"Write max_capacity=4 \(a number, not text\)"):
        ComputeFleet(fresh(world), "Fleet", vpc=world["network"].vpc, instance_types=["c7i.large"],
                     max_capacity="4")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"Write spot=True"):
        ComputeFleet(fresh(world), "Fleet", vpc=world["network"].vpc, instance_types=["c7i.large"],
                     spot=1)  # type: ignore[arg-type]


def test_a_wrong_scope_is_a_config_error_too(world: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"scope=.*Allowed: a Construct"):
        HpcNetwork(world["network"].vpc.node.id, "Net")  # type: ignore[arg-type]


def test_methods_check_their_arguments(world: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"Batch: grantee=.*Allowed: an iam\.IGrantable"):
        world["batch"].grant_submit_job("alice", "default")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"Allowed: text \(a str\)"):
        world["batch"].queue(1)  # type: ignore[arg-type]


def test_enable_cdk_nag_names_what_it_takes() -> None:
    from hpc_constructs import enable_cdk_nag

    with pytest.raises(ConfigError, match=r"app='app' \(a str\) is not allowed. Allowed: an IConstruct. Pass your App"):
        enable_cdk_nag("app")  # type: ignore[arg-type]


# -- the checker ----------------------------------------------------------------------------------------------------

def test_jsii_interfaces_are_read_from_jsii_s_records(world: dict[str, Any]) -> None:
    network, group = world["network"], world["group"]
    assert implements(network.vpc, ec2.IVpc)  # a class of aws-cdk-lib
    assert implements(group, ec2.ISecurityGroup) and implements(group, ec2.IConnectable)  # an imported proxy
    assert implements(world["fleet"], iam.IGrantable)  # a class of ours, @jsii.implements
    assert not implements(network, ec2.IVpc) and not implements(group, ec2.IVpc) and not implements("vpc", ec2.IVpc)


@pytest.mark.parametrize(("value", "annotation", "fits"), [
    (["a"], "Sequence[str]", True),
    ("a", "Sequence[str]", False),  # text is not a list of names
    ({"a"}, "Sequence[str]", False),  # a set has no order
    ((1,), "Sequence[str]", False),
    (True, "int", False),  # a flag is not a number
    (3, "float", True),
    (3.0, "int", False),
    (None, "int | None", True),
    ({"k": "v"}, "Mapping[str, str]", True),
    ({"k": 1}, "Mapping[str, str]", False),
])
def test_the_checker_means_what_a_user_means(value: object, annotation: str, fits: bool) -> None:
    from collections.abc import Mapping, Sequence  # noqa: F401 (evaluated below)

    assert (problem(value, eval(annotation)) is None) is fits


def test_numbers_filled_in_at_deploy_time_are_numbers(world: dict[str, Any]) -> None:
    from aws_cdk import CfnParameter

    count = CfnParameter(fresh(world), "Count", type="Number").value_as_number
    assert problem(count, int) is None


def test_allowed_reads_like_the_docstrings() -> None:
    assert allowed(ec2.IVpc) == "an ec2.IVpc"
    assert allowed(StorageLayer | None) == "a StorageLayer or None"
    from collections.abc import Sequence

    assert allowed(Sequence[str]) == "a list of str"
    assert allowed(iam.IRole | None) == "an iam.IRole or None"


# -- every prop of every construct: hypothesis --------------------------------------------------------------------

def minimal(construct: Any, world: dict[str, Any]) -> dict[str, Any]:
    """The fewest props that build `construct`."""
    vpc = world["network"].vpc
    subnet = world["network"].cluster_subnet
    batch, cluster = world["batch"], world["cluster"]
    return {
        HpcNetwork: {},
        ComputeFleet: {"vpc": vpc, "instance_types": ["c7i.large"]},
        StorageLayer: {"vpc": vpc},
        DataBucket: {},
        EbsVolumes: {"volumes": [EbsSpec(100, "gp3")], "subnet": subnet},
        EfsFileSystem: {"vpc": vpc},
        LustreFileSystem: {"vpc": vpc, "subnet": subnet},
        DataTransferLayer: {"vpc": vpc},
        BatchOrchestration: {"vpc": vpc, "compute_environments": [ComputeEnvironmentSpec("cpu")]},
        BatchComputeEnvironment: {"vpc": vpc, "plan": batch.plan.environments["cpu"], "subnets": [subnet],
                                  "fleet": None, "root_volume_size_gib": 64},
        HaBastion: {"vpc": vpc, "allowed_cidrs": ["203.0.113.0/24"]},
        HaInstance: {"vpc": vpc},
        HpcDashboard: {"parts": [world["fleet"]]},
        HpcImage: {"vpc": vpc},
        SlurmCluster: {"vpc": vpc, "slurm_version": "25.05", "ami_id": AMI,
                       "node_groups": [NodeGroupSpec("cpu", ["c7i.large"])]},
        SlurmNodeGroup: {"plan": cluster.plan.node_groups[0], "cluster": cluster.cluster, "subnet": subnet,
                         "security_groups": [cluster.security_group], "user_data": ec2.UserData.for_linux(),
                         "image_id": AMI, "instance_profile_arn": cluster.instance_profile.attr_arn,
                         "public_ip": False},
        SshUsers: {"users": [SshUser("alice", [KEY])]},
        JobEvents: {"job_queue_arns": ["arn:aws:batch:us-east-1:111122223333:job-queue/q"]},
    }[construct]


CONSTRUCTS = sorted((getattr(hpc_constructs, name) for name in hpc_constructs.__all__
                     if isinstance(getattr(hpc_constructs, name), type)
                     and issubclass(getattr(hpc_constructs, name), Construct)), key=lambda c: c.__name__)


def test_every_public_construct_is_covered() -> None:
    assert {c.__name__ for c in CONSTRUCTS} == {
        "BatchComputeEnvironment", "BatchOrchestration", "ComputeFleet", "DataBucket", "DataTransferLayer",
        "EbsVolumes", "EfsFileSystem", "HaBastion", "HaInstance", "HpcDashboard", "HpcImage", "HpcNetwork", "JobEvents",
        "LustreFileSystem",
        "SlurmCluster", "SlurmNodeGroup", "SshUsers", "StorageLayer"}


def props(construct: Any) -> list[str]:
    parameters = inspect.signature(construct.__init__).parameters.values()
    return ["scope", "id", *(p.name for p in parameters
                             if p.kind is inspect.Parameter.KEYWORD_ONLY and not p.name.startswith("_"))]


FOREIGN = (object(), b"bytes", 1j, Ellipsis)  # no annotation of the library allows these


def values(world: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values of every kind a user might pass by mistake, the library's own objects included."""
    stack = world["stack"]
    objects = [world["network"], world["network"].vpc, world["network"].cluster_subnet, world["group"],
               world["lustre"], world["fleet"], world["role"], world["bucket"], world["users"], stack,
               RemovalPolicy.DESTROY, Duration.minutes(5), ec2.SubnetSelection(), EbsSpec(100, "gp3"),
               JobQueueSpec("q", ["cpu"]), ComputeEnvironmentSpec("cpu"), LustreSpec(), *FOREIGN]
    return st.one_of(st.none(), st.booleans(), st.integers(-3, 10**6), st.floats(allow_nan=False),
                     st.text(max_size=8), st.lists(st.integers(), max_size=3),
                     st.lists(st.text(max_size=4), max_size=2),
                     st.dictionaries(st.text(max_size=3), st.integers(), max_size=2), st.sampled_from(objects))


def outcome(build: Callable[[], object]) -> str:
    try:
        build()
    except ConfigError:
        return "refused"
    return "built"


@pytest.mark.parametrize("construct", CONSTRUCTS, ids=lambda c: c.__name__)
def test_random_kinds_for_every_prop_give_config_error_or_a_construct(world: dict[str, Any], construct: Any) -> None:
    names = props(construct)
    refused_foreign: list[bool] = []

    def check(prop: str, value: object, foreign: object) -> bool:
        base = minimal(construct, world)
        for drawn in (value, foreign):
            if prop == "id" and isinstance(drawn, str):
                drawn = f"Id{next(_count)}{drawn}"  # the right kind; a taken or empty id is CDK's own error
            kwargs = {**base, prop: drawn}
            scope = kwargs.pop("scope", fresh(world))
            id_ = kwargs.pop("id", f"Thing{next(_count)}")
            result = outcome(lambda: construct(scope, id_, **kwargs))  # noqa: B023 (called at once)
            if drawn is foreign:
                refused_foreign.append(result == "refused")
            elif result == "refused":
                return False
        return True

    built, examples = hypothesis_outcomes(check, max_examples=len(names) * 2, prop=st.sampled_from(names),
                                          value=values(world), foreign=st.sampled_from(FOREIGN))
    assert all(refused_foreign), f"{construct.__name__} accepted a value no annotation allows"
    assert examples - built >= 1, f"no random value was refused by {construct.__name__}"


# -- every field of every spec: hypothesis --------------------------------------------------------------------------

def specs(world: dict[str, Any]) -> list[tuple[Any, str, Any, bool]]:
    """(construct, prop, a valid spec, whether the prop takes a list of them)."""
    return [
        (BatchOrchestration, "compute_environments", ComputeEnvironmentSpec("cpu", max_vcpus=1024), True),
        (BatchOrchestration, "job_queues", JobQueueSpec("q", ["cpu"]), True),
        (BatchOrchestration, "multi_node_jobs", MultiNodeJobSpec("mpi", IMAGE, "cpu", 2, "c7i.48xlarge",
                                                                 node_ranges=(NodeRangeSpec(0, 1),)), True),
        (BatchOrchestration, "container_jobs", ContainerJobSpec("one", IMAGE, vcpus=1, memory_mib=1024), True),
        (SlurmCluster, "node_groups", NodeGroupSpec("cpu", ["c7i.large"]), True),
        (SlurmCluster, "queues", SlurmQueueSpec("all", ["cpu"]), True),
        (SlurmCluster, "login_nodes", LoginNodesSpec(), False),
        (StorageLayer, "ebs_volumes", EbsSpec(100, "gp3", name="data"), True),
        (StorageLayer, "lustre", LustreSpec(data_repositories=(LustreDataRepository("/data", "s3://b/p/"),)), False),
        (StorageLayer, "efs", EfsSpec(), False),
        (StorageLayer, "bucket", BucketSpec(), False),
        (DataTransferLayer, "datasync_tasks", DataSyncTaskSpec(DataSyncLocation.s3(world["bucket"]),
                                                               DataSyncLocation.s3(None, "/in/")), True),
        (DataTransferLayer, "direct_connect", DirectConnectSpec(64_512), False),
        (DataTransferLayer, "snowball_import", SnowballImportSpec(), False),
        (SshUsers, "users", SshUser("alice", [KEY]), True),
        (EfsFileSystem, "spec", EfsSpec(), False),
        (LustreFileSystem, "spec", LustreSpec(), False),
    ]


@pytest.mark.parametrize("index", range(17))
def test_random_kinds_in_every_spec_field_give_config_error_or_a_construct(world: dict[str, Any],
                                                                           index: int) -> None:
    cases = specs(world)
    assert len(cases) == 17
    construct, prop, spec, many = cases[index]
    fields = [f.name for f in dataclasses.fields(spec)]

    def check(field: str, value: object, foreign: object) -> bool:
        accepted = True
        for drawn in (value, foreign):
            wrong = dataclasses.replace(spec, **{field: drawn})
            kwargs = {**minimal(construct, world), prop: [wrong] if many else wrong}
            result = outcome(lambda: construct(fresh(world), "Thing", **kwargs))  # noqa: B023
            if drawn is foreign:
                assert result == "refused", f"{type(spec).__name__}.{field}={drawn!r} was accepted"
            else:
                accepted = result == "built"
        return accepted

    built, examples = hypothesis_outcomes(check, max_examples=len(fields) * 2, field=st.sampled_from(fields),
                                          value=values(world), foreign=st.sampled_from(FOREIGN))
    assert examples - built >= 1, f"no random {type(spec).__name__} field was refused"
