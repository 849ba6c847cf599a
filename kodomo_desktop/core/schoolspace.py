"""School workspaces: a school account never holds the town's key.

Each school that has users gets its own sealed workspace (core/sealed.py: own SQLCipher 4 database
``<db>.school-<slug>.db`` with its own key and authenticated, anchored key file; the key sealed to a town key pair
whose private half is in the town's ``school_workspace`` row; one Argon2id derivation at sign-in for every file;
crash-safe re-keys). School users' slots live only there. What it holds is in :mod:`.storage.school_schema`: the
school's pupils for the open rounds, the definitions and rounds, the entries it makes and its own hash-chained log.

- The coordinator fills it (:func:`push`: pupils without opted-out children, definitions, rounds, entries made in
  the town) and reads it back (core/checklists/sync.py: entries, and the school's log into the town's).

:class:`SchoolWorkspace` is what ``Workspace.open`` returns for a school user: ``user``, ``can``, ``require``,
``require_school``, ``session()``, ``log()``, ``lock``/``unlock``/``close`` over the school database. A service that
reaches for a town table from it is refused (logged in the school's log, ``PermissionDenied``, exit 2).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from . import queries as Q
from . import sealed
from .audit import log as audit
from .errors import KodomoError
from .sealed import Store as Store
from .storage import school_schema as SS
from .storage.models import ChecklistDefinition, ChecklistEntry, ChecklistRound, Person, Setting
from .storage.models import SchoolWorkspace as SchoolRow

SUFFIX = ".school-"
SCHOOL_SETTINGS = ("auto_lock_minutes", "town_name")  # town settings a school's session reads (push copies them)


KIND = sealed.register(
    sealed.Kind(
        name="school",
        suffix=SUFFIX,
        label="学校用データベース",
        log_table="access_log",
        meta=SS.school_meta,
        member=SS.member,
        create_schema=SS.create,
        version=SS.version,
        schema_version=SS.SCHEMA_VERSION,
        row_model=SchoolRow,
        refused="学校の利用者は、学校用データベースにない町のデータは扱えません。",
    )
)


def school_db_path(town_path, slug: str) -> Path:
    return sealed.db_path(KIND, town_path, slug)


def school_files(town_path) -> list[Path]:
    """The school databases beside a town database (those with a key file)."""
    return sealed.files(KIND, town_path)


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
def create(town_ws, school: str) -> SchoolRow:
    """A new school workspace (database, key file with the town's slot) and its row in the town database."""
    holder: dict = {}

    def record(slug: str, priv: bytes) -> None:
        with town_ws.session() as s:
            old = s.scalar(select(SchoolRow).where(SchoolRow.school == school))
            if old is not None:  # its file was lost: recreated (by a push), with no user slots
                old.slug, old.town_priv, old.log_seq, old.log_head = slug, priv, 0, None
                row = old
            else:
                row = SchoolRow(school=school, slug=slug, town_priv=priv, created_at=sealed.now())
                s.add(row)
            s.flush()
            town_ws.log("school_workspace_created", detail={"school_workspace": slug}, conn=s)
            s.expunge(row)
            holder["row"] = row

    sealed.create(KIND, town_ws, {"school": school}, record)
    return holder["row"]


def row_of(town_ws, school: str) -> SchoolRow | None:
    with town_ws.session() as s:
        row = s.scalar(select(SchoolRow).where(SchoolRow.school == school))
        if row is not None:
            s.expunge(row)
        return row


def rows(town_ws) -> list[SchoolRow]:
    return sorted(sealed.rows(KIND, town_ws), key=lambda r: r.school)


def open_store(town_ws, row: SchoolRow) -> Store:
    """Open a school database with the town's key pair (no school password)."""
    missing = f"学校「{row.school}」の学校用データベースがありません（同期で作り直します）。"
    return sealed.open_store(KIND, town_ws.path, row.slug, row.town_priv, missing, row.school)


def ensure(town_ws, school: str) -> Store:
    """The school's workspace, created if missing (or if its files are gone: recreated, with no user slots)."""
    row = row_of(town_ws, school)
    if row is None or not school_db_path(town_ws.path, row.slug).exists():
        row = create(town_ws, school)
    return open_store(town_ws, row)


# --- users of a school ---------------------------------------------------------------------------------------------
def add_member(store: Store, name: str, password: str, ref: str, *, must_change: bool = False, by: str = "") -> None:
    """A slot for (name, password) in the school's key file, and the user in its member table."""
    sealed.add_member(store, name, password, ref, must_change=must_change, by=by, role="school")


def rekey(path: Path, old: bytes, mutate=None, *, by: str = "", reason: str = "rotate") -> bytes:
    """A new key for a school database: crash-safe in three steps like the town's (core/sealed.py)."""
    return sealed.rekey(KIND, path, old, mutate, by=by, reason=reason)


def remove_member(town_ws, store: Store, ref: str, name: str) -> Store:
    """The user's slot goes and the school database is re-keyed: an old key file with their password opens
    nothing new. Returns the store on the new key."""
    return sealed.remove_member(town_ws, store, ref, name)


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
def sign_in(town_path, school_path: Path, user_name: str | None, password: str, derived, in_use) -> SchoolWorkspace:
    return sealed.sign_in(KIND, town_path, school_path, user_name, password, derived, in_use)


class SchoolWorkspace(sealed.SealedWorkspace):
    """A school user signed in: the school's own database, nothing of the town's."""

    is_school = True
    kind = KIND
    role = "school"

    @property
    def school_path(self) -> Path:
        return self.own_path

    def school_setting(self, key: str, default=None):
        """A town setting the coordinator's push copied here (auto-lock minutes, the town's name)."""
        with self.engine.connect() as conn:
            v = conn.execute(select(SS.school_meta.c.value).where(SS.school_meta.c.key == f"setting:{key}")).scalar()
        return json.loads(v) if v is not None else default


KIND.workspace = SchoolWorkspace


def move_town_slot(town_ws, password: str) -> SchoolWorkspace:
    """A school user signed in through a slot in the town's key file (made before school workspaces): the slot
    moves to the school's workspace, leaves the town's key file, and the town is re-keyed so the old slot opens
    nothing. Returns the school session; the town session is closed."""
    store = ensure(town_ws, town_ws.user.school)
    return sealed.move_town_slot(town_ws, password, store, lambda st: push(town_ws, st), "school_slot_moved")


def _stores(town_ws):
    for row in rows(town_ws):
        if not school_db_path(town_ws.path, row.slug).exists():
            continue
        try:
            yield row, open_store(town_ws, row)
        except KodomoError:
            continue


def member_states(town_ws) -> dict[str, dict]:
    """Per user reference: what the school's workspace says of its users (temporary password still in use, last
    sign-in) — the 利用者 page shows it; the town cannot learn it any other way."""
    return sealed.member_states(st for _, st in _stores(town_ws))


def rotate_all(town_ws, reason: str = "town_pair_rotated") -> int:
    """Every school workspace re-keyed, sealed to a new town key pair (sealed.rotate): an old town backup (which
    holds the old pairs) opens nothing of today's school workspaces. Run when a coordinator is removed and at
    鍵の更新."""
    stores = [
        (row, open_store(town_ws, row)) for row in rows(town_ws) if school_db_path(town_ws.path, row.slug).exists()
    ]
    n = sealed.rotate(KIND, town_ws, iter(stores), reason)
    if n:
        town_ws.log("school_keys_rotated", detail={"schools": n, "reason": reason})
    return n
