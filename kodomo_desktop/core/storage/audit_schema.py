"""The schema of the audit workspace (``<db>.audit-<slug>.db``, core/auditspace.py): what an auditor reads, without
children's data.

Its own MetaData and a ``schema_version`` row — not the town's Alembic chain. Tables:

- ``audit_meta`` (key, value): schema version, slug, when the copy was last brought up to date (``synced_at``) and
  the town log's anchor as of the copy (``town_anchor``: count + head hash);
- ``member``: the auditors (their key slots are in the audit workspace's own key file);
- ``audit_log``: the audit workspace's own hash-chained log (the auditors' reads and refusals), copied into the
  town's log at the next sync;
- same-named copies of the town tables the auditor's services read, with the town's columns (no foreign keys,
  no indexes: nothing to point at): ``access_log`` (the town's log with its hash chain), ``setting`` (the few keys
  :data:`~kodomo_desktop.core.auditspace.SETTINGS` names), ``app_user`` (names, roles, sign-in dates; no key
  material exists there), ``legal_basis``, ``retention_policy``, ``opt_out`` (ids, dates, reasons), ``source_batch``
  (file names, dates, row counts), ``self_inspection`` (plus ``changed``: set by a trigger when the auditor saves,
  cleared when the town has read it back);
- ``audit_figure`` (key, JSON): the counts from children's data the registers print (core/figures.py).

No table of persons, records, links, scores, cases or notes exists here: a service that reaches for one fails with
"no such table" and is refused (core/sealed.py).
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, MetaData, String, Table, Text, text

from . import models as M
from . import school_schema as SS

SCHEMA_VERSION = 1

metadata = MetaData()


def _like(table: Table, name: str | None = None, *extra: Column) -> Table:
    """A table with the columns of ``table`` (same names and types), without its foreign keys and indexes."""
    cols = [
        Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable or not c.primary_key)
        for c in table.columns
    ]
    return Table(name or table.name, metadata, *cols, *extra)


audit_meta = Table("audit_meta", metadata, Column("key", String(40), primary_key=True), Column("value", Text))
member = _like(SS.member)
audit_log = _like(SS.access_log, "audit_log")
audit_figure = Table("audit_figure", metadata, Column("key", String(40), primary_key=True), Column("value", JSON))

#: the town's tables copied here, in the order they are filled
COPIED = [
    _like(M.Setting.__table__),  # type: ignore[arg-type]
    _like(M.AppUser.__table__),  # type: ignore[arg-type]
    _like(M.LegalBasis.__table__),  # type: ignore[arg-type]
    _like(M.RetentionPolicy.__table__),  # type: ignore[arg-type]
    _like(M.OptOut.__table__),  # type: ignore[arg-type]
    _like(M.SourceBatch.__table__),  # type: ignore[arg-type]
    _like(
        M.SelfInspection.__table__,  # type: ignore[arg-type]
        None,
        Column("changed", Boolean, nullable=False, server_default=text("0")),
    ),
]
access_log = _like(M.AccessLogEntry.__table__)  # type: ignore[arg-type]
self_inspection = COPIED[-1]

TRIGGERS = [
    "CREATE TRIGGER IF NOT EXISTS inspection_changed_ins AFTER INSERT ON self_inspection "
    "BEGIN UPDATE self_inspection SET changed = 1 WHERE id = NEW.id; END",
    "CREATE TRIGGER IF NOT EXISTS inspection_changed_upd AFTER UPDATE OF answers, saved_by, saved_at "
    "ON self_inspection BEGIN UPDATE self_inspection SET changed = 1 WHERE id = NEW.id; END",
]


def create(conn) -> None:
    """Every table (idempotent), the triggers and the schema version."""
    SS.create(conn, metadata, TRIGGERS, "audit_meta", SCHEMA_VERSION)


def version(conn) -> int | None:
    return SS.version(conn, "audit_meta")
