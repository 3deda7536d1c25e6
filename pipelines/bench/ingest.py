"""Benchmarks (``rural-targets bench …``): the product against a straightforward baseline, in one run.

Each prints seconds, throughput, peak memory and the ratio to the baseline measured in the
same run. They are not tests: the test suite only runs a tiny smoke of each.
"""
from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import openpyxl
import pandas as pd

from pipelines.store import db
from pipelines.catalog.definitions import ROOT, catalog
from pipelines.ingest.normalise import normalise

SHARED_DATA = ROOT.parent / "shared" / "data"
CACHE = ROOT / "data" / "generated" / "bench"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    """Resident memory now (Linux /proc), to see whether it grows with the number of files."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


# ---------------------------------------------------------------------------- the province

def province_registry(out_dir: Path) -> list[Path]:
    """The real 湖南 registry when ../shared/data has it, else a generated province of the same size."""
    units, villages = SHARED_DATA / "hunan_units.csv", SHARED_DATA / "hunan_villages.csv"
    if units.exists() and villages.exists():
        return [units, villages]
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(43)
    rows = []
    for c in range(1, 15):
        city = f"43{c:02d}00000000"
        rows.append((city, f"合成市{c}", "430000000000"))
        for k in range(1, 11):
            county = city[:4] + f"{k:02d}000000"
            rows.append((county, f"合成县{c}-{k}", city))
            for t in range(1, 15):
                town = county[:6] + f"{100 + t:03d}000"
                rows.append((town, f"合成镇{c}-{k}-{t}", county))
                for v in range(int(rng.integers(10, 20))):
                    rows.append((town[:9] + f"{200 + v:03d}", f"合成村{v}", town))
    path = out_dir / "province.csv"
    pd.DataFrame(rows, columns=["code", "name", "parent_code"]).to_csv(path, index=False)
    return [path]


def _village_row(rng: np.random.Generator, code: str, name: str) -> dict[str, Any]:
    pop = int(rng.integers(600, 4500))
    burials = int(rng.integers(0, 12))
    area = float(rng.integers(300, 900))
    surveyed = int(rng.integers(20, 60))
    tekun = int(rng.integers(0, 8))
    yn = lambda p: "是" if rng.random() < p else "否"  # noqa: E731
    return {
        "village_code": code, "village_name": name, "population_registered": pop,
        "population_resident": int(pop * rng.uniform(0.8, 0.95)), "households": pop // 3,
        "elderly_population": int(pop * rng.uniform(0.18, 0.3)), "social_orgs": int(rng.integers(0, 9)),
        "has_elder_association": yn(0.8), "has_service_platform": "是", "platform_area_m2": area,
        "platform_service_area_m2": round(area * rng.uniform(0.4, 0.9)), "has_village_rules": yn(0.95),
        "village_rules_revised": yn(0.8), "rules_households_reached": int(pop // 3 * rng.uniform(0.6, 1)),
        "rules_surveyed": surveyed, "rules_aware": int(surveyed * rng.uniform(0.6, 1)), "micro_unit_pilot": yn(0.5),
        "has_left_behind_home": yn(0.7), "has_elder_care_facility": yn(0.6), "elder_care_beds": int(rng.integers(0, 40)),
        "tekun_dependent": tekun, "tekun_dependent_cared": int(tekun * rng.uniform(0, 1)), "burials": burials,
        "eco_burials": int(burials * rng.uniform(0, 1)), "volunteers": int(pop * rng.uniform(0.03, 0.15)),
        "social_work_professionals": int(rng.integers(0, 4)), "community_social_workers": int(rng.integers(0, 3)),
        "reserve_secretary": int(rng.integers(0, 3)), "reserve_cadre": int(rng.integers(0, 4)),
        "reserve_activist": int(rng.integers(0, 6)), "flag_weak_party_org": yn(0.05), "flag_poor": yn(0.1),
        "flag_weak_economy": yn(0.1), "has_first_secretary": yn(0.2), "demo_village_level": "无",
        "community_type": "提升型", "weak_help_designated": yn(0.05), "points_system": yn(0.3),
        "has_legal_adviser": yn(0.9), "has_legal_service_station": yn(0.8), "rule_of_law_demo": yn(0.2),
        "remarks": None,
    }


def _write_filled(args: tuple[str, str, str, list[tuple[str, str]], int]) -> str:
    """Worker: one township's filled return (the product's template, values typed in)."""
    db_path, township, period, villages, seed = args
    from pipelines.ingest.template import write_township_template
    out = Path(db_path).parent / "returns" / f"{township}_{period}.xlsx"
    if out.exists():
        return str(out)
    con = duckdb.connect(db_path, read_only=True)
    try:
        tmp = write_township_template(con, township, period, out.with_suffix(".blank.xlsx"))
    finally:
        con.close()
    rng = np.random.default_rng(seed)
    wb = openpyxl.load_workbook(tmp)
    meta = {r[0].value: r[1].value for r in wb["_meta"].iter_rows() if r[0].value}
    ws = wb[meta["village_sheet"]]
    ids = [c.value for c in ws[int(meta["village_id_row"])]]
    for r, (code, name) in enumerate(villages, start=int(meta["village_first_row"])):
        row = _village_row(rng, code, name)
        for c, fid in enumerate(ids, start=1):
            if fid in row and fid not in ("village_code", "village_name"):
                ws.cell(r, c, row[fid])
    ts = wb[meta["township_sheet"]]
    tids = [c.value for c in ts[int(meta["township_id_row"])]]
    trow = {"has_sw_station": "是", "judicial_office_standardised": "否", "has_gov_service_centre": "是",
            "demo_town_level": "无", "party_members": 800, "party_members_under_35": 120, "party_members_college": 200}
    for c, fid in enumerate(tids, start=1):
        if fid in trow:
            ts.cell(int(meta["township_first_row"]), c, trow[fid])
    wb.save(out)
    tmp.unlink()
    return str(out)


def build_batch(limit: int | None = None, period: str = "2024Q3") -> tuple[Path, list[Path]]:
    """The registry database and one filled return per township, cached under data/generated/bench/."""
    reg_files = province_registry(CACHE / "registry")
    key = hashlib.sha256(b"".join(p.read_bytes()[:4096] for p in reg_files)
                         + catalog().template_version.encode()).hexdigest()[:12]
    base = CACHE / f"ingest-{key}"
    base.mkdir(parents=True, exist_ok=True)
    reg_db = base / "registry.duckdb"
    if not reg_db.exists():
        from pipelines.registry.load import load_registry
        con = db.connect(base / "building.duckdb")
        load_registry(con, reg_files)
        con.close()
        os.replace(base / "building.duckdb", reg_db)
    con = duckdb.connect(str(reg_db), read_only=True)
    villages = con.execute("SELECT parent_code, code, name FROM units WHERE level = 'village' ORDER BY code").fetchall()
    con.close()
    by_town: dict[str, list[tuple[str, str]]] = {}
    for parent, code, name in villages:
        by_town.setdefault(parent, []).append((code, name))
    towns = sorted(by_town)[:limit] if limit else sorted(by_town)
    (base / "returns").mkdir(exist_ok=True)
    jobs = [(str(reg_db), t, period, by_town[t], i) for i, t in enumerate(towns)]
    missing = [j for j in jobs if not (base / "returns" / f"{j[1]}_{period}.xlsx").exists()]
    if missing:
        print(f"生成 {len(missing)} 份乡镇报表(只在第一次运行时生成,之后复用)…", file=sys.stderr)
        with mp.get_context("fork").Pool(max(1, os.cpu_count() or 1)) as pool:
            for i, _ in enumerate(pool.imap_unordered(_write_filled, missing, chunksize=8), 1):
                if i % 100 == 0 or i == len(missing):
                    print(f"\r  {i}/{len(missing)}", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
    return reg_db, [base / "returns" / f"{t}_{period}.xlsx" for t in towns]


# ---------------------------------------------------------------------------- the baseline

def naive_ingest(con: duckdb.DuckDBPyConnection, files: list[Path]) -> int:
    """What a straightforward script would do: pandas.read_excel (openpyxl), checks row by row in
    Python, one INSERT per row. Same checks of types, ranges and rules; no batching."""
    cat = catalog()
    vspec, tspec = cat.sheets["village"], cat.sheets["township"]
    rules = [r for r in cat.rules if r.sheet == "village"]
    rows = 0
    for n, path in enumerate(files, 1):
        sheets = pd.read_excel(path, sheet_name=None, header=None, engine="openpyxl", dtype=object)
        meta = dict(zip(sheets["_meta"][0], sheets["_meta"][1]))
        village = sheets[meta["village_sheet"]]
        ids = list(village.iloc[int(meta["village_id_row"]) - 1])
        township_code, period = meta["township_code"], meta["period"]
        con.execute("INSERT INTO submissions (id, township_code, period, file_name, file_kind, sha256, size_bytes, "
                    "archive_path, uploaded_at, status, village_rows, township_rows, warnings) "
                    "VALUES (?, ?, ?, ?, 'xlsx', ?, ?, '', now(), 'active', 0, 0, 0)",
                    [n, township_code, period, path.name, hashlib.sha256(path.read_bytes()).hexdigest(),
                     path.stat().st_size])
        for _, raw in village.iloc[int(meta["village_first_row"]) - 1:int(meta["village_last_row"])].iterrows():
            rec = {}
            for fid, value in zip(ids, raw):
                if fid in (None, "") or (isinstance(fid, float) and np.isnan(fid)):
                    continue
                spec = vspec.field(fid)
                rec[fid], err = normalise(value, spec.type, spec.unit, spec.values)
                if err:
                    raise ValueError(f"{path.name}: {fid} {value!r}")
            if not rec.get("village_code"):
                continue
            for rule in rules:
                if rule.compiled_check is not None and rule.compiled_check.evaluate(rec) is False:
                    raise ValueError(f"{path.name}: {rule.id}")
            cols = ["submission_id", "township_code", "period"] + list(rec)
            con.execute(f"INSERT INTO village_values ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                        [n, township_code, period] + list(rec.values()))
            rows += 1
        township = sheets[meta["township_sheet"]]
        tids = list(township.iloc[int(meta["township_id_row"]) - 1])
        trow = township.iloc[int(meta["township_first_row"]) - 1]
        rec = {fid: normalise(v, tspec.field(fid).type, tspec.field(fid).unit, tspec.field(fid).values)[0]
               for fid, v in zip(tids, trow) if isinstance(fid, str)}
        cols = ["submission_id", "period"] + list(rec)
        con.execute(f"INSERT INTO township_values ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                    [n, period] + list(rec.values()))
    return rows


# ---------------------------------------------------------------------------- bench ingest

def bench_ingest(limit: int | None = None, workdir: Path | None = None) -> dict[str, Any]:
    """Ingest a province-sized batch twice — the product and the naive baseline — and compare."""
    from pipelines.ingest.pipeline import ingest_paths

    reg_db, files = build_batch(limit)
    work = Path(workdir or CACHE / "run")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    ours_db, base_db = work / "ours.duckdb", work / "baseline.duckdb"
    shutil.copy(reg_db, ours_db)
    shutil.copy(reg_db, base_db)

    con = db.connect(ours_db)
    mem_marks = []
    marks = {len(files) // 4, len(files) // 2, len(files)}

    def progress(i: int, n: int, report) -> None:
        if i in marks:
            mem_marks.append(_rss_mb())

    t0 = time.perf_counter()
    reports = ingest_paths(con, files, progress=progress)
    ours_s = time.perf_counter() - t0
    ours_peak = _peak_rss_mb()
    rejected = [r for r in reports if r.status == "rejected"]
    if rejected:
        raise RuntimeError(f"{len(rejected)} returns rejected, e.g. {rejected[0].problems[0].message}")
    rows = con.execute("SELECT count(*) FROM village_values").fetchone()[0]
    con.close()

    bcon = db.connect(base_db)
    t0 = time.perf_counter()
    base_rows = naive_ingest(bcon, files)
    baseline_s = time.perf_counter() - t0
    bcon.close()
    assert base_rows == rows, (base_rows, rows)
    return {
        "files": len(files), "rows": rows, "ours_s": round(ours_s, 2), "baseline_s": round(baseline_s, 2),
        "ours_rows_per_s": round(rows / ours_s), "baseline_rows_per_s": round(rows / baseline_s),
        "ratio": round(baseline_s / ours_s, 1), "peak_mb": round(ours_peak),
        "rss_mb_at_25_50_100pct": [round(m) for m in mem_marks],
        "registry": "湖南 (../shared/data)" if (SHARED_DATA / "hunan_units.csv").exists() else "generated",
    }
