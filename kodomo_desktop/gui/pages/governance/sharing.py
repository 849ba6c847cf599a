"""個人情報保護 → 外部提供: what leaves the PC for an outside body, made by the coordinator (``data.share``).

Three columns, each thin over ``core.sharing``: the pseudonymised dataset for an analyst (its key table stays on this
PC), the watch list or a town-designed information sheet for a school (a file password by default) and its return,
and the handover package when a family moves (a one-time password read out by phone) with its import on the
receiving side. Paths are line edits (参照… only fills them), so tests never open a file dialog; long work runs off
the GUI thread through ``gui.ops``; every problem goes to the page's notice line.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ....core.checklists import service as CL
from ....core.sharing import handover as H
from ....core.sharing import pseudonymised as PS
from ....core.sharing import sheets as SH
from ....core.sharing.crypto import MIN_PASSWORD
from ... import palette as pal
from ...format import when
from ...i18n import tr
from ...widgets import hint
from ..checklist_page import new_file_password
from ..print_page import ChildPicker
from .common import RowsModel, _fit, _view

if TYPE_CHECKING:
    from . import GovernancePage

TABLE_LABELS = {
    "persons": "こども",
    "scores": "スコア",
    "indicators": "該当した指標",
    "rounds": "回次",
    "cases": "ケース",
}
TABLE_TIPS = {
    "persons": "仮名・世帯の仮名・生年月・性別・学校（氏名・カナ・宛名番号・住所・生年月日は出ません）",
    "scores": "今のスコア（合計・区分・類型・見守り対象か）",
    "indicators": "こどもごとに該当した指標（点数・記録の年月）",
    "rounds": "検討会議の回に挙がったこと（回・年月）",
    "cases": "ケースの開始月・終了月・主担当機関",
}


def _path_row(edit: QLineEdit, button: QPushButton) -> QHBoxLayout:
    row = QHBoxLayout()
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(edit, 1)
    row.addWidget(button)
    return row


def _whole(edit: QLineEdit) -> QLineEdit:
    """A password to read out must be seen whole."""
    edit.setMinimumWidth(edit.fontMetrics().horizontalAdvance(new_file_password() + "MM") + 12)
    return edit


def _row(*widgets: QWidget) -> QHBoxLayout:
    row = QHBoxLayout()
    row.setContentsMargins(0, 0, 0, 0)
    for w in widgets:
        row.addWidget(w)
    row.addStretch(1)
    return row


class SharingTab(QWidget):
    def __init__(self, page: GovernancePage):
        super().__init__()
        self.page = page
        self.ws = page.ws
        self.last: dict | None = None  # the last result (tests read it)
        lay = QHBoxLayout(self)
        lay.addWidget(self._pseudonymised_box(), 4)
        lay.addWidget(self._sheet_box(), 3)
        lay.addWidget(self._handover_box(), 3)

    # -- 仮名加工データ ---------------------------------------------------------------------------------------------
    def _pseudonymised_box(self) -> QGroupBox:
        box = QGroupBox(tr("仮名加工データの出力（分析・研究・県へ）"))
        v = QVBoxLayout(box)
        form = QFormLayout()
        self.purpose = QLineEdit()
        self.purpose.setPlaceholderText(tr("例: 県の要保護児童の分析（令和8年度）"))
        form.addRow(tr("提供の目的（必須）"), self.purpose)
        grid = QGridLayout()
        self.table_checks: dict[str, QCheckBox] = {}
        for i, t in enumerate(PS.TABLES):
            cb = QCheckBox(tr(TABLE_LABELS.get(t, t)))
            cb.setChecked(True)
            cb.setToolTip(tr(TABLE_TIPS[t]))
            self.table_checks[t] = cb
            grid.addWidget(cb, i // 3, i % 3)
        form.addRow(tr("出力する表"), grid)
        self.min_cell = QSpinBox()
        self.min_cell.setRange(0, 50)
        self.min_cell.setValue(5)
        self.min_cell.setSpecialValueText(tr("しない"))
        self.min_cell.setSuffix(tr(" 人未満をぼかす"))
        self.min_cell.setToolTip(
            tr("生年月・性別・学校が同じこどもがこの人数より少ないとき、生年月を年に、次に学校を空欄にします。")
        )
        form.addRow(tr("少人数の秘匿"), self.min_cell)
        self.out_dir = QLineEdit()
        self.out_dir.setPlaceholderText(tr("新しい（空の）フォルダ"))
        browse = QPushButton(tr("参照…"))
        browse.clicked.connect(self.browse_out_dir)
        form.addRow(tr("出力先フォルダ"), _path_row(self.out_dir, browse))
        v.addLayout(form)
        self.export_btn = QPushButton(tr("仮名加工データを出力"))
        self.export_btn.clicked.connect(lambda: self.export_pseudonymised())
        v.addWidget(self.export_btn, 0, Qt.AlignRight)
        self.result = QLabel("")
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.result.setStyleSheet(f"color:{pal.MUTED};")
        v.addWidget(self.result)
        back = QGroupBox(tr("返ってきた結果を取り込む（仮名ごとの記録）"))
        bf = QFormLayout(back)
        self.key_in = QLineEdit()
        self.key_in.setPlaceholderText(tr("この PC に残した対応表（.keytable）"))
        browse_key = QPushButton(tr("参照…"))
        browse_key.clicked.connect(lambda: self._browse_open(self.key_in, tr("対応表 (*.keytable)")))
        bf.addRow(tr("対応表"), _path_row(self.key_in, browse_key))
        self.results_in = QLineEdit()
        self.results_in.setPlaceholderText(tr("列 pseudonym・note の CSV"))
        browse_res = QPushButton(tr("参照…"))
        browse_res.clicked.connect(lambda: self._browse_open(self.results_in, "CSV (*.csv)"))
        bf.addRow(tr("結果ファイル"), _path_row(self.results_in, browse_res))
        self.results_btn = QPushButton(tr("こどもの記録に取り込む"))
        self.results_btn.clicked.connect(lambda: self.attach_results())
        bf.addRow("", self.results_btn)
        v.addWidget(back)
        v.addWidget(QLabel(tr("これまでの出力")))
        self.exports_model = RowsModel(
            [
                ("export_id", tr("出力番号")),
                ("created_at", tr("日時"), lambda x, r: when(x)),
                ("created_by", tr("担当")),
                ("persons", tr("人数")),
                ("purpose", tr("目的")),
            ]
        )
        self.exports_view = _view(self.exports_model)
        v.addWidget(self.exports_view, 1)
        return box

    def browse_out_dir(self) -> None:
        base = QFileDialog.getExistingDirectory(self, tr("出力先を置くフォルダ"), str(Path.home()))
        if base:
            self.out_dir.setText(str(Path(base) / f"仮名加工_{dt.date.today():%Y%m%d}"))

    def export_pseudonymised(self):
        purpose = self.purpose.text().strip()
        tables = [t for t, cb in self.table_checks.items() if cb.isChecked()]
        out = self.out_dir.text().strip()
        if not purpose:
            self.page.say(tr("提供の目的を書いてください。個人情報ファイル簿と記録に残ります。"), error=True)
            return None
        if not tables:
            self.page.say(tr("出力する表を一つ以上選んでください。"), error=True)
            return None
        if not out:
            self.page.say(tr("出力先フォルダを指定してください。"), error=True)
            return None
        min_cell = self.min_cell.value() or None
        ws = self.ws

        def work(progress):
            progress(tr("仮名加工データを作っています…"))
            return PS.export_pseudonymised(ws, Path(out), purpose, tables=tables, min_cell=min_cell)

        return self.page.run(tr("仮名加工データの出力"), work, self._exported)

    def _exported(self, res: dict) -> None:
        self.last = res
        n = sum(res["tables"].values())
        self.result.setText(
            tr(
                "出力番号 {id}：{persons} 人・{rows} 行を {out} に出力しました。\n"
                "対応表（仮名→こども）は {key} に暗号化して保存しました。対応表はこの PC から持ち出さず、"
                "提供先にはフォルダだけを渡してください。返ってきた結果はこの対応表で取り込みます。",
                id=res["export_id"],
                persons=res["persons"],
                rows=n,
                out=res["out"],
                key=res["key_table"],
            )
        )
        self.page.say(tr("仮名加工データ（出力番号 {id}）を出力し、記録に残しました。", id=res["export_id"]))
        self.key_in.setText(res["key_table"])
        self.refresh()

    def attach_results(self):
        key, results = self.key_in.text().strip(), self.results_in.text().strip()
        if not key or not results:
            self.page.say(tr("対応表と結果ファイルを指定してください。"), error=True)
            return None
        ws = self.ws

        def done(res):
            self.last = res
            self.page.say(
                tr(
                    "出力番号 {id} の結果を取り込みました（{n} 件、こども {p} 人の記録に追加）。",
                    id=res["export_id"],
                    n=res["attached"],
                    p=res["persons"],
                )
            )

        return self.page.run(tr("結果の取込"), lambda _p: PS.attach_results(ws, Path(key), Path(results)), done)

    # -- 見守りリスト・情報シート ----------------------------------------------------------------------------------
    def _sheet_box(self) -> QGroupBox:
        box = QGroupBox(tr("見守りリスト・情報シート（学校・園へ）"))
        v = QVBoxLayout(box)
        form = QFormLayout()
        self.school = QComboBox()
        self.school.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.school.setMinimumContentsLength(10)
        form.addRow(tr("学校・園"), self.school)
        self.sheet = QComboBox()
        self.sheet.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.sheet.setMinimumContentsLength(10)
        form.addRow(tr("シート"), self.sheet)
        self.use_password = QCheckBox(tr("付ける（推奨）"))
        self.use_password.setChecked(True)
        self.use_password.setToolTip(tr("こどもの氏名が載るため、ファイルにパスワードを付けます（推奨）。"))
        self.sheet_password = _whole(QLineEdit(new_file_password()))
        again = QPushButton(tr("作り直す"))
        again.clicked.connect(lambda: self.sheet_password.setText(new_file_password()))
        self.use_password.toggled.connect(self.sheet_password.setEnabled)
        form.addRow(tr("パスワード"), self.sheet_password)
        form.addRow("", _row(again, self.use_password))
        self.sheet_out = QLineEdit()
        self.sheet_out.setPlaceholderText(tr("保存する Excel ファイル"))
        browse = QPushButton(tr("参照…"))
        browse.clicked.connect(self.browse_sheet_out)
        form.addRow(tr("保存先"), _path_row(self.sheet_out, browse))
        v.addLayout(form)
        self.sheet_btn = QPushButton(tr("シートを作成"))
        self.sheet_btn.clicked.connect(lambda: self.write_sheet())
        v.addWidget(self.sheet_btn, 0, Qt.AlignRight)
        v.addWidget(
            hint(tr("点数・担当課・福祉の情報は載りません。パスワードは電話など別の経路で学校に伝えてください。"))
        )
        back = QGroupBox(tr("返送されたシートを取り込む"))
        bf = QFormLayout(back)
        self.sheet_in = QLineEdit()
        browse_in = QPushButton(tr("参照…"))
        browse_in.clicked.connect(lambda: self._browse_open(self.sheet_in, "Excel (*.xlsx)"))
        bf.addRow(tr("ファイル"), _path_row(self.sheet_in, browse_in))
        self.sheet_in_password = QLineEdit()
        self.sheet_in_password.setPlaceholderText(tr("作成したときのパスワード（なければ空欄）"))
        bf.addRow(tr("パスワード"), self.sheet_in_password)
        self.sheet_import_btn = QPushButton(tr("取り込む"))
        self.sheet_import_btn.clicked.connect(lambda: self.import_sheet())
        bf.addRow("", self.sheet_import_btn)
        v.addWidget(back)
        v.addStretch(1)
        return box

    def browse_sheet_out(self) -> None:
        name = f"{self.sheet.currentText() or tr('シート')}_{self.school.currentText()}.xlsx"
        path, _ = QFileDialog.getSaveFileName(self, tr("シートの保存先"), str(Path.home() / name), "Excel (*.xlsx)")
        if path:
            self.sheet_out.setText(path)

    def _browse_open(self, edit: QLineEdit, filt: str) -> None:
        path, _ = QFileDialog.getOpenFileName(self, tr("ファイルを選ぶ"), str(Path.home()), filt)
        if path:
            edit.setText(path)

    def write_sheet(self):
        school = self.school.currentText().strip()
        key = self.sheet.currentData()
        out = self.sheet_out.text().strip()
        password = self.sheet_password.text().strip() if self.use_password.isChecked() else None
        if not school or not key:
            self.page.say(tr("学校・園とシートを選んでください。"), error=True)
            return None
        if not out:
            self.page.say(tr("保存先のファイルを指定してください。"), error=True)
            return None
        if self.use_password.isChecked() and len(password or "") < MIN_PASSWORD:
            self.page.say(tr("パスワードは {n} 文字以上にしてください。", n=MIN_PASSWORD), error=True)
            return None
        ws = self.ws

        def work(progress):
            progress(tr("シートを作っています…"))
            if key == SH.WATCH_LIST["key"]:
                return SH.write_watch_list(ws, school, Path(out), password=password)
            return SH.write_sheet(ws, key, school, Path(out), password=password)

        def done(res):
            self.last = res
            text = tr("「{school}」のシート（{n} 人）を {out} に保存しました。", school=school, n=res["rows"], out=out)
            if password:
                text += tr(" パスワード「{pw}」は電話など別の経路で伝えてください。", pw=password)
            else:
                text += tr(" パスワードなしで保存しました。取扱いに注意してください。")
            self.page.say(text)

        return self.page.run(tr("シートの作成"), work, done)

    def import_sheet(self):
        path = self.sheet_in.text().strip()
        if not path:
            self.page.say(tr("取り込むファイルを指定してください。"), error=True)
            return None
        password = self.sheet_in_password.text().strip() or None
        ws = self.ws

        def done(res):
            self.last = res
            self.page.say(
                tr(
                    "「{school}」から返送されたシートを取り込みました（{rows} 人、記入あり {filled} 人）。",
                    school=res["school"],
                    rows=res["rows"],
                    filled=res["filled"],
                )
            )

        return self.page.run(tr("シートの取込"), lambda _p: SH.import_sheet(ws, Path(path), password=password), done)

    # -- 転出・転入の引継ぎ ----------------------------------------------------------------------------------------
    def _handover_box(self) -> QGroupBox:
        box = QGroupBox(tr("転出の引継ぎ（転居先の自治体へ）"))
        v = QVBoxLayout(box)
        v.addWidget(QLabel(tr("引き継ぐこども")))
        self.child = ChildPicker(self.ws)
        self.child.results.setMinimumHeight(80)
        self.child.results.setMaximumHeight(140)
        v.addWidget(self.child)
        form = QFormLayout()
        self.to_town = QLineEdit()
        self.to_town.setPlaceholderText(tr("例: 〇〇市"))
        form.addRow(tr("転居先"), self.to_town)
        self.handover_password = _whole(QLineEdit(new_file_password()))
        self.handover_password.setToolTip(tr("一回限りのパスワード。電話で相手の担当者に読み上げて伝えます。"))
        again = QPushButton(tr("作り直す"))
        again.clicked.connect(lambda: self.handover_password.setText(new_file_password()))
        form.addRow(tr("パスワード"), self.handover_password)
        self.with_scores = QCheckBox(tr("スコアも渡す"))
        self.with_scores.setToolTip(tr("転居先から求められたときだけ付けます。"))
        form.addRow("", _row(again, self.with_scores))
        self.handover_out = QLineEdit()
        browse = QPushButton(tr("参照…"))
        browse.clicked.connect(self.browse_handover_out)
        form.addRow(tr("保存先"), _path_row(self.handover_out, browse))
        v.addLayout(form)
        self.handover_btn = QPushButton(tr("引継ぎファイルを作成"))
        self.handover_btn.clicked.connect(lambda: self.export_handover())
        v.addWidget(self.handover_btn, 0, Qt.AlignRight)
        back = QGroupBox(tr("転入の引継ぎを取り込む"))
        bf = QFormLayout(back)
        self.handover_in = QLineEdit()
        browse_in = QPushButton(tr("参照…"))
        browse_in.clicked.connect(lambda: self._browse_open(self.handover_in, tr("引継ぎファイル (*.kodomo *)")))
        bf.addRow(tr("ファイル"), _path_row(self.handover_in, browse_in))
        self.handover_in_password = QLineEdit()
        self.handover_in_password.setPlaceholderText(tr("電話で聞いたパスワード"))
        bf.addRow(tr("パスワード"), self.handover_in_password)
        self.handover_import_btn = QPushButton(tr("取り込む"))
        self.handover_import_btn.clicked.connect(lambda: self.import_handover())
        bf.addRow("", self.handover_import_btn)
        v.addWidget(back)
        v.addStretch(1)
        return box

    def browse_handover_out(self) -> None:
        name = f"引継ぎ_{dt.date.today():%Y%m%d}.kodomo"
        path, _ = QFileDialog.getSaveFileName(self, tr("引継ぎファイルの保存先"), str(Path.home() / name), "*.kodomo")
        if path:
            self.handover_out.setText(path)

    def export_handover(self):
        ids = self.child.selected_ids()
        town = self.to_town.text().strip()
        out = self.handover_out.text().strip()
        password = self.handover_password.text().strip()
        if len(ids) != 1:
            self.page.say(tr("引き継ぐこどもを一人選んでください。"), error=True)
            return None
        if not town:
            self.page.say(tr("転居先の自治体名を書いてください。"), error=True)
            return None
        if not out:
            self.page.say(tr("保存先のファイルを指定してください。"), error=True)
            return None
        if len(password) < MIN_PASSWORD:
            self.page.say(tr("パスワードは {n} 文字以上にしてください。", n=MIN_PASSWORD), error=True)
            return None
        ws, pid, scores = self.ws, ids[0], self.with_scores.isChecked()

        def work(progress):
            progress(tr("引継ぎファイルを暗号化しています…"))
            return H.export_handover(ws, pid, town, Path(out), password, with_scores=scores)

        def done(res):
            self.last = res
            self.page.say(
                tr(
                    "{to} への引継ぎファイルを {out} に保存しました（ケース {cases} 件）。"
                    "パスワード「{pw}」を電話で相手の担当者に読み上げて伝えてください（ファイルと一緒に送らないこと）。",
                    to=town,
                    out=out,
                    cases=res["cases"],
                    pw=password,
                )
            )

        return self.page.run(tr("引継ぎファイルの作成"), work, done)

    def import_handover(self):
        path = self.handover_in.text().strip()
        password = self.handover_in_password.text().strip()
        if not path:
            self.page.say(tr("取り込むファイルを指定してください。"), error=True)
            return None
        ws = self.ws

        def work(progress):
            progress(tr("引継ぎファイルを開いています…"))
            return H.import_handover(ws, Path(path), password)

        def done(res):
            self.last = res
            self.page.say(
                tr(
                    "{src} からの引継ぎを取り込みました（ケース {cases} 件）。こどもは「名寄せ」の確認待ちに入りました。"
                    "確認して住民記録と結び付けると、ケースが開きます。",
                    src=res.get("from") or tr("転出元"),
                    cases=res["cases"],
                )
            )

        return self.page.run(tr("引継ぎの取込"), work, done)

    # -- refresh -------------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        ok, rows = self.page.guard(PS.exports, self.ws)
        if ok:
            rows = sorted(rows or [], key=lambda r: r.get("created_at") or "", reverse=True)
            self.exports_model.set_rows(rows)
            _fit(self.exports_view)
        ok, schools = self.page.guard(CL.schools, self.ws)
        if ok:
            keep = self.school.currentText()
            self.school.clear()
            self.school.addItems(schools or [])
            if keep:
                self.school.setCurrentText(keep)
        ok, sheets = self.page.guard(SH.sheet_choices, self.ws)
        if ok:
            keep = self.sheet.currentData()
            self.sheet.clear()
            for key, title in sheets or []:
                self.sheet.addItem(tr(title), key)  # a town-defined sheet's own title stays as it is
            i = self.sheet.findData(keep)
            if i >= 0:
                self.sheet.setCurrentIndex(i)
