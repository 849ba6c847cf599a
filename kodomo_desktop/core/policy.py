"""The town's data policy as data: each source's default department, legal basis and purpose, retention periods,
and the questions other packages ask about them (which sources lack a legal basis, before which as-of date a
source's data has expired). Vocabulary layer (storage below it only): importing, scoring and persons read it
without importing the governance services, which sit above them.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from .storage.models import LegalBasis, RetentionPolicy, SourceBatch

DEFAULT_SOURCES = {  # source type → (department, default basis, purpose)
    "resident_registry": ("住民課", "69-2-2", "こどもと世帯を特定し、各課の情報を正しく名寄せするため"),
    "maternal_child_health": (
        "保健センター（母子保健）",
        "61-1",
        "妊娠期から乳幼児期の支援の必要性を早期に把握するため",
    ),
    "public_assistance": ("福祉課（生活保護）", "69-2-2", "経済的困窮の状況を把握し、支援につなぐため"),
    "child_rearing_allowance": ("子育て支援課（児童扶養手当）", "61-1", "ひとり親家庭の状況を把握し、支援につなぐため"),
    "school_assistance": ("教育委員会（就学援助）", "69-2-3", "経済的困窮の状況を把握し、支援につなぐため"),
    "tax": ("税務課", "69-2-2", "世帯の経済状況（非課税等）を把握するため"),
    "disability": ("福祉課（障害福祉）", "69-2-2", "こどもと保護者の障害の状況を把握し、支援を調整するため"),
    "school_attendance": ("教育委員会・学校", "69-2-3", "不登校や長期欠席の兆しを早期に把握するため"),
    "school_health": ("教育委員会・学校（学校保健）", "69-2-3", "健康面の課題（未処置歯・体重等）を把握するため"),
    "yotaikyo": ("こども家庭センター（要対協）", "61-1", "要保護児童等の支援の経過を踏まえるため"),
    "consultation": ("こども家庭センター（相談）", "61-1", "相談の経過を踏まえて支援を検討するため"),
    "school_checklist": ("学校（観察チェックリスト）", "69-2-3", "学校での気づきを支援の検討に生かすため"),
}
DEFAULT_RETENTION_MONTHS = {st: 60 for st in DEFAULT_SOURCES} | {"casework": 120}


def ensure_defaults(s) -> None:
    have = {(b.kind, b.key) for b in s.scalars(select(LegalBasis))}
    for st, (dept, basis, purpose) in DEFAULT_SOURCES.items():
        if ("source", st) not in have:
            s.add(
                LegalBasis(
                    kind="source",
                    key=st,
                    purpose=purpose,
                    basis=basis,
                    department=dept,
                    note="既定値（町で確認・編集してください）",
                    shown_on_sheets=st not in ("public_assistance", "tax", "disability", "consultation", "yotaikyo"),
                )
            )
    have_r = set(s.scalars(select(RetentionPolicy.subject)))
    for subj, months in DEFAULT_RETENTION_MONTHS.items():
        if subj not in have_r:
            s.add(RetentionPolicy(subject=subj, months=months, note="既定値"))
    s.flush()


def sources_without_basis(s) -> list[str]:
    """Imported source types with no recorded legal basis (the dashboard warns until resolved)."""
    imported = set(s.scalars(select(SourceBatch.source_type).where(SourceBatch.removed_at.is_(None)).distinct()))
    have = set(s.scalars(select(LegalBasis.key).where(LegalBasis.kind == "source", LegalBasis.basis.is_not(None))))
    return sorted(imported - have)


def _cutoff(on: dt.date, months: int) -> dt.date:
    y, m = divmod(on.year * 12 + (on.month - 1) - months, 12)
    return dt.date(y, m + 1, min(on.day, 28))


def expired_cutoffs(s, on: dt.date) -> dict[str, dt.date]:
    """For scoring: per source type, the as-of date before which data has expired and must not be read."""
    ensure_defaults(s)
    return {r.subject: _cutoff(on, r.months) for r in s.scalars(select(RetentionPolicy))}
