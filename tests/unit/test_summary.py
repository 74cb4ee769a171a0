"""scripts/summary.py: the synth summary as text (printed) and as Markdown (summary.md), and --write."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import cx_api

from scripts import architecture, summary


@pytest.fixture(scope="module")
def outdir(reference_assembly: cx_api.CloudAssembly) -> Path:
    return Path(reference_assembly.directory)


def _figures(outdir: Path) -> dict[str, list[dict[str, Any]]]:
    """Construct path -> its hpc:figures entries, read from the assembly's metadata files."""
    manifest = json.loads((outdir / "manifest.json").read_text())
    figures: dict[str, list[dict[str, Any]]] = {}
    for artifact in manifest["artifacts"].values():
        if "additionalMetadataFile" not in artifact:
            continue
        metadata = json.loads((outdir / artifact["additionalMetadataFile"]).read_text())
        for path, entries in metadata.items():
            figures.setdefault(path, []).extend(e["data"] for e in entries if e["type"] == "hpc:figures")
    return {path: data for path, data in figures.items() if data}


def test_summary_md_has_a_row_per_stack_against_the_limits(
        outdir: Path, reference_templates: dict[str, dict[str, Any]],
        reference_template_files: dict[str, Path]) -> None:
    markdown = summary.summary_markdown(outdir)
    rows = [line for line in markdown.splitlines() if line.startswith("| Hpc")]
    assert len(rows) == len(reference_templates) == 8
    for name, template in reference_templates.items():
        size = reference_template_files[name].stat().st_size
        assert f"| {name} | {len(template['Resources'])} / 500 | {size:,} / 1,000,000 |" in rows
    assert "| Stack | Resources (of 500) | Template bytes (of 1,000,000) |" in markdown


def test_summary_md_lists_every_constructs_figures(outdir: Path) -> None:
    markdown = summary.summary_markdown(outdir)
    figures = _figures(outdir)
    assert {"/HpcStorage/Storage", "/HpcCompute/Cpu", "/HpcBatch/Batch", "/HpcAccess/Bastion"} <= set(figures)
    sections = markdown.split("\n### ")[1:]
    headings = [section.split("\n", 1)[0] for section in sections]
    assert sorted(headings) == sorted(figures)  # one heading per construct, its entries together
    by_path = dict(zip(headings, sections, strict=True))
    for path, entries in figures.items():
        for data in entries:
            for key in data:
                assert f"\n- **{summary._md(key)}**: " in by_path[path], (path, key)
    # <bucket> must not vanish as an HTML tag; underscores are not emphasis
    assert "s3://&lt;bucket>/" in markdown
    assert "PERSISTENT\\_2" in markdown


def test_the_summary_prints_each_slurm_queue_and_the_size_tier(outdir: Path) -> None:
    """Per queue: its node groups, their maximum nodes and EFA bandwidth per node; the tier and its headroom."""
    slurm = {key: value for data in _figures(outdir)["/HpcSlurm/Slurm"] for key, value in data.items()}
    assert slurm["queue gpu"] == ("gpu: up to 2 x p5.48xlarge On-Demand, EFA 3200 Gbps per node (32 interfaces)")
    assert slurm["queue spot"].startswith("spot: up to 16 x c7i.8xlarge/c7i-flex.8xlarge Spot, no EFA")
    assert slurm["size tier"].startswith("MEDIUM: 23 of 512 nodes at full scale (headroom 489)")
    assert "queue gpu" in summary.summary_text(outdir)


def test_summary_text_is_what_is_printed(outdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert summary.main(["summary.py", str(outdir)]) == 0
    printed = capsys.readouterr().out
    assert printed == summary.summary_text(outdir) + "\n"
    assert printed.startswith("stack ")
    assert "\n  /HpcAccess/Bastion\n" in printed
    assert not (outdir / "summary.md").exists()  # without --write nothing is written


def test_write_writes_summary_and_architecture(tmp_path: Path, outdir: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "cdk.out"
    shutil.copytree(outdir, copy)
    assert summary.main(["summary.py", "--write", str(copy)]) == 0
    assert capsys.readouterr().out == summary.summary_text(copy) + "\n"
    assert (copy / "summary.md").read_text() == summary.summary_markdown(copy)
    assert (copy / "architecture.md").read_text() == architecture.architecture_markdown(copy)
