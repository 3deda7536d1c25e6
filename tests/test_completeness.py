"""Reporting completeness and timeliness on the tiny region of fixture_region.py.

Returns are due on the 15th of the month after the quarter (settings.reporting.due_day).
甲镇 and 乙镇 have villages, 丙镇 has none (nothing to report).
"""
from __future__ import annotations

import datetime as dt
import json

import pytest

import fixture_region as F
from pipelines.cli.main import main
from pipelines.compute.completeness import completeness, township_returns


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    root = tmp_path_factory.mktemp("region")
    con, cat = F.build(root)
    yield con, cat, root / "region.duckdb"
    con.close()


def town(report, code):
    return next(r for r in report["townships"] if r["township_code"] == code)


def test_expected_received_on_time(region):
    con, cat, _ = region
    r = completeness(con, "2019Q1", cat=cat)
    assert r["due_date"] == "2019-04-15"
    assert (r["expected"], r["received"], r["on_time"], r["late"], r["missing"]) == (2, 2, 2, 0, 0)
    assert F.TC not in {t["township_code"] for t in r["townships"]}        # no villages: nothing expected
    assert town(r, F.TA)["first_upload"] == "2019-04-10 10:00" and town(r, F.TA)["status_zh"] == "按时报送"


def test_the_first_upload_counts_not_a_later_one(region):
    con, cat, _ = region
    a = town(completeness(con, "2019Q2", cat=cat), F.TA)
    assert (a["on_time"], a["late"], a["uploads"]) == (1, 0, 2)            # re-sent on 2019-08-20


def test_late_with_days(region):
    con, cat, _ = region
    b = town(completeness(con, "2020Q1", cat=cat), F.TB)
    assert (b["status"], b["late"], b["late_days"]) == ("late", 1, 5)      # 2020-04-20 for 2020-04-15


def test_missing_and_the_chase_list(region):
    con, cat, _ = region
    r = completeness(con, "2019Q3", cat=cat)
    assert (r["received"], r["missing"]) == (1, 1)
    assert [(c["township_code"], c["last_return"]) for c in r["chase"]] == [(F.TB, "2019Q2")]
    county = next(x for x in r["rollups"] if x["unit_code"] == F.COUNTY)
    city = next(x for x in r["rollups"] if x["unit_code"] == F.CITY)
    assert (county["completeness"], county["timeliness"]) == (50.0, 50.0) and city["expected"] == 2


def test_not_yet_due_is_pending_not_missing(region):
    con, cat, _ = region
    before = town(completeness(con, "2020Q4", cat=cat, today=dt.date(2021, 1, 10)), F.TB)
    after = town(completeness(con, "2020Q4", cat=cat, today=dt.date(2021, 1, 16)), F.TB)
    assert before["status"] == "pending" and after["status"] == "missing"


def test_rollups_by_county_and_city(region):
    con, cat, _ = region
    r = completeness(con, "2020Q1", cat=cat)
    levels = {x["unit_code"]: x for x in r["rollups"]}
    assert set(levels) == {F.COUNTY, F.CITY}
    assert levels[F.CITY]["completeness"] == 100.0 and levels[F.CITY]["timeliness"] == 50.0


def test_only_under_a_unit(region):
    con, cat, _ = region
    frame = township_returns(con, "2019Q1", cat=cat, unit=F.TA)
    assert list(frame["township_code"]) == [F.TA]


def test_cli_completeness_json(region, capsys):
    _, _, db = region
    assert main(["--db", str(db), "completeness", "--period", "2019Q3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["missing"] == 1 and out["chase"][0]["township_code"] == F.TB
    assert main(["--db", str(db), "completeness", "--period", "2019Q3"]) == 0
    text = capsys.readouterr().out
    assert "催报名单" in text and "乙镇" in text
    assert main(["--db", str(db), "completeness", "--period", "2019Q9"]) == 2      # a bad period: one clear line
