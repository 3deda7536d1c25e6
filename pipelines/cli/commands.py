"""What each ``rural-targets`` subcommand does, once ``main`` has parsed its arguments.

One function per command, registered by name in ``COMMANDS`` (the parser's ``handler``
default); each opens the database when it needs it, calls the stage that does the work, and
prints the result with ``emit`` (a text table, ``--json`` or ``--csv``). Problems are raised as
typed errors of the catalogue in ``pipelines/errors.py``; ``main`` turns them into one line.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Iterable

import duckdb
import pandas as pd

from pipelines.bench.dashboard import bench_dashboard
from pipelines.bench.dashboard import report_lines as dashboard_report_lines
from pipelines.bench.ingest import bench_ingest, report_lines as ingest_report_lines
from pipelines.bench.progress import bench_progress
from pipelines.catalog.definitions import catalog
from pipelines.compute.assess import assess
from pipelines.compute.completeness import completeness
from pipelines.compute.indicators import compute
from pipelines.compute.laggards import laggards
from pipelines.compute.records import record_county_values, record_task_update, task_records
from pipelines.compute.refresh import refresh
from pipelines.ingest.pipeline import FileReport, ingest_paths
from pipelines.ingest.store import list_submissions, submission_values, trace
from pipelines.ingest.template import write_county_templates, write_township_template
from pipelines.jsonable import plain_records
from pipelines.periods import parse_period
from pipelines.registry.load import get_unit, list_units, load_registry
from pipelines.samples.init import init_database
from pipelines.samples.region import generate_region
from pipelines.store.db import connect
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
        writer.writerows(rows)
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


def _user(args: argparse.Namespace) -> str | None:
    return args.by or os.environ.get("USER")


# ------------------------------------------------------------------ catalog, registry, returns

@command("targets")
def cmd_targets(args: argparse.Namespace) -> int:
    """``targets``: the catalog's targets, one row each."""
    cat = catalog()
    rows = []
    for plan, t in cat.targets(args.plan):
        ind = cat.indicators.get(t.indicator) if t.indicator else None
        rows.append({
            "plan": plan.code, "id": t.id, "title": t.title, "indicator": t.indicator,
            "comparator": t.comparator, "value": t.value, "tolerance": t.tolerance, "unit": t.unit,
            "deadline": t.deadline.isoformat(), "eval": t.eval, "level": t.level,
            "recurrence": t.recurrence, "lead": t.lead, "partners": t.partners,
            "clause": t.clause, "source_clause": t.source_clause,
            "indicator_title": ind.title if ind else None,
        })
    emit(rows, args, None if args.json else ["plan", "id", "title", "comparator", "value", "unit", "deadline", "eval", "level"])
    return 0


@command("registry load")
def cmd_registry_load(args: argparse.Namespace) -> int:
    """``registry load``: check and load registry files (all or nothing)."""
    report = load_registry(_db(args), [Path(f) for f in args.files],
                           geojson=Path(args.geojson) if args.geojson else None)
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

    reports = ingest_paths(con, [Path(f) for f in args.files], dry_run=args.dry_run, uploaded_by=_user(args),
                           progress=progress)
    if any(r.status == "stored" for r in reports):
        refresh(con)  # the stored indicator and progress tables follow every ingest
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
                                             "uploaded_at", "status", "village_rows", "warnings"])
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
    emit(init_database(_db(args), progress=not args.json), args)
    return 0


# ------------------------------------------------------------------ indicators, progress, laggards, completeness

@command("progress")
def cmd_progress(args: argparse.Namespace) -> int:
    """``progress``: every target × unit × quarter judged."""
    rows = assess(_db(args), plan=args.plan, target=args.target, level=args.level, unit=args.unit, as_of=args.as_of,
                  period=args.period, baseline=args.baseline, stored=False if args.live else None)
    if args.csv:
        rows = [{k: v for k, v in r.items() if k != "milestones"} for r in rows]
    _table(rows, args, PROGRESS_TEXT_COLUMNS)
    return 0


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
    """``laggards``: the units of a level for one target, worst first."""
    statuses = [s for x in (args.status or []) for s in x.split(",") if s] or None
    rows = laggards(_db(args), args.target, args.level, as_of=args.as_of, period=args.period, unit=args.unit,
                    top=args.top, bottom=args.bottom, statuses=statuses)
    if args.csv:
        rows = [{k: v for k, v in r.items() if k != "milestones"} for r in rows]
    _table(rows, args, ["rank", "unit_code", "unit_name", "period", "value", "target_value", "status_zh", "pi", "tau",
                        "gap_pp", "last_return"])
    return 0


@command("completeness")
def cmd_completeness(args: argparse.Namespace) -> int:
    """``completeness``: returns expected, on time, late and missing; the chase list."""
    report = completeness(_db(args), args.period, unit=args.unit)
    if args.json:
        emit(report, args)
        return 0
    if args.csv:
        emit(report["townships"], args)
        return 0
    print(f"{args.period} 报表(截止 {report['due_date']}):应报 {report['expected']},已报 {report['received']}"
          f"(按时 {report['on_time']},逾期 {report['late']}),未报 {report['missing']},未到期 {report['pending']}")
    emit(report["rollups"], args, ["unit_code", "unit_name", "level_zh", "expected", "received", "on_time", "late",
                                   "missing", "pending", "completeness", "timeliness"])
    print("\n催报名单(未报送的乡镇及其最近一次报送):")
    emit(report["chase"], args, ["township_code", "township_name", "county_name", "last_return"])
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
    row = record_task_update(_db(args), args.plan, args.task, args.unit, args.status, args.done_date, args.note,
                             args.evidence, _user(args))
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
    row = record_county_values(_db(args), args.county, args.year, values, _user(args))
    emit(row, args)
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
                            progress=not args.json)
    if args.json:
        emit(result, args)
        return 0
    print(f"合成全国:{result['villages']:,} 个村,{result['townships']:,} 个乡镇,{result['counties']:,} 个区县,"
          f"{result['periods']} 个季度;{result['targets']} 个目标 × 全部层级")
    print(f"本产品(indicators + progress,写入表):{result['ours_s']} 秒,峰值内存 {result['peak_mb']} MB;"
          f"状态 {result['statuses']:,} 条(乡镇及以上 {result['progress_rows']:,},村级 {result['village_rows']:,} 行)")
    print(f"基线(pandas groupby,同一次运行):{result['baseline_s']} 秒;倍数 {result['ratio']}×")
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
