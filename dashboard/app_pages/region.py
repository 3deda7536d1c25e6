"""区划名录: the units in the database (the synthetic sample city on first run)."""
import streamlit as st

from dashboard import queries

st.title("区划名录")
counts = queries.unit_counts()
if counts.empty:
    st.info("数据库中还没有区划。请运行 `rural-targets registry load 文件` 导入统计用区划代码。")
    st.stop()
cols = st.columns(len(counts))
for col, row in zip(cols, counts.itertuples()):
    col.metric(row.层级, f"{row.单位数:,}")
counties = queries.units(level="county")
choice = st.selectbox("区县", counties["code"], format_func=dict(zip(counties["code"], counties["name"])).get)
towns = queries.units(level="township", parent=choice)
st.dataframe(towns[["code", "name", "population", "elderly_population", "lon", "lat"]].rename(columns={
    "code": "统计用区划代码", "name": "名称", "population": "人口", "elderly_population": "60岁及以上", "lon": "经度", "lat": "纬度"}),
    hide_index=True, use_container_width=True)
