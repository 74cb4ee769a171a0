"""The reference app's config schema (stacks/config.py): what parses, the exact messages for what does not,
and app.py's file reading and `hpc:config` context."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from aws_cdk import App, Token

import app as app_module
from app import load_config
from stacks import ConfigFileError, build_reference_app, parse_config
from tests.support import ROOT, cdk_context, new_app

SOURCE = "config/x.yaml"


def problems(text: str) -> list[str]:
    """The lines of the ConfigFileError that the YAML `text` raises (it must raise)."""
    with pytest.raises(ConfigFileError) as caught:
        parse_config(yaml.safe_load(text), source=SOURCE)
    assert str(caught.value) == "\n".join(f"{SOURCE}: {p}" for p in caught.value.problems)
    return str(caught.value).splitlines()


@pytest.mark.parametrize("name", ["reference.yaml", "minimal.yaml"])
def test_shipped_configs_parse(name: str) -> None:
    config = load_config(ROOT / "config" / name)
    assert config.network.max_azs == 2
    assert config.fleets


def test_reference_config_keeps_yaml_types() -> None:
    """Lists become tuples; an integer stays an integer where a number is allowed (vcpus: 4, not 4.0)."""
    config = load_config(ROOT / "config" / "reference.yaml")
    assert config.fleets["Cpu"].instance_types == ("hpc7a.96xlarge",)
    assert config.fleets["Cpu"].ebs_selection == ["local"]
    assert config.fleets["Gpu"].ebs_selection is False
    assert config.batch is not None
    vcpus = config.batch.container_jobs[0].vcpus
    assert (vcpus, type(vcpus)) == (4, int)
    # only what the file gives is passed on: the constructs keep their own defaults
    assert config.network.props() == {"max_azs": 2, "nat_gateways": 2}
    assert config.environment is None


BAD_CONFIGS: dict[str, tuple[str, list[str]]] = {
    "unknown top-level key": (
        """
        name: Hpc
        colour: red
        """,
        ["colour: unknown key; allowed: account, bastion, batch, data_transfer, fleets, license_server, name, "
         "network, region, slurm, ssh_users, storage, tags"]),
    "slurm queue naming an unknown node group": (
        """
        slurm:
          node_groups:
            - name: cpu
              instance_types: [c7i.large]
          queues:
            - name: work
              node_groups: [cpu, gpu]
        """,
        ["slurm.queues[0].node_groups[1]: 'gpu' is not allowed; expected a node group name (node_groups: cpu)"]),
    "slurm login bastion not a bool": (
        """
        slurm:
          node_groups:
            - name: cpu
              instance_types: [c7i.large]
          login_nodes:
            bastion: yes please
        """,
        ["slurm.login_nodes.bastion: 'yes please' is not allowed; expected true or false"]),
    "unknown nested key": (
        """
        storage:
          lustre:
            deploymnet_type: PERSISTENT_2
        """,
        ["storage.lustre.deploymnet_type: unknown key; allowed: automatic_backup_retention_days, data_compression, "
         "data_repositories, deployment_type, drive_cache_type, efa, export_path, import_path, lustre_version, "
         "metadata_iops, mount_point, per_unit_storage_throughput, storage_capacity_gib, storage_type"]),
    "unknown key in a one-of mapping": (
        """
        storage:
          bucket: {versiond: true}
        """,
        ["storage.bucket.versiond: unknown key; allowed: access_logs, versioned"]),
    "wrong scalar type": (
        """
        fleets:
          Cpu: {instance_types: [c7i.4xlarge], spot: "yes"}
        """,
        ["fleets.Cpu.spot: 'yes' is not allowed; expected true or false"]),
    "a boolean is not an integer": (
        """
        fleets:
          Cpu: {instance_types: [c7i.4xlarge], max_capacity: true}
        """,
        ["fleets.Cpu.max_capacity: true is not allowed; expected an integer"]),
    "string where an integer is wanted": (
        """
        batch:
          compute_environments:
            - {name: spot}
            - {name: big, max_vcpus: lots}
        """,
        ["batch.compute_environments[1].max_vcpus: 'lots' is not allowed; expected an integer"]),
    "quoted number where an integer is wanted": (
        """
        storage:
          ebs_volumes:
            - {name: project, size_gib: 2048, iops: "64000"}
        """,
        ["storage.ebs_volumes[0].iops: '64000' is not allowed; expected an integer"]),
    "string where a list is wanted": (
        """
        fleets:
          Cpu: {instance_types: c7i.4xlarge}
        """,
        ["fleets.Cpu.instance_types: 'c7i.4xlarge' is not allowed; expected a list of strings"]),
    "neither bool nor mapping": (
        """
        storage:
          bucket: "yes"
        """,
        ["storage.bucket: 'yes' is not allowed; expected true, false or a mapping (BucketSpec)"]),
    "missing required key": (
        """
        bastion:
          blocked_cidrs: [203.0.113.66/32]
        """,
        ["bastion.allowed_cidrs: required key missing; expected a list of strings"]),
    "license server without ports": (
        """
        license_server:
          snapshot_interval_minutes: 15
        """,
        ["license_server.ports: required key missing; expected a list of integers"]),
    "license server with a quoted port": (
        """
        license_server:
          ports: ["27000"]
        """,
        ["license_server.ports[0]: '27000' is not allowed; expected an integer"]),
    "location with two kinds": (
        """
        data_transfer:
          datasync_tasks:
            - source: {s3: {prefix: /in/}}
              destination: {s3: {prefix: /out/}, efs: {subdirectory: /}}
        storage:
          efs: {}
        """,
        ["data_transfer.datasync_tasks[0].destination: 2 kinds given (efs, s3); "
         "expected exactly one of efs, fsx_lustre, nfs, s3"]),
    "location with no kind": (
        """
        data_transfer:
          datasync_tasks:
            - {source: {s3: {prefix: /in/}}, destination: {}}
        """,
        ["data_transfer.datasync_tasks[0].destination: no kind given; "
         "expected exactly one of efs, fsx_lustre, nfs, s3"]),
    "lustre location without lustre": (
        """
        storage:
          efs: {}
        data_transfer:
          datasync_tasks:
            - {source: {s3: {prefix: /in/}}, destination: {fsx_lustre: {subdirectory: /data}}}
        """,
        ["data_transfer.datasync_tasks[0].destination.fsx_lustre: needs storage.lustre, which this config does not "
         "have"]),
    "environment names an unknown fleet": (
        """
        fleets:
          Cpu: {instance_types: [hpc7a.96xlarge]}
        batch:
          compute_environments:
            - {name: efa, fleet: Gpu}
        """,
        ["batch.compute_environments[0].fleet: 'Gpu' is not allowed; expected a fleet name (fleets: Cpu)"]),
    "queue names an unknown environment": (
        """
        batch:
          compute_environments: [{name: spot-cpu}, {name: gpu}]
          job_queues:
            - {name: low, compute_environments: [spot-cpu, cpu]}
        """,
        ["batch.job_queues[0].compute_environments[1]: 'cpu' is not allowed; expected a compute environment name "
         "(compute_environments: gpu, spot-cpu)"]),
    "job names an unknown environment": (
        """
        batch:
          compute_environments: [{name: gpu}]
          container_jobs:
            - {name: render, image: render:1, vcpus: 4, memory_mib: 16384, compute_environment: gpux}
        """,
        ["batch.container_jobs[0].compute_environment: 'gpux' is not allowed; expected a compute environment name "
         "(compute_environments: gpu)"]),
    "fleet environment in the cluster subnet": (
        """
        fleets:
          Cpu: {instance_types: [hpc7a.96xlarge]}
        batch:
          compute_environments: [{name: efa, fleet: Cpu, cluster_subnet: true}]
        """,
        ["batch.compute_environments[0].cluster_subnet: true is not allowed with fleet; expected false or no "
         "cluster_subnet (the environment takes the fleet's subnet)"]),
    "fleet mounts an unknown EBS volume": (
        """
        fleets:
          Cpu: {instance_types: [c7i.4xlarge], mount_ebs: [locl]}
        storage:
          ebs_volumes: [{name: local, size_gib: 500, volume_type: gp3}]
        """,
        ["fleets.Cpu.mount_ebs[0]: 'locl' is not allowed; expected an EBS volume name (storage.ebs_volumes: local)"]),
    "account without region": (
        """
        account: "111122223333"
        """,
        ["region: required key missing; expected a string (with account: both or neither)"]),
    "unquoted account": (
        """
        account: 111122223333
        region: us-east-1
        """,
        ["account: 111122223333 is not allowed; expected a string"]),
    "several problems, one line each": (
        """
        tags: {1: a, owner: 7}
        network: {max_azs: "2"}
        """,
        ["tags: key 1 is not allowed; expected a string",
         "tags.owner: 7 is not allowed; expected a string",
         "network.max_azs: '2' is not allowed; expected an integer"]),
    "not a mapping": (
        """
        - name: Hpc
        """,
        ["[{'name': 'Hpc'}] is not allowed; expected a mapping"]),
}


@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_bad_config_message(case: str) -> None:
    text, expected = BAD_CONFIGS[case]
    assert problems(text) == [f"{SOURCE}: {line}" for line in expected]


def test_location_kind_may_be_empty() -> None:
    """`efs:` alone (null) is the EFS location with its defaults."""
    config = parse_config(yaml.safe_load("""
        storage: {efs: {}}
        data_transfer:
          datasync_tasks:
            - {source: {s3: {prefix: /in/}}, destination: {efs: }}
        """), source=SOURCE)
    assert config.data_transfer is not None
    assert config.data_transfer.datasync_tasks[0].destination.kinds == ["efs"]


def test_load_config_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: Hpc\nnetwork:\n  max_azs: two\n")
    with pytest.raises(ConfigFileError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: network.max_azs: 'two' is not allowed; expected an integer"
    path.write_text("name: [Hpc\n")
    with pytest.raises(ConfigFileError, match=f"^{path}: not valid YAML: "):
        load_config(path)
    with pytest.raises(ConfigFileError, match=f"^{tmp_path / 'none.yaml'}: cannot read the file: "):
        load_config(tmp_path / "none.yaml")
    path.write_text("# nothing but a comment\n")  # an empty file is an empty mapping: the network alone
    assert load_config(path) == parse_config({}, source=str(path))


def test_minimal_config_builds_network_storage_and_compute() -> None:
    stacks = build_reference_app(new_app(), load_config(ROOT / "config" / "minimal.yaml"))
    assert sorted(stacks) == ["compute", "network", "storage"]
    storage = stacks["storage"].storage  # type: ignore[attr-defined]
    assert storage.efs is not None
    assert (storage.lustre, storage.bucket, storage.volumes, storage.node_volumes) == (None, None, [], ())


def test_account_and_region_bind_every_stack() -> None:
    config = parse_config({"account": "111122223333", "region": "eu-west-1", "storage": {"efs": {}}},
                          source=SOURCE)
    stacks = build_reference_app(App(context=cdk_context()), config)
    assert sorted(stacks) == ["network", "storage"]
    assert {(s.account, s.region) for s in stacks.values()} == {("111122223333", "eu-west-1")}
    agnostic = build_reference_app(App(context=cdk_context()), parse_config({}, source=SOURCE))["network"]
    assert Token.is_unresolved(agnostic.account) and Token.is_unresolved(agnostic.region)


def test_config_path_comes_from_context() -> None:
    assert app_module.config_path(App()) == "config/reference.yaml"
    assert app_module.config_path(App(context={"hpc:config": "config/minimal.yaml"})) == "config/minimal.yaml"
    assert json.loads((ROOT / "cdk.json").read_text())["context"]["hpc:config"] == "config/reference.yaml"


def test_main_synthesizes_the_config_the_context_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As `cdk synth -c hpc:config=config/minimal.yaml` runs app.py, without the CLI."""
    monkeypatch.chdir(ROOT)
    context: dict[str, Any] = {**cdk_context(), "hpc:config": "config/minimal.yaml"}
    app_module.main(App(context=context, outdir=str(tmp_path)))
    templates = sorted(p.name for p in tmp_path.glob("*.template.json"))
    assert templates == ["HpcMinimalCompute.template.json", "HpcMinimalNetwork.template.json",
                         "HpcMinimalStorage.template.json"]


def test_main_reports_a_bad_config_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: Hpc\nfleets:\n  Cpu: {instance_types: [c7i.4xlarge], colour: red}\n")
    with pytest.raises(SystemExit) as exited:
        app_module.main(App(context={"hpc:config": str(bad)}, outdir=str(tmp_path / "out")))
    assert exited.value.code == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"{bad}: fleets.Cpu.colour: unknown key; allowed: desired_capacity, efa, ")
    assert err.count("\n") == 1
    assert not (tmp_path / "out" / "manifest.json").exists()
