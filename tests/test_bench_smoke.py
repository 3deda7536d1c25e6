"""A tiny run of each benchmark: it runs end to end and reports its figures (no timing asserted)."""
from __future__ import annotations

import pytest

import pipelines.bench.ingest as bench


def test_bench_ingest_smoke(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "CACHE", tmp_path / "bench")
    result = bench.bench_ingest(limit=4, workdir=tmp_path / "run")
    assert result["files"] == 4 and result["rows"] > 0
    assert result["ours_s"] > 0 and result["baseline_s"] > 0
    assert result["ratio"] == pytest.approx(result["baseline_s"] / result["ours_s"], rel=0.1)
    assert len(result["rss_mb_at_25_50_100pct"]) >= 2
