"""The upload page's logic, apart from its widgets: ingest reports → tables and words."""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from pipelines.catalog.definitions import catalog
from pipelines.periods import due_date, period_label
from pipelines.report.formats import fmt_date

STATUS_ZH = {"valid": "检查通过,可导入", "rejected": "有错误,不能导入", "unchanged": "与已导入的报送相同",
             "stored": "已导入"}
SEVERITY_ZH = {"error": "错误", "warning": "提示"}
ACCEPTED = ["xlsx", "xls", "xlsm", "csv"]


def signature(files: Iterable[tuple[str, bytes]]) -> str:
    """Identifies a set of uploaded files (names and contents)."""
    h = hashlib.sha256()
    for name, data in files:
        h.update(name.encode("utf-8"))
        h.update(hashlib.sha256(data).digest())
    return h.hexdigest()


def lateness(period: str | None, day: dt.date) -> str:
    """A return for ``period`` handed in on ``day`` against its due date (settings.reporting.due_day):
    "逾期 23 天报送(截止 2020年10月15日)", "按期报送(截止 …)", or "" without a period."""
    if not period:
        return ""
    due = due_date(period, catalog().settings.reporting.due_day)
    late = (day - due).days
    return f"逾期 {late} 天报送(截止 {fmt_date(due)})" if late > 0 else f"按期报送(截止 {fmt_date(due)})"


def is_late(report: Any, day: dt.date) -> bool:
    """Whether ``report``'s return, checked or stored on ``day``, comes after its due date."""
    return lateness(report.period, day).startswith("逾期") and report.status != "unchanged"


def outcome(report: Any, day: dt.date | None = None) -> str:
    """What happened to a file, in words: stored / superseded #id / unchanged / rejected; a return
    stored after its due date (uploaded on ``day``) says how late it is."""
    if report.status == "stored":
        text = f"已导入(第 {report.submission_id} 号),替换了第 {report.superseded} 号报送" if report.superseded \
            else f"已导入(第 {report.submission_id} 号)"
        return text + (f",{lateness(report.period, day)}" if day and is_late(report, day) else "")
    if report.status == "unchanged":
        return f"未变化:与已导入的第 {report.submission_id} 号报送完全相同"
    return STATUS_ZH.get(report.status, report.status)


def report_table(reports: list[Any], day: dt.date) -> pd.DataFrame:
    """One row per file; 报送时限: whether the return, uploaded on ``day``, is on time or how late."""
    return pd.DataFrame([{
        "文件": r.file,
        "乡镇(街道)": r.township_name or r.township_code or "—",
        "报告期": period_label(r.period) if r.period else "—",
        "村数": r.village_rows,
        "结果": outcome(r, day),
        "报送时限": lateness(r.period, day) if r.status != "unchanged" else "",
        "错误": len(r.errors),
        "提示": len(r.warnings),
    } for r in reports])


PROBLEM_COLUMNS = ["类别", "工作表", "单元格", "村", "村代码", "字段", "问题及修改方法", "代码"]


def _village(problem: Any) -> tuple[str, str]:
    """The village a problem is about (name, code): the village of the row it is on, or the village
    a missing-row problem names; ("", "") for problems of the file or of the township."""
    ctx = problem.context if isinstance(problem.context, dict) else {}
    if ctx.get("village") or ctx.get("village_code"):
        return ctx.get("village") or "", ctx.get("village_code") or ""
    if problem.field == "village_code" and problem.value:
        return ctx.get("name") or "", str(problem.value)
    return "", ""


def problem_table(report: Any) -> pd.DataFrame:
    """The problems of one file: severity, sheet, cell, village (name and code), field, message
    (errors first)."""
    rows = []
    for p in sorted(report.problems, key=lambda p: p.severity != "error"):
        name, code = _village(p)
        rows.append({
            "类别": SEVERITY_ZH.get(p.severity, p.severity),
            "工作表": p.sheet or "",
            "单元格": p.cell or "",
            "村": name or code,
            "村代码": code,
            "字段": (p.context.get("label") if isinstance(p.context, dict) else None) or p.field or "",
            "问题及修改方法": p.message,
            "代码": p.code,
        })
    return pd.DataFrame(rows, columns=PROBLEM_COLUMNS)


def problem_view(table: pd.DataFrame) -> pd.DataFrame:
    """A problem table as the page shows it in a static table (st.table, whose cells wrap): the cell
    (which names its sheet) and the village's name, without the sheet and village code columns of the
    download; the text kept literal (st.table reads Markdown in its cells)."""
    shown = table.drop(columns=["工作表", "村代码"])
    return shown.map(lambda v: _literal(v) if isinstance(v, str) else v)


def _literal(text: str) -> str:
    """``text`` with the characters Markdown would act on escaped."""
    return re.sub(r"([\\`*_\[\]<>#|~$])", r"\\\1", text)


def all_problems(reports: list[Any]) -> pd.DataFrame:
    """Every problem of every file, with the file name (for one download)."""
    frames = []
    for r in reports:
        df = problem_table(r)
        if not df.empty:
            df.insert(0, "文件", r.file)
            frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def storable(reports: list[Any], files: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """The files whose dry run passed (valid); rejected and unchanged ones are not sent again."""
    ok = {r.file for r in reports if r.status == "valid"}
    return [(name, data) for name, data in files if Path(name).name in ok]


JOB_COLUMNS = ["文件", "乡镇(街道)", "报告期", "状态", "结果", "报送时限"]


def job_view(jobs: list[Any], reports: dict[str, Any], day: dt.date) -> pd.DataFrame:
    """One row per queued file: its state (排队中 / 检查中 / 已导入 / 有错误) and, once done, what happened
    (lateness against ``day``, the day of the upload)."""
    rows = []
    for j in jobs:
        r = reports.get(j.id)
        rows.append({
            "文件": j.file_name,
            "乡镇(街道)": (r.township_name or r.township_code or "—") if r else "—",
            "报告期": period_label(r.period) if r and r.period else "—",
            "状态": j.outcome_zh,
            "结果": outcome(r, day) if r else "",
            "报送时限": lateness(r.period, day) if r and r.status == "stored" else "",
        })
    return pd.DataFrame(rows, columns=JOB_COLUMNS).map(lambda v: _literal(v) if isinstance(v, str) else v)
