"""会議 → レビューラウンド: classify the flagged children with reasons, close the round."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ....core.casework import service as C
from ....core.errors import KodomoError
from ... import palette as pal
from ...i18n import tr
from .common import CAVEAT, YOTAIKYO_RULES, DictTableModel, Notice, _labels_text, _long, _msg, table_view

if TYPE_CHECKING:  # annotations only: the GUI gets its workspace from the caller
    from ....core.workspace import Workspace


# --- レビューラウンド -------------------------------------------------------------------------------------------------
class RoundsTab(QWidget):
    def __init__(self, ws: Workspace, main):
        super().__init__()
        self.ws, self.main = ws, main
        self.labels: list[dict] = list(C.DEFAULT_LABELS)
        self.info: dict | None = None
        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        self.rounds = QComboBox()
        self.rounds.currentIndexChanged.connect(self.refresh)
        top.addWidget(QLabel(tr("レビューラウンド")))
        top.addWidget(self.rounds, 1)
        self.close_btn = QPushButton(tr("ラウンドを締め切る"))
        self.close_btn.clicked.connect(self.close_round)
        top.addWidget(self.close_btn)
        lay.addLayout(top)
        self.round_info = QLabel("")
        self.round_info.setStyleSheet(f"color:{pal.TEXT_DARK};")
        lay.addWidget(self.round_info)
        caveat = QLabel(tr(CAVEAT))
        caveat.setStyleSheet(f"color:{pal.ERROR};")
        lay.addWidget(caveat)
        self.notice = Notice()
        lay.addWidget(self.notice)

        split = QSplitter(Qt.Horizontal)
        self.model = DictTableModel(
            [
                ("status_label", tr("区分")),
                ("name", tr("氏名")),
                ("age", tr("年齢")),
                ("age_band", tr("年齢区分")),
                ("school", tr("学校・園")),
                ("total", tr("点数")),
                ("band", tr("帯")),
                ("classification", tr("分類")),
                ("reason", tr("理由")),
                ("earlier_text", tr("前回ラウンド")),
                ("decided_by", tr("判断者")),
                ("decided_at_text", tr("判断日時")),
            ]
        )
        self.view = table_view(self.model)
        self.view.setWordWrap(False)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._selected())
        QShortcut(
            QKeySequence(Qt.Key_Return), self.view, activated=lambda: self.reason.setFocus(), context=Qt.WidgetShortcut
        )
        split.addWidget(self.view)

        side = QWidget()
        sl = QVBoxLayout(side)
        sl.setContentsMargins(0, 0, 0, 0)
        box = QGroupBox(tr("分類と理由（選んだこども）"))
        f = QFormLayout(box)
        self.selected_label = QLabel(tr("一覧からこどもを選んでください"))
        self.selected_label.setWordWrap(True)
        self.label = QComboBox()
        self.reason = QPlainTextEdit()
        self.reason.setPlaceholderText(tr("理由（必須）: 例）欠席が増えており、学校での様子を確認する"))
        self.reason.setMaximumHeight(110)
        self.save_btn = QPushButton(tr("分類を保存 (Ctrl+Enter)"))
        self.save_btn.clicked.connect(self.save_classification)
        QShortcut(
            QKeySequence("Ctrl+Return"), side, activated=self.save_classification, context=Qt.WidgetWithChildrenShortcut
        )
        f.addRow(tr("対象"), self.selected_label)
        f.addRow(tr("分類"), self.label)
        f.addRow(tr("理由"), self.reason)
        f.addRow(self.save_btn)
        sl.addWidget(box)

        new = QGroupBox(tr("新しいラウンド（最新のスコアから）"))
        nf = QFormLayout(new)
        self.new_name = QLineEdit()
        self.new_name.setPlaceholderText(tr("例：夏休み明け"))
        self.new_rule = QComboBox()
        for k, v in YOTAIKYO_RULES:
            self.new_rule.addItem(tr(v), k)
        self.new_labels = QLineEdit(_labels_text(C.DEFAULT_LABELS))
        self.new_labels.setToolTip(tr("分類ラベル（カンマ区切り、記号.名称）"))
        self.create_btn = QPushButton(tr("ラウンドを作成"))
        self.create_btn.clicked.connect(self.create_round)
        nf.addRow(tr("ラウンド名"), self.new_name)
        nf.addRow(tr("要対協の扱い"), self.new_rule)
        nf.addRow(tr("分類ラベル"), self.new_labels)
        nf.addRow(self.create_btn)
        sl.addWidget(new)
        sl.addStretch(1)
        split.addWidget(side)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        lay.addWidget(split, 1)
        self.load_rounds()

    # -- data ----------------------------------------------------------------------------------------------------
    def load_rounds(self, select_id=None):
        self.rounds.blockSignals(True)
        self.rounds.clear()
        self._infos = {}
        for r in C.list_rounds(self.ws):
            self._infos[r["round_id"]] = r
            state = tr("・締切済み") if r["closed_at"] else ""
            self.rounds.addItem(
                tr(
                    "{name}（{as_of} 時点・{classified}/{candidates} 分類済み{state}）",
                    name=r["name"],
                    as_of=r["as_of"],
                    classified=r["classified"],
                    candidates=r["candidates"],
                    state=state,
                ),
                r["round_id"],
            )
        if select_id is not None:
            self.rounds.setCurrentIndex(max(0, self.rounds.findData(select_id)))
        self.rounds.blockSignals(False)
        self.refresh()

    def round_id(self):
        return self.rounds.currentData()

    def refresh(self):
        rid = self.round_id()
        self.info = self._infos.get(rid) if rid else None
        if not rid:
            self.model.set_rows([])
            self.round_info.setText(tr("ラウンドがまだありません。右の「新しいラウンド」から作成してください。"))
            self._set_labels(C.DEFAULT_LABELS)
            return
        i = self.info or {}
        ver = tr("重みセット 第{v}版", v=i["weight_version"]) if i.get("weight_version") else tr("重みセット —")
        closed = "　" + tr("締切: {date}", date=f"{i['closed_at']:%Y-%m-%d}") if i.get("closed_at") else ""
        self.round_info.setText(
            tr(
                "時点 {as_of}　{ver}　スコア算出 #{run}　作成: {by}（{at}）　分類ラベル: {labels}{closed}",
                as_of=i.get("as_of"),
                ver=ver,
                run=i.get("score_run_id"),
                by=i.get("created_by") or "",
                at=f"{i['created_at']:%Y-%m-%d}",
                labels=_labels_text(i.get("labels") or C.DEFAULT_LABELS),
                closed=closed,
            )
        )
        self._set_labels(i.get("labels") or C.DEFAULT_LABELS)
        names = {l["key"]: l["label"] for l in self.labels}
        rows = C.round_candidates(self.ws, rid)
        for r in rows:
            e = r.get("earlier_decision")
            r["earlier_text"] = tr("前回 {label}", label=names.get(e, e)) if e else ""
            r["classification_key"] = r["classification"]
            r["decided_at_text"] = f"{r['decided_at']:%Y-%m-%d %H:%M}" if r.get("decided_at") else ""
            r["classification"] = names.get(r["classification"], r["classification"]) if r["classification"] else None
        self.model.set_rows(rows)
        closed = bool(i.get("closed_at"))
        self.save_btn.setEnabled(not closed)
        self.close_btn.setEnabled(not closed)

    def _set_labels(self, labels):
        self.labels = list(labels)
        cur = self.label.currentData()
        self.label.clear()
        for l in self.labels:
            self.label.addItem(tr(l["label"]), l["key"])
        if cur is not None and self.label.findData(cur) >= 0:
            self.label.setCurrentIndex(self.label.findData(cur))

    def selected_rows(self) -> list[int]:
        return sorted({i.row() for i in self.view.selectionModel().selectedRows()})

    def select_rows(self, rows):
        from PySide6.QtCore import QItemSelection, QItemSelectionModel

        sel = QItemSelection()
        for r in rows:
            sel.select(self.model.index(r, 0), self.model.index(r, self.model.columnCount() - 1))
        self.view.selectionModel().select(sel, QItemSelectionModel.ClearAndSelect | QItemSelectionModel.Rows)
        if rows:
            self.view.scrollTo(self.model.index(rows[0], 0))

    def _selected(self):
        rows = self.selected_rows()
        if not rows:
            self.selected_label.setText(tr("一覧からこどもを選んでください"))
            return
        first = self.model.rows[rows[0]]
        more = " " + tr("ほか {n} 人", n=len(rows) - 1) if len(rows) > 1 else ""
        self.selected_label.setText(
            tr("{name}（{school}）", name=first["name"], school=first["school"] or tr("学校・園なし")) + more
        )
        if len(rows) == 1:
            self.reason.setPlainText(first.get("reason") or "")
            key = first.get("classification_key")
            if key and self.label.findData(key) >= 0:
                self.label.setCurrentIndex(self.label.findData(key))

    # -- actions ----------------------------------------------------------------------------------------------------
    def create_round(self, name: str | None = None) -> int | None:
        name = self.new_name.text() if name is None or isinstance(name, bool) else name
        try:
            rid = _long(
                self,
                tr("レビューラウンドの作成"),
                C.create_round,
                self.ws,
                name,
                labels=self.new_labels.text(),
                yotaikyo_rule=self.new_rule.currentData(),
            )
        except KodomoError as e:
            self.notice.error(_msg(e))
            return None
        self.new_name.clear()
        self.load_rounds(rid)
        self.notice.info(
            tr("ラウンド「{name}」を作成しました（候補 {n} 人）。", name=name.strip(), n=self.model.rowCount())
        )
        return rid

    def save_classification(self) -> bool:
        rid = self.round_id()
        rows = self.selected_rows()
        if not rid or not rows:
            self.notice.error(tr("分類するこどもを一覧から選んでください。"))
            return False
        key, reason = self.label.currentData(), self.reason.toPlainText()
        try:
            for r in rows:
                C.classify(self.ws, rid, self.model.rows[r]["person_id"], key, reason)
        except KodomoError as e:
            self.notice.error(_msg(e))
            self.reason.setFocus()
            return False
        n = len(rows)
        self.notice.info(tr("{n} 人を「{label}」に分類しました。", n=n, label=self.label.currentText()))
        last = rows[-1]
        self.load_rounds(rid)
        self.reason.clear()
        nxt = next(
            (i for i in range(last + 1, self.model.rowCount()) if not self.model.rows[i]["classification"]), None
        )
        if nxt is not None:
            self.select_rows([nxt])
        return True

    def close_round(self) -> bool:
        rid = self.round_id()
        if not rid:
            return False
        try:
            C.close_round(self.ws, rid)
        except KodomoError as e:
            self.notice.error(_msg(e))
            return False
        self.load_rounds(rid)
        self.notice.info(tr("ラウンドを締め切りました。分類はこれ以降変更できません。"))
        return True
