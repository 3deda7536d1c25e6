"""The ingest worker (``rural-targets worker``): takes jobs from the upload queue in arrival order,
checks and stores each file as its uploader, and refreshes the stored progress tables for what the
files touched — once the queue is empty, or while files keep coming every ``REFRESH_EVERY_S`` (or three
times as long as a refresh takes, whichever is longer).

With a DuckDB file exactly one worker runs (an exclusive lock on ``queue/worker.lock``); it parses a
batch of queued files first, holding nothing, then checks and stores them in openings of the database
of about a second (``HOLD_S``), so the dashboard's short reads and sign-ins get their turn in between. With a DuckLake several workers may run, on several
machines: a job goes to whichever renames it first, and a write that meets another worker's commit
is retried (pipelines.store.lake.retry_conflicts).
"""
from __future__ import annotations

import datetime as dt
import fcntl
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable

from pipelines.access.accounts import get_user
from pipelines.access.roles import User, local_admin
from pipelines.compute.refresh import refresh_touched
from pipelines.errors import Problem, RuralTargetsError
from pipelines.ingest.pipeline import FileReport, ingest_uploads, read_files
from pipelines.ingest.queue import (
    HEARTBEAT_S,
    Job,
    UploadQueue,
    file_report,
    queue_dir,
    report_dict,
    worker_name,
)
from pipelines.ingest.store import remove_orphans
from pipelines.store import lake
from pipelines.store.db import connect, home_dir, is_lake, writer_waiting

BATCH = 10            # files stored per opening of the database at most (readers wait at most that long)
IDLE_S = 0.2          # how often an idle worker looks at the queue
HOLD_S = 1.0          # a DuckDB-file worker stores files for this long per opening of the file …
YIELD_S = 0.05        # … then pauses: readers waiting on the lock get in
REFRESH_EVERY_S = 5.0   # while files keep coming, the progress tables are refreshed this often at most (or
                        # three times as long as the last refresh took)


def user_record(user: User, local: bool = False) -> dict[str, Any]:
    """How a job names its uploader (``local``: the command line's administrator, not an account)."""
    return {"name": user.name, "role": user.role, "unit": user.unit, "display_name": user.display_name,
            "local": local}


def _actor(con: Any, user: dict[str, Any]) -> User:
    """The uploader as the worker acts for it: the account as it is now (AUTH002 when disabled since)."""
    if user.get("local"):
        return local_admin(user.get("display_name") or user["name"])
    return get_user(con, user["name"])


def queue_for(db: str | os.PathLike | None = None) -> UploadQueue:
    """The upload queue of the database ``db`` (default: the configured one)."""
    return UploadQueue(queue_dir(home_dir(db)))


class _Heartbeat:
    """Touches the worker's heartbeat file every ``HEARTBEAT_S`` in a thread, until stopped."""

    def __init__(self, queue: UploadQueue, name: str) -> None:
        self.queue, self.name, self.stop = queue, name, threading.Event()
        self.queue.beat(name)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(HEARTBEAT_S):
            try:
                self.queue.beat(self.name)
            except OSError:
                pass

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.queue.leave(self.name)


def _single_worker_lock(queue: UploadQueue) -> Any:
    """The lock that keeps a second worker of a DuckDB file from starting (ING070 if one runs)."""
    queue.root.mkdir(parents=True, exist_ok=True)
    handle = open(queue.root / "worker.lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise RuralTargetsError("ING070", where=str(queue.root)) from None
    return handle


def run(db: str | os.PathLike | None = None, *, once: bool = False, parent: int | None = None,
        stop: threading.Event | None = None, say: Callable[[str], None] | None = None) -> dict[str, int]:
    """Work the queue until stopped (``once``: until it is empty; ``parent``: while that process lives).
    Returns counts of what was done."""
    say = say or (lambda text: None)
    stop = stop or threading.Event()
    queue = queue_for(db)
    lock = None if is_lake(db) else _single_worker_lock(queue)
    name = worker_name()
    counts = {"stored": 0, "unchanged": 0, "rejected": 0, "recovered": queue.recover()}
    if counts["recovered"]:
        say(f"上次中断时正在处理的 {counts['recovered']} 个文件已重新排队")
    beat = _Heartbeat(queue, name)
    touched: set[tuple[str, str]] = set()
    last_refresh, every = time.monotonic(), REFRESH_EVERY_S
    try:
        try:
            con = _connect(db, stop)
            try:        # archive files a store killed with the previous worker left behind
                counts["orphans_removed"] = remove_orphans(con)
            finally:
                con.close()
        except _Stopped:
            return counts
        while not stop.is_set():
            if parent and not _parent_alive(parent):
                break
            jobs = queue.claim(name, BATCH)
            if not jobs and not touched:
                if once:
                    break
                time.sleep(IDLE_S)
                continue
            try:
                for job, report in work(db, queue, jobs, stop):
                    counts[report.status] = counts.get(report.status, 0) + 1
                    say(report.summary_zh)
                    if report.status == "stored" and report.township_code and report.period:
                        touched.add((report.township_code, report.period))
                if touched and (not queue.waiting() or time.monotonic() - last_refresh >= every):
                    with queue.refresh_turn() as mine:      # workers of a DuckLake refresh one at a time
                        if mine:
                            started = time.monotonic()
                            con = _connect(db, stop)
                            try:
                                lake.retry_conflicts(lambda: refresh_touched(con, touched))
                            finally:
                                con.close()
                            touched.clear()
                            last_refresh = time.monotonic()
                            # refreshing takes at most a quarter of the worker's time while files keep coming
                            every = max(REFRESH_EVERY_S, 3 * (last_refresh - started))
            except _Stopped:
                break
            if not jobs:                # waiting for the refresh to fall due, or for another worker's turn
                time.sleep(IDLE_S)
    finally:
        beat.close()
        if lock is not None:
            lock.close()
    return counts


class _Stopped(Exception):
    """The worker was told to stop while it waited for the database."""


def _connect(db: str | os.PathLike | None, stop: threading.Event) -> Any:
    """The database, read-write, waiting as long as it takes (readers let the waiting worker in first:
    ``writer_waiting``), but not past a stop."""
    with writer_waiting(db):
        while True:
            try:
                return connect(db, wait_s=5)
            except RuralTargetsError as exc:
                if exc.code != "GEN002":
                    raise
                if stop.is_set():
                    raise _Stopped from None


def work(db: str | os.PathLike | None, queue: UploadQueue, jobs: list[Job],
         stop: threading.Event) -> list[tuple[Job, FileReport]]:
    """Check and store claimed ``jobs``, in order: every file is parsed first (in the isolated reader,
    holding no connection), then each is checked and stored — a DuckDB file's lock is held for about
    ``HOLD_S`` at a time — and its report written at once."""
    parsed = read_files([(j.file_name, _original(queue, j)) for j in jobs])
    done = []
    con, opened = None, 0.0
    try:
        for job, (_, data) in zip(jobs, parsed):
            if con is None:
                con, opened = _connect(db, stop), time.monotonic()
            report = _store_one(con, job, data)
            queue.finish(job, report_dict(report))
            done.append((job, report))
            if not is_lake(db) and time.monotonic() - opened >= HOLD_S:
                con.close()                  # readers waiting on the DuckDB file's lock get their turn
                con = None
                time.sleep(YIELD_S)
    finally:
        if con is not None:
            con.close()
    return done


def _original(queue: UploadQueue, job: Job) -> bytes | None:
    try:
        return queue.file_path(job).read_bytes()
    except FileNotFoundError:
        return None


def _store_one(con: Any, job: Job, data: Any) -> FileReport:
    """One claimed file (parsed, or what kept it from being read) checked and stored as its uploader."""
    try:
        actor = _actor(con, job.user)
    except RuralTargetsError as exc:
        return FileReport(job.file_name, problems=[Problem(exc.code, exc.context)])
    arrived = dt.datetime.fromisoformat(job.submitted_at)
    try:
        reports = lake.retry_conflicts(lambda: ingest_uploads(con, [(job.file_name, data)], actor=actor,
                                                             uploaded_at=arrived, client=job.client, tidy=False))
    except RuralTargetsError as exc:      # refused as a whole (the uploader may no longer upload)
        return FileReport(job.file_name, problems=[Problem(exc.code, exc.context)])
    return reports[0]


def _parent_alive(pid: int) -> bool:
    return os.getppid() == pid


def submit_and_wait(db: str | os.PathLike | None, paths: list[Path], user: User, local: bool, client: str,
                    timeout_s: float = 3600.0) -> list[FileReport]:
    """The CLI's ``ingest`` while a worker runs: queue the files and wait for their reports."""
    queue = queue_for(db)
    missing = [FileReport(p.name, problems=[Problem("GEN001", {"file": str(p)})]) for p in paths if not p.is_file()]
    jobs = queue.submit([(p.name, p.read_bytes()) for p in paths if p.is_file()], user_record(user, local), client)
    done = {j.id: j for j in queue.wait([j.id for j in jobs], timeout_s)}
    reports = []
    for job in jobs:
        final = done.get(job.id)
        if final is None or final.state != "done":
            reports.append(FileReport(job.file_name, status="queued"))
        else:
            reports.append(file_report(final.report or {}))
    return missing + reports
