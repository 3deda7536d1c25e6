"""The tables and sentences of a briefing, as text, shared by the Word and slide writers."""
from __future__ import annotations

from typing import Any

import pandas as pd

from pipelines.report.content import TABLE_ROWS, Briefing, TargetPart, value_line
from pipelines.report.formats import (coverage_note, fmt_date, fmt_num, fmt_pct, fmt_period, is_blank,
                                      row_status_zh, status_zh)
from pipelines.textwidth import text_width
from pipelines.units import LEVEL_ZH, parent

SEVERE = ("missed", "severely_lagging")
TEXT_COLUMNS = ("目标", "目标值", "单位", "乡镇(街道)", "所属", "所属区县", "状态", "说明")


def status_text(row: dict[str, Any]) -> str:
    """The status as every view words it, with who reported a provisional value."""
    cover = coverage_note(row)
    return row_status_zh(row) + (f";{cover}" if cover else "")


def overview_table(b: Briefing) -> pd.DataFrame:
    """Every target of the plan for the unit: value, target, 完成进度, 序时进度, status."""
    recs = b.rows.to_dict("records")
    return pd.DataFrame({
        "序号": range(1, len(recs) + 1),
        "目标": [r["target_title"] for r in recs],
        "当前值": [fmt_num(r["value"], r.get("unit") or "") for r in recs],
        "目标值": [r["target_text"] or "—" for r in recs],
        "完成进度": [fmt_pct(r["pi"]) for r in recs],
        "序时进度": [fmt_pct(r["tau"]) for r in recs],
        "状态": [row_status_zh(r) for r in recs],
        "报送": [coverage_note(r).replace(" 个", "").replace("报送", "") or "齐全" for r in recs],
    })


def red_rows(rows: pd.DataFrame) -> list[bool]:
    """Which rows print in red: severely lagging or missed."""
    return [s in SEVERE for s in rows["status"]]


def missing_table(b: Briefing) -> pd.DataFrame:
    """The townships that did not report in the quarter, with their county and last return."""
    chase = b.reporting["chase"]
    return pd.DataFrame({
        "序号": range(1, len(chase) + 1),
        "乡镇(街道)": [c["township_name"] for c in chase],
        "所属区县": [c["county_name"] for c in chase],
        "最近报送": [fmt_period(c["last_return"]) if c.get("last_return") else "从未报送" for c in chase],
    })


def part_paragraph(b: Briefing, part: TargetPart) -> str:
    """What a lagging target's section says: where it stands, what the deadline needs, and the units."""
    row, info = part.row, part.info
    unit = row.get("unit") or info["unit"]
    text = f"{b.unit['name']}{value_line(row, unit)},截止日期 {fmt_date(row.get('deadline') or info['deadline'])}。"
    if row.get("status") == "missed":
        text += "截止日已过,目标未达到。"
    elif not is_blank(row.get("projected")):
        text += f"按当前速度,到截止日预计为 {fmt_num(row['projected'], unit)}"
        if not is_blank(row.get("rate_required")):
            text += f",每季度还需提高 {fmt_num(row['rate_required'], unit)}"
        text += "。"
    if not part.ranked.empty:
        ranked = part.ranked[part.ranked["section"] == "ranked"]
        counts = ranked["status"].value_counts()
        words = "、".join(f"{status_zh(k)} {int(counts[k])} 个" for k in ("missed", "severely_lagging", "lagging")
                         if counts.get(k, 0))
        level = LEVEL_ZH[part.level]
        text += f"{len(part.ranked)} 个{level}中," + (words + "。" if words else "没有滞后的单位。")
        apart = part.ranked[part.ranked["section"] != "ranked"]
        if len(apart):
            text += f"另有 {len(apart)} 个{level}未报送或数据不全,不参与排名。"
    return text


def part_images(part: TargetPart, index: int) -> list[tuple[str, str]]:
    """The image names of a lagging target (pipelines.report.illustrate) and their captions."""
    out = [(f"{index:02d}_{part.info['title']}_走势", f"{part.info['title']}走势")]
    if part.level:
        out.append((f"{index:02d}_{part.info['title']}_地图", f"{part.info['title']}:各{LEVEL_ZH[part.level]}进度状态"))
    return out


def ranked_table(part: TargetPart, rows: int = TABLE_ROWS) -> tuple[pd.DataFrame, list[bool], str]:
    """The worst ``rows`` ranked units of a lagging target (the circular's table), which of them print
    red, and the sentence above the table."""
    ranked = part.ranked[part.ranked["section"] == "ranked"] if not part.ranked.empty else part.ranked
    if ranked.empty:
        return pd.DataFrame(), [], ""
    shown = ranked.head(rows)
    unit = part.row.get("unit") or part.info["unit"]
    recs = shown.to_dict("records")
    table = pd.DataFrame({
        "排名": [int(r["rank"]) for r in recs],
        "单位": [r["unit_name"] for r in recs],
        "所属": [_parent_name(part, r["unit_code"]) for r in recs],
        "当前值": [fmt_num(r["value"], unit) for r in recs],
        "完成进度": [fmt_pct(r["pi"]) for r in recs],
        "序时进度": [fmt_pct(r["tau"]) for r in recs],
        "状态": [status_text(r) for r in recs],
    })
    if not table["所属"].astype(bool).any():
        table = table.drop(columns="所属")
    level = LEVEL_ZH[part.level]
    note = (f"各{level}排名(最落后的在前{',列出前 %d 个' % rows if len(ranked) > rows else ''};红字为严重滞后或逾期未达标):")
    return table, [r["status"] in SEVERE for r in recs], note


def _parent_name(part: TargetPart, code: str) -> str:
    names = dict(zip(part.outlines.get("code", []), part.outlines.get("name", []))) if not part.outlines.empty else {}
    up = parent(code)
    return names.get(up, "") if up else ""


def text_columns(frame: pd.DataFrame) -> set[int]:
    """Positions of the columns that hold text (left-aligned)."""
    return {i for i, c in enumerate(frame.columns) if c in TEXT_COLUMNS}


def widths(frame: pd.DataFrame, total_mm: float, size_pt: float = 10.5, pad_mm: float = 2.6) -> list[float]:
    """Column widths (mm) for a table ``total_mm`` wide in a ``size_pt`` face: columns of numbers and
    short words as wide as their widest entry, the text columns (目标, 单位, 状态 …) sharing the rest
    by their length; ``pad_mm``: a cell's left and right margins together."""
    unit_mm = size_pt * 0.3528 / 2 * 1.05           # one half-width character
    text = text_columns(frame)
    # a header may wrap onto two lines; the values of a number column may not
    need = [max([-(-text_width(str(c)) // 2) if j not in text else text_width(str(c))]
                + [text_width(str(v)) for v in frame[c].head(200)]) for j, c in enumerate(frame.columns)]
    fixed = {j: need[j] * unit_mm + pad_mm for j in range(len(need)) if j not in text}
    rest = max(total_mm - sum(fixed.values()), 12.0 * max(len(text), 1))
    share = sum(min(need[j], 40) for j in text) or 1
    out = [fixed[j] if j in fixed else rest * min(need[j], 40) / share for j in range(len(need))]
    scale = min(1.0, total_mm / sum(out))
    return [w * scale for w in out]
