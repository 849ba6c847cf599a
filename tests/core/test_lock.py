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
