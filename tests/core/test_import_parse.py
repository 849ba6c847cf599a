"""parse_rows: the awkward fixture files import with no hints and exactly the planted invalid rows rejected (by the
row numbers the user sees); required columns; child-of-recipient rows; values parsed by type."""

import json
from pathlib import Path

import pytest

from kodomo_desktop.core.importing.errors import ImportRefused
from kodomo_desktop.core.importing.fields import detect_mapping, suggest_source_type
from kodomo_desktop.core.importing.parse import ParseResult, normalise_category, parse_rows
from kodomo_desktop.core.importing.readers import read_table

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "import"
EXPECTED = json.loads((FIX / "expected.json").read_text(encoding="utf-8"))
RECORD_KEYS = {
    "resident_no",
    "household_no",
    "name",
    "name_kana",
    "surname",
    "given_name",
    "surname_kana",
    "given_name_kana",
    "birth_date",
    "sex",
    "address",
    "relationship",
    "student_no",
    "school",
    "grade",
    "class",
    "row_number",
    "subject",
    "source_key",
    "record_date",
    "attributes",
    "raw",
}


def _import(name: str, source=None, mapping=None) -> tuple[ParseResult, dict]:
    e = EXPECTED["files"].get(name, {})
    t = read_table(FIX / name)
    st = source or e["source_type"]
    assert suggest_source_type(t.headers)[0] == st  # no hints: the source type is suggested too
    m = detect_mapping(st, t.headers, overrides=mapping)
    return parse_rows(t, st, m, e.get("as_of", "2024-04-01")), e


@pytest.mark.parametrize("name", sorted(EXPECTED["files"]))
def test_fixture_imports_with_exactly_the_planted_rows_rejected(name):
    r, e = _import(name)
    assert r.rejected_rows == e["rejected"]
    assert [rec["row_number"] for rec in r.records] == [n for n in e["data_rows"] if n not in e["rejected"]]
    assert r.rows == len(e["data_rows"]) and r.imported + r.rejected == r.rows
    for rej in r.rejections:
        assert rej["message"] and rej["column"] in rej["raw"]
        assert all(ord(ch) < 128 or ch.isprintable() for ch in rej["message"])
    json.dumps([r.records, r.rejections, r.errors], ensure_ascii=False)  # everything is JSON-able
    for rec in r.records:
        assert set(rec) == RECORD_KEYS
        assert rec["subject"] in ("self", "child") and rec["record_date"]
    by_row = {rec["row_number"]: rec for rec in r.records}
    for row, iso in e.get("birth_dates", {}).items():
        assert by_row[int(row)]["birth_date"] == iso, row
    for row, subject in e.get("subjects", {}).items():
        assert by_row[int(row)]["subject"] == subject, row


def test_registry_values():
    r, e = _import("registry_cp932_title.csv")
    by_row = {rec["row_number"]: rec for rec in r.records}
    for row, v in e["values"].items():
        if int(row) in by_row:
            assert by_row[int(row)]["resident_no"] == v["resident_no"]
            assert by_row[int(row)]["name"] == v["name"]  # raw name text, exactly as written
    first = by_row[5]
    assert first["sex"] == 1 and first["name_kana"] == "ﾔﾏﾀﾞ ﾀﾛｳ" and first["relationship"] == "子"
    assert first["source_key"] == "100001" and first["record_date"] == "2024-04-01"
    assert by_row[6]["attributes"]["move_in_date"] == "2019-05-01"  # H31.5.1, documented as accepted
    assert by_row[15]["birth_date"] is None and by_row[15]["attributes"]["extra"] == {"備考": "生年月日不明"}
    assert by_row[10]["resident_no"] == "10006" and by_row[10]["sex"] == 2  # full-width digits, Ｆ
    messages = {x["row"]: x["message"] for x in r.rejections}
    assert messages[18] == "2017/02/30 は存在しない日付です"
    assert messages[23] == "生年月日 2027-01-01 は基準日（2024-04-01）より後の日付です"
    assert messages[24] == "宛名番号・氏名・カナ・生年月日 がいずれも空です"
    assert any("外字" in w for w in r.warnings)


def test_child_rows_carry_the_recipient():
    r, _ = _import("allowance_bom.csv")
    by_row = {rec["row_number"]: rec for rec in r.records}
    child = by_row[2]
    assert child["subject"] == "child" and child["name"] == "架空　夏美" and child["sex"] == 2
    assert child["resident_no"] is None  # the 宛名番号 column is the recipient's
    assert child["attributes"]["recipient"] == {
        "resident_no": "200001",
        "name": "架空　春子",
        "name_kana": "カクウ ハルコ",
    }
    assert child["attributes"]["payment_category"] == "全部支給" and child["attributes"]["start_date"] == "2020-04-01"
    assert child["record_date"] == "2020-04-01" and child["source_key"] == "J-001"
    assert by_row[3]["attributes"]["payment_category"] == "一部支給"
    assert by_row[3]["attributes"]["recipient"]["name"] == "試験, 秋子"
    own = by_row[6]
    assert own["subject"] == "self" and own["name"] == "仮名　菊" and own["resident_no"] == "200005"
    assert "recipient" not in own["attributes"]


def test_excel_attendance_values():
    r, e = _import("attendance_merged.xlsx")
    by_row = {rec["row_number"]: rec for rec in r.records}
    for row, days in e["absence_days"].items():
        assert by_row[int(row)]["attributes"]["absence_days"] == days
    assert by_row[7]["grade"] == "3" and by_row[7]["class"] == "1" and by_row[7]["attributes"]["nurse_visits"] == 2
    assert "late_days" not in by_row[13]["attributes"]  # "-" is missing, not zero
    assert by_row[6]["school"] == "架空町立みどり小学校" and by_row[6]["name_kana"] == "あおき しょう"


def test_mch_values():
    r, e = _import("mch_tab.tsv")
    by_row = {rec["row_number"]: rec for rec in r.records}
    for row, kind in e["checkup_types"].items():
        assert by_row[int(row)]["attributes"]["checkup_type"] == kind
    for row, flags in e["flags"].items():
        for k, v in flags.items():
            assert by_row[int(row)]["attributes"][k] is v, (row, k)
    assert by_row[5]["attributes"]["epds_score"] == 9 and by_row[5]["attributes"]["checkup_status"] == "受診"
    assert by_row[2]["attributes"]["weight_percentile"] == 25 and by_row[8]["attributes"]["weight_percentile"] == 2.5
    assert by_row[2]["record_date"] == "2023-10-05" and by_row[3]["record_date"] == "2024-04-01"
    assert by_row[3]["attributes"]["checkup_status"] == "未受診"


def test_yotaikyo_values():
    r, e = _import("yotaikyo_sheets.xlsx")
    by_row = {rec["row_number"]: rec for rec in r.records}
    for row, cat in e["categories"].items():
        assert by_row[int(row)]["attributes"]["category"] == cat
    assert by_row[5]["attributes"]["temporary_protection"] is True
    assert by_row[9]["attributes"]["status"] == "終結" and by_row[9]["attributes"]["closed_date"] == "2022-04-04"
    for h in e["unmapped_contains"]:
        assert h in r.unmapped
    assert by_row[5]["attributes"]["extra"] == {"保護者氏名": "試験　母", "ﾌﾘｶﾞﾅ": "シケン ハハ"}
    assert by_row[4]["source_key"] == "Y-01" and by_row[4]["record_date"] == "2022-05-06"


def _csv(tmp_path, text, name="f.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return read_table(p)


def test_required_column_missing_is_refused(tmp_path):
    t = _csv(tmp_path, "宛名番号,氏名,性別\n1,架空　一,男\n")
    with pytest.raises(ImportRefused, match="必須の列「生年月日」が見つかりません"):
        parse_rows(t, "resident_registry", detect_mapping("resident_registry", t.headers), "2024-04-01")
    t = _csv(tmp_path, "氏名,生年月日,欠席日数\n架空　一,H30.1.1,3\n")
    with pytest.raises(ImportRefused, match="必須の列「学校名」"):
        parse_rows(t, "school_attendance", detect_mapping("school_attendance", t.headers), "2024-04-01")
    # 宛名番号 alone identifies a row in a non-registry source (a tax file by 宛名番号 only)
    t = _csv(tmp_path, "宛名番号,課税区分\n1,非課税\n2,課税\n")
    r = parse_rows(t, "tax", detect_mapping("tax", t.headers), "2024-04-01")
    assert [x["attributes"]["tax_status"] for x in r.records] == ["非課税", "課税"]


def test_school_name_from_the_title(tmp_path):
    t = _csv(tmp_path, "令和5年度 架空町立ひかり中学校 出欠一覧\n氏名,生年月日,欠席日数\n架空　一,H22.1.1,3\n")
    r = parse_rows(t, "school_attendance", detect_mapping("school_attendance", t.headers), "2024-04-01")
    assert r.records[0]["school"] == "架空町立ひかり中学校" and r.records[0]["row_number"] == 3
    assert any("学校名" in w for w in r.warnings)


def test_mapping_errors_refuse(tmp_path):
    t = _csv(tmp_path, "宛名番号,氏名,生年月日\n1,架空　一,H30.1.1\n")
    with pytest.raises(ImportRefused, match="ファイルにありません"):
        parse_rows(t, "resident_registry", {"宛名": "resident_no"}, "2024-04-01")
    with pytest.raises(ImportRefused, match="項目名"):
        parse_rows(t, "resident_registry", {"宛名番号": "no_such_field"}, "2024-04-01")
    with pytest.raises(ImportRefused, match="基準日"):
        parse_rows(t, "resident_registry", detect_mapping("resident_registry", t.headers), "someday")


def test_map_overrides_and_unmapping(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("番号,なまえ,誕生,メモ\n1,架空　一,H30.1.1,a\n", encoding="utf-8")
    with pytest.raises(ImportRefused, match="見出し行"):
        read_table(p)
    # the columns the user maps (--map) make their row recognisable as the header
    t = read_table(p, header_hints=["番号", "なまえ", "誕生"])
    assert t.header_row == 1
    m = detect_mapping(
        "resident_registry", t.headers, overrides={"番号": "resident_no", "なまえ": "name", "誕生": "birth_date"}
    )
    r = parse_rows(t, "resident_registry", m, "2024-04-01")
    assert r.records[0]["birth_date"] == "2018-01-01" and r.records[0]["attributes"] == {"extra": {"メモ": "a"}}
    r = parse_rows(t, "resident_registry", {**m, "メモ": ""}, "2024-04-01")
    assert r.unmapped == ["メモ"]


def test_split_names_and_my_number(tmp_path):
    t = _csv(tmp_path, "宛名番号,姓,名,セイ,メイ,生年月日,個人番号\n1,架空,一,カクウ,ハジメ,H30.1.1,123456789012\n")
    r = parse_rows(t, "resident_registry", detect_mapping("resident_registry", t.headers), "2024-04-01")
    rec = r.records[0]
    assert rec["name"] == "架空　一" and rec["name_kana"] == "カクウ　ハジメ"
    assert rec["surname"] == "架空" and rec["given_name"] == "一"
    assert "個人番号" not in rec["raw"] and "extra" not in rec["attributes"]
    assert any("個人番号" in w for w in r.warnings)


def test_every_invalid_cell_is_listed(tmp_path):
    t = _csv(tmp_path, "宛名番号,氏名,生年月日,性別,転入日\n1,架空　一,2017/02/30,X,H32.1.1\n2,架空　二,H30.1.1,男,\n")
    r = parse_rows(t, "resident_registry", detect_mapping("resident_registry", t.headers), "2024-04-01")
    assert [(x["row"], x["column"]) for x in r.rejections] == [(2, "生年月日"), (2, "性別"), (2, "転入日")]
    assert (
        r.rejected == 1
        and r.imported == 1
        and r.errors[0] == {"row": 2, "column": "生年月日", "message": "2017/02/30 は存在しない日付です"}
    )


def test_category_normalisation():
    from kodomo_desktop.core.importing.fields import SOURCES

    spec = SOURCES["maternal_child_health"].attribute("checkup_type")
    assert [
        normalise_category(spec, x) for x in ("4ヶ月児健診", "３～４か月児", "1歳半健診", "3歳児健康診査", "5歳児", "")
    ] == ["4か月", "4か月", "1歳6か月", "3歳", "5歳児", None]
    tax = SOURCES["tax"].attribute("tax_status")
    assert [normalise_category(tax, x) for x in ("非課税", "課税", "均等割のみ課税", "不明")] == [
        "非課税",
        "課税",
        "課税",
        None,
    ]


def test_many_rows_memoised(tmp_path):
    lines = ["宛名番号,氏名,カナ,生年月日,性別,欠席日数,学校名"]
    for i in range(3000):
        lines.append(
            f"{i},架空　{i},ｶｸｳ,H{2 + i % 29}.{1 + i % 12}.{1 + i % 28},{'男' if i % 2 else '女'},{i % 7}日,架空小学校"
        )
    t = _csv(tmp_path, "\n".join(lines) + "\n")
    r = parse_rows(t, "school_attendance", detect_mapping("school_attendance", t.headers), "2024-04-01")
    assert r.imported == 3000 and r.records[-1]["row_number"] == 3001
    assert r.records[8]["attributes"]["absence_days"] == 1


def test_columns_match_records():
    r, _ = _import("allowance_bom.csv")
    assert r.columns["name"] == [x["name"] for x in r.records]
    assert r.columns["row_number"] == [x["row_number"] for x in r.records]
    assert r.columns["subject"] == [x["subject"] for x in r.records]


def test_month_only_dates_for_attributes_not_for_birth(tmp_path):
    t = _csv(
        tmp_path,
        "受給者氏名,対象児童氏名,対象児童生年月日,支給開始月\n架空　母,架空　子,R2.4,R5.4\n"
        "架空　母,架空　子,R2.4.4,令和5年4月\n",
    )
    r = parse_rows(t, "child_rearing_allowance", detect_mapping("child_rearing_allowance", t.headers), "2024-04-01")
    assert [x["row"] for x in r.rejections] == [2]
    assert r.records[0]["attributes"]["start_date"] == "2023-04-01" and r.records[0]["birth_date"] == "2020-04-04"
