"""設定: display language (per PC, from the next start), auto-lock minutes and the town's name (per database,
logged), the signed-in user's password, and an encrypted backup."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...core.errors import KodomoError
from .. import prefs
from ..dialogs import ERROR_STYLE, MIN_PASSWORD, strength
from ..format import when
from ..i18n import LANGUAGES, language, tr

if TYPE_CHECKING:  # annotations only: the GUI gets its workspace from the caller
    from ...core.workspace import Workspace


class PasswordDialog(QDialog):
    """Change the signed-in user's password (a new key slot and a re-key of the database: the old password opens nothing)."""

    def __init__(self, ws: Workspace, parent=None):
        super().__init__(parent)
        self.ws = ws
        self.setWindowTitle(tr("パスワードの変更"))
        lay = QVBoxLayout(self)
        form = QFormLayout()
        self.old, self.new, self.new2 = QLineEdit(), QLineEdit(), QLineEdit()
        for w in (self.old, self.new, self.new2):
            w.setEchoMode(QLineEdit.Password)
        self.hint = QLabel()
        self.new.textChanged.connect(self._hint)
        form.addRow(tr("いまのパスワード"), self.old)
        form.addRow(tr("新しいパスワード"), self.new)
        form.addRow("", self.hint)
        form.addRow(tr("新しいパスワード（確認）"), self.new2)
        lay.addLayout(form)
        self.msg = QLabel()
        self.msg.setStyleSheet(ERROR_STYLE)
        self.msg.setWordWrap(True)
        lay.addWidget(self.msg)
        bb = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        bb.accepted.connect(self.change)
        bb.rejected.connect(self.reject)
        lay.addWidget(bb)
        self._hint("")

    def _hint(self, text):
        _, hint, colour = strength(text)
        self.hint.setText(hint)
        self.hint.setStyleSheet(f"color:{colour};")

    def change(self):
        from ...core.workspace import change_password

        if len(self.new.text()) < MIN_PASSWORD:
            return self.msg.setText(tr("パスワードは8文字以上にしてください。"))
        if self.new.text() != self.new2.text():
            return self.msg.setText(tr("確認用のパスワードが一致しません。"))
        try:
            change_password(self.ws.path, self.ws.user.name, self.old.text(), self.new.text())
        except KodomoError as e:
            self.old.clear()
            return self.msg.setText(e.message_ja)
        QMessageBox.information(
            self, tr("パスワードの変更"), tr("パスワードを変更しました。次回から新しいパスワードで開きます。")
        )
        self.accept()


class SettingsPage(QWidget):
    def __init__(self, ws: Workspace, main_window=None):
        super().__init__()
        self.ws, self.main = ws, main_window
        lay = QVBoxLayout(self)
        title = QLabel(tr("設定"))
        title.setStyleSheet("font-size:15pt;font-weight:bold;")
        lay.addWidget(title)

        pc = QGroupBox(tr("このパソコンの設定"))
        f1 = QFormLayout(pc)
        self.lang = QComboBox()
        for code, name in LANGUAGES.items():
            self.lang.addItem(name, code)
        self.lang.setCurrentIndex(max(0, self.lang.findData(prefs.get("language", language()))))
        self.lang.currentIndexChanged.connect(self._save_language)
        f1.addRow(tr("表示言語（次回の起動から）"), self.lang)
        lay.addWidget(pc)

        db = QGroupBox(tr("このデータベースの設定（変更は操作ログに記録されます）"))
        f2 = QFormLayout(db)
        self.town = QLineEdit(str(prefs.db_setting(ws, "town_name", "") or ""))
        self.town.setPlaceholderText(tr("例: みどり町"))
        self.lock = QDoubleSpinBox()
        self.lock.setDecimals(0)
        self.lock.setRange(1, 120)
        self.lock.setSuffix(" " + tr("分"))
        self.lock.setValue(prefs.auto_lock_minutes(ws))
        self.backup_dir = QLineEdit(str(prefs.db_setting(ws, "backup_folder", "") or ""))
        self.backup_dir.setPlaceholderText(tr("（未設定: 保存のたびに選びます）"))
        f2.addRow(tr("町村名（帳票の見出し）"), self.town)
        f2.addRow(tr("自動ロックまでの時間（操作がないとき）"), self.lock)
        f2.addRow(tr("バックアップの保存先"), self.backup_dir)
        row = QHBoxLayout()
        self.save_button = QPushButton(tr("保存"))
        self.save_button.clicked.connect(self.save)
        row.addWidget(self.save_button)
        row.addStretch(1)
        f2.addRow(row)
        can = ws.can("settings")
        for w in (self.town, self.lock, self.backup_dir, self.save_button):
            w.setEnabled(can)
        if not can:
            f2.addRow(QLabel(tr("この役割では変更できません。")))
        lay.addWidget(db)

        me = QGroupBox(tr("サインイン中の利用者"))
        f3 = QFormLayout(me)
        f3.addRow(tr("利用者"), QLabel(f"{ws.user.name}（{tr(ws.user.role_label)}）"))
        f3.addRow(tr("データベース"), QLabel(str(ws.path)))
        pw = QPushButton(tr("パスワードを変更…"))
        pw.clicked.connect(lambda: PasswordDialog(ws, self).exec())
        f3.addRow("", pw)
        lay.addWidget(me)

        bk = QGroupBox(tr("バックアップ（暗号化されたまま保存します）"))
        f4 = QVBoxLayout(bk)
        self.backup_info = QLabel()
        f4.addWidget(self.backup_info)
        self.backup_button = QPushButton(tr("バックアップを作成…（USB メモリなど）"))
        self.backup_button.clicked.connect(self.backup)
        self.backup_button.setEnabled(ws.can("backup"))
        f4.addWidget(self.backup_button)
        lay.addWidget(bk)

        kg = QGroupBox(tr("鍵の更新（データベースの再暗号化）"))
        f5 = QVBoxLayout(kg)
        f5.addWidget(
            QLabel(
                tr(
                    "新しい鍵でデータベースを暗号化し直します。古い鍵ファイルの写しでは、今のデータベースは開けなくなります。"
                    "利用者のパスワードは変わりません。"
                )
            )
        )
        self.rotate_button = QPushButton(tr("鍵を更新する…"))
        self.rotate_button.clicked.connect(lambda: self.rotate_keys())
        self.rotate_button.setEnabled(ws.can("users.manage"))
        f5.addWidget(self.rotate_button)
        self.rotate_info = QLabel()
        f5.addWidget(self.rotate_info)
        lay.addWidget(kg)
        lay.addStretch(1)
        self._backup_text()

    def rotate_keys(self, confirmed: bool | None = None) -> bool:
        """鍵の更新 (core: Workspace.rotate_keys). ``confirmed`` skips the question (tests)."""
        if confirmed is None:
            answer = QMessageBox.question(
                self,
                tr("鍵の更新"),
                tr("データベースを新しい鍵で暗号化し直します。よろしいですか。"),
            )
            confirmed = answer == QMessageBox.StandardButton.Yes
        if not confirmed:
            return False
        try:
            r = self.ws.rotate_keys()
        except KodomoError as e:
            self.rotate_info.setText(e.message_ja)
            return False
        text = tr("鍵を更新しました。")
        if r.get("need_new_password"):
            text += " " + tr("新しいパスワードが必要な利用者: {names}", names="、".join(r["need_new_password"]))
        self.rotate_info.setText(text)
        if self.main is not None:
            self.main.status(text)
        return True

    def page_shown(self):
        self._backup_text()

    def _save_language(self):
        prefs.put("language", self.lang.currentData())
        if self.main is not None:
            self.main.status(tr("表示言語は次回の起動から変わります。"))

    def save(self):
        try:
            prefs.set_db_setting(
                self.ws,
                {
                    "town_name": self.town.text().strip(),
                    "auto_lock_minutes": int(self.lock.value()),
                    "backup_folder": self.backup_dir.text().strip() or None,
                },
            )
        except KodomoError as e:
            return QMessageBox.warning(self, tr("設定"), e.message_ja)
        if self.main is not None:
            self.main.set_lock_minutes(self.lock.value())
            self.main.status(tr("設定を保存しました。"))

    def _backup_text(self):
        if self.ws.locked:
            return
        last = prefs.db_setting(self.ws, "last_backup_at", None)
        self.backup_info.setText(
            tr("最後のバックアップ: {when}", when=when(str(last).strip('"')) if last else tr("まだありません"))
        )

    def backup(self):
        from ...core.security.backup import backup
        from ..ops import run_with_progress

        name = f"kodomo-backup-{dt.date.today():%Y%m%d}.kdbak"
        path, _ = QFileDialog.getSaveFileName(
            self,
            tr("バックアップの保存先"),
            str(Path(prefs.db_setting(self.ws, "backup_folder", "") or Path.home()) / name),
            tr("バックアップ (*.kdbak)"),
        )
        if not path:
            return

        def done(_res):
            self._backup_text()
            QMessageBox.information(self, tr("バックアップ"), tr("暗号化したバックアップを作成しました。"))

        run_with_progress(
            self,
            tr("バックアップ"),
            lambda progress, cancel: backup(self.ws, Path(path)),
            on_done=done,
            cancellable=False,
            label=tr("バックアップを作成しています…"),
        )
