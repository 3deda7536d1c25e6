"""乡村治理目标监测 — Streamlit entry: the sign-in gate (dashboard/signin.py), then the pages the user's
role may open, framed (title, sidebar controls) and run inside the dashboard's one error boundary
(dashboard/ui.py: guard)."""
from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run dashboard/app.py` without an installed package
    sys.path.insert(0, str(ROOT))

from dashboard import queries, signin, theme, ui  # noqa: E402

st.set_page_config(page_title="乡村治理目标监测", page_icon="📊", layout="wide")
st.set_option("client.showErrorDetails", "none")

PAGES = {
    "监测": [
        st.Page("app_pages/overview.py", title="总览", icon="📊", url_path="overview", default=True),
        st.Page("app_pages/map.py", title="进度地图", icon="🗺️", url_path="map"),
        st.Page("app_pages/laggards.py", title="后进名单", icon="📉", url_path="laggards"),
        st.Page("app_pages/trends.py", title="趋势", icon="📈", url_path="trends"),
        st.Page("app_pages/briefing.py", title="简报", icon="📰", url_path="briefing"),
    ],
    "报送与督办": [
        st.Page("app_pages/upload.py", title="数据上报", icon="📤", url_path="upload"),
        st.Page("app_pages/completeness.py", title="报送情况", icon="🗓️", url_path="completeness"),
        st.Page("app_pages/milestones.py", title="任务督办", icon="✅", url_path="milestones"),
    ],
    "参考": [
        st.Page("app_pages/catalog.py", title="目标目录", icon="📋", url_path="catalog"),
        st.Page("app_pages/region.py", title="区划名录", icon="🏘️", url_path="region"),
    ],
}


def pages(user: signin.User | None) -> dict[str, list]:
    """Every page, each registered for every user so that a link keeps its page across the sign-in;
    报表审核 and 操作日志 are shown only to the roles that may use them (the pages check again)."""
    def shown(action: str) -> str:
        return "visible" if user is not None and queries.may(action) else "hidden"

    out = {group: list(items) for group, items in PAGES.items()}
    out["报送与督办"].insert(1, st.Page("app_pages/review.py", title="报表审核", icon="🔎", url_path="review",
                                    visibility=shown("review")))
    out["参考"].append(st.Page("app_pages/audit.py", title="操作日志", icon="📜", url_path="audit",
                             visibility=shown("audit")))
    return out


theme.apply()
with ui.guard():
    queries.ensure_database()
    queries.ensure_worker()              # the ingest worker starts with the dashboard (once per server)
    user = signin.current_user()
    if user is None:
        st.navigation(pages(None), position="hidden")     # the link's page is kept for after the sign-in
        signin.form()
        st.stop()
    nav = st.navigation(pages(user))
    st.sidebar.markdown("**乡村治理目标监测** · 民政")
    signin.sign_out_button(user)
    ui.controls()
    ui.print_toggle()
    nav.run()
