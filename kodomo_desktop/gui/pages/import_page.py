"""取込 page: a wizard (file → source type suggested → preview with the mapping auto-filled and editable →
validation report → import with progress and Cancel) and the import history."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...core import outputs
from ...core.errors import KodomoError
from ...core.importing import fields as F
from ...core.importing import service as S
from .. import palette as pal
from ..i18n import tr
from ..widgets import DictTableModel, Notice, table_view

NOT_MAPPED = "（取り込まない・そのまま保存）"


def field_choices(source_type: str) -> list[tuple[str, str]]:
    meta = F.SOURCE_TYPES[source_type]
    out = []
    for group in ("identity", "attributes"):
        v = meta.get(group) or {}
        items = v.items() if isinstance(v, dict) else [(x if isinstance(x, str) else x.get("name"), x) for x in v]
        for key, spec in items:
            label = spec.get("label", key) if isinstance(spec, dict) else str(spec)
            out.append((key, label))  # the Japanese label only: no internal field names in the UI
    return out


class ImportWizard(QWidget):
    """① file → ② source type (suggested) and the column mapping (auto-filled, editable) over the first rows →
    ③ validation report (counts, rejected rows with reasons, CSV export) → import off the GUI thread with a
    progress dialog and キャンセル. Problems go to a notice label, never a modal box; a file path and an export
    path can be passed in (``open_file(path)``, ``export_errors(path)``), so the wizard is driven from tests."""

    imported = Signal(object)  # ImportResult, after a successful import

    def __init__(self, ws, main=None):
        super().__init__()
        self.ws, self.main = ws, main
        self.path: Path | None = None
        self.preview = None
        self.validated = None
        self.last_result = None
        self.last_op = None
        lay = QVBoxLayout(self)
        self.steps = QLabel()
        lay.addWidget(self.steps)
        self.notice = Notice("importNotice")
        lay.addWidget(self.notice)
        self.stack = QStackedWidget()
        lay.addWidget(self.stack, 1)
        # step 1: file
        p1 = QWidget()
        l1 = QVBoxLayout(p1)
        l1.addWidget(
            QLabel(
                tr(
                    "各課から受け取ったファイル（CSV・Excel）を選んでください。文字コードや見出しの位置は自動で判定します。"
                )
            )
        )
        choose = QPushButton(tr("ファイルを選ぶ… (Ctrl+O)"))
        choose.setShortcut("Ctrl+O")
        choose.clicked.connect(self.choose_file)
        l1.addWidget(choose)
        self.result = QLabel("")
        self.result.setWordWrap(True)
        l1.addWidget(self.result)
        l1.addStretch(1)
        self.stack.addWidget(p1)
        # step 2: source type + mapping preview
        p2 = QWidget()
        l2 = QVBoxLayout(p2)
        row = QHBoxLayout()
        self.source = QComboBox()
        for key, meta in F.SOURCE_TYPES.items():
            if key != "school_checklist":
                self.source.addItem(meta["label"], key)
        self.source.activated.connect(lambda *_: self.load_preview(keep_source=True))
        self.header_row = QSpinBox()
        self.header_row.setRange(0, 50)
        self.header_row.setSpecialValueText(tr("自動"))
        self.header_row.valueChanged.connect(lambda *_: self.load_preview(keep_source=True))
        row.addWidget(QLabel(tr("取込元の種類")))
        row.addWidget(self.source, 1)
        row.addWidget(QLabel(tr("見出しの行")))
        row.addWidget(self.header_row)
        l2.addLayout(row)
        self.info = QLabel()
        self.info.setWordWrap(True)
        l2.addWidget(self.info)
        l2.addWidget(
            QLabel(
                tr(
                    "列の対応（自動で設定済み。違うときは「項目」の欄で選び直してください。"
                    "黄色: 項目が決まっていない列（値はそのまま保存）　青: この画面で変更した列）"
                )
            )
        )
        self.mapping = QTableWidget(0, 3)
        self.mapping.setHorizontalHeaderLabels([tr("ファイルの列"), tr("項目"), tr("先頭の値")])
        self.mapping.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.mapping.verticalHeader().setVisible(False)
        self.mapping.setEditTriggers(QAbstractItemView.NoEditTriggers)
        l2.addWidget(self.mapping, 2)
        l2.addWidget(QLabel(tr("先頭の行（ファイルの行番号）")))
        self.sample = QTableWidget(0, 0)
        self.sample.setEditTriggers(QAbstractItemView.NoEditTriggers)
        l2.addWidget(self.sample, 1)
        nav = QHBoxLayout()
        back = QPushButton(tr("戻る"))
        back.clicked.connect(lambda: self.go(0))
        self.check_btn = QPushButton(tr("検証する →"))
        self.check_btn.clicked.connect(self.validate)
        nav.addWidget(back)
        nav.addStretch(1)
        nav.addWidget(self.check_btn)
        l2.addLayout(nav)
        self.stack.addWidget(p2)
        # step 3: validation report + import
        p3 = QWidget()
        l3 = QVBoxLayout(p3)
        self.report = QLabel()
        self.report.setWordWrap(True)
        l3.addWidget(self.report)
        l3.addWidget(QLabel(tr("取り込まない行（行番号はファイルで見える行の番号）")))
        self.errors = DictTableModel([("row", tr("行")), ("column", tr("列")), ("message", tr("理由"))])
        self.errors_view = table_view(self.errors)
        l3.addWidget(self.errors_view, 1)
        nav3 = QHBoxLayout()
        back3 = QPushButton(tr("戻る"))
        back3.clicked.connect(lambda: self.go(1))
        self.export_btn = QPushButton(tr("除外行を CSV に保存…"))
        self.export_btn.clicked.connect(lambda: self.export_errors())
        self.do_import = QPushButton(tr("取り込む"))
        self.do_import.clicked.connect(self.run_import)
        nav3.addWidget(back3)
        nav3.addWidget(self.export_btn)
        nav3.addStretch(1)
        nav3.addWidget(self.do_import)
        l3.addLayout(nav3)
        self.stack.addWidget(p3)
        self.go(0)

    def say(self, text: str = "", error: bool = True):
        self.notice.say(text, error)

    def go(self, i):
        self.stack.setCurrentIndex(i)
        names = [tr("① ファイル"), tr("② 種類と列の対応"), tr("③ 検証と取込")]
        self.steps.setText("　".join(f"<b>{n}</b>" if k == i else n for k, n in enumerate(names)))

    def choose_file(self):
        path, _ = QFileDialog.getOpenFileName(
            self, tr("取り込むファイル"), "", tr("CSV・Excel (*.csv *.tsv *.txt *.xlsx *.xls)")
        )
        if path:
            self.open_file(path)

    def open_file(self, path) -> bool:
        self.path = Path(path)
        self.say("")
        self.header_row.blockSignals(True)
        self.header_row.setValue(0)
        self.header_row.blockSignals(False)
        return self.load_preview(keep_source=False)

    def load_preview(self, keep_source: bool) -> bool:
        if not self.path:
            return False
        try:
            pv = S.preview(
                self.ws,
                self.path,
                self.source.currentData() if keep_source else None,
                header_row=self.header_row.value() or None,
            )
        except KodomoError as e:
            self.say(tr("{file} を読み込めません: {error}", file=self.path.name, error=e.message_ja))
            self.go(0)
            return False
        self.preview = pv
        self.validated = None
        if not keep_source and pv["source_type"]:
            self.source.setCurrentIndex(self.source.findData(pv["source_type"]))
        t = pv["table"]
        others = [F.SOURCE_TYPES[x]["label"] for x in pv["suggestions"][1:3] if x in F.SOURCE_TYPES]
        self.info.setText(
            tr(
                "{file}　文字コード: {encoding}　見出し: {header} 行目　データ: {n} 行",
                file=self.path.name,
                encoding=t.encoding or "Excel",
                header=t.header_row,
                n=len(t),
            )
            + (
                "　"
                + tr("推定した種類: {kind}", kind=F.SOURCE_TYPES[pv["source_type"]]["label"])
                + (tr("（ほかの候補: {others}）", others="、".join(others)) if others else "")
                if pv["source_type"]
                else ""
            )
            + ("　<b>" + tr("前回の列の対応を使っています") + "</b>" if pv["remembered"] else "")
        )
        choices = field_choices(self.source.currentData())
        self.mapping.setRowCount(len(t.headers))
        first = t.rows[0] if len(t) else []
        for i, h in enumerate(t.headers):
            self.mapping.setItem(i, 0, QTableWidgetItem(h))
            box = QComboBox()
            box.addItem(tr(NOT_MAPPED), None)
            for key, label in choices:
                box.addItem(label, key)
            cur = pv["mapping"].get(h)
            box.setCurrentIndex(max(0, box.findData(cur)))
            box.currentIndexChanged.connect(lambda _i, r=i: self._mark_row(r))
            self.mapping.setCellWidget(i, 1, box)
            self.mapping.setItem(i, 2, QTableWidgetItem("" if i >= len(first) or first[i] is None else str(first[i])))
            self._mark_row(i)
        rows = t.rows[:10]
        self.sample.setColumnCount(len(t.headers))
        self.sample.setHorizontalHeaderLabels(t.headers)
        self.sample.setRowCount(len(rows))
        self.sample.setVerticalHeaderLabels([str(n) for n in t.row_numbers[:10]])
        for r, vals in enumerate(rows):
            for c, v in enumerate(vals):
                self.sample.setItem(r, c, QTableWidgetItem("" if v is None else str(v)))
        self.go(1)
        return True

    def _mark_row(self, r):
        box = self.mapping.cellWidget(r, 1)
        item = self.mapping.item(r, 0)
        if box is None or item is None:
            return
        auto = (self.preview or {}).get("mapping", {}).get(item.text())
        changed = box.currentData() != auto
        item.setBackground(
            QColor(pal.TINT_BLUE)
            if changed
            else QColor(pal.TINT_YELLOW)
            if box.currentData() is None
            else QColor("white")
        )
        item.setToolTip(tr("この画面で変更した対応です") if changed else "")
        self.validated = None

    def headers(self) -> list[str]:
        return [self.mapping.item(i, 0).text() for i in range(self.mapping.rowCount())]

    def set_field(self, header: str, field: str | None) -> None:
        """Map the column ``header`` to ``field`` (None: leave it unmapped) — what choosing in the combo does."""
        i = self.headers().index(header)
        box = self.mapping.cellWidget(i, 1)
        k = box.findData(field) if field else 0
        if k < 0:
            raise KeyError(field)
        box.setCurrentIndex(k)

    def current_mapping(self) -> dict:
        out = {}
        for i in range(self.mapping.rowCount()):
            key = self.mapping.cellWidget(i, 1).currentData()
            out[self.mapping.item(i, 0).text()] = key if key else "-"
        return out

    def validate(self) -> bool:
        from ...core.importing.parse import parse_rows

        if self.preview is None:
            return False
        chosen = self.current_mapping()
        used: dict[str, list[str]] = {}
        for h, f in chosen.items():
            if f != "-":
                used.setdefault(f, []).append(h)
        twice = {f: hs for f, hs in used.items() if len(hs) > 1}
        if twice:
            f, hs = next(iter(twice.items()))
            self.say(
                tr(
                    "項目「{field}」に複数の列（{columns}）が割り当てられています。どれか一つにしてください。",
                    field=f,
                    columns="、".join(hs),
                )
            )
            return False
        try:
            st = self.source.currentData()
            t = self.preview["table"]
            res = parse_rows(t, st, F.merge_mapping({}, chosen))
        except KodomoError as e:
            self.say(tr("このままでは取り込めません: {error}", error=e.message_ja))
            return False
        self.say("")
        self.validated = (st, chosen)
        self.errors.set_rows(res.rejections)
        self.export_btn.setEnabled(bool(res.rejections))
        unmapped = [h for h, f in chosen.items() if f == "-"]
        self.report.setText(
            f"<b>{self.path.name}</b>（{F.SOURCE_TYPES[st]['label']}）<br>"
            + tr(
                "全 {rows} 行のうち、取り込む行 <b>{imported}</b> 行、除外する行 <b>{rejected}</b> 行。",
                rows=res.rows,
                imported=res.imported,
                rejected=res.rejected,
            )
            + (
                "<br>" + tr("項目を決めずにそのまま保存する列: {columns}", columns="、".join(unmapped))
                if unmapped
                else ""
            )
            + ("<br>" + "／".join(res.warnings) if res.warnings else "")
        )
        self.go(2)
        return True

    def export_errors(self, path=None):
        """Write the rejected rows (row, column, reason) as a UTF-8 CSV with BOM (opens in Excel)."""
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, tr("除外行"), "除外行.csv", "CSV (*.csv)")
        if not path:
            return None
        outputs.write_csv(
            path,
            ["行", "列", "理由"],
            ([e["row"], e.get("column") or "", e["message"]] for e in self.errors.rows),
            encoding="utf-8-sig",
        )
        self.ws.log("export", detail={"what": "rejected_rows", "rows": len(self.errors.rows)})
        self.say(tr("除外行 {n} 行を保存しました。", n=len(self.errors.rows)), error=False)
        return Path(path)

    def run_import(self):
        """Import off the GUI thread (ops): a progress dialog with キャンセル; returns the running Op."""
        from ..ops import run_with_progress

        if not self.validated:
            self.say(tr("先に「検証する」で内容を確かめてください。"))
            return None
        st, mapping = self.validated
        path, header_row = self.path, self.header_row.value() or None
        self.do_import.setEnabled(False)
        self.say(tr("取り込んでいます…"), error=False)

        def work(progress, cancel):
            return S.import_file(
                self.ws, path, st, mapping=mapping, header_row=header_row, progress=progress, cancel=cancel
            )

        self.last_op = run_with_progress(
            self,
            tr("取込"),
            work,
            label=tr("{file} を取り込んでいます…", file=path.name),
            on_done=self._imported,
            on_error=self._failed,
        )
        self.last_op.finished.connect(lambda: self.do_import.setEnabled(True))
        return self.last_op

    def _imported(self, res):
        self.last_result = res
        if res.duplicate_of:
            self.say(
                tr(
                    "同じ内容のファイルはすでに取り込まれています（バッチ {batch}）。何も変更していません。",
                    batch=res.duplicate_of,
                )
            )
            return
        msg = tr(
            "{file}: {imported} 行を取り込みました（除外 {rejected} 行・バッチ {batch}）。列の対応は次回のために記憶しました。",
            file=self.path.name,
            imported=res.imported,
            rejected=res.rejected,
            batch=res.batch_id,
        ) + ("　" + "／".join(res.warnings) if res.warnings else "")
        self.say(msg, error=False)
        self.result.setText(tr("前回の取込: ") + msg)
        self.go(0)
        self.imported.emit(res)

    def _failed(self, e):
        if type(e).__name__ == "Cancelled":
            self.say(tr("取込を中止しました。データベースは変更されていません。"))
        else:
            self.say(tr("取り込めませんでした: ") + (getattr(e, "message_ja", None) or f"{type(e).__name__}: {e}"))


class HistoryView(QWidget):
    """Every batch (newest first); the selected batch's rejected rows; removing a batch in two steps (no dialog)."""

    def __init__(self, ws):
        super().__init__()
        self.ws = ws
        lay = QVBoxLayout(self)
        self.model = DictTableModel(
            [
                ("batch_id", tr("番号")),
                ("label", tr("取込元")),
                ("file_name", tr("ファイル")),
                ("as_of", tr("時点")),
                ("imported_at", tr("取込日時")),
                ("imported_by", tr("取込者")),
                ("imported", tr("取込行")),
                ("rejected", tr("除外行")),
                ("current", tr("最新")),
            ]
        )
        self.view = table_view(self.model)
        self.view.setSelectionMode(QAbstractItemView.SingleSelection)
        self.view.selectionModel().currentRowChanged.connect(lambda *_: self.show_batch())
        lay.addWidget(self.view, 3)
        self.detail_title = QLabel()
        lay.addWidget(self.detail_title)
        self.rejected = DictTableModel([("row", tr("行")), ("column", tr("列")), ("message", tr("理由"))])
        lay.addWidget(table_view(self.rejected), 2)
        row = QHBoxLayout()
        self.reason = QLineEdit()
        self.reason.setPlaceholderText(tr("取り消す理由（例: 別の課のファイルを誤って取り込んだ）"))
        row.addWidget(self.reason, 1)
        self.remove_btn = QPushButton(tr("このバッチを取り消す…"))
        self.remove_btn.clicked.connect(lambda: self.remove_selected())
        row.addWidget(self.remove_btn)
        self.confirm_btn = QPushButton(tr("取り消しを確定"))
        self.confirm_btn.setStyleSheet(f"color:{pal.ERROR};font-weight:bold;")
        self.confirm_btn.clicked.connect(lambda: self.remove_selected(confirm=True))
        self.confirm_btn.setVisible(False)
        row.addWidget(self.confirm_btn)
        lay.addLayout(row)
        self.notice = Notice("batchNotice")
        lay.addWidget(self.notice)
        self.refresh()

    def refresh(self):
        self.model.set_rows(S.batch_history(self.ws))
        self.show_batch()

    def selected(self) -> dict | None:
        i = self.view.currentIndex()
        return self.model.row(i.row()) if i.isValid() else None

    def select_batch(self, batch_id: int) -> None:
        for n, r in enumerate(self.model.rows):
            if r["batch_id"] == batch_id:
                self.view.selectRow(n)
                self.view.setCurrentIndex(self.model.index(n, 0))
                return

    def show_batch(self):
        b = self.selected()
        self.confirm_btn.setVisible(False)
        can = self.ws.can("import")
        self.remove_btn.setEnabled(bool(b) and can and not (b or {}).get("removed"))
        if not b:
            self.detail_title.setText(tr("バッチを選ぶと、除外した行とその理由が表示されます。"))
            self.rejected.set_rows([])
            return
        self.detail_title.setText(tr("{f}：除外した行 {n} 件", f=b["file_name"], n=b["rejected"] or 0))
        self.rejected.set_rows(S.rejected_rows(self.ws, b["batch_id"]) if can else [])

    def remove_selected(self, confirm: bool = False):
        """First press: check and ask for confirmation on the page; second press (確定): remove and log."""
        b = self.selected()
        if not b:
            return None
        if not self.reason.text().strip():
            self.notice.error(tr("取り消す理由を入力してください。"))
            return None
        if not confirm:
            self.notice.info(
                tr(
                    "{f}（{n} 行）を取り消します。記録は一覧と名寄せから外れ、履歴には残ります。"
                    "よければ「取り消しを確定」を押してください。",
                    f=b["file_name"],
                    n=b["imported"],
                )
            )
            self.confirm_btn.setVisible(True)
            return None
        try:
            res = S.remove_batch(self.ws, b["batch_id"], self.reason.text().strip())
        except KodomoError as e:
            self.notice.error(e.message_ja)
            return None
        self.reason.clear()
        self.notice.info(
            tr(
                "取り消しました（{n} 行、操作ログに記録）。名寄せとスコアは次の実行で更新されます。",
                n=res["removed_records"],
            )
        )
        self.refresh()
        return res


class ImportPage(QWidget):
    def __init__(self, ws, main_window=None):
        super().__init__()
        lay = QVBoxLayout(self)
        self.tabs = QTabWidget()
        self.wizard = ImportWizard(ws, main_window)
        self.history = HistoryView(ws)
        self.tabs.addTab(self.wizard, tr("ファイルを取り込む"))
        self.tabs.addTab(self.history, tr("取込の履歴"))
        self.tabs.currentChanged.connect(lambda i: i == 1 and self.history.refresh())
        self.wizard.imported.connect(lambda _res: self.history.refresh())
        lay.addWidget(self.tabs)
