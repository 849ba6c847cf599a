"""What the documents print, read from the models inside one session (the services open it through the
Workspace after ``ws.require``). Plain dicts out; no layout here.

The scores' ``ChildScore.details`` JSON is written by the scoring engine as :class:`~..scoring.explain.ScoreDetails`;
:class:`ScoreReader` reads it through that class (attributes, no key guessing) and fills what a reason leaves out
from the database (the record's date, the batch's file, the source's department, the catalogue's label).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from functools import lru_cache

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ...resources import resource_path
from .. import queries as Q
from ..audience import fact_kind
from ..calendar import to_date as _date
from ..casework.service import DEFAULT_LABELS, DIRECTIONS, age_band, age_on
from ..errors import InputRefused, NotFound
from ..i18n import msg
from ..importing.fields import SOURCE_TYPES
from ..policy import DEFAULT_SOURCES
from ..scoring.catalogue import load_catalogue
from ..scoring.explain import Reason, ScoreDetails
from ..scoring.service import catalogue as service_catalogue
from ..storage.models import (
    ChecklistDefinition,
    ChecklistEntry,
    ChecklistRound,
    ChildScore,
    Conference,
    ConferenceItem,
    LegalBasis,
    Person,
    ProgressRecord,
    ReviewRound,
    RoundCandidate,
    ScoreRun,
    SourceBatch,
    SourceRecord,
    SupportCase,
    WeightSet,
)
from ..vocab import SEX_LABELS, sex_label

SEX = SEX_LABELS
NO_SCHOOL = "（学校・園なし）"


# --- reference data ------------------------------------------------------------------------------------------------
def source_label(st: str | None) -> str:

    if not st:
        return ""
    return SOURCE_TYPES.get(st, {}).get("label", st)


def attribute_labels(st: str) -> dict[str, str]:

    attrs = SOURCE_TYPES.get(st, {}).get("attributes", {})
    if isinstance(attrs, dict):
        return {str(k): str(v.get("label", k) if isinstance(v, dict) else k) for k, v in attrs.items()}
    return {str(a["field"]): str(a.get("label", a["field"])) for a in attrs if isinstance(a, dict) and "field" in a}


def departments(s: Session) -> dict[str, str]:
    """Source type → the department that holds it (the legal-basis table, else the defaults)."""
    out = {k: v[0] for k, v in DEFAULT_SOURCES.items()}
    for key, dept in s.execute(select(LegalBasis.key, LegalBasis.department).where(LegalBasis.kind == "source")):
        if dept:
            out[key] = dept
    return out


def sheet_visibility(s: Session) -> tuple[dict[str, bool], dict[str, bool]]:
    """(source type → shown on school sheets, indicator → shown on school sheets) from the legal-basis table."""
    src: dict[str, bool] = {}
    ind: dict[str, bool] = {}
    for kind, key, shown in s.execute(select(LegalBasis.kind, LegalBasis.key, LegalBasis.shown_on_sheets)):
        (src if kind == "source" else ind)[key] = bool(shown)
    return src, ind


@lru_cache(maxsize=1)
def _catalogue_file() -> dict[str, dict]:
    try:
        path = resource_path("indicators.json")
        raw = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except Exception:  # a catalogue being edited must never stop a print
        return {}
    items = raw.get("indicators", raw) if isinstance(raw, dict) else raw
    if isinstance(items, dict):
        items = [{"id": k, **(v if isinstance(v, dict) else {})} for k, v in items.items()]
    out = {}
    for it in items or []:
        if isinstance(it, dict) and it.get("id"):
            out[str(it["id"])] = it
    return out


def scoring_catalogue() -> dict:
    """The scoring catalogue (resources/indicators.json, through the scoring package when it is there)."""
    loaders: list[Callable[[], dict]] = [load_catalogue, service_catalogue]
    for load in loaders:
        try:
            got = load()
        except Exception:  # a catalogue being edited must never stop a print
            continue
        if isinstance(got, dict):
            return got
    return {"indicators": list(_catalogue_file().values())}


def catalogue() -> dict[str, dict]:
    """Indicator id → {label_ja, source_type, shown_on_sheets, …}."""
    items = scoring_catalogue().get("indicators") or []
    if isinstance(items, dict):
        items = [{"id": k, **(v if isinstance(v, dict) else {})} for k, v in items.items()]
    return {str(i["id"]): i for i in items if isinstance(i, dict) and i.get("id")} or _catalogue_file()


# the scoring engine's "no data" labels → the sources they stand for
NO_DATA_SOURCES = {
    "学校データなし": ("school_attendance", "school_health"),
    "母子保健データなし": ("maternal_child_health",),
    "チェックリスト未回収": ("school_checklist",),
}
VIA_SUBJECT = {
    "本人": "",
    "self": "",
    "child": "",
    "世帯員": "世帯員",
    "世帯": "世帯",
    "household": "世帯",
    "member": "世帯員",
    "other": "世帯員",
    "parent": "保護者",
    "保護者": "保護者",
    "sibling": "きょうだい",
}
# pseudo source types in "no data" entries
NO_DATA_PSEUDO = {
    "school": ("school_attendance", "school_health"),
    "checklist_missing": ("school_checklist",),
    "checklist_blank": ("school_checklist",),
}


# --- persons, schools ------------------------------------------------------------------------------------------------
def get_person(s: Session, person_id: str) -> Person:
    p = s.get(Person, person_id)
    if p is None:
        raise NotFound(msg("こども {person_id} はありません。", person_id=person_id))
    return p


def refuse_opted_out(s: Session, person_ids: Iterable[str]) -> None:
    excluded = Q.opted_out(s)
    for pid in person_ids:
        if pid in excluded:
            raise InputRefused(f"{pid} は利用停止（不同意）の登録があるため、帳票に載せられません。")


def school_info(s: Session, person_ids: Iterable[str] | None = None) -> dict[str, dict]:
    """Each child's current school, grade and class (queries.current_schools) as dicts for the reports."""
    return {
        pid: {"school": c.school, "grade": c.grade, "class": c.class_name, "as_of": c.as_of}
        for pid, c in Q.current_schools(s, person_ids).items()
    }


def grade_text(info: dict | None) -> str:
    if not info:
        return ""
    g, c = str(info.get("grade") or ""), str(info.get("class") or "")
    out = ""
    if g:
        out += g if g.endswith("年") or not g.isdigit() else f"{g}年"
    if c:
        out += c if c.endswith("組") or not c.isdigit() else f"{c}組"
    return out


def latest_run(s: Session) -> ScoreRun | None:
    return s.scalar(select(ScoreRun).order_by(ScoreRun.id.desc()).limit(1))


def scores_in_run(s: Session, run: ScoreRun | None, person_ids: Iterable[str]) -> dict[str, ChildScore]:
    ids = list(person_ids)
    if run is None or not ids:
        return {}
    return {
        c.person_id: c
        for c in s.scalars(select(ChildScore).where(ChildScore.run_id == run.id, ChildScore.person_id.in_(ids)))
    }


# --- scores ---------------------------------------------------------------------------------------------------------------
class ScoreReader:
    """Normalises ChildScore rows (see the module docstring), with lookups shared across children."""

    def __init__(self, s: Session):
        self.s = s
        cat = scoring_catalogue()
        self.cat = catalogue()
        self.thresholds_default = cat.get("thresholds") or {}
        self.sibling_default = cat.get("sibling_points") or {}
        self.no_data_sources = dict(NO_DATA_SOURCES)
        for st, meta in (cat.get("sources") or {}).items():
            if isinstance(meta, dict) and meta.get("no_data_label"):
                self.no_data_sources[meta["no_data_label"]] = (st,)
        self._weights: dict[int, dict] = {}
        self.depts = departments(s)
        self.src_shown, self.ind_shown = sheet_visibility(s)
        self._batches: dict[int, SourceBatch | None] = {}
        self._records: dict[int, SourceRecord | None] = {}
        self._persons: dict[str, Person | None] = {}

    def batch(self, bid) -> SourceBatch | None:
        try:
            bid = int(bid)
        except (TypeError, ValueError):
            return None
        if bid not in self._batches:
            self._batches[bid] = self.s.get(SourceBatch, bid)
        return self._batches[bid]

    def record(self, rid) -> SourceRecord | None:
        try:
            rid = int(rid)
        except (TypeError, ValueError):
            return None
        if rid not in self._records:
            self._records[rid] = self.s.get(SourceRecord, rid)
        return self._records[rid]

    def person(self, pid) -> Person | None:
        if pid not in self._persons:
            self._persons[pid] = self.s.get(Person, pid)
        return self._persons[pid]

    # one reason ---------------------------------------------------------------------------------------------------
    def reason(self, r: Reason, child_id: str) -> dict:
        """One engine reason as the documents print it, with what it leaves out filled from the database: the
        record's source and date, the batch's file, the source's department, the catalogue's label."""
        ind = r.indicator
        cat = self.cat.get(ind, {})
        rec = self.record(r.record_id)
        st = r.source_type or (rec.source_type if rec else None) or cat.get("source_type") or None
        b = self.batch(r.batch_id if r.batch_id is not None else (rec.batch_id if rec else None))
        rdate = _date(r.record_date) or (rec.record_date if rec else None) or (b.as_of if b else None)
        label = r.label or cat.get("label_ja") or cat.get("label") or ind or "（項目名なし）"
        types = dict(r.points_by_type)
        points = r.points or (max(types.values()) if types else 0.0)
        subject = VIA_SUBJECT.get(r.whose or "本人", r.whose)
        if r.person_id and r.person_id != child_id:
            m = self.person(r.person_id)
            rel = r.relationship or (m.relationship if m else None)
            base = subject or "世帯員"
            subject = f"{base}（{rel}）" if rel else base
        # on a school's paper only what the reason, the indicator's and the source's legal basis all allow
        # (the table may have been tightened after the run)
        shown = (
            r.shown_on_sheets and self.ind_shown.get(ind) is not False and not (st and self.src_shown.get(st) is False)
        )
        protective = r.kind == "protective"
        return {
            "fact_kind": fact_kind(r),
            "implausible": False,  # an implausible record is never a reason (ScoreDetails.implausible)
            "pending": False,  # nor is a record waiting in the review queue (ScoreDetails.pending)
            "indicator": ind,
            "label": str(label),
            "points": points,
            "types": types,
            "source_type": st,
            "source_label": source_label(st) if st else r.source_label,
            "department": r.department or self.depts.get(st or "", ""),
            "record_date": rdate,
            "batch_id": b.id if b else r.batch_id,
            "file_name": r.file_name or (b.file_name if b else ""),
            "subject": subject,
            "shown_on_sheets": bool(shown),
            "protective": protective,
            "kind": r.kind,  # own | household | poverty_proxy | protective
            "basic": bool(r.basic or cat.get("basic")),
            "value": r.value or "",
        }

    # one score -------------------------------------------------------------------------------------------------------
    def score(self, cs: ChildScore | None, run: ScoreRun | None = None) -> dict | None:
        if cs is None:
            return None
        sd = ScoreDetails.from_dict(cs.details)  # typed (scoring/explain.py); also reads the first format
        reasons = [self.reason(r, cs.person_id) for r in sd.reasons]
        protective = [x for x in reasons if x["protective"]]
        reasons = [x for x in reasons if not x["protective"]]
        for r in sd.protective:
            pr = self.reason(r, cs.person_id)
            pr["protective"] = True
            protective.append(pr)
        sib = sd.sibling or {}  # the engine's {"points": 2.0, "types": ["虐待"], "from": ["P000124"]}
        has_sibling_reason = any("sibling" in r["indicator"] for r in reasons)
        if _num(sib.get("points")) and not has_sibling_reason:  # first-format details: no sibling reason
            pts = _num(sib["points"])
            sib_types = sib.get("types")
            per_type = (
                {t: pts for t in sib_types}
                if isinstance(sib_types, list) and sib_types
                else self.weights(run).get("sibling_points", self.sibling_default)
            )
            types = {t: _num(v) for t, v in (per_type or {}).items() if _num(v)} or {"（種別なし）": pts}
            reasons.append(
                {
                    "indicator": "sibling",
                    "label": "同じ世帯のきょうだいが抽出されている",
                    "points": pts,
                    "types": types,
                    "source_type": None,
                    "source_label": "スコア算出（世帯）",
                    "department": "",
                    "record_date": run.as_of if run else None,
                    "batch_id": None,
                    "file_name": "",
                    "subject": "世帯",
                    "fact_kind": "household",
                    "implausible": False,
                    "pending": False,
                    "shown_on_sheets": False,
                    "protective": False,
                    "basic": False,
                    "value": None,
                    "from": list(sib.get("from") or []),
                }
            )
        type_rows = self._types(sd, cs, reasons, run)
        no_data: list[dict] = []
        for x in sd.no_data:
            st = x.source_type or None
            label = x.label or f"{source_label(st)}データなし"
            sts = NO_DATA_PSEUDO.get(st or "") or self.no_data_sources.get(label) or ((st,) if st else ())
            no_data.append({"source_types": tuple(sts), "label": label, "detail": x.detail})
        hist = sd.history
        return {
            "run_id": cs.run_id,
            "as_of": run.as_of if run else None,
            "total": _num(cs.total),
            "band": cs.band or "",
            "flagged": bool(cs.flagged),
            "types_text": _types_text(cs.types) or "、".join(t["type"] for t in type_rows if t["flagged"]),
            "types": type_rows,
            "reasons": sorted(reasons, key=lambda r: -r["points"]),
            "protective": protective,
            "no_data": no_data,
            "basic_items": cs.basic_items or 0,
            "school_points": _num(cs.school_points),
            "yotaikyo": sd.yotaikyo_active,
            "age_band": sd.age_band,
            "status_label": sd.status_label,
            "new": bool(hist.get("newly_flagged") or sd.newly_flagged),
            "sharp_rise": bool(hist.get("sharp_rise")),
            "streak": int(_num(hist.get("flagged_runs_in_a_row") or hist.get("flagged_streak"))),
            "own_points": sd.own_points,
            "household_points": sd.household_points,
            "pending": sd.pending_lines,  # 「名寄せ確認待ち：要対協台帳 1件」 (no points)
            "implausible": [x.text for x in sd.implausible],  # never printed as fact
            "guard_off": dict(sd.guard_off),  # types where the proxy guard was switched off, with the reason
            "guard_capped": list(sd.guard_capped),
            "details": sd,
        }

    def weights(self, run: ScoreRun | None) -> dict:
        """The weight set the run used (its thresholds and sibling points), {} when unknown."""
        if run is None or not run.weight_set_id:
            return {}
        if run.weight_set_id not in self._weights:
            w = self.s.get(WeightSet, run.weight_set_id)
            self._weights[run.weight_set_id] = (w.data or {}) if w and isinstance(w.data, dict) else {}
        return self._weights[run.weight_set_id]

    def thresholds(self, run: ScoreRun | None, age_band: str) -> dict:
        table = self.weights(run).get("thresholds") or self.thresholds_default
        t = table.get(age_band) if isinstance(table, dict) else None
        return t if isinstance(t, dict) else {}

    def _types(self, sd: ScoreDetails, cs: ChildScore, reasons: list[dict], run: ScoreRun | None) -> list[dict]:
        flagged_types = set(_split_types(cs.types)) | {str(t) for t in sd.flagged_types if t}
        thr = self.thresholds(run, sd.age_band)
        out: dict[str, dict] = {}

        def add(k: str, points: float, threshold=None, band: str = "", flagged: bool = False, cuts=None):
            out[k] = {
                "type": k,
                "points": _num(points),
                "threshold": threshold,
                "band": band,
                "thresholds": cuts if cuts else thr,
                "flagged": flagged or k in flagged_types,
            }

        for k, v in sd.types.items():
            add(k, v.points, v.threshold, v.band, v.flagged, v.cuts)
        if not out:  # first-format details: the types summed from the reasons
            sums: dict[str, float] = defaultdict(float)
            for r in reasons:
                for t, p in (r["types"] or {"（種別なし）": r["points"]}).items():
                    sums[t] += p
            for t, p in sums.items():
                add(t, p)
        return sorted(out.values(), key=lambda t: (-t["points"], t["type"]))


def _split_types(text_: str | None) -> list[str]:
    raw = text_ or ""
    for sep in ("、", "・", ";", "；"):
        raw = raw.replace(sep, ",")
    return [t.strip() for t in raw.split(",") if t.strip()]


def _types_text(text_: str | None) -> str:
    return "、".join(_split_types(text_))


def _num(v) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return 0.0
    return f


def fmt_points(v) -> str:
    f = _num(v)
    return f"{f:g}"


def visible_reasons(score: dict | None, mask) -> list[dict]:
    if not score:
        return []
    return [r for r in score["reasons"] if mask.shows_source(r["source_type"])]


def reasons_by_type(reasons: list[dict]) -> list[tuple[str, float, list[tuple[dict, float]]]]:
    groups: dict[str, list[tuple[dict, float]]] = defaultdict(list)
    for r in reasons:
        for t, p in (r["types"] or {"（種別なし）": r["points"]}).items():
            groups[t].append((r, p))
    out = [(t, sum(p for _, p in rs), sorted(rs, key=lambda x: -x[1])) for t, rs in groups.items()]
    return sorted(out, key=lambda g: (-g[1], g[0]))


# --- records, freshness ---------------------------------------------------------------------------------------------
def linked_records(s: Session, person_ids: Iterable[str]) -> dict[str, list[dict]]:
    ids = list(person_ids)
    out: dict[str, list[dict]] = defaultdict(list)
    if not ids:
        return out
    q = text(
        "SELECT l.person_id, r.id, r.source_type, r.record_date, r.attributes, r.school, r.grade, r.class_name, "
        f"b.id, b.file_name, b.as_of FROM {Q.LINKED_FROM} WHERE {Q.LINKED_WHERE} "
        "AND l.person_id IN (" + ",".join(f":p{i}" for i in range(len(ids))) + ")"
    )
    for row in s.execute(q, {f"p{i}": pid for i, pid in enumerate(ids)}):
        attrs = row[4]
        if isinstance(attrs, str):
            try:
                attrs = json.loads(attrs)
            except ValueError:
                attrs = {}
        out[row[0]].append(
            {
                "record_id": row[1],
                "source_type": row[2],
                "date": _date(row[3]) or _date(row[10]),
                "attributes": attrs or {},
                "school": row[5],
                "grade": row[6],
                "class": row[7],
                "batch_id": row[8],
                "file_name": row[9],
                "as_of": _date(row[10]),
            }
        )
    for recs in out.values():
        recs.sort(key=lambda r: (r["date"] or dt.date.min, r["record_id"]), reverse=True)
    return out


_SKIP_ATTRS = {"round", "answers", "group_counts", "extra", "raw"}


def summarise_record(rec: dict, limit: int = 90) -> str:
    """The record's attributes in a line: 欠席日数 32・遅刻日数 5 (labels from the source type)."""
    labels = attribute_labels(rec["source_type"])
    parts = []
    attrs = rec.get("attributes") or {}
    if rec["source_type"] == "school_checklist":
        gc = attrs.get("group_counts") or {}
        hits = sum(v for v in gc.values() if isinstance(v, (int, float)))
        return f"観察チェックリスト（{attrs.get('round') or ''}）該当 {hits} 項目" if gc else "観察チェックリスト"
    for k, v in attrs.items():
        if k in _SKIP_ATTRS or v in (None, "", [], {}) or isinstance(v, (dict, list)):
            continue
        if isinstance(v, bool):
            v = "あり" if v else "なし"
        elif isinstance(v, str) and len(v) == 10 and v[4] == "-" and v[7] == "-":
            from .base import wareki  # lazy: loads reportlab, only needed here

            v = wareki(v, short=True)
        elif isinstance(v, float):
            v = f"{v:g}"
        parts.append(f"{labels.get(k, k)} {v}")
    text_ = "・".join(parts)
    return text_ if len(text_) <= limit else text_[: limit - 1] + "…"


def freshness(s: Session) -> list[dict]:
    """Each imported source: its newest extract (as-of date, file, imported at)."""
    rows = s.execute(select(SourceBatch).where(SourceBatch.removed_at.is_(None)).order_by(SourceBatch.id)).scalars()
    newest: dict[str, SourceBatch] = {}
    for b in rows:
        cur = newest.get(b.source_type)
        if cur is None or (b.as_of or dt.date.min, b.id) >= (cur.as_of or dt.date.min, cur.id):
            newest[b.source_type] = b

    order = {k: i for i, k in enumerate(SOURCE_TYPES)}
    depts = departments(s)
    return [
        {
            "source_type": st,
            "label": source_label(st),
            "department": depts.get(st, ""),
            "as_of": b.as_of,
            "file_name": b.file_name,
            "imported_at": b.imported_at,
        }
        for st, b in sorted(newest.items(), key=lambda kv: order.get(kv[0], 99))
    ]


def _source_counts(s: Session, person_ids: list[str]) -> dict[str, int]:
    if not person_ids:
        return {}
    q = text(
        f"SELECT r.source_type, count(*) FROM {Q.LINKED_FROM} WHERE {Q.LINKED_WHERE} "
        "AND r.source_type != 'resident_registry' AND l.person_id IN ("
        + ",".join(f":p{i}" for i in range(len(person_ids)))
        + ") GROUP BY r.source_type"
    )
    return dict(s.execute(q, {f"p{i}": pid for i, pid in enumerate(person_ids)}).all())


# --- household ------------------------------------------------------------------------------------------------------------
def household(s: Session, person: Person, on: dt.date, run: ScoreRun | None, reader: ScoreReader) -> list[dict]:
    """The other members of the child's household, children first marked as siblings, each with their flags."""
    if not person.household_id:
        return []
    members = [
        m for m in s.scalars(select(Person).where(Person.household_id == person.household_id)) if m.id != person.id
    ]
    ids = [m.id for m in members]
    scores = scores_in_run(s, run, ids)
    schools = school_info(s, ids)
    open_cases = set(
        s.scalars(select(SupportCase.person_id).where(SupportCase.person_id.in_(ids), SupportCase.closed_on.is_(None)))
    )
    out = []
    for m in members:
        age = age_on(m.birth_date, on)
        sibling = age is not None and age <= 18 and not _is_parent(m.relationship)
        sc = reader.score(scores.get(m.id), run)
        out.append(
            {
                "person_id": m.id,
                "name": m.name or "",
                "name_kana": m.name_kana or "",
                "relationship": m.relationship or "",
                "birth_date": m.birth_date,
                "age": age,
                "sex": sex_label(m.sex),
                "sibling": sibling,
                "school": schools.get(m.id),
                "score": sc,
                "support_open": m.id in open_cases,
            }
        )
    out.sort(key=lambda m: (not m["sibling"], m["birth_date"] or dt.date.max))
    return out


def _is_parent(rel: str | None) -> bool:
    if not rel:
        return False
    return any(k in rel for k in ("世帯主", "妻", "夫", "父", "母", "祖", "親"))


def flag_text(score: dict | None) -> str:
    if not score:
        return "スコアなし"
    bits = [f"{score['band'] or '-'}（{fmt_points(score['total'])}点）"]
    if score["flagged"]:
        bits.append("抽出")
    if score["types_text"]:
        bits.append(score["types_text"])
    if score["yotaikyo"]:
        bits.append("要対協登録")
    return "・".join(bits)


# --- checklists ---------------------------------------------------------------------------------------------------------
def checklist_result(s: Session, person_id: str) -> dict | None:
    e = s.scalar(
        select(ChecklistEntry)
        .where(ChecklistEntry.person_id == person_id, ChecklistEntry.superseded.is_(False))
        .order_by(ChecklistEntry.id.desc())
        .limit(1)
    )
    if e is None:
        return None
    r = s.get(ChecklistRound, e.round_id)
    definition = s.get(ChecklistDefinition, r.definition_id) if r else None
    d = definition.data if definition is not None else {}
    groups = {g["id"]: g for g in d.get("groups", [])}
    items_by_group: dict[str, list[dict]] = defaultdict(list)
    for it in d.get("items", []):
        items_by_group[it.get("group", "")].append(it)
    answers = e.answers or {}
    out_groups = []
    for gid, items in items_by_group.items():
        g = groups.get(gid, {})
        hits = [it.get("text_ja", it["id"]) for it in items if str(answers.get(it["id"])) == "1"]
        unknown = sum(1 for it in items if str(answers.get(it["id"])) == "0")
        answered = sum(1 for it in items if answers.get(it["id"]) not in (None, ""))
        out_groups.append(
            {
                "part": g.get("part", ""),
                "label": g.get("label_ja", gid),
                "items": len(items),
                "answered": answered,
                "hits": hits,
                "unknown": unknown,
            }
        )
    return {
        "title": d.get("title_ja", ""),
        "round": r.name if r else "",
        "entered_on": e.entered_on,
        "status": "提出済み" if e.status == "submitted" else "下書き",
        "school": e.school or "",
        "remark": e.remark or "",
        "groups": out_groups,
        "hits": sum(len(g["hits"]) for g in out_groups),
    }


# --- history, decisions, support ---------------------------------------------------------------------------------------------
def score_history(s: Session, person_id: str, limit: int = 8) -> list[dict]:
    rows = s.execute(
        select(ChildScore, ScoreRun, WeightSet)
        .join(ScoreRun, ScoreRun.id == ChildScore.run_id)
        .outerjoin(WeightSet, WeightSet.id == ScoreRun.weight_set_id)
        .where(ChildScore.person_id == person_id)
        .order_by(ScoreRun.id.desc())
        .limit(limit)
    ).all()
    out = []
    for cs, run, w in reversed(rows):
        out.append(
            {
                "run_id": run.id,
                "as_of": run.as_of,
                "weights": f"{w.name} 第{w.version}版" if w else "",
                "total": _num(cs.total),
                "band": cs.band or "",
                "flagged": bool(cs.flagged),
                "types": _types_text(cs.types),
            }
        )
    prev = None
    for h in out:
        h["change"] = (
            ""
            if prev is None
            else (
                "新たに抽出"
                if h["flagged"] and not prev["flagged"]
                else ("抽出外へ" if prev["flagged"] and not h["flagged"] else "")
            )
        )
        prev = h
    return out


def decisions(s: Session, person_id: str) -> dict:
    classes = []
    for c, r in s.execute(
        select(RoundCandidate, ReviewRound)
        .join(ReviewRound, ReviewRound.id == RoundCandidate.round_id)
        .where(RoundCandidate.person_id == person_id)
        .order_by(ReviewRound.id)
    ).all():
        labels = {l["key"]: l["label"] for l in (r.labels or DEFAULT_LABELS)}
        classes.append(
            {
                "round": r.name,
                "as_of": r.as_of,
                "classification": labels.get(c.classification or "", c.classification or "未分類"),
                "reason": c.reason or "",
                "decided_by": c.decided_by or "",
                "decided_at": c.decided_at,
                "status": "支援継続" if c.yotaikyo else "新規候補",
            }
        )
    confs = []
    for i, conf in s.execute(
        select(ConferenceItem, Conference)
        .join(Conference, Conference.id == ConferenceItem.conference_id)
        .where(ConferenceItem.person_id == person_id)
        .order_by(Conference.held_on, Conference.id)
    ).all():
        confs.append(
            {
                "conference_id": conf.id,
                "kind": conf.kind,
                "title": conf.title or "",
                "held_on": conf.held_on,
                "support_needed": i.support_needed or "",
                "direction": DIRECTIONS.get(i.direction or "", ""),
                "direction_key": i.direction or "",
                "lead_organisation": i.lead_organisation or "",
                "actions": i.actions or "",
                "next_review_on": i.next_review_on,
                "minutes": i.minutes or "",
                "roles": i.roles or [],
                "registration": i.registration or "",
                "category": i.category or "",
                "decided": i.decided_at is not None,
            }
        )
    return {"classifications": classes, "conferences": confs}


def support(s: Session, person_id: str, progress_limit: int = 12) -> dict:
    cases = [
        {
            "opened_on": c.opened_on,
            "plan": c.plan or "",
            "lead_organisation": c.lead_organisation or "",
            "next_action_on": c.next_action_on,
            "closed_on": c.closed_on,
            "close_reason": c.close_reason or "",
        }
        for c in s.scalars(select(SupportCase).where(SupportCase.person_id == person_id).order_by(SupportCase.id))
    ]
    progress = [
        {
            "on": p.on,
            "kind": p.kind,
            "who": p.who or "",
            "what": p.what or "",
            "outcome": p.outcome or "",
            "next_action_on": p.next_action_on,
        }
        for p in s.scalars(
            select(ProgressRecord)
            .where(ProgressRecord.person_id == person_id)
            .order_by(ProgressRecord.on.desc(), ProgressRecord.id.desc())
            .limit(progress_limit)
        )
    ]
    return {
        "cases": cases,
        "progress": progress,
        "open": next((c for c in reversed(cases) if not c["closed_on"]), None),
    }


# --- one child, everything -------------------------------------------------------------------------------------------------
def child_bundle(
    s: Session,
    person_id: str,
    *,
    on: dt.date | None = None,
    reader: ScoreReader | None = None,
    run: ScoreRun | None = None,
    records: list[dict] | None = None,
    fresh: list[dict] | None = None,
    with_checklist: bool = True,
) -> dict:
    on = on or dt.date.today()
    reader = reader or ScoreReader(s)
    p = get_person(s, person_id)
    run = run if run is not None else latest_run(s)
    score = reader.score(scores_in_run(s, run, [person_id]).get(person_id), run)
    recs = records if records is not None else linked_records(s, [person_id]).get(person_id, [])
    fresh = fresh if fresh is not None else freshness(s)
    members = household(s, p, on, run, reader)
    member_counts = _source_counts(s, [m["person_id"] for m in members])
    have = defaultdict(list)
    for r in recs:
        have[r["source_type"]].append(r)
    sources = []
    no_data_declared = {st for x in (score or {}).get("no_data", []) for st in x["source_types"]}
    for f in fresh:
        mine = have.get(f["source_type"], [])
        latest = max((r["date"] for r in mine if r["date"]), default=None)
        row = {
            **f,
            "records": len(mine),
            "latest_record": latest,
            "household_records": member_counts.get(f["source_type"], 0),
            "no_data": not mine and f["source_type"] in no_data_declared,
        }
        if mine:  # a source kept per school (or scope): the extract that holds this child
            newest = max(mine, key=lambda r: (r["as_of"] or dt.date.min, r["batch_id"]))
            row["as_of"], row["file_name"] = newest["as_of"], newest["file_name"]
        sources.append(row)
    for st in sorted(no_data_declared - {f["source_type"] for f in fresh}):
        sources.append(
            {
                "source_type": st,
                "label": source_label(st),
                "department": reader.depts.get(st, ""),
                "as_of": None,
                "file_name": "",
                "imported_at": None,
                "records": 0,
                "latest_record": None,
                "household_records": 0,
                "no_data": True,
            }
        )
    age = age_on(p.birth_date, on)
    implausible = implausible_records(recs, p.birth_date, on)
    if score:
        for r in score["reasons"] + score["protective"]:
            d = r["record_date"]
            if d and ((p.birth_date and d < p.birth_date) or d > on):
                r["implausible"] = True
    pend = pending_records(s, p.id)
    sd = (score or {}).get("details")
    if sd is not None:  # what the scoring run declared, when it says more than the queue does now
        known = {x["source_type"] for x in pend}
        pend += [
            {"source_type": x.source_type, "label": x.source_label or source_label(x.source_type), "count": x.count}
            for x in sd.pending
            if x.count and x.source_type not in known
        ]
        seen = {x["record_id"] for x in implausible}
        implausible += [
            {
                "record_id": x.record_id,
                "source_type": x.source_type,
                "label": x.source_label or source_label(x.source_type),
                "date": _date(x.record_date),
                "why": x.problem,
                "file_name": x.file_name,
                "batch_id": x.batch_id,
            }
            for x in sd.implausible
            if x.record_id is None or x.record_id not in seen
        ]
    rel = p.relationship or ""
    for m in members:  # brothers and sisters whatever their age: the same generation of the household
        m["same_generation"] = m["sibling"] or (rel in ("子", "孫") and m["relationship"] == rel)
    imported = {f["source_type"] for f in fresh}
    return {
        "not_imported": [st for st in SOURCE_TYPES if st not in imported],
        "yotaikyo": yotaikyo_status(recs, on),
        "pending": pend,
        "implausible": implausible,
        "person_id": p.id,
        "name": p.name or "",
        "name_kana": p.name_kana or "",
        "birth_date": p.birth_date,
        "age": age,
        "age_band": age_band(age),
        "sex": sex_label(p.sex),
        "address": p.address or "",
        "relationship": p.relationship or "",
        "resident_no": p.resident_no or "",
        "school": school_info(s, [p.id]).get(p.id),
        "household": members,
        "score": score,
        "run": {"id": run.id, "as_of": run.as_of} if run else None,
        "records": recs,
        "sources": sources,
        "checklist": checklist_result(s, p.id) if with_checklist else None,
        "history": score_history(s, p.id),
        "decisions": decisions(s, p.id),
        "support": support(s, p.id),
    }


# --- 要対協, pending, implausible ------------------------------------------------------------------------------------------
YOTAIKYO_CATEGORY = {
    "身体的虐待": "要保護児童",
    "ネグレクト": "要保護児童",
    "心理的虐待": "要保護児童",
    "性的虐待": "要保護児童",
    "要保護": "要保護児童",
    "要支援": "要支援児童",
    "特定妊婦": "特定妊婦",
}


def yotaikyo_status(records: list[dict], on: dt.date) -> dict | None:
    """The child's 要対協 registration from the newest ledger row: category (要保護児童／要支援児童／特定妊婦), the
    ledger's 種別, registered and closed dates; closed by 終結日 as well as by the status column."""
    rows = [r for r in records if r["source_type"] == "yotaikyo"]
    if not rows:
        return None
    r = max(rows, key=lambda x: (x["date"] or dt.date.min, x["record_id"]))
    a = r.get("attributes") or {}
    closed_on = _date(a.get("closed_date"))
    closed = str(a.get("status") or "") == "終結" or (closed_on is not None and closed_on <= on)
    detail = str(a.get("category") or "")
    return {
        "category": YOTAIKYO_CATEGORY.get(detail, detail),
        "detail": detail if YOTAIKYO_CATEGORY.get(detail, detail) != detail else "",
        "registered_on": _date(a.get("registered_date")) or r["date"],
        "closed_on": closed_on,
        "open": not closed,
        "temporary_protection": bool(a.get("temporary_protection")),
        "file_name": r["file_name"],
        "batch_id": r["batch_id"],
    }


def pending_records(s: Session, person_id: str) -> list[dict]:
    """Records waiting in the 名寄せ review queue whose best candidate is this child, per source (no points)."""
    rows = s.execute(
        text(
            "SELECT r.source_type, count(*) FROM link l JOIN source_record r ON r.id = l.record_id "
            "JOIN source_batch b ON b.id = r.batch_id WHERE l.status = 'review' AND l.person_id = :p "
            "AND b.removed_at IS NULL GROUP BY r.source_type ORDER BY r.source_type"
        ),
        {"p": person_id},
    ).all()
    return [{"source_type": st, "label": source_label(st), "count": n} for st, n in rows]


def implausible_records(records: list[dict], birth: dt.date | None, on: dt.date) -> list[dict]:
    """Linked records dated before the child's birth or after today: never printed as fact, marked 要確認."""
    out = []
    for r in records:
        d = r["date"]
        if r["source_type"] == "resident_registry" or d is None:
            continue
        if (birth and d < birth) or d > on:
            out.append(
                {
                    "record_id": r["record_id"],
                    "source_type": r["source_type"],
                    "label": source_label(r["source_type"]),
                    "date": d,
                    "why": "生年月日より前の日付" if birth and d < birth else "未来の日付",
                    "file_name": r["file_name"],
                    "batch_id": r["batch_id"],
                }
            )
    return out
