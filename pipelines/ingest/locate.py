"""Locating a return's content: which sheets hold the village and township tables, which row
carries the field ids or the headers, which column is which field, where the data rows start
and stop, and which township and period the file reports — read from the workbook's content
(the hidden ``_meta`` sheet, the 填报单位/报告期 header block, the 乡镇情况 sheet, or the
villages' shared code prefix), with the file name only cross-checked. Nothing here reports a
problem: every function returns what it found, and ``check`` decides what is wrong with it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.catalog.definitions import Catalog, SheetSpec
from pipelines.ingest.normalise import clean_text, header_key, is_blank, to_code
from pipelines.ingest.read import ReturnFile, Sheet, cell_ref
from pipelines.periods import period_from_text

META_SHEET = "_meta"
SCAN_ROWS = 30                    # header and id rows are looked for in the first rows
TOTAL_WORDS = ("合计", "总计", "小计")
FOOTER_WORDS = ("单位负责人", "填表人", "统计负责人")

_UNIT_RX = re.compile(r"填报单位[::]\s*([^()()]*)[((]\s*(\d{12})\s*[))]")
_PERIOD_RX = re.compile(r"报告期[::]?\s*(.+)$")
_NAME_CODE = re.compile(r"(?<!\d)(\d{12})(?!\d)")
_NAME_PERIOD = re.compile(r"(?<!\d)(\d{4})\s*[Qq]([1-4])(?!\d)")


@dataclass
class Layout:
    """Where a data sheet's columns and rows are."""

    sheet: Sheet
    spec: SheetSpec
    columns: dict[int, str]          # column index → field id
    headers: dict[int, str]
    first_row: int                   # first data row (0-based)
    label_row: int | None
    duplicates: list[tuple[str, int, int]] = field(default_factory=list)   # field id, column kept, column also

    def column_of(self, field_id: str) -> int | None:
        """The column index holding ``field_id`` (None when the sheet has no such column)."""
        return next((c for c, f in self.columns.items() if f == field_id), None)


@dataclass
class DataRows:
    """The data rows of a table (0-based), and the totals rows skipped among them."""

    rows: list[int]
    totals: list[tuple[int, int, str]] = field(default_factory=list)   # row, column of the label, label


@dataclass
class Identity:
    """Which township and period a return reports, and where the township code was read."""

    township: str | None
    period: str | None
    code_at: tuple[str | None, str | None, str | None]             # sheet, cell, field
    name_disagrees: list[tuple[str, str, str]]                      # what, file-name value, content value
    conflicts: list[tuple[str, str, str, str, str]] = field(default_factory=list)  # what, place, value, place, value


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
    columns: dict[int, str] = {}
    duplicates: list[tuple[str, int, int]] = []
    for c, f in sorted(id_cols.items()):          # two columns with one field id: neither silently wins
        first_col = next((k for k, v in columns.items() if v == f), None)
        if first_col is None:
            columns[c] = f
        else:
            duplicates.append((f, first_col, c))
    taken = set(columns.values())
    for c, f in sorted(label_cols.items()):  # a column added by hand without an id still maps by its header
        if c in id_cols:
            continue
        if f not in taken:
            columns[c] = f
            taken.add(f)
        elif id_row is None:                       # no id row: two columns under one header
            duplicates.append((f, next(k for k, v in columns.items() if v == f), c))
    header_row = label_row if label_row is not None else id_row
    headers = {c: clean_text(sheet.cell(header_row, c)) for c in columns}
    first = max(r for r in (id_row, label_row) if r is not None) + 1
    return Layout(sheet, spec, columns, headers, first, label_row, duplicates)


def find_layouts(ret: ReturnFile, cat: Catalog) -> dict[str, Layout]:
    """The village and township tables of ``ret`` by sheet key; a table not found is absent.

    The sheet with the expected title is tried first; a table is recognised by its anchor
    column (village code, township code), so a retyped sheet under another name still counts.
    """
    out: dict[str, Layout] = {}
    names = [n for n in ret.sheet_names if n != META_SHEET]
    for key in ("village", "township"):
        spec = cat.sheets[key]
        anchor = "village_code" if key == "village" else "township_code"
        for name in sorted(names, key=lambda n: clean_text(n) != spec.title):
            if any(lay.sheet.name == name for lay in out.values()):
                continue
            sheet = ret.sheet(name)
            lay = locate(sheet, spec) if sheet else None
            if lay and anchor in lay.columns.values():
                out[key] = lay
                break
    return out


def data_rows(lay: Layout) -> DataRows:
    """Non-blank rows below the headers, up to the signature footer; totals rows set apart."""
    out = DataRows([])
    cols = sorted(lay.columns)
    for r in range(lay.first_row, len(lay.sheet.rows)):
        texts = [clean_text(v) for v in lay.sheet.rows[r]]
        if not any(texts):
            continue
        if any(t.startswith(FOOTER_WORDS) for t in texts if t):
            break
        if not any(texts[c] for c in cols if c < len(texts)):
            continue
        c0, label = next(((c, t) for c, t in enumerate(texts) if t), (0, ""))
        if any(w in t for t in texts[:4] for w in TOTAL_WORDS if t) and not to_code(label)[0]:
            out.totals.append((r, c0, label))
            continue
        out.rows.append(r)
    return out


def read_meta(ret: ReturnFile) -> dict[str, str]:
    """The key/value pairs of the hidden ``_meta`` sheet a generated template carries ({} if none)."""
    sheet = ret.sheet(META_SHEET)
    if sheet is None:
        return {}
    return {clean_text(r[0]): clean_text(r[1]) for r in sheet.rows if len(r) >= 2 and not is_blank(r[0])}


def header_block(sheet: Sheet, upto: int) -> tuple[str | None, str | None]:
    """Township code and period written in the header block above the table (rows before ``upto``)."""
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


def identify(file_name: str, meta: dict[str, str], village: Layout, village_rows: list[int],
             township: Layout | None, township_rows: list[int]) -> Identity:
    """Township and period of a return, from its content in this order: the township sheet's
    code, ``_meta``, the header block, and (for a hand-made sheet) the township all village
    codes share. A file name naming another township or period is noted, never followed."""
    block_code, block_period = header_block(village.sheet, village.first_row)
    sheet_code, code_at = None, (None, None, None)
    if township and township_rows:
        col = township.column_of("township_code")
        if col is not None:
            sheet_code, _ = to_code(township.sheet.cell(township_rows[0], col))
            if sheet_code:
                name = township.sheet.name
                code_at = (name, cell_ref(name, township_rows[0], col), "township_code")
    meta_period = meta.get("period") and period_from_text(meta["period"])
    code = sheet_code or meta.get("township_code") or block_code
    period = meta_period or block_period
    conflicts = []
    for what, stated in (("乡镇代码", [("乡镇情况表", sheet_code), ("隐藏的 _meta 表", meta.get("township_code")),
                                      ("表头“填报单位”", block_code)]),
                         ("报告期", [("隐藏的 _meta 表", meta_period), ("表头“报告期”", block_period)])):
        known = [(place, value) for place, value in stated if value]
        other = next(((place, value) for place, value in known[1:] if value != known[0][1]), None)
        if other:                        # e.g. last quarter's file with its visible 报告期 edited
            conflicts.append((what, *known[0], *other))
    if code is None:
        col = village.column_of("village_code")
        prefixes = {v[:9] for r in village_rows if (v := to_code(village.sheet.cell(r, col))[0])}
        if len(prefixes) == 1:
            code = prefixes.pop() + "000"
    disagrees = []
    name = Path(file_name).name
    if code and (m := _NAME_CODE.search(name)) and m.group(1) != code and m.group(1)[9:] == "000":
        disagrees.append(("乡镇", m.group(1), code))
    if period and (m := _NAME_PERIOD.search(name)) and f"{m.group(1)}Q{m.group(2)}" != period:
        disagrees.append(("报告期", f"{m.group(1)}Q{m.group(2)}", period))
    return Identity(code, period, code_at, disagrees, conflicts)
