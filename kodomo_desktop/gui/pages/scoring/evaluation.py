"""「振り返り（評価）」: the screen's own evaluation of earlier rounds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ....core.errors import KodomoError
from ....core.scoring import service as S
from ...i18n import tr, tr_list

if TYPE_CHECKING:  # annotations only: the GUI gets its workspace from the caller
    from ....core.workspace import Workspace
    from .weights import WeightsEditor


# --- the screen's own evaluation ------------------------------------------------------------------------------------
class EvaluationPanel(QWidget):
    """振り返り: per indicator over the review rounds — with the item, flagged, reviewed, confirmed (受理相当 or
    support started) — the misses, and suggested weights a person loads into the editor, previews and adopts
    (never applied here). The core is ``core.scoring.evaluation``."""

    COLUMNS = ["指標", "該当", "抽出", "分類済み", "確認", "確認の割合", "注意"]
    SUG_COLUMNS = ["指標", "現在の点", "提案", "90％の範囲", "該当（うち確認）", "注意"]

    def __init__(self, ws: Workspace, editor: WeightsEditor | None = None, parent=None):
        super().__init__(parent)
        self.ws, self.editor = ws, editor
        self.result: dict | None = None
        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        self.run_btn = QPushButton(tr("振り返りラウンドから評価する"))
        self.run_btn.clicked.connect(lambda: self.run())
        row.addWidget(self.run_btn)
        self.load_btn = QPushButton(tr("提案を重みの編集に読み込む（プレビューしてから採用）"))
        self.load_btn.clicked.connect(lambda: self.load_suggestion())
        self.load_btn.setEnabled(False)
        row.addWidget(self.load_btn)
        row.addStretch(1)
        lay.addLayout(row)
        self.summary = QLabel(tr("ラウンドの分類と支援の記録から、指標ごとに抽出と確認の件数を数えます。"))
        self.summary.setWordWrap(True)
        lay.addWidget(self.summary)
        split = QSplitter(Qt.Vertical)
        self.table = QTableWidget()
        self.table.verticalHeader().setVisible(False)
        split.addWidget(self.table)
        self.sug = QTableWidget()
        self.sug.verticalHeader().setVisible(False)
        split.addWidget(self.sug)
        lay.addWidget(split, 1)
        note = QLabel(tr("提案は自動では使われません。件数が少ない指標は現在の点の近くにとどまります。"))
        note.setWordWrap(True)
        lay.addWidget(note)

    def run(self) -> dict | None:
        from ....core.scoring.evaluation import evaluation

        try:
            ev = evaluation(self.ws)
        except KodomoError as e:
            self.summary.setText(e.message_ja)
            self.result = None
            self.load_btn.setEnabled(False)
            return None
        self.result = ev
        sm = ev["summary"]
        share = sm["confirmed_captured_share"]
        self.summary.setText(
            tr(
                "ラウンド {r} 回・抽出 {f} 人・分類済み {v} 人・確認 {c} 人（うち抽出されていた {cf} 人{s}）・"
                "見逃し {m} 人。",
                r=sm["rounds"],
                f=sm["flagged"],
                v=sm["reviewed"],
                c=sm["confirmed"],
                cf=sm["confirmed_flagged"],
                s="" if share is None else f"・{100 * share:.0f}%",
                m=sm["misses"],
            )
            + " "
            + sm["caution"]
        )
        rows = sorted(
            (r for r in ev["rows"] if r["round_id"] == "all" and r["with_item"]),
            key=lambda r: (-(r["confirmed_share"] or 0), -r["with_item"]),
        )
        self._fill(
            self.table,
            self.COLUMNS,
            [
                [
                    r["label"],
                    str(r["with_item"]),
                    str(r["flagged"]),
                    str(r["reviewed"]),
                    str(r["confirmed"]),
                    "" if r["confirmed_share"] is None else f"{100 * r['confirmed_share']:.1f}%",
                    r["caution"],
                ]
                for r in rows
            ],
        )
        self._fill(
            self.sug,
            self.SUG_COLUMNS,
            [
                [
                    x["label"],
                    f"{x['current']:g}",
                    f"{x['suggested']:g}",
                    f"{x['low']:g}〜{x['high']:g}",
                    f"{x['with_item']}（{x['confirmed_with_item']}）",
                    x["caution"],
                ]
                for x in sm["suggested"]
            ],
        )
        self.load_btn.setEnabled(self.editor is not None and self.editor.editable)
        return ev

    @staticmethod
    def _fill(t: QTableWidget, cols: list[str], rows: list[list[str]]) -> None:
        t.clear()
        t.setColumnCount(len(cols))
        t.setHorizontalHeaderLabels([tr(c) for c in cols])
        t.setRowCount(len(rows))
        for r, vals in enumerate(rows):
            for c, v in enumerate(vals):
                t.setItem(r, c, QTableWidgetItem(tr_list(v)))
        t.resizeColumnsToContents()

    def load_suggestion(self) -> bool:
        """The suggestion into the weight editor and its preview: a person adopts it there, with a reason."""
        if self.result is None or self.editor is None or not self.editor.editable:
            return False
        from ....core.scoring.weights import strip_meta, validate_weights

        data = validate_weights(strip_meta(self.result["suggested_weights"]), S.catalogue())
        self.editor.show_data(data)
        self.editor.preview()
        self.editor.notice.info(
            tr(
                "町の結果からの提案を読み込みました（まだ採用していません）。プレビューを確かめ、理由を付けて採用してください。"
            )
        )
        return True
