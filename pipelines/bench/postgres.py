"""A throwaway PostgreSQL server for the tests and benchmarks of the DuckLake mode.

Debian's postgresql package: ``initdb`` in a temporary directory (as the postgres user when run as
root, which initdb refuses), listening on a free port of 127.0.0.1 only, trust authentication,
stopped and deleted at the end.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def postgres_bin() -> Path | None:
    """The directory of initdb and pg_ctl (the newest installed), or None."""
    for d in BIN_DIRS:
        if (d / "initdb").is_file() and (d / "pg_ctl").is_file():
            return d
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def free_port() -> int:
    """A TCP port of 127.0.0.1 nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(_quote(c) for c in cmd)]


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


@contextmanager
def temporary_postgres(dbname: str = "lake") -> Iterator[str]:
    """A running PostgreSQL with an empty database ``dbname``; yields its libpq connection string."""
    bindir = postgres_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="rt-pg-"))
    data, log = root / "data", root / "server.log"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    port = free_port()
    try:
        subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                                     "-E", "UTF8", "--no-sync"]), check=True, capture_output=True)
        subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-o",
                                     f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
                                     "-c max_connections=200", "start"]), check=True, capture_output=True)
        base = f"host=127.0.0.1 port={port} user=postgres"
        _create_database(bindir, base, dbname)
        yield f"dbname={dbname} {base}"
    finally:
        subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _create_database(bindir: Path, base: str, dbname: str) -> None:
    parts = dict(p.split("=", 1) for p in base.split())
    for _ in range(50):
        done = subprocess.run([str(bindir / "createdb"), "-h", parts["host"], "-p", parts["port"], "-U", parts["user"],
                               dbname], capture_output=True)
        if done.returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError(f"createdb {dbname} failed: {done.stderr.decode(errors='replace')}")
