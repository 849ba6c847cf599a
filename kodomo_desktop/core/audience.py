"""Who may see what: ONE place deciding, for each audience a document (or export, or hand-off) is made for, which
source types, fact kinds, fields, points and department names it may carry. Every output asks it.

Audiences::

    conference           要対協の会議（個別ケース検討会議・実務者会議）: everything the town holds that bears on support
    school               a school's teachers (情報収集シート, risk-only lists): the child's own school-held facts only
    nursery              a nursery / こども園: the child's own facts a nursery holds or may hear of, nothing welfare
    public_health_nurse  the town's 保健師: own facts incl. 母子保健, no poverty proxies, no 要対協/DV/相談 records
    handover             the receiving school / teacher of a 引継ぎシート (進学・転校・担任交代・転出): like a school
    family_disclosure    the family itself (開示): its own records, no third party's facts, no 通告・相談 records
    outside_body         an NPO, SSW or researcher given a risk-only hand-off: no names, no welfare, no points

The rules are *allow-lists*: a new source type or fact kind is hidden from every restricted audience until it is
added here. School- and nursery-facing outputs carry no welfare-only fact (no 虐待 / 生活保護 / 要対協 / DV / 障害 /
税 facts, no difficulty types, no points, no department names) and no household fact (a sibling's flag is the
household's, not the child's own record) — and :meth:`Audience.scrub_check` is the last guard: the words of
:data:`WELFARE_WORDS` must not appear in anything printed for them.

Reasons may be plain dicts (``reports.data.ScoreReader``, the stored ``ChildScore.details``) or typed objects
(the scoring engine's ``Reason`` dataclass): fields are read by name either way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import IntegrityFailure

# --- what kind of fact ---------------------------------------------------------------------------------------------
OWN = "own"
HOUSEHOLD = "household"
POVERTY_PROXY = "poverty_proxy"
PROTECTIVE = "protective"
FACT_KINDS = (OWN, HOUSEHOLD, POVERTY_PROXY, PROTECTIVE)

SCHOOL_SOURCES = frozenset({"school_attendance", "school_health", "school_checklist"})
HEALTH_SOURCES = frozenset({"maternal_child_health"})
POVERTY_SOURCES = frozenset({"public_assistance", "tax", "school_assistance", "child_rearing_allowance"})
WELFARE_SOURCES = frozenset(
    {
        "public_assistance",
        "child_rearing_allowance",
        "school_assistance",
        "tax",
        "disability",
        "yotaikyo",
        "consultation",
        "maternal_child_health",
    }
)
ALL_SOURCES = None  # sentinel: every source type
HOUSEHOLD_INDICATORS = frozenset({"sibling", "sibling_flagged", "multi_child"})
_OWN_WHOSE = {"", "本人", "self", "child", None}

# Words no school-, nursery- or handover-facing page may carry (a welfare-only fact or a department that holds one).
WELFARE_WORDS = (
    "虐待",
    "生活保護",
    "要対協",
    "要保護",
    "要支援児童",
    "特定妊婦",
    "児童扶養手当",
    "ひとり親",
    "障害",
    "手帳",
    "非課税",
    "課税",
    "住民税",
    "就学援助",
    "DV",
    "ＤＶ",
    "配偶者暴力",
    "一時保護",
    "児童相談所",
    "相談記録",
    "貧困",
    "困窮",
    "産後うつ",
    "EPDS",
    "福祉課",  # a department; not bare 福祉, which a school's own name may carry
    "こども家庭課",
    "子育て支援課",
    "税務課",
    "生活支援課",
    "点数",
    "スコア",
    "きょうだいに抽出",
)

FIELDS = frozenset(
    {
        "name",  # full name (else initials)
        "kana",
        "address",
        "resident_no",  # the registry's 宛名番号 / 整理番号
        "birth_date",
        "points",  # any point figure, totals, bands
        "band",
        "types",  # 困難の種別 (虐待, 貧困, …)
        "department",  # the department that holds a source
        "source",  # the source's name (出欠・遅刻・保健室)
        "file",  # the imported file and batch
        "yotaikyo",  # 要対協 registration, category, closure
        "household_flags",  # a household member's flags or scores
        "household",  # the household's members (names, 続柄)
        "decisions",  # classifications, conference decisions, 協議メモ
        "support",  # the support plan and progress records
        "no_data",  # which sources hold no data on the child
        "pending",  # records waiting in the 名寄せ review queue
    }
)


def _get(obj: Any, name: str, default=None):
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def fact_kind(reason: Any) -> str:
    """own / household / poverty_proxy / protective for one reason or catalogue indicator.

    Uses the reason's own ``fact_kind`` / ``kind`` when it is one of :data:`FACT_KINDS` (the scoring catalogue
    says it); otherwise derives it: a protective reason, a poverty source, a sibling / household rule or another
    member's record, else the child's own record."""
    for key in ("fact_kind", "kind"):
        k = _get(reason, key)
        if k in FACT_KINDS:
            return k
    if _get(reason, "protective") or _get(reason, "kind") == "protective":
        return PROTECTIVE
    st = _get(reason, "source_type")
    if st in POVERTY_SOURCES:
        return POVERTY_PROXY
    ind = str(_get(reason, "indicator") or _get(reason, "id") or "")
    if ind in HOUSEHOLD_INDICATORS or ind.startswith("sibling"):
        return HOUSEHOLD
    whose = _get(reason, "whose")
    if whose not in _OWN_WHOSE and whose not in ("child",):
        return HOUSEHOLD
    subject = _get(reason, "subject")
    if subject not in _OWN_WHOSE:
        return HOUSEHOLD
    return OWN


@dataclass(frozen=True)
class Audience:
    key: str
    label: str  # Japanese, printed in the footer / log
    sources: frozenset | None  # allowed source types (None: all)
    kinds: frozenset  # allowed fact kinds
    fields: frozenset  # allowed fields (see FIELDS)
    welfare_free: bool = False  # nothing of WELFARE_WORDS may be printed
    respect_sheet_flag: bool = False  # an indicator marked shown_on_sheets = false is hidden
    initials_only: bool = False
    notes: str = ""
    extra_words: tuple = field(default_factory=tuple)
    own_records_only: bool = False  # a reason drawn from another person's record (a household member's) is hidden

    # sources, fields ----------------------------------------------------------------------------------------------
    def sees_source(self, source_type: str | None) -> bool:
        if source_type in (None, ""):
            return self.sources is None or self.key in _UNSOURCED_OK
        return self.sources is None or source_type in self.sources

    def sees(self, field_name: str) -> bool:
        if field_name not in FIELDS:
            raise KeyError(f"unknown audience field {field_name!r}")
        return field_name in self.fields

    def department(self, name: str | None) -> str:
        return (name or "") if self.sees("department") else ""

    # reasons --------------------------------------------------------------------------------------------------------
    def sees_reason(self, reason: Any, person_id: str | None = None) -> bool:
        """May this audience see that the child has this item (a scoring reason, protective factor, or record)?
        With ``person_id`` (whose document it is), an audience with ``own_records_only`` sees only reasons drawn
        from that person's own records."""
        if self.own_records_only and person_id is not None and _get(reason, "person_id") not in (None, "", person_id):
            return False
        if not self.sees_source(_get(reason, "source_type")):
            return False
        if fact_kind(reason) not in self.kinds:
            return False
        if self.respect_sheet_flag and _get(reason, "shown_on_sheets") is False:
            return False
        if self.welfare_free and self.scrub_check(str(_get(reason, "label") or "")):
            return False
        return True

    def reasons(self, reasons: Iterable[Any] | None, person_id: str | None = None) -> list:
        return [r for r in (reasons or []) if self.sees_reason(r, person_id)]

    def sees_record(self, record: Any) -> bool:
        """A linked source record (dict with ``source_type``) of the child."""
        return self.sees_source(_get(record, "source_type"))

    # the last guard -----------------------------------------------------------------------------------------------
    def scrub_check(self, text: str) -> list[str]:
        """The forbidden words found in ``text`` ([] when the audience may read anything, or nothing was found)."""
        if not self.welfare_free or not text:
            return []
        return [w for w in WELFARE_WORDS + tuple(self.extra_words) if w in text]

    def assert_clean(self, text: str, where: str = "") -> None:
        found = self.scrub_check(text)
        if found:
            raise IntegrityFailure(
                f"{self.label}の帳票に載せられない語（{'、'.join(found)}）が含まれています"
                + (f"（{where}）" if where else "")
                + "。出力を中止しました。"
            )


_UNSOURCED_OK = {"conference", "family_disclosure"}
_ALL_FIELDS = FIELDS
_SCHOOLISH = frozenset({"name", "kana", "birth_date", "source", "no_data"})

AUDIENCES: dict[str, Audience] = {
    "conference": Audience(
        "conference",
        "要対協の会議",
        ALL_SOURCES,
        frozenset(FACT_KINDS),
        _ALL_FIELDS,
        notes="個別ケース検討会議・実務者会議の参加者（守秘義務: 児童福祉法第25条の5）",
    ),
    "school": Audience(
        "school",
        "学校向け",
        SCHOOL_SOURCES,
        frozenset({OWN, PROTECTIVE}),
        _SCHOOLISH,
        welfare_free=True,
        respect_sheet_flag=True,
        notes="学校が自ら保有する本人の記録だけ。点数・種別・担当課・世帯の事情は載せない",
    ),
    "nursery": Audience(
        "nursery",
        "保育所・園向け",
        SCHOOL_SOURCES,
        frozenset({OWN, PROTECTIVE}),
        _SCHOOLISH,
        welfare_free=True,
        respect_sheet_flag=True,
        notes="園と共有してよい本人の記録だけ（母子保健・福祉の記録は載せない）",
    ),
    "public_health_nurse": Audience(
        "public_health_nurse",
        "保健師向け",
        SCHOOL_SOURCES | HEALTH_SOURCES | {"resident_registry"},
        frozenset({OWN, HOUSEHOLD, PROTECTIVE}),
        frozenset({"name", "kana", "address", "birth_date", "source", "file", "household", "no_data", "pending"}),
        notes="母子保健・学校の本人の記録と世帯構成。生活保護・税・要対協・相談記録・点数は載せない",
    ),
    "handover": Audience(
        "handover",
        "引継ぎ先向け",
        SCHOOL_SOURCES,
        frozenset({OWN, PROTECTIVE}),
        _SCHOOLISH,
        welfare_free=True,
        respect_sheet_flag=True,
        notes="進学先・転校先・新しい担任・転出先の学校: 学校が保有する本人の記録だけ",
    ),
    "family_disclosure": Audience(
        "family_disclosure",
        "本人・家族への開示",
        frozenset(  # an explicit allow-list: a new source type is not disclosed by default
            {
                "resident_registry",
                "maternal_child_health",
                "public_assistance",
                "child_rearing_allowance",
                "school_assistance",
                "tax",
                "disability",
                "school_attendance",
                "school_health",
                "school_checklist",
            }
        ),
        frozenset({OWN, POVERTY_PROXY, PROTECTIVE}),
        frozenset({"name", "kana", "address", "resident_no", "birth_date", "source", "department", "file", "no_data"}),
        notes="本人の記録だけ。ほかの世帯員の記録・通告や相談の記録（要対協・相談記録）は載せない",
        own_records_only=True,
    ),
    "outside_body": Audience(
        "outside_body",
        "外部機関向け",
        SCHOOL_SOURCES,
        frozenset({OWN, PROTECTIVE}),
        frozenset({"source", "no_data"}),
        welfare_free=True,
        respect_sheet_flag=True,
        initials_only=True,
        notes="NPO・SSW・研究者: 見守りの対象であることと学校の記録だけ。氏名・点数・福祉の事実は載せない",
    ),
}
SCHOOL_FACING = frozenset({"school", "nursery", "handover", "outside_body"})


def get(key: str | Audience) -> Audience:
    """The audience named ``key`` (KeyError names the known ones)."""
    if isinstance(key, Audience):
        return key
    try:
        return AUDIENCES[key]
    except KeyError:
        raise KeyError(f"unknown audience {key!r} (known: {', '.join(AUDIENCES)})") from None


def is_school_facing(key: str | Audience) -> bool:
    return get(key).key in SCHOOL_FACING
