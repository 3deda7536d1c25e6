"""The simulated sample returns: deterministic, valid against the catalog's rules, plausible
trajectories, readable in every format, committed samples equal to what the generator makes,
and ``rural-targets init`` end to end (twice: the second run changes nothing)."""
from __future__ import annotations

import datetime as dt
import os
import shutil
import time
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from pipelines.store import db
from pipelines.samples import committed
from pipelines.catalog.definitions import catalog
from pipelines.ingest.check import unusual_changes
from pipelines.ingest.pipeline import ingest_uploads
from pipelines.ingest.store import submission_values
from pipelines.periods import due_date, period_bounds
from pipelines.samples.init import init_database
from pipelines.samples.simulation import SEED, simulate
from pipelines.samples.writers import return_filename, soffice, write_return
from pipelines.access.review import unlock
from pipelines.access.roles import User, local_admin

ADMIN = local_admin("测试管理员")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def registry_db(tmp_path_factory) -> Path:
    """A database holding the sample region's registry only (copied per test that writes)."""
    path = tmp_path_factory.mktemp("registry") / "registry.duckdb"
    con = db.connect(path)
    init_database(con, progress=False, returns=False)
    con.close()
    return path


@pytest.fixture
def con(registry_db, tmp_path):
    path = tmp_path / "db.duckdb"
    shutil.copy(registry_db, path)
    c = db.connect(path)
    yield c
    c.close()


@pytest.fixture(scope="module")
def sim(registry_db):
    c = db.connect(registry_db, read_only=True)
    try:
        return simulate(c)
    finally:
        c.close()


# ---------------------------------------------------------------------------- the simulation

def test_simulation_is_deterministic_and_fast(registry_db, sim):
    c = db.connect(registry_db, read_only=True)
    started = time.perf_counter()
    again = simulate(c)
    elapsed = time.perf_counter() - started
    other = simulate(c, seed=SEED + 1)
    c.close()
    assert again.fingerprint() == sim.fingerprint()
    # another seed moves every township's progress and deals the paces anew, in the same shares
    assert all(not np.array_equal(other.townships[c].progress, ts.progress) for c, ts in sim.townships.items())
    assert Counter(ts.kind for ts in other.townships.values()) == Counter(ts.kind for ts in sim.townships.values())
    assert [ts.kind for ts in other.townships.values()] != [ts.kind for ts in sim.townships.values()]
    assert elapsed < 5, f"simulation took {elapsed:.1f} s"
    assert len(sim.periods) == 29 and sim.periods[0] == "2018Q4" and sim.periods[-1] == "2025Q4"
    assert len(sim.townships) == 41 and sum(len(t.villages) for t in sim.townships.values()) == 514


def test_every_field_of_the_return_is_simulated(sim):
    cat = catalog()
    values = sim.values("439921101000", "2024Q3")  # 黄嘴镇, 8 villages
    assert len(values["village"]) == 8 and values["township"]["township_code"] == "439921101000"
    # a field the simulation does not move would be blank: only the free-text remarks are, and the
    # year-end report date, which a Q3 return does not carry yet
    assert {f for rec in values["village"] for f, v in rec.items() if v is None} == {"remarks"}
    assert {f for f, v in values["township"].items() if v is None} == {"year_end_report_date"}
    assert values["township"]["half_year_report_date"] == dt.date(2024, 7, 4)
    ts = next(iter(sim.townships.values()))
    assert {f.id for f in cat.sheets["village"].fields} <= set(ts.village), "a field of fields.yaml is not simulated"
    assert {f.id for f in cat.sheets["township"].fields} <= set(ts.township)


def _typed(rec: dict, sheet: str) -> dict:
    fields = {f.id: f for f in catalog().sheets[sheet].fields}
    out = {}
    for k, v in rec.items():
        if v is not None and fields[k].type == "bool":
            v = v == "是"
        out[k] = v
    return out


def test_every_simulated_row_has_valid_types_and_satisfies_the_rules(sim):
    cat = catalog()
    broken = []
    for code, ts in sim.townships.items():
        for period in sim.periods:
            values = sim.values(code, period)
            for sheet, rows in (("village", values["village"]), ("township", [values["township"]])):
                fields = {f.id: f for f in cat.sheets[sheet].fields}
                for rec in rows:
                    for fid, v in rec.items():
                        f = fields[fid]
                        if v is None:
                            assert not f.required, (code, period, fid)
                        elif f.type == "int":
                            assert isinstance(v, int) and v >= 0, (code, period, fid, v)
                        elif f.type == "number":
                            assert isinstance(v, (int, float)) and v >= 0, (code, period, fid, v)
                        elif f.type == "bool":
                            assert v in ("是", "否"), (code, period, fid, v)
                        elif f.type == "enum":
                            assert v in f.values, (code, period, fid, v)
                        elif f.type == "date":
                            assert isinstance(v, dt.date), (code, period, fid, v)
                    typed = _typed(rec, sheet)
                    for rule in (r for r in cat.rules if r.sheet == sheet):
                        if rule.compiled_when is not None and rule.compiled_when.evaluate(typed) is not True:
                            continue
                        if rule.require:
                            if any(typed[f] is None for f in rule.require):
                                broken.append((code, period, rule.id))
                        elif rule.compiled_check.evaluate(typed) is False:
                            broken.append((code, period, rule.id))
    assert broken == []


def _city_share(sim, field: str, t: int) -> float:
    yes = sum(int(ts.village[field][t].sum()) for ts in sim.townships.values())
    return 100 * yes / sum(len(ts.villages) for ts in sim.townships.values())


def test_trajectories_move_towards_the_targets(sim):
    first, last = 0, len(sim.periods) - 1
    by_2020 = sim.periods.index("2020Q4")
    assert 45 <= _city_share(sim, "has_elder_association", first) <= 65
    assert _city_share(sim, "has_elder_association", last) > 90
    assert _city_share(sim, "has_service_platform", first) < 80 <= _city_share(sim, "has_service_platform", by_2020)
    assert 30 <= _city_share(sim, "has_legal_adviser", first) <= 50 < 85 <= _city_share(sim, "has_legal_adviser", last)

    def ratio(num, den, t, factor):
        a = sum(np.nansum(ts.village[num][t]) for ts in sim.townships.values())
        b = sum(np.nansum(ts.village[den][t]) for ts in sim.townships.values())
        return factor * a / b
    assert 18 <= ratio("elder_care_beds", "elderly_population", first, 1000) <= 26
    assert ratio("elder_care_beds", "elderly_population", by_2020, 1000) >= 30
    assert 4 <= ratio("volunteers", "population_resident", first, 100) <= 8
    orgs = [np.nanmean(np.concatenate([ts.village["social_orgs"][t] for ts in sim.townships.values()]))
            for t in (first, by_2020, last)]
    assert 2 <= orgs[0] <= 3.2 and orgs[0] < orgs[1] < orgs[2]
    # the community ladder only goes up in a township that does not slip back (村 only: a 社区 —
    # 居委会 — is no 农村社区 and has no type)
    order = {v: i for i, v in enumerate(["薄弱型", "提升型", "完善型", "示范型"])}
    steady = [ts for ts in sim.townships.values() if ts.kind != "stalling"]
    for ts in steady:
        villages = np.array([int(code[9:]) >= 200 for code, _ in ts.villages])
        assert all(v is None for v in ts.village["community_type"][:, ~villages].ravel()), ts.code
        rank = np.vectorize(order.get)(ts.village["community_type"][:, villages])
        assert (np.diff(rank, axis=0) >= 0).all(), ts.code


def test_townships_differ_in_pace(sim):
    kinds = Counter(ts.kind for ts in sim.townships.values())
    assert kinds == {"ahead": 6, "on_track": 21, "behind": 10, "stalling": 4}  # PACES' shares of 41
    t = sim.periods.index("2020Q4")
    city = _city_share(sim, "micro_unit_pilot", t)
    behind = [ts for ts in sim.townships.values() if ts.kind == "behind"]
    ahead = [ts for ts in sim.townships.values() if ts.kind == "ahead"]
    share = lambda ts: 100 * ts.village["micro_unit_pilot"][t].mean()  # noqa: E731
    assert min(share(ts) for ts in behind) < city <= max(share(ts) for ts in ahead)
    # a stalling township slips back for two consecutive quarters, the others never; a yes/no
    # share falls only in a quarter the township's progress falls
    share_falls = {}
    for ts in sim.townships.values():
        falls = list(np.nonzero(np.diff(ts.progress) < 0)[0])
        if ts.kind == "stalling":
            assert len(falls) == 2 and falls[1] == falls[0] + 1, (ts.code, falls)
        else:
            assert falls == [], ts.code
        for field in ("has_elder_association", "has_legal_adviser"):
            fell = list(np.nonzero(np.diff(ts.village[field].mean(axis=1)) < 0)[0])
            assert set(fell) <= set(falls), (ts.code, field, fell, falls)
            if fell:
                share_falls[ts.code, field] = [sim.periods[i + 1] for i in fell]
    assert share_falls == {("439921201000", "has_elder_association"): ["2022Q1"],   # 枫店乡
                           ("439922204000", "has_legal_adviser"): ["2021Q3"]}      # 云堰乡


def test_demonstration_villages_and_towns(sim):
    t = sim.periods.index("2021Q4")
    levels = [lv for ts in sim.townships.values() for lv in ts.village["demo_village_level"][t]]
    assert levels.count("国家级") == 1 and levels.count("市级") >= 4
    assert sum(lv != "无" for lv in levels) >= 30
    assert all(lv == "无" for ts in sim.townships.values() for lv in ts.village["demo_village_level"][:9].ravel())
    towns = [ts.township["demo_town_level"][t] for ts in sim.townships.values()]
    assert towns.count("国家级申报") == 1 and 4 <= towns.count("市级申报") + towns.count("市级") <= 8


def test_burials_are_quarterly_flows(sim):
    for year in range(2019, 2026):
        idx = [i for i, p in enumerate(sim.periods) if p.startswith(str(year))]
        deaths = sum(ts.village["burials"][idx].sum() for ts in sim.townships.values())
        pop = sum(ts.village["population_registered"][idx[-1]].sum() for ts in sim.townships.values())
        assert 6 <= 1000 * deaths / pop <= 8, year  # a year's four quarters make the annual rate
    by_quarter = np.zeros(4)
    for i, p in enumerate(sim.periods):
        by_quarter[int(p[-1]) - 1] += sum(ts.village["burials"][i].sum() for ts in sim.townships.values())
    assert by_quarter[0] > by_quarter[2]  # more deaths in winter
    assert all((ts.village["eco_burials"] <= ts.village["burials"]).all() for ts in sim.townships.values())


def test_some_returns_are_missing_and_some_late(sim):
    arrivals = [(code, p, ts.arrival[i]) for code, ts in sim.townships.items() for i, p in enumerate(sim.periods)]
    missing = [a for a in arrivals if a[2] is None]
    late = [a for a in arrivals if a[2] is not None and a[2].date() > due_date(a[1], 15)]
    assert 0.015 <= len(missing) / len(arrivals) <= 0.06
    assert 0.06 <= len(late) / len(arrivals) <= 0.16
    for code, p, at in arrivals:
        if at is None:
            continue
        start = period_bounds(p)[1] + dt.timedelta(days=1)
        assert start <= at.date() <= due_date(p, 15) + dt.timedelta(days=40)


def test_report_dates_mostly_on_time(sim):
    q2, q1 = sim.periods.index("2021Q3"), sim.periods.index("2022Q1")
    half = [ts.township["half_year_report_date"][q2] for ts in sim.townships.values()]
    year_end = [ts.township["year_end_report_date"][q1] for ts in sim.townships.values()]
    assert all(isinstance(d, dt.date) for d in half + year_end)
    on_time = sum(d <= dt.date(2021, 7, 5) for d in half)
    assert 0.6 * len(half) <= on_time < len(half)
    assert 0.6 * len(year_end) <= sum(d <= dt.date(2022, 1, 5) for d in year_end) < len(year_end)
    # no half-year date in a Q1 or Q4 return, no year-end date in a Q2 or Q3 return
    for ts in sim.townships.values():
        for i, p in enumerate(sim.periods):
            if p[-1] in "14":
                assert ts.township["half_year_report_date"][i] is None
            else:
                assert ts.township["year_end_report_date"][i] is None


def test_normal_changes_rarely_look_like_outliers(sim):
    """The quarter-on-quarter changes of the simulation seldom meet ingest's ING040 test
    (modified z-score > 3.5 and a large change, or a tenfold jump), computed here the same way."""
    fields = [f.id for f in catalog().sheets["village"].fields if f.type in ("int", "number") and f.kind == "stock"]
    flagged = compared = 0
    for ts in sim.townships.values():
        for t in range(1, len(sim.periods)):
            if ts.arrival[t] is None or ts.arrival[t - 1] is None:
                continue
            compared += 1
            cur = np.stack([ts.village[f][t] for f in fields], axis=1).astype(float)
            old = np.stack([ts.village[f][t - 1] for f in fields], axis=1).astype(float)
            flagged += int(unusual_changes(cur, old).sum())
    assert compared == 1081  # pairs of consecutive quarters that both arrived
    assert flagged <= 10


# ---------------------------------------------------------------------------- the files

def _stored_equals_simulated(con, sim, township: str, period: str, township_sheet: bool = True) -> None:
    stored = submission_values(con, township, period)
    want = sim.values(township, period)
    fields = {f.id: f for f in catalog().sheets["village"].fields}
    rows = {r["village_code"]: r for r in stored["villages"].to_dict("records")}
    assert sorted(rows) == sorted(r["village_code"] for r in want["village"])
    for rec in want["village"]:
        got = rows[rec["village_code"]]
        for fid, v in rec.items():
            g = got[fid]
            g = None if g is None or (isinstance(g, float) and np.isnan(g)) or str(g) in ("<NA>", "NaT") else g
            if fields[fid].type == "bool" and v is not None:
                v = v == "是"
            elif fields[fid].type == "date" and g is not None:
                g = g.date()
            assert g == v, (township, period, rec["village_code"], fid, g, v)
    town = stored["township"].to_dict("records")
    if not township_sheet:
        assert town == []
        return
    [town] = town
    tfields = {f.id: f for f in catalog().sheets["township"].fields}
    for fid, v in want["township"].items():
        g = town[fid]
        if tfields[fid].type == "date":
            g = None if str(g) in ("NaT", "None") else g.date()
        elif tfields[fid].type == "bool":
            v = v == "是"
        assert g == v, (township, period, fid, g, v)


@pytest.mark.parametrize("fmt", ["xlsx", "lite", "csv", "csv-gbk", pytest.param("xls", marks=pytest.mark.slow)])
def test_generated_returns_pass_ingest_in_every_format(con, sim, tmp_path, fmt):
    if fmt == "xls" and soffice() is None:
        if os.environ.get("CI"):
            pytest.fail("LibreOffice (soffice) is required in CI")
        pytest.skip("LibreOffice 未安装:跳过 .xls")
    picks = [("439902001000", "2018Q4"), ("439921203000", "2021Q2"), ("439981201000", "2023Q3")]
    if fmt in ("xlsx", "lite", "csv"):
        picks += [("439922204000", "2020Q1"), ("439902200000", "2025Q4"), ("439981002000", "2019Q4")]
    suffix = {"xlsx": ".xlsx", "lite": ".xlsx", "csv": ".csv", "csv-gbk": ".csv", "xls": ".xls"}[fmt]
    files = []
    for township, period in picks:
        if sim.arrival(township, period) is None:
            continue
        path = tmp_path / return_filename(township, sim.townships[township].name, period, suffix)
        write_return(con, township, period, sim.values(township, period), path,
                        encoding="gbk" if fmt == "csv-gbk" else "utf-8-sig", lite=fmt == "lite")
        files.append((path.name, path.read_bytes()))
    assert len(files) == (5 if fmt in ("xlsx", "lite", "csv") else 3)  # 439981002000 2019Q4 never arrived
    if fmt == "csv-gbk":
        with pytest.raises(UnicodeDecodeError):
            files[0][1].decode("utf-8")
    dry = ingest_uploads(con, files, dry_run=True, actor=ADMIN)
    assert [(r.status, [p.code for p in r.problems]) for r in dry] == [("valid", [])] * len(files)
    reports = ingest_uploads(con, files, actor=ADMIN)
    assert all(r.status == "stored" and not r.problems for r in reports), [r.problems for r in reports]
    for r in reports:
        _stored_equals_simulated(con, sim, r.township_code, r.period, township_sheet=suffix != ".csv")


def test_written_files_are_byte_deterministic(con, sim, tmp_path):
    township, period = "439921204000", "2024Q2"
    values = sim.values(township, period)
    for kind, kw in (("a.xlsx", {}), ("b.xlsx", {"lite": True}), ("c.csv", {}), ("d.csv", {"encoding": "gbk"})):
        one = write_return(con, township, period, values, tmp_path / "1" / kind, **kw).read_bytes()
        two = write_return(con, township, period, values, tmp_path / "2" / kind, **kw).read_bytes()
        assert one == two, kind
    # dated by the return (9:00 on the 5th of the month after the quarter), never by the clock:
    # the template's zip entries carry that time, XlsxWriter's its fixed 1980-01-01
    for kind, entry_time in (("a.xlsx", (2024, 7, 5, 9, 0, 0)), ("b.xlsx", (1980, 1, 1, 0, 0, 0))):
        with zipfile.ZipFile(tmp_path / "1" / kind) as zf:
            assert {i.date_time for i in zf.infolist()} == {entry_time}, kind
            core = zf.read("docProps/core.xml").decode()
        assert core.count(">2024-07-05T09:00:00Z</dcterms:") == 2, (kind, core)  # created and modified


def test_csv_is_laid_out_like_a_sheet_saved_as_csv(con, sim, tmp_path):
    township, period = "439921101000", "2024Q3"
    path = write_return(con, township, period, sim.values(township, period), tmp_path / "x.csv")
    lines = path.read_bytes().decode("utf-8-sig").split("\r\n")
    n = len(catalog().sheets["village"].fields)
    assert lines[0].startswith("乡村治理目标监测季度报表(村级情况)") and lines[0].count(",") == n - 1
    assert lines[1].startswith("表号:乡治季1表,") and "制定机关:" in lines[1]
    assert lines[2].startswith("填报单位:黄嘴镇(439921101000),") and "报告期:2024年第3季度" in lines[2]
    assert lines[4].split(",")[:3] == ["village_code", "village_name", "population_registered"]
    assert lines[5].startswith("4399211012")
    assert lines[-2].startswith("单位负责人:")


# ---------------------------------------------------------------------------- committed samples

def test_committed_samples_are_what_the_generator_makes(con, sim, tmp_path):
    """Every file of data/samples/returns holds exactly the simulated values (hand edits fail
    here); the CSV files and the README are compared byte for byte."""
    samples = committed.committed_samples(sim)
    present = {p.name for p in committed.RETURNS_DIR.iterdir()}
    assert present == {s.name for s in samples} | {"README.md"}
    assert (committed.RETURNS_DIR / "README.md").read_text(encoding="utf-8") == committed.returns_readme(sim, samples)
    files = [(s.name, s.path.read_bytes()) for s in samples]
    reports = ingest_uploads(con, files, uploaded_at=lambda name: dt.datetime(2026, 1, 20), actor=ADMIN)
    assert all(r.status == "stored" and not r.errors for r in reports), [(r.file, r.problems) for r in reports]
    for s, r in zip(samples, reports):
        assert (r.township_code, r.period) == (s.township, s.period)
        _stored_equals_simulated(con, sim, s.township, s.period, township_sheet=s.suffix != ".csv")
        if s.suffix == ".csv":
            assert s.path.read_bytes() == committed.write_sample(con, sim, s, tmp_path).read_bytes(), s.name
        if s.suffix == ".xls":
            assert s.path.read_bytes()[:4] == b"\xd0\xcf\x11\xe0", s.name  # a real BIFF workbook
        if s.encoding == "gbk":
            with pytest.raises(UnicodeDecodeError):
                s.path.read_bytes().decode("utf-8")
    kinds = [s.suffix for s in samples]
    assert kinds.count(".xls") == 2 and kinds.count(".csv") == 2
    assert {s.encoding for s in samples if s.suffix == ".csv"} == {"utf-8-sig", "gbk"}
    size = sum(p.stat().st_size for p in committed.RETURNS_DIR.iterdir())
    assert size < 2_000_000


# ---------------------------------------------------------------------------- init

@pytest.mark.slow
def test_init_builds_the_whole_history_and_is_idempotent(registry_db, sim, tmp_path, monkeypatch):
    """``init_database`` end to end: every return stored (none rejected) with its arrival time,
    the committed samples ingested from data/samples/returns, and a second run that is quick and
    changes nothing — even after the generated files are deleted and written again."""
    monkeypatch.setattr(committed, "GENERATED_DIR", tmp_path / "generated")
    path = tmp_path / "init.duckdb"
    con = db.connect(path)
    try:
        started = time.perf_counter()
        report = init_database(con, progress=False)
        first_s = time.perf_counter() - started
        arrived = len(sim.returns())
        assert report["files"] == arrived and report["rejected"] == 0, report
        assert report["stored"] == arrived and report["generated"] == arrived - report["committed_samples"]
        assert report["committed_samples"] == len(committed.committed_samples(sim))
        assert report["warnings"] <= 20
        assert con.execute("SELECT count(*) FROM submissions").fetchall()[0][0] == arrived
        rows = con.execute("SELECT township_code, period, uploaded_at, file_name FROM submissions").fetchall()
        for township, period, at, name in rows:
            assert at == sim.arrival(township, period), (township, period)
        assert {s.name for s in committed.committed_samples(sim)} <= {name for *_, name in rows}

        started = time.perf_counter()
        again = init_database(con, progress=False)
        second_s = time.perf_counter() - started
        assert again["unchanged"] == arrived and again["stored"] == again["rejected"] == again["generated"] == 0
        assert second_s < 15, second_s

        # the sample's history is approved: a clerk's corrected upload is refused (locked) until the county
        # unlocks it; then it is stored, and kept by a later init
        township, period = "439922204000", "2025Q4"
        values = sim.values(township, period)
        values["village"][0]["social_orgs"] += 1
        mine = write_return(con, township, period, values, tmp_path / "mine.xlsx")
        clerk_user = User(name="clerk", role="clerk", unit=township)
        [locked] = ingest_uploads(con, [(mine.name, mine.read_bytes())], actor=clerk_user)
        assert locked.status == "rejected" and [p.code for p in locked.errors] == ["ING052"]
        [sid] = con.execute("SELECT id FROM submissions WHERE township_code = ? AND period = ? AND status = 'active'",
                            [township, period]).fetchone()
        unlock(con, ADMIN, sid, "测试:允许乡镇更正")
        [clerk] = ingest_uploads(con, [(mine.name, mine.read_bytes())], actor=clerk_user)
        assert clerk.status == "stored"

        shutil.rmtree(tmp_path / "generated")
        third = init_database(con, progress=False)
        assert third["generated"] > 0 and third["stored"] == 0
        assert third["unchanged"] == arrived - 1 and third["kept"] == 1
        assert con.execute("SELECT uploaded_by FROM submissions WHERE township_code = ? AND period = ? "
                           "AND status = 'active'", [township, period]).fetchall() == [("clerk",)]
    finally:
        con.close()
    print(f"init: first run {first_s:.1f} s, second run {second_s:.1f} s")


def test_communities_have_values_of_their_own(sim):
    """The sample's 社区 (居委会: 街道, county seats and town seats) report what a residents' committee
    has — many social organisations, no first secretary, no poverty or weak-economy flag, no
    demonstration-village title, no 农村社区 type, no autonomy pilot — so that a 村 target and a
    村(社区) target differ on the sample."""
    last = sim.periods.index("2025Q4")
    orgs = {True: [], False: []}
    for ts in sim.townships.values():
        comm = np.array([int(code[9:]) < 200 for code, _ in ts.villages])
        if not comm.any():
            continue
        for fid in ("has_first_secretary", "flag_poor", "flag_weak_economy", "flag_weak_party_org",
                    "weak_help_designated"):
            assert not ts.village[fid][:, comm].any(), (ts.code, fid)
        assert set(ts.village["demo_village_level"][:, comm].ravel()) == {"无"}, ts.code
        assert set(ts.village["autonomy_pilot_theme"][:, comm].ravel()) == {"无"}, ts.code
        assert all(v is None for v in ts.village["community_type"][:, comm].ravel()), ts.code
        for is_comm in (True, False):
            orgs[is_comm] += list(ts.village["social_orgs"][last, comm == is_comm])
    n_comm = sum(int(code[9:]) < 200 for ts in sim.townships.values() for code, _ in ts.villages)
    assert n_comm == 30
    assert np.nanmean(orgs[True]) > 1.5 * np.nanmean(orgs[False])
