"""Session-scoped fixtures: the reference app is synthesized once (jsii start-up is costly)."""

from __future__ import annotations

import json
import os
import shutil

# jsii's end-of-life banner for Node 20 is silenced when the value names the major version.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import cx_api

from app import load_config
from stacks import build_reference_app
from tests.support import ROOT, new_app


def _synthesize_reference(outdir: Path) -> cx_api.CloudAssembly:
    app = new_app(outdir=str(outdir))
    build_reference_app(app, load_config(ROOT / "config" / "reference.yaml"))
    return app.synth()


@pytest.fixture(scope="session")
def reference_assembly(tmp_path_factory: pytest.TempPathFactory) -> cx_api.CloudAssembly:
    """The reference app as `make synth` builds it: cdk.json context, config/reference.yaml, cdk-nag.

    Synthesized once per test run, not once per pytest-xdist worker: the first worker to ask synthesizes it into
    the run's base temporary directory (which every worker's own lies under) while holding a file lock, and the
    others load that cloud assembly from disk (pytest-xdist's documented pattern for session fixtures; filelock
    is the library its documentation uses). The synth is pure (the same code and config give the same assembly),
    and the tests only read the directory: those that write (summary, dashboard) copy it first.
    """
    if os.environ.get("PYTEST_XDIST_WORKER") is None:  # no xdist: one process, one synth
        return _synthesize_reference(tmp_path_factory.mktemp("cdk.out"))
    from filelock import FileLock

    run = tmp_path_factory.getbasetemp().parent  # <run's basetemp>/popen-gw<n> is this worker's own
    outdir, complete = run / "reference-cdk.out", run / "reference-cdk.out.complete"
    with FileLock(str(run / "reference-cdk.out.lock")):
        if complete.exists():
            return cx_api.CloudAssembly(str(outdir))
        shutil.rmtree(outdir, ignore_errors=True)  # a worker whose synth failed leaves no marker: synthesize again
        assembly = _synthesize_reference(outdir)
        complete.touch()
        return assembly


@pytest.fixture(scope="session")
def reference_templates(reference_assembly: cx_api.CloudAssembly) -> dict[str, dict[str, Any]]:
    return {stack.stack_name: stack.template for stack in reference_assembly.stacks}


@pytest.fixture(scope="session")
def reference_template_files(reference_assembly: cx_api.CloudAssembly) -> dict[str, Path]:
    outdir = Path(reference_assembly.directory)
    return {stack.stack_name: outdir / stack.template_file for stack in reference_assembly.stacks}


@pytest.fixture(scope="session")
def validation_report(reference_assembly: cx_api.CloudAssembly) -> dict[str, Any]:
    path = Path(reference_assembly.directory) / "validation-report.json"
    report: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {"pluginReports": []}
    return report


# The longest test files, in seconds (setup + call, summed per file from `pytest --durations=0 -n 2 --dist loadfile`
# on 2 cores, 2026-12-07, load 2-7; test_make_diff.py after it shared its CLI synth). `make unit` runs xdist with
# --dist loadfile --no-loadscope-reorder: files go to the workers in collection order, a file to one worker, and
# xdist's default order (files with the most tests first) puts a long file of few tests, such as make diff's, after
# the many-test files, where it can keep one core busy while the other has nothing left. Longest first: a long file
# never starts last. Only the order changes; a
# file not listed keeps its place after these (a stale figure costs time, never a check).
LONGEST_FIRST: dict[str, float] = {
    "tests/lint/test_scale.py": 84,
    "tests/test_make_diff.py": 70,
    "tests/test_changes_catalogue.py": 62,
    "tests/verify/test_deletions.py": 37,
    "tests/unit/test_batch_user_app.py": 35,
    "tests/test_foreign_app.py": 34,
    "tests/fuzz/test_fuzz.py": 33,
    "tests/unit/test_nesting.py": 33,
    "tests/unit/test_data_transfer.py": 30,
    "tests/unit/test_enable_cdk_nag.py": 26,
    "tests/unit/test_efa_shard_5.py": 25,
    "tests/deploy/test_local_deploy.py": 25,
    "tests/deploy/test_pcs_emulator.py": 24,
    "tests/lint/test_cfn_lint_harness.py": 22,
    "tests/unit/test_efa_shard_0.py": 20,
    "tests/unit/test_efa_shard_4.py": 20,
    "tests/unit/test_efa_shard_2.py": 20,
    "tests/unit/test_efa_shard_6.py": 20,
    "tests/unit/test_batch.py": 19,
    "tests/deploy/test_deploy_local_interrupt.py": 17,
    "tests/lint/test_reference_templates.py": 17,
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: -LONGEST_FIRST.get(item.nodeid.split("::", 1)[0], 0))  # stable: a file's order kept
