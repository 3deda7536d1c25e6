"""进度地图: counties or townships coloured by status or value for one target; villages as points
when a township is selected. Offline: registry boundaries, no basemap (map_provider=None)."""
import streamlit as st

from dashboard import maps, queries, ui

view = ui.view()
ui.page_header("进度地图", view)
if view.scope is None:
    ui.catalogue_warning("DSH004")
    st.stop()

targets = queries.targets(view.plan)
labels = dict(zip(targets["编号"], targets["目标"]))
c1, c2, c3 = st.columns([3, 1.3, 1.3])
with c1:
    target = ui.target_picker(list(targets["编号"]), labels, key="map_target")
info = queries.target_info(target)
levels = {"city": ["county", "township"], "county": ["township"], "township": ["village"]}[view.scope_level]
with c2:
    level = st.radio("显示层级", levels, format_func=ui.level_zh, horizontal=True, key="map_level")
with c3:
    mode = st.radio("着色", ["status", "value"], format_func={"status": "按进度状态", "value": "按数值"}.get,
                    horizontal=True, key="map_mode")

if view.scope_level == "township":
    polygons = queries.shapes([view.township])
    units = queries.descendants(view.township, "village")
else:
    units = queries.descendants(view.scope, level)
    polygons = queries.shapes(list(units["code"]))

progress = queries.unit_progress(target, view.asof, level, view.scope, view.basis) if view.has_returns else None
data = polygons if level != "village" else units
data = maps.with_progress(data, progress, info)
data, legend = maps.colour_rows(data, mode, info["lower_is_better"])
outlines = None
if level == "township" and view.scope_level in ("province", "city"):
    outlines = queries.shapes(list(queries.descendants(view.scope, "county")["code"]))
names = st.toggle("显示地名", value=True, key="map_names")
if level == "village":
    shade = polygons.assign(fill=[[235, 235, 235, 120]] * len(polygons), **{c: "" for c in maps.TEXT_COLUMNS})
    deck = maps.deck(shade, data, names=names)
else:
    deck = maps.deck(data, outlines=outlines, names=names)
st.pydeck_chart(deck, height=560, key="progress_map")
st.markdown(maps.legend_html(legend, info["unit"]), unsafe_allow_html=True)
static = maps.static_figure(data, legend, info["unit"], f"{info['title']}:各{ui.level_zh(level)}"
                            f"{'进度状态' if mode == 'status' else '数值'}", ui.chart_subtitle(view),
                            outlines=outlines if level != "village" else polygons, villages=level == "village")
ui.image_download(lambda: maps.png(static), f"进度地图_{info['title']}_{ui.level_zh(level)}_{view.scope_name}_{view.asof}",
                  "map_png")
st.caption(f"{info['title']}:目标 {info['target_text']},截止 {ui.fmt_date(info['deadline'])};"
           f"判定层级:{info['judged_at_zh']}。"
           "地图不加载底图(离线可用);滚动鼠标滚轮(或双指)缩放,拖动平移;鼠标停在区域上可看名称、数值、报送、目标和状态。")
if not view.has_returns:
    ui.catalogue_warning("DSH003")
    st.page_link(ui.UPLOAD_PAGE, label="前往「数据上报」上传报表", icon="📤")

table = data[["code", "name", "value_text", "coverage_text", "target_text", "status_text", "pace_text"]].rename(columns={
    "code": "统计用区划代码", "name": "名称", "value_text": "数值", "coverage_text": "报送", "target_text": "目标",
    "status_text": "状态", "pace_text": "完成进度 / 序时进度"})
with st.expander(f"{ui.level_zh(level)}明细({len(table)} 个)"):
    ui.table(table, f"进度地图_{info['title']}_{view.scope_name}", "map_table",
             title=f"{info['title']} · {view.scope_name} · 截至{ui.fmt_period(view.asof)}")
