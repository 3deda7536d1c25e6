"""Ingest township returns: the road a file travels, read → locate → normalise → check → store.

``ingest_paths`` (the CLI) and ``ingest_uploads`` (the dashboard) take files, check every cell
(``check``, which uses ``locate`` and ``normalise``), and store each file that has no error as a
submission (``store``), superseding the earlier one for the same township and period. Every
problem of a file is reported at once in its ``FileReport``, each with its code, sheet, cell and
field. A file with any error stores nothing; a crash leaves the database as it was before a
file or after it, never in between.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import duckdb

from pipelines.access import audit
from pipelines.access.roles import User, allowed, require
from pipelines.catalog.definitions import catalog
from pipelines.errors import Problem, RuralTargetsError
from pipelines.ingest.check import History, Staged, Units, check_return
from pipelines.ingest.read import ReturnFile
from pipelines.ingest.worker import IsolatedReader, isolated_reader, read_isolated
from pipelines.periods import period_label
from pipelines.ingest.store import Batch, Stored, UploadedAt, active_duplicate, approved_lock, remove_orphans


@dataclass
class FileReport:
    """What happened to one file."""

    file: str
    status: str = "rejected"        # stored | rejected | unchanged | valid (dry run)
    submission_id: int | None = None
    township_code: str | None = None
    township_name: str | None = None
    period: str | None = None
    village_rows: int = 0
    superseded: int | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        """The problems that keep the file from being stored."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """The problems stored with the file, for the clerk to look at."""
        return [p for p in self.problems if p.severity == "warning"]

    def as_dict(self) -> dict[str, Any]:
        """The report as plain values (the CLI's --json)."""
        return {"file": self.file, "status": self.status, "submission_id": self.submission_id,
                "township": self.township_code, "township_name": self.township_name, "period": self.period,
                "village_rows": self.village_rows, "superseded": self.superseded,
                "errors": len(self.errors), "warnings": len(self.warnings),
                "problems": [p.as_dict() for p in self.problems]}

    @property
    def summary_zh(self) -> str:
        """One line for the clerk."""
        who = f"{self.township_name or self.township_code or ''} {self.period or ''}".strip()
        if self.status == "stored":
            extra = f",替换了第 {self.superseded} 号报送" if self.superseded else ""
            return f"{self.file}:已导入({who},{self.village_rows} 个村,{len(self.warnings)} 条提示{extra})"
        if self.status == "unchanged":
            return f"{self.file}:与已导入的第 {self.submission_id} 号报送完全相同,未重复导入"
        if self.status == "valid":
            return f"{self.file}:检查通过({who},{self.village_rows} 个村,{len(self.warnings)} 条提示),尚未导入"
        return f"{self.file}:未导入,有 {len(self.errors)} 处错误需要修改"

    def record(self, outcome: Stored) -> None:
        """Take over what storing the file did."""
        self.status, self.submission_id, self.superseded = outcome.status, outcome.submission_id, outcome.superseded


Readable = bytes | ReturnFile | RuralTargetsError      # a file's bytes, or what reading them gave


def read_files(files: Iterable[tuple[str, bytes | None]]) -> list[tuple[str, Readable | None]]:
    """Read uploaded files (in the worker process, within the limits) before any database connection is
    taken: the dashboard's dry run holds no connection and no lock while parsing. Each item is the file
    read, or the problem that kept it from being read."""
    out: list[tuple[str, Readable | None]] = []
    with isolated_reader(catalog().settings.limits) as read:
        for name, data in files:
            if data is None:
                out.append((name, None))
                continue
            try:
                out.append((name, read(name, data)))
            except RuralTargetsError as exc:
                out.append((name, exc))
    return out


def check_file(con: duckdb.DuckDBPyConnection, name: str, data: Readable, units: Units | None = None,
               history: History | None = None, read: Callable[[str, bytes], ReturnFile] | None = None
               ) -> tuple[FileReport, Staged | None]:
    """Read (unless ``data`` was read already, ``read_files``) and check one file without storing
    anything; its report, and what to store if it has no error."""
    report = FileReport(Path(name).name)
    try:
        if isinstance(data, RuralTargetsError):
            raise data
        if isinstance(data, ReturnFile):
            ret = data
        else:
            ret = (read or (lambda n, d: read_isolated(n, d, catalog().settings.limits)))(name, data)
    except RuralTargetsError as exc:  # the file itself cannot be read
        report.problems.append(Problem(exc.code, exc.context))
        return report, None
    checked = check_return(catalog(), ret, units or Units(con), history or History(con))
    report.problems = checked.problems
    report.township_code, report.township_name = checked.township_code, checked.township_name
    report.period, report.village_rows = checked.period, checked.village_rows
    return report, checked.staged


def ingest_uploads(con: duckdb.DuckDBPyConnection, files: Iterable[tuple[str, Readable | None]], dry_run: bool = False,
                   *, actor: User, uploaded_at: UploadedAt = None, client: str | None = None,
                   progress: Callable[[int, int, FileReport], None] | None = None,
                   reader: IsolatedReader | None = None, tidy: bool = True) -> list[FileReport]:
    """Check and (unless ``dry_run``) store each of ``files`` (name, bytes) as ``actor``; one report
    per file, each attempt in the audit trail.

    The actor must be allowed to upload (AUTH010, nothing read) and each file must be a return of a
    township inside the actor's units (AUTH011: the file is rejected). A township and quarter whose
    active return was approved is locked (ING052) until a reviewer unlocks it. ``uploaded_at`` may
    be a function of the file name (used to replay sample returns with their arrival dates). A
    report's status is final once the call returns. ``tidy``: first remove archive files a killed store
    left (the ingest worker does it once when it starts, not for every file).
    """
    try:
        require(actor, "ingest")
    except RuralTargetsError as exc:
        audit.record(con, actor, "ingest_dry_run" if dry_run else "ingest", "refused",
                     details={"code": exc.code}, client=client)
        raise
    files = files if isinstance(files, (list, tuple)) else list(files)
    if not dry_run and tidy:
        remove_orphans(con)                        # files a killed or failed store left in the archive
    reports: list[FileReport] = []
    report_of: dict[int, FileReport] = {}
    units, history = Units(con), History(con)
    batch = Batch(con, actor.name, uploaded_at)

    def stored(done: list[tuple[Staged, Stored]]) -> None:
        """Take over what storing did into the files' reports; forget history that changed."""
        for staged, outcome in done:
            report = report_of.pop(id(staged))
            if outcome.status == "locked":
                _locked(con, report, outcome.submission_id)
            else:
                report.record(outcome)
            _audit(con, actor, report, dry_run, client)
        if done:
            history.clear()

    own = reader is None
    read = reader or IsolatedReader(catalog().settings.limits)     # one worker for the batch (or the caller's)
    try:
        for i, (name, data) in enumerate(files):
            if data is None:
                report, staged = FileReport(Path(name).name, problems=[Problem("GEN001", {"file": name})]), None
            else:
                report, staged = check_file(con, name, data, units, history, read)
            if staged is not None and not allowed(actor, "ingest", staged.township_code):
                exc = _refusal(actor, staged.township_code, report)
                report.problems.insert(0, Problem(exc.code, exc.context))
                staged = None
            if staged is not None:
                locked = approved_lock(con, staged.township_code, staged.period, staged.ret.sha256)
                if locked is not None:
                    _locked(con, report, locked)
                    staged = None
            if staged is not None and not dry_run:
                report_of[id(staged)] = report
                stored(batch.add(staged))
                # a later file of this run (the next quarter) compares with this one, stored or not
                history.remember(staged.township_code, staged.period, staged.records["village"])
            else:
                if staged is not None:
                    dup = active_duplicate(con, staged.township_code, staged.period, staged.ret.sha256)
                    report.status, report.submission_id = ("unchanged", dup) if dup else ("valid", None)
                _audit(con, actor, report, dry_run, client)
            reports.append(report)
            if progress:
                progress(i + 1, len(files), report)
        stored(batch.flush())
        return reports
    finally:
        if own:
            read.close()


def _refusal(actor: User, township: str, report: FileReport) -> RuralTargetsError:
    try:
        require(actor, "ingest", township, target=f"{report.township_name or ''} {township}".strip())
    except RuralTargetsError as exc:
        return exc
    raise AssertionError("allowed() and require() disagree")


def _locked(con: duckdb.DuckDBPyConnection, report: FileReport, submission_id: int) -> None:
    """Reject ``report``'s file: the township and quarter's approved return ``submission_id`` is locked."""
    by, at = con.execute("SELECT reviewed_by, reviewed_at FROM submissions WHERE id = ?", [submission_id]).fetchone()
    report.status, report.submission_id = "rejected", None
    report.problems.insert(0, Problem("ING052", {"township": report.township_name or report.township_code,
                                                 "period": period_label(report.period) if report.period else "",
                                                 "by": by or "审核员",
                                                 "at": f"{at:%Y-%m-%d}" if at else ""}))


def _audit(con: duckdb.DuckDBPyConnection, actor: User, report: FileReport, dry_run: bool,
           client: str | None) -> None:
    outcome = {"stored": "ok", "valid": "ok", "unchanged": "unchanged"}.get(report.status, "rejected")
    if any(p.code.startswith("AUTH") for p in report.errors):
        outcome = "refused"
    codes = sorted({p.code for p in report.errors})
    audit.record(con, actor, "ingest_dry_run" if dry_run else "ingest", outcome, object=report.file,
                 unit=report.township_code,
                 details={"period": report.period, "status": report.status, "submission_id": report.submission_id,
                          "errors": codes, "warnings": len(report.warnings)}, client=client)


def ingest_paths(con: duckdb.DuckDBPyConnection, paths: Iterable[Path], **kwargs: Any) -> list[FileReport]:
    """``ingest_uploads`` for files on disk, read one at a time (a missing file: GEN001)."""
    return ingest_uploads(con, _LazyFiles([Path(p) for p in paths]), **kwargs)


class _LazyFiles(list):
    """(name, bytes) of files on disk, read when iterated, so memory does not grow with their number."""

    def __iter__(self) -> Iterator[tuple[str, bytes | None]]:
        for p in list.__iter__(self):
            yield str(p), (p.read_bytes() if p.is_file() else None)
