"""The bundled sample data: building a database from data/samples/ (``rural-targets init``).

``init_database`` loads the sample city's registry and boundaries, then the quarterly returns of
every township from 2018Q4 to 2025Q4 (``pipelines.samples.simulation``): the committed samples of
``data/samples/returns`` where there is one, else returns generated into ``data/generated/returns``
(written once, again only when the simulation or the generator changes). Every return goes
through the ingest pipeline, quarter by quarter (so each is compared with the quarter before),
stamped with the time it arrived; then the county sheets and task updates no return carries
(``pipelines.samples.records``). Running it again changes nothing and is quick.
"""
from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from pipelines.compute.refresh import refresh
from pipelines.files import atomic_write
from pipelines.catalog.definitions import catalog
from pipelines.ingest.pipeline import ingest_uploads
from pipelines.ingest.worker import IsolatedReader
from pipelines.ingest.store import archive_dir
from pipelines.registry.load import load_registry
from pipelines.resources import samples_dir
from pipelines.samples import committed
from pipelines.samples.records import record_samples
from pipelines.access.accounts import add_user, new_password
from pipelines.access.review import approve_all
from pipelines.access.roles import local_admin
from pipelines.samples.simulation import simulate

SAMPLES_DIR = samples_dir()  # data/samples of the checkout, or the wheel's package data
REGION_DIR = SAMPLES_DIR / "region"
SAMPLE_CITY = "439900000000"
UPLOADED_BY = "rural-targets init(示例数据)"
SAMPLE_ACTOR = local_admin(UPLOADED_BY)        # loads, uploads, records and approves the sample history


def _say(progress: bool, text: str) -> None:
    if progress:
        print(text, file=sys.stderr, flush=True)


class _Bar:
    """A one-line progress bar on stderr: ``[#####     ] 580/1120 文件``."""

    WIDTH = 30

    def __init__(self, enabled: bool, label: str) -> None:
        self.enabled, self.label, self.shown, self.last = enabled, label, False, 0.0

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        now = time.monotonic()
        if done < total and now - self.last < 0.1:
            return
        self.last = now
        k = self.WIDTH * done // total
        print(f"\r[{'#' * k}{' ' * (self.WIDTH - k)}] {done}/{total} {self.label}", end="", file=sys.stderr,
              flush=True)
        self.shown = True

    def close(self) -> None:
        if self.shown:
            print(file=sys.stderr, flush=True)
            self.shown = False


def init_database(con: duckdb.DuckDBPyConnection, progress: bool = True, returns: bool = True) -> dict[str, Any]:
    """Load the sample region's registry and boundaries into ``con``, then (unless ``returns`` is
    False) every sample return. Safe to run again: what is already there is reported unchanged.

    Returns counts: ``files`` (returns considered), ``stored``, ``unchanged``, ``kept`` (a return
    uploaded by someone else is active for that township and quarter: left as it is),
    ``rejected`` (0 unless the generator has a bug; the problems are printed), ``warnings`` (of
    the sample submissions), ``generated`` (files written to data/generated/returns this time),
    and the registry's figures.
    """
    started = time.monotonic()
    _say(progress, "导入示例市区划与边界 …")
    region = load_registry(con, [REGION_DIR / "units.csv"], geojson=REGION_DIR / "boundaries.geojson",
                           actor=SAMPLE_ACTOR)
    report: dict[str, Any] = {"region": SAMPLE_CITY, "units": region["units"], "by_level": region["by_level"],
                              "shapes": region["shapes"]}
    if returns:
        report.update(_load_returns(con, progress))
    report["accounts"] = ensure_demo_accounts(con)
    report["accounts_file"] = str(demo_accounts_file(con))
    report["seconds"] = round(time.monotonic() - started, 1)
    return report


def _load_returns(con: duckdb.DuckDBPyConnection, progress: bool) -> dict[str, Any]:
    sim = simulate(con)
    samples = {(s.township, s.period): s.path for s in committed.committed_samples(sim) if s.path.is_file()}
    _say(progress, "准备示例报表(data/generated/returns)…")
    bar = _Bar(progress, "份报表已生成")
    generated, written = committed.ensure_generated(con, sim, committed.GENERATED_DIR, skip=set(samples),
                                                    progress=bar)
    bar.close()

    arrivals = sim.returns()
    paths = {(t, p): samples.get((t, p)) or generated[(t, p)] for t, p, _ in arrivals}
    when = {paths[(t, p)].name: at for t, p, at in arrivals}
    active = {(t, p): (sha, by) for t, p, sha, by in con.execute(
        "SELECT township_code, period, sha256, uploaded_by FROM submissions WHERE status = 'active'").fetchall()}

    counts = {"stored": 0, "unchanged": 0, "kept": 0, "rejected": 0}
    rejected: list[Any] = []
    shas = []
    by_period: dict[str, list[tuple[str, bytes]]] = {}
    for t, p, _ in arrivals:
        data = paths[(t, p)].read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        shas.append(sha)
        sha_now, by = active.get((t, p), (None, None))
        if sha_now == sha:  # already stored: what ingest would find, without reading the file
            counts["unchanged"] += 1
            continue
        if sha_now is not None and by != UPLOADED_BY:  # someone uploaded their own return: keep it
            counts["kept"] += 1
            continue
        by_period.setdefault(p, []).append((paths[(t, p)].name, data))

    total = len(arrivals)
    done = counts["unchanged"] + counts["kept"]
    kept = f",{counts['kept']} 份保留他人上传的版本" if counts["kept"] else ""
    _say(progress, f"导入示例报表(共 {total} 份,{counts['unchanged']} 份已导入且未变{kept})…")
    bar = _Bar(progress, "文件")
    bar(done, total)
    reader = IsolatedReader(catalog().settings.limits)      # one worker process for every quarter's batch
    for period in sorted(by_period):  # quarter by quarter: each return is checked against the one before
        files = by_period[period]
        reports = ingest_uploads(con, files, actor=SAMPLE_ACTOR, uploaded_at=lambda name: when[name], reader=reader,
                                 progress=lambda i, n, r, base=done: bar(base + i, total))
        done += len(files)
        for r in reports:
            key = r.status if r.status in counts else "rejected"
            counts[key] += 1
            if key == "rejected":
                rejected.append(r)
    reader.close()
    bar.close()
    for r in rejected:  # a rejected sample is a bug of the generator
        print(f"示例报表未能导入(生成程序有误):{r.summary_zh}", file=sys.stderr)
        for p in r.problems:
            print(f"  [{p.code}] {p.cell or p.sheet or ''} {p.message}", file=sys.stderr)
    warnings = 0
    if shas:
        con.register("_sample_shas", pd.DataFrame({"sha256": shas}))
        try:
            warnings = con.execute("SELECT coalesce(sum(warnings), 0) FROM submissions WHERE status = 'active' "
                                   "AND sha256 IN (SELECT sha256 FROM _sample_shas)").fetchall()[0][0]
        finally:
            con.unregister("_sample_shas")
    missing = sum(a is None for ts in sim.townships.values() for a in ts.arrival)
    _say(progress, "记录示例区县情况与督办任务 …")
    records = record_samples(con, SAMPLE_ACTOR)
    pending = [i for (i,) in con.execute("SELECT id FROM submissions WHERE uploaded_by = ? AND review_status <> 'approved'",
                                         [UPLOADED_BY]).fetchall()]
    approve_all(con, SAMPLE_ACTOR, pending)          # the sample's history has been reviewed
    _say(progress, "计算指标与进度 …")
    refresh(con)
    return {"files": total, **counts, **records, "warnings": int(warnings), "generated": written,
            "committed_samples": len(samples), "missing_returns": missing,
            "rejected_files": [r.file for r in rejected]}


# ------------------------------------------------------------------ demo accounts (the sample only)

DEMO_ACCOUNTS = (   # name, role, unit, display name
    ("admin", "admin", None, "赵敏"),
    ("shi", "city", "439900000000", "陈华"),
    ("biquan", "county", "439921000000", "王军"),
    ("huangzui", "clerk", "439921101000", "李梅"),
)


DEMO_FILE_NAME = "demo-accounts.txt"


def demo_accounts_file(con: duckdb.DuckDBPyConnection) -> Path:
    """Where ``init`` writes the demo accounts' passwords: ``demo-accounts.txt`` beside the database
    (never committed)."""
    return archive_dir(con).parent / DEMO_FILE_NAME


def ensure_demo_accounts(con: duckdb.DuckDBPyConnection) -> list[dict[str, str]]:
    """One demo account per role on the sample database, with random passwords written to
    ``demo_accounts_file``; accounts that exist are left as they are (their passwords read back
    from the file when it is there)."""
    path = demo_accounts_file(con)
    known = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) >= 2 and not line.startswith("#"):
                known[parts[0]] = parts[1]
    out = []
    for name, role, unit, display in DEMO_ACCOUNTS:
        exists = con.execute("SELECT 1 FROM users WHERE name = ?", [name]).fetchone() is not None
        if not exists:
            known[name] = new_password()
            add_user(con, SAMPLE_ACTOR, name, role, unit, known[name], display)
        out.append({"name": name, "password": known.get(name, "(已存在;密码见原文件或用 user reset-password 重置)"),
                    "role": role, "unit": unit or "", "display_name": display})
    lines = ["# 示例数据库的演示账户(rural-targets init 生成;勿提交,勿用于正式数据)",
             "# 用户名\t密码\t角色\t所属单位\t显示名"]
    lines += ["\t".join([a["name"], a["password"], a["role"], a["unit"], a["display_name"]]) for a in out]
    atomic_write(path, ("\n".join(lines) + "\n").encode("utf-8"))
    return out
