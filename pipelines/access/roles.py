"""Roles scoped to units: what each role may do, and where.

A user belongs to one unit (12-digit code) and acts inside its subtree (codes starting with the
unit's prefix); an admin may have no unit, i.e. every unit.

=========  ==============  ====================================================================
role       名称            may
=========  ==============  ====================================================================
clerk      乡镇填报员      upload its own township's returns (dry run and store); read its township
county     区县审核员      everything of its county: upload for its townships, review (approve,
                           return, unlock) their returns, record its county sheet, task updates
city       市级管理员      read everything in its city or province; publish; review and record
                           county sheets in its scope; task updates
admin      系统管理员      everything, and accounts and registry loads
=========  ==============  ====================================================================

``require`` is called by every write API before it changes anything; a refusal is a
``RuralTargetsError`` (AUTH010: the role may not; AUTH011: outside the user's units).
"""
from __future__ import annotations

from dataclasses import dataclass

from pipelines.errors import RuralTargetsError
from pipelines.units import LEVEL_ZH, PREFIX_LEN, level_of

ROLES = {"clerk": "乡镇填报员", "county": "区县审核员", "city": "市级管理员", "admin": "系统管理员"}
ROLE_LEVELS = {"clerk": ("township",), "county": ("county",), "city": ("city", "province"),
               "admin": ("province", "city", "county", "township", None)}
# action: (Chinese verb, English verb, roles allowed)
ACTIONS = {
    "ingest": ("上传报表", "upload returns", {"clerk", "county", "admin"}),
    "review": ("审核报表", "review returns", {"county", "city", "admin"}),
    "county_record": ("登记区县情况", "record county sheets", {"county", "city", "admin"}),
    "task": ("登记任务进展", "record task updates", {"county", "city", "admin"}),
    "publish": ("导出发布通报", "publish", {"county", "city", "admin"}),
    "registry": ("导入区划名录", "load the registry", {"admin"}),
    "accounts": ("管理账户", "manage accounts", {"admin"}),
    "audit": ("查看操作日志", "read the audit log", {"county", "city", "admin"}),
}


@dataclass(frozen=True)
class User:
    """The acting user: an account, or the local administrator of the command line."""

    name: str
    role: str
    unit: str | None = None
    display_name: str = ""

    @property
    def role_zh(self) -> str:
        """The role's Chinese name."""
        return ROLES.get(self.role, self.role)

    @property
    def prefix(self) -> str:
        """The code prefix of the user's units ('' for every unit)."""
        return "" if not self.unit else self.unit[:PREFIX_LEN[level_of(self.unit)]]

    def covers(self, code: str | None) -> bool:
        """Whether unit ``code`` lies inside the user's units."""
        return bool(code) and str(code).startswith(self.prefix) if self.prefix else True

    @property
    def label(self) -> str:
        """"张明(乡镇填报员)" for messages and the audit trail."""
        return f"{self.display_name or self.name}({self.role_zh})"


def local_admin(name: str = "本机管理员") -> User:
    """The command line's user: whoever can open the database file administers it."""
    return User(name=name, role="admin", unit=None, display_name=name)


def allowed(user: User, action: str, unit: str | None = None) -> bool:
    """Whether ``user`` may do ``action`` (on ``unit``, when it concerns one)."""
    return user.role in ACTIONS[action][2] and (unit is None or user.covers(unit))


def require(user: User | None, action: str, unit: str | None = None, target: str | None = None) -> User:
    """``user`` when it may do ``action`` on ``unit``; else AUTH010 (the role may not) or AUTH011
    (outside its units). ``target`` names the object in the message (defaults to ``unit``)."""
    verb, verb_en, roles = ACTIONS[action]
    if user is None or user.role not in roles:
        who = "、".join(ROLES[r] for r in ROLES if r in roles)
        raise RuralTargetsError("AUTH010", user=user.name if user else "(未登录)", role=user.role if user else "",
                                role_zh=user.role_zh if user else "未登录", action=verb, action_en=verb_en, who=who)
    if unit is not None and not user.covers(unit):
        raise RuralTargetsError("AUTH011", user=user.name, role=user.role, role_zh=user.role_zh,
                                home=user.unit or "", action=verb, action_en=verb_en, target=target or unit)
    return user


def check_role_unit(role: str, unit: str | None) -> None:
    """AUTH007 for an unknown role, AUTH008 when ``unit`` is not of the level the role needs."""
    if role not in ROLES:
        raise RuralTargetsError("AUTH007", role=role, known=", ".join(f"{k}({v})" for k, v in ROLES.items()))
    level = level_of(unit) if unit else None
    if level not in ROLE_LEVELS[role]:
        expected = "/".join(LEVEL_ZH[x] for x in ROLE_LEVELS[role] if x)
        raise RuralTargetsError("AUTH008", role=role, role_zh=ROLES[role], expected=expected, unit=unit or "(无)",
                                level=LEVEL_ZH.get(level, "无"))
