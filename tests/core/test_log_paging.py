"""The 操作ログ page's pages (core/audit/export.py log_page): far down the whole log a page is found by entry number
(no OFFSET walk over the entries above it) and is the same page OFFSET gives; sorted by 操作 and 整理番号 in SQL."""

from __future__ import annotations

from sqlalchemy import text

from kodomo_desktop.core.audit import export as E


def _offset_page(ws, limit, offset, descending):
    d = " DESC" if descending else ""
    with ws.engine.connect() as c:
        return [
            r[0] for r in c.execute(text(f"SELECT seq FROM access_log ORDER BY seq{d} LIMIT {limit} OFFSET {offset}"))
        ]


def test_a_deep_page_of_the_log_is_the_page_offset_gives(new_db, monkeypatch):
    monkeypatch.setattr(E, "DEEP_OFFSET", 5)
    for i in range(60):
        new_db.log("export", detail={"rows": i})
    n = E.log_count(new_db)
    assert n > 60
    for offset in (0, 6, 17, n - 10, n - 1, n, n + 5):
        for desc in (True, False):
            got = [r["seq"] for r in E.log_page(new_db, 10, offset, "seq", desc)]
            assert got == _offset_page(new_db, 10, offset, desc), (offset, desc)
    # with a filter the page is the filtered list's (OFFSET over the action's index)
    rows = E.log_page(new_db, 10, 20, "seq", True, action="export")
    assert [r["detail"] for r in rows] == [f'{{"rows": {i}}}' for i in range(39, 29, -1)]


def test_a_log_with_a_gap_pages_by_offset(new_db, monkeypatch):
    """A log missing an entry (a broken chain, reported by verify) still lists every entry it has, in order."""
    from kodomo_desktop.core.storage.db import raw_connect

    monkeypatch.setattr(E, "DEEP_OFFSET", 5)
    for i in range(30):
        new_db.log("export", detail={"rows": i})
    con = raw_connect(new_db.path, new_db.raw_key())
    con.execute("DELETE FROM access_log WHERE seq = 12")
    con.close()
    for offset in (6, 15, 25):
        assert [r["seq"] for r in E.log_page(new_db, 10, offset, "seq", True)] == _offset_page(new_db, 10, offset, True)


def test_the_log_sorts_by_action_and_person_in_sql(new_db):
    new_db.log("view_person", person_id="P000002")
    new_db.log("export", detail={"rows": 1})
    new_db.log("view_person", person_id="P000001")
    by_action = [r["action"] for r in E.log_page(new_db, 1_000, 0, "action", False)]
    assert by_action == sorted(by_action) and "export" in by_action
    by_person = [r["person_id"] for r in E.log_page(new_db, 1_000, 0, "person_id", True) if r["person_id"]]
    assert by_person == ["P000002", "P000001"]
