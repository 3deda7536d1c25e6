"""Issue 9 on the bundled sample city: every target of the five plans gets a verdict, the town-seat
居委会 are left out of the 村 targets, and the verdict columns are there for a circular."""
from __future__ import annotations

import duckdb
import pytest

from pipelines.catalog.definitions import catalog
from pipelines.compute.assess import assess_frame

VERDICTS = {"met", "met_late", "on_track", "due_soon", "lagging", "severely_lagging", "missed"}


@pytest.fixture(scope="module")
def sample(sample_db_file):
    con = duckdb.connect(str(sample_db_file), read_only=True)
    yield con, catalog(), assess_frame(con, catalog())
    con.close()


def test_every_target_of_the_five_plans_is_judged_on_the_sample(sample):
    con, cat, rows = sample
    seen = rows.groupby("target")["status"].agg(set).to_dict()
    for plan in cat.plans.values():
        for t in plan.targets:
            statuses = seen.get(t.id, set())
            if t.guideline:          # a planning norm: shown, never judged
                assert statuses and statuses <= {"not_judged", "no_data", "incomplete"}, (t.id, statuses)
            else:
                assert statuses & VERDICTS, (t.id, statuses)


def test_the_sample_has_targets_met_late_incomplete_and_strive(sample):
    _, cat, rows = sample
    late = rows[rows["status"] == "met_late"]
    # met after the deadline: the verdict there stays missed (or incomplete: too few returns to know)
    assert len(late) and late["verdict_at_deadline"].isin(["missed", "incomplete"]).all()
    assert (late["verdict_at_deadline"] == "missed").any()
    assert (rows["status"] == "incomplete").any()
    strive = {t.id for p in cat.plans.values() for t in p.targets if t.strive}
    assert set(rows.loc[rows["strive"].astype(bool), "target"]) == strive
    assert rows["coverage"].between(0, 1).all()


def test_town_seat_committees_are_not_counted_for_village_targets(sample):
    """cd-elder-assoc (覆盖90%以上的村, population 村): a township's expected units are its 村委会 only."""
    con, cat, rows = sample
    counts = con.execute(
        "SELECT parent_code, count(*) FILTER (WHERE committee_type = '村委会'), "
        "count(*) FILTER (WHERE committee_type = '居委会') FROM units WHERE level = 'village' "
        "AND valid_to IS NULL GROUP BY parent_code HAVING count(*) FILTER (WHERE committee_type = '居委会') > 0 "
        "AND count(*) FILTER (WHERE committee_type = '村委会') > 0 ORDER BY parent_code LIMIT 1").fetchall()
    assert counts, "the sample city has a township with both 村 and 社区"
    town, villages, communities = counts[0]
    row = rows[(rows["target"] == "cd-elder-assoc") & (rows["unit_code"] == town) & (rows["period"] == "2025Q4")]
    assert len(row) == 1
    assert row.iloc[0]["expected"] == villages != villages + communities
    both = rows[(rows["target"] == "cd-township-sw-station") & (rows["level"] == "village")]
    assert both.empty          # a township target has no village rows
