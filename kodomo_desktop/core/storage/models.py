"""The data model, in the domain's words.

A department file becomes a ``SourceBatch``; each of its rows a ``SourceRecord`` (the raw row kept as it was,
normalised identity fields beside it, parsed attributes). Linkage gives each record a ``Link`` to a
``Person``; a person's ``Household`` comes from the resident registry. Human linkage decisions are
``LinkDecision`` rows that stick across re-runs. Scoring writes ``ScoreRun``/``ChildScore``; casework,
checklists and governance tables hang off ``Person`` the same way. Every change of schema is an Alembic
migration under ``migrations/``; every past schema is kept as a test fixture.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    orm,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


def _now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)


# --- people and keys -----------------------------------------------------------------------------------
class AppUser(Base):
    """A person who signs in. Their password never reaches the database: it opens a key slot."""

    __tablename__ = "app_user"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    slot_id: Mapped[str] = mapped_column(String(40), unique=True)  # its key slot in <db>.keys
    display_name: Mapped[Optional[str]] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20))  # coordinator / staff / school / auditor
    school: Mapped[Optional[str]] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    last_sign_in_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    removed_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    # set when the coordinator gives a temporary password; cleared when the user chooses their own
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class _SealedRow:
    """The town's row for a sealed workspace (core/sealed.py): the private half of the key pair its key is sealed
    to, and how far its own log has been copied into the town's."""

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(32), unique=True)  # a random id in the file name, not a name
    town_priv: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    synced_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    log_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # its log entries copied so far
    log_head: Mapped[Optional[str]] = mapped_column(String(64))


class SchoolWorkspace(_SealedRow, Base):
    """A school's own encrypted workspace (``<db>.school-<slug>.db``, core/schoolspace.py): school users' key slots
    live only there. Its database key is sealed in its key file to the key pair whose private half is here, so the
    coordinator's account opens it with no school password; the town's re-key leaves it alone."""

    __tablename__ = "school_workspace"
    school: Mapped[str] = mapped_column(String(120), unique=True)


class AuditWorkspace(_SealedRow, Base):
    """The auditor's own encrypted workspace (``<db>.audit-<slug>.db``, core/auditspace.py): auditors' key slots
    live only there, beside a copy of the log and the registers without children's data (one row at most)."""

    __tablename__ = "audit_workspace"


class Setting(Base):
    __tablename__ = "setting"
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now, onupdate=_now)


# --- the access log --------------------------------------------------------------------------------------
class AccessLogEntry(Base):
    """Append-only, hash-chained: each entry's hash covers its fields and the previous entry's hash.

    ``detail`` holds ids and counts, never a name, so deleting a person never rewrites the log.
    """

    __tablename__ = "access_log"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[str] = mapped_column(String(32))
    user: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60), index=True)
    person_id: Mapped[Optional[str]] = mapped_column(String(20), index=True)
    detail: Mapped[Optional[str]] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


# --- households, persons -------------------------------------------------------------------------------------
class Household(Base):
    __tablename__ = "household"
    id: Mapped[str] = mapped_column(String(20), primary_key=True)
    household_no: Mapped[Optional[str]] = mapped_column(String(40), unique=True)
    address: Mapped[Optional[str]] = mapped_column(Text)
    persons: Mapped[list[Person]] = orm.relationship(back_populates="household")


class Person(Base):
    """One real person. The resident registry is the spine; ids are stable across imports."""

    __tablename__ = "person"
    id: Mapped[str] = mapped_column(String(20), primary_key=True)
    household_id: Mapped[Optional[str]] = mapped_column(ForeignKey("household.id"), index=True)
    resident_no: Mapped[Optional[str]] = mapped_column(String(40), index=True)
    name: Mapped[Optional[str]] = mapped_column(Text)
    name_kana: Mapped[Optional[str]] = mapped_column(Text)
    name_norm: Mapped[Optional[str]] = mapped_column(Text, index=True)
    kana_norm: Mapped[Optional[str]] = mapped_column(Text, index=True)
    birth_date: Mapped[Optional[dt.date]] = mapped_column(Date, index=True)
    sex: Mapped[Optional[int]] = mapped_column(Integer)
    address: Mapped[Optional[str]] = mapped_column(Text)
    relationship: Mapped[Optional[str]] = mapped_column(String(40))
    in_registry: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    household: Mapped[Optional[Household]] = orm.relationship(back_populates="persons")


# --- department files ---------------------------------------------------------------------------------------------
class SourceBatch(Base):
    """One imported department file: all its valid rows, or nothing."""

    __tablename__ = "source_batch"
    id: Mapped[int] = mapped_column(primary_key=True)
    source_type: Mapped[str] = mapped_column(String(40), index=True)
    file_name: Mapped[str] = mapped_column(Text)
    file_hash: Mapped[str] = mapped_column(String(64), index=True)
    sheet: Mapped[Optional[str]] = mapped_column(Text)
    encoding: Mapped[Optional[str]] = mapped_column(String(20))
    header_row: Mapped[Optional[int]] = mapped_column(Integer)
    as_of: Mapped[Optional[dt.date]] = mapped_column(Date)
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    imported_by: Mapped[Optional[str]] = mapped_column(String(80))
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_imported: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    mapping: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)
    # A newer extract of the same source (and scope, e.g. the same school) supersedes this one.
    scope: Mapped[Optional[str]] = mapped_column(Text)
    superseded_by: Mapped[Optional[int]] = mapped_column(Integer)
    removed_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    records: Mapped[list[SourceRecord]] = orm.relationship(back_populates="batch", cascade="all, delete-orphan")


class SourceRecord(Base):
    """One row of a department file: ``raw`` exactly as read, identity fields parsed and normalised beside it."""

    __tablename__ = "source_record"
    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("source_batch.id", ondelete="CASCADE"), index=True)
    source_type: Mapped[str] = mapped_column(String(40), index=True)
    row_number: Mapped[int] = mapped_column(Integer)
    source_key: Mapped[Optional[str]] = mapped_column(Text)  # the department's own key for the row
    subject: Mapped[str] = mapped_column(String(10), default="self")  # self / child (児童扶養手当 対象児童)
    raw: Mapped[dict[str, Any]] = mapped_column(JSON)
    resident_no: Mapped[Optional[str]] = mapped_column(String(40), index=True)
    household_no: Mapped[Optional[str]] = mapped_column(String(40))
    name: Mapped[Optional[str]] = mapped_column(Text)
    name_kana: Mapped[Optional[str]] = mapped_column(Text)
    name_norm: Mapped[Optional[str]] = mapped_column(Text)
    kana_norm: Mapped[Optional[str]] = mapped_column(Text)
    surname_norm: Mapped[Optional[str]] = mapped_column(Text)
    given_norm: Mapped[Optional[str]] = mapped_column(Text)
    birth_date: Mapped[Optional[dt.date]] = mapped_column(Date)  # not indexed: no lookup by it (migration 0003)
    sex: Mapped[Optional[int]] = mapped_column(Integer)
    address: Mapped[Optional[str]] = mapped_column(Text)
    address_norm: Mapped[Optional[str]] = mapped_column(Text)
    relationship: Mapped[Optional[str]] = mapped_column(String(40))
    student_no: Mapped[Optional[str]] = mapped_column(String(40))
    school: Mapped[Optional[str]] = mapped_column(Text)
    grade: Mapped[Optional[str]] = mapped_column(String(20))
    class_name: Mapped[Optional[str]] = mapped_column(String(20))
    record_date: Mapped[Optional[dt.date]] = mapped_column(Date)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    batch: Mapped[SourceBatch] = orm.relationship(back_populates="records")


class RejectedRow(Base):
    __tablename__ = "rejected_row"
    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("source_batch.id", ondelete="CASCADE"), index=True)
    row_number: Mapped[int] = mapped_column(Integer)
    column: Mapped[Optional[str]] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    raw: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)


class MappingProfile(Base):
    """A remembered column mapping, per source type and header signature: next month imports in two clicks."""

    __tablename__ = "mapping_profile"
    id: Mapped[int] = mapped_column(primary_key=True)
    source_type: Mapped[str] = mapped_column(String(40))
    header_signature: Mapped[str] = mapped_column(String(64))
    mapping: Mapped[dict[str, Any]] = mapped_column(JSON)
    options: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)
    used_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    __table_args__ = (UniqueConstraint("source_type", "header_signature"),)


# --- linkage -----------------------------------------------------------------------------------------------------
class Link(Base):
    """The current link of one source record: auto / confirmed / review / unlinked / excluded."""

    __tablename__ = "link"
    record_id: Mapped[int] = mapped_column(ForeignKey("source_record.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[Optional[str]] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(12), index=True)
    score: Mapped[Optional[float]] = mapped_column(Float)  # match weight (log2 Bayes factor)
    probability: Mapped[Optional[float]] = mapped_column(Float)
    method: Mapped[Optional[str]] = mapped_column(String(20))  # resident_no / student_no / probabilistic / human
    explanation: Mapped[Optional[Any]] = mapped_column(JSON)
    candidates: Mapped[Optional[Any]] = mapped_column(JSON)
    decided_by: Mapped[Optional[str]] = mapped_column(String(80))
    decided_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)


class LinkDecision(Base):
    """A person's decision about a record: it sticks across re-runs and later imports; undo marks it undone."""

    __tablename__ = "link_decision"
    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("source_record.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[Optional[str]] = mapped_column(String(20))
    decision: Mapped[str] = mapped_column(String(20))  # accept / reject / not_in_registry / split
    decided_by: Mapped[str] = mapped_column(String(80))
    decided_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    undone_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    undone_by: Mapped[Optional[str]] = mapped_column(String(80))


class LinkRun(Base):
    __tablename__ = "link_run"
    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    finished_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    by: Mapped[Optional[str]] = mapped_column(String(80))
    params: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)
    summary: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)


class LinkModel(Base):
    """The stored 名寄せ model (migration 0012): fitted by a full link run, reused by the incremental runs after it,
    with the last run's pair comparisons (``pairs``). One row; deleted with a person's deletion, a removed batch or
    a retention purge (the next run is full)."""

    __tablename__ = "link_model"
    id: Mapped[int] = mapped_column(primary_key=True)
    fitted_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    link_run_id: Mapped[Optional[int]] = mapped_column(Integer)
    settings: Mapped[str] = mapped_column(String(64))  # digest of the thresholds/options and the engine's code
    n_records: Mapped[int] = mapped_column(Integer)  # records the engine read at the fit
    n_persons: Mapped[int] = mapped_column(Integer)  # registry persons at the fit
    model: Mapped[bytes] = mapped_column(LargeBinary)  # model.Model.to_bytes()
    fit_state: Mapped[bytes] = mapped_column(LargeBinary)  # npz: record ids, person ids and hashes at the fit
    pairs: Mapped[Optional[bytes]] = mapped_column(LargeBinary)  # npz: the last run's pair comparisons


# --- scoring ------------------------------------------------------------------------------------------------------
class WeightSet(Base):
    """A versioned set of indicator points and thresholds. Adoption needs a reason and is logged."""

    __tablename__ = "weight_set"
    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    created_by: Mapped[Optional[str]] = mapped_column(String(80))
    adopted_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    adopted_by: Mapped[Optional[str]] = mapped_column(String(80))
    reason: Mapped[Optional[str]] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=False)


class ScoreRun(Base):
    __tablename__ = "score_run"
    id: Mapped[int] = mapped_column(primary_key=True)
    as_of: Mapped[dt.date] = mapped_column(Date)
    weight_set_id: Mapped[Optional[int]] = mapped_column(ForeignKey("weight_set.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    created_by: Mapped[Optional[str]] = mapped_column(String(80))
    summary: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)


class ChildScore(Base):
    __tablename__ = "child_score"
    run_id: Mapped[int] = mapped_column(ForeignKey("score_run.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), primary_key=True, index=True)
    total: Mapped[float] = mapped_column(Float)
    band: Mapped[Optional[str]] = mapped_column(String(20))
    types: Mapped[Optional[str]] = mapped_column(Text)
    basic_items: Mapped[int] = mapped_column(Integer, default=0)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    school_points: Mapped[float] = mapped_column(Float, default=0)
    details: Mapped[Optional[Any]] = mapped_column(JSON)  # reasons, per-type points, no-data sources
    # the prioritised list's keys, copied out of ``details`` so that the list filters and pages in SQL (issue 21,
    # migration 0007): the place in the run's list (1 = first: band level, total, basic items), and its filters
    position: Mapped[Optional[int]] = mapped_column(Integer)
    band_level: Mapped[Optional[int]] = mapped_column(Integer)
    school: Mapped[Optional[str]] = mapped_column(Text)
    age_band: Mapped[Optional[str]] = mapped_column(Text)
    newly_flagged: Mapped[Optional[bool]] = mapped_column(Boolean)
    yotaikyo: Mapped[Optional[bool]] = mapped_column(Boolean)
    # what an incremental run reuses (issue 21, migration 0011): the fingerprint of the child's inputs (household,
    # linked records, records waiting in review) and the indicators it hit (ids, comma-separated)
    input_key: Mapped[Optional[str]] = mapped_column(String(40))
    hit_ids: Mapped[Optional[str]] = mapped_column(Text)


# --- casework -----------------------------------------------------------------------------------------------------
class ReviewRound(Base):
    __tablename__ = "review_round"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    as_of: Mapped[dt.date] = mapped_column(Date)
    score_run_id: Mapped[Optional[int]] = mapped_column(ForeignKey("score_run.id"))
    weight_set_id: Mapped[Optional[int]] = mapped_column(ForeignKey("weight_set.id"))
    labels: Mapped[Optional[Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    created_by: Mapped[Optional[str]] = mapped_column(String(80))
    closed_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)


class RoundCandidate(Base):
    __tablename__ = "round_candidate"
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("review_round.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    total: Mapped[Optional[float]] = mapped_column(Float)
    band: Mapped[Optional[str]] = mapped_column(String(20))
    yotaikyo: Mapped[bool] = mapped_column(Boolean, default=False)
    classification: Mapped[Optional[str]] = mapped_column(String(40))
    reason: Mapped[Optional[str]] = mapped_column(Text)
    decided_by: Mapped[Optional[str]] = mapped_column(String(80))
    decided_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    __table_args__ = (UniqueConstraint("round_id", "person_id"),)


class Conference(Base):
    __tablename__ = "conference"
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[Optional[int]] = mapped_column(ForeignKey("review_round.id"))
    kind: Mapped[str] = mapped_column(
        String(40)
    )  # ケース会議 / 実務者会議 / 個別ケース検討会議 / 校内委員会 / 三課協議
    title: Mapped[Optional[str]] = mapped_column(Text)
    held_on: Mapped[Optional[dt.date]] = mapped_column(Date)
    place: Mapped[Optional[str]] = mapped_column(Text)
    attendees: Mapped[Optional[Any]] = mapped_column(JSON)  # [{role, organisation}]
    created_by: Mapped[Optional[str]] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)


class ConferenceItem(Base):
    """One child (or household) on a conference's agenda, with the minutes decided for them."""

    __tablename__ = "conference_item"
    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(ForeignKey("conference.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    support_needed: Mapped[Optional[str]] = mapped_column(String(20))
    direction: Mapped[Optional[str]] = mapped_column(String(4))  # A 校内支援 / B 地域資源 / C 専門機関
    lead_organisation: Mapped[Optional[str]] = mapped_column(Text)
    roles: Mapped[Optional[Any]] = mapped_column(JSON)
    actions: Mapped[Optional[str]] = mapped_column(Text)
    next_review_on: Mapped[Optional[dt.date]] = mapped_column(Date)
    minutes: Mapped[Optional[str]] = mapped_column(Text)
    registration: Mapped[Optional[str]] = mapped_column(String(20))  # 要対協: 登録する / 継続 / 登録しない
    category: Mapped[Optional[str]] = mapped_column(String(20))  # 要保護児童 / 要支援児童 / 特定妊婦
    decided_by: Mapped[Optional[str]] = mapped_column(String(80))
    decided_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)


class SupportCase(Base):
    """A support plan for one child: opened after a decision, closed (終結) with a reason."""

    __tablename__ = "support_case"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    opened_on: Mapped[dt.date] = mapped_column(Date)
    plan: Mapped[Optional[str]] = mapped_column(Text)
    lead_organisation: Mapped[Optional[str]] = mapped_column(Text)
    next_action_on: Mapped[Optional[dt.date]] = mapped_column(Date)
    closed_on: Mapped[Optional[dt.date]] = mapped_column(Date)
    close_reason: Mapped[Optional[str]] = mapped_column(Text)
    created_by: Mapped[Optional[str]] = mapped_column(String(80))


class ProgressRecord(Base):
    """経過記録: a dated entry (家庭訪問, 面談, 電話, 会議, 関係機関連絡 …)."""

    __tablename__ = "progress_record"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[Optional[int]] = mapped_column(ForeignKey("support_case.id", ondelete="SET NULL"))
    on: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(40))
    who: Mapped[Optional[str]] = mapped_column(Text)
    what: Mapped[Optional[str]] = mapped_column(Text)
    outcome: Mapped[Optional[str]] = mapped_column(Text)
    next_action_on: Mapped[Optional[dt.date]] = mapped_column(Date)
    created_by: Mapped[Optional[str]] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)


class Note(Base):
    __tablename__ = "note"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    created_by: Mapped[Optional[str]] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)


class LocalResource(Base):
    """接続先リスト: organisations and programmes used when choosing a direction or lead organisation."""

    __tablename__ = "local_resource"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    category: Mapped[Optional[str]] = mapped_column(Text)
    contact: Mapped[Optional[str]] = mapped_column(Text)
    note: Mapped[Optional[str]] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


# --- observation checklists -----------------------------------------------------------------------------------
class ChecklistDefinition(Base):
    __tablename__ = "checklist_definition"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer, default=1)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    __table_args__ = (UniqueConstraint("key", "version"),)


class ChecklistRound(Base):
    __tablename__ = "checklist_round"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    definition_id: Mapped[int] = mapped_column(ForeignKey("checklist_definition.id"))
    schools: Mapped[Optional[Any]] = mapped_column(JSON)
    grades: Mapped[Optional[Any]] = mapped_column(JSON)
    opened_on: Mapped[dt.date] = mapped_column(Date)
    due_on: Mapped[Optional[dt.date]] = mapped_column(Date)
    created_by: Mapped[Optional[str]] = mapped_column(String(80))
    closed_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)


class ChecklistEntry(Base):
    __tablename__ = "checklist_entry"
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("checklist_round.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    school: Mapped[Optional[str]] = mapped_column(Text)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    remark: Mapped[Optional[str]] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="draft")  # draft / submitted
    via: Mapped[Optional[str]] = mapped_column(String(12))  # app / excel
    entered_by: Mapped[Optional[str]] = mapped_column(String(80))
    entered_on: Mapped[Optional[dt.date]] = mapped_column(Date)
    submitted_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)


# --- governance ---------------------------------------------------------------------------------------------------
class OptOut(Base):
    """利用停止・不同意: the person (or household) is left out of linkage and scoring from ``from_date``."""

    __tablename__ = "opt_out"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[Optional[str]] = mapped_column(String(20), index=True)
    household_id: Mapped[Optional[str]] = mapped_column(String(20), index=True)
    from_date: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[Optional[str]] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    removed_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    removed_by: Mapped[Optional[str]] = mapped_column(String(80))
    removed_reason: Mapped[Optional[str]] = mapped_column(Text)


class Correction(Base):
    """訂正: a field's old value kept with who changed it and why."""

    __tablename__ = "correction"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[Optional[str]] = mapped_column(String(20), index=True)
    table_name: Mapped[str] = mapped_column(String(40))
    row_id: Mapped[str] = mapped_column(String(40))
    field: Mapped[str] = mapped_column(String(60))
    old_value: Mapped[Optional[str]] = mapped_column(Text)
    new_value: Mapped[Optional[str]] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    by: Mapped[str] = mapped_column(String(80))
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)


class SelfInspection(Base):
    __tablename__ = "self_inspection"
    id: Mapped[int] = mapped_column(primary_key=True)
    fiscal_year: Mapped[int] = mapped_column(Integer, unique=True)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    saved_by: Mapped[Optional[str]] = mapped_column(String(80))
    saved_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)


Index("ix_source_record_batch_row", SourceRecord.batch_id, SourceRecord.row_number)


class RetentionPolicy(Base):
    """保存期間: how long each source type's rows (and casework records) are kept."""

    __tablename__ = "retention_policy"
    subject: Mapped[str] = mapped_column(String(40), primary_key=True)  # a source type, or "casework"
    months: Mapped[int] = mapped_column(Integer)
    note: Mapped[Optional[str]] = mapped_column(Text)
    changed_by: Mapped[Optional[str]] = mapped_column(String(80))
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)


class LegalBasis(Base):
    """Purpose and legal basis per source type or indicator (個人情報保護法 61条1項 / 69条2項2号・3号 …)."""

    __tablename__ = "legal_basis"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))  # source / indicator
    key: Mapped[str] = mapped_column(String(60))
    purpose: Mapped[Optional[str]] = mapped_column(Text)
    basis: Mapped[Optional[str]] = mapped_column(String(40))  # 61-1 / 69-2-2 / 69-2-3 / other
    note: Mapped[Optional[str]] = mapped_column(Text)
    department: Mapped[Optional[str]] = mapped_column(Text)
    shown_on_sheets: Mapped[bool] = mapped_column(Boolean, default=True)
    changed_by: Mapped[Optional[str]] = mapped_column(String(80))
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    __table_args__ = (UniqueConstraint("kind", "key"),)


# the child list (issue 21): a covering index over the children's birth-date range with every key the list searches
# and sorts by, so that a search or a page at 200,000 persons reads index entries only (migration 0006)
Index(
    "ix_person_child_list",
    Person.birth_date,
    Person.kana_norm,
    Person.name_norm,
    Person.resident_no,
    Person.sex,
    Person.id,
)

# the prioritised list (issue 21): a run's children in list order with every key the list filters by, so that a
# filter, a count or a page reads index entries only, never the details JSON (migrations 0007, 0009)
Index(
    "ix_child_score_list_keys",
    ChildScore.run_id,
    ChildScore.position,
    ChildScore.flagged,
    ChildScore.band_level,
    ChildScore.band,
    ChildScore.school,
    ChildScore.age_band,
    ChildScore.newly_flagged,
    ChildScore.yotaikyo,
    ChildScore.types,
    ChildScore.total,
    ChildScore.basic_items,
    ChildScore.person_id,
)
# the prioritised list sorted by name or age (issue 21): each child's sort keys by id (migration 0009)
Index("ix_person_sort_keys", Person.id, Person.kana_norm, Person.name_norm, Person.birth_date)
# the 名寄せ review queue (issue 21): paged in match-weight order without sorting the queue (migration 0009)
Index("ix_link_queue", Link.status, Link.score.desc(), Link.record_id)
