"""后进名单: units ranked worst first for one target and level, with filters; the list as an
.xlsx laid out for a circular (通报)."""
import streamlit as st

from dashboard import exports, queries, ui

view = ui.view()
ui.page_header("后进名单", view)
if not view.has_returns:
    ui.empty_returns()

targets = queries.targets(view.plan)
labels = dict(zip(targets["编号"], targets["目标"]))
c1, c2 = st.columns([3, 1.4])
with c1:
    target = ui.target_picker(list(labels), labels, key="lag_target")
info = queries.target_info(target)
below = queries.judged_levels(target, view.scope_level)
if not below:
    st.info(f"目标“{info['title']}”只在{ui.level_zh(info['level'])}及以上层级评估,{view.scope_name}以下没有逐个单位的排名;"
            "请在侧栏选择更大的范围,或换一个目标。")
    st.stop()
with c2:
    level = st.radio("层级", below, format_func=ui.level_zh, horizontal=True, key="lag_level")

ranked = queries.rank_laggards(view.plan, target, level, view.asof, view.scope, view.basis)
if ranked.empty:
    ui.catalogue_warning("DSH006", scope=view.scope_name)
    st.stop()
f1, f2, f3 = st.columns([3, 1, 1.4])
present_status = [s for s in ui.STATUS_ORDER if s in set(ranked["status"])]
default = [s for s in present_status if s not in ("met", "met_late", "on_track")] or present_status
with f1:
    keep = st.multiselect("状态", present_status, default=default, format_func=ui.status_zh, key="lag_status")
with f2:
    top = st.number_input("显示前 N 名(0 = 全部)", min_value=0, max_value=100000, value=0, step=5, key="lag_top")
with f3:
    name = st.text_input("按名称查找", key="lag_name", placeholder="如:黄嘴")
shown = ranked[ranked["status"].isin(keep)]
if name:
    shown = shown[shown["unit_name"].str.contains(name.strip(), regex=False, na=False)]
if top:
    shown = shown.head(int(top))

n_severe = int(ranked["status"].isin(exports.SEVERE).sum())
m1, m2, m3 = st.columns(3)
m1.metric(f"{ui.level_zh(level)}总数", f"{len(ranked):,}")
m2.metric("严重滞后或逾期未达标", f"{n_severe:,}")
m3.metric("列表中", f"{len(shown):,}")

parents = queries.parent_names(list(shown["unit_code"]))
table = exports.circular_rows(shown, parents).drop(columns=["_status"])
table["完成进度"] = table["完成进度"] * 100
table["序时进度"] = table["序时进度"] * 100
unit = shown["unit"].iloc[0] if len(shown) else info["unit"]


def _highlight(row):
    severe = row["状态"] in (ui.status_zh("severely_lagging"), ui.status_zh("missed"))
    return ["color: #b91c1c; font-weight: 600" if severe else ""] * len(row)


st.dataframe(table.style.apply(_highlight, axis=1), hide_index=True, width="stretch",
             column_config={"当前值": st.column_config.NumberColumn(f"当前值({unit})", format="%.2f"),
                            "目标值": st.column_config.NumberColumn(f"目标值({unit})", format="%.2f"),
                            "差距": st.column_config.NumberColumn(f"差距({unit})", format="%.2f"),
                            "完成进度": st.column_config.NumberColumn(format="%.1f%%"),
                            "序时进度": st.column_config.NumberColumn(format="%.1f%%")})
st.caption("排序:已逾期未达标、严重滞后、进度滞后、无数据在前,同类按落后序时进度的百分点从多到少;红字为严重滞后或逾期未达标。")

cut = queries.cutoff_date(view.asof)
title = f"{info['title']}后进名单"
xlsx = lambda: exports.circular_xlsx(  # noqa: E731 - built when clicked
    shown, title=title, subtitle=f"({view.plan_title})", unit=unit, scope=view.scope_name, parents=parents,
    asof_text=(f"截至{ui.fmt_period(view.asof)}(按{ui.fmt_date(cut)}前报送的数据)" if view.basis == "then"
               else f"截至{ui.fmt_period(view.asof)}(按{ui.fmt_date(queries.today())}已报送的数据)"), made=queries.today(),
    notes=[f"目标:{info['target_text']},截止{ui.fmt_date(info['deadline'])}。依据:{info['clause']}“{info['source_clause']}”",
           "完成进度 = 已完成的变化 ÷ 所需变化;序时进度 = 已过时间 ÷ 规划期;完成进度低于序时进度即为滞后,"
           "预计到期完成不足所需变化一半的为严重滞后(红色)。"])
ui.downloads(table, f"{title}_{view.scope_name}_{view.asof}", "lag", xlsx=xlsx)
