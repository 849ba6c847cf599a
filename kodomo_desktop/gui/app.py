"""kodomo-desktop: the GUI entry point (first run, sign-in, main window, auto-lock)."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from PySide6.QtCore import QLibraryInfo, QLocale, QTranslator
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QApplication, QMessageBox

from ..resources import font_path

DATA_DIR = Path(os.environ.get("KODOMO_DATA_DIR", Path.home() / ".local" / "share" / "KodomoDesktop"))


def register_fonts(app: QApplication | None = None) -> str:
    """Qt draws boxes without a Japanese font on this kind of PC: register the bundled IPAex Gothic."""
    fid = QFontDatabase.addApplicationFont(str(font_path("gothic")))
    QFontDatabase.addApplicationFont(str(font_path("mincho")))
    families = QFontDatabase.applicationFontFamilies(fid) if fid >= 0 else []
    family = families[0] if families else "IPAexGothic"
    if app is not None:
        app.setFont(QFont(family, 10))
    return family


def make_app(argv=None, lang: str = "ja") -> QApplication:
    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    app.setApplicationName("Kodomo Desktop")
    app.setOrganizationName("KodomoDesktop")
    register_fonts(app)
    if lang == "ja":  # Qt's own dialogs (OK/Cancel, file dialogs) in Japanese
        tr = QTranslator(app)
        if tr.load(QLocale(QLocale.Japanese), "qtbase", "_", QLibraryInfo.path(QLibraryInfo.TranslationsPath)):
            app.installTranslator(tr)
        app._kd_translator = tr
    return app


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="kodomo-desktop")
    ap.add_argument("--db", help="encrypted database file")
    ap.add_argument("--demo", action="store_true", help="open (or first build) the synthetic demo town")
    ap.add_argument("--user", help="user name for sign-in")
    ap.add_argument("--lang", choices=["ja", "en"], default="ja")
    args = ap.parse_args(argv)
    app = make_app(sys.argv[:1], args.lang)
    from . import i18n
    i18n.set_language(args.lang)
    from .dialogs import FirstRunDialog, SignInDialog
    from .main_window import MainWindow
    db = Path(args.db) if args.db else None
    demo = args.demo
    if demo:
        from ..core.demo.service import DEMO_PASSWORD, build_demo
        db = db or DATA_DIR / "demo.db"
        if not db.exists():
            DATA_DIR.mkdir(parents=True, exist_ok=True)
            from .ops import run_with_progress
            ok, err = run_with_progress(None, "デモの町を作成しています…",
                                        lambda progress, cancelled: build_demo(db, residents=3000, seed=1,
                                                                               password=DEMO_PASSWORD,
                                                                               progress=progress))
            if not ok:
                QMessageBox.critical(None, "デモの町", f"デモの町を作成できませんでした: {err}")
                return 1
    if db is None:
        dlg = FirstRunDialog()
        if dlg.exec() != FirstRunDialog.Accepted:
            return 0
        ws = dlg.workspace
    else:
        dlg = SignInDialog(db, user=args.user, demo=demo)
        if dlg.exec() != SignInDialog.Accepted:
            return 0
        ws = dlg.workspace
    win = MainWindow(ws)
    win.show()
    if ws.failures_since_last:
        QMessageBox.warning(win, "サインイン", f"前回のサインイン以降、パスワードの誤りが {ws.failures_since_last} 回ありました。")
    rc = app.exec()
    ws.close()
    return rc


if __name__ == "__main__":
    sys.exit(main())
