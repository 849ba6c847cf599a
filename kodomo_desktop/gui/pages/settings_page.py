"""設定: town name, auto-lock minutes, language, backup (with a reminder), users (coordinator)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from PySide6.QtWidgets import (QComboBox, QFileDialog, QFormLayout, QLabel, QLineEdit, QMessageBox, QPushButton,
                               QSpinBox, QVBoxLayout, QWidget)

from ...core.errors import KodomoError
from ...core.storage.models import Setting


class SettingsPage(QWidget):
    def __init__(self, ws, main_window=None):
        super().__init__()
        self.ws, self.main = ws, main_window
        lay = QVBoxLayout(self)
        form = QFormLayout()
        self.town = QLineEdit(self._get("town_name", ""))
        self.lock = QSpinBox()
        self.lock.setRange(1, 120)
        self.lock.setSuffix(" 分")
        self.lock.setValue(int(self._get("auto_lock_minutes", 10)))
        self.lang = QComboBox()
        self.lang.addItem("日本語", "ja")
        self.lang.addItem("English", "en")
        form.addRow("町村名（帳票の見出し）", self.town)
        form.addRow("自動ロックまでの時間", self.lock)
        form.addRow("表示言語（次回起動から）", self.lang)
        lay.addLayout(form)
        save = QPushButton("保存")
        save.clicked.connect(self.save)
        lay.addWidget(save)
        self.backup_info = QLabel()
        lay.addWidget(self.backup_info)
        b = QPushButton("バックアップを作成…（USB メモリなど）")
        b.clicked.connect(self.backup)
        b.setEnabled(ws.can("backup"))
        lay.addWidget(b)
        lay.addWidget(QLabel(f"サインイン中: {ws.user.name}（{ws.user.role_label}）"))
        lay.addStretch(1)
        self._backup_text()

    def _get(self, key, default):
        with self.ws.session() as s:
            row = s.get(Setting, key)
            return row.value if row else default

    def _set(self, s, key, value):
        row = s.get(Setting, key) or Setting(key=key)
        row.value = value
        s.add(row)

    def save(self):
        try:
            self.ws.require("settings", what="settings")
        except KodomoError as e:
            return QMessageBox.warning(self, "設定", e.message_ja)
        with self.ws.session() as s:
            self._set(s, "town_name", self.town.text().strip())
            self._set(s, "auto_lock_minutes", self.lock.value())
            self._set(s, "language", self.lang.currentData())
            self.ws.log("settings_changed", detail={"keys": ["town_name", "auto_lock_minutes", "language"]}, conn=s)
        if self.main is not None:
            self.main.set_lock_minutes(self.lock.value())

    def _backup_text(self):
        last = self._get("last_backup_at", None)
        self.backup_info.setText(f"最後のバックアップ: {last or 'まだありません'}")

    def backup(self):
        from ...core.security.backup import backup
        name = f"kodomo-backup-{dt.date.today():%Y%m%d}.kdbak"
        path, _ = QFileDialog.getSaveFileName(self, "バックアップの保存先", str(Path.home() / name), "バックアップ (*.kdbak)")
        if not path:
            return
        try:
            backup(self.ws, Path(path))
        except KodomoError as e:
            return QMessageBox.warning(self, "バックアップ", e.message_ja)
        self._backup_text()
        QMessageBox.information(self, "バックアップ", "暗号化したバックアップを作成しました。")
