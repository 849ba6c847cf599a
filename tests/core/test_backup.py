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


# -- restore checks each part of a backup once (issue 21): the log before the re-key, every page after it ------------
def _rewrap(bak, out, edit_db):
    """A copy of backup ``bak`` whose database part ``edit_db`` changed, with every checksum made to match again:
    what someone who can write the backup file (but holds no key) can produce."""
    import hashlib
    import json
    import struct

    from kodomo_desktop.core.security.backup import MAGIC, read_backup

    manifest, keys_bytes, db = read_backup(bak)
    db = bytes(edit_db(bytearray(db)))
    manifest = json.dumps(
        dict(manifest, db_size=len(db), db_sha256=hashlib.sha256(db).hexdigest()), ensure_ascii=False
    ).encode("utf-8")
    body = MAGIC + struct.pack(">I", len(manifest)) + manifest + keys_bytes + db
    out.write_bytes(body + hashlib.sha256(body).digest())


def _fill_many(ws, n=400):
    with ws.engine.begin() as c:
        for i in range(n):
            c.execute(
                text(
                    "INSERT INTO person (id, name, birth_date, in_registry, created_at) "
                    "VALUES (:i, :n, '2017-01-02', 1, '2026-01-01 00:00:00')"
                ),
                {"i": f"P{i + 10:06d}", "n": "試験 " + "花子" * 40},
            )


@pytest.mark.parametrize("where", ["middle", "last", "freed"])
def test_a_page_changed_in_a_backup_is_refused_even_with_its_checksums_rewritten(new_db, tmp_path, where):
    """SQLCipher's page check is not run on its own in a restore: the in-place re-key reads every page under the
    backup's key. A page that does not pass (in the middle, the last one, or a freed page at the end of the file,
    which SQLite's structure check never reads) must still refuse the restore."""
    _fill(new_db)
    _fill_many(new_db)
    if where == "freed":
        with new_db.engine.begin() as c:
            c.execute(text("DELETE FROM person WHERE id != 'P000001'"))
            assert c.execute(text("PRAGMA freelist_count")).scalar() > 0
    backup(new_db, tmp_path / "b.bak")
    page = 4096

    def flip(db):
        pages = len(db) // page
        n = pages // 2 if where == "middle" else pages - 1
        db[n * page + 200] ^= 0x01
        return db

    _rewrap(tmp_path / "b.bak", tmp_path / "bad.bak", flip)
    before = sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith((".lock", ".inuse")))
    with pytest.raises(InputRefused, match="整合性"):
        restore(tmp_path / "bad.bak", tmp_path / "new.db", PASSWORD)
    after = sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith((".lock", ".inuse")))
    assert after == before  # nothing beside the refused target
    # onto an existing database: refused, logged there, the database untouched
    path = new_db.path
    new_db.close()
    with pytest.raises(InputRefused, match="整合性"):
        restore(tmp_path / "bad.bak", path, PASSWORD)
    ws = Workspace.open(path, PASSWORD)
    with ws.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM person")).scalar() == (1 if where == "freed" else 401)
        refused = c.execute(text("SELECT detail FROM access_log WHERE action='restore_refused'")).scalars().all()
    assert any("integrity" in (d or "") for d in refused)
    assert ws.verify()["ok"]
    ws.close()


def test_a_backup_whose_log_was_edited_is_refused(new_db, tmp_path):
    """The log chain and its anchor are checked before the re-key resets the anchor."""
    from kodomo_desktop.core.storage.db import raw_connect

    _fill(new_db)
    new_db.log("export", detail={"rows": 3})
    con = raw_connect(new_db.path, new_db.raw_key())
    con.execute("UPDATE access_log SET detail = '{\"rows\": 30}' WHERE action = 'export'")
    con.close()
    backup(new_db, tmp_path / "b.bak")
    with pytest.raises(InputRefused, match="整合性"):
        restore(tmp_path / "b.bak", tmp_path / "new.db", PASSWORD)
    assert not (tmp_path / "new.db").exists()


def test_a_restored_database_answers_to_a_new_key_only(new_db, tmp_path):
    from kodomo_desktop.core.errors import IntegrityFailure
    from kodomo_desktop.core.storage.db import raw_connect

    _fill(new_db)
    old_key = new_db.raw_key()
    backup(new_db, tmp_path / "b.bak")
    restore(tmp_path / "b.bak", tmp_path / "r.db", PASSWORD)
    with pytest.raises(IntegrityFailure):
        raw_connect(tmp_path / "r.db", old_key, key_proven=True)  # the backup's key opens nothing restored
    ws = Workspace.open(tmp_path / "r.db", PASSWORD)
    assert ws.raw_key() != old_key
    with ws.engine.connect() as c:
        actions = c.execute(text("SELECT action FROM access_log ORDER BY seq")).scalars().all()
    assert actions.count("key_rotated") == 1 and "restore" in actions
    assert ws.verify()["ok"]
    ws.close()
    assert not any(p.name.endswith(("-journal", ".restoring")) for p in tmp_path.iterdir())


@pytest.mark.parametrize("step", ["rekey-1", "rekey-2", "rekey-3"])
def test_a_crash_inside_the_re_key_of_a_restore_leaves_the_old_pair(new_db, tmp_path, step):
    """The re-key of the copy has no journal; a crash there leaves the target as it was and no leftover."""
    import os

    from forkrun import run_code

    _fill(new_db)
    backup(new_db, tmp_path / "b.bak")
    new_db.add_user("s1", "staff pw 1", "staff")
    path = new_db.path
    new_db.close()
    code = (
        "import sys; from pathlib import Path; from kodomo_desktop.core.security.backup import restore\n"
        f"restore(Path(sys.argv[1]), Path(sys.argv[2]), {PASSWORD!r})\n"
    )
    # a forked process (tests/forkrun.py), ended there
    assert run_code(code, tmp_path / "b.bak", path, env=dict(os.environ, KODOMO_CRASH_AT=step)) == 86
    ws = Workspace.open(path, "staff pw 1", "s1")  # the old pair: today's key file and database
    ws.close()
    ws = Workspace.open(path, PASSWORD)
    assert ws.verify()["ok"]
    ws.close()
    assert not any(p.name.endswith((".restoring", ".restoring.keys", ".restore-journal")) for p in tmp_path.iterdir())
    restore(tmp_path / "b.bak", path, PASSWORD)  # and a restore afterwards goes through
