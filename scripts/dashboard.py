#!/usr/bin/env python3
"""The dashboard of a cloud assembly as a picture, and its alarms as a table: both read from the synthesized templates.

The picture is an SVG of the dashboard's widgets where CloudWatch places them (CloudWatch's 24-unit grid, the x, y,
width and height of every widget in the DashboardBody that HpcDashboard synthesized), each drawn by its kind (text,
graph, alarm status, log query) with its title. The table lists every AWS::CloudWatch::Alarm of the dashboard's stack:
what it watches, its metric (namespace, name, statistic and period, or the expression over them), when it fires and
why, split out of the alarm's description ('<what>: <condition>. Why: <why>').

Usage: dashboard.py [--write] [--update-page docs/dashboard.md] [OUTDIR]   (OUTDIR defaults to cdk.out)
Prints dashboard.md; --write also writes OUTDIR/dashboard.md and OUTDIR/dashboard.svg; --update-page rewrites the
block between the page's dashboard markers and writes dashboard.svg beside the page.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PAGE = "docs/dashboard.md"  # HpcDashboard's documentation page, which shows the reference dashboard
PAGE_BEGIN = "<!-- dashboard:begin -->"
PAGE_END = "<!-- dashboard:end -->"
PAGE_PICTURE = "dashboard.svg"  # beside the page
GRID_WIDTH = 24  # CloudWatch dashboards are 24 units wide
CELL_WIDTH, CELL_HEIGHT = 40, 26  # pixels per grid unit in the picture
TOKEN = "«value»"  # what a deploy-time value (a Ref, a GetAtt, another stack's output) shows as
COLOURS = {"text": "#f3f3f3", "metric": "#e6f0fa", "alarm": "#fbe9e7", "log": "#eaf5ea"}
STROKES = {"text": "#9e9e9e", "metric": "#5b8fc7", "alarm": "#d9534f", "log": "#4f9a59"}
SERIES = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b")


@dataclass(frozen=True)
class Widget:
    kind: str  # text, metric, alarm, log
    x: int
    y: int
    width: int
    height: int
    title: str
    lines: int = 0  # metric: the graph's series; alarm: the alarms it lists
    marks: int = 0  # metric: its horizontal annotations (a provisioned figure, a threshold)


@dataclass(frozen=True)
class AlarmRow:
    what: str
    metric: str
    condition: str
    why: str


def _templates(outdir: Path) -> dict[str, dict[str, Any]]:
    manifest = json.loads((outdir / "manifest.json").read_text())
    return {name: json.loads((outdir / a["properties"]["templateFile"]).read_text())
            for name, a in manifest["artifacts"].items() if a.get("type") == "aws:cloudformation:stack"}


def _dashboard_stack(outdir: Path) -> tuple[str, dict[str, Any]] | None:
    """(stack name, template) of the first stack with a CloudWatch dashboard, or None."""
    for name, template in sorted(_templates(outdir).items()):
        if any(r.get("Type") == "AWS::CloudWatch::Dashboard" for r in template.get("Resources", {}).values()):
            return name, template
    return None


def _text(value: Any) -> str:
    """A template value as text, every intrinsic function (a deploy-time value) shown as TOKEN."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_text(part) for part in parts)
    return TOKEN


def widgets(outdir: str | Path) -> list[Widget]:
    """The widgets of the assembly's dashboard, in the order of the body (CloudWatch's top-to-bottom layout)."""
    found = _dashboard_stack(Path(outdir))
    if found is None:
        return []
    _, template = found
    (dashboard,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    body = json.loads(_text(dashboard["Properties"]["DashboardBody"]))
    out = []
    for widget in body.get("widgets", []):
        props = widget.get("properties", {})
        title = props.get("title") or _first_line(props.get("markdown", ""))
        series = [m for m in props.get("metrics", [])
                  if not (isinstance(m[-1], dict) and m[-1].get("visible") is False)]
        lines = len(props.get("alarms", [])) if widget["type"] == "alarm" else len(series)
        marks = len(props.get("annotations", {}).get("horizontal", []))
        out.append(Widget(widget["type"], int(widget.get("x", 0)), int(widget.get("y", 0)),
                          int(widget.get("width", 6)), int(widget.get("height", 6)), title, lines, marks))
    return out


def _first_line(markdown: str) -> str:
    line = next((ln for ln in markdown.splitlines() if ln.strip()), "")
    return line.lstrip("#").strip().replace("**", "")


def alarms(outdir: str | Path) -> list[AlarmRow]:
    """Every alarm of the dashboard's stack, in template order."""
    found = _dashboard_stack(Path(outdir))
    if found is None:
        return []
    _, template = found
    rows = []
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        props = resource["Properties"]
        head, _, why = str(props.get("AlarmDescription", "")).partition(". Why: ")
        what, _, condition = head.rpartition(": ")
        rows.append(AlarmRow(what, _metric(props), condition, why))
    return rows


def _metric(props: dict[str, Any]) -> str:
    """'AWS/FSx FreeDataStorageCapacity (Sum, 1 min)', or '<expression> over' each metric."""
    def one(namespace: str, name: str, stat: str, period: int) -> str:
        return f"{namespace} {name} ({stat}, {period // 60} min)"

    if "MetricName" in props:
        return one(props["Namespace"], props["MetricName"], props.get("Statistic", ""), int(props["Period"]))
    queries = props.get("Metrics", [])
    named = [one(q["MetricStat"]["Metric"]["Namespace"], q["MetricStat"]["Metric"]["MetricName"],
                 q["MetricStat"]["Stat"], int(q["MetricStat"]["Period"])) for q in queries if "MetricStat" in q]
    expression = next((q["Expression"] for q in queries if "Expression" in q), None)
    if expression is None:
        return "; ".join(named)
    ids = [q["Id"] for q in queries if "MetricStat" in q]
    return f"{expression}, where " + "; ".join(f"{i} = {m}" for i, m in zip(ids, named, strict=True))


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;")


def alarm_table(outdir: str | Path) -> str:
    rows = alarms(outdir)
    lines = ["| Alarm | Metric | Fires when | Why |", "| --- | --- | --- | --- |"]
    lines += [f"| {_md(r.what)} | {_md(r.metric)} | {_md(r.condition)} | {_md(r.why)} |" for r in rows]
    return "\n".join(lines) + "\n"


def svg(outdir: str | Path) -> str:
    """The dashboard's layout as an SVG picture (deterministic: the same assembly gives the same bytes)."""
    items = widgets(outdir)
    height = max((w.y + w.height for w in items), default=1) * CELL_HEIGHT
    width = GRID_WIDTH * CELL_WIDTH
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="#ffffff"/>']
    for w in items:
        out += _draw(w)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _draw(w: Widget) -> list[str]:
    x, y = w.x * CELL_WIDTH + 2, w.y * CELL_HEIGHT + 2
    width, height = w.width * CELL_WIDTH - 4, w.height * CELL_HEIGHT - 4
    fill, stroke = COLOURS.get(w.kind, "#ffffff"), STROKES.get(w.kind, "#555555")
    chars = max(4, width // 7)
    title = w.title if len(w.title) <= chars else w.title[:chars - 1] + "…"
    bold = ' font-weight="bold"' if w.kind == "text" and w.height <= 2 else ""
    parts = [f'<rect x="{x}" y="{y}" width="{width}" height="{height}" rx="3" fill="{fill}" stroke="{stroke}"/>',
             f'<text x="{x + 6}" y="{y + 15}"{bold}>{escape(title)}</text>']
    inner_top, inner_bottom = y + 22, y + height - 6
    span = inner_bottom - inner_top
    if w.kind == "metric" and span > 10:
        for mark in range(w.marks):  # a provisioned figure or a threshold: a dashed horizontal line
            line_y = inner_top + span * (mark + 1) // (w.marks + 2)
            parts.append(f'<line x1="{x + 8}" y1="{line_y}" x2="{x + width - 8}" y2="{line_y}" stroke="#d9534f" '
                         'stroke-dasharray="4 3"/>')
        steps = 8
        for series in range(max(1, w.lines)):  # one polyline per graphed series
            points = " ".join(f"{x + 8 + i * (width - 16) // steps},"
                              f"{inner_bottom - span * ((i * 37 + series * 3) % 7 + 2) // 12}"
                              for i in range(steps + 1))
            colour = SERIES[series % len(SERIES)]
            parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
    elif w.kind == "alarm":
        per_row = max(1, (width - 12) // 150)
        for i in range(w.lines):  # one entry per alarm the widget lists
            cx, cy = x + 12 + (i % per_row) * 150, inner_top + 6 + (i // per_row) * 18
            parts.append(f'<circle cx="{cx}" cy="{cy}" r="5" fill="#7cb342"/>')
            parts.append(f'<rect x="{cx + 9}" y="{cy - 3}" width="110" height="6" fill="#e0c4c1"/>')
    elif w.kind == "log":
        for i in range(max(0, (height - 28) // 14)):
            parts.append(f'<rect x="{x + 8}" y="{inner_top + i * 14}" width="{width - 16}" height="8" '
                         'fill="#cfe6d1"/>')
    return parts


def dashboard_markdown(outdir: str | Path) -> str:
    return ("# Dashboard\n\nGenerated by scripts/dashboard.py from this cloud assembly's templates: the picture "
            "(dashboard.svg) places every widget of the HpcDashboard where CloudWatch puts it; the table lists every "
            "alarm, each of which notifies the dashboard's SNS topic.\n\n![dashboard](dashboard.svg)\n\n"
            + alarm_table(outdir))


def page_block(outdir: str | Path) -> str:
    """What docs/dashboard.md holds between its dashboard markers: the picture and the alarm table."""
    return f"![The reference dashboard's layout]({PAGE_PICTURE})\n\n" + alarm_table(outdir)


def current_page_block(page_text: str) -> str:
    start = page_text.index(PAGE_BEGIN) + len(PAGE_BEGIN)
    return page_text[start:page_text.index(PAGE_END)].strip()


def update_page(page: str | Path, outdir: str | Path) -> bool:
    """Rewrite the page's block and the picture beside it; True when either changed."""
    page = Path(page)
    text = page.read_text()
    start, end = text.index(PAGE_BEGIN) + len(PAGE_BEGIN), text.index(PAGE_END)
    updated = text[:start] + "\n" + page_block(outdir) + text[end:]
    picture = page.parent / PAGE_PICTURE
    picture.parent.mkdir(parents=True, exist_ok=True)
    drawn = svg(outdir)
    changed = updated != text or not picture.exists() or picture.read_text() != drawn
    page.write_text(updated)
    picture.write_text(drawn)
    return changed


def write(outdir: str | Path) -> list[Path]:
    """OUTDIR/dashboard.md and OUTDIR/dashboard.svg, when the assembly has a dashboard."""
    outdir = Path(outdir)
    if _dashboard_stack(outdir) is None:
        return []
    (outdir / "dashboard.svg").write_text(svg(outdir))
    (outdir / "dashboard.md").write_text(dashboard_markdown(outdir))
    return [outdir / "dashboard.md", outdir / "dashboard.svg"]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("outdir", nargs="?", default="cdk.out")
    parser.add_argument("--write", action="store_true", help="also write OUTDIR/dashboard.md and dashboard.svg")
    parser.add_argument("--update-page", metavar="PAGE", help=f"rewrite the picture and table of the page ({PAGE})")
    args = parser.parse_args(argv[1:])
    print(dashboard_markdown(args.outdir), end="")
    if args.write:
        write(args.outdir)
    if args.update_page and update_page(args.update_page, args.outdir):
        print(f"updated {args.update_page} and the {PAGE_PICTURE} beside it", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
