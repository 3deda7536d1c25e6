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
from pipelines.compute.rules import (STATUSES, Grid, combine_milestones, first_open_deadline, judge_band,
                                     judge_count_between, judge_milestone, judge_milestone_share, judge_trend,
                                     judge_values, meets)
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
            "comparator": ">=", "value": 5, "deadline": dt.date(2020, 12, 31), "eval": "aggregate", "level": "city"}
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

def test_count_between_is_met_inside_and_lagging_above():
    t = target(comparator="between", value=[1, 2], eval="count", level="county")
    x = np.array([[0.0, 0, 1, 3, 2, NAN, 0, 0]])
    out = judge_count_between(x, EVERYWHERE, t, PLAN, GRID, ST, (0, None))
    assert names(out["status"]) == ["on_track", "on_track", "met", "lagging", "met", "no_data", "on_track", "missed"]


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
    t = target(comparator="rising", value=None, eval="trend", recurrence="yearly", deadline=dt.date(2021, 12, 31))
    x = np.array([[1.0, 2, 3, 4, 4, 5, 3, 4]])
    out = judge_trend(x, EVERYWHERE, t, PLAN, GRID, ST, (0, None))
    # 2019 has no earlier year-end; 2020 against 2019Q4 (4): flat, up, down, and flat at the year's deadline
    assert names(out["status"]) == ["no_data"] * 4 + ["lagging", "met", "severely_lagging", "missed"]
    assert out["baseline_value"][0, 4:].tolist() == [4.0] * 4
    assert out["regressing"][0].tolist() == [False] * 6 + [True, False]
    assert out["deadline"][0, 3] == day(2019, 12, 31) and out["deadline"][0, 7] == day(2020, 12, 31)


def test_yearly_count_takes_a_baseline_per_year():
    t = target(comparator=">=", value=1, eval="count", level="county", recurrence="yearly")
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
