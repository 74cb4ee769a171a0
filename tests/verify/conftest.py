"""The reference app's cloud assembly as hpc-verify reads it (the session's synth: no second one)."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk import cx_api

from hpc_constructs.verify import Assembly


@pytest.fixture(scope="session")
def reference_directory(reference_assembly: cx_api.CloudAssembly) -> Path:
    return Path(reference_assembly.directory)


@pytest.fixture(scope="session")
def reference(reference_directory: Path) -> Assembly:
    return Assembly.load(reference_directory)
