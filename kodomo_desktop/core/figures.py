"""The counts the registers print that come from children's data — computed in one place.

The 個人情報ファイル簿 counts persons and rows per source type and lists the fields held; the retention view counts
each batch's rows and lists closed support cases (ids and dates). A town workspace computes them from its tables;
the auditor's workspace (core/auditspace.py) has no children's data and reads them as the town computed them at its
last sync (``ws.stored_figures()``). :func:`compute_all` is what that sync stores. Counts and internal ids only:
never a name.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, text

from .vocab import LINKED_SQL

if TYPE_CHECKING:
    from .workspace import Workspace

IDENTITY_COLUMNS = {
    "resident_no": "resident_no",
    "household_no": "household_no",
    "name": "name",
    "name_kana": "name_kana",
    "birth_date": "birth_date",
    "sex": "sex",
    "address": "address",
    "relationship": "relationship",
    "student_no": "student_no",
    "school": "school",
    "grade": "grade",
    "class": "class_name",
    "source_key": "source_key",
}


def _stored(ws: Workspace) -> dict | None:
    stored = getattr(ws, "stored_figures", None)
    return stored() if stored is not None else None


# --- the 個人情報ファイル簿 ----------------------------------------------------------------------------------------------
def _register_counts(s) -> dict[str, Any]:
    held = s.execute(
        text(
            "SELECT r.source_type, count(DISTINCT l.person_id) AS persons, count(*) AS rows FROM source_record r "
            "JOIN source_batch b ON b.id = r.batch_id LEFT JOIN link l ON l.record_id = r.id "
            f"AND l.status IN {LINKED_SQL} WHERE b.removed_at IS NULL GROUP BY r.source_type"
        )
    ).all()
    today = dt.date.today()
    return {
        "held": [[st, int(p or 0), int(n)] for st, p, n in held],
        "items_held": _items_held(s),
        "persons": int(s.execute(text("SELECT count(*) FROM person")).scalar() or 0),
        "children": int(
            s.execute(
                text("SELECT count(*) FROM person WHERE birth_date > :d"), {"d": today.replace(year=today.year - 19)}
            ).scalar()
            or 0
        ),
    }


def register_counts(ws: Workspace, s) -> dict[str, Any]:
    """``held`` ([source type, persons, rows]), ``items_held`` (source type → fields with a value), ``persons``,
    ``children`` (under 19 today)."""
    stored = _stored(ws)
    return stored["register"] if stored is not None else _register_counts(s)


def _items_held(s) -> dict[str, list[str]]:
    """Per source type, the fields the database really holds a value for (identity columns, then attributes)."""
    cols = ", ".join(f"count(r.{c})" for c in IDENTITY_COLUMNS.values())
    out: dict[str, list[str]] = {}
    for row in s.execute(
        text(
            f"SELECT r.source_type, {cols} FROM source_record r JOIN source_batch b ON b.id = r.batch_id "
            "WHERE b.removed_at IS NULL GROUP BY r.source_type"
        )
    ).all():
        out[row[0]] = [f for f, n in zip(IDENTITY_COLUMNS, row[1:]) if n]
    try:
        attrs = s.execute(
            text(
                "SELECT r.source_type, j.key FROM source_record r JOIN source_batch b ON b.id = r.batch_id, "
                "json_each(r.attributes) j WHERE b.removed_at IS NULL GROUP BY r.source_type, j.key"
            )
        ).all()
    except Exception:  # pragma: no cover - an SQLite without JSON1: identity fields only
        attrs = []
    for st, key in attrs:
        out.setdefault(st, []).append(key)
    return out


# --- retention ------------------------------------------------------------------------------------------------------
def _batch_records(s, ids: list[int] | None) -> dict[str, int]:
    sql = "SELECT batch_id, count(*) FROM source_record"
    if ids is None:
        rows = s.execute(text(sql + " GROUP BY batch_id")).all()
    elif not ids:
        rows = []
    else:
        q = text(sql + " WHERE batch_id IN :ids GROUP BY batch_id").bindparams(bindparam("ids", expanding=True))
        rows = s.execute(q, {"ids": ids}).all()
    return {str(b): int(n) for b, n in rows}


def batch_records(ws: Workspace, s, ids: list[int]) -> dict[int, int]:
    """Rows per batch (``ids``: the batches asked about)."""
    stored = _stored(ws)
    counts = stored["batch_records"] if stored is not None else _batch_records(s, ids)
    return {i: int(counts.get(str(i), 0)) for i in ids}


def _closed_cases(s, before: dt.date | None) -> list[list]:
    sql = (
        "SELECT c.id, c.person_id, c.closed_on, (SELECT count(*) FROM progress_record p WHERE p.case_id = c.id) "
        "FROM support_case c WHERE c.closed_on IS NOT NULL"
    )
    if before is not None:
        rows = s.execute(text(sql + " AND c.closed_on < :d ORDER BY c.closed_on, c.id"), {"d": before}).all()
    else:
        rows = s.execute(text(sql + " ORDER BY c.closed_on, c.id")).all()
    return [[cid, pid, str(closed)[:10], int(n)] for cid, pid, closed, n in rows]


def closed_cases(ws: Workspace, s, before: dt.date) -> list[list]:
    """Support cases closed (終結) before ``before``: [case id, person id, closed on (ISO), progress records]."""
    stored = _stored(ws)
    if stored is None:
        return _closed_cases(s, before)
    return [c for c in stored["closed_cases"] if c[2] < before.isoformat()]


def compute_all(s) -> dict[str, Any]:
    """Every figure, for the auditor's copy."""
    return {
        "register": _register_counts(s),
        "batch_records": _batch_records(s, None),
        "closed_cases": _closed_cases(s, None),
    }
