"""Reading a return file (.xlsx, .xlsm, .xls, .csv) into plain grids of cell values.

python-calamine reads the cells (10–20× faster than openpyxl). What calamine does not
expose for .xlsx — hidden rows and columns, formulas saved without a cached value — is read
from the sheet XML directly, in one streaming pass.
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from xml.etree import ElementTree as ET

from python_calamine import CalamineWorkbook

from pipelines.errors import RuralTargetsError

EXCEL_KINDS = {".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xls"}
CSV_ENCODINGS = ("utf-8-sig", "gb18030")
_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
       "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
       "pr": "http://schemas.openxmlformats.org/package/2006/relationships"}
_CELL_REF = re.compile(r"([A-Z]+)(\d+)")


@dataclass
class Sheet:
    """One sheet as a grid from A1 (0-based rows and columns)."""

    name: str
    rows: list[list[Any]]
    visible: bool = True
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)  # r1, c1, r2, c2 inclusive
    hidden_rows: set[int] = field(default_factory=set)
    hidden_cols: set[int] = field(default_factory=set)
    formulas_without_value: set[tuple[int, int]] = field(default_factory=set)

    def cell(self, r: int, c: int) -> Any:
        row = self.rows[r] if r < len(self.rows) else []
        return row[c] if c < len(row) else None


class ReturnFile:
    """The raw content of one uploaded file; sheets are parsed when first asked for."""

    def __init__(self, name: str, kind: str, data: bytes, sheets: list[Sheet] | None = None,
                 workbook: CalamineWorkbook | None = None):
        self.name, self.kind, self.data = name, kind, data
        self._wb = workbook
        self._cache: dict[str, Sheet] = {s.name: s for s in sheets or []}
        self.sheet_names: list[str] = list(workbook.sheet_names) if workbook else list(self._cache)
        self._visible = ({m.name: str(m.visible).lower().endswith("visible") for m in workbook.sheets_metadata}
                         if workbook else {})
        self._parts: dict[str, str] | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def sheet(self, name: str) -> Sheet | None:
        """The sheet called ``name`` (None if there is none); read on first use."""
        if name in self._cache:
            return self._cache[name]
        if self._wb is None or name not in self.sheet_names:
            return None
        try:
            s = self._wb.get_sheet_by_name(name)
            rows = s.to_python(skip_empty_area=False)
            merged = [(a[0], a[1], b[0], b[1]) for a, b in (s.merged_cell_ranges or [])]
        except Exception as exc:  # noqa: BLE001 - calamine raises several types for broken files
            raise RuralTargetsError("ING006", file=self.name, detail=str(exc)[:200]) from None
        sheet = Sheet(name, rows, self._visible.get(name, True), merged)
        if self.kind == "xlsx":
            self._scan(sheet)
        self._cache[name] = sheet
        return sheet

    def _scan(self, sheet: Sheet) -> None:
        """Hidden rows/columns and value-less formulas, from the sheet's XML (calamine has neither)."""
        try:
            zf = zipfile.ZipFile(io.BytesIO(self.data))
            if self._parts is None:
                self._parts = _sheet_parts(zf)
            if sheet.name in self._parts:
                _scan_sheet(zf.read(self._parts[sheet.name]), sheet)
        except (zipfile.BadZipFile, KeyError, ET.ParseError):
            return


def column_letter(c: int) -> str:
    """0-based column index → Excel letters (0 → A, 26 → AA)."""
    out = ""
    c += 1
    while c:
        c, rem = divmod(c - 1, 26)
        out = chr(65 + rem) + out
    return out


def cell_ref(sheet: str, r: int, c: int) -> str:
    """A cell reference as a clerk reads it, e.g. 村级情况!F12 (0-based input)."""
    return f"{sheet}!{column_letter(c)}{r + 1}"


def read_return(name: str, data: bytes) -> ReturnFile:
    """Parse ``data`` (the bytes of a file called ``name``) into sheets of cell values.

    Raises RuralTargetsError ING006 when the file cannot be read, GEN003 for an unknown type.
    """
    suffix = Path(name).suffix.lower()
    if suffix == ".csv":
        return ReturnFile(name, "csv", data, [_read_csv(name, data)])
    if suffix not in EXCEL_KINDS:
        raise RuralTargetsError("GEN003", file=name)
    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - calamine raises several types for broken files
        raise RuralTargetsError("ING006", file=name, detail=str(exc)[:200]) from None
    return ReturnFile(name, EXCEL_KINDS[suffix], data, workbook=wb)


def decode_text(data: bytes) -> str:
    """CSV bytes as text: UTF-8 (with or without BOM), else GBK (gb18030 is its superset).

    Raises ValueError when it is neither."""
    for encoding in CSV_ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValueError("既不是 UTF-8 也不是 GBK 编码")


def _read_csv(name: str, data: bytes) -> Sheet:
    try:
        text = decode_text(data)
    except ValueError as exc:
        raise RuralTargetsError("ING006", file=name, detail=str(exc)) from None
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = [list(r) for r in csv.reader(io.StringIO(text), dialect)]
    return Sheet(Path(name).stem, rows)


def _sheet_parts(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name → path of its XML part inside the .xlsx."""
    wb = ET.fromstring(zf.read("xl/workbook.xml"))
    rels = ET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target") for r in rels.findall("pr:Relationship", _NS)}
    parts = {}
    for el in wb.iterfind("m:sheets/m:sheet", _NS):
        target = targets.get(el.get(f"{{{_NS['r']}}}id"))
        if target:
            parts[el.get("name")] = target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)
    return parts


_HIDDEN_ROW = re.compile(rb'<row\b[^>]*?\br="(\d+)"[^>]*?\bhidden="(?:1|true)"|<row\b[^>]*?\bhidden="(?:1|true)"[^>]*?\br="(\d+)"')
_HIDDEN_COL = re.compile(rb"<col\b[^>]*>")
_ATTR = re.compile(rb'(\w+)="([^"]*)"')
_FORMULA = re.compile(rb"<f[ >/]")


def _scan_sheet(xml: bytes, sheet: Sheet) -> None:
    for m in _HIDDEN_ROW.finditer(xml):
        sheet.hidden_rows.add(int(m.group(1) or m.group(2)) - 1)
    for m in _HIDDEN_COL.finditer(xml):
        attrs = dict(_ATTR.findall(m.group(0)))
        if attrs.get(b"hidden") in (b"1", b"true"):
            sheet.hidden_cols.update(range(int(attrs[b"min"]) - 1, int(attrs[b"max"])))
    if not _FORMULA.search(xml):
        return
    m = "{%s}" % _NS["m"]
    for _, el in ET.iterparse(io.BytesIO(xml), events=("end",)):
        if el.tag == m + "c":
            f = el.find(m + "f")
            if f is not None:
                v = el.find(m + "v")
                if v is None or v.text in (None, ""):
                    match = _CELL_REF.fullmatch(el.get("r", ""))
                    if match:
                        sheet.formulas_without_value.add((int(match.group(2)) - 1, _col_index(match.group(1))))
        elif el.tag == m + "row":
            el.clear()


def _col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1
