"""What a workbook says must agree: the township and period stated in _meta, the header block and the
乡镇情况 sheet (ING027), and one column per field (ING026). Nothing is stored."""
from __future__ import annotations

from pathlib import Path

import openpyxl

from pipelines.ingest.pipeline import ingest_uploads
from test_limits import ADMIN, GOOD, ROOT, con  # noqa: F401 - the database with the sample registry


def field_cell(ws, field: str) -> tuple[int, int]:
    """The row of the field ids and the column of ``field`` in a return's village sheet."""
    id_row = next(r for r in range(1, 10) if any(c.value == field for c in ws[r]))
    return id_row, next(c.column for c in ws[id_row] if c.value == field)


def check(con, path: Path):
    [report] = ingest_uploads(con, [(path.name, path.read_bytes())], dry_run=True, actor=ADMIN)
    assert con.execute("SELECT count(*) FROM submissions").fetchone()[0] == 0
    return report


def test_last_quarters_file_with_its_visible_period_edited_is_refused(con, tmp_path):
    wb = openpyxl.load_workbook(GOOD)
    ws = wb["村级情况"]
    cell = next(c for row in ws.iter_rows(max_row=6) for c in row if isinstance(c.value, str) and "报告期" in c.value)
    cell.value = cell.value.replace("第4季度", "第3季度")
    path = tmp_path / "edited.xlsx"
    wb.save(path)
    report = check(con, path)
    [problem] = [p for p in report.errors if p.code == "ING027"]
    assert "报告期" in problem.message and "2025Q4" in problem.message and "2025Q3" in problem.message
    assert report.status == "rejected"


def test_a_copied_column_with_the_same_field_id_is_refused(con, tmp_path):
    wb = openpyxl.load_workbook(GOOD)
    ws = wb["村级情况"]
    _, source = field_cell(ws, "volunteers")
    target = ws.max_column + 1
    for r in range(1, ws.max_row + 1):
        ws.cell(r, target).value = ws.cell(r, source).value
    path = tmp_path / "copied.xlsx"
    wb.save(path)
    report = check(con, path)
    [problem] = [p for p in report.errors if p.code == "ING026"]
    letter = openpyxl.utils.get_column_letter
    assert problem.field == "volunteers" and letter(source) in problem.message and letter(target) in problem.message
    assert report.status == "rejected"


def test_a_twenty_digit_number_is_caught_by_the_check_and_costs_no_other_file(con, tmp_path):
    wb = openpyxl.load_workbook(GOOD)
    ws = wb["村级情况"]
    id_row, col = field_cell(ws, "volunteers")
    ws.cell(id_row + 2, col).value = 12345678901234567890
    bad = tmp_path / "twenty_digits.xlsx"
    wb.save(bad)
    other = ROOT / "data" / "samples" / "returns" / "439921100000_仁井镇_2025Q4.xlsx"
    reports = ingest_uploads(con, [(bad.name, bad.read_bytes()), (other.name, other.read_bytes())], actor=ADMIN)
    assert reports[0].status == "rejected" and [p.code for p in reports[0].errors] == ["ING023"]
    assert "1,000,000,000,000" in reports[0].errors[0].message
    assert reports[1].status == "stored"


def test_an_id_card_number_as_population_is_caught_without_an_earlier_quarter(con, tmp_path):
    wb = openpyxl.load_workbook(GOOD)
    ws = wb["村级情况"]
    id_row = next(r for r in range(1, 10) if any(c.value == "population_resident" for c in ws[r]))
    col = {c.value: c.column for c in ws[id_row]}
    ws.cell(id_row + 2, col["population_resident"]).value = 430721198803150000 // 10**6   # an ID number cut short
    ws.cell(id_row + 3, col["households"]).value = 90000
    path = tmp_path / "id_card.xlsx"
    wb.save(path)
    report = check(con, path)
    codes = {p.code: p for p in report.errors}
    assert "ING028" in codes and "身份证" in codes["ING028"].message and codes["ING028"].field == "population_resident"
    assert any(p.code == "ING020" and p.field == "households" for p in report.errors)
