"""Regenerating the sample returns: ``python -m pipelines.samples.returns returns|bad|generated [-o DIR]``.

``returns`` rewrites data/samples/returns (``pipelines.samples.committed``; the .xls files need
LibreOffice), ``bad`` data/samples/bad (``pipelines.samples.bad``), ``generated`` the history under
data/generated/returns. Each starts from a temporary database holding the sample region's
registry only, and simulates the returns from the fixed seed (``pipelines.samples.simulation``).
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from pipelines.samples import committed
from pipelines.samples.bad import BAD_DIR, write_bad_samples
from pipelines.samples.init import init_database
from pipelines.samples.simulation import simulate
from pipelines.store.db import connect


def main(argv: list[str] | None = None) -> int:
    """Rewrite the samples ``argv`` names and print the paths written."""
    p = argparse.ArgumentParser(prog="python -m pipelines.samples.returns",
                                description="重新生成示例报表(合成数据)。")
    p.add_argument("what", choices=["returns", "bad", "generated"])
    p.add_argument("-o", "--output", metavar="DIR")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        con = connect(Path(tmp) / "registry.duckdb")
        init_database(con, progress=False, returns=False)
        sim = simulate(con)
        if args.what == "returns":
            paths = committed.write_committed_samples(con, Path(args.output or committed.RETURNS_DIR), sim)
        elif args.what == "bad":
            paths = write_bad_samples(con, Path(args.output or BAD_DIR), sim)
        else:
            out = Path(args.output or committed.GENERATED_DIR)
            paths = list(committed.ensure_generated(con, sim, out)[0].values())
        con.close()
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
