"""The broken sample returns of data/samples/bad: each reports exactly the problem
expected.yaml names (code, severity, sheet, cell, field); a rejected file changes nothing in
the database or the archive; the files are what ``write_bad_samples`` makes."""
from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
import yaml

from pipelines.store import db
from pipelines.ingest.pipeline import ingest_uploads
from pipelines.ingest.store import archive_dir
from pipelines.samples.init import init_database
from pipelines.samples.bad import write_bad_samples
from pipelines.samples.simulation import simulate
from pipelines.samples.writers import write_return
from pipelines.access.roles import local_admin

ADMIN = local_admin("测试管理员")

ROOT = Path(__file__).resolve().parent.parent
BAD = ROOT / "data" / "samples" / "bad"
EXPECTED = yaml.safe_load((BAD / "expected.yaml").read_text(encoding="utf-8"))
TABLES = ("submissions", "village_values", "township_values", "submission_problems", "submission_columns")

KNOWN_ISSUES: dict[str, str] = {}  # file → reason, for an expectation ingest does not meet yet (strict xfail)

REQUIRED_CLASSES = {"ING001", "ING002", "ING003", "ING004", "ING005", "ING006", "ING007", "ING010", "ING011",
                    "ING012", "ING013", "ING014", "ING015", "ING016", "ING017", "ING019", "ING020", "ING021",
                    "ING023", "ING024", "ING025", "ING030", "ING031", "ING032", "ING033", "ING034", "ING035", "ING036", "ING037", "ING038",
                    "ING040"}


@pytest.fixture(scope="module")
def base_db(tmp_path_factory) -> Path:
    """The region's registry and the base township's previous quarter (ING040 compares with it)."""
    tmp = tmp_path_factory.mktemp("bad")
    path = tmp / "base.duckdb"
    con = db.connect(path)
    init_database(con, progress=False, returns=False)
    sim = simulate(con)
    [entry] = [e for e in EXPECTED["files"] if e.get("previous")]
    town, period = entry["previous"]["township"], entry["previous"]["period"]
    prev = write_return(con, town, period, sim.values(town, period), tmp / "previous.xlsx")
    [report] = ingest_uploads(con, [(prev.name, prev.read_bytes())], actor=ADMIN)
    assert report.status == "stored" and not report.problems
    con.close()
    shutil.rmtree(tmp / "archive", ignore_errors=True)  # the copies start with an empty archive
    return path


@pytest.fixture
def con(base_db, tmp_path):
    path = tmp_path / "db.duckdb"
    shutil.copy(base_db, path)
    c = db.connect(path)
    yield c
    c.close()


def counts(con) -> dict[str, int]:
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in TABLES}


def archived(con) -> set[Path]:
    folder = archive_dir(con)
    return set(folder.rglob("*")) if folder.exists() else set()


def _param(entry: dict):
    marks = [pytest.mark.xfail(strict=True, reason=KNOWN_ISSUES[entry["file"]])] if entry["file"] in KNOWN_ISSUES else []
    return pytest.param(entry, id=entry["code"], marks=marks)


def test_every_problem_class_has_a_broken_sample():
    codes = [e["code"] for e in EXPECTED["files"]]
    assert REQUIRED_CLASSES <= set(codes) and len(codes) == len(set(codes))
    assert {e["file"] for e in EXPECTED["files"]} | {"expected.yaml", "README.md"} == {p.name for p in BAD.iterdir()}


def test_the_base_return_is_clean(con):
    base = ROOT / "data" / "samples" / "returns" / EXPECTED["base"]["file"]
    [report] = ingest_uploads(con, [(base.name, base.read_bytes())], actor=ADMIN)
    assert report.status == "stored" and report.problems == []


@pytest.mark.parametrize("entry", [_param(e) for e in EXPECTED["files"]])
def test_broken_return_reports_its_problem(con, entry):
    before, files_before = counts(con), archived(con)
    data = (BAD / entry["file"]).read_bytes()
    [report] = ingest_uploads(con, [(entry["file"], data)], actor=ADMIN)
    first = next((p for p in report.problems if p.code == entry["code"]), None)
    assert first is not None, [(p.code, p.cell, p.message) for p in report.problems]
    assert (first.code, first.severity, first.sheet, first.cell, first.field) == \
        (entry["code"], entry["severity"], entry["sheet"], entry["cell"], entry["field"])
    assert {p.code for p in report.problems} == {entry["code"], *entry["also"]}, \
        [(p.code, p.cell, p.message) for p in report.problems]
    if entry["rejected"]:
        assert report.status == "rejected"
        assert counts(con) == before
        assert archived(con) == files_before
    else:
        assert report.status == "stored"
        after = counts(con)
        assert after["submissions"] == before["submissions"] + 1
        assert after["village_values"] == before["village_values"] + report.village_rows
        kept = con.execute("SELECT code, cell FROM submission_problems WHERE submission_id = ?",
                           [report.submission_id]).fetchall()
        assert sorted(kept, key=str) == sorted(((p.code, p.cell) for p in report.problems), key=str)
        [path] = con.execute("SELECT archive_path FROM submissions WHERE id = ?", [report.submission_id]).fetchone()
        assert {f for f in archived(con) - files_before if f.is_file()} == {archive_dir(con) / path}


def test_outlier_needs_the_previous_quarter(registry_only):
    """Without the previous quarter there is nothing to compare with: no ING040."""
    [entry] = [e for e in EXPECTED["files"] if e["code"] == "ING040"]
    [report] = ingest_uploads(registry_only, [(entry["file"], (BAD / entry["file"]).read_bytes())], dry_run=True, actor=ADMIN)
    assert report.status == "valid" and report.problems == []


@pytest.fixture
def registry_only(tmp_path):
    c = db.connect(tmp_path / "r.duckdb")
    init_database(c, progress=False, returns=False)
    yield c
    c.close()


def test_cli_exit_code_and_json(base_db, tmp_path):
    path = tmp_path / "cli.duckdb"
    shutil.copy(base_db, path)
    by_code = {e["code"]: e for e in EXPECTED["files"]}
    for code, rc in (("ING020", 2), ("ING034", 0)):
        entry = by_code[code]
        out = subprocess.run([sys.executable, "-m", "pipelines.cli.main", "--db", str(path), "ingest",
                              str(BAD / entry["file"]), "--json"], capture_output=True, text=True, timeout=300, cwd=ROOT)
        assert out.returncode == rc, out.stderr
        [rep] = json.loads(out.stdout)
        assert rep["status"] == ("rejected" if entry["rejected"] else "stored")
        problem = next(p for p in rep["problems"] if p["code"] == code)
        assert (problem["severity"], problem["sheet"], problem["cell"], problem["field"]) == \
            (entry["severity"], entry["sheet"], entry["cell"], entry["field"])
        assert "Traceback" not in out.stderr


def _content(path: Path):
    """What a file holds, independent of openpyxl's zip details: every sheet's cells, merged
    ranges, hidden rows and states; raw bytes for anything that is not a readable workbook."""
    if path.suffix != ".xlsx":
        return path.read_bytes()
    try:
        wb = openpyxl.load_workbook(io.BytesIO(path.read_bytes()))
    except Exception:  # noqa: BLE001 - the corrupt sample
        return path.read_bytes()
    out = {}
    for ws in wb.worksheets:
        out[ws.title] = ([[c.value for c in row] for row in ws.iter_rows()], sorted(map(str, ws.merged_cells.ranges)),
                         sorted(r for r, d in ws.row_dimensions.items() if d.hidden), ws.sheet_state)
    return out


@pytest.mark.slow
def test_committed_files_are_what_the_generator_makes(tmp_path):
    c = db.connect(tmp_path / "g.duckdb")
    init_database(c, progress=False, returns=False)
    paths = write_bad_samples(c, tmp_path / "bad")
    c.close()
    assert {p.name for p in paths} == {p.name for p in BAD.iterdir()}
    for p in paths:
        assert _content(p) == _content(BAD / p.name), f"{p.name} differs from what write_bad_samples makes"


def test_blank_village_code_is_reported_once(con):
    [entry] = [e for e in EXPECTED["files"] if e["code"] == "ING039"]
    [report] = ingest_uploads(con, [(entry["file"], (BAD / entry["file"]).read_bytes())], dry_run=True, actor=ADMIN)
    assert [p.code for p in report.problems if p.cell == entry["cell"]] == ["ING039"]


def test_outlier_is_found_when_the_previous_quarter_comes_in_the_same_upload(registry_only, tmp_path):
    [entry] = [e for e in EXPECTED["files"] if e["code"] == "ING040"]
    sim = simulate(registry_only)
    town, period = entry["previous"]["township"], entry["previous"]["period"]
    prev = write_return(registry_only, town, period, sim.values(town, period), tmp_path / "previous.xlsx")
    reports = ingest_uploads(registry_only, [(prev.name, prev.read_bytes()),
                                             (entry["file"], (BAD / entry["file"]).read_bytes())], actor=ADMIN)
    assert [p.code for p in reports[1].problems] == ["ING040"]


def test_a_date_cell_holding_a_number_reads_as_1900_and_is_refused(con, tmp_path):
    """12.28 typed into a date cell is saved by Excel as 1900-01-12: before the plans' period → ING025."""
    import datetime as dt

    entry = next(e for e in EXPECTED["files"] if e["code"] == "ING025")
    wb = openpyxl.load_workbook(BAD / entry["file"])
    wb[entry["sheet"]][entry["cell"].split("!")[1]].value = dt.datetime(1900, 1, 12)
    path = tmp_path / "date_as_number.xlsx"
    wb.save(path)
    [report] = ingest_uploads(con, [(path.name, path.read_bytes())], dry_run=True, actor=ADMIN)
    assert [(p.code, p.cell) for p in report.errors] == [("ING025", entry["cell"])]
    assert "规划期前一届任期之前" in report.errors[0].message and "12.28" in report.errors[0].message
