"""Every past schema opens and upgrades to the current one without loss."""
import shutil

from sqlalchemy import text

from kodomo_desktop.core.workspace import Workspace, current_revision, head_revision
from pathlib import Path

FIX = Path(__file__).parent / "fixtures" / "schemas"


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
