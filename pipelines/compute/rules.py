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
    incomplete 数据不全        a value, but computed from fewer than ``min_coverage`` (0.9) of the units
                              it needs (coverage = reported ÷ expected, ``apply_coverage``): never met,
                              on track, lagging or missed on such data — at every level and for every
                              kind of target
    not_judged 不判定          a level other than the one the plan names (``judged_at``), or a
                              planning norm (``guideline``): the value is shown, nothing is judged
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

Deadlines stay (``deadline_verdicts``, every kind of target)
    The verdict at the deadline (``verdict_at_deadline``: met / missed / incomplete) is the status of
    the quarter containing the deadline, with the data known now (late returns for it included): met
    → met; no value or incomplete data → incomplete; anything else (missed, overdue, done late) →
    missed. It is copied to that quarter and every later row of the unit (of the cycle, for a
    recurrent target); null while the deadline is ahead — except on a row already met_late before it
    (units with deadlines of their own, one of them done late): missed. A later quarter whose value
    meets the target when the verdict is not met reads met_late 逾期完成, never met.

Coverage (``apply_coverage``)
    Every row carries reported and expected (the units a value needs, from the scope: villages of the
    target's population, townships, counties, lead units) and coverage = reported ÷ expected. Below
    ``min_coverage`` the status is incomplete. Every-unit shares (the share of units meeting a
    target) are taken over the units that reported — a unit without a return no longer counts as
    "not meeting" — and the parent is met only when every expected unit reported and met: with
    coverage ≥ ``min_coverage`` but < 1 and every reporter meeting it, the parent is incomplete.

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
    ranges — a count between [lo, hi] ("1-2个"): met from the lower bound; below lo a done/not-done
        count towards lo (on_track, due_soon, missed by the deadline); above hi still met, with
        ``above_range`` (超出区间上限) set — never lagging nor regressing.
    trend, against ``baseline``
        previous_year (default): the same quarter a year earlier (with yearly recurrence: the last
            Q4, i.e. the previous year-end). rising: up → met (also met at the indicator's upper
            bound, e.g. 100 %); flat → lagging; down → severely_lagging and regressing. falling is
            its mirror (met also at the lower bound). not_falling with tolerance tol: a fall of at
            most tol → met; up to 2·tol → lagging and regressing; more → severely_lagging and
            regressing. No value a year earlier → no_data.
        plan_start (保持基本稳定, "一降一升"): the plan-start value — the last quarter ending on or
            before the plan's (target's) start, else the first quarter after it (with ``baseline``
            asked: the first quarter at or after it); shown as baseline_value / baseline_period.
            not_falling: value ≥ baseline − tol → met; ≥ baseline − 2·tol → lagging and regressing;
            lower → severely_lagging and regressing. rising (falling): strictly above (below) the
            baseline → met; equal → lagging; the wrong way → severely_lagging and regressing. A slow
            drift of 0.9 pp a year against tol = 1 is therefore met in the first year and lagging
            in the second, where a year-on-year comparison would read met for ever.
        At the deadline a trend is met or missed (by its first test).
    recurrence (``cycles``): yearly (calendar years) or quarterly (calendar quarters) cycles from
        the target's start to its deadline, which is the plan's end unless the plan says
        otherwise; each cycle has its own deadline (31 December, the quarter's end; the last one
        the target's deadline), baseline, verdict at the deadline and met_late. No cycle begins
        after the deadline: later quarters belong to the last cycle (met late or missed there).
        Each row carries its ``cycle`` (the first quarter of the cycle).
    Milestones: met (done by the deadline), met_late (done after it), on_track, due_soon (≤ 7 days
        left), and when overdue lagging (< ``milestone_severe_after_days``, about 3 months) or
        severely_lagging beyond, with ``overdue`` set. Several milestones of one target (a half-year
        and a year-end report) take the status of the first one not done yet. A deadline may be
        per unit (``after``: the unit's own date field + days): until that date is reported there
        is no deadline and the unit has no data. A parent unit shows the share of its units done
        among those that reported, judged against the first deadline not yet passed.
    Tasks with items (``combine_worst``): each item is judged on its own deadline (an item ``after``
        another: that item's done date + the offset; no deadline, so on_track, until it is done);
        the task is done when every item is done and its status is the worst item's (met_late when
        all are done and one was late). Overall, a task takes the worst status of its lead units.
    Strive (力争/争取): the same statuses; the label reads 力争目标 beside the status, and a missed
        strive target reads 力争目标未实现 (``status_label``, the one place it is worded).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from pipelines.catalog.definitions import Plan, ProgressSettings, Target
from pipelines.periods import period_bounds, period_of, pidx

STATUSES = ("met", "met_late", "on_track", "due_soon", "lagging", "severely_lagging", "missed", "no_data",
            "incomplete", "not_judged")
STATUS_ZH = {"met": "已达标", "met_late": "逾期完成", "on_track": "进度正常", "due_soon": "即将到期",
             "lagging": "进度滞后", "severely_lagging": "严重滞后", "missed": "已逾期未达标", "no_data": "无数据",
             "incomplete": "数据不全", "not_judged": "不判定"}
# the status arrays hold positions in STATUSES
MET, MET_LATE, ON_TRACK, DUE_SOON, LAGGING, SEVERE, MISSED, NO_DATA, INCOMPLETE, NOT_JUDGED = range(10)
# what verdict_at_deadline can be (positions in STATUSES; -1 in the arrays: none yet)
VERDICTS = ("met", "missed", "incomplete")
VERDICT_ZH = {"met": "已达标", "missed": "未达标", "incomplete": "数据不全"}   # "逾期完成 · 截止时:未达标"
# worst first: the one order of statuses (laggards rank by it; a task takes its worst item's status)
WORST_FIRST = ("missed", "severely_lagging", "lagging", "incomplete", "no_data", "due_soon", "on_track", "met_late",
               "met", "not_judged")
SEVERITY = {s: i for i, s in enumerate(WORST_FIRST)}
STRIVE_ZH = "力争目标"
STRIVE_MISSED_ZH = "力争目标未实现"
EPS = 1e-9
QUARTER_DAYS = 365.25 / 4

Bounds = tuple[float | None, float | None]

_RANK = np.array([SEVERITY[s] for s in STATUSES], dtype=np.int8)        # status position → severity


def status_label(status: str | None, strive: bool = False) -> str:
    """The words of a status as every view shows them: 已达标, 进度滞后 …; for a strive target (力争/争取)
    力争目标 beside it, and 力争目标未实现 when it was missed."""
    zh = STATUS_ZH.get(status or "no_data", str(status))
    if not strive:
        return zh
    return STRIVE_MISSED_ZH if status == "missed" else f"{zh}({STRIVE_ZH})"


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

    def deadline_cols(self, deadline: np.ndarray) -> np.ndarray:
        """For each deadline (ordinal; NaN: none), the column of the quarter containing it (len(self)
        when there is none in the grid)."""
        d = np.asarray(deadline, dtype=float)
        out = np.searchsorted(self.end, np.where(np.isnan(d), np.inf, d), side="left")
        return np.where(np.isnan(d), len(self.periods), out)


def nans(shape: tuple[int, int]) -> np.ndarray:
    """A float array of NaN."""
    return np.full(shape, np.nan, dtype=float)


def meets(x: np.ndarray, t: Target, value: float | None = None) -> np.ndarray:
    """Whether ``x`` meets the comparator of ``t`` (against ``value`` instead of ``t.value`` when
    given); False where x is NaN. Equality is up to a relative 1e-9. A range (count between
    [lo, hi]) is met from its lower bound; a band (between) only inside it."""
    v = t.value if value is None else value
    with np.errstate(invalid="ignore"):
        if t.comparator == "between":
            lo, hi = v
            if t.eval != "band":
                return x >= lo - EPS * max(1, abs(lo))
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


# ============================================================================ cycles and deadlines

@dataclass
class Cycles:
    """The cycle of each column: ``code`` the running number (pidx) of the cycle's first quarter (-1:
    the target does not recur) and ``deadline`` the cycle's deadline (ordinal)."""

    code: np.ndarray
    deadline: np.ndarray

    def label(self, recurrence: str | None, col: int) -> str | None:
        """The cycle of column ``col`` as written on the task sheet: 2019 (yearly), 2021Q2 (quarterly)."""
        return cycle_label(recurrence, int(self.code[col]))


def cycle_label(recurrence: str | None, code: int) -> str | None:
    """A cycle's name from its code: 2019 for a yearly cycle, 2021Q2 for a quarterly one, None else."""
    if code < 0 or not recurrence:
        return None
    return str(code // 4) if recurrence == "yearly" else period_of(code)


def cycles(t: Target, grid: Grid, plan: Plan | None = None) -> Cycles:
    """The cycle and deadline of every column of ``grid`` (``cycle_codes``)."""
    first = period_bounds(grid.periods[0])[0] if len(grid) else None
    code, deadline = cycle_codes(t, grid.p0 + np.arange(len(grid)), plan, first)
    return Cycles(code, deadline)


def cycle_codes(t: Target, quarters: np.ndarray, plan: Plan | None = None,
                first_day: dt.date | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(cycle code, cycle deadline) of quarters given by their running numbers (pidx). Without
    recurrence one cycle (code -1), the target's deadline. Yearly / quarterly: calendar years /
    quarters from the target's start (else the plan's start, else ``first_day``) to its deadline,
    each due at its end (the last at the target's deadline); quarters before the first cycle belong
    to it, quarters after the deadline to the last (no cycle begins after the deadline). The code is
    the running number of the cycle's first quarter."""
    q = np.asarray(quarters, dtype=np.int64)
    final = float(t.deadline.toordinal())
    if not t.recurrence or not len(q):
        return np.full(len(q), -1, np.int64), np.full(len(q), final)
    first = t.start or (plan.period_start if plan is not None else first_day) or t.deadline
    if t.recurrence == "yearly":
        years = np.clip(q // 4, first.year, t.deadline.year)
        code = years * 4
        uniq = np.unique(years)
        ends = dict(zip(uniq.tolist(), [float(dt.date(int(y), 12, 31).toordinal()) for y in uniq]))
        end = np.array([ends[y] for y in years.tolist()], dtype=float)
    else:
        code = np.clip(q, _pidx_of(first), _pidx_of(t.deadline))
        uniq = np.unique(code)
        ends = dict(zip(uniq.tolist(), [float(period_bounds(period_of(int(c)))[1].toordinal()) for c in uniq]))
        end = np.array([ends[c] for c in code.tolist()], dtype=float)
    return code, np.minimum(end, final)


def _pidx_of(day: dt.date) -> int:
    """The running number of the quarter containing ``day``."""
    return day.year * 4 + (day.month - 1) // 3


def deadlines(t: Target, grid: Grid, plan: Plan | None = None) -> np.ndarray:
    """The deadline (ordinal) that applies to each column: per cycle with recurrence (``cycles``)."""
    return cycles(t, grid, plan).deadline


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


# ============================================================================ what applies to every kind

def apply_coverage(status: np.ndarray, reported: np.ndarray, expected: np.ndarray, min_coverage: float,
                   share: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Turn to incomplete (in place) the judged cells whose coverage (reported ÷ expected) is below
    ``min_coverage``; with ``share`` (an every-unit share over the units that reported), also those
    where some expected unit did not report and every reporter meets the target (the parent cannot
    be met before all have reported). Returns (coverage, the cells made incomplete); coverage is
    NaN where nothing is expected."""
    reported = np.asarray(reported, dtype=float)
    expected = np.asarray(expected, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = np.where(expected > 0, reported / np.where(expected > 0, expected, 1), np.nan)
        judged = ~np.isin(status, (NO_DATA, NOT_JUDGED))
        low = judged & (cov < min_coverage - EPS)
        if share is not None:
            low |= judged & (cov < 1 - EPS) & (share >= 100 - EPS)
    status[low] = INCOMPLETE
    return cov, low


def deadline_verdicts(status: np.ndarray, deadline: np.ndarray, grid: Grid) -> np.ndarray:
    """The verdict at the deadline of every cell, and met_late (in place) for cells met after it.

    ``deadline`` [U, P] or [1, P] or [P]: the deadline (ordinal; NaN: none known) of each cell's cycle.
    The verdict (a position in STATUSES, -1 for none) is that of the quarter containing the deadline —
    met; missed for any other judged status (not met by then: missed, overdue, done late); incomplete
    where that quarter has no value or incomplete data — and is set on that quarter and every later
    cell of the same deadline; -1 before it, where the deadline is outside the grid, and where the
    quarter is not judged. A cell after that quarter that meets the target while the verdict is not
    met becomes met_late. A cell already met_late by its own rule before that quarter (a parent whose
    units each had their own, earlier deadline and one was late) has the verdict missed.
    """
    U, P = status.shape
    D = np.broadcast_to(np.asarray(deadline, dtype=float), (U, P))
    dcol = grid.deadline_cols(D)
    inside = dcol < P
    at = np.take_along_axis(status, np.minimum(dcol, max(P - 1, 0)), axis=1) if P else status
    v = np.select([at == MET, np.isin(at, (NO_DATA, INCOMPLETE)), at == NOT_JUDGED], [MET, INCOMPLETE, -1],
                  MISSED).astype(np.int8)
    cols = np.arange(P)[None, :]
    verdict = np.where(inside & (cols >= dcol), v, -1).astype(np.int8)
    verdict[(status == MET_LATE) & (verdict < 0)] = MISSED       # done late by its own rule: already missed
    late = inside & (cols > dcol) & (status == MET) & (verdict != MET)
    status[late] = MET_LATE
    return verdict


def combine_worst(statuses: list[np.ndarray]) -> np.ndarray:
    """Per cell the worst of several statuses (``WORST_FIRST``): a task of several items, or of
    several lead units. Met only when all are met; met_late when all are done and one was late."""
    stack = np.stack([np.asarray(s, dtype=np.int8) for s in statuses])
    worst = np.argmin(_RANK[stack], axis=0)
    return np.take_along_axis(stack, worst[None], axis=0)[0]


# ============================================================================ values

def judge_values(x: np.ndarray, exists: np.ndarray, t: Target, plan: Plan, grid: Grid, settings: ProgressSettings,
                 bounds: Bounds, *, done_style: bool = False, T: float | None = None, baseline: str | None = None,
                 light: bool = False) -> dict[str, np.ndarray]:
    """The method of progress-method.md on value series ``x`` [U, P] (NaN: no value).

    ``exists`` [U, P] marks the cells where the unit exists (``emit``: the rows to show).
    ``done_style``: judge as a milestone before the deadline (done/not-done units, counts).
    ``T`` overrides the target value (shares: 100). With recurrence every cycle (``cycles``) has its
    own baseline (its first value) and deadline. gap_pp, cr and rate_required follow from the
    outputs (pipelines.compute.rows).
    """
    U, P = x.shape
    c0 = grid.first_col(start_day(t, plan, baseline))
    cyc = cycles(t, grid, plan)
    D = cyc.deadline[None, :]
    pend = grid.end[None, :]
    cols = np.arange(P)[None, :]
    target = t.value if T is None else T
    lo_target = float(target[0] if isinstance(target, list) else target)
    has = ~np.isnan(x)
    valid = has & (cols >= c0)
    if t.recurrence:                                    # a baseline per cycle: the cycle's first value
        bcol = np.full((U, P), -1, dtype=np.int64)
        points = np.zeros((U, P), dtype=np.int64)
        for code in np.unique(cyc.code):
            m = cyc.code == code
            in_cycle = valid[:, m]
            fc = np.where(in_cycle.any(axis=1), np.nonzero(m)[0][0] + in_cycle.argmax(axis=1), -1)
            bcol[:, m] = fc[:, None]
            points[:, m] = np.cumsum(in_cycle, axis=1)
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
    if t.comparator in (">=", ">", "between"):
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
    out["cycle"] = cyc.code
    return out


def judge_count_between(x: np.ndarray, exists: np.ndarray, t: Target, plan: Plan, grid: Grid,
                        settings: ProgressSettings, bounds: Bounds, baseline: str | None = None) -> dict[str, np.ndarray]:
    """A range (count between [lo, hi], "1-2个"): met from lo, a done/not-done count towards lo below
    it; above hi still met, with ``above_range`` set (never lagging)."""
    out = judge_values(x, exists, t, plan, grid, settings, bounds, done_style=True, baseline=baseline)
    hi = float(t.value[1])
    with np.errstate(invalid="ignore"):
        out["above_range"] = ~np.isnan(x) & (x > hi + EPS * max(1.0, abs(hi)))
    return out


# ============================================================================ trends and bands

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


def plan_start_reference(x: np.ndarray, grid: Grid, day0: dt.date, at_or_after: bool = False) -> np.ndarray:
    """The column of each unit's plan-start value (-1: none): the last quarter with a value ending on
    or before ``day0``, else the first one after it; with ``at_or_after`` (a baseline quarter asked
    for) the first quarter with a value ending on or after ``day0``."""
    U, P = x.shape
    has = ~np.isnan(x)
    cols = np.arange(P)[None, :]
    before = has & (grid.end <= day0.toordinal())[None, :]
    after = has & (grid.end >= day0.toordinal())[None, :] if at_or_after else has & ~before
    last_before = np.max(np.where(before, cols, -1), axis=1) if P else np.full(U, -1)
    first_after = np.where(after.any(axis=1), after.argmax(axis=1), -1) if P else np.full(U, -1)
    if at_or_after:
        return first_after
    return np.where(last_before >= 0, last_before, first_after)


def judge_trend(x: np.ndarray, exists: np.ndarray, t: Target, plan: Plan, grid: Grid, settings: ProgressSettings,
                bounds: Bounds, baseline: str | None = None) -> dict[str, np.ndarray]:
    """rising / falling / not_falling against a year earlier (``t.baseline`` previous_year; with yearly
    recurrence against the last Q4) or against the plan-start value (plan_start)."""
    U, P = x.shape
    day0 = start_day(t, plan, baseline)
    c0 = grid.first_col(day0)
    cyc = cycles(t, grid, plan)
    D = cyc.deadline[None, :]
    pend = grid.end[None, :]
    cols = np.arange(P)[None, :]
    has = ~np.isnan(x)
    from_start = t.baseline == "plan_start"
    if from_start:
        rcol = plan_start_reference(x, grid, day0, at_or_after=bool(baseline))
        ref = np.where(rcol >= 0, x[np.arange(U), np.maximum(rcol, 0)], np.nan)[:, None] * np.ones((1, P))
        known = has & (rcol[:, None] >= 0) & (cols > rcol[:, None])
        ref_col = np.where(rcol[:, None] >= 0, rcol[:, None] * np.ones((1, P), np.int64), -1).astype(np.int64)
    else:
        ref = _year_earlier(x, grid, t.recurrence == "yearly")
        known = has & ~np.isnan(ref)
        ref_col = np.full((U, P), -1, np.int64)
    delta = x - ref
    tol = t.tolerance or 0.0
    lo_b, hi_b = bounds
    with np.errstate(invalid="ignore"):
        at_top = (x >= hi_b - EPS) if (hi_b is not None and not from_start) else np.zeros((U, P), bool)
        at_bottom = (x <= lo_b + EPS) if (lo_b is not None and not from_start) else np.zeros((U, P), bool)
        if t.comparator == "rising":
            met = (delta > EPS) | at_top
            lag = ~met & (np.abs(delta) <= EPS)
            severe = ~met & (delta < -EPS)
            regress = delta < -EPS
        elif t.comparator == "falling":
            met = (delta < -EPS) | at_bottom
            lag = ~met & (np.abs(delta) <= EPS)
            severe = ~met & (delta > EPS)
            regress = delta > EPS
        else:                                                         # not_falling
            met = (delta >= -tol - EPS) | at_top
            lag = ~met & (delta >= -2 * tol - EPS)
            severe = ~met & ~lag
            regress = ~met
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
            "baseline_value": ref, "baseline_col": ref_col, "deadline": np.broadcast_to(D, (U, P)),
            "target_value": clamp(np.where(t.comparator == "not_falling", ref - tol, ref), bounds),
            "cycle": cyc.code}


def judge_band(x: np.ndarray, exists: np.ndarray, t: Target, plan: Plan, grid: Grid, settings: ProgressSettings,
               baseline: str | None = None) -> dict[str, np.ndarray]:
    """about T ± tolerance, or between [lo, hi]: inside → met; distance decides lagging / severe."""
    U, P = x.shape
    c0 = grid.first_col(start_day(t, plan, baseline))
    cyc = cycles(t, grid, plan)
    D = cyc.deadline[None, :]
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
            "baseline_value": nans((U, P)), "baseline_col": np.full((U, P), -1), "cycle": cyc.code,
            "deadline": np.broadcast_to(D, (U, P)), "target_value": np.full((U, P), float(centre))}


# ============================================================================ milestones and tasks

def _overdue_status(status: np.ndarray, open_: np.ndarray, days_left: np.ndarray, settings: ProgressSettings) -> None:
    """Set the status of the open cells from the days left before the deadline (negative: overdue;
    NaN: no deadline yet → on_track)."""
    status[open_ & (days_left >= 0) & (days_left <= settings.milestone_due_soon_days)] = DUE_SOON
    status[open_ & (days_left > settings.milestone_due_soon_days)] = ON_TRACK
    status[open_ & np.isnan(days_left)] = ON_TRACK
    status[open_ & (days_left < 0) & (-days_left < settings.milestone_severe_after_days)] = LAGGING
    status[open_ & (-days_left >= settings.milestone_severe_after_days)] = SEVERE


def judge_milestone(done: np.ndarray, known: np.ndarray, exists: np.ndarray, deadline: dt.date | np.ndarray,
                    t: Target, plan: Plan, grid: Grid, settings: ProgressSettings,
                    baseline: str | None = None) -> dict[str, np.ndarray]:
    """Done / not done by a date. ``done`` [U] or [U, P]: ordinal of the done date (NaN: not done);
    ``known`` [U, P]: the unit has reported anything that could carry the date. ``deadline``: a date,
    or ordinals per column [P] or per cell [U, P] (cycles, per-unit deadlines; NaN: no deadline yet —
    done is then met, not done on_track)."""
    U, P = known.shape
    c0 = grid.first_col(start_day(t, plan, baseline))
    if isinstance(deadline, dt.date):
        D = np.full((U, P), float(deadline.toordinal()))
    else:
        D = np.broadcast_to(np.asarray(deadline, dtype=float), (U, P))
    pend = grid.end[None, :]
    cols = np.arange(P)[None, :]
    done = done if done.ndim == 2 else done[:, None] * np.ones((1, P))
    with np.errstate(invalid="ignore"):
        done_by = done <= pend
        status = np.full((U, P), NO_DATA, dtype=np.int8)
        status[done_by & ((done <= D) | np.isnan(D))] = MET
        status[done_by & (done > D)] = MET_LATE
    open_ = ~done_by & known
    days_left = D - pend
    _overdue_status(status, open_, days_left, settings)
    t_start = float(start_day(t, plan, baseline).toordinal())
    tau_ = tau(pend, np.full((1, P), t_start), D)
    pi = np.where(done_by, 1.0, np.where(known, 0.0, np.nan))
    with np.errstate(invalid="ignore"):
        overdue = open_ & (days_left < 0)
    return {"status": status, "emit": exists & (cols >= c0), "value": np.where(known | done_by, pi * 100, np.nan),
            "pi": pi, "tau": np.where(np.isnan(D), np.nan, tau_), "points": np.zeros((U, P), int),
            "low_confidence": np.zeros((U, P), bool), "regressing": np.zeros((U, P), bool),
            "stale": np.zeros((U, P), bool), "last_value": nans((U, P)), "last_col": np.full((U, P), -1),
            "baseline_value": nans((U, P)), "baseline_col": np.full((U, P), -1),
            "deadline": D, "target_value": np.full((U, P), 100.0),
            "overdue": overdue, "done_date": done}


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


def combine_items(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The items of a task (each judged by ``judge_milestone`` on its own deadline): the worst item's
    status (``combine_worst``), overdue if any item is, pi the share of items done, the deadline
    the latest known one; ``done_all`` marks the cells where every item is done."""
    out = dict(parts[0])
    out["status"] = combine_worst([p["status"] for p in parts])
    done = [np.isin(p["status"], (MET, MET_LATE)) for p in parts]
    out["pi"] = np.sum(done, axis=0) / len(parts)
    out["value"] = np.where(out["status"] == NO_DATA, np.nan, out["pi"] * 100)
    out["overdue"] = np.any([p["overdue"] for p in parts], axis=0)
    with np.errstate(invalid="ignore"):
        out["deadline"] = np.fmax.reduce([np.asarray(p["deadline"], float) for p in parts])
        out["tau"] = np.fmin.reduce([np.asarray(p["tau"], float) for p in parts])
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
    """A parent of milestone units: ``share`` [U, P] % of its units done among those that reported
    (NaN: none reported), ``late`` how many were done late. 100 % → met (met_late if any was late);
    below it, the milestone statuses against the first deadline not yet passed
    (``first_open_deadline``)."""
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
