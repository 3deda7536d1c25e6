"""The dashboard's one query layer: every page reads through these cached functions.

Each call opens the database read-only for the length of the query, so the CLI (the writer)
is never locked out for longer than one query.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from pipelines import db, registry
from pipelines.catalog import LEVEL_ZH, catalog
from pipelines.samples import init_database


@st.cache_resource(show_spinner="首次运行:正在用示例数据建立数据库 …")
def ensure_database() -> str:
    """Create the database from the bundled samples when it does not exist yet."""
    path = db.db_path()
    if not path.exists():
        with db.session(path) as con:
            init_database(con, progress=False)
    return str(path)


@st.cache_data(ttl=60, show_spinner=False)
def plans() -> pd.DataFrame:
    """One row per plan of the catalog."""
    return pd.DataFrame([{
        "code": p.code, "title": p.title, "doc_no": p.doc_no, "issuer": p.issuer, "issued": p.issued,
        "scope_name": p.scope_name, "period_start": p.period_start, "period_end": p.period_end,
        "targets": len(p.targets),
    } for p in catalog().plans.values()])


@st.cache_data(ttl=60, show_spinner=False)
def targets(plan: str) -> pd.DataFrame:
    """The targets of ``plan`` with their indicators, as a clerk reads them."""
    cat = catalog()
    rows = []
    for _, t in cat.targets(plan):
        ind = cat.indicators.get(t.indicator) if t.indicator else None
        rows.append({
            "编号": t.id, "目标": t.title, "条款": t.clause, "原文": t.source_clause,
            "指标": ind.title if ind else "(按期完成)", "目标值": t.target_text,
            "截止日期": t.deadline, "评价方式": t.eval, "评价层级": LEVEL_ZH[t.level],
            "牵头单位": "、".join(t.lead), "参与单位": "、".join(t.partners), "说明": t.note,
        })
    return pd.DataFrame(rows)


@st.cache_data(ttl=60, show_spinner=False)
def units(level: str | None = None, parent: str | None = None) -> pd.DataFrame:
    """Units of the registry."""
    with db.session(read_only=True) as con:
        return pd.DataFrame(registry.list_units(con, level=level, parent=parent))


@st.cache_data(ttl=60, show_spinner=False)
def unit_counts() -> pd.DataFrame:
    """Number of units per level."""
    df = units()
    if df.empty:
        return pd.DataFrame(columns=["层级", "单位数"])
    out = df.groupby("level").size().reindex(list(LEVEL_ZH)).dropna().astype(int)
    return pd.DataFrame({"层级": [LEVEL_ZH[k] for k in out.index], "单位数": out.values})
