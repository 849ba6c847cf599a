"""The guards on a replacing extract, unit by unit (the CLI tests cover the registry cases end to end): rows per
person, share rejected, 宛名番号 matching the registry for another source, one source type holding several
ledgers, a file that links to nobody; the 宛名番号 key; the 時点 read from a file; and the readers' safe paths on
full-size inputs (a 38,000-row workbook with a cell at XFD5, a 100 MB cell)."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import pytest

from kodomo_desktop.core.errors import InputRefused
from kodomo_desktop.core.importing import guards as G
from kodomo_desktop.core.importing.asof import guess_as_of
from kodomo_desktop.core.importing.service import batch_history, import_file

REG = "宛名番号,氏名,フリガナ,生年月日,性別\n"


def _reg(n: int) -> str:
    return "".join(
        f"{10000000 + i:010d},試験　子{i:03d},シケン　コ{i:03d},{dt.date(2010, 1, 1) + dt.timedelta(days=i * 17)},"
        f"{1 + i % 2}\n"
        for i in range(n)
    )


@pytest.fixture
def town(new_db, tmp_path):
    p = tmp_path / "住民.csv"
    p.write_text(REG + _reg(80), encoding="utf-8")
    import_file(new_db, p, "resident_registry", as_of="2026-10-01")
    return new_db


def _tax(path: Path, rows: list[tuple[int, str]], numbers: int = 10000000) -> Path:
    """A 住民税 extract: (registry index, 課税区分) per row; ``numbers``: where its 宛名番号 start."""
    lines = ["宛名番号,氏名,生年月日,課税区分,年度"]
    for i, status in rows:
        lines.append(
            f"{numbers + i:010d},試験　子{i:03d},{dt.date(2010, 1, 1) + dt.timedelta(days=i * 17)},{status},2026"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_resident_key_drops_leading_zeros_and_width():
    assert G.resident_key("0001234567") == G.resident_key("1234567") == G.resident_key("１２３４５６７") == "1234567"
    assert G.resident_key(1234567.0) == "1234567" and G.resident_key(" 0 ") == "0"
    assert G.resident_key("A-0012") == "A-0012" and G.resident_key("") is None and G.resident_key(None) is None


def test_as_of_from_title_or_file_name_never_today():
    assert guess_as_of("x.xlsx", ["ひなた町 乳幼児健診", "令和8年10月1日現在"])[0] == dt.date(2026, 10, 1)
    assert guess_as_of("住民基本台帳_20261101.csv")[0] == dt.date(2026, 11, 1)
    assert guess_as_of("出欠_R8.9.1.xlsx")[0] == dt.date(2026, 9, 1)
    # the extract's own date wins over the day the sheet was made
    assert guess_as_of("a.csv", ["作成日 2026/10/05", "令和元年5月1日現在"])[0] == dt.date(2019, 5, 1)
    assert guess_as_of("出欠_9月.xlsx", ["令和8年度 出欠状況"]) is None


def test_rows_per_person_rising_is_refused(town, tmp_path):
    first = _tax(tmp_path / "税_9月.csv", [(i, "課税") for i in range(60)])
    assert import_file(town, first, "tax", as_of="2026-09-01").imported == 60
    # the same 20 people four times over: a detail ledger, not the list of this month
    detail = _tax(tmp_path / "税_10月.csv", [(i % 20, "非課税") for i in range(80)])
    before = batch_history(town)
    with pytest.raises(G.ReplaceRefused) as e:
        import_file(town, detail, "tax", as_of="2026-10-01")
    assert "1人あたりの行数" in e.value.message_ja and "前回 1.0 行 → 今回 4.0 行" in e.value.message_ja
    assert batch_history(town) == before
    assert import_file(town, detail, "tax", as_of="2026-10-01", force=True).imported == 80


def test_most_rows_rejected_is_refused(town, tmp_path):
    first = _tax(tmp_path / "税_9月.csv", [(i, "課税") for i in range(60)])
    import_file(town, first, "tax", as_of="2026-09-01")
    bad = tmp_path / "税_10月.csv"
    text = _tax(tmp_path / "tmp.csv", [(i, "課税") for i in range(60)]).read_text(encoding="utf-8")
    lines = text.splitlines()
    for k in range(1, 41):  # 40 of 60 birth dates unreadable
        cells = lines[k].split(",")
        cells[2] = "2026/13/45"
        lines[k] = ",".join(cells)
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(G.ReplaceRefused) as e:
        import_file(town, bad, "tax", as_of="2026-10-01")
    assert "60 行中 40 行（67%）" in e.value.message_ja


def test_resident_numbers_that_stop_matching_the_registry_are_refused(town, tmp_path):
    first = _tax(tmp_path / "税_9月.csv", [(i, "課税") for i in range(60)])
    import_file(town, first, "tax", as_of="2026-09-01")
    other = _tax(tmp_path / "税_10月.csv", [(i, "課税") for i in range(60)], numbers=70000000)  # no resident's
    with pytest.raises(G.ReplaceRefused) as e:
        import_file(town, other, "tax", as_of="2026-10-01")
    assert "前回 100% → 今回 0%" in e.value.message_ja


def test_one_source_type_holds_several_ledgers(town, tmp_path):
    """乳幼児健診, 妊婦健診 and 予防接種 are all 母子保健: each is compared with its own last extract, not with the
    others (a 5-row vaccination list after a 60-row checkup list is no fall in rows)."""
    checkups = tmp_path / "乳幼児健診.csv"
    checkups.write_text(
        "宛名番号,氏名,生年月日,健診種別,受診日,受診状況\n"
        + "".join(
            f"{10000000 + i:010d},試験　子{i:03d},{dt.date(2010, 1, 1) + dt.timedelta(days=i * 17)},"
            "1歳6か月,2026/09/10,受診\n"
            for i in range(60)
        ),
        encoding="utf-8",
    )
    import_file(town, checkups, "maternal_child_health", as_of="2026-09-30")
    vaccines = tmp_path / "予防接種.csv"
    vaccines.write_text(
        "宛名番号,氏名,生年月日,予防接種名,接種状況,接種日\n"
        + "".join(
            f"{10000000 + i:010d},試験　子{i:03d},{dt.date(2010, 1, 1) + dt.timedelta(days=i * 17)},MR,未接種,\n"
            for i in range(5)
        ),
        encoding="utf-8",
    )
    assert import_file(town, vaccines, "maternal_child_health", as_of="2026-10-01").imported == 5
    # but a checkup list of 5 after the 60-row one is refused
    few = tmp_path / "乳幼児健診_10月.csv"
    few.write_text("\n".join(checkups.read_text(encoding="utf-8").splitlines()[:6]) + "\n", encoding="utf-8")
    with pytest.raises(G.ReplaceRefused, match="前回 60 行 → 今回 5 行"):
        import_file(town, few, "maternal_child_health", as_of="2026-10-02")


def test_a_file_that_links_to_nobody_says_so(town, tmp_path):
    p = tmp_path / "相談.csv"
    p.write_text(
        "相談番号,氏名,生年月日,相談日,相談種別\nC1,見本　花子,2001/02/03,2026/10/01,育児\n"
        "C2,例田　一郎,2002/03/04,2026/10/02,経済\n",
        encoding="utf-8",
    )
    res = import_file(town, p, "consultation", as_of="2026-10-31")
    assert res.batch_id and any("誰とも一致しません" in w for w in res.warnings)
    q = tmp_path / "相談_2.csv"
    q.write_text(
        "相談番号,氏名,生年月日,相談日,相談種別\nC3,試験　子001,2010/01/18,2026/10/01,育児\n", encoding="utf-8"
    )
    assert not any("誰とも一致しません" in w for w in import_file(town, q, "consultation", as_of="2026-10-31").warnings)


def _minimal_xlsx(path: Path, rows: list[list[str]], extra: dict[int, list[tuple[str, str]]]) -> Path:
    """An .xlsx written as its XML (openpyxl would take minutes for 38,000 rows)."""

    def col(i):
        s, i = "", i + 1
        while i:
            i, r = divmod(i - 1, 26)
            s = chr(65 + r) + s
        return s

    def cell(ref, v):
        return f'<c r="{ref}" t="inlineStr"><is><t>{v}</t></is></c>'

    body = "".join(
        f'<row r="{ri}">'
        + "".join(cell(f"{col(ci)}{ri}", v) for ci, v in enumerate(row))
        + "".join(cell(ref, v) for ref, v in extra.get(ri, []))
        + "</row>"
        for ri, row in enumerate(rows, 1)
    )
    m = "http://schemas.openxmlformats.org"
    parts = {
        "[Content_Types].xml": f'<Types xmlns="{m}/package/2006/content-types">'
        f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        f'<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" '
        f'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        f'<Override PartName="/xl/worksheets/sheet1.xml" '
        f'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels": f'<Relationships xmlns="{m}/package/2006/relationships"><Relationship Id="rId1" '
        f'Type="{m}/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook xmlns="{m}/spreadsheetml/2006/main" '
        f'xmlns:r="{m}/officeDocument/2006/relationships"><sheets>'
        f'<sheet name="台帳" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{m}/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{m}/officeDocument/2006/relationships/worksheet" '
        f'Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{m}/spreadsheetml/2006/main"><sheetData>{body}'
        "</sheetData></worksheet>",
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for n, b in parts.items():
            z.writestr(n, b)
    return path


def test_real_size_workbook_with_a_cell_at_xfd5_reads_without_a_native_crash(tmp_path):
    """38,000 rows × 16,384 columns is 620 million cells for a dense reader (calamine aborts the process): the sheet
    is measured first and read cell by cell."""
    from kodomo_desktop.core.importing import readers as R

    head = ["宛名番号", "氏名", "フリガナ", "生年月日", "性別", "住所", "世帯番号", "続柄"]
    rows = [head] + [
        [
            f"{10000000 + i:010d}",
            f"試験　子{i}",
            "シケン　コ",
            str(dt.date(1950, 1, 1) + dt.timedelta(days=i)),
            "男",
            "本町1番地",
            f"{i // 3:08d}",
            "子",
        ]  # fmt: skip
        for i in range(38_000)
    ]
    path = _minimal_xlsx(tmp_path / "台帳_38000行.xlsx", rows, {5: [("XFD5", "メモ")]})
    assert R._ooxml_sizes(path, path.read_bytes())["台帳"] == (38_001, 16_384)
    t = R.read_table(path)
    assert len(t.rows) == 38_000 and t.headers[-1] == "列XFD" and t.rows[3][-1] == "メモ"
    assert t.rows[0][:4] == ["0010000000", "試験　子0", "シケン　コ", "1950-01-01"]


def test_a_100_mb_cell_is_refused_before_it_takes_the_memory(tmp_path):
    p = tmp_path / "巨大セル.csv"
    with open(p, "w", encoding="utf-8") as fh:
        fh.write("宛名番号,氏名,生年月日\n0001,")
        chunk = "地" * (1 << 20)
        for _ in range(34):  # 34 M characters, 102 MB in UTF-8
            fh.write(chunk)
        fh.write(",2020/01/01\n")
    assert p.stat().st_size > 100 * 1024 * 1024
    from kodomo_desktop.core.importing.readers import read_table

    with pytest.raises(InputRefused, match="2 行目に長すぎるセル"):
        read_table(p)


def test_the_cell_by_cell_reader_reads_as_calamine_does(tmp_path, monkeypatch):
    """Shared strings, numbers, 宛名番号 with zeros as text, date cells, serial 0, booleans: the same text either way."""
    import openpyxl

    from kodomo_desktop.core.importing import readers as R

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["令和8年10月1日現在"])
    ws.append(["宛名番号", "氏名", "生年月日", "体重", "転出日", "有無"])
    for i in range(20):
        ws.append([f"{i:08d}", f"試験　子{i}", dt.date(2015, 1, 1 + i), 20.5 + i, None, i % 2 == 0])
    ws["E5"].value = 0
    ws["E5"].number_format = "yyyy/mm/dd"
    ws["C7"].value = dt.datetime(2015, 1, 6, 0, 0)
    ws["C7"].number_format = "ggge年m月d日"
    path = tmp_path / "比較.xlsx"
    wb.save(path)
    dense = R.read_table(path)
    monkeypatch.setattr(R, "MAX_GRID_CELLS", 1)
    sparse = R.read_table(path)
    assert sparse.headers == dense.headers and sparse.title == dense.title
    assert list(sparse.rows) == list(dense.rows) and sparse.row_numbers == dense.row_numbers
    assert dense.rows[2][4] == "" and any("1900/1/0" in w for w in dense.warnings + sparse.warnings)


def test_the_cell_by_cell_reader_leaves_out_furigana_as_calamine_does(tmp_path, monkeypatch):
    """Japanese Excel stores the reading typed through the IME beside a name (``<rPh><t>ヤマダ</t></rPh>`` in the
    string item): the name is read without it, in shared strings, rich-text runs and inline strings alike."""
    from kodomo_desktop.core.importing import readers as R

    path = _minimal_xlsx(tmp_path / "ふりがな付き.xlsx", [["宛名番号", "氏名"]], {})
    m = "http://schemas.openxmlformats.org"
    items = [
        "<si><t>0000000001</t></si>",
        '<si><t>山田　花子</t><rPh sb="0" eb="2"><t>ヤマダ</t></rPh><rPh sb="3" eb="5"><t>ハナコ</t></rPh>'
        '<phoneticPr fontId="1"/></si>',
        '<si><r><t>試</t></r><r><rPr><b/></rPr><t>験</t></r><rPh sb="0" eb="2"><t>シケン</t></rPh></si>',
    ]
    rows = (
        '<row r="2"><c r="A2" t="s"><v>0</v></c><c r="B2" t="s"><v>1</v></c></row>'
        '<row r="3"><c r="A3" t="str"><v>0000000002</v></c><c r="B3" t="s"><v>2</v></c></row>'
        '<row r="4"><c r="A4" t="str"><v>0000000003</v></c><c r="B4" t="inlineStr"><is><t>川田</t>'
        '<rPh sb="0" eb="2"><t>カワダ</t></rPh></is></c></row>'
    )
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n).decode() for n in z.namelist()}
    parts["xl/worksheets/sheet1.xml"] = parts["xl/worksheets/sheet1.xml"].replace("</sheetData>", rows + "</sheetData>")
    parts["xl/sharedStrings.xml"] = f'<sst xmlns="{m}/spreadsheetml/2006/main">{"".join(items)}</sst>'
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        "</Relationships>",
        f'<Relationship Id="rId2" Type="{m}/officeDocument/2006/relationships/sharedStrings" '
        'Target="sharedStrings.xml"/></Relationships>',
    )
    with zipfile.ZipFile(path, "w") as z:
        for n, b in parts.items():
            z.writestr(n, b)
    dense = R.read_table(path)
    monkeypatch.setattr(R, "MAX_GRID_CELLS", 1)
    sparse = R.read_table(path)
    names = ["山田\u3000花子", "試験", "川田"]
    assert [r[1] for r in dense.rows] == names  # calamine
    assert [r[1] for r in sparse.rows] == names and list(sparse.rows) == list(dense.rows)
