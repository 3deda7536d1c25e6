"""The embedded DuckDB database: where it is, how to open it, its tables.

DuckDB admits one read-write process per file. The CLI opens the file read-write for the
length of one command; the dashboard opens it per request (see README, "Who writes").
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from pipelines.catalog.definitions import catalog
from pipelines.errors import RuralTargetsError
from pipelines.resources import project_dir, sql_dir

ENV_VAR = "RURAL_TARGETS_DB"
SQL_DIR = sql_dir()  # pipelines/store/sql, package data in a wheel


def db_path(explicit: str | os.PathLike | None = None) -> Path:
    """The database path: ``explicit``, else $RURAL_TARGETS_DB, else settings' default (``data/…``)
    under the project directory: the checkout, or the current directory for a wheel install."""
    if explicit:
        return Path(explicit)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    return project_dir() / catalog().settings.database


def sql_file(name: str) -> str:
    """The text of pipelines/store/sql/NAME."""
    return (SQL_DIR / name).read_text(encoding="utf-8")


def _open(path: Path, read_only: bool, wait_s: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() >= deadline:
                if "lock" in str(exc).lower():
                    raise RuralTargetsError("GEN002", name=Path(path).name, db=str(path)) from None
                raise RuralTargetsError("GEN006", name=Path(path).name, db=str(path),
                                        detail=unreadable_reason(str(exc))) from None
        except (duckdb.SerializationException, duckdb.InternalException, duckdb.InvalidInputException) as exc:
            raise RuralTargetsError("GEN006", name=Path(path).name, db=str(path), detail=unreadable_reason(str(exc))) from None
            time.sleep(0.2)


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
    for another writer to finish."""
    p = db_path(path)
    if read_only and not p.exists():
        read_only = False
    if not read_only:
        p.parent.mkdir(parents=True, exist_ok=True)
    con = _open(p, read_only, wait_s)
    if not read_only:
        ensure_schema(con)
    return con


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
    for name in files:
        con.execute(name.read_text(encoding="utf-8"))
    for key, keys in VALUE_KEYS.items():
        table = f"{key}_values"
        cols = ", ".join(f"{c} {t}" for c, t in keys.items())
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({cols})")
        have = {r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]).fetchall()}
        for f in catalog().sheets[key].fields:
            if f.id not in have:  # ids are checked against ^[a-z][a-z0-9_]*$ when the catalog loads
                con.execute(f'ALTER TABLE {table} ADD COLUMN "{f.id}" {SQL_TYPES[f.type]}')


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


@contextmanager
def session(path: str | os.PathLike | None = None, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection closed at the end of the block."""
    con = connect(path, read_only=read_only)
    try:
        yield con
    finally:
        con.close()
