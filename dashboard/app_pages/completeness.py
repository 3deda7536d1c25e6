"""报送情况: townships × quarters on time / late / missing, roll-ups by county, the chase list
(催报名单) and exports — on pipelines.compute.completeness."""
import pandas as pd
import streamlit as st

from dashboard import exports, queries, ui
from pipelines.report import figures

view = ui.view()
ui.page_header("报送情况", view)
if not view.has_returns:
    ui.empty_returns()

all_periods = [p for p in view.periods if p <= view.asof]          # every quarter, those nobody reported included
n = st.slider("显示最近几个季度", min_value=1, max_value=max(len(all_periods), 1), value=min(8, len(all_periods)),
              key="cmp_quarters")
periods = all_periods[-n:]
frames = {p: queries.township_returns(p, view.scope) for p in periods}
current = frames[view.asof]
if current.empty:
    st.info(f"{view.scope_name}在{ui.fmt_period(view.asof)}没有应报的乡镇。")
    st.stop()

# ------------------------------------------------------------------ the quarter asked about
due = current["due_date"].iloc[0]
c = {k: int(current[k].sum()) for k in ("expected", "received", "on_time", "late", "missing", "pending")}
st.markdown(f"**{ui.coverage_text(view.asof, view.scope)}**")
m = st.columns(7)
m[0].metric("应报乡镇", c["expected"])
m[1].metric("已报", c["received"], help="首次上传的时间算报送时间")
m[2].metric("按时", c["on_time"], help=f"截止 {ui.fmt_date(due)}")
m[3].metric("逾期", c["late"])
m[4].metric("未报", c["missing"] + c["pending"], help="含报送截止日未到、尚未报送的乡镇")
m[5].metric("报送率", ui.fmt_pct(c["received"] / c["expected"]) if c["expected"] else "—", help="已报 ÷ 应报")
m[6].metric("及时率", ui.fmt_pct(c["on_time"] / c["expected"]) if c["expected"] else "—", help="按时 ÷ 应报")
st.caption(f"{ui.fmt_period(view.asof)}的报表应于 {ui.fmt_date(due)} 前报送(季后次月{due[-2:].lstrip('0')}日)。")

# ------------------------------------------------------------------ townships × quarters
CELL = {"on_time": "按时", "late": "逾期", "missing": "未报", "pending": "未到期"}
BG = {"按时": "#dcfce7", "逾期": "#fef3c7", "未报": "#fee2e2", "未到": "#f3f4f6"}
matrix = current[["township_code", "township_name", "county_name"]].rename(
    columns={"township_code": "乡镇代码", "township_name": "乡镇(街道)", "county_name": "所属区县"})
for p, f in reversed(frames.items()):              # the newest quarter first, beside the names
    cells = {r.township_code: CELL[r.status] + (f" {int(r.late_days)}天" if r.status == "late" and not ui.is_blank(r.late_days)
                                                else "") for r in f.itertuples()}
    matrix[ui.fmt_period(p)] = matrix["乡镇代码"].map(cells).fillna("—")


def _colour(v):
    return f"background-color: {BG.get(str(v)[:2], '')}" if isinstance(v, str) else ""


st.subheader("各乡镇各季度报送情况")
st.dataframe(matrix.style.map(_colour, subset=[ui.fmt_period(p) for p in periods]), hide_index=True, width="stretch",
             height=min(38 + 35 * len(matrix), 600))
title = f"{view.scope_name}乡镇季度报表报送情况"
ui.downloads(matrix, f"{title}_{periods[0]}-{periods[-1]}", "cmp_matrix", xlsx=lambda: exports.matrix_xlsx(
    matrix, {}, title=title, subtitle=f"{ui.fmt_period(periods[0])}至{ui.fmt_period(periods[-1])} · 按时 / 逾期(天数)/ 未报"))

summary = queries.quarter_summary(view.scope)
summary = summary[summary["period"].isin(periods)]
ui.chart(figures.completeness_figure(summary, f"{view.scope_name}各季度乡镇报表报送情况"), title, "cmp_chart",
         subtitle=f"{ui.fmt_period(periods[0])}至{ui.fmt_period(periods[-1])} · 按时 / 逾期 / 未报(乡镇数)")

# ------------------------------------------------------------------ roll-ups and the chase list
st.subheader("分区县统计")
roll = queries.rollups(view.asof, view.scope)
if not roll.empty:
    prefix = view.scope[:{"city": 4, "county": 6, "township": 9}.get(view.scope_level, 0)]
    roll = roll[roll["level"].isin(["county", "city"]) & roll["unit_code"].str.startswith(prefix)]
    shown = pd.DataFrame({
        "单位": roll["unit_name"], "层级": roll["level"].map(ui.level_zh), "应报": roll["expected"],
        "已报": roll["received"], "按时": roll["on_time"], "逾期": roll["late"], "未报": roll["missing"],
        "报送率(%)": roll["completeness"], "及时率(%)": roll["timeliness"]})
    ui.table(shown, f"报送统计_{view.scope_name}_{view.asof}", "cmp_roll",
             title=f"{view.scope_name} {ui.fmt_period(view.asof)}报送统计")
st.subheader("催报名单")
chase = current[(current["missing"] == 1) | (current["pending"] == 1)]
if chase.empty:
    st.success(f"{ui.fmt_period(view.asof)}应报的 {c['expected']} 个乡镇都已报送。")
else:
    chase_table = pd.DataFrame({
        "乡镇(街道)": chase["township_name"], "所属区县": chase["county_name"], "乡镇代码": chase["township_code"],
        "情况": chase["status_zh"],
        "最近一次报送": [ui.fmt_period(p) if isinstance(p, str) else "从未报送" for p in chase["last_return"]],
    })
    if c["missing"]:
        st.warning(f"{c['missing']} 个乡镇{ui.fmt_period(view.asof)}的报表尚未报送(已于 {ui.fmt_date(due)} 截止)。")
    if c["pending"]:
        st.info(f"{c['pending']} 个乡镇尚未报送{ui.fmt_period(view.asof)}的报表(截止 {ui.fmt_date(due)},尚未到期)。")
    ui.table(chase_table, f"催报名单_{view.scope_name}_{view.asof}", "cmp_chase",
             title=f"{view.scope_name} {ui.fmt_period(view.asof)}催报名单")

# ------------------------------------------------------------------ every quarter at a glance
st.subheader("各季度报送率")
every = queries.quarter_summary(view.scope)
every = every[every["period"] <= view.asof].iloc[::-1]
quarters_table = pd.DataFrame({
    "季度": every["period"].map(ui.fmt_period), "报送截止日": every["due_date"].map(ui.fmt_date),
    "应报": every["expected"], "已报": every["received"], "按时": every["on_time"], "逾期": every["late"],
    "未报": every["missing"] + every["pending"],
    "报送率": [ui.fmt_pct(v) for v in every["coverage"]],
    "说明": ["未到截止日" if not d else "" if e else "无人报送" if not r else
           f"报送不足 {queries.min_coverage():.0%},目标判为数据不全"
           for d, e, r in zip(every["due"], every["enough"], every["received"])],
})
ui.table(quarters_table, f"各季度报送率_{view.scope_name}", "cmp_quarters_table",
         title=f"{view.scope_name}各季度报表报送率")
