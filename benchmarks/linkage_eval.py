"""名寄せ quality on synthetic towns with ground truth, beside the exact 氏名+生年月日 baseline.

    python benchmarks/linkage_eval.py [--residents 3000] [--seeds 1,2,3] [--levels clean,low,medium,high]
                                      [--upper U] [--lower L] [--no-demo]

Towns come from kodomo_desktop.core.demo when it provides in-memory frames with truth, else from
kodomo_desktop.core.linkage.evaluation.synthetic_town. Figures are means over the seeds; wrong links and review
counts are totals. Targets (issue 4): rows without a resident number → right person ≥ 99 %, no wrong links,
pairwise precision ≥ 0.999, review ≤ 3 % of rows.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kodomo_desktop.core.linkage import evaluation as E  # noqa: E402
from kodomo_desktop.core.linkage.engine import DEFAULT_LOWER, DEFAULT_UPPER  # noqa: E402


def _pad(s: str, width: int) -> str:
    import unicodedata
    w = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)
    return s + " " * max(0, width - w)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--residents", type=int, default=3000)
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--levels", default="clean,low,medium,high")
    ap.add_argument("--upper", type=float, default=DEFAULT_UPPER)
    ap.add_argument("--lower", type=float, default=DEFAULT_LOWER)
    ap.add_argument("--no-demo", action="store_true", help="always use the engine's own synthetic towns")
    a = ap.parse_args(argv)
    seeds = [int(s) for s in a.seeds.split(",") if s]
    levels = [x for x in a.levels.split(",") if x]
    t = time.perf_counter()
    df = E.run(a.residents, seeds=seeds, levels=levels, use_demo=not a.no_demo, upper=a.upper, lower=a.lower)
    elapsed = time.perf_counter() - t
    agg = df.groupby(["noise", "method"], sort=False).agg(
        towns=("seed", "count"), records=("records", "sum"), precision=("precision", "mean"),
        recall=("recall", "mean"), no_number_right=("no_number_right", "mean"), wrong_links=("wrong_links", "sum"),
        review=("review", "sum"), review_rate=("review_rate", "mean"), town=("town", "first")).reset_index()
    print(f"名寄せ evaluation — {a.residents} residents, seeds {seeds}, upper {a.upper}, lower {a.lower} "
          f"(towns: {agg['town'].iat[0]})")
    head = f"{'noise':<7} {'method':<22} {'rows':>7} {'precision':>9} {'recall':>7} {'no-number→right':>15} " \
           f"{'wrong':>6} {'review':>7} {'review%':>8}"
    print(head)
    print("-" * len(head))
    for r in agg.itertuples(index=False):
        print(f"{r.noise:<7} {_pad(r.method, 22)} {r.records:>7} {r.precision:>9.4f} {r.recall:>7.4f} "
              f"{r.no_number_right:>15.4f} {r.wrong_links:>6} {r.review:>7} {100 * r.review_rate:>7.2f}%")
    eng = agg[agg["method"] == "engine"]
    ok = (eng["no_number_right"] >= 0.99).all() and (eng["wrong_links"] == 0).all() and \
        (eng["precision"] >= 0.999).all() and (eng["review_rate"] <= 0.03).all()
    print(f"targets met: {'yes' if ok else 'NO'}   ({elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
