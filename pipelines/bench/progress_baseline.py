"""The pandas baseline of ``bench progress``: the product's computation written as a competent pandas
user would write it from the method (pipelines/compute/rules.py), without the product's code —
the columns the indicators use, groupby sums by code prefix, groupby transforms per unit for the
judgement, every rule the catalog uses; its rows stored like the product's."""
from __future__ import annotations

import ast
import datetime as dt
import operator
import time
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from pipelines.catalog.definitions import Catalog
from pipelines.compute.scope import plan_roots
from pipelines.periods import period_bounds, quarters
from pipelines.units import LEVEL_RANK, LEVELS, PREFIX_LEN
from pipelines.bench.country import bench_catalog, peak_rss_mb


#
# What a competent pandas user writes to do the product's computation from the method (README
# "Indicators and progress"; the docstring of the product's progress module), without its code: read
# the columns the indicators use, evaluate the catalog's expressions with pandas, sum by code prefix
# with groupby, then judge every target × unit × quarter with groupby transforms over a complete
# unit × quarter frame per level, and store the rows. Of the product it uses only ``plan_roots``
# (which registry units a plan applies to).

EPS = 1e-9                  # a value within 1e-9 (relative) of a threshold counts as on it
HALF_YEAR_DAYS = 183        # a field milestone takes the dates reported from half a year before its deadline
STATUS_NAMES = ("met", "met_late", "on_track", "due_soon", "lagging", "severely_lagging", "missed", "no_data")
MET, MET_LATE, ON_TRACK, DUE_SOON, LAGGING, SEVERE, MISSED, NO_DATA = range(8)
_EPOCH_DAY = dt.date(1970, 1, 1).toordinal()


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


def _ancestor(codes: Any, level: str) -> np.ndarray:
    """The code (as an integer) of the unit of ``level`` containing each code: its code prefix."""
    m = 10 ** (12 - PREFIX_LEN[level])
    return (np.asarray(codes, dtype=np.int64) // m) * m


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

    def first_ending_from(self, day: dt.date) -> int:
        """The pidx of the first quarter ending on or after ``day`` (past the last one if none)."""
        hits = np.nonzero(self.end >= day.toordinal())[0]
        return int(self.pidx[hits[0]]) if len(hits) else self.p0 + len(self.names)

    def deadlines(self, t: Any) -> np.ndarray:
        """The deadline (day number) that applies in each quarter: with yearly recurrence 31 December
        of the quarter's year (not after the target's deadline while within its years)."""
        final = t.deadline.toordinal()
        if t.recurrence != "yearly":
            return np.full(len(self), float(final))
        return np.array([min(dt.date(y, 12, 31).toordinal(), final) if y <= t.deadline.year
                         else dt.date(y, 12, 31).toordinal() for y in self.year.tolist()], dtype=float)


def _start_day(t: Any, plan: Any) -> dt.date:
    """The first day counted for a target: the plan's start, or the target's own start if later."""
    return max(plan.period_start, t.start) if t.start else plan.period_start


class _Registry:
    """The units (codes as integers) and, per level, the complete unit × quarter frame sorted by code
    and quarter, with whether the unit exists in the quarter (it existed on any day of it)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, q: _Quarters):
        self.q = q
        self.units = con.execute("SELECT CAST(code AS BIGINT) AS code, level, valid_from, valid_to FROM units "
                                 "ORDER BY code").df()
        self._grids: dict[str, pd.DataFrame] = {}
        self._index: dict[str, pd.Index] = {}

    def grid(self, level: str) -> pd.DataFrame:
        """code, pidx, exists for every unit of ``level`` and quarter."""
        if level not in self._grids:
            u = self.units[self.units["level"] == level]
            P = len(self.q)
            g = pd.DataFrame({"code": np.repeat(u["code"].to_numpy(dtype=np.int64), P),
                              "pidx": np.tile(self.q.pidx, len(u))})
            vf, vt = np.repeat(_days(u["valid_from"]), P), np.repeat(_days(u["valid_to"]), P)
            g["exists"] = ((np.isnan(vf) | (vf <= self.q.at("end", g["pidx"])))
                           & (np.isnan(vt) | (vt >= self.q.at("start", g["pidx"]))))
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


def _sheet_rows(con: duckdb.DuckDBPyConnection, sheet: str, fields: list[str], reg: _Registry) -> pd.DataFrame:
    """The rows that count of one sheet, with only ``fields``: the active return of each township and
    quarter (village and township sheets), or the latest record of each county and year standing for
    every quarter of that year (county sheet); only units of the sheet's level existing in the quarter."""
    cols = "".join(f', v."{f}"' for f in fields)
    q = reg.q
    if sheet == "county":
        rows = con.execute(f"SELECT CAST(v.county_code AS BIGINT) AS code, v.year, v.recorded_at{cols} "
                           "FROM county_values v").df()
        rows = rows.sort_values("recorded_at", kind="stable").drop_duplicates(["code", "year"], keep="last")
        rows = rows.drop(columns="recorded_at").merge(pd.DataFrame({"year": q.year, "pidx": q.pidx}), on="year")
    else:
        key = "village_code" if sheet == "village" else "township_code"
        rows = con.execute(f"SELECT CAST(v.{key} AS BIGINT) AS code, CAST(left(s.period, 4) AS INTEGER) * 4 "
                           f"+ CAST(right(s.period, 1) AS INTEGER) - 1 AS pidx{cols} FROM {sheet}_values v "
                           "JOIN submissions s ON s.id = v.submission_id WHERE s.status = 'active'").df()
        rows["year"] = rows["pidx"] // 4
    pos = reg.position(sheet, rows["code"], rows["pidx"])
    ok = pos >= 0
    ok[ok] = reg.grid(sheet)["exists"].to_numpy()[pos[ok]]
    rows = rows[ok].assign(pos=pos[ok]).sort_values(["code", "pidx"], kind="stable").reset_index(drop=True)
    return rows


def _row_terms(ev: _PandasExpr, ind: Any, n_rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per row: numerator, denominator (NaN where the row is not counted), the not-applicable flag
    (1 where ``among`` is false, NaN where it is blank) and whether the row is counted (``among``
    true and neither term blank)."""
    n = _floats(ev(ind.numerator), n_rows)
    d = _floats(ev(ind.denominator), n_rows) if ind.denominator else np.zeros(n_rows)
    counted = ~np.isnan(n) & ~np.isnan(d)
    x = np.zeros(n_rows)
    if ind.among:
        a = pd.Series(ev(ind.among)).astype("boolean")
        counted &= a.fillna(False).to_numpy(dtype=bool)
        x = np.where(a.isna().to_numpy(), np.nan, (~a.fillna(True)).to_numpy(dtype=float))
    return np.where(counted, n, np.nan), np.where(counted, d, np.nan), x, counted


def _ratio(n: Any, d: Any, ind: Any) -> np.ndarray:
    n = np.asarray(n, dtype=float)
    if ind.denominator is None:
        return n * ind.factor
    d = np.asarray(d, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return n / np.where(d == 0, np.nan, d) * ind.factor


def _sheet_values(rows: pd.DataFrame, sheet: str, inds: list[Any], reg: _Registry, own: set[str],
                  out: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]) -> pd.DataFrame:
    """Every indicator of ``sheet`` at every level above the sheet's and at its own (for ``own``):
    Σ numerator / Σ denominator × factor by code prefix (flows: the sums of the calendar year's
    quarters so far), kept in ``out[(level, indicator)]`` as (value, not applicable) aligned with the
    level's grid. Returns the sheet's indicator table like the product's (township level and above,
    and the sheet's own level for the township and county sheets): code, level, pidx, reported,
    expected, and each indicator's value and contributing rows."""
    ev = _PandasExpr(rows)
    n_rows = len(rows)
    above = [lv for lv in LEVELS if LEVEL_RANK[lv] < LEVEL_RANK[sheet]]
    first = above[-1] if above else None
    table_levels = above + ([sheet] if sheet != "village" else [])
    cols: dict[str, dict[str, np.ndarray]] = {lv: {} for lv in table_levels}
    # coverage: units of the sheet's level existing in the quarter (expected) and reporting (reported)
    src = reg.grid(sheet)
    src = src[src["exists"]]
    for lv in table_levels:
        size = len(reg.grid(lv))
        if lv == sheet:
            cols[lv]["expected"] = reg.grid(lv)["exists"].to_numpy().astype(float)
            cols[lv]["reported"] = np.zeros(size)
            cols[lv]["reported"][rows["pos"].to_numpy()] = 1
            continue
        for name, frame in (("expected", src), ("reported", rows)):
            counts = frame.groupby([_ancestor(frame["code"], lv), frame["pidx"].to_numpy()]).size()
            pos = reg.position(lv, counts.index.get_level_values(0), counts.index.get_level_values(1))
            cols[lv][name] = np.zeros(size)
            cols[lv][name][pos[pos >= 0]] = counts.to_numpy()[pos >= 0]
    if first:
        keys = pd.DataFrame({"code": _ancestor(rows["code"], first), "pidx": rows["pidx"]})
        gid = keys.groupby(["code", "pidx"], sort=True).ngroup().to_numpy()
        firsts = keys.groupby(["code", "pidx"], sort=True).size().rename("reported").reset_index()
    for ind in inds:
        n, d, x, counted = _row_terms(ev, ind, n_rows)
        if ind.id in own:                                # the sheet's own units (each village, township, county)
            on, od = n, d
            if ind.window == "year_to_date":
                by = [rows["code"], rows["year"]]
                on = pd.Series(n).groupby(by).cumsum().to_numpy()
                od = pd.Series(d).groupby(by).cumsum().to_numpy()
            size = len(reg.grid(sheet))
            value, na, contributing = np.full(size, np.nan), np.zeros(size, bool), np.zeros(size)
            pos = rows["pos"].to_numpy()
            value[pos] = np.where(counted, _ratio(on, od, ind), np.nan)
            na[pos] = x == 1
            contributing[pos] = counted
            out[(sheet, ind.id)] = (value, na)
            if sheet in cols:
                cols[sheet][ind.id], cols[sheet][f"{ind.id}__rows"] = value, contributing
        if not first:
            continue
        sums = pd.DataFrame({"n": n, "d": d, "r": counted.astype(float), "x": x}).groupby(gid).sum()
        sums = pd.concat([firsts, sums.reset_index(drop=True)], axis=1)
        for level in reversed(above):
            if level != first:
                sums = (sums.assign(code=_ancestor(sums["code"], level))
                        .groupby(["code", "pidx"], sort=True, as_index=False).sum())
            value, na, contributing = _place_sums(sums, level, ind, reg)
            out[(level, ind.id)] = (value, na)
            cols[level][ind.id], cols[level][f"{ind.id}__rows"] = value, contributing
    frames = []
    for lv in table_levels:
        grid = reg.grid(lv)
        keep = grid["exists"].to_numpy() & (cols[lv]["expected"] > 0)
        data = {"code": grid["code"].to_numpy()[keep], "level": lv, "pidx": grid["pidx"].to_numpy()[keep]}
        data.update({name: arr[keep] for name, arr in cols[lv].items()})
        frames.append(pd.DataFrame(data))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _place_sums(sums: pd.DataFrame, level: str, ind: Any, reg: _Registry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(value, not applicable, contributing rows) of one level from its sums, aligned with its grid:
    only units existing in the quarter; flows summed over the calendar year's quarters so far; no
    value where no row contributed; not applicable where ``among`` is false for every row reported."""
    grid = reg.grid(level)
    pos = reg.position(level, sums["code"], sums["pidx"])
    ok = pos >= 0
    ok[ok] = grid["exists"].to_numpy()[pos[ok]]
    s = sums[ok]
    pos = pos[ok]
    n, d = s["n"], s["d"]
    if ind.window == "year_to_date":
        by = [s["code"], s["pidx"] // 4]
        n, d = n.groupby(by).cumsum(), d.groupby(by).cumsum()
    value, na, contributing = np.full(len(grid), np.nan), np.zeros(len(grid), bool), np.zeros(len(grid))
    value[pos] = np.where(s["r"].to_numpy() > 0, _ratio(n, d, ind), np.nan)
    na[pos] = (s["reported"].to_numpy() > 0) & (s["x"].to_numpy() >= s["reported"].to_numpy())
    contributing[pos] = s["r"].to_numpy()
    return value, na, contributing


def _judged_levels(t: Any, ind: Any, root_level: str) -> tuple[str | None, list[str], list[str]]:
    """(unit level, value levels, share levels) of a target under a plan root of ``root_level``:
    aggregate, trend and band targets at their level and above (aggregate ratios also below, down
    to township); every-unit, count and milestone targets per unit at their level, shares above."""
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


def _meets(x: pd.Series, comparator: str, value: Any, tolerance: float | None) -> pd.Series:
    """Whether each value meets the target (False where there is no value)."""
    if comparator == "between":
        lo, hi = value
        return (x >= lo - EPS * max(1, abs(lo))) & (x <= hi + EPS * max(1, abs(hi)))
    tol = EPS * max(1.0, abs(value))
    return {">=": lambda: x >= value - tol, ">": lambda: x > value + tol, "<=": lambda: x <= value + tol,
            "<": lambda: x < value - tol, "==": lambda: (x - value).abs() <= tol,
            "about": lambda: (x - value).abs() <= (tolerance or 0) + tol}[comparator]()


class _Context:
    """What the judgement of every target shares: catalog, quarters, registry, indicator values."""

    def __init__(self, con: duckdb.DuckDBPyConnection, cat: Catalog, q: _Quarters, reg: _Registry,
                 values: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]):
        self.con, self.cat, self.q, self.reg, self.values = con, cat, q, reg, values
        self.st = cat.settings.progress
        self._fields: dict[tuple[str, str], pd.DataFrame] = {}
        self._inside: dict[tuple[str, tuple[str, ...]], np.ndarray] = {}

    def frame(self, level: str, indicator: str | None = None) -> pd.DataFrame:
        """code, pidx, exists (and value, na of ``indicator``) of every unit of ``level`` and quarter."""
        grid = self.reg.grid(level)
        f = pd.DataFrame({"code": grid["code"], "pidx": grid["pidx"], "exists": grid["exists"]})
        if indicator is not None:
            value, na = self.values.get((level, indicator), (np.full(len(grid), np.nan), np.zeros(len(grid), bool)))
            f["value"], f["na"] = value, na
        return f

    def inside(self, level: str, prefixes: list[str]) -> np.ndarray:
        """Which rows of ``level``'s grid belong to the scope (codes starting with one of ``prefixes``)."""
        key = (level, tuple(prefixes))
        if key not in self._inside:
            self._inside[key] = _inside(self.reg.grid(level)["code"].to_numpy(), prefixes)
        return self._inside[key]

    def field_dates(self, sheet: str, field: str) -> pd.DataFrame:
        """Every date reported in ``field``: code, pidx (county sheet: -1), day (NaN: blank)."""
        key = (sheet, field)
        if key not in self._fields:
            if sheet == "county":
                rows = self.con.execute(f'SELECT CAST(county_code AS BIGINT) AS code, year, recorded_at, "{field}" AS d '
                                        "FROM county_values").df()
                rows = rows.sort_values("recorded_at", kind="stable").drop_duplicates(["code", "year"], keep="last")
                rows["pidx"] = -1
            else:
                rows = self.con.execute(
                    f'SELECT CAST(v.township_code AS BIGINT) AS code, CAST(left(s.period, 4) AS INTEGER) * 4 '
                    f'+ CAST(right(s.period, 1) AS INTEGER) - 1 AS pidx, v."{field}" AS d FROM township_values v '
                    "JOIN submissions s ON s.id = v.submission_id WHERE s.status = 'active'").df()
            self._fields[key] = pd.DataFrame({"code": rows["code"].to_numpy(dtype=np.int64),
                                              "pidx": rows["pidx"].to_numpy(dtype=np.int64), "day": _days(rows["d"])})
        return self._fields[key]


def _judge_values(f: pd.DataFrame, t: Any, plan: Any, ctx: _Context, bounds: tuple, *, done_style: bool = False,
                  T: float | None = None) -> dict[str, Any]:
    """The method on value series: baseline (first value from the start; with yearly recurrence the
    first of each year), pi, tau, projection clamped to the bounds, then the status in order: no value
    → no_data; meets → met; deadline reached → missed; then (done/not-done units) due_soon / on_track,
    or fewer than min_points → no_data, fallen back below a target met at the baseline → lagging,
    projected share P ≥ on_track → on_track, ≥ lagging_floor → lagging, else severely_lagging."""
    q, st = ctx.q, ctx.st
    x = f["value"]
    pidx = f["pidx"].to_numpy()
    pend = pd.Series(q.at("end", pidx), index=f.index)
    D = pd.Series(q.deadlines(t)[pidx - q.p0], index=f.index)
    target = t.value if T is None else T
    lo = float(target[0] if isinstance(target, list) else target)
    has = x.notna()
    valid = has & (f["pidx"] >= q.first_ending_from(_start_day(t, plan)))
    series = pd.DataFrame({"xv": x.where(valid), "tv": pend.where(valid), "valid": valid})
    by = [f["code"], f["pidx"] // 4] if t.recurrence == "yearly" else f["code"]
    g = series.groupby(by, sort=False)                # one grouping for the baseline and the points
    xb, tb = g["xv"].transform("first"), g["tv"].transform("first")
    points = g["valid"].cumsum()
    comparator = ">=" if T is not None else t.comparator
    meets = _meets(x, comparator, target, t.tolerance)
    req = lo - xb                                   # the change required; its sign makes lower-is-better work
    if comparator in (">=", ">"):
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
    share = (projected - xb) / req.where(~fallen & (req != 0))
    if done_style:
        conds = [~has, meets, pend >= D, D - pend <= st.milestone_due_soon_days]
        choices, default = [NO_DATA, MET, MISSED, DUE_SOON], ON_TRACK
    else:
        conds = [~has, meets, pend >= D, points < st.min_points, fallen, share >= st.on_track - EPS,
                 share >= st.lagging_floor - EPS]
        choices, default = [NO_DATA, MET, MISSED, NO_DATA, LAGGING, ON_TRACK, LAGGING], SEVERE
    status = np.select([np.asarray(c, dtype=bool) for c in conds], choices, default).astype(np.int8)
    return {"status": status, "value": x, "pi": pi, "tau": tau, "projected": projected.where(has & ~meets)}


def _flat_tau(f: pd.DataFrame, t: Any, plan: Any, ctx: _Context) -> np.ndarray:
    """tau from the target's start quarter (trend and band targets have no baseline value)."""
    q = ctx.q
    p_start = q.first_ending_from(_start_day(t, plan))
    tb = q.at("end", [p_start])[0] if p_start < q.p0 + len(q) else np.nan
    pidx = f["pidx"].to_numpy()
    span = q.deadlines(t)[pidx - q.p0] - tb
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = np.where(span > 0, (q.at("end", pidx) - tb) / np.where(span > 0, span, 1), 1.0)
    return np.clip(tau, 0, 1)


def _judge_trend(f: pd.DataFrame, t: Any, plan: Any, ctx: _Context, bounds: tuple) -> dict[str, Any]:
    """rising / not_falling against the same quarter a year earlier (yearly recurrence: the last Q4):
    up (or at the upper bound) → met; flat → lagging; down → severely_lagging (not_falling: a fall up to
    the tolerance → met, up to twice → lagging); deadline reached → missed; no value a year earlier → no_data."""
    q = ctx.q
    x = f["value"]
    pidx = f["pidx"].to_numpy()
    back = q.at("quarter", pidx) if t.recurrence == "yearly" else 4
    by_key = pd.Series(x.to_numpy(), index=pd.MultiIndex.from_arrays([f["code"], f["pidx"]]))
    ref = pd.Series(by_key.reindex(pd.MultiIndex.from_arrays([f["code"].to_numpy(), pidx - back])).to_numpy(),
                    index=f.index)
    delta = x - ref
    tol = t.tolerance or 0.0
    at_top = (x >= bounds[1] - EPS) if bounds[1] is not None else pd.Series(False, index=f.index)
    if t.comparator == "rising":
        met = (delta > EPS) | at_top
        lag = delta.abs() <= EPS
    else:
        met = (delta >= -tol - EPS) | at_top
        lag = delta >= -2 * tol - EPS
    known = x.notna() & ref.notna()
    status = np.select([~known.to_numpy(), met.to_numpy(), q.at("end", pidx) >= q.deadlines(t)[pidx - q.p0],
                        lag.to_numpy()], [NO_DATA, MET, MISSED, LAGGING], SEVERE).astype(np.int8)
    return {"status": status, "value": x, "pi": np.nan, "tau": _flat_tau(f, t, plan, ctx), "projected": np.nan}


def _judge_band(f: pd.DataFrame, t: Any, plan: Any, ctx: _Context) -> dict[str, Any]:
    """about T ± tolerance, or between [lo, hi]: inside → met; outside by at most one tolerance (half
    the range) → lagging; further → severely_lagging; outside once the deadline is reached → missed."""
    q = ctx.q
    if t.comparator == "between":
        lo, hi = t.value
        width, centre = (hi - lo) / 2 or 1.0, (lo + hi) / 2
    else:
        lo, hi, width, centre = t.value - t.tolerance, t.value + t.tolerance, t.tolerance, t.value
    x = f["value"]
    outside = np.maximum(lo - x, x - hi)
    pidx = f["pidx"].to_numpy()
    status = np.select([x.isna().to_numpy(), (outside <= EPS * max(1, abs(centre))).to_numpy(),
                        q.at("end", pidx) >= q.deadlines(t)[pidx - q.p0], (outside <= width + EPS).to_numpy()],
                       [NO_DATA, MET, MISSED, LAGGING], SEVERE).astype(np.int8)
    return {"status": status, "value": x, "pi": np.nan, "tau": _flat_tau(f, t, plan, ctx), "projected": np.nan}


def _share_sums(child: pd.DataFrame, counts: dict[str, pd.Series], levels: list[str]) -> dict[str, pd.DataFrame]:
    """Per level (of ``levels``) and quarter, the sums of the boolean ``counts`` over the units below:
    first per unit of the lowest level, then those sums per unit of each level above."""
    sums = {}
    frame = pd.DataFrame({"code": child["code"], "pidx": child["pidx"],
                          **{name: c.to_numpy(dtype=float) for name, c in counts.items()}})
    for level in sorted(levels, key=LEVEL_RANK.get, reverse=True):
        frame = (frame.assign(code=_ancestor(frame["code"], level))
                 .groupby(["code", "pidx"], sort=False, as_index=False).sum())
        sums[level] = frame
    return sums


def _share(ctx: _Context, level: str, sums: pd.DataFrame, count: str) -> np.ndarray:
    """100 × Σ ``count`` / Σ judged per unit of ``level`` (aligned with its grid); no value where no
    unit below is judged or none reported."""
    value = np.full(len(ctx.reg.grid(level)), np.nan)
    pos = ctx.reg.position(level, sums["code"], sums["pidx"])
    ok = (pos >= 0) & (sums["judged"] > 0).to_numpy() & (sums["reported"] > 0).to_numpy()
    value[pos[ok]] = (100.0 * sums[count] / sums["judged"]).to_numpy()[ok]
    return value


def _judge_milestone(f: pd.DataFrame, done: pd.Series, known: pd.Series, deadline: dt.date,
                     ctx: _Context) -> dict[str, Any]:
    """Done by a date: met (done by the deadline), met_late, else — when the unit has reported — on_track,
    due_soon (≤ 7 days left), lagging when overdue (< 91 days) and severely_lagging beyond; no_data otherwise."""
    st = ctx.st
    pend = pd.Series(ctx.q.at("end", f["pidx"]), index=f.index)
    D = float(deadline.toordinal())
    done_by = done <= pend
    left = D - pend
    status = np.select([(done_by & (done <= D)).to_numpy(), done_by.to_numpy(), ~known.to_numpy(),
                        (left > st.milestone_due_soon_days).to_numpy(), (left >= 0).to_numpy(),
                        (-left < st.milestone_severe_after_days).to_numpy()],
                       [MET, MET_LATE, NO_DATA, ON_TRACK, DUE_SOON, LAGGING], SEVERE).astype(np.int8)
    pi = np.where(done_by, 1.0, np.where(known, 0.0, np.nan))
    return {"status": status, "value": pi * 100, "pi": pi, "tau": np.nan, "projected": np.nan}


def _done_style(t: Any, ind: Any) -> bool:
    """Count targets, and every-unit targets on a yes/no per unit, are judged as done / not done."""
    if t.eval == "count":
        return True
    return (t.eval == "every_unit" and ind is not None and ind.compiled["numerator"].type == "bool"
            and (ind.denominator is None or ind.denominator.strip() == "1"))


def _rows(f: pd.DataFrame, judged: dict[str, Any], emit: Any) -> pd.DataFrame:
    """The emitted rows of one level: code, pidx, status, value, pi, tau, projected."""
    emit = np.asarray(emit, dtype=bool)
    out = {"code": f["code"].to_numpy()[emit], "pidx": f["pidx"].to_numpy()[emit]}
    for name in ("status", "value", "pi", "tau", "projected"):
        col = judged[name]
        out[name] = np.broadcast_to(np.asarray(col, dtype=np.int8 if name == "status" else float), emit.shape)[emit]
    return pd.DataFrame(out)


def _judge_target(ctx: _Context, plan: Any, t: Any, root_level: str, prefixes: list[str]
                  ) -> list[tuple[str, pd.DataFrame]]:
    """(level, rows) of every level at which ``t`` is judged in one scope; only the rows emitted (the
    unit is in the scope and exists, from the start quarter on, the indicator applies)."""
    start = ctx.q.first_ending_from(_start_day(t, plan))
    if t.eval == "milestone":
        return _judge_field_milestone(ctx, plan, t, root_level, prefixes, start)
    ind = ctx.cat.indicators[t.indicator]
    bounds = tuple(ind.bounds)
    unit_level, value_levels, share_levels = _judged_levels(t, ind, root_level)
    out = []
    child = None
    for level in value_levels:
        f = ctx.frame(level, t.indicator)
        if t.eval == "trend":
            r = _judge_trend(f, t, plan, ctx, bounds)
        elif t.eval == "band":
            r = _judge_band(f, t, plan, ctx)
        elif t.comparator == "between":                       # a count within [lo, hi]: above hi is lagging
            r = _judge_values(f, t, plan, ctx, bounds, done_style=True)
            r["status"][((f["value"] > t.value[1] + EPS) & (r["status"] != NO_DATA)).to_numpy()] = LAGGING
        else:
            r = _judge_values(f, t, plan, ctx, bounds, done_style=level == unit_level and _done_style(t, ind))
        if level == unit_level:
            child = f
        out.append((level, _rows(f, r, ctx.inside(level, prefixes) & f["exists"] & (f["pidx"] >= start) & ~f["na"])))
    if unit_level is not None and share_levels:
        judged = child["exists"] & ~child["na"]
        meeting = _meets(child["value"], t.comparator, t.value, t.tolerance) & judged
        sums = _share_sums(child, {"meeting": meeting, "judged": judged, "reported": judged & child["value"].notna()},
                           share_levels)
        share_t = t.model_copy(update={"comparator": ">=", "value": 100.0, "tolerance": None})
        for level in share_levels:
            parent = ctx.frame(level)
            parent["value"] = _share(ctx, level, sums[level], "meeting")
            r = _judge_values(parent, share_t, plan, ctx, (0.0, 100.0), T=100.0)
            out.append((level, _rows(parent, r, ctx.inside(level, prefixes) & parent["exists"] & (parent["pidx"] >= start))))
    return out


def _judge_field_milestone(ctx: _Context, plan: Any, t: Any, root_level: str, prefixes: list[str],
                           start: int) -> list[tuple[str, pd.DataFrame]]:
    """A milestone on a date field (county or township sheet): per unit of the target's level from the
    earliest date reported from half a year before each deadline on (several milestones: the first
    not done yet decides), then the share of units done above."""
    q, st = ctx.q, ctx.st
    unit_level, _, share_levels = _judged_levels(t, None, root_level)
    f = ctx.frame(unit_level)
    parts = []
    for m in sorted(t.milestones, key=lambda m: m.deadline):
        dates = ctx.field_dates(t.level, m.field)
        window = (m.deadline - dt.timedelta(days=HALF_YEAR_DAYS)).toordinal()
        done = f["code"].map(dates[dates["day"] >= window].groupby("code")["day"].min()).astype(float)
        if t.level == "county":                      # a yearly sheet: any record makes the county known
            known = f["code"].isin(dates["code"])
        else:                                        # a return in the window, or within the last half year
            known = pd.Series(False, index=f.index)
            for c, p in enumerate(q.pidx.tolist()):
                since = min(window, q.end[c] - HALF_YEAR_DAYS)
                recent = dates["pidx"].between(q.pidx[q.end >= since][0], p)
                known |= (f["pidx"] == p) & f["code"].isin(dates.loc[recent, "code"])
        parts.append(_judge_milestone(f, done, known, m.deadline, ctx))
    r = dict(parts[0])
    done_each = [np.isin(p["status"], (MET, MET_LATE)) for p in parts]
    if len(parts) > 1:
        status = np.full(len(f), -1, dtype=np.int8)
        for p, d in zip(parts, done_each):
            pending = (status < 0) & ~d
            status[pending] = p["status"][pending]
        late = np.any([p["status"] == MET_LATE for p in parts], axis=0)
        status[status < 0] = np.where(late, MET_LATE, MET)[status < 0]
        r["status"], r["pi"] = status, np.sum(done_each, axis=0) / len(parts)
        r["value"] = np.where(status == NO_DATA, np.nan, r["pi"] * 100)
    out = [(unit_level, _rows(f, r, ctx.inside(unit_level, prefixes) & f["exists"] & (f["pidx"] >= start)))]
    known = f["exists"] & (r["status"] != NO_DATA)
    sums = _share_sums(f, {"done": f["exists"] & np.all(done_each, axis=0), "late": f["exists"] & (r["status"] == MET_LATE),
                           "judged": f["exists"], "reported": known}, share_levels)
    deadlines = sorted(float(m.deadline.toordinal()) for m in t.milestones)
    first_open = np.array([next((d for d in deadlines if d >= s), deadlines[-1]) for s in q.start])
    for level in share_levels:
        parent = ctx.frame(level)
        share = pd.Series(_share(ctx, level, sums[level], "done"))
        late = _share(ctx, level, sums[level], "late")
        pidx = parent["pidx"].to_numpy()
        full = share >= 100 - EPS
        left = first_open[pidx - q.p0] - q.at("end", pidx)
        status = np.select([share.isna().to_numpy(), (full & (late > 0)).to_numpy(), full.to_numpy(),
                            left > st.milestone_due_soon_days, left >= 0, -left < st.milestone_severe_after_days],
                           [NO_DATA, MET_LATE, MET, ON_TRACK, DUE_SOON, LAGGING], SEVERE).astype(np.int8)
        emit = ctx.inside(level, prefixes) & parent["exists"] & (parent["pidx"] >= start)
        out.append((level, _rows(parent, {"status": status, "value": share, "pi": share / 100, "tau": np.nan,
                                          "projected": np.nan}, emit)))
    return out


def _judge_task(ctx: _Context, plan: Any, t: Any, records: pd.DataFrame, root_level: str, roots: list[int]
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A task of a task list: per responsible unit from its latest update (done when 已完成 with a
    date), and per plan root: done when every lead unit is done. Returns (department rows, root rows)."""
    q = ctx.q
    start = q.first_ending_from(_start_day(t, plan))
    depts = list(dict.fromkeys(t.lead + t.partners))
    latest = records[records["task_id"] == t.id].set_index("unit")
    done_day = {d: (float(latest.at[d, "day"]) if d in latest.index and latest.at[d, "status"] == "已完成" else np.nan)
                for d in depts}
    f = pd.DataFrame({"department": np.repeat(depts, len(q)), "pidx": np.tile(q.pidx, len(depts))})
    r = _judge_milestone(f, f["department"].map(done_day).astype(float), f["department"].isin(latest.index),
                         t.deadline, ctx)
    dept = pd.concat([f, pd.DataFrame(r, index=f.index)], axis=1)[(f["pidx"] >= start).to_numpy()]
    lead_done = np.array([done_day[d] for d in t.lead], dtype=float)
    all_done = float(np.max(lead_done)) if len(lead_done) and not np.isnan(lead_done).any() else np.nan
    any_known = any(d in latest.index for d in t.lead)
    f = ctx.frame(root_level)
    overall = _judge_milestone(f, pd.Series(all_done, index=f.index), pd.Series(any_known, index=f.index),
                               t.deadline, ctx)
    overall["pi"] = (lead_done[None, :] <= ctx.q.at("end", f["pidx"])[:, None]).sum(axis=1) / max(len(t.lead), 1)
    overall["value"] = np.where(any_known, overall["pi"] * 100, np.nan)
    emit = f["code"].isin(roots) & f["exists"] & (f["pidx"] >= start)
    return dept, _rows(f, overall, emit)


# What the baseline implements (the method as stated in the README); anything else the catalog sets
# would make the product compute something the baseline does not, so the bench refuses to compare.
_IMPLEMENTED = {
    "plan": {"code", "title", "doc_no", "issuer", "issued", "scope", "scope_name", "scope_level", "period_start",
             "period_end", "source", "targets"},
    "target": {"id", "title", "clause", "source_clause", "indicator", "comparator", "value", "tolerance", "unit",
               "deadline", "start", "eval", "level", "recurrence", "lead", "partners", "milestones", "note", "reading"},
    "milestone": {"field", "deadline", "label"},
    "indicator": {"id", "title", "source", "numerator", "denominator", "among", "factor", "unit", "window", "bounds",
                  "description"},
    "settings.progress": {"on_track", "lagging_floor", "regressing_cr", "min_points", "low_confidence_below",
                          "stale_after_quarters", "milestone_due_soon_days", "milestone_severe_after_days"},
}
_COMPARATORS = {">=", ">", "<=", "<", "==", "between", "about", "rising", "not_falling", "done_by"}


def baseline_gaps(cat: Catalog) -> dict[str, list[str]]:
    """Catalog features the pandas baseline does not implement, each with the entries using it
    (empty: the baseline computes what the product computes)."""
    gaps: dict[str, list[str]] = {}

    def check(kind: str, obj: Any, name: str) -> None:
        for f in sorted(set(obj.model_fields_set) - _IMPLEMENTED[kind]):
            gaps.setdefault(f"{kind}.{f}", []).append(name)

    check("settings.progress", cat.settings.progress, "settings.yaml")
    for ind in cat.indicators.values():
        check("indicator", ind, ind.id)
    for plan in cat.plans.values():
        check("plan", plan, plan.code)
        for t in plan.targets:
            check("target", t, t.id)
            for m in t.milestones:
                check("milestone", m, t.id)
            if t.comparator not in _COMPARATORS:
                gaps.setdefault(f"comparator {t.comparator}", []).append(t.id)
            if t.recurrence not in (None, "yearly"):
                gaps.setdefault(f"recurrence {t.recurrence}", []).append(t.id)
            if t.milestones and t.level not in ("county", "township"):
                gaps.setdefault(f"milestone dates on the {t.level} sheet", []).append(t.id)
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


def pandas_baseline(db_path: str, cat: Catalog | None = None) -> dict[str, Any]:
    """The product's computation written as a competent pandas script, stored in ``baseline_progress``
    (plan, target, level, unit, department, pidx, status, value, pi, tau, projected) and
    ``baseline_indicators_{village,township,county}``:

    read only the columns the indicators use, from the active return of each township and quarter
    (village and township sheets) and the latest county record of each year; keep the units existing
    in the quarter (valid_from / valid_to); evaluate each indicator's expressions with pandas (``among``
    filters, blanks left out); sum by code prefix with groupby for every level (ratios of sums; flows
    summed over the year's quarters so far; coverage: reported and expected units; not applicable where
    ``among`` is false for every row); then judge every target of every plan at every level with
    groupby transforms over complete unit × quarter frames: baseline, points, pi, tau, projection and
    status, trend (a year earlier or the last Q4), band, yearly cycles, done/not-done units, shares of
    units meeting above every-unit and count targets, field milestones (earliest date in the window)
    and task lists (latest update per responsible unit; overall when every lead is done)."""
    t0 = time.perf_counter()
    con = duckdb.connect(db_path)
    cat = cat or bench_catalog(con)
    if baseline_gaps(cat):
        con.close()
        raise BaselineIncomplete(gaps_message(baseline_gaps(cat)))
    lo, hi = con.execute("SELECT min(period), max(period) FROM submissions").fetchall()[0]
    q = _Quarters(quarters(lo, hi))
    reg = _Registry(con, q)
    plans_roots = {code: plan_roots(con, cat, code) for code in cat.plans}
    own_village: set[str] = set()          # indicators judged per village (their values are kept per village)
    for code, plan in cat.plans.items():
        for t in plan.targets:
            ind = cat.indicators.get(t.indicator) if t.indicator else None
            for _, root_level in plans_roots[code]:
                unit_level, value_levels, _ = _judged_levels(t, ind, root_level) if ind else (None, [], [])
                if ind is not None and ind.source == "village" and "village" in value_levels + [unit_level]:
                    own_village.add(ind.id)
    values: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    for sheet in ("village", "township", "county"):
        inds = [i for i in cat.indicators.values() if i.source == sheet]
        if not inds:
            continue
        fields = sorted({f for i in inds for e in i.compiled.values() for f in e.fields})
        rows = _sheet_rows(con, sheet, fields, reg)
        own = own_village if sheet == "village" else {i.id for i in inds}
        table = _sheet_values(rows, sheet, inds, reg, own, values)
        del rows
        con.register("_b", table)                   # stored like the product's indicator tables
        con.execute(f"CREATE OR REPLACE TABLE baseline_indicators_{sheet} AS SELECT * FROM _b")
        con.unregister("_b")
        del table
    t_values = time.perf_counter() - t0
    ctx = _Context(con, cat, q, reg, values)
    plans = list(cat.plans)
    targets = [t.id for p in cat.plans.values() for t in p.targets]
    level_names = list(LEVELS) + ["department"]

    def enum(items: list[str] | tuple[str, ...]) -> str:          # catalog ids and fixed words only
        return "ENUM (" + ", ".join(f"'{x}'" for x in items) + ")"
    con.execute(f"CREATE OR REPLACE TABLE {BASELINE_TABLE} (plan {enum(plans)}, target {enum(targets)}, "
                f"level {enum(level_names)}, unit BIGINT, department VARCHAR, pidx SMALLINT, "
                f"status {enum(STATUS_NAMES)}, value DOUBLE, pi DOUBLE, tau DOUBLE, projected DOUBLE)")
    statuses = 0

    def store(plan: str, target: str, level: str, rows: pd.DataFrame) -> None:
        nonlocal statuses
        if not len(rows):
            return
        n = len(rows)
        frame = rows.rename(columns={"code": "unit"}).assign(
            plan=pd.Categorical.from_codes(np.full(n, plans.index(plan), np.int16), plans),
            target=pd.Categorical.from_codes(np.full(n, targets.index(target), np.int16), targets),
            level=pd.Categorical.from_codes(np.full(n, level_names.index(level), np.int8), level_names),
            status=pd.Categorical.from_codes(rows["status"].to_numpy(dtype=np.int8), STATUS_NAMES),
            pidx=rows["pidx"].to_numpy(dtype=np.int16))
        con.register("_b", frame)
        con.execute(f"INSERT INTO {BASELINE_TABLE} BY NAME SELECT * FROM _b")
        con.unregister("_b")
        statuses += n

    for code, plan in cat.plans.items():
        groups: dict[str, list[str]] = {}
        for root, level in plans_roots[code]:
            groups.setdefault(level, []).append(root)
        records = None
        for t in plan.targets:
            if t.eval == "milestone" and t.lead and not t.milestones:        # a task list
                if records is None:
                    records = con.execute("SELECT task_id, unit, status, done_date, recorded_at FROM task_values "
                                          "WHERE plan = ?", [code]).df()
                    records = records.sort_values("recorded_at", kind="stable").drop_duplicates(
                        ["task_id", "unit"], keep="last").assign(day=lambda r: _days(r["done_date"]))
                for n, (root_level, roots) in enumerate(groups.items()):
                    dept, root_rows = _judge_task(ctx, plan, t, records, root_level, [int(r) for r in roots])
                    if n == 0:
                        store(code, t.id, "department", dept)
                    store(code, t.id, root_level, root_rows)
                continue
            for root_level, roots in groups.items():
                prefixes = [r[:PREFIX_LEN[root_level]] for r in roots]
                for level, rows in _judge_target(ctx, plan, t, root_level, prefixes):
                    store(code, t.id, level, rows)
    con.close()
    return {"seconds": round(time.perf_counter() - t0, 2), "statuses": statuses, "peak_mb": round(peak_rss_mb()),
            "values_s": round(t_values, 2)}
