"""School accounts never hold the town's key (issue 22 point 4): a school user's slot lives only in its school's own
workspace (``<db>.school-<slug>.db`` + key file), which the coordinator's account fills and reads back.

- a school password plus a backup (or a plain copy) of the town database opens nothing of the town's — through the
  app, and with raw tools: no slot of the town key file unwraps with the key-encryption key that password gives;
- the teacher's flow end to end (core + CLI): the same db path, exactly the school's pupils (no opted-out child),
  answers entered → the coordinator's status and score read them; the teacher's refused ``score`` reaches the
  town's log at the next read-back;
- removing the teacher or ``passwd`` re-keys the school's database: an old key file with an old password opens
  nothing; a slot left in the town key file by an older version moves on the next sign-in and the town is re-keyed;
- deletion on request reaches every school workspace.

Data: the demo town (synthetic), cached by conftest."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from clirun import run_cli
from conftest import DEMO_PW, _copy_town
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select, text

from kodomo_desktop.core import schoolspace as SW
from kodomo_desktop.core.checklists import service as CL
from kodomo_desktop.core.checklists import sync
from kodomo_desktop.core.errors import IntegrityFailure, KodomoError, PermissionDenied, WrongPassword
from kodomo_desktop.core.storage import keys as K
from kodomo_desktop.core.storage.db import raw_connect
from kodomo_desktop.core.storage.models import AppUser, OptOut, SourceRecord
from kodomo_desktop.core.workspace import Workspace

PW = DEMO_PW
TEACHER_PW = "teacher pw 22"
TEACHER = {"KODOMO_USER": "t1", "KODOMO_DB_PASSWORD": TEACHER_PW}


def cli(*args, cwd, env=None):
    e = dict(os.environ, KODOMO_DB_PASSWORD=PW)
    e.pop("KODOMO_USER", None)
    e.update(env or {})
    return run_cli(args, cwd=cwd, env=e)


@pytest.fixture(scope="module")
def built(tmp_path_factory, demo_town):
    d = tmp_path_factory.mktemp("schoolws")
    demo_town(d / "d.db", residents=600, seed=1)
    return d / "d.db"


@pytest.fixture
def db(built, tmp_path):
    return _copy_town(built, tmp_path, "d.db")


def _raw_unwraps(keyfile: K.KeyFile, kek: bytes) -> list[str]:
    """The slots of a key file that a key-encryption key unwraps (tried on every slot, whatever its locator)."""
    opened = []
    for loc, slot in keyfile.data["slots"].items():
        if "wrapped" not in slot:
            continue
        for aad in (loc.encode(), b""):
            try:
                AESGCM(kek).decrypt(K._unb64(slot["nonce"]), K._unb64(slot["wrapped"]), aad)
                opened.append(loc)
            except InvalidTag:
                pass
    return opened


def _log(path, key, action="permission_denied"):
    con = raw_connect(path, key, key_proven=True)
    try:
        return [
            (u, json.loads(d) if d else {})
            for u, d in con.execute("SELECT user, detail FROM access_log WHERE action=? ORDER BY seq", (action,))
        ]
    finally:
        con.close()


def test_school_password_and_a_backup_or_copy_of_the_town_open_nothing(db, tmp_path):
    from kodomo_desktop.core.security import backup as B

    ws = Workspace.open(db, PW)
    school = CL.schools(ws)[0]
    ws.add_user("t1", TEACHER_PW, "school", school)
    town_key = ws.raw_key()
    B.backup(ws, tmp_path / "town.backup")
    ws.close()
    # the teacher signs in at the same path: their school's workspace, not the town
    t = Workspace.open(db, TEACHER_PW, "t1")
    try:
        assert t.is_school and t.user.school == school and t.path == db
        school_key = t.raw_key()
        assert school_key != town_key
    finally:
        t.close()
    if os.name == "posix":  # the school's files are the owner's only, like the town's
        sdb = SW.school_files(db)[0]
        assert {oct(p.stat().st_mode & 0o777) for p in (sdb, K.key_file_path(sdb))} == {"0o600"}
    town_kf = K.KeyFile.load(db)
    loc, kek = town_kf.derive("t1", TEACHER_PW)
    assert not town_kf.has_slot(loc)
    # a plain copy of the town (database + key file, no school files): nothing opens
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in (db, K.key_file_path(db)):
        shutil.copy(f, copy / f.name)
    with pytest.raises(WrongPassword):
        Workspace.open(copy / db.name, TEACHER_PW, "t1")
    assert cli("verify", "--db", str(copy / db.name), cwd=tmp_path, env=TEACHER).returncode == 2
    # raw tools: every slot of the town key file, with the key-encryption keys that password gives
    for name in ("t1", None, ""):
        for kf in (town_kf, K.KeyFile.load(copy / db.name)):
            _, k = kf.derive(name, TEACHER_PW)
            assert _raw_unwraps(kf, k) == []
    # ... and the only key the password does give (the school's) opens no town page
    with pytest.raises(IntegrityFailure):
        raw_connect(copy / db.name, school_key, key_proven=True)
    # the backup: restored somewhere new with the coordinator, the teacher opens nothing there either
    B.restore(tmp_path / "town.backup", tmp_path / "restored.db", PW, None)
    with pytest.raises(WrongPassword):
        Workspace.open(tmp_path / "restored.db", TEACHER_PW, "t1")
    rkf = K.KeyFile.load(tmp_path / "restored.db")
    assert _raw_unwraps(rkf, rkf.derive("t1", TEACHER_PW)[1]) == []
    with pytest.raises(KodomoError):  # the backup itself does not answer to the teacher's password
        B.restore(tmp_path / "town.backup", tmp_path / "restored2.db", TEACHER_PW, "t1")
    # and the school's workspace holds nothing but what a school may: its tables, no town table
    con = raw_connect(SW.school_files(db)[0], school_key, key_proven=True)
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        con.close()
    assert tables == {
        "school_meta",
        "member",
        "pupil",
        "checklist_definition",
        "checklist_round",
        "checklist_entry",
        "access_log",
    }


def test_teacher_flow_end_to_end_core_and_cli(db):
    d = db.parent
    ws = Workspace.open(db, PW)
    school = CL.schools(ws)[0]
    everyone = CL.pupils(ws, school)
    opted = everyone[0]["person_id"]
    with ws.session() as s:
        s.add(OptOut(person_id=opted, from_date=__import__("datetime").date(2020, 1, 1), reason="不同意書"))
    ws.close()
    r = cli(
        "users",
        "add",
        "--db",
        "d.db",
        "--name",
        "t1",
        "--role",
        "school",
        "--school",
        school,
        cwd=d,
        env={"KODOMO_NEW_PASSWORD": TEACHER_PW},
    )
    assert r.returncode == 0, r.stderr
    assert len(SW.school_files(db)) == 1
    ws = Workspace.open(db, PW)
    rid = CL.open_round(ws, "夏休み明け", schools_=[school])
    ws.close()
    # the teacher: same path, exactly the school's pupils, no opted-out child
    t = Workspace.open(db, TEACHER_PW, "t1")
    try:
        got = CL.pupils(t, school)
        want = [p["person_id"] for p in everyone if p["person_id"] != opted]
        assert [p["person_id"] for p in got] == want and opted not in {p["person_id"] for p in got}
        rnd = CL.school_round(t, school)
        assert rnd["id"] == rid and rnd["name"] == "夏休み明け"
        d_items = rnd["definition"]["items"]
        strong = {i["id"]: "1" for i in d_items if i["group"].startswith("child.")}
        a, b = got[0]["person_id"], got[1]["person_id"]
        CL.save_entry(t, rid, a, strong, "朝食をとっていない様子")
        CL.save_entry(t, rid, b, {"ab01": "2"})
        with pytest.raises(PermissionDenied):
            CL.save_entry(t, rid, opted, {"ab01": "1"})  # the opted-out child is not in the school's workspace
        assert CL.submit_school(t, rid, school) == 2
    finally:
        t.close()
    # the teacher's CLI: status works, score is refused (exit 2, nothing written)
    st = json.loads(cli("checklist", "status", "--db", "d.db", cwd=d, env=TEACHER).stdout)
    assert st["schools"][0]["school"] == school and st["schools"][0]["submitted"] == 2
    assert cli("score", "--db", "d.db", "--out", "t.csv", cwd=d, env=TEACHER).returncode == 2
    assert not (d / "t.csv").exists()
    # the coordinator: status shows them entered, the score reads them as school_checklist records
    st = json.loads(cli("checklist", "status", "--db", "d.db", cwd=d).stdout)
    mine = next(s for s in st["schools"] if s["school"] == school)
    assert (mine["entered"], mine["submitted"]) == (2, 2)
    r = cli("score", "--db", "d.db", "--out", "s.csv", cwd=d)
    assert r.returncode == 0, r.stderr
    ws = Workspace.open(db, PW)
    try:
        with ws.session() as s:
            recs = s.scalars(select(SourceRecord).where(SourceRecord.source_type == "school_checklist")).all()
            assert {x.source_key for x in recs} == {a, b}
            assert next(x for x in recs if x.source_key == a).raw["remark"] == "朝食をとっていない様子"
            run = s.execute(text("SELECT id FROM score_run ORDER BY id DESC LIMIT 1")).scalar()
            det = s.execute(
                text("SELECT details FROM child_score WHERE run_id=:r AND person_id=:p"), {"r": run, "p": a}
            ).scalar()
        assert "school_checklist" in det
        # the teacher's refused score is in the town's log (read back by the coordinator's status / score)
        denied = [dt_ for u, dt_ in _log(db, ws.raw_key()) if u == "t1" and dt_.get("school_workspace")]
        assert any(x.get("permission") == "score.run" for x in denied)
        assert cli("checklist", "sync", "--db", "d.db", cwd=d).returncode == 0
        # nothing copied twice
        assert len([1 for u, x in _log(db, ws.raw_key()) if u == "t1" and x.get("permission") == "score.run"]) == 1
    finally:
        ws.close()


def test_removing_the_teacher_or_passwd_rekeys_the_school_database(db, tmp_path):
    d = db.parent
    ws = Workspace.open(db, PW)
    school = CL.schools(ws)[0]
    ws.add_user("t1", TEACHER_PW, "school", school)
    ws.add_user("t2", "second teacher 2", "school", school)
    ws.close()
    sdb = SW.school_files(db)[0]
    old_kf = K.key_file_path(sdb).read_bytes()

    def old_key(password, name):
        kf = K.KeyFile.parse(K.key_file_path(sdb), old_kf)
        return kf.unlock(name, password, record=False).db_key

    k1 = old_key(TEACHER_PW, "t1")
    raw_connect(sdb, k1, key_proven=True).close()  # (today it opens)
    # passwd: a new slot and a re-key; the old key file with the old password opens nothing
    r = cli("passwd", "--db", "d.db", cwd=d, env={**TEACHER, "KODOMO_NEW_PASSWORD": "new teacher pw 3"})
    assert r.returncode == 0, r.stderr
    with pytest.raises(IntegrityFailure):
        raw_connect(sdb, k1, key_proven=True)
    with pytest.raises(WrongPassword):
        Workspace.open(db, TEACHER_PW, "t1")
    Workspace.open(db, "new teacher pw 3", "t1").close()
    Workspace.open(db, "second teacher 2", "t2").close()  # the other teacher's slot was re-sealed
    # the coordinator still opens it (the town's slot was re-sealed too) and removes t2
    old_kf = K.key_file_path(sdb).read_bytes()
    k2 = old_key("second teacher 2", "t2")
    assert cli("users", "remove", "--db", "d.db", "--name", "t2", cwd=d).returncode == 0
    with pytest.raises(IntegrityFailure):
        raw_connect(sdb, k2, key_proven=True)
    with pytest.raises(WrongPassword):
        Workspace.open(db, "second teacher 2", "t2")
    Workspace.open(db, "new teacher pw 3", "t1").close()
    assert cli("checklist", "sync", "--db", "d.db", cwd=d).returncode == 0
    # a crash in the middle of a school re-key leaves a database that opens: the CLI in a forked process
    # (tests/forkrun.py) that the product ends there
    env = {**TEACHER, "KODOMO_DB_PASSWORD": "new teacher pw 3", "KODOMO_NEW_PASSWORD": "third pw 444"}
    from forkrun import CLI_MAIN, run_code

    env = {**os.environ, **env, "KODOMO_CRASH_AT": "school-rekey-2"}
    assert run_code(CLI_MAIN, "passwd", "--db", d / "d.db", env=env) == 86
    w = None
    for pw in ("third pw 444", "new teacher pw 3"):
        try:
            w = Workspace.open(db, pw, "t1")
            break
        except WrongPassword:
            continue
    assert w is not None and w.verify()["ok"]
    w.close()
    assert cli("checklist", "sync", "--db", "d.db", cwd=d).returncode == 0


def test_a_school_slot_in_the_town_key_file_moves_at_the_next_sign_in(db):
    ws = Workspace.open(db, PW)
    school = CL.schools(ws)[0]
    CL.open_round(ws, "夏休み明け", schools_=[school])
    ref = K.new_user_ref()  # what an older version did: the school user's slot in the town's key file
    with ws.session() as s:
        s.add(AppUser(name="old", slot_id=ref, role="school", school=school))
    with ws.keyfile_update() as kf:
        kf.add_user("old", TEACHER_PW, ref, ws.raw_key())
    ws.close()
    before = K.key_file_path(db).read_bytes()
    old_town_key = K.KeyFile.parse(K.key_file_path(db), before).unlock("old", TEACHER_PW, record=False).db_key
    t = Workspace.open(db, TEACHER_PW, "old")
    try:
        assert t.is_school and CL.pupils(t, school)
    finally:
        t.close()
    kf = K.KeyFile.load(db)
    assert not kf.has_slot(kf.derive("old", TEACHER_PW)[0])
    with pytest.raises(IntegrityFailure):  # the town was re-keyed: the old slot's key opens nothing
        raw_connect(db, old_town_key, key_proven=True)
    Workspace.open(db, TEACHER_PW, "old").close()  # and from now on: the school's workspace
    ws = Workspace.open(db, PW)
    try:
        with ws.engine.connect() as c:
            assert c.execute(text("SELECT count(*) FROM access_log WHERE action='school_slot_moved'")).scalar() == 1
    finally:
        ws.close()


def test_deletion_on_request_reaches_every_school_workspace(db):
    from kodomo_desktop.core.governance.disclosure import delete_person

    ws = Workspace.open(db, PW)
    try:
        school = CL.schools(ws)[0]
        ws.add_user("t1", TEACHER_PW, "school", school)
        rid = CL.open_round(ws, "夏休み明け", schools_=[school])
        pid = CL.pupils(ws, school)[0]["person_id"]
        t = Workspace.open(db, TEACHER_PW, "t1")
        CL.save_entry(t, rid, pid, {"ab01": "1"})
        t.close()
        res = delete_person(ws, pid, "削除請求 第1号")
        assert res["deleted"]["school_workspaces"] == 1
        t = Workspace.open(db, TEACHER_PW, "t1")
        try:
            assert pid not in {p["person_id"] for p in CL.pupils(t, school)}
            assert pid not in CL.entries(t, rid, school)
        finally:
            t.close()
        sync.sync(ws)  # a later read-back does not bring them back
        t = Workspace.open(db, TEACHER_PW, "t1")
        try:
            assert pid not in {p["person_id"] for p in CL.pupils(t, school)}
        finally:
            t.close()
    finally:
        ws.close()


def test_an_old_town_copy_opens_nothing_of_the_schools_after_a_coordinator_leaves(db, tmp_path):
    ws = Workspace.open(db, PW)
    school = CL.schools(ws)[0]
    ws.add_user("c2", "second coord pw", "coordinator")
    ws.add_user("t1", TEACHER_PW, "school", school)
    ws.close()
    sdb = SW.school_files(db)[0]
    old = tmp_path / "old"
    old.mkdir()
    for f in (db, K.key_file_path(db), K.key_file_path(sdb)):
        shutil.copy(f, old / f.name)
    # what the leaving coordinator keeps: a copy of the town (with the town's key pairs) and of a school key file
    c2 = Workspace.open(old / db.name, "second coord pw", "c2")
    with c2.engine.connect() as c:
        old_priv = c.execute(text("SELECT town_priv FROM school_workspace")).scalar()
    c2.close()
    old_school_key = K.KeyFile.parse(K.key_file_path(sdb), (old / K.key_file_path(sdb).name).read_bytes()).town_keys(
        old_priv
    )[0]
    raw_connect(sdb, old_school_key, key_proven=True).close()  # (today it still opens)
    ws = Workspace.open(db, PW)
    try:
        res = ws.remove_user("c2")
        assert res["school_workspaces"] == 1
        with pytest.raises(IntegrityFailure):  # the school was re-keyed …
            raw_connect(sdb, old_school_key, key_proven=True)
        with pytest.raises(IntegrityFailure):  # … and sealed to a new town pair
            K.KeyFile.load(sdb).town_keys(old_priv)
        assert ws.rotate_keys()["school_workspaces"] == 1  # 鍵の更新 does the same
        assert sync.sync(ws)["schools"][0]["school"] == school  # the coordinator still opens it
    finally:
        ws.close()
    Workspace.open(db, TEACHER_PW, "t1").close()  # and the teacher still signs in


def test_restore_keeps_todays_school_workspaces_and_resurrects_no_school_user(db, tmp_path):
    from kodomo_desktop.core.security import backup as B

    ws = Workspace.open(db, PW)
    school = CL.schools(ws)[0]
    ws.add_user("c2", "second coord pw", "coordinator")
    ws.add_user("t1", TEACHER_PW, "school", school)
    ws.add_user("t2", "second teacher 2", "school", school)
    B.backup(ws, tmp_path / "before.backup")
    ws.remove_user("t2")  # removed after the backup …
    ws.remove_user("c2")  # … and the schools sealed to new town pairs
    ws.close()
    out = B.restore(tmp_path / "before.backup", db, PW, None)
    assert out.get("users_reapplied", True)
    with pytest.raises(WrongPassword):  # the removed teacher stays removed
        Workspace.open(db, "second teacher 2", "t2")
    Workspace.open(db, TEACHER_PW, "t1").close()
    ws = Workspace.open(db, PW)
    try:
        assert sync.sync(ws)["schools"][0]["school"] == school  # today's pair: the restored town opens it
        assert "t2" not in {u["name"] for u in ws.list_users()} and "t1" in {u["name"] for u in ws.list_users()}
        ws.remove_user("t1")  # and can still revoke its users
    finally:
        ws.close()
    with pytest.raises(WrongPassword):
        Workspace.open(db, TEACHER_PW, "t1")


@pytest.mark.kdf_floor  # the times compared are Argon2id runs at the application's cost
def test_sign_in_costs_the_same_for_a_school_name_a_town_name_an_auditor_and_an_unknown_one(tmp_path):
    import time

    from kodomo_desktop.core import auditspace as AW

    ws = Workspace.create(tmp_path / "t.db", "coord pw 12")
    ws.add_user("s1", "staff pw 12", "staff")
    ws.add_user("a1", "auditor pw 12", "auditor")
    for n, school in enumerate(("第一小学校", "第二小学校", "第一中学校")):
        ws.add_user(f"t{n}", TEACHER_PW, "school", school)
    ws.close()
    assert len(SW.school_files(tmp_path / "t.db")) == 3 and len(AW.audit_files(tmp_path / "t.db")) == 1
    kf = K.KeyFile.load(tmp_path / "t.db")
    for p in SW.school_files(tmp_path / "t.db") + AW.audit_files(tmp_path / "t.db"):  # one KDF for all files
        assert K.KeyFile.load(p).data["kdf"] == kf.data["kdf"]

    runs: list[bytes] = []
    real = K.KdfParams._argon2

    def counted(self, secret):
        runs.append(secret)
        return real(self, secret)

    def t(user):
        before = len(runs)
        t0 = time.perf_counter()
        with pytest.raises(WrongPassword) as e:
            Workspace.open(tmp_path / "t.db", "wrong password", user)
        took = time.perf_counter() - t0
        assert len(runs) - before == 1, user  # one Argon2id run, whichever file would have held the slot
        return took, e.value.message_ja

    Workspace.open(tmp_path / "t.db", "coord pw 12").close()  # warm (and no back-off: three tries are free)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(K, "_test_cache", None)  # every derivation really runs (and is counted)
        mp.setattr(K.KdfParams, "_argon2", counted)
        (a, ma), (b, mb), (c, mc) = t("t1"), t("s1"), t("no_such_user")
        # a good sign-in takes the three failures (no back-off for the next); its own wait for the back-off (1 s
        # after three failures, tested in test_keys) is left out
        with pytest.MonkeyPatch.context() as no_wait:
            no_wait.setattr(K.KeyFile, "failure_delay", lambda self: 0.0)
            Workspace.open(tmp_path / "t.db", "coord pw 12").close()
        d, md = t("a1")
    assert ma == mb == mc == md
    # the same cost whichever file (town, school, audit) would have held the slot: counted above (one Argon2id run
    # each, no other derivation), and the times, within a band a loaded machine keeps
    assert 0.33 < a / c < 3.0 and 0.33 < b / c < 3.0 and 0.33 < d / c < 3.0, (a, b, c, d)
