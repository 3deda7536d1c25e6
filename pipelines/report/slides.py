"""The briefing as slides (16:9): title, the figures in numbers, every target's progress, the map,
reporting, one slide per lagging target (trend, map, the worst units), and the method."""
from __future__ import annotations

import io
from typing import Any

import pandas as pd
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.oxml.ns import qn
from pptx.util import Emu, Pt

from pipelines.catalog.definitions import catalog
from pipelines.report import tables
from pipelines.report.content import Briefing
from pipelines.report.formats import fmt_period, status_hex, status_zh

W, H = Emu(12192000), Emu(6858000)           # 16:9, 33.867 × 19.05 cm
CM = 360000
DARK = RGBColor(0x11, 0x18, 0x27)
GREY = RGBColor(0x55, 0x55, 0x55)
RED = RGBColor(0xB9, 0x1C, 0x1C)


def _faces() -> Any:
    return catalog().settings.briefing


def _run_font(run: Any, face: str, size: float, bold: bool = False, colour: RGBColor | None = None) -> None:
    """Face for Latin and East Asian text (a:latin and a:ea), size and colour of a run."""
    run.font.size = Pt(size)
    run.font.bold = bold
    run.font.name = face
    run.font.color.rgb = colour or DARK
    rpr = run._r.get_or_add_rPr()
    for tag in ("a:ea", "a:cs"):
        el = rpr.find(qn(tag))
        if el is None:
            el = rpr.makeelement(qn(tag), {})
            rpr.append(el)
        el.set("typeface", face)


def _text(slide: Any, x: float, y: float, w: float, h: float, lines: list[str], size: float = 18,
          face: str | None = None, bold: bool = False, colour: RGBColor | None = None, align: Any = None) -> None:
    box = slide.shapes.add_textbox(Emu(int(x * CM)), Emu(int(y * CM)), Emu(int(w * CM)), Emu(int(h * CM)))
    frame = box.text_frame
    frame.word_wrap = True
    for i, line in enumerate(lines):
        p = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
        if align is not None:
            p.alignment = align
        _run_font(p.add_run(), face or _faces().body_font, size, bold, colour)
        p.runs[0].text = line


def _title(slide: Any, text: str, sub: str | None = None) -> None:
    _text(slide, 1.2, 0.6, 31.5, 1.6, [text], size=26, face=_faces().heading_font, bold=True)
    if sub:
        _text(slide, 1.2, 2.0, 31.5, 0.9, [sub], size=13, colour=GREY)


def _picture(slide: Any, png: bytes, x: float, y: float, w: float | None = None, h: float | None = None) -> None:
    slide.shapes.add_picture(io.BytesIO(png), Emu(int(x * CM)), Emu(int(y * CM)),
                             width=Emu(int(w * CM)) if w else None, height=Emu(int(h * CM)) if h else None)


def _table(slide: Any, frame: pd.DataFrame, x: float, y: float, w: float, red: list[bool] | None = None,
           size: float = 11) -> None:
    rows, cols = len(frame) + 1, len(frame.columns)
    shape = slide.shapes.add_table(rows, cols, Emu(int(x * CM)), Emu(int(y * CM)), Emu(int(w * CM)),
                                   Emu(int(0.75 * CM * rows)))
    table = shape.table
    for j, width in enumerate(tables.widths(frame, w * 10, size_pt=size, pad_mm=6.0)):   # pptx cells: 2.54 mm margins
        table.columns[j].width = Emu(int(width / 10 * CM))
    faces = _faces()
    for j, name in enumerate(frame.columns):
        cell = table.cell(0, j)
        cell.text = ""
        _run_font(cell.text_frame.paragraphs[0].add_run(), faces.heading_font, size, True, RGBColor(255, 255, 255))
        cell.text_frame.paragraphs[0].runs[0].text = str(name)
    for i, rec in enumerate(frame.itertuples(index=False), start=1):
        for j, value in enumerate(rec):
            cell = table.cell(i, j)
            cell.text = ""
            colour = RED if red and red[i - 1] else None
            run = cell.text_frame.paragraphs[0].add_run()
            _run_font(run, faces.body_font, size, False, colour)
            run.text = "" if value is None else str(value)


def write_pptx(b: Briefing, images: dict[str, bytes]) -> bytes:
    """The briefing as .pptx bytes; ``images``: figure name → PNG (pipelines.report.illustrate)."""
    prs = Presentation()
    prs.slide_width, prs.slide_height = W, H
    blank = prs.slide_layouts[6]
    faces = _faces()
    prs.core_properties.title = b.title
    prs.core_properties.author = b.issuer

    s = prs.slides.add_slide(blank)
    _text(s, 2, 5.5, 29.9, 4.5, [b.title], size=34, face=faces.title_font, bold=True)
    _text(s, 2, 11.5, 29.9, 3, [b.issuer, b.date_text], size=20)

    s = prs.slides.add_slide(blank)
    _title(s, "总体情况", f"截至{fmt_period(b.period)} · {b.basis_text}")
    counts = b.counts()
    x = 1.2
    for key, n in counts.items():
        colour = RGBColor.from_string(status_hex(key)[1:])
        _text(s, x, 3.3, 3.8, 1.6, [str(n)], size=40, bold=True, colour=colour)
        _text(s, x, 5.0, 3.8, 1.0, [status_zh(key)], size=14, colour=colour)
        x += 3.9
    _text(s, 1.2, 6.6, 31.5, 11.5, b.summary(), size=16)

    if "各目标完成进度" in images:
        s = prs.slides.add_slide(blank)
        _picture(s, images["各目标完成进度"], 1.0, 0.4, h=18.2)
    if "滞后目标分布图" in images:
        s = prs.slides.add_slide(blank)
        _picture(s, images["滞后目标分布图"], 7.0, 0.4, h=18.2)

    missing = tables.missing_table(b)
    s = prs.slides.add_slide(blank)
    _title(s, "报送情况", fmt_period(b.period))
    _text(s, 1.2, 3.2, 31.5, 3.0, [b.summary()[1]], size=16)
    if not missing.empty:
        _table(s, missing.head(12), 1.2, 6.6, 20.0)

    for i, part in enumerate(b.parts, start=1):
        s = prs.slides.add_slide(blank)
        _title(s, f"{part.info['title']}({tables.status_text(part.row)})")
        _text(s, 1.2, 2.2, 31.5, 2.4, [tables.part_paragraph(b, part)], size=13)
        names = [n for n, _ in tables.part_images(part, i) if n in images]
        if names:
            _picture(s, images[names[0]], 1.0, 5.0, w=19.5)
        if len(names) > 1:
            _picture(s, images[names[1]], 21.0, 4.6, h=13.0)
        ranked, red, note = tables.ranked_table(part, rows=12)
        if not ranked.empty:
            s = prs.slides.add_slide(blank)
            _title(s, f"{part.info['title']}:{note.rstrip(':')}")
            _table(s, ranked, 1.2, 3.0, 31.5, red=red, size=11)

    s = prs.slides.add_slide(blank)
    _title(s, "有关说明")
    _text(s, 1.2, 3.0, 31.5, 15.5, b.method_notes(), size=15)
    buf = io.BytesIO()
    prs.save(buf)
    return buf.getvalue()
