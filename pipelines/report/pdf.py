"""A .docx to PDF through LibreOffice (headless), with the document's named faces (方正小标宋简体,
仿宋_GB2312 …) mapped to installed ones (settings.briefing.substitutes) so Chinese glyphs print."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from xml.sax.saxutils import escape

from pipelines.catalog.definitions import catalog
from pipelines.errors import ReportError

TIMEOUT_S = 180


def soffice() -> str | None:
    """The LibreOffice binary, when installed."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def fontconfig(directory: Path) -> Path:
    """A fontconfig file: the system's configuration plus one alias per named face."""
    aliases = "".join(
        f"<alias binding=\"same\"><family>{escape(face)}</family><prefer>"
        + "".join(f"<family>{escape(s)}</family>" for s in subs) + "</prefer></alias>"
        for face, subs in catalog().settings.briefing.substitutes.items())
    path = directory / "fonts.conf"
    path.write_text("<?xml version=\"1.0\"?><!DOCTYPE fontconfig SYSTEM \"fonts.dtd\"><fontconfig>"
                    "<include ignore_missing=\"yes\">/etc/fonts/fonts.conf</include>"
                    f"<cachedir>{escape(str(directory / 'cache'))}</cachedir>{aliases}</fontconfig>", encoding="utf-8")
    return path


def docx_to_pdf(docx: bytes) -> bytes:
    """The PDF of a .docx (RPT002 without LibreOffice, RPT003 when the conversion fails)."""
    binary = soffice()
    if binary is None:
        raise ReportError("RPT002")
    with tempfile.TemporaryDirectory(prefix="rural-targets-pdf-") as tmp:
        work = Path(tmp)
        src = work / "briefing.docx"
        src.write_bytes(docx)
        env = {**os.environ, "HOME": str(work), "FONTCONFIG_FILE": str(fontconfig(work))}
        try:
            done = subprocess.run([binary, "--headless", "--norestore", "--convert-to", "pdf", "--outdir", str(work),
                                   str(src)], env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            raise ReportError("RPT003", detail=f"超过 {TIMEOUT_S} 秒") from exc
        out = work / "briefing.pdf"
        if done.returncode != 0 or not out.is_file():
            raise ReportError("RPT003", detail=(done.stderr or done.stdout or f"退出码 {done.returncode}").strip()[:300])
        return out.read_bytes()
