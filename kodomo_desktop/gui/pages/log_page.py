"""操作ログ (the coordinator and the auditor): the access log newest first, its chain state (the first broken entry
when someone has edited the table), filters by user, action, child and period, export to CSV/Excel (logged)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...core.audit import export as E
from ...core.audit import log as A
from ...core.audit.describe import describe
from ...core.errors import KodomoError
from .. import palette as pal
from ..format import when
from ..i18n import tr
from ..widgets import DictTableModel, table_view


class LogPage(QWidget):
    def __init__(self, ws, main_window=None):
        super().__init__()
        self.ws = ws
        lay = QVBoxLayout(self)
        head = QHBoxLayout()
        title = QLabel(tr("操作ログ"))
        title.setStyleSheet("font-size:15pt;font-weight:bold;")
        head.addWidget(title)
        self.chain = QLabel()
        head.addWidget(self.chain, 1)
        lay.addLayout(head)
        bar = QHBoxLayout()
        self.user = QLineEdit()
        self.user.setPlaceholderText(tr("利用者"))
        self.action = QComboBox()
        self.action.addItem(tr("（すべての操作）"), None)
        for k, v in A.ACTION_LABELS.items():
            self.action.addItem(v, k)
        self.person = QLineEdit()
        self.person.setPlaceholderText(tr("整理番号（P…）"))
        self.since = QLineEdit()
        self.since.setPlaceholderText(tr("開始日 YYYY-MM-DD"))
        self.until = QLineEdit()
        self.until.setPlaceholderText(tr("終了日 YYYY-MM-DD"))
        go = QPushButton(tr("絞り込む"))
        go.clicked.connect(self.refresh)
        exp = QPushButton(tr("出力…"))
        exp.clicked.connect(self.export)
        for w in (self.user, self.action, self.person, self.since, self.until, go, exp):
            bar.addWidget(w)
        lay.addLayout(bar)
        self.model = DictTableModel(
            [
                ("seq", tr("番号")),
                ("at", tr("日時"), lambda v, r: when(v)),
                ("user", tr("利用者")),
                ("label", tr("操作")),
                ("person_id", tr("整理番号")),
                ("detail", tr("詳細"), lambda v, r: describe(v)),
            ]
        )
        self.view = table_view(self.model)
        lay.addWidget(self.view, 1)
        note = QLabel(
            tr(
                "記録は追記のみで、各記録が直前の記録のハッシュを含みます。書き換えや削除があると、その番号から"
                "連鎖が切れたと表示されます。詳細には番号と件数だけを記録し、氏名や検索語は記録しません。"
            )
        )
        note.setWordWrap(True)
        note.setStyleSheet(f"color:{pal.LABEL};")
        lay.addWidget(note)
        self.refresh()

    def page_shown(self):
        self.refresh()

    def filters(self):
        return dict(
            user=self.user.text().strip() or None,
            action=self.action.currentData(),
            person_id=self.person.text().strip() or None,
            since=self.since.text().strip() or None,
            until=self.until.text().strip() or None,
        )

    def refresh(self):
        if self.ws.locked:
            return
        try:
            rows = E.read_log(self.ws, **self.filters())
        except KodomoError as e:
            return QMessageBox.warning(self, tr("操作ログ"), e.message_ja)
        for r in rows:
            r["label"] = A.ACTION_LABELS.get(r["action"], r["action"])
        self.model.set_rows(rows[::-1])
        rep = E.chain_state(self.ws)
        self.chain_report = rep
        if rep.ok:
            self.chain.setText(tr("全 {n} 件　連鎖の検査: 正常（改ざんは見つかりません）", n=rep.entries))
            self.chain.setStyleSheet(f"color:{pal.SUCCESS};font-weight:bold;")
        else:
            self.chain.setText(
                tr("連鎖の検査: {seq} 番で切れています（{problem}）", seq=rep.first_broken, problem=rep.problem)
            )
            self.chain.setStyleSheet(f"color:{pal.ERROR_STRONG};font-weight:bold;")

    def export(self):
        path, _ = QFileDialog.getSaveFileName(
            self, tr("操作ログの出力"), "access_log.xlsx", "Excel (*.xlsx);;CSV (*.csv)"
        )
        if not path:
            return
        try:
            res = E.export_log(self.ws, path, **self.filters())
        except KodomoError as e:
            return QMessageBox.warning(self, tr("操作ログ"), e.message_ja)
        QMessageBox.information(self, tr("操作ログ"), tr("{n} 件を出力しました。", n=res["entries"]))
        self.refresh()
