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
import shutil
import struct
from pathlib import Path

from sqlalchemy import bindparam, text

from ..audit import log as audit
from ..errors import InputRefused, KodomoError, WrongPassword
from ..outputs import open_private
from ..storage import keys as K
from ..storage.db import raw_connect

MAGIC = b"KODOMOBAK1\n"


def backup(ws, out: Path) -> dict:
    """Write the backup; it is recorded as done (setting, log, key file) only once the file is complete and checked."""
    ws.require("backup", what="backup")
    out = Path(out)
    if out.resolve() == ws.path.resolve() or out.resolve() == K.key_file_path(ws.path).resolve():
        raise InputRefused("バックアップ先にデータベース自身は指定できません。")
    if not out.parent.exists():
        raise InputRefused(f"フォルダー {out.parent} がありません。")
    now = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    ws.save_anchor()  # the backup's key file carries the anchor of the log it holds (never ahead of it)
    # BEGIN IMMEDIATE keeps every writer out while the file is copied, so the copy is consistent; the key-file
    # lock keeps its slots and anchor consistent with it.
    with K.file_lock(ws.path):
        con = raw_connect(ws.path, ws.raw_key())
        try:
            con.execute("BEGIN IMMEDIATE")
            db_bytes = ws.path.read_bytes()
            keys_bytes = K.key_file_path(ws.path).read_bytes()
            con.execute("ROLLBACK")
        finally:
            con.close()
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
    try:
        with open_private(tmp, "wb") as fh:  # 0600 on POSIX
            fh.write(body)
            fh.write(hashlib.sha256(body).digest())
            fh.flush()
            os.fsync(fh.fileno())
        K.crash_point("backup-written")
        read_backup(tmp)  # read back from the disk: complete and intact
        os.replace(tmp, out)
        K.fsync_dir(out.parent)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise InputRefused(
            f"バックアップを書き込めませんでした（{e.strerror or e}）。空き容量と書き込み先を確認してください。"
            "バックアップは記録されていません。"
        )
    except InputRefused:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise InputRefused("書き込んだバックアップを読み戻すと一致しませんでした。バックアップは記録されていません。")
    with ws.engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO setting (key, value, changed_at) VALUES ('last_backup_at', :v, :t) "
                "ON CONFLICT(key) DO UPDATE SET value=:v, changed_at=:t"
            ),
            dict(v=json.dumps(now), t=dt.datetime.now().replace(microsecond=0)),
        )
        audit.append(c, ws.user.name, "backup", detail={"file": out.name, "bytes": len(body) + 32, "verified": True})
    with ws.keyfile_update() as kf:
        if kf.auth is not None and not kf.auth_problem:
            kf.auth["last_backup_at"] = now
    ws.save_anchor()
    return {"backup": str(out), "bytes": len(body) + 32, "created_at": now, "verified": True}


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


# -- restore ---------------------------------------------------------------------------------------------------------
JOURNAL_SUFFIX = ".restore-journal"


def _journal(db_path: Path) -> Path:
    return Path(str(db_path) + JOURNAL_SUFFIX)


def _tmp_names(db_path: Path) -> tuple[Path, Path]:
    tmp_db = db_path.with_name(db_path.name + ".restoring")
    return tmp_db, K.key_file_path(tmp_db)


def recover(db_path) -> str | None:
    """Finish a restore a crash interrupted: with a journal, roll forward (the new pair was complete and checked
    before the journal was written); without one, drop the leftovers (the old pair was never touched)."""
    db_path = Path(db_path)
    j = _journal(db_path)
    tmp_db, tmp_keys = _tmp_names(db_path)
    if j.exists():
        for tmp, final in ((tmp_keys, K.key_file_path(db_path)), (tmp_db, db_path)):
            if tmp.exists():
                os.replace(tmp, final)
        K.fsync_dir(db_path.parent)
        j.unlink()
        return "rolled_forward"
    found = False
    for p in (tmp_db, tmp_keys, K.key_file_path(tmp_db).with_name(K.key_file_path(tmp_db).name + ".tmp")):
        if p.exists():
            found = True
            with contextlib.suppress(OSError):
                p.unlink()
    return "cleaned" if found else None


def _refuse(target_ws, message: str, reason: str) -> InputRefused:
    if target_ws is not None:
        with contextlib.suppress(Exception):
            target_ws.log("restore_refused", detail={"reason": reason})
    return InputRefused(message)


def _open_target(db_path: Path, password: str, user_name: str | None, force: bool):
    """The target's coordinator signs in (returns the Workspace), or the target cannot be opened and --force says
    replace it anyway (returns None). A healthy target always needs its coordinator's password."""
    from ..workspace import Workspace  # local: restore is a service in the security layer (pyproject ignore_imports)

    try:
        K.KeyFile.load(db_path)
        healthy_key_file = True
    except KodomoError:
        healthy_key_file = False
    try:
        ws = Workspace.open(db_path, password, user_name)
    except WrongPassword:
        raise InputRefused(
            "復元先のデータベースにはすでにデータがあります。復元先のコーディネーターのパスワード"
            "（KODOMO_DB_PASSWORD）で行ってください。何も変更していません。"
        )
    except KodomoError as e:
        if healthy_key_file or not force:
            raise InputRefused(
                f"復元先のデータベースを開けません（{e.message_ja}）。壊れたデータベースを置き換えるには --force を"
                "付けてください（元のファイルは残します）。何も変更していません。"
            )
        return None
    if ws.user.role != "coordinator":
        ws.log("restore_refused", detail={"reason": "not_coordinator"})
        ws.close()
        raise InputRefused("復元は復元先のコーディネーターが行ってください。何も変更していません。")
    return ws


def _today(target_ws) -> dict:
    """What must survive a restore: today's users and slots, and today's deletion register."""
    kf = K.KeyFile.load(target_ws.path)
    kf.open_auth(target_ws.raw_key())
    with target_ws.engine.connect() as c:
        users = [
            dict(r._mapping)
            for r in c.execute(text("SELECT name, slot_id, display_name, role, school, removed_at FROM app_user"))
        ]
        deleted = {
            r[0]
            for r in c.execute(
                text("SELECT person_id FROM access_log WHERE action='deletion' AND person_id IS NOT NULL")
            )
        }
    deleted |= set((kf.auth or {}).get("deletions") or [])
    return {"users": users, "slots": kf.data["slots"], "auth": kf.auth or {}, "deleted": sorted(deleted)}


def restore(
    src: Path,
    db_path: Path,
    password: str,
    user_name: str | None = None,
    *,
    force: bool = False,
    backup_password: str | None = None,
) -> dict:
    """Restore a backup. Onto an existing database: that database's coordinator password (or --force for one that
    cannot be opened), the replaced files kept, an exclusive lock, today's users and deletions re-applied, and
    database + key file replaced so that a crash leaves the old pair or the new pair (journal, see recover)."""
    from ..workspace import Workspace  # local: restore is a service in the security layer (pyproject ignore_imports)

    db_path = Path(db_path)
    if not db_path.parent.exists():
        raise InputRefused(f"フォルダー {db_path.parent} がありません。")
    recover(db_path)
    exists = db_path.exists() or K.key_file_path(db_path).exists()
    with K.in_use_lock(db_path, exclusive=True):
        target_ws = _open_target(db_path, password, user_name, force) if exists else None
        try:
            today = _today(target_ws) if target_ws is not None else None
            try:
                manifest, keys_bytes, db_bytes = read_backup(src)
            except InputRefused as e:
                raise _refuse(target_ws, e.message_ja, "backup_damaged")
            tmp_db, tmp_keys = _tmp_names(db_path)
            kept: list[str] = []
            try:
                K.write_atomic(tmp_db, db_bytes)
                K.write_atomic(tmp_keys, keys_bytes)
                K.crash_point("restore-1")
                try:
                    ws = Workspace.open(tmp_db, backup_password or password, user_name)
                except KodomoError as e:
                    raise _refuse(
                        target_ws,
                        f"バックアップを開けません（{e.message_ja}）。バックアップを作った時点のコーディネーターの"
                        "パスワードが必要です（違う場合は KODOMO_BACKUP_PASSWORD）。復元しません。",
                        "backup_password",
                    )
                try:
                    if ws.user.role != "coordinator":
                        raise _refuse(target_ws, "バックアップの中でもコーディネーターである必要があります。", "role")
                    try:
                        ws.verify()
                    except KodomoError:
                        raise _refuse(target_ws, "バックアップの整合性検査に失敗しました。復元しません。", "integrity")
                    summary = _reapply(ws, today)
                    ws.log(
                        "restore",
                        detail={"from": Path(src).name, "backup_at": manifest["created_at"], **summary},
                    )
                    mutate = _adopt_today(today) if today else None
                    ws.rekey(mutate, reason="restore", reset_anchor=True)
                finally:
                    ws.close()
                K.crash_point("restore-2")
                if target_ws is not None:
                    target_ws.log("restore", detail={"from": Path(src).name, "replaced_by_backup": True})
                    target_ws.close()
                    target_ws = None
                stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
                for p in (db_path, K.key_file_path(db_path)):
                    if p.exists():
                        kept_p = p.with_name(f"{p.name}.kept-{stamp}")
                        n = 1
                        while kept_p.exists():
                            n += 1
                            kept_p = p.with_name(f"{p.name}.kept-{stamp}-{n}")
                        try:
                            os.link(p, kept_p)  # the old pair stays whole under the kept names
                        except OSError:  # a file system without hard links (FAT): a full copy
                            shutil.copy2(p, kept_p)
                        kept.append(str(kept_p))
                K.fsync_dir(db_path.parent)
                K.crash_point("restore-3")
                K.write_atomic(_journal(db_path), json.dumps({"kept": kept}).encode())
                K.crash_point("restore-4")
                os.replace(tmp_keys, K.key_file_path(db_path))
                K.crash_point("restore-5")
                os.replace(tmp_db, db_path)
                K.crash_point("restore-6")
                K.fsync_dir(db_path.parent)
                _journal(db_path).unlink()
            finally:
                for p in (tmp_db, tmp_keys, Path(str(tmp_db) + ".lock"), Path(str(tmp_db) + ".inuse")):
                    if not _journal(db_path).exists():
                        with contextlib.suppress(FileNotFoundError):
                            p.unlink()
        finally:
            if target_ws is not None:
                target_ws.close()
    out = {"restored": str(db_path), "backup_at": manifest["created_at"], "bytes": len(db_bytes), "kept": kept}
    out.update(summary)
    return out


def _reapply(ws, today: dict | None) -> dict:
    """On the restored copy: today's user list (nobody removed since comes back) and today's deletions."""
    if today is None:
        return {"users_reapplied": False, "deletions_reapplied": 0}
    now = dt.datetime.now().replace(microsecond=0)
    with ws.engine.begin() as c:
        for u in today["users"]:
            row = c.execute(text("SELECT id FROM app_user WHERE name=:n"), {"n": u["name"]}).first()
            vals = dict(u, t=now)
            if row:
                c.execute(
                    text(
                        "UPDATE app_user SET slot_id=:slot_id, display_name=:display_name, role=:role, school=:school,"
                        " removed_at=:removed_at WHERE name=:name"
                    ),
                    vals,
                )
            else:
                c.execute(
                    text(
                        "INSERT INTO app_user (name, slot_id, display_name, role, school, created_at, removed_at) "
                        "VALUES (:name, :slot_id, :display_name, :role, :school, :t, :removed_at)"
                    ),
                    vals,
                )
        names = [u["name"] for u in today["users"]]
        gone = c.execute(
            text("UPDATE app_user SET removed_at=:t WHERE removed_at IS NULL AND name NOT IN :names").bindparams(
                bindparam("names", expanding=True)
            ),
            {"t": now, "names": names or [""]},
        ).rowcount
        audit.append(c, ws.user.name, "users_reapplied", detail={"users": len(names), "removed": gone})
    from ..governance.disclosure import delete_person  # local: as above

    n = 0
    for pid in today["deleted"]:
        with ws.engine.connect() as c:
            present = c.execute(text("SELECT 1 FROM person WHERE id=:p"), {"p": pid}).first()
        if present:
            delete_person(ws, pid, "削除請求（復元後の再適用）")
            n += 1
    ws.log("deletion_reapplied", detail={"persons": n})
    return {"users_reapplied": True, "deletions_reapplied": n}


def _adopt_today(today: dict):
    """The restored key file takes today's slots (today's passwords), re-sealed to the restored copy's new key."""

    def mutate(kf: K.KeyFile) -> None:
        kf.data["slots"] = json.loads(json.dumps(today["slots"]))
        kf.auth["users"] = dict(today["auth"].get("users") or {})
        kf.auth["default_ref"] = today["auth"].get("default_ref")
        kf.auth["deletions"] = sorted(set(kf.auth.get("deletions") or []) | set(today["deleted"]))
        kf.data.pop("legacy", None)

    return mutate
