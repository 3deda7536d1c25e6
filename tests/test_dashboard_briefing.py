"""The 简报 page and the overall progress chart of 总览 (Streamlit AppTest on the sample database):
the page shows what `rural-targets briefing` writes, from the same content."""
from __future__ import annotations

import json

import pytest

from pipelines.report.content import gather
from pipelines.store import db
from test_dashboard import ADMIN, app, ok, signed_in, texts  # noqa: F401

pytestmark = pytest.mark.slow


def test_briefing_page_previews_the_briefing(dash_db):
    at = ok(app("briefing", plan="changde-2018", asof="2020Q3"))
    con = db.connect(dash_db, read_only=True)
    try:
        b = gather(con, "changde-2018", "2020Q3")
    finally:
        con.close()
    shown = texts(at)
    assert b.title in shown and b.summary()[0] in shown and b.summary()[1] in shown
    assert "示例市民政局" in shown
    for part in b.parts:
        assert part.info["title"] in shown
    labels = [x.label for x in at.get("download_button")]
    assert {"⬇ Word(.docx)", "⬇ PDF", "⬇ 幻灯片(.pptx)"} <= set(labels)
    assert labels.count("🖼 下载图片") == len(at.get("plotly_chart")) >= 3
    # another quarter, another briefing
    at.selectbox(key="asof").select("2019Q4").run()
    ok(at)
    assert "2019年第4季度" in texts(at)


def test_overview_has_the_progress_chart_of_the_briefing(dash_db):
    at = ok(app("overview", plan="changde-2018", asof="2020Q3"))
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    [spec] = [s for s in specs if "各目标完成进度与序时进度" in s["layout"]["title"]["text"]]
    assert "截至2020年第3季度" in spec["layout"]["title"]["text"]
    names = {t.get("name") for t in spec["data"]}
    assert "序时进度" in names and "进度滞后" in names
    table = [d.value for d in at.dataframe if "目标值" in d.value.columns and "单位" in d.value.columns]
    assert table, "全部目标一览 keeps the unit in its own column"
    frame = table[0]
    assert frame["当前值"].dtype.kind == "f" and frame["目标值"].dtype.kind == "f"      # numbers, not "89.3%"


def test_map_names_places_and_outlines_counties(dash_db):
    at = ok(app("map", plan="changde-2018", asof="2020Q3", sel_target="cd-elder-assoc"))
    deck = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    layers = {layer["id"]: layer for layer in deck["layers"]}
    names = [row["name"] for row in layers["names"]["data"]]
    assert sorted(names) == sorted(["松岗区", "碧泉县", "白鹭县", "桐湾市"])
    assert all(ch in layers["names"]["characterSet"] for ch in "".join(names))     # every glyph the names need
    assert layers["units"]["highlightColor"][3] < 128                               # a hovered area keeps its colour
    assert "outlines" not in layers
    at.radio(key="map_level").set_value("township").run()
    ok(at)
    layers = {layer["id"]: layer for layer in json.loads(at.get("deck_gl_json_chart")[0].proto.json)["layers"]}
    assert len(layers["outlines"]["data"]["features"]) == 4                           # the counties around them
    assert len(layers["names"]["data"]) == 41
    assert [b.label for b in at.get("download_button") if b.key == "map_png_png"] == ["🖼 下载图片"]
    at.toggle(key="map_names").set_value(False).run()
    layers = {layer["id"]: layer for layer in json.loads(at.get("deck_gl_json_chart")[0].proto.json)["layers"]}
    assert "names" not in layers
