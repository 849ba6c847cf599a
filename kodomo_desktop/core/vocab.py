"""The app's shared vocabulary: the codes stored in the database and their one Japanese label each.

A low module (it imports nothing from the app): storage, the engines, services, the CLI and the GUI all read
the codes and labels from here, so a status is spelled and shown the same way everywhere. Codes are
``StrEnum`` members, so ``LinkStatus.AUTO == "auto"`` and they can be written to the database and to JSON as
they are. ``label`` is the Japanese shown to a person; the GUI translates it with ``tr(label)``
(kodomo_desktop/i18n/en.json has the English).
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class _Labelled(StrEnum):
    """A code with one Japanese label (``_LABELS`` is filled for each subclass below)."""

    @property
    def label(self) -> str:
        return _LABELS[type(self)][self]

    @classmethod
    def label_of(cls, code: str | None, default: str | None = None) -> str:
        """The label of a stored code; an unknown code is shown as it is (or ``default``)."""
        try:
            return cls(code or "").label
        except ValueError:
            return (code or "") if default is None else default


# --- links -------------------------------------------------------------------------------------------------------
class LinkStatus(_Labelled):
    AUTO = "auto"  # linked by the engine
    CONFIRMED = "confirmed"  # linked by a person's decision
    REVIEW = "review"  # waiting for a person
    UNLINKED = "unlinked"  # no person
    REJECTED = "rejected"  # a row left out at import (never stored on a link; shown in the review lists)
    EXCLUDED = "excluded"  # the person is under 利用停止: the record is kept but used nowhere


#: A record is *linked* to its person when its link is auto or confirmed (and its batch is not removed).
LINKED: tuple[str, ...] = (LinkStatus.AUTO.value, LinkStatus.CONFIRMED.value)
#: Records *held about* a person: linked, or kept but excluded from use by 利用停止 (disclosure, deletion).
HELD: tuple[str, ...] = (*LINKED, LinkStatus.EXCLUDED.value)
#: The same for SQL text: ``"... WHERE l.status IN " + LINKED_SQL``.
LINKED_SQL = "(" + ",".join(f"'{s}'" for s in LINKED) + ")"
HELD_SQL = "(" + ",".join(f"'{s}'" for s in HELD) + ")"


class LinkMethod(_Labelled):
    RESIDENT_NO = "resident_no"
    STUDENT_NO = "student_no"
    PROBABILISTIC = "probabilistic"
    FELLEGI_SUNTER = "fellegi_sunter"
    HUMAN = "human"
    ROW_KEY = "row_key"
    HOUSEHOLD_SIBLINGS = "household_siblings"
    SCHOOL_ZONE = "school_zone"
    NAME_READING = "name_reading"
    NUMBERED_ROWS = "numbered_rows"
    GIVEN_NAME = "given_name"


# --- people ------------------------------------------------------------------------------------------------------
class Sex(IntEnum):
    """Stored as 1/2 (the 住基 code); None is unknown."""

    MALE = 1
    FEMALE = 2

    @property
    def label(self) -> str:
        return SEX_LABELS[int(self)]


#: 1 → 男, 2 → 女 (also keyed by the text codes "1"/"2" that CSVs and JSON carry).
SEX_LABELS: dict[int | str, str] = {1: "男", 2: "女", "1": "男", "2": "女"}


def sex_label(code, default: str = "") -> str:
    """男 / 女 for a stored sex code (1, 2, "1", "2"); ``default`` for anything else (unknown)."""
    return SEX_LABELS.get(code, default) if isinstance(code, int | str) else default


# --- sources -----------------------------------------------------------------------------------------------------
class SourceType(_Labelled):
    RESIDENT_REGISTRY = "resident_registry"
    MATERNAL_CHILD_HEALTH = "maternal_child_health"
    PUBLIC_ASSISTANCE = "public_assistance"
    CHILD_REARING_ALLOWANCE = "child_rearing_allowance"
    SCHOOL_ASSISTANCE = "school_assistance"
    TAX = "tax"
    DISABILITY = "disability"
    SCHOOL_ATTENDANCE = "school_attendance"
    SCHOOL_HEALTH = "school_health"
    YOTAIKYO = "yotaikyo"
    CONSULTATION = "consultation"
    SCHOOL_CHECKLIST = "school_checklist"


#: Sources the app itself writes (not department files, so not in the importer's list of source types).
APP_SOURCE_LABELS = {
    "information_sheet": "情報シート（学校・園からの返送）",
    "handover": "転入の引継ぎ（他の自治体から）",
}


def source_label(code: str | None) -> str:
    """住民基本台帳, 母子保健, … for a source type (the code itself when unknown)."""
    if code in APP_SOURCE_LABELS:
        return APP_SOURCE_LABELS[code]
    return SourceType.label_of(code)


# --- roles -------------------------------------------------------------------------------------------------------
class Role(_Labelled):
    COORDINATOR = "coordinator"
    STAFF = "staff"
    SCHOOL = "school"
    AUDITOR = "auditor"


_LABELS: dict[type, dict] = {
    LinkStatus: {
        LinkStatus.AUTO: "自動",
        LinkStatus.CONFIRMED: "確定",
        LinkStatus.REVIEW: "確認待ち",
        LinkStatus.UNLINKED: "未連結",
        LinkStatus.REJECTED: "取込除外",
        LinkStatus.EXCLUDED: "対象外",
    },
    LinkMethod: {
        LinkMethod.RESIDENT_NO: "宛名番号",
        LinkMethod.STUDENT_NO: "学籍番号",
        LinkMethod.PROBABILISTIC: "氏名・生年月日など",
        LinkMethod.FELLEGI_SUNTER: "氏名・生年月日など",
        LinkMethod.HUMAN: "職員の判断",
        LinkMethod.ROW_KEY: "行キー",
        LinkMethod.HOUSEHOLD_SIBLINGS: "氏名・生年月日と兄弟姉妹の記録",
        LinkMethod.SCHOOL_ZONE: "氏名・生年月日と通学区域",
        LinkMethod.NAME_READING: "氏名の読み・生年月日",
        LinkMethod.NUMBERED_ROWS: "同じ氏名・生年月日の宛名番号付きの記録",
        LinkMethod.GIVEN_NAME: "双子を名で区別",
    },
    SourceType: {
        SourceType.RESIDENT_REGISTRY: "住民基本台帳",
        SourceType.MATERNAL_CHILD_HEALTH: "母子保健",
        SourceType.PUBLIC_ASSISTANCE: "生活保護",
        SourceType.CHILD_REARING_ALLOWANCE: "児童扶養手当",
        SourceType.SCHOOL_ASSISTANCE: "就学援助",
        SourceType.TAX: "住民税課税状況",
        SourceType.DISABILITY: "障害者手帳・障害児支援",
        SourceType.SCHOOL_ATTENDANCE: "出欠・遅刻・保健室",
        SourceType.SCHOOL_HEALTH: "学校健診",
        SourceType.YOTAIKYO: "要対協",
        SourceType.CONSULTATION: "相談記録",
        SourceType.SCHOOL_CHECKLIST: "観察チェックリスト",
    },
    Role: {
        Role.COORDINATOR: "コーディネーター",
        Role.STAFF: "職員",
        Role.SCHOOL: "学校",
        Role.AUDITOR: "監査・個人情報保護担当",
    },
}

#: code → label dicts, for code that wants a plain mapping.
LINK_STATUS_LABELS: dict[str, str] = {k.value: v for k, v in _LABELS[LinkStatus].items()}
LINK_METHOD_LABELS: dict[str, str] = {k.value: v for k, v in _LABELS[LinkMethod].items()}
SOURCE_TYPE_LABELS: dict[str, str] = {k.value: v for k, v in _LABELS[SourceType].items()}
ROLE_LABELS: dict[str, str] = {k.value: v for k, v in _LABELS[Role].items()}
