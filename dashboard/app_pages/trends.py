"""趋势: one target over time for the scope and chosen units below it, with the target line, the
序时进度 line, the deadline and the projected path."""
import pandas as pd
import streamlit as st

from dashboard import queries, ui
from pipelines.report import figures

view = ui.view()
ui.page_header("趋势", view)
if not view.has_returns:
    ui.empty_returns()

targets = queries.targets(view.plan)
labels = dict(zip(targets["编号"], targets["目标"]))
target = ui.target_picker(list(labels), labels, key="trend_target")
info = queries.target_info(target)

scope_hist = queries.plan_history(view.plan, view.scope, view.scope_level, upto=view.asof, target=target)
scope_hist = scope_hist[scope_hist["unit_code"] == view.scope]
child = pd.DataFrame()
if view.child_level:
    child = queries.plan_history(view.plan, view.scope, view.child_level, upto=view.asof, target=target)
if scope_hist.empty and child.empty:
    st.warning(f"目标“{info['title']}”在{view.scope_name}没有可显示的数据(该目标可能不适用于所选范围)。")
    st.stop()

names: dict[str, str] = {}
default: list[str] = []
if not child.empty:
    latest = child[child["period"] == child["period"].max()]
    order = queries.laggard_order(latest)
    names = dict(zip(order["unit_code"], order["unit_name"]))
    default = list(order["unit_code"][:3])
chosen = st.multiselect(f"对比的{ui.level_zh(view.child_level)}(默认:最落后的 3 个)", list(names), default=default,
                        placeholder="选择单位",
                        format_func=names.get, key=f"trend_units_{view.scope}_{target}", max_selections=9) \
    if names else []

unit = (scope_hist["unit"].iloc[0] if not scope_hist.empty else child["unit"].iloc[0]) or info["unit"]
series = {names[c]: child[child["unit_code"] == c] for c in chosen}
fig = figures.trend_figure(scope_hist, series, info, view.scope_name, unit)
ui.chart(fig, f"趋势_{info['title']}_{view.scope_name}_{view.asof}", "trend_chart", subtitle=ui.chart_subtitle(view))
st.caption("黑色粗线为所选范围;灰色点线为序时进度线(从基期值匀速到截止日达到目标);橙色虚线为按当前速度预计的走势;"
           "红色竖线为截止日期;空心点为暂定值(报送单位不齐)。「下载图片」给出可用于简报的高清 PNG。")

if not scope_hist.empty:
    last = scope_hist.sort_values("period").iloc[-1]
    cover = ui.coverage_note(last)
    st.markdown(f"{ui.fmt_period(last['period'])}:" + ui.status_badge(last["status"], text=ui.row_status_zh(last))
                + (f" · 暂定值({cover})" if cover else ""), unsafe_allow_html=True)
    k1, k2, k3, k4 = st.columns(4)
    k1.metric("最新值(暂定)" if cover else "最新值", ui.fmt_num(last["value"], unit),
              help=ui.fmt_period(last["period"]) + (f";{cover}" if cover else ""))
    k2.metric("完成进度 / 序时进度", f"{ui.fmt_pct(last['pi'], 0)} / {ui.fmt_pct(last['tau'], 0)}")
    k3.metric("预计到截止日", ui.fmt_num(last["projected"], unit))
    k4.metric("每季度还需", ui.fmt_num(last["rate_required"], unit))

rows = pd.concat([scope_hist] + list(series.values()), ignore_index=True)
if not rows.empty:
    recs = rows.to_dict("records")
    table = pd.DataFrame({
        "单位": rows["unit_name"], "季度": rows["period"].map(ui.fmt_period), "数值": rows["value"],
        "报送": [ui.coverage_note(r) or "齐全" for r in recs],
        "目标值": rows["target_value"], "状态": [ui.row_status_zh(r) for r in recs],
        "完成进度(%)": (rows["pi"] * 100).round(1), "序时进度(%)": (rows["tau"] * 100).round(1),
        "预计到截止日": rows["projected"],
    })
    with st.expander("图中数据(可下载)"):
        ui.table(table, f"趋势_{info['title']}_{view.scope_name}", "trend_table",
                 title=f"{info['title']} · {view.scope_name} · 截至{ui.fmt_period(view.asof)}",
                 column_config={"数值": st.column_config.NumberColumn(format="%.2f"),
                                "预计到截止日": st.column_config.NumberColumn(format="%.2f")})
