"""core/outputs.py: the one writer for CSV/Excel outputs (formula neutralising, private files)."""

import csv
import os
import stat

import pytest
from openpyxl import Workbook, load_workbook

from kodomo_desktop.core import outputs as O

INJECTED = ['=HYPERLINK("http://x","y")', "=cmd|' /C calc'!A0", "+1+1", "@SUM(A1)", "\t=1", "\r=1", "-2+3"]
posix = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


def live(value) -> bool:
    """Would a spreadsheet read this text as a formula / DDE command?"""
    return isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") and not O._NUMERAL.fullmatch(value)


@pytest.mark.parametrize("s", INJECTED)
def test_neutralise_prefixes_formula_text(s):
    assert O.neutralise(s) == "'" + s
    assert not live(O.neutralise(s))


@pytest.mark.parametrize("v", [-3, 2.5, 0, -0.25, None, True])
def test_numbers_stay_numbers(v):
    assert O.neutralise(v) is v


@pytest.mark.parametrize("s", ["-3", "-2.5", "+4", "1e3", "山田", "'=already", "a=b", ""])
def test_harmless_text_unchanged(s):
    assert O.neutralise(s) == s


def test_write_csv_neutralises_and_is_private(tmp_path):
    out = tmp_path / "x.csv"
    n = O.write_csv(out, ["id", "=name"], [[1, s] for s in INJECTED] + [[-3, "-3"]])
    assert n == len(INJECTED) + 1
    rows = list(csv.reader(out.open(encoding="utf-8", newline="")))
    assert rows[0] == ["id", "'=name"]
    assert [r[1] for r in rows[1:-1]] == ["'" + s for s in INJECTED]
    assert rows[-1] == ["-3", "-3"]  # a negative number is a number
    assert not any(live(c) for r in rows for c in r)
    assert not out.read_bytes().startswith(b"\xef\xbb\xbf")
    if os.name == "posix":
        assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["x.csv"]  # no temporary file left


def test_write_csv_bom_when_asked(tmp_path):
    out = tmp_path / "y.csv"
    O.write_csv(out, ["a"], [["b"]], encoding="utf-8-sig")
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")


def test_workbook_cells_are_text_never_formulas(tmp_path):
    wb = Workbook()
    sh = wb.active
    O.safe_append(sh, ["番号"] + INJECTED + [-3])
    for i, s in enumerate(INJECTED, 1):
        O.safe_cell(sh, 2, i, s)
    sh.append(["=1+1", "@x"])  # a writer that forgot: caught on save
    out = tmp_path / "x.xlsx"
    O.save_workbook(wb, out)
    got = load_workbook(out)
    cells = [c for row in got.active.iter_rows() for c in row if c.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    texts = {c.value for c in cells if isinstance(c.value, str)}
    assert {s.replace("\r", "\n") for s in INJECTED} <= texts  # kept as it was, as text (XML reads CR as LF)
    assert all(c.quotePrefix for c in cells if live(c.value))
    assert got.active.cell(1, len(INJECTED) + 2).value == -3
    assert got.active.cell(1, len(INJECTED) + 2).data_type == "n"
    if os.name == "posix":
        assert stat.S_IMODE(os.stat(out).st_mode) == 0o600


def test_save_workbook_with_password(tmp_path):
    import io

    import msoffcrypto

    wb = Workbook()
    O.safe_append(wb.active, ["=x"])
    out = tmp_path / "p.xlsx"
    O.save_workbook(wb, out, password="pw-1234")
    f = msoffcrypto.OfficeFile(out.open("rb"))
    assert f.is_encrypted()
    f.load_key(password="pw-1234")
    plain = io.BytesIO()
    f.decrypt(plain)
    assert load_workbook(plain).active["A1"].data_type == "s"


@posix
def test_private_dir_and_file_modes(tmp_path):
    d = O.private_dir(tmp_path / "a" / "b")
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    f = d / "f"
    f.write_text("x")
    os.chmod(f, 0o644)
    O.private_file(f)
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
    g = d / "g"
    g.write_text("old")
    os.chmod(g, 0o644)
    with O.open_private(g, "w", encoding="utf-8") as fh:  # an existing file is tightened too
        fh.write("new")
    assert stat.S_IMODE(os.stat(g).st_mode) == 0o600 and g.read_text() == "new"


def test_windows_branch_leaves_acl(tmp_path, monkeypatch):
    """Off POSIX the helpers do not chmod (the profile's ACL is per-user already)."""
    calls = []
    monkeypatch.setattr(O, "_POSIX", False)
    monkeypatch.setattr(O.os, "chmod", lambda *a: calls.append(a))
    f = tmp_path / "f"
    f.write_text("x")
    O.private_file(f)
    O.private_dir(tmp_path / "d")
    assert calls == []


def test_preview_folders_live_in_one_private_place_and_leftovers_go(tmp_path, monkeypatch):
    import subprocess
    import sys

    monkeypatch.setenv("KODOMO_TEMP_DIR", str(tmp_path))
    mine = O.new_preview_dir()
    root = O.preview_root()
    assert mine.parent == root and root.parent == tmp_path
    if os.name == "posix":
        assert stat.S_IMODE(os.stat(root).st_mode) == 0o700 and stat.S_IMODE(os.stat(mine).st_mode) == 0o700
    # a crashed run's folder (its process is gone), with a child's PDF in it
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    crashed = root / f"{O.PREVIEW_PREFIX}{int(dead.stdout)}-abc"
    crashed.mkdir()
    (crashed / "page-1.pdf").write_bytes(b"%PDF-1.4 child")
    odd = root / "something-else"
    odd.mkdir()
    assert O.clean_stale_previews() == 2
    assert not crashed.exists() and not odd.exists()
    assert mine.exists()  # this (running) app's folder stays


def test_preview_root_refuses_a_folder_of_another_kind(tmp_path, monkeypatch):
    monkeypatch.setenv("KODOMO_TEMP_DIR", str(tmp_path))
    target = tmp_path / "elsewhere"
    target.mkdir()
    (tmp_path / f"kodomo-previews-{O._user_tag()}").symlink_to(target)
    with pytest.raises(OSError):
        O.preview_root()
    d = O.new_preview_dir()  # falls back to a fresh private temp folder
    assert d.exists() and target not in d.parents
    d.rmdir()
