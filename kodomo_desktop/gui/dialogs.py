"""First-run and sign-in dialogs."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
                               QPushButton, QVBoxLayout, QWidget)

from ..core.errors import KodomoError
from ..core.workspace import Workspace
from .i18n import tr


def strength_hint(pw: str) -> str:
    kinds = sum(any(f(c) for c in pw) for f in (str.islower, str.isupper, str.isdigit, lambda c: not c.isalnum()))
    if len(pw) < 8:
        return "弱い：8文字以上にしてください"
    if len(pw) >= 14 or (len(pw) >= 10 and kinds >= 3):
        return "強い"
    return "普通：長くするか、数字・記号を混ぜるとより安全です"


class FirstRunDialog(QDialog):
    """Where to keep the database, and the first coordinator's password."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Kodomo Desktop — はじめての設定")
        self.workspace = None
        lay = QFormLayout(self)
        lay.addRow(QLabel("データベースは暗号化して保存されます。パスワードを忘れると開けません（復旧手段はありません）。"))
        row = QHBoxLayout()
        self.path = QLineEdit(str(Path.home() / "KodomoDesktop" / "kodomo.db"))
        pick = QPushButton("参照…")
        pick.clicked.connect(self._pick)
        row.addWidget(self.path)
        row.addWidget(pick)
        w = QWidget()
        w.setLayout(row)
        lay.addRow("保存場所", w)
        self.user = QLineEdit("coordinator")
        self.pw = QLineEdit()
        self.pw.setEchoMode(QLineEdit.Password)
        self.pw2 = QLineEdit()
        self.pw2.setEchoMode(QLineEdit.Password)
        self.hint = QLabel("")
        self.pw.textChanged.connect(lambda t: self.hint.setText(strength_hint(t)))
        self.msg = QLabel("")
        self.msg.setStyleSheet("color:#C00000;")
        lay.addRow("利用者名", self.user)
        lay.addRow("パスワード", self.pw)
        lay.addRow("", self.hint)
        lay.addRow("パスワード（確認）", self.pw2)
        lay.addRow(self.msg)
        bb = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        bb.accepted.connect(self._create)
        bb.rejected.connect(self.reject)
        lay.addRow(bb)

    def _pick(self):
        p, _ = QFileDialog.getSaveFileName(self, "データベースの保存場所", self.path.text(), "データベース (*.db)")
        if p:
            self.path.setText(p)

    def _create(self):
        if self.pw.text() != self.pw2.text():
            return self.msg.setText("確認用のパスワードが一致しません。")
        if len(self.pw.text()) < 8:
            return self.msg.setText("パスワードは8文字以上にしてください。")
        p = Path(self.path.text())
        p.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.workspace = Workspace.create(p, self.pw.text(), self.user.text().strip() or "coordinator")
        except KodomoError as e:
            return self.msg.setText(e.message_ja)
        self.accept()


class SignInDialog(QDialog):
    """Sign-in (also the lock screen): user name + password; wrong → a clear message, nothing touched."""

    def __init__(self, db: Path, user: str | None = None, demo: bool = False, parent=None, workspace=None):
        super().__init__(parent)
        self.db, self.workspace, self._relock = Path(db), None, workspace
        self.setWindowTitle(tr("サインイン") + " — Kodomo Desktop")
        lay = QVBoxLayout(self)
        title = QLabel("画面はロックされています。パスワードを入力してください。" if workspace else
                       f"{self.db.name} を開きます")
        lay.addWidget(title)
        form = QFormLayout()
        self.user = QLineEdit(user or (workspace.user.name if workspace else ""))
        self.user.setPlaceholderText("（空欄: 最初のコーディネーター）")
        self.user.setEnabled(workspace is None)
        self.pw = QLineEdit()
        self.pw.setEchoMode(QLineEdit.Password)
        form.addRow(tr("利用者名"), self.user)
        form.addRow(tr("パスワード"), self.pw)
        lay.addLayout(form)
        if demo:
            lay.addWidget(QLabel("デモの町のパスワードは「demo」です（架空のデータ）。"))
        self.msg = QLabel("")
        self.msg.setStyleSheet("color:#C00000;")
        self.msg.setWordWrap(True)
        lay.addWidget(self.msg)
        bb = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        bb.button(QDialogButtonBox.Ok).setText("開く")
        bb.accepted.connect(self.try_open)
        bb.rejected.connect(self.reject)
        lay.addWidget(bb)
        self.pw.setFocus()

    def try_open(self):
        try:
            if self._relock is not None:
                self._relock.unlock(self.pw.text())
                self.workspace = self._relock
            else:
                self.workspace = Workspace.open(self.db, self.pw.text(), self.user.text().strip() or None)
        except KodomoError as e:
            self.msg.setText(e.message_ja)
            self.pw.selectAll()
            return
        self.accept()
