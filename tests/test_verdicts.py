"""Issue 9: verdicts a bureau can sign — honest about missing data, deadlines that stay, the plans'
own words — on the fixture region (fixture_region.py), against hand-worked statuses.

The fixture's returns: 乙镇 (B1, B2) sends nothing for 2019Q3 and 2020Q4; A3 is merged away on
2020-05-15; 丙镇 has no villages. Besides the fixture's plan ``ceshi-2019`` two test plans are added:
``ceshisan-2019`` (2019–2020: a strive target, a range, a stable share, a target named at the scope
only, a planning norm, a task of two items, a per-village deadline after its own election) and
``ceshisi-2019`` (2019 only: a yearly count). Where a test changes data (drift, dates, records) it
does so in a transaction rolled back at its end.
"""
from __future__ import annotations

import datetime as dt
import math
import re

import pytest

import fixture_region as F
from pipelines.store.db import begin as db_begin, rollback as db_rollback
from pipelines.catalog.definitions import load_catalog
from pipelines.compute.assess import assess_frame
from pipelines.compute.laggards import laggards
from pipelines.compute.records import record_county_values, record_task_update
from pipelines.compute.refresh import refresh
from pipelines.access.roles import local_admin

ADMIN = local_admin("测试管理员")

PLAN3, PLAN4 = "ceshisan-2019", "ceshisi-2019"
PLAN3_YAML = """code: ceshisan-2019
title: 测试规划三
doc_no: 测试
issuer: 测试市
issued: 2019-01-01
scope: "439800000000"
scope_name: 测试市
scope_level: city
period_start: 2019-01-01
period_end: 2020-12-31
targets:
  - {id: ts-strive-volunteers, title: 力争志愿者占比13%, clause: 一, source_clause: 力争…13%, indicator: volunteers_share,
     comparator: ">=", value: 13, deadline: 2019-12-31, eval: aggregate, level: city, strive: true,
     population: 村, reading: 测试}
  - {id: ts-orgs-range, title: 每村社会组织1-3个, clause: 一, source_clause: 测试, indicator: social_orgs_per_village,
     comparator: between, value: [1, 3], deadline: 2020-12-31, eval: count, level: village, population: 村, reading: 测试}
  - {id: ts-stable-volunteers, title: 志愿者占比保持基本稳定, clause: 一, source_clause: 保持基本稳定,
     indicator: volunteers_share, comparator: not_falling, baseline: plan_start, tolerance: 1, deadline: 2021-12-31,
     eval: trend, level: city, judged_at: scope, population: 村, reading: 测试}
  - {id: ts-stable-yoy, title: 志愿者占比不下降(逐年比), clause: 一, source_clause: 测试, indicator: volunteers_share,
     comparator: not_falling, baseline: previous_year, tolerance: 1, deadline: 2021-12-31, eval: trend, level: city,
     judged_at: scope, population: 村, reading: 测试}
  - {id: ts-orgs-citywide, title: 全市村均社会组织5个, clause: 一, source_clause: 全市…5个,
     indicator: social_orgs_per_village, comparator: ">=", value: 5, deadline: 2020-12-31, eval: aggregate,
     level: city, judged_at: scope, population: 村, reading: 测试}
  - {id: ts-orgs-norm, title: 原则上每村3个以上, clause: 一, source_clause: 原则上…, indicator: social_orgs_per_village,
     comparator: ">=", value: 3, deadline: 2020-12-31, eval: every_unit, level: village, guideline: true,
     population: 村, reading: 测试}
  - {id: ts-items, title: 起草并印发办法, clause: 一, source_clause: 测试, comparator: done_by, deadline: 2019-06-30,
     eval: milestone, level: city, lead: [民政局], population: 村, reading: 测试,
     items: [{id: draft, label: 起草, deadline: 2019-06-30}, {id: issue, label: 印发, after: {item: draft, months: 3}}]}
  - {id: ts-supervisor, title: 选举后10日内推选监督委员会, clause: 一, source_clause: 测试, comparator: done_by,
     deadline: 2019-04-10, eval: milestone, level: village, population: 村(社区), reading: 测试,
     milestones: [{field: supervisory_committee_date, deadline: 2019-04-10,
                   after: {field: committee_election_date, days: 10}, label: 监督委员会推选}]}
"""
PLAN4_YAML = """code: ceshisi-2019
title: 测试规划四(一年)
doc_no: 测试
issuer: 测试市
issued: 2019-01-01
scope: "439800000000"
scope_name: 测试市
scope_level: city
period_start: 2019-01-01
period_end: 2019-12-31
targets:
  - {id: ts-yearly-2019, title: 每县每年一项创新实验(一年), clause: 一, source_clause: 测试, indicator: innovation_experiments,
     comparator: ">=", value: 1, start: 2019-01-01, deadline: 2019-12-31, recurrence: yearly, eval: count,
     level: county, population: 村(社区), reading: 测试}
"""


def verdict_catalog(root, min_coverage: float | None = None):
    """The fixture's catalog under ``root`` with the two test plans (and another ``min_coverage``)."""
    F.test_catalog(root)
    schemas = root / "schemas"
    (schemas / "plans" / f"{PLAN3}.yaml").write_text(PLAN3_YAML, encoding="utf-8")
    (schemas / "plans" / f"{PLAN4}.yaml").write_text(PLAN4_YAML, encoding="utf-8")
    if min_coverage is not None:
        settings = schemas / "settings.yaml"
        text = re.sub(r"min_coverage:\s*[0-9.]+", f"min_coverage: {min_coverage}", settings.read_text(encoding="utf-8"))
        settings.write_text(text, encoding="utf-8")
    return load_catalog(schemas)


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    root = tmp_path_factory.mktemp("verdicts")
    con, _ = F.build(root)
    cat = verdict_catalog(root)
    yield con, cat, tmp_path_factory
    con.close()


@pytest.fixture(scope="module")
def rows(region):
    """Every row of the fixture's plan and of the two test plans, computed."""
    con, cat, _ = region
    return {p: assess_frame(con, cat, plan=p, stored=False) for p in (F.PLAN, PLAN3, PLAN4)}


def one(frame, **where):
    sub = frame
    for k, v in where.items():
        sub = sub[sub[k] == v]
    assert len(sub) == 1, (where, len(sub))
    return sub.iloc[0]


def series(frame, column: str, **where) -> list:
    sub = frame
    for k, v in where.items():
        sub = sub[sub[k] == v]
    return [None if isinstance(v, float) and math.isnan(v) else v for v in sub.sort_values("period")[column]]


@pytest.fixture
def rollback(region):
    """The region's connection inside a transaction rolled back after the test."""
    con, cat, _ = region
    db_begin(con)
    yield con, cat
    db_rollback(con)


# ---------------------------------------------------------------------------- honest about missing data

def test_a_county_with_one_township_silent_is_incomplete_not_met(region, rows):
    con, cat, factory = region
    ceshi = rows[F.PLAN]
    # 2019Q3: 甲镇's three villages all have a platform; 乙镇 sent nothing. Before, the county read
    # 3/5 = 60 % (乙镇 counted as failing): missed. Now the share is over the villages that reported
    # (100 %) and the county is incomplete: 3 of 5 villages reported
    c = one(ceshi, target="ts-platform", unit_code=F.COUNTY, period="2019Q3")
    assert c["status"] == "incomplete" and c["status_zh"] == "数据不全"
    assert (c["value"], c["meeting"], c["judged"], c["reported"], c["expected"]) == (100, 3, 3, 3, 5)
    assert c["coverage"] == pytest.approx(0.6)
    assert one(ceshi, target="ts-platform", unit_code=F.TB, period="2019Q3")["status"] == "no_data"
    # an aggregate from the same 3 of 5 villages: never on track, lagging or missed
    agg = one(ceshi, target="ts-orgs-avg", unit_code=F.COUNTY, period="2019Q3")
    assert (agg["status"], agg["value"], agg["reported"], agg["expected"]) == ("incomplete", 3, 3, 5)
    # with min_coverage 0.5, 3 of 5 is enough for a value, but a county whose reporters all meet an
    # every-unit target is still incomplete (not met) while one of its villages has not reported
    low = verdict_catalog(factory.mktemp("low-coverage"), min_coverage=0.5)
    lax = assess_frame(con, low, plan=F.PLAN, unit=F.COUNTY, period="2019Q3", stored=False)
    assert one(lax, target="ts-platform", unit_code=F.COUNTY)["status"] == "incomplete"
    assert one(lax, target="ts-orgs-avg", unit_code=F.COUNTY)["status"] == "on_track"
    # 后进名单: 乙镇 in its own section, not ranked among the laggards, saying why
    lag = laggards(con, "ts-left-behind", "township", cat=cat, period="2019Q3")
    assert [(r["rank"], r["unit_code"], r["section"], r["section_zh"]) for r in lag] == [
        (1, F.TA, "ranked", "后进排名"), (2, F.TB, "not_reported", "未报送")]
    assert lag[0]["reason"] is None and lag[1]["reason"] == "本季度未报送(最近报送 2019Q2)"
    county = laggards(con, "ts-orgs-avg", "county", cat=cat, period="2019Q3")
    assert [(r["section"], r["reason"]) for r in county] == [("incomplete", "数据不全:3/5 个村报送")]


# ---------------------------------------------------------------------------- deadlines stay

def test_a_target_met_after_its_deadline_is_met_late_and_the_verdict_stays_missed(rows):
    ceshi = rows[F.PLAN]
    # every village has a service platform by 2019-06-30? B2 only from 2020Q1
    b2 = {"target": "ts-platform", "unit_code": F.B2}
    assert series(ceshi, "status", **b2) == ["on_track", "missed", "no_data", "missed", "met_late", "met_late",
                                             "met_late", "no_data"]
    assert series(ceshi, "verdict_at_deadline", **b2) == [None] + ["missed"] * 7
    county = {"target": "ts-platform", "unit_code": F.COUNTY}
    assert series(ceshi, "status", **county)[1:] == ["missed", "incomplete", "missed", "met_late", "met_late",
                                                     "met_late", "incomplete"]
    assert series(ceshi, "verdict_at_deadline", **county) == [None] + ["missed"] * 7
    # a value target met at its deadline keeps met; one with no data at its deadline has no verdict yet
    a1 = {"target": "ts-platform", "unit_code": F.A1}
    assert set(series(ceshi, "status", **a1)) == {"met"}
    assert series(ceshi, "verdict_at_deadline", **a1) == [None] + ["met"] * 7


def test_a_yearly_recurrence_stops_at_the_plan_end(rollback):
    con, cat = rollback
    # ceshisi-2019 ends with 2019: "each county one a year" has one cycle, 2019. A figure recorded for
    # 2020 does not open a 2020 cycle (which would read on track): 2020 is after the deadline
    record_county_values(con, F.COUNTY, 2020, {"innovation_experiments": 0}, at=dt.datetime(2020, 3, 1),
                         cat=cat, actor=ADMIN)
    frame = assess_frame(con, cat, plan=PLAN4, level="county", stored=False)
    assert series(frame, "cycle") == ["2019"] * 8
    assert set(series(frame, "deadline")) == {"2019-12-31"}
    assert series(frame, "status") == ["met"] * 4 + ["missed"] * 4
    assert series(frame, "verdict_at_deadline") == [None] * 3 + ["met"] * 5
    # the fixture's plan (2019–2020) has two cycles of its yearly target, each with its own deadline
    ceshi = assess_frame(con, cat, plan=F.PLAN, target="ts-innovation", level="county", stored=False)
    assert series(ceshi, "cycle") == ["2019"] * 4 + ["2020"] * 4
    assert series(ceshi, "deadline") == ["2019-12-31"] * 4 + ["2020-12-31"] * 4


# ---------------------------------------------------------------------------- the plan's own words

def test_a_strive_target_carries_strive_and_reads_unmet_when_missed(region, rows):
    _, cat, _ = region
    assert cat.target("ts-strive-volunteers")[1].strive
    strive = rows[PLAN3][rows[PLAN3]["target"] == "ts-strive-volunteers"]
    assert strive["strive"].all() and not rows[F.PLAN]["strive"].any()
    city = {"target": "ts-strive-volunteers", "level": "city"}
    # 10 % all along against ≥ 13 % by 2019-12-31: no progress, missed at the deadline
    assert series(strive, "status", **city) == ["no_data", "severely_lagging", "incomplete"] + ["missed"] * 4 + [
        "incomplete"]
    assert series(strive, "status_label", **city)[1:4] == ["严重滞后(力争目标)", "数据不全(力争目标)", "力争目标未实现"]
    q4 = one(strive, period="2019Q4", level="city")
    assert (q4["status_zh"], q4["verdict_at_deadline"], q4["population"]) == ("已逾期未达标", "missed", "村")


def test_a_range_above_its_upper_bound_is_met_with_above_range(rows):
    r = rows[PLAN3]
    # 1–3 organisations per village: 2 (2019Q1) inside, 4 (2019Q4) above the range — met, not lagging
    q1 = one(r, target="ts-orgs-range", unit_code=F.A1, period="2019Q1")
    assert (q1["status"], q1["above_range"]) == ("met", False)
    q4 = one(r, target="ts-orgs-range", unit_code=F.A1, period="2019Q4")
    assert (q4["status"], q4["above_range"], q4["value"], q4["target_value"]) == ("met", True, 4, 1)
    assert not q4["regressing"]
    # a village above the range meets it: the township's share is 100 %
    town = one(r, target="ts-orgs-range", unit_code=F.TA, period="2019Q4")
    assert (town["status"], town["value"]) == ("met", 100)


def test_a_stable_share_drifting_down_is_lagging_by_the_second_year(rollback):
    con, cat = rollback
    # every village: 20 000 residents, volunteers 20 % falling 0.225 pp a quarter (0.9 pp a year)
    for i, period in enumerate(F.PERIODS):
        con.execute("UPDATE village_values SET population_resident = ?, volunteers = ? WHERE submission_id IN "
                    "(SELECT id FROM submissions WHERE period = ?)", [20000, 4000 - 45 * i, period])
    frame = assess_frame(con, cat, plan=PLAN3, level="city", stored=False)
    stable = frame[frame["target"] == "ts-stable-volunteers"]
    assert series(stable, "value") == pytest.approx([20 - 0.225 * i for i in range(8)])
    # against the plan-start value (20 % in 2019Q1, tolerance 1 point): 2020Q1 is 0.9 below — met;
    # 2020Q2 1.125 below — lagging, in the second year (2019Q3 and 2020Q4: 乙镇 missing, incomplete)
    assert series(stable, "status") == ["no_data", "met", "incomplete", "met", "met", "lagging", "lagging",
                                        "incomplete"]
    assert series(stable, "regressing")[5:7] == [True, True]
    assert set(series(stable, "baseline_value")) == {20.0} and set(series(stable, "baseline_period")) == {"2019Q1"}
    # year on year the same drift is 0.9 a year, within the tolerance: met for ever
    yoy = frame[frame["target"] == "ts-stable-yoy"]
    assert series(yoy, "status")[4:7] == ["met", "met", "met"]


def test_targets_named_at_one_level_are_not_judged_elsewhere(rows):
    r = rows[PLAN3]
    # "全市…": judged city-wide only; the county and townships keep their values, not judged
    citywide = r[r["target"] == "ts-orgs-citywide"]
    assert set(citywide[citywide["level"] != "city"]["status"]) == {"not_judged"}
    assert one(citywide, level="city", period="2019Q2")["status"] == "on_track"
    town = one(citywide, unit_code=F.TA, period="2019Q2")
    assert (town["value"], town["status_zh"], town["verdict_at_deadline"]) == (3, "不判定", None)
    # a planning norm (原则上): shown, judged nowhere, no verdict at the deadline
    norm = r[r["target"] == "ts-orgs-norm"]
    assert set(norm["status"]) == {"not_judged"} and norm["verdict_at_deadline"].isna().all()
    assert one(norm, unit_code=F.TA, period="2019Q2")["value"] == 100


def test_a_task_of_two_items_and_a_per_village_deadline(rollback):
    con, cat = rollback
    # 起草 due 2019-06-30, done 2019-08-01 (late); 印发 due 3 months after the draft: 2019-11-01, done 10-20
    record_task_update(con, PLAN3, "ts-items", "民政局", "已完成", "2019-08-01", cat=cat, item="draft",
                       at=dt.datetime(2019, 8, 2), actor=ADMIN)
    record_task_update(con, PLAN3, "ts-items", "民政局", "已完成", "2019-10-20", cat=cat, item="issue",
                       at=dt.datetime(2019, 10, 21), actor=ADMIN)
    # elections and monitoring committees: A1 on time, A2 elected late but within its own 10 days,
    # B1 elected 03-01 and its committee on 03-20 (9 days late), A3 without a committee, B2 no election date
    dates = {F.A1: ("2019-03-01", "2019-03-08"), F.A2: ("2019-05-20", "2019-05-28"), F.A3: ("2019-03-01", None),
             F.B1: ("2019-03-01", "2019-03-20"), F.B2: (None, None)}
    for village, (elected, committee) in dates.items():
        con.execute("UPDATE village_values SET committee_election_date = ?, supervisory_committee_date = ? "
                    "WHERE village_code = ?", [elected, committee, village])
    frame = assess_frame(con, cat, plan=PLAN3, stored=False)
    task = {"target": "ts-items", "unit_code": "民政局"}
    # 2019Q2: the draft due (the issue has no deadline yet); Q3: drafted late, the issue due 11-01 (the
    # worst item: on track); Q4: both done, one late
    assert series(frame, "status", **task)[:4] == ["on_track", "due_soon", "on_track", "met_late"]
    assert series(frame, "verdict_at_deadline", **task)[:4] == [None, None, None, "missed"]
    assert one(frame, target="ts-items", unit_code=F.CITY, period="2019Q4")["status"] == "met_late"

    def supervisor(v):
        return series(frame, "status", target="ts-supervisor", unit_code=v)[:2]
    assert supervisor(F.A1) == ["met", "met"]
    assert supervisor(F.A2) == ["no_data", "met"]                 # no deadline before its election is known
    assert supervisor(F.B1) == ["met_late", "met_late"]
    assert supervisor(F.A3) == ["lagging", "severely_lagging"]    # due 03-11: 20, then 111 days over
    assert supervisor(F.B2) == ["no_data", "no_data"]
    assert one(frame, target="ts-supervisor", unit_code=F.B1, period="2019Q2")["verdict_at_deadline"] == "missed"


# ---------------------------------------------------------------------------- stored the same

def test_the_new_fields_are_stored_and_read_back_the_same(region):
    con, cat, _ = region
    refresh(con, cat)
    for plan in (F.PLAN, PLAN3, PLAN4):
        live = assess_frame(con, cat, plan=plan, stored=False)
        stored = assess_frame(con, cat, plan=plan)
        key = ["target", "unit_code", "period"]
        merged = live.merge(stored, on=key, suffixes=("", "_s"))
        assert len(merged) == len(live) == len(stored), plan
        for col in ("status", "status_label", "verdict_at_deadline", "population", "cycle", "deadline"):
            assert (merged[col].fillna("-") == merged[f"{col}_s"].fillna("-")).all(), (plan, col)
        for col in ("strive", "above_range"):
            assert (merged[col] == merged[f"{col}_s"]).all(), (plan, col)
        for col in ("coverage", "reported", "expected"):
            assert ((merged[col] - merged[f"{col}_s"]).abs().fillna(0) < 1e-9).all(), (plan, col)
    # the view names them: the county sheet has no 2020 record — no data, nothing reported, a 2020 cycle
    view = con.execute("SELECT period, status, verdict_at_deadline, reported, expected, cycle FROM progress "
                       "WHERE target = 'ts-innovation' AND unit_code = ? AND period IN ('2019Q4', '2020Q4') "
                       "ORDER BY period", [F.COUNTY]).fetchall()
    assert view == [("2019Q4", "met", "met", 1, 1, "2019"), ("2020Q4", "no_data", "incomplete", 0, 1, "2020")]
