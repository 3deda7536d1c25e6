"""目标目录: the plans and their targets, with the clauses they are quoted from."""
import streamlit as st

from dashboard import queries

st.title("目标目录")
plans = queries.plans()
labels = {r.code: f"{r.title}({r.doc_no})" for r in plans.itertuples()}
code = st.selectbox("规划", list(labels), format_func=labels.get, key="plan")
plan = plans.set_index("code").loc[code]
st.caption(f"{plan.issuer} · 印发 {plan.issued} · 范围:{plan.scope_name} · 规划期 {plan.period_start} 至 {plan.period_end} · 目标 {plan.targets} 项")
df = queries.targets(code)
st.dataframe(df, hide_index=True, use_container_width=True,
             column_config={"原文": st.column_config.TextColumn(width="large")})
with st.expander("逐条查看原文"):
    for row in df.itertuples():
        st.markdown(f"**{row.编号} {row.目标}** — {row.目标值},截止 {row.截止日期}  \n> {row.条款} “{row.原文}”")
