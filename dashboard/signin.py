"""The sign-in gate: nothing but a Chinese sign-in form until a user signs in.

A signed-in browser keeps a random session token in a session cookie (gone when the browser
closes), so reloading a page or opening a shared link does not ask again; the session ends on
退出登录 and after ``settings.accounts.idle_minutes`` without activity (pipelines.access.accounts).
"""
from __future__ import annotations

import json
import time

import streamlit as st

from dashboard import queries
from pipelines.access.accounts import SESSION_COOKIE
from pipelines.access.roles import User
from pipelines.errors import RuralTargetsError, render

COOKIE = SESSION_COOKIE
_SEEN, _TOKEN, _NOTE, _COOKIE_OUT = "_last_seen", "_session_token", "_signin_note", "_cookie_out"
_TOUCH_S = 60          # how often an active session tells the database it is still in use


def current_user() -> User | None:
    """The signed-in user of this browser session (resumed from its session cookie after a reload),
    or None; an idle or ended session is closed here with a note for the form."""
    ss = st.session_state
    _write_cookie()
    user = ss.get(queries.USER_KEY)
    now = time.monotonic()
    if isinstance(user, User):
        idle = queries.idle_minutes()
        if now - ss.get(_SEEN, now) <= idle * 60:
            if now - ss.get("_touched", now) > _TOUCH_S:
                ss["_touched"] = now
                if queries.resume_session(ss.get(_TOKEN)) is None and ss.get(_TOKEN):
                    _ended("登录已失效,请重新登录。")
            ss[_SEEN] = now
            return user
        queries.sign_out(ss.get(_TOKEN), "idle")
        _ended(render("AUTH012", minutes=idle))
    token = _cookie()
    user = queries.resume_session(token)
    if user is not None:
        ss[queries.USER_KEY], ss[_TOKEN], ss[_SEEN], ss["_touched"] = user, token, now, now
    return user


def sign_out_button(user: User) -> None:
    """The user's name and role in the sidebar, with 退出登录."""
    st.sidebar.caption(f"当前用户:{user.label}" + (f" · {queries.unit_name(user.unit)}" if user.unit else ""))
    if st.sidebar.button("退出登录", key="signout"):
        queries.sign_out(st.session_state.get(_TOKEN))
        _ended("已退出登录。")


def _ended(note: str) -> None:
    ss = st.session_state
    for key in list(ss.keys()):
        del ss[key]
    ss[_NOTE], ss[_COOKIE_OUT] = note, ""
    st.rerun()
    raise AssertionError("st.rerun() returns only in bare mode")


def _cookie() -> str | None:
    try:
        value = st.context.cookies.get(COOKIE)
    except Exception:  # noqa: BLE001 - no browser session (AppTest)
        return None
    return value if isinstance(value, str) and value else None


def _write_cookie() -> None:
    """Set (a token) or clear ("") the session cookie in the browser, once."""
    ss = st.session_state
    if _COOKIE_OUT not in ss:
        return
    value = ss.pop(_COOKIE_OUT)
    extra = "" if value else "; max-age=0"
    js = f"document.cookie = {json.dumps(f'{COOKIE}={value}; path=/; SameSite=Strict{extra}')};"
    st.html(f"<script>{js}</script>", unsafe_allow_javascript=True)


def form() -> None:
    """The sign-in form (and, on the sample database, where the demo accounts are)."""
    left, mid, right = st.columns([1, 2, 1])
    with mid:
        st.title("乡村治理目标监测")
        st.caption("民政部门乡村治理规划目标的报表上报、审核与进度监测。请使用本单位分配的账户登录。")
        if note := st.session_state.pop(_NOTE, None):
            st.info(note)
        with st.form("signin"):
            name = st.text_input("用户名", max_chars=32, key="signin_name")
            password = st.text_input("密码", type="password", max_chars=128, key="signin_password")
            submitted = st.form_submit_button("登录", type="primary", use_container_width=True)
        if submitted:
            try:
                user = queries.sign_in(name, password)
            except RuralTargetsError as exc:
                st.error(exc.message_zh)
            else:
                token = queries.open_session(user)
                ss = st.session_state
                ss[queries.USER_KEY], ss[_TOKEN], ss[_COOKIE_OUT] = user, token, token
                ss[_SEEN] = ss["_touched"] = time.monotonic()
                st.rerun()
        if hint := queries.demo_accounts_hint():
            st.caption(hint)
