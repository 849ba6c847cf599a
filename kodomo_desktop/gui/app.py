"""kodomo-desktop: the GUI entry point.

kodomo-desktop                 # the last database (sign-in), or the first-run dialog
kodomo-desktop --db PATH       # sign in to PATH, or create it when it does not exist yet
kodomo-desktop --demo          # build (first time) or reuse the synthetic demo town; its password is "demo"
kodomo-desktop --lang en       # English (default: Japanese, or what 設定 saved on this PC)
kodomo-desktop --self-test [--db PATH]   # the installation check: demo town (or PATH), every page, a PDF; exit 0/1
"""

from __future__ import annotations

import argparse
import inspect
import sys
from pathlib import Path

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from .. import resources
from ..core import logsetup
from ..core.outputs import clean_stale_previews, restrict_umask
from . import fonts, i18n, prefs, release_import_hooks
from .i18n import tr

release_import_hooks()  # PySide6 is in: the plain import statement back (gui/__init__.py says why)

DEMO_RESIDENTS = 3000
DEMO_SEED = 1
DEMO_USER = "coordinator"


def register_fonts(app: QApplication | None = None) -> str:
    """Register the bundled IPAex fonts and make Gothic the application font; returns its family name."""
    fonts.register_fonts(app)
    return fonts.ui_family()


def prepare_app(argv: list[str] | None = None, lang: str | None = None) -> QApplication:
    """The QApplication with the bundled Japanese font, the language and Qt's own translations."""
    app = QApplication.instance() or QApplication(list(argv) if argv else sys.argv[:1])
    app.setApplicationName("Kodomo Desktop")
    app.setOrganizationName(prefs.ORG)
    app.setApplicationDisplayName("Kodomo Desktop")
    register_fonts(app)
    lang = lang or prefs.get("language", "ja")
    i18n.set_language(lang)
    i18n.install_qt_translations(app, i18n.language())
    icon = resources.icon_path()
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    return app


# --- the demo town ------------------------------------------------------------------------------------------------
def _remove_database(path: Path) -> None:
    from ..core.demo.service import remove_database

    remove_database(path)


def ensure_demo(path: Path, parent=None, residents: int = DEMO_RESIDENTS) -> bool:
    """Build the demo town at ``path`` unless it is already there (progress dialog, キャンセル removes it)."""
    from ..core.demo.service import demo_exists

    if demo_exists(path):
        return True
    from ..core.demo.service import build_demo
    from .ops import call_with_progress

    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_database(path)  # half a demo from an interrupted build
    extra = {}
    try:
        if "password" in inspect.signature(build_demo).parameters:
            from ..core.demo.service import DEMO_PASSWORD

            extra["password"] = DEMO_PASSWORD  # never KODOMO_DB_PASSWORD from the environment
    except (TypeError, ValueError, ImportError):
        pass

    def work(progress, cancel):
        def say(*args, **kw):
            progress(*args, **kw)
            cancel.check()

        return build_demo(path, residents=residents, seed=DEMO_SEED, files_out=None, progress=say, **extra)

    try:
        call_with_progress(
            parent,
            tr("デモの町"),
            work,
            label=tr("架空の町（住民 {n} 人）を作成しています…", n=f"{residents:,}"),
            delay_ms=0,
        )
    except Exception as e:
        _remove_database(path)
        from .ops import show_error

        show_error(parent, tr("デモの町"), e)
        return False
    return True


# --- start-up -------------------------------------------------------------------------------------------------------
def sign_in(path: Path, user: str | None = None, demo: bool = False):
    from .dialogs import SignInDialog

    if user is None and prefs.get("last_db") == str(path):
        user = prefs.get("last_user")
    dlg = SignInDialog(path, user=user or (DEMO_USER if demo else None), demo=demo)
    return dlg.workspace if dlg.exec() == SignInDialog.Accepted else None


def first_run(path: Path | None = None):
    from .dialogs import FirstRunDialog

    dlg = FirstRunDialog(path=path)
    if dlg.exec() != FirstRunDialog.Accepted:
        return None
    if dlg.choice == "created":
        return dlg.workspace
    if dlg.choice == "open" and dlg.open_path:
        return sign_in(dlg.open_path)
    if dlg.choice == "demo":
        return open_demo(prefs.demo_db_path())
    return None


def open_demo(path: Path):
    if not ensure_demo(path):
        return None
    return sign_in(path, DEMO_USER, demo=True)


def start(args) -> object | None:
    """The open Workspace chosen through the dialogs, or None when the user closed them."""
    if args.demo:
        return open_demo(Path(args.db).expanduser() if args.db else prefs.demo_db_path())
    if args.db:
        path = Path(args.db).expanduser()
        return sign_in(path, args.user) if path.exists() else first_run(path)
    last = prefs.get("last_db")
    if last and Path(last).exists():
        return sign_in(Path(last), args.user)
    return first_run()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="kodomo-desktop", description="Kodomo Desktop — こどもデータ連携")
    ap.add_argument("--db", help="暗号化データベースのファイル（なければ作成します）")
    ap.add_argument("--demo", action="store_true", help="架空のデモの町を開く（初回は作成します。パスワード demo）")
    ap.add_argument("--user", help="サインインする利用者名")
    ap.add_argument("--lang", choices=sorted(i18n.LANGUAGES), help="表示言語（ja / en）")
    ap.add_argument(
        "--self-test",
        action="store_true",
        help="動作確認: デモの町（または --db）にサインインし、全ページを開いてPDFを作り、結果を表示して終了（0: 正常）",
    )
    args = ap.parse_args(argv)
    restrict_umask()  # files this process creates are owner-only (POSIX)
    logsetup.setup("gui")  # the diagnostic file log (ids only; core/logsetup.py)
    clean_stale_previews()  # print previews a crashed run left behind
    if args.self_test:
        from . import selftest

        selftest.prepare_environment()
    app = prepare_app(sys.argv[:1], args.lang)
    if args.self_test:
        return selftest.run(args.db, user=args.user)
    ws = start(args)
    if ws is None:
        return 0
    from .dialogs import failures_message
    from .main_window import MainWindow

    prefs.put("last_db", str(ws.path))
    prefs.put("last_user", ws.user.name)
    win = MainWindow(ws)
    win.show()
    if ws.failures_since_last:
        QMessageBox.warning(win, tr("サインイン"), failures_message(ws.failures_since_last))
    win.raise_()
    win.activateWindow()
    try:
        rc = app.exec()
    finally:
        ws.close()
    return rc


if __name__ == "__main__":
    sys.exit(main())
