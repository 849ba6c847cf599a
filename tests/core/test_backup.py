"""Encrypted backup and restore: round trip, damaged and truncated backups refused, target untouched."""

import pytest
from conftest import PASSWORD
from sqlalchemy import text

from kodomo_desktop.core.errors import InputRefused, PermissionDenied
from kodomo_desktop.core.security.backup import backup, restore
from kodomo_desktop.core.workspace import Workspace


def _fill(ws):
    with ws.engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO person (id, name, birth_date, in_registry, created_at) "
                "VALUES ('P000001', '試験 太郎', '2017-01-02', 1, '2026-01-01 00:00:00')"
            )
        )


def test_round_trip(new_db, tmp_path):
    _fill(new_db)
    new_db.add_user("s1", "staff pw", "staff")
    out = backup(new_db, tmp_path / "b.bak")
    raw = (tmp_path / "b.bak").read_bytes()
    assert "試験".encode() not in raw and "試験".encode("cp932") not in raw
    restore(tmp_path / "b.bak", tmp_path / "r.db", PASSWORD)
    ws = Workspace.open(tmp_path / "r.db", "staff pw", "s1")  # the same users' passwords open it
    with ws.engine.connect() as c:
        assert c.execute(text("SELECT name FROM person")).scalar() == "試験 太郎"
        assert c.execute(text("SELECT count(*) FROM access_log WHERE action='restore'")).scalar() == 1
    assert ws.verify()["ok"]
    ws.close()
    assert out["bytes"] == len(raw)


@pytest.mark.parametrize("damage", ["flip", "cut"])
def test_damaged_backup_refused_and_target_untouched(new_db, tmp_path, damage):
    _fill(new_db)
    backup(new_db, tmp_path / "b.bak")
    data = bytearray((tmp_path / "b.bak").read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0x01
    else:
        data = data[: len(data) - 1000]
    (tmp_path / "bad.bak").write_bytes(bytes(data))
    target = tmp_path / "existing.db"
    target.write_bytes(b"existing content")
    with pytest.raises(InputRefused):
        restore(tmp_path / "bad.bak", target, PASSWORD)
    assert target.read_bytes() == b"existing content"
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith((".lock", ".inuse"))) == sorted(
        ["b.bak", "bad.bak", "existing.db", "t.db", "t.db.keys"]
    )


def test_only_coordinator_backs_up(new_db, tmp_path):
    new_db.add_user("s1", "staff pw", "staff")
    path = new_db.path
    new_db.close()
    ws = Workspace.open(path, "staff pw", "s1")
    with pytest.raises(PermissionDenied):
        backup(ws, tmp_path / "x.bak")
    ws.close()
