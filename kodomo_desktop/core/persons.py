"""Children and persons for the list and the child page. Reads are permission-checked and logged with ids and
counts only (never a name or the search text)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select, text

from .errors import NotFound
from .storage.models import Household, Person


def wareki(d: dt.date | None) -> str:
    if d is None:
        return ""
    for start, name in ((dt.date(2019, 5, 1), "令和"), (dt.date(1989, 1, 8), "平成"), (dt.date(1926, 12, 25), "昭和")):
        if d >= start:
            y = d.year - start.year + 1
            return f"{name}{'元' if y == 1 else y}年{d.month}月{d.day}日"
    return d.isoformat()


def age_on(birth, on):
    if birth is None:
        return None
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def list_children(ws, on: dt.date | None = None) -> list[dict]:
    """Every person aged 0–18 with the fields the list shows and normalised keys for search."""
    ws.require("person.read", what="child list")
    from .linkage.service import opted_out_persons
    from .text.normalize import norm_kana, norm_name
    on = on or dt.date.today()
    lo = on.replace(year=on.year - 19)
    with ws.session() as s:
        school = {}
        for pid, sch, grade in s.execute(text(
                "SELECT l.person_id, r.school, r.grade FROM link l JOIN source_record r ON r.id=l.record_id "
                "JOIN source_batch b ON b.id=r.batch_id WHERE l.status IN ('auto','confirmed') AND r.school IS NOT NULL "
                "AND b.removed_at IS NULL AND r.source_type != 'school_checklist' ORDER BY b.as_of, b.id")):
            school[pid] = (sch, grade)
        excluded = opted_out_persons(s)
        out = []
        for p in s.scalars(select(Person).where(Person.birth_date > lo, Person.birth_date <= on).order_by(Person.kana_norm)):
            age = age_on(p.birth_date, on)
            sch, grade = school.get(p.id, ("", ""))
            out.append({"person_id": p.id, "name": p.name or "", "name_kana": p.name_kana or "",
                        "birth_date": p.birth_date, "birth_wareki": wareki(p.birth_date), "age": age,
                        "sex": {1: "男", 2: "女"}.get(p.sex, ""), "school": sch or "",
                        "grade": f"{grade}年" if grade else "", "resident_no": p.resident_no or "",
                        "opted_out": p.id in excluded, "in_registry": p.in_registry,
                        "_key": f"{norm_name(p.name)}|{norm_kana(p.name_kana)}|{p.resident_no or ''}|{p.id}"})
    ws.log("view_list", detail={"what": "children", "rows": len(out)})
    return out


def search_key(query: str) -> str:
    from .text.normalize import norm_kana, norm_name
    q = (query or "").strip()
    return norm_kana(q) if q and all("\u3040" <= c <= "\u30ff" or c in " 　ｰ" or "\uff66" <= c <= "\uff9f" for c in q) \
        else norm_name(q)


def log_search(ws, hits: int, kind: str = "text") -> None:
    ws.log("search", detail={"kind": kind, "hits": hits})


def child_page(ws, person_id: str) -> dict:
    """Identity, household members (siblings marked), and every linked record on a timeline with its source."""
    ws.require("person.read", what="child page", person_id=person_id)
    from .importing.fields import SOURCE_TYPES
    today = dt.date.today()
    with ws.session() as s:
        p = s.get(Person, person_id)
        if p is None:
            raise NotFound(f"こども・住民 {person_id} はありません。")
        members = []
        if p.household_id:
            for m in s.scalars(select(Person).where(Person.household_id == p.household_id, Person.id != p.id)
                               .order_by(Person.birth_date)):
                a = age_on(m.birth_date, today)
                members.append({"person_id": m.id, "name": m.name, "relationship": m.relationship, "age": a,
                                "sibling": m.relationship == p.relationship == "子" or (a is not None and a <= 18 and m.relationship in ("子", "孫"))})
        hh = s.get(Household, p.household_id) if p.household_id else None
        records = []
        for r in s.execute(text(
                "SELECT r.id, r.source_type, r.row_number, r.record_date, r.name, r.school, r.grade, r.class_name, "
                "r.attributes, r.raw, b.file_name, b.as_of, b.superseded_by, l.status, l.method FROM link l "
                "JOIN source_record r ON r.id=l.record_id JOIN source_batch b ON b.id=r.batch_id "
                "WHERE l.person_id=:p AND l.status IN ('auto','confirmed','excluded') AND b.removed_at IS NULL "
                "ORDER BY r.record_date DESC, b.id DESC"), {"p": person_id}).mappings():
            records.append({**dict(r), "label": SOURCE_TYPES.get(r["source_type"], {}).get("label", r["source_type"])})
        out = {"person_id": p.id, "name": p.name, "name_kana": p.name_kana, "birth_date": p.birth_date,
               "birth_wareki": wareki(p.birth_date), "age": age_on(p.birth_date, today),
               "sex": {1: "男", 2: "女"}.get(p.sex, ""), "address": p.address, "resident_no": p.resident_no,
               "relationship": p.relationship, "in_registry": p.in_registry,
               "household_no": hh.household_no if hh else None, "members": members, "records": records}
    ws.log("view_person", person_id, {"records": len(records)})
    return out
