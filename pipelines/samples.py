"""The bundled sample data: building a database from data/samples/ (``rural-targets init``)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import duckdb

from .catalog import ROOT

SAMPLES_DIR = ROOT / "data" / "samples"
REGION_DIR = SAMPLES_DIR / "region"
SAMPLE_CITY = "439900000000"


def _say(progress: bool, text: str) -> None:
    if progress:
        print(text, file=sys.stderr, flush=True)


def init_database(con: duckdb.DuckDBPyConnection, progress: bool = True) -> dict[str, Any]:
    """Load the sample region's registry and boundaries into ``con``. Safe to run again."""
    from .registry import load_registry

    _say(progress, "导入示例市区划与边界 …")
    report = load_registry(con, [REGION_DIR / "units.csv"], geojson=REGION_DIR / "boundaries.geojson")
    return {"region": SAMPLE_CITY, **report}
