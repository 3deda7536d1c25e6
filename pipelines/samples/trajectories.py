"""How one township's return moves through the quarters: the model behind the sample returns.

A township's progress ``L(t)`` is counted in "quarters of on-track work" (``PACES``: ahead, on
track, behind, stalling). An indicator planned to reach its goal ``d`` quarters after 2018Q4
(``PATHS``) stands at ``L(t) / d`` of the way there, then levels off. ``simulate_township`` turns
that into every field of both sheets for every quarter, and the arrival time of each return;
``pipelines.samples.simulation`` plays the whole city and decides what is designated above the
township (demonstration villages and towns).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipelines.catalog.definitions import catalog
from pipelines.periods import parse_period, period_bounds, quarters

FIRST_PERIOD, LAST_PERIOD = "2018Q4", "2025Q4"
PERIODS = quarters(FIRST_PERIOD, LAST_PERIOD)
SEASON = np.array([0.29, 0.24, 0.22, 0.25])  # share of a year's deaths in Q1…Q4

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
    # fields of the plans' added targets (issue 9)
    "disclosure": (40, 100, 8, 100),
    "villager_council": (50, 100, 8, 100),
    "power_list": (20, 100, 16, 100),
    "centralised_office": (60, 100, 8, 100),
    "mediation": (85, 100, 8, 100),
    "seven_ones": (30, 100, 16, 100),
    "logos": (40, 100, 12, 100),
    "three_carriers": (20, 100, 16, 100),
    "sunshine": (20, 100, 12, 100),
    "decision_evaluation": (0, 100, 12, 100),
    "discipline_chair": (30, 100, 16, 100),
    "subcommittees": (10, 100, 24, 100),
    "station_access": (60, 100, 12, 100),
    "leading_body": (40, 100, 10, 100),
    "dedicated_team": (30, 100, 10, 100),
    "governance_funds": (40, 100, 10, 100),
    "public_legal_station": (30, 100, 24, 100),
    "enforcement_team": (10, 100, 20, 100),
}
ELECTION_YEAR = 2021                 # 四川: the committees elected in 2021Q1 (a few late), monitored after 10 days
TYPE_CUTS = (-0.524, 0.842, 2.054)   # community score → 薄弱/提升/完善/示范 (30/50/18/2 % in 2018Q4)
TYPE_DRIFT = 0.058                   # score gained per quarter of on-track work (50 % 完善型+ by 2022Q4)

VILLAGE_ENUMS = {f.id: f.values for f in catalog().sheets["village"].fields if f.type == "enum"}
TOWN_ENUMS = {f.id: f.values for f in catalog().sheets["township"].fields if f.type == "enum"}


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


def pace_kinds(rng: np.random.Generator, n: int) -> list[str]:
    """The pace of each of ``n`` townships, in the shares of ``PACES``, shuffled."""
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


def simulate_township(rng: np.random.Generator, town: dict, villages: list[dict], kind: str,
                      plan: dict[str, Any], always_arrive: set[tuple[str, str]]) -> TownshipSim:
    """Every quarter of one township: its villages' fields, its own sheet and its arrivals.

    ``town`` and ``villages`` are registry rows (code, name, parent_code, population,
    elderly_population); ``kind`` its pace; ``plan`` the designations decided above the township
    (``simulation.city_plan``); returns of ``always_arrive`` (township, period) never go missing.
    """
    T, V = len(PERIODS), len(villages)
    t_idx = np.arange(T)
    years = np.array([parse_period(p)[0] for p in PERIODS])
    qs = np.array([parse_period(p)[1] for p in PERIODS])
    pace, L = _progress(rng, kind, T)
    vcol = lambda a: a[None, :]  # noqa: E731 - (V,) → (1, V)
    col = lambda a: a[:, None]   # noqa: E731 - (T,) → (T, 1)

    # the fields of the plans' added targets draw from a generator of their own, so that adding them
    # left every earlier field, date and arrival of the simulation as it was
    rng2 = np.random.default_rng(rng.bit_generator.seed_seq.spawn(1)[0])

    def town_L(key: str, g: np.random.Generator | None = None) -> np.ndarray:
        """The township's progress on one indicator: its own pace, a little faster or slower."""
        return L * float(np.exp(0.15 * (g or rng).standard_normal()))

    def town_start(key: str, g: np.random.Generator | None = None) -> float:
        s, goal, _, _ = PATHS[key]
        return s + (goal - s) * float(np.clip(0.12 * (g or rng).standard_normal(), -0.3, 0.3))

    def share(key: str, g: np.random.Generator | None = None) -> np.ndarray:
        """The township's share (0–100) of villages that have it, per quarter."""
        s, goal, d, hi = PATHS[key]
        return np.clip(_curve(town_L(key, g), town_start(key, g), goal, d, hi), 0, 100)

    def adopt(key: str, g: np.random.Generator | None = None) -> np.ndarray:
        """(T, V) yes/no: a village has it while the township's share is above its threshold
        (thresholds stratified, so the township's share follows its curve closely)."""
        g = g or rng
        u = (g.permutation(V) + g.random(V)) / V
        return vcol(u) * 100 < col(share(key, g))

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

    def town_adopt(key: str) -> np.ndarray:
        """(T,) yes/no of an added township field: adopted once the township's share passes a threshold
        of its own (from ``rng2``)."""
        return float(rng2.random()) * 100 < share(key, rng2)

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

    # communities (居委会, code suffix 001–199): town seats and 街道 — many social organisations, no
    # farmland (no first secretary, no poverty or weak-economy flags, no demonstration village, no 农村社区 type)
    comm = np.array([int(v["code"][9:12]) < 200 for v in villages], dtype=bool)
    cmask = vcol(comm)

    vil: dict[str, np.ndarray] = {}
    vil["village_code"] = np.array([[v["code"] for v in villages]] * T, dtype=object)
    vil["village_name"] = np.array([[v["name"] for v in villages]] * T, dtype=object)
    vil["population_registered"] = reg
    vil["population_resident"] = resident
    vil["households"] = households
    vil["elderly_population"] = elderly

    vil["social_orgs"] = dithered(village_level("social_orgs", level_sd=0.2) * np.where(cmask, 1.8, 1.0))
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
    vil["flag_weak_party_org"] = weak_org & ~cmask
    poor_share = np.select([t_idx == 0, t_idx <= 4, t_idx <= 7], [15.0, 10.0, 5.0], 0.0)
    vil["flag_poor"] = (vcol(rng.random(V)) * 100 < col(poor_share)) & ~cmask
    vil["flag_weak_economy"] = adopt("weak_economy") & ~cmask
    vil["has_first_secretary"] = adopt("first_secretary") & ~cmask

    # community type: a score per village that rises with the township's progress
    z = rng.standard_normal(V)
    score = vcol(z) + TYPE_DRIFT * col(town_L("community"))
    ctype = np.searchsorted(np.array(TYPE_CUTS), score)            # 0 薄弱 … 3 示范
    vil["community_type"] = np.where(cmask, None, np.array(VILLAGE_ENUMS["community_type"], dtype=object)[ctype])

    # demonstration villages (designated by the city plan; the best-scored villages first)
    ranked = [j for j in np.argsort(-z, kind="stable") if not comm[j]] + [j for j in range(V) if comm[j]]
    levels = VILLAGE_ENUMS["demo_village_level"]
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
    vil["weak_help_designated"] = help_ & ~cmask

    points = adopt("points")
    keeps_points = vcol(rng.random(V) < 0.92)
    vil["points_system"] = points | ((demo > 0) & keeps_points)
    vil["has_legal_adviser"] = adopt("legal_adviser")
    vil["has_legal_service_station"] = adopt("legal_station")
    vil["rule_of_law_demo"] = adopt("rule_of_law")

    _added_village_fields(rng2, vil, V, T, years, qs, cmask, demo, levels, reg,
                          lambda key: adopt(key, rng2), lambda key: town_L(key, rng2),
                          lambda key: town_start(key, rng2))

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
    town_levels = TOWN_ENUMS["demo_town_level"]
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
    _added_township_fields(rng2, tw, town, T, years, qs, kind, plan, reg, town_adopt)

    # arrivals: on time between the 1st and the 15th of the month after the quarter, or late
    _, _, p_missing, p_late = PACES[kind]
    arrival: list[dt.datetime | None] = []
    missing = rng.random(T) < p_missing
    late = rng.random(T) < p_late
    day = rng.integers(1, 16, T)
    late_by = rng.integers(1, 41, T)
    hour, minute = rng.integers(8, 18, T), rng.integers(0, 60, T)
    for i, p in enumerate(PERIODS):
        if missing[i] and (town["code"], p) not in always_arrive:
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


def _first_year(reached: np.ndarray, years: np.ndarray) -> np.ndarray:
    """(T, V) the year of the first quarter where ``reached`` holds, from that quarter on; 0 before."""
    T = reached.shape[0]
    first = np.where(reached.any(axis=0), reached.argmax(axis=0), T)
    t = np.arange(T)[:, None]
    return np.where(t >= first[None, :], years[np.minimum(first, T - 1)][None, :], 0).astype(float)


def _dates(base: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Dates ``base`` (ordinals, NaN: none) + ``days``, as an object array of dt.date / None."""
    out = np.full(base.shape, None, dtype=object)
    ok = ~np.isnan(base)
    out[ok] = [dt.date.fromordinal(int(b + d)) for b, d in zip(base[ok], np.broadcast_to(days, base.shape)[ok])]
    return out


def _added_village_fields(rng: np.random.Generator, vil: dict[str, np.ndarray], V: int, T: int, years: np.ndarray,
                          qs: np.ndarray, cmask: np.ndarray, demo: np.ndarray, levels: list[str], reg: np.ndarray,
                          adopt: Any, town_L: Any, town_start: Any) -> None:
    """The village fields of the plans' added targets (issue 9): adoption of yes/no practices, the
    years of demonstration-village titles, the 2021 committee elections (四川: by 31 March, a few
    late, bodies by 30 April, monitoring committees and group leaders within 10 days — a few not),
    committee and "两委" members, party members, and the 2021 autonomy pilots (villages only)."""
    col = lambda a: a[:, None]   # noqa: E731 - (T,) → (T, 1)
    for fid, key in (("affairs_disclosure_standard", "disclosure"), ("has_villager_council", "villager_council"),
                     ("has_power_list", "power_list"), ("cadres_centralised_office", "centralised_office"),
                     ("has_mediation_committee", "mediation"), ("meets_seven_ones", "seven_ones"),
                     ("has_community_logos", "logos"), ("has_three_governance_carriers", "three_carriers"),
                     ("uses_sunshine_platform", "sunshine"), ("has_decision_evaluation", "decision_evaluation"),
                     ("discipline_member_chairs_supervision", "discipline_chair"),
                     ("has_standard_subcommittees", "subcommittees"), ("service_station_access", "station_access")):
        vil[fid] = adopt(key)
    # demonstration-village titles: the year each level was first reached (0: none yet)
    for fid, level in (("demo_village_district_year", "区级"), ("demo_village_municipal_year", "市级"),
                       ("demo_village_national_year", "国家级")):
        vil[fid] = _first_year(demo >= levels.index(level), years)
    # committee elections: the previous term's (2018) until the 2021 election is reported
    start = dt.date(ELECTION_YEAR, 1, 5).toordinal()
    late = rng.random(V) < 0.06
    offset = np.where(late, rng.integers(86, 130, V), rng.integers(0, 80, V)).astype(float)
    new_el = start + offset                                                # ordinals
    prev_el = dt.date(ELECTION_YEAR - 3, 1, 10).toordinal() + rng.integers(0, 60, V).astype(float)
    q_end = np.array([period_bounds(f"{y}Q{q}")[1].toordinal() for y, q in zip(years, qs)], dtype=float)
    held = col(q_end) >= new_el[None, :]
    el = np.where(held, new_el[None, :], prev_el[None, :])
    vil["committee_election_date"] = _dates(el, 0)
    slow_sup, slow_grp = rng.random(V) < 0.05, rng.random(V) < 0.04
    sup_days = np.where(slow_sup, rng.integers(11, 25, V), rng.integers(2, 10, V)).astype(float)
    grp_days = np.where(slow_grp, rng.integers(11, 30, V), rng.integers(3, 11, V)).astype(float)
    sub_days = np.where(late, rng.integers(20, 40, V), rng.integers(10, 40, V)).astype(float)
    for fid, days in (("supervisory_committee_date", sup_days), ("group_leaders_date", grp_days),
                      ("subordinate_orgs_date", sub_days)):
        done = el + days[None, :]
        vil[fid] = _dates(np.where(col(q_end) >= done, el, np.nan), days)
    vil["outgoing_review_done"] = held & (rng.random(V) < 0.97)[None, :]
    members = np.broadcast_to(rng.integers(5, 8, V).astype(float), (T, V)).copy()
    party_share = np.where(held, rng.uniform(0.55, 0.75, V)[None, :], rng.uniform(0.40, 0.55, V)[None, :])
    vil["committee_members"] = members
    vil["committee_members_party"] = np.minimum(np.round(members * party_share), members)
    lead = np.broadcast_to(rng.integers(7, 12, V).astype(float), (T, V)).copy()
    vil["leadership_members"] = lead
    since = np.clip((col(q_end) - new_el[None, :]) / 91.0, 0, None)        # quarters since the election
    trained = np.where(held, np.minimum(1.0, 0.55 + 0.5 * since), 0.9)
    vil["leadership_trained"] = np.minimum(np.round(lead * trained), lead)
    age0 = rng.uniform(46, 52, V)
    vil["leadership_avg_age"] = np.round(age0[None, :] - np.where(held, 2.5, 0.0) - 0.1 * col(years - years[0]), 1)
    college0 = rng.uniform(0.10, 0.25, V)
    vil["leadership_college"] = np.minimum(np.round(lead * (college0[None, :] + np.where(held, 0.12, 0.0))), lead)
    # party members of the village (community) organisation
    pm = np.round(reg * rng.uniform(0.026, 0.034, V)[None, :] * (1 + 0.008 * col(np.arange(T) / 4)))
    vil["village_party_members"] = pm
    young = rng.uniform(0.15, 0.20, V)[None, :] + 0.003 * rng.standard_normal((T, V))
    vil["village_party_members_under_35"] = np.minimum(np.round(pm * young), pm)
    college = _curve(col(town_L("college")), town_start("college"), *PATHS["college"][1:]) / 100
    vil["village_party_members_college"] = np.minimum(np.round(pm * college), pm)
    # the 2021 autonomy pilots (villages only): a theme from 2021, a few named after 2023
    themes = VILLAGE_ENUMS["autonomy_pilot_theme"]
    namings = VILLAGE_ENUMS["autonomy_pilot_naming"]
    pilot = (rng.random(V) < 0.08) & ~cmask[0]
    theme = np.where(pilot, rng.integers(1, len(themes), V), 0)
    vil["autonomy_pilot_theme"] = np.array(themes, dtype=object)[np.where(col(years) >= ELECTION_YEAR, theme[None, :], 0)]
    named = np.where(pilot & (rng.random(V) < 0.5), rng.integers(1, len(namings), V), 0)
    vil["autonomy_pilot_naming"] = np.array(namings, dtype=object)[np.where(col(years) >= 2024, named[None, :], 0)]


def _added_township_fields(rng: np.random.Generator, tw: dict[str, np.ndarray], town: dict, T: int,
                           years: np.ndarray, qs: np.ndarray, kind: str, plan: dict[str, Any], reg: np.ndarray,
                           town_adopt: Any) -> None:
    """The township fields of the plans' added targets (issue 9): 敬老院 beds and 社工站 staff, the
    years demonstration towns were applied for, the 2021 专题报道 and 典型案例 dates, leading bodies,
    teams and funds, the 公共法律服务站 and 综合行政执法队伍, and 接诉即办 flows."""
    beds0 = float(rng.choice([0, 0, 40, 60, 80, 120]))
    tw["township_institution_beds"] = np.round(beds0 * (1 + 0.02 * np.arange(T) / 4))
    tw["sw_station_professionals"] = np.where(tw["has_sw_station"], float(rng.integers(1, 5)), 0.0)
    for fid, level in (("demo_town_municipal_applied_year", "市级申报"), ("demo_town_national_applied_year", "国家级申报")):
        year = np.zeros(T)
        for code, tq, lv in plan["town_events"]:
            if code == town["code"] and lv == level:
                year[tq:] = np.where(year[tq:] == 0, years[tq], year[tq:])
        tw[fid] = year
    late_p = {"ahead": 0.05, "on_track": 0.12, "behind": 0.3, "stalling": 0.45}[kind]
    q_end = np.array([period_bounds(f"{y}Q{q}")[1] for y, q in zip(years, qs)], dtype=object)
    for fid in ("special_coverage_date", "typical_case_report_date"):
        day = (dt.date(2022, 1, int(rng.integers(6, 28))) if rng.random() < late_p
               else dt.date(2021, int(rng.integers(7, 13)), int(rng.integers(1, 29))))
        tw[fid] = np.array([day if e >= day else None for e in q_end], dtype=object)
    tw["has_governance_leading_body"] = town_adopt("leading_body")
    tw["has_dedicated_team"] = town_adopt("dedicated_team")
    tw["has_governance_funds"] = town_adopt("governance_funds")
    tw["has_public_legal_station"] = town_adopt("public_legal_station")
    tw["has_unified_enforcement_team"] = town_adopt("enforcement_team")
    pop = reg.sum(axis=1)
    requests = rng.poisson(pop * 0.0012).astype(float)
    t_rel = np.arange(T) / max(T - 1, 1)
    tw["rural_requests"] = requests
    tw["rural_requests_resolved"] = np.minimum(rng.binomial(requests.astype(int), 0.80 + 0.15 * t_rel), requests)
    rated = rng.binomial(requests.astype(int), 0.7).astype(float)
    tw["rural_requests_rated"] = rated
    tw["rural_requests_satisfied"] = np.minimum(rng.binomial(rated.astype(int), 0.85 + 0.10 * t_rel), rated)
