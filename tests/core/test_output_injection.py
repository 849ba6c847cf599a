"""Issue 22: exports that cannot run code. Names like ``=HYPERLINK(...)`` arrive through a department file (the
resident registry of a synthetic town) and a teacher's free-text remark comes back in a returned checklist; no cell
of any CSV or Excel output may then start with a live formula. Also: every export is created 0600."""

from __future__ import annotations

import csv
import os
import stat
from pathlib import Path

import pytest
from openpyxl import load_workbook

from kodomo_desktop.core import outputs as O

INJECTED = ['=HYPERLINK("http://x","y")', "=cmd|' /C calc'!A0", "+1+1", "@SUM(A1)", "\t=1"]
PW = "injection pw 1"


def live(value) -> bool:
    return O.is_dangerous(value)


def csv_problems(path: Path, encoding="utf-8") -> list:
    with open(path, encoding=encoding, newline="") as fh:
        return [(i, c) for i, row in enumerate(csv.reader(fh)) for c in row if live(c)]


def xlsx_problems(path: Path) -> list:
    wb = load_workbook(path)
    bad = []
    for sh in wb.worksheets:
        for row in sh.iter_rows():
            for c in row:
                if c.data_type == "f" or (live(c.value) and not c.quotePrefix):
                    bad.append((sh.title, c.coordinate, c.value))
    return bad


def mode(p) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


@pytest.fixture(scope="module")
def town(tmp_path_factory):
    """A small synthetic town whose registry carries the injected strings as five school children's surnames."""
    from kodomo_desktop.core.demo.files import write_department_files
    from kodomo_desktop.core.demo.town import generate_town
    from kodomo_desktop.core.importing.service import import_file
    from kodomo_desktop.core.linkage.service import run_linkage
    from kodomo_desktop.core.scoring.service import run_scoring
    from kodomo_desktop.core.workspace import Workspace

    d = tmp_path_factory.mktemp("inject")
    t = generate_town(residents=300, seed=5)
    P = t.persons
    kids = P[(P.age >= 7) & (P.age <= 12) & P.in_registry].index[: len(INJECTED)]
    for k, inj in zip(kids, INJECTED):
        P.loc[k, "surname"] = inj
        P.loc[k, "name"] = inj + "\u3000" + P.loc[k, "given_name"]
    files = write_department_files(t, d / "files")
    ws = Workspace.create(d / "t.db", PW)
    for f in sorted(files, key=lambda f: f.source_type != "resident_registry"):
        import_file(ws, Path(f.path), f.source_type, as_of=t.as_of)
    run_linkage(ws)
    run_scoring(ws)
    from sqlalchemy import text

    with ws.engine.connect() as c:
        injected = c.execute(
            text("SELECT id, name FROM person WHERE substr(name, 1, 1) IN ('=', '+', '-', '@', char(9))")
        ).all()
    ws.close()
    assert len(injected) == len(INJECTED), injected  # the department file carried them in
    return d, [r.id for r in injected]


@pytest.fixture
def ws(town):
    from kodomo_desktop.core.workspace import Workspace

    w = Workspace.open(town[0] / "t.db", PW)
    yield w
    w.close()


def test_score_csv_and_export_links(ws, town, tmp_path):
    from kodomo_desktop.core.linkage.service import export_links
    from kodomo_desktop.core.scoring.service import score_to_csv

    score_to_csv(ws, tmp_path / "scores.csv")
    text_ = (tmp_path / "scores.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK" in text_ and "'+1+1" in text_  # the children are there, neutralised
    assert csv_problems(tmp_path / "scores.csv") == []
    export_links(ws, tmp_path / "links.csv")
    assert csv_problems(tmp_path / "links.csv") == []
    if os.name == "posix":
        assert mode(tmp_path / "scores.csv") == mode(tmp_path / "links.csv") == 0o600


def test_disclosure_workbook_and_log_export(ws, town, tmp_path):
    from kodomo_desktop.core.audit.export import export_log
    from kodomo_desktop.core.governance.disclosure import disclose

    for pid in town[1]:
        out = tmp_path / f"{pid}.xlsx"
        disclose(ws, pid, out)
        assert xlsx_problems(out) == []
        if os.name == "posix":
            assert mode(out) == 0o600
    names = {c.value for sh in load_workbook(out).worksheets for row in sh.iter_rows() for c in row}
    assert any(isinstance(v, str) and v[:1] in "=+-@\t" for v in names)  # kept as text, not dropped
    # the log's own cells: put a name-like string in a detail through a logged action
    ws.log("print", detail={"document": '=HYPERLINK("http://x","y")'})
    export_log(ws, tmp_path / "log.xlsx")
    export_log(ws, tmp_path / "log.csv")
    assert xlsx_problems(tmp_path / "log.xlsx") == []
    assert csv_problems(tmp_path / "log.csv") == []
    if os.name == "posix":
        assert mode(tmp_path / "log.xlsx") == mode(tmp_path / "log.csv") == 0o600


def test_file_register_and_funnel(ws, town, tmp_path):
    from kodomo_desktop.core.casework import service as C
    from kodomo_desktop.core.governance.documents import file_register_xlsx

    file_register_xlsx(ws, tmp_path / "reg.xlsx")
    assert xlsx_problems(tmp_path / "reg.xlsx") == []
    rid = C.create_round(ws, "=1+1 ラウンド")
    C.funnel_to_excel(ws, rid, tmp_path / "funnel.xlsx")
    assert xlsx_problems(tmp_path / "funnel.xlsx") == []
    if os.name == "posix":
        assert mode(tmp_path / "reg.xlsx") == mode(tmp_path / "funnel.xlsx") == 0o600


def test_checklist_template_and_returned_remark(ws, town, tmp_path):
    """The school's workbook lists the injected pupils as text; a teacher's remarks — one typed as a formula, one
    as text beginning with @ — come back, are read as values (the formula flagged, not evaluated) and never
    become live formulas in the coordinator's disclosure workbook."""
    from kodomo_desktop.core.checklists import service as CL
    from kodomo_desktop.core.governance.disclosure import disclose
    from kodomo_desktop.core.importing.service import import_file

    schools = {p["person_id"]: sch for sch in CL.schools(ws) for p in CL.pupils(ws, sch)}
    pid = next(p for p in town[1] if p in schools)
    school = schools[pid]
    out = tmp_path / "school.xlsx"
    CL.write_template(ws, school, out)
    assert xlsx_problems(out) == []
    if os.name == "posix":
        assert mode(out) == 0o600
    wb = load_workbook(out)
    sh = wb["チェックリスト"]
    head = next(r for r in range(1, 10) if sh.cell(r, 1).value == "行キー")
    remark_col = sh.max_column
    rows = {CL.parse_row_key(sh.cell(r, 1).value)[1]: r for r in range(head + 1, sh.max_row + 1) if sh.cell(r, 1).value}
    assert sh.cell(rows[pid], 4).data_type == "s" and sh.cell(rows[pid], 4).value[:1] in "=+-@\t"
    other = next(p for p in rows if p != pid)
    sh.cell(rows[pid], 6, "該当")
    sh.cell(rows[pid], remark_col, '=HYPERLINK("http://evil","クリック")')  # typed as a formula in Excel
    sh.cell(rows[other], 6, "非該当")
    c = sh.cell(rows[other], remark_col)
    c.value, c.data_type = "@SUM(A1) 気になる様子", "s"
    back = tmp_path / "back.xlsx"
    wb.save(back)
    res = import_file(ws, back, "school_checklist")
    assert res.imported == 2
    assert any("数式" in w for w in res.warnings)  # flagged
    for p in (pid, other):
        d = tmp_path / f"disc_{p}.xlsx"
        disclose(ws, p, d)
        assert xlsx_problems(d) == []
    vals = {
        c.value for sh in load_workbook(tmp_path / f"disc_{other}.xlsx").worksheets for r in sh.iter_rows() for c in r
    }
    assert any(isinstance(v, str) and "@SUM(A1) 気になる様子" in v for v in vals)


def test_imported_formula_cells_are_flagged(tmp_path):
    """A department workbook's formulas are read as the values Excel cached, never evaluated, and reported."""
    from openpyxl import Workbook

    from kodomo_desktop.core.importing.readers import formula_cells, read_table

    wb = Workbook()
    sh = wb.active
    sh.append(["宛名番号", "氏名", "生年月日", "欠席日数"])
    sh.append(["100001", "試験 一郎", "2015-04-01", 3])
    sh.append(["100002", "試験 二郎", "2015-05-01", "=D2*10"])
    wb.save(tmp_path / "f.xlsx")
    data = (tmp_path / "f.xlsx").read_bytes()
    assert formula_cells(data) == 1 and formula_cells(data, "Sheet") == 1 and formula_cells(data, "無い") == 0
    t = read_table(tmp_path / "f.xlsx")
    assert t.formula_cells == 1 and any("数式" in w for w in t.warnings)
    assert t.rows[1][3] in ("", "30")  # the cached value (none here: never opened in Excel), not evaluated


def test_sharing_outputs(ws, town, tmp_path):
    """The sharing exports (pseudonymised CSV, a school's watch list) built on the same writer."""
    from kodomo_desktop.core.checklists import service as CL
    from kodomo_desktop.core.sharing.pseudonymised import export_pseudonymised
    from kodomo_desktop.core.sharing.sheets import write_watch_list

    export_pseudonymised(ws, tmp_path / "pseudo", "試験用の分析")
    csvs = sorted((tmp_path / "pseudo").glob("*.csv"))
    assert csvs
    for f in csvs:
        assert csv_problems(f) == [], f.name
        if os.name == "posix":
            assert mode(f) == 0o600
    for school in CL.schools(ws):
        out = tmp_path / f"watch_{school}.xlsx"
        write_watch_list(ws, school, out)
        assert xlsx_problems(out) == []
