"""会議 page: review rounds (classify with reasons), conferences (batch, agenda, minutes), progress records and
closing (終結), the local resources directory (接続先リスト), the funnel.

No modal dialog on the normal path: every form is inline and problems go to a notice label on the tab (so the page
can be driven from code and from tests). Work that may take more than a second (creating a round from a scoring
run, the funnel, the Excel export) runs through :mod:`kodomo_desktop.gui.ops`.
"""

from __future__ import annotations

from PySide6.QtCore import QDate, Qt
from PySide6.QtGui import QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...core.casework import service as C
from ...core.errors import KodomoError
from ..i18n import tr
from ..models import RowsModel

CAVEAT = "スコアは支援の要否を検討するためのきっかけであり、判定結果ではありません。"
YOTAIKYO_RULES = [
    ("continue", "要対協の登録児は「支援継続」として載せる"),
    ("exclude", "要対協の登録児は除く（支援中）"),
]


def _msg(e: BaseException) -> str:
    return getattr(e, "message_ja", None) or f"{type(e).__name__}: {e}"


class Notice(QLabel):
    """The tab's message line: problems in red, confirmations in green. Never a modal box."""

    def __init__(self):
        super().__init__("")
        self.setObjectName("caseworkNotice")
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Minimum)  # never squeezed by the tables below
        self.ok = False

    def error(self, text: str):
        self.ok = False
        self.setStyleSheet("color:#9C0006;font-weight:bold;background:#FFF0F0;padding:4px;")
        self._set(text)

    def info(self, text: str):
        self.ok = True
        self.setStyleSheet("color:#1E5E3A;background:#EEF8F1;padding:4px;")
        self._set(text)

    def clear_text(self):
        self.setStyleSheet("")
        self._set("")

    def _set(self, text: str):
        self.setText(text)
        # a word-wrapped label inside tabs and splitters gets squeezed to nothing: keep its full height
        if not text:
            self.setMinimumHeight(0)
            return
        fm = self.fontMetrics()
        avail = max(self.width() - 16, 600)
        lines = sum(max(1, -(-fm.horizontalAdvance(line) // avail)) for line in text.splitlines() or [""])
        self.setMinimumHeight(lines * fm.lineSpacing() + 14)


def _long(parent, title: str, fn, *args, **kwargs):
    """Run ``fn(*args, **kwargs)`` through gui.ops (progress after 300 ms, GUI keeps repainting); returns the
    result or raises the exception here."""
    from ..ops import call_with_progress

    return call_with_progress(parent, title, lambda progress, cancel: fn(*args, **kwargs), cancellable=False)


def _date_edit(days_ahead: int = 0) -> QDateEdit:
    d = QDateEdit(QDate.currentDate().addDays(days_ahead))
    d.setCalendarPopup(True)
    d.setDisplayFormat("yyyy-MM-dd")
    return d


class DictTableModel(RowsModel):
    """A read-only table over a list of dicts; columns are (key, Japanese header). Score bands, overdue rows and
    children decided in an earlier round are coloured."""

    def cell_background(self, row: dict, key: str):
        v = row.get(key)
        if key == "band":
            return {"高": QColor("#F8CBAD"), "中": QColor("#FFE699"), "低": QColor("#E2EFDA")}.get(v)
        if row.get("overdue"):
            return QColor("#F8CBAD")
        if key == "earlier_text" and v:
            return QColor("#E8EEF8")
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


def _labels_text(labels) -> str:
    return ", ".join(l["label"] for l in labels)


# --- レビューラウンド -------------------------------------------------------------------------------------------------
class RoundsTab(QWidget):
    def __init__(self, ws, main):
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
        self.round_info.setStyleSheet("color:#444444;")
        lay.addWidget(self.round_info)
        caveat = QLabel(tr(CAVEAT))
        caveat.setStyleSheet("color:#9C0006;")
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
            self.label.addItem(l["label"], l["key"])
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


# --- 会議・記録 -------------------------------------------------------------------------------------------------------
class ConferencesTab(QWidget):
    def __init__(self, ws, main, rounds_tab: RoundsTab):
        super().__init__()
        self.ws, self.main, self.rounds_tab = ws, main, rounds_tab
        self.detail: dict | None = None
        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        self.confs = QComboBox()
        self.confs.currentIndexChanged.connect(self.refresh)
        top.addWidget(QLabel(tr("会議")))
        top.addWidget(self.confs, 1)
        lay.addLayout(top)
        self.head = QLabel()
        self.head.setWordWrap(True)
        self.head.setStyleSheet("font-weight:bold;")
        self.head.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Minimum)
        self.head.setMinimumHeight(self.head.fontMetrics().lineSpacing() * 2 + 6)
        lay.addWidget(self.head)
        self.notice = Notice()
        lay.addWidget(self.notice)

        split = QSplitter(Qt.Horizontal)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        self.model = DictTableModel(
            [
                ("position", tr("順")),
                ("name", tr("氏名")),
                ("school", tr("学校・園")),
                ("support_needed", tr("支援要否")),
                ("direction_label", tr("方向性")),
                ("lead_organisation", tr("主担当")),
                ("roles_text", tr("役割分担")),
                ("actions", tr("支援内容")),
                ("next_review_on", tr("次回見直し")),
            ]
        )
        self.view = table_view(self.model)
        self.view.setSelectionMode(QAbstractItemView.SingleSelection)
        self.view.selectionModel().currentRowChanged.connect(lambda *_: self._load_item())
        ll.addWidget(self.view, 2)
        order = QHBoxLayout()
        up, down = QPushButton(tr("▲ 上へ")), QPushButton(tr("▼ 下へ"))
        up.clicked.connect(lambda: self.move(-1))
        down.clicked.connect(lambda: self.move(1))
        order.addWidget(QLabel(tr("議題の順番")))
        order.addWidget(up)
        order.addWidget(down)
        order.addStretch(1)
        self.new_toggle = QPushButton(tr("新しい会議を作成…"))
        self.new_toggle.setCheckable(True)
        self.new_toggle.toggled.connect(lambda on: self.new_box.setVisible(on))
        order.addWidget(self.new_toggle)
        ll.addLayout(order)

        new = self.new_box = QGroupBox(tr("新しい会議（レビューラウンドの候補から）"))
        nf = QFormLayout(new)
        self.kind = QComboBox()
        self.kind.addItems(C.CONFERENCE_KINDS)
        self.held_on = _date_edit()
        self.title_edit = QLineEdit()
        self.title_edit.setPlaceholderText(tr("例：9月 ケース会議"))
        self.place = QLineEdit()
        self.attendees = QPlainTextEdit()
        self.attendees.setPlaceholderText(tr("機関：役割（1行に1人）例）こども家庭センター：コーディネーター"))
        self.attendees.setPlainText("こども家庭センター：コーディネーター\n保健センター：保健師\n教育委員会：指導主事")
        self.attendees.setMaximumHeight(60)
        self.batch_size = QSpinBox()
        self.batch_size.setRange(1, 30)
        self.batch_size.setValue(5)
        suggest = QPushButton(tr("学校・園に分散して提案"))
        suggest.clicked.connect(self.suggest)
        self.proposal = QListWidget()
        self.proposal.setMaximumHeight(96)
        self.create_btn = QPushButton(tr("会議を作成（チェックした世帯）"))
        self.create_btn.clicked.connect(self.create_conference)
        row = QHBoxLayout()
        row.addWidget(self.batch_size)
        row.addWidget(QLabel(tr("世帯")))
        row.addWidget(suggest)
        nf.addRow(tr("種類"), self.kind)
        nf.addRow(tr("開催日"), self.held_on)
        nf.addRow(tr("名称"), self.title_edit)
        nf.addRow(tr("場所"), self.place)
        nf.addRow(tr("出席者"), self.attendees)
        nf.addRow(tr("取り上げる数"), row)
        nf.addRow(tr("提案"), self.proposal)
        nf.addRow(self.create_btn)
        ll.addWidget(new, 1)
        split.addWidget(left)

        right = QGroupBox(tr("会議の記録（選んだこども）"))
        mf = QFormLayout(right)
        self.item_label = QLabel(tr("議題からこどもを選んでください"))
        self.item_label.setWordWrap(True)
        self.need = QComboBox()
        for v in ["要", "不要", "継続検討"]:  # the Japanese is the stored value; only the text is translated
            self.need.addItem(tr(v), v)
        self.direction = QComboBox()
        self.direction.addItem(tr("（なし）"), None)
        for k, v in C.DIRECTIONS.items():
            self.direction.addItem(v, k)
        self.lead = QComboBox()
        self.lead.setEditable(True)
        self.roles = QPlainTextEdit()
        self.roles.setPlaceholderText(tr("機関：役割（1行に1機関）例）学校：登校の見守り"))
        self.roles.setMaximumHeight(80)
        self.actions = QPlainTextEdit()
        self.actions.setMaximumHeight(70)
        self.next_review = _date_edit(30)
        self.minutes = QPlainTextEdit()
        self.save_btn = QPushButton(tr("記録を保存"))
        self.save_btn.clicked.connect(self.save_minutes)
        for label, w in (
            ("対象", self.item_label),
            ("支援要否", self.need),
            ("方向性", self.direction),
            ("主担当機関", self.lead),
            ("各機関の役割", self.roles),
            ("支援内容・対応", self.actions),
            ("次回見直し日", self.next_review),
            ("会議記録", self.minutes),
        ):
            mf.addRow(tr(label), w)
        mf.addRow(self.save_btn)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        lay.addWidget(split, 1)
        self.load_resources()
        self.load()
        self.new_toggle.setChecked(self.confs.count() == 0)
        self.new_box.setVisible(self.confs.count() == 0)

    def load_resources(self):
        cur = self.lead.currentText()
        self.lead.clear()
        self.lead.addItem("")
        for n, r in enumerate(C.resources(self.ws), start=1):
            self.lead.addItem(r["name"], r["name"])
            self.lead.setItemData(n, r.get("category") or "", Qt.ToolTipRole)
        self.lead.setCurrentText(cur)

    def load(self, select_id=None):
        self.confs.blockSignals(True)
        self.confs.clear()
        for c in C.list_conferences(self.ws):
            self.confs.addItem(
                tr(
                    "{held_on} {kind} {title}（{n} 件）",
                    held_on=c["held_on"],
                    kind=c["kind"],
                    title=c["title"] or "",
                    n=c["items"],
                ),
                c["conference_id"],
            )
        if select_id:
            self.confs.setCurrentIndex(self.confs.findData(select_id))
        self.confs.blockSignals(False)
        self.refresh()

    def conference_id(self):
        return self.confs.currentData()

    def refresh(self):
        cid = self.conference_id()
        if not cid:
            self.detail = None
            self.model.set_rows([])
            self.head.setText(tr("会議はまだありません。下の「新しい会議」から作成してください。"))
            return
        keep = self.view.currentIndex().row()
        d = self.detail = C.conference_detail(self.ws, cid)
        schools = {i["school"] or "（学校・園なし）" for i in d["items"]}
        households = {i["household_id"] or i["person_id"] for i in d["items"]}
        att = "、".join(
            f"{a.get('organisation', '')}（{a.get('role', '')}）" if a.get("role") else a.get("organisation", "")
            for a in d["attendees"]
        )
        self.head.setText(
            f"{d['kind']}　{d['held_on']}　{d['title'] or ''}　{d['place'] or ''}\n"
            + tr(
                "{households} 世帯・{schools} 校／園　出席: {att}",
                households=len(households),
                schools=len(schools),
                att=att or "—",
            )
        )
        rows = []
        for i in d["items"]:
            rows.append(
                {
                    **i,
                    "position": i["position"] + 1,
                    "direction_label": C.DIRECTIONS.get(i["direction"] or "", ""),
                    "roles_text": "、".join(f"{r['organisation']}：{r['role']}" for r in (i["roles"] or [])),
                }
            )
        self.model.set_rows(rows)
        if 0 <= keep < len(rows):
            self.view.selectRow(keep)

    def select_person(self, person_id: str) -> bool:
        for n, r in enumerate(self.model.rows):
            if r["person_id"] == person_id:
                self.view.selectRow(n)
                return True
        return False

    def _current(self) -> dict | None:
        idx = self.view.currentIndex()
        return self.model.rows[idx.row()] if idx.isValid() and idx.row() < len(self.model.rows) else None

    def _load_item(self):
        item = self._current()
        if item is None:
            self.item_label.setText(tr("議題からこどもを選んでください"))
            return
        self.item_label.setText(
            tr("{name}（{school}）", name=item["name"], school=item["school"] or tr("学校・園なし"))
        )
        need = self.need.findData(item.get("support_needed") or "要")
        if need >= 0:
            self.need.setCurrentIndex(need)
        self.direction.setCurrentIndex(max(0, self.direction.findData(item.get("direction"))))
        self.lead.setCurrentText(item.get("lead_organisation") or "")
        self.roles.setPlainText("\n".join(f"{r['organisation']}：{r['role']}" for r in (item.get("roles") or [])))
        self.actions.setPlainText(item.get("actions") or "")
        if item.get("next_review_on"):
            self.next_review.setDate(QDate(item["next_review_on"]))
        self.minutes.setPlainText(item.get("minutes") or "")

    # -- actions ----------------------------------------------------------------------------------------------------
    def suggest(self) -> list[str]:
        rid = self.rounds_tab.round_id()
        self.proposal.clear()
        if not rid:
            self.notice.error(tr("先にレビューラウンドを作成してください。"))
            return []
        try:
            ids = C.suggest_batch(self.ws, rid, self.batch_size.value())
            cands = {c["person_id"]: c for c in C.round_candidates(self.ws, rid)}
        except KodomoError as e:
            self.notice.error(_msg(e))
            return []
        for pid in ids:
            c = cands.get(pid, {})
            it = QListWidgetItem(
                tr(
                    "{name}　{school}　{total} 点",
                    name=c.get("name", pid),
                    school=c.get("school") or tr("学校・園なし"),
                    total=c.get("total", ""),
                )
            )
            it.setData(Qt.UserRole, pid)
            it.setFlags(it.flags() | Qt.ItemIsUserCheckable)
            it.setCheckState(Qt.Checked)
            self.proposal.addItem(it)
        schools = {cands.get(p, {}).get("school") or "（なし）" for p in ids}
        self.notice.info(
            tr(
                "{n} 世帯を {schools} 校／園から提案しました。外す世帯はチェックを外してください。",
                n=len(ids),
                schools=len(schools),
            )
        )
        return ids

    def proposed(self) -> list[str]:
        return [
            self.proposal.item(i).data(Qt.UserRole)
            for i in range(self.proposal.count())
            if self.proposal.item(i).checkState() == Qt.Checked
        ]

    def create_conference(self) -> int | None:
        rid = self.rounds_tab.round_id()
        ids = self.proposed()
        if not ids:
            self.notice.error(tr("取り上げるこどもがいません。「学校・園に分散して提案」を押してください。"))
            return None
        kind = self.kind.currentText()
        held = self.held_on.date().toPython()
        try:
            cid = C.create_conference(
                self.ws,
                kind,
                held,
                title=self.title_edit.text().strip() or f"{kind}（{held:%Y年%m月}）",
                place=self.place.text().strip() or None,
                attendees=C.parse_roles(self.attendees.toPlainText()),
                round_id=rid,
                person_ids=ids,
            )
        except KodomoError as e:
            self.notice.error(_msg(e))
            return None
        self.proposal.clear()
        self.load(cid)
        self.new_toggle.setChecked(False)
        self.notice.info(tr("{kind}を作成しました（{n} 件）。議題を選んで記録してください。", kind=kind, n=len(ids)))
        return cid

    def move(self, step: int):
        cid, item = self.conference_id(), self._current()
        if not cid or item is None:
            return
        order = [r["person_id"] for r in self.model.rows]
        i = order.index(item["person_id"])
        j = i + step
        if not 0 <= j < len(order):
            return
        order[i], order[j] = order[j], order[i]
        try:
            C.reorder(self.ws, cid, order)
        except KodomoError as e:
            return self.notice.error(_msg(e))
        self.refresh()
        self.view.selectRow(j)

    def save_minutes(self) -> bool:
        cid, item = self.conference_id(), self._current()
        if not cid or item is None:
            self.notice.error(tr("記録するこどもを議題から選んでください。"))
            return False
        lead = self.lead.currentText()
        try:
            C.record_minutes(
                self.ws,
                cid,
                item["person_id"],
                support_needed=self.need.currentData(),
                direction=self.direction.currentData(),
                lead_organisation=(lead or "").strip() or None,
                roles=C.parse_roles(self.roles.toPlainText()),
                actions=self.actions.toPlainText().strip() or None,
                next_review_on=self.next_review.date().toPython(),
                minutes=self.minutes.toPlainText().strip() or None,
            )
        except KodomoError as e:
            self.notice.error(_msg(e))
            return False
        self.refresh()
        self.notice.info(tr("{name} の記録を保存しました。", name=item["name"]))
        return True


# --- 経過記録・終結 ---------------------------------------------------------------------------------------------------
class ProgressTab(QWidget):
    def __init__(self, ws, main):
        super().__init__()
        self.ws, self.main = ws, main
        lay = QVBoxLayout(self)
        self.notice = Notice()
        lay.addWidget(self.notice)
        split = QSplitter(Qt.Horizontal)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(QLabel(tr("2週間以内の予定（期限切れは赤）")))
        self.model = DictTableModel(
            [("due_on", tr("期日")), ("name", tr("氏名")), ("what", tr("内容")), ("detail", tr("詳細"))]
        )
        self.view = table_view(self.model)
        self.view.setSelectionMode(QAbstractItemView.SingleSelection)
        self.view.clicked.connect(lambda i: self.set_person(self.model.rows[i.row()]["person_id"]))
        ll.addWidget(self.view, 1)
        ll.addWidget(QLabel(tr("進行中の支援")))
        self.cases = DictTableModel(
            [
                ("opened_on", tr("開始")),
                ("name", tr("氏名")),
                ("lead_organisation", tr("主担当")),
                ("next_action_on", tr("次回対応")),
                ("still_flagged", tr("最新スコアで抽出")),
            ]
        )
        self.cases_view = table_view(self.cases)
        self.cases_view.setSelectionMode(QAbstractItemView.SingleSelection)
        self.cases_view.clicked.connect(lambda i: self.set_person(self.cases.rows[i.row()]["person_id"]))
        ll.addWidget(self.cases_view, 1)
        split.addWidget(left)

        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        box = QGroupBox(tr("経過記録を追加"))
        f = QFormLayout(box)
        self.person = QLineEdit()
        self.person.setPlaceholderText(tr("整理番号（例：P000123）— 左の一覧を選ぶと入ります"))
        self.on = _date_edit()
        self.kind = QComboBox()
        self.kind.addItems(C.PROGRESS_KINDS)
        self.who = QLineEdit()
        self.who.setPlaceholderText(tr("例：保健師（保健センター）"))
        self.what = QPlainTextEdit()
        self.what.setMaximumHeight(80)
        self.outcome = QLineEdit()
        self.next_action = _date_edit(14)
        self.add_btn = QPushButton(tr("記録を保存"))
        self.add_btn.clicked.connect(self.add_progress)
        for l, w in (
            ("こども", self.person),
            ("日付", self.on),
            ("種類", self.kind),
            ("対応者", self.who),
            ("内容", self.what),
            ("結果", self.outcome),
            ("次回対応日", self.next_action),
        ):
            f.addRow(tr(l), w)
        f.addRow(self.add_btn)
        rl.addWidget(box)
        close = QGroupBox(tr("支援の終結"))
        cf = QFormLayout(close)
        self.close_reason = QLineEdit()
        self.close_reason.setPlaceholderText(tr("終結の理由（必須）"))
        self.close_btn = QPushButton(tr("終結する"))
        self.close_btn.clicked.connect(self.close_case)
        cf.addRow(tr("理由"), self.close_reason)
        cf.addRow(self.close_btn)
        rl.addWidget(close)
        rl.addStretch(1)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        lay.addWidget(split, 1)
        self.refresh()

    def refresh(self):
        self.model.set_rows(C.due_list(self.ws))
        self.cases.set_rows(C.open_cases(self.ws))

    def set_person(self, person_id: str):
        self.person.setText(person_id)

    def add_progress(self) -> int | None:
        pid = self.person.text().strip()
        if not pid:
            self.notice.error(tr("こどもを選ぶか、整理番号を入力してください。"))
            return None
        try:
            rec = C.add_progress(
                self.ws,
                pid,
                self.on.date().toPython(),
                self.kind.currentText(),
                who=self.who.text().strip() or None,
                what=self.what.toPlainText(),
                outcome=self.outcome.text().strip() or None,
                next_action_on=self.next_action.date().toPython(),
            )
        except KodomoError as e:
            self.notice.error(_msg(e))
            return None
        self.what.clear()
        self.outcome.clear()
        self.refresh()
        self.notice.info(tr("経過記録（{kind}）を保存しました。", kind=self.kind.currentText()))
        return rec

    def close_case(self) -> dict | None:
        pid = self.person.text().strip()
        if not pid:
            self.notice.error(tr("終結するこどもを選んでください。"))
            return None
        try:
            res = C.close_case(self.ws, pid, self.close_reason.text())
        except KodomoError as e:
            self.notice.error(_msg(e))
            return None
        self.close_reason.clear()
        self.refresh()
        if res["warning"]:
            self.notice.error(tr("終結しました。") + res["warning"])
        else:
            self.notice.info(tr("終結しました。最新のスコアでは抽出対象ではありません。"))
        return res


# --- 接続先リスト -------------------------------------------------------------------------------------------------------
class ResourcesTab(QWidget):
    def __init__(self, ws, main, on_change=None):
        super().__init__()
        self.ws, self.on_change = ws, on_change
        self.current_id: int | None = None
        lay = QHBoxLayout(self)
        left = QVBoxLayout()
        left.addWidget(QLabel(tr("地域の接続先（方向性・主担当機関を選ぶときに使います）")))
        self.model = DictTableModel(
            [
                ("name", tr("名称")),
                ("category", tr("分野")),
                ("contact", tr("連絡先")),
                ("note", tr("備考")),
                ("active", tr("使用中")),
            ]
        )
        self.view = table_view(self.model)
        self.view.setSelectionMode(QAbstractItemView.SingleSelection)
        self.view.clicked.connect(lambda i: self.edit(self.model.rows[i.row()]))
        left.addWidget(self.view)
        lay.addLayout(left, 3)
        box = QGroupBox(tr("接続先の編集"))
        f = QFormLayout(box)
        self.name, self.category, self.contact, self.note = QLineEdit(), QLineEdit(), QLineEdit(), QLineEdit()
        self.active = QCheckBox(tr("使用中"))
        self.active.setChecked(True)
        new = QPushButton(tr("新規"))
        new.clicked.connect(lambda: self.edit(None))
        save = QPushButton(tr("保存"))
        save.clicked.connect(self.save)
        for l, w in (
            ("名称", self.name),
            ("分野", self.category),
            ("連絡先", self.contact),
            ("備考", self.note),
            ("", self.active),
        ):
            f.addRow(tr(l), w)
        row = QHBoxLayout()
        row.addWidget(new)
        row.addWidget(save)
        f.addRow(row)
        self.notice = Notice()
        f.addRow(self.notice)
        lay.addWidget(box, 2)
        self.refresh()

    def refresh(self):
        self.model.set_rows(C.resources(self.ws, include_inactive=True))

    def edit(self, row: dict | None):
        row = row or {}
        self.current_id = row.get("id")
        self.name.setText(row.get("name") or "")
        self.category.setText(row.get("category") or "")
        self.contact.setText(row.get("contact") or "")
        self.note.setText(row.get("note") or "")
        self.active.setChecked(row.get("active", True))

    def save(self) -> int | None:
        try:
            rid = C.save_resource(
                self.ws,
                self.name.text(),
                self.category.text().strip() or None,
                self.contact.text().strip() or None,
                self.note.text().strip() or None,
                resource_id=self.current_id,
                active=self.active.isChecked(),
            )
        except KodomoError as e:
            self.notice.error(_msg(e))
            return None
        self.current_id = rid
        self.refresh()
        self.notice.info(tr("保存しました。"))
        if self.on_change:
            self.on_change()
        return rid


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
        colours = ["#9DC3E6", "#5B9BD5", "#2E75B6", "#1F4E79", "#548235"]
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
    def __init__(self, ws, main, rounds_tab):
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


class CaseworkPage(QWidget):
    def __init__(self, ws, main_window=None):
        super().__init__()
        self.ws, self.main = ws, main_window
        lay = QVBoxLayout(self)
        self.tabs = QTabWidget()
        self.rounds = RoundsTab(ws, main_window)
        self.conferences = ConferencesTab(ws, main_window, self.rounds)
        self.progress = ProgressTab(ws, main_window)
        self.due = self.progress  # older name
        self.resources = ResourcesTab(ws, main_window, on_change=self.conferences.load_resources)
        self.funnel = FunnelTab(ws, main_window, self.rounds)
        self.tabs.addTab(self.rounds, tr("レビューラウンド"))
        self.tabs.addTab(self.conferences, tr("会議・記録"))
        self.tabs.addTab(self.progress, tr("経過記録・終結"))
        self.tabs.addTab(self.resources, tr("接続先リスト"))
        self.tabs.addTab(self.funnel, tr("ファネル"))
        self.tabs.currentChanged.connect(self._on_tab)
        lay.addWidget(self.tabs)

    def _on_tab(self, i):
        w = self.tabs.widget(i)
        if hasattr(w, "refresh"):
            w.refresh()

    def page_shown(self):
        if not self.ws.locked:
            self._on_tab(self.tabs.currentIndex())
