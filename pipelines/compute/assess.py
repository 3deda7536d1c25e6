"""The progress API: ``assess`` / ``assess_frame`` — progress rows for the targets, units and quarters asked.

They read the stored tables (pipelines.compute.stored) when those reflect the current data and
catalog and nothing else is asked (no ``as_of``, no ``baseline``); otherwise they compute the scopes
asked (the plans' units, or one unit's subtree) on the fly, with the same rules and the same rows.
"""
from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from pipelines.catalog.definitions import Catalog, Target, catalog
from pipelines.compute.indicators import compute_wide, data_periods
from pipelines.compute.judge import DEPARTMENT, judge_target, needed_levels
from pipelines.compute.rows import ROW_COLUMNS, Labels, block_table, decode
from pipelines.compute.rules import Grid
from pipelines.compute.scope import Scope, ScopeData, root_groups, target_pairs, unit_level, units_by_level
from pipelines.compute.stored import is_published, is_fresh, read_stored
from pipelines.errors import RuralTargetsError
from pipelines.jsonable import plain_records
from pipelines.periods import pidx, quarters
from pipelines.units import LEVELS


def assess_frame(con: duckdb.DuckDBPyConnection, cat: Catalog | None = None, *, plan: str | None = None,
                 target: str | None = None, level: str | None = None, unit: str | None = None,
                 as_of: str | None = None, period: str | None = None, baseline: str | None = None,
                 stored: bool | None = None) -> pd.DataFrame:
    """Progress rows (``ROW_COLUMNS``) as a DataFrame; see ``assess``. ``stored``: False computes
    even when the stored tables are current; None (default) reads them then; True reads them even when
    data came in since their last refresh (the published state, while the ingest worker catches up)."""
    cat = cat or catalog()
    pairs = target_pairs(cat, plan, target)
    if level is not None and level not in LEVELS and level != DEPARTMENT:
        raise RuralTargetsError("PRG004", level=level, known=", ".join(LEVELS + (DEPARTMENT,)))
    if unit is not None:
        unit_level(con, unit)
    for quarter in (baseline, period, as_of):
        if quarter:
            pidx(quarter)
    if stored is not False and as_of is None and baseline is None and (
            is_published(con, cat) if stored else is_fresh(con, cat)):
        return read_stored(con, cat, pairs=pairs, level=level, unit=unit, period=period)
    periods = data_periods(con, as_of)
    if period is not None and as_of is None and period not in periods:
        known = sorted(set(periods) | {period})
        periods = quarters(known[0], known[-1])
    if not periods:
        return pd.DataFrame(columns=ROW_COLUMNS)
    grid = Grid(periods)
    cols = None
    if as_of is not None:
        cols = np.array([len(grid) - 1])
    elif period is not None:
        cols = np.array([grid.periods.index(period)])
    labels = Labels(cat)
    tables: list[pa.Table] = []
    names: dict[int, str] = {}
    by_plan: dict[str, list[Target]] = {}
    for p, t in pairs:
        by_plan.setdefault(p.code, []).append(t)
    for code, targets in by_plan.items():
        p = cat.plans[code]
        groups = root_groups(con, cat, p, unit)
        if not groups:
            continue
        prefixes = sorted({x for _, _, ps in groups for x in ps})
        inds = sorted({t.indicator for t in targets if t.indicator})
        levels = needed_levels(cat, targets, [lv for lv, _, _ in groups])
        values = list(compute_wide(con, cat, as_of=as_of, indicators=inds, levels=sorted(levels),
                                   prefixes=prefixes, periods=grid.periods).values()) if inds else []
        data = ScopeData(cat, grid, units_by_level(con, prefixes, grid), values, as_of, prefixes)
        for units in data.units.values():
            names.update(zip(units.ints.tolist(), units.names.tolist()))
        for root_level, roots, pref in groups:
            scope = Scope(p, roots, root_level, pref, data, as_of, baseline)
            for t in targets:
                for block in judge_target(scope, con, t):
                    if level is not None and block.level != level:
                        continue
                    if block.level != DEPARTMENT:
                        block.emit = block.emit & scope.inside(block.units)[:, None]
                    table = block_table(block, grid, labels, cols)
                    if table.num_rows:
                        tables.append(table)
    if not tables:
        return pd.DataFrame(columns=ROW_COLUMNS)
    return decode(pa.concat_tables(tables).to_pandas(), names, cat)


def assess(con: duckdb.DuckDBPyConnection, cat: Catalog | None = None, **kwargs: Any) -> list[dict[str, Any]]:
    """Progress rows, one per target × unit × quarter, as JSON-friendly dicts (floats to 6 digits).

    Each row has the status (``status``, ``status_zh``; ``status_label`` as views word it, with
    力争目标 / 力争目标未实现 for strive targets), the method's outputs, and what a signed verdict needs:
    ``reported`` / ``expected`` / ``coverage`` (incomplete below ``settings.progress.min_coverage``),
    ``verdict_at_deadline`` (met / missed / incomplete, null while the deadline is ahead; met later
    reads met_late), ``strive``, ``above_range``, ``baseline_value`` / ``baseline_period``,
    ``population`` and ``cycle`` (pipelines.compute.rows).

    Keyword arguments: ``plan``, ``target`` (one of them or neither: every target), ``level``
    (only rows of that level; ``department`` for task units), ``unit`` (that unit and the units
    under it), ``as_of`` (the status as of that quarter: only the returns for quarters up to it that
    had arrived by its cutoff; one row per unit, for that quarter), ``period`` (only that quarter,
    with today's data), ``baseline`` (a quarter: baselines are taken at or after it instead of the
    plan's start), ``stored`` (see ``assess_frame``).
    """
    return plain_records(assess_frame(con, cat, **kwargs), 6)
