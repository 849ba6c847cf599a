"""School workspaces: a school account never holds the town's key.

Each school that has users gets its own SQLCipher 4 database beside the town's, ``<db>.school-<slug>.db`` (``slug``:
a random id kept in the town's ``school_workspace`` table — not the school's name), with its own random 256-bit key
and its own key file (``<school db>.keys``, the same authenticated, anchored :class:`~.storage.keys.KeyFile`).
School users' slots live only there. What it holds is in :mod:`.storage.school_schema`: the school's pupils for the
open rounds, the definitions and rounds, the entries it makes and its own hash-chained log.

- **The town opens it without a school password.** The school's key is sealed, in its key file, to a key pair of
  the town whose private half is kept in the town database (``school_workspace.town_priv``). Whoever re-keys the
  school (the coordinator removing a teacher, a teacher changing their password) re-seals it to that key too, so
  the coordinator's account always opens it; the town's own re-key leaves school keys alone.
- **One password derivation at sign-in.** School key files use the town key file's KDF parameters and salt: the
  locator Argon2id gives for the town file is the locator in every school file. Sign-in looks in the town file,
  then in every school file (always all of them, found or not), so the time does not say which names exist.
- **Re-keying** (:func:`rekey`) is crash-safe like the town's (``Workspace.rekey``): the key file first holds the
  new key and the old one, ``PRAGMA rekey`` runs in one transaction, then the key file forgets the old key; the
  next open finishes or rolls back.
- The coordinator fills it (:func:`push`: pupils without opted-out children, definitions, rounds, entries made in
  the town) and reads it back (core/checklists/sync.py: entries, and the school's log into the town's).

:class:`SchoolWorkspace` is what ``Workspace.open`` returns for a school user: ``user``, ``can``, ``require``,
``require_school``, ``session()``, ``log()``, ``lock``/``unlock``/``close`` over the school database. A service that
reaches for a town table from it is refused (logged in the school's log, ``PermissionDenied``, exit 2).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import secrets
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import delete, select, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from . import queries as Q
from .audit import log as audit
from .errors import InputRefused, IntegrityFailure, KodomoError, PermissionDenied, WrongPassword
from .outputs import open_private
from .roles import AccessChecks, ClosedEngine, SignedInUser
from .storage import keys as K
from .storage import school_schema as SS
from .storage.db import assert_encrypted_file, cipher_integrity_check, make_engine, raw_connect
from .storage.models import AppUser, ChecklistDefinition, ChecklistEntry, ChecklistRound, Person, Setting
from .storage.models import SchoolWorkspace as SchoolRow

SUFFIX = ".school-"
SCHOOL_SETTINGS = ("auto_lock_minutes", "town_name")  # town settings a school's session reads (push copies them)


def _auth(kf: K.KeyFile) -> dict:
    """The key file's authenticated section (opened, or fresh for a new file)."""
    if kf.auth is None:
        kf.auth = {"pending_events": [], "anchor": None, "users": {}, "default_ref": None, "deletions": []}
    return kf.auth


def _now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)


def school_db_path(town_path, slug: str) -> Path:
    town_path = Path(town_path)
    return town_path.with_name(f"{town_path.name}{SUFFIX}{slug}.db")


def school_files(town_path) -> list[Path]:
    """The school databases beside a town database (those with a key file)."""
    town_path = Path(town_path)
    return sorted(
        p for p in town_path.parent.glob(f"{town_path.name}{SUFFIX}*.db") if p.is_file() and K.key_file_path(p).exists()
    )


# --- row keys (shared by the town's and the school's workbooks) -----------------------------------------------------
def row_key(round_id: int, person_id: str) -> str:
    """A key that survives sorting and catches a mistyped digit (the last four characters are a check)."""
    base = f"R{round_id}-{person_id}"
    return f"{base}-{hashlib.sha256(base.encode()).hexdigest()[:4].upper()}"


def parse_row_key(key) -> tuple[int, str] | None:
    if not isinstance(key, str) or key.count("-") != 2:
        return None
    r, pid, check = key.strip().split("-")
    if not r.startswith("R") or not r[1:].isdigit() or row_key(int(r[1:]), pid) != key.strip():
        return None
    return int(r[1:]), pid


# --- the coordinator's handle on a school database ---------------------------------------------------------------
@dataclass
class Store:
    """A school database opened with the town's key pair (the coordinator's account): engine, key, paths."""

    school: str
    slug: str
    path: Path
    key: bytes
    engine: Engine

    def close(self) -> None:
        self.engine.dispose()


def _settle(path: Path, kf: K.KeyFile, key: bytes, prev: bytes | None) -> bytes:
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


def _prepare(engine: Engine) -> None:
    with engine.begin() as conn:
        v = SS.version(conn)
        if v is not None and v > SS.SCHEMA_VERSION:
            raise InputRefused(
                "この学校用データベースは新しい版の Kodomo Desktop で作られています。アプリを更新してください。"
            )
        SS.create(conn)


def _town_kdf(town_ws) -> K.KdfParams:
    return K.KeyFile.load(town_ws.path).kdf


def create(town_ws, school: str) -> SchoolRow:
    """A new school workspace (database, key file with the town's slot) and its row in the town database."""
    kdf = _town_kdf(town_ws)
    while True:
        slug = secrets.token_hex(6)
        path = school_db_path(town_ws.path, slug)
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
            SS.create(conn)
            conn.execute(
                text("INSERT INTO school_meta (key, value) VALUES ('school', :s), ('slug', :g)"),
                {"s": school, "g": slug},
            )
            audit.append(conn, town_ws.user.name, "db_created", detail={"school_workspace": slug})
            _auth(kf)["anchor"] = audit.head(conn)
        kf.data["db_salt"] = K.db_salt(path)
        kf.seal_auth(key)
        kf.save()
        with town_ws.session() as s:
            old = s.scalar(select(SchoolRow).where(SchoolRow.school == school))
            if old is not None:  # its file was lost: recreated (by a push), with no user slots
                old.slug, old.town_priv, old.log_seq, old.log_head = slug, priv.private_bytes_raw(), 0, None
                row = old
            else:
                row = SchoolRow(school=school, slug=slug, town_priv=priv.private_bytes_raw(), created_at=_now())
                s.add(row)
            s.flush()
            town_ws.log("school_workspace_created", detail={"school_workspace": slug}, conn=s)
            s.expunge(row)
    except BaseException:
        engine.dispose()
        for p in (path, K.key_file_path(path)):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        raise
    engine.dispose()
    return row


def row_of(town_ws, school: str) -> SchoolRow | None:
    with town_ws.session() as s:
        row = s.scalar(select(SchoolRow).where(SchoolRow.school == school))
        if row is not None:
            s.expunge(row)
        return row


def rows(town_ws) -> list[SchoolRow]:
    with town_ws.session() as s:
        out = list(s.scalars(select(SchoolRow).order_by(SchoolRow.school)))
        for r in out:
            s.expunge(r)
        return out


def open_store(town_ws, row: SchoolRow) -> Store:
    """Open a school database with the town's key pair (no school password)."""
    path = school_db_path(town_ws.path, row.slug)
    if not path.exists() or not K.key_file_path(path).exists():
        raise InputRefused(f"学校「{row.school}」の学校用データベースがありません（同期で作り直します）。")
    assert_encrypted_file(path)
    with K.file_lock(path):
        kf = K.KeyFile.load(path)
        key, prev = kf.town_keys(row.town_priv)
        key = _settle(path, kf, key, prev)
    engine = make_engine(path, key)
    try:
        _prepare(engine)
    except BaseException:
        engine.dispose()
        raise
    return Store(row.school, row.slug, path, key, engine)


def ensure(town_ws, school: str) -> Store:
    """The school's workspace, created if missing (or if its files are gone: recreated, with no user slots)."""
    row = row_of(town_ws, school)
    if row is None or not school_db_path(town_ws.path, row.slug).exists():
        row = create(town_ws, school)
    return open_store(town_ws, row)


# --- users of a school ---------------------------------------------------------------------------------------------
def add_member(store: Store, name: str, password: str, ref: str, *, must_change: bool = False, by: str = "") -> None:
    """A slot for (name, password) in the school's key file, and the user in its member table."""
    with K.file_lock(store.path):
        kf = K.KeyFile.load(store.path)
        kf.open_auth(store.key)
        kf.add_user(name, password, ref, store.key)
        with store.engine.begin() as conn:
            conn.execute(delete(SS.member).where((SS.member.c.ref == ref) | (SS.member.c.name == name)))
            conn.execute(SS.member.insert().values(ref=ref, name=name, must_change=must_change, created_at=_now()))
            audit.append(conn, by, "user_added", detail={"user": name, "role": "school"})
            kf.seal_auth(store.key)
            kf.save()  # inside the transaction: a key file that cannot be written leaves no member row


def rekey(path: Path, old: bytes, mutate=None, *, by: str = "", reason: str = "rotate") -> bytes:
    """A new key for a school database: crash-safe in three steps like the town's (see module docstring)."""
    new = K.new_database_key()
    with K.file_lock(path):
        try:
            raw_connect(path, old, key_proven=True).close()
        except IntegrityFailure:
            raise KodomoError("別の場所で学校用データベースの鍵が更新されました。もう一度サインインしてください。")
        kf = K.KeyFile.load(path)
        kf.open_auth(old)
        if mutate is not None:
            mutate(kf)
        known = {loc for locs in _auth(kf)["users"].values() for loc in locs}
        for loc in list(kf.data["slots"]):
            if loc not in known:
                kf.data["slots"].pop(loc)
        if kf.auth_problem:  # rebuilding a refused auth section: the anchor starts again from today's log
            kf.auth_problem = None
        kf.begin_rekey(old, new)
        kf.save()
        K.crash_point("school-rekey-1")
        con = raw_connect(path, old, key_proven=True)
        try:
            con.execute(f"PRAGMA rekey = \"x'{new.hex()}'\"")
        finally:
            con.close()
        K.crash_point("school-rekey-2")
        eng = make_engine(path, new)
        try:
            with eng.begin() as conn:
                audit.append(conn, by, "key_rotated", detail={"reason": reason, "slots": len(kf.data["slots"])})
                _auth(kf)["anchor"] = audit.advance_anchor(conn, None)
        finally:
            eng.dispose()
        kf.end_rekey()
        kf.seal_auth(new)
        kf.save()
        K.crash_point("school-rekey-3")
    return new


def remove_member(town_ws, store: Store, ref: str, name: str) -> Store:
    """The user's slot goes and the school database is re-keyed: an old key file with their password opens
    nothing new. Returns the store on the new key."""
    store.engine.dispose()
    new = rekey(store.path, store.key, lambda kf: kf.remove_user(ref), by=town_ws.user.name, reason="user_removed")
    st = Store(store.school, store.slug, store.path, new, make_engine(store.path, new))
    with st.engine.begin() as conn:
        conn.execute(delete(SS.member).where(SS.member.c.ref == ref))
        audit.append(conn, town_ws.user.name, "user_removed", detail={"user": name})
    for w in list(_OPEN):  # an open session of the removed user in this process is locked out
        if w.school_path.resolve() == store.path.resolve():
            if w.user_ref == ref:
                w._drop_engine()
            elif not w.locked:
                w._follow(new)
    return st


# --- push: what the school may hold --------------------------------------------------------------------------------
def open_rounds_for(s: Session, school: str) -> list[ChecklistRound]:
    return [
        r
        for r in s.scalars(select(ChecklistRound).where(ChecklistRound.closed_at.is_(None)).order_by(ChecklistRound.id))
        if not r.schools or school in r.schools
    ]


def pupils_for(s: Session, school: str, grades=None) -> list[dict]:
    """The school's children now (their newest linked school record), without anyone opted out."""
    cur = Q.current_schools(s)
    ids = [pid for pid, c in cur.items() if c.school == school and (not grades or (c.grade or "") in grades)]
    excluded = Q.opted_out(s)
    persons = {p.id: p for p in s.scalars(select(Person).where(Person.id.in_(ids)))} if ids else {}
    return [
        {
            "person_id": pid,
            "name": persons[pid].name,
            "kana": persons[pid].name_kana,
            "grade": cur[pid].grade or "",
            "class_name": cur[pid].class_name or "",
        }
        for pid in ids
        if pid in persons and pid not in excluded
    ]


def push(town_ws, store: Store) -> dict:
    """Fill the school's workspace from the town: the open rounds for the school and their definitions, the
    school's pupils for them (none opted out; none at all while no round is open) and the entries made in the town.
    Run after the school's changes were pulled (sync.py), so nothing of the school's is overwritten."""
    school = store.school
    with town_ws.session() as s:
        rounds = open_rounds_for(s, school)
        defs = {r.definition_id: s.get(ChecklistDefinition, r.definition_id) for r in rounds}
        grades = None
        if rounds and all(r.grades for r in rounds):
            grades = {g for r in rounds for g in (r.grades or [])}
        ps = pupils_for(s, school, grades) if rounds else []
        ids = {p["person_id"] for p in ps}
        town_entries = [
            e
            for e in s.scalars(
                select(ChecklistEntry).where(
                    ChecklistEntry.round_id.in_([r.id for r in rounds]),
                    ChecklistEntry.school == school,
                    ChecklistEntry.superseded.is_(False),
                )
            )
            if e.person_id in ids
        ]
        round_rows = [
            dict(
                id=r.id,
                name=r.name,
                definition_id=r.definition_id,
                schools=[school],
                grades=r.grades,
                opened_on=r.opened_on,
                due_on=r.due_on,
                created_by=r.created_by,
                closed_at=None,
            )
            for r in rounds
        ]
        def_rows = [
            dict(id=d.id, key=d.key, version=d.version, data=d.data, created_at=d.created_at)
            for d in defs.values()
            if d
        ]
        entry_rows = [
            dict(
                round_id=e.round_id,
                person_id=e.person_id,
                school=school,
                answers=e.answers,
                remark=e.remark,
                status=e.status,
                via=e.via,
                entered_by=e.entered_by,
                entered_on=e.entered_on,
                submitted_at=e.submitted_at,
            )
            for e in town_entries
        ]
    newest = rounds[-1].id if rounds else None
    with town_ws.session() as s:
        shared = {
            k: v for k, v in s.execute(select(Setting.key, Setting.value).where(Setting.key.in_(SCHOOL_SETTINGS)))
        }
    with store.engine.begin() as conn:
        for k in SCHOOL_SETTINGS:
            conn.execute(delete(SS.school_meta).where(SS.school_meta.c.key == f"setting:{k}"))
            if shared.get(k) is not None:
                conn.execute(SS.school_meta.insert().values(key=f"setting:{k}", value=json.dumps(shared[k])))
        conn.execute(delete(SS.pupil).where(SS.pupil.c.person_id.not_in(ids) if ids else text("1=1")))
        for p in ps:
            conn.execute(delete(SS.pupil).where(SS.pupil.c.person_id == p["person_id"]))
            conn.execute(SS.pupil.insert().values(**p, row_key=row_key(newest, p["person_id"]) if newest else None))
        keep_rounds = [r["id"] for r in round_rows]
        conn.execute(delete(SS.checklist_round).where(SS.checklist_round.c.id.not_in(keep_rounds)))
        conn.execute(delete(SS.checklist_entry).where(SS.checklist_entry.c.round_id.not_in(keep_rounds)))
        if ids:
            conn.execute(delete(SS.checklist_entry).where(SS.checklist_entry.c.person_id.not_in(ids)))
        else:
            conn.execute(delete(SS.checklist_entry))
        for r in round_rows:
            conn.execute(delete(SS.checklist_round).where(SS.checklist_round.c.id == r["id"]))
            conn.execute(SS.checklist_round.insert().values(**r))
        conn.execute(
            delete(SS.checklist_definition).where(SS.checklist_definition.c.id.not_in([d["id"] for d in def_rows]))
        )
        for d in def_rows:
            conn.execute(delete(SS.checklist_definition).where(SS.checklist_definition.c.id == d["id"]))
            conn.execute(SS.checklist_definition.insert().values(**d))
        changed = 0
        for e in entry_rows:
            cur = conn.execute(
                select(SS.checklist_entry).where(
                    SS.checklist_entry.c.round_id == e["round_id"],
                    SS.checklist_entry.c.person_id == e["person_id"],
                    SS.checklist_entry.c.superseded.is_(False),
                )
            ).first()
            same = cur is not None and all(getattr(cur, k) == e[k] for k in ("answers", "remark", "status", "via"))
            if same:
                continue
            if cur is not None:
                conn.execute(delete(SS.checklist_entry).where(SS.checklist_entry.c.id == cur.id))
            conn.execute(SS.checklist_entry.insert().values(**e, superseded=False))
            changed += 1
        conn.execute(SS.checklist_entry.update().values(changed=False))  # the town has all of it now
        audit.append(
            conn,
            town_ws.user.name,
            "school_pushed",
            detail={"rounds": len(round_rows), "pupils": len(ps), "entries": changed},
        )
    return {"school": school, "rounds": len(round_rows), "pupils": len(ps), "entries_from_town": changed}


def reopen_entry(town_ws, school: str | None, round_id: int, person_id: str) -> None:
    """The coordinator reopened a submitted entry: the school's copy becomes a draft again."""
    if not school:
        return
    row = row_of(town_ws, school)
    if row is None or not school_db_path(town_ws.path, row.slug).exists():
        return
    store = open_store(town_ws, row)
    try:
        with store.engine.begin() as conn:
            conn.execute(
                SS.checklist_entry.update()
                .where(
                    SS.checklist_entry.c.round_id == round_id,
                    SS.checklist_entry.c.person_id == person_id,
                    SS.checklist_entry.c.superseded.is_(False),
                )
                .values(status="draft")
            )
            conn.execute(
                SS.checklist_entry.update()
                .where(SS.checklist_entry.c.round_id == round_id, SS.checklist_entry.c.person_id == person_id)
                .values(changed=False)
            )
            audit.append(conn, town_ws.user.name, "checklist_reopened", person_id, {"round_id": round_id})
    finally:
        store.close()


def purge_person(town_ws, person_id: str) -> int:
    """Deletion on request (削除請求): the person leaves every school workspace (pupil row and entries)."""
    n = 0
    for row in rows(town_ws):
        if not school_db_path(town_ws.path, row.slug).exists():
            continue
        store = open_store(town_ws, row)
        try:
            with store.engine.begin() as conn:
                a = conn.execute(delete(SS.pupil).where(SS.pupil.c.person_id == person_id)).rowcount
                b = conn.execute(delete(SS.checklist_entry).where(SS.checklist_entry.c.person_id == person_id)).rowcount
                if a or b:
                    audit.append(conn, town_ws.user.name, "deletion", person_id, {"pupil": a, "entries": b})
                    n += 1
        finally:
            store.close()
    return n


# --- signing in as a school user -----------------------------------------------------------------------------------
_OPEN: weakref.WeakSet = weakref.WeakSet()  # open school sessions of this process


def find_slot(town_path, town_kf: K.KeyFile, derived: tuple[str, bytes]) -> Path | None:
    """The school database whose key file has the slot ``derived`` locates (every file is read, found or not)."""
    found = None
    for p in school_files(town_path):
        try:
            kf = K.KeyFile.load(p)
        except KodomoError:
            continue
        if kf.data.get("kdf") == town_kf.data.get("kdf") and kf.has_slot(derived[0]) and found is None:
            found = p
    return found


def sign_in(town_path, school_path: Path, user_name: str | None, password: str, derived, in_use) -> SchoolWorkspace:
    kf = K.KeyFile.load(school_path)
    u = kf.unlock(user_name, password, derived=derived, record=False)
    assert_encrypted_file(school_path)
    with K.file_lock(school_path):
        kf = K.KeyFile.load(school_path)
        u = kf.reopen(u)
        key = _settle(school_path, kf, u.db_key, u.prev_key)
        kf.open_auth(key)
        engine = make_engine(school_path, key)
        try:
            _prepare(engine)
            with engine.begin() as conn:
                m = conn.execute(select(SS.member).where(SS.member.c.ref == u.ref)).first()
                school = conn.execute(text("SELECT value FROM school_meta WHERE key='school'")).scalar()
                slug = conn.execute(text("SELECT value FROM school_meta WHERE key='slug'")).scalar()
                if m is None:
                    raise InputRefused("この利用者は登録されていません。")
                if kf.auth_problem:
                    audit.append(conn, m.name, "keyfile_refused", detail={"problem": kf.auth_problem})
                audit.append(conn, m.name, "db_open")
                conn.execute(SS.member.update().where(SS.member.c.ref == u.ref).values(last_sign_in_at=_now()))
                if kf.auth is not None and not kf.auth_problem:
                    _auth(kf)["anchor"] = audit.advance_anchor(conn, _auth(kf).get("anchor"))
            kf.seal_auth(key)
            kf.save()
        except (sa_exc.DatabaseError,) as e:
            engine.dispose()
            raise IntegrityFailure(f"学校用データベースの一部が壊れています（{getattr(e, 'orig', e)}）。")
        except BaseException:
            engine.dispose()
            raise
    user = SignedInUser(0, m.name, "school", school)
    ws = SchoolWorkspace(Path(town_path), school_path, slug, engine, user, kf, key, u.ref, u.locator)
    ws._in_use = in_use
    _OPEN.add(ws)
    return ws


class SchoolWorkspace(AccessChecks):
    """A school user signed in: the school's own database, nothing of the town's."""

    is_school = True

    def __init__(self, town_path: Path, school_path: Path, slug, engine, user, keyfile, key, user_ref, locator):
        self.path = town_path  # the path the teacher signed in with (the title, the lock screen)
        self.school_path = school_path
        self.slug = slug
        self.engine = engine
        self.user = user
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
    def session(self) -> Iterator[Session]:
        self._check_open()
        try:
            with self._sessions.begin() as s:
                yield s
        except sa_exc.OperationalError as e:
            if "no such table" in str(e) or "no such column" in str(e):
                self._refuse("town_data")
            raise

    def _refuse(self, what: str) -> None:
        self.log("permission_denied", None, {"permission": "town_data", "what": what, "role": self.user.role})
        raise PermissionDenied("学校の利用者は、学校用データベースにない町のデータは扱えません。")

    def log(self, action: str, person_id: str | None = None, detail=None, *, conn=None) -> int:
        self._check_open()
        return audit.write(self.engine, self.user.name, action, person_id, detail, conn=conn)

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
        self.engine = make_engine(self.school_path, key)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def unlock(self, password: str) -> None:
        """The lock screen: the town key file's back-off and one derivation, as at sign-in."""
        town_kf = K.KeyFile.load(self.path)
        town_kf.check_delay()
        derived = town_kf.derive(self.user.name, password)
        if derived[0] != self._locator:
            town_kf.record_failure()
            raise WrongPassword(K.WRONG)
        with K.file_lock(self.school_path):
            kf = K.KeyFile.load(self.school_path)
            u = kf.unlock(self.user.name, password, derived=derived, record=False)
            key = _settle(self.school_path, kf, u.db_key, u.prev_key)
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
        with K.file_lock(self.school_path):
            kf = K.KeyFile.load(self.school_path)
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
            _auth(kf)["anchor"] = audit.advance_anchor(conn, _auth(kf).get("anchor"), reset=reset)
            return _auth(kf)["anchor"]

    def log_anchor(self) -> dict:
        kf = K.KeyFile.load(self.school_path)
        kf.open_auth(self.raw_key())
        a = (kf.auth or {}).get("anchor") or {}
        return {"count": int(a.get("count", 0)), "head": a.get("head"), "short": audit.short(a.get("head")), "ok": True}

    def change_own_password(self, new_password: str, current: str | None = None) -> dict:
        """A new slot for the school user and a re-key of the school database: the old password opens nothing."""
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
            holder["loc"] = _auth(kf)["users"][ref][0]

        self.engine.dispose()
        new = rekey(self.school_path, key, mutate, by=name, reason="password_changed")
        self._follow(new)
        self._locator = holder["loc"]
        self.keyfile = K.KeyFile.load(self.school_path)
        self.log("password_changed")
        for w in list(_OPEN):  # windows of this process on the same school database follow the new key
            if w is not self and w.school_path.resolve() == self.school_path.resolve() and not w.locked:
                w._follow(new)
                if w.user_ref == ref:
                    w._locator = holder["loc"]
        return {"rekeyed": True, "reason": "password_changed", "need_new_password": []}

    def school_setting(self, key: str, default=None):
        """A town setting the coordinator's push copied here (auto-lock minutes, the town's name)."""
        with self.engine.connect() as conn:
            v = conn.execute(select(SS.school_meta.c.value).where(SS.school_meta.c.key == f"setting:{key}")).scalar()
        return json.loads(v) if v is not None else default

    def set_must_change(self, value: bool) -> None:
        with self.engine.begin() as conn:
            conn.execute(SS.member.update().where(SS.member.c.ref == self.user_ref).values(must_change=value))

    def must_change(self) -> bool:
        with self.engine.connect() as conn:
            return bool(conn.execute(select(SS.member.c.must_change).where(SS.member.c.ref == self.user_ref)).scalar())

    # -- integrity ----------------------------------------------------------------------------------------------
    def verify(self) -> dict:
        """The school database's page check, its log chain and the anchor in its key file."""
        self._check_open()
        kf = K.KeyFile.load(self.school_path)
        kf.open_auth(self.raw_key())
        anchor = (kf.auth or {}).get("anchor")
        con = raw_connect(self.school_path, self.raw_key(), key_proven=True)
        try:
            problems = cipher_integrity_check(con)
            chain = audit.verify_chain(con)
            anchor_problem = audit.check_anchor(con, anchor) or kf.auth_problem
        finally:
            con.close()
        result = {
            "ok": not problems and chain.ok and not anchor_problem,
            "school_workspace": True,
            "cipher_integrity": problems[:20] or "ok",
            **chain.to_json(),
            "anchor": {"count": (anchor or {}).get("count"), "head": audit.short((anchor or {}).get("head"))},
            "anchor_ok": not anchor_problem,
            "anchor_problem": anchor_problem,
        }
        if not result["ok"]:
            err = IntegrityFailure("学校用データベースの整合性検査で問題が見つかりました。")
            err.result = result  # type: ignore[attr-defined]
            raise err
        self.log("verify", detail={"entries": chain.entries})
        return result

    # -- what a school user may not do -----------------------------------------------------------------------------
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


def move_town_slot(town_ws, password: str) -> SchoolWorkspace:
    """A school user signed in through a slot in the town's key file (made before school workspaces): the slot
    moves to the school's workspace (the password is at hand), leaves the town's key file, and the town is
    re-keyed so the old slot opens nothing. Returns the school session; the town session is closed."""
    name, ref, school = town_ws.user.name, town_ws.user_ref, town_ws.user.school
    try:
        store = ensure(town_ws, school)
        try:
            with town_ws.session() as s:
                must = bool(s.scalar(select(AppUser.must_change_password).where(AppUser.slot_id == ref)))
            add_member(store, name, password, ref, must_change=must, by=name)
            push(town_ws, store)
        finally:
            store.close()
        town_ws.rekey(lambda kf: kf.remove_user(ref), reason="school_slot_moved")
        town_ws.log("school_slot_moved", detail={"user": name, "school_workspace": store.slug})
        derived = K.KeyFile.load(town_ws.path).derive(name, password)
        in_use, town_ws._in_use = town_ws._in_use, None
    finally:
        town_ws.close()
    return sign_in(town_ws.path, store.path, name, password, derived, in_use)


def member_states(town_ws) -> dict[str, dict]:
    """Per user reference: what the school's workspace says of its users (temporary password still in use, last
    sign-in) — the 利用者 page shows it; the town cannot learn it any other way."""
    out: dict[str, dict] = {}
    for row in rows(town_ws):
        if not school_db_path(town_ws.path, row.slug).exists():
            continue
        try:
            store = open_store(town_ws, row)
        except KodomoError:
            continue
        try:
            with store.engine.connect() as conn:
                for m in conn.execute(select(SS.member)):
                    out[m.ref] = {"must_change": bool(m.must_change), "last_sign_in_at": m.last_sign_in_at}
        finally:
            store.close()
    return out


def rotate_all(town_ws, reason: str = "town_pair_rotated") -> int:
    """Every school workspace re-keyed, sealed to a new town key pair: an old town backup (which holds the old
    pairs) opens nothing of today's school workspaces. Run when a coordinator is removed and at 鍵の更新.

    Crash order: (1) the school's re-key adds a slot for the new pair (both pairs hold the new key); (2) the town
    row takes the new private key; (3) the old pair's slot goes. At every step the town's row opens it."""
    nxt = K.KeyFile.TOWN_SLOT + "-next"
    n = 0
    for row in rows(town_ws):
        if not school_db_path(town_ws.path, row.slug).exists():
            continue
        store = open_store(town_ws, row)
        store.engine.dispose()
        priv = X25519PrivateKey.generate()
        pub = priv.public_key().public_bytes_raw()

        def mutate(kf: K.KeyFile, pub: bytes = pub) -> None:
            kf.data["slots"][nxt] = {"pub": K._b64(pub), "box": {}}  # sealed by the re-key
            _auth(kf)["users"][nxt] = [nxt]

        new = rekey(store.path, store.key, mutate, by=town_ws.user.name, reason=reason)
        K.crash_point("school-pair-1")
        with town_ws.session() as s:
            r = s.get(SchoolRow, row.id)
            if r is not None:
                r.town_priv = priv.private_bytes_raw()
        K.crash_point("school-pair-2")
        with K.file_lock(store.path):
            kf = K.KeyFile.load(store.path)
            kf.open_auth(new)
            kf.data["slots"][K.KeyFile.TOWN_SLOT] = kf.data["slots"].pop(nxt)
            _auth(kf)["users"].pop(nxt, None)
            kf.seal_auth(new)
            kf.save()
        for w in list(_OPEN):  # teachers' open windows in this process follow the new key
            if w.school_path.resolve() == store.path.resolve() and not w.locked:
                w._follow(new)
        n += 1
    if n:
        town_ws.log("school_keys_rotated", detail={"schools": n, "reason": reason})
    return n
