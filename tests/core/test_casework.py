"""Rules of review rounds, conferences and records."""

import datetime as dt

import pytest
from conftest import PASSWORD
from factories import small_world
from sqlalchemy import text

from kodomo_desktop.core.casework import service as C
from kodomo_desktop.core.errors import InputRefused
from kodomo_desktop.core.governance.optout import add_optout
from kodomo_desktop.core.workspace import Workspace


def test_round_from_flagged_children_no_duplicates_and_yotaikyo_rule(new_db):
    small_world(new_db)
    rid = C.create_round(new_db, "夏休み明け")
    cands = C.round_candidates(new_db, rid)
    assert len(cands) == 8 and len({c["person_id"] for c in cands}) == 8
    assert [c["status_label"] for c in cands if c["yotaikyo"]] == ["支援継続"]
    rid2 = C.create_round(new_db, "年度初め（要対協除外）", yotaikyo_rule="exclude")
    assert len(C.round_candidates(new_db, rid2)) == 7


def test_reason_is_mandatory_and_earlier_decisions_shown(new_db):
    w = small_world(new_db)
    rid = C.create_round(new_db, "年度初め")
    pid = w["persons"][0]
    with pytest.raises(InputRefused):
        C.classify(new_db, rid, pid, "b", "   ")
    with pytest.raises(InputRefused):
        C.classify(new_db, rid, pid, "z", "理由")
    C.classify(new_db, rid, pid, "b", "欠席が増えている。学校と情報共有する。")
    rid2 = C.create_round(new_db, "夏休み明け")
    c = [x for x in C.round_candidates(new_db, rid2) if x["person_id"] == pid][0]
    assert c["earlier_decision"] == "b" and c["classification"] is None


def test_conference_batch_spreads_across_schools_and_refuses_opt_out(new_db):
    w = small_world(new_db)
    rid = C.create_round(new_db, "年度初め")
    batch = C.suggest_batch(new_db, rid, 5)
    assert len(batch) == 5
    schools = {c["school"] for c in C.round_candidates(new_db, rid) if c["person_id"] in batch}
    assert len(schools) >= 2
    with new_db.session() as s:
        hh = [s.execute(text("SELECT household_id FROM person WHERE id=:p"), {"p": p}).scalar() for p in batch]
    assert len(set(hh)) == 5  # one child per household
    cid = C.create_conference(
        new_db,
        "ケース会議",
        dt.date(2026, 9, 20),
        person_ids=batch,
        round_id=rid,
        attendees=[{"role": "保健師", "organisation": "保健センター"}],
    )
    add_optout(new_db, w["persons"][11], "不同意書")
    with pytest.raises(InputRefused):
        C.add_to_conference(new_db, cid, [w["persons"][11]])


def test_minutes_progress_due_close_and_funnel_survive_reopen(new_db):
    w = small_world(new_db)
    rid = C.create_round(new_db, "年度初め")
    for pid in w["persons"][:8]:
        C.classify(new_db, rid, pid, "b", "学校での様子を確認する")
    batch = C.suggest_batch(new_db, rid, 5)
    cid = C.create_conference(new_db, "ケース会議", dt.date.today(), person_ids=batch, round_id=rid)
    with pytest.raises(InputRefused):
        C.record_minutes(new_db, cid, batch[0], support_needed="要")  # direction needed
    C.record_minutes(
        new_db,
        cid,
        batch[0],
        support_needed="要",
        direction="B",
        lead_organisation="子ども食堂",
        actions="週1回の食事支援",
        next_review_on=dt.date.today() + dt.timedelta(days=7),
    )
    C.add_progress(
        new_db,
        batch[0],
        dt.date.today(),
        "家庭訪問",
        who="保健師",
        what="母と面談",
        next_action_on=dt.date.today() + dt.timedelta(days=3),
    )
    due = C.due_list(new_db)
    assert any(d["person_id"] == batch[0] for d in due)
    f = C.funnel(new_db, rid)
    counts = {s["key"]: s["count"] for s in f["stages"]}
    assert counts == {"in_scope": 12, "flagged": 8, "classified": 8, "discussed": 1, "supported": 1}
    with pytest.raises(InputRefused):
        C.close_case(new_db, batch[0], "")
    res = C.close_case(new_db, batch[0], "支援により改善")
    assert res["still_flagged"] is True and res["warning"]
    path = new_db.path
    new_db.close()
    ws = Workspace.open(path, PASSWORD)
    tl = C.timeline(ws, batch[0])
    kinds = {e["kind"] for e in tl}
    assert {"record", "score", "classification", "conference", "progress"} <= kinds
    with ws.engine.connect() as c:
        actions = {r[0] for r in c.execute(text("SELECT action FROM access_log"))}
    assert {
        "round_created",
        "classified",
        "conference_created",
        "minutes_recorded",
        "progress_recorded",
        "case_closed",
    } <= actions
    assert ws.verify()["ok"]
    ws.close()


def test_configurable_labels_and_closing_rules(new_db):
    w = small_world(new_db)
    with pytest.raises(InputRefused):
        C.create_round(new_db, "重複ラベル", labels="a.受理相当, a.予防的支援")
    with pytest.raises(InputRefused):
        C.create_round(new_db, "ラベル1つ", labels="a.受理相当")
    with pytest.raises(InputRefused):
        C.create_round(new_db, "   ")
    rid = C.create_round(new_db, "独自ラベル", labels="x.要検討, y.見守り")
    assert [l["key"] for l in C.round_labels(new_db, rid)] == ["x", "y"]
    info = C.list_rounds(new_db)[0]
    assert info["round_id"] == rid and "weight_version" in info and info["labels"][0]["key"] == "x"
    with pytest.raises(InputRefused):
        C.classify(new_db, rid, w["persons"][0], "a", "既定ラベルはこのラウンドにない")
    cands = C.round_candidates(new_db, rid)
    C.classify(new_db, rid, cands[0]["person_id"], "x", "理由あり")
    # a round closes only when every candidate is classified; afterwards nothing changes
    with pytest.raises(InputRefused):
        C.close_round(new_db, rid)
    for c in cands[1:]:
        C.classify(new_db, rid, c["person_id"], "y", "見守りを続ける")
    C.close_round(new_db, rid)
    with pytest.raises(InputRefused):
        C.close_round(new_db, rid)
    with pytest.raises(InputRefused):
        C.classify(new_db, rid, cands[0]["person_id"], "y", "締切後の変更")
    assert C.list_rounds(new_db)[0]["closed_at"] is not None


def test_no_duplicate_agenda_items_and_case_closing_rules(new_db):
    small_world(new_db)
    rid = C.create_round(new_db, "年度初め")
    batch = C.suggest_batch(new_db, rid, 3)
    cid = C.create_conference(new_db, "実務者会議", dt.date.today(), person_ids=batch, round_id=rid)
    C.add_to_conference(new_db, cid, batch + batch[:1])
    items = C.conference_detail(new_db, cid)["items"]
    assert [i["person_id"] for i in items] == batch
    C.reorder(new_db, cid, list(reversed(batch)))
    assert [i["person_id"] for i in C.conference_detail(new_db, cid)["items"]] == list(reversed(batch))
    with pytest.raises(InputRefused):
        C.create_conference(new_db, "雑談", dt.date.today())
    pid = batch[0]
    with pytest.raises(InputRefused):  # no open case yet
        C.close_case(new_db, pid, "理由")
    C.record_minutes(
        new_db,
        cid,
        pid,
        support_needed="要",
        direction="C",
        lead_organisation="児童相談所",
        roles=C.parse_roles("児童相談所：主担当\n学校：見守り"),
        actions="専門機関につなぐ",
    )
    assert C.conference_detail(new_db, cid)["items"][-1]["roles"][1] == {"organisation": "学校", "role": "見守り"}
    assert [c["person_id"] for c in C.open_cases(new_db)] == [pid]
    C.record_minutes(new_db, cid, pid, support_needed="要", direction="C", actions="継続")  # same case, not a second
    assert len(C.cases_of(new_db, pid)) == 1
    with pytest.raises(InputRefused):
        C.close_case(new_db, pid, "  ")
    C.close_case(new_db, pid, "転出")
    with pytest.raises(InputRefused):  # closed already
        C.close_case(new_db, pid, "もう一度")
    assert C.open_cases(new_db) == [] and C.cases_of(new_db, pid)[0]["close_reason"] == "転出"
    kinds = [e["title"] for e in C.timeline(new_db, pid) if e["kind"] == "case"]
    assert "終結" in kinds and len(kinds) == 2
    assert len(C.score_history(new_db, pid)) >= 1
    with pytest.raises(InputRefused):
        C.add_progress(new_db, pid, dt.date.today(), "面談", what="  ")
    with pytest.raises(InputRefused):
        C.add_note(new_db, pid, "")


def test_minutes_record_yotaikyo_registration_and_category_and_refuse_bad_values(new_db):
    w = small_world(new_db)
    pid, other = w["persons"][0], w["persons"][1]
    cid = C.create_conference(new_db, "個別ケース検討会議", dt.date(2026, 11, 20), person_ids=[pid, other])
    bad = [
        ({"registration": "登録"}, "登録する"),  # not one of 登録する／登録しない／継続
        ({"registration": "登録する", "category": "要保護"}, "要保護児童"),  # not one of the three categories
        ({"registration": "登録する"}, "種別"),  # registering needs a category
        ({"registration": "登録しない", "category": "特定妊婦"}, "種別"),  # a category without registering
        ({"category": "要支援児童"}, "種別"),
    ]
    for kw, word in bad:
        with pytest.raises(InputRefused) as e:
            C.record_minutes(new_db, cid, pid, support_needed="継続検討", **kw)
        assert word in str(e.value), (kw, str(e.value))
    item = {i["person_id"]: i for i in C.conference_detail(new_db, cid)["items"]}[pid]
    assert item["registration"] is None and item["category"] is None and item["decided_at"] is None  # nothing stored
    C.record_minutes(
        new_db, cid, pid, support_needed="要", direction="C", registration="登録する", category="要保護児童"
    )
    C.record_minutes(new_db, cid, other, support_needed="不要", registration="登録しない")
    items = {i["person_id"]: i for i in C.conference_detail(new_db, cid)["items"]}
    assert (items[pid]["registration"], items[pid]["category"]) == ("登録する", "要保護児童")
    assert (items[other]["registration"], items[other]["category"]) == ("登録しない", None)
    with new_db.engine.connect() as c:
        d = c.execute(
            text("SELECT detail FROM access_log WHERE action='minutes_recorded' AND person_id=:p"), {"p": pid}
        )
        assert "要保護児童" in d.scalar()
    # the record survives reopening the database
    path = new_db.path
    new_db.close()
    ws = Workspace.open(path, PASSWORD)
    try:
        again = {i["person_id"]: i for i in C.conference_detail(ws, cid)["items"]}[pid]
        assert again["category"] == "要保護児童"
    finally:
        ws.close()


def test_a_child_the_screen_did_not_list_is_added_by_hand_unless_opted_out(new_db):
    from kodomo_desktop.core.errors import NotFound

    w = small_world(new_db)
    rid = C.create_round(new_db, "夏休み明け")
    listed = {c["person_id"] for c in C.round_candidates(new_db, rid)}
    other = next(p for p in w["persons"] if p not in listed)
    C.classify(new_db, rid, other, "b", "学校から電話。欠席が続いている。")
    c = next(x for x in C.round_candidates(new_db, rid) if x["person_id"] == other)
    assert c["classification"] == "b" and c["total"] is None and c["reason"].startswith("［候補外から手で追加］")
    C.classify(new_db, rid, other, "c", "家庭訪問で様子を確認")  # reclassified: one row, no second prefix
    again = [x for x in C.round_candidates(new_db, rid) if x["person_id"] == other]
    assert len(again) == 1 and again[0]["classification"] == "c" and "［候補外" not in again[0]["reason"]
    with pytest.raises(NotFound):
        C.classify(new_db, rid, "P999999", "b", "理由")
    # a family on the opt-out register declined this work: nobody adds their child to a round
    refused = next(p for p in w["persons"] if p not in listed and p != other)
    add_optout(new_db, refused, "不同意書の提出")
    with pytest.raises(InputRefused, match="不同意"):
        C.classify(new_db, rid, refused, "b", "学校から電話")
    assert refused not in {x["person_id"] for x in C.round_candidates(new_db, rid)}
