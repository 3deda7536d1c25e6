"""Briefings: `rural-targets briefing` on the sample database in .docx, .pdf and .pptx — opened with
python-docx / python-pptx, the PDF read with poppler's pdftotext and pdffonts — and the figures and
error messages behind them."""
from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from docx import Document
from pptx import Presentation

from pipelines.compute.rules import STATUS_ZH
from pipelines.errors import ReportError
from pipelines.periods import period_label
from pipelines.report import images
from pipelines.report.build import pictures, render
from pipelines.report.content import gather
from pipelines.report.figures import map_figure, progress_figure, quarter_ticks, status_areas
from pipelines.report.pdf import docx_to_pdf
from pipelines.store.db import connect

PLAN, PERIOD, CITY = "changde-2018", "2020Q3", "439900000000"
TITLE = "常德市乡村治理三年行动实施方案(2018-2020年)"


def _cli(db: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli.main", "--db", str(db), *args],
                          capture_output=True, text=True, timeout=900)


def _progress_counts(db: Path, *when: str) -> dict[str, int]:
    """Targets per status for the plan's unit, as `rural-targets progress` gives them."""
    done = _cli(db, "progress", "--plan", PLAN, "--level", "city", "--unit", CITY, *when, "--json")
    assert done.returncode == 0, done.stderr
    counts: dict[str, int] = {}
    for row in json.loads(done.stdout):
        if row["unit_code"] == CITY:
            counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _count_words(counts: dict[str, int]) -> list[str]:
    return [f"{STATUS_ZH[k]}{v}项" for k, v in counts.items()]


@pytest.fixture(scope="module")
def brief_db(sample_db_file, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("briefing") / "sample.duckdb"
    shutil.copyfile(sample_db_file, path)
    return path


def _need(binary: str) -> None:
    if shutil.which(binary) is None:
        pytest.skip(f"{binary} 未安装(CI 会安装)") if not __import__("os").environ.get("CI") else pytest.fail(
            f"{binary} missing in CI")


def test_the_briefing_in_three_formats_says_what_progress_says(brief_db, tmp_path):
    for binary in ("chromium", "soffice", "pdftotext", "pdffonts"):
        _need(binary)
    counts = _progress_counts(brief_db, "--period", PERIOD)
    assert sum(counts.values()) >= 20 and {"lagging", "missed"} <= set(counts)
    expected = _count_words(counts)

    # the command, as a clerk runs it: the PDF (Word, then LibreOffice)
    pdf = tmp_path / "通报.pdf"
    done = _cli(brief_db, "briefing", "--plan", PLAN, "--as-of", PERIOD, "-o", str(pdf), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["statuses"] == counts
    assert pdf.read_bytes().startswith(b"%PDF")
    pdf_text = _flat(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout)
    assert TITLE in pdf_text and period_label(PERIOD) in pdf_text
    for words in expected:
        assert words in pdf_text, words
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True).stdout
    assert "CJK" in fonts, fonts
    assert len(re.findall(r"/Subtype\s*/Image", pdf.read_bytes().decode("latin-1"))) >= 3

    # the same briefing as Word and slides (its figures drawn once, as the 简报 page does)
    con = connect(brief_db, read_only=True)
    try:
        brief = gather(con, PLAN, PERIOD)
    finally:
        con.close()
    with images.session():
        pngs = pictures(brief)
        docx, pptx = render(brief, ".docx", pngs), render(brief, ".pptx", pngs)
    assert len(pngs) >= 3 and all(p[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs.values())
    doc = Document(io.BytesIO(docx))
    text = _flat("\n".join(p.text for p in doc.paragraphs))
    assert TITLE in text and period_label(PERIOD) in text and "示例市民政局" in text
    for words in expected:
        assert words in text, words
    assert len(doc.inline_shapes) == len(pngs)
    assert doc.sections[0].page_width.mm == pytest.approx(210, abs=1)
    table_text = _flat("\n".join(c.text for t in doc.tables for r in t.rows for c in r.cells))
    assert "村规民约修订率100%" in table_text and "已逾期未达标" in table_text

    prs = Presentation(io.BytesIO(pptx))
    slide_text = _flat("\n".join(sh.text_frame.text for s in prs.slides for sh in s.shapes if sh.has_text_frame))
    assert TITLE in slide_text and period_label(PERIOD) in slide_text
    for words in expected:
        assert words in slide_text, words
    assert len([sh for s in prs.slides for sh in s.shapes if sh.shape_type == 13]) >= 3


def test_then_basis_counts_equal_progress_as_of(brief_db):
    counts = _progress_counts(brief_db, "--as-of", PERIOD)
    con = connect(brief_db, read_only=True)
    try:
        brief = gather(con, PLAN, PERIOD, basis="then")
    finally:
        con.close()
    assert brief.counts() == counts
    summary = _flat("".join(brief.summary()))
    assert "报送截止日" in summary and all(w in summary for w in _count_words(counts))
    assert "数据不全" in summary                       # fewer returns had arrived by the due date


def test_briefing_refuses_what_it_cannot_write(brief_db, tmp_path):
    done = _cli(brief_db, "briefing", "--plan", PLAN, "--as-of", PERIOD, "-o", str(tmp_path / "x.txt"))
    assert done.returncode != 0 and "RPT004" in done.stderr and not (tmp_path / "x.txt").exists()
    done = _cli(brief_db, "briefing", "--plan", PLAN, "--as-of", PERIOD, "--unit", "439921101201",
                "-o", str(tmp_path / "x.docx"))
    assert done.returncode != 0 and "RPT005" in done.stderr and not (tmp_path / "x.docx").exists()


def test_no_libreoffice_or_chromium_is_a_clear_message(monkeypatch, tmp_path):
    images.stop()
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    with pytest.raises(ReportError) as err:
        docx_to_pdf(b"PK")
    assert err.value.code == "RPT002" and "LibreOffice" in err.value.message_zh
    with pytest.raises(ReportError) as err:
        images.png(progress_figure(_rows()))
    assert err.value.code == "RPT001" and "Chromium" in err.value.message_zh


def _rows():
    import pandas as pd

    return pd.DataFrame([
        {"target": "a", "target_title": "农村老年协会覆盖90%以上的村", "status": "lagging", "pi": 0.6, "tau": 0.8,
         "reported": 10, "expected": 10, "basis": "village"},
        {"target": "b", "target_title": "节地生态安葬率达到50%", "status": "met", "pi": 1.4, "tau": 0.8,
         "reported": 10, "expected": 10, "basis": "village"},
        {"target": "c", "target_title": "区县市实施方案按期报送", "status": "no_data", "pi": None, "tau": None,
         "reported": None, "expected": None, "basis": "task"},
    ])


def test_progress_figure_bars_and_pace():
    fig = progress_figure(_rows())
    bars = {t.name: t for t in fig.data if t.type == "bar"}
    assert set(bars) == {"进度滞后", "已达标", "无数据"}
    assert list(bars["进度滞后"].x) == [pytest.approx(60.0)]
    assert list(bars["已达标"].x) == [pytest.approx(140.0)]
    pace = [t for t in fig.data if t.name == "序时进度"][0]
    assert list(pace.x) == [pytest.approx(80.0), pytest.approx(80.0)]


def test_quarter_axis_is_labelled_by_quarter():
    import datetime as dt

    ticks = quarter_ticks(dt.date(2018, 12, 31), dt.date(2020, 12, 31))
    assert ticks["ticktext"][-1] == "2020年第4季度" and ticks["ticktext"][0] == "2018年第4季度"
    ticks = quarter_ticks(dt.date(2018, 12, 31), dt.date(2025, 12, 31))
    assert len(ticks["ticktext"]) <= 10 and ticks["ticktext"][-1] == "2025年第4季度"
    assert all(t.endswith("季度") for t in ticks["ticktext"])


def test_map_figure_has_names_colours_and_legend():
    import pandas as pd

    square = '{"type": "Polygon", "coordinates": [[[111, 28], [112, 28], [112, 29], [111, 29], [111, 28]]]}'
    other = '{"type": "Polygon", "coordinates": [[[112, 28], [113, 28], [113, 29], [112, 29], [112, 28]]]}'
    frame = pd.DataFrame({"name": ["松岗区", "碧泉县"], "geometry": [square, other], "lon": [111.5, 112.5],
                          "lat": [28.5, 28.5], "status": ["lagging", None]})
    areas, legend = status_areas(frame)
    assert legend == [("进度滞后", "#eab308"), ("无数据", "#aaaaaa")]
    fig = map_figure(areas, legend, "测试地图", outlines=frame[["name", "geometry"]])
    texts = [t for t in fig.data if t.mode == "text"]
    assert list(texts[0].text) == ["松岗区", "碧泉县"]
    fills = {t.fillcolor for t in fig.data if t.fill == "toself"}
    assert fills == {"#eab308", "#aaaaaa"}
    assert [t.name for t in fig.data if t.showlegend is not False and t.name] == ["进度滞后", "无数据"]
