"""The ``rural-targets`` command line: the parser of every subcommand, its Markdown reference
(the README's "Command line" section is generated from it: ``rural-targets docs cli``), and
the one error boundary where problems become a single line on stderr and a non-zero exit.
What each command does is in ``pipelines.cli.commands``.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

from pipelines import __version__
from pipelines.errors import ProblemsError, RuralTargetsError

PROG = "rural-targets"
LEVELS = ["province", "city", "county", "township", "village"]
README_START = "<!-- cli-reference:start -->"
README_END = "<!-- cli-reference:end -->"


# ------------------------------------------------------------------ parser

def _field_value(text: str) -> tuple[str, str]:
    """``FIELD=VALUE`` of ``county record --set`` as a pair."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"应写成 字段=值,现为 {text!r}")
    key, value = text.split("=", 1)
    return key.strip(), value.strip()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand (each leaf sets ``handler``, its command's name)."""
    p = argparse.ArgumentParser(prog=PROG, description="乡村治理目标监测:目标目录、乡镇季度报表、进度评估。")
    p.add_argument("--db", metavar="PATH|URL", help="DuckDB 数据库文件(默认:$RURAL_TARGETS_DB,否则 data/rural_targets.duckdb),"
                   "或 DuckLake 数据库 ducklake:postgres:<libpq 连接串>(多台服务器共享)")
    p.add_argument("--data-path", metavar="DIR", help="DuckLake 的数据文件目录(默认:$RURAL_TARGETS_DATA_PATH;各服务器共享的目录),"
                   "报表原件、上报队列和日志也放在这里")
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}", help="显示版本号并退出")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    outputs: list[tuple[argparse.ArgumentParser, bool, bool]] = []  # the output flags go after each command's own

    def leaf(parent: argparse._SubParsersAction, name: str, handler: str, summary: str, description: str,
             json_flag: bool = True, csv: bool = False) -> argparse.ArgumentParser:
        """A command that runs something: its parser, with ``handler`` set to its name."""
        sp = parent.add_parser(name, help=summary, description=description)
        sp.set_defaults(handler=handler)
        outputs.append((sp, json_flag, csv))
        return sp

    def group(name: str, summary: str, description: str) -> argparse._SubParsersAction:
        """A command made of subcommands (``registry``, ``task``…): the subparsers to add them to."""
        gp = sub.add_parser(name, help=summary, description=description)
        return gp.add_subparsers(dest=f"{name}_command", metavar="SUBCOMMAND", required=True)

    # --- catalog, registry, returns -------------------------------------------------------------
    sp = leaf(sub, "targets", "targets", "列出规划目标", "列出目录中的规划目标。", csv=True)
    sp.add_argument("--plan", metavar="CODE", help="只列出该规划(如 changde-2018)")

    reg = group("registry", "区划名录:导入、列出", "统计用区划名录。")
    sp = leaf(reg, "load", "registry load", "导入区划名录(CSV 或 xlsx,国家统计局格式)",
              "导入区划名录:代码、名称、上级代码;层级由代码推出。有错误时整个文件不导入。")
    sp.add_argument("files", nargs="+", metavar="FILE", help="CSV 或 xlsx 文件")
    sp.add_argument("--geojson", metavar="FILE", help="边界 GeoJSON,要素属性 code 为12位代码")
    sp.add_argument("--as", dest="as_user", metavar="NAME", help="以该账户的身份和权限执行(默认:本机管理员)")
    sp = leaf(reg, "list", "registry list", "列出单位", "列出名录中的单位。", csv=True)
    sp.add_argument("--level", choices=LEVELS, help="只列出该层级")
    sp.add_argument("--parent", metavar="CODE", help="只列出该单位的下级")

    sp = leaf(sub, "template", "template", "生成乡镇季度报表模板(.xlsx)",
              "生成一个乡镇(--township)或一个区县所有乡镇(--county)的季度报表模板。")
    who = sp.add_mutually_exclusive_group(required=True)
    who.add_argument("--township", metavar="CODE", help="乡镇代码:生成该乡镇的一份模板")
    who.add_argument("--county", metavar="CODE", help="区县代码:为该区县每个乡镇各生成一份模板")
    sp.add_argument("--period", required=True, metavar="P", help="报告期,如 2024Q3")
    sp.add_argument("-o", "--output", required=True, metavar="PATH", help="输出文件(--township)或目录(--county)")

    sp = leaf(sub, "ingest", "ingest", "导入乡镇季度报表(.xlsx/.xls/.csv)",
              "检查并导入乡镇季度报表。任何一处错误都会使该文件整体不导入;提示不影响导入。"
              "全部导入或无变化时退出码为 0,有文件未导入时为 2。")
    sp.add_argument("files", nargs="+", metavar="FILE", help="报表文件")
    sp.add_argument("--dry-run", action="store_true", help="只检查,不导入")
    sp.add_argument("--as", dest="as_user", metavar="NAME", help="以该账户的身份和权限执行(默认:本机管理员)")

    sp = leaf(sub, "submissions", "submissions", "列出已导入的报送", "列出已导入的报送(默认只列当前有效的)。", csv=True)
    sp.add_argument("--township", metavar="CODE", help="只列出该乡镇的")
    sp.add_argument("--period", metavar="P", help="只列出该报告期的")
    sp.add_argument("--all", action="store_true", help="包括已被替换的历史报送")

    sp = leaf(sub, "values", "values", "查看一个乡镇一个报告期的已导入数值",
              "当前有效报送的数值,每村一行;--trace 列出每个数值来自的文件、工作表和单元格。", csv=True)
    sp.add_argument("--township", required=True, metavar="CODE", help="乡镇代码")
    sp.add_argument("--period", required=True, metavar="P", help="报告期,如 2024Q3")
    sp.add_argument("--trace", action="store_true", help="列出每个数值的来源单元格")

    # --- indicators, progress, laggards, completeness, task and county updates --------------------
    sp = leaf(sub, "indicators", "indicators", "指标值:各单位各季度(分子之和 ÷ 分母之和)",
              "按目录定义计算指标:各层级单位各季度的分子之和、分母之和、指标值,以及参与计算的单位数、"
              "已报和应报单位数(无报表即无数据,不按0计)。", csv=True)
    sp.add_argument("--indicator", action="append", metavar="ID", help="指标编号(可重复;默认全部)")
    sp.add_argument("--level", choices=LEVELS, help="只算该层级")
    sp.add_argument("--unit", metavar="CODE", help="只算该单位及其下级")
    sp.add_argument("--period", metavar="P", help="只算该季度")
    sp.add_argument("--as-of", metavar="P", help="按当时情况(该季度报送截止日前收到的报表)")

    judged = LEVELS + ["department"]
    sp = leaf(sub, "progress", "progress", "各目标在各层级、各季度的进度评估(序时进度与预测)",
              "每个目标 × 单位 × 季度:状态(已达标/逾期完成/进度正常/即将到期/进度滞后/严重滞后/已逾期未达标/"
              "无数据/数据不全/不判定)、截止时的结论、报送覆盖率(coverage)、是否力争目标、完成进度 pi、序时进度 tau、"
              "差距、到期预测值、尚需每季增量、数据点数。", csv=True)
    sp.add_argument("--plan", metavar="CODE", help="只评估该规划(如 changde-2018)")
    sp.add_argument("--target", metavar="ID", help="只评估该目标(如 cd-elder-assoc)")
    sp.add_argument("--level", choices=judged, help="只列出该层级(department:督办任务的责任单位)")
    sp.add_argument("--unit", metavar="CODE", help="只列出该单位及其下级")
    sp.add_argument("--as-of", metavar="P", help="按当时情况评估:只用该季度及以前、在其报送截止日前收到的报表(只列该季度)")
    sp.add_argument("--period", metavar="P",
                    help="只列出该季度(用现有全部数据;两者都不给:列出截至默认季度——报送截止日已过、"
                         "报送率达到 settings.progress.min_coverage 的最近一个季度——的每个季度)")
    sp.add_argument("--baseline", metavar="P", help="基期:取该季度及以后的第一个数据(默认:规划开始)")
    sp.add_argument("--live", action="store_true", help="不读已存结果,重新计算")

    sp = leaf(sub, "laggards", "laggards", "后进名单:某目标某层级的单位,最差的在前",
              "按严重程度(已逾期未达标 > 严重滞后 > 进度滞后 > 无数据 > 即将到期 > 进度正常 > 逾期完成 > 已达标)"
              "和差距(完成进度 - 序时进度)排序,列出数值、目标值、状态、pi、tau 和最近一次报送的季度。", csv=True)
    sp.add_argument("--target", required=True, metavar="ID", help="目标编号")
    sp.add_argument("--level", required=True, choices=judged, help="单位层级")
    sp.add_argument("--as-of", metavar="P", help="按当时情况(该季度报送截止日前收到的报表)")
    sp.add_argument("--period", metavar="P",
                    help="该季度(用现有全部数据;默认:报送截止日已过、报送率达到 settings.progress.min_coverage 的最近一个季度)")
    sp.add_argument("--unit", metavar="CODE", help="只看该单位下的单位")
    sp.add_argument("--top", type=int, metavar="N", help="只列前 N 个(最差的)")
    sp.add_argument("--bottom", type=int, metavar="N", help="只列最后 N 个(最好的)")
    sp.add_argument("--status", action="append", metavar="S", help="只列这些状态(英文键,可重复或用逗号分隔)")

    sp = leaf(sub, "completeness", "completeness", "报表报送完整率与及时率、催报名单",
              "每个乡镇该季度应报、已报(首次上传时间)、按时(次月15日前,见 settings.reporting.due_day)、"
              "逾期(天数)、未报;按区县、市汇总;未报乡镇及其最近一次报送。", csv=True)
    sp.add_argument("--period", metavar="P",
                    help="报告期,如 2024Q3(默认:列出截至本季度的每个季度,再详列报送截止日已过、报送率达到 "
                         "settings.progress.min_coverage 的最近一个季度)")
    sp.add_argument("--unit", metavar="CODE", help="只看该单位下的乡镇")

    sp = leaf(sub, "briefing", "briefing", "写简报(通报):Word、PDF 或幻灯片",
              "按已存数据为一个规划写季度简报(通报):标题、发文单位和日期、带实际数字的概述(各状态目标数、报送率和及时率)、"
              "各目标完成进度图、滞后目标分布图、每个滞后或未达标目标的走势图、进度地图和单位排名、未报送名单、"
              "测算方法和各目标的条款与解读。输出文件以 .docx、.pdf(经 LibreOffice 转换)或 .pptx 结尾;图片由 Chromium 绘制。")
    sp.add_argument("--plan", required=True, metavar="CODE", help="规划编号(如 changde-2018)")
    sp.add_argument("--as-of", required=True, metavar="P", help="截至季度,如 2020Q3")
    sp.add_argument("--unit", metavar="CODE", help="单位代码(默认:规划所属的市,或名录中跟踪该规划的单位)")
    sp.add_argument("--basis", choices=["now", "then"], default="now",
                    help="now:按现有全部数据(默认,与 progress --period 相同);then:只用该季度报送截止日前收到的报表"
                         "(与 progress --as-of 相同)")
    sp.add_argument("-o", "--output", required=True, metavar="FILE", help="输出文件:.docx、.pdf 或 .pptx")

    leaf(sub, "refresh", "refresh", "重新计算并保存全部指标值与进度(导入后运行)",
         "计算全部指标(乡镇及以上)和全部目标在各层级各季度的状态,写入 indicator_values、progress、"
         "progress_village 表,供仪表盘快速读取。")

    task = group("task", "督办任务进展:登记、列出", "督办任务(如 sichuan-2021 的任务清单)的进展。")
    sp = leaf(task, "update", "task update", "登记一项任务一个责任单位的进展(保留历史)",
              "登记进展:未启动/推进中/已完成(已完成须填完成日期)。每次登记追加一条,历史保留。")
    sp.add_argument("--plan", required=True, metavar="CODE", help="规划编号")
    sp.add_argument("--task", required=True, metavar="ID", help="任务编号,如 sc-task-01")
    sp.add_argument("--unit", required=True, metavar="NAME", help="责任单位(牵头或参与),如 民政厅")
    sp.add_argument("--status", required=True, choices=["未启动", "推进中", "已完成"], help="进展状态")
    sp.add_argument("--done-date", metavar="YYYY-MM-DD", help="完成日期(状态为已完成时必填)")
    sp.add_argument("--note", metavar="TEXT", help="进展情况说明")
    sp.add_argument("--evidence", metavar="TEXT", help="佐证材料")
    sp.add_argument("--as", dest="as_user", metavar="NAME", help="以该账户的身份和权限执行(默认:本机管理员)")
    sp = leaf(task, "list", "task list", "列出各任务各责任单位的最新进展", "各任务各责任单位的最新一条进展。", csv=True)
    sp.add_argument("--plan", required=True, metavar="CODE", help="规划编号")
    sp.add_argument("--as-of", metavar="P", help="该季度报送截止日时的最新进展")

    county = group("county", "区县年度数据(区县情况表)", "区县年度数据:创新实验数、实施方案报送日期。")
    sp = leaf(county, "record", "county record", "登记一个区县一年的数据(保留历史)",
              "登记区县情况表的字段,如 --set innovation_experiments=2 --set "
              "implementation_plan_filed=2018-11-25。未给出的字段沿用该年上一条记录。")
    sp.add_argument("--county", required=True, metavar="CODE", help="区县代码")
    sp.add_argument("--year", required=True, type=int, help="年份")
    sp.add_argument("--set", action="append", type=_field_value, metavar="FIELD=VALUE", help="字段=值(可重复)")
    sp.add_argument("--as", dest="as_user", metavar="NAME", help="以该账户的身份和权限执行(默认:本机管理员)")

    # --- accounts, review, audit -------------------------------------------------------------------
    user = group("user", "账户:新建、列出、停用、重置密码",
                 "仪表盘的登录账户。命令行本身以本机管理员身份执行(能打开数据库文件的人即管理员)。")
    sp = leaf(user, "add", "user add", "新建账户", "新建一个账户;密码从标准输入读取(--password-stdin),否则随机生成并显示一次。")
    sp.add_argument("name", metavar="NAME", help="用户名(字母、数字、下划线、连字符或点,2–32 位)")
    sp.add_argument("--role", required=True, choices=["clerk", "county", "city", "admin"],
                    help="角色:clerk 乡镇填报员、county 区县审核员、city 市级管理员、admin 系统管理员")
    sp.add_argument("--unit", metavar="CODE", help="所属单位的12位代码(clerk:乡镇;county:区县;city:市或省;admin 可不填)")
    sp.add_argument("--display", metavar="NAME", help="显示名(如 张明)")
    sp.add_argument("--email", metavar="ADDR", help="电子邮箱(用单位统一身份认证 OIDC 登录时按此匹配账户)")
    sp.add_argument("--password-stdin", action="store_true", help="从标准输入读取密码(一行)")
    sp.add_argument("--as", dest="as_user", metavar="NAME", help="以该账户的身份和权限执行(默认:本机管理员)")
    sp = leaf(user, "list", "user list", "列出账户", "列出账户(不含密码)。", csv=True)
    sp = leaf(user, "disable", "user disable", "停用账户", "停用一个账户;其历史记录保留。")
    sp.add_argument("name", metavar="NAME", help="用户名")
    sp.add_argument("--as", dest="as_user", metavar="NAME", help="以该账户的身份和权限执行(默认:本机管理员)")
    sp = leaf(user, "reset-password", "user reset-password", "重置密码并解除锁定",
              "为账户设置新密码并解除锁定;密码从标准输入读取(--password-stdin),否则随机生成并显示一次。")
    sp.add_argument("name", metavar="NAME", help="用户名")
    sp.add_argument("--password-stdin", action="store_true", help="从标准输入读取密码(一行)")
    sp.add_argument("--as", dest="as_user", metavar="NAME", help="以该账户的身份和权限执行(默认:本机管理员)")

    review = group("review", "报表审核:列出、通过、退回、解锁",
                   "乡镇报表导入后为“待审核”;区县审核员通过(锁定)或退回(附意见),已通过的可说明原因后解锁。")
    sp = leaf(review, "list", "review list", "列出当前有效的报送及其审核状态", "列出当前有效的报送及其审核状态,最新的在前。", csv=True)
    sp.add_argument("--status", choices=["submitted", "approved", "returned"],
                    help="只列出该状态:submitted 待审核、approved 已通过、returned 已退回")
    sp.add_argument("--as", dest="as_user", metavar="NAME", help="以该账户的身份和权限执行(默认:本机管理员)")
    sp = leaf(review, "approve", "review approve", "审核通过(并锁定)一份报送", "审核通过一份报送;通过后该乡镇该季度的报表锁定,不能再覆盖。")
    sp.add_argument("id", type=int, metavar="ID", help="报送编号(review list 中的 id)")
    sp.add_argument("--as", dest="as_user", metavar="NAME", help="以该账户的身份和权限执行(默认:本机管理员)")
    sp = leaf(review, "return", "review return", "退回一份报送(须附意见)", "退回一份报送,乡镇在上传页面看到意见后重新上传更正的报表。")
    sp.add_argument("id", type=int, metavar="ID", help="报送编号")
    sp.add_argument("--comment", required=True, metavar="TEXT", help="退回意见")
    sp.add_argument("--as", dest="as_user", metavar="NAME", help="以该账户的身份和权限执行(默认:本机管理员)")
    sp = leaf(review, "unlock", "review unlock", "解锁一份已通过的报送(须说明原因)", "解锁已通过的报送,使乡镇可以上传更正的报表。")
    sp.add_argument("id", type=int, metavar="ID", help="报送编号")
    sp.add_argument("--reason", required=True, metavar="TEXT", help="解锁原因")
    sp.add_argument("--as", dest="as_user", metavar="NAME", help="以该账户的身份和权限执行(默认:本机管理员)")

    sp = leaf(sub, "audit", "audit", "操作日志:登录、上传、审核、登记、账户变更",
              "只增不改的操作日志,最新的在前:时间、用户、操作、对象、结果和详情。", csv=True)
    sp.add_argument("--user", metavar="NAME", help="只看该用户的")
    sp.add_argument("--since", metavar="YYYY-MM-DD", help="只看该日及以后的")
    sp.add_argument("--action", metavar="A", help="只看该操作(如 login、ingest、approve)")
    sp.add_argument("--limit", type=int, metavar="N", help="最多列出 N 条")
    sp.add_argument("--as", dest="as_user", metavar="NAME", help="以该账户的身份和权限执行(默认:本机管理员)")

    sp = leaf(sub, "maintain", "maintain", "维护:清理孤立的归档文件,必要时重新计算进度,整理存储",
              "删除归档目录中没有任何报送引用的文件(导入中断时留下的),并在进度表过期时重新计算;"
              "DuckDB 文件做检查点,DuckLake 合并小数据文件、使早于 --keep-days 天的快照过期并删除不再使用的文件。")
    sp.add_argument("--keep-days", type=float, default=7.0, metavar="N", help="DuckLake 保留最近 N 天的快照(默认 7)")
    sp = leaf(sub, "worker", "worker", "上报处理程序:按到达顺序检查并导入上报队列中的报表",
              "从上报队列(数据库旁的 queue/ 目录,DuckLake 时在数据目录中)按到达顺序取出上传的报表,以上传人的身份检查并导入,"
              "并只为涉及的范围重新计算进度。仪表盘启动时会自动启动一个;DuckDB 文件只能有一个,DuckLake 可在多台机器上各运行一个。"
              "被中断时正在处理的文件在下次启动时重新排队。")
    sp.add_argument("--once", action="store_true", help="处理完队列中已有的文件后退出")
    sp.add_argument("--parent", type=int, metavar="PID", help="该进程结束时随之退出(仪表盘启动时使用)")
    sp = leaf(sub, "backup", "backup", "备份数据库(仪表盘运行时也可)",
              "把数据库一致地复制为一个文件(默认 backups/<名称>-<时间>.duckdb,在数据库旁)。")
    sp.add_argument("-o", "--output", metavar="FILE", help="备份文件")
    sp = leaf(sub, "restore", "restore", "从备份恢复数据库",
              "检查备份文件是本程序的数据库后,用它替换当前数据库;被替换的数据库保留为 <名称>.before-restore-<时间>。")
    sp.add_argument("file", metavar="FILE", help="备份文件")

    # --- samples, benchmarks, documentation -------------------------------------------------------
    leaf(sub, "init", "init", "用示例数据建立数据库", "导入示例市的区划和示例报表,建立数据库(可重复运行)。")

    sample = group("sample", "示例数据生成", "生成合成的示例地区与示例报表。")
    sp = leaf(sample, "region", "sample region", "生成示例市的区划、人口和边界", "按固定随机种子生成示例市(合成数据)。")
    sp.add_argument("-o", "--output", default="data/samples/region", metavar="DIR", help="输出目录")
    sp.add_argument("--seed", type=int, default=20181107, help="随机种子")

    bench = group("bench", "性能基准(与基线在同一次运行中比较)", "性能基准。")
    sp = leaf(bench, "ingest", "bench ingest", "省级规模报表导入:本产品 vs pandas 基线",
              "用湖南省名录(或同规模的生成名录)为每个乡镇生成一份报表,分别用本产品和 pandas 基线导入,比较速度与内存。")
    sp.add_argument("--limit", type=int, metavar="N", help="只用前 N 个乡镇(冒烟测试用)")
    sp = leaf(bench, "progress", "bench progress", "全国规模指标与进度计算:本产品 vs pandas 基线",
              "在合成的全国数据(约49万个村、3.8万个乡镇、2800个区县、12个季度)上计算全部指标和全部目标在"
              "各层级的状态,与直接的 pandas groupby 基线在同一次运行中比较;并测量读取一个区县一个规划全部状态的耗时。")
    sp.add_argument("--provinces", type=int, default=31, metavar="N", help="省数(冒烟测试用 1)")
    sp.add_argument("--cities", type=int, default=10, metavar="N", help="每省市数")
    sp.add_argument("--counties", type=int, default=9, metavar="N", help="每市区县数")
    sp.add_argument("--ducklake", action="store_true",
                    help="本产品的计算也在 DuckLake(临时启动的 PostgreSQL 目录库)上运行一次,并核对结果与 DuckDB 文件一致")
    sp = leaf(bench, "dashboard", "bench dashboard", "仪表盘各页面首次渲染与控件变更耗时(省级规模合成数据)",
              "在约3万个村、12个季度的合成省数据库上,用 Streamlit AppTest 测量每个页面的首次渲染"
              "(冷缓存)和一次控件变更的耗时,并在 Chromium 中测量每页首次有效绘制。目标:首次渲染 < 2 秒,变更 < 0.5 秒。")
    sp.add_argument("--plan", default="changde-2018", metavar="CODE", help="侧栏所选规划")
    sp.add_argument("--scale", type=float, default=1.0, metavar="X", help="数据规模(1 = 省级;冒烟测试用 0.1)")
    sp.add_argument("--repeat", type=int, default=1, metavar="N", help="每页重复 N 次取最快")
    sp.add_argument("--live", action="store_true", help="不用已存储的进度表,由页面直接计算进度")
    sp.add_argument("--no-browser", action="store_true", help="不在 Chromium 中测量首次有效绘制(没有 Chromium 时自动跳过并说明)")

    sp = leaf(bench, "concurrency", "bench concurrency", "多人同时使用:上传队列与 DuckLake vs 直接导入基线",
              "多个填报员同时上传示例市最新季度的报表、多个读者同时加载页面:DuckDB 文件 + 一个上报处理程序、"
              "DuckLake(临时启动的 PostgreSQL)+ 两个处理程序,以及不用队列、各自直接 rural-targets ingest 的基线;"
              "报告存入/丢失数、上传到导入的延迟 p50/p95、读取延迟 p50/p95。")
    sp.add_argument("--clients", type=int, default=20, metavar="N", help="同时上传的客户端数(默认 20)")
    sp.add_argument("--returns", type=int, default=200, metavar="N", help="上传的报表数(默认 200)")
    sp.add_argument("--readers", type=int, default=10, metavar="N", help="同时加载页面的读者数(默认 10)")
    sp.add_argument("--modes", default="file,ducklake", metavar="M,M", help="要测的方式:file、ducklake(默认两者)")

    docs = group("docs", "生成文档", "由程序本身生成的文档。")
    sp = leaf(docs, "cli", "docs cli", "命令行参考(Markdown,README 的“Command line”一节由此生成)",
              "打印全部命令、子命令及其选项的 Markdown 参考;--write 把它写进文件中两个标记之间的部分。",
              json_flag=False)
    sp.add_argument("--write", metavar="FILE",
                    help="把参考写进该文件(如 README.md)中 cli-reference:start 与 cli-reference:end 两个标记之间")

    for sp, json_flag, csv in outputs:
        if json_flag:
            sp.add_argument("--json", action="store_true", help="以 JSON 输出")
        if csv:
            sp.add_argument("--csv", action="store_true", help="以 CSV 输出")
    return p


# ------------------------------------------------------------------ the reference, from the parser

def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
            ) -> list[tuple[tuple[str, ...], argparse.ArgumentParser, str]]:
    """Every command that runs something: (words after ``rural-targets``, its parser, its one-line help)."""
    out = []
    for action in parser._actions:  # argparse has no public way to walk its subparsers
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sp in action.choices.items():
                if sp.get_default("handler"):
                    out.append(((*path, name), sp, helps.get(name, "")))
                out += _leaves(sp, (*path, name))
    return out


def _option_words(action: argparse.Action) -> str:
    """How an argument is written: ``--plan CODE``, ``FILE...``, ``--level {city,county}``."""
    if action.option_strings and action.nargs == 0:
        return "/".join(action.option_strings)
    if action.metavar:
        value = action.metavar
    elif action.choices:
        value = "{" + ",".join(map(str, action.choices)) + "}"
    else:
        value = action.dest.upper()
    if action.nargs in ("+", "*"):
        value += "..."
    return f"{'/'.join(action.option_strings)} {value}" if action.option_strings else value


def _arguments(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions
            if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))]


def _synopsis(words: tuple[str, ...], parser: argparse.ArgumentParser) -> str:
    """One line of usage, independent of the terminal's width (argparse wraps its own)."""
    parts = [PROG, *words]
    grouped = {a: g for g in parser._mutually_exclusive_groups for a in g._group_actions}
    done: set[int] = set()
    for action in _arguments(parser):
        if isinstance(action, argparse._VersionAction):
            continue
        group = grouped.get(action)
        if group is not None:
            if id(group) in done:
                continue
            done.add(id(group))
            alternatives = " | ".join(_option_words(a).split("/")[-1] for a in group._group_actions)
            parts.append(f"({alternatives})" if group.required else f"[{alternatives}]")
            continue
        text = _option_words(action).split(" ", 1)
        text = " ".join([text[0].split("/")[0], *text[1:]]) if action.option_strings else text[0]
        if isinstance(action, argparse._AppendAction):
            text += " ..."
        parts.append(text if action.required or not action.option_strings else f"[{text}]")
    return " ".join(parts)


def _describe(action: argparse.Action) -> str:
    text = action.help or ""
    extras = []
    if action.required:
        extras.append("必填")
    if action.choices and action.metavar:
        extras.append("可选:" + "、".join(map(str, action.choices)))
    if isinstance(action, argparse._AppendAction):
        extras.append("可重复")
    if action.default not in (None, False, argparse.SUPPRESS) and "默认" not in text:
        extras.append(f"默认 {action.default}")
    return text + (f"({';'.join(extras)})" if extras else "")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def reference_markdown(parser: argparse.ArgumentParser | None = None) -> str:
    """The command-line reference as Markdown: a table of every command, then the global options
    and each command's usage line, description and options — all read from the parser."""
    parser = parser or build_parser()
    leaves = _leaves(parser)
    lines = [f"<!-- generated from the parser by `{PROG} docs cli --write README.md`; edit pipelines/cli/main.py, "
             "not this block -->", "", "| command | does |", "|---|---|"]
    lines += [f"| `{' '.join(words)}` | {_cell(summary)} |" for words, _, summary in leaves]
    lines += ["", f"### `{PROG}`", "", f"`{_synopsis((), parser)} COMMAND ...`", "",
              f"{parser.description}每个命令都有 `-h`/`--help`;用法错误的退出码为 2。", ""]
    lines += [f"- `{_option_words(a)}` — {_describe(a)}" for a in _arguments(parser)]
    for words, sp, _ in leaves:
        lines += ["", f"### `{PROG} {' '.join(words)}`", "", f"`{_synopsis(words, sp)}`", ""]
        if sp.description:
            lines += [sp.description, ""]
        lines += [f"- `{_option_words(a)}` — {_describe(a)}" for a in _arguments(sp)] or ["(无选项)"]
    return "\n".join(lines) + "\n"


def replace_block(text: str, block: str) -> str:
    """``text`` with what lies between the cli-reference markers replaced by ``block``.

    Raises ValueError when the markers are not there, once each and in order.
    """
    pattern = re.compile(re.escape(README_START) + r"\n.*?" + re.escape(README_END), re.S)
    if text.count(README_START) != 1 or text.count(README_END) != 1 or not pattern.search(text):
        raise ValueError(f"没有成对的 {README_START} … {README_END} 标记")
    return pattern.sub(lambda _: f"{README_START}\n{block}{README_END}", text)


def readme_block(text: str) -> str | None:
    """What lies between the cli-reference markers of ``text`` (None without them)."""
    m = re.search(re.escape(README_START) + r"\n(.*?)" + re.escape(README_END), text, re.S)
    return m.group(1) if m else None


def _docs_cli(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    reference = reference_markdown(parser)
    if not args.write:
        sys.stdout.write(reference)
        return 0
    path = Path(args.write)
    if not path.is_file():
        raise RuralTargetsError("GEN001", file=str(path))
    try:
        text = replace_block(path.read_text(encoding="utf-8"), reference)
    except ValueError as exc:
        parser.error(f"{path}:{exc}")
    path.write_text(text, encoding="utf-8")
    print(f"已更新 {path} 的命令行参考", file=sys.stderr)
    return 0


# ------------------------------------------------------------------ entry point

def _log_internal_error(args: argparse.Namespace) -> str:
    """The traceback of the exception being handled, appended to logs/rural-targets.log beside the
    database (the terminal shows only a code and where the details are)."""
    import logging
    import traceback

    from pipelines.store.db import home_dir

    try:
        path = home_dir(getattr(args, "db", None)) / "logs" / "rural-targets.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
    except Exception:  # noqa: BLE001 - no place to write: the message says so
        return "(无法写入日志)"
    logger = logging.getLogger("rural_targets.cli")
    logger.addHandler(handler)
    logger.error("%s %s\n%s", PROG, " ".join(sys.argv[1:]), traceback.format_exc())
    logger.removeHandler(handler)
    handler.close()
    return str(path)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``rural-targets``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "data_path", None):     # read where the DuckLake is opened, in this process and its workers
        os.environ["RURAL_TARGETS_DATA_PATH"] = str(Path(args.data_path).resolve())
    try:
        if args.handler == "docs cli":
            return _docs_cli(args, parser)
        # imported here only for start-up time: the commands load pandas, DuckDB and every stage
        # (about 2 s), which --help, a usage error and `docs cli` never need
        from pipelines.cli.commands import COMMANDS
        return COMMANDS[args.handler](args) or 0
    except ProblemsError as exc:
        if getattr(args, "json", False):
            print(json.dumps({"status": "rejected", "problems": [p.as_dict() for p in exc.problems]},
                             ensure_ascii=False, indent=1, default=str))
        else:
            for p in exc.problems:
                print(f"{p.severity}: [{p.code}] {p.message}", file=sys.stderr)
        print(f"{PROG}: 错误 {exc}", file=sys.stderr)
        return 2
    except RuralTargetsError as exc:
        print(f"{PROG}: 错误 [{exc.code}] {exc.message_zh} ({exc.message_en})", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into head & co.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(f"{PROG}: 已中断 (interrupted)", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the one boundary where anything becomes a message
        log = _log_internal_error(args)
        err = RuralTargetsError("GEN005", kind=type(exc).__name__, log=log)
        print(f"{PROG}: 错误 [{err.code}] {err.message_zh} ({err.message_en})", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
