"""Checklist results that the score reads: one ``school_checklist`` source batch per school and round (a later
return supersedes the earlier one). Written by the town for its own entries and for what it reads back from a
school's workspace (sync.py); shared by service.py and sync.py."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import TYPE_CHECKING

from sqlalchemy import insert, select, update

from ..storage.models import ChecklistDefinition, ChecklistEntry, ChecklistRound, Link, SourceBatch, SourceRecord

if TYPE_CHECKING:
    from ..workspace import Workspace


def _now():
    return dt.datetime.now().replace(microsecond=0)


def round_definition(s, r: ChecklistRound) -> dict:
    return s.get(ChecklistDefinition, r.definition_id).data


def group_counts(definition: dict, answers: dict) -> dict[str, int]:
    groups = {i["id"]: i["group"] for i in definition["items"]}
    out: dict[str, int] = {}
    for item, code in answers.items():
        if code == "1" and item in groups:
            out[groups[item]] = out.get(groups[item], 0) + 1
    return out


def _write_results(
    ws: Workspace,
    s,
    r: ChecklistRound,
    school: str | None,
    entries_: list[ChecklistEntry],
    *,
    via: str,
    file_name: str | None = None,
    file_hash: str | None = None,
    rows: list[int] | None = None,
) -> int:
    """One ``school_checklist`` batch per school and round; a later return supersedes the earlier one."""
    d = round_definition(s, r)
    older = s.scalars(
        select(SourceBatch.id).where(
            SourceBatch.source_type == "school_checklist",
            SourceBatch.scope == f"{school}|{r.id}",
            SourceBatch.removed_at.is_(None),
            SourceBatch.superseded_by.is_(None),
        )
    ).all()
    label = f"観察チェックリスト {school or '学校不明'} {r.name}"
    b = SourceBatch(
        source_type="school_checklist",
        file_name=f"{label}（{file_name or 'アプリ入力'}）",
        file_hash=file_hash or hashlib.sha256(f"{school}|{r.id}|{_now()}|{via}".encode()).hexdigest(),
        as_of=r.opened_on,
        imported_by=ws.user.name,
        rows_total=len(entries_),
        rows_imported=len(entries_),
        scope=f"{school}|{r.id}",
        mapping={"via": via},
    )
    s.add(b)
    s.flush()
    recs = []
    for n, e in enumerate(entries_):
        recs.append(
            {
                "batch_id": b.id,
                "source_type": "school_checklist",
                "row_number": rows[n] if rows else n + 1,
                "source_key": e.person_id,
                "subject": "self",
                "raw": {"answers": e.answers, "remark": e.remark},
                "school": school,
                "record_date": e.entered_on or r.opened_on,
                "attributes": {
                    "round": r.name,
                    "round_id": r.id,
                    "definition": d["key"],
                    "group_counts": group_counts(d, e.answers),
                    "answers": e.answers,
                    "answered": len(e.answers),
                },
            }
        )
    if recs:
        s.execute(insert(SourceRecord), recs)
        ids = s.execute(select(SourceRecord.id, SourceRecord.source_key).where(SourceRecord.batch_id == b.id)).all()
        s.execute(
            insert(Link),
            [
                {"record_id": rid, "person_id": pid, "status": "auto", "method": "row_key", "probability": 1.0}
                for rid, pid in ids
            ],
        )
    if older:
        s.execute(update(SourceBatch).where(SourceBatch.id.in_(older)).values(superseded_by=b.id))
    return b.id
