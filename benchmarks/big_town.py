"""A 200,000-person database for the GUI's long lists, built straight into the store (no department files) and
cached: the registry's persons and households, one school list linked to the school-age children, a score run.

    python benchmarks/big_town.py [--persons 200000] [--db build/big/big.db]

prints how long the child list takes to fetch, to filter by name and by kana, and to open in the GUI (offscreen).
Goal (issue 21): opening the list and searching under 0.5 s at 200,000 persons. ``tests/gui/test_big_lists.py``
uses :func:`build` (cached under build/big/) and checks the behaviour; the timings are printed here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "big-town-password-1"
AS_OF = dt.date(2026, 11, 1)


def build(db: Path, persons: int = 200_000, seed: int = 7) -> Path:
    """Build (once) a database of ``persons`` residents; returns its path. Rebuilt if the file is missing."""
    db = Path(db)
    if db.exists() and Path(str(db) + ".keys").exists():
        return db
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import insert, text

    from kodomo_desktop.core.demo import names as N
    from kodomo_desktop.core.storage.models import Household, Link, Person, SourceBatch, SourceRecord
    from kodomo_desktop.core.text.normalize import norm_kana_series, norm_name_series
    from kodomo_desktop.core.workspace import Workspace

    db.parent.mkdir(parents=True, exist_ok=True)
    for p in (db, Path(str(db) + ".keys")):
        p.unlink(missing_ok=True)
    r = random.Random(seed)
    sur = [(k, kana) for k, kana, w, _, _ in N.SURNAMES for _ in range(max(1, int(w)))]
    boys, girls = N.BOYS_CHILD + N.BOYS_ADULT, N.GIRLS_CHILD + N.GIRLS_ADULT
    rows, hh = [], []
    n = 0
    h = 0
    while n < persons:
        h += 1
        s_k, s_kana = r.choice(sur)
        size = min(persons - n, r.choice((1, 2, 2, 3, 3, 4, 4, 5)))
        hid = f"H{h:07d}"
        hh.append({"id": hid, "household_no": f"{h:09d}", "address": f"ひなた市中央{h % 40 + 1}丁目{h % 977 + 1}番"})
        for j in range(size):
            n += 1
            sex = r.choice((1, 2))
            g_k, g_kana = r.choice(boys if sex == 1 else girls)
            age = r.randint(30, 60) if j < 2 and size > 1 else r.randint(0, 90) if size == 1 else r.randint(0, 18)
            birth = AS_OF - dt.timedelta(days=int(age * 365.25) + r.randint(0, 364))
            rows.append(
                {
                    "id": f"P{n:07d}",
                    "household_id": hid,
                    "resident_no": f"{n:010d}",
                    "name": f"{s_k} {g_k}",
                    "name_kana": f"{s_kana} {g_kana}",
                    "birth_date": birth,
                    "sex": sex,
                    "address": hh[-1]["address"],
                    "relationship": "世帯主" if j == 0 else ("子" if j >= 2 or size == 1 else "妻"),
                    "in_registry": True,
                }
            )
    names = norm_name_series([p["name"] for p in rows])
    kanas = norm_kana_series([p["name_kana"] for p in rows])
    for p, a, b in zip(rows, names, kanas):
        p["name_norm"], p["kana_norm"] = a, b
    ws = Workspace.create(db, PASSWORD)
    try:
        with ws.session() as s:
            s.execute(insert(Household), hh)
            for i in range(0, len(rows), 20_000):
                s.execute(insert(Person), rows[i : i + 20_000])
            b = SourceBatch(
                source_type="school_attendance",
                file_name="出欠状況_ひなた市立小中学校.csv",
                file_hash="big-town-school",
                as_of=AS_OF,
                rows_total=0,
                rows_imported=0,
            )
            s.add(b)
            s.flush()
            kids = [p for p in rows if 6 <= (AS_OF - p["birth_date"]).days // 365 <= 14]
            recs = [
                {
                    "batch_id": b.id,
                    "source_type": "school_attendance",
                    "row_number": i + 2,
                    "subject": "self",
                    "raw": {},
                    "name": p["name"],
                    "birth_date": p["birth_date"],
                    "sex": p["sex"],
                    "school": f"ひなた市立第{int(p['household_id'][1:]) % 30 + 1}小学校",
                    "grade": str((AS_OF - p["birth_date"]).days // 365 - 5),
                    "class_name": str(i % 4 + 1),
                    "record_date": AS_OF,
                    "attributes": {"absence_days": i % 40},
                }
                for i, p in enumerate(kids)
            ]
            for i in range(0, len(recs), 20_000):
                s.execute(insert(SourceRecord), recs[i : i + 20_000])
            ids = s.execute(text("SELECT id, row_number FROM source_record WHERE batch_id = :b"), {"b": b.id}).all()
            by_row = {rn: kids[rn - 2]["id"] for _, rn in ids}
            links = [
                {"record_id": rid, "person_id": by_row[rn], "status": "auto", "method": "resident_no"}
                for rid, rn in ids
            ]
            for i in range(0, len(links), 20_000):
                s.execute(insert(Link), links[i : i + 20_000])
            b.rows_total = b.rows_imported = len(recs)
    finally:
        ws.close()
    return db


def timings(db: Path) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import Qt

    from kodomo_desktop.core import persons as P
    from kodomo_desktop.core.workspace import Workspace

    ws = Workspace.open(db, PASSWORD)  # an older cached store gets the child-list index here (migration 0006)
    out: dict = {}

    def timed(label, f):
        t = time.perf_counter()
        r = f()
        out[label] = time.perf_counter() - t
        return r

    on = P.today()
    out["children"] = timed("count_children_s", lambda: P.child_count(ws, "", on))
    ids = timed("first_page_ids_s", lambda: P.child_ids(ws, "", on, limit=200))
    timed("first_page_rows_s", lambda: P.child_rows(ws, ids, on))
    timed("page_70000_ids_s", lambda: P.child_ids(ws, "", on, limit=200, offset=70_000))
    for label, q in (("search_name_s", "佐藤 陽"), ("search_kana_s", "ｻﾄｳ ﾊﾙ"), ("search_miss_s", "存在しない名前")):
        out[label[:-2] + "_hits"] = len(timed(label, lambda q=q: P.child_ids(ws, q, on)))
    out["search_fold_hits"] = len(
        timed("search_fold_s", lambda: P.child_ids(ws, "サトー ユータ", on))
    )  # fold level only
    from PySide6.QtWidgets import QApplication

    from kodomo_desktop.gui.app import register_fonts
    from kodomo_desktop.gui.pages.children_page import ChildrenPage

    app = QApplication.instance() or QApplication([])
    register_fonts(app)
    t = time.perf_counter()
    page = ChildrenPage(ws)  # the constructor fills the list (reload)
    app.processEvents()
    out["open_page_s"] = time.perf_counter() - t
    t = time.perf_counter()
    page.reload()
    app.processEvents()
    out["reload_page_s"] = time.perf_counter() - t
    for label, q in (("page_search_kana_s", "サトウ"), ("page_search_name_s", "佐藤 陽")):
        t = time.perf_counter()
        page.search.setText(q)
        page.apply_search(log=False)
        app.processEvents()
        out[label] = time.perf_counter() - t
        out[label[:-2] + "_rows"] = page.model.matches
    t = time.perf_counter()
    page.search.setText("")
    page.apply_search(log=False)
    page.view.sortByColumn(2, Qt.AscendingOrder)
    app.processEvents()
    out["page_sort_birth_s"] = time.perf_counter() - t
    t = time.perf_counter()
    page.view.scrollToBottom()
    app.processEvents()
    out["page_scroll_one_page_s"] = time.perf_counter() - t
    out["page_rows_fetched"] = page.model.rowCount()
    ws.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--persons", type=int, default=200_000)
    ap.add_argument("--db", type=Path, default=ROOT / "build" / "big" / "big.db")
    a = ap.parse_args()
    t = time.perf_counter()
    build(a.db, a.persons)
    print(f"database ready in {time.perf_counter() - t:.1f} s ({a.persons:,} persons): {a.db}")
    for k, v in timings(a.db).items():
        print(f"  {k:<18} {v:.3f}" if isinstance(v, float) else f"  {k:<18} {v:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
