"""Readers: encodings, delimiters, quoted line breaks, header detection, Excel sheets and merged headers, row numbers
as the user sees them, and the corpus of broken inputs (each refused with a clear Japanese message)."""

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kodomo_desktop.core.errors import InputRefused
from kodomo_desktop.core.importing.errors import ImportRefused
from kodomo_desktop.core.importing.readers import read_table

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "import"
EXPECTED = json.loads((FIX / "expected.json").read_text(encoding="utf-8"))


def _write(path: Path, text: str, encoding="utf-8", newline="\n") -> Path:
    path.write_bytes(text.replace("\n", newline).encode(encoding))
    return path


@pytest.mark.parametrize("name", sorted(EXPECTED["files"]))
def test_fixture_files_read(name):
    e = EXPECTED["files"][name]
    t = read_table(FIX / name)
    assert list(t.header_rows) == e["header_rows"]
    assert t.row_numbers == e["data_rows"]
    assert len(t.rows) == len(e["data_rows"]) == len(t)
    if "encoding" in e:
        assert t.encoding == e["encoding"]
    if "delimiter" in e:
        assert t.delimiter == e["delimiter"]
    if "sheet" in e:
        assert t.sheet == e["sheet"]
    if "headers" in e:
        assert t.headers == e["headers"]
    if "skipped" in e:
        assert t.skipped_rows == e["skipped"]
    for w in e.get("warnings_contain", []):
        assert any(w in x for x in t.warnings)
    assert len(t.sha256) == 64


def test_registry_cp932_details():
    t = read_table(FIX / "registry_cp932_title.csv")
    assert t.headers == ["宛名番号", "世帯番号", "氏名", "ﾌﾘｶﾞﾅ", "生年月日", "性別", "住所", "続柄", "転入日", "備考"]
    assert t.title == ["令和6年度 住民基本台帳 抽出（架空町・テスト用）", "作成日：令和6年4月1日"]
    row = t.row_dict(t.row_numbers.index(20))
    assert row["住所"] == "架空町七丁目7-7\n架空ハイツ101号"  # the quoted line break is kept in the cell
    assert t.row_numbers[t.row_numbers.index(20) + 1] == 22  # and the next record starts two lines later
    assert t.rows[0][:3] == ["100001", "5001", "山田　太郎"]
    assert any("\ue000" in r[2] for r in t.rows)  # 外字 survive as private-use characters


def test_attendance_excel_cells_become_text():
    t = read_table(FIX / "attendance_merged.xlsx")
    first = t.row_dict(0)
    assert first["生年月日"] == "2015-04-05"  # a date cell
    assert first["学年"] == "3" and first["出欠 欠席日数"] == "12"  # integral numbers without .0
    assert t.row_dict(2)["生年月日"] == "42200"  # a serial number in a cell without a date format
    assert t.title[0].startswith("令和5年度 出欠状況")
    assert t.sheet_names == ["出欠"]


@pytest.mark.parametrize("name", sorted(EXPECTED["broken"]))
def test_broken_inputs_are_refused(name):
    from kodomo_desktop.core.importing.fields import detect_mapping
    from kodomo_desktop.core.importing.parse import parse_rows

    fragment = EXPECTED["broken"][name]
    with pytest.raises(ImportRefused) as ei:
        t = read_table(FIX / "broken" / name)
        parse_rows(t, "resident_registry", detect_mapping("resident_registry", t.headers), "2024-04-01")
    err = ei.value
    assert isinstance(err, InputRefused) and err.exit_code == 2
    assert fragment in err.message_ja
    assert all(ord(c) < 0x3000 or c.isprintable() for c in err.message_ja)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ImportRefused, match="見つかりません"):
        read_table(tmp_path / "nothing.csv")
    with pytest.raises(ImportRefused, match="フォルダ"):
        read_table(tmp_path)


@pytest.mark.parametrize(
    "encoding, bom, expected", [("utf-8", False, "utf-8"), ("utf-8", True, "utf-8-sig"), ("cp932", False, "cp932")]
)
@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_encodings_and_newlines(tmp_path, encoding, bom, expected, newline):
    text = "氏名,生年月日,性別\n髙橋　①郎,H30.1.1,男\n\n﨑山　花,R2.2.2,女\n"
    raw = text.replace("\n", newline).encode(encoding)
    p = tmp_path / "x.csv"
    p.write_bytes((b"\xef\xbb\xbf" if bom else b"") + raw)
    t = read_table(p)
    assert t.encoding == expected
    assert t.headers == ["氏名", "生年月日", "性別"]
    assert t.rows[:] == [["髙橋　①郎", "H30.1.1", "男"], ["﨑山　花", "R2.2.2", "女"]]
    assert t.row_numbers == [2, 4]


@pytest.mark.parametrize("delim", [",", "\t", ";"])
def test_delimiters(tmp_path, delim):
    rows = [
        ["宛名番号", "氏名", "生年月日", "住所"],
        ["1", "架空　一", "H30.1.1", "架空町1,2"],
        ["2", "架空　二", "H30.2.2", ""],
    ]
    buf = io.StringIO()
    csv.writer(buf, delimiter=delim, lineterminator="\n").writerows(rows)
    t = read_table(_write(tmp_path / "d.txt", buf.getvalue()))
    assert t.delimiter == delim
    assert t.headers == rows[0] and t.rows[:] == rows[1:]


def test_quoted_line_breaks_give_the_line_where_the_record_starts(tmp_path):
    text = (
        '表題\n'
        '宛名番号,氏名,生年月日,備考\n'
        '1,"架空\n一",H30.1.1,"a\n\nb"\n'
        '2,架空　二,H30.2.2,"say ""hi"""\n'
        '\n'
        '3,架空　三,H30.3.3,"x,\ny"\n'
    )
    for nl in ("\n", "\r\n"):
        t = read_table(_write(tmp_path / "q.csv", text, newline=nl))
        assert t.row_numbers == [3, 7, 9]  # record 1 spans lines 3-6; line 8 is blank
        assert t.rows[0][1] == "架空\n一" and t.rows[0][3] == "a\n\nb"
        assert t.rows[1][3] == 'say "hi"'
        assert t.rows[2][3] == "x,\ny"


def test_header_found_below_title_and_blank_rows(tmp_path):
    text = "\n\n令和6年度 一覧,,\n出力日 R6.4.1\n\n\n宛名番号,氏名,生年月日\n1,架空　一,H30.1.1\n"
    t = read_table(_write(tmp_path / "t.csv", text))
    assert t.header_row == 7 and t.row_numbers == [8]
    assert t.title == ["令和6年度 一覧", "出力日 R6.4.1"]


def test_header_row_override(tmp_path):
    text = "番号,なまえ,たんじょう\n1,架空　一,H30.1.1\n2,架空　二,H30.2.2\n"
    p = _write(tmp_path / "h.csv", text)
    with pytest.raises(ImportRefused, match="見出し行"):
        read_table(p)
    t = read_table(p, header_row=1)
    assert t.headers == ["番号", "なまえ", "たんじょう"] and t.row_numbers == [2, 3]
    t = read_table(FIX / "registry_cp932_title.csv", header_row=4)
    assert t.headers[0] == "宛名番号" and t.row_numbers[0] == 5
    with pytest.raises(ImportRefused, match="99 行目"):
        read_table(p, header_row=99)
    with pytest.raises(ImportRefused, match="行番号"):
        read_table(p, header_row=0)
    # a header after the 30 scanned rows needs the override
    late = "\n" * 40 + "氏名,生年月日\n架空　一,H30.1.1\n"
    p2 = _write(tmp_path / "late.csv", late)
    with pytest.raises(ImportRefused, match="見出し行"):
        read_table(p2)
    assert read_table(p2, header_row=41).row_numbers == [42]


def test_blank_duplicate_and_trailing_columns(tmp_path):
    text = "氏名,生年月日,,氏名,,\n架空　一,H30.1.1,x,架空　父,,\n架空　二,H30.2.2,,,,\n"
    t = read_table(_write(tmp_path / "c.csv", text))
    assert t.headers == ["氏名", "生年月日", "列3", "氏名(2)"]
    assert t.rows[:] == [["架空　一", "H30.1.1", "x", "架空　父"], ["架空　二", "H30.2.2", "", ""]]


def test_whitespace_only_rows_are_empty(tmp_path):
    text = "氏名,生年月日\n架空　一,H30.1.1\n , 　\n架空　二,H30.2.2\n"
    assert read_table(_write(tmp_path / "w.csv", text)).row_numbers == [2, 4]


def test_encoding_override(tmp_path):
    p = _write(tmp_path / "s.csv", "氏名,生年月日\n架空　一,H30.1.1\n", encoding="cp932")
    assert read_table(p, encoding="Shift_JIS").encoding == "cp932"
    with pytest.raises(ImportRefused, match="1 行目が UTF-8 として読めません"):
        read_table(p, encoding="utf-8")
    with pytest.raises(ImportRefused, match="対応していません"):
        read_table(p, encoding="latin-1")


def test_excel_sheet_choice(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = "説明"
    wb.active["A1"] = "この帳票について"
    a = wb.create_sheet("4月")
    a.append(["氏名", "生年月日", "性別"])
    a.append(["架空　四", dt.date(2018, 4, 4), "男"])
    b = wb.create_sheet("5月")
    b.append(["表題"])
    b.append([])
    b.append(["氏名", "生年月日", "性別"])
    b.append(["架空　五", "R1.5.5", 2])
    p = tmp_path / "s.xlsx"
    wb.save(p)
    t = read_table(p)
    assert t.sheet == "4月" and t.rows[:] == [["架空　四", "2018-04-04", "男"]] and t.row_numbers == [2]
    t = read_table(p, sheet="5月")
    assert t.sheet == "5月" and t.row_numbers == [4] and t.rows[0][2] == "2"
    assert read_table(p, sheet=2).sheet == "5月"  # int: 0-based index
    assert read_table(p, sheet="3").sheet == "5月"  # digit string that names no sheet: 1-based tab
    with pytest.raises(ImportRefused, match="シート「6月」はありません"):
        read_table(p, sheet="6月")
    with pytest.raises(ImportRefused, match="見出し行"):
        read_table(p, sheet="説明")


def test_excel_merged_group_header_and_header_row_override():
    t = read_table(FIX / "attendance_merged.xlsx", header_row=5)
    assert t.header_rows == (4, 5)
    assert "児童 氏名" in t.headers and t.row_numbers[0] == 6


def test_csv_group_header_without_merge_information(tmp_path):
    text = (
        "宛名番号,受給者,,対象児童,,,\n"
        ",氏名,生年月日,氏名,ﾌﾘｶﾞﾅ,生年月日,支給区分\n"
        "1,架空　母,S60.1.1,架空　子,ｶｸｳ ｺ,H30.4.1,全部支給\n"
    )
    t = read_table(_write(tmp_path / "g.csv", text))
    assert t.headers == [
        "宛名番号",
        "受給者 氏名",
        "受給者 生年月日",
        "対象児童 氏名",
        "対象児童 ﾌﾘｶﾞﾅ",
        "対象児童 生年月日",
        "支給区分",
    ]
    assert t.header_rows == (1, 2) and t.row_numbers == [3]


def test_excel_file_with_csv_name_is_read_as_excel(tmp_path):
    data = (FIX / "yotaikyo_sheets.xlsx").read_bytes()
    p = tmp_path / "renamed.csv"
    p.write_bytes(data)
    assert read_table(p).sheet == "台帳"


# --- property: any table written by the csv module reads back cell for cell, with the right line numbers ---------------
CELL_CHARS = st.sampled_from(list("abcXYZ019 ,\"\n\t;'あいうアイウｱｲｳ山田花子髙﨑①－ー／。、"))
CELL = st.text(CELL_CHARS, max_size=8)
HEADERS = ["宛名番号", "氏名", "生年月日", "住所"]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.lists(CELL, min_size=4, max_size=4), min_size=1, max_size=12),
    blank_after=st.sets(st.integers(0, 11), max_size=3),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp932"]),
    delim=st.sampled_from([",", "\t"]),
    crlf=st.booleans(),
    title=st.booleans(),
)
def test_csv_roundtrip_property(tmp_path, rows, blank_after, encoding, delim, crlf, title):
    # rows must hold something visible (blank rows are skipped by design) and not repeat the header
    rows = [r if any(c.strip() for c in r) else ["x"] + r[1:] for r in rows]
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delim, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    lines_before = 0
    if title:
        buf.write("架空町 一覧表\n\n")
        lines_before = 2
    w.writerow(HEADERS)
    starts, line = [], lines_before + 1
    for i, r in enumerate(rows):
        start = buf.tell()
        w.writerow(r)
        written = buf.getvalue()[start:]
        starts.append(line + 1)
        line += written.count("\n")
        if i in blank_after:
            buf.write("\n")
            line += 1
    text = buf.getvalue()
    if crlf:
        text = text.replace("\n", "\r\n")
    p = tmp_path / "p.csv"
    p.write_bytes(text.encode(encoding))
    t = read_table(p, header_row=lines_before + 1)
    assert t.headers == HEADERS
    assert t.rows[:] == [list(r) for r in rows]
    assert t.row_numbers == starts


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.one_of(
        st.binary(max_size=600),
        st.text(max_size=300).map(lambda s: s.encode("utf-8")),
        st.lists(st.lists(CELL, max_size=5), max_size=6).map(
            lambda rows: ("氏名,生年月日\n" + "\n".join(",".join(r) for r in rows)).encode("utf-8")
        ),
    ),
    suffix=st.sampled_from([".csv", ".txt", ".xlsx"]),
)
def test_reader_never_crashes(tmp_path, data, suffix):
    """Whatever the bytes, the reader returns a table or refuses with a Japanese message — nothing else."""
    p = tmp_path / f"any{suffix}"
    p.write_bytes(data)
    try:
        t = read_table(p)
    except ImportRefused as e:
        assert e.message_ja and e.exit_code == 2
    else:
        assert len(t.rows) == len(t.row_numbers) > 0
        assert t.row_numbers == sorted(set(t.row_numbers)) and t.row_numbers[0] > t.header_row
        assert all(len(r) == len(t.headers) for r in t.rows)


def test_units_row_under_the_header_is_part_of_it(tmp_path):
    text = "氏名,生年月日,欠席日数,体重\n,（和暦）,（日）,(kg)\n架空　一,H30.1.1,3,20.5\n"
    t = read_table(_write(tmp_path / "u.csv", text))
    assert t.header_rows == (1, 2) and t.row_numbers == [3]
    assert t.headers == ["氏名", "生年月日 （和暦）", "欠席日数 （日）", "体重 (kg)"]
