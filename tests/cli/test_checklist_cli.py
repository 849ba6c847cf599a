"""Observation checklists end to end through the CLI on the demo town: the school's workbook holds exactly its
pupils, answers filled in with openpyxl import back, the pupil with strong answers rises in the score with a
checklist reason, a wrong answer is refused by row and column with nothing changed, and a school user is refused
scores, links and other schools (logged)."""

import csv
import json
import os

import pytest
from clirun import run_cli
from conftest import DEMO_PW

PW = DEMO_PW  # the cached demo towns' password (conftest.demo_town)
TEACHER_PW = "teacher pw"


def cli(*args, cwd, env=None):
    """The CLI in this process (tests/clirun.py): same parser and main as ``python -m kodomo_desktop``."""
    e = dict(os.environ, KODOMO_DB_PASSWORD=PW)
    e.pop("KODOMO_USER", None)
    e.update(env or {})
    return run_cli(args, cwd=cwd, env=e)


TEACHER = {"KODOMO_USER": "t1", "KODOMO_DB_PASSWORD": TEACHER_PW}


@pytest.fixture(scope="module")
def town(tmp_path_factory, demo_town):
    d = tmp_path_factory.mktemp("checklist_cli")
    demo_town(d / "d.db", residents=600, seed=1)  # what `demo --residents 600 --seed 1` builds, cached
    r = cli("checklist", "status", "--db", "d.db", cwd=d)
    assert r.returncode == 0, r.stderr
    schools = [s["school"] for s in json.loads(r.stdout)["schools"] if s["pupils"] >= 3]
    assert len(schools) >= 2
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
        schools[0],
        cwd=d,
        env={"KODOMO_NEW_PASSWORD": TEACHER_PW},
    )
    assert r.returncode == 0, r.stderr
    return d, schools


def _db_pupils(d, school):
    """The pupils the database holds for one school, read straight from the tables: each person's newest linked
    school record (checklist results left out), without anyone on the opt-out register."""
    from sqlalchemy import text

    from kodomo_desktop.core.workspace import Workspace

    ws = Workspace.open(d / "d.db", PW)
    try:
        with ws.engine.connect() as c:
            rows = c.execute(
                text(
                    "SELECT l.person_id, r.school FROM link l JOIN source_record r ON r.id = l.record_id "
                    "JOIN source_batch b ON b.id = r.batch_id WHERE l.status IN ('auto','confirmed') "
                    "AND r.school IS NOT NULL AND b.removed_at IS NULL AND r.source_type != 'school_checklist' "
                    "ORDER BY b.as_of, b.id"
                )
            ).all()
            opted = {p for (p,) in c.execute(text("SELECT person_id FROM opt_out WHERE person_id IS NOT NULL"))}
        latest = {}
        for pid, sch in rows:
            latest[pid] = sch
        return {pid for pid, sch in latest.items() if sch == school} - opted
    finally:
        ws.close()


def _sheet(path):
    from openpyxl import load_workbook

    wb = load_workbook(path)
    sh = wb["チェックリスト"]
    head = next(r for r in range(1, 10) if sh.cell(r, 1).value == "行キー")
    return wb, sh, head


def _keys(sh, head):
    from kodomo_desktop.core.checklists.service import parse_row_key

    return {parse_row_key(sh.cell(r, 1).value)[1]: r for r in range(head + 1, sh.max_row + 1) if sh.cell(r, 1).value}


def _scores(path):
    return {r["person_id"]: r for r in csv.DictReader(open(path, encoding="utf-8"))}


def _log(d, name):
    r = cli("log", "--db", "d.db", "--out", name, cwd=d)
    assert r.returncode == 0, r.stderr
    return list(csv.DictReader(open(d / name, encoding="utf-8")))


def test_template_holds_exactly_that_schools_pupils(town):
    d, schools = town
    for school in schools[:2]:
        r = cli("checklist", "template", "--db", "d.db", "--school", school, "--out", f"{school}.xlsx", cwd=d)
        assert r.returncode == 0, r.stderr
        _, sh, head = _sheet(d / f"{school}.xlsx")
        keys = _keys(sh, head)
        assert json.loads(r.stdout)["pupils"] == len(keys) > 0
        assert set(keys) == _db_pupils(d, school)
        other = next(s for s in schools if s != school)
        assert not set(keys) & _db_pupils(d, other)
    exports = [json.loads(e["detail"]) for e in _log(d, "log0.csv") if e["action"] == "export"]
    assert sum(1 for x in exports if x.get("what") == "checklist_template") >= 2


def test_answers_import_back_and_the_pupil_rises_with_a_checklist_reason(town):
    d, schools = town
    school = schools[0]
    import datetime as dt

    today = dt.date.today().isoformat()  # the same as-of date for both runs (a return is dated today)
    assert cli("score", "--db", "d.db", "--out", "before.csv", "--as-of", today, cwd=d).returncode == 0
    before = _scores(d / "before.csv")
    r = cli("checklist", "template", "--db", "d.db", "--school", school, "--out", "fill.xlsx", cwd=d)
    assert r.returncode == 0, r.stderr
    round_name = json.loads(r.stdout)["round"]
    wb, sh, head = _sheet(d / "fill.xlsx")
    keys = _keys(sh, head)
    # the pupil with the lowest score gets strong answers; a second pupil a few plain ones
    strong = min(keys, key=lambda p: (float(before[p]["total"]) if p in before else 99, p))
    weak = next(p for p in keys if p != strong)
    labels = [sh.cell(head, c).value for c in range(1, sh.max_column + 1)]
    groups = [sh.cell(head - 1, c).value for c in range(1, sh.max_column + 1)]
    remark = next(n for n, v in enumerate(labels, 1) if str(v or "").startswith("所見"))
    for c in range(6, remark):
        sh.cell(keys[strong], c).value = "該当"
    sh.cell(keys[strong], remark).value = "朝食をとらずに登校する日が続く"
    sh.cell(keys[weak], 6).value = "非該当"
    sh.cell(keys[weak], 7).value = "不明"
    wb.save(d / "filled.xlsx")
    r = cli("import", "--db", "d.db", "--source", "school_checklist", "filled.xlsx", cwd=d)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["imported"] == 2 and res["rejected"] == 0 and res["errors"] == []
    assert cli("score", "--db", "d.db", "--out", "after.csv", "--as-of", today, cwd=d).returncode == 0
    after = _scores(d / "after.csv")
    assert float(after[strong]["total"]) > float(before.get(strong, {"total": 0})["total"])
    assert "虐待" in after[strong]["types"].split(";")
    reasons = after[strong]["reasons"]
    assert "観察チェックリスト" in reasons and "こどもの様子" in reasons and "保護者・家庭" in reasons
    # the CSV's reason names the school, the round and the date too (観察チェックリスト: 第一小学校 夏休み明け 2026-09-05)
    cl_items = [x for x in reasons.split(";") if "観察チェックリスト" in x or "こどもの様子" in x]
    assert cl_items and all(school in x and round_name in x and today in x for x in cl_items), reasons
    assert float(after[weak]["total"]) == float(before[weak]["total"])
    # the reason names the item group, the school, the round and the date (score details, as the sheets print them)
    from kodomo_desktop.core.scoring import service as S
    from kodomo_desktop.core.workspace import Workspace

    ws = Workspace.open(d / "d.db", PW)
    try:
        latest = S.latest_scores(ws)
        row = next(x for x in latest if x["person_id"] == strong)
    finally:
        ws.close()
    # a pupil whose school has not returned the round: "チェックリスト未回収", not zero risk
    waiting = _db_pupils(d, schools[1])
    missing = [x for x in latest if x["person_id"] in waiting]
    assert missing and all(any(n["label"] == "チェックリスト未回収" for n in x["details"]["no_data"]) for x in missing)
    assert not any(n["label"] == "チェックリスト未回収" for n in row["details"]["no_data"])
    cl = [x for x in row["details"]["reasons"] if x["source_type"] == "school_checklist"]
    assert len(cl) >= 2
    for x in cl:
        assert any(g and g in x["label"] for g in ("こどもの様子", "保護者・家庭の様子"))
        assert school in x["file_name"] and round_name in x["file_name"] and "filled.xlsx" in x["file_name"]
        assert dt.date.fromisoformat(str(x["record_date"])[:10]) == dt.date.today()
    assert {g for g in groups if g}  # the group row names each item's group


def test_wrong_answer_is_refused_by_row_and_column_and_nothing_changes(town):
    d, schools = town
    school = schools[1]
    assert cli("checklist", "template", "--db", "d.db", "--school", school, "--out", "w.xlsx", cwd=d).returncode == 0
    wb, sh, head = _sheet(d / "w.xlsx")
    rows = sorted(_keys(sh, head).values())
    sh.cell(rows[0], 6).value = "該当"
    sh.cell(rows[1], 9).value = "たぶん"
    wb.save(d / "wrong.xlsx")
    assert cli("export-links", "--db", "d.db", "--out", "links_before.csv", cwd=d).returncode == 0
    st_before = json.loads(cli("checklist", "status", "--db", "d.db", cwd=d).stdout)
    r = cli("import", "--db", "d.db", "--source", "school_checklist", "wrong.xlsx", cwd=d)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert f"{rows[1]}行目" in r.stderr and sh.cell(head, 9).value in r.stderr and "たぶん" in r.stderr
    assert cli("export-links", "--db", "d.db", "--out", "links_after.csv", cwd=d).returncode == 0
    assert (d / "links_before.csv").read_bytes() == (d / "links_after.csv").read_bytes()
    assert json.loads(cli("checklist", "status", "--db", "d.db", cwd=d).stdout) == st_before
    assert any(e["action"] == "import_refused" for e in _log(d, "log1.csv"))


def test_school_user_is_refused_scores_links_and_other_schools(town):
    d, schools = town
    # the coordinator's first template opens the round (so this test runs alone too)
    assert (
        cli("checklist", "template", "--db", "d.db", "--school", schools[0], "--out", "c_own.xlsx", cwd=d).returncode
        == 0
    )
    assert cli("score", "--db", "d.db", "--out", "t_scores.csv", cwd=d, env=TEACHER).returncode == 2
    assert cli("export-links", "--db", "d.db", "--out", "t_links.csv", cwd=d, env=TEACHER).returncode == 2
    r = cli(
        "checklist", "template", "--db", "d.db", "--school", schools[1], "--out", "t_other.xlsx", cwd=d, env=TEACHER
    )
    assert r.returncode == 2
    for f in ("t_scores.csv", "t_links.csv", "t_other.xlsx"):
        assert not (d / f).exists()
    r = cli("checklist", "template", "--db", "d.db", "--school", schools[0], "--out", "t_own.xlsx", cwd=d, env=TEACHER)
    assert r.returncode == 0, r.stderr
    _, sh, head = _sheet(d / "t_own.xlsx")
    assert set(_keys(sh, head)) == _db_pupils(d, schools[0])
    st = json.loads(cli("checklist", "status", "--db", "d.db", cwd=d, env=TEACHER).stdout)
    assert [s["school"] for s in st["schools"]] == [schools[0]]
    denied = [e for e in _log(d, "log2.csv") if e["action"] == "permission_denied" and e["user"] == "t1"]
    what = [json.loads(e["detail"]) for e in denied]
    assert {x.get("permission") for x in what} >= {"score.run", "data.export"}
    assert any(x.get("what") == "other_school" for x in what)
