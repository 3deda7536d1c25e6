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

Every quarter (``quarter_summary``): from the first quarter anyone reported for up to the quarter of
``today`` — quarters nobody reported included (0 of N received, N missing once due) — with the counts
above and ``coverage`` = received / expected (late returns included).

The default quarter (``default_quarter``) of the dashboard and of the CLI (``progress``, ``laggards``,
``completeness`` without a period): the latest quarter whose due date has passed and whose returns
reached ``settings.progress.min_coverage`` (0.9) of the expected townships — never a quarter with 1 of
41 returns. None when no quarter qualifies.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from pipelines.catalog.definitions import Catalog, catalog

from pipelines.units import LEVEL_ZH
from pipelines.periods import due_date, parse_period, period_bounds, quarters
from pipelines.registry.load import get_unit
from pipelines.units import PREFIX_LEN, ancestor, level_of

STATUS_ZH = {"on_time": "按时报送", "late": "逾期报送", "missing": "未报送", "pending": "未到期"}
SUMMARY_COLUMNS = ["period", "due_date", "due", "expected", "received", "on_time", "late", "missing", "pending",
                   "coverage", "enough"]
TOWNSHIP_COLUMNS = ["township_code", "township_name", "county_code", "county_name", "period", "due_date", "expected",
                    "received", "first_upload", "on_time", "late", "late_days", "missing", "pending", "status",
                    "status_zh", "uploads", "last_return"]


def township_returns(con: duckdb.DuckDBPyConnection, period: str, *, cat: Catalog | None = None,
                     unit: str | None = None, today: dt.date | None = None) -> pd.DataFrame:
    """One row per expected township of the quarter (``TOWNSHIP_COLUMNS``), optionally only under ``unit``."""
    return township_returns_many(con, [period], cat=cat, unit=unit, today=today)


def township_returns_many(con: duckdb.DuckDBPyConnection, periods: list[str], *, cat: Catalog | None = None,
                          unit: str | None = None, today: dt.date | None = None) -> pd.DataFrame:
    """``township_returns`` for several quarters at once (one query): one row per expected township
    and quarter, ordered by quarter, then township code."""
    cat = cat or catalog()
    due_day = cat.settings.reporting.due_day
    for period in periods:
        parse_period(period)
    today = today or dt.date.today()
    prefix = ""
    if unit:
        u = get_unit(con, unit)
        prefix = unit[:PREFIX_LEN[u["level"]]]
    if not periods:
        return pd.DataFrame(columns=TOWNSHIP_COLUMNS)
    bounds = [period_bounds(p) for p in periods]
    dues = [due_date(p, due_day) for p in periods]
    frame = con.execute(
        """
        WITH q AS (
            SELECT unnest(?::VARCHAR[]) AS period, unnest(?::DATE[]) AS qstart, unnest(?::DATE[]) AS qend),
        towns AS (
            SELECT q.period, t.code, t.name FROM q JOIN units t
              ON t.level = 'township' AND starts_with(t.code, ?)
             AND (t.valid_from IS NULL OR t.valid_from <= q.qend) AND (t.valid_to IS NULL OR t.valid_to >= q.qstart)
            WHERE EXISTS (SELECT 1 FROM units v WHERE v.level = 'village' AND v.parent_code = t.code
                          AND (v.valid_from IS NULL OR v.valid_from <= q.qend)
                          AND (v.valid_to IS NULL OR v.valid_to >= q.qstart))),
        subs AS (SELECT township_code, period, min(uploaded_at) AS first_upload, count(*) AS uploads
                 FROM submissions WHERE list_contains(?::VARCHAR[], period) GROUP BY township_code, period),
        last AS (SELECT towns.code, towns.period, max(s.period) AS last_return
                 FROM towns JOIN submissions s ON s.township_code = towns.code AND s.period <= towns.period
                 GROUP BY towns.code, towns.period)
        SELECT towns.period, towns.code AS township_code, towns.name AS township_name,
               substr(towns.code, 1, 6) || '000000' AS county_code, c.name AS county_name,
               subs.first_upload, coalesce(subs.uploads, 0) AS uploads, last.last_return
        FROM towns LEFT JOIN subs ON subs.township_code = towns.code AND subs.period = towns.period
        LEFT JOIN last ON last.code = towns.code AND last.period = towns.period
        LEFT JOIN units c ON c.code = substr(towns.code, 1, 6) || '000000'
        ORDER BY towns.period, towns.code""",
        [list(periods), [b[0] for b in bounds], [b[1] for b in bounds], prefix, list(periods)]).df()
    n = len(frame)
    due_of = dict(zip(periods, dues))
    due = pd.to_datetime(frame["period"].map(due_of))
    deadline = due + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    first_ts = pd.to_datetime(frame["first_upload"])
    received = first_ts.notna().to_numpy()
    on_time = received & (first_ts <= deadline).to_numpy()
    late = received & ~on_time
    late_days = np.where(late, (first_ts.dt.normalize() - due).dt.days.to_numpy(dtype=float, na_value=np.nan),
                         np.nan)
    pending = ~received & (pd.Timestamp(today) <= due).to_numpy()
    missing = ~received & ~pending
    status = np.where(on_time, "on_time", np.where(late, "late", np.where(pending, "pending", "missing")))
    out = pd.DataFrame({
        "township_code": frame["township_code"], "township_name": frame["township_name"],
        "county_code": frame["county_code"], "county_name": frame["county_name"], "period": frame["period"],
        "due_date": [d.date().isoformat() for d in due], "expected": np.ones(n, dtype=int),
        "received": received.astype(int),
        "first_upload": [t.isoformat(sep=" ", timespec="minutes") if not pd.isna(t) else None for t in first_ts],
        "on_time": on_time.astype(int), "late": late.astype(int),
        "late_days": [int(d) if not np.isnan(d) else None for d in late_days],
        "missing": missing.astype(int), "pending": pending.astype(int), "status": status,
        "status_zh": [STATUS_ZH[s] for s in status], "uploads": frame["uploads"].astype(int),
        "last_return": frame["last_return"].astype(object).where(frame["last_return"].notna(), None),
    }, columns=TOWNSHIP_COLUMNS)
    return out


def reporting_periods(con: duckdb.DuckDBPyConnection, today: dt.date | None = None) -> list[str]:
    """Every quarter from the first one anyone reported for (any upload, superseded ones included) up
    to the quarter of ``today`` — quarters nobody reported included; [] before any return."""
    first = con.execute("SELECT min(period) FROM submissions").fetchone()[0]
    if first is None:
        return []
    current = current_period(today)
    return quarters(first, max(first, current))


def current_period(today: dt.date | None = None) -> str:
    """The quarter of ``today``."""
    d = today or dt.date.today()
    return f"{d.year}Q{(d.month - 1) // 3 + 1}"


def summarise(townships: pd.DataFrame, periods: list[str] | None = None, due_day: int | None = None,
              today: dt.date | None = None, threshold: float | None = None) -> pd.DataFrame:
    """Per quarter of the township rows (``township_returns_many``): expected, received, on time,
    late, missing, pending, coverage (received / expected; None with nothing expected) and ``enough``
    (coverage reached ``threshold``, default settings.progress.min_coverage). With ``periods``, every
    one of them gets a row, also one without any expected township."""
    keys = ["expected", "received", "on_time", "late", "missing", "pending"]
    grouped = townships.groupby("period")[keys].sum() if not townships.empty else pd.DataFrame(columns=keys)
    periods = list(periods) if periods is not None else sorted(grouped.index)
    counts = grouped.reindex(periods, fill_value=0).astype(int)
    today = today or dt.date.today()
    dues = [due_date(p, due_day) for p in periods]
    expected = counts["expected"].to_numpy()
    coverage = [r / e if e else None for r, e in zip(counts["received"].to_numpy(), expected)]
    rows = pd.DataFrame({"period": periods, "due_date": [d.isoformat() for d in dues],
                         "due": [today > d for d in dues], **{k: counts[k].to_numpy() for k in keys},
                         "coverage": coverage}, columns=SUMMARY_COLUMNS)
    threshold = min_coverage(catalog()) if threshold is None else threshold
    rows["enough"] = [c is not None and c >= threshold - 1e-12 for c in coverage]
    return rows


def quarter_summary(con: duckdb.DuckDBPyConnection, *, cat: Catalog | None = None, unit: str | None = None,
                    today: dt.date | None = None, periods: list[str] | None = None) -> pd.DataFrame:
    """``SUMMARY_COLUMNS`` for every quarter of ``reporting_periods`` (or ``periods``), oldest first,
    for the townships under ``unit``."""
    cat = cat or catalog()
    today = today or dt.date.today()
    periods = reporting_periods(con, today) if periods is None else list(periods)
    towns = township_returns_many(con, periods, cat=cat, unit=unit, today=today)
    return summarise(towns, periods, cat.settings.reporting.due_day, today, min_coverage(cat))


def min_coverage(cat: Catalog) -> float:
    """settings.progress.min_coverage: the share of expected returns a quarter needs before verdicts."""
    return float(cat.settings.progress.min_coverage)


def pick_default(summary: pd.DataFrame) -> str | None:
    """The latest quarter of a ``quarter_summary`` that is due and whose coverage is ``enough``."""
    ok = summary[summary["due"].astype(bool) & summary["enough"].astype(bool)]
    return str(ok["period"].iloc[-1]) if len(ok) else None


def choose_quarter(summary: pd.DataFrame, today: dt.date | None = None) -> tuple[str | None, str]:
    """The quarter to show first, and why: (``pick_default``, "default"); when no quarter qualifies,
    (the latest quarter already due, "latest_due"), else (today's quarter, "current"); (None, "none")
    before any return."""
    period = pick_default(summary)
    if period is not None:
        return period, "default"
    if summary.empty:
        return None, "none"
    due = summary[summary["due"].astype(bool)]
    if len(due):
        return str(due["period"].iloc[-1]), "latest_due"
    return current_period(today), "current"


def area_of(unit: str | None) -> str | None:
    """The unit whose townships decide the default quarter for ``unit``: its city (a province or a
    city: itself; None: the whole registry), so that a county or township view uses its city's quarter."""
    if not unit:
        return None
    return unit if level_of(unit) in ("province", "city") else ancestor(unit, "city")


def default_quarter(con: duckdb.DuckDBPyConnection, cat: Catalog | None = None, today: dt.date | None = None, *,
                    unit: str | None = None) -> str | None:
    """The default quarter of the dashboard and the CLI: the latest quarter whose due date
    (``settings.reporting.due_day`` of the month after it) has passed and whose returns (late ones
    included) reached ``settings.progress.min_coverage`` of the townships expected under ``unit`` (the
    whole registry by default). None when no quarter qualifies (no returns, or none complete enough)."""
    cat = cat or catalog()
    return pick_default(quarter_summary(con, cat=cat, unit=unit, today=today))


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


def completeness(con: duckdb.DuckDBPyConnection, period: str | None = None, *, cat: Catalog | None = None,
                 unit: str | None = None, today: dt.date | None = None,
                 every_quarter: bool = False) -> dict[str, Any]:
    """The quarter's reporting: township rows, roll-ups and the chase list (missing townships).

    ``period`` None: the default quarter (``default_quarter``), else the latest quarter already due
    (``period_rule`` says which). ``every_quarter``: also ``quarters``, the ``quarter_summary`` of every
    quarter up to today's, quarters nobody reported included."""
    cat = cat or catalog()
    today = today or dt.date.today()
    rule = "given"
    summary = None
    if period is None or every_quarter:
        summary = quarter_summary(con, cat=cat, unit=unit, today=today)
    if period is None:
        period, rule = choose_quarter(summary, today)
        period = period or current_period(today)
    towns = township_returns(con, period, cat=cat, unit=unit, today=today)
    roll = rollups(con, towns)
    chase = towns[towns["missing"] == 1][["township_code", "township_name", "county_code", "county_name",
                                          "due_date", "last_return", "uploads"]]
    expected, received = int(towns["expected"].sum()), int(towns["received"].sum())
    out = {
        "period": period, "period_rule": rule,
        "due_date": due_date(period, cat.settings.reporting.due_day).isoformat(),
        "expected": expected, "received": received,
        "on_time": int(towns["on_time"].sum()), "late": int(towns["late"].sum()),
        "missing": int(towns["missing"].sum()), "pending": int(towns["pending"].sum()),
        "coverage": received / expected if expected else None, "min_coverage": min_coverage(cat),
        "townships": _records(towns), "rollups": _records(roll), "chase": _records(chase),
    }
    if every_quarter:
        out["quarters"] = _records(summary)
    return out


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for rec in frame.to_dict("records"):
        clean = {}
        for k, v in rec.items():
            if isinstance(v, float) and np.isnan(v):
                v = None
            elif isinstance(v, np.bool_):
                v = bool(v)
            elif isinstance(v, np.integer):
                v = int(v)
            elif isinstance(v, np.floating):
                v = float(v)
            clean[k] = v
        out.append(clean)
    return out
