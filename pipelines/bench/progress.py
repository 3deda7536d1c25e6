"""``rural-targets bench progress``: indicators and statuses of every target at every level, nationally.

A synthetic country (31 provinces, ~310 cities, ~2,800 counties, ~38,000 townships — 街道, 镇 and 乡 —
and ~490,000 village-level units, about a quarter of them 居委会) with 12 quarters of returns, county
records and task updates is generated directly into a DuckDB file with SQL (no Excel files), and
cached under data/generated/bench/ (pipelines.bench.country says what it holds). Every plan of the
catalog is applied to every province (a bench catalog: settings.applies lists them), so that every
target is judged for every unit.

Two sides, each in its own process on its own copy of the file:

- the product: ``refresh`` (indicator tables and progress tables, by groups of provinces);
- a pandas baseline (``pandas_baseline``, pipelines.bench.progress_baseline and
  progress_baseline_judge): the same computation as a competent pandas user would write it from the
  method, without the product's code — the columns the indicators use, groupby sums by code prefix
  per target population (村 / 社区 / 村(社区) by the registry's committee type; 乡镇 / 乡镇(街道)) with
  the township and county sheets' ``plus`` terms, coverage counts, groupby transforms per unit for
  the judgement, and every rule: validity dates, coverage and incomplete (min_coverage; shares over
  the units that reported), flows year to date, the county sheet, trends against a year earlier or
  the plan start (rising, falling, not_falling), bands, ranges (above_range), yearly and quarterly
  cycles, shares of units, field milestones on the village, township and county sheets (per-unit
  deadlines ``after`` another date), task lists with items, not_judged (judged_at, guidelines), the
  verdict at the deadline and met_late; its rows stored like the product's.

Then the baseline's rows are compared with the product's on a sample drawn with a fixed seed
(``check_baseline``: units of every level, every row of one county, every task unit): status, value,
coverage and verdict at the deadline, and which rows exist; any difference fails the command
(``StatusMismatch``). The figures are seconds, peak memory and the ratio, the rows compared, and the
time to read one county's statuses for one plan from the stored tables.
"""
from __future__ import annotations

import os
import queue
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from pipelines.bench.country import bench_catalog, country, peak_rss_mb
from pipelines.bench.postgres import temporary_postgres
from pipelines.bench.progress_baseline import (
    BASELINE_TABLE,
    BaselineIncomplete,
    baseline_gaps,
    gaps_message,
    pandas_baseline,
)
from pipelines.catalog.definitions import Catalog, catalog
from pipelines.compute.assess import assess_frame
from pipelines.compute.refresh import refresh
from pipelines.store import db, lake

# ============================================================================ checking the baseline against the product

SEED = 20240607
SAMPLE_UNITS = {"province": 5, "city": 5, "county": 6, "township": 10, "village": 20}
KEY = ["plan", "target", "level", "unit_code", "period"]
# besides status and value, compared when both sides have them
EXTRA = ["coverage", "verdict_at_deadline"]


class StatusMismatch(SystemExit):
    """The baseline's statuses differ from the product's: the command fails with this message."""


def sample_units(con: duckdb.DuckDBPyConnection, seed: int = SEED) -> tuple[dict[str, list[str]], str]:
    """Units drawn with a fixed seed: ``SAMPLE_UNITS`` of each level, and one county whose every row is
    compared."""
    rng = np.random.default_rng(seed)
    picks: dict[str, list[str]] = {}
    for level, n in SAMPLE_UNITS.items():
        codes = [r[0] for r in con.execute("SELECT code FROM units WHERE level = ? ORDER BY code", [level]).fetchall()]
        picks[level] = sorted(rng.choice(codes, size=min(n, len(codes)), replace=False).tolist()) if codes else []
    counties = [r[0] for r in con.execute("SELECT code FROM units WHERE level = 'county' ORDER BY code").fetchall()]
    return picks, str(rng.choice(counties))


def product_rows(con: duckdb.DuckDBPyConnection, cat: Catalog, picks: dict[str, list[str]], county: str) -> pd.DataFrame:
    """The product's rows (``KEY``, status, value, coverage, verdict_at_deadline) of the sampled units at
    their level, of every unit of ``county``'s subtree, and of every task unit, read through its API
    (``assess_frame``)."""
    cols = KEY + ["status", "value"] + EXTRA
    frames = [assess_frame(con, cat, unit=u, level=level) for level, units in picks.items() for u in units]
    frames.append(assess_frame(con, cat, unit=county))
    frames.append(assess_frame(con, cat, level="department"))
    frames = [f[cols] for f in frames if len(f)]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
    return out.drop_duplicates(KEY).reset_index(drop=True)


def baseline_rows(con: duckdb.DuckDBPyConnection, picks: dict[str, list[str]], county: str) -> pd.DataFrame:
    """The baseline's rows (``KEY``, status, value, coverage, verdict_at_deadline) for the same units as
    ``product_rows``."""
    conds, params = ["level = 'department'", "(unit BETWEEN ? AND ? AND level <> 'department')"], []
    params += [int(county), int(county) + 10**6 - 1]
    for level, units in picks.items():
        if units:
            conds.append("(level = ? AND list_contains(?::BIGINT[], unit))")
            params += [level, [int(u) for u in units]]
    out = con.execute(
        "SELECT plan, target, level, CASE WHEN unit IS NULL THEN department ELSE lpad(CAST(unit AS VARCHAR), 12, '0') "
        "END AS unit_code, CAST(pidx // 4 AS VARCHAR) || 'Q' || CAST(pidx % 4 + 1 AS VARCHAR) AS period, status, value, "
        "coverage, verdict_at_deadline "
        f"FROM {BASELINE_TABLE} WHERE {' OR '.join(conds)}", params).df()
    return out.drop_duplicates(KEY).reset_index(drop=True)


def compare_statuses(ours: pd.DataFrame, base: pd.DataFrame) -> pd.DataFrame:
    """The rows (by ``KEY``) where the baseline and the product disagree: a different status, a row only
    one side has, a different value (beyond a relative 1e-6), and — where both frames have them — a
    different coverage or verdict at the deadline (``EXTRA``). Columns: ``KEY``, status_product,
    status_baseline, value_product, value_baseline (and those of ``EXTRA``), problem."""
    extra = [c for c in EXTRA if c in ours.columns and c in base.columns]
    cols = KEY + ["status", "value"] + extra
    m = ours[cols].merge(base[cols], on=KEY, how="outer", suffixes=("_product", "_baseline"), indicator=True)

    def same(c: str) -> np.ndarray:
        a, b = m[f"{c}_product"], m[f"{c}_baseline"]
        if c in ("value", "coverage"):
            a = pd.to_numeric(a, errors="coerce").to_numpy(dtype=float)
            b = pd.to_numeric(b, errors="coerce").to_numpy(dtype=float)
            return np.isclose(a, b, rtol=1e-6, atol=1e-9, equal_nan=True)
        a, b = a.astype(object), b.astype(object)
        return ((a == b) | (a.isna() & b.isna())).to_numpy(dtype=bool)
    conds = [m["_merge"].eq("left_only"), m["_merge"].eq("right_only"), ~same("status"), ~same("value")]
    names = ["only in the product", "only in the baseline", "status", "value"]
    for c in extra:
        conds.append(~same(c))
        names.append(c)
    m["problem"] = np.select(conds, names, "")
    out = m[m["problem"] != ""].drop(columns="_merge")
    return out.sort_values(KEY, kind="stable").reset_index(drop=True)


def describe_differences(diff: pd.DataFrame, compared: int, limit: int = 10) -> str:
    """A message naming how many of the compared rows differ and the first ``limit`` of them."""
    lines = [(f"rural-targets bench progress: 基线与本产品的状态不一致 (baseline and product disagree): "
              f"{len(diff):,} of {compared:,} compared rows differ; the first {min(limit, len(diff))}:")]
    for r in diff.head(limit).to_dict("records"):
        detail = ""
        if r["problem"] in EXTRA:            # the column that differs, beside status and value
            c = r["problem"]
            detail = f"; {c}: product {_text(r[f'{c}_product'])}, baseline {_text(r[f'{c}_baseline'])}"
        lines.append(f"  {r['plan']} {r['target']} {r['level']} {r['unit_code']} {r['period']}: {r['problem']} — "
                     f"product {_side(r['status_product'], r['value_product'])}, "
                     f"baseline {_side(r['status_baseline'], r['value_baseline'])}{detail}")
    return "\n".join(lines)


def _text(v: Any) -> str:
    """A compared value as the message shows it (— when there is none)."""
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return "—"
    return v if isinstance(v, str) else f"{float(v):.6g}"


def _side(status: Any, value: Any) -> str:
    """One side of a difference: its status and value, or — when it has no such row."""
    if not isinstance(status, str):
        return "—"
    return f"{status} ({'—' if value is None or pd.isna(value) else f'{float(value):.6g}'})"


def check_baseline(ours_db: str | Path, base_db: str | Path, seed: int = SEED) -> dict[str, Any]:
    """Compare the baseline's statuses with the product's on the sample of ``sample_units``: returns the
    rows compared, the units sampled and the differences (``compare_statuses``)."""
    con = duckdb.connect(str(ours_db), read_only=True)
    try:
        cat = bench_catalog(con)
        picks, county = sample_units(con, seed)
        ours = product_rows(con, cat, picks, county)
    finally:
        con.close()
    con = duckdb.connect(str(base_db), read_only=True)
    try:
        base = baseline_rows(con, picks, county)
    finally:
        con.close()
    diff = compare_statuses(ours, base)
    compared = len(ours.merge(base[KEY], on=KEY, how="outer"))
    by_level = ours.groupby("level").size().to_dict()
    return {"compared": compared, "by_level": {k: int(v) for k, v in by_level.items()}, "county": county,
            "units": sum(len(u) for u in picks.values()), "differences": diff}


# ============================================================================ bench progress

OURS_DOES = ("rural-targets refresh: every indicator in DuckDB SQL (one scan per sheet), every status of every "
             "target at every level judged in numpy by groups of provinces, stored (progress_data, progress_village)")
BASELINE_DOES = ("pandas: the columns the indicators use, active returns and latest county records, units valid in "
                 "the quarter, expressions evaluated with pandas, groupby sums by code prefix per target population "
                 "(committee types from the registry, township kinds) with plus terms and coverage counts (ratios "
                 "of sums, flows year to date), then per target groupby transforms for baseline, pi, tau, projection "
                 "and status, trends (previous year, plan start), bands, ranges, yearly and quarterly cycles, shares "
                 "of units that reported, field milestones (per-unit deadlines) and task lists with items; then "
                 "coverage (incomplete), not_judged, the verdict at the deadline and met_late; stored")


def _run_ours(db_path: str, out: Any) -> None:
    try:
        con = duckdb.connect(db_path)
        cat = bench_catalog(con)
        t0 = time.perf_counter()
        stats = refresh(con, cat)
        seconds = time.perf_counter() - t0
        con.close()
        out.put({"seconds": round(seconds, 2), "stats": stats, "peak_mb": round(peak_rss_mb())})
    except BaseException as exc:  # noqa: BLE001 - reported by the parent
        out.put({"error": f"{type(exc).__name__}: {exc}"})


_FINGERPRINT = ("SELECT count(*), sum(hash(CAST(plan AS VARCHAR), CAST(target AS VARCHAR), unit, CAST(department AS VARCHAR), "
                "pidx, CAST(status AS VARCHAR), round(value, 9), round(pi, 6))) FROM progress_data")


def _run_lake(db_path: str, url: str, data_dir: str, out: Any) -> None:
    """The product's refresh on a DuckLake (PostgreSQL catalog) holding the same base tables as ``db_path``."""
    try:
        os.environ["RURAL_TARGETS_DATA_PATH"] = data_dir
        con = db.connect(url)
        t0 = time.perf_counter()
        con.execute(f"ATTACH {lake.sql_string(db_path)} AS src (READ_ONLY)")
        tables = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = 'src'")
                  .fetchall() if not t.startswith(("progress_", "indicator_", "baseline_"))]
        with db.transaction(con):
            for name in tables:
                con.execute(f'DROP TABLE IF EXISTS "{name}"')
                con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM src.main."{name}"')
        con.execute("DETACH src")
        load_s = time.perf_counter() - t0
        cat = bench_catalog(con)
        t0 = time.perf_counter()
        stats = refresh(con, cat)
        seconds = time.perf_counter() - t0
        fingerprint = con.execute(_FINGERPRINT).fetchall()[0]
        con.close()
        out.put({"seconds": round(seconds, 2), "load_s": round(load_s, 2), "stats": stats,
                 "peak_mb": round(peak_rss_mb()), "fingerprint": list(fingerprint)})
    except BaseException as exc:  # noqa: BLE001 - reported by the parent
        import traceback
        out.put({"error": f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"})


def _lake_side(ours_db: Path, work: Path, say: Any) -> dict[str, Any]:
    """The same refresh on a DuckLake over a throwaway PostgreSQL, its rows compared with file mode's."""
    con = duckdb.connect(str(ours_db), read_only=True)
    want = list(con.execute(_FINGERPRINT).fetchall()[0])
    con.close()
    data_dir = work / "lake-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    with temporary_postgres() as dsn:
        lake_result = _in_child(_run_lake, str(ours_db), f"ducklake:postgres:{dsn}", str(data_dir))
    shutil.rmtree(data_dir, ignore_errors=True)
    if lake_result["fingerprint"] != want:
        raise StatusMismatch(f"DuckLake rows differ from file mode: {lake_result['fingerprint']} != {want}")
    say(f"  DuckLake:载入 {lake_result['load_s']} 秒,计算 {lake_result['seconds']} 秒,峰值内存 {lake_result['peak_mb']} MB,"
        "全部状态行与 DuckDB 文件一致")
    return {"lake_s": lake_result["seconds"], "lake_load_s": lake_result["load_s"], "lake_peak_mb": lake_result["peak_mb"],
            "lake_rows_equal": True, "lake_timing": lake_result["stats"]["timing"]}


def _run_baseline(db_path: str, out: Any) -> None:
    try:
        out.put(pandas_baseline(db_path))
    except BaseException as exc:  # noqa: BLE001 - reported by the parent
        import traceback
        out.put({"error": f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"})


def _in_child(fn: Any, *args: Any) -> dict[str, Any]:
    """Run ``fn`` in a fresh process (spawned: its peak memory is its own) and return its result."""
    import multiprocessing as mp
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=fn, args=(*args, q))
    p.start()
    result = None
    while result is None:                       # a child that dies without reporting (e.g. killed) is an error
        try:
            result = q.get(timeout=2)
        except queue.Empty:
            if not p.is_alive():
                try:
                    result = q.get(timeout=2)
                except queue.Empty:
                    raise RuntimeError(f"{fn.__name__} ended without a result (exit code {p.exitcode})") from None
    p.join()
    if "error" in result:
        raise RuntimeError(result["error"])
    return result


def bench_progress(provinces: int = 31, cities: int = 10, counties: int = 9, progress: bool = True,
                   workdir: Path | None = None, keep_baseline: bool = False, seed: int = SEED,
                   lake_side: bool = False) -> dict[str, Any]:
    """Compute every indicator and status of every plan (applied to every province) on the synthetic
    country with the product and with the pandas baseline, each in its own process; compare the
    baseline's statuses with the product's on a sample (``check_baseline``) and raise
    ``StatusMismatch`` (a failing exit) if any differs (``BaselineIncomplete`` before any work when the
    catalog uses features the baseline does not implement, ``baseline_gaps``); then time reading one county's statuses for
    one plan from the stored tables. The baseline's database is removed unless ``keep_baseline`` or a
    difference is found. ``lake_side``: the product's refresh also on a DuckLake over a throwaway
    PostgreSQL holding the same data, its rows checked equal to file mode's."""
    say = (lambda s: print(s, file=sys.stderr, flush=True)) if progress else (lambda s: None)
    gaps = baseline_gaps(catalog())
    if gaps:                                    # comparing would be meaningless: say so before any work
        raise BaselineIncomplete(gaps_message(gaps))
    src = country(provinces, cities, counties, progress=progress)
    work = Path(workdir or src.parent / "run")
    work.mkdir(parents=True, exist_ok=True)
    ours_db, base_db = work / "ours.duckdb", work / "baseline.duckdb"
    for target in (ours_db, base_db):
        shutil.copyfile(src, target)
    say("本产品:计算全部指标与状态 …")
    ours = _in_child(_run_ours, str(ours_db))
    say(f"  {ours['seconds']} 秒,峰值内存 {ours['peak_mb']} MB")
    lake_figures = _lake_side(ours_db, work, say) if lake_side else {}
    say("pandas 基线 …")
    base = _in_child(_run_baseline, str(base_db))
    say(f"  {base['seconds']} 秒,峰值内存 {base['peak_mb']} MB;抽样比较两者的状态 …")
    t0 = time.perf_counter()
    check = check_baseline(ours_db, base_db, seed)
    check_s = round(time.perf_counter() - t0, 2)
    diff = check["differences"]
    if len(diff):
        raise StatusMismatch(describe_differences(diff, check["compared"])
                             + f"\n(both databases kept: {ours_db}, {base_db})")
    if not keep_baseline:
        base_db.unlink(missing_ok=True)         # the product's database is kept for inspection
    con = duckdb.connect(str(ours_db), read_only=True)
    cat = bench_catalog(con)
    counts = dict(con.execute("SELECT level, count(*) FROM units GROUP BY level").fetchall())
    county = check["county"]
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        rows = assess_frame(con, cat, plan="changde-2018", unit=county)
        times.append(time.perf_counter() - t0)
    con.close()
    stats = ours["stats"]
    result = {
        "villages": counts.get("village", 0), "townships": counts.get("township", 0),
        "counties": counts.get("county", 0), "periods": stats["periods"],
        "targets": sum(len(p.targets) for p in cat.plans.values()),
        "ours_s": ours["seconds"], "baseline_s": base["seconds"],
        "ratio": round(base["seconds"] / ours["seconds"], 1) if ours["seconds"] else None,
        "peak_mb": ours["peak_mb"], "baseline_peak_mb": base["peak_mb"],
        "county_ms": round(min(times) * 1000, 1), "county_rows": len(rows), "county": county,
        "statuses": stats["progress"] + _village_statuses(str(ours_db)),
        "progress_rows": stats["progress"], "village_rows": stats["progress_village"],
        "baseline_statuses": base["statuses"], "timing": stats["timing"],
        "compared_rows": check["compared"], "compared_by_level": check["by_level"],
        "compared_units": check["units"], "differences": 0, "check_s": check_s, "seed": seed,
        "ours_does": OURS_DOES, "baseline_does": BASELINE_DOES, **lake_figures,
    }
    say(f"本产品:{result['ours_s']} 秒,峰值内存 {result['peak_mb']} MB — {OURS_DOES}")
    say(f"基线:{result['baseline_s']} 秒,峰值内存 {result['baseline_peak_mb']} MB,状态 {result['baseline_statuses']:,} 条"
        f" — {BASELINE_DOES}")
    say(f"倍数 {result['ratio']}×;抽样比较 {result['compared_rows']:,} 行状态(种子 {seed},{result['compared_units']} 个"
        f"抽样单位 + 区县 {county} 的全部行 + 全部责任单位;各层级 {result['compared_by_level']}):全部一致")
    return result


def _village_statuses(db_path: str) -> int:
    con = duckdb.connect(db_path, read_only=True)
    try:
        ks = [r[0] for r in con.execute("SELECT k FROM progress_village_targets").fetchall()]
        if not ks:
            return 0
        return int(con.execute("SELECT " + " + ".join(f"count(s{k})" for k in ks) + " FROM progress_village").fetchall()[0][0])
    finally:
        con.close()
