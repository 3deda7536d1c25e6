"""Accounts in the database, and signing in.

An account has a user name, a display name, a role and the unit it belongs to (``roles``), an
argon2id password hash (argon2-cffi; the password itself is never stored or logged), a disabled
flag, the time of its last sign-in and its failed attempts. A dashboard session is a random token
in the browser's session cookie whose hash is stored (``open_session``, ``resume_session``,
``end_session``), so that reloading a page does not ask to sign in again. ``settings.accounts`` sets the minimum
password length, how many failed sign-ins in a row lock an account and for how long, and the idle
time after which a dashboard session ends. Every change takes the acting user (an admin) and is
written to the audit trail.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from typing import Any

import duckdb
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from pipelines.access import audit
from pipelines.access.roles import ROLES, User, check_role_unit, require
from pipelines.catalog.definitions import catalog
from pipelines.errors import RuralTargetsError
from pipelines.store.db import transaction

_HASHER = PasswordHasher()
SESSION_COOKIE = "rural_targets_session"      # the browser's session cookie (its token's hash is stored)
_NAME = re.compile(r"^[A-Za-z0-9_.-]{2,32}$")
_DUMMY = _HASHER.hash("not a password of anyone")       # unknown names cost as much time as known ones
COLUMNS = ("name", "display_name", "role", "unit", "email", "disabled", "created_at", "created_by", "last_login",
           "failed_attempts", "locked_until")


def _settings() -> Any:
    return catalog().settings.accounts


def check_password(password: str) -> None:
    """AUTH004 when ``password`` is shorter than ``settings.accounts.min_password_length``."""
    need = _settings().min_password_length
    if len(password or "") < need:
        raise RuralTargetsError("AUTH004", min=need, length=len(password or ""))


def new_password(length: int = 14) -> str:
    """A random password easy to type (no 0/O, 1/l/I)."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(max(length, _settings().min_password_length)))


def get_user(con: duckdb.DuckDBPyConnection, name: str) -> User:
    """The account ``name`` as a ``User`` (AUTH006 if there is none; AUTH002 if disabled)."""
    row = con.execute("SELECT name, role, unit, display_name, disabled FROM users WHERE name = ?", [name]).fetchone()
    if row is None:
        raise RuralTargetsError("AUTH006", user=name)
    if row[4]:
        raise RuralTargetsError("AUTH002", user=name)
    return User(name=row[0], role=row[1], unit=row[2], display_name=row[3])


def add_user(con: duckdb.DuckDBPyConnection, actor: User, name: str, role: str, unit: str | None, password: str,
             display_name: str | None = None, email: str | None = None) -> User:
    """Create an account (admin only). AUTH009 bad name, AUTH005 taken, AUTH007/008 role and unit,
    AUTH004 short password, REG009 unknown unit."""
    require(actor, "accounts")
    if not _NAME.match(name or ""):
        raise RuralTargetsError("AUTH009", user=name)
    check_role_unit(role, unit)
    if unit and con.execute("SELECT 1 FROM units WHERE code = ?", [unit]).fetchone() is None:
        raise RuralTargetsError("REG009", code=unit)
    check_password(password)
    if con.execute("SELECT 1 FROM users WHERE name = ?", [name]).fetchone():
        raise RuralTargetsError("AUTH005", user=name)
    with transaction(con):
        con.execute("INSERT INTO users (name, display_name, role, unit, email, password_hash, created_at, created_by) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [name, display_name or name, role, unit, email, _HASHER.hash(password), dt.datetime.now(),
                     actor.name])
        audit.record(con, actor, "user_add", object=name, unit=unit,
                     details={"role": role, "unit": unit, "display_name": display_name or name})
    return User(name=name, role=role, unit=unit, display_name=display_name or name)


def list_users(con: duckdb.DuckDBPyConnection, actor: User) -> list[dict[str, Any]]:
    """Every account (admin), or those inside the actor's units (county, city); never the hashes."""
    require(actor, "audit")
    rows = con.execute(f"SELECT {', '.join(COLUMNS)} FROM users ORDER BY role, unit, name").fetchall()
    out = [dict(zip(COLUMNS, r)) for r in rows]
    for r in out:
        r["role_zh"] = ROLES.get(r["role"], r["role"])
    return [r for r in out if actor.role == "admin" or actor.covers(r["unit"])]


def disable_user(con: duckdb.DuckDBPyConnection, actor: User, name: str) -> None:
    """Disable an account (admin only); its history stays."""
    require(actor, "accounts")
    _exists(con, name)
    with transaction(con):
        con.execute("UPDATE users SET disabled = TRUE WHERE name = ?", [name])
        con.execute("UPDATE user_sessions SET ended_at = ? WHERE user_name = ? AND ended_at IS NULL",
                    [dt.datetime.now(), name])
        audit.record(con, actor, "user_disable", object=name)


def reset_password(con: duckdb.DuckDBPyConnection, actor: User, name: str, password: str) -> None:
    """Set a new password and clear the lock (admin only)."""
    require(actor, "accounts")
    _exists(con, name)
    check_password(password)
    with transaction(con):
        con.execute("UPDATE users SET password_hash = ?, failed_attempts = 0, locked_until = NULL WHERE name = ?",
                    [_HASHER.hash(password), name])
        audit.record(con, actor, "user_reset_password", object=name)


def _exists(con: duckdb.DuckDBPyConnection, name: str) -> None:
    if con.execute("SELECT 1 FROM users WHERE name = ?", [name]).fetchone() is None:
        raise RuralTargetsError("AUTH006", user=name)


def sign_in(con: duckdb.DuckDBPyConnection, name: str, password: str, client: str | None = None,
            now: dt.datetime | None = None) -> User:
    """The user whose name and password these are; every attempt is audited.

    Refusals: AUTH001 (unknown name or wrong password: the message does not say which), AUTH002
    disabled, AUTH003 locked (``max_failed_logins`` failures in a row lock it for ``lock_minutes``).
    """
    now = now or dt.datetime.now()
    st = _settings()
    row = con.execute("SELECT password_hash, disabled, failed_attempts, locked_until, role, unit, display_name "
                      "FROM users WHERE name = ?", [name]).fetchone()
    if row is None:
        _verify(_DUMMY, password)
        audit.record(con, name, "login", "refused", details={"reason": "unknown user"}, client=client, at=now)
        raise RuralTargetsError("AUTH001")
    hashed, disabled, failed, locked_until, role, unit, display = row
    if disabled:
        audit.record(con, name, "login", "refused", unit=unit, details={"reason": "disabled"}, client=client, at=now)
        raise RuralTargetsError("AUTH002", user=name)
    if locked_until is not None and locked_until > now:
        audit.record(con, name, "login", "refused", unit=unit, details={"reason": "locked"}, client=client, at=now)
        raise RuralTargetsError("AUTH003", user=name, count=failed, until=f"{locked_until:%H:%M}")
    if not _verify(hashed, password):
        failed = (failed or 0) + 1
        lock = now + dt.timedelta(minutes=st.lock_minutes) if failed >= st.max_failed_logins else None
        with transaction(con):
            con.execute("UPDATE users SET failed_attempts = ?, locked_until = ? WHERE name = ?", [failed, lock, name])
            audit.record(con, name, "login", "refused", unit=unit,
                         details={"reason": "wrong password", "failed_attempts": failed, "locked": lock is not None},
                         client=client, at=now)
        if lock is not None:
            raise RuralTargetsError("AUTH003", user=name, count=failed, until=f"{lock:%H:%M}")
        raise RuralTargetsError("AUTH001")
    with transaction(con):
        params: list[Any] = [now, name]
        rehash = ""
        if _HASHER.check_needs_rehash(hashed):
            rehash, params = ", password_hash = ?", [now, _HASHER.hash(password), name]
        con.execute(f"UPDATE users SET last_login = ?, failed_attempts = 0, locked_until = NULL{rehash} WHERE name = ?",
                    params)
        user = User(name=name, role=role, unit=unit, display_name=display)
        audit.record(con, user, "login", "ok", unit=unit, client=client, at=now)
    return user


def _verify(hashed: str, password: str) -> bool:
    try:
        return _HASHER.verify(hashed, password or "")
    except (VerificationError, InvalidHashError):
        return False


# ------------------------------------------------------------------ dashboard sessions

def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def open_session(con: duckdb.DuckDBPyConnection, user: User, client: str | None = None,
                 now: dt.datetime | None = None) -> str:
    """A new session for a signed-in ``user``: the random token for the browser's cookie (only its hash
    is stored)."""
    token = secrets.token_urlsafe(32)
    now = now or dt.datetime.now()
    con.execute("INSERT INTO user_sessions (token_hash, user_name, created_at, last_seen, client) VALUES (?, ?, ?, ?, ?)",
                [_token_hash(token), user.name, now, now, client])
    return token


def resume_session(con: duckdb.DuckDBPyConnection, token: str | None, now: dt.datetime | None = None) -> User | None:
    """The user of a session still open — not ended, active within ``idle_minutes``, its account
    enabled — with its last activity moved to ``now``; None otherwise (an idle session is ended)."""
    if not token:
        return None
    now = now or dt.datetime.now()
    row = con.execute(
        "SELECT s.last_seen, s.ended_at, u.name, u.role, u.unit, u.display_name, u.disabled FROM user_sessions s "
        "JOIN users u ON u.name = s.user_name WHERE s.token_hash = ?", [_token_hash(token)]).fetchone()
    if row is None or row[1] is not None or row[6]:
        return None
    if now - row[0] > dt.timedelta(minutes=_settings().idle_minutes):
        end_session(con, token, now, reason="idle")
        return None
    con.execute("UPDATE user_sessions SET last_seen = ? WHERE token_hash = ?", [now, _token_hash(token)])
    return User(name=row[2], role=row[3], unit=row[4], display_name=row[5])


def end_session(con: duckdb.DuckDBPyConnection, token: str | None, now: dt.datetime | None = None,
                reason: str = "logout") -> None:
    """End a session (退出登录 or idle); the end goes to the audit trail."""
    if not token:
        return
    now = now or dt.datetime.now()
    row = con.execute("SELECT user_name, ended_at FROM user_sessions WHERE token_hash = ?",
                      [_token_hash(token)]).fetchone()
    if row is None or row[1] is not None:
        return
    with transaction(con):
        con.execute("UPDATE user_sessions SET ended_at = ? WHERE token_hash = ?", [now, _token_hash(token)])
        audit.record(con, row[0], "logout", details={"reason": reason}, at=now)
