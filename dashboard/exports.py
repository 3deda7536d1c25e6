"""Downloads laid out for paper: the 后进名单 as a circular (通报) and the reporting matrix."""
from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from pipelines.cells import put
from pipelines.report.formats import issue_date, issuer

from dashboard import ui

RED = "C00000"
RED_FILL = PatternFill("solid", fgColor="FDE2E2")
HEAD_FILL = PatternFill("solid", fgColor="E5E7EB")
THIN = Side(style="thin", color="808080")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
SEVERE = ("severely_lagging", "missed")

CIRCULAR_COLUMNS = ["排名", "单位", "所属", "当前值", "目标值", "差距", "完成进度", "序时进度", "状态", "报送", "最近报送",
                    "说明"]
RANKED = "ranked"   # the section of pipelines.compute.laggards that is ranked; the others (未报送, 数据不全) are not


def circular_rows(df: pd.DataFrame, parents: dict[str, str]) -> pd.DataFrame:
    """The laggard rows as the circular shows them (numbers kept as numbers for Excel): the status as
    every view words it (力争目标, 逾期完成 · 截止时:未达标), who reported a provisional value
    ("125/141 个村报送"), the latest return received and why a row is not ranked or red (``reason``)."""
    recs = df.to_dict("records")
    section = df["section"] if "section" in df else pd.Series([RANKED] * len(df), index=df.index)
    ranked = (section == RANKED).to_numpy()
    return pd.DataFrame({
        "排名": [int(r) if k and not ui.is_blank(r) else None for r, k in zip(df["rank"], ranked)],
        "单位": df["unit_name"],
        "所属": [parents.get(c, "") for c in df["unit_code"]],
        "当前值": df["value"],
        "目标值": df["target_value"],
        "差距": df["value"] - df["target_value"],
        "完成进度": df["pi"],
        "序时进度": df["tau"],
        "状态": [ui.row_status_zh(r) for r in recs],
        "报送": [ui.coverage_note(r) for r in recs],
        "最近报送": [ui.fmt_period(p) if isinstance(p, str) else "未报送" for p in df.get("last_return", [None] * len(df))],
        "说明": [_periods_zh(r.get("reason")) if isinstance(r.get("reason"), str) else "" for r in recs],
        "_status": df["status"],
        "_section": section.to_numpy(),
        "_section_zh": (df["section_zh"] if "section_zh" in df else section).to_numpy(),
    })


def _periods_zh(text: str) -> str:
    """Quarters written 2024Q4 in a text as 2024年第4季度."""
    return re.sub(r"(\d{4})Q([1-4])", r"\1年第\2季度", text)


@dataclass
class CircularPart:
    """One target's part of a circular (通报): its laggard rows (pipelines.compute.laggards' order and
    sections), its title, the unit of its values, the notes under its table, and the names of the
    units above each listed unit (所属)."""

    frame: pd.DataFrame
    title: str
    unit: str
    notes: list[str] = field(default_factory=list)
    parents: dict[str, str] = field(default_factory=dict)
    target: str = ""               # the target's name, for the CSV's 目标 column


def circular_xlsx(df: pd.DataFrame, *, title: str, subtitle: str, asof_text: str, unit: str, scope: str,
                  notes: list[str], parents: dict[str, str], made: dt.date | None = None) -> bytes:
    """后进名单 of one target laid out for a circular (通报): see ``circulars_xlsx``."""
    return circulars_xlsx([CircularPart(df, title, unit, notes, parents)], subtitle=subtitle, asof_text=asof_text,
                          scope=scope, made=made)


def circulars_xlsx(parts: list[CircularPart], *, subtitle: str, asof_text: str, scope: str,
                   made: dt.date | None = None) -> bytes:
    """后进名单 laid out for a circular (通报), one sheet per target: title, as-of date, rank, unit,
    value, target, gap, status (with 力争目标 and the verdict at the deadline), who reported, the
    latest return; severely lagging and missed rows in red; units without a return (未报送) and with
    too few returns (数据不全) in their own sections after the ranked ones, not ranked; the notes (the
    target, its reading, the method) under the table; the issuing unit of ``scope`` and the date at
    the bottom right (settings.briefing); A4 landscape, header row repeated on each page. Numbers
    stay numbers; no cell holds a formula."""
    made = made or dt.date.today()
    wb = Workbook()
    for i, part in enumerate(parts):
        ws = wb.active if i == 0 else wb.create_sheet()
        ws.title = sheet_title(i, part.title, len(parts))
        _circular_sheet(ws, part, subtitle=subtitle, asof_text=asof_text, scope=scope, made=made)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def sheet_title(i: int, title: str, n: int) -> str:
    """The sheet of the ``i``-th of ``n`` targets: its title (numbered when there are several),
    without the characters Excel refuses in a sheet name, at most 31 characters."""
    name = re.sub(r"[\\/?*\[\]:]", "", title.removesuffix("后进名单")) or "后进名单"
    return (f"{i + 1}.{name}" if n > 1 else name)[:31]


def _circular_sheet(ws: Any, part: CircularPart, *, subtitle: str, asof_text: str, scope: str,
                    made: dt.date) -> None:
    """One target's circular on sheet ``ws``."""
    rows = circular_rows(part.frame, part.parents)
    unit = part.unit
    ncol = len(CIRCULAR_COLUMNS)
    last = get_column_letter(ncol)

    ws.merge_cells(f"A1:{last}1")
    put(ws, 1, 1, part.title)
    ws["A1"].font = Font(name="宋体", bold=True, size=16)
    ws["A1"].alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    ws.row_dimensions[1].height = 36
    ws.merge_cells(f"A2:{last}2")
    put(ws, 2, 1, subtitle)
    ws["A2"].font = Font(name="宋体", size=11)
    ws["A2"].alignment = Alignment(horizontal="center")
    ws.merge_cells(f"A3:{last}3")
    put(ws, 3, 1, f"范围:{scope}    {asof_text}    制表日期:{ui.fmt_date(made)}")
    ws["A3"].font = Font(name="宋体", size=10)
    ws["A3"].alignment = Alignment(horizontal="right")

    header_row = 5
    for j, name in enumerate(CIRCULAR_COLUMNS, start=1):
        c = put(ws, header_row, j, name if name not in ("当前值", "目标值", "差距") or not unit else f"{name}({unit})")
        c.font = Font(name="宋体", bold=True, size=11)
        c.fill = HEAD_FILL
        c.border = BOX
        c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    number = "0.0" if unit not in ("个", "名", "项", "人") else "0.##"
    r = header_row + 1
    current = RANKED
    for rec in rows.to_dict("records"):
        if rec["_section"] != current:         # a section heading: 未报送 / 数据不全 (not ranked)
            current = rec["_section"]
            n = int((rows["_section"] == current).sum())
            ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=ncol)
            head = put(ws, r, 1, f"{rec['_section_zh']}({n} 个,不参与排名)")
            head.font = Font(name="宋体", bold=True, size=11)
            head.fill = HEAD_FILL
            head.border = BOX
            r += 1
        severe = rec["_status"] in SEVERE and rec["_section"] == RANKED
        for j, name in enumerate(CIRCULAR_COLUMNS, start=1):
            v = rec[name]
            c = put(ws, r, j, None if ui.is_blank(v) or v == "" else v)
            c.border = BOX
            c.font = Font(name="宋体", size=11, color=RED if severe else None, bold=severe and name == "状态")
            if severe:
                c.fill = RED_FILL
            if name in ("当前值", "目标值", "差距"):
                c.number_format = number
                c.alignment = Alignment(horizontal="right")
            elif name in ("完成进度", "序时进度"):
                c.number_format = "0.0%"
                c.alignment = Alignment(horizontal="right")
            elif name in ("排名", "最近报送"):
                c.alignment = Alignment(horizontal="center")
            elif name in ("状态", "报送", "说明"):
                c.alignment = Alignment(horizontal="center" if name == "状态" else "left", vertical="center",
                                        wrap_text=True)
        r += 1
    r += 1
    for note in part.notes:
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=ncol)
        put(ws, r, 1, note).font = Font(name="宋体", size=10)
        ws.cell(r, 1).alignment = Alignment(wrap_text=True, vertical="top")
        ws.row_dimensions[r].height = max(30, 15 * (1 + len(note) // 70))
        r += 1
    r += 1
    for line in (issuer(scope), issue_date(made)):     # 落款: the issuing unit, the date under it
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=ncol)
        c = put(ws, r, 1, line)
        c.font = Font(name="宋体", size=12)
        c.alignment = Alignment(horizontal="right")
        r += 1
    widths = [6, 16, 12, 10, 10, 10, 9, 9, 14, 14, 12, 24]
    for j, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = w
    ws.freeze_panes = ws.cell(header_row + 1, 1)
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.oddFooter.center.text = "第 &P 页,共 &N 页"


def circular_table(parts: list[CircularPart]) -> pd.DataFrame:
    """Every target's rows of a circular in one table (the CSV): 目标 and 计量单位 first, 分组 (后进排名,
    未报送, 数据不全) last; numbers as numbers."""
    frames = []
    for part in parts:
        rows = circular_rows(part.frame, part.parents)
        rows.insert(0, "计量单位", part.unit)
        rows.insert(0, "目标", part.target or part.title)
        rows["分组"] = rows["_section_zh"]
        frames.append(rows.drop(columns=[c for c in rows.columns if c.startswith("_")]))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def circular_name(level_zh: str, targets: list[str], scope: str, period: str | None) -> str:
    """The file name (without extension) of a circular: 后进名单_村_农村老年协会覆盖率_示例市_2020Q3, or
    后进名单_村_3项目标_示例市_2020Q3 for several targets; characters no file name may hold become "-"."""
    what = targets[0] if len(targets) == 1 else f"{len(targets)}项目标"
    name = "_".join(p for p in ("后进名单", level_zh, what, scope, period or "") if p)
    return re.sub(r'[\\/:*?"<>|\s]+', "-", name)


def circular_notes(info: dict[str, Any], min_coverage: float) -> list[str]:
    """The notes under every circular: the target and its clause, the target's reading, and how to
    read the statuses (the catalog's and the compute layer's words)."""
    strive = "(规划原文为“力争”“争取”,为力争目标;未实现时写作“力争目标未实现”)" if info.get("strive") else ""
    return [
        f"目标:{info['target_text']},截止{ui.fmt_date(info['deadline'])}{strive}。依据:{info['clause']}“{info['source_clause']}”",
        f"解读:{info['reading']}(口径:{info['population']};判定层级:{info['judged_at_zh']})",
        "完成进度 = 已完成的变化 ÷ 所需变化;序时进度 = 已过时间 ÷ 规划期;完成进度低于序时进度即为滞后,"
        "预计到期完成不足所需变化一半的为严重滞后(红色)。逾期完成:截止日后才达到,“截止时”为截止日当季的结论。",
        f"未报送、数据不全(报送单位不足应报的 {min_coverage:.0%})的单位单列,不参与排名,其数值为暂定值;"
        "“报送”列为计算数值所用的报送单位数。",
    ]


def matrix_xlsx(matrix: pd.DataFrame, codes: dict[str, str], *, title: str, subtitle: str) -> bytes:
    """The townships × quarters reporting matrix with coloured cells (按时 green, 逾期 yellow, 未报 red)."""
    fills = {"按时": PatternFill("solid", fgColor="D1FAE5"), "逾期": PatternFill("solid", fgColor="FEF3C7"),
             "未报": PatternFill("solid", fgColor="FEE2E2")}
    wb = Workbook()
    ws = wb.active
    ws.title = "报送情况"
    ncol = len(matrix.columns)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=max(ncol, 1))
    put(ws, 1, 1, title)
    ws["A1"].font = Font(name="宋体", bold=True, size=14)
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=max(ncol, 1))
    put(ws, 2, 1, subtitle)
    for j, name in enumerate(matrix.columns, start=1):
        c = put(ws, 4, j, str(name))
        c.font = Font(bold=True)
        c.fill = HEAD_FILL
        c.border = BOX
        c.alignment = Alignment(horizontal="center", wrap_text=True)
    for i, rec in enumerate(matrix.itertuples(index=False), start=5):
        for j, v in enumerate(rec, start=1):
            c = put(ws, i, j, None if ui.is_blank(v) else v)
            c.border = BOX
            text = str(v) if not ui.is_blank(v) else ""
            for key, fill in fills.items():
                if text.startswith(key):
                    c.fill = fill
                    c.alignment = Alignment(horizontal="center")
    for j in range(1, ncol + 1):
        ws.column_dimensions[get_column_letter(j)].width = 14 if j > 2 else 16
    ws.freeze_panes = "C5"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
