"""The auditor's own workspace: an auditor never holds the town's key.

When the town has an auditor, a sealed workspace (core/sealed.py, like a school's) sits beside the town database:
``<db>.audit-<slug>.db``, SQLCipher 4 with its own random key and its own authenticated, anchored key file; the key
is sealed to a town key pair whose private half is in the town's ``audit_workspace`` row, so every town account
(coordinator, staff) opens it without an auditor password. Auditors' key slots live only there: an auditor's
password plus a copy or a backup of the town database opens nothing of the town's.

**What it holds** (storage/audit_schema.py): only what an auditor's services read, without children's data —

- the town's access log, entry for entry with its hash chain (``access_log``: the chain verifies there as in the
  town), and the town log's anchor as of the copy (count + head hash, ``audit_meta.town_anchor``); entries name
  people by internal id only (``detail`` holds ids and counts, never names), as in the town;
- the registers, as **same-named copies of the town's tables with the town's columns**: ``setting`` (the keys in
  :data:`SETTINGS`; a pseudonymised export's key is never copied), ``app_user``, ``legal_basis``,
  ``retention_policy``, ``opt_out`` (ids, dates, reasons — no names), ``source_batch`` and ``self_inspection``;
- the counts the registers print that come from children's data (core/figures.py), as the town computed them.

Why same-named tables rather than rendered rows: every ``@service("governance.read")`` / ``@service("log.read")``
then runs unchanged on the auditor's workspace (the same SQL and ORM queries, the same PDFs), there is nothing to
keep in step when a register gains a column, and a service that reaches for children's data finds no such table
and is refused (PermissionDenied, exit 2, logged in the audit workspace's own log) instead of reading an empty one.
The only service code that knows about the copy is core/figures.py (``ws.stored_figures()``).

**Filled by the town side** (:func:`sync`: :func:`pull` then :func:`push`, under the file's lock). A town session
brings it up to date when it locks or closes, at ``verify``, before the log export, on ``audit sync`` and after a
deletion on request; the log is copied incrementally (rebuilt when the town's log no longer extends the copy, e.g.
after a restore), the registers every time (small tables), the figures when the town's log shows a change
(any action outside :data:`READ_ONLY`). The auditor's pages show when (``copied_at``).

**The auditor's own reads** are logged in ``audit_log``, the audit workspace's own chain (anchored in its key file),
and copied into the town's log at the next sync (``audit_workspace``/``audit_seq`` in the detail), like a school's.
The privacy officer's self-inspection answers are saved there and read back into the town at the next sync (the
newer save of a fiscal year wins).

:class:`AuditWorkspace` is what ``Workspace.open`` returns for an auditor.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select, text

from . import figures, sealed
from .audit import log as audit
from .errors import KodomoError
from .policy import ensure_defaults
from .sealed import Store
from .services import service
from .storage import audit_schema as AS
from .storage import keys as K
from .storage.db import raw_connect
from .storage.models import AppUser, Base, SelfInspection
from .storage.models import AuditWorkspace as AuditRow

if TYPE_CHECKING:
    from .workspace import Workspace

SUFFIX = ".audit-"
#: the town settings an auditor's pages read (documents print the town's name; the catalogue names indicators)
SETTINGS = (
    "town_name",
    "auto_lock_minutes",
    "last_backup_at",
    "town_catalogue",
    "town_catalogue_history",
    "weights_adoptions",
)
SETTING_PREFIXES = ("pseudonymised_export:",)
SECRET_FIELDS = ("key",)  # a pseudonymised export's key to its pseudonym table: never copied
#: actions that change nothing the figures count (any other action since the last copy: the figures again)
READ_ONLY = frozenset(
    {
        "db_open",
        "db_close",
        "db_lock",
        "db_lock_manual",
        "sign_in_failed",
        "permission_denied",
        "view_person",
        "view_list",
        "search",
        "export",
        "print",
        "verify",
        "score_viewed",
        "what_if",
        "support_prompts_read",
        "weights_previewed",
        "catalogue_exported",
        "weights_exported",
        "disclosure",
        "audit_pulled",
        "keyfile_refused",
    }
)
_CHUNK = 2000

KIND = sealed.register(
    sealed.Kind(
        name="audit",
        suffix=SUFFIX,
        label="監査用データベース",
        log_table="audit_log",
        meta=AS.audit_meta,
        member=AS.member,
        create_schema=AS.create,
        version=AS.version,
        schema_version=AS.SCHEMA_VERSION,
        row_model=AuditRow,
        refused="監査の利用者は、こどもの情報を扱えません（監査用データベースには操作ログと台帳だけがあります）。",
    )
)


def audit_db_path(town_path, slug: str) -> Path:
    return sealed.db_path(KIND, town_path, slug)


def audit_files(town_path) -> list[Path]:
    return sealed.files(KIND, town_path)


def row_of(town_ws) -> AuditRow | None:
    rows = sealed.rows(KIND, town_ws)
    return rows[0] if rows else None


def create(town_ws) -> AuditRow:
    """A new audit workspace (database, key file with the town's slot) and the town's row for it."""
    holder: dict = {}

    def record(slug: str, priv: bytes) -> None:
        with town_ws.session() as s:
            s.execute(delete(AuditRow))  # its file was lost: recreated, with no auditor slots
            row = AuditRow(slug=slug, town_priv=priv, created_at=sealed.now())
            s.add(row)
            s.flush()
            town_ws.log("audit_workspace_created", detail={"audit_workspace": slug}, conn=s)
            s.expunge(row)
            holder["row"] = row

    sealed.create(KIND, town_ws, {}, record)
    return holder["row"]


def open_store(town_ws, row: AuditRow) -> Store:
    """Open the audit database with the town's key pair (no auditor password)."""
    return sealed.open_store(
        KIND, town_ws.path, row.slug, row.town_priv, "監査用データベースがありません（「audit sync」で作り直します）。"
    )


def existing(town_ws) -> tuple[AuditRow, Store] | None:
    """The audit workspace, when the town has one and its file is there."""
    row = row_of(town_ws)
    if row is None or not audit_db_path(town_ws.path, row.slug).exists():
        return None
    return row, open_store(town_ws, row)


def ensure(town_ws) -> Store:
    """The audit workspace, created if missing (or if its files are gone: recreated, with no auditor slots)."""
    found = existing(town_ws)
    if found is not None:
        return found[1]
    return open_store(town_ws, create(town_ws))


# --- pull: what the auditors did, into the town -------------------------------------------------------------------
def pull(town_ws, store: Store) -> dict:
    """The audit workspace's own log (the auditors' reads and refusals) into the town's log; the self-inspection
    answers saved there into the town's; the auditors' last sign-in and temporary-password state into app_user."""
    with store.engine.connect() as c:
        chain = audit.verify_chain(c, KIND.log_table)
        log_rows = c.execute(select(AS.audit_log).order_by(AS.audit_log.c.seq)).all()
        answers = c.execute(select(AS.self_inspection).where(AS.self_inspection.c.changed.is_(True))).all()
        members = c.execute(select(AS.member)).all()
    taken = 0
    with town_ws.session() as s:
        row = s.scalars(select(AuditRow).where(AuditRow.slug == store.slug)).one()
        copied, problem = sealed.copy_log(town_ws, s, row, log_rows, chain)
        if problem is not None:
            town_ws.log("audit_log_refused", detail={"audit_workspace": store.slug, "problem": problem}, conn=s)
        for a in answers:
            cur = s.scalar(select(SelfInspection).where(SelfInspection.fiscal_year == a.fiscal_year))
            if cur is not None and cur.saved_at and a.saved_at and cur.saved_at > a.saved_at:
                continue  # the town saved this year later than the auditor did: the town's stands
            if cur is None:
                cur = SelfInspection(fiscal_year=a.fiscal_year)
                s.add(cur)
            cur.answers, cur.saved_by, cur.saved_at = a.answers, a.saved_by, a.saved_at
            taken += 1
        for m in members:
            u = s.scalar(select(AppUser).where(AppUser.slot_id == m.ref))
            if u is not None:
                u.must_change_password = bool(m.must_change)
                if m.last_sign_in_at and (u.last_sign_in_at is None or m.last_sign_in_at > u.last_sign_in_at):
                    u.last_sign_in_at = m.last_sign_in_at
        row.synced_at = sealed.now()
        if copied or taken:
            town_ws.log(
                "audit_pulled",
                detail={"audit_workspace": store.slug, "log_entries": copied, "self_inspections": taken},
                conn=s,
            )
    return {"log_entries": copied, "self_inspections": taken, "log_problem": problem}


# --- push: what the auditor reads, from the town ------------------------------------------------------------------
def _setting_rows(rows: list[dict]) -> list[dict]:
    out = []
    for r in rows:
        if r["key"] in SETTINGS:
            out.append(r)
        elif r["key"].startswith(SETTING_PREFIXES):
            v = r["value"]
            if isinstance(v, dict):
                v = {k: x for k, x in v.items() if k not in SECRET_FIELDS}
            out.append({**r, "value": v})
    return out


def push(town_ws, store: Store, *, full: bool = False) -> dict:
    """Bring the copy up to date: the town's log (new entries, or all of it when the town's log no longer extends
    the copy), the registers, the figures (when something changed, or ``full``), when and the anchor."""
    town_log = Base.metadata.tables["access_log"]
    with store.engine.connect() as c:
        last = c.execute(text("SELECT seq, hash FROM access_log ORDER BY seq DESC LIMIT 1")).first()
        have_figures = bool(c.execute(select(func.count()).select_from(AS.audit_figure)).scalar())
    with town_ws.session() as s:
        conn = s.connection()
        keep = (
            last is not None
            and conn.execute(text("SELECT hash FROM access_log WHERE seq = :s"), {"s": last.seq}).scalar() == last.hash
        )
        start = last.seq if keep and last is not None else 0
        new_log = [
            dict(r._mapping) for r in conn.execute(select(town_log).where(town_log.c.seq > start).order_by("seq"))
        ]
        changed = full or not keep or not have_figures or any(r["action"] not in READ_ONLY for r in new_log)
        ensure_defaults(s)
        tables: dict[str, list[dict]] = {}
        for t in AS.COPIED:
            tables[t.name] = [dict(r._mapping) for r in conn.execute(select(Base.metadata.tables[t.name]))]
        tables["setting"] = _setting_rows(tables["setting"])
        tables["source_batch"] = [r for r in tables["source_batch"] if r["removed_at"] is None]
        figs = figures.compute_all(s) if changed else None
        anchor = audit.head(conn)
    now = sealed.now()
    with store.engine.begin() as c:
        if not keep:
            c.execute(delete(AS.access_log))
        for i in range(0, len(new_log), _CHUNK):
            c.execute(AS.access_log.insert(), new_log[i : i + _CHUNK])
        for t in AS.COPIED:
            c.execute(delete(t))
            if tables[t.name]:
                c.execute(t.insert(), tables[t.name])
        c.execute(AS.self_inspection.update().values(changed=False))  # the town's answers, read back already
        if figs is not None:
            c.execute(delete(AS.audit_figure))
            c.execute(AS.audit_figure.insert(), [{"key": k, "value": v} for k, v in figs.items()])
        for k, v in (
            ("synced_at", now.isoformat()),
            ("town_anchor", json.dumps(anchor)),
            ("synced_by", town_ws.user.name),
        ):
            c.execute(delete(AS.audit_meta).where(AS.audit_meta.c.key == k))
            c.execute(AS.audit_meta.insert().values(key=k, value=v))
    return {"log_entries": len(new_log), "log_rebuilt": not keep, "figures": figs is not None, "at": now.isoformat()}


def sync(town_ws, *, create_missing: bool = False, full: bool = False) -> dict | None:
    """Pull then push (under the audit file's lock). None when the town has no audit workspace (or its file is
    gone and ``create_missing`` is not set)."""
    if create_missing:
        store = ensure(town_ws)
    else:
        found = existing(town_ws)
        if found is None:
            return None
        store = found[1]
    try:
        with K.file_lock(store.path):
            pulled = pull(town_ws, store)
            pushed = push(town_ws, store, full=full)
    finally:
        store.close()
    return {"audit_workspace": store.slug, **pulled, **pushed}


def quiet_sync(town_ws) -> dict | None:
    """:func:`sync` where it is part of something else (a lock, a close, verify, the log export): a problem with
    the audit workspace never stops that; it is reported in the diagnostic log. Without an audit file beside the
    town (no auditor), nothing is read."""
    if not audit_files(town_ws.path):
        return None
    try:
        return sync(town_ws)
    except (KodomoError, OSError) as e:
        logging.getLogger(__name__).warning("audit copy not brought up to date: %s", e)
        return None


@service("governance.write", what="audit sync")
def bring_up_to_date(ws: Workspace) -> dict:
    """``audit sync``: the coordinator brings the audit workspace up to date now (created again if its files are
    gone; the registers and figures all recomputed)."""
    if row_of(ws) is None:
        return {"audit_workspace": None, "note": "監査の利用者がいないため、監査用データベースはありません。"}
    result = sync(ws, create_missing=True, full=True)
    return result or {}


def purge_person(town_ws, person_id: str) -> int:
    """Deletion on request (削除請求): the copy is rebuilt from the town, which no longer holds the person (its
    opt-out rows and closed cases), and the file's freed pages are wiped. The copied log keeps its tombstones, as
    the town's does. Returns 1 when an audit workspace was brought up to date."""
    result = sync(town_ws, full=True)
    if result is None:
        return 0
    row = row_of(town_ws)
    if row is not None:
        store = open_store(town_ws, row)
        try:
            con = raw_connect(store.path, store.key, key_proven=True)
            try:
                con.execute("VACUUM")
            finally:
                con.close()
        finally:
            store.close()
    return 1


# --- auditors ---------------------------------------------------------------------------------------------------------
def add_member(store: Store, name: str, password: str, ref: str, *, by: str = "") -> None:
    sealed.add_member(store, name, password, ref, by=by, role="auditor")


def remove_member(town_ws, ref: str, name: str) -> bool:
    """The auditor's slot goes and the audit database is re-keyed. False when there is no audit workspace."""
    found = existing(town_ws)
    if found is None:
        return False
    sealed.remove_member(town_ws, found[1], ref, name).close()
    return True


def set_member_flag(town_ws, ref: str, value: bool) -> None:
    found = existing(town_ws)
    if found is not None:
        try:
            sealed.set_member_flag(found[1], ref, value)
        finally:
            found[1].close()


def member_states(town_ws) -> dict[str, dict]:
    found = None
    with contextlib.suppress(KodomoError):
        found = existing(town_ws)
    return sealed.member_states(iter([found[1]] if found else []))


def rotate_all(town_ws, reason: str) -> int:
    """The audit workspace re-keyed and sealed to a new town key pair (sealed.rotate), like the schools'."""
    found = existing(town_ws)
    if found is None:
        return 0
    n = sealed.rotate(KIND, town_ws, iter([found]), reason)
    if n:
        town_ws.log("audit_keys_rotated", detail={"reason": reason})
    return n


def move_town_slot(town_ws, password: str):
    """An auditor whose slot is still in the town's key file (made by an older version): moved now into the audit
    workspace (filled first), and the town re-keyed so the old slot opens nothing. Returns the audit session."""
    store = ensure(town_ws)
    return sealed.move_town_slot(town_ws, password, store, lambda st: push(town_ws, st, full=True), "audit_slot_moved")


# --- an auditor signed in -----------------------------------------------------------------------------------------------
class AuditWorkspace(sealed.SealedWorkspace):
    """An auditor signed in: the copy of the log and the registers, nothing of the children's data."""

    is_audit = True
    kind = KIND
    role = "auditor"

    def _meta(self, key: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(select(AS.audit_meta.c.value).where(AS.audit_meta.c.key == key)).scalar()

    def copied_at(self) -> dt.datetime | None:
        """When the town last brought the copy up to date (None: never since it was created)."""
        v = self._meta("synced_at")
        return dt.datetime.fromisoformat(v) if v else None

    def town_anchor(self) -> dict:
        v = self._meta("town_anchor")
        return json.loads(v) if v else {"count": 0, "head": audit.GENESIS}

    def stored_figures(self) -> dict:
        """The counts from children's data as the town computed them at the last copy (core/figures.py)."""
        with self.engine.connect() as conn:
            got = {k: v for k, v in conn.execute(select(AS.audit_figure.c.key, AS.audit_figure.c.value))}
        return {
            "register": got.get("register") or {"held": [], "items_held": {}, "persons": 0, "children": 0},
            "batch_records": got.get("batch_records") or {},
            "closed_cases": got.get("closed_cases") or [],
        }

    def log_anchor(self) -> dict:
        """The town log's anchor as of the copy (the self-inspection report prints it), and whether the copy holds
        it."""
        a = self.town_anchor()
        with self.engine.connect() as conn:
            ok = audit.check_anchor(conn, a) is None
        return {"count": int(a.get("count", 0)), "head": a.get("head"), "short": audit.short(a.get("head")), "ok": ok}

    def verify(self) -> dict:
        """The copy of the town's log: its chain, and that it holds exactly the town's anchor as of the copy; then the
        audit database itself (pages) and its own log's chain and anchor (``own_log``)."""
        self._check_open()
        anchor = self.town_anchor()
        con = raw_connect(self.own_path, self.raw_key(), key_proven=True)
        try:
            own = self._own_check(con)
            chain = audit.verify_chain(con)
            problem = audit.check_anchor(con, anchor)
            total = con.execute("SELECT count(*) FROM access_log").fetchone()[0]
        finally:
            con.close()
        if problem is None and total != int(anchor.get("count", 0)):
            problem = f"写しの操作ログが {total} 件で、写した時点の {anchor.get('count')} 件と合いません"
        at = self.copied_at()
        result = {
            "ok": own["ok"] and chain.ok and problem is None,
            "audit_workspace": True,
            "copied_at": at.isoformat() if at else None,
            "cipher_integrity": own["cipher_integrity"],
            **chain.to_json(),
            "anchor": {"count": anchor.get("count"), "head": audit.short(anchor.get("head"))},
            "anchor_ok": problem is None,
            "anchor_problem": problem,
            "own_log": {k: own[k] for k in ("chain_ok", "entries", "first_broken_entry", "problem", "anchor_ok")},
        }
        return self._verified(result, chain.entries)


KIND.workspace = AuditWorkspace
