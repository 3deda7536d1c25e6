"""``refresh``: compute every indicator and status and store them (pipelines.compute.stored says what).

Indicators at township level and above come from one SQL scan per sheet, village values from one
more; then, by groups of provinces of about ``chunk_villages`` villages (so memory stays bounded),
the judgement in numpy (arrays units × quarters, no per-row Python). A writer thread stores one
group while the next is judged. Everything is built under new names and swapped in at the end in
one transaction: readers never see a half-built state, and a failure (in the judgement or in the
writer) leaves the stored tables as they were.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import queue
import threading
import time
from typing import Any, Callable

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from pipelines.catalog.definitions import Catalog, catalog
from pipelines.compute.indicators import (SOURCE_LEVEL, SheetValues, UnitValues, data_periods, period_frame,
                                          register_frame, sums_sql, unit_values_sql)
from pipelines.compute.judge import DEPARTMENT, Block, judge_target, judged_at
from pipelines.compute.rows import DATA_COLUMNS, Labels, block_table
from pipelines.compute.rules import Grid
from pipelines.compute.scope import Scope, ScopeData, Units, root_groups, units_by_level
from pipelines.compute.rules import STATUSES
from pipelines.compute.stored import (FLAG_BITS, ROW_VERSION, STATE_KEY, VERDICT_BITS, VERDICT_SHIFT, catalog_hash,
                                      data_table_sql, data_token, enum_types, int_range, stored_state)
from pipelines.store.db import replace_rows, transaction
from pipelines.store.lake import connection_is_lake
from pipelines.units import LEVEL_RANK

SHEETS = ("village", "township", "county")
_AUX = {
    "progress_village_targets": "k INTEGER, plan VARCHAR, target VARCHAR",
    "progress_recurrence": "target VARCHAR, recurrence VARCHAR",
    "indicator_columns": "sheet VARCHAR, k INTEGER, indicator VARCHAR, factor DOUBLE, has_den BOOLEAN",
}
_STORED = ["progress_data", "progress_village", *_AUX, *(f"indicator_sums_{sh}" for sh in SHEETS)]
_OBSOLETE = ("progress_targets", "progress_departments")      # the key tables of older databases


class Writer:
    """Inserts Arrow tables on its own cursor in a background thread, so that storing one group
    overlaps with judging the next (numpy and DuckDB both release the GIL).

    Used as a context manager: leaving it stops and joins the thread; an error of an insert is
    raised by the next ``put`` or on leaving (after which no further insert is run)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.cur = con.cursor()
        self.cur.execute(f"USE {con.execute('SELECT current_database()').fetchone()[0]}")   # a cursor starts in memory
        self.jobs: queue.Queue[tuple[str, pa.Table] | None] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.seconds = 0.0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            if self.error is not None:
                continue
            sql, table = job
            t0 = time.perf_counter()
            try:
                self.cur.register("_rt_insert", table)
                self.cur.execute(sql)
                self.cur.unregister("_rt_insert")
            except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread
                self.error = exc
            self.seconds += time.perf_counter() - t0

    def put(self, sql: str, table: pa.Table) -> None:
        """Queue ``sql`` (reading the relation _rt_insert) on ``table``; raises an earlier insert's error."""
        if self.error is not None:
            raise self.error
        self.jobs.put((sql, table))

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, kind: type | None, exc: BaseException | None, tb: Any) -> None:
        self.jobs.put(None)
        self.thread.join()
        self.cur.close()
        if kind is None and self.error is not None:
            raise self.error


def refresh(con: duckdb.DuckDBPyConnection, cat: Catalog | None = None, *, chunk_villages: int = 40_000,
            say: Callable[[str], None] | None = None, only: list[str] | None = None) -> dict[str, Any]:
    """Recompute every indicator and status and store them (call after ingest or any update):

    - ``indicator_sums_{village,township,county}`` (wide sums at township level and above, one row
      per unit and quarter) and the view ``indicator_values`` over them (long: indicator, period,
      unit_code, level, num, den, value, rows, reported, excluded, expected);
    - ``progress_data`` (view ``progress``): every target × unit × quarter at township level and
      above, task units, and the village rows of field milestones (dates on the village sheet);
    - ``progress_village`` (wide: a status, value, pi, tau, flags and points column group per
      village-level target, named by ``progress_village_targets.k``): every village × quarter.

    ``only`` (township codes; see ``refresh_touched``): recompute only the scopes holding them and put
    their rows in place of the stored ones, leaving the rest as it is.

    Returns row counts, seconds and the time of each phase.
    """
    cat = cat or catalog()
    part = only is not None
    # scratch tables: in a DuckLake other processes refresh at the same time, so the names are this process's
    new = ("__part" if part else "__new") + (f"_{os.getpid()}" if connection_is_lake(con) else "")
    say = say or (lambda text: None)
    started = time.perf_counter()
    timing: dict[str, float] = {}
    mark = [time.perf_counter()]

    def lap(name: str) -> None:
        now = time.perf_counter()
        timing[name] = round(timing.get(name, 0.0) + now - mark[0], 2)
        mark[0] = now

    token, chash = data_token(con), catalog_hash(cat)
    periods = data_periods(con)
    labels = Labels(cat)
    types = enum_types(con, labels)
    groups = {code: root_groups(con, cat, plan, None) for code, plan in cat.plans.items()}
    vtargets = [(p, t) for p, t in cat.targets()
                if t.indicator and "village" in judged_at(t, cat, [lv for lv, _, _ in groups[p.code]])]
    stats: dict[str, Any] = {"periods": len(periods), "indicator_rows": 0, "progress": 0, "progress_village": 0}
    prefixes = sorted({x for gs in groups.values() for _, _, ps in gs for x in ps})
    prefixes = [p for p in prefixes if not any(p != q and p.startswith(q) for q in prefixes)]
    if part:
        prefixes = [p for p in prefixes if any(code.startswith(p) for code in only or [])]
        stats["scopes"] = prefixes
    try:
        for name, cols in _AUX.items():
            con.execute(f"CREATE OR REPLACE TABLE {name}{new} ({cols})")
        con.execute(f"CREATE OR REPLACE TABLE progress_data{new} ({data_table_sql(types)})")
        _insert(con, f"INSERT INTO progress_village_targets{new} SELECT * FROM _rt_insert",
                pa.table({"k": pa.array(range(len(vtargets)), pa.int32()), "plan": [p.code for p, _ in vtargets],
                          "target": [t.id for _, t in vtargets]},
                         schema=pa.schema([("k", pa.int32()), ("plan", pa.string()), ("target", pa.string())])))
        recurrent = [(t.id, t.recurrence) for _, t in cat.targets() if t.recurrence]
        _insert(con, f"INSERT INTO progress_recurrence{new} SELECT * FROM _rt_insert",
                pa.table({"target": [r[0] for r in recurrent], "recurrence": [r[1] for r in recurrent]},
                         schema=pa.schema([("target", pa.string()), ("recurrence", pa.string())])))
        vcols = "".join(f", s{k} {types['status']}, v{k} DOUBLE, pi{k} FLOAT, tau{k} FLOAT, f{k} TINYINT, n{k} TINYINT"
                        for k in range(len(vtargets)))
        con.execute(f"CREATE OR REPLACE TABLE progress_village{new} (unit BIGINT, pidx SMALLINT{vcols})")
        register_frame(con, "_rt_periods", period_frame(periods or ["2000Q1"]))
        say("计算指标(乡镇及以上)…")
        stats["indicator_rows"] = _indicator_sums(con, cat, periods, prefixes, new)
        lap("indicators")
        if periods and prefixes:
            _judge_and_store(con, cat, Grid(periods), groups, vtargets, prefixes, chunk_villages, labels, stats,
                             say, lap, timing, new)
        con.unregister("_rt_periods")
        con.execute("DROP TABLE IF EXISTS _rt_village_sums")
    except BaseException:
        for name in _STORED:
            con.execute(f"DROP TABLE IF EXISTS {name}{new}")
        con.execute("DROP TABLE IF EXISTS _rt_village_sums")
        raise
    if part:
        _merge(con, token, chash, periods, prefixes, new)
    else:
        _swap(con, token, chash, set(types.values()), periods, new)
    lap("swap")
    stats["seconds"] = round(time.perf_counter() - started, 2)
    stats["timing"] = timing
    return stats


def _indicator_sums(con: duckdb.DuckDBPyConnection, cat: Catalog, periods: list[str], prefixes: list[str],
                    new: str = "__new") -> int:
    """indicator_sums_{sheet}__new at township level and above for every scope at once (one scan per
    sheet) and indicator_columns__new (which indicator each column k is); the number of rows."""
    rows = 0
    higher = ["province", "city", "county", "township"]
    meta = []
    for sh in SHEETS:
        inds = [i for i in cat.indicators.values() if i.source == sh]
        if inds and periods and prefixes:           # columns k exist only then (the view reads them)
            meta += [(sh, k, i.id, i.factor, i.denominator is not None) for k, i in enumerate(inds)]
            sql = sums_sql(sh, inds, None, cat, prefixes, [x for x in higher if LEVEL_RANK[x] <= LEVEL_RANK[SOURCE_LEVEL[sh]]])
            con.execute(f"CREATE OR REPLACE TABLE indicator_sums_{sh}{new} AS SELECT * FROM ({sql.sql}) "
                        "ORDER BY unit_code, pidx", list(sql.params))
        else:
            con.execute(f"CREATE OR REPLACE TABLE indicator_sums_{sh}{new} (unit_code VARCHAR, level VARCHAR, "
                        "pidx BIGINT, expected BIGINT, reported BIGINT)")
        rows += con.execute(f"SELECT count(*) FROM indicator_sums_{sh}{new}").fetchall()[0][0]
    frame = pd.DataFrame(meta, columns=["sheet", "k", "indicator", "factor", "has_den"])
    _insert(con, f"INSERT INTO indicator_columns{new} SELECT * FROM _rt_insert", pa.Table.from_pandas(frame))
    return rows


def _chunks(con: duckdb.DuckDBPyConnection, prefixes: list[str], chunk_villages: int) -> list[list[str]]:
    """The scope prefixes in groups of about ``chunk_villages`` villages."""
    sizes = dict(con.execute("SELECT substr(code, 1, 2), count(*) FROM units WHERE level = 'village' "
                             "GROUP BY 1").fetchall())
    chunks: list[list[str]] = []
    size = 0
    for p in prefixes:
        n = sizes.get(p[:2], 0) if len(p) <= 2 else max(1, sizes.get(p[:2], 0) // 10)
        if not chunks or size + n > chunk_villages:
            chunks.append([])
            size = 0
        chunks[-1].append(p)
        size += n
    return chunks


def _judge_and_store(con: duckdb.DuckDBPyConnection, cat: Catalog, grid: Grid, groups: dict[str, list],
                     vtargets: list, prefixes: list[str], chunk_villages: int, labels: Labels, stats: dict[str, Any],
                     say: Callable[[str], None], lap: Callable[[str], None], timing: dict[str, float],
                     new: str = "__new") -> None:
    """Per group of provinces: read the sums and village values, judge every plan, store the rows."""
    vk = {(p.code, t.id): k for k, (p, t) in enumerate(vtargets)}
    chunks = _chunks(con, prefixes, chunk_villages)
    sheet_inds = {sh: [i for i in cat.indicators.values() if i.source == sh] for sh in SHEETS}
    vinds = [cat.indicators[x] for x in sorted({t.indicator for _, t in vtargets})]
    if vinds:      # the values of the indicators judged per village: one scan for all groups
        sql = unit_values_sql("village", vinds, None, cat, prefixes)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _rt_village_sums AS {sql.sql}", list(sql.params))  # this connection's own
    lap("village_values")
    # numbers read as DOUBLE with NaN for NULL: plain numpy arrays, no masks to fill
    nan_cols = {}
    for sh, table in [(sh, f"indicator_sums_{sh}{new}") for sh in SHEETS] + [("_village", "_rt_village_sums")]:
        if sh == "_village" and not vinds:
            continue
        names = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall() if r[0] not in ("unit_code", "level")]
        nan_cols[sh] = ", ".join(f"coalesce(CAST(\"{c}\" AS DOUBLE), 'NaN'::DOUBLE) AS \"{c}\"" for c in names)
    lrank = "CASE level " + " ".join(f"WHEN '{lv}' THEN {r}" for lv, r in LEVEL_RANK.items()) + " END"
    keys = f"CAST(unit_code AS BIGINT) AS unit_int, {lrank} AS lrank"
    done_tasks: set[tuple[str, str]] = set()
    with Writer(con) as writer:
        for i, chunk in enumerate(chunks, 1):
            say(f"评估进度 {i}/{len(chunks)}({','.join(chunk)})…")
            where = " OR ".join("starts_with(unit_code, ?)" for _ in chunk)
            values: list[SheetValues] = []
            for sh in SHEETS:
                if sheet_inds[sh]:
                    res = con.execute(f"SELECT {keys}, {nan_cols[sh]} FROM indicator_sums_{sh}{new} "
                                      f"WHERE {where}", chunk).fetchnumpy()
                    lv = frozenset(lvl for lvl, r in LEVEL_RANK.items() if (res["lrank"] == r).any())
                    values.append(SheetValues(sh, sheet_inds[sh], res, lv or frozenset({"none"})))
            if vinds:
                values.append(UnitValues("village", vinds, con.execute(
                    f"SELECT CAST(unit_code AS BIGINT) AS unit_int, 4 AS lrank, {nan_cols['_village']} "
                    f"FROM _rt_village_sums WHERE {where}", chunk).fetchnumpy(), frozenset({"village"})))
            lap("read")
            data = ScopeData(cat, grid, units_by_level(con, chunk, grid), values, None, list(chunk),
                             frozenset({"village"}))
            tables = []
            village_rows = data.units["village"].exists
            vcols: dict[str, pa.Array] = {}
            for code, gs in groups.items():
                plan = cat.plans[code]
                for root_level, roots, pref in gs:
                    keep = [(r, p) for r, p in zip(roots, pref) if any(p.startswith(c) for c in chunk)]
                    if not keep:
                        continue
                    scope = Scope(plan, [r for r, _ in keep], root_level, [p for _, p in keep], data, None)
                    for t in plan.targets:
                        for block in judge_target(scope, con, t):
                            if block.level == DEPARTMENT:        # task units: once, not per group
                                if (code, t.id) in done_tasks or new.startswith("__part"):   # uploads leave tasks alone
                                    continue
                                done_tasks.add((code, t.id))
                            else:
                                block.emit = block.emit & scope.inside(block.units)[:, None]
                            if block.level == "village" and (code, t.id) in vk:
                                vcols.update(_village_columns(block, vk[(code, t.id)], village_rows, labels))
                            else:               # village rows of field milestones go with the others
                                tables.append(block_table(block, grid, labels))
            lap("judge")
            stats["progress"] += _store_progress(writer, tables, new)
            stats["progress_village"] += _store_village(writer, vcols, village_rows, grid, data.units["village"], new)
            lap("store (waiting for the writer)")
            del data, values, tables, vcols
    lap("store (waiting for the writer)")
    timing["store (writer thread, overlapped)"] = round(writer.seconds, 2)


def _insert(con: duckdb.DuckDBPyConnection | Writer, sql: str, table: pa.Table) -> None:
    """Run ``sql`` (reading the relation _rt_insert) on ``table``, now or in the writer thread."""
    if isinstance(con, Writer):
        con.put(sql, table)
        return
    con.register("_rt_insert", table)
    try:
        con.execute(sql)
    finally:
        con.unregister("_rt_insert")


def _store_progress(con: duckdb.DuckDBPyConnection | Writer, tables: list[pa.Table], new: str = "__new") -> int:
    tables = [t for t in tables if t.num_rows]
    if not tables:
        return 0
    table = pa.concat_tables(tables).select(DATA_COLUMNS).combine_chunks()     # one batch inserts faster
    _insert(con, f"INSERT INTO progress_data{new} SELECT * FROM _rt_insert", table)
    return table.num_rows


def _village_columns(block: Block, k: int, rows: np.ndarray, labels: Labels) -> dict[str, pa.Array]:
    """The column group of village target ``k`` in progress_village, for the cells where ``rows``."""
    shape = block.status.shape
    e = ~block.emit[rows]
    a = block.arrays

    def cell(name: str) -> np.ndarray:
        return np.broadcast_to(np.asarray(a[name]), shape)[rows]
    flags = np.zeros(int(rows.sum()), np.int8)
    for name, bit in FLAG_BITS.items():
        if name in a:
            flags |= (cell(name).astype(bool) * bit).astype(np.int8)
    if "verdict" in a:                          # the verdict at the deadline in two bits
        bits = np.zeros(len(STATUSES), np.int8)
        for pos, code in VERDICT_BITS.items():
            bits[pos] = code
        v = cell("verdict").astype(np.int64)
        flags |= np.where(v >= 0, bits[np.maximum(v, 0)], 0).astype(np.int8) << VERDICT_SHIFT
    return {f"s{k}": labels.column("status", block.status[rows], mask=e), f"v{k}": pa.array(cell("value"), mask=e),
            f"pi{k}": pa.array(cell("pi").astype(np.float32), mask=e),
            f"tau{k}": pa.array(cell("tau").astype(np.float32), mask=e), f"f{k}": pa.array(flags, mask=e),
            f"n{k}": pa.array(np.minimum(cell("points"), 127).astype(np.int8), mask=e)}


def _store_village(con: duckdb.DuckDBPyConnection | Writer, cols: dict[str, pa.Array], rows: np.ndarray,
                   grid: Grid, villages: Units, new: str = "__new") -> int:
    """One group's village rows (village × quarter while the village exists) into progress_village."""
    ui, ci = np.nonzero(rows)
    if not cols or not len(ui):
        return 0
    table = pa.table({"unit": villages.ints[ui], "pidx": (ci + grid.p0).astype(np.int16), **cols})
    names = ", ".join(table.column_names)
    _insert(con, f"INSERT INTO progress_village{new} ({names}) SELECT {names} FROM _rt_insert", table)
    return table.num_rows


def _drop_relation(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop the view or table ``name`` if there is one (an older database may have a table)."""
    kinds = con.execute("SELECT 'VIEW' FROM duckdb_views() WHERE view_name = ? AND NOT internal UNION ALL "
                        "SELECT 'TABLE' FROM duckdb_tables() WHERE table_name = ?", [name, name]).fetchall()
    for (kind,) in kinds:
        con.execute(f"DROP {kind} IF EXISTS {name}")


def _swap(con: duckdb.DuckDBPyConnection, token: str, chash: str, types: set[str], periods: list[str],
          new: str) -> None:
    """Replace the stored tables by the ones just built, record what they reflect, and drop the ENUM
    types no table uses any more."""
    with transaction(con):
        for view in ("indicator_values", "progress"):
            _drop_relation(con, view)
        for name in _OBSOLETE:
            _drop_relation(con, name)
        for name in _STORED:
            _drop_relation(con, name)
            con.execute(f"ALTER TABLE {name}{new} RENAME TO {name}")
        con.execute(_indicator_view(con))
        con.execute(_PROGRESS_VIEW)
        replace_rows(con, "meta", "key", "SELECT ? AS key, ? AS value", [STATE_KEY, _state(chash, token, periods)])
    if connection_is_lake(con):
        return
    old = con.execute("SELECT type_name FROM duckdb_types() WHERE NOT internal AND logical_type = 'ENUM' AND "
                      "starts_with(type_name, 'progress_')").fetchall()
    for (name,) in old:
        if name not in types:
            con.execute(f"DROP TYPE IF EXISTS {name}")


def _state(chash: str, token: str, periods: list[str]) -> str:
    return json.dumps({"catalog": chash, "data": token, "rows": ROW_VERSION, "periods": periods,
                       "refreshed_at": dt.datetime.now().isoformat(timespec="seconds")})


_UNIT_KEYED = {"progress_data": "unit", "progress_village": "unit",
               **{f"indicator_sums_{sh}": "unit_code" for sh in SHEETS}}


def _merge(con: duckdb.DuckDBPyConnection, token: str, chash: str, periods: list[str], prefixes: list[str],
           new: str) -> None:
    """Put the rows just recomputed for ``prefixes`` (tables ``*{new}``) in place of the stored ones, in
    one transaction, and record the data version they reflect."""
    try:
        with transaction(con):
            for name, key in _UNIT_KEYED.items():
                where, params = [], []
                for prefix in prefixes:
                    if key == "unit":
                        where.append("unit BETWEEN ? AND ?")
                        params += list(int_range(prefix))
                    else:
                        where.append("starts_with(unit_code, ?)")
                        params.append(prefix)
                if where:
                    con.execute(f"DELETE FROM {name} WHERE {' OR '.join(where)}", params)
                    con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM {name}{new}")
            replace_rows(con, "meta", "key", "SELECT ? AS key, ? AS value", [STATE_KEY, _state(chash, token, periods)])
    finally:
        for name in _STORED:
            con.execute(f"DROP TABLE IF EXISTS {name}{new}")


def refresh_touched(con: duckdb.DuckDBPyConnection, touched: set[tuple[str, str]] | list[tuple[str, str]],
                    cat: Catalog | None = None) -> dict[str, Any]:
    """Refresh the stored tables after uploads of ``touched`` (township code, period): only the scopes
    (a plan's city or province) holding those townships are recomputed — their units at every level,
    every quarter — and their rows replaced. A whole ``refresh`` instead when the stored tables are
    missing or were made for another catalog, row layout or set of quarters (a new quarter changes
    every unit's history)."""
    cat = cat or catalog()
    state = stored_state(con)
    if (state is None or state.get("rows") != ROW_VERSION or state.get("catalog") != catalog_hash(cat)
            or state.get("periods") != data_periods(con)):
        return refresh(con, cat)
    return refresh(con, cat, only=sorted({code for code, _ in touched if code}))


# the stored rows with their unit codes and period names (the API reads progress_data by code range)
_PROGRESS_VIEW = """CREATE OR REPLACE VIEW progress AS
    SELECT plan, d.target, coalesce(lpad(CAST(unit AS VARCHAR), 12, '0'), CAST(department AS VARCHAR)) AS unit_code,
           level, CAST(pidx // 4 AS VARCHAR) || 'Q' || CAST(pidx % 4 + 1 AS VARCHAR) AS period,
           value, target_value, status, pi, tau, projected, points, low_confidence, regressing, stale, overdue,
           deadline, last_value,
           CAST(last_pidx // 4 AS VARCHAR) || 'Q' || CAST(last_pidx % 4 + 1 AS VARCHAR) AS last_period,
           baseline_value,
           CAST(baseline_pidx // 4 AS VARCHAR) || 'Q' || CAST(baseline_pidx % 4 + 1 AS VARCHAR) AS baseline_period,
           basis, meeting, judged, "rows", expected, milestones, task_status, note,
           reported, coverage, verdict_at_deadline, above_range, strive, population,
           CASE WHEN cycle IS NULL THEN NULL WHEN r.recurrence = 'yearly' THEN CAST(cycle // 4 AS VARCHAR)
                ELSE CAST(cycle // 4 AS VARCHAR) || 'Q' || CAST(cycle % 4 + 1 AS VARCHAR) END AS cycle
    FROM progress_data d LEFT JOIN progress_recurrence r ON r.target = CAST(d.target AS VARCHAR)"""


def _indicator_view(con: duckdb.DuckDBPyConnection) -> str:
    """CREATE VIEW indicator_values: the stored wide sums as long rows with their values."""
    parts = []
    for sh in SHEETS:
        ks = [r[0] for r in con.execute("SELECT k FROM indicator_columns WHERE sheet = ? ORDER BY k", [sh]).fetchall()]
        if not ks:
            continue
        structs = ", ".join(f"{{'k': {k}, 'n': n{k}, 'd': d{k}, 'r': r{k}, 'x': x{k}}}" for k in ks)
        parts.append(
            "SELECT m.indicator, CAST(s.pidx // 4 AS VARCHAR) || 'Q' || CAST(s.pidx % 4 + 1 AS VARCHAR) AS period, "
            "s.unit_code, s.level, s.n AS num, CASE WHEN m.has_den THEN s.d END AS den, "
            "CASE WHEN s.r > 0 THEN (CASE WHEN m.has_den THEN s.n / nullif(s.d, 0) ELSE s.n END) * m.factor END AS value, "
            "s.r AS \"rows\", s.reported, s.x AS excluded, s.expected "
            f"FROM (SELECT unit_code, level, pidx, reported, expected, unnest([{structs}], recursive := true) "
            f"FROM indicator_sums_{sh}) s JOIN indicator_columns m ON m.sheet = '{sh}' AND m.k = s.k")
    body = " UNION ALL ".join(parts) or ("SELECT NULL::VARCHAR AS indicator, NULL::VARCHAR AS period, "
                                         "NULL::VARCHAR AS unit_code, NULL::VARCHAR AS level WHERE FALSE")
    return f"CREATE OR REPLACE VIEW indicator_values AS {body}"
