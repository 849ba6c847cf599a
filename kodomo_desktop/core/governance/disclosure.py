"""Disclosure (開示), correction (訂正) and deletion (削除) of one person's data.

``disclose`` gathers what is held about one person — source rows as imported, links and who decided them,
scores with reasons, classifications, conference decisions, progress records, notes, checklists, opt-outs,
corrections and the access-log entries that concern them — and passes it through the ``family_disclosure``
audience (core/audience.py): the person's own records only, nothing about anyone else (household members appear
only as a count), no 通告・相談 or 要対協 records. What the rule left out is counted in the result for the staff
member answering the request, not printed. ``delete_person`` removes the person from every table (secure_delete + VACUUM, so the
name is not left in free pages) and leaves a tombstone in the access log, which holds ids only.
"""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, select, text

from .. import audience as A
from .. import auditspace as AW
from .. import outputs
from .. import schoolspace as SW
from ..errors import InputRefused, NotFound
from ..importing.values import parse_date
from ..services import service
from ..storage.models import (
    Base,
    ChecklistEntry,
    ChildScore,
    Conference,
    ConferenceItem,
    Correction,
    Link,
    LinkDecision,
    Note,
    OptOut,
    Person,
    ProgressRecord,
    ReviewRound,
    RoundCandidate,
    ScoreRun,
    SourceBatch,
    SourceRecord,
    SupportCase,
)
from ..vocab import HELD, HELD_SQL
from .documents import SECTION_LABELS, disclosure_pdf
from .register import vacuum

if TYPE_CHECKING:
    from ..workspace import Workspace

PERSON_FIELDS = {
    "name": "氏名",
    "name_kana": "カナ",
    "birth_date": "生年月日",
    "sex": "性別",
    "address": "住所",
    "relationship": "続柄",
    "resident_no": "宛名番号",
}


def _records_of(s, person_id: str):
    return s.execute(
        select(SourceRecord, SourceBatch, Link)
        .join(SourceBatch, SourceBatch.id == SourceRecord.batch_id)
        .join(Link, Link.record_id == SourceRecord.id)
        .where(Link.person_id == person_id, Link.status.in_(HELD))
        .order_by(SourceBatch.id, SourceRecord.row_number)
    ).all()


def gather(ws: Workspace, person_id: str, *, audience: str | A.Audience = "family_disclosure") -> dict:
    """What a disclosure answer to ``audience`` (the family, by default) carries about the person."""
    return for_audience(_gather_all(ws, person_id), person_id, A.get(audience))[0]


# sections the family_disclosure audience's fields do not allow (通告・相談 and 要対協 casework)
SECTION_FIELD = {
    "classifications": "decisions",
    "conference_decisions": "decisions",
    "support_cases": "support",
    "progress_records": "support",
    "notes": "support",
}
# access-log entries that would tell of a withheld section (the entry, not only its detail)
LOG_FIELD = {
    "classified": "decisions",
    "conference_item_added": "decisions",
    "minutes_recorded": "decisions",
    "progress_recorded": "support",
    "case_closed": "support",
    "note_added": "support",
}
PRINT_FIELD = {"conference": "decisions", "intake": "decisions", "assessment": "decisions"}
VIEW_FIELD = {"cases": "support", "timeline": "support", "score_history": "points"}


def _log_seen(aud: A.Audience, row: dict) -> bool:
    action = row.get("action")
    if action in LOG_FIELD:
        return aud.sees(LOG_FIELD[action])
    if action in ("print", "view_list"):
        try:
            d = json.loads(row.get("detail") or "{}")
        except (TypeError, ValueError):
            d = {}
        d = d if isinstance(d, dict) else {}
        what = str(d.get("document") if action == "print" else d.get("list"))
        need = (PRINT_FIELD if action == "print" else VIEW_FIELD).get(what)
        return need is None or aud.sees(need)
    return True


def for_audience(data: dict, person_id: str, aud: A.Audience) -> tuple[dict, dict]:
    """``data`` as ``aud`` may see it, and how many items each section lost (for the staff member who answers the
    request; not printed in the answer itself). Source rows of a source type the audience does not see (要対協・相談
    records) go, with their 名寄せ decisions; score reasons drawn from another person's record or a hidden source go;
    points, bands and difficulty types go when the audience does not see points; casework sections it has no field
    for go whole (the section is left out, not printed empty)."""
    out = dict(data)
    withheld: dict[str, int] = {}

    def drop(key: str, kept: list) -> list:
        if len(kept) < len(data[key]):
            withheld[key] = withheld.get(key, 0) + len(data[key]) - len(kept)
        return kept

    rows = [r for r in data["source_rows"] if aud.sees_record(r)]
    out["source_rows"] = drop("source_rows", [{k: v for k, v in r.items() if k != "record_id"} for r in rows])
    kept_ids = {r["record_id"] for r in rows}
    out["link_decisions"] = drop(
        "link_decisions", [d for d in data["link_decisions"] if d["record_id"] is None or d["record_id"] in kept_ids]
    )
    scores = []
    for sc in data["scores"]:
        sc = dict(sc)
        reasons = aud.reasons(sc["reasons"], person_id)
        if len(reasons) < len(sc["reasons"]):
            withheld["score_reasons"] = withheld.get("score_reasons", 0) + len(sc["reasons"]) - len(reasons)
        if not aud.sees("points"):
            reasons = [{k: v for k, v in r.items() if k not in ("points", "points_by_type")} for r in reasons]
            sc.pop("total", None)
        if not aud.sees("band"):
            sc.pop("band", None)
        if not aud.sees("types"):
            sc.pop("types", None)
        sc["reasons"] = reasons
        scores.append(sc)
    out["scores"] = scores
    for key, need in SECTION_FIELD.items():
        if not aud.sees(need):
            if data[key]:
                withheld[key] = len(data[key])
            del out[key]
    if not aud.sees_source("school_checklist"):
        out["checklists"] = drop("checklists", [])
    out["access_log"] = drop("access_log", [r for r in data["access_log"] if _log_seen(aud, r)])
    return out, withheld


def _gather_all(ws: Workspace, person_id: str) -> dict:
    with ws.session() as s:
        p = s.get(Person, person_id)
        if p is None:
            raise NotFound(f"こども・住民 {person_id} はありません。")
        recs = _records_of(s, person_id)
        rec_ids = [r.id for r, _, _ in recs]
        own, others = _identities(s, p)
        out = {
            "person": {
                "person_id": p.id,
                **{k: _v(getattr(p, k)) for k in PERSON_FIELDS},
                "household_members": s.scalar(
                    text("SELECT count(*) FROM person WHERE household_id=:h"), {"h": p.household_id}
                )
                if p.household_id
                else 0,
            },
            "source_rows": [
                {
                    "record_id": r.id,
                    "source_type": r.source_type,
                    "file_name": b.file_name,
                    "row_number": r.row_number,
                    "as_of": _v(b.as_of),
                    "imported_at": _v(b.imported_at),
                    "link_status": l.status,
                    "linked_by": l.decided_by or ("自動" if l.status == "auto" else ""),
                    **_withhold_others(r.raw, r.attributes, own, others),
                }
                for r, b, l in recs
            ],
            "link_decisions": [
                {
                    "record_id": d.record_id,
                    "decision": d.decision,
                    "decided_by": d.decided_by,
                    "decided_at": _v(d.decided_at),
                    "undone_at": _v(d.undone_at),
                }
                for d in s.scalars(
                    select(LinkDecision).where(
                        (LinkDecision.person_id == person_id) | LinkDecision.record_id.in_(rec_ids)
                    )
                )
            ],
            "scores": [
                {
                    "run_id": run.id,
                    "as_of": _v(run.as_of),
                    "total": cs.total,
                    "band": cs.band,
                    "types": cs.types,
                    "reasons": _reasons(cs.details, person_id),
                }
                for cs, run in s.execute(
                    select(ChildScore, ScoreRun)
                    .join(ScoreRun)
                    .where(ChildScore.person_id == person_id)
                    .order_by(ScoreRun.id)
                ).all()
            ],
            "classifications": [
                {
                    "round": r.name,
                    "classification": c.classification,
                    "reason": c.reason,
                    "decided_by": c.decided_by,
                    "decided_at": _v(c.decided_at),
                }
                for c, r in s.execute(
                    select(RoundCandidate, ReviewRound).join(ReviewRound).where(RoundCandidate.person_id == person_id)
                ).all()
            ],
            "conference_decisions": [
                {
                    "conference": conf.title or conf.kind,
                    "held_on": _v(conf.held_on),
                    "support_needed": i.support_needed,
                    "direction": i.direction,
                    "lead_organisation": i.lead_organisation,
                    "actions": i.actions,
                    "next_review_on": _v(i.next_review_on),
                    "minutes": i.minutes,
                }
                for i, conf in s.execute(
                    select(ConferenceItem, Conference).join(Conference).where(ConferenceItem.person_id == person_id)
                ).all()
            ],
            "support_cases": [
                {
                    "opened_on": _v(c.opened_on),
                    "plan": c.plan,
                    "lead_organisation": c.lead_organisation,
                    "closed_on": _v(c.closed_on),
                    "close_reason": c.close_reason,
                }
                for c in s.scalars(select(SupportCase).where(SupportCase.person_id == person_id))
            ],
            "progress_records": [
                {
                    "on": _v(x.on),
                    "kind": x.kind,
                    "who": x.who,
                    "what": x.what,
                    "outcome": x.outcome,
                    "next_action_on": _v(x.next_action_on),
                }
                for x in s.scalars(select(ProgressRecord).where(ProgressRecord.person_id == person_id))
            ],
            "notes": [
                {"created_at": _v(n.created_at), "by": n.created_by, "text": n.text}
                for n in s.scalars(select(Note).where(Note.person_id == person_id))
            ],
            "checklists": [
                {
                    "round_id": c.round_id,
                    "school": c.school,
                    "status": c.status,
                    "answers": c.answers,
                    "remark": c.remark,
                    "entered_on": _v(c.entered_on),
                }
                for c in s.scalars(select(ChecklistEntry).where(ChecklistEntry.person_id == person_id))
            ],
            "opt_outs": [
                {"from_date": _v(o.from_date), "reason": o.reason, "removed_at": _v(o.removed_at)}
                for o in s.scalars(select(OptOut).where(OptOut.person_id == person_id))
            ],
            "corrections": [
                {
                    "field": c.field,
                    "old_value": c.old_value,
                    "new_value": c.new_value,
                    "reason": c.reason,
                    "by": c.by,
                    "at": _v(c.at),
                }
                for c in s.scalars(select(Correction).where(Correction.person_id == person_id))
            ],
            "access_log": [
                dict(r._mapping)
                for r in s.execute(
                    text("SELECT seq, at, user, action, detail FROM access_log WHERE person_id=:p ORDER BY seq"),
                    {"p": person_id},
                )
            ],
        }
    return out


def _reasons(details, person_id: str | None = None):
    """The reasons of a score; a reason drawn from a household member's record says whose (保護者・きょうだい) but
    not which person or record (ids of other persons are not disclosed)."""
    if not details:
        return []
    rs = details.get("reasons") if isinstance(details, dict) else None
    out = []
    for r in rs or []:
        if isinstance(r, dict) and person_id is not None:
            r = {k: v for k, v in r.items() if k != "siblings"}
            if r.get("person_id") not in (None, person_id):
                r = {k: v for k, v in r.items() if k not in ("person_id", "record_id")}
        out.append(r)
    return out


# --- third parties in a row as imported -------------------------------------------------------------------------
WITHHELD = "（第三者の情報のため不開示）"


def _keys(v) -> set[str]:
    """Comparable forms of one cell: as written without spaces (NFKC), and normalised as a name and as kana."""

    from ..text.normalize import norm_kana, norm_name  # lazy: loads jaconv, yosina, only needed here

    if v is None or isinstance(v, bool) or not isinstance(v, (str, int)):
        return set()
    t = unicodedata.normalize("NFKC", str(v)).replace(" ", "").strip()
    if len(t) < 2:
        return set()
    out = {t}
    for fn in (norm_name, norm_kana):
        try:
            k = fn(t)
        except Exception:  # pragma: no cover - a cell the normaliser cannot read
            k = None
        if k and len(k) >= 2:
            out.add(k)
    return out


def _identities(s, p) -> tuple[set[str], set[str]]:
    """(the subject's own identity values, other household members' names, readings and resident numbers)."""
    own = set()
    for v in (p.name, p.name_kana, p.resident_no):
        own |= _keys(v)
    others = set()
    if p.household_id:
        for name, kana, rno in s.execute(
            text("SELECT name, name_kana, resident_no FROM person WHERE household_id=:h AND id<>:p"),
            {"h": p.household_id, "p": p.id},
        ):
            for v in (name, kana, rno):
                others |= _keys(v)
    return own, others - own


def _withhold_others(raw, attributes, own: set[str], others: set[str]) -> dict:
    """A row as imported, less what identifies another person: a guardian's or recipient's name, reading and
    resident number (attributes["recipient"], and any cell equal to another household member's identity)."""
    attributes = dict(attributes or {})
    hide = set(others)
    recipient = attributes.pop("recipient", None)
    if isinstance(recipient, dict):
        for v in recipient.values():
            hide |= _keys(v)
        attributes["recipient"] = WITHHELD
    hide -= own

    def clean(d):
        if not isinstance(d, dict):
            return d
        return {k: (clean(v) if isinstance(v, dict) else WITHHELD if _keys(v) & hide else v) for k, v in d.items()}

    return {"raw": clean(raw), "attributes": clean(attributes)}


def _v(x):
    if isinstance(x, (dt.date, dt.datetime)):
        return x.isoformat()
    return x


@service("governance.write", what="disclose", person="person_id")
def disclose(ws: Workspace, person_id: str, out: Path) -> dict:
    out = Path(out)
    aud = A.get("family_disclosure")
    data, withheld = for_audience(_gather_all(ws, person_id), person_id, aud)
    if out.suffix.lower() == ".pdf":
        pages = disclosure_pdf(ws, data, out)
    elif out.suffix.lower() == ".xlsx":
        _disclosure_xlsx(data, out)
        pages = None
    else:
        raise InputRefused("出力ファイルは .xlsx（職員向け）か .pdf（本人向け）にしてください。")
    counts = {k: (len(v) if isinstance(v, list) else 1) for k, v in data.items()}
    ws.log(
        "disclosure",
        person_id,
        {"format": out.suffix.lower(), "audience": aud.key, "counts": counts, "withheld": withheld},
    )
    res = {
        "person_id": person_id,
        "out": str(out),
        "audience": aud.label,
        "source_rows": len(data["source_rows"]),
        "sections": counts,
        "withheld": withheld,  # for the staff member answering: what the audience rule left out (not printed)
    }
    if pages is not None:
        res["pages"] = pages
    return res


def _disclosure_xlsx(data: dict, out: Path) -> None:
    from openpyxl import Workbook  # lazy: loads openpyxl, only needed here
    from openpyxl.styles import Font  # lazy: loads openpyxl, only needed here

    wb = Workbook()
    wb.remove(wb.active)
    for key, label in SECTION_LABELS.items():
        if key not in data:  # a section the audience does not see
            continue
        rows = data[key] if isinstance(data[key], list) else [data[key]]
        sh = wb.create_sheet(label[:31])
        sh.append([label])
        sh["A1"].font = Font(bold=True, size=12)
        if not rows:
            sh.append(["（記録なし）"])
            continue
        cols = list(rows[0].keys())
        outputs.safe_append(sh, cols)
        for r in rows:
            outputs.safe_append(
                sh,
                [
                    json.dumps(r[c], ensure_ascii=False, default=str) if isinstance(r[c], (dict, list)) else r[c]
                    for c in cols
                ],
            )
        for i in range(1, len(cols) + 1):
            sh.column_dimensions[sh.cell(2, i).column_letter].width = 22
    outputs.save_workbook(wb, out)


# --- correction ----------------------------------------------------------------------------------------------------
CORRECTABLE = {"name", "name_kana", "birth_date", "sex", "address", "relationship"}


@service("governance.write", what="correct", person="person_id")
def correct_person(ws: Workspace, person_id: str, field: str, new_value, reason: str) -> dict:
    if field not in CORRECTABLE:
        raise InputRefused(f"訂正できる項目は {', '.join(sorted(CORRECTABLE))} です。")
    if not (reason or "").strip():
        raise InputRefused("訂正の理由を入力してください。")
    from ..text.normalize import norm_kana, norm_name  # lazy: loads jaconv, yosina, only needed here

    with ws.session() as s:
        p = s.get(Person, person_id)
        if p is None:
            raise NotFound(f"こども・住民 {person_id} はありません。")
        old = getattr(p, field)
        if field == "birth_date":
            new_value = dt.date.fromisoformat(str(new_value))
        elif field == "sex":
            new_value = int(new_value)
        setattr(p, field, new_value)
        if field == "name":
            p.name_norm = norm_name(new_value)
        if field == "name_kana":
            p.kana_norm = norm_kana(new_value)
        c = Correction(
            person_id=person_id,
            table_name="person",
            row_id=person_id,
            field=field,
            old_value=None if old is None else str(old),
            new_value=str(new_value),
            reason=reason.strip(),
            by=ws.user.name,
        )
        s.add(c)
        s.flush()
        ws.log("correction", person_id, {"field": field, "correction_id": c.id}, conn=s)
        return {"person_id": person_id, "field": field, "correction_id": c.id}


# --- deletion --------------------------------------------------------------------------------------------------------
# outputs with names that the app may have written before a deletion (access-log "what"/"document" values)
_NAMED_EXPORTS = {
    "scores_csv": "スコアの CSV",
    "links": "名寄せ結果の CSV（export-links）",
    "checklist_template": "学校用チェックリスト（Excel）",
    "rejected_rows": "除外行の CSV",
    "access_log": "操作ログの出力（こどもID）",
}


def _digits(v) -> str:

    s = unicodedata.normalize("NFKC", str(v or "")).strip()
    return s.lstrip("0") if s.isdigit() else ""


def _rejected_rows_of(c, p: Person) -> tuple[list[int], set[int]]:
    """Rejected rows (kept raw for the department to fix) that hold this person: a cell with their 宛名番号, or a
    cell with their name (kanji or kana) together with their birth date — or with a name nobody else in the town
    has. Returns (row ids, batch ids)."""
    from ..text.normalize import norm_kana, norm_name  # lazy: loads jaconv, yosina, only needed here

    rno = _digits(p.resident_no)
    nn = p.name_norm or (norm_name(p.name) if p.name else None)
    kn = p.kana_norm or (norm_kana(p.name_kana) if p.name_kana else None)
    names = {x for x in (nn, kn) if x}
    unique_name = not c.execute(
        text("SELECT 1 FROM person WHERE id != :p AND (name_norm = :n OR kana_norm = :k) LIMIT 1"),
        {"p": p.id, "n": nn or "\0", "k": kn or "\0"},
    ).first()
    ids, batches = [], set()
    for rid, bid, raw in c.execute(text("SELECT id, batch_id, raw FROM rejected_row")).all():
        cells = list((json.loads(raw) if isinstance(raw, str) else raw or {}).values())
        texts = [str(v) for v in cells if v not in (None, "")]
        if rno and any(_digits(v) == rno for v in texts):
            ids.append(rid)
            batches.add(bid)
            continue
        if not names or not any(norm_name(v) in names or norm_kana(v) in names for v in texts):
            continue
        born = p.birth_date is not None and any(parse_date(v).value == p.birth_date for v in texts)
        if born or unique_name:
            ids.append(rid)
            batches.add(bid)
    return ids, batches


def _exports_before(c, person_id: str) -> list[dict]:
    """Files written earlier that may still hold the person (from the access log): outputs about them (a PDF, a
    disclosure) and the whole-town exports with names made while they were in the database."""
    out = []
    for seq, at, user, action, pid, detail in c.execute(
        text(
            "SELECT seq, at, user, action, person_id, detail FROM access_log "
            "WHERE action IN ('export', 'print', 'disclosure') ORDER BY seq"
        )
    ).all():
        d = json.loads(detail) if isinstance(detail, str) and detail else (detail or {})
        what = d.get("what") or d.get("document") or action
        ids = d.get("person_ids") or []
        if pid == person_id or person_id in ids:
            label = "開示（本人向け・職員向け）" if action == "disclosure" else f"この人の帳票・出力（{what}）"
        elif what in _NAMED_EXPORTS and not pid:
            label = _NAMED_EXPORTS[what]
        else:
            continue
        out.append({"seq": seq, "at": str(at), "user": user, "what": what, "label": label})
    return out


@service("governance.write", what="delete", person="person_id")
def delete_person(ws: Workspace, person_id: str, reason: str) -> dict:
    """削除請求 upheld: remove the person from every table — linked and registry rows, rows of any file that carry
    their 宛名番号, rejected rows that hold them, casework, notes, checklist entries, the household when no one is
    left in it — and say which files may still hold them: the department files their rows came from and the
    exports made earlier (from the access log). A tombstone (ids and counts) stays in the log."""
    if not (reason or "").strip():
        raise InputRefused("削除の理由（削除請求の受付番号など）を入力してください。")
    counts: dict[str, int] = {}
    with ws.session() as s:
        p = s.get(Person, person_id)
        if p is None:
            raise NotFound(f"こども・住民 {person_id} はありません。")
        rec_ids = [
            r
            for (r,) in s.execute(
                text(f"SELECT record_id FROM link WHERE person_id=:p AND status IN {HELD_SQL}"),
                {"p": person_id},
            ).all()
        ]
        if p.resident_no:  # any file's row with their resident number is theirs, linked or not
            rec_ids += [
                r
                for (r,) in s.execute(
                    text("SELECT id FROM source_record WHERE resident_no=:r"),
                    {"r": p.resident_no},
                ).all()
            ]
        rec_ids = sorted(set(rec_ids))
        c = s.connection()

        files = set()
        for i in range(0, len(rec_ids), 500):
            files |= {
                f
                for (f,) in c.execute(
                    text(
                        "SELECT DISTINCT b.file_name FROM source_record r JOIN source_batch b ON b.id = r.batch_id "
                        "WHERE r.id IN :ids"
                    ).bindparams(bindparam("ids", expanding=True)),
                    {"ids": rec_ids[i : i + 500]},
                )
            }
        rejected, rej_batches = _rejected_rows_of(c, p)
        if rej_batches:
            files |= {
                f
                for (f,) in c.execute(
                    text("SELECT file_name FROM source_batch WHERE id IN :ids").bindparams(
                        bindparam("ids", expanding=True)
                    ),
                    {"ids": sorted(rej_batches)},
                )
            }
        exports = _exports_before(c, person_id)
        household_id = p.household_id

        def run(label, sql, params):
            counts[label] = counts.get(label, 0) + c.execute(text(sql), params).rowcount

        for i in range(0, len(rejected), 500):
            counts["rejected_row"] = (
                counts.get("rejected_row", 0)
                + c.execute(
                    text("DELETE FROM rejected_row WHERE id IN :ids").bindparams(bindparam("ids", expanding=True)),
                    {"ids": rejected[i : i + 500]},
                ).rowcount
            )
        for i in range(0, len(rec_ids), 500):
            chunk = {"ids": rec_ids[i : i + 500]}
            for label, table, col in (
                ("link_decision", "link_decision", "record_id"),
                ("link", "link", "record_id"),
                ("source_record", "source_record", "id"),
            ):
                counts[label] = (
                    counts.get(label, 0)
                    + c.execute(
                        text(f"DELETE FROM {table} WHERE {col} IN :ids").bindparams(bindparam("ids", expanding=True)),
                        chunk,
                    ).rowcount
                )
        known = (
            "link_decision",
            "child_score",
            "round_candidate",
            "conference_item",
            "progress_record",
            "support_case",
            "note",
            "checklist_entry",
            "opt_out",
            "correction",
        )

        # every other table with a person_id column too (a table added later is covered without a change here);
        # the access log keeps its tombstone, link rows are handled below
        later = [
            t.name
            for t in Base.metadata.sorted_tables
            if "person_id" in t.c and t.name not in known + ("access_log", "link", "person")
        ]
        for table in known + tuple(reversed(later)):
            run(table, f"DELETE FROM {table} WHERE person_id=:p", {"p": person_id})
        # other records that only pointed at this person as a candidate keep no trace of it
        run(
            "link_candidates",
            "UPDATE link SET person_id=NULL, candidates=NULL, explanation=NULL, status='review' WHERE person_id=:p",
            {"p": person_id},
        )
        # the stored 名寄せ model holds the registry's name frequencies, its pair cache hashes of every row: both go
        # (the next link run is full)
        run("link_model", "DELETE FROM link_model", {})
        run("person", "DELETE FROM person WHERE id=:p", {"p": person_id})
        if household_id:  # the address goes with the last person of the household
            run(
                "household",
                "DELETE FROM household WHERE id=:h AND NOT EXISTS (SELECT 1 FROM person WHERE household_id=:h)",
                {"h": household_id},
            )
        mentions = _mentions(c, p.name)
        ws.log(
            "deletion",
            person_id,
            {"reason_given": True, "counts": counts, "exports_before": len(exports), "source_files": len(files)},
            conn=s,
        )
    # wipe freed pages: the deleted name must not survive in the file
    vacuum(ws)
    counts["school_workspaces"] = SW.purge_person(ws, person_id)  # and out of every school's own workspace
    counts["audit_workspace"] = AW.purge_person(ws, person_id)  # and out of the auditor's copy
    return {
        "person_id": person_id,
        "deleted": counts,
        "source_files": sorted(files),
        "exports_before": exports,
        "mentions_elsewhere": mentions,
        "note": "削除前に作成した出力ファイル（exports_before）と取込元のファイル（source_files）には、"
        "この人の情報が残っている可能性があります。保管先を確認し、必要に応じて削除してください。"
        if exports or files
        else "",
    }


def _mentions(c, name: str | None) -> list[dict]:
    """Free text in other people's records that mentions the deleted person's name (reported, not changed: the
    text belongs to someone else's record; a person reviews it)."""
    if not name or len(name.replace("\u3000", "").replace(" ", "")) < 2:
        return []
    forms = {name, name.replace("\u3000", " "), name.replace("\u3000", "").replace(" ", "")}
    out = []
    for table, cols in (
        ("note", ("text",)),
        ("progress_record", ("what", "outcome")),
        ("conference_item", ("minutes", "actions")),
        ("support_case", ("plan",)),
        ("checklist_entry", ("remark",)),
    ):
        where = " OR ".join(f"instr({col}, :f{i}) > 0" for col in cols for i in range(len(forms)))
        params = {f"f{i}": f for i, f in enumerate(sorted(forms))}
        for rid, pid in c.execute(text(f"SELECT id, person_id FROM {table} WHERE {where}"), params).all():
            out.append({"table": table, "id": rid, "person_id": pid})
    return out
