"""Issue 10: accounts, roles scoped to units, approval of returns and the audit trail, on the fixture
region (测试市 › 测试县 › 甲镇 TA, 乙镇 TB, 丙镇 TC) through the real pipelines and a real database."""
from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys

import pytest

import fixture_region as F
from pipelines.access import accounts, audit, review
from pipelines.access.roles import User, local_admin
from pipelines.compute.assess import assess_frame
from pipelines.compute.records import record_county_values, record_task_update
from pipelines.errors import RuralTargetsError
from pipelines.ingest.pipeline import ingest_uploads
from pipelines.registry.load import load_registry
from pipelines.store.db import connect

ADMIN = local_admin("测试管理员")
PASSWORD = "correct-horse-42"
ACCOUNTS = {"clerk_a": ("clerk", F.TA), "clerk_b": ("clerk", F.TB), "county": ("county", F.COUNTY),
            "city": ("city", F.CITY), "boss": ("admin", None)}
OTHER_COUNTY = "439802000000"
TABLES = ("submissions", "village_values", "county_values", "task_values", "units", "users")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The fixture region with one account per role and a second county, closed; tests copy it."""
    root = tmp_path_factory.mktemp("access")
    con, cat = F.build(root)
    for name, (role, unit) in ACCOUNTS.items():
        accounts.add_user(con, ADMIN, name, role, unit, PASSWORD, display_name=f"{name} 显示名")
    (root / "more.csv").write_text("code,name,parent_code\n439802000000,另一县,439800000000\n"
                                   "439802100000,丁镇,439802000000\n", encoding="utf-8")
    load_registry(con, [root / "more.csv"], actor=ADMIN)
    con.close()
    return root / "region.duckdb", cat


@pytest.fixture
def db(built, tmp_path):
    path, cat = built
    copy = tmp_path / "access.duckdb"
    shutil.copyfile(path, copy)
    con = connect(copy)
    yield con, cat, copy
    con.close()


def as_user(con, name: str) -> User:
    return accounts.get_user(con, name)


def counts(con) -> dict[str, int]:
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def upload(con, user: User, township: str, period: str, variant: int, dry_run: bool = False):
    """``township``'s return for ``period`` — as the fixture sent it (variant 0) or a re-saved copy
    (other bytes, the same values: variant 1, 2 …)."""
    name = f"{township}_{period}_v{variant}.csv"
    data = F.csv_return(township, period) + b"\r\n" * variant
    [report] = ingest_uploads(con, [(name, data)], dry_run=dry_run, actor=user)
    return report


def last_audit(con) -> dict:
    return audit.entries(con, ADMIN, limit=1)[0]


# ---------------------------------------------------------------------------- accounts and sign-in

def test_passwords_are_argon2_hashes_and_sign_in_checks_them(db):
    con, _, _ = db
    stored = con.execute("SELECT password_hash FROM users WHERE name = 'clerk_a'").fetchone()[0]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    user = accounts.sign_in(con, "clerk_a", PASSWORD, client="10.0.0.8")
    assert (user.role, user.unit) == ("clerk", F.TA)
    row = last_audit(con)
    assert (row["user"], row["action"], row["outcome"], row["client"]) == ("clerk_a", "login", "ok", "10.0.0.8")
    assert con.execute("SELECT last_login IS NOT NULL FROM users WHERE name = 'clerk_a'").fetchone()[0]
    for name, password in (("clerk_a", "wrong-password-1"), ("nobody", PASSWORD)):
        with pytest.raises(RuralTargetsError) as exc:
            accounts.sign_in(con, name, password)
        assert exc.value.code == "AUTH001" and "用户名或密码不正确" in exc.value.message_zh   # never says which
        assert last_audit(con)["outcome"] == "refused"


def test_five_failures_lock_the_account_until_a_reset(db):
    con, _, _ = db
    t0 = dt.datetime(2026, 3, 2, 9, 0)
    for i in range(4):
        with pytest.raises(RuralTargetsError) as exc:
            accounts.sign_in(con, "clerk_b", f"wrong-{i}-password", now=t0)
        assert exc.value.code == "AUTH001"
    with pytest.raises(RuralTargetsError) as exc:
        accounts.sign_in(con, "clerk_b", "wrong-4-password", now=t0)
    assert exc.value.code == "AUTH003" and "锁定" in exc.value.message_zh
    with pytest.raises(RuralTargetsError) as exc:           # even the right password, while locked
        accounts.sign_in(con, "clerk_b", PASSWORD, now=t0 + dt.timedelta(minutes=5))
    assert exc.value.code == "AUTH003"
    assert accounts.sign_in(con, "clerk_b", PASSWORD, now=t0 + dt.timedelta(minutes=16)).name == "clerk_b"
    for i in range(5):
        with pytest.raises(RuralTargetsError):
            accounts.sign_in(con, "clerk_b", f"again-{i}-wrong", now=t0 + dt.timedelta(hours=1))
    accounts.reset_password(con, ADMIN, "clerk_b", "a-new-password-77")
    assert accounts.sign_in(con, "clerk_b", "a-new-password-77", now=t0 + dt.timedelta(hours=1)).name == "clerk_b"


@pytest.mark.parametrize("name, role, unit, password, code", [
    ("x", "clerk", F.TA, PASSWORD, "AUTH009"),                 # name too short
    ("张三", "clerk", F.TA, PASSWORD, "AUTH009"),               # not ASCII
    ("clerk_c", "clerk", F.TC, "short", "AUTH004"),
    ("clerk_c", "clerk", F.COUNTY, PASSWORD, "AUTH008"),      # a clerk belongs to a township
    ("county2", "county", F.TA, PASSWORD, "AUTH008"),
    ("clerk_c", "mayor", F.TC, PASSWORD, "AUTH007"),
    ("clerk_a", "clerk", F.TA, PASSWORD, "AUTH005"),           # taken
    ("clerk_c", "clerk", "439801109000", PASSWORD, "REG009"),  # no such township
])
def test_bad_accounts_are_refused_and_nothing_is_stored(db, name, role, unit, password, code):
    con, _, _ = db
    before = counts(con)
    with pytest.raises(RuralTargetsError) as exc:
        accounts.add_user(con, ADMIN, name, role, unit, password)
    assert exc.value.code == code and exc.value.message_zh
    assert counts(con) == before


def test_a_disabled_account_cannot_sign_in_and_only_an_admin_manages_accounts(db):
    con, _, _ = db
    with pytest.raises(RuralTargetsError) as exc:
        accounts.add_user(con, as_user(con, "city"), "clerk_c", "clerk", F.TC, PASSWORD)
    assert exc.value.code == "AUTH010"
    accounts.disable_user(con, as_user(con, "boss"), "clerk_b")
    with pytest.raises(RuralTargetsError) as exc:
        accounts.sign_in(con, "clerk_b", PASSWORD)
    assert exc.value.code == "AUTH002"
    listed = accounts.list_users(con, as_user(con, "county"))
    assert {u["name"] for u in listed} == {"clerk_a", "clerk_b", "county"}       # its county's accounts
    assert all("password_hash" not in u for u in listed)


# ---------------------------------------------------------------------------- every role × every write

WRITES = {
    # what: (function of (con, user, cat, units.csv), the accounts that may)
    "ingest 乙镇 2020Q4 (first return)": (lambda con, u, cat, f: upload(con, u, F.TB, "2020Q4", 1),
                                       {"clerk_b", "county", "boss"}),
    "county sheet of 测试县": (lambda con, u, cat, f: record_county_values(
        con, F.COUNTY, 2020, {"innovation_experiments": 2}, actor=u, cat=cat), {"county", "city", "boss"}),
    "county sheet of 另一县": (lambda con, u, cat, f: record_county_values(
        con, OTHER_COUNTY, 2020, {"innovation_experiments": 1}, actor=u, cat=cat), {"city", "boss"}),
    "task update": (lambda con, u, cat, f: record_task_update(con, F.PLAN, "ts-task-01", "民政局", "推进中", actor=u,
                                                              cat=cat), {"county", "city", "boss"}),
    "registry load": (lambda con, u, cat, f: load_registry(con, [f], actor=u), {"boss"}),
}


@pytest.mark.parametrize("what", list(WRITES))
@pytest.mark.parametrize("name", list(ACCOUNTS))
def test_each_role_may_write_only_what_it_is_allowed_to(db, built, what, name):
    con, cat, _ = db
    units_csv = built[0].parent / "units.csv"
    fn, allowed = WRITES[what]
    user = as_user(con, name)
    before = counts(con)
    if name in allowed:
        result = fn(con, user, cat, units_csv)
        assert getattr(result, "status", "stored") in ("stored", "unchanged") or isinstance(result, dict)
        if what.startswith("ingest"):
            assert result.status == "stored", [p.message for p in result.problems]
            assert con.execute("SELECT uploaded_by, review_status FROM submissions WHERE id = ?",
                               [result.submission_id]).fetchone() == (name, "submitted")
        entry = last_audit(con)
        assert entry["user"] == name and entry["outcome"] == "ok"
        return
    if what.startswith("ingest") and name == "clerk_a":       # a file of another township: rejected
        report = fn(con, user, cat, units_csv)
        assert report.status == "rejected" and report.errors[0].code == "AUTH011"
        assert "不在本账户管辖范围内" in report.errors[0].message
    else:
        with pytest.raises(RuralTargetsError) as exc:
            fn(con, user, cat, units_csv)
        assert exc.value.code in ("AUTH010", "AUTH011") and exc.value.message_zh
    after = counts(con)
    assert after == before, (before, after)
    entry = last_audit(con)
    assert entry["user"] == name and entry["outcome"] == "refused"


def test_a_review_outside_the_reviewers_units_is_refused(db):
    con, _, _ = db
    report = upload(con, as_user(con, "clerk_b"), F.TB, "2020Q4", 1)
    other = User(name="x", role="county", unit=OTHER_COUNTY)
    with pytest.raises(RuralTargetsError) as exc:
        review.approve(con, other, report.submission_id)
    assert exc.value.code == "AUTH011"
    for name in ("clerk_a", "clerk_b"):
        with pytest.raises(RuralTargetsError) as exc:
            review.approve(con, as_user(con, name), report.submission_id)
        assert exc.value.code == "AUTH010"
    assert con.execute("SELECT review_status FROM submissions WHERE id = ?",
                       [report.submission_id]).fetchone()[0] == "submitted"


# ---------------------------------------------------------------------------- approval

def test_approval_locks_returning_asks_a_comment_unlocking_a_reason(db):
    con, cat, _ = db
    clerk, county = as_user(con, "clerk_a"), as_user(con, "county")
    old = con.execute("SELECT id FROM submissions WHERE township_code = ? AND period = '2020Q4' AND status = 'active'",
                      [F.TA]).fetchone()[0]
    # the fixture's 甲镇 2020Q4 return is approved: a corrected file is refused (dry run too), nothing stored
    before = counts(con)
    for dry in (True, False):
        report = upload(con, clerk, F.TA, "2020Q4", 1, dry_run=dry)
        assert report.status == "rejected" and report.errors[0].code == "ING052"
        assert "2020年第4季度" in report.errors[0].message and "锁定" in report.errors[0].message
        assert "解锁" in report.errors[0].message
    assert counts(con) == before
    with pytest.raises(RuralTargetsError) as exc:
        review.unlock(con, county, old, "  ")
    assert exc.value.code == "REV003"
    review.unlock(con, county, old, "甲二村人口填错,同意更正")
    report = upload(con, clerk, F.TA, "2020Q4", 1)
    assert report.status == "stored" and report.superseded == old
    new = report.submission_id
    with pytest.raises(RuralTargetsError) as exc:
        review.approve(con, county, old)                # superseded: only the active one is reviewed
    assert exc.value.code == "REV004"
    with pytest.raises(RuralTargetsError) as exc:
        review.return_submission(con, county, new, "")
    assert exc.value.code == "REV003"
    review.return_submission(con, county, new, "乙一村志愿者人数与上季度差异过大,请核实")
    queue = review.review_queue(con, clerk, status="returned")
    assert [(r["id"], r["review_comment"]) for r in queue] == [(new, "乙一村志愿者人数与上季度差异过大,请核实")]
    with pytest.raises(RuralTargetsError) as exc:
        review.unlock(con, county, new, "不需要")       # only an approved one can be unlocked
    assert exc.value.code == "REV002"
    again = upload(con, clerk, F.TA, "2020Q4", 2)      # the corrected return replaces the returned one
    assert again.status == "stored" and again.superseded == new
    review.approve(con, county, again.submission_id)
    assert upload(con, clerk, F.TA, "2020Q4", 0).errors[0].code == "ING052"
    steps = [(e["action"], e["outcome"]) for e in reversed(audit.entries(con, ADMIN, limit=12))]
    assert ("unlock", "ok") in steps and ("return", "ok") in steps and ("approve", "ok") in steps
    assert ("ingest", "rejected") in steps


def test_progress_uses_approved_returns_only(db):
    con, cat, _ = db
    county = as_user(con, "county")

    def known(period: str) -> int:
        rows = assess_frame(con, cat, plan=F.PLAN, unit=F.TB, level="township", period=period, stored=False)
        return int(rows["value"].notna().sum())

    assert known("2020Q4") == 0                                  # 乙镇 has not sent 2020Q4
    report = upload(con, as_user(con, "clerk_b"), F.TB, "2020Q4", 0)
    assert report.status == "stored" and known("2020Q4") == 0    # 待审核: not used yet
    review.approve(con, county, report.submission_id)
    assert known("2020Q4") > 0


# ---------------------------------------------------------------------------- the audit trail

def test_the_audit_trail_records_every_step_and_is_scoped(db):
    con, _, _ = db
    clerk_b = as_user(con, "clerk_b")
    upload(con, clerk_b, F.TB, "2020Q4", 0, dry_run=True)
    report = upload(con, clerk_b, F.TB, "2020Q4", 0)
    review.approve(con, as_user(con, "county"), report.submission_id)
    record_county_values(con, OTHER_COUNTY, 2020, {"innovation_experiments": 1}, actor=as_user(con, "city"))
    rows = audit.entries(con, ADMIN, since=dt.date.today())
    steps = [(r["user"], r["action"], r["outcome"]) for r in reversed(rows)]
    assert steps[-4:] == [("clerk_b", "ingest_dry_run", "ok"), ("clerk_b", "ingest", "ok"), ("county", "approve", "ok"),
                          ("city", "county_record", "ok")]
    assert rows[2]["details"]["submission_id"] == report.submission_id
    seen_by_county = audit.entries(con, as_user(con, "county"))
    assert all(r["unit"] is None or r["unit"].startswith("439801") or r["user"] in ("clerk_a", "clerk_b", "county")
               for r in seen_by_county)
    assert not any(r["unit"] == OTHER_COUNTY for r in seen_by_county)
    with pytest.raises(RuralTargetsError) as exc:
        audit.entries(con, clerk_b)
    assert exc.value.code == "AUTH010"
    # append-only by construction: no API updates or deletes; the table only grows
    n = con.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    with pytest.raises(RuralTargetsError):
        upload(con, as_user(con, "city"), F.TB, "2020Q4", 1)
    assert con.execute("SELECT count(*) FROM audit_log").fetchone()[0] == n + 1


# ---------------------------------------------------------------------------- the command line

def cli(path, *args, stdin: str | None = None):
    return subprocess.run([sys.executable, "-m", "pipelines.cli.main", "--db", str(path), *args],
                          capture_output=True, text=True, input=stdin, timeout=300)


def test_cli_acts_as_the_named_user_with_its_rights(db, tmp_path):
    con, _, path = db
    file_b = tmp_path / f"{F.TB}_2020Q4.csv"
    file_b.write_bytes(F.csv_return(F.TB, "2020Q4", 0))
    con.close()
    refused = cli(path, "ingest", "--as", "clerk_a", str(file_b))
    assert refused.returncode == 2 and "AUTH011" in refused.stdout + refused.stderr
    stored = cli(path, "ingest", "--as", "clerk_b", str(file_b), "--json")
    assert stored.returncode == 0, stored.stderr
    sid = json.loads(stored.stdout)[0]["submission_id"]
    listed = json.loads(cli(path, "review", "list", "--as", "county", "--status", "submitted", "--json").stdout)
    assert [(r["id"], r["uploaded_by"]) for r in listed] == [(sid, "clerk_b")]
    assert cli(path, "review", "approve", str(sid), "--as", "clerk_b").returncode == 2
    ok = cli(path, "review", "approve", str(sid), "--as", "county", "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["review_status"] == "approved"
    trail = json.loads(cli(path, "audit", "--json", "--limit", "5").stdout)
    assert [(r["user"], r["action"], r["outcome"]) for r in trail[:3]] == [
        ("county", "approve", "ok"), ("clerk_b", "approve", "refused"), ("clerk_b", "ingest", "ok")]
    added = cli(path, "user", "add", "clerk_c", "--role", "clerk", "--unit", F.TC, "--password-stdin", "--json",
                stdin="another-good-password\n")
    assert added.returncode == 0, added.stderr
    users = json.loads(cli(path, "user", "list", "--json").stdout)
    assert "clerk_c" in {u["name"] for u in users} and not any("hash" in k for u in users for k in u)
    short = cli(path, "user", "add", "clerk_d", "--role", "clerk", "--unit", F.TC, "--password-stdin", stdin="123\n")
    assert short.returncode == 2 and "AUTH004" in short.stderr


def test_a_session_token_survives_a_reload_until_idle_logout_or_disable(db):
    con, _, _ = db
    user = accounts.sign_in(con, "clerk_a", PASSWORD)
    t0 = dt.datetime(2026, 3, 2, 9, 0)
    token = accounts.open_session(con, user, now=t0)
    assert len(token) >= 40 and con.execute("SELECT count(*) FROM user_sessions WHERE token_hash = ?",
                                            [token]).fetchone()[0] == 0          # only the hash is stored
    assert accounts.resume_session(con, token, now=t0 + dt.timedelta(minutes=20)).name == "clerk_a"
    assert accounts.resume_session(con, token, now=t0 + dt.timedelta(minutes=45)).name == "clerk_a"
    assert accounts.resume_session(con, token + "x", now=t0) is None
    assert accounts.resume_session(con, token, now=t0 + dt.timedelta(minutes=80)) is None     # idle > 30 min
    assert accounts.resume_session(con, token, now=t0 + dt.timedelta(minutes=81)) is None     # and stays ended
    second = accounts.open_session(con, user, now=t0)
    accounts.end_session(con, second, now=t0)
    assert accounts.resume_session(con, second, now=t0) is None
    third = accounts.open_session(con, user)
    accounts.disable_user(con, ADMIN, "clerk_a")
    assert accounts.resume_session(con, third) is None
