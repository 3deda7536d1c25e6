"""The dashboard's one query layer: every page reads through these cached functions.

Rules:
- Each query opens the database read-only for its own length and closes it, so the ingest worker and
  the CLI (writers) are never locked out for longer than one query. An upload's confirm step only
  hands the files to the upload queue (pipelines.ingest.queue); the worker the dashboard starts
  (``ensure_worker``) stores them. Sign-ins, reviews and records write through short connections.
- DuckDB refuses a read-only and a read-write connection to one file in one process, so every
  connection of this process is taken under one lock.
- Cached results are keyed by their parameters and by the data version
  (pipelines.compute.stored.data_token): an upload, here or through the CLI, shows on the next run.
- No SQL and no progress logic here: the pipelines modules hold them (pipelines/compute/lookups.py
  for what only the dashboard asks); this module keeps caching and connections.
"""
from __future__ import annotations

import datetime as dt
import io
import logging
import os
import subprocess
import sys
import tempfile
import threading
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import pandas as pd
import streamlit as st

from pipelines.access import accounts as accounts_api
from pipelines.access import audit as audit_api
from pipelines.access import review as review_api
from pipelines.access.roles import User, allowed, require
from pipelines.catalog.definitions import catalog
from pipelines.compute import completeness as completeness_api
from pipelines.compute import laggards as laggards_api
from pipelines.compute import lookups as dashboard_data
from pipelines.compute.assess import assess_frame
from pipelines.compute.judge import judged_levels as judged_levels_of
from pipelines.compute.records import record_task_update
from pipelines.compute.rules import STRIVE_ZH
from pipelines.compute.refresh import refresh
from pipelines.compute.stored import data_token, is_fresh, is_published, read_stored, stored_state
from pipelines.errors import RuralTargetsError
from pipelines.ingest.pipeline import ingest_uploads, read_files
from pipelines.ingest.queue import Job, file_report
from pipelines.ingest.serve import queue_for, user_record
from pipelines.ingest.template import template_filename, write_county_templates, write_township_template
from pipelines.periods import due_date
from pipelines.registry import load as registry
from pipelines.store import db
from pipelines.units import LEVEL_ZH, level_of, parent, prefix

log = logging.getLogger("rural_targets.dashboard")
READ_WAIT_S = 15.0     # a read waits this long for a writer (the worker: one batch, the CLI) before GEN002 请稍后再试
WRITE_WAIT_S = 10.0
_LOCK = threading.RLock()


# ------------------------------------------------------------------ connections

@contextmanager
def reading() -> Iterator[Any]:
    """A short-lived read-only connection (GEN002 when another process is writing)."""
    with _LOCK:
        con = db.connect(read_only=True, wait_s=READ_WAIT_S)
        try:
            yield con
        finally:
            con.close()


@contextmanager
def writing() -> Iterator[Any]:
    """A read-write connection for the length of one upload's confirm step."""
    with _LOCK:
        con = db.connect(read_only=False, wait_s=WRITE_WAIT_S)
        try:
            yield con
        finally:
            con.close()


@st.cache_resource(show_spinner="首次运行:正在用示例数据建立数据库(约需一分钟)…")
def _ensure_database(path: str) -> str:
    from pipelines.samples.init import init_database   # the sample generators load only when needed

    if not Path(path).exists():
        with writing() as con:
            init_database(con, progress=False)
    return path


def ensure_database() -> str:
    """Create the database from the bundled samples when it does not exist yet."""
    return _ensure_database(str(db.db_path()))


@st.cache_data(ttl=3, show_spinner=False)
def _data_version(path: str) -> str:
    with reading() as con:
        token = data_token(con)
        stored = _stored_is_fresh(con, token)
        published = not stored and _published(con)
    if not stored and worker_running() and published:
        # uploads are coming in: the worker refreshes the tables once its queue is empty (or every few
        # seconds); meanwhile the pages read the last published state and say so (``updating``)
        return f"{path}|{token}|snapshot"
    if not stored and not worker_running() and _refresh_due():
        # stale stored tables (a refresh was killed, or data came in another way): refresh them once
        # here, so the pages go on reading them instead of computing progress on every view
        with writing() as con:
            _refresh_progress(con)
            token = data_token(con)
            stored = _stored_is_fresh(con, token)
    return f"{path}|{token}|{'stored' if stored else 'live'}"


def _published(con: Any) -> bool:
    try:
        return is_published(con)
    except Exception:  # noqa: BLE001 - an older or damaged table: compute instead
        return False


def updating() -> str | None:
    """While newly stored returns wait for the worker's refresh: when the pages' progress was computed
    (HH:MM:SS); None when it is current."""
    if not data_version().endswith("|snapshot"):
        return None
    with reading() as con:
        state = stored_state(con) or {}
    at = state.get("refreshed_at")
    return at[11:19] if at else "稍早"


_LAST_REFRESH = [0.0]


def _refresh_due() -> bool:
    """At most one automatic refresh a minute per server."""
    import time as _time

    now = _time.monotonic()
    if now - _LAST_REFRESH[0] < 60:
        return False
    _LAST_REFRESH[0] = now
    return True


def _stored_is_fresh(con: Any, token: str) -> bool:
    """Whether the stored progress tables match the data: then progress is read from them (tens of
    milliseconds) instead of being computed (about a second)."""
    try:
        return is_fresh(con, token=token)
    except Exception:  # noqa: BLE001 - an older or damaged table: compute instead
        log.warning("progress tables unreadable; computing progress instead", exc_info=True)
        return False


def _refresh_progress(con: Any) -> None:
    """After a write: recompute the stored progress tables, so every page reads them again.
    If that fails the write stands and the pages compute progress directly (slower, same result)."""
    try:
        refresh(con)
    except Exception:  # noqa: BLE001 - see above
        log.warning("progress refresh after a write failed; pages will compute progress", exc_info=True)


def data_version() -> str:
    """Changes whenever anything is stored (checked at most every 3 s; cleared by an upload).

    It names the database file too, so caches never mix two databases.
    """
    return _data_version(str(db.db_path()))


def invalidate() -> None:
    """Forget the data version after a write, so every cached query is recomputed."""
    _data_version.clear()


# ------------------------------------------------------------------ the signed-in user and its units

USER_KEY = "user"          # st.session_state[USER_KEY]: the signed-in pipelines.access.roles.User


def user() -> User:
    """The signed-in user (AUTH010 when nobody is: every page runs after the sign-in gate)."""
    u = st.session_state.get(USER_KEY)
    if not isinstance(u, User):
        raise RuralTargetsError("AUTH010", user="(未登录)", role="", role_zh="未登录", action="查看数据",
                                action_en="read data", who="已登录的用户")
    return u


def client() -> str | None:
    """The browser's address where Streamlit exposes it (for the audit trail)."""
    try:
        address = st.context.ip_address
    except Exception:  # noqa: BLE001 - not inside a browser session
        return None
    return address if isinstance(address, str) else None       # AppTest has none


def scoped(code: str | None) -> str | None:
    """The unit a read covers: ``code`` when it lies inside the signed-in user's units, the user's own
    unit when ``code`` is None; AUTH011 for a unit outside them (a link cannot widen the view)."""
    u = user()
    if code is None:
        return u.unit
    if not u.covers(code):
        raise RuralTargetsError("AUTH011", user=u.name, role=u.role, role_zh=u.role_zh, home=u.unit or "",
                                action="查看", action_en="read", target=code)
    return code


def may(action: str, unit: str | None = None) -> bool:
    """Whether the signed-in user may do ``action`` (on ``unit``): for showing or hiding controls; every
    write is checked again by the pipelines."""
    return allowed(user(), action, unit)


def require_role(action: str) -> None:
    """AUTH010 unless the signed-in user's role may do ``action`` (a page that is not for every role)."""
    require(user(), action)


def sign_in(name: str, password: str) -> User:
    """Check a name and password (pipelines.access.accounts.sign_in; audited either way)."""
    with writing() as con:
        return accounts_api.sign_in(con, name.strip(), password, client=client())


def open_session(u: User) -> str:
    """A new session for the signed-in user: the token for the browser's session cookie."""
    with writing() as con:
        return accounts_api.open_session(con, u, client=client())


def resume_session(token: str | None) -> User | None:
    """The user of the browser's open session (its cookie), None when there is none or it has ended."""
    if not token:
        return None
    with writing() as con:
        return accounts_api.resume_session(con, token)


def sign_out(token: str | None, reason: str = "logout") -> None:
    """End the session (退出登录, or idle): audited."""
    with writing() as con:
        accounts_api.end_session(con, token, reason=reason)


def idle_minutes() -> int:
    """settings.accounts.idle_minutes: a session ends after this long without a click."""
    return catalog().settings.accounts.idle_minutes



def demo_accounts_hint() -> str | None:
    """On the sample database: where `rural-targets init` wrote the demo accounts (None elsewhere)."""
    from pipelines.samples.init import DEMO_FILE_NAME      # the sample tooling loads only when needed

    path = db.home_dir() / DEMO_FILE_NAME
    if not path.is_file():
        return None
    return (f"这是示例数据库:各角色的演示账户(admin 系统管理员、shi 市级、biquan 区县审核员、huangzui 乡镇填报员)"
            f"及其密码见 {path}(由 rural-targets init 生成)。")


# ------------------------------------------------------------------ catalog

@st.cache_data(ttl=600, show_spinner=False)
def plans() -> pd.DataFrame:
    """One row per plan of the catalog."""
    return pd.DataFrame([{
        "code": p.code, "title": p.title, "doc_no": p.doc_no, "issuer": p.issuer, "issued": p.issued,
        "scope": p.scope, "scope_name": p.scope_name, "period_start": p.period_start, "period_end": p.period_end,
        "targets": len(p.targets),
    } for p in catalog().plans.values()])


def plan_scopes(plan: str) -> list[str]:
    """Units the plan applies to (its scope and the units following it)."""
    return catalog().scopes(plan)


# the one level that gets a status (Target.judged_at); None: the target's level and above
JUDGED_AT_ZH = {"scope": "规划范围(各适用单位)", **LEVEL_ZH}


def judged_at_zh(target: Any) -> str:
    """Where a target is judged, in words: 规划指引(不判定) for a guideline, the level of ``judged_at``,
    else the target's level and above."""
    if target.guideline:
        return "规划指引(不判定)"
    at = target.judged_at
    return JUDGED_AT_ZH.get(at, at) if at else f"{LEVEL_ZH[target.level]}及以上"


@st.cache_data(ttl=600, show_spinner=False)
def targets(plan: str) -> pd.DataFrame:
    """The targets of ``plan`` with their indicators, as a clerk reads them."""
    cat = catalog()
    rows = []
    for _, t in cat.targets(plan):
        ind = cat.indicators.get(t.indicator) if t.indicator else None
        rows.append({
            "编号": t.id, "目标": t.title, "口径": t.population, "力争": STRIVE_ZH if t.strive else "",
            "目标值": t.target_text, "截止日期": t.deadline, "判定层级": judged_at_zh(t), "解读": t.reading,
            "条款": t.clause, "原文": t.source_clause, "指标": ind.title if ind else "(按期完成)",
            "评价方式": t.eval, "评价层级": LEVEL_ZH[t.level],
            "牵头单位": "、".join(t.lead), "参与单位": "、".join(t.partners),
        })
    return pd.DataFrame(rows)


def target_info(target_id: str) -> dict[str, Any]:
    """A target's catalog entry as a plain dict (title, unit, deadline, comparator, value, …)."""
    cat = catalog()
    plan, t = cat.target(target_id)
    ind = cat.indicators.get(t.indicator) if t.indicator else None
    return {"id": t.id, "plan": plan.code, "title": t.title, "indicator": t.indicator,
            "indicator_title": ind.title if ind else None, "unit": t.unit or (ind.unit if ind else ""),
            "comparator": t.comparator, "value": t.value, "target_text": t.target_text,
            "deadline": t.deadline, "start": t.start or plan.period_start, "eval": t.eval, "level": t.level,
            "lower_is_better": t.lower_is_better, "lead": list(t.lead), "partners": list(t.partners),
            "clause": t.clause, "source_clause": t.source_clause,
            "bounds": tuple(ind.bounds) if ind else (0.0, None),
            "population": t.population, "strive": t.strive, "reading": t.reading, "judged_at": t.judged_at,
            "judged_at_zh": judged_at_zh(t), "guideline": t.guideline}


# ------------------------------------------------------------------ registry

def _v() -> str:
    return data_version()


@st.cache_data(ttl=600, show_spinner=False)
def _units(level: str | None, parent: str | None, version: str) -> pd.DataFrame:
    with reading() as con:
        return pd.DataFrame(registry.list_units(con, level=level, parent=parent),
                            columns=list(registry.UNIT_COLUMNS))


def units(level: str | None = None, parent: str | None = None) -> pd.DataFrame:
    """Units of the registry (``parent`` with ``level``: all descendants of that level)."""
    return _units(level, parent, _v())


@st.cache_data(ttl=600, show_spinner=False, max_entries=4096)
def _unit_name(code: str, version: str) -> str:
    with reading() as con:
        found = dashboard_data.units_by_code(con, [code])
    return found.get(code, {}).get("name", "")


def unit_name(code: str | None) -> str:
    """The name of a unit ('' when unknown)."""
    return _unit_name(code, _v()) if code else ""


@st.cache_data(ttl=600, show_spinner=False, max_entries=256)
def _unit_names(codes: tuple[str, ...], version: str) -> dict[str, str]:
    with reading() as con:
        return {c: v["name"] for c, v in dashboard_data.units_by_code(con, list(codes)).items()}


def unit_names(codes: list[str]) -> dict[str, str]:
    """code → name for ``codes``."""
    return _unit_names(tuple(sorted(set(codes))), _v()) if codes else {}


def unit_counts() -> pd.DataFrame:
    """Number of units per level."""
    df = units()
    if df.empty:
        return pd.DataFrame(columns=["层级", "单位数"])
    out = df.groupby("level").size().reindex(list(LEVEL_ZH)).dropna().astype(int)
    return pd.DataFrame({"层级": [LEVEL_ZH[k] for k in out.index], "单位数": out.values})


@st.cache_data(ttl=600, show_spinner=False)
def _descendants(code: str | None, level: str, version: str) -> pd.DataFrame:
    with reading() as con:
        return dashboard_data.descendants(con, code, level)


def descendants(code: str | None, level: str) -> pd.DataFrame:
    """Units of ``level`` under ``code`` with coordinates and populations."""
    return _descendants(code, level, _v())


@st.cache_data(ttl=600, show_spinner=False, max_entries=64)
def _shapes(codes: tuple[str, ...], version: str) -> pd.DataFrame:
    with reading() as con:
        return dashboard_data.unit_shapes(con, list(codes))


def shapes(codes: list[str]) -> pd.DataFrame:
    """code, name, level, lon, lat, geometry (GeoJSON text or None) of ``codes``."""
    return _shapes(tuple(sorted(codes)), _v())


# ------------------------------------------------------------------ submissions

@st.cache_data(ttl=600, show_spinner=False)
def _periods(day: dt.date, version: str) -> list[str]:
    with reading() as con:
        return completeness_api.reporting_periods(con, day)


def reporting_periods() -> list[str]:
    """Every quarter from the first one anyone reported for up to today's, oldest first — quarters
    nobody reported included ([] before any return)."""
    return _periods(today(), _v())


@st.cache_data(ttl=600, show_spinner=False, max_entries=64)
def _default_quarter(area: str | None, day: dt.date, version: str) -> str | None:
    with reading() as con:
        return completeness_api.default_quarter(con, catalog(), day, unit=area)


def default_quarter(city: str | None) -> str | None:
    """The sidebar's default quarter (pipelines.compute.completeness.default_quarter, the CLI's rule):
    the latest quarter whose due date has passed and whose returns reached settings.progress.min_coverage
    of the city's townships; None when none did."""
    return _default_quarter(completeness_api.area_of(city), today(), _v())


def first_quarter(city: str | None) -> tuple[str | None, str]:
    """The quarter the sidebar opens on and why (pipelines.compute.completeness.choose_quarter):
    ``default_quarter`` ("default"), else the latest quarter already due ("latest_due")."""
    period = default_quarter(city)
    if period is not None:
        return period, "default"
    return completeness_api.choose_quarter(quarter_summary(city), today())


def min_coverage() -> float:
    """settings.progress.min_coverage (0.9): below it a quarter is too incomplete to judge."""
    return completeness_api.min_coverage(catalog())


@st.cache_data(ttl=600, show_spinner=False)
def _recent(under: str | None, limit: int, version: str) -> pd.DataFrame:
    with reading() as con:
        return dashboard_data.recent_submissions(con, under, limit)


def recent_submissions(under: str | None = None, limit: int = 50) -> pd.DataFrame:
    """The latest uploads under a unit, newest first."""
    return _recent(scoped(under), limit, _v())


# ------------------------------------------------------------------ uploads and templates

def check_uploads(files: list[tuple[str, bytes]], progress: Callable[[int, int, Any], None] | None = None) -> list:
    """Dry run as the signed-in user: read every file first with no connection and no lock held (in the
    ingest worker, within the limits), then check it against the registry; nothing is stored but the
    audit row."""
    parsed = read_files(files)
    with writing() as con:
        return ingest_uploads(con, parsed, dry_run=True, actor=user(), client=client(), progress=progress)


WORKER_ENV = "RURAL_TARGETS_WORKER"     # "off": the dashboard starts no ingest worker (tests drive one themselves)


@st.cache_resource(show_spinner=False)
def _worker(target: str) -> subprocess.Popen | None:
    """The ingest worker of this server (``rural-targets worker``), started unless one already serves
    the database; it ends with this process."""
    if os.environ.get(WORKER_ENV) == "off" or queue_for().workers():
        return None
    logs = db.home_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / "worker.log", "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "pipelines.cli.main", "worker", "--parent", str(os.getpid())],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)


def ensure_worker() -> None:
    """Start the ingest worker with the dashboard (once per server process; again when neither it nor
    another worker of the database is alive)."""
    proc = _worker(db.db_target())
    if (proc is None or proc.poll() is not None) and os.environ.get(WORKER_ENV) != "off" \
            and not queue_for().workers():
        _worker.clear()
        _worker(db.db_target())


def worker_running() -> bool:
    """Whether an ingest worker serves the database now."""
    return bool(queue_for().workers())


def queue_uploads(files: list[tuple[str, bytes]]) -> list[Job]:
    """Hand checked files to the upload queue as the signed-in user (allowed to upload: AUTH010 else);
    returns at once. The worker stores them in arrival order, checking everything again."""
    u = require(user(), "ingest")
    ensure_worker()
    return queue_for().submit(files, user_record(u), client())


def upload_jobs(job_ids: list[str]) -> list[Job]:
    """The queued uploads ``job_ids`` in their current state; the data version is forgotten once one
    of them has been stored, so every page shows it."""
    q = queue_for()
    jobs = [j for j in (q.get(i) for i in job_ids) if j is not None]
    if any(j.state == "done" and j.outcome == "stored" for j in jobs):
        invalidate()
    return jobs


def job_report(job: Job) -> Any:
    """A finished job's report (pipelines.ingest.pipeline.FileReport)."""
    return file_report(job.report or {})


@st.cache_data(ttl=600, show_spinner=False, max_entries=32)
def _township_template(code: str, period: str, version: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp, reading() as con:
        return write_township_template(con, code, period, Path(tmp)).read_bytes()


def township_template_name(code: str, period: str) -> str:
    """The file name of a township's blank return."""
    return template_filename(code, unit_name(code) or code, period)


def township_template(code: str, period: str) -> bytes:
    """The blank return of one township (xlsx bytes)."""
    return _township_template(code, period, _v())


@st.cache_data(ttl=600, show_spinner=False, max_entries=8)
def _county_templates(code: str, period: str, version: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        with reading() as con:
            paths = write_county_templates(con, code, period, Path(tmp))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in paths:
                zf.write(p, p.name)
    return buf.getvalue()


def county_templates_name(code: str, period: str) -> str:
    """The file name of a county's zipped blank returns."""
    return f"{code}_{unit_name(code) or code}_{period}_乡镇季度报表模板.zip"


def county_templates(code: str, period: str) -> bytes:
    """The blank returns of every township of a county, one xlsx each, zipped."""
    return _county_templates(code, period, _v())


def today() -> dt.date:
    """Today's date (one place, so tests and the benchmark can pin it)."""
    return dt.date.today()


# ------------------------------------------------------------------ progress (pipelines.compute)

BASES = {"now": "按现有全部数据", "then": "按当时已报送的数据"}


@st.cache_data(ttl=600, show_spinner="正在评估进度 …", max_entries=96)
def _level_history(plan: str, target: str | None, scope: str | None, level: str, version: str) -> pd.DataFrame:
    with reading() as con:
        if version.endswith(("|stored", "|snapshot")):  # current, or the last published while uploads come in
            return read_stored(con, plan=None if target else plan, target=target, unit=scope, level=level)
        return assess_frame(con, plan=None if target else plan, target=target, unit=scope, level=level)


@st.cache_data(ttl=600, show_spinner="正在按当时的数据评估进度 …", max_entries=96)
def _level_asof(plan: str, target: str | None, asof: str, scope: str | None, level: str,
                version: str) -> pd.DataFrame:
    with reading() as con:
        return assess_frame(con, plan=None if target else plan, target=target, unit=scope, level=level, as_of=asof)


def plan_history(plan: str, scope: str | None, level: str, upto: str | None = None,
                 target: str | None = None) -> pd.DataFrame:
    """Every target of ``plan`` (or only ``target``) for the units of ``level`` under ``scope`` (and
    ``scope`` itself when it is of that level), every quarter up to ``upto``, judged with the data
    stored now. One cached frame per (plan or target, scope, level) serves every quarter."""
    df = _level_history(plan, target, scoped(scope), level, _v())
    return df[df["period"] <= upto] if upto is not None and not df.empty else df


def status(plan: str, quarter: str | None, scope: str | None, level: str, basis: str = "now",
           target: str | None = None) -> pd.DataFrame:
    """Every target of ``plan`` (or only ``target``) for the units of ``level`` under ``scope`` in
    ``quarter``: value, target_value, status, pi, tau, gap_pp, projected, … (one row per target × unit).

    ``basis`` "now": with every return stored today (late returns included); "then": as of the
    quarter — only the returns for quarters up to it that had arrived by its due date."""
    if quarter is None:
        return pd.DataFrame()
    scope = scoped(scope)
    if basis == "then":
        return _level_asof(plan, target, quarter, scope, level, _v())
    df = _level_history(plan, target, scope, level, _v())
    return df[df["period"] == quarter].reset_index(drop=True) if not df.empty else df


def judged_levels(target: str, scope_level: str) -> list[str]:
    """The levels below ``scope_level`` where ``target`` is judged unit by unit (top down)."""
    return judged_levels_of(catalog(), target, scope_level)


def unit_progress(target: str, quarter: str | None, level: str, parent: str | None,
                  basis: str = "now") -> pd.DataFrame | None:
    """Progress of the units of ``level`` under ``parent`` for ``target`` in ``quarter``, with
    ``code`` for joining (None without a quarter)."""
    if quarter is None:
        return None
    df = status(target_info(target)["plan"], quarter, parent, level, basis, target=target)
    if df.empty:
        return df
    return df.rename(columns={"unit_code": "code"})


@st.cache_data(ttl=600, show_spinner=False, max_entries=16)
def _last_returns(quarter: str, basis: str, version: str) -> dict[str, str]:
    with reading() as con:
        return laggards_api.last_returns(con, as_of=quarter if basis == "then" else None, upto=quarter)


def rank_laggards(plan: str, target: str, level: str, quarter: str | None, scope: str | None,
                  basis: str = "now") -> pd.DataFrame:
    """后进名单 from the plan's cached assessment: the units of ``level`` under ``scope`` for
    ``target`` in the laggard order of pipelines.compute.laggards, with rank and the quarter of
    the last return up to ``quarter`` (as ``laggards`` gives them for ``period``, or ``as_of`` with
    basis "then")."""
    df = status(plan, quarter, scope, level, basis, target=target)
    if df.empty:
        return df
    return laggards_api.rank(df, _last_returns(quarter, basis, _v()))


def laggard_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of an assessment in the laggard order of pipelines.compute.laggards (worst first)."""
    return laggards_api.rank(frame) if not frame.empty else frame


def parent_names(codes: list[str]) -> dict[str, str]:
    """code → the name of the unit directly above it (township of a village, county of a township, …)."""
    above = {c: parent(c) for c in codes}
    names = unit_names([p for p in set(above.values()) if p])
    return {c: names.get(p, "") for c, p in above.items()}


def cutoff_date(period: str) -> dt.date:
    """The day by which a quarter's returns count for it (the reporting due date)."""
    return due_date(period, catalog().settings.reporting.due_day)


# ------------------------------------------------------------------ milestones and tasks

def current_quarter() -> str:
    """The quarter of ``today()``."""
    d = today()
    return f"{d.year}Q{(d.month - 1) // 3 + 1}"


@st.cache_data(ttl=600, show_spinner="正在评估任务进度 …", max_entries=32)
def _milestone_status(plan: str, scope: str | None, asof: str | None, period: str | None,
                      version: str) -> pd.DataFrame:
    targets = catalog().plan(plan).targets
    ids = [t.id for t in targets if t.eval == "milestone"]
    if not ids:
        return pd.DataFrame()
    # judged at the end of the current quarter, which has no stored rows: always computed
    with reading() as con:
        if len(ids) == len(targets):       # a task list: the whole plan at once
            frame = assess_frame(con, plan=plan, unit=scope, as_of=asof, period=period, stored=False)
        else:
            frame = pd.concat([assess_frame(con, target=t, unit=scope, as_of=asof, period=period, stored=False)
                               for t in ids], ignore_index=True)
    return frame[frame["target"].isin(ids)].reset_index(drop=True)


def milestone_status(plan: str, scope: str | None, asof: str | None = None) -> pd.DataFrame:
    """The plan's milestone targets (task lists and report dates) for ``scope``: as of ``asof``, or
    (``asof`` None) at the end of the current quarter with every update recorded so far."""
    return _milestone_status(plan, scoped(scope), asof, None if asof else current_quarter(), _v())


@st.cache_data(ttl=600, show_spinner=False, max_entries=16)
def _task_history(plan: str, version: str) -> pd.DataFrame:
    with reading() as con:
        return dashboard_data.task_history(con, plan)


def task_history(plan: str) -> pd.DataFrame:
    """Every update of the plan's tasks, newest first."""
    return _task_history(plan, _v())


def record_task(plan: str, task_id: str, unit: str, status: str, done_date: dt.date | None, note: str | None,
                evidence: str | None) -> dict[str, Any]:
    """Append a task update as the signed-in user (pipelines.compute.records; read-write for this one
    statement)."""
    try:
        with writing() as con:
            row = record_task_update(con, plan, task_id, unit, status, done_date=done_date, note=note,
                                     evidence=evidence, actor=user(), client=client())
            _refresh_progress(con)
            return row
    finally:
        invalidate()


# ------------------------------------------------------------------ reporting completeness

@st.cache_data(ttl=600, show_spinner=False, max_entries=32)
def _township_returns(area: str | None, day: dt.date, version: str) -> pd.DataFrame:
    with reading() as con:
        periods = completeness_api.reporting_periods(con, day)
        return completeness_api.township_returns_many(con, periods, unit=area, today=day)


def _area(scope: str | None) -> str | None:
    """The city (or wider unit) whose townships are read once and filtered for any scope under it."""
    return completeness_api.area_of(scope)


def _under(frame: pd.DataFrame, scope: str | None) -> pd.DataFrame:
    if not scope or frame.empty or level_of(scope) in ("province", "city"):
        return frame
    return frame[frame["township_code"].str.startswith(prefix(scope))].reset_index(drop=True)


def _all_returns(scope: str | None) -> pd.DataFrame:
    scope = scoped(scope)
    return _under(_township_returns(_area(scope), today(), _v()), scope)


def township_returns(period: str, scope: str | None) -> pd.DataFrame:
    """Each expected township of ``scope`` in ``period``: received when, on time / late (days) /
    missing / pending, number of uploads, last return (pipelines.compute.completeness). Every quarter
    is read once per city, so another quarter or a county or township under it reads nothing again."""
    frame = _all_returns(scope)
    if frame.empty or period not in set(frame["period"]):
        with reading() as con:
            return completeness_api.township_returns(con, period, unit=scoped(scope), today=today())
    return frame[frame["period"] == period].reset_index(drop=True)


def quarter_summary(scope: str | None) -> pd.DataFrame:
    """Per quarter up to today's (quarters nobody reported included): expected, received, on time,
    late, missing, pending and coverage of the townships of ``scope``."""
    return completeness_api.summarise(_all_returns(scope), reporting_periods(),
                                      catalog().settings.reporting.due_day, today(), min_coverage())


def quarter_coverage(period: str | None, scope: str | None) -> dict[str, Any] | None:
    """The row of ``quarter_summary`` for ``period`` as a dict (None without one)."""
    if period is None:
        return None
    summary = quarter_summary(scope)
    row = summary[summary["period"] == period]
    return row.iloc[0].to_dict() if len(row) else None


@st.cache_data(ttl=600, show_spinner=False, max_entries=64)
def _rollups(period: str, scope: str | None, day: dt.date, version: str) -> pd.DataFrame:
    towns = township_returns(period, scope)
    with reading() as con:
        return completeness_api.rollups(con, towns)


def rollups(period: str, scope: str | None) -> pd.DataFrame:
    """Expected / received / on time / late / missing and the two rates per county and city."""
    return _rollups(period, scoped(scope), today(), _v())


# ------------------------------------------------------------------ review and the audit trail

@st.cache_data(ttl=600, show_spinner=False, max_entries=32)
def _review_queue(name: str, role: str, unit: str | None, status: str | None, version: str) -> pd.DataFrame:
    with reading() as con:
        rows = review_api.review_queue(con, User(name=name, role=role, unit=unit), status=status)
    return pd.DataFrame(rows, columns=list(review_api.COLUMNS) + ["review_zh"])


def review_queue(status: str | None = None) -> pd.DataFrame:
    """Active submissions in the signed-in user's units with their review state, newest first."""
    u = user()
    return _review_queue(u.name, u.role, u.unit, status, _v())


def review(step: str, submission_id: int, text: str | None = None) -> dict[str, Any]:
    """approve / return / unlock a submission as the signed-in user (pipelines.access.review)."""
    fn = {"approve": review_api.approve, "return": review_api.return_submission, "unlock": review_api.unlock}[step]
    try:
        with writing() as con:
            args = (text,) if step != "approve" else ()
            row = fn(con, user(), int(submission_id), *args, client=client())
            _refresh_progress(con)
            return row
    finally:
        invalidate()


def submission_detail(submission_id: int) -> dict[str, Any]:
    """A stored submission's village values and its warnings, for the reviewer (inside the user's units)."""
    with reading() as con:
        row = dashboard_data.submission_row(con, int(submission_id))
        if row is None:
            raise RuralTargetsError("REV001", id=submission_id)
        scoped(row["township_code"])
        return {"submission": row, "values": dashboard_data.submission_village_values(con, int(submission_id)),
                "problems": dashboard_data.submission_warnings(con, int(submission_id))}


def audit_entries(user_name: str | None = None, action: str | None = None, since: dt.date | None = None,
                  limit: int = 500) -> pd.DataFrame:
    """The audit trail as the signed-in user may read it, newest first."""
    with reading() as con:
        rows = audit_api.entries(con, user(), user=user_name, since=since, action=action, limit=limit)
    return pd.DataFrame(rows)


def field_labels(sheet: str = "village") -> dict[str, str]:
    """Field id → its Chinese label (schemas/fields.yaml), for column headers."""
    return {f.id: f.label for f in catalog().sheets[sheet].fields}


AUDIT_ACTIONS = audit_api.ACTIONS_ZH
audit_details = audit_api.details_text
REVIEW_ZH = review_api.STATES


# ------------------------------------------------------------------ briefings (pipelines.report)

@st.cache_data(ttl=600, show_spinner="正在汇总简报内容 …", max_entries=16)
def _briefing(plan: str, period: str, scope: str | None, basis: str, day: dt.date, version: str) -> Any:
    from pipelines.report.content import gather

    with reading() as con:
        return gather(con, plan, period, unit=scope, basis=basis, today=day)


def briefing(plan: str, period: str, scope: str | None, basis: str = "now") -> Any:
    """The briefing of ``plan`` for ``scope`` as of ``period`` (pipelines.report.content.Briefing)."""
    return _briefing(plan, period, scoped(scope), basis, today(), _v())


@st.cache_data(ttl=600, show_spinner=False, max_entries=8)
def _briefing_pictures(plan: str, period: str, scope: str | None, basis: str, day: dt.date,
                       version: str) -> dict[str, bytes]:
    from pipelines.report.build import pictures

    return pictures(_briefing(plan, period, scope, basis, day, version))


@st.cache_data(ttl=600, show_spinner=False, max_entries=8)
def _briefing_file(plan: str, period: str, scope: str | None, basis: str, suffix: str, day: dt.date,
                   version: str) -> bytes:
    from pipelines.report.build import render

    b = _briefing(plan, period, scope, basis, day, version)
    return render(b, suffix, _briefing_pictures(plan, period, scope, basis, day, version))


def briefing_maker(plan: str, period: str, scope: str | None, basis: str) -> Callable[[str], bytes]:
    """What makes the briefing as .docx, .pdf or .pptx bytes (given its suffix) when a download button
    is clicked: the scope is checked against the signed-in user now, because the click runs outside
    the page's session; the figures are drawn once for every format."""
    scope, day, version = scoped(scope), today(), _v()
    return lambda suffix: _briefing_file(plan, period, scope, basis, suffix, day, version)
