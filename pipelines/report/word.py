"""The briefing as a Word document laid out as Chinese official documents are (GB/T 9704): A4, title in
小标宋, body in 仿宋 3号 with 28-point lines, headings in 黑体 and 楷体, page numbers "— 1 —"."""
from __future__ import annotations

import io
from typing import Any

import pandas as pd
from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

from pipelines.catalog.definitions import catalog
from pipelines.report import tables
from pipelines.report.content import Briefing
from pipelines.report.formats import fmt_period

NUMERALS = "一二三四五六七八九十"
RED = RGBColor(0xB9, 0x1C, 0x1C)


def _faces() -> Any:
    return catalog().settings.briefing


def _font(run: Any, face: str, size: float, bold: bool = False, colour: RGBColor | None = None) -> None:
    """Set a run's face for Latin and East Asian text alike, its size (points) and weight."""
    run.font.name = face
    run.font.size = Pt(size)
    run.font.bold = bold
    if colour is not None:
        run.font.color.rgb = colour
    rpr = run._element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attr), face)


def _para(doc: Any, text: str = "", *, face: str | None = None, size: float = 16, bold: bool = False,
          align: Any = WD_ALIGN_PARAGRAPH.JUSTIFY, indent: bool = True, line: float = 28,
          before: float = 0, after: float = 0) -> Any:
    p = doc.add_paragraph()
    fmt = p.paragraph_format
    fmt.alignment = align
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = Pt(line)
    fmt.space_before, fmt.space_after = Pt(before), Pt(after)
    if indent:
        fmt.first_line_indent = Pt(size * 2)
    if text:
        _font(p.add_run(text), face or _faces().body_font, size, bold)
    return p


def _page_number(section: Any) -> None:
    """"— 1 —" centred in the footer, 4号 (14 pt)."""
    p = section.footer.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _font(p.add_run("— "), "宋体", 14)
    run = p.add_run()
    _font(run, "宋体", 14)
    for kind, text in (("begin", None), (None, "PAGE"), ("separate", None), (None, "1"), ("end", None)):
        if kind:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
        elif text == "PAGE":
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = " PAGE "
        else:
            el = OxmlElement("w:t")
            el.text = text
        run._element.append(el)
    _font(p.add_run(" —"), "宋体", 14)


def _table(doc: Any, frame: pd.DataFrame, widths_mm: list[float], red: list[bool] | None = None) -> None:
    """A table that fits the text width: 五号 (10.5 pt) body, bold grey header repeated on each page;
    numbers as the table module wrote them."""
    faces = _faces()
    t = doc.add_table(rows=1, cols=len(frame.columns))
    t.style = "Table Grid"
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    t.autofit = False
    head = t.rows[0]
    trpr = head._tr.get_or_add_trPr()
    repeat = OxmlElement("w:tblHeader")
    repeat.set(qn("w:val"), "true")
    trpr.append(repeat)
    for column, w in zip(t.columns, widths_mm):
        column.width = Mm(w)
    for cell, name, w in zip(head.cells, frame.columns, widths_mm):
        cell.width = Mm(w)
        p = cell.paragraphs[0]
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        _font(p.add_run(str(name)), faces.heading_font, 10.5)
        shade = OxmlElement("w:shd")
        shade.set(qn("w:val"), "clear")
        shade.set(qn("w:fill"), "E5E7EB")
        cell._tc.get_or_add_tcPr().append(shade)
    for i, rec in enumerate(frame.itertuples(index=False)):
        cells = t.add_row().cells
        for j, (cell, value, w) in enumerate(zip(cells, rec, widths_mm)):
            cell.width = Mm(w)
            p = cell.paragraphs[0]
            p.alignment = WD_ALIGN_PARAGRAPH.LEFT if j in tables.text_columns(frame) else WD_ALIGN_PARAGRAPH.CENTER
            _font(p.add_run("" if value is None else str(value)), faces.body_font, 10.5,
                  colour=RED if red and red[i] else None)
    doc.add_paragraph()


def write_docx(b: Briefing, images: dict[str, bytes]) -> bytes:
    """The briefing as .docx bytes; ``images``: figure name → PNG (pipelines.report.illustrate)."""
    faces = _faces()
    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    width_mm = 210 - 28 - 26
    normal = doc.styles["Normal"]
    normal.font.name = faces.body_font
    normal.font.size = Pt(16)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), faces.body_font)
    _page_number(section)
    core = doc.core_properties
    core.title, core.author, core.subject = b.title, b.issuer, b.plan.title

    _para(doc, b.title, face=faces.title_font, size=22, align=WD_ALIGN_PARAGRAPH.CENTER, indent=False, line=36,
          after=6)
    _para(doc, f"({b.number})", size=16, align=WD_ALIGN_PARAGRAPH.CENTER, indent=False, after=12)
    for text in b.summary():
        _para(doc, text)

    def heading(n: int, text: str) -> None:
        _para(doc, f"{NUMERALS[n]}、{text}", face=faces.heading_font, size=16, indent=True, before=6)

    def sub(n: int, text: str) -> None:
        _para(doc, f"({NUMERALS[n] if n < 10 else n + 1}){text}", face="楷体_GB2312", size=16, before=4)

    def picture(name: str, caption: str) -> None:
        if name not in images:
            return
        p = doc.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        wide = width_mm if not name.endswith(("地图", "分布图")) else width_mm * 0.8   # maps need less width
        p.add_run().add_picture(io.BytesIO(images[name]), width=Mm(wide))
        _para(doc, caption, size=12, align=WD_ALIGN_PARAGRAPH.CENTER, indent=False, line=20, after=6)

    n = 0
    heading(n, "总体情况")
    picture("各目标完成进度", f"图1 各目标完成进度与序时进度(截至{fmt_period(b.period)})")
    if "滞后目标分布图" in images:
        picture("滞后目标分布图", "图2 各单位进度滞后及未达标的目标数")
    overview = tables.overview_table(b)
    _table(doc, overview, tables.widths(overview, width_mm), red=tables.red_rows(b.rows))

    n += 1
    heading(n, "报送情况")
    r = b.reporting
    _para(doc, b.summary()[1])
    missing = tables.missing_table(b)
    if missing.empty:
        _para(doc, "本季度各乡镇(街道)均已报送。")
    else:
        _para(doc, f"未报送的乡镇(街道)共 {r['missing']} 个,名单如下:")
        _table(doc, missing, tables.widths(missing, width_mm))

    n += 1
    heading(n, "滞后及未达标目标")
    if not b.parts:
        _para(doc, "本季度没有进度滞后或逾期未达标的目标。")
    figure_no = 3 if "滞后目标分布图" in images else 2
    for i, part in enumerate(b.parts):
        info = part.info
        sub(i, f"{info['title']}({tables.status_text(part.row)})")
        _para(doc, tables.part_paragraph(b, part))
        for name, caption in tables.part_images(part, i + 1):
            if name in images:
                picture(name, f"图{figure_no} {caption}")
                figure_no += 1
        ranked, red, note = tables.ranked_table(part)
        if not ranked.empty:
            _para(doc, note, size=14, indent=False, line=24)
            _table(doc, ranked, tables.widths(ranked, width_mm), red=red)

    n += 1
    heading(n, "有关说明")
    for text in b.method_notes():
        _para(doc, text)
    _para(doc, "各目标的规划条款与测算口径:", face=faces.heading_font, size=16, indent=True, before=4)
    for k, item in enumerate(b.targets(), start=1):
        info = item["info"]
        _para(doc, f"{k}. {info['title']}(目标 {info['target_text']}):{info['clause']}“{info['source_clause']}”"
                   f"解读:{info['reading']}", size=14, line=24)

    _para(doc, "", after=12)
    _para(doc, b.issuer, align=WD_ALIGN_PARAGRAPH.RIGHT, indent=False)
    _para(doc, b.date_text, align=WD_ALIGN_PARAGRAPH.RIGHT, indent=False)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
