"""取込 page: a wizard (file → source type suggested → preview with the mapping auto-filled and editable →
validation report → import with progress and Cancel) and the import history."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
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
from ...core.calendar import wareki, wareki_and_western
from ...core.errors import Cancelled, KodomoError
from ...core.importing import fields as F
from ...core.importing import service as S
from .. import palette as pal
from ..i18n import tr
from ..models import LazyRowsModel
from ..widgets import DictTableModel, Notice, forget_rows, table_view

if TYPE_CHECKING:  # annotations only: the GUI gets its workspace from the caller
    from ...core.workspace import Workspace


def _lazy_view(model: LazyRowsModel, widths: tuple[int, ...]):
    """A table over a lazy list: sortable by its header (in SQL), fixed column widths (sizing to the contents
    would read every row), the last column stretched."""
    v = table_view(model)
    hdr = v.horizontalHeader()
    hdr.setSectionResizeMode(QHeaderView.Interactive)
    for i, w in enumerate(widths):
        v.setColumnWidth(i, w)
    v.setSortingEnabled(True)
    return v


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

    def __init__(self, ws: Workspace, main=None):
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
        prow = QHBoxLayout()
        prow.addWidget(choose)
        folder = QPushButton(tr("フォルダーから一括取込…"))
        folder.setToolTip(
            tr("フォルダーの sources.csv（file_name, source_type, as_of）に書かれたファイルをまとめて取り込みます")
        )
        folder.clicked.connect(self.choose_folder)
        prow.addWidget(folder)
        prow.addStretch(1)
        prow.addWidget(QLabel(tr("ファイルのパスワード（ある場合）")))
        self.file_password = QLineEdit()
        self.file_password.setEchoMode(QLineEdit.Password)
        self.file_password.setMaximumWidth(220)
        prow.addWidget(self.file_password)
        l1.addLayout(prow)
        self.result = QLabel("")
        self.result.setWordWrap(True)
        l1.addWidget(self.result)
        self.batch_results = DictTableModel(
            [
                ("file", tr("ファイル")),
                ("source", tr("取込元")),
                ("as_of", tr("時点")),
                ("imported", tr("取込行")),
                ("rejected", tr("除外行")),
                ("outcome", tr("結果")),
            ]
        )
        self.batch_view = table_view(self.batch_results)
        self.batch_view.setVisible(False)
        l1.addWidget(self.batch_view, 1)
        self.force_folder = QPushButton(tr("止めたファイルを確認のうえ取り込む"))
        self.force_folder.setVisible(False)
        self.force_folder.clicked.connect(lambda: self.import_folder(self._folder, force=True, only_refused=True))
        l1.addWidget(self.force_folder)
        l1.addStretch(1)
        self.stack.addWidget(p1)
        self._folder = None
        self._folder_refused: list = []
        # step 2: source type + mapping preview
        p2 = QWidget()
        l2 = QVBoxLayout(p2)
        row = QHBoxLayout()
        self.source = QComboBox()
        for key, meta in F.SOURCE_TYPES.items():
            label = tr("観察チェックリスト（学校からの返却）") if key == "school_checklist" else tr(meta["label"])
            self.source.addItem(label, key)
        self.source.activated.connect(lambda *_: self.load_preview(keep_source=True))
        self.header_row = QSpinBox()
        self.header_row.setRange(0, 50)
        self.header_row.setSpecialValueText(tr("自動"))
        self.header_row.valueChanged.connect(lambda *_: self.load_preview(keep_source=True))
        row.addWidget(QLabel(tr("取込元の種類")))
        row.addWidget(self.source, 1)
        row.addWidget(QLabel(tr("見出しの行")))
        row.addWidget(self.header_row)
        row.addWidget(QLabel(tr("時点")))
        self.as_of = QLineEdit()
        self.as_of.setPlaceholderText(tr("例: 令和8年10月1日"))
        self.as_of.setMaximumWidth(170)
        self.as_of.textChanged.connect(lambda *_: self._show_as_of())
        row.addWidget(self.as_of)
        l2.addLayout(row)
        self.as_of_note = QLabel()
        self.as_of_note.setWordWrap(True)
        l2.addWidget(self.as_of_note)
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
        self.confirm_box = QLabel()
        self.confirm_box.setWordWrap(True)
        self.confirm_box.setObjectName("importConfirm")
        self.confirm_box.setStyleSheet(
            f"background:{pal.TINT_YELLOW};border:1px solid {pal.ERROR};padding:8px;color:{pal.ERROR};"
        )
        self.confirm_box.setVisible(False)
        l3.addWidget(self.confirm_box)
        nav3 = QHBoxLayout()
        back3 = QPushButton(tr("戻る"))
        back3.clicked.connect(lambda: self.go(1))
        self.export_btn = QPushButton(tr("除外行を CSV に保存…"))
        self.export_btn.clicked.connect(lambda: self.export_errors())
        self.do_import = QPushButton(tr("取り込む"))
        self.do_import.clicked.connect(lambda: self.run_import())
        self.force_import = QPushButton(tr("内容を確かめました。このまま取り込む"))
        self.force_import.setStyleSheet(f"color:{pal.ERROR};font-weight:bold;")
        self.force_import.setVisible(False)
        self.force_import.clicked.connect(lambda: self.run_import(force=True))
        nav3.addWidget(back3)
        nav3.addWidget(self.export_btn)
        nav3.addStretch(1)
        nav3.addWidget(self.force_import)
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

    # -- a folder with its manifest: the month's files in one go -------------------------------------------------
    def choose_folder(self):
        folder = QFileDialog.getExistingDirectory(self, tr("sources.csv のあるフォルダー"))
        if folder:
            self.import_folder(folder)

    def import_folder(self, folder, force: bool = False, only_refused: bool = False):
        """Every file the folder's sources.csv lists, each its own batch (as ``import --manifest``); returns the
        running Op. After it, the table lists each file's outcome; files the guards stopped can be imported with
        「止めたファイルを確認のうえ取り込む」."""
        from ...core.importing.manifest import import_manifest, read_manifest
        from ..ops import run_with_progress

        try:
            entries = read_manifest(Path(folder))
        except KodomoError as e:
            self.say(e.message_ja)
            return None
        if only_refused:
            entries = [e for e in entries if e.file_name in self._folder_refused]
            if not entries:
                return None
        self._folder = Path(folder)
        password = self.file_password.text() or None
        self.say(tr("{n} ファイルを取り込んでいます…", n=len(entries)), error=False)

        def work(progress, cancel):
            return import_manifest(self.ws, entries, force=force, progress=progress, file_password=password)

        self.last_op = run_with_progress(
            self, tr("一括取込"), work, label=tr("フォルダーのファイルを取り込んでいます…"), on_done=self._folder_done,
            on_error=lambda e: self.say(tr("取り込めませんでした: ") + (getattr(e, "message_ja", None) or str(e))),
        )  # fmt: skip
        return self.last_op

    def _folder_done(self, results):
        rows = []
        for r in results:
            if r.get("refused"):
                outcome = tr("止めました: ") + "／".join(r.get("findings") or [r.get("message", "")])
            elif r.get("duplicate_of"):
                outcome = tr("取込済みのファイルです（バッチ {b}）", b=r["duplicate_of"])
            else:
                outcome = tr("取り込みました（バッチ {b}）", b=r["batch_id"]) + (
                    "　" + "／".join(r["warnings"]) if r.get("warnings") else ""
                )
            rows.append(
                {
                    "file": r["file"],
                    "source": F.SOURCE_TYPES.get(r["source_type"], {}).get("label", r["source_type"]),
                    "as_of": wareki(dt.date.fromisoformat(r["as_of"])) if r.get("as_of") else "",
                    "imported": r.get("imported", 0),
                    "rejected": r.get("rejected", 0),
                    "outcome": outcome,
                }
            )
        self.batch_results.set_rows(rows)
        self.batch_view.setVisible(True)
        self._folder_refused = [r["file"] for r in results if r.get("refused") and r.get("findings")]
        self.force_folder.setVisible(bool(self._folder_refused))
        done = sum(1 for r in results if r.get("batch_id"))
        refused = sum(1 for r in results if r.get("refused"))
        self.say(
            tr("{n} ファイル中 {done} ファイルを取り込みました。", n=len(results), done=done)
            + ("　" + tr("{k} ファイルは止めました（表の「結果」を見てください）。", k=refused) if refused else ""),
            error=bool(refused),
        )
        self.last_result = results
        if done:
            self.imported.emit(results)

    def open_file(self, path) -> bool:
        self.path = Path(path)
        self.say("")
        self.header_row.blockSignals(True)
        self.header_row.setValue(0)
        self.header_row.blockSignals(False)
        return self.load_preview(keep_source=False)

    def _checklist_mode(self) -> bool:
        """A school's returned 観察チェックリスト: matched by row key at import, no column mapping, no 時点."""
        self.preview = {"table": None, "mapping": {}, "remembered": None, "checklist": True}
        self.validated = None
        self._hide_confirm()
        self.source.setCurrentIndex(self.source.findData("school_checklist"))
        self.mapping.setRowCount(0)
        self.sample.setRowCount(0)
        self.sample.setColumnCount(0)
        self.info.setText(
            tr(
                "{file}　学校から返ってきた観察チェックリストです。配布したときの行キーで照合します。",
                file=self.path.name,
            )
        )
        self.as_of.setText("")
        self.as_of_note.setText(tr("チェックリストの時点は、配布したラウンドのものを使います。"))
        self.as_of_note.setStyleSheet("")
        self.go(1)
        return True

    def load_preview(self, keep_source: bool) -> bool:
        if not self.path:
            return False
        from ...core.importing.readers import sheet_names

        wants = self.source.currentData() if keep_source else None
        if wants == "school_checklist" or (
            not keep_source and "チェックリスト" in sheet_names(self.path, self.file_password.text() or None)
        ):
            return self._checklist_mode()
        try:
            pv = S.preview(
                self.ws,
                self.path,
                self.source.currentData() if keep_source else None,
                header_row=self.header_row.value() or None,
                file_password=self.file_password.text() or None,
            )
        except KodomoError as e:
            self.say(tr("{file} を読み込めません: {error}", file=self.path.name, error=e.message_ja))
            self.go(0)
            return False
        self.preview = pv
        self.validated = None
        self._hide_confirm()
        if not keep_source and pv["source_type"]:
            self.source.setCurrentIndex(self.source.findData(pv["source_type"]))
        t = pv["table"]
        if not keep_source:  # the extract's date as the department wrote it — never today by itself
            from ...core.importing.asof import guess_as_of

            g = guess_as_of(self.path.name, t.title)
            self._as_of_from = g[1] if g else None
            self.as_of.blockSignals(True)
            self.as_of.setText(wareki(g[0]) if g else "")
            self.as_of.blockSignals(False)
            self._show_as_of()
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
                box.addItem(tr(label), key)
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
        st = self.source.currentData()
        if st == "school_checklist":  # matched by the row key the template carries: no mapping, no 時点
            self.say("")
            self.validated = (st, {})
            self.errors.set_rows([])
            self.export_btn.setEnabled(False)
            self.report.setText(
                f"<b>{self.path.name}</b>（{tr('観察チェックリスト（学校からの返却）')}）<br>"
                + tr(
                    "学校から返ってきたチェックリストは、配布したときの行キーで照合して取り込みます（氏名では照合しません）。"
                )
            )
            self._hide_confirm()
            self.go(2)
            return True
        as_of = self.as_of_date()
        if as_of is None:
            self.say(
                tr("この抽出の時点（基準日）を入力してください（例: 令和8年10月1日）。今日の日付は自動では使いません。")
            )
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
            t = self.preview["table"]
            res = parse_rows(t, st, F.merge_mapping({}, chosen), as_of)
        except KodomoError as e:
            self.say(tr("このままでは取り込めません: {error}", error=e.message_ja))
            return False
        self.say("")
        self._hide_confirm()
        self.validated = (st, chosen)
        self.errors.set_rows(res.rejections)
        self.export_btn.setEnabled(bool(res.rejections))
        unmapped = [h for h, f in chosen.items() if f == "-"]
        self.report.setText(
            f"<b>{self.path.name}</b>（{F.SOURCE_TYPES[st]['label']}・{wareki(as_of)}時点）<br>"
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

    def run_import(self, force: bool = False):
        """Import off the GUI thread (ops): a progress dialog with キャンセル; returns the running Op. When the guards
        stop the import, the figures show on this step and 「このまま取り込む」 runs it again with ``force``."""
        from ..ops import run_with_progress

        if not self.validated:
            self.say(tr("先に「検証する」で内容を確かめてください。"))
            return None
        st, mapping = self.validated
        path, header_row = self.path, self.header_row.value() or None
        as_of = self.as_of_date() if st != "school_checklist" else None
        password = self.file_password.text() or None
        self.do_import.setEnabled(False)
        self.force_import.setEnabled(False)
        self.say(tr("取り込んでいます…"), error=False)

        def work(progress, cancel):
            return S.import_file(
                self.ws,
                path,
                st,
                mapping=mapping or None,
                header_row=header_row,
                as_of=as_of,
                progress=progress,
                cancel=cancel,
                force=force,
                file_password=password,
            )

        self.last_op = run_with_progress(
            self,
            tr("取込"),
            work,
            label=tr("{file} を取り込んでいます…", file=path.name),
            on_done=self._imported,
            on_error=self._failed,
        )
        self.last_op.finished.connect(lambda: (self.do_import.setEnabled(True), self.force_import.setEnabled(True)))
        return self.last_op

    # -- 時点 --------------------------------------------------------------------------------------------------
    def as_of_date(self):
        """The 時点 typed or read from the file (和暦 or 西暦); None when empty or unreadable."""
        from ...core.importing.values import parse_date

        t = self.as_of.text().strip()
        if not t:
            return None
        v = parse_date(t).value
        return v if isinstance(v, dt.date) else None

    def _show_as_of(self):
        d = self.as_of_date()
        if d is not None:
            src = getattr(self, "_as_of_from", None) if self.as_of.text().strip() == wareki(d) else None
            self.as_of_note.setText(
                tr("時点: {date}", date=wareki_and_western(d))
                + ("　" + tr("（{where}から読み取りました。違うときは直してください）", where=src) if src else "")
            )
            self.as_of_note.setStyleSheet("")
        else:
            self.as_of_note.setText(
                tr("時点（基準日）がファイル名にも見出しにも見つかりません。抽出の基準日を入力してください。")
                if not self.as_of.text().strip()
                else tr(
                    "「{value}」を日付として読めません（例: 令和8年10月1日、2026/10/01）。", value=self.as_of.text()
                )
            )
            self.as_of_note.setStyleSheet(f"color:{pal.ERROR};")
        self.validated = None

    # -- the guards' confirmation ----------------------------------------------------------------------------
    def _hide_confirm(self):
        self.confirm_box.setVisible(False)
        self.force_import.setVisible(False)

    def _show_confirm(self, e):
        items = "".join(f"<li>{f}</li>" for f in getattr(e, "findings", []))
        self.confirm_box.setText(
            "<b>"
            + tr("取り込む前に確認してください。いまの抽出と比べて、次の点が不自然です。")
            + f"</b><ul>{items}</ul>"
            + tr("ファイルと取込元の種類が正しく、このまま取り込んでよければ「このまま取り込む」を押してください。")
            + "<br>"
            + tr("データベースはまだ変更されていません。")
        )
        self.confirm_box.setVisible(True)
        self.force_import.setVisible(True)
        self.go(2)

    def _imported(self, res):
        self.last_result = res
        self._hide_confirm()
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
        if getattr(e, "findings", None):
            self.say(tr("取り込む前に確認が必要です（下の説明を読んでください）。"))
            self._show_confirm(e)
            return
        if isinstance(e, Cancelled):
            self.say(tr("取込を中止しました。データベースは変更されていません。"))
        else:
            self.say(tr("取り込めませんでした: ") + (getattr(e, "message_ja", None) or f"{type(e).__name__}: {e}"))


class HistoryView(QWidget):
    """Every batch (newest first); the selected batch's rejected rows; removing a batch in two steps (no dialog).

    Both lists fetch a page at a time as they scroll and are filtered and ordered in SQL (``batch_count`` /
    ``batch_page``, ``rejected_count`` / ``rejected_page``): years of monthly school extracts, and a bad file's tens
    of thousands of rejected rows, open at once."""

    def __init__(self, ws: Workspace):
        super().__init__()
        self.ws = ws
        lay = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.source = QComboBox()
        self.source.addItem(tr("（すべての取込元）"), None)
        for st, meta in F.SOURCE_TYPES.items():
            self.source.addItem(tr(meta.get("label", st)), st)
        self.source.currentIndexChanged.connect(lambda *_: self.refresh())
        bar.addWidget(self.source)
        self.query = QLineEdit()
        self.query.setPlaceholderText(tr("ファイル名・取込番号で絞り込む"))
        self.query.setClearButtonEnabled(True)
        self.query.returnPressed.connect(self.refresh)
        bar.addWidget(self.query, 1)
        self.count = QLabel()
        bar.addWidget(self.count)
        lay.addLayout(bar)
        self.model = LazyRowsModel(
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
            ],
            lambda **f: S.batch_count(self.ws, **f),
            lambda limit, offset, order, desc, **f: S.batch_page(self.ws, limit, offset, order, desc, **f),
            self,
            sort_keys={k: k for k in S.BATCH_ORDERS} | {"batch_id": "id", "label": "source_type"},
            order="id",
            descending=True,
        )
        self.view = _lazy_view(self.model, (60, 130, 300, 90, 150, 90, 70, 70))
        self.view.horizontalHeader().setSortIndicator(0, Qt.DescendingOrder)
        self.view.setSelectionMode(QAbstractItemView.SingleSelection)
        self.view.selectionModel().currentRowChanged.connect(lambda *_: self.show_batch())
        lay.addWidget(self.view, 3)
        drow = QHBoxLayout()
        self.detail_title = QLabel()
        drow.addWidget(self.detail_title, 1)
        self.rejected_query = QLineEdit()
        self.rejected_query.setPlaceholderText(tr("列・理由・行で絞り込む"))
        self.rejected_query.setClearButtonEnabled(True)
        self.rejected_query.returnPressed.connect(self.show_batch)
        drow.addWidget(self.rejected_query)
        lay.addLayout(drow)
        self.rejected = LazyRowsModel(
            [("row", tr("行")), ("column", tr("列")), ("message", tr("理由"))],
            parent=self,
            sort_keys={"row": "row", "column": "column", "message": "message"},
            order="row",
        )
        self.rejected_view = _lazy_view(self.rejected, (70, 160))
        self.rejected_view.horizontalHeader().setSortIndicator(0, Qt.AscendingOrder)
        lay.addWidget(self.rejected_view, 2)
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
        if self.ws.locked:
            return
        n = self.model.set_filters(source_type=self.source.currentData(), query=self.query.text().strip() or None)
        total = S.batch_count(self.ws) if self.source.currentData() or self.query.text().strip() else n
        self.count.setText(tr("{n} 件", n=n) if n == total else tr("{total} 件中 {n} 件", total=total, n=n))
        self.show_batch()

    def selected(self) -> dict | None:
        i = self.view.currentIndex()
        return self.model.row(i.row()) if i.isValid() else None

    def select_batch(self, batch_id: int) -> None:
        n = self.model.find(lambda r: r["batch_id"] == batch_id)
        if n >= 0:
            self.view.selectRow(n)
            self.view.setCurrentIndex(self.model.index(n, 0))
            self.view.scrollTo(self.model.index(n, 0))

    def show_batch(self):
        b = self.selected()
        self.confirm_btn.setVisible(False)
        can = self.ws.can("import")
        self.remove_btn.setEnabled(bool(b) and can and not (b or {}).get("removed"))
        if not b or not can:
            self.detail_title.setText(tr("バッチを選ぶと、除外した行とその理由が表示されます。"))
            self.rejected.set_rows([])
            return
        bid = b["batch_id"]
        self.rejected.set_source(
            lambda **f: S.rejected_count(self.ws, bid, **f),
            lambda limit, offset, order, desc, **f: S.rejected_page(self.ws, bid, limit, offset, order, desc, **f),
        )
        q = self.rejected_query.text().strip()
        n = self.rejected.set_filters(query=q or None)
        title = tr("{f}：除外した行 {n} 件", f=b["file_name"], n=b["rejected"] or 0)
        if q:
            title += "　" + tr("（絞り込み {n} 件）", n=n)
        self.detail_title.setText(title)

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
        again = res.get("current_again") or []
        self.notice.info(
            tr(
                "取り消しました（{n} 行、操作ログに記録）。名寄せとスコアは次の実行で更新されます。",
                n=res["removed_records"],
            )
            + (
                "　" + tr("前の抽出（取込番号 {ids}）が最新に戻りました。", ids="、".join(map(str, again)))
                if again
                else ""
            )
        )
        self.refresh()
        return res


class UnlinkedView(QWidget):
    """Rows 名寄せ left unlinked: pick one, find the person (candidates by name, kana, birth date — or search),
    and link it, or mark "not in our registry". Decisions stick across re-runs (the review queue's decisions)."""

    def __init__(self, ws: Workspace):
        super().__init__()
        from ...core.linkage import unlinked as U

        self.ws, self.U = ws, U
        lay = QVBoxLayout(self)
        lay.addWidget(
            QLabel(
                tr(
                    "名寄せで誰にもつながらなかった行です。行を選び、候補から本人を選んでつなぐか、この町の住民でない方なら「住民ではない」としてください。"
                )
            )
        )
        self.model = DictTableModel(
            [
                ("source", tr("取込元")),
                ("file_name", tr("ファイル")),
                ("row", tr("行")),
                ("name", tr("氏名")),
                ("name_kana", tr("カナ")),
                ("birth_text", tr("生年月日")),
                ("address", tr("住所")),
            ]
        )
        self.view = table_view(self.model)
        self.view.setSelectionMode(QAbstractItemView.SingleSelection)
        self.view.selectionModel().currentRowChanged.connect(lambda *_: self.show_candidates())
        lay.addWidget(self.view, 3)
        srow = QHBoxLayout()
        self.query = QLineEdit()
        self.query.setPlaceholderText(tr("氏名・カナ・宛名番号で探す"))
        self.query.returnPressed.connect(lambda: self.show_candidates())
        srow.addWidget(self.query, 1)
        find = QPushButton(tr("探す"))
        find.clicked.connect(lambda: self.show_candidates())
        srow.addWidget(find)
        lay.addLayout(srow)
        self.cands = DictTableModel(
            [
                ("name", tr("氏名")),
                ("name_kana", tr("カナ")),
                ("birth_text", tr("生年月日")),
                ("address", tr("住所")),
                ("registry", tr("住民基本台帳")),
            ]
        )
        self.cand_view = table_view(self.cands)
        self.cand_view.setSelectionMode(QAbstractItemView.SingleSelection)
        lay.addWidget(self.cand_view, 2)
        brow = QHBoxLayout()
        self.link_btn = QPushButton(tr("この人につなぐ"))
        self.link_btn.clicked.connect(lambda: self.link_selected())
        self.none_btn = QPushButton(tr("この町の住民ではない"))
        self.none_btn.clicked.connect(lambda: self.not_in_registry())
        brow.addStretch(1)
        brow.addWidget(self.none_btn)
        brow.addWidget(self.link_btn)
        lay.addLayout(brow)
        self.notice = Notice("unlinkedNotice")
        lay.addWidget(self.notice)
        self.enabled = ws.can("link.review")
        for w in (self.link_btn, self.none_btn):
            w.setEnabled(self.enabled)

    def refresh(self):
        if not self.enabled:
            self.model.set_rows([])
            self.notice.info(tr("この役割では、つながらなかった行は扱えません。"))
            return
        rows = self.U.unlinked_rows(self.ws)
        for r in rows:
            r["birth_text"] = wareki(r["birth_date"])
        self.model.set_rows(rows)
        self.cands.set_rows([])
        if not rows:
            self.notice.info(tr("つながらなかった行はありません（名寄せを実行した後の状態です）。"))

    def selected(self) -> dict | None:
        i = self.view.currentIndex()
        return self.model.row(i.row()) if i.isValid() else None

    def select_row(self, n: int) -> None:
        self.view.selectRow(n)
        self.view.setCurrentIndex(self.model.index(n, 0))

    def show_candidates(self):
        r = self.selected()
        q = self.query.text().strip()
        if not r and not q:
            self.cands.set_rows([])
            return
        rows = self.U.person_candidates(self.ws, r["record_id"] if r else None, q)
        for p in rows:
            p["birth_text"] = wareki(p["birth_date"])
            p["registry"] = tr("あり") if p["in_registry"] else tr("転出など")
        self.cands.set_rows(rows)

    def link_selected(self, candidate: int | None = None):
        r = self.selected()
        i = self.cand_view.currentIndex() if candidate is None else self.cands.index(candidate, 0)
        if not r or not i.isValid():
            self.notice.error(tr("つなぐ行と、候補の人を選んでください。"))
            return None
        p = self.cands.row(i.row())
        try:
            did = self.U.link_to_person(self.ws, r["record_id"], p["person_id"])
        except KodomoError as e:
            self.notice.error(e.message_ja)
            return None
        self.notice.info(
            tr("{row} 行目を {name} さんにつなぎました（次の名寄せでも保たれます）。", row=r["row"], name=p["name"])
        )
        self.refresh()
        return did

    def not_in_registry(self):
        r = self.selected()
        if not r:
            self.notice.error(tr("行を選んでください。"))
            return None
        try:
            did = self.U.not_in_registry(self.ws, r["record_id"])
        except KodomoError as e:
            self.notice.error(e.message_ja)
            return None
        self.notice.info(tr("{row} 行目を「この町の住民ではない」としました。", row=r["row"]))
        self.refresh()
        return did


class ImportPage(QWidget):
    def __init__(self, ws: Workspace, main_window=None):
        super().__init__()
        lay = QVBoxLayout(self)
        self.tabs = QTabWidget()
        self.wizard = ImportWizard(ws, main_window)
        self.history = HistoryView(ws)
        self.unlinked = UnlinkedView(ws)
        self.tabs.addTab(self.wizard, tr("ファイルを取り込む"))
        self.tabs.addTab(self.history, tr("取込の履歴"))
        self.tabs.addTab(self.unlinked, tr("つながらなかった行"))
        self.tabs.currentChanged.connect(
            lambda i: self.history.refresh() if i == 1 else self.unlinked.refresh() if i == 2 else None
        )
        self.wizard.imported.connect(lambda _res: self.history.refresh())
        lay.addWidget(self.tabs)

    # -- lock: forget the lists of rows (the history, unlinked rows, the rejected rows of a validation) --------------
    def on_lock(self):
        forget_rows(self.history)
        forget_rows(self.unlinked)
        self.wizard.errors.set_rows([])

    def on_unlock(self):
        if self.tabs.currentWidget() is self.history:
            self.history.refresh()
        elif self.tabs.currentWidget() is self.unlinked:
            self.unlinked.refresh()
        w = self.wizard
        if w.validated and w.stack.currentIndex() == 2:
            w.validate()  # the rejected rows again, from the file and the mapping still on screen
