"""名寄せ speed and memory: link a 3,000- and a 30,000-resident synthetic town (every department's rows).

    python benchmarks/linkage_speed.py [--sizes 3000,30000] [--tracemalloc]

Each size runs in a fresh subprocess so that peak memory belongs to that size alone. Printed per size: rows,
candidate pairs, link time (the engine: normalisation, blocking, m/u estimation, scoring, decisions), the
process's peak RSS before and after linking (resource.getrusage), and — with --tracemalloc — the peak of Python
and NumPy allocations during linking (tracemalloc slows the run; its time is not the one reported).
Towns: the demo's (kodomo_desktop.core.demo, default noise profile, read back through the importer) or the engine's
own generator (--towns engine; it also scales to --sizes 200000). Target (issue 4): 30,000 residents < 60 s and
< 1 GB.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one(n: int, trace: bool, towns: str) -> dict:
    import resource
    import time

    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import linkage_harness as E

    from kodomo_desktop.core.linkage.engine import link_records

    town = E.demo_town(n, 1, "demo") if towns == "demo" else None
    source = "demo" if town is not None else "engine"
    town = town or E.synthetic_town(n, 1, E.NoiseProfile.medium())
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = time.perf_counter()
    res, info = link_records(town.registry, town.records, return_info=True)
    secs = time.perf_counter() - t
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {
        "towns": source,
        "residents": n,
        "registry": len(town.registry),
        "records": len(town.records),
        "pairs": info.pairs,
        "seconds": round(secs, 2),
        "peak_rss_mb_before": round(rss_before),
        "peak_rss_mb": round(rss_after),
        "auto": int((res["status"] == "auto").sum()),
        "review": int((res["status"] == "review").sum()),
    }
    if trace:
        import tracemalloc

        tracemalloc.start()
        link_records(town.registry, town.records)
        out["tracemalloc_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20)
        tracemalloc.stop()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="3000,30000")
    ap.add_argument("--tracemalloc", action="store_true")
    ap.add_argument("--towns", default="demo", help="demo (default profile; falls back to engine) or engine")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.one:
        print(json.dumps(one(a.one, a.tracemalloc, a.towns)))
        return 0
    print(
        f"{'towns':<6} {'residents':>9} {'registry':>8} {'records':>8} {'pairs':>9} {'link s':>7} {'RSS before':>10} "
        f"{'peak RSS':>9} {'tracemalloc':>11}"
    )
    for n in [int(x) for x in a.sizes.split(",") if x]:
        cmd = [sys.executable, __file__, "--one", str(n), "--towns", a.towns] + (
            ["--tracemalloc"] if a.tracemalloc else []
        )
        r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
        tm = f"{r['tracemalloc_peak_mb']} MB" if "tracemalloc_peak_mb" in r else "-"
        print(
            f"{r['towns']:<6} {r['residents']:>9} {r['registry']:>8} {r['records']:>8} {r['pairs']:>9} {r['seconds']:>7.1f} "
            f"{r['peak_rss_mb_before']:>7} MB {r['peak_rss_mb']:>6} MB {tm:>11}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
