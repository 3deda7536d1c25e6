"""The judgement rules (pipelines.compute.rules) on tiny arrays, against hand-computed statuses.

The grid is 2019Q1 … 2020Q4 (quarter ends 03-31, 06-30, 09-30, 12-31); the plan runs from
2019-01-01, so the first quarter is the baseline: t_b = 2019-03-31. Deadline 2020-12-31 unless
said otherwise: D − t_b = 641 days.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from pipelines.catalog.definitions import MilestoneField, Plan, ProgressSettings, Target
from pipelines.compute.rules import (STATUSES, Grid, apply_coverage, combine_items, combine_milestones,
                                     combine_worst, cycle_label, cycles, deadline_verdicts, first_open_deadline,
                                     judge_band, judge_count_between, judge_milestone, judge_milestone_share,
                                     judge_trend, judge_values, meets, plan_start_reference, status_label)
from pipelines.periods import quarters

GRID = Grid(quarters("2019Q1", "2020Q4"))
PLAN = Plan(code="ceshi-2019", title="测试规划", doc_no="测试", issuer="测试市", issued=dt.date(2019, 1, 1),
            scope="439800000000", scope_name="测试市", scope_level="city", period_start=dt.date(2019, 1, 1),
            period_end=dt.date(2020, 12, 31), targets=[])
ST = ProgressSettings()
NAN = np.nan
EVERYWHERE = np.ones((1, 8), bool)


def target(**kw) -> Target:
    base = {"id": "ts-rule", "title": "测试", "clause": "一", "source_clause": "测试", "indicator": "x",
            "comparator": ">=", "value": 5, "deadline": dt.date(2020, 12, 31), "eval": "aggregate", "level": "city",
            "population": "村", "reading": "测试"}
    if kw.get("eval") in ("trend", "band"):
        base["judged_at"] = "scope"
    return Target(**{**base, **kw})


def names(status: np.ndarray) -> list[str]:
    """One unit's statuses by name."""
    return [STATUSES[s] for s in status[0]]


def day(y: int, m: int, d: int) -> float:
    return float(dt.date(y, m, d).toordinal())


# ---------------------------------------------------------------------------- comparators

def test_meets_every_comparator():
    x = np.array([4.0, 5.0, 6.0, NAN])
    assert meets(x, target(comparator=">=")).tolist() == [False, True, True, False]
    assert meets(x, target(comparator=">")).tolist() == [False, False, True, False]
    assert meets(x, target(comparator="<=")).tolist() == [True, True, False, False]
    assert meets(x, target(comparator="<")).tolist() == [True, False, False, False]
    assert meets(x, target(comparator="==")).tolist() == [False, True, False, False]
    between = target(comparator="between", value=[4.5, 6], eval="count")
    assert meets(x, between).tolist() == [False, True, True, False]
    about = target(comparator="about", value=5, tolerance=1, eval="band")
    assert meets(x, about).tolist() == [True, True, True, False]
    # equality up to rounding: 5 + 1e-12 is 5, so it meets ≥ 5 and == 5 but not > 5
    y = np.array([5 + 1e-12])
    assert meets(y, target(comparator="==")).tolist() == [True]
    assert meets(y, target(comparator=">")).tolist() == [False]
    assert meets(y, target(comparator=">="), value=6).tolist() == [False]


def test_strictly_greater_is_met_only_above_the_target():
    x = np.array([[2.0, 3, 4, 5, 6, 6, 6, 6]])
    # Q2: x̂_D = 2 + 1 × 641/91 = 9.0, P = 2.3 → on track; at 5 (2019Q4) ≥ is met, > is not
    strict = judge_values(x, EVERYWHERE, target(comparator=">"), PLAN, GRID, ST, (0, None))
    assert names(strict["status"]) == ["no_data", "on_track", "on_track", "on_track", "met", "met", "met", "met"]
    assert strict["pi"][0, 3] == pytest.approx(1.0)
    loose = judge_values(x, EVERYWHERE, target(comparator=">="), PLAN, GRID, ST, (0, None))
    assert names(loose["status"]) == ["no_data", "on_track", "on_track", "met", "met", "met", "met", "met"]


def test_strictly_less_is_missed_at_the_deadline_on_the_target():
    # lower is better: 40 → 10 against < 10; never below 10, so missed at the deadline
    x = np.array([[40.0, 30, 20, 10, 10, 10, 10, 10]])
    out = judge_values(x, EVERYWHERE, target(comparator="<", value=10), PLAN, GRID, ST, (0, 100))
    assert names(out["status"]) == ["no_data", "on_track", "on_track", "on_track", "on_track", "on_track",
                                    "on_track", "missed"]
    # 2019Q4: pi = (10 − 40)/(10 − 40) = 1; x̂_D = 40 − 30 × 641/275 < 0, clamped to the bound 0
    assert out["pi"][0, 3] == pytest.approx(1.0)
    assert out["projected"][0, 3] == 0.0
    assert names(judge_values(x, EVERYWHERE, target(comparator="<=", value=10), PLAN, GRID, ST,
                              (0, 100))["status"])[3:] == ["met"] * 5


def test_equal_to_is_met_only_on_the_value():
    x = np.array([[50.0, 75, 100, 100, 90, 100, 95, 95]])
    out = judge_values(x, EVERYWHERE, target(comparator="==", value=100), PLAN, GRID, ST, (0, 100))
    # 2020Q1 at 90: pi = (90 − 50)/(100 − 50) = 0.8, x̂_D = 50 + 40 × 641/366 clamped to 100 → P = 1
    assert names(out["status"]) == ["no_data", "on_track", "met", "met", "on_track", "met", "on_track", "missed"]
    assert out["pi"][0, 4] == pytest.approx(0.8)
    assert out["projected"][0, 4] == 100.0


def test_projection_decides_lagging_and_severely_lagging():
    # from 2 towards 10: 2019Q2 at 3 → x̂_D = 2 + 641/91 = 9.04, P = 0.88: lagging;
    # 2019Q3 at 2.5 → x̂_D = 2 + 0.5 × 641/183 = 3.75, P = 0.22: severely lagging, CR = 0.22 (not regressing);
    # 2019Q4 at 1 → pi = −1/8, CR = −0.29 < −0.10: regressing
    x = np.array([[2.0, 3, 2.5, 1, NAN, NAN, NAN, NAN]])
    out = judge_values(x, EVERYWHERE, target(value=10), PLAN, GRID, ST, (0, None))
    assert names(out["status"])[:5] == ["no_data", "lagging", "severely_lagging", "severely_lagging", "no_data"]
    assert out["regressing"][0, :4].tolist() == [False, False, False, True]
    assert out["stale"][0, 4] and out["last_value"][0, 4] == 1.0
    # the last value is shown for two quarters, then no more
    assert np.isnan(out["last_value"][0, 6])


def test_a_later_baseline_starts_the_judgement_there():
    x = np.array([[2.0, 3, 3, 4, 4, 4, 5, 4]])
    out = judge_values(x, EVERYWHERE, target(), PLAN, GRID, ST, (0, None), baseline="2019Q2")
    assert out["emit"][0].tolist() == [False] + [True] * 7
    assert out["baseline_value"][0, 1] == 3 and out["baseline_col"][0, 1] == 1
    # 2019Q4 at 4: pi = (4 − 3)/(5 − 3) = 0.5, tau = 184/550
    assert out["pi"][0, 3] == pytest.approx(0.5)
    assert out["tau"][0, 3] == pytest.approx(184 / 550)
    assert names(out["status"])[1:4] == ["no_data", "severely_lagging", "on_track"]


# ---------------------------------------------------------------------------- counts, bands, trends

def test_a_range_is_met_from_its_lower_bound_and_above_it_is_not_lagging():
    # "1-2个": 3 is above the range — met, marked above_range, never lagging nor regressing
    t = target(comparator="between", value=[1, 2], eval="count", level="county")
    x = np.array([[0.0, 0, 1, 3, 2, NAN, 0, 0]])
    out = judge_count_between(x, EVERYWHERE, t, PLAN, GRID, ST, (0, None))
    assert names(out["status"]) == ["on_track", "on_track", "met", "met", "met", "no_data", "on_track", "missed"]
    assert out["above_range"][0].tolist() == [False, False, False, True, False, False, False, False]
    assert not out["regressing"].any()
    assert out["target_value"] == 1.0                                   # judged towards the lower bound


def test_a_done_style_count_is_due_soon_within_a_week_of_its_deadline():
    t = target(comparator=">=", value=1, eval="count", level="county", deadline=dt.date(2019, 7, 5))
    x = np.array([[0.0, 0, 0, 1, 1, 1, 1, 1]])
    out = judge_values(x, EVERYWHERE, t, PLAN, GRID, ST, (0, None), done_style=True)
    assert names(out["status"]) == ["on_track", "due_soon", "missed", "met", "met", "met", "met", "met"]


def test_band_between_bounds():
    t = target(comparator="between", value=[4, 6], eval="band")
    x = np.array([[5.0, 7, 8, 3, 6.5, 4, 9, 3]])
    out = judge_band(x, EVERYWHERE, t, PLAN, GRID, ST)
    # half the range (1) outside is lagging, further severely lagging; outside at the deadline: missed
    assert names(out["status"]) == ["met", "lagging", "severely_lagging", "lagging", "lagging", "met",
                                    "severely_lagging", "missed"]
    assert out["target_value"][0].tolist() == [5.0] * 8
    # 2020Q1: 0.5 outside, a year earlier 1 inside → further from the band: regressing
    assert out["regressing"][0].tolist() == [False, False, False, False, True, False, True, False]


def test_trend_not_falling_with_tolerance():
    t = target(comparator="not_falling", value=None, tolerance=2, eval="trend")
    x = np.array([[10.0, 10, 10, 10, 9, 7, 5, 10.5]])
    out = judge_trend(x, EVERYWHERE, t, PLAN, GRID, ST, (0, None))
    assert names(out["status"]) == ["no_data"] * 4 + ["met", "lagging", "severely_lagging", "met"]
    assert out["regressing"][0].tolist() == [False] * 5 + [True, True, False]
    assert out["target_value"][0, 4:].tolist() == [8.0] * 4              # a year earlier minus the tolerance


def test_yearly_trend_compares_with_the_last_year_end():
    t = target(comparator="rising", value=None, eval="trend", recurrence="yearly", deadline=dt.date(2021, 12, 31),
               start=dt.date(2019, 1, 1))
    x = np.array([[1.0, 2, 3, 4, 4, 5, 3, 4]])
    out = judge_trend(x, EVERYWHERE, t, PLAN, GRID, ST, (0, None))
    # 2019 has no earlier year-end; 2020 against 2019Q4 (4): flat, up, down, and flat at the year's deadline
    assert names(out["status"]) == ["no_data"] * 4 + ["lagging", "met", "severely_lagging", "missed"]
    assert out["baseline_value"][0, 4:].tolist() == [4.0] * 4
    assert out["regressing"][0].tolist() == [False] * 6 + [True, False]
    assert out["deadline"][0, 3] == day(2019, 12, 31) and out["deadline"][0, 7] == day(2020, 12, 31)


def test_yearly_count_takes_a_baseline_per_year():
    t = target(comparator=">=", value=1, eval="count", level="county", recurrence="yearly", start=dt.date(2019, 1, 1))
    x = np.array([[0.0, 0, 0, 0, 0, 1, 1, 1]])
    out = judge_values(x, EVERYWHERE, t, PLAN, GRID, ST, (0, None), done_style=True)
    assert names(out["status"]) == ["on_track", "on_track", "on_track", "missed", "on_track", "met", "met", "met"]
    assert out["points"][0].tolist() == [1, 2, 3, 4, 1, 2, 3, 4]


# ---------------------------------------------------------------------------- milestones

def milestone_target() -> Target:
    return target(comparator="done_by", value=None, indicator=None, eval="milestone", level="township",
                  deadline=dt.date(2020, 1, 31),
                  milestones=[MilestoneField(field="half_year_report_date", deadline=dt.date(2019, 7, 31)),
                              MilestoneField(field="year_end_report_date", deadline=dt.date(2020, 1, 31))])


def test_milestone_statuses_by_days_left_and_overdue():
    t = milestone_target()
    known = np.array([[True] * 8, [False] * 8])
    done = np.array([NAN, NAN])
    out = judge_milestone(done, known, np.ones((2, 8), bool), dt.date(2019, 7, 31), t, PLAN, GRID, ST)
    # 122 and 31 days left: on track; 61 days over: lagging; 153 days over: severely lagging
    assert names(out["status"]) == ["on_track", "on_track", "lagging"] + ["severely_lagging"] * 5
    assert out["overdue"][0].tolist() == [False, False] + [True] * 6
    assert [STATUSES[s] for s in out["status"][1]] == ["no_data"] * 8        # nothing reported


def test_combined_milestones_take_the_first_not_done():
    t = milestone_target()
    known = np.ones((2, 8), bool)
    # unit A: half-year report on time (07-20), year-end report late (2020-02-15);
    # unit B: no half-year report, year-end report on time (2020-01-10)
    first = judge_milestone(np.array([day(2019, 7, 20), NAN]), known, known, dt.date(2019, 7, 31), t, PLAN, GRID, ST)
    second = judge_milestone(np.array([day(2020, 2, 15), day(2020, 1, 10)]), known, known, dt.date(2020, 1, 31), t,
                             PLAN, GRID, ST)
    assert names(second["status"]) == ["on_track"] * 4 + ["met_late"] * 4
    out = combine_milestones([first, second])
    assert names(out["status"]) == ["on_track"] * 4 + ["met_late"] * 4
    assert [STATUSES[s] for s in out["status"][1]] == ["on_track", "on_track", "lagging"] + ["severely_lagging"] * 5
    assert out["pi"][0].tolist() == [0, 0, 0.5, 0.5, 1, 1, 1, 1]
    assert out["pi"][1].tolist() == [0, 0, 0, 0, 0.5, 0.5, 0.5, 0.5]
    assert out["done_all"][0].tolist() == [False] * 4 + [True] * 4 and not out["done_all"][1].any()
    # A waits for the year-end report from 2019Q3 on: its deadline is then the second one
    assert out["deadline"][0, 1] == day(2019, 7, 31) and out["deadline"][0, 2] == day(2020, 1, 31)
    assert out["overdue"][1].tolist() == [False, False] + [True] * 6


def test_a_parent_shows_the_share_done_against_the_next_deadline():
    t = milestone_target()
    assert first_open_deadline(t, GRID).tolist() == [day(2019, 7, 31)] * 3 + [day(2020, 1, 31)] * 5
    share = np.array([[0.0, 0, 50, 50, 50, 100, 100, NAN]])
    late = np.array([[0.0, 0, 0, 0, 0, 1, 0, 0]])
    out = judge_milestone_share(share, late, EVERYWHERE, t, PLAN, GRID, ST)
    # 2019Q4: 31 days before the year-end report; 2020Q1: 60 days after it
    assert names(out["status"]) == ["on_track", "on_track", "lagging", "on_track", "lagging", "met_late", "met",
                                    "no_data"]
    assert out["pi"][0, 2] == 0.5


# ---------------------------------------------------------------------------- issue 9: verdicts a bureau can sign

def st_array(*rows: list[str]) -> np.ndarray:
    """Statuses by name as an int8 array [units, quarters]."""
    return np.array([[STATUSES.index(s) for s in row] for row in rows], dtype=np.int8)


def test_too_few_returns_is_incomplete_never_a_verdict():
    # coverage 9/10 = 0.9 is enough; 8/10 is not; no value stays no_data; nothing expected: no coverage
    status = st_array(["met", "on_track", "missed", "no_data", "lagging", "met"])
    cov, low = apply_coverage(status, np.array([[9, 8, 9, 0, 10, 0]]), np.array([[10, 10, 10, 10, 10, 0]]), 0.9)
    assert names(status) == ["met", "incomplete", "missed", "no_data", "lagging", "met"]
    assert cov[0, :5].tolist() == [0.9, 0.8, 0.9, 0.0, 1.0] and np.isnan(cov[0, 5])
    assert low[0].tolist() == [False, True, False, False, False, False]


def test_an_every_unit_share_is_met_only_when_every_expected_unit_reported():
    # shares over the units that reported: 9 of 10 reported and all meet it → incomplete, not met;
    # 9 of 10 reported and one fails (share 8/9) → judged (missed); all 10 reported and meet → met
    status = st_array(["met", "missed", "met", "no_data"])
    share = np.array([[100.0, 800 / 9, 100.0, NAN]])
    apply_coverage(status, np.array([[9, 9, 10, 0]]), np.array([[10, 10, 10, 10]]), 0.9, share)
    assert names(status) == ["incomplete", "missed", "met", "no_data"]


def test_met_after_the_deadline_is_met_late_and_the_verdict_stays():
    # deadline 2019-04-05: inside 2019Q2, whose status is the verdict, copied to every later quarter
    d = np.full(8, day(2019, 4, 5))
    late = st_array(["on_track", "missed", "missed", "met", "met", "met", "missed", "met"])
    verdict = deadline_verdicts(late, d, GRID)
    assert names(late) == ["on_track", "missed", "missed", "met_late", "met_late", "met_late", "missed", "met_late"]
    assert verdict[0].tolist() == [-1] + [STATUSES.index("missed")] * 7
    # met at the deadline: met it stays, later falls are missed, the verdict stays met
    ontime = st_array(["on_track", "met", "missed", "met", "met", "met", "met", "met"])
    verdict = deadline_verdicts(ontime, d, GRID)
    assert names(ontime) == ["on_track", "met", "missed", "met", "met", "met", "met", "met"]
    assert set(verdict[0, 1:].tolist()) == {STATUSES.index("met")}
    # no value (or too few returns) at the deadline: the verdict is incomplete, met later is met late
    unknown = st_array(["on_track", "no_data", "incomplete", "met", "met", "met", "met", "met"])
    verdict = deadline_verdicts(unknown, d, GRID)
    assert verdict[0, 1] == STATUSES.index("incomplete") and names(unknown)[3] == "met_late"
    # a level not judged has no verdict; a deadline after the grid neither
    quiet = st_array(["not_judged"] * 8)
    assert (deadline_verdicts(quiet, d, GRID) == -1).all()
    assert (deadline_verdicts(st_array(["met"] * 8), np.full(8, day(2022, 1, 1)), GRID) == -1).all()


def test_yearly_cycles_stop_at_the_deadline():
    # each county at least one a year, 2019 only (deadline 2019-12-31 = the plan's end): 2020 is no new
    # cycle — its quarters belong to 2019, missed there, and met late once the count is reached
    t = target(comparator=">=", value=1, eval="count", level="county", recurrence="yearly",
               start=dt.date(2019, 1, 1), deadline=dt.date(2019, 12, 31))
    cyc = cycles(t, GRID, PLAN)
    assert cyc.code.tolist() == [2019 * 4] * 8 and set(cyc.deadline.tolist()) == {day(2019, 12, 31)}
    assert cycle_label("yearly", 2019 * 4) == "2019" and cycle_label("quarterly", 2021 * 4 + 1) == "2021Q2"
    x = np.array([[0.0, 0, 0, 0, 0, 1, 1, 1]])
    out = judge_values(x, EVERYWHERE, t, PLAN, GRID, ST, (0, None), done_style=True)
    verdict = deadline_verdicts(out["status"], cyc.deadline, GRID)
    assert names(out["status"]) == ["on_track", "on_track", "on_track", "missed", "missed", "met_late", "met_late",
                                    "met_late"]
    assert verdict[0].tolist() == [-1, -1, -1] + [STATUSES.index("missed")] * 5
    # quarterly cycles from 2019Q2 to 2019Q4: each quarter due at its end, the verdict per cycle
    q = target(comparator=">=", value=1, eval="count", level="county", recurrence="quarterly",
               start=dt.date(2019, 4, 1), deadline=dt.date(2019, 12, 31))
    qc = cycles(q, GRID, PLAN)
    assert [cycle_label("quarterly", c) for c in qc.code] == ["2019Q2", "2019Q2", "2019Q3"] + ["2019Q4"] * 5
    assert qc.deadline[1] == day(2019, 6, 30) and qc.deadline[2] == day(2019, 9, 30)
    y = np.array([[NAN, 1, 0, 1, 1, 1, 1, 1]])
    qout = judge_values(y, EVERYWHERE, q, PLAN, GRID, ST, (0, None), done_style=True)
    qv = deadline_verdicts(qout["status"], qc.deadline, GRID)
    assert names(qout["status"])[1:4] == ["met", "missed", "met"]
    assert [STATUSES[v] if v >= 0 else None for v in qv[0, 1:4]] == ["met", "missed", "met"]


def test_stable_is_judged_against_the_plan_start_not_year_on_year():
    # 保持基本稳定 within 1 point: a share drifting down 0.225 pp a quarter (0.9 pp a year)
    x = np.array([[20 - 0.225 * i for i in range(8)]])
    stable = target(comparator="not_falling", value=None, tolerance=1, eval="trend", baseline="plan_start",
                    deadline=dt.date(2021, 12, 31))
    out = judge_trend(x, EVERYWHERE, stable, PLAN, GRID, ST, (0, 100))
    # 2020Q1 is 0.9 below the 2019Q1 value (met); 2020Q2 1.125 below (lagging: the second year)
    assert names(out["status"]) == ["no_data", "met", "met", "met", "met", "lagging", "lagging", "lagging"]
    assert out["regressing"][0].tolist() == [False] * 5 + [True] * 3
    assert out["baseline_value"][0].tolist() == [20.0] * 8 and out["baseline_col"][0].tolist() == [0] * 8
    assert out["target_value"][0, 5] == pytest.approx(19.0)
    # the same drift year on year falls 0.9 a year: met for ever
    yearly = target(comparator="not_falling", value=None, tolerance=1, eval="trend", deadline=dt.date(2021, 12, 31))
    assert names(judge_trend(x, EVERYWHERE, yearly, PLAN, GRID, ST, (0, 100))["status"])[4:] == ["met"] * 4
    # at the deadline: met or missed by the first test (2.0 below at 2020Q4 → missed)
    due = stable.model_copy(update={"deadline": dt.date(2020, 12, 31)})
    x2 = np.array([[20.0, 20, 20, 20, 20, 20, 20, 18]])
    assert names(judge_trend(x2, EVERYWHERE, due, PLAN, GRID, ST, (0, 100))["status"])[-1] == "missed"


def test_plan_start_value_is_the_last_quarter_before_the_start():
    grid = Grid(quarters("2018Q3", "2019Q4"))
    x = np.array([[9.0, 10, 11, 10, 9, 12], [NAN, NAN, 7, 8, 7, 7]])
    assert plan_start_reference(x, grid, dt.date(2019, 1, 1)).tolist() == [1, 2]     # 2018Q4, else 2019Q1
    rising = target(comparator="rising", value=None, eval="trend", baseline="plan_start", deadline=dt.date(2021, 12, 31))
    out = judge_trend(x, np.ones((2, 6), bool), rising, PLAN, grid, ST, (0, None))
    # against 10 (2018Q4): 11 up, 10 flat, 9 down, 12 up; against 7 (2019Q1): 8 up, 7 flat, 7 flat
    assert [STATUSES[s] for s in out["status"][0, 2:]] == ["met", "lagging", "severely_lagging", "met"]
    assert [STATUSES[s] for s in out["status"][1, 2:]] == ["no_data", "met", "lagging", "lagging"]
    assert out["regressing"][0, 4] and not out["regressing"][1].any()
    falling = rising.model_copy(update={"comparator": "falling"})
    down = judge_trend(x, np.ones((2, 6), bool), falling, PLAN, grid, ST, (0, None))
    assert [STATUSES[s] for s in down["status"][0, 2:]] == ["severely_lagging", "lagging", "met", "severely_lagging"]


def test_task_items_take_the_worst_and_an_item_after_another_waits_for_it():
    # a pilot launched by 2019-12-31, closed three years after its launch
    t = target(comparator="done_by", value=None, indicator=None, eval="milestone", level="province",
               lead=["民政厅"], deadline=dt.date(2019, 12, 31))
    known = np.ones((1, 8), bool)
    launch_done = np.array([day(2020, 2, 1)])
    launch = judge_milestone(launch_done, known, known, dt.date(2019, 12, 31), t, PLAN, GRID, ST)
    due = day(2023, 2, 1)
    close_deadline = np.where(launch_done[:, None] <= GRID.end[None, :], due, NAN)
    close = judge_milestone(np.array([NAN]), known, known, close_deadline, t, PLAN, GRID, ST)
    assert names(close["status"]) == ["on_track"] * 8           # no deadline before the launch, then far ahead
    assert np.isnan(close["deadline"][0, 3]) and close["deadline"][0, 4] == due
    both = combine_items([launch, close])
    # the worst item: the launch due soon → overdue → on track (launched late, closing not due)
    assert names(both["status"]) == ["on_track", "on_track", "on_track", "due_soon"] + ["on_track"] * 4
    assert both["pi"][0].tolist() == [0, 0, 0, 0, 0.5, 0.5, 0.5, 0.5] and not both["done_all"].any()
    assert names(combine_worst([st_array(["met", "met", "met_late"])[0],
                                st_array(["met", "met_late", "lagging"])[0]])[None]) == ["met", "met_late", "lagging"]


def test_a_strive_target_reads_strive_and_unmet_when_missed():
    assert status_label("missed", strive=True) == "力争目标未实现"
    assert status_label("on_track", strive=True) == "进度正常(力争目标)"
    assert status_label("missed") == "已逾期未达标" and status_label("incomplete") == "数据不全"
    assert status_label("not_judged") == "不判定" and status_label("met_late") == "逾期完成"
