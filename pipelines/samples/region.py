"""A synthetic sample city (示例市) for offline maps, demos and tests.

Everything here is made up: names, codes, populations and boundaries come from a seeded
random generator, so the same seed always gives byte-identical files. The city is the root
of the hierarchy (its parent_code is the province 430000000000, which is not included):

    示例市 439900000000
      4 counties        4399xx000000   (one 区, two 县, one 县级市)
      9-11 townships    per county     (街道 001000…, 镇 100000…, 乡 200000…)
      8-16 villages     per township   (社区 001…, 村 200…): 社区 (居民委员会) in every 街道, in the
                        county seat 镇 and, as town-seat 居委会 (镇区社区), in about half of the other 镇

Geometry: the city is a noisy circle about 60 km across around (111.9 E, 28.9 N); counties
are Voronoi cells of 4 seed points clipped to it, townships Voronoi cells of seeds inside
their county, villages points inside their township. Only ``numpy.random.default_rng(seed)``
supplies randomness.
"""
from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPoint, Point, Polygon
from shapely.geometry.polygon import orient
from shapely.ops import voronoi_diagram

from pipelines.files import atomic_write

DEFAULT_SEED = 20181107
CITY_CODE = "439900000000"
CITY_NAME = "示例市"
PROVINCE_CODE = "430000000000"  # the city's parent; not generated, the city is the root of the files
CENTER_LON, CENTER_LAT = 111.9, 28.9
RADIUS_KM = 30.0
KM_PER_DEG_LAT = 110.57
KM_PER_DEG_LON = 111.32 * math.cos(math.radians(CENTER_LAT))
GRID = 1e-5  # boundaries are snapped to 5 decimals (about 1 m)

CSV_COLUMNS = ["code", "name", "parent_code", "level", "lon", "lat", "population", "elderly_population"]

# (county code digits 5-6, name suffix, number of 街道, range of 乡 counts)
COUNTY_KINDS = [("02", "区", 2, (0, 1)), ("21", "县", 0, (3, 5)), ("22", "县", 0, (3, 5)), ("81", "市", 2, (1, 3))]
# county stems picked to sound like county names without being real Hunan counties
COUNTY_STEMS = ["青溪", "云岭", "枫林", "鹤湾", "柳川", "碧泉", "梅溪", "凤岭", "丹枫", "白鹭", "松岗", "桐湾"]
STREET_STEMS = ["城东", "城西", "城南", "城北", "河洲", "朝阳", "望江", "凤鸣", "文昌", "丹桂", "月湖", "锦江"]
COMMUNITY_STEMS = ["新桥", "东街", "西街", "南门", "北门", "正街", "河街", "中心", "新华", "建设", "文化", "育才",
                   "朝阳", "花园", "滨河", "站前", "新城", "府前", "书院", "桂花", "红星", "胜利", "新风", "光明",
                   "和平", "民主", "迎宾", "学府", "东湖", "西湖", "沿河", "金桥"]
FIRST = list("青白石柳松桂兰云金清碧丹红黄长高平安永新东西南大龙凤鹤梅竹杨枫荷莲茶花马鹿双三五九福太"
             "和兴仁德光明富宝泉沙樟杉桑栗杏桃芦苏麻牛羊古官岳")
SECOND = list("溪塘桥湾坪冲岭山河港洲垸坡岗铺店口田林园湖峰坝堰渡岩垭庄寺坊台井潭滩嘴垱")
SURNAMES = list("王李张刘陈杨黄赵周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯邓曹彭曾肖田袁蒋蔡贺龚文向覃")


# ------------------------------------------------------------------ names

def _unique(rng: np.random.Generator, used: set[str], make) -> str:
    """Call ``make(rng)`` until it returns a name not in ``used``; record and return it."""
    for _ in range(10_000):
        name = make(rng)
        if name not in used:
            used.add(name)
            return name
    raise RuntimeError("name space exhausted")


def _stem2(rng: np.random.Generator) -> str:
    a, b = FIRST[rng.integers(len(FIRST))], SECOND[rng.integers(len(SECOND))]
    return a + b


def _village_stem(rng: np.random.Generator) -> str:
    u = rng.random()
    if u < 0.30:  # 周家湾
        return SURNAMES[rng.integers(len(SURNAMES))] + "家" + SECOND[rng.integers(len(SECOND))]
    if u < 0.40:  # 白沙洲
        stem = _stem2(rng) + SECOND[rng.integers(len(SECOND))]
        return stem if len(set(stem)) == 3 else _stem2(rng)
    return _stem2(rng)


def _population(rng: np.random.Generator, median: float, sigma: float, low: int = 600, high: int = 4500) -> int:
    """A lognormal draw, redrawn until it falls within [low, high]."""
    # kept by hand: numpy has no truncated lognormal (and scipy, which has, is not a dependency)
    while True:
        pop = round(rng.lognormal(math.log(median), sigma))
        if low <= pop <= high:
            return int(pop)


# ------------------------------------------------------------------ geometry

def _to_lonlat(geom):
    """Project a geometry from the local km frame to lon/lat."""
    # an equirectangular frame by hand: enough for a made-up city 60 km across (pyproj is not a dependency)
    return shapely.transform(geom, lambda xy: np.column_stack(
        [CENTER_LON + xy[:, 0] / KM_PER_DEG_LON, CENTER_LAT + xy[:, 1] / KM_PER_DEG_LAT]))


def _finish(geom_km) -> Polygon:
    """Project to lon/lat, snap to the 5-decimal grid and orient counter-clockwise."""
    g = shapely.set_precision(_to_lonlat(geom_km), GRID)
    if g.geom_type != "Polygon":
        raise ValueError(f"expected a Polygon, got {g.geom_type}")
    return orient(g, 1.0)


def city_outline(rng: np.random.Generator, vertices: int = 240) -> Polygon:
    """A noisy circle of radius ~RADIUS_KM km (local km frame, centred at 0,0)."""
    theta = np.linspace(0.0, 2 * np.pi, vertices, endpoint=False)
    r = np.ones_like(theta)
    for h in range(2, 13):
        amp = 0.16 / h ** 1.1 * rng.uniform(0.3, 1.0)
        r += amp * np.cos(h * theta + rng.uniform(0, 2 * np.pi))
    r *= RADIUS_KM
    return Polygon(np.column_stack([r * np.cos(theta), r * np.sin(theta)]))


def voronoi_cells(seeds: list[Point], clip: Polygon) -> list:
    """The Voronoi cell of each seed (in the seeds' order), clipped to ``clip``."""
    diagram = voronoi_diagram(MultiPoint(seeds), envelope=clip.buffer(50.0))
    # matched by hand: the cells come in no set order (ordered=True needs shapely 2.1; the floor is 2.0)
    cells = list(diagram.geoms)
    out = []
    for s in seeds:
        cell = next(c for c in cells if c.contains(s))
        out.append(cell.intersection(clip))
    return out


def _spread_points(rng: np.random.Generator, poly: Polygon, n: int, min_dist: float,
                   tries: int = 300) -> list[Point]:
    """``n`` random points inside ``poly`` at least ``min_dist`` apart (relaxed if crowded)."""
    # kept by hand: scipy's PoissonDisk samples a box, not a polygon (and scipy is not a dependency)
    minx, miny, maxx, maxy = poly.bounds
    shapely.prepare(poly)
    pts: list[Point] = []
    while len(pts) < n:
        for _ in range(tries):
            p = Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
            if poly.contains(p) and all(p.distance(q) >= min_dist for q in pts):
                pts.append(p)
                break
        else:
            min_dist *= 0.85
    return pts


def _round6(p: Point) -> tuple[float, float]:
    return round(p.x, 6), round(p.y, 6)


# ------------------------------------------------------------------ the region

def build_region(seed: int = DEFAULT_SEED) -> tuple[list[dict[str, Any]], dict[str, tuple[str, str, Polygon]]]:
    """Generate the sample city.

    Returns ``(units, shapes)``: ``units`` are rows with the CSV columns (sorted by code);
    ``shapes`` maps code -> (name, level, lon/lat polygon) for the city, counties and townships.
    """
    rng = np.random.default_rng(seed)
    units: list[dict[str, Any]] = []
    shapes: dict[str, tuple[str, str, Polygon]] = {}

    outline_km = city_outline(rng)
    city_poly = _finish(outline_km)
    shapes[CITY_CODE] = (CITY_NAME, "city", city_poly)

    # counties: the 区 near the centre, the others around it
    county_seeds = [Point(rng.uniform(-3, 3), rng.uniform(-3, 3))]
    base = rng.uniform(0, 2 * np.pi)
    for i in range(3):
        a = base + i * 2 * np.pi / 3 + rng.uniform(-0.3, 0.3)
        rad = rng.uniform(16, 21)
        county_seeds.append(Point(rad * np.cos(a), rad * np.sin(a)))
    county_cells = voronoi_cells(county_seeds, outline_km)

    stems = [COUNTY_STEMS[i] for i in rng.permutation(len(COUNTY_STEMS))[:4]]
    used_townships: set[str] = set()
    used_streets: set[str] = set()
    for (digits, suffix, n_streets, xiang_range), stem, cell_km, cseed in zip(COUNTY_KINDS, stems, county_cells,
                                                                               county_seeds):
        county_code = CITY_CODE[:4] + digits + "000000"
        county_name = stem + suffix
        shapes[county_code] = (county_name, "county", _finish(cell_km))
        county_row = {"code": county_code, "name": county_name, "parent_code": CITY_CODE, "level": "county"}
        units.append(county_row)

        # township seeds: redraw until every clipped cell is a single polygon
        n_town = int(rng.integers(9, 12))
        inner = cell_km.buffer(-1.0)
        for _attempt in range(50):
            tseeds = _spread_points(rng, inner, n_town, 0.8 * math.sqrt(inner.area / n_town))
            cells = voronoi_cells(tseeds, cell_km)
            if all(c.geom_type == "Polygon" for c in cells):
                break
        else:  # pragma: no cover - never happens with sane outlines
            raise RuntimeError("could not cut the county into townships")
        # the seeds nearest the county seat become 街道 / the seat 镇; the farthest become 乡
        order = sorted(range(n_town), key=lambda i: tseeds[i].distance(cseed))
        n_xiang = int(rng.integers(xiang_range[0], xiang_range[1] + 1))
        kinds = ["街道"] * n_streets + ["镇"] * (n_town - n_streets - n_xiang) + ["乡"] * n_xiang
        counters = {"街道": 1, "镇": 100, "乡": 200}
        for rank, idx in enumerate(order):
            kind = kinds[rank]
            tcode = county_code[:6] + f"{counters[kind]:03d}" + "000"
            counters[kind] += 1
            if kind == "街道":
                tname = _unique(rng, used_streets, lambda r: STREET_STEMS[r.integers(len(STREET_STEMS))]) + "街道"
            else:
                tname = _unique(rng, used_townships, _stem2) + kind
            tpoly = _finish(cells[idx])
            shapes[tcode] = (tname, "township", tpoly)
            trow = {"code": tcode, "name": tname, "parent_code": county_code, "level": "township"}
            units.append(trow)
            is_seat = kind == "街道" or (kind == "镇" and rank == 0)
            units.extend(_villages(rng, tcode, tpoly, _to_lonlat(tseeds[idx]), kind, is_seat,
                                   np.random.default_rng([seed, int(tcode[:9])])))

    # centroids and sums for the polygons' units
    for row in units:
        if row["level"] != "village":
            rp = shapes[row["code"]][2].representative_point()
            row["lon"], row["lat"] = _round6(rp)
    city_row = {"code": CITY_CODE, "name": CITY_NAME, "parent_code": PROVINCE_CODE, "level": "city"}
    city_row["lon"], city_row["lat"] = _round6(city_poly.representative_point())
    units.append(city_row)
    units.sort(key=lambda r: r["code"])
    for level, child in (("township", "village"), ("county", "township"), ("city", "county")):
        for row in units:
            if row["level"] == level:
                kids = [u for u in units if u["level"] == child and u["parent_code"] == row["code"]]
                row["population"] = sum(k["population"] for k in kids)
                row["elderly_population"] = sum(k["elderly_population"] for k in kids)
    return units, shapes


def _villages(rng: np.random.Generator, tcode: str, tpoly: Polygon, seat: Point, kind: str,
              is_seat: bool, seat_rng: np.random.Generator) -> list[dict[str, Any]]:
    """The villages (村) and communities (社区) of one township, points inside ``tpoly``.

    Communities (居民委员会, codes 001–199) are the points nearest the township's seat: 3–6 in a
    街道, 1–3 in the county seat 镇, and one town-seat 居委会 (镇区社区) in about half of the other 镇
    (``_town_seat_community``); villages (村民委员会) are numbered from 200 (the NBS coding rule)."""
    n = int(rng.integers(8, 17))
    if kind == "街道":
        n_comm = int(rng.integers(3, 7))
    elif is_seat:
        n_comm = int(rng.integers(1, 4))
    else:
        n_comm = 0
    inner = tpoly.buffer(-0.004)
    if inner.is_empty or inner.area < tpoly.area * 0.2:
        inner = tpoly.buffer(-0.001)
    pts = _spread_points(rng, inner, n, 0.5 * math.sqrt(inner.area / n))
    pts.sort(key=lambda p: (p.distance(seat), p.x, p.y))
    used: set[str] = set()
    rows = []
    for i, p in enumerate(pts):
        community = i < n_comm
        if community:
            code = tcode[:9] + f"{i + 1:03d}"
            name = _unique(rng, used, lambda r: COMMUNITY_STEMS[r.integers(len(COMMUNITY_STEMS))]) + "社区"
            pop = _population(rng, 2600, 0.35)
            share = rng.uniform(0.18, 0.24)
        else:
            code = tcode[:9] + f"{200 + i - n_comm:03d}"
            name = _unique(rng, used, _village_stem) + "村"
            pop = _population(rng, 1700, 0.45)
            share = rng.uniform(0.21, 0.30)
        elderly = min(max(round(pop * share), math.ceil(pop * 0.18)), math.floor(pop * 0.30))
        lon, lat = _round6(p)
        assert tpoly.contains(Point(lon, lat)), code
        rows.append({"code": code, "name": name, "parent_code": tcode, "level": "village",
                     "lon": lon, "lat": lat, "population": pop, "elderly_population": elderly})
    if kind == "镇" and not is_seat:
        _town_seat_community(seat_rng, rows, used)
    return rows


def _town_seat_community(rng: np.random.Generator, rows: list[dict[str, Any]], used: set[str]) -> None:
    """In about half of the 镇 other than the county seat, the village nearest the township's seat is
    its 集镇 instead: a town-seat 居委会 (镇区社区, code suffix 001) with a community's name and size.

    Drawn from the township's own generator (``seat_rng``), so that the city's stream — and every
    other unit of the region — is the same with or without the town-seat communities."""
    if not rows or rng.random() >= 0.5:
        return
    row = rows[0]                                    # the point nearest the seat
    row["code"] = row["parent_code"][:9] + "001"
    used.discard(row["name"])
    row["name"] = _unique(rng, used, lambda r: COMMUNITY_STEMS[r.integers(len(COMMUNITY_STEMS))]) + "社区"
    pop = _population(rng, 2300, 0.3)
    share = rng.uniform(0.18, 0.24)
    row["population"] = pop
    row["elderly_population"] = min(max(round(pop * share), math.ceil(pop * 0.18)), math.floor(pop * 0.30))


# ------------------------------------------------------------------ files

def units_csv(units: list[dict[str, Any]]) -> str:
    """The text of units.csv."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for u in units:
        w.writerow([u["code"], u["name"], u["parent_code"], u["level"], f"{u['lon']:.6f}", f"{u['lat']:.6f}",
                    u["population"], u["elderly_population"]])
    return buf.getvalue()


def boundaries_geojson(shapes: dict[str, tuple[str, str, Polygon]]) -> str:
    """The text of boundaries.geojson: one feature per line, sorted by code (so a regenerated
    file diffs line by line); the geometries as GEOS writes them (``shapely.to_geojson``)."""
    feats = []
    for code in sorted(shapes):
        name, level, poly = shapes[code]
        feats.append(json.dumps({"type": "Feature", "properties": {"code": code, "name": name, "level": level},
                                 "geometry": json.loads(shapely.to_geojson(poly))},
                                ensure_ascii=False, separators=(",", ":")))
    head = '{"type":"FeatureCollection","name":"示例市(合成数据 synthetic)","features":[\n'
    return head + ",\n".join(feats) + "\n]}\n"


def readme(units: list[dict[str, Any]], seed: int) -> str:
    """The text of README.md describing the generated files."""
    levels = Counter(u["level"] for u in units)
    kinds = Counter(u["name"][-2:] if u["name"].endswith("街道") else u["name"][-1]
                    for u in units if u["level"] == "township")
    comm = sum(1 for u in units if u["level"] == "village" and u["name"].endswith("社区"))
    town_names = {u["code"]: u["name"] for u in units if u["level"] == "township"}
    town_comm = sum(1 for u in units if u["level"] == "village" and u["name"].endswith("社区")
                    and town_names[u["parent_code"]].endswith("镇"))
    city = next(u for u in units if u["level"] == "city")
    return f"""# 示例市:合成的示例区划数据

**合成数据,非真实区划。** 名称、代码、人口和边界均由随机数生成,与任何真实地方无关,仅供离线演示地图和测试使用。

*Synthetic data, not a real administrative region: names, codes, populations and boundaries are randomly generated.*

## 生成方法

```
rural-targets sample region -o data/samples/region --seed {seed}
```

由 `pipelines/samples/region.py` 按固定随机种子 {seed} 生成(`numpy.random.default_rng`),同一种子总是生成逐字节相同的文件。
请勿手工编辑本目录;测试会将其与重新生成的结果逐字节比较。

- 市界:以东经 {CENTER_LON}°、北纬 {CENTER_LAT}° 为中心、直径约 60 km 的不规则圆;
- 区县:市界内 4 个种子点的 Voronoi 单元;乡镇:区县内种子点的 Voronoi 单元;
- 村(社区):乡镇边界内的随机点;人口为户籍人口(村 600–4500 人),60 岁以上老年人口占 18%–30%;上级单位人口为下级之和;
- 社区(居民委员会,代码末三位 001–199)位于街道、县城所在镇和约一半其他镇的镇区(镇区居委会),村(村民委员会)代码末三位从 200 起
  (国家统计局统计用区划代码的编码规则;`registry load` 据此判定 `committee_type`)。

## 文件

- `units.csv`:code,name,parent_code,level,lon,lat,population,elderly_population(UTF-8;市、区县、乡镇的经纬度为其边界内的代表点;
  示例市的上级代码为 {PROVINCE_CODE},该省级单位不包含在内);
- `boundaries.geojson`:市、区县、乡镇边界(properties: code, name, level;坐标保留 5 位小数)。

## 数量

| 层级 | 数量 |
|---|---|
| 市 city | {levels['city']} |
| 区县 county | {levels['county']} |
| 乡镇 township | {levels['township']}(街道 {kinds['街道']},镇 {kinds['镇']},乡 {kinds['乡']}) |
| 村、社区 village | {levels['village']}(社区 {comm},其中镇的镇区社区 {town_comm};村 {levels['village'] - comm}) |

户籍人口合计 {city['population']} 人,其中 60 岁以上 {city['elderly_population']} 人。
"""


def generate_region(out_dir: Path, seed: int = DEFAULT_SEED) -> list[Path]:
    """Write units.csv, boundaries.geojson and README.md of the sample city into ``out_dir``.

    Deterministic: the same seed gives byte-identical files. Returns the written paths.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    units, shapes = build_region(seed)
    files = {"units.csv": units_csv(units), "boundaries.geojson": boundaries_geojson(shapes),
             "README.md": readme(units, seed)}
    return [atomic_write(out_dir / name, text.encode("utf-8")) for name, text in files.items()]
