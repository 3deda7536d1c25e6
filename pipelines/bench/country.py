"""The synthetic country of ``bench progress``: units, 12 quarters of returns and county records
generated with SQL straight into a DuckDB file (no Excel), cached under data/generated/bench/."""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from pipelines.catalog.definitions import Catalog, PlanApplication, catalog
from pipelines.periods import due_date, period_bounds, quarters
from pipelines.resources import generated_dir
from pipelines.store import db

CACHE = generated_dir("bench")
PROVINCES = ["11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41",
             "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65"]
FIRST, LAST = "2018Q4", "2021Q3"          # 12 quarters: the plans of 2018 and of 2021 both have data
GENERATOR_VERSION = "1"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024



def _u(*parts: str) -> str:
    """SQL for a uniform number in [0, 1) from a hash of the given SQL expressions."""
    return f"((hash({', '.join(parts)}) % 1000003) / 1000003.0)"


# village fields: SQL over v (village code), t (progress 0…1 of the quarter), s (township effect −0.5…0.5)
def _village_exprs(fields: list[Any]) -> dict[str, str]:
    def u(name: str) -> str:
        return _u("code", "pidx", f"'{name}'")

    def yes(name: str, start: float, gain: float) -> str:
        # adoption: a village's fixed threshold against a rising township level
        return f"({_u('code', f'{chr(39)}{name}{chr(39)}')} < least(0.99, {start} + {gain} * t + 0.25 * s))"

    pop = f"(600 + floor({_u('code', chr(39) + 'pop' + chr(39))} * 3900))"
    e = {
        "village_code": "code", "village_name": "'村' || substr(code, 10, 3)",
        "population_registered": f"CAST({pop} AS BIGINT)",
        "population_resident": f"CAST(floor({pop} * (0.8 + 0.15 * {u('res')})) AS BIGINT)",
        "households": f"CAST(floor({pop} / 3) AS BIGINT)",
        "elderly_population": f"CAST(floor({pop} * (0.18 + 0.12 * {u('old')})) AS BIGINT)",
        "social_orgs": f"CAST(floor((2 + 9 * t + 3 * s) * (0.5 + {u('org')})) AS BIGINT)",
        "has_elder_association": yes("elder", 0.5, 0.45),
        "has_service_platform": yes("platform", 0.65, 0.35),
        "platform_area_m2": f"CASE WHEN {yes('platform', 0.65, 0.35)} THEN 300 + floor(600 * {_u('code', chr(39) + 'area' + chr(39))}) END",
        "platform_service_area_m2": f"CASE WHEN {yes('platform', 0.65, 0.35)} THEN floor((300 + floor(600 * {_u('code', chr(39) + 'area' + chr(39))})) * (0.45 + 0.45 * t * {u('sa')} + 0.1 * {u('sb')})) END",
        "has_village_rules": yes("rules", 0.8, 0.2),
        "village_rules_revised": yes("revised", 0.1, 0.9),
        "rules_households_reached": f"CAST(floor({pop} / 3 * least(1, 0.5 + 0.5 * t + 0.1 * {u('reach')})) AS BIGINT)",
        "rules_surveyed": "CAST(50 AS BIGINT)",
        "rules_aware": f"CAST(floor(50 * least(1, 0.6 + 0.4 * t * {u('aw')} + 0.1 * s + 0.05)) AS BIGINT)",
        "micro_unit_pilot": yes("micro", 0.05, 0.95),
        "has_left_behind_home": yes("lb", 0.45, 0.55),
        "has_elder_care_facility": yes("fac", 0.35, 0.4),
        "elder_care_beds": f"CAST(floor({pop} * (0.18 + 0.12 * {_u('code', chr(39) + 'old2' + chr(39))}) * (0.02 + 0.02 * t) * (0.6 + 0.8 * {u('beds')})) AS BIGINT)",
        "tekun_dependent": f"CAST(floor(8 * {_u('code', chr(39) + 'tk' + chr(39))}) AS BIGINT)",
        "tekun_dependent_cared": f"CAST(floor(floor(8 * {_u('code', chr(39) + 'tk' + chr(39))}) * least(1, 0.3 + 0.5 * t * {u('tc')} + 0.1)) AS BIGINT)",
        "burials": f"CAST(floor(6 * {u('bur')}) AS BIGINT)",
        "eco_burials": f"CAST(floor(floor(6 * {u('bur')}) * least(1, 0.2 + 0.5 * t + 0.2 * {u('eco')})) AS BIGINT)",
        "volunteers": f"CAST(floor({pop} * 0.8 * (0.05 + 0.1 * t * {u('vol')})) AS BIGINT)",
        "social_work_professionals": f"CAST(floor(3 * t * {u('swp')} + {u('swq')}) AS BIGINT)",
        "community_social_workers": f"CAST(floor(2 * t * {u('csw')} + 0.5 * {u('csx')}) AS BIGINT)",
        "reserve_secretary": f"CAST(floor(2 * {u('rs')} + t) AS BIGINT)",
        "reserve_cadre": f"CAST(floor(3 * {u('rc')} + t) AS BIGINT)",
        "reserve_activist": f"CAST(floor(4 * {u('ra')} + 1.5 * t) AS BIGINT)",
        "flag_weak_party_org": f"({_u('code', chr(39) + 'wpo' + chr(39))} < 0.05)",
        "flag_poor": f"({_u('code', chr(39) + 'poor' + chr(39))} < 0.1)",
        "flag_weak_economy": f"({_u('code', chr(39) + 'wecon' + chr(39))} < 0.15)",
        "has_first_secretary": yes("fs", 0.6, 0.4),
        "demo_village_level": f"CASE WHEN pidx >= 8084 AND {_u('code', chr(39) + 'demo' + chr(39))} < 0.02 * (pidx - 8083) "
                              f"THEN (CASE WHEN {_u('code', chr(39) + 'dl' + chr(39))} < 0.7 THEN '区级' "
                              f"WHEN {_u('code', chr(39) + 'dl' + chr(39))} < 0.95 THEN '市级' ELSE '国家级' END) ELSE '无' END",
        "community_type": f"CASE WHEN {u('ct')} < 0.3 - 0.2 * t THEN '薄弱型' WHEN {u('ct')} < 0.8 - 0.3 * t THEN '提升型' "
                          f"WHEN {u('ct')} < 0.97 - 0.05 * t THEN '完善型' ELSE '示范型' END",
        "weak_help_designated": f"({_u('code', 'year', chr(39) + 'wh' + chr(39))} < 0.05)",
        "points_system": yes("points", 0.1, 0.6),
        "has_legal_adviser": yes("adv", 0.4, 0.6),
        "has_legal_service_station": yes("station", 0.3, 0.7),
        "rule_of_law_demo": yes("rol", 0.08, 0.3),
        "remarks": "CAST(NULL AS VARCHAR)",
    }
    return {f.id: e.get(f.id, "NULL") for f in fields}


def _township_exprs(fields: list[Any]) -> dict[str, str]:
    def yes(name: str, start: float, gain: float) -> str:
        return f"({_u('code', chr(39) + name + chr(39))} < least(0.99, {start} + {gain} * t + 0.25 * s))"

    e = {
        "township_code": "code",
        "has_sw_station": yes("sws", 0.2, 0.8), "judicial_office_standardised": yes("jud", 0.3, 0.6),
        "has_gov_service_centre": yes("gov", 0.5, 0.5),
        "demo_town_level": f"CASE WHEN pidx >= 8084 AND {_u('code', chr(39) + 'dt' + chr(39))} < 0.05 THEN '市级申报' ELSE '无' END",
        "party_members": "CAST(300 + (hash(code) % 400) AS BIGINT)",
        "party_members_under_35": f"CAST(floor((300 + (hash(code) % 400)) * (0.15 + 0.05 * {_u('code', 'pidx', chr(39) + 'y35' + chr(39))})) AS BIGINT)",
        "party_members_college": "CAST(floor((300 + (hash(code) % 400)) * (0.18 + 0.1 * t)) AS BIGINT)",
        "half_year_report_date": "CASE WHEN quarter IN (2, 3) THEN make_date(year, 7, 1 + CAST(hash(code, year) % 9 AS INTEGER)) END",
        "year_end_report_date": "CASE WHEN quarter = 4 THEN make_date(year + 1, 1, 1 + CAST(hash(code, year) % 9 AS INTEGER)) END",
    }
    return {f.id: e.get(f.id, "NULL") for f in fields}


def build_country(path: Path, provinces: int = 31, cities: int = 10, counties: int = 9,
                  first: str = FIRST, last: str = LAST, progress: bool = True) -> dict[str, Any]:
    """Generate the synthetic country into the DuckDB file ``path`` (overwritten)."""
    cat = catalog()
    if path.exists():
        path.unlink()
    con = db.connect(path)
    try:
        return _build(con, cat, provinces, cities, counties, first, last, progress)
    finally:
        con.close()


def _build(con: duckdb.DuckDBPyConnection, cat: Catalog, provinces: int, cities: int, counties: int,
           first: str, last: str, progress: bool) -> dict[str, Any]:
    t0 = time.perf_counter()
    say = (lambda s: print(s, file=sys.stderr, flush=True)) if progress else (lambda s: None)
    provs = pd.DataFrame({"p": PROVINCES[:provinces]})
    con.register("_provs", provs)
    say("生成区划 …")
    con.execute(f"""
        CREATE TEMP TABLE _prov AS SELECT p || '0000000000' AS code, p FROM _provs;
        CREATE TEMP TABLE _city AS SELECT p || lpad(CAST(c AS VARCHAR), 2, '0') || '00000000' AS code, p
            FROM _prov, range(1, {cities} + 1) r(c);
        CREATE TEMP TABLE _county AS SELECT substr(c.code, 1, 4) || lpad(CAST(k AS VARCHAR), 2, '0') || '000000' AS code
            FROM _city c, range(1, {counties} + 1) r(k);
        CREATE TEMP TABLE _town AS SELECT substr(k.code, 1, 6) || CAST(100 + t AS VARCHAR) || '000' AS code
            FROM _county k, range(1, 17) r(t) WHERE t <= 12 + hash(k.code) % 4;
        CREATE TEMP TABLE _village AS SELECT substr(w.code, 1, 9) || CAST(200 + v AS VARCHAR) AS code
            FROM _town w, range(1, 18) r(v) WHERE v <= 9 + hash(w.code) % 9;
    """)
    con.execute("""
        INSERT INTO units (code, name, level, parent_code, population, source)
        SELECT code, '合成省' || substr(code, 1, 2), 'province', NULL, NULL, 'bench' FROM _prov
        UNION ALL SELECT code, '合成市' || substr(code, 1, 4), 'city', substr(code, 1, 2) || '0000000000', NULL, 'bench' FROM _city
        UNION ALL SELECT code, '合成县' || substr(code, 1, 6), 'county', substr(code, 1, 4) || '00000000', NULL, 'bench' FROM _county
        UNION ALL SELECT code, '合成镇' || substr(code, 1, 9), 'township', substr(code, 1, 6) || '000000', NULL, 'bench' FROM _town
        UNION ALL SELECT code, '合成村' || code, 'village', substr(code, 1, 9) || '000', NULL, 'bench' FROM _village
    """)
    # a few village merges: 0.2 % of villages end in 2020Q2
    con.execute("UPDATE units SET valid_to = DATE '2020-05-15' WHERE level = 'village' AND hash(code, 'merge') % 500 = 0")
    periods = quarters(first, last)
    due_day = cat.settings.reporting.due_day
    per = pd.DataFrame({"period": periods,
                        "pidx": [int(p[:4]) * 4 + int(p[-1]) - 1 for p in periods],
                        "year": [int(p[:4]) for p in periods], "quarter": [int(p[-1]) for p in periods],
                        "t": [i / (len(periods) - 1) for i in range(len(periods))],
                        "due": [due_date(p, due_day) for p in periods],
                        "start": [period_bounds(p)[0] for p in periods]})
    con.register("_per", per)
    say("生成报送记录 …")
    # 2 % of returns never arrive, 10 % late, 3 % re-uploaded (the first version superseded)
    con.execute("""
        CREATE TEMP TABLE _subs AS
        SELECT row_number() OVER (ORDER BY p.pidx, w.code, v.version) AS id, w.code AS township_code, p.period, p.pidx,
               v.version,
               CAST(p.due AS TIMESTAMP) - INTERVAL 12 DAY + to_seconds(CAST(hash(w.code, p.period, v.version) % 1000000 AS BIGINT))
                 + CASE WHEN hash(w.code, p.period, 'late') % 10 = 0 THEN INTERVAL 20 DAY ELSE INTERVAL 0 DAY END
                 + CASE WHEN v.version = 2 THEN INTERVAL 25 DAY ELSE INTERVAL 0 DAY END AS uploaded_at,
               hash(w.code, p.period, 'redo') % 33 = 0 AS redone
        FROM _town w CROSS JOIN _per p CROSS JOIN (SELECT 1 AS version UNION ALL SELECT 2) v
        WHERE hash(w.code, p.period, 'missing') % 50 <> 0
          AND (v.version = 1 OR hash(w.code, p.period, 'redo') % 33 = 0)
    """)
    con.execute("""
        INSERT INTO submissions (id, township_code, period, file_name, file_kind, sha256, size_bytes, archive_path,
            template_version, uploaded_at, uploaded_by, status, superseded_by, village_rows, township_rows, warnings)
        SELECT id, township_code, period, township_code || '_' || period || '.xlsx', 'xlsx', md5(CAST(id AS VARCHAR)), 0,
               '', 'bench', uploaded_at, 'bench',
               CASE WHEN redone AND version = 1 THEN 'superseded' ELSE 'active' END,
               CASE WHEN redone AND version = 1 THEN id + 1 END, 0, 1, 0
        FROM _subs
    """)
    con.execute("SELECT setval('submission_seq', (SELECT max(id) FROM submissions))").fetchall()
    say("生成村级数据 …")
    vfields = cat.sheets["village"].fields
    vex = _village_exprs(vfields)
    # the superseded version differs a little: it is generated with a shifted progress
    cols = ", ".join(f'{expr} AS "{fid}"' for fid, expr in vex.items() if fid != "village_code")
    con.execute(f"""
        INSERT INTO village_values BY NAME
        SELECT submission_id, township_code, period, code AS village_code, 0 AS source_row, {cols}
        FROM (SELECT s.id AS submission_id, s.township_code, s.period, v.code, s.pidx, s.t, v.s, s.year, s.quarter
              FROM (SELECT s.*, p.t - CASE WHEN s.version = 1 AND s.redone THEN 0.05 ELSE 0 END AS t, p.year,
                           p.quarter, p.start FROM _subs s JOIN _per p USING (period)) s
              JOIN (SELECT code, substr(code, 1, 9) || '000' AS township,
                           ((hash(substr(code, 1, 9)) % 1000) / 1000.0) - 0.5 AS s FROM _village) v
                ON v.township = s.township_code
              JOIN units u ON u.code = v.code
              WHERE u.valid_to IS NULL OR u.valid_to >= s.start)
    """)
    tfields = cat.sheets["township"].fields
    tex = _township_exprs(tfields)
    tcols = ", ".join(f'{expr} AS "{fid}"' for fid, expr in tex.items() if fid != "township_code")
    con.execute(f"""
        INSERT INTO township_values BY NAME
        SELECT submission_id, township_code, period, 0 AS source_row, {tcols}
        FROM (SELECT s.id AS submission_id, s.township_code, s.period, s.township_code AS code, s.pidx, p.t, p.year,
                     p.quarter, ((hash(substr(s.township_code, 1, 9)) % 1000) / 1000.0) - 0.5 AS s
              FROM _subs s JOIN _per p USING (period))
    """)
    say("生成区县年度数据与督办任务 …")
    years = sorted({int(p[:4]) for p in periods})
    con.register("_years", pd.DataFrame({"year": years}))
    con.execute("""
        INSERT INTO county_values (county_code, year, recorded_at, recorded_by, innovation_experiments, implementation_plan_filed)
        SELECT k.code, y.year, make_timestamp(y.year + 1, 1, 10, 9, 0, 0), 'bench',
               CAST(hash(k.code, y.year) % 3 AS BIGINT),
               DATE '2018-11-10' + CAST(hash(k.code, 'plan') % 40 AS INTEGER)
        FROM _county k, _years y
    """)
    rows = []
    for plan in cat.plans.values():
        for t in plan.targets:
            if t.eval == "milestone" and t.lead:
                for i, unit in enumerate(dict.fromkeys(t.lead + t.partners)):
                    done = t.deadline - dt.timedelta(days=10 * (i % 3) - 5)
                    rows.append({"plan": plan.code, "recorded_at": dt.datetime.combine(done, dt.time(10)),
                                 "recorded_by": "bench", "task_id": t.id, "unit": unit, "status": "已完成",
                                 "done_date": done, "progress_note": None, "evidence": None})
    if rows:
        con.register("_tasks", pd.DataFrame(rows))
        con.execute("INSERT INTO task_values BY NAME SELECT * FROM _tasks")
    counts = dict(con.execute("SELECT level, count(*) FROM units GROUP BY level").fetchall())
    counts["village_rows"] = con.execute("SELECT count(*) FROM village_values").fetchall()[0][0]
    counts["submissions"] = con.execute("SELECT count(*) FROM submissions").fetchall()[0][0]
    con.execute("CHECKPOINT")
    counts["seconds"] = round(time.perf_counter() - t0, 1)
    return counts


def country(provinces: int = 31, cities: int = 10, counties: int = 9, progress: bool = True) -> Path:
    """The cached synthetic country database for these sizes (built on first use)."""
    key = hashlib.sha256(f"{GENERATOR_VERSION}:{provinces}:{cities}:{counties}:{FIRST}:{LAST}:"
                         f"{catalog().template_version}:{sorted(f.id for s in catalog().sheets.values() for f in s.fields)}"
                         .encode()).hexdigest()[:12]
    base = CACHE / f"progress-{key}"
    path = base / "country.duckdb"
    if not path.exists():
        base.mkdir(parents=True, exist_ok=True)
        tmp = base / "building.duckdb"
        if progress:
            print(f"生成全国规模合成数据(只在第一次运行时生成,之后复用):{path}", file=sys.stderr)
        build_country(tmp, provinces, cities, counties, progress=progress)
        os.replace(tmp, path)
    return path


def bench_catalog(con: duckdb.DuckDBPyConnection, cat: Catalog | None = None) -> Catalog:
    """The catalog with every plan applied to every province of the database."""
    cat = cat or catalog()
    provinces = [r[0] for r in con.execute("SELECT code FROM units WHERE level = 'province' ORDER BY code").fetchall()]
    applies = [PlanApplication(plan=p, unit=c, note="bench") for p in cat.plans for c in provinces]
    settings = cat.settings.model_copy(update={"applies": applies})
    return cat.model_copy(update={"settings": settings})
