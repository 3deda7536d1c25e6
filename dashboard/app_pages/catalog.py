"""目标目录: the plans and their targets, with the clauses they are quoted from."""
import streamlit as st

from dashboard import queries, ui

view = ui.view()
ui.page_header("目标目录")
plan = queries.plans().set_index("code").loc[view.plan]
st.markdown(f"**{plan.title}**({plan.doc_no})")
st.caption(f"{plan.issuer} · 印发 {ui.fmt_date(plan.issued)} · 范围:{plan.scope_name} · "
           f"规划期 {ui.fmt_date(plan.period_start)} 至 {ui.fmt_date(plan.period_end)} · 目标 {plan.targets} 项")
df = queries.targets(view.plan)
ui.table(df, f"目标目录_{view.plan}", "catalog", title=f"{plan.title} 目标目录",
         column_config={"原文": st.column_config.TextColumn(width="large"),
                        "截止日期": st.column_config.DateColumn(format="YYYY-MM-DD")})
with st.expander("逐条查看原文"):
    for row in df.itertuples():
        st.markdown(f"**{row.编号} {row.目标}** — {row.目标值},截止 {ui.fmt_date(row.截止日期)}  \n> {row.条款} “{row.原文}”")
