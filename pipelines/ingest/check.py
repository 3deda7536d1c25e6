"""Checking a located return, lazily: every problem of a file is collected, each with its code,
sheet, cell, field and value. Cell types and bounds (through ``normalise``), required fields,
enumerations, the cross-field rules of schemas/rules.yaml, village codes against the registry
(unknown, of another township, missing, duplicated, renamed), merged cells, totals rows and
hidden rows or columns with data in the data area, and values far outside the township's own
history (``unusual_changes``). A file whose check finds no error yields a ``Staged`` return:
its typed values, one record per row, ready for ``store``.
"""
from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
from openpyxl.utils import get_column_letter

from pipelines.catalog.definitions import Catalog
from pipelines.errors import Problem, RuralTargetsError
from pipelines.ingest.locate import Layout, data_rows, find_layouts, identify, read_meta
from pipelines.ingest.normalise import clean_text, is_blank, normalise, to_code
from pipelines.ingest.read import ReturnFile, cell_ref
from pipelines.periods import period_bounds, shift


@dataclass
class Staged:
    """A return that passed its check, ready to store."""

    ret: ReturnFile
    township_code: str
    period: str
    template_version: str | None
    records: dict[str, list[dict[str, Any]]]            # sheet key → typed values, one dict per row
    columns: list[tuple[str, str, str, str, str]]       # sheet key, sheet name, field, letter, header
    problems: list[Problem]                             # the warnings stored beside it

    @property
    def warnings(self) -> int:
        """How many warnings the return has (it has no error, or it would not be staged)."""
        return sum(p.severity == "warning" for p in self.problems)


@dataclass
class Checked:
    """What checking one return found: its problems, whom and when it reports, and — when it has
    no error — the values to store."""

    problems: list[Problem] = field(default_factory=list)
    township_code: str | None = None
    township_name: str | None = None
    period: str | None = None
    village_rows: int = 0
    staged: Staged | None = None

    @property
    def has_errors(self) -> bool:
        """Whether any problem is an error (then nothing of the file is stored)."""
        return any(p.severity == "error" for p in self.problems)


# ============================================================================ registry and history

class Units:
    """The registry read once per ingest run: code → unit, and villages by township."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        rows = con.execute("SELECT code, name, level, parent_code, valid_from, valid_to, population "
                           "FROM units").fetchall()
        keys = ("code", "name", "level", "parent_code", "valid_from", "valid_to", "population")
        self.by_code = {r[0]: dict(zip(keys, r)) for r in rows}
        self.children: dict[str, list[dict]] = {}
        for u in self.by_code.values():
            if u["level"] == "village":
                self.children.setdefault(u["parent_code"], []).append(u)

    def get(self, code: str) -> dict | None:
        """The unit with ``code`` (None when the registry has none)."""
        return self.by_code.get(code)

    def villages(self, township: str, period: str) -> dict[str, dict]:
        """Villages of ``township`` that exist during ``period`` (registry valid_from / valid_to)."""
        start, end = period_bounds(period)
        return {u["code"]: u for u in sorted(self.children.get(township, []), key=lambda u: u["code"])
                if (u["valid_from"] is None or u["valid_from"] <= end)
                and (u["valid_to"] is None or u["valid_to"] >= start)}


class History:
    """Active village values by period, read once per period and run (cleared when a run stores)."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con
        self._by_period: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
        self._pending: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}

    def previous(self, township: str, period: str) -> dict[str, dict[str, Any]]:
        """Village values of ``township``'s active return for the quarter before ``period``, by village."""
        prev = shift(period, -1)
        if (township, prev) in self._pending:
            return self._pending[(township, prev)]
        if prev not in self._by_period:
            cur = self.con.execute(
                """SELECT v.* EXCLUDE (submission_id, period, source_row)
                   FROM village_values v JOIN submissions s ON s.id = v.submission_id
                   WHERE s.status = 'active' AND s.period = ?""", [prev])
            names = [d[0] for d in cur.description]
            table: dict[str, dict[str, dict[str, Any]]] = {}
            for row in cur.fetchall():
                rec = dict(zip(names, row))
                table.setdefault(rec["township_code"], {})[rec["village_code"]] = rec
            self._by_period[prev] = table
        return self._by_period[prev].get(township, {})

    def remember(self, township: str, period: str, records: list[dict[str, Any]]) -> None:
        """Village values of a file staged but not stored yet (a later file of the same run compares with them)."""
        self._pending[(township, period)] = {r["village_code"]: r for r in records}

    def clear(self) -> None:
        """Forget everything read (after a store changed which returns are active)."""
        self._by_period.clear()
        self._pending.clear()


# ============================================================================ the check

PROBLEMS_PER_CODE = 50      # problems of one code listed per file; the rest are counted (ING063)
TERM_YEARS = 5              # dates may precede the plans' period by one term of office, not more
REGISTRY_MULTIPLE = 5       # a village's population beyond 5× the registry's is not a typo of its own (ING028)
NUMBER_CAP = 1e12           # no field of a township return counts beyond this (and BIGINT stops at 9.2e18)

def check_return(cat: Catalog, ret: ReturnFile, units: Units, history: History) -> Checked:
    """Check ``ret`` against the catalog, the registry and the township's previous quarter.

    A sheet that cannot be read (the workbook is parsed lazily) is one more problem of the file.
    """
    checker = _Checker(cat, ret, units, history)
    try:
        checker.run()
    except RuralTargetsError as exc:
        checker.out.problems.append(Problem(exc.code, exc.context))
        checker.out.staged = None
    for code, n in checker.counts.items():
        if n > PROBLEMS_PER_CODE:
            checker.out.problems.append(Problem("ING063", {"code": code, "more": n - PROBLEMS_PER_CODE,
                                                           "shown": PROBLEMS_PER_CODE}))
    return checker.out


class _Checker:
    """Checks one return, collecting every problem in ``out``."""

    def __init__(self, cat: Catalog, ret: ReturnFile, units: Units, history: History):
        self.cat, self.ret, self.units, self.history = cat, ret, units, history
        self.out = Checked()
        self.flagged: set[tuple[str, str]] = set()     # (sheet, cell) already reported: no follow-on ING021
        self.counts: dict[str, int] = {}
        self.row_villages: dict[tuple[str, int], tuple[str, str]] = {}   # (sheet, row) → village code, name
        self.today = dt.date.today()
        start = min((p.period_start for p in cat.plans.values()), default=dt.date(2005, 1, 1))
        self.first_day = dt.date(start.year - TERM_YEARS, 1, 1)   # a committee elected a term before the plans

    def add(self, code: str, /, sheet: str | None = None, cell: str | None = None, field: str | None = None,
            value: Any = None, **context: Any) -> None:
        """Record a problem of ``code`` at ``sheet``/``cell``/``field``; ``context`` fills its message."""
        self.counts[code] = self.counts.get(code, 0) + 1
        if self.counts[code] > PROBLEMS_PER_CODE:       # counted, not listed: a report stays readable
            return
        context.setdefault("file", self.ret.name)
        context.setdefault("sheet", sheet)
        context.setdefault("cell", cell)
        if field and "label" not in context:
            context["label"] = _label(self.cat, field)
        context.setdefault("field", field)
        shown = int(value) if isinstance(value, float) and value.is_integer() and abs(value) < 1e15 else value
        context.setdefault("value", "" if shown is None else shown)
        if sheet and cell and field:
            self.flagged.add((sheet, cell))
        if sheet and cell and "village_code" not in context:     # a problem on a village row names the village
            village_code, village = self.row_villages.get((sheet, _row_of(cell)), ("", ""))
            if village_code or village:
                context["village_code"], context["village"] = village_code, village
        self.out.problems.append(Problem(code, context, sheet=sheet, cell=cell, field=field, value=value))

    # -- the whole file ------------------------------------------------------
    def run(self) -> None:
        """Check the whole return; ``out`` holds the problems and, without errors, the staged values."""
        cat, ret, out = self.cat, self.ret, self.out
        meta = read_meta(ret)
        version = meta.get("template_version")
        if version and version != cat.template_version:
            self.add("ING002", found=version, expected=cat.template_version)
            return
        layouts = find_layouts(ret, cat)
        for lay in layouts.values():
            for fid, first, second in lay.duplicates:
                self.add("ING026", lay.sheet.name, cell_ref(lay.sheet.name, lay.first_row - 1, second), fid,
                         first=get_column_letter(first + 1), second=get_column_letter(second + 1))
            present = set(lay.columns.values())
            for f in lay.spec.fields:
                if f.id not in present:
                    self.add("ING019" if f.required else "ING009", sheet=lay.sheet.name, field=f.id)
        village = layouts.get("village")
        if village is None:
            self.add("ING001")
            return
        township_layout = layouts.get("township")
        if township_layout is None and ret.kind != "csv":
            self.add("ING008")

        township_rows = self._rows(township_layout) if township_layout else []
        village_rows = data_rows(village)
        who = identify(ret.name, meta, village, village_rows.rows, township_layout, township_rows)
        for what, name_value, content_value in who.name_disagrees:
            self.add("ING005", what=what, name_value=name_value, content_value=content_value)
        for what, place1, value1, place2, value2 in who.conflicts:
            self.add("ING027", what=what, place1=place1, value1=value1, place2=place2, value2=value2)
        code, period = who.township, who.period
        if period is None:
            self.add("ING003")
        if code is None:
            self.add("ING018")
        if period is None or code is None:
            return
        unit = self.units.get(code)
        if unit is None or unit["level"] != "township":
            self.add("ING004", *who.code_at, code, code=code)
            return
        out.township_code, out.township_name, out.period = code, unit["name"], period

        registry = self.units.villages(code, period)
        self._totals(village, village_rows.totals)
        villages = self._village_records(village, village_rows.rows, code, registry)
        township = self._township_records(township_layout, township_rows, code) if township_layout else []
        self._rules("village", villages, village)
        self._against_registry(villages, village)
        if township_layout:
            self._rules("township", township, township_layout)
        if villages and not out.has_errors:
            self._outliers(villages, village, code, period)
        out.village_rows = len(villages)
        if out.has_errors:
            return
        cols = [(k, lay.sheet.name, f, get_column_letter(c + 1), lay.headers.get(c, ""))
                for k, lay in layouts.items() for c, f in sorted(lay.columns.items())]
        out.staged = Staged(ret, code, period, version, {"village": villages, "township": township}, cols,
                            out.problems)

    def _rows(self, lay: Layout) -> list[int]:
        """The data rows of ``lay``; totals rows are reported (ING035) and left out."""
        found = data_rows(lay)
        self._totals(lay, found.totals)
        return found.rows

    def _totals(self, lay: Layout, totals: list[tuple[int, int, str]]) -> None:
        for r, c, label in totals:
            self.add("ING035", lay.sheet.name, cell_ref(lay.sheet.name, r, c), row=r + 1, value=label)

    def _cells(self, lay: Layout, rows: list[int]) -> list[dict[str, Any]]:
        """Typed values of ``rows``, one dict per row (every field present); cell problems recorded."""
        sheet = lay.sheet
        records = [dict.fromkeys((f.id for f in lay.spec.fields), None) | {"source_row": r + 1} for r in rows]
        for c, fid in sorted(lay.columns.items()):
            spec = lay.spec.field(fid)
            for rec, r in zip(records, rows):
                raw = sheet.cell(r, c)
                if (r, c) in sheet.formulas_without_value:
                    self.add("ING038", sheet.name, cell_ref(sheet.name, r, c), fid, raw)
                    continue
                if (r, c) in sheet.error_values:
                    self.add("ING024", sheet.name, cell_ref(sheet.name, r, c), fid, sheet.error_values[(r, c)])
                    continue
                value, err = normalise(raw, spec.type, spec.unit, spec.values)
                if err:
                    extra = {"choices": "/".join(spec.values)} if spec.values else {}
                    self.add(err, sheet.name, cell_ref(sheet.name, r, c), fid, raw, **extra)
                elif value is None and spec.required and fid != "village_code":  # blank code: ING039, per row
                    self.add("ING016", sheet.name, cell_ref(sheet.name, r, c), fid, raw)
                elif spec.min is not None and type(value) in (int, float) and value < spec.min:
                    self.add("ING012", sheet.name, cell_ref(sheet.name, r, c), fid, raw, min=f"{spec.min:g}")
                elif type(value) in (int, float) and abs(value) > (NUMBER_CAP if spec.max is None else spec.max):
                    limit = NUMBER_CAP if spec.max is None else spec.max    # the cap: what a count can be at all
                    self.add("ING023", sheet.name, cell_ref(sheet.name, r, c), fid, raw, max=f"{limit:,.15g}")
                elif isinstance(value, dt.date) and not self.first_day <= value <= self.today:
                    late = value > self.today
                    self.add("ING025", sheet.name, cell_ref(sheet.name, r, c), fid, value.isoformat(),
                             why="晚于今天" if late else f"早于 {self.first_day.year} 年(规划期前一届任期之前)",
                             why_en="is after today" if late else f"is before the plans' period ({self.first_day})")
                else:
                    rec[fid] = value
        return records

    def _layout_checks(self, lay: Layout, rows: list[int]) -> None:
        """Merged cells in the data area (error); hidden rows or columns holding data (warning)."""
        if not rows:
            return
        sheet, lo, hi = lay.sheet, rows[0], rows[-1]
        cols = set(lay.columns)
        for r1, c1, r2, c2 in sheet.merged:
            if r2 >= lo and r1 <= hi and any(c1 <= c <= c2 for c in cols):
                rng = f"{get_column_letter(c1 + 1)}{r1 + 1}:{get_column_letter(c2 + 1)}{r2 + 1}"
                self.add("ING036", sheet.name, cell_ref(sheet.name, r1, c1), lay.columns.get(c1), range=rng)
        hidden = [r for r in rows if r in sheet.hidden_rows]
        if hidden:
            self.add("ING037", sheet.name, cell_ref(sheet.name, hidden[0], 0), what="行",
                     where="、".join(str(r + 1) for r in hidden))
        hidden_cols = [c for c in sorted(sheet.hidden_cols & cols)
                       if any(not is_blank(sheet.cell(r, c)) for r in rows)]
        if hidden_cols:
            self.add("ING037", sheet.name, cell_ref(sheet.name, rows[0], hidden_cols[0]), what="列",
                     where="、".join(get_column_letter(c + 1) for c in hidden_cols))

    def _village_records(self, lay: Layout, rows: list[int], township: str,
                         registry: dict[str, dict]) -> list[dict[str, Any]]:
        """The village rows' values, each village checked against the registry of ``township``."""
        sheet = lay.sheet
        code_col = lay.column_of("village_code")
        name_col = lay.column_of("village_name")
        for r in rows:       # which village each row holds, by the registry's name when its code is known
            raw = sheet.cell(r, code_col) if code_col is not None else None
            code = to_code(raw)[0] or clean_text(raw)
            name = registry[code]["name"] if code in registry else \
                clean_text(sheet.cell(r, name_col) if name_col is not None else None)
            self.row_villages[(sheet.name, r + 1)] = (code, name)
        self._layout_checks(lay, rows)
        if not rows:
            self.add("ING007", lay.sheet.name)
            return []
        records = self._cells(lay, rows)
        seen: dict[str, int] = {}
        keep = []
        for rec, r in zip(records, rows):
            code = rec["village_code"]
            ref = cell_ref(sheet.name, r, code_col)
            if code is None:
                if is_blank(sheet.cell(r, code_col)):
                    self.add("ING039", sheet.name, ref, "village_code", row=r + 1)
                continue
            if code in seen:
                self.add("ING032", sheet.name, ref, "village_code", code, first_row=seen[code])
                continue
            seen[code] = r + 1
            unit = registry.get(code)
            if unit is None:
                other = self.units.get(code)
                if other and other["level"] == "village":
                    parent = self.units.get(other["parent_code"])
                    self.add("ING031", sheet.name, ref, "village_code", code,
                             other=f"{parent['name'] if parent else ''}({other['parent_code']})", township=township)
                else:
                    self.add("ING030", sheet.name, ref, "village_code", code)
                continue
            name = rec["village_name"]
            if name_col is not None and name and clean_text(name) != clean_text(unit["name"]):
                self.add("ING034", sheet.name, cell_ref(sheet.name, r, name_col), "village_name", name,
                         name=unit["name"])
            keep.append(rec)
        for code, unit in registry.items():
            if code not in seen:
                self.add("ING033", sheet.name, None, "village_code", code, name=unit["name"])
        return keep

    def _township_records(self, lay: Layout, rows: list[int], township: str) -> list[dict[str, Any]]:
        """The township row's values (the first data row), its code checked against ``township``."""
        self._layout_checks(lay, rows)
        if not rows:
            return []
        [rec] = self._cells(lay, rows[:1])
        if rec["township_code"] and rec["township_code"] != township:
            col = lay.column_of("township_code")
            self.add("ING004", lay.sheet.name, cell_ref(lay.sheet.name, rows[0], col), "township_code",
                     rec["township_code"], code=rec["township_code"])
        rec["township_code"] = township
        return [rec]

    def _rules(self, key: str, records: list[dict[str, Any]], lay: Layout) -> None:
        """Cross-field rules of schemas/rules.yaml, evaluated row by row (blank operands skip a check)."""
        col_of = {f: c for c, f in lay.columns.items()}
        order = {f.id: i for i, f in enumerate(lay.spec.fields)}
        sheet = lay.sheet.name
        for rule in (r for r in self.cat.rules if r.sheet == key):
            when, check = rule.compiled_when, rule.compiled_check
            for rec in records:
                if when is not None and when.evaluate(rec) is not True:
                    continue
                r = rec["source_row"] - 1
                if rule.require:
                    for f in rule.require:
                        if rec[f] is None and (sheet, cell_ref(sheet, r, col_of.get(f, 0))) not in self.flagged:
                            self.add("ING021", sheet, cell_ref(sheet, r, col_of.get(f, 0)), f, None,
                                     message=rule.message, rule=rule.id)
                elif check.evaluate(rec) is False:
                    detail = ",".join(f"{_label(self.cat, f)}={_fmt(rec[f])}" for f in sorted(check.fields, key=order.get))
                    self.add("ING020" if rule.severity == "error" else "ING022", sheet,
                             cell_ref(sheet, r, col_of.get(rule.field, 0)), rule.field, rec[rule.field],
                             message=rule.message, rule=rule.id, detail=detail)

    def _against_registry(self, records: list[dict[str, Any]], lay: Layout) -> None:
        """ING028: a population far beyond the registry's for the village (an ID-card or phone number
        typed into it, a figure for the whole township), checked even when no earlier quarter exists."""
        col_of = {f: c for c, f in lay.columns.items()}
        for rec in records:
            known = (self.units.get(rec["village_code"]) or {}).get("population")
            if not known:
                continue
            for fid in ("population_registered", "population_resident"):
                value = rec.get(fid)
                if isinstance(value, (int, float)) and value > REGISTRY_MULTIPLE * known:
                    self.add("ING028", lay.sheet.name, cell_ref(lay.sheet.name, rec["source_row"] - 1, col_of.get(fid, 0)),
                             fid, value, registry=f"{known:,}", ratio=f"{value / known:,.0f}")

    def _outliers(self, records: list[dict[str, Any]], lay: Layout, township: str, period: str) -> None:
        """Warn (ING040) on stock values that changed unusually since the township's previous quarter."""
        prev = self.history.previous(township, period)
        if not prev:
            return
        pairs = [(rec, prev[rec["village_code"]]) for rec in records if rec["village_code"] in prev]
        if not pairs:
            return
        col_of = {f: c for c, f in lay.columns.items()}
        fields = [f.id for f in lay.spec.fields if f.type in ("int", "number") and f.kind == "stock"]
        cur = np.array([[np.nan if a[f] is None else a[f] for f in fields] for a, _ in pairs], dtype=float)
        old = np.array([[np.nan if b.get(f) is None else b[f] for f in fields] for _, b in pairs], dtype=float)
        for i, j in zip(*np.nonzero(unusual_changes(cur, old))):
            rec, fid = pairs[i][0], fields[j]
            self.add("ING040", lay.sheet.name, cell_ref(lay.sheet.name, rec["source_row"] - 1, col_of.get(fid, 0)),
                     fid, _fmt(cur[i, j]), name=rec["village_name"] or rec["village_code"], previous=_fmt(old[i, j]))


def unusual_changes(cur: np.ndarray, old: np.ndarray) -> np.ndarray:
    """Which values (villages × fields) changed unusually since the previous quarter: an
    order-of-magnitude jump, or a modified z-score of the change above 3.5 among the township's
    villages together with a change that is large in itself. Blanks (NaN) are never flagged."""
    change = cur - old
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-blank columns
        med = np.nanmedian(change, axis=0)
        mad = np.nanmedian(np.abs(change - med), axis=0)
        z = np.where(mad > 0, 0.6745 * (change - med) / mad, 0.0)
        big = (np.abs(change) >= 10) & (np.abs(change) >= 0.5 * np.maximum(np.abs(old), 1))
        jump = (old > 0) & (cur > 0) & ((cur >= 10 * old) | (cur * 10 <= old)) & (np.abs(change) >= 10)
        return ~np.isnan(change) & (jump | ((np.abs(z) > 3.5) & big))


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "空"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, bool):
        return "是" if v else "否"
    return str(v)


def _row_of(cell: str) -> int:
    """The row number (1-based) of a reference such as 村级情况!F12."""
    digits = cell.rsplit("!", 1)[-1].lstrip("$ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    return int(digits) if digits.isdigit() else 0


def _label(cat: Catalog, field_id: str) -> str:
    for sheet in cat.sheets.values():
        for f in sheet.fields:
            if f.id == field_id:
                return f.header
    return field_id
