"""The child page: identity, household members (relationship, name, age; siblings marked), and every record linked
to the child on a timeline — date, source and its department, file name and as-of date, key fields, the identity
as the department wrote it, and the raw columns that were not mapped. Records of the household's other members
can be shown beside them (a flag on one sibling must be visible on the others).

Reads go through ``core.persons.child_page`` (permission-checked, logged as view_person with counts only).
A second tab, 支援の経過（カルテ）, lists every event from ``core.casework.service.timeline`` — linked records, score
runs, classifications, conference decisions, progress records, support start/終結, notes — each with its source;
a small chart shows the child's score over the scoring runs, and free-text notes are added inline (no dialog).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...core import persons as P
from ...core.errors import KodomoError
from .. import palette as pal
from ..format import day
from ..i18n import Message, label_of, reason_value, tr, tr_list, translate
from ..widgets import Notice

if TYPE_CHECKING:  # annotations only: the GUI gets its workspace from the caller
    from ...core.workspace import Workspace

BAND_COLOURS = {"高": pal.TINT_SALMON, "中": pal.TINT_GOLD, "低": pal.TINT_GREEN}
NOTE = "スコアは支援の要否を検討するためのきっかけであり、判定結果ではありません。"


def _label(text: str, style: str = "") -> QLabel:
    lab = QLabel(text)
    lab.setTextInteractionFlags(Qt.TextSelectableByMouse)
    if style:
        lab.setStyleSheet(style)
    return lab


class ChildView(QWidget):
    def __init__(self, ws: Workspace, back=None, open_person=None):
        super().__init__()
        self.ws = ws
        self.page: P.ChildPage | None = None
        self.person_id: str | None = None
        self._open_person = open_person
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 4)

        # title row
        bar = QHBoxLayout()
        self.back_button = QPushButton(tr("← 一覧へ戻る") + " (Esc)")
        if back is not None:
            self.back_button.clicked.connect(back)
            QShortcut(QKeySequence(Qt.Key_Escape), self, activated=back, context=Qt.WidgetWithChildrenShortcut)
            QShortcut(QKeySequence("Alt+Left"), self, activated=back, context=Qt.WidgetWithChildrenShortcut)
        bar.addWidget(self.back_button)
        self.title = _label("", "font-size:18pt;font-weight:bold;")
        bar.addWidget(self.title)
        self.kana = _label("", f"font-size:12pt;color:{pal.TEXT_DARK};")
        bar.addWidget(self.kana)
        bar.addStretch(1)
        self.badges = QLabel()
        bar.addWidget(self.badges)
        lay.addLayout(bar)

        # identity
        ident = QFrame()
        ident.setObjectName("identity")
        ident.setStyleSheet(
            f"#identity {{ background:{pal.CARD_BG}; border:1px solid {pal.CARD_BORDER}; border-radius:4px; }}"
        )
        self.grid = QGridLayout(ident)
        self.grid.setHorizontalSpacing(18)
        self.fields: dict[str, QLabel] = {}
        spec = [
            ("birth", "生年月日"),
            ("age", "年齢"),
            ("sex", "性別"),
            ("resident_no", "宛名番号"),
            ("school", "学校・学年"),
            ("relationship", "続柄"),
            ("household_no", "世帯番号"),
            ("address", "住所"),
            ("person_id", "整理番号"),
        ]
        for n, (key, label) in enumerate(spec):
            r, c = divmod(n, 3)
            self.grid.addWidget(_label(tr(label), f"color:{pal.LABEL};"), r, c * 2)
            v = _label("")
            self.fields[key] = v
            self.grid.addWidget(v, r, c * 2 + 1)
        for c in (1, 3, 5):
            self.grid.setColumnStretch(c, 1)
        lay.addWidget(ident)
        self.banner = _label("", f"background:{pal.BANNER_BG};border:1px solid {pal.BANNER_BORDER};padding:4px;")
        self.banner.setWordWrap(True)
        self.banner.hide()
        lay.addWidget(self.banner)
        self.score = _label("", "padding:2px;")
        self.score.setWordWrap(True)
        self.score.hide()
        lay.addWidget(self.score)
        self.supports = _label("", f"background:{pal.TINT_GREY};padding:4px;")
        self.supports.setWordWrap(True)
        self.supports.hide()
        lay.addWidget(self.supports)
        self.score_chart = ScoreHistoryChart()
        self.score_chart.hide()
        lay.addWidget(self.score_chart)

        split = self.split = QSplitter(Qt.Vertical)
        # household
        hw = QWidget()
        hl = QVBoxLayout(hw)
        hl.setContentsMargins(0, 0, 0, 0)
        self.household_title = _label(tr("世帯の人"), "font-weight:bold;")
        hl.addWidget(self.household_title)
        self.members = QTableWidget(0, 8)
        self.members.setHorizontalHeaderLabels(
            [tr(h) for h in ("続柄", "氏名", "カナ", "年齢", "性別", "学校・学年", "きょうだい", "スコア")]
        )
        self.members.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.members.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.members.verticalHeader().setVisible(False)
        self.members.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.members.horizontalHeader().setStretchLastSection(True)
        self.members.cellDoubleClicked.connect(self._open_member)
        self.members.setToolTip(tr("ダブルクリックでその人のページを開きます"))
        hl.addWidget(self.members)
        split.addWidget(hw)
        # timeline
        tw = QWidget()
        tl = QVBoxLayout(tw)
        tl.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.timeline_title = _label(tr("連携された記録（新しい順）"), "font-weight:bold;")
        row.addWidget(self.timeline_title)
        row.addStretch(1)
        self.with_household = QCheckBox(tr("世帯の人の記録も表示"))
        self.with_household.setChecked(True)
        self.with_household.toggled.connect(lambda *_: self._fill_timeline())
        row.addWidget(self.with_household)
        expand = QPushButton(tr("すべて開く"))
        expand.clicked.connect(lambda: self.timeline.expandAll())
        collapse = QPushButton(tr("すべて閉じる"))
        collapse.clicked.connect(lambda: self.timeline.collapseAll())
        row.addWidget(expand)
        row.addWidget(collapse)
        tl.addLayout(row)
        self.timeline = QTreeWidget()
        self.timeline.setColumnCount(5)
        self.timeline.setHeaderLabels([tr(h) for h in ("日付", "取込元（部署）", "内容", "ファイル（時点）", "連結")])
        self.timeline.setAlternatingRowColors(True)
        self.timeline.setStyleSheet("QTreeView::item { padding:2px 0; }")
        self.timeline.setUniformRowHeights(False)
        self.timeline.setWordWrap(True)
        header = self.timeline.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.Interactive)
        header.setSectionResizeMode(1, QHeaderView.Interactive)
        header.setSectionResizeMode(2, QHeaderView.Stretch)
        header.setSectionResizeMode(3, QHeaderView.Interactive)
        header.setSectionResizeMode(4, QHeaderView.Interactive)
        for i, w in enumerate((170, 240, 420, 320, 150)):
            self.timeline.setColumnWidth(i, w)
        tl.addWidget(self.timeline)
        # 名寄せ fix from the child's page: a record linked to this child by mistake is split off (two steps on the
        # page, no dialog; logged; undoable). The record is unlinked; later runs never offer this child for it again.
        srow = QHBoxLayout()
        self.split_notice = Notice("splitNotice")
        srow.addWidget(self.split_notice, 1)
        self.split_btn = QPushButton(tr("選んだ記録を切り離す…"))
        self.split_btn.setToolTip(
            tr(
                "このこどもの記録ではないものを、このこどもから外します（次の名寄せで別の候補があれば確認待ちになります）"
            )
        )
        self.split_btn.clicked.connect(lambda: self.split_selected())
        self.split_confirm = QPushButton(tr("切り離しを確定"))
        self.split_confirm.setStyleSheet(f"color:{pal.ERROR};font-weight:bold;")
        self.split_confirm.clicked.connect(lambda: self.split_selected(confirm=True))
        self.split_undo = QPushButton(tr("元に戻す"))
        self.split_undo.clicked.connect(lambda: self.undo_split())
        for b in (self.split_btn, self.split_confirm, self.split_undo):
            srow.addWidget(b)
        self.split_confirm.setVisible(False)
        self.split_undo.setVisible(False)
        self.split_btn.setVisible(self.ws.can("link.review"))
        self._last_split: int | None = None
        tl.addLayout(srow)
        self.tl_tabs = QTabWidget()
        self.tl_tabs.addTab(tw, tr("連携された記録"))
        self.tl_tabs.addTab(self._build_karte(), tr("支援の経過（カルテ）"))
        split.addWidget(self.tl_tabs)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 3)
        lay.addWidget(split, 1)

    # -- filling --------------------------------------------------------------------------------------------------------
    def show_person(self, person_id: str) -> bool:
        try:
            page = P.child_page(self.ws, person_id)
        except KodomoError as e:
            QMessageBox.warning(self, tr("こどものページ"), e.message_ja)
            return False
        self.page, self.person_id = page, person_id
        self.title.setText(page.name or tr("（氏名なし）"))
        self.kana.setText(page.kana_display)
        f = self.fields
        f["birth"].setText(page.birth_text or "—")
        f["age"].setText("—" if page.age is None else tr("{n}歳（{d} 現在）", n=page.age, d=day(page.on)))
        f["sex"].setText(tr(page.sex) if page.sex else "—")
        f["resident_no"].setText(page.resident_no or "—")
        f["school"].setText(page.school or "—")
        f["relationship"].setText(tr(page.relationship) if page.relationship else "—")
        f["household_no"].setText(page.household_no or "—")
        f["address"].setText(page.address or "—")
        f["person_id"].setText(page.person_id)
        notes = []
        if page.opted_out:
            notes.append(tr("利用停止（不同意）の登録があります。名寄せ・スコアの対象外です。"))
        if not page.in_registry:
            notes.append(tr("住民基本台帳の最新の抽出にいません（転出・未登録など）。"))
        self.banner.setText("　".join(notes))
        self.banner.setVisible(bool(notes))
        self._fill_score(page)
        self._fill_supports(person_id)
        self._fill_members(page)
        self._fill_timeline()
        self._fill_casework()
        return True

    def forget(self) -> None:
        """On lock: drop everything shown of the child (``person_id`` is kept so the unlock can show it again;
        a note being typed stays)."""
        self.page = None
        self.karte_events = []
        for lab in (self.title, self.kana, self.badges, self.banner, self.score, self.case_status, self.supports):
            lab.setText("")
        for lab in self.fields.values():
            lab.setText("")
        self.members.setRowCount(0)
        self.timeline.clear()
        self.karte.clear()
        self.score_chart.set_points([])

    def _fill_score(self, page: P.ChildPage):
        sc = page.score
        if not sc:
            self.score.hide()
            self.badges.clear()
            return
        band = sc.get("band") or "—"
        total = sc.get("total")
        parts = [
            tr("最新のスコア（{d} 時点）", d=day(sc.get("as_of"))) + f"：{tr(band)}",
            tr("{n} 点", n=f"{total:g}") if isinstance(total, (int, float)) else "",
        ]
        if sc.get("types"):
            types = str(sc["types"])
            parts.append(tr_list(types, sep="、" if "、" in types else "・"))
        d = sc.get("details")
        if d is not None:
            parts.append(tr("本人の記録 {o} 点・世帯の状況 {h} 点", o=f"{d.own_points:g}", h=f"{d.household_points:g}"))
            parts += d.pending_lines
            parts += [x.text for x in d.implausible]
        text = "　".join(p for p in parts if p) + "　※" + tr(NOTE)
        if d is not None and d.reasons:  # each reason with what was found (a two-source one: what was not found)
            text += (
                "\n"
                + tr("理由")
                + "："
                + tr("、").join(
                    f"{label_of({'label': r.label, 'label_en': r.label_en})} +{r.points:g}"
                    + (f"（{reason_value(r.value)}）" if r.value else "")
                    for r in d.reasons
                    if r.points > 0
                )
            )
        self.score.setText(text)
        colour = BAND_COLOURS.get(band, pal.TINT_GREY)
        self.score.setStyleSheet(f"background:{colour};padding:4px;border-radius:3px;")
        self.score.show()
        self.badges.setText(f"<span style='background:{colour};padding:2px 8px;'>{tr(band)}</span>")

    def _fill_supports(self, person_id: str) -> None:
        """利用できる可能性のある支援: the take-up gaps that found this child, with the rule (never points)."""
        self.supports_found: list[dict] = []
        if not self.ws.can("score.read"):
            self.supports.hide()
            return
        from ...core.scoring.town import support_prompts

        try:
            found = support_prompts(self.ws, person_id=person_id)["children"].get(person_id, [])
        except KodomoError:
            found = []
        self.supports_found = found
        if not found:
            self.supports.hide()
            return
        lines = [tr("利用できる可能性のある支援（アウトリーチのきっかけ・点数には含めません）")]
        lines += [
            "・"
            + tr(g["label"])
            + (f"：{tr(g['support'])}" if g.get("support") else "")
            + "（"
            + tr("見つけた条件")
            + "："
            + translate(g["rule"])
            + "）"
            for g in found
        ]
        self.supports.setText("\n".join(lines))
        self.supports.show()

    def _fill_members(self, page: P.ChildPage):
        members = page.members
        self.household_title.setText(
            tr("世帯の人（世帯番号 {no}・{n} 人）", no=page.household_no or "—", n=len(members) + 1)
        )
        self.members.setRowCount(len(members))
        for i, m in enumerate(members):
            score = ""
            if m.score_band:
                score = tr(m.score_band) + ("（" + tr("要確認") + "）" if m.flagged else "")
            vals = [
                tr(m.relationship) if m.relationship else "",
                m.name,
                unicodedata.normalize("NFKC", m.name_kana) if m.name_kana else "",
                "" if m.age is None else tr("{n}歳", n=m.age),
                tr(m.sex) if m.sex else "",
                m.school,
                "○" if m.sibling else "",
                score,
            ]
            for j, v in enumerate(vals):
                it = QTableWidgetItem(v)
                it.setData(Qt.UserRole, m.person_id)
                if j in (3, 4, 6):
                    it.setTextAlignment(Qt.AlignCenter)
                if m.sibling:
                    it.setBackground(QBrush(QColor(pal.TINT_MINT)))
                if j == 7 and m.score_band in BAND_COLOURS:
                    it.setBackground(QBrush(QColor(BAND_COLOURS[m.score_band])))
                self.members.setItem(i, j, it)
        self.members.resizeColumnsToContents()
        h = self.members.horizontalHeader().sizeHint().height() + sum(
            self.members.rowHeight(i) for i in range(len(members))
        )
        h = min(h + 2 * self.members.frameWidth() + 2, 240)
        self.members.setMinimumHeight(h)
        self.split.setSizes([h + self.household_title.sizeHint().height() + 4, 10_000])

    def _fill_timeline(self):
        page = self.page
        t = self.timeline
        t.clear()
        if page is None:
            return
        entries = list(page.records)
        if self.with_household.isChecked():
            entries += page.household_records
        entries.sort(key=lambda e: (e.date or dt.date.min, e.batch_id, e.record_id), reverse=True)
        own = len(page.records)
        others = len(entries) - own
        self.timeline_title.setText(
            tr("連携された記録（新しい順）")
            + "　"
            + tr("本人 {own} 件", own=own)
            + (tr("・世帯の人 {n} 件", n=others) if others else "")
        )
        bold = QFont()
        bold.setBold(True)
        opened = False
        for e in entries:
            date = day(e.date) if e.date else "—"
            if e.date_basis != "記録日":
                date += f"（{tr(e.date_basis)}）"
            source = f"{tr(e.source_label)}（{tr(e.department)}）" if e.department else tr(e.source_label)
            content = (
                tr("・").join(f"{tr(lab)} {translate(val)}" for lab, val in e.summary_parts)
                if e.summary_parts
                else translate(e.summary) or ("—" if not e.fields else "")
            )
            if e.whose:
                content = f"［{translate(e.whose)}］ " + content
            link = tr(e.status_label) + (f"・{tr(e.method_label)}" if e.method_label else "")
            item = QTreeWidgetItem([date, source, content, translate(e.file_text), link])
            item.setToolTip(0, f"{P.wareki(e.date)}（{tr(e.date_basis)}）" if e.date else "")
            item.setToolTip(2, content)
            item.setToolTip(
                3,
                translate(e.file_text)
                + ("" if e.current else "\n" + tr("新しい抽出に置き換えられた、以前の抽出の記録です")),
            )
            item.setData(0, Qt.UserRole, e.record_id)
            if not e.whose:
                item.setFont(1, bold)
            else:
                for c in range(5):
                    item.setForeground(c, QBrush(QColor(pal.MUTED)))
            if not e.current:
                item.setForeground(0, QBrush(QColor(pal.DISABLED)))
            self._details(item, e)
            t.addTopLevelItem(item)
            if not e.whose and not opened:  # the newest own record opens with its fields; the rest stay closed
                opened = True
                item.setExpanded(True)
                for k in range(item.childCount()):
                    g = item.child(k)
                    g.setExpanded(g.data(0, Qt.UserRole) in ("項目", "取り込まなかった列（元のまま）"))

    def selected_record(self) -> P.TimelineEntry | None:
        item = self.timeline.currentItem()
        while item is not None and item.parent() is not None:
            item = item.parent()
        if item is None or self.page is None:
            return None
        rid = item.data(0, Qt.UserRole)
        return next((e for e in self.page.records if e.record_id == rid), None)  # the child's own records only

    def select_record(self, record_id: int) -> bool:
        for i in range(self.timeline.topLevelItemCount()):
            it = self.timeline.topLevelItem(i)
            if it.data(0, Qt.UserRole) == record_id:
                self.timeline.setCurrentItem(it)
                return True
        return False

    def split_selected(self, confirm: bool = False):
        """First press: say what will happen; second (確定): split the record off this child."""
        e = self.selected_record()
        self.split_undo.setVisible(False)
        if e is None:
            self.split_notice.info(tr("このこども本人の記録を一覧から選んでください（世帯の人の記録は対象外）。"))
            return None
        what = f"{e.source_label}・{e.file_name} {tr('{n} 行目', n=e.row_number)}"
        if not confirm:
            self.split_notice.info(
                tr(
                    "{what} をこのこどもから切り離します。次の名寄せで、この子は候補から外れます。"
                    "よければ「切り離しを確定」を押してください。",
                    what=what,
                )
            )
            self.split_confirm.setVisible(True)
            return None
        from ...core.linkage import service as L

        self.split_confirm.setVisible(False)
        try:
            self._last_split = L.decide(self.ws, e.record_id, "split", self.person_id)
        except KodomoError as err:
            self.split_notice.error(err.message_ja)
            return None
        person = self.person_id
        self.show_person(person)
        self.split_notice.info(tr("{what} を切り離しました（操作ログに記録）。", what=what))
        self.split_undo.setVisible(True)
        return self._last_split

    def undo_split(self):
        from ...core.linkage import service as L

        if self._last_split is None:
            return None
        try:
            res = L.undo_decision(self.ws, self._last_split)
        except KodomoError as err:
            self.split_notice.error(err.message_ja)
            return None
        self._last_split = None
        self.split_undo.setVisible(False)
        self.show_person(self.person_id)
        self.split_notice.info(tr("切り離しを取り消しました。記録は名寄せの確認待ちにあります。"))
        return res

    def _details(self, item: QTreeWidgetItem, e: P.TimelineEntry):
        def group(title: str, pairs, labels: bool = True):
            if not pairs:
                return
            g = QTreeWidgetItem(["", tr(title), "", "", ""])
            g.setData(0, Qt.UserRole, title)
            g.setForeground(1, QBrush(QColor(pal.BRAND)))
            item.addChild(g)
            for k, v in pairs:
                if labels:  # the source's field labels and coded values; the file's own columns stay as written
                    k, v = tr(k), tr(v)
                c = QTreeWidgetItem(["", f"　{k}", v, "", ""])
                c.setToolTip(2, v)
                g.addChild(c)

        group("項目", e.fields)
        group("元ファイルでの記載", e.recorded_as)
        group("取り込まなかった列（元のまま）", e.extra, labels=False)
        meta = [
            (tr("取込元ファイル"), e.file_name),
            (tr("時点"), day(e.as_of) if e.as_of else "—"),
            (tr("行"), str(e.row_number)),
            (tr("連結"), e.status_label + (f"（{e.method_label}）" if e.method_label else "")),
        ]
        if e.whose:
            meta.insert(0, (tr("対象"), e.whose))
        if not e.current:
            meta.append((tr("注記"), tr("新しい抽出に置き換えられた、以前の抽出の記録です")))
        group("出所", meta)

    # -- 支援の経過（カルテ） -------------------------------------------------------------------------------------------
    def _build_karte(self) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        lay.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.karte_title = _label(tr("支援の経過（新しい順）"), "font-weight:bold;")
        row.addWidget(self.karte_title)
        row.addStretch(1)
        self.karte_records = QCheckBox(tr("連携された記録も表示"))
        self.karte_records.setChecked(True)
        self.karte_records.toggled.connect(lambda *_: self._fill_karte())
        row.addWidget(self.karte_records)
        lay.addLayout(row)
        self.case_status = _label("", "padding:2px;")
        self.case_status.setWordWrap(True)
        lay.addWidget(self.case_status)
        self.karte = QTreeWidget()
        self.karte.setColumnCount(4)
        self.karte.setHeaderLabels([tr(h) for h in ("日付", "種類", "内容", "出所")])
        self.karte.setAlternatingRowColors(True)
        self.karte.setWordWrap(True)
        h = self.karte.header()
        h.setStretchLastSection(False)
        h.setSectionResizeMode(2, QHeaderView.Stretch)
        for i, width in enumerate((150, 90, 440, 310)):
            self.karte.setColumnWidth(i, width)
        lay.addWidget(self.karte, 1)
        self.note_box = QWidget()
        nl = QHBoxLayout(self.note_box)
        nl.setContentsMargins(0, 0, 0, 0)
        self.note_edit = QPlainTextEdit()
        self.note_edit.setPlaceholderText(tr("メモ（自由記述）"))
        self.note_edit.setMaximumHeight(56)
        nl.addWidget(self.note_edit, 1)
        self.note_btn = QPushButton(tr("メモを追加"))
        self.note_btn.clicked.connect(self.add_note)
        nl.addWidget(self.note_btn)
        lay.addWidget(self.note_box)
        self.note_notice = Notice("noteNotice")
        lay.addWidget(self.note_notice)
        self.note_box.setVisible(self.ws.can("casework.write"))
        self.karte_events: list[dict] = []
        return w

    def _fill_casework(self):
        from ...core.casework import service as CW

        self.karte_events = []
        self.note_notice.clear_text()
        try:
            self.karte_events = CW.timeline(self.ws, self.person_id)
            history = CW.score_history(self.ws, self.person_id)
            cases = CW.cases_of(self.ws, self.person_id)
        except KodomoError as e:
            self.note_notice.error(e.message_ja)
            history, cases = [], []
        self.score_chart.set_points(history)
        self.score_chart.setVisible(bool(history))
        if cases:
            c = cases[-1]
            if c["closed_on"]:
                self.case_status.setText(
                    tr("支援: 終結（{d}・理由: {r}）", d=day(c["closed_on"]), r=c["close_reason"] or "")
                )
                self.case_status.setStyleSheet(f"background:{pal.TINT_GREY};padding:4px;")
            else:
                nxt = day(c["next_action_on"]) if c["next_action_on"] else "—"
                self.case_status.setText(
                    tr(
                        "支援: 進行中（{d} 開始・主担当 {o}・次回対応 {n}）",
                        d=day(c["opened_on"]),
                        o=c["lead_organisation"] or "—",
                        n=nxt,
                    )
                )
                self.case_status.setStyleSheet(f"background:{pal.TINT_GREEN};padding:4px;")
            self.case_status.show()
        else:
            self.case_status.hide()
        self._fill_karte()

    KIND_LABELS = {
        "record": "記録",
        "score": "スコア",
        "classification": "分類",
        "conference": "会議",
        "progress": "経過記録",
        "case": "支援",
        "note": "メモ",
    }
    KIND_COLOURS = {
        "score": pal.TINT_YELLOW,
        "classification": pal.TINT_BLUE,
        "conference": pal.TINT_GREEN,
        "progress": pal.TINT_ORANGE,
        "case": pal.TINT_LILAC,
        "note": pal.TINT_LIGHT,
    }
    DETAIL_LABELS = {
        "reason": "理由",
        "types": "困難の種類",
        "lead": "主担当",
        "actions": "支援内容",
        "what": "内容",
        "outcome": "結果",
        "next": "次回対応",
        "text": "メモ",
        "plan": "支援計画",
    }

    def _fill_karte(self):
        t = self.karte
        t.clear()
        show_records = self.karte_records.isChecked()
        events = [e for e in self.karte_events if show_records or e["kind"] != "record"]
        counts = {}
        for e in self.karte_events:
            counts[e["kind"]] = counts.get(e["kind"], 0) + 1
        self.karte_title.setText(
            tr("支援の経過（新しい順）")
            + "　"
            + tr("・").join(f"{tr(self.KIND_LABELS.get(k, k))} {n}" for k, n in counts.items())
        )
        for e in events:
            d = day(e["date"]) if e.get("date") else "—"
            kind = tr(self.KIND_LABELS.get(e["kind"], e["kind"]))
            title = translate(e["title"]) if isinstance(e["title"], Message) else tr_list(e["title"])
            item = QTreeWidgetItem([d, kind, title, translate(e.get("source") or "")])
            item.setData(0, Qt.UserRole, e["kind"])
            item.setToolTip(2, e["title"])
            item.setToolTip(3, e.get("source") or "")
            colour = self.KIND_COLOURS.get(e["kind"])
            if colour:
                for c in range(4):
                    item.setBackground(c, QBrush(QColor(colour)))
            detail = e.get("detail") or {}
            if isinstance(detail, dict):
                for k, v in detail.items():
                    if v in (None, "", [], {}):
                        continue
                    if isinstance(v, dict):
                        v = "、".join(f"{a}: {b}" for a, b in v.items())
                    elif isinstance(v, (list, tuple)):
                        v = "、".join(str(x) for x in v)
                    elif k == "next" or isinstance(v, dt.date):  # a due date: the page's one date format
                        v = day(v)
                    child = QTreeWidgetItem(["", "", f"{tr(self.DETAIL_LABELS.get(k, k))}：{v}", ""])
                    child.setToolTip(2, str(v))
                    item.addChild(child)
            t.addTopLevelItem(item)
            if e["kind"] != "record":
                item.setExpanded(True)

    def add_note(self, text: str | None = None) -> bool:
        from ...core.casework import service as CW

        text = self.note_edit.toPlainText() if text is None or isinstance(text, bool) else text
        if not self.person_id:
            return False
        try:
            CW.add_note(self.ws, self.person_id, text)
        except KodomoError as e:
            self.note_notice.error(e.message_ja)
            return False
        self.note_edit.clear()
        self._fill_casework()
        return True

    def _open_member(self, row: int, _col: int):
        it = self.members.item(row, 0)
        pid = it.data(Qt.UserRole) if it else None
        if pid and self._open_person is not None:
            self._open_person(pid)


class ScoreHistoryChart(QWidget):
    """The child's score over the scoring runs: a small line with one dot per run (band colour), dates below."""

    def __init__(self):
        super().__init__()
        self.points: list[dict] = []
        self.setFixedHeight(76)
        self.setToolTip(tr("スコアの推移（算出ごと）"))

    def set_points(self, points: list[dict]):
        self.points = list(points or [])
        self.update()

    def paintEvent(self, _):
        from PySide6.QtCore import QPointF
        from PySide6.QtGui import QPainter, QPen

        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        p.drawText(6, 16, tr("スコアの推移"))
        if not self.points:
            p.end()
            return
        left, right, top, bottom = 110, self.width() - 30, 10, self.height() - 22
        hi = max(max((x["total"] or 0) for x in self.points), 1)
        n = len(self.points)
        xs = [left + (right - left) * (i / (n - 1) if n > 1 else 0.5) for i in range(n)]
        ys = [bottom - (bottom - top) * ((x["total"] or 0) / hi) for x in self.points]
        p.setPen(QPen(QColor(pal.AXIS), 1))
        p.drawLine(left, bottom, right, bottom)
        p.setPen(QPen(QColor(pal.CHART_BLUE), 2))
        for i in range(1, n):
            p.drawLine(QPointF(xs[i - 1], ys[i - 1]), QPointF(xs[i], ys[i]))
        for x, y, pt in zip(xs, ys, self.points):
            p.setPen(QPen(QColor(pal.INK), 1))
            p.setBrush(QBrush(QColor(BAND_COLOURS.get(pt.get("band") or "", pal.LINE_LIGHT))))
            p.drawEllipse(QPointF(x, y), 5, 5)
            p.drawText(int(x) + 8, int(y) + 4, f"{(pt['total'] or 0):g}")
            if pt.get("as_of"):
                label = day(pt["as_of"])
                p.drawText(int(x) - p.fontMetrics().horizontalAdvance(label) // 2, self.height() - 5, label)
        p.end()
