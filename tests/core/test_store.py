"""The encrypted store, key slots, access log and migrations."""

import json
import os
import subprocess
import sys

import pytest
from conftest import PASSWORD
from sqlalchemy import text

from kodomo_desktop.core.errors import InputRefused, IntegrityFailure, PermissionDenied, WrongPassword
from kodomo_desktop.core.storage.db import raw_connect
from kodomo_desktop.core.storage.migrate import current_revision, head_revision
from kodomo_desktop.core.workspace import Workspace, change_password


def test_file_is_encrypted_and_key_file_has_no_names(new_db):
    path = new_db.path
    assert not path.read_bytes()[:16].startswith(b"SQLite format 3")
    keys = (path.parent / (path.name + ".keys")).read_text(encoding="utf-8")
    assert "coordinator" not in keys  # slots are found by Argon2id(name, password), never named
    assert '"wrapped"' in keys


def test_wrong_password_is_refused_and_database_untouched(new_db):
    path = new_db.path
    new_db.close()
    before = path.read_bytes()
    with pytest.raises(WrongPassword) as e:
        Workspace.open(path, "wrong")
    assert "パスワード" in e.value.message_ja and e.value.exit_code == 2
    assert path.read_bytes() == before


def test_failures_are_reported_at_next_sign_in_and_logged(new_db):
    path = new_db.path
    new_db.close()
    for _ in range(2):
        with pytest.raises(WrongPassword):
            Workspace.open(path, "nope")
    ws = Workspace.open(path, PASSWORD)
    assert ws.failures_since_last == 2
    with ws.engine.connect() as c:
        actions = [r[0] for r in c.execute(text("SELECT action FROM access_log ORDER BY seq"))]
    assert actions.count("sign_in_failed") == 2
    ws.close()
    assert Workspace.open(path, PASSWORD).failures_since_last == 0


def test_growing_delay_after_repeated_failures(new_db):
    path = new_db.path
    new_db.close()
    for _ in range(4):
        with pytest.raises(InputRefused):
            Workspace.open(path, "nope")
    with pytest.raises(InputRefused) as e:  # even the right password must wait now
        Workspace.open(path, PASSWORD)
    assert "秒後" in e.value.message_ja


def test_verify_ok_then_tamper_detected(new_db):
    new_db.log("search", detail={"hits": 3})
    assert new_db.verify()["ok"] is True
    key = new_db.raw_key()
    con = raw_connect(new_db.path, key)
    con.execute("UPDATE access_log SET detail = replace(detail, '3', '4') WHERE action='search'")
    con.close()
    with pytest.raises(IntegrityFailure) as e:
        new_db.verify()
    assert e.value.exit_code == 3
    assert e.value.result["first_broken_entry"] is not None


def test_logs_from_two_threads_wait_for_each_other_instead_of_failing(new_db):
    """The GUI thread logs a search while a worker thread logs the preview it printed: each append reads the last
    hash and then writes, so two deferred transactions deadlocked and SQLite answered one "database is locked" at
    once (tests/gui/test_print_without_poppler.py failed so). The append takes the write lock first and waits; so
    does a worker's ``session(write=True)`` (the handover export, which logs at its end)."""
    import threading
    import time

    errors: list[BaseException] = []

    def logs(tag: int) -> None:
        for i in range(40):
            try:
                new_db.log("search", detail={"thread": tag, "n": i})
            except BaseException as e:  # noqa: BLE001 - collected and asserted below
                errors.append(e)

    def exports() -> None:  # a worker's session that reads, works a while, then logs in that transaction
        for i in range(15):
            try:
                with new_db.session(write=True) as s:
                    s.execute(text("SELECT count(*) FROM access_log")).scalar()
                    time.sleep(0.005)
                    new_db.log("export", detail={"n": i}, conn=s)
            except BaseException as e:  # noqa: BLE001 - collected and asserted below
                errors.append(e)

    threads = [threading.Thread(target=logs, args=(k,)) for k in range(3)] + [threading.Thread(target=exports)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert new_db.verify()["ok"] is True
    with new_db.session() as s:
        assert s.execute(text("SELECT count(*) FROM access_log WHERE action = 'search'")).scalar() == 120
        assert s.execute(text("SELECT count(*) FROM access_log WHERE action = 'export'")).scalar() == 15


def test_removed_log_entry_is_detected(new_db):
    for i in range(3):
        new_db.log("search", detail={"hits": i})
    con = raw_connect(new_db.path, new_db.raw_key())
    con.execute("DELETE FROM access_log WHERE seq = 3")
    con.close()
    with pytest.raises(IntegrityFailure) as e:
        new_db.verify()
    assert e.value.result["first_broken_entry"] == 4


def test_roles_enforced_in_core_and_refusal_logged(new_db):
    new_db.add_user("t1", "pw-school", "school", school="第一小学校")
    new_db.add_user("s1", "pw-staff", "staff")
    path = new_db.path
    new_db.close()
    ws = Workspace.open(path, "pw-school", "t1")
    with pytest.raises(PermissionDenied):
        ws.require("score.run")
    ws.close()
    ws = Workspace.open(path, "pw-staff", "s1")
    assert ws.can("person.read") and not ws.can("import")
    ws.close()
    ws = Workspace.open(path, PASSWORD)
    from kodomo_desktop.core.checklists import sync

    sync.sync(ws)  # the school user's refusal is in its school's log, and in the town's once read back
    with ws.engine.connect() as c:
        rows = c.execute(text("SELECT user, detail FROM access_log WHERE action='permission_denied'")).all()
    assert rows and rows[0][0] == "t1" and "score.run" in rows[0][1]
    ws.close()


def test_remove_user_and_last_coordinator(new_db):
    new_db.add_user("s1", "pw-staff", "staff")
    new_db.remove_user("s1")
    with pytest.raises(InputRefused):
        new_db.remove_user("coordinator")
    path = new_db.path
    new_db.close()
    with pytest.raises(WrongPassword):
        Workspace.open(path, "pw-staff", "s1")
    Workspace.open(path, PASSWORD).close()


def test_passwd_rekeys_the_database(new_db):
    path = new_db.path
    new_db.close()
    before = path.read_bytes()
    change_password(path, None, PASSWORD, "new secret")
    assert path.read_bytes()[16:4096] != before[16:4096]  # re-encrypted (the salt, bytes 0-15, stays)
    with pytest.raises(WrongPassword):
        Workspace.open(path, PASSWORD)
    ws = Workspace.open(path, "new secret")
    with ws.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM access_log WHERE action='password_changed'")).scalar() == 1
    ws.close()


def test_lock_drops_key_and_unlock_needs_password(new_db):
    new_db.lock()
    with pytest.raises(Exception):
        new_db.raw_key()
    with pytest.raises(WrongPassword):
        new_db.unlock("wrong")
    new_db.unlock(PASSWORD)
    assert new_db.verify()["ok"]


def test_schema_is_at_head(new_db):
    assert current_revision(new_db.engine) == head_revision()


def test_cli_init_verify_wrong_password(tmp_path):
    from clirun import run_cli

    env = dict(os.environ, KODOMO_DB_PASSWORD=PASSWORD)
    # the first call through the real entry point (python -m kodomo_desktop), the others in this process
    r = subprocess.run(
        [sys.executable, "-m", "kodomo_desktop", "init", "--db", "x.db"], cwd=tmp_path, env=env, capture_output=True
    )
    assert r.returncode == 0 and json.loads(r.stdout) == {"created": "x.db"}
    # the application's own key file is at the Argon2id floor whatever the tests' cost in this process (conftest)
    kdf = json.loads((tmp_path / "x.db.keys").read_text(encoding="utf-8"))["kdf"]
    assert kdf["type"] == "argon2id" and kdf["time_cost"] >= 3 and kdf["memory_cost"] >= 65536, kdf
    run = lambda *a, **kw: run_cli(a, cwd=tmp_path, env=kw.get("env", env))
    assert not (tmp_path / "x.db").read_bytes().startswith(b"SQLite format 3")
    assert run("init", "--db", "x.db").returncode == 2
    r = run("verify", "--db", "x.db", env=dict(env, KODOMO_DB_PASSWORD="wrong"))
    assert r.returncode == 2 and "パスワード" in r.stderr
    r = run("verify", "--db", "x.db")
    assert r.returncode == 0 and json.loads(r.stdout)["ok"] is True
    r = run("frobnicate", "--db", "x.db")
    assert r.returncode == 1


def test_every_logged_action_has_a_japanese_label():
    """The log viewer shows ACTION_LABELS; an action logged anywhere in the code without a label shows as a raw key."""
    import pathlib
    import re

    from kodomo_desktop.core.audit.log import ACTION_LABELS

    root = pathlib.Path(__file__).resolve().parents[2] / "kodomo_desktop"
    acts = {m.group(1) for p in root.rglob("*.py") for m in re.finditer(r'\.log\(\s*"([a-z_]+)"', p.read_text())}
    assert len(acts) > 20
    assert sorted(acts - set(ACTION_LABELS)) == []


def test_two_open_stores_share_one_dialect_and_compiled_statements_but_never_rows(new_db, new_db_at, tmp_path):
    """A store opened after another compiles nothing the first compiled (storage/db.py: one dialect and one statement
    cache per process); each still reads its own file under its own key."""
    from sqlalchemy import func, select

    from kodomo_desktop.core import settings
    from kodomo_desktop.core.storage import db as D
    from kodomo_desktop.core.storage.models import Setting

    other = new_db_at(tmp_path / "other" / "o.db")
    try:
        settings.set_many(new_db, {settings.TOWN_NAME: "試験町"})
        settings.set_many(other, {settings.TOWN_NAME: "見本村"})
        assert new_db.engine.dialect is other.engine.dialect is D._SHARED_DIALECT
        assert settings.town_name(new_db) == "試験町"
        compiled = len(D._STATEMENTS)
        assert settings.town_name(other) == "見本村"  # the same statement on the other store: no new compile
        assert len(D._STATEMENTS) == compiled
        q = select(func.count(Setting.key)).where(Setting.key != "not a key: a statement no other test runs")
        with new_db.engine.connect() as c1, other.engine.connect() as c2:
            n1, n2 = c1.execute(q).scalar(), c2.execute(q).scalar()
        assert n1 and n2 and len(D._STATEMENTS) == compiled + 1  # compiled once for both
    finally:
        other.close()


def test_cli_main_inside_a_process_keeps_that_process_frozen_objects_frozen(new_db):
    """The suite freezes what collection loaded (tests/conftest.py); cli.main called inside it neither thaws that
    (gc.unfreeze would) nor freezes the test's own objects."""
    import gc

    from clirun import run_cli

    path = new_db.path
    new_db.close()
    frozen = gc.get_freeze_count()
    assert frozen > 0
    r = run_cli(["verify", "--db", path], env={**os.environ, "KODOMO_DB_PASSWORD": PASSWORD})
    assert r.returncode == 0, r.stderr
    # not thawed (0) and nothing of the call's added; a few frozen objects may have been freed meanwhile
    assert 0.9 * frozen < gc.get_freeze_count() <= frozen
