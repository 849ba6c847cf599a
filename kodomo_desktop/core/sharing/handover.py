"""A family's support file handed to the receiving town when they move (転出・転入; seed 003).

``export_handover`` packs what the receiving town's 要対協 needs — the child's identity, the household, the open
support case and its plan, the latest progress records and decisions, whom to call — and no scores unless asked,
encrypted to a one-time password (``crypto.seal``) that the sending town gives by phone. Both sides log it.

``import_handover`` opens it in the receiving town's database: the child arrives as one record of the source
``handover`` waiting in the 名寄せ review queue (never linked automatically — a person confirms which resident of
this town the child is); the case opens for that resident when the link is accepted (:func:`open_case_on_accept`,
called by the linkage service's ``decide``). A wrong password or a changed byte refuses the file; nothing changes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from ..errors import InputRefused, NotFound
from ..outputs import write_bytes
from ..services import service
from ..storage.models import (
    ChildScore,
    ConferenceItem,
    Link,
    Person,
    ProgressRecord,
    ReviewRound,
    RoundCandidate,
    ScoreRun,
    Setting,
    SourceBatch,
    SourceRecord,
    SupportCase,
)
from ..text.normalize import norm_address, norm_kana, norm_name, split_name
from .crypto import open_sealed, seal

if TYPE_CHECKING:
    from ..workspace import Workspace

KIND = "handover"
SOURCE_TYPE = "handover"
PROGRESS_KEPT = 10


def _iso(d):
    return d.isoformat() if d else None


def _town(s) -> str | None:
    t = s.get(Setting, "town_name")
    v = t.value if t else None
    if isinstance(v, dict):
        v = v.get("name") or v.get("value")
    return str(v).strip() if v and str(v).strip() else None


def _identity(p: Person) -> dict:
    return {
        "name": p.name,
        "name_kana": p.name_kana,
        "birth_date": _iso(p.birth_date),
        "sex": p.sex,
        "relationship": p.relationship,
    }


def build_payload(s, person_id: str, to_town: str, *, with_scores: bool = False, contact: str | None = None) -> dict:
    p = s.get(Person, person_id)
    if p is None:
        raise NotFound(f"こども {person_id} はいません。")
    members = []
    if p.household_id:
        members = [
            _identity(m)
            for m in s.scalars(select(Person).where(Person.household_id == p.household_id).order_by(Person.birth_date))
            if m.id != p.id
        ]
    cases = []
    for c in s.scalars(select(SupportCase).where(SupportCase.person_id == person_id).order_by(SupportCase.id)):
        progress = s.scalars(
            select(ProgressRecord)
            .where(ProgressRecord.case_id == c.id)
            .order_by(ProgressRecord.on.desc(), ProgressRecord.id.desc())
            .limit(PROGRESS_KEPT)
        ).all()
        cases.append(
            {
                "opened_on": _iso(c.opened_on),
                "closed_on": _iso(c.closed_on),
                "close_reason": c.close_reason,
                "plan": c.plan,
                "lead_organisation": c.lead_organisation,
                "next_action_on": _iso(c.next_action_on),
                "progress": [
                    {"on": _iso(r.on), "kind": r.kind, "who": r.who, "what": r.what, "outcome": r.outcome}
                    for r in progress
                ],
            }
        )
    decisions = []
    for rc, rr in s.execute(
        select(RoundCandidate, ReviewRound)
        .join(ReviewRound, ReviewRound.id == RoundCandidate.round_id)
        .where(RoundCandidate.person_id == person_id, RoundCandidate.classification.is_not(None))
    ).all():
        decisions.append(
            {"kind": "round", "round": rr.name, "on": _iso(rr.as_of), "label": rc.classification, "reason": rc.reason}
        )
    for ci in s.scalars(select(ConferenceItem).where(ConferenceItem.person_id == person_id)):
        if ci.support_needed or ci.actions or ci.lead_organisation:
            decisions.append(
                {
                    "kind": "conference",
                    "on": _iso(ci.decided_at.date()) if ci.decided_at else None,
                    "support_needed": ci.support_needed,
                    "lead_organisation": ci.lead_organisation,
                    "roles": ci.roles,
                    "actions": ci.actions,
                    "next_review_on": _iso(ci.next_review_on),
                }
            )
    payload = {
        "format": 1,
        "from_town": _town(s) or "（町名未設定）",
        "to_town": to_town,
        "created_on": dt.date.today().isoformat(),
        "contact": contact,
        "child": {**_identity(p), "address": p.address},
        "household": members,
        "cases": cases,
        "decisions": decisions[-10:],
    }
    if with_scores:
        row = s.execute(
            select(ChildScore, ScoreRun)
            .join(ScoreRun, ScoreRun.id == ChildScore.run_id)
            .where(ChildScore.person_id == person_id)
            .order_by(ScoreRun.id.desc())
            .limit(1)
        ).first()
        if row:
            c, r = row
            payload["score"] = {"as_of": _iso(r.as_of), "total": c.total, "band": c.band, "types": c.types}
    return payload


@service("data.share", what="handover export", person="person_id")
def export_handover(
    ws: Workspace,
    person_id: str,
    to_town: str,
    out: Path,
    password: str | None,
    *,
    with_scores: bool = False,
    contact: str | None = None,
) -> dict:
    to_town = (to_town or "").strip()
    if not to_town:
        raise InputRefused("引継ぎ先の自治体名（--to）を指定してください。")
    with ws.session(write=True) as s:  # it logs at its end, maybe while the GUI thread logs a search
        payload = build_payload(s, person_id, to_town, with_scores=with_scores, contact=contact)
        data = seal(
            json.dumps(payload, ensure_ascii=False).encode("utf-8"),
            password,
            KIND,
            {"from_town": payload["from_town"], "to_town": to_town, "created_on": payload["created_on"]},
        )
        write_bytes(out, data)
        ws.log(
            "export",
            person_id,
            {
                "what": "handover",
                "cases": len(payload["cases"]),
                "with_scores": with_scores,
                "sha256": hashlib.sha256(data).hexdigest()[:16],
            },
            conn=s,
        )
    return {
        "out": str(out),
        "person_id": person_id,
        "to": to_town,
        "cases": len(payload["cases"]),
        "household": len(payload["household"]),
        "with_scores": with_scores,
    }


def _candidates(s, child: dict) -> list[dict]:
    """Residents of this town with the same normalised name (kanji or kana) and birth date — for the reviewer."""
    bd = dt.date.fromisoformat(child["birth_date"]) if child.get("birth_date") else None
    if bd is None:
        return []
    nn, kn = norm_name(child.get("name")), norm_kana(child.get("name_kana"))
    out = []
    for p in s.scalars(select(Person).where(Person.birth_date == bd, Person.in_registry.is_(True))):
        same_name = bool(nn) and p.name_norm == nn
        same_kana = bool(kn) and p.kana_norm == kn
        if same_name or same_kana:
            out.append(
                {
                    "person_id": p.id,
                    "name_match": same_name,
                    "kana_match": same_kana,
                    "sex_match": p.sex == child.get("sex"),
                }
            )
    out.sort(key=lambda c: (not c["name_match"], not c["kana_match"], not c["sex_match"]))
    return out


@service("import", what="handover import")
def import_handover(ws: Workspace, path: Path, password: str | None) -> dict:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise InputRefused(f"ファイル {path} を読めません: {e.strerror}") from None
    header, plain = open_sealed(data, password, KIND)
    payload = json.loads(plain)
    child = payload.get("child") or {}
    digest = hashlib.sha256(data).hexdigest()
    with ws.session() as s:
        if s.scalar(select(SourceBatch.id).where(SourceBatch.file_hash == digest, SourceBatch.removed_at.is_(None))):
            raise InputRefused("この引継ぎファイルは取り込み済みです。")
        bd = dt.date.fromisoformat(child["birth_date"]) if child.get("birth_date") else None
        b = SourceBatch(
            source_type=SOURCE_TYPE,
            file_name=f"転入引継ぎ（{payload.get('from_town')}）{Path(path).name}",
            file_hash=digest,
            as_of=dt.date.fromisoformat(payload["created_on"]) if payload.get("created_on") else dt.date.today(),
            imported_by=ws.user.name,
            rows_total=1,
            rows_imported=1,
            mapping={"via": "handover", "from_town": payload.get("from_town")},
        )
        s.add(b)
        s.flush()
        sur, giv = split_name(child.get("name"))
        rec = SourceRecord(
            batch_id=b.id,
            source_type=SOURCE_TYPE,
            row_number=1,
            source_key=None,
            subject="self",
            raw=payload,
            name=child.get("name"),
            name_kana=child.get("name_kana"),
            name_norm=norm_name(child.get("name")) or None,
            kana_norm=norm_kana(child.get("name_kana")) or None,
            surname_norm=norm_name(sur) or None,
            given_norm=norm_name(giv) or None,
            birth_date=bd,
            sex=child.get("sex"),
            address=child.get("address"),
            address_norm=norm_address(child.get("address")) or None,
            record_date=b.as_of,
            attributes={"from_town": payload.get("from_town"), "cases": len(payload.get("cases") or [])},
        )
        s.add(rec)
        s.flush()
        cands = _candidates(s, child)
        s.add(
            Link(
                record_id=rec.id,
                person_id=cands[0]["person_id"] if cands else None,
                status="review",
                method="handover",
                candidates=cands,
                explanation={"handover": True, "from_town": payload.get("from_town")},
            )
        )
        ws.log(
            "import",
            cands[0]["person_id"] if cands else None,
            {"what": "handover", "batch_id": b.id, "record_id": rec.id, "candidates": len(cands)},
            conn=s,
        )
    return {
        "batch_id": b.id,
        "record_id": rec.id,
        "from": payload.get("from_town"),
        "status": "review",
        "candidate": cands[0]["person_id"] if cands else None,
        "cases": len(payload.get("cases") or []),
    }


def open_case_on_accept(s, rec: SourceRecord, person_id: str, by: str) -> int | None:
    """When a person confirms which resident a handed-over child is, open the case the other town sent."""
    if rec.source_type != SOURCE_TYPE:
        return None
    payload = rec.raw or {}
    marker = f"［転入引継ぎ・{payload.get('from_town')}・受付{rec.batch_id}］"
    if s.scalar(select(SupportCase.id).where(SupportCase.person_id == person_id, SupportCase.plan.like(marker + "%"))):
        return None  # accepted before (an undo and a second accept must not open it twice)
    cases = [c for c in payload.get("cases") or [] if not c.get("closed_on")] or (payload.get("cases") or [])[-1:]
    src = cases[-1] if cases else {}
    case = SupportCase(
        person_id=person_id,
        opened_on=dt.date.today(),
        plan=marker + (src.get("plan") or "（送付元の支援方針なし）"),
        lead_organisation=src.get("lead_organisation"),
        next_action_on=dt.date.fromisoformat(src["next_action_on"]) if src.get("next_action_on") else None,
        created_by=by,
    )
    s.add(case)
    s.flush()
    for r in reversed(src.get("progress") or []):
        s.add(
            ProgressRecord(
                person_id=person_id,
                case_id=case.id,
                on=dt.date.fromisoformat(r["on"]) if r.get("on") else dt.date.today(),
                kind=r.get("kind") or "記録",
                who=f"{payload.get('from_town')}: {r.get('who') or ''}".strip(),
                what=r.get("what"),
                outcome=r.get("outcome"),
                created_by=by,
            )
        )
    return case.id
