"""Reading a return file (.xlsx, .xlsm, .xls, .csv) into plain grids of cell values.

python-calamine reads the cells (10–20× faster than openpyxl). What calamine does not
expose for .xlsx — hidden rows and columns, formulas saved without a cached value — is read
from the sheet XML with ElementTree's XMLParser, namespace-aware (a part that writes its tags
with a prefix, ``<x:row>``, reads the same), in one streaming pass.
"""
from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any
from xml.etree import ElementTree as ET

from openpyxl.utils import coordinate_to_tuple, get_column_letter
from python_calamine import CalamineWorkbook

from pipelines.catalog.definitions import LimitSettings

from pipelines.errors import RuralTargetsError

EXCEL_KINDS = {".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xls"}
CSV_ENCODINGS = ("utf-8-sig", "gb18030")
_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
       "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
       "pr": "http://schemas.openxmlformats.org/package/2006/relationships"}


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
    error_values: dict[tuple[int, int], str] = field(default_factory=dict)   # #DIV/0!, #REF! … (calamine: blank)
    extent: tuple[int, int] = (0, 0)      # rows × columns the sheet uses (the farthest cell), before reading

    def cell(self, r: int, c: int) -> Any:
        """The value at row ``r``, column ``c`` (0-based); None outside the grid."""
        row = self.rows[r] if r < len(self.rows) else []
        return row[c] if c < len(row) else None


class ReturnFile:
    """The raw content of one uploaded file; sheets are parsed when first asked for."""

    def __init__(self, name: str, kind: str, data: bytes, sheets: list[Sheet] | None = None,
                 workbook: CalamineWorkbook | None = None, limits: LimitSettings | None = None):
        self.name, self.kind, self.data = name, kind, data
        self.limits = limits or LimitSettings()
        self._wb = workbook
        self._cache: dict[str, Sheet] = {s.name: s for s in sheets or []}
        self.sheet_names: list[str] = list(workbook.sheet_names) if workbook else list(self._cache)
        self._visible = ({m.name: str(m.visible).lower().endswith("visible") for m in workbook.sheets_metadata}
                         if workbook else {})
        self._parts: dict[str, str] | None = None
        self._xlrd: Any = None

    @property
    def sha256(self) -> str:
        """The hex SHA-256 of the file's bytes (the archive's content address)."""
        return hashlib.sha256(self.data).hexdigest()

    def sheet(self, name: str) -> Sheet | None:
        """The sheet called ``name`` (None if there is none); read on first use."""
        if name in self._cache:
            return self._cache[name]
        if self._wb is None or name not in self.sheet_names:
            return None
        sheet = Sheet(name, [], self._visible.get(name, True))
        if self.kind == "xlsx":
            self._scan(sheet)                     # first: the extent is known before any grid is built
            self._within_limits(sheet)
        try:
            s = self._wb.get_sheet_by_name(name)
            if self.kind != "xlsx":
                height, width = s.height, s.width
                sheet.extent = (height, width)
                self._within_limits(sheet)
            sheet.rows = s.to_python(skip_empty_area=False)
            if self.kind == "xls":
                sheet.error_values = self._xls_errors(name)
            sheet.merged = [(a[0], a[1], b[0], b[1]) for a, b in (s.merged_cell_ranges or [])]
        except RuralTargetsError:
            raise
        except Exception as exc:  # noqa: BLE001 - calamine raises several types for broken files
            raise RuralTargetsError("ING006", file=self.name, detail=str(exc)[:200]) from None
        self._cache[name] = sheet
        return sheet

    def _xls_errors(self, name: str) -> dict[tuple[int, int], str]:
        """Excel error values (#DIV/0!, #REF! …) of an .xls sheet, which calamine reads as blank (xlrd
        keeps them)."""
        import xlrd

        try:
            if self._xlrd is None:
                self._xlrd = xlrd.open_workbook(file_contents=self.data, on_demand=True, logfile=io.StringIO())
            ws = self._xlrd.sheet_by_name(name)
        except Exception:  # noqa: BLE001 - calamine read the sheet; without xlrd's view, no error cells
            return {}
        return {(r, c): xlrd.error_text_from_code.get(ws.cell_value(r, c), "#错误")
                for r in range(ws.nrows) for c in range(ws.ncols) if ws.cell_type(r, c) == xlrd.XL_CELL_ERROR}

    def _within_limits(self, sheet: Sheet) -> None:
        rows, cols = sheet.extent
        if rows > self.limits.max_rows or cols > self.limits.max_columns:
            raise RuralTargetsError("ING062", file=self.name, sheet=sheet.name,
                                    cell=f"{get_column_letter(min(max(cols, 1), 16384))}{max(rows, 1)}",
                                    rows=rows, cols=cols, max_rows=self.limits.max_rows,
                                    max_cols=self.limits.max_columns)

    def _scan(self, sheet: Sheet) -> None:
        """Hidden rows/columns and value-less formulas, from the sheet's XML (calamine has neither)."""
        try:
            zf = zipfile.ZipFile(io.BytesIO(self.data))
            if self._parts is None:
                self._parts = sheet_parts(zf)
            if sheet.name in self._parts:
                with zf.open(self._parts[sheet.name]) as part:
                    scan_sheet(part, sheet)
        except (zipfile.BadZipFile, KeyError, ValueError, ET.ParseError):
            return


MAX_COLUMNS = 16384          # XFD: the widest sheet Excel writes


def _zero(size: str | None) -> bool:
    """Whether a row height or column width attribute is zero (the row or column is hidden)."""
    try:
        return size is not None and float(size) == 0
    except ValueError:
        return False


def cell_ref(sheet: str, r: int, c: int) -> str:
    """A cell reference as a clerk reads it, e.g. 村级情况!F12 (0-based input)."""
    return f"{sheet}!{get_column_letter(c + 1)}{r + 1}"


def read_return(name: str, data: bytes, limits: LimitSettings | None = None) -> ReturnFile:
    """Parse ``data`` (the bytes of a file called ``name``) into sheets of cell values, within
    ``limits`` (settings.yaml ``limits``): checked before anything is parsed — the file's size
    (ING060), every part of an .xlsx uncompressed and its compression ratio (ING061), and, sheet
    by sheet, the rows and columns it uses (ING062: read from the sheet XML before any grid is built).

    Raises RuralTargetsError ING006 when the file cannot be read, GEN003 for an unknown type.
    """
    limits = limits or LimitSettings()
    size_mb = len(data) / 2**20
    if size_mb > limits.max_file_mb:
        raise RuralTargetsError("ING060", file=name, size=f"{size_mb:.1f}", limit=f"{limits.max_file_mb:g}")
    suffix = Path(name).suffix.lower()
    if suffix == ".csv":
        return ReturnFile(name, "csv", data, [_read_csv(name, data, limits)], limits=limits)
    if suffix not in EXCEL_KINDS:
        raise RuralTargetsError("GEN003", file=name)
    if data.startswith(_OLE_MAGIC) and _ENCRYPTED in data[:1 << 20]:
        raise RuralTargetsError("ING065", file=name)     # an encrypted .xlsx is an OLE file holding the package
    if EXCEL_KINDS[suffix] == "xlsx":
        _check_zip(name, data, limits)
    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - calamine raises several types for broken files
        raise RuralTargetsError("ING006", file=name, detail=str(exc)[:200]) from None
    return ReturnFile(name, EXCEL_KINDS[suffix], data, workbook=wb, limits=limits)


def _check_zip(name: str, data: bytes, limits: LimitSettings) -> None:
    """ING061 when the parts of an .xlsx inflate beyond the limits (the sizes the zip declares are
    checked here; the XML scan reads no more than they say)."""
    try:
        infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except zipfile.BadZipFile:
        return                                    # not a zip: calamine says what it is (ING006)
    total = 0
    for info in infos:
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if (info.file_size > 2**20 and ratio > limits.max_compression_ratio) or total > limits.max_unzipped_mb * 2**20:
            raise RuralTargetsError("ING061", file=name, part=info.filename[:60], size=f"{info.file_size / 2**20:.0f}",
                                    ratio=f"{ratio:.0f}", limit=f"{limits.max_unzipped_mb:g}",
                                    max_ratio=f"{limits.max_compression_ratio:g}")


def decode_text(data: bytes) -> str:
    """CSV bytes as text: UTF-16 with a byte-order mark (Excel's "Unicode 文本"), UTF-8 (with or without
    BOM), else GBK (gb18030 is its superset). Text that reads as Big5 or Shift-JIS rather than GBK is
    named, not misread.

    Raises ValueError saying which encoding the file seems to have when it is none of these."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise ValueError("UTF-16 编码不完整") from None
    for encoding in CSV_ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding == "gb18030" and not any(word in text for word in _EXPECTED_WORDS):
            for other, label in (("big5", "Big5(繁体)"), ("shift_jis", "Shift-JIS(日文)")):
                try:
                    if any(word in data.decode(other) for word in _EXPECTED_WORDS_OTHER):
                        raise ValueError(f"文件是 {label} 编码,请另存为 UTF-8 或 GBK(ANSI)编码的 CSV")
                except UnicodeDecodeError:
                    continue
        return text
    raise ValueError("既不是 UTF-8 也不是 GBK 编码")


_EXPECTED_WORDS = ("村", "代码", "乡镇")                 # every return's header has them (GBK or UTF-8)
_EXPECTED_WORDS_OTHER = ("村", "代碼", "鄉鎮", "代码")    # the same in Big5 / Shift-JIS text
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")


def _read_csv(name: str, data: bytes, limits: LimitSettings) -> Sheet:
    try:
        text = decode_text(data)
    except ValueError as exc:
        raise RuralTargetsError("ING006", file=name, detail=str(exc)) from None
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = []
    for r in csv.reader(io.StringIO(text), dialect):
        if len(rows) >= limits.max_rows or len(r) > limits.max_columns:
            raise RuralTargetsError("ING062", file=name, sheet=Path(name).stem, cell=f"第 {len(rows) + 1} 行",
                                    rows=f"{len(rows) + 1}+", cols=len(r), max_rows=limits.max_rows,
                                    max_cols=limits.max_columns)
        rows.append(list(r))
    return Sheet(Path(name).stem, rows)


def sheet_parts(zf: zipfile.ZipFile) -> dict[str, str]:
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


# the main namespace of transitional and of strict OOXML; tags are compared with their namespace,
# so a part that binds it to a prefix (<x:row>, <x:c>) reads the same as one that binds it as default
_MAIN_NS = ("http://schemas.openxmlformats.org/spreadsheetml/2006/main",
            "http://purl.oclc.org/ooxml/spreadsheetml/main")
_ROW, _COL, _CELL, _FORMULA, _VALUE = (frozenset(f"{{{ns}}}{tag}" for ns in _MAIN_NS)
                                       for tag in ("row", "col", "c", "f", "v"))
_TRUE = ("1", "true")
_CHUNK = 1 << 16


def scan_sheet(source: bytes | IO[bytes], sheet: Sheet) -> None:
    """Hidden rows and columns, and formulas saved without a value, from a sheet's XML part
    (bytes, or a binary stream such as a zip member), into ``sheet``.

    Streaming: the part is fed to ElementTree's XMLParser in chunks and no tree is built.
    Raises ET.ParseError for a part that is not well-formed or that declares a DTD, ValueError
    for a malformed cell reference.
    """
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    parser = ET.XMLParser(target=_SheetScan(sheet))
    while chunk := stream.read(_CHUNK):
        parser.feed(chunk)
    parser.close()


class _SheetScan:
    """XMLParser target collecting what calamine does not expose (a target rather than iterparse:
    no element is built per cell, which makes the scan about a third cheaper)."""

    def __init__(self, sheet: Sheet):
        self.sheet = sheet
        self.row = 0                  # 1-based number of the current row (``r`` is optional in OOXML …)
        self.last_ref: str | None = None
        self.since_ref = 0            # … and so is a cell's: it then follows the previous cell
        self.formula = self.value = self.in_value = self.error = False
        self.text = ""

    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        # defusedxml is not a dependency: a worksheet part never has a DTD, and without one no entity
        # can be declared, so refusing a DTD is all the defusing needed (expat fetches nothing external)
        raise ET.ParseError("a worksheet part must not declare a DTD")

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        """An element opens: note cells, formulas, values; record hidden rows and columns."""
        if tag in _CELL:
            ref = attrs.get("r")
            if ref:
                self.last_ref, self.since_ref = ref, 0
            else:
                self.since_ref += 1
            self.formula = self.value = False
            self.error, self.text = attrs.get("t") == "e", ""
        elif tag in _VALUE:
            self.in_value = True
        elif tag in _FORMULA:
            self.formula = True
        elif tag in _ROW:
            self._row_extent()
            self.row = int(attrs["r"]) if "r" in attrs else self.row + 1
            self.last_ref, self.since_ref = None, 0
            if attrs.get("hidden") in _TRUE or _zero(attrs.get("ht")):      # a row of zero height is hidden too
                self.sheet.hidden_rows.add(self.row - 1)
        elif tag in _COL and (attrs.get("hidden") in _TRUE or _zero(attrs.get("width"))):
            try:      # clipped to the sheet's 16,384 columns: a declared range never builds a huge set
                lo, hi = max(int(attrs["min"]), 1), min(int(attrs["max"]), MAX_COLUMNS)
            except (KeyError, ValueError):
                return
            self.sheet.hidden_cols.update(range(lo - 1, hi))

    def data(self, text: str) -> None:
        """Text inside an element: a value's text means the cell has a cached value."""
        if self.in_value and text:
            self.value = True
            if self.error and len(self.text) < 16:
                self.text += text

    def end(self, tag: str) -> None:
        """An element closes: a formula cell without a value is recorded."""
        if tag in _VALUE:
            self.in_value = False
        elif tag in _CELL and (self.error or (self.formula and not self.value)):
            col = (coordinate_to_tuple(self.last_ref)[1] if self.last_ref else 0) + self.since_ref
            if self.error:
                self.sheet.error_values[(self.row - 1, col - 1)] = self.text.strip() or "#错误"
            else:
                self.sheet.formulas_without_value.add((self.row - 1, col - 1))

    def _row_extent(self) -> None:
        """The row just read widens the sheet's extent to its last cell (one reference per row)."""
        if self.last_ref is None and not self.since_ref:
            return
        col = (coordinate_to_tuple(self.last_ref)[1] if self.last_ref else 0) + self.since_ref
        rows, cols = self.sheet.extent
        self.sheet.extent = (max(rows, self.row), max(cols, col))

    def close(self) -> None:
        """End of the part (XMLParser asks its target for a result; there is none)."""
        self._row_extent()
        return None
