"""An --out into a folder that does not exist is refused with a Japanese message naming the folder (exit 2), never a
traceback, and nothing is written anywhere (the temporary file goes into the missing folder, so it cannot be left)."""

import os

import pytest
from clirun import run_cli
from conftest import PASSWORD

from kodomo_desktop.core.errors import InputRefused, storage_failure


def test_log_and_export_links_into_a_missing_folder_exit_2_naming_it(tmp_path, new_db):
    db = new_db.path
    new_db.close()
    env = {**os.environ, "KODOMO_DB_PASSWORD": PASSWORD}
    missing = tmp_path / "no" / "such"
    for cmd in (["log"], ["export-links"]):
        r = run_cli([*cmd, "--db", db, "--out", missing / "x.csv"], env=env)
        assert r.returncode == 2, (cmd, r.stderr)
        assert "Traceback" not in r.stderr
        assert "保存先のフォルダーがありません" in r.stderr and str(missing) in r.stderr
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("make_folder", [False, True])
def test_a_missing_file_is_named_and_a_missing_folder_is_named_as_a_folder(tmp_path, make_folder):
    folder = tmp_path / "dir"
    if make_folder:
        folder.mkdir()
    with pytest.raises(FileNotFoundError) as info:
        open(folder / "f.csv")
    refused = storage_failure(info.value)
    assert isinstance(refused, InputRefused) and refused.exit_code == 2
    if make_folder:
        assert "ファイルが見つかりません" in refused.message_ja and "f.csv" in refused.message_ja
    else:
        assert "保存先のフォルダーがありません" in refused.message_ja and str(folder) in refused.message_ja
