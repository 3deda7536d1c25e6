"""Judging one target in one scope: at which levels, on which values, by which rule (pipelines.compute.rules).

Where each target is shown (per plan scope: the plan's own unit and the units of settings.applies)
    aggregate   the target's level and every level above it up to the scope; for ratios (an
                indicator with a denominator) also every level below it down to township
                ("also shown per county/township"); totals only at the target level and above.
    every_unit  each unit of the target's level (of its population: 村 / 社区 / 村(社区)); above it,
                the SHARE (%) of those units meeting the target in the quarter, among the units that
                reported (a unit without a return is not counted as failing: it is missing, and the
                parent's coverage shows it); units where the indicator does not apply (``among``
                false) are left out — judged as a target of 100 % with the same method: met only
                when every expected unit reported and meets it.
    count       like every_unit (per unit at the target's level, shares above).
    trend/band  the target's level and above.
    milestone   each unit of the target's level; above it the share of units done among those that
                reported. Field milestones take the earliest date reported for the unit no more than
                half a year before the deadline (earlier dates belong to an earlier cycle of a yearly
                report); no_data when the unit reported nothing since then. Task milestones (督办任务)
                are judged per responsible unit (department) from its latest update (per item and
                cycle) as of the cutoff, and overall per scope unit: the worst of the lead units.
    A yearly count from the county sheet uses, for every quarter of a year, the year's latest
    record (as of the cutoff when asked as of a quarter).

Where a status is given (``status_levels``): every level shown, unless the target names one
(``judged_at``: a level, or ``scope`` = the plan's scope units) — the others keep their values with
status not_judged — or is a planning norm (``guideline``: not_judged everywhere). Every block then
gets its coverage (reported ÷ expected, from the scope; incomplete below ``min_coverage``), its
verdict at the deadline and met_late (``_settle``, rules of pipelines.compute.rules).

``judge_target`` returns one ``Block`` per level: the status and outputs as [U, P] arrays, and
``emit`` marking the cells that are rows (pipelines.compute.rows turns them into rows).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Iterable

import duckdb
import numpy as np
import pandas as pd

from pipelines.catalog.definitions import Catalog, Indicator, Plan, Target
from pipelines.compute.indicators import selection_sql
from pipelines.compute.rules import (INCOMPLETE, MET, MET_LATE, NO_DATA, NOT_JUDGED, apply_coverage, combine_items,
                                     combine_milestones, combine_worst, cycle_label, cycles, deadline_verdicts,
                                     judge_band, judge_count_between, judge_milestone, judge_milestone_share,
                                     judge_trend, judge_values, meets, nans, start_day)
from pipelines.compute.scope import Scope, Units, code_ints
from pipelines.units import LEVEL_RANK, LEVEL_ZH, LEVELS

DEPARTMENT = "department"          # the level of a task's responsible unit (牵头/参与单位)
LEVEL_NAMES = {**LEVEL_ZH, DEPARTMENT: "责任单位"}
WINDOW_DAYS = 183                  # a field milestone looks at dates from half a year before its deadline


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


def _block(t: Target, plan: Plan, level: str, units: Units, basis: str, arr: dict[str, np.ndarray]) -> Block:
    status = arr.pop("status")
    emit = arr.pop("emit")
    return Block(t, plan, level, units, basis, status, emit, arr)


# ============================================================================ levels

def levels(t: Target, ind: Indicator | None, root_level: str) -> tuple[str | None, list[str], list[str]]:
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


def judged_at(t: Target, cat: Catalog, root_levels: Iterable[str]) -> set[str]:
    """Every level at which ``t`` is judged under roots of ``root_levels``."""
    ind = cat.indicators.get(t.indicator) if t.indicator else None
    out: set[str] = set()
    for lv in root_levels:
        unit_level, value_levels, share_levels = levels(t, ind, lv)
        out |= set(value_levels) | set(share_levels) | ({unit_level} if unit_level else set())
    return out


def judged_levels(cat: Catalog, target: str, below: str) -> list[str]:
    """The levels under a unit of level ``below`` at which ``target`` is judged unit by unit, top down."""
    _, t = cat.target(target)
    return [lv for lv in LEVELS if LEVEL_RANK[lv] > LEVEL_RANK[below] and lv in judged_at(t, cat, [below])]


def unit_level_of(cat: Catalog, t: Target, root_level: str) -> str:
    """The level of the units ``t`` is judged on one by one under a root of ``root_level`` (every-unit,
    count and milestone targets; the target's own level for the others)."""
    ind = cat.indicators.get(t.indicator) if t.indicator else None
    return levels(t, ind, root_level)[0] or t.level


def needed_levels(cat: Catalog, targets: Iterable[Target], root_levels: Iterable[str]) -> set[str]:
    """The levels whose indicator values (and coverage counts) the judgement of ``targets`` reads."""
    out: set[str] = set()
    for t in targets:
        if t.indicator:
            for rlevel in root_levels:
                _, value_levels, share_levels = levels(t, cat.indicators[t.indicator], rlevel)
                out |= set(value_levels) | set(share_levels)
    return out


def _done_style(t: Target, ind: Indicator | None) -> bool:
    """Whether units are judged done/not-done (counts, and every-unit targets on a yes/no)."""
    if t.eval == "count":
        return True
    if t.eval != "every_unit" or ind is None:
        return False
    num = ind.compiled["numerator"]
    den = ind.compiled.get("denominator")
    return num.type == "bool" and (den is None or den.source.strip() == "1")


# ============================================================================ shares above the unit level

def child_sums(child: Units, parent: Units, *arrays: np.ndarray) -> list[np.ndarray]:
    """Σ of each array [C, P] over the children of each parent unit (by code prefix), float [U, P]."""
    pos = child.parent_positions(parent)
    ok = pos >= 0
    P = arrays[0].shape[1]
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
            out[owners] = np.add.reduceat(np.asarray(a)[first:].astype(float), starts, axis=0)
            return out
    else:
        flat = (pos[ok][:, None] * P + np.arange(P)[None, :]).ravel()

        def total(a: np.ndarray) -> np.ndarray:
            return np.bincount(flat, weights=np.asarray(a)[ok].ravel().astype(float),
                               minlength=n * P).reshape(n, P)
    return [total(a) for a in arrays]


def share_series(child: Units, meeting: np.ndarray, judged: np.ndarray, reported: np.ndarray,
                 parent: Units) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(100 × Σ meeting / Σ judged, Σ meeting, Σ judged) over the children of each parent unit (by
    code prefix); the share is NaN where no child is judged or none reported."""
    m, j, r = child_sums(child, parent, meeting, judged, reported)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where((j > 0) & (r > 0), 100.0 * m / np.where(j > 0, j, 1), np.nan)
    return share, m, j


def _share_target(t: Target) -> Target:
    return t.model_copy(update={"comparator": ">=", "value": 100.0, "tolerance": None})


# ============================================================================ what every block gets

def status_levels(t: Target, root_level: str) -> set[str] | None:
    """The levels where ``t`` gets a status under a root of ``root_level``: None for every level it is
    shown at (no ``judged_at``), the root's level for ``judged_at: scope``, the named level else,
    none for a planning norm (``guideline``)."""
    if t.guideline:
        return set()
    if t.judged_at is None:
        return None
    return {root_level if t.judged_at == "scope" else t.judged_at}


def _settle(scope: Scope, t: Target, block: Block, deadline: np.ndarray, share: np.ndarray | None = None) -> None:
    """What every block gets after its rule: coverage and incomplete (``apply_coverage``; ``share``:
    an every-unit share), not_judged at a level the plan does not name, regressing only where judged,
    the verdict at the deadline and met_late (``deadline_verdicts``; ``deadline``: the cycle's
    deadline per column [P] or per cell [U, P])."""
    a = block.arrays
    status = block.status
    cov, _ = apply_coverage(status, a["reported"], a["expected"], scope.cat.settings.progress.min_coverage, share)
    a["coverage"] = cov
    judged = status_levels(t, scope.root_level)
    if judged is not None and block.level not in judged and (block.basis != "task" or t.guideline):
        status[:] = NOT_JUDGED
    a["regressing"] = np.asarray(a.get("regressing", False), bool) & ~np.isin(status, (INCOMPLETE, NOT_JUDGED))
    a["verdict"] = deadline_verdicts(status, deadline, scope.grid)


# ============================================================================ judging one target

def judge_target(scope: Scope, con: duckdb.DuckDBPyConnection, t: Target) -> list[Block]:
    """Every block (level) of target ``t`` in ``scope``."""
    cat, plan, grid, st = scope.cat, scope.plan, scope.grid, scope.cat.settings.progress
    if t.eval == "milestone":
        if t.lead and not t.milestones:
            return _judge_task(scope, con, t)
        return _judge_milestone_target(scope, con, t)
    ind = cat.indicators[t.indicator]
    bounds = tuple(ind.bounds)
    unit_level, value_levels, share_levels = levels(t, ind, scope.root_level)
    final = cycles(t, grid, plan).deadline
    blocks = []
    for level in value_levels:
        units = scope.units[level]
        V, NA, _, ROWS, _ = scope.matrices(t, level)
        if t.eval == "trend":
            arr = judge_trend(V, units.exists, t, plan, grid, st, bounds, scope.baseline)
        elif t.eval == "band":
            arr = judge_band(V, units.exists, t, plan, grid, st, scope.baseline)
        elif t.comparator == "between":
            arr = judge_count_between(V, units.exists, t, plan, grid, st, bounds, scope.baseline)
        else:
            arr = judge_values(V, units.exists, t, plan, grid, st, bounds,
                               done_style=level == unit_level and _done_style(t, ind), baseline=scope.baseline,
                               light=level in scope.data.light_levels)
        arr["rows"] = ROWS
        arr["reported"], arr["expected"] = scope.coverage(t, level, con)
        # no row where nothing of the target's population is expected (NA; e.g. a township of 居委会 only)
        arr["emit"] = arr["emit"] & ~NA & (arr["expected"] > 0)
        block = _block(t, plan, level, units, "value", arr)
        _settle(scope, t, block, final)
        blocks.append(block)
    if unit_level is not None and share_levels:
        child = scope.units[unit_level]
        V, NA, _, _, _ = scope.matrices(t, unit_level)
        crep, cexp = scope.coverage(t, unit_level, con)
        with np.errstate(invalid="ignore"):
            enough = (cexp > 0) & (crep >= st.min_coverage * cexp - 1e-9)
        # the units that reported (enough of their own units): only they are counted, meeting or not
        reported = child.exists & ~NA & ~np.isnan(V) & enough
        meeting = meets(V, t) & reported
        for level in share_levels:
            parent = scope.units[level]
            share, m, j = share_series(child, meeting, reported, reported, parent)
            arr = judge_values(share, parent.exists, _share_target(t), plan, grid, st, (0.0, 100.0),
                               T=100.0, baseline=scope.baseline)
            arr["meeting"], arr["judged"] = m, j
            arr["reported"], arr["expected"] = scope.coverage(t, level, con)
            arr["emit"] = arr["emit"] & (arr["expected"] > 0)
            block = _block(t, plan, level, parent, "share", arr)
            _settle(scope, t, block, final, share)
            blocks.append(block)
    return blocks


# ---------------------------------------------------------------------------- field milestones

def _judge_milestone_target(scope: Scope, con: duckdb.DuckDBPyConnection, t: Target) -> list[Block]:
    """Field milestones (dates reported on the village, township or county sheet): per unit, and the
    share of units done (among those that reported) above. A milestone ``after`` another date field
    is due per unit: that date + days; no data until that date is reported."""
    plan, grid, st = scope.plan, scope.grid, scope.cat.settings.progress
    unit_level, _, share_levels = levels(t, None, scope.root_level)
    units = scope.units[unit_level]
    sheet = t.level if t.level in ("village", "township", "county") else "township"
    counted = units.counted(t.population if unit_level == "village" else None,
                            t.township_kind if unit_level == "township" else None)
    exists = units.exists & counted[:, None]
    U, P = exists.shape
    pend = grid.end[None, :]
    ordered = sorted(t.milestones, key=lambda m: m.deadline)
    parts, finals = [], []
    for m in ordered:
        done, known = _field_dates(con, scope, units, sheet, m.field, m.deadline)
        nominal = float(m.deadline.toordinal())
        if m.after is not None:
            base, _ = _field_dates(con, scope, units, sheet, m.after.field, m.deadline)
            due = base + m.after.days
            with np.errstate(invalid="ignore"):
                deadline = np.where(base <= pend, due, np.nan)        # known once the date is reported
            known = known & ~np.isnan(deadline)
            finals.append(np.where(np.isnan(due[:, :1]), nominal, due[:, :1]) if P else np.full((U, 1), nominal))
        else:
            deadline = np.full((U, P), nominal)
            finals.append(np.full((U, 1), nominal))
        parts.append(judge_milestone(done, known, exists, deadline, t, plan, grid, st, scope.baseline))
    if len(parts) > 1:
        arr = combine_milestones(parts)
    else:
        arr = dict(parts[0])
        arr["done_all"] = np.isin(arr["status"], (MET, MET_LATE))
    arr["cycle"] = cycles(t, grid, plan).code
    done_all = arr.pop("done_all")
    reported = exists & (arr["status"] != NO_DATA)               # reported its dates recently, or done
    arr["reported"], arr["expected"] = reported, exists
    block = _block(t, plan, unit_level, units, "milestone", arr)
    block.extra["milestones"] = [(m.label or m.field, m.deadline, p) for m, p in zip(ordered, parts)]
    late_any = block.status == MET_LATE
    _settle(scope, t, block, np.max(np.concatenate(finals, axis=1), axis=1)[:, None])
    blocks = [block]
    final = float(max(m.deadline for m in t.milestones).toordinal())
    for level in share_levels:
        parent = scope.units[level]
        done_n, judged_n, late, expected = child_sums(units, parent, done_all & reported, reported,
                                                      late_any & reported, exists)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(judged_n > 0, 100.0 * done_n / np.where(judged_n > 0, judged_n, 1), np.nan)
        arr = judge_milestone_share(share, late, parent.exists, t, plan, grid, st, scope.baseline)
        arr["meeting"], arr["judged"] = done_n, judged_n
        arr["reported"], arr["expected"] = judged_n, expected
        arr["emit"] = arr["emit"] & (expected > 0)
        arr["cycle"] = cycles(t, grid, plan).code
        pblock = _block(t, plan, level, parent, "share", arr)
        _settle(scope, t, pblock, np.full(len(grid), final), share)
        blocks.append(pblock)
    return blocks


def _sheet_dates(con: duckdb.DuckDBPyConnection, scope: Scope, units: Units, sheet: str,
                 fid: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every reported value of date field ``fid`` of ``sheet``: unit position, column (-1: a county
    record) and date ordinal (NaN: blank). The county and township sheets come from the scope
    (``ScopeData.field_values``); the village sheet is read here, from the counted returns."""
    if sheet != "village":
        return scope.data.field_values(con, sheet, fid, units)
    cache = scope.data._matrices
    key = ("_field", sheet, fid, units.level)
    if key not in cache:
        cat = scope.cat
        column = '"' + cat.sheets[sheet].field(fid).id + '"'           # a declared field's id
        sel = selection_sql(scope.data.as_of, cat)
        where = " OR ".join("starts_with(v.village_code, ?)" for _ in scope.data.prefixes) or "TRUE"
        sql = (f"SELECT v.village_code AS code, CAST(substr(s.period, 1, 4) AS INTEGER) * 4 "
               f"+ CAST(substr(s.period, 6, 1) AS INTEGER) - 1 AS pidx, "
               f"datediff('day', DATE '0001-01-01', CAST(v.{column} AS DATE)) + 1 AS d "
               f"FROM village_values v JOIN ({sel.sql}) s ON v.submission_id = s.id WHERE {where}")
        res = con.execute(sql, list(sel.params) + list(scope.data.prefixes)).fetchnumpy()
        codes = np.asarray(res["code"], dtype=object)
        ui = pd.Index(units.ints).get_indexer(code_ints(codes)) if len(codes) else np.zeros(0, np.int64)
        pid = np.asarray(res["pidx"], dtype=np.int64)
        ci = pid - scope.grid.p0
        d = np.ma.filled(np.ma.asarray(res["d"]).astype(float), np.nan)
        cache[key] = (ui, ci, d)
    return cache[key]


def _field_dates(con: duckdb.DuckDBPyConnection, scope: Scope, units: Units, sheet: str, fid: str,
                 deadline: dt.date) -> tuple[np.ndarray, np.ndarray]:
    """Done date (ordinal, NaN: none) per unit and column, and whether the unit reported anything
    recently (since the milestone's window opened, or within the last half year), from the dates
    reported in field ``fid`` of ``sheet``."""
    grid = scope.grid
    U, P = len(units), len(grid)
    w = (deadline - dt.timedelta(days=WINDOW_DAYS)).toordinal()
    done = nans((U, P))
    known = np.zeros((U, P), bool)
    if not U or not P:
        return done, known
    ui, ci, d = _sheet_dates(con, scope, units, sheet, fid)
    if not len(ui):
        return done, known
    best = np.full(U, np.inf)
    with np.errstate(invalid="ignore"):
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


# ---------------------------------------------------------------------------- tasks (督办任务)

def _add_offset(ordinal: float, after: Any) -> float:
    """A done date (ordinal) plus an item's offset (``after``: years, months or days); NaN stays NaN."""
    if not np.isfinite(ordinal):
        return np.nan
    day = dt.date.fromordinal(int(ordinal))
    if after.days is not None:
        return float((day + dt.timedelta(days=after.days)).toordinal())
    months = (after.years or 0) * 12 + (after.months or 0)
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    last = (dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return float(dt.date(year, month, min(day.day, last)).toordinal())


def _record_done(rec: dict[str, Any]) -> float:
    """The done date of a task record (ordinal), NaN unless it says 已完成 with a date."""
    dd = rec.get("done_date")
    if rec.get("status") == "已完成" and isinstance(dd, (dt.date, pd.Timestamp)) and not pd.isna(dd):
        return float((dd.date() if isinstance(dd, pd.Timestamp) else dd).toordinal())
    return np.nan


def _text(v: Any) -> str | None:
    """A text cell of a task record (blank, NaN and None read as None)."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    s = str(v).strip()
    return s or None


def _judge_task(scope: Scope, con: duckdb.DuckDBPyConnection, t: Target) -> list[Block]:
    """A task of a task list: per responsible unit (department) and overall (the scope's root).

    Each record (task sheet row) is the latest one of its unit, item and cycle. A recurrent task's
    columns take the record of their cycle (``cycle`` 2019 / 2021Q2; a record without one counts for
    the cycle containing its done date). Items are judged on their own deadlines (``after``: the other
    item's done date + the offset) and combined by ``combine_items``; with recurrence every item is
    due at the cycle's deadline. Overall: the worst status of the lead units (done when every lead
    unit is done); coverage = lead units that reported ÷ lead units.
    """
    plan, grid, st = scope.plan, scope.grid, scope.cat.settings.progress
    records = scope.data.tasks(con, plan.code)
    records = records[records["task_id"] == t.id]
    depts = list(dict.fromkeys(t.lead + t.partners))
    U, P = len(depts), len(grid)
    cyc = cycles(t, grid, plan)
    labels = np.array([cycle_label(t.recurrence, int(c)) for c in cyc.code], dtype=object)
    item_ids = [i.id for i in t.items] or [None]
    done = {i: nans((U, P)) for i in item_ids}
    known = np.zeros((U, P), bool)
    latest: dict[str, dict[str, Any]] = {}
    where = {d: k for k, d in enumerate(depts)}
    for rec in records.to_dict("records"):
        k = where.get(rec["unit"])
        if k is None:
            continue
        known[k, :] = True
        item = _text(rec.get("item")) if t.items else None
        if item not in done:
            continue
        prev = latest.get(rec["unit"])
        if prev is None or rec.get("recorded_at") >= prev.get("recorded_at"):
            latest[rec["unit"]] = rec
        day = _record_done(rec)
        if not t.recurrence:
            done[item][k, :] = day
            continue
        cycle = _text(rec.get("cycle"))
        if cycle is None and np.isfinite(day):
            cols = np.nonzero(grid.start <= day)[0]
            cycle = labels[cols[-1]] if len(cols) else labels[0] if P else None
        if cycle is not None:
            done[item][k, labels == cycle] = day
    exists = np.ones((U, P), bool)
    parts, finals = [], []
    for spec in (t.items or [None]):
        key = spec.id if spec is not None else None
        if spec is None or t.recurrence:
            deadline = np.broadcast_to(cyc.deadline[None, :], (U, P))
            final = deadline
        elif spec.deadline is not None:
            deadline = np.full((U, P), float(spec.deadline.toordinal()))
            final = deadline
        else:                                       # due after another item is done
            base = done[spec.after.item][:, -1] if P else np.full(U, np.nan)
            due = np.array([_add_offset(b, spec.after) for b in base])[:, None]
            with np.errstate(invalid="ignore"):
                deadline = np.where(done[spec.after.item] <= grid.end[None, :], due, np.nan)
            final = np.broadcast_to(due, (U, P))
        parts.append(judge_milestone(done[key], known, exists, deadline, t, plan, grid, st, scope.baseline))
        finals.append(np.asarray(final, float))
    if t.items:
        arr = combine_items(parts)
        final = np.max(finals, axis=0)                 # unknown (NaN) until every item's deadline is
    else:
        arr = dict(parts[0])
        arr["done_all"] = np.isin(arr["status"], (MET, MET_LATE))
        final = finals[0]
    arr["cycle"] = cyc.code
    done_all = arr.pop("done_all")
    dunits = Units(DEPARTMENT, np.array(depts, dtype=object),
                   np.array([f"{d}({'牵头' if d in t.lead else '参与'})" for d in depts], dtype=object), exists)
    arr["reported"], arr["expected"] = known, np.ones((U, P), bool)
    dblock = _block(t, plan, DEPARTMENT, dunits, "task", arr)
    dblock.extra["records"] = latest
    lead_status = dblock.status.copy()                 # before met_late from the verdicts
    _settle(scope, t, dblock, final)
    # overall, at the root: the worst of the lead units
    root_units = scope.units[scope.root_level]
    ri = root_units.index.get_indexer(scope.roots)
    ri = ri[ri >= 0]
    leads = [where[d] for d in t.lead]
    if not len(ri) or not leads:
        return [dblock]
    R = len(ri)
    runits = Units(scope.root_level, root_units.codes[ri], root_units.names[ri], root_units.exists[ri])
    a = dblock.arrays
    status = combine_worst([lead_status[k] for k in leads])
    n_done = done_all[leads].sum(axis=0).astype(float)
    any_known = known[leads].any(axis=0)
    pi = n_done / len(leads)
    with np.errstate(invalid="ignore"):
        rarr = {
            "status": np.repeat(status[None, :], R, axis=0),
            "emit": runits.exists & (np.arange(P)[None, :] >= grid.first_col(start_day(t, plan, scope.baseline))),
            "value": np.repeat(np.where(any_known, pi * 100, np.nan)[None, :], R, axis=0),
            "pi": np.repeat(pi[None, :], R, axis=0),
            "tau": np.repeat(np.fmin.reduce(np.asarray(a["tau"], float)[leads], axis=0)[None, :], R, axis=0),
            "deadline": np.repeat(np.fmax.reduce(np.asarray(a["deadline"], float)[leads], axis=0)[None, :], R, axis=0),
            "target_value": np.full((R, P), 100.0),
            "overdue": np.repeat(np.asarray(a["overdue"])[leads].any(axis=0)[None, :], R, axis=0),
            "meeting": np.repeat(n_done[None, :], R, axis=0),
            "judged": np.full((R, P), float(len(leads))),
            "reported": np.repeat(known[leads].sum(axis=0)[None, :], R, axis=0),
            "expected": np.full((R, P), len(leads)),
            "cycle": cyc.code,
            "regressing": np.zeros((R, P), bool),
        }
    rblock = _block(t, plan, scope.root_level, runits, "task", rarr)
    _settle(scope, t, rblock, np.max(np.asarray(final, float)[leads], axis=0))
    return [rblock, dblock]
