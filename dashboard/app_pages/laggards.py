"""后进名单: units ranked worst first for one or more targets and a level, with filters; units without a
return (未报送) and with too few returns (数据不全) in their own sections, not ranked (the sections, order
and reasons are pipelines.compute.laggards'); the lists as one .xlsx laid out for a circular (通报)."""
import pandas as pd
import streamlit as st

from dashboard import exports, queries, ui

view = ui.view()
ui.page_header("后进名单", view)
ui.require_returns(view)
ss = st.session_state

targets = queries.targets(view.plan)
labels = dict(zip(targets["编号"], targets["目标"]))
options = list(labels)

# the targets: by default the one shared with the other pages (ui.target_picker's sel_target, or the link's)
pending = ss.get("_url", {}).pop("target", None)
if pending in options:
    ss["sel_target"] = pending
    ss.pop("lag_targets", None)
elif pending:
    st.warning(ui.render("DSH002", name="目标", value=pending, fallback=labels[options[0]]))
if "lag_targets" not in ss or any(t not in options for t in ss["lag_targets"]):
    ss["lag_targets"] = [ss["sel_target"] if ss.get("sel_target") in options else options[0]]
c1, c2 = st.columns([3, 1.4])
with c1:
    chosen = st.multiselect("目标(可多选,合并为一份通报)", options, format_func=labels.get, key="lag_targets",
                            placeholder="选择一个或多个目标")
if not chosen:
    st.info("请至少选择一个目标。")
    st.stop()
ss["sel_target"] = chosen[0]
ui.sync_url()
infos = [queries.target_info(t) for t in chosen]

levels = queries.judged_levels(chosen[0], view.scope_level)
for t in chosen[1:]:
    levels = [lv for lv in levels if lv in queries.judged_levels(t, view.scope_level)]
if not levels:
    if len(chosen) == 1:
        st.info(f"目标“{infos[0]['title']}”只在{ui.level_zh(infos[0]['level'])}及以上层级评估,{view.scope_name}以下"
                "没有逐个单位的排名;请在侧栏选择更大的范围,或换一个目标。")
    else:
        st.info(f"所选的 {len(chosen)} 个目标在{view.scope_name}以下没有共同的评估层级,不能合并成一份名单;"
                "请减少目标,或在侧栏选择更大的范围。")
    st.stop()
if ss.get("lag_level") not in levels:
    ss.pop("lag_level", None)
with c2:
    level = st.radio("层级", levels, format_func=ui.level_zh, horizontal=True, key="lag_level")

ranked_by = {t: queries.rank_laggards(view.plan, t, level, view.asof, view.scope, view.basis) for t in chosen}
if all(r.empty for r in ranked_by.values()):
    ui.catalogue_warning("DSH006", scope=view.scope_name)
    st.stop()


def _split(ranked: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ranked rows and those set apart (未报送, 数据不全): pipelines.compute.laggards' sections."""
    if "section" not in ranked:
        return ranked, ranked.iloc[0:0]
    return ranked[ranked["section"] == exports.RANKED], ranked[ranked["section"] != exports.RANKED]


in_rank_all = pd.concat([_split(r)[0] for r in ranked_by.values()], ignore_index=True)
f1, f2, f3 = st.columns([3, 1, 1.4])
present_status = [s for s in ui.STATUS_ORDER if s in set(in_rank_all["status"])]
default = [s for s in present_status if s not in ("met", "met_late", "on_track", "not_judged")] or present_status
with f1:   # keyed by targets and level: another choice starts again from the default statuses
    keep = st.multiselect("状态(后进排名)", present_status, default=default, format_func=ui.status_zh,
                          key=f"lag_status:{level}:{'+'.join(chosen)}", placeholder="选择状态")
with f2:
    top = st.number_input("显示前 N 名(0 = 全部)", min_value=0, max_value=100000, value=0, step=5, key="lag_top")
with f3:
    name = st.text_input("按名称查找", key="lag_name", placeholder="如:黄嘴")
st.caption("排序:已逾期未达标、严重滞后、进度滞后在前,同类按落后序时进度的百分点从多到少;红字为严重滞后或逾期未达标;"
           "“说明”写明状态只因本季度未报送而按此前数据判断的单位。")

COLUMNS = {"说明": st.column_config.TextColumn(width="large")}


def _shown(frame: pd.DataFrame, parents: dict[str, str], unit: str, ranked_section: bool) -> pd.DataFrame:
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


def _red(shown: pd.DataFrame):
    """A row style: severely lagging and missed rows in red."""
    severe = list(shown["status"].isin(exports.SEVERE))
    return lambda row: ["color: #b91c1c; font-weight: 600" if severe[row.name] else ""] * len(row)


def target_list(info: dict, ranked: pd.DataFrame) -> exports.CircularPart | None:
    """One target's ranked list and its 未报送 / 数据不全 sections, filtered as chosen; its part of the
    circular (None when it has no rows)."""
    if len(chosen) > 1:
        st.header(info["title"])
    if ranked.empty:
        st.info("该目标在所选范围和季度没有可排名的数据。")
        return None
    in_rank, apart = _split(ranked)
    shown = in_rank[in_rank["status"].isin(keep)]
    if name:
        shown = shown[shown["unit_name"].str.contains(name.strip(), regex=False, na=False)]
        apart = apart[apart["unit_name"].str.contains(name.strip(), regex=False, na=False)]
    if top:
        shown = shown.head(int(top))
    shown = shown.reset_index(drop=True)

    m1, m2, m3, m4 = st.columns(4)
    m1.metric(f"{ui.level_zh(level)}总数", f"{len(ranked):,}")
    m2.metric("严重滞后或逾期未达标", f"{int(in_rank['status'].isin(exports.SEVERE).sum()):,}")
    m3.metric("未报送或数据不全", f"{len(ranked) - len(in_rank):,}", help="单列在后进排名之后,不参与排名")
    m4.metric("排名列表中", f"{len(shown):,}")

    listed = pd.concat([shown, apart], ignore_index=True)
    parents = queries.parent_names(list(listed["unit_code"]))
    unit = listed["unit"].iloc[0] if len(listed) else info["unit"]
    table = _shown(shown, parents, unit, True)
    st.subheader(f"后进排名({len(shown)} 个)")
    if table.empty:
        st.info("所选状态下没有单位。")
    else:
        st.dataframe(table.style.apply(_red(shown), axis=1), hide_index=True, width="stretch", column_config=COLUMNS,
                     placeholder="")
    for key in dict.fromkeys(apart["section"]) if len(apart) else []:
        part = apart[apart["section"] == key]
        st.subheader(f"{part['section_zh'].iloc[0]}({len(part)} 个,不参与排名)")
        st.dataframe(_shown(part, parents, unit, False), hide_index=True, width="stretch", column_config=COLUMNS,
                     placeholder="")
    return exports.CircularPart(listed, title=f"{info['title']}后进名单", unit=unit, parents=parents,
                                notes=exports.circular_notes(info, queries.min_coverage()), target=info["title"])


parts = [p for p in (target_list(info, ranked_by[info["id"]]) for info in infos) if p is not None]
cut = queries.cutoff_date(view.asof)
asof_text = (f"截至{ui.fmt_period(view.asof)}(按{ui.fmt_date(cut)}前报送的数据)" if view.basis == "then"
             else f"截至{ui.fmt_period(view.asof)}(按{ui.fmt_date(queries.today())}已报送的数据)")
xlsx = lambda: exports.circulars_xlsx(  # noqa: E731 - built when clicked
    parts, subtitle=f"({view.plan_title})", asof_text=asof_text, scope=view.scope_name, made=queries.today())
if len(chosen) > 1:
    st.divider()
    st.caption(f"下载的通报含 {len(parts)} 个目标的名单(Excel 每个目标一张工作表;CSV 以“目标”列区分)。")
ui.downloads(exports.circular_table(parts), exports.circular_name(ui.level_zh(level), [p.target for p in parts],
                                                                  view.scope_name, view.asof), "lag", xlsx=xlsx)
