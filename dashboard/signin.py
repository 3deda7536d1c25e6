"""The sign-in gate: nothing but a Chinese sign-in form until a user signs in; a session ends after
``settings.accounts.idle_minutes`` without a click and on 退出登录."""
from __future__ import annotations

import time

import streamlit as st

from dashboard import queries
from pipelines.access.roles import User
from pipelines.errors import RuralTargetsError, render

_SEEN = "_last_seen"
_NOTE = "_signin_note"


def gate() -> User:
    """The signed-in user; without one, the sign-in form is drawn and the run stops here."""
    ss = st.session_state
    user = ss.get(queries.USER_KEY)
    now = time.monotonic()
    if isinstance(user, User):
        idle = queries.idle_minutes()
        if now - ss.get(_SEEN, now) <= idle * 60:
            ss[_SEEN] = now
            return user
        queries.sign_out(user, "idle")
        _forget()
        ss[_NOTE] = render("AUTH012", minutes=idle)
    _form()
    st.stop()
    raise AssertionError("st.stop() returns only in bare mode")


def sign_out_button(user: User) -> None:
    """The user's name and role in the sidebar, with 退出登录."""
    st.sidebar.caption(f"当前用户:{user.label}" + (f" · {queries.unit_name(user.unit)}" if user.unit else ""))
    if st.sidebar.button("退出登录", key="signout"):
        queries.sign_out(user)
        _forget()
        st.session_state[_NOTE] = "已退出登录。"
        st.rerun()


def _forget() -> None:
    ss = st.session_state
    for key in list(ss.keys()):
        if key not in (_NOTE,):
            del ss[key]


def _form() -> None:
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
                st.session_state[queries.USER_KEY] = user
                st.session_state[_SEEN] = time.monotonic()
                st.rerun()
        if hint := queries.demo_accounts_hint():
            st.caption(hint)
