"""A tiny region with hand-made returns, for the indicator, progress and completeness tests.

测试市 439800000000 › 测试县 439801000000 › 甲镇 (A1, A2, A3 — A3 merged away on 2020-05-15),
乙镇 (B1, B2) and 丙镇 (no villages). Eight quarters, 2019Q1 … 2020Q4, loaded through the real
ingest path (CSV returns of the 村级情况 sheet, ``ingest_uploads``) with chosen upload times:

- 乙镇 sends nothing for 2019Q3 (a missing quarter) and nothing yet for 2020Q4;
- 甲镇's 2019Q2 return is sent on time (2019-07-10) with A2 lacking an elder association, then
  re-sent after the cutoff (2019-08-20) with A2 having one: as of 2019Q2 the first version counts;
- 乙镇's 2020Q1 return is 5 days late.

The test catalog is a copy of schemas/ plus an indicator (weak_economy_share: lower is better)
and a plan ``ceshi-2019`` (scope 测试市, 2019-01-01 … 2020-12-31) whose targets exercise every
rule; its county sheet records and task updates are stored through ``record_county_values`` and
``record_task_update``. Every return is approved (``approve_everything``), as a county would.
"""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from pipelines.catalog.definitions import SCHEMAS_DIR, load_catalog
from pipelines.store.db import connect
from pipelines.ingest.pipeline import ingest_uploads
from pipelines.periods import due_date, quarters
from pipelines.compute.records import record_county_values, record_task_update
from pipelines.registry.load import load_registry
from pipelines.access.review import approve_all
from pipelines.access.roles import local_admin

ADMIN = local_admin("测试管理员")

CITY, COUNTY = "439800000000", "439801000000"
TA, TB, TC = "439801100000", "439801101000", "439801102000"
A1, A2, A3 = "439801100201", "439801100202", "439801100203"
B1, B2 = "439801101201", "439801101202"
PERIODS = quarters("2019Q1", "2020Q4")
PLAN = "ceshi-2019"

UNITS_CSV = """code,name,parent_code,valid_from,valid_to
439800000000,测试市,430000000000,,
439801000000,测试县,439800000000,,
439801100000,甲镇,439801000000,,
439801101000,乙镇,439801000000,,
439801102000,丙镇,439801000000,,
439801100201,甲一村,439801100000,,
439801100202,甲二村,439801100000,,
439801100203,甲三村,439801100000,,2020-05-15
439801101201,乙一村,439801101000,,
439801101202,乙二村,439801101000,,
"""
NAMES = {A1: "甲一村", A2: "甲二村", A3: "甲三村", B1: "乙一村", B2: "乙二村"}
POP = {A1: 1000, A2: 100, A3: 400, B1: 1000, B2: 500}          # 常住人口
VOLUNTEERS = {A1: 50, A2: 30, A3: 20, B1: 100, B2: 100}         # 5 %, 30 %, 5 %, 10 %, 20 %
SOCIAL_ORGS = dict(zip(PERIODS, [2, 3, 3, 4, 4, 4, 5, 4]))       # every village alike


def yes(flag: bool) -> str:
    return "是" if flag else "否"


def village_row(v: str, p: str, variant: int = 0) -> dict:
    """The values of village ``v`` in quarter ``p`` (variant 1: the late re-upload of 甲镇 2019Q2)."""
    i = PERIODS.index(p)
    elder = {A1: True, A2: i >= 2 or (i == 1 and variant == 1), A3: i >= 3, B1: True, B2: i >= 1}[v]
    platform = {A1: True, A2: i >= 1, A3: i >= 1, B1: i >= 1, B2: i >= 4}[v]
    left_behind = {0: {A1, A2, A3}, 1: {A1, A2, A3, B1}, 2: {A1}, 3: {A1, A2, A3, B1}}.get(i, set(NAMES))
    weak = {0: {A1, A2}, 1: {A1}}.get(i, set())
    burials, eco = {(A1, 0): (4, 1), (A1, 1): (4, 3), (A1, 2): (2, 0), (A1, 4): (4, 1)}.get((v, i), (0, 0))
    return {
        "village_code": v, "village_name": NAMES[v], "population_registered": POP[v] + 100,
        "population_resident": POP[v], "households": POP[v] // 3, "elderly_population": POP[v] // 5,
        "social_orgs": SOCIAL_ORGS[p], "has_elder_association": yes(elder),
        "has_service_platform": yes(platform), "platform_area_m2": 100 if platform else "",
        "has_left_behind_home": yes(v in left_behind), "flag_weak_economy": yes(v in weak),
        "flag_weak_party_org": "否", "flag_poor": "否", "has_first_secretary": yes(v == A1),
        "burials": burials, "eco_burials": eco, "volunteers": VOLUNTEERS[v],
        "reserve_secretary": 1, "reserve_cadre": 1,
    }


def villages_of(township: str, period: str) -> list[str]:
    if township == TA:
        return [A1, A2, A3] if period <= "2020Q2" else [A1, A2]
    return [B1, B2]


def csv_return(township: str, period: str, variant: int = 0) -> bytes:
    rows = [village_row(v, period, variant) for v in villages_of(township, period)]
    cols = list(rows[0])
    lines = [f"报告期:{period[:4]}年第{period[-1]}季度", ",".join(cols)]
    lines += [",".join(str(r[c]) for c in cols) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8-sig")


def on_time(period: str) -> dt.datetime:
    return dt.datetime.combine(due_date(period, 15), dt.time(10)) - dt.timedelta(days=5)


def uploads() -> list[tuple[str, str, int, dt.datetime]]:
    """(township, period, variant, uploaded_at) of every upload, in upload order."""
    out = []
    for p in PERIODS:
        out.append((TA, p, 0, on_time(p)))
        if p == "2019Q3" or p == "2020Q4":
            continue                                         # 乙镇 sends nothing
        when = on_time(p) + dt.timedelta(days=10) if p == "2020Q1" else on_time(p)   # 5 days late
        out.append((TB, p, 0, when))
        if p == "2019Q2":
            out.append((TA, p, 1, dt.datetime(2019, 8, 20, 9)))   # re-sent after the cutoff
    return out


PLAN_YAML = """code: ceshi-2019
title: 测试规划
doc_no: 测试
issuer: 测试市
issued: 2019-01-01
scope: "439800000000"
scope_name: 测试市
scope_level: city
period_start: 2019-01-01
period_end: 2020-12-31
targets:
  - {id: ts-orgs-avg, title: 村均社会组织5个, clause: 一, source_clause: 测试, population: 村, reading: 测试目标, indicator: social_orgs_per_village,
     comparator: ">=", value: 5, deadline: 2020-12-31, eval: aggregate, level: city}
  - {id: ts-volunteers, title: 志愿者占比, clause: 一, source_clause: 测试, population: 村, reading: 测试目标, indicator: volunteers_share,
     comparator: ">=", value: 13, deadline: 2020-12-31, eval: aggregate, level: city}
  - {id: ts-elder, title: 每村老年协会, clause: 一, source_clause: 测试, population: 村, reading: 测试目标, indicator: elder_assoc_coverage,
     comparator: ">=", value: 100, deadline: 2020-12-31, eval: every_unit, level: village}
  - {id: ts-platform, title: 每村综合服务平台, clause: 一, source_clause: 测试, population: 村, reading: 测试目标, indicator: service_platform_coverage,
     comparator: ">=", value: 100, deadline: 2019-06-30, eval: every_unit, level: village}
  - {id: ts-eco-burial, title: 节地生态安葬率50%, clause: 一, source_clause: 测试, population: 村, reading: 测试目标, indicator: eco_burial_rate,
     comparator: ">=", value: 50, deadline: 2020-12-31, eval: aggregate, level: city}
  - {id: ts-weak-economy, title: 薄弱村占比降到10%以下, clause: 一, source_clause: 测试, population: 村, reading: 测试目标, indicator: weak_economy_share,
     comparator: "<=", value: 10, deadline: 2020-12-31, eval: aggregate, level: city}
  - {id: ts-left-behind, title: 留守之家覆盖90%, clause: 一, source_clause: 测试, population: 村, reading: 测试目标, indicator: left_behind_home_coverage,
     comparator: ">=", value: 90, deadline: 2020-12-31, eval: aggregate, level: city}
  - {id: ts-orgs-rising, title: 社会组织逐年增加, clause: 一, source_clause: 测试, population: 村, reading: 测试目标, indicator: social_orgs_per_village,
     comparator: rising, deadline: 2021-12-31, judged_at: scope, eval: trend, level: city}
  - {id: ts-weak-not-falling, title: 薄弱村占比保持稳定, clause: 一, source_clause: 测试, population: 村, reading: 测试目标, indicator: weak_economy_share,
     comparator: not_falling, tolerance: 5, deadline: 2021-12-31, judged_at: scope, eval: trend, level: city}
  - {id: ts-reserve-band, title: 后备人才10名左右, clause: 一, source_clause: 测试, population: 村, reading: 测试目标, indicator: reserve_talents,
     comparator: about, value: 10, tolerance: 2, deadline: 2020-12-31, judged_at: scope, eval: band, level: city}
  - {id: ts-innovation, title: 每县每年一项创新实验, clause: 一, source_clause: 测试, population: 村, reading: 测试目标, indicator: innovation_experiments,
     comparator: ">=", value: 1, start: 2019-01-01, deadline: 2020-12-31, recurrence: yearly, eval: count, level: county}
  - {id: ts-county-plan, title: 区县实施方案按期报送, clause: 一, source_clause: 测试, population: 村, reading: 测试目标, comparator: done_by,
     deadline: 2019-04-05, eval: milestone, level: county,
     milestones: [{field: implementation_plan_filed, deadline: 2019-04-05, label: 实施方案报送}]}
  - {id: ts-task-01, title: 制定指导意见, clause: 附件1, source_clause: 测试, population: 村, reading: 测试任务, comparator: done_by, deadline: 2019-05-15,
     eval: milestone, level: province, lead: [民政局], partners: [财政局]}
"""

WEAK_ECONOMY = """
  weak_economy_share:
    title: 集体经济薄弱村占比
    numerator: flag_weak_economy
    denominator: "1"
    factor: 100
    unit: "%"
    bounds: [0, 100]
"""


def test_catalog(root: Path):
    """A copy of schemas/ with the test indicator and plan, loaded with ``load_catalog``."""
    schemas = root / "schemas"
    if not schemas.exists():
        shutil.copytree(SCHEMAS_DIR, schemas)
        with (schemas / "indicators.yaml").open("a", encoding="utf-8") as fh:
            fh.write(WEAK_ECONOMY)
        (schemas / "plans" / f"{PLAN}.yaml").write_text(PLAN_YAML, encoding="utf-8")
    return load_catalog(schemas)


def approve_everything(con) -> None:
    """Every stored return approved by the county (the history the verdict tests read)."""
    ids = [i for (i,) in con.execute("SELECT id FROM submissions").fetchall()]
    approve_all(con, ADMIN, ids)


def build(root: Path):
    """The fixture database under ``root`` (returned open) and the test catalog."""
    cat = test_catalog(root)
    (root / "units.csv").write_text(UNITS_CSV, encoding="utf-8")
    con = connect(root / "region.duckdb")
    load_registry(con, [root / "units.csv"], actor=ADMIN)
    for township, period, variant, when in uploads():
        name = f"{township}_{period}{'_v2' if variant else ''}.csv"
        reports = ingest_uploads(con, [(name, csv_return(township, period, variant))], uploaded_at=when, actor=ADMIN)
        bad = [p for r in reports for p in r.errors]
        assert not bad, [p.message for p in bad]
    approve_everything(con)
    record_county_values(con, COUNTY, 2019, {"innovation_experiments": 0},
                         at=dt.datetime(2019, 1, 10, 9), cat=cat, actor=ADMIN)
    record_county_values(con, COUNTY, 2019, {"implementation_plan_filed": "2019-08-01"},
                         at=dt.datetime(2019, 8, 2, 9), cat=cat, actor=ADMIN)
    record_county_values(con, COUNTY, 2019, {"innovation_experiments": 1},
                         at=dt.datetime(2019, 11, 1, 9), cat=cat, actor=ADMIN)
    record_task_update(con, PLAN, "ts-task-01", "民政局", "推进中", None, "起草中", None,
                       at=dt.datetime(2019, 3, 1, 9), cat=cat, actor=ADMIN)
    record_task_update(con, PLAN, "ts-task-01", "民政局", "已完成", "2019-10-20", "已印发", "文件",
                       at=dt.datetime(2019, 10, 21, 9), cat=cat, actor=ADMIN)
    return con, cat
