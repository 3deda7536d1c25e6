"""Ingest on real files and a real database: template → fill → ingest, supersede, no-op,
forgiving reading of hand-edited returns, LibreOffice round trips, and a killed process."""
from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections import Counter
from pathlib import Path
from xml.etree import ElementTree as ET

import duckdb
import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from pipelines.store import db
from pipelines.catalog.definitions import catalog
from pipelines.ingest.pipeline import ingest_paths, ingest_uploads
from pipelines.ingest.read import Sheet, scan_sheet, sheet_parts, read_return
from pipelines.ingest.store import archive_dir, list_submissions, submission_values, trace
from pipelines.registry.load import children, load_registry
from pipelines.ingest.template import write_township_template
from pipelines.access.roles import local_admin

ADMIN = local_admin("测试管理员")

ROOT = Path(__file__).resolve().parent.parent
REGION = ROOT / "data" / "samples" / "region"
PERIOD = "2024Q3"


@pytest.fixture(scope="module")
def region_db(tmp_path_factory):
    """A database holding the sample region's registry (copied per test)."""
    path = tmp_path_factory.mktemp("region") / "region.duckdb"
    con = db.connect(path)
    load_registry(con, [REGION / "units.csv"], actor=ADMIN)
    con.close()
    return path


@pytest.fixture
def con(region_db, tmp_path):
    path = tmp_path / "db.duckdb"
    shutil.copy(region_db, path)
    c = db.connect(path)
    yield c
    c.close()


@pytest.fixture
def township(con):
    return con.execute("SELECT code FROM units WHERE level = 'township' ORDER BY code LIMIT 1 OFFSET 3").fetchone()[0]


def village_values(i: int) -> dict:
    """Known values for the i-th village, satisfying every rule."""
    return {
        "population_registered": 1500 + 10 * i, "population_resident": 1300 + 10 * i, "households": 480 + i,
        "elderly_population": 300 + i, "social_orgs": 3 + i % 4, "has_elder_association": "是" if i % 2 else "否",
        "has_service_platform": "是", "platform_area_m2": 420.5 + i, "platform_service_area_m2": 260 + i,
        "has_village_rules": "是", "village_rules_revised": "否" if i % 3 == 0 else "是",
        "rules_households_reached": 400 + i, "rules_surveyed": 50, "rules_aware": 41 + i % 5,
        "micro_unit_pilot": "否", "has_left_behind_home": "是", "has_elder_care_facility": "是" if i % 4 else "否",
        "elder_care_beds": 8 + i, "tekun_dependent": 4, "tekun_dependent_cared": 2 + i % 3,
        "burials": 5 + i % 3, "eco_burials": 2 + i % 2, "volunteers": 90 + i, "social_work_professionals": 1,
        "community_social_workers": 1 + i % 2, "reserve_secretary": 1, "reserve_cadre": 2, "reserve_activist": 3 + i % 2,
        "flag_weak_party_org": "否", "flag_poor": "是" if i == 1 else "否", "flag_weak_economy": "否",
        "has_first_secretary": "是" if i == 1 else "否", "demo_village_level": "区级" if i == 0 else "无",
        "community_type": "提升型", "weak_help_designated": "否", "points_system": "是" if i == 0 else "否",
        "has_legal_adviser": "是", "has_legal_service_station": "是" if i % 2 else "否", "rule_of_law_demo": "否",
        "remarks": f"第{i}村备注",
    }


TOWNSHIP_VALUES = {"has_sw_station": "是", "judicial_office_standardised": "否", "has_gov_service_centre": "是",
                   "demo_town_level": "市级申报", "party_members": 900, "party_members_under_35": 150,
                   "party_members_college": 210, "half_year_report_date": dt.date(2024, 7, 3),
                   "year_end_report_date": None}


def meta_rows(wb) -> dict:
    return {r[0].value: r[1].value for r in wb["_meta"].iter_rows() if r[0].value}


def fill(template: Path, out: Path, edit=None) -> Path:
    """Fill a generated template with the known values (``edit(i, values)`` may change them)."""
    wb = openpyxl.load_workbook(template)
    meta = meta_rows(wb)
    ws = wb[meta["village_sheet"]]
    ids = [c.value for c in ws[int(meta["village_id_row"])]]
    for i, r in enumerate(range(int(meta["village_first_row"]), int(meta["village_last_row"]) + 1)):
        values = village_values(i)
        if edit:
            edit(i, values)
        for col, fid in enumerate(ids, start=1):
            if fid in values:
                ws.cell(r, col, values[fid])
    ts = wb[meta["township_sheet"]]
    tids = [c.value for c in ts[int(meta["township_id_row"])]]
    for col, fid in enumerate(tids, start=1):
        if fid in TOWNSHIP_VALUES:
            ts.cell(int(meta["township_first_row"]), col, TOWNSHIP_VALUES[fid])
    wb.save(out)
    return out


@pytest.fixture
def filled(con, township, tmp_path):
    template = write_township_template(con, township, PERIOD, tmp_path / "blank.xlsx")
    return fill(template, tmp_path / f"{township}_{PERIOD}.xlsx")


def expected_rows(con, township) -> dict[str, dict]:
    villages = children(con, township)
    return {v["code"]: village_values(i) for i, v in enumerate(villages)}


def assert_values_equal(con, township, period=PERIOD) -> None:
    stored = submission_values(con, township, period)
    frame = stored["villages"]
    expected = expected_rows(con, township)
    assert sorted(frame["village_code"]) == sorted(expected)
    fields = {f.id: f for f in catalog().sheets["village"].fields}
    for rec in frame.to_dict("records"):
        for fid, want in expected[rec["village_code"]].items():
            got = rec[fid]
            if fields[fid].type == "bool":
                want = want == "是"
            assert got == want, (rec["village_code"], fid, got, want)
    trow = stored["township"].to_dict("records")[0]
    assert trow["party_members"] == 900 and trow["has_sw_station"] is True and trow["demo_town_level"] == "市级申报"
    assert trow["half_year_report_date"].date() == dt.date(2024, 7, 3)
    dates = con.execute("SELECT half_year_report_date, year_end_report_date FROM township_values "
                        "WHERE submission_id = ?", [stored["submission"]["id"]]).fetchall()
    assert dates == [(dt.date(2024, 7, 3), None)]   # a DATE column; the blank stays blank (NULL)


# ---------------------------------------------------------------------------- round trip

def test_template_fill_ingest_gives_back_what_was_filled(con, township, filled):
    [report] = ingest_paths(con, [filled], actor=ADMIN)
    assert report.status == "stored", [p.message for p in report.problems]
    assert report.township_code == township and report.period == PERIOD
    assert report.errors == []
    assert_values_equal(con, township)


def test_dry_run_stores_nothing(con, filled):
    [report] = ingest_paths(con, [filled], dry_run=True, actor=ADMIN)
    assert report.status == "valid" and not report.errors
    assert con.execute("SELECT count(*) FROM submissions").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM village_values").fetchone()[0] == 0


def test_reupload_supersedes_and_identical_bytes_are_a_no_op(con, township, filled, tmp_path):
    [first] = ingest_paths(con, [filled], actor=ADMIN)
    [again] = ingest_paths(con, [filled], actor=ADMIN)
    assert again.status == "unchanged" and again.submission_id == first.submission_id
    assert con.execute("SELECT count(*) FROM submissions").fetchone()[0] == 1

    def more_orgs(i, v):
        v["social_orgs"] += 10
    template = write_township_template(con, township, PERIOD, tmp_path / "blank2.xlsx")
    revised = fill(template, tmp_path / "revised.xlsx", more_orgs)
    [second] = ingest_paths(con, [revised], actor=ADMIN)
    assert second.status == "stored" and second.superseded == first.submission_id
    active = list_submissions(con, township=township, period=PERIOD)
    history = list_submissions(con, township=township, period=PERIOD, include_superseded=True)
    assert [s["id"] for s in active] == [second.submission_id]
    assert {s["id"]: s["status"] for s in history} == {first.submission_id: "superseded", second.submission_id: "active"}
    old = submission_values(con, township, PERIOD, submission_id=first.submission_id)["villages"]
    new = submission_values(con, township, PERIOD)["villages"]
    assert list(new["village_code"]) == list(old["village_code"]) and len(new) == first.village_rows > 0
    assert list(new["social_orgs"]) == [n + 10 for n in old["social_orgs"]]


def test_original_file_is_archived_and_every_value_traces_to_its_cell(con, township, filled):
    [report] = ingest_paths(con, [filled], actor=ADMIN)
    values = submission_values(con, township, PERIOD)
    sub = values["submission"]
    assert sub["id"] == report.submission_id
    assert archive_dir(con) == Path(con.execute("SELECT path FROM duckdb_databases() "
                                                "WHERE database_name = current_database()").fetchone()[0]).parent / "archive"
    assert (archive_dir(con) / sub["archive_path"]).read_bytes() == filled.read_bytes()
    rows = trace(values)
    sheets = catalog().sheets
    assert len(rows) == report.village_rows * len(sheets["village"].fields) + len(sheets["township"].fields)
    wb = openpyxl.load_workbook(filled)
    for row in rows:
        sheet, ref = row["cell"].split("!")
        cell = wb[sheet][ref].value
        if row["field"] in ("village_code", "township_code"):
            assert cell == row["unit_code"]
        elif isinstance(row["value"], bool):
            assert cell == ("是" if row["value"] else "否")
        elif isinstance(cell, dt.datetime):
            assert cell.date().isoformat() == row["value"]
        else:
            assert cell == row["value"], row


# ---------------------------------------------------------------------------- forgiving reading

def test_values_typed_by_hand_are_normalised(con, township, tmp_path):
    def sloppy(i, v):
        v["population_registered"] = f"{v['population_registered']:,}"             # thousands separator
        v["households"] = "".join(chr(ord(ch) + 0xFEE0) for ch in str(v["households"]))  # full-width digits
        v["elder_care_beds"] = f" {v['elder_care_beds']} "                        # stray spaces
        v["has_elder_association"] = {"是": "√", "否": "×"}[v["has_elder_association"]]
        v["has_village_rules"] = "有"
        v["has_legal_adviser"] = "Y"
        v["micro_unit_pilot"] = 0
    template = write_township_template(con, township, PERIOD, tmp_path / "b.xlsx")
    path = fill(template, tmp_path / "sloppy.xlsx", sloppy)
    wb = openpyxl.load_workbook(path)
    meta = meta_rows(wb)
    ts = wb[meta["township_sheet"]]
    tids = [c.value for c in ts[int(meta["township_id_row"])]]
    ts.cell(int(meta["township_first_row"]), tids.index("half_year_report_date") + 1, "2024年7月3日")
    wb.save(path)
    [report] = ingest_paths(con, [path], actor=ADMIN)
    assert report.status == "stored", [p.message for p in report.errors]
    assert_values_equal(con, township)


def test_blank_is_not_zero(con, township, tmp_path):
    def blank(i, v):
        v["social_orgs"] = None if i == 0 else 0
    template = write_township_template(con, township, PERIOD, tmp_path / "b.xlsx")
    path = fill(template, tmp_path / "blank.xlsx", blank)
    [report] = ingest_paths(con, [path], actor=ADMIN)
    assert report.status == "stored"
    villages = [v["code"] for v in children(con, township)]
    stored = dict(con.execute("SELECT village_code, social_orgs FROM village_values WHERE submission_id = ?",
                              [report.submission_id]).fetchall())
    assert stored == {code: (None if i == 0 else 0) for i, code in enumerate(villages)}


def test_retyped_headers_and_moved_columns_still_map(con, township, filled, tmp_path):
    """A clerk copies the table into a fresh workbook: no id row, no _meta, columns reordered,
    headers with spaces, line breaks, full-width brackets and a changed unit."""
    wb = openpyxl.load_workbook(filled, data_only=True)
    meta = meta_rows(wb)
    src = wb[meta["village_sheet"]]
    header_row, first, last = int(meta["village_header_row"]), int(meta["village_first_row"]), int(meta["village_last_row"])
    headers = [c.value for c in src[header_row]]
    order = list(range(len(headers)))
    order[2], order[5] = order[5], order[2]
    out = openpyxl.Workbook()
    ws = out.active
    ws.title = "Sheet1"
    ws.append(["乡村治理目标监测季度报表(村级情况)"])
    ws.append([f"填报单位:某某镇({township})", None, None, "报告期:2024年 第3季度"])
    retyped = []
    for c in order:
        h = headers[c]
        h = h.replace("(人)", "(万人)") if h.startswith("户籍人口") else h
        h = h.replace("(", "(").replace(")", ")")
        retyped.append(h[:3] + "\n" + h[3:] + "  " if len(h) > 4 else h)
    ws.append(retyped)
    for r in range(first, last + 1):
        row = [src.cell(r, c + 1).value for c in order]
        ws.append(row)
    ts = out.create_sheet("乡镇情况")
    tsrc = wb[meta["township_sheet"]]
    ts.append([c.value for c in tsrc[int(meta["township_header_row"])]])
    ts.append([c.value for c in tsrc[int(meta["township_first_row"])]])
    path = tmp_path / "retyped.xlsx"
    out.save(path)
    [report] = ingest_paths(con, [path], actor=ADMIN)
    assert report.status == "stored", [p.message for p in report.errors]
    assert report.period == PERIOD and report.township_code == township
    assert_values_equal(con, township)


def test_file_name_disagreeing_with_content_is_said(con, township, filled, tmp_path):
    other = con.execute("SELECT code FROM units WHERE level='township' AND code <> ? LIMIT 1", [township]).fetchone()[0]
    renamed = tmp_path / f"{other}_2023Q1.xlsx"
    shutil.copy(filled, renamed)
    [report] = ingest_paths(con, [renamed], dry_run=True, actor=ADMIN)
    said = [(p.code, p.context["what"], p.context["name_value"], p.context["content_value"]) for p in report.problems]
    assert said == [("ING005", "乡镇", other, township), ("ING005", "报告期", "2023Q1", PERIOD)]
    assert report.status == "valid"
    assert report.township_code == township and report.period == PERIOD



MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def with_prefixed_sheet(data: bytes, sheet: str) -> bytes:
    """``data`` (an .xlsx) with ``sheet``'s XML rewritten to bind the main namespace to the prefix
    ``x:`` (``<x:row>``, ``<x:c>``, ``<x:f>``), as some tools write it; every other part unchanged."""
    src = zipfile.ZipFile(io.BytesIO(data))
    part = sheet_parts(src)[sheet]
    ET.register_namespace("x", MAIN_NS)
    xml = ET.tostring(ET.fromstring(src.read(part)), xml_declaration=True, encoding="UTF-8")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, xml if info.filename == part else src.read(info.filename))
    return out.getvalue()


def test_namespace_prefixed_sheet_xml_shows_hidden_rows_columns_and_formulas(con, filled, tmp_path):
    wb = openpyxl.load_workbook(filled)
    meta = meta_rows(wb)
    ws = wb[meta["village_sheet"]]
    first = int(meta["village_first_row"])
    ids = [c.value for c in ws[int(meta["village_id_row"])]]
    households = get_column_letter(ids.index("households") + 1)
    population = get_column_letter(ids.index("population_registered") + 1)
    ws.row_dimensions[first + 1].hidden = True                 # a village row with data
    ws.column_dimensions[households].hidden = True             # a column with data
    ws[f"{population}{first + 2}"] = f"={population}{first}+1"   # saved without a computed value
    plain = tmp_path / "plain.xlsx"
    wb.save(plain)
    data = with_prefixed_sheet(plain.read_bytes(), meta["village_sheet"])
    written = zipfile.ZipFile(io.BytesIO(data))
    xml = written.read(sheet_parts(written)[meta["village_sheet"]])
    assert b"<x:row " in xml and b"<x:f>" in xml and b"<row " not in xml

    sheet = read_return("prefixed.xlsx", data).sheet(meta["village_sheet"])
    id_row = int(meta["village_id_row"])
    assert sheet.hidden_rows == {id_row - 1, first}            # 0-based: the template's id row and ours
    assert sheet.hidden_cols == {ids.index("households")}
    assert sheet.formulas_without_value == {(first + 1, ids.index("population_registered"))}
    assert sheet.cell(first, 0) == ws.cell(first + 1, 1).value  # calamine reads the prefixed cells too

    [report] = ingest_uploads(con, [("prefixed.xlsx", data)], dry_run=True, actor=ADMIN)
    found = [(p.code, p.cell, p.field, p.context.get("where")) for p in report.problems]
    sheet_name = meta["village_sheet"]
    assert found == [
        ("ING037", f"{sheet_name}!A{first + 1}", None, str(first + 1)),
        ("ING037", f"{sheet_name}!{households}{first}", None, households),
        ("ING038", f"{sheet_name}!{population}{first + 2}", "population_registered", None),
    ], found
    assert report.status == "rejected"


def test_a_sheet_declaring_a_dtd_is_not_scanned(filled):
    """Entities can only be declared in a DTD, which a worksheet part never has: the scan refuses it."""
    data = filled.read_bytes()
    src = zipfile.ZipFile(io.BytesIO(data))
    part = sheet_parts(src)["村级情况"]
    xml = src.read(part)
    head = b'<?xml version="1.0"?>\n<!DOCTYPE worksheet [<!ENTITY big "' + b"x" * 1000 + b'">]>\n'
    evil = head + xml[xml.index(b"<worksheet"):]
    with pytest.raises(ET.ParseError, match="DTD"):
        scan_sheet(evil, Sheet("村级情况", []))

# ---------------------------------------------------------------------------- LibreOffice

def soffice_convert(src: Path, fmt: str, outdir: Path) -> Path:
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("LibreOffice (soffice) is required in CI")
        pytest.skip("LibreOffice 未安装:跳过 LibreOffice 往返测试 (apt-get install libreoffice-calc-nogui)")
    home = outdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    subprocess.run([exe, "--headless", "--convert-to", fmt, "--outdir", str(outdir), str(src)],
                   env={**os.environ, "HOME": str(home)}, check=True, capture_output=True, timeout=120)
    return outdir / f"{src.stem}.{fmt}"


@pytest.mark.slow
def test_libreoffice_xls_and_back_load_the_same_values(con, township, filled, tmp_path):
    xls = soffice_convert(filled, "xls", tmp_path / "xls")
    [report] = ingest_paths(con, [xls], actor=ADMIN)
    assert report.status == "stored", [p.message for p in report.errors]
    assert_values_equal(con, township)
    back = soffice_convert(xls, "xlsx", tmp_path / "back")
    [report2] = ingest_paths(con, [back], actor=ADMIN)
    assert report2.status == "stored" and report2.superseded == report.submission_id, [p.message for p in report2.errors]
    assert_values_equal(con, township)


# ---------------------------------------------------------------------------- CLI

def cli(*args: str, db_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli.main", "--db", str(db_path), *args],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_cli_ingest_submissions_values_trace(region_db, township, filled, tmp_path):
    path = tmp_path / "cli.duckdb"
    shutil.copy(region_db, path)
    out = cli("ingest", str(filled), "--json", db_path=path)
    assert out.returncode == 0, out.stderr
    [rep] = json.loads(out.stdout)
    assert rep["status"] == "stored" and rep["township"] == township and rep["period"] == PERIOD
    subs = json.loads(cli("submissions", "--json", db_path=path).stdout)
    assert [s["id"] for s in subs] == [rep["submission_id"]]
    vals = json.loads(cli("values", "--township", township, "--period", PERIOD, "--json", db_path=path).stdout)
    assert len(vals["villages"]) == rep["village_rows"]
    assert {f.id for f in catalog().sheets["village"].fields} <= set(vals["villages"][0])
    assert vals["township_values"]["party_members"] == 900
    traced = json.loads(cli("values", "--township", township, "--period", PERIOD, "--trace", "--json",
                            db_path=path).stdout)
    sheets = catalog().sheets
    assert Counter(t["cell"].split("!")[0] for t in traced) == {
        "村级情况": rep["village_rows"] * len(sheets["village"].fields), "乡镇情况": len(sheets["township"].fields)}
    missing = cli("values", "--township", township, "--period", "2019Q1", db_path=path)
    assert missing.returncode != 0 and "ING051" in missing.stderr and "Traceback" not in missing.stderr


# ---------------------------------------------------------------------------- crash safety

@pytest.mark.slow
def test_killed_ingest_leaves_the_database_consistent(region_db, con, tmp_path):
    """SIGKILL a CLI ingest of many returns part-way: afterwards every stored submission is
    complete, nothing half-written is visible, and a re-run stores the rest."""
    path = tmp_path / "kill.duckdb"
    shutil.copy(region_db, path)
    towns = [r[0] for r in con.execute("SELECT code FROM units WHERE level='township' ORDER BY code").fetchall()]
    files = []
    (tmp_path / "ret").mkdir()
    for period in ["2023Q1", "2023Q2", "2023Q3", "2023Q4", "2024Q1", "2024Q2"]:
        for t in towns:
            template = write_township_template(con, t, period, tmp_path / "tpl" / f"{t}_{period}.xlsx")
            files.append(fill(template, tmp_path / "ret" / f"{t}_{period}.xlsx"))
    proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli.main", "--db", str(path), "ingest", *map(str, files)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    # kill once some files are through
    deadline = time.monotonic() + 120
    seen = 0
    while time.monotonic() < deadline and seen < 120:
        line = proc.stderr.readline()
        if not line:
            break
        seen += line.startswith("[")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    check = duckdb.connect(str(path))
    subs = check.execute("SELECT id, village_rows, township_rows FROM submissions").fetchall()
    assert 0 < len(subs) < len(files), "the kill should land part-way"
    for sid, village_rows, township_rows in subs:
        assert check.execute("SELECT count(*) FROM village_values WHERE submission_id = ?", [sid]).fetchone()[0] == village_rows
        assert check.execute("SELECT count(*) FROM township_values WHERE submission_id = ?", [sid]).fetchone()[0] == township_rows
    orphans = check.execute("SELECT count(*) FROM village_values WHERE submission_id NOT IN (SELECT id FROM submissions)").fetchone()[0]
    assert orphans == 0
    check.close()

    rerun = cli("ingest", *map(str, files), "--json", db_path=path)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    statuses = [r["status"] for r in json.loads(rerun.stdout)]
    assert statuses.count("unchanged") == len(subs) and statuses.count("stored") == len(files) - len(subs)
