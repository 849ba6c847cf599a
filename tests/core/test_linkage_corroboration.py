"""Evidence from other rows: a step family's children at school under their former surname (siblings corroborate
each other; one child alone by the school zone and list), rows vouched for by a numbered row with the same name,
namesakes told apart by the address or the school zone learned from the run's confident links, twins by the given
name.
Synthetic people only, on the engine's own generated background town."""

import linkage_harness as E
import pandas as pd
import pytest

from kodomo_desktop.core.linkage.engine import REASONS_EN, REASONS_JA, apply_thresholds, link_records


def person(pid, name, kana, bd, sex, hh, address, rel="子"):
    return dict(
        person_id=pid,
        resident_no=f"95{pid[-5:]}",
        household_no=hh,
        name=name,
        name_kana=kana,
        birth_date=bd,
        sex=sex,
        address=address,
        relationship=rel,
    )


def rec(rid, name, kana, bd, sex, school=None, source="school_attendance", resident_no=None, address=None):
    return dict(
        record_id=rid,
        source_type=source,
        resident_no=resident_no,
        household_no=None,
        name=name,
        name_kana=kana,
        birth_date=bd,
        sex=sex,
        address=address,
        student_no=None,
        school=school,
    )


AOBA, SAGI = "みどり町青葉台{}丁目{}番{}号", "みどり町鷺沼{}丁目{}番{}号"
ZONE_KIDS = [("青葉台", AOBA, "青葉台小学校", "Z"), ("鷺沼", SAGI, "鷺沼小学校", "Y")]
GIVEN = [("澪士", "レイジ", 1), ("柚葉", "ユズハ", 2), ("朔弥", "サクヤ", 1), ("紬希", "ツムギ", 2)]
SUR = [("雲雀", "ヒバリ"), ("鶴来", "ツルギ"), ("榊原", "サカキバラ"), ("御厨", "ミクリヤ")]

PEOPLE = [
    # a step family: the registry has the new surname 新川
    person("PSB01", "新川　澪士", "シンカワ　レイジ", "2015-03-03", 1, "HSB", "みどり町栄町1丁目2番3号"),
    person("PSB02", "新川　柚葉", "シンカワ　ユズハ", "2017-08-08", 2, "HSB", "みどり町栄町1丁目2番3号"),
    # two children of different households, each alone under a surname that is not theirs
    person("PSX01", "北条　朔弥", "ホウジョウ　サクヤ", "2014-05-05", 1, "HX1", "みどり町栄町2丁目1番1号"),
    person("PSX02", "南雲　紬希", "ナグモ　ツムギ", "2016-06-16", 2, "HX2", "みどり町栄町3丁目1番1号"),
    # 優香 in the registry; 優花 is read ユウカ by someone else in the registry, 心結 has two known readings
    person("PHM01", "雲母　優香", "キララ　ユウカ", "2015-10-10", 2, "HHM1", "みどり町栄町5丁目1番1号"),
    person("PHM02", "見本　優花", "ミホン　ユウカ", "1990-01-01", 2, "HHM2", "みどり町栄町6丁目1番1号"),
    person("PHM03", "雲雀　心結", "ヒバリ　ミユ", "2016-02-02", 2, "HHM3", "みどり町栄町7丁目1番1号"),
    person("PHM04", "試験　心優", "シケン　ミユ", "1991-01-01", 2, "HHM4", "みどり町栄町8丁目1番1号"),
    person("PHM05", "例題　心優", "レイダイ　ミユウ", "1992-01-01", 2, "HHM5", "みどり町栄町9丁目1番1号"),
    # a child alone under another surname, at a school whose zone is 栄町 (learned from 新川's siblings) …
    person("PSR01", "西園　湊", "ニシゾノ　ミナト", "2013-04-14", 1, "HSR1", "みどり町栄町4丁目1番1号"),
    # … and one already on the same school's list under the registry surname: the other row is someone else
    person("PSR02", "東園　颯", "ヒガシゾノ　ハヤテ", "2013-07-17", 1, "HSR2", "みどり町栄町4丁目2番2号"),
    # a child under another surname at a school whose zone is not where the child lives (青葉台 goes to 青葉台小)
    person("PSR03", "青柳　凪", "アオヤギ　ナギ", "2014-09-19", 2, "HSR3", AOBA.format(3, 3, 3)),
    # a department knows 凛 under her former surname, with her resident number on one row of two
    person("PVN01", "竹林　凛", "タケバヤシ　リン", "2021-01-21", 2, "HVN1", "みどり町栄町5丁目5番5号"),
    # namesakes in two households: an address tells them apart
    person("PNA01", "百舌鳥　柚月", "モズ　ユヅキ", "2020-02-20", 2, "HNA1", "みどり町栄町7丁目7番8号"),
    person("PNA02", "百舌鳥　柚月", "モズ　ユヅキ", "2020-02-20", 2, "HNA2", "みどり町栄町7丁目7番7号"),
    # twins whose given names read differently: the margin alone must not hold them
    person("PTW01", "双葉　結菜", "フタバ　ユイナ", "2019-09-29", 2, "HTW", "みどり町栄町8丁目8番8号"),
    person("PTW02", "双葉　結衣", "フタバ　ユイ", "2019-09-29", 2, "HTW", "みどり町栄町8丁目8番8号"),
    # 悠翔 is read ユウト by one person in the registry and ハルト by another: only the address can settle it
    person("PHA01", "雲母　勇斗", "キララ　ユウト", "2012-12-12", 1, "HHA1", "みどり町栄町9丁目9番9号"),
    person("PHA02", "見本　悠翔", "ミホン　ユウト", "1989-01-01", 1, "HHA2", "みどり町栄町10丁目1番1号"),
    person("PHA03", "例題　悠翔", "レイダイ　ハルト", "1988-01-01", 1, "HHA3", "みどり町栄町11丁目1番1号"),
    # namesakes in two school zones
    person("PZN01", "小鳥遊　陽葵", "タカナシ　ヒマリ", "2016-09-09", 2, "HZN1", AOBA.format(1, 1, 1)),
    person("PZN02", "小鳥遊　陽葵", "タカナシ　ヒマリ", "2016-09-09", 2, "HZN2", SAGI.format(1, 1, 1)),
]
RECORDS = [
    rec(950001, "古河　澪士", "フルカワ　レイジ", "2015-03-03", 1, "栄小学校"),
    rec(950002, "古河　柚葉", "フルカワ　ユズハ", "2017-08-08", 2, "栄小学校"),
    rec(950003, "古河　朔弥", "フルカワ　サクヤ", "2014-05-05", 1, "栄小学校"),
    rec(950004, "古河　紬希", "フルカワ　ツムギ", "2016-06-16", 2, "栄小学校"),
    rec(950020, "雲母優花", None, "2015-10-10", 2, "栄小学校"),  # no kana: the registry knows 優花 = ユウカ
    rec(950021, "雲雀　心優", None, "2016-02-02", 2, "栄小学校"),  # 心優: ミユ or ミユウ — cannot tell
    rec(950010, "小鳥遊　陽葵", "タカナシ　ヒマリ", "2016-09-09", 2, "青葉台小学校"),
    rec(950011, "小鳥遊　陽葵", "タカナシ　ヒマリ", "2016-09-09", 2, "鷺沼小学校"),
    rec(950012, "小鳥遊　陽葵", "タカナシ　ヒマリ", "2016-09-09", 2, "どこか小学校"),
    rec(950013, "小鳥遊　陽葵", "タカナシ　ヒマリ", "2016-09-09", 2, None),
    rec(950030, "大迫　湊", "オオサコ　ミナト", "2013-04-14", 1, "栄小学校"),
    rec(950031, "東園　颯", "ヒガシゾノ　ハヤテ", "2013-07-17", 1, "栄小学校"),
    rec(950032, "大迫　颯", "オオサコ　ハヤテ", "2013-07-17", 1, "栄小学校"),
    rec(950033, "大迫　凪", "オオサコ　ナギ", "2014-09-19", 2, "鷺沼小学校"),
    rec(950040, "松風　凛", "マツカゼ　リン", "2021-01-21", 2, None, "maternal_child_health", "95PVN01"),
    rec(950041, "松風　凛", "マツカゼ　リン", "2021-01-21", 2, None, "maternal_child_health"),
    rec(950042, "松風　凛", "マツカゼ　リオ", "2021-01-21", 2, None, "maternal_child_health"),
    rec(
        950050,
        "百舌鳥　柚月",
        "モズ　ユヅキ",
        "2020-02-20",
        2,
        None,
        "maternal_child_health",
        address="栄町7丁目7番7号",
    ),
    rec(950051, "百舌鳥　柚月", "モズ　ユヅキ", "2020-02-20", 2, None, "maternal_child_health"),
    rec(950070, "雲母悠翔", None, "2012-12-12", 1, None, "maternal_child_health", address="みどり町栄町9丁目9番9号"),
    rec(950071, "雲母悠翔", None, "2012-12-12", 1, None, "maternal_child_health"),
    rec(950060, "双葉　結菜", "フタバ　ユイナ", "2019-09-29", 2, None, "maternal_child_health"),
]
# four pupils per zone, linked confidently: they teach the engine which district goes to which school
for z, (district, fmt, school, tag) in enumerate(ZONE_KIDS):
    for k in range(4):
        (g, gk, sex), (s, sk) = GIVEN[k], SUR[(k + z) % 4]
        bd = f"201{3 + k}-0{1 + k}-1{z}"
        PEOPLE.append(
            person(f"P{tag}K0{k}", f"{s}　{g}", f"{sk}　{gk}", bd, sex, f"H{tag}{k}", fmt.format(2, k + 1, 5))
        )
        RECORDS.append(rec(951000 + 10 * z + k, f"{s}　{g}", f"{sk}　{gk}", bd, sex, school))


@pytest.fixture(scope="module")
def linked():
    town = E.synthetic_town(1500, seed=11, noise=E.NoiseProfile.low())
    reg = pd.concat([town.registry, pd.DataFrame(PEOPLE)], ignore_index=True)
    recs = pd.concat([town.records, pd.DataFrame(RECORDS)], ignore_index=True)
    return link_records(reg, recs).set_index("record_id", drop=False)


def test_zone_pupils_link(linked):
    for z, (_, _, _, tag) in enumerate(ZONE_KIDS):
        for k in range(4):
            assert linked.at[951000 + 10 * z + k, "person_id"] == f"P{tag}K0{k}"
            assert linked.at[951000 + 10 * z + k, "status"] == "auto"


def test_siblings_under_one_former_surname_link(linked):
    for rid, pid in ((950001, "PSB01"), (950002, "PSB02")):
        r = linked.loc[rid]
        assert (r["status"], r["person_id"], r["reason"]) == ("auto", pid, "surname_siblings")
        assert r["method"] == "household_siblings" and r["guard"] == ""
        surname = next(e for e in r["explanation"] if e["field"] == "surname")
        assert surname["level"] == "else"  # the waterfall still shows the disagreement


def test_one_child_under_another_surname_links_when_the_school_zone_and_list_back_it(linked):
    # 栄町's children go to 栄小学校 (新川's siblings taught the engine); 朔弥, 紬希 and 湊 live in 栄町 and are not on
    # 栄小学校's list under their registry surname
    for rid, pid in ((950003, "PSX01"), (950004, "PSX02"), (950030, "PSR01")):
        r = linked.loc[rid]
        assert (r["status"], r["person_id"], r["reason"], r["method"]) == (
            "auto",
            pid,
            "surname_school_roster",
            "school_zone",
        )


def test_a_child_under_another_surname_stays_in_review_when_list_or_zone_disagree(linked):
    # 東園 颯 is on 栄小学校's list under his own surname: 大迫 颯 on the same list is someone else
    assert (linked.at[950031, "status"], linked.at[950031, "person_id"]) == ("auto", "PSR02")
    r = linked.loc[950032]
    assert (r["status"], r["reason"], r["best_person_id"]) == ("review", "surname_differs", "PSR02")
    # 青柳 凪 lives in 青葉台, whose children go to 青葉台小学校, not 鷺沼小学校
    r = linked.loc[950033]
    assert (r["status"], r["reason"], r["best_person_id"]) == ("review", "surname_differs", "PSR03")


def test_a_row_vouched_for_by_a_numbered_row_with_the_same_name(linked):
    assert (linked.at[950040, "status"], linked.at[950040, "method"]) == ("auto", "resident_no")
    r = linked.loc[950041]
    assert (r["status"], r["person_id"], r["reason"], r["method"]) == (
        "auto",
        "PVN01",
        "vouched_by_number",
        "numbered_rows",
    )
    r = linked.loc[950042]  # the same kanji read リオ: perhaps another child; a person decides
    assert r["status"] == "review" and r["best_person_id"] == "PVN01"


def test_namesakes_told_apart_by_the_address_and_twins_by_the_given_name(linked):
    r = linked.loc[950050]  # the address is one namesake's and only similar to the other's
    assert (r["status"], r["person_id"]) == ("auto", "PNA02")
    r = linked.loc[950051]  # no address: nothing tells them apart
    assert (r["status"], r["reason"]) == ("review", "namesake")
    assert {c["person_id"] for c in r["candidates"][:2]} == {"PNA01", "PNA02"}
    r = linked.loc[950060]  # the other twin (ユイ) is ruled out by the given name; the margin must not hold the row
    assert (r["status"], r["person_id"]) == ("auto", "PTW01") and r["reason"] in ("auto", "twins_told_apart")


def test_namesakes_told_apart_by_school_zone(linked):
    a, b = linked.loc[950010], linked.loc[950011]
    assert (a["status"], a["person_id"], a["reason"]) == ("auto", "PZN01", "namesake_school_zone")
    assert (b["status"], b["person_id"], b["reason"]) == ("auto", "PZN02", "namesake_school_zone")
    assert a["method"] == "school_zone"


def test_namesakes_without_a_known_zone_stay_in_review(linked):
    for rid in (950012, 950013):  # a school no linked pupil attends; no school at all
        r = linked.loc[rid]
        assert (r["status"], r["reason"]) == ("review", "namesake")
        assert {c["person_id"] for c in r["candidates"][:2]} == {"PZN01", "PZN02"}


def test_given_name_written_with_other_kanji_but_the_same_reading(linked):
    r = linked.loc[950020]
    assert (r["status"], r["person_id"], r["reason"], r["method"]) == (
        "auto",
        "PHM01",
        "given_name_homophone",
        "name_reading",
    )
    r = linked.loc[950021]  # two readings known for 心優: a person decides
    assert r["status"] == "review" and r["best_person_id"] == "PHM03"


def test_a_given_name_with_several_readings_needs_the_address(linked):
    r = linked.loc[950070]
    assert (r["status"], r["person_id"], r["reason"], r["method"]) == (
        "auto",
        "PHA01",
        "given_name_homophone_address",
        "name_reading",
    )
    r = linked.loc[950071]  # no address: ユウト or ハルト — a person decides
    assert r["status"] == "review" and r["best_person_id"] == "PHA01"


def test_reasons_have_labels_and_thresholds_keep_corroborated_rows(linked):
    assert {
        "surname_siblings",
        "namesake_school_zone",
        "given_name_homophone",
        "vouched_by_number",
        "surname_school_roster",
        "twins_told_apart",
        "given_name_homophone_address",
    } <= set(REASONS_JA) & set(REASONS_EN)
    again = apply_thresholds(linked)
    assert again["status"].tolist() == linked["status"].tolist()
