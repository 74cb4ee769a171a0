"""FSx for Lustre rules at every boundary of the capacity and throughput tables."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpc_constructs import ConfigError, LustreDataRepository, LustreSpec
from hpc_constructs.lustre import plan_lustre

P = "Env/Storage"
REPO = LustreDataRepository("/data", "s3://hpc-data/in/")


def ok(**kw: object) -> None:
    plan_lustre(P, LustreSpec(**kw))  # type: ignore[arg-type]


def bad(match: str, **kw: object) -> None:
    with pytest.raises(ConfigError, match=match):
        plan_lustre(P, LustreSpec(**kw))  # type: ignore[arg-type]


def test_defaults_are_a_valid_persistent_2_file_system() -> None:
    plan = plan_lustre(P, LustreSpec())
    assert (plan.spec.deployment_type, plan.spec.storage_capacity_gib, plan.per_unit_storage_throughput) == (
        "PERSISTENT_2", 1200, 125)


def test_scratch_1_capacity_is_1200_2400_or_a_multiple_of_3600() -> None:
    for gib in (1_200, 2_400, 3_600, 7_200, 36_000):
        ok(deployment_type="SCRATCH_1", storage_capacity_gib=gib)
    for gib in (1_199, 1_201, 2_399, 2_401, 3_599, 3_601, 4_800, 0):
        bad("storage_capacity_gib", deployment_type="SCRATCH_1", storage_capacity_gib=gib)


@pytest.mark.parametrize(("deployment", "throughput"), [("SCRATCH_2", None), ("PERSISTENT_1", 50),
                                                        ("PERSISTENT_2", 125)])
def test_ssd_capacity_is_1200_or_a_multiple_of_2400(deployment: str, throughput: int | None) -> None:
    for gib in (1_200, 2_400, 4_800, 9_600):
        ok(deployment_type=deployment, storage_capacity_gib=gib, per_unit_storage_throughput=throughput)
    for gib in (1_199, 1_201, 2_399, 2_401, 3_600, 4_799, 4_801):
        bad("storage_capacity_gib", deployment_type=deployment, storage_capacity_gib=gib,
            per_unit_storage_throughput=throughput)


def test_persistent_1_hdd_at_12_is_a_multiple_of_6000() -> None:
    for gib in (6_000, 12_000):
        ok(deployment_type="PERSISTENT_1", storage_type="HDD", per_unit_storage_throughput=12, storage_capacity_gib=gib)
    for gib in (5_999, 6_001, 1_800, 1_200):
        bad("multiple of 6,000", deployment_type="PERSISTENT_1", storage_type="HDD", per_unit_storage_throughput=12,
            storage_capacity_gib=gib)


def test_persistent_1_hdd_at_40_is_a_multiple_of_1800() -> None:
    for gib in (1_800, 3_600, 6_000 * 3):
        ok(deployment_type="PERSISTENT_1", storage_type="HDD", per_unit_storage_throughput=40, storage_capacity_gib=gib)
    for gib in (1_799, 1_801, 6_000, 1_200):
        bad("multiple of 1,800", deployment_type="PERSISTENT_1", storage_type="HDD", per_unit_storage_throughput=40,
            storage_capacity_gib=gib)


@pytest.mark.parametrize(("deployment", "storage", "allowed", "refused"), [
    ("PERSISTENT_1", "SSD", (50, 100, 200), (12, 40, 49, 51, 125, 201)),
    ("PERSISTENT_1", "HDD", (12, 40), (11, 13, 39, 41, 50)),
    ("PERSISTENT_2", "SSD", (125, 250, 500, 1_000), (50, 124, 126, 200, 999, 1_001)),
])
def test_per_unit_throughput(deployment: str, storage: str, allowed: tuple[int, ...], refused: tuple[int, ...]) -> None:
    for value in allowed:
        gib = {12: 6_000, 40: 1_800}.get(value, 2_400)
        ok(deployment_type=deployment, storage_type=storage, per_unit_storage_throughput=value,
           storage_capacity_gib=gib)
    for value in refused:
        bad("per_unit_storage_throughput", deployment_type=deployment, storage_type=storage,
            per_unit_storage_throughput=value, storage_capacity_gib=6_000 if storage == "HDD" else 2_400)


@pytest.mark.parametrize("deployment", ["SCRATCH_1", "SCRATCH_2"])
def test_scratch_takes_no_per_unit_throughput(deployment: str) -> None:
    bad("none on SCRATCH", deployment_type=deployment, per_unit_storage_throughput=200)


@pytest.mark.parametrize("deployment", ["SCRATCH_1", "SCRATCH_2", "PERSISTENT_2"])
def test_hdd_only_with_persistent_1(deployment: str) -> None:
    bad("HDD only with PERSISTENT_1", deployment_type=deployment, storage_type="HDD", storage_capacity_gib=6_000)


def test_drive_cache_is_hdd_only_and_defaults_to_none() -> None:
    plan = plan_lustre(P, LustreSpec(6_000, "PERSISTENT_1", 12, "HDD"))
    assert plan.drive_cache_type == "NONE"
    ok(deployment_type="PERSISTENT_1", storage_type="HDD", per_unit_storage_throughput=12,
       storage_capacity_gib=6_000, drive_cache_type="READ")
    bad("drive_cache_type", drive_cache_type="READ")


def test_unknown_deployment_type_is_refused() -> None:
    bad("deployment_type='PERSISTENT_3'", deployment_type="PERSISTENT_3")


@pytest.mark.parametrize("deployment", ["SCRATCH_2", "PERSISTENT_1", "PERSISTENT_2"])
def test_up_to_8_data_repository_associations(deployment: str) -> None:
    repos = tuple(LustreDataRepository(f"/d{i}", f"s3://hpc-data/{i}/") for i in range(9))
    throughput = {"SCRATCH_2": None, "PERSISTENT_1": 50, "PERSISTENT_2": 125}[deployment]
    ok(deployment_type=deployment, per_unit_storage_throughput=throughput, data_repositories=repos[:7])
    ok(deployment_type=deployment, per_unit_storage_throughput=throughput, data_repositories=repos[:8])
    bad("at most 8", deployment_type=deployment, per_unit_storage_throughput=throughput, data_repositories=repos)


def test_no_data_repository_associations_on_scratch_1() -> None:
    bad("none on SCRATCH_1", deployment_type="SCRATCH_1", data_repositories=(REPO,))
    ok(deployment_type="SCRATCH_1", import_path="s3://hpc-data/in")


def test_no_data_repository_associations_on_lustre_2_10() -> None:
    bad("2.12 or 2.15", deployment_type="SCRATCH_2", lustre_version="2.10", data_repositories=(REPO,))


def test_persistent_2_refuses_lustre_2_10() -> None:
    bad("lustre_version='2.10'", lustre_version="2.10")
    ok(lustre_version="2.12")


def test_associations_never_combined_with_import_export_paths() -> None:
    bad("no import/export path", deployment_type="SCRATCH_2", data_repositories=(REPO,),
        import_path="s3://hpc-data/in")
    bad("export path only with an import path", deployment_type="SCRATCH_2", export_path="s3://hpc-data/out")


def test_repository_paths_are_checked() -> None:
    bad(r"data_repositories\[0\].file_system_path", data_repositories=(LustreDataRepository("data"),))
    bad(r"data_repositories\[0\].data_repository_path",
        data_repositories=(LustreDataRepository("/data", "https://bucket/x"),))
    bad("does not overlap", data_repositories=(REPO, LustreDataRepository("/data", "s3://other-bucket/")))


@pytest.mark.parametrize(("first", "second"), [("/ns1", "/ns1/ns2"), ("/ns1/ns2/", "/ns1"), ("/", "/data"),
                                               ("/data", "/data/")])
def test_association_file_system_paths_never_overlap(first: str, second: str) -> None:
    bad("does not overlap", data_repositories=(LustreDataRepository(first, "s3://hpc-a/"),
                                               LustreDataRepository(second, "s3://hpc-b/")))


def test_sibling_association_paths_are_fine() -> None:
    ok(data_repositories=(LustreDataRepository("/ns1", "s3://hpc-a/"), LustreDataRepository("/ns10", "s3://hpc-b/")))


def test_each_association_has_its_own_s3_path() -> None:
    bad("unique S3 bucket or prefix", data_repositories=(LustreDataRepository("/a", "s3://hpc-data/in"),
                                                         LustreDataRepository("/b", "s3://hpc-data/in/")))
    bad("unique S3 bucket or prefix", data_repositories=(LustreDataRepository("/a"), LustreDataRepository("/b")))
    ok(data_repositories=(LustreDataRepository("/a", "s3://hpc-data/in/"), LustreDataRepository("/b", "s3://hpc-data/out/")))


def test_persistent_2_has_no_import_path() -> None:
    bad("no import/export path on PERSISTENT_2", import_path="s3://hpc-data/in")
    ok(deployment_type="PERSISTENT_1", per_unit_storage_throughput=50, import_path="s3://hpc-data/in")


def test_export_path_is_in_the_import_bucket() -> None:
    ok(deployment_type="SCRATCH_2", import_path="s3://hpc-data/in", export_path="s3://hpc-data/out")
    bad("import path's bucket", deployment_type="SCRATCH_2", import_path="s3://hpc-data/in",
        export_path="s3://other-bucket/out")


@pytest.mark.parametrize("mount_point", ["/", "fsx", "/my fsx", "/fsx'; rm -rf /", "/fsx/"])
def test_mount_point_is_a_plain_absolute_path(mount_point: str) -> None:
    bad("mount_point", mount_point=mount_point)


def test_backups_only_on_persistent_types() -> None:
    ok(automatic_backup_retention_days=0)
    ok(automatic_backup_retention_days=90)
    bad("0 to 90", automatic_backup_retention_days=91)
    bad("no backups on SCRATCH_2", deployment_type="SCRATCH_2", automatic_backup_retention_days=7)
    bad("not supported on file systems linked to S3", automatic_backup_retention_days=7, data_repositories=(REPO,))
    assert plan_lustre(P, LustreSpec()).automatic_backup_retention_days == 7
    assert plan_lustre(P, LustreSpec(deployment_type="SCRATCH_2")).automatic_backup_retention_days is None
    assert plan_lustre(P, LustreSpec(data_repositories=(REPO,))).automatic_backup_retention_days is None


def test_aggregate_throughput_figures() -> None:
    persistent = plan_lustre(P, LustreSpec(2_400, "PERSISTENT_2", 250))
    assert persistent.throughput_mbps == 600  # 2.4 TiB x 250 MB/s/TiB, FSx's own arithmetic
    scratch = plan_lustre(P, LustreSpec(3_600, "SCRATCH_1"))
    assert scratch.throughput_mbps == 720  # 3.6 TiB x 200 MB/s/TiB baseline


# The FSx for Lustre User Guide's and API's rules, written out here as the oracle (not read from
# catalog/limits.py): deployment/storage type -> (capacities: first sizes, then step), throughputs.
DOCUMENTED = {
    ("SCRATCH_1", "SSD"): ((1_200, 2_400), 3_600, ()),
    ("SCRATCH_2", "SSD"): ((1_200,), 2_400, ()),
    ("PERSISTENT_1", "SSD"): ((1_200,), 2_400, (50, 100, 200)),
    ("PERSISTENT_2", "SSD"): ((1_200,), 2_400, (125, 250, 500, 1_000)),
    ("PERSISTENT_1", "HDD"): ((), None, (12, 40)),  # multiples of 6,000 GiB at 12 MB/s/TiB, 1,800 at 40
}
HDD_STEP = {12: 6_000, 40: 1_800}


@st.composite
def documented_specs(draw: st.DrawFn) -> LustreSpec:
    """Specs that the documented rules allow."""
    (deployment, storage), (first, step, throughputs) = draw(st.sampled_from(sorted(DOCUMENTED.items())))
    throughput = draw(st.sampled_from(throughputs)) if throughputs else None
    if storage == "HDD":
        assert throughput is not None
        step = HDD_STEP[throughput]
    capacity = draw(st.sampled_from(first) | st.integers(1, 30).map(lambda n: n * step) if first
                    else st.integers(1, 30).map(lambda n: n * step))
    version = draw(st.sampled_from(["2.12", "2.15"]))
    repos = 0 if deployment == "SCRATCH_1" else draw(st.integers(0, 8))
    return LustreSpec(capacity, deployment, throughput, storage, lustre_version=version,
                      data_repositories=tuple(LustreDataRepository(f"/d{i}", f"s3://b-{i}x/") for i in range(repos)))


@st.composite
def one_rule_broken(draw: st.DrawFn) -> tuple[str, LustreSpec]:
    """A documented spec with exactly one rule broken, and the property that names it."""
    spec = draw(documented_specs())
    (_, step, throughputs) = DOCUMENTED[(spec.deployment_type, spec.storage_type)]
    step = HDD_STEP[spec.per_unit_storage_throughput] if spec.storage_type == "HDD" else step  # type: ignore[index]
    broken = draw(st.sampled_from(["capacity", "throughput", "repositories", "version"]))
    if broken == "capacity":
        off = draw(st.integers(1, step - 1))
        return "storage_capacity_gib", replace(spec, storage_capacity_gib=spec.storage_capacity_gib + off
                                               if spec.storage_capacity_gib >= step else step + off)
    if broken == "throughput":
        wrong = draw(st.sampled_from([t for t in (7, 12, 40, 50, 100, 125, 200, 250, 500, 1_000)
                                      if t not in throughputs]))
        return "per_unit_storage_throughput", replace(spec, per_unit_storage_throughput=wrong)
    if broken == "repositories":
        count = 9 if spec.deployment_type != "SCRATCH_1" else 1
        return "data_repositories", replace(spec, data_repositories=tuple(
            LustreDataRepository(f"/d{i}", f"s3://b-{i}x/") for i in range(count)))
    return "lustre_version", replace(spec, lustre_version="2.11")


@settings(max_examples=300, deadline=None)
@given(spec=documented_specs())
def test_every_documented_spec_is_accepted(spec: LustreSpec) -> None:
    plan = plan_lustre(P, spec)
    assert (plan.per_unit_storage_throughput is None) == spec.deployment_type.startswith("SCRATCH")
    assert plan.throughput_mbps > 0


@settings(max_examples=300, deadline=None)
@given(case=one_rule_broken())
def test_a_spec_with_one_rule_broken_is_refused_naming_it(case: tuple[str, LustreSpec]) -> None:
    prop, spec = case
    with pytest.raises(ConfigError) as err:
        plan_lustre(P, spec)
    assert str(err.value).startswith(f"{P}: lustre.")
    assert prop in err.value.prop


def test_efa_needs_persistent_2_on_lustre_2_15_and_gets_automatic_metadata() -> None:
    plan = plan_lustre(P, LustreSpec(9_600, "PERSISTENT_2", 500, efa=True))
    assert plan.metadata_mode == "AUTOMATIC"
    bad("EFA only on PERSISTENT_2", deployment_type="PERSISTENT_1", per_unit_storage_throughput=200, efa=True)
    bad("EFA only on PERSISTENT_2", deployment_type="SCRATCH_2", efa=True)
    bad("lustre_version='2.12'", efa=True, lustre_version="2.12", storage_capacity_gib=38_400)


def test_metadata_iops_boundaries() -> None:
    for iops in (1_500, 3_000, 6_000, 12_000, 24_000, 180_000, 192_000):
        assert plan_lustre(P, LustreSpec(metadata_iops=iops)).metadata_mode == "USER_PROVISIONED"
    for iops in (1_499, 1_501, 4_500, 12_001, 18_000, 191_999, 204_000, 0):
        bad("metadata_iops", metadata_iops=iops)
    bad("only on PERSISTENT_2", deployment_type="SCRATCH_2", metadata_iops=3_000)
    assert plan_lustre(P, LustreSpec()).metadata_mode is None


@pytest.mark.parametrize(("throughput", "unit"), [(125, 38_400), (250, 19_200), (500, 9_600), (1_000, 4_800)])
def test_efa_enabled_capacity_is_a_multiple_of_4800_mbps_units(throughput: int, unit: int) -> None:
    for gib in (unit, 2 * unit):
        ok(storage_capacity_gib=gib, per_unit_storage_throughput=throughput, efa=True)
    for gib in (unit - 2_400, unit + 2_400, 1_200):
        bad("EFA-enabled", storage_capacity_gib=gib, per_unit_storage_throughput=throughput, efa=True)


def test_contract_positional_order() -> None:
    spec = LustreSpec(2_400, "PERSISTENT_2", 250, "SSD", [LustreDataRepository("/data", "s3://hpc-data/")])
    assert plan_lustre(P, spec).spec.data_repositories[0].file_system_path == "/data"


def test_wrong_types_are_config_errors() -> None:
    bad("per_unit_storage_throughput", per_unit_storage_throughput=125.0)
    bad("storage_capacity_gib", storage_capacity_gib=2_400.0)
    bad(r"data_repositories\[0\]", data_repositories=({"file_system_path": "/data"},))
    bad("a sequence of LustreDataRepository", data_repositories=LustreDataRepository("/data", "s3://b-1/"))
    bad("metadata_iops", metadata_iops=3_000.0)
