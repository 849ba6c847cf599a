"""Source types, header dictionaries, mapping detection and overrides, the `fields` catalogue."""

import json

import pytest

from kodomo_desktop.core.importing.errors import ImportRefused
from kodomo_desktop.core.importing.fields import (
    SOURCE_TYPES,
    SOURCES,
    check_mapping,
    detect_mapping,
    field_spec,
    fields_catalogue,
    header_key,
    known_header,
    merge_mapping,
    suggest_source_type,
)

CLI_TYPES = [
    "resident_registry",
    "maternal_child_health",
    "public_assistance",
    "child_rearing_allowance",
    "school_assistance",
    "tax",
    "disability",
    "school_attendance",
    "school_health",
    "yotaikyo",
    "consultation",
    "school_checklist",
]

# docs/DEVELOPING.md, attribute fields per source type (school_checklist item answers come from the checklist module)
DEVELOPING_ATTRIBUTES = {
    "resident_registry": ["move_in_date", "move_out_date"],
    "maternal_child_health": [
        "record_kind",
        "checkup_type",
        "checkup_date",
        "checkup_status",
        "weight_percentile",
        "q_hit_emotionally",
        "q_left_alone",
        "q_not_fed",
        "q_covered_mouth",
        "q_shook",
        "weeks_at_notification",
        "epds_score",
        "vaccine",
        "vaccination_status",
    ],
    "public_assistance": ["start_date", "end_date", "status"],
    "child_rearing_allowance": ["start_date", "payment_category"],
    "school_assistance": ["start_date", "category"],
    "tax": ["tax_status", "fiscal_year"],
    "disability": ["certificate_type", "grade_level", "mental_disorder_code", "recipient_cert_no", "start_date"],
    "school_attendance": ["period", "absence_days", "late_days", "nurse_visits", "mental_check_result"],
    "school_health": ["checkup_date", "weight", "weight_percentile", "untreated_caries"],
    "yotaikyo": ["registered_date", "category", "status", "temporary_protection", "closed_date"],
    "consultation": ["consultation_date", "category", "dv_support_measure"],
    "school_checklist": ["round"],
}
RECORD_DATES = {
    "resident_registry": "as_of",
    "maternal_child_health": "checkup_date",
    "public_assistance": "start_date",
    "child_rearing_allowance": "start_date",
    "school_assistance": "start_date",
    "tax": "as_of",
    "disability": "start_date",
    "school_attendance": "as_of",
    "school_health": "checkup_date",
    "yotaikyo": "registered_date",
    "consultation": "consultation_date",
    "school_checklist": "as_of",
}
IDENTITY = [
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
]


def test_source_types_follow_the_contract():
    assert list(SOURCES) == CLI_TYPES and list(SOURCE_TYPES) == CLI_TYPES
    for key, attrs in DEVELOPING_ATTRIBUTES.items():
        assert [a.name for a in SOURCES[key].attributes] == attrs
        assert SOURCE_TYPES[key]["record_date"] == RECORD_DATES[key]
        assert SOURCE_TYPES[key]["label"]
        for f in IDENTITY:
            assert f in SOURCE_TYPES[key]["identity"]
    assert SOURCES["child_rearing_allowance"].child_forms
    assert {"child_name", "child_name_kana", "child_birth_date", "child_resident_no", "child_sex"} <= set(
        SOURCE_TYPES["child_rearing_allowance"]["identity"]
    )
    assert not SOURCES["school_attendance"].child_forms


def test_catalogue_is_json_and_complete():
    cat = fields_catalogue()
    json.dumps(cat, ensure_ascii=False)
    types = {t["source_type"]: t for t in cat["source_types"]}
    assert list(types) == CLI_TYPES
    reg = types["resident_registry"]
    assert reg["label"] == "住民基本台帳"
    assert reg["required"] == [["resident_no"], ["name", "surname", "name_kana", "surname_kana"], ["birth_date"]]
    assert reg["required_labels"] == ["宛名番号", "氏名", "生年月日"]
    att = types["school_attendance"]
    assert att["required_labels"] == ["氏名", "生年月日", "学校名"]
    assert {a["field"]: a["type"] for a in att["attributes"]}["absence_days"] == "int"
    for t in cat["source_types"]:
        assert all(a["label"] for a in t["attributes"] + t["identity"])


@pytest.mark.parametrize(
    "source, header, field",
    [
        ("resident_registry", "氏名", "name"),
        ("resident_registry", "名前", "name"),
        ("resident_registry", "フリガナ", "name_kana"),
        ("resident_registry", "ﾌﾘｶﾞﾅ", "name_kana"),
        ("resident_registry", "カナ氏名", "name_kana"),
        ("resident_registry", "ふりがな", "name_kana"),
        ("resident_registry", "氏名カナ", "name_kana"),
        ("resident_registry", "氏名（カナ）", "name_kana"),
        ("resident_registry", "フ リ ガ ナ", "name_kana"),
        ("resident_registry", "生年月日", "birth_date"),
        ("resident_registry", "生年月日（和暦）", "birth_date"),
        ("resident_registry", "性別", "sex"),
        ("resident_registry", "宛名番号", "resident_no"),
        ("resident_registry", "住民番号", "resident_no"),
        ("resident_registry", "世帯番号", "household_no"),
        ("resident_registry", "続柄", "relationship"),
        ("resident_registry", "世帯主との続柄", "relationship"),
        ("resident_registry", "住所", "address"),
        ("resident_registry", "転入日", "move_in_date"),
        ("resident_registry", "姓", "surname"),
        ("resident_registry", "名", "given_name"),
        ("resident_registry", "カナ姓", "surname_kana"),
        ("school_attendance", "学校名", "school"),
        ("school_attendance", "学年", "grade"),
        ("school_attendance", "組", "class"),
        ("school_attendance", "出席番号", "student_no"),
        ("school_attendance", "学籍番号", "student_no"),
        ("school_attendance", "欠席日数", "absence_days"),
        ("school_attendance", "遅刻日数", "late_days"),
        ("school_attendance", "保健室来室回数", "nurse_visits"),
        ("school_attendance", "児童氏名", "name"),
        ("school_attendance", "生徒氏名", "name"),
        ("school_attendance", "対象児童氏名", "name"),
        ("school_attendance", "こころの健康観察", "mental_check_result"),
        ("maternal_child_health", "受診日", "checkup_date"),
        ("maternal_child_health", "健診種別", "checkup_type"),
        ("maternal_child_health", "届出時妊娠週数", "weeks_at_notification"),
        ("maternal_child_health", "EPDS評価", "epds_score"),
        ("maternal_child_health", "3~4か月児健診アンケート_(出来事)感情的に叩いた", "q_hit_emotionally"),
        ("maternal_child_health", "(出来事)長時間食事を与えなかった", "q_not_fed"),
        ("maternal_child_health", "子どもの口をふさいだ", "q_covered_mouth"),
        ("maternal_child_health", "パーセンタイル値(体重)", "weight_percentile"),
        ("public_assistance", "開始年月日", "start_date"),
        ("public_assistance", "廃止日", "end_date"),
        ("child_rearing_allowance", "支給区分", "payment_category"),
        ("child_rearing_allowance", "対象児童氏名", "child_name"),
        ("child_rearing_allowance", "受給者氏名", "name"),
        ("child_rearing_allowance", "受給者宛名番号", "resident_no"),
        ("child_rearing_allowance", "対象児童生年月日", "child_birth_date"),
        ("child_rearing_allowance", "児童名", "child_name"),
        ("child_rearing_allowance", "氏名（対象児童）", "child_name"),
        ("school_assistance", "認定区分", "category"),
        ("tax", "課税区分", "tax_status"),
        ("tax", "年度", "fiscal_year"),
        ("disability", "手帳種別", "certificate_type"),
        ("disability", "受給者証番号", "recipient_cert_no"),
        ("disability", "主たる精神障害コード", "mental_disorder_code"),
        ("disability", "等級", "grade_level"),
        ("school_health", "体重", "weight"),
        ("school_health", "未処置歯数", "untreated_caries"),
        ("yotaikyo", "登録日", "registered_date"),
        ("yotaikyo", "一時保護", "temporary_protection"),
        ("yotaikyo", "虐待種別", "category"),
        ("consultation", "相談日", "consultation_date"),
        ("consultation", "DV等支援措置", "dv_support_measure"),
        ("consultation", "主訴", "category"),
        ("yotaikyo", "管理番号", "source_key"),
    ],
)
def test_header_synonyms(source, header, field):
    assert detect_mapping(source, [header]) == {header: field}


@pytest.mark.parametrize(
    "source, header",
    [
        ("school_attendance", "保護者氏名"),
        ("yotaikyo", "世帯主氏名"),
        ("resident_registry", "備考"),
        ("resident_registry", "個人番号"),
        ("school_attendance", "緊急連絡先 氏名"),
    ],
)
def test_headers_that_must_not_be_mapped(source, header):
    assert detect_mapping(source, [header]) == {}


def test_header_key():
    assert header_key("ﾌﾘｶﾞﾅ") == header_key("フリガナ") == header_key("ふりがな") == header_key(" フ リ ガ ナ ")
    assert header_key("生年月日（和暦）") == "生年月日和暦"
    assert header_key("EPDS") == "epds"


def test_person_context_follows_the_prefixed_column():
    h = ["宛名番号", "受給者氏名", "フリガナ", "生年月日", "対象児童氏名", "ﾌﾘｶﾞﾅ", "生年月日(2)", "性別", "支給区分"]
    assert detect_mapping("child_rearing_allowance", h) == {
        "宛名番号": "resident_no",
        "受給者氏名": "name",
        "フリガナ": "name_kana",
        "生年月日": "birth_date",
        "対象児童氏名": "child_name",
        "ﾌﾘｶﾞﾅ": "child_name_kana",
        "生年月日(2)": "child_birth_date",
        "性別": "child_sex",
        "支給区分": "payment_category",
    }
    # a guardian's reading next to the guardian's name is not the pupil's
    h = ["児童氏名", "フリガナ", "保護者氏名", "ﾌﾘｶﾞﾅ", "生年月日"]
    assert detect_mapping("yotaikyo", h) == {"児童氏名": "name", "フリガナ": "name_kana", "生年月日": "birth_date"}


def test_each_field_once_best_synonym_wins():
    m = detect_mapping("resident_registry", ["住所地", "住所", "氏名", "氏名(2)"])
    assert m == {"住所": "address", "氏名": "name"}


def test_overrides():
    headers = ["番号", "なまえ", "生年月日", "住所"]
    m = detect_mapping("resident_registry", headers, overrides={"番号": "resident_no", "なまえ": "name", "住所": ""})
    assert m == {"生年月日": "birth_date", "番号": "resident_no", "なまえ": "name"}
    # an override that claims a field takes it away from the detected column
    assert merge_mapping({"氏名": "name", "カナ": "name_kana"}, {"別名": "name"}) == {
        "カナ": "name_kana",
        "別名": "name",
    }
    assert merge_mapping({"氏名": "name"}, {"氏名": "-"}) == {}


def test_check_mapping_refuses_bad_fields():
    with pytest.raises(ImportRefused, match="項目名「absence_days」は 住民基本台帳"):
        check_mapping("resident_registry", {"欠席": "absence_days"})
    with pytest.raises(ImportRefused, match="2つの列"):
        check_mapping("resident_registry", {"a": "name", "b": "name"})
    with pytest.raises(ImportRefused, match="child_name"):
        check_mapping("school_attendance", {"a": "child_name"})
    assert check_mapping("child_rearing_allowance", {"a": "child_name", "b": None}) == {"a": "child_name"}
    with pytest.raises(ImportRefused, match="取込元の種類"):
        detect_mapping("nonsense", ["氏名"])
    assert field_spec("maternal_child_health", "epds_score").type == "int"


@pytest.mark.parametrize(
    "headers, first",
    [
        (["宛名番号", "世帯番号", "氏名", "カナ氏名", "生年月日", "性別", "住所", "続柄"], "resident_registry"),
        (
            ["学校名", "学年", "組", "出席番号", "児童氏名", "ふりがな", "生年月日", "欠席日数", "遅刻日数"],
            "school_attendance",
        ),
        (["学校名", "学年", "組", "氏名", "生年月日", "体重", "未処置歯数", "健診日"], "school_health"),
        (["受給者氏名", "対象児童氏名", "対象児童生年月日", "支給区分", "認定日"], "child_rearing_allowance"),
        (["宛名番号", "氏名", "生年月日", "課税区分", "年度"], "tax"),
        (["宛名番号", "母氏名", "児氏名", "児生年月日", "健診種別", "受診日", "EPDS"], "maternal_child_health"),
        (["ケース番号", "氏名", "生年月日", "保護開始日", "廃止日"], "public_assistance"),
        (["児童氏名", "生年月日", "認定区分", "認定日", "学校名"], "school_assistance"),
        (["氏名", "生年月日", "手帳種別", "等級", "交付日"], "disability"),
        (["児童氏名", "生年月日", "虐待種別", "一時保護", "登録日", "終結日"], "yotaikyo"),
        (["相談日", "相談者氏名", "対象児童氏名", "相談種別", "DV等支援措置"], "consultation"),
    ],
)
def test_suggest_source_type(headers, first):
    ranked = suggest_source_type(headers)
    assert ranked[0] == first
    assert suggest_source_type(["備考", "メモ"]) == []


def test_known_header_scores_roles():
    assert known_header("対象児童 氏名") == "child:name"
    assert known_header("氏名") == "name"
    assert known_header("山田　太郎") is None and known_header("H30.4.1") is None and known_header("男") is None


def test_demo_department_files_headers_are_recognised():
    """Every header of every demo file maps, file by file (synonyms from different layouts never share a file)."""
    files = pytest.importorskip("kodomo_desktop.core.demo.files")
    by_file = getattr(files, "HEADERS_BY_FILE", None)
    if not by_file:
        pytest.skip("demo files module has no HEADERS_BY_FILE")
    for source, header_lists in by_file.items():
        for headers in header_lists:
            mapping = detect_mapping(source, list(headers))
            missing = [h for h in headers if h not in mapping]
            assert not missing, f"{source}: {missing} in {headers}"
