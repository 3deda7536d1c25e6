"""任务督办: the plan's task lists and dated milestones with lead units and deadlines — blue due soon,
yellow behind, red overdue; a form records a task's progress (every update kept as history)."""
import datetime as dt

import pandas as pd
import streamlit as st

from dashboard import queries, ui
from pipelines.catalog.definitions import catalog

view = ui.view()
ui.page_header("任务督办", view)
plan = catalog().plan(view.plan)
milestones = [t for t in plan.targets if t.eval == "milestone"]
if not milestones:
    ui.catalogue_warning("DSH007", plan=plan.title)
    st.stop()

BG = {"due_soon": "#dbeafe", "lagging": "#fef9c3", "severely_lagging": "#fee2e2", "missed": "#fee2e2",
      "met": "#dcfce7", "met_late": "#ccfbf1", "on_track": "#f0fdf4", "no_data": "#f3f4f6", "incomplete": "#e5e7eb",
      "not_judged": "#f1f5f9"}
st.markdown(" ".join(f'<span style="background:{BG[k]};padding:2px 8px;border-radius:4px;margin-right:6px">'
                     f'{ui.status_zh(k)}</span>' for k in ("due_soon", "lagging", "severely_lagging", "met", "on_track",
                                                           "no_data"))
            + '<span style="font-size:12px;color:#555"> 蓝:即将到期 · 黄:滞后(逾期三个月内) · 红:严重滞后(逾期三个月以上)</span>',
            unsafe_allow_html=True)

mode = st.radio("评估时点", ["today", "asof"], horizontal=True, key="ms_mode",
                format_func={"today": f"本季度末({ui.fmt_period(queries.current_quarter())},含至今的全部进展)",
                             "asof": f"截至所选季度({ui.fmt_period(view.asof)})"}.get)
frame = queries.milestone_status(view.plan, view.scope, view.asof if mode == "asof" else None)
if frame.empty:
    ui.catalogue_warning("DSH006", scope=view.scope_name)
    st.stop()

counts = frame[frame["level"] != "department"]["status"].value_counts() if "level" in frame else pd.Series(dtype=int)
cols = st.columns(5)
for col, key in zip(cols, ("severely_lagging", "lagging", "due_soon", "on_track", "met")):
    col.metric(ui.status_zh(key), int(counts.get(key, 0)))

tasks = {t.id: t for t in milestones}
keep = st.multiselect("只看这些状态", [k for k in ui.STATUS_ORDER if k in set(frame["status"])], key="ms_status",
                      placeholder="全部状态",
                      format_func=ui.status_zh)


def _style(row):
    return [f"background-color: {BG.get(row['_status'], '')}"] * len(row)


overview_rows = []
for t in milestones:
    rows = frame[frame["target"] == t.id]
    if rows.empty:
        continue
    top = rows[rows["level"] != "department"]
    head = top[top["unit_code"] == view.scope] if (top["unit_code"] == view.scope).any() else top.head(1)
    status = head["status"].iloc[0] if len(head) else "no_data"
    words = ui.row_status_zh(head.iloc[0]) if len(head) else ui.status_zh(status)
    overview_rows.append({"任务": t.title, "牵头单位": "、".join(t.lead) or "—",
                          "参与单位": "、".join(t.partners) or "—", "截止日期": t.deadline, "状态": words,
                          "编号": t.id, "_status": status})
    detail = rows[rows["level"] == "department"] if (rows["level"] == "department").any() else rows[
        rows["unit_code"] != view.scope]
    if keep and status not in keep and not detail["status"].isin(keep).any():
        continue
    with st.expander(f"{t.title} · 截止 {ui.fmt_date(t.deadline)} · {words}",
                     expanded=status in ("severely_lagging", "lagging", "due_soon")):
        st.markdown(f"{ui.status_badge(status, text=words)} **{t.clause}** {t.source_clause}", unsafe_allow_html=True)
        if t.lead:
            st.caption(f"牵头:{'、'.join(t.lead)};参与:{'、'.join(t.partners) or '—'}")
        if detail.empty:
            continue
        table = pd.DataFrame({
            "责任单位" if t.lead else "单位": detail["unit_name"],
            "状态": [ui.row_status_zh(r) for r in detail.to_dict("records")],
            "进展": detail["task_status"] if "task_status" in detail else None,
            "说明": detail["note"] if "note" in detail else None,
            "距截止(天)": detail["days_to_deadline"].round(0),
            "_status": detail["status"],
        })
        if keep:
            table = table[table["_status"].isin(keep)]
        st.dataframe(table.style.apply(_style, axis=1), hide_index=True, width="stretch", placeholder="",
                     column_order=[c for c in table.columns if c != "_status"],
                     column_config={"距截止(天)": st.column_config.NumberColumn(format="%d")})

st.subheader("任务清单一览")
summary = pd.DataFrame(overview_rows)
if not summary.empty:
    st.dataframe(summary.style.apply(_style, axis=1), hide_index=True, width="stretch", placeholder="",
                 column_order=[c for c in summary.columns if c != "_status"],
                 column_config={"截止日期": st.column_config.DateColumn(format="YYYY-MM-DD")})
    ui.downloads(summary.drop(columns=["_status"]), f"任务督办_{plan.code}_{view.scope_name}", "ms_summary",
                 title=f"{plan.title} 任务督办清单")

# ------------------------------------------------------------------ record progress
task_list = [t for t in milestones if t.lead]
if task_list and not queries.may("task"):
    st.caption(f"任务进展由区县审核员、市级管理员登记;{queries.user().role_zh}可查看。")
elif task_list:
    st.subheader("登记任务进展")
    st.caption("每次登记都会保留,历史可查;状态为“已完成”时须填写完成日期。")
    labels = {t.id: t.title for t in task_list}
    task_id = st.selectbox("任务", list(labels), format_func=labels.get, key="ms_task", placeholder="请选择任务")
    task = tasks[task_id]
    with st.form("ms_form", clear_on_submit=True):
        units = list(dict.fromkeys(task.lead + task.partners))
        unit = st.selectbox("责任单位", units, format_func=lambda u: f"{u}({'牵头' if u in task.lead else '参与'})",
                            placeholder="请选择责任单位")
        status = st.radio("进展状态", ["未启动", "推进中", "已完成"], horizontal=True, index=1)
        done = st.date_input("完成日期(已完成时填写)", value=None, format="YYYY-MM-DD",
                             min_value=dt.date(2015, 1, 1), max_value=queries.today())
        note = st.text_area("进展情况说明", max_chars=500)
        evidence = st.text_input("佐证材料(文号或文件名)", max_chars=200)
        st.caption(f"登记人:{queries.user().label}")
        submitted = st.form_submit_button("登记", type="primary")
    if submitted:
        try:
            queries.record_task(view.plan, task_id, unit, status, done if status == "已完成" else None,
                                note or None, evidence or None)
        except ui.RuralTargetsError as exc:
            ui.show_error(exc)
        else:
            st.session_state["ms_flash"] = f"已登记:{task_id} · {unit} · {status}"
            st.rerun()  # redraw the statuses above with the new update
    if flash := st.session_state.pop("ms_flash", None):
        st.success(flash)

history = queries.task_history(view.plan)
st.subheader("进展登记历史")
if history.empty:
    st.info("还没有任何进展登记。")
else:
    titles = {t.id: t.title for t in milestones}
    shown = history.assign(任务=history["task_id"].map(lambda i: titles.get(i, i)), 编号=history["task_id"]).rename(
        columns={"unit": "责任单位", "status": "状态", "done_date": "完成日期", "progress_note": "说明",
                 "evidence": "佐证材料", "recorded_at": "登记时间", "recorded_by": "登记人"})
    shown = shown[["任务", "责任单位", "状态", "完成日期", "说明", "佐证材料", "登记时间", "登记人", "编号"]]
    ui.table(shown, f"任务进展历史_{plan.code}", "ms_history",
             column_config={"登记时间": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
                            "完成日期": st.column_config.DateColumn(format="YYYY-MM-DD")})
