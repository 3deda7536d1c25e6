"""What a judgement runs on: the units of a scope per level with their existence per quarter, the
indicator values as [units × quarters] matrices, and the plans' scope roots.

A plan applies to its own unit and to the units of ``settings.applies`` (``plan_roots``); with a
``unit`` asked for, only the part of each root's subtree under it is judged (``root_groups``).
``ScopeData`` holds the units and indicator sums of one or more subtrees, shared by every plan
judged on them; ``Scope`` is one plan on some roots of one level.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import duckdb
import numpy as np
import pandas as pd

from pipelines.catalog.definitions import Catalog, Plan, Target
from pipelines.compute.indicators import SheetValues, selection_sql
from pipelines.compute.records import task_records
from pipelines.compute.rules import Grid, nans
from pipelines.errors import RuralTargetsError
from pipelines.periods import cutoff
from pipelines.units import LEVEL_RANK, LEVELS, PREFIX_LEN


@dataclass
class Units:
    """The units of one level in a scope, with their existence per quarter."""

    level: str
    codes: np.ndarray
    names: np.ndarray
    exists: np.ndarray          # bool [U, P]

    def __post_init__(self) -> None:
        self.index = pd.Index(self.codes)
        self.ints = code_ints(self.codes)
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


def code_ints(codes: np.ndarray) -> np.ndarray:
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


def units_by_level(con: duckdb.DuckDBPyConnection, prefixes: Sequence[str], grid: Grid) -> dict[str, Units]:
    """The registry's units under ``prefixes``, per level, with whether each exists in each quarter
    (on any day of it: ``valid_from`` / ``valid_to``)."""
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
            column = '"' + self.cat.sheets[sheet].field(fid).id + '"'      # a declared field's id

            def day(col: str) -> str:            # the date as a proleptic ordinal (date.toordinal())
                return f"datediff('day', DATE '0001-01-01', CAST({col} AS DATE)) + 1"
            if sheet == "county":
                if self.as_of is None:
                    cond, params = "TRUE", []
                else:
                    cond, params = "recorded_at <= ?", [cutoff(self.as_of, self.cat.settings.reporting.due_day)]
                sql = (f"SELECT code, -1 AS pidx, d FROM (SELECT county_code AS code, {day(column)} AS d, "
                       f"row_number() OVER (PARTITION BY county_code, year ORDER BY recorded_at DESC) AS rn "
                       f"FROM county_values WHERE {cond}) WHERE rn = 1 AND ({where})")
            else:
                sel = selection_sql(self.as_of, self.cat)
                params = list(sel.params)
                sql = (f"SELECT code, pidx, d FROM (SELECT s.township_code AS code, "
                       f"CAST(substr(s.period, 1, 4) AS INTEGER) * 4 + CAST(substr(s.period, 6, 1) AS INTEGER) - 1 "
                       f"AS pidx, {day('v.' + column)} AS d "
                       f"FROM township_values v JOIN ({sel.sql}) s ON v.submission_id = s.id) WHERE {where}")
            res = con.execute(sql, params + list(self.prefixes)).fetchnumpy()
            codes = np.asarray(res["code"], dtype=object)
            ui = pd.Index(units.ints).get_indexer(code_ints(codes)) if len(codes) else np.zeros(0, np.int64)
            pid = np.asarray(res["pidx"], dtype=np.int64)
            ci = np.where(pid >= 0, pid - self.grid.p0, -1)
            d = np.ma.filled(np.ma.asarray(res["d"]).astype(float), np.nan)
            self._matrices[key] = (ui, ci, d)
        return self._matrices[key]

    def tasks(self, con: duckdb.DuckDBPyConnection, plan: str) -> pd.DataFrame:
        """The latest update of every task of ``plan`` and responsible unit (cached)."""
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
                            else code_ints(sv.array("unit_code")[rows]))
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
            V, NA = nans((U, P)), np.zeros((U, P), bool)
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
        """The catalog judged with."""
        return self.data.cat

    @property
    def grid(self) -> Grid:
        """The quarters judged."""
        return self.data.grid

    @property
    def units(self) -> dict[str, Units]:
        """The units of the data's subtrees, per level."""
        return self.data.units

    def matrices(self, indicator: str, level: str):
        """``ScopeData.matrices`` of the scope's data."""
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


def unit_level(con: duckdb.DuckDBPyConnection, code: str) -> str:
    """The level of a unit of the registry (REG009 when there is none)."""
    rows = con.execute("SELECT level FROM units WHERE code = ?", [code]).fetchall()
    if not rows:
        raise RuralTargetsError("REG009", code=code)
    return rows[0][0]


def root_groups(con: duckdb.DuckDBPyConnection, cat: Catalog, plan: Plan,
                unit: str | None) -> list[tuple[str, list[str], list[str]]]:
    """(root level, roots, prefixes judged) of a plan, roots grouped by level; with ``unit``, only
    the part of each root's subtree under the unit."""
    groups: dict[str, tuple[list[str], list[str]]] = {}
    uprefix = unit[:PREFIX_LEN[unit_level(con, unit)]] if unit else None
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


def target_pairs(cat: Catalog, plan: str | None, target: str | None) -> list[tuple[Plan, Target]]:
    """The (plan, target) pairs asked for: one target, a plan's targets, or every target
    (PRG001 unknown target, PRG002 a target of another plan)."""
    if target is not None:
        try:
            p, t = cat.target(target)
        except RuralTargetsError:
            raise RuralTargetsError("PRG001", target=target) from None
        if plan is not None and p.code != plan:
            raise RuralTargetsError("PRG002", target=target, plan=plan)
        return [(p, t)]
    return cat.targets(plan)
