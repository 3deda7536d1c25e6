"""The indicator engine: every indicator of the catalog, at every level and quarter, in DuckDB SQL.

An indicator is Σ numerator / Σ denominator × factor over the rows of one sheet (schemas/indicators.yaml).
The SQL is generated from the compiled expressions of the catalog (``Indicator.compiled``): their
``.sql`` fragments (identifiers from the field list) with their ``.params`` bound in order. No YAML
text and no indicator id is ever pasted into SQL; columns are named by position (n0, d0, …).

Which returns count
    Without ``as_of``: the active submission of every township and quarter. With ``as_of=P``: for
    every township and quarter ≤ P, the submission with the latest ``uploaded_at`` at or before the
    cutoff of P — the reporting due date of P (``settings.reporting.due_day`` of the month after the
    quarter) at the end of that day. Superseded submissions take part in that choice: a re-upload
    made after the cutoff is ignored, the version it replaced is used.

How a value is computed (one scan per source sheet, then a roll-up)
    For each row of the sheet and each indicator: n = numerator and d = denominator when ``among``
    holds and neither is blank, else nothing (booleans count 1/0). Year-to-date indicators (flows)
    sum n and d per unit over the reported quarters of the same calendar year up to the quarter.
    The rows are then summed per unit by CODE PREFIX (village → township = code[:9]+'000', county =
    code[:6]+'000000', city = code[:4]+'00000000', province = code[:2]+'0'*10), keeping only the
    ancestors that exist in ``units`` during the quarter. value = Σn / Σd × factor (a ratio of sums,
    never a mean of ratios), or Σn × factor without a denominator; no contributing row → no value.

Coverage
    ``expected``: units of the source level under the unit that exist during the quarter (registry
    valid_from / valid_to: a unit counts for a quarter if it existed on any day of it — the rule
    ingest uses to expect its row); ``reported``: of them, those with a row in a counted return;
    ``rows``: those contributing to the sums; ``excluded``: rows where ``among`` is false (not
    applicable). A township without a return for a quarter has no value that quarter, nor have its
    villages: never zero.

County sheet (区县情况, yearly)
    For each county and year the latest record (as of the cutoff) counts, and its values stand for
    every quarter of that year (the year's figure so far, e.g. innovation experiments of the year).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import duckdb
import numpy as np
import pandas as pd

from pipelines.catalog.definitions import Catalog, Indicator, catalog
from pipelines.periods import cutoff, parse_period, period_bounds, period_of, pidx, quarters
from pipelines.units import LEVEL_RANK, LEVELS

SOURCE_LEVEL = {"village": "village", "township": "township", "county": "county"}

_ROLLUP = {  # level → SQL giving the code of the ancestor at that level from column "code"
    "township": "substr(code, 1, 9) || '000'",
    "county": "substr(code, 1, 6) || '000000'",
    "city": "substr(code, 1, 4) || '00000000'",
    "province": "substr(code, 1, 2) || '0000000000'",
}

LONG_COLUMNS = ["indicator", "period", "pidx", "unit_code", "level", "num", "den", "value", "rows",
                "reported", "excluded", "expected"]


# ============================================================================ periods

def period_frame(periods: Sequence[str]) -> pd.DataFrame:
    """period, pidx, year, quarter, start_date, end_date of each quarter."""
    rows = []
    for p in periods:
        y, q = parse_period(p)
        start, end = period_bounds(p)
        rows.append({"period": p, "pidx": pidx(p), "year": y, "quarter": q,
                     "start_date": start, "end_date": end})
    frame = pd.DataFrame(rows, columns=["period", "pidx", "year", "quarter", "start_date", "end_date"])
    frame["start_date"] = pd.to_datetime(frame["start_date"]).astype("datetime64[s]")
    frame["end_date"] = pd.to_datetime(frame["end_date"]).astype("datetime64[s]")
    return frame


def data_periods(con: duckdb.DuckDBPyConnection, as_of: str | None = None) -> list[str]:
    """Every quarter from the first with a return to the last (to ``as_of`` when given).

    Without any return, the years of the county sheet give the range.
    """
    lo, hi = con.execute("SELECT min(period), max(period) FROM submissions").fetchall()[0]
    if lo is None:
        y0, y1 = con.execute("SELECT min(year), max(year) FROM county_values").fetchall()[0]
        if y0 is not None:
            lo, hi = f"{y0}Q1", f"{y1}Q4"
    if as_of is not None:
        parse_period(as_of)
        if lo is None or as_of < lo:
            return [as_of]
        hi = as_of
    return quarters(lo, hi) if lo else []


# ============================================================================ SQL pieces

@dataclass
class Fragment:
    """SQL text with ``?`` placeholders and the values bound to them, in order."""

    sql: str
    params: tuple[Any, ...] = ()

    def __add__(self, other: "Fragment | str") -> "Fragment":
        if isinstance(other, str):
            return Fragment(self.sql + other, self.params)
        return Fragment(self.sql + other.sql, self.params + other.params)


def _join(parts: Iterable[Fragment], sep: str) -> Fragment:
    parts = list(parts)
    return Fragment(sep.join(p.sql for p in parts), tuple(x for p in parts for x in p.params))


def _prefix_filter(column: str, prefixes: Sequence[str] | None) -> Fragment:
    """``column`` starts with one of ``prefixes`` (TRUE when there are none)."""
    if not prefixes:
        return Fragment("TRUE")
    return Fragment("(" + " OR ".join(f"starts_with({column}, ?)" for _ in prefixes) + ")", tuple(prefixes))


def selection_sql(as_of: str | None, cat: Catalog) -> Fragment:
    """The submissions that count: (id, township_code, period)."""
    if as_of is None:
        return Fragment("SELECT id, township_code, period FROM submissions WHERE status = 'active'")
    return Fragment(
        "SELECT id, township_code, period FROM ("
        " SELECT id, township_code, period, row_number() OVER ("
        "   PARTITION BY township_code, period ORDER BY uploaded_at DESC, id DESC) AS rn"
        " FROM submissions WHERE period <= ? AND uploaded_at <= ?) WHERE rn = 1",
        (as_of, cutoff(as_of, cat.settings.reporting.due_day)))


def _exists(alias: str, periods: str = "p") -> str:
    return (f"({alias}.valid_from IS NULL OR {alias}.valid_from <= {periods}.end_date) AND "
            f"({alias}.valid_to IS NULL OR {alias}.valid_to >= {periods}.start_date)")


def _row_parts(ind: Indicator, k: int) -> list[Fragment]:
    """n{k}, d{k}, x{k} of one source row: numerator and denominator when counted, among-false flag."""
    num = ind.compiled["numerator"]
    den = ind.compiled.get("denominator")
    among = ind.compiled.get("among")
    conds = []
    if among is not None:
        conds.append(Fragment(f"({among.sql})", among.params))
    conds.append(Fragment(f"({num.sql}) IS NOT NULL", num.params))
    if den is not None:
        conds.append(Fragment(f"({den.sql}) IS NOT NULL", den.params))
    cond = _join(conds, " AND ")
    out = [Fragment("CASE WHEN ") + cond + Fragment(f" THEN {num.as_number_sql()} END AS n{k}", num.params)]
    if den is not None and not _constant_one(den):
        out.append(Fragment("CASE WHEN ") + cond + Fragment(f" THEN {den.as_number_sql()} END AS d{k}", den.params))
    if among is not None:
        out.append(Fragment(f"CASE WHEN ({among.sql}) THEN 0 WHEN NOT ({among.sql}) THEN 1 END AS x{k}",
                            among.params + among.params))
    return out


def _constant_one(c) -> bool:
    """A denominator written "1": Σ d is the number of rows counted."""
    return not c.fields and c.source.strip() in ("1", "1.0")


def _cols(ind: Indicator) -> tuple[bool, bool, bool]:
    """Which columns a row of ``ind`` has: (d, d is the row count, x)."""
    den = ind.compiled.get("denominator")
    return (den is not None and not _constant_one(den), den is not None and _constant_one(den),
            "among" in ind.compiled)


def source_ctes(sheet: str, inds: Sequence[Indicator], as_of: str | None, cat: Catalog,
                prefixes: Sequence[str] | None) -> Fragment:
    """Common table expressions ending in ``rows_``: one row per source unit and quarter with
    code, pidx, n{k}, d{k}, x{k} for each of ``inds`` (no leading WITH).

    Needs the relation ``_rt_periods`` (period_frame) registered on the connection.
    Year-to-date indicators are summed over the calendar year's reported quarters up to the row's.
    """
    parts = _join([p for k, ind in enumerate(inds) for p in _row_parts(ind, k)], ", ")
    # the expressions name fields only: the rows are selected in a subquery whose columns are the
    # sheet's own (v.*) plus _code, _pidx, _year, so that no column of units or sel can clash
    if sheet in ("village", "township"):
        table, code = ("village_values", "v.village_code") if sheet == "village" else ("township_values", "s.township_code")
        inner = (Fragment(f"SELECT v.*, {code} AS _code, p.pidx AS _pidx, p.year AS _year FROM {table} v"
                          " JOIN sel s ON v.submission_id = s.id JOIN _rt_periods p ON p.period = s.period"
                          f" JOIN units u ON u.code = {code} AND u.level = '{sheet}' AND {_exists('u')}"
                          " WHERE ") + _prefix_filter(code, prefixes))
        ctes = Fragment("sel AS (") + selection_sql(as_of, cat) + ")"
    elif sheet == "county":
        recorded = (Fragment("TRUE") if as_of is None
                    else Fragment("recorded_at <= ?", (cutoff(as_of, cat.settings.reporting.due_day),)))
        ctes = (Fragment("cv AS (SELECT * EXCLUDE (rn) FROM (SELECT *, row_number() OVER (PARTITION BY county_code, year"
                         " ORDER BY recorded_at DESC) AS rn FROM county_values WHERE ") + recorded + ") WHERE rn = 1)")
        inner = (Fragment("SELECT v.*, v.county_code AS _code, p.pidx AS _pidx, p.year AS _year FROM cv v"
                          " JOIN _rt_periods p ON p.year = v.year"
                          f" JOIN units u ON u.code = v.county_code AND u.level = 'county' AND {_exists('u')}"
                          " WHERE ") + _prefix_filter("v.county_code", prefixes))
    else:
        raise ValueError(f"no indicators on sheet {sheet!r}")
    ctes = (ctes + Fragment(", src AS (SELECT _code AS code, _pidx AS pidx, _year AS year, ") + parts
            + Fragment(" FROM (") + inner + "))")
    return ctes + Fragment(", rows_ AS (SELECT * EXCLUDE (year) FROM src)")


def _sources(inds: Iterable[Indicator]) -> dict[str, list[Indicator]]:
    out: dict[str, list[Indicator]] = {}
    for ind in inds:
        out.setdefault(ind.source, []).append(ind)
    return out


def register_frame(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> None:
    """Register ``frame`` as relation ``name`` on ``con`` (replacing an earlier one of that name)."""
    try:
        con.unregister(name)
    except Exception:  # noqa: BLE001 - not registered yet
        pass
    con.register(name, frame)


# ============================================================================ computing

class SheetValues:
    """Sums of one source sheet's indicators per unit and quarter, wide: one row per (unit, quarter)
    with unit_code, level, pidx, expected, reported and n{k}, d{k}, r{k}, x{k} for the k-th of
    ``indicators``. Held as numpy columns (``array``); ``frame`` gives a DataFrame."""

    def __init__(self, sheet: str, indicators: list[Indicator], data: pd.DataFrame | dict[str, np.ndarray],
                 levels: frozenset[str] | None = None) -> None:
        self.sheet, self.indicators = sheet, list(indicators)
        self._cache: dict[str, np.ndarray] = {}
        if isinstance(data, pd.DataFrame):
            self._frame: pd.DataFrame | None = data
            self.columns = {c: None for c in data.columns}
        else:
            self._frame = None
            self.columns = {}
            for name, col in data.items():
                if name in ("unit_code", "level"):
                    arr = np.asarray(np.ma.filled(col, None) if np.ma.isMaskedArray(col) else col, dtype=object)
                elif name == "unit_int":
                    arr = np.asarray(col, dtype=np.int64)
                elif np.ma.isMaskedArray(col):
                    arr = np.ma.filled(col.astype(float), np.nan)
                else:
                    arr = np.asarray(col, dtype=float)
                self._cache[name] = arr
                self.columns[name] = None
        if levels:
            self.levels = levels
        else:
            self.levels = frozenset(np.unique(self.array("level"))) if len(self) else frozenset()

    def __len__(self) -> int:
        return len(self._frame) if self._frame is not None else len(self._cache.get("pidx", ()))

    @property
    def frame(self) -> pd.DataFrame:
        """The sums as a DataFrame."""
        if self._frame is None:
            self._frame = pd.DataFrame({c: self._cache[c] for c in self.columns})
        return self._frame

    def array(self, name: str) -> np.ndarray:
        """A column as a numpy array (floats with NaN for NULL; codes and levels as objects), cached."""
        if name not in self._cache:
            col = self.frame[name]
            if name in ("unit_code", "level"):
                self._cache[name] = col.to_numpy(dtype=object)
            else:
                self._cache[name] = col.to_numpy(dtype=float, na_value=np.nan)
        return self._cache[name]

    def values_of(self, k: int) -> np.ndarray:
        """``value(k)`` over all rows, cached."""
        key = f"_value{k}"
        if key not in self._cache:
            self._cache[key] = self.value(k)
        return self._cache[key]

    def value(self, k: int, rows: np.ndarray | None = None) -> np.ndarray:
        """Σn / Σd × factor (Σn × factor without a denominator); NaN where no row contributed."""
        ind = self.indicators[k]
        n = self.array(f"n{k}")
        r = np.nan_to_num(self.array(f"r{k}"))
        with np.errstate(divide="ignore", invalid="ignore"):
            if ind.denominator is not None:
                d = self.array(f"d{k}")
                v = n / np.where(d == 0, np.nan, d)
            else:
                v = n.copy()
        v = v * ind.factor
        v[~(r > 0)] = np.nan
        return v if rows is None else v[rows]

    def index(self, indicator: str) -> int:
        """The position k of ``indicator`` among the sheet's indicators (its columns n{k}, d{k}, …)."""
        return next(k for k, ind in enumerate(self.indicators) if ind.id == indicator)


def compute_wide(con: duckdb.DuckDBPyConnection, cat: Catalog | None = None, *, as_of: str | None = None,
                 indicators: Iterable[str] | None = None, levels: Iterable[str] | None = None,
                 prefixes: Sequence[str] | None = None, periods: Sequence[str] | None = None) -> dict[str, SheetValues]:
    """Indicator sums per source sheet, wide (see ``compute`` for the arguments)."""
    cat = cat or catalog()
    ids = list(indicators) if indicators is not None else list(cat.indicators)
    inds = [cat.indicators[i] for i in ids]
    periods = list(periods) if periods is not None else data_periods(con, as_of)
    if as_of is not None:
        periods = [p for p in periods if p <= as_of]
    wanted = set(levels) if levels is not None else set(LEVELS)
    out: dict[str, SheetValues] = {}
    if not inds or not periods:
        return out
    requested = sorted(set(periods))
    calc = requested
    if any(ind.window == "year_to_date" for ind in inds):   # flows need the year's earlier quarters
        calc = quarters(min(f"{requested[0][:4]}Q1", requested[0]), requested[-1])
    keep = np.array([pidx(p) for p in requested], dtype=float)
    register_frame(con, "_rt_periods", period_frame(calc))
    try:
        for sheet, group in _sources(inds).items():
            src_level = SOURCE_LEVEL[sheet]
            lv = [lvl for lvl in LEVELS if LEVEL_RANK[lvl] <= LEVEL_RANK[src_level] and lvl in wanted]
            if lv:
                data = _sheet_sums(con, cat, sheet, group, as_of, prefixes, lv)
                if calc != requested:
                    mask = np.isin(np.asarray(data["pidx"], dtype=float), keep)
                    data = {k: v[mask] for k, v in data.items()}
                out[sheet] = SheetValues(sheet, group, data, frozenset(lv))
    finally:
        con.unregister("_rt_periods")
    return out


def compute(con: duckdb.DuckDBPyConnection, cat: Catalog | None = None, *, as_of: str | None = None,
            indicators: Iterable[str] | None = None, levels: Iterable[str] | None = None,
            prefixes: Sequence[str] | None = None, periods: Sequence[str] | None = None) -> pd.DataFrame:
    """Indicator values in long form, one row per indicator × unit × quarter (``LONG_COLUMNS``).

    ``indicators``: ids (default: all); ``levels``: levels to return (default: all from the source
    level up); ``prefixes``: only units whose code starts with one of them (their subtrees: a unit
    above a prefix is left out, its value would be partial); ``periods``: quarters (default: every
    quarter with data, up to ``as_of``). Every unit of a level at or above the source level that
    exists in the quarter and has source units under it gets a row; ``value`` is None where no
    contributing row exists.
    """
    wide = compute_wide(con, cat, as_of=as_of, indicators=indicators, levels=levels, prefixes=prefixes,
                        periods=periods)
    frames = [to_long(sv) for sv in wide.values()]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=LONG_COLUMNS)


def to_long(sv: SheetValues) -> pd.DataFrame:
    """The wide sums of one sheet as long rows (``LONG_COLUMNS``)."""
    if not len(sv):
        return pd.DataFrame(columns=LONG_COLUMNS)
    pid = sv.array("pidx").astype(np.int64)
    names = {i: period_of(int(i)) for i in np.unique(pid)}
    period = np.array([names[i] for i in pid], dtype=object)
    parts = []
    for k, ind in enumerate(sv.indicators):
        parts.append(pd.DataFrame({
            "indicator": ind.id, "period": period, "pidx": pid, "unit_code": sv.array("unit_code"),
            "level": sv.array("level"), "num": sv.array(f"n{k}"),
            "den": sv.array(f"d{k}") if ind.denominator is not None else np.nan,
            "value": sv.values_of(k),
            "rows": np.nan_to_num(sv.array(f"r{k}")).astype(np.int64),
            "reported": sv.array("reported").astype(np.int64),
            "excluded": np.nan_to_num(sv.array(f"x{k}")).astype(np.int64),
            "expected": sv.array("expected").astype(np.int64),
        }))
    return pd.concat(parts, ignore_index=True)


def sums_sql(sheet: str, inds: Sequence[Indicator], as_of: str | None, cat: Catalog,
             prefixes: Sequence[str] | None, levels: Sequence[str]) -> Fragment:
    """SQL of the wide sums of ``sheet``'s indicators at ``levels``: one row per unit and quarter with
    unit_code, level, pidx, expected, reported and n{k}, d{k}, r{k}, x{k} for the k-th indicator.

    The rows are summed first per unit of the level just above the source (e.g. per township), then
    those sums per county, city and province (GROUPING SETS); the source level's own rows are passed
    through. Year-to-date indicators are then summed per unit over the quarters of the calendar year
    up to the quarter (a unit with no return in the quarter has no row, hence no value): the flows
    of every return of the year received so far.
    Needs ``_rt_periods`` (period_frame) registered on the connection.
    """
    src_level = SOURCE_LEVEL[sheet]
    ks = range(len(inds))
    shape = [_cols(ind) for ind in inds]
    src = source_ctes(sheet, inds, as_of, cat, prefixes)
    higher = [lvl for lvl in LEVELS if LEVEL_RANK[lvl] < LEVEL_RANK[src_level]]
    want_higher = [lvl for lvl in higher if lvl in levels]

    def agg1(k: int) -> str:        # over source rows
        has_d, _, has_x = shape[k]
        return (f"sum(n{k}) AS n{k}, count(n{k}) AS r{k}" + (f", sum(d{k}) AS d{k}" if has_d else "")
                + (f", sum(x{k}) AS x{k}" if has_x else ""))

    def agg2(k: int) -> str:        # over sums
        has_d, _, has_x = shape[k]
        return (f"sum(n{k}) AS n{k}, sum(r{k}) AS r{k}" + (f", sum(d{k}) AS d{k}" if has_d else "")
                + (f", sum(x{k}) AS x{k}" if has_x else ""))

    def own(k: int) -> str:         # a source row as its own unit
        has_d, _, has_x = shape[k]
        return (f"n{k}, CAST(n{k} IS NOT NULL AS BIGINT) AS r{k}" + (f", d{k}" if has_d else "")
                + (f", x{k}" if has_x else ""))

    parts: list[str] = []
    exp_parts: list[Fragment] = []
    pf = _prefix_filter("u.code", prefixes)
    if want_higher:
        first, up = higher[-1], higher[:-1]          # the level just above the source, and the ones above it
        lift = ", ".join(f"{_ROLLUP[lvl].replace('code', first)} AS {lvl}" for lvl in up)
        grouped = [lvl for lvl in [first] + up if lvl in levels]
        unit = ("CASE " + " ".join(f"WHEN grouping({lvl}) = 0 THEN {lvl}" for lvl in grouped) + " END"
                if len(grouped) > 1 else grouped[0])
        sets = ", ".join(f"(pidx, {lvl})" for lvl in grouped)
        parts.append(
            f"SELECT pidx, {unit} AS unit_code, sum(reported) AS reported, {', '.join(agg2(k) for k in ks)} FROM ("
            f"SELECT *{', ' + lift if lift else ''} FROM (SELECT pidx, {_ROLLUP[first]} AS {first}, count(*) AS reported, "
            f"{', '.join(agg1(k) for k in ks)} FROM rows_ GROUP BY ALL)) GROUP BY GROUPING SETS ({sets})")
        exp_parts.append(Fragment(
            f"SELECT pidx, {unit} AS unit_code, sum(expected) AS expected FROM (SELECT *{', ' + lift if lift else ''}"
            f" FROM (SELECT p.pidx, {_ROLLUP[first].replace('code', 'u.code')} AS {first}, count(*) AS expected"
            f" FROM units u JOIN _rt_periods p ON {_exists('u')} WHERE u.level = ? AND ", (src_level,))
            + pf + f" GROUP BY ALL)) GROUP BY GROUPING SETS ({sets})")
    if src_level in levels:
        parts.append(f"SELECT pidx, code AS unit_code, CAST(1 AS BIGINT) AS reported, {', '.join(own(k) for k in ks)}"
                     " FROM rows_")
        exp_parts.append(Fragment(f"SELECT p.pidx, u.code AS unit_code, CAST(1 AS BIGINT) AS expected FROM units u"
                                  f" JOIN _rt_periods p ON {_exists('u')} WHERE u.level = ? AND ", (src_level,)) + pf)
    out_cols = []
    for k, ind in enumerate(inds):
        has_d, one, has_x = shape[k]
        d = f"a.d{k}" if has_d else (f"CAST(a.r{k} AS DOUBLE)" if one else "CAST(NULL AS DOUBLE)")
        n = f"a.n{k}"
        if ind.window == "year_to_date":
            w = "OVER (PARTITION BY keep.unit_code, p.year ORDER BY keep.pidx ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
            n, d = f"CASE WHEN a.pidx IS NOT NULL THEN sum({n}) {w} END", f"CASE WHEN a.pidx IS NOT NULL THEN sum({d}) {w} END"
        out_cols.append(f"{n} AS n{k}, {d} AS d{k}, coalesce(a.r{k}, 0) AS r{k}, "
                        + (f"coalesce(a.x{k}, 0) AS x{k}" if has_x else f"0 AS x{k}"))
    return (Fragment("WITH ") + src + Fragment(", agg AS (" + " UNION ALL ".join(parts) + "), exp AS (")
            + _join(exp_parts, " UNION ALL ") + Fragment(
        "), keep AS (SELECT e.pidx, e.unit_code, u.level, e.expected FROM exp e"
        " JOIN _rt_periods p ON p.pidx = e.pidx"
        f" JOIN units u ON u.code = e.unit_code AND {_exists('u')} WHERE ") + _prefix_filter("e.unit_code", prefixes)
        + Fragment(
        ") SELECT keep.unit_code, keep.level, keep.pidx, keep.expected, coalesce(a.reported, 0) AS reported, "
        + ", ".join(out_cols) + " FROM keep JOIN _rt_periods p ON p.pidx = keep.pidx"
        " LEFT JOIN agg a ON a.pidx = keep.pidx AND a.unit_code = keep.unit_code"))


def unit_values_sql(sheet: str, inds: Sequence[Indicator], as_of: str | None, cat: Catalog,
                    prefixes: Sequence[str] | None) -> Fragment:
    """SQL of the values of ``inds`` for each source unit itself (e.g. each village) and quarter:
    unit_code, pidx, v{k} (the value; NULL without one) and x{k} (1 where ``among`` is false) —
    leaner than ``sums_sql`` when only the units' own values are needed."""
    src = source_ctes(sheet, inds, as_of, cat, prefixes)
    cols = []
    for k, ind in enumerate(inds):
        has_d, one, has_x = _cols(ind)
        n = f"n{k}"
        if ind.window == "year_to_date":
            w = "OVER (PARTITION BY code, pidx // 4 ORDER BY pidx ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
            n = f"sum(n{k}) {w}"
            d = f"sum(d{k}) {w}" if has_d else ("sum(1) " + w if one else None)
        else:
            d = f"d{k}" if has_d else ("1.0" if one else None)
        v = f"{n} / nullif({d}, 0)" if d else n
        cols.append(f"CASE WHEN n{k} IS NOT NULL THEN ({v}) * {float(ind.factor)!r} END AS v{k}")
        if has_x:
            cols.append(f"x{k}")
    return Fragment("WITH ") + src + Fragment(" SELECT code AS unit_code, pidx, " + ", ".join(cols) + " FROM rows_")


class UnitValues(SheetValues):
    """Values of source units themselves (``unit_values_sql``): one unit, one row; value in v{k}."""

    def array(self, name: str) -> np.ndarray:
        if name not in self._cache and name not in self.columns:
            n = len(self)
            if name in ("reported", "expected"):
                self._cache[name] = np.ones(n)
            elif name.startswith("x"):
                self._cache[name] = np.zeros(n)
            elif name.startswith("r"):
                self._cache[name] = (~np.isnan(self.array(f"v{name[1:]}"))).astype(float)
            elif name == "level":
                self._cache[name] = np.full(n, self.sheet, dtype=object)
        return super().array(name)

    def value(self, k: int, rows: np.ndarray | None = None) -> np.ndarray:
        v = self.array(f"v{k}")
        return v if rows is None else v[rows]


def _sheet_sums(con: duckdb.DuckDBPyConnection, cat: Catalog, sheet: str, inds: list[Indicator],
                as_of: str | None, prefixes: Sequence[str] | None, levels: list[str]) -> dict[str, np.ndarray]:
    """One scan of ``sheet`` and its roll-up to ``levels`` (wide, see ``sums_sql``), as numpy columns."""
    sql = sums_sql(sheet, inds, as_of, cat, prefixes, levels)
    return con.execute(f"SELECT * FROM ({sql.sql}) ORDER BY level, unit_code, pidx", list(sql.params)).fetchnumpy()
