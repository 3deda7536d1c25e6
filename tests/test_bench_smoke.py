"""A tiny run of `rural-targets bench ingest`: both sides store exactly the registry's villages of
five townships, and a broken return is rejected by the product and by the pandas baseline alike
(no timing is asserted: the real run is a benchmark, not a test)."""
from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import openpyxl
import pytest

import pipelines.bench.ingest as bench
from pipelines.errors import severity_of
from pipelines.ingest.pipeline import ingest_paths
from pipelines.store import db
from pipelines.access.roles import local_admin


ADMIN = local_admin("测试管理员")

@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> tuple[Path, Path, list[Path]]:
    """Five filled returns (the first five townships of the registry) and their registry database."""
    cache = tmp_path_factory.mktemp("bench")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bench, "CACHE", cache)
        reg_db, files = bench.build_batch(limit=5)
    return cache, reg_db, files


def _villages_of(reg_db: Path, files: list[Path]) -> int:
    towns = [f.name.split("_")[0] for f in files]
    con = duckdb.connect(str(reg_db), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM units WHERE level = 'village' AND list_contains(?, parent_code)",
                           [towns]).fetchone()[0]
    finally:
        con.close()


@pytest.mark.slow
def test_both_sides_store_the_same_rows(batch, monkeypatch, tmp_path):
    cache, reg_db, files = batch
    monkeypatch.setattr(bench, "CACHE", cache)
    villages = _villages_of(reg_db, files)
    assert villages >= 5 * 3  # every township has villages

    result = bench.bench_ingest(limit=5, workdir=tmp_path / "run")

    assert result["files"] == 5
    assert result["rows"] == villages and result["baseline_rows"] == villages
    assert result["submissions"] == 5 and result["baseline_submissions"] == 5
    assert result["township_rows"] == 5 and result["baseline_township_rows"] == 5
    assert result["same_values"] is True
    assert result["ours_s"] > 0 and result["baseline_s"] > 0
    assert result["ours_cpu_s"] > 0 and result["baseline_cpu_s"] > 0
    assert result["peak_mb"] > 50 and result["baseline_peak_mb"] > 50  # each side's own process
    assert len(result["rss_mb_at_25_50_100pct"]) == 3
    text = "\n".join(bench.report_lines(result))
    assert "pandas.read_excel(engine=\"calamine\")" in text and "原件归档" in text and "倍" in text


def _break(src: Path, out: Path, how: str) -> Path:
    """A copy of ``src`` with one mistake typed into its village sheet (rows 6 and 7 are villages)."""
    wb = openpyxl.load_workbook(src)
    ws = wb["村级情况"]
    col = {c.value: c.column for c in ws[5] if c.value}
    if how == "text":        # words in a number cell
        ws.cell(6, col["population_registered"], "约两千")
    elif how == "rule":      # more eco burials than burials
        ws.cell(6, col["burials"], 2)
        ws.cell(6, col["eco_burials"], 5)
    elif how == "duplicate":  # the second village's row carries the first village's code
        ws.cell(7, col["village_code"], ws.cell(6, col["village_code"]).value)
    wb.save(out)
    return out


@pytest.mark.parametrize("how, codes", [("text", {"ING010"}), ("rule", {"ING020"}),
                                        ("duplicate", {"ING032", "ING033"})])
def test_a_broken_return_is_rejected_by_both(batch, tmp_path, how, codes):
    _, reg_db, files = batch
    broken = _break(files[0], tmp_path / f"{files[0].stem}_{how}.xlsx", how)
    found = {}
    for side in ("ours", "baseline"):
        path = tmp_path / f"{side}.duckdb"
        shutil.copy(reg_db, path)
        con = db.connect(path)
        try:
            if side == "ours":
                [report] = ingest_paths(con, [broken], actor=ADMIN)
                status = report.status
                errors = {p.code for p in report.errors}
            else:
                [report] = bench.pandas_ingest(con, [broken])
                status = report["status"]
                errors = {p[0] for p in report["problems"] if severity_of(p[0]) == "error"}
            stored = con.execute("SELECT (SELECT count(*) FROM submissions) + (SELECT count(*) FROM village_values)"
                                 ).fetchone()[0]
        finally:
            con.close()
        found[side] = (status, errors, stored)
    assert found["ours"] == ("rejected", codes, 0)
    assert found["baseline"] == ("rejected", codes, 0)
