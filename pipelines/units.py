"""Unit codes (12-digit 统计用区划代码): levels, prefixes and parents, and the kinds of village- and
township-level units, in one place.

The level of a unit follows from its code: the digits after a level's prefix are all zero. A
village-level unit is a 居民委员会 (社区) or a 村民委员会 (村) by its last three digits, a township a
街道, 镇 or 乡 by digits 7–9 (the NBS coding rule); a target's ``population`` (村 / 社区 / 村(社区))
and ``township_kind`` (乡镇 / 乡镇(街道)) name which of them it counts.
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


# ---------------------------------------------------------------- kinds of village- and township-level units
# A village-level unit is a 居民委员会 (社区) when the last three digits of its code are 001–199 and a
# 村民委员会 (村) when they are 200–399 (the NBS coding rule); others (farms, virtual communities) are
# neither. A township is a 街道 for digits 7–9 in 001–099, a 镇 in 100–199, a 乡 in 200–399.
VILLAGE_COMMITTEE = "村委会"
RESIDENT_COMMITTEE = "居委会"
OTHER_KIND = "其他"
COMMITTEE_TYPES = (VILLAGE_COMMITTEE, RESIDENT_COMMITTEE, OTHER_KIND)
TOWNSHIP_TYPES = ("街道", "镇", "乡", OTHER_KIND)
# the committee types a target's population counts (issue 9 §1); 其他 belongs to none
POPULATION_TYPES: dict[str, tuple[str, ...]] = {
    "村": (VILLAGE_COMMITTEE,),
    "社区": (RESIDENT_COMMITTEE,),
    "村(社区)": (VILLAGE_COMMITTEE, RESIDENT_COMMITTEE),
}
# the township types a target's ``township_kind`` counts (None: every township, 其他 included)
TOWNSHIP_KIND_TYPES: dict[str, tuple[str, ...] | None] = {"乡镇": ("镇", "乡"), "乡镇(街道)": None}
# spellings of a committee type a registry file may use
_COMMITTEE_SPELLINGS = {
    "村委会": VILLAGE_COMMITTEE, "村民委员会": VILLAGE_COMMITTEE, "村": VILLAGE_COMMITTEE,
    "居委会": RESIDENT_COMMITTEE, "居民委员会": RESIDENT_COMMITTEE, "社区": RESIDENT_COMMITTEE,
    "社区居委会": RESIDENT_COMMITTEE, "居": RESIDENT_COMMITTEE,
    "其他": OTHER_KIND, "其它": OTHER_KIND,
}


def committee_type_of(code: str) -> str:
    """村委会 / 居委会 / 其他 of a village-level code, from its last three digits (001–199 居委会,
    200–399 村委会, anything else 其他)."""
    n = int(code[9:12])
    if 1 <= n <= 199:
        return RESIDENT_COMMITTEE
    if 200 <= n <= 399:
        return VILLAGE_COMMITTEE
    return OTHER_KIND


def committee_type_from_text(text: str) -> str | None:
    """The committee type a registry file writes (村委会, 村民委员会, 居委会, 社区…; 其他 with an
    explanation such as "其他(400+,含虚拟生活区)"), or None when the text is not one of them."""
    if not text:
        return None
    t = text.strip().replace(" ", "")
    if t.startswith(("其他", "其它")):
        return OTHER_KIND
    return _COMMITTEE_SPELLINGS.get(t)


def township_type_of(code: str) -> str:
    """街道 / 镇 / 乡 / 其他 of a township code, from digits 7–9 (001–099 街道, 100–199 镇, 200–399 乡)."""
    n = int(code[6:9])
    if 1 <= n <= 99:
        return "街道"
    if 100 <= n <= 199:
        return "镇"
    if 200 <= n <= 399:
        return "乡"
    return OTHER_KIND


def in_population(committee_type: str | None, population: str | None) -> bool:
    """Whether a village-level unit of ``committee_type`` is counted by a target of ``population``
    (None: every unit)."""
    return population is None or committee_type in POPULATION_TYPES[population]


def in_township_kind(code: str, township_kind: str | None) -> bool:
    """Whether township ``code`` is counted by a target of ``township_kind`` (None: every township)."""
    kinds = TOWNSHIP_KIND_TYPES.get(township_kind) if township_kind else None
    return kinds is None or township_type_of(code) in kinds
