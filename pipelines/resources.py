"""Where the product finds its files: the one place that knows the layout on disk.

What ships with the code, read in place:

- the catalog, ``schemas/**.yaml`` — in a checkout or an editable install the repository's
  top-level ``schemas/``; in an installed wheel the same files as package data
  (``pipelines/bundled/schemas``, mapped there by ``[tool.setuptools.package-dir]`` in
  pyproject.toml, read through importlib.resources). ``$RURAL_TARGETS_SCHEMAS`` names another
  catalog directory instead (a copy to edit without reinstalling);
- the schema SQL, ``pipelines/store/sql/schema*.sql`` (package data of ``pipelines.store``);
- the sample city, ``data/samples/region`` and ``data/samples/returns`` (in a wheel:
  ``pipelines/bundled/samples/…``), for ``rural-targets init``. ``data/samples/bad`` and the
  generators' own outputs are checkout-only tooling.

What the product writes lives under the *project directory*: the checkout in a checkout or an
editable install, else the current working directory. The database defaults to
``<project directory>/data/rural_targets.duckdb`` (``schemas/settings.yaml``: ``database``; else
``--db`` or ``$RURAL_TARGETS_DB``); generated returns and benchmark caches go to
``<project directory>/data/generated/``. A wheel install never writes inside site-packages.
"""
from __future__ import annotations

import atexit
import os
from contextlib import ExitStack
from importlib import resources as _res
from pathlib import Path

SCHEMAS_ENV = "RURAL_TARGETS_SCHEMAS"
BUNDLED = "bundled"  # pipelines/bundled/: the package data a wheel carries (see pyproject.toml)

_PACKAGE_DIR = Path(__file__).resolve().parent
_extracted = ExitStack()
atexit.register(_extracted.close)


def _checkout() -> Path | None:
    """The repository root when the code runs from a checkout (or an editable install of one)."""
    root = _PACKAGE_DIR.parent
    if (root / "pyproject.toml").is_file() and (root / "schemas" / "fields.yaml").is_file():
        return root
    return None


CHECKOUT: Path | None = _checkout()


def _package_path(package: str, *parts: str) -> Path:
    """A directory or file shipped in ``package``, as a real path (extracted when the package is
    not on the file system, e.g. imported from a zip)."""
    ref = _res.files(package).joinpath(*parts)
    if isinstance(ref, Path):
        return ref
    return Path(_extracted.enter_context(_res.as_file(ref)))


def project_dir() -> Path:
    """Where the product keeps what it writes (``data/…``): the checkout, else the current directory."""
    return CHECKOUT if CHECKOUT is not None else Path.cwd()


def data_dir() -> Path:
    """``<project directory>/data``: the default database, generated returns, benchmark caches."""
    return project_dir() / "data"


def generated_dir(*parts: str) -> Path:
    """``data/generated/…`` (rebuilt on demand, never committed)."""
    return data_dir().joinpath("generated", *parts)


def schemas_dir() -> Path:
    """The catalog directory: $RURAL_TARGETS_SCHEMAS, else the checkout's schemas/, else the
    package data."""
    if os.environ.get(SCHEMAS_ENV):
        return Path(os.environ[SCHEMAS_ENV])
    if CHECKOUT is not None:
        return CHECKOUT / "schemas"
    return _package_path("pipelines", BUNDLED, "schemas")


def sql_dir() -> Path:
    """The directory of the schema SQL files (pipelines/store/sql)."""
    return _package_path("pipelines.store", "sql")


def samples_dir() -> Path:
    """The bundled sample data: the checkout's data/samples/, else the package data (region and
    returns only)."""
    if CHECKOUT is not None:
        return CHECKOUT / "data" / "samples"
    return _package_path("pipelines", BUNDLED, "samples")


def shared_data_dir() -> Path:
    """``../shared/data`` beside the project directory (real registry files, when present)."""
    return project_dir().parent / "shared" / "data"


def dashboard_app() -> Path:
    """The Streamlit entry script (``streamlit run`` takes a path)."""
    return _package_path("dashboard", "app.py")


def relative(path: Path) -> str:
    """``path`` relative to the project directory or the catalog directory when under one, for
    messages; else as given."""
    for base in (project_dir(), schemas_dir().parent):
        try:
            return str(Path(path).relative_to(base))
        except ValueError:
            continue
    return str(path)
