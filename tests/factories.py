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
