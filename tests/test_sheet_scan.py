"""What the sheet XML says beside the values (pipelines.ingest.read.scan_sheet): Excel error values,
rows and columns hidden by zero size, and column ranges a hostile file declares absurdly wide."""
from __future__ import annotations

import resource
import time

from pipelines.ingest.read import MAX_COLUMNS, Sheet, scan_sheet

NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def scanned(body: str, cols: str = "") -> Sheet:
    sheet = Sheet("村级情况", [])
    scan_sheet(f'<worksheet {NS}>{cols}<sheetData>{body}</sheetData></worksheet>'.encode(), sheet)
    return sheet


def test_excel_error_values_are_found_with_their_cell():
    sheet = scanned('<row r="6"><c r="Y6" t="e"><f>A1/0</f><v>#DIV/0!</v></c><c r="Z6" t="e"><v>#REF!</v></c>'
                    '<c r="AA6"><v>3</v></c></row>')
    assert sheet.error_values == {(5, 24): "#DIV/0!", (5, 25): "#REF!"}
    assert sheet.formulas_without_value == set()


def test_rows_and_columns_of_zero_size_are_hidden():
    sheet = scanned('<row r="7" ht="0" customHeight="1"><c r="A7"><v>1</v></c></row><row r="8" ht="15"/>',
                    cols='<cols><col min="3" max="4" width="0" customWidth="1"/><col min="5" max="5" width="9"/></cols>')
    assert sheet.hidden_rows == {6} and sheet.hidden_cols == {2, 3}


def test_a_hidden_column_range_of_two_billion_is_clipped_and_bad_bounds_are_ignored():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    sheet = scanned('<row r="1"><c r="A1"><v>1</v></c></row>',
                    cols='<cols><col min="100" max="2000000000" hidden="1"/><col min="a" max="b" hidden="1"/></cols>')
    assert time.perf_counter() - started < 1.0
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) < 50_000      # KB: no giant set
    assert min(sheet.hidden_cols) == 99 and max(sheet.hidden_cols) == MAX_COLUMNS - 1


def test_excel_error_values_of_an_xls_are_found_too(tmp_path):
    """calamine reads an .xls error cell as blank; the reader takes them from xlrd."""
    import shutil
    import subprocess

    import openpyxl
    import pytest

    from pipelines.ingest.read import read_return

    if not shutil.which("soffice"):
        pytest.skip("LibreOffice (soffice) 不存在:无法生成 .xls")
    wb = openpyxl.Workbook()
    wb.active.title = "村级情况"
    wb.active["A1"], wb.active["B1"], wb.active["C1"] = 1, "=1/0", 5
    src = tmp_path / "errors.xlsx"
    wb.save(src)
    subprocess.run(["soffice", "--headless", "--convert-to", "xls", "--outdir", str(tmp_path), str(src)],
                   check=True, capture_output=True, timeout=180)
    ret = read_return("errors.xls", (tmp_path / "errors.xls").read_bytes())
    sheet = ret.sheet("村级情况")
    assert sheet.rows[0][0] == 1 and sheet.error_values == {(0, 1): "#DIV/0!"}
