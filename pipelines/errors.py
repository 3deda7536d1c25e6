"""One catalogue of error codes and message templates, and the typed exceptions that carry them.

Every problem a user can cause has a stable code here. The CLI and the dashboard turn
exceptions and problems into messages at one boundary (``message_zh`` / ``message_en``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# code: (severity, Chinese template, English template)
CATALOGUE: dict[str, tuple[str, str, str]] = {
    # --- catalog (schemas/) -------------------------------------------------
    "CAT001": ("error", "目录文件 {file} 无法读取:{detail}", "cannot read catalog file {file}: {detail}"),
    "CAT002": ("error", "目录文件 {file} 中 {entry} 定义有误:{detail}", "{file}: entry {entry}: {detail}"),
    "CAT003": ("error", "目录文件 {file} 中 {entry} 引用了未知字段 {name}", "{file}: entry {entry}: unknown field {name}"),
    "CAT004": ("error", "目录文件 {file} 中 {entry} 的表达式不合规:{detail}", "{file}: entry {entry}: bad expression: {detail}"),
    "CAT005": ("error", "目录文件 {file} 中编号 {entry} 重复(另见 {other})", "{file}: duplicate id {entry} (also in {other})"),
    "CAT006": ("error", "目录文件 {file} 中目标 {entry} 引用了不存在的指标 {name}", "{file}: target {entry}: unknown indicator {name}"),
    "CAT007": ("error", "目录文件 {file} 中 {entry} 的截止日期有误:{detail}", "{file}: entry {entry}: bad deadline: {detail}"),
    "CAT008": ("error", "找不到规划 {plan};可用的规划:{known}", "unknown plan {plan}; known plans: {known}"),
    # --- registry -----------------------------------------------------------
    "REG001": ("error", "{file} 第 {line} 行:代码 {code} 不是12位数字", "{file} line {line}: code {code} is not 12 digits"),
    "REG002": ("error", "{file} 第 {line} 行:代码 {code} 重复(第 {other} 行已有)", "{file} line {line}: duplicate code {code} (first on line {other})"),
    "REG003": ("error", "{file} 第 {line} 行:{code} {name} 的上级代码 {parent} 不存在", "{file} line {line}: parent {parent} of {code} not found"),
    "REG004": ("error", "{file} 第 {line} 行:{code} 的上级代码 {parent} 与本级代码前缀不一致", "{file} line {line}: parent {parent} inconsistent with code {code}"),
    "REG005": ("error", "{file} 第 {line} 行:缺少{column}", "{file} line {line}: missing {column}"),
    "REG006": ("error", "{file} 缺少必需的列 {column}(需要:代码、名称、上级代码)", "{file}: missing column {column} (need code, name, parent_code)"),
    "REG007": ("error", "{file} 第 {line} 行:经纬度 {value} 无效", "{file} line {line}: invalid coordinate {value}"),
    "REG008": ("error", "边界文件 {file} 中第 {line} 个要素:{detail}", "boundary file {file} feature {line}: {detail}"),
    "REG009": ("error", "找不到单位 {code},请先导入区划名录(rural-targets registry load)", "unknown unit {code}; load the registry first"),
    "REG010": ("error", "单位 {code} 是{level}级,这里需要{expected}级单位", "unit {code} is a {level}, expected a {expected}"),
    "REG011": ("error", "{file} 第 {line} 行:日期 {value} 无效(应为 YYYY-MM-DD)", "{file} line {line}: invalid date {value}"),
    # --- template -----------------------------------------------------------
    "TPL001": ("error", "报告期 {period} 格式不对,应写成 2024Q3 这样的形式", "bad period {period}; write it like 2024Q3"),
    "TPL002": ("error", "乡镇 {code} 在名录中没有所辖村(社区),无法生成报表", "township {code} has no villages in the registry"),
    # --- general ------------------------------------------------------------
    "GEN001": ("error", "文件 {file} 不存在", "file {file} does not exist"),
    "GEN002": ("error", "数据库 {db} 正被另一个程序写入,请稍后再试(DuckDB 同一时间只允许一个写入进程)",
               "database {db} is locked by another writer; try again later"),
    "GEN003": ("error", "不支持的文件类型 {file},请使用 .xlsx、.xls、.xlsm 或 .csv", "unsupported file type {file}"),
}

SEVERITIES = ("error", "warning")


def render(code: str, lang: str = "zh", **context: Any) -> str:
    """Fill the message template of ``code`` with ``context`` (missing keys render as '?')."""
    severity, zh, en = CATALOGUE[code]
    template = zh if lang == "zh" else en

    class _Default(dict):
        def __missing__(self, key: str) -> str:
            return "?"

    return template.format_map(_Default(context))


def severity_of(code: str) -> str:
    """The severity (error / warning) the catalogue gives ``code``."""
    return CATALOGUE[code][0]


class RuralTargetsError(Exception):
    """A problem the user can fix; carries a catalogue code and the context of its message."""

    def __init__(self, code: str, **context: Any) -> None:
        if code not in CATALOGUE:
            raise KeyError(f"unknown error code {code}")
        self.code = code
        self.context = context
        super().__init__(self.message_en)

    @property
    def message_zh(self) -> str:
        return render(self.code, "zh", **self.context)

    @property
    def message_en(self) -> str:
        return render(self.code, "en", **self.context)

    def __str__(self) -> str:
        return f"[{self.code}] {self.message_zh}"


class CatalogError(RuralTargetsError):
    """The YAML catalog in schemas/ is invalid."""


class RegistryError(RuralTargetsError):
    """A registry file or a unit reference is invalid."""


class TemplateError(RuralTargetsError):
    """A return template cannot be produced."""


@dataclass
class Problem:
    """One problem found in an input, located as precisely as the input allows."""

    code: str
    context: dict[str, Any] = field(default_factory=dict)
    sheet: str | None = None
    cell: str | None = None
    field: str | None = None
    value: Any = None
    line: int | None = None

    @property
    def severity(self) -> str:
        return severity_of(self.code)

    @property
    def message(self) -> str:
        return render(self.code, "zh", **self.context)

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "sheet": self.sheet,
            "cell": self.cell,
            "field": self.field,
            "line": self.line,
            "value": None if self.value is None else str(self.value),
            "message": self.message,
        }


class ProblemsError(RuralTargetsError):
    """An input was rejected; ``problems`` lists every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first = next((p for p in problems if p.severity == "error"), problems[0])
        Exception.__init__(self, first.message)
        self.code = first.code
        self.context = first.context

    def __str__(self) -> str:
        errors = [p for p in self.problems if p.severity == "error"]
        head = f"[{self.code}] {self.problems[0].message}" if not errors else f"[{errors[0].code}] {errors[0].message}"
        more = len(errors) - 1
        return head + (f"(另有 {more} 处错误)" if more > 0 else "")
