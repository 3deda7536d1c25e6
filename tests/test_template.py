"""The township quarterly return template: real files from the sample region, real LibreOffice."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from python_calamine import CalamineWorkbook, SheetVisibleEnum

from pipelines.catalog.definitions import ROOT, catalog
from pipelines.store.db import connect
from pipelines.errors import RegistryError, TemplateError
from pipelines.registry.load import children, load_registry
from pipelines.ingest.template import (
    INFO_SHEET,
    ISSUER,
    META_SHEET,
    read_meta,
    write_county_templates,
    write_township_template,
)
from pipelines.periods import due_date, parse_period, period_label
from pipelines.access.roles import local_admin

ADMIN = local_admin("测试管理员")

REGION = ROOT / "data" / "samples" / "region"
CITY = "439900000000"
PERIOD = "2024Q3"
VILLAGE_IDS = [f.id for f in catalog().sheets["village"].fields]
TOWNSHIP_IDS = [f.id for f in catalog().sheets["township"].fields]


# ------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def region_db(tmp_path_factory) -> Path:
    """A database holding the sample region's registry (the connection is closed again,
    so that a CLI subprocess can open the file)."""
    db = tmp_path_factory.mktemp("db") / "region.duckdb"
    con = connect(db)
    load_registry(con, [REGION / "units.csv"], actor=ADMIN)
    con.close()
    return db


@pytest.fixture()
def con(region_db):
    c = connect(region_db)
    yield c
    c.close()


@pytest.fixture(scope="module")
def sample(region_db, tmp_path_factory):
    """One template: the sample township with the most villages; (path, township, villages)."""
    c = connect(region_db)
    try:
        townships = children(c, CITY, level="township")
        township = max(townships, key=lambda t: (len(children(c, t["code"], level="village")), t["code"]))
        villages = children(c, township["code"], level="village")
        path = write_township_template(c, township["code"], PERIOD,
                                       tmp_path_factory.mktemp("tpl") / "return.xlsx")
    finally:
        c.close()
    return path, township, villages


def _cli(db: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli.main", "--db", str(db), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


def _validation_of(ws, cell: str):
    return next((dv for dv in ws.data_validations.dataValidation if cell in dv.sqref), None)


# ------------------------------------------------------------------ periods

def test_periods():
    assert parse_period("2024Q3") == (2024, 3)
    assert parse_period("2024q1") == (2024, 1)
    assert period_label("2024Q3") == "2024年第3季度"
    assert due_date("2024Q3").isoformat() == "2024-10-15"
    assert due_date("2024Q4").isoformat() == "2025-01-15"
    for bad in ("2024Q5", "24Q1", "2024Q0", "2024-09", "", "Q3 2024"):
        with pytest.raises(TemplateError) as exc:
            parse_period(bad)
        assert exc.value.code == "TPL001"


# ------------------------------------------------------------------ one template

def test_sheets_and_meta(sample):
    path, township, villages = sample
    wb = load_workbook(path)
    assert wb.sheetnames == [INFO_SHEET, "村级情况", "乡镇情况", META_SHEET]
    assert wb.active.title == INFO_SHEET
    assert wb[META_SHEET].sheet_state == "hidden"
    assert all(wb[s].sheet_state == "visible" for s in wb.sheetnames[:3])

    meta = read_meta(path)
    assert meta["template_version"] == catalog().template_version
    assert meta["township_code"] == township["code"]
    assert meta["township_name"] == township["name"]
    assert meta["county_code"] == township["parent_code"]
    assert meta["period"] == PERIOD
    assert meta["due_date"] == "2024-10-15"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", meta["generated_at"])
    assert (meta["village_header_row"], meta["village_id_row"], meta["village_first_row"]) == ("4", "5", "6")
    assert int(meta["village_last_row"]) == 5 + len(villages)
    assert (meta["township_first_row"], meta["township_last_row"]) == ("6", "6")

    names = {name: dn.attr_text for name, dn in wb.defined_names.items()}
    meta_ws = wb[META_SHEET]
    for name, key in (("RT_TEMPLATE_VERSION", "template_version"), ("RT_TOWNSHIP", "township_code"),
                      ("RT_PERIOD", "period")):
        row = int(re.search(r"\$B\$(\d+)$", names[name]).group(1))
        assert meta_ws.cell(row, 1).value == key
        assert meta_ws.cell(row, 2).value == meta[key]


def test_village_sheet(sample, con):
    path, township, villages = sample
    meta = read_meta(path)
    ws = load_workbook(path)["村级情况"]
    spec = catalog().sheets["village"]
    header, id_row, first = (int(meta[f"village_{k}_row"]) for k in ("header", "id", "first"))

    # header block of a statistical return
    last_col = get_column_letter(len(VILLAGE_IDS))
    mid = len(VILLAGE_IDS) // 2
    assert ws.cell(1, 1).value == "乡村治理目标监测季度报表(村级情况)"
    assert {f"A1:{last_col}1", f"A2:{get_column_letter(mid)}2", f"{get_column_letter(mid + 1)}2:{last_col}2",
            f"A3:{get_column_letter(mid)}3", f"{get_column_letter(mid + 1)}3:{last_col}3"} <= \
        {str(r) for r in ws.merged_cells.ranges}
    assert ws.cell(2, 1).value == "表号:乡治季1表"
    assert ws.cell(2, mid + 1).value == f"制定机关:{ISSUER}"
    assert ws.cell(3, 1).value == f"填报单位:{township['name']}({township['code']})"
    assert ws.cell(3, mid + 1).value == "报告期:2024年第3季度"

    # headers, hidden id row in catalog order
    assert [c.value for c in ws[header]] == [f.header for f in spec.fields]
    assert ws.cell(header, 3).value == "户籍人口(人)"
    assert [c.value for c in ws[id_row]] == VILLAGE_IDS
    assert ws.row_dimensions[id_row].hidden

    # one prefilled row per village, codes as text
    expected = [(v["code"], v["name"]) for v in children(con, township["code"])]
    got = [(ws.cell(r, 1).value, ws.cell(r, 2).value) for r in range(first, first + len(villages))]
    assert got == expected == [(v["code"], v["name"]) for v in villages]
    assert all(isinstance(code, str) and re.fullmatch(r"\d{12}", code) for code, _ in got)
    assert ws.cell(first, 1).number_format == "@"
    assert ws.cell(first + len(villages), 1).value is None           # nothing right below the data
    footer = int(meta["village_footer_row"])
    assert ws.cell(footer, 1).value.startswith("单位负责人")

    # protection: code and name locked, data cells open, sheet protected without password
    assert ws.protection.sheet and not ws.protection.password
    assert ws.cell(first, 1).protection.locked and ws.cell(first, 2).protection.locked
    assert not ws.cell(first, 3).protection.locked
    assert not ws.cell(first + len(villages) - 1, len(VILLAGE_IDS)).protection.locked
    assert ws.protection.formatColumns is False and ws.protection.sort is True

    # validations on a bool, an enum, an int and a number column; none on the code
    col = {fid: i for i, fid in enumerate(VILLAGE_IDS, start=1)}
    def dv(fid):
        return _validation_of(ws, f"{ws.cell(first, col[fid]).column_letter}{first}")
    assert dv("has_elder_association").type == "list" and dv("has_elder_association").formula1 == '"是,否"'
    assert dv("demo_village_level").formula1 == '"无,区级,市级,国家级"'
    assert dv("population_registered").type == "whole" and dv("population_registered").formula1 == "0"
    assert dv("platform_area_m2").type == "decimal"
    for fid in ("has_elder_association", "demo_village_level", "population_registered"):
        assert dv(fid).error and dv(fid).errorTitle and dv(fid).prompt and dv(fid).showErrorMessage
    assert dv("village_code") is None

    # layout and print
    assert ws.freeze_panes == f"C{first}"
    assert ws.page_setup.orientation == "landscape"
    assert int(ws.page_setup.paperSize) == 9          # A4
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth == 1
    assert ws.print_title_rows == f"${header}:${id_row}"
    assert all(8 <= ws.column_dimensions[c.column_letter].width <= 28 for c in ws[header])


def test_township_sheet_and_instructions(sample):
    path, township, _ = sample
    meta = read_meta(path)
    wb = load_workbook(path)
    ws = wb["乡镇情况"]
    first, id_row = int(meta["township_first_row"]), int(meta["township_id_row"])
    assert ws.cell(1, 1).value == "乡村治理目标监测季度报表(乡镇情况)"
    assert "乡治季2表" in ws.cell(2, 1).value
    assert [c.value for c in ws[id_row]] == TOWNSHIP_IDS and ws.row_dimensions[id_row].hidden
    assert ws.cell(first, 1).value == township["code"] and ws.cell(first, 1).protection.locked
    assert all(ws.cell(first + 1, c).value is None for c in range(1, len(TOWNSHIP_IDS) + 1))
    date_col = TOWNSHIP_IDS.index("half_year_report_date") + 1
    assert _validation_of(ws, f"{ws.cell(first, date_col).column_letter}{first}").type == "date"
    assert ws.protection.sheet and ws.freeze_panes == f"B{first}"

    info = wb[INFO_SHEET]
    text = "\n".join(str(c.value) for row in info.iter_rows() for c in row if c.value is not None)
    assert township["name"] in text and township["code"] in text
    assert "2024年第3季度" in text and "2024年10月15日" in text
    assert "未填报" in text and "本季度" in text
    ids = [r[0].value for r in info.iter_rows() if r[0].value in set(VILLAGE_IDS + TOWNSHIP_IDS)]
    assert ids == VILLAGE_IDS + TOWNSHIP_IDS
    row = next(r for r in info.iter_rows() if r[0].value == "demo_village_level")
    assert "可选:无/区级/市级/国家级" in row[4].value
    row = next(r for r in info.iter_rows() if r[0].value == "population_registered")
    assert row[2].value == "人" and "≥0 的整数" in row[4].value


def test_fields_of_issue_9_in_the_template(sample):
    """The fields added for issue 9 (election dates, 年份 fields, township flows…) come from fields.yaml
    with their checks, fit their columns, and are explained on 填报说明."""
    from pipelines.textwidth import text_width
    path, _, _ = sample
    meta = read_meta(path)
    wb = load_workbook(path)
    assert meta["template_version"] == catalog().template_version == "2025.1"
    new_village = ["committee_election_date", "demo_village_district_year", "leadership_avg_age",
                   "autonomy_pilot_theme", "village_party_members", "has_power_list"]
    new_township = ["township_institution_beds", "rural_requests", "has_public_legal_station",
                    "demo_town_national_applied_year"]
    assert set(new_village) <= set(VILLAGE_IDS) and VILLAGE_IDS[-1] == "remarks"     # 备注 stays last
    assert set(new_township) <= set(TOWNSHIP_IDS)

    for sheet, key, ids in (("村级情况", "village", VILLAGE_IDS), ("乡镇情况", "township", TOWNSHIP_IDS)):
        ws = wb[sheet]
        header, first = int(meta[f"{key}_header_row"]), int(meta[f"{key}_first_row"])
        col = {fid: i for i, fid in enumerate(ids, start=1)}

        def dv(fid, ws=ws, first=first, col=col):
            return _validation_of(ws, f"{ws.cell(first, col[fid]).column_letter}{first}")
        if key == "village":
            assert dv("committee_election_date").type == "date"
            assert dv("demo_village_district_year").type == "whole"
            assert (dv("demo_village_district_year").formula1, dv("demo_village_district_year").formula2) == ("0", "2100")
            assert dv("autonomy_pilot_theme").formula1 == '"无,民主协商,民主监督,三治融合,场景营造,乡风文明"'
            assert dv("leadership_avg_age").type == "decimal"
        else:
            assert dv("rural_requests").type == "whole" and dv("has_public_legal_station").type == "list"
        # every header fits its column in the header row's lines (≈ 14 points a line)
        height = ws.row_dimensions[header].height
        for c in ws[header]:
            width = ws.column_dimensions[c.column_letter].width
            lines = -(-text_width(c.value) // (width - 2))
            assert 8 <= width <= 28 and 14 * lines + 8 <= height, (sheet, c.value, width, height)

    info = wb[INFO_SHEET]
    rows = {r[0].value: r for r in info.iter_rows() if r[0].value}
    text = "\n".join(str(c.value) for row in info.iter_rows() for c in row if c.value is not None)
    flows = next(line for line in text.splitlines() if "流量" in line and "时点数" in line)
    assert "“本季度安葬总数”" in flows and "“本季度农民诉求受理件数(接诉即办)”" in flows    # township flows too
    assert "“……年份”栏目" in text and "填 0" in text
    assert "本季度发生数" in rows["rural_requests"][4].value
    assert "未获该称号的填0" in rows["demo_village_district_year"][4].value
    assert rows["committee_election_date"][3].value == "日期"
    assert "村级情况表" in rows["party_members"][4].value                          # superseded by the village count
    for fid in new_village + new_township:   # rows tall enough for their requirement text (column E, width 70)
        r = rows[fid]
        lines = max(1, -(-text_width(r[4].value) // 68), -(-text_width(r[1].value) // 28))
        assert info.row_dimensions[r[0].row].height >= 14 * lines, fid


# ------------------------------------------------------------------ errors

def test_input_errors(con, tmp_path):
    township = children(con, CITY, level="township")[0]
    county = children(con, CITY, level="county")[0]
    cases = [
        (lambda: write_township_template(con, township["code"], "2024Q5", tmp_path / "a.xlsx"), "TPL001"),
        (lambda: write_township_template(con, "439999999000", PERIOD, tmp_path / "a.xlsx"), "REG009"),
        (lambda: write_township_template(con, county["code"], PERIOD, tmp_path / "a.xlsx"), "REG010"),
        (lambda: write_township_template(con, township["code"], PERIOD, tmp_path / "a.xls"), "TPL003"),
        (lambda: write_county_templates(con, township["code"], PERIOD, tmp_path / "d"), "REG010"),
    ]
    for call, code in cases:
        with pytest.raises((TemplateError, RegistryError)) as exc:
            call()
        assert exc.value.code == code
    assert not list(tmp_path.iterdir())


def test_township_without_villages(tmp_path):
    con = connect(tmp_path / "empty.duckdb")
    load_registry(con, [REGION / "units.csv"], actor=ADMIN)
    township = children(con, CITY, level="township")[0]
    con.execute("DELETE FROM units WHERE parent_code = ?", [township["code"]])
    with pytest.raises(TemplateError) as exc:
        write_township_template(con, township["code"], PERIOD, tmp_path / "t.xlsx")
    assert exc.value.code == "TPL002"
    con.close()


@pytest.mark.parametrize("args, code", [
    (["--period", "2024Q5"], "TPL001"),
    (["--period", "24Q1"], "TPL001"),
    (["--township", "439999999000"], "REG009"),
])
def test_cli_errors(region_db, tmp_path, args, code):
    opts = {"--township": None, "--period": PERIOD}
    opts.update(dict(zip(args[::2], args[1::2])))
    if opts["--township"] is None:
        c = connect(region_db)
        opts["--township"] = children(c, CITY, level="township")[0]["code"]
        c.close()
    argv = ["template", "-o", str(tmp_path / "x.xlsx")] + [x for kv in opts.items() for x in kv]
    res = _cli(region_db, *argv)
    assert res.returncode != 0
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and f"[{code}]" in lines[0], res.stderr
    assert not (tmp_path / "x.xlsx").exists()


# ------------------------------------------------------------------ county mode, every township

@pytest.mark.slow
def test_cli_every_township(region_db, tmp_path):
    c = connect(region_db)
    counties = children(c, CITY, level="county")
    townships = {t["code"]: t["name"] for t in children(c, CITY, level="township")}
    of_county = {k["code"]: sorted(t["code"] for t in children(c, k["code"], level="township")) for k in counties}
    c.close()
    out = tmp_path / "templates"
    for county in counties:
        res = _cli(region_db, "template", "--county", county["code"], "--period", PERIOD, "-o", str(out), "--json")
        assert res.returncode == 0, res.stderr
        written = [Path(r["file"]) for r in json.loads(res.stdout)]
        assert sorted(p.name[:12] for p in written) == of_county[county["code"]]
        assert all(p.parent == out and p.is_file() for p in written)
    files = sorted(out.glob("*.xlsx"))
    assert len(files) == len(townships)
    for f in files:
        code, name, period = f.stem.split("_")
        assert townships[code] == name and period == PERIOD
        meta = read_meta(f)
        assert meta["township_code"] == code and meta["period"] == PERIOD

    res = _cli(region_db, "template", "--township", files[0].stem[:12], "--period", "2024q4",
               "-o", str(tmp_path / "one.xlsx"))
    assert res.returncode == 0, res.stderr
    assert read_meta(tmp_path / "one.xlsx")["period"] == "2024Q4"


# ------------------------------------------------------------------ LibreOffice round trip

def _soffice() -> str:
    exe = shutil.which("soffice")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("soffice (LibreOffice) is required in CI for the .xls round trip")
        pytest.skip("soffice (LibreOffice) not installed: apt-get install -y --no-install-recommends "
                    "libreoffice-calc-nogui")
    return exe


def _convert(exe: str, src: Path, fmt: str, outdir: Path, home: Path) -> Path:
    res = subprocess.run([exe, "--headless", "--convert-to", fmt, "--outdir", str(outdir), str(src)],
                         env={**os.environ, "HOME": str(home)}, capture_output=True, text=True, timeout=180)
    out = outdir / f"{src.stem}.{fmt}"
    assert res.returncode == 0 and out.exists(), res.stdout + res.stderr
    return out


@pytest.mark.slow
def test_libreoffice_round_trip(sample, tmp_path):
    exe = _soffice()
    path, township, villages = sample
    xls = _convert(exe, path, "xls", tmp_path / "xls", tmp_path / "home")
    back = _convert(exe, xls, "xlsx", tmp_path / "back", tmp_path / "home")
    for f in (xls, back):
        wb = CalamineWorkbook.from_path(str(f))
        visible = {m.name: m.visible for m in wb.sheets_metadata}
        assert visible[META_SHEET] != SheetVisibleEnum.Visible, f
        meta = read_meta(f)
        assert meta["township_code"] == township["code"] and meta["period"] == PERIOD
        for key, ids in (("village", VILLAGE_IDS), ("township", TOWNSHIP_IDS)):
            rows = wb.get_sheet_by_name(meta[f"{key}_sheet"]).to_python()
            id_row = rows[int(meta[f"{key}_id_row"]) - 1]
            assert [x for x in id_row if x != ""] == ids, f
        rows = wb.get_sheet_by_name(meta["village_sheet"]).to_python()
        first = int(meta["village_first_row"]) - 1
        codes = [r[0] for r in rows[first:first + len(villages)]]
        assert codes == [v["code"] for v in villages], f
        assert all(isinstance(c, str) and re.fullmatch(r"\d{12}", c) for c in codes), f
        town_rows = wb.get_sheet_by_name(meta["township_sheet"]).to_python()
        assert town_rows[int(meta["township_first_row"]) - 1][0] == township["code"]
