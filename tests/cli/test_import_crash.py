"""One batch, all or nothing: an importing process killed (SIGKILL) in the middle of writing its rows leaves the
database as it was — reopened, it holds the earlier batch and nothing of the killed one, and passes verify.

The child process imports a generated 40,000-row CP932 CSV; its progress callback (called after each 5,000-row chunk
has gone into SQLite) announces itself once 30,000 rows are written and then waits to be killed, so the kill lands
inside the open transaction with pages already spilled to the database file and its rollback journal."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import textwrap
import time
from pathlib import Path

from forkrun import start_code

from kodomo_desktop.core.workspace import Workspace

PW = "crash test pw"
HEADER = "学校名,学年,組,出席番号,児童氏名,フリガナ,生年月日,性別,欠席日数,遅刻日数"


def _csv(path: Path, n: int, seed: int) -> None:
    sur = ["見本", "試験", "仮野", "例田", "髙見", "山﨑", "渡邊", "齋木"]
    giv = ["花子", "一郎", "陽菜", "湊", "結衣", "蓮", "葵", "翔"]
    with open(path, "w", encoding="cp932", newline="") as fh:
        fh.write("令和8年度 出欠状況\r\n\r\n" + HEADER + "\r\n")
        for i in range(n):
            b = dt.date(2010, 4, 2) + dt.timedelta(days=(i * 7 + seed) % 4000)
            fh.write(
                f"第一小学校,{1 + i % 6},{1 + i % 3},{i % 40 + 1},{sur[i % 8]}　{giv[(i // 8) % 8]}{i},"
                f"ミホン ハナコ,{b:%Y/%m/%d},{'男' if i % 2 else '女'},{i % 30},{i % 7}\r\n"
            )


def _state(db: Path) -> dict:
    from sqlalchemy import text

    ws = Workspace.open(db, PW)
    try:
        with ws.session() as s:
            return {
                "batches": s.execute(text("SELECT id, file_name, rows_imported FROM source_batch ORDER BY id")).all(),
                "records": s.execute(text("SELECT count(*), sum(row_number) FROM source_record")).one(),
                "rejected": s.execute(text("SELECT count(*) FROM rejected_row")).scalar(),
            }
    finally:
        ws.close()


def test_killed_import_leaves_database_unchanged(tmp_path):
    db = tmp_path / "crash.db"
    ws = Workspace.create(db, PW)
    first = tmp_path / "出欠_9月.csv"
    _csv(first, 500, seed=1)
    from kodomo_desktop.core.importing.service import import_file

    res = import_file(ws, first, "school_attendance", as_of="2026-09-01")
    assert res.imported == 500
    ws.close()
    before = _state(db)

    big = tmp_path / "出欠_10月.csv"
    _csv(big, 40_000, seed=2)
    child = textwrap.dedent(f"""
        import os, sys, time
        os.environ["KODOMO_KDF_TARGET_MS"] = "20"
        from kodomo_desktop.core.workspace import Workspace
        from kodomo_desktop.core.importing.service import import_file
        ws = Workspace.open({str(db)!r}, {PW!r})
        def progress(done, total):
            if done >= 30000:
                print("MID", done, total, flush=True)
                time.sleep(120)  # killed here, inside the open transaction
        import_file(ws, {str(big)!r}, "school_attendance", as_of="2026-10-01", progress=progress)
        print("FINISHED", flush=True)
    """)
    env = dict(os.environ, KODOMO_KDF_TARGET_MS="20")
    p = start_code(child, env=env, capture_in=tmp_path)  # a real process (a fork of this one: tests/forkrun.py)
    try:
        deadline = time.monotonic() + 120
        while "MID" not in p.output_so_far() and time.monotonic() < deadline:
            if os.waitpid(p.pid, os.WNOHANG) != (0, 0):  # ended before the middle of its import
                raise AssertionError(p.output_so_far())
            time.sleep(0.02)
        assert p.output_so_far().startswith("MID"), p.output_so_far()
        # The transaction is open and has written pages: the file or its rollback journal changed on disk.
        journal = Path(str(db) + "-journal")
        assert journal.exists() and journal.stat().st_size > 0
    finally:
        with contextlib.suppress(ProcessLookupError):  # (already reaped when it ended early: that failure shows)
            os.kill(p.pid, signal.SIGKILL)
    assert p.wait() == -signal.SIGKILL

    after = _state(db)
    assert after == before  # the earlier batch intact, nothing of the killed one
    assert after["records"][0] == 500
    ws = Workspace.open(db, PW)
    try:
        assert ws.verify()["ok"]
    finally:
        ws.close()

    # And the same file imports cleanly afterwards (the half-written batch left no duplicate hash behind).
    ws = Workspace.open(db, PW)
    try:
        res = import_file(ws, big, "school_attendance", as_of="2026-10-01")
        assert res.imported == 40_000 and res.duplicate_of is None
    finally:
        ws.close()


def test_profile_remembers_columns_left_unmapped(tmp_path):
    """A column the user unmapped stays unmapped next month (the profile keeps "-", not just the mapped ones)."""
    from kodomo_desktop.core.importing.service import import_file, preview

    ws = Workspace.create(tmp_path / "p.db", PW)
    try:
        sep, oct_ = tmp_path / "出欠_9月.csv", tmp_path / "出欠_10月.csv"
        _csv(sep, 20, seed=1)
        _csv(oct_, 25, seed=2)
        assert preview(ws, sep, "school_attendance")["mapping"].get("遅刻日数") == "late_days"
        res = import_file(ws, sep, "school_attendance", mapping={"遅刻日数": "-"}, as_of="2026-09-01")
        assert "遅刻日数" not in res.mapping
        assert "遅刻日数" not in preview(ws, oct_, "school_attendance")["mapping"]
        res2 = import_file(ws, oct_, "school_attendance", as_of="2026-10-01")
        assert "遅刻日数" not in res2.mapping and res2.mapping.get("欠席日数") == "absence_days"
    finally:
        ws.close()
