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

The wheel is built by setuptools' PEP 517 backend through `pip wheel --no-build-isolation` when the running
environment has one that meets [build-system].requires and can build wheels; otherwise (setuptools older
than 70.1 without the `wheel` package) it is assembled from the same setuptools configuration
(`egg_info` + `build_py`, the steps that decide a wheel's contents), with a warning.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import venv
import warnings
import zipfile
from importlib import metadata, util
from pathlib import Path
from typing import Any

import pytest

from hpc_constructs import boot, catalog
from tests.support import ROOT

PACKAGE = ROOT / "hpc_constructs"
APP = Path(__file__).resolve().parent / "foreign_app" / "app.py"
# What setuptools reads besides the package; copied when present.
PROJECT_FILES = ("pyproject.toml", "README.md", "setup.py", "setup.cfg", "MANIFEST.in", "LICENSE", "NOTICE")
EFA_TYPE = "hpc7a.96xlarge"
STACK = "ForeignHpc"


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything that would point Python or pip at the repository or an index."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "PIP_")) and k not in {"VIRTUAL_ENV", "__PYVENV_LAUNCHER__"}}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
               JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20", **extra)
    return env


def _run(args: list[str], cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, cwd=cwd, env=_clean_env(**extra), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done


def _backend_problem() -> str | None:
    """Why this interpreter cannot build the wheel offline with the project's backend, or None."""
    from packaging.requirements import Requirement

    for text in tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]:
        requirement = Requirement(text)
        try:
            found = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            return f"{requirement.name} is not installed"
        if not requirement.specifier.contains(found, prereleases=True):
            return f"{requirement.name} {found} does not satisfy {text!r}"
    if util.find_spec("setuptools.command.bdist_wheel") is None and util.find_spec("wheel") is None:
        return "setuptools has no bdist_wheel (older than 70.1) and the wheel package is not installed"
    return None


def _assemble_wheel(source: Path, work: Path, out: Path) -> Path:
    """A wheel from setuptools' own egg_info and build_py: the files and metadata bdist_wheel would pack."""
    lib, info = work / "lib", work / "info"
    info.mkdir()
    _run([sys.executable, "-c", "from setuptools import setup; setup()", "-q",
          "egg_info", "--egg-base", str(info), "build_py", "--build-lib", str(lib)], cwd=source)
    (egg_info,) = info.glob("*.egg-info")
    headers, _, description = (egg_info / "PKG-INFO").read_text().partition("\n\n")
    requires = []
    for line in (egg_info / "requires.txt").read_text().splitlines() if (egg_info / "requires.txt").exists() else ():
        if line.startswith("["):  # extras: none today
            break
        if line.strip():
            requires.append(f"Requires-Dist: {line.strip()}")
    name, version = re.search(r"^Name: (.+)$", headers, re.M)[1], re.search(r"^Version: (.+)$", headers, re.M)[1]
    stem = f"{re.sub(r'[-_.]+', '_', name)}-{version}"
    dist_info = f"{stem}.dist-info"
    files: dict[str, bytes] = {p.relative_to(lib).as_posix(): p.read_bytes() for p in sorted(lib.rglob("*"))
                               if p.is_file()}
    files[f"{dist_info}/METADATA"] = "\n".join([headers, *requires, "", description]).encode()
    files[f"{dist_info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: tests/test_foreign_app.py\n"
                                   b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    files[f"{dist_info}/top_level.txt"] = (egg_info / "top_level.txt").read_bytes()
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for arcname, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        writer.writerow([arcname, f"sha256={digest}", len(data)])
    writer.writerow([f"{dist_info}/RECORD", "", ""])
    files[f"{dist_info}/RECORD"] = record.getvalue().encode()
    wheel = out / f"{stem}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for arcname, data in files.items():
            archive.writestr(arcname, data)
    return wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from a copy of the sources (an in-tree build would write build/ and egg-info into the repo)."""
    work = tmp_path_factory.mktemp("wheel-build")
    source, out = work / "src", work / "dist"
    out.mkdir()
    shutil.copytree(PACKAGE, source / PACKAGE.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in PROJECT_FILES:
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, source / name)
    problem = _backend_problem()
    if problem is None:
        _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
              "-w", str(out), str(source)], cwd=work)
        (built,) = out.glob("*.whl")
        return built
    warnings.warn(f"the wheel was assembled from setuptools' egg_info and build_py, not built by its PEP 517 "
                  f"backend: {problem}; install setuptools>=70.1 in the dev environment", stacklevel=1)
    return _assemble_wheel(source, work, out)


def _expected_files() -> set[str]:
    """What the wheel must hold: every module and every data file the package reads at run time."""
    return {p.relative_to(ROOT).as_posix() for p in PACKAGE.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and (p.suffix in {".py", ".json", ".sh"}
                                                                 or p.name == "py.typed")}


def test_wheel_holds_the_package_data(wheel: Path) -> None:
    expected = _expected_files()
    assert {"hpc_constructs/py.typed", "hpc_constructs/catalog/instance_types.json",
            "hpc_constructs/scripts/hpc-efa-install.sh", "hpc_constructs/scripts/hpc-mount.sh"} <= expected
    names = set(zipfile.ZipFile(wheel).namelist())
    assert not expected - names, f"missing from {wheel.name}: {sorted(expected - names)}"
    (metadata_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    requires = re.findall(r"^Requires-Dist: ([A-Za-z0-9_.-]+)", zipfile.ZipFile(wheel).read(metadata_name).decode(),
                          re.M)
    assert {"aws-cdk-lib", "constructs"} <= set(requires)


@pytest.fixture(scope="module")
def foreign_python(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(python, site-packages) of a fresh venv holding the wheel, with the dependencies through a .pth line."""
    root = tmp_path_factory.mktemp("foreign-venv")
    venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(root)
    python = root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    # Installed before the .pth exists: pip would otherwise see the editable install's dist-info there.
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q",
          str(wheel)], cwd=root)
    site_packages = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              cwd=root).stdout.strip())
    # The site-packages that holds aws-cdk-lib (and, installed with it, constructs, jsii and the rest).
    spec = util.find_spec("aws_cdk")
    assert spec is not None and spec.origin is not None
    dependencies = Path(spec.origin).parent.parent
    (site_packages / "hpc-constructs-test-dependencies.pth").write_text(f"{dependencies}\n")
    return python, site_packages


@pytest.fixture(scope="module")
def foreign_synth(foreign_python: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run the foreign app outside the repo; its JSON report, with the outdir and the template."""
    python, _ = foreign_python
    where = tmp_path_factory.mktemp("foreign-app")
    shutil.copy2(APP, where / "app.py")
    done = _run([str(python), "app.py", "cdk.out"], cwd=where)
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
