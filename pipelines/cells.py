"""Values written into exported files stay data, never formulas.

A clerk's remark, an uploader's name, a file name or a task note may start with "=" — openpyxl
writes such a string as a live formula, and Excel or WPS evaluates a CSV cell that starts with
=, +, -, @, a tab or a carriage return. Every exporter of the product writes through these two
functions: ``put`` for .xlsx cells (a string is always a string cell) and ``csv_value`` for CSV
(OWASP's advice: such a cell gets a leading apostrophe, unless it is a plain number like -3.5).
"""
from __future__ import annotations

from typing import Any

import pandas as pd

FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def put(ws: Any, row: int, col: int, value: Any) -> Any:
    """Write ``value`` into ``ws`` at (row, col) and return the cell; a string is stored as text."""
    cell = ws.cell(row, col)
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"
    return cell


def csv_value(value: Any) -> Any:
    """``value`` as a CSV cell that a spreadsheet shows as text: a string a spreadsheet would read as a
    formula gets a leading apostrophe (a plain number written as text is left as it is)."""
    if isinstance(value, str) and value.startswith(FORMULA_LEADS) and not _number(value):
        return "'" + value
    return value


def csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell and header passed through ``csv_value``."""
    out = frame.copy()
    out.columns = [csv_value(str(c)) for c in out.columns]
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(csv_value)
    return out


def _number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return not text.startswith(("\t", "\r", "=", "@"))
