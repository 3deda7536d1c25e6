"""Display width of text: 2 for a wide (CJK) character, 1 otherwise — for aligned columns and Excel widths."""
from __future__ import annotations

import unicodedata


def text_width(s: str) -> int:
    """The number of columns ``s`` takes in a terminal or an Excel cell."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)
