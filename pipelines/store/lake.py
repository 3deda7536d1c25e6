"""Server mode: a DuckLake database whose catalog lives in PostgreSQL and whose data files lie in a
shared directory, so that several dashboard servers and ingest workers on different machines share
one database with snapshot isolation.

``--db ducklake:postgres:<libpq connection string>`` (or $RURAL_TARGETS_DB) names it, ``--data-path``
(or $RURAL_TARGETS_DATA_PATH) the data directory. The two DuckDB extensions come from the Python
packages duckdb-extension-ducklake and duckdb-extension-postgres-scanner and are loaded from their
files, so nothing is downloaded at run time (intranet machines have no internet).

DuckLake has no primary keys, sequences or ENUM types: ``lake_schema_sql`` drops them from the
schema files, ids come from ``next_ids`` (a counter row updated inside the writer's transaction, so
two writers that take ids at once conflict and one of them retries) and ENUM columns are VARCHAR.
"""
from __future__ import annotations

import datetime as dt
import importlib.util
import os
import re
import secrets
import time
from pathlib import Path
from typing import Callable, TypeVar

import duckdb

from pipelines.errors import RuralTargetsError

SCHEME = "ducklake:"
DATA_PATH_VAR = "RURAL_TARGETS_DATA_PATH"
ALIAS = "lake"
EXTENSIONS = ("ducklake", "postgres_scanner")
T = TypeVar("T")



def is_lake(target: str | os.PathLike | None) -> bool:
    """Whether ``target`` (a --db value) names a DuckLake database rather than a DuckDB file."""
    return str(target or "").startswith(SCHEME)


def data_path(explicit: str | os.PathLike | None = None) -> Path:
    """The data directory of the DuckLake database: ``explicit``, else $RURAL_TARGETS_DATA_PATH."""
    value = explicit or os.environ.get(DATA_PATH_VAR)
    if not value:
        raise RuralTargetsError("GEN007")
    return Path(value).resolve()


def extension_file(name: str) -> Path:
    """The extension NAME of the installed package duckdb-extension-NAME, for this DuckDB version."""
    spec = importlib.util.find_spec(f"duckdb_extension_{name}")
    if spec is None or not spec.submodule_search_locations:
        raise RuralTargetsError("GEN008", package=f"duckdb-extension-{name.replace('_', '-')}",
                                version=duckdb.__version__)
    root = Path(list(spec.submodule_search_locations)[0]) / "extensions"
    exact = root / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if exact.is_file():
        return exact
    raise RuralTargetsError("GEN008", package=f"duckdb-extension-{name.replace('_', '-')}",
                            version=duckdb.__version__)


def sql_string(value: object) -> str:
    """``value`` as a quoted SQL string literal (ATTACH takes no bound parameters)."""
    return "'" + str(value).replace("'", "''") + "'"


def open_lake(target: str, read_only: bool = False, data_dir: str | os.PathLike | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the DuckLake database ``target`` attached as ``lake`` and in use."""
    directory = data_path(data_dir)
    if not read_only:
        directory.mkdir(parents=True, exist_ok=True)
    con = quiet(duckdb.connect())
    try:
        for name in EXTENSIONS:
            con.execute(f"LOAD {sql_string(extension_file(name))}")
        options = [f"DATA_PATH {sql_string(str(directory) + os.sep)}"]
        if read_only:
            options.append("READ_ONLY")
        con.execute(f"ATTACH {sql_string(target)} AS {ALIAS} ({', '.join(options)})")
        con.execute(f"USE {ALIAS}")
    except RuralTargetsError:
        con.close()
        raise
    except duckdb.Error as exc:
        con.close()
        raise RuralTargetsError("GEN009", db=redact(target), detail=first_line(str(exc))) from None
    return con


def quiet(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """``con`` without DuckDB's progress bar, which it draws on stdout for long queries (into --json output)."""
    con.execute("SET enable_progress_bar = false")
    return con


def redact(target: str) -> str:
    """The connection string without its password (for messages and logs)."""
    return re.sub(r"(password\s*=\s*)(\S+)", r"\1***", target)


def first_line(text: str) -> str:
    """The first line of an error message, without a password it may quote."""
    return redact(text.strip().splitlines()[0] if text.strip() else text)


def connection_is_lake(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether ``con``'s current database is a DuckLake."""
    row = con.execute("SELECT type FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    return bool(row) and row[0] == "ducklake"


def lake_data_path(con: duckdb.DuckDBPyConnection) -> Path:
    """The data directory of the DuckLake ``con`` is using."""
    row = con.execute(f"SELECT data_path FROM ducklake_settings({sql_string(ALIAS)})").fetchone()
    return Path(row[0])


_SEQUENCE = re.compile(r"CREATE SEQUENCE[^;]*;", re.IGNORECASE)
_PK = re.compile(r"\s+PRIMARY KEY", re.IGNORECASE)
_NEXTVAL = re.compile(r"\s+DEFAULT nextval\('[a-z_]+'\)", re.IGNORECASE)
_MIGRATION = re.compile(r"^(ALTER TABLE|UPDATE)[^;]*;", re.IGNORECASE | re.MULTILINE)


def lake_schema_sql(text: str) -> str:
    """A schema file for DuckLake: no sequences or primary keys; the migrations of older DuckDB files
    (ALTER … ADD COLUMN IF NOT EXISTS, UPDATE) become part of a fresh table's definition instead."""
    text = _SEQUENCE.sub("", text)
    text = _NEXTVAL.sub("", text)
    return _PK.sub("", text)


def split_migrations(text: str) -> tuple[str, list[str]]:
    """The CREATE statements of a schema file and its ALTER / UPDATE statements apart."""
    return _MIGRATION.sub("", text), [m.group(0) for m in _MIGRATION.finditer(text)]


COUNTERS = {"submission": ("submissions", "id"), "audit": ("audit_log", "id")}


def next_ids(con: duckdb.DuckDBPyConnection, name: str, n: int) -> list[int]:
    """``n`` new ids of the counter ``name``, taken inside the caller's transaction (a concurrent
    writer taking ids too makes one of the two commits fail with a conflict: ``retry_conflicts``)."""
    table, column = COUNTERS[name]
    con.execute("UPDATE id_counters SET value = greatest(value, (SELECT coalesce(max(" + column + "), 0) FROM "
                + table + ")) + ? WHERE name = ?", [n, name])
    row = con.execute("SELECT value FROM id_counters WHERE name = ?", [name]).fetchone()
    if row is None:
        top = con.execute(f"SELECT coalesce(max({column}), 0) FROM {table}").fetchone()[0]
        con.execute("INSERT INTO id_counters VALUES (?, ?)", [name, top + n])
        row = (top + n,)
    return list(range(row[0] - n + 1, row[0] + 1))


def time_id() -> int:
    """A unique, increasing id without a shared counter: microseconds since 1970 and three random digits."""
    return time.time_ns() // 1000 * 1000 + secrets.randbelow(1000)


def is_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` is DuckLake's refusal to commit over a concurrent writer's commit."""
    text = str(exc).lower()
    return isinstance(exc, duckdb.Error) and ("conflict" in text or "concurrent" in text)


def retry_conflicts(run: Callable[[], T], attempts: int = 30, pause_s: float = 0.05) -> T:
    """``run()``, run again (after a growing, jittered pause, so that writers do not meet again in step)
    while it fails on a write conflict."""
    for attempt in range(attempts):
        try:
            return run()
        except duckdb.Error as exc:
            if not is_conflict(exc) or attempt == attempts - 1:
                raise
            time.sleep(pause_s * (2 ** min(attempt, 5)) * (0.5 + secrets.randbelow(1000) / 1000))
    raise AssertionError("unreachable")


def maintain(con: duckdb.DuckDBPyConnection, keep_days: float = 7.0) -> dict[str, int]:
    """DuckLake upkeep: merge the small data files every upload leaves into larger ones, expire the
    snapshots older than ``keep_days`` (time travel back that far stays possible) and delete the files
    no snapshot uses any more. Returns the numbers of files merged, snapshots expired and files deleted."""
    alias = sql_string(ALIAS)
    merged = con.execute(f"SELECT count(*) FROM ducklake_merge_adjacent_files({alias})").fetchone()[0]
    cutoff = dt.datetime.now() - dt.timedelta(days=keep_days)
    expired = con.execute(f"SELECT count(*) FROM ducklake_expire_snapshots({alias}, older_than => CAST(? AS TIMESTAMPTZ))",
                          [cutoff.isoformat()]).fetchone()[0]
    deleted = con.execute(f"SELECT count(*) FROM ducklake_cleanup_old_files({alias}, cleanup_all => true)").fetchone()[0]
    return {"files_merged": int(merged), "snapshots_expired": int(expired), "old_files_deleted": int(deleted)}
