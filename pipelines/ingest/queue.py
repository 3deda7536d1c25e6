"""The upload queue: an upload is accepted at once, stored later by the ingest worker, never bounced.

A job is a JSON file that moves between three folders of ``queue/`` (beside the DuckDB file, or in
the DuckLake's shared data directory), each move one atomic rename:

    queued/<id>.json    排队中   the original file saved first under files/<id>/, then the job written
    checking/<id>.json  检查中   claimed by a worker (renamed: of two workers racing for it, one wins)
    done/<id>.json      已导入 / 有错误   with the file's report (pipelines.ingest.pipeline.FileReport)

Ids sort in arrival order (nanoseconds since 1970, then random digits), so the worker stores files in
the order they came. A worker that dies leaves its job in checking/: the next worker to start on the
same machine puts it back in queued/ (``recover``); storing a file twice is harmless (the second time
it is "unchanged"). Workers announce themselves with a heartbeat file in workers/, which is how the
CLI and the dashboard know one is running.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from pipelines.errors import Problem
from pipelines.files import atomic_write
from pipelines.ingest.pipeline import FileReport

STATES = ("queued", "checking", "done")
STATE_ZH = {"queued": "排队中", "checking": "检查中", "stored": "已导入", "unchanged": "已导入(与已有报送相同)",
            "rejected": "有错误"}
HEARTBEAT_S = 2.0          # a worker touches its heartbeat file this often …
ALIVE_S = 15.0             # … and counts as running while the file is younger than this
STALE_CLAIM_S = 1800.0     # a job claimed by a worker on another machine that has been silent this long is retried
REFRESH_TURN_S = 600.0     # a refresh turn older than this was left by a worker that died


@dataclass
class Job:
    """One uploaded file on its way into the database."""

    id: str
    file_name: str
    size: int
    user: dict[str, Any]                  # the uploader: name, role, unit, display_name, local (not an account)
    client: str | None
    submitted_at: str                     # ISO time of the upload: the file's arrival (its lateness counts from it)
    state: str = "queued"
    worker: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    report: dict[str, Any] | None = None  # FileReport.as_dict() plus its problems' contexts

    @property
    def outcome(self) -> str:
        """queued | checking | stored | unchanged | rejected."""
        if self.state != "done":
            return self.state
        return (self.report or {}).get("status", "rejected")

    @property
    def outcome_zh(self) -> str:
        """The state in the clerk's words."""
        return STATE_ZH.get(self.outcome, self.outcome)

    def as_dict(self) -> dict[str, Any]:
        """The job as plain values (its JSON file, the CLI's --json)."""
        return {k: v for k, v in self.__dict__.items()}


def queue_dir(home: Path) -> Path:
    """The queue's folder inside the database's home folder (pipelines.store.db.home_dir)."""
    return Path(home) / "queue"


def new_id() -> str:
    """A job id that sorts in arrival order."""
    return f"{time.time_ns():020d}-{secrets.token_hex(3)}"


def worker_name() -> str:
    """This process as a worker: host and pid."""
    return f"{socket.gethostname()}-{os.getpid()}"


class UploadQueue:
    """The queue in ``root`` (create it with ``queue_dir``)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def _dir(self, state: str) -> Path:
        path = self.root / state
        path.mkdir(parents=True, exist_ok=True)
        return path

    def file_path(self, job: Job) -> Path:
        """Where the original of ``job`` is kept."""
        return self.root / "files" / job.id / Path(job.file_name).name

    # ------------------------------------------------------------ the uploader's side

    def submit(self, files: Iterable[tuple[str, bytes]], user: dict[str, Any], client: str | None = None) -> list[Job]:
        """Accept ``files`` (name, bytes) from ``user``: each original saved, then its job queued."""
        jobs = []
        for name, data in files:
            job = Job(new_id(), Path(name).name, len(data), user, client,
                      dt.datetime.now().isoformat(timespec="microseconds"))
            atomic_write(self.file_path(job), data)
            self._write("queued", job)
            jobs.append(job)
        return jobs

    def get(self, job_id: str) -> Job | None:
        """The job ``job_id`` in its current state (None if unknown)."""
        for _ in range(3):              # a job moving between two folders is looked for again
            for state in ("done", "checking", "queued"):
                path = self._find(state, job_id)
                if path is not None:
                    job = self._read(path)
                    if job is not None:
                        return job
        return None

    def _find(self, state: str, job_id: str) -> Path | None:
        folder = self.root / state
        exact = folder / f"{job_id}.json"
        if exact.exists():
            return exact
        if state == "checking" and folder.is_dir():
            for path in folder.glob(f"{job_id}.*.json"):
                return path
        return None

    def wait(self, job_ids: list[str], timeout_s: float = 600.0, poll_s: float = 0.2) -> list[Job]:
        """The jobs once all are done (or as they are when ``timeout_s`` has passed)."""
        deadline = time.monotonic() + timeout_s
        while True:
            jobs = [self.get(j) for j in job_ids]
            if all(j is not None and j.state == "done" for j in jobs) or time.monotonic() > deadline:
                return [j for j in jobs if j is not None]
            time.sleep(poll_s)

    def waiting(self) -> int:
        """How many jobs wait to be claimed."""
        folder = self.root / "queued"
        return sum(1 for _ in folder.glob("*.json")) if folder.is_dir() else 0

    def pending(self) -> int:
        """How many jobs wait or are being checked."""
        return sum(1 for s in ("queued", "checking") for _ in (self.root / s).glob("*.json")) \
            if self.root.is_dir() else 0

    def recent(self, user: str | None = None, limit: int = 50) -> list[Job]:
        """The latest jobs (of ``user``), newest first."""
        paths = []
        for state in STATES:
            folder = self.root / state
            if folder.is_dir():
                paths += list(folder.glob("*.json"))
        paths.sort(key=lambda p: p.name.split(".")[0], reverse=True)
        out = []
        for path in paths:
            job = self._read(path)
            if job is not None and (user is None or job.user.get("name") == user):
                out.append(job)
                if len(out) >= limit:
                    break
        return out

    # ------------------------------------------------------------ the worker's side

    def claim(self, worker: str, limit: int = 50) -> list[Job]:
        """Take up to ``limit`` queued jobs, oldest first (a job another worker took first is skipped)."""
        taken = []
        for path in sorted(self._dir("queued").glob("*.json")):
            job_id = path.stem
            target = self._dir("checking") / f"{job_id}.{worker}.json"
            try:
                os.rename(path, target)
            except FileNotFoundError:
                continue
            job = self._read(target)
            if job is None:
                continue
            job.state, job.worker = "checking", worker
            job.started_at = dt.datetime.now().isoformat(timespec="microseconds")
            atomic_write(target, _dumps(job))
            taken.append(job)
            if len(taken) >= limit:
                break
        return taken

    def finish(self, job: Job, report: dict[str, Any]) -> Job:
        """Record ``job``'s report and move it to done/."""
        job.state, job.report = "done", report
        job.finished_at = dt.datetime.now().isoformat(timespec="microseconds")
        self._write("done", job)
        for path in (self.root / "checking").glob(f"{job.id}.*.json"):
            path.unlink(missing_ok=True)
        return job

    def recover(self, host: str | None = None) -> int:
        """Put back in queued/ the jobs of workers on this machine that are gone, and jobs of other
        machines claimed longer ago than ``STALE_CLAIM_S``; how many."""
        host = host or socket.gethostname()
        moved = 0
        for path in sorted(self._dir("checking").glob("*.json")):
            job_id, _, owner = path.stem.partition(".")
            owner_host, _, pid = owner.rpartition("-")
            mine = owner_host == host
            dead = mine and pid.isdigit() and not _alive(int(pid))
            stale = not mine and time.time() - path.stat().st_mtime > STALE_CLAIM_S
            if not (dead or stale):
                continue
            if (self.root / "done" / f"{job_id}.json").exists():
                path.unlink(missing_ok=True)
                continue
            job = self._read(path)
            if job is None:
                continue
            job.state, job.worker, job.started_at = "queued", None, None
            atomic_write(self._dir("queued") / f"{job_id}.json", _dumps(job))
            path.unlink(missing_ok=True)
            moved += 1
        return moved

    @contextmanager
    def refresh_turn(self) -> Iterator[bool]:
        """Whether this worker may refresh the progress tables now: not while another does (two
        refreshes of one scope at once would only conflict); a turn held longer than ``REFRESH_TURN_S``
        was left by a worker that died."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / "refreshing"
        try:
            if time.time() - path.stat().st_mtime > REFRESH_TURN_S:
                path.unlink(missing_ok=True)
        except FileNotFoundError:
            pass
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            yield False
            return
        os.close(fd)
        try:
            yield True
        finally:
            path.unlink(missing_ok=True)

    def beat(self, worker: str) -> None:
        """Say that ``worker`` is alive."""
        atomic_write(self._dir("workers") / worker, dt.datetime.now().isoformat().encode())

    def leave(self, worker: str) -> None:
        """Say that ``worker`` has stopped."""
        (self.root / "workers" / worker).unlink(missing_ok=True)

    def workers(self) -> list[str]:
        """The workers alive (a heartbeat younger than ``ALIVE_S``; on this machine, a live process)."""
        folder = self.root / "workers"
        if not folder.is_dir():
            return []
        out = []
        host = socket.gethostname()
        for path in folder.iterdir():
            try:
                young = time.time() - path.stat().st_mtime < ALIVE_S
            except FileNotFoundError:
                continue
            owner_host, _, pid = path.name.rpartition("-")
            if young and (owner_host != host or (pid.isdigit() and _alive(int(pid)))):
                out.append(path.name)
        return sorted(out)

    # ------------------------------------------------------------ files

    def _write(self, state: str, job: Job) -> None:
        atomic_write(self._dir(state) / f"{job.id}.json", _dumps(job))

    @staticmethod
    def _read(path: Path) -> Job | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return Job(**data)


def _dumps(job: Job) -> bytes:
    return json.dumps(job.as_dict(), ensure_ascii=False, default=str).encode("utf-8")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def report_dict(report: Any) -> dict[str, Any]:
    """A FileReport as the job keeps it: ``as_dict`` and each problem's context, so that it can be
    turned back into a report (``file_report``) with the same messages."""
    out = report.as_dict()
    out["problems"] = [{**p.as_dict(), "context": p.context} for p in report.problems]
    return out


def file_report(data: dict[str, Any]) -> FileReport:
    """The FileReport a job's report describes."""
    problems = [Problem(p["code"], p.get("context") or {}, sheet=p.get("sheet"), cell=p.get("cell"),
                        field=p.get("field"), value=p.get("value"), line=p.get("line"))
                for p in data.get("problems", [])]
    return FileReport(data["file"], status=data.get("status", "rejected"), submission_id=data.get("submission_id"),
                      township_code=data.get("township"), township_name=data.get("township_name"),
                      period=data.get("period"), village_rows=data.get("village_rows") or 0,
                      superseded=data.get("superseded"), problems=problems)
