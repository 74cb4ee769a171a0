"""scripts/dashboard.py: the reference dashboard's picture and alarm table, read from the synthesized templates, and
docs/dashboard.md's copy of both."""

from __future__ import annotations

import itertools
import re
import shutil
from pathlib import Path

import pytest
from aws_cdk import cx_api

from scripts import dashboard
from tests.support import ROOT


@pytest.fixture(scope="module")
def outdir(reference_assembly: cx_api.CloudAssembly) -> Path:
    return Path(reference_assembly.directory)


def test_widgets_are_read_where_cloudwatch_places_them(outdir: Path) -> None:
    widgets = dashboard.widgets(outdir)
    kinds = [w.kind for w in widgets]
    assert kinds[:2] == ["text", "alarm"] and kinds[-1] == "log"
    assert kinds.count("metric") == 20
    (alarms,) = [w for w in widgets if w.kind == "alarm"]
    assert alarms.lines == 21  # one entry per alarm
    lustre = next(w for w in widgets if w.title == "Lustre: free capacity")
    assert (lustre.width, lustre.height, lustre.lines, lustre.marks) == (8, 6, 1, 2)  # capacity and alarm lines
    for a, b in itertools.combinations(widgets, 2):  # CloudWatch's grid: 24 wide, no two widgets overlap
        assert a.x + a.width <= 24
        overlap = a.x < b.x + b.width and b.x < a.x + a.width and a.y < b.y + b.height and b.y < a.y + a.height
        assert not overlap, (a, b)


def test_the_picture_draws_every_widget_with_its_title(outdir: Path) -> None:
    picture = dashboard.svg(outdir)
    widgets = dashboard.widgets(outdir)
    assert picture.startswith('<svg xmlns="http://www.w3.org/2000/svg" width="960"')
    assert len(re.findall(r'<rect x="\d+" y="\d+" width="\d+" height="\d+" rx="3"', picture)) == len(widgets)
    assert picture.count("<polyline") == sum(w.lines for w in widgets if w.kind == "metric")
    assert picture.count("<circle") == 21
    assert ">Bastions: failed SSH logins<" in picture and ">HpcSlurm/Slurm (SlurmCluster)<" in picture
    assert dashboard.svg(outdir) == picture  # deterministic


def test_the_table_has_a_row_per_alarm_with_its_metric_and_reason(outdir: Path) -> None:
    rows = dashboard.alarms(outdir)
    assert len(rows) == 21 and all(r.what and r.metric and r.condition and r.why for r in rows)
    lustre = next(r for r in rows if r.what == "HpcStorage/Storage: Lustre free capacity")
    assert lustre.metric == "AWS/FSx FreeDataStorageCapacity (Sum, 1 min)"
    assert lustre.condition == "below 480 GiB free (20% of 2,400 GiB) for 5 minutes"
    table = dashboard.alarm_table(outdir)
    assert table.count("\n| Hpc") == 21


def test_write_and_readme_block_from_an_assembly_without_a_dashboard(tmp_path: Path, outdir: Path) -> None:
    copy = tmp_path / "cdk.out"
    shutil.copytree(outdir, copy)
    assert dashboard.write(copy) == [copy / "dashboard.md", copy / "dashboard.svg"]
    assert "![dashboard](dashboard.svg)" in (copy / "dashboard.md").read_text()
    (copy / "HpcMonitoring.template.json").write_text('{"Resources": {}}')
    assert dashboard.widgets(copy) == [] and dashboard.alarms(copy) == [] and dashboard.write(copy) == []


def test_the_dashboard_page_shows_the_reference_dashboard_and_its_alarms(outdir: Path) -> None:
    page = ROOT / dashboard.PAGE
    text = page.read_text()
    stale = (f"{dashboard.PAGE}'s dashboard is stale: run `python scripts/dashboard.py --update-page {dashboard.PAGE} "
             "cdk.out` after `make synth`")
    assert dashboard.current_page_block(text) == dashboard.page_block(outdir).strip(), stale
    assert (page.parent / dashboard.PAGE_PICTURE).read_text() == dashboard.svg(outdir), stale
    section = text.split("## The reference dashboard\n", 1)[1].split("\n## ", 1)[0]
    assert dashboard.PAGE_BEGIN in section
