"""The catalog in schemas/: complete against the plans' targets, and strict about mistakes."""
from __future__ import annotations

import json
import re
from collections import Counter
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipelines.catalog.definitions import SCHEMAS_DIR, load_catalog
from pipelines.errors import CatalogError

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TARGETS_MD = FIXTURES / "targets-from-seeds.md"
SEEDS = FIXTURES / "seeds"
PLAN_HEADING = re.compile(r"^## (\S+) · ")


def seed_rows() -> list[dict]:
    """Every target row of targets-from-seeds.md, with its plan and cells by column name."""
    rows, plan, header = [], None, None
    for line in TARGETS_MD.read_text(encoding="utf-8").splitlines():
        if m := PLAN_HEADING.match(line):
            plan, header = m.group(1), None
            continue
        if not line.startswith("|") or plan is None:
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
        elif not set(cells[0]) <= {"-"}:
            rows.append({"plan": plan, **dict(zip(header, cells))})
    return rows


def expected_comparator(cell: str, eval_kind: str) -> tuple[str, float | list[float] | None]:
    if eval_kind.startswith("milestone"):
        return "done_by", None
    if "rising" in cell:
        return "rising", None
    if "stable" in cell:
        return "not_falling", None
    if m := re.search(r"(\d+)\s*–\s*(\d+)", cell):
        return "between", [float(m.group(1)), float(m.group(2))]
    symbol = "about" if "≈" in cell else ">=" if "≥" in cell else ">" if ">" in cell else None
    assert symbol, f"cannot read a comparator from {cell!r}"
    value = re.search(r"[≈≥>]\s*([\d.]+)", cell).group(1)
    return symbol, float(value)


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


def test_every_target_of_the_plans_is_in_the_catalog(cat):
    rows = seed_rows()
    assert len(rows) == 55
    ids = {t.id: (p.code, t) for p, t in cat.targets()}
    assert set(ids) == {r["id"] for r in rows}
    for r in rows:
        plan, t = ids[r["id"]]
        assert plan == r["plan"], r["id"]
        eval_cell = r.get("eval", "")
        assert t.eval == eval_cell.split()[0], r["id"]
        comparator, value = expected_comparator(r.get("comparator · value", ""), eval_cell)
        assert t.comparator == comparator, r["id"]
        if value is not None:
            assert t.value == value, r["id"]
        level = r.get("level", "province").split()[0].replace("district", "county")
        assert t.level == level, r["id"]


def test_deadlines_follow_the_plans(cat):
    for r in seed_rows():
        plan, t = next((p, t) for p, t in cat.targets() if t.id == r["id"])
        cell = r["deadline"]
        dates = re.findall(r"\d{4}-\d{2}-\d{2}", cell)
        if dates:
            assert t.deadline.isoformat() in dates, r["id"]
        elif cell.startswith(("yearly", "ongoing", "plan end")):
            assert t.deadline == plan.period_end, r["id"]
        else:  # the relative deadline: committee elections (2021-03-31) + 10 days
            assert r["id"] == "sc-supervisor-10-days" and t.deadline.isoformat() == "2021-04-10"


def _normalise(text: str) -> str:
    """Plan texts mix full- and half-width punctuation and break lines anywhere."""
    table = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "(": "(", ")": ")", ",": ",", ":": ":"})
    return re.sub(r"\s+", "", text).translate(table)


def test_clauses_are_quoted_from_the_seed_texts(cat):
    for plan in cat.plans.values():
        assert plan.source and plan.scope.isdigit() and len(plan.scope) == 12
        text = _normalise((SEEDS / f"{plan.code}.txt").read_text(encoding="utf-8"))
        for t in plan.targets:
            assert t.clause, t.id
            pieces = [p for p in re.split(r"…|'|\"", _normalise(t.source_clause)) if len(p) >= 6]
            assert pieces, t.id
            for piece in pieces:
                assert piece in text, (t.id, piece)


def test_milestone_tasks_keep_lead_and_partner_units(cat):
    t = dict((t.id, t) for _, t in cat.targets("sichuan-2021"))
    assert t["sc-task-10"].lead == ["民政厅"]
    assert "审计厅" in t["sc-task-10"].partners
    assert t["sc-task-08"].lead == ["住房和城乡建设厅"]
    assert {x.eval for x in t.values()} == {"milestone"} and len(t) == 11


def test_indicator_sql_is_parameterised(cat):
    ind = cat.indicators["first_secretary_coverage"]
    assert ind.compiled["among"].fields == {"flag_weak_party_org", "flag_poor", "flag_weak_economy"}
    demo = cat.indicators["complete_type_share"].compiled["numerator"]
    assert "完善型" not in demo.sql and demo.params == ("完善型", "示范型")
    assert cat.indicators["eco_burial_rate"].window == "year_to_date"


# ------------------------------------------------------------- definition errors

@pytest.fixture
def schemas(tmp_path):
    root = tmp_path / "schemas"
    shutil.copytree(SCHEMAS_DIR, root)
    return root


def edit(path: Path, fn) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    fn(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def raises(root: Path, code: str) -> CatalogError:
    with pytest.raises(CatalogError) as info:
        load_catalog(root)
    assert info.value.code == code, info.value.message_zh
    return info.value


def test_unknown_field_in_an_indicator(schemas):
    edit(schemas / "indicators.yaml", lambda d: d["indicators"]["elder_assoc_coverage"].update(numerator="has_elder_club"))
    err = raises(schemas, "CAT003")
    assert "indicators.yaml" in err.message_zh and "elder_assoc_coverage" in err.message_zh and "has_elder_club" in err.message_zh


def test_bad_comparator(schemas):
    edit(schemas / "plans" / "changde-2018.yaml", lambda d: d["targets"][4].update(comparator="at least"))
    err = raises(schemas, "CAT002")
    assert err.context["file"].endswith("plans/changde-2018.yaml") and err.context["entry"] == "cd-social-orgs-avg"
    assert err.context["detail"].startswith("comparator: 比较方式 'at least' 无效,可用:'>=', '>', '<=', '<', '==', ")
    assert "cd-social-orgs-avg" in err.message_zh and "'at least'" in err.message_zh


@pytest.mark.parametrize("file, entry, change, detail", [
    ("plans/changde-2018.yaml", "cd-social-orgs-avg", lambda d: d["targets"][4].update(eval="sometimes"),
     "eval: 评价方式 'sometimes' 无效,可用:'aggregate', 'every_unit', 'count', 'milestone', 'trend', 'band'"),
    ("plans/changde-2018.yaml", "cd-social-orgs-avg", lambda d: d["targets"][4].update(level="hamlet"),
     "level: 层级 'hamlet' 无效,可用:'province', 'city', 'county', 'township', 'village'"),
    ("plans/changde-2018.yaml", "changde-2018", lambda d: d.update(scope_level="region"),
     "scope_level: 层级 'region' 无效,可用:'province', 'city', 'county', 'township', 'village'"),
    ("plans/changde-2018.yaml", "cd-social-orgs-avg", lambda d: d["targets"][4].update(colour="red"),
     "colour: 未知的键 colour"),
    ("plans/changde-2018.yaml", "cd-social-orgs-avg", lambda d: d["targets"][4].pop("title"), "title: 缺少该项"),
    ("plans/changde-2018.yaml", "cd-social-orgs-avg", lambda d: d["targets"][4].update(comparator="between"),
     "评价方式 aggregate 不能用比较方式 between"),
    ("indicators.yaml", "eco_burial_rate", lambda d: d["indicators"]["eco_burial_rate"].update(window="monthly"),
     "window: 时间窗口 'monthly' 无效,可用:'quarter_end', 'year_to_date'"),
    ("indicators.yaml", "eco_burial_rate", lambda d: d["indicators"]["eco_burial_rate"].update(source="city"),
     "source: 数据来源表 'city' 无效,可用:'village', 'township', 'county'"),
    ("fields.yaml", "sheets.village", lambda d: d["sheets"]["village"]["fields"][3].update(type="integer"),
     "fields.3.type: 字段类型 'integer' 无效,可用:'code', 'text', 'int', 'number', 'bool', 'enum', 'date'"),
    ("rules.yaml", "elderly_le_population", lambda d: d["rules"][0].update(severity="fatal"),
     "severity: 严重程度 'fatal' 无效,可用:'error', 'warning'"),
], ids=["eval", "level", "scope_level", "unknown-key", "missing-key", "comparator-for-eval", "window", "source",
        "field-type", "severity"])
def test_closed_vocabularies_name_file_entry_and_choices(schemas, file, entry, change, detail):
    edit(schemas / file, change)
    err = raises(schemas, "CAT002")
    assert err.context["file"].endswith(file) and err.context["entry"] == entry
    assert err.context["detail"] == detail
    assert err.message_zh == f"目录文件 {err.context['file']} 中 {entry} 定义有误:{detail}"


def test_missing_deadline(schemas):
    edit(schemas / "plans" / "jiaxing-2018.yaml", lambda d: d["targets"][0].pop("deadline"))
    err = raises(schemas, "CAT007")
    assert "jx-social-orgs-10" in err.message_zh and "缺少" in err.message_zh


def test_impossible_deadline(schemas):
    path = schemas / "plans" / "beijing-2021.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("deadline: 2025-12-31", "deadline: 2025-02-30", 1), encoding="utf-8")
    err = raises(schemas, "CAT007")
    assert "bj-village-rules-household" in err.message_zh and "2025-02-30" in err.message_zh


def test_deadline_before_the_plan(schemas):
    edit(schemas / "plans" / "qianjiang-2021.yaml", lambda d: d["targets"][0].update(deadline="2019-12-31"))
    assert "qj-district-demo-village" in raises(schemas, "CAT007").message_zh


def test_duplicate_target_id(schemas):
    edit(schemas / "plans" / "beijing-2021.yaml", lambda d: d["targets"][1].update(id="cd-eco-burial"))
    err = raises(schemas, "CAT005")
    assert "cd-eco-burial" in err.message_zh and "changde-2018.yaml" in err.message_zh


def test_target_pointing_to_a_missing_indicator(schemas):
    edit(schemas / "plans" / "changde-2018.yaml", lambda d: d["targets"][0].update(indicator="reserve_456_share"))
    assert "reserve_456_share" in raises(schemas, "CAT006").message_zh


@pytest.mark.parametrize("expr", ["__import__('os').system('x')", "households; DROP TABLE units",
                                  "community_type == '超级型'", "households.real", "burials and households"])
def test_expressions_outside_the_language_are_refused(schemas, expr):
    edit(schemas / "indicators.yaml", lambda d: d["indicators"]["platform_area"].update(numerator=expr))
    assert "platform_area" in raises(schemas, "CAT004").message_zh


def test_flow_fields_need_a_window(schemas):
    edit(schemas / "indicators.yaml", lambda d: d["indicators"]["eco_burial_rate"].pop("window"))
    err = raises(schemas, "CAT002")
    assert err.context["entry"] == "eco_burial_rate"
    assert err.context["detail"] == "用到流量字段 burials, eco_burials,须写明 window: year_to_date"


def test_a_new_plan_is_a_yaml_edit(schemas):
    (schemas / "plans" / "demo-2026.yaml").write_text(yaml.safe_dump({
        "code": "demo-2026", "title": "示例规划", "doc_no": "示民发〔2026〕1号", "issuer": "示例市民政局",
        "issued": "2026-01-10", "scope": "439900000000", "scope_name": "示例市", "scope_level": "city",
        "period_start": "2026-01-01", "period_end": "2027-12-31",
        "targets": [{"id": "dm-beds-40", "title": "每千名老年人口养老床位40张", "clause": "一",
                     "source_clause": "每千名老年人口拥有养老床位数达到40张", "indicator": "beds_per_1000_elderly",
                     "comparator": ">=", "value": 40, "unit": "张/千人", "deadline": "2027-12-31",
                     "eval": "aggregate", "level": "city"}]}, allow_unicode=True), encoding="utf-8")
    cat = load_catalog(schemas)
    assert [t.id for _, t in cat.targets("demo-2026")] == ["dm-beds-40"]


# ------------------------------------------------------------- CLI

def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli.main", *args], capture_output=True, text=True)


def test_cli_lists_all_55_targets_as_json():
    out = run_cli("targets", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert len(rows) == 55
    keys = {"plan", "id", "title", "comparator", "value", "unit", "deadline", "eval", "level", "source_clause"}
    assert all(keys <= set(r) for r in rows)
    assert Counter(r["eval"] for r in rows) == {"every_unit": 19, "aggregate": 13, "milestone": 13, "count": 5,
                                                 "trend": 3, "band": 2}
    eco = next(r for r in rows if r["id"] == "cd-eco-burial")
    assert (eco["comparator"], eco["value"], eco["deadline"]) == (">=", 50, "2020-12-31")


def test_cli_filters_by_plan_and_rejects_an_unknown_plan():
    rows = json.loads(run_cli("targets", "--plan", "jiaxing-2018", "--json").stdout)
    assert {r["plan"] for r in rows} == {"jiaxing-2018"} and len(rows) == 8
    bad = run_cli("targets", "--plan", "nowhere-2030")
    assert bad.returncode != 0 and "CAT008" in bad.stderr and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
