"""The stored progress tables: what they hold, whether they are current, and reading them back.

``refresh`` (pipelines.compute.refresh) writes
    progress_data             every target × unit × quarter at township level and above, task
                              units and the village rows of field milestones, in the row table's form (pipelines.compute.rows): plan, target,
                              department, level, status and basis as ENUM columns of the catalog's
                              labels; the view ``progress`` adds unit_code and the period names;
    progress_village          one row per village and quarter, a column group per village target k
                              (``progress_village_targets``): s{k} status (ENUM), v{k} value,
                              pi{k}, tau{k}, f{k} flags (regressing, stale, low confidence, overdue,
                              above_range and the verdict at the deadline in one byte), n{k} points;
                              a village's coverage is 1 when it has a value, 0 else, its strive,
                              population, deadline and cycle follow from the target; the other
                              outputs of a village row are recomputed by ``assess(stored=False)``;
    indicator_sums_*          the indicator sums (view ``indicator_values``);
and in ``meta`` the catalog fingerprint, the data version and the row layout (``ROW_VERSION``) they
reflect. ``is_fresh`` compares
them with the current ones; ``data_token`` is the one data version (the dashboard keys its caches by it).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from pipelines.catalog.definitions import Catalog, Plan, Target, catalog
from pipelines.compute.judge import DEPARTMENT
from pipelines.compute.rows import DATA_COLUMNS, ROW_COLUMNS, Labels, coded, decode
from pipelines.compute.rules import INCOMPLETE, MET, MISSED, cycle_codes
from pipelines.compute.scope import target_pairs, unit_level
from pipelines.periods import pidx
from pipelines.store.lake import connection_is_lake
from pipelines.units import PREFIX_LEN

STATE_KEY = "progress_state"
VILLAGE_PARTS = ("s", "v", "pi", "tau", "f", "n")  # per village target: status, value, pi, tau, flags, points
# the four flags of a village row in one TINYINT (f{k}): a byte per target instead of four columns
FLAG_BITS = {"regressing": 1, "stale": 2, "low_confidence": 4, "overdue": 8, "above_range": 64}
# and the verdict at the deadline in bits 16–32 of the same byte: 0 none, 1 met, 2 missed, 3 incomplete
VERDICT_SHIFT = 4
VERDICT_BITS = {MET: 1, MISSED: 2, INCOMPLETE: 3}
ENUM_COLUMNS = ("plan", "target", "department", "level", "status", "basis", "population")
ROW_VERSION = 2        # the layout of the stored rows: tables of another layout are not current

_TOKEN_QUERIES = (
    "SELECT count(*), coalesce(max(id), 0), count(*) FILTER (WHERE status = 'active'), max(uploaded_at), "
    "count(*) FILTER (WHERE review_status = 'approved'), max(reviewed_at) FROM submissions",
    "SELECT count(*), max(recorded_at) FROM county_values",
    "SELECT count(*), max(recorded_at) FROM task_values",
    "SELECT count(*), max(loaded_at), count(valid_to) FROM units",
)


def catalog_hash(cat: Catalog) -> str:
    """A fingerprint of what the judgement depends on in the catalog (plans, indicators, settings)."""
    parts = [p.model_dump(mode="json") for p in cat.plans.values()]
    parts += [i.model_dump(mode="json", exclude={"compiled"}) for i in cat.indicators.values()]
    parts.append(cat.settings.model_dump(mode="json"))
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def data_token(con: duckdb.DuckDBPyConnection) -> str:
    """The data version: changes whenever returns, county values, task updates or the registry change."""
    parts = []
    for sql in _TOKEN_QUERIES:
        try:
            parts.append(con.execute(sql).fetchall()[0])
        except duckdb.CatalogException:  # an older database without the table
            parts.append(None)
    return json.dumps(parts, default=str)


def stored_state(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """What the stored tables reflect (catalog fingerprint, data version, row layout, quarters), if any."""
    try:
        rows = con.execute("SELECT value FROM meta WHERE key = ?", [STATE_KEY]).fetchall()
    except duckdb.CatalogException:
        return None
    return json.loads(rows[0][0]) if rows else None


def is_published(con: duckdb.DuckDBPyConnection, cat: Catalog | None = None) -> bool:
    """Whether stored tables exist for this catalog and row layout — current or not: while uploads come
    in they lag the data until the worker's next refresh (``stored_state`` says when that was)."""
    state = stored_state(con)
    return state is not None and state.get("rows") == ROW_VERSION and state.get("catalog") == catalog_hash(cat or catalog())


def is_fresh(con: duckdb.DuckDBPyConnection, cat: Catalog | None = None, token: str | None = None) -> bool:
    """Whether the stored tables reflect the current data (``token``: its ``data_token``, if known)
    and catalog."""
    cat = cat or catalog()
    state = stored_state(con)
    if state is None:
        return False
    return (state.get("rows") == ROW_VERSION and state.get("catalog") == catalog_hash(cat)
            and state.get("data") == (token or data_token(con)))


def enum_types(con: duckdb.DuckDBPyConnection, labels: Labels) -> dict[str, str]:
    """The ENUM type of each named column of the row table, created when missing; named by a digest
    of its labels, so a changed catalog gets new types while the stored tables still use the old."""
    if connection_is_lake(con):             # a DuckLake has no user-defined types
        return {kind: "VARCHAR" for kind in ENUM_COLUMNS}
    out = {}
    for kind in ENUM_COLUMNS:
        values = labels.values[kind]
        name = f"progress_{kind}_{hashlib.sha256(chr(10).join(values).encode()).hexdigest()[:12]}"
        con.execute(f"CREATE TYPE IF NOT EXISTS {name} AS ENUM (SELECT unnest(?::VARCHAR[]))", [values])
        out[kind] = name
    return out


def data_table_sql(types: dict[str, str]) -> str:
    """The columns of progress_data (``DATA_COLUMNS``) with their types."""
    sql = {"unit": "BIGINT", "pidx": "SMALLINT", "points": "SMALLINT", "deadline": "DATE",
           "last_pidx": "SMALLINT", "baseline_pidx": "SMALLINT", "milestones": "VARCHAR", "task_status": "VARCHAR",
           "note": "VARCHAR", "cycle": "SMALLINT",
           **{c: "BOOLEAN" for c in ("low_confidence", "regressing", "stale", "overdue", "above_range", "strive")},
           "verdict_at_deadline": types["status"], **types}
    return ", ".join(f'"{c}" {sql.get(c, "DOUBLE")}' for c in DATA_COLUMNS)


def int_range(prefix: str) -> tuple[int, int]:
    """[lo, hi] of the 12-digit codes (as integers) starting with ``prefix``."""
    if not prefix:
        return 0, 10**12 - 1
    pad = 12 - len(prefix)
    return int(prefix) * 10**pad, (int(prefix) + 1) * 10**pad - 1


def _prefix_range(prefix: str) -> tuple[str, str]:
    """[lo, hi): the codes starting with ``prefix`` (digits), as a range of strings."""
    if not prefix:
        return "", "\uffff"
    return prefix, str(int(prefix) + 1).zfill(len(prefix))


def read_stored(con: duckdb.DuckDBPyConnection, cat: Catalog | None = None, *,
                pairs: list[tuple[Plan, Target]] | None = None, plan: str | None = None, target: str | None = None,
                level: str | None = None, unit: str | None = None, period: str | None = None) -> pd.DataFrame:
    """Progress rows from the stored tables, in the same form as ``assess_frame``.

    Filters by code range (``unit``: that unit and those under it), so one county's rows for one
    plan are read without scanning the rest.
    """
    cat = cat or catalog()
    pairs = pairs if pairs is not None else target_pairs(cat, plan, target)
    if not pairs:
        return pd.DataFrame(columns=ROW_COLUMNS)
    prefix = unit[:PREFIX_LEN[unit_level(con, unit)]] if unit else ""
    lo, hi = int_range(prefix)
    targets = [t.id for _, t in pairs]
    cond = [f"target IN ({', '.join('?' * len(targets))})"]
    params: list[Any] = list(targets)
    if period is not None:
        cond.append("pidx = ?")
        params.append(pidx(period))
    frames = []
    columns = ", ".join(f'"{c}"' for c in DATA_COLUMNS)
    if level != DEPARTMENT:                 # village rows here too: those of field milestones
        lv = ["level = ?"] if level is not None else []
        frames.append(con.execute(f"SELECT {columns} FROM progress_data WHERE unit BETWEEN ? AND ? AND "
                                  f"{' AND '.join(cond + lv)}", [lo, hi] + params + ([level] if lv else [])).df())
    if level in (None, DEPARTMENT):
        frames.append(con.execute(f"SELECT {columns} FROM progress_data WHERE unit IS NULL AND "
                                  f"{' AND '.join(cond)}", params).df())
    names = dict(con.execute("SELECT CAST(code AS BIGINT), name FROM units WHERE code >= ? AND code < ?",
                             list(_prefix_range(prefix))).fetchall())
    if level in (None, "village"):
        frames.append(_read_village(con, cat, pairs, prefix, period))
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=ROW_COLUMNS)
    if len(frames) > 1:
        labels = Labels(cat)
        kinds = {**{c: c for c in ENUM_COLUMNS}, "verdict_at_deadline": "status"}
        frames = [f.assign(**{c: pd.Categorical(f[c], categories=labels.values[k]) for c, k in kinds.items()})
                  for f in frames]
    return decode(frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True), names, cat)


def _read_village(con: duckdb.DuckDBPyConnection, cat: Catalog, pairs: list[tuple[Plan, Target]], prefix: str,
                  period: str | None) -> pd.DataFrame:
    """The stored village rows of ``pairs`` under ``prefix`` as rows of ``DATA_COLUMNS``."""
    ks = con.execute("SELECT k, plan, target FROM progress_village_targets").fetchall()
    wanted = {(p.code, t.id) for p, t in pairs}
    ks = [(k, p, t) for k, p, t in ks if (p, t) in wanted]
    if not ks:
        return pd.DataFrame()
    cols = ", ".join(f"{part}{k}" for k, _, _ in ks for part in VILLAGE_PARTS)
    lo, hi = int_range(prefix)
    where, params = ["unit BETWEEN ? AND ?"], [lo, hi]
    if period is not None:
        where.append("pidx = ?")
        params.append(pidx(period))
    wide = con.execute(f"SELECT unit, pidx, {cols} FROM progress_village WHERE {' AND '.join(where)}", params).df()
    labels = Labels(cat)
    info = {t.id: (p, t) for p, t in pairs}
    unit, quarter = wide["unit"].to_numpy(dtype=np.int64), wide["pidx"].to_numpy(dtype=np.int64)
    verdict_of = np.full(4, -1, np.int64)
    for pos, bits in VERDICT_BITS.items():
        verdict_of[bits] = pos
    parts: dict[str, list[np.ndarray]] = {}
    for k, plan_code, tid in ks:
        codes, found = coded(wide[f"s{k}"])
        found = list(found)
        m = codes >= 0
        if not m.any():
            continue
        plan, t = info[tid]
        count = int(m.sum())
        flags = wide[f"f{k}"].to_numpy(dtype=float, na_value=0)[m].astype(int)
        status = np.array([labels.position["status"][s] for s in found], np.int64)[codes[m]]
        target_value = float(t.value[0] if isinstance(t.value, list) else t.value) if t.value is not None else np.nan
        value = wide[f"v{k}"].to_numpy(dtype=float, na_value=np.nan)[m]
        cycle, deadline = cycle_codes(t, quarter[m], plan)
        days = (deadline - dt.date(1970, 1, 1).toordinal()).astype("int64").astype("datetime64[D]")
        for name, values in (
                ("plan", np.full(count, labels.position["plan"][plan_code])),
                ("target", np.full(count, labels.position["target"][tid])), ("unit", unit[m]), ("pidx", quarter[m]),
                ("value", value), ("target_value", np.full(count, target_value)), ("status", status),
                ("pi", wide[f"pi{k}"].to_numpy(dtype=float, na_value=np.nan)[m]),
                ("tau", wide[f"tau{k}"].to_numpy(dtype=float, na_value=np.nan)[m]),
                ("points", wide[f"n{k}"].to_numpy(dtype=float, na_value=0)[m].astype(np.int64)),
                *((flag, (flags & bit) > 0) for flag, bit in FLAG_BITS.items()),
                ("verdict_at_deadline", verdict_of[(flags >> VERDICT_SHIFT) & 3]),
                ("reported", (~np.isnan(value)).astype(float)), ("expected", np.ones(count)),
                ("coverage", (~np.isnan(value)).astype(float)), ("strive", np.full(count, bool(t.strive))),
                ("population", np.full(count, labels.position["population"][t.population])),
                ("cycle", np.where(cycle >= 0, cycle, np.nan)), ("deadline", days)):
            parts.setdefault(name, []).append(values)
    if not parts:
        return pd.DataFrame()
    data: dict[str, Any] = {name: np.concatenate(v) for name, v in parts.items()}
    n = len(data["unit"])
    for kind in ("plan", "target", "status", "population"):
        data[kind] = pd.Categorical.from_codes(data[kind], categories=labels.values[kind])
    data["verdict_at_deadline"] = pd.Categorical.from_codes(data["verdict_at_deadline"],
                                                            categories=labels.values["status"])
    data.update({
        "department": pd.Categorical.from_codes(np.full(n, -1), categories=labels.values["department"]),
        "level": pd.Categorical.from_codes(np.full(n, labels.position["level"]["village"]),
                                           categories=labels.values["level"]),
        "basis": pd.Categorical.from_codes(np.full(n, labels.position["basis"]["value"]),
                                           categories=labels.values["basis"]),
        **{c: np.full(n, np.nan) for c in ("projected", "last_value", "last_pidx", "baseline_value", "baseline_pidx",
                                            "meeting", "judged", "rows")},
        **{c: np.full(n, None, dtype=object) for c in ("milestones", "task_status", "note")}})
    return pd.DataFrame(data)[DATA_COLUMNS]
