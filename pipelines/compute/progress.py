"""Progress assessment: every target × unit × quarter judged by 序时进度 and projection.

The method is ../shared/progress-method.md; every threshold is in schemas/settings.yaml
(``progress``). For a unit with baseline x_b at t_b (the first quarter with a value at or after the
plan's start — configurable), latest value x_t at t, target T and deadline D::

    pi  = (x_t - x_b) / (T - x_b)          完成进度 (share of the required change achieved)
    tau = (t - t_b) / (D - t_b)            序时进度 (share of the time elapsed; 1 once D is reached)
    CR  = pi / tau                         actual rate / required rate
    x̂_D = x_b + (x_t - x_b)(D - t_b)/(t - t_b), clamped to the indicator's bounds
    P   = (x̂_D - x_b) / (T - x_b)          projected share of the required change at the deadline

Dates are quarter ends (a quarter's value is its state at the quarter's end). The sign of (T - x_b)
makes lower-is-better targets work with no special case.

Statuses (in this order; the first that applies)
    no_data 无数据            no value for the quarter (a missing return is no data, never zero)
    met 已达标                the value meets the target (checked first, whatever the trend)
    missed 已逾期未达标        the quarter ends on or after the deadline and the value does not meet it
    no_data                   fewer than ``min_points`` values since the baseline (no trend yet)
    lagging 进度滞后           (baseline already met, value fell back below the target: regressing)
    on_track 进度正常          P ≥ ``on_track`` (0.95)
    lagging 进度滞后           ``lagging_floor`` (0.50) ≤ P < 0.95
    severely_lagging 严重滞后  P < 0.50
    Flags: regressing 倒退 (CR < ``regressing_cr``), low_confidence (fewer than
    ``low_confidence_below`` points), stale (no value this quarter: the last value is shown for
    display only, and not at all once older than ``stale_after_quarters``).
    Outputs: gap_pp = (pi - tau) × 100, rate_required = (T - x_t) per remaining quarter.

Where each target is judged (per plan scope: the plan's own unit and the units of settings.applies)
    aggregate   the target's level and every level above it up to the scope; for ratios (an
                indicator with a denominator) also every level below it down to township
                ("also shown per county/township"); totals only at the target level and above.
    every_unit  each unit of the target's level; above it, the SHARE (%) of those units meeting the
                target in the quarter — units without data for the quarter count as not meeting,
                units where the indicator does not apply (``among`` false) are left out — judged as a
                target of 100 % with the same method: met only when every unit meets it.
    count       like every_unit (per unit at the target's level, shares above).
    trend/band  the target's level and above (the rule is stated for that level).
    milestone   each unit of the target's level; above it the share of units done.

Rules of their own (where the method note is silent)
    Done/not-done units — count targets, and every_unit targets whose unit value is a yes/no or a
        count of yes (e.g. "每个乡镇完成1个示范村", "每个建制村都拥有…平台") — are judged as milestones
        before the deadline ("a milestone per township"): met once the value meets the target,
        on_track while the deadline is ahead (due_soon within ``milestone_due_soon_days``), and, as
        every value target, missed once the deadline is reached without meeting it. pi and tau are
        shown; no projection.
    band (about T ± tolerance; between [lo, hi])
        within the band → met; outside it by at most one tolerance (half the range for between) →
        lagging; further → severely_lagging; deadline reached outside the band → missed;
        regressing when further from the band than a year earlier.
    count between [lo, hi] (e.g. 1–2 demonstration towns): met inside; below lo as a done/not-done
        count towards lo; above hi → lagging (outside the range).
    trend rising: compared with the same quarter a year earlier (with yearly recurrence: with the
        last Q4, i.e. the previous year-end): up → met (also met at the indicator's upper bound, e.g.
        100 %); flat → lagging; down → severely_lagging and regressing. not_falling with tolerance
        tol: a fall of at most tol → met; up to 2·tol → lagging and regressing; more →
        severely_lagging and regressing. No value a year earlier → no_data.
    yearly recurrence (cd-innovation-experiment: each county ≥ 1 a year; jx-weak-help-5pct: about
        5 % each year; bj-judicial-office-trend): every calendar year from the target's start is a
        cycle of its own with deadline 31 December (the last one the target's deadline): the Q4
        value settles the year (met or missed); cycles continue after the deadline year, as the
        clauses say "每年".
    Milestones: met (done by the deadline), met_late (done after it), on_track, due_soon (≤ 7 days
        left), and when overdue lagging (< ``milestone_severe_after_days``, about 3 months) or
        severely_lagging beyond, with ``overdue`` set. Field milestones take the earliest date
        reported for the unit no more than half a year before the deadline (earlier dates belong to
        an earlier cycle of a yearly report); no_data when the unit reported nothing since then.
        Task milestones (sichuan-2021, 督办任务) are judged per responsible unit (department) from its
        latest update as of the cutoff, and overall per scope unit: done when every lead unit is done.
    Laggards are ordered missed, severely_lagging, lagging, no_data (not reporting is a failure of
        supervision, but a known shortfall comes first), due_soon, on_track, met_late, met; then by
        gap (pi - tau), most behind first; each with its township's last return up to the quarter.
    A yearly count from the county sheet uses, for every quarter of a year, the year's latest
        record (as of the cutoff when asked as of a quarter).

Computing and storing
    ``assess`` / ``assess_frame`` compute on the fly for the scopes asked (the plan's units, or one
    unit's subtree), or read the stored results when they reflect the current data and catalog.
    ``refresh`` computes everything — indicators at township level and above in one SQL scan per
    sheet, village values in one more, then the judgement by groups of provinces in numpy (arrays
    units × quarters, no per-row Python) — and stores it: ``progress_data`` (township and above and
    task units, keys as small integers; the view ``progress`` names them) and ``progress_village``
    (one row per village and quarter, a column group per village target: status, value, pi, tau,
    flags, points; the other outputs of a village row are recomputed by ``assess(stored=False)``). A
    writer thread stores one group while the next is judged.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from pipelines.catalog.definitions import Catalog, Indicator, Plan, Target, catalog
from pipelines.compute.indicators import (SheetValues, UnitValues, compute_wide, cutoff, data_periods, period_bounds,
                                          period_of, pidx as period_index, selection_sql)
from pipelines.errors import RuralTargetsError
from pipelines.units import LEVEL_RANK, LEVEL_ZH, LEVELS, PREFIX_LEN

STATUSES = ("met", "met_late", "on_track", "due_soon", "lagging", "severely_lagging", "missed", "no_data")
STATUS_ZH = {"met": "已达标", "met_late": "逾期完成", "on_track": "进度正常", "due_soon": "即将到期",
             "lagging": "进度滞后", "severely_lagging": "严重滞后", "missed": "已逾期未达标", "no_data": "无数据"}
# laggard order, worst first
SEVERITY = {"missed": 0, "severely_lagging": 1, "lagging": 2, "no_data": 3, "due_soon": 4, "on_track": 5,
            "met_late": 6, "met": 7}
MET, MET_LATE, ON_TRACK, DUE_SOON, LAGGING, SEVERE, MISSED, NO_DATA = range(8)
_NAMES = np.array(STATUSES, dtype=object)
DEPARTMENT = "department"          # the level of a task's responsible unit (牵头/参与单位)
LEVEL_NAMES = {**LEVEL_ZH, DEPARTMENT: "责任单位"}
TASK_STATUSES = ("未启动", "推进中", "已完成")
EPS = 1e-9
QUARTER_DAYS = 365.25 / 4
WINDOW_DAYS = 183                  # a field milestone looks at dates from half a year before its deadline

ROW_COLUMNS = ["plan", "target", "unit_code", "unit_name", "level", "period", "value", "target_value", "status",
               "status_zh", "pi", "tau", "gap_pp", "cr", "projected", "rate_required", "points", "low_confidence",
               "regressing", "stale", "overdue", "days_to_deadline", "deadline", "last_value", "last_period",
               "baseline_value", "baseline_period", "basis", "meeting", "judged", "rows", "expected",
               "target_title", "indicator", "eval", "comparator", "target_text", "unit"]


# ============================================================================ the quarter grid

@dataclass
class Grid:
    """The quarters judged, as columns: period names and their first/last days (ordinals)."""

    periods: list[str]

    def __post_init__(self) -> None:
        self.p0 = period_index(self.periods[0]) if self.periods else 0
        bounds = [period_bounds(p) for p in self.periods]
        self.start = np.array([b[0].toordinal() for b in bounds], dtype=float)
        self.end = np.array([b[1].toordinal() for b in bounds], dtype=float)
        self.year = np.array([int(p[:4]) for p in self.periods])
        self.quarter = np.array([int(p[-1]) for p in self.periods])

    def __len__(self) -> int:
        return len(self.periods)

    def first_col(self, day: dt.date) -> int:
        """The first quarter ending on or after ``day``."""
        hits = np.nonzero(self.end >= day.toordinal())[0]
        return int(hits[0]) if len(hits) else len(self.periods)


@dataclass
class Units:
    """The units of one level in a scope, with their existence per quarter."""

    level: str
    codes: np.ndarray
    names: np.ndarray
    exists: np.ndarray          # bool [U, P]

    def __post_init__(self) -> None:
        self.index = pd.Index(self.codes)
        self.ints = _code_ints(self.codes)
        self._parents: dict[int, np.ndarray] = {}

    def parent_positions(self, parent: "Units") -> np.ndarray:
        """For each unit, the position of its ancestor in ``parent`` (by code prefix; -1: none)."""
        m = 10 ** (12 - PREFIX_LEN[parent.level])
        key = id(parent)
        if key not in self._parents:
            self._parents[key] = pd.Index(parent.ints).get_indexer((self.ints // m) * m)
        return self._parents[key]

    def __len__(self) -> int:
        return len(self.codes)


def _code_ints(codes: np.ndarray) -> np.ndarray:
    """12-digit codes as int64 (-1 for anything else, e.g. a department's name)."""
    if len(codes) == 0:
        return np.zeros(0, dtype=np.int64)
    try:
        return np.asarray(codes, dtype="U12").astype(np.int64)
    except ValueError:
        out = np.full(len(codes), -1, dtype=np.int64)
        ok = np.array([isinstance(c, str) and len(c) == 12 and c.isdigit() for c in codes], dtype=bool)
        if ok.any():
            out[ok] = np.asarray(codes[ok], dtype="U12").astype(np.int64)
        return out


def _units_by_level(con: duckdb.DuckDBPyConnection, prefixes: Sequence[str], grid: Grid) -> dict[str, Units]:
    where = " OR ".join("starts_with(code, ?)" for _ in prefixes) or "TRUE"
    vf = "coalesce(CAST(datediff('day', DATE '0001-01-01', valid_from) + 1 AS DOUBLE), '-inf'::DOUBLE)"
    vt = "coalesce(CAST(datediff('day', DATE '0001-01-01', valid_to) + 1 AS DOUBLE), 'inf'::DOUBLE)"
    frame = con.execute(f"SELECT code, name, level, {vf} AS vf, {vt} AS vt FROM units WHERE {where} ORDER BY code",
                        list(prefixes)).df()
    out = {}
    for level in LEVELS:
        sub = frame[frame["level"] == level]
        vf = sub["vf"].to_numpy(dtype=float)
        vt = sub["vt"].to_numpy(dtype=float)
        exists = (vf[:, None] <= grid.end[None, :]) & (vt[:, None] >= grid.start[None, :])
        out[level] = Units(level, sub["code"].to_numpy(dtype=object), sub["name"].to_numpy(dtype=object), exists)
    return out


# ============================================================================ judging

@dataclass
class Block:
    """The judgement of one target at one level: arrays [U, P]; ``emit`` marks the rows that exist."""

    target: Target
    plan: Plan
    level: str
    units: Units
    basis: str                                  # value | share | milestone | task
    status: np.ndarray
    emit: np.ndarray
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def _full(shape: tuple[int, int], value: float = np.nan) -> np.ndarray:
    return np.full(shape, value, dtype=float)


def _ffill_index(valid: np.ndarray) -> np.ndarray:
    """For each cell the column of the latest valid cell at or before it (-1: none)."""
    idx = np.where(valid, np.arange(valid.shape[1])[None, :], -1)
    return np.maximum.accumulate(idx, axis=1)


def _meets(x: np.ndarray, t: Target, value: float | None = None) -> np.ndarray:
    """Whether ``x`` meets the comparator of ``t`` (False where x is NaN)."""
    v = t.value if value is None else value
    with np.errstate(invalid="ignore"):
        if t.comparator == "between":
            lo, hi = v
            return (x >= lo - EPS * max(1, abs(lo))) & (x <= hi + EPS * max(1, abs(hi)))
        tol = EPS * max(1.0, abs(v))
        if t.comparator == ">=":
            return x >= v - tol
        if t.comparator == ">":
            return x > v + tol
        if t.comparator == "<=":
            return x <= v + tol
        if t.comparator == "<":
            return x < v - tol
        if t.comparator == "==":
            return np.abs(x - v) <= tol
        if t.comparator == "about":
            return np.abs(x - v) <= t.tolerance + tol
    raise ValueError(t.comparator)


def _deadlines(t: Target, plan: Plan, grid: Grid) -> np.ndarray:
    """The deadline (ordinal) that applies to each column: per calendar year with yearly recurrence."""
    final = t.deadline.toordinal()
    if t.recurrence != "yearly":
        return np.full(len(grid), float(final))
    out = np.array([min(dt.date(int(y), 12, 31).toordinal(), final) if y <= t.deadline.year
                    else dt.date(int(y), 12, 31).toordinal() for y in grid.year], dtype=float)
    return out


def _start(t: Target, plan: Plan, baseline: str | None) -> dt.date:
    day = max(plan.period_start, t.start) if t.start else plan.period_start
    if baseline:
        day = max(day, period_bounds(baseline)[0]) if t.start else period_bounds(baseline)[0]
    return day


def _tau(pend: np.ndarray, tb: np.ndarray, D: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        span = D - tb
        tau = np.where(span > 0, (pend - tb) / np.where(span > 0, span, 1), 1.0)
    return np.clip(tau, 0.0, 1.0)


def _common(x: np.ndarray, valid: np.ndarray, grid: Grid, settings, light: bool = False) -> dict[str, np.ndarray]:
    """points, last value / period (for display: not shown once older than stale_after_quarters),
    stale (no value this quarter, an earlier one exists). ``light``: only points and stale (what
    the stored village table keeps)."""
    U, P = x.shape
    has = ~np.isnan(x)
    if light:
        return {"points": np.cumsum(valid, axis=1), "stale": ~has & np.logical_or.accumulate(has, axis=1)}
    last = _ffill_index(has)
    cols = np.arange(P)[None, :]
    show = (last >= 0) & ((cols - last) <= settings.stale_after_quarters)
    last_value = np.where(show, np.take_along_axis(x, np.maximum(last, 0), axis=1), np.nan)
    return {"points": np.cumsum(valid, axis=1), "last_col": last, "last_value": last_value,
            "stale": ~has & (last >= 0)}


def judge_values(x: np.ndarray, exists: np.ndarray, t: Target, plan: Plan, grid: Grid, settings,
                 bounds: tuple[float | None, float | None], *, done_style: bool = False,
                 T: float | None = None, baseline: str | None = None, light: bool = False) -> dict[str, np.ndarray]:
    """The method of progress-method.md on value series ``x`` [U, P] (NaN: no value).

    ``done_style``: judge as a milestone before the deadline (done/not-done units, counts).
    ``T`` overrides the target value (shares: 100). gap_pp, cr and rate_required follow from the
    outputs (``block_table``).
    """
    U, P = x.shape
    c0 = grid.first_col(_start(t, plan, baseline))
    D = _deadlines(t, plan, grid)[None, :]
    pend = grid.end[None, :]
    cols = np.arange(P)[None, :]
    target = t.value if T is None else T
    lo_target = float(target[0] if isinstance(target, list) else target)
    has = ~np.isnan(x)
    valid = has & (cols >= c0)
    if t.recurrence == "yearly":                        # a baseline per cycle: the first value of the year
        bcol = np.full((U, P), -1, dtype=np.int64)
        points = np.zeros((U, P), dtype=np.int64)
        for y in np.unique(grid.year):
            m = grid.year == y
            in_year = valid[:, m]
            fc = np.where(in_year.any(axis=1), np.nonzero(m)[0][0] + in_year.argmax(axis=1), -1)
            bcol[:, m] = fc[:, None]
            points[:, m] = np.cumsum(in_year, axis=1)
        has_b = bcol >= 0
        seen = (cols >= bcol) & has_b
        xb = np.where(has_b, np.take_along_axis(x, np.maximum(bcol, 0), axis=1), np.nan)
        tb = np.where(has_b, grid.end[np.maximum(bcol, 0)], np.nan)
    else:
        anyv = valid.any(axis=1)
        b1 = np.where(anyv, valid.argmax(axis=1), -1)
        xb = np.where(anyv, x[np.arange(U), np.maximum(b1, 0)], np.nan)[:, None]
        tb = np.where(anyv, grid.end[np.maximum(b1, 0)], np.nan)[:, None]
        bcol = b1[:, None]
        seen = (cols >= bcol) & anyv[:, None]
        points = np.cumsum(valid, axis=1)
    meets = _meets(x, t) if t.comparator == "between" else _meets(x, t, target if T is not None else None)
    req = lo_target - xb
    if t.comparator in (">=", ">"):
        fallen = req <= 0
    elif t.comparator in ("<=", "<"):
        fallen = req >= 0
    else:
        fallen = req == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = _tau(pend, tb, D)
        pi = np.where(fallen, np.nan, (x - xb) / np.where(req == 0, np.nan, req))
    status = np.full((U, P), NO_DATA, dtype=np.int8)
    open_ = has & ~meets
    status[has & meets] = MET
    past = open_ & (pend >= D)
    status[past] = MISSED
    open_ &= ~past
    out = {"value": x, "pi": pi, "tau": tau, "points": points, "target_value": lo_target,
           "deadline": D, "baseline_value": np.where(seen, xb, np.nan), "baseline_col": np.where(seen, bcol, -1)}
    if done_style:
        soon = open_ & ((D - pend) <= settings.milestone_due_soon_days)
        status[soon] = DUE_SOON
        status[open_ & ~soon] = ON_TRACK
        regressing = np.zeros((U, P), bool)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            elapsed = pend - tb
            proj = xb + (x - xb) * (D - tb) / np.where(elapsed > 0, elapsed, np.nan)
            lo, hi = bounds
            if lo is not None:
                proj = np.maximum(proj, lo)
            if hi is not None:
                proj = np.minimum(proj, hi)
            share = (proj - xb) / np.where(fallen | (req == 0), np.nan, req)
            cr = pi / np.where(tau > 0, tau, np.nan)
        few = open_ & (points < settings.min_points)
        open_ &= ~few
        fb = open_ & fallen
        status[fb] = LAGGING
        open_ &= ~fb
        ok = share >= settings.on_track - EPS
        mid = share >= settings.lagging_floor - EPS
        status[open_ & ok] = ON_TRACK
        status[open_ & ~ok & mid] = LAGGING
        status[open_ & ~mid] = SEVERE
        regressing = has & ~meets & ((cr < settings.regressing_cr) | (fallen & seen))
        out["projected"] = np.where(has & ~meets, proj, np.nan)
    out.update(_common(x, valid, grid, settings, light))
    out["points"] = points
    out["status"], out["emit"], out["regressing"] = status, exists & (cols >= c0), regressing
    out["low_confidence"] = points < settings.low_confidence_below
    return out


def judge_trend(x: np.ndarray, exists: np.ndarray, t: Target, plan: Plan, grid: Grid, settings,
                bounds: tuple[float | None, float | None], baseline: str | None = None) -> dict[str, np.ndarray]:
    """rising / not_falling: compared with a year earlier (yearly recurrence: with the last Q4)."""
    U, P = x.shape
    c0 = grid.first_col(_start(t, plan, baseline))
    D = _deadlines(t, plan, grid)[None, :]
    pend = grid.end[None, :]
    cols = np.arange(P)[None, :]
    has = ~np.isnan(x)
    ref = _full((U, P))
    if t.recurrence == "yearly":
        q4 = np.where(has & (grid.quarter == 4)[None, :], x, np.nan)
        for c in range(P):               # the latest Q4 strictly before c
            prev = [j for j in range(c) if grid.quarter[j] == 4]
            if prev:
                ref[:, c] = q4[:, prev[-1]]
    else:
        ref[:, 4:] = x[:, :-4] if P > 4 else ref[:, 4:]
    delta = x - ref
    tol = t.tolerance or 0.0
    hi = bounds[1]
    with np.errstate(invalid="ignore"):
        at_top = (x >= hi - EPS) if hi is not None else np.zeros((U, P), bool)
        if t.comparator == "rising":
            met = (delta > EPS) | at_top
            lag = ~met & (np.abs(delta) <= EPS)
            severe = ~met & (delta < -EPS)
            regress = delta < -EPS
        else:                                                         # not_falling
            met = (delta >= -tol - EPS) | at_top
            lag = ~met & (delta >= -2 * tol - EPS)
            severe = ~met & ~lag
            regress = ~met
    known = has & ~np.isnan(ref)
    status = np.full((U, P), NO_DATA, dtype=np.int8)
    status[known & met] = MET
    status[known & ~met & (pend >= D)] = MISSED
    open_ = known & ~met & (pend < D)
    status[open_ & lag] = LAGGING
    status[open_ & severe] = SEVERE
    valid = has & (cols >= c0)
    common = _common(x, valid, grid, settings)
    points = common["points"]
    tb = grid.end[c0] if c0 < P else np.nan
    tau = _tau(pend, np.full((1, P), tb), D)
    return {"status": status, "emit": exists & (cols >= c0), "value": x, "pi": _full((U, P)),
            "tau": np.broadcast_to(tau, (U, P)), "points": points,
            "low_confidence": points < settings.low_confidence_below, "regressing": known & regress,
            "stale": common["stale"], "last_value": common["last_value"], "last_col": common["last_col"],
            "baseline_value": ref, "baseline_col": np.full((U, P), -1), "deadline": np.broadcast_to(D, (U, P)),
            "target_value": _clamp(np.where(t.comparator == "not_falling", ref - tol, ref), bounds)}


def _clamp(x: np.ndarray, bounds: tuple[float | None, float | None]) -> np.ndarray:
    lo, hi = bounds
    if lo is not None:
        x = np.where(np.isnan(x), x, np.maximum(x, lo))
    if hi is not None:
        x = np.where(np.isnan(x), x, np.minimum(x, hi))
    return x


def judge_band(x: np.ndarray, exists: np.ndarray, t: Target, plan: Plan, grid: Grid, settings,
               baseline: str | None = None) -> dict[str, np.ndarray]:
    """about T ± tolerance, or between [lo, hi]: inside → met; distance decides lagging / severe."""
    U, P = x.shape
    c0 = grid.first_col(_start(t, plan, baseline))
    D = _deadlines(t, plan, grid)[None, :]
    pend = grid.end[None, :]
    cols = np.arange(P)[None, :]
    if t.comparator == "between":
        lo, hi = t.value
        width = (hi - lo) / 2 or 1.0
        centre = (lo + hi) / 2
    else:
        lo, hi = t.value - t.tolerance, t.value + t.tolerance
        width, centre = t.tolerance, t.value
    has = ~np.isnan(x)
    with np.errstate(invalid="ignore"):
        outside = np.maximum(lo - x, x - hi)           # > 0 outside the band
        met = has & (outside <= EPS * max(1, abs(centre)))
        lag = has & ~met & (outside <= width + EPS)
    prev = _full((U, P))
    prev[:, 4:] = outside[:, :-4] if P > 4 else prev[:, 4:]
    status = np.full((U, P), NO_DATA, dtype=np.int8)
    status[met] = MET
    status[has & ~met & (pend >= D)] = MISSED
    open_ = has & ~met & (pend < D)
    status[open_ & lag] = LAGGING
    status[open_ & ~lag] = SEVERE
    valid = has & (cols >= c0)
    common = _common(x, valid, grid, settings)
    tb = grid.end[c0] if c0 < P else np.nan
    tau = _tau(pend, np.full((1, P), tb), D)
    with np.errstate(invalid="ignore"):
        regress = has & ~met & (outside > prev + EPS)
    return {"status": status, "emit": exists & (cols >= c0), "value": x, "pi": _full((U, P)),
            "tau": np.broadcast_to(tau, (U, P)), "points": common["points"],
            "low_confidence": common["points"] < settings.low_confidence_below, "regressing": regress,
            "stale": common["stale"], "last_value": common["last_value"], "last_col": common["last_col"],
            "baseline_value": _full((U, P)), "baseline_col": np.full((U, P), -1),
            "deadline": np.broadcast_to(D, (U, P)), "target_value": np.full((U, P), float(centre))}


def judge_milestone(done: np.ndarray, known: np.ndarray, exists: np.ndarray, deadline: dt.date, t: Target,
                    plan: Plan, grid: Grid, settings, baseline: str | None = None) -> dict[str, np.ndarray]:
    """Done / not done by a date. ``done`` [U] or [U, P]: ordinal of the done date (NaN: not done);
    ``known`` [U, P]: the unit has reported anything that could carry the date."""
    U, P = known.shape
    c0 = grid.first_col(_start(t, plan, baseline))
    D = float(deadline.toordinal())
    pend = grid.end[None, :]
    cols = np.arange(P)[None, :]
    done = done if done.ndim == 2 else done[:, None] * np.ones((1, P))
    with np.errstate(invalid="ignore"):
        done_by = done <= pend
    status = np.full((U, P), NO_DATA, dtype=np.int8)
    status[done_by & (done <= D)] = MET
    status[done_by & (done > D)] = MET_LATE
    open_ = ~done_by & known
    days_left = D - pend
    over = pend - D
    status[open_ & (days_left >= 0) & (days_left <= settings.milestone_due_soon_days)] = DUE_SOON
    status[open_ & (days_left > settings.milestone_due_soon_days)] = ON_TRACK
    status[open_ & (over > 0) & (over < settings.milestone_severe_after_days)] = LAGGING
    status[open_ & (over >= settings.milestone_severe_after_days)] = SEVERE
    t_start = float(_start(t, plan, baseline).toordinal())
    tau = _tau(pend, np.full((1, P), t_start), np.full((1, P), D))
    pi = np.where(done_by, 1.0, np.where(known, 0.0, np.nan))
    return {"status": status, "emit": exists & (cols >= c0), "value": np.where(known | done_by, pi * 100, np.nan),
            "pi": pi, "tau": np.broadcast_to(tau, (U, P)), "points": np.zeros((U, P), int),
            "low_confidence": np.zeros((U, P), bool), "regressing": np.zeros((U, P), bool),
            "stale": np.zeros((U, P), bool), "last_value": _full((U, P)), "last_col": np.full((U, P), -1),
            "baseline_value": _full((U, P)), "baseline_col": np.full((U, P), -1),
            "deadline": np.full((U, P), D), "target_value": np.full((U, P), 100.0),
            "overdue": open_ & (over > 0), "done_date": done}


def _combine_milestones(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Several milestones of one target (e.g. half-year and year-end reports): the status of the first
    one not done yet; met (met_late if any was late) when all are done."""
    out = dict(parts[0])
    status = np.full(parts[0]["status"].shape, -1, dtype=np.int8)
    overdue = np.zeros(status.shape, bool)
    for p in parts:                           # in deadline order
        pending = (status < 0) & ~np.isin(p["status"], (MET, MET_LATE))
        status[pending] = p["status"][pending]
        overdue[pending] = p["overdue"][pending]
        out["deadline"] = np.where(pending, p["deadline"], out["deadline"])
        out["tau"] = np.where(pending, p["tau"], out["tau"])
    late = np.zeros(status.shape, bool)
    for p in parts:
        late |= p["status"] == MET_LATE
    status[status < 0] = np.where(late, MET_LATE, MET)[status < 0]
    done_all = np.all([np.isin(p["status"], (MET, MET_LATE)) for p in parts], axis=0)
    n_done = np.sum([np.isin(p["status"], (MET, MET_LATE)) for p in parts], axis=0)
    out["status"], out["overdue"] = status, overdue
    out["pi"] = n_done / len(parts)
    out["value"] = np.where(status == NO_DATA, np.nan, out["pi"] * 100)
    out["done_all"] = done_all
    return out


# ============================================================================ shares above the unit level

def _share_series(child: Units, meeting: np.ndarray, judged: np.ndarray, reported: np.ndarray,
                  parent: Units) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Σ meeting / Σ judged over the children of each parent unit (by code prefix)."""
    pos = child.parent_positions(parent)
    ok = pos >= 0
    P = meeting.shape[1]
    n = len(parent)

    sorted_ = bool(np.all(np.diff(pos) >= 0)) if len(pos) > 1 else True
    if sorted_ and ok.any():
        # children come in code order, so those of a parent are contiguous: sum by segments
        first = int(np.argmax(ok))
        p_ok = pos[first:]
        starts = np.concatenate([[0], np.nonzero(np.diff(p_ok))[0] + 1])
        owners = p_ok[starts]

        def total(a: np.ndarray) -> np.ndarray:
            out = np.zeros((n, P))
            out[owners] = np.add.reduceat(a[first:].astype(float), starts, axis=0)
            return out
    else:
        flat = (pos[ok][:, None] * P + np.arange(P)[None, :]).ravel()

        def total(a: np.ndarray) -> np.ndarray:
            return np.bincount(flat, weights=a[ok].ravel().astype(float), minlength=n * P).reshape(n, P)
    m, j, r = total(meeting), total(judged), total(reported)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where((j > 0) & (r > 0), 100.0 * m / np.where(j > 0, j, 1), np.nan)
    return share, m, j


# ============================================================================ data for a scope

@dataclass
class ScopeData:
    """Units and indicator sums of one or more subtrees, shared by every plan judged on them.

    ``values`` holds SheetValues (one per source sheet, or several covering different levels);
    the [U, P] matrices built from them are cached.
    """

    cat: Catalog
    grid: Grid
    units: dict[str, Units]
    values: list[SheetValues]
    as_of: str | None = None
    prefixes: list[str] = field(default_factory=list)
    light_levels: frozenset[str] = frozenset()     # levels whose display-only outputs are skipped
    _matrices: dict[tuple[Any, ...], Any] = field(default_factory=dict)

    def field_values(self, con: duckdb.DuckDBPyConnection, sheet: str, fid: str,
                     units: Units) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every reported value of date field ``fid`` (county or township sheet) in the data's
        subtrees: unit position, column (quarter; county records: -1) and date ordinal (NaN: blank)."""
        key = ("_field", sheet, fid, units.level)
        if key not in self._matrices:
            where = " OR ".join("starts_with(code, ?)" for _ in self.prefixes) or "TRUE"
            def day(column: str) -> str:            # the date as a proleptic ordinal (date.toordinal())
                return f"datediff('day', DATE '0001-01-01', CAST({column} AS DATE)) + 1"
            if sheet == "county":
                if self.as_of is None:
                    cond, params = "TRUE", []
                else:
                    cond, params = "recorded_at <= ?", [cutoff(self.as_of, self.cat)]
                sql = (f"SELECT code, -1 AS pidx, d FROM (SELECT county_code AS code, {day(chr(34) + fid + chr(34))} AS d, "
                       f"row_number() OVER "
                       f"(PARTITION BY county_code, year ORDER BY recorded_at DESC) AS rn FROM county_values "
                       f"WHERE {cond}) WHERE rn = 1 AND ({where})")
            else:
                sel = selection_sql(self.as_of, self.cat)
                params = list(sel.params)
                sql = (f"SELECT code, pidx, d FROM (SELECT s.township_code AS code, "
                       f"CAST(substr(s.period, 1, 4) AS INTEGER) * 4 + CAST(substr(s.period, 6, 1) AS INTEGER) - 1 AS pidx, "
                       f"{day('v.' + chr(34) + fid + chr(34))} AS d "
                       f"FROM township_values v JOIN ({sel.sql}) s ON v.submission_id = s.id) WHERE {where}")
            res = con.execute(sql, params + list(self.prefixes)).fetchnumpy()
            codes = np.asarray(res["code"], dtype=object)
            ui = pd.Index(units.ints).get_indexer(_code_ints(codes)) if len(codes) else np.zeros(0, np.int64)
            pid = np.asarray(res["pidx"], dtype=np.int64)
            ci = np.where(pid >= 0, pid - self.grid.p0, -1)
            d = np.ma.filled(np.ma.asarray(res["d"]).astype(float), np.nan)
            self._matrices[key] = (ui, ci, d)
        return self._matrices[key]

    def tasks(self, con: duckdb.DuckDBPyConnection, plan: str) -> pd.DataFrame:
        key = ("_tasks", plan)
        if key not in self._matrices:
            self._matrices[key] = task_records(con, plan, as_of=self.as_of, cat=self.cat)
        return self._matrices[key]

    def _source(self, indicator: str, level: str) -> SheetValues | None:
        ind = self.cat.indicators[indicator]
        for sv in self.values:
            if sv.sheet == ind.source and level in sv.levels and any(i.id == indicator for i in sv.indicators):
                return sv
        return None

    def _placement(self, sv: SheetValues, level: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Rows of ``sv`` at ``level`` and their cells in the [U, P] grid (cached)."""
        key = ("_place", id(sv), level)
        if key not in self._matrices:
            units = self.units[level]
            out = None
            if len(units) and len(sv):
                if "lrank" in sv.columns:
                    rows = np.nonzero(sv.array("lrank") == LEVEL_RANK[level])[0]
                else:
                    rows = np.nonzero(sv.array("level") == level)[0]
                if len(rows):
                    ints = (sv.array("unit_int")[rows].astype(np.int64) if "unit_int" in sv.columns
                            else _code_ints(sv.array("unit_code")[rows]))
                    ui = pd.Index(units.ints).get_indexer(ints)
                    ci = sv.array("pidx")[rows].astype(np.int64) - self.grid.p0
                    ok = (ui >= 0) & (ci >= 0) & (ci < len(self.grid))
                    out = (rows[ok], ui[ok], ci[ok])
            self._matrices[key] = out
        return self._matrices[key]

    def matrices(self, indicator: str, level: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """value, not-applicable, reported rows, contributing rows, expected of ``indicator`` at
        ``level`` as [U, P] arrays aligned with ``self.units[level]``."""
        key = (indicator, level)
        if key not in self._matrices:
            units = self.units[level]
            U, P = len(units), len(self.grid)
            V, NA = _full((U, P)), np.zeros((U, P), bool)
            REP, ROWS, EXP = np.zeros((U, P)), np.zeros((U, P)), np.zeros((U, P))
            sv = self._source(indicator, level)
            place = self._placement(sv, level) if sv is not None else None
            if place is not None:
                rows, ui, ci = place
                flat = ui * P + ci
                k = sv.index(indicator)
                V.ravel()[flat] = sv.values_of(k)[rows]
                rep = sv.array("reported")[rows]
                exc = sv.array(f"x{k}")[rows]
                NA.ravel()[flat] = (rep > 0) & (exc >= rep)         # NaN compares False
                REP.ravel()[flat] = rep
                ROWS.ravel()[flat] = sv.array(f"r{k}")[rows]
                EXP.ravel()[flat] = sv.array("expected")[rows]
            self._matrices[key] = (V, NA, REP, ROWS, EXP)
        return self._matrices[key]


@dataclass
class Scope:
    """One plan applied to one or more units of the same level (scope roots), judged on ``data``."""

    plan: Plan
    roots: list[str]
    root_level: str
    prefixes: list[str]                          # the subtrees judged (the roots', or a unit's inside one)
    data: ScopeData
    as_of: str | None
    baseline: str | None = None

    @property
    def cat(self) -> Catalog:
        return self.data.cat

    @property
    def grid(self) -> Grid:
        return self.data.grid

    @property
    def units(self) -> dict[str, Units]:
        return self.data.units

    def matrices(self, indicator: str, level: str):
        return self.data.matrices(indicator, level)

    def inside(self, units: Units) -> np.ndarray:
        """Which of ``units`` lie in the scope's subtrees."""
        out = np.zeros(len(units), bool)
        for p in self.prefixes:
            m = 10 ** (12 - len(p))
            out |= (units.ints // m) == int(p)
        return out


def plan_roots(con: duckdb.DuckDBPyConnection, cat: Catalog, plan: str) -> list[tuple[str, str]]:
    """(code, level) of the units a plan is applied to that exist in the registry; nested ones dropped."""
    codes = cat.scopes(plan)
    rows = con.execute("SELECT code, level FROM units WHERE list_contains(?::VARCHAR[], code)", [codes]).fetchall()
    found = sorted(((c, lv) for c, lv in rows), key=lambda r: LEVEL_RANK[r[1]])
    out: list[tuple[str, str]] = []
    for code, level in found:
        if not any(code.startswith(c[:PREFIX_LEN[lv]]) for c, lv in out):
            out.append((code, level))
    return out


def _levels(t: Target, ind: Indicator | None, root_level: str) -> tuple[str | None, list[str], list[str]]:
    """(unit level, value levels, share levels) at which ``t`` is judged under a root of ``root_level``."""
    rank = LEVEL_RANK
    tl = t.level if rank[t.level] >= rank[root_level] else root_level
    if ind is not None and rank[tl] > rank[ind.source]:
        tl = ind.source
    above = [lv for lv in LEVELS if rank[root_level] <= rank[lv] < rank[tl]]
    if t.eval in ("aggregate", "trend", "band"):
        low = tl
        if t.eval == "aggregate" and ind is not None and ind.denominator is not None and rank[low] < rank["township"]:
            low = "township" if rank[ind.source] >= rank["township"] else ind.source
        return None, [lv for lv in LEVELS if rank[root_level] <= rank[lv] <= rank[low]], []
    return tl, [tl], above


def _judged_at(t: Target, cat: Catalog, root_levels: Iterable[str]) -> set[str]:
    """Every level at which ``t`` is judged under roots of ``root_levels``."""
    ind = cat.indicators.get(t.indicator) if t.indicator else None
    out: set[str] = set()
    for lv in root_levels:
        unit_level, value_levels, share_levels = _levels(t, ind, lv)
        out |= set(value_levels) | set(share_levels) | ({unit_level} if unit_level else set())
    return out


def _done_style(t: Target, ind: Indicator | None) -> bool:
    if t.eval == "count":
        return True
    if t.eval != "every_unit" or ind is None:
        return False
    num = ind.compiled["numerator"]
    den = ind.compiled.get("denominator")
    return num.type == "bool" and (den is None or den.source.strip() == "1")


# ============================================================================ judging one target

def judge_target(scope: Scope, con: duckdb.DuckDBPyConnection, t: Target) -> list[Block]:
    """Every block (level) of target ``t`` in ``scope``."""
    cat, plan, grid, st = scope.cat, scope.plan, scope.grid, scope.cat.settings.progress
    if t.eval == "milestone":
        return _judge_milestone_target(scope, con, t)
    ind = cat.indicators[t.indicator]
    bounds = tuple(ind.bounds)
    unit_level, value_levels, share_levels = _levels(t, ind, scope.root_level)
    blocks = []
    for level in value_levels:
        units = scope.units[level]
        V, NA, REP, ROWS, EXP = scope.matrices(t.indicator, level)
        if t.eval == "trend":
            arr = judge_trend(V, units.exists, t, plan, grid, st, bounds, scope.baseline)
        elif t.eval == "band":
            arr = judge_band(V, units.exists, t, plan, grid, st, scope.baseline)
        elif t.comparator == "between":                    # count between [lo, hi]
            arr = judge_values(V, units.exists, t, plan, grid, st, bounds, done_style=True, baseline=scope.baseline)
            above = V > t.value[1] + EPS
            arr["status"][above & (arr["status"] != NO_DATA)] = LAGGING
        else:
            arr = judge_values(V, units.exists, t, plan, grid, st, bounds,
                               done_style=level == unit_level and _done_style(t, ind), baseline=scope.baseline,
                               light=level in scope.data.light_levels)
        arr["emit"] = arr["emit"] & ~NA
        arr["rows"], arr["expected"] = ROWS, EXP
        blocks.append(_block(t, plan, level, units, "value", arr))
    if unit_level is not None and share_levels:
        child = scope.units[unit_level]
        V, NA, REP, ROWS, EXP = scope.matrices(t.indicator, unit_level)
        unit_block = blocks[0]
        meeting = _meets(V, t) & child.exists
        if t.comparator == "between":
            meeting = _meets(V, t) & child.exists
        judged = child.exists & ~NA
        reported = judged & ~np.isnan(V)
        for level in share_levels:
            parent = scope.units[level]
            share, m, j = _share_series(child, meeting & judged, judged, reported, parent)
            arr = judge_values(share, parent.exists, _share_target(t), plan, grid, st, (0.0, 100.0),
                               T=100.0, baseline=scope.baseline)
            arr["meeting"], arr["judged"] = m, j
            blocks.append(_block(t, plan, level, parent, "share", arr))
        del unit_block
    return blocks


def _share_target(t: Target) -> Target:
    return t.model_copy(update={"comparator": ">=", "value": 100.0, "tolerance": None})


def _block(t: Target, plan: Plan, level: str, units: Units, basis: str, arr: dict[str, np.ndarray]) -> Block:
    status = arr.pop("status")
    emit = arr.pop("emit")
    return Block(t, plan, level, units, basis, status, emit, arr)


def _judge_milestone_target(scope: Scope, con: duckdb.DuckDBPyConnection, t: Target) -> list[Block]:
    if t.lead and not t.milestones:
        return _judge_task(scope, con, t)
    _cat, plan, grid, st = scope.cat, scope.plan, scope.grid, scope.cat.settings.progress
    unit_level, _, share_levels = _levels(t, None, scope.root_level)
    units = scope.units[unit_level]
    sheet = {"county": "county", "township": "township", "village": "village"}.get(t.level)
    parts = []
    for m in sorted(t.milestones, key=lambda m: m.deadline):
        done, known = _field_dates(con, scope, units, sheet, m.field, m.deadline)
        arr = judge_milestone(done, known, units.exists, m.deadline, t, plan, grid, st, scope.baseline)
        arr["label"] = m.label
        parts.append(arr)
    arr = _combine_milestones(parts) if len(parts) > 1 else dict(parts[0])
    if len(parts) == 1:
        arr["done_all"] = np.isin(arr["status"], (MET, MET_LATE))
    details = [(m.label or m.field, m.deadline, p) for m, p in zip(sorted(t.milestones, key=lambda m: m.deadline), parts)]
    block = _block(t, plan, unit_level, units, "milestone", arr)
    block.extra["milestones"] = details
    blocks = [block]
    done_all = block.arrays.pop("done_all")
    late_any = block.status == MET_LATE
    known = block.status != NO_DATA
    for level in share_levels:
        parent = scope.units[level]
        judged = units.exists
        share, mcount, j = _share_series(units, done_all & judged, judged, known & judged, parent)
        _, late, _ = _share_series(units, late_any & judged, judged, known & judged, parent)
        dl = max(m.deadline for m in t.milestones)
        first_open = _first_open_deadline(t, grid)
        pend = grid.end[None, :]
        status = np.full(share.shape, NO_DATA, dtype=np.int8)
        full = share >= 100 - EPS
        status[full & (late > 0)] = MET_LATE
        status[full & (late == 0)] = MET
        open_ = ~np.isnan(share) & ~full
        days_left = first_open[None, :] - pend
        status[open_ & (days_left >= 0) & (days_left <= st.milestone_due_soon_days)] = DUE_SOON
        status[open_ & (days_left > st.milestone_due_soon_days)] = ON_TRACK
        status[open_ & (days_left < 0) & (-days_left < st.milestone_severe_after_days)] = LAGGING
        status[open_ & (-days_left >= st.milestone_severe_after_days)] = SEVERE
        t_start = float(_start(t, plan, scope.baseline).toordinal())
        tau = _tau(pend, np.full((1, len(grid)), t_start), first_open[None, :])
        c0 = grid.first_col(_start(t, plan, scope.baseline))
        U, P = share.shape
        arr = {"status": status, "emit": parent.exists & (np.arange(P)[None, :] >= c0), "value": share,
               "pi": share / 100, "tau": np.broadcast_to(tau, (U, P)),
               "points": np.zeros((U, P), int), "low_confidence": np.zeros((U, P), bool),
               "regressing": np.zeros((U, P), bool), "stale": np.zeros((U, P), bool),
               "last_value": _full((U, P)), "last_col": np.full((U, P), -1), "baseline_value": _full((U, P)),
               "baseline_col": np.full((U, P), -1), "deadline": np.broadcast_to(first_open[None, :], (U, P)),
               "target_value": np.full((U, P), 100.0), "overdue": open_ & (days_left < 0),
               "meeting": mcount, "judged": j}
        del dl
        blocks.append(_block(t, plan, level, parent, "share", arr))
    return blocks


def _first_open_deadline(t: Target, grid: Grid) -> np.ndarray:
    """Per column the deadline of the first milestone not yet due… simplified: the earliest deadline
    on or after the quarter's start, else the last one (used for shares of several milestones)."""
    dls = sorted(float(m.deadline.toordinal()) for m in t.milestones)
    out = np.empty(len(grid))
    for c in range(len(grid)):
        later = [d for d in dls if d >= grid.start[c]]
        out[c] = later[0] if later else dls[-1]
    return out


def _field_dates(con: duckdb.DuckDBPyConnection, scope: Scope, units: Units, sheet: str, fid: str,
                 deadline: dt.date) -> tuple[np.ndarray, np.ndarray]:
    """Done date (ordinal, NaN: none) per unit and column, and whether the unit reported anything
    recently (since the milestone's window opened, or within the last half year), from the dates
    reported in field ``fid`` of ``sheet``."""
    grid = scope.grid
    U, P = len(units), len(grid)
    w = (deadline - dt.timedelta(days=WINDOW_DAYS)).toordinal()
    done = _full((U, P))
    known = np.zeros((U, P), bool)
    if not U or not P:
        return done, known
    ui, ci, d = scope.data.field_values(con, sheet, fid, units)
    if not len(ui):
        return done, known
    best = np.full(U, np.inf)
    take = (d >= w) & (ui >= 0)
    np.minimum.at(best, ui[take], d[take])
    done[:] = np.where(np.isfinite(best), best, np.nan)[:, None]
    if sheet == "county":                       # a yearly sheet: any record makes the county known
        known[np.unique(ui[ui >= 0]), :] = True
        return done, known
    reported = np.zeros((U, P), bool)
    ok = (ui >= 0) & (ci >= 0) & (ci < P)
    reported[ui[ok], ci[ok]] = True
    since = np.minimum(w, grid.end - WINDOW_DAYS)
    for c in range(P):
        recent = (grid.end >= since[c]) & (np.arange(P) <= c)
        known[:, c] = reported[:, recent].any(axis=1)
    return done, known


def _judge_task(scope: Scope, con: duckdb.DuckDBPyConnection, t: Target) -> list[Block]:
    """A task of a task list: per responsible unit (department) and overall (the scope's root)."""
    _cat, plan, grid, st = scope.cat, scope.plan, scope.grid, scope.cat.settings.progress
    records = scope.data.tasks(con, plan.code)
    records = records[records["task_id"] == t.id]
    depts = list(dict.fromkeys(t.lead + t.partners))
    U, P = len(depts), len(grid)
    done = np.full(U, np.nan)
    known = np.zeros((U, P), bool)
    latest: dict[str, dict[str, Any]] = {}
    for rec in records.to_dict("records"):
        latest[rec["unit"]] = rec
    for i, d in enumerate(depts):
        rec = latest.get(d)
        if rec is None:
            continue
        known[i, :] = True
        dd = rec.get("done_date")
        if rec.get("status") == "已完成" and isinstance(dd, (dt.date, pd.Timestamp)) and not pd.isna(dd):
            done[i] = (dd.date() if isinstance(dd, pd.Timestamp) else dd).toordinal()
    dunits = Units(DEPARTMENT, np.array(depts, dtype=object),
                   np.array([f"{d}({'牵头' if d in t.lead else '参与'})" for d in depts], dtype=object),
                   np.ones((U, P), bool))
    arr = judge_milestone(done, known, dunits.exists, t.deadline, t, plan, grid, st, scope.baseline)
    dblock = _block(t, plan, DEPARTMENT, dunits, "task", arr)
    dblock.extra["records"] = latest
    # overall, at the root: done when every lead unit is done
    leads = [depts.index(d) for d in t.lead]
    lead_done = done[leads]
    all_done = float(np.max(lead_done)) if len(leads) and not np.isnan(lead_done).any() else np.nan
    any_known = known[leads].any(axis=0)
    root_units = scope.units[scope.root_level]
    ri = root_units.index.get_indexer(scope.roots)
    ri = ri[ri >= 0]
    if not len(ri):
        return [dblock]
    R = len(ri)
    runits = Units(scope.root_level, root_units.codes[ri], root_units.names[ri], root_units.exists[ri])
    rarr = judge_milestone(np.full(R, all_done), np.repeat(any_known[None, :], R, axis=0), runits.exists,
                           t.deadline, t, plan, grid, st, scope.baseline)
    n_done = np.array([[np.sum(lead_done <= grid.end[c]) for c in range(P)]], dtype=float).repeat(R, axis=0)
    rarr["pi"] = n_done / max(len(leads), 1)
    rarr["meeting"], rarr["judged"] = n_done, np.full((R, P), float(len(leads)))
    rarr["value"] = np.where(any_known[None, :], rarr["pi"] * 100, np.nan)
    return [_block(t, plan, scope.root_level, runits, "task", rarr), dblock]


# ============================================================================ rows

_EPOCH = dt.date(1970, 1, 1).toordinal()
LEVEL_CODES = LEVELS + (DEPARTMENT,)
BASES = ("value", "share", "milestone", "task")


class Codes:
    """The small integers rows are stored with: (plan, target) → t_k, department name → negative unit."""

    def __init__(self, cat: Catalog) -> None:
        self.targets = [(p.code, t.id) for p, t in cat.targets()]
        self.t_k = {key: k for k, key in enumerate(self.targets)}
        self.departments = sorted({d for _, t in cat.targets() for d in t.lead + t.partners})
        self.d_k = {d: -(i + 1) for i, d in enumerate(self.departments)}

    def unit_ints(self, units: Units) -> np.ndarray:
        if units.level == DEPARTMENT:
            return np.array([self.d_k.get(c, -999999) for c in units.codes], dtype=np.int64)
        return units.ints


def block_table(block: Block, grid: Grid, codes: Codes, cols: np.ndarray | None = None) -> pa.Table:
    """The rows of a block (where ``emit``; optionally only in columns ``cols``) as an Arrow table of
    ``DATA_COLUMNS``: keys as small integers (``Codes``), no per-row Python work, so that millions of
    rows are cheap to build and to store; ``decode`` turns them into the rows of ``assess_frame``."""
    emit = block.emit
    if cols is not None:
        keep = np.zeros(emit.shape[1], bool)
        keep[cols] = True
        emit = emit & keep[None, :]
    ui, ci = np.nonzero(emit)
    t, a = block.target, block.arrays
    n = len(ui)
    shape = emit.shape

    def col(name: str, default: float = np.nan, dtype: Any = float) -> np.ndarray:
        arr = a.get(name)
        if arr is None:
            return np.full(n, default, dtype=dtype)
        arr = np.asarray(arr)
        if arr.ndim == 1:
            return arr[ui].astype(dtype, copy=False)
        return np.broadcast_to(arr, shape)[ui, ci].astype(dtype, copy=False)

    def period_col(name: str) -> pa.Array:
        c = col(name, -1, np.int64)
        return pa.array((c + grid.p0).astype(np.int16), mask=c < 0)

    deadline = col("deadline")
    finite = np.isfinite(deadline)
    days = np.where(finite, deadline, _EPOCH) - _EPOCH
    out = {
        "t_k": np.full(n, codes.t_k[(block.plan.code, t.id)], np.int16),
        "unit": codes.unit_ints(block.units)[ui], "level_k": np.full(n, LEVEL_CODES.index(block.level), np.int8),
        "pidx": (ci + grid.p0).astype(np.int16), "value": col("value"), "target_value": col("target_value"),
        "status_k": block.status[ui, ci], "pi": col("pi"), "tau": col("tau"), "projected": col("projected"),
        "points": col("points", 0, np.int16), "low_confidence": col("low_confidence", 0, bool),
        "regressing": col("regressing", 0, bool), "stale": col("stale", 0, bool), "overdue": col("overdue", 0, bool),
        "deadline": pa.array(days.astype(np.int32), mask=~finite).cast(pa.date32()),
        "last_value": col("last_value"), "last_pidx": period_col("last_col"),
        "baseline_value": col("baseline_value"), "baseline_pidx": period_col("baseline_col"),
        "basis_k": np.full(n, BASES.index(block.basis), np.int8), "meeting": col("meeting"), "judged": col("judged"),
        "rows": col("rows"), "expected": col("expected"),
        "milestones": pa.nulls(n, pa.string()), "task_status": pa.nulls(n, pa.string()), "note": pa.nulls(n, pa.string()),
    }
    if block.basis == "milestone" and "milestones" in block.extra:
        out["milestones"] = pa.array([json.dumps(
            [{"label": label, "deadline": d.isoformat(), "status": STATUSES[p["status"][u, c]],
              "done_date": _iso(p["done_date"][u, c]) if p["done_date"][u, c] <= grid.end[c] else None}
             for label, d, p in block.extra["milestones"]], ensure_ascii=False) for u, c in zip(ui, ci)], pa.string())
    if block.basis == "task":
        recs = block.extra.get("records", {})
        units = block.units.codes[ui]
        out["task_status"] = pa.array([recs.get(c, {}).get("status") for c in units], pa.string())
        out["note"] = pa.array([recs.get(c, {}).get("progress_note") for c in units], pa.string())
    return pa.table(out)


def _iso_day(d: Any) -> str | None:
    """A date as YYYY-MM-DD (dates, datetimes, Timestamps, numpy datetime64); None for missing."""
    if d is None or (not isinstance(d, (str, dt.date)) and pd.isna(d)):
        return None
    if isinstance(d, dt.date) and not isinstance(d, dt.datetime):
        return d.isoformat()
    return pd.Timestamp(d).date().isoformat()


def block_frame(block: Block, grid: Grid, codes: Codes, cols: np.ndarray | None = None,
                cat: Catalog | None = None) -> pd.DataFrame:
    """The rows of a block as a DataFrame in the form of ``assess_frame`` (``ROW_COLUMNS``)."""
    names = dict(zip(codes.unit_ints(block.units).tolist(), block.units.names.tolist()))
    return decode(block_table(block, grid, codes, cols).to_pandas(), codes, names, cat or catalog())


def decode(data: pd.DataFrame, codes: Codes, names: dict[int, str], cat: Catalog) -> pd.DataFrame:
    """Rows of ``DATA_COLUMNS`` (stored or just computed) as rows of ``assess_frame``."""
    n = len(data)

    def num(c: str) -> np.ndarray:
        return data[c].to_numpy(dtype=float, na_value=np.nan)

    def obj(values: Any) -> pd.Series:          # text stays object (not pandas' arrow strings: slow here)
        return pd.Series(np.asarray(values, dtype=object), dtype=object)

    def by_int(values: np.ndarray, text: dict[int, Any]) -> pd.Series:
        uniq, inv = np.unique(values, return_inverse=True)
        return obj(np.array([text(int(u)) if callable(text) else text.get(int(u)) for u in uniq], dtype=object)[inv]
                   if n else [])

    def pname(c: str) -> pd.Series:
        arr = num(c)
        ok = ~np.isnan(arr)
        return by_int(np.where(ok, arr, -1).astype(np.int64), lambda v: period_of(v) if v >= 0 else None)

    def code_of(u: int) -> str:
        if u >= 0:
            return f"{u:012d}"
        return codes.departments[-u - 1] if -u - 1 < len(codes.departments) else "?"

    t_k = data["t_k"].to_numpy(dtype=np.int64)
    units = data["unit"].to_numpy(dtype=np.int64)
    cols: dict[str, Any] = {
        "plan": obj(np.array([p for p, _ in codes.targets], dtype=object)[t_k]),
        "target": obj(np.array([t for _, t in codes.targets], dtype=object)[t_k]),
        "unit_code": by_int(units, code_of),
        "unit_name": by_int(units, lambda u: names.get(u, code_of(u))),
        "level": obj(np.array(LEVEL_CODES, dtype=object)[data["level_k"].to_numpy(dtype=np.int64)]),
        "period": pname("pidx"), "value": num("value"), "target_value": num("target_value"),
        "status": obj(_NAMES[data["status_k"].to_numpy(dtype=np.int64)]),
        "pi": num("pi"), "tau": num("tau"), "projected": num("projected"),
        "points": data["points"].to_numpy(dtype=np.int64),
    }
    for c in ("low_confidence", "regressing", "stale", "overdue"):
        cols[c] = data[c].to_numpy(dtype=bool)
    days = {d: _iso_day(d) for d in pd.unique(data["deadline"])} if n else {}
    cols["deadline"] = obj(data["deadline"].map(days).to_numpy(dtype=object) if n else [])
    cols["last_value"] = num("last_value")
    cols["last_period"] = pname("last_pidx")
    cols["baseline_value"] = num("baseline_value")
    cols["baseline_period"] = pname("baseline_pidx")
    cols["basis"] = obj(np.array(BASES, dtype=object)[data["basis_k"].to_numpy(dtype=np.int64)])
    for c in ("meeting", "judged", "rows", "expected"):
        cols[c] = num(c)
    for c in ("milestones", "task_status", "note"):
        cols[c] = obj(data[c].astype(object).where(data[c].notna(), None).to_numpy() if c in data else [None] * n)
    return _decorate(pd.DataFrame(cols), cat)


def _derive(out: pd.DataFrame, info: dict[str, Target]) -> None:
    """gap_pp = (pi - tau) × 100, cr = pi / tau, days_to_deadline, and rate_required = (T - x) per
    quarter left before the deadline (value targets not met yet)."""
    pi = out["pi"].to_numpy(dtype=float, na_value=np.nan)
    tau = out["tau"].to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["gap_pp"] = (pi - tau) * 100
        out["cr"] = np.where(tau > 0, pi / np.where(tau > 0, tau, 1), np.nan)
        ends = {p: period_bounds(p)[1].toordinal() for p in pd.unique(out["period"])}
        pend = out["period"].map(ends).to_numpy(dtype=float)
        days_of = {d: (dt.date.fromisoformat(d).toordinal() if isinstance(d, str) else np.nan)
                   for d in pd.unique(out["deadline"])}
        dl = out["deadline"].map(days_of).to_numpy(dtype=float)
        days = dl - pend
        out["days_to_deadline"] = days
        kinds = {t: info[t].eval not in ("trend", "band", "milestone") for t in pd.unique(out["target"])}
        value_kind = out["target"].map(kinds).to_numpy(dtype=bool) & out["basis"].isin(["value", "share"]).to_numpy()
        open_ = ~out["status"].isin(["met", "met_late", "no_data"]).to_numpy()
        x = out["value"].to_numpy(dtype=float, na_value=np.nan)
        T = out["target_value"].to_numpy(dtype=float, na_value=np.nan)
        q_left = days / QUARTER_DAYS
        out["rate_required"] = np.where(value_kind & open_ & (q_left > 0), (T - x) / np.where(q_left > 0, q_left, 1),
                                        np.nan)


def _decorate(out: pd.DataFrame, cat: Catalog) -> pd.DataFrame:
    """Add the texts of each row: status_zh, the target's title, indicator, kind, comparator, target
    text and unit; parse the milestones' JSON. (Per target, then mapped: cheap for many rows.)"""
    info = {t.id: t for _, t in cat.targets()}
    _derive(out, info)
    out["status_zh"] = out["status"].map(STATUS_ZH).astype(object)
    tgt = out["target"]
    present = {x: info[x] for x in pd.unique(tgt)}
    for col, get in (("target_title", lambda t: t.title), ("indicator", lambda t: t.indicator),
                     ("eval", lambda t: t.eval), ("comparator", lambda t: t.comparator)):
        out[col] = tgt.map({x: get(t) for x, t in present.items()}).astype(object)
    share = out["basis"].to_numpy() == "share"
    percent = out["basis"].isin(["share", "milestone", "task"]).to_numpy()
    text = tgt.map({x: t.target_text for x, t in present.items()}).to_numpy(dtype=object)
    unit = tgt.map({x: (cat.indicators[t.indicator].unit if t.indicator else t.unit) for x, t in present.items()})
    out["target_text"] = pd.Series(np.where(share, "100%(各单位均达标的比例)", text), dtype=object)
    out["unit"] = pd.Series(np.where(percent, "%", unit.to_numpy(dtype=object)), dtype=object)
    if "milestones" in out:
        parsed = [json.loads(m) if isinstance(m, str) else None for m in out["milestones"]]
        out["milestones"] = parsed
        if all(m is None for m in parsed):
            out = out.drop(columns=["milestones"])
    for extra in ("task_status", "note"):
        if extra in out and out[extra].isna().all():
            out = out.drop(columns=[extra])
    return out


def _iso(ordinal: float) -> str | None:
    return dt.date.fromordinal(int(ordinal)).isoformat() if np.isfinite(ordinal) else None


# ============================================================================ the public API

def _root_groups(con: duckdb.DuckDBPyConnection, cat: Catalog, plan: Plan,
                 unit: str | None) -> list[tuple[str, list[str], list[str]]]:
    """(root level, roots, prefixes judged) of a plan, roots grouped by level; with ``unit``, only
    the part of each root's subtree under the unit."""
    groups: dict[str, tuple[list[str], list[str]]] = {}
    uprefix = None
    if unit:
        uprefix = unit[:PREFIX_LEN[_level_of(con, unit)]]
    for root, level in plan_roots(con, cat, plan.code):
        rprefix = root[:PREFIX_LEN[level]]
        if uprefix is None:
            prefix = rprefix
        elif uprefix.startswith(rprefix):
            prefix = uprefix
        elif rprefix.startswith(uprefix):
            prefix = rprefix
        else:
            continue
        roots, prefixes = groups.setdefault(level, ([], []))
        roots.append(root)
        prefixes.append(prefix)
    return [(lv, r, p) for lv, (r, p) in groups.items()]


def _needed_levels(cat: Catalog, targets: Iterable[Target], root_levels: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for t in targets:
        if t.indicator:
            for rlevel in root_levels:
                u, v, sh = _levels(t, cat.indicators[t.indicator], rlevel)
                out |= set(v)
    return out


def _level_of(con: duckdb.DuckDBPyConnection, code: str) -> str:
    rows = con.execute("SELECT level FROM units WHERE code = ?", [code]).fetchall()
    if not rows:
        raise RuralTargetsError("REG009", code=code)
    return rows[0][0]


def assess_frame(con: duckdb.DuckDBPyConnection, cat: Catalog | None = None, *, plan: str | None = None,
                 target: str | None = None, level: str | None = None, unit: str | None = None,
                 as_of: str | None = None, period: str | None = None, baseline: str | None = None,
                 stored: bool | None = None) -> pd.DataFrame:
    """Progress rows (``ROW_COLUMNS``) as a DataFrame; see ``assess``."""
    cat = cat or catalog()
    pairs = _pairs(cat, plan, target)
    if level is not None and level not in LEVELS and level != DEPARTMENT:
        raise RuralTargetsError("PRG004", level=level, known=", ".join(LEVELS + (DEPARTMENT,)))
    if unit is not None:
        _level_of(con, unit)
    if baseline:
        period_index(baseline)
    if period is not None:
        period_index(period)
    if as_of is not None:
        period_index(as_of)
    if stored is not False and as_of is None and baseline is None and is_fresh(con, cat):
        return read_stored(con, cat, pairs=pairs, level=level, unit=unit, period=period)
    periods = data_periods(con, as_of)
    if period is not None and as_of is None and period not in periods:
        periods = _fill(sorted(set(periods) | {period}))
    if not periods:
        return pd.DataFrame(columns=ROW_COLUMNS)
    grid = Grid(periods)
    cols = None
    if as_of is not None:
        cols = np.array([len(grid) - 1])
    elif period is not None:
        cols = np.array([grid.periods.index(period)])
    frames: list[pa.Table] = []
    names: dict[int, str] = {}
    named: set[int] = set()
    by_plan: dict[str, list[Target]] = {}
    for p, t in pairs:
        by_plan.setdefault(p.code, []).append(t)
    for code, targets in by_plan.items():
        p = cat.plans[code]
        groups = _root_groups(con, cat, p, unit)
        if not groups:
            continue
        prefixes = sorted({x for _, _, ps in groups for x in ps})
        inds = sorted({t.indicator for t in targets if t.indicator})
        levels_needed = _needed_levels(cat, targets, [lv for lv, _, _ in groups])
        values = list(compute_wide(con, cat, as_of=as_of, indicators=inds, levels=sorted(levels_needed),
                                   prefixes=prefixes, periods=grid.periods).values()) if inds else []
        data = ScopeData(cat, grid, _units_by_level(con, prefixes, grid), values, as_of, prefixes)
        codes = Codes(cat)
        for root_level, roots, pref in groups:
            scope = Scope(p, roots, root_level, pref, data, as_of, baseline)
            for t in targets:
                for block in judge_target(scope, con, t):
                    if level is not None and block.level != level:
                        continue
                    if block.level != DEPARTMENT:
                        block.emit = block.emit & scope.inside(block.units)[:, None]
                    table = block_table(block, grid, codes, cols)
                    if table.num_rows:
                        frames.append(table)
                        if id(block.units) not in named:
                            named.add(id(block.units))
                            names.update(zip(codes.unit_ints(block.units).tolist(), block.units.names.tolist()))
    if not frames:
        return pd.DataFrame(columns=ROW_COLUMNS)
    data = pa.concat_tables(frames, promote_options="permissive").to_pandas()
    return _order(decode(data, codes, names, cat), cat)


def _order(out: pd.DataFrame, cat: Catalog) -> pd.DataFrame:
    order = {t.id: i for i, (_, t) in enumerate(cat.targets())}
    out["_t"] = out["target"].map(order)
    out["_l"] = out["level"].map({lv: LEVEL_RANK.get(lv, 5) for lv in LEVEL_CODES})
    out = out.sort_values(["_t", "period", "_l", "unit_code"], kind="stable").drop(columns=["_t", "_l"])
    return out.reset_index(drop=True)


def _fill(periods: list[str]) -> list[str]:
    from pipelines.periods import quarters
    return quarters(periods[0], periods[-1]) if periods else []


def _pairs(cat: Catalog, plan: str | None, target: str | None) -> list[tuple[Plan, Target]]:
    if target is not None:
        try:
            p, t = cat.target(target)
        except RuralTargetsError:
            raise RuralTargetsError("PRG001", target=target) from None
        if plan is not None and p.code != plan:
            raise RuralTargetsError("PRG002", target=target, plan=plan)
        return [(p, t)]
    return cat.targets(plan)


def assess(con: duckdb.DuckDBPyConnection, cat: Catalog | None = None, **kwargs: Any) -> list[dict[str, Any]]:
    """Progress rows, one per target × unit × quarter, as JSON-friendly dicts.

    Keyword arguments: ``plan``, ``target`` (one of them or neither: every target), ``level``
    (only rows of that level; ``department`` for task units), ``unit`` (that unit and the units
    under it), ``as_of`` (the status as of that quarter: only the returns for quarters up to it that
    had arrived by its cutoff; one row per unit, for that quarter), ``period`` (only that quarter,
    with today's data), ``baseline`` (a quarter: baselines are taken at or after it instead of the
    plan's start).
    """
    return records(assess_frame(con, cat, **kwargs))


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """DataFrame rows as JSON-friendly dicts (NaN → None, numpy scalars → Python)."""
    out = []
    for rec in frame.to_dict("records"):
        out.append({k: _plain(v) for k, v in rec.items()})
    return out


def _plain(v: Any) -> Any:
    if isinstance(v, (list, dict)):
        return v
    if v is None or v is pd.NA:
        return None
    if isinstance(v, float):
        return None if not np.isfinite(v) else round(v, 6)
    if isinstance(v, np.floating):
        return None if not np.isfinite(v) else round(float(v), 6)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


# ============================================================================ stored results

STATE_KEY = "progress_state"
DATA_COLUMNS = ["t_k", "unit", "level_k", "pidx", "value", "target_value", "status_k", "pi", "tau", "projected",
                "points", "low_confidence", "regressing", "stale", "overdue", "deadline", "last_value", "last_pidx",
                "baseline_value", "baseline_pidx", "basis_k", "meeting", "judged", "rows", "expected", "milestones",
                "task_status", "note"]
_VILLAGE_PARTS = ("s", "v", "pi", "tau", "f", "n")  # per village target: status, value, pi, tau, flags, points
_FLAG_BITS = {"regressing": 1, "stale": 2, "low_confidence": 4, "overdue": 8}

_TABLES = {
    "progress_data": """t_k SMALLINT, unit BIGINT, level_k TINYINT, pidx SMALLINT, value DOUBLE, target_value DOUBLE,
        status_k TINYINT, pi DOUBLE, tau DOUBLE, projected DOUBLE, points SMALLINT, low_confidence BOOLEAN,
        regressing BOOLEAN, stale BOOLEAN, overdue BOOLEAN, deadline DATE, last_value DOUBLE, last_pidx SMALLINT,
        baseline_value DOUBLE, baseline_pidx SMALLINT, basis_k TINYINT, meeting DOUBLE, judged DOUBLE, "rows" DOUBLE,
        expected DOUBLE, milestones VARCHAR, task_status VARCHAR, note VARCHAR""",
    "progress_targets": "t_k SMALLINT, plan VARCHAR, target VARCHAR",
    "progress_departments": "unit BIGINT, name VARCHAR",
    "progress_village_targets": "k INTEGER, plan VARCHAR, target VARCHAR",
}


def _progress_view() -> str:
    """CREATE VIEW progress: the stored rows with their names (for SQL readers; the API reads
    progress_data by integer ranges, which DuckDB can skip row groups on)."""
    arr = lambda items: "[" + ", ".join(f"'{x}'" for x in items) + "]"   # noqa: E731 - fixed words
    return f"""CREATE OR REPLACE VIEW progress AS
        SELECT t.plan, t.target,
               CASE WHEN d.unit >= 0 THEN lpad(CAST(d.unit AS VARCHAR), 12, '0') ELSE dep.name END AS unit_code,
               {arr(LEVEL_CODES)}[d.level_k + 1] AS level,
               CAST(d.pidx // 4 AS VARCHAR) || 'Q' || CAST(d.pidx % 4 + 1 AS VARCHAR) AS period,
               d.value, d.target_value, {arr(STATUSES)}[d.status_k + 1] AS status, d.pi, d.tau, d.projected,
               d.points, d.low_confidence, d.regressing, d.stale, d.overdue, d.deadline, d.last_value,
               CAST(d.last_pidx // 4 AS VARCHAR) || 'Q' || CAST(d.last_pidx % 4 + 1 AS VARCHAR) AS last_period,
               d.baseline_value,
               CAST(d.baseline_pidx // 4 AS VARCHAR) || 'Q' || CAST(d.baseline_pidx % 4 + 1 AS VARCHAR) AS baseline_period,
               {arr(BASES)}[d.basis_k + 1] AS basis, d.meeting, d.judged, d."rows", d.expected, d.milestones,
               d.task_status, d.note
        FROM progress_data d JOIN progress_targets t USING (t_k)
        LEFT JOIN progress_departments dep ON dep.unit = d.unit"""


def catalog_hash(cat: Catalog) -> str:
    """A fingerprint of what the judgement depends on in the catalog (plans, indicators, settings)."""
    parts = [p.model_dump(mode="json") for p in cat.plans.values()]
    parts += [i.model_dump(mode="json", exclude={"compiled"}) for i in cat.indicators.values()]
    parts.append(cat.settings.model_dump(mode="json"))
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def data_token(con: duckdb.DuckDBPyConnection) -> str:
    """Changes whenever returns, county values, task updates or the registry change."""
    parts = [con.execute("SELECT count(*), coalesce(max(id), 0), count(*) FILTER (WHERE status = 'active'), "
                         "max(uploaded_at) FROM submissions").fetchall()[0]]
    parts.append(con.execute("SELECT count(*), max(recorded_at) FROM county_values").fetchall()[0])
    parts.append(con.execute("SELECT count(*), max(recorded_at) FROM task_values").fetchall()[0])
    parts.append(con.execute("SELECT count(*), max(loaded_at), count(valid_to) FROM units").fetchall()[0])
    return json.dumps(parts, default=str)


def is_fresh(con: duckdb.DuckDBPyConnection, cat: Catalog | None = None) -> bool:
    """Whether the stored tables (``refresh``) reflect the current data and catalog."""
    cat = cat or catalog()
    try:
        rows = con.execute("SELECT value FROM meta WHERE key = ?", [STATE_KEY]).fetchall()
    except duckdb.CatalogException:
        return False
    if not rows:
        return False
    state = json.loads(rows[0][0])
    return state.get("catalog") == catalog_hash(cat) and state.get("data") == data_token(con)


def refresh(con: duckdb.DuckDBPyConnection, cat: Catalog | None = None, *, chunk_villages: int = 40_000,
            say: Any = None) -> dict[str, Any]:
    """Recompute every indicator and status and store them (call after ingest or any update):

    - ``indicator_sums_{village,township,county}`` (wide sums at township level and above, one row
      per unit and quarter) and the view ``indicator_values`` over them (long: indicator, period,
      unit_code, level, num, den, value, rows, reported, excluded, expected);
    - ``progress``: every target × unit × quarter at township level and above, and task units;
    - ``progress_village`` (wide: a status, value, pi, tau, flags and points column group per village-level
      target, named by ``progress_village_targets.k``): every village × quarter.

    The tables are built under new names and swapped in at the end, so that readers never see a
    half-built state. Work is partitioned into groups of provinces of about ``chunk_villages``
    villages, so that memory stays bounded; village values are never materialised in long form.
    Returns row counts, seconds and the time of each phase.
    """
    import time
    cat = cat or catalog()
    say = say or (lambda text: None)
    started = time.perf_counter()
    timing: dict[str, float] = {}
    mark = [time.perf_counter()]

    def lap(name: str) -> None:
        now = time.perf_counter()
        timing[name] = round(timing.get(name, 0.0) + now - mark[0], 2)
        mark[0] = now

    token, chash = data_token(con), catalog_hash(cat)
    periods = data_periods(con)
    from pipelines.compute.indicators import SOURCE_LEVEL, _register, period_frame, sums_sql, unit_values_sql
    sheets = ["village", "township", "county"]
    sheet_inds = {sh: [i for i in cat.indicators.values() if i.source == sh] for sh in sheets}
    for name, cols in _TABLES.items():
        con.execute(f"CREATE OR REPLACE TABLE {name}__new ({cols})")
    groups = {code: _root_groups(con, cat, plan, None) for code, plan in cat.plans.items()}
    vtargets = [(p, t) for p, t in cat.targets()
                if t.indicator and "village" in _judged_at(t, cat, [lv for lv, _, _ in groups[p.code]])]
    vk = {(p.code, t.id): k for k, (p, t) in enumerate(vtargets)}
    con.register("_rt_vt", pd.DataFrame({"k": list(range(len(vtargets))), "plan": [p.code for p, _ in vtargets],
                                        "target": [t.id for _, t in vtargets]}, columns=["k", "plan", "target"]))
    con.execute("INSERT INTO progress_village_targets__new SELECT * FROM _rt_vt")
    con.unregister("_rt_vt")
    cols = ", ".join(f"s{k} TINYINT, v{k} DOUBLE, pi{k} FLOAT, tau{k} FLOAT, f{k} TINYINT, n{k} TINYINT"
                     for k in range(len(vtargets)))
    con.execute(f"CREATE OR REPLACE TABLE progress_village__new (unit BIGINT, pidx SMALLINT{', ' + cols if cols else ''})")
    codes = Codes(cat)
    con.register("_rt_codes", pd.DataFrame({"t_k": list(range(len(codes.targets))),
                                           "plan": [p for p, _ in codes.targets], "target": [t for _, t in codes.targets]}))
    con.execute("INSERT INTO progress_targets__new SELECT * FROM _rt_codes")
    con.unregister("_rt_codes")
    con.register("_rt_codes", pd.DataFrame({"unit": [codes.d_k[d] for d in codes.departments],
                                           "name": codes.departments}, columns=["unit", "name"]))
    con.execute("INSERT INTO progress_departments__new SELECT * FROM _rt_codes")
    con.unregister("_rt_codes")
    stats: dict[str, Any] = {"periods": len(periods), "indicator_rows": 0, "progress": 0, "progress_village": 0}
    prefixes = sorted({x for gs in groups.values() for _, _, ps in gs for x in ps})
    prefixes = [p for p in prefixes if not any(p != q and p.startswith(q) for q in prefixes)]
    _register(con, "_rt_periods", period_frame(periods or ["2000Q1"]))
    # 1. sums at township level and above for every scope at once: one scan per sheet
    say("计算指标(乡镇及以上)…")
    higher = ["province", "city", "county", "township"]
    for sh in sheets:
        lv = [x for x in higher if LEVEL_RANK[x] <= LEVEL_RANK[SOURCE_LEVEL[sh]]]
        if sheet_inds[sh] and periods and prefixes:
            sql = sums_sql(sh, sheet_inds[sh], None, cat, prefixes, lv)
            con.execute(f"CREATE OR REPLACE TABLE indicator_sums_{sh}__new AS SELECT * FROM ({sql.sql}) "
                        "ORDER BY unit_code, pidx", list(sql.params))
        else:
            con.execute(f"CREATE OR REPLACE TABLE indicator_sums_{sh}__new (unit_code VARCHAR, level VARCHAR, "
                        "pidx BIGINT, expected BIGINT, reported BIGINT)")
        stats["indicator_rows"] += con.execute(f"SELECT count(*) FROM indicator_sums_{sh}__new").fetchall()[0][0]
    meta = [{"sheet": sh, "k": k, "indicator": i.id, "factor": i.factor, "has_den": i.denominator is not None}
            for sh in sheets for k, i in enumerate(sheet_inds[sh])]
    con.register("_rt_cols", pd.DataFrame(meta, columns=["sheet", "k", "indicator", "factor", "has_den"]))
    con.execute("CREATE OR REPLACE TABLE indicator_columns__new AS SELECT * FROM _rt_cols")
    con.unregister("_rt_cols")
    lap("indicators")
    # 2. per group of provinces: village values, judgement, storage
    if periods and prefixes:
        grid = Grid(periods)
        sizes = dict(con.execute("SELECT substr(code, 1, 2), count(*) FROM units WHERE level = 'village' "
                                 "GROUP BY 1").fetchall())
        chunks: list[list[str]] = []
        size = 0
        for p in prefixes:
            n = sizes.get(p[:2], 0) if len(p) <= 2 else max(1, sizes.get(p[:2], 0) // 10)
            if not chunks or size + n > chunk_villages:
                chunks.append([])
                size = 0
            chunks[-1].append(p)
            size += n
        vinds = [cat.indicators[x] for x in sorted({t.indicator for _, t in vtargets})]
        if vinds:      # the values of the indicators judged per village: one scan for all groups
            sql = unit_values_sql("village", vinds, None, cat, prefixes)
            con.execute(f"CREATE OR REPLACE TABLE _rt_village_sums AS {sql.sql}", list(sql.params))
        lap("village_values")
        # numbers read as DOUBLE with NaN for NULL: plain numpy arrays, no masks to fill
        nan_cols = {}
        for sh, table in [(sh, f"indicator_sums_{sh}__new") for sh in sheets] + [("_village", "_rt_village_sums")]:
            if sh == "_village" and not vinds:
                continue
            names = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall() if r[0] not in ("unit_code", "level")]
            nan_cols[sh] = ", ".join(f"coalesce(CAST(\"{c}\" AS DOUBLE), 'NaN'::DOUBLE) AS \"{c}\"" for c in names)
        done_tasks: set[tuple[str, str]] = set()
        writer = _Writer(con)
        for i, chunk in enumerate(chunks, 1):
            say(f"评估进度 {i}/{len(chunks)}({','.join(chunk)})…")
            where = " OR ".join("starts_with(unit_code, ?)" for _ in chunk)
            lrank = "CASE level " + " ".join(f"WHEN '{lv}' THEN {r}" for lv, r in LEVEL_RANK.items()) + " END"
            keys = f"CAST(unit_code AS BIGINT) AS unit_int, {lrank} AS lrank"
            values = []
            for sh in sheets:
                if sheet_inds[sh]:
                    res = con.execute(f"SELECT {keys}, {nan_cols[sh]} FROM indicator_sums_{sh}__new "
                                      f"WHERE {where}", chunk).fetchnumpy()
                    lv = frozenset(lvl for lvl, r in LEVEL_RANK.items() if (res["lrank"] == r).any())
                    values.append(SheetValues(sh, sheet_inds[sh], res, lv or frozenset({"none"})))
            if vinds:
                values.append(UnitValues("village", vinds, con.execute(
                    f"SELECT CAST(unit_code AS BIGINT) AS unit_int, 4 AS lrank, {nan_cols['_village']} "
                    f"FROM _rt_village_sums WHERE {where}", chunk).fetchnumpy(), frozenset({"village"})))
            lap("read")
            data = ScopeData(cat, grid, _units_by_level(con, chunk, grid), values, None, list(chunk),
                             frozenset({"village"}))
            tables = []
            village_rows = data.units["village"].exists
            vcols: dict[str, pa.Array] = {}
            for code, gs in groups.items():
                plan = cat.plans[code]
                for root_level, roots, pref in gs:
                    keep = [(r, p) for r, p in zip(roots, pref) if any(p.startswith(c) for c in chunk)]
                    if not keep:
                        continue
                    scope = Scope(plan, [r for r, _ in keep], root_level, [p for _, p in keep], data, None)
                    for t in plan.targets:
                        for block in judge_target(scope, con, t):
                            if block.level == DEPARTMENT:        # task units: once, not per group
                                if (code, t.id) in done_tasks:
                                    continue
                                done_tasks.add((code, t.id))
                            else:
                                block.emit = block.emit & scope.inside(block.units)[:, None]
                            if block.level == "village":
                                if (code, t.id) in vk:
                                    vcols.update(_village_columns(block, vk[(code, t.id)], village_rows))
                            else:
                                tables.append(block_table(block, grid, codes))
                            del block
            lap("judge")
            stats["progress"] += _store_progress(writer, tables)
            stats["progress_village"] += _store_village(writer, vcols, village_rows, grid, data.units["village"])
            lap("store (waiting for the writer)")
            del data, values, tables, vcols
        writer.close()
        lap("store (waiting for the writer)")
        timing["store (writer thread, overlapped)"] = round(writer.seconds, 2)
    con.unregister("_rt_periods")
    con.execute("DROP TABLE IF EXISTS _rt_village_sums")
    _swap(con, token, chash)
    lap("swap")
    stats["seconds"] = round(time.perf_counter() - started, 2)
    stats["timing"] = timing
    return stats


_STORED = list(_TABLES) + ["progress_village", "indicator_columns"] + [f"indicator_sums_{sh}" for sh in
                                                                       ("village", "township", "county")]


def _drop_relation(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop the view or table ``name`` if there is one (an older database may have a table)."""
    kinds = con.execute("SELECT 'VIEW' FROM duckdb_views() WHERE view_name = ? AND NOT internal UNION ALL "
                        "SELECT 'TABLE' FROM duckdb_tables() WHERE table_name = ?", [name, name]).fetchall()
    for (kind,) in kinds:
        con.execute(f"DROP {kind} IF EXISTS {name}")


def _swap(con: duckdb.DuckDBPyConnection, token: str, chash: str) -> None:
    """Replace the stored tables by the ones just built, and record what they reflect."""
    from pipelines.store.db import transaction
    with transaction(con):
        for view in ("indicator_values", "progress"):
            _drop_relation(con, view)
        for name in _STORED:
            _drop_relation(con, name)
            con.execute(f"ALTER TABLE {name}__new RENAME TO {name}")
        con.execute(_indicator_view(con))
        con.execute(_progress_view())
        con.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                    [STATE_KEY, json.dumps({"catalog": chash, "data": token,
                                            "refreshed_at": dt.datetime.now().isoformat(timespec="seconds")})])


def _indicator_view(con: duckdb.DuckDBPyConnection) -> str:
    """CREATE VIEW indicator_values: the stored wide sums as long rows with their values."""
    parts = []
    for sh in ("village", "township", "county"):
        ks = [r[0] for r in con.execute("SELECT k FROM indicator_columns WHERE sheet = ? ORDER BY k", [sh]).fetchall()]
        if not ks:
            continue
        structs = ", ".join(f"{{'k': {k}, 'n': n{k}, 'd': d{k}, 'r': r{k}, 'x': x{k}}}" for k in ks)
        parts.append(
            "SELECT m.indicator, CAST(s.pidx // 4 AS VARCHAR) || 'Q' || CAST(s.pidx % 4 + 1 AS VARCHAR) AS period, "
            "s.unit_code, s.level, s.n AS num, CASE WHEN m.has_den THEN s.d END AS den, "
            "CASE WHEN s.r > 0 THEN (CASE WHEN m.has_den THEN s.n / nullif(s.d, 0) ELSE s.n END) * m.factor END AS value, "
            "s.r AS \"rows\", s.reported, s.x AS excluded, s.expected "
            f"FROM (SELECT unit_code, level, pidx, reported, expected, unnest([{structs}], recursive := true) "
            f"FROM indicator_sums_{sh}) s JOIN indicator_columns m ON m.sheet = '{sh}' AND m.k = s.k")
    body = " UNION ALL ".join(parts) or ("SELECT NULL::VARCHAR AS indicator, NULL::VARCHAR AS period, "
                                         "NULL::VARCHAR AS unit_code, NULL::VARCHAR AS level WHERE FALSE")
    return f"CREATE OR REPLACE VIEW indicator_values AS {body}"


class _Writer:
    """Inserts Arrow tables on its own cursor in a background thread, so that storing one group
    overlaps with judging the next (numpy and DuckDB both release the GIL)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        import queue
        import threading
        self.cur = con.cursor()
        self.jobs: "queue.Queue[tuple[str, pa.Table] | None]" = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.seconds = 0.0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        import time
        while True:
            job = self.jobs.get()
            if job is None:
                return
            if self.error is not None:
                continue
            sql, table = job
            t0 = time.perf_counter()
            try:
                self.cur.register("_rt_insert", table)
                self.cur.execute(sql)
                self.cur.unregister("_rt_insert")
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                self.error = exc
            self.seconds += time.perf_counter() - t0

    def put(self, sql: str, table: pa.Table) -> None:
        if self.error is not None:
            raise self.error
        self.jobs.put((sql, table))

    def close(self) -> None:
        self.jobs.put(None)
        self.thread.join()
        self.cur.close()
        if self.error is not None:
            raise self.error


def _store_progress(con: duckdb.DuckDBPyConnection | _Writer, tables: list[pa.Table]) -> int:
    tables = [t for t in tables if t.num_rows]
    if not tables:
        return 0
    table = pa.concat_tables(tables, promote_options="permissive").select(DATA_COLUMNS)
    _insert(con, "INSERT INTO progress_data__new SELECT * FROM _rt_insert", table)
    return table.num_rows


def _insert(con: duckdb.DuckDBPyConnection | _Writer, sql: str, table: pa.Table) -> None:
    """Run ``sql`` (reading the relation _rt_insert) on ``table``, now or in the writer thread."""
    if isinstance(con, _Writer):
        con.put(sql, table)
        return
    con.register("_rt_insert", table)
    try:
        con.execute(sql)
    finally:
        con.unregister("_rt_insert")


def _village_columns(block: Block, k: int, rows: np.ndarray) -> dict[str, pa.Array]:
    """The column group of village target ``k`` in progress_village, for the cells where ``rows``."""
    shape = block.status.shape
    e = ~block.emit[rows]
    a = block.arrays

    def cell(name: str) -> np.ndarray:
        return np.broadcast_to(np.asarray(a[name]), shape)[rows]
    flags = np.zeros(int(rows.sum()), np.int8)
    for name, bit in _FLAG_BITS.items():
        if name in a:
            flags |= (cell(name).astype(bool) * bit).astype(np.int8)
    return {f"s{k}": pa.array(block.status[rows], mask=e), f"v{k}": pa.array(cell("value"), mask=e),
            f"pi{k}": pa.array(cell("pi").astype(np.float32), mask=e),
            f"tau{k}": pa.array(cell("tau").astype(np.float32), mask=e), f"f{k}": pa.array(flags, mask=e),
            f"n{k}": pa.array(np.minimum(cell("points"), 127).astype(np.int8), mask=e)}


def _store_village(con: duckdb.DuckDBPyConnection | _Writer, cols: dict[str, pa.Array], rows: np.ndarray,
                   grid: Grid, villages: Units) -> int:
    """One group's village rows (village × quarter while the village exists) into progress_village."""
    ui, ci = np.nonzero(rows)
    if not cols or not len(ui):
        return 0
    table = pa.table({"unit": villages.ints[ui], "pidx": (ci + grid.p0).astype(np.int16), **cols})
    names = ", ".join(table.column_names)
    _insert(con, f"INSERT INTO progress_village__new ({names}) SELECT {names} FROM _rt_insert", table)
    return table.num_rows


def read_stored(con: duckdb.DuckDBPyConnection, cat: Catalog | None = None, *,
                pairs: list[tuple[Plan, Target]] | None = None, plan: str | None = None, target: str | None = None,
                level: str | None = None, unit: str | None = None, period: str | None = None) -> pd.DataFrame:
    """Progress rows from the stored tables (see ``refresh``), in the same form as ``assess_frame``.

    Filters by code range (``unit``: that unit and those under it), so one county's rows for one
    plan are read without scanning the rest.
    """
    cat = cat or catalog()
    codes = Codes(cat)
    pairs = pairs if pairs is not None else _pairs(cat, plan, target)
    t_ks = sorted(codes.t_k[(p.code, t.id)] for p, t in pairs)
    prefix = unit[:PREFIX_LEN[_level_of(con, unit)]] if unit else ""
    lo, hi = _int_range(prefix)
    cond = ["t_k >= ?", "t_k <= ?", "list_contains(?::SMALLINT[], t_k)"]
    params: list[Any] = [t_ks[0], t_ks[-1], t_ks]
    if period is not None:
        cond.append("pidx = ?")
        params.append(period_index(period))
    frames = []
    if level != "village":
        lv = ["level_k = ?"] if level is not None else []
        lvp = [LEVEL_CODES.index(level)] if level is not None else []
        if level != DEPARTMENT:
            frames.append(con.execute(f"SELECT * FROM progress_data WHERE unit BETWEEN ? AND ? AND "
                                      f"{' AND '.join(cond + lv)}", [lo, hi] + params + lvp).df())
        if level in (None, DEPARTMENT):
            frames.append(con.execute(f"SELECT * FROM progress_data WHERE unit < 0 AND {' AND '.join(cond)}",
                                      params).df())
    names = dict(con.execute("SELECT CAST(code AS BIGINT), name FROM units WHERE code >= ? AND code < ?",
                             list(_prefix_range(prefix))).fetchall())
    if level in (None, "village"):
        frames.append(_read_village(con, cat, pairs, prefix, period, names))
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=ROW_COLUMNS)
    data = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return _order(decode(data, codes, names, cat), cat)


def _int_range(prefix: str) -> tuple[int, int]:
    """[lo, hi] of the 12-digit codes (as integers) starting with ``prefix``."""
    if not prefix:
        return 0, 10**12 - 1
    pad = 12 - len(prefix)
    return int(prefix) * 10**pad, (int(prefix) + 1) * 10**pad - 1


def _prefix_range(prefix: str) -> tuple[str, str]:
    """[lo, hi): the codes starting with ``prefix`` (digits), as a range of strings."""
    if not prefix:
        return "", "\uffff"
    return prefix, str(int(prefix) + 1).zfill(len(prefix))


def _read_village(con: duckdb.DuckDBPyConnection, cat: Catalog, pairs: list[tuple[Plan, Target]], prefix: str,
                  period: str | None, names: dict[int, str]) -> pd.DataFrame:
    """The stored village rows of ``pairs`` under ``prefix`` as rows of ``DATA_COLUMNS``."""
    ks = con.execute("SELECT k, plan, target FROM progress_village_targets").fetchall()
    wanted = {(p.code, t.id) for p, t in pairs}
    ks = [(k, p, t) for k, p, t in ks if (p, t) in wanted]
    if not ks:
        return pd.DataFrame()
    cols = ", ".join(f"{part}{k}" for k, _, _ in ks for part in _VILLAGE_PARTS)
    lo, hi = _int_range(prefix)
    where, params = ["unit BETWEEN ? AND ?"], [lo, hi]
    if period is not None:
        where.append("pidx = ?")
        params.append(period_index(period))
    wide = con.execute(f"SELECT unit, pidx, {cols} FROM progress_village WHERE {' AND '.join(where)}",
                       params).fetchnumpy()

    def arr(name: str, fill: float = np.nan) -> np.ndarray:
        a = wide[name]
        return np.ma.filled(a.astype(float), fill) if np.ma.isMaskedArray(a) else np.asarray(a, dtype=float)
    codes = Codes(cat)
    info = {t.id: t for _, t in pairs}
    unit, pidx = np.asarray(wide["unit"], dtype=np.int64), np.asarray(wide["pidx"], dtype=np.int64)
    parts: dict[str, list[np.ndarray]] = {}
    for k, plan_code, tid in ks:
        status = arr(f"s{k}", -1)
        m = status >= 0
        if not m.any():
            continue
        t = info[tid]
        flags = arr(f"f{k}", 0)[m].astype(int)
        count = int(m.sum())
        target_value = float(t.value[0] if isinstance(t.value, list) else t.value) if t.value is not None else np.nan
        for name, values in (
                ("t_k", np.full(count, codes.t_k[(plan_code, tid)])), ("unit", unit[m]), ("pidx", pidx[m]),
                ("value", arr(f"v{k}")[m]), ("target_value", np.full(count, target_value)),
                ("status_k", status[m].astype(np.int64)), ("pi", arr(f"pi{k}")[m]), ("tau", arr(f"tau{k}")[m]),
                ("points", arr(f"n{k}", 0)[m].astype(np.int64)), ("regressing", (flags & 1) > 0),
                ("stale", (flags & 2) > 0), ("low_confidence", (flags & 4) > 0), ("overdue", (flags & 8) > 0),
                ("deadline", np.full(count, np.datetime64(t.deadline.isoformat())))):
            parts.setdefault(name, []).append(values)
    if not parts:
        return pd.DataFrame()
    data = {name: np.concatenate(v) for name, v in parts.items()}
    n = len(data["unit"])
    data.update({"level_k": np.full(n, LEVEL_CODES.index("village")), "projected": np.full(n, np.nan),
                 "last_value": np.full(n, np.nan), "last_pidx": np.full(n, np.nan), "baseline_value": np.full(n, np.nan),
                 "baseline_pidx": np.full(n, np.nan), "basis_k": np.zeros(n, np.int64), "meeting": np.full(n, np.nan),
                 "judged": np.full(n, np.nan), "rows": np.full(n, np.nan), "expected": np.full(n, np.nan),
                 "milestones": np.full(n, None, dtype=object), "task_status": np.full(n, None, dtype=object),
                 "note": np.full(n, None, dtype=object)})
    return pd.DataFrame(data)


# ============================================================================ laggards and failing units

def laggards(con: duckdb.DuckDBPyConnection, target: str, level: str, *, cat: Catalog | None = None,
             as_of: str | None = None, period: str | None = None, unit: str | None = None, top: int | None = None,
             bottom: int | None = None, statuses: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """后进名单: the units of ``level`` judged for ``target``, worst first (``SEVERITY``, then gap
    pi - tau, then how far the value is from the target), for the quarter ``as_of`` (as known then)
    or ``period`` (default: the latest quarter with data), each with the quarter of its last return
    (its township's) at or before the quarter judged.
    ``statuses`` keeps only those statuses; ``top`` the first (worst) N, ``bottom`` the last (best) N."""
    cat = cat or catalog()
    if statuses is not None:
        statuses = list(statuses)
        bad = [s for s in statuses if s not in STATUSES]
        if bad:
            raise RuralTargetsError("PRG005", status=", ".join(bad), known=", ".join(STATUSES))
    if as_of is None and period is None:
        periods = data_periods(con)
        period = periods[-1] if periods else None
        if period is None:
            return []
    frame = assess_frame(con, cat, target=target, level=level, unit=unit, as_of=as_of, period=period)
    if frame.empty:
        return []
    if statuses is not None:
        frame = frame[frame["status"].isin(statuses)]
    frame = frame.assign(_sev=frame["status"].map(SEVERITY),
                         _gap=frame["gap_pp"].fillna(np.inf),
                         _dist=-(frame["value"] - frame["target_value"]).abs().fillna(0))
    frame = frame.sort_values(["_sev", "_gap", "_dist", "unit_code"], kind="stable")
    frame = frame.drop(columns=["_sev", "_gap", "_dist"])
    last = last_returns(con, as_of=as_of, cat=cat, upto=as_of or period)
    frame["last_return"] = frame["unit_code"].map(lambda c: _last_return_of(c, last))
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    if top is not None:
        frame = frame.head(top)
    elif bottom is not None:
        frame = frame.tail(bottom)
    return records(frame)


def last_returns(con: duckdb.DuckDBPyConnection, as_of: str | None = None, cat: Catalog | None = None,
                 upto: str | None = None) -> dict[str, str]:
    """township code → the latest quarter (at or before ``upto``) it has a counted return for."""
    sel = selection_sql(as_of, cat or catalog())
    rows = con.execute(f"SELECT township_code, max(period) FROM ({sel.sql}) WHERE ? IS NULL OR period <= ? "
                       "GROUP BY 1", list(sel.params) + [upto, upto]).fetchall()
    return dict(rows)


def _last_return_of(code: str, last: dict[str, str]) -> str | None:
    """The last return of a unit: its township's (a village's) or the latest of its townships'."""
    if not isinstance(code, str) or len(code) != 12 or not code.isdigit():
        return None
    if code[9:] != "000":
        return last.get(code[:9] + "000")
    if code[6:9] != "000":
        return last.get(code)
    prefix = code[:6] if code[4:6] != "00" else (code[:4] if code[2:4] != "00" else code[:2])
    hits = [p for c, p in last.items() if c.startswith(prefix)]
    return max(hits) if hits else None


def failing_units(con: duckdb.DuckDBPyConnection, target: str, unit: str, *, cat: Catalog | None = None,
                  as_of: str | None = None, period: str | None = None) -> list[dict[str, Any]]:
    """For an every-unit (or count, milestone) target: the units of the target's level under
    ``unit`` that do not meet it in the quarter, with the value that fails (no data included)."""
    cat = cat or catalog()
    p, t = cat.target(target)
    ind = cat.indicators.get(t.indicator) if t.indicator else None
    root_level = _level_of(con, unit)
    unit_level, _, _ = _levels(t, ind, root_level)
    unit_level = unit_level or t.level
    if as_of is None and period is None:
        periods = data_periods(con)
        period = periods[-1] if periods else None
    rows = assess(con, cat, target=target, level=unit_level, unit=unit, as_of=as_of, period=period)
    return [r for r in rows if r["status"] not in ("met", "met_late")]


# ============================================================================ task updates and county values

def task_records(con: duckdb.DuckDBPyConnection, plan: str, as_of: str | None = None,
                 cat: Catalog | None = None) -> pd.DataFrame:
    """The latest update of every (task, responsible unit) of ``plan`` (as of the cutoff of ``as_of``)."""
    params: list[Any] = [plan]
    where = "plan = ?"
    if as_of is not None:
        where += " AND recorded_at <= ?"
        params.append(cutoff(as_of, cat or catalog()))
    return con.execute(
        f"SELECT * EXCLUDE (rn) FROM (SELECT *, row_number() OVER (PARTITION BY task_id, unit "
        f"ORDER BY recorded_at DESC) AS rn FROM task_values WHERE {where}) WHERE rn = 1 ORDER BY task_id, unit",
        params).df()


def record_task_update(con: duckdb.DuckDBPyConnection, plan: str, task_id: str, unit: str, status: str,
                       done_date: dt.date | str | None = None, note: str | None = None, evidence: str | None = None,
                       by: str | None = None, *, at: dt.datetime | None = None,
                       cat: Catalog | None = None) -> dict[str, Any]:
    """Append an update of a milestone task (督办任务) by one responsible unit; history is kept.

    Raises RuralTargetsError: PRG010 unknown plan, PRG011 unknown task or not a task of the plan,
    PRG012 unit not responsible for it, PRG013 unknown status, PRG014 done date missing or given
    without 已完成, PRG015 bad date.
    """
    cat = cat or catalog()
    if plan not in cat.plans:
        raise RuralTargetsError("PRG010", plan=plan, known=", ".join(cat.plans))
    task = next((t for t in cat.plans[plan].targets if t.id == task_id), None)
    if task is None or task.eval != "milestone" or not task.lead:
        known = [t.id for t in cat.plans[plan].targets if t.eval == "milestone" and t.lead]
        raise RuralTargetsError("PRG011", task=task_id, plan=plan, known=", ".join(known) or "(无)")
    responsible = list(dict.fromkeys(task.lead + task.partners))
    if unit not in responsible:
        raise RuralTargetsError("PRG012", unit=unit, task=task_id, known="、".join(responsible))
    if status not in TASK_STATUSES:
        raise RuralTargetsError("PRG013", status=status, known="/".join(TASK_STATUSES))
    day = _as_date(done_date, "done_date")
    if status == "已完成" and day is None:
        raise RuralTargetsError("PRG014", task=task_id, unit=unit)
    if status != "已完成" and day is not None:
        raise RuralTargetsError("PRG014", task=task_id, unit=unit)
    when = at or dt.datetime.now()
    row = {"plan": plan, "recorded_at": when, "recorded_by": by, "task_id": task_id, "unit": unit,
           "status": status, "done_date": day, "progress_note": note, "evidence": evidence}
    cols = list(row)
    con.execute(f"INSERT INTO task_values ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                [row[c] for c in cols])
    return {k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v) for k, v in row.items()}


def record_county_values(con: duckdb.DuckDBPyConnection, county_code: str, year: int, values: dict[str, Any],
                         by: str | None = None, *, at: dt.datetime | None = None,
                         cat: Catalog | None = None) -> dict[str, Any]:
    """Append the county sheet (区县情况) of one county and year; history is kept.

    The record is merged with the latest one of that county and year (fields not given keep their
    value), so each stored row is the complete state. Raises RuralTargetsError: REG009 / REG010
    unknown unit or not a county, PRG020 bad year, PRG021 unknown field, PRG022 bad value.
    """
    cat = cat or catalog()
    from pipelines.registry.load import get_unit, require_level
    require_level(get_unit(con, county_code), "county")
    if not isinstance(year, int) or not 1990 <= year <= 2100:
        raise RuralTargetsError("PRG020", year=year)
    spec = cat.sheets["county"]
    fields = {f.id: f for f in spec.fields if f.id != "county_code"}
    clean: dict[str, Any] = {}
    for key, value in values.items():
        if key not in fields:
            raise RuralTargetsError("PRG021", field=key, known=", ".join(fields))
        clean[key] = _county_value(fields[key], value)
    prev = con.execute("SELECT * FROM county_values WHERE county_code = ? AND year = ? ORDER BY recorded_at DESC "
                       "LIMIT 1", [county_code, year]).df()
    row: dict[str, Any] = {f: None for f in fields}
    if len(prev):
        for f in fields:
            v = prev.iloc[0][f]
            row[f] = None if pd.isna(v) else (v.date() if isinstance(v, pd.Timestamp) else v)
    row.update(clean)
    row.update({"county_code": county_code, "year": year, "recorded_at": at or dt.datetime.now(), "recorded_by": by})
    cols = list(row)
    con.execute(f"INSERT INTO county_values ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                [_py(row[c]) for c in cols])
    return {k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else _py(v)) for k, v in row.items()}


def _py(v: Any) -> Any:
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


def _as_date(value: Any, what: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise RuralTargetsError("PRG015", field=what, value=value) from None


def _county_value(spec, value: Any) -> Any:
    if value is None or value == "":
        return None
    if spec.type == "date":
        return _as_date(value, spec.id)
    if spec.type in ("int", "number"):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise RuralTargetsError("PRG022", field=spec.id, value=value) from None
        if spec.type == "int" and not number.is_integer():
            raise RuralTargetsError("PRG022", field=spec.id, value=value)
        if spec.min is not None and number < spec.min:
            raise RuralTargetsError("PRG022", field=spec.id, value=value)
        return int(number) if spec.type == "int" else number
    if spec.type == "bool":
        if value in (True, "是", "true", 1):
            return True
        if value in (False, "否", "false", 0):
            return False
        raise RuralTargetsError("PRG022", field=spec.id, value=value)
    if spec.type == "enum" and value not in (spec.values or []):
        raise RuralTargetsError("PRG022", field=spec.id, value=value)
    return str(value)
