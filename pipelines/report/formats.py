"""How numbers, dates, quarters and statuses are written, on every page, chart and document."""
from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd

from pipelines.catalog.definitions import catalog
from pipelines.compute.rows import coverage_text as row_coverage_text
from pipelines.compute.rules import STATUS_ZH, VERDICT_ZH, WORST_FIRST, status_label
from pipelines.periods import period_bounds, period_label

# the colour of each status: red overdue / severely behind, yellow behind, blue due soon, green on
# track or met, teal met late, grey no data, darker grey incomplete data, pale slate not judged
# (names and order are pipelines.compute.rules')
STATUS_RGB: dict[str, tuple[int, int, int]] = {
    "missed": (153, 27, 27),
    "severely_lagging": (220, 38, 38),
    "lagging": (234, 179, 8),
    "incomplete": (107, 114, 128),
    "no_data": (170, 170, 170),
    "due_soon": (37, 99, 235),
    "on_track": (134, 197, 94),
    "met_late": (13, 148, 136),
    "met": (22, 128, 61),
    "not_judged": (148, 163, 184),
}
STATUS_ORDER = list(WORST_FIRST) + [s for s in STATUS_ZH if s not in WORST_FIRST]


def is_blank(v: Any) -> bool:
    """None, NA or NaN."""
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v))


def fmt_num(v: Any, unit: str = "", digits: int | None = None) -> str:
    """1234.5 → '1,234.5'; percentages with one decimal; blanks as '—'."""
    if is_blank(v):
        return "—"
    v = float(v)
    if digits is None:
        digits = 0 if v.is_integer() and unit not in ("%", "‰") else (1 if abs(v) >= 10 or unit in ("%", "‰") else 2)
    text = f"{v:,.{digits}f}"
    if unit in ("%", "‰"):
        return text + unit
    return f"{text} {unit}".strip() if unit else text


def fmt_pct(v: Any, digits: int = 1) -> str:
    """A share 0.634 → '63.4%'."""
    return "—" if is_blank(v) else f"{float(v) * 100:.{digits}f}%"


def fmt_date(d: Any) -> str:
    """2025-12-31 → '2025年12月31日'."""
    if is_blank(d):
        return "—"
    if isinstance(d, str):
        d = dt.date.fromisoformat(d[:10])
    if isinstance(d, (pd.Timestamp, dt.datetime)):
        d = d.date()
    return f"{d.year}年{d.month}月{d.day}日"


def fmt_period(p: str | None) -> str:
    """'2024Q3' → '2024年第3季度' ('—' for none)."""
    return period_label(p) if p else "—"


def quarter_end(p: str) -> dt.date:
    """The last day of quarter ``p``."""
    return period_bounds(p)[1]


def status_zh(key: str | None, strive: Any = False) -> str:
    """The Chinese name of a status (无数据 for none); for a strive target 力争目标 beside it, and
    力争目标未实现 when missed (pipelines.compute.rules.status_label)."""
    return status_label(key or "no_data", bool(strive) if not is_blank(strive) else False)


def _getter(row: Any):
    return row.get if hasattr(row, "get") else (lambda k, d=None: getattr(row, k, d))


def row_status_zh(row: Any) -> str:
    """A progress row's status as every view shows it: the status (力争目标 / 力争目标未实现 for a strive
    target) and, beside 逾期完成, the verdict at the deadline ("逾期完成 · 截止时:未达标")."""
    get = _getter(row)
    status = get("status")
    label = get("status_label")
    text = label if isinstance(label, str) and label else status_zh(status, get("strive", False))
    verdict = get("verdict_at_deadline")
    if status == "met_late" and isinstance(verdict, str) and verdict in VERDICT_ZH:
        text += f" · 截止时:{VERDICT_ZH[verdict]}"
    above = get("above_range")
    if not is_blank(above) and bool(above):
        text += " · 超出区间上限"
    return text


def coverage_note(row: Any) -> str:
    """"125/141 个村报送" (pipelines.compute.rows.coverage_text) when a row's value rests on fewer than
    all the units it needs (its ``reported`` < ``expected``), else ""."""
    get = _getter(row)
    reported, expected = get("reported"), get("expected")
    if is_blank(expected) or not expected or (not is_blank(reported) and float(reported) >= float(expected)):
        return ""
    return row_coverage_text(catalog(), get("target"), get("basis"), None if is_blank(reported) else float(reported),
                             float(expected)) or ""


def is_provisional(row: Any) -> bool:
    """Whether the row's value is provisional: computed from fewer than all the units it needs."""
    return bool(coverage_note(row))


def status_rgb(key: str | None) -> tuple[int, int, int]:
    """The colour of a status (grey for none or unknown)."""
    return STATUS_RGB.get(key or "no_data", STATUS_RGB["no_data"])


def status_hex(key: str | None) -> str:
    """The colour of a status as #rrggbb."""
    r, g, b = status_rgb(key)
    return f"#{r:02x}{g:02x}{b:02x}"


def issuer(unit_name: str) -> str:
    """The issuing unit of a briefing or circular (settings.briefing.issuer, e.g. 示例市民政局)."""
    return catalog().settings.briefing.issuer.format(unit=unit_name)


def issue_date(today: dt.date) -> str:
    """The date line of a briefing or circular: today's date written out, or the settings' text to fill
    in by hand (settings.briefing.date)."""
    text = catalog().settings.briefing.date
    return fmt_date(today) if text.strip().lower() == "today" else text
