"""The sample city's county sheets (区县情况) and task updates (督办任务), made up and seeded.

Township returns come from ``pipelines.samples.simulation``; what no township reports is recorded
here, through the same API a county reviewer or the city bureau uses (``record_county_values``,
``record_task_update``), so that every target of the five plans has data on the sample:

- each county, each year 2018 … 2025: its implementation plan filed (three counties before
  2018-11-30, one ten days late), innovation experiments since 2019 (one county starts only in
  2021), county-run care beds and agency social workers growing, welfare-lottery funds for villages
  and communities (rising in three counties, flat in one from 2020), the pay and office-fund
  standards of village cadres (rising, one county flat in 2024);
- each task list, each responsible unit (lead units and partners): done before its deadline for
  most, a few done late, one still 推进中 and one 未启动 (its partners wait too); a yearly or quarterly task once per cycle (one cycle missed); a
  task of several items item by item.

Recorded as ``UPLOADED_BY`` at the time a real update would arrive (county sheets in January of
the next year; task updates a few days after the work was done). Running it again records nothing.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import numpy as np

from pipelines.access.roles import User
from pipelines.catalog.definitions import Catalog, catalog
from pipelines.compute.records import record_county_values, record_task_update

SEED = 20181130
YEARS = range(2018, 2026)
LAST_DAY = dt.date(2025, 12, 31)          # the simulation's last quarter ends here


def record_samples(con: duckdb.DuckDBPyConnection, actor: User, cat: Catalog | None = None) -> dict[str, int]:
    """Record the sample county sheets and task updates as ``actor``, unless it already has;
    returns how many of each were recorded."""
    cat = cat or catalog()
    by = actor.name
    done = con.execute("SELECT (SELECT count(*) FROM county_values WHERE recorded_by = ?) + "
                       "(SELECT count(*) FROM task_values WHERE recorded_by = ?)", [by, by]).fetchall()[0][0]
    if done:
        return {"county_records": 0, "task_records": 0}
    rng = np.random.default_rng(SEED)
    counties = [c for (c,) in con.execute("SELECT code FROM units WHERE level = 'county' ORDER BY code").fetchall()]
    n_county = _county_sheets(con, cat, counties, rng, actor)
    n_task = _task_updates(con, cat, rng, actor)
    return {"county_records": n_county, "task_records": n_task}


def _county_sheets(con: duckdb.DuckDBPyConnection, cat: Catalog, counties: list[str], rng: np.random.Generator,
                   by: User) -> int:
    n = 0
    for k, county in enumerate(counties):
        late_plan = k == len(counties) - 1          # the last county files its plan ten days late
        slow_start = k == 1                          # its first experiment only in 2021
        flat_funds = k == 2                          # lottery funds flat from 2020
        flat_pay = k == 3                            # pay standard flat in 2024
        beds = int(rng.integers(180, 420))
        workers = int(rng.integers(12, 30))
        funds_v, funds_c = float(rng.integers(40, 90)), float(rng.integers(20, 50))
        pay, office = float(rng.integers(30, 36)) * 1000, float(rng.integers(20, 26)) * 1000
        cumulative = 0
        for year in YEARS:
            if year >= 2019 and not (slow_start and year < 2021):
                new = int(rng.integers(1, 3)) if year <= 2020 else int(rng.integers(0, 2))
            else:
                new = 0
            cumulative += new
            beds += int(rng.integers(10, 40))
            workers += int(rng.integers(2, 8))
            if not (flat_funds and year >= 2020):
                funds_v += float(rng.integers(3, 12))
                funds_c += float(rng.integers(1, 6))
            if not (flat_pay and year == 2024):
                pay += float(rng.integers(1, 4)) * 500
                office += float(rng.integers(1, 3)) * 500
            values: dict[str, Any] = {
                "innovation_experiments": new, "innovation_experiments_cumulative": cumulative,
                "county_institution_beds": beds, "agency_social_work_professionals": workers,
                "lottery_funds_village": round(funds_v, 1), "lottery_funds_community": round(funds_c, 1),
                "cadre_pay_standard": pay, "office_funds_standard": office}
            if year == 2018:
                values["implementation_plan_filed"] = (dt.date(2018, 12, 10) if late_plan
                                                       else dt.date(2018, 11, int(rng.integers(15, 29))))
            record_county_values(con, county, year, values, actor=by, at=dt.datetime(year + 1, 1, 12, 9, 30),
                                 cat=cat)
            n += 1
    return n


def _task_updates(con: duckdb.DuckDBPyConnection, cat: Catalog, rng: np.random.Generator, by: User) -> int:
    n = 0
    for plan in cat.plans.values():
        tasks = [t for t in plan.targets if t.eval == "milestone" and t.lead and not t.milestones]
        for i, t in enumerate(tasks):
            start = max(t.start or plan.period_start, plan.period_start)
            fate = ("ongoing" if i % 7 == 3 else "not_started" if i % 11 == 5 else
                    "late" if i % 5 == 2 else "on_time")
            for unit in dict.fromkeys(t.lead + t.partners):
                ufate = fate if unit in t.lead or fate == "not_started" else "on_time"
                for cycle, begin, deadline, item in _deliverables(t, start):
                    n += _record(con, cat, plan.code, t.id, unit, begin, deadline, ufate, rng, by, cycle, item)
                    if ufate == "late" and t.recurrence:
                        ufate = "on_time"              # one late cycle, then on time
    return n


def _deliverables(t: Any, start: dt.date) -> list[tuple[str | None, dt.date, dt.date, str | None]]:
    """(cycle, begin, deadline, item) of each thing the task asks: one per cycle of a recurrent task,
    one per item of a task of items, else the task itself."""
    if t.recurrence == "yearly":
        return [(str(y), max(start, dt.date(y, 1, 1)), dt.date(y, 12, 31))
                + (None,) for y in range(start.year, t.deadline.year + 1)]
    if t.recurrence == "quarterly":
        out = []
        q = (start.month - 1) // 3
        year = start.year
        while dt.date(year, 3 * q + 1, 1) <= t.deadline:
            end = (dt.date(year + (q == 3), (3 * (q + 1)) % 12 + 1, 1) - dt.timedelta(days=1))
            out.append((f"{year}Q{q + 1}", dt.date(year, 3 * q + 1, 1), end, None))
            year, q = (year + 1, 0) if q == 3 else (year, q + 1)
        return out
    if t.items:
        out, last = [], start
        for it in t.items:
            deadline = it.deadline or (_shift(last, it.after) if it.after else t.deadline)
            out.append((None, last, deadline, it.id))
            last = deadline
        return out
    return [(None, start, t.deadline, None)]


def _shift(day: dt.date, after: Any) -> dt.date:
    years, months, days = after.years or 0, after.months or 0, after.days or 0
    month = day.month - 1 + months
    moved = day.replace(year=day.year + years + month // 12, month=month % 12 + 1, day=min(day.day, 28))
    return moved + dt.timedelta(days=days)


def _record(con: duckdb.DuckDBPyConnection, cat: Catalog, plan: str, task: str, unit: str, begin: dt.date,
            deadline: dt.date, fate: str, rng: np.random.Generator, by: User, cycle: str | None,
            item: str | None) -> int:
    span = max((deadline - begin).days, 1)
    started = begin + dt.timedelta(days=int(rng.integers(0, max(span // 3, 1))))
    if started > LAST_DAY:
        return 0
    if fate == "not_started":
        record_task_update(con, plan, task, unit, "未启动", note="待明确牵头处室", actor=by,
                           at=_at(started), cat=cat, item=item, cycle=cycle)
        return 1
    record_task_update(con, plan, task, unit, "推进中", note="已部署,正在推进", actor=by, at=_at(started), cat=cat,
                       item=item, cycle=cycle)
    if fate == "ongoing":
        return 1
    if fate == "late":
        finished = deadline + dt.timedelta(days=int(rng.integers(20, 120)))
    else:
        finished = started + dt.timedelta(days=int(rng.integers(1, max((deadline - started).days, 2))))
    if finished > LAST_DAY:
        return 1
    record_task_update(con, plan, task, unit, "已完成", done_date=finished, note="已完成,材料已报送",
                       actor=by, at=_at(finished + dt.timedelta(days=int(rng.integers(1, 10)))), cat=cat,
                       item=item, cycle=cycle)
    return 2


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, 16, 0)
