"""The upload queue and its worker on a DuckDB file: uploads accepted at once, stored in arrival order
by one worker, nothing lost when the worker is killed and started again."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import changed_copy, unlock_for_upload
from streamlit.testing.v1 import AppTest

from pipelines.access.accounts import get_user
from pipelines.access.roles import local_admin
from pipelines.compute.assess import assess_frame
from pipelines.compute.stored import is_fresh, is_published
from pipelines.errors import RuralTargetsError
from pipelines.ingest.pipeline import ingest_paths
from pipelines.ingest.queue import UploadQueue, file_report, queue_dir, report_dict
from pipelines.ingest.serve import queue_for, run, user_record
from pipelines.samples.committed import GENERATED_DIR
from pipelines.samples.init import REGION_DIR
from pipelines.store import db

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples" / "returns"
CLERK = user_record(local_admin("测试管理员"), local=True)


def test_jobs_move_queued_checking_done_in_arrival_order(tmp_path):
    q = UploadQueue(queue_dir(tmp_path))
    jobs = q.submit([(f"{i}.xlsx", bytes([i]) * 10) for i in range(5)], CLERK, client="10.0.0.1")
    assert [q.get(j.id).outcome_zh for j in jobs] == ["排队中"] * 5
    assert q.file_path(jobs[2]).read_bytes() == bytes([2]) * 10          # the original is kept first
    taken = q.claim("host-1", limit=3)
    assert [j.id for j in taken] == [j.id for j in jobs[:3]]             # oldest first
    assert q.get(jobs[0].id).outcome_zh == "检查中" and q.waiting() == 2 and q.pending() == 5
    from pipelines.ingest.pipeline import FileReport
    q.finish(taken[0], report_dict(FileReport("0.xlsx", status="stored", submission_id=7)))
    done = q.get(jobs[0].id)
    assert done.state == "done" and done.outcome_zh == "已导入" and file_report(done.report).submission_id == 7
    assert [j.id for j in q.recent(limit=2)] == [jobs[4].id, jobs[3].id]


def test_two_workers_racing_for_the_queue_each_job_goes_to_one(tmp_path):
    q = UploadQueue(queue_dir(tmp_path))
    jobs = q.submit([(f"{i}.csv", b"x") for i in range(200)], CLERK)
    got: dict[str, list[str]] = {"a": [], "b": []}

    def take(name: str) -> None:
        while True:
            batch = q.claim(f"host-{name}-1", limit=3)
            if not batch and not q.waiting():
                return
            got[name] += [j.id for j in batch]

    threads = [threading.Thread(target=take, args=(n,)) for n in got]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(got["a"] + got["b"]) == sorted(j.id for j in jobs)      # every job once, none twice
    assert got["a"] and got["b"]


def test_a_dead_workers_jobs_are_queued_again(tmp_path):
    q = UploadQueue(queue_dir(tmp_path))
    jobs = q.submit([("a.xlsx", b"a"), ("b.xlsx", b"b")], CLERK)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    import socket
    q.claim(f"{socket.gethostname()}-{dead.stdout.strip()}", limit=1)   # claimed by a process that is gone
    q.claim(f"{socket.gethostname()}-{os.getpid()}", limit=1)           # claimed by one that lives
    assert q.recover() == 1
    assert q.get(jobs[0].id).state == "queued" and q.get(jobs[1].id).state == "checking"


def test_one_worker_per_database_file(tmp_path):
    path = tmp_path / "rt.duckdb"
    db.connect(path).close()
    stop = threading.Event()
    first = threading.Thread(target=run, args=(str(path),), kwargs={"stop": stop})
    first.start()
    try:
        for _ in range(100):
            if queue_for(str(path)).workers():
                break
            time.sleep(0.05)
        with pytest.raises(RuralTargetsError) as err:
            run(str(path), once=True)
        assert err.value.code == "ING070"
    finally:
        stop.set()
        first.join()
    assert not queue_for(str(path)).workers()


def _registry_db(path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pipelines.cli.main", "--db", str(path), "registry", "load",
                           str(REGION_DIR / "units.csv"), "--geojson", str(REGION_DIR / "boundaries.geojson")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _worker(path: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pipelines.cli.main", "--db", str(path), "worker"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "RURAL_TARGETS_DB": ""})


@pytest.mark.slow
def test_twenty_uploads_at_once_all_stored_through_a_worker_restart(sample_db_file, tmp_path):
    files = sorted(GENERATED_DIR.glob("*_2025Q3.xlsx"))[:20]
    assert len(files) == 20 and len({f.name[:12] for f in files}) == 20
    path = tmp_path / "rt.duckdb"
    _registry_db(path)
    worker = _worker(path)
    queue = queue_for(str(path))
    jobs: list = []
    lock = threading.Lock()

    def upload(f: Path) -> None:          # what the 数据上报 page's confirm step does for one clerk
        [job] = queue.submit([(f.name, f.read_bytes())], CLERK, client="test")
        with lock:
            jobs.append(job)

    threads = [threading.Thread(target=upload, args=(f,)) for f in files]
    started = time.monotonic()
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(jobs) == 20 and time.monotonic() - started < 10        # accepted at once, nobody waits on a lock
    deadline = time.monotonic() + 300
    while sum(queue.get(j.id).state == "done" for j in jobs) < 3:       # some stored, the rest waiting
        assert time.monotonic() < deadline and worker.poll() is None, worker.stderr.read() if worker.poll() else ""
        time.sleep(0.1)
    worker.send_signal(signal.SIGKILL)                                  # killed in the middle
    worker.wait()
    assert any(queue.get(j.id).state != "done" for j in jobs)
    worker = _worker(path)                                              # and started again
    try:
        final = queue.wait([j.id for j in jobs], timeout_s=600)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    assert len(final) == 20 and all(j.state == "done" for j in final)
    assert {j.outcome for j in final} <= {"stored", "unchanged"}       # one may have been stored just before the kill
    con = db.connect(path, read_only=True)
    try:
        active = con.execute("SELECT township_code, period FROM submissions WHERE status = 'active'").fetchall()
        fresh = con.execute("SELECT value FROM meta WHERE key = 'progress_state'").fetchall()
    finally:
        con.close()
    assert sorted(active) == sorted((f.name[:12], "2025Q3") for f in files)    # all twenty stored, none lost
    assert fresh, "the worker refreshed the progress tables"
    from pipelines.compute.stored import is_fresh
    con = db.connect(path, read_only=True)
    try:
        assert is_fresh(con)
    finally:
        con.close()


@pytest.mark.slow
def test_pages_read_the_published_progress_while_the_worker_catches_up(dash_db, monkeypatch, tmp_path):
    """Stored returns the worker has not refreshed yet: the pages read the progress last published (fast,
    consistent) and say since when, instead of computing it on every view."""
    from dashboard import queries

    unlock_for_upload(dash_db, "439921101000", "2025Q4")
    con = db.connect(dash_db)
    try:
        changed = changed_copy(next(SAMPLES.glob("439921101000_*_2025Q4.xlsx")), tmp_path / "黄嘴镇.xlsx")
        [report] = ingest_paths(con, [changed], actor=local_admin("测试管理员"))
        assert report.status == "stored"
        assert not is_fresh(con) and is_published(con)                 # stored, not yet refreshed
        published = assess_frame(con, plan="changde-2018", period="2025Q4", stored=True)
        assert len(published) and published.equals(assess_frame(con, plan="changde-2018", period="2025Q4",
                                                                 stored=True))
        user = get_user(con, "admin")
    finally:
        con.close()
    queue_for(str(dash_db)).beat(f"{socket.gethostname()}-{os.getpid()}")     # a worker is running
    monkeypatch.setattr(queries, "user", lambda: user)
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py"), default_timeout=120)
    at.session_state["user"] = user
    at.run()
    assert not at.exception
    assert any("新上传的报表正在计算" in i.value for i in at.info)
