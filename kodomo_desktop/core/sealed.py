"""Sealed workspaces: a database of its own beside the town's, whose users never hold the town's key.

A school's workspace (core/schoolspace.py) and the auditor's (core/auditspace.py) are built the same way, here:

- **Its own file and key.** ``<db><suffix><slug>.db`` (``slug``: a random id kept in the town's row for it, never a
  name), SQLCipher 4 with its own random 256-bit key, and its own key file (``<that db>.keys``, the same
  authenticated, anchored :class:`~.storage.keys.KeyFile`). Its users' slots live only there.
- **The town opens it without its users' passwords.** Its key is sealed, in its key file, to a key pair of the town
  whose private half is kept in the town database (the row's ``town_priv``). Whoever re-keys it (the coordinator
  removing a user, a user changing their password) re-seals it to that key too; the town's own re-key leaves it
  alone, and a coordinator leaving or 鍵の更新 seals it to a new town pair (:func:`rotate`).
- **One password derivation at sign-in.** Its key file uses the town key file's KDF parameters and salt: the
  locator Argon2id gives for the town file is the locator in every sealed file. Sign-in looks in the town file,
  then in every sealed file (:func:`find_slot`: always all of them, found or not), so the time does not say which
  names exist or where.
- **Re-keying** (:func:`rekey`) is crash-safe like the town's (``Workspace.rekey``): the key file first holds the
  new key and the old one, ``PRAGMA rekey`` runs in one transaction, then the key file forgets the old key; the
  next open (:func:`settle`) finishes or rolls back.

:class:`SealedWorkspace` is what a member signed in holds: ``user``, ``can``, ``require``, ``session()``, ``log()``
(its own chained log, ``Kind.log_table``), ``lock``/``unlock``/``close``, ``verify``, ``change_own_password`` over
its own database. A :class:`Kind` says what differs (file suffix, schema, log table, the class).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import secrets
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlcipher3
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import Table, delete, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from .audit import log as audit
from .errors import InputRefused, IntegrityFailure, KodomoError, PermissionDenied, WrongPassword
from .outputs import open_private
from .roles import AccessChecks, ClosedEngine, SignedInUser
from .storage import keys as K
from .storage.db import assert_encrypted_file, cipher_integrity_check, make_engine, raw_connect, write_transaction
from .storage.models import AppUser


def now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)


def auth(kf: K.KeyFile) -> dict:
    """The key file's authenticated section (opened, or fresh for a new file)."""
    if kf.auth is None:
        kf.auth = {"pending_events": [], "anchor": None, "users": {}, "default_ref": None, "deletions": []}
    return kf.auth


@dataclass
class Kind:
    """One kind of sealed workspace."""

    name: str  # "school", "audit": crash points, log details
    suffix: str  # ".school-": the file is <db><suffix><slug>.db
    label: str  # 学校用データベース: messages
    log_table: str  # its own chained log
    meta: Table  # (key, value): schema_version, slug, …
    member: Table  # (ref, name, must_change, created_at, last_sign_in_at)
    create_schema: Callable[[Connection], None]  # every table, idempotent
    version: Callable[[Connection], int | None]
    schema_version: int
    row_model: Any  # the town's table of these workspaces (storage.models)
    workspace: Any = None  # the SealedWorkspace subclass a member signs in to (set by its module)
    refused: str = ""  # PermissionDenied message when a service reaches for what this workspace does not hold


KINDS: list[Kind] = []  # every kind (schoolspace, auditspace register theirs on import)


def register(kind: Kind) -> Kind:
    if all(k.name != kind.name for k in KINDS):
        KINDS.append(kind)
    return kind


def db_path(kind: Kind, town_path, slug: str) -> Path:
    town_path = Path(town_path)
    return town_path.with_name(f"{town_path.name}{kind.suffix}{slug}.db")


def files(kind: Kind, town_path) -> list[Path]:
    """The databases of this kind beside a town database (those with a key file)."""
    town_path = Path(town_path)
    return sorted(
        p
        for p in town_path.parent.glob(f"{town_path.name}{kind.suffix}*.db")
        if p.is_file() and K.key_file_path(p).exists()
    )


# --- the town's handle on a sealed database -------------------------------------------------------------------------
@dataclass
class Store:
    """A sealed database opened with the town's key pair (a town user's account): engine, key, paths."""

    kind: Kind
    slug: str
    path: Path
    key: bytes
    engine: Engine
    school: str = ""  # a school's workspace: the school

    def close(self) -> None:
        self.engine.dispose()


def settle(path: Path, kf: K.KeyFile, key: bytes, prev: bytes | None) -> bytes:
    """The key that opens the file; finishes (or rolls back) a re-key a crash interrupted. Under the file lock."""
    try:
        raw_connect(path, key, key_proven=True).close()
    except IntegrityFailure:
        if prev is None:
            raise
        raw_connect(path, prev, key_proven=True).close()  # the re-key never reached the database
        kf.abort_rekey(prev)
        kf.save()
        return prev
    if kf.rekey_pending:
        kf.end_rekey()
        kf.save()
    return key


def prepare(kind: Kind, engine: Engine) -> None:
    # reads the version, then writes the schema's missing parts: the write lock first (a writer meanwhile is waited
    # for instead of refusing this at once)
    with write_transaction(engine) as conn:
        v = kind.version(conn)
        if v is not None and v > kind.schema_version:
            raise InputRefused(
                f"この{kind.label}は新しい版の Kodomo Desktop で作られています。アプリを更新してください。"
            )
        kind.create_schema(conn)


def create(kind: Kind, town_ws, meta: dict[str, str], record: Callable[[str, bytes], None]) -> str:
    """A new sealed workspace (database, key file with the town's slot); ``record(slug, town_priv)`` writes the
    town's row for it (a failure there removes the new files). Returns the slug."""
    kdf = K.KeyFile.load(town_ws.path).kdf
    while True:
        slug = secrets.token_hex(6)
        path = db_path(kind, town_ws.path, slug)
        if not path.exists():
            break
    key = K.new_database_key()
    priv = X25519PrivateKey.generate()
    kf = K.KeyFile.new(path, kdf)
    kf.add_town_slot(priv.public_key().public_bytes_raw(), key)
    open_private(path).close()
    engine = make_engine(path, key)
    try:
        with engine.begin() as conn:
            kind.create_schema(conn)
            for k, v in {**meta, "slug": slug}.items():
                conn.execute(kind.meta.insert().values(key=k, value=v))
            audit.append(
                conn, town_ws.user.name, "db_created", detail={f"{kind.name}_workspace": slug}, table=kind.log_table
            )
            auth(kf)["anchor"] = audit.head(conn, kind.log_table)
        kf.data["db_salt"] = K.db_salt(path)
        kf.seal_auth(key)
        kf.save()
        record(slug, priv.private_bytes_raw())
    except BaseException:
        engine.dispose()
        for p in (path, K.key_file_path(path)):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        raise
    engine.dispose()
    return slug


def rows(kind: Kind, town_ws) -> list:
    with town_ws.session() as s:
        out = list(s.scalars(select(kind.row_model).order_by(kind.row_model.id)))
        for r in out:
            s.expunge(r)
        return out


def open_store(kind: Kind, town_path, slug: str, town_priv: bytes, missing: str, school: str = "") -> Store:
    """Open a sealed database with the town's key pair (no member's password)."""
    path = db_path(kind, town_path, slug)
    if not path.exists() or not K.key_file_path(path).exists():
        raise InputRefused(missing)
    assert_encrypted_file(path)
    with K.file_lock(path):
        kf = K.KeyFile.load(path)
        key, prev = kf.town_keys(town_priv)
        key = settle(path, kf, key, prev)
    engine = make_engine(path, key)
    try:
        prepare(kind, engine)
    except BaseException:
        engine.dispose()
        raise
    return Store(kind, slug, path, key, engine, school)


# --- members -----------------------------------------------------------------------------------------------------
def add_member(
    store: Store, name: str, password: str, ref: str, *, must_change: bool = False, by: str = "", role: str = ""
) -> None:
    """A slot for (name, password) in the sealed key file, and the user in its member table."""
    kind, member = store.kind, store.kind.member
    with K.file_lock(store.path):
        kf = K.KeyFile.load(store.path)
        kf.open_auth(store.key)
        kf.add_user(name, password, ref, store.key)
        with store.engine.begin() as conn:
            conn.execute(delete(member).where((member.c.ref == ref) | (member.c.name == name)))
            conn.execute(member.insert().values(ref=ref, name=name, must_change=must_change, created_at=now()))
            audit.append(conn, by, "user_added", detail={"user": name, "role": role or kind.name}, table=kind.log_table)
            kf.seal_auth(store.key)
            kf.save()  # inside the transaction: a key file that cannot be written leaves no member row


def rekey(kind: Kind, path: Path, old: bytes, mutate=None, *, by: str = "", reason: str = "rotate") -> bytes:
    """A new key for a sealed database: crash-safe in three steps like the town's (see module docstring)."""
    new = K.new_database_key()
    with K.file_lock(path):
        try:
            raw_connect(path, old, key_proven=True).close()
        except IntegrityFailure:
            raise KodomoError(f"別の場所で{kind.label}の鍵が更新されました。もう一度サインインしてください。")
        kf = K.KeyFile.load(path)
        kf.open_auth(old)
        if mutate is not None:
            mutate(kf)
        known = {loc for locs in auth(kf)["users"].values() for loc in locs}
        for loc in list(kf.data["slots"]):
            if loc not in known:
                kf.data["slots"].pop(loc)
        if kf.auth_problem:  # rebuilding a refused auth section: the anchor starts again from today's log
            kf.auth_problem = None
        kf.begin_rekey(old, new)
        kf.save()
        K.crash_point(f"{kind.name}-rekey-1")
        con = raw_connect(path, old, key_proven=True)
        try:
            con.execute(f"PRAGMA rekey = \"x'{new.hex()}'\"")
        finally:
            con.close()
        K.crash_point(f"{kind.name}-rekey-2")
        eng = make_engine(path, new)
        try:
            with eng.begin() as conn:
                audit.append(
                    conn,
                    by,
                    "key_rotated",
                    detail={"reason": reason, "slots": len(kf.data["slots"])},
                    table=kind.log_table,
                )
                auth(kf)["anchor"] = audit.advance_anchor(conn, None, table=kind.log_table)
        finally:
            eng.dispose()
        kf.end_rekey()
        kf.seal_auth(new)
        kf.save()
        K.crash_point(f"{kind.name}-rekey-3")
    return new


def remove_member(town_ws, store: Store, ref: str, name: str) -> Store:
    """The user's slot goes and the sealed database is re-keyed: an old key file with their password opens
    nothing new. Returns the store on the new key."""
    kind = store.kind
    store.engine.dispose()
    new = rekey(
        kind, store.path, store.key, lambda kf: kf.remove_user(ref), by=town_ws.user.name, reason="user_removed"
    )
    st = Store(kind, store.slug, store.path, new, make_engine(store.path, new), store.school)
    with st.engine.begin() as conn:
        conn.execute(delete(kind.member).where(kind.member.c.ref == ref))
        audit.append(conn, town_ws.user.name, "user_removed", detail={"user": name}, table=kind.log_table)
    for w in list(_OPEN):  # an open session of the removed user in this process is locked out
        if w.own_path.resolve() == store.path.resolve():
            if w.user_ref == ref:
                w._drop_engine()
            elif not w.locked:
                w._follow(new)
    return st


def set_member_flag(store: Store, ref: str, value: bool) -> None:
    with store.engine.begin() as conn:
        conn.execute(store.kind.member.update().where(store.kind.member.c.ref == ref).values(must_change=value))


def member_states(stores: Iterator[Store]) -> dict[str, dict]:
    """Per user reference: what sealed workspaces say of their users (temporary password still in use, last
    sign-in) — the town cannot learn it any other way. Each store is closed."""
    out: dict[str, dict] = {}
    for store in stores:
        try:
            with store.engine.connect() as conn:
                for m in conn.execute(select(store.kind.member)):
                    out[m.ref] = {"must_change": bool(m.must_change), "last_sign_in_at": m.last_sign_in_at}
        finally:
            store.close()
    return out


def rotate(kind: Kind, town_ws, stores: Iterator[tuple[Any, Store]], reason: str) -> int:
    """Every given sealed workspace re-keyed, sealed to a new town key pair: an old town backup (which holds the old
    pairs) opens nothing of today's. ``stores``: (town row, store opened with it).

    Crash order: (1) the re-key adds a slot for the new pair (both pairs hold the new key); (2) the town row takes
    the new private key; (3) the old pair's slot goes. At every step the town's row opens it."""
    nxt = K.KeyFile.TOWN_SLOT + "-next"
    n = 0
    for row, store in stores:
        store.engine.dispose()
        priv = X25519PrivateKey.generate()
        pub = priv.public_key().public_bytes_raw()

        def mutate(kf: K.KeyFile, pub: bytes = pub) -> None:
            kf.data["slots"][nxt] = {"pub": K._b64(pub), "box": {}}  # sealed by the re-key
            auth(kf)["users"][nxt] = [nxt]

        new = rekey(kind, store.path, store.key, mutate, by=town_ws.user.name, reason=reason)
        K.crash_point(f"{kind.name}-pair-1")
        with town_ws.session() as s:
            r = s.get(kind.row_model, row.id)
            if r is not None:
                r.town_priv = priv.private_bytes_raw()
        K.crash_point(f"{kind.name}-pair-2")
        with K.file_lock(store.path):
            kf = K.KeyFile.load(store.path)
            kf.open_auth(new)
            kf.data["slots"][K.KeyFile.TOWN_SLOT] = kf.data["slots"].pop(nxt)
            auth(kf)["users"].pop(nxt, None)
            kf.seal_auth(new)
            kf.save()
        for w in list(_OPEN):  # members' open windows in this process follow the new key
            if w.own_path.resolve() == store.path.resolve() and not w.locked:
                w._follow(new)
        n += 1
    return n


# --- reading a sealed workspace's log back into the town's ------------------------------------------------------------
def copy_log(town_ws, s: Session, row, log_rows: Sequence[Any], chain: audit.ChainReport) -> tuple[int, str | None]:
    """Copy the entries of a sealed workspace's own log not yet copied into the town's log (in ``s``'s transaction),
    naming their user, with ``<kind>_workspace``, ``<kind>_seq`` and ``<kind>_at`` in the detail — after its chain
    and the part already copied (``row.log_seq``/``log_head``) were checked. A log that does not hold is not copied:
    returns (0, what is wrong). ``row``: the town's row for it, in ``s``."""
    kind = next(k for k in KINDS if isinstance(row, k.row_model))
    done = row.log_seq or 0
    problem = None if chain.ok else f"{chain.first_broken} 番: {chain.problem}"
    if problem is None and done:
        at = next((r for r in log_rows if r.seq == done), None)
        if at is None or at.hash != row.log_head:
            problem = f"取り込み済みの {done} 番が見つからないか、変わっています"
    if problem is not None:
        return 0, problem
    copied = 0
    conn = s.connection()
    for lr in log_rows:
        if lr.seq <= done:
            continue
        try:
            detail = json.loads(lr.detail) if lr.detail else {}
        except ValueError:
            detail = {"text": lr.detail}
        if not isinstance(detail, dict):
            detail = {"value": detail}
        detail = {
            **detail,
            f"{kind.name}_workspace": row.slug,
            f"{kind.name}_seq": lr.seq,
            f"{kind.name}_at": lr.at,
        }
        audit.append(conn, lr.user, lr.action, lr.person_id, detail)
        copied += 1
    if log_rows:
        row.log_seq, row.log_head = log_rows[-1].seq, log_rows[-1].hash
    return copied, None


# --- signing in as a member --------------------------------------------------------------------------------------------
_OPEN: weakref.WeakSet = weakref.WeakSet()  # open sealed sessions of this process


def find_slot(town_path, town_kf: K.KeyFile, derived: tuple[str, bytes]) -> tuple[Kind, Path] | None:
    """The sealed database whose key file has the slot ``derived`` locates (every file of every kind is read,
    found or not)."""
    found = None
    for kind in KINDS:
        for p in files(kind, town_path):
            try:
                kf = K.KeyFile.load(p)
            except KodomoError:
                continue
            if kf.data.get("kdf") == town_kf.data.get("kdf") and kf.has_slot(derived[0]) and found is None:
                found = (kind, p)
    return found


def sign_in(kind: Kind, town_path, path: Path, user_name: str | None, password: str, derived, in_use):
    kf = K.KeyFile.load(path)
    u = kf.unlock(user_name, password, derived=derived, record=False)
    assert_encrypted_file(path)
    with K.file_lock(path):
        kf = K.KeyFile.load(path)
        u = kf.reopen(u)
        key = settle(path, kf, u.db_key, u.prev_key)
        kf.open_auth(key)
        engine = make_engine(path, key)
        try:
            prepare(kind, engine)
            # reads the member, then logs: the write lock first (a town's sync writing meanwhile is waited for)
            with write_transaction(engine) as conn:
                m = conn.execute(select(kind.member).where(kind.member.c.ref == u.ref)).first()
                meta = {k: v for k, v in conn.execute(select(kind.meta.c.key, kind.meta.c.value))}
                if m is None:
                    raise InputRefused("この利用者は登録されていません。")
                if kf.auth_problem:
                    audit.append(
                        conn, m.name, "keyfile_refused", detail={"problem": kf.auth_problem}, table=kind.log_table
                    )
                audit.append(conn, m.name, "db_open", table=kind.log_table)
                conn.execute(kind.member.update().where(kind.member.c.ref == u.ref).values(last_sign_in_at=now()))
                if kf.auth is not None and not kf.auth_problem:
                    auth(kf)["anchor"] = audit.advance_anchor(conn, auth(kf).get("anchor"), table=kind.log_table)
            kf.seal_auth(key)
            kf.save()
        except (sa_exc.DatabaseError,) as e:
            engine.dispose()
            raise IntegrityFailure(f"{kind.label}の一部が壊れています（{getattr(e, 'orig', e)}）。")
        except BaseException:
            engine.dispose()
            raise
    ws = kind.workspace(Path(town_path), path, meta, engine, m.name, kf, key, u.ref, u.locator)
    ws._in_use = in_use
    _OPEN.add(ws)
    return ws


def move_town_slot(town_ws, password: str, store: Store, fill: Callable[[Store], Any], reason: str):
    """A member who signed in through a slot in the town's key file (made by an older version): the slot moves to
    ``store`` (the password is at hand), leaves the town's key file, and the town is re-keyed so the old slot opens
    nothing. Returns the sealed session; the town session (and ``store``) are closed."""
    name, ref = town_ws.user.name, town_ws.user_ref
    try:
        try:
            with town_ws.session() as s:
                must = bool(s.scalar(select(AppUser.must_change_password).where(AppUser.slot_id == ref)))
            add_member(store, name, password, ref, must_change=must, by=name, role=town_ws.user.role)
            fill(store)
        finally:
            store.close()
        town_ws.rekey(lambda kf: kf.remove_user(ref), reason=reason)
        town_ws.log(reason, detail={"user": name, f"{store.kind.name}_workspace": store.slug})
        derived = K.KeyFile.load(town_ws.path).derive(name, password)
        in_use, town_ws._in_use = town_ws._in_use, None
    finally:
        town_ws.close()
    return sign_in(store.kind, town_ws.path, store.path, name, password, derived, in_use)


class SealedWorkspace(AccessChecks):
    """A member signed in: the sealed workspace's own database, nothing of the town's."""

    kind: Kind
    role = ""
    close_hooks: list = []  # called with the workspace as it closes (set by Workspace.open for an auditor's)

    def __init__(self, town_path: Path, own_path: Path, meta: dict, engine, name: str, keyfile, key, user_ref, locator):
        self.path = town_path  # the path the member signed in with (the title, the lock screen)
        self.own_path = own_path
        self.meta = meta
        self.slug = meta.get("slug")
        self.engine = engine
        self.user = SignedInUser(0, name, self.role, meta.get("school"))
        self.keyfile = keyfile
        self.keyfile_problem = keyfile.auth_problem
        self._db_key: bytes | None = key
        self.user_ref = user_ref
        self._locator = locator
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.failures_since_last = 0
        self.locked = False
        self._in_use = None

    # -- services' helpers ---------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        with self._refusing_town_tables(), self._sessions.begin() as s:
            yield s

    @contextlib.contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for a read or two, refused as :meth:`session` refuses a table this workspace does not hold."""
        with self._refusing_town_tables(), self.engine.connect() as conn:
            yield conn

    @contextlib.contextmanager
    def _refusing_town_tables(self) -> Iterator[None]:
        """A table or column of the town's that this workspace does not hold: logged and refused (PermissionDenied)."""
        self._check_open()
        try:
            yield
        except (sa_exc.OperationalError, sqlcipher3.OperationalError) as e:  # (the driver's, unwrapped, too)
            if "no such table" in str(e) or "no such column" in str(e):
                self._refuse(str(e).split("no such ", 1)[1].split(" [", 1)[0].split("\n", 1)[0][:80])
            raise

    def _refuse(self, what: str) -> None:
        self.log("permission_denied", None, {"permission": "town_data", "what": what, "role": self.user.role})
        raise PermissionDenied(self.kind.refused)

    def log(self, action: str, person_id: str | None = None, detail=None, *, conn=None) -> int:
        self._check_open()
        return audit.write(self.engine, self.user.name, action, person_id, detail, conn=conn, table=self.kind.log_table)

    # -- lock, close -------------------------------------------------------------------------------------------
    def lock(self, *, manual: bool = False) -> None:
        if self.locked:
            return
        self.log("db_lock_manual" if manual else "db_lock")
        with contextlib.suppress(KodomoError, OSError):
            self.save_anchor()
        self._drop_engine()

    def _drop_engine(self) -> None:
        self.engine.dispose()
        self.engine = ClosedEngine()  # type: ignore[assignment]
        self._sessions = None  # type: ignore[assignment]
        self._db_key = None
        self.locked = True

    def _follow(self, key: bytes) -> None:
        self.engine.dispose()
        self._db_key = key
        self.engine = make_engine(self.own_path, key)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def unlock(self, password: str) -> None:
        """The lock screen: the town key file's back-off and one derivation, as at sign-in."""
        town_kf = K.KeyFile.load(self.path)
        town_kf.check_delay()
        derived = town_kf.derive(self.user.name, password)
        if derived[0] != self._locator:
            town_kf.record_failure()
            raise WrongPassword(K.WRONG)
        with K.file_lock(self.own_path):
            kf = K.KeyFile.load(self.own_path)
            u = kf.unlock(self.user.name, password, derived=derived, record=False)
            key = settle(self.own_path, kf, u.db_key, u.prev_key)
        self._follow(key)
        self.locked = False
        self.log("db_open", detail={"unlock": True})

    def close(self) -> None:
        if not self.locked and self._db_key is not None:
            with contextlib.suppress(Exception):
                self.log("db_close")
            with contextlib.suppress(Exception):
                self.save_anchor()
        self._drop_engine()
        fh, self._in_use = self._in_use, None
        if fh is not None:
            fh.close()
        _OPEN.discard(self)
        for hook in self.close_hooks:
            with contextlib.suppress(Exception):
                hook(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _check_open(self) -> None:
        if self.locked or self._db_key is None:
            raise KodomoError("データベースはロックされています。パスワードを入力してください。")

    def raw_key(self) -> bytes:
        self._check_open()
        return self._db_key  # type: ignore[return-value]

    # -- key file -----------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def keyfile_update(self) -> Iterator[K.KeyFile]:
        key = self.raw_key()
        with K.file_lock(self.own_path):
            kf = K.KeyFile.load(self.own_path)
            kf.open_auth(key)
            yield kf
            kf.seal_auth(key)
            kf.save()
        self.keyfile = kf
        self.keyfile_problem = kf.auth_problem

    def save_anchor(self, *, reset: bool = False) -> dict | None:
        with self.keyfile_update() as kf, self.engine.connect() as conn:
            if kf.auth_problem:
                return None
            auth(kf)["anchor"] = audit.advance_anchor(
                conn, auth(kf).get("anchor"), reset=reset, table=self.kind.log_table
            )
            return auth(kf)["anchor"]

    def own_anchor(self) -> dict:
        """The anchor of this workspace's own log, as its key file holds it."""
        kf = K.KeyFile.load(self.own_path)
        kf.open_auth(self.raw_key())
        return (kf.auth or {}).get("anchor") or {}

    def log_anchor(self) -> dict:
        a = self.own_anchor()
        return {"count": int(a.get("count", 0)), "head": a.get("head"), "short": audit.short(a.get("head")), "ok": True}

    def change_own_password(self, new_password: str, current: str | None = None) -> dict:
        """A new slot for the member and a re-key of the sealed database: the old password opens nothing."""
        K.check_password_rules(new_password)
        if current is not None:
            town_kf = K.KeyFile.load(self.path)
            town_kf.check_delay()
            if town_kf.derive(self.user.name, current)[0] != self._locator:
                raise WrongPassword(K.WRONG)
        ref, name, key = self.user_ref, self.user.name, self.raw_key()
        holder: dict = {}

        def mutate(kf: K.KeyFile) -> None:
            kf.remove_user(ref)
            kf.add_user(name, new_password, ref, key)
            holder["loc"] = auth(kf)["users"][ref][0]

        self.engine.dispose()
        new = rekey(self.kind, self.own_path, key, mutate, by=name, reason="password_changed")
        self._follow(new)
        self._locator = holder["loc"]
        self.keyfile = K.KeyFile.load(self.own_path)
        self.log("password_changed")
        for w in list(_OPEN):  # windows of this process on the same database follow the new key
            if w is not self and w.own_path.resolve() == self.own_path.resolve() and not w.locked:
                w._follow(new)
                if w.user_ref == ref:
                    w._locator = holder["loc"]
        return {"rekeyed": True, "reason": "password_changed", "need_new_password": []}

    def set_must_change(self, value: bool) -> None:
        with self.engine.begin() as conn:
            m = self.kind.member
            conn.execute(m.update().where(m.c.ref == self.user_ref).values(must_change=value))

    def must_change(self) -> bool:
        with self.engine.connect() as conn:
            m = self.kind.member
            return bool(conn.execute(select(m.c.must_change).where(m.c.ref == self.user_ref)).scalar())

    # -- integrity ----------------------------------------------------------------------------------------------
    def _own_check(self, con) -> dict:
        """The sealed database's page check, its own log chain and the anchor in its key file."""
        kf = K.KeyFile.load(self.own_path)
        kf.open_auth(self.raw_key())
        anchor = (kf.auth or {}).get("anchor")
        problems = cipher_integrity_check(con)
        chain = audit.verify_chain(con, self.kind.log_table)
        anchor_problem = audit.check_anchor(con, anchor, self.kind.log_table) or kf.auth_problem
        return {
            "ok": not problems and chain.ok and not anchor_problem,
            f"{self.kind.name}_workspace": True,
            "cipher_integrity": problems[:20] or "ok",
            **chain.to_json(),
            "anchor": {"count": (anchor or {}).get("count"), "head": audit.short((anchor or {}).get("head"))},
            "anchor_ok": not anchor_problem,
            "anchor_problem": anchor_problem,
        }

    def verify(self) -> dict:
        self._check_open()
        con = raw_connect(self.own_path, self.raw_key(), key_proven=True)
        try:
            result = self._own_check(con)
        finally:
            con.close()
        return self._verified(result, result["entries"])

    def _verified(self, result: dict, entries: int) -> dict:
        if not result["ok"]:
            err = IntegrityFailure(f"{self.kind.label}の整合性検査で問題が見つかりました。")
            err.result = result  # type: ignore[attr-defined]
            raise err
        self.log("verify", detail={"entries": entries})
        return result

    # -- what a member may not do ----------------------------------------------------------------------------------
    def list_users(self) -> list[dict]:
        self.require("users.manage", what="users list")
        return []

    def add_user(self, *a, **k) -> None:
        self.require("users.manage", what="users add")

    def remove_user(self, *a, **k) -> dict:
        self.require("users.manage", what="users remove")
        return {}

    def rotate_keys(self) -> dict:
        self.require("users.manage", what="keys rotate")
        return {}
