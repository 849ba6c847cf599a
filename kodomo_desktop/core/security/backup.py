"""Encrypted backup and restore: one file holding the still-encrypted database and its key slots.

Layout: ``KODOMOBAK1\\n`` · 4-byte manifest length · manifest (JSON, no personal data) · key file · database ·
SHA-256 of everything before it. Restore checks the checksum, the sizes, that a password opens a slot, the
access-log chain and its anchor, every page's HMAC (while the copy is re-keyed) and SQLite's structure check —
all on a temporary copy, each once — before it writes the target.

Both directions stream in chunks of ``CHUNK`` bytes: the database is never held in memory (a 2 GB city's backup and
restore stay at a few megabytes beyond what opening the database costs). The format is the one written since the
first release; files written before streaming restore unchanged (tests/core/test_backup.py builds one by hand).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import shutil
import struct
from pathlib import Path
from typing import TYPE_CHECKING

import sqlcipher3
from sqlalchemy import bindparam, text
from sqlalchemy import exc as sa_exc

from ..audit import log as audit
from ..errors import InputRefused, KodomoError, WrongPassword
from ..outputs import open_private
from ..storage import keys as K
from ..storage.db import raw_connect, write_transaction

if TYPE_CHECKING:
    from ..workspace import Workspace

MAGIC = b"KODOMOBAK1\n"


CHUNK = 8 << 20  # bytes read and written at a time: memory stays at a few chunks, whatever the database's size
DIGEST = 32


class _Changed(InputRefused):
    """The database file changed while it was copied (it cannot under the write lock; refused if it does)."""


def _file_digest(path: Path) -> tuple[int, str]:
    """(size, SHA-256 hex) of a file, read in chunks."""
    h, n = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
            n += len(chunk)
    return n, h.hexdigest()


def _write_body(fh, db_path: Path, head: bytes, db_size: int, db_sha: str) -> int:
    """Write ``head`` · the database file · SHA-256 of both to ``fh``, streaming the database in chunks. The
    database is hashed a second time while it is copied: a copy that differs from what the manifest says is
    refused rather than written as a backup that cannot be restored. Returns the bytes written."""
    body = hashlib.sha256(head)
    again, n = hashlib.sha256(), 0
    fh.write(head)
    with open(db_path, "rb") as src:
        while chunk := src.read(CHUNK):
            fh.write(chunk)
            body.update(chunk)
            again.update(chunk)
            n += len(chunk)
    if n != db_size or again.hexdigest() != db_sha:
        raise _Changed("バックアップ中にデータベースが変わりました。もう一度バックアップしてください。")
    fh.write(body.digest())
    return len(head) + n + DIGEST


def backup(ws: Workspace, out: Path) -> dict:
    """Write the backup; it is recorded as done (setting, log, key file) only once the file is complete and checked.

    Streamed: the database file is hashed, then copied into ``<out>.part`` in chunks (both under the write lock)
    and the written file is read back in chunks, so memory does not grow with the database (a 2 GB city's backup
    holds a few megabytes). The file format is unchanged (module docstring)."""
    ws.require("backup", what="backup")
    out = Path(out)
    if out.resolve() == ws.path.resolve() or out.resolve() == K.key_file_path(ws.path).resolve():
        raise InputRefused("バックアップ先にデータベース自身は指定できません。")
    if not out.parent.exists():
        raise InputRefused(f"フォルダー {out.parent} がありません。")
    now = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    ws.save_anchor()  # the backup's key file carries the anchor of the log it holds (never ahead of it)
    tmp = out.with_name(out.name + ".part")
    try:
        # BEGIN IMMEDIATE keeps every writer out while the file is hashed and copied, so the copy is consistent;
        # the key-file lock keeps its slots and anchor consistent with it.
        with K.file_lock(ws.path):
            con = raw_connect(ws.path, ws.raw_key())
            try:
                con.execute("BEGIN IMMEDIATE")
                keys_bytes = K.key_file_path(ws.path).read_bytes()
                db_size, db_sha = _file_digest(ws.path)
                manifest = json.dumps(
                    {
                        "created_at": now,
                        "db_size": db_size,
                        "db_sha256": db_sha,
                        "keys_size": len(keys_bytes),
                        "keys_sha256": hashlib.sha256(keys_bytes).hexdigest(),
                        "source_name": ws.path.name,
                    }
                ).encode("utf-8")
                head = MAGIC + struct.pack(">I", len(manifest)) + manifest + keys_bytes
                with open_private(tmp, "wb") as fh:  # 0600 on POSIX
                    size = _write_body(fh, ws.path, head, db_size, db_sha)
                    fh.flush()
                    os.fsync(fh.fileno())
                con.execute("ROLLBACK")
            finally:
                con.close()
        K.crash_point("backup-written")
        check_backup(tmp)  # read back from the disk: complete and intact
        os.replace(tmp, out)
        K.fsync_dir(out.parent)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise InputRefused(
            f"バックアップを書き込めませんでした（{e.strerror or e}）。空き容量と書き込み先を確認してください。"
            "バックアップは記録されていません。"
        )
    except _Changed:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
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
        audit.append(c, ws.user.name, "backup", detail={"file": out.name, "bytes": size, "verified": True})
    with ws.keyfile_update() as kf:
        if kf.auth is not None and not kf.auth_problem:
            kf.auth["last_backup_at"] = now
    ws.save_anchor()
    return {"backup": str(out), "bytes": size, "created_at": now, "verified": True}


def _damaged() -> InputRefused:
    return InputRefused("バックアップファイルが壊れているか、途中で切れています。別のバックアップを使ってください。")


def scan_backup(path: Path, sink=None, *, db_digest: bool = True) -> tuple[dict, bytes]:
    """Check a backup file in one streaming pass; anything off → InputRefused. Returns (manifest, key-file bytes).

    The header (magic, manifest, key file) is parsed first, the sizes must add up to the file's size, then the
    database part is read in chunks — written to ``sink`` (a binary file) when given — while the whole-file
    SHA-256 and the database's SHA-256 are computed; both must match. Whatever was written to ``sink`` is only
    good when this returns (the caller removes it on a refusal).

    ``db_digest=False`` (restore): the database's own SHA-256 is not computed a second time over the same bytes.
    The whole-file digest covers every byte of the database part already, and ``backup`` wrote the manifest's
    digest only after checking it against the bytes it copied (``_write_body``); a file that passes the one and not
    the other can only be forged — and a forger rewrites both. (At 185,000 residents: 2 GB hashed once, not twice.)"""
    bad = _damaged()
    try:
        fh = open(path, "rb")
    except OSError:
        raise InputRefused(f"バックアップファイル {path} を読めません。")
    with fh:
        try:
            total = os.fstat(fh.fileno()).st_size
            if total < len(MAGIC) + 4 + DIGEST or fh.read(len(MAGIC)) != MAGIC:
                raise bad
            raw_len = fh.read(4)
            (mlen,) = struct.unpack(">I", raw_len)
            if mlen > total - len(MAGIC) - 4 - DIGEST:
                raise bad
            raw_manifest = fh.read(mlen)
            try:
                manifest = json.loads(raw_manifest.decode("utf-8"))
                keys_size, db_size = int(manifest["keys_size"]), int(manifest["db_size"])
                keys_sha, db_sha = str(manifest["keys_sha256"]), str(manifest["db_sha256"])
            except (ValueError, KeyError, TypeError):
                raise bad
            if keys_size < 0 or db_size < 0 or len(MAGIC) + 4 + mlen + keys_size + db_size + DIGEST != total:
                raise bad
            keys_bytes = fh.read(keys_size)
            body = hashlib.sha256(MAGIC + raw_len + raw_manifest + keys_bytes)
            dbh, left = hashlib.sha256(), db_size
            while left:
                chunk = fh.read(min(CHUNK, left))
                if not chunk:
                    raise bad
                body.update(chunk)
                if db_digest:
                    dbh.update(chunk)
                if sink is not None:
                    sink.write(chunk)
                left -= len(chunk)
            digest = fh.read(DIGEST)
        except OSError:
            raise bad
    if (
        body.digest() != digest
        or (db_digest and dbh.hexdigest() != db_sha)
        or hashlib.sha256(keys_bytes).hexdigest() != keys_sha
        or not isinstance(manifest, dict)
    ):
        raise bad
    return manifest, keys_bytes


def check_backup(path: Path) -> dict:
    """Check a backup file without holding it in memory; returns its manifest (no personal data)."""
    return scan_backup(path)[0]


def read_backup(path: Path) -> tuple[dict, bytes, bytes]:
    """Parse and check a backup file; anything off → InputRefused (nothing written anywhere). Returns the database
    bytes in memory — for small files and tools only; backup and restore stream (:func:`scan_backup`)."""
    buf = io.BytesIO()
    manifest, keys_bytes = scan_backup(path, buf)
    return manifest, keys_bytes, buf.getvalue()


# -- restore ---------------------------------------------------------------------------------------------------------
JOURNAL_SUFFIX = ".restore-journal"


def _journal(db_path: Path) -> Path:
    return Path(str(db_path) + JOURNAL_SUFFIX)


def _tmp_names(db_path: Path) -> tuple[Path, Path]:
    tmp_db = db_path.with_name(db_path.name + ".restoring")
    return tmp_db, K.key_file_path(tmp_db)


def _partial(p: Path) -> Path:
    """Where a temporary file is written before it is renamed into place (as ``K.write_atomic`` names it)."""
    return p.with_name(p.name + ".tmp")


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
    for p in (tmp_db, tmp_keys, _partial(tmp_db), _partial(tmp_keys), Path(str(tmp_db) + "-journal")):
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
        schools = [
            dict(r._mapping)
            for r in c.execute(text("SELECT school, slug, town_priv, created_at FROM school_workspace"))
        ]
        audits = [dict(r._mapping) for r in c.execute(text("SELECT slug, town_priv, created_at FROM audit_workspace"))]
    deleted |= set((kf.auth or {}).get("deletions") or [])
    return {
        "users": users,
        "slots": kf.data["slots"],
        "auth": kf.auth or {},
        "deleted": sorted(deleted),
        "schools": schools,
        "audits": audits,
    }


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
            tmp_db, tmp_keys = _tmp_names(db_path)
            kept: list[str] = []
            try:
                # streamed: the database part is checked while it is copied to the temporary name, in chunks
                # (memory stays flat); a damaged backup is refused and the partial copy removed (finally below)
                part = _partial(tmp_db)
                try:
                    with open_private(part, "wb") as fh:  # a scratch copy: synced once, after the re-key
                        manifest, keys_bytes = scan_backup(src, fh, db_digest=False)
                except InputRefused as e:
                    raise _refuse(target_ws, e.message_ja, "backup_damaged")
                except OSError as e:
                    raise _refuse(
                        target_ws,
                        f"復元用の一時ファイルを書き込めませんでした（{e.strerror or e}）。空き容量を確認してください。"
                        "何も変更していません。",
                        "write_failed",
                    )
                os.replace(part, tmp_db)
                K.fsync_dir(tmp_db.parent)
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
                    if not isinstance(ws, Workspace) or ws.user.role != "coordinator":
                        raise _refuse(target_ws, "バックアップの中でもコーディネーターである必要があります。", "role")
                    # The backup's integrity, each part once. (1) Its log chain and anchor (before re-keying resets
                    # the anchor). (2) The copy re-keyed in place without a journal (a scratch file: one rewrite, not
                    # two — Workspace.rekey): that reads every page of the file, free ones too, under the backup's key
                    # and checks its HMAC — SQLCipher's page check, so it is not run again. A page that does not
                    # check stops the re-key before it commits (PRAGMA rekey still answers "ok"), page 1 keeps the
                    # backup's key and the re-key's own open under the new key fails. (3) SQLite's structure check,
                    # once, on the re-keyed copy (it reads every page in use, under the new key).
                    try:
                        ws.verify(pages=False)
                        ws.rekey(
                            _adopt_today(today) if today else None, reason="restore", reset_anchor=True, scratch=True
                        )
                        ws.verify(free_pages=False, chain=False)
                    except (KodomoError, sqlcipher3.DatabaseError, sa_exc.DatabaseError):
                        raise _refuse(target_ws, "バックアップの整合性検査に失敗しました。復元しません。", "integrity")
                    summary = _reapply(ws, today)
                    ws.log(
                        "restore",
                        detail={"from": Path(src).name, "backup_at": manifest["created_at"], **summary},
                    )
                finally:
                    ws.close()  # saves the anchor: the restored log as it now stands
                try:
                    with open(tmp_db, "rb+") as fh:  # the new pair is on disk before the journal points at it
                        os.fsync(fh.fileno())
                except OSError as e:
                    raise _refuse(
                        target_ws,
                        f"復元したデータベースを書き込めませんでした（{e.strerror or e}）。空き容量を確認してください。"
                        "何も変更していません。",
                        "write_failed",
                    )
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
                for p in (
                    tmp_db,
                    tmp_keys,
                    _partial(tmp_db),
                    _partial(tmp_keys),
                    Path(str(tmp_db) + ".lock"),
                    Path(str(tmp_db) + ".inuse"),
                    Path(str(tmp_db) + "-journal"),
                ):
                    if not _journal(db_path).exists():
                        with contextlib.suppress(FileNotFoundError):
                            p.unlink()
        finally:
            if target_ws is not None:
                target_ws.close()
    out = {"restored": str(db_path), "backup_at": manifest["created_at"], "bytes": manifest["db_size"], "kept": kept}
    out.update(summary)
    return out


def _reapply(ws: Workspace, today: dict | None) -> dict:
    """On the restored copy: today's user list (nobody removed since comes back) and today's deletions."""
    if today is None:
        return {"users_reapplied": False, "deletions_reapplied": 0}
    now = dt.datetime.now().replace(microsecond=0)
    with write_transaction(ws.engine) as c:  # reads each user's row, then writes
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
        # today's school workspaces and the town's key pairs for them (a backup may hold older pairs, or none):
        # the restored town opens today's school files and can still revoke their users. How far each school's
        # log was copied is the restored copy's own (entries copied after the backup are copied again).
        for sw in today.get("schools") or []:
            kept = c.execute(text("SELECT log_seq, log_head FROM school_workspace WHERE slug=:slug"), sw).first()
            c.execute(text("DELETE FROM school_workspace WHERE school=:school OR slug=:slug"), sw)
            c.execute(
                text(
                    "INSERT INTO school_workspace (school, slug, town_priv, created_at, log_seq, log_head) "
                    "VALUES (:school, :slug, :town_priv, :created_at, :log_seq, :log_head)"
                ),
                {**sw, "log_seq": kept[0] if kept else 0, "log_head": kept[1] if kept else None},
            )
        # the same for today's audit workspace (the auditor's copy is rebuilt from the restored town at its next sync)
        for aw in today.get("audits") or []:
            kept = c.execute(text("SELECT log_seq, log_head FROM audit_workspace WHERE slug=:slug"), aw).first()
            c.execute(text("DELETE FROM audit_workspace"))
            c.execute(
                text(
                    "INSERT INTO audit_workspace (slug, town_priv, created_at, log_seq, log_head) "
                    "VALUES (:slug, :town_priv, :created_at, :log_seq, :log_head)"
                ),
                {**aw, "log_seq": kept[0] if kept else 0, "log_head": kept[1] if kept else None},
            )
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
        auth = kf.opened_auth()
        auth["users"] = dict(today["auth"].get("users") or {})
        auth["default_ref"] = today["auth"].get("default_ref")
        auth["deletions"] = sorted(set(auth.get("deletions") or []) | set(today["deleted"]))
        kf.data.pop("legacy", None)

    return mutate
