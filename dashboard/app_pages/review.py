"""报表审核: the county's queue of returns — each one's values and warnings, approve, return with a
comment, unlock an approved one with a reason."""

import streamlit as st

from dashboard import queries, ui
from pipelines.units import prefix

queries.require_role("review")
view = ui.view()
ui.page_header("报表审核", view)
if flash := st.session_state.pop("rv_flash", None):
    st.success(flash)

STATE_OPTIONS = {"submitted": "待审核", "returned": "已退回", "approved": "已通过", None: "全部"}
state = st.radio("审核状态", list(STATE_OPTIONS), format_func=STATE_OPTIONS.get, horizontal=True, key="rv_state")
queue = queries.review_queue(state)
if view.scope and not queue.empty:
    queue = queue[queue["township_code"].str.startswith(prefix(view.scope))].reset_index(drop=True)

if queue.empty:
    st.info(f"所选范围内没有{STATE_OPTIONS[state] if state else ''}的报送。")
    st.stop()

shown = queue.rename(columns={"id": "报送编号", "township_name": "乡镇(街道)", "period": "报告期", "file_name": "文件",
                              "uploaded_at": "上传时间", "uploaded_by": "上传人", "village_rows": "村数",
                              "warnings": "提示数", "review_zh": "审核状态", "reviewed_by": "审核人",
                              "review_comment": "审核意见"})
shown["报告期"] = shown["报告期"].map(ui.fmt_period)
ui.table(shown[["报送编号", "乡镇(街道)", "报告期", "文件", "上传时间", "上传人", "村数", "提示数", "审核状态", "审核人",
                "审核意见"]], f"报表审核_{view.scope_name}", "review_queue",
         column_config={"上传时间": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")})

labels = {int(r.id): f"第 {r.id} 号 · {r.township_name} · {ui.fmt_period(r.period)} · {r.review_zh}"
          for r in queue.itertuples()}
chosen = st.selectbox("选择一份报送", list(labels), format_func=labels.get, key="rv_pick", placeholder="请选择报送")
detail = queries.submission_detail(chosen)
sub = detail["submission"]
st.subheader(f"{sub['township_name']} {ui.fmt_period(sub['period'])}(第 {sub['id']} 号)")
st.caption(f"文件 {sub['file_name']} · 上传人 {sub['uploaded_by'] or '—'} · {sub['village_rows']} 个村 · "
           f"{sub['warnings']} 条提示 · 审核状态:{queries.REVIEW_ZH.get(sub['review_status'], '')}"
           + (f"(审核人 {sub['reviewed_by']})" if sub["reviewed_by"] else ""))
if sub["review_comment"]:
    st.caption(f"审核意见:{sub['review_comment']}")
if not detail["problems"].empty:
    with st.expander(f"⚠️ 提示 {len(detail['problems'])} 条(导入时已告知乡镇)", expanded=True):
        st.dataframe(detail["problems"].rename(columns={"code": "代码", "sheet": "工作表", "cell": "单元格",
                                                         "field": "字段", "message": "提示"}),
                     hide_index=True, width="stretch", placeholder="")
with st.expander("村级数值", expanded=False):
    labels = {"source_row": "行号", **queries.field_labels("village")}
    st.dataframe(detail["values"].rename(columns=labels), hide_index=True, width="stretch", placeholder="")


def act(step: str, text: str | None = None) -> None:
    """Run one review step and say what happened (or the catalogue's message)."""
    try:
        queries.review(step, chosen, text)
    except ui.RuralTargetsError as exc:
        ui.show_error(exc)
    else:
        st.session_state["rv_flash"] = {"approve": "已审核通过并锁定", "return": "已退回,乡镇将在上传页面看到意见",
                                        "unlock": "已解锁,乡镇可上传更正的报表"}[step] + f":第 {chosen} 号报送"
        st.rerun()


state_now = sub["review_status"]
if state_now in ("submitted", "returned"):
    c1, c2 = st.columns([1, 2])
    if c1.button("审核通过", type="primary", key="rv_approve"):
        act("approve")
    if state_now == "submitted":
        with c2.form("rv_return_form", clear_on_submit=True):
            comment = st.text_area("退回意见(必填,乡镇在上传页面看到)", max_chars=500, key="rv_comment")
            if st.form_submit_button("退回"):
                act("return", comment)
elif state_now == "approved":
    with st.form("rv_unlock_form", clear_on_submit=True):
        reason = st.text_area("解锁原因(必填)", max_chars=500, key="rv_reason")
        if st.form_submit_button("解锁"):
            act("unlock", reason)
