"""After an upload only the scopes holding its township are recomputed — and the stored tables come out
exactly as a whole refresh would make them."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipelines.access.roles import local_admin
from pipelines.compute.refresh import refresh, refresh_touched
from pipelines.compute.stored import is_fresh
from pipelines.ingest.pipeline import ingest_paths
from pipelines.registry.load import load_registry
from pipelines.samples.init import REGION_DIR
from pipelines.store import db

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples" / "returns"
XLSX = sorted(SAMPLES.glob("*_2025Q4.xlsx"))
ACTOR = local_admin("测试管理员")
TABLES = {"progress_data": "unit, department, target, pidx", "progress_village": "unit, pidx",
          "indicator_sums_village": "unit_code, pidx", "indicator_sums_township": "unit_code, pidx",
          "indicator_sums_county": "unit_code, pidx"}


def _snapshot(con) -> dict[str, pd.DataFrame]:
    return {t: con.execute(f"SELECT * FROM {t} ORDER BY {order}").df() for t, order in TABLES.items()}


@pytest.fixture
def con(tmp_path):
    c = db.connect(tmp_path / "rt.duckdb")
    load_registry(c, [REGION_DIR / "units.csv"], geojson=REGION_DIR / "boundaries.geojson", actor=ACTOR)
    yield c
    c.close()


def test_the_touched_scopes_come_out_as_a_whole_refresh_makes_them(con):
    ingest_paths(con, XLSX[:5], actor=ACTOR)
    refresh(con)
    [report] = ingest_paths(con, XLSX[5:6], actor=ACTOR)
    assert report.status == "stored"
    stats = refresh_touched(con, {(report.township_code, report.period)})
    assert stats["scopes"], "the partial refresh ran (not a whole one)"
    assert all(report.township_code.startswith(p) for p in stats["scopes"])
    assert is_fresh(con)
    partial = _snapshot(con)
    refresh(con)
    whole = _snapshot(con)
    for table in TABLES:            # NaN equal to NaN, row for row, column for column
        pd.testing.assert_frame_equal(partial[table], whole[table], obj=table)
    assert sum(len(rows) for rows in partial.values()) > 1000


def test_a_new_quarter_or_no_stored_tables_refresh_everything(con):
    ingest_paths(con, XLSX[:3], actor=ACTOR)
    stats = refresh_touched(con, {(XLSX[0].name[:12], "2025Q4")})        # nothing stored yet: whole
    assert "scopes" not in stats and is_fresh(con)
    [report] = ingest_paths(con, [next(SAMPLES.glob("*_2025Q3.xls"))], actor=ACTOR)   # another quarter
    assert report.status == "stored"
    stats = refresh_touched(con, {(report.township_code, report.period)})
    assert "scopes" not in stats and is_fresh(con)
