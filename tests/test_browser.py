"""The dashboard in a real browser: `streamlit run` on 127.0.0.1, Debian's Chromium driven by
Playwright (no browser download), every page opened, a sample return uploaded through the real
file input and confirmed; screenshots under test-output/browser/.

Skips with a message when Chromium or Playwright is absent — except in CI ($CI set), where that
is a failure.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from pipelines.bench.dashboard import streamlit_server
from pipelines.access.roles import local_admin
from conftest import unlock_for_upload
from pipelines.samples.init import DEMO_ACCOUNTS

DEMO = {name: display for name, _, _, display in DEMO_ACCOUNTS}

ADMIN = local_admin("测试管理员")

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow  # a Streamlit server, Chromium and the sample database

CHROMIUM = Path("/usr/bin/chromium")
OUT = ROOT / "test-output" / "browser"
GOOD = ROOT / "data" / "samples" / "returns" / "439921101000_黄嘴镇_2025Q4.xlsx"
WARNED = ROOT / "data" / "samples" / "bad" / "ING040_数值异常变化.xlsx"
BAD = ROOT / "data" / "samples" / "bad" / "ING010_数字格填了文字.xlsx"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# url path → the page's title (st.title)
PAGES = {
    "": "总览", "map": "进度地图", "laggards": "后进名单", "trends": "趋势", "upload": "数据上报",
    "completeness": "报送情况", "milestones": "任务督办", "catalog": "目标目录", "region": "区划名录",
}


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"浏览器测试无法运行(CI 中不允许跳过):{reason}")
    pytest.skip(f"跳过浏览器测试:{reason}")


@pytest.fixture(scope="module")
def playwright_sync():
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} 不存在(apt-get install chromium fonts-noto-cjk)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("未安装 playwright(pip install playwright;不要运行 playwright install)")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def server(sample_db_file, tmp_path_factory, playwright_sync):
    """`streamlit run dashboard/app.py` on a copy of the sample database.

    The copy already holds a warned re-upload of 黄嘴镇 2025Q4 (ING040), so uploading the
    committed good sample through the page stores it and supersedes that one.
    """
    from pipelines.store.db import connect
    from pipelines.ingest.pipeline import ingest_paths

    work = tmp_path_factory.mktemp("browser")
    db_file = work / "browser.duckdb"
    shutil.copyfile(sample_db_file, db_file)
    unlock_for_upload(db_file, "439921101000", "2025Q4")
    con = connect(db_file)
    try:
        [report] = ingest_paths(con, [WARNED], actor=ADMIN)
        assert report.status == "stored", report.summary_zh
    finally:
        con.close()

    passwords = {}
    for line in (sample_db_file.parent / "demo-accounts.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, password = line.split("\t")[:2]
            passwords[name] = password
    log = work / "streamlit.log"
    try:
        with streamlit_server(db_file, log, timeout_s=60) as base:
            yield {"base": base, "db": db_file, "log": log, "passwords": passwords}
    except RuntimeError as exc:  # the server did not answer its health check
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def browser(playwright_sync):
    b = playwright_sync.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
    yield b
    b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1600}, locale="zh-CN", accept_downloads=True)
    pg = ctx.new_page()
    yield pg
    ctx.close()


def _settle(page, timeout_ms: int = 30000) -> None:
    """Wait until the app has finished running (no 'running' status widget)."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_ms)
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_ms)
    page.wait_for_timeout(300)


def _open(page, server, path: str, user: str) -> None:
    """Open ``path`` signed in as the demo account ``user``: a first visit shows nothing but the
    sign-in form; once signed in, the session cookie keeps the browser signed in across page loads
    (another user signs out first)."""
    page.goto(f"{server['base']}/{path}")
    page.locator('[data-testid="stForm"], [data-testid="stSidebar"]').first.wait_for(timeout=30000)
    _settle(page)
    # signed in (the sidebar's 退出登录) or not (the form): wait for one of them, not for a half-drawn page
    page.locator('[data-testid="stForm"], [data-testid="stSidebar"] button:has-text("退出登录")').first.wait_for(
        timeout=30000)
    display = DEMO[user]
    if page.get_by_role("button", name="退出登录").count():
        if display in page.locator('[data-testid="stSidebar"]').inner_text():
            return
        page.get_by_role("button", name="退出登录").click()
        page.get_by_label("用户名").wait_for(timeout=30000)
        page.goto(f"{server['base']}/{path}")
        page.get_by_label("用户名").wait_for(timeout=30000)
        _settle(page)
    assert "乡村治理目标监测" in page.locator('[data-testid="stMain"]').inner_text()
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0        # nothing but the form
    page.get_by_label("用户名").fill(user)
    page.get_by_label("密码").fill(server["passwords"][user])
    page.get_by_role("button", name="登录").click()
    page.get_by_role("button", name="退出登录").wait_for(timeout=30000)
    _settle(page)
    assert display in page.locator('[data-testid="stSidebar"]').inner_text()


def _shot(page, name: str) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def _sidebar_value(page, label: str) -> str:
    """The shown value of a sidebar selectbox."""
    return page.locator(f'[data-testid="stSidebar"] input[aria-label="{label}"]').input_value()


def _no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator(
        '[data-testid="stException"]').first.inner_text()
    body = page.locator('[data-testid="stMain"]').inner_text()
    assert "Traceback" not in body and "DSH001" not in body, body[:2000]


def test_every_page_opens_in_chromium(server, page):
    for path, title in PAGES.items():
        _open(page, server, path, "admin")
        page.get_by_role("heading", name=title).first.wait_for(timeout=30000)
        _settle(page)
        _no_exception(page)
        if path == "map":
            canvas = page.locator('[data-testid="stDeckGlJsonChart"] canvas').first
            canvas.wait_for(timeout=30000)
            page.wait_for_timeout(1500)
            box = canvas.bounding_box()
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            tooltip = page.locator(".deck-tooltip")
            tooltip.wait_for(state="visible", timeout=10000)
            text = tooltip.inner_text()
            assert "数值" in text and "目标" in text and "状态" in text, text
        if path == "":  # the overview's trend chart sits in a collapsed section: open it
            page.get_by_role("heading", name="各目标进度").first.wait_for(timeout=30000)
            page.get_by_text("历年走势").first.click()
        if path in ("", "trends"):
            page.locator('[data-testid="stPlotlyChart"]:visible').first.wait_for(timeout=30000)
        _shot(page, path or "overview")


def test_view_is_kept_in_the_link(server, page):
    """A shared link opens the same plan and scope, and the URL follows the sidebar across pages."""
    _open(page, server, "catalog?plan=jiaxing-2018&county=439921000000", "shi")
    page.get_by_role("heading", name="目标目录").wait_for(timeout=30000)
    _settle(page)
    assert "农村社区建设" in _sidebar_value(page, "规划")
    assert _sidebar_value(page, "区县") == "碧泉县"
    page.get_by_role("link", name="区划名录").first.click()
    page.get_by_role("heading", name="区划名录").wait_for(timeout=30000)
    _settle(page)
    assert "plan=jiaxing-2018" in page.url and "county=439921000000" in page.url, page.url
    assert _sidebar_value(page, "区县") == "碧泉县"
    _shot(page, "link-kept")


def test_upload_a_return_through_the_file_input(server, page):
    _open(page, server, "upload", "admin")
    page.get_by_role("heading", name="数据上报").wait_for(timeout=30000)
    _settle(page)
    file_input = page.locator('[data-testid="stFileUploader"] input[type=file]')

    file_input.set_input_files(str(BAD))
    page.get_by_text("检查结果").wait_for(timeout=30000)
    _settle(page)
    main = page.locator('[data-testid="stMain"]')
    assert "1 个文件有错误,不能导入" in main.inner_text()
    assert page.get_by_role("button", name="确认导入 0 个文件").is_disabled()
    _shot(page, "upload-bad")

    # replace the bad file by the good sample
    page.get_by_role("button", name=f"Remove {BAD.name}").click()
    _settle(page)
    file_input.set_input_files(str(GOOD))
    page.get_by_role("button", name="确认导入 1 个文件").wait_for(timeout=30000)
    _settle(page)
    assert "可以导入\n\n1" in main.inner_text()
    _shot(page, "upload-checked")
    page.get_by_role("button", name="确认导入 1 个文件").click()
    page.get_by_text("处理完成").wait_for(timeout=120000)      # queued, then stored by the worker
    _settle(page)
    text = main.inner_text()
    assert "已导入" in text and "替换了第" in text, text[:1500]
    _no_exception(page)
    _shot(page, "upload-stored")

    from pipelines.store.db import connect
    from pipelines.ingest.store import list_submissions
    deadline = time.monotonic() + 10
    while True:  # the server closes its connection after the store; read once it is free
        try:
            con = connect(server["db"], read_only=True, wait_s=5)
            break
        except Exception:  # noqa: BLE001
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    try:
        [active] = list_submissions(con, township="439921101000", period="2025Q4")
    finally:
        con.close()
    assert active["file_name"] == GOOD.name and active["uploaded_by"] == "admin"


def test_a_clerk_uploads_its_own_return_and_the_county_approves_it(server, page, tmp_path):
    """黄嘴镇's clerk signs in, uploads its return (stored, 待审核), cannot upload another township's;
    碧泉县's reviewer signs in and approves it; the clerk's page then shows it approved."""
    from pipelines.store.db import connect

    con = connect(server["db"], read_only=True, wait_s=10)
    try:   # the return stored by the upload test above, or the warned re-upload: either way 黄嘴镇's own
        before = con.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    finally:
        con.close()
    other = ROOT / "data" / "samples" / "returns" / "439921100000_仁井镇_2025Q4.xlsx"
    mine = tmp_path / "439921101000_黄嘴镇_2025Q4_更正.xlsx"      # the same values …
    _open(page, server, "upload", "huangzui")
    main = page.locator('[data-testid="stMain"]')
    assert "黄嘴镇" in page.locator('[data-testid="stSidebar"]').inner_text()
    file_input = page.locator('[data-testid="stFileUploader"] input[type=file]')
    file_input.set_input_files(str(other))
    page.get_by_text("检查结果").wait_for(timeout=30000)
    _settle(page)
    assert "1 个文件有错误,不能导入" in main.inner_text(), main.inner_text()[:1500]   # AUTH011: in the audit below
    assert page.get_by_role("button", name="确认导入 0 个文件").is_disabled()
    _shot(page, "clerk-other-township-refused")
    page.get_by_role("button", name=f"Remove {other.name}").click()
    _settle(page)
    import openpyxl
    openpyxl.load_workbook(GOOD).save(mine)       # … saved again: other bytes, a new upload
    file_input.set_input_files(str(mine))
    page.get_by_text("检查结果").wait_for(timeout=30000)
    _settle(page)
    assert "可以导入\n\n1" in main.inner_text(), main.inner_text()[:1500]      # not locked: 待审核 until approved
    page.get_by_role("button", name="确认导入 1 个文件").click()
    page.get_by_text("处理完成").wait_for(timeout=120000)      # queued, then stored by the worker
    _settle(page)
    assert "已导入" in main.inner_text()
    _shot(page, "clerk-uploaded")

    _open(page, server, "review", "biquan")
    page.get_by_role("heading", name="报表审核").wait_for(timeout=30000)
    assert "黄嘴镇" in main.inner_text() and "待审核" in main.inner_text()
    _shot(page, "county-queue")
    page.get_by_role("button", name="审核通过").click()
    page.get_by_text("已审核通过并锁定").wait_for(timeout=30000)
    _settle(page)
    _no_exception(page)
    _shot(page, "county-approved")

    con = connect(server["db"], read_only=True, wait_s=10)
    try:
        sub = con.execute("SELECT uploaded_by, review_status, reviewed_by FROM submissions WHERE township_code = "
                          "'439921101000' AND period = '2025Q4' AND status = 'active'").fetchone()
        steps = con.execute("SELECT user_name, action, outcome FROM audit_log WHERE id > ? ORDER BY id",
                            [before]).fetchall()
    finally:
        con.close()
    assert sub == ("huangzui", "approved", "biquan")
    assert ("huangzui", "login", "ok") in steps and ("huangzui", "ingest_dry_run", "refused") in steps
    assert ("huangzui", "ingest", "ok") in steps and ("biquan", "approve", "ok") in steps


def test_a_hostile_upload_is_refused_and_the_server_keeps_answering(server, browser, page, tmp_path):
    """A 30 KB return with one cell at XFD1048576 (which made the reader allocate 512 GB): refused with
    ING062 in the page; another session then loads a page normally."""
    import io
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(GOOD.read_bytes()))
    far = tmp_path / "439921101000_黄嘴镇_2025Q4_远处单元格.xlsx"
    with zipfile.ZipFile(far, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename.startswith("xl/worksheets/sheet"):
                body = body.replace(b"</sheetData>", b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t>'
                                                      b"</is></c></row></sheetData>")
            dst.writestr(info, body)
    _open(page, server, "upload", "admin")
    page.locator('[data-testid="stFileUploader"] input[type=file]').set_input_files(str(far))
    page.get_by_text("检查结果").wait_for(timeout=60000)
    _settle(page)
    assert "1 个文件有错误,不能导入" in page.locator('[data-testid="stMain"]').inner_text()
    _no_exception(page)
    _shot(page, "hostile-refused")
    other = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    try:
        second = other.new_page()
        _open(second, server, "completeness", "shi")
        second.get_by_role("heading", name="报送情况", exact=True).wait_for(timeout=30000)
        _no_exception(second)
    finally:
        other.close()
