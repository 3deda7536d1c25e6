"""后进名单: units ranked worst first for one target and level, with filters; units without a return
(未报送) and with too few returns (数据不全) in their own sections, not ranked (the sections, order and
reasons are pipelines.compute.laggards'); the list as an .xlsx laid out for a circular (通报)."""
import pandas as pd
import streamlit as st

from dashboard import exports, queries, ui

view = ui.view()
ui.page_header("后进名单", view)
ui.require_returns(view)

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
# the sections and their order are pipelines.compute.laggards': ranked first, then 未报送 and 数据不全
section = ranked["section"] if "section" in ranked else None
in_rank = ranked[section == exports.RANKED] if section is not None else ranked
apart = ranked[section != exports.RANKED] if section is not None else ranked.iloc[0:0]

f1, f2, f3 = st.columns([3, 1, 1.4])
present_status = [s for s in ui.STATUS_ORDER if s in set(in_rank["status"])]
default = [s for s in present_status if s not in ("met", "met_late", "on_track", "not_judged")] or present_status
with f1:
    keep = st.multiselect("状态(后进排名)", present_status, default=default, format_func=ui.status_zh, key="lag_status",
                          placeholder="选择状态")
with f2:
    top = st.number_input("显示前 N 名(0 = 全部)", min_value=0, max_value=100000, value=0, step=5, key="lag_top")
with f3:
    name = st.text_input("按名称查找", key="lag_name", placeholder="如:黄嘴")
shown = in_rank[in_rank["status"].isin(keep)]
if name:
    shown = shown[shown["unit_name"].str.contains(name.strip(), regex=False, na=False)]
    apart = apart[apart["unit_name"].str.contains(name.strip(), regex=False, na=False)]
if top:
    shown = shown.head(int(top))

n_severe = int(in_rank["status"].isin(exports.SEVERE).sum())
m1, m2, m3, m4 = st.columns(4)
m1.metric(f"{ui.level_zh(level)}总数", f"{len(ranked):,}")
m2.metric("严重滞后或逾期未达标", f"{n_severe:,}")
m3.metric("未报送或数据不全", f"{len(ranked) - len(in_rank):,}", help="单列在后进排名之后,不参与排名")
m4.metric("排名列表中", f"{len(shown):,}")

listed = pd.concat([shown, apart], ignore_index=True)
parents = queries.parent_names(list(listed["unit_code"]))
unit = listed["unit"].iloc[0] if len(listed) else info["unit"]
COLUMNS = {"说明": st.column_config.TextColumn(width="large")}


def _shown(frame: pd.DataFrame, ranked_section: bool) -> pd.DataFrame:
    """The rows as the page shows them: numbers as text (blanks as —), the unit in the headers."""
    table = exports.circular_rows(frame, parents)
    for col, fmt in (("当前值", lambda v: ui.fmt_num(v, digits=2)), ("目标值", lambda v: ui.fmt_num(v, digits=2)),
                     ("差距", lambda v: ui.fmt_num(v, digits=2)), ("完成进度", ui.fmt_pct), ("序时进度", ui.fmt_pct)):
        table[col] = [fmt(v) for v in table[col]]
    drop = [c for c in table.columns if c.startswith("_")]
    if not ranked_section:
        drop += ["排名", "差距", "完成进度", "序时进度"]
        if (table["当前值"] == "—").all():
            drop.append("当前值")
    for col in ("报送", "说明"):
        if not table[col].astype(bool).any():
            drop.append(col)
    return table.drop(columns=drop).rename(columns={c: f"{c}({unit})" for c in ("当前值", "目标值", "差距") if unit})


table = _shown(shown, True)
severe_rows = pd.Series(shown["status"].isin(exports.SEVERE).to_numpy(), index=table.index)


def _highlight(row):
    return ["color: #b91c1c; font-weight: 600" if severe_rows[row.name] else ""] * len(row)


st.subheader(f"后进排名({len(shown)} 个)")
if table.empty:
    st.info("所选状态下没有单位。")
else:
    st.dataframe(table.style.apply(_highlight, axis=1), hide_index=True, width="stretch", column_config=COLUMNS)
st.caption("排序:已逾期未达标、严重滞后、进度滞后在前,同类按落后序时进度的百分点从多到少;红字为严重滞后或逾期未达标;"
           "“说明”写明状态只因本季度未报送而按此前数据判断的单位。")
for key in dict.fromkeys(apart["section"]) if len(apart) else []:
    part = apart[apart["section"] == key]
    st.subheader(f"{part['section_zh'].iloc[0]}({len(part)} 个,不参与排名)")
    st.dataframe(_shown(part, False), hide_index=True, width="stretch", column_config=COLUMNS)

cut = queries.cutoff_date(view.asof)
title = f"{info['title']}后进名单"
xlsx = lambda: exports.circular_xlsx(  # noqa: E731 - built when clicked
    listed, title=title, subtitle=f"({view.plan_title})", unit=unit, scope=view.scope_name, parents=parents,
    asof_text=(f"截至{ui.fmt_period(view.asof)}(按{ui.fmt_date(cut)}前报送的数据)" if view.basis == "then"
               else f"截至{ui.fmt_period(view.asof)}(按{ui.fmt_date(queries.today())}已报送的数据)"), made=queries.today(),
    notes=exports.circular_notes(info, queries.min_coverage()))
everything = exports.circular_rows(listed, parents)
ui.downloads(everything.assign(分组=everything["_section_zh"]).drop(columns=[c for c in everything.columns if c.startswith("_")]),
             f"{title}_{view.scope_name}_{view.asof}", "lag", xlsx=xlsx)
