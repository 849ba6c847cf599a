"""個人情報保護 (governance): purpose and legal basis per source and indicator, the 個人情報ファイル簿 draft and the
resident notice, the opt-out register (利用停止・不同意), retention and the purge view, and the annual
self-inspection (自己点検).

Thin over ``core.governance``: every permission check is in the core (``governance.read`` to look,
``governance.write`` to change; the auditor — 監査・個人情報保護担当 — reads everything and answers the
self-inspection, which the core lets ``governance.read`` save). Problems are shown on the page (a notice line), never
in a modal box; file paths can be passed to the save/print methods, so tests never open a file dialog. Deleting
expired data is a two-step, in-page confirmation. PDFs and the purge run off the GUI thread through ``gui.ops``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QDate, Qt
from PySide6.QtGui import QColor, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...core.errors import KodomoError
from ...core.governance import documents as G
from ...core.governance import optout as O
from ...core.governance import register as R
from ...core.importing.fields import SOURCE_TYPES
from ...core.security.roles import ROLES
from ..i18n import tr
from ..models import RowsModel as _RowsModel

BASIS_SHORT = {"61-1": "61条1項", "69-2-2": "69条2項2号", "69-2-3": "69条2項3号", "other": "その他"}
BASIS_CHOICES = [
    ("61-1", "61条1項（所掌事務の範囲内での保有・利用）"),
    ("69-2-2", "69条2項2号（庁内での目的外利用・相当の理由）"),
    ("69-2-3", "69条2項3号（他の機関への提供・相当の理由）"),
    ("other", "その他（備考に根拠を記載）"),
]
MISSING_BG = QColor("#FFC7CE")
EXPIRED_BG = QColor("#FFF3CD")


def source_label(st: str | None) -> str:
    return (SOURCE_TYPES.get(st or "") or {}).get("label", st or "")


def _when(v, r=None) -> str:
    return str(v or "").replace("T", " ")


def fiscal_year(on: dt.date | None = None) -> int:
    on = on or dt.date.today()
    return on.year if on.month >= 4 else on.year - 1


def _qdate(d: dt.date) -> QDate:
    return QDate(d.year, d.month, d.day)


def _pydate(q: QDate) -> dt.date:
    return dt.date(q.year(), q.month(), q.day())


class RowsModel(_RowsModel):
    """Rows of dicts shown by ``columns`` ``[(key, header, formatter or None)]``; ``background(row)`` may colour a
    row (e.g. a source without a legal basis)."""

    def __init__(self, columns: list[tuple], background=None):
        super().__init__(columns, background=background)


def _view(model: QAbstractTableModel, stretch: int | None = None) -> QTableView:
    v = QTableView()
    v.setModel(model)
    v.setSelectionBehavior(QAbstractItemView.SelectRows)
    v.setSelectionMode(QAbstractItemView.SingleSelection)
    v.setEditTriggers(QAbstractItemView.NoEditTriggers)
    v.setAlternatingRowColors(True)
    v.verticalHeader().setVisible(False)
    v.setWordWrap(False)
    h = v.horizontalHeader()
    h.setSectionResizeMode(QHeaderView.Interactive)
    h.setStretchLastSection(stretch is None)
    if stretch is not None:
        h.setSectionResizeMode(stretch, QHeaderView.Stretch)
    return v


def _selected(view: QTableView) -> int:
    rows = view.selectionModel().selectedRows() if view.selectionModel() else []
    return rows[0].row() if rows else -1


def _fit(view: QTableView, max_width: int = 260) -> None:
    view.resizeColumnsToContents()
    for c in range(view.model().columnCount()):
        if view.columnWidth(c) > max_width:
            view.setColumnWidth(c, max_width)


# --- the page ----------------------------------------------------------------------------------------------------
class GovernancePage(QWidget):
    def __init__(self, ws, main=None):
        super().__init__()
        ws.require("governance.read", what="governance page")
        self.ws, self.main = ws, main
        self.can_write = ws.can("governance.write")
        self.op = None  # the last long operation (tests wait on it)
        lay = QVBoxLayout(self)
        head = QHBoxLayout()
        title = QLabel(tr("個人情報保護"))
        title.setStyleSheet("font-size:15pt;font-weight:bold;")
        head.addWidget(title)
        self.mode = QLabel(
            tr("閲覧のみ（この役割では変更できません。自己点検の回答は入力できます）") if not self.can_write else ""
        )
        self.mode.setObjectName("readOnlyBanner")
        self.mode.setStyleSheet("color:#7A5C00;background:#FFF3CD;padding:2px 8px;border-radius:3px;")
        self.mode.setVisible(not self.can_write)
        head.addWidget(self.mode)
        head.addStretch(1)
        lay.addLayout(head)
        self.notice = QLabel("")
        self.notice.setWordWrap(True)
        self.notice.setObjectName("governanceNotice")
        lay.addWidget(self.notice)
        self.tabs = QTabWidget()
        self.basis = BasisTab(self)
        self.register = RegisterTab(self)
        self.optout = OptOutTab(self)
        self.retention = RetentionTab(self)
        self.inspection = InspectionTab(self)
        for w, label in (
            (self.basis, "利用目的・法的根拠"),
            (self.register, "個人情報ファイル簿"),
            (self.optout, "利用停止"),
            (self.retention, "保存期間・削除"),
            (self.inspection, "自己点検"),
        ):
            self.tabs.addTab(w, tr(label))
        lay.addWidget(self.tabs, 1)
        self.tabs.currentChanged.connect(lambda _i: self._tab_shown())
        self.refresh()

    # -- messages: on the page, never a modal --------------------------------------------------------------------
    def say(self, text: str, error: bool = False) -> None:
        self.notice.setText(text)
        self.notice.setStyleSheet("color:#9C0006;font-weight:bold;" if error else "color:#1B7F3B;")

    def fail(self, e: BaseException) -> None:
        self.say(e.message_ja if isinstance(e, KodomoError) else f"{type(e).__name__}: {e}", error=True)

    def guard(self, fn, *a, **k):
        """Run a core call; a refusal goes to the notice line. Returns (ok, result)."""
        try:
            return True, fn(*a, **k)
        except KodomoError as e:
            self.fail(e)
            return False, None

    def run(self, title: str, fn: Callable, on_done: Callable[[Any], None]):
        from ..ops import run_with_progress

        self.op = run_with_progress(
            self, title, lambda progress, cancel: fn(progress), on_done=on_done, on_error=self.fail, cancellable=False
        )
        return self.op

    def ask_path(self, title: str, default: str, filt: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self, title, default, filt)
        return path or None

    # -- refresh --------------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        if self.ws.locked:
            return
        for t in (self.basis, self.register, self.optout, self.retention, self.inspection):
            t.refresh()

    def _tab_shown(self):
        if not self.ws.locked:
            w = self.tabs.currentWidget()
            if hasattr(w, "page_shown"):
                w.page_shown()

    def page_shown(self):
        """Cheap refresh of the lists when the page comes back; what the user typed stays."""
        if self.ws.locked:
            return
        self.register.refresh()
        self.optout.refresh()


# --- 利用目的・法的根拠 ------------------------------------------------------------------------------------------------
class BasisTab(QWidget):
    def __init__(self, page: GovernancePage):
        super().__init__()
        self.page = page
        self.all: list[dict] = []
        self.source_labels: dict[str, str] = {}
        lay = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.kind = QComboBox()
        for label, data in (("すべて", None), ("取込元", "source"), ("指標", "indicator")):
            self.kind.addItem(tr(label), data)
        self.kind.currentIndexChanged.connect(self.apply_filter)
        self.only_missing = QCheckBox(tr("根拠が未設定のものだけ"))
        self.only_missing.toggled.connect(self.apply_filter)
        self.summary = QLabel()
        bar.addWidget(QLabel(tr("表示:")))
        bar.addWidget(self.kind)
        bar.addWidget(self.only_missing)
        bar.addStretch(1)
        bar.addWidget(self.summary)
        lay.addLayout(bar)
        self.model = RowsModel(
            [
                ("kind", tr("区分"), lambda v, r: tr("取込元") if v == "source" else tr("指標")),
                ("label", tr("名称")),
                (
                    "source_type",
                    tr("取込元"),
                    lambda v, r: self.source_labels.get(v, v or "") if r["kind"] == "indicator" else "",
                ),
                ("basis", tr("根拠"), lambda v, r: BASIS_SHORT.get(v or "", tr("未設定"))),
                ("purpose", tr("利用目的")),
                ("department", tr("保有課")),
                ("shown_on_sheets", tr("帳票"), lambda v, r: tr("印字") if v else tr("スコアのみ")),
                ("imported", tr("取込済"), lambda v, r: "○" if v else ""),
                ("note", tr("備考")),
            ],
            background=lambda r: MISSING_BG if r.get("missing") else None,
        )
        self.view = _view(self.model)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._selected())
        split = QSplitter(Qt.Vertical)
        split.addWidget(self.view)
        box = QGroupBox(tr("選択した項目の利用目的と根拠"))
        form = QFormLayout(box)
        self.target = QLabel(tr("一覧から取込元または指標を選んでください。"))
        self.purpose = QLineEdit()
        self.basis = QComboBox()
        for code, label in BASIS_CHOICES:
            self.basis.addItem(tr(label), code)
        self.note = QLineEdit()
        self.note.setPlaceholderText(tr("「その他」のときは根拠を必ず記載（例: 児童福祉法第25条の3）"))
        self.department = QLineEdit()
        self.shown = QComboBox()
        self.shown.addItem(tr("帳票に印字する"), True)
        self.shown.addItem(tr("スコアにのみ使う（印字しない）"), False)
        self.save_btn = QPushButton(tr("保存"))
        self.save_btn.clicked.connect(lambda: self.save())
        form.addRow(tr("対象"), self.target)
        form.addRow(tr("利用目的"), self.purpose)
        form.addRow(tr("法的根拠"), self.basis)
        form.addRow(tr("備考"), self.note)
        form.addRow(tr("保有課"), self.department)
        form.addRow(tr("帳票への表示"), self.shown)
        form.addRow("", self.save_btn)
        split.addWidget(box)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        lay.addWidget(split, 1)
        self.current: dict | None = None
        for w in (self.purpose, self.basis, self.note, self.department, self.shown, self.save_btn):
            w.setEnabled(False)

    def refresh(self):
        ok, rows = self.page.guard(R.purpose_table, self.page.ws)
        if not ok:
            return
        self.all = rows
        self.source_labels = {r["key"]: r["label"] for r in rows if r["kind"] == "source"}
        self.apply_filter()

    def apply_filter(self):
        kind, missing = self.kind.currentData(), self.only_missing.isChecked()
        keep = self.current
        self.model.set_rows(
            [r for r in self.all if (kind is None or r["kind"] == kind) and (not missing or r["missing"])]
        )
        n_missing = sum(1 for r in self.all if r["missing"])
        self.summary.setText(
            tr("根拠が未設定: {n} 件（赤で表示）", n=n_missing) if n_missing else tr("すべての項目に根拠があります")
        )
        self.summary.setStyleSheet("color:#9C0006;font-weight:bold;" if n_missing else "color:#1B7F3B;")
        _fit(self.view, 300)
        if keep is not None:
            self.select(keep["kind"], keep["key"])

    def select(self, kind: str, key: str) -> bool:
        for i, r in enumerate(self.model.rows):
            if r["kind"] == kind and r["key"] == key:
                self.view.selectRow(i)
                self._selected()
                return True
        return False

    def _selected(self):
        r = self.model.row(_selected(self.view))
        self.current = r
        if r is None:
            return
        self.target.setText(
            f"{tr('取込元') if r['kind'] == 'source' else tr('指標')}: {r['label']}（{r['key']}）"
            + (tr("　※カタログの既定値") if r.get("default") else "")
        )
        self.purpose.setText(r.get("purpose") or "")
        i = self.basis.findData(r.get("basis"))
        self.basis.setCurrentIndex(i if i >= 0 else 0)
        self.note.setText(r.get("note") or "")
        self.department.setText(r.get("department") or "")
        self.shown.setCurrentIndex(0 if r.get("shown_on_sheets") else 1)
        for w in (self.purpose, self.basis, self.note, self.department, self.shown, self.save_btn):
            w.setEnabled(self.page.can_write)

    def save(self) -> bool:
        r = self.current
        if r is None:
            self.page.say(tr("一覧から項目を選んでください。"), error=True)
            return False
        if not self.purpose.text().strip():
            self.page.say(tr("利用目的を入力してください。"), error=True)
            return False
        ok, _ = self.page.guard(
            R.set_legal_basis,
            self.page.ws,
            r["kind"],
            r["key"],
            purpose=self.purpose.text().strip(),
            basis=self.basis.currentData(),
            department=self.department.text().strip() or None,
            note=self.note.text().strip() or None,
            shown_on_sheets=bool(self.shown.currentData()),
        )
        if ok:
            self.page.say(tr("{label} の利用目的と根拠を保存しました（操作ログに記録）。", label=r["label"]))
            self.refresh()
            self.page.register.refresh()
        return ok


# --- 個人情報ファイル簿 ------------------------------------------------------------------------------------------------
class RegisterTab(QWidget):
    def __init__(self, page: GovernancePage):
        super().__init__()
        self.page = page
        self.data: dict | None = None
        self.saved: dict | None = None
        lay = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        bar.addWidget(self.heading, 1)
        self.xlsx_btn = QPushButton(tr("Excelで保存…"))
        self.xlsx_btn.clicked.connect(lambda: self.save_xlsx())
        self.pdf_btn = QPushButton(tr("PDFで保存…"))
        self.pdf_btn.clicked.connect(lambda: self.save_pdf())
        bar.addWidget(self.xlsx_btn)
        bar.addWidget(self.pdf_btn)
        lay.addLayout(bar)
        self.facts = QLabel()
        self.facts.setWordWrap(True)
        self.facts.setTextInteractionFlags(Qt.TextSelectableByMouse)
        lay.addWidget(self.facts)
        self.model = RowsModel(
            [
                ("label", tr("取込元")),
                ("department", tr("保有課")),
                ("persons", tr("人数")),
                ("rows", tr("行数")),
                ("basis", tr("根拠"), lambda v, r: BASIS_SHORT.get(r.get("basis_code") or "", v or "")),
                ("purpose", tr("利用目的")),
                ("retention_months", tr("保存期間"), lambda v, r: tr("{m}か月", m=v) if v else ""),
                ("items", tr("記録項目")),
            ]
        )
        self.view = _view(self.model)
        split = QSplitter(Qt.Vertical)
        split.addWidget(self.view)
        nbox = QGroupBox(tr("住民向けのお知らせ（案）— ウェブサイト・広報誌用"))
        nl = QVBoxLayout(nbox)
        self.notice_text = QPlainTextEdit()
        self.notice_text.setReadOnly(True)
        nl.addWidget(self.notice_text)
        copy = QPushButton(tr("お知らせをコピー"))
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.notice_text.toPlainText()))
        nl.addWidget(copy, 0, Qt.AlignRight)
        split.addWidget(nbox)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        lay.addWidget(split, 1)

    def refresh(self):
        ok, reg = self.page.guard(R.file_register, self.page.ws)
        if not ok:
            return
        self.data = reg
        self.heading.setText(
            f"<b>{tr('個人情報ファイル簿（案）')}</b>　{reg['town']}　"
            + tr("データベースの内容から作成した下書きです。公表前に内容を確認してください。")
        )
        self.facts.setText(
            tr(
                "名称: {f}　／　利用目的: {p}<br>記録範囲: {k}　登録人数 <b>{n}</b> 人（うち 0〜18 歳 {c} 人、"
                "利用停止 {o} 件）<br>経常的提供先: {r}",
                f=reg["file_name"],
                p=reg["purpose"],
                k=reg["kinds_of_persons"],
                n=reg["persons_total"],
                c=reg["children"],
                o=reg["opt_outs"],
                r=reg["recipients"],
            )
        )
        self.model.set_rows(reg["items"])
        _fit(self.view, 280)
        ok, text = self.page.guard(R.resident_notice, self.page.ws)
        if ok:
            self.notice_text.setPlainText(text)

    def save_xlsx(self, path: str | Path | None = None):
        path = path or self.page.ask_path(
            tr("個人情報ファイル簿（Excel）"), "個人情報ファイル簿.xlsx", "Excel (*.xlsx)"
        )
        if not path:
            return None
        return self.page.run(
            tr("個人情報ファイル簿"),
            lambda progress: G.file_register_xlsx(self.page.ws, Path(path)),
            lambda res: self._saved(path, res),
        )

    def save_pdf(self, path: str | Path | None = None):
        path = path or self.page.ask_path(tr("個人情報ファイル簿（PDF）"), "個人情報ファイル簿.pdf", "PDF (*.pdf)")
        if not path:
            return None
        return self.page.run(
            tr("個人情報ファイル簿"),
            lambda progress: G.file_register_pdf(self.page.ws, Path(path)),
            lambda res: self._saved(path, res),
        )

    def _saved(self, path, res):
        self.saved = {"path": str(path), **res}
        pages = tr("（{n} ページ）", n=res["pages"]) if res.get("pages") else ""
        self.page.say(tr("保存しました: {p}{pages}", p=path, pages=pages))


# --- 利用停止 ------------------------------------------------------------------------------------------------------
class OptOutTab(QWidget):
    def __init__(self, page: GovernancePage):
        super().__init__()
        self.page = page
        self.all: list[dict] = []
        lay = QVBoxLayout(self)
        explain = QLabel(
            tr(
                "登録した人（または世帯全員）の記録は、開始日から名寄せ・スコアに使われず、一覧・会議資料・"
                "チェックリストに載りません。取り込んだ記録は残ります（export-links では「excluded」）。"
                "解除には理由が必要で、登録・解除とも操作ログに残ります。"
            )
        )
        explain.setWordWrap(True)
        explain.setStyleSheet("color:#555555;")
        lay.addWidget(explain)
        bar = QHBoxLayout()
        self.count = QLabel()
        self.show_removed = QCheckBox(tr("解除済みも表示"))
        self.show_removed.toggled.connect(self.apply_filter)
        bar.addWidget(self.count)
        bar.addStretch(1)
        bar.addWidget(self.show_removed)
        lay.addLayout(bar)
        self.model = RowsModel(
            [
                ("id", tr("番号")),
                ("person_id", tr("対象"), lambda v, r: v if v else tr("世帯 {h}", h=r.get("household_id"))),
                ("from_date", tr("開始日")),
                ("reason", tr("理由")),
                ("created_by", tr("登録者")),
                ("created_at", tr("登録日時"), _when),
                ("removed_at", tr("解除日時"), _when),
                ("removed_reason", tr("解除の理由")),
            ],
            background=lambda r: QColor("#EEEEEE") if r.get("removed_at") else None,
        )
        self.view = _view(self.model)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._selected())
        lay.addWidget(self.view, 1)
        forms = QHBoxLayout()
        add = QGroupBox(tr("利用停止を登録"))
        af = QFormLayout(add)
        pid_row = QHBoxLayout()
        self.person = QLineEdit()
        self.person.setPlaceholderText(tr("整理番号（P…）"))
        self.lookup_btn = QPushButton(tr("確認"))
        self.lookup_btn.clicked.connect(lambda: self.lookup())
        pid_row.addWidget(self.person, 1)
        pid_row.addWidget(self.lookup_btn)
        self.who = QLabel("")
        self.who.setWordWrap(True)
        self.household = QCheckBox(tr("世帯全員を対象にする"))
        self.reason = QLineEdit()
        self.reason.setPlaceholderText(tr("例: 不同意書の提出（受付第3号）"))
        self.from_date = QDateEdit(_qdate(dt.date.today()))
        self.from_date.setCalendarPopup(True)
        self.from_date.setDisplayFormat("yyyy-MM-dd")
        self.add_btn = QPushButton(tr("登録"))
        self.add_btn.clicked.connect(lambda: self.add())
        af.addRow(tr("対象"), pid_row)
        af.addRow("", self.who)
        af.addRow("", self.household)
        af.addRow(tr("理由"), self.reason)
        af.addRow(tr("開始日"), self.from_date)
        af.addRow("", self.add_btn)
        rm = QGroupBox(tr("選択した登録を解除"))
        rf = QFormLayout(rm)
        self.selected_label = QLabel(tr("一覧から登録を選んでください。"))
        self.remove_reason = QLineEdit()
        self.remove_reason.setPlaceholderText(tr("例: 本人から撤回の申出"))
        self.remove_btn = QPushButton(tr("解除"))
        self.remove_btn.clicked.connect(lambda: self.remove())
        rf.addRow(tr("対象"), self.selected_label)
        rf.addRow(tr("解除の理由"), self.remove_reason)
        rf.addRow("", self.remove_btn)
        forms.addWidget(add, 3)
        forms.addWidget(rm, 2)
        lay.addLayout(forms)
        for box in (add, rm):
            box.setEnabled(page.can_write)
            box.setVisible(page.can_write)

    def refresh(self):
        ok, rows = self.page.guard(O.register, self.page.ws)
        if not ok:
            return
        self.all = rows
        self.apply_filter()

    def apply_filter(self):
        rows = self.all if self.show_removed.isChecked() else [r for r in self.all if not r["removed_at"]]
        self.model.set_rows(rows)
        active = sum(1 for r in self.all if not r["removed_at"])
        self.count.setText(tr("登録中 {n} 件（解除済み {m} 件）", n=active, m=len(self.all) - active))
        _fit(self.view, 260)

    def lookup(self) -> dict | None:
        pid = self.person.text().strip()
        if not pid:
            self.who.setText("")
            return None
        ok, d = self.page.guard(O.describe_person, self.page.ws, pid)
        if not ok:
            self.who.setText("")
            return None
        self.who.setText(
            tr(
                "{name}（{b}生）　世帯 {n} 人{x}",
                name=d["name"] or "",
                b=d["birth_date"],
                n=d["household_members"],
                x=tr("　※すでに登録があります") if d["opted_out"] else "",
            )
        )
        return d

    def add(self) -> dict | None:
        pid = self.person.text().strip()
        if not pid:
            self.page.say(tr("整理番号を入力してください。"), error=True)
            return None
        if not self.reason.text().strip():
            self.page.say(tr("理由を入力してください。"), error=True)
            return None
        ok, res = self.page.guard(
            O.add_optout,
            self.page.ws,
            pid,
            self.reason.text(),
            household=self.household.isChecked(),
            from_date=_pydate(self.from_date.date()),
        )
        if not ok:
            return None
        self.page.say(
            tr(
                "利用停止を登録しました（{n} 人、記録 {r} 件を名寄せ・スコアの対象外にしました）。",
                n=res["persons"],
                r=res["rows_excluded"],
            )
        )
        self.person.clear()
        self.reason.clear()
        self.who.setText("")
        self.household.setChecked(False)
        self.refresh()
        self.page.register.refresh()
        return res

    def select_entry(self, optout_id: int) -> bool:
        for i, r in enumerate(self.model.rows):
            if r["id"] == optout_id:
                self.view.selectRow(i)
                self._selected()
                return True
        return False

    def _selected(self):
        r = self.model.row(_selected(self.view))
        if r is None:
            self.selected_label.setText(tr("一覧から登録を選んでください。"))
            return
        who = r["person_id"] or tr("世帯 {h}", h=r["household_id"])
        self.selected_label.setText(f"{r['id']}: {who}" + (tr("（解除済み）") if r["removed_at"] else ""))

    def remove(self) -> dict | None:
        r = self.model.row(_selected(self.view))
        if r is None:
            self.page.say(tr("一覧から解除する登録を選んでください。"), error=True)
            return None
        if not self.remove_reason.text().strip():
            self.page.say(tr("解除の理由を入力してください（理由は必須です）。"), error=True)
            return None
        ok, res = self.page.guard(O.remove_optout_entry, self.page.ws, r["id"], self.remove_reason.text())
        if not ok:
            return None
        self.page.say(tr("利用停止を解除しました。") + res["note"])
        self.remove_reason.clear()
        self.refresh()
        self.page.register.refresh()
        return res


# --- 保存期間・削除 ------------------------------------------------------------------------------------------------
class RetentionTab(QWidget):
    def __init__(self, page: GovernancePage):
        super().__init__()
        self.page = page
        self.expired: list[dict] = []
        self.expired_cases: list[dict] = []
        self.purged: dict | None = None
        lay = QVBoxLayout(self)
        split = QSplitter(Qt.Horizontal)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(QLabel(tr("保存期間（取込元ごと・ケース記録）")))
        self.model = RowsModel(
            [
                ("subject", tr("対象"), lambda v, r: tr("ケース記録") if v == "casework" else source_label(v)),
                ("months", tr("保存期間"), lambda v, r: tr("{m}か月", m=v)),
                ("note", tr("備考")),
            ]
        )
        self.view = _view(self.model)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._selected())
        ll.addWidget(self.view, 1)
        ed = QGroupBox(tr("選択した対象の保存期間"))
        ef = QFormLayout(ed)
        self.months = QSpinBox()
        self.months.setRange(1, 1200)
        self.months.setSuffix(tr(" か月"))
        self.note = QLineEdit()
        self.save_btn = QPushButton(tr("保存"))
        self.save_btn.clicked.connect(lambda: self.save())
        ef.addRow(tr("保存期間"), self.months)
        ef.addRow(tr("備考"), self.note)
        ef.addRow("", self.save_btn)
        ed.setEnabled(page.can_write)
        ll.addWidget(ed)
        split.addWidget(left)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        bar.addWidget(QLabel(tr("基準日")))
        self.on = QDateEdit(_qdate(dt.date.today()))
        self.on.setCalendarPopup(True)
        self.on.setDisplayFormat("yyyy-MM-dd")
        self.on.dateChanged.connect(lambda _d: self.refresh_expired())
        bar.addWidget(self.on)
        chk = QPushButton(tr("期限切れを確認"))
        chk.clicked.connect(lambda: self.refresh_expired())
        bar.addWidget(chk)
        bar.addStretch(1)
        rl.addLayout(bar)
        self.summary = QLabel()
        rl.addWidget(self.summary)
        self.exp_model = RowsModel(
            [
                ("batch_id", tr("取込番号")),
                ("source_type", tr("取込元"), lambda v, r: source_label(v)),
                ("file_name", tr("ファイル")),
                ("as_of", tr("時点")),
                ("records", tr("件数")),
                ("retention_months", tr("保存期間"), lambda v, r: tr("{m}か月", m=v)),
            ],
            background=lambda r: EXPIRED_BG,
        )
        self.exp_view = _view(self.exp_model)
        rl.addWidget(self.exp_view, 2)
        rl.addWidget(QLabel(tr("ケース記録（終結後、保存期間を過ぎたもの。経過記録を含む）")))
        self.case_model = RowsModel(
            [
                ("case_id", tr("ケース番号")),
                ("person_id", tr("整理番号")),
                ("closed_on", tr("終結日")),
                ("progress_records", tr("経過記録")),
                ("retention_months", tr("保存期間"), lambda v, r: tr("{m}か月", m=v)),
            ],
            background=lambda r: EXPIRED_BG,
        )
        self.case_view = _view(self.case_model)
        rl.addWidget(self.case_view, 1)
        self.purge_btn = QPushButton(tr("期限切れのデータを削除…"))
        self.purge_btn.clicked.connect(lambda: self.ask_purge())
        rl.addWidget(self.purge_btn, 0, Qt.AlignRight)
        # the in-page confirmation (step two); a modal box would not be testable
        self.confirm = QFrame()
        self.confirm.setObjectName("purgeConfirm")
        self.confirm.setStyleSheet("#purgeConfirm { background:#FDECEA; border:1px solid #C00000; border-radius:4px; }")
        cl = QVBoxLayout(self.confirm)
        self.confirm_text = QLabel()
        self.confirm_text.setWordWrap(True)
        self.confirm_text.setStyleSheet("color:#9C0006;font-weight:bold;")
        cl.addWidget(self.confirm_text)
        cb = QHBoxLayout()
        cb.addStretch(1)
        self.cancel_btn = QPushButton(tr("やめる"))
        self.cancel_btn.clicked.connect(lambda: self.cancel_purge())
        self.confirm_btn = QPushButton(tr("削除を確定"))
        self.confirm_btn.setStyleSheet("color:white;background:#C00000;padding:3px 12px;")
        self.confirm_btn.clicked.connect(lambda: self.confirm_purge())
        cb.addWidget(self.cancel_btn)
        cb.addWidget(self.confirm_btn)
        cl.addLayout(cb)
        self.confirm.setVisible(False)
        rl.addWidget(self.confirm)
        split.addWidget(right)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        lay.addWidget(split, 1)
        self._armed: tuple | None = None

    def refresh(self):
        ok, rows = self.page.guard(R.retention, self.page.ws)
        if ok:
            self.model.set_rows(rows)
            _fit(self.view, 260)
        self.refresh_expired()

    def _selected(self):
        r = self.model.row(_selected(self.view))
        if r is not None:
            self.months.setValue(int(r["months"]))
            self.note.setText(r.get("note") or "")

    def select(self, subject: str) -> bool:
        for i, r in enumerate(self.model.rows):
            if r["subject"] == subject:
                self.view.selectRow(i)
                self._selected()
                return True
        return False

    def save(self) -> bool:
        r = self.model.row(_selected(self.view))
        if r is None:
            self.page.say(tr("一覧から対象を選んでください。"), error=True)
            return False
        ok, _ = self.page.guard(
            R.set_retention, self.page.ws, r["subject"], self.months.value(), self.note.text().strip() or None
        )
        if ok:
            self.page.say(tr("保存期間を {m} か月にしました（操作ログに記録）。", m=self.months.value()))
            subject = r["subject"]
            self.refresh()
            self.select(subject)
            self.page.register.refresh()
        return ok

    def on_date(self) -> dt.date:
        return _pydate(self.on.date())

    def refresh_expired(self):
        self.cancel_purge()
        ok, rows = self.page.guard(R.expired, self.page.ws, self.on_date())
        if not ok:
            return
        ok, cases = self.page.guard(R.expired_casework, self.page.ws, self.on_date())
        if not ok:
            return
        self.expired, self.expired_cases = rows, cases
        self.exp_model.set_rows(rows)
        self.case_model.set_rows(cases)
        _fit(self.exp_view, 260)
        _fit(self.case_view, 200)
        if rows or cases:
            self.summary.setText(
                tr("{d} 時点で保存期間を過ぎたデータ: {what}", d=self.on_date().isoformat(), what=self._what())
            )
            self.summary.setStyleSheet("color:#9C0006;font-weight:bold;")
        else:
            self.summary.setText(tr("{d} 時点で保存期間を過ぎたデータはありません。", d=self.on_date().isoformat()))
            self.summary.setStyleSheet("color:#1B7F3B;")
        self.purge_btn.setEnabled(self.page.can_write and self._anything())

    def _anything(self) -> bool:
        return bool(self.expired or self.expired_cases)

    def _what(self) -> str:
        parts = []
        if self.expired:
            parts.append(
                tr("{b} ファイル・{n} 件の記録", b=len(self.expired), n=sum(r["records"] for r in self.expired))
            )
        if self.expired_cases:
            parts.append(
                tr(
                    "ケース記録 {c} 件（経過記録 {p} 件）",
                    c=len(self.expired_cases),
                    p=sum(r["progress_records"] for r in self.expired_cases),
                )
            )
        return "、".join(parts)

    def ask_purge(self) -> bool:
        """Step one: show what will be deleted and wait for 削除を確定."""
        if not self.page.can_write:
            self.page.say(tr("この役割では削除できません。"), error=True)
            return False
        if not self._anything():
            self.page.say(tr("削除するデータはありません。"), error=True)
            return False
        self._armed = (self.on_date(), self._ids(self.expired, self.expired_cases))
        self.confirm_text.setText(
            tr(
                "{what}を完全に削除します。元に戻せません（バックアップからの復元を除く）。"
                "削除したことは操作ログに残ります。よろしければ「削除を確定」を押してください。",
                what=self._what(),
            )
        )
        self.confirm.setVisible(True)
        self.purge_btn.setEnabled(False)
        return True

    def cancel_purge(self):
        self._armed = None
        self.confirm.setVisible(False)
        self.purge_btn.setEnabled(self.page.can_write and self._anything())

    @staticmethod
    def _ids(batches, cases) -> tuple:
        return tuple(r["batch_id"] for r in batches), tuple(r["case_id"] for r in cases)

    def confirm_purge(self):
        """Step two: delete what step one showed (refused if the list has changed meanwhile)."""
        if self._armed is None:
            self.page.say(tr("先に「期限切れのデータを削除…」で対象を確認してください。"), error=True)
            return None
        on, batches = self._armed
        ok, current = self.page.guard(
            lambda: self._ids(R.expired(self.page.ws, on), R.expired_casework(self.page.ws, on))
        )
        if not ok or current != batches:
            self.page.say(tr("対象が変わりました。もう一度確認してください。"), error=True)
            self.refresh_expired()
            return None
        self.confirm.setVisible(False)
        self._armed = None
        return self.page.run(
            tr("保存期間を過ぎたデータの削除"),
            lambda progress: (progress(tr("削除しています…")), R.purge_expired(self.page.ws, on))[1],
            self._purged,
        )

    def _purged(self, res):
        self.purged = res
        self.page.say(
            tr(
                "{b} ファイル・{n} 件、ケース記録 {c} 件（経過記録 {p} 件）を削除しました（操作ログに記録）。",
                b=res["batches"],
                n=res["records"],
                c=res.get("cases", 0),
                p=res.get("progress_records", 0),
            )
        )
        self.refresh()
        self.page.register.refresh()
        self.page.inspection.refresh_auto()


# --- 自己点検 ------------------------------------------------------------------------------------------------------
ANSWERS = [("未回答", None), ("はい", True), ("いいえ", False)]


class InspectionTab(QWidget):
    def __init__(self, page: GovernancePage):
        super().__init__()
        self.page = page
        self.auto: dict | None = None
        self.saved: dict | None = None
        self.printed: dict | None = None
        lay = QVBoxLayout(self)
        bar = QHBoxLayout()
        bar.addWidget(QLabel(tr("年度")))
        self.year = QSpinBox()
        self.year.setRange(2000, 2100)
        self.year.setValue(fiscal_year())
        self.year.setSuffix(tr(" 年度"))
        self.year.valueChanged.connect(lambda _v: self.load())
        bar.addWidget(self.year)
        self.state = QLabel()
        bar.addWidget(self.state, 1)
        self.save_btn = QPushButton(tr("保存"))
        self.save_btn.clicked.connect(lambda: self.save())
        self.pdf_btn = QPushButton(tr("報告書をPDFで保存…"))
        self.pdf_btn.clicked.connect(lambda: self.print_pdf())
        bar.addWidget(self.save_btn)
        bar.addWidget(self.pdf_btn)
        lay.addLayout(bar)
        split = QSplitter(Qt.Horizontal)
        abox = QGroupBox(tr("データベースから自動で点検した項目"))
        al = QVBoxLayout(abox)
        self.auto_model = RowsModel(
            [("item", tr("点検項目")), ("result", tr("結果")), ("ok", tr("状態"), lambda v, r: "○" if v else "×")],
            background=lambda r: None if r["ok"] else MISSING_BG,
        )
        self.auto_view = _view(self.auto_model, stretch=1)
        self.auto_view.setWordWrap(True)
        al.addWidget(self.auto_view, 1)
        again = QPushButton(tr("もう一度点検"))
        again.clicked.connect(lambda: self.refresh_auto())
        al.addWidget(again, 0, Qt.AlignRight)
        split.addWidget(abox)
        mbox = QGroupBox(tr("個人情報保護担当が回答する項目"))
        grid = QGridLayout(mbox)
        grid.addWidget(QLabel(tr("点検項目")), 0, 0)
        grid.addWidget(QLabel(tr("回答")), 0, 1)
        grid.addWidget(QLabel(tr("備考")), 0, 2)
        self.items: dict[str, tuple[QComboBox, QLineEdit]] = {}
        for i, (key, label) in enumerate(R.MANUAL_ITEMS, 1):
            q = QLabel(tr(label))
            q.setWordWrap(True)
            combo = QComboBox()
            for text, val in ANSWERS:
                combo.addItem(tr(text), val)
            note = QLineEdit()
            grid.addWidget(q, i, 0)
            grid.addWidget(combo, i, 1)
            grid.addWidget(note, i, 2)
            self.items[key] = (combo, note)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(2, 2)
        grid.setRowStretch(len(R.MANUAL_ITEMS) + 1, 1)
        split.addWidget(mbox)
        split.setSizes([620, 740])
        lay.addWidget(split, 1)

    def refresh(self):
        self.refresh_auto()
        self.load()

    def page_shown(self):
        self.refresh_auto()

    def refresh_auto(self):
        ok, a = self.page.guard(R.self_inspection_auto, self.page.ws)
        if not ok:
            return
        self.auto = a
        idle = a["users_without_sign_in_for_a_year"]
        rows = [
            {"item": tr("1年以上サインインのない利用者"), "result": "、".join(idle) or tr("なし"), "ok": not idle},
            {
                "item": tr("役割ごとの利用者数"),
                "result": "、".join(f"{ROLES.get(k, k)} {v} 人" for k, v in a["roles"].items()),
                "ok": True,
            },
            {
                "item": tr("最後のバックアップ"),
                "result": str(a["last_backup_at"] or tr("未実施")),
                "ok": bool(a["last_backup_at"]),
            },
            {
                "item": tr("操作ログの連鎖"),
                "result": tr("{n} 件、正常", n=a["log_entries"])
                if a["log_chain_ok"]
                else tr("{n} 番で切れています", n=a["first_broken_entry"]),
                "ok": a["log_chain_ok"],
            },
            {
                "item": tr("根拠が未設定の取込元"),
                "result": "、".join(a["sources_without_legal_basis"]) or tr("なし"),
                "ok": not a["sources_without_legal_basis"],
            },
            {
                "item": tr("保存期間を過ぎた未削除のデータ"),
                "result": tr(
                    "{n} ファイル、ケース記録 {c} 件", n=a["expired_not_purged"], c=a.get("expired_cases_not_purged", 0)
                ),
                "ok": a["expired_not_purged"] == 0 and not a.get("expired_cases_not_purged"),
            },
        ]
        self.auto_model.set_rows(rows)
        self.auto_view.resizeColumnToContents(0)
        self.auto_view.resizeRowsToContents()

    def load(self):
        ok, saved = self.page.guard(R.load_self_inspection, self.page.ws, self.year.value())
        if not ok:
            return
        manual = (saved or {}).get("manual", {})
        for key, (combo, note) in self.items.items():
            combo.setCurrentIndex(combo.findData(manual.get(key)) if manual.get(key) is not None else 0)
            note.setText(manual.get(f"{key}_note", "") or "")
        if saved:
            self.state.setText(tr("保存済み（{by}、{at}）", by=saved["saved_by"] or "", at=_when(saved["saved_at"])))
        else:
            self.state.setText(tr("この年度はまだ保存されていません。"))

    def set_answer(self, key: str, value: bool | None, note: str = "") -> None:
        combo, edit = self.items[key]
        combo.setCurrentIndex(combo.findData(value) if value is not None else 0)
        edit.setText(note)

    def answers(self) -> dict:
        out = {}
        for key, (combo, note) in self.items.items():
            v = combo.currentData()
            if v is not None:
                out[key] = bool(v)
            if note.text().strip():
                out[f"{key}_note"] = note.text().strip()
        return out

    def save(self) -> bool:
        ok, res = self.page.guard(R.save_self_inspection, self.page.ws, self.year.value(), self.answers())
        if ok:
            self.saved = res
            self.page.say(tr("{y} 年度の自己点検を保存しました。", y=self.year.value()))
            self.load()
            self.refresh_auto()
        return ok

    def print_pdf(self, path: str | Path | None = None):
        year = self.year.value()
        path = path or self.page.ask_path(tr("自己点検報告書（PDF）"), f"自己点検報告書_{year}年度.pdf", "PDF (*.pdf)")
        if not path:
            return None
        if not self.save():  # the report prints what is saved
            return None
        return self.page.run(
            tr("自己点検報告書"), lambda progress: G.self_inspection_pdf(self.page.ws, year, Path(path)), self._printed
        )

    def _printed(self, res):
        self.printed = res
        self.page.say(tr("自己点検報告書を保存しました（{n} ページ）。", n=res["pages"]))
