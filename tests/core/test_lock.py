"""Workspace.lock: the engine is closed and replaced, the key dropped; unlock opens it again; manual vs auto."""

import pytest
from conftest import PASSWORD
from sqlalchemy import text

from kodomo_desktop.core.errors import KodomoError


def _actions(ws):
    with ws.engine.connect() as c:
        return [r[0] for r in c.execute(text("SELECT action FROM access_log ORDER BY seq"))]


@pytest.mark.parametrize("manual, action", [(False, "db_lock"), (True, "db_lock_manual")])
def test_lock_closes_engine_and_drops_key(new_db, manual, action):
    ws = new_db
    old = ws.engine
    ws.lock(manual=manual)
    assert ws.locked and ws._db_key is None and ws._sessions is None
    with pytest.raises(KodomoError):
        ws.engine.connect()  # the old factory (holding the key) is gone with the engine
    with pytest.raises(KodomoError):
        ws.log("search")
    assert old.pool.checkedout() == 0
    ws.unlock(PASSWORD)
    assert not ws.locked and ws.engine is not old
    acts = _actions(ws)
    assert acts[-2:] == [action, "db_open"]
    ws.close()
    ws.close()  # closing twice is harmless


def test_opening_while_another_process_writes_waits_its_turn(new_db):
    """Opening while another process is in the middle of a write (an import started a moment before, found by two
    imports started together): the open reads the user, then logs. In a deferred transaction its read lock cannot
    be promoted while the other holds the write lock, and SQLite answers "database is locked" at once (a possible
    deadlock, so busy_timeout never waits: the open failed in 3 ms). The open takes the write lock first: it waits
    for the other's commit, then opens."""
    from kodomo_desktop.core.workspace import Workspace

    path, key = new_db.path, new_db.raw_key()
    new_db.close()
    ws = _waits_for_the_writer(
        path,
        key,
        "INSERT INTO setting (key, value, changed_at) VALUES ('x', '1', '2026-12-01 00:00:00')",
        lambda: Workspace.open(path, PASSWORD),
    )
    ws.close()


def _waits_for_the_writer(path, key, insert_sql: str, work):
    """``work()`` started while another connection holds the write lock on ``path``: it must still be waiting after
    0.5 s (not refused with "database is locked" at once), and succeed once the other commits. Returns its result."""
    import threading
    import time

    from kodomo_desktop.core.storage.db import raw_connect

    other = raw_connect(path, key)  # another process's connection, in the middle of its write
    other.execute("BEGIN IMMEDIATE")
    other.execute(insert_sql)
    got: dict = {}

    def run():
        try:
            got["result"] = work()
        except Exception as e:  # what the test reports
            got["error"] = e

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.5)
    try:
        assert t.is_alive() and not got, got.get("error")
    finally:
        other.commit()
        other.close()
        t.join(timeout=30)
    assert "error" not in got, got.get("error")
    return got["result"]


def test_a_school_sign_in_while_the_town_writes_its_workspace_waits_its_turn(new_db):
    """A school user signs in while the town's side writes the school's workspace (a sync): the sign-in reads its
    member row, then logs — in a deferred transaction that read lock could not be promoted, and SQLite refused the
    sign-in at once. It takes the write lock first and waits."""
    from kodomo_desktop.core import schoolspace as SW
    from kodomo_desktop.core.workspace import Workspace

    new_db.add_user("t1", "teacher pw 22", "school", "第一小学校")
    store = SW.open_store(new_db, SW.row_of(new_db, "第一小学校"))
    path, key = store.path, store.key
    store.close()
    town = new_db.path
    new_db.close()
    ws = _waits_for_the_writer(
        path,
        key,
        "INSERT INTO school_meta (key, value) VALUES ('x', '1')",
        lambda: Workspace.open(town, "teacher pw 22", "t1"),
    )
    ws.close()
