"""The upload page's logic, apart from its widgets: ingest reports → tables and words."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from pipelines.periods import period_label

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


def outcome(report: Any) -> str:
    """What happened to a file, in words: stored / superseded #id / unchanged / rejected."""
    if report.status == "stored":
        return f"已导入(第 {report.submission_id} 号),替换了第 {report.superseded} 号报送" if report.superseded \
            else f"已导入(第 {report.submission_id} 号)"
    if report.status == "unchanged":
        return f"未变化:与已导入的第 {report.submission_id} 号报送完全相同"
    return STATUS_ZH.get(report.status, report.status)


def report_table(reports: list[Any]) -> pd.DataFrame:
    """One row per file."""
    return pd.DataFrame([{
        "文件": r.file,
        "乡镇(街道)": r.township_name or r.township_code or "—",
        "报告期": period_label(r.period) if r.period else "—",
        "村数": r.village_rows,
        "结果": outcome(r),
        "错误": len(r.errors),
        "提示": len(r.warnings),
    } for r in reports])


def problem_table(report: Any) -> pd.DataFrame:
    """The problems of one file: severity, sheet, cell, field, message (errors first)."""
    rows = [{
        "类别": SEVERITY_ZH.get(p.severity, p.severity),
        "工作表": p.sheet or "",
        "单元格": p.cell or "",
        "字段": (p.context.get("label") if isinstance(p.context, dict) else None) or p.field or "",
        "问题及修改方法": p.message,
        "代码": p.code,
    } for p in sorted(report.problems, key=lambda p: p.severity != "error")]
    return pd.DataFrame(rows, columns=["类别", "工作表", "单元格", "字段", "问题及修改方法", "代码"])


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
