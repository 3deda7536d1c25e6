"""Smoke test of `rural-targets bench dashboard` on a tiny synthetic province (the real run is a
benchmark, not a timed test: no timing is asserted here)."""
from __future__ import annotations

import json

import duckdb

from pipelines.bench.dashboard import bench_dashboard, province_db
from pipelines.cli.main import main


def test_the_synthetic_province_has_units_shapes_and_returns():
    path = province_db(scale=0.1)
    con = duckdb.connect(str(path), read_only=True)
    try:
        levels = dict(con.execute("SELECT level, count(*) FROM units GROUP BY 1").fetchall())
        shapes = con.execute("SELECT count(*) FROM unit_shapes").fetchone()[0]
        periods = con.execute("SELECT count(DISTINCT period) FROM submissions").fetchone()[0]
        rows = con.execute("SELECT count(*) FROM village_values").fetchone()[0]
    finally:
        con.close()
    assert levels["city"] == 1 and levels["county"] == 1 and levels["township"] == 14
    assert 140 <= levels["village"] <= 280
    assert shapes == 1 + 1 + 14 and periods == 12 and rows > 12 * 100


def test_bench_dashboard_times_every_page(capsys):
    result = bench_dashboard(scale=0.1)
    pages = {r["title"]: r for r in result["pages"]}
    assert set(pages) == {"总览", "进度地图", "后进名单", "趋势", "数据上报", "报送情况", "任务督办", "目标目录", "区划名录"}
    for r in result["pages"]:
        assert r["first_s"] is not None and r["first_s"] > 0, r
        assert r["change_s"] is not None, r
        assert r["ok"], r
    assert main(["bench", "dashboard", "--scale", "0.1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["pages"]) == 9 and out["targets"] == {"first_s": 2.0, "change_s": 0.5}
