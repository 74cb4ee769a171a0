"""The library as a user gets it: a built wheel, installed in a fresh venv, used by an app outside the repo.

Every other test imports hpc_constructs from the work tree, so a data file missing from the wheel
(catalog JSON, boot scripts, py.typed) or a module that only works from the repo would pass them all.
Here:

1. a wheel is built from a copy of the package's sources, offline, and must hold every module and data file;
2. a venv without pip is created and the wheel installed into it by the running interpreter's pip
   (`pip --python`: no ensurepip, no index). Only then does a `.pth` file give it the third-party
   dependencies: a plain path line naming the running environment's site-packages. A plain line adds the
   directory to sys.path without processing its own .pth files, so the editable install's finder (which
   maps hpc_constructs to the work tree) never runs;
3. tests/foreign_app/app.py is copied to a temp directory and run there with that venv's python (no
   PYTHONPATH, no cdk.json: CDK's default feature flags), and its template is checked against the
   repository's catalog and boot scripts.

The wheel is built by scripts/dist.py, as `make dist` builds it (pypa/build, offline, sdist then wheel), and
installed by the same code that `make dist` checks its wheel with.
"""

from __future__ import annotations

import json
import re
import shutil
import textwrap
import zipfile
from pathlib import Path
from typing import Any

import pytest

from hpc_constructs import boot, catalog
from scripts import dist
from tests.support import ROOT

PACKAGE = ROOT / "hpc_constructs"
APP = Path(__file__).resolve().parent / "foreign_app" / "app.py"
# What setuptools reads besides the package; copied when present.
EFA_TYPE = "hpc7a.96xlarge"
STACK = "ForeignHpc"


@pytest.fixture(scope="module")
def distributions(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(sdist, wheel), built as `make dist` builds them."""
    return dist.build(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def wheel(distributions: tuple[Path, Path]) -> Path:
    return distributions[1]


def test_wheel_holds_the_package_data(distributions: tuple[Path, Path]) -> None:
    sdist, wheel = distributions
    assert {"hpc_constructs/py.typed", "hpc_constructs/catalog/instance_types.json",
            "hpc_constructs/scripts/hpc-efa-install.sh", "hpc_constructs/scripts/hpc-mount.sh"} <= dist.package_data()
    assert dist.missing_files(sdist, wheel) == {"wheel": [], "sdist": []}


def test_the_core_install_is_aws_cdk_lib_and_constructs_and_cdk_nag_an_extra(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    (metadata_name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
    requires = re.findall(r"^Requires-Dist: ([A-Za-z0-9_.-]+)([^;\n]*)(?:; (.*))?$",
                          archive.read(metadata_name).decode(), re.M)
    core = {name for name, _, marker in requires if not marker}
    extras = {name: marker for name, _, marker in requires if marker}
    assert core == {"aws-cdk-lib", "constructs"}
    assert extras["cdk-nag"] == 'extra == "nag"'


def test_make_dist_checks_the_installed_wheel(wheel: Path, foreign_python: tuple[Path, Path],
                                              tmp_path: Path) -> None:
    python, site_packages = foreign_python
    found = dist.import_check(python, tmp_path)
    assert Path(str(found["file"])).resolve().is_relative_to(site_packages.resolve())
    assert found["scripts"] == sorted(p.name for p in (ROOT / "hpc_constructs" / "scripts").glob("*.sh"))
    assert found["scripts_installed"] is True and found["py_typed"] is True
    assert found["p5_efa_interfaces"] == catalog.instance_type("p5.48xlarge").maximum_efa_interfaces


@pytest.fixture(scope="module")
def foreign_python(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(python, site-packages) of a fresh venv holding the wheel, with the dependencies through a .pth line."""
    return dist.fresh_venv(wheel, tmp_path_factory.mktemp("foreign-venv") / "venv")


@pytest.fixture(scope="module")
def foreign_synth(foreign_python: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run the foreign app outside the repo; its JSON report, with the outdir and the template."""
    python, _ = foreign_python
    where = tmp_path_factory.mktemp("foreign-app")
    shutil.copy2(APP, where / "app.py")
    done = dist.run([str(python), "app.py", "cdk.out"], cwd=where)
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    report["outdir"] = where / "cdk.out"
    report["template"] = json.loads((where / "cdk.out" / f"{STACK}.template.json").read_text())
    return report


def test_foreign_app_imports_the_installed_wheel(foreign_python: tuple[Path, Path],
                                                 foreign_synth: dict[str, Any]) -> None:
    _, site_packages = foreign_python
    imported = Path(foreign_synth["hpc_constructs_file"]).resolve()
    assert imported.is_relative_to(site_packages.resolve()), imported
    assert not imported.is_relative_to(ROOT), imported
    outdir: Path = foreign_synth["outdir"]
    assert (outdir / "manifest.json").is_file()
    assert (outdir / f"{STACK}.template.json").is_file()


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _user_data(launch_template: dict[str, Any]) -> str:
    parts = launch_template["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"]["Fn::Join"][1]
    return "".join(p for p in parts if isinstance(p, str))


def test_foreign_template_follows_the_catalog(foreign_synth: dict[str, Any]) -> None:
    template = foreign_synth["template"]
    efa_type = catalog.instance_type(EFA_TYPE)
    # The installed catalog says what the repository's does.
    assert foreign_synth["efa_type"] == EFA_TYPE
    assert foreign_synth["efa_maximum_efa_interfaces"] == efa_type.maximum_efa_interfaces
    assert foreign_synth["efa_network_cards"] == len(efa_type.network_cards)

    groups = _resources(template, "AWS::AutoScaling::AutoScalingGroup")
    (efa_group,) = [g for g in groups.values()
                    if g["Properties"].get("MixedInstancesPolicy", {}).get("LaunchTemplate", {})
                    .get("Overrides") == [{"InstanceType": EFA_TYPE}]]
    policy = efa_group["Properties"]["MixedInstancesPolicy"]["LaunchTemplate"]
    launch_template = template["Resources"][policy["LaunchTemplateSpecification"]["LaunchTemplateId"]["Ref"]]
    interfaces = launch_template["Properties"]["LaunchTemplateData"]["NetworkInterfaces"]
    efa = [i for i in interfaces if i["InterfaceType"] in {"efa", "efa-only"}]
    assert len(efa) == efa_type.maximum_efa_interfaces
    assert {i["NetworkCardIndex"] for i in interfaces} == set(range(len(efa_type.network_cards)))
    # One subnet (the cluster subnet) and a cluster placement group.
    assert len(efa_group["Properties"]["VPCZoneIdentifier"]) == 1
    placement = template["Resources"][efa_group["Properties"]["PlacementGroup"]["Fn::GetAtt"][0]]
    assert placement == {"Type": "AWS::EC2::PlacementGroup", "Properties": {"Strategy": "cluster"}}

    # The boot scripts came from the installed package and match the repository's.
    scripts = boot.packed_scripts(_user_data(launch_template))
    assert {"hpc-efa-install", "hpc-mount"} <= set(scripts)
    for name in ("hpc-efa-install", "hpc-mount"):
        assert scripts[name] == boot.packed_scripts("\n".join(boot.install_boot_script(name)) + "\n")[name]

    (efs,) = _resources(template, "AWS::EFS::FileSystem").values()
    assert efs["Properties"]["Encrypted"] is True
    assert len(_resources(template, "AWS::EFS::MountTarget")) == 2
    assert _resources(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")  # the HaBastion's NLB


def _readme_quick_start() -> str:
    """The README's "In your own app" code, as a reader copies it: its blocks in order, without the doctests."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### In your own app"):text.index("### The reference environment")]
    blocks = [b for b in re.findall(r"```python\n(.*?)```", section, re.S) if not b.lstrip().startswith(">>>")]
    assert len(blocks) >= 2 and "app.synth()" in blocks[-1], blocks
    return "\n".join(blocks)


def test_the_readme_quick_start_synthesizes_as_a_fresh_app(foreign_python: tuple[Path, Path],
                                                           tmp_path: Path) -> None:
    """A fresh app that follows only the README: the wheel in a new venv, no repository, no cdk.json."""
    python, site_packages = foreign_python
    # What the app wrote, read before it exits (an App without outdir writes to a temporary directory).
    report = textwrap.dedent("""
        import json, pathlib, hpc_constructs
        out = pathlib.Path(assembly.directory)
        print(json.dumps({"file": hpc_constructs.__file__,
                          "template": json.loads((out / "MyHpc.template.json").read_text()),
                          "plugins": json.loads((out / "validation-report.json").read_text())["pluginReports"]}))
    """)
    (tmp_path / "app.py").write_text(_readme_quick_start() + "\n" + report)
    done = dist.run([str(python), "app.py"], cwd=tmp_path)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(found["file"]).resolve().is_relative_to(site_packages.resolve())
    assert any(r["Type"] == "AWS::FSx::FileSystem" for r in found["template"]["Resources"].values())
    assert [(p["pluginName"], p["conclusion"]) for p in found["plugins"]] == [("AwsSolutions", "success")]
