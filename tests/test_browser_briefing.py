"""Images and briefings through the real page in Chromium: every chart's 下载图片 gives a PNG at print
resolution, the map's too, and the 简报 page downloads slides with the briefing's figures."""
from __future__ import annotations

import io

import pytest
from PIL import Image
from pptx import Presentation

from test_browser import _no_exception, _open, _settle, _shot, browser, page, playwright_sync, server  # noqa: F401

pytestmark = pytest.mark.slow


def _png(page, button) -> Image.Image:
    with page.expect_download(timeout=120000) as info:
        button.click()
    data = open(info.value.path(), "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return Image.open(io.BytesIO(data))


def test_every_chart_downloads_as_a_png(server, page):
    for path, least in (("", 1), ("trends", 1), ("completeness", 1), ("map", 1)):
        _open(page, server, f"{path}?plan=changde-2018&asof=2020Q3", "shi")
        _settle(page, 60000)
        _no_exception(page)
        buttons = page.get_by_role("button", name="🖼 下载图片")
        if path == "":
            page.get_by_text("目标详情").first.wait_for()
        assert buttons.count() >= least, path
        for i in range(min(buttons.count(), 2)):
            image = _png(page, buttons.nth(i))
            assert image.width >= 2400, (path, image.size)
        _shot(page, f"image_{path or 'overview'}")


def test_plotly_toolbar_speaks_chinese(server, page):
    _open(page, server, "trends?plan=changde-2018&asof=2020Q3", "shi")
    chart = page.locator('[data-testid="stPlotlyChart"]').first
    chart.hover()
    camera = page.locator(".modebar-btn[data-title]").first
    camera.wait_for(timeout=30000)
    # the tooltip a user sees is the button's ::after content (plotly: attr(data-title); the theme
    # replaces the one English title Streamlit adds, Fullscreen)
    shown = page.evaluate("""() => [...document.querySelectorAll('.modebar-btn')].map(b => {
        const c = getComputedStyle(b, '::after').content;
        return c && c !== 'none' && c !== 'normal' ? c.replace(/^"|"$/g, '') : b.getAttribute('data-title'); })""")
    assert "下载图片(PNG)" in shown and "缩放" in shown, shown
    assert not [t for t in shown if t and t.isascii()], shown


def test_briefing_page_downloads_the_briefing(server, page):
    _open(page, server, "briefing?plan=changde-2018&asof=2020Q3", "shi")
    _settle(page, 120000)
    _no_exception(page)
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert "常德市乡村治理三年行动实施方案(2018-2020年)" in main and "2020年第3季度" in main
    assert "三、滞后及未达标目标" in main
    _shot(page, "briefing")
    with page.expect_download(timeout=240000) as info:
        page.get_by_role("button", name="⬇ 幻灯片(.pptx)").click()
    assert info.value.suggested_filename.endswith(".pptx")
    prs = Presentation(info.value.path())
    pictures = [sh for s in prs.slides for sh in s.shapes if sh.shape_type == 13]
    assert len(pictures) >= 3
