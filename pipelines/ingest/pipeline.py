"""Ingest township returns: read → locate → normalise → validate → store.

``ingest_paths`` (the CLI) and ``ingest_uploads`` (the dashboard) take files, check every
cell, and store each file that has no error as a submission, superseding the earlier one for
the same township and period. Every problem of a file is reported at once, each with its
code, sheet, cell and field. A file with any error stores nothing; a crash leaves the
database as it was before a file or after it, never in between.
"""
from __future__ import annotations

import datetime as dt
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import duckdb
import numpy as np
import pandas as pd

from pipelines.catalog.definitions import Catalog, SheetSpec, catalog
from pipelines.files import atomic_write
from pipelines.jsonable import plain
from pipelines.store.db import transaction
from pipelines.errors import Problem, RuralTargetsError
from pipelines.ingest.normalise import clean_text, header_key, is_blank, normalise, to_code
from pipelines.periods import period_bounds, period_from_text, shift
from pipelines.ingest.read import ReturnFile, Sheet, cell_ref, column_letter, read_return

META_SHEET = "_meta"
SCAN_ROWS = 30                    # header and id rows are looked for in the first rows
TOTAL_WORDS = ("合计", "总计", "小计")
FOOTER_WORDS = ("单位负责人", "填表人", "统计负责人")
BATCH = 50                        # files stored per transaction when many are ingested …
BATCH_SECONDS = 1.0               # … or fewer, so that a long run commits at least every second


# ============================================================================ reports

@dataclass
class FileReport:
    """What happened to one file."""

    file: str
    status: str = "rejected"        # stored | rejected | unchanged | valid (dry run)
    submission_id: int | None = None
    township_code: str | None = None
    township_name: str | None = None
    period: str | None = None
    village_rows: int = 0
    superseded: int | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "status": self.status, "submission_id": self.submission_id,
                "township": self.township_code, "township_name": self.township_name, "period": self.period,
                "village_rows": self.village_rows, "superseded": self.superseded,
                "errors": len(self.errors), "warnings": len(self.warnings),
                "problems": [p.as_dict() for p in self.problems]}

    @property
    def summary_zh(self) -> str:
        """One line for the clerk."""
        who = f"{self.township_name or self.township_code or ''} {self.period or ''}".strip()
        if self.status == "stored":
            extra = f",替换了第 {self.superseded} 号报送" if self.superseded else ""
            return f"{self.file}:已导入({who},{self.village_rows} 个村,{len(self.warnings)} 条提示{extra})"
        if self.status == "unchanged":
            return f"{self.file}:与已导入的第 {self.submission_id} 号报送完全相同,未重复导入"
        if self.status == "valid":
            return f"{self.file}:检查通过({who},{self.village_rows} 个村,{len(self.warnings)} 条提示),尚未导入"
        return f"{self.file}:未导入,有 {len(self.errors)} 处错误需要修改"


@dataclass
class Staged:
    """A file that passed validation, ready to store."""

    report: FileReport
    ret: ReturnFile
    template_version: str | None
    records: dict[str, list[dict[str, Any]]]            # sheet key → typed values, one dict per row
    columns: list[tuple[str, str, str, str, str]]       # sheet key, sheet name, field, letter, header


# ============================================================================ locating

@dataclass
class Layout:
    """Where a data sheet's columns and rows are."""

    sheet: Sheet
    spec: SheetSpec
    columns: dict[int, str]          # column index → field id
    headers: dict[int, str]
    first_row: int                   # first data row (0-based)
    label_row: int | None


def _field_keys(spec: SheetSpec) -> dict[str, str]:
    keys = {}
    for f in spec.fields:
        keys[header_key(f.label)] = f.id
        keys[header_key(f.header)] = f.id
    return keys


def locate(sheet: Sheet, spec: SheetSpec) -> Layout | None:
    """Find the field-id row and/or the header row of ``sheet`` and map columns to fields."""
    ids = {f.id for f in spec.fields}
    keys = _field_keys(spec)
    id_row = label_row = None
    id_cols: dict[int, str] = {}
    label_cols: dict[int, str] = {}
    for r, row in enumerate(sheet.rows[:SCAN_ROWS]):
        texts = [clean_text(v) for v in row]
        by_id = {c: t for c, t in enumerate(texts) if t in ids}
        if len(by_id) >= 3 and len(by_id) > len(id_cols):
            id_row, id_cols = r, by_id
        by_label = {c: keys[header_key(t)] for c, t in enumerate(texts) if t and header_key(t) in keys}
        if len(by_label) >= 3 and len(by_label) > len(label_cols):
            label_row, label_cols = r, by_label
    if id_row is None and label_row is None:
        return None
    columns = dict(id_cols)
    taken = set(columns.values())
    for c, f in label_cols.items():  # a column added by hand without an id still maps by its header
        if c not in columns and f not in taken:
            columns[c] = f
            taken.add(f)
    header_row = label_row if label_row is not None else id_row
    headers = {c: clean_text(sheet.cell(header_row, c)) for c in columns}
    first = max(r for r in (id_row, label_row) if r is not None) + 1
    return Layout(sheet, spec, columns, headers, first, label_row)


def _read_meta(ret: ReturnFile) -> dict[str, str]:
    sheet = ret.sheet(META_SHEET)
    if sheet is None:
        return {}
    return {clean_text(r[0]): clean_text(r[1]) for r in sheet.rows if len(r) >= 2 and not is_blank(r[0])}


_UNIT_RX = re.compile(r"填报单位[::]\s*([^()()]*)[((]\s*(\d{12})\s*[))]")
_UNIT_NAME_RX = re.compile(r"填报单位[::]\s*(\S+)")
_PERIOD_RX = re.compile(r"报告期[::]?\s*(.+)$")


def _header_block(sheet: Sheet, upto: int) -> tuple[str | None, str | None]:
    """Township code and period written in the header block above the table."""
    code = period = None
    for row in sheet.rows[:upto]:
        for v in row:
            text = clean_text(v)
            if not text:
                continue
            if code is None and (m := _UNIT_RX.search(text)):
                code = m.group(2)
            if period is None and (m := _PERIOD_RX.search(text)):
                period = period_from_text(m.group(1))
    return code, period


_NAME_CODE = re.compile(r"(?<!\d)(\d{12})(?!\d)")
_NAME_PERIOD = re.compile(r"(?<!\d)(\d{4})\s*[Qq]([1-4])(?!\d)")


# ============================================================================ validating

class _Checker:
    """Validates one file, collecting every problem."""

    def __init__(self, con: duckdb.DuckDBPyConnection, cat: Catalog, ret: ReturnFile, units: Units,
                 history: History):
        self.con, self.cat, self.ret, self.units, self.history = con, cat, ret, units, history
        self.report = FileReport(ret.name)
        self.problems = self.report.problems

    def add(self, code: str, /, sheet: str | None = None, cell: str | None = None, field: str | None = None,
            value: Any = None, **context: Any) -> None:
        context.setdefault("file", self.ret.name)
        context.setdefault("sheet", sheet)
        context.setdefault("cell", cell)
        if field and "label" not in context:
            context["label"] = _label(self.cat, field)
        context.setdefault("field", field)
        context.setdefault("value", "" if value is None else value)
        self.problems.append(Problem(code, context, sheet=sheet, cell=cell, field=field, value=value))

    # -- the whole file ------------------------------------------------------
    def run(self) -> Staged | None:
        cat, ret = self.cat, self.ret
        meta = _read_meta(ret)
        version = meta.get("template_version")
        if version and version != cat.template_version:
            self.add("ING002", found=version, expected=cat.template_version)
            return None
        layouts = self._layouts()
        village = layouts.get("village")
        if village is None:
            self.add("ING001")
            return None
        township_layout = layouts.get("township")
        if township_layout is None and ret.kind != "csv":
            self.add("ING008")

        township_rows = self._rows(township_layout) if township_layout else []
        code, period, code_at = self._identify(meta, village, township_layout, township_rows)
        if period is None:
            self.add("ING003")
        if code is None:
            self.add("ING018")
        if period is None or code is None:
            return None
        unit = self.units.get(code)
        if unit is None or unit["level"] != "township":
            self.add("ING004", *code_at, code, code=code)
            return None
        self.report.township_code, self.report.township_name, self.report.period = code, unit["name"], period

        registry = self.units.villages(code, period)
        villages = self._village_records(village, code, registry)
        township = self._township_records(township_layout, township_rows, code) if township_layout else []
        self._rules("village", villages, village)
        if township_layout:
            self._rules("township", township, township_layout)
        if villages and not self.report.errors:
            self._outliers(villages, village, code, period)
        self.report.village_rows = len(villages)
        if self.report.errors:
            return None
        cols = [(k, lay.sheet.name, f, column_letter(c), lay.headers.get(c, ""))
                for k, lay in layouts.items() for c, f in sorted(lay.columns.items())]
        return Staged(self.report, ret, version, {"village": villages, "township": township}, cols)

    def _layouts(self) -> dict[str, Layout]:
        out: dict[str, Layout] = {}
        names = [n for n in self.ret.sheet_names if n != META_SHEET]
        for key in ("village", "township"):
            spec = self.cat.sheets[key]
            anchor = "village_code" if key == "village" else "township_code"
            # the sheet with the expected title first: the others are read only if it is not there
            for name in sorted(names, key=lambda n: clean_text(n) != spec.title):
                if any(lay.sheet.name == name for lay in out.values()):
                    continue
                sheet = self.ret.sheet(name)
                lay = locate(sheet, spec) if sheet else None
                if lay and anchor in lay.columns.values():
                    out[key] = lay
                    break
        for key, lay in out.items():
            present = set(lay.columns.values())
            for f in lay.spec.fields:
                if f.id not in present:
                    self.add("ING019" if f.required else "ING009", sheet=lay.sheet.name, field=f.id)
        return out

    def _identify(self, meta: dict[str, str], village: Layout, township: Layout | None,
                  township_rows: list[int]) -> tuple[str | None, str | None, tuple]:
        """Township code, period, and (sheet, cell, field) of the cell the code was read from."""
        block_code, block_period = _header_block(village.sheet, village.first_row)
        sheet_code, code_at = None, (None, None, None)
        if township and township_rows:
            col = next((c for c, f in township.columns.items() if f == "township_code"), None)
            if col is not None:
                sheet_code, _ = to_code(township.sheet.cell(township_rows[0], col))
                if sheet_code:
                    name = township.sheet.name
                    code_at = (name, cell_ref(name, township_rows[0], col), "township_code")
        code = sheet_code or meta.get("township_code") or block_code
        period = meta.get("period") and period_from_text(meta["period"]) or block_period
        if code is None:  # a hand-made sheet: the township all its village codes share
            col = next(c for c, f in village.columns.items() if f == "village_code")
            prefixes = {v[:9] for r in self._rows(village)
                        if (v := to_code(village.sheet.cell(r, col))[0])}
            if len(prefixes) == 1:
                code = prefixes.pop() + "000"
        name = Path(self.ret.name).name
        if code and (m := _NAME_CODE.search(name)) and m.group(1) != code and m.group(1)[9:] == "000":
            self.add("ING005", what="乡镇", name_value=m.group(1), content_value=code)
        if period and (m := _NAME_PERIOD.search(name)) and f"{m.group(1)}Q{m.group(2)}" != period:
            self.add("ING005", what="报告期", name_value=f"{m.group(1)}Q{m.group(2)}", content_value=period)
        return code, period, code_at

    def _rows(self, lay: Layout) -> list[int]:
        """Data rows: non-blank rows below the headers, up to the signature footer; totals skipped."""
        out = []
        cols = sorted(lay.columns)
        for r in range(lay.first_row, len(lay.sheet.rows)):
            row = lay.sheet.rows[r]
            texts = [clean_text(v) for v in row]
            if not any(texts):
                continue
            if any(t.startswith(FOOTER_WORDS) for t in texts if t):
                break
            mapped = [texts[c] for c in cols if c < len(texts)]
            if not any(mapped):
                continue
            c0, label = next(((c, t) for c, t in enumerate(texts) if t), (0, ""))
            if any(w in t for t in texts[:4] for w in TOTAL_WORDS if t) and not to_code(label)[0]:
                self.add("ING035", lay.sheet.name, cell_ref(lay.sheet.name, r, c0), row=r + 1, value=label)
                continue
            out.append(r)
        return out

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
                value, err = normalise(raw, spec.type, spec.unit, spec.values)
                if err:
                    extra = {"choices": "/".join(spec.values)} if spec.values else {}
                    self.add(err, sheet.name, cell_ref(sheet.name, r, c), fid, raw, **extra)
                elif value is None and spec.required and fid != "village_code":  # blank code: ING039, per row
                    self.add("ING016", sheet.name, cell_ref(sheet.name, r, c), fid, raw)
                elif spec.min is not None and type(value) in (int, float) and value < spec.min:
                    self.add("ING012", sheet.name, cell_ref(sheet.name, r, c), fid, raw, min=f"{spec.min:g}")
                else:
                    rec[fid] = value
        return records

    def _layout_checks(self, lay: Layout, rows: list[int]) -> None:
        if not rows:
            return
        sheet, lo, hi = lay.sheet, rows[0], rows[-1]
        cols = set(lay.columns)
        for r1, c1, r2, c2 in sheet.merged:
            if r2 >= lo and r1 <= hi and any(c1 <= c <= c2 for c in cols):
                rng = f"{column_letter(c1)}{r1 + 1}:{column_letter(c2)}{r2 + 1}"
                self.add("ING036", sheet.name, cell_ref(sheet.name, r1, c1), lay.columns.get(c1), range=rng)
        hidden = [r for r in rows if r in sheet.hidden_rows]
        if hidden:
            self.add("ING037", sheet.name, cell_ref(sheet.name, hidden[0], 0), what="行",
                     where="、".join(str(r + 1) for r in hidden))
        hidden_cols = [c for c in sorted(sheet.hidden_cols & cols)
                       if any(not is_blank(sheet.cell(r, c)) for r in rows)]
        if hidden_cols:
            self.add("ING037", sheet.name, cell_ref(sheet.name, rows[0], hidden_cols[0]), what="列",
                     where="、".join(column_letter(c) for c in hidden_cols))

    def _village_records(self, lay: Layout, township: str, registry: dict[str, dict]) -> list[dict[str, Any]]:
        rows = self._rows(lay)
        self._layout_checks(lay, rows)
        if not rows:
            self.add("ING007", lay.sheet.name)
            return []
        records = self._cells(lay, rows)
        sheet = lay.sheet
        code_col = next(c for c, f in lay.columns.items() if f == "village_code")
        name_col = next((c for c, f in lay.columns.items() if f == "village_name"), None)
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
        self._layout_checks(lay, rows)
        if not rows:
            return []
        [rec] = self._cells(lay, rows[:1])
        if rec["township_code"] and rec["township_code"] != township:
            col = next(c for c, f in lay.columns.items() if f == "township_code")
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
                        if rec[f] is None:
                            self.add("ING021", sheet, cell_ref(sheet, r, col_of.get(f, 0)), f, None,
                                     message=rule.message, rule=rule.id)
                elif check.evaluate(rec) is False:
                    detail = ",".join(f"{_label(self.cat, f)}={_fmt(rec[f])}" for f in sorted(check.fields, key=order.get))
                    self.add("ING020" if rule.severity == "error" else "ING022", sheet,
                             cell_ref(sheet, r, col_of.get(rule.field, 0)), rule.field, rec[rule.field],
                             message=rule.message, rule=rule.id, detail=detail)

    def _outliers(self, records: list[dict[str, Any]], lay: Layout, township: str, period: str) -> None:
        """Warn on values far outside the township's own history: an order-of-magnitude jump from the
        previous quarter, or a quarter-on-quarter change whose modified z-score among the township's
        villages exceeds 3.5 and which is large in itself."""
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


def _label(cat: Catalog, field_id: str) -> str:
    for sheet in cat.sheets.values():
        for f in sheet.fields:
            if f.id == field_id:
                return f.header
    return field_id


_PANDAS_TYPES = {"int": "Int64", "number": "Float64", "bool": "boolean", "date": "datetime64[us]"}


def _typed(frame: pd.DataFrame, spec: SheetSpec) -> pd.DataFrame:
    """``frame`` with column dtypes DuckDB maps onto the value tables' types."""
    out = frame.copy()
    for f in spec.fields:
        if f.id not in out:
            continue
        dtype = _PANDAS_TYPES.get(f.type)
        if dtype is None:
            out[f.id] = out[f.id].astype("object").where(out[f.id].notna(), None)
        elif f.type == "date":
            out[f.id] = pd.to_datetime(out[f.id], errors="coerce").astype(dtype)
        else:
            out[f.id] = out[f.id].astype("object").where(out[f.id].notna(), None).astype(dtype)
    return out


# ============================================================================ registry lookups

class Units:
    """The registry read once per ingest run: code → unit, and villages by township."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        rows = con.execute("SELECT code, name, level, parent_code, valid_from, valid_to FROM units").fetchall()
        keys = ("code", "name", "level", "parent_code", "valid_from", "valid_to")
        self.by_code = {r[0]: dict(zip(keys, r)) for r in rows}
        self.children: dict[str, list[dict]] = {}
        for u in self.by_code.values():
            if u["level"] == "village":
                self.children.setdefault(u["parent_code"], []).append(u)

    def get(self, code: str) -> dict | None:
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
        self._by_period.clear()
        self._pending.clear()


# ============================================================================ storing

def archive_dir(con: duckdb.DuckDBPyConnection) -> Path:
    """Where original files are kept: ``archive/`` beside the database file."""
    path = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0]
    return Path(path).resolve().parent / "archive"


def _archive(con: duckdb.DuckDBPyConnection, ret: ReturnFile) -> str:
    sha = ret.sha256
    rel = Path(sha[:2]) / f"{sha}.{ret.kind}"
    target = archive_dir(con) / rel
    if not target.exists():
        atomic_write(target, ret.data)
    return str(rel)


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    con.register("staged_rows", frame)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM staged_rows")
    finally:
        con.unregister("staged_rows")


def _store(con: duckdb.DuckDBPyConnection, staged: list[Staged], uploaded_by: str | None,
           uploaded_at: dt.datetime | Callable[[str], dt.datetime] | None) -> None:
    """Store ``staged`` files in one transaction, each superseding the active one of its township/period.

    ``staged`` never holds two files for the same township and period (the caller flushes first).
    """
    cat = catalog()
    archived = [_archive(con, s.ret) for s in staged]  # before the transaction: content-addressed, idempotent
    keys = pd.DataFrame({"township_code": [s.report.township_code for s in staged],
                         "period": [s.report.period for s in staged]})
    with transaction(con):
        con.register("staged_keys", keys)
        active = {(t, p): (i, sha) for t, p, i, sha in con.execute(
            """SELECT s.township_code, s.period, s.id, s.sha256 FROM submissions s
               JOIN staged_keys k USING (township_code, period) WHERE s.status = 'active'""").fetchall()}
        con.unregister("staged_keys")
        new = [s for s in staged if active.get((s.report.township_code, s.report.period), (0, ""))[1] != s.ret.sha256]
        for s in staged:
            if s not in new:
                s.report.status, s.report.submission_id = "unchanged", active[(s.report.township_code, s.report.period)][0]
        if not new:
            return
        ids = [r[0] for r in con.execute("SELECT nextval('submission_seq') FROM range(?)", [len(new)]).fetchall()]
        now = dt.datetime.now()
        subs, values, problems, columns, supersede = [], {"village": [], "township": []}, [], [], []
        for s, sid in zip(new, ids):
            r = s.report
            old = active.get((r.township_code, r.period))
            if old:
                supersede.append((old[0], sid))
                r.superseded = old[0]
            subs.append({"id": sid, "township_code": r.township_code, "period": r.period,
                         "file_name": Path(s.ret.name).name, "file_kind": s.ret.kind, "sha256": s.ret.sha256,
                         "size_bytes": len(s.ret.data), "archive_path": archived[staged.index(s)],
                         "template_version": s.template_version,
                         "uploaded_at": (uploaded_at(s.ret.name) if callable(uploaded_at) else uploaded_at) or now, "uploaded_by": uploaded_by,
                         "status": "active", "superseded_by": None, "village_rows": len(s.records["village"]),
                         "township_rows": len(s.records["township"]), "warnings": len(r.warnings)})
            for key, recs in s.records.items():
                values[key] += [{**rec, "submission_id": sid, "township_code": r.township_code, "period": r.period}
                                for rec in recs]
            problems += [{"submission_id": sid, **{k: v for k, v in p.as_dict().items() if k != "line"}}
                         for p in r.problems]
            columns += [{"submission_id": sid, "sheet_key": k, "sheet_name": n, "field": f, "column_letter": c,
                         "header": h} for k, n, f, c, h in s.columns]
            r.status, r.submission_id = "stored", sid
        if supersede:
            for old_id, sid in supersede:
                con.execute("UPDATE submissions SET status = 'superseded', superseded_by = ? WHERE id = ?", [sid, old_id])
        _insert(con, "submissions", pd.DataFrame(subs))
        for key, rows in values.items():
            if rows:
                _insert(con, f"{key}_values", _typed(pd.DataFrame(rows), cat.sheets[key]))
        if problems:
            _insert(con, "submission_problems", pd.DataFrame(problems))
        _insert(con, "submission_columns", pd.DataFrame(columns))


def check_file(con: duckdb.DuckDBPyConnection, name: str, data: bytes, units: Units | None = None,
               history: History | None = None) -> tuple[FileReport, Staged | None]:
    """Read and validate one file without storing anything."""
    report = FileReport(Path(name).name)
    try:
        ret = read_return(name, data)
        checker = _Checker(con, catalog(), ret, units or Units(con), history or History(con))
        checker.report = report
        checker.problems = report.problems
        return report, checker.run()
    except RuralTargetsError as exc:  # the file itself cannot be read
        report.problems.append(Problem(exc.code, exc.context))
        return report, None


def ingest_uploads(con: duckdb.DuckDBPyConnection, files: Iterable[tuple[str, bytes]], dry_run: bool = False,
                   uploaded_by: str | None = None, uploaded_at: dt.datetime | Callable[[str], dt.datetime] | None = None,
                   progress: Callable[[int, int, FileReport], None] | None = None) -> list[FileReport]:
    """Validate and (unless ``dry_run``) store each of ``files`` (name, bytes); one report per file.

    ``uploaded_at`` may be a function of the file name (used to replay sample returns with
    their arrival dates).
    """
    files = files if isinstance(files, (list, tuple)) else list(files)
    reports: list[FileReport] = []
    pending: list[Staged] = []

    last_flush = [time.monotonic()]

    def flush() -> None:
        last_flush[0] = time.monotonic()
        if not pending:
            return
        _store(con, pending, uploaded_by, uploaded_at)
        pending.clear()
        history.clear()

    units, history = Units(con), History(con)
    for i, (name, data) in enumerate(files):
        if data is None:
            report, staged = FileReport(Path(name).name, problems=[Problem("GEN001", {"file": name})]), None
        else:
            report, staged = check_file(con, name, data, units, history)
        if staged is not None:
            if dry_run:
                dup = con.execute("SELECT id FROM submissions WHERE township_code = ? AND period = ? "
                                  "AND status = 'active' AND sha256 = ?",
                                  [report.township_code, report.period, staged.ret.sha256]).fetchone()
                report.status, report.submission_id = ("unchanged", dup[0]) if dup else ("valid", None)
            else:
                if any(p.report.township_code == report.township_code and p.report.period == report.period
                       for p in pending):
                    flush()  # the earlier one must be stored before this one supersedes it
                pending.append(staged)
                history.remember(report.township_code, report.period, staged.records["village"])
                if len(pending) >= BATCH or time.monotonic() - last_flush[0] >= BATCH_SECONDS:
                    flush()
        reports.append(report)
        if progress:
            progress(i + 1, len(files), report)
    flush()
    return reports


def ingest_paths(con: duckdb.DuckDBPyConnection, paths: Iterable[Path], **kwargs: Any) -> list[FileReport]:
    """``ingest_uploads`` for files on disk, read one at a time (a missing file: GEN001)."""
    return ingest_uploads(con, _LazyFiles([Path(p) for p in paths]), **kwargs)


class _LazyFiles(list):
    """(name, bytes) of files on disk, read when iterated, so memory does not grow with their number."""

    def __iter__(self):
        for p in list.__iter__(self):
            yield str(p), (p.read_bytes() if p.is_file() else None)


# ============================================================================ reading back

def list_submissions(con: duckdb.DuckDBPyConnection, township: str | None = None, period: str | None = None,
                     include_superseded: bool = False) -> list[dict[str, Any]]:
    """Stored submissions (active only unless ``include_superseded``), newest first."""
    rows = con.execute(
        """SELECT s.id, s.township_code, u.name AS township_name, s.period, s.file_name, s.file_kind, s.sha256,
                  s.size_bytes, s.uploaded_at, s.uploaded_by, s.status, s.superseded_by, s.village_rows,
                  s.township_rows, s.warnings, s.archive_path
           FROM submissions s LEFT JOIN units u ON u.code = s.township_code
           WHERE (CAST(? AS VARCHAR) IS NULL OR s.township_code = ?)
             AND (CAST(? AS VARCHAR) IS NULL OR s.period = ?)
             AND (? OR s.status = 'active')
           ORDER BY s.period DESC, s.township_code, s.id DESC""",
        [township, township, period, period, include_superseded]).df()
    return rows.to_dict("records")


def submission_values(con: duckdb.DuckDBPyConnection, township: str, period: str,
                      submission_id: int | None = None) -> dict[str, Any]:
    """The stored values of the active (or given) submission: village rows and the township row."""
    if submission_id is None:
        row = con.execute("SELECT id FROM submissions WHERE township_code = ? AND period = ? AND status = 'active'",
                          [township, period]).fetchone()
        if row is None:
            raise RuralTargetsError("ING051", detail=f"{township} {period}")
        submission_id = row[0]
    sub = con.execute("SELECT * FROM submissions WHERE id = ?", [submission_id]).df().to_dict("records")[0]
    village = con.execute("SELECT * FROM village_values WHERE submission_id = ? ORDER BY village_code",
                          [submission_id]).df()
    township_row = con.execute("SELECT * FROM township_values WHERE submission_id = ?", [submission_id]).df()
    columns = con.execute("SELECT sheet_key, sheet_name, field, column_letter FROM submission_columns "
                          "WHERE submission_id = ?", [submission_id]).fetchall()
    return {"submission": sub, "villages": village, "township": township_row,
            "columns": {(k, f): (s, letter) for k, s, f, letter in columns}}


def trace(values: dict[str, Any]) -> list[dict[str, Any]]:
    """Every stored value with the file, sheet and cell it came from."""
    sub = values["submission"]
    out = []
    for key, frame, id_col in (("village", values["villages"], "village_code"),
                               ("township", values["township"], "township_code")):
        for rec in frame.to_dict("records"):
            for fid, value in rec.items():
                where = values["columns"].get((key, fid))
                if where is None:
                    continue
                out.append({"unit_code": rec[id_col], "field": fid, "value": plain(value),
                            "file": sub["file_name"], "archive": sub["archive_path"], "sheet": where[0],
                            "cell": f"{where[0]}!{where[1]}{rec['source_row']}"})
    return out
