"""「ファイルを取り込む」: file → source type suggested → preview with the mapping auto-filled and editable →
validation report → import with progress and Cancel."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

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
    QVBoxLayout,
    QWidget,
)

from ....core import outputs
from ....core.calendar import wareki, wareki_and_western
from ....core.errors import Cancelled, KodomoError
from ....core.importing import fields as F
from ....core.importing import service as S
from ... import palette as pal
from ...i18n import tr
from ...widgets import DictTableModel, Notice, table_view

if TYPE_CHECKING:  # annotations only: the GUI gets its workspace from the caller
    from ....core.workspace import Workspace


from .common import NOT_MAPPED, field_choices


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
        from ....core.importing.manifest import import_manifest, read_manifest
        from ...ops import run_with_progress

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
        from ....core.importing.readers import sheet_names

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
            from ....core.importing.asof import guess_as_of

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
        from ....core.importing.parse import parse_rows

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
        from ...ops import run_with_progress

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
        from ....core.importing.values import parse_date

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
