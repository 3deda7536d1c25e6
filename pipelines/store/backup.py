"""Consistent copies of the database (``rural-targets backup``) and putting one back (``restore``).

A backup is taken through DuckDB (``COPY FROM DATABASE``) from a read-only attachment, so it is
consistent while the dashboard reads and never blocks it for longer than the copy. A restore first
checks that the file opens as a database of this product (GEN006 otherwise), keeps the current
database beside it as ``<name>.before-restore-<time>`` and then moves the restored copy into place in
one rename. The upload archive (``archive/`` beside the database, content-addressed, never changed
once written) is not part of the database: copy it as files (rsync) beside the backups.

A DuckLake is backed up the same way, into one DuckDB file (a snapshot of every table). Restoring into
a DuckLake replaces its base tables by the backup's in one transaction — the state before stays
reachable as the previous DuckLake snapshot — and recomputes the progress tables.
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import duckdb

from pipelines.errors import RuralTargetsError
from pipelines.compute.refresh import refresh
from pipelines.store import lake
from pipelines.store.db import connect, db_path, ensure_schema, home_dir, is_lake, transaction, unreadable_reason

# tables rebuilt from the others (pipelines.compute.refresh), not restored into a DuckLake
_DERIVED = ("progress_", "indicator_", "_rt_")


def backup(target: Path | None = None, source: str | os.PathLike | None = None) -> Path:
    """Copy the database ``source`` (default: the configured one) to ``target`` (default:
    ``backups/<name>-<time>.duckdb`` beside it); returns the path written."""
    if is_lake(source):
        return _backup_lake(target, source)
    src = db_path(source)
    if not src.is_file():
        raise RuralTargetsError("GEN001", file=src.name)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    target = Path(target) if target else src.parent / "backups" / f"{src.stem}-{stamp}.duckdb"
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    con = duckdb.connect()
    try:
        try:
            con.execute(f"ATTACH {lake.sql_string(src)} AS src (READ_ONLY)")
        except duckdb.Error as exc:
            raise RuralTargetsError("GEN006", name=src.name, db=str(src), detail=unreadable_reason(str(exc))) from None
        con.execute(f"ATTACH {lake.sql_string(partial)} AS dst")
        con.execute("COPY FROM DATABASE src TO dst")
        con.execute("DETACH dst")
    finally:
        con.close()
    os.replace(partial, target)
    return target


def restore(source: Path, target: str | os.PathLike | None = None) -> dict[str, str]:
    """Put the backup ``source`` in place of the database ``target`` (default: the configured one);
    the database replaced is kept beside it. Returns the paths involved."""
    source = _checked_backup(Path(source))
    if is_lake(target):
        return _restore_lake(source, target)
    dst = db_path(target)
    dst.parent.mkdir(parents=True, exist_ok=True)
    staged = dst.with_name(dst.name + ".restoring")
    shutil.copyfile(source, staged)
    kept = None
    if dst.exists():
        kept = dst.with_name(f"{dst.name}.before-restore-{dt.datetime.now():%Y%m%d-%H%M%S}")
        shutil.copyfile(dst, kept)
    os.replace(staged, dst)
    return {"restored": str(dst), "from": str(source), "kept": str(kept) if kept else ""}


def _checked_backup(source: Path) -> Path:
    """``source`` if it opens as a database of this product (GEN001, GEN006 otherwise)."""
    if not source.is_file():
        raise RuralTargetsError("GEN001", file=source.name)
    try:
        con = duckdb.connect(str(source), read_only=True)
        has = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        con.close()
    except duckdb.Error as exc:
        raise RuralTargetsError("GEN006", name=source.name, db=str(source), detail=unreadable_reason(str(exc))) from None
    if not {"units", "submissions"} <= has:
        raise RuralTargetsError("GEN006", name=source.name, db=str(source), detail="不是本程序的数据库(没有区划和报送表)")
    return source


def _backup_lake(target: Path | None, source: str | os.PathLike | None) -> Path:
    """A DuckLake's current snapshot into one DuckDB file."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    target = Path(target) if target else home_dir(source) / "backups" / f"ducklake-{stamp}.duckdb"
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    con = connect(source, read_only=True)
    try:
        con.execute(f"ATTACH {lake.sql_string(partial)} AS dst")
        con.execute(f"COPY FROM DATABASE {lake.ALIAS} TO dst")
        con.execute("DETACH dst")
    finally:
        con.close()
    os.replace(partial, target)
    return target


def _restore_lake(source: Path, target: str | os.PathLike | None) -> dict[str, str]:
    """The base tables of the backup ``source`` in place of a DuckLake's, in one transaction; then the
    progress tables recomputed."""
    con = connect(target)
    try:
        before = con.execute(f"SELECT max(snapshot_id) FROM ducklake_snapshots({lake.sql_string(lake.ALIAS)})").fetchone()[0]
        con.execute(f"ATTACH {lake.sql_string(source)} AS src (READ_ONLY)")
        tables = [t for (t,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'src' AND schema_name = 'main'").fetchall()
            if not t.startswith(_DERIVED)]
        with transaction(con):
            for name in tables:
                con.execute(f'DROP TABLE IF EXISTS {lake.ALIAS}.main."{name}"')
                con.execute(f'CREATE TABLE {lake.ALIAS}.main."{name}" AS SELECT * FROM src.main."{name}"')
        con.execute("DETACH src")
        ensure_schema(con)
        refresh(con)
    finally:
        con.close()
    return {"restored": lake.redact(str(target or "")), "from": str(source),
            "kept": f"DuckLake 快照 {before}(恢复前的状态)"}
