"""操作日志: the audit trail as the signed-in user may read it (everything for an admin, its units for
a county or city user), filtered by user, action and date."""

import datetime as dt

import streamlit as st

from dashboard import queries, ui

queries.require_role("audit")
view = ui.view()
ui.page_header("操作日志", view)
st.caption("登录、上传(检查与导入)、审核、退回、解锁、任务进展、区县情况、账户变更和区划名录导入,每一次都记录在此,只增不改。")

c1, c2, c3 = st.columns(3)
who = c1.text_input("用户名", max_chars=32, key="au_user", placeholder="全部用户").strip() or None
actions = {None: "全部操作", **queries.AUDIT_ACTIONS}
action = c2.selectbox("操作", list(actions), format_func=actions.get, key="au_action", placeholder="全部操作")
since = c3.date_input("自该日起", value=queries.today() - dt.timedelta(days=30), format="YYYY-MM-DD", key="au_since")

log = queries.audit_entries(user_name=who, action=action, since=since, limit=2000)
if log.empty:
    st.info("所选条件下没有记录。")
else:
    log[["object", "unit", "client"]] = log[["object", "unit", "client"]].astype("object").where(
        log[["object", "unit", "client"]].notna(), "")
    shown = log.assign(详情=log["details"].map(queries.audit_details)).rename(columns={
            "id": "编号", "at": "时间", "user": "用户", "action_zh": "操作", "object": "对象", "unit": "单位代码",
            "outcome_zh": "结果", "client": "来源"})
    ui.table(shown[["编号", "时间", "用户", "操作", "对象", "单位代码", "结果", "详情", "来源"]], "操作日志", "audit_log",
             column_config={"时间": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss")})
