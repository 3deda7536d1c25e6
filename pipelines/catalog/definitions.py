"""The declarative catalog in schemas/: return fields, indicators, rules, plans and their targets.

Everything is validated when loaded. A mistake in YAML raises CatalogError naming the file
and the entry; expressions are compiled (and so checked) here, once. The closed vocabularies
(field types, levels, evaluation kinds, comparators, windows…) are ``Literal`` types that
pydantic checks; what spans several fields or files (which comparator goes with which kind,
indicators and fields that must exist, deadlines inside the plan) is checked by hand below.
"""
from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipelines.errors import CatalogError
from pipelines.catalog.expressions import Compiled, ExpressionError, compile_expression
from pipelines.units import LEVEL_RANK, LEVELS
from pipelines.resources import project_dir, relative, schemas_dir

ROOT = project_dir()           # the checkout, or the current directory for a wheel install (pipelines.resources)
SCHEMAS_DIR = schemas_dir()    # schemas/ of the checkout, the package data, or $RURAL_TARGETS_SCHEMAS

Level = Literal[LEVELS]  # the levels of pipelines.units, the one list of them
EvalKind = Literal["aggregate", "every_unit", "count", "milestone", "trend", "band"]
Comparator = Literal[">=", ">", "<=", "<", "==", "between", "about", "rising", "not_falling", "falling", "done_by"]
FieldType = Literal["code", "text", "int", "number", "bool", "enum", "date"]
SheetKey = Literal["village", "township", "county"]
Window = Literal["quarter_end", "year_to_date"]
# which village-level units a target counts: 村 → 村委会, 社区 → 居委会, 村(社区) → both (issue 9 §1)
Population = Literal["村", "社区", "村(社区)"]
# the one level that gets a status; ``scope`` = each scope unit of the plan (its scope and settings.applies)
JudgedAt = Literal["scope", "province", "city", "county", "township", "village"]
# which township rows count: 乡镇 = codes with digits 7–9 in 100–399 (镇, 乡); 乡镇(街道) = every township
TownshipKind = Literal["乡镇", "乡镇(街道)"]
Recurrence = Literal["yearly", "quarterly"]
TrendBaseline = Literal["previous_year", "plan_start"]
POPULATIONS: tuple[str, ...] = get_args(Population)
JUDGED_AT: tuple[str, ...] = get_args(JudgedAt)
TOWNSHIP_KINDS: tuple[str, ...] = get_args(TownshipKind)
EVAL_KINDS: tuple[str, ...] = get_args(EvalKind)
COMPARATORS: tuple[str, ...] = get_args(Comparator)
COMPARATOR_ZH = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "==": "=", "between": "介于", "about": "约",
                 "rising": "逐年提高", "not_falling": "保持稳定", "falling": "下降", "done_by": "按期完成"}
# which comparators each evaluation kind admits (a rule across two fields: checked in Target._consistent)
_EVAL_COMPARATORS = {
    "aggregate": {">=", ">", "<=", "<", "=="},
    "every_unit": {">=", ">", "<=", "<", "=="},
    "count": {">=", ">", "<=", "<", "==", "between"},
    "milestone": {"done_by"},
    "trend": {"rising", "not_falling", "falling"},
    "band": {"about", "between"},
}
SHEET_OF_LEVEL = {"village": "village", "township": "township", "county": "county"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class FieldSpec(_Model):
    """One field of a return sheet: id, label, unit, type and bounds."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    type: FieldType
    unit: str | None = None
    values: list[str] | None = None
    min: float | None = None
    max: float | None = None
    required: bool = False
    locked: bool = False
    kind: Literal["stock", "flow"] = "stock"
    help: str | None = None

    @model_validator(mode="after")
    def _enum_has_values(self) -> "FieldSpec":
        if self.type == "enum" and not self.values:
            raise ValueError("enum 字段必须列出 values")
        return self

    @property
    def header(self) -> str:
        """The column header a clerk sees: label with its unit, e.g. 户籍人口(人)."""
        return f"{self.label}({self.unit})" if self.unit else self.label


class SheetSpec(_Model):
    """One sheet of the return (村级情况, 乡镇情况…) and its fields in order."""

    key: str
    title: str
    form_no: str
    description: str = ""
    fields: list[FieldSpec]

    def field(self, field_id: str) -> FieldSpec:
        """The field ``field_id`` of this sheet (StopIteration when there is none)."""
        return next(f for f in self.fields if f.id == field_id)

    @property
    def field_map(self) -> dict[str, dict[str, Any]]:
        """Field id → the field's definition as a dict (what expressions are compiled against)."""
        return {f.id: f.model_dump() for f in self.fields}


class Rule(_Model):
    """A cross-field rule checked on every row of a sheet at ingest."""

    id: str
    sheet: str
    field: str
    message: str
    severity: Literal["error", "warning"] = "error"
    check: str | None = None
    require: list[str] | None = None
    when: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> "Rule":
        if (self.check is None) == (self.require is None):
            raise ValueError("规则须写 check(条件)或 require(必填字段)之一")
        return self

    compiled_check: Compiled | None = None
    compiled_when: Compiled | None = None


class Indicator(_Model):
    """A ratio of sums over the rows of one sheet: Σ numerator / Σ denominator × factor.

    Without a denominator the value is Σ numerator × factor (a total or a count).
    ``among`` restricts the rows counted (e.g. only flagged villages). ``plus`` maps another sheet
    (``township``, ``county``) to a numeric expression whose sums over that sheet's rows are added to
    the numerator of every unit containing them (beds or staff reported above the village); the
    denominator and ``among`` stay on ``source``. Its compiled expressions are in ``compiled_plus``
    (sheet → Compiled), apart from ``compiled`` because they read another sheet's fields.
    """

    id: str
    title: str
    source: SheetKey = "village"
    numerator: str
    denominator: str | None = None
    among: str | None = None
    factor: float = 1.0
    unit: str = ""
    window: Window = "quarter_end"
    bounds: tuple[float | None, float | None] = (0.0, None)
    description: str = ""
    plus: dict[Literal["township", "county"], str] | None = None

    compiled: dict[str, Compiled] = Field(default_factory=dict, exclude=True)
    compiled_plus: dict[str, Compiled] = Field(default_factory=dict, exclude=True)

    @model_validator(mode="after")
    def _plus_elsewhere(self) -> "Indicator":
        if self.plus is not None:
            if not self.plus:
                raise ValueError("plus 不能为空(写 township 或 county 的表达式)")
            if self.source in self.plus:
                raise ValueError(f"plus 不能再写数据来源表 {self.source} 本身")
        return self

    @property
    def fields(self) -> frozenset[str]:
        """Every field of the ``source`` sheet the indicator's expressions read (not those of ``plus``)."""
        out: set[str] = set()
        for c in self.compiled.values():
            out |= c.fields
        return frozenset(out)

    @property
    def plus_fields(self) -> dict[str, frozenset[str]]:
        """Sheet → the fields its ``plus`` expression reads (empty without ``plus``)."""
        return {sheet: frozenset(c.fields) for sheet, c in self.compiled_plus.items()}


class RelativeDeadline(_Model):
    """A per-unit deadline: the unit's own date ``field`` (same sheet) plus ``days``, inclusive."""

    field: str
    days: int = Field(ge=0)


class MilestoneField(_Model):
    """A date field whose first report by the deadline settles a milestone.

    With ``after`` each unit's deadline is its own ``after.field`` + ``after.days``; ``deadline`` is then
    the nominal one, used for a unit whose ``after.field`` is still blank at it.
    """

    field: str
    deadline: dt.date
    label: str = ""
    after: RelativeDeadline | None = None


class ItemAfter(_Model):
    """An item's deadline relative to another item: the done date of ``item`` plus an offset."""

    item: str
    years: int | None = Field(default=None, ge=1)
    months: int | None = Field(default=None, ge=1)
    days: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_offset(self) -> "ItemAfter":
        given = [k for k in ("years", "months", "days") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("after 须且只须写 years、months、days 之一")
        return self


class TaskItem(_Model):
    """One deliverable of a task, reported on the task sheet (task_id + item) and judged on its own deadline."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    deadline: dt.date | None = None
    after: ItemAfter | None = None

    @model_validator(mode="after")
    def _one_deadline(self) -> "TaskItem":
        if (self.deadline is None) == (self.after is None):
            raise ValueError(f"事项 {self.id} 须写 deadline(截止日期)或 after(相对另一事项)之一")
        return self


class Target(_Model):
    """A plan's target: the quoted clause, indicator, comparator, value, deadline, kind and level.

    Also how the plan's words are read (issue 9): ``population`` (村 / 社区 / 村(社区)), ``strive``
    (the clause says 力争/争取), ``reading`` (one or two Chinese sentences), ``judged_at`` (the one
    level that gets a status; required for trend and band), ``baseline`` (trend: previous year or plan
    start), ``guideline`` (a planning norm: never judged), ``township_kind`` (乡镇 or 乡镇(街道)) and
    ``items`` (a task's deliverables).
    """

    id: str = Field(pattern=r"^[a-z]{2}-[a-z0-9-]+$")
    title: str
    clause: str
    source_clause: str
    indicator: str | None = None
    comparator: Comparator
    value: float | list[float] | None = None
    tolerance: float | None = None
    unit: str = ""
    deadline: dt.date
    start: dt.date | None = None
    eval: EvalKind
    level: Level
    recurrence: Recurrence | None = None
    lead: list[str] = Field(default_factory=list)
    partners: list[str] = Field(default_factory=list)
    milestones: list[MilestoneField] = Field(default_factory=list)
    items: list[TaskItem] = Field(default_factory=list)
    population: Population
    strive: bool = False
    reading: str = Field(min_length=1)
    judged_at: JudgedAt | None = None
    baseline: TrendBaseline = "previous_year"
    guideline: bool = False
    township_kind: TownshipKind = "乡镇(街道)"
    note: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> "Target":
        if self.comparator not in _EVAL_COMPARATORS[self.eval]:
            raise ValueError(f"评价方式 {self.eval} 不能用比较方式 {self.comparator}")
        if self.comparator == "between":
            if not (isinstance(self.value, list) and len(self.value) == 2 and self.value[0] <= self.value[1]):
                raise ValueError("between 的 value 应写成 [下限, 上限]")
        elif self.comparator in (">=", ">", "<=", "<", "==", "about"):
            if not isinstance(self.value, (int, float)):
                raise ValueError(f"比较方式 {self.comparator} 需要一个数值 value")
        if self.comparator == "about" and not self.tolerance:
            raise ValueError("about(约等于)需要 tolerance(允许偏差)")
        if self.eval != "milestone" and not self.indicator:
            raise ValueError(f"评价方式 {self.eval} 需要 indicator")
        if self.eval == "milestone" and not (self.lead or self.milestones):
            raise ValueError("milestone 需要 lead(牵头单位)或 milestones(报送日期字段)")
        if not self.reading.strip():
            raise ValueError("reading(目标解读)不能为空")
        if self.eval in ("trend", "band") and self.judged_at is None:
            raise ValueError(f"评价方式 {self.eval} 须写 judged_at(判定层级)")
        if self.baseline != "previous_year" and self.eval != "trend":  # the default round-trips on any kind
            raise ValueError("baseline(比较基期)只用于评价方式 trend")
        if self.recurrence and self.start is None:
            raise ValueError(f"重复周期 {self.recurrence} 须写 start(第一个周期的开始日期)")
        if self.items:
            if self.eval != "milestone" or not self.lead:
                raise ValueError("items(任务事项)只用于写明 lead(牵头单位)的 milestone")
            if self.milestones:
                raise ValueError("items(任务事项)与 milestones(报送日期字段)不能同时写")
            seen: set[str] = set()
            for item in self.items:
                if item.id in seen:
                    raise ValueError(f"事项编号 {item.id} 重复")
                if item.after is not None and item.after.item not in seen:
                    raise ValueError(f"事项 {item.id} 的 after.item {item.after.item!r} 不是它之前的事项")
                seen.add(item.id)
        return self

    @property
    def strive_zh(self) -> str:
        """力争目标 for a strive target, else empty."""
        return "力争目标" if self.strive else ""

    @property
    def lower_is_better(self) -> bool:
        """Whether the target is a ceiling (≤, <) rather than a floor."""
        return self.comparator in ("<=", "<")

    @property
    def target_text(self) -> str:
        """The target as a clerk would say it, e.g. ≥ 90%."""
        if self.comparator == "between":
            return f"{self.value[0]:g}–{self.value[1]:g}{self.unit}"
        if self.comparator == "about":
            return f"约 {self.value:g}{self.unit}(±{self.tolerance:g})"
        if self.comparator in ("rising", "not_falling", "falling", "done_by"):
            return COMPARATOR_ZH[self.comparator]
        return f"{COMPARATOR_ZH[self.comparator]} {self.value:g}{self.unit}"


class Plan(_Model):
    """One plan document: who issued it, its scope and period, and its targets."""

    code: str = Field(pattern=r"^[a-z]+-\d{4}$")
    title: str
    doc_no: str
    issuer: str
    issued: dt.date
    scope: str = Field(pattern=r"^\d{12}$")
    scope_name: str
    scope_level: Level
    period_start: dt.date
    period_end: dt.date
    source: str = ""
    targets: list[Target]

    @model_validator(mode="after")
    def _period(self) -> "Plan":
        if self.period_end < self.period_start:
            raise ValueError("period_end 早于 period_start")
        return self


class PlanApplication(_Model):
    """A unit following a plan it did not issue (settings.yaml ``applies``)."""

    plan: str
    unit: str = Field(pattern=r"^\d{12}$")
    note: str = ""


class ProgressSettings(_Model):
    """Thresholds of the progress judgement (settings.yaml ``progress``)."""

    on_track: float = 0.95
    lagging_floor: float = 0.50
    regressing_cr: float = -0.10
    min_points: int = 2
    low_confidence_below: int = 4
    stale_after_quarters: int = 2
    milestone_due_soon_days: int = 7
    milestone_severe_after_days: int = 91
    # share of the expected units that must have reported before any verdict (数据不全 below it)
    min_coverage: float = Field(default=0.9, gt=0, le=1)


class ReportingSettings(_Model):
    """When returns are due (settings.yaml ``reporting``)."""

    due_day: int = Field(default=15, ge=1, le=28)


class AccountSettings(_Model):
    """Sign-in rules (settings.yaml ``accounts``)."""

    min_password_length: int = Field(default=10, ge=8, le=128)
    max_failed_logins: int = Field(default=5, ge=1, le=100)
    lock_minutes: int = Field(default=15, ge=1)
    idle_minutes: int = Field(default=30, ge=1)


class ReviewSettings(_Model):
    """Approval of returns (settings.yaml ``review``)."""

    # approved: indicators and verdicts use approved returns only; stored: every stored return
    progress_uses: Literal["approved", "stored"] = "approved"


class LimitSettings(_Model):
    """Bounds every uploaded file is checked against before it is parsed (settings.yaml ``limits``)."""

    max_file_mb: float = Field(default=20, gt=0)
    max_unzipped_mb: float = Field(default=200, gt=0)       # all parts of an .xlsx together, uncompressed
    max_compression_ratio: float = Field(default=200, gt=1)  # any part: uncompressed ÷ compressed
    max_rows: int = Field(default=20000, ge=10)             # rows a sheet uses
    max_columns: int = Field(default=500, ge=10)            # columns a sheet uses
    seconds_per_file: float = Field(default=60, gt=0)       # reading one file, in the worker process
    worker_memory_mb: int = Field(default=2048, ge=256)     # the worker's address space


class BriefingSettings(_Model):
    """What the briefings and circulars print (settings.yaml ``briefing``)."""

    issuer: str = "{unit}民政局"        # 发文单位; {unit}: the name of the briefing's unit
    date: str = "today"               # 成文日期: "today", or a text such as "    年  月  日" filled in by hand
    number: str = "第  期"             # 期号 under the title
    title_font: str = "方正小标宋简体"
    heading_font: str = "黑体"
    body_font: str = "仿宋_GB2312"
    # the installed faces that stand in for the named ones when a PDF is made here (fontconfig aliases)
    substitutes: dict[str, list[str]] = Field(default_factory=lambda: {
        "方正小标宋简体": ["Noto Serif CJK SC"], "黑体": ["Noto Sans CJK SC"],
        "仿宋_GB2312": ["Noto Serif CJK SC"],
        "楷体_GB2312": ["AR PL UKai CN", "Noto Serif CJK SC"]})

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, v: str) -> str:
        try:
            v.format(unit="某市")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"发文单位只能含占位符 {{unit}}:{v}") from exc
        return v


class Settings(_Model):
    """schemas/settings.yaml."""

    database: str = "data/rural_targets.duckdb"
    applies: list[PlanApplication] = Field(default_factory=list)
    progress: ProgressSettings = ProgressSettings()
    reporting: ReportingSettings = ReportingSettings()
    accounts: AccountSettings = AccountSettings()
    review: ReviewSettings = ReviewSettings()
    limits: LimitSettings = LimitSettings()
    briefing: BriefingSettings = BriefingSettings()


class Catalog(_Model):
    """Everything under schemas/, validated and compiled."""

    template_version: str
    sheets: dict[str, SheetSpec]
    indicators: dict[str, Indicator]
    rules: list[Rule]
    plans: dict[str, Plan]
    settings: Settings

    def plan(self, code: str) -> Plan:
        """The plan with ``code``; CatalogError CAT008 when there is none."""
        if code not in self.plans:
            raise CatalogError("CAT008", plan=code, known=", ".join(self.plans))
        return self.plans[code]

    def targets(self, plan: str | None = None) -> list[tuple[Plan, Target]]:
        """Every (plan, target) pair, or only those of ``plan``."""
        plans = [self.plan(plan)] if plan else list(self.plans.values())
        return [(p, t) for p in plans for t in p.targets]

    def target(self, target_id: str) -> tuple[Plan, Target]:
        """The plan and target with ``target_id``; CatalogError CAT006 when there is none."""
        for p, t in self.targets():
            if t.id == target_id:
                return p, t
        raise CatalogError("CAT006", file="schemas/plans", entry=target_id, name=target_id)

    def scopes(self, plan_code: str) -> list[str]:
        """Units a plan is applied to: its own scope, plus those named in settings."""
        plan = self.plan(plan_code)
        return [plan.scope] + [a.unit for a in self.settings.applies if a.plan == plan_code and a.unit != plan.scope]


# ---------------------------------------------------------------------------- loading

class _Loader(yaml.SafeLoader):
    """SafeLoader that leaves dates as text, so a bad date is reported by the catalog, not by YAML."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.load(fh, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogError("CAT001", file=_rel(path), detail=str(exc).replace("\n", " ")) from None


def _rel(path: Path) -> str:
    return relative(path)


# the Chinese name of a key, for messages about its value
_KEY_ZH = {"comparator": "比较方式", "eval": "评价方式", "level": "层级", "scope_level": "层级", "type": "字段类型",
           "kind": "存量/流量", "window": "时间窗口", "source": "数据来源表", "severity": "严重程度",
           "recurrence": "重复周期", "population": "口径(population)", "judged_at": "判定层级(judged_at)",
           "township_kind": "乡镇口径(township_kind)", "baseline": "比较基期(baseline)"}


def _build(model: type[BaseModel], data: Any, file: Path, entry: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = err["loc"]
        if len(loc) >= 2 and loc[0] == "targets" and isinstance(loc[1], int):  # name the target, not the plan
            target = data["targets"][loc[1]]
            tid = target.get("id") if isinstance(target, dict) else None
            entry, loc = (str(tid), loc[2:]) if tid else (f"{entry} targets[{loc[1]}]", loc[2:])
        where = ".".join(str(x) for x in loc)
        raise CatalogError("CAT002", file=_rel(file), entry=entry,
                           detail=f"{where}: {_problem_zh(err)}" if where else _problem_zh(err)) from None


def _problem_zh(err: dict[str, Any]) -> str:
    """A pydantic error in Chinese for the kinds a catalog author meets; pydantic's own text otherwise."""
    key = next((k for k in reversed(err["loc"]) if isinstance(k, str)), "")
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "literal_error":
        return f"{_KEY_ZH.get(key, key)} {err['input']!r} 无效,可用:{ctx['expected'].replace(' or ', ', ')}"
    if kind == "missing":
        return "缺少该项"
    if kind == "extra_forbidden":
        return f"未知的键 {key}"
    if kind == "string_pattern_mismatch":
        return f"{err['input']!r} 格式不对(应符合 {ctx['pattern']})"
    if kind == "string_too_short":
        return "不能为空"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        op = {"greater_than": ("gt", ">"), "greater_than_equal": ("ge", "≥"),
              "less_than": ("lt", "<"), "less_than_equal": ("le", "≤")}[kind]
        bound = ctx.get(op[0])
        return f"{err['input']!r} 超出范围(应 {op[1]} {bound:g})" if isinstance(bound, (int, float)) else err["msg"]
    if kind in ("bool_parsing", "bool_type"):
        return f"{err['input']!r} 不是 true/false"
    return err["msg"].removeprefix("Value error, ")


def _compile(expr: str, fields: dict[str, dict[str, Any]], file: Path, entry: str) -> Compiled:
    try:
        return compile_expression(expr, fields)
    except ExpressionError as exc:
        msg = str(exc)
        if msg.startswith("未知字段 "):
            raise CatalogError("CAT003", file=_rel(file), entry=entry, name=msg.split(" ", 1)[1]) from None
        raise CatalogError("CAT004", file=_rel(file), entry=entry, detail=f"{expr!r}: {msg}") from None


def load_catalog(root: Path | str = SCHEMAS_DIR) -> Catalog:
    """Load and validate every YAML file under ``root`` (fields, indicators, rules, plans, settings)."""
    root = Path(root)
    ids: dict[str, str] = {}

    def claim(entry: str, file: Path) -> None:
        if entry in ids:
            raise CatalogError("CAT005", file=_rel(file), entry=entry, other=ids[entry])
        ids[entry] = _rel(file)

    # fields
    fpath = root / "fields.yaml"
    raw = _read_yaml(fpath) or {}
    sheets: dict[str, SheetSpec] = {}
    seen_fields: dict[str, str] = {}
    for key, sheet in (raw.get("sheets") or {}).items():
        spec = _build(SheetSpec, {"key": key, **sheet}, fpath, f"sheets.{key}")
        for f in spec.fields:
            if f.id in seen_fields:
                raise CatalogError("CAT005", file=_rel(fpath), entry=f.id, other=f"sheets.{seen_fields[f.id]}")
            seen_fields[f.id] = key
        sheets[key] = spec
    for needed in ("village", "township", "county", "task"):
        if needed not in sheets:
            raise CatalogError("CAT002", file=_rel(fpath), entry=f"sheets.{needed}", detail="缺少该表的定义")

    # indicators
    ipath = root / "indicators.yaml"
    indicators: dict[str, Indicator] = {}
    for iid, body in ((_read_yaml(ipath) or {}).get("indicators") or {}).items():
        claim(iid, ipath)
        ind = _build(Indicator, {"id": iid, **(body or {})}, ipath, iid)
        fmap = sheets[ind.source].field_map
        for part in ("numerator", "denominator", "among"):
            expr = getattr(ind, part)
            if expr is not None:
                ind.compiled[part] = _compile(expr, fmap, ipath, f"{iid}.{part}")
        if ind.compiled["numerator"].type not in ("num", "bool"):
            raise CatalogError("CAT004", file=_rel(ipath), entry=f"{iid}.numerator", detail="分子必须是数值或条件")
        if "among" in ind.compiled and ind.compiled["among"].type != "bool":
            raise CatalogError("CAT004", file=_rel(ipath), entry=f"{iid}.among", detail="among 必须是条件")
        for sheet, expr in (ind.plus or {}).items():
            compiled = _compile(expr, sheets[sheet].field_map, ipath, f"{iid}.plus.{sheet}")
            if compiled.type != "num":
                raise CatalogError("CAT004", file=_rel(ipath), entry=f"{iid}.plus.{sheet}", detail="plus 必须是数值")
            ind.compiled_plus[sheet] = compiled
            flows = [f for f in compiled.fields if sheets[sheet].field(f).kind == "flow"]
            if flows and ind.window == "quarter_end":
                raise CatalogError("CAT002", file=_rel(ipath), entry=iid,
                                   detail=f"plus 用到流量字段 {', '.join(sorted(flows))},须写明 window: year_to_date")
        flows = [f for f in ind.fields if sheets[ind.source].field(f).kind == "flow"]
        if flows and ind.window == "quarter_end":
            raise CatalogError("CAT002", file=_rel(ipath), entry=iid,
                               detail=f"用到流量字段 {', '.join(sorted(flows))},须写明 window: year_to_date")
        indicators[iid] = ind

    # rules
    rpath = root / "rules.yaml"
    rules: list[Rule] = []
    for body in (_read_yaml(rpath) or {}).get("rules") or []:
        entry = (body or {}).get("id", "?")
        claim(entry, rpath)
        rule = _build(Rule, body, rpath, entry)
        if rule.sheet not in sheets:
            raise CatalogError("CAT002", file=_rel(rpath), entry=entry, detail=f"未知的表 {rule.sheet}")
        fmap = sheets[rule.sheet].field_map
        if rule.field not in fmap:
            raise CatalogError("CAT003", file=_rel(rpath), entry=entry, name=rule.field)
        for name in rule.require or []:
            if name not in fmap:
                raise CatalogError("CAT003", file=_rel(rpath), entry=entry, name=name)
        if rule.check:
            rule.compiled_check = _compile(rule.check, fmap, rpath, entry)
        if rule.when:
            rule.compiled_when = _compile(rule.when, fmap, rpath, entry)
        for c in (rule.compiled_check, rule.compiled_when):
            if c is not None and c.type != "bool":
                raise CatalogError("CAT004", file=_rel(rpath), entry=entry, detail=f"{c.source!r} 不是条件")
        rules.append(rule)

    # plans
    plans: dict[str, Plan] = {}
    for ppath in sorted((root / "plans").glob("*.yaml")):
        body = _read_yaml(ppath) or {}
        code = body.get("code", ppath.stem)
        for t in body.get("targets") or []:
            if isinstance(t, dict) and "id" in t:
                claim(str(t["id"]), ppath)
            # deadlines have their own code (CAT007) and only YYYY-MM-DD (pydantic also takes timestamps)
            if isinstance(t, dict) and "deadline" in t and not _is_iso_date(t["deadline"]):
                raise CatalogError("CAT007", file=_rel(ppath), entry=t.get("id", "?"),
                                   detail=f"{t['deadline']!r} 不是有效日期(应为 YYYY-MM-DD)")
        for i, t in enumerate(body.get("targets") or []):
            if isinstance(t, dict) and "deadline" not in t:
                raise CatalogError("CAT007", file=_rel(ppath), entry=t.get("id", f"targets[{i}]"), detail="缺少 deadline")
        plan = _build(Plan, body, ppath, code)
        if code in plans:
            raise CatalogError("CAT005", file=_rel(ppath), entry=code, other="plans")
        for t in plan.targets:
            _check_target(t, plan, indicators, sheets, ppath)
        plans[code] = plan

    settings = _build(Settings, _read_yaml(root / "settings.yaml") or {}, root / "settings.yaml", "settings")
    for app in settings.applies:
        if app.plan not in plans:
            raise CatalogError("CAT008", plan=app.plan, known=", ".join(plans))

    return Catalog(template_version=str(raw.get("template_version", "1")), sheets=sheets,
                   indicators=indicators, rules=rules, plans=plans, settings=settings)


def _is_iso_date(value: Any) -> bool:
    try:
        dt.date.fromisoformat(str(value))
    except ValueError:
        return False
    return len(str(value)) == 10


def _check_target(t: Target, plan: Plan, indicators: dict[str, Indicator], sheets: dict[str, SheetSpec],
                  path: Path) -> None:
    if t.indicator is not None and t.indicator not in indicators:
        raise CatalogError("CAT006", file=_rel(path), entry=t.id, name=t.indicator)
    if t.deadline < plan.period_start:
        raise CatalogError("CAT007", file=_rel(path), entry=t.id,
                           detail=f"{t.deadline} 早于规划期开始 {plan.period_start}")
    if t.start and t.start > t.deadline:
        raise CatalogError("CAT007", file=_rel(path), entry=t.id, detail=f"start {t.start} 晚于截止日期 {t.deadline}")
    for m in t.milestones:
        sheet = SHEET_OF_LEVEL.get(t.level)
        spec = sheets.get(sheet) if sheet else None
        for name in [m.field] + ([m.after.field] if m.after else []):
            if spec is None or name not in spec.field_map:
                raise CatalogError("CAT003", file=_rel(path), entry=t.id, name=name)
            if spec.field(name).type != "date":
                raise CatalogError("CAT002", file=_rel(path), entry=t.id, detail=f"里程碑字段 {name} 必须是日期字段")
    if t.judged_at not in (None, "scope") and LEVEL_RANK[t.judged_at] < LEVEL_RANK[plan.scope_level]:
        raise CatalogError("CAT002", file=_rel(path), entry=t.id,
                           detail=f"判定层级 {t.judged_at} 高于规划范围的层级 {plan.scope_level}")
    source = indicators[t.indicator].source if t.indicator else None
    if "township_kind" in t.model_fields_set and t.level != "township" and source != "township":
        raise CatalogError("CAT002", file=_rel(path), entry=t.id,
                           detail="township_kind(乡镇口径)只用于乡镇级目标或取自乡镇表的指标")


@lru_cache(maxsize=4)
def _cached(root: str) -> Catalog:
    return load_catalog(root)


def catalog(root: Path | str = SCHEMAS_DIR) -> Catalog:
    """The catalog under ``root``, loaded once per process."""
    return _cached(str(Path(root).resolve()))
