"""The dashboard on the sample database (Streamlit AppTest, a real DuckDB file).

The sample database (`rural-targets init`: the sample city, its returns 2018Q4–2025Q4) is built
once per test session (conftest.py: ``sample_db_file``); each test works on its own copy
(``dash_db``). Every page: renders without exception, shows its key widgets, and changes its
content when a control changes.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import yaml
from streamlit.testing.v1 import AppTest

from pipelines.catalog.definitions import catalog
from pipelines.compute.laggards import laggards
from pipelines.periods import shift
from pipelines.registry.load import load_registry
from pipelines.samples.init import REGION_DIR
from pipelines.store import db
from pipelines.access.roles import User, local_admin
from conftest import as_account, drain_queue, unlock_for_upload

ADMIN = local_admin("测试管理员")

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "dashboard" / "app.py")
BAD_DIR = ROOT / "data" / "samples" / "bad"
GOOD = ROOT / "data" / "samples" / "returns" / "439921101000_黄嘴镇_2025Q4.xlsx"
WARNED = BAD_DIR / "ING040_数值异常变化.xlsx"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CITY, COUNTY, TOWNSHIP = "439900000000", "439921000000", "439921101000"   # 示例市, 碧泉县, 黄嘴镇
LAG_TARGET = "cd-left-behind-home"   # every village, a strive target (力争); judged per village, township, county
PAGES = {
    "overview": "总览", "map": "进度地图", "laggards": "后进名单", "trends": "趋势", "upload": "数据上报",
    "completeness": "报送情况", "milestones": "任务督办", "catalog": "目标目录", "region": "区划名录",
}


@pytest.fixture(autouse=True)
def signed_in(monkeypatch):
    """Queries called outside a page run as the signed-in test administrator."""
    from dashboard import queries

    monkeypatch.setattr(queries, "user", lambda: ADMIN)


def app(page: str | None = None, params: dict[str, str] | None = None, as_user: User | None = ADMIN,
        **state) -> AppTest:
    """The dashboard at ``page`` (a file stem of dashboard/app_pages) with sidebar state, run once,
    signed in as ``as_user`` (None: nobody signed in)."""
    at = AppTest.from_file(APP, default_timeout=120)
    for k, v in (params or {}).items():
        at.query_params[k] = v
    if as_user is not None:
        at.session_state["user"] = as_user
    for k, v in state.items():
        at.session_state[k] = v
    if page:
        at.switch_page(f"app_pages/{page}.py")
    return at.run()


def ok(at: AppTest) -> AppTest:
    """No exception and no unexpected error (the catalogue's DSH001 means an internal error)."""
    assert not at.exception, [e.message for e in at.exception]
    internal = [e.value for e in at.error if "DSH001" in str(e.value)]
    assert not internal, internal
    return at


def _status_words(text: str) -> bool:
    """Whether ``text`` is a status as the views word it (pipelines.compute.rules)."""
    from pipelines.compute.rules import STATUS_ZH, STRIVE_MISSED_ZH

    return text == STRIVE_MISSED_ZH or any(text.startswith(zh) for zh in STATUS_ZH.values())


def texts(at: AppTest) -> str:
    return "\n".join(str(x.value) for kind in ("markdown", "caption", "warning", "info", "error", "success")
                     for x in at.get(kind))


# ---------------------------------------------------------------- the frame

@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_with_the_sidebar(dash_db, page):
    at = ok(app(page, plan="changde-2018"))
    assert at.title[0].value == PAGES[page]
    for key in ("plan", "asof", "city", "county"):
        assert at.selectbox(key=key) is not None
    assert at.radio(key="basis").value == "now"
    assert at.selectbox(key="asof").value == "2025Q4"          # the default quarter: due, 41/41 reported
    assert at.selectbox(key="city").value == CITY
    # drilling down to a county and a township: the page still renders, for the narrower scope
    at.selectbox(key="county").select(COUNTY).run()
    ok(at)
    assert at.selectbox(key="township").value is None
    at.selectbox(key="township").select(TOWNSHIP).run()
    ok(at)
    assert TOWNSHIP in str(at.query_params["township"])


def test_view_is_read_from_the_link_and_written_back(dash_db):
    at = ok(app("catalog", params={"plan": "jiaxing-2018", "asof": "2020Q2", "county": COUNTY}))
    assert at.selectbox(key="plan").value == "jiaxing-2018"
    assert at.selectbox(key="asof").value == "2020Q2"
    assert at.selectbox(key="county").value == COUNTY
    assert at.query_params["plan"] == "jiaxing-2018"
    # a change in the sidebar goes into the URL
    at.selectbox(key="county").select(None).run()
    ok(at)
    assert "county" not in at.query_params
    at.selectbox(key="plan").select("changde-2018").run()
    assert "changde-2018" in str(at.query_params["plan"])
    # the view is kept when switching pages
    at.switch_page("app_pages/region.py").run()
    assert at.selectbox(key="plan").value == "changde-2018" and at.selectbox(key="asof").value == "2020Q2"
    # a target in the link is kept through pages without targets and selected on the first that has them
    at = ok(app("catalog", params={"plan": "changde-2018", "target": "cd-volunteers"}))
    assert "cd-volunteers" in str(at.query_params["target"])
    at.switch_page("app_pages/trends.py").run()
    assert at.selectbox(key="trend_target").value == "cd-volunteers"


def test_a_bad_link_parameter_is_a_warning_not_an_error(dash_db):
    at = ok(app("catalog", params={"plan": "nowhere-1999", "county": "123"}))
    warnings = [w.value for w in at.warning]
    assert any("链接中的规划" in w and "nowhere-1999" in w for w in warnings), warnings
    assert at.selectbox(key="plan").value in {"beijing-2021", "changde-2018", "jiaxing-2018", "qianjiang-2021",
                                              "sichuan-2021"}


def test_an_empty_database_says_where_to_upload(tmp_path, monkeypatch):
    path = tmp_path / "empty.duckdb"
    con = db.connect(path)
    load_registry(con, [REGION_DIR / "units.csv"], geojson=REGION_DIR / "boundaries.geojson", actor=ADMIN)
    con.close()
    monkeypatch.setenv(db.ENV_VAR, str(path))
    for page in ("overview", "laggards", "trends", "completeness"):
        at = ok(app(page))
        assert any("还没有任何乡镇报表" in w.value for w in at.warning), page
        assert any(link.proto.page == "upload" and "数据上报" in link.label for link in at.get("page_link"))
    at = ok(app("upload"))               # the upload page itself works on an empty database
    assert at.get("file_uploader")


def test_a_locked_database_is_a_message_not_a_traceback(dash_db):
    """Another process writing (the CLI) → GEN002 请稍后再试, never a traceback."""
    holder = subprocess.Popen([sys.executable, "-c", (
        "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('locked', flush=True); time.sleep(60)"),
        str(dash_db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        at = app("catalog")
        assert not at.exception
        errors = [e.value for e in at.error]
        assert any("请稍后再试" in e and "GEN002" in e for e in errors), errors
        assert not any(str(dash_db.parent) in e for e in errors), errors          # no server path on the page
    finally:
        holder.kill()
        holder.wait()


def test_an_internal_error_shows_a_message_without_traceback(dash_db, monkeypatch):
    from dashboard import queries

    def broken(*_a, **_k):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(queries, "unit_counts", broken)
    at = app("region")
    assert not at.exception
    [err] = [e.value for e in at.error]
    assert "DSH001" in err and "ZeroDivisionError" in err and "Traceback" not in err and "boom" not in err


# ---------------------------------------------------------------- 目标目录, 区划名录

def test_catalog_page_lists_every_plan_with_its_clauses(dash_db):
    at = ok(app("catalog"))
    plan_box = at.selectbox(key="plan")
    assert len(plan_box.options) == 5
    first = at.dataframe[0].value
    assert list(first["编号"]) == [t.id for t in catalog().plan(plan_box.value).targets]
    plan_box.select("jiaxing-2018").run()
    second = at.dataframe[0].value
    assert list(second["编号"]) == [t.id for t in catalog().plan("jiaxing-2018").targets]
    assert "jx-social-orgs-10" in list(second["编号"])
    assert any("每个农村社区要建成10个以上社区社会组织" in m.value for m in at.markdown)
    assert [b.label for b in at.get("download_button")][:2] == ["⬇ 下载 Excel", "⬇ 下载 CSV"]


def test_catalog_page_shows_population_strive_judged_level_and_reading(dash_db):
    at = ok(app("catalog", plan="changde-2018"))
    table = at.dataframe[0].value.set_index("编号")
    targets = catalog().plan("changde-2018").targets
    assert {"口径", "力争", "判定层级", "解读"} <= set(table.columns)
    for t in targets:
        assert table.at[t.id, "口径"] == t.population and table.at[t.id, "解读"] == t.reading
        assert table.at[t.id, "力争"] == ("力争目标" if t.strive else "")
    strive = next(t for t in targets if t.strive)
    scoped = next(t for t in targets if t.judged_at == "scope")
    assert table.at[scoped.id, "判定层级"].startswith("规划范围")
    body = "\n".join(m.value for m in at.markdown)
    assert f"解读:{strive.reading}" in body and "口径:村" in body and "力争目标" in body
    assert "None" not in body and "nan" not in body


def test_region_page_shows_the_sample_city(dash_db):
    at = ok(app("region"))
    metrics = {m.label: m.value for m in at.metric}
    levels = pd.read_csv(REGION_DIR / "units.csv", dtype=str)["level"].value_counts()
    assert metrics["村"] == f"{levels['village']:,}" and metrics["区县"] == f"{levels['county']:,}"
    units = pd.read_csv(REGION_DIR / "units.csv", dtype=str)
    first = at.selectbox(key="region_county").value
    towns_of = {c: sorted(units[(units["level"] == "township") & (units["parent_code"] == c)]["code"])
                for c in (first, COUNTY)}
    assert first != COUNTY and sorted(at.dataframe[0].value["统计用区划代码"]) == towns_of[first]
    at.selectbox(key="region_county").select(COUNTY).run()
    assert sorted(at.dataframe[0].value["统计用区划代码"]) == towns_of[COUNTY] and len(towns_of[COUNTY]) == 9


# ---------------------------------------------------------------- 总览

def test_overview_has_a_card_per_target_and_drills_into_one(dash_db):
    at = ok(app("overview", plan="changde-2018", asof="2020Q2"))
    n_targets = len(catalog().plan("changde-2018").targets)
    cards = [b for b in at.button if b.key and b.key.startswith("ov_card_")]
    assert len(cards) == n_targets
    body = texts(at)
    assert "完成进度" in body and "序时进度" in body and "<svg" in body          # bars and sparklines
    assert at.get("plotly_chart")                                               # the selected target's trend
    assert at.selectbox(key="ov_target").value == "cd-reserve-123"
    at.button(key="ov_card_cd-elder-assoc").click().run()
    ok(at)
    assert at.selectbox(key="ov_target").value == "cd-elder-assoc"
    assert "cd-elder-assoc" in str(at.query_params["target"])
    detail = at.dataframe[0].value
    assert len(detail) == 4 and all(_status_words(x) for x in detail["状态"])
    # judged city-wide only (judged_at: scope): the counties' values are shown, not judged
    assert {x.split("(")[0] for x in detail["状态"]} == {"不判定"}
    assert any(f"解读:{catalog().target('cd-elder-assoc')[1].reading}" == c.value for c in at.caption)
    assert "截至 2020年第2季度" in at.caption[0].value
    at.selectbox(key="asof").select("2019Q2").run()
    ok(at)
    assert "截至 2019年第2季度" in at.caption[0].value


def test_overview_as_known_then_uses_only_returns_that_had_arrived(dash_db):
    at = ok(app("overview", plan="changde-2018", asof="2020Q2"))
    assert any("按现有全部数据" in c.value for c in at.caption)
    now = at.dataframe[0].value
    at.radio(key="basis").set_value("then").run()
    ok(at)
    assert any("按当时已报送的数据" in c.value for c in at.caption)
    assert "then" in str(at.query_params["basis"])
    then = at.dataframe[0].value
    assert list(then["代码"]) and set(then["代码"]) == set(now["代码"])
    # a link with basis=then opens the same view
    again = ok(app("overview", params={"plan": "changde-2018", "asof": "2020Q2", "basis": "then"}))
    assert again.radio(key="basis").value == "then"


# ---------------------------------------------------------------- 进度地图

def _deck(at: AppTest) -> dict:
    return json.loads(at.get("deck_gl_json_chart")[0].proto.json)


def test_map_is_offline_with_chinese_tooltips_and_colours_by_status_or_value(dash_db):
    at = ok(app("map", plan="changde-2018", asof="2020Q2", sel_target=LAG_TARGET))
    deck = _deck(at)
    assert deck.get("mapProvider") in (None, "") and not deck.get("mapStyle")     # no basemap, no tile requests
    layer = deck["layers"][0]
    assert layer["@@type"] == "GeoJsonLayer"
    feats = layer["data"]["features"]
    assert len(feats) == 4                                                       # the four counties
    props = feats[0]["properties"]
    assert props["name"] and _status_words(props["status_text"]) and "%" in props["value_text"]
    assert props["coverage_text"] and "None" not in json.dumps(feats, ensure_ascii=False)
    tooltip = json.loads(at.get("deck_gl_json_chart")[0].proto.tooltip)["html"]
    assert "数值" in tooltip and "目标" in tooltip and "状态" in tooltip
    assert any("图例" in m.value for m in at.markdown)
    from dashboard import maps, queries, ui

    progress = queries.unit_progress(LAG_TARGET, "2020Q2", "county", CITY).set_index("code")
    assert {f["properties"]["code"]: f["properties"]["fill"][:3] for f in feats} == {
        c: list(ui.status_rgb(s)) for c, s in progress["status"].items()}
    at.radio(key="map_mode").set_value("value").run()
    ok(at)
    values = progress["value"]
    lo, hi = values.quantile(0.05), values.quantile(0.95)
    assert {f["properties"]["code"]: f["properties"]["fill"][:3] for f in _deck(at)["layers"][0]["data"]["features"]
            } == {c: list(maps.ramp_rgb(v, lo, hi)) for c, v in values.items()}
    at.radio(key="map_level").set_value("township").run()
    assert len(_deck(at)["layers"][0]["data"]["features"]) == 41


def test_map_shows_village_points_when_a_township_is_selected(dash_db):
    at = ok(app("map", plan="changde-2018", county=COUNTY, township=TOWNSHIP, sel_target="cd-service-platform"))
    deck = _deck(at)
    kinds = [layer["@@type"] for layer in deck["layers"]]
    assert kinds == ["GeoJsonLayer", "ScatterplotLayer", "TextLayer"]                # the village names written beside them
    villages = deck["layers"][1]["data"]
    assert len(villages) == 8 and all(v["name"] for v in villages)
    assert [x["name"] for x in deck["layers"][2]["data"]] == [v["name"] for v in villages]


# ---------------------------------------------------------------- 后进名单

def _laggards(path: Path, level: str, target: str = LAG_TARGET, **kwargs) -> list[dict]:
    """pipelines.compute.laggards for ``target`` in 示例市, 2020Q2, read from the database at ``path``."""
    with db.session(path, read_only=True) as con:
        return laggards(con, target, level, unit=CITY, **({"period": "2020Q2"} | kwargs))


def _ranked_table(at: AppTest) -> pd.DataFrame:
    return at.dataframe[0].value


def _status_filter(at: AppTest):
    """The status multiselect of 后进名单 (keyed by the targets and level it filters)."""
    return next(m for m in at.multiselect if m.key.startswith("lag_status"))


def test_laggards_are_ranked_filtered_and_exported_for_a_circular(dash_db):
    at = ok(app("laggards", plan="changde-2018", asof="2020Q2", sel_target=LAG_TARGET))
    table = _ranked_table(at)
    assert [c.split("(")[0] for c in table.columns[:6]] == ["排名", "单位", "所属", "当前值", "目标值", "差距"]
    # the ranked section's units behind (not met, nor on track) first, in the order and with the ranks of the API
    counties = [r for r in _laggards(dash_db, "county") if r["section"] == "ranked"
                and r["status"] not in ("met", "met_late", "on_track", "not_judged")]
    assert counties
    assert list(zip(table["排名"], table["单位"])) == [(r["rank"], r["unit_name"]) for r in counties]
    assert set(table["所属"]) == {"示例市"}
    assert all(x.endswith("(力争目标)") or x == "力争目标未实现" for x in table["状态"])   # the plan says 力争
    at.radio(key="lag_level").set_value("township").run()
    ok(at)
    towns = [r for r in _laggards(dash_db, "township") if r["section"] == "ranked"]
    keep = _status_filter(at).value
    assert list(_ranked_table(at)["单位"]) == [r["unit_name"] for r in towns if r["status"] in keep]
    behind = [r for r in towns if r["status"] in ("severely_lagging", "lagging")]
    assert behind, "the sample has townships behind in 2020Q2"
    _status_filter(at).set_value(["severely_lagging", "lagging"]).run()
    table = _ranked_table(at)
    assert list(table["单位"]) == [r["unit_name"] for r in behind]
    assert list(table["状态"]) == [r["status_label"] for r in behind]
    at.number_input(key="lag_top").set_value(3).run()
    assert list(_ranked_table(at)["单位"]) == [r["unit_name"] for r in behind][:3]
    labels = [b.label for b in at.get("download_button")]
    assert "⬇ 下载 Excel" in labels and "⬇ 下载 CSV" in labels


def test_units_without_a_return_are_listed_apart_not_ranked(dash_db):
    """2025Q1: some townships sent nothing — they are 未报送, after the ranked units, with the reason."""
    from dashboard import queries

    with db.session(dash_db, read_only=True) as con:
        from pipelines.compute.completeness import completeness

        chased = completeness(con, "2025Q1")["chase"]
    silent = {c["township_name"] for c in chased}
    last = {c["township_name"]: f"{c['last_return'][:4]}年第{c['last_return'][-1]}季度" for c in chased}
    assert silent
    api = _laggards(dash_db, "township", period="2025Q1")
    apart = [r for r in api if r["section"] == "not_reported"]
    assert {r["unit_name"] for r in apart} == silent and all("未报送" in r["reason"] for r in apart)
    at = ok(app("laggards", plan="changde-2018", asof="2025Q1", sel_target=LAG_TARGET))
    at.radio(key="lag_level").set_value("township").run()
    ok(at)
    _status_filter(at).set_value(_status_filter(at).options).run()                     # every status
    ranked = _ranked_table(at)
    assert not silent & set(ranked["单位"])                                        # never ranked among laggards
    assert len(ranked) == len([r for r in api if r["section"] == "ranked"])
    headers = [h.value for h in at.subheader]
    assert f"未报送({len(silent)} 个,不参与排名)" in headers, headers
    section = next(d.value for d in at.dataframe if set(d.value.get("单位", [])) == silent)
    assert "排名" not in section.columns and all("未报送" in x for x in section["说明"])
    assert dict(zip(section["单位"], section["最近报送"])) == last                     # the last one received
    # the circular: the ranked rows, then the 未报送 section, and the target's reading in the notes
    ranked_frame = queries.rank_laggards("changde-2018", LAG_TARGET, "township", "2025Q1", CITY)
    info = queries.target_info(LAG_TARGET)
    from dashboard import exports

    data = exports.circular_xlsx(ranked_frame, title="后进名单", subtitle="", unit="%", scope="示例市",
                                 asof_text="截至2025年第1季度", parents={},
                                 notes=exports.circular_notes(info, 0.9))
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    cells = [str(c.value) for row in ws.iter_rows() for c in row if c.value is not None]
    assert f"未报送({len(silent)} 个,不参与排名)" in cells
    assert any(info["reading"] in c for c in cells)
    assert not any(c in ("None", "nan") for c in cells)


def test_a_red_unit_whose_return_is_missing_says_so(dash_db):
    """A village-level target judged per township: a township red while its own return is missing
    carries the API's reason, shown in 说明."""
    from dashboard import queries

    ranked = queries.rank_laggards("changde-2018", LAG_TARGET, "township", "2025Q1", CITY)
    from dashboard import exports

    table = exports.circular_rows(ranked, {})
    for reason, text in zip(ranked["reason"], table["说明"]):
        assert text == (exports._periods_zh(reason) if isinstance(reason, str) else "")
        assert "Q" not in text                                     # quarters in words: 2024年第4季度


def test_circular_xlsx_has_title_date_and_severe_rows_in_red(dash_db):
    from dashboard import exports, queries

    ranked = queries.rank_laggards("changde-2018", "cd-first-secretary", "township", "2020Q2", CITY)
    assert len(ranked) and ranked["status"].isin(exports.SEVERE).any()
    data = exports.circular_xlsx(ranked, title="重点村第一书记全覆盖后进名单", subtitle="(常德)", unit="%",
                                 scope="示例市", asof_text="截至2020年第2季度", parents={}, notes=["说明"],
                                 made=dt.date(2020, 7, 20))
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    assert ws["A1"].value == "重点村第一书记全覆盖后进名单"
    assert "截至2020年第2季度" in ws["A3"].value and "2020年7月20日" in ws["A3"].value
    header = [c.value for c in ws[5]]
    assert header[:3] == ["排名", "单位", "所属"] and "状态" in header and "最近报送" in header
    status_col = header.index("状态") + 1
    severe_words = {exports.ui.row_status_zh(r) for r in ranked.to_dict("records") if r["status"] in exports.SEVERE}
    seen = 0
    for r in range(6, ws.max_row + 1):
        if ws.cell(r, 2).value is None:                 # a section heading or the notes
            continue
        severe = ws.cell(r, status_col).value in severe_words and ws.cell(r, 1).value is not None
        colour = ws.cell(r, 2).font.color
        assert (colour is not None and colour.rgb.endswith("C00000")) == severe
        seen += 1
    assert seen == len(ranked)
    assert ws.print_title_rows == "$5:$5"


@pytest.mark.parametrize("basis, when", [("now", "period"), ("then", "as_of")])
def test_the_dashboard_ranks_laggards_as_the_api_does(dash_db, basis, when):
    from dashboard import queries

    ranked = queries.rank_laggards("changde-2018", LAG_TARGET, "township", "2020Q2", CITY, basis)
    expected = _laggards(dash_db, "township", **{"period": None, when: "2020Q2"})
    assert len(expected) == 41 and len({r["status"] for r in expected}) >= 3
    for col in ("rank", "unit_code", "status", "section", "reason", "last_return"):
        assert [x if not isinstance(x, float) else None for x in ranked[col]] == [r[col] for r in expected], col
    # the latest return received: 2020Q2 for those that sent it (as known then: only those on time)
    with db.session(dash_db, read_only=True) as con:
        from pipelines.compute.completeness import completeness

        sent = completeness(con, "2020Q2")
    assert sent["late"] and list(ranked["last_return"]).count("2020Q2") == sent[{"now": "received", "then": "on_time"}[basis]]


# ---------------------------------------------------------------- 趋势

def test_trends_draw_target_pace_deadline_and_projection(dash_db):
    at = ok(app("trends", plan="changde-2018", asof="2019Q4", sel_target="cd-elder-assoc"))
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = [t.get("name") for t in spec["data"]]
    assert "示例市" in names and "序时进度线" in names and "按当前速度预计" in names
    shapes = spec["layout"].get("shapes", [])
    assert len(shapes) >= 2                                                       # target line and deadline
    annotations = " ".join(a.get("text", "") for a in spec["layout"].get("annotations", []))
    assert "目标" in annotations and "截止" in annotations
    assert len(at.multiselect[0].value) == 3                                      # three units below by default
    at.selectbox(key="trend_target").select("cd-volunteers").run()
    ok(at)
    spec2 = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert spec["layout"]["title"]["text"].startswith(catalog().target("cd-elder-assoc")[1].title + "(示例市)")
    assert spec2["layout"]["title"]["text"].startswith(catalog().target("cd-volunteers")[1].title + "(示例市)")
    assert "截至2019年第4季度" in spec["layout"]["title"]["text"]                 # plan, scope and quarter
    ticks = spec["layout"]["xaxis"]["ticktext"]
    assert ticks and all(t.endswith("季度") for t in ticks)                      # the axis in quarters
    assert [b.label for b in at.get("download_button") if b.key == "trend_chart_png"] == ["🖼 下载图片"]


# ---------------------------------------------------------------- 数据上报

def test_upload_dry_run_shows_errors_then_stores_good_returns(dash_db, monkeypatch):
    unlock_for_upload(dash_db, TOWNSHIP, "2025Q4")
    admin = as_account(monkeypatch, dash_db)
    at = ok(app("upload", as_user=admin))
    assert at.get("file_uploader")
    bad = BAD_DIR / "ING010_数字格填了文字.xlsx"
    expected = next(f for f in yaml.safe_load((BAD_DIR / "expected.yaml").read_text(encoding="utf-8"))["files"]
                    if f["file"] == bad.name)
    at.get("file_uploader")[0].set_value((bad.name, bad.read_bytes(), XLSX)).run()
    ok(at)
    summary = at.dataframe[0].value
    assert summary["结果"].iloc[0] == "有错误,不能导入" and summary["错误"].iloc[0] >= 1
    problems = at.table[0].value
    assert list(problems.columns[:5]) == ["类别", "单元格", "村", "字段", "问题及修改方法"]
    assert expected["cell"] in set(problems["单元格"]) and expected["code"] in set(problems["代码"])
    assert at.button(key="upload_confirm").disabled
    assert any("有错误" in e.value for e in at.error)

    # a return with a warning only: checked, then stored, superseding the sample's submission
    at.get("file_uploader")[0].set_value((WARNED.name, WARNED.read_bytes(), XLSX)).run()
    assert at.dataframe[0].value["结果"].iloc[0] == "检查通过,可导入"
    confirm = at.button(key="upload_confirm")
    assert not confirm.disabled and confirm.label == "确认导入 1 个文件"
    confirm.click().run()
    ok(at)
    jobs = at.table[0].value                      # handed to the queue: waiting for the worker
    assert jobs["状态"].iloc[0] == "排队中" and jobs["结果"].iloc[0] == ""
    assert any("正在按到达顺序检查和导入" in i.value for i in at.info)
    assert drain_queue(dash_db)["stored"] == 1
    at.run()
    ok(at)
    assert any("处理完成" in s.value for s in at.success)
    jobs = at.table[0].value
    assert jobs["状态"].iloc[0] == "已导入" and "替换了第" in jobs["结果"].iloc[0]

    # the committed good sample (data/samples/returns) is stored again over it
    at.get("file_uploader")[0].set_value((GOOD.name, GOOD.read_bytes(), XLSX)).run()
    at.button(key="upload_confirm").click().run()
    drain_queue(dash_db)
    at.run()
    ok(at)
    result = at.table[0].value
    assert result["文件"].iloc[0] == GOOD.name.replace("_", "\\_") and result["结果"].iloc[0].startswith("已导入")
    con = db.connect(dash_db, read_only=True)
    try:
        rows = con.execute("SELECT file_name, status, uploaded_by FROM submissions WHERE township_code = ? "
                           "AND period = '2025Q4' ORDER BY id", [TOWNSHIP]).fetchall()
    finally:
        con.close()
    assert rows[-1] == (GOOD.name, "active", admin.name) and rows[-2][:2] == (WARNED.name, "superseded")

    # uploading the same file again changes nothing
    at.get("file_uploader")[0].set_value((GOOD.name, GOOD.read_bytes(), XLSX)).run()
    assert at.dataframe[0].value["结果"].iloc[0].startswith("未变化")
    assert at.button(key="upload_confirm").disabled


def test_upload_many_files_at_once(dash_db):
    unlock_for_upload(dash_db, TOWNSHIP, "2025Q4")
    files = [(p.name, p.read_bytes(), XLSX) for p in sorted(BAD_DIR.glob("ING01*.xlsx"))[:4]] + [
        (WARNED.name, WARNED.read_bytes(), XLSX)]
    at = ok(app("upload"))
    at.get("file_uploader")[0].set_value(files).run()
    ok(at)
    summary = at.dataframe[0].value
    assert len(summary) == 5 and (summary["结果"] == "有错误,不能导入").sum() == 4
    assert at.button(key="upload_confirm").label == "确认导入 1 个文件"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["可以导入"] == "1" and metrics["有错误"] == "4"


def test_blank_templates_for_a_township_and_a_county(dash_db):
    import zipfile

    from dashboard import queries

    at = ok(app("upload", county=COUNTY))
    assert at.selectbox(key="tpl_county").value == COUNTY
    [button] = [b for b in at.get("download_button") if b.key == "tpl_download"]
    today = queries.today()
    last_quarter = shift(f"{today.year}Q{(today.month - 1) // 3 + 1}", -1)      # the default report period
    first_town = queries.units(level="township", parent=COUNTY).iloc[0]
    assert button.label == f"⬇ 下载 {first_town['code']}_{first_town['name']}_{last_quarter}.xlsx"
    at.radio(key="tpl_kind").set_value("整个区县(zip)").run()
    [button] = [b for b in at.get("download_button") if b.key == "tpl_download"]
    assert button.label.endswith(".zip")
    data = queries.township_template(TOWNSHIP, "2026Q1")
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert "村级情况" in wb.sheetnames
    with zipfile.ZipFile(io.BytesIO(queries.county_templates(COUNTY, "2026Q1"))) as zf:
        assert len(zf.namelist()) == 9 and all(n.endswith("_2026Q1.xlsx") for n in zf.namelist())


# ---------------------------------------------------------------- 报送情况

def test_completeness_matrix_chase_list_and_export(dash_db):
    at = ok(app("completeness", plan="changde-2018", county=COUNTY))
    frames = [d.value for d in at.dataframe]
    assert frames, "no table"
    matrix = frames[0]
    assert len(matrix) == 9                                                      # 碧泉县's townships
    cells = set(matrix.drop(columns=[c for c in matrix.columns if not str(c)[:4].isdigit()]).stack().astype(str))
    assert any(c.startswith("按时") for c in cells)
    labels = [b.label for b in at.get("download_button")]
    assert "⬇ 下载 Excel" in labels
    at.selectbox(key="county").select(None).run()
    ok(at)
    assert len(at.dataframe[0].value) == 41


def _add_return(path: Path, township: str, period: str, like: str = "2025Q4") -> None:
    """A submission row for ``township`` and ``period`` (a copy of its ``like`` one): enough for the
    reporting counts, which read submissions only."""
    con = db.connect(path)
    try:
        con.execute("""INSERT INTO submissions SELECT * REPLACE (id + 1000000 AS id, ? AS period,
                       uploaded_at + INTERVAL 90 DAY AS uploaded_at)
                       FROM submissions WHERE township_code = ? AND period = ? AND status = 'active'""",
                    [period, township, like])
    finally:
        con.close()


def _pin_today(monkeypatch, day: dt.date) -> None:
    from dashboard import queries

    monkeypatch.setattr(queries, "today", lambda: day)


def test_default_quarter_is_due_and_reported_enough_never_one_of_41(dash_db, monkeypatch):
    """2026Q1 has 1 of 41 returns and 2026Q2–Q3 none: the sidebar opens on 2025Q4 (≥ 90 %), as the CLI."""
    from pipelines.compute.completeness import default_quarter, quarter_summary

    _add_return(dash_db, TOWNSHIP, "2026Q1")
    _pin_today(monkeypatch, dt.date(2026, 11, 29))
    with db.session(dash_db, read_only=True) as con:
        assert default_quarter(con, catalog(), dt.date(2026, 11, 29)) == "2025Q4"
        assert default_quarter(con, catalog(), dt.date(2025, 12, 20)) == "2025Q3"    # 2025Q4 not due yet
        q4 = quarter_summary(con, today=dt.date(2026, 11, 29)).set_index("period").loc["2025Q4"]
    assert q4["expected"] == 41 and q4["received"] >= 37
    at = ok(app("overview", plan="changde-2018"))
    box = at.selectbox(key="asof")
    assert box.value == "2025Q4"
    assert box.options[:4] == ["2026年第4季度(未到截止日)", "2026年第3季度(已报 0/41)", "2026年第2季度(已报 0/41)",
                               "2026年第1季度(已报 1/41)"]                  # every quarter up to today's
    captions = [c.value for c in at.sidebar.caption]
    late = f"(其中逾期 {q4['late']} 个)" if q4["late"] else ""
    assert f"2025年第4季度:已报送 {q4['received']}/41 个乡镇{late}" in captions, captions
    # the incomplete quarter can be chosen, and says how incomplete it is
    box.select("2026Q1").run()
    ok(at)
    assert "2026年第1季度:已报送 1/41 个乡镇" in [c.value for c in at.sidebar.caption]
    assert any("报送不足 90%" in w.value for w in at.sidebar.warning)
    # a county's view counts its own townships
    at.selectbox(key="county").select(COUNTY).run()
    assert "2026年第1季度:已报送 1/9 个乡镇" in [c.value for c in at.sidebar.caption]
    # before 2025Q4 was due the default was 2025Q3
    _pin_today(monkeypatch, dt.date(2025, 12, 20))
    assert ok(app("overview", plan="changde-2018")).selectbox(key="asof").value == "2025Q3"


def test_the_cli_uses_the_same_default_quarter(dash_db, capsys):
    """laggards without --period: the default quarter of the sidebar; progress: every quarter up to it."""
    from pipelines.cli.main import main
    from pipelines.compute.completeness import default_quarter

    with db.session(dash_db, read_only=True) as con:
        default = default_quarter(con, catalog(), dt.date.today())
    assert default is not None
    assert main(["--db", str(dash_db), "laggards", "--target", LAG_TARGET, "--level", "county", "--json"]) == 0
    out = capsys.readouterr()
    assert {r["period"] for r in json.loads(out.out)} == {default} and "默认季度" in out.err
    assert main(["--db", str(dash_db), "progress", "--target", LAG_TARGET, "--level", "city", "--json"]) == 0
    assert max(r["period"] for r in json.loads(capsys.readouterr().out)) == default


def test_completeness_lists_a_quarter_nobody_reported_with_everyone_to_chase(dash_db, monkeypatch):
    _pin_today(monkeypatch, dt.date(2026, 5, 1))        # 2026Q1 was due on 2026-04-15: nobody reported
    at = ok(app("completeness", plan="changde-2018"))
    assert at.selectbox(key="asof").value == "2025Q4"
    assert [o for o in at.selectbox(key="asof").options][:2] == ["2026年第2季度(未到截止日)", "2026年第1季度(已报 0/41)"]
    at.selectbox(key="asof").select("2026Q1").run()
    ok(at)
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["应报乡镇"], metrics["已报"], metrics["未报"]) == ("41", "0", "41")
    assert any("2026年第1季度:已报送 0/41 个乡镇" in m.value for m in at.markdown)
    assert not any("都已报送" in x.value for x in at.success)
    chase = next(d.value for d in at.dataframe if "最近一次报送" in d.value.columns)
    with db.session(dash_db, read_only=True) as con:
        from pipelines.compute.completeness import completeness

        last = {c["township_name"]: c["last_return"] for c in completeness(con, "2026Q1")["chase"]}
    assert len(chase) == 41 and len(last) == 41
    assert dict(zip(chase["乡镇(街道)"], chase["最近一次报送"])) == {k: f"{v[:4]}年第{v[-1]}季度" for k, v in last.items()}
    quarters = next(d.value for d in at.dataframe if "报送率" in d.value.columns)
    first = quarters.iloc[0]
    assert (first["季度"], first["应报"], first["已报"], first["说明"]) == ("2026年第1季度", 41, 0, "无人报送")
    matrix = at.dataframe[0].value
    assert set(matrix["2026年第1季度"]) == {"未报"}
    # the progress pages say there is nothing to judge for that quarter (not an empty page)
    at.switch_page("app_pages/overview.py").run()
    ok(at)
    assert any("还没有乡镇报送(0/41)" in i.value and "2025年第4季度" in i.value for i in at.info)


# ---------------------------------------------------------------- 任务督办

def test_milestones_list_tasks_and_record_an_update_with_history(dash_db):
    at = ok(app("milestones", plan="sichuan-2021"))
    assert len(at.expander) >= 10
    assert any("村民小组调整优化" in e.label for e in at.expander)
    at.selectbox(key="ms_task").select("sc-task-02").run()
    before = len(at.dataframe[-1].value) if at.dataframe else 0
    form_unit = next(s for s in at.selectbox if s.label == "责任单位")
    form_unit.select("民政厅")
    next(r for r in at.radio if r.label == "进展状态").set_value("已完成")
    at.date_input[0].set_value(dt.date(2021, 4, 20))
    at.text_area[0].input("已印发换届工作方案")
    at.get("form_submit_button")[0].click().run()
    ok(at)
    assert any("已登记" in s.value for s in at.success)
    history = at.dataframe[-1].value
    assert len(history) == before + 1 and history["编号"].iloc[0] == "sc-task-02"    # newest first
    assert history["状态"].iloc[0] == "已完成" and "已印发换届工作方案" in set(history.iloc[0].astype(str))
    # a done date is required for 已完成: the catalogue's message, nothing stored
    at.selectbox(key="ms_task").select("sc-task-03").run()
    before = len(at.dataframe[-1].value)
    next(r for r in at.radio if r.label == "进展状态").set_value("已完成")
    at.get("form_submit_button")[0].click().run()
    assert not at.exception and at.error and "PRG014" in at.error[0].value
    assert len(at.dataframe[-1].value) == before
    # a plan without tasks says where they are
    at.selectbox(key="plan").select("jiaxing-2018").run()
    assert any("sichuan-2021" in w.value for w in at.warning)


# ---------------------------------------------------------------- downloads everywhere

@pytest.mark.parametrize("page", ["catalog", "region", "overview", "laggards", "upload", "milestones"])
def test_tables_are_downloadable(dash_db, page):
    at = ok(app(page, plan="changde-2018" if page != "milestones" else "sichuan-2021"))
    labels = [b.label for b in at.get("download_button")]
    assert {"⬇ 下载 Excel", "⬇ 下载 CSV"} <= set(labels), labels


def test_table_xlsx_and_csv_are_readable_with_chinese_headers():
    from dashboard import ui

    df = pd.DataFrame({"单位": ["黄嘴镇", "枫桥镇"], "数值": [1.5, None], "日期": [dt.date(2025, 3, 31), None]})
    wb = openpyxl.load_workbook(io.BytesIO(ui.xlsx_bytes(df, title="测试表")))
    ws = wb.active
    assert ws["A1"].value == "测试表" and [c.value for c in ws[3]] == ["单位", "数值", "日期"]
    assert ws["A4"].value == "黄嘴镇" and ws["B5"].value is None
    csv = ui.csv_bytes(df)
    assert csv.startswith(b"\xef\xbb\xbf") and "黄嘴镇" in csv.decode("utf-8-sig")


def test_formats_are_chinese():
    from dashboard import ui

    assert ui.fmt_date(dt.date(2025, 12, 31)) == "2025年12月31日"
    assert ui.fmt_period("2024Q3") == "2024年第3季度"
    assert ui.fmt_num(1234567) == "1,234,567" and ui.fmt_num(63.456, "%") == "63.5%" and ui.fmt_num(None) == "—"
    assert ui.fmt_pct(0.634) == "63.4%"
