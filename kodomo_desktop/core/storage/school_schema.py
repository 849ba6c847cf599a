"""The schema of a school workspace (``<db>.school-<slug>.db``, core/schoolspace.py): small and its own.

Its own MetaData and a ``schema_version`` row — not the town's Alembic chain. What a school holds: its users
(``member``; their key slots are in the school's own key file), its pupils for the open rounds (name, kana,
grade, class, row key), the checklist definitions and rounds the coordinator opened, the entries the school makes,
and a hash-chained access log like the town's. Nothing else of the town is ever written here: no score, no other
department's record, no welfare fact.

The checklist tables have the columns of the town's ``ChecklistDefinition`` / ``ChecklistRound`` /
``ChecklistEntry`` (no foreign keys to town tables), so the same checklist code reads and writes both; the entry
table adds ``changed`` (set by a trigger whenever the school writes an entry, cleared when the town has copied it).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

SCHEMA_VERSION = 1

metadata = MetaData()

school_meta = Table(
    "school_meta",
    metadata,
    Column("key", String(40), primary_key=True),
    Column("value", Text),
)

member = Table(
    "member",
    metadata,
    Column("ref", String(40), primary_key=True),  # the user's reference (the town's app_user.slot_id)
    Column("name", String(80), nullable=False, unique=True),
    Column("must_change", Boolean, nullable=False, default=False),
    Column("created_at", DateTime),
    Column("last_sign_in_at", DateTime),
)

pupil = Table(
    "pupil",
    metadata,
    Column("person_id", String(20), primary_key=True),
    Column("name", Text),
    Column("kana", Text),
    Column("grade", String(20)),
    Column("class_name", String(20)),
    Column("row_key", String(60)),
)

checklist_definition = Table(
    "checklist_definition",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # the town's id
    Column("key", String(40)),
    Column("version", Integer),
    Column("data", JSON),
    Column("created_at", DateTime),
)

checklist_round = Table(
    "checklist_round",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # the town's id
    Column("name", Text),
    Column("definition_id", Integer),
    Column("schools", JSON),
    Column("grades", JSON),
    Column("opened_on", Date),
    Column("due_on", Date),
    Column("created_by", String(80)),
    Column("closed_at", DateTime),
)

checklist_entry = Table(
    "checklist_entry",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("round_id", Integer, nullable=False, index=True),
    Column("person_id", String(20), nullable=False, index=True),
    Column("school", Text),
    Column("answers", JSON),
    Column("remark", Text),
    Column("status", String(12)),
    Column("via", String(12)),
    Column("entered_by", String(80)),
    Column("entered_on", Date),
    Column("submitted_at", DateTime),
    Column("superseded", Boolean, default=False),
    Column("changed", Boolean, nullable=False, server_default=text("0")),
)

access_log = Table(
    "access_log",
    metadata,
    Column("seq", Integer, primary_key=True),
    Column("at", String(32)),
    Column("user", String(80)),
    Column("action", String(60), index=True),
    Column("person_id", String(20), index=True),
    Column("detail", Text),
    Column("prev_hash", String(64)),
    Column("hash", String(64)),
)

TRIGGERS = [
    "CREATE TRIGGER IF NOT EXISTS entry_changed_ins AFTER INSERT ON checklist_entry "
    "BEGIN UPDATE checklist_entry SET changed = 1 WHERE id = NEW.id; END",
    "CREATE TRIGGER IF NOT EXISTS entry_changed_upd AFTER UPDATE OF answers, remark, status, via, superseded "
    "ON checklist_entry BEGIN UPDATE checklist_entry SET changed = 1 WHERE id = NEW.id; END",
]


def create(
    conn, md: MetaData = metadata, triggers=TRIGGERS, meta: str = "school_meta", v: int = SCHEMA_VERSION
) -> None:
    """Every table (idempotent), the triggers and the schema version (of a school's schema, or another sealed
    workspace's: storage/audit_schema.py)."""
    md.create_all(conn)
    for t in triggers:
        conn.exec_driver_sql(t)
    conn.execute(text(f"INSERT OR IGNORE INTO {meta} (key, value) VALUES ('schema_version', :v)"), {"v": str(v)})


def version(conn, meta: str = "school_meta") -> int | None:
    try:
        v = conn.execute(text(f"SELECT value FROM {meta} WHERE key = 'schema_version'")).scalar()
    except Exception:
        return None
    return int(v) if v is not None else None
