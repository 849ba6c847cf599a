"""First-run dialog (where to keep the database, the first coordinator's password with a strength hint) and the
sign-in dialog, which is also the unlock dialog after an auto-lock."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..core.errors import KodomoError
from ..core.workspace import DEFAULT_USER, Workspace
from . import palette as pal
from .i18n import tr

MIN_PASSWORD = 8
_COMMON = {
    "password",
    "passw0rd",
    "12345678",
    "123456789",
    "1234567890",
    "qwertyui",
    "qwerty123",
    "abcd1234",
    "kodomo123",
    "kodomodesktop",
    "iloveyou",
    "11111111",
    "00000000",
    "password1",
}
ERROR_STYLE = f"color:{pal.ERROR_STRONG};"


def strength(pw: str) -> tuple[int, str, str]:
    """(0–4, Japanese hint, colour). Length counts most; mixing kinds of characters helps."""
    kinds = sum(
        bool(any(f(c) for c in pw))
        for f in (str.islower, str.isupper, str.isdigit, lambda c: not c.isascii() or not c.isalnum())
    )
    n = len(pw)
    if n == 0:
        return 0, tr("8文字以上。長いほど安全です（文や単語の組み合わせもおすすめ）。"), pal.FAINT
    if n < MIN_PASSWORD:
        return 0, tr("短すぎます（8文字以上にしてください）"), pal.ERROR_STRONG
    if pw.lower() in _COMMON or len(set(pw)) <= 2:
        return 1, tr("よく使われるパスワードです。別のものにしてください"), pal.ERROR_STRONG
    if n >= 16 or (n >= 12 and kinds >= 3):
        return 4, tr("強い"), pal.SUCCESS
    if n >= 12 or (n >= 10 and kinds >= 3):
        return 3, tr("良い"), pal.BRAND
    if kinds >= 2:
        return 2, tr("ふつう：もう少し長くすると安全です"), pal.WARN
    return 1, tr("弱い：数字や記号を混ぜるか、長くしてください"), pal.ERROR_STRONG


def strength_hint(pw: str) -> str:
    return strength(pw)[1]


class _Busy:
    """A wait cursor around Argon2 (about half a second by design)."""

    def __enter__(self):
        QGuiApplication.setOverrideCursor(Qt.WaitCursor)

    def __exit__(self, *exc):
        QGuiApplication.restoreOverrideCursor()


class FirstRunDialog(QDialog):
    """Create the encrypted database and its first coordinator. ``choice`` after exec(): "created" (``workspace``
    is open), "open" (``open_path`` chosen by the user) or "demo"."""

    def __init__(self, parent=None, path: Path | None = None, offer_demo: bool = True):
        super().__init__(parent)
        from .prefs import default_db_path

        self.setWindowTitle(tr("はじめに") + " — Kodomo Desktop")
        self.setMinimumWidth(620)
        self.workspace: Workspace | None = None
        self.choice: str | None = None
        self.open_path: Path | None = None
        lay = QVBoxLayout(self)
        title = QLabel(tr("こどもデータ連携のデータベースを作成します"))
        title.setStyleSheet("font-size:15pt;font-weight:bold;")
        lay.addWidget(title)
        intro = QLabel(
            tr(
                "データベースは暗号化して保存され、パスワードがなければ開けません。パスワードを忘れると"
                "復旧できませんので、管理方法を決めてから設定してください。インターネットには接続しません。"
            )
        )
        intro.setWordWrap(True)
        lay.addWidget(intro)
        form = QFormLayout()
        row = QHBoxLayout()
        self.path = QLineEdit(str(path or default_db_path()))
        pick = QPushButton(tr("参照…"))
        pick.clicked.connect(self._pick)
        row.addWidget(self.path, 1)
        row.addWidget(pick)
        holder = QWidget()
        holder.setLayout(row)
        row.setContentsMargins(0, 0, 0, 0)
        form.addRow(tr("保存場所"), holder)
        self.user = QLineEdit(DEFAULT_USER)
        form.addRow(tr("利用者名"), self.user)
        self.pw = QLineEdit()
        self.pw.setEchoMode(QLineEdit.Password)
        form.addRow(tr("パスワード"), self.pw)
        self.meter = QProgressBar()
        self.meter.setRange(0, 4)
        self.meter.setTextVisible(False)
        self.meter.setFixedHeight(8)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        box = QVBoxLayout()
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.meter)
        box.addWidget(self.hint)
        hw = QWidget()
        hw.setLayout(box)
        form.addRow("", hw)
        self.pw2 = QLineEdit()
        self.pw2.setEchoMode(QLineEdit.Password)
        form.addRow(tr("パスワード（確認）"), self.pw2)
        lay.addLayout(form)
        self.msg = QLabel("")
        self.msg.setStyleSheet(ERROR_STYLE)
        self.msg.setWordWrap(True)
        lay.addWidget(self.msg)
        buttons = QDialogButtonBox()
        self.create_button = buttons.addButton(tr("作成して開く"), QDialogButtonBox.AcceptRole)
        open_button = buttons.addButton(tr("既存のデータベースを開く…"), QDialogButtonBox.ActionRole)
        open_button.clicked.connect(self._open_existing)
        if offer_demo:
            demo = buttons.addButton(tr("デモの町で試す"), QDialogButtonBox.ActionRole)
            demo.clicked.connect(self._demo)
        buttons.addButton(tr("終了"), QDialogButtonBox.RejectRole)
        buttons.accepted.connect(self.create)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self.pw.textChanged.connect(self._update_strength)
        self._update_strength("")
        self.pw.setFocus()

    def _update_strength(self, text: str):
        score, hint, colour = strength(text)
        self.meter.setValue(score)
        self.meter.setStyleSheet(f"QProgressBar::chunk {{ background:{colour}; }}")
        self.hint.setText(hint)
        self.hint.setStyleSheet(f"color:{colour};")

    def _pick(self):
        p, _ = QFileDialog.getSaveFileName(
            self,
            tr("データベースの保存場所"),
            self.path.text(),
            tr("データベース (*.db)"),
            options=QFileDialog.DontConfirmOverwrite,
        )
        if p:
            self.path.setText(p if p.endswith(".db") else p + ".db")

    def _open_existing(self):
        p, _ = QFileDialog.getOpenFileName(
            self,
            tr("データベースを開く"),
            str(Path(self.path.text()).parent),
            tr("データベース (*.db);;すべてのファイル (*)"),
        )
        if p:
            self.open_path, self.choice = Path(p), "open"
            self.accept()

    def _demo(self):
        self.choice = "demo"
        self.accept()

    def create(self):
        pw, pw2 = self.pw.text(), self.pw2.text()
        if len(pw) < MIN_PASSWORD:
            return self.msg.setText(tr("パスワードは8文字以上にしてください。"))
        if strength(pw)[0] < 1:
            return self.msg.setText(strength(pw)[1])
        if pw != pw2:
            return self.msg.setText(tr("確認用のパスワードが一致しません。"))
        text = self.path.text().strip()
        if not text:
            return self.msg.setText(tr("保存場所を指定してください。"))
        p = Path(text).expanduser()
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            return self.msg.setText(tr("フォルダーを作成できません: ") + str(e))
        try:
            with _Busy():
                self.workspace = Workspace.create(p, pw, self.user.text().strip() or DEFAULT_USER)
        except KodomoError as e:
            return self.msg.setText(e.message_ja)
        self.choice = "created"
        self.accept()


class SignInDialog(QDialog):
    """Sign in (user name + password) — or, given the open ``workspace``, unlock it after a lock.

    A wrong password shows a clear Japanese message in the dialog and nothing is touched. After exec():
    ``workspace`` is the open Workspace; ``quit_requested`` is True when the user chose to close the app."""

    def __init__(self, db: Path, user: str | None = None, demo: bool = False, parent=None, workspace=None):
        super().__init__(parent)
        self.db = Path(db)
        self.workspace: Workspace | None = None
        self._locked_ws = workspace
        self.quit_requested = False
        self.setMinimumWidth(440)
        lay = QVBoxLayout(self)
        if workspace is not None:
            self.setWindowTitle(tr("ロック中") + " — Kodomo Desktop")
            head = QLabel(tr("画面をロックしました"))
            sub = QLabel(
                tr(
                    "続けるには {user} のパスワードを入力してください。開いていた画面の内容はそのまま残っています。",
                    user=workspace.user.name,
                )
            )
        else:
            self.setWindowTitle(tr("サインイン") + " — Kodomo Desktop")
            head = QLabel(tr("サインイン"))
            sub = QLabel(tr("{name} を開きます", name=self.db.name))
            sub.setToolTip(str(self.db))
        head.setStyleSheet("font-size:15pt;font-weight:bold;")
        sub.setWordWrap(True)
        lay.addWidget(head)
        lay.addWidget(sub)
        form = QFormLayout()
        self.user = QLineEdit(user or (workspace.user.name if workspace is not None else ""))
        self.user.setPlaceholderText(tr("（空欄: 最初のコーディネーター）"))
        self.user.setReadOnly(workspace is not None)
        self.pw = QLineEdit()
        self.pw.setEchoMode(QLineEdit.Password)
        form.addRow(tr("利用者名"), self.user)
        form.addRow(tr("パスワード"), self.pw)
        lay.addLayout(form)
        self.demo_hint = None
        if demo:
            self.demo_hint = QLabel(tr("デモの町（架空のデータ）のパスワードは「demo」です。"))
            self.demo_hint.setStyleSheet(f"color:{pal.BRAND};")
            lay.addWidget(self.demo_hint)
        self.msg = QLabel("")
        self.msg.setStyleSheet(ERROR_STYLE)
        self.msg.setWordWrap(True)
        lay.addWidget(self.msg)
        buttons = QDialogButtonBox()
        self.ok_button = buttons.addButton(
            tr("ロック解除") if workspace is not None else tr("サインイン"), QDialogButtonBox.AcceptRole
        )
        self.ok_button.setDefault(True)
        quit_button = buttons.addButton(
            tr("アプリを終了") if workspace is not None else tr("終了"), QDialogButtonBox.RejectRole
        )
        quit_button.clicked.connect(self._quit)
        buttons.accepted.connect(self.try_open)
        lay.addWidget(buttons)
        (self.pw if self.user.text() or workspace is not None else self.user).setFocus()

    def _quit(self):
        self.quit_requested = True
        self.reject()

    def reject(self):
        if self._locked_ws is not None and not self.quit_requested:
            return  # Esc does not dismiss the lock
        super().reject()

    def try_open(self) -> bool:
        password = self.pw.text()
        if not password:
            self.msg.setText(tr("パスワードを入力してください。"))
            return False
        try:
            with _Busy():
                if self._locked_ws is not None:
                    self._locked_ws.unlock(password)
                    self.workspace = self._locked_ws
                else:
                    self.workspace = Workspace.open(self.db, password, self.user.text().strip() or None)
        except KodomoError as e:
            self.msg.setText(e.message_ja)
            self.pw.clear()
            self.pw.setFocus()
            return False
        self.msg.clear()
        self.pw.clear()
        self.accept()
        return True


def failures_message(n: int) -> str:
    return tr(
        "前回のサインイン以降、パスワードの誤りが {n} 回ありました。心当たりがない場合は管理者に連絡してください。", n=n
    )
