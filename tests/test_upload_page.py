"""数据上报: the problem list names the village of each problem on a village row and shows every
message in full (wrapped, in Chromium too); a return handed in after its due date says how late it
is, when checked and when stored (Streamlit AppTest on the sample database, as tests/test_dashboard.py)."""
from __future__ import annotations

import datetime as dt
import re

import openpyxl
import pytest
import yaml

from pipelines.catalog.definitions import catalog
from pipelines.periods import due_date
import test_browser as tb
from conftest import as_account, drain_queue, unlock_for_upload
from test_browser import browser, page, playwright_sync, server  # noqa: F401 - the browser test's fixtures
from test_dashboard import ADMIN, BAD_DIR, TOWNSHIP, WARNED, XLSX, app, ok

ROW_ERROR = BAD_DIR / "ING010_数字格填了文字.xlsx"          # a number cell of a village row holds text
TOWNSHIP_ERROR = BAD_DIR / "ING015_日期无法识别.xlsx"       # a date of the township sheet cannot be read
MISSING_ROW = BAD_DIR / "ING033_缺少一个村.xlsx"            # a village of the registry has no row
LONG_MESSAGE = BAD_DIR / "ING025_日期晚于今天.xlsx"         # one of the longest messages


@pytest.fixture(autouse=True)
def signed_in(monkeypatch):
    """Queries called outside a page run as the signed-in test administrator."""
    from dashboard import queries

    monkeypatch.setattr(queries, "user", lambda: ADMIN)


def _expected(path) -> dict:
    files = yaml.safe_load((BAD_DIR / "expected.yaml").read_text(encoding="utf-8"))["files"]
    return next(f for f in files if f["file"] == path.name)


def _village_at(path, cell: str) -> str:
    """The village code written on the row of ``cell`` (e.g. 村级情况!D6) in the file at ``path``."""
    sheet, ref = cell.split("!")
    row = int(re.sub(r"\D", "", ref))
    ws = openpyxl.load_workbook(path, read_only=True)[sheet]
    values = next(ws.iter_rows(min_row=row, max_row=row, values_only=True))
    return next(str(v) for v in values if isinstance(v, str) and re.fullmatch(r"\d{12}", v))


def _plain(text: str) -> str:
    """A cell of the page's problem table as the clerk reads it (Markdown escapes removed)."""
    return re.sub(r"\\(.)", r"\1", text)


def test_the_problem_list_names_the_village_beside_the_cell(dash_db):
    from dashboard import queries, uploads

    at = ok(app("upload"))
    files = [(p.name, p.read_bytes(), XLSX) for p in (ROW_ERROR, TOWNSHIP_ERROR, MISSING_ROW)]
    at.get("file_uploader")[0].set_value(files).run()
    ok(at)
    assert len(at.table) == 3                                   # each file's problems, expanded (≤ 3 files)
    row_error, township_error, missing = (at.table[i].value for i in range(3))
    assert list(row_error.columns[:5]) == ["类别", "单元格", "村", "字段", "问题及修改方法"]

    # a cell of a village row: the village of that row, by its registry name
    cell = _expected(ROW_ERROR)["cell"]
    code = _village_at(ROW_ERROR, cell)
    [hit] = row_error[row_error["单元格"] == cell].to_dict("records")
    assert hit["村"] == queries.unit_name(code) and hit["村"]
    # a cell of the township sheet: no village
    cell = _expected(TOWNSHIP_ERROR)["cell"]
    assert cell.startswith("乡镇情况") and list(township_error.loc[township_error["单元格"] == cell, "村"]) == [""]
    # a village without a row: the village the problem names
    [gone] = missing[missing["代码"] == "ING033"].to_dict("records")
    assert gone["村"] and gone["村"] in _plain(gone["问题及修改方法"])

    # the download carries the village's code too
    everything = uploads.all_problems(at.session_state["upload_check"])
    hit = everything[(everything["文件"] == ROW_ERROR.name) & (everything["单元格"] == _expected(ROW_ERROR)["cell"])]
    assert list(hit["村代码"]) == [code] and list(hit["村"]) == [queries.unit_name(code)]


def test_messages_are_shown_in_full(dash_db):
    """The problems are a static table (st.table: cells wrap), not a grid that cuts long text."""
    at = ok(app("upload"))
    at.get("file_uploader")[0].set_value((LONG_MESSAGE.name, LONG_MESSAGE.read_bytes(), XLSX)).run()
    ok(at)
    [report] = at.session_state["upload_check"]
    shown = [_plain(m) for m in at.table[0].value["问题及修改方法"]]
    assert sorted(shown) == sorted(p.message for p in report.problems)
    assert max(len(m) for m in shown) > 80
    assert not [d for d in at.dataframe if "问题及修改方法" in d.value.columns]   # not in a grid that cuts text


def _late_upload(dash_db, monkeypatch, days: int):
    from dashboard import queries

    unlock_for_upload(dash_db, TOWNSHIP, "2025Q4")
    due = due_date("2025Q4", catalog().settings.reporting.due_day)
    monkeypatch.setattr(queries, "today", lambda: due + dt.timedelta(days=days))
    at = ok(app("upload", as_user=as_account(monkeypatch, dash_db)))
    at.get("file_uploader")[0].set_value((WARNED.name, WARNED.read_bytes(), XLSX)).run()
    return ok(at), due


def test_a_late_return_says_how_late_when_checked_and_when_stored(dash_db, monkeypatch):
    at, due = _late_upload(dash_db, monkeypatch, 23)
    text = f"逾期 23 天报送(截止 {due.year}年{due.month}月{due.day}日)"
    assert text == "逾期 23 天报送(截止 2026年1月15日)"
    summary = at.dataframe[0].value
    assert summary["结果"].iloc[0] == "检查通过,可导入" and summary["报送时限"].iloc[0] == text
    assert any(text in w.value for w in at.warning)

    at.button(key="upload_confirm").click().run()
    drain_queue(dash_db)
    at.run()
    ok(at)
    result = at.table[0].value
    assert result["状态"].iloc[0] == "已导入"
    assert result["结果"].iloc[0].startswith("已导入") and text in result["结果"].iloc[0]
    assert result["报送时限"].iloc[0] == text


def test_a_return_on_its_due_date_is_on_time(dash_db, monkeypatch):
    at, due = _late_upload(dash_db, monkeypatch, 0)
    assert at.dataframe[0].value["报送时限"].iloc[0] == f"按期报送(截止 {due.year}年{due.month}月{due.day}日)"
    assert not any("逾期" in w.value for w in at.warning)


# ---------------------------------------------------------------- in Chromium

@pytest.fixture
def signed_in_browser(sample_db_file, request):
    """test_browser's server and page; skipped when the sample database has no demo accounts beside it
    (a prebuilt one named by $RURAL_TARGETS_TEST_SAMPLE_DB may have none: nobody could sign in)."""
    if not (sample_db_file.parent / "demo-accounts.txt").is_file():
        pytest.skip("样例数据库旁没有 demo-accounts.txt,无法登录:跳过浏览器测试")
    return request.getfixturevalue("server"), request.getfixturevalue("page")


@pytest.mark.slow
def test_long_problem_messages_wrap_in_the_browser(signed_in_browser):
    """The problem table in a real browser: every message whole, wrapped within its cell, nothing cut
    or scrolled sideways; a screenshot under test-output/browser/."""
    live, window = signed_in_browser
    tb._open(window, live, "upload", "admin")
    window.get_by_role("heading", name="数据上报").wait_for(timeout=30000)
    tb._settle(window)
    window.locator('[data-testid="stFileUploader"] input[type=file]').set_input_files(str(LONG_MESSAGE))
    window.get_by_text("检查结果").wait_for(timeout=30000)
    tb._settle(window)
    tb._no_exception(window)
    table = window.locator('[data-testid="stTable"]', has_text="问题及修改方法").first
    table.wait_for(timeout=30000)
    table.scroll_into_view_if_needed()
    cells = table.locator("td", has_text="晚于今天")
    assert cells.count() >= 1
    cell = cells.first
    text = cell.inner_text()
    assert text.startswith(_expected(LONG_MESSAGE)["cell"]) and text.rstrip().endswith("会被 Excel 当作 1900 年的日期)"), text
    box = cell.bounding_box()
    assert box["height"] > 30                                   # wrapped onto several lines
    clipped = cell.evaluate("e => e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1")
    sideways = table.evaluate("e => e.scrollWidth > e.clientWidth + 1")
    assert not clipped and not sideways
    path = tb._shot(window, "upload-problems-wrapped")
    assert path.stat().st_size > 10000

