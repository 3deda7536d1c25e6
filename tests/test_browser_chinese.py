"""The dashboard speaks Chinese in a real browser: no English of Streamlit's own (uploader, dropdowns,
input hints, table toolbars, status widget) and no "None" on any page, and it prints: the print
stylesheet drops the sidebar, and 打印版式 draws the tables as HTML tables. Chromium through
Playwright, as tests/test_browser.py; screenshots under test-output/browser/.
"""
from __future__ import annotations

import re
import shutil

import pytest
from test_browser import (  # noqa: F401 - browser, page and playwright_sync are fixtures
    PAGES,
    _open,
    _settle,
    _shot,
    browser,
    page,
    playwright_sync,
)

pytestmark = pytest.mark.slow  # a Streamlit server, Chromium and the sample database

ALL_PAGES = {**PAGES, "review": "报表审核", "audit": "操作日志"}     # the admin sees every page
# Streamlit 1.67's English texts (and the "None" of a missing value)
ENGLISH = ("Choose an option", "Choose options", "No options to select", "No results", "Select all", "matches",
           "Drag and drop", "per file", "Browse files", "Upload", "Add files", "Press Enter", "Press Ctrl",
           "to apply", "submit form", "Running", "Stop", "Rerun", "File change", "Connecting", "Deploy",
           "Made with Streamlit", "Download as CSV", "Show/hide columns", "Search", "Fullscreen", "Sort ascending",
           "Sort descending", "Skip to main content", "empty", "yyyy", "mm", "dd", "None")
ENGLISH_RE = re.compile(r"\b(" + "|".join(re.escape(w) for w in ENGLISH) + r")\b")

# The texts a user sees: text nodes that are drawn (not in icons, not shrunk to nothing), the placeholders
# of empty inputs (unless drawn transparent) and the native tooltips (title), but for the map's zoom
# buttons (their English tooltips come with the map and cannot be reworded).
SHOWN_JS = r"""() => {
  const hidden = el => {
    if (el.closest('[data-testid="stIconMaterial"], style, script, noscript, template')) return true;
    if (!el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) return true;
    if (parseFloat(getComputedStyle(el).fontSize) === 0) return true;
    const r = el.getBoundingClientRect();
    return r.width <= 1 || r.height <= 1;
  };
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n; (n = walker.nextNode()); ) {
    const t = n.textContent.trim();
    if (t && !hidden(n.parentElement)) out.push(t);
  }
  for (const el of document.querySelectorAll('input, textarea'))
    if (!el.value && el.placeholder && !hidden(el)
        && getComputedStyle(el, '::placeholder').color !== 'rgba(0, 0, 0, 0)') out.push(el.placeholder);
  for (const el of document.querySelectorAll('[title]'))
    if (el.title && !hidden(el) && !el.closest('.mapboxgl-ctrl, .maplibregl-ctrl')) out.push(el.title);
  return out;
}"""


def _english(pg) -> list[str]:
    """The shown texts holding one of Streamlit's English texts."""
    return [t for t in pg.evaluate(SHOWN_JS) if ENGLISH_RE.search(t)]


def _after(pg, selector: str) -> str:
    """The ::after text of the first element matching ``selector``."""
    return pg.locator(selector).first.evaluate("e => getComputedStyle(e, '::after').content")


@pytest.fixture(scope="module")
def server(sample_db_file, tmp_path_factory, playwright_sync):  # noqa: F811 - the fixture imported above
    """`streamlit run dashboard/app.py` on a copy of the sample database with its demo accounts."""
    from pipelines.bench.dashboard import streamlit_server
    from pipelines.samples.init import ensure_demo_accounts
    from pipelines.store.db import connect

    work = tmp_path_factory.mktemp("browser-zh")
    db_file = work / "browser.duckdb"
    shutil.copyfile(sample_db_file, db_file)
    demo = sample_db_file.parent / "demo-accounts.txt"      # the passwords of accounts the sample already has
    if demo.is_file():
        shutil.copyfile(demo, work / demo.name)
    con = connect(db_file)
    try:
        passwords = {a["name"]: a["password"] for a in ensure_demo_accounts(con)}
    finally:
        con.close()
    try:
        with streamlit_server(db_file, work / "streamlit.log", timeout_s=60) as base:
            yield {"base": base, "db": db_file, "passwords": passwords}
    except RuntimeError as exc:
        pytest.fail(str(exc))


def _goto(pg, server, path: str, title: str) -> None:
    _open(pg, server, path, "admin")
    pg.get_by_role("heading", name=title).first.wait_for(timeout=30000)
    _settle(pg)


def test_no_english_and_no_none_on_any_page(server, page):  # noqa: F811
    for path, title in ALL_PAGES.items():
        _goto(page, server, path, title)
        assert _english(page) == [], (path, _english(page))
        _shot(page, f"zh-{path or 'overview'}")


def test_the_sign_in_form_speaks_chinese(server, browser):  # noqa: F811
    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    try:
        page = ctx.new_page()
        page.goto(server["base"])
        page.get_by_label("用户名").fill("admin")
        page.wait_for_timeout(300)
        assert _english(page) == [], _english(page)
        assert _after(page, '[data-testid="stForm"] [data-testid="InputInstructions"] > span') == '"按回车键提交"'
        _shot(page, "zh-signin")
    finally:
        ctx.close()


def test_inputs_and_dropdowns_speak_chinese(server, page):  # noqa: F811
    """The hint under a text input, the multiselect's 全选 and its empty list, the empty date field."""
    _goto(page, server, "audit", "操作日志")
    page.get_by_label("用户名").fill("adm")
    page.wait_for_timeout(300)
    assert _english(page) == [], _english(page)
    assert _after(page, '[data-testid="InputInstructions"] > span') == '"按回车键确认"'
    assert "3/32" in page.locator('[data-testid="InputInstructions"]').inner_text()

    _goto(page, server, "milestones", "任务督办")
    assert page.get_by_label("只看这些状态").get_attribute("placeholder") == "全部状态"
    page.get_by_label("只看这些状态").click()
    page.locator('[role="listbox"]').first.wait_for(timeout=10000)
    assert _english(page) == [], _english(page)
    assert _after(page, '[role="option"][data-key="__select_all__"] [data-item-hl]') == '"全选"'
    page.keyboard.type("zzz")
    page.locator('[role="listbox"][data-empty="true"]').wait_for(timeout=10000)
    assert _english(page) == [], _english(page)
    assert _after(page, '[role="listbox"][data-empty="true"] [role="option"] > span') == '"没有匹配的选项"'
    _shot(page, "zh-multiselect-empty")
    page.keyboard.press("Escape")
    year = '[data-testid="stDateInputField"] [data-placeholder="true"][data-type="year"]'
    assert _after(page, year) == '"年"'

    _goto(page, server, "laggards", "后进名单")                      # a multiselect emptied: its placeholder
    page.locator('[data-testid="stMultiSelect"] button[aria-label="Clear all"]').first.click()
    _settle(page)
    assert _english(page) == [], _english(page)
    _shot(page, "zh-multiselect-cleared")


def test_the_uploader_speaks_chinese(server, page):  # noqa: F811
    from test_browser import GOOD

    _goto(page, server, "upload", "数据上报")
    assert _english(page) == [], _english(page)
    button = '[data-testid="stFileUploaderDropzone"] [data-testid="stBaseButton-secondary"] p'
    assert _after(page, button) == '"选择文件"'
    assert _after(page, '[data-testid="stFileUploaderDropzoneInstructions"] span') == '"或把文件拖到这里 · 每个文件不超过 50MB"'
    _shot(page, "zh-upload")
    page.locator('[data-testid="stFileUploader"] input[type=file]').set_input_files(str(GOOD))
    page.get_by_text("检查结果").wait_for(timeout=30000)
    _settle(page)
    assert _english(page) == [], _english(page)
    _shot(page, "zh-upload-file")


def test_print_stylesheet_drops_the_sidebar(server, page):  # noqa: F811
    _goto(page, server, "completeness", "报送情况")
    page.emulate_media(media="print")
    page.wait_for_timeout(500)
    assert not page.locator('[data-testid="stSidebar"]').is_visible()
    assert not page.locator('[data-testid="stDownloadButton"]').first.is_visible()
    width = page.viewport_size["width"]
    box = page.locator('[data-testid="stMainBlockContainer"]').bounding_box()
    assert box["x"] < 20 and box["width"] > width - 40, box
    _shot(page, "print-completeness")
    page.emulate_media(media="screen")


def test_print_view_draws_html_tables(server, page):  # noqa: F811
    _goto(page, server, "", "总览")
    assert page.locator("table.rt-table").count() == 0
    page.locator('[data-testid="stSidebar"]').get_by_text("打印版式").click()
    _settle(page)
    assert "print=1" in page.url, page.url
    page.get_by_text("全部目标一览").first.click()
    overview = page.locator('[data-testid="stExpander"]').filter(has_text="全部目标一览").locator("table.rt-table")
    overview.first.wait_for(timeout=30000)
    assert overview.first.locator("tbody tr").count() >= 10
    assert _english(page) == [], _english(page)
    _shot(page, "print-view-overview")

    page.locator('[data-testid="stSidebarNav"]').get_by_text("报送情况").click()
    page.get_by_role("heading", name="报送情况", exact=True).wait_for(timeout=30000)
    _settle(page)
    tables = page.locator("table.rt-table")
    assert tables.count() >= 2                                      # 分区县统计, 各季度报送率 (催报名单 if any)
    heads = [tables.nth(i).locator("thead").inner_text() for i in range(tables.count())]
    assert any("报送率" in h and "季度" in h for h in heads), heads
    assert "print=1" in page.url, page.url
    page.emulate_media(media="print")
    page.wait_for_timeout(500)
    _shot(page, "print-view-completeness")
    page.emulate_media(media="screen")

    # a link with print=1 opens in the print view
    page.goto(f"{server['base']}/region?print=1")
    page.get_by_role("heading", name="区划名录").wait_for(timeout=30000)
    _settle(page)
    assert page.locator("table.rt-table").count() == 1
