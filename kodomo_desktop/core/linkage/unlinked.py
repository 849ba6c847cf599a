"""Rows that 名寄せ left unlinked, for the import page: the list, candidate persons for a manual link, and the two
decisions a coordinator makes about such a row — link it to a person, or say the person is not in our registry
(転出・住民でない方). The decisions are the ones the review queue records (``service.decide``): they stick across
re-runs and later imports, and can be undone."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import text

from ..importing.fields import SOURCE_TYPES
from ..importing.guards import resident_key
from ..services import service
from ..text.normalize import norm_kana, norm_name
from . import service as L

if TYPE_CHECKING:
    from ..workspace import Workspace


def _label(st: str) -> str:

    meta = SOURCE_TYPES.get(st)
    return meta.get("label", st) if isinstance(meta, dict) else st


def _date(v):
    if v is None or isinstance(v, dt.date):
        return v
    try:
        return dt.date.fromisoformat(str(v)[:10])
    except ValueError:
        return None


@service("link.review", what="unlinked rows")
def unlinked_rows(ws: Workspace, *, batch_id: int | None = None, limit: int = 1000) -> list[dict]:
    """Rows of current batches (not the registry) that are unlinked after 名寄せ and that nobody has yet marked
    "not in our registry". Logged as one list view."""
    with ws.session() as s:
        rows = s.execute(
            text(
                "SELECT r.id, r.source_type, b.id AS batch_id, b.file_name, r.row_number, r.name, r.name_kana, "
                "r.birth_date, r.sex, r.address, r.resident_no, r.school FROM link l "
                "JOIN source_record r ON r.id = l.record_id JOIN source_batch b ON b.id = r.batch_id "
                "WHERE l.status = 'unlinked' AND b.removed_at IS NULL "
                "AND r.source_type NOT IN ('resident_registry', 'school_checklist') "
                + ("AND b.id = :b " if batch_id is not None else "")
                + "AND NOT EXISTS (SELECT 1 FROM link_decision d WHERE d.record_id = r.id AND d.undone_at IS NULL "
                "AND d.decision = 'not_in_registry') ORDER BY b.id DESC, r.row_number LIMIT :n"
            ),
            {"b": batch_id, "n": limit},
        ).all()
        out = [
            {
                "record_id": r.id,
                "source_type": r.source_type,
                "source": _label(r.source_type),
                "batch_id": r.batch_id,
                "file_name": r.file_name,
                "row": r.row_number,
                "name": r.name or "",
                "name_kana": r.name_kana or "",
                "birth_date": _date(r.birth_date),
                "sex": r.sex,
                "address": r.address or "",
                "resident_no": r.resident_no or "",
                "school": r.school or "",
            }
            for r in rows
        ]
        ws.log("view_list", detail={"list": "unlinked_rows", "rows": len(out)}, conn=s)
    return out


@service("link.review", what="link candidates")
def person_candidates(ws: Workspace, record_id: int | None = None, query: str = "", limit: int = 30) -> list[dict]:
    """Persons a row could be: with ``query`` those whose name, kana or 宛名番号 contains it; otherwise those who
    share the row's birth date, name or kana. Registry persons only."""
    with ws.session() as s:
        params: dict = {"n": limit}
        if query.strip():
            q = query.strip()
            params.update(nn=f"%{norm_name(q)}%", kn=f"%{norm_kana(q)}%", rk=resident_key(q) or "")
            where = "(p.name_norm LIKE :nn OR p.kana_norm LIKE :kn OR ltrim(p.resident_no, '0') = :rk)"
        elif record_id is not None:
            r = s.execute(
                text("SELECT name_norm, kana_norm, birth_date FROM source_record WHERE id = :i"), {"i": record_id}
            ).first()
            if r is None:
                return []
            params.update(nn=r.name_norm or "\x00", kn=r.kana_norm or "\x00", bd=str(r.birth_date or "")[:10] or "\x00")
            where = "(p.name_norm = :nn OR p.kana_norm = :kn OR substr(p.birth_date, 1, 10) = :bd)"
        else:
            return []
        rows = s.execute(
            text(
                "SELECT p.id, p.name, p.name_kana, p.birth_date, p.sex, p.address, p.in_registry FROM person p "
                f"WHERE {where} ORDER BY p.in_registry DESC, p.birth_date, p.id LIMIT :n"
            ),
            params,
        ).all()
    return [
        {
            "person_id": p.id,
            "name": p.name or "",
            "name_kana": p.name_kana or "",
            "birth_date": _date(p.birth_date),
            "sex": p.sex,
            "address": p.address or "",
            "in_registry": bool(p.in_registry),
        }
        for p in rows
    ]


def link_to_person(ws: Workspace, record_id: int, person_id: str) -> int:
    """A person's decision: this row is this person (sticks across re-runs)."""
    return L.decide(ws, record_id, "accept", person_id)


def not_in_registry(ws: Workspace, record_id: int) -> int:
    """A person's decision: this row's person is not in our registry (moved away, not a resident)."""
    return L.decide(ws, record_id, "not_in_registry")
