"""The broken sample returns (data/samples/bad) and the problems ingest must report for them (expected.yaml).

Each file is the good return ``BAD_BASE`` (黄嘴镇 2025Q4, the real template) with exactly one
defect — a wrong value, a deleted column or sheet, a merged cell, a hidden row, a corrupt file …
— one per problem class of ``pipelines.errors``. ``write_bad_samples`` rewrites the directory
(``python -m pipelines.samples.returns bad``); ``tests/test_bad_returns.py`` checks that ingest
reports each expected code at the expected cell.
"""
from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import openpyxl
import yaml
from openpyxl.utils import column_index_from_string, get_column_letter

from pipelines.catalog.definitions import catalog
from pipelines.errors import severity_of
from pipelines.files import atomic_write
from pipelines.periods import period_label, shift
from pipelines.resources import samples_dir
from pipelines.samples.simulation import BAD_BASE, Simulation, simulate
from pipelines.samples.writers import cell_value, filled_template, return_filename, save_workbook, saved_at

BAD_DIR = samples_dir() / "bad"  # checkout only: not shipped in the wheel


@dataclass
class _Bad:
    """What a maker of a broken sample needs: the base workbook and where things are."""

    wb: Any
    meta: dict[str, str]
    village: Any                      # the 村级情况 worksheet
    township: Any                     # the 乡镇情况 worksheet
    col: dict[str, str]               # village field → column letter
    tcol: dict[str, str]              # township field → column letter
    first: int
    last: int
    values: dict[str, Any]
    other: tuple[dict[str, Any], str, str]  # a village of another township: values, code, name

    def ref(self, fid: str, row: int | None = None, sheet: str = "village") -> str:
        col = (self.col if sheet == "village" else self.tcol)[fid]
        title = catalog().sheets[sheet].title
        return f"{title}!{col}{row or self.first}"


def _bad_cases() -> list[dict[str, Any]]:
    """Every broken sample: file name, expected problem, what is wrong (Chinese), and a maker
    ``make(b) -> bytes | None`` (None: the workbook ``b.wb`` as edited is saved)."""
    V, T = "村级情况", "乡镇情况"

    def set_cell(fid: str, value: Any, row: int | None = None):
        def make(b: _Bad) -> None:
            b.village[f"{b.col[fid]}{row or b.first}"].value = value
        return make

    def not_a_return(b: _Bad) -> bytes:
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "通讯录"
        ws.append(["乡镇民政办通讯录"])
        ws.append(["姓名", "职务", "办公电话", "手机"])
        for name, job, tel in (("张明", "民政办主任", "0736-7321001"), ("李芳", "统计员", "0736-7321002"),
                               ("王强", "社工站站长", "0736-7321003")):
            ws.append([name, job, tel, "138" + tel[-8:]])
        return _save(wb)

    def old_version(b: _Bad) -> None:
        _meta_cell(b.wb, "template_version").value = "2023.1"

    def no_period(b: _Bad) -> None:
        del b.wb["_meta"]
        for name in list(b.wb.defined_names):
            del b.wb.defined_names[name]
        for row in b.village.iter_rows(max_row=b.first - 1):
            for c in row:
                if isinstance(c.value, str) and c.value.startswith("报告期"):
                    c.value = "报告期:"

    def unknown_township(b: _Bad) -> None:
        b.township[f"{b.tcol['township_code']}{b.first}"].value = "439921110000"

    def corrupt(b: _Bad) -> bytes:
        return _save(b.wb)[:4096]

    def no_rows(b: _Bad) -> None:
        for r in range(b.first, b.last + 1):
            for c in b.village[r]:
                c.value = None

    def no_township_sheet(b: _Bad) -> None:
        del b.wb[T]

    def drop_column(fid: str):
        def make(b: _Bad) -> None:
            b.village.delete_cols(column_index_from_string(b.col[fid]))
        return make

    def eco_over(b: _Bad) -> None:
        burials = b.values["village"][0]["burials"]
        b.village[f"{b.col['eco_burials']}{b.first}"].value = burials + 2

    def extra_row(kind: str):
        def make(b: _Bad) -> None:
            r = b.last + 1
            if kind == "other":
                rec, code, name = b.other
                rec = {**rec, "village_code": code, "village_name": name}
            elif kind == "duplicate":
                rec = b.values["village"][0]
            else:  # totals
                rec = {"village_code": "合计"}
                for f in catalog().sheets["village"].fields:
                    if f.type in ("int", "number"):
                        rec[f.id] = sum(v[f.id] or 0 for v in b.values["village"])
            for fid, v in rec.items():
                if fid in b.col:
                    b.village[f"{b.col[fid]}{r}"].value = cell_value(v)
        return make

    def clear_row(b: _Bad) -> None:
        for c in b.village[b.last]:
            c.value = None

    def merge(b: _Bad) -> None:
        col = b.col["social_orgs"]
        b.village.merge_cells(f"{col}{b.first}:{col}{b.first + 1}")

    def hide_row(b: _Bad) -> None:
        b.village.row_dimensions[b.first + 1].hidden = True

    def rename(b: _Bad) -> None:
        cell = b.village[f"{b.col['village_name']}{b.first}"]
        cell.value = f"{cell.value}委会"

    def tenfold(b: _Bad) -> None:
        cell = b.village[f"{b.col['social_orgs']}{b.first}"]
        cell.value = cell.value * 10

    def error_cell(fid: str, error: str):
        def make(b: _Bad) -> None:
            cell = b.village[f"{b.col[fid]}{b.first}"]
            cell.value, cell.data_type = error, "e"           # what Excel saves for a failed formula
        return make

    def town_cell(fid: str, value: Any):
        def make(b: _Bad) -> None:
            b.township[f"{b.tcol[fid]}{b.first}"].value = value
        return make

    return [
        dict(file="ING001_不是报表.xlsx", code="ING001", make=not_a_return, where=None,
             defect="一个与报表无关的工作簿(通讯录),没有“村级情况”表"),
        dict(file="GEN003_报表截图.pdf", code="GEN003", make=lambda b: b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n",
             where=None, defect="不是 Excel 或 CSV 文件(PDF)"),
        dict(file="ING002_旧版模板.xlsx", code="ING002", make=old_version, where=None,
             defect="隐藏的 _meta 表中模板版本为 2023.1(旧版模板)"),
        dict(file="ING003_缺少报告期.xlsx", code="ING003", make=no_period, where=None,
             defect="删除了隐藏的 _meta 表,表头“报告期:”后面的季度也被删掉"),
        dict(file="ING004_乡镇代码有误.xlsx", code="ING004", make=unknown_township,
             where=lambda b: (T, b.ref("township_code", sheet="township"), "township_code"),
             also=["ING027"], defect="乡镇情况表的乡镇代码写成 439921110000(名录中没有这个乡镇,与表头、隐藏的 _meta 表也不一致)"),
        dict(file="ING005_439921100000_2025Q3.xlsx", code="ING005", make=lambda b: None, where=None,
             defect="文件名写的是另一个乡镇(仁井镇 439921100000)和另一个季度(2025Q3),表内是黄嘴镇 2025Q4;"
                    "按表内内容导入,并提示"),
        dict(file="ING006_文件损坏.xlsx", code="ING006", make=corrupt, where=None,
             defect="只有前 4096 字节的 .xlsx(传输中断),无法打开"),
        dict(file="ING007_没有村数据.xlsx", code="ING007", make=no_rows, where=lambda b: (V, None, None),
             defect="村级情况表的数据行全部被清空"),
        dict(file="ING008_缺少乡镇情况表.xlsx", code="ING008", make=no_township_sheet, where=None,
             defect="删除了“乡镇情况”工作表;村级数据照常导入,乡镇本身的指标按未填报处理"),
        dict(file="ING009_缺少备注列.xlsx", code="ING009", make=drop_column("remarks"),
             where=lambda b: (V, None, "remarks"), defect="删除了“备注”列(非必填列),该列按未填报处理"),
        dict(file="ING010_数字格填了文字.xlsx", code="ING010", make=set_cell("population_resident", "不详"),
             where=lambda b: (V, b.ref("population_resident"), "population_resident"),
             defect="第一个村的常住人口填成“不详”"),
        dict(file="ING011_人数带小数.xlsx", code="ING011", make=set_cell("social_orgs", 3.5),
             where=lambda b: (V, b.ref("social_orgs"), "social_orgs"), defect="第一个村的社区社会组织数填成 3.5"),
        dict(file="ING012_负数.xlsx", code="ING012", make=set_cell("elder_care_beds", -3),
             where=lambda b: (V, b.ref("elder_care_beds"), "elder_care_beds"), defect="第一个村的养老床位数填成 -3"),
        dict(file="ING023_平均年龄超出上限.xlsx", code="ING023", make=set_cell("leadership_avg_age", 455),
             where=lambda b: (V, b.ref("leadership_avg_age"), "leadership_avg_age"),
             defect="第一个村“两委”班子成员平均年龄填成 455(多打了一位,上限 80)"),
        dict(file="ING024_公式错误值.xlsx", code="ING024", make=error_cell("volunteers", "#DIV/0!"),
             where=lambda b: (V, b.ref("volunteers"), "volunteers"),
             defect="第一个村的注册志愿者人数是公式错误值 #DIV/0!(除以零)"),
        dict(file="ING025_日期晚于今天.xlsx", code="ING025",
             make=set_cell("committee_election_date", dt.datetime(2062, 3, 28)),
             where=lambda b: (V, b.ref("committee_election_date"), "committee_election_date"),
             defect="第一个村的本届村委会选举日期写成 2062-03-28(年份打错)"),
        dict(file="ING013_是否栏填写有误.xlsx", code="ING013", make=set_cell("has_elder_association", "已建立"),
             where=lambda b: (V, b.ref("has_elder_association"), "has_elder_association"),
             defect="第一个村“是否建立老年协会”填成“已建立”(应为 是/否)"),
        dict(file="ING014_类型不在选项中.xlsx", code="ING014", make=set_cell("community_type", "完善"),
             where=lambda b: (V, b.ref("community_type"), "community_type"),
             defect="第一个村的农村社区建设类型填成“完善”(应为“完善型”)"),
        dict(file="ING015_日期无法识别.xlsx", code="ING015", make=town_cell("year_end_report_date", "12月下旬"),
             where=lambda b: (T, b.ref("year_end_report_date", sheet="township"), "year_end_report_date"),
             defect="乡镇情况表的年终工作总结报送日期填成“12月下旬”"),
        dict(file="ING016_必填项为空.xlsx", code="ING016", make=set_cell("population_registered", None),
             where=lambda b: (V, b.ref("population_registered"), "population_registered"),
             defect="第一个村的户籍人口(必填)为空"),
        dict(file="ING017_村代码格式错误.xlsx", code="ING017", make=lambda b: _retype_code(b, "O"),
             where=lambda b: (V, b.ref("village_code"), "village_code"),
             also=["ING033"], defect="第一个村的代码最后一位数字 0 打成了字母 O(因此该村也算缺行:ING033)"),
        dict(file="ING019_缺少必填列.xlsx", code="ING019", make=drop_column("households"),
             where=lambda b: (V, None, "households"), defect="删除了“户数”列(必填列)"),
        dict(file="ING020_生态安葬多于安葬总数.xlsx", code="ING020", make=eco_over,
             where=lambda b: (V, b.ref("eco_burials"), "eco_burials"),
             defect="第一个村的节地生态安葬数比本季度安葬总数多 2 例"),
        dict(file="ING021_缺平台面积.xlsx", code="ING021", make=set_cell("platform_area_m2", None),
             where=lambda b: (V, b.ref("platform_area_m2"), "platform_area_m2"),
             defect="第一个村已建综合服务平台,但平台建筑面积为空"),
        dict(file="ING030_村代码不在名录.xlsx", code="ING030", make=lambda b: _retype_code(b, "999"),
             where=lambda b: (V, b.ref("village_code"), "village_code"),
             also=["ING033"], defect="第一个村的代码改成名录中没有的 …999(因此该村也算缺行:ING033)"),
        dict(file="ING031_混入外乡镇的村.xlsx", code="ING031", make=extra_row("other"),
             where=lambda b: (V, b.ref("village_code", b.last + 1), "village_code"),
             defect="表末多了一行仁井镇的村(从邻近乡镇的报表粘贴过来)"),
        dict(file="ING032_重复的村.xlsx", code="ING032", make=extra_row("duplicate"),
             where=lambda b: (V, b.ref("village_code", b.last + 1), "village_code"),
             defect="表末把第一个村又粘贴了一遍"),
        dict(file="ING033_缺少一个村.xlsx", code="ING033", make=clear_row,
             where=lambda b: (V, None, "village_code"), defect="最后一个村的整行被清空"),
        dict(file="ING034_村名与名录不符.xlsx", code="ING034", make=rename,
             where=lambda b: (V, b.ref("village_name"), "village_name"),
             defect="第一个村的名称后面多了“委会”;按代码导入,并提示"),
        dict(file="ING035_合计行.xlsx", code="ING035", make=extra_row("totals"),
             where=lambda b: (V, b.ref("village_code", b.last + 1), None),
             defect="表末加了一行“合计”;跳过该行,照常导入,并提示"),
        dict(file="ING036_合并单元格.xlsx", code="ING036", make=merge,
             where=lambda b: (V, b.ref("social_orgs"), "social_orgs"),
             defect="前两个村的社区社会组织数单元格被合并"),
        dict(file="ING037_隐藏行.xlsx", code="ING037", make=hide_row,
             where=lambda b: (V, b.ref("village_code", b.first + 1), None),
             defect="第二个村所在的行被隐藏(数据照常导入,并提示)"),
        dict(file="ING038_公式没有计算结果.xlsx", code="ING038", make=set_cell("social_orgs", "=3+4"),
             where=lambda b: (V, b.ref("social_orgs"), "social_orgs"),
             defect="第一个村的社区社会组织数是公式 =3+4,文件由程序生成、没有保存计算结果"),
        dict(file="ING039_村代码为空.xlsx", code="ING039", make=set_cell("village_code", None),
             where=lambda b: (V, b.ref("village_code"), "village_code"),
             also=["ING033"], defect="第一个村的代码被删除(因此该村也算缺行:ING033)"),
        dict(file="ING040_数值异常变化.xlsx", code="ING040", make=tenfold,
             where=lambda b: (V, b.ref("social_orgs"), "social_orgs"), previous=True,
             defect="第一个村的社区社会组织数多打了一个 0(是上季度的 10 倍);须先导入上一季度的报表才能比较"),
    ]


def _retype_code(b: _Bad, tail: str) -> None:
    cell = b.village[f"{b.col['village_code']}{b.first}"]
    cell.value = str(cell.value)[: 12 - len(tail)] + tail


def _meta_cell(wb, key: str):
    for row in wb["_meta"].iter_rows(max_col=2):
        if row[0].value == key:
            return row[1]
    raise KeyError(key)


def _save(wb: openpyxl.Workbook, when: dt.datetime | None = None) -> bytes:
    """The workbook's bytes, dated ``when`` (default: when the base return was saved)."""
    return save_workbook(wb, when or saved_at(BAD_BASE[1], None))


def write_bad_samples(con: duckdb.DuckDBPyConnection, out_dir: Path = BAD_DIR,
                      sim: Simulation | None = None) -> list[Path]:
    """(Re)write data/samples/bad: one broken return per problem class, each made from the good
    return ``BAD_BASE`` with exactly one defect, plus ``expected.yaml`` and a README."""
    sim = sim or simulate(con)
    town, period = BAD_BASE
    when = saved_at(period, None)
    values = sim.values(town, period)
    base = filled_template(con, town, period, values, when)
    other_town = sorted(c for c in sim.townships if c[:6] == town[:6] and c != town)[0]
    other = sim.values(other_town, period)["village"][0]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*"):
        if old.is_file() and re.match(r"(ING|GEN)\d{3}_", old.name):
            old.unlink()
    entries, paths = [], []
    for case in _bad_cases():
        wb = openpyxl.load_workbook(io.BytesIO(base))
        meta = {str(r[0].value): str(r[1].value) for r in wb["_meta"].iter_rows(max_col=2) if r[0].value}
        vws, tws = wb[meta["village_sheet"]], wb[meta["township_sheet"]]
        col = {c.value: get_column_letter(c.column) for c in vws[int(meta["village_id_row"])] if c.value}
        tcol = {c.value: get_column_letter(c.column) for c in tws[int(meta["township_id_row"])] if c.value}
        b = _Bad(wb, meta, vws, tws, col, tcol, int(meta["village_first_row"]), int(meta["village_last_row"]),
                 values, (other, other["village_code"], other["village_name"]))
        where = case["where"](b) if case["where"] else (None, None, None)
        data = case["make"](b)
        if data is None:
            data = _save(wb, when)
        paths.append(atomic_write(out_dir / case["file"], data))
        severity = severity_of(case["code"])
        entry = {"file": case["file"], "code": case["code"], "severity": severity, "sheet": where[0],
                 "cell": where[1], "field": where[2], "rejected": severity == "error",
                 "also": case.get("also", []), "defect": case["defect"]}
        if case.get("previous"):
            entry["previous"] = {"township": town, "period": shift(period, -1),
                                 "note": "先导入该乡镇上一季度的报表(模拟数据),再导入本文件"}
        entries.append(entry)
    doc = {"base": {"township": town, "name": sim.townships[town].name, "period": period,
                    "file": return_filename(town, sim.townships[town].name, period),
                    "note": "每个文件都由这份正确的报表(data/samples/returns/ 中的同名文件)改出一处错误"},
           "files": entries}
    expected = out_dir / "expected.yaml"
    expected.write_text("# 出错的示例报表及导入时应报告的问题(由 pipelines/samples/bad.py 的 write_bad_samples 生成)\n"
                        "# code/severity/sheet/cell/field:该代码的第一个问题;rejected:整个文件是否不予导入;\n"
                        "# also:同一处错误连带出的其他问题代码(除此之外不应报告别的问题)\n"
                        + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=200), encoding="utf-8")
    readme = out_dir / "README.md"
    readme.write_text(_bad_readme(doc), encoding="utf-8")
    return paths + [expected, readme]


def _bad_readme(doc: dict[str, Any]) -> str:
    base = doc["base"]
    lines = [
        "# 出错的示例报表(合成数据)",
        "",
        f"每个文件都由一份正确的报表({base['name']} {period_label(base['period'])},`../returns/{base['file']}`)"
        "改出**一处**错误,用来试用和测试导入检查:",
        "",
        "```",
        "rural-targets ingest data/samples/bad/ING020_生态安葬多于安葬总数.xlsx",
        "```",
        "",
        "“错误”使整个文件不予导入(数据库不变);“提示”不影响导入。各文件应报告的问题代码、单元格和字段见 "
        "`expected.yaml`(测试 `tests/test_bad_returns.py` 逐一核对)。",
        "",
        "| 文件 | 问题 | 结果 | 错在哪里 |",
        "|---|---|---|---|",
    ]
    for e in doc["files"]:
        result = "不予导入" if e["rejected"] else "导入,并提示"
        where = e["cell"] or e["sheet"] or "整个文件"
        lines.append(f"| `{e['file']}` | {e['code']}({where}) | {result} | {e['defect']} |")
    lines += [
        "",
        "`ING040` 是与上一季度比较得出的提示:只有数据库中已有该乡镇上一季度(2025年第3季度)的报表时才会出现"
        "(`rural-targets init` 建立的示例数据库中已有)。在示例数据库中导入“导入,并提示”的文件,会替换黄嘴镇"
        "2025年第4季度的报送;再运行一次 `rural-targets init` 不会改回(保留他人上传的版本),可删除数据库后重建。",
        "",
        "重新生成:`python -m pipelines.samples.returns bad`。请勿手工修改。",
        "",
    ]
    return "\n".join(lines)
