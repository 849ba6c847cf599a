"""The scoring service on a small synthetic world inserted through the models: the CLI CSV, permissions, opt-out,
weight sets (versions, adoption with a reason, restore, export/import), preview, history, what-if, explanations."""

import csv
import datetime as dt
import json

import pytest
from sqlalchemy import select, text

from kodomo_desktop.core.errors import InputRefused, PermissionDenied
from kodomo_desktop.core.scoring import service as S
from kodomo_desktop.core.storage.models import (
    ChecklistDefinition,
    ChecklistRound,
    ChildScore,
    Household,
    Link,
    OptOut,
    Person,
    ScoreRun,
    SourceBatch,
    SourceRecord,
    WeightSet,
)

AS_OF = dt.date(2026, 10, 1)


class World:
    """Households of synthetic people (試験 names) with linked records, written straight through the models."""

    def __init__(self, ws):
        self.ws = ws
        self.batches = {}
        self.n = 0

    def person(self, pid, age, hh, rel="子", name=None):
        with self.ws.session() as s:
            if s.get(Household, hh) is None:
                s.add(Household(id=hh, household_no=hh))
                s.flush()
            s.add(
                Person(
                    id=pid,
                    household_id=hh,
                    resident_no=pid,
                    name=name or f"試験 {pid}",
                    name_kana="シケン",
                    birth_date=dt.date(AS_OF.year - age, 3, 1),
                    sex=1,
                    relationship=rel,
                    in_registry=True,
                )
            )
        return pid

    def rec(self, pid, st, attrs, date=AS_OF, school=None, as_of=AS_OF, file=None):
        key = (st, as_of, file)
        with self.ws.session() as s:
            if key not in self.batches:
                b = SourceBatch(
                    source_type=st,
                    file_name=file or f"{st}.csv",
                    file_hash=f"{len(self.batches):064d}",
                    as_of=as_of,
                    rows_total=1,
                    rows_imported=1,
                )
                s.add(b)
                s.flush()
                self.batches[key] = b.id
            self.n += 1
            r = SourceRecord(
                batch_id=self.batches[key],
                source_type=st,
                row_number=self.n + 1,
                raw={},
                school=school,
                grade="3" if school else None,
                record_date=date,
                attributes=attrs,
            )
            s.add(r)
            s.flush()
            s.add(Link(record_id=r.id, person_id=pid, status="auto"))


@pytest.fixture
def world(new_db):
    w = World(new_db)
    # household 1: a child with long absence and a sibling
    w.person("P001", 40, "H1", "世帯主")
    w.person("P002", 10, "H1")
    w.person("P003", 7, "H1")
    w.rec("P002", "school_attendance", {"absence_days": 41, "late_days": 3}, school="第一小学校")
    w.rec("P003", "school_attendance", {"absence_days": 1}, school="第一小学校")
    # household 2: 要対協 continuing
    w.person("P010", 33, "H2", "世帯主")
    w.person("P011", 4, "H2")
    w.rec("P011", "yotaikyo", {"status": "継続", "category": "ネグレクト"}, date=dt.date(2025, 6, 1))
    # household 3: an infant with a missed check-up and a questionnaire flag; single parent
    w.person("P020", 29, "H3", "世帯主")
    w.person("P021", 2, "H3")
    w.rec(
        "P021",
        "maternal_child_health",
        {"record_kind": "乳幼児健診", "checkup_type": "1歳6か月", "checkup_status": "未受診"},
    )
    w.rec(
        "P021",
        "maternal_child_health",
        {"record_kind": "乳幼児健診", "checkup_type": "4か月", "checkup_status": "受診", "q_hit_emotionally": True},
        date=dt.date(2024, 12, 1),
    )
    w.rec("P021", "child_rearing_allowance", {"payment_category": "全部支給"}, date=dt.date(2024, 5, 1))
    # households 4–9: ordinary children at school, one (P081, 中3) without school data
    for n in range(4, 10):
        w.person(f"P0{n}0", 38, f"H{n}", "世帯主")
        kid = w.person(f"P0{n}1", 6 + n, f"H{n}")
        if n != 8:
            w.rec(kid, "school_attendance", {"absence_days": n % 3}, school="第二小学校" if n % 2 else "第一小学校")
            w.rec(kid, "school_health", {"untreated_caries": 0}, school="第二小学校" if n % 2 else "第一小学校")
    return w


def _csv(path):
    with open(path, encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _log(ws, action):
    with ws.engine.connect() as c:
        return c.execute(
            text("SELECT person_id, detail FROM access_log WHERE action=:a ORDER BY seq"), {"a": action}
        ).all()


def test_score_csv_contract_run_and_log(world, tmp_path):
    ws = world.ws
    res = S.score_to_csv(ws, tmp_path / "s.csv")
    assert {"children", "flagged", "run_id", "as_of"} <= set(res) and res["as_of"] == "2026-10-01"
    rows = _csv(tmp_path / "s.csv")
    assert list(rows[0]) == [
        "person_id",
        "name",
        "birth_date",
        "school",
        "total",
        "band",
        "types",
        "reasons",
        "own_points",
        "household_points",
        "pending_review",
    ]
    assert all(float(r["total"]) == pytest.approx(float(r["own_points"]) + float(r["household_points"])) for r in rows)
    assert res["children"] == len(rows) == 10 and "P001" not in {r["person_id"] for r in rows}  # adults are not scored
    totals = [float(r["total"]) for r in rows]
    assert totals == sorted(totals, reverse=True)
    by = {r["person_id"]: r for r in rows}
    assert by["P002"]["types"] == "不登校" and by["P002"]["school"] == "第一小学校"
    assert by["P002"]["reasons"].startswith("欠席日数30日以上(+6)")
    assert by["P021"]["types"] == "虐待" and by["P021"]["band"] == "高"
    reasons = by["P021"]["reasons"].split(";")
    pts = [float(x.rsplit("(+", 1)[1].rstrip(")")) for x in reasons]
    assert pts == sorted(pts, reverse=True)
    assert res["flagged"] == sum(1 for r in rows if r["types"])
    assert _log(ws, "score_run") and json.loads(_log(ws, "score_run")[-1][1])["run_id"] == res["run_id"]
    with ws.session() as s:
        run = s.get(ScoreRun, res["run_id"])
        assert run.weight_set_id and run.summary["children"] == 10
        cs = s.get(ChildScore, (run.id, "P002"))
        assert cs.flagged and cs.school_points == 6 and cs.details["reasons"][0]["file_name"] == "school_attendance.csv"


def test_school_user_is_refused_and_no_file_is_written(world, tmp_path, password):
    from kodomo_desktop.core.workspace import Workspace

    ws = world.ws
    ws.add_user("gakko", "pw-school", "school", school="第一小学校")
    sw = Workspace.open(ws.path, "pw-school", "gakko")
    try:
        with pytest.raises(PermissionDenied) as e:
            S.score_to_csv(sw, tmp_path / "refused.csv")
        assert e.value.exit_code == 2
        with pytest.raises(PermissionDenied):
            S.latest_scores(sw)
    finally:
        sw.close()
    assert not (tmp_path / "refused.csv").exists()
    from kodomo_desktop.core.checklists import sync

    sync.sync(ws)  # the refusal is in the school's own log, and in the town's once read back
    assert any(json.loads(d)["permission"] == "score.run" for _, d in _log(ws, "permission_denied"))
    with ws.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM score_run")).scalar() == 0


def test_opted_out_person_and_household_are_not_scored(world, tmp_path):
    ws = world.ws
    with ws.session() as s:
        s.add(OptOut(person_id="P002", from_date=AS_OF, reason="不同意書"))
        s.add(OptOut(household_id="H3", from_date=dt.date(2026, 4, 1), reason="不同意書"))
        s.add(OptOut(person_id="P061", from_date=AS_OF, reason="x", removed_at=dt.datetime(2026, 1, 1)))
        # an opt-out from a later date does not apply yet on the as-of date (issue 16: its start date counts)
        s.add(OptOut(person_id="P051", from_date=dt.date(2030, 1, 1), reason="来年から不同意"))
    S.score_to_csv(ws, tmp_path / "s.csv")
    ids = {r["person_id"] for r in _csv(tmp_path / "s.csv")}
    assert not ids & {"P002", "P021"} and "P061" in ids and "P051" in ids
    # the opted-out sibling is not read: P003 gets no sibling points from P002
    assert "きょうだい" not in next(r for r in _csv(tmp_path / "s.csv") if r["person_id"] == "P003")["reasons"]
    with ws.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM child_score WHERE person_id IN ('P002','P021')")).scalar() == 0


def test_no_school_data_and_checklist_not_returned_are_listed(world):
    ws = world.ws
    with ws.session() as s:
        d = ChecklistDefinition(key="abuse_observation", version=1, data={"key": "abuse_observation", "items": []})
        s.add(d)
        s.flush()
        r = ChecklistRound(name="2026年度2学期", definition_id=d.id, opened_on=dt.date(2026, 9, 1))
        s.add(r)
        s.flush()
        # 第二小学校 returned the round (an app batch with scope "school|round")
        b = SourceBatch(
            source_type="school_checklist",
            file_name="アプリ入力",
            file_hash="c" * 64,
            as_of=dt.date(2026, 9, 1),
            scope=f"第二小学校|{r.id}",
        )
        s.add(b)
    S.run_scoring(ws)
    rows = {r["person_id"]: r for r in S.latest_scores(ws)}
    assert "学校データなし" in rows["P081"]["no_data"] and rows["P081"]["total"] == 0
    assert "チェックリスト未回収" in rows["P041"]["no_data"]  # 第一小学校 has not returned it
    assert "チェックリスト未記入" in rows["P051"]["no_data"]  # 第二小学校 returned, this pupil has no entry
    assert "学校データなし" not in rows["P002"]["no_data"]


def test_weights_edit_adopt_logged_and_restore(world):
    ws = world.ws
    S.run_scoring(ws)
    first = {r["person_id"]: r["total"] for r in S.latest_scores(ws)}
    w = S.active_weights(ws)["data"]
    assert S.active_weights(ws)["version"] == 1
    w["indicators"]["q_hit_emotionally"]["points"] = {"虐待": 10}
    with pytest.raises(InputRefused):
        S.adopt_weights(ws, w, "  ")
    with ws.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM weight_set")).scalar() == 1  # nothing saved without a reason
    saved = S.save_weights(ws, w, "健診アンケート重視")
    assert saved["version"] == 2 and S.active_weights(ws)["version"] == 1  # saved, not yet adopted
    pv = S.preview_weights(ws, w)
    assert pv["flagged"]["current"] >= 1 and pv["changes"] and "健診アンケート" in pv["changes"][0]["what"]
    S.adopt_weight_set(ws, saved["weight_set_id"], "健診アンケートの回答を重く見る")
    assert S.active_weights(ws)["version"] == 2
    S.run_scoring(ws)
    second = {r["person_id"]: r["total"] for r in S.latest_scores(ws)}
    assert second["P021"] == first["P021"] + 7 and second["P002"] == first["P002"]
    order = [r["person_id"] for r in S.latest_scores(ws)]
    assert order[0] == "P021"
    logs = _log(ws, "weights_adopted")
    assert len(logs) == 1 and json.loads(logs[0][1])["version"] == 2
    assert "健診" not in logs[0][1]  # the reason is kept on the version, the log holds ids only
    # restore: adopt version 1 again
    S.restore_weights(ws, 1, "元の重みに戻す")
    assert S.active_weights(ws)["version"] == 1 and json.loads(_log(ws, "weights_adopted")[-1][1])["restored"]
    S.run_scoring(ws)
    assert {r["person_id"]: r["total"] for r in S.latest_scores(ws)} == first
    sets = S.weight_sets(ws)
    assert [x["version"] for x in sets] == [2, 1] and sets[1]["reason"] == "元の重みに戻す"
    assert [a["reason"] for a in sets[0]["adoptions"]] == ["健診アンケートの回答を重く見る"]
    # the run remembers which version it used
    with ws.session() as s:
        runs = s.scalars(select(ScoreRun).order_by(ScoreRun.id)).all()
        versions = [s.get(WeightSet, r.weight_set_id).version for r in runs]
    assert versions == [1, 2, 1]


def test_weights_export_import_round_trip(world, tmp_path):
    ws = world.ws
    out = tmp_path / "w.json"
    S.export_weights(ws, out)
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["format"] == "kodomo-weights" and doc["indicators"]["absence_30"]["label_ja"] == "欠席日数30日以上"
    doc["indicators"]["absence_30"]["points"] = {"不登校": 9}
    out.write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8")
    with pytest.raises(InputRefused):
        S.import_weights(ws, out, adopt=True)  # adopting needs a reason; nothing changes
    with ws.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM weight_set")).scalar() == 1
    res = S.import_weights(ws, out, reason="長期欠席を重く", adopt=True)
    assert res["adopted"] and res["version"] == 2
    assert S.active_weights(ws)["data"]["indicators"]["absence_30"]["points"] == {"不登校": 9}
    again = S.import_weights(ws, out)  # the same file again: no new version
    assert again["version"] == 2 and not again["created"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"indicators": {"no_such": {"points": {"虐待": 1}}}}), encoding="utf-8")
    with pytest.raises(InputRefused) as e:
        S.import_weights(ws, bad)
    assert "no_such" in e.value.message_ja
    # score --weights FILE: used for that run, not adopted
    doc["indicators"]["absence_30"]["points"] = {"不登校": 1}
    (tmp_path / "w3.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    S.score_to_csv(ws, tmp_path / "s.csv", weights_file=tmp_path / "w3.json")
    assert next(r for r in _csv(tmp_path / "s.csv") if r["person_id"] == "P002")["reasons"] == "欠席日数30日以上(+1)"
    assert S.active_weights(ws)["version"] == 2


def test_history_newly_flagged_sharp_rise_and_streak(world):
    ws = world.ws
    S.run_scoring(ws)
    rows = {r["person_id"]: r for r in S.latest_scores(ws)}
    assert rows["P002"]["new"] and rows["P002"]["streak"] == 1
    assert rows["P011"]["yotaikyo"] and not rows["P011"]["new"]  # 支援継続: off the new-flag list
    assert rows["P011"]["status_label"] == "支援継続"
    # the next month: P041 is absent a lot and gets a DV consultation
    world.rec("P041", "school_attendance", {"absence_days": 33}, school="第二小学校", as_of=dt.date(2026, 11, 1))
    world.rec("P040", "consultation", {"category": "DV"}, date=dt.date(2026, 10, 20), as_of=dt.date(2026, 11, 1))
    S.run_scoring(ws, as_of="2026-11-01")
    rows = {r["person_id"]: r for r in S.latest_scores(ws)}
    assert rows["P041"]["new"] and rows["P041"]["sharp_rise"]
    assert not rows["P002"]["new"] and rows["P002"]["streak"] == 2
    h = rows["P041"]["details"]["history"]
    assert h["previous_total"] == 0 and h["rise"] == rows["P041"]["total"]
    # filters of the prioritised list
    assert [r["person_id"] for r in S.latest_scores(ws, new=True)] == ["P041"]
    assert {r["person_id"] for r in S.latest_scores(ws, yotaikyo=True)} == {"P011"}
    assert all(r["school"] == "第二小学校" for r in S.latest_scores(ws, school="第二小学校"))
    assert {r["person_id"] for r in S.latest_scores(ws, type_="不登校")} == {"P002", "P041"}
    assert {r["age_band"] for r in S.latest_scores(ws, age_band="未就学")} == {"未就学"}
    assert all(r["band"] == "高" for r in S.latest_scores(ws, band="高"))
    assert {r["person_id"] for r in S.latest_scores(ws, unreviewed=True)} == {
        r["person_id"] for r in S.latest_scores(ws) if r["flagged"]
    }


def test_explanation_is_logged_and_what_if_saves_nothing(world):
    ws = world.ws
    S.run_scoring(ws)
    ex = S.child_explanation(ws, "P021")
    assert ex["caveat"] == S.CAVEAT and ex["details"]["reasons"] and len(ex["history"]) == 1
    assert _log(ws, "score_viewed")[-1][0] == "P021"
    before_runs = len(S.runs(ws))
    wi = S.what_if(ws, "P021", disabled_indicators=["checkup_missed"])
    assert wi["after"]["total"] == wi["before"]["total"] - 3 and wi["saved"] is False
    assert "checkup_missed" not in {r["indicator"] for r in wi["after"]["reasons"]}
    sup = S.what_if(ws, "P021", supports_started=["home_visit"])
    assert sup["after"]["types"]["虐待"] < sup["before"]["types"]["虐待"] and sup["type_changes"]["虐待"] < 0
    assert len(S.runs(ws)) == before_runs
    with ws.session() as s:
        assert s.get(ChildScore, (S.latest_run(ws)["run_id"], "P021")).total == wi["before"]["total"]
    with pytest.raises(InputRefused):
        S.what_if(ws, "P021", disabled_indicators=["no_such_indicator"])
    with pytest.raises(InputRefused):
        S.what_if(ws, "P001")  # an adult is not scored


def test_preview_counts_per_school_and_age_band_and_group_rates(world):
    ws = world.ws
    w = S.default_weights()
    w["thresholds"]["不登校"]["小学生"] = {"高": 3, "中": 1}
    w["indicators"]["absence_30"]["points"] = {"不登校": 6}
    ctx = S.ScoringContext.load(ws)
    pv = S.preview_weights(ws, w, context=ctx)
    cells = {(c["school"], c["age_band"]): c for c in pv["by_school_age"]}
    assert ("第一小学校", "小学生") in cells and sum(cells[("第一小学校", "小学生")]["new"].values()) == cells[
        ("第一小学校", "小学生")
    ]["children"]
    groups = {g["group"]: g for g in pv["flag_rates"]}
    assert {"全体", "ひとり親世帯（児童扶養手当）", "障害者手帳等のある世帯", "学校・園: 第一小学校"} <= set(groups)
    assert groups["ひとり親世帯（児童扶養手当）"]["children"] == 1 and groups["全体"]["children"] == 10
    assert pv["bands"]["new"]["高"] >= pv["bands"]["current"]["高"]
    json.dumps(pv, ensure_ascii=False)  # plain JSON for the GUI and logs


def test_only_adopted_weights_make_a_run_a_trial_keeps_nothing(world, tmp_path):
    ws = world.ws
    w = S.default_weights()
    w["indicators"]["absence_30"]["points"] = {"不登校": 1}
    with pytest.raises(InputRefused):
        S.run_scoring(ws, weight_set=w)  # issue 16: trial weights never become the current run
    (tmp_path / "w.json").write_text(json.dumps(w, ensure_ascii=False), encoding="utf-8")
    res = S.score_to_csv(ws, tmp_path / "t.csv", weights_file=tmp_path / "w.json")
    assert res["trial"] and res["run_id"] is None and S.latest_run(ws) is None
    assert len(S.weight_sets(ws)) == 1  # nor is the trial saved as a version
    assert next(r for r in _csv(tmp_path / "t.csv") if r["person_id"] == "P002")["reasons"] == "欠席日数30日以上(+1)"
    run = S.run_scoring(ws)
    assert S.latest_run(ws)["run_id"] == run
