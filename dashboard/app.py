"""乡村治理目标监测 — Streamlit entry: frames every page, then runs the selected one."""
from __future__ import annotations

import streamlit as st

from dashboard import queries

st.set_page_config(page_title="乡村治理目标监测", page_icon="📊", layout="wide")

PAGES = [
    st.Page("app_pages/catalog.py", title="目标目录", icon="📋", default=True),
    st.Page("app_pages/region.py", title="区划名录", icon="🗺️"),
]

queries.ensure_database()
nav = st.navigation(PAGES)
st.sidebar.caption("乡村治理目标监测 · 民政")
nav.run()
