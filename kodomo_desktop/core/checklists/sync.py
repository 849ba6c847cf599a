"""The town and its schools' workspaces (core/schoolspace.py): the coordinator's account reads each school's
workspace back (pull) and fills it again (push).

Pull: the entries the school wrote since the last pull become the town's ``ChecklistEntry`` rows (a returned
workbook supersedes the earlier entry, kept in history, as in the town) and, for a submitted school sheet, the
``school_checklist`` source records the score reads — exactly what the town writes for its own entries. The
school's access log is copied into the town's as entries naming the school user (``school_workspace``,
``school_seq`` in the detail), after the school's chain and the part already copied were checked: a school log
that does not hold is not copied and the town logs 「学校用データベースの操作ログの不整合」.

Push (schoolspace.push): the open rounds, their definitions, the school's pupils (none opted out), the entries
made in the town.

Runs where it is natural (a round opened, ``checklist status``, scoring, the GUI's checklist page) and as
``checklist sync``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import select

from .. import schoolspace as SW
from .. import sealed
from ..audit import log as audit
from ..errors import KodomoError
from ..services import service
from ..storage import school_schema as SS
from ..storage.models import ChecklistEntry, ChecklistRound, Person
from ..storage.models import SchoolWorkspace as SchoolRow
from .results import _write_results

if TYPE_CHECKING:
    from ..workspace import Workspace


def _now():
    return dt.datetime.now().replace(microsecond=0)


def pull(ws: Workspace, store: SW.Store) -> dict:
    """Read one school's workspace back into the town (entries, results, log)."""
    school, slug = store.school, store.slug
    with store.engine.connect() as c:
        chain = audit.verify_chain(c)
        changed = c.execute(select(SS.checklist_entry).where(SS.checklist_entry.c.changed.is_(True))).all()
        log_rows = c.execute(select(SS.access_log).order_by(SS.access_log.c.seq)).all()
    with ws.session() as s:
        row = s.scalars(select(SchoolRow).where(SchoolRow.slug == slug)).one()
        entries_in = 0
        submitted_rounds: dict[int, set[str]] = {}
        for e in changed:
            if e.superseded:
                continue
            r = s.get(ChecklistRound, e.round_id)
            if r is None or s.get(Person, e.person_id) is None:
                continue
            cur = s.scalar(
                select(ChecklistEntry).where(
                    ChecklistEntry.round_id == e.round_id,
                    ChecklistEntry.person_id == e.person_id,
                    ChecklistEntry.superseded.is_(False),
                )
            )
            if cur is not None and e.via == "excel" and (cur.answers, cur.remark) != (e.answers, e.remark):
                cur.superseded = True  # a returned workbook replaces the earlier entry, kept in history
                cur = None
            if cur is None:
                cur = ChecklistEntry(round_id=e.round_id, person_id=e.person_id, school=school)
                s.add(cur)
            cur.answers, cur.remark, cur.status, cur.via = e.answers or {}, e.remark, e.status, e.via
            cur.entered_by, cur.entered_on, cur.submitted_at = e.entered_by, e.entered_on, e.submitted_at
            entries_in += 1
            if e.status == "submitted":
                submitted_rounds.setdefault(e.round_id, set()).add(e.via or "app")
        s.flush()
        for rid, vias in submitted_rounds.items():
            r = s.get_one(ChecklistRound, rid)  # (found in the loop above)
            es = s.scalars(
                select(ChecklistEntry).where(
                    ChecklistEntry.round_id == rid,
                    ChecklistEntry.school == school,
                    ChecklistEntry.superseded.is_(False),
                    ChecklistEntry.status == "submitted",
                )
            ).all()
            _write_results(ws, s, r, school, [e for e in es if e.answers], via="excel" if "excel" in vias else "app")
        copied, problem = sealed.copy_log(ws, s, row, log_rows, chain)
        if problem is not None:
            ws.log("school_log_refused", detail={"school_workspace": slug, "problem": problem}, conn=s)
        row.synced_at = _now()
        ws.log(
            "school_pulled",
            detail={"school_workspace": slug, "entries": entries_in, "log_entries": copied},
            conn=s,
        )
    if changed:
        with store.engine.begin() as c:
            c.execute(
                SS.checklist_entry.update()
                .where(SS.checklist_entry.c.id.in_([e.id for e in changed]))
                .values(changed=False)
            )
    return {"entries": entries_in, "log_entries": copied, "log_problem": problem}


def sync_school(ws: Workspace, school: str) -> dict:
    """Pull then push one school's workspace (created again by the push if its files are gone)."""
    row = SW.row_of(ws, school)
    if row is None or not SW.school_db_path(ws.path, row.slug).exists():
        store = SW.ensure(ws, school)
        pulled = {"entries": 0, "log_entries": 0, "log_problem": None, "recreated": row is not None}
    else:
        store = SW.open_store(ws, row)
        pulled = pull(ws, store)
    try:
        pushed = SW.push(ws, store)
    finally:
        store.close()
    return {"school": school, **pulled, "pupils": pushed["pupils"], "rounds": pushed["rounds"]}


@service("checklist.manage", what="checklist sync")
def sync(ws: Workspace, school: str | None = None, *, quiet: bool = False) -> dict:
    """Every school workspace (or one): read back, then filled again. ``quiet``: part of another service (a school
    whose workspace cannot be opened is reported, not raised)."""
    names = [school] if school else [r.school for r in SW.rows(ws)]
    out, problems = [], []
    for name in names:
        try:
            out.append(sync_school(ws, name))
        except KodomoError as e:
            if not quiet:
                raise
            problems.append({"school": name, "problem": e.message_ja})
    return {"schools": out, "problems": problems}
