"""Issue 19 in the core: the town's catalogue check names every problem, source types register with the importer,
weights follow a renamed type, and the take-up gap finds exactly the planted families (never a score point)."""

import copy

import pytest
from factories import takeup_world

from kodomo_desktop.core.errors import InputRefused
from kodomo_desktop.core.importing import fields as F
from kodomo_desktop.core.scoring import service as S
from kodomo_desktop.core.scoring import town as T

LUNCH = {
    "label": "給食費",
    "department": "学校教育課",
    "identity": ["resident_no", "name", "birth_date"],
    "attributes": [
        {"field": "arrears_months", "label": "滞納月数", "type": "number", "headers": ["滞納月数", "未納月数"]},
        {"field": "payment_status", "label": "納付状況", "type": "code_list", "values": ["納付", "滞納"]},
    ],
    "record_date": None,
    "dedupe": ["record_date"],
    "purpose": "給食費の滞納から経済的な困難を把握するため",
    "legal_basis_code": "61-1",
}


def test_shipped_catalogue_is_sound_and_has_the_takeup_gaps():
    cat = T.shipped()
    assert T.problems(cat) == []
    ids = {g["id"] for g in cat["takeup_gaps"]}
    assert {"gap_tax_exempt_no_school_assistance", "gap_checkup_missed_no_follow_up"} <= ids
    assert all(not g.get("points") for g in cat["takeup_gaps"])


def test_problems_names_every_problem():
    cat = T.shipped()
    cat.pop("caveat")
    cat["indicators"][0]["rule"]["field"] = "no_such_field"
    cat["indicators"][1]["window_months"] = -3
    cat["indicators"][2]["source_type"] = "no_such_source"
    cat["difficulty_types"].append("引きこもり")
    found = T.problems(cat)
    assert len(found) == 5, found
    text = "\n".join(found)
    for part in ("caveat", "no_such_field", "-3", "no_such_source", "引きこもり"):
        assert part in text
    with pytest.raises(InputRefused) as e:
        T.check_or_refuse(cat)
    assert "5 件" in e.value.message_ja


def test_source_type_definition_problems():
    bad = copy.deepcopy(LUNCH)
    bad["attributes"][0]["type"] = "money"
    bad["attributes"][1].pop("values")
    bad.pop("purpose")
    found = T.TT.problems("school_lunch", bad)
    assert len(found) == 3, found
    assert T.TT.problems("tax", LUNCH)  # a shipped name cannot be taken


def test_define_source_registers_it_and_the_register_lists_it(new_db):
    ws = new_db
    res = T.define_source(ws, "school_lunch", copy.deepcopy(LUNCH), "給食費を取り込む")
    assert res["changed"] and res["changes"]["source_types_added"] == ["school_lunch"]
    assert "school_lunch" in F.SOURCES
    mapping = F.detect_mapping("school_lunch", ["宛名番号", "氏名", "生年月日", "未納月数", "納付状況"])
    assert mapping["未納月数"] == "arrears_months" and mapping["納付状況"] == "payment_status"
    from kodomo_desktop.core.governance.register import purpose_table

    row = next(r for r in purpose_table(ws) if r["kind"] == "source" and r["key"] == "school_lunch")
    assert row["label"] == "給食費" and row["department"] == "学校教育課" and row["basis"] == "61-1"
    assert T.history(ws)[-1]["weight_set_version"] == S.active_weights(ws)["version"]
    from kodomo_desktop.core.governance.register import file_register, self_inspection_auto

    changes = file_register(ws)["catalogue_changes"]
    assert [c["changes"]["source_types_added"] for c in changes] == [["school_lunch"]]
    assert changes[0]["weight_set_version"] == S.active_weights(ws)["version"] and changes[0]["reason"]
    assert len(self_inspection_auto(ws)["catalogue_changes"]) == 1


def test_rename_type_carries_thresholds_and_points(new_db):
    ws = new_db
    before = S.active_weights(ws)["data"]["thresholds"]["不登校"]
    T.rename_type(ws, "不登校", "登校しぶり・不登校", "町の呼び方に合わせる")
    w = S.active_weights(ws)
    assert "不登校" not in w["data"]["types"] and w["data"]["thresholds"]["登校しぶり・不登校"] == before
    assert w["data"]["indicators"]["absence_30"]["points"].get("登校しぶり・不登校")
    assert len(T.history(ws)) == 1 and T.history(ws)[0]["weight_set_version"] == w["version"] > 1


def test_takeup_gap_finds_exactly_the_planted_families(new_db):
    ws = new_db
    world = takeup_world(ws)
    res = T.support_prompts(ws, as_of="2026-11-01")
    gap = next(g for g in res["gaps"] if g["id"] == "gap_tax_exempt_no_school_assistance")
    assert sorted(gap["children"]) == world["planted"]
    assert "非課税" in gap["rule"] and "就学援助" in gap["rule"]
    assert res["heading"] == "利用できる可能性のある支援"
    # the other gap's sources were never imported: it is off, saying why
    other = next(g for g in res["gaps"] if g["id"] == "gap_checkup_missed_no_follow_up")
    assert other["children"] == [] and other["skipped"]
    one = T.support_prompts(ws, as_of="2026-11-01", person_id=world["planted"][0])
    assert list(one["children"]) == [world["planted"][0]]


def test_takeup_gap_is_not_a_score_point(new_db):
    ws = new_db
    takeup_world(ws)
    ctx = S.ScoringContext.load(ws, "2026-11-01")
    hits, _, _ = ctx.score(S.active_weights(ws)["data"])
    assert not any(i.startswith("gap_") for i in hits.ind_ids)


def test_file_register_and_self_inspection_print_the_catalogue_changes(new_db, tmp_path):
    import datetime as dt

    import pypdfium2 as pdfium

    from kodomo_desktop.core.governance.documents import file_register_pdf, self_inspection_pdf

    ws = new_db
    T.define_source(ws, "school_lunch", copy.deepcopy(LUNCH), "給食費を取り込む")
    file_register_pdf(ws, tmp_path / "reg.pdf")
    today = dt.date.today()
    self_inspection_pdf(ws, today.year if today.month >= 4 else today.year - 1, tmp_path / "si.pdf")
    for name in ("reg.pdf", "si.pdf"):
        doc = pdfium.PdfDocument(str(tmp_path / name))
        text = "".join(doc[i].get_textpage().get_text_range() for i in range(len(doc))).replace("\r\n", "")
        doc.close()
        assert "指標カタログの変更" in text and "給食費を取り込む" in text and "取込元を追加 1 件（給食費）" in text


def test_the_register_rows_name_what_each_version_changed(new_db):
    from kodomo_desktop.core.governance.documents import catalogue_rows
    from kodomo_desktop.core.governance.register import catalogue_changes

    ws = new_db
    T.define_source(ws, "school_lunch", copy.deepcopy(LUNCH), "給食費を取り込む")
    ind = {
        "id": "lunch_arrears_3",
        "label_ja": "給食費滞納 ≥ 3か月",
        "source_type": "school_lunch",
        "whose": "child",
        "rule": {"aggregate": "latest", "field": "arrears_months", "op": ">=", "value": 3},
        "points": {"給食費": 3},
        "kind": "household",
    }
    T.add_indicator(ws, ind, "給食費の滞納を見る", new_types=["給食費"])
    T.set_rules(ws, "延岡市の方式", rank={"mode": "top_percent", "value": 2, "per": "age_band", "by_type": True})
    rows = catalogue_rows(catalogue_changes(ws))
    assert rows[1][-1] == "取込元を追加 1 件（給食費）"
    assert "困難の種類を追加 1 件（給食費）" in rows[2][-1] and "指標を追加 1 件（給食費滞納 ≥ 3か月）" in rows[2][-1]
    assert rows[3][-1] == "抽出のルールを変更" and rows[3][3] == "延岡市の方式"
    assert "school_lunch" not in "".join(r[-1] for r in rows)  # never the internal key
