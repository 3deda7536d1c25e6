"""Reporting completeness and timeliness on the tiny region of fixture_region.py.

Returns are due on the 15th of the month after the quarter (settings.reporting.due_day).
甲镇 and 乙镇 have villages, 丙镇 has none (nothing to report). 乙镇 sent nothing for 2019Q3 and
2020Q4, so those quarters have 1 of 2 returns — below settings.progress.min_coverage (0.9): never the
default quarter.
"""
from __future__ import annotations

import datetime as dt
import json

import pytest

import fixture_region as F
from pipelines.cli.main import main
from pipelines.compute.completeness import completeness, default_quarter, quarter_summary, township_returns


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


# ---------------------------------------------------------------- every quarter and the default quarter

def test_every_quarter_up_to_today_is_listed_also_one_nobody_reported(region):
    con, cat, _ = region
    summary = quarter_summary(con, cat=cat, today=dt.date(2021, 5, 1)).set_index("period")
    assert list(summary.index) == F.PERIODS + ["2021Q1", "2021Q2"]          # first return … today's quarter
    nobody = summary.loc["2021Q1"]                                           # due 2021-04-15, nothing sent
    assert (nobody["expected"], nobody["received"], nobody["missing"], nobody["coverage"]) == (2, 0, 2, 0.0)
    assert bool(nobody["due"]) and not bool(nobody["enough"])
    assert (summary.loc["2021Q2", "pending"], bool(summary.loc["2021Q2", "due"])) == (2, False)
    assert summary.loc["2019Q3", "coverage"] == 0.5 and not bool(summary.loc["2019Q3", "enough"])
    r = completeness(con, "2021Q1", cat=cat, today=dt.date(2021, 5, 1))
    assert (r["expected"], r["received"], r["missing"]) == (2, 0, 2)
    assert [c["township_code"] for c in r["chase"]] == [F.TA, F.TB]        # the chase list has everyone


@pytest.mark.parametrize("today, expected", [
    (dt.date(2021, 5, 1), "2020Q3"),     # 2020Q4 and 2021Q1 are due but have 1 and 0 of 2 returns
    (dt.date(2020, 10, 20), "2020Q3"),   # 2020Q3 due on 2020-10-15: passed, 2 of 2
    (dt.date(2020, 10, 10), "2020Q2"),   # 2020Q3 not due yet
    (dt.date(2019, 11, 1), "2019Q2"),    # 2019Q3: 1 of 2, below min_coverage
    (dt.date(2019, 4, 1), None),         # nothing due yet
])
def test_default_quarter_is_due_and_complete_enough(region, today, expected):
    con, cat, _ = region
    assert cat.settings.progress.min_coverage == 0.9
    assert default_quarter(con, cat, today) == expected


def test_default_quarter_follows_min_coverage(region):
    con, cat, _ = region
    lenient = cat.model_copy(update={"settings": cat.settings.model_copy(update={
        "progress": cat.settings.progress.model_copy(update={"min_coverage": 0.5})})})
    assert default_quarter(con, lenient, dt.date(2021, 5, 1)) == "2020Q4"   # 1 of 2 is enough at 50 %


def test_cli_completeness_without_a_period_lists_every_quarter_then_the_default_one(region, capsys):
    _, _, db = region
    assert main(["--db", str(db), "completeness", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["period"], out["period_rule"]) == ("2020Q3", "default")
    quarters = {q["period"]: q for q in out["quarters"]}
    assert quarters["2021Q1"]["received"] == 0 and quarters["2021Q1"]["missing"] == 2   # nobody reported
    assert quarters["2020Q4"]["received"] == 1 and quarters["2020Q4"]["enough"] is False
    assert main(["--db", str(db), "completeness"]) == 0
    text = capsys.readouterr().out
    assert "各季度报送情况" in text and "2021年第1季度" in text and "默认季度" in text and "2020Q3 报表" in text

