"""后进名单 (laggards) and failing units: the one laggard order and the one last-return rule.

Laggards are ordered missed, severely_lagging, lagging, no_data (not reporting is a failure of
supervision, but a known shortfall comes first), due_soon, on_track, met_late, met; then by gap
(pi - tau), most behind first; then by how far the value is from the target; then by code. Each
comes with the quarter of its last return up to the quarter judged: its township's for a village,
its own for a township, the latest of its townships' above.
"""
from __future__ import annotations

from typing import Any, Iterable

import duckdb
import numpy as np
import pandas as pd

from pipelines.catalog.definitions import Catalog, catalog
from pipelines.compute.assess import assess, assess_frame
from pipelines.compute.indicators import data_periods, selection_sql
from pipelines.compute.judge import unit_level_of
from pipelines.compute.rules import STATUSES
from pipelines.compute.scope import unit_level
from pipelines.errors import RuralTargetsError
from pipelines.jsonable import plain_records
from pipelines.units import ancestor, level_of, prefix

# laggard order, worst first
SEVERITY = {"missed": 0, "severely_lagging": 1, "lagging": 2, "no_data": 3, "due_soon": 4, "on_track": 5,
            "met_late": 6, "met": 7}
WORST_FIRST = tuple(sorted(SEVERITY, key=SEVERITY.get))


def last_returns(con: duckdb.DuckDBPyConnection, as_of: str | None = None, cat: Catalog | None = None,
                 upto: str | None = None) -> dict[str, str]:
    """township code → the latest quarter (at or before ``upto``) it has a counted return for (as of
    ``as_of``: only returns that had arrived by its cutoff)."""
    sel = selection_sql(as_of, cat or catalog())
    rows = con.execute(f"SELECT township_code, max(period) FROM ({sel.sql}) WHERE ? IS NULL OR period <= ? "
                       "GROUP BY 1", list(sel.params) + [upto, upto]).fetchall()
    return dict(rows)


def last_return_of(code: str, last: dict[str, str]) -> str | None:
    """A unit's last return (``last``: from ``last_returns``): its township's (a village), its own (a
    township), or the latest among its townships' (a county or above); None for a task unit."""
    if not isinstance(code, str) or len(code) != 12 or not code.isdigit():
        return None
    level = level_of(code)
    if level == "village":
        return last.get(ancestor(code, "township"))
    if level == "township":
        return last.get(code)
    head = prefix(code)
    hits = [p for c, p in last.items() if c.startswith(head)]
    return max(hits) if hits else None


def rank(frame: pd.DataFrame, last: dict[str, str] | None = None) -> pd.DataFrame:
    """Rows of ``assess_frame`` worst first (the laggard order), numbered from 1 in ``rank``, with
    ``last_return`` when ``last`` (``last_returns``) is given."""
    if frame.empty:
        return frame.assign(rank=pd.Series(dtype="int64"))
    keys = frame.assign(_sev=frame["status"].map(SEVERITY).fillna(len(SEVERITY)),
                        _gap=frame["gap_pp"].astype(float).fillna(np.inf),
                        _dist=-(frame["value"].astype(float) - frame["target_value"].astype(float)).abs().fillna(0))
    out = keys.sort_values(["_sev", "_gap", "_dist", "unit_code"], kind="stable").drop(columns=["_sev", "_gap", "_dist"])
    if last is not None:
        out["last_return"] = [last_return_of(c, last) for c in out["unit_code"]]
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out.reset_index(drop=True)


def laggards(con: duckdb.DuckDBPyConnection, target: str, level: str, *, cat: Catalog | None = None,
             as_of: str | None = None, period: str | None = None, unit: str | None = None, top: int | None = None,
             bottom: int | None = None, statuses: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """后进名单: the units of ``level`` judged for ``target``, in the laggard order (``rank``), for the
    quarter ``as_of`` (as known then) or ``period`` (default: the latest quarter with data), each with
    the quarter of its last return at or before the quarter judged.
    ``statuses`` keeps only those statuses; ``top`` the first (worst) N, ``bottom`` the last (best) N."""
    cat = cat or catalog()
    if statuses is not None:
        statuses = list(statuses)
        bad = [s for s in statuses if s not in STATUSES]
        if bad:
            raise RuralTargetsError("PRG005", status=", ".join(bad), known=", ".join(STATUSES))
    if as_of is None and period is None:
        periods = data_periods(con)
        if not periods:
            return []
        period = periods[-1]
    frame = assess_frame(con, cat, target=target, level=level, unit=unit, as_of=as_of, period=period)
    if statuses is not None:
        frame = frame[frame["status"].isin(statuses)]
    if frame.empty:
        return []
    frame = rank(frame, last_returns(con, as_of=as_of, cat=cat, upto=as_of or period))
    if top is not None:
        frame = frame.head(top)
    elif bottom is not None:
        frame = frame.tail(bottom)
    return plain_records(frame, 6)


def failing_units(con: duckdb.DuckDBPyConnection, target: str, unit: str, *, cat: Catalog | None = None,
                  as_of: str | None = None, period: str | None = None) -> list[dict[str, Any]]:
    """For an every-unit (or count, milestone) target: the units of the target's level under
    ``unit`` that do not meet it in the quarter, with the value that fails (no data included)."""
    cat = cat or catalog()
    _, t = cat.target(target)
    level = unit_level_of(cat, t, unit_level(con, unit))
    if as_of is None and period is None:
        periods = data_periods(con)
        period = periods[-1] if periods else None
    rows = assess(con, cat, target=target, level=level, unit=unit, as_of=as_of, period=period)
    return [r for r in rows if r["status"] not in ("met", "met_late")]
