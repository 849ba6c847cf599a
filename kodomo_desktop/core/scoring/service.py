"""Scoring service: weight sets (versioned, adopted with a reason, restorable), runs kept as history, the CSV of the
CLI contract, explanations, what-if, and the preview a coordinator sees before adopting new weights."""
from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pandas as pd
from sqlalchemy import func, insert, select, text

from ...resources import resource_path
from ..errors import InputRefused, NotFound
from ..storage.models import ChildScore, Person, ScoreRun, WeightSet
from . import engine as E

CAVEAT = "スコアは支援の要否を検討するためのきっかけであり、判定結果ではありません。"
SCORE_COLUMNS = ["person_id", "name", "birth_date", "school", "total", "band", "types", "reasons"]


def catalogue() -> dict:
    return json.loads(Path(resource_path("indicators.json")).read_text(encoding="utf-8"))


def default_weights(cat: dict | None = None) -> dict:
    cat = cat or catalogue()
    return {"points": {i["id"]: dict(i["points"]) for i in cat["indicators"]}, "thresholds": cat["thresholds"],
            "sibling_points": cat.get("sibling_points", {}), "yotaikyo_rule": cat.get("yotaikyo_rule", "continue"),
            "sharp_rise": cat.get("sharp_rise", 4), "disabled": [], "top_percent": None}


def active_weight_set(s) -> WeightSet:
    ws_ = s.scalar(select(WeightSet).where(WeightSet.active.is_(True)).order_by(WeightSet.id.desc()).limit(1))
    if ws_ is None:
        ws_ = WeightSet(version=1, name="既定（indicators.json）", data=default_weights(), active=True,
                        adopted_at=dt.datetime.now().replace(microsecond=0), adopted_by="system", reason="初期設定")
        s.add(ws_)
        s.flush()
    return ws_


def _validate(data: dict, cat: dict) -> dict:
    if not isinstance(data, dict) or "points" not in data:
        raise InputRefused("重みのファイルの形式が違います（points がありません）。")
    ids = {i["id"] for i in cat["indicators"]}
    bad = [k for k in data["points"] if k not in ids]
    if bad:
        raise InputRefused(f"指標 {bad[0]} はカタログにありません。")
    for k, v in data["points"].items():
        for t, p in v.items():
            if t not in cat["difficulty_types"]:
                raise InputRefused(f"困難の種類「{t}」はありません。")
            if not isinstance(p, (int, float)) or p < 0 or p > 50:
                raise InputRefused(f"{k} の {t} の点数 {p} は 0〜50 の数にしてください。")
    return {**default_weights(cat), **data}


def adopt_weights(ws, data: dict, reason: str, name: str | None = None) -> int:
    """A new version, adopted now (needs a reason; logged). The previous version stays and can be restored."""
    ws.require("weights.edit", what="weights adopt")
    if not (reason or "").strip():
        raise InputRefused("重みを採用する理由を入力してください。")
    data = _validate(data, catalogue())
    with ws.session() as s:
        prev = active_weight_set(s)
        v = (s.scalar(select(func.max(WeightSet.version))) or 0) + 1
        s.execute(text("UPDATE weight_set SET active = 0"))
        new = WeightSet(version=v, name=name or f"第{v}版", data=data, active=True, created_by=ws.user.name,
                        adopted_at=dt.datetime.now().replace(microsecond=0), adopted_by=ws.user.name, reason=reason.strip())
        s.add(new)
        s.flush()
        ws.log("weights_adopted", detail={"version": v, "previous": prev.version}, conn=s)
        return v


def restore_weights(ws, version: int, reason: str) -> int:
    with ws.session() as s:
        old = s.scalar(select(WeightSet).where(WeightSet.version == version))
        if old is None:
            raise NotFound(f"重みの第{version}版はありません。")
        data = dict(old.data)
    return adopt_weights(ws, data, reason or f"第{version}版に戻す", name=f"第{version}版の復元")


def weight_versions(ws) -> list[dict]:
    ws.require("score.read", what="weights")
    with ws.session() as s:
        active_weight_set(s)
        return [{"version": w.version, "name": w.name, "active": w.active, "adopted_at": w.adopted_at,
                 "adopted_by": w.adopted_by, "reason": w.reason}
                for w in s.scalars(select(WeightSet).order_by(WeightSet.version.desc()))]


def export_weights(ws, out: Path) -> dict:
    ws.require("score.read", what="weights export")
    with ws.session() as s:
        w = active_weight_set(s)
        data, version = w.data, w.version
    cat = catalogue()
    labels = {i["id"]: i["label_ja"] for i in cat["indicators"]}
    doc = {"format": "kodomo-desktop-weights", "version": version, "caveat": CAVEAT,
           "indicator_labels": labels, **data}
    Path(out).write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    ws.log("export", detail={"what": "weights", "version": version})
    return {"version": version, "out": str(out)}


def import_weights(ws, file: Path, reason: str | None = None, adopt: bool = False) -> dict:
    data = _read_weights(file)
    if adopt:
        return {"adopted_version": adopt_weights(ws, data, reason or "")}
    return {"preview": preview(ws, data)}


def _read_weights(file: Path) -> dict:
    try:
        data = json.loads(Path(file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise InputRefused(f"重みのファイル {file} を読めません（JSON）。")
    data = {k: v for k, v in data.items() if k not in ("format", "version", "caveat", "indicator_labels")}
    return _validate(data, catalogue())


# --- inputs from the database -------------------------------------------------------------------------------------
def load_inputs(ws, on: dt.date) -> E.Inputs:
    from ..governance.register import expired_cutoffs
    from ..linkage.service import opted_out_persons
    cat = catalogue()
    with ws.session() as s:
        excluded = opted_out_persons(s)  # from the day it was registered, whatever the as-of date
        conn = s.connection()
        persons = pd.read_sql_query(text("SELECT id AS person_id, household_id, birth_date, name FROM person "
                                         "WHERE birth_date IS NOT NULL"), conn)
        records = pd.read_sql_query(text(
            "SELECT l.person_id, r.source_type, r.record_date, r.attributes, r.school, b.file_name, b.id AS batch_id, "
            "b.as_of FROM link l JOIN source_record r ON r.id = l.record_id JOIN source_batch b ON b.id = r.batch_id "
            "WHERE l.status IN ('auto','confirmed') AND b.removed_at IS NULL AND l.person_id IS NOT NULL"), conn)
        cutoffs = expired_cutoffs(s, on)
        from ..storage.models import ChecklistRound
        open_round = s.scalar(select(ChecklistRound).where(ChecklistRound.closed_at.is_(None)).order_by(ChecklistRound.id.desc()))
        returned = set()
        if open_round is not None:
            returned = {x for (x,) in s.execute(text(
                "SELECT DISTINCT school FROM checklist_entry WHERE round_id=:r AND status='submitted'"), {"r": open_round.id})}
    persons = persons[~persons["person_id"].isin(excluded)]
    records = records[~records["person_id"].isin(excluded)]
    records["attributes"] = records["attributes"].map(lambda a: json.loads(a) if isinstance(a, str) else (a or {}))
    persons["birth_date"] = pd.to_datetime(persons["birth_date"])
    return E.build_hits(cat, persons, records, on, expired_before=cutoffs, returned_schools=returned,
                        checklist_open=open_round is not None)


def default_as_of(ws) -> dt.date:
    with ws.session() as s:
        d = s.execute(text("SELECT max(as_of) FROM source_batch WHERE removed_at IS NULL")).scalar()
    return dt.date.fromisoformat(str(d)[:10]) if d else dt.date.today()


def _as_date(v) -> dt.date | None:
    if v in (None, ""):
        return None
    if isinstance(v, dt.date):
        return v
    try:
        return dt.date.fromisoformat(str(v))
    except ValueError:
        raise InputRefused(f"日付 {v} を読めません（YYYY-MM-DD）。")


def run_scoring(ws, as_of=None, weights: dict | None = None) -> int:
    """Score every child on ``as_of`` and keep the run (history)."""
    ws.require("score.run", what="score")
    on = _as_date(as_of) or default_as_of(ws)
    inp = load_inputs(ws, on)
    cat = catalogue()
    with ws.session() as s:
        wset = active_weight_set(s)
        wdata, wid = (weights or wset.data), (None if weights else wset.id)
    df = E.apply_weights(inp, cat, wdata)
    prev = _previous_flags(ws)
    with ws.session() as s:
        run = ScoreRun(as_of=on, weight_set_id=wid, created_by=ws.user.name)
        s.add(run)
        s.flush()
        rise = wdata.get("sharp_rise", 4)
        rows = []
        for r in df.itertuples(index=False):
            d = r.details
            p = prev.get(r.person_id)
            d["history"] = {"newly_flagged": bool(r.flagged and not (p and p["flagged"])),
                            "sharp_rise": bool(p and r.total - p["total"] >= rise),
                            "flagged_runs_in_a_row": (p["streak"] + 1 if p and p["flagged"] else 1) if r.flagged else 0}
            rows.append({"run_id": run.id, "person_id": r.person_id, "total": r.total, "band": r.band,
                         "types": r.types, "basic_items": r.basic_items, "flagged": r.flagged,
                         "school_points": r.school_points, "details": d})
        for i in range(0, len(rows), 5000):
            s.execute(insert(ChildScore), rows[i:i + 5000])
        run.summary = {"children": len(rows), "flagged": int(df["flagged"].sum()) if len(df) else 0}
        ws.log("score_run", detail={"run_id": run.id, "as_of": on.isoformat(), **run.summary,
                                    "weight_set": wid}, conn=s)
        return run.id


def _previous_flags(ws) -> dict:
    with ws.session() as s:
        last = s.scalar(select(ScoreRun.id).order_by(ScoreRun.id.desc()).limit(1))
        if last is None:
            return {}
        out = {}
        for pid, total, flagged, details in s.execute(select(ChildScore.person_id, ChildScore.total, ChildScore.flagged,
                                                             ChildScore.details).where(ChildScore.run_id == last)):
            streak = ((details or {}).get("history") or {}).get("flagged_runs_in_a_row", 1 if flagged else 0)
            out[pid] = {"total": total, "flagged": flagged, "streak": streak}
        return out


def latest_scores(ws, run_id: int | None = None) -> list[dict]:
    ws.require("score.read", what="scores")
    from ..casework.service import schools_of
    with ws.session() as s:
        run_id = run_id or s.scalar(select(ScoreRun.id).order_by(ScoreRun.id.desc()).limit(1))
        if run_id is None:
            return []
        rows = s.execute(select(ChildScore, Person).join(Person, Person.id == ChildScore.person_id)
                         .where(ChildScore.run_id == run_id)).all()
        schools = schools_of(s, [p.id for _, p in rows])
        return [{"person_id": p.id, "name": p.name or "", "name_kana": p.name_kana or "", "birth_date": p.birth_date,
                 "school": schools.get(p.id, ""), "total": c.total, "band": "支援継続" if (c.details or {}).get("yotaikyo_active") and c.flagged else c.band,
                 "raw_band": c.band, "types": c.types or "", "flagged": c.flagged, "basic_items": c.basic_items,
                 "age_band": (c.details or {}).get("age_band"), "details": c.details or {},
                 "new": ((c.details or {}).get("history") or {}).get("newly_flagged", False),
                 "yotaikyo": (c.details or {}).get("yotaikyo_active", False)} for c, p in rows]


def reasons_text(details: dict) -> str:
    return ";".join(f"{r['label']}(+{r['points']:g})" for r in details.get("reasons", []))


def score_to_csv(ws, out: Path, weights_file: Path | None = None, as_of=None) -> dict:
    ws.require("score.run", what="score")
    weights = _read_weights(weights_file) if weights_file else None
    run_id = run_scoring(ws, as_of=as_of, weights=weights)
    rows = latest_scores(ws, run_id)
    rows.sort(key=lambda r: (-r["total"], r["person_id"]))
    with open(out, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(SCORE_COLUMNS)
        for r in rows:
            w.writerow([r["person_id"], r["name"], r["birth_date"].isoformat() if r["birth_date"] else "", r["school"],
                        f"{r['total']:g}", r["raw_band"], r["types"], reasons_text(r["details"])])
    ws.log("export", detail={"what": "scores", "rows": len(rows), "run_id": run_id})
    with ws.session() as s:
        on = s.get(ScoreRun, run_id).as_of
    return {"children": len(rows), "flagged": sum(r["flagged"] for r in rows), "run_id": run_id,
            "as_of": on.isoformat(), "out": str(out), "caveat": CAVEAT}


def child_explanation(ws, person_id: str) -> dict:
    ws.require("score.read", what="explanation", person_id=person_id)
    with ws.session() as s:
        c = s.scalar(select(ChildScore).join(ScoreRun).where(ChildScore.person_id == person_id)
                     .order_by(ScoreRun.id.desc()).limit(1))
        if c is None:
            raise NotFound("このこどものスコアはまだありません。")
        hist = [{"run_id": r.id, "as_of": r.as_of, "total": cs.total, "band": cs.band}
                for cs, r in s.execute(select(ChildScore, ScoreRun).join(ScoreRun)
                                       .where(ChildScore.person_id == person_id).order_by(ScoreRun.id)).all()]
        return {"person_id": person_id, "total": c.total, "band": c.band, "types": c.types, "details": c.details,
                "history": hist, "caveat": CAVEAT}


def what_if(ws, person_id: str, disabled_indicators=(), supports_started=()) -> dict:
    """The child's score with indicators switched off or supports marked as started — nothing is saved."""
    ws.require("score.read", what="what-if", person_id=person_id)
    with ws.session() as s:
        run = s.scalar(select(ScoreRun).order_by(ScoreRun.id.desc()).limit(1))
        on = run.as_of if run else default_as_of(ws)
        wdata = active_weight_set(s).data
    inp = load_inputs(ws, on)
    base = E.apply_weights(inp, catalogue(), wdata)
    new = E.apply_weights(inp, catalogue(), wdata, disabled=set(disabled_indicators), support_started=set(supports_started))
    pick = lambda df: df[df["person_id"] == person_id].iloc[0].to_dict() if (df["person_id"] == person_id).any() else None
    b, n = pick(base), pick(new)
    if b is None:
        raise NotFound("このこどもは採点の対象ではありません（0〜18歳・利用停止でない人）。")
    return {"person_id": person_id, "before": {"total": b["total"], "band": b["band"], "types": b["types"]},
            "after": {"total": n["total"], "band": n["band"], "types": n["types"], "reasons": n["details"]["reasons"]},
            "saved": False}


def preview(ws, weights: dict) -> dict:
    """Before adoption: per school and age band, how many children each band would hold; flag rates by group."""
    ws.require("score.read", what="weights preview")
    on = default_as_of(ws)
    inp = load_inputs(ws, on)
    cat = catalogue()
    with ws.session() as s:
        current = active_weight_set(s).data
    now, new = E.apply_weights(inp, cat, current), E.apply_weights(inp, cat, _validate(weights, cat))
    kids = inp.children.set_index("person_id")
    new = new.join(kids[["school", "age_band", "household_id"]], on="person_id")
    now = now.join(kids[["school", "age_band"]], on="person_id")
    table = lambda df: {f"{sch or '（学校・園なし）'}|{ab}": {b: int(n) for b, n in g["band"].value_counts().items()}
                        for (sch, ab), g in df.groupby(["school", "age_band"])}
    with ws.session() as s:
        single = {h for (h,) in s.execute(text(
            "SELECT DISTINCT p.household_id FROM link l JOIN source_record r ON r.id=l.record_id "
            "JOIN person p ON p.id=l.person_id WHERE r.source_type='child_rearing_allowance' AND l.status IN ('auto','confirmed')"))}
        disab = {h for (h,) in s.execute(text(
            "SELECT DISTINCT p.household_id FROM link l JOIN source_record r ON r.id=l.record_id "
            "JOIN person p ON p.id=l.person_id WHERE r.source_type='disability' AND l.status IN ('auto','confirmed')"))}
    rate = lambda m: round(float(new.loc[m, "flagged"].mean()) * 100, 1) if m.any() else None
    groups = {"全体": rate(new["flagged"].notna()), "ひとり親世帯": rate(new["household_id"].isin(single)),
              "障害のある人がいる世帯": rate(new["household_id"].isin(disab))}
    for sch in sorted(new["school"].unique()):
        groups[f"学校: {sch or '（なし）'}"] = rate(new["school"] == sch)
    return {"as_of": on.isoformat(), "flagged_now": int(now["flagged"].sum()), "flagged_new": int(new["flagged"].sum()),
            "bands_new": table(new), "bands_now": table(now), "flag_rate_percent": groups}
