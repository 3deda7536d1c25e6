"""Unit codes (12-digit 统计用区划代码): levels, prefixes and parents, in one place.

The level of a unit follows from its code: the digits after a level's prefix are all zero.
"""
from __future__ import annotations

LEVELS = ("province", "city", "county", "township", "village")
LEVEL_ZH = {"province": "省", "city": "市", "county": "区县", "township": "乡镇", "village": "村"}
LEVEL_RANK = {level: i for i, level in enumerate(LEVELS)}          # province 0 … village 4
# how many leading digits of a code identify a unit of each level
PREFIX_LEN = {"province": 2, "city": 4, "county": 6, "township": 9, "village": 12}


def level_of(code: str) -> str:
    """The level of a 12-digit code: province, city, county, township or village."""
    for level in LEVELS[:-1]:
        if code[PREFIX_LEN[level]:] == "0" * (12 - PREFIX_LEN[level]):
            return level
    return "village"


def prefix(code: str, level: str | None = None) -> str:
    """The leading digits that identify ``code`` (of its own level, or of ``level``)."""
    return code[:PREFIX_LEN[level or level_of(code)]]


def ancestor(code: str, level: str) -> str:
    """The code of the unit of ``level`` that contains ``code`` (``code`` itself at its own level)."""
    n = PREFIX_LEN[level]
    return code[:n] + "0" * (12 - n)


def parent(code: str) -> str | None:
    """The code of the unit directly above ``code`` (None for a province)."""
    rank = LEVEL_RANK[level_of(code)]
    return ancestor(code, LEVELS[rank - 1]) if rank else None
