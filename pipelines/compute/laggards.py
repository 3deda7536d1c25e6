"""后进名单 (laggards) and failing units: the one laggard order and the one last-return rule.

Rows fall in three sections (``section``):
    ranked        后进排名: ordered missed, severely_lagging, lagging, incomplete / no_data (for other
                  reasons than a missing return: too few points, nothing a year earlier), due_soon,
                  on_track, met_late, met, not_judged (``rules.WORST_FIRST``); then by gap
                  (pi - tau), most behind first; then by how far the value is from the target; then
                  by code;
    not_reported  未报送: no value because the unit's return (or every return under it) is missing;
    incomplete    数据不全: a value from too few of the returns expected (coverage below
                  ``min_coverage``, or an every-unit share some unit has not reported to).
A unit whose status is no_data or incomplete because returns are missing is not ranked among the
laggards; its ``reason`` says what is missing ("本季度未报送", "3/5 个村报送"). A ranked unit that is red
(missed, severely lagging, lagging) while its own return for the quarter is missing says so too.
``rank`` numbers the rows from 1 in this order, ranked section first. Each row comes with the quarter
of its last return up to the quarter judged: its township's for a village, its own for a township,
the latest of its townships' above.
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
from pipelines.compute.rows import coverage_text
from pipelines.compute.rules import SEVERITY, STATUSES, WORST_FIRST
from pipelines.compute.scope import unit_level
from pipelines.errors import RuralTargetsError
from pipelines.jsonable import plain_records
from pipelines.units import ancestor, level_of, prefix

SECTIONS = ("ranked", "not_reported", "incomplete")
SECTION_ZH = {"ranked": "后进排名", "not_reported": "未报送", "incomplete": "数据不全"}
RED = ("missed", "severely_lagging", "lagging")
__all__ = ["SECTIONS", "SECTION_ZH", "SEVERITY", "WORST_FIRST", "failing_units", "laggards", "last_return_of",
           "last_returns", "rank", "sections"]


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


def sections(frame: pd.DataFrame) -> np.ndarray:
    """The section of each row of ``assess_frame`` (``SECTIONS``): not_reported where there is no
    value because nothing expected was reported, incomplete where the status is incomplete (or no
    data with some returns missing), ranked else."""
    status = frame["status"].astype(object).to_numpy()
    rep = pd.to_numeric(frame.get("reported", pd.Series(np.nan, index=frame.index)), errors="coerce").to_numpy(float)
    exp = pd.to_numeric(frame.get("expected", pd.Series(np.nan, index=frame.index)), errors="coerce").to_numpy(float)
    with np.errstate(invalid="ignore"):
        missing = (exp > 0) & (np.nan_to_num(rep) < exp)
        none = (exp > 0) & (np.nan_to_num(rep) <= 0)
    gap = np.isin(status, ["no_data", "incomplete"]) & missing
    return np.where(gap & none & (status == "no_data"), "not_reported", np.where(gap, "incomplete", "ranked"))


def _reasons(frame: pd.DataFrame, section: np.ndarray, cat: Catalog) -> np.ndarray:
    """Why a row is in its section, or red only because its return is missing (None otherwise)."""
    n = len(frame)
    out = np.full(n, None, dtype=object)
    codes = frame["unit_code"].astype(str)
    # a village or township: its own (or its township's) return; above, the returns under it
    own = (codes.str.len() == 12) & codes.str.isdigit() & (codes.str[6:9] != "000")
    own = own.to_numpy(bool)
    last = (frame["last_return"] if "last_return" in frame else pd.Series([None] * n, index=frame.index)).to_numpy(object)
    has_last = np.array([isinstance(x, str) for x in last], bool)
    period = frame["period"].astype(str).to_numpy()
    status = frame["status"].astype(object).to_numpy()
    for i in np.nonzero(section != "ranked")[0]:
        row = frame.iloc[i]
        text = coverage_text(cat, row["target"], row["basis"], row["reported"], row["expected"])
        if section[i] == "not_reported":
            if own[i]:
                out[i] = f"本季度未报送(最近报送 {last[i]})" if has_last[i] else "未报送"
            elif row["basis"] == "task" and row["level"] == "department":
                out[i] = "未报送任务进展"
            else:
                out[i] = f"未报送:{text}" if text else "未报送"
        else:
            out[i] = f"数据不全:{text}" if text else "数据不全"
    lr = np.where(has_last, last, "")
    red_only = (section == "ranked") & np.isin(status, RED) & own & has_last & (lr.astype(str) < period)
    for i in np.nonzero(red_only)[0]:
        out[i] = f"本季度未报送,状态按此前报送判断(最近报送 {last[i]})"
    return out


def rank(frame: pd.DataFrame, last: dict[str, str] | None = None, cat: Catalog | None = None) -> pd.DataFrame:
    """Rows of ``assess_frame`` in the laggard order: the ranked section worst first, then 未报送, then
    数据不全 (``section``, ``section_zh``), numbered from 1 in ``rank``, each with its ``reason``
    (why it is not ranked, or red only because its return is missing) and ``last_return`` when
    ``last`` (``last_returns``) is given."""
    if frame.empty:
        return frame.assign(rank=pd.Series(dtype="int64"), section=pd.Series(dtype=object),
                            section_zh=pd.Series(dtype=object), reason=pd.Series(dtype=object))
    cat = cat or catalog()
    section = sections(frame)
    keys = frame.assign(_sec=[SECTIONS.index(s) for s in section],
                        _sev=frame["status"].map(SEVERITY).fillna(len(SEVERITY)),
                        _gap=frame["gap_pp"].astype(float).fillna(np.inf),
                        _dist=-(frame["value"].astype(float) - frame["target_value"].astype(float)).abs().fillna(0),
                        section=section)
    out = keys.sort_values(["_sec", "_sev", "_gap", "_dist", "unit_code"], kind="stable").drop(
        columns=["_sec", "_sev", "_gap", "_dist"])
    if last is not None:
        out["last_return"] = [last_return_of(c, last) for c in out["unit_code"]]
    out["section_zh"] = out["section"].map(SECTION_ZH)
    out["reason"] = _reasons(out, out["section"].to_numpy(), cat)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out.reset_index(drop=True)


def laggards(con: duckdb.DuckDBPyConnection, target: str, level: str, *, cat: Catalog | None = None,
             as_of: str | None = None, period: str | None = None, unit: str | None = None, top: int | None = None,
             bottom: int | None = None, statuses: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """后进名单: the units of ``level`` judged for ``target``, in the laggard order (``rank``: the ranked
    section, then 未报送 and 数据不全, with ``section``, ``section_zh`` and ``reason``), for the quarter
    ``as_of`` (as known then) or ``period`` (default: the latest quarter with data), each with the
    quarter of its last return at or before the quarter judged.
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
    frame = rank(frame, last_returns(con, as_of=as_of, cat=cat, upto=as_of or period), cat)
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
    return [r for r in rows if r["status"] not in ("met", "met_late", "not_judged")]
