"""The progress map: a pydeck choropleth drawn offline (no basemap, ``map_provider=None``)."""
from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd
import pydeck as pdk

from dashboard import ui

NO_DATA_RGB = (200, 200, 200)
# light → dark, for "colour by value"
RAMP = [(255, 247, 188), (254, 217, 118), (161, 217, 155), (65, 171, 93), (0, 109, 44)]

TOOLTIP = {
    "html": "<b>{name}</b><br/>数值:{value_text}<br/>报送:{coverage_text}<br/>目标:{target_text}"
            "<br/>状态:{status_text}<br/>完成进度 / 序时进度:{pace_text}",
    "style": {"backgroundColor": "#ffffff", "color": "#222222", "fontSize": "13px",
              "border": "1px solid #999999", "fontFamily": "Noto Sans CJK SC, sans-serif"},
}
TEXT_COLUMNS = ("value_text", "coverage_text", "target_text", "status_text", "pace_text")
PROGRESS_COLUMNS = ("value", "target_value", "status", "status_label", "pi", "tau", "strive", "verdict_at_deadline",
                    "reported", "expected", "above_range", "target", "basis")


def with_progress(units_df: pd.DataFrame, progress: pd.DataFrame | None, info: dict[str, Any]) -> pd.DataFrame:
    """``units_df`` (code, name, …) with value, status and the texts of the map's tooltip: the value
    (暂定 when fewer units reported than expected), who reported ("125/141 个村报送"), the target, the
    status as every view words it, 完成进度 / 序时进度."""
    out = units_df.copy()
    if progress is not None and not progress.empty:
        keep = ["code"] + [c for c in PROGRESS_COLUMNS if c in progress]
        out = out.merge(progress[keep], on="code", how="left")
    for col in PROGRESS_COLUMNS:
        if col not in out:
            out[col] = None
    unit = info.get("unit", "")
    recs = out.to_dict("records")
    covers = [ui.coverage_note(r) for r in recs]
    out["value_text"] = [ui.fmt_num(v, unit) + ("(暂定)" if c else "") for v, c in zip(out["value"], covers)]
    out["coverage_text"] = [c or ("齐全" if not ui.is_blank(r.get("expected")) and r.get("expected") else "—")
                            for c, r in zip(covers, recs)]
    out["target_text"] = info.get("target_text", "")
    out["status_text"] = [ui.row_status_zh(r) if isinstance(r.get("status"), str) else ui.status_zh(None) for r in recs]
    out["pace_text"] = [f"{ui.fmt_pct(p)} / {ui.fmt_pct(t)}" if not (ui.is_blank(p) and ui.is_blank(t)) else "—"
                        for p, t in zip(out["pi"], out["tau"])]
    return out


def ramp_rgb(x: float | None, lo: float, hi: float, reverse: bool = False) -> tuple[int, int, int]:
    """The colour of ``x`` on the light → dark ramp between ``lo`` and ``hi``."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return NO_DATA_RGB
    t = 0.5 if hi <= lo else min(max((float(x) - lo) / (hi - lo), 0.0), 1.0)
    if reverse:
        t = 1 - t
    pos = t * (len(RAMP) - 1)
    i = min(int(pos), len(RAMP) - 2)
    f = pos - i
    a, b = RAMP[i], RAMP[i + 1]
    return tuple(int(round(a[k] + (b[k] - a[k]) * f)) for k in range(3))  # type: ignore[return-value]


def colour_rows(data: pd.DataFrame, mode: str, lower_is_better: bool = False) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Add a ``fill`` colour to each row (by status or by value) and return the legend's facts."""
    data = data.copy()
    if mode == "value":
        vals = pd.to_numeric(data.get("value"), errors="coerce") if "value" in data else pd.Series(dtype=float)
        finite = vals.dropna()
        lo, hi = (float(finite.quantile(0.05)), float(finite.quantile(0.95))) if len(finite) else (0.0, 1.0)
        data["fill"] = [list(ramp_rgb(None if pd.isna(v) else float(v), lo, hi, lower_is_better)) + [190] for v in vals]
        return data, {"mode": "value", "lo": lo, "hi": hi, "reverse": lower_is_better}
    data["fill"] = [list(ui.status_rgb(s) if s else NO_DATA_RGB) + [190] for s in data.get("status", [None] * len(data))]
    present = [s for s in ui.STATUS_ORDER if "status" in data and (data["status"] == s).any()]
    return data, {"mode": "status", "statuses": present}


def _bounds(geoms: list[dict[str, Any]], points: list[tuple[float, float]]) -> tuple[float, float, float, float]:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    for g in geoms:
        polys = g["coordinates"] if g["type"] == "MultiPolygon" else [g["coordinates"]]
        for poly in polys:
            for x, y in poly[0]:
                xs.append(x)
                ys.append(y)
    if not xs:
        return 111.9, 28.9, 111.9, 28.9
    return min(xs), min(ys), max(xs), max(ys)


def view_state(minx: float, miny: float, maxx: float, maxy: float, width: int = 850,
               height: int = 560) -> pdk.ViewState:
    """Centre and zoom that fit the extent into a ``width`` × ``height`` px map (Web Mercator:
    512 px for 360° at zoom 0; latitudes stretched by 1 / cos(lat))."""
    dx = max(maxx - minx, 0.005)
    dy = max(maxy - miny, 0.005) / max(math.cos(math.radians((miny + maxy) / 2)), 0.2)
    zoom = min(math.log2(360 / dx * width / 512), math.log2(360 / dy * height / 512)) - 0.3
    zoom = max(min(zoom, 14), 2)
    return pdk.ViewState(longitude=(minx + maxx) / 2, latitude=(miny + maxy) / 2, zoom=zoom, pitch=0, bearing=0)


def deck(polygons: pd.DataFrame, points: pd.DataFrame | None = None, outlines: pd.DataFrame | None = None,
         names: bool = True) -> pdk.Deck:
    """The choropleth of ``polygons`` (code, name, geometry, fill, *_text) and optional village
    points (lon, lat, name, fill, *_text), with Chinese tooltips, no basemap; ``outlines`` (geometry:
    the counties around townships) drawn bold; the names of the areas (or points) written on the map.
    A hovered area keeps its colour, a little darker."""
    features, geoms = [], []
    for rec in polygons.to_dict("records"):
        if not rec.get("geometry"):
            continue
        geom = json.loads(rec["geometry"]) if isinstance(rec["geometry"], str) else rec["geometry"]
        geoms.append(geom)
        props = {k: rec.get(k) for k in ("code", "name") + TEXT_COLUMNS}
        props["fill"] = rec.get("fill") or list(NO_DATA_RGB) + [190]
        features.append({"type": "Feature", "geometry": geom, "properties": props})
    layers = [pdk.Layer(
        "GeoJsonLayer", id="units", data={"type": "FeatureCollection", "features": features},
        stroked=True, filled=True, pickable=True, auto_highlight=True, highlight_color=[0, 0, 0, 50],
        get_fill_color="properties.fill", get_line_color=[255, 255, 255, 255], line_width_min_pixels=1,
    )]
    if outlines is not None and not outlines.empty:
        rings = [{"type": "Feature", "geometry": json.loads(g) if isinstance(g, str) else g, "properties": {}}
                 for g in outlines["geometry"] if g]
        layers.append(pdk.Layer("GeoJsonLayer", id="outlines", data={"type": "FeatureCollection", "features": rings},
                                stroked=True, filled=False, pickable=False, get_line_color=[55, 65, 81, 255],
                                line_width_min_pixels=2.5))
    pts: list[tuple[float, float]] = []
    if points is not None and not points.empty:
        recs = [{k: rec.get(k) for k in ("lon", "lat", "name", "fill") + TEXT_COLUMNS}
                for rec in points.to_dict("records")
                if rec.get("lon") is not None and not pd.isna(rec.get("lon"))]
        pts = [(r["lon"], r["lat"]) for r in recs]
        layers.append(pdk.Layer(
            "ScatterplotLayer", id="villages", data=recs, get_position=["lon", "lat"], get_fill_color="fill",
            get_line_color=[40, 40, 40], stroked=True, line_width_min_pixels=1, radius_min_pixels=5,
            radius_max_pixels=12, get_radius=250, pickable=True, auto_highlight=True, highlight_color=[0, 0, 0, 50],
        ))
    if names:
        labelled = points if points is not None and not points.empty else polygons
        label_rows = [{"name": r["name"], "lon": r["lon"], "lat": r["lat"]} for r in labelled.to_dict("records")
                      if isinstance(r.get("name"), str) and not pd.isna(r.get("lon")) and not pd.isna(r.get("lat"))]
        layers.append(pdk.Layer(
            "TextLayer", id="names", data=label_rows, get_position=["lon", "lat"], get_text="name", get_size=16, font_weight=600,
            get_color=[17, 24, 39, 255], get_pixel_offset=[0, -14] if labelled is points else [0, 0],
            # pydeck reads a string as an expression: a quoted one is a string literal
            font_family='"Noto Sans CJK SC, Microsoft YaHei, sans-serif"',
            character_set='"' + "".join(sorted({ch for r in label_rows for ch in r["name"]})) + '"',  # the glyphs needed
            outline_width=3, outline_color=[255, 255, 255, 220],
            font_settings={"sdf": True, "fontSize": 64, "buffer": 8}, pickable=False))
    return pdk.Deck(layers=layers, initial_view_state=view_state(*_bounds(geoms, pts)), map_provider=None,
                    map_style=None, tooltip=TOOLTIP)


def _hex(fill: Any) -> str:
    r, g, b = (list(fill) + [200, 200, 200])[:3] if fill is not None else NO_DATA_RGB
    return f"#{int(r):02x}{int(g):02x}{int(b):02x}"


def static_figure(data: pd.DataFrame, legend: dict[str, Any], unit: str, title: str, subtitle: str, *,
                  outlines: pd.DataFrame | None = None, villages: bool = False) -> Any:
    """The same map as a still figure (pipelines.report.figures.map_figure): the colours, the legend
    and the names, for 下载图片."""
    from pipelines.report.figures import map_figure, titled

    frame = data.assign(colour=[_hex(f) for f in data["fill"]])
    if legend["mode"] == "status":
        frame["group"] = [ui.status_zh(s if isinstance(s, str) else None) for s in frame.get("status", [None] * len(frame))]
        keys = legend.get("statuses") or []
        entries = [(ui.status_zh(k), ui.status_hex(k)) for k in keys]
        if frame["status"].isna().any():
            entries.append((ui.status_zh(None), _hex(NO_DATA_RGB)))
    else:
        frame["group"] = frame["colour"]
        lo, hi = legend["lo"], legend["hi"]
        steps = [lo + (hi - lo) * i / (len(RAMP) - 1) for i in range(len(RAMP))]
        entries = [(ui.fmt_num(v, unit), _hex(ramp_rgb(v, lo, hi, legend.get("reverse", False)))) for v in steps]
        entries.append(("无数据", _hex(NO_DATA_RGB)))
    if villages:
        empty = pd.DataFrame(columns=["name", "geometry", "colour", "group", "lon", "lat"])
        fig = map_figure(empty, entries, title, points=frame, outlines=outlines)
    else:
        fig = map_figure(frame, entries, title, outlines=outlines)
    return titled(fig, title, subtitle)


def png(fig: Any) -> bytes:
    """A still map as PNG at print resolution."""
    from pipelines.report import images

    return images.png(fig, width=1000, height=int(fig.layout.height or 800), scale=3)


def legend_html(legend: dict[str, Any], unit: str = "") -> str:
    """A small HTML legend: status swatches, or the value ramp with its ends."""
    sw = ('<span style="display:inline-block;width:14px;height:14px;background:{c};border:1px solid #666;'
          'vertical-align:middle;margin:0 4px 0 12px"></span>{t}')
    if legend["mode"] == "status":
        keys = legend.get("statuses") or ui.STATUS_ORDER
        items = [sw.format(c=ui.status_hex(k), t=ui.status_zh(k)) for k in keys]
        notes = []
        if "incomplete" in keys:
            notes.append("数据不全:报送单位不足,不作结论")
        if "not_judged" in keys:
            notes.append("不判定:规划只在其他层级判定,数值仅供参考")
        return "图例:" + "".join(items) + (
            f'<br/><span style="font-size:12px;color:#555">{";".join(notes)}。</span>' if notes else "")
    stops = RAMP[::-1] if legend.get("reverse") else RAMP
    grad = ", ".join(f"rgb{c}" for c in stops)
    return (f'图例:{ui.fmt_num(legend["lo"], unit)} <span style="display:inline-block;width:160px;height:14px;'
            f'background:linear-gradient(to right, {grad});border:1px solid #666;vertical-align:middle"></span> '
            f'{ui.fmt_num(legend["hi"], unit)}' + sw.format(c="rgb(200,200,200)", t="无数据"))
