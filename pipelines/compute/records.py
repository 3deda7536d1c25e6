"""Milestone task updates (督办任务) and the county sheet (区县情况): validated appends, history kept.

Both are written by the CLI (``task update``, ``county record``) and the dashboard, each as an acting
user whose role and units allow it (``pipelines.access.roles``), each step in the audit trail; every
stored row is kept, and the judgement reads the latest one (as of a quarter's cutoff when asked).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from pipelines.access import audit
from pipelines.access.roles import User, require
from pipelines.catalog.definitions import Catalog, FieldSpec, catalog
from pipelines.errors import RuralTargetsError
from pipelines.jsonable import plain
from pipelines.periods import cutoff
from pipelines.registry.load import get_unit, require_level
from pipelines.store.db import transaction

TASK_STATUSES = ("未启动", "推进中", "已完成")


def _task_columns(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The columns of task_values (``item`` and ``cycle`` exist once the catalog's task sheet has them)."""
    return {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns "
                                      "WHERE table_name = 'task_values'").fetchall()}


def task_records(con: duckdb.DuckDBPyConnection, plan: str, as_of: str | None = None,
                 cat: Catalog | None = None) -> pd.DataFrame:
    """The latest update of every (task, responsible unit, item, cycle) of ``plan`` (as of the cutoff of
    ``as_of``): a task of several items or cycles keeps one record for each."""
    params: list[Any] = [plan]
    where = "plan = ?"
    if as_of is not None:
        where += " AND recorded_at <= ?"
        params.append(cutoff(as_of, (cat or catalog()).settings.reporting.due_day))
    keys = ["task_id", "unit"] + [c for c in ("item", "cycle") if c in _task_columns(con)]
    by = ", ".join(f"coalesce(CAST({k} AS VARCHAR), '')" if k in ("item", "cycle") else k for k in keys)
    return con.execute(
        f"SELECT * EXCLUDE (rn) FROM (SELECT *, row_number() OVER (PARTITION BY {by} "
        f"ORDER BY recorded_at DESC) AS rn FROM task_values WHERE {where}) WHERE rn = 1 "
        f"ORDER BY {', '.join(keys)}", params).df()


def record_task_update(con: duckdb.DuckDBPyConnection, plan: str, task_id: str, unit: str, status: str,
                       done_date: dt.date | str | None = None, note: str | None = None, evidence: str | None = None,
                       *, actor: User, at: dt.datetime | None = None,
                       cat: Catalog | None = None, item: str | None = None,
                       cycle: str | None = None, client: str | None = None) -> dict[str, Any]:
    """Append an update of a milestone task (督办任务) by one responsible unit, as ``actor`` (a county
    or city user, or an admin: AUTH010 otherwise); history is kept and the step audited.

    ``item``: the deliverable (a task with ``items``; required there, refused elsewhere); ``cycle``: the
    cycle of a recurrent task (2019 for a yearly one, 2021Q2 for a quarterly one; refused for a task
    that does not recur; when omitted, the cycle containing the done date — or, for an update that is not
    a completion, the day it is recorded — is stored).

    Raises RuralTargetsError: PRG010 unknown plan, PRG011 unknown task or not a task of the plan,
    PRG012 unit not responsible for it, PRG013 unknown status, PRG014 done date missing or given
    without 已完成, PRG015 bad date, PRG016 bad item, PRG017 bad cycle.
    """
    cat = cat or catalog()
    _allowed(con, actor, "task", None, "task_update", f"{plan} {task_id} {unit}", client)
    if plan not in cat.plans:
        raise RuralTargetsError("PRG010", plan=plan, known=", ".join(cat.plans))
    task = next((t for t in cat.plans[plan].targets if t.id == task_id), None)
    if task is None or task.eval != "milestone" or not task.lead:
        known = [t.id for t in cat.plans[plan].targets if t.eval == "milestone" and t.lead]
        raise RuralTargetsError("PRG011", task=task_id, plan=plan, known=", ".join(known) or "(无)")
    responsible = list(dict.fromkeys(task.lead + task.partners))
    if unit not in responsible:
        raise RuralTargetsError("PRG012", unit=unit, task=task_id, known="、".join(responsible))
    if status not in TASK_STATUSES:
        raise RuralTargetsError("PRG013", status=status, known="/".join(TASK_STATUSES))
    day = _as_date(done_date, "done_date")
    if status == "已完成" and day is None:
        raise RuralTargetsError("PRG014", task=task_id, unit=unit)
    if status != "已完成" and day is not None:
        raise RuralTargetsError("PRG014", task=task_id, unit=unit)
    items = [i.id for i in task.items]
    if (item is not None and item not in items) or (items and item is None):
        raise RuralTargetsError("PRG016", task=task_id, item=item if item is not None else "(空)",
                                known="、".join(items) or "(无,不填)")
    if cycle is not None and not _cycle_ok(task.recurrence, str(cycle)):
        rule = {"yearly": "按年填写,如 2019", "quarterly": "按季度填写,如 2021Q2"}.get(task.recurrence or "",
                                                                                  "该任务不重复,不填周期")
        raise RuralTargetsError("PRG017", task=task_id, cycle=cycle, rule=rule)
    when = at or dt.datetime.now()
    if cycle is None and task.recurrence:        # stored explicitly, so that each cycle keeps its own latest update
        on = day or when.date()
        cycle = str(on.year) if task.recurrence == "yearly" else f"{on.year}Q{(on.month - 1) // 3 + 1}"
    row = {"plan": plan, "recorded_at": when, "recorded_by": actor.name, "task_id": task_id, "unit": unit,
           "status": status, "done_date": day, "progress_note": note, "evidence": evidence}
    have = _task_columns(con)
    for key, value in (("item", item), ("cycle", None if cycle is None else str(cycle))):
        if value is not None and key not in have:         # a database made before the task sheet had it
            raise RuralTargetsError("PRG016" if key == "item" else "PRG017", task=task_id, item=value, cycle=value,
                                    known="", rule="数据库尚无该列")
        if key in have:
            row[key] = value
    cols = list(row)
    with transaction(con):
        con.execute(f"INSERT INTO task_values ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                    [row[c] for c in cols])
        audit.record(con, actor, "task_update", object=f"{plan} {task_id} {unit}", client=client, at=None,
                     details={"status": status, "done_date": day, "item": item, "cycle": cycle})
    return {k: plain(v) for k, v in row.items()}


def _cycle_ok(recurrence: str | None, cycle: str) -> bool:
    """Whether ``cycle`` names a cycle of a task of ``recurrence``: 2019 (yearly), 2021Q2 (quarterly)."""
    if recurrence == "yearly":
        return cycle.isdigit() and len(cycle) == 4
    if recurrence == "quarterly":
        return len(cycle) == 6 and cycle[:4].isdigit() and cycle[4] == "Q" and cycle[5] in "1234"
    return False


def record_county_values(con: duckdb.DuckDBPyConnection, county_code: str, year: int, values: dict[str, Any],
                         *, actor: User, at: dt.datetime | None = None,
                         cat: Catalog | None = None, client: str | None = None) -> dict[str, Any]:
    """Append the county sheet (区县情况) of one county and year as ``actor`` (its county reviewer, a city
    user or admin whose units include it: AUTH010 / AUTH011 otherwise); history is kept, the step audited.

    The record is merged with the latest one of that county and year (fields not given keep their
    value), so each stored row is the complete state. Raises RuralTargetsError: REG009 / REG010
    unknown unit or not a county, PRG020 bad year, PRG021 unknown field, PRG022 bad value.
    """
    cat = cat or catalog()
    require_level(get_unit(con, county_code), "county")
    _allowed(con, actor, "county_record", county_code, "county_record", f"{county_code} {year}", client)
    if not isinstance(year, int) or not 1990 <= year <= 2100:
        raise RuralTargetsError("PRG020", year=year)
    spec = cat.sheets["county"]
    fields = {f.id: f for f in spec.fields if f.id != "county_code"}
    clean: dict[str, Any] = {}
    for key, value in values.items():
        if key not in fields:
            raise RuralTargetsError("PRG021", field=key, known=", ".join(fields))
        clean[key] = _county_value(fields[key], value)
    prev = con.execute("SELECT * FROM county_values WHERE county_code = ? AND year = ? ORDER BY recorded_at DESC "
                       "LIMIT 1", [county_code, year]).df()
    row: dict[str, Any] = {f: None for f in fields}
    if len(prev):
        for f in fields:
            v = prev.iloc[0][f]
            row[f] = None if pd.isna(v) else (v.date() if isinstance(v, pd.Timestamp) else _python(v))
    row.update(clean)
    row.update({"county_code": county_code, "year": year, "recorded_at": at or dt.datetime.now(),
                "recorded_by": actor.name})
    cols = list(row)
    with transaction(con):
        con.execute(f"INSERT INTO county_values ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                    [row[c] for c in cols])
        audit.record(con, actor, "county_record", object=f"{county_code} {year}", unit=county_code, client=client,
                     details={k: plain(v) for k, v in clean.items()})
    return {k: plain(v) for k, v in row.items()}


def _allowed(con: duckdb.DuckDBPyConnection, actor: User, action: str, unit: str | None, logged: str,
             obj: str, client: str | None) -> None:
    """``require``, with a refusal written to the audit trail before it is raised."""
    try:
        require(actor, action, unit, target=obj)
    except RuralTargetsError as exc:
        audit.record(con, actor, logged, "refused", object=obj, unit=unit, details={"code": exc.code}, client=client)
        raise


def _python(v: Any) -> Any:
    """A numpy scalar read back from the table as the Python value DuckDB binds."""
    return v.item() if isinstance(v, np.generic) else v


def _as_date(value: Any, what: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise RuralTargetsError("PRG015", field=what, value=value) from None


def _county_value(spec: FieldSpec, value: Any) -> Any:
    if value is None or value == "":
        return None
    if spec.type == "date":
        return _as_date(value, spec.id)
    if spec.type in ("int", "number"):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise RuralTargetsError("PRG022", field=spec.id, value=value) from None
        if spec.type == "int" and not number.is_integer():
            raise RuralTargetsError("PRG022", field=spec.id, value=value)
        if spec.min is not None and number < spec.min:
            raise RuralTargetsError("PRG022", field=spec.id, value=value)
        return int(number) if spec.type == "int" else number
    if spec.type == "bool":
        if value in (True, "是", "true", 1):
            return True
        if value in (False, "否", "false", 0):
            return False
        raise RuralTargetsError("PRG022", field=spec.id, value=value)
    if spec.type == "enum" and value not in (spec.values or []):
        raise RuralTargetsError("PRG022", field=spec.id, value=value)
    return str(value)
