"""总览: one card per target of the plan for the selected scope (value, target, deadline, status,
完成进度 against 序时进度, a sparkline, the units below by status); a card drills into its target."""
import pandas as pd
import streamlit as st

from dashboard import queries, ui
from pipelines.report import figures

view = ui.view()
ui.page_header("总览", view)
ui.require_returns(view)

rows = queries.status(view.plan, view.asof, view.scope, view.scope_level, view.basis)
rows = rows[rows["unit_code"] == view.scope] if not rows.empty else rows
if rows.empty:
    ui.catalogue_warning("DSH006", scope=view.scope_name)
    st.page_link("app_pages/catalog.py", label="查看目标目录", icon="📋")
    st.stop()

ss = st.session_state
order = list(queries.targets(view.plan)["编号"])
rows = rows.set_index("target").reindex([t for t in order if t in set(rows["target"])]).reset_index()
history = queries.plan_history(view.plan, view.scope, view.scope_level, upto=view.asof)
history = history[history["unit_code"] == view.scope]
child = queries.status(view.plan, view.asof, view.scope, view.child_level, view.basis) if view.child_level else None
if child is None or child.empty:
    child = rows.iloc[0:0]

# ------------------------------------------------------------------ headline counts
counts = rows["status"].value_counts()
shown_statuses = [k for k in ui.STATUS_ORDER if counts.get(k, 0) or k in ("missed", "severely_lagging", "lagging",
                                                                          "on_track", "met")]
cols = st.columns(len(shown_statuses))
for col, key in zip(cols, shown_statuses):
    col.markdown(f'<div style="font-size:13px;color:#555">{ui.status_badge(key)}</div>'
                 f'<div style="font-size:26px;font-weight:600">{int(counts.get(key, 0))}</div>',
                 unsafe_allow_html=True)
st.caption(f"{view.scope_name}的 {len(rows)} 项目标按状态计数(截至{ui.fmt_period(view.asof)})。"
           "序时进度 = 已过时间占规划期的比例;完成进度 = 已完成的变化占所需变化的比例;"
           "数据不全 = 报送单位不足应报的 "f"{queries.min_coverage():.0%},不作达标与否的结论;"
           "不判定 = 规划只在其他层级判定,本层级数值仅供参考。")
with st.expander("各目标完成进度与序时进度(图)", expanded=True):
    ui.chart(figures.progress_figure(rows, f"{view.scope_name}各目标完成进度与序时进度"),
             f"各目标完成进度_{view.scope_name}_{view.asof}", "ov_progress", subtitle=ui.chart_subtitle(view))
    st.caption("条形为完成进度(颜色为状态,超过 150% 按 150% 画),黑色竖线为序时进度,绿色虚线为 100%;"
               "“暂定”为报送单位不齐时的数值。简报(通报)中的图与此相同。")


# ------------------------------------------------------------------ drill-down into one target
def _choose(tid: str) -> None:
    ss["sel_target"] = tid
    ss.pop("ov_target", None)


labels = dict(zip(rows["target"], rows["target_title"]))
st.subheader("目标详情")
target = ui.target_picker(list(rows["target"]), labels, key="ov_target", label="选择目标查看详情")
row = rows[rows["target"] == target].iloc[0]
info = queries.target_info(target)
d1, d2, d3, d4 = st.columns([1.2, 1.6, 1.2, 1])
last = ui.fmt_period(row["last_period"]) if isinstance(row["last_period"], str) else "—"
cover = ui.coverage_note(row)
d1.metric("当前值(暂定)" if cover else "当前值", ui.fmt_num(row["value"], row["unit"]),
          help=f"最近一期数据:{last}" + (f";{cover},数值为暂定" if cover else ""))
for col, label, text in ((d2, "目标", row["target_text"]), (d3, "截止日期", ui.fmt_date(row["deadline"])),
                         (d4, "状态", ui.status_badge(row["status"], text=ui.row_status_zh(row)))):
    col.markdown(f'<div style="font-size:14px;color:#555">{label}</div>'
                 f'<div style="font-size:20px;font-weight:600;padding-top:6px">{text}</div>', unsafe_allow_html=True)
st.markdown(ui.pace_bars(row["pi"], row["tau"], ui.status_hex(row["status"])), unsafe_allow_html=True)
if cover:
    st.caption(f"数值为暂定:{cover}。")
st.caption(f"{info['clause']} “{info['source_clause']}”")
st.caption(f"解读:{info['reading']}")
sub = child[child["target"] == target]
if not sub.empty:
    by = sub["status"].value_counts()
    st.markdown(f"**{ui.level_zh(view.child_level)}({len(sub)} 个)**:" + " · ".join(
        f"{ui.status_badge(k)} {int(by[k])}" for k in ui.STATUS_ORDER if k in by), unsafe_allow_html=True)
    recs = sub.to_dict("records")
    detail = sub.assign(
        状态=[ui.row_status_zh(r) for r in recs], 数值=[ui.fmt_num(v, u) for v, u in zip(sub["value"], sub["unit"])],
        报送=[ui.coverage_note(r) or "齐全" for r in recs],
        完成进度=sub["pi"] * 100, 序时进度=sub["tau"] * 100,
    ).rename(columns={"unit_code": "代码", "unit_name": "名称", "gap_pp": "差距(百分点)", "target_text": "目标"})
    detail["_o"] = detail["status"].map({k: i for i, k in enumerate(ui.STATUS_ORDER)})
    detail = detail.sort_values(["_o", "差距(百分点)"])[["代码", "名称", "数值", "报送", "目标", "状态", "完成进度",
                                                          "序时进度", "差距(百分点)"]]
    ui.table(detail, f"{info['title']}_{view.scope_name}_{view.asof}", "ov_detail",
             title=f"{info['title']} · {view.scope_name}下辖{ui.level_zh(view.child_level)} · 截至{ui.fmt_period(view.asof)}",
             column_config={"完成进度": st.column_config.NumberColumn(format="%.1f%%"),
                            "序时进度": st.column_config.NumberColumn(format="%.1f%%"),
                            "差距(百分点)": st.column_config.NumberColumn(format="%.1f")})
trend = history[history["target"] == target]
if trend["value"].notna().sum() >= 2:
    with st.expander(f"{info['title']}:{view.scope_name}历年走势", expanded=False):
        ui.chart(figures.trend_figure(trend, {}, info, view.scope_name, row["unit"] or info["unit"]),
                 f"走势_{info['title']}_{view.scope_name}_{view.asof}", "ov_trend", subtitle=ui.chart_subtitle(view))
l1, l2, l3 = st.columns(3)
l1.page_link("app_pages/map.py", label="在进度地图上查看", icon="🗺️")
l2.page_link("app_pages/laggards.py", label="查看后进名单", icon="📉")
l3.page_link("app_pages/trends.py", label="查看趋势", icon="📈")

# ------------------------------------------------------------------ one card per target
st.subheader("各目标进度")
series = {t: g.sort_values("period") for t, g in history.groupby("target")}
per_row = 3
records = rows.to_dict("records")
for start in range(0, len(records), per_row):
    for col, r in zip(st.columns(per_row), records[start:start + per_row]):
        with col.container(border=True):
            colour = ui.status_hex(r["status"])
            cover = ui.coverage_note(r)
            provisional = (f'<span style="font-size:12px;font-weight:400;color:#555"> 暂定 · {cover}</span>'
                           if cover else "")
            st.markdown(f'<div style="font-weight:600;min-height:42px">{r["target_title"]}</div>'
                        f'<div>{ui.status_badge(r["status"], text=ui.row_status_zh(r))}'
                        f'{" · 倒退" if r.get("regressing") else ""}{" · 数据点少" if r.get("low_confidence") else ""}</div>'
                        f'<div style="font-size:22px;font-weight:600">{ui.fmt_num(r["value"], r["unit"])}{provisional}</div>'
                        f'<div style="font-size:12px;color:#555">目标 {r["target_text"]} · 截止 {ui.fmt_date(r["deadline"])}</div>',
                        unsafe_allow_html=True)
            st.markdown(ui.pace_bars(r["pi"], r["tau"], colour), unsafe_allow_html=True)
            s = series.get(r["target"])
            st.markdown(ui.sparkline_svg([] if s is None else list(s["value"]), colour,
                                         target=r["target_value"]), unsafe_allow_html=True)
            c = child[child["target"] == r["target"]]["status"].value_counts()
            if len(c):
                st.caption(f"{ui.level_zh(view.child_level)}:" + ",".join(
                    f"{ui.status_zh(k)} {int(c[k])}" for k in ui.STATUS_ORDER if k in c))
            st.button("查看详情", key=f"ov_card_{r['target']}", on_click=_choose, args=(r["target"],),
                      type="tertiary", icon="🔎")

# ------------------------------------------------------------------ the table behind the cards
with st.expander("全部目标一览(可下载)"):
    table = pd.DataFrame({    # numbers stay numbers (the unit in its own column), for Excel
        "目标": rows["target_title"], "当前值": pd.to_numeric(rows["value"], errors="coerce"),
        "目标值": pd.to_numeric(rows["target_value"], errors="coerce"), "单位": rows["unit"].fillna(""),
        "目标要求": rows["target_text"], "报送": [ui.coverage_note(r) or "齐全" for r in records],
        "截止日期": pd.to_datetime(rows["deadline"]).dt.date, "状态": [ui.row_status_zh(r) for r in records],
        "完成进度(%)": (rows["pi"] * 100).round(1), "序时进度(%)": (rows["tau"] * 100).round(1),
        "差距(百分点)": rows["gap_pp"].round(1), "数据点数": rows["points"], "编号": rows["target"],
    })
    if not child.empty:
        pivot = child.pivot_table(index="target", columns="status", values="unit_code", aggfunc="count", fill_value=0)
        for k in ui.STATUS_ORDER:
            if k in pivot:
                table[f"{ui.level_zh(view.child_level)}{ui.status_zh(k)}"] = table["编号"].map(pivot[k]).fillna(0).astype(int)
    table = table[[c for c in table.columns if c != "编号"] + ["编号"]]
    ui.table(table, f"目标总览_{view.scope_name}_{view.asof}", "ov_all",
             title=f"{view.plan_title} · {view.scope_name} · 截至{ui.fmt_period(view.asof)}",
             column_config={"当前值": st.column_config.NumberColumn(format="%.2f"),
                            "目标值": st.column_config.NumberColumn(format="%.2f"),
                            "截止日期": st.column_config.DateColumn(format="YYYY-MM-DD")})
