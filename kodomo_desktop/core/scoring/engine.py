"""Scoring computation: bands and reasons, never a probability.

Three steps, so that a weight change re-runs only the cheap one:

1. ``prepare(ScoringInput, catalogue)`` — the frames, built once: children aged 0–18 on the as-of date (age, age
   band, school year, school), who-reads-whose pairs (the child, its parents, its household), and the linked
   records (de-duplicated, attributes extracted into columns).
2. ``compute_hits(prepared, windows)`` — every indicator's rule evaluated vectorised over the records in its
   look-back window: a hits matrix (children × indicators) with the evidence record of each hit. Cached per
   (indicator, window), so changing a window recomputes one column.
3. ``apply_weights(prepared, hits, model)`` — hits (C × K) · points (K × T) = points per difficulty type; total;
   band per type from the age band's cut points; sibling rule; 要対協 rule; optional top-N / top-%; basic-item
   count; school-held split. Pure numpy.

``explain(prepared, hits, scores, i)`` builds one child's ``ChildScore.details``.

**Superseded extracts.** A newer extract of a source supersedes the older one, but the older one's records stay
history: they are read within each indicator's look-back window. The same event must not count twice, so records
are de-duplicated on (person, source type, the source's ``dedupe`` fields — e.g. 母子保健: record date, kind,
check-up type, vaccine; 住民税: fiscal year; 出欠: period; チェックリスト: round), keeping the newest extract's row.
When none of a source's dedupe fields but ``record_date`` is listed and all are empty, the record date is used.
Extracts dated after the as-of date are not read (no look into the future); nor are records dated after it.
Snapshot sources (出欠 is cumulative) are read with ``max``/``latest`` aggregates, never ``sum``.

**ChildScore.details** is ``explain.ScoreDetails.to_dict()`` — readers use ``ScoreDetails.from_dict`` (typed; it also
reads the first format). Version 2 adds ``own_points`` / ``household_points`` (total = own + household; each
reason's ``kind``: own | household | poverty_proxy | protective), ``band_level``, per type ``own_points`` /
``household_points`` / ``top_threshold`` / ``guard_capped``, ``guard_capped`` / ``guard_off`` (the proxy guard),
``pending`` (名寄せ review) and ``implausible`` (records never scored), ``yotaikyo_mode``. The first format::

    {"version": 1, "as_of": "2026-10-01", "weight_set_id": 3, "weight_set_version": 3,
     "age": 8, "age_band": "小学生", "grade": 3, "school": "第一小学校",
     "total": 11.0, "school_points": 3.0, "other_points": 8.0,          # 喬木村: 11 = 3 + 8
     "band": "高", "band_color": "#c62828",
     "types": {"虐待": {"points": 7.0, "band": "高", "threshold": 5.0, "cuts": {"高": 7.0, "中": 5.0},
                       "flagged": true}, ...},                            # types with points or a flag
     "flagged_types": ["虐待"], "flagged": true,
     "flag_basis": ["threshold"],                                        # threshold | rank | basic_items
     "basic_items": 3, "basic_item_nos": [1, 12, 13],
     "reasons": [                                                        # largest first
        {"indicator": "absence_30", "label": "欠席日数30日以上", "label_en": "...", "kind": "risk",
         "points": 6.0, "points_by_type": {"不登校": 6.0, "虐待": 1.0, "ヤングケアラー": 1.0},
         "basic": true, "basic_no": 12, "school_held": true, "shown_on_sheets": true,
         "source_type": "school_attendance", "source_label": "出欠・遅刻・保健室", "department": "教育委員会・学校",
         "record_id": 812, "record_date": "2026-10-01", "batch_id": 7, "file_name": "出欠状況_第一小学校.xlsx",
         "batch_as_of": "2026-10-01", "person_id": "P000123", "whose": "本人", "relationship": "子",
         "value": "欠席日数 35", "window_months": 12},
        {"indicator": "sibling_flagged", "label": "きょうだいに抽出あり（虐待）", "points": 2.0,
         "points_by_type": {"虐待": 2.0}, "siblings": ["P000124"], "source_type": "resident_registry", ...}],
     "protective": [ same shape as a reason, points 0 or negative ],
     "no_data": [{"source_type": "school", "label": "学校データなし", "detail": "..."},
                 {"source_type": "school_checklist", "label": "チェックリスト未回収", "detail": "2026年度1学期"}],
     "sibling": {"points": 2.0, "types": ["虐待"], "from": ["P000124"]} | null,
     "yotaikyo_active": false, "status_label": "" | "支援継続", "new_candidate": true,
     "rank": {"position": 12, "of": 700, "group": "小学生", "group_position": 5, "group_size": 300},
     "newly_flagged": true,                                              # filled by the service (history)
     "history": {"previous_run_id": 4, "previous_total": 4.0, "rise": 7.0, "newly_flagged": true,
                 "sharp_rise": true, "flagged_streak": 1, "flagged_runs_in_a_row": 1}}

"no data" is never "no risk": a school-age child without school records, an infant without check-up records, a
household without a tax record, a school that has not returned the current checklist round, or a source never
imported are listed in ``no_data`` and never score as zero risk by silence.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd

from ..importing.fields import SOURCE_TYPES
from . import explain as X
from . import rules as R
from .catalogue import WHOSE_LABELS
from .weights import WeightModel

YOTAIKYO_INDICATOR = "yotaikyo_active"
SCHOOL_SOURCES = ("school_attendance", "school_health")
NO_DATA_LABELS = {
    "school": "学校データなし",
    "checklist_missing": "チェックリスト未回収",
    "checklist_blank": "チェックリスト未記入",
    "imported": "{label}：未取込",
}
HEAD_SPOUSE = {"世帯主", "妻", "夫", "本人"}


@dataclass
class ScoringInput:
    """What the service reads from the database (or a benchmark generates).

    persons: person_id, household_id, birth_date, sex, name, relationship — residents, opted-out persons removed.
    records: record_id, person_id, source_type, record_date, batch_id, batch_as_of, file_name, attributes (dict) —
             linked records (auto/confirmed) of batches not removed, expired data (retention) removed.
    schools: person_id, school, grade — each child's latest school record (school_checklist excluded).
    checklist_rounds: open checklist rounds [{round_id, name, schools: [..] | None, grades: [..] | None}];
    checklist_returned: {(school, round_id)} returned (submitted or re-imported) so far.
    imported_sources: source types with at least one batch (None: those present in ``records``).
    departments: source type → the department that holds it (Japanese).
    pending: person_id, source_type, record_id — records waiting in the 名寄せ review queue with that person as the
             best candidate (shown on the child's score, never scored).
    """

    as_of: dt.date
    persons: pd.DataFrame
    records: pd.DataFrame
    schools: pd.DataFrame | None = None
    checklist_rounds: list = field(default_factory=list)
    checklist_returned: set = field(default_factory=set)
    imported_sources: set | None = None
    departments: dict = field(default_factory=dict)
    pending: pd.DataFrame | None = None
    linked: pd.DataFrame | None = None  # person_id, record_id of every linked record read (the inputs' fingerprint)


#: attribute fields the engine itself reads, whatever the catalogue says (checklist rounds, the preview's groups)
ENGINE_FIELDS = {"school_checklist": {"round_id"}, "resident_registry": {"nationality"}}


def _rule_fields(rule) -> set[str]:
    """Every attribute field a rule (or a part of one) can read: ``field``, ``by``, ``group_count`` → group_counts.
    A superset of ``rules.validate_rule`` that never raises (take-up-gap readers are not validated there)."""
    out: set[str] = set()
    if isinstance(rule, dict):
        if isinstance(rule.get("field"), str):
            out.add(rule["field"])
        if isinstance(rule.get("by"), list):
            out |= {b for b in rule["by"] if isinstance(b, str)}
        if "group_count" in rule:
            out.add("group_counts")
        for v in rule.values():
            if isinstance(v, (dict, list)):
                out |= _rule_fields(v)
    elif isinstance(rule, list):
        for v in rule:
            out |= _rule_fields(v)
    return out


def needed_fields(*cats: dict) -> dict[str, set[str]]:
    """Source type → the attribute fields scoring with these catalogues reads (issue 21: a 和泉市 file carries
    hundreds of item columns; the engine names a few). Indicators' rules and date fields (a two-source indicator's
    ``absent`` part too), take-up-gap rules,
    each source's ``dedupe`` and ``closed_by`` fields, and :data:`ENGINE_FIELDS`. The engine reads attributes only
    through ``.get(field)``, so a record holding just these fields scores exactly as the whole record does
    (tests/core/test_scoring_fields.py compares the two on a generated town)."""
    need: dict[str, set[str]] = {st: set(f) for st, f in ENGINE_FIELDS.items()}

    def add(st, fields):
        if isinstance(st, str):
            need.setdefault(st, set()).update(f for f in fields if isinstance(f, str))

    for cat in cats:
        for ind in cat.get("indicators") or []:
            # the indicator, and the second source of a two-source one (``absent``: in A, not in B)
            for part in (ind, ind.get("absent")):
                if not isinstance(part, dict):
                    continue
                f = _rule_fields(part.get("rule")) | set(part.get("_fields") or ())
                if part.get("date_field") not in (None, "record_date", "as_of"):
                    f.add(part["date_field"])
                add(part.get("source_type"), f)
        for g in cat.get("takeup_gaps") or []:
            for part in ("present", "absent"):
                p = g.get(part) or {}
                f = _rule_fields(p.get("rule"))
                if p.get("date_field") not in (None, "record_date", "as_of"):
                    f.add(p["date_field"])
                add(p.get("source_type"), f)
        for st, meta in (cat.get("sources") or {}).items():
            meta = meta or {}
            add(st, [f for f in meta.get("dedupe") or () if f != "record_date"])
            cb = meta.get("closed_by") or {}
            add(st, [cb.get("date_field"), cb.get("status_field")])
    return need


IMPLAUSIBLE_BEFORE_BIRTH = "生年月日より前の日付"
IMPLAUSIBLE_FUTURE = "抽出日より後の日付"
PRENATAL_SLACK_DAYS = {"maternal_child_health": 300, "yotaikyo": 300}  # 特定妊婦・妊娠届 may precede the birth


def months_before(on: dt.date, months: int) -> dt.date:
    y, m = divmod(on.year * 12 + on.month - 1 - months, 12)

    return dt.date(y, m + 1, min(on.day, calendar.monthrange(y, m + 1)[1]))


def _dates(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s, errors="coerce").astype("datetime64[ns]")


def ages_on(birth: pd.Series, on: dt.date) -> tuple[np.ndarray, np.ndarray]:
    """(age in years, 学年 1–12 or 0) on ``on`` (school year April 2 – April 1)."""
    b = _dates(birth)
    y, m, d = b.dt.year.to_numpy(float), b.dt.month.to_numpy(float), b.dt.day.to_numpy(float)
    before = (m > on.month) | ((m == on.month) & (d > on.day))
    age = on.year - y - before.astype(float)
    fy = on.year if on.month >= 4 else on.year - 1
    sy = np.where((m > 4) | ((m == 4) & (d >= 2)), y, y - 1)
    grade = fy - sy - 6  # born Apr 2 (sy) – Apr 1: first grade in April of sy + 7
    grade = np.where((grade >= 1) & (grade <= 12), grade, 0)
    return age, np.nan_to_num(grade).astype(int)


# --- prepared frames --------------------------------------------------------------------------------------------------
@dataclass
class Prepared:
    as_of: dt.date
    cat: dict
    children: pd.DataFrame  # one row per child, positional index 0..C-1
    R: pd.DataFrame  # records (deduplicated), positional index 0..N-1
    by_source: dict  # source type -> sub-frame of R
    pairs: dict  # whose -> DataFrame(child, person_id)
    persons: pd.DataFrame  # person_id -> household_id, age, relationship, parent_like
    departments: dict
    imported_sources: set
    hh_code: np.ndarray  # C: household code (children without a household get their own)
    has_source: dict  # source type -> C bool (own record within 15 months)
    checklist_state: list  # C: None | ("missing", round name) | ("blank", round name)
    registry_ev: np.ndarray  # C: the child's newest registry record (row of R) or -1
    hh_has_tax: np.ndarray  # C bool
    implausible: pd.DataFrame | None = None  # records never scored: dated before the person's birth / after the extract
    pending: dict = field(default_factory=dict)  # child person_id -> {source_type: [record ids]} (名寄せ review)
    inp: ScoringInput | None = field(default=None, repr=False, compare=False)  # what it was prepared from
    basis: tuple | None = field(default=None, repr=False, compare=False)  # (repr of _frame_basis, fields extracted)
    _hit_cache: dict = field(default_factory=dict, repr=False)
    _date_cache: dict = field(default_factory=dict, repr=False)

    @property
    def C(self) -> int:
        return len(self.children)


def _dedupe(recs: pd.DataFrame, cat: dict) -> pd.DataFrame:
    """The newest extract's row of each (person, source type, the source's ``dedupe`` fields) — in the order a
    ``groupby("source_type", sort=False)`` of the sorted records gives (each source's kept rows, sources in order of
    first appearance). A key of Python values per record: the frame per source it replaced (a key frame, a
    ``duplicated``, a concat) cost more than the records."""
    if not len(recs):
        return recs
    order = recs.sort_values(["batch_as_of", "batch_id", "record_id"], na_position="first")
    st_code, sts = pd.factorize(order["source_type"])  # -1: no source type (groupby drops those rows)
    pids = [p if p == p else None for p in order["person_id"].to_numpy(object)]  # NaN keys are equal, as there
    dates = order["record_date"].to_numpy("datetime64[ns]").view(np.int64).tolist()  # NaT: one value
    attrs = order["attributes"].tolist()
    last: dict[tuple, int] = {}
    key: tuple
    for st_i, st in enumerate(sts):
        fields = (cat["sources"].get(st) or {}).get("dedupe") or ["record_date"]
        attr_fields = [f for f in fields if f != "record_date"]
        with_date = "record_date" in fields
        for n in np.flatnonzero(st_code == st_i).tolist():
            a = attrs[n] or {}
            vals = tuple(_key_val(a.get(f)) for f in attr_fields)
            if with_date:
                key = (st_i, pids[n], dates[n], vals)
            elif attr_fields and not any(vals):  # none of the fields: the record date stands in
                key = (st_i, pids[n], None, vals, dates[n])
            else:
                key = (st_i, pids[n], None, vals, None)
            last[key] = n
    if not last:
        return recs
    kept = np.fromiter(last.values(), dtype=np.int64, count=len(last))
    kept = kept[np.lexsort((kept, st_code[kept]))]  # by source (first appearance), then the sorted order
    return order.iloc[kept]


def _isin(s: pd.Series, values) -> pd.Series:
    """``s.isin(values)``, the values hashed once: pandas' isin on an arrow string column makes a pyarrow scalar of
    every value first (about 3 µs each: a town's residents, for each of its records' checks)."""
    keys = pd.Index(pd.unique(np.asarray(values, dtype=object)), dtype=object)
    return pd.Series(keys.get_indexer(s.to_numpy(object)) >= 0, index=s.index)


def _key_val(v) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    return str(v)


def _people(persons_in: pd.DataFrame, cat: dict, on: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(persons with age, grade and parent_like; children aged 0–18 on ``on`` with their age band), in the
    persons' order."""
    on64 = np.datetime64(on, "ns")
    persons = persons_in.copy()
    for c in ("person_id", "household_id", "birth_date", "sex", "name", "relationship"):
        if c not in persons.columns:
            persons[c] = None
    persons["birth_date"] = _dates(persons["birth_date"])
    age, grade = ages_on(persons["birth_date"], on)
    persons["age"] = age
    persons["grade"] = grade
    rel = persons["relationship"].fillna("").astype(str)
    childlike = rel.str.contains("子|孫|男|女", regex=True) & ~rel.isin(HEAD_SPOUSE)
    persons["parent_like"] = (
        rel.isin(HEAD_SPOUSE) | ((persons["age"] >= 18) & ~(childlike & (persons["age"] <= 18)))
    ) & persons["birth_date"].notna()
    is_child = (
        persons["birth_date"].notna() & (persons["birth_date"] <= on64) & (persons["age"] >= 0) & (persons["age"] <= 18)
    )
    children = persons[is_child].copy().reset_index(drop=True)
    bands = cat["age_bands"]
    children["age_band_idx"] = -1
    for a, b in enumerate(bands):
        children.loc[children["age"].between(b["min"], b["max"]), "age_band_idx"] = a
    children["age_band"] = [bands[a]["label"] if a >= 0 else "対象外" for a in children["age_band_idx"]]
    children["age"] = children["age"].astype(int)
    return persons, children


def _household_codes(children: pd.DataFrame) -> np.ndarray:
    """C: a code per household (a child without a household gets its own)."""
    hh = (
        children["household_id"]
        .astype(object)
        .where(children["household_id"].notna(), "self:" + children["person_id"].astype(str))
    )
    return pd.factorize(hh)[0]


def rank_frame(persons: pd.DataFrame, cat: dict, on: dt.date) -> Prepared:
    """What :func:`apply_weights` reads of every child — ages, age bands, households — without a record: the
    incremental run ranks everyone with the hits it kept and the ones it recomputed (``service.run_scoring``)."""
    persons, children = _people(persons, cat, on)
    children["school"] = ""
    C = len(children)
    empty = pd.DataFrame(columns=["pos", "person_id", "source_type"])
    return Prepared(
        on,
        cat,
        children,
        empty,
        {},
        {},
        persons.set_index("person_id", drop=False),
        {},
        set(),
        _household_codes(children),
        {},
        [None] * C,
        np.full(C, -1, dtype=np.int64),
        np.zeros(C, dtype=bool),
    )


def _extract_fields(cat: dict) -> dict[str, set]:
    """Source type → the attribute fields :func:`prepare` extracts into ``a:<field>`` columns."""
    need: dict[str, set] = {}
    for ind in cat["indicators"]:
        f = set(ind.get("_fields", ()))
        if ind.get("date_field") not in (None, "record_date", "as_of"):
            f.add(ind["date_field"])
        need.setdefault(ind["source_type"], set()).update(f)
        ab = ind.get("absent")
        if isinstance(ab, dict):  # a two-source indicator: the second source's fields too
            fa = set(ab.get("_fields", ()))
            if ab.get("date_field") not in (None, "record_date", "as_of"):
                fa.add(ab["date_field"])
            need.setdefault(ab["source_type"], set()).update(fa)
    for g in cat.get("takeup_gaps") or []:  # the take-up prompts read fields no scored indicator may read
        for part in (g.get("present"), g.get("absent")) if isinstance(g, dict) else ():
            if not isinstance(part, dict) or not part.get("source_type"):
                continue
            try:
                fg = R.validate_rule(part.get("rule") or {"exists": True})
            except R.RuleError:
                continue
            if part.get("date_field") not in (None, "record_date", "as_of"):
                fg.add(part["date_field"])
            need.setdefault(part["source_type"], set()).update(fg)
    return need


def _by_source(recs: pd.DataFrame, need: dict[str, set]) -> dict[str, pd.DataFrame]:
    by_source = {}
    for st, g in recs.groupby("source_type", sort=False):
        by_source[st] = _with_fields(g, need.get(st, ()))
    return by_source


def _with_fields(g: pd.DataFrame, fields) -> pd.DataFrame:
    """A source's records with the attribute columns ``a:<field>`` of ``fields`` (and no other). The columns are
    built as one frame and put beside the records (a column set at a time on a copy cost twice as much; each list
    gets the dtype it got then: the same constructor)."""
    base = [c for c in g.columns if not c.startswith("a:")]
    if len(base) < len(g.columns):
        g = g[base]
    attrs = g["attributes"].tolist()
    cols = {"a:" + f: [a.get(f) if isinstance(a, dict) else None for a in attrs] for f in sorted(fields)}
    if not cols:
        return g.copy()
    return pd.concat([g, pd.DataFrame(cols, index=g.index)], axis=1)


def _frame_basis(cat: dict) -> tuple:
    """What of a catalogue :func:`prepare`'s frames depend on, beside the fields extracted: the age bands, each
    source's de-duplication and closing rule."""
    return (
        cat["age_bands"],
        {st: (meta.get("dedupe") or ["record_date"], meta.get("closed_by")) for st, meta in cat["sources"].items()},
    )


def _prepare_like(like: Prepared, cat: dict, basis: tuple) -> Prepared:
    """:func:`prepare` of ``like``'s input with ``cat``, when ``cat``'s frame basis is ``like``'s: the frames are
    shared (nothing changes a Prepared's frames), a source's records re-extracted when ``cat`` reads other fields;
    the caches start empty (an indicator id may have another rule in ``cat``)."""
    assert like.basis is not None
    need, had = basis[1], like.basis[1]
    by_source = {
        st: g if need.get(st, set()) == had.get(st, set()) else _with_fields(g, need.get(st, ()))
        for st, g in like.by_source.items()
    }
    prep = Prepared(
        like.as_of,
        cat,
        like.children,
        like.R,
        by_source,
        like.pairs,
        like.persons,
        dict(like.departments),
        set(like.imported_sources),
        like.hh_code,
        like.has_source,
        like.checklist_state,
        like.registry_ev,
        like.hh_has_tax,
    )
    prep.implausible, prep.pending, prep.inp, prep.basis = like.implausible, like.pending, like.inp, basis
    return prep


def prepare(inp: ScoringInput, cat: dict, *, like: Prepared | None = None) -> Prepared:
    """The frames of ``inp`` for ``cat``. ``like``: a Prepared of the same input object, unchanged since, for
    another catalogue (a catalogue preview scores the data with the adopted and the proposed one): its frames are
    reused when the two catalogues' :func:`_frame_basis` is the same."""
    basis = (repr(_frame_basis(cat)), _extract_fields(cat))
    if like is not None and like.inp is inp and like.as_of == inp.as_of and like.basis and like.basis[0] == basis[0]:
        return _prepare_like(like, cat, basis)
    on = inp.as_of
    on64 = np.datetime64(on, "ns")
    persons, children = _people(inp.persons, cat, on)
    # each child's school (latest school record)
    if inp.schools is not None and len(inp.schools):
        sch = inp.schools.drop_duplicates("person_id", keep="last").set_index("person_id")
        children["school"] = children["person_id"].map(sch["school"]).fillna("").astype(str)
        children["school_grade"] = children["person_id"].map(sch["grade"]) if "grade" in sch else None
    else:
        children["school"] = ""
        children["school_grade"] = None
    # households
    hh_code = _household_codes(children)
    persons_hh = persons[persons["household_id"].notna()]
    kids_per_hh = (
        persons_hh[persons_hh["age"].between(0, 18) & (persons_hh["birth_date"] <= on64)].groupby("household_id").size()
    )
    children["household_children"] = children["household_id"].map(kids_per_hh).fillna(1).astype(int)
    # who reads whose records
    cidx = pd.DataFrame(
        {
            "child": np.arange(len(children)),
            "child_pid": children["person_id"].to_numpy(),
            "household_id": children["household_id"].to_numpy(),
        }
    )
    # ``pref``: which evidence a reason names when several records qualify (the child's own, then a parent's)
    own = pd.DataFrame({"child": cidx["child"], "person_id": cidx["child_pid"], "pref": 2})
    mem = persons_hh[["person_id", "household_id", "parent_like"]]
    hhp = cidx.dropna(subset=["household_id"]).merge(mem, on="household_id")
    others = hhp[hhp["person_id"] != hhp["child_pid"]].assign(pref=lambda d: d["parent_like"].astype(int))
    cols = ["child", "person_id", "pref"]
    pairs = {
        "child": own,
        "household": pd.concat([own, others[cols]], ignore_index=True).drop_duplicates(["child", "person_id"]),
        "parent": others[others["parent_like"]][cols].reset_index(drop=True),
        "other": others[cols].reset_index(drop=True),
    }
    # records: as of the date, de-duplicated, attributes extracted
    recs = inp.records.copy()
    if not len(recs):
        recs = pd.DataFrame(
            columns=[
                "record_id",
                "person_id",
                "source_type",
                "record_date",
                "batch_id",
                "batch_as_of",
                "file_name",
                "attributes",
            ]
        )
    recs["record_date"] = _dates(recs["record_date"])
    recs["batch_as_of"] = _dates(recs["batch_as_of"])
    recs["record_date"] = recs["record_date"].fillna(recs["batch_as_of"])
    recs = recs[_isin(recs["person_id"], persons["person_id"])]
    recs = recs[recs["batch_as_of"].isna() | (recs["batch_as_of"] <= on64)]
    recs, implausible = _split_implausible(recs, persons)
    recs = recs[recs["record_date"].isna() | (recs["record_date"] <= on64)]
    recs = _apply_closure(recs, cat, on)
    recs = _dedupe(recs, cat)
    recs = recs.reset_index(drop=True)
    recs["pos"] = np.arange(len(recs))
    by_source = _by_source(recs, basis[1])
    imported = set(inp.imported_sources) if inp.imported_sources is not None else set(recs["source_type"].unique())
    # no-data facts
    recent = recs[recs["batch_as_of"].isna() | (recs["batch_as_of"] > np.datetime64(months_before(on, 15), "ns"))]
    has_source = {  # vectorised: a Python set per person took 6 s at 30,000 residents
        st: _isin(children["person_id"], recent.loc[recent["source_type"] == st, "person_id"]).to_numpy(dtype=bool)
        for st in ("school_attendance", "school_health", "maternal_child_health", "school_checklist")
    }
    tax = recent[recent["source_type"] == "tax"]
    tax_hh = set(persons.loc[_isin(persons["person_id"], tax["person_id"]), "household_id"].dropna())
    tax_self = set(tax["person_id"])
    hh_has_tax = np.array(
        [(h in tax_hh) or (p in tax_self) for h, p in zip(children["household_id"], children["person_id"])], dtype=bool
    )
    reg = recs[recs["source_type"] == "resident_registry"].sort_values(["batch_as_of", "batch_id", "pos"])
    last_reg = reg.groupby("person_id")["pos"].last()
    registry_ev = children["person_id"].map(last_reg).fillna(-1).astype(int).to_numpy()
    checklist_state = _checklist_state(children, recs, inp)
    pending: dict = {}
    if inp.pending is not None and len(inp.pending):
        kids = set(children["person_id"])
        for pid, st, rid in zip(inp.pending["person_id"], inp.pending["source_type"], inp.pending["record_id"]):
            if pid in kids:
                pending.setdefault(pid, {}).setdefault(st, []).append(int(rid))
    prep = Prepared(
        on,
        cat,
        children,
        recs,
        by_source,
        pairs,
        persons.set_index("person_id", drop=False),
        dict(inp.departments),
        imported,
        hh_code,
        has_source,
        checklist_state,
        registry_ev,
        hh_has_tax,
    )
    prep.implausible = implausible
    prep.pending = pending
    prep.inp, prep.basis = inp, basis
    return prep


def _split_implausible(recs: pd.DataFrame, persons: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(plausible records, implausible ones with ``problem``): a record dated before its person's birth (a prenatal
    source may precede it by ``PRENATAL_SLACK_DAYS``) or after its own extract's date cannot be a fact."""
    if not len(recs):
        return recs, recs.assign(problem=pd.Series(dtype=object))
    birth = recs["person_id"].map(persons.drop_duplicates("person_id").set_index("person_id")["birth_date"])
    slack = pd.to_timedelta(recs["source_type"].map(PRENATAL_SLACK_DAYS).fillna(0), unit="D")
    before = birth.notna() & recs["record_date"].notna() & (recs["record_date"] < birth - slack)
    future = recs["batch_as_of"].notna() & recs["record_date"].notna() & (recs["record_date"] > recs["batch_as_of"])
    bad = (before | future).to_numpy()
    out = recs[bad].copy()
    out["problem"] = np.where(before[bad].to_numpy(), IMPLAUSIBLE_BEFORE_BIRTH, IMPLAUSIBLE_FUTURE)
    return recs[~bad], out


def _apply_closure(recs: pd.DataFrame, cat: dict, on: dt.date) -> pd.DataFrame:
    """A source whose catalogue entry has ``closed_by`` (要対協: 終結日) reads a record with a closing date on or
    before the as-of date as closed, whatever its status column says (a ledger often leaves 状況 blank)."""
    for st, meta in cat["sources"].items():
        cb = meta.get("closed_by")
        if not cb or not len(recs):
            continue
        sel = (recs["source_type"] == st).to_numpy()
        if not sel.any():
            continue
        on_s = on.isoformat()
        new_attrs = []
        changed = False
        for a in recs.loc[sel, "attributes"]:
            a = a if isinstance(a, dict) else {}
            d = _iso_text(a.get(cb["date_field"]))
            if d and d <= on_s and a.get(cb["status_field"]) != cb["closed_value"]:
                a = {**a, cb["status_field"]: cb["closed_value"], "_closed_by_date": True}
                changed = True
            new_attrs.append(a)
        if changed:
            recs = recs.copy()
            recs.loc[sel, "attributes"] = pd.Series(new_attrs, index=recs.index[sel], dtype=object)
    return recs


def _iso_text(v) -> str | None:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    t = pd.to_datetime(str(v), errors="coerce")
    return None if pd.isna(t) else str(t.date())


def _checklist_state(children: pd.DataFrame, recs: pd.DataFrame, inp: ScoringInput) -> list[tuple[str, str] | None]:
    out: list[tuple[str, str] | None] = [None] * len(children)
    if not inp.checklist_rounds:
        return out
    cl = recs[recs["source_type"] == "school_checklist"]
    got = {(p, (a or {}).get("round_id")) for p, a in zip(cl["person_id"], cl["attributes"])}
    for n, (pid, school, grade) in enumerate(zip(children["person_id"], children["school"], children["school_grade"])):
        if not school:
            continue
        for r in inp.checklist_rounds:
            if r.get("schools") and school not in r["schools"]:
                continue
            if r.get("grades") and (grade is None or str(grade) not in {str(g) for g in r["grades"]}):
                continue
            if (school, r["round_id"]) not in inp.checklist_returned:
                out[n] = ("missing", r.get("name") or "")
            elif (pid, r["round_id"]) not in got:
                out[n] = ("blank", r.get("name") or "")
            break
    return out


# --- hits ---------------------------------------------------------------------------------------------------------------
@dataclass
class Hits:
    ind_ids: list[str]
    H: np.ndarray  # C × K bool
    E: np.ndarray  # C × K int: evidence row of Prepared.R (-1: none)
    V: list  # K arrays of C display values (or None)


def _event_dates(prep: Prepared, st: str, recs: pd.DataFrame, date_field: str | None) -> pd.Series:
    if date_field in (None, "record_date"):
        return recs["record_date"]
    if date_field == "as_of":
        return recs["batch_as_of"].fillna(recs["record_date"])
    key = (st, date_field)
    if key not in prep._date_cache:
        prep._date_cache[key] = _dates(R.column(recs, date_field)).fillna(recs["record_date"])
    return prep._date_cache[key]


#: the order "newest" means (a later extract, then a later batch, a later record date; pos breaks ties)
LATEST_ORDER = ("batch_as_of", "batch_id", "record_date", "pos")


# Each indicator used to be a few dozen pandas calls on frames of a few hundred rows (a merge with the pairs, sorts,
# drop_duplicates): at a town's size the calls' overhead was the cost. The arrays below are built once per
# Prepared and source type (or whose), and the indicators join, order and pick in numpy; what they pick is what the
# frame calls picked (every order ends on ``pos``, unique per record, so the chosen row is the same whatever the sort
# algorithm), and the aggregates that are not exact in any order (sum, max, min) still run in pandas on the rows in
# the order the merge gave them.
def _memo(prep: Prepared, key, make):
    if key not in prep._date_cache:
        prep._date_cache[key] = make()
    return prep._date_cache[key]


def _person_codes(prep: Prepared) -> pd.Index:
    """Every person a child reads (the pairs' person ids), as one index: a person's code is its position."""

    def make():
        ids = [p["person_id"].to_numpy(object) for p in prep.pairs.values()]
        return pd.Index(pd.unique(np.concatenate(ids))) if ids else pd.Index([], dtype=object)

    return _memo(prep, "_person_codes", make)


def _src(prep: Prepared, st: str, recs: pd.DataFrame) -> dict:
    """One source type's records as arrays: ``pos``, the person's code (-1: read by no child) and ``newest`` (the
    rank of each record in :data:`LATEST_ORDER`)."""

    def make():
        # what sort_values(LATEST_ORDER) gives: each column ascending, missing last (pos is unique: no ties)
        keys = [_sort_key(recs[c].to_numpy()) for c in LATEST_ORDER]
        order = np.lexsort(keys[::-1])
        newest = np.empty(len(recs), dtype=np.int64)
        newest[order] = np.arange(len(recs))
        return {
            "pos": recs["pos"].to_numpy(np.int64),
            "person": _person_codes(prep).get_indexer(recs["person_id"]),
            "newest": newest,
        }

    return _memo(prep, ("_src", st), make)


def _pair_index(prep: Prepared, whose: str) -> tuple:
    """The pairs of ``whose`` grouped by person (in their order within a person): (first index, count) per person
    code, and each pair's child and pref in that grouping."""

    def make():
        pairs = prep.pairs[whose]
        n = len(_person_codes(prep))
        code = _person_codes(prep).get_indexer(pairs["person_id"])
        order = np.argsort(code, kind="stable")
        counts = np.bincount(code, minlength=n)
        starts = np.cumsum(counts) - counts
        return starts, counts, pairs["child"].to_numpy(np.int64)[order], pairs["pref"].to_numpy(np.int64)[order]

    return _memo(prep, ("_pairs", whose), make)


def _join(prep: Prepared, src: dict, whose: str, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``frame.merge(pairs, on="person_id")`` for the records at ``rows`` (positions in the source's frame):
    (row, child, pref) per pair, in the merge's order (the records' order, then the pairs')."""
    starts, counts, child, pref = _pair_index(prep, whose)
    code = src["person"][rows]
    known = code >= 0
    rows, code = rows[known], code[known]
    n = counts[code]
    first = np.repeat(starts[code], n)
    at = first + (np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n))
    return np.repeat(rows, n), child[at], pref[at]


def _last_per(group: np.ndarray, *keys: np.ndarray) -> np.ndarray:
    """Indices of the rows ranked last within each ``group`` value by ``keys`` (the first key first): what
    ``sort_values([*keys]).drop_duplicates(group, keep="last")`` keeps when the keys are unique within a group."""
    if not len(group):
        return np.zeros(0, dtype=np.int64)
    o = np.lexsort((*keys[::-1], group))
    g = group[o]
    return o[np.r_[g[1:] != g[:-1], True]]


def _sort_key(x: np.ndarray) -> np.ndarray:
    """An array that sorts as ``sort_values`` sorts ``x`` (missing last)."""
    if x.dtype.kind == "M":
        return np.where(np.isnat(x), np.iinfo(np.int64).max, x.view(np.int64))
    if x.dtype.kind in "biu":
        return x
    return _codes(x)


def _codes(x: np.ndarray) -> np.ndarray:
    """Integer codes in ``x``'s sort order (equal values equal codes; missing last)."""
    codes, _ = pd.factorize(x, sort=True)
    return np.where(codes < 0, codes.max(initial=-1) + 1, codes)


def _column_array(prep: Prepared, st: str, recs: pd.DataFrame, field_: str, as_object: bool = False) -> np.ndarray:
    """A field's values (``Series.to_numpy()``, or ``to_numpy(object)``: Python scalars, Timestamps)."""
    return _memo(
        prep,
        ("_col", st, field_, as_object),
        lambda: R.column(recs, field_).to_numpy(object) if as_object else R.column(recs, field_).to_numpy(),
    )


def _date_array(prep: Prepared, st: str, recs: pd.DataFrame, date_field: str | None) -> np.ndarray:
    return _memo(
        prep,
        ("_dates", st, date_field),
        lambda: _event_dates(prep, st, recs, date_field).to_numpy("datetime64[ns]"),
    )


def _in_window(prep: Prepared, st: str, recs: pd.DataFrame, date_field: str | None, window: int | None):
    def make():
        d = _date_array(prep, st, recs, date_field)
        inwin = ~np.isnat(d) & (d <= np.datetime64(prep.as_of, "ns"))
        if window:
            inwin &= d > np.datetime64(months_before(prep.as_of, window), "ns")
        return inwin

    return _memo(prep, ("_inwin", st, date_field, window), make)


def _by_codes(prep: Prepared, st: str, recs: pd.DataFrame, b: str) -> np.ndarray:
    return _memo(prep, ("_by", st, b), lambda: pd.factorize(R.column(recs, b).map(_key_val).to_numpy())[0])


def evaluate_indicator(prep: Prepared, ind: dict, window: int | None):
    """(hit: C bool, evidence: C int, value: C object) for one indicator and window. A two-source indicator
    (``absent``: present in A and absent in B within a window) hits where its own rule hits and the second
    source's does not — only once both sources have been imported (no data is never a finding); its evidence is
    the record of A, its value says what was not found (「就学援助の記録なし」)."""
    ab = ind.get("absent")
    if not isinstance(ab, dict):
        return _evaluate_one(prep, ind, window)
    hit, ev, val = _evaluate_one(prep, ind, window)
    if ab["source_type"] not in prep.imported_sources or ind["source_type"] not in prep.imported_sources:
        return np.zeros(prep.C, dtype=bool), np.full(prep.C, -1, dtype=np.int64), np.full(prep.C, None, dtype=object)
    reader = {
        "id": f"{ind['id']}:absent",
        "source_type": ab["source_type"],
        "whose": ab.get("whose", "child"),
        "rule": ab.get("rule") or {"exists": True},
        "date_field": ab.get("date_field", "record_date"),
        "applies_to_ages": None,
    }
    hb = _evaluate_one(prep, reader, ab.get("window_months"))[0]
    hit = hit & ~hb
    ev = np.where(hit, ev, -1)
    w = ab.get("window_months")
    missing = f"{_source_label(prep, ab['source_type'])}の記録なし" + (f"（{w}か月以内）" if w else "")
    val = np.array([("・".join(x for x in (v, missing) if x) if h else None) for h, v in zip(hit, val)], dtype=object)
    return hit, ev, val


def _evaluate_one(prep: Prepared, ind: dict, window: int | None):
    C = prep.C
    hit = np.zeros(C, dtype=bool)
    ev = np.full(C, -1, dtype=np.int64)
    val = np.full(C, None, dtype=object)
    rule = ind["rule"]
    if "computed" in rule:
        counts = prep.children["household_children"]
        hit = R.compare(counts, rule["op"], rule.get("value")).to_numpy()
        ev = np.where(hit, prep.registry_ev, -1)
        # numpy's stubs do not take None (an object scalar) as where()'s fill value
        val = np.where(hit, counts.map(lambda n: f"18歳以下 {n}人").to_numpy(object), None)  # type: ignore[assignment]
        return _ages(prep, ind, hit, ev, val)
    st = ind["source_type"]
    recs = prep.by_source.get(st)
    if recs is None or not len(recs) or not C:
        return hit, ev, val
    date_field = ind.get("date_field")
    inwin = _in_window(prep, st, recs, date_field, window)
    d = _date_array(prep, st, recs, date_field).view(np.int64)
    src = _src(prep, st, recs)
    pos = src["pos"]
    agg = rule.get("aggregate")
    if agg is None:
        rows = np.flatnonzero(np.asarray(R.condition(rule, recs), dtype=bool) & inwin)
        if not len(rows):
            return hit, ev, val
        r, ch, pref = _join(prep, src, ind["whose"], rows)
        pick = _last_per(ch, pref, d[r], pos[r])
        c = ch[pick]
        hit[c], ev[c] = True, pos[r[pick]]
        f = R.fields_in(rule)
        if f:  # the record frames keep R's positional index, so a position is also a label
            vals = _column_array(prep, st, recs, f[0], as_object=True)
            val[c] = [_fmt(ind, f[0], x) for x in vals[r[pick]]]
        return _ages(prep, ind, hit, ev, val)
    base_mask = inwin
    if "where" in rule:
        base_mask = base_mask & np.asarray(R.condition(rule["where"], recs), dtype=bool)
    rows = np.flatnonzero(base_mask)
    if not len(rows):  # no records is "no data", never a finding (even for "count < n")
        return hit, ev, val
    v = np.zeros(len(rows))  # count reads no value
    if agg in ("max", "min", "sum"):
        # on the records in the window, as before: to_numeric's dtype depends on the values it is given
        v = pd.to_numeric(R.rule_value(rule, recs).iloc[rows], errors="coerce").to_numpy()
    elif agg in ("latest", "all_latest"):
        v = (
            R.rule_value(rule, recs).to_numpy()[rows]
            if "group_count" in rule
            else _column_array(prep, st, recs, rule["field"])[rows]
        )
    by = rule.get("by") or []
    r, ch, pref = _join(prep, src, ind["whose"], rows)
    if not len(r):
        return hit, ev, val
    vj = v[np.searchsorted(rows, r)]  # the value of each joined row
    if agg in ("max", "min", "sum", "count"):
        if agg == "count":
            uc, n = np.unique(ch, return_counts=True)
            a = pd.Series(n, index=uc)
        else:
            g = pd.Series(vj).groupby(ch)
            a = g.sum(min_count=1) if agg == "sum" else (g.max() if agg == "max" else g.min())
        ok = R.compare(a.astype(float), rule["op"], rule.get("value"))
        good = a[ok.to_numpy()]
        if not len(good):
            return hit, ev, val
        sel = np.isin(ch, good.index.to_numpy())
        if agg in ("max", "min"):
            sel &= ~pd.isna(vj)
            s = np.flatnonzero(sel)
            vc = _codes(vj[s])
            pick = s[_last_per(ch[s], vc if agg == "max" else -vc, pref[s], d[r[s]], pos[r[s]])]
        else:
            s = np.flatnonzero(sel)
            pick = s[_last_per(ch[s], pref[s], d[r[s]], pos[r[s]])]
        c = ch[pick]
        hit[c], ev[c] = True, pos[r[pick]]
        field_ = rule.get("field") or ("group_counts" if "group_count" in rule else None)
        val[good.index.to_numpy()] = [_fmt(ind, field_, x, agg=agg) for x in good.to_numpy()]
        return _ages(prep, ind, hit, ev, val)
    # latest / all_latest: the newest record per (child, person, ``by`` values)
    newest = src["newest"][r]
    keys = [src["person"][r]] + [_by_codes(prep, st, recs, b)[r] for b in by]
    o = np.lexsort((newest, *keys[::-1], ch))
    same = np.ones(len(o) - 1, dtype=bool)
    for k in [ch, *keys]:
        same &= k[o][1:] == k[o][:-1]
    lat = o[np.r_[~same, True]]
    ok = R.compare(pd.Series(vj[lat]), rule["op"], rule.get("value")).to_numpy()
    if agg == "all_latest":
        bad = np.unique(ch[lat][~ok])
        ok = ok & ~np.isin(ch[lat], bad)
    sat = lat[ok]
    if not len(sat):
        return hit, ev, val
    pick = sat[_last_per(ch[sat], pref[sat], newest[sat])]
    c = ch[pick]
    hit[c], ev[c] = True, pos[r[pick]]
    field_ = rule.get("field") or ("group_counts" if "group_count" in rule else None)
    val[c] = [_fmt(ind, field_, x) for x in vj[pick]]
    return _ages(prep, ind, hit, ev, val)


def _ages(prep, ind, hit, ev, val):
    ages = ind.get("applies_to_ages")
    if ages:
        a = _memo(prep, "_ages", lambda: prep.children["age"].to_numpy())
        ok = (a >= ages[0]) & (a <= ages[1])
        hit = hit & ok
        ev = np.where(ok, ev, -1)
        val = np.where(ok, val, None)
    return hit, ev, val


def _fmt(ind: dict, field_: str | None, x, agg: str | None = None) -> str | None:
    if field_ is None:
        return None

    labels = SOURCE_TYPES.get(ind["source_type"], {}).get("attributes", {})
    label = labels.get(field_, {}).get("label", field_) if isinstance(labels, dict) else field_
    if field_ == "group_counts":
        label = "該当の数"
    if agg == "count":
        label = "件数"
    if isinstance(x, bool) or x is True or x is False:
        x = "あり" if x else "なし"
    elif isinstance(x, float):
        if np.isnan(x):
            return None
        x = f"{x:g}"
    elif x is None:
        return None
    label = label.split("（")[0]
    return f"{label} {x}"


def compute_hits(prep: Prepared, windows: dict | None = None) -> Hits:
    """Every catalogue indicator's hits (cached per indicator and window)."""
    inds = prep.cat["indicators"]
    K, C = len(inds), prep.C
    H = np.zeros((C, K), dtype=bool)
    E = np.full((C, K), -1, dtype=np.int64)
    V = []
    for k, ind in enumerate(inds):
        w = (windows or {}).get(ind["id"], ind["window_months"])
        key = (ind["id"], w)
        if key not in prep._hit_cache:
            prep._hit_cache[key] = evaluate_indicator(prep, ind, w)
        h, e, v = prep._hit_cache[key]
        H[:, k], E[:, k] = h, e
        V.append(v)
    return Hits([i["id"] for i in inds], H, E, V)


# --- weights ------------------------------------------------------------------------------------------------------------
@dataclass
class Scores:
    model: WeightModel
    type_points: np.ndarray  # C × T
    total: np.ndarray  # C
    own_points: np.ndarray  # C: from the child's own records (kinds own, protective)
    household_points: np.ndarray  # C: household circumstances, poverty proxies, the sibling rule (total − own)
    own_type_points: np.ndarray  # C × T
    guard_capped: np.ndarray  # C × T: held below the top band by the proxy guard
    school_points: np.ndarray  # C
    level: np.ndarray  # C × T band level per type (0 = lowest band)
    band_level: np.ndarray  # C overall level (the highest of the types)
    flagged_types: np.ndarray  # C × T crossed the flag band
    flag_first: np.ndarray  # C × T crossed it on the child's own records (what gives siblings points)
    flagged: np.ndarray  # C
    flag_threshold: np.ndarray  # C
    flag_rank: np.ndarray  # C
    flag_basic: np.ndarray  # C
    basic_count: np.ndarray  # C
    basic_hits: np.ndarray  # C × 19 bool (basic item numbers met)
    sibling_types: np.ndarray  # C × T types that received sibling points
    yotaikyo_active: np.ndarray
    new_candidate: np.ndarray
    Hr: np.ndarray  # C × K effective hits (enabled, what-if applied)
    factors: np.ndarray | None  # C × T what-if support factors (None: 1)
    rank_position: np.ndarray
    group_position: np.ndarray
    group_size: np.ndarray
    group_labels: np.ndarray
    rank_cutoffs: dict
    of: int | None = None  # children ranked (None: this frame's); :meth:`take` keeps the whole run's count

    def take(self, idx: np.ndarray) -> Scores:
        """The rows ``idx`` of every per-child array (the ranks stay the whole run's): an incremental run explains
        the children it recomputed with the scores of everyone."""
        C = len(self.total)
        kw = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, np.ndarray) and v.ndim >= 1 and v.shape[0] == C:
                v = v[idx]
            kw[f.name] = v
        kw["of"] = self.of if self.of is not None else C
        return Scores(**kw)

    def contribution(self, i: int, k: int) -> tuple[float, dict]:
        """(points in the total, points by type) of indicator k for child i."""
        m = self.model
        row = m.P[k] * (self.factors[i] if self.factors is not None else 1.0)
        pos, neg = row.max(initial=0.0), row.min(initial=0.0)
        return float(pos if pos > 0 else neg), {t: round(float(p), 2) for t, p in zip(m.types, row) if p}


def apply_weights(
    prep: Prepared,
    hits: Hits,
    model: WeightModel,
    *,
    disabled: np.ndarray | None = None,
    factors: np.ndarray | None = None,
    rank_cutoffs: dict | None = None,
) -> Scores:
    """Vectorised: effective hits (C×K) · points (K×T); bands, flags, sibling/要対協/rank rules.

    ``disabled`` (C × K bool) switches indicators off per child and ``factors`` (C × T) scales a type's points
    (what-if: a support started); ``rank_cutoffs`` ({group: lowest total in the top}) stands in for the ranking
    when only one household is scored (what-if).
    """
    C, T = prep.C, len(model.types)
    Hr = hits.H & model.enabled[None, :]
    if disabled is not None:
        Hr = Hr & ~disabled
    Hf = Hr.astype(float)
    P = model.P
    own_k = model.own.astype(float)
    if factors is not None:
        Pc = P[None, :, :] * factors[:, None, :]  # C × K × T
        type_points = np.einsum("ck,ckt->ct", Hf, Pc)
        own_type = np.einsum("ck,ckt->ct", Hf * own_k[None, :], Pc)
        own_risk_type = np.einsum("ck,ckt->ct", Hf * model.own_risk[None, :], np.maximum(Pc, 0))
        pos, neg = Pc.max(axis=2, initial=0.0), Pc.min(axis=2, initial=0.0)
        contrib = np.where(pos > 0, pos, neg)  # C × K
        own_total = (Hf * contrib * own_k[None, :]).sum(axis=1)
        total = (Hf * contrib).sum(axis=1)
        school_points = (Hf * contrib * (model.school_held & model.risk)[None, :]).sum(axis=1)
    else:
        type_points = Hf @ P
        own_type = Hf @ (P * own_k[:, None])
        own_risk_type = Hf @ (np.maximum(P, 0) * model.own_risk[:, None])
        own_total = Hf @ (model.contrib * own_k)
        total = Hf @ model.contrib
        school_points = Hf @ (model.contrib * (model.school_held & model.risk))
    # basic items: distinct numbers met (several indicators may read one item, e.g. No.1 要対協)
    nos = model.basic_no
    nb = max(19, int(nos.max()) if len(nos) else 0)
    B = np.zeros((len(nos), nb))
    for k, n in enumerate(nos):
        if n > 0 and model.risk[k]:
            B[k, n - 1] = 1.0
    basic_hits = (Hf @ B) > 0
    basic_count = basic_hits.sum(axis=1)
    ab = prep.children["age_band_idx"].to_numpy()
    cuts = model.cuts[np.clip(ab, 0, None)] if len(model.cuts) else np.full((C, T, model.L), np.inf)
    cuts = np.where((ab < 0)[:, None, None], np.inf, cuts)
    # the proxy guard: a type reaches the top band only with an own-record reason that has points in it
    guarded = model.guard[None, :] & ~(own_risk_type > 0) if T else np.zeros((C, T), dtype=bool)

    def levels(tp):
        lv = ((tp[:, :, None] >= cuts) & (tp[:, :, None] > 0)).sum(axis=2)
        return np.where(guarded & (lv >= model.L), model.L - 1, lv)

    def raw_levels(tp):
        return ((tp[:, :, None] >= cuts) & (tp[:, :, None] > 0)).sum(axis=2)

    # the sibling rule reads what a sibling's OWN records say: a household fact is counted once per child
    flag_first = levels(own_type) >= model.flag_level
    sib_types = np.zeros((C, T), dtype=bool)
    sib_cfg = model.data.get("sibling") or {}
    if sib_cfg.get("enabled") and sib_cfg.get("points") and C:
        f0 = flag_first.astype(int)
        S = np.zeros((int(prep.hh_code.max()) + 1, T), dtype=int)
        np.add.at(S, prep.hh_code, f0)
        other = (S[prep.hh_code] - f0) > 0  # another child of the household flagged on its own records
        if sib_cfg.get("types", "same") == "same":
            sib_types = other
        else:
            mask = np.array([t in sib_cfg["types"] for t in model.types])
            sib_types = other.any(axis=1)[:, None] & mask[None, :]
        sp = float(sib_cfg["points"])
        type_points = type_points + sp * sib_types
        total = total + sp * sib_types.any(axis=1)
    level = levels(type_points)
    guard_capped = (raw_levels(type_points) >= model.L) & (level < model.L) if T else np.zeros((C, T), dtype=bool)
    household_total = total - own_total
    flagged_types = level >= model.flag_level
    band_level = level.max(axis=1) if T else np.zeros(C, dtype=int)
    flag_threshold = flagged_types.any(axis=1)
    kyt = hits.ind_ids.index(YOTAIKYO_INDICATOR) if YOTAIKYO_INDICATOR in hits.ind_ids else None
    yt_active = hits.H[:, kyt].copy() if kyt is not None else np.zeros(C, dtype=bool)
    mode = (model.data.get("yotaikyo") or {}).get("mode", "continue")
    # optional rank rule: top-N / top-% per group (つくば市 10% per age, 延岡市 2%). The 要対協 rule comes first:
    # ``exclude`` takes ledger children out of the ranking, ``lower`` ranks them after every other child.
    rk = model.data.get("rank") or {}
    groups = _rank_groups(prep, rk.get("per", "age_band"))
    eligible = ~yt_active if mode == "exclude" else np.ones(C, dtype=bool)
    key = np.where(eligible, total, -np.inf)
    if mode == "lower":
        key = np.where(yt_active, total - 1e6, total)
    if C:
        df = pd.DataFrame({"key": key, "g": groups, "el": eligible})
        group_position = df.groupby("g")["key"].rank(method="min", ascending=False).to_numpy()
        group_size = df[df["el"]].groupby("g")["key"].size().reindex(groups).fillna(0).to_numpy()
        rank_position = df["key"].rank(method="min", ascending=False).to_numpy()
    else:
        group_position = group_size = rank_position = np.zeros(0)
    flag_rank = np.zeros(C, dtype=bool)
    cutoffs: dict = {}
    if rk.get("mode", "none") != "none" and C and rk.get("by_type") and T:
        # per difficulty type (延岡市: the top 2 % of each type): each type's points ranked within the group
        limit = (
            np.ceil(group_size * float(rk["value"]) / 100.0)
            if rk["mode"] == "top_percent"
            else np.full(C, float(rk["value"]))
        )
        for ti, tname in enumerate(model.types):
            tp = type_points[:, ti]
            if rank_cutoffs is not None:
                cut = np.array([rank_cutoffs.get(f"{g}|{tname}", np.inf) for g in groups])
                sel = (tp >= cut) & (tp > 0) & eligible
            else:
                tkey = np.where(eligible, tp, -np.inf)
                if mode == "lower":
                    tkey = np.where(yt_active, tp - 1e6, tp)
                pos = pd.DataFrame({"key": tkey, "g": groups}).groupby("g")["key"].rank(method="min", ascending=False)
                sel = (pos.to_numpy() <= limit) & (tp > 0) & eligible
            flag_rank |= sel
            for g in np.unique(groups):
                chosen = sel & (groups == g)
                if chosen.any():
                    cutoffs[f"{g}|{tname}"] = float(tp[chosen].min())
    elif rk.get("mode", "none") != "none" and C:
        if rank_cutoffs is not None:
            cut = np.array([rank_cutoffs.get(str(g), np.inf) for g in groups])
            flag_rank = (total >= cut) & (total > 0) & eligible
        else:
            limit = (
                np.ceil(group_size * float(rk["value"]) / 100.0)
                if rk["mode"] == "top_percent"
                else np.full(C, float(rk["value"]))
            )
            flag_rank = (group_position <= limit) & (total > 0) & eligible
        for g in np.unique(groups):
            sel = flag_rank & (groups == g)
            if sel.any():
                cutoffs[str(g)] = float(total[sel].min())
    bi = model.data.get("basic_items_rule") or {}
    flag_basic = (basic_count >= int(bi.get("min", 99))) if bi.get("enabled") else np.zeros(C, dtype=bool)
    flagged = flag_threshold | flag_rank | flag_basic
    if mode == "exclude":  # already supported: off the list altogether
        flagged = flagged & ~yt_active
        new_candidate = flagged.copy()
    elif mode == "continue":  # shown as 支援継続, kept off the new-flag list
        new_candidate = flagged & ~yt_active
    else:  # lower | none: candidates like any other (lower: ranked after the others)
        new_candidate = flagged.copy()
    return Scores(
        model,
        type_points,
        total,
        own_total,
        household_total,
        own_type,
        guard_capped,
        school_points,
        level,
        band_level,
        flagged_types,
        flag_first,
        flagged,
        flag_threshold,
        flag_rank,
        flag_basic,
        basic_count,
        basic_hits,
        sib_types,
        yt_active,
        new_candidate,
        Hr,
        factors,
        rank_position,
        group_position,
        group_size,
        groups,
        cutoffs,
    )


def _rank_groups(prep: Prepared, per: str) -> np.ndarray:
    if per == "age":
        return prep.children["age"].astype(str).to_numpy()
    if per == "all":
        return np.full(prep.C, "全体", dtype=object)
    return prep.children["age_band"].to_numpy()


# --- the convenient whole ------------------------------------------------------------------------------------------------
def score(inp: ScoringInput, cat: dict, model: WeightModel) -> tuple[Prepared, Hits, Scores]:
    prep = prepare(inp, cat)
    hits = compute_hits(prep, model.windows)
    return prep, hits, apply_weights(prep, hits, model)


def summary_frame(prep: Prepared, sc: Scores) -> pd.DataFrame:
    """One row per child (no reasons): what lists, previews and the CSV need."""
    m = sc.model
    types = np.array(m.types, dtype=object)
    return pd.DataFrame(
        {
            "person_id": prep.children["person_id"].to_numpy(),
            "name": prep.children["name"].to_numpy(),
            "birth_date": prep.children["birth_date"].dt.date.to_numpy(),
            "household_id": prep.children["household_id"].to_numpy(),
            "age": prep.children["age"].to_numpy(),
            "age_band": prep.children["age_band"].to_numpy(),
            "school": prep.children["school"].to_numpy(),
            "total": sc.total,
            "band": [m.level_label(l) for l in sc.band_level],
            "types": ["、".join(types[row]) for row in sc.flagged_types] if len(types) else [""] * prep.C,
            "flagged": sc.flagged,
            "new_candidate": sc.new_candidate,
            "yotaikyo_active": sc.yotaikyo_active,
            "basic_items": sc.basic_count,
            "school_points": sc.school_points,
        }
    )


# --- explanation ------------------------------------------------------------------------------------------------------
def _iso(v) -> str | None:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT:
        return None
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return str(pd.Timestamp(v).date())


def _child(prep: Prepared, i: int) -> dict:
    if "_children" not in prep._date_cache:
        prep._date_cache["_children"] = prep.children.to_dict("records")
    return prep._date_cache["_children"][i]


def _person(prep: Prepared, pid: str) -> dict | None:
    if "_persons" not in prep._date_cache:
        P = prep.persons
        prep._date_cache["_persons"] = {
            p: {"relationship": r, "parent_like": bool(pl), "age": a}
            for p, r, pl, a in zip(P["person_id"], P["relationship"], P["parent_like"], P["age"])
        }
    return prep._date_cache["_persons"].get(pid)


def _rec_arrays(prep: Prepared) -> dict:
    if "_arrays" not in prep._date_cache:
        R_ = prep.R
        prep._date_cache["_arrays"] = {
            "record_id": R_["record_id"].to_numpy(object),
            "batch_id": R_["batch_id"].to_numpy(object),
            "file_name": R_["file_name"].to_numpy(object),
            "person_id": R_["person_id"].to_numpy(object),
            "source_type": R_["source_type"].to_numpy(object),
            "record_date": _iso_array(R_["record_date"]),
            "batch_as_of": _iso_array(R_["batch_as_of"]),
        }
    return prep._date_cache["_arrays"]


def _iso_array(s: pd.Series) -> np.ndarray:
    """``_iso`` of every value, computed once per distinct value (a town's records share a few dozen dates)."""
    codes, uniq = pd.factorize(s)  # missing: -1, the last entry
    return np.array([_iso(v) for v in uniq] + [None], dtype=object)[codes]


def _rec_info(prep: Prepared, pos: int) -> dict:
    if pos is None or pos < 0:
        return {
            "record_id": None,
            "record_date": None,
            "batch_id": None,
            "file_name": "",
            "batch_as_of": None,
            "person_id": None,
            "source_type": None,
        }
    a = _rec_arrays(prep)
    rid, bid = a["record_id"][pos], a["batch_id"][pos]
    return {
        "record_id": int(rid) if rid is not None and rid == rid else None,
        "record_date": a["record_date"][pos],
        "batch_id": int(bid) if bid is not None and bid == bid else None,
        "file_name": a["file_name"][pos] or "",
        "batch_as_of": a["batch_as_of"][pos],
        "person_id": a["person_id"][pos],
        "source_type": a["source_type"][pos],
    }


def _whose(prep: Prepared, child_pid: str, pid: str | None) -> tuple[str, str | None]:
    if pid is None or pid == child_pid:
        return WHOSE_LABELS["child"], None
    p = _person(prep, pid)
    if p is None:
        return WHOSE_LABELS["other"], None
    rel = p["relationship"] if isinstance(p["relationship"], str) else None
    if bool(p["parent_like"]):
        return WHOSE_LABELS["parent"], rel
    age = p["age"]
    if age == age and 0 <= age <= 18:
        return "きょうだい", rel
    return WHOSE_LABELS["other"], rel


def _source_label(prep: Prepared, st: str | None) -> str:
    if not st:
        return ""
    meta = prep.cat["sources"].get(st) or {}
    if meta.get("label_ja"):
        return meta["label_ja"]

    return SOURCE_TYPES.get(st, {}).get("label", st)


def reason(prep: Prepared, hits: Hits, sc: Scores, i: int, k: int) -> dict:
    return reason_of(prep, hits, sc, i, k).to_dict()


def reason_of(prep: Prepared, hits: Hits, sc: Scores, i: int, k: int) -> X.Reason:
    ind = prep.cat["indicators"][k]
    points, by_type = sc.contribution(i, k)
    info = _rec_info(prep, int(hits.E[i, k]))
    child_pid = _child(prep, i)["person_id"]
    whose, rel = _whose(prep, child_pid, info["person_id"])
    st = info["source_type"] or ind["source_type"]
    return X.Reason(
        indicator=ind["id"],
        label=ind["label_ja"],
        label_en=ind.get("label_en"),
        kind=ind["kind"],
        points=round(points, 2),
        points_by_type=by_type,
        basic=bool(ind["basic"]),
        basic_no=ind.get("basic_no"),
        school_held=bool(ind["school_held"]),
        shown_on_sheets=bool(ind.get("shown_on_sheets", True)),
        source_type=st,
        source_label=_source_label(prep, st),
        department=prep.departments.get(st, ""),
        record_id=info["record_id"],
        record_date=info["record_date"] or prep.as_of.isoformat(),
        batch_id=info["batch_id"],
        file_name=info["file_name"],
        batch_as_of=info["batch_as_of"],
        person_id=info["person_id"] or child_pid,
        whose=whose,
        relationship=rel,
        value=hits.V[k][i],
        window_months=sc.model.windows.get(ind["id"]),
    )


def no_data(prep: Prepared, sc: Scores, i: int) -> list[dict]:
    out = []
    ch = _child(prep, i)
    sd = sc.model.data.get("school_data_expected") or {"from_grade": 1, "to_grade": 9}
    grade = int(ch["grade"])
    if sd["from_grade"] <= grade <= sd["to_grade"] and grade > 0:
        missing = [st for st in SCHOOL_SOURCES if not prep.has_source[st][i]]
        if len(missing) == len(SCHOOL_SOURCES):
            out.append(
                {
                    "source_type": "school",
                    "label": NO_DATA_LABELS["school"],
                    "sources": list(SCHOOL_SOURCES),
                    "detail": f"学年 {grade}（学齢）ですが、学校の出欠・健診の記録がありません。",
                }
            )
        else:
            for st in missing:
                lab = (prep.cat["sources"].get(st) or {}).get("no_data_label") or f"{_source_label(prep, st)}なし"
                out.append({"source_type": st, "label": lab, "detail": ""})
    days = (pd.Timestamp(prep.as_of) - ch["birth_date"]).days if pd.notna(ch["birth_date"]) else -1
    if 150 <= days <= 4 * 365 + 1 and not prep.has_source["maternal_child_health"][i]:
        lab = (prep.cat["sources"].get("maternal_child_health") or {}).get("no_data_label") or "母子保健データなし"
        out.append(
            {
                "source_type": "maternal_child_health",
                "label": lab,
                "detail": "乳幼児健診の年齢ですが、母子保健の記録がありません。",
            }
        )
    if "tax" in prep.imported_sources and not prep.hh_has_tax[i]:
        lab = (prep.cat["sources"].get("tax") or {}).get("no_data_label") or "課税データなし"
        out.append({"source_type": "tax", "label": lab, "detail": "世帯の誰にも住民税の記録がありません。"})
    state = prep.checklist_state[i]
    if state:
        kind, name = state
        out.append(
            {
                "source_type": "school_checklist",
                "label": NO_DATA_LABELS["checklist_missing" if kind == "missing" else "checklist_blank"],
                "detail": name,
            }
        )
    for st, meta in prep.cat["sources"].items():
        if st in prep.imported_sources or st == "resident_registry":
            continue
        if st in SCHOOL_SOURCES and any(o["source_type"] in ("school", st) for o in out):
            continue
        if st == "maternal_child_health" and any(o["source_type"] == st for o in out):
            continue
        if st == "school_checklist":
            continue  # rounds decide whether a checklist is expected
        out.append(
            {
                "source_type": st,
                "label": NO_DATA_LABELS["imported"].format(label=meta.get("label_ja", st)),
                "detail": "この情報源はまだ取り込まれていません（該当なしとは扱いません）。",
                "scope": "town",
            }
        )
    return out


def explain(prep: Prepared, hits: Hits, sc: Scores, i: int, *, sibling_index: dict | None = None) -> dict:
    """One child's details (the JSON stored in ChildScore.details: ``ScoreDetails.to_dict()``)."""
    return explain_details(prep, hits, sc, i, sibling_index=sibling_index).to_dict()


def explain_details(
    prep: Prepared, hits: Hits, sc: Scores, i: int, *, sibling_index: dict | None = None
) -> X.ScoreDetails:
    """One child's :class:`~.explain.ScoreDetails`."""
    m = sc.model
    ch = _child(prep, i)
    ks = np.nonzero(sc.Hr[i])[0]
    reasons, protective = [], []
    for k in ks:
        ind = prep.cat["indicators"][k]
        r = reason_of(prep, hits, sc, i, int(k))
        if ind["kind"] == "protective":
            protective.append(r)
        elif r.points > 0:
            reasons.append(r)
    sib = None
    if sc.sibling_types[i].any():
        sib_types = [t for ti, t in enumerate(m.types) if sc.sibling_types[i, ti]]
        pts = float((m.data.get("sibling") or {}).get("points", 0))
        frm = (sibling_index or {}).get(i, [])
        sib = {"points": pts, "types": sib_types, "from": frm}
        info = _rec_info(prep, int(prep.registry_ev[i]))
        reasons.append(
            X.Reason(
                indicator="sibling_flagged",
                label=f"きょうだいに抽出あり（{'・'.join(sib_types)}）",
                label_en="A sibling is flagged on the sibling's own records",
                kind="household",
                points=pts,
                points_by_type={t: pts for t in sib_types},
                source_type="resident_registry",
                source_label=_source_label(prep, "resident_registry"),
                department=prep.departments.get("resident_registry", ""),
                record_id=info["record_id"],
                record_date=prep.as_of.isoformat(),
                batch_id=info["batch_id"],
                file_name=info["file_name"],
                batch_as_of=info["batch_as_of"],
                person_id=ch["person_id"],
                whose="きょうだい",
                siblings=list(frm),
                value=f"きょうだい {len(frm)}人（本人の記録で抽出）",
            )
        )
    reasons.sort(key=lambda r: (-r.points, r.label))
    protective.sort(key=lambda r: (r.points, r.label))
    ab = int(ch["age_band_idx"])
    types = {}
    top_label = m.level_label(m.L)
    for ti, t in enumerate(m.types):
        p = float(sc.type_points[i, ti])
        cuts = m.cuts[ab, ti] if ab >= 0 else np.full(m.L, np.inf)
        cut_d = {m.level_label(l + 1): float(c) for l, c in enumerate(cuts) if np.isfinite(c)}
        if p or sc.flagged_types[i, ti]:
            flag_cut = cuts[m.flag_level - 1] if m.flag_level >= 1 else 0
            own_t = float(sc.own_type_points[i, ti])
            types[t] = X.TypeScore(
                points=round(p, 2),
                band=m.level_label(int(sc.level[i, ti])),
                threshold=float(flag_cut) if np.isfinite(flag_cut) else None,
                top_threshold=cut_d.get(top_label),
                cuts=cut_d,
                flagged=bool(sc.flagged_types[i, ti]),
                own_points=round(own_t, 2),
                household_points=round(p - own_t, 2),
                guard_capped=bool(sc.guard_capped[i, ti]),
            )
    basis = [
        b
        for b, f in (("threshold", sc.flag_threshold[i]), ("rank", sc.flag_rank[i]), ("basic_items", sc.flag_basic[i]))
        if f
    ]
    total = float(sc.total[i])
    school = float(sc.school_points[i])
    yt = m.data.get("yotaikyo") or {}
    mode = yt.get("mode", "continue")
    status = ""
    if sc.yotaikyo_active[i] and mode != "none":
        status = "要対協 登録中（優先度を下げる）" if mode == "lower" else yt.get("label", "支援継続")
    guard_off = dict((m.data.get("proxy_guard") or {}).get("off") or {})
    return X.ScoreDetails(
        as_of=prep.as_of.isoformat(),
        total=round(total, 2),
        own_points=round(float(sc.own_points[i]), 2),
        household_points=round(float(sc.household_points[i]), 2),
        band=m.level_label(int(sc.band_level[i])),
        band_level=int(sc.band_level[i]),
        band_color=m.band_colors[m.L - int(sc.band_level[i])],
        age=int(ch["age"]),
        age_band=ch["age_band"],
        grade=int(ch["grade"]) or None,
        school=ch["school"] or "",
        school_points=round(school, 2),
        other_points=round(total - school, 2),
        types=types,
        flagged_types=[t for ti, t in enumerate(m.types) if sc.flagged_types[i, ti]],
        flagged=bool(sc.flagged[i]),
        flag_basis=basis,
        basic_items=int(sc.basic_count[i]),
        basic_item_nos=[int(n) + 1 for n in np.nonzero(sc.basic_hits[i])[0]] if sc.basic_hits.size else [],
        reasons=reasons,
        protective=protective,
        no_data=[X.NoData.from_dict(x) for x in no_data(prep, sc, i)],
        pending=_pending_of(prep, ch["person_id"]),
        implausible=_implausible_of(prep, ch["person_id"]),
        sibling=sib,
        guard_capped=[t for ti, t in enumerate(m.types) if sc.guard_capped[i, ti]],
        guard_off=guard_off,
        yotaikyo_active=bool(sc.yotaikyo_active[i]),
        yotaikyo_mode=mode,
        status_label=status,
        new_candidate=bool(sc.new_candidate[i]),
        rank={
            "position": int(sc.rank_position[i]),
            "of": sc.of if sc.of is not None else prep.C,
            "group": str(sc.group_labels[i]),
            "group_position": int(sc.group_position[i]),
            "group_size": int(sc.group_size[i]),
        },
    )


def _pending_of(prep: Prepared, pid: str) -> list[X.Pending]:
    return [
        X.Pending(source_type=st, source_label=_pending_label(prep, st), count=len(ids), record_ids=sorted(ids))
        for st, ids in sorted((prep.pending.get(pid) or {}).items())
    ]


def _pending_label(prep: Prepared, st: str) -> str:
    return {"yotaikyo": "要対協台帳"}.get(st) or _source_label(prep, st)


def _implausible_of(prep: Prepared, pid: str) -> list[X.Implausible]:
    imp = prep.implausible
    if imp is None or not len(imp):
        return []
    if "_imp_by" not in prep._date_cache:
        prep._date_cache["_imp_by"] = {p: g for p, g in imp.groupby("person_id")}
    g = prep._date_cache["_imp_by"].get(pid)
    if g is None:
        return []
    return [
        X.Implausible(
            source_type=st,
            source_label=_source_label(prep, st),
            record_id=int(rid) if rid == rid else None,
            record_date=_iso(rd),
            problem=pr,
            batch_id=int(b) if b == b and b is not None else None,
            file_name=fn or "",
        )
        for st, rid, rd, pr, b, fn in zip(
            g["source_type"], g["record_id"], g["record_date"], g["problem"], g["batch_id"], g["file_name"]
        )
    ]


def sibling_index(prep: Prepared, sc: Scores) -> dict:
    """child position → person ids of the siblings whose own flags gave it sibling points."""
    if not sc.sibling_types.any():
        return {}
    by_hh: dict = {}
    for p in np.nonzero(sc.flag_first.any(axis=1))[0]:
        by_hh.setdefault(prep.hh_code[p], []).append(p)
    pids = prep.children["person_id"].to_numpy()
    same = (sc.model.data.get("sibling") or {}).get("types", "same") == "same"
    out = {}
    for i in np.nonzero(sc.sibling_types.any(axis=1))[0]:
        out[int(i)] = [
            pids[j]
            for j in by_hh.get(prep.hh_code[i], [])
            if j != i and ((sc.flag_first[j] & sc.sibling_types[i]).any() if same else True)
        ]
    return out


def reasons_text(details) -> str:
    """CSV ``reasons``: ``item(+points)`` largest first, ``;``-separated (details: a dict or ScoreDetails)."""
    d = details if isinstance(details, X.ScoreDetails) else X.ScoreDetails.from_dict(details)
    return d.reasons_text()
