"""``rural-targets bench progress``: a tiny run where the pandas baseline computes the same statuses as
the product, and the check that makes the command fail when one status differs."""
from __future__ import annotations

import os

import duckdb
import pandas as pd
import pytest

import pipelines.bench.country as country
import pipelines.bench.progress as bench
import pipelines.bench.progress_baseline as baseline
from pipelines.bench.postgres import postgres_bin
from pipelines.cli.main import main

KEY = bench.KEY
LAKE = postgres_bin() is not None or bool(os.environ.get("CI"))     # CI installs PostgreSQL


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One tiny country (1 province, 1 city, 1 county), both sides run, the baseline's database kept."""
    root = tmp_path_factory.mktemp("bench_progress")
    saved = country.CACHE
    country.CACHE = root / "cache"
    try:
        result = bench.bench_progress(provinces=1, cities=1, counties=1, progress=False, workdir=root / "run",
                                      keep_baseline=True, lake_side=LAKE)
    finally:
        country.CACHE = saved
    return result, root / "run"


@pytest.mark.slow
def test_tiny_run_baseline_equals_product(tiny_run):
    result, _ = tiny_run
    assert result["villages"] > 100 and result["townships"] >= 12 and result["periods"] == 12
    # both sides emit exactly as many statuses, and the sample agrees row by row
    assert result["baseline_statuses"] == result["statuses"] > result["progress_rows"] > 0
    assert result["differences"] == 0
    assert set(result["compared_by_level"]) == {"province", "city", "county", "township", "village", "department"}
    assert result["compared_rows"] == sum(result["compared_by_level"].values()) > 1000
    assert result["county_rows"] > 0 and result["peak_mb"] > 0 and result["baseline_peak_mb"] > 0


@pytest.mark.slow
def test_tiny_run_on_a_ducklake_gives_the_same_rows(tiny_run):
    if not LAKE:
        pytest.skip("PostgreSQL is not installed here (apt-get install postgresql); CI installs it")
    result, _ = tiny_run
    assert result["lake_rows_equal"] is True          # the run fails (StatusMismatch) when a row differs
    assert result["lake_s"] > 0 and result["lake_load_s"] > 0 and result["lake_peak_mb"] > 0


@pytest.mark.slow
def test_check_finds_a_perturbed_baseline_status(tiny_run, tmp_path):
    _, run = tiny_run
    ours, base = run / "ours.duckdb", tmp_path / "baseline.duckdb"
    base.write_bytes((run / "baseline.duckdb").read_bytes())
    assert len(bench.check_baseline(ours, base)["differences"]) == 0
    con = duckdb.connect(str(ours), read_only=True)
    picks, _ = bench.sample_units(con)
    con.close()
    con = duckdb.connect(str(base))
    # the first sampled village counted by cd-reserve-123 (a 村: population 村, so not a 居委会)
    village = next(int(v) for v in picks["village"] if con.execute(
        "SELECT count(*) FROM baseline_progress WHERE unit = ? AND target = 'cd-reserve-123' AND pidx = 8080",
        [int(v)]).fetchall()[0][0])
    before = con.execute("SELECT status FROM baseline_progress WHERE unit = ? AND target = 'cd-reserve-123' "
                         "AND pidx = 8080", [village]).fetchall()[0][0]
    after = "missed" if before != "missed" else "met"
    con.execute("UPDATE baseline_progress SET status = ? WHERE unit = ? AND target = 'cd-reserve-123' AND pidx = 8080",
                [after, village])
    con.execute("DELETE FROM baseline_progress WHERE level = 'department' AND target = 'sc-task-03' "
                "AND department = '财政厅' AND pidx = 8084")
    con.close()
    diff = bench.check_baseline(ours, base)["differences"]
    assert diff[KEY + ["problem"]].values.tolist() == [
        ["changde-2018", "cd-reserve-123", "village", f"{village:012d}", "2020Q1", "status"],
        ["sichuan-2021", "sc-task-03", "department", "财政厅", "2021Q1", "only in the product"],
    ]
    assert diff[["status_product", "status_baseline"]].iloc[0].tolist() == [before, after]


def _frame(rows):
    return pd.DataFrame(rows, columns=KEY + ["status", "value"])


def test_compare_statuses_reports_each_differing_row():
    common = [("p", "t1", "county", "110101000000", "2020Q1", "met", 100.0),
              ("p", "t1", "county", "110101000000", "2020Q2", "lagging", 40.0),
              ("p", "t2", "village", "110101101201", "2020Q1", "on_track", 3.0)]
    ours = _frame(common + [("p", "t2", "village", "110101101202", "2020Q1", "no_data", None)])
    base = _frame([common[0], common[1][:5] + ("on_track", 40.0), common[2][:6] + (3.5,),
                   ("p", "t3", "city", "110100000000", "2020Q1", "met", 1.0)])
    assert len(bench.compare_statuses(ours, ours.copy())) == 0
    diff = bench.compare_statuses(ours, base)
    assert diff[["target", "unit_code", "period", "problem"]].values.tolist() == [
        ["t1", "110101000000", "2020Q2", "status"],
        ["t2", "110101101201", "2020Q1", "value"],
        ["t2", "110101101202", "2020Q1", "only in the product"],
        ["t3", "110100000000", "2020Q1", "only in the baseline"],
    ]
    text = bench.describe_differences(diff, compared=5)
    assert "4 of 5 compared rows differ" in text
    assert "p t1 county 110101000000 2020Q2: status — product lagging (40), baseline on_track (40)" in text


def test_compare_statuses_reports_a_differing_verdict_or_coverage():
    """Where both sides give them, the verdict at the deadline and the coverage are compared too."""
    cols = KEY + ["status", "value", "coverage", "verdict_at_deadline"]
    ours = pd.DataFrame([("p", "t", "county", "110101000000", "2021Q1", "met_late", 100.0, 1.0, "missed"),
                         ("p", "t", "county", "110101000000", "2021Q2", "met", 100.0, 0.95, None)], columns=cols)
    base = ours.copy()
    base.loc[0, "verdict_at_deadline"] = None
    base.loc[1, "coverage"] = 0.9
    diff = bench.compare_statuses(ours, base)
    assert diff[["period", "problem"]].values.tolist() == [["2021Q1", "verdict_at_deadline"], ["2021Q2", "coverage"]]
    text = bench.describe_differences(diff, compared=2)
    assert ("p t county 110101000000 2021Q1: verdict_at_deadline — product met_late (100), baseline met_late (100); "
            "verdict_at_deadline: product missed, baseline —") in text
    assert len(bench.compare_statuses(ours, ours.copy())) == 0


def test_command_fails_when_a_status_differs(monkeypatch, tmp_path, capsys):
    """The command exits non-zero with the differing rows when the check finds any (both sides faked)."""
    src = tmp_path / "country.duckdb"
    src.write_bytes(b"")
    monkeypatch.setattr(bench, "baseline_gaps", lambda cat: {})
    monkeypatch.setattr(bench, "country", lambda *a, **k: src)
    monkeypatch.setattr(bench, "_in_child", lambda fn, path: {"seconds": 1.0, "peak_mb": 1, "statuses": 1,
                                                              "stats": {}})
    diff = bench.compare_statuses(_frame([("p", "t", "county", "110101000000", "2020Q1", "met", 1.0)]),
                                  _frame([("p", "t", "county", "110101000000", "2020Q1", "missed", 1.0)]))
    monkeypatch.setattr(bench, "check_baseline", lambda *a, **k: {"differences": diff, "compared": 7})
    with pytest.raises(SystemExit) as exc:
        main(["bench", "progress", "--provinces", "1", "--cities", "1", "--counties", "1"])
    assert isinstance(exc.value, bench.StatusMismatch) and exc.value.code != 0
    assert "1 of 7 compared rows differ" in str(exc.value.code)
    assert "p t county 110101000000 2020Q1: status — product met (1), baseline missed (1)" in str(exc.value.code)


def test_the_baseline_implements_the_whole_catalog():
    assert baseline.baseline_gaps(bench.catalog()) == {}


def test_bench_refuses_a_catalog_the_baseline_does_not_implement(monkeypatch):
    """A catalog feature outside the baseline (here a monthly cycle, which no rule defines, and an
    unknown target setting) fails the command before any work, naming the feature and the targets
    using it."""
    cat = bench.catalog()
    plan = cat.plans["changde-2018"]
    changed = plan.targets[0].model_copy(update={"recurrence": "monthly", "per_unit_deadline": "x"})
    plan = plan.model_copy(update={"targets": [changed] + plan.targets[1:]})
    odd = cat.model_copy(update={"plans": {**cat.plans, plan.code: plan}})
    gaps = baseline.baseline_gaps(odd)
    assert changed.id in gaps["recurrence monthly"] and changed.id in gaps["target.per_unit_deadline"]
    assert changed.id not in baseline.baseline_gaps(cat).get("recurrence monthly", [])
    monkeypatch.setattr(bench, "catalog", lambda: odd)
    monkeypatch.setattr(bench, "country", lambda *a, **k: pytest.fail("no work before the check"))
    with pytest.raises(baseline.BaselineIncomplete) as exc:
        bench.bench_progress(provinces=1, cities=1, counties=1, progress=False)
    assert f"recurrence monthly: {changed.id}" in str(exc.value.code)
    assert f"target.per_unit_deadline: {changed.id}" in str(exc.value.code)
