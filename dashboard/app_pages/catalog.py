"""目标目录: the plans and their targets — population (口径), 力争, where each is judged, its reading
(解读) and the clause it is quoted from."""
import streamlit as st

from dashboard import queries, ui

view = ui.view()
ui.page_header("目标目录")
plan = queries.plans().set_index("code").loc[view.plan]
st.markdown(f"**{plan.title}**({plan.doc_no})")
st.caption(f"{plan.issuer} · 印发 {ui.fmt_date(plan.issued)} · 范围:{plan.scope_name} · "
           f"规划期 {ui.fmt_date(plan.period_start)} 至 {ui.fmt_date(plan.period_end)} · 目标 {plan.targets} 项")
df = queries.targets(view.plan)
st.caption("口径:村 = 村民委员会,社区 = 居民委员会,村(社区)= 两者;判定层级:只在该层级给出达标与否的结论,"
           "其他层级的数值仅供参考;力争:规划原文为“力争”“争取”的目标。")
shown = df[[c for c in df.columns if c != "编号"] + ["编号"]]        # the Chinese title first, the id last
ui.table(shown, f"目标目录_{view.plan}", "catalog", title=f"{plan.title} 目标目录",
         column_config={"目标": st.column_config.TextColumn(width="medium"),
                        "解读": st.column_config.TextColumn(width="large"),
                        "原文": st.column_config.TextColumn(width="large"),
                        "截止日期": st.column_config.DateColumn(format="YYYY-MM-DD")})
with st.expander("逐条查看解读和原文", expanded=True):
    for row in df.itertuples():
        strive = f" · {row.力争}" if row.力争 else ""
        st.markdown(f"**{row.目标}** — {row.目标值},截止 {ui.fmt_date(row.截止日期)} · 口径:{row.口径} · "
                    f"判定层级:{row.判定层级}{strive}  \n解读:{row.解读}  \n> {row.条款} “{row.原文}”(编号 {row.编号})")
