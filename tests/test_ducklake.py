"""Server mode on the real parts: a PostgreSQL started here (Debian's postgresql, initdb in a temporary
directory, a free port of 127.0.0.1), DuckLake through the extension packages, the CLI in separate
processes as on separate machines."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import changed_copy

from pipelines.bench.postgres import postgres_bin, temporary_postgres
from pipelines.samples.init import REGION_DIR
from pipelines.store import db

pytestmark = pytest.mark.slow
if postgres_bin() is None and not os.environ.get("CI"):
    pytest.skip("PostgreSQL is not installed here (apt-get install postgresql); CI installs it", allow_module_level=True)

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples" / "returns"
XLSX = sorted(SAMPLES.glob("*_2025Q4.xlsx"))            # ten townships' returns of one quarter


def cli(db_url: str, data: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """``rural-targets --db URL --data-path DATA ARGS`` in a process of its own."""
    env = {**os.environ, "RURAL_TARGETS_DB": "", "RURAL_TARGETS_DATA_PATH": ""}
    done = subprocess.run([sys.executable, "-m", "pipelines.cli.main", "--db", db_url, "--data-path", str(data), *args],
                          capture_output=True, text=True, env=env, timeout=900)
    if check:
        assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    """A DuckLake on a fresh PostgreSQL with the sample city's registry loaded (through the CLI)."""
    with temporary_postgres() as dsn:
        data = tmp_path_factory.mktemp("lake-data")
        url = f"ducklake:postgres:{dsn}"
        cli(url, data, "registry", "load", str(REGION_DIR / "units.csv"), "--geojson", str(REGION_DIR / "boundaries.geojson"))
        yield url, data


def _active(url: str, data: Path) -> list[dict]:
    return json.loads(cli(url, data, "submissions", "--json").stdout)


def test_registry_lands_in_the_lake_with_its_data_files_in_the_data_path(lake):
    url, data = lake
    units = json.loads(cli(url, data, "registry", "list", "--level", "township", "--json").stdout)
    assert len(units) == 41
    assert list(data.rglob("*.parquet")), "the DuckLake's data files are in --data-path"


def test_four_processes_ingest_at_once_and_every_file_is_stored(lake):
    url, data = lake
    files = XLSX[:4]
    assert len({f.name[:12] for f in files}) == 4
    env = {**os.environ, "RURAL_TARGETS_DB": "", "RURAL_TARGETS_DATA_PATH": ""}
    procs = [subprocess.Popen([sys.executable, "-m", "pipelines.cli.main", "--db", url, "--data-path", str(data),
                               "ingest", str(f), "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env) for f in files]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    reports = [json.loads(o[0])[0] for o in outs]
    assert [r["status"] for r in reports] == ["stored"] * 4
    ids = [r["submission_id"] for r in reports]
    assert len(set(ids)) == 4                       # ids from the counter: no two writers took the same
    active = {(s["township_code"], s["period"]) for s in _active(url, data)}
    assert {(f.name[:12], "2025Q4") for f in files} <= active
    assert all((data / "archive").rglob(f"*.{f.suffix[1:]}") for f in files)


def test_a_superseding_upload_racing_a_read_is_seen_whole_or_not_at_all(lake, tmp_path):
    url, data = lake
    first = XLSX[5]
    township = first.name[:12]
    cli(url, data, "ingest", str(first))
    second = changed_copy(first, tmp_path / first.name)
    seen: list[list] = []
    stop = threading.Event()

    def read() -> None:
        con = db.connect(url)
        try:
            while not stop.is_set():
                seen.append(con.execute("SELECT id, status FROM submissions WHERE township_code = ? AND period = '2025Q4' "
                                        "AND status = 'active'", [township]).fetchall())
        finally:
            con.close()

    os.environ["RURAL_TARGETS_DATA_PATH"] = str(data)
    reader = threading.Thread(target=read)
    reader.start()
    try:
        out = json.loads(cli(url, data, "ingest", str(second), "--json").stdout)[0]
    finally:
        stop.set()
        reader.join()
        del os.environ["RURAL_TARGETS_DATA_PATH"]
    assert out["status"] == "stored" and out["superseded"]
    assert seen and all(len(rows) == 1 for rows in seen)          # never none, never two active returns
    assert {rows[0][0] for rows in seen} <= {out["superseded"], out["submission_id"]}


def test_progress_in_the_lake_equals_file_mode_on_the_same_returns(lake, tmp_path, monkeypatch):
    url, data = lake
    cli(url, data, "ingest", *map(str, XLSX[6:8]))
    monkeypatch.setenv("RURAL_TARGETS_DATA_PATH", str(data))
    con = db.connect(url)
    try:             # the originals of the lake's active returns, from its archive in the data path
        archived = [data / "archive" / p for (p,) in con.execute(
            "SELECT archive_path FROM submissions WHERE status = 'active' ORDER BY id").fetchall()]
    finally:
        con.close()
    assert len(archived) >= 2 and all(p.is_file() for p in archived)
    fdb = tmp_path / "file.duckdb"
    env = {**os.environ, "RURAL_TARGETS_DB": "", "RURAL_TARGETS_DATA_PATH": ""}
    for args in (["registry", "load", str(REGION_DIR / "units.csv"), "--geojson", str(REGION_DIR / "boundaries.geojson")],
                 ["ingest", *map(str, archived)]):
        done = subprocess.run([sys.executable, "-m", "pipelines.cli.main", "--db", str(fdb), *args],
                              capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr[-2000:]
    for period in ("2025Q4", "2025Q3"):
        lake_rows = json.loads(cli(url, data, "progress", "--plan", "changde-2018", "--period", period, "--json").stdout)
        file_rows = json.loads(subprocess.run(
            [sys.executable, "-m", "pipelines.cli.main", "--db", str(fdb), "progress", "--plan", "changde-2018",
             "--period", period, "--json"], capture_output=True, text=True, check=True, env=env).stdout)
        assert lake_rows == file_rows and (len(lake_rows) > 100 or period != "2025Q4")


def test_the_worker_serves_the_lake_and_the_cli_goes_through_its_queue(lake, tmp_path):
    url, data = lake
    env = {**os.environ, "RURAL_TARGETS_DB": "", "RURAL_TARGETS_DATA_PATH": ""}
    workers = [subprocess.Popen([sys.executable, "-m", "pipelines.cli.main", "--db", url, "--data-path", str(data),
                                 "worker"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env) for _ in range(2)]
    try:
        from pipelines.ingest.queue import UploadQueue, queue_dir
        queue = UploadQueue(queue_dir(data))
        for _ in range(200):
            if len(queue.workers()) == 2:
                break
            threading.Event().wait(0.1)
        assert len(queue.workers()) == 2
        files = [str(f) for f in [*XLSX[8:10], next(SAMPLES.glob("*_2025Q4.xls"))]]
        done = cli(url, data, "ingest", *files, "--json")
        assert [r["status"] for r in json.loads(done.stdout)] == ["stored"] * len(files)
        finished = [j for j in queue.recent() if j.state == "done"]
        assert {j.worker.rsplit("-", 1)[0] for j in finished} and len(finished) == len(files)
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(timeout=30)


def test_maintain_backup_and_restore_of_the_lake(lake, tmp_path):
    url, data = lake
    before = {(s["township_code"], s["period"]) for s in _active(url, data)}
    out = json.loads(cli(url, data, "maintain", "--json").stdout)
    assert {"files_merged", "snapshots_expired", "old_files_deleted"} <= set(out)
    backup = Path(json.loads(cli(url, data, "backup", "-o", str(tmp_path / "lake.duckdb"), "--json").stdout)["backup"])
    assert backup.is_file()
    extra = next(SAMPLES.glob("*_GBK.csv"))
    cli(url, data, "ingest", str(extra))
    assert (extra.name[:12], "2025Q4") in {(s["township_code"], s["period"]) for s in _active(url, data)}
    restored = json.loads(cli(url, data, "restore", str(backup), "--json").stdout)
    assert "快照" in restored["kept"]
    assert {(s["township_code"], s["period"]) for s in _active(url, data)} == before
    bad = tmp_path / "not-a-db.duckdb"
    bad.write_bytes(b"garbage")
    refused = cli(url, data, "restore", str(bad), check=False)
    assert refused.returncode == 2 and "GEN006" in refused.stderr
    assert {(s["township_code"], s["period"]) for s in _active(url, data)} == before


def test_a_lake_without_its_data_path_or_postgres_says_what_to_do(tmp_path):
    env = {**os.environ, "RURAL_TARGETS_DB": "", "RURAL_TARGETS_DATA_PATH": ""}
    no_path = subprocess.run([sys.executable, "-m", "pipelines.cli.main", "--db", "ducklake:postgres:dbname=x host=127.0.0.1",
                              "submissions"], capture_output=True, text=True, env=env)
    assert no_path.returncode == 2 and "GEN007" in no_path.stderr and "--data-path" in no_path.stderr
    port = __import__("pipelines.bench.postgres", fromlist=["free_port"]).free_port()
    down = subprocess.run([sys.executable, "-m", "pipelines.cli.main", "--db",
                           f"ducklake:postgres:dbname=x host=127.0.0.1 port={port} user=postgres password=s3cret",
                           "--data-path", str(tmp_path), "submissions"], capture_output=True, text=True, env=env)
    assert down.returncode == 2 and "GEN009" in down.stderr and "PostgreSQL" in down.stderr
    assert "s3cret" not in down.stderr


def test_two_dashboard_servers_show_the_same_new_return(lake, tmp_path, monkeypatch):
    """Two `streamlit run` servers on the one DuckLake (as on two machines): a return uploaded through the
    first one's page (queued, stored by a worker) shows in the second one's 最近报送 and in the database."""
    from pipelines.bench.dashboard import browser_unavailable, streamlit_server

    reason = browser_unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"浏览器测试无法运行(CI 中不允许跳过):{reason}")
        pytest.skip(f"跳过浏览器测试:{reason}")
    from playwright.sync_api import sync_playwright

    from pipelines.bench.dashboard import CHROMIUM, LAUNCH_ARGS

    url, data = lake
    password = "Lake-test-2026!"
    done = subprocess.run([sys.executable, "-m", "pipelines.cli.main", "--db", url, "--data-path", str(data), "user",
                           "add", "lakeadmin", "--role", "admin", "--display", "湖管理员", "--password-stdin"],
                          input=password + "\n", capture_output=True, text=True,
                          env={**os.environ, "RURAL_TARGETS_DB": "", "RURAL_TARGETS_DATA_PATH": ""})
    assert done.returncode == 0, done.stderr
    upload = next(SAMPLES.glob("*_2025Q3.xls"))
    monkeypatch.setenv("RURAL_TARGETS_DATA_PATH", str(data))
    monkeypatch.delenv("RURAL_TARGETS_WORKER", raising=False)
    with streamlit_server(url, tmp_path / "one.log", timeout_s=90) as one, \
            streamlit_server(url, tmp_path / "two.log", timeout_s=90) as two, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        pages = []
        for base in (one, two):
            page = browser.new_context(viewport={"width": 1400, "height": 1400}, locale="zh-CN").new_page()
            page.goto(f"{base}/upload")
            page.get_by_label("用户名").fill("lakeadmin")
            page.get_by_label("密码").fill(password)
            page.get_by_role("button", name="登录").click()
            page.get_by_role("button", name="退出登录").wait_for(timeout=60000)
            page.get_by_role("heading", name="数据上报").wait_for(timeout=60000)
            pages.append(page)
        first, second = pages
        first.locator('[data-testid="stFileUploader"] input[type=file]').set_input_files(str(upload))
        first.get_by_role("button", name="确认导入 1 个文件").click(timeout=60000)
        first.get_by_text("处理完成").wait_for(timeout=180000)
        assert "已导入" in first.locator('[data-testid="stMain"]').inner_text()
        second.goto(f"{two}/upload?print=1")             # tables as static HTML, readable text
        second.get_by_role("tab", name="最近报送").click(timeout=60000)
        second.get_by_text(upload.name).first.wait_for(timeout=60000)
        shown = second.locator('[data-testid="stMain"]').inner_text()
        assert upload.name in shown
        second.screenshot(path=str(tmp_path / "second-server.png"), full_page=True)
        browser.close()
    active = {(s["township_code"], s["period"], s["file_name"]) for s in _active(url, data)}
    assert (upload.name[:12], "2025Q3", upload.name) in active


def test_init_on_a_lake_gives_the_progress_of_the_sample_database_file(sample_db_file, tmp_path):
    """`rural-targets --db ducklake:postgres:… --data-path DIR init`: the whole sample (1,154 returns, county
    sheets, tasks, approvals) in the DuckLake; its progress equals the same sample in a DuckDB file."""
    with temporary_postgres() as dsn:
        url, data = f"ducklake:postgres:{dsn}", tmp_path / "data"
        report = json.loads(cli(url, data, "init", "--json").stdout)
        assert report["rejected_files"] == [] and report["stored"] > 1000
        assert (data / "demo-accounts.txt").is_file() and (data / "archive").is_dir()
        env = {**os.environ, "RURAL_TARGETS_DB": "", "RURAL_TARGETS_DATA_PATH": ""}
        for period in ("2020Q3", "2025Q4"):
            lake_rows = json.loads(cli(url, data, "progress", "--plan", "changde-2018", "--period", period,
                                       "--json").stdout)
            file_rows = json.loads(subprocess.run(
                [sys.executable, "-m", "pipelines.cli.main", "--db", str(sample_db_file), "progress", "--plan",
                 "changde-2018", "--period", period, "--json"], capture_output=True, text=True, check=True,
                env=env).stdout)
            assert len(lake_rows) > 1000 and lake_rows == file_rows
