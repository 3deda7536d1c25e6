"""Packaging: what a wheel carries, where an install finds its files, and a wheel installed for real."""
from __future__ import annotations

import fnmatch
import os
import subprocess
import tomllib
from pathlib import Path

import duckdb
import pytest

from pipelines import resources
from pipelines.errors import RuralTargetsError
from pipelines.store import db

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]


def test_every_package_is_in_the_wheel():
    """A sub-package added under pipelines/ or dashboard/ but not listed in pyproject.toml would be
    missing from the wheel (an editable install would not notice)."""
    on_disk = {".".join(p.parent.relative_to(ROOT).parts)
               for top in ("pipelines", "dashboard") for p in (ROOT / top).rglob("__init__.py")}
    assert on_disk - set(SETUPTOOLS["packages"]) == set()


@pytest.mark.parametrize("package", ["pipelines.bundled.schemas", "pipelines.bundled.samples.region",
                                     "pipelines.bundled.samples.returns", "pipelines.store"])
def test_package_data_globs_cover_every_file(package):
    """Every file of schemas/, data/samples/region, data/samples/returns and pipelines/store/sql
    matches a package-data pattern, so a new kind of file cannot be left out of the wheel silently."""
    folder = ROOT / SETUPTOOLS["package-dir"].get(package, package.replace(".", "/"))
    patterns = SETUPTOOLS["package-data"][package]
    files = [p.relative_to(folder).as_posix() for p in folder.rglob("*")
             if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".py"]
    assert files
    left_out = [f for f in files if not any(fnmatch.fnmatch(f, pat) and f.count("/") == pat.count("/")
                                             for pat in patterns)]
    assert left_out == []


def test_a_checkout_reads_its_own_files():
    assert resources.CHECKOUT == ROOT
    assert resources.schemas_dir() == ROOT / "schemas"
    assert resources.sql_dir() == ROOT / "pipelines" / "store" / "sql"
    assert resources.samples_dir() == ROOT / "data" / "samples"
    assert resources.data_dir() == ROOT / "data"
    assert resources.dashboard_app() == ROOT / "dashboard" / "app.py"


def test_schemas_setting_names_another_catalog(tmp_path, monkeypatch):
    monkeypatch.setenv(resources.SCHEMAS_ENV, str(tmp_path / "my-schemas"))
    assert resources.schemas_dir() == tmp_path / "my-schemas"


def test_database_default_is_under_the_project_directory(monkeypatch):
    monkeypatch.delenv(db.ENV_VAR, raising=False)
    assert db.db_path() == ROOT / "data" / "rural_targets.duckdb"


def test_ensure_schema_fails_loudly_without_sql(tmp_path, monkeypatch):
    """An install that lost its SQL files must not open a database with no tables."""
    monkeypatch.setattr(db, "SQL_DIR", tmp_path)
    con = duckdb.connect()
    with pytest.raises(RuralTargetsError) as err:
        db.ensure_schema(con)
    con.close()
    assert err.value.code == "GEN004"
    assert str(tmp_path) in err.value.message_en


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("CI") == "true", reason=".ci/run runs .ci/wheel-smoke as a step of its own")
def test_wheel_installs_and_runs_from_another_directory(tmp_path):
    """Build the wheel, install it into a fresh virtualenv and run targets, registry load, template
    and ingest --dry-run from an empty directory (.ci/wheel-smoke)."""
    out = subprocess.run(["bash", str(ROOT / ".ci" / "wheel-smoke"), str(tmp_path)],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "wheel smoke: ok" in out.stdout
    assert not list((tmp_path / "venv").rglob("*.duckdb"))
    assert (tmp_path / "run" / "data" / "rural_targets.duckdb").is_file()
