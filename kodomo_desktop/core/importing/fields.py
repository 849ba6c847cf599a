"""Source types and their canonical fields: labels, types, header dictionaries, required columns.

The canonical field names are the contract of docs/DEVELOPING.md (identity fields for every source, attribute
fields per source type). ``detect_mapping`` maps a file's headers to those names by itself; ``--map`` overrides.

Header matching (``header_key``): NFKC, hiragana → katakana, lower-case, spaces, brackets and punctuation removed
(``ﾌﾘｶﾞﾅ``, ``ふりがな``, ``フリガナ`` and ``フ リ ガ ナ`` are one key; ``生年月日（和暦）`` also tries ``生年月日``).
A header not in the dictionary is decomposed into a person prefix/suffix and a base (``対象児童氏名`` = 対象児童 +
氏名, ``氏名（保護者）`` = 氏名 + 保護者):

* a *child* prefix (対象児童, 児童, こども, 児 …) gives ``child_<field>`` in a source type whose rows may describe a
  child of the recipient (``child_forms``), and the plain field elsewhere (児童氏名 in a school file is the pupil);
* a *self* prefix (受給者, 本人, 被保護者, 対象者 …) gives the plain field;
* an *other-person* prefix (保護者, 世帯主, 母, 申請者 …) gives the plain field in a child-forms source (the
  recipient) and nothing elsewhere (a guardian's name in a school file is not the pupil's): such columns stay
  unmapped and are kept as raw attributes.

A bare identity header right after a prefixed one inherits its person (``対象児童氏名, フリガナ, 生年月日`` →
child_name, child_name_kana, child_birth_date); in a source without child forms only a kana column after an
other-person name is held back (``保護者氏名, フリガナ``: the guardian's reading).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from .errors import ImportRefused

__all__ = [
    "FieldSpec",
    "SourceType",
    "SOURCES",
    "SOURCE_TYPES",
    "IDENTITY",
    "CHILD_FIELDS",
    "header_key",
    "detect_mapping",
    "merge_mapping",
    "suggest_source_type",
    "fields_catalogue",
    "known_header",
    "header_score",
    "field_spec",
    "check_mapping",
    "IGNORE",
]

IGNORE = ""  # a mapping value that means "do not map this column" (also None, "-", "ignore")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    type: str  # code | name | text | date | sex | int | number | flag | category | year | grade | class
    headers: tuple[str, ...] = ()
    values: tuple[str, ...] = ()  # category: the canonical values
    aliases: tuple[tuple[str, str], ...] = ()  # category: (written form, canonical value)
    contains: tuple[str, ...] = ()  # header fragments that identify the field when nothing matches exactly

    def to_json(self) -> dict:
        d = {"field": self.name, "label": self.label, "type": self.type, "headers": list(self.headers)}
        if self.values:
            d["values"] = list(self.values)
        return d


@dataclass(frozen=True)
class SourceType:
    key: str
    label: str
    required: tuple[tuple[str, ...], ...]  # every group needed; a group is satisfied by any of its fields
    attributes: tuple[FieldSpec, ...]
    record_date: str | None  # attribute giving the record's date; None: the batch's as-of date
    child_forms: bool = False  # rows may describe a child of the recipient (child_… fields)
    sufficient: tuple[str, ...] = ()  # one of these alone satisfies the identity groups (宛名番号)
    hints: tuple[tuple[str, int], ...] = ()  # extra weight of identity fields typical of this source (suggestion)
    description: str = ""

    def attribute(self, name: str) -> FieldSpec | None:
        return next((a for a in self.attributes if a.name == name), None)


def _f(name, label, type_, headers=(), values=(), aliases=(), contains=()):
    return FieldSpec(name, label, type_, tuple(headers), tuple(values), tuple(aliases), tuple(contains))


# --- identity fields (any source) -----------------------------------------------------------------------------------
IDENTITY: tuple[FieldSpec, ...] = (
    _f(
        "resident_no",
        "宛名番号",
        "code",
        [
            "宛名番号",
            "宛名コード",
            "宛名no",
            "宛名",
            "あて名番号",
            "住民番号",
            "住民コード",
            "個人コード",
            "住記番号",
            "住基番号",
        ],
    ),
    _f("household_no", "世帯番号", "code", ["世帯番号", "世帯コード", "世帯no", "世帯"]),
    _f("name", "氏名", "name", ["氏名", "名前", "氏名漢字", "漢字氏名", "お名前", "名称氏名"]),
    _f(
        "name_kana",
        "カナ",
        "name",
        [
            "フリガナ",
            "カナ氏名",
            "氏名カナ",
            "カナ",
            "氏名フリガナ",
            "フリガナ氏名",
            "ヨミガナ",
            "よみがな",
            "氏名よみ",
            "カナ名称",
            "かな",
            "かな氏名",
            "氏名かな",
            "氏名ヨミ",
            "読み",
            "よみ",
            "ふりがな",
            "カナ名",
        ],
    ),
    _f("surname", "氏（姓）", "name", ["姓", "氏", "苗字", "名字", "姓漢字", "氏漢字"]),
    _f("given_name", "名", "name", ["名", "名漢字"]),
    _f(
        "surname_kana",
        "カナ（姓）",
        "name",
        [
            "カナ姓",
            "姓カナ",
            "フリガナ姓",
            "姓フリガナ",
            "カナ氏",
            "氏カナ",
            "セイ",
            "姓よみ",
            "氏フリガナ",
            "フリガナ氏",
        ],
    ),
    _f("given_name_kana", "カナ（名）", "name", ["名カナ", "フリガナ名", "名フリガナ", "メイ", "名よみ", "カナめい"]),
    _f(
        "birth_date",
        "生年月日",
        "date",
        [
            "生年月日",
            "誕生日",
            "出生日",
            "出生年月日",
            "生年月日西暦",
            "生年月日和暦",
            "生年月日yyyymmdd",
            "生年月日日付",
            "誕生年月日",
            "生年月",
        ],
    ),
    _f("sex", "性別", "sex", ["性別", "性", "男女", "男女別", "性別コード", "性別区分", "性別名"]),
    _f(
        "address",
        "住所",
        "text",
        ["住所", "現住所", "住所地", "住所1", "住所漢字", "居住地", "居所", "住所番地", "所在地", "住所方書"],
    ),
    _f("relationship", "続柄", "text", ["続柄", "続き柄", "世帯主との続柄", "続柄名", "続柄コード", "続柄1"]),
    _f(
        "student_no",
        "出席番号・学籍番号",
        "code",
        ["出席番号", "学籍番号", "生徒番号", "児童番号", "児童生徒番号", "出席no", "出席番", "番号出席"],
    ),
    _f(
        "school",
        "学校名",
        "text",
        [
            "学校名",
            "学校",
            "在籍校",
            "在籍学校",
            "在籍学校名",
            "就学校",
            "所属校",
            "学校名称",
            "在籍校名",
            "就学校名",
            "所属学校",
        ],
    ),
    _f("grade", "学年", "grade", ["学年", "年", "学年名", "在籍学年"]),
    _f("class", "組", "class", ["組", "クラス", "学級", "組名", "学級名", "クラス名"]),
    _f(
        "source_key",
        "管理番号",
        "code",
        [
            "管理番号",
            "整理番号",
            "ケース番号",
            "台帳番号",
            "受付番号",
            "記録番号",
            "受給者番号",
            "証書番号",
            "ケースno",
            "管理no",
            "整理no",
            "id",
            "レコード番号",
        ],
    ),
)
IDENTITY_BY_NAME = {f.name: f for f in IDENTITY}
# fields with a child_ form (児童扶養手当 対象児童 etc.)
CHILD_BASE = ("resident_no", "name", "name_kana", "birth_date", "sex")
CHILD_FIELDS: tuple[FieldSpec, ...] = tuple(
    FieldSpec("child_" + n, "対象児童" + IDENTITY_BY_NAME[n].label, IDENTITY_BY_NAME[n].type) for n in CHILD_BASE
)
CHILD_BY_NAME = {f.name: f for f in CHILD_FIELDS}
PERSON_FIELDS = frozenset(
    {
        "resident_no",
        "name",
        "name_kana",
        "surname",
        "given_name",
        "surname_kana",
        "given_name_kana",
        "birth_date",
        "sex",
    }
)
_KANA_FIELDS = frozenset({"name_kana", "surname_kana", "given_name_kana"})

# --- attribute fields per source type ------------------------------------------------------------------------------
_START = ["開始日", "開始年月日"]
_PERCENTILE = [
    "体重パーセンタイル",
    "パーセンタイル値体重",
    "パーセンタイル体重",
    "体重パーセンタイル値",
    "体重p",
    "パーセンタイル",
    "パーセンタイル値",
]
_Q = "（アンケート：有/無）"

SOURCES: dict[str, SourceType] = {}


def _src(key, label, required, attributes, record_date, **kw):
    SOURCES[key] = SourceType(key, label, tuple(tuple(g) for g in required), tuple(attributes), record_date, **kw)


_NAME_GROUP = ("name", "surname", "name_kana", "surname_kana")
_CHILD_NAME_GROUP = _NAME_GROUP + ("child_name", "child_name_kana")
_CHILD_BIRTH_GROUP = ("birth_date", "child_birth_date")

_src(
    "resident_registry",
    "住民基本台帳",
    [("resident_no",), _NAME_GROUP, ("birth_date",)],
    [
        _f(
            "move_in_date",
            "転入日",
            "date",
            [
                "転入日",
                "転入年月日",
                "転入届出日",
                "住定日",
                "住定年月日",
                "住民となった日",
                "転入届出年月日",
                "住民となった年月日",
            ],
        ),
        _f(
            "move_out_date",
            "転出日",
            "date",
            ["転出日", "転出年月日", "転出予定日", "転出届出日", "消除日", "消除年月日", "住民でなくなった日"],
        ),
    ],
    None,
    hints=(("household_no", 2), ("relationship", 2), ("address", 1), ("resident_no", 1)),
    description="住民基本台帳（宛名番号・世帯番号・氏名・カナ・生年月日・性別・住所・続柄）。名寄せの基準。",
)

_src(
    "maternal_child_health",
    "母子保健",
    [_CHILD_NAME_GROUP, _CHILD_BIRTH_GROUP],
    [
        _f(
            "record_kind",
            "記録種別",
            "category",
            ["記録種別", "種別", "区分", "記録区分", "事業", "事業名", "届出種別", "健診事業"],
            values=["妊娠届", "妊婦健診", "産婦健診", "乳幼児健診", "予防接種"],
            aliases=[
                ("妊娠届出", "妊娠届"),
                ("妊娠届出書", "妊娠届"),
                ("母子手帳交付", "妊娠届"),
                ("母子健康手帳交付", "妊娠届"),
                ("妊婦健康診査", "妊婦健診"),
                ("妊婦健診", "妊婦健診"),
                ("産婦健康診査", "産婦健診"),
                ("産後健診", "産婦健診"),
                ("乳幼児健康診査", "乳幼児健診"),
                ("乳児健診", "乳幼児健診"),
                ("幼児健診", "乳幼児健診"),
                ("児健診", "乳幼児健診"),
                ("予防接種", "予防接種"),
                ("接種", "予防接種"),
            ],
        ),
        _f(
            "checkup_type",
            "健診種別",
            "category",
            ["健診種別", "健診名", "健診区分", "健診", "対象健診", "健診の種類", "健診種類", "健診名称"],
            values=["4か月", "1歳6か月", "3歳"],
            aliases=[
                ("3~4か月", "4か月"),
                ("3-4か月", "4か月"),
                ("4か月", "4か月"),
                ("3か月", "4か月"),
                ("4か月児", "4か月"),
                ("1歳6か月", "1歳6か月"),
                ("1歳半", "1歳6か月"),
                ("1.6歳", "1歳6か月"),
                ("1歳6か月児", "1歳6か月"),
                ("3歳", "3歳"),
                ("3歳児", "3歳"),
                ("3歳6か月", "3歳"),
            ],
        ),
        _f(
            "checkup_date",
            "受診日",
            "date",
            [
                "受診日",
                "健診日",
                "受診年月日",
                "健診受診日",
                "健診年月日",
                "実施日",
                "実施年月日",
                "接種日",
                "接種年月日",
                "届出日",
                "妊娠届出日",
                "届出年月日",
            ],
        ),
        _f(
            "checkup_status",
            "受診状況",
            "category",
            ["受診状況", "受診有無", "受診の有無", "受診区分", "受診", "受診結果", "受診状態"],
            values=["受診", "未受診"],
            aliases=[
                ("受診済", "受診"),
                ("受診済み", "受診"),
                ("済", "受診"),
                ("受診", "受診"),
                ("有", "受診"),
                ("○", "受診"),
                ("未受診", "未受診"),
                ("未", "未受診"),
                ("無", "未受診"),
                ("×", "未受診"),
                ("未受診者", "未受診"),
            ],
        ),
        _f("weight_percentile", "体重パーセンタイル", "number", _PERCENTILE),
        _f(
            "q_hit_emotionally",
            "感情的に叩いた" + _Q,
            "flag",
            ["感情的に叩いた", "感情的にたたいた", "感情的に叩く"],
            contains=["感情的に叩", "感情的にたた"],
        ),
        _f(
            "q_left_alone",
            "家に残して外出" + _Q,
            "flag",
            ["家に残して外出", "乳幼児だけを家に残して外出した"],
            contains=["家に残して", "残して外出"],
        ),
        _f(
            "q_not_fed",
            "長時間食事を与えなかった" + _Q,
            "flag",
            ["長時間食事を与えなかった", "食事を与えなかった"],
            contains=["食事を与え"],
        ),
        _f(
            "q_covered_mouth",
            "子どもの口をふさいだ" + _Q,
            "flag",
            ["子どもの口をふさいだ", "口をふさいだ"],
            contains=["口をふさ", "口を塞"],
        ),
        _f(
            "q_shook",
            "子どもを激しく揺さぶった" + _Q,
            "flag",
            ["子どもを激しく揺さぶった", "激しく揺さぶった", "揺さぶった"],
            contains=["揺さぶ", "ゆさぶ"],
        ),
        _f(
            "weeks_at_notification",
            "届出時妊娠週数",
            "int",
            ["届出時妊娠週数", "妊娠週数", "届出週数", "妊娠届出週数", "届出時週数", "届出時の妊娠週数"],
        ),
        _f(
            "epds_score",
            "EPDS点数",
            "int",
            ["epds", "epds点数", "epds得点", "epds評価", "epds合計", "epds合計点"],
            contains=["epds"],
        ),
        _f(
            "vaccine",
            "ワクチン",
            "text",
            [
                "ワクチン",
                "ワクチン名",
                "ワクチン種類",
                "予防接種名",
                "接種名",
                "予防接種の種類",
                "予防接種種類",
                "接種種類",
            ],
        ),
        _f(
            "vaccination_status",
            "接種状況",
            "category",
            ["接種状況", "接種有無", "接種の有無", "接種区分", "接種状態"],
            values=["接種", "未接種"],
            aliases=[
                ("接種済", "接種"),
                ("接種済み", "接種"),
                ("済", "接種"),
                ("接種", "接種"),
                ("有", "接種"),
                ("未接種", "未接種"),
                ("未", "未接種"),
                ("無", "未接種"),
            ],
        ),
    ],
    "checkup_date",
    child_forms=True,
    sufficient=("resident_no", "child_resident_no"),
    description="妊娠届・妊婦健診・産婦健診（EPDS）・乳幼児健診（受診日・アンケート・体重）・予防接種。",
)

_src(
    "public_assistance",
    "生活保護",
    [_NAME_GROUP, ("birth_date",)],
    [
        _f(
            "start_date",
            "開始日",
            "date",
            _START + ["保護開始日", "保護開始年月日", "決定日", "決定年月日", "受給開始日"],
        ),
        _f(
            "end_date",
            "廃止日",
            "date",
            ["廃止日", "廃止年月日", "終了日", "終了年月日", "保護廃止日", "保護廃止年月日"],
        ),
        _f(
            "status",
            "状況",
            "category",
            ["状況", "保護状況", "状態", "受給状況", "保護の状況", "保護状態"],
            values=["保護中", "停止", "廃止"],
            aliases=[
                ("保護中", "保護中"),
                ("受給中", "保護中"),
                ("継続", "保護中"),
                ("開始", "保護中"),
                ("停止", "停止"),
                ("廃止", "廃止"),
                ("終了", "廃止"),
            ],
        ),
    ],
    "start_date",
    sufficient=("resident_no",),
    description="生活保護の開始・廃止（世帯員ごと）。",
)

_src(
    "child_rearing_allowance",
    "児童扶養手当",
    [_CHILD_NAME_GROUP, _CHILD_BIRTH_GROUP],
    [
        _f(
            "start_date",
            "認定日",
            "date",
            ["認定日", "認定年月日", "支給開始日", "支給開始年月日", "受給開始日", "受給開始年月日", "支給開始月"]
            + _START,
        ),
        _f(
            "payment_category",
            "支給区分",
            "category",
            ["支給区分", "支給状況", "支給種別", "支給区分名", "受給状況", "支給"],
            values=["全部支給", "一部支給", "支給停止"],
            aliases=[
                ("全部支給", "全部支給"),
                ("全部", "全部支給"),
                ("全額支給", "全部支給"),
                ("全額", "全部支給"),
                ("一部支給", "一部支給"),
                ("一部", "一部支給"),
                ("支給停止", "支給停止"),
                ("全部停止", "支給停止"),
                ("停止", "支給停止"),
            ],
        ),
    ],
    "start_date",
    child_forms=True,
    sufficient=("resident_no", "child_resident_no"),
    description="児童扶養手当の受給者と対象児童、支給区分。",
)

_src(
    "school_assistance",
    "就学援助",
    [_CHILD_NAME_GROUP, _CHILD_BIRTH_GROUP],
    [
        _f("start_date", "認定日", "date", ["認定日", "認定年月日", "援助開始日", "援助開始年月日"] + _START),
        _f(
            "category",
            "認定区分",
            "category",
            ["認定区分", "区分", "要保護準要保護", "援助区分", "種別", "認定種別"],
            values=["要保護", "準要保護"],
            aliases=[("要保護", "要保護"), ("準要保護", "準要保護"), ("準要", "準要保護"), ("準", "準要保護")],
        ),
    ],
    "start_date",
    child_forms=True,
    sufficient=("resident_no", "child_resident_no"),
    description="就学援助の認定（要保護・準要保護）。",
)

_src(
    "tax",
    "住民税課税状況",
    [_NAME_GROUP, ("birth_date",)],
    [
        _f(
            "tax_status",
            "課税区分",
            "category",
            [
                "課税区分",
                "課税状況",
                "課税非課税",
                "課否",
                "課税非課税区分",
                "住民税課税区分",
                "住民税",
                "課税",
                "課税状態",
                "非課税区分",
                "課税非課税の別",
                "住民税課税状況",
            ],
            values=["課税", "非課税"],
            aliases=[
                ("非課税", "非課税"),
                ("非", "非課税"),
                ("課税", "課税"),
                ("課", "課税"),
                ("均等割のみ", "課税"),
                ("所得割", "課税"),
            ],
        ),
        _f("fiscal_year", "年度", "year", ["年度", "課税年度", "賦課年度", "対象年度"]),
    ],
    None,
    sufficient=("resident_no",),
    description="住民税の課税・非課税。",
)

_src(
    "disability",
    "障害者手帳・障害児支援",
    [_CHILD_NAME_GROUP, _CHILD_BIRTH_GROUP],
    [
        _f(
            "certificate_type",
            "手帳種別",
            "category",
            [
                "手帳種別",
                "手帳の種類",
                "手帳種類",
                "種別",
                "障害種別",
                "手帳区分",
                "区分",
                "サービス種別",
                "障害の種別",
                "手帳",
            ],
            values=["身体", "療育", "精神", "障害児支援"],
            aliases=[
                ("身体障害者手帳", "身体"),
                ("身体障害", "身体"),
                ("身体", "身体"),
                ("身障", "身体"),
                ("療育手帳", "療育"),
                ("愛の手帳", "療育"),
                ("療育", "療育"),
                ("知的", "療育"),
                ("精神障害者保健福祉手帳", "精神"),
                ("精神保健福祉手帳", "精神"),
                ("精神", "精神"),
                ("障害児通所支援", "障害児支援"),
                ("障害児支援", "障害児支援"),
                ("通所受給者証", "障害児支援"),
                ("障害児通所", "障害児支援"),
                ("児童発達支援", "障害児支援"),
                ("放課後等デイサービス", "障害児支援"),
            ],
        ),
        _f(
            "grade_level",
            "等級・程度",
            "text",
            ["等級", "障害等級", "程度", "障害程度", "判定", "障害の程度", "等級程度", "障害程度区分"],
        ),
        _f(
            "mental_disorder_code",
            "主たる精神障害コード",
            "code",
            ["主たる精神障害コード", "精神障害コード", "疾病コード", "障害コード", "疾患コード", "主たる障害コード"],
        ),
        _f("recipient_cert_no", "受給者証番号", "code", ["受給者証番号", "受給者証no", "通所受給者証番号"]),
        _f(
            "start_date",
            "交付日・開始日",
            "date",
            [
                "交付日",
                "交付年月日",
                "支給開始日",
                "支給決定日",
                "決定日",
                "決定年月日",
                "認定日",
                "取得日",
                "手帳交付日",
            ]
            + _START,
        ),
    ],
    "start_date",
    child_forms=True,
    sufficient=("resident_no", "child_resident_no"),
    description="身体・療育・精神の手帳、障害児支援の受給者証。",
)

_SCHOOL_REQUIRED = [_NAME_GROUP, ("birth_date",), ("school",)]
_SCHOOL_HINTS = (("school", 1), ("grade", 1), ("class", 1), ("student_no", 1))
_src(
    "school_attendance",
    "出欠・遅刻・保健室",
    _SCHOOL_REQUIRED,
    [
        _f(
            "period", "対象期間", "text", ["対象月", "期間", "対象期間", "集計期間", "集計月", "年月", "対象年月", "月"]
        ),
        _f("absence_days", "欠席日数", "int", ["欠席日数", "欠席", "欠席数", "欠席日数計", "欠席日数合計"]),
        _f("late_days", "遅刻日数", "int", ["遅刻日数", "遅刻", "遅刻回数", "遅刻数"]),
        _f(
            "nurse_visits",
            "保健室来室回数",
            "int",
            ["保健室来室回数", "保健室利用回数", "来室回数", "保健室来室", "保健室利用", "保健室", "保健室来室数"],
        ),
        _f(
            "mental_check_result",
            "心の健康観察",
            "text",
            [
                "心の健康観察",
                "こころの健康観察",
                "健康観察結果",
                "心の健康観察結果",
                "こころの健康観察結果",
                "セルフメンタルチェック",
                "メンタルチェック",
                "心の天気",
                "判定結果",
                "メンタルチェック結果",
            ],
        ),
    ],
    None,
    hints=_SCHOOL_HINTS,
    description="学校の出欠・遅刻・保健室来室・心の健康観察。",
)

_src(
    "school_health",
    "学校健診",
    _SCHOOL_REQUIRED,
    [
        _f(
            "checkup_date",
            "健診日",
            "date",
            ["健診日", "検診日", "実施日", "健康診断日", "健康診断実施日", "測定日", "健診年月日", "受診日"],
        ),
        _f("weight", "体重", "number", ["体重", "体重kg"]),
        _f("weight_percentile", "体重パーセンタイル", "number", _PERCENTILE),
        _f(
            "untreated_caries",
            "未処置むし歯",
            "int",
            [
                "未処置歯",
                "未処置歯数",
                "未処置むし歯",
                "未処置う歯",
                "う歯未処置",
                "むし歯未処置",
                "未処置のむし歯",
                "未処置齲歯",
                "むし歯未処置数",
                "未処置う歯数",
            ],
        ),
    ],
    "checkup_date",
    hints=_SCHOOL_HINTS,
    description="学校の健康診断（体重・未処置むし歯）。",
)

_src(
    "yotaikyo",
    "要対協",
    [_NAME_GROUP, ("birth_date",)],
    [
        _f(
            "registered_date",
            "登録日",
            "date",
            ["登録日", "登録年月日", "受理日", "受理年月日", "ケース登録日", "進行管理登録日", "受付日", "受付年月日"],
        ),
        _f(
            "category",
            "種別",
            "category",
            ["種別", "虐待種別", "登録種別", "区分", "主たる虐待種別", "登録区分", "虐待の種別", "主訴"],
            values=["身体的虐待", "ネグレクト", "心理的虐待", "性的虐待", "要支援", "特定妊婦"],
            aliases=[
                ("身体的虐待", "身体的虐待"),
                ("身体的", "身体的虐待"),
                ("身体虐待", "身体的虐待"),
                ("ネグレクト", "ネグレクト"),
                ("養育放棄", "ネグレクト"),
                ("心理的虐待", "心理的虐待"),
                ("心理的", "心理的虐待"),
                ("心理虐待", "心理的虐待"),
                ("性的虐待", "性的虐待"),
                ("性的", "性的虐待"),
                ("性虐待", "性的虐待"),
                ("要支援児童", "要支援"),
                ("要支援", "要支援"),
                ("特定妊婦", "特定妊婦"),
            ],
        ),
        _f(
            "status",
            "状況",
            "category",
            ["状況", "進行状況", "ケース状況", "管理状況", "状態", "進行管理状況", "継続終結"],
            values=["継続", "終結"],
            aliases=[
                ("継続", "継続"),
                ("継続中", "継続"),
                ("管理中", "継続"),
                ("終結", "終結"),
                ("終了", "終結"),
                ("解除", "終結"),
            ],
        ),
        _f(
            "temporary_protection",
            "一時保護",
            "flag",
            ["一時保護", "一時保護歴", "一時保護の有無", "一時保護有無", "一時保護あり"],
        ),
        _f("closed_date", "終結日", "date", ["終結日", "終結年月日", "終了日", "終了年月日", "解除日"]),
    ],
    "registered_date",
    sufficient=("resident_no",),
    description="要保護児童対策地域協議会の進行管理台帳・一時保護。",
)

_src(
    "consultation",
    "相談記録",
    [_CHILD_NAME_GROUP],
    [
        _f(
            "consultation_date",
            "相談日",
            "date",
            ["相談日", "相談年月日", "受付日", "受付年月日", "対応日", "対応年月日", "相談受付日"],
        ),
        _f(
            "category",
            "相談種別",
            "category",
            ["相談種別", "主訴", "相談内容", "相談区分", "区分", "種別", "相談内容区分", "相談の種類"],
            values=["DV", "育児", "経済", "不登校", "ヤングケアラー"],
            aliases=[
                ("dv", "DV"),
                ("配偶者暴力", "DV"),
                ("dv相談", "DV"),
                ("ドメスティックバイオレンス", "DV"),
                ("育児", "育児"),
                ("子育て", "育児"),
                ("育児相談", "育児"),
                ("経済", "経済"),
                ("経済的困窮", "経済"),
                ("生活困窮", "経済"),
                ("不登校", "不登校"),
                ("ヤングケアラー", "ヤングケアラー"),
            ],
        ),
        _f(
            "dv_support_measure",
            "DV等支援措置",
            "flag",
            [
                "dv等支援措置",
                "支援措置",
                "dv支援措置",
                "住民票支援措置",
                "支援措置の有無",
                "dv等支援措置の有無",
                "支援措置有無",
            ],
        ),
    ],
    "consultation_date",
    child_forms=True,
    sufficient=("resident_no", "child_resident_no"),
    description="こども家庭センター等の相談記録（DV・育児・経済・不登校・ヤングケアラー…）。",
)

_src(
    "school_checklist",
    "観察チェックリスト",
    [_NAME_GROUP, ("school",)],
    [
        _f("round", "実施回", "text", ["回", "実施回", "調査回", "ラウンド", "実施時期", "回次"]),
    ],
    None,
    hints=_SCHOOL_HINTS,
    description="学校の観察チェックリスト（アプリが書き出したブックの取り込み）。",
)


def _type_json(st: SourceType) -> dict:
    ident = {f.name: {"label": f.label, "type": f.type} for f in IDENTITY}
    if st.child_forms:
        ident.update({f.name: {"label": f.label, "type": f.type} for f in CHILD_FIELDS})
    return {
        "label": st.label,
        "required": [list(g) for g in st.required],
        "identity": ident,
        "attributes": {
            a.name: {"label": a.label, "type": a.type, **({"values": list(a.values)} if a.values else {})}
            for a in st.attributes
        },
        "record_date": st.record_date or "as_of",
        "child_fields": st.child_forms,
        "description": st.description,
    }


# JSON-able view used across the app: SOURCE_TYPES[key]["label"], ["identity"], ["attributes"] …
SOURCE_TYPES: dict[str, dict] = {k: _type_json(v) for k, v in SOURCES.items()}


def field_spec(source_type: str, name: str) -> FieldSpec | None:
    st = SOURCES[source_type]
    return st.attribute(name) or IDENTITY_BY_NAME.get(name) or (CHILD_BY_NAME.get(name) if st.child_forms else None)


# --- header keys ------------------------------------------------------------------------------------------------------
_STRIP = re.compile(r"[\s\u3000\u200b・･·_\-‐‑–—―−ｰ/／\\:：.。、,，※*＊#＃'\"’”“`~〜～!！?？]+")
_BRACKETS = re.compile(r"[()（）\[\]［］【】「」『』<>＜＞《》〈〉〔〕{}｛｝]")
_BRACKET_CONTENT = re.compile(r"[(（\[［【「『<＜《〈〔{｛][^)）\]］】」』>＞》〉〕}｝]*[)）\]］】」』>＞》〉〕}｝]")
_HIRA = re.compile("[\u3041-\u3096]")


def _kata(s: str) -> str:
    return _HIRA.sub(lambda m: chr(ord(m.group()) + 0x60), s)


@lru_cache(maxsize=8192)
def header_key(h) -> str:
    """The matching key of a header: NFKC, katakana, lower-case, no spaces/brackets/punctuation."""
    s = unicodedata.normalize("NFKC", "" if h is None else str(h))
    return _kata(_STRIP.sub("", _BRACKETS.sub("", s))).lower()


@lru_cache(maxsize=8192)
def _header_keys(h) -> tuple[str, ...]:
    s = unicodedata.normalize("NFKC", "" if h is None else str(h))
    full = header_key(h)
    bare = _kata(_STRIP.sub("", _BRACKETS.sub("", _BRACKET_CONTENT.sub("", s)))).lower()
    # leading question numbers: "Q3 感情的に叩いた", "問3", "設問3", "3."
    noq = re.sub(r"^(?:q|問|設問|no)?\d+", "", full)
    return tuple(dict.fromkeys(k for k in (full, bare, noq) if k))


_CHILD_ROLES = (
    "対象児童情報",
    "児童情報",
    "こども情報",
    "子ども情報",
    "生徒情報",
    "児童生徒情報",
    "対象児童",
    "対象児",
    "対象こども",
    "対象子ども",
    "対象の子",
    "児童生徒",
    "児童",
    "生徒",
    "こども",
    "子ども",
    "子供",
    "乳幼児",
    "幼児",
    "乳児",
    "新生児",
    "出生児",
    "児",
    "子",
)
_SELF_ROLES = (
    "受給者情報",
    "本人情報",
    "受給者本人",
    "受給者",
    "本人",
    "被保護者",
    "対象者",
    "妊婦",
    "産婦",
    "届出者",
    "手帳所持者",
    "所持者",
    "利用者",
    "納税者",
    "納税義務者",
    "世帯員",
    "個人",
    "相談対象者",
)
_OTHER_ROLES = (
    "保護者情報",
    "世帯主情報",
    "保護者",
    "世帯主",
    "母親",
    "父親",
    "母",
    "父",
    "申請者",
    "請求者",
    "養育者",
    "扶養義務者",
    "配偶者",
    "相談者",
    "親",
)
_ROLES: tuple[tuple[str, str], ...] = tuple(
    sorted(
        [(header_key(r), "child") for r in _CHILD_ROLES]
        + [(header_key(r), "self") for r in _SELF_ROLES]
        + [(header_key(r), "other") for r in _OTHER_ROLES],
        key=lambda x: -len(x[0]),
    )
)


_NEUTRAL_WORDS = (
    "出欠",
    "出欠の記録",
    "出席",
    "健診",
    "健康診断",
    "保健室",
    "アンケート",
    "問診",
    "基本",
    "学籍",
    "在籍",
    "支給",
    "認定",
    "手帳",
    "課税",
    "相談",
    "登録",
    "ケース",
    "受診",
    "接種",
    "予防接種",
    "異動",
    "世帯",
    "学校",
    "所属",
    "期間",
    "集計",
)
_NEUTRAL_KEYS = tuple(sorted({header_key(w) for w in _NEUTRAL_WORDS}, key=len, reverse=True))
_NEUTRAL_TAIL = re.compile("情報|状況|結果|記録|内容|データ|項目")


@lru_cache(maxsize=65536)
def _neutral_bases_of(k: str) -> tuple[str, ...]:
    """:func:`_neutral_bases`, remembered (the same for every source type: each header once, not once per type)."""
    return tuple(_neutral_bases(k))


def _neutral_bases(k: str):
    for w in _NEUTRAL_KEYS:
        if k.startswith(w) and len(k) > len(w):
            yield k[len(w) :]
    for m in _NEUTRAL_TAIL.finditer(k, 1, 12):
        if m.end() < len(k):
            yield k[m.end() :]


def _build_index(specs: Iterable[FieldSpec]) -> dict[str, tuple[str, int]]:
    idx: dict[str, tuple[str, int]] = {}
    for spec in specs:
        for rank, h in enumerate((spec.label,) + spec.headers):
            k = header_key(h)
            if k and k not in idx:
                idx[k] = (spec.name, rank)
    return idx


_IDENTITY_INDEX = _build_index([f for f in IDENTITY])
_ATTR_INDEX = {k: _build_index(st.attributes) for k, st in SOURCES.items()}
_PERSON_BASE_INDEX = {k: v for k, v in _IDENTITY_INDEX.items() if v[0] in PERSON_FIELDS}


@dataclass(frozen=True)
class _Match:
    field: str
    rank: int
    role: str | None  # child / self / other when the header carried a person prefix/suffix
    attribute: bool


def _match(st: SourceType, header) -> _Match | None:
    keys = _header_keys(header)
    attr = _ATTR_INDEX[st.key]
    for k in keys:
        if k in attr:
            return _Match(attr[k][0], attr[k][1], None, True)
        if k in _IDENTITY_INDEX:
            name, rank = _IDENTITY_INDEX[k]
            return _Match(name, rank, None, False)
        m = _role_match(k)
        if m is not None:
            return m
    return _loose_match(st, keys, [b for k in keys for b in _neutral_bases_of(k)])


@lru_cache(maxsize=65536)  # the same for every source type (roles and identity fields are fixed): once per key
def _role_match(k: str) -> _Match | None:
    """Person prefix or suffix + identity base: 対象児童氏名, 氏名（保護者）."""
    for rk, role in _ROLES:
        base = k[len(rk) :] if k.startswith(rk) else (k[: -len(rk)] if k.endswith(rk) and len(k) > len(rk) else None)
        if base and base in _PERSON_BASE_INDEX:
            name, rank = _PERSON_BASE_INDEX[base]
            if name == "given_name":  # 児童名, 保護者名, 受給者名: the whole name
                name = "name"
            return _Match(name, rank + 50, role, False)
    return None


def _loose_match(st: SourceType, keys: tuple[str, ...], bases: list[str]) -> _Match | None:
    """The weaker rules, after no key matched exactly or with a person prefix: ``bases`` (the keys without a neutral
    group label, in the keys' order), then fragments."""
    attr = _ATTR_INDEX[st.key]
    for base in bases:  # a neutral group label above the header (出欠 / 欠席日数, 健診結果 / 受診日, 基本情報 / 氏名)
        if base in attr:
            return _Match(attr[base][0], attr[base][1] + 20, None, True)
        if base in _IDENTITY_INDEX:
            name, rank = _IDENTITY_INDEX[base]
            return _Match(name, rank + 20, None, False)
    frags = _FRAGMENTS.get(st.key)
    if frags is None:
        frags = _FRAGMENTS[st.key] = tuple(
            (a.name, tuple(header_key(c) for c in a.contains)) for a in st.attributes if a.contains
        )
    for k in keys:  # fragments (questionnaire items, EPDS)
        for name, parts in frags:
            if any(c in k for c in parts):
                return _Match(name, 100, None, True)
    return None


_FRAGMENTS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {}  # source type → (field, fragment keys)
_ANY_FRAGMENT: list[re.Pattern] = []  # [every type's fragments as one pattern]: reset with town types


def _any_fragment() -> re.Pattern:
    """One pattern for the fragments of every source type (a cell none of them is in matches no type's fragment)."""
    if not _ANY_FRAGMENT:
        parts = {header_key(c) for st in SOURCES.values() for a in st.attributes if a.contains for c in a.contains}
        _ANY_FRAGMENT.append(re.compile("|".join(re.escape(p) for p in sorted(parts, key=len, reverse=True))))
    return _ANY_FRAGMENT[0]


_DIGIT_ANCHORS: list[bool] = []  # [whether some header word is all digits]: computed once, reset with town types


def _digits_can_match() -> bool:
    """Whether a header cell made only of digits could name a field: only if some key, role, neutral word or
    fragment is itself all digits (none of the shipped ones is). A data row's amounts and codes are then refused
    without running the matcher over every source type."""
    if not _DIGIT_ANCHORS:
        words = set(_ALL_INDEX) | {k for k, _ in _ROLES} | set(_NEUTRAL_KEYS)
        for st in SOURCES.values():
            words |= set(_ATTR_INDEX[st.key])
            words |= {header_key(c) for a in st.attributes for c in a.contains}
        _DIGIT_ANCHORS.append(any(not w or w.isdigit() for w in words))
    return _DIGIT_ANCHORS[0]


def _role_field(st: SourceType, name: str, role: str | None) -> str | None:
    if role == "child":
        return "child_" + name if st.child_forms and name in CHILD_BASE else (name if not st.child_forms else None)
    if role == "other" and not st.child_forms:
        return None  # a guardian's name in a pupil's row: kept raw, never the pupil's identity
    return name


_MATCHES: dict[tuple[str, str], _Match | None] = {}  # (source type, header) → _match: reset with town types


def _match_memo(st: SourceType, header) -> _Match | None:
    """``_match``, remembered: the guards map every header of a wide file under every source type."""
    if not isinstance(header, str):
        return _match(st, header)
    key = (st.key, header)
    try:
        return _MATCHES[key]
    except KeyError:
        if len(_MATCHES) > 200_000:
            _MATCHES.clear()
        m = _MATCHES[key] = _match(st, header)
        return m


@lru_cache(maxsize=65536)
def _role_prefix(k: str) -> str | None:
    """The person role a header key starts with (対象児童…, 保護者…), if any: fixed, so once per key."""
    return next((role for rk, role in _ROLES if k.startswith(rk)), None)


def detect_mapping(source_type: str, headers: list[str], overrides: dict | None = None) -> dict[str, str]:
    """Map a file's headers to canonical fields (each field at most once). ``overrides`` (``--map``) win: a column
    they name is mapped as they say (or left unmapped when the field is empty/``-``), and a detected column whose
    field an override claims is dropped."""
    st = SOURCES.get(source_type)
    if st is None:
        raise ImportRefused(f"取込元の種類「{source_type}」はありません（{', '.join(SOURCES)}）。")
    found: list[tuple[int, str, str, int]] = []  # (position, header, field, rank)
    ctx: str | None = None
    for pos, h in enumerate(headers):
        m = _match_memo(st, h)
        if m is None:
            r = _role_prefix(header_key(h))
            if r:
                ctx = r
            continue
        if m.attribute:
            ctx = None
            found.append((pos, h, m.field, m.rank))
            continue
        name = m.field
        if m.role is not None:
            ctx = m.role
            f = _role_field(st, name, m.role)
        elif name in PERSON_FIELDS and ctx is not None:
            if st.child_forms:
                f = _role_field(st, name, ctx) if ctx == "child" else name
            else:
                f = None if (ctx == "other" and name in _KANA_FIELDS) else name
        else:
            f = name
        if f is not None:
            found.append((pos, h, f, m.rank))
    # each field once: the best-ranked synonym wins, then the leftmost column
    best: dict[str, tuple[int, int, str]] = {}
    for pos, h, f, rank in found:
        if f not in best or (rank, pos) < best[f][:2]:
            best[f] = (rank, pos, h)
    chosen = {h: f for f, (_, _, h) in best.items()}
    mapping = {h: chosen[h] for h in headers if h in chosen}
    return merge_mapping(mapping, overrides) if overrides else mapping


def merge_mapping(detected: dict, *overrides: dict | None) -> dict[str, str]:
    """Apply overrides in order: each names columns (header → field, or ''/None/'-' to leave it unmapped); a column
    the override names takes that field, and any other column that had the field loses it."""
    out = {h: f for h, f in detected.items() if f}
    for ov in overrides:
        for h, f in (ov or {}).items():
            f = _clean_field(f)
            out.pop(h, None)
            if f:
                for other in [o for o, of in out.items() if of == f]:
                    del out[other]
                out[h] = f
    return out


def _clean_field(f) -> str | None:
    if f is None:
        return None
    f = str(f).strip()
    return None if f.lower() in ("", "-", "ignore", "none", "無視") else f


def check_mapping(source_type: str, mapping: dict) -> dict[str, str]:
    """The effective mapping (unmapping values dropped) after checking every field name exists for the source
    type and no field is taken by two columns; refuses (ImportRefused) otherwise."""
    st = SOURCES[source_type]
    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    for h, f in mapping.items():
        f = _clean_field(f)
        if not f:
            continue
        if field_spec(source_type, f) is None:
            raise ImportRefused(
                f"項目名「{f}」は {st.label}（{source_type}）にはありません。"
                "kodomo-desktop-cli fields で項目名の一覧を確認できます。"
            )
        if f in seen:
            raise ImportRefused(
                f"項目「{f}」に2つの列（「{seen[f]}」と「{h}」）が割り当てられています。どちらか一方にしてください。"
            )
        seen[f] = str(h)
        out[h] = f
    return out


def suggest_source_type(headers: list[str]) -> list[str]:
    """Source types ranked by how well the headers fit them (best first); types nothing fits are left out."""
    scored = []
    for i, (key, st) in enumerate(SOURCES.items()):
        mapping = detect_mapping(key, headers)
        fields = set(mapping.values())
        attrs = sum(1 for f in fields if st.attribute(f) is not None)
        ident = len(fields) - attrs
        hints = sum(w for f, w in st.hints if f in fields)
        child = sum(1 for f in fields if f.startswith("child_"))
        score = 4 * attrs + ident + hints + child
        if _missing_required(st, fields) is None:
            score += 2
        if attrs == 0 and hints == 0:
            score = min(score, 3)  # identity columns alone say little about the department
        if score > 0:
            scored.append((-score, i, key))
    return [k for _, _, k in sorted(scored)]


def _missing_required(st: SourceType, fields: set[str]) -> tuple[str, ...] | None:
    ident_ok = any(f in fields for f in st.sufficient)
    for group in st.required:
        if any(f in fields for f in group):
            continue
        if ident_ok and not any(g in ("school",) for g in group):
            continue
        return group
    return None


def missing_required(source_type: str, fields: Iterable[str]) -> tuple[str, ...] | None:
    """The first required group none of whose fields is mapped (None when all are satisfied)."""
    return _missing_required(SOURCES[source_type], set(fields))


def required_label(source_type: str, group: tuple[str, ...]) -> str:
    spec = field_spec(source_type, group[0])
    return spec.label if spec else group[0]


# --- header-row detection support -------------------------------------------------------------------------------------
_ALL_INDEX: dict[str, str] = {}
for _st in SOURCES.values():
    for _k, (_n, _) in _ATTR_INDEX[_st.key].items():
        _ALL_INDEX.setdefault(_k, _n)
for _k, (_n, _) in _IDENTITY_INDEX.items():
    _ALL_INDEX.setdefault(_k, _n)
_WEAK = {
    header_key(x)
    for x in (
        "年",
        "月",
        "名",
        "氏",
        "性",
        "回",
        "組",
        "世帯",
        "宛名",
        "id",
        "区分",
        "種別",
        "健診",
        "受診",
        "課税",
        "手帳",
        "住民税",
        "保健室",
        "欠席",
        "遅刻",
        "状況",
        "状態",
        "期間",
        "判定",
        "程度",
        "支給",
        "学校",
        "かな",
        "カナ",
        "読み",
        "よみ",
        "性別",
        "体重",
    )
}


@lru_cache(maxsize=16384)
def known_header(cell) -> str | None:
    """The canonical field a header cell names in any source type, ``role:field`` when it carries a person prefix
    (``child:name`` for 対象児童氏名); None if it names none."""
    if cell is None:
        return None
    s = str(cell)
    if not s.strip() or len(s) > 40:
        return None
    if s.isascii() and s.isdigit() and not _digits_can_match():
        return None  # (what the digits rule below finds, without the keys: a data row's numbers are most cells)
    keys = _header_keys(s)
    for k in keys:
        if k in _ALL_INDEX:
            return _ALL_INDEX[k]
    if all(k.isdigit() for k in keys) and not _digits_can_match():
        return None  # an amount, a code, a date in a data row: no source type's matcher can name it
    # what _match(st, s) would find for the first source type that matches, computed once for every type: no key
    # is an exact field of any type (above), so only the person-prefix rule (the same for every type) and the
    # weaker per-type rules remain
    for k in keys:
        m = _role_match(k)
        if m is not None:
            return f"{m.role}:{m.field}" if m.role else m.field
    bases = [b for k in keys for b in _neutral_bases_of(k)]
    if not any(b in _ALL_INDEX for b in bases) and not any(_any_fragment().search(k) for k in keys):
        return None  # no base names a field of any type, no type's fragment is in it: _loose_match finds nothing
    for st in SOURCES.values():
        m = _loose_match(st, keys, bases)
        if m is not None:
            return f"{m.role}:{m.field}" if m.role else m.field
    return None


def header_score(cells) -> float:
    """How much a row looks like a header: distinct canonical fields named, weak one-word headers counting half."""
    seen: dict[str, float] = {}
    for c in cells:
        f = known_header(c) if isinstance(c, str) else None
        if f:
            w = 0.5 if header_key(c) in _WEAK else 1.0
            seen[f] = max(seen.get(f, 0.0), w)
    return sum(seen.values())


# --- catalogue (kodomo-desktop-cli fields) ------------------------------------------------------------------------------
def fields_catalogue() -> dict:
    """Every source type with its label, required fields, identity and attribute fields (JSON-able)."""
    types = []
    for key, st in SOURCES.items():
        ident = [f.to_json() for f in IDENTITY]
        if st.child_forms:
            ident += [
                {
                    "field": f.name,
                    "label": f.label,
                    "type": f.type,
                    "headers": [f"対象児童{IDENTITY_BY_NAME[f.name[6:]].label}"],
                }
                for f in CHILD_FIELDS
            ]
        types.append(
            {
                "source_type": key,
                "label": st.label,
                "description": st.description,
                "required": [list(g) for g in st.required],
                "required_labels": [required_label(key, g) for g in st.required],
                "identity_sufficient": list(st.sufficient),
                "identity": ident,
                "attributes": [a.to_json() for a in st.attributes],
                "record_date": st.record_date or "as_of",
                "child_fields": st.child_forms,
            }
        )
    return {
        "source_types": types,
        "notes": {
            "unmapped": "対応づけのない列は元の値のまま属性（extra）として保持し、こどもの画面に表示します。",
            "map": "--map 列名=項目名 で自動判定を上書きします（項目名を空にするとその列を対応づけません）。",
            "sex": "性別は 1=男 2=女。",
            "dates": "日付は ISO（YYYY-MM-DD）で保存します。",
        },
    }


# --- source types the town defines (core/catalogue/town.py) ------------------------------------------------------------
SHIPPED_SOURCES: frozenset[str] = frozenset(SOURCES)
_TOWN_KEYS: set[str] = set()


def register_town_types(types: Iterable[SourceType]) -> None:
    """Make the town's own source types known to the importer, the linkage and the scoring engine (replacing the
    ones registered before). The twelve shipped types cannot be replaced. The same types again (every workspace
    open registers the town's types) change nothing and keep the header-matching caches."""
    types = list(types)
    if sorted(_TOWN_KEYS) == sorted(st.key for st in types) and all(SOURCES.get(st.key) == st for st in types):
        return
    for key in list(_TOWN_KEYS):
        SOURCES.pop(key, None)
        SOURCE_TYPES.pop(key, None)
        _ATTR_INDEX.pop(key, None)
    _TOWN_KEYS.clear()
    for st in types:
        if st.key in SHIPPED_SOURCES:
            raise ImportRefused(f"取込元の種類「{st.key}」は既定の種類です。別の名前にしてください。")
        SOURCES[st.key] = st
        SOURCE_TYPES[st.key] = _type_json(st)
        _ATTR_INDEX[st.key] = _build_index(st.attributes)
        _TOWN_KEYS.add(st.key)
    _ALL_INDEX.clear()
    for _s in SOURCES.values():
        for k, (n, _) in _ATTR_INDEX[_s.key].items():
            _ALL_INDEX.setdefault(k, n)
    for k, (n, _) in _IDENTITY_INDEX.items():
        _ALL_INDEX.setdefault(k, n)
    _FRAGMENTS.clear()
    _ANY_FRAGMENT.clear()
    _DIGIT_ANCHORS.clear()
    _MATCHES.clear()
    known_header.cache_clear()


def town_type_keys() -> list[str]:
    return sorted(_TOWN_KEYS)
