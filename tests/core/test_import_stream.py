"""A large CSV is read in bounded memory (issue 21): the reader never holds the file's bytes, text or cells whole —
it parses READ_ROWS records at a time, and the importer gets the rows back chunk by chunk from the file — and what
it reads is what a one-chunk read gives."""

from __future__ import annotations

import datetime as dt
import sys
import tracemalloc
from pathlib import Path

import pytest

from kodomo_desktop.core.importing import parse as P
from kodomo_desktop.core.importing import readers as R
from kodomo_desktop.core.importing import service as S
from kodomo_desktop.core.importing.errors import ImportRefused


def _big(path: Path, n: int, encoding: str = "cp932") -> Path:
    """n data rows of five columns, under a title row, with a blank row and a repeated header in the middle."""
    head = "宛名番号,氏名,生年月日,相談日,相談種別\n"
    with open(path, "w", encoding=encoding, newline="") as fh:
        fh.write("相談記録一覧（令和8年11月1日現在）\n" + head)
        for i in range(n):
            if i == n // 2:
                fh.write("\n" + head)
            born = dt.date(2008, 1, 1) + dt.timedelta(days=i % 6000)
            fh.write(f"{10000000 + i:010d},試験　子{i % 97},{born},2026-10-{1 + i % 28:02d},電話\n")
    return path


def test_a_large_csv_is_read_chunk_by_chunk_in_bounded_memory(tmp_path, monkeypatch):
    # 40,000 rows read in blocks of a fifth of the product's (records, chunk rows, bytes): the file is the same 40
    # blocks long as 200,000 rows at the product's sizes, with the same proportion of block to file (measured, peak
    # over the whole file's cells: 0.30 at 200,000 rows and the product's sizes, 0.35 here) — at a fifth of the cost
    # of tracing every allocation (tracemalloc makes the read ~5 times slower)
    monkeypatch.setattr(R, "READ_ROWS", R.READ_ROWS // 5)
    monkeypatch.setattr(S, "CHUNK_ROWS", S.CHUNK_ROWS // 5)
    monkeypatch.setattr(R, "_BLOCK", R._BLOCK // 4)
    n = 40_000
    path = _big(tmp_path / "相談記録_大.csv", n)
    held: list[int] = []  # the records of each parsed block the reader builds
    real = R._CsvSource.records

    def records(self, rows=None):
        for vals, starts in real(self, rows):
            held.append(len(vals))
            yield vals, starts

    monkeypatch.setattr(R._CsvSource, "records", records)
    tracemalloc.start()
    try:
        t = R.read_table(path)
        seen, sizes, first, last = 0, [], None, None
        for frame, numbers in t.chunks(S.CHUNK_ROWS):
            sizes.append(len(frame))
            first = first or frame.iloc[0].tolist()
            last = frame.iloc[-1].tolist(), numbers[-1]
            seen += len(numbers)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert t.frame is None and len(t) == n == seen  # not held: read again from the file, chunk by chunk
    assert max(held) <= R.READ_ROWS and len(held) > 2 * (n // R.READ_ROWS)  # parsed twice, a block at a time
    assert max(sizes) == S.CHUNK_ROWS and sum(sizes) == n
    assert t.title == ["相談記録一覧（令和8年11月1日現在）"] and t.header_row == 2 and t.encoding == "cp932"
    assert t.skipped_rows == [n // 2 + 4]  # the repeated header (after the blank row, which is not counted)
    assert first == ["0010000000", "試験　子0", "2008-01-01", "2026-10-01", "電話"]
    assert last == (
        [
            f"{10000000 + n - 1:010d}",
            f"試験　子{(n - 1) % 97}",
            str(dt.date(2008, 1, 1) + dt.timedelta(days=(n - 1) % 6000)),
            f"2026-10-{1 + (n - 1) % 28:02d}",
            "電話",
        ],
        n + 4,
    )
    assert t.row_numbers[:2] == [3, 4] and t.row_numbers[-1] == n + 4

    # what holding the file's cells whole costs (the old reader held them, and the file's bytes and text beside):
    # the streamed read's peak is a part of it — a block or two of cells, the parser's buffers, and a row number and
    # a flag per row (measured: 0.35 of it here; the cells alone grow with the file, the rest barely)
    cells = t.data_frame().to_numpy(dtype=object)
    whole = cells.nbytes + sum(sys.getsizeof(v) for v in cells.ravel())
    assert peak < whole / 2, (peak, whole, path.stat().st_size)


@pytest.mark.parametrize("read_rows", [3, 10**6])
def test_streamed_and_whole_reads_agree(tmp_path, monkeypatch, read_rows):
    """The same headers, rows, numbers, notes and refusals whether the file is parsed in blocks of 3 records
    (streamed) or in one (kept): blank and repeated header rows, quoted line breaks, trailing notes."""
    monkeypatch.setattr(R, "READ_ROWS", read_rows)
    monkeypatch.setattr(R, "_BLOCK", 5)  # bytes: lines, characters and CRLFs fall across blocks
    p = tmp_path / "a.csv"
    p.write_bytes(
        (
            "\ufeff記録一覧\r\n宛名番号,氏名,生年月日,,\r\n1,試験　一,H30.1.1,,\r\n\r\n宛名番号,氏名,生年月日,,\r\n"
            '2,"試験\r\n二",R1.2.3,, \r\n3,試験　三,R2.3.4,,x\r\n※ 注記,,,,\r\n合計 3件,,,,\r\n'
        ).encode("utf-8")
    )
    t = R.read_table(p)
    assert (t.frame is None) == (read_rows == 3)
    assert t.headers == ["宛名番号", "氏名", "生年月日", "列5"] and t.title == ["記録一覧"]
    assert t.rows[:] == [
        ["1", "試験　一", "H30.1.1", ""],
        ["2", "試験\n二", "R1.2.3", " "],
        ["3", "試験　三", "R2.3.4", "x"],
    ]
    assert t.row_numbers == [3, 6, 8] and t.skipped_rows == [5, 9, 10] and t.encoding == "utf-8-sig"
    q = tmp_path / "b.csv"
    q.write_bytes(("宛名番号,氏名,生年月日\n" + "1,試験,H30.1.1\n" * 7 + '2,"閉じない,H30\n').encode("cp932"))
    with pytest.raises(ImportRefused, match="9 行目の引用符"):
        R.read_table(q)


def test_a_file_changed_while_it_is_imported_is_refused_and_nothing_is_written(tmp_path, monkeypatch, new_db_at):
    monkeypatch.setattr(R, "READ_ROWS", 50)
    monkeypatch.setattr(S, "CHUNK_ROWS", 40)
    path = _big(tmp_path / "相談記録.csv", 300, encoding="utf-8")
    ws = new_db_at(tmp_path / "t.db")  # a new database (a copy of one Workspace.create)
    try:
        real = P.parse_chunk
        calls: list[int] = []

        def parse_chunk(plan, frame, rownums, **kw):
            calls.append(len(frame))
            if len(calls) == 2:  # the department saves over the file half-way through the import
                path.write_text(path.read_text(encoding="utf-8").replace("電話", "来所"), encoding="utf-8")
            return real(plan, frame, rownums, **kw)

        monkeypatch.setattr(P, "parse_chunk", parse_chunk)
        with pytest.raises(ImportRefused, match="読み込みの途中で変更されました"):
            S.import_file(ws, path, "consultation", as_of="2026-11-01")
        assert max(calls) <= 40
        with ws.session() as s:
            from sqlalchemy import text

            assert s.execute(text("SELECT count(*) FROM source_batch")).scalar() == 0
            assert s.execute(text("SELECT count(*) FROM source_record")).scalar() == 0
        res = S.import_file(ws, path, "consultation", as_of="2026-11-01")  # read again whole: imported
        assert res.imported == 300 and res.rejected == 0
    finally:
        ws.close()
