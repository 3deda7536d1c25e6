"""``rural-targets bench dashboard``: each dashboard page's first render and one control change,
measured with Streamlit's AppTest on a province-scale synthetic database.

The database (~30,000 villages in 14 cities, 140 counties and ~2,000 townships; 12 quarters of
returns, 2023Q1–2025Q4, about 3 % of them missing and some late; rectangular boundaries so the map
has polygons to draw) is generated with SQL into a DuckDB file cached under
data/generated/bench/ and reused while the generator and the catalog's fields are unchanged.

"First render" is a fresh session on a cold cache (every st.cache_data / st.cache_resource
emptied first), so it includes the page's queries; "change" is one control changed in that
session. One throwaway run first stands for the server's start (imports, the catalog's YAML,
Streamlit's component scan), which a page's render does not include. Targets: first render < 2 s, change < 0.5 s. A benchmark, not a test.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from pipelines.access.accounts import SESSION_COOKIE
from pipelines.access.roles import User, local_admin
from pipelines.catalog.definitions import catalog
from pipelines.compute.refresh import refresh
from pipelines.compute.stored import is_fresh
from pipelines.periods import period_bounds, quarters
from pipelines.resources import dashboard_app, generated_dir
from pipelines.store import db

CACHE = generated_dir("bench")
APP = dashboard_app()
BENCH_USER = User(name="bench", role="admin", unit=None, display_name="基准测试")   # pages are measured signed in
GENERATOR_VERSION = "2"
PERIODS = quarters("2023Q1", "2025Q4")
PROVINCE = "430000000000"
CITIES, COUNTIES, TOWNSHIPS = 14, 10, 14       # per province / city / county
VILLAGES = (10, 20)                           # per township, uniform: ~15 on average → ~30,000
FIRST_TARGET, CHANGE_TARGET = 0, 1


# ============================================================================ the synthetic province

def _key() -> str:
    cat = catalog()
    fields = "|".join(f"{k}:{f.id}:{f.type}" for k, s in sorted(cat.sheets.items()) for f in s.fields)
    return hashlib.sha256(f"{GENERATOR_VERSION}|{duckdb.__version__}|{fields}|{PERIODS}".encode()).hexdigest()[:12]


def province_db(scale: float = 1.0, refresh: bool = False) -> Path:
    """The synthetic province database, generated once (about half a minute) and cached.

    ``scale`` < 1 keeps that share of the counties per city (the smoke test uses a tiny one).
    """
    counties = max(1, round(COUNTIES * scale))
    cities = CITIES if scale >= 1 else max(1, round(CITIES * scale))
    path = CACHE / f"dashboard-{_key()}-{cities}x{counties}.duckdb"
    if path.exists() and not refresh:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".building{os.getpid()}")
    for p in (tmp, Path(str(tmp) + ".wal")):
        p.unlink(missing_ok=True)
    con = db.connect(tmp)
    try:
        _generate(con, cities, counties)
        con.execute("CHECKPOINT")
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        raise
    con.close()
    os.replace(tmp, path)
    return path


def _rect(x0: str, y0: str, w: str, h: str, n: int = 6) -> str:
    """SQL for a GeoJSON Polygon text: the rectangle (x0, y0, w, h), ``n`` points along each edge."""
    pts = []
    for i in range(n):
        pts.append((f"{x0} + {w} * {i / n}", y0))
    for i in range(n):
        pts.append((f"{x0} + {w}", f"{y0} + {h} * {i / n}"))
    for i in range(n):
        pts.append((f"{x0} + {w} * {1 - i / n}", f"{y0} + {h}"))
    for i in range(n):
        pts.append((x0, f"{y0} + {h} * {1 - i / n}"))
    pts.append(pts[0])
    coords = " || ',' || ".join(f"'[' || round({x}, 5) || ',' || round({y}, 5) || ']'" for x, y in pts)
    return f"""'{{"type":"Polygon","coordinates":[[' || {coords} || ']]}}'"""


def _generate(con: duckdb.DuckDBPyConnection, cities: int, counties: int) -> None:
    """Units, boundaries, submissions and values, all in SQL (setseed for repeatability)."""
    con.execute("SELECT setseed(0.42)")
    # -- units: a grid of cities (1° × 1°), counties (4 × 3 in a city), townships (4 × 4 in a county)
    con.execute(f"""
        CREATE TEMP TABLE g_city AS
        SELECT c, '43' || lpad(c::VARCHAR, 2, '0') || '00000000' AS code, '合成市' || c AS name,
               108.0 + ((c - 1) % 4) * 1.0 AS x, 25.0 + ((c - 1) // 4) * 1.0 AS y
        FROM (SELECT (i + 6) % {CITIES} + 1 AS c FROM range(0, {cities}) t(i))""")  # city 4307 (常德's code) first)
    con.execute(f"""
        CREATE TEMP TABLE g_county AS
        SELECT c.c, k, substr(c.code, 1, 4) || lpad(k::VARCHAR, 2, '0') || '000000' AS code,
               c.name || '合成县' || k AS name, c.code AS parent,
               c.x + ((k - 1) % 4) * 0.25 AS x, c.y + ((k - 1) // 4) * (1.0 / 3) AS y
        FROM g_city c, range(1, {counties + 1}) t(k)""")
    con.execute(f"""
        CREATE TEMP TABLE g_town AS
        SELECT k.code AS parent, substr(k.code, 1, 6) || lpad((100 + t)::VARCHAR, 3, '0') || '000' AS code,
               '合成镇' || k.c || '-' || k.k || '-' || t AS name,
               k.x + ((t - 1) % 4) * 0.0625 AS x, k.y + ((t - 1) // 4) * (1.0 / 12) AS y,
               {VILLAGES[0]} + floor(random() * {VILLAGES[1] - VILLAGES[0] + 1})::INTEGER AS nv,
               CASE WHEN random() < 0.15 THEN 1.5 WHEN random() < 0.6 THEN 1.0 WHEN random() < 0.8 THEN 0.6
                    ELSE 0.3 END AS pace
        FROM g_county k, range(1, {TOWNSHIPS + 1}) t(t)""")
    con.execute("""
        CREATE TEMP TABLE g_village AS
        SELECT t.code AS parent, substr(t.code, 1, 9) || lpad((200 + v)::VARCHAR, 3, '0') AS code,
               '合成村' || v AS name, t.x + 0.004 + random() * 0.0545 AS lon, t.y + 0.004 + random() * 0.075 AS lat,
               600 + floor(random() * 3900)::INTEGER AS pop, random() AS u, t.pace
        FROM g_town t, range(1, 21) r(v) WHERE v <= t.nv""")
    con.execute(f"""
        INSERT INTO units (code, name, level, parent_code, lon, lat, population, elderly_population, source)
        SELECT '{PROVINCE}', '合成省', 'province', NULL, 109.5, 26.5, NULL, NULL, 'bench'
        UNION ALL SELECT code, name, 'city', '{PROVINCE}', x + 0.5, y + 0.5, NULL, NULL, 'bench' FROM g_city
        UNION ALL SELECT code, name, 'county', parent, x + 0.125, y + 1.0 / 6, NULL, NULL, 'bench' FROM g_county
        UNION ALL SELECT code, name, 'township', parent, x + 0.03125, y + 1.0 / 24, NULL, NULL, 'bench' FROM g_town
        UNION ALL SELECT code, name, 'village', parent, lon, lat, pop, (pop * 0.22)::INTEGER, 'bench' FROM g_village""")
    con.execute(f"""
        INSERT INTO unit_shapes (code, geometry)
        SELECT code, {_rect('x', 'y', '1.0', '1.0')} FROM g_city
        UNION ALL SELECT code, {_rect('x', 'y', '0.25', '1.0 / 3')} FROM g_county
        UNION ALL SELECT code, {_rect('x', 'y', '0.0625', '1.0 / 12')} FROM g_town""")
    # population-weighted parents
    con.execute("""
        UPDATE units SET population = s.pop, elderly_population = s.eld
        FROM (SELECT parent_code AS code, sum(population) AS pop, sum(elderly_population) AS eld
              FROM units WHERE level = 'village' GROUP BY 1) s
        WHERE units.code = s.code""")

    # -- submissions: one per township and quarter; ~3 % missing, ~10 % late
    con.execute("CREATE TEMP TABLE g_period AS SELECT * FROM (VALUES "
                + ", ".join(f"({i}, '{p}', DATE '{period_bounds(p)[1].isoformat()}')" for i, p in enumerate(PERIODS))
                + ") v(q, period, qend)")
    con.execute("""
        CREATE TEMP TABLE g_sub AS
        SELECT row_number() OVER (ORDER BY p.q, t.code)::INTEGER AS id, t.code AS township_code, p.period, p.q,
               t.nv, t.pace, p.qend,
               CAST(p.qend AS TIMESTAMP) + INTERVAL 1 DAY * CASE WHEN random() < 0.9 THEN 1 + floor(random() * 14)
                                                                 ELSE 16 + floor(random() * 40) END
                                         + INTERVAL 1 HOUR * (8 + floor(random() * 9)) AS uploaded_at
        FROM g_town t, g_period p
        WHERE random() >= 0.03""")
    con.execute("""
        INSERT INTO submissions (id, township_code, period, file_name, file_kind, sha256, size_bytes, archive_path,
                                 template_version, uploaded_at, uploaded_by, status, superseded_by, village_rows,
                                 township_rows, warnings)
        SELECT id, township_code, period, township_code || '_' || period || '.xlsx', 'xlsx',
               md5(township_code || period) || md5(period || township_code), 40000, 'bench/none.xlsx', NULL,
               uploaded_at, 'bench', 'active', NULL, nv, 1, 0
        FROM g_sub""")
    top = con.execute("SELECT coalesce(max(id), 0) + 1 FROM submissions").fetchone()[0]
    con.execute(f"CREATE OR REPLACE SEQUENCE submission_seq START {int(top)}")  # uploads continue after them

    # -- values: every field of the village and township sheets, moving towards the targets
    cat = catalog()
    level = "least(1.0, (0.35 + s.pace * 0.06 * s.q) * (0.6 + 0.8 * v.u))"  # 0…1, grows with time
    vexpr = {}
    for f in cat.sheets["village"].fields:
        if f.id in db.VALUE_KEYS["village"]:
            continue
        vexpr[f.id] = _field_sql(f, level, "v.pop", "v.code", "v.name")
    cols = ", ".join(f'"{k}"' for k in vexpr)
    sel = ", ".join(f"{e} AS \"{k}\"" for k, e in vexpr.items())
    con.execute(f"""
        INSERT INTO village_values (submission_id, township_code, period, village_code, source_row, {cols})
        SELECT s.id, s.township_code, s.period, v.code, 5 + row_number() OVER (PARTITION BY s.id ORDER BY v.code),
               {sel}
        FROM g_sub s JOIN g_village v ON v.parent = s.township_code""")
    texpr = {}
    tlevel = "least(1.0, 0.3 + s.pace * 0.06 * s.q)"
    for f in cat.sheets["township"].fields:
        if f.id in db.VALUE_KEYS["township"]:
            continue
        texpr[f.id] = _field_sql(f, tlevel, "800", "s.township_code", "''", date_base="s.qend")
    cols = ", ".join(f'"{k}"' for k in texpr)
    sel = ", ".join(f"{e} AS \"{k}\"" for k, e in texpr.items())
    con.execute(f"""
        INSERT INTO township_values (submission_id, township_code, period, source_row, {cols})
        SELECT s.id, s.township_code, s.period, 6, {sel} FROM g_sub s""")
    for t in ("g_city", "g_county", "g_town", "g_village", "g_period", "g_sub"):
        con.execute(f"DROP TABLE {t}")


_COUNT_FIELDS = {  # int fields: (per-village maximum at full progress)
    "social_orgs": 13, "elder_care_beds": 40, "tekun_dependent": 8, "social_work_professionals": 4,
    "community_social_workers": 3, "reserve_secretary": 2, "reserve_cadre": 4, "reserve_activist": 6,
}


def _field_sql(f: Any, level: str, pop: str, code: str, name: str, date_base: str = "s.qend") -> str:
    """A SQL expression for field ``f`` of one row (constants only; nothing from outside)."""
    fid = f.id
    if fid in ("village_code", "township_code"):
        return code
    if fid == "village_name":
        return name
    if f.type == "bool":
        return f"random() < {level}"
    if f.type == "enum":
        vals = list(f.values or [])
        cases = " ".join(f"WHEN r < {(i + 1) / len(vals) * 0.9 + 0.1 * (i == len(vals) - 1)} THEN '{v}'"
                         for i, v in enumerate(vals[:-1]))
        return f"(SELECT CASE {cases} ELSE '{vals[-1]}' END FROM (SELECT random() * {level} AS r))"
    if f.type == "date":
        return f"CASE WHEN random() < {level} THEN {date_base} - INTERVAL 1 DAY * floor(random() * 60) END"
    if f.type == "text" or f.type == "code":
        return "NULL"
    if fid == "population_registered":
        return pop
    if fid == "population_resident":
        return f"({pop} * 0.9)::INTEGER"
    if fid in ("households", "rules_households_reached"):
        return f"({pop} / 3 * {'1' if fid == 'households' else level})::INTEGER"
    if fid in ("elderly_population",):
        return f"({pop} * 0.22)::INTEGER"
    if fid in ("volunteers",):
        return f"({pop} * 0.9 * 0.17 * {level})::INTEGER"
    if fid == "rules_surveyed":
        return "40"
    if fid == "rules_aware":
        return f"(40 * {level})::INTEGER"
    if fid == "tekun_dependent_cared":
        return f"(4 * {level})::INTEGER"
    if fid == "burials":
        return "2 + floor(random() * 6)::INTEGER"
    if fid == "eco_burials":
        return f"floor(2 * {level})::INTEGER"
    if fid == "platform_area_m2":
        return "400 + floor(random() * 400)"
    if fid == "platform_service_area_m2":
        return f"320 * {level}"
    if fid.startswith("party_members"):
        return {"party_members": "800", "party_members_under_35": "140", "party_members_college": f"(260 * {level})::INTEGER"}.get(fid, "100")
    if fid in _COUNT_FIELDS:
        return f"floor({_COUNT_FIELDS[fid]} * {level} + random())::INTEGER"
    if f.type == "int":
        return f"floor(10 * {level})::INTEGER"
    return f"100 * {level}"


# ============================================================================ measuring

@dataclass
class PageBench:
    page: str
    title: str
    change: str
    act: Callable[[Any], Any]


def _pages(ctx: dict[str, list[str]]) -> list[PageBench]:
    """Each page with the one control change measured on it (AppTest selects by value)."""
    def sidebar_county(at):
        return at.selectbox(key="county").select(ctx["counties"][0])  # from 全市 to its first county

    def target(key):
        return lambda at: at.selectbox(key=key).select(ctx["targets"][CHANGE_TARGET])

    return [
        PageBench("app_pages/overview.py", "总览", "截至季度改为上一季度",
                  lambda at: at.selectbox(key="asof").select(ctx["periods"][-2])),
        PageBench("app_pages/map.py", "进度地图", "换一个目标", target("map_target")),
        PageBench("app_pages/laggards.py", "后进名单", "换一个目标",
                  lambda at: at.multiselect(key="lag_targets").set_value([ctx["targets"][CHANGE_TARGET]])),
        PageBench("app_pages/trends.py", "趋势", "换一个目标", target("trend_target")),
        PageBench("app_pages/upload.py", "数据上报", "侧栏选一个区县", sidebar_county),
        PageBench("app_pages/completeness.py", "报送情况", "侧栏选一个区县", sidebar_county),
        PageBench("app_pages/milestones.py", "任务督办", "侧栏选一个区县", sidebar_county),
        PageBench("app_pages/catalog.py", "目标目录", "换一个规划",
                  lambda at: at.selectbox(key="plan").select(ctx["plans"][1])),
        PageBench("app_pages/region.py", "区划名录", "换一个区县",
                  lambda at: at.selectbox(key="region_county").select(ctx["all_counties"][-1])),
    ]


def _clear_caches() -> None:
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()


# ============================================================================ first paint in a real browser

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# page → (url path, the page's main element as a CSS selector, text it must contain, what it is)
PAINTED: dict[str, tuple[str, str, str | None, str]] = {
    "app_pages/overview.py": ("", '[data-testid="stMain"] button', "查看详情", "目标卡片"),
    "app_pages/map.py": ("map", '[data-testid="stDeckGlJsonChart"] canvas', None, "地图"),
    "app_pages/laggards.py": ("laggards", '[data-testid="stDataFrame"] canvas', None, "排名表"),
    "app_pages/trends.py": ("trends", '[data-testid="stPlotlyChart"] .main-svg', None, "趋势图"),
    "app_pages/upload.py": ("upload", '[data-testid="stFileUploaderDropzone"]', None, "上传框"),
    "app_pages/completeness.py": ("completeness", '[data-testid="stDataFrame"] canvas', None, "报送矩阵"),
    "app_pages/milestones.py": ("milestones", '[data-testid="stDataFrame"] canvas', None, "任务清单"),
    "app_pages/catalog.py": ("catalog", '[data-testid="stDataFrame"] canvas', None, "目标表"),
    "app_pages/region.py": ("region", '[data-testid="stDataFrame"] canvas', None, "名录表"),
}
# true (as the time since navigation started, in ms) once the page's title, its main element (visible,
# with its text) are there and the app no longer runs (no "Running" status widget)
_PAINTED_JS = """([title, selector, text]) => {
    if (document.querySelector('[data-testid="stStatusWidget"]')) return false;
    const main = document.querySelector('[data-testid="stMain"]');
    if (!main || ![...main.querySelectorAll('h1')].some(h => h.textContent.includes(title))) return false;
    const shown = [...document.querySelectorAll(selector)].some(e =>
        e.checkVisibility({visibilityProperty: true, opacityProperty: true})
        && e.getBoundingClientRect().width > 0 && e.getBoundingClientRect().height > 0
        && (!text || e.textContent.includes(text)));
    return shown ? performance.now() : false;
}"""


def browser_unavailable() -> str | None:
    """Why the browser measurement cannot run here (None when Chromium and Playwright are there)."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} 不存在(apt-get install chromium fonts-noto-cjk)"
    try:
        import playwright.sync_api  # noqa: F401 - only whether it is installed
    except ImportError:
        return "未安装 playwright(pip install playwright;不要运行 playwright install)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(db_path: Path, log: Path, timeout_s: float = 120) -> Iterator[str]:
    """``streamlit run dashboard/app.py`` on 127.0.0.1 (a free port) on ``db_path``; yields its base URL.

    The developer toolbar is on so that the app's own "Clear caches" (key c) can empty the caches
    between pages; the process group started here is ended on exit."""
    port = _free_port()
    env = {**os.environ, db.ENV_VAR: str(db_path), "PYTHONUNBUFFERED": "1", "RURAL_TARGETS_WORKER": "on"}
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
             "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
             "--client.toolbarMode", "developer"],
            cwd=APP.parent.parent, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                try:
                    with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("streamlit 未能启动:\n" + log.read_text(errors="replace")[-2000:])
                time.sleep(0.3)
            yield base
        finally:
            os.killpg(proc.pid, signal.SIGTERM)  # the process group started above
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _wait_painted(page: Any, title: str, selector: str, text: str | None, timeout_s: float) -> float | None:
    """Milliseconds from navigation start to the painted page (None on timeout)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        return float(page.wait_for_function(_PAINTED_JS, arg=[title, selector, text], polling="raf",
                                            timeout=timeout_s * 1000).json_value())
    except PlaywrightTimeout:
        return None


def _settle(page: Any, timeout_s: float) -> None:
    page.wait_for_selector('[data-testid="stMain"] h1', timeout=timeout_s * 1000)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
                           timeout=timeout_s * 1000)


def _signed_in_context(browser: Any, base: str, token: str) -> Any:
    """A new browser context carrying the bench account's session cookie (a signed-in user)."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    ctx.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": base}])
    return ctx


def bench_session(db_path: Path) -> str:
    """A session token of a ``bench`` admin account in ``db_path`` (created with a random password)."""
    from pipelines.access.accounts import add_user, new_password, open_session

    con = db.connect(db_path)
    try:
        if con.execute("SELECT count(*) FROM users WHERE name = 'bench'").fetchone()[0] == 0:
            add_user(con, local_admin("bench"), "bench", "admin", None, new_password(), "基准测试")
        return open_session(con, BENCH_USER)
    finally:
        con.close()


def _clear_server_caches(browser: Any, base: str, query: str, timeout_s: float, token: str) -> None:
    """Empty the server's st.cache_data / st.cache_resource with the app's own "Clear caches" (key c)."""
    ctx = _signed_in_context(browser, base, token)
    try:
        page = ctx.new_page()
        page.goto(f"{base}/catalog{query}")
        _settle(page, timeout_s)
        page.keyboard.press("c")
        page.get_by_role("button", name="Clear caches").click(timeout=timeout_s * 1000)
        page.get_by_role("dialog").wait_for(state="detached", timeout=timeout_s * 1000)
        page.wait_for_timeout(300)
    finally:
        ctx.close()


def browser_first_paint(db_path: Path, pages: list[str] | None = None, plan: str | None = None,
                        city: str | None = None, cold: bool = True, timeout_s: float = 120) -> dict[str, Any]:
    """Time to first meaningful paint of each page in Chromium (Playwright), on ``db_path``.

    One `streamlit run` server; one throwaway visit first stands for its start. For each page
    (``pages``: keys of PAINTED; all by default): the server's caches emptied (``cold``), then a new
    browser context opens the page's URL (with ``plan`` and ``city`` in its query, as a shared link
    would) and the time from navigation start to the page's title and main element visible with the
    app no longer running is read in the page (performance.now()); then the same page is opened again
    in that context ("warm": server caches and browser cache filled).

    Returns {"pages": [{page, url, element, paint_s, warm_paint_s, found, problem}], "cold": cold}.
    """
    from playwright.sync_api import sync_playwright

    params = {k: v for k, v in (("plan", plan), ("city", city)) if v}
    query = ("?" + urllib.parse.urlencode(params)) if params else ""
    titles = {pb.page: pb.title for pb in _pages({})}
    out = []
    log = Path(tempfile.mkdtemp(prefix="bench-browser-")) / "streamlit.log"
    token = bench_session(db_path)
    try:
        with streamlit_server(db_path, log, timeout_s) as base, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
            try:
                ctx = _signed_in_context(browser, base, token)
                ctx.new_page().goto(f"{base}/{query}")  # the server's start: imports, the first script run
                _settle(ctx.pages[0], timeout_s)
                ctx.close()
                for page_path in pages or list(PAINTED):
                    url, selector, text, what = PAINTED[page_path]
                    if cold:
                        _clear_server_caches(browser, base, query, timeout_s, token)
                    ctx = _signed_in_context(browser, base, token)
                    try:
                        page = ctx.new_page()
                        page.goto(f"{base}/{url}{query}", wait_until="commit")
                        first = _wait_painted(page, titles[page_path], selector, text, timeout_s)
                        warm = None
                        if first is not None:
                            page.goto(f"{base}/{url}{query}", wait_until="commit")
                            warm = _wait_painted(page, titles[page_path], selector, text, timeout_s)
                    finally:
                        ctx.close()
                    out.append({"page": page_path, "url": f"/{url}", "element": what,
                                "paint_s": None if first is None else round(first / 1000, 3),
                                "warm_paint_s": None if warm is None else round(warm / 1000, 3),
                                "found": first is not None,
                                "problem": None if first is not None else f"{timeout_s:g} 秒内未见{what}"})
            finally:
                browser.close()
    finally:
        shutil.rmtree(log.parent, ignore_errors=True)
    return {"pages": out, "cold": cold}


def bench_dashboard(scale: float = 1.0, plan: str = "changde-2018", repeat: int = 1,
                    live: bool = False, browser: bool | None = None) -> dict[str, Any]:
    """Time every page: first render (cold caches, fresh session) and one control change with
    AppTest, and the time to first meaningful paint in Chromium (``browser_first_paint``).

    ``browser``: None measures in the browser when Chromium and Playwright are there (and says why
    not otherwise), False skips it (``--no-browser``), True requires it.

    Progress is read from the stored tables (pipelines.compute.stored) (refreshed first if stale: ``refresh_s``),
    as after any ingest; ``live`` makes every page compute it instead (the stored tables are
    never refreshed, and the pages see them as stale).

    Returns {"database", "villages", "townships", "periods", "progress": "stored" | "computed",
    "refresh_s", "pages": [{page, title, first_s, change_s, change, ok, problems, paint_s, warm_paint_s,
    paint_element, paint_found}], "browser": {"ran", "note"}, "targets": {...}}.
    """
    import streamlit.logger
    from streamlit.testing.v1 import AppTest

    streamlit.logger.set_log_level("error")
    path = province_db(scale)
    work = CACHE / f"run-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    run_db = work / "bench.duckdb"
    shutil.copyfile(path, run_db)  # the benchmark never writes into the cached file
    refresh_s = stored = None
    con = db.connect(run_db)
    try:
        if live:   # drop the stored tables' freshness: every page computes progress itself
            stored = False
        elif not is_fresh(con):
            t0 = time.perf_counter()
            refresh(con)           # what ingest leaves behind in normal use
            refresh_s = round(time.perf_counter() - t0, 3)
        stored = not live and is_fresh(con)
    finally:
        con.close()
    old = os.environ.get(db.ENV_VAR)
    os.environ[db.ENV_VAR] = str(run_db)
    con = duckdb.connect(str(run_db), read_only=True)
    try:
        villages, townships = con.execute(
            "SELECT count(*) FILTER (WHERE level = 'village'), count(*) FILTER (WHERE level = 'township') "
            "FROM units").fetchone()
        city = con.execute("SELECT min(code) FROM units WHERE level = 'city' AND starts_with(code, ?)",
                           [catalog().plan(plan).scope[:4]]).fetchone()[0] \
            or con.execute("SELECT min(code) FROM units WHERE level = 'city'").fetchone()[0]
        ctx = {
            "counties": [r[0] for r in con.execute(
                "SELECT code FROM units WHERE level = 'county' AND parent_code = ? ORDER BY code", [city]).fetchall()],
            "all_counties": [r[0] for r in con.execute(
                "SELECT code FROM units WHERE level = 'county' ORDER BY code").fetchall()],
            "periods": [r[0] for r in con.execute(
                "SELECT DISTINCT period FROM submissions ORDER BY period").fetchall()],
            "targets": [t.id for _, t in catalog().targets(plan)],
            "plans": [p for p in catalog().plans if p != plan],
        }
    finally:
        con.close()
    rows = []
    try:
        # the server's own start (imports, the catalog's YAML, Streamlit's component scan) is not a page's render
        warm = AppTest.from_file(str(APP), default_timeout=600)
        warm.session_state["user"] = BENCH_USER
        warm.run()
        for pb in _pages(ctx):
            firsts, changes, problems = [], [], []
            for _ in range(repeat):
                _clear_caches()
                at = AppTest.from_file(str(APP), default_timeout=600)
                at.session_state["user"] = BENCH_USER       # signed in: the pages, not the sign-in form
                at.session_state["plan"] = plan
                at.session_state["city"] = city
                at.switch_page(pb.page)
                t0 = time.perf_counter()
                at.run()
                firsts.append(time.perf_counter() - t0)
                problems += _problems(at)
                try:
                    widget = pb.act(at)
                except (KeyError, IndexError, ValueError) as exc:
                    problems.append(f"控件不存在:{exc}")
                    continue
                t0 = time.perf_counter()
                widget.run()
                changes.append(time.perf_counter() - t0)
                problems += _problems(at)
            rows.append({"page": pb.page, "title": pb.title, "change": pb.change,
                         "first_s": round(min(firsts), 3) if firsts else None,
                         "change_s": round(min(changes), 3) if changes else None,
                         "ok": not problems, "problems": problems[:3]})
        why_not = browser_unavailable() if browser is not False else "已用 --no-browser 跳过"
        if why_not and browser:
            raise RuntimeError(f"无法在浏览器中测量:{why_not}")
        painted = {}
        if not why_not:
            _clear_caches()  # this process's own cached connections to the database
            painted = {r["page"]: r for r in browser_first_paint(run_db, plan=plan, city=city)["pages"]}
        for r in rows:
            b = painted.get(r["page"], {})
            r.update(paint_s=b.get("paint_s"), warm_paint_s=b.get("warm_paint_s"), paint_element=b.get("element"),
                     paint_found=b.get("found"))
            if b and not b["found"]:
                r["ok"] = False
                r["problems"].append(b["problem"])
        browser_note = {"ran": not why_not, "note": why_not or "Chromium(Playwright),每页先清空服务器缓存,新浏览器上下文"}
    finally:
        if old is None:
            os.environ.pop(db.ENV_VAR, None)
        else:
            os.environ[db.ENV_VAR] = old
        shutil.rmtree(work, ignore_errors=True)
    return {"database": str(path), "villages": int(villages), "townships": int(townships), "periods": len(PERIODS),
            "plan": plan, "progress": "stored" if stored else "computed", "refresh_s": refresh_s, "pages": rows,
            "browser": browser_note, "targets": {"first_s": 2.0, "change_s": 0.5},
            "all_within_targets": all((r["first_s"] or 99) < 2.0 and (r["change_s"] or 99) < 0.5 for r in rows)}


def _problems(at: Any) -> list[str]:
    out = [f"异常:{e.message}" for e in at.exception]
    out += [f"错误:{e.value}" for e in at.error if "DSH001" in str(e.value) or "GEN002" in str(e.value)]
    return out


def report_lines(result: dict[str, Any]) -> list[str]:
    """The text report of ``bench_dashboard``'s result: per page the AppTest script times beside the
    browser's first meaningful paint (cold server caches, and warm)."""
    from pipelines.textwidth import text_width

    def pad(text: str, width: int) -> str:
        return text + " " * max(0, width - text_width(text))

    def sec(v: float | None) -> str:
        return "—" if v is None else f"{v:.3f}"

    source = ("读取已存储的进度表" + (f"(先刷新,用时 {result['refresh_s']} 秒)" if result["refresh_s"] else "")
              if result["progress"] == "stored" else "页面直接计算进度")
    lines = [(f"合成省:{result['villages']:,} 个村,{result['townships']:,} 个乡镇,{result['periods']} 个季度;"
              f"规划 {result['plan']};进度数据:{source}"),
             "AppTest:脚本运行时间(首次渲染为冷缓存、新会话;控件变更为同一会话中改一个控件)",
             ("浏览器首屏:" + result["browser"]["note"] + ";从开始导航到页面标题和主要内容可见、且不再显示“Running”"
              "(冷 = 服务器缓存已清空,热 = 同一浏览器再次打开)") if result["browser"]["ran"]
             else f"浏览器首屏:未测量({result['browser']['note']})"]
    width = max(text_width(r["title"]) for r in result["pages"])
    lines.append(f"{pad('页面', width)}  首次渲染  控件变更  浏览器首屏(冷)  浏览器首屏(热)  主要内容    变更内容")
    for r in result["pages"]:
        flag = "" if r["ok"] else "  问题:" + ";".join(r["problems"])
        lines.append(f"{pad(r['title'], width)}  {sec(r['first_s']):>8}  {sec(r['change_s']):>8}  "
                     f"{sec(r.get('paint_s')):>14}  {sec(r.get('warm_paint_s')):>14}  "
                     f"{pad(r.get('paint_element') or '—', 10)}  {r['change']}{flag}")
    lines.append(f"目标:首次渲染 < {result['targets']['first_s']} 秒,控件变更 < {result['targets']['change_s']} 秒;"
                 f"{'全部达到' if result['all_within_targets'] else '未全部达到'}(单位:秒)")
    return lines
