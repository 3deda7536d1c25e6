"""The registry loader: real NBS registries, every problem class, idempotence, lookups, CLI."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.errors import ProblemsError, RegistryError
from pipelines.store.db import connect
from pipelines.registry.load import children, get_unit, list_units, load_registry, require_level, shapes
from pipelines.units import level_of
from pipelines.access.roles import local_admin

ADMIN = local_admin("测试管理员")

ROOT = Path(__file__).resolve().parents[1]

BASE = """code,name,parent_code
430700000000,常德市,430000000000
430703000000,鼎城区,430700000000
430703001000,玉霞街道,430703000000
430703001001,临江社区,430703001000
430703001002,鼎城社区,430703001000
"""


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


def count(con) -> int:
    return con.execute("SELECT count(*) FROM units").fetchone()[0]


@pytest.fixture
def base_db(tmp_db, tmp_path):
    """tmp_db with the five-unit BASE registry loaded."""
    load_registry(tmp_db, [write(tmp_path, "base.csv", BASE)], actor=ADMIN)
    return tmp_db


def rejected(con, paths, geojson=None) -> list:
    """Load that must fail: returns the problems and checks the units table is unchanged."""
    before = count(con)
    shapes_before = con.execute("SELECT count(*) FROM unit_shapes").fetchone()[0]
    with pytest.raises(ProblemsError) as info:
        load_registry(con, paths, geojson=geojson, actor=ADMIN)
    assert count(con) == before
    assert con.execute("SELECT count(*) FROM unit_shapes").fetchone()[0] == shapes_before
    return info.value.problems


# ------------------------------------------------------------------ real data

def test_level_of():
    assert level_of("430000000000") == "province"
    assert level_of("430700000000") == "city"
    assert level_of("431000000000") == "city"
    assert level_of("430703000000") == "county"
    assert level_of("429004000000") == "county"
    assert level_of("430703001000") == "township"
    assert level_of("430703001001") == "village"


def test_changde_real_registry(tmp_db, shared_data):
    report = load_registry(tmp_db, [shared_data / "changde_units.csv", shared_data / "changde_villages.csv"], actor=ADMIN)
    assert report["by_level"] == {"city": 1, "county": 10, "township": 178, "village": 2273}
    assert report["units"] == 2462
    # committee types (the file's 类型 column, which agrees with the NBS rule on the codes): 763 居委会
    # among the 2,273 village-level units; 城乡分类代码 kept where the file gives one
    assert report["committee_types"] == {"村委会": 1502, "居委会": 763, "其他": 8}
    villages = list_units(tmp_db, level="village")
    assert sum(v["committee_type"] == "居委会" for v in villages) == 763
    assert sum(v["urban_rural_code"] is not None for v in villages) == 1278
    assert get_unit(tmp_db, "430702001007")["urban_rural_code"] == "111"
    assert get_unit(tmp_db, "430700000000")["committee_type"] is None
    assert len(list_units(tmp_db, level="village")) == 2273
    cities = list_units(tmp_db, level="city")
    assert [(c["code"], c["name"], c["parent_code"]) for c in cities] == [("430700000000", "常德市", "430000000000")]
    village = get_unit(tmp_db, "430703001001")
    assert (village["name"], village["level"], village["parent_code"]) == ("临江社区", "village", "430703001000")
    assert get_unit(tmp_db, "430703001000")["name"] == "玉霞街道"
    # coordinates come from lon_gcj02_2016 / lat_gcj02_2016
    city = get_unit(tmp_db, "430700000000")
    assert city["lon"] == pytest.approx(111.698784) and city["lat"] == pytest.approx(29.031654)
    assert len(children(tmp_db, "430700000000")) == 10
    assert len(children(tmp_db, "430700000000", level="village")) == 2273
    assert all(v["code"].startswith("430703") for v in children(tmp_db, "430703000000", level="village"))


def test_changde_units_then_villages_in_two_loads(tmp_db, shared_data):
    load_registry(tmp_db, [shared_data / "changde_units.csv"], actor=ADMIN)
    report = load_registry(tmp_db, [shared_data / "changde_villages.csv"], actor=ADMIN)
    assert report["by_level"] == {"village": 2273}
    assert count(tmp_db) == 2462


def test_hunan_real_registry(tmp_db, shared_data):
    paths = [shared_data / "hunan_units.csv", shared_data / "hunan_villages.csv"]
    start = time.perf_counter()
    report = load_registry(tmp_db, paths, actor=ADMIN)
    elapsed = time.perf_counter() - start
    assert report["by_level"] == {"city": 14, "county": 134, "township": 2008, "village": 29534}
    assert len(list_units(tmp_db, level="village")) == 29534
    assert get_unit(tmp_db, "430102001001")["parent_code"] == "430102001000"
    assert len(list_units(tmp_db, level="village", parent="430700000000")) == 2273
    assert elapsed < 5, f"Hunan load took {elapsed:.2f}s"
    # idempotent at scale
    load_registry(tmp_db, paths, actor=ADMIN)
    assert count(tmp_db) == 31690


# ------------------------------------------------------------------ problems, one class at a time

def test_bad_code(base_db, tmp_path):
    f = write(tmp_path, "bad.csv", "code,name,parent_code\n430703001003,甲村,430703001000\n43070300100,乙村,430703001000\n")
    [p] = rejected(base_db, [f])
    assert (p.code, p.line, p.field, p.value) == ("REG001", 3, "code", "43070300100")
    assert p.context["file"] == "bad.csv"


def test_duplicate_names_both_lines(base_db, tmp_path):
    f = write(tmp_path, "dup.csv", "code,name,parent_code\n430703001003,甲村,430703001000\n"
                                   "430703001004,乙村,430703001000\n430703001003,丙村,430703001000\n")
    [p] = rejected(base_db, [f])
    assert (p.code, p.line, p.context["other"]) == ("REG002", 4, 2)
    assert "第 4 行" in p.message and "第 2 行" in p.message


def test_orphan(base_db, tmp_path):
    f = write(tmp_path, "orphan.csv", "code,name,parent_code\n430703002000,乙街道,430703000000\n"
                                      "430703003001,孤村,430703003000\n")
    [p] = rejected(base_db, [f])
    assert (p.code, p.line, p.context["parent"]) == ("REG003", 3, "430703003000")


def test_roots_of_the_highest_level_are_accepted(tmp_db, tmp_path):
    # counties whose city is not loaded are roots; their townships need them
    f = write(tmp_path, "county.csv", "code,name,parent_code\n430703000000,鼎城区,430700000000\n"
                                      "430703001000,玉霞街道,430703000000\n")
    assert load_registry(tmp_db, [f], actor=ADMIN)["by_level"] == {"county": 1, "township": 1}


def test_inconsistent_prefix(base_db, tmp_path):
    f = write(tmp_path, "prefix.csv", "code,name,parent_code\n430703001003,甲村,430703002000\n"
                                      "430703005000,乙街道,430703001000\n")
    problems = rejected(base_db, [f])
    assert [(p.code, p.line) for p in problems] == [("REG004", 2), ("REG004", 3)]


def test_province_administered_county_is_accepted(tmp_db, tmp_path):
    f = write(tmp_path, "hubei.csv", "code,name,parent_code\n420000000000,湖北省,\n"
                                     "429004000000,仙桃市,420000000000\n429004001000,沙嘴街道,429004000000\n")
    load_registry(tmp_db, [f], actor=ADMIN)
    assert get_unit(tmp_db, "429004000000")["level"] == "county"
    assert [u["code"] for u in children(tmp_db, "420000000000")] == ["429004000000"]


def test_missing_column(base_db, tmp_path):
    f = write(tmp_path, "cols.csv", "code,name\n430703001003,甲村\n")
    [p] = rejected(base_db, [f])
    assert (p.code, p.line, p.field) == ("REG006", 1, "parent_code")


def test_bad_coordinates(base_db, tmp_path):
    f = write(tmp_path, "coord.csv", "code,name,parent_code,lon,lat\n430703001003,甲村,430703001000,111.7,29.0\n"
                                     "430703001004,乙村,430703001000,abc,29.0\n430703001005,丙村,430703001000,111.7,200\n"
                                     "430703001006,丁村,430703001000,111.7,\n")
    problems = rejected(base_db, [f])
    assert [(p.code, p.line) for p in problems] == [("REG007", 3), ("REG007", 4), ("REG007", 5)]


def test_other_row_problems_are_all_collected(base_db, tmp_path):
    f = write(tmp_path, "many.csv",
              "code,name,parent_code,level,population,valid_from\n"
              "430703001003,,430703001000,5,100,2020-01-01\n"        # empty name
              "430703001004,乙村,430703001000,4,100,\n"             # level 4 is township
              "430703001005,丙村,430703001000,5,-3,\n"              # negative population
              "430703001006,丁村,430703001000,5,,2020/01/01\n")     # bad date
    problems = rejected(base_db, [f])
    assert [(p.code, p.line) for p in problems] == [("REG005", 2), ("REG014", 3), ("REG013", 4), ("REG011", 5)]


def test_missing_file(base_db, tmp_path):
    [p] = rejected(base_db, [tmp_path / "nope.csv"])
    assert p.code == "GEN001"


# ------------------------------------------------------------------ formats

def test_gbk_file_with_chinese_headers(tmp_db, tmp_path):
    text = ("统计用区划代码,名称,上级代码,经度,纬度,备注\n430703000000,鼎城区,430700000000,111.68,29.02,x\n"
            "430703001000,玉霞街道,430703000000,,,\n")
    f = write(tmp_path, "gbk.csv", text, encoding="gbk")
    assert load_registry(tmp_db, [f], actor=ADMIN)["units"] == 2
    unit = get_unit(tmp_db, "430703000000")
    assert (unit["name"], unit["lon"], unit["lat"]) == ("鼎城区", 111.68, 29.02)


def test_utf8_bom_file(tmp_db, tmp_path):
    f = write(tmp_path, "bom.csv", BASE, encoding="utf-8-sig")
    assert load_registry(tmp_db, [f], actor=ADMIN)["units"] == 5


def test_xlsx_file(tmp_db, tmp_path):
    import datetime as dt

    import openpyxl
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["代码", "名称", "上级代码", "population", "valid_from"])
    ws.append([430703000000, "鼎城区", 430700000000, 800000, dt.date(2016, 1, 1)])   # codes as numbers
    ws.append(["430703001000", "玉霞街道", "430703000000", None, "2018-06-30"])
    ws.append(["430703001001", "临江社区", "430703001000", 2500.0, None])
    f = tmp_path / "units.xlsx"
    wb.save(f)
    report = load_registry(tmp_db, [f], actor=ADMIN)
    assert report["by_level"] == {"county": 1, "township": 1, "village": 1}
    county = get_unit(tmp_db, "430703000000")
    assert county["population"] == 800000 and county["valid_from"] == dt.date(2016, 1, 1)
    assert get_unit(tmp_db, "430703001001")["population"] == 2500


def test_xlsx_problem_has_row_number(base_db, tmp_path):
    import openpyxl
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["code", "name", "parent_code"])
    ws.append(["430703001003", "甲村", "430703001000"])
    ws.append(["4307030010", "乙村", "430703001000"])
    f = tmp_path / "bad.xlsx"
    wb.save(f)
    [p] = rejected(base_db, [f])
    assert (p.code, p.line) == ("REG001", 3)


# ------------------------------------------------------------------ GeoJSON

def square(x: float, y: float) -> dict:
    return {"type": "Polygon", "coordinates": [[[x, y], [x + 1, y], [x + 1, y + 1], [x, y + 1], [x, y]]]}


def feature_collection(*features) -> str:
    return json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": props, "geometry": geom} for props, geom in features]})


def test_geojson_unknown_code(base_db, tmp_path):
    g = write(tmp_path, "b.geojson", feature_collection(({"code": "430703001001"}, square(111, 29)),
                                                        ({"code": "430703009009"}, square(112, 29))))
    [p] = rejected(base_db, [write(tmp_path, "base.csv", BASE)], geojson=g)
    assert (p.code, p.line, p.context["code"]) == ("REG008", 2, "430703009009")


def test_geojson_bad_features(base_db, tmp_path):
    g = write(tmp_path, "b.geojson", feature_collection(({"name": "无代码"}, square(111, 29)),
                                                        ({"code": "430703001001"}, {"type": "Point", "coordinates": [1, 2]})))
    problems = rejected(base_db, [write(tmp_path, "base.csv", BASE)], geojson=g)
    assert [(p.code, p.line) for p in problems] == [("REG008", 1), ("REG008", 2)]


def test_geojson_stores_shapes_and_fills_coordinates(tmp_db, tmp_path):
    units = write(tmp_path, "u.csv", BASE.replace("430703001002,鼎城社区,430703001000",
                                                  "430703001002,鼎城社区,430703001000,110.5,28.5")
                  .replace("code,name,parent_code", "code,name,parent_code,lon,lat"))
    g = write(tmp_path, "b.geojson", feature_collection(({"code": "430703001001"}, square(111, 29)),
                                                        ({"adcode": 430703}, square(111, 28)),
                                                        ({"code": "430703001002"}, square(113, 27))))
    report = load_registry(tmp_db, [units], geojson=g, actor=ADMIN)
    assert report["shapes"] == 3
    got = shapes(tmp_db, ["430703001001", "430703000000", "430700000000"])
    assert set(got) == {"430703001001", "430703000000"}
    assert got["430703001001"]["type"] == "Polygon"
    v = get_unit(tmp_db, "430703001001")          # the square's representative point: its centre
    assert (v["lon"], v["lat"]) == pytest.approx((111.5, 29.5))
    kept = get_unit(tmp_db, "430703001002")          # had its own coordinates: kept
    assert (kept["lon"], kept["lat"]) == (110.5, 28.5)
    # shapes for units already in the database, in a later load of nothing else
    load_registry(tmp_db, [], geojson=g, actor=ADMIN)
    assert tmp_db.execute("SELECT count(*) FROM unit_shapes").fetchone()[0] == 3


# ------------------------------------------------------------------ idempotence and lookups

def test_reload_is_idempotent(tmp_db, tmp_path):
    f = write(tmp_path, "base.csv", BASE)
    load_registry(tmp_db, [f], actor=ADMIN)
    first = list_units(tmp_db)
    report = load_registry(tmp_db, [f], actor=ADMIN)
    assert report["units"] == 5 and count(tmp_db) == 5
    assert list_units(tmp_db) == first


def test_lookups(base_db, tmp_path):
    assert [u["code"] for u in list_units(base_db, level="village")] == ["430703001001", "430703001002"]
    assert [u["code"] for u in list_units(base_db, parent="430703000000")] == ["430703001000"]
    assert [u["code"] for u in list_units(base_db, level="village", parent="430700000000")] == \
        ["430703001001", "430703001002"]
    assert [u["code"] for u in children(base_db, "430703001000")] == ["430703001001", "430703001002"]
    with pytest.raises(RegistryError) as info:
        get_unit(base_db, "430703999000")
    assert info.value.code == "REG009"
    town = get_unit(base_db, "430703001000")
    assert require_level(town, "township") is town
    assert require_level(town, ("county", "township")) is town
    with pytest.raises(RegistryError) as info:
        require_level(town, "county")
    assert info.value.code == "REG010" and "乡镇" in info.value.message_zh and "区县" in info.value.message_zh
    with pytest.raises(RegistryError) as info:
        children(base_db, "430703999000")
    assert info.value.code == "REG009" and "430703999000" in info.value.message_zh


def test_list_units_as_of(tmp_db, tmp_path):
    f = write(tmp_path, "v.csv", "code,name,parent_code,valid_from,valid_to,merged_into\n"
                                 "430703001000,玉霞街道,430703000000,,,\n"
                                 "430703001001,旧村,430703001000,,2020-01-01,430703001002\n"
                                 "430703001002,新村,430703001000,2020-01-01,,\n")
    load_registry(tmp_db, [f], actor=ADMIN)
    assert [u["name"] for u in list_units(tmp_db, level="village", as_of="2019-12-31")] == ["旧村"]
    assert [u["name"] for u in list_units(tmp_db, level="village", as_of="2020-01-01")] == ["新村"]
    assert get_unit(tmp_db, "430703001001")["merged_into"] == "430703001002"


# ------------------------------------------------------------------ CLI

def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli.main", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_cli_load_and_list_json(tmp_path):
    db = str(tmp_path / "cli.duckdb")
    f = write(tmp_path, "base.csv", BASE)
    done = cli("--db", db, "registry", "load", str(f), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["by_level"] == {"city": 1, "county": 1, "township": 1, "village": 2}
    done = cli("--db", db, "registry", "list", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [r["code"] for r in rows] == ["430700000000", "430703000000", "430703001000", "430703001001", "430703001002"]
    assert rows[3]["level"] == "village" and rows[3]["parent_code"] == "430703001000"
    # committee_type of village-level units, from the code's last three digits (001–199 居委会)
    assert [r["committee_type"] for r in rows] == [None, None, None, "居委会", "居委会"]
    done = cli("--db", db, "registry", "list", "--level", "village", "--parent", "430703000000", "--json")
    assert [r["code"] for r in json.loads(done.stdout)] == ["430703001001", "430703001002"]


def count_units(db: str) -> int:
    con = connect(db)
    try:
        return count(con)
    finally:
        con.close()


def test_cli_failing_load(tmp_path):
    db = str(tmp_path / "cli.duckdb")
    f = write(tmp_path, "bad.csv", "code,name,parent_code\n4307,甲村,430703001000\n")
    done = cli("--db", db, "registry", "load", str(f))
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error: [REG001] bad.csv 第 2 行:代码 4307 不是12位数字",
        "rural-targets: 错误 [REG001] bad.csv 第 2 行:代码 4307 不是12位数字",
    ]
    assert count_units(db) == 0
