"""The registry of administrative units (统计用区划代码): loading, checking and looking up.

A registry file is a CSV (UTF-8, UTF-8 with BOM, or GBK) or an Excel workbook (first sheet) in the
layout of the National Bureau of Statistics: one unit a row, with its 12-digit code, its name and
its parent's code. The level of a unit is derived from its code, never taken from the file.

A village-level unit's committee type (``committee_type``: 村委会 / 居委会) is taken from the file
when it has a type column (类型, committee_type…), else derived from the code's last three digits
(001–199 居委会, 200–399 村委会, others 其他: pipelines.units); the 城乡分类代码 (urban_rural_code:
111 主城区 … 220 村庄) is kept where the file gives it.

Loading is all-or-nothing: every row of every file is checked first and all problems are
reported together (``ProblemsError``); only a clean load is written, in one transaction.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from pathlib import Path
from typing import Any, Iterable

import duckdb
import pandas as pd
from python_calamine import CalamineWorkbook
from shapely.geometry import shape

from pipelines.units import (COMMITTEE_TYPES, LEVEL_RANK, LEVEL_ZH, LEVELS, PREFIX_LEN, committee_type_from_text, committee_type_of,
                             level_of)
from pipelines.store.db import replace_rows, transaction
from pipelines.errors import Problem, ProblemsError, RegistryError, RuralTargetsError
from pipelines.access import audit
from pipelines.access.roles import User, require
from pipelines.ingest.read import decode_text


# canonical column -> accepted headers (compared case-insensitively), first match wins
COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("code", "代码", "统计用区划代码", "区划代码"),
    "name": ("name", "名称"),
    "parent_code": ("parent_code", "上级代码"),
    "level": ("level", "层级", "级别"),
    "lon": ("lon", "lon_gcj02_2016", "经度"),
    "lat": ("lat", "lat_gcj02_2016", "纬度"),
    "population": ("population", "人口"),
    "elderly_population": ("elderly_population", "老年人口"),
    "valid_from": ("valid_from", "生效日期"),
    "valid_to": ("valid_to", "失效日期"),
    "merged_into": ("merged_into", "并入代码"),
    "committee_type": ("committee_type", "类型", "委员会类型", "村居类型", "村(居)委会类型", "村（居）委会类型"),
    "urban_rural_code": ("urban_rural_code", "城乡分类代码", "城乡分类"),
}
URBAN_RURAL_CODES = {"111": "主城区", "112": "城乡结合区", "121": "镇中心区", "122": "镇乡结合区",
                     "123": "特殊区域", "210": "乡中心区", "220": "村庄"}
REQUIRED = ("code", "name", "parent_code")
COLUMN_ZH = {"code": "代码", "name": "名称", "parent_code": "上级代码",
             "population": "人口", "elderly_population": "老年人口"}
# values of a file's own level column that we understand (anything else is ignored)
_LEVEL_VALUES = {**{str(i + 1): level for i, level in enumerate(LEVELS)},
                 **{level: level for level in LEVELS},
                 **{zh: level for level, zh in LEVEL_ZH.items()}}

UNIT_COLUMNS = ("code", "name", "level", "parent_code", "lon", "lat", "population",
                "elderly_population", "valid_from", "valid_to", "committee_type", "urban_rural_code")
_CODE_RE = re.compile(r"\d{12}")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_CSV_SUFFIXES = {".csv", ".txt"}
_EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}


def _is_code(value: str) -> bool:
    return bool(_CODE_RE.fullmatch(value))


# ------------------------------------------------------------------ reading files

def _cell(value: Any) -> str:
    """An Excel cell as the text a CSV would hold (codes stored as numbers lose their '.0')."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def _read_rows(path: Path) -> list[tuple[int, list[str]]]:
    """All non-blank rows of ``path`` with their line (CSV) or row (Excel) number, header first.

    Raises ValueError with a readable detail when the file cannot be decoded or parsed.
    """
    if path.suffix.lower() in _EXCEL_SUFFIXES:
        try:
            sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
            table = sheet.to_python(skip_empty_area=False)
        except Exception as exc:  # noqa: BLE001 - calamine raises its own error types
            raise ValueError(str(exc)) from None
        rows = [(i + 1, [_cell(v) for v in row]) for i, row in enumerate(table)]
    else:
        text = decode_text(path.read_bytes())
        reader = csv.reader(io.StringIO(text, newline=""))
        rows, last = [], 0
        try:
            for row in reader:
                rows.append((last + 1, [c.strip() for c in row]))
                last = reader.line_num
        except csv.Error as exc:
            raise ValueError(f"CSV 格式错误:{exc}") from None
    return [(line, cells) for line, cells in rows if any(cells)]


def _columns(header: list[str]) -> dict[str, int]:
    """Canonical column name -> index in ``header``."""
    norm = [h.strip().lstrip("\ufeff").lower() for h in header]
    found: dict[str, int] = {}
    for column, aliases in COLUMNS.items():
        for alias in aliases:
            if alias.lower() in norm:
                found[column] = norm.index(alias.lower())
                break
    return found


# ------------------------------------------------------------------ checking rows

def _problem(code: str, rec: dict[str, Any], field: str | None = None, value: Any = None,
             **context: Any) -> Problem:
    ctx = {"file": rec["file"], "line": rec["line"], "code": rec.get("code"),
           "name": rec.get("name"), "parent": rec.get("parent_code"), **context}
    if value is not None:
        ctx.setdefault("value", value)
    return Problem(code, ctx, field=field, value=value, line=rec["line"])


def _check_row(rec: dict[str, Any]) -> tuple[list[Problem], dict[str, Any]]:
    """Check one row's own values; return its problems and the typed values to store."""
    problems: list[Problem] = []
    out: dict[str, Any] = {}
    code, name, parent = rec["code"], rec["name"], rec["parent_code"]
    level = None
    if not code:
        problems.append(_problem("REG005", rec, "code", column="代码"))
    elif not _is_code(code):
        problems.append(_problem("REG001", rec, "code", code))
    else:
        level = level_of(code)
    out["level"] = level
    if not name:
        problems.append(_problem("REG005", rec, "name", column="名称"))
    if not parent:
        if level is not None and level != "province":
            problems.append(_problem("REG005", rec, "parent_code", column="上级代码"))
    elif not _is_code(parent):
        problems.append(_problem("REG001", rec, "parent_code", parent, code=parent))

    declared = _LEVEL_VALUES.get(rec.get("level", "").lower())
    if level is not None and declared is not None and declared != level:
        problems.append(_problem("REG014", rec, "level", rec["level"], level=LEVEL_ZH[level]))

    lon_s, lat_s = rec.get("lon", ""), rec.get("lat", "")
    out["lon"] = out["lat"] = None
    if lon_s or lat_s:
        try:
            lon, lat = float(lon_s), float(lat_s)
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise ValueError
            out["lon"], out["lat"] = lon, lat
        except ValueError:
            problems.append(_problem("REG007", rec, "lon/lat", f"{lon_s},{lat_s}"))

    for column in ("population", "elderly_population"):
        text = rec.get(column, "")
        out[column] = None
        if text:
            try:
                number = float(text)
                if number < 0 or not number.is_integer():
                    raise ValueError
                out[column] = int(number)
            except ValueError:
                problems.append(_problem("REG013", rec, column, text, column=COLUMN_ZH[column]))

    for column in ("valid_from", "valid_to"):
        text = rec.get(column, "")
        out[column] = None
        if text:
            try:
                if not _DATE_RE.fullmatch(text):
                    raise ValueError
                out[column] = dt.date.fromisoformat(text)
            except ValueError:
                problems.append(_problem("REG011", rec, column, text))

    out["committee_type"] = committee_type_of(code) if level == "village" else None
    ctype = rec.get("committee_type", "")
    if ctype and level == "village":
        given = committee_type_from_text(ctype)
        if given is None:
            problems.append(_problem("REG015", rec, "committee_type", ctype))
        else:
            out["committee_type"] = given
    urban = rec.get("urban_rural_code", "")
    out["urban_rural_code"] = None
    if urban:
        if urban in URBAN_RURAL_CODES:
            out["urban_rural_code"] = urban
        else:
            problems.append(_problem("REG016", rec, "urban_rural_code", urban))

    merged = rec.get("merged_into", "")
    out["merged_into"] = merged or None
    if merged and not _is_code(merged):
        problems.append(_problem("REG001", rec, "merged_into", merged, code=merged))
    return problems, out


def _existing_codes(con: duckdb.DuckDBPyConnection, codes: Iterable[str]) -> set[str]:
    """Which of ``codes`` are already in the units table."""
    codes = sorted(set(codes))
    if not codes:
        return set()
    rows = con.execute("SELECT code FROM units WHERE list_contains(?::VARCHAR[], code)", [codes]).fetchall()
    return {r[0] for r in rows}


def _read_file(path: Path) -> tuple[list[dict[str, Any]], list[Problem]]:
    """The raw records of one registry file (dicts of text), or the problems that stop reading it."""
    name = path.name
    if not path.exists():
        return [], [Problem("GEN001", {"file": str(path)})]
    if path.suffix.lower() not in _CSV_SUFFIXES | _EXCEL_SUFFIXES:
        return [], [Problem("GEN003", {"file": str(path)})]
    try:
        rows = _read_rows(path)
    except (OSError, ValueError) as exc:
        return [], [Problem("REG012", {"file": name, "detail": str(exc)})]
    if not rows:
        return [], [Problem("REG012", {"file": name, "detail": "文件为空"})]
    (_, header), data = rows[0], rows[1:]
    index = _columns(header)
    missing = [c for c in REQUIRED if c not in index]
    if missing:
        return [], [Problem("REG006", {"file": name, "column": f"{c}({COLUMN_ZH[c]})"}, field=c, line=1)
                    for c in missing]
    records = []
    for line, cells in data:
        rec = {"file": name, "line": line}
        for column, i in index.items():
            rec[column] = cells[i] if i < len(cells) else ""
        records.append(rec)
    return records, []


# ------------------------------------------------------------------ GeoJSON

def _read_geojson(path: Path) -> tuple[list[dict[str, Any]], list[Problem]]:
    """Features of a boundary file as {index, code, geometry, x, y}, and the problems found."""
    name = path.name
    if not path.exists():
        return [], [Problem("GEN001", {"file": str(path)})]
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return [], [Problem("REG012", {"file": name, "detail": f"不是有效的 JSON:{exc}"})]
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(doc.get("features"), list):
        return [], [Problem("REG012", {"file": name, "detail": "不是 GeoJSON FeatureCollection"})]

    features: list[dict[str, Any]] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for i, feature in enumerate(doc["features"], start=1):
        def bad(detail: str, code: str | None = None) -> None:
            problems.append(Problem("REG008", {"file": name, "line": i, "detail": detail, "code": code},
                                    field="geometry" if code else "code", value=code, line=i))

        props = (feature.get("properties") if isinstance(feature, dict) else None) or {}
        raw, padded = props.get("code"), False
        if raw in (None, ""):
            raw, padded = props.get("adcode"), True
        if raw in (None, ""):
            bad("缺少 code(或 adcode)属性")
            continue
        code = _cell(raw)
        if padded and code.isdigit() and len(code) < 12:
            code = code.ljust(12, "0")
        if not _is_code(code):
            bad(f"代码 {code} 不是12位数字", code)
            continue
        if code in seen:
            bad(f"代码 {code} 重复(第 {seen[code]} 个要素已有)", code)
            continue
        seen[code] = i
        geom = feature.get("geometry")
        gtype = geom.get("type") if isinstance(geom, dict) else None
        if gtype not in ("Polygon", "MultiPolygon"):
            bad(f"{code} 的几何类型 {gtype} 不是 Polygon 或 MultiPolygon", code)
            continue
        try:
            shp = shape(geom)
            if shp.is_empty:
                raise ValueError("几何为空")
            point = shp.representative_point()
        except Exception as exc:  # noqa: BLE001 - shapely/GEOS raise several types
            bad(f"{code} 的几何无效:{exc}", code)
            continue
        features.append({"index": i, "code": code, "geometry": json.dumps(geom, ensure_ascii=False, separators=(",", ":")),
                         "x": point.x, "y": point.y})
    return features, problems


# ------------------------------------------------------------------ loading

def load_registry(con: duckdb.DuckDBPyConnection, paths: list[Path], geojson: Path | None = None, *,
                  actor: User, client: str | None = None) -> dict[str, Any]:
    """Check and load registry files (CSV or Excel) and optionally a boundary GeoJSON, as ``actor``
    (an admin: AUTH010 otherwise); the attempt and its outcome go to the audit trail.

    Every problem in every file is collected first; if any is found, ``ProblemsError`` is raised
    and nothing is written. Otherwise all units are upserted into ``units`` (and polygons into
    ``unit_shapes``) in one transaction, so loading the same files again changes nothing.

    A parent must be in the files loaded or already in the database, except for units of the
    highest level present in the load (e.g. the cities of a city-level file whose province is
    not loaded). Units without coordinates get their polygon's representative point.

    Returns ``{"files", "units", "by_level", "committee_types", "shapes"}`` (committee_types: the
    village-level units loaded per type).
    """
    paths = [Path(p) for p in paths]
    names = ", ".join(p.name for p in paths) + (f" + {Path(geojson).name}" if geojson else "")
    try:
        require(actor, "registry")
        result = _load(con, paths, geojson)
    except ProblemsError as exc:
        audit.record(con, actor, "registry_load", "rejected", object=names, client=client,
                     details={"errors": sorted({p.code for p in exc.problems}), "count": len(exc.problems)})
        raise
    except RuralTargetsError as exc:
        audit.record(con, actor, "registry_load", "refused" if exc.code.startswith("AUTH") else "failed",
                     object=names, client=client, details={"code": exc.code})
        raise
    audit.record(con, actor, "registry_load", object=names, client=client,
                 details={"units": result["units"], "by_level": result["by_level"], "shapes": result["shapes"]})
    return result


def _load(con: duckdb.DuckDBPyConnection, paths: list[Path], geojson: Path | None) -> dict[str, Any]:
    problems: list[Problem] = []
    records: list[dict[str, Any]] = []
    for path in paths:
        recs, probs = _read_file(path)
        records.extend(recs)
        problems.extend(probs)

    # row-level checks and duplicates
    first: dict[str, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    for rec in records:
        probs, values = _check_row(rec)
        problems.extend(probs)
        code = rec["code"]
        if values["level"] is None:
            continue
        if code in first:
            prev = first[code]
            other = prev["line"] if prev["file"] == rec["file"] else f"{prev['file']}:{prev['line']}"
            problems.append(_problem("REG002", rec, "code", code, other=other))
            continue
        first[code] = rec
        rows.append({"code": code, "name": rec["name"], "parent_code": rec["parent_code"] or None,
                     "source": rec["file"], "_rec": rec, **values})

    # parents: consistent with the code, and present (in this load or in the database)
    top = min((LEVEL_RANK[r["level"]] for r in rows), default=0)
    pending = []
    for row in rows:
        parent = row["parent_code"]
        if not parent or not _is_code(parent):
            continue
        plevel = level_of(parent)
        if LEVEL_RANK[plevel] >= LEVEL_RANK[row["level"]] or not row["code"].startswith(parent[:PREFIX_LEN[plevel]]):
            problems.append(_problem("REG004", row["_rec"], "parent_code", parent))
        elif parent not in first:
            pending.append(row)
    in_db = _existing_codes(con, (r["parent_code"] for r in pending))
    for row in pending:
        if row["parent_code"] not in in_db and LEVEL_RANK[row["level"]] != top:
            problems.append(_problem("REG003", row["_rec"], "parent_code", row["parent_code"]))

    # boundaries
    features: list[dict[str, Any]] = []
    if geojson is not None:
        features, probs = _read_geojson(Path(geojson))
        problems.extend(probs)
        in_db = _existing_codes(con, (f["code"] for f in features if f["code"] not in first))
        for f in [f for f in features if f["code"] not in first and f["code"] not in in_db]:
            problems.append(Problem("REG008", {"file": Path(geojson).name, "line": f["index"], "code": f["code"],
                                               "detail": f"代码 {f['code']} 不在区划名录中"},
                                    field="code", value=f["code"], line=f["index"]))
        features = [f for f in features if f["code"] in first or f["code"] in in_db]

    if problems:
        order = {p.name: i for i, p in enumerate(paths)}
        problems.sort(key=lambda p: (order.get(p.context.get("file"), len(order)), p.line or 0))
        raise ProblemsError(problems)

    units = pd.DataFrame({
        "code": pd.array([r["code"] for r in rows], dtype="string"),
        "name": pd.array([r["name"] for r in rows], dtype="string"),
        "level": pd.array([r["level"] for r in rows], dtype="string"),
        "parent_code": pd.array([r["parent_code"] for r in rows], dtype="string"),
        "lon": pd.array([r["lon"] for r in rows], dtype="Float64"),
        "lat": pd.array([r["lat"] for r in rows], dtype="Float64"),
        "population": pd.array([r["population"] for r in rows], dtype="Int64"),
        "elderly_population": pd.array([r["elderly_population"] for r in rows], dtype="Int64"),
        "valid_from": pd.array([None if r["valid_from"] is None else r["valid_from"].isoformat() for r in rows], dtype="string"),
        "valid_to": pd.array([None if r["valid_to"] is None else r["valid_to"].isoformat() for r in rows], dtype="string"),
        "merged_into": pd.array([r["merged_into"] for r in rows], dtype="string"),
        "source": pd.array([r["source"] for r in rows], dtype="string"),
        "committee_type": pd.array([r["committee_type"] for r in rows], dtype="string"),
        "urban_rural_code": pd.array([r["urban_rural_code"] for r in rows], dtype="string"),
    })
    shapes_df = pd.DataFrame({
        "code": pd.array([f["code"] for f in features], dtype="string"),
        "geometry": pd.array([f["geometry"] for f in features], dtype="string"),
        "x": pd.array([f["x"] for f in features], dtype="Float64"),
        "y": pd.array([f["y"] for f in features], dtype="Float64"),
    })

    con.register("_registry_units", units)
    con.register("_registry_shapes", shapes_df)
    try:
        with transaction(con):
            if len(units):
                replace_rows(con, "units", "code", columns="(code, name, level, parent_code, lon, lat, population, "
                             "elderly_population, valid_from, valid_to, merged_into, source, loaded_at, committee_type, "
                             "urban_rural_code)", select_sql="""
                    SELECT code, name, level, parent_code, lon, lat, population, elderly_population,
                        CAST(valid_from AS DATE), CAST(valid_to AS DATE), merged_into, source, current_timestamp,
                        committee_type, urban_rural_code
                    FROM _registry_units""")
            if len(shapes_df):
                replace_rows(con, "unit_shapes", "code", "SELECT code, geometry FROM _registry_shapes")
                con.execute("""
                    UPDATE units SET lon = s.x, lat = s.y
                    FROM _registry_shapes s
                    WHERE units.code = s.code AND (units.lon IS NULL OR units.lat IS NULL)""")
    finally:
        con.unregister("_registry_units")
        con.unregister("_registry_shapes")

    by_level = {level: n for level in LEVELS if (n := sum(1 for r in rows if r["level"] == level))}
    by_type = {t: n for t in COMMITTEE_TYPES if (n := sum(1 for r in rows if r["committee_type"] == t))}
    return {"files": [str(p) for p in paths], "units": len(rows), "by_level": by_level,
            "committee_types": by_type, "shapes": len(features)}


# ------------------------------------------------------------------ lookups

def _dicts(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def _check_level(level: str) -> None:
    if level not in LEVEL_RANK:
        raise ValueError(f"unknown level {level!r}; expected one of {', '.join(LEVELS)}")


def list_units(con: duckdb.DuckDBPyConnection, level: str | None = None, parent: str | None = None,
               as_of: dt.date | str | None = None) -> list[dict[str, Any]]:
    """Units ordered by code, as dicts of ``UNIT_COLUMNS``.

    ``level`` keeps one level; ``parent`` keeps the direct children of that unit, or, when
    ``level`` is given too, all its descendants of that level (by code prefix). ``as_of`` keeps
    units existing on that date: valid_from <= as_of < valid_to (NULL bounds are open).
    """
    where, params = [], []
    if level is not None:
        _check_level(level)
        where.append("level = ?")
        params.append(level)
    if parent is not None:
        if level is None:
            where.append("parent_code = ?")
            params.append(parent)
        else:
            prefix = parent[:PREFIX_LEN[level_of(parent)]] if _is_code(parent) else parent
            where.append("starts_with(code, ?) AND code <> ?")
            params += [prefix, parent]
    if as_of is not None:
        day = dt.date.fromisoformat(as_of) if isinstance(as_of, str) else as_of
        where.append("(valid_from IS NULL OR valid_from <= ?) AND (valid_to IS NULL OR valid_to > ?)")
        params += [day, day]
    sql = f"SELECT {', '.join(UNIT_COLUMNS)} FROM units"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return _dicts(con.execute(sql + " ORDER BY code", params))


def get_unit(con: duckdb.DuckDBPyConnection, code: str) -> dict[str, Any]:
    """One unit (``UNIT_COLUMNS`` plus merged_into and source); RegistryError REG009 when absent."""
    rows = _dicts(con.execute(
        f"SELECT {', '.join(UNIT_COLUMNS)}, merged_into, source FROM units WHERE code = ?", [str(code)]))
    if not rows:
        raise RegistryError("REG009", code=code)
    return rows[0]


def require_level(unit: dict[str, Any], expected: str | Iterable[str]) -> dict[str, Any]:
    """Return ``unit`` if its level is ``expected`` (a level or several); else RegistryError REG010."""
    allowed = (expected,) if isinstance(expected, str) else tuple(expected)
    if unit["level"] not in allowed:
        raise RegistryError("REG010", code=unit["code"], level=LEVEL_ZH.get(unit["level"], unit["level"]),
                            expected="或".join(LEVEL_ZH.get(e, e) for e in allowed))
    return unit


def children(con: duckdb.DuckDBPyConnection, code: str, level: str | None = None) -> list[dict[str, Any]]:
    """The direct children of unit ``code``, or all its descendants of ``level`` (by code prefix).

    RegistryError REG009 when ``code`` is not in the registry.
    """
    get_unit(con, code)
    return list_units(con, level=level, parent=code)


def shapes(con: duckdb.DuckDBPyConnection, codes: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The boundary geometries (GeoJSON geometry dicts) of those of ``codes`` that have one."""
    codes = sorted({str(c) for c in codes})
    if not codes:
        return {}
    rows = con.execute("SELECT code, geometry FROM unit_shapes WHERE list_contains(?::VARCHAR[], code)",
                       [codes]).fetchall()
    return {code: json.loads(geometry) for code, geometry in rows}
