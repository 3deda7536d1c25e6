"""区划名录: the units in the database (the synthetic sample city on first run)."""
import streamlit as st

from dashboard import queries, ui

view = ui.view()
ui.page_header("区划名录")
counts = queries.unit_counts()
if counts.empty:
    ui.catalogue_warning("DSH004")
    st.stop()
cols = st.columns(len(counts))
for col, row in zip(cols, counts.itertuples()):
    col.metric(row.层级, f"{row.单位数:,}")
counties = queries.units(level="county")
names = dict(zip(counties["code"], counties["name"]))
options = list(counties["code"])
default = options.index(view.county) if view.county in options else 0
choice = st.selectbox("区县", options, index=default, format_func=names.get, key="region_county",
                      placeholder="请选择区县")
towns = queries.units(level="township", parent=choice)
table = towns[["code", "name", "population", "elderly_population", "lon", "lat"]].rename(columns={
    "code": "统计用区划代码", "name": "名称", "population": "人口", "elderly_population": "60岁及以上",
    "lon": "经度", "lat": "纬度"})
ui.table(table, f"区划名录_{names.get(choice, choice)}", "region", title=f"{names.get(choice, choice)} 乡镇(街道)名录",
         column_config={"人口": st.column_config.NumberColumn(format="localized"),
                        "60岁及以上": st.column_config.NumberColumn(format="localized"),
                        "经度": st.column_config.NumberColumn(format="%.4f"),
                        "纬度": st.column_config.NumberColumn(format="%.4f")})
