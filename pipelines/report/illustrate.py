"""The figures of a briefing (pipelines.report.content.Briefing), the same on the 简报 page and in
the documents: every target's progress, the map of lagging targets, and per lagging target its trend
and the status map of the units below."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go

from pipelines.report.content import Briefing, TargetPart
from pipelines.report.figures import map_figure, progress_figure, status_areas, titled, trend_figure
from pipelines.report.formats import fmt_period
from pipelines.units import LEVEL_ZH

# the map of lagging targets: (lowest count, label, colour); units without a return in grey
COUNT_BANDS = [(0, "无滞后目标", "#bbf7d0"), (1, "1–2 项", "#fde68a"), (3, "3–4 项", "#f59e0b"), (5, "5 项及以上", "#dc2626")]
NOT_REPORTED = ("本季度未报送", "#9ca3af")


@dataclass
class Figure:
    """A figure with the name its image file takes and its size in CSS pixels (printed at 2×)."""

    name: str
    fig: go.Figure
    width: int = 1600
    height: int = 900


def subtitle(b: Briefing) -> str:
    """"《规划》 · 示例市 · 截至2020年第3季度" under every figure's title."""
    return f"《{b.plan.title}》 · {b.unit['name']} · 截至{fmt_period(b.period)}"


def overview(b: Briefing) -> list[Figure]:
    """Every target's 完成进度 against 序时进度, and (a city or county) the map of lagging targets."""
    out = []
    fig = titled(progress_figure(b.rows), "各目标完成进度与序时进度", subtitle(b))
    out.append(Figure("各目标完成进度", fig, 1100, int(fig.layout.height)))
    if not b.map_areas.empty:
        out.append(Figure("滞后目标分布图", lagging_map(b), 1000, 900))
    return out


def lagging_map(b: Briefing) -> go.Figure:
    """The units below, coloured by how many targets they lag on, with names and county outlines."""
    areas = b.map_areas.copy()
    colours, groups = [], []
    for n, missing in zip(areas["lagging"], areas["missing"]):
        if missing:
            label, colour = NOT_REPORTED
        else:
            label, colour = next((lab, c) for lo, lab, c in reversed(COUNT_BANDS) if n >= lo)
        colours.append(colour)
        groups.append(label)
    areas["colour"], areas["group"] = colours, groups
    legend = [(lab, c) for _, lab, c in COUNT_BANDS if lab in set(groups)]
    if NOT_REPORTED[0] in set(groups):
        legend.append(NOT_REPORTED)
    title = f"各{LEVEL_ZH.get(b.map_level or '', '')}进度滞后及未达标的目标数"
    return titled(map_figure(areas, legend, title, outlines=b.map_outlines, height=1000), title, subtitle(b))


def part_figures(b: Briefing, part: TargetPart, index: int) -> list[Figure]:
    """A lagging target's trend, and the status map of the units it is ranked at."""
    info = {**part.info}
    unit = part.row.get("unit") or info["unit"]
    fig = trend_figure(part.history, {}, info, b.unit["name"], unit)
    titled(fig, f"{info['title']}:{b.unit['name']}走势", subtitle(b))
    out = [Figure(f"{index:02d}_{info['title']}_走势", fig, 1100, 560)]
    if part.level and not part.ranked.empty and not part.shapes.empty:
        out.append(Figure(f"{index:02d}_{info['title']}_地图", status_map(b, part), 1000, 900))
    return out


def status_map(b: Briefing, part: TargetPart) -> go.Figure:
    """The units a target is ranked at, coloured by status, with names (villages as points)."""
    status = part.ranked.set_index("unit_code")["status"]
    level = LEVEL_ZH[part.level]
    title = f"{part.info['title']}:各{level}进度状态"
    units, legend = status_areas(part.shapes.assign(status=part.shapes["code"].map(status)))
    if part.level == "village":
        empty = pd.DataFrame(columns=["name", "geometry", "colour", "group", "lon", "lat"])
        fig = map_figure(empty, legend, title, points=units, outlines=part.outlines, height=1000)
    else:
        fig = map_figure(units, legend, title, outlines=part.outlines, height=1000)
    return titled(fig, title, subtitle(b))


def figures(b: Briefing) -> list[Figure]:
    """Every figure of the briefing, in the order the document shows them."""
    out = overview(b)
    for i, part in enumerate(b.parts, start=1):
        out += part_figures(b, part, i)
    return out
