"""slurm_plan's rules, each at its boundary, without synthesizing: names, versions, sizes, node groups, login nodes,
queues, Slurm settings, the node role and the image. Every refusal is checked for where, which property and which
value it names."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import strategies as st

from hpc_constructs import ConfigError, catalog
from hpc_constructs.catalog.limits import PCS, PCS_PORTS, PCS_SLURM_SETTINGS
from hpc_constructs.fleet_plan import efa_layout
from hpc_constructs.slurm_plan import (
    LoginNodesSpec,
    NodeGroupSpec,
    SlurmPlan,
    SlurmQueueSpec,
    check_node_role,
    plan_slurm,
    settings,
    srun_port_range,
)
from tests.support import hypothesis_outcomes

PATH = "Test/Slurm"
AMI = "ami-0123456789abcdef0"
BASTION = object()  # plan_slurm only asks whether there is one


def cpu(name: str = "cpu", instance_types: tuple[str, ...] = ("c7i.large",), **props: Any) -> NodeGroupSpec:
    return NodeGroupSpec(name, instance_types, **props)


def _defaults() -> dict[str, Any]:
    """plan_slurm's arguments as SlurmCluster passes them by default, with an explicit AMI."""
    return {"cluster_name": None, "slurm_version": PCS.slurm_versions[-1], "size": "SMALL", "queues": (),
            "login_nodes": None, "ami_id": AMI, "root_device_name": None, "image_os": "al2023",
            "install_efa_software": True,
            "scale_down_idle_seconds": PCS.default_scale_down_idle_seconds, "slurm_settings": {},
            "accounting": False, "accounting_purge_days": None, "slurm_rest_api": False, "route_out": True,
            "login_subnet_public": False, "sample_ami_lookup": False}


def plan(*groups: NodeGroupSpec, **props: Any) -> SlurmPlan:
    """plan_slurm with the defaults and `groups` (one c7i.large group named cpu when none are given)."""
    return plan_slurm(PATH, **{**_defaults(), "node_groups": list(groups) or [cpu()], **props})


def refused(call: Callable[[], object], prop: str, value: object, *, where: str = PATH, says: str = "") -> ConfigError:
    """The ConfigError `call` raises names `where`, `prop` and the bad `value` (and says `says`)."""
    with pytest.raises(ConfigError) as info:
        call()
    error = info.value
    assert (error.path, error.prop, error.value) == (where, prop, value), str(error)
    assert str(error).startswith(f"{where}: {prop}={value!r} is not allowed."), str(error)
    assert says in str(error), str(error)
    return error


# -- names --------------------------------------------------------------------------------------------------

def test_cluster_name_of_3_to_40_characters() -> None:
    assert plan(cluster_name="abc").cluster_name == "abc"
    assert plan(cluster_name="a" * 40).cluster_name == "a" * 40
    refused(lambda: plan(cluster_name="ab"), "cluster_name", "ab", says="3 to 40 characters (it has 2)")
    refused(lambda: plan(cluster_name="a" * 41), "cluster_name", "a" * 41, says="3 to 40 characters (it has 41)")
    assert plan().cluster_name is None  # CloudFormation names it


@pytest.mark.parametrize(("length", "ok"), [(2, False), (3, True), (20, True), (21, False), (25, False)])
def test_node_group_name_of_3_to_20_characters_leaves_room_for_the_pcs_suffix(length: int, ok: bool) -> None:
    name = "g" * length
    if ok:
        (group,) = plan(cpu(name)).node_groups
        assert group.name == name and len(group.pcs_name) == length + 5 <= PCS.max_name_chars
    else:
        error = refused(lambda: plan(cpu(name)), "node_groups.name", name, says=f"3 to 20 characters (it has {length})")
        if length > 20:
            assert "4 hex digits of its instance types" in str(error)


def test_a_node_groups_pcs_name_changes_with_its_instance_types_only() -> None:
    """InstanceConfigs is create-only on AWS::PCS::ComputeNodeGroup: a new type set must not reuse the name."""
    one = plan(cpu("cpu", ("c7i.8xlarge",))).node_groups[0]
    two = plan(cpu("cpu", ("c7i.8xlarge", "c7i-flex.8xlarge"))).node_groups[0]
    same_types_other_settings = plan(cpu("cpu", ("c7i.8xlarge",), max_instances=9,
                                         slurm_settings={"Weight": "10"})).node_groups[0]
    assert one.pcs_name != two.pcs_name and one.pcs_name.startswith("cpu-") and two.pcs_name.startswith("cpu-")
    assert same_types_other_settings.pcs_name == one.pcs_name
    assert plan(cpu("cpu", ("c7i-flex.8xlarge", "c7i.8xlarge"))).node_groups[0].pcs_name == two.pcs_name  # order
    assert re.fullmatch(r"cpu-[0-9a-f]{4}", one.pcs_name)


@pytest.mark.parametrize(("length", "ok"), [(2, False), (3, True), (25, True), (26, False)])
def test_queue_name_of_3_to_25_characters(length: int, ok: bool) -> None:
    name = "q" * length
    queues = [SlurmQueueSpec(name, ["cpu"])]
    if ok:
        assert [q.name for q in plan(queues=queues).queues] == [name]
    else:
        refused(lambda: plan(queues=queues), "queues.name", name, says=f"3 to 25 characters (it has {length})")


@pytest.mark.parametrize("name", ["1cpu", "-cpu", "cpu_a", "pcs_cpu", "cpu.a", "cpu a", "Ünï"])
def test_names_follow_pcs_pattern(name: str) -> None:
    for call, prop in ((lambda: plan(cluster_name=name), "cluster_name"),
                       (lambda: plan(cpu(name)), "node_groups.name"),
                       (lambda: plan(queues=[SlurmQueueSpec(name, ["cpu"])]), "queues.name"),
                       (lambda: plan(login_nodes=LoginNodesSpec(name=name)), "login_nodes.name")):
        refused(call, prop, name, says="a letter first, then letters, digits and hyphens")


def test_pcs_prefix_is_refused_only_with_its_underscore() -> None:
    refused(lambda: plan(cpu("pcs_nodes")), "node_groups.name", "pcs_nodes", says="not starting with pcs_")
    assert plan(cpu("pcs-nodes"), cluster_name="Pcs-1").node_groups[0].name == "pcs-nodes"


def test_duplicate_names_are_refused() -> None:
    refused(lambda: plan(cpu("cpu"), cpu("cpu")), "node_groups.name", "cpu", says="each node group name once")
    refused(lambda: plan(queues=[SlurmQueueSpec("q-a", ["cpu"]), SlurmQueueSpec("q-a", ["cpu"])]),
            "queues.name", "q-a", says="each queue name once")
    assert plan(cpu("login")).node_groups[0].name == "login"  # a compute group may be called login alone
    refused(lambda: plan(cpu("login"), login_nodes=LoginNodesSpec()), "login_nodes.name", "login",
            says="a name no compute node group has")
    # a queue may share its node group's name (the default queues do)
    assert [(q.name, q.node_groups) for q in plan().queues] == [("cpu", ("cpu",))]


# -- Slurm version, size tier, scale-down -----------------------------------------------------------------------

def test_slurm_version_is_required_and_names_the_versions_pcs_lists() -> None:
    """A default would move with the library: an upgrade of it would upgrade the scheduler in place."""
    error = refused(lambda: plan(slurm_version=None), "slurm_version", None,
                    says=f"one of {', '.join(PCS.slurm_versions)}")
    assert "Updating the scheduler version" in str(error)
    for version in PCS.slurm_versions:
        assert plan(slurm_version=version).slurm_version == version


@pytest.mark.parametrize("version", ["24.05", "25.5", "26", "latest", ""])
def test_unknown_slurm_version_is_refused(version: str) -> None:
    refused(lambda: plan(slurm_version=version), "slurm_version", version,
            says=f"one of {', '.join(PCS.slurm_versions)}")


@pytest.mark.parametrize(("image_os", "device"), [("al2023", "/dev/xvda"), ("rhel9", "/dev/sda1"),
                                                  ("rocky9", "/dev/sda1")])
def test_each_node_group_gets_the_root_device_of_its_image_os(image_os: str, device: str) -> None:
    result = plan(cpu("amazon"), cpu("other", image_os=image_os), login_nodes=LoginNodesSpec(image_os=image_os))
    assert result.node_groups[0].fleet.image.root_device_name == "/dev/xvda"
    assert result.node_groups[1].fleet.image.root_device_name == device
    assert result.login is not None and result.login.group.fleet.image.root_device_name == device
    own = plan(cpu("own", image_os="rhel9", root_device_name="/dev/xvda")).node_groups[0]
    assert own.fleet.image.root_device_name == "/dev/xvda"  # a group may still name its own


@pytest.mark.parametrize("image_os", ["ubuntu22.04", "ubuntu24.04", "al2"])
def test_images_whose_package_manager_is_not_dnf_are_refused(image_os: str) -> None:
    error = refused(lambda: plan(cpu(image_os=image_os)), "image_os", image_os, where=f"{PATH}/cpu",
                    says="an image whose package manager is dnf: al2023")
    assert "rhel9" in str(error) and "rocky9" in str(error)
    refused(lambda: plan(image_os=image_os), "image_os", image_os, where=f"{PATH}/cpu")  # the cluster's default
    refused(lambda: plan(cpu(image_os="windows")), "image_os", "windows", where=f"{PATH}/cpu")


def test_size_must_be_a_pcs_size() -> None:
    refused(lambda: plan(size="HUGE"), "size", "HUGE", says="one of SMALL, MEDIUM, LARGE")
    refused(lambda: plan(size="small"), "size", "small")


def test_small_holds_exactly_32_nodes() -> None:
    full = plan(cpu("cpu", max_instances=16), cpu("two", max_instances=16))
    assert (full.size, full.max_nodes, full.headroom) == ("SMALL", 32, 0)
    error = refused(lambda: plan(cpu("cpu", max_instances=16), cpu("two", max_instances=17)), "size",
                    "33 nodes at full scale (cpu 16, two 17)", says="at most 32 nodes for size SMALL")
    assert "The smallest size that fits is MEDIUM (up to 512 nodes)" in str(error)
    assert 'pass size="MEDIUM"' in str(error)
    # ... and what that costs on a deployed cluster: Size is create-only
    assert "a new size replaces it" in str(error) and "ends every running job" in str(error)
    assert "make diff" in str(error)


def test_medium_refuses_513_nodes_and_names_large() -> None:
    assert plan(cpu(max_instances=512), size="MEDIUM").headroom == 0
    error = refused(lambda: plan(cpu(max_instances=513), size="MEDIUM"), "size", "513 nodes at full scale (cpu 513)")
    assert "The smallest size that fits is LARGE (up to 2,048 nodes)" in str(error)


@pytest.mark.parametrize("size", ["SMALL", "LARGE"])
def test_over_2048_nodes_no_size_fits(size: str) -> None:
    assert plan(cpu(max_instances=2048), size="LARGE").headroom == 0
    error = refused(lambda: plan(cpu(max_instances=2049), size=size), "size", "2,049 nodes at full scale (cpu 2049)")
    assert "No PCS size holds more than 2,048 nodes" in str(error)
    assert "smallest size that fits" not in str(error)


def test_login_nodes_count_toward_the_size() -> None:
    fits = plan(cpu(max_instances=30), login_nodes=LoginNodesSpec(count=2))
    assert (fits.max_nodes, fits.headroom) == (32, 0)
    error = refused(lambda: plan(cpu(max_instances=31), login_nodes=LoginNodesSpec(count=2)), "size",
                    "33 nodes at full scale (cpu 31, login (login) 2)")
    assert "MEDIUM" in str(error)


def test_size_counts_max_not_min() -> None:
    assert plan(cpu(min_instances=4, max_instances=32)).headroom == 0


@pytest.mark.parametrize(("seconds", "ok"), [(0, False), (1, True), (10_000_000, True), (10_000_001, False)])
def test_scale_down_idle_seconds_bounds(seconds: int, ok: bool) -> None:
    if ok:
        assert plan(scale_down_idle_seconds=seconds).scale_down_idle_seconds == seconds
    else:
        refused(lambda: plan(scale_down_idle_seconds=seconds), "scale_down_idle_seconds", seconds)


# -- node groups ------------------------------------------------------------------------------------------------

def test_min_and_max_instances() -> None:
    group = plan(cpu(min_instances=4, max_instances=4)).node_groups[0]
    assert (group.min_instances, group.max_instances) == (4, 4)
    assert plan(cpu(min_instances=0, max_instances=0)).node_groups[0].max_instances == 0
    refused(lambda: plan(cpu(min_instances=5, max_instances=4)), "min_instances", 5, where=f"{PATH}/cpu",
            says="at most max_instances (4)")
    refused(lambda: plan(cpu(min_instances=-1)), "min_instances", -1, where=f"{PATH}/cpu")
    refused(lambda: plan(cpu(max_instances=-1)), "max_instances", -1, where=f"{PATH}/cpu")
    refused(lambda: plan(cpu(max_instances=True)), "max_instances", True, where=f"{PATH}/cpu")


@pytest.mark.parametrize("option", ["CAPACITY_BLOCK", "INTERRUPTIBLE_CAPACITY_RESERVATION", "spot", "ON_DEMAND"])
def test_purchase_option_is_ondemand_or_spot(option: str) -> None:
    refused(lambda: plan(cpu(purchase_option=option)), "purchase_option", option, where=f"{PATH}/cpu",
            says="ONDEMAND or SPOT")


def test_spot_only_on_types_with_spot() -> None:
    assert plan(cpu(purchase_option="SPOT")).node_groups[0].purchase_option == "SPOT"
    assert not catalog.instance_type("hpc7a.96xlarge").supports_spot
    refused(lambda: plan(cpu(instance_types=("hpc7a.96xlarge",), purchase_option="SPOT")), "spot", True,
            where=f"{PATH}/cpu", says="No Spot capacity for: hpc7a.96xlarge")


def test_efa_true_needs_efa_types_and_none_follows_the_types() -> None:
    refused(lambda: plan(cpu(efa=True)), "efa", True, where=f"{PATH}/cpu", says="c7i.large has no EFA support")
    assert not plan(cpu()).node_groups[0].fleet.efa
    hpc = plan(cpu(instance_types=("hpc7a.96xlarge",))).node_groups[0]
    assert hpc.fleet.efa and hpc.fleet.placement_group and hpc.efa_bandwidth_gbps > 0
    assert not plan(cpu(instance_types=("hpc7a.96xlarge",), efa=False)).node_groups[0].fleet.efa


def test_one_architecture_per_node_group() -> None:
    refused(lambda: plan(cpu(instance_types=("c7i.large", "c7g.large"))), "instance_types",
            "arm64: c7g.large; x86_64: c7i.large", where=f"{PATH}/cpu", says="instance types of one architecture")


def test_one_vcpu_count_per_node_group() -> None:
    refused(lambda: plan(cpu(instance_types=("c7i.8xlarge", "c7i.large"))), "instance_types",
            "c7i.8xlarge (32), c7i.large (2)", where=f"{PATH}/cpu", says="the same number of vCPUs")
    same = plan(cpu(instance_types=("c7i.8xlarge", "c7i-flex.8xlarge", "m7i.8xlarge"))).node_groups[0]
    assert {t.vcpus for t in same.fleet.instance_types} == {32}


def test_unknown_instance_type_is_refused() -> None:
    with pytest.raises(ConfigError, match=f"{PATH}/cpu: instance_types='c7i.huge'"):
        plan(cpu(instance_types=("c7i.huge",)))


def test_node_groups_are_required() -> None:
    with pytest.raises(ConfigError, match="node_groups"):
        plan_slurm(PATH, **{**_defaults(), "node_groups": []})
    with pytest.raises(ConfigError, match="node_groups"):
        plan_slurm(PATH, **{**_defaults(), "node_groups": cpu()})



def test_efa_group_reuses_compute_fleets_layout() -> None:
    group = plan(cpu("gpu", ("p5.48xlarge",), max_instances=2)).node_groups[0]
    assert group.fleet.interfaces == efa_layout([catalog.instance_type("p5.48xlarge")], efa=True)
    assert group.fleet.efa_interface_count == 32
    assert group.efa_bandwidth_gbps == catalog.instance_type("p5.48xlarge").network_bandwidth_gbps


def test_efa_group_installs_the_efa_software_and_needs_a_route_out() -> None:
    assert plan(cpu(instance_types=("hpc7a.96xlarge",))).efa_software == "install"
    assert plan(cpu(instance_types=("hpc7a.96xlarge",)), install_efa_software=False).efa_software == "image"
    assert plan(cpu()).efa_software == "none"
    with pytest.raises(ConfigError, match=f"{PATH}/cpu: install_efa_software=True"):
        plan(cpu(instance_types=("hpc7a.96xlarge",)), route_out=False)


# -- queues ----------------------------------------------------------------------------------------------------

def test_default_queues_one_per_node_group() -> None:
    result = plan(cpu("cpu"), cpu("big", ("c7i.8xlarge",)), login_nodes=LoginNodesSpec())
    assert [(q.name, q.node_groups) for q in result.queues] == [("cpu", ("cpu",)), ("big", ("big",))]
    assert result.unqueued == ()


def test_a_queue_may_serve_two_node_groups_and_a_group_two_queues() -> None:
    result = plan(cpu("cpu"), cpu("big", ("c7i.8xlarge",)),
                  queues=[SlurmQueueSpec("all", ["cpu", "big"]), SlurmQueueSpec("small", ["cpu"])])
    assert [(q.name, q.node_groups) for q in result.queues] == [("all", ("cpu", "big")), ("small", ("cpu",))]


def test_unqueued_node_groups_are_reported() -> None:
    result = plan(cpu("cpu"), cpu("idle"), queues=[SlurmQueueSpec("work", ["cpu"])])
    assert result.unqueued == ("idle",)


def test_queue_names_only_existing_compute_node_groups_once() -> None:
    where = f"{PATH}/Queue-work"
    refused(lambda: plan(queues=[SlurmQueueSpec("work", ["gpu"])]), "node_groups", "gpu", where=where,
            says="a node group of this cluster: cpu")
    refused(lambda: plan(login_nodes=LoginNodesSpec(), queues=[SlurmQueueSpec("work", ["cpu", "login"])]),
            "node_groups", "login", where=where, says="Login nodes run no jobs")
    refused(lambda: plan(queues=[SlurmQueueSpec("work", ["cpu", "cpu"])]), "node_groups", ["cpu", "cpu"],
            where=where, says="Listed more than once: cpu")
    refused(lambda: plan(queues=[SlurmQueueSpec("work", [])]), "node_groups", [], where=where)
    refused(lambda: plan(queues=[SlurmQueueSpec("work", "cpu")]), "node_groups", "cpu", where=where,
            says="a list of one or more node group names")


# -- Slurm settings ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("level", "key", "near"), [
    ("cluster", "SchedulerParameter", "SchedulerParameters"),
    ("node_group", "Weigth", "Weight"),
    ("queue", "MaxTme", "MaxTime"),
])
def test_settings_outside_the_allow_list_are_refused_with_a_hint(level: str, key: str, near: str) -> None:
    calls = {
        "cluster": (lambda: plan(slurm_settings={key: "x"}), PATH),
        "node_group": (lambda: plan(cpu(slurm_settings={key: "x"})), f"{PATH}/cpu"),
        "queue": (lambda: plan(queues=[SlurmQueueSpec("work", ["cpu"], slurm_settings={key: "x"})]),
                  f"{PATH}/Queue-work"),
    }
    call, where = calls[level]
    error = refused(call, "slurm_settings", key, where=where, says=f"Did you mean {near}")
    assert f"a Slurm parameter PCS accepts on a {level.replace('_', ' ')}" in str(error)
    assert near in PCS_SLURM_SETTINGS[level]


def test_settings_of_another_level_are_refused() -> None:
    assert "Weight" not in PCS_SLURM_SETTINGS["queue"] and "MaxTime" not in PCS_SLURM_SETTINGS["cluster"]
    refused(lambda: plan(queues=[SlurmQueueSpec("work", ["cpu"], slurm_settings={"Weight": "1"})]),
            "slurm_settings", "Weight", where=f"{PATH}/Queue-work")
    refused(lambda: plan(slurm_settings={"MaxTime": "60"}), "slurm_settings", "MaxTime")
    with pytest.raises(ConfigError, match="PCS takes only its allow-list here"):
        settings(PATH, "slurm_settings", {"Zzzzzz": "1"}, level="queue", version=PCS.slurm_versions[-1])


def test_allowed_settings_are_kept_in_order_as_text() -> None:
    result = plan(cpu(slurm_settings={"Weight": "10", "Features": "fast"}),
                  slurm_settings={"SchedulerParameters": "bf_continue", "MinJobAge": "300"},
                  queues=[SlurmQueueSpec("work", ["cpu"], slurm_settings={"MaxTime": "1-00:00:00"})])
    assert result.slurm_settings == (("SchedulerParameters", "bf_continue"), ("MinJobAge", "300"))
    assert result.node_groups[0].slurm_settings == (("Weight", "10"), ("Features", "fast"))
    assert result.queues[0].slurm_settings == (("MaxTime", "1-00:00:00"),)
    refused(lambda: plan(cpu(slurm_settings={"Weight": 10})), "slurm_settings['Weight']", 10, where=f"{PATH}/cpu",
            says="a non-empty one-line string")
    refused(lambda: plan(slurm_settings={"Prolog": "a\nb"}), "slurm_settings['Prolog']", "a\nb")
    refused(lambda: plan(slurm_settings=[("Prolog", "x")]), "slurm_settings", [("Prolog", "x")])


@pytest.mark.parametrize("key", ["Parameters", "Sockets"])
def test_node_group_parameters_and_sockets_need_25_11(key: str) -> None:
    refused(lambda: plan(cpu(slurm_settings={key: "1"}), slurm_version="25.05"), "slurm_settings", key,
            where=f"{PATH}/cpu", says=f"Slurm 25.11 or later for {key}")
    assert plan(cpu(slurm_settings={key: "1"}), slurm_version="25.11").node_groups[0].slurm_settings == ((key, "1"),)


@pytest.mark.parametrize("key", ["QOS", "AllowQos", "DenyQos"])
def test_queue_qos_settings_need_accounting(key: str) -> None:
    queues = [SlurmQueueSpec("work", ["cpu"], slurm_settings={key: "normal"})]
    refused(lambda: plan(queues=queues), "slurm_settings", key, where=f"{PATH}/Queue-work",
            says="accounting=True for QOS settings")
    assert plan(queues=queues, accounting=True).queues[0].slurm_settings == ((key, "normal"),)


def test_accounting_on_the_oldest_version_and_the_rest_api_from_25_05() -> None:
    assert plan(accounting=True, slurm_version="24.11").accounting
    refused(lambda: plan(slurm_rest_api=True, slurm_version="24.11"), "slurm_rest_api", True,
            says="Slurm 25.05 or later")
    assert plan(slurm_rest_api=True, slurm_version="25.05").slurm_rest_api


@pytest.mark.parametrize(("days", "ok"), [(-2, False), (-1, True), (0, False), (1, True), (10_000, True),
                                          (10_001, False)])
def test_accounting_purge_days(days: int, ok: bool) -> None:
    if ok:
        assert plan(accounting=True, accounting_purge_days=days).accounting_purge_days == days
    else:
        error = refused(lambda: plan(accounting=True, accounting_purge_days=days), "accounting_purge_days", days)
        if days == 0:
            assert "PCS refuses 0" in str(error)


def test_accounting_purge_days_need_accounting() -> None:
    refused(lambda: plan(accounting_purge_days=30), "accounting_purge_days", 30, says="None without accounting=True")
    assert plan(accounting=True).accounting_purge_days is None


def test_srun_port_range_parsing() -> None:
    assert srun_port_range(PATH, "60001-63000") == (60001, 63000)
    assert srun_port_range(PATH, " 1024-65535 ") == (1024, 65535)
    for bad in ("60001", "63000-60001", "2000-2000", "1023-2000", "2000-65536", "a-b", "60001-63000-1", "-1-5"):
        refused(lambda bad=bad: srun_port_range(PATH, bad), "slurm_settings['SrunPortRange']", bad,
                says="a range such as 60001-63000")


def test_srun_ports_follow_the_cluster_setting() -> None:
    assert plan().srun_ports == PCS_PORTS["srun"] == (60001, 63000)
    assert plan(slurm_settings={"SrunPortRange": "61000-61999"}).srun_ports == (61000, 61999)
    refused(lambda: plan(slurm_settings={"SrunPortRange": "61000"}), "slurm_settings['SrunPortRange']", "61000")


# -- the node role -----------------------------------------------------------------------------------------------

def test_node_role_defaults_to_the_pcs_path() -> None:
    assert check_node_role(PATH, None, None) == (None, "/aws-pcs/") == (None, PCS.instance_role_path)
    assert check_node_role(PATH, "MyNodes", None) == ("MyNodes", "/aws-pcs/")


def test_node_role_name_starting_with_awspcs_may_use_any_path() -> None:
    assert check_node_role(PATH, "AWSPCS-nodes", "/") == ("AWSPCS-nodes", "/")


def test_node_role_pcs_would_refuse_is_refused() -> None:
    error = refused(lambda: check_node_role(PATH, "MyNodes", "/"), "node_role_name", "MyNodes",
                    says="a name starting with AWSPCS, or node_role_path containing /aws-pcs/")
    assert "IAM instance profiles for AWS PCS" in str(error)
    refused(lambda: check_node_role(PATH, None, "/team/"), "node_role_name", None)


@pytest.mark.parametrize("name", ["AWSPCS nodes", "AWSPCS/nodes", "AWSPCS:x", "A" * 65, ""])
def test_node_role_name_in_iam_characters(name: str) -> None:
    refused(lambda: check_node_role(PATH, name, None), "node_role_name", name, says="an IAM role name")


@pytest.mark.parametrize("role_path", ["aws-pcs/", "/aws-pcs", "", "/a b/"])
def test_node_role_path_in_iam_form(role_path: str) -> None:
    refused(lambda: check_node_role(PATH, None, role_path), "node_role_path", role_path, says="an IAM path")


# -- the image --------------------------------------------------------------------------------------------------

def test_no_ami_and_no_lookup_is_refused_naming_ami_id() -> None:
    error = refused(lambda: plan(ami_id=None), "ami_id", None, where=f"{PATH}/cpu",
                    says="or a stack with an account and region")
    assert "aws-pcs-sample_ami-al2023-x86_64*" in str(error) and "Name=description,Values=*26.05*" in str(error)


def test_sample_ami_lookup_leaves_the_ami_to_synth() -> None:
    result = plan(cpu(), cpu("arm", ("c7g.large",)), ami_id=None, sample_ami_lookup=True,
                  login_nodes=LoginNodesSpec())
    assert [g.ami_id for g in result.node_groups] == [None, None]
    assert result.login is not None and result.login.group.ami_id is None


@pytest.mark.parametrize("version", [v for v in PCS.slurm_versions if v not in PCS.sample_ami_versions])
def test_no_sample_ami_lookup_for_a_version_aws_publishes_none_for(version: str) -> None:
    error = refused(lambda: plan(ami_id=None, slurm_version=version, sample_ami_lookup=True), "ami_id", None,
                    where=f"{PATH}/cpu")
    assert "sample AMIs for Slurm 25.05, 25.11, 26.05 only" in str(error)
    assert plan(slurm_version=version).node_groups[0].ami_id == AMI  # an explicit AMI is fine


def test_sample_amis_exist_for_the_versions_that_are_not_end_of_life() -> None:
    assert set(PCS.sample_ami_versions) <= set(PCS.slurm_versions)
    assert "24.11" not in PCS.sample_ami_versions  # end of life ('Updating the scheduler version')
    for version in PCS.sample_ami_versions:
        assert plan(ami_id=None, slurm_version=version, sample_ami_lookup=True).node_groups[0].ami_id is None


def test_a_group_ami_overrides_the_clusters_and_ids_are_checked() -> None:
    own = "ami-0fedcba9876543210"
    result = plan(cpu(), cpu("own", ami_id=own))
    assert [g.ami_id for g in result.node_groups] == [AMI, own]
    assert plan(cpu(ami_id=own), ami_id=None).node_groups[0].ami_id == own  # no lookup needed
    refused(lambda: plan(ami_id="ami-ABC"), "ami_id", "ami-ABC", where=f"{PATH}/cpu")
    refused(lambda: plan(cpu(ami_id="image-1")), "ami_id", "image-1", where=f"{PATH}/cpu")


# -- login nodes -------------------------------------------------------------------------------------------------

def test_login_nodes_are_a_static_group_in_no_queue() -> None:
    result = plan(login_nodes=LoginNodesSpec(count=3))
    assert result.login is not None
    group = result.login.group
    assert group.login and (group.min_instances, group.max_instances) == (3, 3)
    assert group.name not in [n for q in result.queues for n in q.node_groups]
    assert not group.fleet.efa and not group.fleet.placement_group and result.login.ssh == "none"
    refused(lambda: plan(login_nodes=LoginNodesSpec(count=0)), "count", 0, where=f"{PATH}/login")


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "::/0"])
def test_login_never_open_to_the_world(cidr: str) -> None:
    refused(lambda: plan(login_nodes=LoginNodesSpec(allowed_cidrs=["198.51.100.0/24", cidr]),
                         login_subnet_public=True),
            "allowed_cidrs", cidr, where=f"{PATH}/login", says="SSH open to the whole internet")


def test_login_bastion_and_allowed_cidrs_are_exclusive() -> None:
    refused(lambda: plan(login_nodes=LoginNodesSpec(bastion=BASTION, allowed_cidrs=["198.51.100.0/24"]),
                         login_subnet_public=True),
            "allowed_cidrs", ["198.51.100.0/24"], where=f"{PATH}/login", says="() with a bastion")
    login = plan(login_nodes=LoginNodesSpec(bastion=BASTION)).login
    assert login is not None and (login.ssh, login.allowed_cidrs) == ("bastion", ())


def test_login_allowed_cidrs_need_a_public_subnet() -> None:
    spec = LoginNodesSpec(allowed_cidrs=["198.51.100.0/24"])
    refused(lambda: plan(login_nodes=spec), "subnet", "a private subnet", where=f"{PATH}/login",
            says="a public subnet for SSH from allowed_cidrs")
    login = plan(login_nodes=spec, login_subnet_public=True).login
    assert login is not None and (login.ssh, login.allowed_cidrs) == ("cidrs", ("198.51.100.0/24",))


def test_login_instance_type_is_checked_like_any_node() -> None:
    with pytest.raises(ConfigError, match=f"{PATH}/login: instance_types='c7i.huge'"):
        plan(login_nodes=LoginNodesSpec(instance_type="c7i.huge"))


# -- hypothesis: every random spec is planned with its invariants, or refused with a ConfigError ---------------

TYPE_NAMES = sorted(t.name for t in catalog.instance_types())
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any], one_in: int = 8) -> st.SearchStrategy[Any]:
    """`good`, and `bad` about once in `one_in` draws (hypothesis favours an integer range's ends: the middle)."""
    return st.tuples(st.integers(1, one_in), good, bad).map(lambda t: t[2] if t[0] == one_in // 2 else t[1])


VALID_NAME = st.builds(lambda first, rest: first + rest, st.sampled_from(_LETTERS),
                       st.text(_LETTERS + "0123456789-", min_size=2, max_size=19))  # node groups: 20
# Names that break a rule: too short, too long, a digit or hyphen first, an underscore, the pcs_ prefix.
NAME = mostly(VALID_NAME, st.sampled_from(["ab", "x" * 26, "1abc", "-abc", "ab_c", "pcs_abc", "a.bc"]), 12)
TYPES = mostly(st.one_of(st.lists(st.sampled_from(TYPE_NAMES), min_size=1, max_size=1),
                         st.sampled_from([["c7i.8xlarge", "c7i-flex.8xlarge"], ["hpc7a.96xlarge"], ["p5.48xlarge"],
                                          ["c6in.32xlarge", "m6in.32xlarge"], ["c7g.16xlarge"]])),
               st.lists(st.sampled_from(TYPE_NAMES), min_size=2, max_size=3), 6)  # mostly mixed: refused
GROUP = st.builds(
    lambda name, types, low, high, option, efa: NodeGroupSpec(name, types, low, high, option, efa),
    NAME, TYPES, mostly(st.integers(0, 3), st.integers(-1, 20), 16),
    mostly(st.integers(3, 16), st.integers(-1, 600), 16),
    mostly(st.sampled_from(["ONDEMAND", "SPOT"]), st.sampled_from(["CAPACITY_BLOCK", "spot"]), 16),
    mostly(st.sampled_from([None, False]), st.just(True), 6))


def _planned_or_refused(groups: list[NodeGroupSpec], queue_specs: list[tuple[str, list[int | str]]] | None,
                        login: tuple[int | str, int] | None, size: str, version: str | None, ami: str | None,
                        lookup: bool) -> bool:
    """Queue members and the login name are names, or an index into the node groups' names."""
    names = [g.name for g in groups]

    def name_of(member: int | str) -> str:
        return names[member % len(names)] if isinstance(member, int) else member

    queues = [] if queue_specs is None else [SlurmQueueSpec(name, [name_of(m) for m in members])
                                             for name, members in queue_specs]
    login_spec = None if login is None else LoginNodesSpec(name=name_of(login[0]), count=login[1])
    try:
        result = plan(*groups, queues=queues, login_nodes=login_spec, size=size, slurm_version=version, ami_id=ami,
                      sample_ami_lookup=lookup)
    except ConfigError:
        return False
    assert result.size in PCS.size_max_nodes and result.headroom >= 0
    assert result.max_nodes == sum(g.max_instances for g in groups) + (login[1] if login else 0)
    assert result.slurm_version in PCS.slurm_versions
    compute = [g.name for g in result.node_groups]
    everyone = [*compute, *([result.login.group.name] if result.login else [])]
    assert len(set(everyone)) == len(everyone)
    for name in everyone:
        assert PCS.min_name_chars <= len(name) <= PCS.max_name_chars
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9-]+", name) and not name.startswith("pcs_")
    if result.login is not None:
        assert login is not None and result.login.group.min_instances == result.login.group.max_instances == login[1]
    assert len({q.name for q in result.queues}) == len(result.queues)
    for queue in result.queues:
        assert queue.node_groups and set(queue.node_groups) <= set(compute)
        assert len(set(queue.node_groups)) == len(queue.node_groups)
    served = {n for q in result.queues for n in q.node_groups}
    assert result.unqueued == tuple(n for n in compute if n not in served)
    for spec, group in zip(groups, result.node_groups, strict=True):
        types = group.fleet.instance_types
        assert 0 <= group.min_instances <= group.max_instances
        assert group.purchase_option in PCS.purchase_options
        assert len({t.architecture for t in types}) == 1 and len({t.vcpus for t in types}) == 1
        if group.purchase_option == "SPOT":
            assert all(t.supports_spot for t in types)
        if spec.efa is not None:
            assert group.fleet.efa is spec.efa
        assert group.fleet.interfaces == efa_layout(types, efa=group.fleet.efa)  # ComputeFleet's layout
        if group.fleet.efa:
            assert all(t.efa_supported for t in types) and group.fleet.efa_interface_count >= 1
            assert group.efa_bandwidth_gbps > 0
        assert group.ami_id == ami  # None: the sample AMI, looked up at synth
    return True


def test_random_specs_are_planned_or_refused_with_config_error() -> None:
    member = st.one_of(st.integers(0, 3), st.sampled_from(["nope", "login"]))  # an index into the groups, or not
    accepted, examples = hypothesis_outcomes(
        _planned_or_refused, max_examples=400,
        groups=mostly(st.lists(GROUP, min_size=1, max_size=3, unique_by=lambda g: g.name),
                      st.lists(GROUP, min_size=2, max_size=2)),  # sometimes a name twice
        queue_specs=st.one_of(st.none(), st.lists(st.tuples(NAME, mostly(st.lists(st.integers(0, 3), min_size=1,
                                                                                 max_size=3), st.lists(member))),
                                                  min_size=1, max_size=3)),
        login=st.one_of(st.none(), st.tuples(mostly(st.just("login"), st.sampled_from(["l", 0])),
                                             mostly(st.integers(1, 3), st.just(0)))),
        size=mostly(st.sampled_from(["SMALL", "MEDIUM", "LARGE"]), st.just("HUGE")),
        version=mostly(st.sampled_from(PCS.slurm_versions), st.sampled_from([None, "23.11"]), 16),  # None: refused
        ami=mostly(st.just(AMI), st.none()), lookup=st.booleans())
    assert examples == 400 and 30 <= accepted <= examples - 100, accepted


# -- found in review: each of these passed the plan before -------------------------------------------------

@pytest.mark.parametrize("prop", ["cluster_name", "ami_id"])
def test_a_trailing_newline_is_not_part_of_a_valid_name_or_id(prop: str) -> None:
    value = {"cluster_name": "abc\n", "ami_id": AMI + "\n"}[prop]
    with pytest.raises(ConfigError, match=prop):
        plan(**{prop: value})
    with pytest.raises(ConfigError, match="node_groups.name"):
        plan(cpu("cpu\n"))
    with pytest.raises(ConfigError, match="node_role_name"):
        check_node_role(PATH, "AWSPCS\n", "/")


def test_a_node_group_mixing_efa_and_non_efa_types_is_refused() -> None:
    # c6a.48xlarge has EFA, c6a.32xlarge has not, with the same architecture (vCPUs differ too: EFA is checked first)
    error = refused(lambda: plan(cpu("mixed", ("c6a.48xlarge", "c6a.32xlarge"))), "instance_types",
                    "c6a.48xlarge (EFA), c6a.32xlarge (no EFA)", where=f"{PATH}/mixed", says="same EFA support")
    assert "EFA support per compute node group" in str(error)


def test_a_public_login_node_needs_a_type_with_one_network_card() -> None:
    login = LoginNodesSpec(instance_type="c6in.32xlarge", allowed_cidrs=("203.0.113.0/24",))
    assert len(catalog.instance_type("c6in.32xlarge").network_cards) > 1
    refused(lambda: plan(login_nodes=login, login_subnet_public=True), "instance_type", "c6in.32xlarge",
            where=f"{PATH}/login", says="one network card")
    # through a bastion it has no public IP, so any type will do
    assert plan(login_nodes=LoginNodesSpec(instance_type="c6in.32xlarge", bastion=BASTION)).login is not None


def test_one_cluster_ami_for_node_groups_of_two_architectures_is_refused() -> None:
    refused(lambda: plan(cpu("x86"), cpu("arm", ("c7g.large",))), "ami_id", AMI, says="arm64 and x86_64")
    # each architecture with its own AMI is fine
    assert plan(cpu("x86"), cpu("arm", ("c7g.large",), ami_id="ami-0fedcba9876543210")).node_groups
