"""Shared pytest fixtures: a fresh database and the optional real registry data."""
from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.db import connect


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
