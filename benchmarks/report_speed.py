"""Case-conference packet speed: render a packet for 50 children (target, issue 7: under 10 s).

    python benchmarks/report_speed.py [--children 50] [--demo [RESIDENTS]] [--keep DIR]
    python benchmarks/report_speed.py --screenshots docs/images     # the README's report_*.png (pdftoppm -r 60)

The town is the model-built one of tests/test_reports_world.py (households with records from every department,
three scoring runs, casework); ``--demo`` builds the demo town through import, linkage and scoring instead.
Printed: the time to read the data and lay out the packet (the number that matters to a coordinator pressing
"print"), its pages, and the assessment sheet and school sheet times for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "tests"))
os.environ.setdefault("KODOMO_KDF_TARGET_MS", "50")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--children", type=int, default=50)
    ap.add_argument("--demo", nargs="?", const=3000, type=int, help="use the demo town with N residents")
    ap.add_argument("--keep", help="write the PDFs into this folder")
    ap.add_argument("--screenshots", help="render every document on the model town and write report_*.png here")
    args = ap.parse_args()
    if args.screenshots:
        return screenshots(Path(args.screenshots))

    from sqlalchemy import select

    from kodomo_desktop.core.reports import service as R
    from kodomo_desktop.core.reports.data import school_info
    from kodomo_desktop.core.storage.models import ChildScore
    from kodomo_desktop.core.workspace import Workspace

    tmp = Path(tempfile.mkdtemp(prefix="kodomo-report-bench-"))
    out_dir = Path(args.keep) if args.keep else tmp
    out_dir.mkdir(parents=True, exist_ok=True)
    password = "bench"
    t = time.perf_counter()
    if args.demo:
        from kodomo_desktop.core.demo.service import build_demo

        build_demo(tmp / "b.db", residents=args.demo, seed=1, password=password)
        ws = Workspace.open(tmp / "b.db", password)
        town = f"demo town, {args.demo} residents"
    else:
        from test_reports_world import build_world

        ws = Workspace.create(tmp / "b.db", password)
        build_world(ws, households=max(60, args.children * 2))
        town = "model-built town"
    setup = time.perf_counter() - t
    try:
        with ws.session() as s:
            ranked = list(
                dict.fromkeys(
                    s.scalars(
                        select(ChildScore.person_id).order_by(
                            ChildScore.run_id.desc(), ChildScore.flagged.desc(), ChildScore.total.desc()
                        )
                    )
                )
            )
        from kodomo_desktop.core.linkage.service import opted_out_persons

        with ws.session() as s:
            excluded = opted_out_persons(s)
        ids = [p for p in ranked if p not in excluded][: args.children]

        t = time.perf_counter()
        packet = R.conference_pdf(ws, ids, out_dir / "packet.pdf")
        packet_s = time.perf_counter() - t

        t = time.perf_counter()
        sheet = R.assessment_pdf(ws, ids[0], out_dir / "assessment.pdf")
        sheet_s = time.perf_counter() - t

        with ws.session() as s:
            school = next((i["school"] for i in school_info(s, ids).values()), None)
        school_s, school_pages = None, None
        if school:
            t = time.perf_counter()
            school_pages = R.school_sheet_pdf(ws, school, out_dir / "school.pdf")["pages"]
            school_s = time.perf_counter() - t
    finally:
        ws.close()
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    result = {
        "town": town,
        "setup_s": round(setup, 2),
        "children": len(ids),
        "packet_pages": packet["pages"],
        "packet_s": round(packet_s, 2),
        "target_s": 10,
        "ok": packet_s < 10,
        "assessment_pages": sheet["pages"],
        "assessment_s": round(sheet_s, 2),
        "school_sheet_pages": school_pages,
        "school_sheet_s": round(school_s, 2) if school_s else None,
    }
    print(f"{len(ids)}-child conference packet: {packet['pages']} pages in {packet_s:.2f} s (target < 10 s)")
    print(json.dumps(result, ensure_ascii=False))


def screenshots(folder: Path) -> None:
    """First pages of every document (and the packet's second page) as PNG at 60 dpi, for the README."""
    import shutil
    import subprocess

    from test_reports_world import build_world

    from kodomo_desktop.core.reports import service as R
    from kodomo_desktop.core.workspace import Workspace

    folder.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="kodomo-report-shots-"))
    ws = Workspace.create(tmp / "s.db", "shots")
    try:
        w = build_world(ws, households=30)
        docs = {
            "assessment": lambda p: R.assessment_pdf(ws, w["focus"], p),
            "conference": lambda p: R.conference_pdf(ws, [], p, conference_id=w["conference_id"]),
            "school_sheet": lambda p: R.school_sheet_pdf(ws, w["schools"][0], p),
            "handover": lambda p: R.handover_pdf(ws, w["focus"], p, "進学"),
            "round_stats": lambda p: R.round_stats_pdf(ws, w["round_id"], p),
        }
        for kind, make in docs.items():
            pdf = tmp / f"{kind}.pdf"
            pages = make(pdf)["pages"]
            wanted = [(1, f"report_{kind}.png")] + ([(2, f"report_{kind}_2.png")] if kind == "conference" else [])
            if kind == "conference" and pages >= 3:
                wanted.append((3, f"report_{kind}_3.png"))
            for page, name in wanted:
                stem = tmp / f"{kind}-{page}"
                subprocess.run(
                    [
                        "pdftoppm",
                        "-png",
                        "-r",
                        "60",
                        "-f",
                        str(page),
                        "-l",
                        str(page),
                        "-singlefile",
                        str(pdf),
                        str(stem),
                    ],
                    check=True,
                )
                shutil.copyfile(f"{stem}.png", folder / name)
                print(folder / name)
    finally:
        ws.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
