"""Children and persons for the child list and the child page (Qt-free; the GUI and the CLI share it).

Every read asks ``ws.require("person.read")`` first and is logged with ids and counts only — never a name and never
the search text (the access log must survive a person's deletion without being rewritten).

* :func:`child_count`, :func:`child_ids`, :func:`child_rows` — the child list in SQL for こども一覧 at 200,000
  persons: count, ordered (and searched) ids, then one page of rows with just those children's schools.
* :func:`list_children` — every person aged 0–18 on a date, with precomputed normalised search keys, searched in
  Python by :class:`ChildIndex` (the reference semantics; fine for other pages on small towns).
* :func:`search_children` — the same search as a service call (CLI, other pages).
* :func:`child_page` — identity, household members with relationship (siblings marked), and every record linked
  to the child (auto / confirmed links) on a timeline with its source, department, record date, file and as-of
  date, key fields, the identity as the department wrote it, and the raw columns that were not mapped.
* :func:`dashboard_counts` — counts only (no personal data).
"""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, text

from . import queries as Q
from .calendar import age_on, today, wareki  # noqa: F401 (wareki re-exported: pages and governance call P.wareki)
from .calendar import to_date as _date
from .calendar import wareki_and_western as birth_text
from .errors import NotFound
from .i18n import Message, msg, msg_join
from .importing.fields import SOURCE_TYPES
from .policy import DEFAULT_SOURCES
from .services import service
from .storage.models import ChildScore, Household, LegalBasis, Person, ScoreRun
from .text import search as _search
from .vocab import LINK_METHOD_LABELS, LINK_STATUS_LABELS, LINKED, SEX_LABELS, sex_label, source_label

if TYPE_CHECKING:
    from .workspace import Workspace

MAX_CHILD_AGE = 18
_PARENT_WORDS = ("世帯主", "妻", "夫", "父", "母", "祖", "親", "養")


# --- small helpers ------------------------------------------------------------------------------------------------
def _json(v) -> Any:
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return {}
    return v if v is not None else {}


def grade_text(school: str | None, grade: str | None, klass: str | None = None) -> str:
    g, c = str(grade or "").strip(), str(klass or "").strip()
    out = ""
    if g:
        out += f"{g}年" if g.isdigit() else g
    if c:
        out += f"{c}組" if c.isdigit() else c
    return " ".join(x for x in (school or "", out) if x)


def is_parent(relationship: str | None) -> bool:
    if not relationship:
        return False
    return any(w in relationship for w in _PARENT_WORDS)


# --- normalisation: the search's own module (core/text/search.py, shared with the prioritised list) ----------------
normalisers = _search.normalisers


# --- the child list ---------------------------------------------------------------------------------------------------
@dataclass
class ChildRow:
    person_id: str
    name: str
    name_kana: str
    birth_date: dt.date | None
    age: int | None
    sex: str
    school: str
    grade: str
    class_name: str
    resident_no: str
    household_id: str | None
    in_registry: bool
    opted_out: bool
    name_key: str = ""
    kana_key: str = ""

    @property
    def birth_text(self) -> str:
        return birth_text(self.birth_date)

    @property
    def school_text(self) -> str:
        return grade_text(self.school, self.grade)

    @property
    def kana_display(self) -> str:
        """Half-width kana from a department file shown full-width (the stored value is untouched)."""
        return unicodedata.normalize("NFKC", self.name_kana) if self.name_kana else ""


def _school_of(s, person_ids: set[str] | None = None) -> dict[str, tuple[str, str, str]]:
    """Each person's (school, grade, class) from their current school (queries.current_schools)."""
    return {pid: (c.school, c.grade, c.class_name) for pid, c in Q.current_schools(s, person_ids).items()}


def _child_row(row, on: dt.date, schools: dict, excluded: set, name_key: str, kana_key: str) -> ChildRow:
    """A ChildRow from (id, name, kana, birth, sex, 宛名番号, household, in_registry) and the search keys."""
    pid, name, kana, birth, sex, rno, hid, in_reg = row
    school, grade, klass = schools.get(pid, ("", "", ""))
    return ChildRow(
        pid,
        name or "",
        kana or "",
        birth,
        age_on(birth, on),
        SEX_LABELS.get(sex, ""),
        school or "",
        grade or "",
        klass or "",
        rno or "",
        hid,
        bool(in_reg),
        pid in excluded,
        name_key,
        kana_key,
    )


# What a ChildRow is built from (``_child_row`` reads them by position): the full list and one lazy page alike.
_ROW_COLUMNS = (
    Person.id,
    Person.name,
    Person.name_kana,
    Person.birth_date,
    Person.sex,
    Person.resident_no,
    Person.household_id,
    Person.in_registry,
)


@service("person.read", what="child list")
def list_children(
    ws: Workspace, on: dt.date | None = None, *, max_age: int = MAX_CHILD_AGE, log: bool = True
) -> list[ChildRow]:
    """Every person with a birth date aged 0–``max_age`` on ``on`` (default today), in kana order."""
    on = on or today()
    nn, nk, _, _ = normalisers()
    try:
        lo = on.replace(year=on.year - max_age - 1)
    except ValueError:  # 29 February
        lo = on.replace(year=on.year - max_age - 1, day=28)
    with ws.session() as s:
        schools = _school_of(s)
        excluded = Q.opted_out(s, on)
        rows = s.execute(
            select(*_ROW_COLUMNS).where(Person.birth_date.is_not(None), Person.birth_date > lo, Person.birth_date <= on)
        ).all()
    out = [
        _child_row(row, on, schools, excluded, nn(row[1]) if row[1] else "", nk(row[2]) if row[2] else "")
        for row in rows
    ]
    out.sort(key=lambda r: (r.kana_key or "\uffff", r.name_key, r.person_id))
    if log:
        ws.log("search", detail={"scope": "children_list", "results": len(out)})
    return out


class ChildIndex:
    """Search over rows fetched once: 氏名 (kanji, 旧字体 folded), カナ (half/full width, hiragana) and 宛名番号.

    Every whitespace-separated term must match one of the keys. When nothing matches, a looser level is tried
    (long vowels and small kana folded, 々 written out) so that ユウタ finds ユータ.
    """

    def __init__(self, rows: list[ChildRow]):
        self.rows = rows
        self._fold: list[tuple[str, str]] | None = None

    def _fold_keys(self) -> list[tuple[str, str]]:
        if self._fold is None:
            _, _, fn, fk = normalisers()
            self._fold = [(fn(r.name) if r.name else "", fk(r.name_kana) if r.name_kana else "") for r in self.rows]
        return self._fold

    @staticmethod
    def terms(query: str) -> list[str]:
        return _search.search_terms(query)

    def filter(self, query: str) -> list[int]:
        """Indexes of the rows matching ``query`` (all rows for an empty query)."""
        terms = self.terms(query)
        if not terms:
            return list(range(len(self.rows)))
        nn, nk, fn, fk = normalisers()
        keyed = [(nn(t), nk(t), t.upper()) for t in terms]

        def hit(r: ChildRow) -> bool:
            for n, k, raw in keyed:
                if not (
                    (n and n in r.name_key)
                    or (k and k in r.kana_key)
                    or (raw.isdigit() and raw in r.resident_no)
                    or (raw == r.person_id)
                ):
                    return False
            return True

        found = [i for i, r in enumerate(self.rows) if hit(r)]
        if found:
            return found
        folded = [(fn(t), fk(t)) for t in terms]
        fold = self._fold_keys()
        return [
            i
            for i, (fname, fkana) in enumerate(fold)
            if all((a and a in fname) or (b and b in fkana) for a, b in folded)
        ]


# --- the child list in SQL (200,000 persons: the GUI fetches ordered ids, then one page of rows at a time) -------
#: the orders :func:`child_ids` knows: column → SQL ORDER BY (ascending; ``descending`` flips every key)
CHILD_ORDERS = {
    "kana": ("(p.kana_norm IS NULL OR p.kana_norm = '')", "p.kana_norm", "p.name_norm", "p.id"),
    "name": ("(p.name_norm IS NULL OR p.name_norm = '')", "p.name_norm", "p.kana_norm", "p.id"),
    "birth": ("p.birth_date", "p.id"),
    "sex": ("p.sex", "p.kana_norm", "p.id"),
    "resident_no": ("(p.resident_no IS NULL OR p.resident_no = '')", "p.resident_no", "p.id"),
}


def _child_range(on: dt.date, max_age: int = MAX_CHILD_AGE) -> tuple[str, str]:
    try:
        lo = on.replace(year=on.year - max_age - 1)
    except ValueError:  # 29 February
        lo = on.replace(year=on.year - max_age - 1, day=28)
    return lo.isoformat(), on.isoformat()


def _term_sql(terms: list[str], params: dict) -> str:
    """Each term must hit 氏名 (normalised), カナ (normalised), 宛名番号 (digits) or be the person id."""
    return _search.person_terms_sql(terms, params, "p")


def _child_where(query: str, on: dt.date | None, max_age: int) -> tuple[str, dict[str, Any], list[str]]:
    lo, hi = _child_range(on or today(), max_age)
    params: dict[str, Any] = {"lo": lo, "hi": hi}
    terms = ChildIndex.terms(query)
    where = "p.birth_date > :lo AND p.birth_date <= :hi"
    if terms:
        where += " AND " + _term_sql(terms, params)
    return where, params, terms


@service("person.read", what="child list")
def child_count(ws: Workspace, query: str = "", on: dt.date | None = None, *, max_age: int = MAX_CHILD_AGE) -> int:
    """How many children aged 0–``max_age`` on ``on`` match ``query`` (all of them for an empty query); SQL only
    (the fold-level fallback is :func:`child_ids`'s). Not logged."""
    where, params, _ = _child_where(query, on, max_age)
    with ws.session() as s:
        return int(s.execute(text(f"SELECT count(*) FROM person p WHERE {where}"), params).scalar() or 0)


@service("person.read", what="child list")
def child_ids(
    ws: Workspace,
    query: str = "",
    on: dt.date | None = None,
    order: str = "kana",
    descending: bool = False,
    *,
    limit: int | None = None,
    offset: int = 0,
    max_age: int = MAX_CHILD_AGE,
) -> list[str]:
    """The ids of the children aged 0–``max_age`` on ``on`` matching ``query``, ordered in SQL, optionally one page
    (``limit``/``offset``). The same search as :class:`ChildIndex`: every term must hit 氏名 (旧字体 folded)・カナ
    (any width, hiragana)・宛名番号 digits or be the person id; when nothing matches, the looser fold level is
    tried (ユウタ finds ユータ). ``order``: a key of :data:`CHILD_ORDERS`, ``age`` (youngest first) or ``school``.
    The covering index ``ix_person_child_list`` keeps this to the children's index entries (no table rows).
    Not logged: the caller logs the list view or the search with its count."""
    where, params, terms = _child_where(query, on, max_age)
    if order == "age":
        order, descending = "birth", not descending
    keys = CHILD_ORDERS.get(order, CHILD_ORDERS["kana"])
    direction = " DESC" if descending else ""
    order_sql = ", ".join(k + direction for k in keys)
    page = order != "school" and limit is not None
    sql = f"SELECT p.id FROM person p WHERE {where} ORDER BY {order_sql}"
    if page:
        sql += f" LIMIT {int(limit or 0)} OFFSET {int(offset)}"
    with ws.session() as s:
        ids = list(s.execute(text(sql), params).scalars())
        if not ids and terms and not offset:
            ids = _fold_match(s, terms, params["lo"], params["hi"], order_sql)
            page = False
        if order == "school" and ids:
            schools = _school_of(s, set(ids)) if len(ids) <= Q.MAX_SQL_IDS else _school_of(s)
            blank = ("\uffff", "", "")

            def school_key(pid: str) -> tuple[str, str]:
                c = schools.get(pid, blank)
                return (c[0] or "\uffff", str(c[1]).zfill(3))

            ids.sort(key=school_key, reverse=descending)
    if not page and limit is not None:
        ids = ids[offset : offset + limit]
    return ids


def _fold_match(s, terms: list[str], lo: str, hi: str, order_sql: str) -> list[str]:
    """The looser level (long vowels and small kana folded, 々 written out) over the children's normalised keys.

    Folds the distinct names and kana of the children (read from the covering index; a town has far fewer distinct
    names than children), then asks SQL for the rows holding a matching value, in the list's order. A miss costs
    two index scans and no row at all."""
    _, _, fn, fk = normalisers()
    rng = {"lo": lo, "hi": hi}
    where = "p.birth_date > :lo AND p.birth_date <= :hi"
    names = [v for v in s.execute(text(f"SELECT DISTINCT p.name_norm FROM person p WHERE {where}"), rng).scalars() if v]
    kanas = [v for v in s.execute(text(f"SELECT DISTINCT p.kana_norm FROM person p WHERE {where}"), rng).scalars() if v]
    params: dict[str, Any] = dict(rng)
    conds = []
    for i, t in enumerate(terms):
        a, b = fn(t), fk(t)
        hit_n = [v for v in names if a and a in fn(v)]
        hit_k = [v for v in kanas if b and b in fk(v)]
        if not hit_n and not hit_k:
            return []
        alts = []
        for col, hits, tag in (("p.name_norm", hit_n, "n"), ("p.kana_norm", hit_k, "k")):
            if hits:
                params.update({f"f{tag}{i}_{j}": v for j, v in enumerate(hits)})
                alts.append(f"{col} IN (" + ",".join(f":f{tag}{i}_{j}" for j in range(len(hits))) + ")")
        conds.append("(" + " OR ".join(alts) + ")")
    if len(params) > 30_000:  # beyond SQLite's bound parameters: match the rows in Python
        wanted = [
            ({v for v in names if a and a in fn(v)}, {v for v in kanas if b and b in fk(v)})
            for a, b in ((fn(t), fk(t)) for t in terms)
        ]
        rows = s.execute(
            text(f"SELECT p.id, p.name_norm, p.kana_norm FROM person p WHERE {where} ORDER BY {order_sql}"), rng
        )
        return [pid for pid, n, k in rows if all(n in wn or k in wk for wn, wk in wanted)]
    sql = f"SELECT p.id FROM person p WHERE {where} AND " + " AND ".join(conds) + f" ORDER BY {order_sql}"
    return list(s.execute(text(sql), params).scalars())


@service("person.read", what="child list")
def child_rows(ws: Workspace, ids: list[str], on: dt.date | None = None) -> list[ChildRow]:
    """:class:`ChildRow` for these ids (one page of the list), in the given order, with the current school of just
    these persons. Not logged (the list view was)."""
    on = on or today()
    if not ids:
        return []
    nn, nk, _, _ = normalisers()
    with ws.session() as s:
        schools = _school_of(s, set(ids))
        excluded = Q.opted_out(s, on)
        found: dict[str, ChildRow] = {}
        for i in range(0, len(ids), 900):
            chunk = ids[i : i + 900]
            rows = s.execute(
                select(*_ROW_COLUMNS, Person.name_norm, Person.kana_norm).where(Person.id.in_(chunk))
            ).all()
            for *row, name_norm, kana_norm in rows:
                name, kana = row[1], row[2]
                found[row[0]] = _child_row(
                    row,
                    on,
                    schools,
                    excluded,
                    name_norm or (nn(name) if name else ""),
                    kana_norm or (nk(kana) if kana else ""),
                )
    return [found[i] for i in ids if i in found]


def log_child_list(ws: Workspace, results: int) -> None:
    """The list view itself (opening or refreshing こども一覧): the count only."""
    ws.log("search", detail={"scope": "children_list", "results": int(results)})


def search_children(ws: Workspace, query: str, limit: int | None = 50, on: dt.date | None = None) -> list[ChildRow]:
    """Children matching ``query`` (氏名・カナ・宛名番号). Logged with the number of results only."""
    rows = list_children(ws, on, log=False)
    found = [rows[i] for i in ChildIndex(rows).filter(query)]
    if limit:
        found = found[:limit]
    ws.log("search", detail={"scope": "children", "results": len(found)})
    return found


def log_search(ws: Workspace, results: int, scope: str = "children") -> None:
    """For a search the GUI ran over rows it already holds: the count only, never the text."""
    ws.log("search", detail={"scope": scope, "results": int(results)})


# --- the child page ---------------------------------------------------------------------------------------------------
@dataclass
class Member:
    person_id: str
    relationship: str
    name: str
    name_kana: str
    birth_date: dt.date | None
    age: int | None
    sex: str
    sibling: bool
    school: str = ""
    score_band: str | None = None
    flagged: bool = False


@dataclass
class TimelineEntry:
    record_id: int
    person_id: str  # whose record (the child, or a household member)
    whose: str  # "" for the child's own record, else 「母 氏名」
    source_type: str
    source_label: str
    department: str
    date: dt.date | None
    date_basis: str  # 記録日 / 時点
    file_name: str
    as_of: dt.date | None
    batch_id: int
    row_number: int
    current: bool  # False: an older extract that a newer one replaced
    link_status: str
    link_method: str
    subject: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    recorded_as: list[tuple[str, str]] = field(default_factory=list)
    extra: list[tuple[str, str]] = field(default_factory=list)
    summary: str = ""
    summary_parts: list[tuple[str, str]] = field(default_factory=list)  # (label, value) the summary joins with ・

    @property
    def status_label(self) -> str:
        return LINK_STATUS_LABELS.get(self.link_status, self.link_status)

    @property
    def method_label(self) -> str:
        return LINK_METHOD_LABELS.get(self.link_method, self.link_method or "")

    @property
    def file_text(self) -> Message:
        if self.as_of is None:
            return msg("{file}（時点不明・{row}行目）", file=self.file_name, row=self.row_number)
        return msg(
            "{file}（{date} 時点・{row}行目）", file=self.file_name, date=self.as_of.isoformat(), row=self.row_number
        )


@dataclass
class ChildPage:
    person_id: str
    name: str
    name_kana: str
    birth_date: dt.date | None
    age: int | None
    sex: str
    resident_no: str
    relationship: str
    address: str
    household_id: str | None
    household_no: str
    household_address: str
    in_registry: bool
    opted_out: bool
    school: str
    on: dt.date
    members: list[Member] = field(default_factory=list)
    records: list[TimelineEntry] = field(default_factory=list)
    household_records: list[TimelineEntry] = field(default_factory=list)
    score: dict | None = None

    @property
    def siblings(self) -> list[Member]:
        return [m for m in self.members if m.sibling]

    @property
    def birth_text(self) -> str:
        return birth_text(self.birth_date)

    @property
    def kana_display(self) -> str:
        return unicodedata.normalize("NFKC", self.name_kana) if self.name_kana else ""


def _departments(s) -> dict[str, str]:
    out: dict[str, str] = {}
    out = {k: v[0] for k, v in DEFAULT_SOURCES.items()}
    try:
        for key, dept in s.execute(select(LegalBasis.key, LegalBasis.department).where(LegalBasis.kind == "source")):
            if dept:
                out[key] = dept
    except Exception:  # pragma: no cover - before migration 0002
        pass
    return out


def _source_meta() -> dict[str, dict]:
    return SOURCE_TYPES


def _attr_labels(meta: dict) -> dict[str, str]:
    attrs = meta.get("attributes") or {}
    if isinstance(attrs, dict):
        return {str(k): str(v.get("label", k) if isinstance(v, dict) else v) for k, v in attrs.items()}
    return {str(a["field"]): str(a.get("label", a["field"])) for a in attrs if isinstance(a, dict) and "field" in a}


_NESTED_LABELS = {
    "resident_no": "宛名番号",
    "name": "氏名",
    "name_kana": "カナ",
    "birth_date": "生年月日",
    "sex": "性別",
    "relationship": "続柄",
    "address": "住所",
    "household_no": "世帯番号",
}
_ATTR_FALLBACK = {"recipient": "受給者", "extra": "その他の列"}


def _value_text(v) -> str:
    if v is True:
        return "あり"
    if v is False:
        return "なし"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "、".join(_value_text(x) for x in v)
    if isinstance(v, dict):
        parts = [
            msg("{label} {value}", label=msg(str(_NESTED_LABELS.get(k, k))), value=_value_text(x))
            for k, x in v.items()
            if x not in (None, "")
        ]
        return msg_join("、", parts)
    return "" if v is None else str(v)


_RECORDED_AS = (
    ("name", "氏名"),
    ("name_kana", "カナ"),
    ("birth_date", "生年月日"),
    ("sex", "性別"),
    ("resident_no", "宛名番号"),
    ("relationship", "続柄"),
    ("student_no", "学籍番号"),
    ("school", "学校"),
    ("grade", "学年"),
    ("class_name", "組"),
    ("address", "住所"),
)
_SKIP_SUMMARY = {"round", "answers", "group_counts"}


def _timeline(
    s, person_ids: list[str], whose: dict[str, Any], departments: dict[str, str], skip_sources: tuple[str, ...] = ()
) -> list[TimelineEntry]:
    if not person_ids:
        return []
    meta_all = _source_meta()
    params = {f"p{i}": p for i, p in enumerate(person_ids)}
    q = text(
        "SELECT r.id, l.person_id, r.source_type, r.record_date, r.row_number, r.subject, r.attributes, "
        "r.name, r.name_kana, r.birth_date, r.sex, r.resident_no, r.relationship, r.student_no, r.school, r.grade, "
        "r.class_name, r.address, b.id, b.file_name, b.as_of, b.superseded_by, l.status, l.method "
        f"FROM {Q.LINKED_FROM} WHERE {Q.LINKED_WHERE} AND l.person_id IN ("
        + ",".join(f":p{i}" for i in range(len(person_ids)))
        + ")"
    )
    out = []
    for row in s.execute(q, params):
        (
            rid,
            pid,
            st,
            rdate,
            rownum,
            subject,
            attrs,
            name,
            kana,
            birth,
            sex,
            rno,
            rel,
            sno,
            school,
            grade,
            klass,
            address,
            bid,
            fname,
            as_of,
            superseded,
            status,
            method,
        ) = row
        if st in skip_sources:
            continue
        meta = meta_all.get(st, {})
        labels = _attr_labels(meta)
        attrs = _json(attrs) or {}
        extra = attrs.get("extra") if isinstance(attrs, dict) else None
        shown = [
            (k, labels.get(k) or _ATTR_FALLBACK.get(k, k), _value_text(v))
            for k, v in attrs.items()
            if k != "extra" and v not in (None, "", [], {})
        ]
        fields = [(lab, val) for _, lab, val in shown]
        summary_parts = [(lab, val) for k, lab, val in shown if k not in _SKIP_SUMMARY]
        summary = "・".join(f"{lab} {val}" for lab, val in summary_parts)
        if not summary and st == "resident_registry":
            summary = msg("住民基本台帳に記載（続柄 {rel}）", rel=msg(rel)) if rel else msg("住民基本台帳に記載")
        values = {
            "name": name,
            "name_kana": kana,
            "birth_date": _date(birth),
            "sex": SEX_LABELS.get(sex, sex),
            "resident_no": rno,
            "relationship": rel,
            "student_no": sno,
            "school": school,
            "grade": grade,
            "class_name": klass,
            "address": address,
        }
        recorded = [
            (lab, _value_text(values[k]) if not isinstance(values[k], dt.date) else values[k].isoformat())
            for k, lab in _RECORDED_AS
            if values[k] not in (None, "")
        ]
        rd, as_of_d = _date(rdate), _date(as_of)
        out.append(
            TimelineEntry(
                record_id=rid,
                person_id=pid,
                whose=whose.get(pid, ""),
                source_type=st,
                source_label=meta.get("label") or source_label(st),
                department=departments.get(st, ""),
                date=rd or as_of_d,
                date_basis="記録日" if rd else "時点",
                file_name=fname or "",
                as_of=as_of_d,
                batch_id=bid,
                row_number=rownum or 0,
                current=superseded is None,
                link_status=status or "",
                link_method=method or "",
                subject=subject or "self",
                fields=fields,
                recorded_as=recorded,
                extra=[(str(k), _value_text(v)) for k, v in (extra or {}).items() if v not in (None, "")]
                if isinstance(extra, dict)
                else [],
                summary=summary,
                summary_parts=summary_parts,
            )
        )
    out.sort(key=lambda e: (e.date or dt.date.min, e.batch_id, e.record_id), reverse=True)
    return out


def _scores(s, person_ids: list[str]) -> dict[str, dict]:
    """The latest score run's band and reasons for these persons (for siblings' flags), read through the typed
    ``ScoreDetails`` of the scoring engine (``details``: own / household points, pending and implausible records)."""
    from .scoring.explain import ScoreDetails  # lazy: the scoring package loads pandas; the child list does not

    run = s.scalar(select(ScoreRun).order_by(ScoreRun.id.desc()).limit(1))
    if run is None or not person_ids:
        return {}
    out = {}
    for cs in s.scalars(select(ChildScore).where(ChildScore.run_id == run.id, ChildScore.person_id.in_(person_ids))):
        d = ScoreDetails.from_dict(cs.details)
        out[cs.person_id] = {
            "run_id": run.id,
            "as_of": run.as_of,
            "total": cs.total,
            "band": cs.band,
            "types": cs.types,
            "flagged": bool(cs.flagged),
            "basic_items": cs.basic_items,
            "reasons": [r.to_dict() for r in d.reasons],
            "own_points": d.own_points,
            "household_points": d.household_points,
            "pending": d.pending_lines,
            "details": d,
        }
    return out


@service("person.read", what="child page", person="person_id")
def child_page(
    ws: Workspace, person_id: str, on: dt.date | None = None, *, household_records: bool = True
) -> ChildPage:
    """Everything the child page shows, read in one session. Logged as view_person (ids and counts only)."""
    on = on or today()
    with ws.session() as s:
        p = s.get(Person, person_id)
        if p is None:
            raise NotFound(f"こども・住民 {person_id} は登録されていません。")
        hh = s.get(Household, p.household_id) if p.household_id else None
        others = (
            list(s.scalars(select(Person).where(Person.household_id == p.household_id, Person.id != p.id)))
            if p.household_id
            else []
        )
        ids = [m.id for m in others]
        schools = _school_of(s, set(ids) | {p.id})
        scores = _scores(s, ids + [p.id]) if ws.can("score.read") else {}
        members = []
        for m in others:
            a = age_on(m.birth_date, on)
            sibling = a is not None and 0 <= a <= MAX_CHILD_AGE and not is_parent(m.relationship)
            sc = scores.get(m.id) or {}
            members.append(
                Member(
                    m.id,
                    m.relationship or "",
                    m.name or "",
                    m.name_kana or "",
                    m.birth_date,
                    a,
                    sex_label(m.sex),
                    sibling,
                    grade_text(*schools.get(m.id, ("", "", ""))),
                    sc.get("band"),
                    bool(sc.get("flagged")),
                )
            )
        members.sort(key=lambda m: (not is_parent(m.relationship), m.birth_date or dt.date.max))
        departments = _departments(s)
        records = _timeline(s, [p.id], {}, departments)
        # the household's own registry rows repeat the members table: only their department records are shown
        hh_records = (
            _timeline(
                s,
                ids,
                {
                    m.person_id: msg("{rel} {name}", rel=msg(m.relationship), name=m.name)
                    if m.relationship
                    else msg(m.name or "")
                    for m in members
                },
                departments,
                skip_sources=("resident_registry",),
            )
            if household_records
            else []
        )
        page = ChildPage(
            person_id=p.id,
            name=p.name or "",
            name_kana=p.name_kana or "",
            birth_date=p.birth_date,
            age=age_on(p.birth_date, on),
            sex=sex_label(p.sex),
            resident_no=p.resident_no or "",
            relationship=p.relationship or "",
            address=p.address or (hh.address if hh else "") or "",
            household_id=p.household_id,
            household_no=(hh.household_no if hh else "") or "",
            household_address=(hh.address if hh else "") or "",
            in_registry=bool(p.in_registry),
            opted_out=Q.is_opted_out(s, p.id),
            school=grade_text(*schools.get(p.id, ("", "", ""))),
            on=on,
            members=members,
            records=records,
            household_records=hh_records,
            score=scores.get(p.id),
        )
    ws.log("view_person", person_id, {"records": len(page.records), "household_records": len(page.household_records)})
    return page


# --- dashboard ----------------------------------------------------------------------------------------------------------
def dashboard_counts(ws: Workspace, on: dt.date | None = None) -> dict:
    """Counts for the dashboard (no personal data): persons, children, batches, records, links by status, and each
    source's newest as-of date."""
    on = on or today()
    try:
        lo = on.replace(year=on.year - MAX_CHILD_AGE - 1)
    except ValueError:
        lo = on.replace(year=on.year - MAX_CHILD_AGE - 1, day=28)
    with ws.session() as s:
        one = lambda sql, **kw: s.execute(text(sql), kw).scalar() or 0  # noqa: E731
        counts: dict[str, Any] = {
            "persons": one("SELECT count(*) FROM person"),
            "children": one(
                "SELECT count(*) FROM person WHERE birth_date > :lo AND birth_date <= :on",
                lo=lo.isoformat(),
                on=on.isoformat(),
            ),
            "households": one("SELECT count(*) FROM household"),
            "batches": one("SELECT count(*) FROM source_batch WHERE removed_at IS NULL"),
            "records": one(
                "SELECT count(*) FROM source_record r JOIN source_batch b ON b.id = r.batch_id "
                "WHERE b.removed_at IS NULL"
            ),
        }
        links: dict[str, int] = dict(s.execute(text("SELECT status, count(*) FROM link GROUP BY status")).all())
        latest = s.execute(
            text(
                "SELECT source_type, max(as_of), count(*) FROM source_batch WHERE removed_at IS NULL GROUP BY source_type"
            )
        ).all()
        departments = _departments(s)
    meta = _source_meta()
    order = {k: i for i, k in enumerate(meta)}
    sources = [
        {
            "source_type": st,
            "label": meta.get(st, {}).get("label", st),
            "department": departments.get(st, ""),
            "latest_as_of": _date(d),
            "batches": n,
            "age_days": (on - dd).days if (dd := _date(d)) else None,
        }
        for st, d, n in sorted(latest, key=lambda r: order.get(r[0], 99))
    ]
    counts["links"] = {k: int(v) for k, v in links.items()}
    counts["linked"] = sum(int(links.get(k, 0)) for k in LINKED)
    counts["review"] = int(links.get("review", 0))
    counts["sources"] = sources
    return counts


def person_ids_in(rows: Iterable[ChildRow]) -> list[str]:
    return [r.person_id for r in rows]


def person_brief(ws: Workspace, person_id: str | None) -> dict:
    """A resident's register fields for 名寄せ's side-by-side comparison (empty when unknown)."""
    if not (ws.can("link.review") or ws.can("person.read")):
        ws.require("link.review", what="person brief")
    if not person_id:
        return {}
    with ws.session() as s:
        p = s.get(Person, person_id)
        if p is None:
            return {}
        return {
            "name": p.name,
            "name_kana": p.name_kana,
            "birth_date": p.birth_date,
            "sex": p.sex,
            "address": p.address,
            "resident_no": p.resident_no,
            "school": "",
        }
