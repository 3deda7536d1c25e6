"""The pandas baseline of ``bench progress``: the product's computation written as a competent pandas
user would write it from the method (pipelines/compute/rules.py's docstring, ../shared/progress-method.md),
without the product's code (nothing of pipelines.compute is imported).

This module reads the data and computes the indicator values: the returns that count, the units
existing in each quarter and their kinds (committee type from the registry, township type from the
code), each indicator's expressions evaluated with pandas, sums by code prefix with groupby for
every level and every population a target counts (村 / 社区 / 村(社区), 乡镇 / 乡镇(街道)), ``plus``
sheets added to numerators, flows summed over the year, and the coverage counts (units expected and
reported). pipelines.bench.progress_baseline_judge judges every target on them; ``pandas_baseline``
drives both and stores the rows like the product's (``baseline_progress``).
"""
from __future__ import annotations

import ast
import datetime as dt
import operator
import time
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from pipelines.bench.country import bench_catalog, peak_rss_mb
from pipelines.bench.progress_baseline_judge import (
    STATUS_NAMES,
    judge_target,
    judge_task,
    share_sums,
)
from pipelines.catalog.definitions import Catalog
from pipelines.periods import period_bounds, quarters
from pipelines.units import (
    LEVEL_RANK,
    LEVELS,
    OTHER_KIND,
    POPULATION_TYPES,
    PREFIX_LEN,
    RESIDENT_COMMITTEE,
    TOWNSHIP_KIND_TYPES,
    VILLAGE_COMMITTEE,
)

_EPOCH_DAY = dt.date(1970, 1, 1).toordinal()
# the kinds of units as small integers: committee types of village-level units, types of townships
VILLAGE_KIND = {VILLAGE_COMMITTEE: 1, RESIDENT_COMMITTEE: 2, OTHER_KIND: 0}
TOWNSHIP_KIND = {"街道": 1, "镇": 2, "乡": 3, OTHER_KIND: 0}


_COMPARE = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
            ast.Gt: operator.gt, ast.GtE: operator.ge}


class _PandasExpr:
    """Evaluate a catalog expression (its source text, already checked by the catalog) on DataFrame
    columns with pandas' nullable types, following SQL's NULL rules (a blank operand gives a blank
    result; ``and``/``or`` are three-valued)."""

    def __init__(self, frame: pd.DataFrame):
        self.f = frame

    def __call__(self, source: str) -> Any:
        return self.node(ast.parse(source, mode="eval").body)

    def node(self, n: ast.AST) -> Any:
        f = self.f
        if isinstance(n, ast.Name):
            if n.id in ("true", "True", "false", "False"):
                return n.id.lower() == "true"
            col = f[n.id]
            if col.dtype == bool or str(col.dtype) == "boolean":
                return col.astype("boolean")
            if pd.api.types.is_numeric_dtype(col.dtype):
                return col.astype("Float64")
            return col
        if isinstance(n, ast.Constant):
            return n.value
        if isinstance(n, ast.BoolOp):
            vals = [self.node(v) for v in n.values]
            out = vals[0]
            for v in vals[1:]:
                out = (out & v) if isinstance(n.op, ast.And) else (out | v)
            return out
        if isinstance(n, ast.UnaryOp):
            v = self.node(n.operand)
            return ~v if isinstance(n.op, ast.Not) else -v
        if isinstance(n, ast.BinOp):
            a, b = self.node(n.left), self.node(n.right)
            if isinstance(n.op, ast.Div):
                return a / (b.where(b != 0) if isinstance(b, pd.Series) else (b or np.nan))
            return {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}[type(n.op)](a, b)
        if isinstance(n, ast.Compare):
            left = self.node(n.left)
            out = None
            for op, comp in zip(n.ops, n.comparators):
                if isinstance(op, (ast.In, ast.NotIn)):
                    r = left.isin([self.node(e) for e in comp.elts]).astype("boolean")
                    r = ~r if isinstance(op, ast.NotIn) else r
                    right = None
                else:
                    right = self.node(comp)
                    r = _COMPARE[type(op)](left, right)
                r = pd.Series(r, index=f.index).astype("boolean")
                blank = _blank(left, f.index) | (_blank(right, f.index) if right is not None else False)
                r = r.mask(blank)                            # NULL compared is NULL
                out = r if out is None else (out & r)
                left = right if right is not None else left
            return out
        if isinstance(n, ast.Call):
            frame = pd.concat([pd.Series(self.node(a), index=f.index) for a in n.args], axis=1)
            return frame.max(axis=1) if n.func.id == "max" else frame.min(axis=1)
        raise ValueError(type(n).__name__)


def _blank(x: Any, index: pd.Index) -> pd.Series:
    return x.isna() if isinstance(x, pd.Series) else pd.Series(x is None, index=index)


def _floats(x: Any, n: int) -> np.ndarray:
    """An expression's result as float64 (booleans 1/0, blanks NaN)."""
    if isinstance(x, pd.Series):
        return x.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    return np.full(n, np.nan if x is None else float(x))


def _days(s: pd.Series) -> np.ndarray:
    """Dates (datetime64, NaT) as day numbers (date.toordinal(); NaN for blanks)."""
    s = pd.to_datetime(s)
    return ((s - pd.Timestamp("1970-01-01")).dt.days + _EPOCH_DAY).to_numpy(dtype=float, na_value=np.nan)


def _inside(codes: np.ndarray, prefixes: list[str]) -> np.ndarray:
    out = np.zeros(len(codes), bool)
    for p in prefixes:
        out |= (codes // 10 ** (12 - len(p))) == int(p)
    return out


class _Quarters:
    """The quarters judged (from the first with a return to the last) as running numbers
    (pidx = year × 4 + quarter − 1) with their first and last days as day numbers."""

    def __init__(self, periods: list[str]):
        self.names = list(periods)
        self.p0 = int(periods[0][:4]) * 4 + int(periods[0][-1]) - 1
        self.pidx = np.arange(self.p0, self.p0 + len(periods))
        bounds = [period_bounds(p) for p in periods]
        self.start = np.array([b[0].toordinal() for b in bounds], dtype=float)
        self.end = np.array([b[1].toordinal() for b in bounds], dtype=float)
        self.year = np.array([int(p[:4]) for p in periods])
        self.quarter = np.array([int(p[-1]) for p in periods])

    def __len__(self) -> int:
        return len(self.names)

    def at(self, name: str, pidx: Any) -> np.ndarray:
        """Attribute ``name`` (start, end, year, quarter) of each quarter in ``pidx``."""
        return getattr(self, name)[np.asarray(pidx, dtype=np.int64) - self.p0]

    def first_col(self, day: dt.date) -> int:
        """The position of the first quarter ending on or after ``day`` (len(self) if none)."""
        hits = np.nonzero(self.end >= day.toordinal())[0]
        return int(hits[0]) if len(hits) else len(self.names)


def _code_kinds(codes: np.ndarray, level: str) -> np.ndarray:
    """The kind of units from their codes (the NBS rule of pipelines.units): village level 居委会 for a
    suffix 001–199, 村委会 for 200–399, else 其他; township level 街道 (digits 7–9 in 001–099), 镇
    (100–199), 乡 (200–399), else 其他."""
    if level == "village":
        n = codes % 1000
        return np.select([(n >= 1) & (n <= 199), (n >= 200) & (n <= 399)],
                         [VILLAGE_KIND[RESIDENT_COMMITTEE], VILLAGE_KIND[VILLAGE_COMMITTEE]], 0).astype(np.int8)
    n = (codes // 1000) % 1000
    return np.select([(n >= 1) & (n <= 99), (n >= 100) & (n <= 199), (n >= 200) & (n <= 399)],
                     [TOWNSHIP_KIND["街道"], TOWNSHIP_KIND["镇"], TOWNSHIP_KIND["乡"]], 0).astype(np.int8)


class _Registry:
    """The units (codes as integers) with their kind and, per level, the complete unit × quarter frame
    sorted by code and quarter, with whether the unit exists in the quarter (on any day of it)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, q: _Quarters):
        self.q = q
        self.units = con.execute("SELECT CAST(code AS BIGINT) AS code, level, valid_from, valid_to, committee_type "
                                 "FROM units ORDER BY code").df()
        self._grids: dict[str, pd.DataFrame] = {}
        self._index: dict[str, pd.Index] = {}

    def kinds(self, level: str) -> np.ndarray:
        """The kind of each unit of ``level`` (VILLAGE_KIND: the registry's committee type, else the
        code's; TOWNSHIP_KIND from the code; 0 at other levels)."""
        u = self.units[self.units["level"] == level]
        codes = u["code"].to_numpy(dtype=np.int64)
        if level == "village":
            given = u["committee_type"].map(VILLAGE_KIND).to_numpy(dtype=float, na_value=np.nan)
            return np.where(np.isnan(given), _code_kinds(codes, level), np.nan_to_num(given)).astype(np.int8)
        if level == "township":
            return _code_kinds(codes, level)
        return np.zeros(len(codes), np.int8)

    def grid(self, level: str) -> pd.DataFrame:
        """code, pidx, exists, kind for every unit of ``level`` and quarter."""
        if level not in self._grids:
            u = self.units[self.units["level"] == level]
            P = len(self.q)
            g = pd.DataFrame({"code": np.repeat(u["code"].to_numpy(dtype=np.int64), P),
                              "pidx": np.tile(self.q.pidx, len(u))})
            vf, vt = np.repeat(_days(u["valid_from"]), P), np.repeat(_days(u["valid_to"]), P)
            g["exists"] = ((np.isnan(vf) | (vf <= self.q.at("end", g["pidx"])))
                           & (np.isnan(vt) | (vt >= self.q.at("start", g["pidx"]))))
            g["kind"] = np.repeat(self.kinds(level), P)
            self._grids[level] = g
            self._index[level] = pd.Index(u["code"].to_numpy(dtype=np.int64))
        return self._grids[level]

    def position(self, level: str, code: Any, pidx: Any) -> np.ndarray:
        """The row of (code, pidx) in ``grid(level)`` (-1: no such unit or quarter)."""
        self.grid(level)
        ui = self._index[level].get_indexer(np.asarray(code, dtype=np.int64))
        ci = np.asarray(pidx, dtype=np.int64) - self.q.p0
        ok = (ui >= 0) & (ci >= 0) & (ci < len(self.q))
        return np.where(ok, ui * len(self.q) + ci, -1)


def _latest_county_records(con: duckdb.DuckDBPyConnection, cols: str) -> pd.DataFrame:
    """The latest record of every county and year of the county sheet (code, year and ``cols``)."""
    rows = con.execute(f"SELECT CAST(v.county_code AS BIGINT) AS code, v.year, v.recorded_at{cols} "
                       "FROM county_values v").df()
    return rows.sort_values("recorded_at", kind="stable").drop_duplicates(["code", "year"], keep="last")


def _sheet_rows(con: duckdb.DuckDBPyConnection, sheet: str, fields: list[str], reg: _Registry,
                existing: bool = True) -> pd.DataFrame:
    """The rows that count of one sheet, with only ``fields``: the active return of each township and
    quarter (village and township sheets), or the latest record of each county and year standing for
    every quarter of that year (county sheet); with ``existing`` only units of the sheet's level
    existing in the quarter, with their position in the level's grid (pos) and kind."""
    cols = "".join(f', v."{f}"' for f in fields)
    q = reg.q
    if sheet == "county":
        rows = _latest_county_records(con, cols).drop(columns="recorded_at")
        rows = rows.merge(pd.DataFrame({"year": q.year, "pidx": q.pidx}), on="year")
    else:
        key = "village_code" if sheet == "village" else "township_code"
        rows = con.execute(f"SELECT CAST(v.{key} AS BIGINT) AS code, CAST(left(s.period, 4) AS INTEGER) * 4 "
                           f"+ CAST(right(s.period, 1) AS INTEGER) - 1 AS pidx{cols} FROM {sheet}_values v "
                           "JOIN submissions s ON s.id = v.submission_id WHERE s.status = 'active'").df()
        rows["year"] = rows["pidx"] // 4
    if not existing:
        return rows
    pos = reg.position(sheet, rows["code"], rows["pidx"])
    ok = pos >= 0
    grid = reg.grid(sheet)
    ok[ok] = grid["exists"].to_numpy()[pos[ok]]
    rows = rows[ok].assign(pos=pos[ok]).sort_values(["code", "pidx"], kind="stable").reset_index(drop=True)
    rows["kind"] = grid["kind"].to_numpy()[rows["pos"].to_numpy()]
    return rows


def _row_terms(ev: _PandasExpr, ind: Any, n_rows: int) -> dict[str, np.ndarray]:
    """Per row: numerator n and denominator d (NaN where the row is not counted; d = 1 for a
    denominator written "1", none without one), the among flag x (1 where ``among`` is false, 0
    where true, NaN where blank) and whether the row is counted (``among`` true, no term blank)."""
    n = _floats(ev(ind.numerator), n_rows)
    d = _floats(ev(ind.denominator), n_rows) if ind.denominator else np.zeros(n_rows)
    counted = ~np.isnan(n) & ~np.isnan(d)
    x = np.full(n_rows, np.nan)
    if ind.among:
        a = pd.Series(ev(ind.among)).astype("boolean")
        counted &= a.fillna(False).to_numpy(dtype=bool)
        x = np.where(a.isna().to_numpy(), np.nan, (~a.fillna(True)).to_numpy(dtype=float))
    return {"n": np.where(counted, n, np.nan), "d": np.where(counted, d, np.nan), "x": x, "counted": counted}


def _ratio(n: Any, d: Any, ind: Any) -> np.ndarray:
    """Σn / Σd × factor (Σn × factor without a denominator); NaN where Σd is 0."""
    n = np.asarray(n, dtype=float)
    if ind.denominator is None:
        return n * ind.factor
    d = np.asarray(d, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return n / np.where(d == 0, np.nan, d) * ind.factor


def _kinds(t: Any, ind: Any) -> tuple[int, ...] | None:
    """The kinds of source units a target counts: the committee types of its population (village
    sheet), the 镇 and 乡 of a 乡镇 target (township sheet); None for every unit."""
    if ind.source == "village":
        return tuple(sorted(VILLAGE_KIND[k] for k in POPULATION_TYPES[t.population]))
    kinds = TOWNSHIP_KIND_TYPES.get(t.township_kind) if ind.source == "township" else None
    return None if kinds is None else tuple(sorted(TOWNSHIP_KIND[k] for k in kinds))


class _Context:
    """What the judgement of every target shares: catalog, settings, quarters, registry, and the
    indicator values per target population and level, computed on demand and kept."""

    def __init__(self, con: duckdb.DuckDBPyConnection, cat: Catalog, q: _Quarters, reg: _Registry):
        self.con, self.cat, self.q, self.reg = con, cat, q, reg
        self.st = cat.settings.progress
        self._rows: dict[str, pd.DataFrame] = {}
        self._terms: dict[str, dict[str, np.ndarray]] = {}
        self._own: dict[tuple[Any, ...], dict[str, np.ndarray]] = {}
        self._sums: dict[tuple[Any, ...], dict[str, dict[str, np.ndarray]]] = {}
        self._fields: dict[tuple[str, str], pd.DataFrame] = {}
        self._inside: dict[tuple[str, tuple[str, ...]], np.ndarray] = {}
        self.seconds = 0.0                          # spent computing indicator values

    # ------------------------------------------------------------------ the levels' frames
    def frame(self, level: str) -> pd.DataFrame:
        """code, pidx, exists, kind of every unit of ``level`` and quarter (complete, sorted)."""
        return self.reg.grid(level)

    def inside(self, level: str, prefixes: list[str]) -> np.ndarray:
        """Which rows of ``level``'s frame belong to the scope (codes starting with one of ``prefixes``)."""
        key = (level, tuple(prefixes))
        if key not in self._inside:
            self._inside[key] = _inside(self.reg.grid(level)["code"].to_numpy(), prefixes)
        return self._inside[key]

    def counted(self, level: str, t: Any) -> np.ndarray:
        """Per row of ``level``'s frame: the unit is of the kinds ``t`` counts (village level: its
        population; township level: its township kind); every unit at other levels."""
        kind = self.reg.grid(level)["kind"].to_numpy()
        if level == "village":
            return np.isin(kind, [VILLAGE_KIND[k] for k in POPULATION_TYPES[t.population]])
        kinds = TOWNSHIP_KIND_TYPES.get(t.township_kind) if level == "township" else None
        return np.ones(len(kind), bool) if kinds is None else np.isin(kind, [TOWNSHIP_KIND[k] for k in kinds])

    def place(self, level: str, sums: pd.DataFrame) -> dict[str, np.ndarray]:
        """Columns of ``sums`` (code, pidx, …) aligned with ``level``'s frame (0 where absent)."""
        size = len(self.reg.grid(level))
        pos = self.reg.position(level, sums["code"], sums["pidx"])
        ok = pos >= 0
        out = {}
        for name in sums.columns:
            if name in ("code", "pidx"):
                continue
            arr = np.zeros(size)
            arr[pos[ok]] = sums[name].to_numpy(dtype=float)[ok]
            out[name] = arr
        return out

    # ------------------------------------------------------------------ rows and terms
    def rows(self, sheet: str) -> pd.DataFrame:
        """The counted rows of ``sheet`` with every field its indicators (and ``plus`` terms) read."""
        if sheet not in self._rows:
            fields = set()
            for ind in self.cat.indicators.values():
                if ind.source == sheet:
                    fields |= set(ind.fields)
                fields |= set(ind.plus_fields.get(sheet, ()))
            self._rows[sheet] = _sheet_rows(self.con, sheet, sorted(fields), self.reg)
        return self._rows[sheet]

    def terms(self, ind: Any) -> dict[str, np.ndarray]:
        """n, d, x, counted of every row of the indicator's sheet (``_row_terms``)."""
        if ind.id not in self._terms:
            rows = self.rows(ind.source)
            self._terms[ind.id] = _row_terms(_PandasExpr(rows), ind, len(rows))
        return self._terms[ind.id]

    def _among_false(self, ind: Any) -> np.ndarray:
        """Per row of the source level's frame: the unit's latest known ``among`` (carried over quarters
        without a return or with it blank) is false."""
        grid = self.reg.grid(ind.source)
        if not ind.among:
            return np.zeros(len(grid), bool)
        x = np.full(len(grid), np.nan)
        x[self.rows(ind.source)["pos"].to_numpy()] = self.terms(ind)["x"]
        latest = pd.Series(x).groupby(grid["code"].to_numpy(), sort=False).ffill()
        return (latest == 1).to_numpy()

    # ------------------------------------------------------------------ values
    def values(self, t: Any, level: str) -> dict[str, np.ndarray]:
        """value, reported, expected, na of target ``t``'s indicator at ``level`` (aligned with its
        frame), over the source units ``t`` counts (``_kinds``). At the source level each unit's own
        value (not applicable outside the population, or where its latest ``among`` is false); above
        it the sums (``_sums_of``). A township-level value of a 乡镇 target leaves 街道 out."""
        t0 = time.perf_counter()
        ind = self.cat.indicators[t.indicator]
        kinds = _kinds(t, ind)
        if level == ind.source:
            out = self._own_values(ind, kinds)
        else:
            out = self._sums_of(ind, kinds)[level]
        if level == "township" and t.township_kind == "乡镇":
            town = np.isin(self.reg.grid(level)["kind"].to_numpy(), [TOWNSHIP_KIND["镇"], TOWNSHIP_KIND["乡"]])
            out = {"value": out["value"], "na": out["na"] | ~town, "reported": np.where(town, out["reported"], 0),
                   "expected": np.where(town, out["expected"], 0)}
        self.seconds += time.perf_counter() - t0
        return out

    def _own_values(self, ind: Any, kinds: tuple[int, ...] | None) -> dict[str, np.ndarray]:
        """Each source unit's own value: Σn / Σd × factor of its row (flows: of its rows of the year so
        far, when it has one this quarter). A village reports when it has a value; a township or
        county when its row is counted."""
        key = (ind.id, kinds)
        if key not in self._own:
            rows, tm = self.rows(ind.source), self.terms(ind)
            grid = self.reg.grid(ind.source)
            n, d = tm["n"], tm["d"]
            if ind.window == "year_to_date":
                by = [rows["code"].to_numpy(), rows["year"].to_numpy()]
                n = pd.Series(n).groupby(by).cumsum().to_numpy()
                d = pd.Series(d).groupby(by).cumsum().to_numpy()
            pos = rows["pos"].to_numpy()
            value, counted = np.full(len(grid), np.nan), np.zeros(len(grid), bool)
            value[pos] = np.where(tm["counted"], _ratio(n, d, ind), np.nan)
            counted[pos] = tm["counted"]
            na = self._among_false(ind)
            if kinds is not None:
                na = na | ~np.isin(grid["kind"].to_numpy(), kinds)
            expected = grid["exists"].to_numpy() & ~na
            reported = expected & (~np.isnan(value) if ind.source == "village" else counted)
            self._own[key] = {"value": value, "na": na, "reported": reported.astype(float),
                              "expected": expected.astype(float)}
        return self._own[key]

    def _sums_of(self, ind: Any, kinds: tuple[int, ...] | None) -> dict[str, dict[str, np.ndarray]]:
        """Per level above the indicator's sheet: Σ numerator (plus the ``plus`` sheets' terms of the
        townships and counties under the unit) / Σ denominator × factor over the counted rows of the
        source units of ``kinds`` under the unit (by code prefix; flows: summed over the year's
        quarters so far); no value without a counted row. expected: those source units existing in
        the quarter, less those whose latest ``among`` is false (plus the townships / counties whose
        sheets add to it); reported: the rows counted (and plus terms not blank). na: none expected."""
        key = (ind.id, kinds)
        if key in self._sums:
            return self._sums[key]
        rows, tm, grid = self.rows(ind.source), self.terms(ind), self.reg.grid(ind.source)
        in_pop = np.ones(len(rows), bool) if kinds is None else np.isin(rows["kind"].to_numpy(), kinds)
        mask = tm["counted"] & in_pop
        unit_ok = grid["exists"].to_numpy() & ~self._among_false(ind)
        if kinds is not None:
            unit_ok &= np.isin(grid["kind"].to_numpy(), kinds)
        above = [lv for lv in LEVELS if LEVEL_RANK[lv] < LEVEL_RANK[ind.source]][::-1]    # lowest first
        terms = pd.DataFrame({"code": rows["code"].to_numpy(), "pidx": rows["pidx"].to_numpy(),
                              "n": np.where(mask, tm["n"], 0.0), "d": np.where(mask, tm["d"], 0.0),
                              "r": mask.astype(float)})
        units = pd.DataFrame({"code": grid["code"].to_numpy(), "pidx": grid["pidx"].to_numpy(),
                              "e": unit_ok.astype(float)})
        plus = [self._plus_rows(ind, sheet) for sheet in sorted(ind.plus or {})]
        out: dict[str, dict[str, np.ndarray]] = {}
        for level in above:
            m = 10 ** (12 - PREFIX_LEN[level])
            terms = terms.assign(code=(terms["code"].to_numpy() // m) * m).groupby(
                ["code", "pidx"], sort=False, as_index=False).sum()
            units = units.assign(code=(units["code"].to_numpy() // m) * m).groupby(
                ["code", "pidx"], sort=False, as_index=False).sum()
            s = {**self.place(level, terms), **self.place(level, units)}
            n, d, r, e = s["n"], s["d"], s["r"], s["e"]
            for sheet, prow, punits in plus:
                if LEVEL_RANK[level] <= LEVEL_RANK[sheet]:
                    p = self.place(level, prow.assign(code=(prow["code"].to_numpy() // m) * m).groupby(
                        ["code", "pidx"], sort=False, as_index=False).sum())
                    u = self.place(level, punits.assign(code=(punits["code"].to_numpy() // m) * m).groupby(
                        ["code", "pidx"], sort=False, as_index=False).sum())
                    n, r, e = n + p["pn"], r + p["pr"], e + u["e"]
            counted_rows = s["r"]
            if ind.window == "year_to_date":
                lg = self.reg.grid(level)
                by = [lg["code"].to_numpy(), lg["pidx"].to_numpy() // 4]
                n = pd.Series(n).groupby(by).cumsum().to_numpy()
                d = pd.Series(d).groupby(by).cumsum().to_numpy()
            value = np.where(counted_rows > 0, _ratio(n, d, ind), np.nan)
            out[level] = {"value": value, "reported": r, "expected": e, "na": e <= 0}
        self._sums[key] = out
        return out

    def _plus_rows(self, ind: Any, sheet: str) -> tuple[str, pd.DataFrame, pd.DataFrame]:
        """(sheet, its plus terms per row: code, pidx, pn (blank: 0), pr (not blank), its units existing
        per quarter: code, pidx, e) of the ``plus`` expression of ``ind`` on ``sheet``."""
        rows = self.rows(sheet)
        pn = _floats(_PandasExpr(rows)(ind.plus[sheet]), len(rows))
        terms = pd.DataFrame({"code": rows["code"].to_numpy(), "pidx": rows["pidx"].to_numpy(),
                              "pn": np.nan_to_num(pn), "pr": (~np.isnan(pn)).astype(float)})
        grid = self.reg.grid(sheet)
        units = pd.DataFrame({"code": grid["code"].to_numpy(), "pidx": grid["pidx"].to_numpy(),
                              "e": grid["exists"].to_numpy().astype(float)})
        return sheet, terms, units

    def child_coverage(self, t: Any, unit_level: str, levels: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """(reported, expected) per level of ``levels`` above the level ``t`` is judged unit by unit:
        the source units of its population under the unit (when they are the units judged), else the
        judged units that expect anything, reported when their own coverage reaches min_coverage."""
        v = self.values(t, unit_level)
        child = self.frame(unit_level)
        exists = child["exists"].to_numpy()
        if unit_level == self.cat.indicators[t.indicator].source:
            rep, exp = v["reported"] * exists, v["expected"] * exists
        else:
            exp = exists & (v["expected"] > 0)
            with np.errstate(invalid="ignore"):
                rep = exp & (v["reported"] > 0) & (v["reported"] >= self.st.min_coverage * v["expected"] - 1e-9)
        sums = share_sums(child, {"rep": rep, "exp": exp}, levels)
        out = {}
        for level in levels:
            placed = self.place(level, sums[level])
            out[level] = (placed["rep"], placed["exp"])
        return out

    # ------------------------------------------------------------------ dates and tasks
    def field_dates(self, sheet: str, field: str) -> pd.DataFrame:
        """Every row reporting ``field`` (a date) of ``sheet``: code, pidx (county sheet: -1), day (NaN:
        blank) — every counted return (village, township sheets), the latest county record of a year."""
        key = (sheet, field)
        if key not in self._fields:
            if sheet == "county":
                rows = _latest_county_records(self.con, f', v."{field}"').rename(columns={field: "d"})
                rows["pidx"] = -1
            else:
                rows = _sheet_rows(self.con, sheet, [field], self.reg, existing=False).rename(columns={field: "d"})
            self._fields[key] = pd.DataFrame({"code": rows["code"].to_numpy(dtype=np.int64),
                                              "pidx": rows["pidx"].to_numpy(dtype=np.int64), "day": _days(rows["d"])})
        return self._fields[key]

    def task_records(self, plan: str) -> pd.DataFrame:
        """The latest update of every task, responsible unit, item and cycle of ``plan`` (blank item and
        cycle as ''), with the done date as a day number (day)."""
        rec = self.con.execute("SELECT task_id, unit, item, cycle, status, done_date, recorded_at FROM task_values "
                               "WHERE plan = ?", [plan]).df()
        for c in ("item", "cycle"):
            rec[c] = rec[c].astype(object).where(rec[c].notna(), "").map(lambda v: str(v).strip())
        rec = rec.sort_values("recorded_at", kind="stable").drop_duplicates(["task_id", "unit", "item", "cycle"],
                                                                            keep="last")
        return rec.assign(day=_days(rec["done_date"])).sort_values(["task_id", "unit", "item", "cycle"],
                                                                   kind="stable").reset_index(drop=True)


def plan_roots(con: duckdb.DuckDBPyConnection, cat: Catalog, plan: str) -> list[tuple[int, str]]:
    """(code, level) of the units a plan is applied to (its scope and settings.applies) that are in the
    registry, a unit inside another one dropped."""
    codes = [int(c) for c in cat.scopes(plan)]
    units = con.execute("SELECT CAST(code AS BIGINT), level FROM units WHERE list_contains(?::BIGINT[], "
                        "CAST(code AS BIGINT))", [codes]).fetchall()
    out: list[tuple[int, str]] = []
    for code, level in sorted(units, key=lambda r: LEVEL_RANK[r[1]]):
        if not any(code // 10 ** (12 - PREFIX_LEN[lv]) == c // 10 ** (12 - PREFIX_LEN[lv]) for c, lv in out):
            out.append((code, level))
    return out


# What the baseline implements (the method as stated in rules.py's docstring and progress-method.md);
# anything else the catalog sets would make the product compute something the baseline does not, so
# the bench refuses to compare.
_IMPLEMENTED = {
    "plan": {"code", "title", "doc_no", "issuer", "issued", "scope", "scope_name", "scope_level", "period_start",
             "period_end", "source", "targets"},
    "target": {"id", "title", "clause", "source_clause", "indicator", "comparator", "value", "tolerance", "unit",
               "deadline", "start", "eval", "level", "recurrence", "lead", "partners", "milestones", "items",
               "population", "strive", "reading", "judged_at", "baseline", "guideline", "township_kind", "note"},
    "milestone": {"field", "deadline", "label", "after"},
    "milestone.after": {"field", "days"},
    "item": {"id", "label", "deadline", "after"},
    "item.after": {"item", "years", "months", "days"},
    "indicator": {"id", "title", "source", "numerator", "denominator", "among", "factor", "unit", "window", "bounds",
                  "description", "plus"},
    "settings.progress": {"on_track", "lagging_floor", "regressing_cr", "min_points", "low_confidence_below",
                          "stale_after_quarters", "milestone_due_soon_days", "milestone_severe_after_days",
                          "min_coverage"},
}
_COMPARATORS = {">=", ">", "<=", "<", "==", "between", "about", "rising", "not_falling", "falling", "done_by"}
_EVALS = {"aggregate", "every_unit", "count", "milestone", "trend", "band"}
_RECURRENCES = {None, "yearly", "quarterly"}
_BASELINES = {"previous_year", "plan_start"}
_WINDOWS = {"quarter_end", "year_to_date"}
_SHEETS = {"village", "township", "county"}
# the values of these target settings the baseline knows (others: a gap)
_VALUES = {"population": set(POPULATION_TYPES), "township_kind": set(TOWNSHIP_KIND_TYPES),
           "judged_at": {None, "scope", *LEVELS}}


def baseline_gaps(cat: Catalog) -> dict[str, list[str]]:
    """Catalog features the pandas baseline does not implement, each with the entries using it
    (empty: the baseline computes what the product computes)."""
    gaps: dict[str, list[str]] = {}

    def check(kind: str, obj: Any, name: str) -> None:
        for f in sorted(set(obj.model_fields_set) - _IMPLEMENTED[kind]):
            gaps.setdefault(f"{kind}.{f}", []).append(name)

    def value(feature: str, ok: bool, name: str) -> None:
        if not ok:
            gaps.setdefault(feature, []).append(name)

    check("settings.progress", cat.settings.progress, "settings.yaml")
    for ind in cat.indicators.values():
        check("indicator", ind, ind.id)
        value(f"indicator window {ind.window}", ind.window in _WINDOWS, ind.id)
        value(f"indicator source {ind.source}", ind.source in _SHEETS, ind.id)
        for sheet in ind.plus or {}:
            value(f"indicator plus from {sheet}", sheet in ("township", "county"), ind.id)
    for plan in cat.plans.values():
        check("plan", plan, plan.code)
        for t in plan.targets:
            check("target", t, t.id)
            for m in t.milestones:
                check("milestone", m, t.id)
                if m.after is not None:
                    check("milestone.after", m.after, t.id)
            for item in t.items:
                check("item", item, t.id)
                if item.after is not None:
                    check("item.after", item.after, t.id)
            value(f"comparator {t.comparator}", t.comparator in _COMPARATORS, t.id)
            value(f"eval {t.eval}", t.eval in _EVALS, t.id)
            value(f"recurrence {t.recurrence}", t.recurrence in _RECURRENCES, t.id)
            value(f"baseline {t.baseline}", t.baseline in _BASELINES, t.id)
            for name, known in _VALUES.items():
                value(f"{name} {getattr(t, name)}", getattr(t, name) in known, t.id)
    return gaps


class BaselineIncomplete(SystemExit):
    """The catalog uses features the baseline does not implement: the command fails with this message."""


def gaps_message(gaps: dict[str, list[str]]) -> str:
    lines = [("rural-targets bench progress: pandas 基线尚未实现目录中的这些功能,无法与本产品比较 "
              "(the pandas baseline does not implement these catalog features, so it cannot compute the same "
              "statuses; extend pandas_baseline in pipelines/bench/progress.py):")]
    for feature, users in gaps.items():
        users = list(dict.fromkeys(users))
        more = f" … (+{len(users) - 3})" if len(users) > 3 else ""
        lines.append(f"  {feature}: {', '.join(users[:3])}{more}")
    return "\n".join(lines)


BASELINE_TABLE = "baseline_progress"
_OUTPUTS = ("value", "pi", "tau", "projected", "coverage")


def _stored_rows(r: dict[str, Any], frame: pd.DataFrame, department: bool) -> pd.DataFrame:
    """The emitted rows (``r["emit"]``) of one judged level: unit (or department), pidx, status, the
    outputs, the verdict at the deadline (-1 while ahead) and above_range."""
    emit = np.asarray(r["emit"], dtype=bool)
    n = int(emit.sum())
    out = {"unit": pd.array([None] * n if department else frame["code"].to_numpy(dtype=np.int64)[emit], dtype="Int64"),
           "department": frame["department"].to_numpy(dtype=object)[emit] if department else np.full(n, None),
           "pidx": frame["pidx"].to_numpy(dtype=np.int16)[emit], "status": r["status"][emit]}
    for name in _OUTPUTS:
        out[name] = np.broadcast_to(np.asarray(r[name], dtype=float), emit.shape)[emit]
    out["verdict"] = r["verdict"][emit]
    out["above_range"] = np.asarray(r["above_range"], bool)[emit] if "above_range" in r else np.zeros(n, bool)
    return pd.DataFrame(out)


def _indicator_table(ctx: _Context) -> pd.DataFrame:
    """Every indicator value computed (each indicator over every row at township level and above, and
    per population where targets need it): indicator, kinds, level, code, pidx, value, reported,
    expected — stored like the product's indicator tables."""
    frames = []
    for ind in ctx.cat.indicators.values():
        ctx._sums_of(ind, None)
    for (ind_id, kinds), by_level in ctx._sums.items():
        for level, v in by_level.items():
            grid = ctx.reg.grid(level)
            keep = grid["exists"].to_numpy() & (v["expected"] > 0)
            frames.append(pd.DataFrame({
                "indicator": ind_id, "kinds": "".join(map(str, kinds)) if kinds else "", "level": level,
                "code": grid["code"].to_numpy()[keep], "pidx": grid["pidx"].to_numpy()[keep],
                "value": v["value"][keep], "reported": v["reported"][keep], "expected": v["expected"][keep]}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def pandas_baseline(db_path: str, cat: Catalog | None = None) -> dict[str, Any]:
    """The product's computation written as a competent pandas script, stored in ``baseline_progress``
    (plan, target, level, unit, department, pidx, status, value, pi, tau, projected, coverage,
    verdict_at_deadline, strive, above_range) and ``baseline_indicators``.

    Values: read only the columns the indicators use, from the active return of each township and
    quarter (village and township sheets) and the latest county record of each year; keep the units
    existing in the quarter (valid_from / valid_to); evaluate each indicator's expressions with pandas
    (``among`` filters, blanks left out); per target population (村 → 村委会, 社区 → 居委会, 村(社区) →
    both, by the registry's committee type; 乡镇 → 镇 and 乡) sum by code prefix with groupby for every
    level (ratios of sums; flows summed over the year's quarters so far; ``plus`` terms of the
    township and county sheets added to the numerators); coverage: the units expected (of the
    population, existing, latest ``among`` not false, plus the townships / counties adding to it)
    and those reported.

    Judgement (pipelines.bench.progress_baseline_judge), every target of every plan at every level,
    with groupby transforms over complete unit × quarter frames: baseline, points, pi, tau,
    projection and status per cycle (yearly or quarterly); trends against a year earlier, the last Q4
    or the plan start (rising, falling, not_falling); bands; ranges (above_range); done/not-done
    units and shares of units meeting it among those that reported; field milestones on the village,
    township and county sheets (earliest date in the window; per-unit deadlines ``after`` another
    date; several milestones); task lists (latest update per unit, item and cycle; items with their
    own or relative deadlines; overall the worst lead unit); then coverage (incomplete below
    min_coverage), not_judged outside ``judged_at`` and for guidelines, the verdict at the deadline
    and met_late. ``strive`` only marks the rows: it changes no status."""
    t0 = time.perf_counter()
    con = duckdb.connect(db_path)
    cat = cat or bench_catalog(con)
    if baseline_gaps(cat):
        con.close()
        raise BaselineIncomplete(gaps_message(baseline_gaps(cat)))
    lo, hi = con.execute("SELECT min(period), max(period) FROM submissions").fetchall()[0]
    q = _Quarters(quarters(lo, hi))
    ctx = _Context(con, cat, q, _Registry(con, q))
    plans = list(cat.plans)
    targets = [t.id for p in cat.plans.values() for t in p.targets]
    level_names = list(LEVELS) + ["department"]

    def enum(items: list[str] | tuple[str, ...]) -> str:          # catalog ids and fixed words only
        return "ENUM (" + ", ".join(f"'{x}'" for x in items) + ")"
    con.execute(f"CREATE OR REPLACE TABLE {BASELINE_TABLE} (plan {enum(plans)}, target {enum(targets)}, "
                f"level {enum(level_names)}, unit BIGINT, department VARCHAR, pidx SMALLINT, "
                f"status {enum(STATUS_NAMES)}, value DOUBLE, pi DOUBLE, tau DOUBLE, projected DOUBLE, "
                f"coverage DOUBLE, verdict_at_deadline {enum(STATUS_NAMES)}, strive BOOLEAN, above_range BOOLEAN)")
    statuses = 0
    pending: list[pd.DataFrame] = []

    def store(plan: str, t: Any, level: str, r: dict[str, Any], frame: pd.DataFrame) -> None:
        rows = _stored_rows(r, frame, level == "department")
        n = len(rows)
        if n:
            pending.append(rows.assign(plan=np.int16(plans.index(plan)), target=np.int16(targets.index(t.id)),
                                       level=np.int8(level_names.index(level)), strive=bool(t.strive)))

    def flush() -> None:                             # the rows of one plan in one insert
        nonlocal statuses
        if not pending:
            return
        rows = pd.concat(pending, ignore_index=True)
        pending.clear()
        rows = rows.assign(
            plan=pd.Categorical.from_codes(rows["plan"].to_numpy(), plans),
            target=pd.Categorical.from_codes(rows["target"].to_numpy(), targets),
            level=pd.Categorical.from_codes(rows["level"].to_numpy(), level_names),
            status=pd.Categorical.from_codes(rows["status"].to_numpy(dtype=np.int8), STATUS_NAMES),
            verdict_at_deadline=pd.Categorical.from_codes(rows.pop("verdict").to_numpy(dtype=np.int8), STATUS_NAMES))
        con.register("_b", rows)
        con.execute(f"INSERT INTO {BASELINE_TABLE} BY NAME SELECT * FROM _b")
        con.unregister("_b")
        statuses += len(rows)

    for code, plan in cat.plans.items():
        groups: dict[str, list[int]] = {}
        for root, level in plan_roots(con, cat, code):
            groups.setdefault(level, []).append(root)
        records = None
        for t in plan.targets:
            for n, (root_level, roots) in enumerate(groups.items()):
                if t.eval == "milestone" and t.lead and not t.milestones:        # a task list
                    if records is None:
                        records = ctx.task_records(code)
                    dept, overall = judge_task(ctx, plan, t, records, root_level, roots)
                    if n == 0:                                                  # responsible units: once
                        store(code, t, "department", *dept)
                    if overall is not None:
                        store(code, t, root_level, *overall)
                    continue
                prefixes = [str(r).zfill(12)[:PREFIX_LEN[root_level]] for r in roots]
                for level, r, frame in judge_target(ctx, plan, t, root_level, prefixes):
                    store(code, t, level, r, frame)
        flush()
    t_values = ctx.seconds
    table = _indicator_table(ctx)
    con.register("_b", table)
    con.execute("CREATE OR REPLACE TABLE baseline_indicators AS SELECT * FROM _b")
    con.unregister("_b")
    con.close()
    return {"seconds": round(time.perf_counter() - t0, 2), "statuses": statuses, "peak_mb": round(peak_rss_mb()),
            "values_s": round(t_values, 2)}
