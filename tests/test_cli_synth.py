"""`cdk synth` through the pinned CLI gives the same templates as the in-process fixture."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support import ROOT, normalize

CDK = ROOT / "node_modules" / ".bin" / "cdk"


@pytest.mark.cli
@pytest.mark.skipif(not CDK.exists(), reason="node_modules not installed: run `make test`, which runs npm ci")
def test_cli_synth_matches_fixture(tmp_path: Path, reference_templates: dict[str, dict[str, Any]]) -> None:
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
           "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED": "true", "CDK_DISABLE_CLI_TELEMETRY": "true"}
    env["PATH"] = f"{Path(os.sys.executable).parent}{os.pathsep}{env['PATH']}"
    subprocess.run([str(CDK), "synth", "--quiet", "--output", str(tmp_path)], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=300)
    for name, template in reference_templates.items():
        cli = json.loads((tmp_path / f"{name}.template.json").read_text())
        assert normalize(cli) == normalize(template), name
    shutil.rmtree(tmp_path, ignore_errors=True)
