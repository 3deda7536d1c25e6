"""Turning what clerks type into typed values: one function per field type.

Each returns ``(value, None)`` or ``(None, error_code)``; a blank cell is ``(None, None)`` —
not reported, which is different from 0.
"""
from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from functools import lru_cache
from typing import Any

EXCEL_EPOCH = dt.date(1899, 12, 30)
TRUE_WORDS = {"是", "有", "y", "yes", "true", "√", "✓", "✔", "1", "对"}
FALSE_WORDS = {"否", "无", "没有", "n", "no", "false", "×", "✗", "✘", "x", "0", "不是"}
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_DATE_PATTERNS = (
    re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?$"),
    re.compile(r"^(\d{4})[./\-](\d{1,2})[./\-](\d{1,2})$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)


def clean_text(value: Any) -> str:
    """NFKC-normalised text (full-width → half-width) with spaces and line breaks trimmed."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFKC", str(value)).strip()


def is_blank(value: Any) -> bool:
    """True for an empty cell: None, '', whitespace, or NaN."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and not value.strip()


def to_number(value: Any, unit: str | None = None) -> tuple[float | None, str | None]:
    """A number from a number, or from text like ' 1,234 ', '１２３', '35张'."""
    if is_blank(value):
        return None, None
    if isinstance(value, bool):
        return None, "ING010"
    if isinstance(value, (int, float)):
        return float(value), None
    if isinstance(value, (dt.date, dt.datetime, dt.time, dt.timedelta)):
        return None, "ING010"
    text = clean_text(value).replace(" ", "")
    if unit and text.endswith(unit):
        text = text[: -len(unit)]
    if _THOUSANDS.match(text):
        text = text.replace(",", "")
    try:
        number = float(text)
    except ValueError:
        return None, "ING010"
    if math.isnan(number) or math.isinf(number):
        return None, "ING010"
    return number, None


def to_int(value: Any, unit: str | None = None) -> tuple[int | None, str | None]:
    """An integer; 12.0 is accepted, 12.5 is not."""
    number, err = to_number(value, unit)
    if err or number is None:
        return None, err
    if not float(number).is_integer():
        return None, "ING011"
    return int(number), None


def to_bool(value: Any) -> tuple[bool | None, str | None]:
    """是/否, also 有/无, Y/N, √/×, 1/0, TRUE/FALSE."""
    if is_blank(value):
        return None, None
    if isinstance(value, bool):
        return value, None
    text = clean_text(value).lower()
    if text in TRUE_WORDS:
        return True, None
    if text in FALSE_WORDS:
        return False, None
    return None, "ING013"


def to_enum(value: Any, choices: list[str]) -> tuple[str | None, str | None]:
    """One of ``choices``, tolerating spaces and full-width characters."""
    if is_blank(value):
        return None, None
    text = re.sub(r"\s+", "", clean_text(value))
    for choice in choices:
        if text == unicodedata.normalize("NFKC", choice):
            return choice, None
    return None, "ING014"


def to_date(value: Any) -> tuple[dt.date | None, str | None]:
    """A date from a date cell, an Excel serial, or text: 2024年7月5日, 2024.7.5, 2024/7/5, 2024-07-05."""
    if is_blank(value):
        return None, None
    if isinstance(value, dt.datetime):
        return value.date(), None
    if isinstance(value, dt.date):
        return value, None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if 20000 <= value <= 80000:  # 1954 … 2119 as Excel serials
            return EXCEL_EPOCH + dt.timedelta(days=int(value)), None
        return None, "ING015"
    text = clean_text(value)
    for pattern in _DATE_PATTERNS:
        m = pattern.match(text)
        if m:
            try:
                return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))), None
            except ValueError:
                return None, "ING015"
    return None, "ING015"


def to_code(value: Any) -> tuple[str | None, str | None]:
    """A 12-digit statistical code, from text or from a number Excel kept as a number."""
    if is_blank(value):
        return None, None
    if isinstance(value, float):
        if not value.is_integer():
            return None, "ING017"
        value = int(value)
    text = clean_text(value).replace(" ", "").lstrip("'")
    if re.fullmatch(r"\d{12}", text):
        return text, None
    return None, "ING017"


def to_text(value: Any) -> tuple[str | None, str | None]:
    """Free text, kept as written (trimmed)."""
    if is_blank(value):
        return None, None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip(), None


def normalise(value: Any, field_type: str, unit: str | None = None,
              choices: list[str] | None = None) -> tuple[Any, str | None]:
    """Dispatch on the catalog's field type."""
    if field_type == "int":
        return to_int(value, unit)
    if field_type == "number":
        return to_number(value, unit)
    if field_type == "bool":
        return to_bool(value)
    if field_type == "enum":
        return to_enum(value, choices or [])
    if field_type == "date":
        return to_date(value)
    if field_type == "code":
        return to_code(value)
    return to_text(value)


@lru_cache(maxsize=4096)
def _header_key(text: str) -> str:
    t = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
    t = re.sub(r"\([^()]*\)$", "", t)  # a trailing (人), (平方米)… — units may be retyped
    return t.replace('"', "").replace("“", "").replace("”", "")


def header_key(text: Any) -> str:
    """A header reduced to what identifies it: NFKC, no spaces or line breaks, no unit suffix."""
    return _header_key(clean_text(text))
