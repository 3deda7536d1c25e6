"""The dashboard's one query layer: every page reads through these cached functions.

Rules:
- Each query opens the database read-only for its own length and closes it, so the CLI (a
  writer) is never locked out for longer than one query. Only an upload's confirm step opens it
  read-write, through the ingest API.
- DuckDB refuses a read-only and a read-write connection to one file in one process, so every
  connection of this process is taken under one lock.
- Cached results are keyed by their parameters and by a data-version token (the highest
  submission id and friends): an upload, here or through the CLI, shows on the next run.
- No SQL here: the pipelines modules hold it (pipelines/dashboard_data.py for what is only the
  dashboard's).
"""
from __future__ import annotations

import datetime as dt
import inspect
import io
import tempfile
import threading
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import logging

import pandas as pd
import streamlit as st

from pipelines.compute import lookups as dashboard_data
from pipelines.registry import load as registry
from pipelines.store import db
from pipelines.catalog.definitions import catalog
from pipelines.units import LEVEL_ZH

log = logging.getLogger("rural_targets.dashboard")
READ_WAIT_S = 3.0      # a read waits this long for a writer (the CLI) before GEN002 请稍后再试
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
    from pipelines.samples.init import init_database

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
        token = dashboard_data.data_version(con)
        stored = _stored_is_fresh(con)
    return f"{path}|{token}|{'stored' if stored else 'live'}"


def _stored_is_fresh(con: Any) -> bool:
    """Whether pipelines.compute.progress's stored tables (``refresh``) match the data: then progress is read
    from them (tens of milliseconds) instead of being computed (about a second)."""
    mod = progress_module()
    if mod is None or not hasattr(mod, "is_fresh") or not hasattr(mod, "read_stored"):
        return False
    try:
        return bool(mod.is_fresh(con))
    except Exception:  # noqa: BLE001 - a missing or older table: compute instead
        log.warning("progress tables unreadable; computing progress instead", exc_info=True)
        return False


def _refresh_progress(con: Any) -> None:
    """After a write: recompute pipelines.compute.progress's stored tables, so every page reads them again.
    If that fails the write stands and the pages compute progress directly (slower, same result)."""
    mod = progress_module()
    if mod is None or not hasattr(mod, "refresh"):
        return
    try:
        mod.refresh(con)
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


@st.cache_data(ttl=600, show_spinner=False)
def targets(plan: str) -> pd.DataFrame:
    """The targets of ``plan`` with their indicators, as a clerk reads them."""
    cat = catalog()
    rows = []
    for _, t in cat.targets(plan):
        ind = cat.indicators.get(t.indicator) if t.indicator else None
        rows.append({
            "编号": t.id, "目标": t.title, "条款": t.clause, "原文": t.source_clause,
            "指标": ind.title if ind else "(按期完成)", "目标值": t.target_text,
            "截止日期": t.deadline, "评价方式": t.eval, "评价层级": LEVEL_ZH[t.level],
            "牵头单位": "、".join(t.lead), "参与单位": "、".join(t.partners), "说明": t.note,
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
            "bounds": tuple(ind.bounds) if ind else (0.0, None)}


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
def _periods(version: str) -> list[str]:
    with reading() as con:
        return dashboard_data.reported_periods(con)


def reported_periods() -> list[str]:
    """Quarters with at least one stored return, oldest first."""
    return _periods(_v())


@st.cache_data(ttl=600, show_spinner=False)
def _recent(under: str | None, limit: int, version: str) -> pd.DataFrame:
    with reading() as con:
        return dashboard_data.recent_submissions(con, under, limit)


def recent_submissions(under: str | None = None, limit: int = 50) -> pd.DataFrame:
    """The latest uploads under a unit, newest first."""
    return _recent(under, limit, _v())


# ------------------------------------------------------------------ uploads and templates

def check_uploads(files: list[tuple[str, bytes]], progress: Callable[[int, int, Any], None] | None = None) -> list:
    """Dry run: validate every file, store nothing (a read-only connection)."""
    from pipelines.ingest.pipeline import ingest_uploads

    with reading() as con:
        return ingest_uploads(con, files, dry_run=True, progress=progress)


def store_uploads(files: list[tuple[str, bytes]], uploaded_by: str | None,
                  progress: Callable[[int, int, Any], None] | None = None) -> list:
    """Validate again and store (the only read-write use of the database by the dashboard)."""
    from pipelines.ingest.pipeline import ingest_uploads

    try:
        with writing() as con:
            reports = ingest_uploads(con, files, dry_run=False, uploaded_by=uploaded_by, progress=progress)
            if any(r.status == "stored" for r in reports):
                _refresh_progress(con)
            return reports
    finally:
        invalidate()


@st.cache_data(ttl=600, show_spinner=False, max_entries=32)
def _township_template(code: str, period: str, version: str) -> bytes:
    from pipelines.ingest.template import write_township_template

    with tempfile.TemporaryDirectory() as tmp, reading() as con:
        return write_township_template(con, code, period, Path(tmp)).read_bytes()


def township_template_name(code: str, period: str) -> str:
    from pipelines.ingest.template import template_filename

    return template_filename(code, unit_name(code) or code, period)


def township_template(code: str, period: str) -> bytes:
    """The blank return of one township (xlsx bytes)."""
    return _township_template(code, period, _v())


@st.cache_data(ttl=600, show_spinner=False, max_entries=8)
def _county_templates(code: str, period: str, version: str) -> bytes:
    from pipelines.ingest.template import write_county_templates

    with tempfile.TemporaryDirectory() as tmp:
        with reading() as con:
            paths = write_county_templates(con, code, period, Path(tmp))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in paths:
                zf.write(p, p.name)
    return buf.getvalue()


def county_templates_name(code: str, period: str) -> str:
    return f"{code}_{unit_name(code) or code}_{period}_乡镇季度报表模板.zip"


def county_templates(code: str, period: str) -> bytes:
    """The blank returns of every township of a county, one xlsx each, zipped."""
    return _county_templates(code, period, _v())


def today() -> dt.date:
    """Today's date (one place, so tests and the benchmark can pin it)."""
    return dt.date.today()


# ------------------------------------------------------------------ progress (pipelines.compute.progress)

def progress_module():
    """pipelines.compute.progress when it is installed, else None (the pages then say so: DSH005)."""
    try:
        from pipelines.compute import progress
    except ImportError:
        return None
    return progress


def require_progress():
    mod = progress_module()
    if mod is None:
        from pipelines.errors import RuralTargetsError
        raise RuralTargetsError("DSH005", module="pipelines.compute.progress")
    return mod


BASES = {"now": "按现有全部数据", "then": "按当时已报送的数据"}


@st.cache_data(ttl=600, show_spinner="正在评估进度 …", max_entries=96)
def _level_history(plan: str, target: str | None, scope: str | None, level: str, version: str) -> pd.DataFrame:
    progress = require_progress()
    with reading() as con:
        if version.endswith("|stored"):  # pipelines.compute.progress's stored tables are fresh: read them
            return progress.read_stored(con, plan=None if target else plan, target=target, unit=scope, level=level)
        if target:
            return progress.assess_frame(con, target=target, unit=scope, level=level)
        return progress.assess_frame(con, plan=plan, unit=scope, level=level)


@st.cache_data(ttl=600, show_spinner="正在按当时的数据评估进度 …", max_entries=96)
def _level_asof(plan: str, target: str | None, asof: str, scope: str | None, level: str,
                version: str) -> pd.DataFrame:
    progress = require_progress()
    with reading() as con:
        if target:
            return progress.assess_frame(con, target=target, unit=scope, level=level, as_of=asof)
        return progress.assess_frame(con, plan=plan, unit=scope, level=level, as_of=asof)


def plan_history(plan: str, scope: str | None, level: str, upto: str | None = None,
                 target: str | None = None) -> pd.DataFrame:
    """Every target of ``plan`` (or only ``target``) for the units of ``level`` under ``scope`` (and
    ``scope`` itself when it is of that level), every quarter up to ``upto``, judged with the data
    stored now. One cached frame per (plan or target, scope, level) serves every quarter."""
    df = _level_history(plan, target, scope, level, _v())
    return df[df["period"] <= upto] if upto is not None and not df.empty else df


def status(plan: str, quarter: str | None, scope: str | None, level: str, basis: str = "now",
           target: str | None = None) -> pd.DataFrame:
    """Every target of ``plan`` (or only ``target``) for the units of ``level`` under ``scope`` in
    ``quarter``: value, target_value, status, pi, tau, gap_pp, projected, … (one row per target × unit).

    ``basis`` "now": with every return stored today (late returns included); "then": as of the
    quarter — only the returns for quarters up to it that had arrived by its due date."""
    if quarter is None:
        return pd.DataFrame()
    if basis == "then":
        return _level_asof(plan, target, quarter, scope, level, _v())
    df = _level_history(plan, target, scope, level, _v())
    return df[df["period"] == quarter] if not df.empty else df


def judged_levels(target: str, scope_level: str) -> list[str]:
    """The levels below ``scope_level`` where pipelines.compute.progress judges ``target`` unit by unit
    (its rules: ratios down to townships, everything else at the target's own level)."""
    cat = catalog()
    _, t = cat.target(target)
    ind = cat.indicators.get(t.indicator) if t.indicator else None
    order = list(registry.PREFIX_LEN)
    deepest = order.index(t.level)
    if t.eval == "aggregate" and ind is not None and ind.denominator:
        deepest = max(deepest, order.index("township"))
    return [lv for lv in order[order.index(scope_level) + 1:deepest + 1]]


def unit_progress(target: str, quarter: str | None, level: str, parent: str | None,
                  basis: str = "now") -> pd.DataFrame | None:
    """Progress of the units of ``level`` under ``parent`` for ``target`` in ``quarter``, with
    ``code`` for joining (None when the progress API is missing)."""
    if progress_module() is None or quarter is None:
        return None
    df = status(target_info(target)["plan"], quarter, parent, level, basis, target=target)
    if df.empty:
        return df
    return df.rename(columns={"unit_code": "code"})


def with_progress(units_df: pd.DataFrame, progress: pd.DataFrame | None, info: dict[str, Any]) -> pd.DataFrame:
    """``units_df`` (code, name, …) with value, status and the texts of the map's tooltip."""
    from dashboard import ui

    out = units_df.copy()
    if progress is not None and not progress.empty:
        keep = [c for c in ("code", "value", "target_value", "status", "pi", "tau") if c in progress]
        out = out.merge(progress[keep], on="code", how="left")
    for col in ("value", "target_value", "status", "pi", "tau"):
        if col not in out:
            out[col] = None
    unit = info.get("unit", "")
    out["value_text"] = [ui.fmt_num(v, unit) for v in out["value"]]
    out["target_text"] = info.get("target_text", "")
    out["status_text"] = [ui.status_zh(s) if s else "无数据" for s in out["status"]]
    out["pace_text"] = [f"{ui.fmt_pct(p)} / {ui.fmt_pct(t)}" if not (ui.is_blank(p) and ui.is_blank(t)) else "—"
                        for p, t in zip(out["pi"], out["tau"])]
    return out


@st.cache_data(ttl=600, show_spinner=False, max_entries=16)
def _last_returns(quarter: str, version: str) -> dict[str, str]:
    progress = require_progress()
    with reading() as con:
        return progress.last_returns(con, as_of=quarter)


def rank_laggards(plan: str, target: str, level: str, quarter: str | None, scope: str | None,
                  basis: str = "now") -> pd.DataFrame:
    """后进名单 from the plan's cached assessment: the units of ``level`` under ``scope`` for
    ``target``, worst first — pipelines.compute.progress.SEVERITY, then gap (pi − tau), then distance from
    the target (the order of ``progress.laggards``) — with rank and the quarter of the last return
    up to ``quarter``."""
    progress = require_progress()
    df = status(plan, quarter, scope, level, basis, target=target).copy()
    if df.empty:
        return df
    df["_sev"] = df["status"].map(progress.SEVERITY).fillna(99)
    df["_gap"] = df["gap_pp"].fillna(float("inf"))
    df["_dist"] = -(df["value"] - df["target_value"]).abs().fillna(0)
    df = df.sort_values(["_sev", "_gap", "_dist", "unit_code"], kind="stable").drop(columns=["_sev", "_gap", "_dist"])
    last = _last_returns(quarter, _v())
    df["last_return"] = [_last_return_of(c, last) for c in df["unit_code"]]
    df.insert(0, "rank", range(1, len(df) + 1))
    return df.reset_index(drop=True)


def _last_return_of(code: str, last: dict[str, str]) -> str | None:
    """A unit's latest counted return: its township's (a village), its own (a township), or the
    latest among its townships (a county or city)."""
    if not isinstance(code, str) or len(code) != 12:
        return None
    level = registry.level_of(code)
    if level == "village":
        return last.get(code[:9] + "000")
    if level == "township":
        return last.get(code)
    prefix = code[:registry.PREFIX_LEN[level]]
    hits = [p for c, p in last.items() if c.startswith(prefix)]
    return max(hits) if hits else None


def cutoff_date(period: str) -> dt.date:
    """The day by which a quarter's returns count for it (the reporting due date)."""
    from pipelines.periods import due_date

    return due_date(period, catalog().settings.reporting.due_day)


# ------------------------------------------------------------------ milestones and tasks

def current_quarter() -> str:
    d = today()
    return f"{d.year}Q{(d.month - 1) // 3 + 1}"


@st.cache_data(ttl=600, show_spinner="正在评估任务进度 …", max_entries=32)
def _milestone_status(plan: str, scope: str | None, asof: str | None, period: str | None,
                      version: str) -> pd.DataFrame:
    progress = require_progress()
    targets = catalog().plan(plan).targets
    ids = [t.id for t in targets if t.eval == "milestone"]
    if not ids:
        return pd.DataFrame()
    # judged at the end of the current quarter, which has no stored rows: always computed
    live = {"stored": False} if "stored" in inspect.signature(progress.assess_frame).parameters else {}
    with reading() as con:
        if len(ids) == len(targets):       # a task list: the whole plan at once
            frame = progress.assess_frame(con, plan=plan, unit=scope, as_of=asof, period=period, **live)
        else:
            frame = pd.concat([progress.assess_frame(con, target=t, unit=scope, as_of=asof, period=period, **live)
                               for t in ids], ignore_index=True)
    return frame[frame["target"].isin(ids)].reset_index(drop=True)


def milestone_status(plan: str, scope: str | None, asof: str | None = None) -> pd.DataFrame:
    """The plan's milestone targets (task lists and report dates) for ``scope``: as of ``asof``, or
    (``asof`` None) at the end of the current quarter with every update recorded so far."""
    return _milestone_status(plan, scope, asof, None if asof else current_quarter(), _v())


@st.cache_data(ttl=600, show_spinner=False, max_entries=16)
def _task_history(plan: str, version: str) -> pd.DataFrame:
    with reading() as con:
        return dashboard_data.task_history(con, plan)


def task_history(plan: str) -> pd.DataFrame:
    """Every update of the plan's tasks, newest first."""
    return _task_history(plan, _v())


def record_task(plan: str, task_id: str, unit: str, status: str, done_date: dt.date | None, note: str | None,
                evidence: str | None, by: str | None) -> dict[str, Any]:
    """Append a task update through pipelines.compute.progress (read-write for this one statement)."""
    progress = require_progress()
    try:
        with writing() as con:
            row = progress.record_task_update(con, plan, task_id, unit, status, done_date=done_date, note=note,
                                              evidence=evidence, by=by)
            _refresh_progress(con)
            return row
    finally:
        invalidate()


# ------------------------------------------------------------------ reporting completeness

def completeness_module():
    """pipelines.completeness when it is installed, else None (the page then says so: DSH005)."""
    try:
        from pipelines.compute import completeness
    except ImportError:
        return None
    return completeness


@st.cache_data(ttl=600, show_spinner=False, max_entries=256)
def _township_returns(period: str, area: str | None, day: dt.date, version: str) -> pd.DataFrame:
    mod = completeness_module()
    with reading() as con:
        return mod.township_returns(con, period, unit=area, today=day)


def _area(scope: str | None) -> str | None:
    """The city (or wider unit) whose townships are read once and filtered for any scope under it."""
    if not scope:
        return None
    level = registry.level_of(scope)
    return scope if level in ("province", "city") else scope[:4] + "00000000"


def _under(frame: pd.DataFrame, scope: str | None) -> pd.DataFrame:
    if not scope or frame.empty or registry.level_of(scope) in ("province", "city"):
        return frame
    prefix = scope[:registry.PREFIX_LEN[registry.level_of(scope)]]
    return frame[frame["township_code"].str.startswith(prefix)].reset_index(drop=True)


def township_returns(period: str, scope: str | None) -> pd.DataFrame:
    """Each expected township of ``scope`` in ``period``: received when, on time / late (days) /
    missing / pending, number of uploads, last return (pipelines.completeness). Read per city and
    quarter, so drilling down to a county or township reads nothing again."""
    return _under(_township_returns(period, _area(scope), today(), _v()), scope)


@st.cache_data(ttl=600, show_spinner=False, max_entries=64)
def _rollups(period: str, scope: str | None, day: dt.date, version: str) -> pd.DataFrame:
    mod = completeness_module()
    towns = _under(_township_returns(period, _area(scope), day, version), scope)
    with reading() as con:
        return mod.rollups(con, towns)


def rollups(period: str, scope: str | None) -> pd.DataFrame:
    """Expected / received / on time / late / missing and the two rates per county and city."""
    return _rollups(period, scope, today(), _v())
