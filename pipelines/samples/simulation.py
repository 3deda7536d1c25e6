"""The seeded simulation of the sample city's (示例市) quarterly returns.

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
same seed and registry always give the same values. The model of one township lives in
``pipelines.samples.trajectories``; this module plays the whole city, decides what is designated
above the township, and answers ``Simulation.values(township, period)`` for the writers
(``pipelines.samples.writers``).
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np

from pipelines.catalog.definitions import catalog
from pipelines.periods import shift
from pipelines.samples.trajectories import LAST_PERIOD, PERIODS, TownshipSim, pace_kinds, simulate_township

SEED = 20181120
CITY = "439900000000"

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

VILLAGE_FIELDS = [f.id for f in catalog().sheets["village"].fields]
TOWNSHIP_FIELDS = [f.id for f in catalog().sheets["township"].fields]


@dataclass
class Simulation:
    """Every township of the city over ``periods``, simulated from ``seed``."""

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
        """When the return of ``township`` for ``period`` arrived (None: it never did)."""
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
    """A simulated array element as the plain value a clerk types (是/否, int, float, None)."""
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
    """The city's townships, and the current villages of each, from the registry in ``con``."""
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


def city_plan(rng: np.random.Generator, towns: list[dict], kinds: dict[str, str]) -> dict[str, Any]:
    """Designations decided above the township: demonstration villages (``village_events``:
    township, rank of the village by community score, quarter, level) and towns (``town_events``:
    township, quarter, level), and the thresholds of the township yes/no fields (``town_u``)."""
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
    kinds = dict(zip([t["code"] for t in towns], pace_kinds(city_rng, len(towns))))
    plan = city_plan(city_rng, towns, kinds)
    always = always_arrive([t["code"] for t in towns])
    out = {}
    for t in towns:
        rng = np.random.default_rng([seed, int(t["code"])])
        out[t["code"]] = simulate_township(rng, t, villages.get(t["code"], []), kinds[t["code"]], plan, always)
    return Simulation(seed, list(PERIODS), out)


def always_arrive(townships: list[str]) -> set[tuple[str, str]]:
    """The (township, period) returns that never go missing: those the committed samples
    (``SAMPLE_COUNTY`` in ``SAMPLE_PERIOD``, ``EXTRA_SAMPLES``) and the broken samples
    (``BAD_BASE`` and the quarter before it, for ING040) are made from."""
    keep = {(code, SAMPLE_PERIOD) for code in townships if code[:6] == SAMPLE_COUNTY[:6]}
    keep |= {(t, p) for t, p, _, _ in EXTRA_SAMPLES}
    return keep | {BAD_BASE, (BAD_BASE[0], shift(BAD_BASE[1], -1))}
