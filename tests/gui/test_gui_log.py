"""A failure the GUI shows also reaches the diagnostic file log (a Windows GUI process has no console for stderr):
the error's type, an unexpected one's traceback — never its message, a name or any other Japanese text."""

from __future__ import annotations

import logging

from kodomo_desktop.core import logsetup
from kodomo_desktop.core.errors import InputRefused
from kodomo_desktop.gui import ops


def _log_text() -> str:
    for h in logging.getLogger("kodomo_desktop").handlers:
        h.flush()
    return (logsetup.log_dir() / logsetup.LOG_NAME).read_text(encoding="utf-8")


def test_shown_errors_are_logged_by_type_without_their_text(app, monkeypatch):
    shown = []
    monkeypatch.setattr(ops.QMessageBox, "warning", lambda *a: shown.append(("warning", a[2])))
    monkeypatch.setattr(ops.QMessageBox, "critical", lambda *a: shown.append(("critical", a[2])))
    logsetup.setup("test")
    ops.show_error(None, "取込", InputRefused("山田 花子 の行は読めません。"))
    try:
        raise KeyError("佐藤 太郎 みさき町1-2-3")
    except KeyError as e:
        ops.show_error(None, "印刷", e)
    assert [k for k, _ in shown] == ["warning", "critical"]  # the user still sees both, in Japanese
    text = _log_text()
    assert "refused and shown to the user: InputRefused" in text
    assert "unexpected error shown to the user" in text and "builtins.KeyError" in text
    assert "test_shown_errors_are_logged_by_type_without_their_text" in text  # the traceback's code lines
    assert "山田" not in text and "佐藤" not in text and "みさき" not in text
