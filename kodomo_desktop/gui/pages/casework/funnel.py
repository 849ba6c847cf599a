"""会議 → ファネル: how many children reach each stage of a round; Excel export."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ....core.casework import service as C
from ....core.errors import KodomoError
from ... import palette as pal
from ...i18n import tr
from .common import DictTableModel, Notice, _long, _msg, table_view

if TYPE_CHECKING:  # annotations only: the GUI gets its workspace from the caller
    from ....core.workspace import Workspace


# --- ファネル ---------------------------------------------------------------------------------------------------------
class FunnelChart(QWidget):
    """A small horizontal bar chart of the funnel stages."""

    def __init__(self):
        super().__init__()
        self.stages = []
        self.setMinimumHeight(170)

    def set_stages(self, stages):
        self.stages = stages or []
        self.update()

    def paintEvent(self, _):
        from PySide6.QtGui import QPainter

        p = QPainter(self)
        if not self.stages:
            p.drawText(10, 20, tr("ラウンドがまだありません"))
            return
        top = max(s["count"] for s in self.stages) or 1
        w = max(40, self.width() - 200)
        colours = [pal.FUNNEL_1, pal.FUNNEL_2, pal.CHART_BLUE, pal.FUNNEL_4, pal.FUNNEL_5]
        for i, s in enumerate(self.stages):
            y = 8 + i * 30
            p.drawText(10, y + 17, s["label"])
            bar = max(2, int(w * s["count"] / top)) if s["count"] else 0
            p.fillRect(110, y, bar, 22, QColor(colours[i % len(colours)]))
            p.drawText(118 + bar, y + 17, tr("{n} 人", n=s["count"]))
        p.end()


def funnel_rows(f: dict) -> list[dict]:
    zero = {k: 0 for k, _ in FUNNEL_COLUMNS[1:]}
    return [{"group": g, **zero, **c} for g, c in f["by_school"].items()] + [
        {"group": tr("［年齢］{band}", band=g), **zero, **c} for g, c in f["by_age_band"].items()
    ]


FUNNEL_COLUMNS = [
    ("group", "学校・園 / 年齢区分"),
    ("in_scope", "対象"),
    ("flagged", "抽出"),
    ("classified", "分類済み"),
    ("discussed", "会議で検討"),
    ("supported", "支援開始"),
]


def export_funnel(parent, ws, round_id: int, path: str | None = None) -> str | None:
    """Excel export of a round's funnel through gui.ops; without ``path`` a save dialog asks for one."""
    if not path:
        path, _ = QFileDialog.getSaveFileName(parent, tr("ファネルを出力"), "funnel.xlsx", "Excel (*.xlsx)")
        if not path:
            return None
    _long(parent, tr("ファネルを Excel に出力"), C.funnel_to_excel, ws, round_id, path)
    return path


class FunnelTab(QWidget):
    def __init__(self, ws: Workspace, main, rounds_tab):
        super().__init__()
        self.ws, self.rounds_tab = ws, rounds_tab
        self.last: dict | None = None
        lay = QVBoxLayout(self)
        bar = QHBoxLayout()
        upd = QPushButton(tr("更新"))
        upd.clicked.connect(self.refresh)
        exp = QPushButton(tr("Excel に出力…"))
        exp.clicked.connect(lambda: self.export())
        self.title = QLabel(tr("対象 → 抽出 → 分類済み → 会議で検討 → 支援開始"))
        self.title.setStyleSheet("font-weight:bold;")
        bar.addWidget(self.title)
        bar.addStretch(1)
        bar.addWidget(upd)
        bar.addWidget(exp)
        lay.addLayout(bar)
        self.notice = Notice()
        lay.addWidget(self.notice)
        self.chart = FunnelChart()
        lay.addWidget(self.chart)
        self.model = DictTableModel([(k, tr(h)) for k, h in FUNNEL_COLUMNS])
        lay.addWidget(table_view(self.model), 1)

    def refresh(self):
        rid = self.rounds_tab.round_id()
        if not rid:
            self.chart.set_stages([])
            self.model.set_rows([])
            return
        try:
            f = self.last = _long(self, tr("ファネルの集計"), C.funnel, self.ws, rid)
        except KodomoError as e:
            return self.notice.error(_msg(e))
        self.title.setText(
            tr(
                "{name}（{as_of} 時点）: 対象 → 抽出 → 分類済み → 会議で検討 → 支援開始",
                name=f["name"],
                as_of=f["as_of"],
            )
        )
        self.chart.set_stages(f["stages"])
        self.model.set_rows(funnel_rows(f))

    def export(self, path: str | None = None) -> str | None:
        rid = self.rounds_tab.round_id()
        if not rid:
            self.notice.error(tr("先にレビューラウンドを作成してください。"))
            return None
        try:
            out = export_funnel(self, self.ws, rid, path)
        except KodomoError as e:
            self.notice.error(_msg(e))
            return None
        except OSError as e:
            self.notice.error(tr("保存できませんでした: {e}", e=e))
            return None
        if out:
            self.notice.info(tr("出力しました: {path}", path=out))
        return out
