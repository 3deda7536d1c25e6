"""Storing checked returns and reading them back. The original bytes are archived
content-addressed (``archive/ab/<sha256>.xlsx`` beside the database) before anything is
written; then, in one transaction per batch (up to ``BATCH`` files or ``BATCH_SECONDS``), each
file's submission row, its values (one row per village, one for the township), its warnings and
its column map. A return for a township and period that already has one supersedes it (the old
one stays, marked superseded); byte-identical re-uploads are a no-op. A crash leaves the database
as it was before a batch or after it. ``list_submissions``, ``submission_values`` and ``trace``
read stored returns back, down to the file, sheet and cell of every value.
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import duckdb
import pandas as pd

from pipelines.catalog.definitions import SheetSpec, catalog
from pipelines.errors import RuralTargetsError
from pipelines.files import atomic_write
from pipelines.ingest.check import Staged
from pipelines.ingest.read import ReturnFile
from pipelines.jsonable import plain
from pipelines.store.db import next_ids, transaction
from pipelines.store.lake import connection_is_lake, lake_data_path

BATCH = 50                        # files stored per transaction when many are ingested …
BATCH_SECONDS = 1.0               # … or fewer, so that a long run commits at least every second

UploadedAt = dt.datetime | Callable[[str], dt.datetime] | None


@dataclass
class Stored:
    """What storing one staged return did."""

    status: str                   # stored | unchanged | locked (approved meanwhile: not stored)
    submission_id: int
    superseded: int | None = None


# ============================================================================ archive

def archive_dir(con: duckdb.DuckDBPyConnection) -> Path:
    """Where original files are kept: ``archive/`` beside the database file, or in a DuckLake's data
    directory (shared by every machine)."""
    if connection_is_lake(con):
        return lake_data_path(con) / "archive"
    path = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0]
    return Path(path).resolve().parent / "archive"


def _archive(con: duckdb.DuckDBPyConnection, ret: ReturnFile, written: list[Path]) -> str:
    sha = ret.sha256
    rel = Path(sha[:2]) / f"{sha}.{ret.kind}"
    target = archive_dir(con) / rel
    if not target.exists():
        atomic_write(target, ret.data)
        written.append(target)
    return str(rel)


ORPHAN_AGE_S = 600.0     # an archive file younger than this may belong to a store another process has not committed yet


def remove_orphans(con: duckdb.DuckDBPyConnection) -> int:
    """Delete archive files no submission refers to (left by a store that failed or was killed between
    writing the file and committing) and older than ``ORPHAN_AGE_S`` — a younger one may be another
    writer's store in flight (a DuckLake has many); returns how many were removed."""
    root = archive_dir(con)
    if not root.is_dir():
        return 0
    cutoff = time.time() - ORPHAN_AGE_S
    known = {r[0] for r in con.execute("SELECT archive_path FROM submissions").fetchall()}
    removed = 0
    for path in root.glob("*/*"):
        if (path.is_file() and str(path.relative_to(root)) not in known and not path.name.startswith(".")
                and path.stat().st_mtime < cutoff):
            path.unlink()
            removed += 1
    return removed


# ============================================================================ storing

def active_duplicate(con: duckdb.DuckDBPyConnection, township: str, period: str, sha256: str) -> int | None:
    """The id of the active submission of ``township`` and ``period`` with the same bytes, if any."""
    row = con.execute("SELECT id FROM submissions WHERE township_code = ? AND period = ? "
                      "AND status = 'active' AND sha256 = ?", [township, period, sha256]).fetchone()
    return row[0] if row else None


def approved_lock(con: duckdb.DuckDBPyConnection, township: str, period: str, sha256: str) -> int | None:
    """The id of the approved (locked) active submission of ``township`` and ``period`` a new file with
    ``sha256`` would supersede, if any (the same bytes again are not a change)."""
    row = con.execute("SELECT id FROM submissions WHERE township_code = ? AND period = ? AND status = 'active' "
                      "AND review_status = 'approved' AND sha256 <> ?", [township, period, sha256]).fetchone()
    return row[0] if row else None


def store(con: duckdb.DuckDBPyConnection, staged: list[Staged], uploaded_by: str | None = None,
          uploaded_at: UploadedAt = None) -> list[Stored]:
    """Store ``staged`` returns in one transaction, each superseding the active one of its
    township and period; one ``Stored`` per return, in order.

    ``staged`` never holds two returns for the same township and period (``Batch`` flushes
    first). ``uploaded_at`` may be a function of the file name.
    """
    cat = catalog()
    written: list[Path] = []
    archived = [_archive(con, s.ret, written) for s in staged]  # before the transaction: content-addressed
    keys = pd.DataFrame({"township_code": [s.township_code for s in staged], "period": [s.period for s in staged]})
    try:
        return _store(con, cat, staged, archived, keys, uploaded_by, uploaded_at)
    except BaseException:
        for path in written:                      # nothing committed refers to them
            path.unlink(missing_ok=True)
        raise


def _store(con: duckdb.DuckDBPyConnection, cat: Any, staged: list[Staged], archived: list[str], keys: pd.DataFrame,
           uploaded_by: str | None, uploaded_at: UploadedAt) -> list[Stored]:
    with transaction(con):
        con.register("staged_keys", keys)
        rows = con.execute(
            """SELECT s.township_code, s.period, s.id, s.sha256, s.review_status FROM submissions s
               JOIN staged_keys k USING (township_code, period) WHERE s.status = 'active'""").fetchall()
        con.unregister("staged_keys")
        active = {(t, p): (i, sha) for t, p, i, sha, _ in rows}
        locked = {(t, p) for t, p, _, _, review in rows if review == "approved"}
        out: list[Stored | None] = [None] * len(staged)
        new = []
        for i, s in enumerate(staged):
            old = active.get((s.township_code, s.period))
            if old and old[1] == s.ret.sha256:
                out[i] = Stored("unchanged", old[0])
            elif (s.township_code, s.period) in locked:      # approved since the check: still locked
                out[i] = Stored("locked", old[0])
            else:
                new.append(i)
        if new:
            ids = next_ids(con, "submission", len(new))
            _write(con, cat.sheets, [staged[i] for i in new], [archived[i] for i in new], ids, active,
                   uploaded_by, uploaded_at)
            for i, sid in zip(new, ids):
                old = active.get((staged[i].township_code, staged[i].period))
                out[i] = Stored("stored", sid, old[0] if old else None)
    return out


def _write(con: duckdb.DuckDBPyConnection, sheets: dict[str, SheetSpec], staged: list[Staged],
           archived: list[str], ids: list[int], active: dict[tuple[str, str], tuple[int, str]],
           uploaded_by: str | None, uploaded_at: UploadedAt) -> None:
    """The rows of ``staged`` (new submission ``ids``), inside the caller's transaction."""
    now = dt.datetime.now()
    subs, values, problems, columns = [], {"village": [], "township": []}, [], []
    for s, sid, path in zip(staged, ids, archived):
        old = active.get((s.township_code, s.period))
        if old:
            con.execute("UPDATE submissions SET status = 'superseded', superseded_by = ? WHERE id = ?", [sid, old[0]])
        when = uploaded_at(s.ret.name) if callable(uploaded_at) else uploaded_at
        subs.append({"id": sid, "township_code": s.township_code, "period": s.period,
                     "file_name": Path(s.ret.name).name, "file_kind": s.ret.kind, "sha256": s.ret.sha256,
                     "size_bytes": len(s.ret.data), "archive_path": path, "template_version": s.template_version,
                     "uploaded_at": when or now, "uploaded_by": uploaded_by, "status": "active",
                     "review_status": "submitted",
                     "superseded_by": None, "village_rows": len(s.records["village"]),
                     "township_rows": len(s.records["township"]), "warnings": s.warnings})
        for key, recs in s.records.items():
            values[key] += [{**rec, "submission_id": sid, "township_code": s.township_code, "period": s.period}
                            for rec in recs]
        problems += [{"submission_id": sid, **{k: v for k, v in p.as_dict().items() if k != "line"}}
                     for p in s.problems]
        columns += [{"submission_id": sid, "sheet_key": k, "sheet_name": n, "field": f, "column_letter": c,
                     "header": h} for k, n, f, c, h in s.columns]
    _insert(con, "submissions", pd.DataFrame(subs))
    for key, rows in values.items():
        if rows:
            _insert(con, f"{key}_values", _typed(pd.DataFrame(rows), sheets[key]))
    if problems:
        _insert(con, "submission_problems", pd.DataFrame(problems))
    _insert(con, "submission_columns", pd.DataFrame(columns))


class Batch:
    """Staged returns waiting to be stored together: flushed at ``BATCH`` returns, after
    ``BATCH_SECONDS``, before a second return for the same township and period (the earlier must
    be stored before the later supersedes it), and at the end."""

    def __init__(self, con: duckdb.DuckDBPyConnection, uploaded_by: str | None = None,
                 uploaded_at: UploadedAt = None):
        self.con, self.uploaded_by, self.uploaded_at = con, uploaded_by, uploaded_at
        self.pending: list[Staged] = []
        self.last_flush = time.monotonic()

    def add(self, staged: Staged) -> list[tuple[Staged, Stored]]:
        """Queue ``staged``; returns what this call stored (nothing while the batch fills)."""
        done = []
        if any(p.township_code == staged.township_code and p.period == staged.period for p in self.pending):
            done = self.flush()
        self.pending.append(staged)
        if len(self.pending) >= BATCH or time.monotonic() - self.last_flush >= BATCH_SECONDS:
            done += self.flush()
        return done

    def flush(self) -> list[tuple[Staged, Stored]]:
        """Store every queued return in one transaction; returns each with what was done."""
        self.last_flush = time.monotonic()
        if not self.pending:
            return []
        batch, self.pending = self.pending, []
        return list(zip(batch, store(self.con, batch, self.uploaded_by, self.uploaded_at)))


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    con.register("staged_rows", frame)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM staged_rows")
    finally:
        con.unregister("staged_rows")


_PANDAS_TYPES = {"int": "Int64", "number": "Float64", "bool": "boolean", "date": "datetime64[us]"}


def _typed(frame: pd.DataFrame, spec: SheetSpec) -> pd.DataFrame:
    """``frame`` with column dtypes DuckDB maps onto the value tables' types."""
    out = frame.copy()
    for f in spec.fields:
        if f.id not in out:
            continue
        dtype = _PANDAS_TYPES.get(f.type)
        if dtype is None:
            out[f.id] = out[f.id].astype("object").where(out[f.id].notna(), None)
        elif f.type == "date":
            out[f.id] = pd.to_datetime(out[f.id], errors="coerce").astype(dtype)
        else:
            out[f.id] = out[f.id].astype("object").where(out[f.id].notna(), None).astype(dtype)
    return out


# ============================================================================ reading back

def list_submissions(con: duckdb.DuckDBPyConnection, township: str | None = None, period: str | None = None,
                     include_superseded: bool = False) -> list[dict[str, Any]]:
    """Stored submissions (active only unless ``include_superseded``), newest first."""
    rows = con.execute(
        """SELECT s.id, s.township_code, u.name AS township_name, s.period, s.file_name, s.file_kind, s.sha256,
                  s.size_bytes, s.uploaded_at, s.uploaded_by, s.status, s.superseded_by, s.village_rows,
                  s.township_rows, s.warnings, s.archive_path, s.review_status, s.reviewed_by, s.reviewed_at,
                  s.review_comment
           FROM submissions s LEFT JOIN units u ON u.code = s.township_code
           WHERE (CAST(? AS VARCHAR) IS NULL OR s.township_code = ?)
             AND (CAST(? AS VARCHAR) IS NULL OR s.period = ?)
             AND (? OR s.status = 'active')
           ORDER BY s.period DESC, s.township_code, s.id DESC""",
        [township, township, period, period, include_superseded]).df()
    return rows.to_dict("records")


def submission_values(con: duckdb.DuckDBPyConnection, township: str, period: str,
                      submission_id: int | None = None) -> dict[str, Any]:
    """The stored values of the active (or given) submission: village rows and the township row."""
    if submission_id is None:
        row = con.execute("SELECT id FROM submissions WHERE township_code = ? AND period = ? AND status = 'active'",
                          [township, period]).fetchone()
        if row is None:
            raise RuralTargetsError("ING051", detail=f"{township} {period}")
        submission_id = row[0]
    sub = con.execute("SELECT * FROM submissions WHERE id = ?", [submission_id]).df().to_dict("records")[0]
    village = con.execute("SELECT * FROM village_values WHERE submission_id = ? ORDER BY village_code",
                          [submission_id]).df()
    township_row = con.execute("SELECT * FROM township_values WHERE submission_id = ?", [submission_id]).df()
    columns = con.execute("SELECT sheet_key, sheet_name, field, column_letter FROM submission_columns "
                          "WHERE submission_id = ?", [submission_id]).fetchall()
    return {"submission": sub, "villages": village, "township": township_row,
            "columns": {(k, f): (s, letter) for k, s, f, letter in columns}}


def trace(values: dict[str, Any]) -> list[dict[str, Any]]:
    """Every stored value with the file, sheet and cell it came from."""
    sub = values["submission"]
    out = []
    for key, frame, id_col in (("village", values["villages"], "village_code"),
                               ("township", values["township"], "township_code")):
        for rec in frame.to_dict("records"):
            for fid, value in rec.items():
                where = values["columns"].get((key, fid))
                if where is None:
                    continue
                out.append({"unit_code": rec[id_col], "field": fid, "value": plain(value),
                            "file": sub["file_name"], "archive": sub["archive_path"], "sheet": where[0],
                            "cell": f"{where[0]}!{where[1]}{rec['source_row']}"})
    return out
