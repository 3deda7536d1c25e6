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

Coverage (plain form: the columns ``expected`` and ``reported``)
    ``expected``: units of the source level under the unit that exist during the quarter (registry
    valid_from / valid_to: a unit counts for a quarter if it existed on any day of it — the rule
    ingest uses to expect its row); ``reported``: of them, those with a row in a counted return;
    ``rows``: those contributing to the sums; ``excluded``: rows where ``among`` is false (not
    applicable). A township without a return for a quarter has no value that quarter, nor have its
    villages: never zero.

Populations (issue 9 §1)
    A target counts the village-level units of its ``population``: 村 → 村委会, 社区 → 居委会,
    村(社区) → both (the registry's ``committee_type``, else the code's last three digits); and, on
    the township sheet, the townships of its ``township_kind`` (乡镇 → 镇 and 乡). An indicator is
    summed over every row (its plain form, k = its position, so stored sums keep their meaning) and,
    where a target is judged on sums above the source sheet (``needs_sums``: aggregate, trend, band,
    counts per higher unit), over that target's population too: a ``Variant``, one column group each
    (``sheet_variants``). Numerator, denominator, ``among`` and the expected units all follow the
    population. The scan stays one: the rows are summed per unit of the level above the source AND
    per kind of source unit (``kind_sql``: 村委会 / 居委会 / 其他; 街道 / 镇 / 乡), and a population is
    a choice among those few partial sums before the roll-up (GROUPING SETS). Targets judged unit by
    unit (every-unit, milestones at the source level) need no sums of their own: their population
    masks the source units (pipelines.compute.scope), whose coverage is summed above.

Plus (``Indicator.plus``)
    Sums of an expression over the township rows (and the county sheet's yearly records) of a unit
    are added to its numerator, and to that of every unit above it; the denominator and ``among``
    stay on the source sheet. The plus rows (a small scan of those sheets) join the roll-up of the
    source sheet's scan.

Coverage per variant
    ``eg{g}`` (``expected_groups``: one column per population, ``among`` indicator and ``plus``, shared
    by the variants counting the same units): the units expected for the value — source units of the
    population existing in the quarter, less those whose latest known ``among`` is false (an interval
    per known value, carried over quarters without a return), plus with ``plus`` the townships (and
    counties) under the unit; ``r{k}``: the source rows counted; ``c{k}`` (variants with ``plus``):
    ``r{k}`` plus the plus rows reported. coverage = (c or r) / e (``SheetValues.coverage_columns``).

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
from pipelines.units import LEVEL_RANK, LEVELS, POPULATION_TYPES, TOWNSHIP_KIND_TYPES

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
    """The submissions that count: (id, township_code, period) — the active ones (as of a quarter: the
    latest received by its due date), approved ones only when ``settings.review.progress_uses`` says so."""
    approved = " AND review_status = 'approved'" if cat.settings.review.progress_uses == "approved" else ""
    if as_of is None:
        return Fragment(f"SELECT id, township_code, period FROM submissions WHERE status = 'active'{approved}")
    return Fragment(
        "SELECT id, township_code, period FROM ("
        " SELECT id, township_code, period, row_number() OVER ("
        "   PARTITION BY township_code, period ORDER BY uploaded_at DESC, id DESC) AS rn"
        f" FROM submissions WHERE period <= ? AND uploaded_at <= ?{approved}) WHERE rn = 1",
        (as_of, cutoff(as_of, cat.settings.reporting.due_day)))


def _exists(alias: str, periods: str = "p") -> str:
    return (f"({alias}.valid_from IS NULL OR {alias}.valid_from <= {periods}.end_date) AND "
            f"({alias}.valid_to IS NULL OR {alias}.valid_to >= {periods}.start_date)")


# committee types and township types as small integers in SQL (pipelines.units; same as scope.VILLAGE_KINDS)
_VILLAGE_KIND_SQL = (
    "CASE coalesce({col}, CASE WHEN substr({code}, 10, 3) BETWEEN '001' AND '199' THEN '居委会' "
    "WHEN substr({code}, 10, 3) BETWEEN '200' AND '399' THEN '村委会' END) "
    "WHEN '村委会' THEN 1 WHEN '居委会' THEN 2 ELSE 0 END")
_TOWNSHIP_KIND_SQL = ("CASE WHEN substr({code}, 7, 3) BETWEEN '001' AND '099' THEN 1 "
                      "WHEN substr({code}, 7, 3) BETWEEN '100' AND '199' THEN 2 "
                      "WHEN substr({code}, 7, 3) BETWEEN '200' AND '399' THEN 3 ELSE 0 END")
_KIND_INTS = {"村委会": 1, "居委会": 2, "街道": 1, "镇": 2, "乡": 3}


def kind_sql(sheet: str, alias: str = "u", committee_type: bool = True) -> str:
    """SQL of the kind of the unit ``alias`` as a small integer: village level 1 村委会, 2 居委会 (the
    registry's committee_type, else the code's last three digits), township level 1 街道, 2 镇, 3 乡;
    0 otherwise. ``committee_type=False`` for a units table without that column (code only)."""
    if sheet == "village":
        return _VILLAGE_KIND_SQL.format(col=f"{alias}.committee_type" if committee_type else "NULL",
                                        code=f"{alias}.code")
    if sheet == "township":
        return _TOWNSHIP_KIND_SQL.format(code=f"{alias}.code")
    return "0"


@dataclass(frozen=True)
class Variant:
    """An indicator over one population of its source sheet's rows: ``population`` (village sheet:
    村 / 社区 / 村(社区)) or ``township_kind`` (township sheet: 乡镇); both None = every row."""

    indicator: Indicator
    population: str | None = None
    township_kind: str | None = None

    @property
    def key(self) -> tuple[str, str | None, str | None]:
        """(indicator id, population, township kind)."""
        return self.indicator.id, self.population, self.township_kind

    def kinds(self) -> tuple[int, ...] | None:
        """The unit kinds (``kind_sql``) counted, None for every row."""
        if self.population is not None:
            return tuple(_KIND_INTS[k] for k in POPULATION_TYPES[self.population])
        if self.township_kind is not None and TOWNSHIP_KIND_TYPES[self.township_kind] is not None:
            return tuple(_KIND_INTS[k] for k in TOWNSHIP_KIND_TYPES[self.township_kind])
        return None


def variant_key(t: Any, ind: Indicator) -> tuple[str | None, str | None]:
    """(population, township kind) of target ``t``'s values of ``ind``: the population on the village
    sheet, the township kind 乡镇 on the township sheet; None where every row counts."""
    if ind.source == "village":
        return getattr(t, "population", None), None
    if ind.source == "township" and getattr(t, "township_kind", None) == "乡镇":
        return None, "乡镇"
    return None, None


def needs_sums(t: Any, ind: Indicator) -> bool:
    """Whether target ``t`` is judged on sums of ``ind`` above its source sheet (aggregate, trend and
    band targets; counts per unit of a higher level) — and so needs its population's column group.
    Every-unit and milestone targets at the source level are judged unit by unit: their population
    is a mask of the source units (pipelines.compute.scope) and their coverage above is summed
    from those units."""
    return t.eval in ("aggregate", "trend", "band") or LEVEL_RANK[t.level] < LEVEL_RANK[ind.source]


def sheet_variants(cat: Catalog, sheet: str, inds: Sequence[Indicator | Variant]) -> list[Variant]:
    """The column groups of a sheet's sums: every indicator of ``inds`` over every row first (k = its
    position), then each population / township kind the catalog's targets are judged on above the
    source sheet (``needs_sums``), in a fixed order (so that stored sums are read back with the same k)."""
    out = [i if isinstance(i, Variant) else Variant(i) for i in inds]
    if any(v.population is not None or v.township_kind is not None for v in out):
        return out                                  # already explicit
    order = {v.indicator.id: n for n, v in enumerate(out)}
    extra: set[tuple[str, str | None, str | None]] = set()
    for _, t in cat.targets():
        if t.indicator in order and needs_sums(t, cat.indicators[t.indicator]):
            pop, tk = variant_key(t, cat.indicators[t.indicator])
            if pop is not None or tk is not None:
                extra.add((t.indicator, pop, tk))
    for ind_id, pop, tk in sorted(extra, key=lambda e: (order[e[0]], e[1] or "", e[2] or "")):
        out.append(Variant(out[order[ind_id]].indicator, pop, tk))
    return out


def _kind_cond(v: Variant) -> Fragment | None:
    kinds = v.kinds()
    if kinds is None:
        return None
    return Fragment("_kind IN (" + ", ".join("?" for _ in kinds) + ")", tuple(kinds))


def _row_parts(v: Variant | Indicator, k: int) -> list[Fragment]:
    """n{k}, d{k}, x{k} of one source row: numerator and denominator when counted (the row is of
    the variant's population, ``among`` holds and neither is blank), among-false flag (rows of the
    population only)."""
    v = v if isinstance(v, Variant) else Variant(v)
    ind = v.indicator
    num = ind.compiled["numerator"]
    den = ind.compiled.get("denominator")
    among = ind.compiled.get("among")
    kind = _kind_cond(v)
    conds = [kind] if kind is not None else []
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
        head = (Fragment("CASE WHEN NOT (") + kind + ") THEN NULL") if kind is not None else Fragment("CASE")
        out.append(head + Fragment(f" WHEN ({among.sql}) THEN 0 WHEN NOT ({among.sql}) THEN 1 END AS x{k}",
                                   among.params + among.params))
    return out


def _constant_one(c) -> bool:
    """A denominator written "1": Σ d is the number of rows counted."""
    return not c.fields and c.source.strip() in ("1", "1.0")


def _cols(ind: Indicator | Variant) -> tuple[bool, bool, bool]:
    """Which columns a row of ``ind`` has: (d, d is the row count, x)."""
    ind = ind.indicator if isinstance(ind, Variant) else ind
    den = ind.compiled.get("denominator")
    return (den is not None and not _constant_one(den), den is not None and _constant_one(den),
            "among" in ind.compiled)


def _plus(v: Variant) -> dict[str, Any]:
    """The compiled ``plus`` expressions of a variant's indicator (sheet → Compiled)."""
    return dict(getattr(v.indicator, "compiled_plus", None) or {})


def _county_latest(as_of: str | None, cat: Catalog) -> Fragment:
    """The latest county-sheet record of every county and year (as of the cutoff of ``as_of``)."""
    recorded = (Fragment("TRUE") if as_of is None
                else Fragment("recorded_at <= ?", (cutoff(as_of, cat.settings.reporting.due_day),)))
    return (Fragment("SELECT * EXCLUDE (rn) FROM (SELECT *, row_number() OVER (PARTITION BY county_code, year"
                     " ORDER BY recorded_at DESC) AS rn FROM county_values WHERE ") + recorded + ") WHERE rn = 1")


def _inner_rows(sheet: str, committee_type: bool, prefixes: Sequence[str] | None) -> Fragment:
    """The counted rows of ``sheet`` with the sheet's own columns (v.*) plus _code, _pidx, _year, _kind
    (needs the CTE ``sel``, or ``cv`` for the county sheet, and ``_rt_periods``)."""
    if sheet in ("village", "township"):
        table, code = ("village_values", "v.village_code") if sheet == "village" else ("township_values", "s.township_code")
        return (Fragment(f"SELECT v.*, {code} AS _code, p.pidx AS _pidx, p.year AS _year, u.valid_to AS _vto, "
                         f"{kind_sql(sheet, 'u', committee_type)} AS _kind FROM {table} v"
                         " JOIN sel s ON v.submission_id = s.id JOIN _rt_periods p ON p.period = s.period"
                         f" JOIN units u ON u.code = {code} AND u.level = '{sheet}' AND {_exists('u')}"
                         " WHERE ") + _prefix_filter(code, prefixes))
    if sheet == "county":
        return (Fragment("SELECT v.*, v.county_code AS _code, p.pidx AS _pidx, p.year AS _year, u.valid_to AS _vto, "
                         "0 AS _kind FROM cv v"
                         " JOIN _rt_periods p ON p.year = v.year"
                         f" JOIN units u ON u.code = v.county_code AND u.level = 'county' AND {_exists('u')}"
                         " WHERE ") + _prefix_filter("v.county_code", prefixes))
    raise ValueError(f"no indicators on sheet {sheet!r}")


def source_ctes(sheet: str, inds: Sequence[Indicator | Variant], as_of: str | None, cat: Catalog,
                prefixes: Sequence[str] | None, committee_type: bool = True) -> Fragment:
    """Common table expressions ending in ``rows_``: one row per source unit and quarter with
    code, pidx, _kind (``kind_sql``), n{k}, d{k}, x{k} for each of ``inds`` (indicators or
    variants; no leading WITH). ``sel`` (or ``cv``) is defined here too.

    Needs the relation ``_rt_periods`` (period_frame) registered on the connection.
    Year-to-date indicators are summed over the calendar year's reported quarters up to the row's.
    """
    if sheet not in SOURCE_LEVEL:
        raise ValueError(f"no indicators on sheet {sheet!r}")
    parts = _join([p for k, ind in enumerate(inds) for p in _row_parts(ind, k)], ", ")
    # the expressions name fields only: the rows are selected in a subquery whose columns are the
    # sheet's own (v.*) plus _code, _pidx, _year, _kind, so that no column of units or sel can clash
    if sheet == "county":
        ctes = Fragment("cv AS (") + _county_latest(as_of, cat) + ")"
    else:
        ctes = Fragment("sel AS (") + selection_sql(as_of, cat) + ")"
    ctes = (ctes + Fragment(", src AS (SELECT _code AS code, _pidx AS pidx, _year AS year, _kind, ") + parts
            + Fragment(" FROM (") + _inner_rows(sheet, committee_type, prefixes) + "))")
    return ctes + Fragment(", rows_ AS (SELECT * EXCLUDE (year) FROM src)")


def _among_ctes(sheet: str, inds: Sequence[Variant], amongs: Sequence[int], committee_type: bool,
                prefixes: Sequence[str] | None) -> Fragment:
    """CTE ``xl`` (leading comma): (pidx, code, _kind, xl{j} = 1) for every source unit and quarter where
    the latest known ``among`` of the j-th indicator is false — from each known value of a unit to its
    next one, quarters without a return included, while the unit exists (valid_to). Read from a narrow
    scan of the sheet (the among fields only), so that the wide scan of ``rows_`` is read once."""
    cols = []
    for j in amongs:
        among = inds[j].indicator.compiled["among"]
        cols.append(Fragment(f"CASE WHEN ({among.sql}) THEN 0 WHEN NOT ({among.sql}) THEN 1 END AS x{j}",
                             among.params + among.params))
    # the last quarter of a unit that ends (valid_to): its intervals stop there
    last = "CASE WHEN _vto IS NOT NULL THEN year(_vto) * 4 + quarter(_vto) - 1 END"
    out = (Fragment(f", ax AS (SELECT _code AS code, _pidx AS pidx, _kind, {last} AS plast, ")
           + _join(cols, ", ") + Fragment(" FROM (") + _inner_rows(sheet, committee_type, prefixes) + "))")
    # each known value holds from its quarter to the next known one (or the last quarter computed):
    # one window over the narrow rows gives, for every among indicator, the next quarter it is known
    nxt = ", ".join(f"lead(CASE WHEN x{j} IS NOT NULL THEN pidx END IGNORE NULLS) OVER w AS p{j}" for j in amongs)
    out = out + Fragment(f", xi AS (SELECT *, {nxt} FROM ax WINDOW w AS (PARTITION BY code ORDER BY pidx))")
    xl = [f"SELECT unnest(range(pidx, least(coalesce(p{j}, (SELECT max(pidx) FROM _rt_periods) + 1), "
          f"coalesce(plast + 1, pidx + 1000)))) AS pidx, code, _kind, 1 AS xl{j} FROM xi WHERE x{j} = 1"
          for j in amongs]
    return out + Fragment(", xl AS (" + " UNION ALL BY NAME ".join(xl) + ")")


def _plus_ctes(sheet: str, variants: Sequence[Variant], as_of: str | None, cat: Catalog,
               prefixes: Sequence[str] | None) -> tuple[Fragment, set[str]]:
    """CTE ``plus_`` (leading comma) of the plus rows of ``variants``: code (township or county),
    lvl, pidx, pn{k} (the row's plus value) and pr{k} (1 when not blank) for every variant k with
    ``plus``; and the sheets that have plus rows. Empty without any."""
    by_sheet: dict[str, list[tuple[int, Any]]] = {}
    for k, v in enumerate(variants):
        for sh, comp in _plus(v).items():
            by_sheet.setdefault(sh, []).append((k, comp))
    if not by_sheet:
        return Fragment(""), set()
    ks = [k for k, v in enumerate(variants) if _plus(v)]
    parts: list[Fragment] = []
    ctes = Fragment("")
    for sh, items in sorted(by_sheet.items()):
        have = {k for k, _ in items}
        cols = _join([Fragment(f"CAST({comp.as_number_sql()} AS DOUBLE) AS pn{k}", comp.params) for k, comp in items]
                     + [Fragment(f"CAST(({comp.sql}) IS NOT NULL AS BIGINT) AS pr{k}", comp.params) for k, comp in items]
                     + [Fragment(f"CAST(NULL AS DOUBLE) AS pn{k}, CAST(NULL AS BIGINT) AS pr{k}")
                        for k in ks if k not in have], ", ")
        if sh == "township":
            if sheet == "county":
                ctes = ctes + Fragment(", sel AS (") + selection_sql(as_of, cat) + ")"
            inner = (Fragment("SELECT v.*, s.township_code AS _code, p.pidx AS _pidx FROM township_values v"
                              " JOIN sel s ON v.submission_id = s.id JOIN _rt_periods p ON p.period = s.period"
                              f" JOIN units u ON u.code = s.township_code AND u.level = 'township' AND {_exists('u')}"
                              " WHERE ") + _prefix_filter("s.township_code", prefixes))
        else:
            if sheet != "county":
                ctes = ctes + Fragment(", pcv AS (") + _county_latest(as_of, cat) + ")"
            inner = (Fragment(f"SELECT v.*, v.county_code AS _code, p.pidx AS _pidx FROM {'cv' if sheet == 'county' else 'pcv'} v"
                              " JOIN _rt_periods p ON p.year = v.year"
                              f" JOIN units u ON u.code = v.county_code AND u.level = 'county' AND {_exists('u')}"
                              " WHERE ") + _prefix_filter("v.county_code", prefixes))
        parts.append(Fragment(f"SELECT _code AS code, '{sh}' AS lvl, _pidx AS pidx, ") + cols
                     + Fragment(" FROM (") + inner + ")")
    return ctes + Fragment(", plus_ AS (") + _join(parts, " UNION ALL BY NAME ") + ")", set(by_sheet)


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
    with unit_code, level, pidx, expected, reported and n{k}, d{k}, r{k}, x{k} (c{k}) for the
    k-th of ``variants`` and the expected units eg{g} of its group (``sheet_variants``: k < len(indicators) is the k-th of ``indicators`` over
    every row). Held as numpy columns (``array``); ``frame`` gives a DataFrame."""

    def __init__(self, sheet: str, indicators: list[Indicator], data: pd.DataFrame | dict[str, np.ndarray],
                 levels: frozenset[str] | None = None, variants: list[Variant] | None = None) -> None:
        self.sheet, self.indicators = sheet, list(indicators)
        self.variants = variants
        self._columns_of: dict[tuple[str, str | None, str | None], int] | None = None
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

    def column(self, cat: Catalog, indicator: str, population: str | None = None,
               township_kind: str | None = None) -> int:
        """The k of ``indicator`` over ``population`` / ``township_kind`` (its plain form when the sums
        have no column for that population: see ``has_column``)."""
        k = self._lookup(cat, indicator, population, township_kind)
        return self.index(indicator) if k is None else k

    def has_column(self, cat: Catalog, indicator: str, population: str | None = None,
                   township_kind: str | None = None) -> bool:
        """Whether the sums have a column group for ``indicator`` over that population (the plain form
        always; a population where a target is judged on sums above the source, ``needs_sums``)."""
        return self._lookup(cat, indicator, population, township_kind) is not None

    def _lookup(self, cat: Catalog, indicator: str, population: str | None,
                township_kind: str | None) -> int | None:
        if self._columns_of is None:
            if self.variants is None:
                self.variants = sheet_variants(cat, self.sheet, self.indicators)
            self._columns_of = {v.key: k for k, v in enumerate(self.variants)}
        k = self._columns_of.get((indicator, population, township_kind))
        return k if k is not None and f"n{k}" in self.columns else None

    def coverage_columns(self, cat: Catalog, k: int) -> tuple[str, str] | None:
        """(reported, expected) column names of variant ``k`` — c{k} or r{k}, and eg{g} — or None for
        sums stored before populations (no such columns)."""
        self.column(cat, self.indicators[0].id) if self.indicators else None
        if self.variants is None:
            return None
        if not hasattr(self, "_groups_of"):
            self._groups_of = expected_groups(self.variants)[1]
        g = f"eg{self._groups_of[k]}"
        if g not in self.columns:
            return None
        return (f"c{k}" if f"c{k}" in self.columns else f"r{k}"), g

    def value(self, k: int, rows: np.ndarray | None = None) -> np.ndarray:
        """Σn / Σd × factor (Σn × factor without a denominator); NaN where no row contributed."""
        ind = self.indicators[k] if k < len(self.indicators) else self.variants[k].indicator
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
    has_type = bool(con.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = 'units' "
                                "AND column_name = 'committee_type'").fetchall()[0][0])
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
                data = _sheet_sums(con, cat, sheet, group, as_of, prefixes, lv, has_type)
                if calc != requested:
                    mask = np.isin(np.asarray(data["pidx"], dtype=float), keep)
                    data = {k: v[mask] for k, v in data.items()}
                out[sheet] = SheetValues(sheet, group, data, frozenset(lv), sheet_variants(cat, sheet, group))
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


def _lift(cols: Sequence[str], first: str, expr: str) -> str:
    """Columns ``cols`` (level names) from the column ``first`` holding codes of that level."""
    return ", ".join(f"{_ROLLUP[lvl].replace('code', expr)} AS {lvl}" for lvl in cols if lvl != first)


def _by_lvl(cols: Sequence[str]) -> str:
    """Level columns ``cols`` of a plus row or unit (``lvl`` township or county, code ``code``):
    the codes of the units above it, NULL for levels below it."""
    out = []
    for lvl in cols:
        ok = [x for x in ("township", "county") if LEVEL_RANK[x] >= LEVEL_RANK[lvl]]
        cond = " OR ".join(f"lvl = '{x}'" for x in ok) or "FALSE"
        out.append(f"CASE WHEN {cond} THEN {_ROLLUP[lvl]} END AS {lvl}")
    return ", ".join(out)


def expected_groups(variants: Sequence[Variant]) -> tuple[list[tuple[Any, ...]], list[int]]:
    """The distinct ways of counting expected units among ``variants`` — (kinds, among indicator,
    plus sheets) — and the group of each variant: variants of one population share their expected
    column ``eg{g}`` (no ``among``, same ``plus``)."""
    groups: list[tuple[Any, ...]] = []
    of: list[int] = []
    for v in variants:
        key = (v.kinds(), v.indicator.id if "among" in v.indicator.compiled else None, tuple(sorted(_plus(v))))
        if key not in groups:
            groups.append(key)
        of.append(groups.index(key))
    return groups, of


def _in_kinds(kinds: tuple[int, ...]) -> str:
    """SQL: _kind is one of ``kinds`` (small integers of ``kind_sql``, from the code's constants)."""
    return "_kind IN (" + ", ".join(str(int(x)) for x in kinds) + ")"


def sums_sql(sheet: str, inds: Sequence[Indicator | Variant], as_of: str | None, cat: Catalog,
             prefixes: Sequence[str] | None, levels: Sequence[str], committee_type: bool = True) -> Fragment:
    """SQL of the wide sums of ``sheet``'s indicators at ``levels``: one row per unit and quarter with
    unit_code, level, pidx, expected, reported and, for the k-th of ``sheet_variants`` (the
    indicators over every row, then over each population / township kind the targets use):
    n{k}, d{k}, r{k}, x{k} (sums) and c{k} (units reported, with ``plus``); and eg{g}, the units
    expected by each group of variants (``expected_groups``).

    One scan of the sheet computes each row's terms of the indicators over every row; they are summed
    per unit of the level just above the source (e.g. per township) AND per kind of source unit
    (村委会, 居委会, 其他; 街道, 镇, 乡), so that a population is a filter on those few partial sums;
    then per county, city and province (GROUPING SETS). The source level's own rows are passed
    through. ``plus`` rows (township rows, county records) join the roll-up from their own level up.
    Year-to-date indicators are then summed per unit over the quarters of the calendar year
    up to the quarter (a unit with no return in the quarter has no row, hence no value): the flows
    of every return of the year received so far.
    Needs ``_rt_periods`` (period_frame) registered on the connection.
    """
    variants = sheet_variants(cat, sheet, inds)
    plain = [v for v in variants if v.population is None and v.township_kind is None]
    base = {v.indicator.id: j for j, v in enumerate(plain)}
    src_level = SOURCE_LEVEL[sheet]
    ks = range(len(variants))
    shape = [_cols(v) for v in variants]
    js = range(len(plain))
    amongs = [j for j in js if shape[j][2]]
    pluses = {k: set(_plus(variants[k])) for k in ks if _plus(variants[k])}
    src = source_ctes(sheet, plain, as_of, cat, prefixes, committee_type)
    plus_cte, plus_sheets = _plus_ctes(sheet, variants, as_of, cat, prefixes)
    higher = [lvl for lvl in LEVELS if LEVEL_RANK[lvl] < LEVEL_RANK[src_level]]
    want_higher = [lvl for lvl in higher if lvl in levels]
    pf = _prefix_filter("u.code", prefixes)

    def pick(k: int, col: str) -> str:   # a partial sum of plain j for variant k: kept where its kind counts
        kinds = variants[k].kinds()
        return f"CASE WHEN {_in_kinds(kinds)} THEN {col} END" if kinds is not None else col

    def agg1(j: int) -> str:        # over source rows, per kind (counts as DOUBLE: no HUGEINT sums above)
        has_d, _, has_x = shape[j]
        return (f"sum(n{j}) AS n{j}, CAST(count(n{j}) AS DOUBLE) AS r{j}" + (f", sum(d{j}) AS d{j}" if has_d else "")
                + (f", CAST(sum(x{j}) AS DOUBLE) AS x{j}" if has_x else ""))

    def split(k: int) -> str:       # the partial sums of plain j as variant k's (a projection, no FILTER)
        has_d, _, has_x = shape[k]
        j = base[variants[k].indicator.id]
        if k == j:
            return ""
        return (f", {pick(k, f'n{j}')} AS n{k}, {pick(k, f'r{j}')} AS r{k}"
                + (f", {pick(k, f'd{j}')} AS d{k}" if has_d else "")
                + (f", {pick(k, f'x{j}')} AS x{k}" if has_x else ""))

    def agg2(k: int) -> str:        # over the partial sums
        has_d, _, has_x = shape[k]
        return (f"sum(n{k}) AS n{k}, sum(r{k}) AS r{k}" + (f", sum(d{k}) AS d{k}" if has_d else "")
                + (f", sum(x{k}) AS x{k}" if has_x else ""))

    def own(k: int) -> str:         # a source row as its own unit
        has_d, _, has_x = shape[k]
        j, kinds = base[variants[k].indicator.id], variants[k].kinds()
        if kinds is None:
            return (f"n{j} AS n{k}, CAST(n{j} IS NOT NULL AS BIGINT) AS r{k}" + (f", d{j} AS d{k}" if has_d else "")
                    + (f", x{j} AS x{k}" if has_x else ""))
        c = _in_kinds(kinds)
        return (f"CASE WHEN {c} THEN n{j} END AS n{k}, CAST({c} AND n{j} IS NOT NULL AS BIGINT) AS r{k}"
                + (f", CASE WHEN {c} THEN d{j} END AS d{k}" if has_d else "")
                + (f", CASE WHEN {c} THEN x{j} END AS x{k}" if has_x else ""))

    groups, group_of = expected_groups(variants)

    def esplit(g: int) -> str:      # the expected units of group g, per kind, before plus
        kinds, among, _ = groups[g]
        e = f"CASE WHEN {_in_kinds(kinds)} THEN expected END" if kinds is not None else "expected"
        if among is not None:
            x = f"xl{base[among]}"
            e = f"{e} - coalesce({f'CASE WHEN {_in_kinds(kinds)} THEN {x} END' if kinds is not None else x}, 0)"
        return f"{e} AS eg{g}"

    # the source units expected, per kind (committee type / township type), and the units whose latest
    # known ``among`` is false in a quarter
    ctes = (Fragment(", eu AS (SELECT p.pidx, u.code, " + kind_sql(sheet, "u", committee_type)
                     + " AS _kind FROM units u JOIN _rt_periods p ON " + _exists("u") + " WHERE u.level = ? AND ",
                     (src_level,)) + pf + ")")
    if amongs:
        ctes = ctes + _among_ctes(sheet, plain, amongs, committee_type, prefixes)
    xsum = "".join(f", sum(xl{j}) AS xl{j}" for j in amongs)
    xcoal = "".join(f", coalesce(xl{j}, 0) AS xl{j}" for j in amongs)
    if plus_sheets:
        pu = [f"SELECT p.pidx, u.code, '{sh}' AS lvl, 1 AS {'et' if sh == 'township' else 'ec'} FROM units u "
              f"JOIN _rt_periods p ON {_exists('u')} WHERE u.level = '{sh}' AND " for sh in sorted(plus_sheets)]
        ctes = ctes + Fragment(", pu AS (") + _join([Fragment(q) + pf for q in pu], " UNION ALL BY NAME ") + ")"
    psum = "".join(f", sum({c}) AS {c}" for c in (["et"] if "township" in plus_sheets else [])
                   + (["ec"] if "county" in plus_sheets else []))
    esplits = ", ".join(esplit(g) for g in range(len(groups)))
    esums = ", ".join(f"coalesce(sum(eg{g}), 0) AS eg{g}" for g in range(len(groups)))

    parts: list[str] = []
    exp_parts: list[str] = []
    if want_higher:
        first, up = higher[-1], higher[:-1]          # the level just above the source, and the ones above it
        allcols = [first] + up
        lift = _lift(allcols, first, first)
        grouped = [lvl for lvl in allcols if lvl in levels]
        unit = ("CASE " + " ".join(f"WHEN grouping({lvl}) = 0 THEN {lvl}" for lvl in grouped) + " END"
                if len(grouped) > 1 else grouped[0])
        sets = ", ".join(f"(pidx, {lvl})" for lvl in grouped)
        vals = (f"SELECT *{', ' + lift if lift else ''}{''.join(split(k) for k in ks)} FROM (SELECT pidx, "
                f"{_ROLLUP[first]} AS {first}, _kind, count(*) AS reported, {', '.join(agg1(j) for j in js)} "
                "FROM rows_ GROUP BY ALL)")
        parts.append(f"SELECT pidx, {unit} AS unit_code, sum(reported) AS reported, "
                     f"{', '.join(agg2(k) for k in ks)} FROM ({vals}) GROUP BY GROUPING SETS ({sets})")
        if pluses:          # the plus rows summed apart (few columns), joined to the sums below
            pcols = ", ".join(f"sum(pn{k}) AS pn{k}, sum(pr{k}) AS pr{k}" for k in pluses)
            ctes = ctes + Fragment(f", pagg AS (SELECT pidx, {unit} AS unit_code, {pcols} FROM (SELECT pidx, "
                                   f"{_by_lvl(allcols)}, * EXCLUDE (pidx, code, lvl) FROM plus_) "
                                   f"GROUP BY GROUPING SETS ({sets}))")
        ek = (f"SELECT pidx, {_ROLLUP[first]} AS {first}, _kind, count(*) AS expected FROM eu GROUP BY ALL")
        if amongs:      # the among-false units of the same (unit, quarter, kind) beside the expected ones
            ek = (f"SELECT pidx, {first}, _kind, sum(expected) AS expected{xcoal.replace('coalesce(xl', 'coalesce(sum(xl').replace(', 0)', '), 0)')} "
                  f"FROM ({ek} UNION ALL BY NAME SELECT pidx, {_ROLLUP[first]} AS {first}, _kind{xsum} FROM xl "
                  "GROUP BY ALL) GROUP BY ALL")
        exps = f"SELECT pidx, {first}{', ' + lift if lift else ''}, expected, {esplits} FROM ({ek})"
        if plus_sheets:
            exps += f" UNION ALL BY NAME SELECT pidx, {_by_lvl(allcols)}{', et' if 'township' in plus_sheets else ''}" \
                    f"{', ec' if 'county' in plus_sheets else ''} FROM pu"
        exp_parts.append(f"SELECT pidx, {unit} AS unit_code, coalesce(sum(expected), 0) AS expected, {esums}{psum} "
                         f"FROM ({exps}) GROUP BY GROUPING SETS ({sets})")
    if src_level in levels:
        parts.append(f"SELECT pidx, code AS unit_code, CAST(1 AS BIGINT) AS reported, {', '.join(own(k) for k in ks)}"
                     " FROM rows_")
        owne = "SELECT e.pidx, e.code, e._kind, 1 AS expected" + "".join(
            f", CAST(x{j}.code IS NOT NULL AS INTEGER) AS xl{j}" for j in amongs) + " FROM eu e" + "".join(
            f" LEFT JOIN (SELECT pidx, code FROM xl WHERE xl{j} = 1) x{j} ON x{j}.pidx = e.pidx AND x{j}.code = e.code"
            for j in amongs)
        exp_parts.append(f"SELECT pidx, code AS unit_code, expected, {esplits} FROM ({owne})")
    out_cols = []
    ytd_cols = []
    for k, v in enumerate(variants):
        has_d, one, has_x = shape[k]
        d = f"a.d{k}" if has_d else (f"CAST(a.r{k} AS DOUBLE)" if one else "CAST(NULL AS DOUBLE)")
        n = f"a.n{k}"
        if k in pluses and want_higher:
            n = (f"CASE WHEN a.n{k} IS NULL AND pa.pn{k} IS NULL THEN NULL "
                 f"ELSE coalesce(a.n{k}, 0) + coalesce(pa.pn{k}, 0) END")
        if v.indicator.window == "year_to_date":    # summed over the year in a narrow window (``ytd``)
            w = "OVER (PARTITION BY a.unit_code, a.pidx // 4 ORDER BY a.pidx ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
            ytd_cols.append(f"sum({n}) {w} AS n{k}, sum({d}) {w} AS d{k}")
            n, d = f"y.n{k}", f"y.d{k}"
        col = (f"{n} AS n{k}, {d} AS d{k}, coalesce(a.r{k}, 0) AS r{k}, "
               + (f"coalesce(a.x{k}, 0) AS x{k}" if has_x else f"0 AS x{k}"))
        if k in pluses:
            col += f", coalesce(a.r{k}, 0) + {f'coalesce(pa.pr{k}, 0)' if want_higher else '0'} AS c{k}"
        out_cols.append(col)
    for g, (_, _, psheets) in enumerate(groups):
        e = f"keep.eg{g}"
        for sh in psheets:
            e += f" + coalesce(keep.{'et' if sh == 'township' else 'ec'}, 0)"
        out_cols.append(f"{e} AS eg{g}")
    pjoin = (" LEFT JOIN pagg pa ON pa.pidx = keep.pidx AND pa.unit_code = keep.unit_code"
             if pluses and want_higher else "")
    ytd = (", ytd AS (SELECT a.pidx, a.unit_code, " + ", ".join(ytd_cols) + " FROM agg a"
           + pjoin.replace("keep.", "a.") + ")") if ytd_cols else ""
    yjoin = (" LEFT JOIN ytd y ON y.pidx = keep.pidx AND y.unit_code = keep.unit_code" if ytd_cols else "") + pjoin
    return (Fragment("WITH ") + src + plus_cte + ctes
            + Fragment(", agg AS (" + " UNION ALL BY NAME ".join(parts) + ")" + ytd + ", exp AS ("
                       + " UNION ALL BY NAME ".join(exp_parts) + "), keep AS (SELECT e.*, u.level FROM exp e"
                       " JOIN _rt_periods p ON p.pidx = e.pidx"
                       f" JOIN units u ON u.code = e.unit_code AND {_exists('u')} WHERE ")
            + _prefix_filter("e.unit_code", prefixes)
            + Fragment(
        ") SELECT keep.unit_code, keep.level, keep.pidx, keep.expected, coalesce(a.reported, 0) AS reported, "
        + ", ".join(out_cols) + " FROM keep"
        " LEFT JOIN agg a ON a.pidx = keep.pidx AND a.unit_code = keep.unit_code" + yjoin))


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
                as_of: str | None, prefixes: Sequence[str] | None, levels: list[str],
                committee_type: bool = True) -> dict[str, np.ndarray]:
    """One scan of ``sheet`` and its roll-up to ``levels`` (wide, see ``sums_sql``), as numpy columns."""
    sql = sums_sql(sheet, inds, as_of, cat, prefixes, levels, committee_type)
    return con.execute(f"SELECT * FROM ({sql.sql}) ORDER BY level, unit_code, pidx", list(sql.params)).fetchnumpy()
