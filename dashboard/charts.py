"""Plotly figures of the dashboard (Chinese labels; the toolbar downloads them as PNG)."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from dashboard import ui

FONT = "Noto Sans CJK SC, Microsoft YaHei, sans-serif"
PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#4d7c0f", "#7c2d12"]


def _x(periods: pd.Series) -> list[dt.date]:
    return [ui.quarter_end(p) for p in periods]


def trend_figure(scope: pd.DataFrame, units: dict[str, pd.DataFrame], info: dict[str, Any], scope_name: str,
                 unit: str) -> go.Figure:
    """The target's series for the scope (bold) and chosen units, with the target line, the
    序时进度 line (baseline → target at the deadline), the deadline and the projected path."""
    fig = go.Figure()
    hover = "%{fullData.name}<br>%{customdata}<br>数值:%{y:,.2f}" + (f" {unit}" if unit else "") + "<extra></extra>"

    def labels(df: pd.DataFrame) -> list[str]:
        """Quarter and status of each point; a provisional value (fewer units reported) says so."""
        out = []
        for r in df.to_dict("records"):
            cover = ui.coverage_note(r)
            out.append(f"{ui.fmt_period(r['period'])} · {ui.row_status_zh(r)}" + (f"<br>暂定:{cover}" if cover else ""))
        return out

    def symbols(df: pd.DataFrame) -> list[str]:
        """Hollow markers for provisional values."""
        return ["circle-open" if ui.is_provisional(r) else "circle" for r in df.to_dict("records")]

    for i, (name, df) in enumerate(units.items()):
        df = df.sort_values("period")
        fig.add_trace(go.Scatter(x=_x(df["period"]), y=df["value"], name=name, mode="lines+markers",
                                 line={"width": 1.5, "color": PALETTE[(i + 1) % len(PALETTE)]},
                                 marker={"size": 5, "symbol": symbols(df)},
                                 customdata=labels(df), hovertemplate=hover))
    deadline = None
    if not scope.empty:
        s = scope.sort_values("period")
        fig.add_trace(go.Scatter(x=_x(s["period"]), y=s["value"], name=scope_name, mode="lines+markers",
                                 line={"width": 3.5, "color": "#111827"}, marker={"size": 7, "symbol": symbols(s)},
                                 customdata=labels(s), hovertemplate=hover))
        last = s.iloc[-1]
        deadline = dt.date.fromisoformat(str(last["deadline"])) if isinstance(last["deadline"], str) else info["deadline"]
        T = last["target_value"]
        base_p, base_v = last.get("baseline_period"), last.get("baseline_value")
        if isinstance(base_p, str) and not ui.is_blank(base_v) and not ui.is_blank(T):
            fig.add_trace(go.Scatter(x=[ui.quarter_end(base_p), deadline], y=[base_v, T], name="序时进度线",
                                     mode="lines", line={"dash": "dot", "color": "#6b7280", "width": 2},
                                     hovertemplate="序时进度线<br>%{x|%Y年%m月%d日}:%{y:,.2f}<extra></extra>"))
        valued = s.dropna(subset=["value"])
        if len(valued) and not ui.is_blank(last.get("projected")) and deadline and ui.quarter_end(
                valued.iloc[-1]["period"]) < deadline:
            fig.add_trace(go.Scatter(x=[ui.quarter_end(valued.iloc[-1]["period"]), deadline],
                                     y=[valued.iloc[-1]["value"], last["projected"]], name="按当前速度预计",
                                     mode="lines+markers", line={"dash": "dash", "color": "#f59e0b", "width": 2},
                                     marker={"symbol": "diamond", "size": 8},
                                     hovertemplate="预计到截止日:%{y:,.2f}<extra></extra>"))
        if not ui.is_blank(T):
            fig.add_hline(y=float(T), line_dash="dash", line_color="#16a34a",
                          annotation_text=f"目标 {info['target_text']}", annotation_position="top left")
    if deadline:
        ms = pd.Timestamp(deadline).value / 1e6  # plotly wants epoch ms for an annotated vline on a date axis
        fig.add_vline(x=ms, line_dash="dot", line_color="#dc2626",
                      annotation_text=f"截止 {ui.fmt_date(deadline)}", annotation_position="top right")
    fig.update_layout(
        title={"text": f"{info['title']}({scope_name})", "x": 0.01},
        font={"family": FONT, "size": 13}, height=460, margin={"l": 60, "r": 20, "t": 60, "b": 40},
        legend={"orientation": "h", "y": -0.15}, hovermode="closest",
        xaxis={"title": "季度末", "tickformat": "%Y年%m月"},
        yaxis={"title": f"数值({unit})" if unit else "数值", "tickformat": ",.2~f"},
        separators=".,",
    )
    return fig


def completeness_figure(summary: pd.DataFrame) -> go.Figure:
    """Stacked bars per quarter: on time, late, missing (share of expected returns)."""
    fig = go.Figure()
    for key, label, colour in (("on_time", "按时", "#16a34a"), ("late", "逾期", "#f59e0b"), ("missing", "未报", "#dc2626")):
        fig.add_trace(go.Bar(x=[ui.fmt_period(p) for p in summary["period"]], y=summary[key], name=label,
                             marker_color=colour, hovertemplate=f"%{{x}} {label}:%{{y}} 个乡镇<extra></extra>"))
    fig.update_layout(barmode="stack", font={"family": FONT, "size": 13}, height=340,
                      margin={"l": 50, "r": 20, "t": 50, "b": 60},
                      legend={"orientation": "h", "y": 1.12, "x": 1, "xanchor": "right"},
                      yaxis={"title": "乡镇数"}, title={"text": "各季度报送情况", "x": 0.01})
    return fig
