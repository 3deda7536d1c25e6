"""Villages and communities are different units (issue 9 §1): committee types, targets' populations,
and the coverage (reported ÷ expected) every value carries.

A small region of its own, built like tests/fixture_region.py (real registry loader and ingest path)
but with 社区 beside the 村:

    测试市 439800000000 › 测试县 439801000000
      城关街道 439801001000  东街社区 (001)
      甲镇     439801100000  镇区社区 (001), 甲一村 (201), 甲二村 (202)
      乙镇     439801101000  乙一村 (201), 乙二村 (202)

2019Q1: every township reports; 乙二村 leaves 社区社会组织数 blank (a silent village for that field).
2019Q2: 乙镇 sends nothing (a silent township). Only 乙一村 is poor (first secretaries: ``among``).
And the same rules on the real 常德 registry (../shared/data; skipped when absent).
"""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipelines.catalog.definitions import SCHEMAS_DIR, load_catalog
from pipelines.compute.indicators import compute_wide, data_periods, sheet_variants
from pipelines.compute.rules import Grid
from pipelines.compute.scope import Scope, ScopeData, units_by_level
from pipelines.ingest.pipeline import ingest_uploads
from pipelines.periods import due_date
from pipelines.registry.load import list_units, load_registry
from pipelines.store.db import connect
from pipelines.units import committee_type_of, township_type_of
from pipelines.access.review import approve_all
from pipelines.access.roles import local_admin

ADMIN = local_admin("测试管理员")

CITY, COUNTY = "439800000000", "439801000000"
TJ, TA, TB = "439801001000", "439801100000", "439801101000"         # 城关街道, 甲镇, 乙镇
J1, AC, A1, A2 = "439801001001", "439801100001", "439801100201", "439801100202"
B1, B2 = "439801101201", "439801101202"
NAMES = {J1: "东街社区", AC: "镇区社区", A1: "甲一村", A2: "甲二村", B1: "乙一村", B2: "乙二村"}
UNITS = {TJ: [J1], TA: [AC, A1, A2], TB: [B1, B2]}
# 社区社会组织数 per unit (None: left blank), and whether it has an elder association
ORGS = {J1: 30, AC: 20, A1: 4, A2: 6, B1: 8, B2: None}
ELDER = {J1: True, AC: True, A1: True, A2: False, B1: True, B2: True}
PERIODS = ["2019Q1", "2019Q2"]
PLAN = "renkou-2019"

UNITS_CSV = "code,name,parent_code\n" + "\n".join([
    f"{CITY},测试市,430000000000", f"{COUNTY},测试县,{CITY}", f"{TJ},城关街道,{COUNTY}",
    f"{TA},甲镇,{COUNTY}", f"{TB},乙镇,{COUNTY}"] + [f"{v},{NAMES[v]},{t}" for t, vs in UNITS.items() for v in vs]) + "\n"

TARGET = ("clause: 一, source_clause: 测试, reading: 测试目标, comparator: '>=', deadline: 2020-12-31")
PLAN_YAML = f"""code: {PLAN}
title: 人口口径测试规划
doc_no: 测试
issuer: 测试市
issued: 2019-01-01
scope: "{CITY}"
scope_name: 测试市
scope_level: city
period_start: 2019-01-01
period_end: 2020-12-31
targets:
  - {{id: rk-orgs-village, title: 村均社会组织(村), population: 村, indicator: social_orgs_per_village,
     value: 5, eval: aggregate, level: city, {TARGET}}}
  - {{id: rk-orgs-both, title: 村均社会组织(村和社区), population: 村(社区), indicator: social_orgs_per_village,
     value: 5, eval: aggregate, level: city, {TARGET}}}
  - {{id: rk-orgs-community, title: 社区均社会组织, population: 社区, indicator: social_orgs_per_village,
     value: 5, eval: aggregate, level: city, {TARGET}}}
  - {{id: rk-elder-every, title: 每村老年协会, population: 村, indicator: elder_assoc_coverage,
     value: 100, eval: every_unit, level: village, {TARGET}}}
  - {{id: rk-first-secretary, title: 贫困村第一书记全覆盖, population: 村, indicator: first_secretary_coverage,
     value: 100, eval: every_unit, level: village, {TARGET}}}
"""


def _row(v: str) -> dict:
    pop = 900 if v in (J1, AC) else 600
    return {"village_code": v, "village_name": NAMES[v], "population_registered": pop + 100,
            "population_resident": pop, "households": pop // 3, "elderly_population": pop // 5,
            "social_orgs": "" if ORGS[v] is None else ORGS[v], "has_elder_association": "是" if ELDER[v] else "否",
            "flag_poor": "是" if v == B1 else "否", "flag_weak_party_org": "否", "flag_weak_economy": "否",
            "has_first_secretary": "是" if v == B1 else "否"}


def _csv(township: str, period: str) -> bytes:
    rows = [_row(v) for v in UNITS[township]]
    cols = list(rows[0])
    lines = [f"报告期:{period[:4]}年第{period[-1]}季度", ",".join(cols)]
    lines += [",".join(str(r[c]) for c in cols) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8-sig")


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    root = tmp_path_factory.mktemp("population")
    schemas = root / "schemas"
    shutil.copytree(SCHEMAS_DIR, schemas)
    (schemas / "plans" / f"{PLAN}.yaml").write_text(PLAN_YAML, encoding="utf-8")
    cat = load_catalog(schemas)
    (root / "units.csv").write_text(UNITS_CSV, encoding="utf-8")
    con = connect(root / "region.duckdb")
    load_registry(con, [root / "units.csv"], actor=ADMIN)
    for period in PERIODS:
        for township in (TJ, TA, TB):
            if township == TB and period == "2019Q2":
                continue                                       # 乙镇 silent in 2019Q2
            when = dt.datetime.combine(due_date(period, 15), dt.time(9)) - dt.timedelta(days=3)
            reports = ingest_uploads(con, [(f"{township}_{period}.csv", _csv(township, period))],
                                     uploaded_at=when, actor=ADMIN)
            assert not [p for r in reports for p in r.errors], [p.message for r in reports for p in r.errors]
    approve_all(con, ADMIN, [i for (i,) in con.execute("SELECT id FROM submissions").fetchall()])
    yield con, cat
    con.close()


def _scope(con, cat) -> Scope:
    periods = data_periods(con)
    assert periods == PERIODS
    grid = Grid(periods)
    values = list(compute_wide(con, cat).values())
    data = ScopeData(cat, grid, units_by_level(con, [CITY[:4]], grid), values, None, [CITY[:4]])
    return Scope(cat.plans[PLAN], [CITY], "city", [CITY[:4]], data, None)


def _target(cat, tid: str):
    return cat.target(tid)[1]


def _cell(scope: Scope, level: str, code: str, arrays, period: str = "2019Q1"):
    i = scope.units[level].index.get_loc(code)
    return tuple(a[i, PERIODS.index(period)] for a in arrays)


# ------------------------------------------------------------------ the registry's kinds

def test_committee_types_from_the_codes(region):
    con, _ = region
    rows = {u["code"]: u for u in list_units(con, level="village")}
    assert {c: u["committee_type"] for c, u in rows.items()} == {
        J1: "居委会", AC: "居委会", A1: "村委会", A2: "村委会", B1: "村委会", B2: "村委会"}
    assert committee_type_of("439801100450") == "其他"
    assert (township_type_of(TJ), township_type_of(TA), township_type_of("439801200000")) == ("街道", "镇", "乡")


def test_committee_type_from_the_file_wins(tmp_db, tmp_path):
    f = tmp_path / "units.csv"
    f.write_text("代码,名称,上级代码,类型,城乡分类代码\n"
                 f"{TA},甲镇,{COUNTY},,\n"
                 f"{TA[:9]}201,新城社区,{TA},居委会,111\n"
                 f"{TA[:9]}202,甲二村,{TA},,220\n"
                 f"{TA[:9]}450,某农场,{TA},\"其他(400+,含虚拟生活区)\",\n", encoding="utf-8")
    report = load_registry(tmp_db, [f], actor=ADMIN)
    assert report["committee_types"] == {"村委会": 1, "居委会": 1, "其他": 1}
    got = {u["code"][-3:]: (u["committee_type"], u["urban_rural_code"]) for u in list_units(tmp_db, level="village")}
    assert got == {"201": ("居委会", "111"), "202": ("村委会", "220"), "450": ("其他", None)}
    f.write_text("代码,名称,上级代码,类型,城乡分类代码\n"
                 f"{TA},甲镇,{COUNTY},,\n{TA[:9]}201,新城社区,{TA},街道办,\n{TA[:9]}202,甲二村,{TA},,999\n",
                 encoding="utf-8")
    from pipelines.errors import ProblemsError
    with pytest.raises(ProblemsError) as err:
        load_registry(tmp_db, [f], actor=ADMIN)
    assert sorted(p.code for p in err.value.problems) == ["REG015", "REG016"]


def test_old_database_is_migrated(tmp_path):
    """A units table without the new columns gets them, the types derived from the codes."""
    import duckdb
    path = tmp_path / "old.duckdb"
    old = duckdb.connect(str(path))
    old.execute("CREATE TABLE units (code VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, level VARCHAR NOT NULL, "
                "parent_code VARCHAR, lon DOUBLE, lat DOUBLE, population INTEGER, elderly_population INTEGER, "
                "valid_from DATE, valid_to DATE, merged_into VARCHAR, source VARCHAR, loaded_at TIMESTAMP)")
    old.execute(f"INSERT INTO units (code, name, level) VALUES ('{A1}', '甲一村', 'village'), "
                f"('{AC}', '镇区社区', 'village'), ('{TA}', '甲镇', 'township')")
    old.close()
    con = connect(path)
    try:
        got = dict(con.execute("SELECT code, committee_type FROM units ORDER BY code").fetchall())
        assert got == {AC: "居委会", A1: "村委会", TA: None}
    finally:
        con.close()


# ------------------------------------------------------------------ values by population

def test_only_the_village_committees_count_for_a_village_target(region):
    """甲镇 has 镇区社区 (20 organisations), 甲一村 (4) and 甲二村 (6): for a 村 target the value is
    (4 + 6) / 2 = 5 over 2 expected villages; for 村(社区) (4 + 6 + 20) / 3 = 10 over 3; for 社区 20 / 1."""
    con, cat = region
    scope = _scope(con, cat)
    for tid, value, expected in (("rk-orgs-village", 5.0, 2), ("rk-orgs-both", 10.0, 3), ("rk-orgs-community", 20.0, 1)):
        t = _target(cat, tid)
        V, NA, REP, ROWS, EXP = scope.matrices(t, "township")
        assert _cell(scope, "township", TA, (V, REP, EXP, NA)) == (value, expected, expected, False), tid
        rep, exp = scope.coverage(t, "township")
        assert _cell(scope, "township", TA, (rep, exp)) == (expected, expected), tid
    # the plain indicator (no population) still counts every row
    V, *_ = scope.matrices("social_orgs_per_village", "township")
    assert _cell(scope, "township", TA, (V,)) == (10.0,)
    # 城关街道 has only a 社区: no unit of a 村 target is expected there — not applicable, no value
    t = _target(cat, "rk-orgs-village")
    V, NA, REP, ROWS, EXP = scope.matrices(t, "township")
    assert _cell(scope, "township", TJ, (NA, EXP)) == (True, 0) and np.isnan(_cell(scope, "township", TJ, (V,))[0])
    V, NA, REP, ROWS, EXP = scope.matrices(_target(cat, "rk-orgs-community"), "township")
    assert _cell(scope, "township", TJ, (V, EXP, NA)) == (30.0, 1, False)


def test_a_silent_village_lowers_the_coverage(region):
    """乙镇 2019Q1: 乙二村 left 社区社会组织数 blank — 1 of 2 villages reported; the value is 乙一村's."""
    con, cat = region
    scope = _scope(con, cat)
    t = _target(cat, "rk-orgs-village")
    V, NA, REP, ROWS, EXP = scope.matrices(t, "township")
    assert _cell(scope, "township", TB, (V, REP, EXP)) == (8.0, 1, 2)
    rep, exp = scope.coverage(t, "township")
    assert _cell(scope, "township", TB, (rep, exp)) == (1, 2)
    # county 2019Q1: 甲一村, 甲二村, 乙一村 of the four 村 reported: (4 + 6 + 8) / 3 = 6
    V, NA, REP, ROWS, EXP = scope.matrices(t, "county")
    assert _cell(scope, "county", COUNTY, (V, REP, EXP)) == (6.0, 3, 4)
    # the village level of an every-unit 村 target: the 社区 are not applicable, the 村 expected
    e = _target(cat, "rk-elder-every")
    V, NA, REP, ROWS, EXP = scope.matrices(e, "village")
    got = {c: _cell(scope, "village", c, (V, NA, EXP)) for c in NAMES}
    assert got[AC][1] and got[J1][1] and got[AC][2] == 0 == got[J1][2]
    assert {c: got[c] for c in (A1, A2, B1, B2)} == {A1: (100.0, False, 1), A2: (0.0, False, 1),
                                                    B1: (100.0, False, 1), B2: (100.0, False, 1)}
    rep, exp = scope.coverage(e, "township")
    assert _cell(scope, "township", TA, (rep, exp)) == (2, 2)
    assert _cell(scope, "township", TJ, (rep, exp)) == (0, 0)


def test_a_silent_township_makes_the_county_incomplete(region):
    """2019Q2: 乙镇 sends nothing — the county's 村 value rests on 甲镇's 2 of its 4 villages
    (coverage 0.5), and the every-unit share on 2 of 4 expected villages."""
    con, cat = region
    scope = _scope(con, cat)
    t = _target(cat, "rk-orgs-village")
    rep, exp = scope.coverage(t, "county")
    assert _cell(scope, "county", COUNTY, (rep, exp), "2019Q2") == (2, 4)
    assert _cell(scope, "county", COUNTY, (rep, exp), "2019Q1") == (3, 4)
    rep, exp = scope.coverage(t, "township")
    assert _cell(scope, "township", TB, (rep, exp), "2019Q2") == (0, 2)
    both = _target(cat, "rk-orgs-both")
    rep, exp = scope.coverage(both, "city")
    assert _cell(scope, "city", CITY, (rep, exp), "2019Q2") == (4, 6)   # 东街社区, 镇区社区, 甲一村, 甲二村
    e = _target(cat, "rk-elder-every")
    rep, exp = scope.coverage(e, "county")
    assert _cell(scope, "county", COUNTY, (rep, exp), "2019Q2") == (2, 4)
    assert _cell(scope, "county", COUNTY, (rep, exp), "2019Q1") == (4, 4)


def test_one_scan_per_sheet_with_a_column_per_population(region):
    """The sums carry the plain indicator first (k = its position) and one column group per
    population the targets use; variants of one population share their expected-units column."""
    con, cat = region
    wide = compute_wide(con, cat, indicators=["social_orgs_per_village", "elder_assoc_coverage"])
    sv = wide["village"]
    keys = [v.key for v in sv.variants]
    assert keys[:2] == [("social_orgs_per_village", None, None), ("elder_assoc_coverage", None, None)]
    assert set(keys[2:]) >= {("social_orgs_per_village", "村", None), ("social_orgs_per_village", "社区", None),
                             ("social_orgs_per_village", "村(社区)", None), ("elder_assoc_coverage", "村", None)}
    assert sheet_variants(cat, "village", sv.indicators) == sv.variants
    k = sv.column(cat, "elder_assoc_coverage", "村")
    j = sv.column(cat, "social_orgs_per_village", "村")
    assert sv.coverage_columns(cat, k)[1] == sv.coverage_columns(cat, j)[1]


# ------------------------------------------------------------------ the real 常德 registry

@pytest.fixture(scope="module")
def changde(tmp_path_factory):
    path = Path(__file__).resolve().parents[2] / "shared" / "data"
    if not (path / "changde_villages.csv").is_file():
        pytest.skip("../shared/data 不存在:跳过真实名录测试")
    con = connect(tmp_path_factory.mktemp("changde") / "cd.duckdb")
    load_registry(con, [path / "changde_units.csv", path / "changde_villages.csv"], actor=ADMIN)
    yield con
    con.close()


def test_changde_committee_types(changde):
    types = dict(changde.execute("SELECT committee_type, count(*) FROM units WHERE level = 'village' "
                                 "GROUP BY 1").fetchall())
    assert types == {"居委会": 763, "村委会": 1502, "其他": 8}
    assert sum(types.values()) == 2273
    # the file's types agree with the NBS rule on the codes
    for code, ctype in changde.execute("SELECT code, committee_type FROM units WHERE level = 'village'").fetchall():
        assert committee_type_of(code) == ctype, code
    kinds = dict(changde.execute(
        "SELECT CASE WHEN substr(code, 7, 3) BETWEEN '001' AND '099' THEN '街道' WHEN substr(code, 7, 3) "
        "BETWEEN '100' AND '199' THEN '镇' WHEN substr(code, 7, 3) BETWEEN '200' AND '399' THEN '乡' ELSE '其他' END, "
        "count(*) FROM units WHERE level = 'township' GROUP BY 1").fetchall())
    assert kinds == {"街道": 43, "镇": 107, "乡": 19, "其他": 9}


def test_changde_expected_units_follow_the_population(changde, tmp_path):
    """Expected units per population on the real registry (no returns yet: nothing reported), and a
    township with both kinds where only its 村 are expected for a 村 target."""
    schemas = tmp_path / "schemas"
    shutil.copytree(SCHEMAS_DIR, schemas)
    (schemas / "plans" / f"{PLAN}.yaml").write_text(PLAN_YAML.replace(CITY, "430700000000"), encoding="utf-8")
    cat = load_catalog(schemas)
    grid = Grid(["2024Q1"])
    values = list(compute_wide(changde, cat, indicators=["social_orgs_per_village"], periods=["2024Q1"],
                               prefixes=["4307"]).values())
    data = ScopeData(cat, grid, units_by_level(changde, ["4307"], grid), values, None, ["4307"])
    scope = Scope(cat.plans[PLAN], ["430700000000"], "city", ["4307"], data, None)
    city = scope.units["city"].index.get_loc("430700000000")
    got = {tid: tuple(int(a[city, 0]) for a in scope.coverage(_target(cat, tid), "city"))
           for tid in ("rk-orgs-village", "rk-orgs-community", "rk-orgs-both")}
    assert got == {"rk-orgs-village": (0, 1502), "rk-orgs-community": (0, 763), "rk-orgs-both": (0, 2265)}
    # a township with 社区 and 村: only its 村委会 are expected for the 村 target
    mixed = changde.execute(
        "SELECT parent_code, count(*) FILTER (WHERE committee_type = '村委会'), "
        "count(*) FILTER (WHERE committee_type = '居委会') FROM units WHERE level = 'village' GROUP BY 1 "
        "HAVING count(*) FILTER (WHERE committee_type = '村委会') > 0 AND "
        "count(*) FILTER (WHERE committee_type = '居委会') > 0 ORDER BY 1 LIMIT 1").fetchone()
    town, n_cun, n_ju = mixed
    i = scope.units["township"].index.get_loc(town)
    rep, exp = scope.coverage(_target(cat, "rk-orgs-village"), "township")
    assert (rep[i, 0], exp[i, 0]) == (0, n_cun)
    rep, exp = scope.coverage(_target(cat, "rk-orgs-both"), "township")
    assert exp[i, 0] == n_cun + n_ju


def test_village_values_as_refresh_reads_them(region):
    """The villages' own values (``unit_values_sql`` → ``UnitValues``, what refresh reads): a 社区 is not
    applicable to a 村 target, a 村 silent on a field is expected but not reported, and a village whose
    ``among`` was false is not expected in later quarters without a return either."""
    from pipelines.compute.indicators import UnitValues, period_frame, register_frame, unit_values_sql
    con, cat = region
    inds = [cat.indicators["social_orgs_per_village"], cat.indicators["elder_assoc_coverage"]]
    register_frame(con, "_rt_periods", period_frame(PERIODS))
    try:
        sql = unit_values_sql("village", inds, None, cat, [CITY[:4]])
        res = con.execute(f"SELECT CAST(unit_code AS BIGINT) AS unit_int, 4 AS lrank, * EXCLUDE (unit_code) "
                          f"FROM ({sql.sql})", list(sql.params)).fetchnumpy()
    finally:
        con.unregister("_rt_periods")
    grid = Grid(PERIODS)
    data = ScopeData(cat, grid, units_by_level(con, [CITY[:4]], grid),
                     [UnitValues("village", inds, res, frozenset({"village"}))], None, [CITY[:4]])
    scope = Scope(cat.plans[PLAN], [CITY], "city", [CITY[:4]], data, None)
    t = _target(cat, "rk-orgs-village")
    V, NA, REP, ROWS, EXP = scope.matrices(t, "village")
    rep, exp = scope.coverage(t, "village")
    got = {c: _cell(scope, "village", c, (V, NA, rep, exp)) for c in NAMES}
    assert got[A1] == (4.0, False, 1, 1) and got[B1] == (8.0, False, 1, 1)
    assert got[AC][1:] == (True, 0, 0) and got[J1][1:] == (True, 0, 0)
    assert np.isnan(got[B2][0]) and got[B2][1:] == (False, 0, 1)            # silent on the field
    q2 = {c: _cell(scope, "village", c, (NA, rep, exp), "2019Q2") for c in (A1, B1)}
    assert q2 == {A1: (False, 1, 1), B1: (False, 0, 1)}                        # 乙镇 sent nothing


def test_among_expects_the_units_whose_latest_known_flag_holds(region):
    """First secretaries are expected only in flagged villages (``among``): 乙一村 in 2019Q1 (reported),
    and still in 2019Q2 when 乙镇 sends nothing (its latest known flag is true); 乙二村 not (false
    in its latest return); 甲镇's villages not (reported false)."""
    con, cat = region
    scope = _scope(con, cat)
    t = _target(cat, "rk-first-secretary")
    rep, exp = scope.coverage(t, "county")
    assert _cell(scope, "county", COUNTY, (rep, exp), "2019Q1") == (1, 1)
    assert _cell(scope, "county", COUNTY, (rep, exp), "2019Q2") == (0, 1)
    V, NA, REP, ROWS, EXP = scope.matrices(t, "township")
    assert _cell(scope, "township", TA, (NA, EXP)) == (True, 0)
    assert _cell(scope, "township", TB, (V, REP, EXP)) == (100.0, 1, 1)
    assert _cell(scope, "township", TB, (NA, REP, EXP), "2019Q2") == (False, 0, 1)


def test_every_unit_target_without_population_sums(region):
    """A 社区 every-unit target is judged unit by unit — no sums over its population are computed
    (``needs_sums``): its units and coverage come from the source units, 村 masked out."""
    con, cat = region
    t = _target(cat, "rk-elder-every").model_copy(update={"id": "rk-elder-community", "population": "社区"})
    scope = _scope(con, cat)
    sv = next(v for v in scope.data.values if v.sheet == "village")
    assert not sv.has_column(cat, "elder_assoc_coverage", "社区")
    V, NA, REP, ROWS, EXP = scope.matrices(t, "village")
    got = {c: _cell(scope, "village", c, (NA, EXP)) for c in NAMES}
    assert got == {J1: (False, 1), AC: (False, 1), A1: (True, 0), A2: (True, 0), B1: (True, 0), B2: (True, 0)}
    rep, exp = scope.data.coverage(t, "county", None, "village")
    assert _cell(scope, "county", COUNTY, (rep, exp)) == (2, 2)
