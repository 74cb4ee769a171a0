"""image_plan: HpcImage's rules, what an image holds, its component document and digest, and the one rule every
construct that takes an image applies (pure Python: no synth)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from hpc_constructs import boot, catalog
from hpc_constructs.catalog.software import EFA_INSTALLER, PCS_INSTALLERS
from hpc_constructs.errors import ConfigError
from hpc_constructs.image_plan import (
    COMPONENT_MAX_CHARS,
    DEFAULT_PACKAGES,
    REGION_PLACEHOLDER,
    check_image_for,
    plan_image,
)


def _steps(document: str, phase: str) -> dict[str, list[str]]:
    parsed = json.loads(document)
    (steps,) = [p["steps"] for p in parsed["phases"] if p["name"] == phase]
    return {s["name"]: s["inputs"]["commands"] for s in steps}


def test_a_cpu_image_holds_every_package_the_boot_steps_install_and_the_efa_software() -> None:
    plan = plan_image("I")
    assert plan.parent.ssm_parameter == "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
    assert plan.parent_image == f"ssm:{plan.parent.ssm_parameter}"  # read by Image Builder at each build
    assert plan.contents == {*DEFAULT_PACKAGES, "efa"}
    build = _steps(plan.document, "build")
    assert list(build) == ["Packages", "EfaSoftware", "Manifest"]
    assert build["Packages"][-1] == "dnf install -y " + " ".join(DEFAULT_PACKAGES)
    assert build["EfaSoftware"][-1] == (f"/usr/local/sbin/hpc-efa-install {EFA_INSTALLER.version} "
                                        f"{EFA_INSTALLER.key_fingerprint}")
    assert plan.root_volume_size_gib == 16 and plan.root_device_name == "/dev/xvda"


def test_a_slurm_image_installs_the_pcs_agent_and_that_slurm_with_the_pinned_key() -> None:
    plan = plan_image("I", slurm_version="26.05")
    assert {"pcs-agent", "slurm-26.05"} <= plan.contents
    build = _steps(plan.document, "build")
    assert build["PcsAgent"][-1] == (f"/usr/local/sbin/hpc-pcs-install agent 1-latest {PCS_INSTALLERS.key_fingerprint} "
                                     f"{REGION_PLACEHOLDER}")
    assert build["Slurm"][-1] == (f"/usr/local/sbin/hpc-pcs-install slurm 26.05 latest "
                                  f"{PCS_INSTALLERS.key_fingerprint} {REGION_PLACEHOLDER}")
    validate = _steps(plan.document, "validate")["Contents"]
    assert "test -s /opt/aws/pcs/scheduler/slurm-26.05/version" in validate
    assert f"grep -q '^slurm-26.05 ' {boot.IMAGE_MANIFEST}" in validate


def test_a_gpu_image_keeps_the_dlamis_own_efa_software() -> None:
    plan = plan_image("I", gpu=True)
    assert plan.parent.gpu_driver and plan.efa_installer is None and "efa" in plan.contents
    assert "EfaSoftware" not in _steps(plan.document, "build")
    assert plan.root_volume_size_gib is None  # the DLAMI's own size


def test_an_ecs_image_is_batchs_and_holds_iptables_as_the_ecs_images_do() -> None:
    plan = plan_image("I", base="ecs", gpu=True)
    assert plan.parent.ssm_parameter == "/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id"
    assert "iptables-nft" in plan.contents


def test_the_digest_follows_what_the_build_depends_on_and_nothing_else() -> None:
    base = plan_image("I").digest
    assert plan_image("Other/Path").digest == base  # the construct's path is in the name, not the digest
    assert plan_image("I", packages=["htop"]).digest != base
    assert plan_image("I", root_volume_size_gib=32).digest != base
    assert plan_image("I", efa_installer_version="1.50.0").digest != base
    assert plan_image("I", architecture="arm64").digest != base


@pytest.mark.parametrize(("props", "prop"), [
    ({"base": "ubuntu"}, "base"),
    ({"architecture": "i386"}, "architecture"),
    ({"base": "ecs", "gpu": True, "architecture": "arm64"}, "architecture"),
    ({"packages": ["bad name"]}, "packages"),
    ({"packages": "htop"}, "packages"),
    ({"slurm_version": "23.11"}, "slurm_version"),
    ({"slurm_version": "26.05", "base": "ecs"}, "slurm_version"),
    ({"pcs_agent_release": "1-latest"}, "pcs_agent_release"),
    ({"slurm_version": "26.05", "pcs_agent_release": "2.0.0-1"}, "pcs_agent_release"),
    ({"slurm_version": "26.05", "slurm_installer_release": "25.05.5-1"}, "slurm_installer_release"),
    ({"efa_installer_version": "1.24.0"}, "efa_installer_version"),
    ({"build_instance_type": "c7g.2xlarge"}, "build_instance_type"),
    ({"root_volume_size_gib": 7}, "root_volume_size_gib"),
])
def test_bad_props_are_refused_naming_the_prop(props: dict[str, object], prop: str) -> None:
    with pytest.raises(ConfigError) as raised:
        plan_image("Images/Bad", **props)  # type: ignore[arg-type]
    assert raised.value.prop == prop


def test_exact_installer_releases_are_accepted() -> None:
    plan = plan_image("I", slurm_version="25.05", pcs_agent_release="1.3.1-1", slurm_installer_release="25.05.5-1")
    assert plan.pcs is not None and (plan.pcs.agent_release, plan.pcs.slurm_release) == ("1.3.1-1", "25.05.5-1")


def test_a_component_past_image_builders_limit_is_refused() -> None:
    many = [f"package-number-{i:04d}" for i in range(COMPONENT_MAX_CHARS // 20)]
    with pytest.raises(ConfigError, match="16,000"):
        plan_image("I", packages=many)


@pytest.mark.parametrize(("image", "types", "use", "version", "fits"), [
    ({}, ["hpc7a.96xlarge"], "fleet", None, True),
    ({}, ["p5.48xlarge"], "fleet", None, False),  # no NVIDIA driver
    ({"gpu": True}, ["p5.48xlarge"], "fleet", None, True),
    ({}, ["c7g.large"], "fleet", None, False),  # arm64 types, x86_64 image
    ({}, ["c7i.large"], "batch", None, False),  # no ECS agent
    ({"base": "ecs"}, ["c7i.large"], "fleet", None, False),  # an ECS image on a fleet
    ({"base": "ecs"}, ["c7i.large"], "batch", None, True),
    ({"slurm_version": "26.05"}, ["c7i.large"], "slurm", "26.05", True),
    ({"slurm_version": "25.11"}, ["c7i.large"], "slurm", "26.05", False),  # another Slurm
    ({}, ["c7i.large"], "slurm", "26.05", False),  # no PCS agent
    ({"slurm_version": "26.05"}, ["c7i.large"], "fleet", None, False),  # the PCS agent on a fleet
])
def test_an_image_suits_the_types_and_the_use(image: dict[str, object], types: list[str], use: str,
                                              version: str | None, fits: bool) -> None:
    plan = plan_image("Images/X", **image)  # type: ignore[arg-type]
    records = [catalog.instance_type(t) for t in types]
    if fits:
        check_image_for("Fleet", plan, records, use=use, slurm_version=version)
    else:
        with pytest.raises(ConfigError) as raised:
            check_image_for("Fleet", plan, records, use=use, slurm_version=version)
        assert raised.value.prop == "image" and raised.value.hint


def test_the_components_commands_are_valid_bash(tmp_path: Path) -> None:
    plan = plan_image("I", slurm_version="26.05")
    for phase in ("build", "validate"):
        for name, commands in _steps(plan.document, phase).items():
            script = tmp_path / f"{phase}-{name}.sh"
            script.write_text("\n".join(commands) + "\n")
            subprocess.run(["bash", "-n", str(script)], check=True)
