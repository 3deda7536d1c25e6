"""``rural-targets bench ingest``: the product's ingest against what a competent pandas user writes
today, on one return per township of a province, in one run.

Both sides do the same work on every file — find the two data sheets and their header / field-id
rows, the township and the period; check every cell (numbers, integers, bounds, yes/no,
enumerations, codes, dates, required fields), the cross-field rules of schemas/rules.yaml, the
village codes against the registry (known, of this township, not repeated, none missing), village
names, totals rows and unusual changes from the previous quarter; reject a file with any error and
store each accepted one in a transaction that supersedes the township-period's earlier submission
(submission, village rows, township row, column provenance, warnings) — with these differences,
stated in the output:

- the product also archives each original file (content-addressed, under archive/), checks the
  template version in the hidden ``_meta`` sheet, and reads merged cells, hidden rows / columns and
  formulas without a cached value from the sheet XML (``pandas.read_excel`` exposes none of them);
- the product checks file by file and stores up to 50 files per transaction; the baseline reads
  file by file (``pandas.read_excel(engine="calamine")``, the two data sheets only), stacks the
  rows of up to CHUNK files into one frame, checks them all at once with vectorised pandas, then
  stores each accepted file with one bulk ``INSERT … SELECT`` per table in a transaction of its own.

Each side runs in a process of its own (peak resident memory is that process's), on its own copy
of the registry database; afterwards the stored values of the two databases are compared and the
command fails if they differ. A benchmark, not a test: the test suite only runs a tiny smoke of it.
"""
from __future__ import annotations

import ast
import concurrent.futures
import datetime as dt
import hashlib
import io
import multiprocessing as mp
import os
import re
import resource
import shutil
import sys
import time
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import openpyxl
import pandas as pd
from openpyxl.utils import get_column_letter

from pipelines.catalog.definitions import SheetSpec, catalog
from pipelines.errors import severity_of
from pipelines.periods import period_bounds, period_from_text, shift
from pipelines.resources import generated_dir, shared_data_dir
from pipelines.store import db

SHARED_DATA = shared_data_dir()
CACHE = generated_dir("bench")

OURS_DOES = ("本产品(rural-targets ingest):python-calamine 读取;逐格检查类型与取值、跨字段规则、名录与所属乡镇、"
             "重复与缺漏的村、村名、合计行、与上季度相比的异常变化,并从表格 XML 检查合并单元格、隐藏行列、"
             "无结果的公式,核对 _meta 中的模板版本;原件归档;每 50 份报表一个事务写入")
CHUNK = 200  # files the baseline checks together
BASELINE_DOES = ("基线(pandas):pandas.read_excel(engine=\"calamine\")只读村级情况、乡镇情况两张表,定位表头和字段编号行;"
                 f"把每 {CHUNK} 份报表的数据行合成一张表,同样的检查用 pandas 向量化完成(数字、整数、下限、是/否、"
                 "选项、代码、日期、必填,rules.yaml 的跨字段规则,"
                 "名录与所属乡镇、重复与缺漏的村、村名、合计行、与上季度相比的异常变化);每份报表一个事务,每张表一次"
                 "批量 INSERT … SELECT,替换该乡镇该季度之前的报送。不做:原件归档、_meta 中的模板版本、合并单元格/"
                 "隐藏行列/无结果的公式(read_excel 读不到这些)")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    """Resident memory now (Linux /proc), to see whether it grows with the number of files."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


# ---------------------------------------------------------------------------- the province

def province_registry(out_dir: Path) -> list[Path]:
    """The real 湖南 registry when ../shared/data has it, else a generated province of the same size."""
    units, villages = SHARED_DATA / "hunan_units.csv", SHARED_DATA / "hunan_villages.csv"
    if units.exists() and villages.exists():
        return [units, villages]
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(43)
    rows = []
    for c in range(1, 15):
        city = f"43{c:02d}00000000"
        rows.append((city, f"合成市{c}", "430000000000"))
        for k in range(1, 11):
            county = city[:4] + f"{k:02d}000000"
            rows.append((county, f"合成县{c}-{k}", city))
            for t in range(1, 15):
                town = county[:6] + f"{100 + t:03d}000"
                rows.append((town, f"合成镇{c}-{k}-{t}", county))
                for v in range(int(rng.integers(10, 20))):
                    rows.append((town[:9] + f"{200 + v:03d}", f"合成村{v}", town))
    path = out_dir / "province.csv"
    pd.DataFrame(rows, columns=["code", "name", "parent_code"]).to_csv(path, index=False)
    return [path]


def _village_row(rng: np.random.Generator, code: str, name: str) -> dict[str, Any]:
    pop = int(rng.integers(600, 4500))
    burials = int(rng.integers(0, 12))
    area = float(rng.integers(300, 900))
    surveyed = int(rng.integers(20, 60))
    tekun = int(rng.integers(0, 8))
    yn = lambda p: "是" if rng.random() < p else "否"  # noqa: E731
    return {
        "village_code": code, "village_name": name, "population_registered": pop,
        "population_resident": int(pop * rng.uniform(0.8, 0.95)), "households": pop // 3,
        "elderly_population": int(pop * rng.uniform(0.18, 0.3)), "social_orgs": int(rng.integers(0, 9)),
        "has_elder_association": yn(0.8), "has_service_platform": "是", "platform_area_m2": area,
        "platform_service_area_m2": round(area * rng.uniform(0.4, 0.9)), "has_village_rules": yn(0.95),
        "village_rules_revised": yn(0.8), "rules_households_reached": int(pop // 3 * rng.uniform(0.6, 1)),
        "rules_surveyed": surveyed, "rules_aware": int(surveyed * rng.uniform(0.6, 1)), "micro_unit_pilot": yn(0.5),
        "has_left_behind_home": yn(0.7), "has_elder_care_facility": yn(0.6), "elder_care_beds": int(rng.integers(0, 40)),
        "tekun_dependent": tekun, "tekun_dependent_cared": int(tekun * rng.uniform(0, 1)), "burials": burials,
        "eco_burials": int(burials * rng.uniform(0, 1)), "volunteers": int(pop * rng.uniform(0.03, 0.15)),
        "social_work_professionals": int(rng.integers(0, 4)), "community_social_workers": int(rng.integers(0, 3)),
        "reserve_secretary": int(rng.integers(0, 3)), "reserve_cadre": int(rng.integers(0, 4)),
        "reserve_activist": int(rng.integers(0, 6)), "flag_weak_party_org": yn(0.05), "flag_poor": yn(0.1),
        "flag_weak_economy": yn(0.1), "has_first_secretary": yn(0.2), "demo_village_level": "无",
        "community_type": "提升型", "weak_help_designated": yn(0.05), "points_system": yn(0.3),
        "has_legal_adviser": yn(0.9), "has_legal_service_station": yn(0.8), "rule_of_law_demo": yn(0.2),
        "remarks": None,
    }


def _write_filled(args: tuple[str, str, str, list[tuple[str, str]], int]) -> str:
    """Worker: one township's filled return (the product's template, values typed in)."""
    db_path, township, period, villages, seed = args
    from pipelines.ingest.template import write_township_template
    out = Path(db_path).parent / "returns" / f"{township}_{period}.xlsx"
    if out.exists():
        return str(out)
    con = duckdb.connect(db_path, read_only=True)
    try:
        tmp = write_township_template(con, township, period, out.with_suffix(".blank.xlsx"))
    finally:
        con.close()
    rng = np.random.default_rng(seed)
    wb = openpyxl.load_workbook(tmp)
    meta = {r[0].value: r[1].value for r in wb["_meta"].iter_rows() if r[0].value}
    ws = wb[meta["village_sheet"]]
    ids = [c.value for c in ws[int(meta["village_id_row"])]]
    for r, (code, name) in enumerate(villages, start=int(meta["village_first_row"])):
        row = _village_row(rng, code, name)
        for c, fid in enumerate(ids, start=1):
            if fid in row and fid not in ("village_code", "village_name"):
                ws.cell(r, c, row[fid])
    ts = wb[meta["township_sheet"]]
    tids = [c.value for c in ts[int(meta["township_id_row"])]]
    trow = {"has_sw_station": "是", "judicial_office_standardised": "否", "has_gov_service_centre": "是",
            "demo_town_level": "无", "party_members": 800, "party_members_under_35": 120, "party_members_college": 200}
    for c, fid in enumerate(tids, start=1):
        if fid in trow:
            ts.cell(int(meta["township_first_row"]), c, trow[fid])
    wb.save(out)
    tmp.unlink()
    return str(out)


def build_batch(limit: int | None = None, period: str = "2024Q3") -> tuple[Path, list[Path]]:
    """The registry database and one filled return per township, cached under data/generated/bench/."""
    reg_files = province_registry(CACHE / "registry")
    key = hashlib.sha256(b"".join(p.read_bytes()[:4096] for p in reg_files)
                         + catalog().template_version.encode()).hexdigest()[:12]
    base = CACHE / f"ingest-{key}"
    base.mkdir(parents=True, exist_ok=True)
    reg_db = base / "registry.duckdb"
    if not reg_db.exists():
        from pipelines.access.roles import local_admin
        from pipelines.registry.load import load_registry
        con = db.connect(base / "building.duckdb")
        load_registry(con, reg_files, actor=local_admin("bench"))
        con.close()
        os.replace(base / "building.duckdb", reg_db)
    con = duckdb.connect(str(reg_db), read_only=True)
    villages = con.execute("SELECT parent_code, code, name FROM units WHERE level = 'village' ORDER BY code").fetchall()
    con.close()
    by_town: dict[str, list[tuple[str, str]]] = {}
    for parent, code, name in villages:
        by_town.setdefault(parent, []).append((code, name))
    towns = sorted(by_town)[:limit] if limit else sorted(by_town)
    (base / "returns").mkdir(exist_ok=True)
    jobs = [(str(reg_db), t, period, by_town[t], i) for i, t in enumerate(towns)]
    missing = [j for j in jobs if not (base / "returns" / f"{j[1]}_{period}.xlsx").exists()]
    if missing:
        print(f"生成 {len(missing)} 份乡镇报表(只在第一次运行时生成,之后复用)…", file=sys.stderr)
        with mp.get_context("fork").Pool(max(1, os.cpu_count() or 1)) as pool:
            for i, _ in enumerate(pool.imap_unordered(_write_filled, missing, chunksize=8), 1):
                if i % 100 == 0 or i == len(missing):
                    print(f"\r  {i}/{len(missing)}", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
    return reg_db, [base / "returns" / f"{t}_{period}.xlsx" for t in towns]


# ---------------------------------------------------------------------------- the baseline
# What a competent pandas user writes: read each file's two data sheets with read_excel, stack the
# located rows of a chunk of files into one frame, check every column and rule of the whole chunk at
# once, then store each accepted file with one bulk INSERT … SELECT per table in a transaction.

SCAN_ROWS = 30                                   # header and id rows are looked for in the first rows
FOOTER_WORDS = ("单位负责人", "填表人", "统计负责人")
TOTALS = "合计|总计|小计"
TRUE_WORDS = ["是", "有", "y", "yes", "true", "√", "✓", "✔", "1", "对"]
FALSE_WORDS = ["否", "无", "没有", "n", "no", "false", "×", "✗", "✘", "x", "0", "不是"]
EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_THOUSANDS = r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?"
_DATES = (r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?", r"(\d{4})[./\-](\d{1,2})[./\-](\d{1,2})",
          r"(\d{4})(\d{2})(\d{2})")
_UNIT_RX = re.compile(r"填报单位[::]\s*[^()()]*[((]\s*(\d{12})\s*[))]")
_PERIOD_RX = re.compile(r"报告期[::]?\s*(.+)$")
_NAME_CODE = re.compile(r"(?<!\d)(\d{12})(?!\d)")
_NAME_PERIOD = re.compile(r"(?<!\d)(\d{4})\s*[Qq]([1-4])(?!\d)")
_DTYPES = {"int": "Int64", "number": "Float64", "bool": "boolean", "date": "datetime64[us]"}
_PROBLEM_COLS = ["file", "code", "sheet", "row", "field", "value"]


def _text(s: pd.Series, nfkc: bool = True) -> pd.Series:
    """Cells as text the way Excel shows them (12.0 → '12'), NFKC-normalised and trimmed; blank → NA."""
    kind = s.map(type)
    out = s.astype("string")
    floats = pd.to_numeric(s.where(kind == float), errors="coerce")
    whole = (floats % 1 == 0) & np.isfinite(floats)
    if whole.any():
        out = out.mask(whole, floats[whole].astype("int64").astype("string"))
    if nfkc:
        out = out.str.normalize("NFKC")
    out = out.str.strip()
    return out.mask(out == "")


def _flag(s: pd.Series) -> pd.Series:
    """A nullable boolean as a plain mask (NA → False)."""
    return s.fillna(False).astype(bool)


def _convert(s: pd.Series, f: Any) -> tuple[pd.Series, pd.Series]:
    """One column's typed values and, per cell, the error code (NA where the cell is fine)."""
    kind = s.map(type)
    text = _text(s)
    blank = text.isna()
    err = pd.Series(pd.NA, index=s.index, dtype="string")
    if f.type in ("int", "number"):
        value = pd.to_numeric(s.where(kind.isin([int, float])), errors="coerce").astype("Float64")
        written = text.where(kind == str).str.replace(" ", "", regex=False)
        if f.unit:
            written = written.str.removesuffix(f.unit)
        written = written.mask(_flag(written.str.fullmatch(_THOUSANDS)), written.str.replace(",", "", regex=False))
        value = value.fillna(pd.to_numeric(written, errors="coerce").astype("Float64"))
        value = value.mask(value.abs() == np.inf)
        err = err.mask(~blank & value.isna(), "ING010")
        if f.type == "int":
            fraction = _flag(value % 1 != 0)
            err, value = err.mask(fraction, "ING011"), value.mask(fraction)
        if f.min is not None:
            low = _flag(value < f.min)
            err, value = err.mask(low, "ING012"), value.mask(low)
        if f.max is not None:
            high = _flag(value > f.max)
            err, value = err.mask(high, "ING023"), value.mask(high)
        value = value.astype(_DTYPES[f.type])
    elif f.type == "bool":
        lower = text.str.lower()
        value = pd.Series(pd.NA, index=s.index, dtype="boolean")
        value = value.mask(_flag(lower.isin(TRUE_WORDS)), True).mask(_flag(lower.isin(FALSE_WORDS)), False)
        err = err.mask(~blank & value.isna(), "ING013")
    elif f.type == "enum":
        choices = {unicodedata.normalize("NFKC", c): c for c in f.values}
        value = text.str.replace(r"\s+", "", regex=True).map(choices).astype("string")
        err = err.mask(~blank & value.isna(), "ING014")
    elif f.type == "code":
        value = text.str.replace(" ", "", regex=False).str.lstrip("'")
        value = value.where(_flag(value.str.fullmatch(r"\d{12}")))
        err = err.mask(~blank & value.isna(), "ING017")
    elif f.type == "date":
        value = pd.to_datetime(s.where(kind.isin([dt.datetime, dt.date, pd.Timestamp])), errors="coerce")
        serial = pd.to_numeric(s.where(kind.isin([int, float])), errors="coerce")
        serial = serial.where(serial.between(20000, 80000))
        value = value.fillna(EXCEL_EPOCH + pd.to_timedelta(serial, unit="D").dt.floor("D"))
        written = text.where(kind == str)
        for pattern in _DATES:
            parts = written.str.extract(f"^{pattern}$").astype("float")
            parts.columns = ["year", "month", "day"]
            value = value.fillna(pd.to_datetime(parts, errors="coerce"))
        value = value.dt.normalize().astype(_DTYPES["date"])
        err = err.mask(~blank & value.isna(), "ING015")
    else:
        value = _text(s, nfkc=False)
    if f.required and f.id != "village_code":  # a row without a village code: ING039, below
        err = err.mask(blank, "ING016")
    return value, err


def _vector_eval(node: ast.AST, frame: pd.DataFrame) -> Any:
    """A rule expression (already checked by the catalog) evaluated on whole columns, with SQL's
    NULL rules through pandas' nullable dtypes (a blank operand gives NA, and/or are three-valued)."""
    if isinstance(node, ast.Expression):
        return _vector_eval(node.body, frame)
    if isinstance(node, ast.Name):
        if node.id in ("true", "false", "True", "False"):
            return node.id.lower() == "true"
        return frame[node.id]
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.BoolOp):
        values = [_bool(_vector_eval(v, frame), frame) for v in node.values]
        out = values[0]
        for v in values[1:]:
            out = (out & v) if isinstance(node.op, ast.And) else (out | v)
        return out
    if isinstance(node, ast.UnaryOp):
        inner = _vector_eval(node.operand, frame)
        return ~_bool(inner, frame) if isinstance(node.op, ast.Not) else -inner
    if isinstance(node, ast.BinOp):
        a, b = _vector_eval(node.left, frame), _vector_eval(node.right, frame)
        if isinstance(node.op, ast.Add):
            return a + b
        if isinstance(node.op, ast.Sub):
            return a - b
        if isinstance(node.op, ast.Mult):
            return a * b
        return a / (b.mask(b == 0) if isinstance(b, pd.Series) else (b or pd.NA))
    if isinstance(node, ast.Compare):
        left, parts = _vector_eval(node.left, frame), []
        for op, comparator in zip(node.ops, node.comparators):
            if isinstance(op, (ast.In, ast.NotIn)):
                hit = _bool(left.isin([_vector_eval(e, frame) for e in comparator.elts]), frame).mask(left.isna())
                parts.append(hit if isinstance(op, ast.In) else ~hit)
                continue
            right = _vector_eval(comparator, frame)
            result = _bool({ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b, ast.Lt: lambda a, b: a < b,
                            ast.LtE: lambda a, b: a <= b, ast.Gt: lambda a, b: a > b,
                            ast.GtE: lambda a, b: a >= b}[type(op)](left, right), frame)
            for side in (left, right):  # a blank operand (NaT included, which numpy compares as False) → NA
                if isinstance(side, pd.Series):
                    result = result.mask(side.isna())
            parts.append(result)
            left = right
        out = _bool(parts[0], frame)
        for p in parts[1:]:
            out = out & _bool(p, frame)
        return out
    if isinstance(node, ast.Call):  # max / min skip blanks, as GREATEST / LEAST in DuckDB
        args = pd.concat([pd.Series(_vector_eval(a, frame), index=frame.index, dtype="Float64") for a in node.args],
                         axis=1)
        return (args.max(axis=1) if node.func.id == "max" else args.min(axis=1)).astype("Float64")
    raise ValueError(f"unexpected expression node {type(node).__name__}")


def _bool(v: Any, frame: pd.DataFrame) -> pd.Series:
    return v.astype("boolean") if isinstance(v, pd.Series) else pd.Series(v, index=frame.index, dtype="boolean")


def _rule_failures(key: str, typed: pd.DataFrame) -> list[tuple[pd.Series, str, str]]:
    """Rows failing each cross-field rule of ``key``'s sheet: (row mask, code, field)."""
    out = []
    for rule in catalog().rules:
        if rule.sheet != key or typed.empty:
            continue
        when = (_flag(_bool(_vector_eval(ast.parse(rule.when, mode="eval"), typed), typed)) if rule.when
                else pd.Series(True, index=typed.index))
        if rule.require:
            out += [(when & typed[f].isna(), "ING021", f) for f in rule.require]
        else:
            result = _bool(_vector_eval(ast.parse(rule.check, mode="eval"), typed), typed)
            failed = when & _flag(result == False)  # NA (a blank operand) is not a failure
            out.append((failed, "ING020" if rule.severity == "error" else "ING022", rule.field))
    return out


@lru_cache(maxsize=65536)
def _key(text: str) -> str:
    """A header or id cell reduced to what identifies it: NFKC, no spaces, no trailing unit, no quotes."""
    k = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
    return re.sub(r"[\"“”]", "", re.sub(r"\([^()]*\)$", "", k))


def _cell_key(value: Any) -> str:
    return _key(value) if isinstance(value, str) else ""


def _locate(frame: pd.DataFrame, spec: SheetSpec) -> dict[str, Any] | None:
    """The hidden field-id row and/or the header row of a sheet: column → field id (by id, and by
    header text for a column added by hand), column → header, the first row below them."""
    head = frame.iloc[:SCAN_ROWS].stack().map(_cell_key)
    labels = {_key(x): f.id for f in spec.fields for x in (f.label, f.header)}
    by_id = head[head.isin([f.id for f in spec.fields])]
    by_label = head[head.isin(list(labels))].map(labels)
    id_hits, label_hits = by_id.groupby(level=0).size(), by_label.groupby(level=0).size()
    id_row = int(id_hits.idxmax()) if len(id_hits) and id_hits.max() >= 3 else None
    label_row = int(label_hits.idxmax()) if len(label_hits) and label_hits.max() >= 3 else None
    if id_row is None and label_row is None:
        return None
    columns = {} if id_row is None else {int(c): f for c, f in by_id.loc[id_row].items()}
    if label_row is not None:  # a column added by hand without an id still maps by its header
        taken = set(columns.values())
        for c, f in by_label.loc[label_row].items():
            if int(c) not in columns and f not in taken:
                columns[int(c)] = f
                taken.add(f)
    header_row = label_row if label_row is not None else id_row
    headers = {c: str(frame.iat[header_row, c]).strip() or None for c in columns}
    first = max(r for r in (id_row, label_row) if r is not None) + 1
    return {"columns": columns, "headers": headers, "first": first, "body": frame.iloc[first:]}


def _code_in(value: Any) -> str | None:
    """A 12-digit code written in one cell (text, or a number Excel kept as a number)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = unicodedata.normalize("NFKC", str(value)).strip().replace(" ", "").lstrip("'")
    return text if re.fullmatch(r"\d{12}", text) else None


def _read(i: int, path: Path, data: bytes, problems: list[tuple]) -> dict[str, Any] | None:
    """One file: its two data sheets read with read_excel (calamine) and located; the township (the
    code on 乡镇情况, else in the header block, else the villages' common prefix) and the period."""
    cat = catalog()
    vspec, tspec = cat.sheets["village"], cat.sheets["township"]
    try:
        with pd.ExcelFile(io.BytesIO(data), engine="calamine") as xl:
            wanted = [s for s in (vspec.title, tspec.title) if s in xl.sheet_names]
            sheets = pd.read_excel(xl, sheet_name=wanted, header=None, dtype=object, keep_default_na=False)
    except Exception as exc:  # noqa: BLE001 - not a workbook
        problems.append((i, "ING006", None, None, None, str(exc)[:200]))
        return None
    village, township = sheets.get(vspec.title), sheets.get(tspec.title)
    vlay = _locate(village, vspec) if village is not None else None
    if vlay is None or "village_code" not in vlay["columns"].values():
        problems.append((i, "ING001", None, None, None, None))
        return None
    tlay = _locate(township, tspec) if township is not None else None
    if tlay is None or "township_code" not in tlay["columns"].values():
        problems.append((i, "ING008", None, None, None, None))
        tlay = None
    for lay, spec in ((vlay, vspec), (tlay, tspec)):
        if lay is not None:
            problems += [(i, "ING019" if f.required else "ING009", spec.title, None, f.id, None)
                         for f in spec.fields if f.id not in lay["columns"].values()]
    code = period = None
    if tlay is not None:  # the first filled cell of the township code column
        col = next(c for c, f in tlay["columns"].items() if f == "township_code")
        code = next((_code_in(x) for x in tlay["body"][col] if str(x).strip()), None)
    for text in village.iloc[:vlay["first"]].stack():
        if isinstance(text, str) and code is None and (m := _UNIT_RX.search(text)):
            code = m.group(1)
        if isinstance(text, str) and period is None and (m := _PERIOD_RX.search(text)):
            period = period_from_text(m.group(1))
    if code is None:  # a hand-made sheet: the township all its village codes share
        col = next(c for c, f in vlay["columns"].items() if f == "village_code")
        prefixes = {c[:9] for x in vlay["body"][col] if (c := _code_in(x))}
        code = prefixes.pop() + "000" if len(prefixes) == 1 else None
    name = Path(path).name
    if code and (m := _NAME_CODE.search(name)) and m.group(1) != code and m.group(1)[9:] == "000":
        problems.append((i, "ING005", None, None, None, m.group(1)))
    if period and (m := _NAME_PERIOD.search(name)) and f"{m.group(1)}Q{m.group(2)}" != period:
        problems.append((i, "ING005", None, None, None, name))
    if period is None:
        problems.append((i, "ING003", None, None, None, None))
    if code is None:
        problems.append((i, "ING018", None, None, None, None))
    if period is None or code is None:
        return None
    return {"file": i, "township": code, "period": period, "village": vlay, "township_sheet": tlay,
            "columns": [("village", vspec.title, f, c, vlay["headers"].get(c))
                        for c, f in sorted(vlay["columns"].items())]
            + ([("township", tspec.title, f, c, tlay["headers"].get(c)) for c, f in sorted(tlay["columns"].items())]
               if tlay else [])}


def _sheet_rows(metas: dict[int, dict[str, Any]], key: str, spec: SheetSpec,
                problems: list[pd.DataFrame]) -> pd.DataFrame:
    """The data rows of one sheet of every file of a chunk, as one frame of raw cells under field ids
    (with ``file`` and the 1-based ``source_row``): rows below the headers up to the signature
    footer, blank rows dropped, totals rows skipped (ING035)."""
    lays = {i: m[key] for i, m in metas.items() if m[key] is not None}
    empty = pd.DataFrame(columns=["file", "source_row", *[f.id for f in spec.fields]])
    if not lays:
        return empty
    cells = pd.concat({i: lay["body"] for i, lay in lays.items()}, names=["file", "row"]).stack()
    cells.index.names = ["file", "row", "col"]
    text = _text(cells)
    where = cells.index.droplevel("col")
    by_row = ["file", "row"]
    footer = _flag(text.str.startswith(FOOTER_WORDS)).groupby(level=by_row).any()
    below_footer = footer.groupby(level="file").cummax()
    mapping = pd.Series({(i, c): f for i, lay in lays.items() for c, f in lay["columns"].items()})
    field = pd.Series(mapping.reindex(cells.index.droplevel("row")).to_numpy(), index=cells.index)
    filled = text.notna().groupby(level=by_row).any()
    mapped = (text.notna() & field.notna()).groupby(level=by_row).any()
    label = text.dropna().groupby(level=by_row).first().reindex(filled.index)
    first4 = cells.index.get_level_values("col") < 4
    totals = (_flag(text[first4].str.contains(TOTALS)).groupby(level=by_row).any()
              .reindex(filled.index, fill_value=False) & ~_flag(label.str.fullmatch(r"\d{12}")))
    rows = filled & mapped & ~below_footer
    for (i, r) in totals.index[totals & rows]:
        problems.append(pd.DataFrame([(i, "ING035", spec.title, r, None, label[(i, r)])], columns=_PROBLEM_COLS))
    rows &= ~totals
    keep = rows.reindex(where).to_numpy() & field.notna().to_numpy()
    wide = (pd.DataFrame({"value": cells[keep].to_numpy(), "field": field[keep].to_numpy()},
                         index=cells.index[keep].droplevel("col"))
            .set_index("field", append=True)["value"].unstack("field"))
    if wide.empty:
        return empty
    wide = wide.reset_index()
    wide["source_row"] = (wide["row"] + 1).astype("int32")
    return wide.drop(columns="row")


class _Registry:
    """The registry read once: villages (with parent and validity dates), townships, names."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        units = con.execute("SELECT code, name, level, parent_code, valid_from, valid_to FROM units").df()
        self.townships = set(units.loc[units["level"] == "township", "code"])
        self.villages = units[units["level"] == "village"].set_index("code")


def _typed(raw: pd.DataFrame, spec: SheetSpec, problems: list[pd.DataFrame]) -> pd.DataFrame:
    """Every field of ``spec`` typed, for all rows of the chunk at once; cell problems collected."""
    typed = raw[["file", "source_row"]].copy()
    for f in spec.fields:
        if f.id not in raw:
            typed[f.id] = pd.Series(pd.NA, index=raw.index, dtype=_DTYPES.get(f.type, "string"))
            continue
        value, err = _convert(raw[f.id], f)
        bad = err.notna()
        if bad.any():
            problems.append(pd.DataFrame({"file": raw.loc[bad, "file"], "code": err[bad], "sheet": spec.title,
                                          "row": raw.loc[bad, "source_row"] - 1, "field": f.id,
                                          "value": raw.loc[bad, f.id].astype("string")}))
        typed[f.id] = value.mask(bad)
    return typed


def _found(mask: pd.Series, frame: pd.DataFrame, code: str, sheet: str, field: str) -> pd.DataFrame:
    """Problem rows for the rows of ``frame`` where ``mask`` holds."""
    hit = frame[mask]
    return pd.DataFrame({"file": hit["file"], "code": code, "sheet": sheet, "row": hit["source_row"] - 1,
                         "field": field, "value": hit[field].astype("string") if field in hit else pd.NA})


def _check_chunk(files: pd.DataFrame, village: pd.DataFrame, township: pd.DataFrame | None,
                 registry: _Registry, con: duckdb.DuckDBPyConnection,
                 problems: list[pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Check the village and township rows of a chunk of files, all at once; the rows to store."""
    cat = catalog()
    vspec, tspec = cat.sheets["village"], cat.sheets["township"]
    v = _typed(village, vspec, problems)
    v = v.merge(files[["file", "township", "start", "end"]], on="file", how="left", validate="many_to_one")
    v.index = village.index
    codes = v["village_code"]
    no_code = codes.isna() & _text(village["village_code"]).isna()
    problems.append(_found(no_code, v, "ING039", vspec.title, "village_code"))
    dup = codes.notna() & v.duplicated(["file", "village_code"])
    problems.append(_found(dup, v, "ING032", vspec.title, "village_code"))
    reg = registry.villages.reindex(codes.astype(object))
    reg.index = v.index
    valid = ((reg["valid_from"].isna() | (reg["valid_from"] <= v["end"]))
             & (reg["valid_to"].isna() | (reg["valid_to"] >= v["start"])))
    here = _flag(reg["parent_code"] == v["township"]) & valid
    known = reg["parent_code"].notna()
    problems.append(_found(codes.notna() & ~dup & ~here & known, v, "ING031", vspec.title, "village_code"))
    problems.append(_found(codes.notna() & ~dup & ~known, v, "ING030", vspec.title, "village_code"))
    expected = files[["file", "township", "start", "end"]].merge(
        registry.villages.reset_index(), left_on="township", right_on="parent_code")
    expected = expected[(expected["valid_from"].isna() | (expected["valid_from"] <= expected["end"]))
                        & (expected["valid_to"].isna() | (expected["valid_to"] >= expected["start"]))]
    missing = expected.merge(v[["file", "village_code"]].dropna(), left_on=["file", "code"],
                             right_on=["file", "village_code"], how="left", indicator=True)
    missing = missing[missing["_merge"] == "left_only"]
    problems.append(pd.DataFrame({"file": missing["file"], "code": "ING033", "sheet": vspec.title, "row": pd.NA,
                                  "field": "village_code", "value": missing["code"]}))
    keep = here & ~dup
    given = v["village_name"].str.normalize("NFKC").str.strip()
    listed = reg["name"].astype("string").str.normalize("NFKC").str.strip()
    problems.append(_found(keep & given.notna() & _flag(given != listed), v, "ING034", vspec.title, "village_name"))
    v = v[keep]
    for failed, code, field in _rule_failures("village", v):
        problems.append(_found(failed, v, code, vspec.title, field))
    t = None
    if township is not None and len(township):
        t = _typed(township, tspec, problems)
        t["township_code"] = t["file"].map(files.set_index("file")["township"])
        for failed, code, field in _rule_failures("township", t):
            problems.append(_found(failed, t, code, tspec.title, field))
    return v.drop(columns=["township", "start", "end"]), t


def _unusual_changes(v: pd.DataFrame, files: pd.DataFrame, con: duckdb.DuckDBPyConnection,
                     previous: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Warnings (ING040) for values far from the previous quarter's: an order-of-magnitude jump, or a
    modified z-score above 3.5 among the township's villages with a change large in itself."""
    spec = catalog().sheets["village"]
    stock = [f.id for f in spec.fields if f.type in ("int", "number") and f.kind == "stock"]
    prev_periods = files["period"].map(lambda p: shift(p, -1))
    for p in set(prev_periods) - set(previous):
        previous[p] = con.execute(
            f"""SELECT v.township_code, v.village_code, {', '.join(f'v."{f}"' for f in stock)}
                FROM village_values v JOIN submissions s ON s.id = v.submission_id
                WHERE s.status = 'active' AND s.period = ?""", [p]).df().assign(prev_period=p)
    old = pd.concat([previous[p] for p in set(prev_periods)], ignore_index=True)
    keys = files.assign(prev_period=prev_periods)[["file", "township", "prev_period"]]
    pairs = (v.merge(keys, on="file").merge(old, left_on=["township", "village_code", "prev_period"],
                                             right_on=["township_code", "village_code", "prev_period"],
                                             suffixes=("", "_old")))
    if pairs.empty:
        return pd.DataFrame(columns=_PROBLEM_COLS)
    cur = pairs[stock].to_numpy(dtype="float64", na_value=np.nan)
    before = pairs[[f"{f}_old" for f in stock]].to_numpy(dtype="float64", na_value=np.nan)
    change = pd.DataFrame(cur - before, columns=stock)
    by_file = change.groupby(pairs["file"].to_numpy())
    med = by_file.transform("median")
    mad = (change - med).abs().groupby(pairs["file"].to_numpy()).transform("median")
    z = (0.6745 * (change - med) / mad.where(mad > 0)).fillna(0.0)
    old_df, cur_df = pd.DataFrame(before, columns=stock), pd.DataFrame(cur, columns=stock)
    big = (change.abs() >= 10) & (change.abs() >= 0.5 * np.maximum(old_df.abs(), 1))
    jump = (old_df > 0) & (cur_df > 0) & ((cur_df >= 10 * old_df) | (cur_df * 10 <= old_df)) & (change.abs() >= 10)
    flags = (change.notna() & (jump | ((z.abs() > 3.5) & big))).stack()
    hits = flags[flags].index
    rows, fields = hits.get_level_values(0), hits.get_level_values(1)
    return pd.DataFrame({"file": pairs["file"].to_numpy()[rows], "code": "ING040", "sheet": spec.title,
                         "row": pairs["source_row"].to_numpy()[rows] - 1, "field": fields,
                         "value": [str(cur_df.at[r, f]) for r, f in zip(rows, fields)]})


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    """One bulk INSERT … SELECT from a DataFrame (DuckDB scans ``frame`` in place, by its name)."""
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM frame")


def _store(con: duckdb.DuckDBPyConnection, meta: dict[str, Any], village: pd.DataFrame,
           township: pd.DataFrame | None, warnings: pd.DataFrame) -> str:
    """Store one accepted file in one transaction, superseding the township-period's active submission."""
    code, period, sha = meta["township"], meta["period"], hashlib.sha256(meta["data"]).hexdigest()
    con.execute("BEGIN TRANSACTION")
    try:
        old_id, old_sha, sid = con.execute(
            "SELECT s.id, s.sha256, nextval('submission_seq') FROM (SELECT 1) LEFT JOIN submissions s "
            "ON s.township_code = ? AND s.period = ? AND s.status = 'active'", [code, period]).fetchone()
        if old_sha == sha:
            con.execute("COMMIT")
            return "unchanged"
        if old_id is not None:
            con.execute("UPDATE submissions SET status = 'superseded', superseded_by = ? WHERE id = ?", [sid, old_id])
        con.execute(
            "INSERT INTO submissions (id, township_code, period, file_name, file_kind, sha256, size_bytes, "
            "archive_path, uploaded_at, status, village_rows, township_rows, warnings) "
            "VALUES (?, ?, ?, ?, 'xlsx', ?, ?, '', now(), 'active', ?, ?, ?)",
            [sid, code, period, meta["name"], sha, len(meta["data"]), len(village),
             0 if township is None else len(township), len(warnings)])
        keys = {"submission_id": sid, "township_code": code, "period": period}
        _insert(con, "village_values", village.drop(columns="file").assign(**keys))
        if township is not None and len(township):
            _insert(con, "township_values", township.drop(columns="file").assign(**keys))
        _insert(con, "submission_columns", pd.DataFrame(
            [(sid, k, s, f, get_column_letter(c + 1), h) for k, s, f, c, h in meta["columns"]],
            columns=["submission_id", "sheet_key", "sheet_name", "field", "column_letter", "header"]))
        if len(warnings):
            _insert(con, "submission_problems", warnings.assign(submission_id=sid, severity="warning",
                                                                message=warnings["code"]))
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return "stored"


def _cells(problems: pd.DataFrame, metas: dict[int, dict[str, Any]]) -> pd.Series:
    """Cell references (村级情况!F12) of problems that have a row and a field."""
    def ref(p: Any) -> Any:
        col = next((c for k, s, f, c, _ in metas[p.file]["columns"] if s == p.sheet and f == p.field), None) \
            if p.file in metas else None
        return None if col is None or pd.isna(p.row) else f"{p.sheet}!{get_column_letter(col + 1)}{int(p.row) + 1}"
    return pd.Series([ref(p) for p in problems.itertuples()], index=problems.index, dtype=object)


def _process(chunk: list[tuple[str, dict[str, Any] | None, list[tuple]]], con: duckdb.DuckDBPyConnection,
             registry: _Registry, previous: dict[str, pd.DataFrame], reports: list[dict[str, Any]]) -> None:
    """Check and store one chunk of read files (no two of them for the same township and period, nor
    one for the quarter after another's): all their rows checked at once, then each file stored."""
    metas = {m["file"]: m for _, m, _ in chunk if m is not None}
    problems: list[pd.DataFrame] = [pd.DataFrame([p for _, _, found in chunk for p in found], columns=_PROBLEM_COLS)]
    v = t = None
    if metas:
        files = pd.DataFrame([{"file": i, "township": m["township"], "period": m["period"]} for i, m in metas.items()])
        unknown = ~files["township"].isin(registry.townships)
        problems.append(pd.DataFrame({"file": files.loc[unknown, "file"], "code": "ING004", "sheet": None,
                                      "row": pd.NA, "field": None, "value": files.loc[unknown, "township"]}))
        files = files[~unknown]
        bounds = files["period"].map(period_bounds)
        files = files.assign(start=pd.to_datetime(bounds.str[0]), end=pd.to_datetime(bounds.str[1]))
        known = {i: metas[i] for i in files["file"]}
        cat = catalog()
        village = _sheet_rows(known, "village", cat.sheets["village"], problems)
        township = _sheet_rows(known, "township_sheet", cat.sheets["township"], problems).groupby("file").head(1)
        empty = files.loc[~files["file"].isin(village["file"]), "file"]
        problems.append(pd.DataFrame({"file": empty, "code": "ING007", "sheet": cat.sheets["village"].title,
                                      "row": pd.NA, "field": None, "value": None}))
        if len(village):
            v, t = _check_chunk(files, village, township if len(township) else None, registry, con, problems)
            found = pd.concat(problems, ignore_index=True)
            failed = found.loc[found["code"].map(severity_of) == "error", "file"]
            clean = files[~files["file"].isin(failed)]
            if len(clean):
                problems.append(_unusual_changes(v[v["file"].isin(clean["file"])], clean, con, previous))
    problems = pd.concat([p for p in problems if len(p)] or [problems[0]], ignore_index=True)
    problems["severity"] = problems["code"].map(severity_of)
    problems["cell"] = _cells(problems, metas)
    by_file = dict(tuple(problems.groupby("file"))) if len(problems) else {}
    v_by = dict(tuple(v.groupby("file"))) if v is not None else {}
    t_by = dict(tuple(t.groupby("file"))) if t is not None else {}
    shown = ["code", "sheet", "cell", "field", "value"]
    for path, meta, _ in chunk:
        i = len(reports)
        mine = by_file.get(i, problems.iloc[0:0])
        report = {"file": Path(path).name, "status": "rejected", "township": meta and meta["township"],
                  "period": meta and meta["period"], "village_rows": len(v_by.get(i, ())),
                  "problems": list(mine[shown].itertuples(index=False, name=None))}
        if meta is not None and not (mine["severity"] == "error").any():
            village = v_by.get(i, v.iloc[0:0] if v is not None else pd.DataFrame(columns=["file"]))
            report["status"] = _store(con, meta, village, t_by.get(i), mine[shown])
            previous.pop(meta["period"], None)  # a later quarter compares with what was just stored
        reports.append(report)


def pandas_ingest(con: duckdb.DuckDBPyConnection, files: list[Path],
                  progress: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
    """The baseline: read each file with pandas, check the rows of up to CHUNK files at once, store
    each accepted file; one dict per file (file, status, township, period, village_rows, problems as
    (code, sheet, cell, field, value))."""
    registry, previous = _Registry(con), {}
    reports: list[dict[str, Any]] = []
    chunk: list[tuple[str, dict[str, Any] | None, list[tuple]]] = []
    keys: set[tuple[str, str]] = set()

    def flush() -> None:
        done = len(reports)
        _process(chunk, con, registry, previous, reports)
        chunk.clear()
        keys.clear()
        for n in range(done + 1, len(reports) + 1):
            if progress:
                progress(n, len(files))

    for path in files:
        data = Path(path).read_bytes()
        found: list[tuple] = []
        meta = _read(len(reports) + len(chunk), Path(path), data, found)
        key = (meta["township"], meta["period"]) if meta else None
        if chunk and (len(chunk) >= CHUNK or (key and (key in keys or (key[0], shift(key[1], -1)) in keys))):
            flush()  # the file's number, len(reports) + len(chunk), is unchanged by the flush
        if meta:
            meta |= {"name": Path(path).name, "data": data}
            keys.add(key)
        chunk.append((str(path), meta, found))
    if chunk:
        flush()
    return reports


# ---------------------------------------------------------------------------- bench ingest

def run_side(side: str, db_path: str, files: list[str]) -> dict[str, Any]:
    """Ingest ``files`` into ``db_path`` with the product (``side`` = "ours") or the baseline
    ("baseline"); seconds, stored rows, rejected files and this process's memory."""
    con = db.connect(db_path)
    marks = {len(files) // 4, len(files) // 2, len(files)}
    rss: list[float] = []

    def progress(i: int, n: int, *_: Any) -> None:
        if i in marks:
            rss.append(_rss_mb())

    t0, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    if side == "ours":
        from pipelines.access.roles import local_admin
        from pipelines.ingest.pipeline import ingest_paths
        reports = [r.as_dict() for r in ingest_paths(con, [Path(f) for f in files], actor=local_admin("bench"),
                                                     progress=progress)]
        rejected = [(r["file"], sorted({p["code"] for p in r["problems"] if p["severity"] == "error"}))
                    for r in reports if r["status"] == "rejected"]
    else:
        reports = pandas_ingest(con, [Path(f) for f in files], progress=progress)
        rejected = [(r["file"], sorted({p[0] for p in r["problems"] if severity_of(p[0]) == "error"}))
                    for r in reports if r["status"] == "rejected"]
    seconds, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)  # all threads of this process
    rows, subs, towns = con.execute(
        "SELECT (SELECT count(*) FROM village_values), (SELECT count(*) FROM submissions WHERE status = 'active'), "
        "(SELECT count(*) FROM township_values)").fetchone()
    con.close()
    return {"seconds": seconds, "cpu_s": cpu, "rows": rows, "submissions": subs, "township_rows": towns,
            "rejected": rejected, "peak_mb": _peak_rss_mb(), "rss_mb": rss}


def _in_own_process(side: str, db_path: Path, files: list[Path]) -> dict[str, Any]:
    """``run_side`` in a fresh process (spawned: its memory is its own, not a fork of this one's)."""
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(run_side, side, str(db_path), [str(f) for f in files]).result()


def compare_stores(ours_db: Path, base_db: Path) -> int:
    """Rows stored by one side and not by the other (values, township rows, active submissions); 0 when equal."""
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{ours_db}' AS ours (READ_ONLY)")
        con.execute(f"ATTACH '{base_db}' AS base (READ_ONLY)")
        total = 0
        submission_cols = ("township_code, period, file_name, sha256, size_bytes, status, village_rows, "
                           "township_rows, warnings")
        for table, cols in (("village_values", "* EXCLUDE (submission_id)"),
                            ("township_values", "* EXCLUDE (submission_id)"), ("submissions", submission_cols)):
            for a, b in (("ours", "base"), ("base", "ours")):
                total += con.execute(f"SELECT count(*) FROM (SELECT {cols} FROM {a}.{table} "
                                     f"EXCEPT ALL SELECT {cols} FROM {b}.{table})").fetchone()[0]
        return total
    finally:
        con.close()


def bench_ingest(limit: int | None = None, workdir: Path | None = None) -> dict[str, Any]:
    """Ingest a province-sized batch twice — the product and the pandas baseline, each in its own
    process on its own copy of the registry — check that both stored the same, and compare."""
    reg_db, files = build_batch(limit)
    work = Path(workdir or CACHE / "run")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    ours_db, base_db = work / "ours.duckdb", work / "baseline.duckdb"
    shutil.copy(reg_db, ours_db)
    shutil.copy(reg_db, base_db)

    ours = _in_own_process("ours", ours_db, files)
    base = _in_own_process("baseline", base_db, files)
    for side, r in (("本产品", ours), ("基线", base)):
        if r["rejected"]:
            raise RuntimeError(f"{side}拒收了 {len(r['rejected'])} 份报表,例如 {r['rejected'][0]}")
    differences = compare_stores(ours_db, base_db)
    if differences or ours["rows"] != base["rows"]:
        raise RuntimeError(f"两边存入的数据不同:{differences} 行不一致(本产品 {ours['rows']} 行,基线 {base['rows']} 行)")
    rows = ours["rows"]
    return {
        "files": len(files), "rows": rows, "baseline_rows": base["rows"],
        "submissions": ours["submissions"], "baseline_submissions": base["submissions"],
        "township_rows": ours["township_rows"], "baseline_township_rows": base["township_rows"],
        "same_values": True,
        "ours_s": round(ours["seconds"], 2), "baseline_s": round(base["seconds"], 2),
        "ours_rows_per_s": round(rows / ours["seconds"]), "baseline_rows_per_s": round(rows / base["seconds"]),
        "ratio": round(base["seconds"] / ours["seconds"], 1),
        "ours_cpu_s": round(ours["cpu_s"], 2), "baseline_cpu_s": round(base["cpu_s"], 2),
        "cpu_ratio": round(base["cpu_s"] / ours["cpu_s"], 1),
        "peak_mb": round(ours["peak_mb"]), "baseline_peak_mb": round(base["peak_mb"]),
        "rss_mb_at_25_50_100pct": [round(m) for m in ours["rss_mb"]],
        "baseline_rss_mb_at_25_50_100pct": [round(m) for m in base["rss_mb"]],
        "registry": "湖南 (../shared/data)" if (SHARED_DATA / "hunan_units.csv").exists() else "generated",
        "ours_does": OURS_DOES, "baseline_does": BASELINE_DOES,
    }


def report_lines(result: dict[str, Any]) -> list[str]:
    """The text report of ``bench_ingest``'s result: both timings, rows/s, the ratio, peak memory,
    and what each side does."""
    return [
        (f"乡镇报表 {result['files']} 份,村级数据 {result['rows']} 行(名录:{result['registry']});"
         "两边各在独立进程中运行,存入的数据逐行比较一致"),
        (f"本产品:{result['ours_s']} 秒(CPU {result['ours_cpu_s']} 秒),{result['ours_rows_per_s']} 行/秒,"
         f"峰值内存 {result['peak_mb']} MB(处理到 25%/50%/100% 文件时 {result['rss_mb_at_25_50_100pct']} MB)"),
        (f"基线:{result['baseline_s']} 秒(CPU {result['baseline_cpu_s']} 秒),{result['baseline_rows_per_s']} 行/秒,"
         f"峰值内存 {result['baseline_peak_mb']} MB"),
        f"倍数:{result['ratio']}×(基线耗时 ÷ 本产品耗时;按 CPU 时间 {result['cpu_ratio']}×)",
        f"  {result['ours_does']}",
        f"  {result['baseline_does']}",
    ]
