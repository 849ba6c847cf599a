"""Encrypted backup and restore: one file holding the still-encrypted database and its key slots.

Layout: ``KODOMOBAK1\\n`` · 4-byte manifest length · manifest (JSON, no personal data) · key file · database ·
SHA-256 of everything before it. Restore checks the checksum, the sizes, that a password opens a slot, the
SQLCipher page check and the access-log chain — all on a temporary copy — before it writes the target.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import struct
from pathlib import Path

from sqlalchemy import text

from ..audit import log as audit
from ..errors import InputRefused
from ..outputs import open_private, private_file
from ..storage import keys as K
from ..storage.db import cipher_integrity_check, raw_connect

MAGIC = b"KODOMOBAK1\n"


def backup(ws, out: Path) -> dict:
    ws.require("backup", what="backup")
    out = Path(out)
    if out.resolve() == ws.path.resolve():
        raise InputRefused("バックアップ先にデータベース自身は指定できません。")
    now = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    with ws.engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO setting (key, value, changed_at) VALUES ('last_backup_at', :v, :t) "
                "ON CONFLICT(key) DO UPDATE SET value=:v, changed_at=:t"
            ),
            dict(v=json.dumps(now), t=dt.datetime.now().replace(microsecond=0)),
        )
        audit.append(c, ws.user.name, "backup", detail={"file": out.name})
    # BEGIN IMMEDIATE keeps every writer out while the file is copied, so the copy is consistent.
    con = raw_connect(ws.path, ws.raw_key())
    try:
        con.execute("BEGIN IMMEDIATE")
        db_bytes = ws.path.read_bytes()
        con.execute("ROLLBACK")
    finally:
        con.close()
    keys_bytes = K.key_file_path(ws.path).read_bytes()
    manifest = json.dumps(
        {
            "created_at": now,
            "db_size": len(db_bytes),
            "db_sha256": hashlib.sha256(db_bytes).hexdigest(),
            "keys_size": len(keys_bytes),
            "keys_sha256": hashlib.sha256(keys_bytes).hexdigest(),
            "source_name": ws.path.name,
        }
    ).encode("utf-8")
    body = MAGIC + struct.pack(">I", len(manifest)) + manifest + keys_bytes + db_bytes
    tmp = out.with_name(out.name + ".part")
    with open_private(tmp, "wb") as fh:  # 0600 on POSIX
        fh.write(body)
        fh.write(hashlib.sha256(body).digest())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, out)
    return {"backup": str(out), "bytes": len(body) + 32, "created_at": now}


def read_backup(path: Path) -> tuple[dict, bytes, bytes]:
    """Parse and check a backup file; anything off → InputRefused (nothing written anywhere)."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        raise InputRefused(f"バックアップファイル {path} を読めません。")
    bad = InputRefused("バックアップファイルが壊れているか、途中で切れています。別のバックアップを使ってください。")
    if len(data) < len(MAGIC) + 4 + 32 or not data.startswith(MAGIC):
        raise bad
    body, digest = data[:-32], data[-32:]
    if hashlib.sha256(body).digest() != digest:
        raise bad
    pos = len(MAGIC)
    (mlen,) = struct.unpack(">I", body[pos : pos + 4])
    pos += 4
    try:
        manifest = json.loads(body[pos : pos + mlen].decode("utf-8"))
    except ValueError:
        raise bad
    pos += mlen
    keys_bytes = body[pos : pos + manifest["keys_size"]]
    db_bytes = body[pos + manifest["keys_size"] :]
    if (
        len(db_bytes) != manifest["db_size"]
        or hashlib.sha256(db_bytes).hexdigest() != manifest["db_sha256"]
        or hashlib.sha256(keys_bytes).hexdigest() != manifest["keys_sha256"]
    ):
        raise bad
    return manifest, keys_bytes, db_bytes


def restore(src: Path, db_path: Path, password: str, user_name: str | None = None) -> dict:
    manifest, keys_bytes, db_bytes = read_backup(src)
    db_path = Path(db_path)
    if not db_path.parent.exists():
        raise InputRefused(f"フォルダー {db_path.parent} がありません。")
    tmp_db = db_path.with_name(db_path.name + ".restoring")
    tmp_keys = K.key_file_path(tmp_db)
    try:
        tmp_db.write_bytes(db_bytes)
        tmp_keys.write_bytes(keys_bytes)
        private_file(tmp_db), private_file(tmp_keys)  # 0600 on POSIX
        kf = K.KeyFile.load(tmp_db)
        key, sid, _ = kf.unwrap(user_name, password)
        con = raw_connect(tmp_db, key)
        try:
            problems = cipher_integrity_check(con)
            chain = audit.verify_chain(con)
            role = con.execute("SELECT role FROM app_user WHERE slot_id=? AND removed_at IS NULL", (sid,)).fetchone()
        finally:
            con.close()
        if problems or not chain.ok:
            raise InputRefused("バックアップの整合性検査に失敗しました。復元しません。")
        if not role or role[0] != "coordinator":
            raise InputRefused("復元はコーディネーターのパスワードで行ってください。")
        kf.data["pending_events"] = [
            e for e in kf.data.get("pending_events", []) if e.get("action") != "sign_in_failed"
        ]
        kf.queue_event("restore", sid, json.dumps({"from": Path(src).name, "backup_at": manifest["created_at"]}))
        kf.path = tmp_keys
        kf.save()
        # Everything checked: only now is the target written (key file first, then the database).
        os.replace(tmp_keys, K.key_file_path(db_path))
        os.replace(tmp_db, db_path)
    finally:
        for p in (tmp_db, tmp_keys):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
    return {"restored": str(db_path), "backup_at": manifest["created_at"], "bytes": len(db_bytes)}
