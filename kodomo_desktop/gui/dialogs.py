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
    QStackedWidget,
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


FIRST_RUN_STEPS = ["町と保存場所", "最初のコーディネーター", "バックアップ", "確認"]


class FirstRunDialog(QDialog):
    """The first start of a real town, step by step: the town's name (printed on documents) and where the database
    lives, the first coordinator and their password (the core's password rules), the backup folder, a summary.
    ``choice`` after exec(): "created" (``workspace`` is open), "open" (``open_path`` chosen by the user) or "demo".

    Driven from code as well: ``next_step()`` / ``back()`` check the step on screen; ``create()`` checks every
    step (showing the first one with a problem) and creates the database."""

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
        self.step_label = QLabel()
        self.step_label.setObjectName("wizardSteps")
        lay.addWidget(self.step_label)
        self.stack = QStackedWidget()
        lay.addWidget(self.stack, 1)

        # 1. town and file
        p1 = QWidget()
        l1 = QVBoxLayout(p1)
        intro = QLabel(
            tr(
                "データベースは暗号化して保存され、パスワードがなければ開けません。パスワードを忘れると"
                "復旧できませんので、管理方法を決めてから設定してください。インターネットには接続しません。"
            )
        )
        intro.setWordWrap(True)
        l1.addWidget(intro)
        f1 = QFormLayout()
        self.town = QLineEdit()
        self.town.setPlaceholderText(tr("例: みどり町"))
        f1.addRow(tr("自治体名（帳票に印字）"), self.town)
        row = QHBoxLayout()
        self.path = QLineEdit(str(path or default_db_path()))
        pick = QPushButton(tr("参照…"))
        pick.clicked.connect(self._pick)
        row.addWidget(self.path, 1)
        row.addWidget(pick)
        holder = QWidget()
        holder.setLayout(row)
        row.setContentsMargins(0, 0, 0, 0)
        f1.addRow(tr("保存場所"), holder)
        l1.addLayout(f1)
        l1.addStretch(1)
        self.stack.addWidget(p1)

        # 2. the first coordinator
        p2 = QWidget()
        l2 = QVBoxLayout(p2)
        who = QLabel(
            tr(
                "最初の利用者はコーディネーターです（すべての操作と、学校・職員・監査の利用者の追加ができます）。"
                "パスワードは本人だけが知るものにしてください。"
            )
        )
        who.setWordWrap(True)
        l2.addWidget(who)
        form = QFormLayout()
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
        l2.addLayout(form)
        rules = QLabel(
            tr(
                "パスワードの決まり: 8文字以上。よく使われるもの・同じ文字の繰り返しは使えません。"
                "長い文や単語の組み合わせがおすすめです。"
            )
        )
        rules.setWordWrap(True)
        rules.setStyleSheet(f"color:{pal.MUTED};")
        l2.addWidget(rules)
        l2.addStretch(1)
        self.stack.addWidget(p2)

        # 3. backups
        p3 = QWidget()
        l3 = QVBoxLayout(p3)
        why = QLabel(
            tr(
                "バックアップ（暗号化）を保存するフォルダーを決めます。パソコンの故障に備えて、USB メモリや"
                "共有フォルダーなど、データベースとは別の場所をおすすめします。後から「設定」で変えられます。"
            )
        )
        why.setWordWrap(True)
        l3.addWidget(why)
        f3 = QFormLayout()
        brow = QHBoxLayout()
        self.backup_dir = QLineEdit()
        self.backup_dir.setPlaceholderText(tr("（空欄: 後で設定する）"))
        bpick = QPushButton(tr("参照…"))
        bpick.clicked.connect(self._pick_backup)
        brow.addWidget(self.backup_dir, 1)
        brow.addWidget(bpick)
        bholder = QWidget()
        bholder.setLayout(brow)
        brow.setContentsMargins(0, 0, 0, 0)
        f3.addRow(tr("バックアップの保存先"), bholder)
        l3.addLayout(f3)
        l3.addStretch(1)
        self.stack.addWidget(p3)

        # 4. summary
        p4 = QWidget()
        l4 = QVBoxLayout(p4)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextSelectableByMouse)
        l4.addWidget(self.summary)
        l4.addStretch(1)
        self.stack.addWidget(p4)

        self.msg = QLabel("")
        self.msg.setStyleSheet(ERROR_STYLE)
        self.msg.setWordWrap(True)
        lay.addWidget(self.msg)
        buttons = QDialogButtonBox()
        open_button = buttons.addButton(tr("既存のデータベースを開く…"), QDialogButtonBox.ActionRole)
        open_button.clicked.connect(self._open_existing)
        if offer_demo:
            demo = buttons.addButton(tr("デモの町で試す"), QDialogButtonBox.ActionRole)
            demo.clicked.connect(self._demo)
        self.back_button = buttons.addButton(tr("戻る"), QDialogButtonBox.ActionRole)
        self.back_button.clicked.connect(self.back)
        self.next_button = buttons.addButton(tr("次へ"), QDialogButtonBox.ActionRole)
        self.next_button.clicked.connect(self.next_step)
        self.create_button = buttons.addButton(tr("作成して開く"), QDialogButtonBox.AcceptRole)
        buttons.addButton(tr("終了"), QDialogButtonBox.RejectRole)
        buttons.accepted.connect(self.create)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self.pw.textChanged.connect(self._update_strength)
        self._update_strength("")
        self.go(0)
        self.town.setFocus()

    # -- steps ----------------------------------------------------------------------------------------------------
    @property
    def step(self) -> int:
        return self.stack.currentIndex()

    def go(self, i: int) -> None:
        self.stack.setCurrentIndex(i)
        self.step_label.setText(
            "　→　".join(
                (f"<b>{n + 1}. {tr(s)}</b>" if n == i else f"{n + 1}. {tr(s)}") for n, s in enumerate(FIRST_RUN_STEPS)
            )
        )
        self.back_button.setEnabled(i > 0)
        self.next_button.setVisible(i < len(FIRST_RUN_STEPS) - 1)
        self.create_button.setVisible(i == len(FIRST_RUN_STEPS) - 1)
        self.create_button.setDefault(i == len(FIRST_RUN_STEPS) - 1)
        self.next_button.setDefault(i < len(FIRST_RUN_STEPS) - 1)
        if i == len(FIRST_RUN_STEPS) - 1:
            self.summary.setText(self._summary())
        (self.town, self.pw, self.backup_dir, self.create_button)[i].setFocus()

    def back(self) -> None:
        self.msg.setText("")
        if self.step > 0:
            self.go(self.step - 1)

    def next_step(self) -> bool:
        problem = self._problem(self.step)
        self.msg.setText(problem or "")
        if problem:
            return False
        if self.step < len(FIRST_RUN_STEPS) - 1:
            self.go(self.step + 1)
        return True

    def _problem(self, step: int) -> str | None:
        if step == 0:
            if not self.town.text().strip():
                return tr("自治体名を入力してください（帳票に印字されます）。")
            text = self.path.text().strip()
            if not text:
                return tr("保存場所を指定してください。")
            p = Path(text).expanduser()
            if p.exists():
                return tr(
                    "{name} はすでに存在します。別の名前を指定するか、「既存のデータベースを開く」を選んでください。",
                    name=p.name,
                )
        if step == 1:
            from ..core.users import password_problem

            pw, pw2 = self.pw.text(), self.pw2.text()
            if not self.user.text().strip():
                return tr("利用者名を入力してください。")
            if len(pw) < MIN_PASSWORD:
                return tr("パスワードは8文字以上にしてください。")
            core = password_problem(pw)
            if core:
                return core
            if strength(pw)[0] < 1:
                return strength(pw)[1]
            if pw != pw2:
                return tr("確認用のパスワードが一致しません。")
        if step == 2:
            b = self.backup_dir.text().strip()
            if b and Path(b).expanduser().resolve() == Path(self.path.text().strip()).expanduser().resolve().parent:
                return tr("バックアップはデータベースとは別のフォルダーにしてください。")
        return None

    def _summary(self) -> str:
        import html

        e = html.escape
        rows = [
            (tr("自治体名"), self.town.text().strip()),
            (tr("保存場所"), self.path.text().strip()),
            (tr("コーディネーター"), self.user.text().strip() or DEFAULT_USER),
            (tr("バックアップの保存先"), self.backup_dir.text().strip() or tr("後で設定する")),
        ]
        body = "".join(f"<tr><td>{e(k)}</td><td><b>{e(v)}</b></td></tr>" for k, v in rows)
        return (
            f"<p>{e(tr('この内容でデータベースを作成します。'))}</p><table cellpadding='3'>{body}</table>"
            f"<p>{e(tr('作成後、「利用者」ページで学校・職員・監査の利用者を追加できます。'))}</p>"
        )

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

    def _pick_backup(self):
        p = QFileDialog.getExistingDirectory(self, tr("バックアップの保存先"), self.backup_dir.text())
        if p:
            self.backup_dir.setText(p)

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
        for step in range(len(FIRST_RUN_STEPS) - 1):
            problem = self._problem(step)
            if problem:
                self.go(step)
                return self.msg.setText(problem)
        p = Path(self.path.text().strip()).expanduser()
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            return self.msg.setText(tr("フォルダーを作成できません: ") + str(e))
        try:
            with _Busy():
                ws = Workspace.create(p, self.pw.text(), self.user.text().strip() or DEFAULT_USER)
        except KodomoError as e:
            return self.msg.setText(e.message_ja)
        from ..core import settings as core_settings

        values = {core_settings.TOWN_NAME: self.town.text().strip()}
        if self.backup_dir.text().strip():
            values[core_settings.BACKUP_FOLDER] = str(Path(self.backup_dir.text().strip()).expanduser())
        core_settings.set_many(ws, values)
        self.workspace = ws
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
        # a temporary password (given by the coordinator) is replaced before anything else
        self.must_change = False
        self._current_pw = ""
        self.change_box = QWidget()
        cl = QVBoxLayout(self.change_box)
        cl.setContentsMargins(0, 0, 0, 0)
        ch = QLabel(
            tr(
                "仮のパスワードでサインインしました。続けるには、ご自身のパスワードを決めてください"
                "（8文字以上。仮のパスワードは使えなくなります）。"
            )
        )
        ch.setWordWrap(True)
        ch.setStyleSheet("font-weight:bold;")
        cl.addWidget(ch)
        cf = QFormLayout()
        self.new_pw = QLineEdit()
        self.new_pw.setEchoMode(QLineEdit.Password)
        self.new_pw2 = QLineEdit()
        self.new_pw2.setEchoMode(QLineEdit.Password)
        cf.addRow(tr("新しいパスワード"), self.new_pw)
        cf.addRow(tr("新しいパスワード（確認）"), self.new_pw2)
        cl.addLayout(cf)
        self.change_box.setVisible(False)
        lay.addWidget(self.change_box)
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
        buttons.accepted.connect(lambda: self.change_password() if self.must_change else self.try_open())
        lay.addWidget(buttons)
        (self.pw if self.user.text() or workspace is not None else self.user).setFocus()

    def _quit(self):
        self.quit_requested = True
        self.reject()

    def reject(self):
        if self._locked_ws is not None and not self.quit_requested:
            return  # Esc does not dismiss the lock
        if self.must_change and self.workspace is not None:  # signed in, but the temporary password stays: close
            self.workspace.close()
            self.workspace = None
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
        if self._locked_ws is None:
            from ..core.users import must_change

            if must_change(self.workspace):
                self._current_pw = password
                self.must_change = True
                self.user.setReadOnly(True)
                self.pw.setEnabled(False)
                self.change_box.setVisible(True)
                self.ok_button.setText(tr("パスワードを変更して始める"))
                self.new_pw.setFocus()
                return True
        self.accept()
        return True

    def change_password(self) -> bool:
        """After a temporary password: the user's own one (the core's rules), then the app opens."""
        from ..core.users import change_own_password

        new, new2 = self.new_pw.text(), self.new_pw2.text()
        if new != new2:
            self.msg.setText(tr("確認用のパスワードが一致しません。"))
            return False
        try:
            with _Busy():
                change_own_password(self.workspace, self._current_pw, new)
        except KodomoError as e:
            self.msg.setText(e.message_ja)
            return False
        self._current_pw = ""
        self.must_change = False
        self.msg.clear()
        self.accept()
        return True


def failures_message(n: int) -> str:
    return tr(
        "前回のサインイン以降、パスワードの誤りが {n} 回ありました。心当たりがない場合は管理者に連絡してください。", n=n
    )
