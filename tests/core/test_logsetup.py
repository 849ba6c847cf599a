"""The diagnostic file log: in the data folder (KODOMO_LOG_DIR here), private, ids and codes only — a name, an address
or a Japanese message quoting them never reaches the file, not even through an exception's text."""

import logging
import stat

from clirun import run_cli
from conftest import PASSWORD

from kodomo_desktop.core import logsetup


def _log_text() -> str:
    for h in logging.getLogger("kodomo_desktop").handlers:
        h.flush()
    return (logsetup.log_dir() / logsetup.LOG_NAME).read_text(encoding="utf-8")


def test_cli_runs_are_logged_without_personal_text(tmp_path):
    r = run_cli(["init", "--db", "x.db"], cwd=tmp_path, env={"KODOMO_DB_PASSWORD": PASSWORD, **_base_env()})
    assert r.returncode == 0
    r = run_cli(["verify", "--db", "x.db"], cwd=tmp_path, env={"KODOMO_DB_PASSWORD": "wrong", **_base_env()})
    assert r.returncode == 2
    path = logsetup.setup("test")
    assert path is not None and path.parent == logsetup.log_dir()
    assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0  # the user's own
    text = _log_text()
    assert "command init started" in text and "command init exit 0" in text
    assert "command verify refused" in text and "exit 2" in text


def test_names_and_exception_messages_are_scrubbed():
    logsetup.setup("test")
    log = logging.getLogger("kodomo_desktop.test")
    log.info("opened %s for %s", "P000123", "山田 花子")
    try:
        raise ValueError("住所 みさき町1-2-3 の 佐藤 太郎")
    except ValueError:
        log.exception("failed on %s", "P000124")
    text = _log_text()
    assert "P000123" in text and "P000124" in text and "builtins.ValueError" in text
    assert "山田" not in text and "佐藤" not in text and "みさき" not in text
    assert all(ord(c) < 128 for c in text)


def _base_env() -> dict:
    import os

    return {k: v for k, v in os.environ.items() if k.startswith(("KODOMO_KDF", "KODOMO_LOG", "PATH", "HOME", "PYTHON"))}
