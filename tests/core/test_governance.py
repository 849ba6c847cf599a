"""Opt-out, disclosure, deletion, legal basis, retention and the governance documents on a small world."""

import subprocess

import pytest
from factories import small_world
from sqlalchemy import text

from kodomo_desktop.core.errors import InputRefused
from kodomo_desktop.core.governance import disclosure as D
from kodomo_desktop.core.governance import documents as G
from kodomo_desktop.core.governance import register as R
from kodomo_desktop.core.governance.optout import add_optout, register, remove_optout
from kodomo_desktop.core.storage.db import raw_connect


def test_optout_excludes_rows_and_removal_needs_reason(new_db):
    w = small_world(new_db)
    pid = w["persons"][0]
    res = add_optout(new_db, pid, "不同意書の提出")
    assert res["rows_excluded"] == 1
    with new_db.session() as s:
        assert s.execute(text("SELECT status FROM link WHERE person_id=:p"), {"p": pid}).scalar() == "excluded"
    with pytest.raises(InputRefused):
        add_optout(new_db, pid, "二重登録")
    with pytest.raises(InputRefused):
        remove_optout(new_db, pid, " ")
    remove_optout(new_db, pid, "本人から撤回の申出")
    reg = register(new_db)
    assert reg[0]["removed_reason"] == "本人から撤回の申出"


def test_disclosure_holds_own_rows_only(new_db, tmp_path):
    w = small_world(new_db)
    pid = w["persons"][2]
    res = D.disclose(new_db, pid, tmp_path / "d.xlsx")
    assert res["source_rows"] == 1
    data = D.gather(new_db, pid)
    blob = str(data)
    assert "試験 子03" in blob
    assert not any(f"試験 子{i:02d}" in blob for i in range(1, 13) if i != 3)
    pdf = D.disclose(new_db, pid, tmp_path / "d.pdf")
    assert pdf["pages"] >= 1
    txt = subprocess.run(["pdftotext", str(tmp_path / "d.pdf"), "-"], capture_output=True, text=True).stdout
    assert "保有個人情報の開示" in txt and "取扱注意" in txt


def test_deletion_leaves_no_name_and_verify_passes(new_db):
    w = small_world(new_db)
    pid = w["persons"][4]
    D.delete_person(new_db, pid, "削除請求 第12号")
    con = raw_connect(new_db.path, new_db.raw_key())
    try:
        for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall():
            for row in con.execute(f'SELECT * FROM "{table}"').fetchall():
                assert "試験 子05" not in str(row), table
        assert (
            con.execute("SELECT count(*) FROM access_log WHERE action='deletion' AND person_id=?", (pid,)).fetchone()[0]
            == 1
        )
    finally:
        con.close()
    assert new_db.verify()["ok"]
    raw = new_db.path.read_bytes()
    assert "試験".encode() not in raw  # encrypted at rest as well


def test_file_register_counts_and_documents(new_db, tmp_path):
    small_world(new_db)
    reg = R.file_register(new_db)
    with new_db.session() as s:
        assert reg["persons_total"] == s.execute(text("SELECT count(*) FROM person")).scalar()
    assert reg["items"][0]["persons"] == 12
    assert G.file_register_pdf(new_db, tmp_path / "reg.pdf")["pages"] >= 1
    G.file_register_xlsx(new_db, tmp_path / "reg.xlsx")
    R.save_self_inspection(new_db, 2026, {"policy": True, "training": False, "training_note": "来年度実施"})
    assert G.self_inspection_pdf(new_db, 2026, tmp_path / "si.pdf")["pages"] >= 1
    txt = subprocess.run(["pdftotext", str(tmp_path / "si.pdf"), "-"], capture_output=True, text=True).stdout
    assert "自己点検報告書" in txt and "1 / 1" in txt
    fonts = subprocess.run(["pdffonts", str(tmp_path / "reg.pdf")], capture_output=True, text=True).stdout
    assert all(l.split()[-5] == "yes" for l in fonts.splitlines()[2:] if l.strip())
