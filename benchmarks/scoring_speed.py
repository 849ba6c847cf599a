"""Scoring speed: a synthetic town of 3,000 and a city of 200,000 residents (engine frames, no database).

Prints, per size: building the frames once (prepare), evaluating every indicator (hits), re-scoring after a weight
change (hits · points and the rules — the step the weights editor and the preview repeat), and building every
child's explanation (what a saved run stores). Targets: re-scoring < 0.5 s (3,000) and < 30 s (200,000).

    python benchmarks/scoring_speed.py [--sizes 3000,200000] [--seed 1]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kodomo_desktop.core.scoring import engine as E  # noqa: E402
from kodomo_desktop.core.scoring.catalogue import load_catalogue  # noqa: E402
from kodomo_desktop.core.scoring.weights import compile_weights, default_weights, validate_weights  # noqa: E402

AS_OF = dt.date(2026, 10, 1)
SCHOOLS = ["第一小学校", "第二小学校", "東小学校", "西小学校", "中央中学校", "北中学校"]


def synthetic_input(residents: int, seed: int = 1) -> E.ScoringInput:
    rng = np.random.default_rng(seed)
    sizes = rng.choice([1, 2, 3, 4, 5, 6], size=residents, p=[0.3, 0.25, 0.18, 0.17, 0.07, 0.03])
    hh = np.repeat(np.arange(len(sizes)), sizes)[:residents]
    first = np.r_[True, hh[1:] != hh[:-1]]
    pos_in_hh = np.arange(residents) - np.maximum.accumulate(np.where(first, np.arange(residents), 0))
    age = np.where(pos_in_hh < 2, rng.integers(20, 90, residents), rng.integers(0, 19, residents))
    birth = [AS_OF - dt.timedelta(days=int(a * 365.25 + d)) for a, d in zip(age, rng.integers(0, 365, residents))]
    pid = np.array([f"P{i:07d}" for i in range(residents)], dtype=object)
    hid = np.array([f"H{h:07d}" for h in hh], dtype=object)
    rel = np.where(pos_in_hh == 0, "世帯主", np.where(pos_in_hh == 1, "妻", "子"))
    persons = pd.DataFrame(
        {
            "person_id": pid,
            "household_id": hid,
            "birth_date": birth,
            "sex": rng.integers(1, 3, residents),
            "name": [f"試験 {i}" for i in range(residents)],
            "relationship": rel,
        }
    )
    recs: list[dict] = []
    batch = {
        "resident_registry": (1, "住民基本台帳.csv"),
        "tax": (2, "住民税.csv"),
        "school_attendance": (3, "出欠.xlsx"),
        "school_health": (4, "学校健診.xlsx"),
        "maternal_child_health": (5, "母子保健.xlsx"),
        "yotaikyo": (6, "要対協.xlsx"),
        "public_assistance": (7, "生活保護.csv"),
        "child_rearing_allowance": (8, "児童扶養手当.csv"),
        "school_assistance": (9, "就学援助.xlsx"),
        "disability": (10, "障害.csv"),
        "consultation": (11, "相談記録.csv"),
        "school_checklist": (12, "チェック.xlsx"),
    }

    def add(i, st, attrs, date=AS_OF):
        b, f = batch[st]
        recs.append(
            {
                "record_id": len(recs) + 1,
                "person_id": pid[i],
                "source_type": st,
                "record_date": date,
                "batch_id": b,
                "batch_as_of": AS_OF,
                "file_name": f,
                "attributes": attrs,
            }
        )

    poor_hh = set(np.nonzero(rng.random(hh.max() + 1) < 0.08)[0])
    for i in range(residents):
        add(i, "resident_registry", {})
        a = age[i]
        if pos_in_hh[i] == 0:
            add(i, "tax", {"tax_status": "非課税" if hh[i] in poor_hh else "課税", "fiscal_year": 2026})
            if hh[i] in poor_hh and rng.random() < 0.3:
                add(i, "public_assistance", {"status": "保護中"}, AS_OF - dt.timedelta(days=400))
            if rng.random() < 0.01:
                add(i, "disability", {"certificate_type": "精神"})
        if pos_in_hh[i] == 1 and rng.random() < 0.01:
            add(i, "consultation", {"category": "DV", "dv_support_measure": True}, AS_OF - dt.timedelta(days=90))
        if a <= 18 and pos_in_hh[i] >= 2:
            if 6 <= a <= 15:
                fut = rng.random() < 0.03
                add(
                    i,
                    "school_attendance",
                    {
                        "absence_days": int(rng.integers(30, 80)) if fut else int(rng.poisson(3)),
                        "late_days": int(rng.poisson(2)),
                        "nurse_visits": int(rng.poisson(1)),
                    },
                )
                add(
                    i,
                    "school_health",
                    {"untreated_caries": int(rng.poisson(0.5)), "weight_percentile": 50},
                    AS_OF - dt.timedelta(days=120),
                )
                if rng.random() < 0.5:
                    add(i, "school_checklist", {"round_id": 1, "group_counts": {"child.food": int(rng.poisson(0.3))}})
                if hh[i] in poor_hh:
                    add(i, "school_assistance", {"category": "準要保護"})
            if a <= 3:
                missed = rng.random() < 0.06
                add(
                    i,
                    "maternal_child_health",
                    {
                        "record_kind": "乳幼児健診",
                        "checkup_type": "1歳6か月",
                        "checkup_status": "未受診" if missed else "受診",
                        "q_hit_emotionally": bool(rng.random() < 0.05),
                    },
                    AS_OF - dt.timedelta(days=100),
                )
            if rng.random() < 0.004:
                add(
                    i,
                    "yotaikyo",
                    {"status": "継続" if rng.random() < 0.7 else "終結", "category": "ネグレクト"},
                    AS_OF - dt.timedelta(days=500),
                )
            if hh[i] in poor_hh and rng.random() < 0.4:
                add(i, "child_rearing_allowance", {"payment_category": "全部支給"}, AS_OF - dt.timedelta(days=800))
    records = pd.DataFrame(recs)
    kids = persons[(age >= 6) & (age <= 15)]
    schools = pd.DataFrame({"person_id": kids["person_id"], "school": rng.choice(SCHOOLS, len(kids)), "grade": "1"})
    return E.ScoringInput(
        as_of=AS_OF, persons=persons, records=records, schools=schools, imported_sources=set(batch), departments={}
    )


def bench(residents: int, seed: int) -> dict:
    cat = load_catalogue()
    t = time.perf_counter()
    inp = synthetic_input(residents, seed)
    t_gen = time.perf_counter() - t
    t = time.perf_counter()
    prep = E.prepare(inp, cat)
    t_prep = time.perf_counter() - t
    w = validate_weights(default_weights(cat), cat)
    model = compile_weights(w, cat)
    t = time.perf_counter()
    hits = E.compute_hits(prep, model.windows)
    t_hits = time.perf_counter() - t
    E.apply_weights(prep, hits, model)
    # a weight change: points, a threshold and the sibling rule
    w2 = validate_weights(
        {
            **w,
            "indicators": {**w["indicators"], "absence_30": {"points": {"不登校": 9, "虐待": 2}}},
            "sibling": {"enabled": True, "points": 3, "types": "same"},
        },
        cat,
    )
    w2["thresholds"]["虐待"]["小学生"] = {"高": 8, "中": 6}
    t = time.perf_counter()
    m2 = compile_weights(w2, cat)
    hits2 = E.compute_hits(prep, m2.windows)  # cached: same windows
    sc = E.apply_weights(prep, hits2, m2)
    t_rescore = time.perf_counter() - t
    t = time.perf_counter()
    sib = E.sibling_index(prep, sc)
    for i in range(prep.C):
        E.explain(prep, hits2, sc, i, sibling_index=sib)
    t_explain = time.perf_counter() - t
    return {
        "residents": residents,
        "children": prep.C,
        "records": len(prep.R),
        "flagged": int(sc.flagged.sum()),
        "generate_s": t_gen,
        "prepare_s": t_prep,
        "hits_s": t_hits,
        "rescore_s": t_rescore,
        "explain_all_s": t_explain,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="3000,200000")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-db", action="store_true", help="skip the end-to-end run on the demo town's encrypted DB")
    args = ap.parse_args(argv)
    targets = {3000: 0.5, 200000: 30.0}
    for n in [int(x) for x in args.sizes.split(",")]:
        r = bench(n, args.seed)
        target = targets.get(n)
        verdict = "" if target is None else (" OK" if r["rescore_s"] < target else " SLOW") + f" (target < {target} s)"
        print(
            f"residents {r['residents']:>7,}  children {r['children']:>6,}  records {r['records']:>7,}  "
            f"flagged {r['flagged']:>5,}"
        )
        print(f"  prepare (frames, once)      {r['prepare_s']:7.2f} s")
        print(f"  indicator hits (once)       {r['hits_s']:7.2f} s")
        print(f"  re-score after weight change {r['rescore_s']:6.3f} s{verdict}")
        print(f"  explanations for all        {r['explain_all_s']:7.2f} s")
    if not args.no_db:
        bench_db(3000, args.seed)
    return 0


def bench_db(residents: int, seed: int) -> None:
    """The same through the service layer on the demo town's encrypted database, as the weights editor does it:
    load the frames once per as-of date (ScoringContext), then each edit previews against the adopted set."""
    import copy
    import os
    import tempfile

    os.environ.setdefault("KODOMO_KDF_TARGET_MS", "100")
    from kodomo_desktop.core.demo.service import build_demo
    from kodomo_desktop.core.scoring import service as S
    from kodomo_desktop.core.workspace import Workspace

    d = Path(tempfile.mkdtemp(prefix="kd-score-"))
    build_demo(d / "t.db", residents=residents, seed=seed, password="bench pw")
    ws = Workspace.open(d / "t.db", "bench pw")
    w = S.active_weights(ws)["data"]
    t = time.perf_counter()
    ctx = S.ScoringContext.load(ws)
    t_load = time.perf_counter() - t
    S.preview_weights(ws, w, context=ctx)
    times = []
    for k in list(w["indicators"])[:5]:
        w2 = copy.deepcopy(w)
        pts = w2["indicators"][k].get("points") or {}
        w2["indicators"][k]["points"] = {t_: v + 1 for t_, v in pts.items()} or pts
        t = time.perf_counter()
        S.preview_weights(ws, w2, context=ctx)
        times.append(time.perf_counter() - t)
    t = time.perf_counter()
    S.run_scoring(ws, context=ctx)
    t_run = time.perf_counter() - t
    t = time.perf_counter()
    S.run_scoring(ws)
    t_cold = time.perf_counter() - t
    ws.close()
    med = sorted(times)[len(times) // 2]
    print(f"demo town {residents:,} residents, encrypted DB, through the service layer:")
    print(f"  load frames (once per as-of date)          {t_load:6.3f} s")
    print(
        f"  preview after a weight change (median of 5) {med:6.3f} s{' OK' if med < 0.5 else ' SLOW'} (target < 0.5 s)"
    )
    print(f"  run and save a scoring run (frames loaded) {t_run:6.3f} s")
    print(f"  run and save from cold (CLI `score`)       {t_cold:6.3f} s")


if __name__ == "__main__":
    sys.exit(main())
