"""Conversion of a database keyed directly by Argon2id(password) (one password, ``<db>.kdf``) to key slots.

Done on first open, without loss: the database is re-keyed (SQLCipher ``rekey``) to a fresh random key that
is wrapped in a slot for the user who opened it. Crash-safe order: the new key file is written first under a
temporary name, then the database is re-keyed, then the key file is put in place and the old ``.kdf`` removed;
an interrupted conversion is finished from the temporary key file on the next open.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from ..errors import KodomoError, WrongPassword
from . import keys as K
from .db import raw_connect


def convert_legacy(path: Path, password: str, user_name: str) -> None:
    path = Path(path)
    final = K.key_file_path(path)
    tmp = final.with_name(final.name + ".converting")
    if tmp.exists():  # an interrupted conversion: did the re-key happen?
        try:
            kf = K.KeyFile.parse(final, tmp.read_bytes(), path)
            u = kf.unlock(None, password)
            raw_connect(path, u.db_key).close()
            os.replace(tmp, final)
            K.legacy_kdf_path(path).unlink(missing_ok=True)
            return
        except (WrongPassword, KodomoError):
            tmp.unlink()
    old_key = K.legacy_derive(path, password)
    con = raw_connect(path, old_key)  # wrong password → WrongPassword, nothing touched
    try:
        new_key = K.new_database_key()
        kf = K.KeyFile.new(path)
        ref = K.new_user_ref()
        kf.add_user(user_name, password, ref, new_key, default=True)
        kf.queue_event("key_slots_converted", ref)
        kf.data["db_salt"] = K.db_salt(path)
        kf.seal_auth(new_key)
        K.write_atomic(tmp, kf.to_bytes())
        has_users = con.execute("SELECT count(*) FROM sqlite_master WHERE name='app_user'").fetchone()[0]
        if has_users:
            now = dt.datetime.now().replace(microsecond=0).isoformat(sep=" ")
            con.execute("BEGIN")
            row = con.execute("SELECT id FROM app_user WHERE name=?", (user_name,)).fetchone()
            if row:
                con.execute("UPDATE app_user SET slot_id=?, removed_at=NULL WHERE id=?", (ref, row[0]))
            else:
                con.execute(
                    "INSERT INTO app_user (name, slot_id, role, created_at) VALUES (?, ?, 'coordinator', ?)",
                    (user_name, ref, now),
                )
            con.execute("COMMIT")
        con.execute(f"PRAGMA rekey = \"x'{new_key.hex()}'\"")
    finally:
        con.close()
    raw_connect(path, new_key).close()  # prove the new key before the old one is forgotten
    os.replace(tmp, final)
    K.legacy_kdf_path(path).unlink(missing_ok=True)
