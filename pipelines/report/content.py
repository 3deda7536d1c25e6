"""What a briefing says, gathered from the stored data through the compute API: the plan's targets
judged for one unit and quarter, the reporting of the quarter, and for each lagging or missed target
its trend, the units below ranked worst first and their map."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd

from pipelines.catalog.definitions import Catalog, catalog
from pipelines.compute import completeness as completeness_api
from pipelines.compute import laggards as laggards_api
from pipelines.compute import lookups
from pipelines.compute.assess import assess_frame
from pipelines.compute.judge import judged_levels
from pipelines.errors import ReportError
from pipelines.periods import due_date, parse_period
from pipelines.registry.load import get_unit
from pipelines.report.formats import STATUS_ORDER, fmt_date, fmt_num, fmt_pct, fmt_period, issue_date, issuer, status_zh
from pipelines.units import LEVELS, level_of

LAGGING = ("missed", "severely_lagging", "lagging")     # the targets a briefing looks at one by one
BASIS_ZH = {"now": "按现有全部数据", "then": "按当时已报送的数据"}
MAP_LEVEL = {"province": "county", "city": "township", "county": "township", "township": "village"}
TABLE_ROWS = 30                                         # ranked units shown per target (the worst first)


@dataclass
class TargetPart:
    """One lagging or missed target: its catalog entry, its row for the unit, its history up to the
    quarter, and the units below it ranked worst first (``level``) with their shapes for a map."""

    info: dict[str, Any]
    row: dict[str, Any]
    history: pd.DataFrame
    level: str | None = None
    ranked: pd.DataFrame = field(default_factory=pd.DataFrame)
    shapes: pd.DataFrame = field(default_factory=pd.DataFrame)
    outlines: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass
class Briefing:
    """Everything one briefing shows (``gather``)."""

    plan: Any
    unit: dict[str, Any]
    period: str
    basis: str
    made: dt.date
    rows: pd.DataFrame                         # one row per target of the plan, for the unit
    reporting: dict[str, Any]                  # pipelines.compute.completeness.completeness
    parts: list[TargetPart]
    map_level: str | None = None
    map_areas: pd.DataFrame = field(default_factory=pd.DataFrame)   # units below with their lagging counts
    map_outlines: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def title(self) -> str:
        return f"{self.unit['name']}《{self.plan.title}》目标推进情况通报({fmt_period(self.period)})"

    @property
    def issuer(self) -> str:
        return issuer(self.unit["name"])

    @property
    def date_text(self) -> str:
        return issue_date(self.made)

    @property
    def number(self) -> str:
        return catalog().settings.briefing.number

    @property
    def basis_text(self) -> str:
        if self.basis == "then":
            due = due_date(self.period, catalog().settings.reporting.due_day)
            return f"按{fmt_date(due)}(报送截止日)前收到的报表"
        return f"按{fmt_date(self.made)}已报送的全部报表"

    def counts(self) -> dict[str, int]:
        """Targets per status (worst first), as ``rural-targets progress`` gives them for the unit."""
        c = self.rows["status"].value_counts()
        return {k: int(c[k]) for k in STATUS_ORDER if c.get(k, 0)}

    def summary(self) -> list[str]:
        """The summary paragraphs, written with the figures."""
        counts = self.counts()
        n = len(self.rows)
        words = ",".join(f"{status_zh(k)} {v} 项" for k, v in counts.items())
        first = (f"截至{fmt_period(self.period)}({self.basis_text}),{self.unit['name']}纳入《{self.plan.title}》"
                 f"监测的目标共 {n} 项:{words}。")
        if self.parts:
            first += "滞后或未达标的目标:" + "、".join(f"{p.info['title']}({status_zh(p.row['status'])})"
                                                   for p in self.parts) + "。"
        else:
            first += "没有进度滞后或逾期未达标的目标。"
        if counts.get("incomplete"):
            first += (f"其中 {counts['incomplete']} 项因报送单位不足应报的 "
                      f"{self.reporting['min_coverage']:.0%},判为数据不全,不作达标与否的结论。")
        r = self.reporting
        second = (f"本季度应报乡镇(街道)报表 {r['expected']} 份,已报 {r['received']} 份"
                  f"(按时 {r['on_time']} 份,逾期 {r['late']} 份),未报 {r['missing']} 份")
        if r["pending"]:
            second += f",未到截止日 {r['pending']} 份"
        rate = fmt_pct(r["received"] / r["expected"]) if r["expected"] else "—"
        timely = fmt_pct(r["on_time"] / r["expected"]) if r["expected"] else "—"
        second += f";报送率 {rate},及时率 {timely}(报送截止日 {fmt_date(r['due_date'])})。"
        return [first, second]

    def method_notes(self) -> list[str]:
        """How the statuses are judged (settings.progress) and what the figures rest on."""
        s = catalog().settings.progress
        return [
            "序时进度 = 规划期内已过时间 ÷ 规划期全长;完成进度 = 已完成的变化 ÷ 达到目标所需的变化(自基期值起)。",
            f"按当前速度预计到截止日可完成所需变化的 {s.on_track:.0%} 及以上为进度正常,{s.lagging_floor:.0%} 至 "
            f"{s.on_track:.0%} 为进度滞后,不足 {s.lagging_floor:.0%} 为严重滞后;截止日已过仍未达到为已逾期未达标,"
            "截止日后才达到为逾期完成。",
            f"报送单位不足应报的 {s.min_coverage:.0%} 时判为数据不全,数值为暂定,不作达标与否的结论;"
            "未报送的单位不计为0。规划原文为“力争”“争取”的为力争目标。",
            f"数据来源:各乡镇(街道)季度报表,{self.basis_text}"
            + ("(只用已审核通过的报表)。" if catalog().settings.review.progress_uses == "approved" else "。"),
        ]

    def targets(self) -> list[dict[str, Any]]:
        """Each target of the plan for the unit: catalog entry and row, in the plan's order."""
        cat = catalog()
        out = []
        for rec in self.rows.to_dict("records"):
            out.append({"row": rec, "info": target_info(cat, rec["target"])})
        return out


def target_info(cat: Catalog, target_id: str) -> dict[str, Any]:
    """A target's catalog entry as the briefing quotes it."""
    plan, t = cat.target(target_id)
    ind = cat.indicators.get(t.indicator) if t.indicator else None
    return {"id": t.id, "title": t.title, "target_text": t.target_text, "deadline": t.deadline,
            "clause": t.clause, "source_clause": t.source_clause, "reading": t.reading, "strive": t.strive,
            "unit": t.unit or (ind.unit if ind else ""), "population": t.population, "level": t.level}


def default_unit(con: duckdb.DuckDBPyConnection, plan_code: str, cat: Catalog | None = None) -> str:
    """The plan's own unit when the registry has it, else the first unit following the plan
    (settings.applies) that it has."""
    cat = cat or catalog()
    for code in cat.scopes(plan_code):
        if lookups.units_by_code(con, [code]):
            return code
    raise ReportError("RPT005", unit="名录中的单位", plan=cat.plan(plan_code).title)


def _frame(con: duckdb.DuckDBPyConnection, cat: Catalog, basis: str, period: str, **kw: Any) -> pd.DataFrame:
    if basis == "then":
        return assess_frame(con, cat, as_of=period, **kw)
    return assess_frame(con, cat, period=period, **kw)


def gather(con: duckdb.DuckDBPyConnection, plan: str, period: str, *, unit: str | None = None, basis: str = "now",
           today: dt.date | None = None, cat: Catalog | None = None) -> Briefing:
    """The briefing of ``plan`` for ``unit`` (default: the plan's unit) as of ``period``: with the data
    stored today (basis "now"), or only what had arrived by the quarter's due date ("then")."""
    cat = cat or catalog()
    p = cat.plan(plan)
    parse_period(period)
    today = today or dt.date.today()
    code = unit or default_unit(con, plan, cat)
    u = get_unit(con, code)
    level = u["level"]
    if level not in LEVELS[:LEVELS.index("township") + 1]:
        raise ReportError("RPT005", unit=u["name"], plan=p.title)
    rows = _frame(con, cat, basis, period, plan=plan, level=level, unit=code)
    rows = rows[rows["unit_code"] == code]
    if rows.empty:
        raise ReportError("RPT005", unit=u["name"], plan=p.title)
    order = {t.id: i for i, t in enumerate(p.targets)}
    rows = rows.assign(_o=rows["target"].map(order)).sort_values("_o").drop(columns="_o").reset_index(drop=True)
    reporting = completeness_api.completeness(con, period, cat=cat, unit=code, today=today)
    history = assess_frame(con, cat, plan=plan, level=level, unit=code)
    history = history[(history["unit_code"] == code) & (history["period"] <= period)]
    last = laggards_api.last_returns(con, as_of=period if basis == "then" else None, cat=cat, upto=period)

    parts = []
    for rec in rows[rows["status"].isin(LAGGING)].to_dict("records"):
        t = rec["target"]
        hist = history[history["target"] == t].copy()
        if basis == "then":          # the quarter itself as it was judged then
            hist = pd.concat([hist[hist["period"] < period], pd.DataFrame([rec])], ignore_index=True)
        part = TargetPart(info=target_info(cat, t), row=rec, history=hist)
        below = judged_levels(cat, t, level)
        if below:
            part.level = MAP_LEVEL[level] if MAP_LEVEL.get(level) in below else below[0]
            child = _frame(con, cat, basis, period, target=t, level=part.level, unit=code)
            part.ranked = laggards_api.rank(child, last, cat) if not child.empty else child
            part.shapes, part.outlines = _shapes(con, code, part.level)
        parts.append(part)

    brief = Briefing(plan=p, unit=u, period=period, basis=basis, made=today, rows=rows, reporting=reporting,
                     parts=parts)
    brief.map_level = MAP_LEVEL.get(level)
    if brief.map_level and brief.map_level != "village":
        child = _frame(con, cat, basis, period, plan=plan, level=brief.map_level, unit=code)
        shapes, outlines = _shapes(con, code, brief.map_level)
        brief.map_areas = _lagging_counts(shapes, child, reporting)
        brief.map_outlines = outlines
    return brief


def _shapes(con: duckdb.DuckDBPyConnection, code: str, level: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The units of ``level`` under ``code`` with their boundaries (villages: points), and the outlines
    of the level between them (counties when showing a city's townships)."""
    units = lookups.descendants(con, code, level)
    shapes = lookups.unit_shapes(con, list(units["code"])) if level != "village" else units
    outlines = pd.DataFrame()
    if level == "township" and level_of(code) in ("province", "city"):
        outlines = lookups.unit_shapes(con, list(lookups.descendants(con, code, "county")["code"]))
    elif level == "village":
        outlines = lookups.unit_shapes(con, [code])
    return shapes, outlines


def _lagging_counts(shapes: pd.DataFrame, child: pd.DataFrame, reporting: dict[str, Any]) -> pd.DataFrame:
    """Each unit of the map with the number of its targets lagging, severely lagging or missed (of those
    judged for it) and whether it reported in the quarter."""
    behind = child[child["status"].isin(LAGGING)].groupby("unit_code").size()
    judged = child[~child["status"].isin(["not_judged", "no_data", "incomplete"])].groupby("unit_code").size()
    missing = {t["township_code"] for t in reporting["townships"] if t.get("missing")}
    out = shapes.copy()
    out["lagging"] = out["code"].map(behind).fillna(0).astype(int)
    out["judged"] = out["code"].map(judged).fillna(0).astype(int)
    out["missing"] = out["code"].isin(missing)
    return out


def value_line(row: dict[str, Any], unit: str) -> str:
    """"当前 84.3%,目标 90%,完成进度 83.9%(序时进度 87.4%)"."""
    return (f"当前 {fmt_num(row.get('value'), unit)},目标 {row.get('target_text') or '—'},"
            f"完成进度 {fmt_pct(row.get('pi'))}(序时进度 {fmt_pct(row.get('tau'))})")

