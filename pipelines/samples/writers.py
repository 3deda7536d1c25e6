"""Turning simulated values into return files: .xlsx (the real template, or a plain workbook), .csv, .xls.

``write_return(con, township, period, values, path)`` writes by suffix — ``.xlsx`` the real
template (``pipelines.ingest.template``) filled in with openpyxl, ``.csv`` the 村级情况 sheet as
Excel's "save as CSV" lays it out (UTF-8 with BOM, or GBK), ``.xls`` the .xlsx converted by
LibreOffice. ``.xlsx`` with ``lite=True`` is a plain workbook of the same layout written with
XlsxWriter: ``pipelines.samples.committed.ensure_generated`` writes the full history that way
(CSV would lose the 乡镇情况 sheet).

Every file is dated by the return's arrival (or the 5th of the month after the quarter), never
by the clock, so the same values always give the same bytes (.xls aside: LibreOffice stamps its
own time).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import duckdb
import openpyxl
import xlsxwriter
from openpyxl.workbook.workbook import Workbook
from openpyxl.writer.excel import ExcelWriter

from pipelines import __version__
from pipelines.catalog.definitions import SheetSpec, catalog
from pipelines.files import atomic_write
from pipelines.ingest.template import FOOTER, ISSUER, TITLE, template_filename, write_township_template
from pipelines.periods import due_date, period_bounds, period_label
from pipelines.registry.load import get_unit

TZ = dt.timezone(dt.timedelta(hours=8))
CREATOR = "rural-targets 示例数据"


def saved_at(period: str, when: dt.datetime | None) -> dt.datetime:
    """The time a return was saved: ``when`` (its arrival), else 9:00 on the 5th of the month
    after the quarter."""
    if when is not None:
        return when
    nxt = period_bounds(period)[1] + dt.timedelta(days=1)
    return dt.datetime(nxt.year, nxt.month, 5, 9, 0)


def return_filename(township: str, name: str, period: str, suffix: str = ".xlsx", tag: str = "") -> str:
    """``{code}_{name}_{period}{tag}{suffix}`` — the template's file name with another suffix."""
    return Path(template_filename(township, name, period)).stem + tag + suffix


def write_return(con: duckdb.DuckDBPyConnection, township: str, period: str, values: dict[str, Any], path: Path,
                 *, encoding: str = "utf-8-sig", written_at: dt.datetime | None = None, lite: bool = False) -> Path:
    """Write the return of ``township`` for ``period`` holding ``values`` (``Simulation.values``)
    to ``path``, in the format its suffix names:

    - ``.xlsx``: the real template (``pipelines.ingest.template.write_township_template``) filled in
      with openpyxl — validations, protection and hidden rows kept; with ``lite=True`` instead a
      plain workbook of the same layout (no styles, validations or 填报说明; several times faster);
    - ``.csv``: the 村级情况 sheet as Excel's "save as CSV" writes it (header block, header row,
      field-id row, data rows, footer), in ``encoding`` (``utf-8-sig`` or ``gbk``);
    - ``.xls``: the .xlsx converted by LibreOffice (``soffice`` must be installed).

    ``written_at`` dates the file (default: the 5th of the month after the quarter); the same
    arguments always give the same bytes (.xls aside: LibreOffice stamps its own time).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    when = saved_at(period, written_at)
    if suffix == ".xlsx":
        if lite:
            return atomic_write(path, lite_xlsx(get_unit(con, township), period, values, when))
        return atomic_write(path, filled_template(con, township, period, values, when))
    if suffix == ".csv":
        return atomic_write(path, _csv_bytes(con, township, period, values, encoding))
    if suffix == ".xls":
        return _xls(con, township, period, values, path, when)
    raise ValueError(f"unsupported return format {path.suffix!r} (.xlsx, .csv, .xls)")


def cell_value(v: Any) -> Any:
    """A value as a clerk's cell holds it: whole floats as integers."""
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


# ------------------------------------------------------------------ the real template, with openpyxl

class _DatedZip(zipfile.ZipFile):
    """A zip archive whose every entry is dated ``when``, however it is added.

    Kept by hand: openpyxl dates each entry with the current time (or a temporary file's) and
    offers no option for it.
    """

    def __init__(self, file: io.BytesIO, when: dt.datetime) -> None:
        super().__init__(file, "w", zipfile.ZIP_DEFLATED)
        self._date_time = when.timetuple()[:6]

    def _dated(self, name):
        if not isinstance(name, str):
            return name
        info = zipfile.ZipInfo(name, date_time=self._date_time)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        return info

    def writestr(self, zinfo_or_arcname, data, *args, **kwargs) -> None:
        super().writestr(self._dated(zinfo_or_arcname), data, *args, **kwargs)

    def open(self, name, mode="r", *args, **kwargs):
        return super().open(self._dated(name) if mode == "w" else name, mode, *args, **kwargs)

    def write(self, filename, arcname=None, *args, **kwargs) -> None:
        """Store a file from disk (openpyxl's worksheets) as if written with ``writestr``."""
        self.writestr(str(arcname or filename), Path(filename).read_bytes())


def save_workbook(wb: Workbook, when: dt.datetime) -> bytes:
    """The .xlsx bytes of an openpyxl workbook, created and modified at ``when`` and with every
    zip entry dated ``when`` (``Workbook.save`` stamps the current time in both)."""
    wb.properties.created = wb.properties.modified = when
    out = io.BytesIO()
    ExcelWriter(wb, _DatedZip(out, when)).save()
    return out.getvalue()


def filled_template(con: duckdb.DuckDBPyConnection, township: str, period: str, values: dict[str, Any],
                    when: dt.datetime) -> bytes:
    """The real template of ``township`` for ``period`` with ``values`` typed in, saved at ``when``."""
    with tempfile.TemporaryDirectory() as tmp:
        blank = write_township_template(con, township, period, Path(tmp) / "blank.xlsx")
        wb = openpyxl.load_workbook(blank)
    meta_cells = {str(r[0].value): r[1] for r in wb["_meta"].iter_rows(max_col=2) if r[0].value}
    meta = {k: str(c.value) for k, c in meta_cells.items()}
    meta_cells["generated_at"].value = when.replace(tzinfo=TZ).isoformat(timespec="seconds")
    for key, rows in (("village", values["village"]), ("township", [values["township"]])):
        ws = wb[meta[f"{key}_sheet"]]
        ids = {c.value: c.column for c in ws[int(meta[f"{key}_id_row"])] if c.value}
        first, last = int(meta[f"{key}_first_row"]), int(meta[f"{key}_last_row"])
        anchor = "village_code" if key == "village" else "township_code"
        row_of = {str(ws.cell(r, ids[anchor]).value): r for r in range(first, last + 1)}
        for rec in rows:
            r = row_of.get(str(rec[anchor]))
            if r is None:
                raise ValueError(f"{rec[anchor]} 不在 {township} {period} 的报表模板中")
            for fid, v in rec.items():
                if fid in ids and fid not in (anchor, "village_name"):
                    ws.cell(r, ids[fid]).value = cell_value(v)
    wb.properties.creator = CREATOR
    return save_workbook(wb, when)


# ------------------------------------------------------------------ the template's layout, for CSV and lite

def _layout(unit: dict[str, Any], period: str) -> dict[str, Any]:
    """What the header block says, shared by the CSV and lite writers."""
    return {"unit_text": f"{unit['name']}({unit['code']})", "label": period_label(period)}


def _sheet_rows(spec: SheetSpec, lay: dict[str, Any], rows: list[dict[str, Any]]) -> tuple[list[list[Any]], dict[str, int]]:
    """The cells of one data sheet as the template lays it out (rows 1–5 header, data from 6)."""
    n = len(spec.fields)
    mid = max(1, n // 2)
    pad = lambda *cells: list(cells) + [None] * (n - len(cells))  # noqa: E731
    grid = [
        pad(f"{TITLE}({spec.title})"),
        pad(*([f"表号:{spec.form_no}"] + [None] * (mid - 1) + [f"制定机关:{ISSUER}"])),
        pad(*([f"填报单位:{lay['unit_text']}"] + [None] * (mid - 1) + [f"报告期:{lay['label']}"])),
        [f.header for f in spec.fields],
        [f.id for f in spec.fields],
    ]
    grid += [[cell_value(rec.get(f.id)) for f in spec.fields] for rec in rows]
    first, last = 6, 5 + len(rows)
    grid += [pad(), pad(FOOTER)]
    return grid, {"header_row": 4, "id_row": 5, "first_row": first, "last_row": last, "footer_row": last + 2}


def _csv_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def _csv_bytes(con: duckdb.DuckDBPyConnection, township: str, period: str, values: dict[str, Any],
               encoding: str) -> bytes:
    spec = catalog().sheets["village"]
    grid, _ = _sheet_rows(spec, _layout(get_unit(con, township), period), values["village"])
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    for row in grid:
        writer.writerow([_csv_text(v) for v in row])
    return buf.getvalue().encode(encoding)


def _write_grid(ws, grid: list[list[Any]], date_format) -> None:
    """Write ``grid`` from A1: text as text (never read as a formula), numbers, booleans, dates."""
    for r, row in enumerate(grid):
        for c, v in enumerate(row):
            if v is None or v == "":
                continue
            if isinstance(v, bool):
                ws.write_boolean(r, c, v)
            elif isinstance(v, (int, float)):
                ws.write_number(r, c, v)
            elif isinstance(v, dt.date):
                ws.write_datetime(r, c, v, date_format)
            else:
                ws.write_string(r, c, str(v))


def lite_xlsx(unit: dict[str, Any], period: str, values: dict[str, Any], when: dt.datetime) -> bytes:
    """The return of township ``unit`` (code, name, parent_code) as a plain .xlsx in the
    template's layout (same sheets, rows, hidden id row and ``_meta``), without styles,
    validations or 填报说明, written with XlsxWriter. XlsxWriter dates every zip entry 1980-01-01
    and the document with ``created`` (``when``): the bytes depend on the arguments only."""
    cat = catalog()
    lay = _layout(unit, period)
    meta: list[list[str]] = [
        ["template_version", cat.template_version], ["township_code", unit["code"]],
        ["township_name", unit["name"]], ["county_code", str(unit.get("parent_code") or "")],
        ["period", period], ["due_date", due_date(period).isoformat()],
        ["generated_at", when.replace(tzinfo=TZ).isoformat(timespec="seconds")],
        ["generator", f"rural-targets {__version__} (示例数据)"],
    ]
    out = io.BytesIO()
    wb = xlsxwriter.Workbook(out, {"in_memory": True})
    wb.set_properties({"author": CREATOR, "created": when})
    date_format = wb.add_format({"num_format": "yyyy-mm-dd"})
    for key, rows in (("village", values["village"]), ("township", [values["township"]])):
        spec = cat.sheets[key]
        grid, rows_at = _sheet_rows(spec, lay, rows)
        ws = wb.add_worksheet(spec.title)
        _write_grid(ws, grid, date_format)
        ws.set_row(rows_at["id_row"] - 1, None, None, {"hidden": True})
        meta.append([f"{key}_sheet", spec.title])
        meta.extend([f"{key}_{k}", str(v)] for k, v in rows_at.items())
    ws = wb.add_worksheet("_meta")
    _write_grid(ws, meta, date_format)
    ws.hide()
    wb.close()
    return out.getvalue()


# ------------------------------------------------------------------ .xls, through LibreOffice

def soffice() -> str | None:
    """The LibreOffice executable, or None."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def _xls(con: duckdb.DuckDBPyConnection, township: str, period: str, values: dict[str, Any], path: Path,
         when: dt.datetime) -> Path:
    exe = soffice()
    if exe is None:
        raise RuntimeError("LibreOffice (soffice) 未安装,无法生成 .xls")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / (path.stem + ".xlsx")
        atomic_write(src, filled_template(con, township, period, values, when))
        home = Path(tmp) / "home"
        home.mkdir()
        subprocess.run([exe, "--headless", "--convert-to", "xls", "--outdir", str(Path(tmp) / "out"), str(src)],
                       env={**os.environ, "HOME": str(home)}, check=True, capture_output=True, timeout=180)
        return atomic_write(path, (Path(tmp) / "out" / (path.stem + ".xls")).read_bytes())
