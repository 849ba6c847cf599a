"""Printed documents — the entry points the CLI and the GUI call.

Each function requires ``report.print``, reads through the Workspace, writes an A4 PDF with the IPAex font
embedded and logs ``print`` (document kind, pages, person ids — never a name). Each returns ``{"pages": n}``.

    assessment_pdf(ws, person_id, out, *, mask="none")                       アセスメントシート
    conference_pdf(ws, person_ids, out, conference_id=None, *, mask="none")  ケース会議資料
    school_sheet_pdf(ws, school, out, *, person_ids=None, mask="school")     情報収集シート（学校向け）
    handover_pdf(ws, person_id, out, kind="進学", *, mask="school")          引継ぎシート（進学・転校・担任交代）
    round_stats_pdf(ws, round_id, out)                                       ラウンド統計
    blank_checklist_pdf(ws, school, klass, definition, out)                  hook for the checklist engineer
    log_printed(ws, kind, detail)                                            a copy sent to a printer (GUI)

Each also takes ``log_extra`` (a dict merged into the log entry, e.g. ``{"output": "preview"}`` from the GUI);
``conference_pdf`` takes ``progress`` (called per child as ``progress(done, total)``, then with a message).

Unknown ids raise NotFound and children on the opt-out register InputRefused (both CLI exit 2); nothing is
written or logged then.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from .. import queries as Q
from ..casework.service import DIRECTIONS, funnel
from ..errors import InputRefused, NotFound
from ..services import service
from ..storage.models import Conference, ConferenceItem, Person
from . import base as B
from . import data as D

if TYPE_CHECKING:
    from ..workspace import Workspace

PERMISSION = "report.print"


@service(PERMISSION, what="report assessment", person="person_id")
def assessment_pdf(ws: Workspace, person_id: str, out, *, mask: str = "none", log_extra: dict | None = None) -> dict:
    """アセスメントシート for one child."""
    from . import assessment  # local: every report module names its own TITLE/story

    return _child_document(ws, assessment, "assessment", person_id, out, mask, log_extra)


def _child_document(ws: Workspace, module, kind: str, person_id: str, out, mask: str, log_extra: dict | None) -> dict:
    """One child's meeting document (``module.TITLE`` / ``module.story(bundle, mask)``); its callers are services
    (``@service`` checked the permission before this reads)."""
    m = _meeting_mask(mask, module.TITLE)
    with ws.session() as s:
        D.get_person(s, person_id)
        D.refuse_opted_out(s, [person_id])
        bundle = D.child_bundle(s, person_id)
    return B.render(
        ws,
        Path(out),
        kind=kind,
        title=module.TITLE,
        make=lambda: module.story(bundle, m),
        person_ids=[person_id],
        mask=m,
        log_detail=_extra(None, log_extra),
    )


@service(PERMISSION, what="report conference")
def conference_pdf(
    ws: Workspace,
    person_ids: Sequence[str],
    out,
    conference_id: int | None = None,
    *,
    mask: str = "none",
    progress=None,
    log_extra: dict | None = None,
) -> dict:
    """ケース会議資料: cover, contents and agenda, then each child's pages with decision boxes.

    Without ``person_ids`` the conference's agenda (``conference_id``) gives the children, in its order."""
    from .conference import story  # local: every report module names its own TITLE/story

    m = _meeting_mask(mask, "ケース会議資料")

    ids = list(dict.fromkeys(p.strip() for p in (person_ids or []) if p and p.strip()))
    with ws.session() as s:
        conf = None
        items: dict[str, dict] = {}
        if conference_id is not None:
            c = s.get(Conference, conference_id)
            if c is None:
                raise NotFound(f"会議 {conference_id} はありません。")
            conf = {
                "conference_id": c.id,
                "kind": c.kind,
                "title": c.title,
                "held_on": c.held_on,
                "place": c.place,
                "attendees": c.attendees or [],
            }
            rows = s.scalars(
                select(ConferenceItem)
                .where(ConferenceItem.conference_id == c.id)
                .order_by(ConferenceItem.position, ConferenceItem.id)
            ).all()
            if not ids:
                ids = [i.person_id for i in rows]
            for i in rows:
                items[i.person_id] = {
                    "support_needed": i.support_needed,
                    "direction_key": i.direction,
                    "direction": DIRECTIONS.get(i.direction or "", ""),
                    "lead_organisation": i.lead_organisation or "",
                    "actions": i.actions or "",
                    "next_review_on": i.next_review_on,
                    "roles": i.roles or [],
                    "minutes": i.minutes or "",
                    "registration": i.registration,
                    "category": i.category,
                    "decided_by": i.decided_by or "",
                    "decided_at": i.decided_at,
                }
        if not ids:
            raise InputRefused("会議資料に載せるこどもを指定してください。")
        for pid in ids:
            D.get_person(s, pid)
        D.refuse_opted_out(s, ids)
        reader = D.ScoreReader(s)
        run = D.latest_run(s)
        records = D.linked_records(s, ids)
        fresh = D.freshness(s)
        children = []
        for n, pid in enumerate(ids):
            if progress is not None:
                progress(n, len(ids))
            children.append(D.child_bundle(s, pid, reader=reader, run=run, records=records.get(pid, []), fresh=fresh))
        if progress is not None:
            progress(len(ids), len(ids))
            progress(f"{len(ids)}人分の会議資料を組版しています…")
    town = B.town_name(ws)
    title = (conf or {}).get("kind") or "ケース会議"
    return B.render(
        ws,
        Path(out),
        kind="conference",
        title=f"{title}資料",
        make=lambda: story(conf, children, items, m, town),
        person_ids=ids,
        mask=m,
        town=town,
        log_detail=_extra({"conference_id": conference_id} if conference_id is not None else None, log_extra),
    )


@service(PERMISSION, what="report school sheet")
def school_sheet_pdf(
    ws: Workspace,
    school: str,
    out,
    *,
    person_ids: Sequence[str] | None = None,
    mask: str = "school",
    log_extra: dict | None = None,
) -> dict:
    """情報収集シート for one school: by default the school's children flagged in the latest scoring run."""
    from .school_sheet import TITLE, story  # local: every report module names its own TITLE/story

    m = B.mask_profile(mask, "school")
    if m.audience_key not in ("school", "nursery"):  # a school-facing sheet, whatever was asked
        m = m.for_audience("school")
    if not (school or "").strip():
        raise InputRefused("学校名を指定してください。")
    school = school.strip()
    pupils = _school_pupils(ws, school, person_ids, m)
    return B.render(
        ws,
        Path(out),
        kind="school_sheet",
        title=TITLE,
        make=lambda: story(school, pupils, m),
        person_ids=[p["person_id"] for p in pupils],
        mask=m,
        log_detail=_extra(None, log_extra),
    )


def _school_pupils(ws: Workspace, school: str, person_ids, mask) -> list[dict]:

    with ws.session() as s:
        info = D.school_info(s)
        known = {i["school"] for i in info.values()}
        if school not in known:
            raise NotFound(f"学校「{school}」のこどもの記録はありません。")
        excluded = Q.opted_out(s)
        run = D.latest_run(s)
        if person_ids:
            ids = list(dict.fromkeys(person_ids))
            for pid in ids:
                D.get_person(s, pid)
                if info.get(pid, {}).get("school") != school:
                    raise InputRefused(f"{pid} は{school}の児童生徒ではありません。")
            D.refuse_opted_out(s, ids)
        else:
            at_school = [pid for pid, i in info.items() if i["school"] == school and pid not in excluded]
            scores = D.scores_in_run(s, run, at_school)
            ids = [pid for pid in at_school if scores.get(pid) is not None and scores[pid].flagged]
        reader = D.ScoreReader(s)
        scores = D.scores_in_run(s, run, ids)
        persons = {p.id: p for p in s.scalars(select(Person).where(Person.id.in_(ids)))}
        out = []
        for pid in ids:
            p = persons[pid]
            sc = reader.score(scores.get(pid), run)
            items = [r for r in mask.audience.reasons((sc or {}).get("reasons")) if not r["protective"]]
            seen, uniq = set(), []
            for r in sorted(items, key=lambda r: r["record_date"] or dt.date.min, reverse=True):
                if r["label"] not in seen:
                    seen.add(r["label"])
                    uniq.append(r)
            out.append(
                {
                    "person_id": pid,
                    "name": p.name or "",
                    "name_kana": p.name_kana or "",
                    "school": info.get(pid),
                    "items": uniq,
                }
            )
    out.sort(
        key=lambda p: (
            _order((p["school"] or {}).get("grade")),
            _order((p["school"] or {}).get("class")),
            p["name_kana"],
        )
    )
    return out


def _order(v) -> tuple:
    text = str(v or "").strip().rstrip("年組")
    return (0, int(text), "") if text.isdigit() else (1, 0, text)


@service(PERMISSION, what="report handover", person="person_id")
def handover_pdf(
    ws: Workspace, person_id: str, out, kind: str = "進学", *, mask: str = "school", log_extra: dict | None = None
) -> dict:
    """引継ぎシート (kind: 進学 / 転校 / 担任交代 / 転出), always for the receiving side (audience ``handover``)."""
    from .handover import KINDS, story, title_of  # local: every report module names its own TITLE/story

    k = KINDS.get((kind or "").strip())
    if k is None:
        raise InputRefused("引継ぎの種類は「進学」「転校」「担任交代」「転出」のいずれかです。")
    m = B.mask_profile(mask, "school").for_audience("handover")  # always for the receiving side
    with ws.session() as s:
        D.get_person(s, person_id)
        D.refuse_opted_out(s, [person_id])
        bundle = D.child_bundle(s, person_id)
    return B.render(
        ws,
        Path(out),
        kind="handover",
        title=title_of(k),
        make=lambda: story(bundle, k, m),
        person_ids=[person_id],
        mask=m,
        log_detail=_extra({"handover": k}, log_extra),
    )


@service(PERMISSION, what="report round statistics")
def round_stats_pdf(ws: Workspace, round_id: int, out, *, log_extra: dict | None = None) -> dict:
    """ラウンド統計: the round's funnel overall, by school and by age band, with bar charts (counts only)."""
    from .round_stats import TITLE, story  # local: every report module names its own TITLE/story

    f = funnel(ws, round_id)
    return B.render(
        ws,
        Path(out),
        kind="round_stats",
        title=TITLE,
        make=lambda: story(f),
        person_ids=[],
        log_detail=_extra({"round_id": round_id}, log_extra),
    )


@service(PERMISSION, what="report blank checklist")
def blank_checklist_pdf(
    ws: Workspace, school: str, klass: str | None, definition, out, *, log_extra: dict | None = None
) -> dict:
    """Hook for the checklist engineer: a blank observation checklist for one class, to fill in by pen.

    Implement ``build_story(ws, school, klass, definition) -> (title, flowables, person_ids)`` in
    ``core/reports/checklist_sheet.py`` with the helpers of ``base`` (``grid``, ``boxes``, ``RuledField``,
    ``DocTitle``, ``Heading``); this function then requires the permission, renders it on the shared page
    template (取扱注意, page x / y, printed by/at) and logs it."""
    try:
        from . import checklist_sheet  # local: next to its story (see above)
    except ImportError:
        raise InputRefused("空欄のチェックリスト様式はまだ用意されていません。") from None
    title, flowables, ids = checklist_sheet.build_story(ws, school, klass, definition)
    return B.render(
        ws,
        Path(out),
        kind="blank_checklist",
        title=title,
        make=lambda: list(flowables),
        person_ids=ids,
        log_detail=_extra({"school": school}, log_extra),
    )


def _meeting_mask(mask, what: str) -> B.MaskProfile:
    """The conference's documents are for the meeting (audience ``conference``); a school never gets them."""
    m = B.mask_profile(mask)
    if m.audience_key != "conference":
        raise InputRefused(
            f"{what}は会議のための資料で、学校向けにはできません。学校には情報収集シートか引継ぎシートを使ってください。"
        )
    return m


def _extra(detail: dict | None, extra: dict | None) -> dict | None:
    if not extra:
        return detail
    return {**(detail or {}), **{k: v for k, v in extra.items() if k not in ("document", "pages", "persons")}}


@service(PERMISSION, what="report {kind} to printer")
def log_printed(ws: Workspace, kind: str, detail: dict | None = None) -> int:
    """Log a document the GUI sent to a printer (the PDF itself was made, and logged, by one of the functions
    above). ``detail`` says what: pages, person ids, conference/round id, school, mask — never a name.
    Requires ``report.print``; returns the log entry's id."""
    d: dict[str, Any] = {"document": kind, "output": "printer"}  # the log's JSON detail
    d.update({k: v for k, v in (detail or {}).items() if k not in ("document", "name", "names")})
    ids = list(dict.fromkeys(d.get("persons") or []))
    d["persons"] = ids
    return ws.log("print", ids[0] if len(ids) == 1 else None, d)


@service(PERMISSION, what="report intake", person="person_id")
def intake_pdf(ws: Workspace, person_id: str, out, *, mask: str = "none", log_extra: dict | None = None) -> dict:
    """受理会議録 for one child (the meeting's document: audience ``conference``)."""
    from . import intake  # local: every report module names its own TITLE/story

    return _child_document(ws, intake, "intake", person_id, out, mask, log_extra)


@service(PERMISSION, what="report no-school sheet")
def no_school_sheet_pdf(
    ws: Workspace,
    out,
    *,
    contact: str | None = None,
    person_ids: Sequence[str] | None = None,
    initials: bool = False,
    log_extra: dict | None = None,
) -> dict:
    """情報収集シート for children without a school, routed to the contact who has them (nursery / 保健師 / the
    family's other contact). By default the flagged children without a school routed to ``contact``; with
    ``person_ids`` those children (``contact`` then defaults to the first child's route and every child must
    route there or ``contact`` must be given)."""
    from .no_school_sheet import CONTACTS, TITLE, route, story  # local: every report module names its own TITLE/story

    if contact is not None and contact not in CONTACTS:
        raise InputRefused(f"送付先は {'・'.join(CONTACTS)} のいずれかです。")
    today = dt.date.today()
    with ws.session() as s:
        info = D.school_info(s)
        run = D.latest_run(s)
        records = None
        if person_ids:
            ids = list(dict.fromkeys(person_ids))
            for pid in ids:
                D.get_person(s, pid)
                if pid in info:
                    raise InputRefused(f"{pid} には学校・園の記録があります。学校用の情報収集シートを使ってください。")
            D.refuse_opted_out(s, ids)
        else:
            excluded = Q.opted_out(s)
            flagged = [
                c.person_id
                for c in s.scalars(select(D.ChildScore).where(D.ChildScore.run_id == (run.id if run else -1)))
                if c.flagged
            ]
            ids = [pid for pid in flagged if pid not in info and pid not in excluded]
        records = D.linked_records(s, ids)
        persons = {p.id: p for p in s.scalars(select(Person).where(Person.id.in_(ids)))} if ids else {}
        routed = {}
        for pid in ids:
            p = persons[pid]
            age = D.age_on(p.birth_date, today)
            has_health = any(r["source_type"] == "maternal_child_health" for r in records.get(pid, []))
            routed[pid] = route(age, has_health)
        if person_ids and contact is None:  # the children named: one route, else the person says which
            if len(set(routed.values())) > 1:
                raise InputRefused(
                    f"指定したこどもの送付先が異なります（{'・'.join(sorted(set(routed.values())))}）。"
                    "送付先（--contact）を指定するか、送付先ごとに出力してください。"
                )
            contact = routed[ids[0]]
        elif contact is None:
            raise InputRefused("送付先（nursery / public_health_nurse / family_contact）を指定してください。")
        elif not person_ids:
            ids = [pid for pid in ids if routed[pid] == contact]
        aud = CONTACTS[contact][1]
        m = B.MASKS["initials" if initials else "none"].for_audience(aud)
        reader = D.ScoreReader(s)
        scores = D.scores_in_run(s, run, ids)
        children: list[dict[str, Any]] = []
        for pid in ids:
            p = persons[pid]
            sc = reader.score(scores.get(pid), run)
            items = [r for r in m.audience.reasons((sc or {}).get("reasons")) if not r["protective"]]
            children.append(
                {
                    "person_id": pid,
                    "name": p.name or "",
                    "name_kana": p.name_kana or "",
                    "birth_date": p.birth_date,
                    "age": D.age_on(p.birth_date, today),
                    "address": p.address or "",
                    "items": items,
                }
            )
    children.sort(key=lambda c: (c["birth_date"] or dt.date.max, c["name_kana"]))
    return B.render(
        ws,
        Path(out),
        kind="no_school_sheet",
        title=TITLE,
        make=lambda: story(contact, children, m),
        person_ids=[c["person_id"] for c in children],
        mask=m,
        log_detail=_extra({"contact": contact}, log_extra),
    )
