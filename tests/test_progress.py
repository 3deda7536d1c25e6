"""The indicator engine and the progress assessment, against hand-computed values on a tiny region.

The region, its returns and the test plan are described in fixture_region.py. Dates: the baseline
is 2019Q1 (ends 2019-03-31), the usual deadline 2020-12-31: D - t_b = 641 days.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import subprocess
import sys
import threading

import duckdb
import pyarrow as pa
import pytest

import fixture_region as F
from pipelines.store.db import begin as db_begin, rollback as db_rollback
from pipelines.catalog.definitions import ROOT, catalog, load_catalog
from pipelines.compute import refresh as refresh_module
from pipelines.errors import RuralTargetsError
from pipelines.compute.assess import assess, assess_frame
from pipelines.compute.indicators import compute
from pipelines.compute.judge import judged_at, judged_levels
from pipelines.compute.laggards import failing_units, laggards, last_return_of
from pipelines.compute.records import record_county_values, record_task_update, task_records
from pipelines.compute.refresh import Writer, refresh
from pipelines.compute.stored import is_fresh
from pipelines.periods import cutoff
from pipelines.access.roles import local_admin

ADMIN = local_admin("测试管理员")

TB = dt.date(2019, 3, 31).toordinal()
D = dt.date(2020, 12, 31).toordinal()


def tau(day: dt.date, deadline: int = D, tb: int = TB) -> float:
    return (day.toordinal() - tb) / (deadline - tb)


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    con, cat = F.build(tmp_path_factory.mktemp("region"))
    yield con, cat
    con.close()


@pytest.fixture(scope="module")
def rows(region):
    """Every progress row of the test plan, computed (not read from stored tables)."""
    con, cat = region
    return assess_frame(con, cat, plan=F.PLAN, stored=False)


def one(frame, **where):
    sub = frame
    for k, v in where.items():
        sub = sub[sub[k] == v]
    assert len(sub) == 1, (where, len(sub))
    return sub.iloc[0]


def value(frame, indicator, unit, period):
    return one(frame, indicator=indicator, unit_code=unit, period=period)


# ---------------------------------------------------------------------------- indicators

@pytest.fixture(scope="module")
def values(region):
    con, cat = region
    return compute(con, cat)


def test_ratio_of_sums_not_mean_of_ratios(values):
    # 甲镇: volunteers 50 + 30 + 20 over residents 1000 + 100 + 400 = 6.67 %; the mean of the
    # villages' ratios (5 %, 30 %, 5 %) would be 13.3 %
    r = value(values, "volunteers_share", F.TA, "2019Q1")
    assert r["num"] == 100 and r["den"] == 1500
    assert r["value"] == pytest.approx(100 / 1500 * 100)
    assert r["value"] != pytest.approx((5 + 30 + 5) / 3)
    city = value(values, "volunteers_share", F.CITY, "2019Q1")
    assert city["value"] == pytest.approx(300 / 3000 * 100)
    assert value(values, "volunteers_share", F.A2, "2019Q1")["value"] == pytest.approx(30)


def test_flows_are_summed_over_the_year_to_date(values):
    # A1: burials 4, 4, 2 and eco burials 1, 3, 0 in 2019Q1-Q3; 4 and 1 in 2020Q1
    assert value(values, "eco_burial_rate", F.CITY, "2019Q1")["value"] == pytest.approx(25)
    q2 = value(values, "eco_burial_rate", F.CITY, "2019Q2")
    assert (q2["num"], q2["den"]) == (4, 8) and q2["value"] == pytest.approx(50)      # not the quarter's 75 %
    assert value(values, "eco_burial_rate", F.CITY, "2019Q3")["value"] == pytest.approx(40)
    assert value(values, "eco_burial_rate", F.A1, "2019Q3")["value"] == pytest.approx(40)
    assert value(values, "eco_burial_rate", F.CITY, "2020Q1")["value"] == pytest.approx(25)   # a new year


def test_year_to_date_of_one_quarter_asked_alone(region):
    con, cat = region
    v = compute(con, cat, indicators=["eco_burial_rate"], levels=["city"], periods=["2019Q3"])
    assert list(v["period"]) == ["2019Q3"] and v["value"].item() == pytest.approx(40)


def test_a_missing_quarter_is_no_data_never_zero(values):
    # 乙镇 sent no return for 2019Q3
    assert math.isnan(value(values, "social_orgs_per_village", F.TB, "2019Q3")["value"])
    b1 = value(values, "social_orgs_per_village", F.B1, "2019Q3")
    assert math.isnan(b1["value"]) and b1["rows"] == 0
    county = value(values, "elder_assoc_coverage", F.COUNTY, "2019Q3")
    assert (county["reported"], county["expected"]) == (3, 5)            # coverage is visible
    assert county["value"] == pytest.approx(200 / 3)                     # the 3 villages that reported


def test_units_count_only_while_they_exist(values):
    # A3 was merged away on 2020-05-15: expected in 2020Q2, not after
    assert value(values, "social_orgs_per_village", F.TA, "2020Q2")["expected"] == 3
    assert value(values, "social_orgs_per_village", F.TA, "2020Q3")["expected"] == 2
    assert not ((values["unit_code"] == F.A3) & (values["period"] == "2020Q3")).any()
    assert value(values, "reserve_talents", F.CITY, "2020Q3")["value"] == 8       # 4 villages × 2


def test_among_filter_leaves_units_out(region):
    con, cat = region
    # first_secretary_coverage counts only flagged villages: in 2019Q1 A1 and A2 are 集体经济薄弱村,
    # A1 has a first secretary; A3 is not flagged (left out), B1 and B2 neither
    v = compute(con, cat, indicators=["first_secretary_coverage"], periods=["2019Q1"])
    town = one(v, unit_code=F.TA)
    assert (town["reported"], town["excluded"], town["rows"]) == (3, 1, 2)
    assert town["value"] == pytest.approx(50)
    assert math.isnan(one(v, unit_code=F.TB)["value"])                  # nothing to count in 乙镇


def test_as_of_uses_only_returns_arrived_by_the_cutoff(region):
    con, cat = region
    assert cutoff("2019Q2", cat.settings.reporting.due_day) == dt.datetime(2019, 7, 15, 23, 59, 59, 999999)
    now = compute(con, cat, indicators=["elder_assoc_coverage"], levels=["township"])
    then = compute(con, cat, as_of="2019Q2", indicators=["elder_assoc_coverage"], levels=["township"])
    assert one(now, unit_code=F.TA, period="2019Q2")["value"] == pytest.approx(200 / 3)   # the re-upload
    assert one(then, unit_code=F.TA, period="2019Q2")["value"] == pytest.approx(100 / 3)  # the first version
    assert set(then["period"]) == {"2019Q1", "2019Q2"}


# ---------------------------------------------------------------------------- the method

def test_aggregate_on_track_with_hand_computed_pi_tau_projection(rows):
    r = one(rows, target="ts-orgs-avg", level="city", period="2019Q2")
    # x_b = 2 (2019Q1), x_t = 3, T = 5: pi = 1/3; tau = 91/641; x̂_D = 2 + 1 × 641/91
    assert r["pi"] == pytest.approx(1 / 3)
    assert r["tau"] == pytest.approx(tau(dt.date(2019, 6, 30)))
    assert r["projected"] == pytest.approx(2 + 641 / 91)
    assert r["cr"] == pytest.approx((1 / 3) / (91 / 641))
    assert r["gap_pp"] == pytest.approx((1 / 3 - 91 / 641) * 100)
    assert r["status"] == "on_track" and r["status_zh"] == "进度正常"
    assert r["points"] == 2 and r["low_confidence"]
    quarters_left = (D - dt.date(2019, 6, 30).toordinal()) / (365.25 / 4)
    assert r["rate_required"] == pytest.approx((5 - 3) / quarters_left)


def test_one_point_is_no_data_then_lagging_by_projection(rows):
    assert one(rows, target="ts-orgs-avg", level="city", period="2019Q1")["status"] == "no_data"
    r = one(rows, target="ts-orgs-avg", level="city", period="2020Q2")
    # x = 4 at 2020-06-30 (457 days after t_b): x̂_D = 2 + 2 × 641/457 = 4.805; P = 0.935 < 0.95
    assert r["projected"] == pytest.approx(2 + 2 * 641 / 457)
    assert r["status"] == "lagging"


def test_met_before_the_deadline_and_missed_after_it(rows):
    assert one(rows, target="ts-orgs-avg", level="city", period="2020Q3")["status"] == "met"
    # 4 < 5 at D in 2020Q4 — but 乙镇 sent nothing: 2 of 4 villages, too few to judge
    q4 = one(rows, target="ts-orgs-avg", level="city", period="2020Q4")
    assert (q4["status"], q4["reported"], q4["expected"], q4["verdict_at_deadline"]) == ("incomplete", 2, 4, "incomplete")
    assert one(rows, target="ts-orgs-avg", unit_code=F.TA, period="2020Q4")["status"] == "missed"      # 甲镇 reported
    # per village, service platforms by 2019-06-30: A1 had one from the start, B2 only in 2020
    assert one(rows, target="ts-platform", unit_code=F.A1, period="2019Q1")["status"] == "met"
    assert one(rows, target="ts-platform", unit_code=F.B2, period="2019Q1")["status"] == "on_track"
    assert one(rows, target="ts-platform", unit_code=F.B2, period="2019Q2")["status"] == "missed"
    assert one(rows, target="ts-platform", unit_code=F.B2, period="2019Q4")["status_zh"] == "已逾期未达标"
    b2 = one(rows, target="ts-platform", unit_code=F.B2, period="2020Q1")                   # reached after D
    assert (b2["status"], b2["status_zh"], b2["verdict_at_deadline"]) == ("met_late", "逾期完成", "missed")
    assert one(rows, target="ts-platform", level="county", period="2019Q2")["status"] == "missed"


def test_lower_is_better(rows):
    # weak-economy villages 40 % → 20 % with a target of ≤ 10 %: the sign of (T - x_b) does it
    r = one(rows, target="ts-weak-economy", level="city", period="2019Q2")
    assert r["pi"] == pytest.approx((20 - 40) / (10 - 40))
    assert r["status"] == "on_track"
    assert one(rows, target="ts-weak-economy", level="city", period="2019Q4")["status"] == "met"


def test_regressing(rows):
    # left-behind homes 60 % → 80 % → 33.3 % in 2019Q3 — from 甲镇's three villages only (乙镇 missing):
    # the value and its CR are shown, but the city is not judged (no 倒退 on 3 of 5 returns)
    r = one(rows, target="ts-left-behind", level="city", period="2019Q3")
    assert r["pi"] == pytest.approx((100 / 3 - 60) / 30)
    assert r["cr"] == pytest.approx(r["pi"] / tau(dt.date(2019, 9, 30)))
    assert r["cr"] < -0.10 and not r["regressing"]
    assert (r["status"], r["coverage"]) == ("incomplete", pytest.approx(0.6))
    # 甲镇 reported all its villages: 100 % at the baseline, 33.3 % now — fallen back: lagging, regressing
    town = one(rows, target="ts-left-behind", unit_code=F.TA, period="2019Q3")
    assert town["status"] == "lagging" and town["regressing"] and town["coverage"] == 1
    assert not one(rows, target="ts-left-behind", level="city", period="2019Q4")["regressing"]


def test_aggregate_targets_are_also_judged_per_county_and_township(rows):
    levels = set(rows[rows["target"] == "ts-orgs-avg"]["level"])
    assert levels == {"city", "county", "township"}
    # a total (reserve talents, no denominator) only at its own level
    assert set(rows[rows["target"] == "ts-reserve-band"]["level"]) == {"city"}


def test_every_unit_share_and_failing_units(region, rows):
    # elder associations, 2019Q1: A1 and B1 have one → 甲镇 1/3, 乙镇 1/2, the county 2/5
    assert one(rows, target="ts-elder", unit_code=F.TA, period="2019Q1")["value"] == pytest.approx(100 / 3)
    county = one(rows, target="ts-elder", unit_code=F.COUNTY, period="2019Q1")
    assert county["value"] == pytest.approx(40) and (county["meeting"], county["judged"]) == (2, 5)
    assert county["basis"] == "share"
    # 2019Q3: 乙镇's villages have no data: not counted as failing, but the county is incomplete (3/5)
    c3 = one(rows, target="ts-elder", unit_code=F.COUNTY, period="2019Q3")
    assert (c3["meeting"], c3["judged"], c3["reported"], c3["expected"]) == (2, 3, 3, 5)
    assert c3["status"] == "incomplete" and c3["value"] == pytest.approx(200 / 3)
    assert one(rows, target="ts-elder", unit_code=F.TB, period="2019Q3")["status"] == "no_data"
    b1 = one(rows, target="ts-elder", unit_code=F.B1, period="2019Q3")
    assert b1["status"] == "no_data" and b1["stale"] and b1["last_value"] == 100 and b1["last_period"] == "2019Q2"
    # met only when every unit meets it
    assert one(rows, target="ts-elder", unit_code=F.COUNTY, period="2019Q4")["status"] == "met"
    con, cat = region
    failing = failing_units(con, "ts-elder", F.COUNTY, cat=cat, period="2019Q1")
    assert {(r["unit_code"], r["value"]) for r in failing} == {(F.A2, 0.0), (F.A3, 0.0), (F.B2, 0.0)}


def test_a_unit_merged_away_is_judged_only_while_it_exists(rows):
    a3 = rows[(rows["target"] == "ts-elder") & (rows["unit_code"] == F.A3)]
    assert list(a3["period"]) == F.PERIODS[:6]                       # up to 2020Q2
    assert one(rows, target="ts-elder", unit_code=F.CITY, period="2020Q3")["judged"] == 4


def test_count_per_unit_per_year(region, rows):
    # the county had 1 innovation experiment in 2019 (recorded in November), nothing for 2020
    assert one(rows, target="ts-innovation", level="county", period="2019Q2")["status"] == "met"
    r = one(rows, target="ts-innovation", level="county", period="2020Q1")
    assert r["status"] == "no_data" and r["stale"]
    con, cat = region
    then = assess(con, cat, target="ts-innovation", level="county", as_of="2019Q3")   # known then: 0
    assert [(r["period"], r["value"], r["status"]) for r in then] == [("2019Q3", 0.0, "on_track")]


def test_trend_rules(rows):
    # rising: compared with the same quarter a year earlier
    assert one(rows, target="ts-orgs-rising", period="2019Q4")["status"] == "no_data"   # nothing a year earlier
    r = one(rows, target="ts-orgs-rising", period="2020Q1")
    assert (r["value"], r["target_value"], r["status"]) == (4, 2, "met")
    r = one(rows, target="ts-orgs-rising", period="2020Q4")                    # 4 = 4: flat, from 2 of 4 villages
    assert (r["status"], r["target_value"], r["value"]) == ("incomplete", 4, 4)
    # not_falling with tolerance 5: 40 % → 0 % is a fall of 40 points
    r = one(rows, target="ts-weak-not-falling", period="2020Q1")
    assert r["status"] == "severely_lagging" and r["regressing"]
    assert one(rows, target="ts-weak-not-falling", period="2020Q3")["status"] == "met"


def test_band_rules(rows):
    # reserve talents about 10 ± 2 (the city's total)
    assert one(rows, target="ts-reserve-band", period="2019Q1")["status"] == "met"
    # 6 (2019Q3) and 4 (2020Q4, at the deadline) are 乙镇's missing villages, not a fall: incomplete
    assert one(rows, target="ts-reserve-band", period="2019Q3")["status"] == "incomplete"
    assert one(rows, target="ts-reserve-band", period="2020Q3")["status"] == "met"        # 8: on its edge
    q4 = one(rows, target="ts-reserve-band", period="2020Q4")
    assert (q4["status"], q4["verdict_at_deadline"]) == ("incomplete", "incomplete")


def test_milestone_due_soon_overdue_and_met_late(region, rows):
    # the county's implementation plan was due 2019-04-05 and filed 2019-08-01
    q1 = one(rows, target="ts-county-plan", level="county", period="2019Q1")
    assert q1["status"] == "due_soon" and q1["status_zh"] == "即将到期" and q1["days_to_deadline"] == 5
    q2 = one(rows, target="ts-county-plan", level="county", period="2019Q2")
    assert q2["status"] == "lagging" and q2["overdue"]                 # 86 days over: < 3 months
    assert one(rows, target="ts-county-plan", level="county", period="2019Q3")["status"] == "met_late"
    assert one(rows, target="ts-county-plan", level="city", period="2019Q3")["value"] == 100
    # the task was due 2019-05-15; its lead unit finished it on 2019-10-20
    def task(unit, period):
        return one(rows, target="ts-task-01", unit_code=unit, period=period)["status"]
    assert [task("民政局", p) for p in F.PERIODS[:4]] == ["on_track", "lagging", "severely_lagging", "met_late"]
    assert task(F.CITY, "2019Q3") == "severely_lagging" and task(F.CITY, "2019Q4") == "met_late"
    assert task("财政局", "2019Q2") == "no_data"                        # a partner that never reported
    con, cat = region
    then = assess(con, cat, target="ts-task-01", level="department", as_of="2019Q3")
    assert {r["unit_code"]: r["status"] for r in then} == {"民政局": "severely_lagging", "财政局": "no_data"}


STATUS_NAMES = {"met": "已达标", "met_late": "逾期完成", "on_track": "进度正常", "due_soon": "即将到期",
                "lagging": "进度滞后", "severely_lagging": "严重滞后", "missed": "已逾期未达标", "no_data": "无数据",
                "incomplete": "数据不全", "not_judged": "不判定"}


def test_every_row_has_a_status_and_its_chinese_name(rows):
    # the test plan's targets produce every status but not_judged, each always with the same Chinese name
    names = set(STATUS_NAMES.items()) - {("not_judged", "不判定")}
    assert set(zip(rows["status"], rows["status_zh"])) == names
    assert (rows["status_label"] == rows["status_zh"]).all()             # no strive target in the test plan
    for col in ("target", "unit_code", "unit_name", "level", "period", "value", "target_value", "status", "pi",
                "tau", "projected", "points"):
        assert col in rows


def test_as_of_status(region):
    con, cat = region
    then = one(assess_frame(con, cat, target="ts-elder", as_of="2019Q2"), unit_code=F.TA)
    now = one(assess_frame(con, cat, target="ts-elder", period="2019Q2"), unit_code=F.TA)
    assert then["value"] == pytest.approx(100 / 3) and now["value"] == pytest.approx(200 / 3)


def test_a_later_baseline(region, rows):
    con, cat = region
    later = assess(con, cat, target="ts-orgs-avg", level="city", baseline="2019Q2")
    # x_b = 3 at 2019-06-30: 2019Q3 at 3 makes no progress; 2019Q4 at 4: pi = 1/2, tau = 184/550,
    # x̂_D = 3 + 550/184 = 5.99; 2020Q2 at 4: x̂_D = 3 + 550/366 = 4.50, P = 0.75
    # (2019Q3 and 2020Q4 lack 乙镇's returns: incomplete)
    assert [(r["period"], r["status"]) for r in later] == [
        ("2019Q2", "no_data"), ("2019Q3", "incomplete"), ("2019Q4", "on_track"), ("2020Q1", "on_track"),
        ("2020Q2", "lagging"), ("2020Q3", "met"), ("2020Q4", "incomplete")]
    q4 = later[2]
    assert (q4["baseline_period"], q4["baseline_value"]) == ("2019Q2", 3.0)
    assert q4["pi"] == 0.5 and q4["tau"] == pytest.approx(184 / 550, abs=1e-6)         # rounded to 6 digits
    assert q4["projected"] == pytest.approx(3 + 550 / 184, abs=1e-6)
    # from the plan's start instead, 甲镇 in 2019Q3 is on track (x̂_D = 2 + 641/183 = 5.5)
    assert one(rows, target="ts-orgs-avg", unit_code=F.TA, period="2019Q3")["status"] == "on_track"


TOWN_REPORTS = """code: ceshier-2019
title: 测试规划二
doc_no: 测试
issuer: 测试市
issued: 2019-01-01
scope: "439800000000"
scope_name: 测试市
scope_level: city
period_start: 2019-01-01
period_end: 2020-12-31
targets:
  - {id: ts-town-reports, title: 半年和年终总结按时报送, clause: 一, source_clause: 测试, population: 村(社区), reading: 测试,
     comparator: done_by,
     deadline: 2020-01-05, eval: milestone, level: township,
     milestones: [{field: half_year_report_date, deadline: 2019-07-05, label: 半年总结},
                  {field: year_end_report_date, deadline: 2020-01-05, label: 年终总结}]}
"""


def test_township_sheet_milestone_dates(region, tmp_path):
    con, _ = region
    F.test_catalog(tmp_path)
    (tmp_path / "schemas" / "plans" / "ceshier-2019.yaml").write_text(TOWN_REPORTS, encoding="utf-8")
    cat = load_catalog(tmp_path / "schemas")
    # the 乡镇情况 sheet of every active return: 甲镇 sent its half-year report on 2019-07-03 (on time)
    # and its year-end report on 2020-01-10 (late); 乙镇 its half-year report on 2019-07-20 (late), no year-end one
    dates = {(F.TA, "2019Q2"): ("2019-07-03", None), (F.TA, "2019Q4"): (None, "2020-01-10"),
             (F.TB, "2019Q2"): ("2019-07-20", None)}
    db_begin(con)
    try:
        for sid, town, period in con.execute("SELECT id, township_code, period FROM submissions "
                                             "WHERE status = 'active'").fetchall():
            half, year_end = dates.get((town, period), (None, None))
            con.execute("INSERT INTO township_values (submission_id, township_code, period, half_year_report_date, "
                        "year_end_report_date) VALUES (?, ?, ?, ?, ?)", [sid, town, period, half, year_end])
        frame = assess_frame(con, cat, target="ts-town-reports", stored=False)
    finally:
        db_rollback(con)

    def statuses(unit):
        return list(frame[frame["unit_code"] == unit].sort_values("period")["status"])
    # 甲镇: the half-year report due in 5 days at 2019Q2, then the year-end one; done late in 2020Q1
    assert statuses(F.TA) == ["on_track", "due_soon", "on_track", "due_soon"] + ["met_late"] * 4
    # 乙镇: the year-end report overdue from 2020Q1, by more than 91 days from 2020Q2
    assert statuses(F.TB) == ["on_track", "due_soon", "on_track", "due_soon", "lagging"] + ["severely_lagging"] * 3
    assert statuses(F.TC) == ["no_data"] * 8                   # 丙镇 reports nothing
    ta = one(frame, unit_code=F.TA, period="2020Q1")
    assert ta["milestones"] == [
        {"label": "半年总结", "deadline": "2019-07-05", "status": "met", "done_date": "2019-07-03"},
        {"label": "年终总结", "deadline": "2020-01-05", "status": "met_late", "done_date": "2020-01-10"}]
    # 1 of the 2 townships that report done, 86 days late; 丙镇 reports nothing: 2 of 3, incomplete
    county = one(frame, unit_code=F.COUNTY, period="2020Q1")
    assert (county["meeting"], county["judged"], county["reported"], county["expected"]) == (1, 2, 2, 3)
    assert county["status"] == "incomplete" and county["value"] == pytest.approx(50)


def test_judged_levels_under_a_unit(region):
    _, cat = region
    assert judged_levels(cat, "ts-orgs-avg", "city") == ["county", "township"]          # a ratio: down to townships
    assert judged_levels(cat, "ts-reserve-band", "city") == []                          # a total: its level only
    assert judged_levels(cat, "ts-elder", "county") == ["township", "village"]
    assert judged_levels(cat, "ts-county-plan", "city") == ["county"]
    assert judged_levels(cat, "ts-innovation", "county") == []


def test_last_return_of_a_unit():
    last = {F.TA: "2019Q4", F.TB: "2019Q2"}
    assert last_return_of(F.A1, last) == "2019Q4" and last_return_of(F.B2, last) == "2019Q2"
    assert last_return_of(F.TB, last) == "2019Q2" and last_return_of(F.TC, last) is None
    assert last_return_of(F.COUNTY, last) == "2019Q4" and last_return_of(F.CITY, last) == "2019Q4"
    assert last_return_of("民政局", last) is None


def test_laggards_worst_first(region):
    con, cat = region
    rows = laggards(con, "ts-elder", "village", cat=cat, period="2019Q1")
    # without an elder association (on track: due 2020-12-31) before those with one (met); ties by code
    assert [(r["rank"], r["unit_code"], r["status"], r["last_return"]) for r in rows] == [
        (1, F.A2, "on_track", "2019Q1"), (2, F.A3, "on_track", "2019Q1"), (3, F.B2, "on_track", "2019Q1"),
        (4, F.A1, "met", "2019Q1"), (5, F.B1, "met", "2019Q1")]
    # 甲镇 fell back below 90 % after having met it (lagging, regressing); 乙镇 sent nothing (no data next)
    two = laggards(con, "ts-left-behind", "township", cat=cat, period="2019Q3", top=2)
    assert [(r["unit_code"], r["status"]) for r in two] == [(F.TA, "lagging"), (F.TB, "no_data")]
    assert two[0]["regressing"] and two[1]["last_return"] == "2019Q2"
    only = laggards(con, "ts-platform", "village", cat=cat, period="2019Q2", statuses=["missed"])
    assert [r["unit_code"] for r in only] == [F.B2]
    with pytest.raises(RuralTargetsError) as exc:
        laggards(con, "ts-platform", "village", cat=cat, statuses=["bad"])
    assert exc.value.code == "PRG005"


def test_stored_results_read_back_the_same(region, tmp_path):
    con, cat = region
    stats = refresh(con, cat)
    live = assess_frame(con, cat, plan=F.PLAN, stored=False)
    # every row above village level; a row per village and quarter while it exists (A3 until 2020Q2)
    assert stats["progress"] == int((live["level"] != "village").sum())
    assert stats["progress_village"] == 4 * 8 + 6
    assert is_fresh(con, cat)
    stored = assess_frame(con, cat, plan=F.PLAN)
    key = ["target", "unit_code", "period"]
    merged = live.merge(stored, on=key, suffixes=("", "_s"))
    assert len(merged) == len(live) == len(stored)
    for col in ("status", "level", "basis", "unit_name", "deadline"):
        assert (merged[col] == merged[f"{col}_s"]).all(), col
    for col, tol in (("value", 1e-9), ("pi", 1e-6), ("tau", 1e-6), ("gap_pp", 1e-4)):   # village pi, tau: FLOAT
        assert ((merged[col] - merged[f"{col}_s"]).abs().fillna(0) < tol).all(), col
    above = merged[merged["level"] != "village"]        # a village's stored row keeps no baseline or last value
    for col in ("baseline_period", "last_period"):
        assert (above[col].fillna("-") == above[f"{col}_s"].fillna("-")).all(), col
    # the view names the stored rows
    view = dict(con.execute("SELECT unit_code, status FROM progress WHERE target = 'ts-task-01' AND period = '2019Q3'"
                            ).fetchall())
    assert view == {F.CITY: "severely_lagging", "民政局": "severely_lagging", "财政局": "no_data"}
    long = con.execute("SELECT value FROM indicator_values WHERE indicator = 'volunteers_share' AND unit_code = ? "
                       "AND period = '2019Q1'", [F.TA]).fetchall()
    assert long[0][0] == pytest.approx(100 / 1500 * 100)
    record_task_update(con, F.PLAN, "ts-task-01", "财政局", "推进中", cat=cat, actor=ADMIN)
    assert not is_fresh(con, cat)                               # any update makes them stale


def test_the_writer_raises_an_insert_error_and_runs_nothing_after_it():
    con = duckdb.connect()
    con.execute("CREATE TABLE t (x INTEGER)")
    table = pa.table({"x": pa.array([1, 2], pa.int32())})
    with pytest.raises(duckdb.CatalogException):
        with Writer(con) as writer:
            writer.put("INSERT INTO t SELECT * FROM _rt_insert", table)
            writer.put("INSERT INTO missing SELECT * FROM _rt_insert", table)
            writer.put("INSERT INTO t SELECT * FROM _rt_insert", table)
    assert not writer.thread.is_alive()
    assert con.execute("SELECT count(*) FROM t").fetchall() == [(2,)]


def _broken_store(writer, cols, rows, grid, villages, new="__new"):
    writer.put("INSERT INTO no_such_table SELECT * FROM _rt_insert", pa.table({"x": [1]}))
    return 0


def _broken_judgement(*_args):
    raise ZeroDivisionError("judgement failed")


@pytest.mark.parametrize("broken, error", [("_store_village", duckdb.CatalogException),
                                           ("_village_columns", ZeroDivisionError)])
def test_a_failed_refresh_stores_nothing_and_does_not_hang(region, monkeypatch, broken, error):
    con, cat = region
    refresh(con, cat)
    fingerprint = "SELECT count(*), sum(hash(target, unit, department, pidx, status, value)) FROM progress_data"
    before = con.execute(fingerprint).fetchall()
    threads = threading.active_count()
    monkeypatch.setattr(refresh_module, broken, _broken_store if broken == "_store_village" else _broken_judgement)
    outcome: dict[str, BaseException] = {}

    def run() -> None:
        try:
            refresh(con, cat)
        except BaseException as exc:  # noqa: BLE001 - inspected below
            outcome["error"] = exc
    worker = threading.Thread(target=run)
    worker.start()
    worker.join(120)
    assert not worker.is_alive()                                     # the writer thread was joined
    assert isinstance(outcome.get("error"), error)
    assert threading.active_count() == threads
    assert is_fresh(con, cat)                                        # the earlier tables stand, whole
    assert con.execute(fingerprint).fetchall() == before
    assert con.execute("SELECT table_name FROM duckdb_tables() WHERE ends_with(table_name, '__new')").fetchall() == []


def test_task_and_county_updates_are_validated_and_kept(region):
    con, cat = region
    for kwargs, code in (({"task_id": "ts-nope"}, "PRG011"), ({"unit": "教育局"}, "PRG012"),
                         ({"status": "完成"}, "PRG013"), ({"status": "已完成"}, "PRG014"),
                         ({"done_date": "2019-13-01", "status": "已完成"}, "PRG015")):
        args = {"plan": F.PLAN, "task_id": "ts-task-01", "unit": "民政局", "status": "推进中", **kwargs}
        with pytest.raises(RuralTargetsError) as exc:
            record_task_update(con, args["plan"], args["task_id"], args["unit"], args["status"],
                               args.get("done_date"), cat=cat, actor=ADMIN)
        assert exc.value.code == code
    history = con.execute("SELECT count(*) FROM task_values WHERE task_id = 'ts-task-01' AND unit = '民政局'").fetchall()
    assert history[0][0] == 2                                    # both updates kept
    assert task_records(con, F.PLAN, as_of="2019Q2").query("unit == '民政局'")["status"].item() == "推进中"
    with pytest.raises(RuralTargetsError) as exc:
        record_county_values(con, F.COUNTY, 2019, {"nope": 1}, cat=cat, actor=ADMIN)
    assert exc.value.code == "PRG021"
    with pytest.raises(RuralTargetsError) as exc:
        record_county_values(con, F.TA, 2019, {"innovation_experiments": 1}, cat=cat, actor=ADMIN)
    assert exc.value.code == "REG010"
    with pytest.raises(RuralTargetsError) as exc:
        record_county_values(con, F.COUNTY, 2019, {"innovation_experiments": -1}, cat=cat, actor=ADMIN)
    assert exc.value.code == "PRG022"


def test_unknown_target_and_level_are_clear_errors(region):
    con, cat = region
    with pytest.raises(RuralTargetsError) as exc:
        assess(con, cat, target="ts-nope")
    assert exc.value.code == "PRG001"
    with pytest.raises(RuralTargetsError) as exc:
        assess(con, cat, target="ts-elder", plan="changde-2018")
    assert exc.value.code == "PRG002"


# ---------------------------------------------------------------------------- the sample city

@pytest.mark.slow
def test_cli_progress_changde_every_target_level_and_quarter(sample_db_file, tmp_path):
    db = tmp_path / "sample.duckdb"
    db.write_bytes(sample_db_file.read_bytes())
    out = subprocess.run([sys.executable, "-m", "pipelines.cli.main", "--db", str(db), "progress", "--plan",
                          "changde-2018", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    con = duckdb.connect(str(db), read_only=True)
    last = con.execute("SELECT max(period) FROM submissions").fetchall()[0][0]
    counts = dict(con.execute("SELECT level, count(*) FROM units WHERE starts_with(code, '4399') GROUP BY 1").fetchall())
    con.close()
    from pipelines.periods import quarters
    periods = quarters("2018Q4", last)
    cat = catalog()
    plan = cat.plan("changde-2018")
    seen: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for r in rows:
        assert STATUS_NAMES[r["status"]] == r["status_zh"]
        for key in ("target", "unit_code", "unit_name", "level", "period", "value", "target_value", "pi", "tau",
                    "projected", "points", "coverage", "reported", "expected", "strive", "status_label",
                    "verdict_at_deadline", "above_range", "population", "cycle"):
            assert key in r
        assert r["strive"] == cat.target(r["target"])[1].strive and r["population"] == cat.target(r["target"])[1].population
        if r["verdict_at_deadline"] is not None:
            assert r["verdict_at_deadline"] in ("met", "missed", "incomplete") and r["period"] >= r["deadline"][:4]
        seen.setdefault((r["target"], r["level"]), set()).add((r["unit_code"], r["period"]))
    for t in plan.targets:
        if not t.indicator:                       # tasks and field milestones: tested on the fixture region
            continue
        first = "2019Q1" if t.start else "2018Q4"
        for level in judged_at(t, cat, ["city"]):
            cells = seen.get((t.id, level), set())
            assert {p for _, p in cells} == set(periods[periods.index(first):]), (t.id, level)
            units = {u for u, _ in cells}
            if level in ("city", "county"):
                assert len(units) == counts[level], (t.id, level)
            else:                                 # units of the target's population (村 / 社区) only
                assert 0 < len(units) <= counts[level], (t.id, level)
