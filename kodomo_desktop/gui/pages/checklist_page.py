"""チェックリスト page.

A school account gets a grid of its own pupils × items for fast keyboard entry: arrow keys move, 1 / 2 / 0 answer
該当 / 非該当 / 不明, Delete clears, the last column is a free-text remark; 下書き保存 keeps a draft, 提出 submits.
The coordinator sees each school's progress and can open rounds and write workbooks.
"""
from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFileDialog, QHBoxLayout, QHeaderView, QInputDialog,
                               QLabel, QMessageBox, QPushButton, QTableView, QVBoxLayout, QWidget)

from ...core.checklists import service as CL
from ...core.errors import KodomoError

SHORT = {"1": "該当", "2": "非該当", "0": "不明"}


class ChecklistGridModel(QAbstractTableModel):
    def __init__(self, pupils, items, entries):
        super().__init__()
        self.pupils, self.items = pupils, items
        self.answers = {p["person_id"]: dict((entries.get(p["person_id"]) or {}).get("answers") or {}) for p in pupils}
        self.remarks = {p["person_id"]: (entries.get(p["person_id"]) or {}).get("remark") or "" for p in pupils}
        self.status = {p["person_id"]: (entries.get(p["person_id"]) or {}).get("status") for p in pupils}
        self.dirty: set[str] = set()

    def rowCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else len(self.pupils)

    def columnCount(self, parent=QModelIndex()):
        return len(self.items) + 1

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid():
            return None
        pid = self.pupils[index.row()]["person_id"]
        c = index.column()
        if c == len(self.items):
            return self.remarks[pid] if role in (Qt.DisplayRole, Qt.EditRole) else None
        code = self.answers[pid].get(self.items[c]["id"])
        if role == Qt.DisplayRole:
            return SHORT.get(code, "")
        if role == Qt.BackgroundRole:
            return {"1": QColor("#F8CBAD"), "2": QColor("#E2EFDA"), "0": QColor("#EDEDED")}.get(code)
        if role == Qt.ToolTipRole:
            return self.items[c]["text_ja"]
        if role == Qt.TextAlignmentRole:
            return Qt.AlignCenter
        return None

    def flags(self, index):
        f = Qt.ItemIsEnabled | Qt.ItemIsSelectable
        if index.column() == len(self.items):
            f |= Qt.ItemIsEditable
        return f

    def setData(self, index, value, role=Qt.EditRole):
        pid = self.pupils[index.row()]["person_id"]
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

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if role != Qt.DisplayRole:
            if role == Qt.ToolTipRole and orientation == Qt.Horizontal and section < len(self.items):
                return self.items[section]["text_ja"]
            return None
        if orientation == Qt.Horizontal:
            return "所見" if section == len(self.items) else f"{section + 1}"
        p = self.pupils[section]
        mark = {"submitted": "✔", "draft": "…"}.get(self.status.get(p["person_id"]) or "", "")
        if p["person_id"] in self.dirty:
            mark = "＊"
        return f"{mark}{p['grade']}年{p['class']}組 {p['name']}"


class ChecklistGrid(QTableView):
    """Keyboard-first: 1/2/0 answer and move right; Delete clears; arrows move."""

    def keyPressEvent(self, e):
        idx = self.currentIndex()
        m = self.model()
        text = e.text()
        if idx.isValid() and idx.column() < m.columnCount() - 1 and text in ("1", "2", "0", "１", "２", "０"):
            m.setData(idx, {"１": "1", "２": "2", "０": "0"}.get(text, text))
            nxt = m.index(idx.row(), idx.column() + 1)
            self.setCurrentIndex(nxt)
            return
        if idx.isValid() and e.key() in (Qt.Key_Delete, Qt.Key_Backspace) and idx.column() < m.columnCount() - 1:
            m.setData(idx, None)
            return
        super().keyPressEvent(e)


class SchoolEntry(QWidget):
    def __init__(self, ws, school: str):
        super().__init__()
        self.ws, self.school = ws, school
        lay = QVBoxLayout(self)
        with ws.session() as s:
            r = CL.current_round(s, school)
            self.round_id = r.id if r else None
            self.definition = CL.round_definition(s, r) if r else None
            title = f"{school}　{r.name}（期限 {r.due_on or '未設定'}）" if r else f"{school}　実施中のラウンドはありません"
        head = QLabel(title)
        head.setStyleSheet("font-size:14pt;font-weight:bold;")
        lay.addWidget(head)
        lay.addWidget(QLabel("数字キーで入力: 1 = 該当　2 = 非該当　0 = 不明（入力すると右へ進みます）。Delete で消去。"
                             "項目名は列見出しにマウスを置くと表示されます。"))
        self.item_label = QLabel("")
        self.item_label.setStyleSheet("color:#1F3864;")
        lay.addWidget(self.item_label)
        self.view = ChecklistGrid()
        self.view.setSelectionMode(QAbstractItemView.SingleSelection)
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.Fixed)
        self.view.horizontalHeader().setDefaultSectionSize(44)
        lay.addWidget(self.view, 1)
        bar = QHBoxLayout()
        self.save_btn = QPushButton("下書き保存 (Ctrl+S)")
        self.save_btn.setShortcut("Ctrl+S")
        self.save_btn.clicked.connect(lambda: self.save(False))
        self.submit_btn = QPushButton("提出する")
        self.submit_btn.clicked.connect(lambda: self.save(True))
        bar.addStretch(1)
        bar.addWidget(self.save_btn)
        bar.addWidget(self.submit_btn)
        lay.addLayout(bar)
        self.load()

    def load(self):
        if not self.round_id:
            self.model = ChecklistGridModel([], [], {})
        else:
            pupils = CL.pupils(self.ws, self.school)
            entries = CL.entries(self.ws, self.round_id, self.school)
            self.model = ChecklistGridModel(pupils, self.definition["items"], entries)
        self.view.setModel(self.model)
        self.view.horizontalHeader().resizeSection(self.model.columnCount() - 1, 220) if self.model.columnCount() else None
        self.view.selectionModel().currentChanged.connect(self._show_item)
        if self.model.rowCount():
            self.view.setCurrentIndex(self.model.index(0, 0))

    def _show_item(self, cur, _prev):
        if cur.isValid() and cur.column() < len(self.model.items):
            it = self.model.items[cur.column()]
            self.item_label.setText(f"{cur.column() + 1}. {it['text_ja']}")
        else:
            self.item_label.setText("所見（自由記述）")

    def save(self, submit: bool):
        if not self.round_id:
            return
        try:
            targets = [p["person_id"] for p in self.model.pupils] if submit else sorted(self.model.dirty)
            for pid in targets:
                if pid in self.model.dirty or submit:
                    if self.model.answers[pid] or self.model.remarks[pid] or pid in self.model.dirty:
                        CL.save_entry(self.ws, self.round_id, pid, self.model.answers[pid], self.model.remarks[pid] or None)
            if submit:
                n = CL.submit_school(self.ws, self.round_id, self.school)
                QMessageBox.information(self, "提出", f"{n} 人分を提出しました。")
        except KodomoError as e:
            QMessageBox.warning(self, "確認してください", e.message_ja)
            return
        self.model.dirty.clear()
        self.load()


class CoordinatorView(QWidget):
    def __init__(self, ws):
        super().__init__()
        self.ws = ws
        lay = QVBoxLayout(self)
        bar = QHBoxLayout()
        new = QPushButton("ラウンドを開始…")
        new.clicked.connect(self.open_round)
        tpl = QPushButton("学校用 Excel を作成…")
        tpl.clicked.connect(self.template)
        upd = QPushButton("更新")
        upd.clicked.connect(self.refresh)
        self.title = QLabel()
        bar.addWidget(self.title, 1)
        for b in (new, tpl, upd):
            bar.addWidget(b)
        lay.addLayout(bar)
        from .casework_page import DictTableModel, table_view
        self.model = DictTableModel([("school", "学校・園"), ("class", "学級"), ("pupils", "人数"), ("entered", "入力済み"),
                                     ("submitted", "提出済み"), ("not_yet", "未入力")])
        lay.addWidget(table_view(self.model), 1)
        self.refresh()

    def refresh(self):
        st = CL.status(self.ws)
        r = st["round"]
        self.title.setText(f"実施中: {r['name']}（期限 {r['due_on'] or '未設定'}）" if r else "実施中のラウンドはありません")
        rows = []
        for s in st["schools"]:
            rows.append({"school": s["school"], "class": "（全体）", "pupils": s["pupils"], "entered": s["entered"],
                         "submitted": s["submitted"], "not_yet": s["not_yet"]})
            for c in s["classes"]:
                rows.append({"school": "", "class": c["class"], "pupils": c["pupils"], "entered": c["entered"],
                             "submitted": c["submitted"], "not_yet": c["pupils"] - c["entered"]})
        self.model.set_rows(rows)

    def open_round(self):
        name, ok = QInputDialog.getText(self, "チェックリスト", "ラウンド名（例：夏休み明け）")
        if not ok or not name:
            return
        try:
            CL.open_round(self.ws, name, due_on=dt.date.today() + dt.timedelta(days=21))
        except KodomoError as e:
            QMessageBox.warning(self, "確認してください", e.message_ja)
        self.refresh()

    def template(self):
        schools = CL.schools(self.ws)
        if not schools:
            return
        school, ok = QInputDialog.getItem(self, "学校用 Excel", "学校", schools, 0, False)
        if not ok:
            return
        path, _ = QFileDialog.getSaveFileName(self, "保存先", f"チェックリスト_{school}.xlsx", "Excel (*.xlsx)")
        if path:
            try:
                res = CL.write_template(self.ws, school, path)
                QMessageBox.information(self, "作成しました", f"{res['pupils']} 人分のひな形を作成しました。")
            except KodomoError as e:
                QMessageBox.warning(self, "確認してください", e.message_ja)


class ChecklistPage(QWidget):
    def __init__(self, ws, main_window=None):
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
                pick.addItem("（学校を選んで入力画面を開く）")
                pick.addItems(CL.schools(ws))
                pick.activated.connect(lambda i: i and self._open_school(ws, pick.currentText()))
                lay.addWidget(pick)
        self.ws = ws

    def _open_school(self, ws, school):
        if hasattr(self, "entry"):
            self.entry.setParent(None)
        self.entry = SchoolEntry(ws, school)
        self.layout().addWidget(self.entry, 1)
