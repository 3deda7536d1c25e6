"""Reporting periods (报告期): quarters written 2024Q3, their dates and their Chinese labels."""
from __future__ import annotations

import datetime as dt
import re

from pipelines.errors import TemplateError

_PERIOD = re.compile(r"^\s*(\d{4})\s*-?\s*[Qq]\s*([1-4])\s*$")
_ZH_QUARTER = {"一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}
_TEXT_FORMS = (
    re.compile(r"(\d{4})\s*年?\s*第?\s*([1-4一二三四])\s*季度?"),
    re.compile(r"(\d{4})\s*[-_ ]?\s*[Qq]\s*([1-4])"),
)


def parse_period(period: str) -> tuple[int, int]:
    """'2024Q3' → (2024, 3); TemplateError TPL001 for anything else."""
    m = _PERIOD.match(str(period)) if period is not None else None
    if not m or not 1990 <= int(m.group(1)) <= 2100:
        raise TemplateError("TPL001", period=period)
    return int(m.group(1)), int(m.group(2))


def normalise_period(period: str) -> str:
    """The canonical spelling: '2024q3', '2024-Q3' → '2024Q3'."""
    year, q = parse_period(period)
    return f"{year}Q{q}"


def period_from_text(text: str) -> str | None:
    """The period written in a cell: '2024年第3季度', '2024年三季度', '2024Q3' → '2024Q3'."""
    for rx in _TEXT_FORMS:
        m = rx.search(str(text))
        if m and 1990 <= int(m.group(1)) <= 2100:
            return f"{m.group(1)}Q{_ZH_QUARTER[m.group(2)]}"
    return None


def period_bounds(period: str) -> tuple[dt.date, dt.date]:
    """First and last day of the quarter."""
    year, q = parse_period(period)
    start = dt.date(year, 3 * q - 2, 1)
    end = dt.date(year + (q == 4), (3 * q) % 12 + 1, 1) - dt.timedelta(days=1)
    return start, end


def period_label(period: str) -> str:
    """'2024Q3' → '2024年第3季度'."""
    year, q = parse_period(period)
    return f"{year}年第{q}季度"


def due_date(period: str, due_day: int | None = None) -> dt.date:
    """The day a return for ``period`` is due: ``due_day`` (default: settings.reporting.due_day)
    of the month after the quarter."""
    if due_day is None:
        from pipelines.catalog.definitions import catalog
        due_day = catalog().settings.reporting.due_day
    _, end = period_bounds(period)
    nxt = end + dt.timedelta(days=1)
    return dt.date(nxt.year, nxt.month, due_day)


def quarters(first: str, last: str) -> list[str]:
    """Every quarter from ``first`` to ``last`` inclusive."""
    y, q = parse_period(first)
    y2, q2 = parse_period(last)
    out = []
    while (y, q) <= (y2, q2):
        out.append(f"{y}Q{q}")
        y, q = (y + 1, 1) if q == 4 else (y, q + 1)
    return out


def shift(period: str, n: int) -> str:
    """The quarter ``n`` quarters after (or before, n < 0) ``period``."""
    y, q = parse_period(period)
    idx = y * 4 + (q - 1) + n
    return f"{idx // 4}Q{idx % 4 + 1}"


def pidx(period: str) -> int:
    """A quarter as a running number (year × 4 + quarter − 1), for arithmetic on periods."""
    y, q = parse_period(period)
    return y * 4 + q - 1


def period_of(index: int) -> str:
    """The quarter of a running number: ``period_of(pidx(p)) == p``."""
    return f"{index // 4}Q{index % 4 + 1}"


def cutoff(period: str, due_day: int) -> dt.datetime:
    """The last moment a return for ``period`` counts as of ``period``: the end of its due date."""
    return dt.datetime.combine(due_date(period, due_day), dt.time.max)
