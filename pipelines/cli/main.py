"""The ``rural-targets`` command line. Errors become one line on stderr and a non-zero exit."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Iterable

from pipelines import __version__
from pipelines.errors import ProblemsError, RuralTargetsError
from pipelines.textwidth import text_width

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str) -> Callable:
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
        import csv
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


def _db(args: argparse.Namespace):
    from pipelines.store.db import connect
    return connect(args.db)


# ------------------------------------------------------------------ commands

@command("targets")
def cmd_targets(args: argparse.Namespace) -> int:
    from pipelines.catalog.definitions import catalog
    rows = []
    for plan, t in catalog().targets(args.plan):
        ind = catalog().indicators.get(t.indicator) if t.indicator else None
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
    from pipelines.registry.load import load_registry
    con = _db(args)
    report = load_registry(con, [Path(f) for f in args.files], geojson=Path(args.geojson) if args.geojson else None)
    emit(report, args)
    return 0


@command("registry list")
def cmd_registry_list(args: argparse.Namespace) -> int:
    from pipelines.registry.load import list_units
    con = _db(args)
    rows = list_units(con, level=args.level, parent=args.parent)
    emit(rows, args, None if args.json else ["code", "name", "level", "parent_code"])
    return 0


@command("template")
def cmd_template(args: argparse.Namespace) -> int:
    from pipelines.ingest.template import write_county_templates, write_township_template
    con = _db(args)
    if bool(args.township) == bool(args.county):
        raise SystemExit("rural-targets template: 请给出 --township CODE 或 --county CODE 之一")
    if args.township:
        paths = [write_township_template(con, args.township, args.period, Path(args.output))]
    else:
        paths = write_county_templates(con, args.county, args.period, Path(args.output))
    emit([{"file": str(p)} for p in paths], args)
    return 0


@command("ingest")
def cmd_ingest(args: argparse.Namespace) -> int:
    from pipelines.ingest.pipeline import ingest_paths
    con = _db(args)

    def progress(i: int, n: int, report) -> None:
        if not args.json and n > 1:
            print(f"[{i}/{n}] {report.summary_zh}", file=sys.stderr)

    reports = ingest_paths(con, [Path(f) for f in args.files], dry_run=args.dry_run,
                           uploaded_by=args.by or os.environ.get("USER"), progress=progress)
    if any(r.status == "stored" for r in reports):
        from pipelines.compute.progress import refresh
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
    from pipelines.ingest.pipeline import list_submissions
    from pipelines.jsonable import plain_records
    import pandas as pd
    con = _db(args)
    rows = list_submissions(con, township=args.township, period=args.period, include_superseded=args.all)
    rows = plain_records(pd.DataFrame(rows)) if rows else []
    emit(rows, args, None if args.json else ["id", "township_code", "township_name", "period", "file_name",
                                             "uploaded_at", "status", "village_rows", "warnings"])
    return 0


@command("values")
def cmd_values(args: argparse.Namespace) -> int:
    from pipelines.ingest.pipeline import submission_values, trace
    from pipelines.jsonable import plain_records
    from pipelines.periods import parse_period
    parse_period(args.period)
    con = _db(args)
    values = submission_values(con, args.township, args.period)
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


@command("bench ingest")
def cmd_bench_ingest(args: argparse.Namespace) -> int:
    from pipelines.bench.ingest import bench_ingest
    result = bench_ingest(limit=args.limit)
    if not args.json:
        print(f"乡镇报表 {result['files']} 份,村级数据 {result['rows']} 行(名录:{result['registry']})")
        print(f"本产品:{result['ours_s']} 秒,{result['ours_rows_per_s']} 行/秒")
        print(f"基线(pandas.read_excel+openpyxl,逐行检查,逐行插入):{result['baseline_s']} 秒,"
              f"{result['baseline_rows_per_s']} 行/秒")
        print(f"倍数:{result['ratio']}×(目标 ≥ 10×);本产品峰值内存 {result['peak_mb']} MB;"
              f"处理到 25%/50%/100% 文件时的内存:{result['rss_mb_at_25_50_100pct']} MB")
    else:
        emit(result, args)
    return 0


@command("bench dashboard")
def cmd_bench_dashboard(args: argparse.Namespace) -> int:
    from pipelines.bench.dashboard import bench_dashboard
    result = bench_dashboard(scale=args.scale, plan=args.plan, repeat=args.repeat, live=args.live)
    if args.json:
        emit(result, args)
        return 0
    print(f"合成省:{result['villages']:,} 个村,{result['townships']:,} 个乡镇,{result['periods']} 个季度;"
          f"规划 {result['plan']};AppTest 计时(首次渲染为冷缓存、新会话)")
    source = ("读取已存储的进度表" + (f"(先刷新,用时 {result['refresh_s']} 秒)" if result["refresh_s"] else "")
              if result["progress"] == "stored" else "页面直接计算进度")
    print(f"进度数据:{source}")
    width = max(text_width(r["title"]) for r in result["pages"])
    print(f"{_pad('页面', width)}  首次渲染(秒)  控件变更(秒)  变更内容")
    for r in result["pages"]:
        first = "—" if r["first_s"] is None else f"{r['first_s']:.3f}"
        change = "—" if r["change_s"] is None else f"{r['change_s']:.3f}"
        flag = "" if r["ok"] else "  问题:" + ";".join(r["problems"])
        print(f"{_pad(r['title'], width)}  {first:>12}  {change:>12}  {r['change']}{flag}")
    print(f"目标:首次渲染 < {result['targets']['first_s']} 秒,控件变更 < {result['targets']['change_s']} 秒;"
          f"{'全部达到' if result['all_within_targets'] else '未全部达到'}")
    return 0


@command("sample region")
def cmd_sample_region(args: argparse.Namespace) -> int:
    from pipelines.samples.region import generate_region
    files = generate_region(Path(args.output), seed=args.seed)
    emit([{"file": str(p)} for p in files], args)
    return 0


@command("init")
def cmd_init(args: argparse.Namespace) -> int:
    from pipelines.samples.init import init_database
    con = _db(args)
    report = init_database(con, progress=not args.json)
    emit(report, args)
    return 0


# ------------------------------------------------------------------ progress (indicators, progress, laggards, completeness)

PROGRESS_TEXT_COLUMNS = ["target", "unit_code", "unit_name", "level", "period", "value", "target_value", "status_zh",
                         "pi", "tau", "gap_pp", "projected", "points"]


def _rounded(rows: list[dict[str, Any]], digits: int = 3) -> list[dict[str, Any]]:
    """Rows with floats rounded for a text table (JSON and CSV keep full precision)."""
    return [{k: (round(v, digits) if isinstance(v, float) else v) for k, v in r.items()} for r in rows]


@command("progress")
def cmd_progress(args: argparse.Namespace) -> int:
    from pipelines.compute.progress import assess
    con = _db(args)
    rows = assess(con, plan=args.plan, target=args.target, level=args.level, unit=args.unit, as_of=args.as_of,
                  period=args.period, baseline=args.baseline, stored=False if args.live else None)
    if args.csv:
        rows = [{k: v for k, v in r.items() if k != "milestones"} for r in rows]
    emit(rows if (args.json or args.csv) else _rounded(rows), args, None if (args.json or args.csv) else PROGRESS_TEXT_COLUMNS)
    return 0


@command("indicators")
def cmd_indicators(args: argparse.Namespace) -> int:
    from pipelines.compute.indicators import compute
    from pipelines.jsonable import plain_records
    from pipelines.registry.load import get_unit
    from pipelines.units import PREFIX_LEN
    con = _db(args)
    prefixes = None
    if args.unit:
        prefixes = [args.unit[:PREFIX_LEN[get_unit(con, args.unit)["level"]]]]
    frame = compute(con, indicators=args.indicator, levels=[args.level] if args.level else None, prefixes=prefixes,
                    as_of=args.as_of, periods=[args.period] if args.period else None)
    rows = plain_records(frame.drop(columns=["pidx"]))
    cols = ["indicator", "period", "unit_code", "level", "num", "den", "value", "rows", "reported", "expected"]
    emit(rows if (args.json or args.csv) else _rounded(rows), args, None if (args.json or args.csv) else cols)
    return 0


@command("laggards")
def cmd_laggards(args: argparse.Namespace) -> int:
    from pipelines.compute.progress import laggards
    con = _db(args)
    statuses = [s for x in (args.status or []) for s in x.split(",") if s] or None
    rows = laggards(con, args.target, args.level, as_of=args.as_of, period=args.period, unit=args.unit, top=args.top,
                    bottom=args.bottom, statuses=statuses)
    if args.csv:
        rows = [{k: v for k, v in r.items() if k != "milestones"} for r in rows]
    cols = ["rank", "unit_code", "unit_name", "period", "value", "target_value", "status_zh", "pi", "tau", "gap_pp",
            "last_return"]
    emit(rows if (args.json or args.csv) else _rounded(rows), args, None if (args.json or args.csv) else cols)
    return 0


@command("completeness")
def cmd_completeness(args: argparse.Namespace) -> int:
    from pipelines.compute.completeness import completeness
    con = _db(args)
    report = completeness(con, args.period, unit=args.unit)
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
    from pipelines.compute.progress import refresh
    con = _db(args)
    stats = refresh(con, say=None if args.json else (lambda text: print(text, file=sys.stderr)))
    emit(stats, args)
    return 0


@command("task update")
def cmd_task_update(args: argparse.Namespace) -> int:
    from pipelines.compute.progress import record_task_update
    con = _db(args)
    row = record_task_update(con, args.plan, args.task, args.unit, args.status, args.done_date, args.note,
                             args.evidence, args.by or os.environ.get("USER"))
    emit(row, args)
    return 0


@command("task list")
def cmd_task_list(args: argparse.Namespace) -> int:
    from pipelines.jsonable import plain_records
    from pipelines.compute.progress import task_records
    con = _db(args)
    rows = plain_records(task_records(con, args.plan, as_of=args.as_of))
    emit(rows, args, None if (args.json or args.csv) else ["task_id", "unit", "status", "done_date", "recorded_at",
                                                          "recorded_by", "progress_note"])
    return 0


@command("county record")
def cmd_county_record(args: argparse.Namespace) -> int:
    from pipelines.compute.progress import record_county_values
    con = _db(args)
    values = {}
    for item in args.set or []:
        if "=" not in item:
            raise SystemExit(f"rural-targets county record: --set 应写成 字段=值,现为 {item!r}")
        key, value = item.split("=", 1)
        values[key.strip()] = value.strip()
    row = record_county_values(con, args.county, args.year, values, args.by or os.environ.get("USER"))
    emit(row, args)
    return 0


@command("bench progress")
def cmd_bench_progress(args: argparse.Namespace) -> int:
    from pipelines.bench.progress import bench_progress
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


# ------------------------------------------------------------------ parser

def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    p = argparse.ArgumentParser(prog="rural-targets", description="乡村治理目标监测:目标目录、乡镇季度报表、进度评估。")
    p.add_argument("--db", metavar="PATH", help="DuckDB 数据库文件(默认:$RURAL_TARGETS_DB,否则 data/rural_targets.duckdb)")
    p.add_argument("--version", action="version", version=f"rural-targets {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def out_flags(sp: argparse.ArgumentParser, csv: bool = False) -> None:
        sp.add_argument("--json", action="store_true", help="以 JSON 输出")
        if csv:
            sp.add_argument("--csv", action="store_true", help="以 CSV 输出")

    sp = sub.add_parser("targets", help="列出规划目标", description="列出目录中的规划目标。")
    sp.add_argument("--plan", metavar="CODE", help="只列出该规划(如 changde-2018)")
    out_flags(sp, csv=True)
    sp.set_defaults(handler="targets")

    reg = sub.add_parser("registry", help="区划名录:导入、列出", description="统计用区划名录。")
    regsub = reg.add_subparsers(dest="registry_command", metavar="SUBCOMMAND", required=True)
    sp = regsub.add_parser("load", help="导入区划名录(CSV 或 xlsx,国家统计局格式)",
                           description="导入区划名录:代码、名称、上级代码;层级由代码推出。有错误时整个文件不导入。")
    sp.add_argument("files", nargs="+", metavar="FILE", help="CSV 或 xlsx 文件")
    sp.add_argument("--geojson", metavar="FILE", help="边界 GeoJSON,要素属性 code 为12位代码")
    out_flags(sp)
    sp.set_defaults(handler="registry load")
    sp = regsub.add_parser("list", help="列出单位", description="列出名录中的单位。")
    sp.add_argument("--level", choices=["province", "city", "county", "township", "village"])
    sp.add_argument("--parent", metavar="CODE", help="只列出该单位的下级")
    out_flags(sp, csv=True)
    sp.set_defaults(handler="registry list")

    sp = sub.add_parser("template", help="生成乡镇季度报表模板(.xlsx)",
                        description="生成一个乡镇(--township)或一个区县所有乡镇(--county)的季度报表模板。")
    sp.add_argument("--township", metavar="CODE")
    sp.add_argument("--county", metavar="CODE")
    sp.add_argument("--period", required=True, metavar="P", help="报告期,如 2024Q3")
    sp.add_argument("-o", "--output", required=True, metavar="PATH", help="输出文件(--township)或目录(--county)")
    out_flags(sp)
    sp.set_defaults(handler="template")

    smp = sub.add_parser("sample", help="示例数据生成", description="生成合成的示例地区与示例报表。")
    smpsub = smp.add_subparsers(dest="sample_command", metavar="SUBCOMMAND", required=True)
    sp = sub.add_parser("ingest", help="导入乡镇季度报表(.xlsx/.xls/.csv)",
                        description="检查并导入乡镇季度报表。任何一处错误都会使该文件整体不导入;提示不影响导入。")
    sp.add_argument("files", nargs="+", metavar="FILE")
    sp.add_argument("--dry-run", action="store_true", help="只检查,不导入")
    sp.add_argument("--by", metavar="NAME", help="上传人(默认:当前用户)")
    out_flags(sp)
    sp.set_defaults(handler="ingest")

    sp = sub.add_parser("submissions", help="列出已导入的报送", description="列出已导入的报送(默认只列当前有效的)。")
    sp.add_argument("--township", metavar="CODE")
    sp.add_argument("--period", metavar="P")
    sp.add_argument("--all", action="store_true", help="包括已被替换的历史报送")
    out_flags(sp, csv=True)
    sp.set_defaults(handler="submissions")

    sp = sub.add_parser("values", help="查看一个乡镇一个报告期的已导入数值",
                        description="当前有效报送的数值,每村一行;--trace 列出每个数值来自的文件、工作表和单元格。")
    sp.add_argument("--township", required=True, metavar="CODE")
    sp.add_argument("--period", required=True, metavar="P")
    sp.add_argument("--trace", action="store_true", help="列出每个数值的来源单元格")
    out_flags(sp, csv=True)
    sp.set_defaults(handler="values")

    bench = sub.add_parser("bench", help="性能基准(与基线在同一次运行中比较)", description="性能基准。")
    benchsub = bench.add_subparsers(dest="bench_command", metavar="SUBCOMMAND", required=True)
    sp = benchsub.add_parser("ingest", help="省级规模报表导入:本产品 vs 朴素基线",
                             description="用湖南省名录(或同规模的生成名录)为每个乡镇生成一份报表,分别用本产品和朴素基线导入,比较速度与内存。")
    sp.add_argument("--limit", type=int, metavar="N", help="只用前 N 个乡镇(冒烟测试用)")
    out_flags(sp)
    sp.set_defaults(handler="bench ingest")

    sp = benchsub.add_parser("dashboard", help="仪表盘各页面首次渲染与控件变更耗时(省级规模合成数据)",
                             description="在约3万个村、12个季度的合成省数据库上,用 Streamlit AppTest 测量每个页面的首次渲染"
                                         "(冷缓存)和一次控件变更的耗时。目标:首次渲染 < 2 秒,变更 < 0.5 秒。")
    sp.add_argument("--plan", default="changde-2018", metavar="CODE", help="侧栏所选规划(默认 changde-2018)")
    sp.add_argument("--scale", type=float, default=1.0, metavar="X", help="数据规模(1 = 省级;冒烟测试用 0.1)")
    sp.add_argument("--repeat", type=int, default=1, metavar="N", help="每页重复 N 次取最快")
    sp.add_argument("--live", action="store_true", help="不用已存储的进度表,由页面直接计算进度")
    out_flags(sp)
    sp.set_defaults(handler="bench dashboard")

    sp = smpsub.add_parser("region", help="生成示例市的区划、人口和边界", description="按固定随机种子生成示例市(合成数据)。")
    sp.add_argument("-o", "--output", default="data/samples/region", metavar="DIR")
    sp.add_argument("--seed", type=int, default=20181107)
    out_flags(sp)
    sp.set_defaults(handler="sample region")

    sp = sub.add_parser("init", help="用示例数据建立数据库", description="导入示例市的区划和示例报表,建立数据库(可重复运行)。")
    out_flags(sp)
    sp.set_defaults(handler="init")

    # --- progress (indicators, progress, laggards, completeness, task and county updates) ---------------
    levels = ["province", "city", "county", "township", "village", "department"]
    sp = sub.add_parser("progress", help="各目标在各层级、各季度的进度评估(序时进度与预测)",
                        description="每个目标 × 单位 × 季度:状态(已达标/进度正常/进度滞后/严重滞后/已逾期未达标/无数据)、"
                                    "完成进度 pi、序时进度 tau、差距、到期预测值、尚需每季增量、数据点数。")
    sp.add_argument("--plan", metavar="CODE", help="只评估该规划(如 changde-2018)")
    sp.add_argument("--target", metavar="ID", help="只评估该目标(如 cd-elder-assoc)")
    sp.add_argument("--level", choices=levels, help="只列出该层级(department:督办任务的责任单位)")
    sp.add_argument("--unit", metavar="CODE", help="只列出该单位及其下级")
    sp.add_argument("--as-of", metavar="P", help="按当时情况评估:只用该季度及以前、在其报送截止日前收到的报表(只列该季度)")
    sp.add_argument("--period", metavar="P", help="只列出该季度(用现有全部数据)")
    sp.add_argument("--baseline", metavar="P", help="基期:取该季度及以后的第一个数据(默认:规划开始)")
    sp.add_argument("--live", action="store_true", help="不读已存结果,重新计算")
    out_flags(sp, csv=True)
    sp.set_defaults(handler="progress")

    sp = sub.add_parser("indicators", help="指标值:各单位各季度(分子之和 ÷ 分母之和)",
                        description="按目录定义计算指标:各层级单位各季度的分子之和、分母之和、指标值,以及参与计算的单位数、"
                                    "已报和应报单位数(无报表即无数据,不按0计)。")
    sp.add_argument("--indicator", action="append", metavar="ID", help="指标编号(可重复;默认全部)")
    sp.add_argument("--level", choices=["province", "city", "county", "township", "village"])
    sp.add_argument("--unit", metavar="CODE", help="只算该单位及其下级")
    sp.add_argument("--period", metavar="P", help="只算该季度")
    sp.add_argument("--as-of", metavar="P", help="按当时情况(该季度报送截止日前收到的报表)")
    out_flags(sp, csv=True)
    sp.set_defaults(handler="indicators")

    sp = sub.add_parser("laggards", help="后进名单:某目标某层级的单位,最差的在前",
                        description="按严重程度(已逾期未达标 > 严重滞后 > 进度滞后 > 无数据 > 即将到期 > 进度正常 > 逾期完成 > 已达标)"
                                    "和差距(完成进度 - 序时进度)排序,列出数值、目标值、状态、pi、tau 和最近一次报送的季度。")
    sp.add_argument("--target", required=True, metavar="ID")
    sp.add_argument("--level", required=True, choices=levels)
    sp.add_argument("--as-of", metavar="P", help="按当时情况(该季度报送截止日前收到的报表)")
    sp.add_argument("--period", metavar="P", help="该季度(用现有全部数据;默认最近一个有数据的季度)")
    sp.add_argument("--unit", metavar="CODE", help="只看该单位下的单位")
    sp.add_argument("--top", type=int, metavar="N", help="只列前 N 个(最差的)")
    sp.add_argument("--bottom", type=int, metavar="N", help="只列最后 N 个(最好的)")
    sp.add_argument("--status", action="append", metavar="S", help="只列这些状态(英文键,可重复或用逗号分隔)")
    out_flags(sp, csv=True)
    sp.set_defaults(handler="laggards")

    sp = sub.add_parser("completeness", help="报表报送完整率与及时率、催报名单",
                        description="每个乡镇该季度应报、已报(首次上传时间)、按时(次月15日前,见 settings.reporting.due_day)、"
                                    "逾期(天数)、未报;按区县、市汇总;未报乡镇及其最近一次报送。")
    sp.add_argument("--period", required=True, metavar="P", help="报告期,如 2024Q3")
    sp.add_argument("--unit", metavar="CODE", help="只看该单位下的乡镇")
    out_flags(sp, csv=True)
    sp.set_defaults(handler="completeness")

    sp = sub.add_parser("refresh", help="重新计算并保存全部指标值与进度(导入后运行)",
                        description="计算全部指标(乡镇及以上)和全部目标在各层级各季度的状态,写入 indicator_values、progress、"
                                    "progress_village 表,供仪表盘快速读取。")
    out_flags(sp)
    sp.set_defaults(handler="refresh")

    task = sub.add_parser("task", help="督办任务进展:登记、列出", description="督办任务(如 sichuan-2021 的任务清单)的进展。")
    tasksub = task.add_subparsers(dest="task_command", metavar="SUBCOMMAND", required=True)
    sp = tasksub.add_parser("update", help="登记一项任务一个责任单位的进展(保留历史)",
                            description="登记进展:未启动/推进中/已完成(已完成须填完成日期)。每次登记追加一条,历史保留。")
    sp.add_argument("--plan", required=True, metavar="CODE")
    sp.add_argument("--task", required=True, metavar="ID", help="任务编号,如 sc-task-01")
    sp.add_argument("--unit", required=True, metavar="NAME", help="责任单位(牵头或参与),如 民政厅")
    sp.add_argument("--status", required=True, choices=["未启动", "推进中", "已完成"])
    sp.add_argument("--done-date", metavar="YYYY-MM-DD")
    sp.add_argument("--note", metavar="TEXT", help="进展情况说明")
    sp.add_argument("--evidence", metavar="TEXT", help="佐证材料")
    sp.add_argument("--by", metavar="NAME", help="登记人(默认:当前用户)")
    out_flags(sp)
    sp.set_defaults(handler="task update")
    sp = tasksub.add_parser("list", help="列出各任务各责任单位的最新进展", description="各任务各责任单位的最新一条进展。")
    sp.add_argument("--plan", required=True, metavar="CODE")
    sp.add_argument("--as-of", metavar="P", help="该季度报送截止日时的最新进展")
    out_flags(sp, csv=True)
    sp.set_defaults(handler="task list")

    county = sub.add_parser("county", help="区县年度数据(区县情况表)", description="区县年度数据:创新实验数、实施方案报送日期。")
    countysub = county.add_subparsers(dest="county_command", metavar="SUBCOMMAND", required=True)
    sp = countysub.add_parser("record", help="登记一个区县一年的数据(保留历史)",
                              description="登记区县情况表的字段,如 --set innovation_experiments=2 --set "
                                          "implementation_plan_filed=2018-11-25。未给出的字段沿用该年上一条记录。")
    sp.add_argument("--county", required=True, metavar="CODE")
    sp.add_argument("--year", required=True, type=int)
    sp.add_argument("--set", action="append", metavar="FIELD=VALUE")
    sp.add_argument("--by", metavar="NAME")
    out_flags(sp)
    sp.set_defaults(handler="county record")

    sp = benchsub.add_parser("progress", help="全国规模指标与进度计算:本产品 vs pandas 基线",
                             description="在合成的全国数据(约49万个村、3.8万个乡镇、2800个区县、12个季度)上计算全部指标和全部目标在"
                                         "各层级的状态,与直接的 pandas groupby 基线在同一次运行中比较;并测量读取一个区县一个规划全部状态的耗时。")
    sp.add_argument("--provinces", type=int, default=31, metavar="N", help="省数(冒烟测试用 1)")
    sp.add_argument("--cities", type=int, default=10, metavar="N", help="每省市数")
    sp.add_argument("--counties", type=int, default=9, metavar="N", help="每市区县数")
    out_flags(sp)
    sp.set_defaults(handler="bench progress")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``rural-targets``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.handler](args) or 0
    except ProblemsError as exc:
        if getattr(args, "json", False):
            print(json.dumps({"status": "rejected", "problems": [p.as_dict() for p in exc.problems]},
                             ensure_ascii=False, indent=1, default=str))
        else:
            for p in exc.problems:
                print(f"{p.severity}: [{p.code}] {p.message}", file=sys.stderr)
        print(f"rural-targets: 错误 {exc}", file=sys.stderr)
        return 2
    except RuralTargetsError as exc:
        print(f"rural-targets: 错误 [{exc.code}] {exc.message_zh} ({exc.message_en})", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into head & co.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("rural-targets: 已中断 (interrupted)", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the one boundary where anything becomes a message
        print(f"rural-targets: 内部错误 (internal error): {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
