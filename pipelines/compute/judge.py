"""Judging one target in one scope: at which levels, on which values, by which rule (pipelines.compute.rules).

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
    milestone   each unit of the target's level; above it the share of units done. Field milestones
                take the earliest date reported for the unit no more than half a year before the
                deadline (earlier dates belong to an earlier cycle of a yearly report); no_data when
                the unit reported nothing since then. Task milestones (sichuan-2021, 督办任务) are
                judged per responsible unit (department) from its latest update as of the cutoff, and
                overall per scope unit: done when every lead unit is done.
    A yearly count from the county sheet uses, for every quarter of a year, the year's latest
    record (as of the cutoff when asked as of a quarter).

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
from pipelines.compute.rules import (MET, MET_LATE, NO_DATA, combine_milestones, judge_band, judge_count_between,
                                     judge_milestone, judge_milestone_share, judge_trend, judge_values, meets, nans)
from pipelines.compute.scope import Scope, Units
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
    """The levels whose indicator values the judgement of ``targets`` reads."""
    out: set[str] = set()
    for t in targets:
        if t.indicator:
            for rlevel in root_levels:
                out |= set(levels(t, cat.indicators[t.indicator], rlevel)[1])
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

def share_series(child: Units, meeting: np.ndarray, judged: np.ndarray, reported: np.ndarray,
                 parent: Units) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(100 × Σ meeting / Σ judged, Σ meeting, Σ judged) over the children of each parent unit (by
    code prefix); the share is NaN where no child is judged or none reported."""
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


def _share_target(t: Target) -> Target:
    return t.model_copy(update={"comparator": ">=", "value": 100.0, "tolerance": None})


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
    blocks = []
    for level in value_levels:
        units = scope.units[level]
        V, NA, REP, ROWS, EXP = scope.matrices(t.indicator, level)
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
        arr["emit"] = arr["emit"] & ~NA
        arr["rows"], arr["expected"] = ROWS, EXP
        blocks.append(_block(t, plan, level, units, "value", arr))
    if unit_level is not None and share_levels:
        child = scope.units[unit_level]
        V, NA, REP, ROWS, EXP = scope.matrices(t.indicator, unit_level)
        judged = child.exists & ~NA
        meeting = meets(V, t) & judged
        reported = judged & ~np.isnan(V)
        for level in share_levels:
            parent = scope.units[level]
            share, m, j = share_series(child, meeting, judged, reported, parent)
            arr = judge_values(share, parent.exists, _share_target(t), plan, grid, st, (0.0, 100.0),
                               T=100.0, baseline=scope.baseline)
            arr["meeting"], arr["judged"] = m, j
            blocks.append(_block(t, plan, level, parent, "share", arr))
    return blocks


def _judge_milestone_target(scope: Scope, con: duckdb.DuckDBPyConnection, t: Target) -> list[Block]:
    """Field milestones (dates reported on the county or township sheet): per unit, and the share
    of units done above."""
    plan, grid, st = scope.plan, scope.grid, scope.cat.settings.progress
    unit_level, _, share_levels = levels(t, None, scope.root_level)
    units = scope.units[unit_level]
    ordered = sorted(t.milestones, key=lambda m: m.deadline)
    sheet = "county" if t.level == "county" else "township"
    parts = []
    for m in ordered:
        done, known = _field_dates(con, scope, units, sheet, m.field, m.deadline)
        parts.append(judge_milestone(done, known, units.exists, m.deadline, t, plan, grid, st, scope.baseline))
    if len(parts) > 1:
        arr = combine_milestones(parts)
    else:
        arr = dict(parts[0])
        arr["done_all"] = np.isin(arr["status"], (MET, MET_LATE))
    block = _block(t, plan, unit_level, units, "milestone", arr)
    block.extra["milestones"] = [(m.label or m.field, m.deadline, p) for m, p in zip(ordered, parts)]
    blocks = [block]
    done_all = block.arrays.pop("done_all")
    late_any = block.status == MET_LATE
    known = (block.status != NO_DATA) & units.exists
    for level in share_levels:
        parent = scope.units[level]
        share, done_n, judged_n = share_series(units, done_all & units.exists, units.exists, known, parent)
        _, late, _ = share_series(units, late_any & units.exists, units.exists, known, parent)
        arr = judge_milestone_share(share, late, parent.exists, t, plan, grid, st, scope.baseline)
        arr["meeting"], arr["judged"] = done_n, judged_n
        blocks.append(_block(t, plan, level, parent, "share", arr))
    return blocks


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
    plan, grid, st = scope.plan, scope.grid, scope.cat.settings.progress
    records = scope.data.tasks(con, plan.code)
    records = records[records["task_id"] == t.id]
    depts = list(dict.fromkeys(t.lead + t.partners))
    U, P = len(depts), len(grid)
    done = np.full(U, np.nan)
    known = np.zeros((U, P), bool)
    latest: dict[str, dict[str, Any]] = {rec["unit"]: rec for rec in records.to_dict("records")}
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
