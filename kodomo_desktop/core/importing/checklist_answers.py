"""Returned observation checklists (観察チェックリスト): a school's filled-in workbook read back, rows matched by
row key (round and person), never by name; a wrong answer refuses the whole return by row and column.

Lives in importing (it is an import: the checklists package writes the workbooks and keeps the rounds, and does not
depend on importing).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from pathlib import Path
from typing import TYPE_CHECKING

from openpyxl import load_workbook
from sqlalchemy import select

from ..checklists.service import (
    ANSWER_VALUES,
    ChecklistRefused,
    _decrypt_workbook,
    _now,
    _school_of,
    _write_results,
    parse_row_key,
    round_definition,
)
from ..errors import InputRefused, NotFound
from ..services import service
from ..storage.models import ChecklistEntry, ChecklistRound
from .readers import formula_cells
from .result import ImportResult

if TYPE_CHECKING:
    from ..workspace import Workspace


@service("checklist.enter", what="checklist import")
def import_checklist_workbook(ws: Workspace, path: Path, progress=None, *, password: str | None = None) -> ImportResult:
    """Read a returned workbook: rows matched by row key; bad answers rejected by row and column. ``password``:
    the file password of a workbook made with one (encrypted OOXML)."""
    path = Path(path)
    data = path.read_bytes()
    plain = _decrypt_workbook(data, password)
    try:
        wb = load_workbook(io.BytesIO(plain), data_only=True)
        sh = wb["チェックリスト"]
    except Exception:
        raise InputRefused("チェックリストのファイルとして読めません（「チェックリスト」シートがありません）。")
    header_row = None
    for r in range(1, 10):
        if sh.cell(r, 1).value == "行キー":
            header_row = r
            break
    if header_row is None:
        raise InputRefused("「行キー」の見出しが見つかりません。配布したひな形をそのまま使ってください。")
    headers = [c.value for c in sh[header_row]]
    errors, good = [], []
    round_id = None
    with ws.session() as s:
        for row in sh.iter_rows(min_row=header_row + 1):
            values = [c.value for c in row]
            if not any(v not in (None, "") for v in values):
                continue
            rn = row[0].row
            key = parse_row_key(values[0])
            if key is None:
                errors.append(
                    {
                        "row": rn,
                        "column": "行キー",
                        "message": f"行キー「{values[0]}」が正しくありません。変更しないでください。",
                    }
                )
                continue
            rid, pid = key
            if round_id is None:
                round_id = rid
            elif rid != round_id:
                errors.append({"row": rn, "column": "行キー", "message": "別のラウンドの行が混ざっています。"})
                continue
            good.append((rn, pid, values))
        if round_id is None:
            raise InputRefused("記入された行がありません。")
        rnd = s.get(ChecklistRound, round_id)
        if rnd is None:
            raise InputRefused("このファイルのラウンドはデータベースにありません。")
        d = round_definition(s, rnd)
        items = d["items"]
        first_item = 5
        parsed = []
        school = None
        for rn, pid, values in good:
            try:
                sch = _school_of(ws, s, pid)
            except NotFound:
                errors.append({"row": rn, "column": "行キー", "message": "この行のこどもはデータベースにいません。"})
                continue
            school = school or sch
            answers, bad = {}, False
            for n, it in enumerate(items):
                v = values[first_item + n] if first_item + n < len(values) else None
                v = "" if v is None else str(v).strip()
                code = ANSWER_VALUES.get(v)
                if code is None and v != "":
                    errors.append(
                        {
                            "row": rn,
                            "column": headers[first_item + n],
                            "message": f"「{v}」は選べません（該当・非該当・不明）。",
                        }
                    )
                    bad = True
                elif code is not None:
                    answers[it["id"]] = code
            remark = values[first_item + len(items)] if first_item + len(items) < len(values) else None
            if bad or not (answers or remark):
                continue
            if sch != school:
                errors.append({"row": rn, "column": "行キー", "message": "他の学校のこどもの行です。"})
                continue
            parsed.append((rn, pid, answers, remark))
    # Refusals are logged outside the reading session (a log written inside it would be rolled back with it,
    # and a second writer would wait on the reader's lock).
    ws.require_school(school)
    if errors:
        # A return with a wrong value is refused as a whole (CLI exit 2, nothing changed): a later return
        # supersedes the earlier one, so half a sheet must not replace a whole one; the teacher fixes the
        # cells named by row and column and sends the sheet again.
        ws.log(
            "import_refused",
            detail={
                "source_type": "school_checklist",
                "round_id": round_id,
                "rejected": len({e['row'] for e in errors}),
            },
        )
        raise ChecklistRefused(errors)
    if not parsed:
        raise InputRefused("記入された行がありません。何も取り込んでいません。")
    with ws.session() as s:
        rnd = s.get(ChecklistRound, round_id)
        if rnd is None:  # removed since the sheet was read
            raise InputRefused("このファイルのラウンドはデータベースにありません。")
        entries_ = []
        for rn, pid, answers, remark in parsed:
            old = s.scalar(
                select(ChecklistEntry).where(
                    ChecklistEntry.round_id == round_id,
                    ChecklistEntry.person_id == pid,
                    ChecklistEntry.superseded.is_(False),
                )
            )
            if old is not None:
                old.superseded = True  # kept in history
            e = ChecklistEntry(
                round_id=round_id,
                person_id=pid,
                school=school,
                answers=answers,
                remark=remark,
                status="submitted",
                via="excel",
                entered_by=ws.user.name,
                entered_on=dt.date.today(),
                submitted_at=_now(),
            )
            s.add(e)
            entries_.append(e)
        s.flush()
        batch_id = None
        if not getattr(ws, "is_school", False):  # a school's return reaches the score when the town reads it back
            batch_id = _write_results(
                ws,
                s,
                rnd,
                school,
                entries_,
                via="excel",
                file_name=path.name,
                file_hash=hashlib.sha256(data).hexdigest(),
                rows=[x[0] for x in parsed],
            )
        ws.log(
            "import",
            detail={
                "batch_id": batch_id,
                "source_type": "school_checklist",
                "imported": len(entries_),
                "rejected": len({e['row'] for e in errors}),
            },
            conn=s,
        )
    rows = len(good) + len([e for e in errors if e["column"] == "行キー"])
    res = ImportResult(batch_id, rows, len(entries_), len({e["row"] for e in errors}), errors)
    formulas = formula_cells(plain, "チェックリスト")  # read as cached values (data_only), never evaluated
    if formulas:
        res.warnings.append(f"数式のセルが {formulas} 個ありました。数式は計算せず、保存されていた値を取り込みました。")
    return res
