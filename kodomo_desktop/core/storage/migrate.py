"""Migrations: the Alembic helpers that bring a database's schema to the scripts' head (storage layer, no Workspace).

Alembic (about 0.2 s to import, more to load every migration script) is imported only to migrate: opening a database
already at the head reads ``alembic_version`` and the scripts' revision lines directly (start-up, issue 21).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import sqlcipher3
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection=None) -> Config:
    from alembic.config import Config  # lazy: loads alembic, only needed here

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def known_revision(rev: str) -> bool:
    from alembic.script import ScriptDirectory  # lazy: loads alembic, only needed here

    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(rev) is not None
    except Exception:
        return False


_REVISION = re.compile(r"""^revision\s*(?::\s*str\s*)?=\s*['"]([^'"]+)['"]\s*$""", re.M)
_DOWN = re.compile(r"""^down_revision\s*(?::[^=]+)?=\s*(None|['"]([^'"]+)['"])\s*$""", re.M)


@lru_cache(maxsize=1)
def _scripted_head() -> str | None:
    """The one head of the migration scripts read from their ``revision`` / ``down_revision`` lines (no Alembic
    import); None when a script says something else (a merge, a branch): then Alembic decides."""
    revs, downs = set(), set()
    for f in sorted((MIGRATIONS / "versions").glob("*.py")):
        if f.name.startswith("__"):
            continue
        body = f.read_text(encoding="utf-8")
        r, d = _REVISION.findall(body), _DOWN.findall(body)
        if len(r) != 1 or len(d) != 1:
            return None
        revs.add(r[0])
        if d[0][1]:
            downs.add(d[0][1])
    heads = revs - downs
    return next(iter(heads)) if len(heads) == 1 and downs <= revs else None


def head_revision() -> str:
    head = _scripted_head()
    if head is not None:
        return head
    from alembic.script import ScriptDirectory  # lazy: loads alembic, only needed here

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("no migration script has a head")
    return head


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command  # lazy: loads alembic, only needed here

    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)


@lru_cache(maxsize=1)
def _new_database_schema() -> tuple[tuple[str, ...], tuple[tuple[str, tuple], ...]]:
    """What the migration scripts leave in an empty database: SQLite's own CREATE statements (tables first, then
    indexes, triggers and views, each in the order the scripts made them) and the rows they wrote (the head in
    ``alembic_version``), from one real :func:`upgrade` of an empty in-memory database, once per process."""
    # the stores' own driver, without a key: a database in memory, never written anywhere
    con = sqlcipher3.connect(":memory:", check_same_thread=False, isolation_level=None)
    try:
        con.execute("PRAGMA foreign_keys = ON")  # as db.raw_connect sets it
        upgrade(create_engine("sqlite://", creator=lambda: con, poolclass=StaticPool))
        made = con.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
        ).fetchall()
        ddl = tuple(sql for kind, _, sql in made if kind == "table") + tuple(
            sql for kind, _, sql in made if kind != "table"
        )
        rows = tuple(
            (f'INSERT INTO "{name}" VALUES ({", ".join("?" * len(row))})', tuple(row))
            for kind, name, _ in made
            if kind == "table"
            for row in con.execute(f'SELECT * FROM "{name}"').fetchall()
        )
        return ddl, rows
    finally:
        con.close()


def create_schema(engine: Engine) -> None:
    """An empty database brought to the head: what :func:`upgrade` from nothing gives it — the same statements as
    SQLite keeps them, the same ``alembic_version`` — replayed in one transaction, without Alembic compiling every
    script's DDL again for each new database (~80 ms each; tests/core/test_migrations.py compares the two)."""
    ddl, rows = _new_database_schema()
    with engine.begin() as conn:
        if conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar():
            raise RuntimeError("create_schema: the database is not empty")
        for sql in ddl:
            conn.exec_driver_sql(sql)
        for sql, values in rows:
            conn.exec_driver_sql(sql, values)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if (
            conn.execute(text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'")).first()
            is None
        ):
            return None  # a database not yet stamped
        rows = [r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))]
        if len(rows) <= 1:
            return rows[0] if rows else None
        from alembic.runtime.migration import MigrationContext  # lazy: loads alembic, only needed here

        return MigrationContext.configure(conn).get_current_revision()  # several heads: Alembic's own answer
