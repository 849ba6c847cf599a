"""Issue 22: the database, its key file, backups and exports are created 0600 (folders 0700) on POSIX — even under a
permissive umask, so the helpers do not rely on the process umask the CLI and GUI also tighten."""

import os
import stat

import pytest

from kodomo_desktop.core.workspace import Workspace

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
PW = "modes pw 12"


def mode(p) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


@pytest.fixture
def loose_umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_database_key_file_backup_and_restore_are_private(tmp_path, loose_umask):
    from kodomo_desktop.core.security.backup import backup, restore
    from kodomo_desktop.core.storage.keys import key_file_path

    db = tmp_path / "t.db"
    ws = Workspace.create(db, PW)
    try:
        assert mode(db) == 0o600 and mode(key_file_path(db)) == 0o600
        ws.add_user("staff1", "staff pw 123", "staff")  # the key file is rewritten: still private
        assert mode(key_file_path(db)) == 0o600
        backup(ws, tmp_path / "t.bak")
        assert mode(tmp_path / "t.bak") == 0o600
    finally:
        ws.close()
    (tmp_path / "t.txt").write_text("x")
    assert mode(tmp_path / "t.txt") == 0o644  # the umask really is permissive here
    target = tmp_path / "r.db"
    restore(tmp_path / "t.bak", target, PW)
    assert mode(target) == 0o600 and mode(key_file_path(target)) == 0o600


def test_cli_sets_an_owner_only_umask(tmp_path, loose_umask):
    from kodomo_desktop.cli import main

    os.environ["KODOMO_DB_PASSWORD"] = PW
    try:
        main(["init", "--db", str(tmp_path / "c.db")])
        assert os.umask(0o022) == 0o077
    finally:
        os.environ.pop("KODOMO_DB_PASSWORD", None)
    assert mode(tmp_path / "c.db") == 0o600
