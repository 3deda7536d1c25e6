"""Shared pieces of the dashboard's pages: the error boundary, the global controls (kept in
session state and in the URL), formats, status colours, downloads and empty states."""
from __future__ import annotations

import csv
import io
import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import pandas as pd
import streamlit as st

from dashboard import queries
from pipelines.cells import csv_frame, put
from pipelines.errors import ProblemsError, RuralTargetsError, render  # noqa: F401 - re-exported for pages
from pipelines.report.formats import (  # noqa: F401 - the pages use them through ui
    STATUS_ORDER, STATUS_RGB, coverage_note, fmt_date, fmt_num, fmt_pct, fmt_period, is_blank, is_provisional,
    quarter_end, row_status_zh, status_hex, status_rgb, status_zh,
)
from pipelines.textwidth import text_width
from pipelines.units import LEVEL_RANK, LEVEL_ZH, LEVELS, PREFIX_LEN, level_of

log = logging.getLogger("rural_targets.dashboard")

UPLOAD_PAGE = "app_pages/upload.py"
PARAMS = ("plan", "asof", "basis", "city", "county", "township", "target")

# ------------------------------------------------------------------ statuses (words and colours: pipelines.report.formats)

def status_badge(key: str | None, strive: Any = False, text: str | None = None) -> str:
    """Markdown for a coloured status word (``text``: the words to show, default the status's)."""
    return f'<span style="color:{status_hex(key)};font-weight:600">● {text or status_zh(key, strive)}</span>'


# ------------------------------------------------------------------ errors

def show_error(exc: BaseException) -> None:
    """An expected problem as st.error with the catalogue's message, never a traceback."""
    if isinstance(exc, ProblemsError):
        st.error(f"{exc.message_zh}")
        for p in exc.problems[:20]:
            st.caption(f"[{p.code}] {p.message}")
    elif isinstance(exc, RuralTargetsError):
        st.error(f"{exc.message_zh} [{exc.code}]")
    else:
        log.exception("dashboard page failed")
        st.error(render("DSH001", kind=type(exc).__name__) + " [DSH001]")


@contextmanager
def guard() -> Iterator[None]:
    """The one boundary of the dashboard: every problem becomes a message, never a traceback.

    Streamlit's own control flow (st.stop, st.rerun, page switches) derives from BaseException
    and passes through.
    """
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - the boundary
        show_error(exc)


def catalogue_warning(code: str, **context: Any) -> None:
    st.warning(render(code, **context))


def empty_returns() -> None:
    """The empty state of pages that need returns: what to do next."""
    catalogue_warning("DSH003")
    st.page_link(UPLOAD_PAGE, label="前往「数据上报」上传报表", icon="📤")
    st.stop()


def require_returns(view: "View") -> None:
    """Pages that judge progress: no returns at all → where to upload; a quarter nobody reported for →
    say so (with the default quarter) and stop, instead of an empty page."""
    if not view.has_returns:
        empty_returns()
    row = queries.quarter_coverage(view.asof, view.scope)
    if row is not None and row["expected"] and not row["received"]:
        default = queries.default_quarter(view.city)
        hint = f"请在侧栏选择其他季度(默认为{fmt_period(default)})。" if default and default != view.asof else ""
        st.info(f"{view.scope_name}{fmt_period(view.asof)}还没有乡镇报送(0/{int(row['expected'])}),没有可评估的数据。{hint}")
        st.page_link("app_pages/completeness.py", label="查看报送情况和催报名单", icon="🗓️")
        st.stop()


# ------------------------------------------------------------------ the global controls

@dataclass(frozen=True)
class View:
    """What the sidebar selects: plan, as-of quarter and scope (city → county → township)."""

    plan: str
    plan_title: str
    asof: str | None
    periods: tuple[str, ...]
    city: str | None
    county: str | None
    township: str | None
    basis: str = "now"
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def scope(self) -> str | None:
        return self.township or self.county or self.city

    @property
    def scope_level(self) -> str | None:
        return level_of(self.scope) if self.scope else None

    @property
    def scope_name(self) -> str:
        return queries.unit_name(self.scope) if self.scope else "(未选择)"

    @property
    def child_level(self) -> str | None:
        rank = LEVEL_RANK.get(self.scope_level or "")
        return LEVELS[rank + 1] if rank is not None and rank + 1 < len(LEVELS) else None

    @property
    def has_returns(self) -> bool:
        return self.asof is not None

    def params(self) -> dict[str, str]:
        return {k: v for k, v in {"plan": self.plan, "asof": self.asof, "basis": None if self.basis == "now" else self.basis,
                                  "city": self.city, "county": self.county, "township": self.township}.items() if v}


def _covered(code: str, scopes: list[str]) -> bool:
    """Whether unit ``code`` lies inside, or contains, one of the plan's scopes."""
    for s in scopes:
        n = min(PREFIX_LEN[level_of(s)], PREFIX_LEN[level_of(code)])
        if code[:n] == s[:n]:
            return True
    return False


def _pick(key: str, options: list, label: str, fallback_text: Callable[[Any], str], notes: list[str]) -> None:
    """Before a widget is drawn: take its value from the URL (first run) and keep it valid."""
    ss = st.session_state
    pending = ss.get("_url", {})
    if key in pending:
        wanted = pending.pop(key)
        if wanted in options:
            ss[key] = wanted
        elif options:
            notes.append(render("DSH002", name=label, value=wanted, fallback=fallback_text(options[0])))
    if key in ss and ss[key] not in options:
        del ss[key]


def controls() -> View:
    """Draw the sidebar controls; keep them in session state and in the URL; return the view."""
    ss = st.session_state
    if "_url" not in ss:  # the first run of a session: the link's parameters
        ss["_url"] = {k: st.query_params[k] for k in PARAMS if k in st.query_params}
        if "target" in ss["_url"]:  # kept (and in the URL) until a page with a target checks it
            ss.setdefault("sel_target", ss["_url"]["target"])
    notes: list[str] = []
    side = st.sidebar

    plans = queries.plans()
    titles = dict(zip(plans["code"], plans["title"]))
    codes = list(plans["code"])
    _pick("plan", codes, "规划", titles.get, notes)
    plan = side.selectbox("规划", codes, format_func=lambda c: f"{titles[c]}", key="plan",
                          help="选择要跟踪的规划;各页面按所选规划的目标显示")

    quarter_box = side.container()   # drawn once the scope is known: its default and text depend on it
    _pick("basis", list(queries.BASES), "评估依据", queries.BASES.get, notes)
    basis = side.radio("评估依据", list(queries.BASES), format_func=queries.BASES.get, key="basis",
                       help="按现有全部数据:迟报的报表也计入;按当时已报送的数据:只用该季度报送截止日前收到的报表,"
                            "重现当时的评估结果(较慢)")

    me = queries.user()
    mine = [me.unit] if me.unit else []       # the user's units: nothing outside them is offered
    cities = queries.units(level="city")
    scopes = queries.plan_scopes(plan)
    city_codes = [c for c in cities["code"] if not mine or _covered(c, mine)]
    city_codes = [c for c in city_codes if _covered(c, scopes)] or city_codes
    names = dict(zip(cities["code"], cities["name"]))
    city = county = township = None
    if city_codes:
        _pick("city", city_codes, "市", names.get, notes)
        city = side.selectbox("市", city_codes, format_func=names.get, key="city")
        counties = queries.units(level="county", parent=city)
        cnames = dict(zip(counties["code"], counties["name"]))
        whole_city = me.covers(city)
        copts = ([None] if whole_city else []) + [c for c in counties["code"] if not mine or _covered(c, mine)]
        _pick("county", copts, "区县", lambda c: "全市" if c is None else cnames[c], notes)
        county = side.selectbox("区县", copts, format_func=lambda c: "(全市)" if c is None else cnames[c], key="county")
        if county:
            towns = queries.units(level="township", parent=county)
            tnames = dict(zip(towns["code"], towns["name"]))
            topts = ([None] if me.covers(county) else []) + [t for t in towns["code"] if not mine or _covered(t, mine)]
            _pick("township", topts, "乡镇", lambda t: "全县" if t is None else tnames[t], notes)
            township = side.selectbox("乡镇(街道)", topts, format_func=lambda c: "(全县)" if c is None else tnames[c],
                                      key="township")
        else:
            ss.pop("township", None)
            ss.get("_url", {}).pop("township", None)
    else:
        side.caption("区划:数据库中还没有区划名录")

    with quarter_box:
        periods, asof = _quarter(city, township or county or city, notes)
    view = View(plan=plan, plan_title=titles[plan], asof=asof, periods=tuple(periods), city=city,
                county=county, township=township, basis=basis, notes=tuple(notes))
    ss["view"] = view
    sync_url()
    side.caption("页面地址已包含所选条件,复制浏览器地址即可分享当前视图。")
    return view


def _quarter(city: str | None, scope: str | None, notes: list[str]) -> tuple[list[str], str | None]:
    """The quarter selectbox (every quarter up to today's, quarters nobody reported included; default:
    pipelines.compute.completeness.default_quarter) and how complete the chosen quarter is."""
    ss = st.session_state
    periods = queries.reporting_periods()
    if not periods:
        st.caption("截至季度:尚无报表")
        return [], None
    summary = queries.quarter_summary(scope).set_index("period")
    threshold = queries.min_coverage()
    _pick("asof", periods, "截至季度", fmt_period, notes)
    if "asof" not in ss:
        first, why = queries.first_quarter(city)
        ss["asof"] = first if first in periods else periods[-1]
        if why == "latest_due":
            notes.append(f"没有报送率达到 {threshold:.0%} 的季度,暂显示报送截止日已过的最近一个季度。")

    def label(p: str) -> str:
        if p not in summary.index:
            return fmt_period(p)
        r = summary.loc[p]
        if not bool(r["due"]):
            return f"{fmt_period(p)}(未到截止日)"
        if not bool(r["enough"]):
            return f"{fmt_period(p)}(已报 {int(r['received'])}/{int(r['expected'])})"
        return fmt_period(p)

    asof = st.selectbox("截至季度", list(reversed(periods)), format_func=label, key="asof",
                        help=f"默认为报送截止日已过、且报送率达到 {threshold:.0%} 的最近一个季度;"
                             "只用截至该季度的数据评估进度")
    st.caption(coverage_text(asof, scope))
    row = summary.loc[asof] if asof in summary.index else None
    if row is not None and not bool(row["due"]):
        st.info(f"该季度的报表 {fmt_date(row['due_date'])} 才截止,数据尚不完整。")
    elif row is not None and row["expected"] and not row["received"]:
        st.warning("该季度没有乡镇报送,各目标无数据可评估。")
    elif row is not None and row["expected"] and not bool(row["enough"]):
        st.warning(f"报送不足 {threshold:.0%}:该季度的目标判为“数据不全”,不作达标与否的结论。")
    return periods, asof


def coverage_text(period: str | None, scope: str | None) -> str:
    """"2025年第3季度:已报送 39/41 个乡镇" for the townships of ``scope``."""
    row = queries.quarter_coverage(period, scope)
    if row is None:
        return ""
    text = f"{fmt_period(period)}:已报送 {int(row['received'])}/{int(row['expected'])} 个乡镇"
    if row["late"]:
        text += f"(其中逾期 {int(row['late'])} 个)"
    return text


def view() -> View:
    """The view selected in the sidebar (drawn by dashboard/app.py before the page runs)."""
    return st.session_state["view"]


def sync_url() -> None:
    """Write the selected plan, quarter, scope and target into the URL's query parameters."""
    ss = st.session_state
    v: View | None = ss.get("view")
    wanted = v.params() if v else {}
    if ss.get("sel_target"):
        wanted["target"] = ss["sel_target"]
    for k in PARAMS:
        if k in wanted:
            if st.query_params.get(k) != wanted[k]:
                st.query_params[k] = wanted[k]
        elif k in st.query_params:
            del st.query_params[k]


def target_picker(options: list[str], labels: dict[str, str], key: str, label: str = "目标") -> str | None:
    """A target selectbox whose choice is shared by every page (and kept in the URL)."""
    ss = st.session_state
    if not options:
        return None
    pending = ss.get("_url", {}).pop("target", None)
    if pending:
        if pending in options:
            ss["sel_target"] = pending
        else:
            st.warning(render("DSH002", name="目标", value=pending, fallback=labels.get(options[0], options[0])))
    current = ss.get("sel_target")
    index = options.index(current) if current in options else 0

    def keep() -> None:
        ss["sel_target"] = ss[key]

    choice = st.selectbox(label, options, index=index, format_func=lambda t: labels.get(t, t), key=key,
                          on_change=keep)
    ss["sel_target"] = choice
    sync_url()
    return choice


def page_header(title: str, view: View | None = None, caption: str | None = None) -> None:
    st.title(title)
    current = view or st.session_state.get("view")
    for note in current.notes if current is not None else ():
        st.warning(note)
    since = queries.updating()
    if since:
        st.info(f"新上传的报表正在计算,进度暂显示 {since} 计算的结果,计算完成后自动更新。", icon="⏳")
    if view is not None:
        parts = [view.plan_title, f"范围:{view.scope_name}"]
        if view.asof:
            parts.append(f"截至 {fmt_period(view.asof)}({queries.BASES[view.basis]})")
        st.caption(" · ".join(parts) + (f" · {caption}" if caption else ""))


# ------------------------------------------------------------------ downloads

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_bytes(df: pd.DataFrame, title: str | None = None, sheet: str = "数据") -> bytes:
    """A table as an .xlsx: optional title row, bold header, sensible column widths."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = sheet[:31]
    row = 1
    if title:
        put(ws, 1, 1, title).font = Font(bold=True, size=14)
        row = 3
    for j, col in enumerate(df.columns, start=1):
        c = put(ws, row, j, str(col))
        c.font = Font(bold=True)
        c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for i, rec in enumerate(df.itertuples(index=False), start=row + 1):
        for j, v in enumerate(rec, start=1):
            put(ws, i, j, _cell(v))
    for j, col in enumerate(df.columns, start=1):
        width = max([text_width(str(col))] + [text_width(str(v)) for v in df.iloc[:200, j - 1]]) + 2
        ws.column_dimensions[get_column_letter(j)].width = min(max(width, 6), 60)
    ws.freeze_panes = ws.cell(row + 1, 1)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _cell(v: Any) -> Any:
    if is_blank(v) or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        try:
            return v.item()
        except (ValueError, AttributeError):
            return str(v)
    if isinstance(v, (list, tuple, dict)):
        return str(v)
    return v


def csv_bytes(df: pd.DataFrame) -> bytes:
    """UTF-8 with BOM, so Excel and WPS open the Chinese text correctly; text never reads as a formula."""
    return csv_frame(df).to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC).encode("utf-8-sig")  # \r in text stays in its cell


def downloads(df: pd.DataFrame, name: str, key: str, title: str | None = None,
              xlsx: Callable[[], bytes] | None = None) -> None:
    """Two buttons under a table: .xlsx and CSV (generated when clicked)."""
    if df is None or df.empty:
        return
    row = st.container(horizontal=True)      # side by side, each as wide as its label (never cut off)
    row.download_button("⬇ 下载 Excel", data=xlsx or (lambda: xlsx_bytes(df, title)), file_name=f"{name}.xlsx",
                        mime=XLSX_MIME, key=f"{key}_xlsx", on_click="ignore", width="content")
    row.download_button("⬇ 下载 CSV", data=lambda: csv_bytes(df), file_name=f"{name}.csv", mime="text/csv",
                        key=f"{key}_csv", on_click="ignore", width="content")


def table(df: pd.DataFrame, name: str, key: str, title: str | None = None, height: int | str = "auto",
          column_config: dict | None = None, xlsx: Callable[[], bytes] | None = None) -> None:
    """st.dataframe plus its downloads; a static table in the print view (and for no rows, where
    st.dataframe would say "empty"); missing values are left blank."""
    print_toggle()
    if print_view() or df.empty:
        st.html(static_table(df, column_config))
    else:
        st.dataframe(df, hide_index=True, width="stretch", height=height, column_config=column_config,
                     placeholder="")
    downloads(df, name, key, title, xlsx=xlsx)


# ------------------------------------------------------------------ charts

# plotly's toolbar and date formats in Chinese (config.locales: plotly.js takes a locale inline)
PLOTLY_ZH = {
    "moduleType": "locale", "name": "zh-CN",
    "dictionary": {
        "Autoscale": "自动缩放", "Box Select": "矩形选择", "Lasso Select": "套索选择", "Compare data on hover": "悬停时比较数据",
        "Double-click on legend to isolate one trace": "双击图例只显示该条数据", "Double-click to zoom back out": "双击恢复原始大小",
        "Download plot as a PNG": "下载图片(PNG)", "Download plot as a png": "下载图片(PNG)", "Download plot": "下载图片",
        "Pan": "平移", "Produced with Plotly.js": "由 Plotly.js 绘制", "Produced with Plotly": "由 Plotly 绘制",
        "Reset": "重置", "Reset axes": "重置坐标轴", "Reset view": "重置视图", "Reset views": "重置视图",
        "Show closest data on hover": "悬停时显示最近的数据", "Snapshot succeeded": "图片已生成",
        "Sorry, there was a problem downloading your snapshot!": "抱歉,图片下载出错!",
        "Taking snapshot - this may take a few seconds": "正在生成图片,请稍候",
        "Toggle Spike Lines": "显示或隐藏辅助线", "Toggle show closest data on hover": "切换悬停显示最近的数据",
        "Zoom": "缩放", "Zoom in": "放大", "Zoom out": "缩小", "trace": "数据系列", "new text": "新文本",
        "Click to enter Plot title": "点击输入图表标题", "Click to enter X axis title": "点击输入 X 轴标题",
        "Click to enter Y axis title": "点击输入 Y 轴标题",
    },
    "format": {
        "days": ["星期日", "星期一", "星期二", "星期三", "星期四", "星期五", "星期六"],
        "shortDays": ["周日", "周一", "周二", "周三", "周四", "周五", "周六"],
        "months": ["一月", "二月", "三月", "四月", "五月", "六月", "七月", "八月", "九月", "十月", "十一月", "十二月"],
        "shortMonths": ["1月", "2月", "3月", "4月", "5月", "6月", "7月", "8月", "9月", "10月", "11月", "12月"],
        "date": "%Y-%m-%d", "decimal": ".", "thousands": ",",
    },
}


def plotly_config(filename: str) -> dict[str, Any]:
    """The plotly toolbar in Chinese (zh-CN locale): PNG download (2×) named in Chinese, no logo."""
    return {"displaylogo": False, "toImageButtonOptions": {"format": "png", "filename": filename, "scale": 2},
            "modeBarButtonsToRemove": ["lasso2d", "select2d"], "locale": "zh-CN", "locales": {"zh-CN": PLOTLY_ZH}}


def chart(fig: Any, name: str, key: str, subtitle: str | None = None) -> None:
    """A plotly figure on the page with a 下载图片 button under it: the same figure as a PNG at print
    resolution (3200 px wide), titled with plan, scope and quarter (``subtitle``)."""
    from pipelines.report import images
    from pipelines.report.figures import titled

    if subtitle:
        title = fig.layout.title.text or ""
        titled(fig, title.split("<br>")[0], subtitle)
    st.plotly_chart(fig, config=plotly_config(name), key=key)
    image_download(lambda: images.png(fig, width=1600, height=int(fig.layout.height or 600)), name, key)


def chart_subtitle(view: "View") -> str:
    """"《规划》 · 范围 · 截至2020年第3季度" under a chart's title."""
    return f"《{view.plan_title}》 · {view.scope_name} · 截至{fmt_period(view.asof)}"


def image_download(make: Callable[[], bytes], name: str, key: str) -> None:
    """A 下载图片 button giving ``make()`` as ``name``.png (made when clicked; needs Chromium on the server)."""
    from pipelines.report import images

    if images.browser_path() is None:
        st.caption("下载图片需要服务器上安装 Chromium(见 README);也可用图右上角工具栏的“下载图片”。")
        return
    st.download_button("🖼 下载图片", data=make, file_name=f"{name}.png", mime="image/png", key=f"{key}_png",
                       on_click="ignore", width="content",
                       help="PNG 图片,3200 像素宽,可直接用于简报和幻灯片")


def level_zh(level: str | None) -> str:
    return LEVEL_ZH.get(level or "", level or "")


# ------------------------------------------------------------------ small inline graphics

def sparkline_svg(values: list[float | None], colour: str = "#2563eb", width: int = 160, height: int = 36,
                  target: float | None = None) -> str:
    """A tiny line of ``values`` (None: gaps) with an optional dashed target line, as inline SVG."""
    pts = [(i, float(v)) for i, v in enumerate(values) if not is_blank(v)]
    if len(pts) < 2:
        return '<span style="color:#999;font-size:12px">(数据不足,无走势)</span>'
    ys = [y for _, y in pts] + ([float(target)] if target is not None and not is_blank(target) else [])
    lo, hi = min(ys), max(ys)
    span = (hi - lo) or 1.0
    n = max(len(values) - 1, 1)

    def xy(i: float, y: float) -> str:
        return f"{2 + i / n * (width - 4):.1f},{height - 3 - (y - lo) / span * (height - 6):.1f}"

    line = " ".join(xy(i, y) for i, y in pts)
    extra = ""
    if target is not None and not is_blank(target):
        y = height - 3 - (float(target) - lo) / span * (height - 6)
        extra = (f'<line x1="0" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" stroke="#999" stroke-width="1" '
                 f'stroke-dasharray="3,3"/>')
    last = pts[-1]
    return (f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="走势">{extra}<polyline fill="none" stroke="{colour}" stroke-width="2" points="{line}"/>'
            f'<circle cx="{xy(*last).split(",")[0]}" cy="{xy(*last).split(",")[1]}" r="2.5" fill="{colour}"/></svg>')


def pace_bars(pi: Any, tau: Any, colour: str) -> str:
    """完成进度 against 序时进度 as two thin bars (HTML)."""
    def bar(v: Any, c: str, label: str) -> str:
        w = 0 if is_blank(v) else max(0.0, min(float(v), 1.0)) * 100
        return (f'<div style="display:flex;align-items:center;gap:6px;font-size:12px;line-height:16px">'
                f'<span style="width:56px;color:#555">{label}</span>'
                f'<span style="flex:1;background:#eee;height:8px;border-radius:4px;overflow:hidden">'
                f'<span style="display:block;width:{w:.0f}%;height:8px;background:{c}"></span></span>'
                f'<span style="width:48px;text-align:right">{fmt_pct(v, 0)}</span></div>')
    return bar(pi, colour, "完成进度") + bar(tau, "#9ca3af", "序时进度")


# ------------------------------------------------------------------ print view

PRINT_VIEW = "print_view"            # session state: tables as static tables, to print (also ?print=1)
_PRINT_WIDGET = "_print_view_toggle"
_PRINT_DRAWN = "_print_view_drawn"   # the run (dashboard/theme.py: RUN) whose sidebar has the switch


def print_view() -> bool:
    """Whether the tables are drawn as static tables that print whole (the sidebar's 打印版式, or
    ``print=1`` in the link)."""
    ss = st.session_state
    if PRINT_VIEW not in ss:
        ss[PRINT_VIEW] = st.query_params.get("print") == "1"
    return bool(ss[PRINT_VIEW])


def print_toggle() -> None:
    """The sidebar's 打印版式 switch, drawn once per run by the page's first table; kept in the URL."""
    from dashboard import theme

    ss = st.session_state
    run = ss.get(theme.RUN)
    if run is None or ss.get(_PRINT_DRAWN) == run:
        return
    ss[_PRINT_DRAWN] = run

    def keep() -> None:
        ss[PRINT_VIEW] = ss[_PRINT_WIDGET]

    st.sidebar.toggle("打印版式", value=print_view(), key=_PRINT_WIDGET, on_change=keep,
                      help="表格显示为完整的静态表格,再用浏览器打印(Ctrl+P,A4 横向)即可打印全部行;"
                           "打印时不含侧栏和下载按钮")
    if ss[PRINT_VIEW] and st.query_params.get("print") != "1":
        st.query_params["print"] = "1"
    elif not ss[PRINT_VIEW] and "print" in st.query_params:
        del st.query_params["print"]


def static_table(df: pd.DataFrame, column_config: dict | None = None) -> str:
    """``df`` as an HTML table (class rt-table, styled in dashboard/theme.py), its values written as
    st.dataframe writes them under ``column_config`` (labels, number and date formats; None hides a
    column); no rows: one row saying so."""
    from html import escape

    config = column_config or {}
    columns = [c for c in df.columns if not (c in config and config[c] is None)]
    head = "".join(f"<th>{escape(_print_label(c, config.get(c)))}</th>" for c in columns)
    align = {c: _print_class(df[c]) for c in columns}
    rows = []
    for rec in df[columns].itertuples(index=False):
        cells = "".join(f"<td{align[c]}>{escape(_print_cell(v, config.get(c)))}</td>" for c, v in zip(columns, rec))
        rows.append(f"<tr>{cells}</tr>")
    if not rows:
        rows.append(f'<tr><td class="rt-empty" colspan="{max(len(columns), 1)}">(无记录)</td></tr>')
    return (f'<div class="rt-table-wrap"><table class="rt-table"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def _print_class(values: pd.Series) -> str:
    """Numbers right-aligned, dates kept on one line."""
    import datetime as dt

    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return ' class="rt-num"'
    if pd.api.types.is_datetime64_any_dtype(values) or values.map(lambda v: isinstance(v, dt.date)).any():
        return ' class="rt-date"'
    return ""


def _print_label(column: Any, cfg: Any) -> str:
    if isinstance(cfg, str):
        return cfg
    if isinstance(cfg, dict) and cfg.get("label"):
        return str(cfg["label"])
    return str(column)


_MOMENT = (("YYYY", "%Y"), ("MM", "%m"), ("DD", "%d"), ("HH", "%H"), ("mm", "%M"), ("ss", "%S"))


def _print_cell(v: Any, cfg: Any) -> str:
    """One value as text, under its column's format (printf-style numbers, "localized", YYYY-MM-DD dates)."""
    import datetime as dt
    import numbers

    import numpy as np

    if is_blank(v) or v is pd.NaT:
        return ""
    fmt = (cfg.get("type_config") or {}).get("format") if isinstance(cfg, dict) else None
    if isinstance(v, (bool, np.bool_)):
        return "是" if v else "否"
    if isinstance(v, dt.date):
        if isinstance(fmt, str) and "YYYY" in fmt:
            for token, code in _MOMENT:
                fmt = fmt.replace(token, code)
            return v.strftime(fmt)
        if isinstance(v, dt.datetime) and (v.hour, v.minute, v.second) != (0, 0, 0):
            return v.strftime("%Y-%m-%d %H:%M:%S")
        return v.strftime("%Y-%m-%d")
    if isinstance(v, numbers.Real):
        number = float(v)
        if isinstance(fmt, str) and "%" in fmt:
            try:
                return fmt % number
            except (TypeError, ValueError):
                pass
        if fmt == "localized":
            return f"{number:,.0f}" if number.is_integer() else f"{number:,.2f}"
        if number.is_integer() and abs(number) < 1e15:
            return str(int(number))
        return f"{number:.4f}".rstrip("0").rstrip(".")
    if isinstance(v, (list, tuple)):
        return "、".join(str(x) for x in v)
    return str(v)
