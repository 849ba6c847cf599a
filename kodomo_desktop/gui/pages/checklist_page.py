"""チェックリスト page.

A school account gets a grid of its own pupils × items for fast keyboard entry: arrow keys move, 1 / 2 / 0 answer
該当 / 非該当 / 不明, Delete clears, the last column is a free-text remark; 下書き保存 keeps a draft, 提出 submits.
The coordinator sees each school's progress and can open rounds and write workbooks.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ...core.checklists import service as CL
from ...core.errors import KodomoError
from .. import palette as pal
from .. import roles as R
from ..i18n import tr
from ..models import RowsModel
from ..ops import call_with_progress
from ..widgets import Notice, forget_rows

if TYPE_CHECKING:  # annotations only: the GUI gets its workspace from the caller
    from ...core.workspace import Workspace

SHORT = {"1": "該当", "2": "非該当", "0": "不明"}
_PW_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read out over the phone


def new_file_password() -> str:
    """A file password for a school's workbook, easy to read out: three groups of four (about 59 bits)."""
    import secrets

    return "-".join("".join(secrets.choice(_PW_ALPHABET) for _ in range(4)) for _ in range(3))


class ChecklistGridModel(QAbstractTableModel):
    def __init__(self, pupils, items, entries, *, can_reopen: bool = False):
        super().__init__()
        self.pupils, self.items = pupils, items
        self.answers = {p["person_id"]: dict((entries.get(p["person_id"]) or {}).get("answers") or {}) for p in pupils}
        self.remarks = {p["person_id"]: (entries.get(p["person_id"]) or {}).get("remark") or "" for p in pupils}
        self.status = {p["person_id"]: (entries.get(p["person_id"]) or {}).get("status") for p in pupils}
        self.dirty: set[str] = set()
        # a submitted row is locked for the school; only the coordinator may change it (it reopens the sheet)
        self.locked = set() if can_reopen else {pid for pid, st in self.status.items() if st == "submitted"}

    def rowCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else len(self.pupils)

    def columnCount(self, parent=QModelIndex()):
        return len(self.items) + 1

    def data(self, index, role=R.DISPLAY):
        if not index.isValid():
            return None
        pid = self.pupils[index.row()]["person_id"]
        c = index.column()
        if c == len(self.items):
            return self.remarks[pid] if role in R.DISPLAY_OR_EDIT else None
        code = self.answers[pid].get(self.items[c]["id"])
        if role == R.DISPLAY:
            return tr(SHORT.get(code, ""))
        if role == R.BACKGROUND:
            return {"1": QColor(pal.TINT_SALMON), "2": QColor(pal.TINT_GREEN), "0": QColor(pal.TINT_SILVER)}.get(code)
        if role == R.TOOLTIP:
            return self.items[c]["text_ja"]
        if role == R.ALIGNMENT:
            return R.ALIGN_CENTER
        return None

    def flags(self, index):
        f = Qt.ItemIsEnabled | Qt.ItemIsSelectable
        if index.column() == len(self.items) and self.pupils[index.row()]["person_id"] not in self.locked:
            f |= Qt.ItemIsEditable
        return f

    def setData(self, index, value, role=Qt.EditRole):
        pid = self.pupils[index.row()]["person_id"]
        if pid in self.locked:
            return False
        if index.column() == len(self.items):
            self.remarks[pid] = str(value)
        else:
            item = self.items[index.column()]["id"]
            if value in (None, ""):
                self.answers[pid].pop(item, None)
            else:
                self.answers[pid][item] = value
        self.dirty.add(pid)
        self.dataChanged.emit(index, index)
        self.headerDataChanged.emit(Qt.Vertical, index.row(), index.row())
        return True

    def headerData(self, section, orientation, role=R.DISPLAY):
        if role != R.DISPLAY:
            if role == R.TOOLTIP and orientation == R.HORIZONTAL and section < len(self.items):
                return self.items[section]["text_ja"]
            return None
        if orientation == R.HORIZONTAL:
            return tr("所見") if section == len(self.items) else f"{section + 1}"
        p = self.pupils[section]
        mark = {"submitted": "✔", "draft": "…"}.get(self.status.get(p["person_id"]) or "", "")
        if p["person_id"] in self.dirty:
            mark = "＊"
        return mark + tr("{grade}年{cls}組 {name}", grade=p["grade"], cls=p["class"], name=p["name"])


class ChecklistGrid(QTableView):
    """Keyboard-first: 1/2/0 answer and move right; Delete clears; arrows move; Home / End: first item / remark."""

    on_locked = None  # called when a key tries to change a submitted (locked) row

    def keyPressEvent(self, e):
        idx = self.currentIndex()
        m = self.model()
        text = e.text()
        if idx.isValid() and idx.column() < m.columnCount() - 1 and text in ("1", "2", "0", "１", "２", "０"):
            if not m.setData(idx, {"１": "1", "２": "2", "０": "0"}.get(text, text)):
                self.on_locked and self.on_locked()
                return
            nxt = m.index(idx.row(), idx.column() + 1)
            self.setCurrentIndex(nxt)
            return
        if idx.isValid() and e.key() in (Qt.Key_Delete, Qt.Key_Backspace) and idx.column() < m.columnCount() - 1:
            if not m.setData(idx, None):
                self.on_locked and self.on_locked()
            return
        super().keyPressEvent(e)


class SchoolEntry(QWidget):
    def __init__(self, ws: Workspace, school: str):
        super().__init__()
        self.ws, self.school = ws, school
        lay = QVBoxLayout(self)
        r = CL.school_round(ws, school)
        self.round_id = r["id"] if r else None
        self.definition = r["definition"] if r else None
        title = (
            tr("{school}　{round}（期限 {due}）", school=school, round=r["name"], due=r["due_on"] or tr("未設定"))
            if r
            else tr("{school}　実施中のラウンドはありません", school=school)
        )
        self.head = head = QLabel(title)
        head.setStyleSheet("font-size:14pt;font-weight:bold;")
        lay.addWidget(head)
        self.progress = QLabel("")
        lay.addWidget(self.progress)
        lay.addWidget(
            QLabel(
                tr(
                    "数字キーで入力: 1 = 該当　2 = 非該当　0 = 不明（入力すると右へ進みます）。矢印キーで移動、"
                    "Home で行の先頭、End で所見欄（F2 で書き始め、Enter で確定）。Delete で消去。"
                )
            )
        )
        self.item_label = QLabel("")
        self.item_label.setStyleSheet(f"color:{pal.HEADING_BLUE};font-size:12pt;font-weight:bold;")
        lay.addWidget(self.item_label)
        self.remark_label = QLabel("")
        self.remark_label.setStyleSheet(f"color:{pal.REMARK};")
        lay.addWidget(self.remark_label)
        self.view = ChecklistGrid()
        self.view.on_locked = lambda: self._notify(
            tr("提出済みの行は変更できません。修正が必要なときはコーディネーターに再開を依頼してください。"), error=True
        )
        self.view.setSelectionMode(QAbstractItemView.SingleSelection)
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.Fixed)
        self.view.horizontalHeader().setDefaultSectionSize(54)
        self.view.setWordWrap(False)
        lay.addWidget(self.view, 1)
        bar = QHBoxLayout()
        self.notice = Notice("checklistNotice")
        bar.addWidget(self.notice, 1)
        self.save_btn = QPushButton(tr("下書き保存 (Ctrl+S)"))
        self.save_btn.setShortcut("Ctrl+S")
        self.save_btn.clicked.connect(lambda: self.save(False))
        self.submit_btn = QPushButton(tr("提出する"))
        self.submit_btn.clicked.connect(lambda: self.save(True))
        # a half-filled row is not submitted without a question (asked on the page, never in a box)
        self.submit_anyway_btn = QPushButton(tr("このまま提出する"))
        self.submit_anyway_btn.clicked.connect(lambda: self.save(True, confirm=True))
        self.submit_anyway_btn.setVisible(False)
        bar.addWidget(self.save_btn)
        bar.addWidget(self.submit_btn)
        bar.addWidget(self.submit_anyway_btn)
        lay.addLayout(bar)
        self.load()

    def load(self):
        if not self.round_id:
            self.model = ChecklistGridModel([], [], {})
        else:
            pupils = CL.pupils(self.ws, self.school)
            entries = CL.entries(self.ws, self.round_id, self.school)
            self.model = ChecklistGridModel(
                pupils, self.definition["items"], entries, can_reopen=self.ws.can("checklist.manage")
            )
        self.view.setModel(self.model)
        self.view.horizontalHeader().resizeSection(
            self.model.columnCount() - 1, 260
        ) if self.model.columnCount() else None
        self.view.selectionModel().currentChanged.connect(self._show_item)
        self.model.dataChanged.connect(lambda *_: self._show_item(self.view.currentIndex(), None))
        if self.model.rowCount():
            self.view.setCurrentIndex(self.model.index(0, 0))
        c = self.counts()
        self.progress.setText(
            tr(
                "対象 {pupils} 人　提出済み {submitted} 人・下書き {draft} 人・未入力 {not_yet} 人",
                pupils=c["pupils"],
                submitted=c["submitted"],
                draft=c["draft"],
                not_yet=c["not_yet"],
            )
            if self.round_id
            else ""
        )

    def _show_item(self, cur, _prev):
        if not cur.isValid():
            return
        groups = {g["id"]: g for g in (self.definition or {}).get("groups", [])}
        if cur.column() < len(self.model.items):
            it = self.model.items[cur.column()]
            g = groups.get(it["group"], {})
            where = f"〔{g.get('part', '')}／{g.get('label_ja', '')}〕" if g else ""
            self.item_label.setText(f"{cur.column() + 1}. {it['text_ja']}　{where}")
        else:
            self.item_label.setText(tr("所見（自由記述）"))
        p = self.model.pupils[cur.row()]
        remark = self.model.remarks.get(p["person_id"]) or tr("（なし）")
        self.remark_label.setText(
            tr(
                "{grade}年{cls}組 {name} の所見: {remark}",
                grade=p["grade"],
                cls=p["class"],
                name=p["name"],
                remark=remark,
            )
        )

    def half_filled(self) -> list[dict]:
        """Pupils whose row has some answers but not all (and is not submitted yet)."""
        n = len(self.model.items)
        return [
            p
            for p in self.model.pupils
            if 0 < len(self.model.answers[p["person_id"]]) < n and self.model.status.get(p["person_id"]) != "submitted"
        ]

    def save(self, submit: bool, confirm: bool = False) -> bool:
        """Save the changed rows as drafts (``submit``: then submit the school's sheet). Problems and results go
        to the notice line under the grid, never to a modal box. Submitting with half-filled rows first asks
        (「このまま提出する」 is ``confirm``)."""
        if not self.round_id:
            return False
        self.submit_anyway_btn.setVisible(False)
        half = self.half_filled() if submit and not confirm else []
        if half:
            names = "、".join(p["name"] for p in half[:3]) + ("…" if len(half) > 3 else "")
            self._notify(
                tr(
                    "{n} 人の行が途中までしか入力されていません（{names}）。未入力の項目は「不明」ではなく空欄の"
                    "まま提出されます。このまま提出しますか？",
                    n=len(half),
                    names=names,
                ),
                error=True,
            )
            self.submit_anyway_btn.setVisible(True)
            row = self.model.pupils.index(half[0])
            col = next(
                i for i, it in enumerate(self.model.items) if it["id"] not in self.model.answers[half[0]["person_id"]]
            )
            self.view.setCurrentIndex(self.model.index(row, col))
            return False
        from PySide6.QtWidgets import QApplication

        editor = QApplication.focusWidget()
        if editor is not None and editor is not self.view and self.view.isAncestorOf(editor):
            self.view.commitData(editor)  # a remark still being typed is kept
        try:
            for pid in sorted(self.model.dirty):
                CL.save_entry(self.ws, self.round_id, pid, self.model.answers[pid], self.model.remarks[pid] or None)
            n = CL.submit_school(self.ws, self.round_id, self.school) if submit else len(self.model.dirty)
        except KodomoError as e:
            self._notify(e.message_ja, error=True)
            return False
        self.model.dirty.clear()
        self.load()
        self._notify(
            tr("{n} 人分を提出しました。修正が必要なときはコーディネーターに再開を依頼してください。", n=n)
            if submit
            else tr("{n} 人分を下書き保存しました（まだ提出されていません）。", n=n)
        )
        return True

    def _notify(self, text: str, *, error: bool = False) -> None:
        self.notice.say(text, error)

    def counts(self) -> dict:
        st = [self.model.status.get(p["person_id"]) for p in self.model.pupils]
        return {
            "pupils": len(st),
            "submitted": st.count("submitted"),
            "draft": st.count("draft"),
            "not_yet": sum(1 for x in st if x is None),
        }


class ProgressModel(RowsModel):
    """Each school (bold) and its classes: pupils, submitted / draft / not yet, and a progress bar in text."""

    COLUMNS = [
        ("school", "学校・園"),
        ("class", "学級"),
        ("pupils", "人数"),
        ("submitted", "提出済み"),
        ("draft", "下書き"),
        ("not_yet", "未入力"),
        ("bar", "進み具合"),
    ]

    def __init__(self):
        super().__init__(self.COLUMNS)

    def text(self, r: int, c: int) -> str:
        row, key = self.rows[r], self.COLUMNS[c][0]
        if key == "bar":
            done = row["submitted"] / row["pupils"] if row["pupils"] else 0
            return "■" * round(done * 10) + "□" * (10 - round(done * 10)) + f"  {done:.0%}"
        return str(row.get(key, ""))

    def cell_background(self, r: dict, key: str):
        if key == "not_yet" and r["not_yet"]:
            return QColor(pal.TINT_ORANGE)
        if key == "draft" and r["draft"]:
            return QColor(pal.TINT_YELLOW)
        if key in ("submitted", "bar") and r["pupils"] and r["submitted"] == r["pupils"]:
            return QColor(pal.TINT_GREEN)
        if r.get("is_school"):
            return QColor(pal.TINT_BLUE_PALE)
        return None

    def data(self, index, role=R.DISPLAY):
        if not index.isValid():
            return None
        r = self.rows[index.row()]
        key = self.COLUMNS[index.column()][0]
        if role == R.FONT and r.get("is_school"):
            f = QFont()
            f.setBold(True)
            return f
        if role == R.ALIGNMENT and key in ("pupils", "submitted", "draft", "not_yet"):
            return R.RIGHT_MIDDLE
        return super().data(index, role)

    def headerData(self, section, orientation, role=R.DISPLAY):
        if role == R.DISPLAY and orientation == R.HORIZONTAL:
            return tr(self.COLUMNS[section][1])
        return None


class CoordinatorView(QWidget):
    """Progress of the current round per school and class (提出済み / 下書き / 未入力); opens rounds and writes the
    schools' workbooks. Methods take their inputs as arguments so they can be driven without dialogs."""

    def __init__(self, ws: Workspace):
        super().__init__()
        self.ws = ws
        lay = QVBoxLayout(self)
        self.title = QLabel()
        self.title.setStyleSheet("font-size:13pt;font-weight:bold;")
        self.title.setWordWrap(True)
        lay.addWidget(self.title)  # its own line: with the five buttons beside it the page ran off 1366 px
        bar = QHBoxLayout()
        self.buttons = []
        for text, slot in (
            ("ラウンドを開始…", lambda: self.open_round()),
            ("学校用 Excel を作成…", lambda: self.template()),
            ("紙の記入用紙（PDF）…", lambda: self.blank_sheet()),
            ("返送された Excel を取り込む…", lambda: self.import_returned()),
            ("更新", self.refresh),
        ):
            b = QPushButton(tr(text))
            b.clicked.connect(slot)
            bar.addWidget(b)
            self.buttons.append(b)
        bar.addStretch(1)
        lay.addLayout(bar)
        # the school's workbook carries pupils' names under a title about abuse: a file password by default
        pw_bar = QHBoxLayout()
        self.use_password = QCheckBox(tr("学校用 Excel にファイルのパスワードを付ける（推奨）"))
        self.use_password.setChecked(True)
        pw_bar.addWidget(self.use_password)
        pw_bar.addWidget(QLabel(tr("パスワード")))
        self.file_password = QLineEdit(new_file_password())
        self.file_password.setMinimumWidth(180)
        self.file_password.setToolTip(
            tr("Excel で開くときに必要です。ファイルとは別の方法（電話など）で学校に伝えてください。")
        )
        pw_bar.addWidget(self.file_password)
        again = QPushButton(tr("作り直す"))
        again.clicked.connect(lambda: self.file_password.setText(new_file_password()))
        pw_bar.addWidget(again)
        self.use_password.toggled.connect(self.file_password.setEnabled)
        pw_bar.addStretch(1)
        lay.addLayout(pw_bar)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        lay.addWidget(self.summary)
        self.model = ProgressModel()
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.verticalHeader().setVisible(False)
        self.view.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.view.horizontalHeader().setStretchLastSection(True)
        lay.addWidget(self.view, 1)
        self.notice = Notice("checklistNotice")
        lay.addWidget(self.notice)
        self.refresh()

    def refresh(self):
        st = CL.status(self.ws)
        r = st["round"]
        self.title.setText(
            tr("観察チェックリスト　実施中: {round}（期限 {due}）", round=r["name"], due=r["due_on"] or tr("未設定"))
            if r
            else tr("観察チェックリスト　実施中のラウンドはありません")
        )
        rows = []
        for s in st["schools"]:
            rows.append(
                {
                    "school": s["school"],
                    "class": tr("（全体）"),
                    "pupils": s["pupils"],
                    "submitted": s["submitted"],
                    "draft": s["draft"],
                    "not_yet": s["not_yet"],
                    "is_school": True,
                }
            )
            for c in s["classes"]:
                rows.append(
                    {
                        "school": "",
                        "class": c["class"],
                        "pupils": c["pupils"],
                        "submitted": c["submitted"],
                        "draft": c["draft"],
                        "not_yet": c["not_yet"],
                    }
                )
        self.model.set_rows(rows)
        done = sum(1 for s in st["schools"] if s["pupils"] and s["submitted"] == s["pupils"])
        started = sum(1 for s in st["schools"] if s["entered"])
        self.summary.setText(
            tr(
                "学校・園 {schools} 校のうち、提出完了 {done} 校・入力中 {started} 校・未着手 {not_started} 校",
                schools=len(st["schools"]),
                done=done,
                started=started - done,
                not_started=len(st["schools"]) - started,
            )
        )
        self.status = st
        return st

    def open_round(self, name: str | None = None, due_on: dt.date | None = None):
        if name is None:
            name, ok = QInputDialog.getText(self, tr("チェックリスト"), tr("ラウンド名（例：夏休み明け）"))
            if not ok or not name:
                return None
        try:
            rid = CL.open_round(self.ws, name, due_on=due_on or dt.date.today() + dt.timedelta(days=21))
        except KodomoError as e:
            self._notify(e.message_ja, error=True)
            return None
        self.refresh()
        self._notify(tr("ラウンド「{name}」を開始しました。", name=name))
        return rid

    def _school_and_path(self, school, path, title: str, default_name: str, file_filter: str):
        """The school and the file to write: as given (tests, callers), else asked for; None when cancelled."""
        if school is None:
            schools = CL.schools(self.ws)
            if not schools:
                return None
            school, ok = QInputDialog.getItem(self, title, tr("学校"), schools, 0, False)
            if not ok:
                return None
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, tr("保存先"), default_name.format(school=school), file_filter)
            if not path:
                return None
        return school, path

    def template(self, school: str | None = None, path: str | None = None):
        chosen = self._school_and_path(
            school, path, tr("学校用 Excel"), "チェックリスト_{school}.xlsx", "Excel (*.xlsx)"
        )
        if chosen is None:
            return None
        school, path = chosen
        password = self.file_password.text().strip() if self.use_password.isChecked() else None
        if self.use_password.isChecked() and len(password or "") < 8:
            self._notify(tr("ファイルのパスワードは8文字以上にしてください。"), error=True)
            return None
        try:
            res = call_with_progress(
                self,
                tr("学校用 Excel"),
                lambda _p, _c: CL.write_template(self.ws, school, path, password=password),
                label=tr("{school} の記入用 Excel を作成しています…", school=school),
                cancellable=False,
            )
        except KodomoError as e:
            self._notify(e.message_ja, error=True)
            return None
        self._notify(
            tr(
                "{school} の記入用 Excel（{n} 人分）をパスワード付きで作成しました。パスワード「{pw}」は、"
                "ファイルとは別の方法（電話など）で学校に伝えてください。",
                school=school,
                n=res["pupils"],
                pw=password,
            )
            if password
            else tr(
                "{school} の記入用 Excel（{n} 人分）を作成しました。氏名が載っているため取扱いに注意してください。",
                school=school,
                n=res["pupils"],
            )
        )
        self.refresh()
        return res

    def import_returned(self, path: str | None = None, password: str | None = None):
        """Read a school's returned workbook (rows matched by row key); a password-protected one opens with the
        password in the field above (or ``password``). Problems go to the notice line, by row and column."""
        from ...core.importing.service import import_file

        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, tr("返送された Excel"), "", "Excel (*.xlsx)")
            if not path:
                return None
        if password is None:
            password = self.file_password.text().strip() or None
        try:
            res = call_with_progress(
                self,
                tr("返送された Excel を取り込む…"),
                lambda _p, _c: import_file(self.ws, path, "school_checklist", file_password=password),
                label=tr("返送された Excel を取り込んでいます…"),
                cancellable=False,
            )
        except KodomoError as e:  # a refused sheet's message names every wrong cell by row and column
            self._notify(e.message_ja, error=True)
            return None
        self._notify(
            tr("{n} 人分を取り込みました。", n=res.imported) + ("　" + "　".join(res.warnings) if res.warnings else "")
        )
        self.refresh()
        return res

    def blank_sheet(self, school: str | None = None, klass: str | None = None, path: str | None = None):
        """A blank checklist on paper for one class (``klass`` None: every class of the school), as a PDF."""
        from ...core.reports import service as R

        chosen = self._school_and_path(
            school, path, tr("紙の記入用紙"), "観察チェックリスト記入用紙_{school}.pdf", "PDF (*.pdf)"
        )
        if chosen is None:
            return None
        school, path = chosen
        try:
            res = call_with_progress(
                self,
                tr("紙の記入用紙"),
                lambda _p, _c: R.blank_checklist_pdf(self.ws, school, klass, None, path),
                label=tr("{school} の記入用紙を作成しています…", school=school),
                cancellable=False,
            )
        except KodomoError as e:
            self._notify(e.message_ja, error=True)
            return None
        self._notify(
            tr(
                "{school} の記入用紙（{pages} ページ）を保存しました。",
                school=f"{school}{' ' + klass if klass else ''}",
                pages=res["pages"],
            )
        )
        return res

    def _notify(self, text: str, *, error: bool = False) -> None:
        self.notice.say(text, error)


class ChecklistPage(QWidget):
    def __init__(self, ws: Workspace, main_window=None):
        super().__init__()
        lay = QVBoxLayout(self)
        if ws.user.role == "school":
            self.entry = SchoolEntry(ws, ws.user.school)
            lay.addWidget(self.entry)
        else:
            self.coordinator = CoordinatorView(ws)
            lay.addWidget(self.coordinator)
            if ws.can("checklist.manage"):
                pick = QComboBox()
                pick.addItem(tr("（学校を選んで入力画面を開く）"))
                pick.addItems(CL.schools(ws))
                pick.activated.connect(lambda i: i and self._open_school(ws, pick.currentText()))
                lay.addWidget(pick)
        self.ws = ws

    # -- lock: a teacher's unsaved answers are kept as drafts first, then the pupils' names are forgotten --------------
    def before_lock(self):
        entry = getattr(self, "entry", None)
        if entry is not None and entry.model.dirty:
            entry.save(False)

    def on_lock(self):
        forget_rows(self)
        entry = getattr(self, "entry", None)
        if entry is not None and not entry.model.dirty:  # unsaved answers that could not be saved stay
            entry.model = ChecklistGridModel([], [], {})
            entry.view.setModel(entry.model)
            entry.item_label.setText("")
            entry.remark_label.setText("")

    def on_unlock(self):
        if hasattr(self, "coordinator"):
            self.coordinator.refresh()
        entry = getattr(self, "entry", None)
        if entry is not None and not entry.model.dirty:
            entry.load()

    def _open_school(self, ws: Workspace, school):
        if hasattr(self, "entry"):
            self.entry.setParent(None)
        self.entry = SchoolEntry(ws, school)
        self.layout().addWidget(self.entry, 1)
