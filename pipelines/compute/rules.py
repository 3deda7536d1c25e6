"""The judgement rules of 序时进度, on numpy arrays [units × quarters]; no database here.

The method is ../shared/progress-method.md; every threshold is in schemas/settings.yaml
(``progress``, passed in as ``settings``). For a unit with baseline x_b at t_b (the first quarter with
a value at or after the plan's start — or ``baseline``), latest value x_t at t, target T and deadline D::

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
        severely_lagging beyond, with ``overdue`` set. Several milestones of one target (a half-year
        and a year-end report) take the status of the first one not done yet. A parent unit shows
        the share of its units done, judged against the first deadline not yet passed.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from pipelines.catalog.definitions import Plan, ProgressSettings, Target
from pipelines.periods import period_bounds, pidx

STATUSES = ("met", "met_late", "on_track", "due_soon", "lagging", "severely_lagging", "missed", "no_data")
STATUS_ZH = {"met": "已达标", "met_late": "逾期完成", "on_track": "进度正常", "due_soon": "即将到期",
             "lagging": "进度滞后", "severely_lagging": "严重滞后", "missed": "已逾期未达标", "no_data": "无数据"}
# the status arrays hold positions in STATUSES
MET, MET_LATE, ON_TRACK, DUE_SOON, LAGGING, SEVERE, MISSED, NO_DATA = range(8)
EPS = 1e-9
QUARTER_DAYS = 365.25 / 4

Bounds = tuple[float | None, float | None]


@dataclass
class Grid:
    """The quarters judged, as columns: period names and their first/last days (ordinals)."""

    periods: list[str]

    def __post_init__(self) -> None:
        self.p0 = pidx(self.periods[0]) if self.periods else 0
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


def nans(shape: tuple[int, int]) -> np.ndarray:
    """A float array of NaN."""
    return np.full(shape, np.nan, dtype=float)


def meets(x: np.ndarray, t: Target, value: float | None = None) -> np.ndarray:
    """Whether ``x`` meets the comparator of ``t`` (against ``value`` instead of ``t.value`` when
    given); False where x is NaN. Equality is up to a relative 1e-9."""
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


def deadlines(t: Target, grid: Grid) -> np.ndarray:
    """The deadline (ordinal) that applies to each column: per calendar year with yearly recurrence."""
    final = t.deadline.toordinal()
    if t.recurrence != "yearly":
        return np.full(len(grid), float(final))
    return np.array([min(dt.date(int(y), 12, 31).toordinal(), final) if y <= t.deadline.year
                     else dt.date(int(y), 12, 31).toordinal() for y in grid.year], dtype=float)


def start_day(t: Target, plan: Plan, baseline: str | None) -> dt.date:
    """The first day a baseline may be taken: the plan's start (or the target's, if later), or the
    first day of the quarter ``baseline``."""
    day = max(plan.period_start, t.start) if t.start else plan.period_start
    if baseline:
        day = max(day, period_bounds(baseline)[0]) if t.start else period_bounds(baseline)[0]
    return day


def tau(pend: np.ndarray, tb: np.ndarray, D: np.ndarray) -> np.ndarray:
    """序时进度 (t - t_b) / (D - t_b) in [0, 1]; 1 where the deadline is not after the baseline."""
    with np.errstate(invalid="ignore", divide="ignore"):
        span = D - tb
        out = np.where(span > 0, (pend - tb) / np.where(span > 0, span, 1), 1.0)
    return np.clip(out, 0.0, 1.0)


def clamp(x: np.ndarray, bounds: Bounds) -> np.ndarray:
    """``x`` limited to the indicator's bounds (NaN stays NaN)."""
    lo, hi = bounds
    if lo is not None:
        x = np.where(np.isnan(x), x, np.maximum(x, lo))
    if hi is not None:
        x = np.where(np.isnan(x), x, np.minimum(x, hi))
    return x


def display_outputs(x: np.ndarray, valid: np.ndarray, settings: ProgressSettings,
                    light: bool = False) -> dict[str, np.ndarray]:
    """points, last value / column (for display: not shown once older than stale_after_quarters),
    stale (no value this quarter, an earlier one exists). ``light``: only points and stale (what
    the stored village table keeps)."""
    P = x.shape[1]
    has = ~np.isnan(x)
    if light:
        return {"points": np.cumsum(valid, axis=1), "stale": ~has & np.logical_or.accumulate(has, axis=1)}
    last = np.maximum.accumulate(np.where(has, np.arange(P)[None, :], -1), axis=1)
    show = (last >= 0) & ((np.arange(P)[None, :] - last) <= settings.stale_after_quarters)
    last_value = np.where(show, np.take_along_axis(x, np.maximum(last, 0), axis=1), np.nan)
    return {"points": np.cumsum(valid, axis=1), "last_col": last, "last_value": last_value,
            "stale": ~has & (last >= 0)}


def judge_values(x: np.ndarray, exists: np.ndarray, t: Target, plan: Plan, grid: Grid, settings: ProgressSettings,
                 bounds: Bounds, *, done_style: bool = False, T: float | None = None, baseline: str | None = None,
                 light: bool = False) -> dict[str, np.ndarray]:
    """The method of progress-method.md on value series ``x`` [U, P] (NaN: no value).

    ``exists`` [U, P] marks the cells where the unit exists (``emit``: the rows to show).
    ``done_style``: judge as a milestone before the deadline (done/not-done units, counts).
    ``T`` overrides the target value (shares: 100). gap_pp, cr and rate_required follow from the
    outputs (pipelines.compute.rows).
    """
    U, P = x.shape
    c0 = grid.first_col(start_day(t, plan, baseline))
    D = deadlines(t, grid)[None, :]
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
    met = meets(x, t) if t.comparator == "between" else meets(x, t, target if T is not None else None)
    req = lo_target - xb
    if t.comparator in (">=", ">"):
        fallen = req <= 0
    elif t.comparator in ("<=", "<"):
        fallen = req >= 0
    else:
        fallen = req == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        tau_ = tau(pend, tb, D)
        pi = np.where(fallen, np.nan, (x - xb) / np.where(req == 0, np.nan, req))
    status = np.full((U, P), NO_DATA, dtype=np.int8)
    open_ = has & ~met
    status[has & met] = MET
    past = open_ & (pend >= D)
    status[past] = MISSED
    open_ &= ~past
    out = {"value": x, "pi": pi, "tau": tau_, "target_value": lo_target,
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
            cr = pi / np.where(tau_ > 0, tau_, np.nan)
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
        regressing = has & ~met & ((cr < settings.regressing_cr) | (fallen & seen))
        out["projected"] = np.where(has & ~met, proj, np.nan)
    out.update(display_outputs(x, valid, settings, light))
    out["points"] = points
    out["status"], out["emit"], out["regressing"] = status, exists & (cols >= c0), regressing
    out["low_confidence"] = points < settings.low_confidence_below
    return out


def judge_count_between(x: np.ndarray, exists: np.ndarray, t: Target, plan: Plan, grid: Grid,
                        settings: ProgressSettings, bounds: Bounds, baseline: str | None = None) -> dict[str, np.ndarray]:
    """A count between [lo, hi]: met inside, a done/not-done count towards lo below it, lagging above hi."""
    out = judge_values(x, exists, t, plan, grid, settings, bounds, done_style=True, baseline=baseline)
    with np.errstate(invalid="ignore"):
        above = x > t.value[1] + EPS
    out["status"][above & (out["status"] != NO_DATA)] = LAGGING
    return out


def _year_earlier(x: np.ndarray, grid: Grid, yearly: bool) -> np.ndarray:
    """The value each cell is compared with: the same quarter a year earlier, or (``yearly``) the
    latest Q4 strictly before the cell."""
    U, P = x.shape
    ref = nans((U, P))
    if yearly:
        q4 = np.where(~np.isnan(x) & (grid.quarter == 4)[None, :], x, np.nan)
        for c in range(P):
            prev = [j for j in range(c) if grid.quarter[j] == 4]
            if prev:
                ref[:, c] = q4[:, prev[-1]]
    elif P > 4:
        ref[:, 4:] = x[:, :-4]
    return ref


def judge_trend(x: np.ndarray, exists: np.ndarray, t: Target, plan: Plan, grid: Grid, settings: ProgressSettings,
                bounds: Bounds, baseline: str | None = None) -> dict[str, np.ndarray]:
    """rising / not_falling: compared with a year earlier (yearly recurrence: with the last Q4)."""
    U, P = x.shape
    c0 = grid.first_col(start_day(t, plan, baseline))
    D = deadlines(t, grid)[None, :]
    pend = grid.end[None, :]
    cols = np.arange(P)[None, :]
    has = ~np.isnan(x)
    ref = _year_earlier(x, grid, t.recurrence == "yearly")
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
    shown = display_outputs(x, has & (cols >= c0), settings)
    tb = grid.end[c0] if c0 < P else np.nan
    return {"status": status, "emit": exists & (cols >= c0), "value": x, "pi": nans((U, P)),
            "tau": np.broadcast_to(tau(pend, np.full((1, P), tb), D), (U, P)), "points": shown["points"],
            "low_confidence": shown["points"] < settings.low_confidence_below, "regressing": known & regress,
            "stale": shown["stale"], "last_value": shown["last_value"], "last_col": shown["last_col"],
            "baseline_value": ref, "baseline_col": np.full((U, P), -1), "deadline": np.broadcast_to(D, (U, P)),
            "target_value": clamp(np.where(t.comparator == "not_falling", ref - tol, ref), bounds)}


def judge_band(x: np.ndarray, exists: np.ndarray, t: Target, plan: Plan, grid: Grid, settings: ProgressSettings,
               baseline: str | None = None) -> dict[str, np.ndarray]:
    """about T ± tolerance, or between [lo, hi]: inside → met; distance decides lagging / severe."""
    U, P = x.shape
    c0 = grid.first_col(start_day(t, plan, baseline))
    D = deadlines(t, grid)[None, :]
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
    prev = nans((U, P))
    if P > 4:
        prev[:, 4:] = outside[:, :-4]
    status = np.full((U, P), NO_DATA, dtype=np.int8)
    status[met] = MET
    status[has & ~met & (pend >= D)] = MISSED
    open_ = has & ~met & (pend < D)
    status[open_ & lag] = LAGGING
    status[open_ & ~lag] = SEVERE
    shown = display_outputs(x, has & (cols >= c0), settings)
    tb = grid.end[c0] if c0 < P else np.nan
    with np.errstate(invalid="ignore"):
        regress = has & ~met & (outside > prev + EPS)
    return {"status": status, "emit": exists & (cols >= c0), "value": x, "pi": nans((U, P)),
            "tau": np.broadcast_to(tau(pend, np.full((1, P), tb), D), (U, P)), "points": shown["points"],
            "low_confidence": shown["points"] < settings.low_confidence_below, "regressing": regress,
            "stale": shown["stale"], "last_value": shown["last_value"], "last_col": shown["last_col"],
            "baseline_value": nans((U, P)), "baseline_col": np.full((U, P), -1),
            "deadline": np.broadcast_to(D, (U, P)), "target_value": np.full((U, P), float(centre))}


def _overdue_status(status: np.ndarray, open_: np.ndarray, days_left: np.ndarray, settings: ProgressSettings) -> None:
    """Set the status of the open cells from the days left before the deadline (negative: overdue)."""
    status[open_ & (days_left >= 0) & (days_left <= settings.milestone_due_soon_days)] = DUE_SOON
    status[open_ & (days_left > settings.milestone_due_soon_days)] = ON_TRACK
    status[open_ & (days_left < 0) & (-days_left < settings.milestone_severe_after_days)] = LAGGING
    status[open_ & (-days_left >= settings.milestone_severe_after_days)] = SEVERE


def judge_milestone(done: np.ndarray, known: np.ndarray, exists: np.ndarray, deadline: dt.date, t: Target,
                    plan: Plan, grid: Grid, settings: ProgressSettings,
                    baseline: str | None = None) -> dict[str, np.ndarray]:
    """Done / not done by a date. ``done`` [U] or [U, P]: ordinal of the done date (NaN: not done);
    ``known`` [U, P]: the unit has reported anything that could carry the date."""
    U, P = known.shape
    c0 = grid.first_col(start_day(t, plan, baseline))
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
    days_left = np.broadcast_to(D - pend, (U, P))
    _overdue_status(status, open_, days_left, settings)
    t_start = float(start_day(t, plan, baseline).toordinal())
    tau_ = tau(pend, np.full((1, P), t_start), np.full((1, P), D))
    pi = np.where(done_by, 1.0, np.where(known, 0.0, np.nan))
    return {"status": status, "emit": exists & (cols >= c0), "value": np.where(known | done_by, pi * 100, np.nan),
            "pi": pi, "tau": np.broadcast_to(tau_, (U, P)), "points": np.zeros((U, P), int),
            "low_confidence": np.zeros((U, P), bool), "regressing": np.zeros((U, P), bool),
            "stale": np.zeros((U, P), bool), "last_value": nans((U, P)), "last_col": np.full((U, P), -1),
            "baseline_value": nans((U, P)), "baseline_col": np.full((U, P), -1),
            "deadline": np.full((U, P), D), "target_value": np.full((U, P), 100.0),
            "overdue": open_ & (days_left < 0), "done_date": done}


def combine_milestones(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Several milestones of one target (e.g. half-year and year-end reports), in deadline order:
    the status, deadline and tau of the first one not done yet; met (met_late if any was late)
    when all are done. pi is the share of milestones done; ``done_all`` marks the cells all done."""
    out = dict(parts[0])
    status = np.full(parts[0]["status"].shape, -1, dtype=np.int8)
    overdue = np.zeros(status.shape, bool)
    for p in parts:
        pending = (status < 0) & ~np.isin(p["status"], (MET, MET_LATE))
        status[pending] = p["status"][pending]
        overdue[pending] = p["overdue"][pending]
        out["deadline"] = np.where(pending, p["deadline"], out["deadline"])
        out["tau"] = np.where(pending, p["tau"], out["tau"])
    late = np.zeros(status.shape, bool)
    for p in parts:
        late |= p["status"] == MET_LATE
    status[status < 0] = np.where(late, MET_LATE, MET)[status < 0]
    done = [np.isin(p["status"], (MET, MET_LATE)) for p in parts]
    out["status"], out["overdue"] = status, overdue
    out["pi"] = np.sum(done, axis=0) / len(parts)
    out["value"] = np.where(status == NO_DATA, np.nan, out["pi"] * 100)
    out["done_all"] = np.all(done, axis=0)
    return out


def first_open_deadline(t: Target, grid: Grid) -> np.ndarray:
    """Per column the earliest milestone deadline on or after the quarter's start, else the last one
    (what the share of units done is judged against)."""
    dls = sorted(float(m.deadline.toordinal()) for m in t.milestones)
    out = np.empty(len(grid))
    for c in range(len(grid)):
        later = [d for d in dls if d >= grid.start[c]]
        out[c] = later[0] if later else dls[-1]
    return out


def judge_milestone_share(share: np.ndarray, late: np.ndarray, exists: np.ndarray, t: Target, plan: Plan,
                          grid: Grid, settings: ProgressSettings, baseline: str | None = None) -> dict[str, np.ndarray]:
    """A parent of milestone units: ``share`` [U, P] % of its units done (NaN: none reported),
    ``late`` how many were done late. 100 % → met (met_late if any was late); below it, the
    milestone statuses against the first deadline not yet passed (``first_open_deadline``)."""
    U, P = share.shape
    first_open = first_open_deadline(t, grid)
    pend = grid.end[None, :]
    status = np.full((U, P), NO_DATA, dtype=np.int8)
    full = share >= 100 - EPS
    status[full & (late > 0)] = MET_LATE
    status[full & (late == 0)] = MET
    open_ = ~np.isnan(share) & ~full
    days_left = np.broadcast_to(first_open[None, :] - pend, (U, P))
    _overdue_status(status, open_, days_left, settings)
    day0 = start_day(t, plan, baseline)
    tau_ = tau(pend, np.full((1, P), float(day0.toordinal())), first_open[None, :])
    return {"status": status, "emit": exists & (np.arange(P)[None, :] >= grid.first_col(day0)), "value": share,
            "pi": share / 100, "tau": np.broadcast_to(tau_, (U, P)),
            "points": np.zeros((U, P), int), "low_confidence": np.zeros((U, P), bool),
            "regressing": np.zeros((U, P), bool), "stale": np.zeros((U, P), bool),
            "last_value": nans((U, P)), "last_col": np.full((U, P), -1), "baseline_value": nans((U, P)),
            "baseline_col": np.full((U, P), -1), "deadline": np.broadcast_to(first_open[None, :], (U, P)),
            "target_value": np.full((U, P), 100.0), "overdue": open_ & (days_left < 0)}
