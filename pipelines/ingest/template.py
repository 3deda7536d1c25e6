"""The township quarterly return (乡镇季度报表) as an Excel template, written with openpyxl.

One workbook per township and quarter, with four sheets, in this order:

- ``填报说明`` (active): the township, the period, the deadline, the instructions and a
  table of every field (id, name, unit, type, what to enter);
- ``村级情况`` (表号 乡治季1表): one prefilled row per village of the township;
- ``乡镇情况`` (表号 乡治季2表): exactly one row, the township itself;
- ``_meta`` (hidden): key/value rows describing the template, for ingest.

TEMPLATE_META — where the machine-readable metadata lives (for the ingest side):

1. Hidden sheet ``_meta``: column A key, column B value, one pair per row from row 1, no
   header row. Every value is written as text (row numbers too: ``int(value)``). Keys::

       template_version   catalog().template_version, e.g. 2024.1
       township_code      12-digit code of the township
       township_name      its name
       county_code        12-digit code of its county
       period             normalised period, e.g. 2024Q3
       due_date           deadline of the return, YYYY-MM-DD
       generated_at       ISO timestamp with offset
       generator          rural-targets <version>
       village_sheet      name of the village sheet (村级情况)
       village_header_row 1-based row of the column headers (FieldSpec.header)
       village_id_row     1-based row of the hidden field-id row
       village_first_row  1-based row of the first data row
       village_last_row   1-based row of the last prefilled data row
       village_footer_row 1-based row of the signature footer (below the data)
       township_sheet / township_header_row / township_id_row / township_first_row /
       township_last_row / township_footer_row   the same for 乡镇情况

   Workbook defined names RT_TEMPLATE_VERSION, RT_TOWNSHIP and RT_PERIOD point at the
   value cells of template_version, township_code and period.

2. On each data sheet the hidden id row (row 5) holds one catalog field id per column
   (``schemas/fields.yaml``, in catalog order, starting in column A). Map columns by these
   ids, not by header text or position. Today the rows are: title 1, 表号/制定机关 2,
   填报单位/报告期 3, headers 4, ids 5, data from 6 — but read them from ``_meta``.
   Codes are written as text cells (number format ``@``), so they read back as strings.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel

from pipelines.cells import put
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.page import PageMargins
from openpyxl.worksheet.protection import SheetProtection
from openpyxl.worksheet.worksheet import Worksheet
from python_calamine import CalamineWorkbook

from pipelines import __version__
from pipelines.files import atomic_path
from pipelines.textwidth import text_width
from pipelines.catalog.definitions import FieldSpec, SheetSpec, catalog
from pipelines.errors import TemplateError
from pipelines.periods import due_date, normalise_period, period_label
from pipelines.registry.load import children, get_unit, require_level

TITLE = "乡村治理目标监测季度报表"
ISSUER = "民政局"
INFO_SHEET = "填报说明"
META_SHEET = "_meta"
DATA_SHEETS = ("village", "township")      # catalog sheet keys, in workbook order
HEADER_ROW, ID_ROW, FIRST_ROW = 4, 5, 6    # same layout on both data sheets
MAX_WIDTH = 28
FOOTER = ("单位负责人:________    统计负责人:________    填表人:________    "
          "联系电话:______________    报出日期:______年____月____日")

TYPE_ZH = {"code": "代码", "text": "文本", "int": "整数", "number": "数值", "bool": "是/否",
           "enum": "单选", "date": "日期"}

_FONT = "宋体"
_THIN = Side(style="thin", color="808080")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_LOCKED_FILL = PatternFill("solid", fgColor="F2F2F2")


# ------------------------------------------------------------------ public entry points

def template_filename(township_code: str, township_name: str, period: str) -> str:
    """``{code}_{name}_{period}.xlsx``, the name safe on every file system."""
    safe = re.sub(r'[\\/:*?"<>|\s]+', "_", township_name).strip("_") or "乡镇"
    return f"{township_code}_{safe}_{normalise_period(period)}.xlsx"


def write_township_template(con, township_code: str, period: str, out: Path) -> Path:
    """Write the quarterly return template of one township to ``out`` (an .xlsx file, or an
    existing directory to put the standard file name in) and return the path written.

    Raises TemplateError TPL001 (bad period), TPL002 (no villages), TPL003 (not .xlsx) and
    RegistryError REG009 / REG010 (unknown unit, not a township).
    """
    period = normalise_period(period)
    township = get_unit(con, township_code)
    require_level(township, "township")
    villages = children(con, township["code"], level="village")
    if not villages:
        raise TemplateError("TPL002", code=township["code"])
    out = Path(out)
    if out.is_dir():
        out = out / template_filename(township["code"], township["name"], period)
    if out.suffix.lower() != ".xlsx":
        raise TemplateError("TPL003", file=str(out))
    return _save(_build_workbook(township, villages, period), out)


def write_county_templates(con, county_code: str, period: str, out_dir: Path) -> list[Path]:
    """Write one template per township of a county into ``out_dir`` (created if needed),
    named ``{township_code}_{township_name}_{period}.xlsx``; return the paths in code order.

    Every township is checked before any file is written: TPL002 when one has no villages,
    TPL004 when the county has no townships, REG009 / REG010 for an unknown or non-county unit.
    """
    period = normalise_period(period)
    county = get_unit(con, county_code)
    require_level(county, "county")
    townships = children(con, county["code"], level="township")
    if not townships:
        raise TemplateError("TPL004", code=county["code"])
    plan = []
    for t in townships:
        villages = children(con, t["code"], level="village")
        if not villages:
            raise TemplateError("TPL002", code=t["code"])
        plan.append((t, villages))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [_save(_build_workbook(t, villages, period), out_dir / template_filename(t["code"], t["name"], period))
            for t, villages in plan]


def read_meta(path: Path) -> dict[str, str]:
    """The key/value pairs of the hidden ``_meta`` sheet of a template (.xlsx or .xls), as text."""
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(META_SHEET).to_python()
    meta = {}
    for row in rows:
        if len(row) >= 2 and str(row[0]).strip():
            value = row[1]
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            meta[str(row[0]).strip()] = "" if value is None else str(value)
    return meta


def field_requirement(f: FieldSpec) -> str:
    """What to enter in a field, in Chinese, e.g. '是/否' or '≥0 的整数;必填;季末户籍登记…'."""
    if f.type == "bool":
        parts = ["是/否"]
    elif f.type == "enum":
        parts = ["可选:" + "/".join(f.values or [])]
    elif f.type in ("int", "number"):
        noun = "整数" if f.type == "int" else "数值"
        if f.min is not None and f.max is not None:
            parts = [f"{f.min:g}–{f.max:g} 的{noun}"]
        elif f.min is not None:
            parts = [f"≥{f.min:g} 的{noun}"]
        elif f.max is not None:
            parts = [f"≤{f.max:g} 的{noun}"]
        else:
            parts = [noun]
    elif f.type == "date":
        parts = ["日期,如 2024-07-15"]
    elif f.type == "code":
        parts = ["12位统计用区划代码"]
    else:
        parts = ["文字"]
    if f.locked:
        parts.append("已预填,请勿修改")
    elif f.required:
        parts.append("必填")
    if f.kind == "flow":
        parts.append("本季度发生数")
    if f.help and f.help not in parts:
        parts.append(f.help.rstrip("。"))
    return ";".join(parts)


# ------------------------------------------------------------------ workbook

def _save(wb: Workbook, out: Path) -> Path:
    with atomic_path(out) as part:
        wb.save(part)
    return out


def _build_workbook(township: dict[str, Any], villages: list[dict[str, Any]], period: str) -> Workbook:
    cat = catalog()
    code, name = township["code"], township["name"]
    unit_text = f"{name}({code})"
    wb = Workbook()
    info = wb.active
    info.title = INFO_SHEET

    sheets = {key: cat.sheets[key] for key in DATA_SHEETS}
    prefill = {
        "village": [{"village_code": v["code"], "village_name": v["name"]} for v in villages],
        "township": [{"township_code": code}],
    }
    layouts = {}
    for key, spec in sheets.items():
        ws = wb.create_sheet(spec.title)
        layouts[key] = _write_data_sheet(ws, spec, unit_text, period, prefill[key],
                                         freeze_after=2 if key == "village" else 1)

    _write_info_sheet(info, cat, sheets, township, period, len(villages))

    meta: list[tuple[str, str]] = [
        ("template_version", cat.template_version),
        ("township_code", code),
        ("township_name", name),
        ("county_code", str(township.get("parent_code") or "")),
        ("period", period),
        ("due_date", due_date(period).isoformat()),
        ("generated_at", dt.datetime.now().astimezone().isoformat(timespec="seconds")),
        ("generator", f"rural-targets {__version__}"),
    ]
    for key, spec in sheets.items():
        meta.append((f"{key}_sheet", spec.title))
        meta.extend((f"{key}_{k}", str(v)) for k, v in layouts[key].items())
    _write_meta_sheet(wb, meta)
    wb.active = 0
    return wb


def _write_data_sheet(ws: Worksheet, spec: SheetSpec, unit_text: str, period: str,
                      rows: list[dict[str, str]], freeze_after: int) -> dict[str, int]:
    """Header block, header row, hidden id row, prefilled data rows, footer; returns the row layout."""
    fields = spec.fields
    n = len(fields)
    last_col = get_column_letter(n)
    mid = max(1, n // 2)

    # header block in the form of a statistical return
    _merged(ws, 1, 1, n, f"{TITLE}({spec.title})", Font(name=_FONT, size=16, bold=True), "center")
    ws.row_dimensions[1].height = 30
    _merged(ws, 2, 1, mid, f"表号:{spec.form_no}", Font(name=_FONT, size=10), "left")
    _merged(ws, 2, mid + 1, n, f"制定机关:{ISSUER}", Font(name=_FONT, size=10), "right")
    _merged(ws, 3, 1, mid, f"填报单位:{unit_text}", Font(name=_FONT, size=10), "left")
    _merged(ws, 3, mid + 1, n, f"报告期:{period_label(period)}", Font(name=_FONT, size=10), "right")

    header_font = Font(name=_FONT, size=10, bold=True)
    data_font = Font(name=_FONT, size=10)
    header_lines = 1
    first, last = FIRST_ROW, FIRST_ROW + len(rows) - 1
    for c, f in enumerate(fields, start=1):
        col = get_column_letter(c)
        h = ws.cell(HEADER_ROW, c, f.header)
        h.font, h.fill, h.border = header_font, _HEADER_FILL, _BORDER
        h.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.cell(ID_ROW, c, f.id).font = Font(name="Arial", size=8, color="808080")

        values = [str(r.get(f.id, "")) for r in rows]
        width, lines = _column_width(f.header, values)
        ws.column_dimensions[col].width = width
        header_lines = max(header_lines, lines)

        for r, value in enumerate(values, start=first):
            cell = put(ws, r, c, value if value else None)       # registry names are data, never formulas
            cell.font, cell.border = data_font, _BORDER
            cell.number_format = _number_format(f)
            if f.locked:
                cell.fill = _LOCKED_FILL
            else:
                cell.protection = Protection(locked=False)
        dv = _validation(f)
        if dv is not None:
            dv.add(f"{col}{first}:{col}{last}")
            ws.add_data_validation(dv)

    ws.row_dimensions[HEADER_ROW].height = 14 * header_lines + 8
    ws.row_dimensions[ID_ROW].hidden = True

    footer = last + 2
    _merged(ws, footer, 1, n, FOOTER, Font(name=_FONT, size=10), "left")
    ws.cell(footer, 1).protection = Protection(locked=False)
    ws.row_dimensions[footer].height = 24

    ws.freeze_panes = f"{get_column_letter(freeze_after + 1)}{FIRST_ROW}"
    ws.protection = SheetProtection(sheet=True, formatColumns=False, formatRows=False, formatCells=True,
                                    sort=True, autoFilter=True)
    _print_setup(ws, landscape=True)
    ws.print_title_rows = f"{HEADER_ROW}:{ID_ROW}"
    ws.print_area = f"A1:{last_col}{footer}"
    return {"header_row": HEADER_ROW, "id_row": ID_ROW, "first_row": first, "last_row": last,
            "footer_row": footer}


def _write_info_sheet(ws: Worksheet, cat, sheets: dict[str, SheetSpec], township: dict[str, Any],
                      period: str, n_villages: int) -> None:
    due = due_date(period)
    village, town = sheets["village"], sheets["township"]
    title_font = Font(name=_FONT, size=16, bold=True)
    bold = Font(name=_FONT, size=11, bold=True)
    normal = Font(name=_FONT, size=10)
    wrap = Alignment(vertical="top", wrap_text=True)
    widths = {"A": 30, "B": 30, "C": 10, "D": 8, "E": 70}
    for col, w in widths.items():
        ws.column_dimensions[col].width = w

    _merged(ws, 1, 1, 5, f"{TITLE} 填报说明", title_font, "center")
    ws.row_dimensions[1].height = 30
    facts = [
        ("填报单位", f"{township['name']}({township['code']})"),
        ("报告期", f"{period_label(period)}({period})"),
        ("报送截止日期", f"{due.year}年{due.month}月{due.day}日"),
        ("所含报表", f"{village.form_no} {village.title}({n_villages} 个村、社区);{town.form_no} {town.title}"),
        ("制定机关", ISSUER),
        ("模板版本", cat.template_version),
    ]
    row = 3
    for label, value in facts:
        ws.cell(row, 1, label).font = bold
        _merged(ws, row, 2, 5, value, normal, "left")
        row += 1

    # every flow field of the workbook's sheets, and the "…年份" fields that take 0 for "none"
    flows = "、".join(f"“{f.label}”" for spec in sheets.values() for f in spec.fields if f.kind == "flow")
    years = [f for spec in sheets.values() for f in spec.fields if f.id.endswith("_year") and f.type == "int"]
    instructions = [
        f"本报表由乡镇(街道)填报,报告期为{period_label(period)},请于 {due.year}年{due.month}月{due.day}日 前报送区县民政局。",
        f"请在“{village.title}”表逐村(社区)填写一行,在“{town.title}”表填写本乡镇(街道)一行。",
        "请勿修改代码列和名称列(灰色底纹,已按区划名录预填),不要插入、删除或移动行与列,"
        "不要改动表头下方的隐藏行(字段编号行,供系统识别各列),也不要删除隐藏的工作表。",
        "“是否……”栏目请从下拉列表选择“是”或“否”;级别、类型等栏目请从下拉列表选择。",
        "不清楚或尚未掌握的数据请留空,不要填 0:留空表示“未填报”,0 表示“确实为零”。",
        "人数、户数、面积等填季度末的时点数;" + (f"{flows}填本季度内发生的数量(流量),不是年初以来的累计数。" if flows else ""),
        "数字只填阿拉伯数字,不带单位、不加千分位逗号或空格,单位见表头括号;日期写成 2024-07-15 的形式。",
        *([f"“……年份”栏目(如“{years[0].label}”)填4位年份(如 2021);没有该称号或未申报的填 0,不要留空。"]
          if years else []),
        "“其中”项不得大于其总数(如知晓人数不大于调查人数、节地生态安葬数不大于安葬总数)。",
        "名录中的村(社区)有误(撤并、更名、缺漏)时,请在“备注”栏或随表说明,不要自行增删行。",
        "填写完毕后请在表尾填写单位负责人、统计负责人、填表人、联系电话和报出日期。"
        "可用 Excel、WPS 或 LibreOffice 编辑,保存为 .xlsx 或 .xls 均可。",
    ]
    row += 1
    ws.cell(row, 1, "填报要求").font = bold
    row += 1
    for i, text in enumerate(instructions, start=1):
        _merged(ws, row, 1, 5, f"{i}. {text}", normal, "left", wrap=True)
        ws.row_dimensions[row].height = 15 * max(1, math.ceil(text_width(text) / 2 / 140)) + 4
        row += 1

    row += 1
    ws.cell(row, 1, "字段说明").font = bold
    row += 1
    for c, head in enumerate(["字段编号", "名称", "单位", "类型", "填写要求"], start=1):
        cell = ws.cell(row, c, head)
        cell.font, cell.fill, cell.border = bold, _HEADER_FILL, _BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center")
    ws.print_title_rows = f"{row}:{row}"
    row += 1
    for spec in sheets.values():
        _merged(ws, row, 1, 5, f"{spec.form_no} {spec.title}:{spec.description}", bold, "left")
        row += 1
        for f in spec.fields:
            req = field_requirement(f)
            for c, value in enumerate([f.id, f.label, f.unit or "", TYPE_ZH[f.type], req], start=1):
                cell = ws.cell(row, c, value)
                cell.font, cell.border, cell.alignment = normal, _BORDER, wrap
            ws.row_dimensions[row].height = 14 * max(1, math.ceil(text_width(req) / 68),
                                                     math.ceil(text_width(f.label) / 28)) + 4
            row += 1

    ws.protection = SheetProtection(sheet=True, formatColumns=False, formatRows=False)
    _print_setup(ws, landscape=False)


def _write_meta_sheet(wb: Workbook, pairs: list[tuple[str, str]]) -> None:
    ws = wb.create_sheet(META_SHEET)
    ws.sheet_state = "hidden"
    rows = {}
    for r, (key, value) in enumerate(pairs, start=1):
        for c, v in ((1, key), (2, value)):
            cell = put(ws, r, c, str(v))
            cell.number_format = "@"
        rows[key] = r
    ws.column_dimensions["A"].width = 22
    ws.column_dimensions["B"].width = 32
    for name, key in (("RT_TEMPLATE_VERSION", "template_version"), ("RT_TOWNSHIP", "township_code"),
                      ("RT_PERIOD", "period")):
        wb.defined_names[name] = DefinedName(name, attr_text=f"'{META_SHEET}'!$B${rows[key]}")


# ------------------------------------------------------------------ cell helpers

def _merged(ws: Worksheet, row: int, c1: int, c2: int, value: str, font: Font, align: str,
            wrap: bool = False) -> None:
    cell = put(ws, row, c1, value)
    cell.font = font
    cell.alignment = Alignment(horizontal=align, vertical="center", wrap_text=wrap)
    if c2 > c1:
        ws.merge_cells(start_row=row, start_column=c1, end_row=row, end_column=c2)


def _print_setup(ws: Worksheet, landscape: bool) -> None:
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins = PageMargins(left=0.4, right=0.4, top=0.6, bottom=0.6)


def _column_width(header: str, values: list[str]) -> tuple[float, int]:
    """A width (≈ 2 units per CJK character, at most MAX_WIDTH) that fits the values on one line
    and wraps a long header onto about three lines; and the number of lines the header takes."""
    hw = text_width(header)
    vw = max((text_width(v) for v in values), default=0)
    width = hw + 2 if hw + 2 <= 12 else max(12, math.ceil(hw / 3) + 2)
    width = min(MAX_WIDTH, max(width, vw + 2, 8))
    return width, max(1, math.ceil(hw / (width - 2)))


def _number_format(f: FieldSpec) -> str:
    return {"code": "@", "text": "@", "int": "0", "date": "yyyy-mm-dd"}.get(f.type, "General")


def _validation(f: FieldSpec) -> DataValidation | None:
    """The data validation of a field's column, with a Chinese prompt and error message."""
    req = field_requirement(f)
    kw: dict[str, Any] = {}
    if f.type == "bool":
        kw = dict(type="list", formula1='"是,否"')
        error = "请从下拉列表选择“是”或“否”;不清楚的请留空。"
    elif f.type == "enum":
        kw = dict(type="list", formula1='"' + ",".join(f.values or []) + '"')
        error = "请从下拉列表选择:" + "、".join(f.values or []) + ";不清楚的请留空。"
    elif f.type in ("int", "number"):
        kind = "whole" if f.type == "int" else "decimal"
        noun = "整数" if f.type == "int" else "数值"
        lo = f.min if f.min is not None else -1e12
        hi = f.max if f.max is not None else 1e12
        if f.max is None:
            kw = dict(type=kind, operator="greaterThanOrEqual", formula1=f"{lo:g}")
        else:
            kw = dict(type=kind, operator="between", formula1=f"{lo:g}", formula2=f"{hi:g}")
        bound = req.split(";")[0]
        error = f"请填写{bound},不带单位;不清楚的请留空,不要填 0。" if bound != noun else f"请填写{noun}。"
    elif f.type == "date":
        kw = dict(type="date", operator="between", formula1=str(int(to_excel(dt.date(2000, 1, 1)))),
                  formula2=str(int(to_excel(dt.date(2099, 12, 31)))))
        error = "请填写日期,如 2024-07-15;未发生的请留空。"
    else:
        return None
    return DataValidation(allow_blank=True, showErrorMessage=True, showInputMessage=True, errorStyle="stop",
                          errorTitle=f"{f.label}填写有误"[:32], error=error[:255],
                          promptTitle=f.label[:32], prompt=req[:255], **kw)
