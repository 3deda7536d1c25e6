"""Read-only queries the dashboard needs beyond the registry, ingest and progress APIs.

Every statement has bound parameters; the dashboard (dashboard/queries.py) calls these
functions and holds no SQL of its own. The data version its caches are keyed by is
``pipelines.compute.stored.data_token``.
"""
from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

from pipelines.units import PREFIX_LEN, level_of


def recent_submissions(con: duckdb.DuckDBPyConnection, under: str | None = None, limit: int = 50) -> pd.DataFrame:
    """The latest stored submissions (active and superseded) of townships under unit ``under``."""
    prefix = _prefix(under)
    return con.execute(
        """SELECT s.id, s.township_code, u.name AS township_name, s.period, s.file_name, s.uploaded_at,
                  s.uploaded_by, s.status, s.superseded_by, s.village_rows, s.warnings, s.review_status,
                  s.reviewed_by, s.reviewed_at, s.review_comment
           FROM submissions s LEFT JOIN units u ON u.code = s.township_code
           WHERE starts_with(s.township_code, ?)
           ORDER BY s.uploaded_at DESC, s.id DESC
           LIMIT ?""", [prefix, int(limit)]).df()


def unit_shapes(con: duckdb.DuckDBPyConnection, codes: list[str]) -> pd.DataFrame:
    """Boundary GeoJSON text of ``codes`` with the unit's name, level and representative point."""
    if not codes:
        return pd.DataFrame(columns=["code", "name", "level", "lon", "lat", "geometry"])
    return con.execute(
        """SELECT u.code, u.name, u.level, u.lon, u.lat, s.geometry
           FROM units u LEFT JOIN unit_shapes s ON s.code = u.code
           WHERE list_contains(?::VARCHAR[], u.code)
           ORDER BY u.code""", [sorted(set(codes))]).df()


def descendants(con: duckdb.DuckDBPyConnection, code: str | None, level: str) -> pd.DataFrame:
    """Units of ``level`` under ``code`` (all of them when ``code`` is None), with coordinates."""
    return con.execute(
        """SELECT code, name, level, parent_code, lon, lat, population, elderly_population
           FROM units WHERE level = ? AND starts_with(code, ?) AND code <> ?
           ORDER BY code""", [level, _prefix(code), code or ""]).df()


def _prefix(code: str | None) -> str:
    if not code:
        return ""
    return code[:PREFIX_LEN[level_of(code)]]


def units_by_code(con: duckdb.DuckDBPyConnection, codes: list[str]) -> dict[str, dict[str, Any]]:
    """code → {name, level, parent_code} for ``codes``."""
    if not codes:
        return {}
    rows = con.execute("SELECT code, name, level, parent_code FROM units WHERE list_contains(?::VARCHAR[], code)",
                       [sorted(set(codes))]).fetchall()
    return {r[0]: {"name": r[1], "level": r[2], "parent_code": r[3]} for r in rows}


def task_history(con: duckdb.DuckDBPyConnection, plan: str, task_id: str | None = None) -> pd.DataFrame:
    """Every recorded update of the plan's tasks (督办任务), newest first; the history is never edited."""
    try:
        return con.execute(
            """SELECT task_id, unit, status, done_date, progress_note, evidence, recorded_at, recorded_by
               FROM task_values
               WHERE plan = ? AND (CAST(? AS VARCHAR) IS NULL OR task_id = ?)
               ORDER BY recorded_at DESC, task_id, unit""", [plan, task_id, task_id]).df()
    except duckdb.CatalogException:  # a database made before task updates existed
        return pd.DataFrame(columns=["task_id", "unit", "status", "done_date", "progress_note", "evidence",
                                     "recorded_at", "recorded_by"])


def submission_row(con: duckdb.DuckDBPyConnection, submission_id: int) -> dict[str, Any] | None:
    """One submission with its township's name (None when there is no such id)."""
    cur = con.execute(
        """SELECT s.id, s.township_code, u.name AS township_name, s.period, s.file_name, s.uploaded_at,
                  s.uploaded_by, s.status, s.village_rows, s.warnings, s.review_status, s.reviewed_by,
                  s.reviewed_at, s.review_comment
           FROM submissions s LEFT JOIN units u ON u.code = s.township_code WHERE s.id = ?""", [submission_id])
    row = cur.fetchone()
    return dict(zip([d[0] for d in cur.description], row)) if row else None


def submission_village_values(con: duckdb.DuckDBPyConnection, submission_id: int) -> pd.DataFrame:
    """The village rows of one submission with the villages' names, in the order of the file."""
    return con.execute(
        """SELECT v.* EXCLUDE (submission_id, township_code, period)
           FROM village_values v
           WHERE v.submission_id = ? ORDER BY v.source_row""", [submission_id]).df()


def submission_warnings(con: duckdb.DuckDBPyConnection, submission_id: int) -> pd.DataFrame:
    """The warnings stored with one submission (code, cell, message)."""
    return con.execute("SELECT code, sheet, cell, field, message FROM submission_problems WHERE submission_id = ? "
                       "ORDER BY sheet, cell", [submission_id]).df()
