#!/usr/bin/env python3
"""`make dist`: the sdist and the wheel of hpc-constructs, then the wheel installed into a fresh venv and imported.

    python scripts/dist.py [--outdir dist]

1. The package's sources and project files are copied to a temporary directory (a build in the work tree would
   leave build/ and an egg-info behind) and built by `python -m build --no-isolation` (pypa/build, the reference
   PEP 517 frontend, pinned in requirements-dev.txt with the setuptools it drives): the sdist first, then the
   wheel from the unpacked sdist, so a file the sdist lacks is missing from the wheel too. Offline: no index.
2. A venv without pip is created and the wheel installed into it by this interpreter's pip (`pip --python`,
   `--no-deps --no-index`). The third-party dependencies come from this environment through a `.pth` line
   (a plain path line: the editable install's finder, which maps hpc_constructs to the work tree, never runs).
3. That venv's python imports hpc_constructs from its own site-packages and reads the package data the
   constructs need at synth time: the instance catalog (catalog/instance_types.json), every boot script
   (scripts/*.sh, through boot.install_boot_script) and py.typed.

Exit status 0 when all of this holds; the distributions are in --outdir.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import venv
import zipfile
from importlib import util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "hpc_constructs"
# What setuptools reads besides the package; copied when present.
PROJECT_FILES = ("pyproject.toml", "README.md", "setup.py", "setup.cfg", "MANIFEST.in", "LICENSE", "NOTICE")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything that would point Python or pip at the repository or an index."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "PIP_")) and k not in {"VIRTUAL_ENV", "__PYVENV_LAUNCHER__"}}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
               JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20", **extra)
    return env


def run(args: list[str], cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, cwd=cwd, env=clean_env(**extra), capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def package_data() -> set[str]:
    """What the distributions must hold: every module and every data file the package reads at run time."""
    return {p.relative_to(ROOT).as_posix() for p in PACKAGE.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
            and (p.suffix in {".py", ".json", ".sh"} or p.name == "py.typed")}


def build(outdir: Path) -> tuple[Path, Path]:
    """(sdist, wheel) built from a copy of the sources into outdir, which must be empty or absent."""
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hpc-dist-") as tmp:
        source = Path(tmp) / "src"
        shutil.copytree(PACKAGE, source / PACKAGE.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        for name in PROJECT_FILES:
            if (ROOT / name).exists():
                shutil.copy2(ROOT / name, source / name)
        run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(outdir), str(source)], cwd=Path(tmp))
    (sdist,) = outdir.glob("*.tar.gz")
    (wheel,) = outdir.glob("*.whl")
    return sdist, wheel


def missing_files(sdist: Path, wheel: Path) -> dict[str, list[str]]:
    """Package files (modules and data) that each distribution lacks."""
    expected = package_data()
    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    with tarfile.open(sdist) as archive:
        in_sdist = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    return {"wheel": sorted(expected - in_wheel), "sdist": sorted(expected - in_sdist)}


def fresh_venv(wheel: Path, root: Path) -> tuple[Path, Path]:
    """(python, site-packages) of a new venv at root holding the wheel, with the dependencies through a .pth line."""
    venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(root)
    python = root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    # Installed before the .pth exists: pip would otherwise see the editable install's dist-info there.
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q",
         str(wheel)], cwd=root)
    site_packages = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             cwd=root).stdout.strip())
    spec = util.find_spec("aws_cdk")  # the site-packages that holds aws-cdk-lib, constructs, jsii and the rest
    assert spec is not None and spec.origin is not None
    (site_packages / "hpc-constructs-dependencies.pth").write_text(f"{Path(spec.origin).parent.parent}\n")
    return python, site_packages


# Run by the fresh venv's python, outside the repository: what a user's import reaches.
_IMPORT_CHECK = textwrap.dedent("""
    import json
    from importlib import resources
    import hpc_constructs
    from hpc_constructs import boot, catalog
    scripts = sorted(p.name for p in (resources.files("hpc_constructs") / "scripts").iterdir()
                     if p.name.endswith(".sh"))
    installed = {name: "\\n".join(boot.install_boot_script(name[:-3])) for name in scripts}
    print(json.dumps({
        "file": hpc_constructs.__file__,
        "version": hpc_constructs.__version__,
        "p5_efa_interfaces": catalog.instance_type("p5.48xlarge").maximum_efa_interfaces,
        "scripts": scripts,
        "scripts_installed": all(len(text) > 100 for text in installed.values()),
        "py_typed": (resources.files("hpc_constructs") / "py.typed").is_file(),
    }))
""")


def import_check(python: Path, cwd: Path) -> dict[str, object]:
    """What the venv's python finds when it imports hpc_constructs and reads its data (run from cwd)."""
    result: dict[str, object] = json.loads(run([str(python), "-c", _IMPORT_CHECK], cwd=cwd).stdout.strip()
                                           .splitlines()[-1])
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outdir", type=Path, default=ROOT / "dist")
    args = parser.parse_args(argv)
    outdir = args.outdir.resolve()
    if outdir.exists():
        shutil.rmtree(outdir)
    sdist, wheel = build(outdir)
    problems = [f"{kind} lacks {name}" for kind, names in missing_files(sdist, wheel).items() for name in names]
    with tempfile.TemporaryDirectory(prefix="hpc-dist-venv-") as tmp:
        python, site_packages = fresh_venv(wheel, Path(tmp) / "venv")
        found = import_check(python, Path(tmp))
    if not str(found["file"]).startswith(str(site_packages)):
        problems.append(f"imported from {found['file']}, not from the fresh venv")
    expected_scripts = sorted(p.name for p in (PACKAGE / "scripts").glob("*.sh"))
    if found["scripts"] != expected_scripts or not found["scripts_installed"]:
        problems.append(f"boot scripts in the installed wheel: {found['scripts']}, expected {expected_scripts}")
    if not found["py_typed"]:
        problems.append("py.typed is missing from the installed wheel")
    for problem in problems:
        print(f"make dist: {problem}", file=sys.stderr)
    if not problems:
        print(f"{sdist.relative_to(Path.cwd()) if sdist.is_relative_to(Path.cwd()) else sdist}\n"
              f"{wheel.relative_to(Path.cwd()) if wheel.is_relative_to(Path.cwd()) else wheel}\n"
              f"installed into a fresh venv: imports hpc_constructs {found['version']} from its site-packages, the "
              f"catalog (p5.48xlarge: {found['p5_efa_interfaces']} EFA interfaces) and {len(expected_scripts)} boot "
              f"scripts")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
