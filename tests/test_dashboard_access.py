"""Issue 10 in the dashboard (Streamlit AppTest on a copy of the sample database): the sign-in gate,
views scoped to the user's units, the review page and the audit page."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pipelines.access.roles import User
from pipelines.store import db

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "dashboard" / "app.py")
CITY, COUNTY, TOWNSHIP = "439900000000", "439921000000", "439921101000"   # 示例市, 碧泉县, 黄嘴镇
OTHER_TOWNSHIP, OTHER_COUNTY = "439921100000", "439902000000"               # 仁井镇, 松岗区
CLERK = User(name="huangzui", role="clerk", unit=TOWNSHIP, display_name="李梅")
REVIEWER = User(name="biquan", role="county", unit=COUNTY, display_name="王军")
CITY_USER = User(name="shi", role="city", unit=CITY, display_name="陈华")


@pytest.fixture
def passwords(sample_db_file) -> dict[str, str]:
    out = {}
    for line in (sample_db_file.parent / "demo-accounts.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, password = line.split("\t")[:2]
            out[name] = password
    return out


def run(page: str | None = None, user: User | None = None, params: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for k, v in (params or {}).items():
        at.query_params[k] = v
    if user is not None:
        at.session_state["user"] = user
    if page:
        at.switch_page(f"app_pages/{page}.py")
    return at.run()


def text_of(at: AppTest) -> str:
    return "\n".join(str(x.value) for kind in ("markdown", "caption", "warning", "info", "error", "success", "title")
                     for x in at.get(kind))


def test_nothing_but_the_sign_in_form_until_signed_in(dash_db, passwords):
    at = run("overview")
    assert not at.exception
    assert [t.label for t in at.text_input] == ["用户名", "密码"]
    assert not at.dataframe and not at.metric and not at.sidebar.selectbox     # no data, no controls
    at.text_input[0].input("huangzui")
    at.text_input[1].input("not-the-password")
    at.get("form_submit_button")[0].click().run()
    assert any("用户名或密码不正确" in e.value for e in at.error)
    assert "user" not in at.session_state
    at.text_input[0].input("huangzui")
    at.text_input[1].input(passwords["huangzui"])
    at.get("form_submit_button")[0].click().run()
    assert not at.exception
    assert at.session_state["user"].name == "huangzui"
    assert any("李梅" in c.value for c in at.sidebar.caption)
    at.sidebar.button(key="signout").click().run()
    assert "user" not in at.session_state
    assert [t.label for t in at.text_input] == ["用户名", "密码"] and any("已退出登录" in i.value for i in at.info)


def test_a_session_ends_after_the_idle_time(dash_db):
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["user"] = CLERK
    at.session_state["_last_seen"] = -1e9             # long ago
    at.run()
    assert "user" not in at.session_state
    assert any("登录已超时" in i.value for i in at.info)


def test_a_clerk_sees_only_its_own_township_even_through_a_link(dash_db):
    at = run("overview", CLERK, params={"county": OTHER_COUNTY, "township": OTHER_TOWNSHIP})
    assert not at.exception
    sidebar = {s.label: s for s in at.sidebar.selectbox}
    assert sidebar["区县"].options == ["碧泉县"] and sidebar["乡镇(街道)"].options == ["黄嘴镇"]
    assert sidebar["乡镇(街道)"].value == TOWNSHIP
    assert any("无效" in w.value for w in at.warning)                       # the link's units were refused
    assert "范围:黄嘴镇" in text_of(at)


def test_the_query_layer_refuses_a_unit_outside_the_user(dash_db, monkeypatch):
    import streamlit as st

    from dashboard import queries
    from pipelines.errors import RuralTargetsError

    monkeypatch.setattr(st, "session_state", {"user": CLERK})
    assert queries.scoped(None) == TOWNSHIP and queries.scoped("439921101201") == "439921101201"
    with pytest.raises(RuralTargetsError) as exc:
        queries.scoped(OTHER_TOWNSHIP)
    assert exc.value.code == "AUTH011"
    with pytest.raises(RuralTargetsError):
        queries.status("changde-2018", "2025Q4", OTHER_COUNTY, "township")


def test_a_city_user_does_not_upload_and_reads_the_whole_city(dash_db):
    at = run("upload", CITY_USER)
    assert not at.exception
    assert not at.get("file_uploader")
    assert any("市级管理员不上传报表" in i.value for i in at.info)
    sidebar = {s.label: s for s in at.sidebar.selectbox}
    assert sidebar["区县"].options[0] == "(全市)" and len(sidebar["区县"].options) == 5


def test_the_county_reviews_returns_in_its_own_county(dash_db):
    from conftest import unlock_for_upload
    from pipelines.access.roles import local_admin
    from pipelines.ingest.pipeline import ingest_paths

    unlock_for_upload(dash_db, TOWNSHIP, "2025Q4")
    good = ROOT / "data" / "samples" / "bad" / "ING040_数值异常变化.xlsx"   # 黄嘴镇 2025Q4 with a warning
    con = db.connect(dash_db)
    try:
        [report] = ingest_paths(con, [good], actor=User(name="huangzui", role="clerk", unit=TOWNSHIP))
        assert report.status == "stored"
    finally:
        con.close()
    at = run("review", REVIEWER)
    assert not at.exception
    queue = at.dataframe[0].value
    assert list(queue["乡镇(街道)"]) == ["黄嘴镇"] and list(queue["审核状态"]) == ["待审核"]
    assert any("ING040" in str(df.value) for df in at.dataframe[1:])        # its warnings are shown
    at.get("form_submit_button")[0].click().run()                          # 退回 without a comment
    assert any("须写明退回意见" in e.value for e in at.error)
    at.text_area(key="rv_comment").input("乙村人口变化过大,请核实后重报")
    at.get("form_submit_button")[0].click().run()
    assert any("已退回" in s.value for s in at.success)
    clerk = run("upload", CLERK)
    assert any("乙村人口变化过大,请核实后重报" in w.value for w in clerk.warning), ([w.value for w in clerk.warning], [e.value for e in clerk.error], [e.message for e in clerk.exception])
    at.radio(key="rv_state").set_value("returned").run()
    at.button(key="rv_approve").click().run()
    assert any("已审核通过并锁定" in s.value for s in at.success)
    con = db.connect(dash_db, read_only=True)
    try:
        state = con.execute("SELECT review_status, reviewed_by FROM submissions WHERE id = ?",
                            [report.submission_id]).fetchone()
        steps = con.execute("SELECT user_name, action FROM audit_log ORDER BY id DESC LIMIT 2").fetchall()
    finally:
        con.close()
    assert state == ("approved", "biquan") and steps == [("biquan", "approve"), ("biquan", "return")]
    # another county's reviewer has nothing of 碧泉县 in its queue
    other = run("review", User(name="songgang", role="county", unit=OTHER_COUNTY))
    assert not other.exception and report.submission_id not in set(
        other.dataframe[0].value["报送编号"] if other.dataframe else [])


def test_the_audit_page_for_admin_and_county_only(dash_db):
    at = run("audit", REVIEWER)
    assert not at.exception
    log = at.dataframe[0].value
    assert {"时间", "用户", "操作", "对象", "结果"} <= set(log.columns)
    clerk = run("overview", CLERK)
    assert not clerk.exception


def test_a_clerk_opening_the_review_or_audit_page_by_its_address_is_refused(dash_db):
    for page in ("review", "audit"):
        at = run(page, CLERK)
        assert not at.exception
        assert any("AUTH010" in e.value and "没有" in e.value for e in at.error), [e.value for e in at.error]
        assert not at.dataframe
