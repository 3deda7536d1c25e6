"""What each ``rural-targets`` subcommand does, once ``main`` has parsed its arguments.

One function per command, registered by name in ``COMMANDS`` (the parser's ``handler``
default); each opens the database when it needs it, calls the stage that does the work, and
prints the result with ``emit`` (a text table, ``--json`` or ``--csv``). Problems are raised as
typed errors of the catalogue in ``pipelines/errors.py``; ``main`` turns them into one line.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Iterable

import duckdb
import pandas as pd

from pipelines.access.accounts import add_user, disable_user, get_user, list_users, new_password, reset_password
from pipelines.access.audit import entries
from pipelines.access.review import approve, return_submission, review_queue, unlock
from pipelines.access.roles import ROLES as ROLE_NAMES, User, local_admin
from pipelines.bench.concurrency import bench_concurrency
from pipelines.bench.concurrency import report_lines as concurrency_report_lines
from pipelines.bench.dashboard import bench_dashboard
from pipelines.bench.dashboard import report_lines as dashboard_report_lines
from pipelines.bench.ingest import bench_ingest, report_lines as ingest_report_lines
from pipelines.bench.progress import bench_progress
from pipelines.catalog.definitions import catalog
from pipelines.cells import csv_value
from pipelines.compute.assess import assess
from pipelines.compute.completeness import area_of, completeness, default_quarter, min_coverage
from pipelines.compute.indicators import compute
from pipelines.compute.laggards import laggards
from pipelines.compute.records import record_county_values, record_task_update, task_records
from pipelines.compute.refresh import refresh, refresh_touched
from pipelines.compute.rules import STATUS_ZH
from pipelines.compute.stored import is_fresh
from pipelines.ingest.pipeline import FileReport, ingest_paths
from pipelines.ingest.serve import queue_for, submit_and_wait
from pipelines.ingest.serve import run as run_worker
from pipelines.ingest.store import list_submissions, remove_orphans, submission_values, trace
from pipelines.ingest.template import write_county_templates, write_township_template
from pipelines.jsonable import plain_records
from pipelines.periods import parse_period, period_label
from pipelines.registry.load import get_unit, list_units, load_registry
from pipelines.report.build import write as write_briefing
from pipelines.samples.init import init_database
from pipelines.samples.region import generate_region
from pipelines.store.backup import backup, restore
from pipelines.store import lake
from pipelines.store.db import connect, db_label, is_lake
from pipelines.textwidth import text_width
from pipelines.units import PREFIX_LEN

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}

PROGRESS_TEXT_COLUMNS = ["target", "unit_code", "unit_name", "level", "period", "value", "target_value", "status_zh",
                         "pi", "tau", "gap_pp", "projected", "points"]


def command(name: str) -> Callable:
    """Register the decorated function as the handler of command ``name`` (e.g. "registry load")."""
    def register(fn: Callable[[argparse.Namespace], int]) -> Callable:
        COMMANDS[name] = fn
        return fn
    return register


# ------------------------------------------------------------------ output helpers

def emit(rows: list[dict[str, Any]] | dict[str, Any], args: argparse.Namespace,
         columns: Iterable[str] | None = None) -> None:
    """Print ``rows`` as JSON (--json), CSV (--csv) or an aligned text table."""
    if getattr(args, "json", False):
        print(json.dumps(rows, ensure_ascii=False, indent=1, default=str))
        return
    if isinstance(rows, dict):
        for k, v in rows.items():
            print(f"{k}: {v}")
        return
    cols = list(columns or (rows[0].keys() if rows else []))
    if getattr(args, "csv", False):
        writer = csv.DictWriter(sys.stdout, fieldnames=cols, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({k: csv_value(v) for k, v in r.items()} for r in rows)   # text never reads as a formula
        return
    if not rows:
        print("(无)")
        return
    text = [[("" if r.get(c) is None else str(r.get(c))) for c in cols] for r in rows]
    widths = [max(text_width(c), *(text_width(t[i]) for t in text)) for i, c in enumerate(cols)]
    print("  ".join(_pad(c, w) for c, w in zip(cols, widths)))
    for t in text:
        print("  ".join(_pad(v, w) for v, w in zip(t, widths)))


def _pad(s: str, width: int) -> str:
    return s + " " * (width - text_width(s))


def _rounded(rows: list[dict[str, Any]], digits: int = 3) -> list[dict[str, Any]]:
    """Rows with floats rounded for a text table (JSON and CSV keep full precision)."""
    return [{k: (round(v, digits) if isinstance(v, float) else v) for k, v in r.items()} for r in rows]


def _table(rows: list[dict[str, Any]], args: argparse.Namespace, columns: list[str]) -> None:
    """``rows`` in full for --json/--csv, else rounded and cut to ``columns``."""
    if args.json or args.csv:
        emit(rows, args)
    else:
        emit(_rounded(rows), args, columns)


def _db(args: argparse.Namespace) -> duckdb.DuckDBPyConnection:
    return connect(args.db)


def _actor(con: duckdb.DuckDBPyConnection, args: argparse.Namespace) -> User:
    """The acting user: the account named by ``--as``, else the local administrator (whoever can open
    the database file administers it)."""
    name = getattr(args, "as_user", None)
    if name:
        return get_user(con, name)
    return local_admin(f"本机管理员:{os.environ.get('USER') or os.environ.get('USERNAME') or '命令行'}")


def _fresh(con: duckdb.DuckDBPyConnection, args: argparse.Namespace) -> duckdb.DuckDBPyConnection:
    """``con`` with the stored progress tables brought up to date first when they are stale (a refresh
    was killed, or data came in another way), unless --live asks to compute anyway."""
    if not getattr(args, "live", False) and not is_fresh(con, catalog()):
        refresh(con)
    return con


def _password(args: argparse.Namespace) -> tuple[str, bool]:
    """The password from standard input (``--password-stdin``), or a new random one (shown once)."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n"), False
    return new_password(), True


# ------------------------------------------------------------------ catalog, registry, returns

@command("targets")
def cmd_targets(args: argparse.Namespace) -> int:
    """``targets``: the catalog's targets, one row each.

    --json and --csv carry every key, the plan's reading included (population, strive, reading,
    judged_at, baseline, guideline, township_kind, task items and milestone fields); the text table
    shows the population and 力争 in two short columns.
    """
    cat = catalog()
    rows = []
    for plan, t in cat.targets(args.plan):
        ind = cat.indicators.get(t.indicator) if t.indicator else None
        rows.append({
            "plan": plan.code, "id": t.id, "title": t.title, "indicator": t.indicator,
            "comparator": t.comparator, "value": t.value, "tolerance": t.tolerance, "unit": t.unit,
            "start": t.start.isoformat() if t.start else None,
            "deadline": t.deadline.isoformat(), "eval": t.eval, "level": t.level,
            "recurrence": t.recurrence, "lead": t.lead, "partners": t.partners,
            "population": t.population, "strive": t.strive, "judged_at": t.judged_at,
            "baseline": t.baseline if t.eval == "trend" else None, "guideline": t.guideline,
            "township_kind": t.township_kind,
            "milestones": [m.model_dump(mode="json", exclude_none=True) for m in t.milestones],
            "items": [i.model_dump(mode="json", exclude_none=True) for i in t.items],
            "clause": t.clause, "source_clause": t.source_clause, "reading": t.reading,
            "indicator_title": ind.title if ind else None,
        })
    if args.json:
        emit(rows, args)
    elif args.csv:  # lists as 、-joined names, milestone fields and items as JSON
        emit([{**r, "lead": "、".join(r["lead"]), "partners": "、".join(r["partners"]),
               "milestones": json.dumps(r["milestones"], ensure_ascii=False) if r["milestones"] else "",
               "items": json.dumps(r["items"], ensure_ascii=False) if r["items"] else ""} for r in rows], args)
    else:
        text = [{**r, "strive": "力争" if r["strive"] else ""} for r in rows]
        emit(text, args, ["plan", "id", "title", "population", "strive", "comparator", "value", "unit",
                          "deadline", "eval", "level"])
    return 0


@command("registry load")
def cmd_registry_load(args: argparse.Namespace) -> int:
    """``registry load``: check and load registry files (all or nothing)."""
    con = _db(args)
    report = load_registry(con, [Path(f) for f in args.files], geojson=Path(args.geojson) if args.geojson else None,
                           actor=_actor(con, args), client="cli")
    emit(report, args)
    return 0


@command("registry list")
def cmd_registry_list(args: argparse.Namespace) -> int:
    """``registry list``: the units of the registry."""
    rows = list_units(_db(args), level=args.level, parent=args.parent)
    emit(rows, args, None if args.json else ["code", "name", "level", "parent_code"])
    return 0


@command("template")
def cmd_template(args: argparse.Namespace) -> int:
    """``template``: blank returns for a township or for every township of a county."""
    con = _db(args)
    if args.township:
        paths = [write_township_template(con, args.township, args.period, Path(args.output))]
    else:
        paths = write_county_templates(con, args.county, args.period, Path(args.output))
    emit([{"file": str(p)} for p in paths], args)
    return 0


@command("ingest")
def cmd_ingest(args: argparse.Namespace) -> int:
    """``ingest``: check and store returns; exit 2 when any was rejected."""
    con = _db(args)

    def progress(i: int, n: int, report: FileReport) -> None:
        if not args.json and n > 1:
            print(f"[{i}/{n}] {report.summary_zh}", file=sys.stderr)

    actor = _actor(con, args)
    queue = queue_for(args.db)
    if not args.dry_run and queue.workers():      # a worker serves the database: the files go through its queue
        con.close()
        if not args.json:
            print(f"上报处理程序正在运行:{len(args.files)} 个文件已交给上报队列,等待导入 …", file=sys.stderr)
        reports = submit_and_wait(args.db, [Path(f) for f in args.files], actor, not getattr(args, "as_user", None),
                                  "cli")
    elif is_lake(args.db):     # other processes write too: each file on its own, again after a write conflict
        reports = [lake.retry_conflicts(lambda: ingest_paths(con, [Path(f)], dry_run=args.dry_run, actor=actor,
                                                             client="cli"))[0] for f in args.files]
        for i, r in enumerate(reports, 1):
            progress(i, len(reports), r)
        touched = {(r.township_code, r.period) for r in reports if r.status == "stored"}
        if touched:
            lake.retry_conflicts(lambda: refresh_touched(con, touched))
    else:
        reports = ingest_paths(con, [Path(f) for f in args.files], dry_run=args.dry_run, actor=actor,
                               client="cli", progress=progress)
        touched = {(r.township_code, r.period) for r in reports if r.status == "stored"}
        if touched:
            refresh_touched(con, touched)  # the stored indicator and progress tables follow every ingest
    if args.json:
        emit([r.as_dict() for r in reports], args)
    else:
        for r in reports:
            if len(reports) == 1:
                print(r.summary_zh)
            for p in r.problems:
                where = " ".join(x for x in (p.cell or p.sheet or "", p.field or "") if x)
                print(f"  {'错误' if p.severity == 'error' else '提示'} [{p.code}] {where}: {p.message}")
        stored = sum(r.status in ("stored", "valid", "unchanged") for r in reports)
        print(f"共 {len(reports)} 个文件:{'检查通过' if args.dry_run else '导入或无变化'} {stored} 个,"
              f"未导入 {len(reports) - stored} 个。")
    return 0 if all(r.status != "rejected" for r in reports) else 2


@command("submissions")
def cmd_submissions(args: argparse.Namespace) -> int:
    """``submissions``: what is stored, with history on request."""
    rows = list_submissions(_db(args), township=args.township, period=args.period, include_superseded=args.all)
    rows = plain_records(pd.DataFrame(rows)) if rows else []
    emit(rows, args, None if args.json else ["id", "township_code", "township_name", "period", "file_name",
                                             "uploaded_at", "uploaded_by", "status", "review_status", "village_rows",
                                             "warnings"])
    return 0


@command("values")
def cmd_values(args: argparse.Namespace) -> int:
    """``values``: the stored values of a township and quarter, or where each came from."""
    parse_period(args.period)
    values = submission_values(_db(args), args.township, args.period)
    if args.trace:
        emit(trace(values), args)
        return 0
    drop = ["submission_id", "source_row"]
    villages = plain_records(values["villages"].drop(columns=drop))
    township = plain_records(values["township"].drop(columns=drop))
    if args.json:
        emit({"submission_id": values["submission"]["id"], "township": args.township, "period": args.period,
              "file": values["submission"]["file_name"], "villages": villages,
              "township_values": township[0] if township else None}, args)
    else:
        emit(villages, args)
    return 0


@command("sample region")
def cmd_sample_region(args: argparse.Namespace) -> int:
    """``sample region``: regenerate the synthetic sample city."""
    files = generate_region(Path(args.output), seed=args.seed)
    emit([{"file": str(p)} for p in files], args)
    return 0


@command("init")
def cmd_init(args: argparse.Namespace) -> int:
    """``init``: build the database from the bundled samples."""
    report = init_database(_db(args), progress=not args.json)
    if args.json:
        emit(report, args)
        return 0
    accounts, where = report.pop("accounts", []), report.pop("accounts_file", "")
    emit(report, args)
    print(f"\n演示账户(每个角色一个;已写入 {where},勿提交):")
    for a in accounts:
        print(f"  {a['name']:<9} 密码 {a['password']:<16} {ROLE_NAMES.get(a['role'], a['role'])} {a['display_name']}")
    print("启动仪表盘后用其中一个账户登录;正式数据库不会建立这些账户,请用 rural-targets user add 新建。")
    return 0


# ------------------------------------------------------------------ indicators, progress, laggards, completeness

def _default_period(con: duckdb.DuckDBPyConnection, unit: str | None) -> str | None:
    """The default quarter (pipelines.compute.completeness.default_quarter: due date passed, returns
    ≥ settings.progress.min_coverage) for ``unit``'s city; a note on stderr says which, or that none
    qualifies."""
    cat = catalog()
    period = default_quarter(con, cat, unit=area_of(unit))
    share = f"{min_coverage(cat):.0%}"
    if period:
        print(f"默认季度:{period_label(period)}(报送截止日已过、报送率达到 {share} 的最近一个季度;"
              "用 --period 或 --as-of 指定其他季度)", file=sys.stderr)
    else:
        print(f"没有报送截止日已过且报送率达到 {share} 的季度:评估结果多为数据不全;用 --period 指定季度",
              file=sys.stderr)
    return period


@command("progress")
def cmd_progress(args: argparse.Namespace) -> int:
    """``progress``: every target × unit × quarter judged; without --as-of/--period every quarter up to
    the default quarter (never a later one that too few townships reported for)."""
    con = _fresh(_db(args), args)
    upto = None
    if args.as_of is None and args.period is None:
        upto = _default_period(con, args.unit)
    rows = assess(con, plan=args.plan, target=args.target, level=args.level, unit=args.unit, as_of=args.as_of,
                  period=args.period, baseline=args.baseline, stored=False if args.live else None)
    if upto is not None:
        rows = [r for r in rows if r.get("period") is None or r["period"] <= upto]
    if args.csv:
        rows = [{k: v for k, v in r.items() if k != "milestones"} for r in rows]
    if args.json or args.csv:
        emit(rows, args)
        return 0
    rows = _rounded(rows)
    for r in rows:
        r["coverage"] = _coverage_text(r)
    emit(rows, args, _status_columns(PROGRESS_TEXT_COLUMNS, rows))
    return 0


def _status_columns(columns: list[str], rows: list[dict[str, Any]]) -> list[str]:
    """The text table's columns: the status as the views word it (``status_label``: 力争目标, 力争目标未实现)
    with, where they apply, who reported a provisional value and the verdict at the deadline."""
    cols = [("status_label" if c == "status_zh" and any("status_label" in r for r in rows) else c) for c in columns]
    at = cols.index("status_label") + 1 if "status_label" in cols else len(cols)
    extra = [c for c in ("coverage", "verdict_at_deadline") if any(r.get(c) for r in rows)]
    return cols[:at] + extra + cols[at:]


@command("indicators")
def cmd_indicators(args: argparse.Namespace) -> int:
    """``indicators``: indicator values per unit and quarter."""
    con = _db(args)
    prefixes = [args.unit[:PREFIX_LEN[get_unit(con, args.unit)["level"]]]] if args.unit else None
    frame = compute(con, indicators=args.indicator, levels=[args.level] if args.level else None, prefixes=prefixes,
                    as_of=args.as_of, periods=[args.period] if args.period else None)
    _table(plain_records(frame.drop(columns=["pidx"])), args,
           ["indicator", "period", "unit_code", "level", "num", "den", "value", "rows", "reported", "expected"])
    return 0


@command("laggards")
def cmd_laggards(args: argparse.Namespace) -> int:
    """``laggards``: the units of a level for one target, worst first (default: the default quarter);
    units without a return in their own 未报送 section after the ranked ones."""
    statuses = [s for x in (args.status or []) for s in x.split(",") if s] or None
    con = _fresh(_db(args), args)
    period = args.period
    if args.as_of is None and period is None:
        period = _default_period(con, args.unit)
    rows = laggards(con, args.target, args.level, as_of=args.as_of, period=period, unit=args.unit,
                    top=args.top, bottom=args.bottom, statuses=statuses)
    if args.csv:
        rows = [{k: v for k, v in r.items() if k != "milestones"} for r in rows]
    columns = ["rank", "unit_code", "unit_name", "period", "value", "target_value", "status_zh", "pi", "tau",
               "gap_pp", "last_return"]
    if args.json or args.csv:
        emit(rows, args)
        return 0
    rows = _rounded(rows)
    for r in rows:
        r["coverage"] = _coverage_text(r)
        r["section_zh"] = _section_zh(r)
    columns = _status_columns(columns, rows)
    sections = list(dict.fromkeys(r["section_zh"] for r in rows))
    if len(sections) <= 1 and rows and rows[0].get("section", "ranked") == "ranked":
        emit(rows, args, columns + (["reason"] if any(r.get("reason") for r in rows) else []))
        return 0
    for i, name in enumerate(sections):
        part = [r for r in rows if r["section_zh"] == name]
        ranked = part[0].get("section", "ranked") == "ranked"
        print(("\n" if i else "") + f"{name}({len(part)} 个{'' if ranked else ',不参与排名'}):")
        cols = columns if ranked else [c for c in columns if c not in ("rank", "pi", "tau", "gap_pp")]
        emit(part, args, cols + (["reason"] if any(r.get("reason") for r in part) else []))
    return 0


def _coverage_text(row: dict[str, Any]) -> str:
    """"125/141" when the row's value rests on fewer than all expected units, else ""."""
    reported, expected = row.get("reported"), row.get("expected")
    if isinstance(reported, (int, float)) and isinstance(expected, (int, float)) and expected and reported < expected:
        return f"{int(reported)}/{int(expected)}"
    return ""


def _section_zh(row: dict[str, Any]) -> str:
    """The laggard section of a row as pipelines.compute.laggards names it (后进名单 when it names none)."""
    return str(row.get("section_zh") or row.get("section") or "后进名单")


@command("completeness")
def cmd_completeness(args: argparse.Namespace) -> int:
    """``completeness``: returns expected, on time, late and missing; the chase list. Without --period:
    every quarter up to the current one (those nobody reported included), then the default quarter."""
    con = _db(args)
    every = args.period is None
    report = completeness(con, args.period, unit=args.unit, every_quarter=every)
    if args.json:
        emit(report, args)
        return 0
    if args.csv:
        emit(report["quarters"] if every else report["townships"], args)
        return 0
    if every:
        print("各季度报送情况(截至本季度,无人报送的季度也列出):")
        quarters = [{**q, "period": period_label(q["period"]),
                     "coverage": "—" if q["coverage"] is None else f"{q['coverage']:.0%}",
                     "due": "已过" if q["due"] else "未到"} for q in report["quarters"]]
        emit(quarters, args, ["period", "due_date", "due", "expected", "received", "on_time", "late", "missing",
                              "pending", "coverage"])
        rule = {"default": f"默认季度:报送截止日已过、报送率达到 {report['min_coverage']:.0%} 的最近一个季度",
                "latest_due": f"没有报送率达到 {report['min_coverage']:.0%} 的季度:列出报送截止日已过的最近一个季度"}
        print(f"\n{rule.get(report['period_rule'], '')}。")
    print(f"{report['period']} 报表(截止 {report['due_date']}):应报 {report['expected']},已报 {report['received']}"
          f"(按时 {report['on_time']},逾期 {report['late']}),未报 {report['missing']},未到期 {report['pending']}")
    emit(report["rollups"], args, ["unit_code", "unit_name", "level_zh", "expected", "received", "on_time", "late",
                                   "missing", "pending", "completeness", "timeliness"])
    print("\n催报名单(未报送的乡镇及其最近一次报送):")
    emit([{**c, "last_return": c["last_return"] or "从未报送"} for c in report["chase"]], args,
         ["township_code", "township_name", "county_name", "last_return"])
    return 0


@command("briefing")
def cmd_briefing(args: argparse.Namespace) -> int:
    """``briefing``: the quarter's briefing of a plan as .docx, .pdf or .pptx."""
    con = _fresh(_db(args), args)
    b = write_briefing(con, args.plan, args.as_of, Path(args.output), unit=args.unit, basis=args.basis)
    summary = {"file": args.output, "title": b.title, "unit": b.unit["code"], "period": b.period, "basis": b.basis,
               "targets": len(b.rows), "statuses": b.counts(), "lagging_targets": [p.info["id"] for p in b.parts]}
    if args.json:
        emit(summary, args)
    else:
        print(f"已写入 {args.output}:{b.title}")
        print("各状态目标数:" + ",".join(f"{STATUS_ZH[k]} {v}" for k, v in b.counts().items()))
    return 0


@command("refresh")
def cmd_refresh(args: argparse.Namespace) -> int:
    """``refresh``: recompute and store every indicator and status."""
    stats = refresh(_db(args), say=None if args.json else (lambda text: print(text, file=sys.stderr)))
    emit(stats, args)
    return 0


@command("task update")
def cmd_task_update(args: argparse.Namespace) -> int:
    """``task update``: record one responsible unit's progress on a task."""
    con = _db(args)
    row = record_task_update(con, args.plan, args.task, args.unit, args.status, args.done_date, args.note,
                             args.evidence, actor=_actor(con, args), client="cli")
    emit(row, args)
    return 0


@command("task list")
def cmd_task_list(args: argparse.Namespace) -> int:
    """``task list``: the latest progress of every task and unit."""
    rows = plain_records(task_records(_db(args), args.plan, as_of=args.as_of))
    emit(rows, args, None if (args.json or args.csv) else ["task_id", "unit", "status", "done_date", "recorded_at",
                                                          "recorded_by", "progress_note"])
    return 0


@command("county record")
def cmd_county_record(args: argparse.Namespace) -> int:
    """``county record``: record fields of the county sheet for a year."""
    values = dict(args.set or [])
    con = _db(args)
    row = record_county_values(con, args.county, args.year, values, actor=_actor(con, args), client="cli")
    emit(row, args)
    return 0


# ------------------------------------------------------------------ accounts, review, audit

@command("user add")
def cmd_user_add(args: argparse.Namespace) -> int:
    """``user add``: a new account (the password from stdin, or a random one shown once)."""
    con = _db(args)
    password, generated = _password(args)
    user = add_user(con, _actor(con, args), args.name, args.role, args.unit, password, args.display, args.email)
    row = {"name": user.name, "display_name": user.display_name, "role": user.role, "unit": user.unit}
    if generated:
        row["password"] = password
        print("初始密码只显示这一次,请转交本人并提醒登录后妥善保管。", file=sys.stderr)
    emit(row, args)
    return 0


@command("user list")
def cmd_user_list(args: argparse.Namespace) -> int:
    """``user list``: the accounts, without their password hashes."""
    rows = list_users(_db(args), local_admin())
    rows = plain_records(pd.DataFrame(rows)) if rows else []
    emit(rows, args, None if (args.json or args.csv) else ["name", "display_name", "role_zh", "unit", "disabled",
                                                          "last_login", "failed_attempts"])
    return 0


@command("user disable")
def cmd_user_disable(args: argparse.Namespace) -> int:
    """``user disable``: the account can no longer sign in."""
    con = _db(args)
    disable_user(con, _actor(con, args), args.name)
    emit({"name": args.name, "disabled": True}, args)
    return 0


@command("user reset-password")
def cmd_user_reset_password(args: argparse.Namespace) -> int:
    """``user reset-password``: a new password (from stdin, or random and shown once); unlocks."""
    con = _db(args)
    password, generated = _password(args)
    reset_password(con, _actor(con, args), args.name, password)
    row = {"name": args.name, **({"password": password} if generated else {})}
    emit(row, args)
    return 0


@command("review list")
def cmd_review_list(args: argparse.Namespace) -> int:
    """``review list``: active submissions and their review state, in the acting user's units."""
    con = _db(args)
    rows = review_queue(con, _actor(con, args), status=args.status)
    rows = plain_records(pd.DataFrame(rows)) if rows else []
    emit(rows, args, None if (args.json or args.csv) else ["id", "township_code", "township_name", "period",
                                                          "uploaded_by", "uploaded_at", "review_zh", "reviewed_by",
                                                          "review_comment"])
    return 0


def _review(args: argparse.Namespace, step: Callable[..., dict[str, Any]], *text: str) -> int:
    con = _db(args)
    row = step(con, _actor(con, args), args.id, *text, client="cli")
    refresh(con)          # approvals change what the indicators use (settings.review.progress_uses)
    emit(row, args)
    return 0


@command("review approve")
def cmd_review_approve(args: argparse.Namespace) -> int:
    """``review approve``: approve and lock a submission."""
    return _review(args, approve)


@command("review return")
def cmd_review_return(args: argparse.Namespace) -> int:
    """``review return``: return a submission with a comment."""
    return _review(args, return_submission, args.comment)


@command("review unlock")
def cmd_review_unlock(args: argparse.Namespace) -> int:
    """``review unlock``: unlock an approved submission, with a reason."""
    return _review(args, unlock, args.reason)


@command("audit")
def cmd_audit(args: argparse.Namespace) -> int:
    """``audit``: the audit trail, newest first, as the acting user may see it."""
    con = _db(args)
    since = dt.date.fromisoformat(args.since) if args.since else None
    rows = entries(con, _actor(con, args), user=args.user, since=since, action=args.action, limit=args.limit)
    rows = plain_records(pd.DataFrame(rows)) if rows else []
    emit(rows, args, None if (args.json or args.csv) else ["id", "at", "user", "action_zh", "object", "outcome_zh",
                                                          "client"])
    return 0


@command("maintain")
def cmd_maintain(args: argparse.Namespace) -> int:
    """``maintain``: orphan archive files removed; stale stored progress refreshed; a DuckLake's small
    files merged and old snapshots expired, a DuckDB file checkpointed."""
    con = _db(args)
    removed = remove_orphans(con)
    stale = not is_fresh(con, catalog())
    if stale:
        refresh(con)
    out: dict[str, Any] = {"orphan_files_removed": removed, "progress_refreshed": stale}
    if is_lake(args.db):
        out.update(lake.maintain(con, args.keep_days))
    else:
        con.execute("CHECKPOINT")
        out["checkpoint"] = True
    emit(out, args)
    return 0


@command("worker")
def cmd_worker(args: argparse.Namespace) -> int:
    """``worker``: check and store the queued uploads in arrival order, until stopped."""
    say = (lambda text: None) if args.json else (lambda text: print(text, file=sys.stderr, flush=True))
    if not args.json:
        print(f"上报处理程序已启动(数据库 {db_label(args.db)},队列 {queue_for(args.db).root});按 Ctrl+C 停止",
              file=sys.stderr, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    counts = run_worker(args.db, once=args.once, parent=args.parent, stop=stop, say=say)
    emit(counts, args)
    return 0


@command("backup")
def cmd_backup(args: argparse.Namespace) -> int:
    """``backup``: a consistent copy of the database."""
    emit({"backup": str(backup(Path(args.output) if args.output else None, args.db))}, args)
    return 0


@command("restore")
def cmd_restore(args: argparse.Namespace) -> int:
    """``restore``: put a backup in place of the database (the replaced one is kept)."""
    emit(restore(Path(args.file), args.db), args)
    return 0


# ------------------------------------------------------------------ benchmarks

@command("bench ingest")
def cmd_bench_ingest(args: argparse.Namespace) -> int:
    """``bench ingest``: the ingest benchmark against its pandas baseline."""
    result = bench_ingest(limit=args.limit)
    if args.json:
        emit(result, args)
    else:
        print("\n".join(ingest_report_lines(result)))
    return 0


@command("bench progress")
def cmd_bench_progress(args: argparse.Namespace) -> int:
    """``bench progress``: the national indicator and progress benchmark."""
    result = bench_progress(provinces=args.provinces, cities=args.cities, counties=args.counties,
                            progress=not args.json, lake_side=args.ducklake)
    if args.json:
        emit(result, args)
        return 0
    print(f"合成全国:{result['villages']:,} 个村,{result['townships']:,} 个乡镇,{result['counties']:,} 个区县,"
          f"{result['periods']} 个季度;{result['targets']} 个目标 × 全部层级")
    print(f"本产品(indicators + progress,写入表):{result['ours_s']} 秒,峰值内存 {result['peak_mb']} MB;"
          f"状态 {result['statuses']:,} 条(乡镇及以上 {result['progress_rows']:,},村级 {result['village_rows']:,} 行)")
    print(f"基线(pandas groupby,同一次运行):{result['baseline_s']} 秒;倍数 {result['ratio']}×")
    if "lake_s" in result:
        print(f"同一计算在 DuckLake(PostgreSQL 目录库)上:{result['lake_s']} 秒(DuckDB 文件 {result['ours_s']} 秒,"
              f"DuckLake ÷ 文件 = {round(result['lake_s'] / result['ours_s'], 1)}×),峰值内存 {result['lake_peak_mb']} MB;"
              f"载入 {result['lake_load_s']} 秒;全部状态行与 DuckDB 文件一致")
    print(f"一个区县一个规划的全部状态(读已存结果):{result['county_ms']} 毫秒({result['county_rows']} 行)")
    print(f"目标:< 60 秒,< 4 GB,≥ 5×,< 200 毫秒;阶段耗时:{result['timing']}")
    return 0


@command("bench dashboard")
def cmd_bench_dashboard(args: argparse.Namespace) -> int:
    """``bench dashboard``: each dashboard page's render times (AppTest, and the browser's first paint)."""
    result = bench_dashboard(scale=args.scale, plan=args.plan, repeat=args.repeat, live=args.live,
                             browser=False if args.no_browser else None)
    if args.json:
        emit(result, args)
        return 0
    print("\n".join(dashboard_report_lines(result)))
    return 0


@command("bench concurrency")
def cmd_bench_concurrency(args: argparse.Namespace) -> int:
    """``bench concurrency``: uploads and page loads at once, through the queue and DuckLake, against
    direct ingests."""
    result = bench_concurrency(clients=args.clients, returns=args.returns, readers=args.readers,
                               modes=tuple(m.strip() for m in args.modes.split(",") if m.strip()),
                               progress=not args.json)
    if args.json:
        emit(result, args)
    else:
        print("\n".join(concurrency_report_lines(result)))
    return 0 if all(side["lost"] == 0 for side in result["modes"].values()) else 1   # the queue lost a file
