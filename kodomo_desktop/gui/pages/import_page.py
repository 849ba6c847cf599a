"""取込 page: a wizard (file → source type suggested → preview with the mapping auto-filled and editable →
validation report → import with progress and Cancel) and the import history."""
from __future__ import annotations

import csv
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QMessageBox, QProgressDialog,
                               QPushButton, QSpinBox, QStackedWidget, QTableWidget, QTableWidgetItem, QTabWidget,
                               QVBoxLayout, QWidget, QApplication)

from ...core.errors import KodomoError
from ...core.importing import fields as F
from ...core.importing import service as S
from .casework_page import DictTableModel, table_view

NOT_MAPPED = "（取り込まない・そのまま保存）"


def field_choices(source_type: str) -> list[tuple[str, str]]:
    meta = F.SOURCE_TYPES[source_type]
    out = []
    for group in ("identity", "attributes"):
        v = meta.get(group) or {}
        items = v.items() if isinstance(v, dict) else [(x if isinstance(x, str) else x.get("name"), x) for x in v]
        for key, spec in items:
            label = spec.get("label", key) if isinstance(spec, dict) else str(spec)
            out.append((key, f"{label}（{key}）"))
    return out


class ImportWizard(QWidget):
    def __init__(self, ws, main=None):
        super().__init__()
        self.ws, self.main = ws, main
        self.path: Path | None = None
        self.preview = None
        lay = QVBoxLayout(self)
        self.steps = QLabel()
        lay.addWidget(self.steps)
        self.stack = QStackedWidget()
        lay.addWidget(self.stack, 1)
        # step 1: file
        p1 = QWidget()
        l1 = QVBoxLayout(p1)
        l1.addWidget(QLabel("各課から受け取ったファイル（CSV・Excel）を選んでください。文字コードや見出しの位置は自動で判定します。"))
        choose = QPushButton("ファイルを選ぶ… (Ctrl+O)")
        choose.setShortcut("Ctrl+O")
        choose.clicked.connect(self.choose_file)
        l1.addWidget(choose)
        l1.addStretch(1)
        self.stack.addWidget(p1)
        # step 2: source type + mapping preview
        p2 = QWidget()
        l2 = QVBoxLayout(p2)
        row = QHBoxLayout()
        self.source = QComboBox()
        for key, meta in F.SOURCE_TYPES.items():
            if key != "school_checklist":
                self.source.addItem(f"{meta['label']}（{key}）", key)
        self.source.activated.connect(lambda *_: self.load_preview(keep_source=True))
        self.header_row = QSpinBox()
        self.header_row.setRange(0, 50)
        self.header_row.setSpecialValueText("自動")
        self.header_row.valueChanged.connect(lambda *_: self.load_preview(keep_source=True))
        row.addWidget(QLabel("取込元の種類"))
        row.addWidget(self.source, 1)
        row.addWidget(QLabel("見出しの行"))
        row.addWidget(self.header_row)
        l2.addLayout(row)
        self.info = QLabel()
        l2.addWidget(self.info)
        l2.addWidget(QLabel("列の対応（自動で設定済み。違うときは右の欄で選び直してください）"))
        self.mapping = QTableWidget(0, 3)
        self.mapping.setHorizontalHeaderLabels(["ファイルの列", "項目", "先頭の値"])
        self.mapping.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        l2.addWidget(self.mapping, 1)
        self.sample = QTableWidget(0, 0)
        l2.addWidget(self.sample, 1)
        nav = QHBoxLayout()
        back = QPushButton("戻る")
        back.clicked.connect(lambda: self.go(0))
        check = QPushButton("検証する →")
        check.clicked.connect(self.validate)
        nav.addWidget(back)
        nav.addStretch(1)
        nav.addWidget(check)
        l2.addLayout(nav)
        self.stack.addWidget(p2)
        # step 3: validation report + import
        p3 = QWidget()
        l3 = QVBoxLayout(p3)
        self.report = QLabel()
        l3.addWidget(self.report)
        self.errors = DictTableModel([("row", "行"), ("column", "列"), ("message", "理由")])
        l3.addWidget(table_view(self.errors), 1)
        nav3 = QHBoxLayout()
        back3 = QPushButton("戻る")
        back3.clicked.connect(lambda: self.go(1))
        export = QPushButton("除外行を CSV に保存…")
        export.clicked.connect(self.export_errors)
        self.do_import = QPushButton("取り込む")
        self.do_import.clicked.connect(self.run_import)
        nav3.addWidget(back3)
        nav3.addWidget(export)
        nav3.addStretch(1)
        nav3.addWidget(self.do_import)
        l3.addLayout(nav3)
        self.stack.addWidget(p3)
        self.go(0)

    def go(self, i):
        self.stack.setCurrentIndex(i)
        names = ["① ファイル", "② 種類と列の対応", "③ 検証と取込"]
        self.steps.setText("　".join(f"<b>{n}</b>" if k == i else n for k, n in enumerate(names)))

    def choose_file(self):
        path, _ = QFileDialog.getOpenFileName(self, "取り込むファイル", "", "CSV・Excel (*.csv *.tsv *.txt *.xlsx *.xls)")
        if path:
            self.open_file(path)

    def open_file(self, path):
        self.path = Path(path)
        self.header_row.blockSignals(True)
        self.header_row.setValue(0)
        self.header_row.blockSignals(False)
        self.load_preview(keep_source=False)

    def load_preview(self, keep_source: bool):
        if not self.path:
            return
        try:
            pv = S.preview(self.ws, self.path, self.source.currentData() if keep_source else None,
                           header_row=self.header_row.value() or None)
        except KodomoError as e:
            QMessageBox.warning(self, "読み込めません", e.message_ja)
            return
        self.preview = pv
        if not keep_source and pv["source_type"]:
            self.source.setCurrentIndex(self.source.findData(pv["source_type"]))
        t = pv["table"]
        self.info.setText(f"{self.path.name}　文字コード: {t.encoding or 'Excel'}　見出し: {t.header_row} 行目　"
                          f"データ: {len(t)} 行" + ("　（前回の対応を使用）" if pv["remembered"] else ""))
        choices = field_choices(self.source.currentData())
        self.mapping.setRowCount(len(t.headers))
        first = t.rows[0] if len(t) else []
        for i, h in enumerate(t.headers):
            self.mapping.setItem(i, 0, QTableWidgetItem(h))
            box = QComboBox()
            box.addItem(NOT_MAPPED, None)
            for key, label in choices:
                box.addItem(label, key)
            cur = pv["mapping"].get(h)
            box.setCurrentIndex(max(0, box.findData(cur)))
            self.mapping.setCellWidget(i, 1, box)
            self.mapping.setItem(i, 2, QTableWidgetItem(str(first[i]) if i < len(first) else ""))
        rows = t.rows[:10]
        self.sample.setColumnCount(len(t.headers))
        self.sample.setHorizontalHeaderLabels(t.headers)
        self.sample.setRowCount(len(rows))
        self.sample.setVerticalHeaderLabels([str(n) for n in t.row_numbers[:10]])
        for r, vals in enumerate(rows):
            for c, v in enumerate(vals):
                self.sample.setItem(r, c, QTableWidgetItem("" if v is None else str(v)))
        self.go(1)

    def current_mapping(self) -> dict:
        out = {}
        for i in range(self.mapping.rowCount()):
            key = self.mapping.cellWidget(i, 1).currentData()
            out[self.mapping.item(i, 0).text()] = key if key else "-"
        return out

    def validate(self):
        from ...core.importing.parse import parse_rows
        try:
            st = self.source.currentData()
            t = self.preview["table"]
            mapping = F.merge_mapping({}, self.current_mapping())
            res = parse_rows(t, st, mapping)
        except KodomoError as e:
            QMessageBox.warning(self, "このままでは取り込めません", e.message_ja)
            return
        self.validated = (st, self.current_mapping())
        errs = res.rejections
        self.errors.set_rows(errs)
        self.report.setText(f"全 {res.rows} 行のうち、取り込む行 {res.imported} 行、除外する行 {res.rejected} 行。"
                            + ("　" + "／".join(res.warnings) if res.warnings else ""))
        self.go(2)

    def export_errors(self):
        path, _ = QFileDialog.getSaveFileName(self, "除外行", "除外行.csv", "CSV (*.csv)")
        if path:
            with open(path, "w", encoding="utf-8-sig", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(["行", "列", "理由"])
                for e in self.errors.rows:
                    w.writerow([e["row"], e["column"], e["message"]])
            self.ws.log("export", detail={"what": "rejected_rows", "rows": len(self.errors.rows)})

    def run_import(self):
        st, mapping = self.validated
        dlg = QProgressDialog("取り込んでいます…", "キャンセル", 0, 100, self)
        dlg.setWindowModality(Qt.WindowModal)
        dlg.setMinimumDuration(0)

        def progress(done, total):
            dlg.setMaximum(max(total, 1))
            dlg.setValue(done)
            QApplication.processEvents()
        try:
            res = S.import_file(self.ws, self.path, st, mapping=mapping, header_row=self.header_row.value() or None,
                                progress=progress, cancel=dlg.wasCanceled)
        except KodomoError as e:
            dlg.close()
            QMessageBox.warning(self, "取り込めませんでした", e.message_ja)
            return
        dlg.close()
        self.last_result = res
        msg = (f"同じ内容のファイルはすでに取り込まれています（バッチ {res.duplicate_of}）。" if res.duplicate_of else
               f"{res.imported} 行を取り込みました（除外 {res.rejected} 行）。")
        if not getattr(self, "quiet", False):
            QMessageBox.information(self, "取込完了", msg)
        self.go(0)


class HistoryView(QWidget):
    def __init__(self, ws):
        super().__init__()
        self.ws = ws
        lay = QVBoxLayout(self)
        self.model = DictTableModel([("batch_id", "番号"), ("label", "取込元"), ("file_name", "ファイル"),
                                     ("as_of", "時点"), ("imported_at", "取込日時"), ("imported_by", "取込者"),
                                     ("imported", "取込行"), ("rejected", "除外行"), ("current", "最新")])
        lay.addWidget(table_view(self.model), 1)
        self.refresh()

    def refresh(self):
        self.model.set_rows(S.batch_history(self.ws))


class ImportPage(QWidget):
    def __init__(self, ws, main_window=None):
        super().__init__()
        lay = QVBoxLayout(self)
        self.tabs = QTabWidget()
        self.wizard = ImportWizard(ws, main_window)
        self.history = HistoryView(ws)
        self.tabs.addTab(self.wizard, "ファイルを取り込む")
        self.tabs.addTab(self.history, "取込の履歴")
        self.tabs.currentChanged.connect(lambda i: i == 1 and self.history.refresh())
        lay.addWidget(self.tabs)
