"""Re-scoring after a weight change: 3,000-resident town and 200,000-resident city (goals < 0.5 s and < 30 s).

The indicator hits are built once from the database; a weight change re-applies only the hits × points product,
which is what this times. Generated data only. usage: python benchmarks/scoring_speed.py [--big 200000]
"""
import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kodomo_desktop.core.scoring import engine as E  # noqa: E402
from kodomo_desktop.core.scoring import service as S  # noqa: E402


def synthetic_inputs(residents: int, seed: int = 1):
    """Persons and linked records shaped like the demo town's, generated in bulk."""
    rng = np.random.default_rng(seed)
    on = dt.date(2026, 10, 1)
    n = residents
    persons = pd.DataFrame({"person_id": [f"P{i:07d}" for i in range(n)],
                            "household_id": [f"H{i // 3:07d}" for i in range(n)],
                            "birth_date": pd.to_datetime("2026-10-01") - pd.to_timedelta(rng.integers(0, 80 * 365, n), "D"),
                            "name": ""})
    k = n // 3
    who = rng.choice(persons["person_id"].to_numpy(), k)
    kinds = rng.choice(["school_attendance", "maternal_child_health", "tax", "yotaikyo", "child_rearing_allowance"], k)
    attrs = []
    for kind in kinds:
        if kind == "school_attendance":
            attrs.append({"absence_days": int(rng.integers(0, 45)), "late_days": int(rng.integers(0, 20)),
                          "nurse_visits": int(rng.integers(0, 15))})
        elif kind == "maternal_child_health":
            attrs.append({"checkup_status": "未受診" if rng.random() < 0.1 else "受診", "q_hit_emotionally": rng.random() < 0.05})
        elif kind == "tax":
            attrs.append({"tax_status": "非課税" if rng.random() < 0.2 else "課税"})
        else:
            attrs.append({"status": "継続"})
    records = pd.DataFrame({"person_id": who, "source_type": kinds, "record_date": on - dt.timedelta(days=30),
                            "attributes": attrs, "school": "第一小学校", "file_name": "bench", "batch_id": 1,
                            "as_of": on})
    return persons, records, on


def bench(residents):
    cat = S.catalogue()
    persons, records, on = synthetic_inputs(residents)
    t = time.perf_counter()
    inp = E.build_hits(cat, persons, records, on)
    t_build = time.perf_counter() - t
    w = S.default_weights(cat)
    w["points"]["absence_30"] = {"不登校": 5}
    t = time.perf_counter()
    df = E.apply_weights(inp, cat, w)
    t_apply = time.perf_counter() - t
    print(f"{residents:>7} residents: {len(df):>6} children; hits built once {t_build:.2f} s; "
          f"re-score after a weight change {t_apply:.2f} s; flagged {int(df['flagged'].sum())}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--big", type=int, default=200_000)
    a = ap.parse_args()
    bench(3000)
    bench(a.big)
