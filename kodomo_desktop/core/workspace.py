"""Workspace: one unlocked database and the person signed in to it — the context every core service takes.

Services call ``ws.require(permission)`` before they read or write (a refusal is logged and raises
PermissionDenied), use ``ws.session()`` for an SQLAlchemy session and ``ws.log(...)`` for the access log.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import sqlcipher3
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from . import auditspace, schoolspace, sealed, users
from .audit import log as audit
from .errors import InputRefused, IntegrityFailure, KodomoError, PermissionDenied, WrongPassword
from .outputs import open_private
from .roles import AccessChecks, ClosedEngine
from .roles import SignedInUser as SignedInUser
from .security.backup import recover
from .storage import keys as K
from .storage.db import assert_encrypted_file, cipher_integrity_check, make_engine, raw_connect, write_transaction
from .storage.legacy import convert_legacy
from .storage.migrate import create_schema, current_revision, head_revision, known_revision, upgrade

DEFAULT_USER = "coordinator"


_OPEN: weakref.WeakSet = weakref.WeakSet()  # open workspaces of this process (a re-key updates its siblings)
OPEN_HOOKS: list = []  # called with each workspace once it is open (the town's own source types and catalogue)


CLOSE_HOOKS: list = []  # called with each workspace as it closes


def on_close(hook) -> None:
    if hook not in CLOSE_HOOKS:
        CLOSE_HOOKS.append(hook)


def on_open(hook) -> None:
    """Register a workspace-open hook; it also runs at once for the workspaces already open."""
    if hook not in OPEN_HOOKS:
        OPEN_HOOKS.append(hook)
        for w in list(_OPEN):
            hook(w)


class Workspace(AccessChecks):
    def __init__(
        self,
        path: Path,
        engine: Engine,
        user: SignedInUser,
        keyfile: K.KeyFile,
        db_key: bytes,
        failures_since_last: int = 0,
        user_ref: str | None = None,
    ):
        self.path = path
        self.engine = engine
        self.user = user
        self.keyfile = keyfile
        self.user_ref = user_ref
        self._db_key: bytes | None = db_key
        self._sessions: sessionmaker[Session] | None = sessionmaker(engine, expire_on_commit=False)
        self._locator: str | None = None  # the signed-in user's key slot (set on open)
        self.failures_since_last = failures_since_last
        self.keyfile_problem: str | None = keyfile.auth_problem
        self.locked = False

    # -- opening ----------------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        path,
        password: str,
        user_name: str = DEFAULT_USER,
        *,
        display_name: str | None = None,
        demo: bool = False,
    ) -> Workspace:
        """A new encrypted database with its first user, a coordinator. Refuses an existing file."""
        path = Path(path)
        if path.exists() or K.key_file_path(path).exists():
            raise InputRefused(f"{path.name} はすでに存在します。別の名前を指定してください。")
        if not password:
            raise InputRefused("パスワードを指定してください（KODOMO_DB_PASSWORD）。")
        K.check_password_rules(password, demo=demo)
        if not path.parent.exists():
            raise InputRefused(f"フォルダー {path.parent} がありません。")
        db_key = K.new_database_key()
        kf = K.KeyFile.new(path)
        ref = K.new_user_ref()
        priv = kf.add_user(user_name, password, ref, db_key, default=True)
        open_private(path).close()  # the database file is created 0600 (core/outputs.py); SQLite journals follow it
        engine = make_engine(path, db_key)
        try:
            create_schema(engine)  # the migration scripts' schema (storage/migrate.py)
            with engine.begin() as conn:
                conn.execute(
                    text(
                        "INSERT INTO app_user (name, slot_id, display_name, role, created_at) "
                        "VALUES (:n, :s, :d, 'coordinator', :t)"
                    ),
                    dict(n=user_name, s=ref, d=display_name, t=dt.datetime.now().replace(microsecond=0)),
                )
                audit.append(conn, user_name, "db_created", detail={"schema": head_revision()})
                kf.opened_auth()["anchor"] = audit.head(conn)
            kf.data["db_salt"] = K.db_salt(path)
            kf.seal_auth(db_key)
            kf.save()
        except BaseException:
            engine.dispose()
            for p in (path, K.key_file_path(path)):
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
            raise
        engine.dispose()
        pre = K.Unlocked(db_key, None, ref, kf.opened_auth()["users"][ref][0], priv=priv)  # no second Argon2id run
        in_use = K.acquire_in_use(path)
        try:
            ws = cls._open(path, password, user_name, in_use, pre)
            assert isinstance(ws, Workspace)  # a new database has only its coordinator
            return ws
        except BaseException:
            if in_use is not None:
                in_use.close()
            raise

    @staticmethod
    def _settle_key(path: Path, kf: K.KeyFile, u: K.Unlocked) -> bytes:
        """The key that opens the file; finishes (or rolls back) a re-key a crash interrupted. Under the file lock."""
        try:
            raw_connect(path, u.db_key, key_proven=True).close()
        except IntegrityFailure:
            if u.prev_key is None:
                raise
            raw_connect(path, u.prev_key, key_proven=True).close()  # the re-key never reached the database
            kf.abort_rekey(u.prev_key)
            kf.save()
            return u.prev_key
        if kf.rekey_pending:  # the database answers to the new key: forget the old one
            kf.end_rekey()
            kf.save()
        return u.db_key

    @classmethod
    def open_town(cls, path, password: str, user_name: str | None = None) -> Workspace:
        """``open`` for work on the whole town database: a school user's or an auditor's own workspace is refused
        (and closed)."""
        ws = cls.open(path, password, user_name)
        if not isinstance(ws, Workspace):
            ws.close()
            raise PermissionDenied(
                "学校の利用者・監査の利用者はこの操作ができません。コーディネーターでサインインしてください。"
            )
        return ws

    @classmethod
    def open(cls, path, password: str, user_name: str | None = None) -> Workspace | sealed.SealedWorkspace:
        """Unlock: wrong password → WrongPassword (exit 2) and the database is not touched."""
        path = Path(path)
        if not path.exists() and not Path(str(path) + ".restore-journal").exists():
            raise InputRefused(f"データベース {path} が見つかりません。")
        if not password:
            raise InputRefused("パスワードを指定してください（KODOMO_DB_PASSWORD）。")
        K.password_bytes(password)
        in_use = K.acquire_in_use(path)
        try:
            return cls._open(path, password, user_name, in_use)
        except BaseException:
            if in_use is not None:
                in_use.close()
            raise

    @classmethod
    def _open(
        cls, path: Path, password: str, user_name: str | None, in_use, pre: K.Unlocked | None = None
    ) -> Workspace | sealed.SealedWorkspace:

        recover(path)  # a restore a crash interrupted: finish it (or drop its leftovers)
        if not path.exists():
            raise InputRefused(f"データベース {path} が見つかりません。")
        assert_encrypted_file(path)
        if not K.key_file_path(path).exists() and K.legacy_kdf_path(path).exists():
            convert_legacy(path, password, user_name or DEFAULT_USER)
        kf = K.KeyFile.load(path)
        if pre is None:
            kf.check_delay()
            derived = kf.derive(user_name, password)  # the one Argon2id run: the locator in every key file
            if not kf.has_slot(derived[0]):
                found = sealed.find_slot(path, kf, derived)  # a school user or an auditor: their own workspace
                if found is not None:
                    own = sealed.sign_in(found[0], path, found[1], user_name, password, derived, in_use)
                    return cls._opened(own)
            u = kf.unlock(user_name, password, derived=derived)
        else:
            u = pre
        with K.file_lock(path):
            kf = K.KeyFile.load(path)  # fresh, under the lock
            if not u.legacy:
                u = kf.reopen(u)
            db_key = cls._settle_key(path, kf, u)
            kf.open_auth(db_key)
            engine = make_engine(path, db_key)
            try:
                rev = current_revision(engine)
                if rev != head_revision():
                    if rev is not None and not known_revision(rev):
                        raise InputRefused(
                            "このデータベースは新しい版の Kodomo Desktop で作られています（スキーマ "
                            f"{rev}）。アプリを更新してから開いてください。データベースは変更されていません。"
                        )
                    upgrade(engine)
                # reads the user, then writes the log: the write lock first, or a second process opening at the
                # same moment (two imports started together) is answered "database is locked" at once
                with write_transaction(engine) as conn:
                    row = conn.execute(
                        text("SELECT id, name, role, school, removed_at FROM app_user WHERE slot_id=:s"),
                        dict(s=u.ref),
                    ).first()
                    if row is None or row.removed_at is not None:
                        raise InputRefused("この利用者は登録されていません。")
                    user = SignedInUser(row.id, row.name, row.role, row.school)
                    names: dict[str, str] = dict(conn.execute(text("SELECT slot_id, name FROM app_user")).all())
                    if u.legacy:
                        kf.convert_legacy_user(user.name, password, u.ref, db_key)
                    legacy = kf.take_legacy()
                    events = list((legacy or {}).get("pending_events") or [])
                    if legacy and legacy.get("last_backup_at") and kf.auth is not None:
                        kf.auth["last_backup_at"] = kf.auth.get("last_backup_at") or legacy["last_backup_at"]
                    if kf.auth_problem:
                        audit.append(conn, user.name, "keyfile_refused", detail={"problem": kf.auth_problem})
                    else:
                        events += kf.take_events()
                    for ev in events:  # what happened while the database was closed (authenticated)
                        who = names.get(ev.get("ref") or ev.get("slot"), "不明な利用者")
                        audit.append(conn, who, ev["action"], None, ev.get("detail"), at=ev.get("at"))
                    failures = kf.take_failures()
                    for t in failures:  # unauthenticated by nature: logged now, as unverified
                        audit.append(
                            conn, "不明な利用者", "sign_in_failed", None, {"recorded_at": t, "verified": False}
                        )
                    audit.append(
                        conn,
                        user.name,
                        "db_open",
                        detail={"failures_since_last": len(failures)} if failures else None,
                    )
                    conn.execute(
                        text("UPDATE app_user SET last_sign_in_at=:t WHERE id=:i"),
                        dict(t=dt.datetime.now().replace(microsecond=0), i=user.id),
                    )
                    if kf.auth is not None and not kf.auth_problem:
                        kf.auth["anchor"] = audit.advance_anchor(conn, kf.auth.get("anchor"))
                kf.seal_auth(db_key)
                kf.save()
            except (sa_exc.DatabaseError, sqlcipher3.DatabaseError) as e:
                engine.dispose()
                if "locked" in str(e) or "busy" in str(e):
                    raise InputRefused("データベースは別の処理が使用中です。しばらくしてからもう一度お試しください。")
                raise IntegrityFailure(
                    "データベースの一部が壊れています（"
                    + str(getattr(e, "orig", e))
                    + "）。バックアップから復元してください。データベースは変更されていません。"
                )
            except BaseException:
                engine.dispose()
                raise
        ws = cls(path, engine, user, kf, db_key, len(failures), u.ref)
        ws._locator = u.locator
        ws._in_use = in_use
        _OPEN.add(ws)
        for hook in OPEN_HOOKS:
            hook(ws)
        if user.role == "school" and not u.legacy:
            # a school user whose slot is still in the town's key file (made before school workspaces): moved now
            # into the school's own workspace, and the town re-keyed so the old slot opens nothing
            return schoolspace.move_town_slot(ws, password)
        if user.role == "auditor" and not u.legacy:  # the same for an auditor: into the audit workspace
            return cls._opened(auditspace.move_town_slot(ws, password))
        ws.refresh_audit_copy()  # what the auditors did meanwhile (their reads, the self-inspection answers)
        return ws

    @staticmethod
    def _opened(own: sealed.SealedWorkspace) -> sealed.SealedWorkspace:
        """An auditor's workspace reads the town's catalogue from its copy (the open hooks run on it too)."""
        if isinstance(own, auditspace.AuditWorkspace):
            for hook in OPEN_HOOKS:
                with contextlib.suppress(Exception):
                    hook(own)
            own.close_hooks = CLOSE_HOOKS
        return own

    # -- the key file, under its lock, always fresh ------------------------------------------------
    @contextlib.contextmanager
    def keyfile_update(self) -> Iterator[K.KeyFile]:
        """Load the key file under the lock, open its auth section with our key, seal and save it on exit."""
        key = self.raw_key()
        with K.file_lock(self.path):
            kf = K.KeyFile.load(self.path)
            kf.open_auth(key)
            if kf.auth_problem and not self.keyfile_problem:
                try:
                    raw_connect(self.path, key, key_proven=True).close()
                except IntegrityFailure:
                    raise KodomoError("別の場所で鍵が更新されました。もう一度サインインしてください。")
            yield kf
            kf.seal_auth(key)
            kf.save()
        self.keyfile = kf
        self.keyfile_problem = kf.auth_problem

    def save_anchor(self, *, reset: bool = False) -> dict | None:
        """Write the log's length and head hash into the key file's authenticated section."""
        with self.keyfile_update() as kf, self.engine.connect() as conn:
            if kf.auth_problem:
                return None
            auth = kf.opened_auth()
            auth["anchor"] = audit.advance_anchor(conn, auth.get("anchor"), reset=reset)
            return auth["anchor"]

    def log_anchor(self) -> dict:
        """The anchor as the key file holds it, for the self-inspection report: count and a short hash."""
        kf = K.KeyFile.load(self.path)
        kf.open_auth(self.raw_key())
        a = (kf.auth or {}).get("anchor") or {}
        return {
            "count": int(a.get("count", 0)),
            "head": a.get("head"),
            "short": audit.short(a.get("head")),
            "ok": not kf.auth_problem,
        }

    # -- re-keying ---------------------------------------------------------------------------------
    def rekey(self, mutate=None, *, reason: str = "rotate", reset_anchor: bool = False, scratch: bool = False) -> dict:
        """A new database key: ``PRAGMA rekey`` plus every remaining slot re-sealed (鍵の更新).

        Crash order: (1) the key file is written holding the new key *and* the old one for every remaining slot
        (removed slots are gone already); (2) ``PRAGMA rekey`` rewrites the database in one SQLite transaction;
        (3) the key file forgets the old key. A crash before (2) commits leaves the old key valid, after it the
        new; both are in the file, and the next open finishes step 3 or rolls step 1 back. Old key files and
        backups keep opening only what they were made with.

        ``scratch``: the file is a temporary copy that is thrown away unless everything after succeeds (restore's
        ``.restoring`` copy, removed by ``recover`` when a crash leaves no restore journal). Its pages are then
        rewritten in place without a rollback journal — one write of the database instead of two (the journal
        holds a copy of every page: at 185,000 residents 2 GB more written and synced), not synced here (the caller
        syncs the file before it keeps it). A crash in the middle leaves a file under neither key (the caller
        discards it). ``PRAGMA rekey`` answers "ok" even when a page
        does not pass its HMAC check; such a page stops it before it commits, page 1 (written at the commit: the
        b-tree holds it) keeps the old key, and the open under the new key below fails (IntegrityFailure).
        """
        self._check_open()
        old = self.raw_key()
        new = K.new_database_key()
        self.engine.dispose()
        dropped: list[str] = []
        with K.file_lock(self.path):
            try:
                raw_connect(self.path, old, key_proven=True).close()
            except IntegrityFailure:
                raise KodomoError("別の場所で鍵が更新されました。もう一度サインインしてください。")
            kf = K.KeyFile.load(self.path)
            kf.open_auth(old)
            if kf.auth_problem:  # rebuilding after a refused auth section: keep only our own slots
                own = {loc for loc, s in kf.data["slots"].items() if self._owns(kf, loc)}
                kf.opened_auth()["users"] = {self.user_ref: sorted(own)}
            if mutate is not None:
                mutate(kf)
            known = {loc for locs in kf.opened_auth()["users"].values() for loc in locs}
            for loc in list(kf.data["slots"]):
                if loc not in known:  # a slot no user owns (planted, or left over): not carried over
                    kf.data["slots"].pop(loc)
            dropped = kf.drop_legacy()
            kf.begin_rekey(old, new)
            kf.save()
            K.crash_point("rekey-1")
            con = raw_connect(self.path, old, key_proven=True)
            try:
                if scratch:
                    con.execute("PRAGMA journal_mode = OFF")
                    con.execute("PRAGMA synchronous = OFF")  # one fsync below instead of one per cache spill
                    con.execute("PRAGMA cache_size = 64")  # pages go to the file as they are rewritten: memory flat
                con.execute(f"PRAGMA rekey = \"x'{new.hex()}'\"")
            finally:
                con.close()
            K.crash_point("rekey-2")
            raw_connect(self.path, new, key_proven=True).close()
            kf.end_rekey()
            kf.save()
            K.crash_point("rekey-3")
        for w in [self, *(w for w in list(_OPEN) if w is not self and w.path.resolve() == self.path.resolve())]:
            if w is not self and not w.locked and w.user_ref not in kf.opened_auth()["users"]:
                w._drop_engine()  # a window of a user just removed (or re-passworded elsewhere) is locked out
            elif w is self or not w.locked:  # windows of this process on the same database follow the new key
                w.engine.dispose()
                w._db_key = new
                w.engine = make_engine(w.path, new)
                w._sessions = sessionmaker(w.engine, expire_on_commit=False)
                w.keyfile = kf
                w.keyfile_problem = None
        with write_transaction(self.engine) as conn:  # reads the users, then logs
            names: dict[str, str] = dict(
                conn.execute(text("SELECT slot_id, name FROM app_user WHERE removed_at IS NULL")).all()
            )
            lost = sorted(names[r] for r in dropped if r in names)
            audit.append(conn, self.user.name, "key_rotated", detail={"reason": reason, "slots": len(kf.data["slots"])})
        self.save_anchor(reset=reset_anchor)
        return {"rekeyed": True, "reason": reason, "slots": len(kf.data["slots"]), "need_new_password": lost}

    def _owns(self, kf: K.KeyFile, locator: str) -> bool:
        return locator == getattr(self, "_locator", None)

    # -- services' helpers -------------------------------------------------------------------------------
    @contextlib.contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A transaction (committed on leaving, rolled back on an exception). ``write``: one that reads and then
        writes while another thread may write (a worker's export that logs at its end): it takes the write lock at
        its start, so the other waits (busy_timeout) — a read transaction that later wants the lock is answered
        "database is locked" at once when another connection holds it."""
        self._check_unlocked()
        assert self._sessions is not None
        with self._sessions.begin() as s:
            if write:
                s.connection(execution_options={"immediate": True})
            yield s

    @contextlib.contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for a read or two (a setting, a count): no ORM session, a third of :meth:`session`'s cost
        for one row. Its transaction is rolled back on leaving: nothing written through it stays."""
        self._check_unlocked()
        with self.engine.connect() as conn:
            yield conn

    def _check_unlocked(self) -> None:
        self._check_open()
        if self._sessions is None:  # (locked: _check_open refuses first)
            raise KodomoError("データベースはロックされています。パスワードを入力してください。")

    def log(self, action: str, person_id: str | None = None, detail=None, *, conn=None) -> int:
        """Append to the access log (in ``conn``'s transaction when given, else in its own)."""
        self._check_open()
        return audit.write(self.engine, self.user.name, action, person_id, detail, conn=conn)

    # -- lock, close -----------------------------------------------------------------------------------
    def lock(self, *, manual: bool = False) -> None:
        """Lock (auto-lock after idle minutes, or the user's Ctrl+L with ``manual``): close every connection, drop
        the engine (its connection factory holds the key) and the key; unlock needs the password again."""
        if self.locked:
            return
        self.log("db_lock_manual" if manual else "db_lock")
        self.refresh_audit_copy()
        with contextlib.suppress(KodomoError, OSError):
            self.save_anchor()
        self._drop_engine()

    def refresh_audit_copy(self) -> dict | None:
        """The auditor's copy brought up to date (core/auditspace.py): at lock, close, verify and the log export.
        Never stops them (a problem is reported in the diagnostic log)."""
        if self.locked or self._db_key is None:
            return None
        return auditspace.quiet_sync(self)

    def _drop_engine(self) -> None:
        self.engine.dispose()
        # any read while locked fails instead of reconnecting with the old key
        self.engine = cast(Engine, ClosedEngine())  # (an Engine to every caller: each use raises)
        self._sessions = None
        self._db_key = None
        self.locked = True

    def unlock(self, password: str) -> None:
        """The lock screen: the same back-off and the same checks as signing in."""
        kf = K.KeyFile.load(self.path)
        kf.check_delay()
        u = kf.unlock(self.user.name, password)
        if u.ref != self.user_ref:
            kf.record_failure()
            raise WrongPassword(K.WRONG)
        with K.file_lock(self.path):
            kf = K.KeyFile.load(self.path)
            u = kf.reopen(u)
            key = self._settle_key(self.path, kf, u)
        self.engine = make_engine(self.path, key)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._db_key = key
        self.locked = False
        with self.keyfile_update() as kf:
            failures = kf.take_failures()
        with write_transaction(self.engine) as conn:  # (as in _open)
            for t in failures:
                audit.append(conn, "不明な利用者", "sign_in_failed", None, {"recorded_at": t, "verified": False})
            audit.append(conn, self.user.name, "db_open", detail={"unlock": True})
        self.failures_since_last = len(failures)

    def close(self) -> None:
        if not self.locked and self._db_key is not None:
            with contextlib.suppress(Exception):
                self.log("db_close")
            self.refresh_audit_copy()
            with contextlib.suppress(Exception):
                self.save_anchor()
        self._drop_engine()
        fh, self._in_use = getattr(self, "_in_use", None), None
        if fh is not None:
            fh.close()
        for hook in CLOSE_HOOKS:
            with contextlib.suppress(Exception):
                hook(self)

    def _check_open(self) -> None:
        if self.locked or self._db_key is None:
            raise KodomoError("データベースはロックされています。パスワードを入力してください。")

    def raw_key(self) -> bytes:
        """The database key, for backup and re-keying only."""
        self._check_open()
        return self._db_key  # type: ignore[return-value]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- integrity ---------------------------------------------------------------------------------
    def verify(self, *, pages: bool = True, free_pages: bool = True, chain: bool = True) -> dict:
        """SQLCipher page check + SQLite integrity + the log chain + its anchor. Damage → IntegrityFailure. The
        auditor's copy is brought up to date first.

        The parts (all by default): ``pages`` the pages (SQLite's structure check, which reads every page in use),
        ``free_pages`` SQLCipher's HMAC check of every page of the file as well, ``chain`` the log chain and its
        anchor. Restore checks a backup's log and anchor before re-keying resets the anchor, and its pages' structure
        after the re-key (which read every page, free ones too, under the backup's key: see backup.restore)."""
        self._check_open()
        self.refresh_audit_copy()
        kf = K.KeyFile.load(self.path)
        kf.open_auth(self.raw_key())
        anchor = (kf.auth or {}).get("anchor")
        con = raw_connect(self.path, self.raw_key(), key_proven=True)
        try:
            problems = cipher_integrity_check(con, free_pages=free_pages) if pages else []
            report, anchor_problem = audit.ChainReport(True, 0), None
            if chain:
                try:
                    report = audit.verify_chain(con)
                    anchor_problem = audit.check_anchor(con, anchor)
                except Exception as e:  # a table too damaged to read
                    report = audit.ChainReport(False, 0, None, str(e))
        finally:
            con.close()
        if kf.auth_problem and chain:
            anchor_problem = kf.auth_problem
        result = {
            "ok": not problems and report.ok and not anchor_problem,
            "cipher_integrity": (problems[:20] or "ok") if pages else "not_checked",
            **report.to_json(),
            "anchor": {"count": (anchor or {}).get("count"), "head": audit.short((anchor or {}).get("head"))},
            "anchor_ok": not anchor_problem,
            "anchor_problem": anchor_problem,
        }
        if not result["ok"]:
            if problems:
                what = "、".join(problems[:3])
            elif not report.ok:
                what = f"操作ログの記録 {report.first_broken} 番: {report.problem}"
            else:
                what = f"{anchor_problem}。鍵ファイルに記録された操作ログの長さと先頭が合いません"
            err = IntegrityFailure(f"整合性検査で問題が見つかりました（{what}）。")
            err.result = result  # type: ignore[attr-defined]
            raise err
        self.log("verify", detail={"entries": report.entries} if chain else {"pages": "ok"})
        return result

    # -- users (core/users.py does it; these delegate for existing callers) --------------------------------------
    def add_user(
        self, name: str, password: str, role: str, school: str | None = None, display_name: str | None = None
    ) -> None:
        users.create_user(self, name, password, role, school, display_name)

    def remove_user(self, name: str) -> dict:
        """Remove a user: their slots go and the database (theirs: the school's) is re-keyed."""
        return users.delete_user(self, name)

    def change_own_password(self, new_password: str, current: str | None = None) -> dict:
        return users.change_town_password(self, new_password, current)

    def rotate_keys(self) -> dict:
        """鍵の更新 by a coordinator: a new database key for everyone; resets the log anchor to today's log."""
        self.require("users.manage", what="keys rotate")
        result = self.rekey(reason="rotate", reset_anchor=True)
        result["school_workspaces"] = schoolspace.rotate_all(self, "rotate")  # and every school's, new town pairs
        result["audit_workspace"] = auditspace.rotate_all(self, "rotate")  # and the auditor's
        return result

    def list_users(self) -> list[dict]:
        return users.registered(self)


def change_password(path, user_name: str | None, old_password: str, new_password: str) -> str:
    """The user's own password: a new slot and a re-key (the old key file with the old password opens nothing)."""
    if not new_password:
        raise InputRefused("新しいパスワードを指定してください（KODOMO_NEW_PASSWORD）。")
    K.check_password_rules(new_password)
    ws = Workspace.open(path, old_password, user_name)
    try:
        ws.change_own_password(new_password)
        return ws.user.name
    finally:
        ws.close()


def env_password() -> str:
    return os.environ.get("KODOMO_DB_PASSWORD", "")
