"""利用停止・不同意 (opt-out register, after 山県市's 不同意書): a person, or a whole household, is left out of
linkage and scoring from a date. Their rows stay imported but unused (export-links status ``excluded``); they
never appear on a list, packet or checklist template. Removing an opt-out needs a reason and is logged."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update

from ..calendar import wareki
from ..errors import InputRefused, NotFound
from ..services import service
from ..storage.db import rowcount
from ..storage.models import Link, OptOut, Person

if TYPE_CHECKING:
    from ..workspace import Workspace


@service("governance.write", what="optout add", person="person_id")
def add_optout(
    ws: Workspace, person_id: str, reason: str, *, household: bool = False, from_date: dt.date | None = None
) -> dict:
    if not (reason or "").strip():
        raise InputRefused("理由を入力してください。")
    with ws.session() as s:
        p = s.get(Person, person_id)
        if p is None:
            raise NotFound(f"こども・住民 {person_id} はありません。")
        if household and not p.household_id:
            raise InputRefused("この人には世帯がありません。")
        existing = s.scalar(
            select(OptOut).where(
                OptOut.removed_at.is_(None),
                OptOut.household_id == p.household_id if household else OptOut.person_id == person_id,
            )
        )
        if existing is not None:
            raise InputRefused("すでに利用停止の登録があります。")
        o = OptOut(
            person_id=None if household else person_id,
            household_id=p.household_id if household else None,
            from_date=from_date or dt.date.today(),
            reason=reason.strip(),
            created_by=ws.user.name,
        )
        s.add(o)
        s.flush()
        ids = (
            [person_id]
            if not household
            else list(s.scalars(select(Person.id).where(Person.household_id == p.household_id)))
        )
        # take effect at once; the next link run keeps them excluded
        n = rowcount(
            s.execute(
                update(Link)
                .where(Link.person_id.in_(ids), Link.status.in_(("auto", "confirmed", "review")))
                .values(status="excluded")
            )
        )
        ws.log(
            "optout_added",
            person_id,
            {"optout_id": o.id, "household": household, "persons": len(ids), "rows_excluded": n},
            conn=s,
        )
        return {
            "optout_id": o.id,
            "person_id": person_id,
            "household": household,
            "persons": len(ids),
            "rows_excluded": n,
            "from_date": o.from_date.isoformat(),
        }


@service("governance.write", what="optout remove", person="person_id")
def remove_optout(ws: Workspace, person_id: str, reason: str) -> dict:
    if not (reason or "").strip():
        raise InputRefused("利用停止を解除する理由を入力してください。")
    with ws.session() as s:
        p = s.get(Person, person_id)
        if p is None:
            raise NotFound(f"こども・住民 {person_id} はありません。")
        rows = s.scalars(
            select(OptOut).where(
                OptOut.removed_at.is_(None),
                (OptOut.person_id == person_id)
                | ((OptOut.household_id == p.household_id) & (OptOut.household_id.is_not(None))),
            )
        ).all()
        if not rows:
            raise InputRefused("この人の利用停止の登録はありません。")
        now = dt.datetime.now().replace(microsecond=0)
        for o in rows:
            o.removed_at, o.removed_by, o.removed_reason = now, ws.user.name, reason.strip()
        ws.log("optout_removed", person_id, {"optout_ids": [o.id for o in rows]}, conn=s)
        return {"person_id": person_id, "removed": len(rows), "note": "次回の名寄せ・スコア算出から対象に戻ります。"}


@service("governance.write", what="optout remove")
def remove_optout_entry(ws: Workspace, optout_id: int, reason: str) -> dict:
    """Remove one entry of the register (a person's or a whole household's), with a reason; logged."""
    if not (reason or "").strip():
        raise InputRefused("利用停止を解除する理由を入力してください。")
    with ws.session() as s:
        o = s.get(OptOut, optout_id)
        if o is None or o.removed_at is not None:
            raise InputRefused(f"利用停止の登録 {optout_id} はありません（解除済みかもしれません）。")
        o.removed_at, o.removed_by, o.removed_reason = (
            dt.datetime.now().replace(microsecond=0),
            ws.user.name,
            reason.strip(),
        )
        ws.log("optout_removed", o.person_id, {"optout_ids": [o.id], "household_id": o.household_id}, conn=s)
        return {
            "optout_id": o.id,
            "person_id": o.person_id,
            "household_id": o.household_id,
            "removed": 1,
            "note": "次回の名寄せ・スコア算出から対象に戻ります。",
        }


@service("governance.write", what="optout lookup", person="person_id")
def describe_person(ws: Workspace, person_id: str) -> dict:
    """Who an opt-out is about, for the person registering it to check (name, birth date, household size)."""

    with ws.session() as s:
        p = s.get(Person, person_id)
        if p is None:
            raise NotFound(f"こども・住民 {person_id} はありません。")
        members = s.scalar(select(func.count()).where(Person.household_id == p.household_id)) if p.household_id else 1
        active = s.scalar(
            select(func.count()).where(
                OptOut.removed_at.is_(None),
                (OptOut.person_id == person_id)
                | ((OptOut.household_id == p.household_id) & OptOut.household_id.is_not(None)),
            )
        )
        return {
            "person_id": p.id,
            "name": p.name,
            "birth_date": wareki(p.birth_date) if p.birth_date else "",
            "household_id": p.household_id,
            "household_members": members,
            "opted_out": bool(active),
        }


@service("governance.read", what="optout register")
def register(ws: Workspace) -> list[dict]:
    """The register itself, for the coordinator and the auditor (ids, dates, reasons; no names)."""
    with ws.session() as s:
        return [
            {
                "id": o.id,
                "person_id": o.person_id,
                "household_id": o.household_id,
                "from_date": o.from_date.isoformat(),
                "reason": o.reason,
                "created_by": o.created_by,
                "created_at": o.created_at.isoformat(),
                "removed_at": o.removed_at.isoformat() if o.removed_at else None,
                "removed_reason": o.removed_reason,
            }
            for o in s.scalars(select(OptOut).order_by(OptOut.id))
        ]
