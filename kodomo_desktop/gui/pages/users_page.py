"""利用者 (the coordinator): who may sign in — add a school, staff, auditor or coordinator user with a temporary
password that must be changed at first sign-in, reset a forgotten password, remove a user.

Thin over ``core.users`` (every check is there: ``users.manage``, the password rules, not removing oneself or the
last coordinator). Everything happens on the page: the temporary password is shown in a box to copy or read out,
removal asks for a second press, problems go to the notice line; no modal dialog.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...core import users as U
from ...core.checklists import service as CL
from ...core.errors import KodomoError
from ...core.security.roles import ROLES
from .. import palette as pal
from ..format import when
from ..i18n import tr
from ..widgets import DictTableModel, Notice, hint, table_view, title

if TYPE_CHECKING:  # annotations only: the GUI gets its workspace from the caller
    from ...core.workspace import Workspace


class UsersPage(QWidget):
    FILLED_WHEN_BUILT = True  # the main window skips page_shown (a refresh) right after building it

    def __init__(self, ws: Workspace, main_window=None):
        super().__init__()
        ws.require("users.manage", what="users page")
        self.ws, self.main = ws, main_window
        self.last_password: str | None = None
        lay = QVBoxLayout(self)
        lay.addWidget(title(tr("利用者")))
        lay.addWidget(
            hint(
                tr(
                    "サインインできる人を管理します。追加・再発行すると仮のパスワードが表示されます。本人に直接伝えて"
                    "ください（初回のサインインで本人のパスワードに変更します）。操作は操作ログに記録されます。"
                )
            )
        )
        self.notice = Notice("usersNotice")
        lay.addWidget(self.notice)
        body = QHBoxLayout()
        lay.addLayout(body, 1)

        # the list and what to do with the selected user
        left = QVBoxLayout()
        self.model = DictTableModel(
            [
                ("name", tr("利用者名")),
                ("role_label", tr("役割")),
                ("school", tr("学校")),
                ("last_sign_in_at", tr("最後のサインイン"), lambda v, r: when(v) or tr("まだありません")),
                ("must_change", tr("パスワード"), lambda v, r: tr("仮のパスワード（未変更）") if v else ""),
            ]
        )
        self.view = table_view(self.model)
        self.view.setSelectionMode(self.view.SelectionMode.SingleSelection)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._selected_changed())
        left.addWidget(self.view, 1)
        acts = QHBoxLayout()
        self.reset_btn = QPushButton(tr("パスワードを再発行"))
        self.reset_btn.clicked.connect(lambda: self.reset_selected())
        self.remove_btn = QPushButton(tr("削除…"))
        self.remove_btn.clicked.connect(lambda: self.remove_selected())
        self.confirm_btn = QPushButton(tr("削除を確定"))
        self.confirm_btn.setStyleSheet(f"color:white;background:{pal.DANGER};padding:3px 12px;")
        self.confirm_btn.clicked.connect(lambda: self.remove_selected(confirm=True))
        self.confirm_btn.setVisible(False)
        for b in (self.reset_btn, self.remove_btn, self.confirm_btn):
            acts.addWidget(b)
        acts.addStretch(1)
        left.addLayout(acts)
        body.addLayout(left, 3)

        # adding a user
        right = QVBoxLayout()
        box = QGroupBox(tr("利用者を追加"))
        form = QFormLayout(box)
        self.name = QLineEdit()
        self.name.setPlaceholderText(tr("例: daiichi-sho"))
        form.addRow(tr("利用者名"), self.name)
        self.role = QComboBox()
        for r in U.ROLE_CHOICES:
            self.role.addItem(tr(ROLES[r]), r)
        self.role.currentIndexChanged.connect(self._role_changed)
        form.addRow(tr("役割"), self.role)
        self.school = QComboBox()
        self.school.setEditable(True)
        self.school.lineEdit().setPlaceholderText(tr("学校名"))
        self.school_label = QLabel(tr("学校"))
        form.addRow(self.school_label, self.school)
        self.role_hint = hint("")
        form.addRow("", self.role_hint)
        self.add_btn = QPushButton(tr("追加して仮のパスワードを発行"))
        self.add_btn.clicked.connect(lambda: self.add())
        form.addRow("", self.add_btn)
        right.addWidget(box)

        # the temporary password just issued
        self.issued = QFrame()
        self.issued.setObjectName("issuedPassword")
        self.issued.setStyleSheet(
            f"#issuedPassword {{ background:{pal.BANNER_BG}; border:1px solid {pal.BANNER_BORDER}; border-radius:4px; }}"
        )
        il = QVBoxLayout(self.issued)
        self.issued_text = QLabel()
        self.issued_text.setWordWrap(True)
        il.addWidget(self.issued_text)
        self.issued_pw = QLineEdit()
        self.issued_pw.setReadOnly(True)
        self.issued_pw.setStyleSheet("font-size:16pt;font-family:monospace;")
        il.addWidget(self.issued_pw)
        irow = QHBoxLayout()
        copy = QPushButton(tr("コピー"))
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.issued_pw.text()))
        done = QPushButton(tr("伝えたので閉じる"))
        done.clicked.connect(self.hide_issued)
        irow.addWidget(copy)
        irow.addWidget(done)
        irow.addStretch(1)
        il.addLayout(irow)
        self.issued.setVisible(False)
        right.addWidget(self.issued)
        right.addStretch(1)
        holder = QWidget()
        holder.setLayout(right)
        holder.setMaximumWidth(460)
        body.addWidget(holder, 2)
        self._role_changed()
        self.refresh()

    # -- data ---------------------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        if self.ws.locked:
            return
        keep = (self.selected() or {}).get("name")
        self.model.set_rows(U.list_users(self.ws))
        self.view.resizeColumnsToContents()
        if keep:
            self.select(keep)
        self._selected_changed()
        current = self.school.currentText()
        self.school.clear()
        try:
            self.school.addItems(CL.schools(self.ws))
        except KodomoError:
            pass
        self.school.setEditText(current)

    def page_shown(self) -> None:
        self.refresh()

    def selected(self) -> dict | None:
        rows = self.view.selectionModel().selectedRows() if self.view.selectionModel() else []
        return self.model.row(rows[0].row()) if rows else None

    def select(self, name: str) -> bool:
        for i, r in enumerate(self.model.rows):
            if r["name"] == name:
                self.view.selectRow(i)
                return True
        return False

    def _selected_changed(self) -> None:
        u = self.selected()
        self.confirm_btn.setVisible(False)
        mine = bool(u and u.get("me"))
        self.reset_btn.setEnabled(bool(u) and not mine)
        self.remove_btn.setEnabled(bool(u) and not mine)
        self.reset_btn.setToolTip(tr("自分のパスワードは「設定」で変更します。") if mine else "")

    def _role_changed(self, *_):
        role = self.role.currentData()
        is_school = role == "school"
        self.school.setVisible(is_school)
        self.school_label.setVisible(is_school)
        self.role_hint.setText(
            {
                "school": tr("自校の児童生徒のチェックリストの入力だけができます。"),
                "staff": tr("こどもの情報・スコアの閲覧、会議の記録、帳票の印刷ができます。"),
                "auditor": tr("操作ログと個人情報保護のページを閲覧し、自己点検に回答できます。"),
                "coordinator": tr("すべての操作ができます（取込・名寄せ・重み・利用者の管理を含む）。"),
            }.get(role, "")
        )

    # -- actions --------------------------------------------------------------------------------------------------
    def _issue(self, name: str, password: str, reset: bool) -> None:
        self.last_password = password
        self.issued_text.setText(
            tr("{name} の仮のパスワードを再発行しました。", name=name)
            if reset
            else tr("{name} を追加しました。仮のパスワード:", name=name)
        )
        self.issued_pw.setText(password)
        self.issued.setVisible(True)

    def hide_issued(self) -> None:
        self.issued_pw.clear()
        self.issued.setVisible(False)
        self.last_password = None

    def add(self, name: str | None = None, role: str | None = None, school: str | None = None) -> str | None:
        """Add the user in the form (or the one given); returns the temporary password, None when refused."""
        if name is not None:
            self.name.setText(name)
        if role is not None:
            self.role.setCurrentIndex(self.role.findData(role))
        if school is not None:
            self.school.setEditText(school)
        role = self.role.currentData()
        try:
            pw = U.add_user(self.ws, self.name.text(), role, self.school.currentText() if role == "school" else None)
        except KodomoError as e:
            self.notice.fail(e)
            return None
        added = self.name.text().strip()
        self.notice.info(tr("{name}（{role}）を追加しました（操作ログに記録）。", name=added, role=tr(ROLES[role])))
        self.name.clear()
        self.refresh()
        self.select(added)
        self._issue(added, pw, reset=False)
        return pw

    def reset_selected(self) -> str | None:
        u = self.selected()
        if not u:
            self.notice.error(tr("一覧から利用者を選んでください。"))
            return None
        try:
            pw = U.reset_password(self.ws, u["name"])
        except KodomoError as e:
            self.notice.fail(e)
            return None
        self.notice.info(tr("{name} のパスワードを再発行しました。前のパスワードは使えません。", name=u["name"]))
        self.refresh()
        self._issue(u["name"], pw, reset=True)
        return pw

    def remove_selected(self, confirm: bool = False) -> bool:
        """First press: say what happens; second press (削除を確定): remove and log."""
        u = self.selected()
        if not u:
            self.notice.error(tr("一覧から利用者を選んでください。"))
            return False
        if not confirm:
            self.notice.info(
                tr(
                    "{name} を削除します。この人はサインインできなくなります（記録と操作ログは残ります）。"
                    "よければ「削除を確定」を押してください。",
                    name=u["name"],
                )
            )
            self.confirm_btn.setVisible(True)
            return False
        try:
            U.remove_user(self.ws, u["name"])
        except KodomoError as e:
            self.notice.fail(e)
            self.confirm_btn.setVisible(False)
            return False
        self.notice.info(tr("{name} を削除しました（操作ログに記録）。", name=u["name"]))
        self.hide_issued()
        self.refresh()
        return True
