"""Synthetic quarterly returns of the sample city (示例市): a seeded simulator and file writers.

Everything here is made up. ``simulate(con)`` plays the city's 41 townships and 514 villages
through 29 quarters, 2018Q4 … 2025Q4, moving every field of the return (``schemas/fields.yaml``,
sheets 村级情况 and 乡镇情况) towards the five plans' targets (``schemas/plans/``):

- 2018Q4 starts well below the targets (老年协会 ~55 %, 综合服务平台 ~70 %, 社区社会组织 ~2.5 个/村,
  节地生态安葬 ~20 %, 养老床位 ~22 张/千名老人, 志愿者 ~6 %, 法律顾问 ~40 % …);
- each township has a *pace*: ``ahead`` (targets reached before their deadlines), ``on_track``,
  ``behind``, or ``stalling`` (progress stops for a year or two and slips back for a few quarters).
  A township's progress ``L(t)`` is counted in "quarters of on-track work"; an indicator planned
  to reach its goal ``d`` quarters after 2018Q4 stands at ``L(t) / d`` of the way there;
- yes/no fields adopt village by village: a village has a fixed threshold ``u`` per field and says
  是 while the township's share is above it, so once 是 it stays 是 unless the township slips back;
- populations drift slowly around the registry's (resident 85–95 % of registered, about 3 people a
  household); burials are quarterly flows (6–8 per 1000 people a year, more in winter);
- the township sheet: social-work station, judicial office and government service centre adopted
  over time, party members ~3 % of the population (under 35: a stable 15–20 %, college: rising),
  demonstration villages and towns from 2021, half-year and year-end report dates;
- about 3 % of (township, quarter) returns never arrive and about 10 % arrive late: every return has
  an arrival time (on time: the 1st–15th of the month after the quarter; late: 1–40 days after the 15th).

Only ``numpy.random.default_rng`` supplies randomness, seeded per township from ``SEED``, so the
same seed and registry always give the same values (and the writers the same files).

Writers: ``write_return(con, township, period, values, path)`` by suffix — ``.xlsx`` the real
template (``pipelines.ingest.template``) filled in with openpyxl, ``.csv`` the 村级情况 sheet as Excel's
"save as CSV" lays it out (UTF-8 with BOM, or GBK), ``.xls`` the .xlsx converted by LibreOffice.
``.xlsx`` with ``lite=True`` is a plain workbook of the same layout written directly (~3 ms a file):
``ensure_generated`` writes the full history that way into ``data/generated/returns`` for
``rural-targets init`` (CSV would lose the 乡镇情况 sheet). ``write_committed_samples`` and
``write_bad_samples`` write ``data/samples/returns`` and ``data/samples/bad``
(``python -m pipelines.samples.returns returns|bad``).
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import duckdb
import numpy as np

from pipelines.catalog.definitions import ROOT, catalog
from pipelines.files import atomic_write
from pipelines.periods import parse_period, period_bounds, period_label, quarters
from pipelines.ingest.read import column_letter

SEED = 20181120
GENERATOR_VERSION = "1"          # bump whenever the simulation or the file layout changes
FIRST_PERIOD, LAST_PERIOD = "2018Q4", "2025Q4"
PERIODS = quarters(FIRST_PERIOD, LAST_PERIOD)
CITY = "439900000000"

SAMPLES_DIR = ROOT / "data" / "samples"
RETURNS_DIR = SAMPLES_DIR / "returns"
BAD_DIR = SAMPLES_DIR / "bad"
GENERATED_DIR = ROOT / "data" / "generated" / "returns"
UNITS_CSV = SAMPLES_DIR / "region" / "units.csv"

# The committed samples (data/samples/returns): every township of one county in the latest
# quarter as the real template, two LibreOffice .xls and two CSV exports (UTF-8, GBK).
SAMPLE_COUNTY = "439921000000"            # 碧泉县, 9 townships
SAMPLE_PERIOD = LAST_PERIOD
EXTRA_SAMPLES = [                          # (township, period, suffix, csv encoding)
    ("439921102000", "2025Q3", ".xls", None),       # 枫桥镇, the quarter before its .xlsx
    ("439902101000", "2025Q4", ".xls", None),       # 金垸镇 (松岗区)
    ("439922102000", "2025Q4", ".csv", "utf-8-sig"),  # 龙垭镇 (白鹭县)
    ("439981100000", "2025Q4", ".csv", "gbk"),      # 羊冲镇 (桐湾市)
]
# The broken samples are made from this return; ING040 is checked against the previous quarter.
BAD_BASE = ("439921101000", "2025Q4")     # 黄嘴镇
SEASON = np.array([0.29, 0.24, 0.22, 0.25])  # share of a year's deaths in Q1…Q4
TZ = dt.timezone(dt.timedelta(hours=8))

PACES = {  # kind: (share of townships, pace range, P(missing return), P(late return))
    "ahead": (0.15, (1.35, 1.75), 0.010, 0.05),
    "on_track": (0.50, (1.00, 1.20), 0.020, 0.09),
    "behind": (0.25, (0.50, 0.75), 0.045, 0.14),
    "stalling": (0.10, (0.80, 1.00), 0.080, 0.18),
}

# Paths of the indicators: (value in 2018Q4, goal, quarters after 2018Q4 an on-track township
# reaches the goal, the level it levels off at afterwards). Percentages unless noted.
PATHS: dict[str, tuple[float, float, float, float]] = {
    "elder_assoc": (55, 90, 8, 98),
    "service_platform": (70, 100, 6, 100),
    "service_share": (58, 82, 16, 88),          # 村民服务活动面积 / 平台面积
    "social_orgs": (2.5, 10.5, 16, 13),         # 个/村
    "beds": (22, 35, 8, 42),                    # 张/千名老年人
    "volunteers": (6, 13, 8, 17),               # % of residents
    "social_workers": (0.4, 1.0, 8, 1.4),       # ‰ of registered population
    "community_sw": (0.5, 1.3, 8, 1.9),         # 名/村
    "tekun_care": (30, 50, 8, 85),
    "elder_facility": (35, 60, 8, 82),
    "left_behind": (45, 100, 10, 100),
    "eco_burial": (20, 50, 8, 68),
    "village_rules": (80, 100, 4, 100),
    "rules_revised": (10, 100, 5, 100),
    "micro_unit": (5, 100, 8, 100),
    "rules_reach": (50, 100, 24, 100),
    "rules_aware": (60, 100, 24, 100),
    "reserve_secretary": (0.75, 1.3, 8, 1.6),   # 名/村
    "reserve_cadre": (1.5, 2.6, 8, 3.0),
    "reserve_activist": (2.4, 3.8, 8, 4.5),
    "first_secretary": (60, 100, 8, 100),
    "points": (10, 70, 28, 80),
    "legal_adviser": (40, 100, 24, 100),
    "legal_station": (30, 100, 24, 100),
    "rule_of_law": (8, 30, 24, 38),
    "weak_economy": (25, 8, 28, 5),
    "sw_station": (20, 100, 8, 100),
    "judicial": (30, 90, 28, 100),
    "gov_centre": (50, 100, 24, 100),
    "college": (18, 30, 28, 33),
}
TYPE_CUTS = (-0.524, 0.842, 2.054)   # community score → 薄弱/提升/完善/示范 (30/50/18/2 % in 2018Q4)
TYPE_DRIFT = 0.058                   # score gained per quarter of on-track work (50 % 完善型+ by 2022Q4)

VILLAGE_FIELDS = [f.id for f in catalog().sheets["village"].fields]
TOWNSHIP_FIELDS = [f.id for f in catalog().sheets["township"].fields]
_VILLAGE_ENUMS = {f.id: f.values for f in catalog().sheets["village"].fields if f.type == "enum"}
_TOWN_ENUMS = {f.id: f.values for f in catalog().sheets["township"].fields if f.type == "enum"}


# ============================================================================ the simulation

@dataclass
class TownshipSim:
    """One township's 29 quarters: arrays indexed [quarter] or [quarter, village]."""

    code: str
    name: str
    county: str
    kind: str                                    # ahead | on_track | behind | stalling
    pace: float
    villages: list[tuple[str, str]]              # (code, name) in code order
    progress: np.ndarray                         # L(t), quarters of on-track work
    village: dict[str, np.ndarray]               # field → (T, V): float (NaN blank), bool, or object
    township: dict[str, np.ndarray]              # field → (T,)
    arrival: list[dt.datetime | None]            # None: the return never arrived


@dataclass
class Simulation:
    seed: int
    periods: list[str]
    townships: dict[str, TownshipSim]

    def values(self, township: str, period: str) -> dict[str, Any]:
        """The return of ``township`` for ``period`` as plain values:
        ``{"village": [{field: value}, …], "township": {field: value}}`` — ints, floats,
        '是'/'否', enumeration labels, dates, text, or None for a blank cell."""
        ts = self.townships[township]
        t = self.periods.index(period)
        rows = []
        for j in range(len(ts.villages)):
            rows.append({f: _plain(ts.village[f][t, j], f) if f in ts.village else None for f in VILLAGE_FIELDS})
        town = {f: _plain(ts.township[f][t], f) if f in ts.township else None for f in TOWNSHIP_FIELDS}
        return {"village": rows, "township": town}

    def arrival(self, township: str, period: str) -> dt.datetime | None:
        return self.townships[township].arrival[self.periods.index(period)]

    def returns(self) -> list[tuple[str, str, dt.datetime]]:
        """Every return that arrived: (township, period, arrival), in period then township order."""
        out = []
        for i, p in enumerate(self.periods):
            for code in sorted(self.townships):
                when = self.townships[code].arrival[i]
                if when is not None:
                    out.append((code, p, when))
        return out

    def fingerprint(self) -> str:
        """A hash of every simulated value and arrival (changes whenever the simulation does)."""
        h = hashlib.sha256()
        for code in sorted(self.townships):
            ts = self.townships[code]
            for key in sorted(ts.village):
                h.update(key.encode())
                h.update(np.asarray(ts.village[key]).astype(str).tobytes())
            for key in sorted(ts.township):
                h.update(key.encode())
                h.update(np.asarray(ts.township[key]).astype(str).tobytes())
            h.update(repr(ts.arrival).encode())
        return h.hexdigest()


def _plain(v: Any, fid: str) -> Any:
    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)):
        return "是" if v else "否"
    if isinstance(v, (float, np.floating)):
        if np.isnan(v):
            return None
        if fid in _INT_FIELDS:
            return int(v)
        return float(v)
    if isinstance(v, np.integer):
        return int(v)
    return v


_INT_FIELDS = {f.id for s in ("village", "township") for f in catalog().sheets[s].fields if f.type == "int"}


def _registry(con: duckdb.DuckDBPyConnection) -> tuple[list[dict], dict[str, list[dict]]]:
    cols = ("code", "name", "parent_code", "population", "elderly_population")
    towns = [dict(zip(cols, r)) for r in con.execute(
        f"SELECT {', '.join(cols)} FROM units WHERE level = 'township' AND code LIKE ? ORDER BY code",
        [CITY[:4] + "%"]).fetchall()]
    villages: dict[str, list[dict]] = {}
    for r in con.execute(f"SELECT {', '.join(cols)} FROM units WHERE level = 'village' AND code LIKE ? "
                         "AND valid_to IS NULL ORDER BY code", [CITY[:4] + "%"]).fetchall():
        villages.setdefault(r[2], []).append(dict(zip(cols, r)))
    if not towns:
        raise ValueError("示例市的区划名录尚未导入(registry load data/samples/region/units.csv)")
    return towns, villages


def _curve(L: np.ndarray, start: np.ndarray | float, goal: float, d: float, hi: float) -> np.ndarray:
    """Value after ``L`` quarters of on-track work: linear from ``start`` to ``goal`` in ``d``
    quarters, then levelling off towards ``hi`` with a continuous slope."""
    frac = np.maximum(L / d, -0.3)
    start = np.asarray(start, dtype=float)
    lin = start + (goal - start) * frac
    gap = hi - goal
    if gap == 0:
        return np.minimum(lin, goal) if goal >= np.max(start) else np.maximum(lin, goal)
    rate = (goal - start) / gap
    over = goal + gap * (1 - np.exp(-np.maximum(frac - 1, 0) * np.abs(rate)))
    return np.where(frac <= 1, lin, over)


def _pace_kinds(rng: np.random.Generator, n: int) -> list[str]:
    counts = {k: int(round(v[0] * n)) for k, v in PACES.items() if k != "on_track"}
    counts["on_track"] = n - sum(counts.values())
    kinds = [k for k in PACES for _ in range(counts[k])]
    return [kinds[i] for i in rng.permutation(n)]


def _progress(rng: np.random.Generator, kind: str, T: int) -> tuple[float, np.ndarray]:
    lo, hi = PACES[kind][1]
    pace = float(rng.uniform(lo, hi))
    inc = pace * np.clip(1 + 0.3 * rng.standard_normal(T), 0.2, None)
    inc[0] = 0.0
    if kind == "stalling":
        start = int(rng.integers(6, 15))
        width = int(rng.integers(4, 9))
        inc[start:start + width] = 0.0
        slip = start + width // 2
        inc[slip:slip + 2] = -0.8 * pace
    return pace, np.cumsum(inc)


def _city_plan(rng: np.random.Generator, towns: list[dict], kinds: dict[str, str]) -> dict[str, Any]:
    """Designations decided above the township: demonstration villages and towns."""
    T = len(PERIODS)
    t_of = {p: i for i, p in enumerate(PERIODS)}
    first_demo: dict[str, int | None] = {}
    for t in towns:
        kind = kinds[t["code"]]
        choices = {"ahead": [9, 10], "on_track": [10, 11, 12], "behind": [12, 13], "stalling": [13, 14, 16]}[kind]
        first_demo[t["code"]] = int(rng.choice(choices))
    # village events: (township, rank of the village by community score, quarter, level)
    events: list[tuple[str, int, int, str]] = []
    for t in towns:
        t1 = first_demo[t["code"]]
        events.append((t["code"], 0, t1, "区级"))
        if rng.random() < 0.7:
            events.append((t["code"], 1, min(T - 1, t1 + int(rng.integers(4, 9))), "区级"))
        if kinds[t["code"]] == "ahead":
            events.append((t["code"], 2, min(T - 1, t1 + int(rng.integers(10, 14))), "区级"))
    counties = sorted({t["parent_code"] for t in towns})
    per_county = {c: [t["code"] for t in towns if t["parent_code"] == c] for c in counties}
    n_municipal = dict(zip(counties, rng.permutation([2, 2, 1, 2] + [2] * max(0, len(counties) - 4))[:len(counties)]))
    municipal: dict[str, int] = {}
    for c in counties:
        early = sorted(per_county[c], key=lambda code: (first_demo[code], code))
        for code in early[: n_municipal[c]]:
            municipal[code] = max(first_demo[code] + 1, t_of["2021Q3"])
            events.append((code, 0, municipal[code], "市级"))
    ready = sorted(code for code, tq in municipal.items() if tq < t_of["2021Q4"])
    national = ready[int(rng.integers(len(ready)))]
    events.append((national, 0, t_of["2021Q4"], "国家级"))
    later = sorted(m for m in municipal if m[:6] != national[:6])
    events.append((later[int(rng.integers(len(later)))], 0, t_of["2023Q4"], "国家级"))
    for c in counties:  # one more municipal demonstration village per county in 2023
        others = [code for code in per_county[c] if code not in municipal]
        pick = others[int(rng.integers(len(others)))]
        events.append((pick, 0, max(first_demo[pick] + 1, t_of["2023Q2"]), "市级"))
    # towns: (township, quarter, level)
    town_events: list[tuple[str, int, str]] = []
    national_towns = []
    for c in counties:
        order = [per_county[c][i] for i in rng.permutation(len(per_county[c]))]
        order.sort(key=lambda code: {"ahead": 0, "on_track": 1, "behind": 2, "stalling": 3}[kinds[code]])
        k = 1 + int(rng.random() < 0.5)
        for code in order[:k]:
            tq = int(rng.integers(t_of["2021Q1"], t_of["2021Q3"] + 1))
            town_events.append((code, tq, "市级申报"))
            town_events.append((code, tq + int(rng.integers(4, 7)), "市级"))
        national_towns.append(order[k])
    first, second = national_towns[0], national_towns[1 + int(rng.integers(len(national_towns) - 1))]
    town_events += [(first, t_of["2021Q2"], "国家级申报"), (first, t_of["2022Q4"], "国家级"),
                    (second, t_of["2023Q2"], "国家级申报")]
    # thresholds of the township yes/no fields, stratified across the city
    n = len(towns)
    town_u: dict[str, dict[str, float]] = {t["code"]: {} for t in towns}
    for key in ("sw_station", "judicial", "gov_centre"):
        u = (rng.permutation(n) + rng.random(n)) / n
        for t, x in zip(towns, u):
            town_u[t["code"]][key] = float(x)
    return {"village_events": events, "town_events": town_events, "town_u": town_u}


def simulate(con: duckdb.DuckDBPyConnection, seed: int = SEED) -> Simulation:
    """Simulate every township of the sample city for every quarter of ``PERIODS``."""
    towns, villages = _registry(con)
    city_rng = np.random.default_rng([seed, 0])
    kinds = dict(zip([t["code"] for t in towns], _pace_kinds(city_rng, len(towns))))
    plan = _city_plan(city_rng, towns, kinds)
    out = {}
    for t in towns:
        rng = np.random.default_rng([seed, int(t["code"])])
        out[t["code"]] = _simulate_township(rng, t, villages.get(t["code"], []), kinds[t["code"]], plan)
    return Simulation(seed, list(PERIODS), out)


def _simulate_township(rng: np.random.Generator, town: dict, villages: list[dict], kind: str,
                       plan: dict[str, Any]) -> TownshipSim:
    T, V = len(PERIODS), len(villages)
    t_idx = np.arange(T)
    years = np.array([parse_period(p)[0] for p in PERIODS])
    qs = np.array([parse_period(p)[1] for p in PERIODS])
    pace, L = _progress(rng, kind, T)
    vcol = lambda a: a[None, :]  # noqa: E731 - (V,) → (1, V)
    col = lambda a: a[:, None]   # noqa: E731 - (T,) → (T, 1)

    def town_L(key: str) -> np.ndarray:
        """The township's progress on one indicator: its own pace, a little faster or slower."""
        return L * float(np.exp(0.15 * rng.standard_normal()))

    def town_start(key: str) -> float:
        s, g, _, _ = PATHS[key]
        return s + (g - s) * float(np.clip(0.12 * rng.standard_normal(), -0.3, 0.3))

    def share(key: str) -> np.ndarray:
        """The township's share (0–100) of villages that have it, per quarter."""
        s, g, d, hi = PATHS[key]
        return np.clip(_curve(town_L(key), town_start(key), g, d, hi), 0, 100)

    def adopt(key: str) -> np.ndarray:
        """(T, V) yes/no: a village has it while the township's share is above its threshold
        (thresholds stratified, so the township's share follows its curve closely)."""
        u = (rng.permutation(V) + rng.random(V)) / V
        return vcol(u) * 100 < col(share(key))

    def village_level(key: str, spread: float = 0.2, level_sd: float = 0.0, cap: float | None = None) -> np.ndarray:
        """(T, V) continuous value: each village on its own pace and start around the township's."""
        s, g, d, hi = PATHS[key]
        Lt = town_L(key)
        m = np.exp(spread * rng.standard_normal(V))
        start = town_start(key) + abs(g - s) * np.clip(0.15 * rng.standard_normal(V), -0.4, 0.4)
        v = _curve(col(Lt) * vcol(m), vcol(start), g, d, hi)
        if level_sd:
            v = v * vcol(np.exp(level_sd * rng.standard_normal(V) - level_sd ** 2 / 2))
        v = np.maximum(v, 0)
        return np.minimum(v, cap) if cap is not None else v

    def dithered(x: np.ndarray) -> np.ndarray:
        """Integers with the mean of ``x``, moving only when ``x`` does (a fixed dither per village)."""
        return np.floor(x + vcol(rng.random(x.shape[1]))).astype(float)

    def walk(x: np.ndarray, sd: float) -> np.ndarray:
        """Small multiplicative quarter-to-quarter noise, autocorrelated."""
        e = np.cumsum(sd * rng.standard_normal((T, V)), axis=0)
        return x * np.exp(e - e.mean(axis=0, keepdims=True))

    pop0 = np.array([v["population"] or 1000 for v in villages], dtype=float)
    eld0 = np.array([v["elderly_population"] or 0.2 * p for v, p in zip(villages, pop0)], dtype=float)
    yrs = col((t_idx - 14) / 4.0)                       # years from the middle of the period
    trend = vcol(rng.uniform(-0.012, 0.004, V))
    reg = np.round(vcol(pop0) * (1 + trend * yrs) * walk(np.ones((T, V)), 0.0015))
    ratio = vcol(rng.uniform(0.85, 0.95, V)) - 0.002 * yrs
    resident = np.round(reg * np.clip(ratio, 0.8, 0.97))
    hh_size = vcol(rng.uniform(2.8, 3.3, V)) - 0.01 * yrs
    households = np.round(reg / hh_size)
    elderly = np.round(vcol(eld0) * (1 + vcol(rng.uniform(0.008, 0.022, V)) * yrs) * walk(np.ones((T, V)), 0.001))
    elderly = np.minimum(elderly, np.maximum(reg, resident))

    vil: dict[str, np.ndarray] = {}
    vil["village_code"] = np.array([[v["code"] for v in villages]] * T, dtype=object)
    vil["village_name"] = np.array([[v["name"] for v in villages]] * T, dtype=object)
    vil["population_registered"] = reg
    vil["population_resident"] = resident
    vil["households"] = households
    vil["elderly_population"] = elderly

    vil["social_orgs"] = dithered(village_level("social_orgs", level_sd=0.2))
    vil["has_elder_association"] = adopt("elder_assoc")
    platform = adopt("service_platform")
    vil["has_service_platform"] = platform
    area = vcol(np.round(rng.uniform(300, 900, V)))
    service_share = village_level("service_share", spread=0.25, cap=95) / 100
    vil["platform_area_m2"] = np.where(platform, area, np.nan)
    vil["platform_service_area_m2"] = np.where(platform, np.round(area * service_share), np.nan)
    vil["has_village_rules"] = adopt("village_rules")
    vil["village_rules_revised"] = adopt("rules_revised") & vil["has_village_rules"]
    reach = village_level("rules_reach", spread=0.3, cap=100) / 100
    vil["rules_households_reached"] = np.minimum(np.round(households * reach), households)
    surveyed = vcol(rng.integers(30, 81, V).astype(float)) * np.ones((T, 1))
    aware = village_level("rules_aware", spread=0.3, cap=100) / 100
    vil["rules_surveyed"] = surveyed
    vil["rules_aware"] = np.minimum(np.round(surveyed * aware), surveyed)
    vil["micro_unit_pilot"] = adopt("micro_unit")
    vil["has_left_behind_home"] = adopt("left_behind")
    vil["has_elder_care_facility"] = adopt("elder_facility")
    beds_rate = village_level("beds", level_sd=0.25)
    vil["elder_care_beds"] = dithered(elderly * beds_rate / 1000)
    tekun0 = np.round(eld0 * rng.uniform(0.004, 0.014, V))
    steps = rng.choice([-1.0, 0.0, 1.0], p=[0.05, 0.9, 0.05], size=(T, V))
    steps[0] = 0
    tekun = np.maximum(vcol(tekun0) + np.cumsum(steps, axis=0), 0)
    vil["tekun_dependent"] = tekun
    care = village_level("tekun_care", spread=0.3, cap=100) / 100
    vil["tekun_dependent_cared"] = np.minimum(dithered(tekun * care), tekun)
    death_rate = vcol(rng.uniform(6.0, 8.0, V)) / 1000
    burials = rng.poisson(reg * death_rate * col(SEASON[qs - 1])).astype(float)
    eco_rate = village_level("eco_burial", spread=0.3, cap=100) / 100
    vil["burials"] = burials
    vil["eco_burials"] = rng.binomial(burials.astype(int), np.clip(eco_rate, 0, 1)).astype(float)
    vol_rate = village_level("volunteers", level_sd=0.25) / 100
    vil["volunteers"] = np.minimum(np.round(resident * vol_rate), resident)
    sw = village_level("social_workers", level_sd=0.3)
    vil["social_work_professionals"] = dithered(reg * sw / 1000)
    vil["community_social_workers"] = dithered(village_level("community_sw", level_sd=0.15))
    vil["reserve_secretary"] = dithered(village_level("reserve_secretary", level_sd=0.15))
    vil["reserve_cadre"] = dithered(village_level("reserve_cadre", level_sd=0.15))
    vil["reserve_activist"] = dithered(village_level("reserve_activist", level_sd=0.15))

    yidx = years - years[0]
    weak_org = rng.random((years[-1] - years[0] + 1, V))[yidx] < 0.05
    vil["flag_weak_party_org"] = weak_org
    poor_share = np.select([t_idx == 0, t_idx <= 4, t_idx <= 7], [15.0, 10.0, 5.0], 0.0)
    vil["flag_poor"] = vcol(rng.random(V)) * 100 < col(poor_share)
    vil["flag_weak_economy"] = adopt("weak_economy")
    vil["has_first_secretary"] = adopt("first_secretary")

    # community type: a score per village that rises with the township's progress
    z = rng.standard_normal(V)
    score = vcol(z) + TYPE_DRIFT * col(town_L("community"))
    ctype = np.searchsorted(np.array(TYPE_CUTS), score)            # 0 薄弱 … 3 示范
    vil["community_type"] = np.array(_VILLAGE_ENUMS["community_type"], dtype=object)[ctype]

    # demonstration villages (designated by the city plan; the best-scored villages first)
    ranked = list(np.argsort(-z, kind="stable"))
    levels = _VILLAGE_ENUMS["demo_village_level"]
    demo = np.zeros((T, V), dtype=int)
    for code, rank, tq, level in plan["village_events"]:
        if code != town["code"] or rank >= V:
            continue
        j = ranked[rank]
        demo[tq:, j] = np.maximum(demo[tq:, j], levels.index(level))
    vil["demo_village_level"] = np.array(levels, dtype=object)[demo]

    # weak communities helped: about 5 % of villages a year, the weakest first
    help_ = np.zeros((T, V), dtype=bool)
    for y in np.unique(years):
        rows = np.nonzero(years == y)[0]
        k = int(np.floor(V * 0.05 + rng.random()))
        if k:
            noisy = score[rows[0]] + 0.7 * rng.standard_normal(V)
            help_[rows[:, None], np.argsort(noisy)[:k][None, :]] = True
    vil["weak_help_designated"] = help_

    points = adopt("points")
    keeps_points = vcol(rng.random(V) < 0.92)
    vil["points_system"] = points | ((demo > 0) & keeps_points)
    vil["has_legal_adviser"] = adopt("legal_adviser")
    vil["has_legal_service_station"] = adopt("legal_station")
    vil["rule_of_law_demo"] = adopt("rule_of_law")

    # a few blanks (未填报) in the first year, never in a field a rule pairs with another
    blank = (rng.random((T, V, 4)) < 0.01) & (t_idx <= 5)[:, None, None]
    for k, f in enumerate(("social_orgs", "volunteers", "social_work_professionals", "community_social_workers")):
        vil[f] = np.where(blank[:, :, k], np.nan, vil[f])

    remarks = np.full((T, V), None, dtype=object)
    built = platform & ~np.vstack([platform[:1], platform[:-1]])
    built[0] = False
    remarks[built & (rng.random((T, V)) < 0.6)] = "本季度建成村级综合服务平台"
    promoted = (demo > 0) & (demo != np.vstack([demo[:1] * 0, demo[:-1]]))
    for tq, j in zip(*np.nonzero(promoted)):
        remarks[tq, j] = f"本季度命名为{levels[demo[tq, j]]}乡村治理示范村"
    vil["remarks"] = remarks

    # ---- the township sheet
    tw: dict[str, np.ndarray] = {}
    tw["township_code"] = np.array([town["code"]] * T, dtype=object)
    u = plan["town_u"][town["code"]]
    tw["has_sw_station"] = u["sw_station"] * 100 < share("sw_station")
    tw["judicial_office_standardised"] = u["judicial"] * 100 < share("judicial")
    tw["has_gov_service_centre"] = u["gov_centre"] * 100 < share("gov_centre")
    town_levels = _TOWN_ENUMS["demo_town_level"]
    tlevel = np.zeros(T, dtype=int)
    for code, tq, level in plan["town_events"]:
        if code == town["code"]:
            tlevel[tq:] = np.maximum(tlevel[tq:], town_levels.index(level))
    tw["demo_town_level"] = np.array(town_levels, dtype=object)[tlevel]
    total_pop = reg.sum(axis=1)
    members = np.round(total_pop * rng.uniform(0.026, 0.034) * (1 + 0.008 * (t_idx / 4))
                       * np.exp(np.cumsum(0.002 * rng.standard_normal(T))))
    tw["party_members"] = members
    young = rng.uniform(0.15, 0.20) + 0.003 * rng.standard_normal(T) - rng.uniform(0, 0.002) * t_idx / 4
    tw["party_members_under_35"] = np.round(members * young)
    college = _curve(town_L("college"), town_start("college"), *PATHS["college"][1:]) / 100
    tw["party_members_college"] = np.round(members * college)

    # arrivals: on time between the 1st and the 15th of the month after the quarter, or late
    _, _, p_missing, p_late = PACES[kind]
    arrival: list[dt.datetime | None] = []
    missing = rng.random(T) < p_missing
    late = rng.random(T) < p_late
    day = rng.integers(1, 16, T)
    late_by = rng.integers(1, 41, T)
    hour, minute = rng.integers(8, 18, T), rng.integers(0, 60, T)
    for i, p in enumerate(PERIODS):
        if missing[i] and not _protected(town["code"], p):
            arrival.append(None)
            continue
        nxt = period_bounds(p)[1] + dt.timedelta(days=1)
        when = dt.date(nxt.year, nxt.month, 15) + dt.timedelta(days=int(late_by[i])) if late[i] \
            else dt.date(nxt.year, nxt.month, int(day[i]))
        arrival.append(dt.datetime(when.year, when.month, when.day, int(hour[i]), int(minute[i])))

    # report dates: half-year (Q2 and Q3 returns) and year-end (Q4 and next Q1 returns)
    half = np.full(T, None, dtype=object)
    year_end = np.full(T, None, dtype=object)
    late_p = {"ahead": 0.05, "on_track": 0.12, "behind": 0.3, "stalling": 0.4}[kind]
    for y in range(int(years[0]) - 1, int(years[-1]) + 1):
        h_late, e_late = rng.random() < late_p, rng.random() < late_p
        h = dt.date(y, 7, int(rng.integers(6, 26))) if h_late else dt.date(y, 6, 25) + dt.timedelta(int(rng.integers(0, 11)))
        e = dt.date(y + 1, 1, int(rng.integers(6, 26))) if e_late else dt.date(y, 12, 26) + dt.timedelta(int(rng.integers(0, 10)))
        for i, p in enumerate(PERIODS):
            py, pq = years[i], qs[i]
            sent = arrival[i] is None or arrival[i].date() >= (h if pq == 2 else e)
            if py == y and (pq == 3 or (pq == 2 and sent)):
                half[i] = h
            if (py == y and pq == 4 and sent) or (py == y + 1 and pq == 1):
                year_end[i] = e
    tw["half_year_report_date"] = half
    tw["year_end_report_date"] = year_end

    return TownshipSim(town["code"], town["name"], town["parent_code"], kind, pace,
                       [(v["code"], v["name"]) for v in villages], L, vil, tw, arrival)


def _protected(township: str, period: str) -> bool:
    """Returns that always arrive: those the committed and broken samples are made from."""
    if period == SAMPLE_PERIOD and township[:6] == SAMPLE_COUNTY[:6]:
        return True
    keep = {(t, p) for t, p, _, _ in EXTRA_SAMPLES} | {BAD_BASE, (BAD_BASE[0], "2025Q3")}
    return (township, period) in keep


# ============================================================================ writing returns

def _stamp(period: str, when: dt.datetime | None) -> dt.datetime:
    """The time a return was saved: its arrival, else 9:00 on the 5th of the month after the quarter."""
    if when is not None:
        return when
    nxt = period_bounds(period)[1] + dt.timedelta(days=1)
    return dt.datetime(nxt.year, nxt.month, 5, 9, 0)


def _stable_zip(data: bytes, when: dt.datetime) -> bytes:
    """The same .xlsx with every zip entry and the document properties dated ``when``, so the
    same values always give the same bytes (openpyxl stamps the current time)."""
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:(created|modified)\b[^>]*>)[^<]*(</dcterms:\2>)",
                              lambda m: m.group(1) + stamp + m.group(3), body)
            zi = zipfile.ZipInfo(info.filename, date_time=when.timetuple()[:6])
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            dst.writestr(zi, body)
    return out.getvalue()


def return_filename(township: str, name: str, period: str, suffix: str = ".xlsx", tag: str = "") -> str:
    """``{code}_{name}_{period}{tag}{suffix}`` — the template's file name with another suffix."""
    from pipelines.ingest.template import template_filename
    return Path(template_filename(township, name, period)).stem + tag + suffix


def write_return(con: duckdb.DuckDBPyConnection, township: str, period: str, values: dict[str, Any], path: Path,
                 *, encoding: str = "utf-8-sig", written_at: dt.datetime | None = None, lite: bool = False) -> Path:
    """Write the return of ``township`` for ``period`` holding ``values`` (``Simulation.values``)
    to ``path``, in the format its suffix names:

    - ``.xlsx``: the real template (``pipelines.ingest.template.write_township_template``) filled in
      with openpyxl — validations, protection and hidden rows kept; with ``lite=True`` instead a
      plain workbook of the same layout (no styles, validations or 填报说明; ~15× faster);
    - ``.csv``: the 村级情况 sheet as Excel's "save as CSV" writes it (header block, header row,
      field-id row, data rows, footer), in ``encoding`` (``utf-8-sig`` or ``gbk``);
    - ``.xls``: the .xlsx converted by LibreOffice (``soffice`` must be installed).

    ``written_at`` dates the file (default: the 5th of the month after the quarter); the same
    arguments always give the same bytes (.xls aside: LibreOffice stamps its own time).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    when = _stamp(period, written_at)
    if suffix == ".xlsx":
        data = _lite_xlsx(con, township, period, values, when) if lite else _filled_template(con, township, period, values, when)
        return atomic_write(path, data)
    if suffix == ".csv":
        return atomic_write(path, _csv_bytes(con, township, period, values, encoding))
    if suffix == ".xls":
        return _xls(con, township, period, values, path, when)
    raise ValueError(f"unsupported return format {path.suffix!r} (.xlsx, .csv, .xls)")


def _cell_value(v: Any) -> Any:
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _filled_template(con, township: str, period: str, values: dict[str, Any], when: dt.datetime) -> bytes:
    import openpyxl
    from pipelines.ingest.template import write_township_template

    with tempfile.TemporaryDirectory() as tmp:
        blank = write_township_template(con, township, period, Path(tmp) / "blank.xlsx")
        wb = openpyxl.load_workbook(blank)
    meta_cells = {str(r[0].value): r[1] for r in wb["_meta"].iter_rows(max_col=2) if r[0].value}
    meta = {k: str(c.value) for k, c in meta_cells.items()}
    meta_cells["generated_at"].value = when.replace(tzinfo=TZ).isoformat(timespec="seconds")
    for key, rows in (("village", values["village"]), ("township", [values["township"]])):
        ws = wb[meta[f"{key}_sheet"]]
        ids = {c.value: c.column for c in ws[int(meta[f"{key}_id_row"])] if c.value}
        first, last = int(meta[f"{key}_first_row"]), int(meta[f"{key}_last_row"])
        anchor = "village_code" if key == "village" else "township_code"
        row_of = {str(ws.cell(r, ids[anchor]).value): r for r in range(first, last + 1)}
        for rec in rows:
            r = row_of.get(str(rec[anchor]))
            if r is None:
                raise ValueError(f"{rec[anchor]} 不在 {township} {period} 的报表模板中")
            for fid, v in rec.items():
                if fid in ids and fid not in (anchor, "village_name"):
                    ws.cell(r, ids[fid]).value = _cell_value(v)
    wb.properties.created = when
    wb.properties.creator = "rural-targets 示例数据"
    out = io.BytesIO()
    wb.save(out)
    return _stable_zip(out.getvalue(), when)


def _layout(con, township: str, period: str, values: dict[str, Any]) -> dict[str, Any]:
    """What the header block says, shared by the CSV and lite writers."""
    from pipelines.registry.load import get_unit
    from pipelines.ingest.template import FOOTER, ISSUER, TITLE

    unit = get_unit(con, township)
    return {"unit": unit, "unit_text": f"{unit['name']}({unit['code']})", "title": TITLE, "issuer": ISSUER,
            "footer": FOOTER, "label": period_label(period)}


def _sheet_rows(spec, lay: dict[str, Any], rows: list[dict[str, Any]]) -> tuple[list[list[Any]], dict[str, int]]:
    """The cells of one data sheet as the template lays it out (rows 1–5 header, data from 6)."""
    n = len(spec.fields)
    mid = max(1, n // 2)
    pad = lambda *cells: list(cells) + [None] * (n - len(cells))  # noqa: E731
    grid = [
        pad(f"{lay['title']}({spec.title})"),
        pad(*([f"表号:{spec.form_no}"] + [None] * (mid - 1) + [f"制定机关:{lay['issuer']}"])),
        pad(*([f"填报单位:{lay['unit_text']}"] + [None] * (mid - 1) + [f"报告期:{lay['label']}"])),
        [f.header for f in spec.fields],
        [f.id for f in spec.fields],
    ]
    grid += [[_cell_value(rec.get(f.id)) for f in spec.fields] for rec in rows]
    first, last = 6, 5 + len(rows)
    grid += [pad(), pad(lay["footer"])]
    return grid, {"header_row": 4, "id_row": 5, "first_row": first, "last_row": last, "footer_row": last + 2}


def _csv_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def _csv_bytes(con, township: str, period: str, values: dict[str, Any], encoding: str) -> bytes:
    spec = catalog().sheets["village"]
    grid, _ = _sheet_rows(spec, _layout(con, township, period, values), values["village"])
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    for row in grid:
        writer.writerow([_csv_text(v) for v in row])
    return buf.getvalue().encode(encoding)


def _lite_xlsx(con, township: str, period: str, values: dict[str, Any], when: dt.datetime) -> bytes:
    """The return as a plain .xlsx in the template's layout (same sheets, rows, hidden id row and
    ``_meta``), without styles, validations or 填报说明 — written directly as SpreadsheetML."""
    from pipelines import __version__
    from pipelines.ingest.template import due_date

    cat = catalog()
    lay = _layout(con, township, period, values)
    meta: list[tuple[str, str]] = [
        ("template_version", cat.template_version), ("township_code", township),
        ("township_name", lay["unit"]["name"]), ("county_code", str(lay["unit"].get("parent_code") or "")),
        ("period", period), ("due_date", due_date(period).isoformat()),
        ("generated_at", when.replace(tzinfo=TZ).isoformat(timespec="seconds")),
        ("generator", f"rural-targets {__version__} (示例数据)"),
    ]
    sheets: list[tuple[str, str, bool]] = []
    for key, rows in (("village", values["village"]), ("township", [values["township"]])):
        spec = cat.sheets[key]
        grid, rows_at = _sheet_rows(spec, lay, rows)
        sheets.append((spec.title, _sheet_xml(grid, hidden_rows={rows_at["id_row"]}), False))
        meta.append((f"{key}_sheet", spec.title))
        meta.extend((f"{key}_{k}", str(v)) for k, v in rows_at.items())
    sheets.append(("_meta", _sheet_xml([list(kv) for kv in meta]), True))
    return _xlsx_package(sheets, when)


_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_EXCEL_EPOCH = dt.date(1899, 12, 30)


def _esc(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;"))


def _sheet_xml(grid: list[list[Any]], hidden_rows: set[int] = frozenset()) -> str:
    """One worksheet: text as inline strings, numbers, dates as serials in the yyyy-mm-dd style."""
    out = [_XML, f'<worksheet xmlns="{_MAIN}"><sheetData>']
    for r, row in enumerate(grid, start=1):
        out.append(f'<row r="{r}"' + (' hidden="1"' if r in hidden_rows else "") + ">")
        for c, v in enumerate(row):
            if v is None or v == "":
                continue
            ref = f"{column_letter(c)}{r}"
            if isinstance(v, bool):
                out.append(f'<c r="{ref}" t="b"><v>{int(v)}</v></c>')
            elif isinstance(v, (int, float)):
                out.append(f'<c r="{ref}"><v>{v!r}</v></c>')
            elif isinstance(v, dt.date):
                out.append(f'<c r="{ref}" s="1"><v>{(v - _EXCEL_EPOCH).days}</v></c>')
            else:
                text = _esc(str(v))
                space = ' xml:space="preserve"' if text != text.strip() else ""
                out.append(f'<c r="{ref}" t="inlineStr"><is><t{space}>{text}</t></is></c>')
        out.append("</row>")
    out.append("</sheetData></worksheet>")
    return "".join(out)


def _xlsx_package(sheets: list[tuple[str, str, bool]], when: dt.datetime) -> bytes:
    """A minimal, valid .xlsx holding ``sheets`` (name, worksheet XML, hidden)."""
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    n = len(sheets)
    parts = {
        "[Content_Types].xml": _XML + (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            + "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
                      'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                      for i in range(1, n + 1))
            + '<Override PartName="/xl/styles.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            '<Override PartName="/docProps/core.xml" '
            'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/></Types>'),
        "_rels/.rels": _XML + (
            f'<Relationships xmlns="{_PKG}">'
            f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/'
            'core-properties" Target="docProps/core.xml"/></Relationships>'),
        "docProps/core.xml": _XML + (
            '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:creator>rural-targets 示例数据</dc:creator>'
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{stamp}</dcterms:created>'
            f'<dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}</dcterms:modified></cp:coreProperties>'),
        "xl/workbook.xml": _XML + (
            f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><bookViews><workbookView/></bookViews><sheets>'
            + "".join(f'<sheet name="{_esc(name)}" sheetId="{i}"' + (' state="hidden"' if hidden else "")
                      + f' r:id="rId{i}"/>' for i, (name, _, hidden) in enumerate(sheets, start=1))
            + "</sheets></workbook>"),
        "xl/_rels/workbook.xml.rels": _XML + (
            f'<Relationships xmlns="{_PKG}">'
            + "".join(f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
                      for i in range(1, n + 1))
            + f'<Relationship Id="rId{n + 1}" Type="{_REL}/styles" Target="styles.xml"/></Relationships>'),
        "xl/styles.xml": _XML + (
            f'<styleSheet xmlns="{_MAIN}"><numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>'
            '</numFmts><fonts count="1"><font><sz val="11"/><name val="宋体"/></font></fonts>'
            '<fills count="2"><fill><patternFill patternType="none"/></fill>'
            '<fill><patternFill patternType="gray125"/></fill></fills>'
            '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
            '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
            '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'),
    }
    for i, (_, xml, _) in enumerate(sheets, start=1):
        parts[f"xl/worksheets/sheet{i}.xml"] = xml
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in parts.items():
            zi = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            zf.writestr(zi, text.encode("utf-8"))
    return out.getvalue()


def soffice() -> str | None:
    """The LibreOffice executable, or None."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def _xls(con, township: str, period: str, values: dict[str, Any], path: Path, when: dt.datetime) -> Path:
    exe = soffice()
    if exe is None:
        raise RuntimeError("LibreOffice (soffice) 未安装,无法生成 .xls")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / (path.stem + ".xlsx")
        atomic_write(src, _filled_template(con, township, period, values, when))
        home = Path(tmp) / "home"
        home.mkdir()
        subprocess.run([exe, "--headless", "--convert-to", "xls", "--outdir", str(Path(tmp) / "out"), str(src)],
                       env={**os.environ, "HOME": str(home)}, check=True, capture_output=True, timeout=180)
        return atomic_write(path, (Path(tmp) / "out" / (path.stem + ".xls")).read_bytes())


# ============================================================================ the files of the samples

@dataclass(frozen=True)
class SampleFile:
    """One committed sample return (data/samples/returns)."""

    township: str
    period: str
    suffix: str
    encoding: str | None
    name: str

    @property
    def path(self) -> Path:
        return RETURNS_DIR / self.name  # the module's RETURNS_DIR at call time (tests may point it elsewhere)


def committed_samples(sim: Simulation) -> list[SampleFile]:
    """The committed samples: every township of ``SAMPLE_COUNTY`` in ``SAMPLE_PERIOD`` as the
    real template (.xlsx), and ``EXTRA_SAMPLES`` (.xls from LibreOffice, CSV in UTF-8 and GBK)."""
    out = []
    for code in sorted(c for c in sim.townships if c[:6] == SAMPLE_COUNTY[:6]):
        out.append(SampleFile(code, SAMPLE_PERIOD, ".xlsx", None,
                              return_filename(code, sim.townships[code].name, SAMPLE_PERIOD)))
    for code, period, suffix, encoding in EXTRA_SAMPLES:
        tag = "_GBK" if encoding == "gbk" else ""
        out.append(SampleFile(code, period, suffix, encoding,
                              return_filename(code, sim.townships[code].name, period, suffix, tag)))
    return out


def write_sample(con: duckdb.DuckDBPyConnection, sim: Simulation, sample: SampleFile, out_dir: Path) -> Path:
    """Write one committed sample into ``out_dir``."""
    return write_return(con, sample.township, sample.period, sim.values(sample.township, sample.period),
                        Path(out_dir) / sample.name, encoding=sample.encoding or "utf-8-sig",
                        written_at=sim.arrival(sample.township, sample.period))


def write_committed_samples(con: duckdb.DuckDBPyConnection, out_dir: Path = RETURNS_DIR,
                            sim: Simulation | None = None) -> list[Path]:
    """(Re)write data/samples/returns: the sample files and their README (.xls needs LibreOffice)."""
    sim = sim or simulate(con)
    out_dir = Path(out_dir)
    samples = committed_samples(sim)
    paths = [write_sample(con, sim, s, out_dir) for s in samples]
    readme = out_dir / "README.md"
    readme.write_text(_returns_readme(sim, samples), encoding="utf-8")
    return paths + [readme]


def _returns_readme(sim: Simulation, samples: list[SampleFile]) -> str:
    county = {c: t.name for c, t in sim.townships.items()}
    kind_zh = {".xlsx": "Excel 模板(.xlsx)", ".xls": "Excel 97-2003(.xls,由 LibreOffice 转换)",
               ".csv": "CSV"}
    lines = [
        "# 示例报表(合成数据)",
        "",
        "**合成数据,非真实报表。** 示例市(439900000000)各乡镇的季度报表,数值由 `pipelines/samples/returns.py` "
        f"按固定随机种子 {sim.seed} 模拟生成,供试用导入(`rural-targets ingest 文件`)和演示。",
        "",
        "`rural-targets init` 会导入这里的文件,其余乡镇和季度(2018年第4季度至2025年第4季度)的报表"
        "由同一模拟程序生成到 `data/generated/returns/`(不提交到代码库,缺失或模拟程序变化时自动重新生成)。",
        "",
        "| 文件 | 乡镇 | 报告期 | 格式 |",
        "|---|---|---|---|",
    ]
    for s in samples:
        fmt = kind_zh[s.suffix]
        if s.suffix == ".csv":
            fmt = "CSV(GBK 编码,仅村级情况表)" if s.encoding == "gbk" else "CSV(UTF-8 带 BOM,仅村级情况表)"
        lines.append(f"| `{s.name}` | {county[s.township]} | {period_label(s.period)} | {fmt} |")
    lines += [
        "",
        "CSV 文件相当于在 Excel 中把“村级情况”表“另存为 CSV”:表头、隐藏的字段编号行和各村数据都在,"
        "但没有“乡镇情况”表(导入后乡镇本身的指标为未填报)。",
        "",
        "请勿手工修改本目录:测试会用模拟程序重新生成同样的数值并与这些文件逐项比较。重新生成(.xls 需要 LibreOffice):",
        "",
        "```",
        "python -m pipelines.samples.returns returns",
        "```",
        "",
        "出错的示例报表见 `../bad/`。",
        "",
    ]
    return "\n".join(lines)


# ============================================================================ the generated history

def _manifest_key(sim: Simulation, skip: set[tuple[str, str]]) -> dict[str, Any]:
    cat = catalog()
    fields = [(k, [f.model_dump() for f in cat.sheets[k].fields]) for k in ("village", "township")]
    return {"seed": sim.seed, "generator_version": GENERATOR_VERSION, "template_version": cat.template_version,
            "fields": hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest(),
            "values": sim.fingerprint(), "skip": sorted(f"{t} {p}" for t, p in skip)}


def ensure_generated(con: duckdb.DuckDBPyConnection, sim: Simulation, out_dir: Path = GENERATED_DIR,
                     skip: set[tuple[str, str]] = frozenset(),
                     progress: Callable[[int, int], None] | None = None) -> tuple[dict[tuple[str, str], Path], int]:
    """The generated return of every (township, period) that arrived, except ``skip``, under
    ``out_dir``: written only when missing or when the simulation, the generator or the catalog
    changed (``manifest.json`` records what they were). Returns the paths and how many were written."""
    out_dir = Path(out_dir)
    key = _manifest_key(sim, set(skip))
    wanted = {(t, p): out_dir / return_filename(t, sim.townships[t].name, p)
              for t, p, _ in sim.returns() if (t, p) not in skip}
    manifest = out_dir / "manifest.json"
    try:
        current = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        current = None
    if current == key and all(p.is_file() for p in wanted.values()):
        return wanted, 0
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest.unlink(missing_ok=True)
    keep = {p.name for p in wanted.values()}
    for old in out_dir.iterdir():  # files of an earlier generation
        if re.fullmatch(r"\d{12}_.+_\d{4}Q[1-4]\.(xlsx|csv)(\.part)?", old.name) and old.name not in keep:
            old.unlink()
    for i, ((t, p), path) in enumerate(sorted(wanted.items(), key=lambda kv: (kv[0][1], kv[0][0])), start=1):
        write_return(con, t, p, sim.values(t, p), path, written_at=sim.arrival(t, p), lite=True)
        if progress:
            progress(i, len(wanted))
    manifest.write_text(json.dumps(key, ensure_ascii=False, indent=1), encoding="utf-8")
    return wanted, len(wanted)


# ============================================================================ broken samples

@dataclass
class _Bad:
    """What a maker of a broken sample needs: the base workbook and where things are."""

    wb: Any
    meta: dict[str, str]
    village: Any                      # the 村级情况 worksheet
    township: Any                     # the 乡镇情况 worksheet
    col: dict[str, str]               # village field → column letter
    tcol: dict[str, str]              # township field → column letter
    first: int
    last: int
    values: dict[str, Any]
    other: tuple[dict[str, Any], str, str]  # a village of another township: values, code, name

    def ref(self, fid: str, row: int | None = None, sheet: str = "village") -> str:
        col = (self.col if sheet == "village" else self.tcol)[fid]
        title = catalog().sheets[sheet].title
        return f"{title}!{col}{row or self.first}"


def _bad_cases() -> list[dict[str, Any]]:
    """Every broken sample: file name, expected problem, what is wrong (Chinese), and a maker
    ``make(b) -> bytes | None`` (None: the workbook ``b.wb`` as edited is saved)."""
    V, T = "村级情况", "乡镇情况"

    def set_cell(fid: str, value: Any, row: int | None = None):
        def make(b: _Bad) -> None:
            b.village[f"{b.col[fid]}{row or b.first}"].value = value
        return make

    def not_a_return(b: _Bad) -> bytes:
        from openpyxl import Workbook
        wb = Workbook()
        ws = wb.active
        ws.title = "通讯录"
        ws.append(["乡镇民政办通讯录"])
        ws.append(["姓名", "职务", "办公电话", "手机"])
        for name, job, tel in (("张明", "民政办主任", "0736-7321001"), ("李芳", "统计员", "0736-7321002"),
                               ("王强", "社工站站长", "0736-7321003")):
            ws.append([name, job, tel, "138" + tel[-8:]])
        return _save(wb)

    def old_version(b: _Bad) -> None:
        _meta_cell(b.wb, "template_version").value = "2023.1"

    def no_period(b: _Bad) -> None:
        del b.wb["_meta"]
        for name in list(b.wb.defined_names):
            del b.wb.defined_names[name]
        for row in b.village.iter_rows(max_row=b.first - 1):
            for c in row:
                if isinstance(c.value, str) and c.value.startswith("报告期"):
                    c.value = "报告期:"

    def unknown_township(b: _Bad) -> None:
        b.township[f"{b.tcol['township_code']}{b.first}"].value = "439921110000"

    def corrupt(b: _Bad) -> bytes:
        return _save(b.wb)[:4096]

    def no_rows(b: _Bad) -> None:
        for r in range(b.first, b.last + 1):
            for c in b.village[r]:
                c.value = None

    def no_township_sheet(b: _Bad) -> None:
        del b.wb[T]

    def drop_column(fid: str):
        def make(b: _Bad) -> None:
            from openpyxl.utils import column_index_from_string
            b.village.delete_cols(column_index_from_string(b.col[fid]))
        return make

    def eco_over(b: _Bad) -> None:
        burials = b.values["village"][0]["burials"]
        b.village[f"{b.col['eco_burials']}{b.first}"].value = burials + 2

    def extra_row(kind: str):
        def make(b: _Bad) -> None:
            r = b.last + 1
            if kind == "other":
                rec, code, name = b.other
                rec = {**rec, "village_code": code, "village_name": name}
            elif kind == "duplicate":
                rec = b.values["village"][0]
            else:  # totals
                rec = {"village_code": "合计"}
                for f in catalog().sheets["village"].fields:
                    if f.type in ("int", "number"):
                        rec[f.id] = sum(v[f.id] or 0 for v in b.values["village"])
            for fid, v in rec.items():
                if fid in b.col:
                    b.village[f"{b.col[fid]}{r}"].value = _cell_value(v)
        return make

    def clear_row(b: _Bad) -> None:
        for c in b.village[b.last]:
            c.value = None

    def merge(b: _Bad) -> None:
        col = b.col["social_orgs"]
        b.village.merge_cells(f"{col}{b.first}:{col}{b.first + 1}")

    def hide_row(b: _Bad) -> None:
        b.village.row_dimensions[b.first + 1].hidden = True

    def rename(b: _Bad) -> None:
        cell = b.village[f"{b.col['village_name']}{b.first}"]
        cell.value = f"{cell.value}委会"

    def tenfold(b: _Bad) -> None:
        cell = b.village[f"{b.col['social_orgs']}{b.first}"]
        cell.value = cell.value * 10

    def town_cell(fid: str, value: Any):
        def make(b: _Bad) -> None:
            b.township[f"{b.tcol[fid]}{b.first}"].value = value
        return make

    lambda fid: lambda b: b.ref(fid)  # noqa: E731 - the cell of the first village
    return [
        dict(file="ING001_不是报表.xlsx", code="ING001", make=not_a_return, where=None,
             defect="一个与报表无关的工作簿(通讯录),没有“村级情况”表"),
        dict(file="GEN003_报表截图.pdf", code="GEN003", make=lambda b: b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n",
             where=None, defect="不是 Excel 或 CSV 文件(PDF)"),
        dict(file="ING002_旧版模板.xlsx", code="ING002", make=old_version, where=None,
             defect="隐藏的 _meta 表中模板版本为 2023.1(旧版模板)"),
        dict(file="ING003_缺少报告期.xlsx", code="ING003", make=no_period, where=None,
             defect="删除了隐藏的 _meta 表,表头“报告期:”后面的季度也被删掉"),
        dict(file="ING004_乡镇代码有误.xlsx", code="ING004", make=unknown_township,
             where=lambda b: (T, b.ref("township_code", sheet="township"), "township_code"),
             defect="乡镇情况表的乡镇代码写成 439921110000(名录中没有这个乡镇)"),
        dict(file="ING005_439921100000_2025Q3.xlsx", code="ING005", make=lambda b: None, where=None,
             defect="文件名写的是另一个乡镇(仁井镇 439921100000)和另一个季度(2025Q3),表内是黄嘴镇 2025Q4;"
                    "按表内内容导入,并提示"),
        dict(file="ING006_文件损坏.xlsx", code="ING006", make=corrupt, where=None,
             defect="只有前 4096 字节的 .xlsx(传输中断),无法打开"),
        dict(file="ING007_没有村数据.xlsx", code="ING007", make=no_rows, where=lambda b: (V, None, None),
             defect="村级情况表的数据行全部被清空"),
        dict(file="ING008_缺少乡镇情况表.xlsx", code="ING008", make=no_township_sheet, where=None,
             defect="删除了“乡镇情况”工作表;村级数据照常导入,乡镇本身的指标按未填报处理"),
        dict(file="ING009_缺少备注列.xlsx", code="ING009", make=drop_column("remarks"),
             where=lambda b: (V, None, "remarks"), defect="删除了“备注”列(非必填列),该列按未填报处理"),
        dict(file="ING010_数字格填了文字.xlsx", code="ING010", make=set_cell("population_resident", "不详"),
             where=lambda b: (V, b.ref("population_resident"), "population_resident"),
             defect="第一个村的常住人口填成“不详”"),
        dict(file="ING011_人数带小数.xlsx", code="ING011", make=set_cell("social_orgs", 3.5),
             where=lambda b: (V, b.ref("social_orgs"), "social_orgs"), defect="第一个村的社区社会组织数填成 3.5"),
        dict(file="ING012_负数.xlsx", code="ING012", make=set_cell("elder_care_beds", -3),
             where=lambda b: (V, b.ref("elder_care_beds"), "elder_care_beds"), defect="第一个村的养老床位数填成 -3"),
        dict(file="ING013_是否栏填写有误.xlsx", code="ING013", make=set_cell("has_elder_association", "已建立"),
             where=lambda b: (V, b.ref("has_elder_association"), "has_elder_association"),
             defect="第一个村“是否建立老年协会”填成“已建立”(应为 是/否)"),
        dict(file="ING014_类型不在选项中.xlsx", code="ING014", make=set_cell("community_type", "完善"),
             where=lambda b: (V, b.ref("community_type"), "community_type"),
             defect="第一个村的农村社区建设类型填成“完善”(应为“完善型”)"),
        dict(file="ING015_日期无法识别.xlsx", code="ING015", make=town_cell("year_end_report_date", "12月下旬"),
             where=lambda b: (T, b.ref("year_end_report_date", sheet="township"), "year_end_report_date"),
             defect="乡镇情况表的年终工作总结报送日期填成“12月下旬”"),
        dict(file="ING016_必填项为空.xlsx", code="ING016", make=set_cell("population_registered", None),
             where=lambda b: (V, b.ref("population_registered"), "population_registered"),
             defect="第一个村的户籍人口(必填)为空"),
        dict(file="ING017_村代码格式错误.xlsx", code="ING017", make=lambda b: _retype_code(b, "O"),
             where=lambda b: (V, b.ref("village_code"), "village_code"),
             also=["ING033"], defect="第一个村的代码最后一位数字 0 打成了字母 O(因此该村也算缺行:ING033)"),
        dict(file="ING019_缺少必填列.xlsx", code="ING019", make=drop_column("households"),
             where=lambda b: (V, None, "households"), defect="删除了“户数”列(必填列)"),
        dict(file="ING020_生态安葬多于安葬总数.xlsx", code="ING020", make=eco_over,
             where=lambda b: (V, b.ref("eco_burials"), "eco_burials"),
             defect="第一个村的节地生态安葬数比本季度安葬总数多 2 例"),
        dict(file="ING021_缺平台面积.xlsx", code="ING021", make=set_cell("platform_area_m2", None),
             where=lambda b: (V, b.ref("platform_area_m2"), "platform_area_m2"),
             defect="第一个村已建综合服务平台,但平台建筑面积为空"),
        dict(file="ING030_村代码不在名录.xlsx", code="ING030", make=lambda b: _retype_code(b, "999"),
             where=lambda b: (V, b.ref("village_code"), "village_code"),
             also=["ING033"], defect="第一个村的代码改成名录中没有的 …999(因此该村也算缺行:ING033)"),
        dict(file="ING031_混入外乡镇的村.xlsx", code="ING031", make=extra_row("other"),
             where=lambda b: (V, b.ref("village_code", b.last + 1), "village_code"),
             defect="表末多了一行仁井镇的村(从邻近乡镇的报表粘贴过来)"),
        dict(file="ING032_重复的村.xlsx", code="ING032", make=extra_row("duplicate"),
             where=lambda b: (V, b.ref("village_code", b.last + 1), "village_code"),
             defect="表末把第一个村又粘贴了一遍"),
        dict(file="ING033_缺少一个村.xlsx", code="ING033", make=clear_row,
             where=lambda b: (V, None, "village_code"), defect="最后一个村的整行被清空"),
        dict(file="ING034_村名与名录不符.xlsx", code="ING034", make=rename,
             where=lambda b: (V, b.ref("village_name"), "village_name"),
             defect="第一个村的名称后面多了“委会”;按代码导入,并提示"),
        dict(file="ING035_合计行.xlsx", code="ING035", make=extra_row("totals"),
             where=lambda b: (V, b.ref("village_code", b.last + 1), None),
             defect="表末加了一行“合计”;跳过该行,照常导入,并提示"),
        dict(file="ING036_合并单元格.xlsx", code="ING036", make=merge,
             where=lambda b: (V, b.ref("social_orgs"), "social_orgs"),
             defect="前两个村的社区社会组织数单元格被合并"),
        dict(file="ING037_隐藏行.xlsx", code="ING037", make=hide_row,
             where=lambda b: (V, b.ref("village_code", b.first + 1), None),
             defect="第二个村所在的行被隐藏(数据照常导入,并提示)"),
        dict(file="ING038_公式没有计算结果.xlsx", code="ING038", make=set_cell("social_orgs", "=3+4"),
             where=lambda b: (V, b.ref("social_orgs"), "social_orgs"),
             defect="第一个村的社区社会组织数是公式 =3+4,文件由程序生成、没有保存计算结果"),
        dict(file="ING039_村代码为空.xlsx", code="ING039", make=set_cell("village_code", None),
             where=lambda b: (V, b.ref("village_code"), "village_code"),
             also=["ING033"], defect="第一个村的代码被删除(因此该村也算缺行:ING033)"),
        dict(file="ING040_数值异常变化.xlsx", code="ING040", make=tenfold,
             where=lambda b: (V, b.ref("social_orgs"), "social_orgs"), previous=True,
             defect="第一个村的社区社会组织数多打了一个 0(是上季度的 10 倍);须先导入上一季度的报表才能比较"),
    ]


def _retype_code(b: _Bad, tail: str) -> None:
    cell = b.village[f"{b.col['village_code']}{b.first}"]
    cell.value = str(cell.value)[: 12 - len(tail)] + tail


def _meta_cell(wb, key: str):
    for row in wb["_meta"].iter_rows(max_col=2):
        if row[0].value == key:
            return row[1]
    raise KeyError(key)


def _save(wb, when: dt.datetime | None = None) -> bytes:
    when = when or _stamp(BAD_BASE[1], None)
    wb.properties.created = when
    out = io.BytesIO()
    wb.save(out)
    return _stable_zip(out.getvalue(), when)


def write_bad_samples(con: duckdb.DuckDBPyConnection, out_dir: Path = BAD_DIR,
                      sim: Simulation | None = None) -> list[Path]:
    """(Re)write data/samples/bad: one broken return per problem class, each made from the good
    return ``BAD_BASE`` with exactly one defect, plus ``expected.yaml`` and a README."""
    import openpyxl
    import yaml
    from openpyxl.utils import get_column_letter
    from pipelines.errors import severity_of

    sim = sim or simulate(con)
    town, period = BAD_BASE
    when = _stamp(period, None)
    values = sim.values(town, period)
    base = _filled_template(con, town, period, values, when)
    other_town = sorted(c for c in sim.townships if c[:6] == town[:6] and c != town)[0]
    other = sim.values(other_town, period)["village"][0]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*"):
        if old.is_file() and re.match(r"(ING|GEN)\d{3}_", old.name):
            old.unlink()
    entries, paths = [], []
    for case in _bad_cases():
        wb = openpyxl.load_workbook(io.BytesIO(base))
        meta = {str(r[0].value): str(r[1].value) for r in wb["_meta"].iter_rows(max_col=2) if r[0].value}
        vws, tws = wb[meta["village_sheet"]], wb[meta["township_sheet"]]
        col = {c.value: get_column_letter(c.column) for c in vws[int(meta["village_id_row"])] if c.value}
        tcol = {c.value: get_column_letter(c.column) for c in tws[int(meta["township_id_row"])] if c.value}
        b = _Bad(wb, meta, vws, tws, col, tcol, int(meta["village_first_row"]), int(meta["village_last_row"]),
                 values, (other, other["village_code"], other["village_name"]))
        where = case["where"](b) if case["where"] else (None, None, None)
        data = case["make"](b)
        if data is None:
            data = _save(wb, when)
        paths.append(atomic_write(out_dir / case["file"], data))
        severity = severity_of(case["code"])
        entry = {"file": case["file"], "code": case["code"], "severity": severity, "sheet": where[0],
                 "cell": where[1], "field": where[2], "rejected": severity == "error",
                 "also": case.get("also", []), "defect": case["defect"]}
        if case.get("previous"):
            from pipelines.periods import shift
            entry["previous"] = {"township": town, "period": shift(period, -1),
                                 "note": "先导入该乡镇上一季度的报表(模拟数据),再导入本文件"}
        entries.append(entry)
    doc = {"base": {"township": town, "name": sim.townships[town].name, "period": period,
                    "file": return_filename(town, sim.townships[town].name, period),
                    "note": "每个文件都由这份正确的报表(data/samples/returns/ 中的同名文件)改出一处错误"},
           "files": entries}
    expected = out_dir / "expected.yaml"
    expected.write_text("# 出错的示例报表及导入时应报告的问题(由 pipelines/samples/returns.py 的 write_bad_samples 生成)\n"
                        "# code/severity/sheet/cell/field:该代码的第一个问题;rejected:整个文件是否不予导入;\n"
                        "# also:同一处错误连带出的其他问题代码(除此之外不应报告别的问题)\n"
                        + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=200), encoding="utf-8")
    readme = out_dir / "README.md"
    readme.write_text(_bad_readme(doc), encoding="utf-8")
    return paths + [expected, readme]


def _bad_readme(doc: dict[str, Any]) -> str:
    base = doc["base"]
    lines = [
        "# 出错的示例报表(合成数据)",
        "",
        f"每个文件都由一份正确的报表({base['name']} {period_label(base['period'])},`../returns/{base['file']}`)"
        "改出**一处**错误,用来试用和测试导入检查:",
        "",
        "```",
        "rural-targets ingest data/samples/bad/ING020_生态安葬多于安葬总数.xlsx",
        "```",
        "",
        "“错误”使整个文件不予导入(数据库不变);“提示”不影响导入。各文件应报告的问题代码、单元格和字段见 "
        "`expected.yaml`(测试 `tests/test_bad_returns.py` 逐一核对)。",
        "",
        "| 文件 | 问题 | 结果 | 错在哪里 |",
        "|---|---|---|---|",
    ]
    for e in doc["files"]:
        result = "不予导入" if e["rejected"] else "导入,并提示"
        where = e["cell"] or e["sheet"] or "整个文件"
        lines.append(f"| `{e['file']}` | {e['code']}({where}) | {result} | {e['defect']} |")
    lines += [
        "",
        "`ING040` 是与上一季度比较得出的提示:只有数据库中已有该乡镇上一季度(2025年第3季度)的报表时才会出现"
        "(`rural-targets init` 建立的示例数据库中已有)。在示例数据库中导入“导入,并提示”的文件,会替换黄嘴镇"
        "2025年第4季度的报送;再运行一次 `rural-targets init` 不会改回(保留他人上传的版本),可删除数据库后重建。",
        "",
        "重新生成:`python -m pipelines.samples.returns bad`。请勿手工修改。",
        "",
    ]
    return "\n".join(lines)


# ============================================================================ command line

def main(argv: list[str] | None = None) -> int:
    """``python -m pipelines.samples.returns returns|bad|generated [-o DIR]``: rewrite the samples."""
    import argparse
    from pipelines.store.db import connect
    from pipelines.samples.init import init_database

    p = argparse.ArgumentParser(prog="python -m pipelines.samples.returns",
                                description="重新生成示例报表(合成数据)。")
    p.add_argument("what", choices=["returns", "bad", "generated"])
    p.add_argument("-o", "--output", metavar="DIR")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        con = connect(Path(tmp) / "registry.duckdb")
        init_database(con, progress=False, returns=False)
        sim = simulate(con)
        if args.what == "returns":
            paths = write_committed_samples(con, Path(args.output or RETURNS_DIR), sim)
        elif args.what == "bad":
            paths = write_bad_samples(con, Path(args.output or BAD_DIR), sim)
        else:
            paths = list(ensure_generated(con, sim, Path(args.output or GENERATED_DIR))[0].values())
        con.close()
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
