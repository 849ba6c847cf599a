"""使い方: the monthly cycle, step by step (取込 → 名寄せ → スコア → レビューラウンド → 会議 → 帳票), each step with
what to do there and a picture of that very screen drawn live from the app (this town's own data, as the user's
role sees it), and a button that opens it. No images are shipped: the picture is the page itself, so it never goes
out of date."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from .. import palette as pal
from ..i18n import tr
from ..widgets import hint, title
from . import allowed, spec

if TYPE_CHECKING:  # annotations only: the GUI gets its workspace from the caller
    from ...core.workspace import Workspace


@dataclass(frozen=True)
class Step:
    title: str
    page: str  # the page key
    tab: int | None  # the tab to show on that page
    text: str


STEPS = [
    Step(
        "1. 取込",
        "import",
        None,
        "各課から届いたファイル（CSV・Excel）を取り込みます。最初に住民基本台帳、次に各課のファイルです。"
        "「ファイルを選ぶ」→ 取込元と列の対応を確かめる →「検証する」→「取り込む」。問題のある行は理由つきで除外され、"
        "取込の履歴から取り消すこともできます。",
    ),
    Step(
        "2. 名寄せ",
        "linkage",
        None,
        "取り込んだ記録を住民基本台帳のこどもに結びつけます。「名寄せを実行」のあと、自動で決められなかった"
        "「確認待ち」を一件ずつ比べて、同一人物 (A)・別人 (R)・台帳にいない (N)・保留 (S) を判断します。"
        "判断は Ctrl+Z で取り消せます。",
    ),
    Step(
        "3. スコア",
        "scoring",
        0,
        "支援を検討するきっかけとなる項目と重みで、こどもごとのスコアを算出します。「スコアを算出」を押し、"
        "一覧で理由を確かめます。スコアは判定結果ではありません。重みを変えるときは「重み・しきい値」で"
        "プレビューしてから採用し、採用後にもう一度算出します。",
    ),
    Step(
        "4. レビューラウンド",
        "conference",
        0,
        "スコアの抽出からレビューラウンドを作り、一人ずつ「受理相当」「予防的支援」「経過観察」「対象外」に分類します。"
        "分類には理由が必要です。全員を分類したらラウンドを締め切ります。",
    ),
    Step(
        "5. 会議",
        "conference",
        1,
        "分類したこどもを世帯ごとに会議にかけ、議事（支援要否・方向性・主担当）を記録します。"
        "その後の経過は「経過記録・終結」に記録します。",
    ),
    Step(
        "6. 帳票",
        "print",
        None,
        "会議資料・アセスメントシート・学校用シートなどをプレビューし、印刷または PDF で保存します。"
        "学校向けの帳票には、福祉のみの情報は載りません。",
    ),
]


class HelpPage(QWidget):
    def __init__(self, ws: Workspace, main=None):
        super().__init__()
        self.ws, self.main = ws, main
        lay = QVBoxLayout(self)
        lay.addWidget(title(tr("使い方 — 毎月の流れ")))
        lay.addWidget(
            hint(
                tr(
                    "毎月（または学期ごと）の作業は、左の順に進みます。手順を選ぶと、その画面（この町のデータ）と"
                    "やることが表示されます。「この画面を開く」でそのページへ移ります。"
                )
            )
        )
        body = QHBoxLayout()
        lay.addLayout(body, 1)
        self.steps = QListWidget()
        self.steps.setObjectName("helpSteps")
        for st in STEPS:
            self.steps.addItem(QListWidgetItem(tr(st.title)))
        self.steps.setFixedWidth(190)
        self.steps.setStyleSheet("font-size:11pt;")
        body.addWidget(self.steps)
        right = QVBoxLayout()
        self.step_title = QLabel()
        self.step_title.setStyleSheet("font-size:13pt;font-weight:bold;")
        right.addWidget(self.step_title)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextSelectableByMouse)
        right.addWidget(self.text)
        row = QHBoxLayout()
        self.open_btn = QPushButton(tr("この画面を開く"))
        self.open_btn.clicked.connect(self.open_current)
        self.next_btn = QPushButton(tr("次の手順へ"))
        self.next_btn.clicked.connect(lambda: self.steps.setCurrentRow(min(len(STEPS) - 1, self.current() + 1)))
        row.addWidget(self.open_btn)
        row.addWidget(self.next_btn)
        row.addStretch(1)
        right.addLayout(row)
        self.picture = QLabel()
        self.picture.setObjectName("helpPicture")
        self.picture.setAlignment(Qt.AlignLeft | Qt.AlignTop)
        self.picture.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Ignored)
        self.picture.setStyleSheet(f"#helpPicture {{ border:1px solid {pal.CARD_BORDER}; background:{pal.CARD_BG}; }}")
        right.addWidget(self.picture, 1)
        body.addLayout(right, 1)
        self.steps.currentRowChanged.connect(self.show_step)
        self.steps.setCurrentRow(0)

    def current(self) -> int:
        return max(0, self.steps.currentRow())

    def usable(self, st: Step) -> bool:
        try:
            return allowed(self.ws, spec(st.page))
        except KeyError:
            return False

    def show_step(self, i: int) -> None:
        if not 0 <= i < len(STEPS):
            return
        st = STEPS[i]
        self.step_title.setText(tr(st.title))
        ok = self.usable(st)
        self.text.setText(tr(st.text) + ("" if ok else "\n" + tr("（この役割ではこの画面を使えません。）")))
        self.open_btn.setEnabled(ok and self.main is not None)
        self.next_btn.setEnabled(i < len(STEPS) - 1)
        self.picture.setPixmap(QPixmap())
        self.picture.setText("")
        if ok:
            self.picture.setPixmap(self.screen_picture(st))

    def _page(self, key: str):
        """The built page (built now if needed, without leaving this page)."""
        pages = getattr(self.main, "pages", {})
        if key in pages:
            return pages[key]
        here = self.main.current_key() if hasattr(self.main, "current_key") else None
        page = self.main.show_page(key)
        if here:
            self.main.show_page(here)
        return page

    def screen_picture(self, st: Step) -> QPixmap:
        """The step's page drawn now as it stands in the window, scaled to fit the picture area."""
        self._full = QPixmap()
        if self.main is None or self.ws.locked:
            return self._full
        page = self._page(st.page)
        if page is None:
            return self._full
        tabs = getattr(page, "tabs", None)
        keep = tabs.currentIndex() if tabs is not None else None
        if tabs is not None and st.tab is not None:
            tabs.setCurrentIndex(st.tab)
        self._full = page.grab()
        if tabs is not None and keep is not None:
            tabs.setCurrentIndex(keep)
        return self._scaled()

    def _scaled(self) -> QPixmap:
        full = getattr(self, "_full", None)
        if full is None or full.isNull():
            return QPixmap()
        room = self.picture.size()
        if room.width() < 100 or room.height() < 100:
            room = QSize(760, 420)
        return full.scaled(room, Qt.KeepAspectRatio, Qt.SmoothTransformation)

    def resizeEvent(self, e):
        super().resizeEvent(e)
        self.picture.setPixmap(self._scaled())

    def page_shown(self) -> None:
        self.show_step(self.current())

    def open_current(self) -> None:
        st = STEPS[self.current()]
        if self.main is None or not self.usable(st):
            return
        self.main.show_page(st.page)
        page = self.main.page(st.page)
        tabs = getattr(page, "tabs", None)
        if tabs is not None and st.tab is not None:
            tabs.setCurrentIndex(st.tab)
