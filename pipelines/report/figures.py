"""The plotly figures of the dashboard and of the briefings: progress of every target, a target's
trend, reporting per quarter and the status map (drawn on plain axes, so it needs no basemap)."""
from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from pipelines.periods import quarters
from pipelines.report.formats import (STATUS_ORDER, coverage_note, fmt_date, fmt_period, is_blank,
                                      is_provisional, quarter_end, row_status_zh, status_hex, status_zh)

FONT = "Noto Sans CJK SC, Microsoft YaHei, SimHei, sans-serif"
PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#4d7c0f", "#7c2d12"]
WHITE = {"paper_bgcolor": "white", "plot_bgcolor": "white"}


def _period_of(d: dt.date) -> str:
    return f"{d.year}Q{(d.month - 1) // 3 + 1}"


def quarter_ticks(first: dt.date, last: dt.date, most: int = 10) -> dict[str, Any]:
    """A date axis labelled by quarter (2020年第3季度) at the quarters' ends, at most ``most`` labels."""
    span = quarters(_period_of(first), _period_of(last))
    step = max(1, math.ceil(len(span) / most))
    shown = span[::-1][::step][::-1]            # always label the last quarter
    return {"tickvals": [quarter_end(p) for p in shown], "ticktext": [fmt_period(p) for p in shown],
            "tickangle": -30 if len(shown) > 5 else 0}


def wrap(text: str, width: int = 16) -> str:
    """A long Chinese label over several lines (<br>) of ``width`` characters."""
    return "<br>".join(text[i:i + width] for i in range(0, len(text), width)) or text


def titled(fig: go.Figure, title: str, subtitle: str | None = None) -> go.Figure:
    """``fig`` with ``title`` (and a smaller ``subtitle``: plan, scope, quarter) at its top."""
    text = title + (f"<br><span style='font-size:13px;color:#555'>{subtitle}</span>" if subtitle else "")
    top = max(fig.layout.margin.t or 0, 80 if subtitle else 56)
    fig.update_layout(title={"text": text, "x": 0.01, "xanchor": "left"}, margin={"t": top})
    return fig


# ------------------------------------------------------------------ every target: 完成进度 against 序时进度

def progress_figure(rows: pd.DataFrame, title: str = "各目标完成进度与序时进度") -> go.Figure:
    """One bar per target: 完成进度 (coloured by status; capped at 150 %) against a black tick at
    序时进度. Targets without a 完成进度 (no data, tasks judged by date) are listed with their status."""
    recs = rows.to_dict("records")
    labels = [wrap(str(r["target_title"]), 18) for r in recs]
    fig = go.Figure()
    for key in STATUS_ORDER:
        part = [(lab, r) for lab, r in zip(labels, recs) if r.get("status") == key]
        if not part:
            continue
        pis = [None if is_blank(r.get("pi")) else min(max(float(r["pi"]), 0.0), 1.5) * 100 for _, r in part]
        fig.add_trace(go.Bar(
            y=[lab for lab, _ in part], x=[0 if p is None else p for p in pis], orientation="h",
            name=status_zh(key), marker_color=status_hex(key),
            text=[("—" if p is None else f"{p:.0f}%") + ("(暂定)" if is_provisional(r) else "") for p, (_, r) in
                  zip(pis, part)],
            textposition="outside", cliponaxis=False,
            customdata=[[row_status_zh(r), coverage_note(r) or "齐全"] for _, r in part],
            hovertemplate="%{y}<br>完成进度 %{x:.1f}%<br>%{customdata[0]} · 报送 %{customdata[1]}<extra></extra>"))
    taus = [(lab, float(r["tau"]) * 100) for lab, r in zip(labels, recs) if not is_blank(r.get("tau"))]
    if taus:
        fig.add_trace(go.Scatter(y=[lab for lab, _ in taus], x=[t for _, t in taus], mode="markers", name="序时进度",
                                 marker={"symbol": "line-ns", "size": 18, "line": {"width": 3, "color": "#111827"}},
                                 hovertemplate="%{y}<br>序时进度 %{x:.1f}%<extra></extra>"))
    fig.update_layout(
        font={"family": FONT, "size": 13}, height=max(320, 44 * len(recs) + 150), barmode="overlay",
        margin={"l": 10, "r": 60, "t": 56, "b": 50}, legend={"orientation": "h", "y": -0.04, "yanchor": "top"},
        xaxis={"title": "完成进度(%,竖线为序时进度)", "range": [0, 165], "ticksuffix": "%", "gridcolor": "#e5e7eb",
               "tickvals": [0, 25, 50, 75, 100, 125, 150]},
        yaxis={"autorange": "reversed", "categoryorder": "array", "categoryarray": labels, "automargin": True},
        **WHITE)
    fig.add_vline(x=100, line_color="#16a34a", line_dash="dash")
    return titled(fig, title)


# ------------------------------------------------------------------ one target over time

def trend_figure(scope: pd.DataFrame, units: dict[str, pd.DataFrame], info: dict[str, Any], scope_name: str,
                 unit: str, title: str | None = None) -> go.Figure:
    """The target's series for the scope (bold) and chosen units, with the target line, the
    序时进度 line (baseline → target at the deadline), the deadline and the projected path; the
    axis is labelled by quarter."""
    fig = go.Figure()
    hover = "%{fullData.name}<br>%{customdata}<br>数值:%{y:,.2f}" + (f" {unit}" if unit else "") + "<extra></extra>"

    def labels(df: pd.DataFrame) -> list[str]:
        """Quarter and status of each point; a provisional value (fewer units reported) says so."""
        out = []
        for r in df.to_dict("records"):
            cover = coverage_note(r)
            out.append(f"{fmt_period(r['period'])} · {row_status_zh(r)}" + (f"<br>暂定:{cover}" if cover else ""))
        return out

    def symbols(df: pd.DataFrame) -> list[str]:
        return ["circle-open" if is_provisional(r) else "circle" for r in df.to_dict("records")]

    dates: list[dt.date] = []
    for i, (name, df) in enumerate(units.items()):
        df = df.sort_values("period")
        xs = [quarter_end(p) for p in df["period"]]
        dates += xs
        fig.add_trace(go.Scatter(x=xs, y=df["value"], name=name, mode="lines+markers",
                                 line={"width": 1.5, "color": PALETTE[(i + 1) % len(PALETTE)]},
                                 marker={"size": 5, "symbol": symbols(df)}, customdata=labels(df), hovertemplate=hover))
    deadline = None
    if not scope.empty:
        s = scope.sort_values("period")
        xs = [quarter_end(p) for p in s["period"]]
        dates += xs
        fig.add_trace(go.Scatter(x=xs, y=s["value"], name=scope_name, mode="lines+markers",
                                 line={"width": 3.5, "color": "#111827"}, marker={"size": 7, "symbol": symbols(s)},
                                 customdata=labels(s), hovertemplate=hover))
        last = s.iloc[-1]
        deadline = dt.date.fromisoformat(str(last["deadline"])[:10]) if isinstance(last["deadline"], str) \
            else info["deadline"]
        T = last["target_value"]
        base_p, base_v = last.get("baseline_period"), last.get("baseline_value")
        if isinstance(base_p, str) and not is_blank(base_v) and not is_blank(T):
            fig.add_trace(go.Scatter(x=[quarter_end(base_p), deadline], y=[base_v, T], name="序时进度线",
                                     mode="lines", line={"dash": "dot", "color": "#6b7280", "width": 2},
                                     hovertemplate="序时进度线<br>%{x|%Y年%m月%d日}:%{y:,.2f}<extra></extra>"))
        valued = s.dropna(subset=["value"])
        if len(valued) and not is_blank(last.get("projected")) and deadline and quarter_end(
                valued.iloc[-1]["period"]) < deadline:
            fig.add_trace(go.Scatter(x=[quarter_end(valued.iloc[-1]["period"]), deadline],
                                     y=[valued.iloc[-1]["value"], last["projected"]], name="按当前速度预计",
                                     mode="lines+markers", line={"dash": "dash", "color": "#f59e0b", "width": 2},
                                     marker={"symbol": "diamond", "size": 8},
                                     hovertemplate="预计到截止日:%{y:,.2f}<extra></extra>"))
        if not is_blank(T):
            fig.add_hline(y=float(T), line_dash="dash", line_color="#16a34a",
                          annotation_text=f"目标 {info['target_text']}", annotation_position="top left")
    if deadline:
        dates.append(deadline)
        ms = pd.Timestamp(deadline).value / 1e6  # plotly wants epoch ms for an annotated vline on a date axis
        fig.add_vline(x=ms, line_dash="dot", line_color="#dc2626",
                      annotation_text=f"截止 {fmt_date(deadline)}", annotation_position="top right")
    xaxis: dict[str, Any] = {"gridcolor": "#e5e7eb"}            # the ticks say 季度
    if dates:
        xaxis.update(quarter_ticks(min(dates), max(dates)))
    fig.update_layout(
        font={"family": FONT, "size": 13}, height=500, margin={"l": 60, "r": 20, "t": 60, "b": 110},
        legend={"orientation": "h", "y": -0.3, "yanchor": "top"}, hovermode="closest", xaxis=xaxis,
        yaxis={"title": f"数值({unit})" if unit else "数值", "tickformat": ",.2~f", "gridcolor": "#e5e7eb"},
        separators=".,", **WHITE)
    return titled(fig, title or f"{info['title']}({scope_name})")


# ------------------------------------------------------------------ reporting per quarter

def completeness_figure(summary: pd.DataFrame, title: str = "各季度报送情况") -> go.Figure:
    """Stacked bars per quarter: on time, late, missing (townships)."""
    fig = go.Figure()
    for key, label, colour in (("on_time", "按时", "#16a34a"), ("late", "逾期", "#f59e0b"), ("missing", "未报", "#dc2626")):
        fig.add_trace(go.Bar(x=[fmt_period(p) for p in summary["period"]], y=summary[key], name=label,
                             marker_color=colour, hovertemplate=f"%{{x}} {label}:%{{y}} 个乡镇<extra></extra>"))
    fig.update_layout(barmode="stack", font={"family": FONT, "size": 13}, height=360,
                      margin={"l": 50, "r": 20, "t": 56, "b": 60},
                      legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"},
                      yaxis={"title": "乡镇数", "gridcolor": "#e5e7eb"}, xaxis={"tickangle": -30}, **WHITE)
    return titled(fig, title)


# ------------------------------------------------------------------ the status map as an image

def _rings(geometry: Any) -> list[list[tuple[float, float]]]:
    geom = json.loads(geometry) if isinstance(geometry, str) else geometry
    if not geom:
        return []
    polys = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
    return [[(float(x), float(y)) for x, y in poly[0]] for poly in polys]


def _path(rings: list[list[tuple[float, float]]]) -> tuple[list[float | None], list[float | None]]:
    xs: list[float | None] = []
    ys: list[float | None] = []
    for ring in rings:
        xs += [p[0] for p in ring] + [None]
        ys += [p[1] for p in ring] + [None]
    return xs, ys


def map_figure(areas: pd.DataFrame, legend: list[tuple[str, str]], title: str, *,
               points: pd.DataFrame | None = None, outlines: pd.DataFrame | None = None,
               names: bool = True, height: int = 760) -> go.Figure:
    """A choropleth on plain axes (no basemap, no network): ``areas`` (name, geometry, colour [#hex],
    group [legend label], lon, lat) filled by colour with their names, optional ``points`` (villages:
    name, lon, lat, colour, group), optional ``outlines`` (name, geometry: county borders drawn bold),
    and a legend of (label, colour)."""
    fig = go.Figure()
    xs_all: list[float] = []
    ys_all: list[float] = []
    for (group, colour), part in areas.groupby(["group", "colour"], sort=False):
        xs: list[float | None] = []
        ys: list[float | None] = []
        for g in part["geometry"]:
            px, py = _path(_rings(g))
            xs += px
            ys += py
        xs_all += [x for x in xs if x is not None]
        ys_all += [y for y in ys if y is not None]
        fig.add_trace(go.Scatter(x=xs, y=ys, fill="toself", fillcolor=colour, mode="lines", name=group,
                                 line={"color": "#ffffff", "width": 1}, hoverinfo="skip", showlegend=False))
    if outlines is not None and not outlines.empty:
        xs, ys = [], []
        for g in outlines["geometry"]:
            px, py = _path(_rings(g))
            xs += px
            ys += py
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"color": "#374151", "width": 2.2},
                                 hoverinfo="skip", showlegend=False))
    if points is not None and not points.empty:
        for (group, colour), part in points.groupby(["group", "colour"], sort=False):
            fig.add_trace(go.Scatter(x=part["lon"], y=part["lat"], mode="markers+text" if names else "markers",
                                     text=part["name"], textposition="top center", textfont={"size": 10},
                                     marker={"size": 10, "color": colour, "line": {"width": 1, "color": "#333"}},
                                     hovertemplate="%{text}<extra></extra>", showlegend=False))
        xs_all += list(points["lon"].dropna())
        ys_all += list(points["lat"].dropna())
    if names and not areas.empty:
        labelled = areas.dropna(subset=["lon", "lat"])
        fig.add_trace(go.Scatter(x=labelled["lon"], y=labelled["lat"], mode="text", text=labelled["name"],
                                 textfont={"size": 13 if len(labelled) < 20 else 10, "color": "#111827"},
                                 hoverinfo="skip", showlegend=False))
    for label, colour in legend:          # the legend: one swatch per status present
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=label,
                                 marker={"symbol": "square", "size": 14, "color": colour}))
    lat = (min(ys_all) + max(ys_all)) / 2 if ys_all else 30.0
    fig.update_layout(
        font={"family": FONT, "size": 13}, height=height, margin={"l": 10, "r": 10, "t": 70, "b": 10},
        legend={"orientation": "v", "x": 1.0, "xanchor": "right", "y": 0.02, "yanchor": "bottom",
                "bgcolor": "rgba(255,255,255,0.85)", "bordercolor": "#999", "borderwidth": 1},
        xaxis={"visible": False}, yaxis={"visible": False, "scaleanchor": "x",
                                         "scaleratio": 1 / max(math.cos(math.radians(lat)), 0.2)},
        hovermode="closest", **WHITE)
    return titled(fig, title)


def status_areas(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """Rows with ``status`` → their ``colour`` and ``group`` (the status in words) for ``map_figure``,
    and the legend of the statuses present (worst first)."""
    out = frame.copy()
    statuses = [s if isinstance(s, str) else "no_data" for s in out.get("status", [None] * len(out))]
    out["colour"] = [status_hex(s) for s in statuses]
    out["group"] = [status_zh(s) for s in statuses]
    present = [s for s in STATUS_ORDER if s in set(statuses)]
    return out, [(status_zh(s), status_hex(s)) for s in present]

