"""batch_plan's rules, each at its boundary, without CDK: environments, multi-node jobs, container jobs, queues."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import strategies as st

from hpc_constructs import ConfigError
from hpc_constructs.batch_plan import (
    BatchPlan,
    ComputeEnvironmentSpec,
    ContainerJobSpec,
    EnvironmentInput,
    FleetFacts,
    JobQueueSpec,
    MultiNodeJobSpec,
    NodeRangeSpec,
    plan_batch,
    usable_memory_mib,
)
from hpc_constructs.catalog import instance_type
from hpc_constructs.catalog.limits import BATCH
from tests.support import hypothesis_outcomes

IMAGE = "public.ecr.aws/hpc/app:1"


def env(name: str = "od", subnets: int = 1, fleet: FleetFacts | None = None, route_out: bool = True,
        **props: Any) -> EnvironmentInput:
    return EnvironmentInput(ComputeEnvironmentSpec(name, **props), subnets, fleet, route_out)


def mnp(num_nodes: int = 4, instance: str = "hpc7a.96xlarge", environment: str = "od",
        **props: Any) -> MultiNodeJobSpec:
    return MultiNodeJobSpec("mpi", IMAGE, environment, num_nodes, instance, command=("mpirun", "app"), **props)


def plan(environments: list[EnvironmentInput], queues: list[JobQueueSpec] | None = None,
         jobs: list[MultiNodeJobSpec] | None = None, containers: list[ContainerJobSpec] | None = None) -> BatchPlan:
    return plan_batch("Test/Batch", environments, queues or [], jobs or [], containers or [])


def efa_env(instance: str = "hpc7a.96xlarge", **props: Any) -> EnvironmentInput:
    props.setdefault("max_vcpus", 200_000)
    return env(instance_types=(instance,), **props)


# -- compute environments --------------------------------------------------------------------------------

def test_spot_environment_is_spot_and_gets_the_cpu_image() -> None:
    result = plan([env("spot", 2, instance_types=("c7i", "m7i"), spot=True)])
    e = result.environments["spot"]
    assert e.resource_type == "SPOT" and e.image_types == ("ECS_AL2023",) and e.network is None
    assert {t.family for t in e.launchable} == {"c7i", "m7i"}
    assert not e.placement_group


def test_gpu_types_get_the_ecs_gpu_image_and_mixed_types_get_both() -> None:
    gpu = plan([env(instance_types=("g6e.xlarge",))]).environments["od"]
    assert gpu.image_types == ("ECS_AL2023_NVIDIA",)
    mixed = plan([env(instance_types=("g6e.xlarge", "c7i.large"))]).environments["od"]
    assert mixed.image_types == ("ECS_AL2023", "ECS_AL2023_NVIDIA")


def test_gpu_families_the_image_does_not_support_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """p3 and g3 (which the GPU image lacks) are no longer in the catalog; the rule is shown on g6e."""
    from hpc_constructs import batch_plan

    assert not [t for t in batch_plan.catalog.instance_types() if t.family in BATCH.gpu_image_excluded_families]
    monkeypatch.setattr(batch_plan, "BATCH", replace(BATCH, gpu_image_excluded_families=("g6e",)))
    with pytest.raises(ConfigError, match="ECS_AL2023_NVIDIA"):
        plan([env(instance_types=("g6e",))])


def test_a1_is_refused_because_amazon_linux_2023_does_not_run_on_it() -> None:
    with pytest.raises(ConfigError, match="A1"):
        plan([env(instance_types=("a1.large",))])


def test_optimal_means_the_documented_x86_families() -> None:
    e = plan([env()]).environments["od"]
    assert e.instance_types == ("optimal",)
    assert {t.family for t in e.launchable} == set(BATCH.instance_categories["optimal"]) == {"m6i", "c6i", "r6i", "c7i"}
    assert e.architecture == "x86_64"


def test_unknown_instance_type_and_family_are_refused() -> None:
    with pytest.raises(ConfigError, match="c7i.huge"):
        plan([env(instance_types=("c7i.huge",))])
    with pytest.raises(ConfigError, match="No instance family"):
        plan([env(instance_types=("zz9",))])


def test_one_architecture_per_environment() -> None:
    with pytest.raises(ConfigError, match="one architecture"):
        plan([env(instance_types=("c7i.large", "c7g.large"))])


def test_min_vcpus_at_most_max_vcpus() -> None:
    assert plan([env(min_vcpus=256, max_vcpus=256)]).environments["od"].min_vcpus == 256
    with pytest.raises(ConfigError, match="min_vcpus"):
        plan([env(min_vcpus=257, max_vcpus=256)])


def test_spot_needs_types_with_spot_capacity() -> None:
    assert not instance_type("hpc7a.96xlarge").supports_spot
    with pytest.raises(ConfigError, match="Spot"):
        plan([env(instance_types=("hpc7a.96xlarge",), spot=True)])


def test_fleet_environment_takes_the_fleets_types_and_refuses_others() -> None:
    fleet = FleetFacts("Test/Cpu", ("hpc7a.96xlarge",), True, True)
    e = plan([env(fleet=fleet, max_vcpus=768)], jobs=[mnp()]).environments["od"]
    assert e.instance_types == ("hpc7a.96xlarge",) and e.from_fleet and e.efa and e.placement_group
    with pytest.raises(ConfigError, match="the fleet's types"):
        plan([env(fleet=fleet, instance_types=("c7i.large",))])


def test_fleet_without_placement_group_cannot_run_multi_node_jobs() -> None:
    fleet = FleetFacts("Test/Cpu", ("hpc7a.96xlarge",), True, False)
    with pytest.raises(ConfigError, match="placement group"):
        plan([env(fleet=fleet, max_vcpus=768)], jobs=[mnp()])


# -- multi-node parallel jobs ------------------------------------------------------------------------------

def test_spot_environment_refuses_multi_node_jobs_and_says_why() -> None:
    with pytest.raises(ConfigError, match="never leave RUNNABLE") as error:
        plan([env(instance_types=("c5n.18xlarge",), spot=True, max_vcpus=10_000)],
             jobs=[mnp(instance="c5n.18xlarge")])
    assert "Spot" in str(error.value)


def test_fargate_environment_refuses_multi_node_jobs() -> None:
    with pytest.raises(ConfigError, match="Fargate"):
        plan([env(fargate=True)], jobs=[mnp()])


def test_several_subnets_with_multi_node_jobs_are_refused() -> None:
    with pytest.raises(ConfigError, match="exactly one subnet"):
        plan([efa_env(subnets=2)], jobs=[mnp()])


@pytest.mark.parametrize(("nodes", "ok"), [(1, False), (2, True), (1000, True), (1001, False)])
def test_node_count_bounds(nodes: int, ok: bool) -> None:
    args = ([efa_env()], None, [mnp(num_nodes=nodes)])
    if ok:
        assert plan(*args).multi_node_jobs[0].spec.num_nodes == nodes
    else:
        with pytest.raises(ConfigError, match="num_nodes"):
            plan(*args)


def _ranges(count: int, nodes: int = 10) -> tuple[NodeRangeSpec, ...]:
    bounds = [round(i * nodes / count) for i in range(count + 1)]
    return tuple(NodeRangeSpec(bounds[i], bounds[i + 1] - 1) for i in range(count))


def test_five_node_ranges_are_accepted_and_six_refused() -> None:
    five = plan([efa_env()], jobs=[mnp(num_nodes=10, node_ranges=_ranges(5))]).multi_node_jobs[0]
    assert [r[:2] for r in five.ranges] == [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
    with pytest.raises(ConfigError, match="at most 5 node ranges"):
        plan([efa_env()], jobs=[mnp(num_nodes=10, node_ranges=_ranges(6))])


@pytest.mark.parametrize("ranges", [
    (NodeRangeSpec(0, 1), NodeRangeSpec(3, 3)),  # gap at 2
    (NodeRangeSpec(0, 2), NodeRangeSpec(2, 3)),  # overlap at 2
    (NodeRangeSpec(0, 2),),  # 3 uncovered
    (NodeRangeSpec(1, 3),),  # 0 uncovered
    (NodeRangeSpec(0, 4),),  # past the last node
])
def test_node_ranges_cover_every_node_once(ranges: tuple[NodeRangeSpec, ...]) -> None:
    with pytest.raises(ConfigError, match="node_ranges"):
        plan([efa_env()], jobs=[mnp(node_ranges=ranges)])


def test_node_range_commands_default_to_the_jobs_command() -> None:
    job = plan([efa_env()], jobs=[mnp(node_ranges=(NodeRangeSpec(0, 0, ("main",)), NodeRangeSpec(1, 3)))])
    assert job.multi_node_jobs[0].ranges == ((0, 0, ("main",)), (1, 3, ("mpirun", "app")))


def test_the_environment_must_launch_the_jobs_instance_type() -> None:
    with pytest.raises(ConfigError, match="instance_type"):
        plan([efa_env("c5n.18xlarge")], jobs=[mnp()])


def test_every_node_must_fit_in_max_vcpus_at_once() -> None:
    assert plan([efa_env(max_vcpus=768)], jobs=[mnp(num_nodes=4)]).multi_node_jobs
    with pytest.raises(ConfigError, match="max_vcpus") as error:
        plan([efa_env(max_vcpus=767)], jobs=[mnp(num_nodes=4)])
    assert "768" in str(error.value)


@pytest.mark.parametrize(("instance", "devices"), [("p5.48xlarge", 32), ("c5n.18xlarge", 1), ("p4d.24xlarge", 4),
                                                   ("hpc7a.96xlarge", 2)])
def test_one_uverbs_device_per_efa_interface(instance: str, devices: int) -> None:
    result = plan([efa_env(instance)], jobs=[mnp(instance=instance)])
    job = result.multi_node_jobs[0]
    assert job.efa_devices == tuple(f"/dev/infiniband/uverbs{i}" for i in range(devices))
    network = result.environments["od"].network
    assert network is not None and network.efa_interface_count == devices


def test_efa_layout_leaves_card0_room_for_the_awsvpc_interface() -> None:
    """Batch attaches an interface to each node of a multi-node job: card 0 keeps a free slot."""
    for name in ("p5.48xlarge", "hpc7a.96xlarge", "c5n.18xlarge"):
        t = instance_type(name)
        network = plan([efa_env(name)], jobs=[mnp(instance=name)]).environments["od"].network
        assert network is not None
        on_card0 = [i for i in network.interfaces if i.network_card_index == 0]
        assert len(on_card0) < t.network_cards[0].maximum_network_interfaces, name
        assert len(network.interfaces) < t.maximum_network_interfaces, name


def test_efa_off_gives_no_devices_and_efa_true_needs_support() -> None:
    job = plan([efa_env("c5n.18xlarge")], jobs=[mnp(instance="c5n.18xlarge", efa=False)]).multi_node_jobs[0]
    assert job.efa_devices == ()
    with pytest.raises(ConfigError, match="EFA"):
        plan([efa_env("c7i.large")], jobs=[mnp(instance="c7i.large", efa=True)])


def test_efa_needs_a_route_out_for_the_installer() -> None:
    with pytest.raises(ConfigError, match="route out"):
        plan([efa_env(route_out=False)], jobs=[mnp()])


def test_multi_node_defaults_take_the_instance_less_the_memory_buffer() -> None:
    t = instance_type("hpc7a.96xlarge")
    job = plan([efa_env()], jobs=[mnp()]).multi_node_jobs[0]
    assert job.resources.vcpus == t.vcpus and job.resources.memory_mib == t.memory_mib * 95 // 100
    assert job.shared_memory_mib == job.resources.memory_mib // 2
    gpu = plan([efa_env("p5.48xlarge")], jobs=[mnp(instance="p5.48xlarge")]).multi_node_jobs[0]
    assert gpu.resources.gpus == 8


def test_multi_node_resources_within_the_instance() -> None:
    t = instance_type("hpc7a.96xlarge")
    with pytest.raises(ConfigError, match="resources"):
        plan([efa_env()], jobs=[mnp(memory_mib=usable_memory_mib(t) + 1)])
    with pytest.raises(ConfigError, match="shared_memory_mib"):
        plan([efa_env()], jobs=[mnp(memory_mib=1000, shared_memory_mib=1001)])


@pytest.mark.parametrize(("minutes", "attempts", "prop"), [(0, 1, "timeout_minutes"), (1, 0, "attempts"),
                                                           (1, 11, "attempts")])
def test_timeouts_and_attempts_are_bounded(minutes: int, attempts: int, prop: str) -> None:
    assert plan([efa_env()], jobs=[mnp(timeout_minutes=1, attempts=10)]).multi_node_jobs
    with pytest.raises(ConfigError, match=prop):
        plan([efa_env()], jobs=[mnp(timeout_minutes=minutes, attempts=attempts)])


# -- container jobs -------------------------------------------------------------------------------------------

def _container(**props: Any) -> ContainerJobSpec:
    defaults: dict[str, Any] = {"name": "job", "image": IMAGE, "vcpus": 4, "memory_mib": 8192}
    defaults.update(props)
    return ContainerJobSpec(**defaults)


def test_a_job_larger_than_any_type_the_environment_launches_is_refused() -> None:
    t = instance_type("g6e.2xlarge")
    environment = env(instance_types=("g6e.xlarge", "g6e.2xlarge"))
    fits = _container(vcpus=t.vcpus, memory_mib=usable_memory_mib(t), gpus=1, compute_environment="od")
    assert plan([environment], containers=[fits]).container_jobs[0].environments == ("od",)
    for too_big in (_container(vcpus=t.vcpus + 1, memory_mib=1024, gpus=1, compute_environment="od"),
                    _container(vcpus=1, memory_mib=usable_memory_mib(t) + 1, gpus=1, compute_environment="od"),
                    _container(vcpus=1, memory_mib=1024, gpus=2, compute_environment="od")):
        with pytest.raises(ConfigError, match="RUNNABLE forever"):
            plan([environment], containers=[too_big])


def test_optimal_is_checked_against_its_families() -> None:
    largest = max((t for t in plan([env()]).environments["od"].launchable), key=lambda t: t.vcpus)
    assert plan([env()], containers=[_container(vcpus=largest.vcpus, memory_mib=1024)]).container_jobs
    with pytest.raises(ConfigError, match="largest"):
        plan([env()], containers=[_container(vcpus=largest.vcpus + 1, memory_mib=1024)])
    with pytest.raises(ConfigError, match="GPUs"):
        plan([env()], containers=[_container(gpus=1)])


def test_job_without_environment_fits_any_of_them() -> None:
    job = plan([env("cpu", instance_types=("c7i.large",)), env("gpu", instance_types=("g6e.xlarge",))],
               [JobQueueSpec("q", ("cpu",)), JobQueueSpec("g", ("gpu",))],
               containers=[_container(vcpus=1, memory_mib=1024, gpus=1)]).container_jobs[0]
    assert job.environments == ("gpu",)


def test_ec2_jobs_reserve_whole_vcpus_and_fargate_jobs_use_its_combinations() -> None:
    with pytest.raises(ConfigError, match="whole number"):
        plan([env()], containers=[_container(vcpus=0.5)])
    fargate = plan([env(fargate=True)], containers=[_container(vcpus=0.5, memory_mib=1024)]).container_jobs[0]
    assert fargate.fargate
    with pytest.raises(ConfigError, match="memory_mib"):
        plan([env(fargate=True)], containers=[_container(vcpus=0.5, memory_mib=8192)])
    with pytest.raises(ConfigError, match="gpus"):
        plan([env(fargate=True)], containers=[_container(vcpus=1, memory_mib=2048, gpus=1)])


# -- queues ------------------------------------------------------------------------------------------------

def _four() -> list[EnvironmentInput]:
    return [env(f"e{i}", 2, instance_types=("c7i",)) for i in range(4)]


def test_three_environments_per_queue_are_accepted_and_four_refused() -> None:
    three = plan(_four(), [JobQueueSpec("q", ("e0", "e1", "e2")), JobQueueSpec("r", ("e3",), priority=2)])
    assert three.queues[0].environments == ("e0", "e1", "e2")
    with pytest.raises(ConfigError, match="1 to 3 compute environments"):
        plan(_four(), [JobQueueSpec("q", ("e0", "e1", "e2", "e3"))])


def test_default_queue_takes_every_environment_and_refuses_four() -> None:
    assert plan(_four()[:3]).queues[0].environments == ("e0", "e1", "e2")
    with pytest.raises(ConfigError, match="explicit JobQueueSpecs"):
        plan(_four())


def test_queue_names_must_exist_and_not_mix() -> None:
    with pytest.raises(ConfigError, match="names of compute environments"):
        plan(_four(), [JobQueueSpec("q", ("e9",))])
    with pytest.raises(ConfigError, match="not both"):
        plan([env("ec2"), env("far", fargate=True)], [JobQueueSpec("q", ("ec2", "far"))])
    with pytest.raises(ConfigError, match="one architecture"):
        plan([env("x", instance_types=("c7i",)), env("a", instance_types=("c7g",))], [JobQueueSpec("q", ("x", "a"))])


def test_queues_sharing_an_environment_need_distinct_priorities() -> None:
    with pytest.raises(ConfigError, match="priority"):
        plan(_four(), [JobQueueSpec("a", ("e0",)), JobQueueSpec("b", ("e0", "e1"))])
    ordered = plan(_four(), [JobQueueSpec("a", ("e1", "e0"), 5), JobQueueSpec("b", ("e0",), 1)])
    assert [(q.name, q.priority, q.environments) for q in ordered.queues] == [("a", 5, ("e1", "e0")),
                                                                              ("b", 1, ("e0",))]


@pytest.mark.parametrize("name", ["", "has space", "x" * 129, "dots.are.not.allowed"])
def test_names_are_batch_names(name: str) -> None:
    with pytest.raises(ConfigError, match="letters, digits"):
        plan([env(name)])


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(ConfigError, match="each name once"):
        plan([env("a"), env("a")])


# -- hypothesis: every random combination is planned or refused with a ConfigError -------------------------------

TYPES = ["c5n.18xlarge", "hpc7a.96xlarge", "p5.48xlarge", "c7i.large", "g6e.xlarge", "c7g.large", "optimal", "c7i",
         "p3.2xlarge", "a1.large"]


def _plans_or_config_errors(types: list[str], spot: bool, subnets: int, nodes: int, job_type: str, max_vcpus: int,
                            ranges: int, efa: bool | None, with_job_type: bool) -> bool:
    types = [job_type, *types] if with_job_type and job_type not in types else types
    node_ranges = _ranges(ranges, nodes) if 0 < ranges <= max(nodes, 1) else ()
    try:
        result = plan([env("e", subnets, instance_types=tuple(types), spot=spot, max_vcpus=max_vcpus)],
                      jobs=[mnp(nodes, job_type, "e", efa=efa, node_ranges=node_ranges)])
    except ConfigError:
        return False
    job, environment = result.multi_node_jobs[0], result.environments["e"]
    assert environment.resource_type == "EC2" and environment.placement_group and subnets == 1
    assert 2 <= job.spec.num_nodes <= 1000 and len(job.ranges) <= 5
    assert job.spec.num_nodes * job.instance_type.vcpus <= environment.max_vcpus
    covered = sorted(i for start, end, _ in job.ranges for i in range(start, end + 1))
    assert covered == list(range(job.spec.num_nodes))
    if job.efa_devices:
        assert environment.network is not None and len(job.efa_devices) == environment.network.efa_interface_count
    return True


def test_plans_or_config_errors() -> None:
    accepted, examples = hypothesis_outcomes(
        _plans_or_config_errors, max_examples=400,
        types=st.lists(st.sampled_from(TYPES), min_size=0, max_size=1), spot=st.sampled_from([False, False, True]),
        subnets=st.sampled_from([1, 1, 1, 2]), nodes=st.one_of(st.integers(0, 16), st.integers(0, 1002)),
        job_type=st.sampled_from(TYPES[:6]), max_vcpus=st.one_of(st.just(200_000), st.integers(0, 4_000)),
        ranges=st.integers(0, 7), efa=st.sampled_from([None, True, False]),
        with_job_type=st.sampled_from([True, True, True, False]))
    assert examples == 400 and 10 <= accepted <= examples - 100, accepted


# -- boundaries the sections above leave out ---------------------------------------------------------------

def test_max_vcpus_at_least_one() -> None:
    assert plan([env(max_vcpus=1)]).environments["od"].max_vcpus == 1
    with pytest.raises(ConfigError, match="max_vcpus"):
        plan([env(max_vcpus=0)])


def test_name_of_128_characters_is_accepted() -> None:
    assert list(plan([env("x" * 128)]).environments) == ["x" * 128]


def test_fargate_takes_16_subnets_and_no_instance_types_min_vcpus_or_fleet() -> None:
    assert plan([env(subnets=16, fargate=True)]).environments["od"].resource_type == "FARGATE"
    assert plan([env(fargate=True, spot=True)]).environments["od"].resource_type == "FARGATE_SPOT"
    with pytest.raises(ConfigError, match="at most 16 subnets"):
        plan([env(subnets=17, fargate=True)])
    with pytest.raises(ConfigError, match="instance_types"):
        plan([env(fargate=True, instance_types=("c7i",))])
    with pytest.raises(ConfigError, match="min_vcpus"):
        plan([env(fargate=True, min_vcpus=1)])
    with pytest.raises(ConfigError, match="fleet"):
        plan([env(fargate=True, fleet=FleetFacts("Test/Cpu", ("c5n.18xlarge",), True, True))])


def test_fleet_efa_decision_cannot_be_overridden() -> None:
    fleet = FleetFacts("Test/Cpu", ("c5n.18xlarge",), True, True)
    with pytest.raises(ConfigError, match="the fleet's decision"):
        plan([env(fleet=fleet, efa=False)])
    no_efa = FleetFacts("Test/Cpu", ("c5n.18xlarge",), False, True)
    with pytest.raises(ConfigError, match="efa"):
        plan([env(fleet=no_efa, max_vcpus=1000)], jobs=[mnp(2, "c5n.18xlarge")])


def test_multi_node_needs_room_for_the_awsvpc_interface() -> None:
    """hpc6id.32xlarge takes 2 interfaces (1 per card); its EFA layout uses both, so a node has no room."""
    assert instance_type("hpc6id.32xlarge").maximum_network_interfaces == 2
    with pytest.raises(ConfigError, match="room for 3 network interfaces"):
        plan([efa_env("hpc6id.32xlarge")], jobs=[mnp(instance="hpc6id.32xlarge")])
    # without EFA the primary leaves room for it
    assert plan([efa_env("hpc6id.32xlarge")], jobs=[mnp(instance="hpc6id.32xlarge", efa=False)]).multi_node_jobs


def test_priority_zero_is_accepted_and_negative_refused() -> None:
    assert plan([env()], [JobQueueSpec("q", ("od",), priority=0)]).queues[0].priority == 0
    with pytest.raises(ConfigError, match="priority"):
        plan([env()], [JobQueueSpec("q", ("od",), priority=-1)])


def test_shared_memory_up_to_the_jobs_memory() -> None:
    assert plan([efa_env()], jobs=[mnp(memory_mib=1000, shared_memory_mib=1000)]).multi_node_jobs
