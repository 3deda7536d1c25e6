"""Progress rows: the judged blocks as an Arrow row table, and that table as the rows of ``assess_frame``.

The row table (``DATA_COLUMNS``) is what ``refresh`` stores in ``progress_data`` and what
``assess_frame`` builds on the fly. Its named columns — plan, target, department (a task's
responsible unit), level, status, verdict_at_deadline (a status), basis, population — are
dictionary-encoded Arrow arrays over the labels of ``Labels`` (from the catalog), stored as DuckDB
ENUM columns of the same labels; they come back as pandas Categoricals either way, so the rows are
built without per-row Python work. Units are their 12-digit codes as BIGINT (code ranges select a
subtree), quarters and cycles their running number (``pidx``).

Besides the method's outputs every row carries (issue 9): ``reported`` / ``expected`` / ``coverage``
(the units the value needs and how many reported: "125/141 个村报送"), ``strive`` (力争/争取),
``status_label`` (the status as every view words it: ``rules.status_label``), ``verdict_at_deadline``
(met / missed / incomplete, null while the deadline is ahead), ``above_range`` (a range exceeded),
``baseline_value`` / ``baseline_period``, ``population`` (村 / 社区 / 村(社区)) and ``cycle`` (2019,
2021Q2: recurrent targets).
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from pipelines.catalog.definitions import POPULATIONS, Catalog
from pipelines.compute.judge import DEPARTMENT, Block
from pipelines.compute.rules import QUARTER_DAYS, STATUS_ZH, STATUSES, Grid, cycle_label, status_label
from pipelines.periods import period_bounds, period_of
from pipelines.units import LEVEL_RANK, LEVELS

LEVEL_CODES = LEVELS + (DEPARTMENT,)
BASES = ("value", "share", "milestone", "task")

ROW_COLUMNS = ["plan", "target", "unit_code", "unit_name", "level", "period", "value", "target_value", "status",
               "status_zh", "pi", "tau", "gap_pp", "cr", "projected", "rate_required", "points", "low_confidence",
               "regressing", "stale", "overdue", "days_to_deadline", "deadline", "last_value", "last_period",
               "baseline_value", "baseline_period", "basis", "meeting", "judged", "rows", "expected",
               "target_title", "indicator", "eval", "comparator", "target_text", "unit", "reported", "coverage",
               "strive", "status_label", "verdict_at_deadline", "above_range", "population", "cycle"]
DATA_COLUMNS = ["plan", "target", "unit", "department", "level", "pidx", "value", "target_value", "status", "pi",
                "tau", "projected", "points", "low_confidence", "regressing", "stale", "overdue", "deadline",
                "last_value", "last_pidx", "baseline_value", "baseline_pidx", "basis", "meeting", "judged", "rows",
                "expected", "milestones", "task_status", "note", "reported", "coverage", "verdict_at_deadline",
                "above_range", "strive", "population", "cycle"]
_EPOCH = dt.date(1970, 1, 1).toordinal()


class Labels:
    """The labels of the named columns of the row table, in a fixed order (the ENUM types)."""

    def __init__(self, cat: Catalog) -> None:
        self.values: dict[str, list[str]] = {
            "plan": list(cat.plans),
            "target": [t.id for _, t in cat.targets()],
            "department": sorted({d for _, t in cat.targets() for d in t.lead + t.partners}),
            "level": list(LEVEL_CODES),
            "status": list(STATUSES),
            "basis": list(BASES),
            "population": list(POPULATIONS),
        }
        self.position = {kind: {v: i for i, v in enumerate(vals)} for kind, vals in self.values.items()}
        self._dictionary = {kind: pa.array(vals, pa.string()) for kind, vals in self.values.items()}
        self._index = {kind: np.int8 if len(vals) < 128 else np.int16 for kind, vals in self.values.items()}

    def column(self, kind: str, positions: np.ndarray, mask: np.ndarray | None = None) -> pa.DictionaryArray:
        """A dictionary-encoded column of ``kind`` from positions in its labels (``mask``: nulls)."""
        return pa.DictionaryArray.from_arrays(pa.array(np.asarray(positions, dtype=self._index[kind]), mask=mask),
                                              self._dictionary[kind])

    def constant(self, kind: str, value: str, n: int) -> pa.DictionaryArray:
        """``n`` times the label ``value``."""
        return self.column(kind, np.full(n, self.position[kind][value], np.int16))


def block_table(block: Block, grid: Grid, labels: Labels, cols: np.ndarray | None = None) -> pa.Table:
    """The rows of a block (where ``emit``; optionally only in columns ``cols``) as an Arrow table of
    ``DATA_COLUMNS``."""
    emit = block.emit
    if cols is not None:
        keep = np.zeros(emit.shape[1], bool)
        keep[cols] = True
        emit = emit & keep[None, :]
    ui, ci = np.nonzero(emit)
    t, a = block.target, block.arrays
    n = len(ui)
    shape = emit.shape

    def col(name: str, default: float = np.nan, dtype: Any = float) -> np.ndarray:
        arr = a.get(name)
        if arr is None:
            return np.full(n, default, dtype=dtype)
        arr = np.asarray(arr)
        if arr.ndim == 1:
            return arr[ui].astype(dtype, copy=False)
        return np.broadcast_to(arr, shape)[ui, ci].astype(dtype, copy=False)

    def period_col(name: str) -> pa.Array:
        c = col(name, -1, np.int64)
        return pa.array((c + grid.p0).astype(np.int16), mask=c < 0)

    def cell_col(name: str) -> np.ndarray:            # a per-quarter [P] array, or per cell
        arr = np.asarray(a.get(name, -1))
        if arr.ndim == 1:
            return arr[ci]
        return np.broadcast_to(arr, shape)[ui, ci]

    if block.level == DEPARTMENT:
        where = labels.position["department"]
        unit = pa.nulls(n, pa.int64())
        department = labels.column("department", np.array([where[c] for c in block.units.codes], np.int16)[ui])
    else:
        unit = pa.array(block.units.ints[ui])
        department = labels.column("department", np.zeros(n, np.int16), mask=np.ones(n, bool))
    deadline = col("deadline")
    finite = np.isfinite(deadline)
    verdict = col("verdict", -1, np.int8)
    cycle = cell_col("cycle").astype(np.int64) if "cycle" in a else np.full(n, -1, np.int64)
    days = np.where(finite, deadline, _EPOCH) - _EPOCH
    out = {
        "plan": labels.constant("plan", block.plan.code, n), "target": labels.constant("target", t.id, n),
        "unit": unit, "department": department, "level": labels.constant("level", block.level, n),
        "pidx": (ci + grid.p0).astype(np.int16), "value": col("value"), "target_value": col("target_value"),
        "status": labels.column("status", block.status[ui, ci]), "pi": col("pi"), "tau": col("tau"),
        "projected": col("projected"), "points": col("points", 0, np.int16),
        "low_confidence": col("low_confidence", 0, bool), "regressing": col("regressing", 0, bool),
        "stale": col("stale", 0, bool), "overdue": col("overdue", 0, bool),
        "deadline": pa.array(days.astype(np.int32), mask=~finite).cast(pa.date32()),
        "last_value": col("last_value"), "last_pidx": period_col("last_col"),
        "baseline_value": col("baseline_value"), "baseline_pidx": period_col("baseline_col"),
        "basis": labels.constant("basis", block.basis, n), "meeting": col("meeting"), "judged": col("judged"),
        "rows": col("rows"), "expected": col("expected"),
        "milestones": pa.nulls(n, pa.string()), "task_status": pa.nulls(n, pa.string()), "note": pa.nulls(n, pa.string()),
        "reported": col("reported"), "coverage": col("coverage"),
        "verdict_at_deadline": labels.column("status", np.maximum(verdict, 0), mask=verdict < 0),
        "above_range": col("above_range", 0, bool), "strive": np.full(n, bool(t.strive)),
        "population": labels.constant("population", t.population, n),
        "cycle": pa.array(cycle.astype(np.int16), mask=cycle < 0),
    }
    if block.basis == "milestone" and "milestones" in block.extra:
        out["milestones"] = pa.array(_milestones_json(block.extra["milestones"], ui, ci, grid), pa.string())
    if block.basis == "task":
        recs = block.extra.get("records", {})
        units = block.units.codes[ui]
        out["task_status"] = pa.array([_text_or_none(recs.get(c, {}).get("status")) for c in units], pa.string())
        out["note"] = pa.array([_text_or_none(recs.get(c, {}).get("progress_note")) for c in units], pa.string())
    return pa.table(out)


def _milestones_json(parts: list[tuple[str, dt.date, dict[str, np.ndarray]]], ui: np.ndarray, ci: np.ndarray,
                     grid: Grid) -> np.ndarray:
    """Per row the JSON list of a target's milestones — label, deadline, status, done date (once done
    by the quarter's end) — as ``json.dumps(..., ensure_ascii=False)`` writes it, built with numpy
    string operations (no Python per row)."""
    statuses = np.array([json.dumps(s) for s in STATUSES])
    pieces = []
    for label, d, p in parts:
        head = (f'{{"label": {json.dumps(label, ensure_ascii=False)}, "deadline": "{d.isoformat()}", '
                f'"status": ')
        status = statuses[np.asarray(p["status"])[ui, ci]]
        done = np.broadcast_to(np.asarray(p["done_date"], float), p["status"].shape)[ui, ci]
        with np.errstate(invalid="ignore"):
            shown = np.isfinite(done) & (done <= grid.end[ci])
        days = np.where(shown, done, _EPOCH) - _EPOCH
        iso = np.char.add(np.char.add('"', np.datetime_as_string(days.astype("int64").astype("datetime64[D]"))), '"')
        pieces.append(np.char.add(np.char.add(np.char.add(head, status), ', "done_date": '),
                                  np.char.add(np.where(shown, iso, "null"), "}")))
    body = pieces[0]
    for more in pieces[1:]:
        body = np.char.add(np.char.add(body, ", "), more)
    return np.char.add(np.char.add("[", body), "]").astype(object) if len(ui) else np.array([], dtype=object)


def _text_or_none(v: Any) -> str | None:
    """A text of a task record (a missing one reads back as NaN)."""
    return v if isinstance(v, str) else None


def coded(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes (-1: missing) and their labels (objects) of a column, Categorical or not."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s.cat.codes.to_numpy(dtype=np.int64), np.asarray(s.cat.categories, dtype=object)
    codes, uniques = pd.factorize(s)
    return np.asarray(codes, dtype=np.int64), np.asarray(uniques, dtype=object)


def _take(labels: Any, codes: np.ndarray) -> np.ndarray:
    """``labels[codes]`` with None where a code is -1."""
    return np.append(np.asarray(labels, dtype=object), None)[codes]


def _text(s: pd.Series) -> np.ndarray:
    """A named column as an object array of its labels (None where missing)."""
    codes, labels = coded(s)
    return _take(labels, codes)


def _by_value(values: np.ndarray, fn: Any, otype: Any = object) -> np.ndarray:
    """``fn`` of each value, computed once per distinct value (integers, -1 for none)."""
    uniq, inv = np.unique(values, return_inverse=True)
    return np.array([fn(int(u)) for u in uniq], dtype=otype)[inv.reshape(-1)]


def decode(data: pd.DataFrame, names: dict[int, str], cat: Catalog) -> pd.DataFrame:
    """Rows of ``DATA_COLUMNS`` (stored or just computed) as rows of ``assess_frame`` (``ROW_COLUMNS``,
    then milestones, task_status and note where any row has them), ordered by target (catalog order),
    period, level (top down) and unit. ``names``: unit names by code (as an integer)."""
    if not len(data):
        return pd.DataFrame(columns=ROW_COLUMNS)

    def num(c: str) -> np.ndarray:
        return data[c].to_numpy(dtype=float, na_value=np.nan)

    def period_names(c: str) -> np.ndarray:
        p = num(c)
        return _by_value(np.where(np.isnan(p), -1, p).astype(np.int64), lambda v: period_of(v) if v >= 0 else None)

    tcodes, tlabels = coded(data["target"])
    targets = [cat.target(t)[1] for t in tlabels]
    unit = num("unit")
    has_unit = ~np.isnan(unit)
    ints = np.where(has_unit, unit, -1).astype(np.int64)
    codes = _by_value(ints, lambda u: f"{u:012d}" if u >= 0 else None)
    unit_names = _by_value(ints, lambda u: names.get(u, f"{u:012d}") if u >= 0 else None)
    dcodes, dlabels = coded(data["department"])
    if (dcodes >= 0).any():                  # a task's responsible units, named as lead or partner
        pair = np.where(dcodes >= 0, tcodes * len(dlabels) + dcodes, -1)

        def task_unit(k: int) -> str | None:
            if k < 0:
                return None
            t, d = targets[k // len(dlabels)], dlabels[k % len(dlabels)]
            return f"{d}({'牵头' if d in t.lead else '参与'})"
        codes = np.where(has_unit, codes, _take(dlabels, dcodes))
        unit_names = np.where(has_unit, unit_names, _by_value(pair, task_unit))
    pidx = num("pidx").astype(np.int64)
    scodes, slabels = coded(data["status"])
    status = _take(slabels, scodes)
    basis = _text(data["basis"])
    cols: dict[str, Any] = {
        "plan": _text(data["plan"]), "target": _take(tlabels, tcodes), "unit_code": codes, "unit_name": unit_names,
        "level": _text(data["level"]), "period": _by_value(pidx, period_of), "value": num("value"),
        "target_value": num("target_value"), "status": status, "status_zh": _take([STATUS_ZH[x] for x in slabels], scodes),
        "pi": num("pi"), "tau": num("tau"), "projected": num("projected"),
        "points": data["points"].to_numpy(dtype=np.int64),
    }
    for c in ("low_confidence", "regressing", "stale", "overdue"):
        cols[c] = data[c].to_numpy(dtype=bool)
    deadline = pd.to_datetime(data["deadline"]).to_numpy().astype("datetime64[D]")
    known = ~np.isnat(deadline)
    cols["deadline"] = np.where(known, np.datetime_as_string(deadline, unit="D").astype(object), None)
    cols["last_value"] = num("last_value")
    cols["last_period"] = period_names("last_pidx")
    cols["baseline_value"] = num("baseline_value")
    cols["baseline_period"] = period_names("baseline_pidx")
    cols["basis"] = basis
    for c in ("meeting", "judged", "rows", "expected", "reported", "coverage"):
        cols[c] = num(c)
    strive = data["strive"].to_numpy(dtype=bool, na_value=False)
    cols["strive"] = strive
    cols["above_range"] = data["above_range"].to_numpy(dtype=bool, na_value=False)
    cols["verdict_at_deadline"] = _text(data["verdict_at_deadline"])
    cols["population"] = _text(data["population"])
    wording = np.array([[status_label(x, False), status_label(x, True)] for x in slabels] or [["", ""]], dtype=object)
    cols["status_label"] = np.where(scodes >= 0, wording[np.maximum(scodes, 0), strive.astype(np.int64)], None)
    cycle = num("cycle")
    ckey = np.where(np.isnan(cycle), -1, tcodes * 100_000 + np.nan_to_num(cycle, nan=0)).astype(np.int64)
    cols["cycle"] = _by_value(ckey, lambda k: cycle_label(targets[k // 100_000].recurrence, k % 100_000)
                              if k >= 0 else None)

    # what follows from the outputs: gap, ratio, days left and the change still needed per quarter
    pi, tau_, x, T = cols["pi"], cols["tau"], cols["value"], cols["target_value"]
    quarter_end = _by_value(pidx, lambda p: period_bounds(period_of(p))[1].toordinal(), float)
    days = np.where(known, np.where(known, deadline.astype(np.int64), 0) + _EPOCH - quarter_end, np.nan)
    value_kind = np.array([t.eval not in ("trend", "band", "milestone") for t in targets], bool)[tcodes]
    value_kind &= np.isin(basis, ["value", "share"])
    open_ = ~np.isin(status, ["met", "met_late", "no_data", "incomplete", "not_judged"])
    with np.errstate(invalid="ignore", divide="ignore"):
        cols["gap_pp"] = (pi - tau_) * 100
        cols["cr"] = np.where(tau_ > 0, pi / np.where(tau_ > 0, tau_, 1), np.nan)
        q_left = days / QUARTER_DAYS
        cols["rate_required"] = np.where(value_kind & open_ & (q_left > 0), (T - x) / np.where(q_left > 0, q_left, 1),
                                         np.nan)
    cols["days_to_deadline"] = days

    # the texts of each row, from its target
    for name, get in (("target_title", lambda t: t.title), ("indicator", lambda t: t.indicator),
                      ("eval", lambda t: t.eval), ("comparator", lambda t: t.comparator)):
        cols[name] = _take([get(t) for t in targets], tcodes)
    text = _take([t.target_text for t in targets], tcodes)
    unit_of = _take([cat.indicators[t.indicator].unit if t.indicator else t.unit for t in targets], tcodes)
    cols["target_text"] = np.where(basis == "share", "100%(各单位均达标的比例)", text).astype(object)
    cols["unit"] = np.where(np.isin(basis, ["share", "milestone", "task"]), "%", unit_of).astype(object)
    for c in ("milestones", "task_status", "note"):
        values = data[c].astype(object).where(data[c].notna(), None).to_numpy()
        if any(v is not None for v in values):
            cols[c] = values

    order = {t.id: i for i, (_, t) in enumerate(cat.targets())}
    t_rank = np.array([order[t.id] for t in targets], np.int64)[tcodes]
    lcodes, llabels = coded(data["level"])
    l_rank = np.array([LEVEL_RANK.get(lv, len(LEVELS)) for lv in llabels], np.int64)[lcodes]
    u_rank = pd.factorize(pd.Series(codes, dtype=object), sort=True)[0]
    sort = np.lexsort((u_rank, l_rank, pidx, t_rank))
    out = pd.DataFrame({c: (pd.Series(v[sort], dtype=object) if v.dtype == object else v[sort])
                        for c, v in ((c, np.asarray(cols[c])) for c in ROW_COLUMNS + ["milestones", "task_status", "note"]
                                     if c in cols)})
    if "milestones" in out:
        out["milestones"] = [json.loads(m) if isinstance(m, str) else None for m in out["milestones"]]
    return out


_LEVEL_UNITS = {"province": "个省", "city": "个市", "county": "个区县", "township": "个乡镇", "village": "个村(社区)"}
_POPULATION_UNITS = {"村": "个村", "社区": "个社区", "村(社区)": "个村(社区)"}


def reporting_units(cat: Catalog, target: str, basis: str) -> str:
    """What the reported / expected counts of ``target``'s rows of ``basis`` count, as a Chinese
    measure word: 个村, 个社区, 个村(社区) (village rows of the target's population), 个乡镇, 个区县, 个牵头单位."""
    _, t = cat.target(target)
    if basis == "task":
        return "个牵头单位"
    if t.indicator is None:
        level = t.level
    else:
        source = cat.indicators[t.indicator].source
        level = source if basis == "value" else (t.level if t.level in ("village", "township", "county") else source)
    if level == "village":
        return _POPULATION_UNITS.get(t.population, _LEVEL_UNITS["village"])
    return _LEVEL_UNITS.get(level, "个单位")


def coverage_text(cat: Catalog, target: str, basis: str, reported: float, expected: float) -> str | None:
    """The coverage of a row as shown beside a provisional value: "125/141 个村报送" (None when
    nothing is expected)."""
    if expected is None or not np.isfinite(expected) or expected <= 0:
        return None
    rep = 0 if reported is None or not np.isfinite(reported) else int(reported)
    return f"{rep}/{int(expected)} {reporting_units(cat, target, basis)}报送"
