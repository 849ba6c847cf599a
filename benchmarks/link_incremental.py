"""名寄せ after a small new batch (issue 21): a refit of the whole model vs an incremental run with the stored model.

    python benchmarks/link_incremental.py [--residents 30000] [--repeat 3] [--keep DIR]

A demo town of ``--residents`` (the demo's department files, not widened) is imported without one small department
file (生活保護受給者一覧, a few dozen rows at 30,000 residents) and linked once: the model is fitted and stored with the
pair cache (not timed). Then that file arrives, the new batch, and ``link`` runs on copies of that database, alternating:

* **refit** — the stored model removed first: the engine fits m, u, π and the term frequencies and compares every
  candidate pair (what every run with a new batch did before the stored model);
* **incremental** — the stored model and the cached comparisons reused: only the new pairs are compared.

Each run is timed in this process with ``time.process_time()`` (CPU seconds, the whole ``run_linkage``: registry sync,
frames, engine, writing links, digest). Printed: every run's CPU, the medians, the pairs compared and reused, and the
sizes of the stored model and of the pair cache. Run big ones under ``flock /tmp/kodomo-bigbench.lock``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "link-incremental-bench-1"
NEW_BATCH = "public_assistance"


def _copy(src: Path, dst: Path) -> None:
    for f in src.parent.glob(src.name + "*"):
        shutil.copy(f, dst.parent / (dst.name + f.name[len(src.name) :]))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--residents", type=int, default=30000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", type=Path)
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import text

    from kodomo_desktop.core.demo.files import write_department_files
    from kodomo_desktop.core.demo.town import generate_town
    from kodomo_desktop.core.importing.manifest import import_manifest, read_manifest
    from kodomo_desktop.core.importing.service import import_file
    from kodomo_desktop.core.linkage import service as L
    from kodomo_desktop.core.workspace import Workspace

    work = a.keep or Path(tempfile.mkdtemp(prefix="link-incremental-"))
    work.mkdir(parents=True, exist_ok=True)
    files = work / "files"
    if not (files / "sources.csv").exists():
        files.mkdir(exist_ok=True)
        write_department_files(generate_town(residents=a.residents, seed=1), files)
    entries = read_manifest(files / "sources.csv")
    new = next(e for e in entries if e.source_type == NEW_BATCH)
    base = work / "base.db"
    if not base.exists():
        ws = Workspace.create(work / "building.db", PASSWORD)
        try:
            import_manifest(ws, [e for e in entries if e is not new])
            first = L.run_linkage(ws)
            import_file(ws, new.path, new.source_type, as_of=new.as_of)
        finally:
            ws.close()
        _copy(work / "building.db", base)
        print(f"first run (fit): {first['pairs']} pairs", flush=True)

    runs: dict[str, list[float]] = {"refit": [], "incremental": []}
    last: dict[str, dict] = {}
    for k in range(a.repeat):
        for how in ("refit", "incremental") if k % 2 == 0 else ("incremental", "refit"):
            db = work / f"run_{how}.db"
            _copy(base, db)
            ws = Workspace.open(db, PASSWORD)
            try:
                if how == "refit":
                    with ws.session() as s:
                        s.execute(text("DELETE FROM link_model"))
                t = time.process_time()
                summary = L.run_linkage(ws)
                cpu = time.process_time() - t
                with ws.session() as s:
                    sizes = s.execute(
                        text("SELECT length(model), length(pairs), length(fit_state) FROM link_model")
                    ).one()
            finally:
                ws.close()
            expected = "full" if how == "refit" else "incremental"
            assert summary["mode"] == expected, (how, summary["mode"], summary["why"])
            runs[how].append(cpu)
            last[how] = {k: summary[k] for k in ("pairs", "pairs_compared", "pairs_reused", "written")}
            last[how]["model_bytes"], last[how]["pairs_bytes"], last[how]["fit_state_bytes"] = sizes
            print(f"{how:12s} CPU {cpu:6.2f} s  {last[how]}", flush=True)
    out = {
        "residents": a.residents,
        "new_batch_rows": sum(1 for _ in open(new.path, encoding="cp932", errors="replace")) - 1,
        **{f"{how}_cpu_median_s": round(statistics.median(v), 2) for how, v in runs.items()},
        **{f"{how}_cpu_s": [round(x, 2) for x in v] for how, v in runs.items()},
        **{how: v for how, v in last.items()},
    }
    print(json.dumps(out, ensure_ascii=False, indent=1))
    if a.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
