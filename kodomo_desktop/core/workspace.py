"""Workspace: one unlocked database and the person signed in to it — the context every core service takes.

Services call ``ws.require(permission)`` before they read or write (a refusal is logged and raises
PermissionDenied), use ``ws.session()`` for an SQLAlchemy session and ``ws.log(...)`` for the access log.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from .audit import log as audit
from .errors import InputRefused, IntegrityFailure, KodomoError, PermissionDenied
from .outputs import open_private
from .security.roles import PERMISSIONS, ROLES, role_has
from .storage import keys as K
from .storage.db import assert_encrypted_file, cipher_integrity_check, make_engine, raw_connect
from .storage.models import AppUser

MIGRATIONS = Path(__file__).parent / "storage" / "migrations"
DEFAULT_USER = "coordinator"


def alembic_config(connection=None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@dataclass(frozen=True)
class SignedInUser:
    id: int
    name: str
    role: str
    school: str | None

    @property
    def role_label(self) -> str:
        return ROLES.get(self.role, self.role)


class _ClosedEngine:
    """Stands in for the engine while the workspace is locked or closed: nothing can connect without the key."""

    def dispose(self, *_, **__) -> None:
        pass

    def __getattr__(self, name):
        raise KodomoError("データベースはロックされています。パスワードを入力してください。")


class Workspace:
    def __init__(
        self,
        path: Path,
        engine: Engine,
        user: SignedInUser,
        keyfile: K.KeyFile,
        db_key: bytes,
        failures_since_last: int = 0,
    ):
        self.path = path
        self.engine = engine
        self.user = user
        self.keyfile = keyfile
        self._db_key: bytes | None = db_key
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.failures_since_last = failures_since_last
        self.locked = False

    # -- opening ----------------------------------------------------------------------------------
    @classmethod
    def create(
        cls, path, password: str, user_name: str = DEFAULT_USER, *, display_name: str | None = None
    ) -> Workspace:
        """A new encrypted database with its first user, a coordinator. Refuses an existing file."""
        path = Path(path)
        if path.exists() or K.key_file_path(path).exists():
            raise InputRefused(f"{path.name} はすでに存在します。別の名前を指定してください。")
        if not password:
            raise InputRefused("パスワードを指定してください（KODOMO_DB_PASSWORD）。")
        if not path.parent.exists():
            raise InputRefused(f"フォルダー {path.parent} がありません。")
        db_key = K.new_database_key()
        kf = K.KeyFile.new(path)
        kf.set_slot(user_name, password, db_key)
        sid = kf.slot_id(user_name)
        kf.data["default_slot"] = sid
        open_private(path).close()  # the database file is created 0600 (core/outputs.py); SQLite journals follow it
        engine = make_engine(path, db_key)
        try:
            upgrade(engine)
            with engine.begin() as conn:
                conn.execute(
                    text(
                        "INSERT INTO app_user (name, slot_id, display_name, role, created_at) "
                        "VALUES (:n, :s, :d, 'coordinator', :t)"
                    ),
                    dict(n=user_name, s=sid, d=display_name, t=dt.datetime.now().replace(microsecond=0)),
                )
                audit.append(conn, user_name, "db_created", detail={"schema": head_revision()})
            kf.save()
        except BaseException:
            engine.dispose()
            for p in (path, K.key_file_path(path)):
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
            raise
        engine.dispose()
        return cls.open(path, password, user_name)

    @classmethod
    def open(cls, path, password: str, user_name: str | None = None) -> Workspace:
        """Unlock: wrong password → WrongPassword (exit 2) and the database is not touched."""
        path = Path(path)
        if not path.exists():
            raise InputRefused(f"データベース {path} が見つかりません。")
        if not password:
            raise InputRefused("パスワードを指定してください（KODOMO_DB_PASSWORD）。")
        assert_encrypted_file(path)
        if not K.key_file_path(path).exists() and K.legacy_kdf_path(path).exists():
            from .storage.legacy import convert_legacy

            convert_legacy(path, password, user_name or DEFAULT_USER)
        kf = K.KeyFile.load(path)
        sid_guess = kf.resolve_user(user_name) if (user_name or kf.data.get("default_slot")) else None
        if sid_guess and kf.failure_delay(sid_guess) > 0:
            raise InputRefused(
                f"パスワードの誤りが続いたため、{int(kf.failure_delay(sid_guess)) + 1} 秒後にもう一度お試しください。"
            )
        db_key, sid, failures = kf.unwrap(user_name, password)
        con = raw_connect(path, db_key)  # proves the key against the file
        con.close()
        engine = make_engine(path, db_key)
        try:
            if current_revision(engine) != head_revision():
                upgrade(engine)
            with engine.begin() as conn:
                row = conn.execute(
                    text("SELECT id, name, role, school, removed_at FROM app_user WHERE slot_id=:s"), dict(s=sid)
                ).first()
                if row is None or row.removed_at is not None:
                    raise InputRefused("この利用者は登録されていません。")
                user = SignedInUser(row.id, row.name, row.role, row.school)
                names = dict(conn.execute(text("SELECT slot_id, name FROM app_user")).all())
                for ev in kf.take_events():  # what happened while the database was closed
                    who = names.get(ev.get("slot"), "不明な利用者")
                    audit.append(conn, who, ev["action"], None, ev.get("detail"), at=ev.get("at"))
                audit.append(conn, user.name, "db_open", detail={"failures_since_last": failures} if failures else None)
                conn.execute(
                    text("UPDATE app_user SET last_sign_in_at=:t WHERE id=:i"),
                    dict(t=dt.datetime.now().replace(microsecond=0), i=user.id),
                )
            kf.clear_failures(sid)
            kf.save()
        except BaseException:
            engine.dispose()
            raise
        return cls(path, engine, user, kf, db_key, failures)

    # -- services' helpers -------------------------------------------------------------------------------
    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        self._check_open()
        with self._sessions.begin() as s:
            yield s

    def log(self, action: str, person_id: str | None = None, detail=None, *, conn=None) -> int:
        """Append to the access log (in ``conn``'s transaction when given, else in its own)."""
        self._check_open()
        if conn is not None:
            if isinstance(conn, Session):
                conn = conn.connection()
            return audit.append(conn, self.user.name, action, person_id, detail)
        with self.engine.begin() as c:
            return audit.append(c, self.user.name, action, person_id, detail)

    def can(self, permission: str) -> bool:
        return role_has(self.user.role, permission)

    def require(self, permission: str, *, what: str | None = None, person_id: str | None = None) -> None:
        if self.can(permission):
            return
        self.log(
            "permission_denied",
            person_id,
            {"permission": permission, "what": what or permission, "role": self.user.role},
        )
        raise PermissionDenied(f"「{self.user.role_label}」の権限では「{PERMISSIONS[permission][0]}」はできません。")

    def require_school(self, school: str | None) -> None:
        """A school user may touch only its own school's pupils."""
        if self.user.role == "school" and (school or "") != (self.user.school or ""):
            self.log(
                "permission_denied",
                None,
                {"permission": "checklist.enter", "what": "other_school", "role": self.user.role},
            )
            raise PermissionDenied("他の学校のこどもの情報は扱えません。")

    # -- lock, close -----------------------------------------------------------------------------------
    def lock(self, *, manual: bool = False) -> None:
        """Lock (auto-lock after idle minutes, or the user's Ctrl+L with ``manual``): close every connection, drop
        the engine (its connection factory holds the key) and the key; unlock needs the password again."""
        if self.locked:
            return
        self.log("db_lock_manual" if manual else "db_lock")
        self._drop_engine()

    def _drop_engine(self) -> None:
        self.engine.dispose()
        self.engine = _ClosedEngine()  # any read while locked fails instead of reconnecting with the old key
        self._sessions = None
        self._db_key = None
        self.locked = True

    def unlock(self, password: str) -> None:
        kf = K.KeyFile.load(self.path)
        key, sid, _ = kf.unwrap(self.user.name, password)
        self.keyfile = kf
        self.engine = make_engine(self.path, key)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._db_key = key
        self.locked = False
        kf.clear_failures(sid)
        kf.save()
        self.log("db_open", detail={"unlock": True})

    def close(self) -> None:
        if not self.locked and self._db_key is not None:
            with contextlib.suppress(Exception):
                self.log("db_close")
        self._drop_engine()

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
    def verify(self) -> dict:
        """SQLCipher page check + SQLite integrity + the access-log chain. Damage → IntegrityFailure."""
        self._check_open()
        con = raw_connect(self.path, self.raw_key())
        try:
            problems = cipher_integrity_check(con)
            try:
                chain = audit.verify_chain(con)
            except Exception as e:  # a table too damaged to read
                chain = audit.ChainReport(False, 0, None, str(e))
        finally:
            con.close()
        result = {"ok": not problems and chain.ok, "cipher_integrity": problems[:20] or "ok", **chain.to_json()}
        if not result["ok"]:
            what = "、".join(problems[:3]) if problems else f"操作ログの記録 {chain.first_broken} 番: {chain.problem}"
            err = IntegrityFailure(f"整合性検査で問題が見つかりました（{what}）。")
            err.result = result  # type: ignore[attr-defined]
            raise err
        self.log("verify", detail={"entries": chain.entries})
        return result

    # -- users -------------------------------------------------------------------------------------
    def add_user(
        self, name: str, password: str, role: str, school: str | None = None, display_name: str | None = None
    ) -> None:
        self.require("users.manage", what="users add")
        if role not in ROLES:
            raise InputRefused(f"役割 {role} はありません（{', '.join(ROLES)}）。")
        if role == "school" and not school:
            raise InputRefused("学校の利用者には学校名（--school）が必要です。")
        if not password:
            raise InputRefused("新しい利用者のパスワードを指定してください（KODOMO_NEW_PASSWORD）。")
        kf = K.KeyFile.load(self.path)
        sid = kf.slot_id(name)
        with self.session() as s:
            existing = s.scalar(select(AppUser).where(AppUser.name == name))
            if existing is not None and existing.removed_at is None:
                raise InputRefused(f"利用者 {name} はすでに登録されています。")
            if existing is not None:
                existing.role, existing.school, existing.removed_at, existing.slot_id = role, school, None, sid
            else:
                s.add(AppUser(name=name, slot_id=sid, role=role, school=school, display_name=display_name))
            self.log("user_added", detail={"user": name, "role": role}, conn=s)
            kf.set_slot(name, password, self.raw_key())
            kf.save()  # inside the transaction: if saving the slot fails, the user row is rolled back
        self.keyfile = kf

    def remove_user(self, name: str) -> None:
        self.require("users.manage", what="users remove")
        kf = K.KeyFile.load(self.path)
        with self.session() as s:
            u = s.scalar(select(AppUser).where(AppUser.name == name, AppUser.removed_at.is_(None)))
            if u is None:
                raise InputRefused(f"利用者 {name} は登録されていません。")
            if u.role == "coordinator":
                others = s.scalars(
                    select(AppUser).where(
                        AppUser.role == "coordinator", AppUser.removed_at.is_(None), AppUser.id != u.id
                    )
                ).all()
                if not others:
                    raise InputRefused("最後のコーディネーターは削除できません。")
            u.removed_at = dt.datetime.now().replace(microsecond=0)
            self.log("user_removed", detail={"user": name}, conn=s)
            kf.remove_slot(name)
            if kf.data.get("default_slot") == u.slot_id:
                kf.data["default_slot"] = None
            kf.save()
        self.keyfile = kf

    def list_users(self) -> list[dict]:
        self.require("users.manage", what="users list")
        with self.session() as s:
            return [
                {
                    "name": u.name,
                    "role": u.role,
                    "school": u.school,
                    "last_sign_in_at": u.last_sign_in_at.isoformat() if u.last_sign_in_at else None,
                }
                for u in s.scalars(select(AppUser).where(AppUser.removed_at.is_(None)).order_by(AppUser.id))
            ]


def change_password(path, user_name: str | None, old_password: str, new_password: str) -> str:
    """Rewrite one key slot; the database file itself is not touched (the event is logged on next open)."""
    if not new_password:
        raise InputRefused("新しいパスワードを指定してください（KODOMO_NEW_PASSWORD）。")
    path = Path(path)
    kf = K.KeyFile.load(path)
    key, sid, _ = kf.unwrap(user_name, old_password)
    con = raw_connect(path, key)  # proves the slot still opens this database
    try:
        row = con.execute("SELECT name FROM app_user WHERE slot_id=? AND removed_at IS NULL", (sid,)).fetchone()
    finally:
        con.close()
    if row is None:
        raise InputRefused("この利用者は登録されていません。")
    kf.set_slot(row[0], new_password, key)
    kf.queue_event("password_changed", sid)
    kf.save()
    return row[0]


def env_password() -> str:
    return os.environ.get("KODOMO_DB_PASSWORD", "")
