"""The database: where it is, how to open it, its tables.

By default an embedded DuckDB file. DuckDB admits one read-write process per file: the CLI opens it
read-write for the length of one command, the dashboard per request, the ingest worker per file (see
README, "Who writes"). ``--db ducklake:postgres:…`` names a DuckLake database instead
(pipelines.store.lake): the same tables, shared by many processes on many machines.
"""
from __future__ import annotations

import os
import re
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from pipelines.catalog.definitions import catalog
from pipelines.errors import RuralTargetsError
from pipelines.resources import project_dir, sql_dir
from pipelines.store import lake

ENV_VAR = "RURAL_TARGETS_DB"
SQL_DIR = sql_dir()  # pipelines/store/sql, package data in a wheel


def db_target(explicit: str | os.PathLike | None = None) -> str:
    """The database named by ``explicit``, else $RURAL_TARGETS_DB, else settings' default file
    (``data/…``) under the project directory: the checkout, or the current directory for a wheel
    install. A DuckDB file's path, or a ``ducklake:`` URL."""
    if explicit:
        return str(explicit)
    if os.environ.get(ENV_VAR):
        return os.environ[ENV_VAR]
    return str(project_dir() / catalog().settings.database)


def is_lake(explicit: str | os.PathLike | None = None) -> bool:
    """Whether the database named (see ``db_target``) is a DuckLake."""
    return lake.is_lake(db_target(explicit))


def db_path(explicit: str | os.PathLike | None = None) -> Path:
    """The database file (see ``db_target``); for a DuckLake, its data directory."""
    target = db_target(explicit)
    return lake.data_path() if lake.is_lake(target) else Path(target)


def home_dir(explicit: str | os.PathLike | None = None) -> Path:
    """Where the files that go with the database live — the upload archive, the queue, logs, backups:
    beside the DuckDB file, or in the DuckLake's data directory (shared by every machine)."""
    target = db_target(explicit)
    return lake.data_path() if lake.is_lake(target) else Path(target).resolve().parent


def db_label(explicit: str | os.PathLike | None = None) -> str:
    """The database's name for messages: the file's name, or the DuckLake URL without a password."""
    target = db_target(explicit)
    return lake.redact(target) if lake.is_lake(target) else Path(target).name


def sql_file(name: str) -> str:
    """The text of pipelines/store/sql/NAME."""
    return (SQL_DIR / name).read_text(encoding="utf-8")


WRITER_WAITS_S = 20.0   # a writer's flag younger than this holds new readers back (an older one is left over)


def writer_flag(path: Path) -> Path:
    """The file a writer waiting for the lock of the DuckDB file ``path`` keeps beside it."""
    return path.with_name(path.name + ".writer-waiting")


@contextmanager
def writer_waiting(path: str | os.PathLike | None = None) -> Iterator[None]:
    """Say, while the block runs, that a writer waits for the file's lock: new read-only connections
    wait until it has had its turn, so a steady stream of short reads cannot keep it out."""
    target = db_target(path)
    if lake.is_lake(target):            # no file lock in a DuckLake
        yield
        return
    flag = writer_flag(Path(target))
    flag.parent.mkdir(parents=True, exist_ok=True)
    flag.write_text(str(os.getpid()))
    try:
        yield
    finally:
        flag.unlink(missing_ok=True)


def _writer_ahead(path: Path) -> bool:
    try:
        return time.time() - writer_flag(path).stat().st_mtime < WRITER_WAITS_S
    except FileNotFoundError:
        return False


def _open(path: Path, read_only: bool, wait_s: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + wait_s
    while read_only and _writer_ahead(path) and time.monotonic() < deadline:
        time.sleep(0.05)
    while True:
        try:
            return lake.quiet(duckdb.connect(str(path), read_only=read_only))
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() >= deadline:
                if "lock" in str(exc).lower():
                    raise RuralTargetsError("GEN002", name=Path(path).name, db=str(path)) from None
                raise RuralTargetsError("GEN006", name=Path(path).name, db=str(path),
                                        detail=unreadable_reason(str(exc))) from None
        except (duckdb.SerializationException, duckdb.InternalException, duckdb.InvalidInputException) as exc:
            raise RuralTargetsError("GEN006", name=Path(path).name, db=str(path), detail=unreadable_reason(str(exc))) from None
        time.sleep(0.1)


def unreadable_reason(message: str) -> str:
    """What is wrong with a database file, in words a clerk can pass on (no paths)."""
    low = message.lower()
    if "not a valid duckdb database" in low:
        return "不是有效的数据库文件(可能为空或已被其他程序覆盖)"
    if "could not read enough bytes" in low or "truncated" in low:
        return "文件不完整(可能在复制或写入时中断)"
    if "version" in low or "storage" in low:
        return "由更新版本的程序写入,本程序无法读取"
    return "文件已损坏"


def connect(path: str | os.PathLike | None = None, read_only: bool = False,
            wait_s: float = 10.0) -> duckdb.DuckDBPyConnection:
    """Open the database (creating it and its tables when writable), waiting up to ``wait_s``
    for another writer to finish (a DuckDB file; a DuckLake has no such lock)."""
    target = db_target(path)
    if lake.is_lake(target):
        return _lake_cursor(target)
    p = Path(target)
    if read_only and not p.exists():
        read_only = False
    if not read_only:
        p.parent.mkdir(parents=True, exist_ok=True)
    con = _open(p, read_only, wait_s)
    if not read_only:
        ensure_schema(con)
    return con


_LAKES: dict[tuple[str, str], duckdb.DuckDBPyConnection] = {}
_LAKES_LOCK = threading.Lock()


def _lake_cursor(target: str) -> duckdb.DuckDBPyConnection:
    """A connection of its own (a cursor: its own transactions) to the DuckLake ``target``, from the one
    attachment this process keeps (attaching costs about 0.4 s: the extensions and PostgreSQL)."""
    key = (target, str(lake.data_path()))
    with _LAKES_LOCK:
        base = _LAKES.get(key)
        if base is None:
            base = lake.open_lake(target)
            lake.retry_conflicts(lambda: ensure_schema(base))
            _LAKES[key] = base
    cur = lake.quiet(base.cursor())
    cur.execute(f"USE {lake.ALIAS}")
    return cur


SQL_TYPES = {"int": "BIGINT", "number": "DOUBLE", "bool": "BOOLEAN", "date": "DATE",
             "code": "VARCHAR", "text": "VARCHAR", "enum": "VARCHAR"}
# key columns of each sheet's value table; the field columns follow from schemas/fields.yaml
VALUE_KEYS = {
    "village": {"submission_id": "INTEGER", "township_code": "VARCHAR", "period": "VARCHAR",
                "village_code": "VARCHAR", "source_row": "INTEGER"},
    "township": {"submission_id": "INTEGER", "township_code": "VARCHAR", "period": "VARCHAR",
                 "source_row": "INTEGER"},
    "county": {"county_code": "VARCHAR", "year": "INTEGER", "recorded_at": "TIMESTAMP", "recorded_by": "VARCHAR"},
    "task": {"plan": "VARCHAR", "recorded_at": "TIMESTAMP", "recorded_by": "VARCHAR"},
}


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every table that does not exist yet, and a column for every field of the catalog.

    A field added to schemas/fields.yaml becomes a column here on the next start.
    """
    files = sorted(SQL_DIR.glob("schema*.sql"))
    if not files:  # an incomplete install: fail here, not later on a missing table
        raise RuralTargetsError("GEN004", where=str(SQL_DIR))
    in_lake = lake.connection_is_lake(con)
    if _schema_current(con, files, in_lake):
        return
    for name in files:
        text = name.read_text(encoding="utf-8")
        if in_lake:
            creates, migrations = lake.split_migrations(lake.lake_schema_sql(text))
            con.execute(creates)
            for sql in migrations:     # a DuckLake is never older than its columns: only add them
                if sql.upper().startswith("ALTER"):
                    con.execute(sql)
        else:
            con.execute(text)
    if in_lake:       # one row per counter from the start: writers taking ids then update the same row and conflict
        con.execute("CREATE TABLE IF NOT EXISTS id_counters (name VARCHAR NOT NULL, value BIGINT NOT NULL)")
        for name in lake.COUNTERS:
            if not con.execute("SELECT 1 FROM id_counters WHERE name = ?", [name]).fetchall():
                con.execute("INSERT INTO id_counters VALUES (?, 0)", [name])
    for key, keys in VALUE_KEYS.items():
        table = f"{key}_values"
        cols = ", ".join(f"{c} {t}" for c, t in keys.items())
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({cols})")
        have = {r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]).fetchall()}
        for f in catalog().sheets[key].fields:
            if f.id not in have:  # ids are checked against ^[a-z][a-z0-9_]*$ when the catalog loads
                con.execute(f'ALTER TABLE {table} ADD COLUMN "{f.id}" {SQL_TYPES[f.type]}')


_CREATES = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)", re.IGNORECASE)
_ADDS = re.compile(r"ALTER TABLE (\w+) ADD COLUMN IF NOT EXISTS (\w+)", re.IGNORECASE)


def _schema_current(con: duckdb.DuckDBPyConnection, files: list[Path], in_lake: bool) -> bool:
    """Whether every table, added column and field column exists already: then opening the database
    is one catalog query, not every schema statement again (the ingest worker opens it per file)."""
    have = {(t, c) for t, c in con.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_catalog = current_database()"
    ).fetchall()}
    tables = {t for t, _ in have}
    text = "\n".join(f.read_text(encoding="utf-8") for f in files)
    wanted_tables = set(_CREATES.findall(text)) | {f"{key}_values" for key in VALUE_KEYS}
    if in_lake:
        wanted_tables.add("id_counters")
    wanted = {(f"{key}_values", f.id) for key in VALUE_KEYS for f in catalog().sheets[key].fields}
    wanted |= set(_ADDS.findall(text))
    return wanted_tables <= tables and wanted <= have


_BEGUN: set[int] = set()        # connections inside a transaction begun with ``begin``


def begin(con: duckdb.DuckDBPyConnection) -> None:
    """BEGIN a transaction that ``transaction`` blocks inside it join (end it with ``rollback`` or
    ``commit``)."""
    con.execute("BEGIN TRANSACTION")
    _BEGUN.add(id(con))


def commit(con: duckdb.DuckDBPyConnection) -> None:
    """COMMIT the transaction of ``begin``."""
    _BEGUN.discard(id(con))
    con.execute("COMMIT")


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    """ROLLBACK the transaction of ``begin``."""
    _BEGUN.discard(id(con))
    con.execute("ROLLBACK")


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN … COMMIT, rolled back on any exception. Inside a transaction begun with ``begin`` (or
    another ``transaction``) the block runs in it; the outer one commits or rolls back."""
    if id(con) in _BEGUN:
        yield con
        return
    begin(con)
    try:
        yield con
    except BaseException:
        rollback(con)
        raise
    commit(con)


def next_ids(con: duckdb.DuckDBPyConnection, name: str, n: int) -> list[int]:
    """``n`` new ids for ``submission`` or ``audit`` rows: the sequence of a DuckDB file, the counter
    row of a DuckLake (pipelines.store.lake.next_ids)."""
    if n <= 0:
        return []
    if lake.connection_is_lake(con):
        return lake.next_ids(con, name, n)
    return [r[0] for r in con.execute(f"SELECT nextval('{name}_seq') FROM range(?)", [n]).fetchall()]


def replace_rows(con: duckdb.DuckDBPyConnection, table: str, key: str, select_sql: str, params: list | None = None,
                 columns: str = "") -> None:
    """Insert the rows of ``select_sql`` into ``table`` (``columns``: "(a, b, …)" when not all), replacing
    those with the same ``key`` (INSERT OR REPLACE needs a primary key, which a DuckLake has not)."""
    with transaction(con):
        con.execute(f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM ({select_sql}))", params or [])
        con.execute(f"INSERT INTO {table} {columns} {select_sql}", params or [])


@contextmanager
def session(path: str | os.PathLike | None = None, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection closed at the end of the block."""
    con = connect(path, read_only=read_only)
    try:
        yield con
    finally:
        con.close()
