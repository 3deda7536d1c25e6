"""The dashboard renders on the sample database (Streamlit AppTest, a real DuckDB file)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from pipelines import db
from pipelines.samples import REGION_DIR
from pipelines.registry import load_registry

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")


@pytest.fixture
def sample_db(tmp_path, monkeypatch):
    path = tmp_path / "dash.duckdb"
    con = db.connect(path)
    load_registry(con, [REGION_DIR / "units.csv"], geojson=REGION_DIR / "boundaries.geojson")
    con.close()
    monkeypatch.setenv(db.ENV_VAR, str(path))
    return path


def test_catalog_page_lists_every_plan_with_its_clauses(sample_db):
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert at.title[0].value == "目标目录"
    plan_box = at.selectbox(key="plan")
    assert len(plan_box.options) == 5
    first = at.dataframe[0].value
    plan_box.select("jiaxing-2018").run()
    second = at.dataframe[0].value
    assert len(second) == 8 and "jx-social-orgs-10" in list(second["编号"])
    assert list(first["编号"]) != list(second["编号"])
    assert any("每个农村社区要建成10个以上社区社会组织" in m.value for m in at.markdown)


def test_region_page_shows_the_sample_city(sample_db):
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.switch_page("app_pages/region.py").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    levels = pd.read_csv(REGION_DIR / "units.csv", dtype=str)["level"].value_counts()
    assert metrics["村"] == f"{levels['village']:,}" and metrics["区县"] == f"{levels['county']:,}"
    towns = at.dataframe[0].value
    assert len(towns) >= 9
