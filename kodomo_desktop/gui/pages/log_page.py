"""操作ログ (the coordinator and the auditor): the access log newest first, its chain state (the first broken entry
when someone has edited the table), filters by user, action, child and period, export to CSV/Excel (logged).

Hundreds of thousands of entries: the list fetches a page at a time as it scrolls (``LazyRowsModel`` over
``audit.export.log_count``/``log_page``: filtered, counted and ordered in SQL), and a long chain is verified on a
worker thread (the page stays responsive; the state line says so meanwhile)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QThread, Signal
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
from ..models import LazyRowsModel
from ..widgets import audit_copy_label, table_view

if TYPE_CHECKING:  # annotations only: the GUI gets its workspace from the caller
    from ...core.workspace import Workspace

#: up to this many entries the chain is verified at once (about 0.1 s); a longer log is verified on a worker thread
CHAIN_SYNC_MAX = 20_000


class _ChainCheck(QThread):
    """Verifies the hash chain off the GUI thread; ``checked(report or exception)`` on the GUI thread."""

    checked = Signal(object)

    def __init__(self, ws: Workspace, parent=None):
        super().__init__(parent)
        self.ws = ws

    def run(self):
        try:
            rep = E.chain_state(self.ws)
        except Exception as e:  # the key locked meanwhile, a read error: reported, never lost
            rep = e
        self.checked.emit(rep)


class LogPage(QWidget):
    def __init__(self, ws: Workspace, main_window=None):
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
        self.copy_date = audit_copy_label(ws)  # an auditor: as of when the copy of the town's log is
        if self.copy_date is not None:
            lay.addWidget(self.copy_date)
        bar = QHBoxLayout()
        self.user = QLineEdit()
        self.user.setPlaceholderText(tr("利用者"))
        self.action = QComboBox()
        self.action.addItem(tr("（すべての操作）"), None)
        for k, v in A.ACTION_LABELS.items():
            self.action.addItem(tr(v), k)
        self.person = QLineEdit()
        self.person.setPlaceholderText(tr("整理番号（P…）"))
        self.since = QLineEdit()
        self.since.setPlaceholderText(tr("開始日 YYYY-MM-DD"))
        self.until = QLineEdit()
        self.until.setPlaceholderText(tr("終了日 YYYY-MM-DD"))
        go = QPushButton(tr("絞り込む"))
        go.clicked.connect(lambda: self.refresh())
        exp = QPushButton(tr("出力…"))
        exp.clicked.connect(self.export)
        for w in (self.user, self.action, self.person, self.since, self.until, go, exp):
            bar.addWidget(w)
        lay.addLayout(bar)
        self.model = LazyRowsModel(
            [
                ("seq", tr("番号")),
                ("at", tr("日時"), lambda v, r: when(v)),
                ("user", tr("利用者")),
                ("label", tr("操作")),
                ("person_id", tr("整理番号")),
                ("detail", tr("詳細"), lambda v, r: describe(v)),
            ],
            lambda **f: E.log_count(self.ws, **f),
            lambda limit, offset, order, desc, **f: E.log_page(self.ws, limit, offset, order, desc, **f),
            self,
            # in time order either way, or by 操作 / 整理番号 (their indexes hold the entry number: in SQL, a page at a
            # time). Not by 利用者: no index sorts 300,000 entries by it (the user filter narrows the list instead)
            sort_keys={"seq": "seq", "at": "seq", "label": "action", "person_id": "person_id"},
            order="seq",
            descending=True,
        )
        self.view = table_view(self.model)
        # ResizeToContents would read every row to size the columns: fixed widths, the details stretch
        hdr = self.view.horizontalHeader()
        hdr.setSectionResizeMode(hdr.ResizeMode.Interactive)
        for i, w in enumerate((80, 170, 110, 170, 100)):
            self.view.setColumnWidth(i, w)
        self.view.setSortingEnabled(True)
        hdr.setSortIndicator(0, Qt.DescendingOrder)
        self.count = QLabel()
        self.chain_report = None
        self._checked_total = -1
        self._check: _ChainCheck | None = None
        lay.addWidget(self.count)
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
        self.refresh(check=True)

    def filters(self):
        return dict(
            user=self.user.text().strip() or None,
            action=self.action.currentData(),
            person_id=self.person.text().strip() or None,
            since=self.since.text().strip() or None,
            until=self.until.text().strip() or None,
        )

    def refresh(self, check: bool = False):
        """The list with the filters on screen; the chain is verified again when asked (opening the page) or when
        entries were added since the last check (a filter alone re-reads the list only)."""
        if self.ws.locked:
            return
        try:
            n = self.model.set_filters(**self.filters())
        except KodomoError as e:
            return QMessageBox.warning(self, tr("操作ログ"), e.message_ja)
        total = E.log_count(self.ws)
        self.count.setText(tr("{n} 件", n=n) if n == total else tr("{total} 件中 {n} 件", total=total, n=n))
        if check or total != self._checked_total:
            self._checked_total = total
            self.check_chain(total)

    def check_chain(self, entries: int | None = None):
        """Verify the chain: at once for a short log, on a worker thread for a long one."""
        if entries is None:
            entries = E.log_count(self.ws)
        if entries <= CHAIN_SYNC_MAX:
            return self._show_chain(E.chain_state(self.ws))
        if self._check is not None and self._check.isRunning():
            return None
        self.chain.setText(tr("連鎖の検査中… （全 {n} 件）", n=entries))
        self.chain.setStyleSheet(f"color:{pal.MUTED};")
        self._check = _ChainCheck(self.ws, self)
        self._check.checked.connect(self._show_chain)
        self._check.start()
        return None

    def _show_chain(self, rep):
        if isinstance(rep, BaseException):
            self.chain.setText(getattr(rep, "message_ja", None) or tr("連鎖を検査できませんでした。"))
            self.chain.setStyleSheet(f"color:{pal.ERROR_STRONG};font-weight:bold;")
            return
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
