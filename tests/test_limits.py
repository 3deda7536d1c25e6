"""Bounded by construction: a file over a limit of settings.yaml (size, zip parts, used range, rows)
is refused with its own code before a grid is built — quickly, in little memory, nothing stored."""
from __future__ import annotations

import io
import os
import resource
import time
import zipfile
from pathlib import Path

import pytest

from pipelines.access.roles import local_admin
from pipelines.ingest.pipeline import ingest_uploads
from pipelines.registry.load import load_registry
from pipelines.samples.init import REGION_DIR

ROOT = Path(__file__).resolve().parent.parent
GOOD = ROOT / "data" / "samples" / "returns" / "439921101000_黄嘴镇_2025Q4.xlsx"
ADMIN = local_admin("测试管理员")


@pytest.fixture
def con(tmp_db):
    load_registry(tmp_db, [REGION_DIR / "units.csv"], actor=ADMIN)
    return tmp_db


def rewrite(data: bytes, change) -> bytes:
    """``data`` (an .xlsx) with the 村级情况 sheet's XML passed through ``change``."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet2.xml":
                body = change(body)
            dst.writestr(info, body)
    return out.getvalue()


def ingest_once(con, name: str, data: bytes):
    before = con.execute("SELECT count(*) FROM submissions").fetchone()[0]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    [report] = ingest_uploads(con, [(name, data)], actor=ADMIN)
    seconds = time.perf_counter() - started
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) / 1024
    assert con.execute("SELECT count(*) FROM submissions").fetchone()[0] == before
    return report, seconds, grown_mb


def test_one_cell_at_xfd1048576_is_refused_before_any_grid(con):
    def far(body: bytes) -> bytes:
        return body.replace(b"</sheetData>", b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c>'
                                              b"</row></sheetData>")
    report, seconds, grown = ingest_once(con, "far.xlsx", rewrite(GOOD.read_bytes(), far))
    assert [p.code for p in report.errors] == ["ING062"]
    assert "XFD1048576" in report.errors[0].message
    assert seconds < 5 and grown < 200


def test_a_part_that_inflates_too_far_is_refused(con):
    def bomb(body: bytes) -> bytes:
        return body.replace(b"</worksheet>", b"<!--" + b" " * (300 * 2**20) + b"--></worksheet>")
    data = rewrite(GOOD.read_bytes(), bomb)
    assert len(data) < 2 * 2**20
    report, seconds, grown = ingest_once(con, "bomb.xlsx", data)
    assert [p.code for p in report.errors] == ["ING061"] and "压缩比" in report.errors[0].message
    assert seconds < 5


def test_a_file_over_the_size_limit_is_refused_unread(con):
    report, seconds, _ = ingest_once(con, "big.csv", b"x" * (21 * 2**20))
    assert [p.code for p in report.errors] == ["ING060"] and "20 MB" in report.errors[0].message


def test_a_csv_with_too_many_rows_is_refused(con):
    data = "村代码,村名\n".encode() + b"439921101201,x\n" * 30000
    report, seconds, _ = ingest_once(con, "rows.csv", data)
    assert [p.code for p in report.errors] == ["ING062"] and seconds < 5


def test_thousands_of_duplicate_rows_give_a_short_report(con):
    """Every village row repeated 150 times: ING032 listed 50 times, the rest counted (ING063)."""
    sample = ROOT / "data" / "samples" / "returns" / "439922102000_龙垭镇_2025Q4.csv"
    lines = sample.read_text(encoding="utf-8-sig").splitlines()
    head = [i for i, line in enumerate(lines) if line.startswith("439922102")]
    body = [lines[i] for i in head]
    data = "\n".join(lines[:head[0]] + body * 150 + lines[head[-1] + 1:]).encode("utf-8")
    report, seconds, _ = ingest_once(con, sample.name, data)
    codes = [p.code for p in report.problems]
    assert codes.count("ING032") == 50
    [more] = [p for p in report.problems if p.code == "ING063"]
    assert more.context["code"] == "ING032" and more.context["more"] == len(body) * 149 - 50
    assert len(codes) < 120 and seconds < 20


@pytest.mark.parametrize("content", [b"", b"\x00" * 100, b"garbage that is not a database" * 50])
def test_a_database_that_cannot_be_opened_is_named_and_left_untouched(tmp_path, content):
    from pipelines.errors import RuralTargetsError
    from pipelines.store.db import connect

    path = tmp_path / "broken.duckdb"
    path.write_bytes(content)
    for read_only in (True, False):
        with pytest.raises(RuralTargetsError) as exc:
            connect(path, read_only=read_only, wait_s=0)
        assert exc.value.code == "GEN006" and "broken.duckdb" in exc.value.message_zh
        assert str(tmp_path) not in exc.value.message_zh and "restore" in exc.value.message_zh
    assert path.read_bytes() == content


def test_a_truncated_database_is_named_not_rebuilt(tmp_path):
    from pipelines.errors import RuralTargetsError
    from pipelines.store.db import connect

    whole = tmp_path / "whole.duckdb"
    con = connect(whole)
    con.execute("CREATE TABLE t AS SELECT range AS x FROM range(100000)")
    con.close()
    cut = tmp_path / "cut.duckdb"
    cut.write_bytes(whole.read_bytes()[:5000])
    with pytest.raises(RuralTargetsError) as exc:
        connect(cut)
    assert exc.value.code == "GEN006" and cut.stat().st_size == 5000


def test_backup_while_reading_then_restore_keeps_the_replaced_database(tmp_path):
    from pipelines.errors import RuralTargetsError
    from pipelines.store.backup import backup, restore
    from pipelines.store.db import connect

    live = tmp_path / "live.duckdb"
    con = connect(live)
    load_registry(con, [REGION_DIR / "units.csv"], actor=ADMIN)
    units = con.execute("SELECT count(*) FROM units").fetchone()[0]
    con.close()
    reader = connect(live, read_only=True)             # the dashboard reading meanwhile
    copy = backup(source=live)
    reader.close()
    assert copy.parent == tmp_path / "backups" and copy.suffix == ".duckdb"
    con = connect(live)
    con.execute("DELETE FROM units")                      # a mistake to undo
    con.close()
    result = restore(copy, live)
    con = connect(live, read_only=True)
    assert con.execute("SELECT count(*) FROM units").fetchone()[0] == units
    con.close()
    assert Path(result["kept"]).is_file() and "before-restore" in result["kept"]
    junk = tmp_path / "junk.duckdb"
    junk.write_bytes(b"not a database")
    with pytest.raises(RuralTargetsError) as exc:
        restore(junk, live)
    assert exc.value.code == "GEN006"


def test_a_reader_that_runs_out_of_memory_or_time_costs_only_its_file(con, monkeypatch):
    """The worker's address space and time are capped; a file that exceeds them is ING064 and the
    next file of the batch is stored (the worker is replaced)."""
    import pipelines.ingest.worker as worker
    from pipelines.catalog.definitions import LimitSettings
    from pipelines.errors import RuralTargetsError

    monkeypatch.setattr(worker, "_parse", _sleepy)
    with pytest.raises(RuralTargetsError) as exc:
        worker.read_isolated("slow.xlsx", GOOD.read_bytes(), LimitSettings(seconds_per_file=0.5))
    assert exc.value.code == "ING064" and "秒" in exc.value.message_zh
    monkeypatch.setattr(worker, "_parse", _greedy)
    with pytest.raises(RuralTargetsError) as exc:
        worker.read_isolated("greedy.xlsx", GOOD.read_bytes(), LimitSettings(worker_memory_mb=300))
    assert exc.value.code == "ING064"
    monkeypatch.undo()
    report, _, _ = ingest_once(con, "broken.xlsx", b"PK\x03\x04 not really a zip")
    assert [p.code for p in report.errors] == ["ING006"]
    [ok] = ingest_uploads(con, [(GOOD.name, GOOD.read_bytes())], actor=ADMIN)
    assert ok.status == "stored"


def _sleepy(name, data, limits):
    import time as _time
    _time.sleep(30)


def _greedy(name, data, limits):
    hog = bytearray(2 * 2**30)            # 2 GB: beyond the worker's cap of 300 MB
    return "xlsx", [hog]


def test_an_unexpected_error_in_the_cli_is_a_code_and_a_log_not_a_traceback(tmp_path, monkeypatch, capsys):
    import pipelines.cli.commands as commands
    from pipelines.cli.main import main

    def boom(args):
        raise ValueError("secret detail /srv/private/path")
    monkeypatch.setitem(commands.COMMANDS, "targets", boom)
    db = tmp_path / "x.duckdb"
    assert main(["--db", str(db), "targets"]) == 1
    err = capsys.readouterr().err
    assert "GEN005" in err and "ValueError" in err and "Traceback" not in err and "/srv/private" not in err
    log = (tmp_path / "logs" / "rural-targets.log").read_text(encoding="utf-8")
    assert "Traceback" in log and "secret detail" in log


def test_unicode_text_big5_and_a_password_are_said_as_what_they_are(con):
    sample = ROOT / "data" / "samples" / "returns" / "439922102000_龙垭镇_2025Q4.csv"
    text = sample.read_text(encoding="utf-8-sig")
    unicode_text = "\ufeff".encode("utf-16-le") + text.replace(",", "\t").encode("utf-16-le")   # Excel's "Unicode 文本"
    [report] = ingest_uploads(con, [(sample.name, unicode_text)], dry_run=True, actor=ADMIN)
    assert report.status == "valid", [p.message for p in report.errors]
    big5 = text.encode("big5", errors="ignore")
    [report] = ingest_uploads(con, [("big5.csv", big5)], dry_run=True, actor=ADMIN)
    assert report.errors[0].code == "ING006" and "Big5" in report.errors[0].message
    encrypted = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500 + "EncryptedPackage".encode("utf-16-le")
                 + b"\x00" * 500)
    [report] = ingest_uploads(con, [("locked.xlsx", encrypted)], dry_run=True, actor=ADMIN)
    assert [p.code for p in report.errors] == ["ING065"] and "密码" in report.errors[0].message


def test_a_failed_store_leaves_no_archive_file_and_maintain_removes_old_orphans(con, monkeypatch, tmp_path):
    import pipelines.ingest.store as store
    from pipelines.cli.main import main

    def fail(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(store, "_write", fail)
    with pytest.raises(OSError):
        ingest_uploads(con, [(GOOD.name, GOOD.read_bytes())], actor=ADMIN)
    root = store.archive_dir(con)
    assert not any(p.is_file() for p in root.glob("*/*"))
    monkeypatch.undo()
    stray = root / "ab" / ("ab" + "0" * 62 + ".xlsx")
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"left by a kill")
    [report] = ingest_uploads(con, [(GOOD.name, GOOD.read_bytes())], actor=ADMIN)
    assert report.status == "stored" and stray.exists()       # young: maybe another writer's store in flight
    long_ago = time.time() - store.ORPHAN_AGE_S - 60
    os.utime(stray, (long_ago, long_ago))
    [report] = ingest_uploads(con, [(GOOD.name, GOOD.read_bytes())], actor=ADMIN)
    assert report.status == "unchanged" and not stray.exists()         # the next ingest cleans up
    stray.write_bytes(b"left by a kill")
    os.utime(stray, (long_ago, long_ago))
    path = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0]
    con.close()
    assert main(["--db", path, "maintain", "--json"]) == 0
    assert not stray.exists()


def test_after_a_killed_refresh_the_next_command_refreshes(tmp_path, capsys):
    """The stored tables' state is written only when a refresh completes: a kill leaves them stale,
    which the next `progress` notices and repairs before reading."""
    import fixture_region as F
    from pipelines.cli.main import main
    from pipelines.compute.refresh import refresh
    from pipelines.compute.stored import STATE_KEY, is_fresh

    con, cat = F.build(tmp_path)
    refresh(con, cat)
    con.execute("DELETE FROM meta WHERE key = ?", [STATE_KEY])        # as if killed before the state was written
    assert not is_fresh(con, cat)
    path = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0]
    con.close()
    assert main(["--db", path, "progress", "--json"]) == 0
    capsys.readouterr()
    con = connect_ro(path)
    try:
        assert con.execute("SELECT count(*) FROM meta WHERE key = ?", [STATE_KEY]).fetchone()[0] == 1
    finally:
        con.close()


def connect_ro(path):
    import duckdb
    return duckdb.connect(path, read_only=True)
