"""Every past schema opens and upgrades to the current one without loss."""

import shutil
from pathlib import Path

from sqlalchemy import text

from kodomo_desktop.core.storage.migrate import current_revision, head_revision
from kodomo_desktop.core.workspace import Workspace

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "schemas"


def _copy(tmp_path, name, sidecar):
    for suffix in ("", sidecar):
        shutil.copy(FIX / (name + suffix), tmp_path / (name + suffix))
    return tmp_path / name


def test_database_made_by_first_migration_upgrades(tmp_path):
    path = _copy(tmp_path, "schema_0001.db", ".keys")
    ws = Workspace.open(path, "fixture pass")
    assert current_revision(ws.engine) == head_revision() != "0001"
    with ws.engine.connect() as c:
        assert c.execute(text("SELECT name FROM person WHERE id='P000001'")).scalar() == "試験 花子"
        assert c.execute(text("SELECT count(*) FROM retention_policy")).scalar() == 0
    assert ws.verify()["ok"]
    ws.close()


def test_legacy_single_password_database_is_converted_to_key_slots(tmp_path):
    path = _copy(tmp_path, "legacy_0001.db", ".kdf")
    ws = Workspace.open(path, "fixture pass")
    assert ws.user.role == "coordinator"
    assert (tmp_path / "legacy_0001.db.keys").exists() and not (tmp_path / "legacy_0001.db.kdf").exists()
    with ws.engine.connect() as c:
        assert c.execute(text("SELECT name FROM person WHERE id='P000001'")).scalar() == "試験 花子"
        assert c.execute(text("SELECT count(*) FROM access_log WHERE action='key_slots_converted'")).scalar() == 1
    assert ws.verify()["ok"]
    ws.close()
    # and from now on: key slots (a user can be added without re-encrypting)
    ws = Workspace.open(path, "fixture pass")
    ws.add_user("s1", "staff pw", "staff")
    ws.close()
    Workspace.open(path, "staff pw", "s1").close()


def test_database_at_0002_upgrades_and_loses_only_the_unused_index(tmp_path):
    path = _copy(tmp_path, "schema_0002.db", ".keys")
    ws = Workspace.open(path, "fixture pass")
    assert current_revision(ws.engine) == head_revision()
    with ws.engine.connect() as c:
        idx = {
            r[0]
            for r in c.execute(text("SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='source_record'"))
        }
        assert "ix_source_record_birth_date" not in idx and "ix_source_record_batch_id" in idx
        assert c.execute(text("SELECT name, birth_date FROM source_record")).one() == ("試験 花子", "2018-05-05")
    assert ws.verify()["ok"]
    ws.close()


def test_models_and_migrations_agree(tmp_path):
    """A fresh database (made by the migrations) has exactly the tables and indexes the models declare."""
    from kodomo_desktop.core.storage.models import Base

    ws = Workspace.create(tmp_path / "fresh.db", "fresh pass")
    with ws.engine.connect() as c:
        got = {r[0] for r in c.execute(text("SELECT name FROM sqlite_master WHERE type='index' AND sql IS NOT NULL"))}
    ws.close()
    want = {ix.name for t in Base.metadata.tables.values() for ix in t.indexes}
    assert want == got


def test_a_new_database_has_the_schema_the_migrations_give_an_empty_one(tmp_path):
    """Workspace.create replays the migration scripts' schema (storage/migrate.create_schema) instead of running them
    for each new database: every CREATE statement SQLite keeps and the head in ``alembic_version`` are those of a real
    Alembic upgrade of an empty encrypted database."""
    from kodomo_desktop.core.storage import keys as K
    from kodomo_desktop.core.storage.db import make_engine
    from kodomo_desktop.core.storage.migrate import upgrade

    def same_table(sql: str | None) -> object:
        """A table's statement with its table constraints as a set: Alembic's table rebuild (batch mode) writes a
        table's UNIQUE constraints in no fixed order — two real upgrades differ there too — the columns in theirs."""
        lines = [x.strip().rstrip(",").strip() for x in (sql or "").splitlines()]
        table_level = ("PRIMARY KEY", "UNIQUE", "FOREIGN KEY", "CHECK", "CONSTRAINT")
        return (
            [x for x in lines if not x.startswith(table_level)],
            sorted(x for x in lines if x.startswith(table_level)),
        )

    def schema(engine) -> tuple[list, list]:
        with engine.connect() as c:
            master = c.execute(text("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")).all()
            return [(*r[:3], same_table(r[3])) for r in master], [
                tuple(r) for r in c.execute(text("SELECT * FROM alembic_version"))
            ]

    ws = Workspace.create(tmp_path / "new.db", "fresh pass")
    made = schema(ws.engine)
    ws.close()
    engine = make_engine(tmp_path / "upgraded.db", K.new_database_key())
    try:
        upgrade(engine)
        migrated = schema(engine)
    finally:
        engine.dispose()
    assert made == migrated
    assert len(made[0]) > 40 and made[1] == [(head_revision(),)]
