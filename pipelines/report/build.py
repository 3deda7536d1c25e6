"""Write a briefing: gather its content, draw its figures as PNG, lay it out as .docx, .pdf or .pptx."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Callable

import duckdb

from pipelines.errors import ReportError
from pipelines.report import illustrate, images
from pipelines.report.content import Briefing, gather
from pipelines.report.pdf import docx_to_pdf
from pipelines.report.slides import write_pptx
from pipelines.report.word import write_docx

FORMATS = (".docx", ".pdf", ".pptx")
MIME = {".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ".pdf": "application/pdf",
        ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation"}


def pictures(b: Briefing, progress: Callable[[int, int], None] | None = None) -> dict[str, bytes]:
    """Every figure of the briefing as PNG (2× its size), by name."""
    figs = illustrate.figures(b)
    out = {}
    for i, f in enumerate(figs, start=1):
        out[f.name] = images.png(f.fig, f.width, f.height)
        if progress:
            progress(i, len(figs))
    return out


def render(b: Briefing, suffix: str, pngs: dict[str, bytes] | None = None) -> bytes:
    """The briefing in one format (``suffix``: .docx, .pdf or .pptx)."""
    suffix = suffix.lower()
    if suffix not in FORMATS:
        raise ReportError("RPT004", file=f"*{suffix}")
    pngs = pictures(b) if pngs is None else pngs
    if suffix == ".pptx":
        return write_pptx(b, pngs)
    docx = write_docx(b, pngs)
    return docx_to_pdf(docx) if suffix == ".pdf" else docx


def write(con: duckdb.DuckDBPyConnection, plan: str, period: str, output: Path, *, unit: str | None = None,
          basis: str = "now", today: dt.date | None = None) -> Briefing:
    """Write the briefing of ``plan`` for ``unit`` as of ``period`` to ``output`` (its suffix picks
    the format); RPT004 for another suffix, before anything is computed."""
    if output.suffix.lower() not in FORMATS:
        raise ReportError("RPT004", file=str(output))
    b = gather(con, plan, period, unit=unit, basis=basis, today=today)
    with images.session():
        data = render(b, output.suffix)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(data)
    return b
