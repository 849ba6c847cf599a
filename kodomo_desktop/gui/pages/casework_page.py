"""会議 page: review rounds (classify with reasons), conferences (batch, minutes), progress records, due list, funnel."""
from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QAbstractTableModel, QDate, QModelIndex, Qt, Signal
from PySide6.QtGui import QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDateEdit, QDialog, QDialogButtonBox, QFileDialog,
                               QFormLayout, QHBoxLayout, QHeaderView, QInputDialog, QLabel, QLineEdit, QListWidget,
                               QMessageBox, QPlainTextEdit, QPushButton, QSplitter, QTableView, QTabWidget,
                               QVBoxLayout, QWidget)

from ...core.casework import service as C
from ...core.errors import KodomoError

CAVEAT = "スコアは支援の要否を検討するためのきっかけであり、判定結果ではありません。"


def _err(parent, e: Exception):
    QMessageBox.warning(parent, "確認してください", getattr(e, "message_ja", str(e)))


class DictTableModel(QAbstractTableModel):
    """A read-only table over a list of dicts; columns are (key, Japanese header)."""

    def __init__(self, columns: list[tuple[str, str]], rows: list[dict] | None = None, parent=None):
        super().__init__(parent)
        self.columns = columns
        self.rows = rows or []

    def set_rows(self, rows):
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()):
        return len(self.columns)

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        key = self.columns[index.column()][0]
        v = row.get(key)
        if role == Qt.DisplayRole:
            if isinstance(v, bool):
                return "○" if v else ""
            if isinstance(v, float):
                return f"{v:g}"
            if isinstance(v, (dt.date, dt.datetime)):
                return v.strftime("%Y-%m-%d")
            return "" if v is None else str(v)
        if role == Qt.BackgroundRole and key == "band":
            return {"高": QColor("#F8CBAD"), "中": QColor("#FFE699"), "低": QColor("#E2EFDA")}.get(v)
        if role == Qt.BackgroundRole and row.get("overdue"):
            return QColor("#F8CBAD")
        return None

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if role == Qt.DisplayRole and orientation == Qt.Horizontal:
            return self.columns[section][1]
        return None


def table_view(model) -> QTableView:
    v = QTableView()
    v.setModel(model)
    v.setSelectionBehavior(QAbstractItemView.SelectRows)
    v.setSelectionMode(QAbstractItemView.ExtendedSelection)
    v.setAlternatingRowColors(True)
    v.verticalHeader().setVisible(False)
    v.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
    v.horizontalHeader().setStretchLastSection(True)
    return v


class ClassifyDialog(QDialog):
    def __init__(self, labels, parent=None, current=None):
        super().__init__(parent)
        self.setWindowTitle("分類と理由")
        lay = QFormLayout(self)
        self.label = QComboBox()
        for l in labels:
            self.label.addItem(l["label"], l["key"])
        if current:
            self.label.setCurrentIndex(max(0, self.label.findData(current)))
        self.reason = QPlainTextEdit()
        self.reason.setPlaceholderText("理由（必須）: 例）欠席が増えており、学校での様子を確認する")
        lay.addRow("分類", self.label)
        lay.addRow("理由", self.reason)
        bb = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        bb.accepted.connect(self.accept)
        bb.rejected.connect(self.reject)
        lay.addRow(bb)


class RoundsTab(QWidget):
    def __init__(self, ws, main):
        super().__init__()
        self.ws, self.main = ws, main
        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        self.rounds = QComboBox()
        self.rounds.currentIndexChanged.connect(self.refresh)
        new = QPushButton("ラウンドを作成…")
        new.clicked.connect(self.create_round)
        self.classify_btn = QPushButton("分類する… (Enter)")
        self.classify_btn.clicked.connect(self.classify)
        top.addWidget(QLabel("レビューラウンド"))
        top.addWidget(self.rounds, 1)
        top.addWidget(new)
        top.addWidget(self.classify_btn)
        lay.addLayout(top)
        caveat = QLabel(CAVEAT)
        caveat.setStyleSheet("color:#9C0006;")
        lay.addWidget(caveat)
        self.model = DictTableModel([("status_label", "区分"), ("name", "氏名"), ("age", "年齢"), ("age_band", "年齢区分"),
                                     ("school", "学校・園"), ("total", "点数"), ("band", "帯"),
                                     ("classification", "分類"), ("reason", "理由"), ("earlier_decision", "前回分類"),
                                     ("decided_by", "判断者")])
        self.view = table_view(self.model)
        self.view.doubleClicked.connect(lambda *_: self.classify())
        QShortcut(QKeySequence(Qt.Key_Return), self.view, activated=self.classify)
        lay.addWidget(self.view, 1)
        self.load_rounds()

    def load_rounds(self):
        self.rounds.blockSignals(True)
        self.rounds.clear()
        for r in C.list_rounds(self.ws):
            self.rounds.addItem(f"{r['name']}（{r['as_of']} 時点・{r['classified']}/{r['candidates']} 分類済み）", r["round_id"])
        self.rounds.blockSignals(False)
        self.refresh()

    def round_id(self):
        return self.rounds.currentData()

    def refresh(self):
        rid = self.round_id()
        self.model.set_rows(C.round_candidates(self.ws, rid) if rid else [])

    def create_round(self):
        name, ok = QInputDialog.getText(self, "レビューラウンド", "ラウンド名（例：夏休み明け）")
        if not ok:
            return
        try:
            C.create_round(self.ws, name)
        except KodomoError as e:
            return _err(self, e)
        self.load_rounds()

    def classify(self):
        rid = self.round_id()
        rows = sorted({i.row() for i in self.view.selectionModel().selectedRows()})
        if not rid or not rows:
            return
        cand = self.model.rows[rows[0]]
        labels = next((r for r in [C.DEFAULT_LABELS]), C.DEFAULT_LABELS)
        dlg = ClassifyDialog(labels, self, cand.get("classification"))
        if dlg.exec() != QDialog.Accepted:
            return
        try:
            for r in rows:
                C.classify(self.ws, rid, self.model.rows[r]["person_id"], dlg.label.currentData(),
                           dlg.reason.toPlainText())
        except KodomoError as e:
            return _err(self, e)
        self.refresh()


class MinutesDialog(QDialog):
    def __init__(self, item, resources, parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"記録: {item['name']}")
        lay = QFormLayout(self)
        self.need = QComboBox()
        self.need.addItems(["要", "不要", "継続検討"])
        if item.get("support_needed"):
            self.need.setCurrentText(item["support_needed"])
        self.direction = QComboBox()
        self.direction.addItem("（なし）", None)
        for k, v in C.DIRECTIONS.items():
            self.direction.addItem(v, k)
        if item.get("direction"):
            self.direction.setCurrentIndex(self.direction.findData(item["direction"]))
        self.lead = QComboBox()
        self.lead.setEditable(True)
        self.lead.addItems([""] + [r["name"] for r in resources])
        self.lead.setCurrentText(item.get("lead_organisation") or "")
        self.actions = QPlainTextEdit(item.get("actions") or "")
        self.next = QDateEdit(QDate.currentDate().addDays(30))
        self.next.setCalendarPopup(True)
        self.minutes = QPlainTextEdit(item.get("minutes") or "")
        for label, w in (("支援要否", self.need), ("方向性", self.direction), ("主担当機関", self.lead),
                         ("役割分担・支援内容", self.actions), ("次回見直し日", self.next), ("会議記録", self.minutes)):
            lay.addRow(label, w)
        bb = QDialogButtonBox(QDialogButtonBox.Save | QDialogButtonBox.Cancel)
        bb.accepted.connect(self.accept)
        bb.rejected.connect(self.reject)
        lay.addRow(bb)


class ConferencesTab(QWidget):
    def __init__(self, ws, main, rounds_tab: RoundsTab):
        super().__init__()
        self.ws, self.main, self.rounds_tab = ws, main, rounds_tab
        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        self.confs = QComboBox()
        self.confs.currentIndexChanged.connect(self.refresh)
        new = QPushButton("会議を作成（候補を学校に分散）…")
        new.clicked.connect(self.create_conference)
        rec = QPushButton("記録する…")
        rec.clicked.connect(self.record)
        top.addWidget(QLabel("会議"))
        top.addWidget(self.confs, 1)
        top.addWidget(new)
        top.addWidget(rec)
        lay.addLayout(top)
        self.head = QLabel()
        lay.addWidget(self.head)
        self.model = DictTableModel([("position", "順"), ("name", "氏名"), ("school", "学校・園"),
                                     ("support_needed", "支援要否"), ("direction", "方向性"),
                                     ("lead_organisation", "主担当"), ("actions", "支援内容"),
                                     ("next_review_on", "次回見直し")])
        self.view = table_view(self.model)
        self.view.doubleClicked.connect(lambda *_: self.record())
        lay.addWidget(self.view, 1)
        self.load()

    def load(self, select_id=None):
        self.confs.blockSignals(True)
        self.confs.clear()
        for c in C.list_conferences(self.ws):
            self.confs.addItem(f"{c['held_on']} {c['kind']} {c['title'] or ''}（{c['items']} 件）", c["conference_id"])
        if select_id:
            self.confs.setCurrentIndex(self.confs.findData(select_id))
        self.confs.blockSignals(False)
        self.refresh()

    def refresh(self):
        cid = self.confs.currentData()
        if not cid:
            self.model.set_rows([])
            self.head.setText("")
            return
        d = C.conference_detail(self.ws, cid)
        self.head.setText(f"{d['kind']}　{d['held_on']}　{d['place'] or ''}　出席: "
                          + "、".join(f"{a.get('organisation', '')} {a.get('role', '')}" for a in d["attendees"]))
        self.model.set_rows([{**i, "position": i["position"] + 1} for i in d["items"]])

    def create_conference(self):
        rid = self.rounds_tab.round_id()
        if not rid:
            return QMessageBox.information(self, "会議", "先にレビューラウンドを作成してください。")
        kind, ok = QInputDialog.getItem(self, "会議の種類", "種類", C.CONFERENCE_KINDS, 0, False)
        if not ok:
            return
        size, ok = QInputDialog.getInt(self, "会議", "取り上げる世帯数", 5, 1, 30)
        if not ok:
            return
        try:
            batch = C.suggest_batch(self.ws, rid, size)
            cid = C.create_conference(self.ws, kind, dt.date.today(), title=f"{kind}（{dt.date.today():%Y年%m月}）",
                                      round_id=rid, person_ids=batch,
                                      attendees=[{"role": "コーディネーター", "organisation": "こども家庭センター"}])
        except KodomoError as e:
            return _err(self, e)
        self.load(cid)

    def record(self):
        cid = self.confs.currentData()
        idx = self.view.currentIndex()
        if not cid or not idx.isValid():
            return
        item = self.model.rows[idx.row()]
        dlg = MinutesDialog(item, C.resources(self.ws), self)
        if dlg.exec() != QDialog.Accepted:
            return
        try:
            C.record_minutes(self.ws, cid, item["person_id"], support_needed=dlg.need.currentText(),
                             direction=dlg.direction.currentData(), lead_organisation=dlg.lead.currentText() or None,
                             actions=dlg.actions.toPlainText() or None,
                             next_review_on=dlg.next.date().toPython(), minutes=dlg.minutes.toPlainText() or None)
        except KodomoError as e:
            return _err(self, e)
        self.refresh()


class DueTab(QWidget):
    def __init__(self, ws, main):
        super().__init__()
        self.ws = ws
        lay = QVBoxLayout(self)
        bar = QHBoxLayout()
        add = QPushButton("経過記録を追加…")
        add.clicked.connect(self.add_progress)
        bar.addWidget(QLabel("2週間以内の予定（期限切れは赤）"))
        bar.addStretch(1)
        bar.addWidget(add)
        lay.addLayout(bar)
        self.model = DictTableModel([("due_on", "期日"), ("name", "氏名"), ("what", "内容"), ("detail", "詳細")])
        self.view = table_view(self.model)
        lay.addWidget(self.view, 1)
        self.refresh()

    def refresh(self):
        self.model.set_rows(C.due_list(self.ws))

    def add_progress(self):
        idx = self.view.currentIndex()
        pid = self.model.rows[idx.row()]["person_id"] if idx.isValid() else None
        if pid is None:
            pid, ok = QInputDialog.getText(self, "経過記録", "こどもID（例：P000123）")
            if not ok or not pid:
                return
        dlg = QDialog(self)
        dlg.setWindowTitle("経過記録")
        f = QFormLayout(dlg)
        kind = QComboBox()
        kind.addItems(C.PROGRESS_KINDS)
        who, what, outcome = QLineEdit(), QPlainTextEdit(), QLineEdit()
        nxt = QDateEdit(QDate.currentDate().addDays(14))
        nxt.setCalendarPopup(True)
        for l, w in (("種類", kind), ("対応者", who), ("内容", what), ("結果", outcome), ("次回対応日", nxt)):
            f.addRow(l, w)
        bb = QDialogButtonBox(QDialogButtonBox.Save | QDialogButtonBox.Cancel)
        bb.accepted.connect(dlg.accept)
        bb.rejected.connect(dlg.reject)
        f.addRow(bb)
        if dlg.exec() != QDialog.Accepted:
            return
        try:
            C.add_progress(self.ws, pid, dt.date.today(), kind.currentText(), who=who.text() or None,
                           what=what.toPlainText(), outcome=outcome.text() or None, next_action_on=nxt.date().toPython())
        except KodomoError as e:
            return _err(self, e)
        self.refresh()


class FunnelChart(QWidget):
    """A small horizontal bar chart of the funnel stages."""

    def __init__(self):
        super().__init__()
        self.stages = []
        self.setMinimumHeight(170)

    def set_stages(self, stages):
        self.stages = stages
        self.update()

    def paintEvent(self, _):
        from PySide6.QtGui import QPainter
        p = QPainter(self)
        if not self.stages:
            p.drawText(10, 20, "ラウンドを選んでください")
            return
        top = max(s["count"] for s in self.stages) or 1
        w = self.width() - 260
        for i, s in enumerate(self.stages):
            y = 10 + i * 30
            p.drawText(10, y + 17, s["label"])
            p.fillRect(110, y, int(w * s["count"] / top), 22, QColor("#5B9BD5"))
            p.drawText(120 + int(w * s["count"] / top), y + 17, f"{s['count']} 人")


class FunnelTab(QWidget):
    def __init__(self, ws, main, rounds_tab):
        super().__init__()
        self.ws, self.rounds_tab = ws, rounds_tab
        lay = QVBoxLayout(self)
        bar = QHBoxLayout()
        upd = QPushButton("更新")
        upd.clicked.connect(self.refresh)
        exp = QPushButton("Excel に出力…")
        exp.clicked.connect(self.export)
        bar.addWidget(QLabel("対象 → 抽出 → 分類済み → 会議で検討 → 支援開始"))
        bar.addStretch(1)
        bar.addWidget(upd)
        bar.addWidget(exp)
        lay.addLayout(bar)
        self.chart = FunnelChart()
        lay.addWidget(self.chart)
        self.model = DictTableModel([("group", "学校・園 / 年齢区分"), ("in_scope", "対象"), ("flagged", "抽出"),
                                     ("classified", "分類済み"), ("discussed", "会議で検討"), ("supported", "支援開始")])
        lay.addWidget(table_view(self.model), 1)
        self.refresh()

    def refresh(self):
        rid = self.rounds_tab.round_id()
        if not rid:
            return
        f = C.funnel(self.ws, rid)
        self.chart.set_stages(f["stages"])
        rows = [{"group": g, **c} for g, c in f["by_school"].items()] + \
               [{"group": f"［年齢］{g}", **c} for g, c in f["by_age_band"].items()]
        self.model.set_rows(rows)

    def export(self):
        rid = self.rounds_tab.round_id()
        if not rid:
            return
        path, _ = QFileDialog.getSaveFileName(self, "ファネルを出力", "funnel.xlsx", "Excel (*.xlsx)")
        if path:
            C.funnel_to_excel(self.ws, rid, path)


class CaseworkPage(QWidget):
    def __init__(self, ws, main_window=None):
        super().__init__()
        lay = QVBoxLayout(self)
        self.tabs = QTabWidget()
        self.rounds = RoundsTab(ws, main_window)
        self.conferences = ConferencesTab(ws, main_window, self.rounds)
        self.due = DueTab(ws, main_window)
        self.funnel = FunnelTab(ws, main_window, self.rounds)
        self.tabs.addTab(self.rounds, "レビューラウンド")
        self.tabs.addTab(self.conferences, "会議・記録")
        self.tabs.addTab(self.due, "予定（期日）")
        self.tabs.addTab(self.funnel, "ファネル")
        self.tabs.currentChanged.connect(self._on_tab)
        lay.addWidget(self.tabs)

    def _on_tab(self, i):
        w = self.tabs.widget(i)
        if hasattr(w, "refresh"):
            w.refresh()
