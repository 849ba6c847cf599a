"""Review rounds and casework: the human cycle after the score.

A ``ReviewRound`` takes the flagged children of a scoring run (the 要対協 rule applied), each classified by a
person with a mandatory reason; a ``Conference`` takes a batch (spread across schools) and records minutes per
child; a ``SupportCase`` holds the plan, ``ProgressRecord``s the dated 経過記録; the funnel counts each round.
Every decision is logged and survives reopening (it is in the database, not in a widget).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, text

from .. import outputs
from .. import queries as Q
from ..calendar import age_on
from ..errors import InputRefused, NotFound
from ..i18n import msg
from ..services import service
from ..storage.models import (
    ChildScore,
    Conference,
    ConferenceItem,
    LocalResource,
    Note,
    Person,
    ProgressRecord,
    ReviewRound,
    RoundCandidate,
    ScoreRun,
    SupportCase,
    WeightSet,
)
from ..vocab import source_label

if TYPE_CHECKING:
    from ..workspace import Workspace

DEFAULT_LABELS = [
    {"key": "a", "label": "a. 受理相当"},
    {"key": "b", "label": "b. 予防的支援"},
    {"key": "c", "label": "c. 経過観察"},
    {"key": "d", "label": "d. 対象外"},
]
CONFERENCE_KINDS = ["ケース会議", "実務者会議", "個別ケース検討会議", "校内委員会", "三課協議"]
DIRECTIONS = {"A": "A 校内支援", "B": "B 地域資源", "C": "C 専門機関"}
REGISTRATIONS = ["登録する", "継続", "登録しない"]  # 要対協 registration decided by a meeting
CATEGORIES = ["要保護児童", "要支援児童", "特定妊婦"]  # 要対協 category (児童福祉法第6条の3)
PROGRESS_KINDS = ["家庭訪問", "面談", "電話", "会議", "関係機関連絡", "学校訪問", "その他"]
AGE_BANDS = [("未就学", 0, 5), ("小学生", 6, 11), ("中学生", 12, 14), ("高校生年代", 15, 18)]
DEFAULT_RESOURCES = [
    ("社会福祉協議会", "相談・生活支援"),
    ("子ども食堂", "食事・居場所"),
    ("児童発達支援センター", "発達支援"),
    ("教育支援センター（適応指導教室）", "不登校支援"),
    ("スクールソーシャルワーカー", "学校・家庭の調整"),
    ("児童相談所", "専門機関"),
    ("保健センター（保健師）", "母子保健"),
    ("生活困窮者自立相談支援窓口", "経済的支援"),
    ("ファミリー・サポート・センター", "子育て支援"),
    ("ヤングケアラー・コーディネーター", "ヤングケアラー支援"),
]


def _now():
    return dt.datetime.now().replace(microsecond=0)


def age_band(age: int | None) -> str:
    for label, lo, hi in AGE_BANDS:
        if age is not None and lo <= age <= hi:
            return label
    return "対象外"


def schools_of(s, person_ids) -> dict[str, str]:
    """Each child's current school (queries.current_schools)."""
    return {pid: c.school for pid, c in Q.current_schools(s, person_ids).items()}


def _optouts(s) -> set[str]:
    return Q.opted_out(s)


# --- rounds ------------------------------------------------------------------------------------------------------
def _band_level(cs: ChildScore) -> int:
    v = (cs.details or {}).get("band_level")
    return v if isinstance(v, int) else 0


@service("casework.write", what="round create")
def create_round(
    ws: Workspace,
    name: str,
    *,
    score_run_id: int | None = None,
    labels: list | None = None,
    yotaikyo_rule: str = "continue",
    top: int | None = None,
) -> int:
    """A review round from a scoring run's flagged children (``top``: the ``top`` highest-priority children of the
    run instead — band first, then total — with the 要対協 rule applied *before* the cut, so top 20 gives 20).

    ``yotaikyo_rule``: ``continue`` — children already on the 要対協 ledger are candidates marked 支援継続;
    ``exclude`` — they are left off the list (already supported); ``lower`` (優先度を下げる) — kept, after every
    child who is not on the ledger.
    """
    if not (name or "").strip():
        raise InputRefused("ラウンド名を入力してください。")
    if yotaikyo_rule not in ("continue", "exclude", "lower"):
        raise InputRefused(
            "要対協の扱いは continue（支援継続として載せる）・exclude（除く）・lower（優先度を下げる）のいずれかです。"
        )
    if top is not None and int(top) < 1:
        raise InputRefused("上位の人数（--top）は1以上にしてください。")
    labels = check_labels(labels) if labels else None
    with ws.session() as s:
        run = (
            s.get(ScoreRun, score_run_id)
            if score_run_id
            else s.scalar(select(ScoreRun).order_by(ScoreRun.id.desc()).limit(1))
        )
        if run is None:
            raise InputRefused("スコアがまだ算出されていません。先にスコアを算出してください。")
        r = ReviewRound(
            name=name.strip(),
            as_of=run.as_of,
            score_run_id=run.id,
            weight_set_id=run.weight_set_id,
            labels=labels or DEFAULT_LABELS,
            created_by=ws.user.name,
        )
        s.add(r)
        s.flush()
        excluded = _optouts(s)
        seen = set()
        q = select(ChildScore).where(ChildScore.run_id == run.id)
        q = q.where(ChildScore.total > 0) if top else q.where(ChildScore.flagged.is_(True))
        picked = []
        for cs in s.scalars(q):
            if cs.person_id in excluded or cs.person_id in seen:
                continue
            yt = bool((cs.details or {}).get("yotaikyo_active"))
            if yt and yotaikyo_rule == "exclude":  # before the top-N cut
                continue
            seen.add(cs.person_id)
            picked.append((cs, yt))
        picked.sort(
            key=lambda p: (
                p[1] and yotaikyo_rule == "lower",
                -_band_level(p[0]),
                -(p[0].total or 0),
                p[0].person_id,
            )
        )
        if top:
            picked = picked[: int(top)]
            seen = {cs.person_id for cs, _ in picked}
        for cs, yt in picked:
            s.add(RoundCandidate(round_id=r.id, person_id=cs.person_id, total=cs.total, band=cs.band, yotaikyo=yt))
        ws.log("round_created", detail={"round_id": r.id, "candidates": len(seen), "score_run": run.id}, conn=s)
        return r.id


@service("person.read", what="round list")
def round_candidates(ws: Workspace, round_id: int, *, log: bool = True) -> list[dict]:
    with ws.session() as s:
        r = s.get(ReviewRound, round_id)
        if r is None:
            raise NotFound(f"ラウンド {round_id} はありません。")
        cands = s.scalars(
            select(RoundCandidate)
            .where(RoundCandidate.round_id == round_id)
            .order_by(RoundCandidate.total.desc().nulls_last())
        ).all()
        ids = [c.person_id for c in cands]
        persons = {p.id: p for p in s.scalars(select(Person).where(Person.id.in_(ids)))}
        schools = schools_of(s, ids)
        earlier = dict(
            s.execute(
                select(RoundCandidate.person_id, RoundCandidate.classification)
                .where(
                    RoundCandidate.round_id < round_id,
                    RoundCandidate.classification.is_not(None),
                    RoundCandidate.person_id.in_(ids),
                )
                .order_by(RoundCandidate.round_id)
            ).all()
        )
        out = []
        for c in cands:
            p = persons.get(c.person_id)
            age = age_on(p.birth_date if p else None, r.as_of)
            out.append(
                {
                    "candidate_id": c.id,
                    "person_id": c.person_id,
                    "name": p.name if p else "",
                    "name_kana": p.name_kana if p else "",
                    "birth_date": p.birth_date if p else None,
                    "age": age,
                    "age_band": age_band(age),
                    "school": schools.get(c.person_id, ""),
                    "total": c.total,
                    "band": c.band,
                    "yotaikyo": c.yotaikyo,
                    "status_label": "支援継続" if c.yotaikyo else "新規候補",
                    "classification": c.classification,
                    "reason": c.reason,
                    "decided_by": c.decided_by,
                    "decided_at": c.decided_at,
                    "earlier_decision": earlier.get(c.person_id),
                }
            )
        if log:
            ws.log("view_list", detail={"list": "round", "round_id": round_id, "rows": len(out)}, conn=s)
        return out


@service("casework.write", what="classify", person="person_id")
def classify(ws: Workspace, round_id: int, person_id: str, label: str, reason: str) -> None:
    if not (reason or "").strip():
        raise InputRefused("分類の理由は必須です。理由を入力してください。")
    with ws.session() as s:
        r = s.get(ReviewRound, round_id)
        if r is None:
            raise NotFound(f"ラウンド {round_id} はありません。")
        if r.closed_at is not None:
            raise InputRefused(f"ラウンド「{r.name}」は締め切られています。分類は変更できません。")
        keys = {l["key"] for l in (r.labels or DEFAULT_LABELS)}
        if label not in keys:
            raise InputRefused(f"分類 {label} はこのラウンドにありません（{', '.join(sorted(keys))}）。")
        c = s.scalar(
            select(RoundCandidate).where(RoundCandidate.round_id == round_id, RoundCandidate.person_id == person_id)
        )
        added = c is None
        if c is None:
            # A child the screen did not list (a 通告, a school's call) may still be classified in the round: a person
            # adds them, with the reason, and the round shows them as added by hand (no score).
            if s.get(Person, person_id) is None:
                raise NotFound(f"こども {person_id} はいません。")
            if Q.is_opted_out(s, person_id):
                # 不同意: the family declined this data-linkage work; a round is part of it, so no one adds them.
                raise InputRefused(
                    "利用停止（不同意）の登録があるこどもは、ラウンドに加えられません。"
                    "支援が必要なときは通常の相談・支援記録として扱ってください。"
                )
            c = RoundCandidate(round_id=round_id, person_id=person_id, total=None, band=None, yotaikyo=False)
            s.add(c)
        c.classification, c.decided_by, c.decided_at = label, ws.user.name, _now()
        c.reason = ("［候補外から手で追加］" if added else "") + reason.strip()
        ws.log("classified", person_id, {"round_id": round_id, "label": label, "added_by_hand": added}, conn=s)


@service("person.read", what="rounds")
def list_rounds(ws: Workspace) -> list[dict]:
    with ws.session() as s:
        out = []
        for r in s.scalars(select(ReviewRound).order_by(ReviewRound.id.desc())):
            n = s.scalar(select(func.count()).where(RoundCandidate.round_id == r.id))
            done = s.scalar(
                select(func.count()).where(RoundCandidate.round_id == r.id, RoundCandidate.classification.is_not(None))
            )
            ws_row = s.get(WeightSet, r.weight_set_id) if r.weight_set_id else None
            out.append(
                {
                    "round_id": r.id,
                    "name": r.name,
                    "as_of": r.as_of,
                    "candidates": n,
                    "classified": done,
                    "created_at": r.created_at,
                    "created_by": r.created_by,
                    "score_run_id": r.score_run_id,
                    "weight_set_id": r.weight_set_id,
                    "weight_version": getattr(ws_row, "version", None) if ws_row is not None else None,
                    "labels": r.labels or DEFAULT_LABELS,
                    "closed_at": r.closed_at,
                }
            )
        return out


def check_labels(labels) -> list[dict]:
    """Classification labels as ``[{"key", "label"}]``: keys unique and non-empty, at least two labels.

    Also accepts text, one label a line or comma-separated, the key before the first ``.``/``．``:
    ``"a.受理相当, b.予防的支援"``."""
    if isinstance(labels, str):
        parts = [p.strip() for p in labels.replace("、", ",").replace("\n", ",").split(",") if p.strip()]
        labels = []
        for p in parts:
            key = p.replace("．", ".").split(".", 1)[0].strip() if ("." in p or "．" in p) else p
            labels.append({"key": key, "label": p})
    out, keys = [], set()
    for l in labels or []:
        key, label = str(l.get("key") or "").strip(), str(l.get("label") or "").strip()
        if not key or not label:
            raise InputRefused("分類ラベルには記号と名称の両方が必要です（例：a. 受理相当）。")
        if key in keys:
            raise InputRefused(f"分類ラベルの記号 {key} が重複しています。")
        keys.add(key)
        out.append({"key": key, "label": label})
    if len(out) < 2:
        raise InputRefused("分類ラベルは2つ以上必要です。")
    return out


@service("person.read", what="round labels")
def round_labels(ws: Workspace, round_id: int) -> list[dict]:
    with ws.session() as s:
        r = s.get(ReviewRound, round_id)
        if r is None:
            raise NotFound(f"ラウンド {round_id} はありません。")
        return list(r.labels or DEFAULT_LABELS)


@service("casework.write", what="round close")
def close_round(ws: Workspace, round_id: int) -> dict:
    """締切: only when every candidate has a classification; afterwards classifications cannot change."""
    with ws.session() as s:
        r = s.get(ReviewRound, round_id)
        if r is None:
            raise NotFound(f"ラウンド {round_id} はありません。")
        if r.closed_at is not None:
            raise InputRefused(f"ラウンド「{r.name}」はすでに締め切られています。")
        open_n = s.scalar(
            select(func.count()).where(RoundCandidate.round_id == round_id, RoundCandidate.classification.is_(None))
        )
        if open_n:
            raise InputRefused(f"未分類の候補が {open_n} 人います。すべて分類してから締め切ってください。")
        r.closed_at = _now()
        n = s.scalar(select(func.count()).where(RoundCandidate.round_id == round_id))
        ws.log("round_closed", detail={"round_id": round_id, "candidates": n}, conn=s)
        return {"round_id": round_id, "candidates": n, "closed_at": r.closed_at}


# --- conferences -----------------------------------------------------------------------------------------------
@service("person.read", what="round list")
def suggest_batch(ws: Workspace, round_id: int, size: int = 5) -> list[str]:
    """Up to ``size`` children from different households, spread across schools (round-robin by school)."""
    cands = [c for c in round_candidates(ws, round_id, log=False) if c["classification"] in ("a", "b", None)]
    with ws.session() as s:
        hh = dict(
            s.execute(
                select(Person.id, Person.household_id).where(Person.id.in_([c["person_id"] for c in cands]))
            ).all()
        )
    by_school: dict[str, list] = defaultdict(list)
    for c in cands:
        by_school[c["school"] or "（学校・園なし）"].append(c)
    picked: list[str] = []
    households: set[str | None] = set()
    while len(picked) < size and any(by_school.values()):
        for school in sorted(
            by_school, key=lambda k: -max((c["total"] or 0) for c in by_school[k]) if by_school[k] else 0
        ):
            queue = by_school[school]
            while queue:
                c = queue.pop(0)
                h = hh.get(c["person_id"]) or c["person_id"]
                if h not in households:
                    households.add(h)
                    picked.append(c["person_id"])
                    break
            if len(picked) >= size:
                break
    return picked


@service("casework.write", what="conference create")
def create_conference(
    ws: Workspace,
    kind: str,
    held_on: dt.date,
    *,
    title: str | None = None,
    place: str | None = None,
    attendees: list[dict] | None = None,
    round_id: int | None = None,
    person_ids: list[str] | None = None,
) -> int:
    if kind not in CONFERENCE_KINDS:
        raise InputRefused(f"会議の種類 {kind} はありません（{'・'.join(CONFERENCE_KINDS)}）。")
    with ws.session() as s:
        c = Conference(
            kind=kind,
            held_on=held_on,
            title=title,
            place=place,
            attendees=attendees or [],
            round_id=round_id,
            created_by=ws.user.name,
        )
        s.add(c)
        s.flush()
        ws.log("conference_created", detail={"conference_id": c.id, "kind": kind}, conn=s)
        cid = c.id
    if person_ids:
        add_to_conference(ws, cid, person_ids)
    return cid


@service("casework.write", what="conference add")
def add_to_conference(ws: Workspace, conference_id: int, person_ids: list[str]) -> None:
    with ws.session() as s:
        if s.get(Conference, conference_id) is None:
            raise NotFound(f"会議 {conference_id} はありません。")
        excluded = _optouts(s)
        bad = [p for p in person_ids if p in excluded]
        if bad:
            raise InputRefused(f"{bad[0]} は利用停止（不同意）の登録があるため、会議資料に載せられません。")
        have = set(s.scalars(select(ConferenceItem.person_id).where(ConferenceItem.conference_id == conference_id)))
        pos = len(have)
        for pid in person_ids:
            if s.get(Person, pid) is None:
                raise NotFound(msg("こども {person_id} はありません。", person_id=pid))
            if pid in have:
                continue
            s.add(ConferenceItem(conference_id=conference_id, person_id=pid, position=pos))
            have.add(pid)
            pos += 1
            ws.log("conference_item_added", pid, {"conference_id": conference_id}, conn=s)


@service("casework.write", what="conference reorder")
def reorder(ws: Workspace, conference_id: int, person_ids: list[str]) -> None:
    with ws.session() as s:
        items = {
            i.person_id: i
            for i in s.scalars(select(ConferenceItem).where(ConferenceItem.conference_id == conference_id))
        }
        for n, pid in enumerate(person_ids):
            if pid in items:
                items[pid].position = n


@service("casework.write", what="minutes", person="person_id")
def record_minutes(
    ws: Workspace,
    conference_id: int,
    person_id: str,
    *,
    support_needed: str,
    direction: str | None = None,
    lead_organisation: str | None = None,
    roles: list[dict] | None = None,
    actions: str | None = None,
    next_review_on: dt.date | None = None,
    minutes: str | None = None,
    registration: str | None = None,
    category: str | None = None,
) -> None:
    """The meeting's decision for one child on the agenda. ``registration`` (要対協: 登録する／登録しない／継続) and
    ``category`` (要保護児童／要支援児童／特定妊婦) print on the packet's decision box and among earlier decisions."""
    registration, category = (registration or None), (category or None)
    if registration is not None and registration not in REGISTRATIONS:
        raise InputRefused("要対協の登録は「登録する」「登録しない」「継続」のいずれかです。")
    if category is not None and category not in CATEGORIES:
        raise InputRefused("要対協の種別は「要保護児童」「要支援児童」「特定妊婦」のいずれかです。")
    if category is not None and registration not in ("登録する", "継続"):
        raise InputRefused("要対協の種別は、登録する（または継続）ときだけ選べます。")
    if registration == "登録する" and category is None:
        raise InputRefused("要対協に登録するときは種別（要保護児童・要支援児童・特定妊婦）を選んでください。")
    if support_needed not in ("要", "不要", "継続検討"):
        raise InputRefused("支援要否は「要」「不要」「継続検討」のいずれかです。")
    if direction and direction not in DIRECTIONS:
        raise InputRefused("方向性は A（校内支援）・B（地域資源）・C（専門機関）のいずれかです。")
    if support_needed == "要" and not direction:
        raise InputRefused("支援が「要」のときは方向性（A/B/C）を選んでください。")
    with ws.session() as s:
        item = s.scalar(
            select(ConferenceItem).where(
                ConferenceItem.conference_id == conference_id, ConferenceItem.person_id == person_id
            )
        )
        if item is None:
            raise NotFound("このこどもはこの会議の議題にありません。")
        item.support_needed, item.direction, item.lead_organisation = support_needed, direction, lead_organisation
        item.roles, item.actions, item.next_review_on, item.minutes = roles or [], actions, next_review_on, minutes
        item.registration, item.category = registration, category
        item.decided_by, item.decided_at = ws.user.name, _now()
        ws.log(
            "minutes_recorded",
            person_id,
            {
                "conference_id": conference_id,
                "support_needed": support_needed,
                "direction": direction,
                "registration": registration,
                "category": category,
            },
            conn=s,
        )
        conf = s.get(Conference, conference_id)
        if support_needed == "要":
            open_case = s.scalar(
                select(SupportCase).where(SupportCase.person_id == person_id, SupportCase.closed_on.is_(None))
            )
            if open_case is None:
                s.add(
                    SupportCase(
                        person_id=person_id,
                        opened_on=(conf.held_on if conf is not None else None) or dt.date.today(),
                        plan=actions,
                        lead_organisation=lead_organisation,
                        next_action_on=next_review_on,
                        created_by=ws.user.name,
                    )
                )
            else:
                open_case.plan = actions or open_case.plan
                open_case.lead_organisation = lead_organisation or open_case.lead_organisation
                open_case.next_action_on = next_review_on or open_case.next_action_on


@service("person.read", what="conference")
def conference_detail(ws: Workspace, conference_id: int, *, log: bool = True) -> dict:
    with ws.session() as s:
        c = s.get(Conference, conference_id)
        if c is None:
            raise NotFound(f"会議 {conference_id} はありません。")
        items = s.scalars(
            select(ConferenceItem)
            .where(ConferenceItem.conference_id == conference_id)
            .order_by(ConferenceItem.position)
        ).all()
        persons = {p.id: p for p in s.scalars(select(Person).where(Person.id.in_([i.person_id for i in items])))}
        schools = schools_of(s, persons)
        if log:
            ws.log("view_list", detail={"list": "conference", "conference_id": c.id, "rows": len(items)}, conn=s)
        return {
            "conference_id": c.id,
            "kind": c.kind,
            "title": c.title,
            "held_on": c.held_on,
            "place": c.place,
            "attendees": c.attendees or [],
            "round_id": c.round_id,
            "items": [
                {
                    "person_id": i.person_id,
                    "name": persons[i.person_id].name if i.person_id in persons else "",
                    "household_id": persons[i.person_id].household_id if i.person_id in persons else None,
                    "decided_by": i.decided_by,
                    "decided_at": i.decided_at,
                    "school": schools.get(i.person_id, ""),
                    "position": i.position,
                    "support_needed": i.support_needed,
                    "direction": i.direction,
                    "lead_organisation": i.lead_organisation,
                    "roles": i.roles,
                    "actions": i.actions,
                    "next_review_on": i.next_review_on,
                    "minutes": i.minutes,
                    "registration": i.registration,
                    "category": i.category,
                }
                for i in items
            ],
        }


@service("person.read", what="conferences")
def list_conferences(ws: Workspace) -> list[dict]:
    with ws.session() as s:
        return [
            {
                "conference_id": c.id,
                "kind": c.kind,
                "title": c.title,
                "held_on": c.held_on,
                "items": s.scalar(select(func.count()).where(ConferenceItem.conference_id == c.id)),
            }
            for c in s.scalars(select(Conference).order_by(Conference.held_on.desc(), Conference.id.desc()))
        ]


# --- support and progress ---------------------------------------------------------------------------------------
@service("casework.write", what="progress", person="person_id")
def add_progress(
    ws: Workspace,
    person_id: str,
    on: dt.date,
    kind: str,
    *,
    who: str | None = None,
    what: str | None = None,
    outcome: str | None = None,
    next_action_on: dt.date | None = None,
) -> int:
    if kind not in PROGRESS_KINDS:
        raise InputRefused(f"記録の種類 {kind} はありません（{'・'.join(PROGRESS_KINDS)}）。")
    if not (what or "").strip():
        raise InputRefused("記録の内容を入力してください。")
    with ws.session() as s:
        if s.get(Person, person_id) is None:
            raise NotFound(msg("こども {person_id} はありません。", person_id=person_id))
        case = s.scalar(select(SupportCase).where(SupportCase.person_id == person_id, SupportCase.closed_on.is_(None)))
        p = ProgressRecord(
            person_id=person_id,
            case_id=case.id if case else None,
            on=on,
            kind=kind,
            who=who,
            what=(what or "").strip(),  # (not blank: checked above)
            outcome=outcome,
            next_action_on=next_action_on,
            created_by=ws.user.name,
        )
        s.add(p)
        if case and next_action_on:
            case.next_action_on = next_action_on
        s.flush()
        ws.log("progress_recorded", person_id, {"progress_id": p.id, "kind": kind}, conn=s)
        return p.id


@service("casework.write", what="case close", person="person_id")
def close_case(ws: Workspace, person_id: str, reason: str, on: dt.date | None = None) -> dict:
    """終結: needs a reason; says whether the child is still flagged by the latest score."""
    if not (reason or "").strip():
        raise InputRefused("終結の理由は必須です。")
    with ws.session() as s:
        case = s.scalar(select(SupportCase).where(SupportCase.person_id == person_id, SupportCase.closed_on.is_(None)))
        if case is None:
            raise InputRefused("このこどもに進行中の支援はありません。")
        case.closed_on, case.close_reason = on or dt.date.today(), reason.strip()
        latest = s.scalar(
            select(ChildScore)
            .join(ScoreRun, ScoreRun.id == ChildScore.run_id)
            .where(ChildScore.person_id == person_id)
            .order_by(ScoreRun.id.desc())
            .limit(1)
        )
        still = bool(latest and latest.flagged)
        ws.log("case_closed", person_id, {"case_id": case.id, "still_flagged": still}, conn=s)
        return {
            "case_id": case.id,
            "still_flagged": still,
            "warning": "最新のスコアではまだ抽出対象です。終結でよいか確認してください。" if still else None,
        }


@service("person.read", what="open cases")
def open_cases(ws: Workspace) -> list[dict]:
    """Support cases not yet closed, with whether the latest score still flags the child."""
    with ws.session() as s:
        cases = s.scalars(
            select(SupportCase).where(SupportCase.closed_on.is_(None)).order_by(SupportCase.opened_on)
        ).all()
        ids = [c.person_id for c in cases]
        names = dict(s.execute(select(Person.id, Person.name).where(Person.id.in_(ids))).all())
        run = s.scalar(select(ScoreRun.id).order_by(ScoreRun.id.desc()).limit(1))
        flagged = (
            set(
                s.scalars(
                    select(ChildScore.person_id).where(
                        ChildScore.run_id == run, ChildScore.flagged.is_(True), ChildScore.person_id.in_(ids)
                    )
                )
            )
            if run
            else set()
        )
        out = [
            {
                "case_id": c.id,
                "person_id": c.person_id,
                "name": names.get(c.person_id, ""),
                "opened_on": c.opened_on,
                "lead_organisation": c.lead_organisation,
                "plan": c.plan,
                "next_action_on": c.next_action_on,
                "still_flagged": c.person_id in flagged,
            }
            for c in cases
        ]
        ws.log("view_list", detail={"list": "open_cases", "rows": len(out)}, conn=s)
        return out


@service("person.read", what="cases", person="person_id")
def cases_of(ws: Workspace, person_id: str) -> list[dict]:
    with ws.session() as s:
        out = [
            {
                "case_id": c.id,
                "opened_on": c.opened_on,
                "closed_on": c.closed_on,
                "close_reason": c.close_reason,
                "plan": c.plan,
                "lead_organisation": c.lead_organisation,
                "next_action_on": c.next_action_on,
            }
            for c in s.scalars(
                select(SupportCase)
                .where(SupportCase.person_id == person_id)
                .order_by(SupportCase.opened_on, SupportCase.id)
            )
        ]
        ws.log("view_list", person_id, {"list": "cases", "rows": len(out)}, conn=s)
        return out


@service("person.read", what="score history", person="person_id")
def score_history(ws: Workspace, person_id: str) -> list[dict]:
    """The child's score in every scoring run, oldest first (for the small chart on the child's page)."""
    with ws.session() as s:
        out = [
            {"run_id": run.id, "as_of": run.as_of, "total": cs.total, "band": cs.band, "flagged": bool(cs.flagged)}
            for cs, run in s.execute(
                select(ChildScore, ScoreRun)
                .join(ScoreRun, ScoreRun.id == ChildScore.run_id)
                .where(ChildScore.person_id == person_id)
                .order_by(ScoreRun.id)
            ).all()
        ]
        ws.log("view_list", person_id, {"list": "score_history", "rows": len(out)}, conn=s)
        return out


def parse_roles(text_: str | None) -> list[dict]:
    """「機関：役割」 one a line (or 機関=役割) → ``[{"organisation", "role"}]``."""
    out = []
    for line in (text_ or "").splitlines():
        line = line.strip()
        if not line:
            continue
        for sep in ("：", ":", "＝", "="):
            if sep in line:
                org, role = line.split(sep, 1)
                break
        else:
            org, role = line, ""
        out.append({"organisation": org.strip(), "role": role.strip()})
    return out


@service("person.read", what="due list")
def due_list(ws: Workspace, until: dt.date | None = None) -> list[dict]:
    """Next actions and reviews due up to ``until`` (default: two weeks ahead), oldest first."""
    until = until or dt.date.today() + dt.timedelta(days=14)
    with ws.session() as s:
        items: list[dict[str, Any]] = []
        for c in s.scalars(
            select(SupportCase).where(
                SupportCase.closed_on.is_(None),
                SupportCase.next_action_on.is_not(None),
                SupportCase.next_action_on <= until,
            )
        ):
            items.append(
                {"person_id": c.person_id, "due_on": c.next_action_on, "what": "支援の次回対応", "detail": c.plan or ""}
            )
        for i, conf in s.execute(
            select(ConferenceItem, Conference)
            .join(Conference)
            .where(ConferenceItem.next_review_on.is_not(None), ConferenceItem.next_review_on <= until)
        ).all():
            items.append(
                {
                    "person_id": i.person_id,
                    "due_on": i.next_review_on,
                    "what": f"{conf.kind}の見直し",
                    "detail": i.actions or "",
                }
            )
        names = dict(
            s.execute(select(Person.id, Person.name).where(Person.id.in_({x["person_id"] for x in items}))).all()
        )
        for x in items:
            x["name"] = names.get(x["person_id"], "")
            x["overdue"] = x["due_on"] < dt.date.today()
        items.sort(key=lambda x: (x["due_on"], x["person_id"]))
        # one line per child and date
        seen, out = set(), []
        for x in items:
            k = (x["person_id"], x["due_on"], x["what"])
            if k not in seen:
                seen.add(k)
                out.append(x)
        ws.log("view_list", detail={"list": "due", "rows": len(out)}, conn=s)
        return out


@service("casework.write", what="note", person="person_id")
def add_note(ws: Workspace, person_id: str, text_: str) -> int:
    if not (text_ or "").strip():
        raise InputRefused("メモを入力してください。")
    with ws.session() as s:
        n = Note(person_id=person_id, text=text_.strip(), created_by=ws.user.name)
        s.add(n)
        s.flush()
        ws.log("note_added", person_id, {"note_id": n.id}, conn=s)
        return n.id


# --- the child's timeline (カルテ) ----------------------------------------------------------------------------------
@service("person.read", what="timeline", person="person_id")
def timeline(ws: Workspace, person_id: str) -> list[dict]:
    """Every event about one child, newest first, each with its source."""
    ev = []
    with ws.session() as s:
        for rec_date, st, fname, as_of, attrs in s.execute(
            text(
                "SELECT r.record_date, r.source_type, b.file_name, b.as_of, r.attributes "
                f"FROM {Q.LINKED_FROM} WHERE l.person_id = :p AND {Q.LINKED_WHERE}"
            ),
            {"p": person_id},
        ).all():
            label = source_label(st)
            ev.append(
                {
                    "date": _date(rec_date),
                    "kind": "record",
                    "title": msg(label),
                    "source": msg("{file}（{date} 時点）", file=fname, date=_date(as_of)),
                    "detail": attrs,
                }
            )
        for cs, run in s.execute(
            select(ChildScore, ScoreRun).join(ScoreRun).where(ChildScore.person_id == person_id)
        ).all():
            ev.append(
                {
                    "date": run.as_of,
                    "kind": "score",
                    "title": msg("スコア {total}（{band}）", total=f"{cs.total:g}", band=msg(cs.band or "-")),
                    "source": msg("スコア算出 #{run}", run=run.id),
                    "detail": {"types": cs.types},
                }
            )
        for c, r in s.execute(
            select(RoundCandidate, ReviewRound)
            .join(ReviewRound)
            .where(RoundCandidate.person_id == person_id, RoundCandidate.classification.is_not(None))
        ).all():
            cls_label = next(
                (l["label"] for l in (r.labels or DEFAULT_LABELS) if l["key"] == c.classification), c.classification
            )
            ev.append(
                {
                    "date": (c.decided_at or r.created_at).date(),
                    "kind": "classification",
                    "title": msg("分類 {label}（{round}）", label=msg(str(cls_label or "")), round=r.name),
                    "source": msg("判断: {who}", who=c.decided_by),
                    "detail": {"reason": c.reason},
                }
            )
        for i, conf in s.execute(
            select(ConferenceItem, Conference).join(Conference).where(ConferenceItem.person_id == person_id)
        ).all():
            ev.append(
                {
                    "date": conf.held_on,
                    "kind": "conference",
                    "title": msg(
                        "{kind}: 支援{needed} {direction}",
                        kind=msg(conf.kind),
                        needed=msg(i.support_needed or "未決定"),
                        direction=msg(DIRECTIONS.get(i.direction or "", "")),
                    ),
                    "source": conf.title or conf.kind,
                    "detail": {"lead": i.lead_organisation, "actions": i.actions},
                }
            )
        for p in s.scalars(select(ProgressRecord).where(ProgressRecord.person_id == person_id)):
            ev.append(
                {
                    "date": p.on,
                    "kind": "progress",
                    "title": msg("経過記録: {kind}", kind=msg(p.kind)),
                    "source": p.who or p.created_by,
                    "detail": {"what": p.what, "outcome": p.outcome, "next": p.next_action_on},
                }
            )
        for case_ in s.scalars(select(SupportCase).where(SupportCase.person_id == person_id)):
            ev.append(
                {
                    "date": case_.opened_on,
                    "kind": "case",
                    "title": msg("支援開始（主担当: {lead}）", lead=msg(case_.lead_organisation or "未定")),
                    "source": case_.created_by or "",
                    "detail": {"plan": case_.plan},
                }
            )
            if case_.closed_on:
                ev.append(
                    {
                        "date": case_.closed_on,
                        "kind": "case",
                        "title": msg("終結"),
                        "source": case_.created_by or "",
                        "detail": {"reason": case_.close_reason},
                    }
                )
        for n in s.scalars(select(Note).where(Note.person_id == person_id)):
            ev.append(
                {
                    "date": n.created_at.date(),
                    "kind": "note",
                    "title": msg("メモ"),
                    "source": n.created_by,
                    "detail": {"text": n.text},
                }
            )
    ev.sort(key=lambda e: e["date"] or dt.date.min, reverse=True)
    ws.log("view_list", person_id, {"list": "timeline", "entries": len(ev)})
    return ev


def _date(v):
    if v is None or isinstance(v, dt.date):
        return v
    return dt.date.fromisoformat(str(v)[:10])


# --- funnel ------------------------------------------------------------------------------------------------------
@service("person.read", what="funnel")
def funnel(ws: Workspace, round_id: int) -> dict:
    """in scope → flagged → classified → discussed → support started, overall, per school and per age band."""
    with ws.session() as s:
        r = s.get(ReviewRound, round_id)
        if r is None:
            raise NotFound(f"ラウンド {round_id} はありません。")
        scores = s.execute(
            select(ChildScore.person_id, ChildScore.flagged).where(ChildScore.run_id == r.score_run_id)
        ).all()
        in_scope = {p for p, _ in scores}
        flagged = {p for p, f in scores if f}
        classified = set(
            s.scalars(
                select(RoundCandidate.person_id).where(
                    RoundCandidate.round_id == round_id, RoundCandidate.classification.is_not(None)
                )
            )
        )
        conf_ids = list(s.scalars(select(Conference.id).where(Conference.round_id == round_id)))
        discussed = set(
            s.scalars(
                select(ConferenceItem.person_id).where(
                    ConferenceItem.conference_id.in_(conf_ids), ConferenceItem.decided_at.is_not(None)
                )
            )
        )
        supported = set(s.scalars(select(SupportCase.person_id).where(SupportCase.opened_on >= r.as_of))) & (
            discussed | classified
        )
        births = dict(s.execute(select(Person.id, Person.birth_date).where(Person.id.in_(in_scope))).all())
        schools = schools_of(s, in_scope)
    stages = [
        ("in_scope", "対象", in_scope),
        ("flagged", "抽出", flagged),
        ("classified", "分類済み", classified),
        ("discussed", "会議で検討", discussed),
        ("supported", "支援開始", supported),
    ]

    def count(group_of):
        table = defaultdict(Counter)
        for key, _, ids in stages:
            for pid in ids:
                table[group_of(pid)][key] += 1
        return {g: dict(c) for g, c in sorted(table.items())}

    return {
        "round_id": round_id,
        "name": r.name,
        "as_of": r.as_of,
        "stages": [{"key": k, "label": l, "count": len(ids)} for k, l, ids in stages],
        "by_school": count(lambda p: schools.get(p) or "（学校・園なし）"),
        "by_age_band": count(lambda p: age_band(age_on(births.get(p), r.as_of))),
    }


@service("person.read", what="funnel")
def funnel_to_excel(ws: Workspace, round_id: int, out) -> dict:
    from openpyxl import Workbook  # lazy: loads openpyxl, only needed here
    from openpyxl.styles import Font  # lazy: loads openpyxl, only needed here

    f = funnel(ws, round_id)
    wb = Workbook()
    sh = wb.active
    sh.title = "ファネル"
    sh.append([f"ラウンド: {f['name']}（{f['as_of']} 時点）"])
    sh["A1"].font = Font(bold=True, size=13)
    sh.append([])
    keys = [st["key"] for st in f["stages"]]
    outputs.safe_append(sh, ["区分"] + [st["label"] for st in f["stages"]])
    outputs.safe_append(sh, ["全体"] + [st["count"] for st in f["stages"]])
    for title, table in (("学校・園別", f["by_school"]), ("年齢区分別", f["by_age_band"])):
        sh.append([])
        outputs.safe_append(sh, [title])
        for g, c in table.items():
            outputs.safe_append(sh, [g] + [c.get(k, 0) for k in keys])
    sh.column_dimensions["A"].width = 28
    outputs.save_workbook(wb, out)
    ws.log("export", detail={"what": "funnel", "round_id": round_id})
    return f


# --- local resources directory --------------------------------------------------------------------------------------
@service("person.read", what="resources")
def resources(ws: Workspace, include_inactive: bool = False) -> list[dict]:
    with ws.session() as s:
        if s.scalar(select(func.count()).select_from(LocalResource)) == 0:
            s.add_all([LocalResource(name=n, category=c) for n, c in DEFAULT_RESOURCES])
            s.flush()
        q = select(LocalResource).order_by(LocalResource.id)
        if not include_inactive:
            q = q.where(LocalResource.active.is_(True))
        return [
            {
                "id": r.id,
                "name": r.name,
                "category": r.category,
                "contact": r.contact,
                "note": r.note,
                "active": r.active,
            }
            for r in s.scalars(q)
        ]


@service("casework.write", what="resource")
def save_resource(
    ws: Workspace,
    name: str,
    category: str | None = None,
    contact: str | None = None,
    note: str | None = None,
    resource_id: int | None = None,
    active: bool = True,
) -> int:
    if not (name or "").strip():
        raise InputRefused("名称を入力してください。")
    with ws.session() as s:
        r = s.get(LocalResource, resource_id) if resource_id else LocalResource()
        if r is None:
            raise NotFound(f"地域の資源 {resource_id} はありません。")
        r.name, r.category, r.contact, r.note, r.active = name.strip(), category, contact, note, active
        s.add(r)
        s.flush()
        ws.log("settings_changed", detail={"what": "resource", "id": r.id}, conn=s)
        return r.id
