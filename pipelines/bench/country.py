"""The synthetic country of ``bench progress``: units, 12 quarters of returns, county records and task
updates generated with SQL straight into a DuckDB file (no Excel), cached under data/generated/bench/.

What it holds, so that every rule of the judgement is exercised:

- townships of every kind: 街道 (codes 001–099, only 居委会 under them), 镇 (100–199, a few 居委会
  and mostly 村委会), 乡 (200–399, 村委会); village-level units 居委会 (suffix 001–199, about a quarter
  of them, as in the real registry), 村委会 (200–399), a few 其他 (400+), and some 村改居 (a 村委会
  code whose registry ``committee_type`` says 居委会); a few villages merged away (valid_to) or created
  (valid_from) during the period;
- returns: 2 % never arrive, 10 % late, 3 % re-uploaded; in some county-quarters a third of the
  townships miss the quarter (county coverage below ``min_coverage``), and some returns leave the
  non-required fields of a fifth of their villages blank (township coverage below it);
- a value for every field the catalog's indicators and milestones use (village, township and
  county sheets), moving over the quarters so that targets are met on time, met after their
  deadlines (met_late), lagging, regressing or missed; date fields (换届 dates of 2021, with the
  previous term's date before it; report dates; dates that arrive a quarter late);
- county records: some years missing, some corrected by a later record (the latest counts);
- task updates: per responsible unit, item and cycle — none, 推进中, done on time, done late,
  an earlier 推进中 superseded; some cycles left blank (the done date's cycle counts).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import resource
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from pipelines.catalog.definitions import Catalog, PlanApplication, catalog
from pipelines.periods import due_date, period_bounds, quarters
from pipelines.resources import generated_dir
from pipelines.store import db

CACHE = generated_dir("bench")
PROVINCES = ["11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41",
             "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65"]
FIRST, LAST = "2018Q4", "2021Q3"          # 12 quarters: the plans of 2018 and of 2021 both have data
# the cache key also covers this module's source: any change to the generator builds a new country
GENERATOR_VERSION = "2"


def peak_rss_mb() -> float:
    """The peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _u(*parts: str) -> str:
    """SQL for a uniform number in [0, 1) from a hash of the given SQL expressions."""
    return f"((hash({', '.join(parts)}) % 1000003) / 1000003.0)"


def _q(name: str) -> str:
    """A SQL string literal of a fixed name."""
    return f"'{name}'"


# village fields: SQL over code, pidx, t (progress 0…1 of the quarter), s (township effect −0.5…0.5),
# year, quarter, qend (the quarter's last day) and res (TRUE for a 居委会)
def _village_exprs(fields: list[Any]) -> dict[str, str]:
    def u(name: str) -> str:                       # changes every quarter
        return _u("code", "pidx", _q(name))

    def fixed(name: str) -> str:                   # a village's own constant
        return _u("code", _q(name))

    def yes(name: str, start: float, gain: float) -> str:
        # adoption: a village's fixed threshold against a rising township level
        return f"({fixed(name)} < least(0.99, {start} + {gain} * t + 0.25 * s))"

    def named_since(name: str, share: float) -> str:
        # the year a title was given (2018Q1…2021Q4), shown from that quarter on; 0 for none
        p = f"(8072 + floor(16 * {fixed(name + 'p')}))"
        return f"CAST(CASE WHEN {fixed(name)} < {share} AND pidx >= {p} THEN {p} // 4 ELSE 0 END AS BIGINT)"

    def dated(expr: str, late: str, before: str = "NULL") -> str:
        # a date reported from the quarter containing it (a fifth of the villages a quarter later)
        return (f"CASE WHEN {expr} + CASE WHEN {fixed(late)} < 0.2 THEN 92 ELSE 0 END <= qend THEN {expr} "
                f"ELSE {before} END")

    pop = f"(CASE WHEN res THEN 2000 + floor({fixed('pop')} * 6000) ELSE 600 + floor({fixed('pop')} * 3900) END)"
    elect = (f"(DATE '2021-01-05' + CAST(CASE WHEN {fixed('noelec')} < 0.03 THEN 300 "
             f"ELSE floor(110 * {fixed('elec')}) END AS INTEGER))")
    members = f"(5 + floor(3 * {fixed('cm')}))"
    leaders = f"(7 + floor(4 * {fixed('lm')}))"
    party = f"(20 + floor(60 * {fixed('vpm')}) + floor(3 * {u('vpq')}))"
    e = {
        "village_code": "code", "village_name": "'村' || substr(code, 10, 3)",
        "population_registered": f"CAST({pop} AS BIGINT)",
        "population_resident": f"CAST(floor({pop} * (0.8 + 0.15 * {u('res')})) AS BIGINT)",
        "households": f"CAST(floor({pop} / 3) AS BIGINT)",
        "elderly_population": f"CAST(floor({pop} * (0.18 + 0.12 * {u('old')})) AS BIGINT)",
        "social_orgs": f"CAST(floor((2 + 9 * t + 3 * s) * (0.5 + {u('org')})) AS BIGINT)",
        "has_elder_association": yes("elder", 0.5, 0.45),
        "has_service_platform": yes("platform", 0.65, 0.35),
        "platform_area_m2": f"CASE WHEN {yes('platform', 0.65, 0.35)} THEN 300 + floor(600 * {fixed('area')}) END",
        "platform_service_area_m2": f"CASE WHEN {yes('platform', 0.65, 0.35)} THEN floor((300 + floor(600 * {fixed('area')})) * (0.45 + 0.45 * t * {u('sa')} + 0.1 * {u('sb')})) END",
        "has_village_rules": yes("rules", 0.8, 0.2),
        "village_rules_revised": yes("revised", 0.1, 0.9),
        "rules_households_reached": f"CAST(floor({pop} / 3 * least(1, 0.5 + 0.5 * t + 0.1 * {u('reach')})) AS BIGINT)",
        "rules_surveyed": "CAST(50 AS BIGINT)",
        "rules_aware": f"CAST(floor(50 * least(1, 0.6 + 0.4 * t * {u('aw')} + 0.1 * s + 0.05)) AS BIGINT)",
        "micro_unit_pilot": yes("micro", 0.05, 0.95),
        "has_left_behind_home": yes("lb", 0.45, 0.55),
        "has_elder_care_facility": yes("fac", 0.35, 0.4),
        "elder_care_beds": f"CAST(floor({pop} * (0.18 + 0.12 * {fixed('old2')}) * (0.02 + 0.02 * t) * (0.6 + 0.8 * {u('beds')})) AS BIGINT)",
        "tekun_dependent": f"CAST(floor(8 * {fixed('tk')}) AS BIGINT)",
        "tekun_dependent_cared": f"CAST(floor(floor(8 * {fixed('tk')}) * least(1, 0.3 + 0.5 * t * {u('tc')} + 0.1)) AS BIGINT)",
        "burials": f"CAST(floor(6 * {u('bur')}) AS BIGINT)",
        "eco_burials": f"CAST(floor(floor(6 * {u('bur')}) * least(1, 0.2 + 0.5 * t + 0.2 * {u('eco')})) AS BIGINT)",
        "volunteers": f"CAST(floor({pop} * 0.8 * (0.05 + 0.1 * t * {u('vol')})) AS BIGINT)",
        "social_work_professionals": f"CAST(floor(3 * t * {u('swp')} + {u('swq')}) AS BIGINT)",
        "community_social_workers": f"CAST(floor(2 * t * {u('csw')} + 0.5 * {u('csx')} + CASE WHEN res THEN 1 ELSE 0 END) AS BIGINT)",
        "reserve_secretary": f"CAST(floor(2 * {u('rs')} + t) AS BIGINT)",
        "reserve_cadre": f"CAST(floor(3 * {u('rc')} + t) AS BIGINT)",
        "reserve_activist": f"CAST(floor(4 * {u('ra')} + 1.5 * t) AS BIGINT)",
        "flag_weak_party_org": f"({fixed('wpo')} < 0.05)",
        "flag_poor": f"({fixed('poor')} < 0.1)",
        "flag_weak_economy": f"({fixed('wecon')} < 0.15)",
        "has_first_secretary": yes("fs", 0.6, 0.4),
        "demo_village_level": f"CASE WHEN pidx >= 8084 AND {fixed('demo')} < 0.02 * (pidx - 8083) "
                              f"THEN (CASE WHEN {fixed('dl')} < 0.7 THEN '区级' "
                              f"WHEN {fixed('dl')} < 0.95 THEN '市级' ELSE '国家级' END) ELSE '无' END",
        "community_type": f"CASE WHEN {u('ct')} < 0.3 - 0.2 * t THEN '薄弱型' WHEN {u('ct')} < 0.8 - 0.3 * t THEN '提升型' "
                          f"WHEN {u('ct')} < 0.97 - 0.05 * t THEN '完善型' ELSE '示范型' END",
        "weak_help_designated": f"({_u('code', 'year', _q('wh'))} < 0.05)",
        "points_system": yes("points", 0.1, 0.6),
        "has_legal_adviser": yes("adv", 0.4, 0.6),
        "has_legal_service_station": yes("station", 0.3, 0.7),
        "rule_of_law_demo": yes("rol", 0.08, 0.3),
        # 常德
        "affairs_disclosure_standard": yes("disc", 0.5, 0.5),
        "has_villager_council": yes("council", 0.6, 0.45),
        "has_power_list": yes("power", 0.4, 0.55),
        "cadres_centralised_office": yes("central", 0.5, 0.5),
        # 嘉兴
        "has_mediation_committee": yes("med", 0.85, 0.2),
        "meets_seven_ones": yes("seven", 0.3, 0.5),
        "has_community_logos": yes("logos", 0.6, 0.4),
        "has_three_governance_carriers": yes("carriers", 0.2, 0.6),
        # 黔江
        "demo_village_district_year": named_since("dvd", 0.12),
        "demo_village_municipal_year": named_since("dvm", 0.05),
        "demo_village_national_year": named_since("dvn", 0.015),
        "uses_sunshine_platform": yes("sun", 0.5, 0.5),
        # 四川: the 2021 换届 (the previous term's election date before it is reported)
        "committee_election_date": dated(elect, "lag1", f"DATE '2018-01-08' + CAST(floor(80 * {fixed('old')}) AS INTEGER)"),
        "supervisory_committee_date": dated(f"({elect} + CAST(floor(16 * {fixed('sup')}) AS INTEGER))", "lag2"),
        "group_leaders_date": dated(f"({elect} + CAST(floor(14 * {fixed('grp')}) AS INTEGER))", "lag3"),
        "subordinate_orgs_date": dated(f"({elect} + CAST(15 + floor(45 * {fixed('sub')}) AS INTEGER))", "lag4"),
        "committee_members": f"CAST({members} AS BIGINT)",
        "committee_members_party": f"CAST(floor({members} * least(1, 0.35 + 0.3 * t * {fixed('cmp')} + 0.1 * {u('cmq')})) AS BIGINT)",
        "leadership_members": f"CAST({leaders} AS BIGINT)",
        "leadership_trained": f"CASE WHEN pidx >= 8084 THEN CAST(floor({leaders} * least(1, 0.4 + 0.25 * (pidx - 8084) * (0.5 + {fixed('lt')}))) AS BIGINT) END",
        "leadership_avg_age": f"CASE WHEN pidx >= 8084 THEN round(36 + 14 * {fixed('age')} - 3 * t + {u('agq')}, 1) END",
        "leadership_college": f"CASE WHEN pidx >= 8084 THEN CAST(floor({leaders} * (0.15 + 0.3 * t * {fixed('lc')} + 0.05 * {u('lcq')})) AS BIGINT) END",
        "has_decision_evaluation": yes("deceval", 0.3, 0.6),
        "outgoing_review_done": yes("outrev", 0.55, 0.5),
        "autonomy_pilot_theme": f"CASE WHEN pidx >= 8084 AND {fixed('apt')} < 0.03 THEN (CASE WHEN {fixed('apk')} < 0.3 "
                                f"THEN '民主协商' WHEN {fixed('apk')} < 0.5 THEN '民主监督' WHEN {fixed('apk')} < 0.7 "
                                f"THEN '三治融合' WHEN {fixed('apk')} < 0.85 THEN '场景营造' ELSE '乡风文明' END) ELSE '无' END",
        "autonomy_pilot_naming": f"CASE WHEN pidx >= 8085 AND {fixed('apt')} < 0.03 AND {fixed('apn')} < 0.4 "
                                 f"THEN '省级' WHEN pidx >= 8085 AND {fixed('apt')} < 0.03 THEN '县级' ELSE '无' END",
        # 北京
        "discipline_member_chairs_supervision": yes("dms", 0.6, 0.4),
        "has_standard_subcommittees": yes("subc", 0.3, 0.5),
        "service_station_access": yes("ssa", 0.7, 0.3),
        "village_party_members": f"CAST({party} AS BIGINT)",
        "village_party_members_under_35": f"CAST(floor({party} * (0.14 + 0.06 * {u('y35')})) AS BIGINT)",
        "village_party_members_college": f"CAST(floor({party} * (0.15 + 0.1 * t * {fixed('pmc')})) AS BIGINT)",
        "remarks": "CAST(NULL AS VARCHAR)",
    }
    return {f.id: e.get(f.id, "NULL") for f in fields}


# township fields: SQL over code, pidx, t, s, year, quarter, qend
def _township_exprs(fields: list[Any]) -> dict[str, str]:
    def fixed(name: str) -> str:
        return _u("code", _q(name))

    def u(name: str) -> str:
        return _u("code", "pidx", _q(name))

    def yes(name: str, start: float, gain: float) -> str:
        return f"({fixed(name)} < least(0.99, {start} + {gain} * t + 0.25 * s))"

    def applied_since(name: str, share: float) -> str:
        # the year of an application (2020Q1…2021Q4), shown from that quarter on; 0 for none
        p = f"(8080 + floor(8 * {fixed(name + 'p')}))"
        return f"CAST(CASE WHEN {fixed(name)} < {share} AND pidx >= {p} THEN {p} // 4 ELSE 0 END AS BIGINT)"

    def dated_2021(name: str) -> str:
        # a date of the year's report: last year's in the 2020 returns, this year's once it happened
        this = f"(DATE '2021-05-01' + CAST(floor(200 * {fixed(name)}) AS INTEGER))"
        last = f"(DATE '2020-05-01' + CAST(floor(200 * {fixed(name + 'l')}) AS INTEGER))"
        return (f"CASE WHEN year = 2021 AND {this} <= qend THEN {this} WHEN year = 2020 AND {last} <= qend "
                f"THEN {last} END")

    requests = f"(20 + floor(80 * {u('rr')}))"
    rated = f"floor({requests} * 0.6)"
    e = {
        "township_code": "code",
        "has_sw_station": yes("sws", 0.2, 0.8), "judicial_office_standardised": yes("jud", 0.3, 0.6),
        "has_gov_service_centre": yes("gov", 0.5, 0.5),
        "demo_town_level": f"CASE WHEN pidx >= 8084 AND {fixed('dt')} < 0.05 THEN '市级申报' ELSE '无' END",
        "party_members": "CAST(300 + (hash(code) % 400) AS BIGINT)",
        "party_members_under_35": f"CAST(floor((300 + (hash(code) % 400)) * (0.15 + 0.05 * {u('y35')})) AS BIGINT)",
        "party_members_college": "CAST(floor((300 + (hash(code) % 400)) * (0.18 + 0.1 * t)) AS BIGINT)",
        "half_year_report_date": "CASE WHEN quarter IN (2, 3) THEN make_date(year, 7, 1 + CAST(hash(code, year) % 9 AS INTEGER)) END",
        "year_end_report_date": "CASE WHEN quarter = 4 THEN make_date(year + 1, 1, 1 + CAST(hash(code, year) % 9 AS INTEGER)) END",
        "township_institution_beds": f"CAST(CASE WHEN {fixed('tib')} < 0.35 THEN 40 + floor(80 * {fixed('tib2')}) + floor(20 * t) "
                                     f"WHEN {fixed('tib')} < 0.9 THEN 0 END AS BIGINT)",
        "sw_station_professionals": f"CAST(floor(4 * t * {u('swsp')} + {fixed('swsq')}) AS BIGINT)",
        "demo_town_municipal_applied_year": applied_since("mta", 0.4),
        "demo_town_national_applied_year": applied_since("nta", 0.1),
        "special_coverage_date": dated_2021("scd"),
        "typical_case_report_date": dated_2021("tcr"),
        "has_governance_leading_body": yes("glb", 0.5, 0.5),
        "has_dedicated_team": yes("team", 0.4, 0.5),
        "has_governance_funds": yes("funds", 0.5, 0.45),
        "has_public_legal_station": yes("pls", 0.5, 0.45),
        "has_unified_enforcement_team": yes("uet", 0.3, 0.6),
        "rural_requests": f"CAST({requests} AS BIGINT)",
        "rural_requests_resolved": f"CAST(floor({requests} * least(1, 0.7 + 0.25 * t * {fixed('rrs')} + 0.05 * {u('rrq')})) AS BIGINT)",
        "rural_requests_rated": f"CAST({rated} AS BIGINT)",
        "rural_requests_satisfied": f"CAST(floor({rated} * least(1, 0.75 + 0.2 * t * {fixed('rsa')} + 0.05 * {u('rsq')})) AS BIGINT)",
    }
    return {f.id: e.get(f.id, "NULL") for f in fields}


# county fields: SQL over code, year (k = year − 2018)
def _county_exprs(fields: list[Any]) -> dict[str, str]:
    def fixed(name: str) -> str:
        return _u("code", _q(name))

    def yearly(name: str) -> str:
        return _u("code", "year", _q(name))

    e = {
        "innovation_experiments": "CAST(hash(code, year) % 3 AS BIGINT)",
        "implementation_plan_filed": "DATE '2018-11-10' + CAST(hash(code, 'plan') % 40 AS INTEGER)",
        "county_institution_beds": f"CAST(200 + floor(400 * {fixed('cib')}) + 30 * k AS BIGINT)",
        "agency_social_work_professionals": f"CAST(floor(10 * {fixed('asw')} + 3 * k) AS BIGINT)",
        "innovation_experiments_cumulative": f"CAST(floor(k * 1.3 * {fixed('iec')}) AS BIGINT)",
        "lottery_funds_village": f"round(50 + 15 * k * ({fixed('lfv')} - 0.3) + 10 * {yearly('lfw')}, 1)",
        "lottery_funds_community": f"CASE WHEN {fixed('lfc')} < 0.2 THEN 0 ELSE round(30 + 8 * k * {fixed('lfd')}, 1) END",
        "cadre_pay_standard": f"30000 + 1000 * floor(k * 3 * {fixed('cps')})",
        "office_funds_standard": f"20000 + 500 * floor(k * 4 * ({fixed('ofs')} - 0.2))",
    }
    return {f.id: e.get(f.id, "NULL") for f in fields}


def build_country(path: Path, provinces: int = 31, cities: int = 10, counties: int = 9,
                  first: str = FIRST, last: str = LAST, progress: bool = True) -> dict[str, Any]:
    """Generate the synthetic country into the DuckDB file ``path`` (overwritten)."""
    cat = catalog()
    if path.exists():
        path.unlink()
    con = db.connect(path)
    try:
        return _build(con, cat, provinces, cities, counties, first, last, progress)
    finally:
        con.close()


def _build(con: duckdb.DuckDBPyConnection, cat: Catalog, provinces: int, cities: int, counties: int,
           first: str, last: str, progress: bool) -> dict[str, Any]:
    t0 = time.perf_counter()
    say = (lambda s: print(s, file=sys.stderr, flush=True)) if progress else (lambda s: None)
    provs = pd.DataFrame({"p": PROVINCES[:provinces]})
    con.register("_provs", provs)
    say("生成区划 …")
    # townships: a few 街道 (001–099), then 镇 (100–199), the last few 乡 (200–399); villages: 居委会 only
    # under a 街道, a few 居委会 and mostly 村委会 under a 镇, 村委会 under a 乡 (and a rare 其他, 400+)
    con.execute(f"""
        CREATE TEMP TABLE _prov AS SELECT p || '0000000000' AS code, p FROM _provs;
        CREATE TEMP TABLE _city AS SELECT p || lpad(CAST(c AS VARCHAR), 2, '0') || '00000000' AS code, p
            FROM _prov, range(1, {cities} + 1) r(c);
        CREATE TEMP TABLE _county AS SELECT substr(c.code, 1, 4) || lpad(CAST(k AS VARCHAR), 2, '0') || '000000' AS code
            FROM _city c, range(1, {counties} + 1) r(k);
        CREATE TEMP TABLE _town AS
            SELECT substr(code, 1, 6) || lpad(CAST(CASE kind WHEN 'street' THEN t WHEN 'town' THEN 100 + t
                                                             ELSE 200 + t END AS VARCHAR), 3, '0') || '000' AS code, kind
            FROM (SELECT k.code, t, CASE WHEN t <= hash(k.code, 'street') % 3 THEN 'street'
                                         WHEN t > 12 + hash(k.code) % 4 - (2 + hash(k.code, 'xiang') % 3) THEN 'xiang'
                                         ELSE 'town' END AS kind
                  FROM _county k, range(1, 17) r(t) WHERE t <= 12 + hash(k.code) % 4);
        CREATE TEMP TABLE _village AS
            SELECT substr(w.code, 1, 9) || lpad(CAST(CASE WHEN v <= CASE w.kind WHEN 'street' THEN 99
                                                                     WHEN 'town' THEN 1 + hash(w.code, 'res') % 5
                                                                     ELSE hash(w.code, 'res') % 2 END
                                                          THEN v ELSE 200 + v END AS VARCHAR), 3, '0') AS code
            FROM _town w, range(1, 18) r(v) WHERE v <= 9 + hash(w.code) % 9
            UNION ALL
            SELECT substr(code, 1, 9) || '401' FROM _town WHERE kind = 'town' AND hash(code, 'other') % 20 = 0;
    """)
    # the registry's committee type: from the code, except some 村改居 (a 村委会 code now a 居委会)
    con.execute("""
        INSERT INTO units (code, name, level, parent_code, population, source, committee_type)
        SELECT code, '合成省' || substr(code, 1, 2), 'province', NULL, NULL, 'bench', NULL FROM _prov
        UNION ALL SELECT code, '合成市' || substr(code, 1, 4), 'city', substr(code, 1, 2) || '0000000000', NULL, 'bench', NULL FROM _city
        UNION ALL SELECT code, '合成县' || substr(code, 1, 6), 'county', substr(code, 1, 4) || '00000000', NULL, 'bench', NULL FROM _county
        UNION ALL SELECT code, '合成镇' || substr(code, 1, 9), 'township', substr(code, 1, 6) || '000000', NULL, 'bench', NULL FROM _town
        UNION ALL SELECT code, '合成村' || code, 'village', substr(code, 1, 9) || '000', NULL, 'bench',
            CASE WHEN substr(code, 10, 3) < '200' THEN '居委会'
                 WHEN substr(code, 10, 3) >= '400' THEN '其他'
                 WHEN hash(code, 'cgj') % 40 = 0 THEN '居委会' ELSE '村委会' END FROM _village
    """)
    # a few village merges (0.2 % of villages end in 2020Q2) and new villages (0.2 % begin in 2019Q3)
    con.execute("UPDATE units SET valid_to = DATE '2020-05-15' WHERE level = 'village' AND hash(code, 'merge') % 500 = 0")
    con.execute("UPDATE units SET valid_from = DATE '2019-08-01' WHERE level = 'village' AND hash(code, 'split') % 500 = 0 "
                "AND valid_to IS NULL")
    periods = quarters(first, last)
    due_day = cat.settings.reporting.due_day
    per = pd.DataFrame({"period": periods,
                        "pidx": [int(p[:4]) * 4 + int(p[-1]) - 1 for p in periods],
                        "year": [int(p[:4]) for p in periods], "quarter": [int(p[-1]) for p in periods],
                        "t": [i / (len(periods) - 1) for i in range(len(periods))],
                        "due": [due_date(p, due_day) for p in periods],
                        "start": [period_bounds(p)[0] for p in periods],
                        "qend": [period_bounds(p)[1] for p in periods]})
    con.register("_per", per)
    say("生成报送记录 …")
    # 2 % of returns never arrive, 10 % late, 3 % re-uploaded (the first version superseded); in one
    # county-quarter of 12 a third of the county's townships miss the quarter
    con.execute("""
        CREATE TEMP TABLE _subs AS
        SELECT row_number() OVER (ORDER BY p.pidx, w.code, v.version) AS id, w.code AS township_code, p.period, p.pidx,
               v.version,
               CAST(p.due AS TIMESTAMP) - INTERVAL 12 DAY + to_seconds(CAST(hash(w.code, p.period, v.version) % 1000000 AS BIGINT))
                 + CASE WHEN hash(w.code, p.period, 'late') % 10 = 0 THEN INTERVAL 20 DAY ELSE INTERVAL 0 DAY END
                 + CASE WHEN v.version = 2 THEN INTERVAL 25 DAY ELSE INTERVAL 0 DAY END AS uploaded_at,
               hash(w.code, p.period, 'redo') % 33 = 0 AS redone,
               hash(w.code, p.period, 'sloppy') % 20 = 0 AS sloppy
        FROM _town w CROSS JOIN _per p CROSS JOIN (SELECT 1 AS version UNION ALL SELECT 2) v
        WHERE hash(w.code, p.period, 'missing') % 50 <> 0
          AND NOT (hash(substr(w.code, 1, 6), p.period, 'outage') % 12 = 0 AND hash(w.code, p.period, 'out') % 3 = 0)
          AND (v.version = 1 OR hash(w.code, p.period, 'redo') % 33 = 0)
    """)
    con.execute("""
        INSERT INTO submissions (id, township_code, period, file_name, file_kind, sha256, size_bytes, archive_path,
            template_version, uploaded_at, uploaded_by, status, superseded_by, village_rows, township_rows, warnings)
        SELECT id, township_code, period, township_code || '_' || period || '.xlsx', 'xlsx', md5(CAST(id AS VARCHAR)), 0,
               '', 'bench', uploaded_at, 'bench',
               CASE WHEN redone AND version = 1 THEN 'superseded' ELSE 'active' END,
               CASE WHEN redone AND version = 1 THEN id + 1 END, 0, 1, 0
        FROM _subs
    """)
    top = con.execute("SELECT coalesce(max(id), 0) + 1 FROM submissions").fetchone()[0]
    con.execute(f"CREATE OR REPLACE SEQUENCE submission_seq START {int(top)}")     # uploads continue after them
    say("生成村级数据 …")
    vfields = cat.sheets["village"].fields
    vex = _village_exprs(vfields)
    required = {f.id for f in vfields if f.required}
    # the superseded version differs a little: it is generated with a shifted progress; a sloppy return
    # leaves the non-required fields of about a fifth of its villages blank
    cols = ", ".join((f'{expr} AS "{fid}"' if fid in required else
                      f'CASE WHEN NOT blank THEN {expr} END AS "{fid}"')
                     for fid, expr in vex.items() if fid != "village_code")
    con.execute(f"""
        INSERT INTO village_values BY NAME
        SELECT submission_id, township_code, period, code AS village_code, 0 AS source_row, {cols}
        FROM (SELECT s.id AS submission_id, s.township_code, s.period, v.code, s.pidx, s.t, v.s, s.year, s.quarter,
                     s.qend, v.res, s.sloppy AND hash(v.code, s.pidx, 'blank') % 5 = 0 AS blank
              FROM (SELECT s.*, p.t - CASE WHEN s.version = 1 AND s.redone THEN 0.05 ELSE 0 END AS t, p.year,
                           p.quarter, p.start, p.qend FROM _subs s JOIN _per p USING (period)) s
              JOIN (SELECT code, substr(code, 1, 9) || '000' AS township, substr(code, 10, 3) < '200' AS res,
                           ((hash(substr(code, 1, 9)) % 1000) / 1000.0) - 0.5 AS s FROM _village) v
                ON v.township = s.township_code
              JOIN units u ON u.code = v.code
              WHERE (u.valid_to IS NULL OR u.valid_to >= s.start) AND (u.valid_from IS NULL OR u.valid_from <= s.qend))
    """)
    tfields = cat.sheets["township"].fields
    tex = _township_exprs(tfields)
    tcols = ", ".join(f'{expr} AS "{fid}"' for fid, expr in tex.items() if fid != "township_code")
    con.execute(f"""
        INSERT INTO township_values BY NAME
        SELECT submission_id, township_code, period, 0 AS source_row, {tcols}
        FROM (SELECT s.id AS submission_id, s.township_code, s.period, s.township_code AS code, s.pidx, p.t, p.year,
                     p.quarter, p.qend, ((hash(substr(s.township_code, 1, 9)) % 1000) / 1000.0) - 0.5 AS s
              FROM _subs s JOIN _per p USING (period))
    """)
    say("生成区县年度数据与督办任务 …")
    years = sorted({int(p[:4]) for p in periods})
    con.register("_years", pd.DataFrame({"year": years}))
    cfields = [f for f in cat.sheets["county"].fields if f.id != "county_code"]
    cex = _county_exprs(cfields)
    ccols = ", ".join(f'{expr} AS "{fid}"' for fid, expr in cex.items())
    # one record a year, recorded the next January; a county in ten skips a year; one in seven first
    # records a draft (other values) that a later record of the same year corrects
    con.execute(f"""
        INSERT INTO county_values BY NAME
        SELECT code AS county_code, year, make_timestamp(year + 1, 1, 10, 9, 0, 0) AS recorded_at, 'bench' AS recorded_by,
               {ccols}
        FROM (SELECT k.code, y.year, y.year - 2018 AS k FROM _county k, _years y
              WHERE hash(k.code, y.year, 'skip') % 10 <> 0)
        UNION ALL BY NAME
        SELECT code AS county_code, year, make_timestamp(year + 1, 1, 5, 9, 0, 0) AS recorded_at, 'bench' AS recorded_by,
               {ccols}
        FROM (SELECT k.code, y.year, y.year - 2019 AS k FROM _county k, _years y
              WHERE hash(k.code, y.year, 'draft') % 7 = 0)
    """)
    now = due_date(last, due_day)
    rows = _task_rows(cat, now)
    if rows:
        con.register("_tasks", pd.DataFrame(rows))
        con.execute("INSERT INTO task_values BY NAME SELECT * FROM _tasks")
    counts = dict(con.execute("SELECT level, count(*) FROM units GROUP BY level").fetchall())
    counts["village_rows"] = con.execute("SELECT count(*) FROM village_values").fetchall()[0][0]
    counts["submissions"] = con.execute("SELECT count(*) FROM submissions").fetchall()[0][0]
    con.execute("CHECKPOINT")
    counts["seconds"] = round(time.perf_counter() - t0, 1)
    return counts


def _h(*parts: Any) -> int:
    """A stable number 0…99 from the parts (crc32; Python's hash() changes between runs)."""
    return zlib.crc32("|".join(str(p) for p in parts).encode()) % 100


def _task_rows(cat: Catalog, now: dt.date) -> list[dict[str, Any]]:
    """Task updates (督办任务) of every task of the catalog, as of ``now``: per responsible unit, item
    and cycle — none (10 %), 推进中, done on time, done late (推进中 while the late date is ahead);
    an earlier 推进中 before half the done ones; the cycle left blank on some done on time (the done
    date's cycle, their own, counts)."""
    rows: list[dict[str, Any]] = []

    def record(plan: str, t: Any, unit: str, day: dt.date, status: str, done: dt.date | None,
               item: str | None, cycle: str | None) -> None:
        rows.append({"plan": plan, "recorded_at": dt.datetime.combine(min(day, now), dt.time(10)),
                     "recorded_by": "bench", "task_id": t.id, "unit": unit, "status": status, "done_date": done,
                     "progress_note": None, "evidence": None, "item": item, "cycle": cycle})

    def updates(plan: str, t: Any, unit: str, start: dt.date, deadline: dt.date, item: str | None,
                cycle: str | None, key: str) -> None:
        h = _h(t.id, unit, key)
        if h < 10:
            return
        if h < 30:
            record(plan, t, unit, start + dt.timedelta(days=20 + h), "推进中", None, item, cycle)
            return
        if h < 65:
            done = max(start, min(deadline, now) - dt.timedelta(days=5 + h % 40))
        else:
            done = deadline + dt.timedelta(days=10 + h % 80)
        if done > now:
            record(plan, t, unit, start + dt.timedelta(days=30), "推进中", None, item, cycle)
            return
        if cycle and h < 65 and h % 5 == 0:      # a cycle left blank: the done date's cycle (its own) counts
            cycle = None
        if h % 2 == 0:
            record(plan, t, unit, max(start, done - dt.timedelta(days=30)), "推进中", None, item, cycle)
        record(plan, t, unit, done, "已完成", done, item, cycle)

    for plan in cat.plans.values():
        for t in plan.targets:
            if t.eval != "milestone" or not t.lead or t.milestones:
                continue
            start = t.start or plan.period_start
            for unit in dict.fromkeys(t.lead + t.partners):
                if t.recurrence:
                    for label, c0, c1 in _cycles(t, start, now):
                        updates(plan.code, t, unit, c0, c1, None, label, label)
                elif t.items:
                    done: dict[str, dt.date | None] = {}
                    for item in t.items:
                        due = item.deadline
                        if due is None:
                            base = done.get(item.after.item)
                            if base is None:
                                continue
                            due = base.replace(year=base.year + (item.after.years or 0))
                        before = len(rows)
                        updates(plan.code, t, unit, start, due, item.id, None, item.id)
                        finished = [r for r in rows[before:] if r["status"] == "已完成"]
                        done[item.id] = finished[-1]["done_date"] if finished else None
                else:
                    updates(plan.code, t, unit, start, t.deadline, None, None, "")
    return rows


def _cycles(t: Any, start: dt.date, now: dt.date) -> list[tuple[str, dt.date, dt.date]]:
    """(label, first day, deadline) of each cycle of a recurrent task begun by ``now``."""
    out = []
    if t.recurrence == "yearly":
        for y in range(start.year, t.deadline.year + 1):
            c0 = max(start, dt.date(y, 1, 1))
            if c0 <= now:
                out.append((str(y), c0, min(dt.date(y, 12, 31), t.deadline)))
    else:
        y, q = start.year, (start.month - 1) // 3 + 1
        while True:
            c0 = max(start, dt.date(y, 3 * q - 2, 1))
            if c0 > now or c0 > t.deadline:
                break
            c1 = min(period_bounds(f"{y}Q{q}")[1], t.deadline)
            out.append((f"{y}Q{q}", c0, c1))
            y, q = (y + 1, 1) if q == 4 else (y, q + 1)
    return out


def _generator_digest() -> str:
    """A digest of this module's source: the cache key changes whenever the generator does."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]


def country(provinces: int = 31, cities: int = 10, counties: int = 9, progress: bool = True) -> Path:
    """The cached synthetic country database for these sizes (built on first use)."""
    key = hashlib.sha256(f"{GENERATOR_VERSION}:{duckdb.__version__}:{_generator_digest()}:{provinces}:{cities}:{counties}:{FIRST}:{LAST}:"
                         f"{catalog().template_version}:{sorted(f.id for s in catalog().sheets.values() for f in s.fields)}"
                         .encode()).hexdigest()[:12]
    base = CACHE / f"progress-{key}"
    path = base / "country.duckdb"
    if not path.exists():
        base.mkdir(parents=True, exist_ok=True)
        tmp = base / "building.duckdb"
        if progress:
            print(f"生成全国规模合成数据(只在第一次运行时生成,之后复用):{path}", file=sys.stderr)
        build_country(tmp, provinces, cities, counties, progress=progress)
        os.replace(tmp, path)
    return path


def bench_catalog(con: duckdb.DuckDBPyConnection, cat: Catalog | None = None) -> Catalog:
    """The catalog with every plan applied to every province of the database."""
    cat = cat or catalog()
    provinces = [r[0] for r in con.execute("SELECT code FROM units WHERE level = 'province' ORDER BY code").fetchall()]
    applies = [PlanApplication(plan=p, unit=c, note="bench") for p in cat.plans for c in provinces]
    settings = cat.settings.model_copy(update={"applies": applies})
    return cat.model_copy(update={"settings": settings})
