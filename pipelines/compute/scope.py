"""What a judgement runs on: the units of a scope per level with their existence per quarter, the
indicator values as [units × quarters] matrices, and the plans' scope roots.

A plan applies to its own unit and to the units of ``settings.applies`` (``plan_roots``); with a
``unit`` asked for, only the part of each root's subtree under it is judged (``root_groups``).
``ScopeData`` holds the units and indicator sums of one or more subtrees, shared by every plan
judged on them; ``Scope`` is one plan on some roots of one level.

Population (issue 9 §1)
    A target counts the village-level units of its ``population`` (村 → 村委会, 社区 → 居委会,
    村(社区) → both; 其他 belongs to none) and, on the township sheet, the townships of its
    ``township_kind`` (乡镇 → 镇 and 乡; 乡镇(街道) → every township). ``matrices(t, level)`` with a
    target gives the values over that population (the indicator engine computes one column per
    indicator and population, see pipelines.compute.indicators); units outside it are marked
    not applicable (NA), so that they get no row and do not enter shares.

Coverage
    ``coverage(t, level)`` → (reported, expected), integer arrays [U, P] aligned with
    ``units[level]``: for every unit and quarter, how many of the units a value of ``t`` needs
    reported and how many were expected (see ``ScopeData.coverage``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import duckdb
import numpy as np
import pandas as pd

from pipelines.catalog.definitions import Catalog, Plan, Target
from pipelines.compute.indicators import SheetValues, UnitValues, selection_sql, variant_key
from pipelines.compute.records import task_records
from pipelines.compute.rules import Grid, nans
from pipelines.errors import RuralTargetsError
from pipelines.periods import cutoff
from pipelines.units import LEVEL_RANK, LEVELS, POPULATION_TYPES, PREFIX_LEN, TOWNSHIP_KIND_TYPES

# small-integer kinds of units (Units.kind): village level by committee type, township level by type
VILLAGE_KINDS = {"其他": 0, "村委会": 1, "居委会": 2}
TOWNSHIP_KINDS = {"其他": 0, "街道": 1, "镇": 2, "乡": 3}


@dataclass
class Units:
    """The units of one level in a scope, with their existence per quarter."""

    level: str
    codes: np.ndarray
    names: np.ndarray
    exists: np.ndarray          # bool [U, P]
    kind: np.ndarray | None = None   # int8 [U]: VILLAGE_KINDS / TOWNSHIP_KINDS (None: from the code)

    def __post_init__(self) -> None:
        self.index = pd.Index(self.codes)
        self.ints = code_ints(self.codes)
        self._parents: dict[int, np.ndarray] = {}
        if self.kind is None and self.level in ("village", "township"):
            self.kind = kinds_from_codes(self.ints, self.level)

    def counted(self, population: str | None = None, township_kind: str | None = None) -> np.ndarray:
        """bool [U]: the units a target of ``population`` (village level) or ``township_kind``
        (township level) counts; every unit at other levels, or when both are None."""
        out = np.ones(len(self.codes), bool)
        if self.level == "village" and population is not None:
            out = np.isin(self.kind, [VILLAGE_KINDS[k] for k in POPULATION_TYPES[population]])
        elif self.level == "township" and township_kind is not None:
            kinds = TOWNSHIP_KIND_TYPES[township_kind]
            if kinds is not None:
                out = np.isin(self.kind, [TOWNSHIP_KINDS[k] for k in kinds])
        return out

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


def kinds_from_codes(ints: np.ndarray, level: str) -> np.ndarray:
    """int8 kinds of units from their codes (pipelines.units): village level 村委会 (suffix 200–399),
    居委会 (001–199), else 其他; township level 街道 (digits 7–9 in 001–099), 镇 (100–199), 乡 (200–399)."""
    if level == "village":
        n = ints % 1000
        return np.select([(n >= 1) & (n <= 199), (n >= 200) & (n <= 399)],
                         [VILLAGE_KINDS["居委会"], VILLAGE_KINDS["村委会"]], 0).astype(np.int8)
    n = (ints // 1000) % 1000
    return np.select([(n >= 1) & (n <= 99), (n >= 100) & (n <= 199), (n >= 200) & (n <= 399)],
                     [TOWNSHIP_KINDS["街道"], TOWNSHIP_KINDS["镇"], TOWNSHIP_KINDS["乡"]], 0).astype(np.int8)


def units_by_level(con: duckdb.DuckDBPyConnection, prefixes: Sequence[str], grid: Grid) -> dict[str, Units]:
    """The registry's units under ``prefixes``, per level, with whether each exists in each quarter
    (on any day of it: ``valid_from`` / ``valid_to``)."""
    where = " OR ".join("starts_with(code, ?)" for _ in prefixes) or "TRUE"
    vf = "coalesce(CAST(datediff('day', DATE '0001-01-01', valid_from) + 1 AS DOUBLE), '-inf'::DOUBLE)"
    vt = "coalesce(CAST(datediff('day', DATE '0001-01-01', valid_to) + 1 AS DOUBLE), 'inf'::DOUBLE)"
    has_type = bool(con.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = 'units' "
                                "AND column_name = 'committee_type'").fetchall()[0][0])
    ctype = "committee_type" if has_type else "NULL::VARCHAR"     # a database not migrated yet: from the code
    frame = con.execute(f"SELECT code, name, level, {vf} AS vf, {vt} AS vt, {ctype} AS ctype FROM units "
                        f"WHERE {where} ORDER BY code", list(prefixes)).df()
    out = {}
    for level in LEVELS:
        sub = frame[frame["level"] == level]
        vf = sub["vf"].to_numpy(dtype=float)
        vt = sub["vt"].to_numpy(dtype=float)
        exists = (vf[:, None] <= grid.end[None, :]) & (vt[:, None] >= grid.start[None, :])
        codes = sub["code"].to_numpy(dtype=object)
        kind = None
        if level == "village":            # the registry's committee type where given, else the code's
            kind = kinds_from_codes(code_ints(codes), level)
            given = sub["ctype"].map(VILLAGE_KINDS).to_numpy(dtype=float, na_value=np.nan)
            kind = np.where(np.isnan(given), kind, np.nan_to_num(given)).astype(np.int8)
        out[level] = Units(level, codes, sub["name"].to_numpy(dtype=object), exists, kind)
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

    def matrices(self, what: Target | str, level: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                                                 np.ndarray]:
        """value, not-applicable, reported, contributing rows, expected of an indicator at ``level``
        as [U, P] arrays aligned with ``self.units[level]``.

        ``what`` is a target — its indicator over the target's population (村 / 社区 / 村(社区)) and
        township kind, the way it is judged — or an indicator id (every row of the source sheet).
        value: Σn / Σd × factor (``plus`` sums included); not-applicable: no unit of the population is
        expected (a township of 居委会 only, for a 村 target; a village of another committee type; a
        unit where ``among`` is false); reported / expected: the coverage counts (``coverage``);
        contributing rows: the source rows in the sums.
        """
        indicator, population, township_kind = self._what(what)
        only_towns = (level == "township" and not isinstance(what, str)
                      and getattr(what, "township_kind", None) == "乡镇")
        key = (indicator, population, township_kind, only_towns, level)
        if key not in self._matrices:
            units = self.units[level]
            U, P = len(units), len(self.grid)
            V, NA = nans((U, P)), np.zeros((U, P), bool)
            REP, ROWS, EXP = np.zeros((U, P)), np.zeros((U, P)), np.zeros((U, P))
            sv = self._source(indicator, level)
            place = self._placement(sv, level) if sv is not None else None
            if isinstance(sv, UnitValues):
                self._own_matrices(sv, indicator, units, population, township_kind, place, V, NA, REP, ROWS, EXP)
            elif place is not None:
                rows, ui, ci = place
                flat = ui * P + ci
                k = sv.column(self.cat, indicator, population, township_kind)
                V.ravel()[flat] = sv.values_of(k)[rows]
                ROWS.ravel()[flat] = np.nan_to_num(sv.array(f"r{k}")[rows])
                cov = sv.coverage_columns(self.cat, k)
                if cov is not None:
                    rep = np.nan_to_num(sv.array(cov[0])[rows])
                    exp = np.nan_to_num(sv.array(cov[1])[rows])
                    NA.ravel()[flat] = exp <= 0
                else:                                   # sums stored before populations: every row
                    rep = sv.array("reported")[rows]
                    exc = sv.array(f"x{k}")[rows]
                    NA.ravel()[flat] = (rep > 0) & (exc >= rep)         # NaN compares False
                    exp = sv.array("expected")[rows]
                    rep = ROWS.ravel()[flat]
                REP.ravel()[flat] = rep
                EXP.ravel()[flat] = exp
                if level == sv.sheet:                   # a source unit itself: outside the population, NA
                    out = ~units.counted(population, township_kind)
                    NA[out] = True
                    REP[out] = 0
                    EXP[out] = 0
                elif (population, township_kind) != (None, None) and \
                        not sv.has_column(self.cat, indicator, population, township_kind):
                    # no sums over this population (the target is judged unit by unit): the coverage
                    # counts are those of its source units, summed; the value stays the plain one
                    crep, cexp = self._source_counts(what, level)
                    REP[:], EXP[:] = crep, cexp
                    NA[:] = cexp <= 0
            if only_towns:      # a township-level target of 乡镇 only (e.g. "每个乡镇…"): 街道 are not among its units
                out = ~units.counted(None, "乡镇")
                NA[out] = True
                REP[out] = 0
                EXP[out] = 0
            self._matrices[key] = (V, NA, REP, ROWS, EXP)
        return self._matrices[key]

    def _source_counts(self, t: Target, level: str) -> tuple[np.ndarray, np.ndarray]:
        """(reported, expected) of ``t`` at ``level`` summed from its source units (int64 [U, P])."""
        source = self.cat.indicators[t.indicator].source
        _, _, rep, _, exp = self.matrices(t, source)
        child, parent = self.units[source], self.units[level]
        ok = child.exists
        return self._sum_children(child, parent, rep * ok), self._sum_children(child, parent, exp * ok)

    def _what(self, what: Target | str) -> tuple[str, str | None, str | None]:
        """(indicator, population, township kind) of a target (the ones its source sheet uses), or of
        an indicator id (None, None: every row)."""
        if isinstance(what, str):
            return what, None, None
        ind = self.cat.indicators[what.indicator]
        population, township_kind = variant_key(what, ind)
        return ind.id, population, township_kind

    def _own_matrices(self, sv: "UnitValues", indicator: str, units: Units, population: str | None,
                      township_kind: str | None, place: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
                      V: np.ndarray, NA: np.ndarray, REP: np.ndarray, ROWS: np.ndarray, EXP: np.ndarray) -> None:
        """The source units' own values (village values): a unit outside the population, or whose latest
        known ``among`` is false, is not applicable; every other existing unit is expected."""
        U, P = V.shape
        k = sv.index(indicator)
        X = nans((U, P))
        if place is not None:
            rows, ui, ci = place
            flat = ui * P + ci
            V.ravel()[flat] = sv.values_of(k)[rows]
            if f"x{k}" in sv.columns:
                X.ravel()[flat] = sv.array(f"x{k}")[rows]
        latest = pd.DataFrame(X).ffill(axis=1).to_numpy() if np.isfinite(X).any() else X
        NA |= (latest == 1) | ~units.counted(population, township_kind)[:, None]
        EXP[:] = units.exists & ~NA
        ROWS[:] = (EXP > 0) & ~np.isnan(V)
        REP[:] = ROWS

    def coverage(self, t: Target, level: str, con: duckdb.DuckDBPyConnection | None = None,
                 unit_level: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(reported, expected) of target ``t`` at ``level``: int64 arrays [U, P] aligned with
        ``self.units[level]`` and the quarters of ``self.grid``; coverage = reported / expected.

        expected: the units the value of ``t`` for that unit and quarter needs — the source units of
        the target's population (村 → 村委会, 社区 → 居委会, 村(社区) → both; township rows of its
        ``township_kind``) under the unit that exist in the quarter (registry valid_from/valid_to);
        for an ``among`` indicator only those whose latest known ``among`` value is true or unknown;
        with ``plus``, also the townships (and counties) whose sheets add to the numerator.
        reported: those of them with a stored row for the quarter (late returns included) whose
        fields used are not blank. A source unit itself: 1/1 reported, 0/1 silent, 0/0 outside the
        population (not applicable).

        Every-unit shares (``level`` above ``unit_level``, the level ``t`` is judged unit by unit,
        when that is above the source sheet — e.g. counts per county of villages): the child units
        of ``unit_level`` that have any expected unit are expected, and those whose own coverage
        reaches ``settings.progress.min_coverage`` reported. (Without ``unit_level`` — or when it is
        the source level — the counts are the source units under the unit, which for every-unit
        shares of villages or townships are the child units themselves.)

        Field milestones (dates on the township or county sheet): the townships (of the target's
        ``township_kind``) or counties under the unit, reported when they have a row for the quarter
        (a county record for the quarter's year); needs ``con``. Task milestones (督办任务, judged per
        responsible department) have no units: both arrays are zero.
        """
        units = self.units[level]
        U, P = len(units), len(self.grid)
        zero = np.zeros((U, P), np.int64)
        if t.eval == "milestone":
            if t.lead and not t.milestones:
                return zero, zero.copy()
            return self._field_coverage(t, level, con)
        ind = self.cat.indicators[t.indicator]
        if (unit_level is not None and unit_level != ind.source and level != unit_level
                and LEVEL_RANK[level] < LEVEL_RANK[unit_level]):
            _, _, crep, _, cexp = self.matrices(t, unit_level)
            child = self.units[unit_level]
            ok = child.exists & (cexp > 0)
            done = ok & (crep > 0) & (crep >= self.cat.settings.progress.min_coverage * cexp - 1e-9)
            return self._sum_children(child, units, done), self._sum_children(child, units, ok)
        if unit_level == ind.source and level != unit_level:
            return self._source_counts(t, level)     # every-unit shares: the source units of the population
        _, _, REP, _, EXP = self.matrices(t, level)
        return REP.astype(np.int64), EXP.astype(np.int64)

    def _sum_children(self, child: Units, parent: Units, a: np.ndarray) -> np.ndarray:
        """Σ of ``a`` [C, P] over the children of each parent unit (by code prefix), int64 [U, P]."""
        U, P = len(parent), a.shape[1]
        pos = child.parent_positions(parent) if len(parent) else np.full(len(child), -1)
        ok = pos >= 0
        if not ok.any():
            return np.zeros((U, P), np.int64)
        flat = (pos[ok][:, None] * P + np.arange(P)[None, :]).ravel()
        out = np.bincount(flat, weights=a[ok].ravel().astype(float), minlength=U * P).reshape(U, P)
        return out.astype(np.int64)

    def _field_coverage(self, t: Target, level: str, con: duckdb.DuckDBPyConnection | None
                        ) -> tuple[np.ndarray, np.ndarray]:
        """Coverage of a field milestone: townships / counties reporting their sheet (see ``coverage``)."""
        sheet = "county" if t.level == "county" else "township"
        units = self.units[level]
        if LEVEL_RANK[level] > LEVEL_RANK[sheet]:
            raise ValueError(f"no coverage of {t.id} at level {level}: it is reported per {sheet}")
        key = ("_sheet_rows", sheet, t.township_kind if sheet == "township" else None)
        if key not in self._matrices:
            if con is None:
                raise ValueError("coverage of a field milestone needs the connection (con)")
            child = self.units[sheet]
            fid = t.milestones[0].field
            ui, ci, _ = self.field_values(con, sheet, fid, child)
            C, P = len(child), len(self.grid)
            rep = np.zeros((C, P), bool)
            if sheet == "county":
                for u, year in zip(*self._county_years(con, child)):
                    rep[u, self.grid.year == year] = True
            else:
                ok = (ui >= 0) & (ci >= 0) & (ci < P)
                rep[ui[ok], ci[ok]] = True
            exp = child.exists & child.counted(None, t.township_kind if sheet == "township" else None)[:, None]
            self._matrices[key] = (rep & exp, exp)
        rep, exp = self._matrices[key]
        child = self.units[sheet]
        if level == sheet:
            return rep.astype(np.int64), exp.astype(np.int64)
        return self._sum_children(child, units, rep), self._sum_children(child, units, exp)

    def _county_years(self, con: duckdb.DuckDBPyConnection, counties: Units) -> tuple[np.ndarray, np.ndarray]:
        """(county position, year) of every year a county has a record for (as of the cutoff)."""
        where = " OR ".join("starts_with(county_code, ?)" for _ in self.prefixes) or "TRUE"
        cond, params = "TRUE", []
        if self.as_of is not None:
            cond, params = "recorded_at <= ?", [cutoff(self.as_of, self.cat.settings.reporting.due_day)]
        res = con.execute(f"SELECT DISTINCT county_code, year FROM county_values WHERE {cond} AND ({where})",
                          params + list(self.prefixes)).fetchall()
        if not res:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        codes = np.array([r[0] for r in res], dtype=object)
        pos = pd.Index(counties.ints).get_indexer(code_ints(codes))
        years = np.array([r[1] for r in res], dtype=np.int64)
        return pos[pos >= 0], years[pos >= 0]


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

    def matrices(self, what: Target | str, level: str):
        """``ScopeData.matrices`` of the scope's data: pass the target ``t`` (not ``t.indicator``) for
        the values over its population."""
        return self.data.matrices(what, level)

    def unit_level(self, t: Target) -> str | None:
        """The level ``t`` is judged at unit by unit in this scope (every_unit, count, milestone:
        its level, within the root and the indicator's source), None for the others."""
        if t.eval not in ("every_unit", "count", "milestone"):
            return None
        tl = t.level if LEVEL_RANK[t.level] >= LEVEL_RANK[self.root_level] else self.root_level
        ind = self.cat.indicators.get(t.indicator) if t.indicator else None
        if ind is not None and LEVEL_RANK[tl] > LEVEL_RANK[ind.source]:
            tl = ind.source
        return tl

    def coverage(self, t: Target, level: str, con: duckdb.DuckDBPyConnection | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
        """(reported, expected) int64 arrays [U, P] of target ``t`` at ``level`` (aligned with
        ``self.units[level]``): ``ScopeData.coverage`` with the scope's unit level of ``t``, so that
        every-unit shares above it count child units. coverage = reported / expected; below
        ``settings.progress.min_coverage`` a value is incomplete (数据不全). ``con`` is needed for
        field milestones only."""
        return self.data.coverage(t, level, con, self.unit_level(t))

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
