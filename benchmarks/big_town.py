"""A 200,000-person database for the GUI's long lists, built straight into the store (no department files) and
cached: the registry's persons and households, one school list linked to the school-age children, and — for the
other long lists — a score run over every child, a 名寄せ review queue of 20,000 records (a 健診 file with spelling
variants), 300,000 access-log entries (a correct hash chain), 3,000 import batches (years of monthly extracts) and a
batch with 60,000 rejected rows.

    python benchmarks/big_town.py [--persons 200000] [--db FILE]

prints how long the child list takes to fetch, to filter by name and by kana, and to open in the GUI (offscreen);
``python benchmarks/big_lists.py`` prints the same for every long list. Goal (issue 21): opening a list and
searching under 0.5 s at 200,000 persons. ``tests/gui/test_big_lists.py`` uses :func:`build` (cached under
~/.cache/kodomo-desktop/, see :func:`default_db`; rebuilt when :data:`CACHE_VERSION` or the schema changes) and checks the behaviour; the timings are printed here.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "big-town-password-1"
AS_OF = dt.date(2026, 11, 1)
CACHE_VERSION = 3  # bump when build() makes something new: the cached store is rebuilt
REVIEW_RECORDS = 20_000
LOG_ENTRIES = 300_000
BATCHES = 3_000
REJECTED_ROWS = 60_000


def default_db() -> Path:
    """Where the store is cached: outside the work tree, so a fresh clone on the same machine (CI) reuses it.

    ``KODOMO_BIG_TOWN`` names another file. The folder carries the cache version and the newest migration, so a
    clone with another schema never opens (or upgrades) a store another clone uses."""
    if os.environ.get("KODOMO_BIG_TOWN"):
        return Path(os.environ["KODOMO_BIG_TOWN"])
    versions = ROOT / "kodomo_desktop" / "core" / "storage" / "migrations" / "versions"
    head = max((p.name[:4] for p in versions.glob("[0-9][0-9][0-9][0-9]_*.py")), default="0000")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "kodomo-desktop" / f"big-town-v{CACHE_VERSION}-m{head}" / "big.db"


def _version_file(db: Path) -> Path:
    return Path(str(db) + ".version")


def build(db: Path, persons: int = 200_000, seed: int = 7) -> Path:
    """Build (once) a database of ``persons`` residents; returns its path. Rebuilt if the file is missing.

    Two processes (two clones' test runs) asking at once: the second waits for the first's build."""
    db = Path(db)
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.parent / "build.lock", "a") as lock:
        try:
            import fcntl

            fcntl.flock(lock, fcntl.LOCK_EX)
        except ImportError:  # Windows: no flock; one run at a time there
            pass
        return _build(db, persons, seed)


def _build(db: Path, persons: int, seed: int) -> Path:
    vf = _version_file(db)
    if (
        db.exists()
        and Path(str(db) + ".keys").exists()
        and vf.exists()
        and vf.read_text().strip() == str(CACHE_VERSION)
    ):
        return db
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import text

    from kodomo_desktop.core.demo import names as N
    from kodomo_desktop.core.storage.models import Household, Link, Person, SourceBatch, SourceRecord
    from kodomo_desktop.core.text.normalize import norm_kana_series, norm_name_series
    from kodomo_desktop.core.workspace import Workspace

    db.parent.mkdir(parents=True, exist_ok=True)
    for p in (db, Path(str(db) + ".keys"), vf):
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
            # the build's own connection gets a page cache the size of the store: its B-trees are built in memory,
            # not decrypted and encrypted again page by page through the application's 32 MB
            s.connection().exec_driver_sql("PRAGMA cache_size = -400000")
            _bulk(s, Household.__table__, hh)
            with _indexes_after(s.connection(), "person"):
                _bulk(s, Person.__table__, rows)
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
            _bulk(s, SourceRecord.__table__, recs)
            ids = s.execute(text("SELECT id, row_number FROM source_record WHERE batch_id = :b"), {"b": b.id}).all()
            by_row = {rn: kids[rn - 2]["id"] for _, rn in ids}
            links = [
                {"record_id": rid, "person_id": by_row[rn], "status": "auto", "method": "resident_no"}
                for rid, rn in ids
            ]
            _bulk(s, Link.__table__, links)
            b.rows_total = b.rows_imported = len(recs)
            school_of = {kids[rn - 2]["id"]: recs[rn - 2]["school"] for _, rn in ids}
        _scores(ws, rows, school_of, r)
        _review_queue(ws, rows, r)
        _batches_and_rejected(ws, r)
        _access_log(ws, rows, r)
    finally:
        ws.close()
    vf.write_text(str(CACHE_VERSION))
    return db


def _age(birth: dt.date) -> int:
    return AS_OF.year - birth.year - ((AS_OF.month, AS_OF.day) < (birth.month, birth.day))


def _bulk(s, table, rows: list[dict], serialised: tuple[str, ...] = ()) -> None:
    """``INSERT`` of many rows through the driver's executemany with tuples, each value put through its column's own
    SQLAlchemy bind processor (JSON, dates, booleans stored as the application stores them) and the columns' Python
    defaults filled in: SQLAlchemy's per-row parameter handling of ``insert(table)`` was half of the build's time.
    ``serialised``: JSON columns whose values are already the text ``json.dumps`` makes of them (what SQLAlchemy's
    JSON type stores), written as they are."""
    if not rows:
        return
    conn = s.connection()
    dialect = conn.dialect
    given = list(rows[0])
    missing = [c for c in table.c if c.name not in rows[0] and c.default is not None]
    cols = [table.c[k] for k in given] + missing
    procs = [None if c.name in serialised else c.type._cached_bind_processor(dialect) for c in cols]
    defaults = [c.default.arg(None) if c.default.is_callable else c.default.arg for c in missing]
    sql = (
        f'INSERT INTO "{table.name}" ({", ".join(f"{chr(34)}{c.name}{chr(34)}" for c in cols)}) '
        f"VALUES ({', '.join('?' * len(cols))})"
    )
    fixed = [p(d) if p is not None else d for p, d in zip(procs[len(given) :], defaults)]  # the same in every row
    for i in range(0, len(rows), 20_000):
        chunk = rows[i : i + 20_000]
        # column by column (a processor mapped over a column, then the columns zipped into rows): the same tuples as
        # a processor call per value in a generator per row, in about a third of the time
        columns: list = []
        for k, p in zip(given, procs):
            values = [row[k] for row in chunk]
            columns.append(values if p is None else list(map(p, values)))
        columns += [[v] * len(chunk) for v in fixed]
        conn.exec_driver_sql(sql, list(zip(*columns)))


@contextlib.contextmanager
def _indexes_after(conn, table: str):
    """The table's own indexes (those with a CREATE INDEX statement; not the primary key's) dropped for the bulk
    insert and made again afterwards from the statements SQLite kept: the same schema, each index built once from
    sorted keys instead of 200,000 inserts in key order of none (person's 6 indexes were half of its insert)."""
    made = conn.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (table,)
    ).all()
    for name, _ in made:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    yield
    for _, sql in made:
        conn.exec_driver_sql(sql)


def _scores(ws, rows: list[dict], school_of: dict, r: random.Random) -> None:
    """A score run over every child 0–18 (the list columns filled as run_scoring fills them): most children score
    nothing, a tail scores in 低/中/高 with one to three reasons, about 3% are flagged."""

    from kodomo_desktop.core.scoring import listing as LS
    from kodomo_desktop.core.scoring import service as S
    from kodomo_desktop.core.scoring.explain import Reason, ScoreDetails, TypeScore
    from kodomo_desktop.core.storage.models import ChildScore, ScoreRun

    cat = S.catalogue()
    weights = S.active_weights(ws)
    bands = [b["label"] for b in weights["data"]["bands"]]  # top first: 高, 中, 低
    colors = {b["label"]: b.get("color") for b in weights["data"]["bands"]}
    top = len(bands) - 1
    types = list(cat["difficulty_types"])
    inds = [i for i in cat["indicators"] if i.get("kind") == "own"][:12] or cat["indicators"][:12]
    age_bands = cat["age_bands"]
    children = [p for p in rows if 0 <= _age(p["birth_date"]) <= 18]
    out = []
    with ws.session() as s:
        run = ScoreRun(as_of=AS_OF, weight_set_id=weights["weight_set_id"], created_by="big_town")
        s.add(run)
        s.flush()
        flagged_n = 0
        plain: dict[tuple, dict] = {}
        for p in children:
            age = _age(p["birth_date"])
            band_of_age = next((b["label"] for b in age_bands if b["min"] <= age <= b["max"]), "")
            x = r.random()
            n_reasons = 0 if x < 0.85 else 1 if x < 0.95 else 2 if x < 0.99 else 3
            reasons = []
            for ind in r.sample(inds, n_reasons):
                reasons.append(
                    Reason(indicator=ind["id"], label=ind.get("label_ja") or ind["id"], points=r.choice((2, 3, 5)))
                )
            total = float(sum(x.points for x in reasons))
            level = 2 if total >= 8 else 1 if total >= 5 else 0
            level = min(level, top)
            band = bands[top - level]
            t = r.choice(types) if reasons else None
            flagged = level >= 1 and total >= 5
            flagged_n += flagged
            newly, yotaikyo = flagged and r.random() < 0.3, flagged and r.random() < 0.1
            key = (age, band_of_age, school_of.get(p["id"], "")) if not reasons else None
            if key is not None and key in plain:  # (most children: no reason, the same details as others alike)
                out.append({**plain[key], "person_id": p["id"]})
                continue
            ts = {t: TypeScore(points=total, band=band, flagged=flagged)} if t else {}
            d = ScoreDetails(
                as_of=AS_OF.isoformat(),
                total=total,
                own_points=total,
                band=band,
                band_level=level,
                band_color=colors.get(band),
                weight_set_id=weights["weight_set_id"],
                weight_set_version=weights["version"],
                age=age,
                age_band=band_of_age,
                school=school_of.get(p["id"], ""),
                types=ts,
                flagged_types=[t] if flagged and t else [],
                flagged=flagged,
                reasons=reasons,
                newly_flagged=newly,
                yotaikyo_active=yotaikyo,
            ).to_dict()
            row = {
                "run_id": run.id,
                "person_id": p["id"],
                "total": total,
                "band": band,
                "types": "、".join(d["flagged_types"]),
                "basic_items": 0,
                "flagged": flagged,
                "school_points": 0.0,
                "details": d,
            }
            if key is not None:
                plain[key] = row
            out.append(row)
        LS.fill_list_keys(out)
        text_of: dict[int, str] = {}  # one json.dumps per details object (the plain rows share theirs)
        for row in out:
            d = row["details"]
            row["details"] = text_of.get(id(d)) or text_of.setdefault(id(d), json.dumps(d))
        with _indexes_after(s.connection(), "child_score"):
            _bulk(s, ChildScore.__table__, out, serialised=("details",))
        run.summary = {"children": len(out), "flagged": flagged_n, "newly_flagged": 0, "weight_set_version": 1}


def _variant(name: str, r: random.Random) -> str:
    """A spelling variant as a department writes it (old form, a dropped space, a long vowel)."""
    for a, b in (("斎", "齋"), ("高", "髙"), ("崎", "﨑"), ("辺", "邊"), ("沢", "澤")):
        if a in name:
            return name.replace(a, b, 1)
    return name.replace(" ", "") if r.random() < 0.5 else name


def _review_queue(ws, rows: list[dict], r: random.Random) -> None:
    """A 乳幼児健診 file of REVIEW_RECORDS children, each record in review with two or three candidates."""
    from sqlalchemy import text

    from kodomo_desktop.core.storage.models import Link, SourceBatch, SourceRecord

    young = [p for p in rows if _age(p["birth_date"]) <= 5]
    picked = r.sample(young, min(REVIEW_RECORDS, len(young)))
    parts = [
        ("name", "氏名", "表記ゆれ（旧字体）", 4.1),
        ("name_kana", "カナ", "一致", 5.2),
        ("birth_date", "生年月日", "一致", 6.3),
        ("sex", "性別", "一致", 0.9),
        ("address", "住所", "不一致", -2.4),
    ]
    with ws.session() as s:
        b = SourceBatch(
            source_type="maternal_child_health",
            file_name="乳幼児健診_ひなた市.csv",
            file_hash="big-town-checkups",
            as_of=AS_OF,
            rows_total=len(picked),
            rows_imported=len(picked),
        )
        s.add(b)
        s.flush()
        recs = [
            {
                "batch_id": b.id,
                "source_type": "maternal_child_health",
                "row_number": i + 2,
                "subject": "self",
                "raw": {},
                "name": _variant(p["name"], r),
                "name_kana": p["name_kana"],
                "birth_date": p["birth_date"],
                "sex": p["sex"],
                "address": p["address"],
                "record_date": AS_OF,
                "attributes": {"checkup": "1歳6か月児健診"},
            }
            for i, p in enumerate(picked)
        ]
        from kodomo_desktop.core.text.normalize import norm_kana_series, norm_name_series

        names = norm_name_series([x["name"] for x in recs])
        kanas = norm_kana_series([x["name_kana"] for x in recs])
        for x, a, k in zip(recs, names, kanas):
            x["name_norm"], x["kana_norm"] = a, k
        _bulk(s, SourceRecord.__table__, recs)
        got = s.execute(text("SELECT id, row_number FROM source_record WHERE batch_id = :b"), {"b": b.id}).all()
        links = []
        for rid, rn in got:
            p = picked[rn - 2]
            w = round(r.uniform(-2.0, 6.0), 2)
            expl = [
                {"field": f, "label_ja": lab, "level_ja": lvl, "weight": round(wt + r.uniform(-0.5, 0.5), 2)}
                for f, lab, lvl, wt in parts
            ]
            other = r.choice(rows)["id"]
            cands = [
                {"person_id": p["id"], "match_weight": w, "match_probability": 0.5, "explanation": expl},
                {"person_id": other, "match_weight": round(w - r.uniform(1, 4), 2), "match_probability": 0.2},
            ]
            links.append(
                {
                    "record_id": rid,
                    "person_id": p["id"],
                    "status": "review",
                    "score": w,
                    "probability": 0.5,
                    "method": "probabilistic",
                    "explanation": expl,
                    "candidates": cands,
                }
            )
        _bulk(s, Link.__table__, links)


def _batches_and_rejected(ws, r: random.Random) -> None:
    """BATCHES monthly extracts of earlier years (each superseded by the next of its school) and one 健診 file with
    REJECTED_ROWS rows left out (row, column, reason)."""
    from sqlalchemy import insert, text

    from kodomo_desktop.core.storage.models import RejectedRow, SourceBatch

    with ws.session() as s:
        first = int(s.execute(text("SELECT coalesce(max(id), 0) FROM source_batch")).scalar() or 0) + 1
        rows, schools = [], 30
        for i in range(BATCHES):
            school = i % schools + 1
            month = i // schools
            as_of = dt.date(2018 + month // 12, month % 12 + 1, 1)
            rows.append(
                {
                    "id": first + i,
                    "source_type": "school_attendance",
                    "file_name": f"出欠状況_ひなた市立第{school}小学校_{as_of:%Y%m}.csv",
                    "file_hash": f"big-town-month-{i}",
                    "as_of": as_of,
                    "imported_at": dt.datetime.combine(as_of, dt.time(9, 30)) + dt.timedelta(days=3),
                    "imported_by": r.choice(("coordinator", "tanaka", "suzuki")),
                    "rows_total": 0,
                    "rows_imported": 0,
                    "rows_rejected": 0,
                    "scope": f"第{school}小学校",
                    "superseded_by": first + i + schools if i + schools < BATCHES else None,
                }
            )
        s.execute(insert(SourceBatch), rows)
        bad = SourceBatch(
            source_type="maternal_child_health",
            file_name="乳幼児健診_旧システム出力.csv",
            file_hash="big-town-rejected",
            as_of=AS_OF,
            rows_total=REJECTED_ROWS + 100,
            rows_imported=0,
            rows_rejected=REJECTED_ROWS,
        )
        s.add(bad)
        s.flush()
        reasons = [
            ("生年月日", "生年月日「{v}」を日付として読めません"),
            ("氏名", "氏名が空です"),
            ("宛名番号", "宛名番号「{v}」は10桁の数字ではありません"),
            ("性別", "性別「{v}」は 男・女・1・2 のいずれでもありません"),
        ]
        rej = []
        for i in range(REJECTED_ROWS):
            col, msg = reasons[i % len(reasons)]
            rej.append(
                {
                    "batch_id": bad.id,
                    "row_number": i + 2,
                    "column": col,
                    "message": msg.format(v=f"R{i % 977}"),
                    "raw": {},
                }
            )
        _bulk(s, RejectedRow.__table__, rej)


def _access_log(ws, rows: list[dict], r: random.Random) -> None:
    """LOG_ENTRIES entries over a year after the store's own, chained as audit.append chains them."""
    from sqlalchemy import text

    from kodomo_desktop.core.audit.log import GENESIS, entry_hash

    users = ("coordinator", "tanaka", "suzuki", "auditor")

    def view_person() -> str:
        records, household = r.randint(1, 9), r.randint(0, 5)
        return f'{{"household_records": {household}, "records": {records}}}'

    # each detail as the text json.dumps(..., ensure_ascii=False, sort_keys=True) makes of it (as audit.append
    # writes it), formatted directly
    kinds = (
        ("view_person", True, view_person),
        ("search", False, lambda: f'{{"results": {r.randint(0, 40)}, "scope": "children"}}'),
        ("view_list", False, lambda: f'{{"list": "prioritised", "rows": {r.randint(10, 900)}, "run_id": 1}}'),
        ("score_viewed", True, lambda: '{"run_id": 1}'),
    )
    # the driver's own executemany with tuples: SQLAlchemy's per-row parameter handling was most of the build's time
    ins = "INSERT INTO access_log (seq, at, user, action, person_id, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    start = dt.datetime(2025, 11, 1, 8, 30, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    with ws.engine.begin() as c, _indexes_after(c, "access_log"):
        last = c.execute(text("SELECT seq, hash FROM access_log ORDER BY seq DESC LIMIT 1")).first()
        seq, prev = (last[0], last[1]) if last else (0, GENESIS)
        batch = []
        for i in range(LOG_ENTRIES):
            seq += 1
            action, personal, detail = kinds[i % len(kinds)]
            at = (start + dt.timedelta(seconds=i * 100)).isoformat(timespec="seconds")
            pid = r.choice(rows)["id"] if personal else None
            d = detail()
            user = users[i % 3] if i % 50 else users[3]
            h = entry_hash(seq, at, user, action, pid, d, prev)
            batch.append((seq, at, user, action, pid, d, prev, h))
            prev = h
            if len(batch) == 20_000:
                c.exec_driver_sql(ins, batch)
                batch = []
        if batch:
            c.exec_driver_sql(ins, batch)


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
    ap.add_argument("--db", type=Path, default=None)
    a = ap.parse_args()
    a.db = a.db or default_db()
    t = time.perf_counter()
    build(a.db, a.persons)
    print(f"database ready in {time.perf_counter() - t:.1f} s ({a.persons:,} persons): {a.db}")
    for k, v in timings(a.db).items():
        print(f"  {k:<18} {v:.3f}" if isinstance(v, float) else f"  {k:<18} {v:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
