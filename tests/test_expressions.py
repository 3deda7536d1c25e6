"""The expression language: SQL and Python evaluation agree, NULLs included."""
from __future__ import annotations

import random

import duckdb
import pytest

from pipelines.catalog.definitions import catalog
from pipelines.store.db import SQL_TYPES
from pipelines.catalog.expressions import ExpressionError, compile_expression


def _random_row(fields: dict, rng: random.Random) -> dict:
    row = {}
    for fid, spec in fields.items():
        t = spec["type"]
        if rng.random() < 0.15 or t in ("date", "text", "code"):
            row[fid] = None
        elif t == "int":
            row[fid] = rng.randint(0, 12)
        elif t == "number":
            row[fid] = rng.choice([0.0, 1.5, 10.0, 600.0])
        elif t == "bool":
            row[fid] = rng.choice([True, False])
        else:
            row[fid] = rng.choice(spec["values"])
    return row


@pytest.mark.parametrize("sheet", ["village", "township"])
@pytest.mark.slow
def test_python_evaluation_matches_duckdb(sheet):
    cat = catalog()
    fields = cat.sheets[sheet].field_map
    exprs = [r.compiled_check or r.compiled_when for r in cat.rules if r.sheet == sheet]
    exprs += [c for i in cat.indicators.values() if i.source == sheet for c in i.compiled.values()]
    exprs += [compile_expression(e, fields) for e in (
        ["elderly_population <= max(population_registered, population_resident)",
         "0 < burials <= eco_burials", "not (has_elder_association or flag_poor)",
         "platform_service_area_m2 / platform_area_m2 * 100 > 50"] if sheet == "village" else
        ["party_members_under_35 / party_members", "not has_sw_station and demo_town_level != '无'"])]
    con = duckdb.connect()
    cols = ", ".join(f'"{k}" {SQL_TYPES[v["type"]]}' for k, v in fields.items())
    con.execute(f"CREATE TABLE r ({cols})")
    rng = random.Random(7)
    for _ in range(150):
        row = _random_row(fields, rng)
        con.execute("DELETE FROM r")
        con.execute(f"INSERT INTO r VALUES ({', '.join('?' for _ in fields)})", [row[k] for k in fields])
        for e in exprs:
            got = e.evaluate(row)
            want = con.execute(f"SELECT {e.sql} FROM r", list(e.params)).fetchone()[0]
            if isinstance(want, float) and got is not None:
                assert got == pytest.approx(want), e.source
            else:
                assert got == want, (e.source, row)


def test_constants_are_bound_never_inlined():
    fields = catalog().sheets["village"].field_map
    c = compile_expression("community_type in ('完善型', '示范型') and households > 100", fields)
    assert "完善型" not in c.sql and "100" not in c.sql
    assert c.params == ("完善型", "示范型", 100)


@pytest.mark.parametrize("expr, fragment", [
    ("os.system('x')", "max"), ("open('f')", "max"), ("households ** 2", "+ - * /"),
    ("unknown_field > 1", "未知字段"), ("demo_village_level == '省级'", "没有取值"),
    ("households > '3'", "不能比较"), ("1 < 2 < households", "中间只能是字段"), ("lambda: 1", "不允许"),
])
def test_anything_outside_the_language_is_refused(expr, fragment):
    with pytest.raises(ExpressionError) as info:
        compile_expression(expr, catalog().sheets["village"].field_map)
    assert fragment in str(info.value)
