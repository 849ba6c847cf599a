"""Questions many parts of the app ask the database, answered once.

* a *linked record*: a source record whose link is auto or confirmed and whose batch has not been removed
  (:data:`LINKED_FROM` / :data:`LINKED_WHERE` for SQL text);
* a child's *current school*: the school, grade and class of the newest linked school record, checklists excluded
  (:func:`current_schools`, :func:`current_school`);
* *opted out on a date*: an active 利用停止 (the person's own or their household's) whose start date is on or
  before the date (:func:`opted_out`, :func:`is_opted_out`).

Vocabulary layer: imports storage and vocab only, so every capability package can use it without a cycle.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from .calendar import to_date
from .storage.models import OptOut, Person
from .vocab import LINKED, LINKED_SQL, SourceType

__all__ = [
    "LINKED",
    "LINKED_FROM",
    "LINKED_WHERE",
    "CurrentSchool",
    "current_schools",
    "current_school",
    "opted_out",
    "is_opted_out",
]

#: Tables of a linked record, aliased ``l`` (link), ``r`` (source_record), ``b`` (source_batch).
LINKED_FROM = "link l JOIN source_record r ON r.id = l.record_id JOIN source_batch b ON b.id = r.batch_id"
#: The condition that makes a row of :data:`LINKED_FROM` a linked record. The unary ``+`` keeps SQLite from
#: choosing the status index (almost every link is linked, so it selects nothing) over ``ix_link_person_id``
#: when a query names persons: with ``l.person_id IN (a, b, c)`` the planner otherwise walks every linked row
#: (0.7 s per query at 30,000 residents, 4 s at 185,000 — the 50-child packet took minutes).
LINKED_WHERE = f"+l.status IN {LINKED_SQL} AND b.removed_at IS NULL"


#: the most person ids a query names in ``IN (...)``; more are filtered in Python (SQLite's variable limit)
MAX_SQL_IDS = 900


# --- a child's current school -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CurrentSchool:
    school: str
    grade: str  # "" when no school record gave one
    class_name: str
    as_of: dt.date | None  # the as-of date of the batch the school came from


def current_schools(s: Session, person_ids: Iterable[str] | None = None) -> dict[str, CurrentSchool]:
    """Each person's school from the newest linked school record (by batch as-of date, then batch and record order;
    observation checklists excluded: they echo the school rather than report it). A newer record without a grade
    or class keeps the one an older record gave. ``person_ids`` limits the answer (None: everyone)."""
    want = set(person_ids) if person_ids is not None else None
    if want is not None and not want:
        return {}
    sql = (
        f"SELECT l.person_id, r.school, r.grade, r.class_name, b.as_of FROM {LINKED_FROM} "
        f"WHERE {LINKED_WHERE} AND r.school IS NOT NULL AND r.school != '' "
        f"AND r.source_type != '{SourceType.SCHOOL_CHECKLIST.value}'"
    )
    if want is not None and len(want) <= MAX_SQL_IDS:  # a page of a list: only these persons' links are read
        ids = sorted(want)
        params = {f"p{i}": p for i, p in enumerate(ids)}
        sql += " AND l.person_id IN (" + ",".join(f":p{i}" for i in range(len(ids))) + ")"
        rows = s.execute(text(sql + " ORDER BY b.as_of, b.id, r.id"), params).all()
    else:
        rows = s.execute(text(sql + " ORDER BY b.as_of, b.id, r.id")).all()
    out: dict[str, CurrentSchool] = {}
    for pid, school, grade, klass, as_of in rows:
        if not pid or (want is not None and pid not in want):
            continue
        prev = out.get(pid)
        out[pid] = CurrentSchool(
            school,
            grade or (prev.grade if prev else "") or "",
            klass or (prev.class_name if prev else "") or "",
            to_date(as_of),
        )
    return out


def current_school(s: Session, person_id: str) -> CurrentSchool | None:
    return current_schools(s, [person_id]).get(person_id)


# --- opt-out -----------------------------------------------------------------------------------------------------
def opted_out(s: Session, on: dt.date | None = None) -> set[str]:
    """Persons under 利用停止 on ``on`` (default today): an opt-out not removed whose start date is on or before
    ``on``, registered for the person or for their household."""
    on = on or dt.date.today()
    rows = s.execute(
        select(OptOut.person_id, OptOut.household_id).where(OptOut.removed_at.is_(None), OptOut.from_date <= on)
    ).all()
    ids = {p for p, _ in rows if p}
    households = {h for _, h in rows if h}
    if households:
        ids |= set(s.scalars(select(Person.id).where(Person.household_id.in_(households))))
    return ids


def is_opted_out(s: Session, person_id: str, on: dt.date | None = None) -> bool:
    """Whether one person is under 利用停止 on ``on`` (default today); the same rule as :func:`opted_out`."""
    on = on or dt.date.today()
    household = s.scalar(select(Person.household_id).where(Person.id == person_id))
    cond = OptOut.person_id == person_id
    if household:
        cond = cond | (OptOut.household_id == household)
    return (
        s.scalar(select(OptOut.id).where(OptOut.removed_at.is_(None), OptOut.from_date <= on, cond).limit(1))
        is not None
    )
