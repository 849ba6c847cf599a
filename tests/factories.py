"""Small synthetic worlds inserted straight through the models, for unit tests of services that sit after import,
linkage and scoring. Names are invented (generic surnames, 試験-style given names); never real people."""

import datetime as dt

from kodomo_desktop.core.storage.models import ChildScore, Household, Link, Person, ScoreRun, SourceBatch, SourceRecord

SCHOOLS = ["第一小学校", "第二小学校", "中央中学校"]


def small_world(ws, children: int = 12, as_of=dt.date(2026, 9, 1)):
    """``children`` children in households of two, at three schools, each with one school record and a score."""
    with ws.session() as s:
        b = SourceBatch(
            source_type="school_attendance",
            file_name="出欠.xlsx",
            file_hash="x" * 64,
            as_of=as_of,
            rows_total=children,
            rows_imported=children,
        )
        s.add(b)
        run = ScoreRun(as_of=as_of)
        s.add(run)
        s.flush()
        ids = []
        for i in range(children):
            # siblings i and i + children//2 share a household
            hidx = i % max(1, children // 2)
            h = Household(id=f"H{hidx + 1:06d}", household_no=f"90{hidx:05d}")
            if i < max(1, children // 2):
                s.add(h)
                s.flush()
            pid = f"P{i + 1:06d}"
            s.add(
                Person(
                    id=pid,
                    household_id=h.id,
                    resident_no=f"10{i:08d}",
                    name=f"試験 子{i + 1:02d}",
                    name_kana=f"シケン コ{i + 1:02d}",
                    birth_date=dt.date(2014 + i % 4, 4, 1 + i),
                    sex=1 + i % 2,
                )
            )
            s.flush()
            school = SCHOOLS[i % 3]
            rec = SourceRecord(
                batch_id=b.id,
                source_type="school_attendance",
                row_number=i + 2,
                raw={},
                name=f"試験 子{i + 1:02d}",
                school=school,
                grade=str(1 + i % 6),
                class_name="1",
                record_date=as_of,
                attributes={"absence_days": 30 + i},
            )
            s.add(rec)
            s.flush()
            s.add(Link(record_id=rec.id, person_id=pid, status="auto"))
            s.add(
                ChildScore(
                    run_id=run.id,
                    person_id=pid,
                    total=20 - i,
                    band="高" if i < 8 else "低",
                    types="不登校",
                    flagged=i < 8,
                    details={"yotaikyo_active": i == 1, "reasons": [{"indicator": "absence_30", "points": 3}]},
                )
            )
            ids.append(pid)
        return {"run_id": run.id, "persons": ids, "batch_id": b.id}


def takeup_world(ws, as_of=dt.date(2026, 11, 1)):
    """Eight households (a guardian and a child of 10; H1 also has a child of 4): 住民税 records for H1–H6 (H1–H4 and
    H6 非課税, H5 課税), 就学援助 for H3 and H6. The take-up gap 非課税 without 就学援助 is planted in H1, H2 and H4:
    returns {"planted": [their school-age children], "others": [every other child]}."""

    def batch(s, st, n):
        b = SourceBatch(source_type=st, file_name=f"{st}.csv", file_hash=st[:1] * 64, as_of=as_of, rows_total=n)
        s.add(b)
        s.flush()
        return b

    planted, others = [], []
    with ws.session() as s:
        tax = batch(s, "tax", 6)
        sa = batch(s, "school_assistance", 2)
        for h in range(1, 9):
            s.add(Household(id=f"H{h:06d}", household_no=f"80{h:05d}"))
            s.flush()
            members = [("G", dt.date(1988, 5, h), "世帯主"), ("C", dt.date(2016, 4, h), "子")]
            if h == 1:
                members.append(("Y", dt.date(2022, 6, 1), "子"))
            for tag, born, rel in members:
                pid = f"P{h:03d}{tag}"
                s.add(
                    Person(
                        id=pid,
                        household_id=f"H{h:06d}",
                        resident_no=f"7{h:03d}{tag}",
                        name=f"試験 {tag}{h}",
                        birth_date=born,
                        sex=1 + h % 2,
                        relationship=rel,
                    )
                )
                s.flush()
                if tag == "C":
                    (planted if h in (1, 2, 4) else others).append(pid)
                elif tag == "Y":
                    others.append(pid)
                if tag == "G" and h <= 6:
                    rec = SourceRecord(
                        batch_id=tax.id,
                        source_type="tax",
                        row_number=h + 1,
                        raw={},
                        name=f"試験 G{h}",
                        record_date=as_of,
                        attributes={"tax_status": "課税" if h == 5 else "非課税", "fiscal_year": 2026},
                    )
                    s.add(rec)
                    s.flush()
                    s.add(Link(record_id=rec.id, person_id=pid, status="auto"))
                if tag == "C" and h in (3, 6):
                    rec = SourceRecord(
                        batch_id=sa.id,
                        source_type="school_assistance",
                        row_number=h + 1,
                        raw={},
                        name=f"試験 C{h}",
                        record_date=dt.date(2026, 4, 1),
                        attributes={"category": "準要保護", "start_date": "2026-04-01"},
                    )
                    s.add(rec)
                    s.flush()
                    s.add(Link(record_id=rec.id, person_id=pid, status="auto"))
    return {"planted": sorted(planted), "others": sorted(others)}
