"""The review of returns by the county (审核): approve, return, unlock.

A stored submission starts 待审核 (``submitted``). Its county — a county reviewer, or a city user
or admin whose units include it — approves it (``approved``: locked, no later upload may
supersede it) or returns it with a comment the clerk sees (``returned``: the clerk uploads a
corrected version). An approved submission can be unlocked with a reason (back to ``submitted``).
Only the active submission of a township and quarter is reviewed. Every step is audited.
``settings.review.progress_uses`` says whether indicators use approved returns only (default) or
every stored one.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from pipelines.access import audit
from pipelines.access.roles import User, require
from pipelines.errors import RuralTargetsError
from pipelines.store.db import transaction

STATES = {"submitted": "待审核", "approved": "已通过", "returned": "已退回"}
_FROM = {"approve": ("submitted", "returned"), "return": ("submitted",), "unlock": ("approved",)}
_TO = {"approve": "approved", "return": "returned", "unlock": "submitted"}
_VERB = {"approve": ("审核通过", "approve"), "return": ("退回", "return"), "unlock": ("解锁", "unlock")}
COLUMNS = ("id", "township_code", "township_name", "period", "file_name", "uploaded_at", "uploaded_by",
           "village_rows", "warnings", "review_status", "reviewed_by", "reviewed_at", "review_comment", "status")


def review_queue(con: duckdb.DuckDBPyConnection, actor: User, status: str | None = None,
                 township: str | None = None) -> list[dict[str, Any]]:
    """Active submissions inside the actor's units (a clerk: its own township's), newest first;
    ``status``: only those in that review state."""
    where, params = ["s.status = 'active'"], []
    if actor.prefix:
        where.append("starts_with(s.township_code, ?)")
        params.append(actor.prefix)
    if status:
        if status not in STATES:
            raise RuralTargetsError("PRG005", status=status, known=", ".join(STATES))
        where.append("s.review_status = ?")
        params.append(status)
    if township:
        where.append("s.township_code = ?")
        params.append(township)
    rows = con.execute(
        f"SELECT s.id, s.township_code, u.name, s.period, s.file_name, s.uploaded_at, s.uploaded_by, s.village_rows, "
        f"s.warnings, s.review_status, s.reviewed_by, s.reviewed_at, s.review_comment, s.status "
        f"FROM submissions s LEFT JOIN units u ON u.code = s.township_code WHERE {' AND '.join(where)} "
        f"ORDER BY s.uploaded_at DESC, s.id DESC", params).fetchall()
    out = [dict(zip(COLUMNS, r)) for r in rows]
    for r in out:
        r["review_zh"] = STATES.get(r["review_status"], r["review_status"])
    return out


def _step(con: duckdb.DuckDBPyConnection, actor: User, submission_id: int, step: str, text: str | None,
          client: str | None) -> dict[str, Any]:
    row = con.execute("SELECT township_code, period, status, review_status, superseded_by FROM submissions "
                      "WHERE id = ?", [submission_id]).fetchone()
    if row is None:
        raise RuralTargetsError("REV001", id=submission_id)
    township, period, status, state, newer = row
    verb, verb_en = _VERB[step]
    try:
        require(actor, "review", township, target=f"{township} {period}")
    except RuralTargetsError as exc:
        audit.record(con, actor, step, "refused", object=f"submission {submission_id}", unit=township,
                     details={"code": exc.code}, client=client)
        raise
    if status != "active":
        raise RuralTargetsError("REV004", id=submission_id, active=newer, action=verb)
    if state not in _FROM[step]:
        raise RuralTargetsError("REV002", id=submission_id, township=township, period=period,
                                state=STATES.get(state, state), state_en=state, action=verb, action_en=verb_en)
    if step in ("return", "unlock") and not (text or "").strip():
        what, what_en = ("退回意见", "comment") if step == "return" else ("解锁原因", "reason")
        raise RuralTargetsError("REV003", action=verb, action_en=verb_en, what=what, what_en=what_en)
    now = dt.datetime.now()
    with transaction(con):
        con.execute("UPDATE submissions SET review_status = ?, reviewed_by = ?, reviewed_at = ?, review_comment = ? "
                    "WHERE id = ?", [_TO[step], actor.name, now, (text or "").strip() or None, submission_id])
        audit.record(con, actor, step, "ok", object=f"submission {submission_id}", unit=township,
                     details={"township": township, "period": period, "from": state, "to": _TO[step],
                              "comment": (text or "").strip() or None}, client=client, at=now)
    return {"id": submission_id, "township_code": township, "period": period, "review_status": _TO[step],
            "reviewed_by": actor.name, "reviewed_at": now}


def approve(con: duckdb.DuckDBPyConnection, actor: User, submission_id: int, client: str | None = None) -> dict:
    """Approve (and lock) a submission of the actor's units."""
    return _step(con, actor, submission_id, "approve", None, client)


def return_submission(con: duckdb.DuckDBPyConnection, actor: User, submission_id: int, comment: str,
                      client: str | None = None) -> dict:
    """Return a submission to its township with ``comment`` (required)."""
    return _step(con, actor, submission_id, "return", comment, client)


def unlock(con: duckdb.DuckDBPyConnection, actor: User, submission_id: int, reason: str,
           client: str | None = None) -> dict:
    """Unlock an approved submission with ``reason`` (required): it is 待审核 again and may be superseded."""
    return _step(con, actor, submission_id, "unlock", reason, client)


def approve_all(con: duckdb.DuckDBPyConnection, actor: User, ids: list[int]) -> int:
    """Approve many submissions at once without an audit row each (``rural-targets init``'s sample
    history); one audit row for the batch."""
    require(actor, "review")
    if not ids:
        return 0
    now = dt.datetime.now()
    with transaction(con):
        con.execute("UPDATE submissions SET review_status = 'approved', reviewed_by = ?, reviewed_at = ? "
                    "WHERE list_contains(?::INTEGER[], id) AND review_status <> 'approved'", [actor.name, now, ids])
        audit.record(con, actor, "approve", "ok", object=f"{len(ids)} submissions", details={"ids": len(ids)}, at=now)
    return len(ids)
