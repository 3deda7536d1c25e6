"""``rural-targets bench concurrency``: many users at once — clerks uploading returns while others
load dashboard pages — through the upload queue, against a DuckDB file (one worker) and a DuckLake
(two workers), with the baseline a competent user has without the queue: every clerk runs
``rural-targets ingest FILE`` on the DuckDB file himself.

Setup (built once, kept in ``data/generated/bench/concurrency-setup`` under a key of the simulation
and the schema, copied for every side): the sample city's registry and the sample returns of every
quarter except the newest ones, loaded quarter by quarter through the ingest pipeline with their
simulated arrival times, the sample county sheets and task updates recorded, the history approved and
the progress tables computed — what ``rural-targets init`` builds, less the newest quarters. The
``returns`` uploads are the sample returns of those newest quarters (41 townships a quarter).

Each side runs ``clients`` client processes and ``readers`` reader processes (forked from one
preloaded server process, so that nobody pays Python's start-up inside the measurement):

- a client uploads its share of the files one at a time, as a clerk does on the 上报 page: the file
  goes into the queue (``queue_for(db).submit``), then the client polls the job until it is done and
  only then uploads its next file; the latency is from the upload to the client seeing it stored;
- a reader does what a page load does, over and over until the clients are through: a short
  read-only connection, the progress of plan changde-2018 for the last sample quarter
  (``pipelines.compute.assess.assess``, what the overview page reads), close.

The baseline's clients call the CLI's entry point (``pipelines.cli.main.main(["--db", FILE, "ingest",
FILE, "--json"])`` — the code of ``rural-targets ingest`` without the interpreter's start, which would
cost each call some 2 s of CPU on this side alone) with no worker running: each opens the file
read-write, waits up to 10 s for the lock and bounces with GEN002 "请稍后再试" when it does not get
it. Nothing is retried. The same readers run meanwhile.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import gc
import hashlib
import io
import json
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.access.review import approve_all
from pipelines.access.roles import local_admin
from pipelines.bench.postgres import temporary_postgres
from pipelines.catalog.definitions import catalog
from pipelines.cli.main import main
from pipelines.compute.assess import assess
from pipelines.compute.refresh import refresh
from pipelines.ingest.pipeline import ingest_paths
from pipelines.ingest.serve import queue_for, user_record
from pipelines.ingest.worker import IsolatedReader
from pipelines.resources import generated_dir, sql_dir
from pipelines.samples import committed
from pipelines.samples.init import init_database
from pipelines.samples.records import record_samples
from pipelines.samples.simulation import simulate
from pipelines.store.backup import restore
from pipelines.store.db import connect
from pipelines.textwidth import text_width

PLAN = "changde-2018"
ACTOR_NAME = "基准测试"
SETUP_VERSION = 1            # bump when the setup database is built differently
POLL_S = 0.1                 # how often a client looks at its job
JOB_TIMEOUT_S = 900.0        # a job not done by then counts as lost
READ_WAIT_S = 30.0           # a reader's wait for the DuckDB file's lock
THINK_S = 1.0                # a reader looks at the page this long before loading the next
SIDE_DEADLINE_S = 600.0      # after this long a side's clients stop waiting: what is not done counts as lost
PRELOAD = ["pipelines.ingest.serve", "pipelines.compute.assess", "pipelines.cli.main", "pipelines.cli.commands",
           "pipelines.bench.concurrency"]

OURS_DOES = ("本产品(上报队列):每个客户端进程像在“上报”页面一样逐个上传自己的报表——文件存入上报队列后立即返回,"
             "客户端轮询该任务直到导入完成再传下一个;上报处理程序(rural-targets worker;DuckDB 文件 1 个,"
             "DuckLake 2 个)按到达顺序取一批文件,先在隔离进程中解析(不占数据库),再逐个检查并导入——DuckDB 文件"
             "每次只占约 1 秒,之间让给页面读取;DuckLake 的两个处理程序并行,写冲突重试;进度表在队列清空时或每隔"
             "一段时间按涉及的范围刷新,其间页面读最近发布的进度表。"
             "延迟 = 从上传到客户端看到“已导入”")
BASELINE_DOES = ("基线(没有上报队列,DuckDB 文件):每个客户端进程对自己的每份报表直接运行 rural-targets ingest FILE"
                 "(在进程内调用命令行入口 pipelines.cli.main.main,与命令相同的代码,只省去每次约 2 秒的解释器启动);"
                 "不运行上报处理程序,命令以读写方式打开数据库文件,最多等 10 秒写锁,拿不到就报 GEN002"
                 "“请稍后再试”并退出(退出码 2),即被退回;不重试。延迟 = 命令从开始到结束")
READERS_DO = (f"读取(各方相同):每个读取进程模拟一位用户反复加载页面——以只读方式短暂连接数据库(DuckDB 文件最多等 "
              f"{READ_WAIT_S:.0f} 秒写锁),读取规划 {PLAN} 最新季度的进度(assess,总览页使用的接口;与仪表盘相同:有上报处理程序运行时读"
              "最近一次计算并发布的进度表,否则读当前的进度表或直接计算),关闭连接,"
              f"看 {THINK_S:g} 秒页面后再加载下一页;DuckDB 文件只有一个仪表盘服务器,它的读取依次进行"
              "(dashboard/queries.py 的 _LOCK),故各读取进程共用一把锁;DuckLake 下每个读取进程算作一个独立的仪表盘服务器")


def _say(progress: bool, text: str) -> None:
    if progress:
        print(text, file=sys.stderr, flush=True)


def _stats(values: list[float]) -> dict[str, float | None]:
    """p50, p95 and max of ``values`` (seconds, 3 decimals; None when empty)."""
    if not values:
        return {"p50": None, "p95": None, "max": None}
    arr = np.asarray(values, dtype=float)
    return {"p50": round(float(np.percentile(arr, 50)), 3), "p95": round(float(np.percentile(arr, 95)), 3),
            "max": round(float(arr.max()), 3)}


# ---------------------------------------------------------------------------- setup

def _setup(returns: int, progress: bool) -> dict[str, Any]:
    """The set-up database (cached) and the files to upload: {"template", "files", "period", ...}."""

    started = time.monotonic()
    cache = generated_dir("bench", "concurrency-setup")
    cache.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix="build-", dir=cache))
    try:
        con = connect(build / "setup.duckdb")
        try:
            _say(progress, "准备:导入示例市区划 …")
            init_database(con, progress=False, returns=False)
            sim = simulate(con)
            samples = {(s.township, s.period): s.path for s in committed.committed_samples(sim) if s.path.is_file()}
            _say(progress, "准备:示例报表(data/generated/returns)…")
            generated, _ = committed.ensure_generated(con, sim, committed.GENERATED_DIR, skip=set(samples))
            arrivals = sim.returns()
            paths = {(t, p): samples.get((t, p)) or generated[(t, p)] for t, p, _ in arrivals}
            when = {paths[(t, p)].name: at for t, p, at in arrivals}
            by_period: dict[str, list[tuple[str, str]]] = {}
            for t, p, _ in arrivals:
                by_period.setdefault(p, []).append((t, p))
            bench: list[tuple[str, str]] = []
            quarters: list[str] = []
            for p in sorted(by_period, reverse=True):      # the newest quarters until there are enough
                if len(bench) >= returns:
                    break
                quarters.append(p)
                bench += sorted(by_period[p])[: returns - len(bench)]
            chosen = set(bench)
            base = [(t, p) for t, p, _ in arrivals if (t, p) not in chosen]
            schema = "".join(f.read_text(encoding="utf-8") for f in sorted(sql_dir().glob("schema*.sql")))
            key = hashlib.sha256(json.dumps({
                "version": SETUP_VERSION, "sim": sim.fingerprint(), "base": sorted(f"{t} {p}" for t, p in base),
                "template": catalog().template_version, "schema": hashlib.sha256(schema.encode()).hexdigest(),
                "files": sorted(paths[k].name for k in base),
            }, sort_keys=True).encode()).hexdigest()[:16]
            template = cache / f"setup-{key}.duckdb"
            info = {"template": str(template), "files": [str(paths[k]) for k in bench], "quarters": sorted(quarters),
                    "period": sim.periods[-1], "base_returns": len(base), "townships": len(sim.townships)}
            if template.is_file():
                _say(progress, f"准备:使用已建好的基础数据库 {template.name}({len(base)} 份报表)")
                info["setup_s"] = round(time.monotonic() - started, 1)
                info["cached"] = True
                return info
            _load_base(con, base, paths, when, progress)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        partial = template.with_name(template.name + ".partial")
        shutil.copyfile(build / "setup.duckdb", partial)
        os.replace(partial, template)
        info["setup_s"] = round(time.monotonic() - started, 1)
        info["cached"] = False
        return info
    finally:
        shutil.rmtree(build, ignore_errors=True)


def _load_base(con: Any, base: list[tuple[str, str]], paths: dict[tuple[str, str], Path],
               when: dict[str, dt.datetime], progress: bool) -> None:
    """The returns ``base`` into ``con`` quarter by quarter (each checked against the one before), with
    their simulated arrival times; the sample county sheets and tasks; the history approved; refresh."""

    actor = local_admin(ACTOR_NAME)
    periods = sorted({p for _, p in base})
    reader = IsolatedReader(catalog().settings.limits)
    done, started = 0, time.monotonic()
    try:
        for period in periods:
            files = [paths[(t, p)] for t, p in base if p == period]
            reports = ingest_paths(con, files, actor=actor, uploaded_at=lambda name: when[Path(name).name], reader=reader)
            bad = [r for r in reports if r.status != "stored"]
            if bad:
                raise RuntimeError(f"基础数据库:{len(bad)} 份示例报表未能导入,如 {bad[0].summary_zh}")
            done += len(files)
            _say(progress, f"准备:基础数据库 {period} 已导入({done}/{len(base)} 份,{time.monotonic() - started:.0f} 秒)")
    finally:
        reader.close()
    record_samples(con, actor)
    pending = [i for (i,) in con.execute("SELECT id FROM submissions WHERE review_status <> 'approved'").fetchall()]
    approve_all(con, actor, pending)
    _say(progress, "准备:计算指标与进度 …")
    refresh(con)


# ---------------------------------------------------------------------------- the processes

def _ready(barrier: Any) -> None:
    barrier.wait(timeout=300)


def _client(db: str, data_path: str | None, files: list[str], barrier: Any, out: str,
            deadline_s: float = SIDE_DEADLINE_S) -> None:
    """A clerk: upload each file through the queue, wait until it is done, then the next."""
    if data_path:
        os.environ["RURAL_TARGETS_DATA_PATH"] = data_path

    queue = queue_for(db)
    user = user_record(local_admin(ACTOR_NAME), local=True)
    blobs = [(Path(f).name, Path(f).read_bytes()) for f in files]
    rows = []
    _ready(barrier)
    side_deadline = time.monotonic() + deadline_s
    for name, data in blobs:
        t0 = time.monotonic()
        job = queue.submit([(name, data)], user, client="bench")[0]
        final = None
        deadline = min(t0 + JOB_TIMEOUT_S, side_deadline)
        while True:
            got = queue.get(job.id)
            if got is not None and got.state == "done":
                final = got
                break
            if time.monotonic() >= deadline:
                break
            time.sleep(POLL_S)
        row: dict[str, Any] = {"file": name, "latency_s": round(time.monotonic() - t0, 4), "done": final is not None}
        if final is not None:
            report = final.report or {}
            row.update(status=report.get("status", "rejected"), township=report.get("township"),
                       period=report.get("period"), worker=final.worker,
                       job_s=round((dt.datetime.fromisoformat(final.finished_at)
                                    - dt.datetime.fromisoformat(final.submitted_at)).total_seconds(), 4),
                       codes=sorted({p.get("code") for p in report.get("problems", [])
                                     if p.get("severity", "error") == "error"}))
        else:
            row["status"] = "lost"          # not done in time (still queued or being checked)
        rows.append(row)
    Path(out).write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")


def _baseline_client(db: str, files: list[str], barrier: Any, out: str) -> None:
    """A clerk without the queue: ``rural-targets ingest FILE`` for each file, nothing retried."""

    rows = []
    _ready(barrier)
    for f in files:
        t0 = time.monotonic()
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                code = main(["--db", db, "ingest", f, "--json"])
            except SystemExit as exc:        # argparse
                code = exc.code if isinstance(exc.code, int) else 1
        gc.collect()                         # the command's connection closed, as at the end of a process
        latency = time.monotonic() - t0
        row: dict[str, Any] = {"file": Path(f).name, "latency_s": round(latency, 4), "exit": code}
        try:
            report = json.loads(stdout.getvalue())[0]
        except (ValueError, IndexError, KeyError, TypeError):
            report = None
        if report is not None:
            row.update(status=report.get("status"), township=report.get("township"), period=report.get("period"))
        elif code == 2 and "GEN002" in stderr.getvalue():
            row["status"] = "bounced"
        else:
            row.update(status="error", stderr=stderr.getvalue()[-300:])
        rows.append(row)
    Path(out).write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")


def _reader(db: str, data_path: str | None, period: str, server: Any, barrier: Any, stop: Any, out: str) -> None:
    """A user loading pages until ``stop``: a short read-only connection, assess, close, a look at the
    page (``THINK_S``). ``server``: the one dashboard server's lock its reads take turns on (DuckDB
    file), or None (DuckLake: every reader is a dashboard server of its own)."""
    if data_path:
        os.environ["RURAL_TARGETS_DATA_PATH"] = data_path

    rows = []
    _ready(barrier)
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            with server if server is not None else contextlib.nullcontext():
                con = connect(db, read_only=True, wait_s=READ_WAIT_S)
                try:
                    # as the dashboard: the published tables while a worker catches up, else current or computed
                    n = len(assess(con, plan=PLAN, period=period, stored=True if queue_for(db).workers() else None))
                finally:
                    con.close()
            rows.append({"latency_s": round(time.monotonic() - t0, 4), "rows": n})
        except Exception as exc:  # noqa: BLE001 - a failed page load is a figure of the benchmark
            rows.append({"latency_s": round(time.monotonic() - t0, 4), "error": f"{type(exc).__name__}: {exc}"[:300]})
        stop.wait(THINK_S)
    Path(out).write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")


def _context() -> Any:
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def _cli() -> list[str]:
    exe = shutil.which("rural-targets")
    return [exe] if exe else [sys.executable, "-c", "import sys; from pipelines.cli.main import main; sys.exit(main())"]


def _start_workers(db: str, data_path: str | None, n: int, logs: Path) -> list[subprocess.Popen]:
    env = dict(os.environ, RURAL_TARGETS_DB=db)
    args = _cli() + ["--db", db]
    if data_path:
        env["RURAL_TARGETS_DATA_PATH"] = data_path
        args += ["--data-path", data_path]
    procs = []
    for i in range(n):
        with open(logs / f"worker-{i}.log", "wb") as log:
            procs.append(subprocess.Popen(args + ["worker"], env=env, stdout=log, stderr=subprocess.STDOUT))
    return procs


def _stop_workers(procs: list[subprocess.Popen]) -> list[int | None]:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    codes = []
    for p in procs:
        try:
            codes.append(p.wait(timeout=120))
        except subprocess.TimeoutExpired:
            p.kill()
            codes.append(p.wait())
    return codes


def _run_side(side: str, db: str, data_path: str | None, files: list[str], clients: int, readers: int,
              period: str, out_dir: Path, progress: bool, watch: Any = None) -> dict[str, Any]:
    """Clients and readers against ``db`` at once; the raw rows of every process and the wall time."""
    ctx = _context()
    out_dir.mkdir(parents=True, exist_ok=True)
    shares = [files[i::clients] for i in range(clients)]
    shares = [s for s in shares if s]
    barrier, stop = ctx.Barrier(len(shares) + readers + 1), ctx.Event()
    procs = []
    for i, share in enumerate(shares):
        out = str(out_dir / f"client-{i}.json")
        if side == "baseline":
            procs.append(ctx.Process(target=_baseline_client, args=(db, share, barrier, out)))
        else:
            procs.append(ctx.Process(target=_client, args=(db, data_path, share, barrier, out)))
    server = None if data_path else ctx.Lock()     # DuckDB file: one dashboard server, its reads in turn
    readers_p = [ctx.Process(target=_reader, args=(db, data_path, period, server, barrier, stop,
                                                   str(out_dir / f"reader-{i}.json"))) for i in range(readers)]
    for p in procs + readers_p:
        p.start()
    barrier.wait(timeout=300)
    started = time.monotonic()
    last = started
    while any(p.is_alive() for p in procs):
        time.sleep(0.5)
        if progress and time.monotonic() - last >= 10:
            last = time.monotonic()
            extra = f",{watch()}" if watch else ""
            _say(progress, f"  {side}:{time.monotonic() - started:.0f} 秒,客户端 "
                           f"{sum(not p.is_alive() for p in procs)}/{len(procs)} 已完成{extra}")
    wall = time.monotonic() - started
    stop.set()
    for p in procs + readers_p:
        p.join(timeout=180)
        if p.is_alive():
            p.terminate()
            p.join()
    uploads = [r for i in range(len(shares)) for r in _rows(out_dir / f"client-{i}.json")]
    reads = [r for i in range(readers) for r in _rows(out_dir / f"reader-{i}.json")]
    crashed = [p.exitcode for p in procs + readers_p if p.exitcode != 0]
    return {"uploads": uploads, "reads": reads, "wall_s": wall, "crashed": crashed}


def _rows(path: Path) -> list[dict[str, Any]]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []


def _active_check(db: str, uploads: list[dict[str, Any]]) -> dict[str, Any]:
    """Whether every stored (township, period) has exactly one active submission, and none has two."""

    con = connect(db, read_only=True, wait_s=60)
    try:
        counts = {(t, p): n for t, p, n in con.execute(
            "SELECT township_code, period, count(*) FROM submissions WHERE status = 'active' GROUP BY ALL").fetchall()}
    finally:
        con.close()
    stored = {(u["township"], u["period"]) for u in uploads if u.get("status") == "stored"}
    missing = sorted(f"{t} {p}" for t, p in stored if counts.get((t, p), 0) == 0)
    doubled = sorted(f"{t} {p}" for (t, p), n in counts.items() if n > 1)
    return {"active_ok": not missing and not doubled and len(stored) == sum(
        u.get("status") == "stored" for u in uploads), "active_missing": missing[:10], "active_doubled": doubled[:10]}


def _figures(run: dict[str, Any], uploaded: int) -> dict[str, Any]:
    uploads, reads = run["uploads"], run["reads"]

    def by(status: str) -> int:
        return sum(u.get("status") == status for u in uploads)

    stored = by("stored")
    ok_reads = [r["latency_s"] for r in reads if "error" not in r]
    wall = run["wall_s"]
    out = {
        "uploaded": uploaded, "stored": stored, "unchanged": by("unchanged"), "rejected": by("rejected"),
        "latency_s": _stats([u["latency_s"] for u in uploads if u.get("status") == "stored"]),
        "reads": len(ok_reads), "read_errors": len(reads) - len(ok_reads), "read_latency_s": _stats(ok_reads),
        "read_error_examples": sorted({r["error"] for r in reads if "error" in r})[:3],
        "wall_s": round(wall, 1), "returns_per_min": round(stored / wall * 60, 1) if wall > 0 else None,
        "crashed_processes": len(run["crashed"]),
    }
    return out


# ---------------------------------------------------------------------------- the sides

def _queue_side(mode: str, setup: dict[str, Any], root: Path, clients: int, readers: int,
                progress: bool) -> dict[str, Any]:

    root.mkdir(parents=True, exist_ok=True)
    files, period = setup["files"], setup["period"]
    with contextlib.ExitStack() as stack:
        if mode == "file":
            db, data_path, n_workers = str(root / "rural_targets.duckdb"), None, 1
            shutil.copyfile(setup["template"], db)
            queue = queue_for(db)
        else:

            _say(progress, "DuckLake:启动临时 PostgreSQL,载入基础数据 …")
            dsn = stack.enter_context(temporary_postgres())
            db, data_path, n_workers = "ducklake:postgres:" + dsn, str(root / "data"), 2
            stack.enter_context(_env("RURAL_TARGETS_DATA_PATH", data_path))
            t0 = time.monotonic()
            restore(Path(setup["template"]), db)
            _say(progress, f"DuckLake:基础数据已载入({time.monotonic() - t0:.0f} 秒)")
            queue = queue_for(db)
        workers = _start_workers(db, data_path, n_workers, root)
        try:
            deadline = time.monotonic() + 120
            while len(queue.workers()) < n_workers:
                if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
                    raise RuntimeError(f"上报处理程序未能启动,见 {root}/worker-*.log")
                time.sleep(0.2)
            _say(progress, f"{mode}:{n_workers} 个上报处理程序已运行;{clients} 个客户端上传 {len(files)} 份报表,"
                           f"{readers} 个读取进程 …")
            done_dir = queue.root / "done"
            run = _run_side(mode, db, data_path, files, clients, readers, period, root / "results", progress,
                            watch=lambda: f"已导入 {sum(1 for _ in done_dir.glob('*.json'))}/{len(files)}")
        finally:
            codes = _stop_workers(workers)
        figures = _figures(run, len(files))
        done = sum(u.get("done", False) for u in run["uploads"])
        figures["lost"] = len(files) - done
        figures["workers"] = n_workers
        figures["worker_exit_codes"] = codes
        figures["jobs_per_worker"] = _count([u.get("worker") for u in run["uploads"] if u.get("worker")])
        figures["job_latency_s"] = _stats([u["job_s"] for u in run["uploads"] if u.get("status") == "stored"])
        figures["problem_codes"] = _count([c for u in run["uploads"] for c in u.get("codes", [])])
        figures.update(_active_check(db, run["uploads"]))
    return figures


def _baseline_side(setup: dict[str, Any], root: Path, clients: int, readers: int, progress: bool) -> dict[str, Any]:
    root.mkdir(parents=True, exist_ok=True)
    files, period = setup["files"], setup["period"]
    db = str(root / "rural_targets.duckdb")
    shutil.copyfile(setup["template"], db)
    _say(progress, f"基线:{clients} 个客户端各自运行 rural-targets ingest(无上报队列),{readers} 个读取进程 …")
    run = _run_side("baseline", db, None, files, clients, readers, period, root / "results", progress)
    figures = _figures(run, len(files))
    bounced = [u for u in run["uploads"] if u.get("status") == "bounced"]
    figures["bounced"] = len(bounced)
    figures["errors"] = sum(u.get("status") == "error" for u in run["uploads"])
    figures["error_examples"] = sorted({u.get("stderr", "") for u in run["uploads"] if u.get("status") == "error"})[:3]
    figures["lost"] = len(files) - figures["stored"] - figures["unchanged"] - figures["rejected"]
    figures["bounce_latency_s"] = _stats([u["latency_s"] for u in bounced])
    figures.update(_active_check(db, run["uploads"]))
    return figures


def _count(items: list[Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for x in items:
        out[str(x)] = out.get(str(x), 0) + 1
    return dict(sorted(out.items()))


@contextlib.contextmanager
def _env(name: str, value: str) -> Any:
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def bench_concurrency(clients: int = 20, returns: int = 200, readers: int = 10, modes=("file", "ducklake"),
                      workdir: Path | None = None, progress: bool = True) -> dict[str, Any]:
    """Uploads of ``returns`` sample returns by ``clients`` clerks at once while ``readers`` page loads
    go on, for each of ``modes`` (``file``: a DuckDB file and one worker; ``ducklake``: a DuckLake on a
    throwaway PostgreSQL and two workers) and for the baseline without the queue. JSON-serialisable."""
    if clients < 1 or returns < 1 or readers < 0:
        raise ValueError("clients and returns must be at least 1, readers at least 0")
    started = time.monotonic()
    workdir = Path(workdir) if workdir else generated_dir("bench", "concurrency")
    workdir.mkdir(parents=True, exist_ok=True)
    setup = _setup(returns, progress)
    result: dict[str, Any] = {
        "clients": clients, "returns": len(setup["files"]), "readers": readers, "plan": PLAN,
        "period": setup["period"], "quarters": setup["quarters"], "base_returns": setup["base_returns"],
        "townships": setup["townships"], "setup_s": setup["setup_s"], "setup_cached": setup["cached"],
        "cpus": os.cpu_count(), "modes": {}, "ours_does": OURS_DOES, "baseline_does": BASELINE_DOES,
        "readers_do": READERS_DO,
    }
    for mode in modes:
        if mode not in ("file", "ducklake"):
            raise ValueError(f"unknown mode {mode!r} (file, ducklake)")
        root = workdir / mode
        shutil.rmtree(root, ignore_errors=True)
        result["modes"][mode] = _queue_side(mode, setup, root, clients, readers, progress)
        _say(progress, f"{mode}:完成," + _brief(result["modes"][mode]))
    root = workdir / "baseline"
    shutil.rmtree(root, ignore_errors=True)
    result["baseline"] = _baseline_side(setup, root, clients, readers, progress)
    _say(progress, "基线:完成," + _brief(result["baseline"]))
    result["total_s"] = round(time.monotonic() - started, 1)
    return result


def _brief(f: dict[str, Any]) -> str:
    return (f"存入 {f['stored']}/{f['uploaded']},丢失 {f['lost']},上传到导入 p95 {f['latency_s']['p95']} 秒,"
            f"读取 {f['reads']} 次 p95 {f['read_latency_s']['p95']} 秒,{f['wall_s']} 秒")


# ---------------------------------------------------------------------------- the report

MODE_ZH = {"file": "本产品 DuckDB 文件(1 个处理程序)", "ducklake": "本产品 DuckLake(2 个处理程序)",
           "baseline": "基线 直接 ingest(无队列)"}


def report_lines(result: dict[str, Any]) -> list[str]:
    """The text report of ``bench_concurrency``: per side uploads, outcomes, latencies, reads, throughput;
    the comparison with the baseline; what each side does."""

    def pad(text: str, width: int) -> str:
        return text + " " * max(0, width - text_width(text))

    def sec(v: float | None) -> str:
        return "—" if v is None else f"{v:.2f}"

    sides = [(MODE_ZH[m], f) for m, f in result["modes"].items()] + [(MODE_ZH["baseline"], result["baseline"])]
    setup = "已缓存" if result["setup_cached"] else "本次新建"
    lines = [(f"{result['clients']} 个客户端同时上传示例市最新季度({'、'.join(result['quarters'])})的 {result['returns']} 份报表,"
              f"{result['readers']} 个读取进程同时加载页面;基础数据库:其余 {result['base_returns']} 份报表"
              f"({setup},{result['setup_s']} 秒);{result['cpus']} 核"),
             ("Uploads: stored / unchanged / rejected / lost (bounced); latency = upload → stored, seconds; "
              "reads = page loads (assess), seconds")]
    width = max(text_width(n) for n, _ in sides)
    lines.append(f"{pad('方式 side', width)}  上传  存入  未变  有错  丢失  延迟p50  延迟p95  延迟max  "
                 f"读取次数  读p50  读p95  读max  用时(秒)  份/分钟  一致")
    for name, f in sides:
        lost = f"{f['lost']}" + (f"(退回{f['bounced']})" if "bounced" in f else "")
        lines.append(f"{pad(name, width)}  {f['uploaded']:>4}  {f['stored']:>4}  {f['unchanged']:>4}  "
                     f"{f['rejected']:>4}  {pad(lost, 4):>4}  {sec(f['latency_s']['p50']):>7}  "
                     f"{sec(f['latency_s']['p95']):>7}  {sec(f['latency_s']['max']):>7}  {f['reads']:>8}  "
                     f"{sec(f['read_latency_s']['p50']):>5}  {sec(f['read_latency_s']['p95']):>5}  "
                     f"{sec(f['read_latency_s']['max']):>5}  {f['wall_s']:>8}  {f['returns_per_min'] or 0:>7}  "
                     f"{'是' if f['active_ok'] else '否'}")
        notes = []
        if f.get("read_errors"):
            notes.append(f"读取失败 {f['read_errors']} 次:{';'.join(f['read_error_examples'])}")
        if f.get("errors"):
            notes.append(f"其他错误 {f['errors']} 次:{';'.join(f['error_examples'])}")
        if f.get("crashed_processes"):
            notes.append(f"{f['crashed_processes']} 个进程异常退出")
        if not f["active_ok"]:
            notes.append(f"报送表不一致:缺 {f['active_missing']},重复 {f['active_doubled']}")
        if f["lost"] and "bounced" not in f:
            notes.append(f"丢失 {f['lost']} = 在 {SIDE_DEADLINE_S:.0f} 秒内未导入完成的上传(仍在队列中,客户端已放弃等待)")
        if f.get("bounced"):
            notes.append(f"被退回的上传(GEN002)从开始到退回 p50 {sec(f['bounce_latency_s']['p50'])} 秒")
        lines += [f"  {n}" for n in notes]
    base = result["baseline"]
    for mode, f in result["modes"].items():
        p95, bp95 = f["latency_s"]["p95"], base["latency_s"]["p95"]
        ratio = f"{bp95 / p95:.1f}×" if p95 and bp95 else "—"
        lines.append(f"对比 {MODE_ZH[mode]}:存入 {f['stored']}/{f['uploaded']}、丢失 {f['lost']},基线存入 "
                     f"{base['stored']}/{base['uploaded']}、丢失(退回){base['lost']};上传到导入 p95 {sec(p95)} 秒,"
                     f"基线 {sec(bp95)} 秒(基线 ÷ 本产品 = {ratio},基线只计存入的)")
    lines += [f"  {result['ours_does']}", f"  {result['baseline_does']}", f"  {result['readers_do']}",
              ("  一致 = 报送表中每个已存入的乡镇季度恰有一条当前有效的报送,没有重复 (one active submission per stored "
               "township-quarter)")]
    return lines
