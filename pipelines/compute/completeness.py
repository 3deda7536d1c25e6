"""Reporting completeness and timeliness (报送及时率、完整率): who sent the quarter's return, when, who is missing.

Per township and quarter
    expected   the township exists during the quarter (registry valid_from / valid_to) and has at least
               one village existing during it (a township without villages has nothing to report);
    received   the time of the FIRST upload for that township and quarter (a later re-upload does not
               make an on-time return late, nor a late one on time);
    on time    received by the end of the due date: ``settings.reporting.due_day`` of the month after
               the quarter (the civil-affairs rule: the 15th);
    late       received after it, with the number of days late (calendar days after the due date);
    missing    nothing received and the due date has passed;
    pending    nothing received yet and the due date has not passed (``today``).
Roll-ups by county, city (and province where the registry has it) by code prefix: expected, received,
on time, late, missing, pending, completeness (received / expected) and timeliness (on time / expected).
The chase list (催报名单): the missing townships with the quarter of their last return (at or before
the quarter asked about).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from pipelines.catalog.definitions import Catalog, catalog

from pipelines.units import LEVEL_ZH
from pipelines.periods import due_date, parse_period, period_bounds
from pipelines.registry.load import get_unit
from pipelines.units import PREFIX_LEN

STATUS_ZH = {"on_time": "按时报送", "late": "逾期报送", "missing": "未报送", "pending": "未到期"}
TOWNSHIP_COLUMNS = ["township_code", "township_name", "county_code", "county_name", "period", "due_date", "expected",
                    "received", "first_upload", "on_time", "late", "late_days", "missing", "pending", "status",
                    "status_zh", "uploads", "last_return"]


def township_returns(con: duckdb.DuckDBPyConnection, period: str, *, cat: Catalog | None = None,
                     unit: str | None = None, today: dt.date | None = None) -> pd.DataFrame:
    """One row per expected township of the quarter (``TOWNSHIP_COLUMNS``), optionally only under ``unit``."""
    cat = cat or catalog()
    parse_period(period)
    start, end = period_bounds(period)
    due = due_date(period, cat.settings.reporting.due_day)
    deadline = dt.datetime.combine(due, dt.time.max)
    today = today or dt.date.today()
    prefix = ""
    if unit:
        u = get_unit(con, unit)
        prefix = unit[:PREFIX_LEN[u["level"]]]
    frame = con.execute(
        """
        WITH towns AS (
            SELECT t.code, t.name FROM units t
            WHERE t.level = 'township' AND starts_with(t.code, ?)
              AND (t.valid_from IS NULL OR t.valid_from <= ?) AND (t.valid_to IS NULL OR t.valid_to >= ?)
              AND EXISTS (SELECT 1 FROM units v WHERE v.level = 'village' AND v.parent_code = t.code
                          AND (v.valid_from IS NULL OR v.valid_from <= ?) AND (v.valid_to IS NULL OR v.valid_to >= ?))),
        subs AS (SELECT township_code, min(uploaded_at) AS first_upload, count(*) AS uploads
                 FROM submissions WHERE period = ? GROUP BY township_code),
        last AS (SELECT township_code, max(period) AS last_return FROM submissions WHERE period <= ?
                 GROUP BY township_code)
        SELECT towns.code AS township_code, towns.name AS township_name,
               substr(towns.code, 1, 6) || '000000' AS county_code, c.name AS county_name,
               subs.first_upload, coalesce(subs.uploads, 0) AS uploads, last.last_return
        FROM towns LEFT JOIN subs ON subs.township_code = towns.code
        LEFT JOIN last ON last.township_code = towns.code
        LEFT JOIN units c ON c.code = substr(towns.code, 1, 6) || '000000'
        ORDER BY towns.code""",
        [prefix, end, start, end, start, period, period]).df()
    n = len(frame)
    first = frame["first_upload"]
    received = first.notna().to_numpy()
    first_ts = pd.to_datetime(first)
    on_time = received & (first_ts <= pd.Timestamp(deadline)).to_numpy()
    late = received & ~on_time
    late_days = np.where(late, (first_ts.dt.normalize() - pd.Timestamp(due)).dt.days.to_numpy(dtype=float, na_value=np.nan),
                         np.nan)
    pending = ~received & (today <= due)
    missing = ~received & ~pending
    status = np.where(on_time, "on_time", np.where(late, "late", np.where(pending, "pending", "missing")))
    out = pd.DataFrame({
        "township_code": frame["township_code"], "township_name": frame["township_name"],
        "county_code": frame["county_code"], "county_name": frame["county_name"], "period": period,
        "due_date": due.isoformat(), "expected": np.ones(n, dtype=int), "received": received.astype(int),
        "first_upload": [t.isoformat(sep=" ", timespec="minutes") if not pd.isna(t) else None for t in first_ts],
        "on_time": on_time.astype(int), "late": late.astype(int),
        "late_days": [int(d) if not np.isnan(d) else None for d in late_days],
        "missing": missing.astype(int), "pending": pending.astype(int), "status": status,
        "status_zh": [STATUS_ZH[s] for s in status], "uploads": frame["uploads"].astype(int),
        "last_return": frame["last_return"].where(frame["last_return"].notna(), None),
    }, columns=TOWNSHIP_COLUMNS)
    return out


def rollups(con: duckdb.DuckDBPyConnection, townships: pd.DataFrame) -> pd.DataFrame:
    """Counts and rates per county, city and province (by code prefix) of the township rows."""
    if townships.empty:
        return pd.DataFrame(columns=["unit_code", "unit_name", "level", "expected", "received", "on_time", "late",
                                     "missing", "pending", "completeness", "timeliness"])
    rows = []
    names = dict(con.execute("SELECT code, name FROM units WHERE level IN ('province', 'city', 'county')").fetchall())
    for level, plen, pad in (("province", 2, 10), ("city", 4, 8), ("county", 6, 6)):
        keys = townships["township_code"].str[:plen] + "0" * pad
        grouped = townships.groupby(keys)[["expected", "received", "on_time", "late", "missing", "pending"]].sum()
        for code, r in grouped.iterrows():
            if code not in names:
                continue
            rows.append({"unit_code": code, "unit_name": names[code], "level": level, "level_zh": LEVEL_ZH[level],
                         **{k: int(v) for k, v in r.items()},
                         "completeness": round(100 * r["received"] / r["expected"], 1) if r["expected"] else None,
                         "timeliness": round(100 * r["on_time"] / r["expected"], 1) if r["expected"] else None})
    return pd.DataFrame(rows)


def completeness(con: duckdb.DuckDBPyConnection, period: str, *, cat: Catalog | None = None,
                 unit: str | None = None, today: dt.date | None = None) -> dict[str, Any]:
    """The quarter's reporting: township rows, roll-ups and the chase list (missing townships)."""
    cat = cat or catalog()
    towns = township_returns(con, period, cat=cat, unit=unit, today=today)
    roll = rollups(con, towns)
    chase = towns[towns["missing"] == 1][["township_code", "township_name", "county_code", "county_name",
                                          "due_date", "last_return", "uploads"]]
    return {
        "period": period, "due_date": due_date(period, cat.settings.reporting.due_day).isoformat(),
        "expected": int(towns["expected"].sum()), "received": int(towns["received"].sum()),
        "on_time": int(towns["on_time"].sum()), "late": int(towns["late"].sum()),
        "missing": int(towns["missing"].sum()), "pending": int(towns["pending"].sum()),
        "townships": _records(towns), "rollups": _records(roll), "chase": _records(chase),
    }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for rec in frame.to_dict("records"):
        clean = {}
        for k, v in rec.items():
            if isinstance(v, float) and np.isnan(v):
                v = None
            elif isinstance(v, np.integer):
                v = int(v)
            elif isinstance(v, np.floating):
                v = float(v)
            clean[k] = v
        out.append(clean)
    return out
