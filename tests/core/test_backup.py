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


# -- streaming (issue 21): the file format of the in-memory version, read and written in chunks ----------------------
def _reference_backup(ws, out):
    """A backup written the way the first (in-memory) version wrote it: the format every older backup has."""
    import hashlib
    import json
    import struct

    from kodomo_desktop.core.security.backup import MAGIC
    from kodomo_desktop.core.storage import keys as K

    ws.save_anchor()
    db_bytes = ws.path.read_bytes()
    keys_bytes = K.key_file_path(ws.path).read_bytes()
    manifest = json.dumps(
        {
            "created_at": "2026-04-01T09:00:00+09:00",
            "db_size": len(db_bytes),
            "db_sha256": hashlib.sha256(db_bytes).hexdigest(),
            "keys_size": len(keys_bytes),
            "keys_sha256": hashlib.sha256(keys_bytes).hexdigest(),
            "source_name": ws.path.name,
        }
    ).encode("utf-8")
    body = MAGIC + struct.pack(">I", len(manifest)) + manifest + keys_bytes + db_bytes
    out.write_bytes(body + hashlib.sha256(body).digest())
    return len(db_bytes)


def _reference_read(path):
    """The first version's reader: (manifest, keys, db) or None when it would refuse the file."""
    import hashlib
    import json
    import struct

    from kodomo_desktop.core.security.backup import MAGIC

    data = path.read_bytes()
    body, digest = data[:-32], data[-32:]
    if not data.startswith(MAGIC) or hashlib.sha256(body).digest() != digest:
        return None
    pos = len(MAGIC)
    (mlen,) = struct.unpack(">I", body[pos : pos + 4])
    manifest = json.loads(body[pos + 4 : pos + 4 + mlen])
    keys = body[pos + 4 + mlen : pos + 4 + mlen + manifest["keys_size"]]
    db = body[pos + 4 + mlen + manifest["keys_size"] :]
    ok = len(db) == manifest["db_size"] and hashlib.sha256(db).hexdigest() == manifest["db_sha256"]
    return (manifest, keys, db) if ok else None


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks far smaller than the database, so every streaming loop runs many times."""
    from kodomo_desktop.core.security import backup as BK

    monkeypatch.setattr(BK, "CHUNK", 4096)


def test_a_backup_in_the_first_format_restores(new_db, tmp_path, small_chunks):
    _fill(new_db)
    size = _reference_backup(new_db, tmp_path / "old.bak")
    out = restore(tmp_path / "old.bak", tmp_path / "r.db", PASSWORD)
    assert out["bytes"] == size > 4096 * 3 and out["backup_at"] == "2026-04-01T09:00:00+09:00"
    ws = Workspace.open(tmp_path / "r.db", PASSWORD)
    with ws.engine.connect() as c:
        assert c.execute(text("SELECT name FROM person")).scalar() == "試験 太郎"
    assert ws.verify()["ok"]
    ws.close()


def test_a_streamed_backup_is_in_the_first_format(new_db, tmp_path, small_chunks):
    from kodomo_desktop.core.security.backup import check_backup

    _fill(new_db)
    out = backup(new_db, tmp_path / "b.bak")
    ref = _reference_read(tmp_path / "b.bak")
    assert ref is not None, "the first version's reader refuses the streamed backup"
    manifest, keys, db = ref
    assert manifest["db_size"] == len(db) > 4096 * 3  # many chunks
    assert out["bytes"] == (tmp_path / "b.bak").stat().st_size
    assert check_backup(tmp_path / "b.bak")["db_sha256"] == manifest["db_sha256"]
    assert not (tmp_path / "b.bak.part").exists()


@pytest.mark.parametrize("damage", ["flip-db", "flip-digest", "cut", "manifest"])
def test_a_damaged_backup_leaves_nothing_beside_a_new_target(new_db, tmp_path, damage, small_chunks):
    import struct

    _fill(new_db)
    backup(new_db, tmp_path / "b.bak")
    data = bytearray((tmp_path / "b.bak").read_bytes())
    if damage == "flip-db":
        data[len(data) - 5000] ^= 0x01
    elif damage == "flip-digest":
        data[-1] ^= 0x01
    elif damage == "cut":
        data = data[: len(data) - 1000]
    else:  # a manifest claiming a larger database
        (mlen,) = struct.unpack(">I", data[11:15])
        data[15 : 15 + mlen] = bytes(data[15 : 15 + mlen]).replace(b'"db_size": ', b'"db_size": 1')
    (tmp_path / "bad.bak").write_bytes(bytes(data))
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(InputRefused, match="壊れている"):
        restore(tmp_path / "bad.bak", tmp_path / "new.db", PASSWORD)
    after = sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith((".lock", ".inuse")))
    assert after == [p for p in before if not p.endswith((".lock", ".inuse"))]
