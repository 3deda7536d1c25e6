"""The synthetic sample city (pipelines/samples/region.py) and its committed files."""
from __future__ import annotations

import csv
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from shapely.geometry import Point, shape

from pipelines.registry.load import load_registry
from pipelines.samples.region import DEFAULT_SEED, generate_region
from pipelines.store.db import connect
from pipelines.access.roles import local_admin

ADMIN = local_admin("测试管理员")

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "data" / "samples" / "region"
FILES = ["units.csv", "boundaries.geojson", "README.md"]


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    out = tmp_path_factory.mktemp("region")
    generate_region(out, seed=DEFAULT_SEED)
    return out


def _units(out: Path) -> list[dict]:
    with open(out / "units.csv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _shapes(out: Path) -> dict:
    fc = json.loads((out / "boundaries.geojson").read_text(encoding="utf-8"))
    assert fc["type"] == "FeatureCollection"
    return {f["properties"]["code"]: (f["properties"], shape(f["geometry"])) for f in fc["features"]}


def test_deterministic(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    paths = generate_region(a, seed=DEFAULT_SEED)
    generate_region(b, seed=DEFAULT_SEED)
    assert sorted(p.name for p in paths) == sorted(FILES)
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    generate_region(c, seed=DEFAULT_SEED + 1)
    # another seed keeps the codes of the city and its counties but draws other names and villages
    def counties(out: Path) -> dict[str, str]:
        return {u["code"]: u["name"] for u in _units(out) if u["level"] in ("city", "county")}
    assert counties(a) == {"439900000000": "示例市", "439902000000": "松岗区", "439921000000": "碧泉县",
                           "439922000000": "白鹭县", "439981000000": "桐湾市"}
    assert counties(c) == {"439900000000": "示例市", "439902000000": "松岗区", "439921000000": "凤岭县",
                           "439922000000": "桐湾县", "439981000000": "鹤湾市"}
    assert Counter(u["level"] for u in _units(c))["village"] == 517


def test_committed_files_match_fresh_generation(region):
    for name in FILES:
        assert (COMMITTED / name).exists(), "run: rural-targets sample region -o data/samples/region"
        assert (COMMITTED / name).read_bytes() == (region / name).read_bytes(), \
            f"data/samples/region/{name} differs from a fresh generation; regenerate it, do not edit by hand"


def test_header_and_marking(region):
    header = (region / "units.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "code,name,parent_code,level,lon,lat,population,elderly_population"
    readme = (region / "README.md").read_text(encoding="utf-8")
    assert "合成数据,非真实区划" in readme and "Synthetic" in readme and str(DEFAULT_SEED) in readme
    assert (region / "boundaries.geojson").stat().st_size < 1_500_000


def test_counts(region):
    units = _units(region)
    levels = Counter(u["level"] for u in units)
    assert levels == {"city": 1, "county": 4, "township": 41, "village": 514}
    children = Counter(u["parent_code"] for u in units)
    assert {c: children[c] for c in ("439902000000", "439921000000", "439922000000", "439981000000")} == \
        {"439902000000": 11, "439921000000": 9, "439922000000": 11, "439981000000": 10}
    for u in units:
        if u["level"] == "county":
            assert 9 <= children[u["code"]] <= 11, u
        elif u["level"] == "township":
            assert 8 <= children[u["code"]] <= 16, u


def test_codes_and_names(region):
    units = _units(region)
    by_code = {u["code"]: u for u in units}
    assert len(by_code) == len(units)
    city = next(u for u in units if u["level"] == "city")
    assert (city["code"], city["name"], city["parent_code"]) == ("439900000000", "示例市", "430000000000")
    counties = {u["code"]: u["name"] for u in units if u["level"] == "county"}
    assert {c[4:6] for c in counties} == {"02", "21", "22", "81"}
    for code, name in counties.items():
        assert name[-1] == {"02": "区", "21": "县", "22": "县", "81": "市"}[code[4:6]]
    for u in units:
        code, parent, level, name = u["code"], u["parent_code"], u["level"], u["name"]
        assert re.fullmatch(r"\d{12}", code), code
        if level == "city":
            assert parent not in by_code
            continue
        assert parent in by_code, code
        p = by_code[parent]
        if level == "county":
            assert p["level"] == "city" and code[:4] == parent[:4] and code[6:] == "000000"
        elif level == "township":
            assert p["level"] == "county" and code[:6] == parent[:6] and code[9:] == "000"
            n = int(code[6:9])
            kind = "街道" if 1 <= n <= 99 else "镇" if 100 <= n <= 199 else "乡" if 200 <= n <= 399 else None
            assert kind and name.endswith(kind), (code, name)
        else:
            assert level == "village" and p["level"] == "township" and code[:9] == parent[:9]
            n = int(code[9:])
            kind = "社区" if 1 <= n <= 199 else "村" if 200 <= n <= 399 else None
            assert kind and name.endswith(kind), (code, name)
            if kind == "社区":
                assert p["name"].endswith(("街道", "镇")), (code, p["name"])
    names = defaultdict(list)
    for u in units:
        names[u["parent_code"]].append(u["name"])
    for parent, ns in names.items():
        assert len(ns) == len(set(ns)), (parent, [n for n, k in Counter(ns).items() if k > 1])


def test_populations(region):
    units = _units(region)
    for u in units:
        u["population"], u["elderly_population"] = int(u["population"]), int(u["elderly_population"])
    for u in units:
        assert 0.18 <= u["elderly_population"] / u["population"] <= 0.30, u
        if u["level"] == "village":
            assert 600 <= u["population"] <= 4500, u
        else:
            kids = [k for k in units if k["parent_code"] == u["code"]]
            assert u["population"] == sum(k["population"] for k in kids), u["code"]
            assert u["elderly_population"] == sum(k["elderly_population"] for k in kids), u["code"]


def test_geometry(region):
    units = _units(region)
    shapes = _shapes(region)
    polygon_units = {u["code"]: u for u in units if u["level"] != "village"}
    assert set(shapes) == set(polygon_units)
    text = (region / "boundaries.geojson").read_text(encoding="utf-8")
    assert not re.search(r"\d\.\d{6,}", text), "coordinates have more than 5 decimals"
    for code, (props, geom) in shapes.items():
        u = polygon_units[code]
        assert (props["name"], props["level"]) == (u["name"], u["level"])
        assert geom.geom_type == "Polygon" and geom.is_valid and geom.area > 0, code
        assert geom.contains(Point(float(u["lon"]), float(u["lat"]))), code
    city = shapes["439900000000"][1]
    minx, miny, maxx, maxy = city.bounds
    assert 111.4 < minx < maxx < 112.4 and 28.5 < miny < maxy < 29.3
    for code, (props, geom) in shapes.items():
        if props["level"] == "city":
            continue
        # boundaries are snapped to 5 decimals (~1 m) independently: allow slivers under that width
        parent = shapes[polygon_units[code]["parent_code"]][1]
        outside = geom.difference(parent).area
        assert outside < 1e-3 * geom.area and outside / geom.length < 1e-5, code
    # children tile their parent: areas add up
    for parent_code, (props, parent) in shapes.items():
        if props["level"] in ("city", "county"):
            kids = [g for c, (p, g) in shapes.items() if polygon_units[c]["parent_code"] == parent_code]
            assert sum(g.area for g in kids) == pytest.approx(parent.area, rel=1e-4), parent_code
    for u in units:
        if u["level"] == "village":
            assert re.fullmatch(r"\d+\.\d{6}", u["lon"]) and re.fullmatch(r"\d+\.\d{6}", u["lat"])
            assert shapes[u["parent_code"]][1].contains(Point(float(u["lon"]), float(u["lat"]))), u["code"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_other_seeds_keep_the_invariants(tmp_path, seed):
    generate_region(tmp_path, seed=seed)
    units = _units(tmp_path)
    shapes = _shapes(tmp_path)
    levels = Counter(u["level"] for u in units)
    assert levels["city"] == 1 and levels["county"] == 4
    assert 36 <= levels["township"] <= 44 and 400 <= levels["village"] <= 600
    for u in units:
        if u["level"] == "village":
            assert shapes[u["parent_code"]][1].contains(Point(float(u["lon"]), float(u["lat"]))), u["code"]


def test_registry_loads_the_files(region, tmp_path):
    con = connect(tmp_path / "t.duckdb")
    try:
        load_registry(con, [region / "units.csv"], geojson=region / "boundaries.geojson", actor=ADMIN)
        got = dict(con.execute("SELECT level, count(*) FROM units GROUP BY level").fetchall())
        assert got == {"city": 1, "county": 4, "township": 41, "village": 514}
        n_shapes = con.execute("SELECT count(*) FROM unit_shapes").fetchone()[0]
        assert n_shapes == 1 + 4 + 41  # the city, its counties and townships have boundaries
        city = con.execute("SELECT population, elderly_population FROM units WHERE code = '439900000000'").fetchone()
        assert city == (976717, 245548)
        # committee types from the codes: 30 居委会 (社区) — 17 in the 街道, 13 in 镇 (4 in the county
        # seats, 9 town-seat 居委会) — and 484 村委会
        types = dict(con.execute("SELECT committee_type, count(*) FROM units WHERE level = 'village' "
                                 "GROUP BY 1").fetchall())
        assert types == {"居委会": 30, "村委会": 484}
        in_towns = con.execute("SELECT count(*) FROM units v JOIN units t ON t.code = v.parent_code "
                               "WHERE v.committee_type = '居委会' AND t.name LIKE '%镇'").fetchone()[0]
        assert in_towns == 13
    finally:
        con.close()


def test_town_seat_communities(region):
    """About half of the 镇 other than a county seat have one town-seat 居委会 (镇区社区, suffix 001),
    the rest of their units being 村 (suffix 200+); 乡 have none."""
    units = _units(region)
    towns = {u["code"]: u["name"] for u in units if u["level"] == "township"}
    comm = Counter(u["parent_code"] for u in units if u["level"] == "village" and int(u["code"][9:]) < 200)
    zhen = [c for c, n in towns.items() if n.endswith("镇")]
    with_one = [c for c in zhen if comm[c] == 1]
    assert len(with_one) >= 8 and all(comm[c] == 0 for c, n in towns.items() if n.endswith("乡"))
    for c in with_one:
        assert f"{c[:9]}001" in {u["code"] for u in units}
