"""Smoke test of ``rural-targets bench concurrency`` (pipelines/bench/concurrency.py): a tiny run of
both queue modes and the baseline, checked for lost uploads and consistent figures."""
from __future__ import annotations

import json
import os

import pytest

from pipelines.bench import postgres
from pipelines.bench.concurrency import bench_concurrency, report_lines

pytestmark = pytest.mark.slow


def _modes() -> tuple[str, ...]:
    if postgres.postgres_bin() is None and not os.environ.get("CI"):
        return ("file",)          # no PostgreSQL here: the DuckLake side needs one (in CI it must run)
    return ("file", "ducklake")


def _consistent(stats: dict) -> None:
    assert stats["p50"] is not None and stats["p95"] is not None and stats["max"] is not None
    assert 0 < stats["p50"] <= stats["p95"] <= stats["max"]


def test_bench_concurrency_smoke(tmp_path):
    modes = _modes()
    result = bench_concurrency(clients=3, returns=6, readers=2, modes=modes, workdir=tmp_path, progress=False)
    json.dumps(result, ensure_ascii=False)        # JSON-serialisable, as --json prints it

    assert result["returns"] == 6 and result["clients"] == 3 and result["readers"] == 2
    assert set(result["modes"]) == set(modes)
    for mode, f in result["modes"].items():
        assert f["uploaded"] == 6, mode
        assert f["lost"] == 0, (mode, f)
        assert f["stored"] == f["uploaded"], (mode, f)
        assert f["unchanged"] == 0 and f["rejected"] == 0, (mode, f)
        assert f["active_ok"], (mode, f["active_missing"], f["active_doubled"])
        assert f["reads"] > 0 and f["read_errors"] == 0, (mode, f)
        assert f["crashed_processes"] == 0, (mode, f)
        assert sum(f["jobs_per_worker"].values()) == 6
        _consistent(f["latency_s"])
        _consistent(f["read_latency_s"])
        assert f["wall_s"] > 0 and f["returns_per_min"] > 0
        # an upload is stored before its client sees it done; the client's wait includes the worker's
        assert f["job_latency_s"]["max"] <= f["latency_s"]["max"] + 0.5
    assert result["modes"]["file"]["workers"] == 1
    if "ducklake" in modes:
        assert result["modes"]["ducklake"]["workers"] == 2

    base = result["baseline"]
    assert base["uploaded"] == 6
    assert base["stored"] + base["unchanged"] + base["rejected"] + base["bounced"] + base["errors"] == 6, base
    assert base["errors"] == 0, base["error_examples"]
    assert base["lost"] == base["bounced"]
    assert base["active_ok"]
    assert base["reads"] > 0

    lines = report_lines(result)
    text = "\n".join(lines)
    assert sum(line.startswith("对比") for line in lines) == len(modes)
    assert "基线" in text and "DuckDB 文件" in text and ("DuckLake(2" in text) == ("ducklake" in modes)
    assert result["ours_does"] in text and result["baseline_does"] in text
    if "ducklake" not in modes:
        pytest.skip("PostgreSQL is not installed: only the DuckDB-file side and the baseline ran")
