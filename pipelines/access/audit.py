"""The audit trail: an append-only log of who did what, when, to what, and how it ended.

Every sign-in (success and failure), upload attempt (dry run, stored, rejected, unchanged), review
step, task update, county record, account change and registry load appends one row (``record``);
nothing updates or deletes them. ``entries`` reads them back, filtered to the reader's units.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

import duckdb

from pipelines.access.roles import User, require
from pipelines.jsonable import plain

ACTIONS_ZH = {
    "login": "登录", "logout": "退出登录", "ingest": "上传报表", "ingest_dry_run": "检查报表(不导入)",
    "approve": "审核通过", "return": "退回", "unlock": "解锁", "task_update": "登记任务进展",
    "county_record": "登记区县情况", "user_add": "新建账户", "user_disable": "停用账户",
    "user_reset_password": "重置密码", "user_password": "修改密码", "registry_load": "导入区划名录",
}
OUTCOMES_ZH = {"ok": "成功", "refused": "无权限", "rejected": "未通过检查", "unchanged": "无变化", "failed": "失败"}


from pipelines.store.lake import connection_is_lake, time_id  # noqa: E402


def record(con: duckdb.DuckDBPyConnection, user: User | str | None, action: str, outcome: str = "ok",
           object: str | None = None, unit: str | None = None, details: dict[str, Any] | None = None,
           client: str | None = None, at: dt.datetime | None = None) -> None:
    """Append one row to the audit log (``user``: the acting user, or the name typed at a failed
    sign-in)."""
    name = user.name if isinstance(user, User) else user
    role = user.role if isinstance(user, User) else None
    text = json.dumps(plain(details), ensure_ascii=False, default=str) if details else None
    row = [at or dt.datetime.now(), name, role, action, object, unit, outcome, text, client]
    if connection_is_lake(con):     # no sequence in a DuckLake, and a counter would make every sign-in a conflict
        con.execute("INSERT INTO audit_log (id, logged_at, user_name, role, action, object, unit, outcome, details, "
                    "client) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [time_id(), *row])
        return
    con.execute("INSERT INTO audit_log (logged_at, user_name, role, action, object, unit, outcome, details, client) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)


def entries(con: duckdb.DuckDBPyConnection, reader: User, user: str | None = None, since: dt.date | None = None,
            action: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """The log, newest first, as the reader may see it: everything for an admin or a city user's
    whole scope, a county user's rows about its units and by its units' users."""
    require(reader, "audit")
    where, params = ["TRUE"], []
    if reader.prefix:
        where.append("(starts_with(coalesce(a.unit, ''), ?) OR starts_with(coalesce(u.unit, ''), ?))")
        params += [reader.prefix, reader.prefix]
    if user:
        where.append("a.user_name = ?")
        params.append(user)
    if since:
        where.append("a.logged_at >= ?")
        params.append(dt.datetime.combine(since, dt.time()))
    if action:
        where.append("a.action = ?")
        params.append(action)
    sql = ("SELECT a.id, a.logged_at, a.user_name, a.role, a.action, a.object, a.unit, a.outcome, a.details, a.client "
           "FROM audit_log a LEFT JOIN users u ON u.name = a.user_name "
           f"WHERE {' AND '.join(where)} ORDER BY a.id DESC")
    if limit:
        sql += f" LIMIT {int(limit)}"
    cols = ["id", "at", "user", "role", "action", "object", "unit", "outcome", "details", "client"]
    out = []
    for row in con.execute(sql, params).fetchall():
        r = dict(zip(cols, row))
        r["details"] = json.loads(r["details"]) if r["details"] else None
        r["action_zh"] = ACTIONS_ZH.get(r["action"], r["action"])
        r["outcome_zh"] = OUTCOMES_ZH.get(r["outcome"], r["outcome"])
        out.append(r)
    return out


# the words of a row's details on the 操作日志 page (keys, and the values written in English)
DETAIL_KEYS_ZH = {
    "reason": "原因", "failed_attempts": "连续失败次数", "locked": "已锁定", "role": "角色", "unit": "单位",
    "display_name": "显示名", "code": "代码", "errors": "错误代码", "warnings": "提示数", "period": "报告期",
    "status": "状态", "submission_id": "报送编号", "done_date": "完成日期", "item": "事项", "cycle": "周期",
    "ids": "记录数", "units": "单位数", "by_level": "各层级单位数", "shapes": "边界数", "comment": "意见",
    "file": "文件", "township": "乡镇", "superseded": "替换的报送",
}
DETAIL_VALUES_ZH = {
    "unknown user": "用户不存在", "disabled": "账户已停用", "locked": "账户已锁定", "wrong password": "密码错误",
    "idle": "长时间未操作", "logout": "退出登录", "stored": "已导入", "valid": "检查通过", "rejected": "未通过检查",
    "unchanged": "无变化", "launch": "启动", "half_year": "半年", "year_end": "年末", "True": "是", "False": "否",
    "city": "市", "county": "区县", "township": "乡镇", "village": "村", "province": "省",
}


def details_text(details: dict[str, Any] | None) -> str:
    """A row's details in Chinese: "原因:密码错误;连续失败次数:3" (fields of the county sheet by their
    labels in schemas/fields.yaml)."""
    if not details:
        return ""
    from pipelines.access.roles import ROLES
    from pipelines.catalog.definitions import catalog

    labels = {f.id: f.label for sheet in catalog().sheets.values() for f in sheet.fields}

    def word(v: Any) -> str:
        if isinstance(v, dict):
            return "、".join(f"{word(k)} {word(x)}" for k, x in v.items())
        if isinstance(v, (list, tuple)):
            return "、".join(word(x) for x in v)
        return DETAIL_VALUES_ZH.get(str(v), str(v))

    parts = []
    for k, v in details.items():
        if v in (None, "", [], "None"):
            continue
        parts.append(f"{DETAIL_KEYS_ZH.get(k) or labels.get(k, k)}:{ROLES.get(v, v) if k == 'role' else word(v)}")
    return ";".join(parts)
