"""后进名单 as a circular (通报): several targets in one list and one .xlsx, file names that say what
they hold, the issuing unit and date, and a status filter that starts again when the list changes
(Streamlit AppTest on the sample database, as tests/test_dashboard.py)."""
from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pandas as pd
import pytest

from pipelines.compute.laggards import laggards
from pipelines.report.formats import issue_date, issuer
from pipelines.store import db
from pipelines.units import LEVEL_ZH
from test_dashboard import ADMIN, CITY, LAG_TARGET, app, ok

SECOND = "cd-first-secretary"          # judged per village, township and county, as LAG_TARGET
TOWNSHIP_ONLY = "cd-township-sw-station"   # judged per township and county, never per village
TODAY = dt.date(2020, 7, 20)
GOOD = ("met", "met_late", "on_track", "not_judged")     # left out of the status filter by default


@pytest.fixture(autouse=True)
def signed_in(monkeypatch):
    """Queries called outside a page run as the signed-in test administrator, on a fixed day."""
    from dashboard import queries

    monkeypatch.setattr(queries, "user", lambda: ADMIN)
    monkeypatch.setattr(queries, "today", lambda: TODAY)


@pytest.fixture
def downloads(monkeypatch) -> list[dict]:
    """What the page hands to its download buttons: file name, table (CSV) and the .xlsx (built)."""
    from dashboard import ui

    seen: list[dict] = []

    def record(df, name, key, title=None, xlsx=None):
        seen.append({"name": name, "key": key, "table": df, "xlsx": xlsx() if xlsx else None})

    monkeypatch.setattr(ui, "downloads", record)
    return seen


def _laggards(path, target: str, level: str) -> list[dict]:
    with db.session(path, read_only=True) as con:
        return laggards(con, target, level, unit=CITY, period="2020Q2")


def _status_filter(at):
    return next(m for m in at.multiselect if m.key.startswith("lag_status"))


def _default_statuses(rows: list[dict]) -> list[str]:
    """The statuses the filter starts with for a ranked list: every one present but the good ones."""
    from dashboard.ui import STATUS_ORDER

    present = [s for s in STATUS_ORDER if s in {r["status"] for r in rows}]
    return [s for s in present if s not in GOOD] or present


def _lag(downloads: list[dict]) -> dict:
    return [d for d in downloads if d["key"] == "lag"][-1]


def _page():
    return ok(app("laggards", plan="changde-2018", asof="2020Q2", sel_target=LAG_TARGET))


def test_one_target_is_as_simple_as_before_and_its_file_says_what_it_holds(dash_db, downloads):
    from dashboard import queries

    at = _page()
    assert at.multiselect(key="lag_targets").value == [LAG_TARGET]       # the target shared with the other pages
    assert at.multiselect(key="lag_targets").proto.placeholder == "选择一个或多个目标"
    assert not at.header                                                 # no per-target headings for one target
    title = queries.target_info(LAG_TARGET)["title"]
    assert _lag(downloads)["name"] == f"后进名单_区县_{title}_示例市_2020Q2"
    wb = openpyxl.load_workbook(io.BytesIO(_lag(downloads)["xlsx"]))
    assert len(wb.sheetnames) == 1 and wb.active["A1"].value == f"{title}后进名单"


def test_two_targets_make_one_circular_with_both_lists(dash_db, downloads):
    from dashboard import queries

    at = _page()
    at.multiselect(key="lag_targets").set_value([LAG_TARGET, SECOND]).run()
    at.radio(key="lag_level").set_value("township").run()
    ok(at)
    titles = [queries.target_info(t)["title"] for t in (LAG_TARGET, SECOND)]
    assert [h.value for h in at.header] == titles                       # each list under its target
    assert at.session_state["sel_target"] == LAG_TARGET                 # still shared with the other pages

    keep = _status_filter(at).value
    expected = {t: [r for r in _laggards(dash_db, t, "township") if r["section"] != "ranked" or r["status"] in keep]
                for t in (LAG_TARGET, SECOND)}
    assert all(expected.values())
    got = _lag(downloads)
    assert got["name"] == "后进名单_乡镇_2项目标_示例市_2020Q2"

    # the CSV: one table, the target in a column, every listed unit of each target
    csv = got["table"]
    assert list(csv.columns[:2]) == ["目标", "计量单位"]
    for t, title in zip((LAG_TARGET, SECOND), titles):
        assert list(csv.loc[csv["目标"] == title, "单位"]) == [r["unit_name"] for r in expected[t]]

    # the .xlsx: a sheet per target, each with its title, rows, notes, issuer and date; numbers as numbers
    wb = openpyxl.load_workbook(io.BytesIO(got["xlsx"]))
    assert len(wb.sheetnames) == 2
    for ws, t, title in zip(wb.worksheets, (LAG_TARGET, SECOND), titles):
        assert ws["A1"].value == f"{title}后进名单"
        header = [c.value for c in ws[5]]
        assert header[:3] == ["排名", "单位", "所属"] and header[3] == "当前值(%)"
        units = [ws.cell(r, 2).value for r in range(6, ws.max_row + 1) if ws.cell(r, 2).value is not None]
        assert units == [r["unit_name"] for r in expected[t]]
        ranked = [r for r in range(6, ws.max_row + 1) if isinstance(ws.cell(r, 1).value, int)]
        for col, fmt in ((4, "0.0"), (7, "0.0%")):                                          # 当前值, 完成进度
            values = [ws.cell(r, col).value for r in ranked]
            assert ranked and all(v is None or type(v) in (int, float) for v in values) and any(values), values
            assert {ws.cell(r, col).number_format for r in ranked} == {fmt}
        cells = [c for row in ws.iter_rows() for c in row if c.value is not None]
        assert not [c.coordinate for c in cells if c.data_type == "f"]                       # no formula
        texts = [str(c.value) for c in cells]
        assert any(queries.target_info(t)["reading"] in x for x in texts)                    # its notes
        # 落款: the issuing unit, then the date, at the bottom right
        assert texts[-2:] == [issuer("示例市"), issue_date(TODAY)] == ["示例市民政局", "2020年7月20日"]
        bottom = [c for c in cells if str(c.value) in texts[-2:]]
        assert all(c.alignment.horizontal == "right" for c in bottom)


def test_the_levels_are_those_of_every_chosen_target(dash_db, downloads):
    from dashboard import queries

    at = _page()
    at.radio(key="lag_level").set_value("village").run()
    at.multiselect(key="lag_targets").set_value([LAG_TARGET, TOWNSHIP_ONLY]).run()
    ok(at)
    common = [lv for lv in queries.judged_levels(LAG_TARGET, "city") if lv in queries.judged_levels(TOWNSHIP_ONLY, "city")]
    assert "village" not in common and at.radio(key="lag_level").options == [LEVEL_ZH[lv] for lv in common]
    assert at.radio(key="lag_level").value == common[0]                  # the village level is gone: the first
    assert _lag(downloads)["name"].startswith("后进名单_区县_2项目标_")


def test_the_status_filter_starts_again_when_the_target_or_level_changes(dash_db, downloads):
    at = _page()
    at.radio(key="lag_level").set_value("township").run()
    default = _status_filter(at).value
    assert default and not {"met", "on_track"} & set(default)
    _status_filter(at).set_value(["severely_lagging"]).run()            # a narrow filter …
    towns = [r for r in _laggards(dash_db, LAG_TARGET, "township") if r["section"] == "ranked"]
    assert list(at.dataframe[0].value["单位"]) == [r["unit_name"] for r in towns if r["status"] == "severely_lagging"]

    # … another target starts from the default statuses: no row of its list silently left out
    at.multiselect(key="lag_targets").set_value([SECOND]).run()
    ok(at)
    second = [r for r in _laggards(dash_db, SECOND, "township") if r["section"] == "ranked"]
    assert _status_filter(at).value == _default_statuses(second) != ["severely_lagging"]
    assert list(at.dataframe[0].value["单位"]) == [r["unit_name"] for r in second if r["status"] not in GOOD]

    # … and so does another level
    _status_filter(at).set_value(["severely_lagging"]).run()
    at.radio(key="lag_level").set_value("county").run()
    ok(at)
    counties = [r for r in _laggards(dash_db, SECOND, "county") if r["section"] == "ranked"]
    assert _status_filter(at).value == _default_statuses(counties) != ["severely_lagging"]
    assert list(at.dataframe[0].value["单位"]) == [r["unit_name"] for r in counties if r["status"] not in GOOD]


def test_circular_name_and_sheet_names():
    from dashboard import exports

    assert exports.circular_name("村", ["农村老年协会覆盖率"], "示例市", "2020Q3") == "后进名单_村_农村老年协会覆盖率_示例市_2020Q3"
    assert exports.circular_name("村", ["甲", "乙", "丙"], "示例市", "2020Q3") == "后进名单_村_3项目标_示例市_2020Q3"
    assert exports.circular_name("村", ['村"123"后备人才/储备'], "示例市", "2020Q3") == "后进名单_村_村-123-后备人才-储备_示例市_2020Q3"
    names = [exports.sheet_title(i, t, 2) for i, t in enumerate(["甲目标后进名单", "乙:目标[1]" + "很长" * 20])]
    assert names[0] == "1.甲目标" and names[1].startswith("2.乙目标1") and len(names[1]) == 31


def test_a_circular_of_two_parts_keeps_numbers_and_has_no_formula():
    from dashboard import exports

    def frame(names):
        return pd.DataFrame({"rank": [1, 2], "unit_name": names, "unit_code": ["439921101000", "439921100000"],
                             "value": [10.5, 20.0], "target_value": [50.0, 50.0], "pi": [0.2, 0.4], "tau": [0.8, 0.8],
                             "status": ["severely_lagging", "lagging"]})

    parts = [exports.CircularPart(frame(["甲镇", "乙镇"]), "目标一后进名单", "%", ["注一"], target="目标一"),
             exports.CircularPart(frame(["丙镇", "=丁镇"]), "目标二后进名单", "个", ["注二"], target="目标二")]
    data = exports.circulars_xlsx(parts, subtitle="(规划)", asof_text="截至2020年第2季度", scope="碧泉县",
                                  made=dt.date(2020, 7, 20))
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["1.目标一", "2.目标二"]
    ws = wb.worksheets[1]
    assert ws["A1"].value == "目标二后进名单" and ws["B7"].value == "=丁镇" and ws["B7"].data_type == "s"
    assert ws["D6"].value == 10.5 and ws["F6"].value == -39.5 and ws["G6"].value == 0.2
    values = [c.value for row in ws.iter_rows() for c in row if c.value is not None]
    assert values[-2:] == ["碧泉县民政局", "2020年7月20日"]
    table = exports.circular_table(parts)
    assert list(table["目标"]) == ["目标一", "目标一", "目标二", "目标二"] and list(table["计量单位"]) == ["%", "%", "个", "个"]
