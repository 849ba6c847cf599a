"""Quick look: ``python -m kodomo_desktop.core.demo OUT_DIR [--residents N] [--seed S] [--noise LEVEL]``.

Writes the demo town's department files and ``sources.csv`` into OUT_DIR and prints a summary (JSON) on stdout.
``--truth FILE`` also writes the ground truth (row → person key, planted cases, namesakes, twins) as JSON to FILE,
which must lie outside OUT_DIR (the department folder holds only department files and the manifest).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

from .files import write_department_files
from .town import NoiseProfile, generate_town


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m kodomo_desktop.core.demo", description="synthetic demo town files")
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--residents", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--noise", default="demo", choices=["demo", "clean", "low", "medium", "high"])
    ap.add_argument("--truth", type=Path, help="write the ground truth as JSON here (outside OUT_DIR)")
    a = ap.parse_args(argv)
    out = a.out_dir.resolve()
    if a.truth is not None and out in a.truth.resolve().parents:
        ap.error("--truth must not be inside OUT_DIR")
    t0 = time.perf_counter()
    town = generate_town(a.residents, a.seed, NoiseProfile.named(a.noise))
    t1 = time.perf_counter()
    files = write_department_files(town, out)
    t2 = time.perf_counter()
    summary = {
        "out_dir": str(out),
        **town.summary(),
        "seconds": {"town": round(t1 - t0, 2), "files": round(t2 - t1, 2)},
        "files": [
            {
                "file_name": f.file_name,
                "source_type": f.source_type,
                "rows": len(f.rows),
                "header_row": f.header_row,
                "invalid_rows": f.invalid_rows,
            }
            for f in files
        ],
    }
    sys.stdout.write(json.dumps(summary, ensure_ascii=False, indent=1, default=str) + "\n")
    if a.truth is not None:
        tr = town.truth
        doc = {
            "as_of": town.as_of.isoformat(),
            "seed": a.seed,
            "noise": asdict(town.noise),
            "strong_cases": tr.strong_cases,
            "planted": [asdict(c) for c in tr.planted],
            "namesakes": tr.namesakes,
            "twins": tr.twins,
            "remarried": tr.remarried,
            "moved_away": tr.moved_away,
            "files": {
                f.file_name: {
                    "source_type": f.source_type,
                    "rows": f.rows,
                    "invalid_rows": f.invalid_rows,
                    "unknown_cells": f.unknown_cells,
                    "empty_rows": f.empty_rows,
                    "noise": {str(k): v for k, v in f.noise.items()},
                }
                for f in files
            },
        }
        a.truth.write_text(json.dumps(doc, ensure_ascii=False, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
