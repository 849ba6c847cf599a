"""指標の編集: the town's own catalogue — an indicator's cut-off, window and points; a new indicator (one source or
two: present in A and absent in B within a window; scored, or a take-up prompt 利用できる可能性のある支援); a new
source type of the town; difficulty types added and renamed; the flagging rules (top N % per difficulty type per age
band, at least K basic items) — previewed (current → proposed, with the fairness warnings) and adopted with a
reason. Everything is done by core/scoring/town.py (the builder and check the CLI uses, the preview, adoption with a
new weight-set version, the log); this page and its forms (catalogue_forms.py) only edit a draft. No dialog opens:
problems are shown in Japanese next to their fields, the preview on the page."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...core.errors import KodomoError
from ...core.scoring import town as T
from .. import palette as pal
from ..i18n import tr, translate
from ..widgets import Notice
from .catalogue_forms import FieldErrors, FormGrid, IndicatorForm, RulesForm, SourceForm, plain

if TYPE_CHECKING:  # annotations only: the GUI gets its workspace from the caller
    from ...core.workspace import Workspace

COLUMNS = ["指標", "取込元・条件", "期間（月）", "点数"]


def _parse_value(text: str, old):
    text = text.strip()
    if isinstance(old, list):
        return [x.strip() for x in text.replace("、", ",").split(",") if x.strip()]
    if isinstance(old, (int, float)) and not isinstance(old, bool):
        try:
            return int(text) if text.lstrip("-").isdigit() else float(text)
        except ValueError:
            raise ValueError(tr("しきい値は数で入力してください。"))
    return text


def _points_text(points: dict) -> str:
    """「虐待:6、産後うつ:2」; the types in the current language (``_parse_points`` reads both)."""
    return tr("、").join(f"{tr(t)}:{p:g}" for t, p in points.items())


def _parse_points(text: str, types: list[str]) -> dict:
    out: dict = {}
    for part in text.replace("、", ",").split(","):
        part = part.strip()
        if not part:
            continue
        t, _, v = part.rpartition(":")
        t = t if t in types else next((x for x in types if tr(x) == t), t)  # a type's English name reads too
        if t not in types:
            raise ValueError(tr("困難の種類「{t}」はありません。", t=t))
        try:
            out[t] = float(v) if "." in v else int(v)
        except ValueError:
            raise ValueError(tr("点数は 種類:点数 の形で入力してください。"))
    return out


class CataloguePage(QWidget):
    def __init__(self, ws: Workspace, main=None):
        super().__init__()
        ws.require("weights.edit", what="catalogue editor")
        self.ws = ws
        self.main = main
        self.draft = T.current(ws)  # the forms read it while they are built; reload() sets it again
        lay = QVBoxLayout(self)
        title = QLabel(tr("指標の編集（町の指標カタログ）"))
        title.setStyleSheet("font-size:14pt;font-weight:bold;")
        lay.addWidget(title)
        self.caveat = QLabel("")
        self.caveat.setWordWrap(True)
        lay.addWidget(self.caveat)
        body = QHBoxLayout()
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels([tr(c) for c in COLUMNS])
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._on_select)
        body.addWidget(self.table, 4)

        self.tabs = QTabWidget()
        edit = QWidget()
        side = QVBoxLayout(edit)
        self.selected = QLabel(tr("指標を選んでください"))
        self.selected.setWordWrap(True)
        side.addWidget(self.selected)
        self.edit_errors = FieldErrors()
        g = FormGrid(self.edit_errors)
        self.value_edit = QLineEdit()
        g.add("value", "しきい値", self.value_edit)
        self.window_spin = QSpinBox()
        self.window_spin.setRange(0, 240)
        self.window_spin.setSpecialValueText(tr("期限なし"))
        g.add("window_months", "期間（月）", self.window_spin)
        self.points_edit = QLineEdit()
        g.add("points", "点数（種類:点数）", self.points_edit)
        self.apply_button = QPushButton(tr("この指標に反映"))
        self.apply_button.clicked.connect(self.apply_indicator)
        g.span(self.apply_button)
        side.addLayout(g.grid)
        side.addWidget(self.edit_errors.make("_"))
        side.addStretch(1)
        self.tabs.addTab(edit, tr("選んだ指標"))

        self.indicator_form = IndicatorForm(self)
        self.tabs.addTab(_scrolled(self.indicator_form), tr("指標を加える"))
        self.source_form = SourceForm(self)
        self.tabs.addTab(_scrolled(self.source_form), tr("取込元を定義"))

        types = QWidget()
        tl = QVBoxLayout(types)
        tl.addWidget(QLabel(tr("困難の種類")))
        self.types = QListWidget()
        tl.addWidget(self.types, 1)
        trow = QHBoxLayout()
        self.type_name = QLineEdit()
        self.type_name.setPlaceholderText(tr("新しい名前"))
        trow.addWidget(self.type_name, 1)
        self.rename_button = QPushButton(tr("選んだ種類の名前を変える"))
        self.rename_button.clicked.connect(self.rename_type)
        trow.addWidget(self.rename_button)
        self.add_type_button = QPushButton(tr("種類を加える"))
        self.add_type_button.clicked.connect(self.add_type)
        trow.addWidget(self.add_type_button)
        tl.addLayout(trow)
        self.types_error = QLabel("")
        self.types_error.setWordWrap(True)
        self.types_error.setStyleSheet(f"color:{pal.ERROR};font-size:9pt;")
        tl.addWidget(self.types_error)
        self.tabs.addTab(types, tr("困難の種類"))
        self.rules_form = RulesForm(self)
        self.tabs.addTab(_scrolled(self.rules_form), tr("抽出のルール"))
        self.tabs.setMinimumWidth(560)
        body.addWidget(self.tabs, 3)
        lay.addLayout(body, 1)

        self.preview_text = QPlainTextEdit()
        self.preview_text.setReadOnly(True)
        self.preview_text.setMaximumHeight(110)
        self.preview_text.setPlaceholderText(tr("編集すると、ここにプレビュー（現在 → 変更後）が出ます。"))
        lay.addWidget(self.preview_text)
        brow = QHBoxLayout()
        self.reason = QLineEdit()
        self.reason.setPlaceholderText(tr("変更する理由（採用に必須）"))
        brow.addWidget(self.reason, 1)
        self.preview_button = QPushButton(tr("プレビュー"))
        self.preview_button.clicked.connect(self.preview)
        brow.addWidget(self.preview_button)
        self.adopt_button = QPushButton(tr("採用"))
        self.adopt_button.clicked.connect(self.adopt)
        brow.addWidget(self.adopt_button)
        self.reset_button = QPushButton(tr("編集を取り消す"))
        self.reset_button.clicked.connect(self.reload)
        brow.addWidget(self.reset_button)
        lay.addLayout(brow)
        self.notice = Notice("catalogue_notice")
        lay.addWidget(self.notice)
        self.reload()

    # -- the draft --------------------------------------------------------------------------------------------
    def reload(self) -> None:
        self.draft = T.current(self.ws)
        self.renames: dict[str, str] = {}
        self._dirty(False)
        self.caveat.setText("※" + tr(self.draft.get("caveat", "")))
        self._fill()
        if hasattr(self, "indicator_form"):
            self.indicator_form.refresh()
            try:
                from ...core.scoring.service import active_weights

                weights = active_weights(self.ws)["data"]
            except KodomoError:
                weights = None
            self.rules_form.load(self.draft, weights)

    def changed(self, message: str) -> None:
        """A form changed the draft: the table and choices follow, the preview is due again."""
        row = self.table.currentRow()
        self._fill()
        self.indicator_form.refresh()
        if row >= 0:
            self.table.selectRow(row)
        self._dirty()
        self.notice.info(message)

    def _dirty(self, changed: bool = True) -> None:
        self.previewed = None
        if hasattr(self, "types_error"):
            self.types_error.setText("")
        self.adopt_button.setEnabled(False)
        if changed:
            self.preview_text.setPlainText(tr("編集があります。プレビューで影響を確かめてから採用してください。"))
        else:
            self.preview_text.setPlainText("")

    def _fill(self) -> None:
        inds = self.draft["indicators"]
        gaps = self.draft.get("takeup_gaps") or []
        self.table.setRowCount(len(inds) + len(gaps))
        rows = [
            [
                tr(ind["label_ja"]),  # a town-defined indicator has only its Japanese name
                translate(T.indicator_text(self.draft, {**ind, "window_months": None})),
                str(ind.get("window_months") or tr("期限なし")),
                _points_text(ind.get("points") or {}),
            ]
            for ind in inds
        ] + [
            [
                tr(g["label_ja"]),
                translate(T.gap_rule_text(self.draft, g)),
                "",
                tr("点数なし（利用できる可能性のある支援）"),
            ]
            for g in gaps
        ]
        for r, cells in enumerate(rows):
            for c, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        for c, most in ((0, 240), (1, 300), (3, 200)):
            self.table.setColumnWidth(c, min(most, self.table.columnWidth(c)))
        self.types.clear()
        self.types.addItems(self.draft["difficulty_types"])
        self._on_select()

    def row_of(self, indicator_id: str) -> int:
        return next(i for i, ind in enumerate(self.draft["indicators"]) if ind["id"] == indicator_id)

    def _current(self) -> dict | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self.draft["indicators"]):
            return None
        return self.draft["indicators"][rows[0].row()]

    def _on_select(self) -> None:
        ind = self._current()
        if ind is None:
            return
        self.selected.setText(ind["label_ja"])
        v = ind["rule"].get("value")
        self.value_edit.setText("、".join(map(str, v)) if isinstance(v, list) else ("" if v is None else str(v)))
        self.value_edit.setEnabled("value" in ind["rule"])
        self.window_spin.setValue(int(ind.get("window_months") or 0))
        self.points_edit.setText(_points_text(ind.get("points") or {}))

    def apply_indicator(self) -> bool:
        ind = self._current()
        if ind is None:
            self.notice.error(tr("指標を選んでください。"))
            return False
        found: dict[str, list[str]] = {}
        rule = copy.deepcopy(ind["rule"])
        points: dict = {}
        try:
            if "value" in rule:
                rule["value"] = _parse_value(self.value_edit.text(), rule["value"])
        except ValueError as e:
            found["value"] = [str(e)]
        try:
            points = _parse_points(self.points_edit.text(), self.draft["difficulty_types"])
        except ValueError as e:
            found["points"] = [str(e)]
        if not found:  # the soundness check on the edited indicator, its findings next to its fields
            trial = copy.deepcopy(self.draft)
            one = next(i for i in trial["indicators"] if i["id"] == ind["id"])
            one.update(rule=rule, points=points, window_months=self.window_spin.value() or None)
            for where, msg in T.problems_at(trial):
                if where[:2] == ("indicator", ind["id"]):
                    key = {"rule": "value", "field": "value"}.get(where[-1], where[-1])
                    found.setdefault(key if key in ("value", "window_months", "points") else "_", []).append(plain(msg))
        if found:
            n = len(self.edit_errors.show(found, "_"))
            self.notice.error(tr("指標に {n} 件の問題があります（各項目の下に表示）。", n=n))
            return False
        self.edit_errors.clear()
        ind["rule"] = rule
        ind["points"] = points
        ind["window_months"] = self.window_spin.value() or None
        row = self.row_of(ind["id"])
        self._fill()
        self.table.selectRow(row)
        self._dirty()
        self.notice.info(tr("「{name}」を編集しました（まだ採用していません）。", name=ind["label_ja"]))
        return True

    def rename_type(self) -> bool:
        item = self.types.currentItem()
        if item is None:
            self.notice.error(tr("名前を変える種類を選んでください。"))
            return False
        old, new = item.text(), self.type_name.text().strip()
        try:
            T.rename_in(self.draft, old, new)
        except KodomoError as e:
            self.notice.fail(e)
            return False
        origin = next((k for k, v in self.renames.items() if v == old), old)
        self.renames[origin] = new
        self._fill()
        self._dirty()
        self.notice.info(tr("種類「{old}」を「{new}」にしました（まだ採用していません）。", old=old, new=new))
        return True

    def add_type(self) -> bool:
        new = self.type_name.text().strip()
        if not new or new in self.draft["difficulty_types"]:
            self.notice.error(tr("新しい種類の名前は空でなく、今ある種類と違う名前にしてください。"))
            return False
        self.draft["difficulty_types"].append(new)
        self._fill()
        self._dirty()
        self.notice.info(tr("種類「{new}」を加えました。点数のある指標を1つ以上つけてください。", new=new))
        return True

    # -- preview and adoption ---------------------------------------------------------------------------------
    def preview(self) -> bool:
        try:
            res = T.adopt_catalogue(self.ws, copy.deepcopy(self.draft), "", renames=self.renames, dry_run=True)
        except KodomoError as e:
            self.notice.fail(e)
            self.preview_text.setPlainText(e.message_ja)
            # the soundness check's findings about the difficulty types go next to the list of types
            self.types_error.setText(
                "\n".join(plain(m) for w, m in T.problems_at(self.draft) if w[:1] in (("type",), ("difficulty_types",)))
            )
            self.previewed = None
            self.adopt_button.setEnabled(False)
            return False
        if not res.get("changed"):
            self.preview_text.setPlainText(tr("指標カタログは変わっていません。"))
            self.adopt_button.setEnabled(False)
            return False
        pv = res["preview"]
        fl, top = pv.get("flagged", {}), pv.get("top_band", {})
        lines = [
            tr(
                "プレビュー（{n} 人）: 抽出 {a} → {b} 人・{band}の帯 {c} → {d} 人",
                n=pv.get("children", 0),
                a=fl.get("current", 0),
                b=fl.get("new", 0),
                band=pv.get("top_band_label", ""),
                c=top.get("current", 0),
                d=top.get("new", 0),
            )
        ]
        ch = res.get("changes") or {}
        names = {**T.source_choices(self.draft), **(ch.get("labels") or {})}
        for key, label in (
            ("indicators_changed", "変えた指標"),
            ("indicators_added", "加えた指標"),
            ("indicators_removed", "除いた指標"),
            ("types_added", "加えた種類"),
            ("types_removed", "除いた・名前を変えた種類"),
            ("source_types_added", "加えた取込元"),
            ("takeup_gaps_added", "加えた利用できる可能性のある支援"),
        ):
            if ch.get(key):
                lines.append("・" + tr(label) + "：" + "、".join(names.get(x, x) for x in ch[key]))
        if ch.get("rules_changed"):
            lines.append("・" + tr("抽出のルールを変えました"))
        lines += ["・" + c["what"] for c in (pv.get("changes") or [])[:8]]
        lines += ["⚠ " + w["text"] for w in (pv.get("warnings") or [])[:3]]
        self.preview_text.setPlainText("\n".join(lines))
        self.previewed = copy.deepcopy(self.draft)
        self.adopt_button.setEnabled(True)
        self.notice.info(tr("プレビューしました。理由を入力して採用できます。"))
        return True

    def adopt(self) -> bool:
        if self.previewed is None or self.previewed != self.draft:
            self.notice.error(tr("先にプレビューしてください。"))
            return False
        reason = self.reason.text().strip()
        if not reason:
            self.notice.error(tr("変更する理由を入力してください（理由は必須です）。"))
            return False
        try:
            res = T.adopt_catalogue(self.ws, copy.deepcopy(self.draft), reason, renames=self.renames)
        except KodomoError as e:
            self.notice.fail(e)
            return False
        self.reload()
        self.reason.clear()
        self.notice.info(
            tr(
                "採用しました（指標カタログ 第{v}版・重み 第{w}版）。",
                v=res.get("version"),
                w=res.get("weight_set_version"),
            )
        )
        return True


def _scrolled(widget: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)  # the form fits the width; long messages wrap
    area.setWidget(widget)
    return area
