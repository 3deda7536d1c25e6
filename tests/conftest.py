"""Shared pytest fixtures: a fresh database and the optional real registry data."""
from __future__ import annotations

import os
from pathlib import Path

import openpyxl
import pytest

from pipelines.store.db import connect

# Pages run in this process (AppTest) start no ingest worker: the tests that upload run one themselves
# (drain_queue); dashboard servers started by the tests (pipelines.bench.dashboard.streamlit_server) do.
os.environ["RURAL_TARGETS_WORKER"] = "off"


@pytest.fixture
def tmp_db(tmp_path):
    """A fresh DuckDB connection (schema created) on a file in tmp_path."""
    con = connect(tmp_path / "t.duckdb")
    yield con
    con.close()


@pytest.fixture
def shared_data() -> Path:
    """../shared/data (real NBS registry files); skips the test when it is absent."""
    path = Path(__file__).resolve().parents[2] / "shared" / "data"
    if not path.is_dir():
        pytest.skip("../shared/data 不存在:跳过真实名录测试")
    return path


# ---------------------------------------------------------------- the dashboard's sample database

@pytest.fixture(scope="session")
def sample_db_file(tmp_path_factory) -> Path:
    """The sample database (`rural-targets init`: the sample city and its returns 2018Q4–2025Q4),
    built once per test session into a temporary file; tests copy it (``dash_db``).

    ``RURAL_TARGETS_TEST_SAMPLE_DB`` may name an already built sample database to copy instead
    (a development shortcut; CI always builds it).
    """
    import os
    import shutil

    from pipelines.samples.init import init_database

    path = tmp_path_factory.mktemp("sample-db") / "sample.duckdb"
    prebuilt = os.environ.get("RURAL_TARGETS_TEST_SAMPLE_DB")
    if prebuilt and Path(prebuilt).is_file() and not os.environ.get("CI"):
        shutil.copyfile(prebuilt, path)
        demo = Path(prebuilt).parent / "demo-accounts.txt"
        if demo.is_file():
            shutil.copyfile(demo, path.parent / demo.name)
        return path
    con = connect(path)
    try:
        report = init_database(con, progress=False)
    finally:
        con.close()
    assert report.get("rejected", 0) == 0, report
    return path


@pytest.fixture
def dash_db(sample_db_file, tmp_path, monkeypatch) -> Path:
    """A private copy of the sample database, named by $RURAL_TARGETS_DB for the dashboard."""
    import shutil

    from pipelines.store.db import ENV_VAR

    path = tmp_path / "dash.duckdb"
    shutil.copyfile(sample_db_file, path)
    monkeypatch.setenv(ENV_VAR, str(path))
    monkeypatch.setenv("RURAL_TARGETS_WORKER", "off")      # the tests run the ingest worker themselves (drain_queue)
    return path


def as_account(monkeypatch, path: Path, name: str = "admin"):
    """Sign the dashboard's queries in as the account ``name`` of the database ``path`` (the ingest worker
    acts for accounts only, as they are when it stores the file)."""
    from dashboard import queries
    from pipelines.access.accounts import get_user
    from pipelines.store import db

    con = db.connect(path, read_only=True)
    try:
        user = get_user(con, name)
    finally:
        con.close()
    monkeypatch.setattr(queries, "user", lambda: user)
    return user


def drain_queue(path: Path) -> dict:
    """Run the ingest worker of the database ``path`` until its upload queue is empty (what the worker
    the dashboard starts does in the background)."""
    from pipelines.ingest.serve import run

    return run(str(path), once=True)


def pytest_collection_modifyitems(config, items):
    """A test that needs the sample database (``sample_db_file``, built by ``rural-targets init``: about a
    minute on this 2-core machine, longer when the sample returns are generated first) is slow:
    ``python -m pytest -m "not slow"`` leaves it out, the default run keeps it."""
    for item in items:
        if "sample_db_file" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


def unlock_for_upload(path: Path, township: str, period: str) -> None:
    """Unlock the approved sample return of ``township`` and ``period`` in the database at ``path`` (as
    its county would), so that a test may upload another version."""
    from pipelines.access.review import unlock
    from pipelines.access.roles import local_admin

    con = connect(path)
    try:
        row = con.execute("SELECT id FROM submissions WHERE township_code = ? AND period = ? AND status = 'active' "
                          "AND review_status = 'approved'", [township, period]).fetchone()
        if row:
            unlock(con, local_admin("测试管理员"), row[0], "测试:允许重新上传")
    finally:
        con.close()


def changed_copy(src: Path, target: Path) -> Path:
    """``src`` with one village number changed (another file for the same township and quarter)."""
    wb = openpyxl.load_workbook(src)
    ws = next(w for w in wb.worksheets if "村级" in w.title)
    for row in ws.iter_rows():
        if not any(isinstance(c.value, str) and c.value.isdigit() and len(c.value) == 12 for c in row):
            continue                                # not a village's row
        for cell in row:
            if isinstance(cell.value, int) and not isinstance(cell.value, bool) and 0 < cell.value < 50:
                cell.value = cell.value + 1
                wb.save(target)
                return target
    raise AssertionError(f"no small whole number in a village row of {src.name}")
