"""A tiny run of ``rural-targets bench progress``: it runs end to end and reports its figures (no timing asserted)."""
from __future__ import annotations

import pipelines.bench.progress as bench


def test_bench_progress_smoke(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "CACHE", tmp_path / "bench")
    result = bench.bench_progress(provinces=1, cities=1, counties=1, progress=False, workdir=tmp_path / "run")
    assert result["villages"] > 0 and result["periods"] == 12
    assert result["statuses"] > result["progress_rows"] > 0 and result["baseline_statuses"] > 0
    assert result["ours_s"] > 0 and result["baseline_s"] > 0
    assert result["ratio"] == round(result["baseline_s"] / result["ours_s"], 1)
    assert result["county_rows"] > 0 and result["county_ms"] > 0 and result["peak_mb"] > 0
