"""The judgement of the pandas baseline of ``bench progress``: every target × unit × quarter, from the
method (pipelines/compute/rules.py's docstring, ../shared/progress-method.md), written with pandas
and numpy over long frames — one row per unit and quarter of a level, complete and sorted by code
and quarter — without the product's code.

A level's frame (``ctx.frame``) has code, pidx and exists; the values and coverage counts come from
the driver's indicator values (pipelines.bench.progress_baseline). Per unit (and cycle) the
baseline, points, the value a year earlier or at the plan's start, the latest known state are
groupby transforms; the rest is vectorised numpy. Every judged block then goes through
``settle``: coverage (incomplete below ``min_coverage``; a parent of an every-unit share cannot be
met before all its units reported), not_judged outside the level the plan names (or everywhere
for a planning norm), the verdict at the deadline and met_late after it.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from pipelines.periods import period_bounds
from pipelines.units import LEVEL_RANK, LEVELS, PREFIX_LEN

EPS = 1e-9                  # a value within 1e-9 (relative) of a threshold counts as on it
WINDOW_DAYS = 183           # a field milestone takes the dates reported from half a year before its deadline
STATUS_NAMES = ("met", "met_late", "on_track", "due_soon", "lagging", "severely_lagging", "missed", "no_data",
                "incomplete", "not_judged")
MET, MET_LATE, ON_TRACK, DUE_SOON, LAGGING, SEVERE, MISSED, NO_DATA, INCOMPLETE, NOT_JUDGED = range(10)
# worst first: a task takes the worst status of its items, and overall of its lead units
_WORST_FIRST = (MISSED, SEVERE, LAGGING, INCOMPLETE, NO_DATA, DUE_SOON, ON_TRACK, MET_LATE, MET, NOT_JUDGED)
_RANK = np.array([_WORST_FIRST.index(s) for s in range(len(STATUS_NAMES))], dtype=np.int8)
NO_VERDICT = -1


# ============================================================================ quarters, cycles, deadlines

def start_day(t: Any, plan: Any) -> dt.date:
    """The first day counted for a target: the plan's start, or the target's own start if later."""
    return max(plan.period_start, t.start) if t.start else plan.period_start


def _quarter_of(day: dt.date) -> int:
    """The running number (year × 4 + quarter − 1) of the quarter containing ``day``."""
    return day.year * 4 + (day.month - 1) // 3


def cycles(t: Any, plan: Any, q: Any) -> tuple[np.ndarray, np.ndarray]:
    """(cycle, deadline) of each quarter of ``q``: one cycle (-1) due at the target's deadline; with
    recurrence calendar years / quarters from the target's start (else the plan's) to its deadline,
    each due at its end (the last one at the target's deadline); quarters before the first cycle
    belong to it, those after the deadline to the last one. A cycle is named by its first quarter."""
    final = float(t.deadline.toordinal())
    if not t.recurrence:
        return np.full(len(q), -1, np.int64), np.full(len(q), final)
    first = t.start or plan.period_start
    if t.recurrence == "yearly":
        years = np.clip(q.year, first.year, t.deadline.year)
        ends = np.array([dt.date(int(y), 12, 31).toordinal() for y in years], dtype=float)
        return years * 4, np.minimum(ends, final)
    code = np.clip(q.pidx, _quarter_of(first), _quarter_of(t.deadline))
    ends = np.array([period_bounds(f"{c // 4}Q{c % 4 + 1}")[1].toordinal() for c in code], dtype=float)
    return code.astype(np.int64), np.minimum(ends, final)


def _meets(x: Any, comparator: str, value: Any, tolerance: float | None) -> np.ndarray:
    """Whether each value meets the target (False where there is no value); equality up to a relative
    1e-9. A range (count between [lo, hi]) is met from its lower bound (bands: ``judge_band``)."""
    x = np.asarray(x, dtype=float)
    with np.errstate(invalid="ignore"):
        if comparator == "between":
            lo, _ = value
            return x >= lo - EPS * max(1, abs(lo))
        tol = EPS * max(1.0, abs(value))
        return {">=": lambda: x >= value - tol, ">": lambda: x > value + tol, "<=": lambda: x <= value + tol,
                "<": lambda: x < value - tol, "==": lambda: np.abs(x - value) <= tol,
                "about": lambda: np.abs(x - value) <= (tolerance or 0) + tol}[comparator]()


class _Cells:
    """Per row of a level's frame: its column (quarter position), quarter end, and the row of the
    unit's first quarter (frames are complete and sorted, so a unit's quarters are consecutive)."""

    def __init__(self, f: pd.DataFrame, q: Any):
        self.col = f["pidx"].to_numpy() - q.p0
        self.end = q.end[self.col]
        self.first_row = np.arange(len(f)) - self.col
        self.P = len(q)


# ============================================================================ what every block gets

def settle(ctx: Any, t: Any, level: str, root_level: str, f: pd.DataFrame, status: np.ndarray, reported: Any,
           expected: Any, deadline: Any, share: Any = None, task: bool = False) -> dict[str, np.ndarray]:
    """After a block's rule (in place on ``status``): coverage = reported ÷ expected and incomplete below
    ``min_coverage`` for judged cells (with an every-unit ``share``: also when a unit is missing and
    all reporters meet it); not_judged at a level other than the plan's ``judged_at`` (scope: the
    plan's unit) — everywhere for a ``guideline``; then the verdict at the deadline (the status of
    the quarter containing it: met; no value or incomplete → incomplete; else missed), kept on every
    later row of the same deadline (and missed on a row already met late by its own rule before
    it), and met_late for a later row meeting the target when the verdict is not met. Returns
    coverage and verdict."""
    reported = np.broadcast_to(np.asarray(reported, dtype=float), status.shape)
    expected = np.broadcast_to(np.asarray(expected, dtype=float), status.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        coverage = np.where(expected > 0, reported / np.where(expected > 0, expected, 1), np.nan)
        judged = ~np.isin(status, (NO_DATA, NOT_JUDGED))
        low = judged & (coverage < ctx.st.min_coverage - EPS)
        if share is not None:
            low |= judged & (coverage < 1 - EPS) & (np.asarray(share, dtype=float) >= 100 - EPS)
    status[low] = INCOMPLETE
    named = None if t.judged_at is None else (root_level if t.judged_at == "scope" else t.judged_at)
    if t.guideline or (named is not None and level != named and not task):
        status[:] = NOT_JUDGED
    c = _Cells(f, ctx.q)
    D = np.broadcast_to(np.asarray(deadline, dtype=float), status.shape)
    dcol = np.where(np.isnan(D), c.P, np.searchsorted(ctx.q.end, np.where(np.isnan(D), np.inf, D), side="left"))
    inside = dcol < c.P
    at = status[c.first_row + np.minimum(dcol, c.P - 1)] if len(status) else status
    v = np.select([at == MET, np.isin(at, (NO_DATA, INCOMPLETE)), at == NOT_JUDGED],
                  [MET, INCOMPLETE, NO_VERDICT], MISSED)
    verdict = np.where(inside & (c.col >= dcol), v, NO_VERDICT).astype(np.int8)
    # a row already met late by its own rule (its units had earlier deadlines of their own, one was
    # done late) has missed a deadline: the verdict is missed even before the target's own deadline
    verdict[(status == MET_LATE) & (verdict == NO_VERDICT)] = MISSED
    status[inside & (c.col > dcol) & (status == MET) & (verdict != MET)] = MET_LATE
    return {"coverage": coverage, "verdict": verdict}


# ============================================================================ values

def judge_values(ctx: Any, f: pd.DataFrame, x: np.ndarray, t: Any, plan: Any, bounds: tuple, *,
                 done_style: bool = False, share: bool = False) -> dict[str, Any]:
    """The method on value series: baseline = the first value from the start (per cycle with
    recurrence), points, pi, tau and the projection clamped to the bounds; then no value → no_data;
    meets → met; deadline reached → missed; then done/not-done units (``done_style``) due_soon /
    on_track; or fewer than min_points → no_data, baseline already meeting the target → lagging,
    projected share P ≥ on_track → on_track, ≥ lagging_floor → lagging, else severely_lagging.
    ``share``: a share of units meeting the target, judged against 100 %."""
    q, st = ctx.q, ctx.st
    c = _Cells(f, q)
    code_q, dl_q = cycles(t, plan, q)
    D = dl_q[c.col]
    comparator, target = (">=", 100.0) if share else (t.comparator, t.value)
    lo = float(target[0] if isinstance(target, list) else target)
    x = pd.Series(np.asarray(x, dtype=float), index=f.index)
    has = x.notna().to_numpy()
    valid = has & (c.col >= q.first_col(start_day(t, plan)))
    pend = pd.Series(c.end, index=f.index)
    series = pd.DataFrame({"xv": x.where(valid), "tv": pend.where(valid), "valid": valid})
    g = series.groupby([f["code"].to_numpy(), code_q[c.col]], sort=False)    # per unit and cycle
    xb, tb = g["xv"].transform("first"), g["tv"].transform("first")
    points = g["valid"].cumsum().to_numpy()
    met = _meets(x, comparator, target, t.tolerance)
    req = lo - xb                                   # the change required; its sign makes lower-is-better work
    if comparator in (">=", ">", "between"):
        fallen = req <= 0                           # the baseline already met the target
    elif comparator in ("<=", "<"):
        fallen = req >= 0
    else:
        fallen = req == 0
    span = D - tb
    tau = ((pend - tb) / span.where(span > 0)).clip(0, 1).where(span > 0, 1.0)
    pi = ((x - xb) / req.where(req != 0)).where(~fallen)
    elapsed = pend - tb
    projected = (xb + (x - xb) * span / elapsed.where(elapsed > 0)).clip(lower=bounds[0], upper=bounds[1])
    p_share = ((projected - xb) / req.where(~fallen & (req != 0))).to_numpy()
    past = c.end >= D
    with np.errstate(invalid="ignore"):
        if done_style:
            conds = [~has, met, past, D - c.end <= st.milestone_due_soon_days]
            choices, default = [NO_DATA, MET, MISSED, DUE_SOON], ON_TRACK
        else:
            conds = [~has, met, past, points < st.min_points, fallen.to_numpy(), p_share >= st.on_track - EPS,
                     p_share >= st.lagging_floor - EPS]
            choices, default = [NO_DATA, MET, MISSED, NO_DATA, LAGGING, ON_TRACK, LAGGING], SEVERE
    status = np.select(conds, choices, default).astype(np.int8)
    out = {"status": status, "value": x.to_numpy(), "pi": pi.to_numpy(), "tau": tau.to_numpy(),
           "projected": projected.where(has & ~met).to_numpy(), "deadline": D}
    if t.comparator == "between" and not share:         # a range: above the upper bound is still met
        hi = float(t.value[1])
        with np.errstate(invalid="ignore"):
            out["above_range"] = x.to_numpy() > hi + EPS * max(1.0, abs(hi))
    return out


def _flat_tau(ctx: Any, f: pd.DataFrame, t: Any, plan: Any, D: np.ndarray) -> np.ndarray:
    """tau from the target's start quarter (trend and band targets have no baseline value)."""
    q = ctx.q
    c = _Cells(f, q)
    c0 = q.first_col(start_day(t, plan))
    tb = q.end[c0] if c0 < len(q) else np.nan
    span = D - tb
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = np.where(span > 0, (c.end - tb) / np.where(span > 0, span, 1), 1.0)
    return np.clip(tau, 0, 1)


def judge_trend(ctx: Any, f: pd.DataFrame, x: np.ndarray, t: Any, plan: Any, bounds: tuple) -> dict[str, Any]:
    """rising / falling / not_falling. Against a year earlier (``baseline`` previous_year; with yearly
    recurrence the last Q4 before the quarter): up (or at the indicator's upper bound) → met, flat →
    lagging, down → severely_lagging (falling the mirror; not_falling: a fall up to the tolerance →
    met, up to twice → lagging). Against the plan-start value (plan_start: the last value of a
    quarter ending on or before the start, else the first after it), from the quarter after it, with
    no bound rule. Deadline reached and not met → missed; nothing to compare with → no_data."""
    q = ctx.q
    c = _Cells(f, q)
    D = cycles(t, plan, q)[1][c.col]
    x = pd.Series(np.asarray(x, dtype=float), index=f.index)
    by_unit = x.groupby(f["code"].to_numpy(), sort=False)
    from_start = t.baseline == "plan_start"
    if from_start:
        day0 = start_day(t, plan).toordinal()
        has = x.notna()
        before = has & (c.end <= day0)
        after = has & (c.end > day0)
        cols = pd.Series(c.col, index=f.index)
        last_before = cols.where(before).groupby(f["code"].to_numpy(), sort=False).transform("max")
        first_after = cols.where(after).groupby(f["code"].to_numpy(), sort=False).transform("min")
        rcol = last_before.fillna(first_after)
        rpos = (c.first_row + rcol.fillna(0).to_numpy()).astype(np.int64)
        ref = np.where(rcol.notna(), x.to_numpy()[rpos], np.nan)
        known = has.to_numpy() & rcol.notna().to_numpy() & (c.col > rcol.fillna(np.inf).to_numpy())
    else:
        if t.recurrence == "yearly":                  # the last Q4 before the quarter: its quarter number back
            back = q.quarter[c.col]
            ref = np.select([back == k for k in (1, 2, 3, 4)], [by_unit.shift(k).to_numpy() for k in (1, 2, 3, 4)],
                            np.nan)
        else:                                         # the same quarter a year earlier
            ref = by_unit.shift(4).to_numpy()
        known = x.notna().to_numpy() & ~np.isnan(ref)
    xv = x.to_numpy()
    delta = xv - ref
    tol = t.tolerance or 0.0
    with np.errstate(invalid="ignore"):
        at_top = (xv >= bounds[1] - EPS) if (bounds[1] is not None and not from_start) else np.zeros(len(xv), bool)
        at_bottom = (xv <= bounds[0] + EPS) if (bounds[0] is not None and not from_start) else np.zeros(len(xv), bool)
        if t.comparator == "rising":
            met = (delta > EPS) | at_top
            lag = np.abs(delta) <= EPS
        elif t.comparator == "falling":
            met = (delta < -EPS) | at_bottom
            lag = np.abs(delta) <= EPS
        else:
            met = (delta >= -tol - EPS) | at_top
            lag = delta >= -2 * tol - EPS
    status = np.select([~known, met, c.end >= D, lag], [NO_DATA, MET, MISSED, LAGGING], SEVERE).astype(np.int8)
    return {"status": status, "value": xv, "pi": np.nan, "tau": _flat_tau(ctx, f, t, plan, D), "projected": np.nan,
            "deadline": D}


def judge_band(ctx: Any, f: pd.DataFrame, x: np.ndarray, t: Any, plan: Any) -> dict[str, Any]:
    """about T ± tolerance, or between [lo, hi]: inside → met; outside by at most one tolerance (half
    the range) → lagging; further → severely_lagging; outside once the deadline is reached → missed."""
    q = ctx.q
    c = _Cells(f, q)
    _, dl_q = cycles(t, plan, q)
    D = dl_q[c.col]
    if t.comparator == "between":
        lo, hi = t.value
        width, centre = (hi - lo) / 2 or 1.0, (lo + hi) / 2
    else:
        lo, hi, width, centre = t.value - t.tolerance, t.value + t.tolerance, t.tolerance, t.value
    x = np.asarray(x, dtype=float)
    with np.errstate(invalid="ignore"):
        outside = np.maximum(lo - x, x - hi)
        status = np.select([np.isnan(x), outside <= EPS * max(1, abs(centre)), c.end >= D, outside <= width + EPS],
                           [NO_DATA, MET, MISSED, LAGGING], SEVERE).astype(np.int8)
    return {"status": status, "value": x, "pi": np.nan, "tau": _flat_tau(ctx, f, t, plan, D), "projected": np.nan,
            "deadline": D}


# ============================================================================ milestones

def _overdue(status: np.ndarray, open_: np.ndarray, days_left: np.ndarray, st: Any) -> None:
    """The status of open cells from the days left before the deadline (NaN: none yet → on_track):
    on_track, due_soon (≤ 7 days), lagging when overdue (< ~3 months), severely_lagging beyond."""
    with np.errstate(invalid="ignore"):
        status[open_] = np.select(
            [np.isnan(days_left), days_left > st.milestone_due_soon_days, days_left >= 0,
             -days_left < st.milestone_severe_after_days],
            [ON_TRACK, ON_TRACK, DUE_SOON, LAGGING], SEVERE)[open_]


def judge_milestone(ctx: Any, f: pd.DataFrame, done: np.ndarray, known: np.ndarray, deadline: Any) -> dict[str, Any]:
    """Done by a date: met when done by the quarter's end and by the deadline (or no deadline known),
    met_late when done after it; not done yet and the unit reported (``known``): the overdue
    statuses against the deadline (per row; NaN: none yet); no_data otherwise. The value is 100
    once done, 0 while known and not done."""
    c = _Cells(f, ctx.q)
    D = np.broadcast_to(np.asarray(deadline, dtype=float), (len(f),))
    done = np.asarray(done, dtype=float)
    with np.errstate(invalid="ignore"):
        done_by = done <= c.end
        status = np.where(done_by, np.where(done > D, MET_LATE, MET), NO_DATA).astype(np.int8)
    open_ = ~done_by & known
    _overdue(status, open_, D - c.end, ctx.st)
    pi = np.where(done_by, 1.0, np.where(known, 0.0, np.nan))
    return {"status": status, "value": pi * 100, "pi": pi, "tau": np.nan, "projected": np.nan, "deadline": D}


def combine_parts(parts: list[dict[str, Any]], worst: bool) -> dict[str, Any]:
    """Several milestones of a target (``worst`` False: in deadline order, the status of the first one
    not done yet; met, or met_late if one was late, when all are done) or the items of a task
    (``worst`` True: the worst item's status). pi is the share done; no value where no data."""
    stack = np.stack([p["status"] for p in parts])
    done = np.isin(stack, (MET, MET_LATE))
    if worst:
        status = np.take_along_axis(stack, np.argmin(_RANK[stack], axis=0)[None], axis=0)[0]
    else:
        first_open = np.argmax(~done, axis=0)
        status = np.where(done.all(axis=0), np.where((stack == MET_LATE).any(axis=0), MET_LATE, MET),
                          np.take_along_axis(stack, first_open[None], axis=0)[0]).astype(np.int8)
    pi = done.mean(axis=0)
    return {"status": status.astype(np.int8), "value": np.where(status == NO_DATA, np.nan, pi * 100), "pi": pi,
            "tau": np.nan, "projected": np.nan, "done_all": done.all(axis=0)}


def _dates_known(ctx: Any, f: pd.DataFrame, level: str, dates: pd.DataFrame, sheet: str, deadline: dt.date
                 ) -> tuple[np.ndarray, np.ndarray]:
    """From the dates reported in a field (code, pidx, day): per row of ``f`` (units of ``level``) the
    done date — the earliest reported no more than half a year before ``deadline`` (earlier ones
    belong to an earlier cycle) — and whether the unit reported anything recently: since the window
    opened, or in the last half year (county sheet: any record)."""
    q = ctx.q
    window = (deadline - dt.timedelta(days=WINDOW_DAYS)).toordinal()
    first = dates[dates["day"] >= window].groupby("code")["day"].min()
    done = f["code"].map(first).to_numpy(dtype=float, na_value=np.nan)
    if sheet == "county":
        return done, f["code"].isin(dates["code"]).to_numpy()
    pos = ctx.reg.position(level, dates["code"], dates["pidx"])
    reported = np.zeros(len(f), bool)
    reported[pos[pos >= 0]] = True
    reported = reported.reshape(-1, len(q))                       # [unit, quarter]: frames are complete
    since = np.minimum(window, q.end - WINDOW_DAYS)              # per quarter: the first day counted
    known = np.zeros_like(reported)
    for k in range(len(q)):
        lo = int(np.nonzero(q.end >= since[k])[0][0])
        known[:, k] = reported[:, lo:k + 1].any(axis=1)
    return done, known.ravel()


def judge_field_milestone(ctx: Any, plan: Any, t: Any, root_level: str, prefixes: list[str]
                          ) -> list[tuple[str, dict[str, Any], pd.DataFrame]]:
    """Milestones on date fields (village, township or county sheet): per unit of the target's level
    (of its population / township kind), each milestone done at the earliest date in its window
    (``after``: due that many days after the unit's own other date, unknown — no data — until that
    date is reported), the first not done deciding; above, the share of units done among those
    that reported, against the first deadline not yet passed."""
    q, st = ctx.q, ctx.st
    unit_level, _, share_levels = judged_levels(t, None, root_level)
    f = ctx.frame(unit_level)
    sheet = t.level if t.level in ("village", "township", "county") else "township"
    exists = f["exists"].to_numpy() & ctx.counted(unit_level, t)
    start = q.first_col(start_day(t, plan))
    c = _Cells(f, q)
    parts, finals = [], []
    for m in sorted(t.milestones, key=lambda m: m.deadline):
        done, known = _dates_known(ctx, f, unit_level, ctx.field_dates(sheet, m.field), sheet, m.deadline)
        nominal = float(m.deadline.toordinal())
        if m.after is not None:
            base, _ = _dates_known(ctx, f, unit_level, ctx.field_dates(sheet, m.after.field), sheet, m.deadline)
            due = base + m.after.days
            with np.errstate(invalid="ignore"):
                deadline = np.where(base <= c.end, due, np.nan)
            known = known & ~np.isnan(deadline)
            finals.append(np.where(np.isnan(due), nominal, due))
        else:
            deadline = np.full(len(f), nominal)
            finals.append(deadline)
        parts.append(judge_milestone(ctx, f, done, known, deadline))
    r = combine_parts(parts, worst=False) if len(parts) > 1 else {
        **parts[0], "done_all": np.isin(parts[0]["status"], (MET, MET_LATE))}
    status = r["status"]
    reported = exists & (status != NO_DATA)
    late_any = status == MET_LATE
    emit = ctx.inside(unit_level, prefixes) & exists & (c.col >= start)
    done_all = r["done_all"]
    r.update(settle(ctx, t, unit_level, root_level, f, status, reported, exists, np.max(finals, axis=0)))
    r["emit"] = emit
    out = [(unit_level, r, f)]
    sums = share_sums(f, {"done": done_all & reported, "judged": reported, "late": late_any & reported,
                          "expected": exists}, share_levels)
    deadlines = sorted(float(m.deadline.toordinal()) for m in t.milestones)
    first_open = np.array([next((d for d in deadlines if d >= s), deadlines[-1]) for s in q.start])
    for level in share_levels:
        parent = ctx.frame(level)
        pc = _Cells(parent, q)
        n = ctx.place(level, sums[level])
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(n["judged"] > 0, 100.0 * n["done"] / np.where(n["judged"] > 0, n["judged"], 1), np.nan)
        full = share >= 100 - EPS
        status = np.where(full, np.where(n["late"] > 0, MET_LATE, MET), NO_DATA).astype(np.int8)
        _overdue(status, ~np.isnan(share) & ~full, first_open[pc.col] - pc.end, st)
        pr = {"status": status, "value": share, "pi": share / 100, "tau": np.nan, "projected": np.nan}
        pr.update(settle(ctx, t, level, root_level, parent, status, n["judged"], n["expected"],
                         float(deadlines[-1]), share=share))
        emit = ctx.inside(level, prefixes) & parent["exists"].to_numpy() & (pc.col >= start) & (n["expected"] > 0)
        pr["emit"] = emit
        out.append((level, pr, parent))
    return out


# ============================================================================ tasks (督办任务)

def _add_offset(day: float, after: Any) -> float:
    """A done date (ordinal) plus an item's offset (years, months — the last day of a shorter month —
    or days); NaN stays NaN."""
    if not np.isfinite(day):
        return np.nan
    d = dt.date.fromordinal(int(day))
    if after.days is not None:
        return float((d + dt.timedelta(days=after.days)).toordinal())
    months = d.month - 1 + (after.years or 0) * 12 + (after.months or 0)
    year, month = d.year + months // 12, months % 12 + 1
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return float(dt.date(year, month, min(d.day, last)).toordinal())


def _cycle_code(text: str, recurrence: str) -> float:
    """The cycle a task record names (2019 for a yearly task, 2021Q2 for a quarterly one) as the
    running number of its first quarter; NaN when blank or not a cycle of that kind."""
    if recurrence == "yearly" and len(text) == 4 and text.isdigit():
        return float(int(text) * 4)
    if recurrence == "quarterly" and len(text) == 6 and text[:4].isdigit() and text[4] == "Q" and text[5] in "1234":
        return float(int(text[:4]) * 4 + int(text[5]) - 1)
    return np.nan


def judge_task(ctx: Any, plan: Any, t: Any, records: pd.DataFrame, root_level: str, roots: list[int]
               ) -> tuple[tuple[dict[str, Any], pd.DataFrame], tuple[dict[str, Any], pd.DataFrame] | None]:
    """A task of a task list, from the latest update of each responsible unit, item and cycle
    (``records``; a record without a cycle counts for the cycle containing its done date).

    Per responsible unit: each item done (已完成 with a date) by its deadline — the cycle's with
    recurrence, its own, or (``after``) the other item's done date + the offset, unknown until that
    is done — with the milestone statuses, the worst item's status for the task. Overall per plan
    root: the worst of the lead units; done when all are. Returns (department rows, root rows)."""
    q = ctx.q
    depts = list(dict.fromkeys(t.lead + t.partners))
    U, P = len(depts), len(q)
    f = pd.DataFrame({"code": np.repeat(np.arange(U), P), "pidx": np.tile(q.pidx, U), "exists": True})
    c = _Cells(f, q)
    code_q, dl_q = cycles(t, plan, q)
    recs = records[records["task_id"] == t.id]
    recs = recs[recs["unit"].isin(depts)]
    known = f["code"].isin([depts.index(u) for u in recs["unit"]]).to_numpy()
    items = [i.id for i in t.items] or [""]
    done = {i: np.full(U * P, np.nan) for i in items}
    for item in items:
        mine = recs[recs["item"] == item] if t.items else recs
        if not len(mine):
            continue
        unit = mine["unit"].map({d: k for k, d in enumerate(depts)}).to_numpy()
        day = np.where(mine["status"].to_numpy() == "已完成", mine["day"].to_numpy(dtype=float), np.nan)
        if not t.recurrence:
            for k, d in zip(unit, day):
                done[item][k * P:(k + 1) * P] = d
            continue
        cyc = mine["cycle"].map(lambda text: _cycle_code(text, t.recurrence)).to_numpy(dtype=float)
        # no cycle written: the cycle of the quarter containing the done date
        at = np.searchsorted(q.start, np.where(np.isnan(day), 0, day), side="right") - 1
        derived = code_q[np.clip(at, 0, P - 1)]
        cyc = np.where(np.isnan(cyc) & ~np.isnan(day), derived, cyc)
        for k, cc, d in zip(unit, cyc, day):
            if np.isnan(cc):
                continue
            rows = k * P + np.nonzero(code_q == cc)[0]
            done[item][rows] = d
    parts, finals = [], []
    for spec in (t.items or [None]):
        key = spec.id if spec is not None else ""
        if spec is None or t.recurrence:
            deadline = dl_q[c.col]
            final = deadline
        elif spec.deadline is not None:
            deadline = np.full(U * P, float(spec.deadline.toordinal()))
            final = deadline
        else:
            base = done[spec.after.item][c.first_row + P - 1]          # the other item's done date, as known now
            due = np.array([_add_offset(b, spec.after) for b in base])
            with np.errstate(invalid="ignore"):
                deadline = np.where(done[spec.after.item] <= c.end, due, np.nan)
            final = due
        parts.append(judge_milestone(ctx, f, done[key], known, deadline))
        finals.append(final)
    if t.items:
        r = combine_parts(parts, worst=True)
        final = np.max(finals, axis=0)                   # unknown until every item's deadline is
    else:
        r = {**parts[0], "done_all": np.isin(parts[0]["status"], (MET, MET_LATE))}
        final = finals[0]
    start = q.first_col(start_day(t, plan))
    lead_status = r["status"].copy()
    r.update(settle(ctx, t, "department", root_level, f, r["status"], known, 1.0, final, task=True))
    dept_rows = f.assign(department=np.array(depts, dtype=object)[f["code"].to_numpy()])
    emit = c.col >= start
    r["emit"] = emit
    dept = (r, dept_rows)
    leads = [depts.index(d) for d in t.lead]
    if not roots or not leads:
        return dept, None
    # overall: the worst lead unit, per quarter
    lead_rows = np.array([k * P + np.arange(P) for k in leads])           # [L, P] rows of the lead units
    status = np.take_along_axis(lead_status[lead_rows], np.argmin(_RANK[lead_status[lead_rows]], axis=0)[None],
                                axis=0)[0]
    n_done = r["done_all"][lead_rows].sum(axis=0)
    any_known = known[lead_rows].any(axis=0)
    reported = known[lead_rows].sum(axis=0)
    final_all = np.max(np.asarray(final, dtype=float)[lead_rows], axis=0)
    rf = ctx.frame(root_level)
    rf = rf[rf["code"].isin(roots)]
    rcol = rf["pidx"].to_numpy() - q.p0
    pi = n_done / len(leads)
    rr = {"status": status[rcol].astype(np.int8), "value": np.where(any_known, pi * 100, np.nan)[rcol],
          "pi": pi[rcol], "tau": np.nan, "projected": np.nan}
    rr.update(settle(ctx, t, root_level, root_level, rf.reset_index(drop=True), rr["status"], reported[rcol],
                     float(len(leads)), final_all[rcol], task=True))
    emit = rf["exists"].to_numpy() & (rcol >= start)
    rr["emit"] = emit
    return dept, (rr, rf)


# ============================================================================ where a target is judged

def judged_levels(t: Any, ind: Any, root_level: str) -> tuple[str | None, list[str], list[str]]:
    """(unit level, value levels, share levels) of a target under a plan root of ``root_level``:
    aggregate, trend and band targets at their level and above (aggregate ratios also below, down
    to township); every-unit, count and milestone targets per unit at their level (not below the
    indicator's sheet), shares above."""
    rank = LEVEL_RANK
    tl = t.level if rank[t.level] >= rank[root_level] else root_level
    if ind is not None and rank[tl] > rank[ind.source]:
        tl = ind.source

    def upto(low: str) -> list[str]:
        return [lv for lv in LEVELS if rank[root_level] <= rank[lv] <= rank[low]]
    if t.eval in ("aggregate", "trend", "band"):
        low = tl
        if t.eval == "aggregate" and ind is not None and ind.denominator is not None and rank[low] < rank["township"]:
            low = "township" if rank[ind.source] >= rank["township"] else ind.source
        return None, upto(low), []
    return tl, [tl], [lv for lv in LEVELS if rank[root_level] <= rank[lv] < rank[tl]]


def done_style(t: Any, ind: Any) -> bool:
    """Count targets, and every-unit targets on a yes/no per unit, are judged as done / not done."""
    if t.eval == "count":
        return True
    return (t.eval == "every_unit" and ind is not None and ind.compiled["numerator"].type == "bool"
            and (ind.denominator is None or ind.denominator.strip() == "1"))


def share_sums(child: pd.DataFrame, counts: dict[str, np.ndarray], levels: list[str]) -> dict[str, pd.DataFrame]:
    """Per level of ``levels`` and quarter, the sums of ``counts`` (booleans or numbers per child row)
    over the child units below: by code prefix with groupby, the lowest level first."""
    sums = {}
    frame = pd.DataFrame({"code": child["code"].to_numpy(), "pidx": child["pidx"].to_numpy(),
                          **{k: np.asarray(v, dtype=float) for k, v in counts.items()}})
    for level in sorted(levels, key=LEVEL_RANK.get, reverse=True):
        m = 10 ** (12 - PREFIX_LEN[level])
        frame = frame.assign(code=(frame["code"].to_numpy() // m) * m).groupby(
            ["code", "pidx"], sort=False, as_index=False).sum()
        sums[level] = frame
    return sums


def judge_target(ctx: Any, plan: Any, t: Any, root_level: str, prefixes: list[str]
                 ) -> list[tuple[str, dict[str, Any], pd.DataFrame]]:
    """(level, judged arrays, the level's frame) of every level at which ``t`` is
    judged in one scope (plan roots of one level): the values at their levels, then the shares of
    units meeting it above an every-unit or count target's level."""
    if t.eval == "milestone":
        return judge_field_milestone(ctx, plan, t, root_level, prefixes)
    ind = ctx.cat.indicators[t.indicator]
    bounds = tuple(ind.bounds)
    unit_level, value_levels, share_levels = judged_levels(t, ind, root_level)
    start = ctx.q.first_col(start_day(t, plan))
    out = []
    for level in value_levels:
        f = ctx.frame(level)
        v = ctx.values(t, level)
        if t.eval == "trend":
            r = judge_trend(ctx, f, v["value"], t, plan, bounds)
        elif t.eval == "band":
            r = judge_band(ctx, f, v["value"], t, plan)
        else:
            r = judge_values(ctx, f, v["value"], t, plan, bounds,
                             done_style=(level == unit_level and done_style(t, ind)) or t.comparator == "between")
        c = _Cells(f, ctx.q)
        emit = (ctx.inside(level, prefixes) & f["exists"].to_numpy() & (c.col >= start) & ~v["na"]
                & (v["expected"] > 0))
        r.update(settle(ctx, t, level, root_level, f, r["status"], v["reported"], v["expected"], r["deadline"]))
        r["emit"] = emit
        out.append((level, r, f))
    if unit_level is None or not share_levels:
        return out
    child = ctx.frame(unit_level)
    v = ctx.values(t, unit_level)
    with np.errstate(invalid="ignore"):
        enough = (v["expected"] > 0) & (v["reported"] >= ctx.st.min_coverage * v["expected"] - 1e-9)
    # the units that reported (enough of their own units) are counted, meeting the target or not
    reported = child["exists"].to_numpy() & ~v["na"] & ~np.isnan(v["value"]) & enough
    meeting = _meets(v["value"], t.comparator, t.value, t.tolerance) & reported
    coverage = ctx.child_coverage(t, unit_level, share_levels)
    sums = share_sums(child, {"meeting": meeting, "reported": reported}, share_levels)
    for level in share_levels:
        parent = ctx.frame(level)
        n = ctx.place(level, sums[level])
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(n["reported"] > 0, 100.0 * n["meeting"] / np.where(n["reported"] > 0, n["reported"], 1),
                             np.nan)
        r = judge_values(ctx, parent, share, t, plan, (0.0, 100.0), share=True)
        rep, exp = coverage[level]
        pc = _Cells(parent, ctx.q)
        emit = ctx.inside(level, prefixes) & parent["exists"].to_numpy() & (pc.col >= start) & (exp > 0)
        r.update(settle(ctx, t, level, root_level, parent, r["status"], rep, exp, r["deadline"], share=share))
        r["emit"] = emit
        out.append((level, r, parent))
    return out
