"""Smoke test of `rural-targets bench dashboard` on a tiny synthetic province, and of its browser
measurement on one page of the sample database (the real run is a benchmark, not a timed test: no
timing is asserted here)."""
from __future__ import annotations

import json
import os
import shutil

import duckdb
import pytest

import pipelines.bench.dashboard as dashboard_bench
from pipelines.bench.dashboard import (
    bench_dashboard,
    browser_first_paint,
    browser_unavailable,
    province_db,
)
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


@pytest.mark.slow
def test_bench_dashboard_times_every_page(capsys, monkeypatch):
    # the browser's part has a test of its own (slow); here, as without Chromium, it is skipped and said so
    monkeypatch.setattr(dashboard_bench, "browser_unavailable", lambda: "测试中不测浏览器")
    result = bench_dashboard(scale=0.1)
    assert result["browser"] == {"ran": False, "note": "测试中不测浏览器"}
    assert "浏览器首屏:未测量(测试中不测浏览器)" in "\n".join(dashboard_bench.report_lines(result))
    pages = {r["title"]: r for r in result["pages"]}
    assert set(pages) == {"总览", "进度地图", "后进名单", "趋势", "数据上报", "报送情况", "任务督办", "目标目录", "区划名录"}
    for r in result["pages"]:
        assert r["first_s"] is not None and r["first_s"] > 0, r
        assert r["change_s"] is not None, r
        assert r["ok"], r
    assert main(["bench", "dashboard", "--scale", "0.1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["pages"]) == 9 and out["targets"] == {"first_s": 2.0, "change_s": 0.5}


@pytest.mark.slow
def test_first_paint_of_one_page_in_chromium(sample_db_file, tmp_path):
    """`streamlit run` on the sample database, Chromium opens 目标目录 on cold caches: a positive time
    to its table, and the table was there."""
    why_not = browser_unavailable()
    if why_not and os.environ.get("CI"):
        pytest.fail(f"浏览器测量无法运行(CI 中不允许跳过):{why_not}")
    if why_not:
        pytest.skip(f"跳过浏览器测量:{why_not}")
    path = tmp_path / "paint.duckdb"
    shutil.copyfile(sample_db_file, path)
    result = browser_first_paint(path, pages=["app_pages/catalog.py"])
    [row] = result["pages"]
    assert row["found"] is True and row["problem"] is None, row
    assert row["paint_s"] > 0 and row["warm_paint_s"] > 0, row
    assert row["url"] == "/catalog" and row["element"] == "目标表"
