"""An import parsed, checked and inserted chunk by chunk writes what one pass over the whole file writes: the same
source_record rows, the same rejected rows (with row and column), the same summary — and refuses the same files,
leaving nothing behind. The chunk size is made tiny here so that a 60-row file crosses many chunks: a duplicate
宛名番号 whose two rows sit in different chunks, bad cells in several, a file that links to nobody."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import text

from kodomo_desktop.core.errors import InputRefused
from kodomo_desktop.core.importing import guards as G
from kodomo_desktop.core.importing import readers as R
from kodomo_desktop.core.importing import service as S
from kodomo_desktop.core.workspace import Workspace

HEAD = "宛名番号,世帯番号,氏名,フリガナ,生年月日,性別,続柄,住所,備考\n"


def _registry(path: Path, n: int, *, dup: tuple[int, int] | None = None, bad: tuple[int, ...] = ()) -> Path:
    lines = []
    for i in range(n):
        no = 10000000 + (dup[0] if dup and i == dup[1] else i)
        born = "2026-13-01" if i in bad else (dt.date(2010, 1, 1) + dt.timedelta(days=i * 37)).isoformat()
        sex = "X" if i in bad and i % 2 else str(1 + i % 2)
        kana = f"シケン　コ{i % 9}"
        lines.append(f"{no:010d},{2000 + i // 3},試験　子{i % 7},{kana},{born},{sex},子,ひなた町{i % 5}番,メモ{i % 4}")
    path.write_text("令和8年11月1日現在 住民基本台帳\n" + HEAD + "\n".join(lines) + "\n", encoding="cp932")
    return path


def _consult(path: Path, n: int, offset: int = 0, name: str = "試験") -> Path:
    lines = ["宛名番号,氏名,生年月日,相談日,相談種別,主訴"]
    for i in range(n):
        lines.append(
            f"{10000000 + offset + i:010d},{name}　子{i % 7},{dt.date(2010, 1, 1) + dt.timedelta(days=i * 37)},"
            f"2026-10-{1 + i % 28:02d},電話,項目{i % 3}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _dump(ws: Workspace) -> dict:
    with ws.session() as s:
        rec_cols = [c[1] for c in s.execute(text("PRAGMA table_info(source_record)")) if c[1] != "id"]
        return {
            "records": s.execute(
                text(f"SELECT {', '.join(rec_cols)} FROM source_record ORDER BY batch_id, row_number")
            ).all(),
            "rejected": s.execute(text("SELECT * FROM rejected_row ORDER BY id")).all(),
            "batches": s.execute(
                text(
                    "SELECT id, source_type, file_name, rows_total, rows_imported, rows_rejected, scope, "
                    "superseded_by, mapping FROM source_batch ORDER BY id"
                )
            ).all(),
        }


@pytest.fixture
def pair(tmp_path, new_db_at):
    a = new_db_at(tmp_path / "chunked.db")  # two new databases (copies of one Workspace.create, tests/conftest.py)
    b = new_db_at(tmp_path / "whole.db")
    yield a, b
    a.close()
    b.close()


def _both(pair, monkeypatch, *calls):
    """Run each call (a function of the workspace) chunked by 7 rows in the first store — the file read from disk
    5 records at a time, streamed — in one chunk in the second; return both results of each call."""
    out = []
    for ws, size in zip(pair, (7, 10**6)):
        monkeypatch.setattr(S, "CHUNK_ROWS", size)
        monkeypatch.setattr(R, "READ_ROWS", 5 if size == 7 else 10**6)
        res = []
        for call in calls:
            try:
                r = call(ws)
                res.append(r.to_json() if hasattr(r, "to_json") else r)
            except InputRefused as e:
                res.append(("refused", type(e).__name__, e.message_ja))
        out.append(res)
    return out


def test_chunked_import_writes_what_one_pass_writes(pair, tmp_path, monkeypatch):
    reg = _registry(tmp_path / "住民基本台帳_20261101.csv", 60, dup=(3, 45), bad=(5, 12, 13, 50))
    oct_ = _consult(tmp_path / "相談_10月.csv", 40)
    elsewhere = _consult(tmp_path / "相談_他町.csv", 30, offset=900000, name="他町")  # nobody of this town
    chunked, whole = _both(
        pair,
        monkeypatch,
        lambda ws: S.import_file(ws, reg, "resident_registry", as_of="2026-11-01"),  # refused: the duplicate
        lambda ws: S.import_file(ws, reg, "resident_registry", as_of="2026-11-01", force=True),
        lambda ws: S.import_file(ws, oct_, "consultation", as_of="2026-11-01"),
        lambda ws: S.import_file(ws, elsewhere, "consultation", as_of="2026-11-02", force=True),
    )
    assert chunked == whole
    assert chunked[0][1] == "ReplaceRefused" and "行 6 と 48" in chunked[0][2]
    first = chunked[1]
    assert first["imported"] == 60 - 4 - 2 and first["rejected"] == 6
    rows = {e["row"] for e in first["errors"]}
    assert {3 + 3, 3 + 45} <= rows  # both rows of the duplicate, in chunks 1 and 7 (title and header come first)
    assert any("重複" in e["message"] and e["column"] == "宛名番号" for e in first["errors"])
    assert not any("誰とも一致しません" in w for w in chunked[2]["warnings"])
    assert any("誰とも一致しません" in w for w in chunked[3]["warnings"])
    a, b = _dump(pair[0]), _dump(pair[1])
    assert a == b and len(a["records"]) == 54 + 40 + 30 and len(a["rejected"]) == len(first["errors"])


def test_chunked_refusals_leave_nothing(pair, tmp_path, monkeypatch):
    reg = _registry(tmp_path / "住民基本台帳_20261101.csv", 60)
    unreadable = tmp_path / "住民_壊れ.csv"
    _registry(unreadable, 30, bad=tuple(range(30)))
    short = _registry(tmp_path / "住民_一部.csv", 20)
    chunked, whole = _both(
        pair,
        monkeypatch,
        lambda ws: S.import_file(ws, reg, "resident_registry", as_of="2026-11-01"),
        lambda ws: _dump(ws),
        lambda ws: S.import_file(ws, unreadable, "resident_registry", as_of="2026-12-01"),
        lambda ws: S.import_file(ws, short, "resident_registry", as_of="2026-12-01"),
        lambda ws: _dump(ws),
    )
    assert chunked == whole
    assert chunked[2][0] == "refused" and "どれも取り込めません" in chunked[2][2]
    assert chunked[3][1] == "ReplaceRefused"
    assert chunked[1] == chunked[4]  # nothing of the refused files in the store


def test_chunked_progress_and_cancel_roll_back(pair, tmp_path, monkeypatch):
    ws = pair[0]
    monkeypatch.setattr(S, "CHUNK_ROWS", 7)
    reg = _registry(tmp_path / "住民基本台帳_20261101.csv", 60)
    seen: list[tuple[int, int]] = []
    S.import_file(ws, reg, "resident_registry", as_of="2026-11-01", progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (60, 60) and seen == sorted(seen) and len(seen) > 5
    before = _dump(ws)
    calls = {"n": 0}

    def cancel():
        calls["n"] += 1
        return calls["n"] > 4  # after a few chunks are in

    nov = _registry(tmp_path / "住民_12月.csv", 60, bad=(7,))
    with pytest.raises(S.Cancelled):
        S.import_file(ws, nov, "resident_registry", as_of="2026-12-01", cancel=cancel)
    assert _dump(ws) == before


def test_word_blanks_read_alike_in_any_chunk():
    """The fast path for plain 宛名番号 columns reads "NA" as parse_code does (missing), whatever else the chunk
    holds — so a chunk of plain numbers and the whole column agree."""
    import numpy as np

    from kodomo_desktop.core.importing.fields import field_spec
    from kodomo_desktop.core.importing.parse import _parse_column

    spec = field_spec("resident_registry", "resident_no")
    assert spec is not None
    plain, _, _ = _parse_column(np.array(["0012", "NA", "77"], dtype=object), spec)
    mixed, _, _ = _parse_column(np.array(["0012", "NA", "７７"], dtype=object), spec)
    assert list(plain) == ["0012", None, "77"] and list(mixed) == ["0012", None, "77"]
    assert G.resident_key("0012") == "12"
