"""Scoring: indicator hits × points → points per difficulty type, bands by age band, reasons. Never a probability.

``build_hits`` evaluates every indicator rule once over the linked records (vectorised per indicator with pandas)
and returns one row per (child, indicator) hit with its evidence (source, record date, file, batch).
``apply_weights`` turns hits into scores with a weight set: hits matrix (children × indicators) · points matrix
(indicators × types) — the cheap step that a weight change re-runs.

``ChildScore.details`` JSON shape::

    {"types": {"虐待": 5, ...}, "bands": {"虐待": "高", ...}, "age": 8, "age_band": "小学生",
     "reasons": [{"indicator", "label", "points", "types": {type: pts}, "source_type", "source_label",
                  "record_date", "file_name", "batch_id", "as_of", "via": "本人" | "世帯員", "school_held"}],
     "protective": [{"indicator", "label", "source_label", "record_date"}],
     "no_data": ["学校データなし", ...], "basic_items": 3, "school_points": 3, "other_points": 8,
     "yotaikyo_active": false, "sibling": {"points": 1, "from": [person ids]}}
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd


def age_years(birth: pd.Series, on: dt.date) -> pd.Series:
    b = pd.to_datetime(birth)
    before = (b.dt.month > on.month) | ((b.dt.month == on.month) & (b.dt.day > on.day))
    return on.year - b.dt.year - before.astype(int)


def _cmp(series: pd.Series, op: str, value):
    if op == "is_true":
        return series.map(lambda v: v is True or v in ("有", "あり", 1, "1", "true", "True"))
    if op in ("==", "!="):
        m = series.astype("object").map(lambda v: v == value)
        return m if op == "==" else (~m & series.notna())
    if op == "in":
        return series.isin(value)
    num = pd.to_numeric(series, errors="coerce")
    return {">=": num >= value, ">": num > value, "<=": num <= value, "<": num < value}[op].fillna(False)


def evaluate_rule(rule: dict, recs: pd.DataFrame) -> pd.Series:
    """Boolean mask over ``recs`` (records of the indicator's source type) for one declarative rule."""
    if not len(recs):
        return pd.Series([], dtype=bool)
    if rule.get("exists"):
        return pd.Series(True, index=recs.index)
    if "all" in rule:
        m = pd.Series(True, index=recs.index)
        for r in rule["all"]:
            m &= evaluate_rule(r, recs)
        return m
    if "any" in rule:
        m = pd.Series(False, index=recs.index)
        for r in rule["any"]:
            m |= evaluate_rule(r, recs)
        return m
    if "group_count" in rule:
        prefix = rule["group_count"]
        counts = recs["attributes"].map(lambda a: sum(v for k, v in ((a or {}).get("group_counts") or {}).items()
                                                      if k.startswith(prefix)))
        return _cmp(counts, rule["op"], rule["value"]).astype(bool)
    field = rule["field"]
    col = recs["attributes"].map(lambda a: (a or {}).get(field))
    return _cmp(col, rule["op"], rule.get("value")).astype(bool)


def _months_before(on: dt.date, months: int) -> dt.date:
    y, m = divmod(on.year * 12 + on.month - 1 - months, 12)
    return dt.date(y, m + 1, min(on.day, 28))


@dataclass
class Inputs:
    children: pd.DataFrame   # person_id, household_id, birth_date, name, age, age_band, school
    hits: pd.DataFrame       # person_id, indicator, via, record_date, source_type, file_name, batch_id, as_of
    protective: pd.DataFrame
    no_data: dict            # person_id -> [labels]
    yotaikyo_active: set


def build_hits(catalogue: dict, persons: pd.DataFrame, records: pd.DataFrame, on: dt.date,
               expired_before: dict | None = None, returned_schools: set | None = None,
               checklist_open: bool = False) -> Inputs:
    """``persons``: every person (person_id, household_id, birth_date, name); ``records``: linked records
    (person_id, source_type, record_date, attributes, file_name, batch_id, as_of, school)."""
    expired_before = expired_before or {}
    persons = persons.copy()
    persons["age"] = age_years(persons["birth_date"], on)
    bands = catalogue["age_bands"]
    children = persons[(persons["age"] >= 0) & (persons["age"] <= 18)].copy()
    children["age_band"] = "対象外"
    for b in bands:
        children.loc[children["age"].between(b["min"], b["max"]), "age_band"] = b["label"]
    recs = records.copy()
    recs["record_date"] = pd.to_datetime(recs["record_date"]).dt.date
    recs = recs[recs["record_date"].isna() | (recs["record_date"] <= on)]
    # expired data (retention) is never read
    if expired_before:
        keep = recs.apply(lambda r: not (r["source_type"] in expired_before and r["as_of"] is not None
                                         and pd.to_datetime(r["as_of"]).date() < expired_before[r["source_type"]]), axis=1)
        recs = recs[keep] if len(recs) else recs
    school_now = recs[recs["school"].notna() & (recs["source_type"] != "school_checklist")] \
        .sort_values("as_of").groupby("person_id")["school"].last()
    children["school"] = children["person_id"].map(school_now).fillna("")
    hh_of = persons.set_index("person_id")["household_id"]
    kids_by_hh = children.dropna(subset=["household_id"]).groupby("household_id")["person_id"].apply(list)
    by_source = {st: g for st, g in recs.groupby("source_type")}
    out, prot = [], []
    for ind in catalogue["indicators"]:
        rule = ind["rule"]
        if "household_children" in rule:
            n = children.groupby("household_id")["person_id"].count()
            hh = set(n[n >= rule["value"]].index)
            for pid, h in zip(children["person_id"], children["household_id"]):
                if h in hh:
                    out.append({"person_id": pid, "indicator": ind["id"], "via": "世帯", "record_date": on,
                                "source_type": "resident_registry", "file_name": "", "batch_id": None, "as_of": None})
            continue
        g = by_source.get(ind["source_type"])
        if g is None or not len(g):
            continue
        if ind.get("window_months"):
            since = _months_before(on, ind["window_months"])
            g = g[g["record_date"].isna() | (g["record_date"] >= since)]
        hit = g[evaluate_rule(rule, g).values] if len(g) else g
        if not len(hit):
            continue
        hit = hit.sort_values("record_date").groupby("person_id").tail(1)  # newest evidence per person
        target = out if ind.get("kind", "risk") == "risk" else prot
        for r in hit.itertuples(index=False):
            ev = {"indicator": ind["id"], "record_date": r.record_date, "source_type": r.source_type,
                  "file_name": r.file_name, "batch_id": r.batch_id, "as_of": r.as_of}
            if ind.get("subject") == "household":
                h = hh_of.get(r.person_id)
                for kid in (kids_by_hh.get(h, []) if h is not None else []) or []:
                    target.append({"person_id": kid, "via": "本人" if kid == r.person_id else "世帯員", **ev})
                if h is None and r.person_id in set(children["person_id"]):
                    target.append({"person_id": r.person_id, "via": "本人", **ev})
            else:
                target.append({"person_id": r.person_id, "via": "本人", **ev})
    cols = ["person_id", "indicator", "via", "record_date", "source_type", "file_name", "batch_id", "as_of"]
    hits = pd.DataFrame(out, columns=cols).drop_duplicates(["person_id", "indicator"], keep="last")
    protective = pd.DataFrame(prot, columns=cols).drop_duplicates(["person_id", "indicator"], keep="last")
    hits = hits[hits["person_id"].isin(children["person_id"])]
    # "no data" is not "no risk"
    have = recs.groupby("person_id")["source_type"].apply(set).to_dict()
    no_data = {}
    for pid, age, school in zip(children["person_id"], children["age"], children["school"]):
        miss = []
        src = have.get(pid, set())
        if 6 <= age <= 15 and not ({"school_attendance", "school_health"} & src):
            miss.append("学校データなし")
        if age <= 3 and "maternal_child_health" not in src:
            miss.append("母子保健データなし")
        if checklist_open and school and returned_schools is not None and school not in returned_schools and 6 <= age <= 15:
            miss.append("チェックリスト未回収")
        if miss:
            no_data[pid] = miss
    yt = recs[(recs["source_type"] == "yotaikyo")]
    active = set(yt[yt["attributes"].map(lambda a: (a or {}).get("status") != "終結")]["person_id"])
    return Inputs(children.reset_index(drop=True), hits.reset_index(drop=True), protective, no_data, active)


def apply_weights(inp: Inputs, catalogue: dict, weights: dict, *, disabled: set | None = None,
                  support_started: set | None = None) -> pd.DataFrame:
    """One row per child: total, per-type points, bands, flagged, reasons (JSON-able details)."""
    disabled = set(disabled or ()) | set(weights.get("disabled", []))
    types = catalogue["difficulty_types"]
    ind_meta = {i["id"]: i for i in catalogue["indicators"]}
    points = {iid: {**ind_meta[iid]["points"], **weights.get("points", {}).get(iid, {})} for iid in ind_meta}
    ind_ids = [i for i in ind_meta if ind_meta[i].get("kind", "risk") == "risk" and i not in disabled]
    P = np.array([[float(points[i].get(t, 0)) for t in types] for i in ind_ids]) if ind_ids else np.zeros((0, len(types)))
    kids = inp.children["person_id"].tolist()
    pos = {p: n for n, p in enumerate(kids)}
    H = np.zeros((len(kids), len(ind_ids)))
    col = {i: n for n, i in enumerate(ind_ids)}
    h = inp.hits[inp.hits["indicator"].isin(col)]
    if support_started:
        h = h[~h["indicator"].isin(support_started)]
    if len(h):
        H[h["person_id"].map(pos).to_numpy(), h["indicator"].map(col).to_numpy()] = 1
    T = H @ P  # children × types
    thresholds = weights.get("thresholds") or catalogue["thresholds"]
    band_of_age = inp.children["age_band"].tolist()
    hi = np.array([[thresholds.get(b, {}).get("高", 1e9) for _ in types] for b in band_of_age]) if kids else np.zeros((0, len(types)))
    mid = np.array([[thresholds.get(b, {}).get("中", 1e9) for _ in types] for b in band_of_age]) if kids else np.zeros((0, len(types)))
    # sibling rule: points when another child of the household is flagged
    sib_pts = weights.get("sibling_points", catalogue.get("sibling_points", {}))
    flagged0 = (T >= mid).any(axis=1)
    sibling_from: dict[str, list] = {}
    if sib_pts and len(kids):
        hh = inp.children["household_id"].tolist()
        flagged_by_hh: dict = {}
        for p, hhid, f in zip(kids, hh, flagged0):
            if f and hhid is not None:
                flagged_by_hh.setdefault(hhid, []).append(p)
        for n, (p, hhid) in enumerate(zip(kids, hh)):
            others = [q for q in flagged_by_hh.get(hhid, []) if q != p]
            if others:
                sibling_from[p] = others
                for t, v in sib_pts.items():
                    if t in types:
                        T[n, types.index(t)] += v
    band_idx = np.where(T >= hi, 2, np.where(T >= mid, 1, 0))
    total = T.sum(axis=1)
    labels = ["低", "中", "高"]
    basic_ids = {i for i in ind_ids if ind_meta[i].get("basic")}
    school_ids = {i for i in ind_ids if ind_meta[i].get("school_held")}
    reasons_by = {p: [] for p in kids}
    for r in h.itertuples(index=False):
        meta = ind_meta[r.indicator]
        pts = {t: points[r.indicator].get(t, 0) for t in types if points[r.indicator].get(t, 0)}
        reasons_by[r.person_id].append({
            "indicator": r.indicator, "label": meta["label_ja"], "points": float(sum(pts.values())), "types": pts,
            "source_type": r.source_type, "record_date": str(r.record_date) if r.record_date else None,
            "file_name": r.file_name, "batch_id": None if pd.isna(r.batch_id) else int(r.batch_id),
            "as_of": str(r.as_of)[:10] if r.as_of else None, "via": r.via, "school_held": r.indicator in school_ids,
            "basic": r.indicator in basic_ids, "shown_on_sheets": meta.get("shown_on_sheets", True)})
    prot_by: dict[str, list] = {}
    for r in inp.protective.itertuples(index=False):
        prot_by.setdefault(r.person_id, []).append({"indicator": r.indicator, "label": ind_meta[r.indicator]["label_ja"],
                                                     "source_type": r.source_type,
                                                     "record_date": str(r.record_date) if r.record_date else None})
    rows = []
    for n, p in enumerate(kids):
        rs = sorted(reasons_by[p], key=lambda x: -x["points"])
        type_pts = {t: float(T[n, k]) for k, t in enumerate(types) if T[n, k]}
        bands = {t: labels[band_idx[n, k]] for k, t in enumerate(types) if T[n, k]}
        crossed = [t for k, t in enumerate(types) if band_idx[n, k] >= 1]
        band = labels[int(band_idx[n].max())] if len(types) else "低"
        school_pts = sum(x["points"] for x in rs if x["school_held"])
        sib = sum(sib_pts.values()) if p in sibling_from else 0
        rows.append({"person_id": p, "total": float(total[n]), "band": band, "types": ";".join(crossed),
                     "flagged": bool(crossed), "basic_items": sum(1 for x in rs if x["basic"]),
                     "school_points": float(school_pts),
                     "details": {"types": type_pts, "bands": bands, "age": int(inp.children.at[n, "age"]),
                                 "age_band": inp.children.at[n, "age_band"], "reasons": rs,
                                 "protective": prot_by.get(p, []), "no_data": inp.no_data.get(p, []),
                                 "basic_items": sum(1 for x in rs if x["basic"]), "school_points": float(school_pts),
                                 "other_points": float(total[n] - school_pts - sib),
                                 "yotaikyo_active": p in inp.yotaikyo_active,
                                 "sibling": {"points": sib, "from": sibling_from.get(p, [])}}})
    df = pd.DataFrame(rows, columns=["person_id", "total", "band", "types", "flagged", "basic_items", "school_points",
                                     "details"])
    # top-N / top-% per age band (optional)
    top = weights.get("top_percent")
    if top and len(df):
        df["age_band"] = inp.children["age_band"].values
        for _, g in df.groupby("age_band"):
            k = max(1, int(round(len(g) * top / 100)))
            idx = g.sort_values("total", ascending=False).index[:k]
            df.loc[idx, "flagged"] = df.loc[idx, "flagged"] | (df.loc[idx, "total"] > 0)
        df = df.drop(columns=["age_band"])
    return df
