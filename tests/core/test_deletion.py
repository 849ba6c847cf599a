"""Issue 22: delete-person covers every table — rejected rows that hold the name and 宛名番号 in their raw cells, any
file's row with the 宛名番号, notes, the household left empty — and says which files may still hold the person."""

import datetime as dt

from factories import small_world
from sqlalchemy import select, text

from kodomo_desktop.core.casework import service as C
from kodomo_desktop.core.governance import disclosure as D
from kodomo_desktop.core.storage.models import Household, Person, RejectedRow, SourceBatch, SourceRecord


def _all_rows(ws) -> str:
    from kodomo_desktop.core.storage.db import raw_connect

    con = raw_connect(ws.path, ws.raw_key())
    try:
        out = []
        for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall():
            if table == "access_log":
                continue
            out += [str(r) for r in con.execute(f'SELECT * FROM "{table}"').fetchall()]
        return "\n".join(out)
    finally:
        con.close()


def test_deletion_covers_rejected_rows_unlinked_rows_household_and_reports_files(new_db, tmp_path):
    ws = new_db
    w = small_world(ws, children=6)
    pid, other = w["persons"][2], w["persons"][3]
    with ws.session() as s:
        p = s.get(Person, pid)
        name, rno, birth = p.name, p.resident_no, p.birth_date
        p.household_id = None  # alone in a household of their own, with an address
        s.add(Household(id="H999999", household_no="99999", address="架空町三丁目3-3"))
        s.flush()
        p.household_id = "H999999"
        b = SourceBatch(
            source_type="consultation",
            file_name="相談記録_令和8年度.csv",
            file_hash="y" * 64,
            as_of=dt.date(2026, 9, 1),
            rows_total=4,
            rows_imported=0,
        )
        s.add(b)
        s.flush()
        s.add_all(
            [
                # 宛名番号 written as a number (leading zeros lost), impossible date
                RejectedRow(
                    batch_id=b.id,
                    row_number=2,
                    column="相談日",
                    message="日付が不正",
                    raw={"宛名番号": str(int(rno)), "氏名": "誰か", "相談日": "2026-02-30"},
                ),
                # the name with the birth date in 和暦, no number
                RejectedRow(
                    batch_id=b.id,
                    row_number=3,
                    column="性別",
                    message="性別が不正",
                    raw={"氏名": name.replace(" ", "　"), "生年月日": f"{birth:%Y/%m/%d}", "性別": "X"},
                ),
                # someone else entirely
                RejectedRow(
                    batch_id=b.id,
                    row_number=4,
                    column="性別",
                    message="性別が不正",
                    raw={"氏名": "別人 花子", "生年月日": "2015-01-01", "性別": "X"},
                ),
            ]
        )
        # a row of another file that carries the 宛名番号 but was never linked
        s.add(
            SourceRecord(
                batch_id=b.id,
                source_type="consultation",
                row_number=5,
                raw={"宛名番号": rno},
                resident_no=rno,
                name=name,
                attributes={},
            )
        )
    C.add_note(ws, pid, "本人のメモ")
    C.add_note(ws, other, f"兄弟の {name} も同席")  # another child's record that mentions them
    from kodomo_desktop.core.scoring.service import score_to_csv

    score_to_csv(ws, tmp_path / "scores.csv")  # an export made before the deletion
    ws.log("print", pid, {"document": "assessment"})

    res = D.delete_person(ws, pid, "削除請求 第3号")

    assert res["deleted"]["rejected_row"] == 2 and res["deleted"]["household"] == 1
    from kodomo_desktop.core.storage.models import Base

    with_person = {t.name for t in Base.metadata.sorted_tables if "person_id" in t.c}
    assert with_person - {"access_log", "link"} <= set(res["deleted"])  # every table with a person_id was cleared
    with ws.session() as s:
        left = s.scalars(select(RejectedRow.row_number)).all()
        assert left == [4]  # the unrelated rejected row stays
        assert s.get(Household, "H999999") is None
        assert not s.scalars(select(SourceRecord).where(SourceRecord.resident_no == rno)).all()
    dump = _all_rows(ws)
    # left only in the sibling's note, which is someone else's record: reported below, not rewritten
    assert dump.count(name) == 1 and name.replace(" ", "　") not in dump and rno not in dump
    assert "架空町三丁目3-3" not in dump
    assert "相談記録_令和8年度.csv" in res["source_files"] and "出欠.xlsx" in res["source_files"]
    whats = {e["what"] for e in res["exports_before"]}
    assert {"scores_csv", "assessment"} <= whats and res["note"]
    assert res["mentions_elsewhere"] == [
        {"table": "note", "id": res["mentions_elsewhere"][0]["id"], "person_id": other}
    ]
    with ws.engine.connect() as c:
        detail = c.execute(
            text("SELECT detail FROM access_log WHERE action='deletion' AND person_id=:p"), {"p": pid}
        ).scalar()
    assert name not in detail and rno not in detail  # the tombstone holds counts only
    assert ws.verify()["ok"]
