"""The ``rural-targets`` command line. Errors become one line on stderr and a non-zero exit."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Iterable

from . import __version__
from .errors import ProblemsError, RuralTargetsError

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
    widths = [max(_width(c), *(_width(t[i]) for t in text)) for i, c in enumerate(cols)]
    print("  ".join(_pad(c, w) for c, w in zip(cols, widths)))
    for t in text:
        print("  ".join(_pad(v, w) for v, w in zip(t, widths)))


def _width(s: str) -> int:
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in s)


def _pad(s: str, width: int) -> str:
    return s + " " * (width - _width(s))


def _db(args: argparse.Namespace):
    from .db import connect
    return connect(args.db)


# ------------------------------------------------------------------ commands

@command("targets")
def cmd_targets(args: argparse.Namespace) -> int:
    from .catalog import catalog
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
    from .registry import load_registry
    con = _db(args)
    report = load_registry(con, [Path(f) for f in args.files], geojson=Path(args.geojson) if args.geojson else None)
    emit(report, args)
    return 0


@command("registry list")
def cmd_registry_list(args: argparse.Namespace) -> int:
    from .registry import list_units
    con = _db(args)
    rows = list_units(con, level=args.level, parent=args.parent)
    emit(rows, args, None if args.json else ["code", "name", "level", "parent_code"])
    return 0


@command("template")
def cmd_template(args: argparse.Namespace) -> int:
    from .template import write_county_templates, write_township_template
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
    from .ingest import ingest_paths
    con = _db(args)

    def progress(i: int, n: int, report) -> None:
        if not args.json and n > 1:
            print(f"[{i}/{n}] {report.summary_zh}", file=sys.stderr)

    reports = ingest_paths(con, [Path(f) for f in args.files], dry_run=args.dry_run,
                           uploaded_by=args.by or os.environ.get("USER"), progress=progress)
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
    from .ingest import list_submissions, plain_records
    import pandas as pd
    con = _db(args)
    rows = list_submissions(con, township=args.township, period=args.period, include_superseded=args.all)
    rows = plain_records(pd.DataFrame(rows)) if rows else []
    emit(rows, args, None if args.json else ["id", "township_code", "township_name", "period", "file_name",
                                             "uploaded_at", "status", "village_rows", "warnings"])
    return 0


@command("values")
def cmd_values(args: argparse.Namespace) -> int:
    from .ingest import plain_records, submission_values, trace
    from .periods import parse_period
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
    from .bench import bench_ingest
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


@command("sample region")
def cmd_sample_region(args: argparse.Namespace) -> int:
    from .sample_region import generate_region
    files = generate_region(Path(args.output), seed=args.seed)
    emit([{"file": str(p)} for p in files], args)
    return 0


@command("init")
def cmd_init(args: argparse.Namespace) -> int:
    from .samples import init_database
    con = _db(args)
    report = init_database(con, progress=not args.json)
    emit(report, args)
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

    sp = smpsub.add_parser("region", help="生成示例市的区划、人口和边界", description="按固定随机种子生成示例市(合成数据)。")
    sp.add_argument("-o", "--output", default="data/samples/region", metavar="DIR")
    sp.add_argument("--seed", type=int, default=20181107)
    out_flags(sp)
    sp.set_defaults(handler="sample region")

    sp = sub.add_parser("init", help="用示例数据建立数据库", description="导入示例市的区划和示例报表,建立数据库(可重复运行)。")
    out_flags(sp)
    sp.set_defaults(handler="init")
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
