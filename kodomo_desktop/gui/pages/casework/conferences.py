"""会議 → 会議・記録: a conference (batch of households, agenda, minutes with directions)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ....core.casework import service as C
from ....core.errors import KodomoError
from ...i18n import tr
from .common import DictTableModel, Notice, _date_edit, _msg, table_view
from .rounds import RoundsTab

if TYPE_CHECKING:  # annotations only: the GUI gets its workspace from the caller
    from ....core.workspace import Workspace


# --- 会議・記録 -------------------------------------------------------------------------------------------------------
class ConferencesTab(QWidget):
    def __init__(self, ws: Workspace, main, rounds_tab: RoundsTab):
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
        for k in C.CONFERENCE_KINDS:
            self.kind.addItem(tr(k), k)
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
            self.direction.addItem(tr(v), k)
        self.registration = QComboBox()  # 要対協: the stored value is the Japanese; only the text is translated
        self.registration.addItem(tr("（記録しない）"), None)
        for v in C.REGISTRATIONS:
            self.registration.addItem(tr(v), v)
        self.category = QComboBox()
        self.category.addItem(tr("（なし）"), None)
        for v in C.CATEGORIES:
            self.category.addItem(tr(v), v)
        self.registration.currentIndexChanged.connect(self._registration_changed)
        self._registration_changed()
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
        yotaikyo = QWidget()  # registration and category side by side: one form row (the page fits 1280×690)
        yl = QHBoxLayout(yotaikyo)
        yl.setContentsMargins(0, 0, 0, 0)
        yl.addWidget(self.registration, 1)
        yl.addWidget(self.category, 1)
        for label, w in (
            ("対象", self.item_label),
            ("支援要否", self.need),
            ("方向性", self.direction),
            ("要対協の登録・種別", yotaikyo),
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

    def _registration_changed(self, *_):
        """A 要対協 category goes with registering (登録する／継続) only."""
        on = self.registration.currentData() in ("登録する", "継続")
        if not on:
            self.category.setCurrentIndex(0)
        self.category.setEnabled(on)

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
        self.registration.setCurrentIndex(max(0, self.registration.findData(item.get("registration"))))
        self.category.setCurrentIndex(max(0, self.category.findData(item.get("category"))))
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
        kind = self.kind.currentData() or self.kind.currentText()
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
                registration=self.registration.currentData(),
                category=self.category.currentData(),
            )
        except KodomoError as e:
            self.notice.error(_msg(e))
            return False
        self.refresh()
        self.notice.info(tr("{name} の記録を保存しました。", name=item["name"]))
        return True
