"""「重み・しきい値」: points per difficulty type, windows, thresholds per age band, rules, preview per school
and age band, flag rates by group, adoption with a reason, restoring an earlier version."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ....core.errors import KodomoError
from ....core.scoring import service as S
from ... import palette as pal
from ...format import when
from ...i18n import tr, tr_list
from ...widgets import Notice

if TYPE_CHECKING:  # annotations only: the GUI gets its workspace from the caller
    from ....core.workspace import Workspace

from .common import caveat_label


# --- the weights editor -----------------------------------------------------------------------------------------------------
class WeightsEditor(QWidget):
    def __init__(self, ws: Workspace, parent=None):
        super().__init__(parent)
        self.ws = ws
        self.cat = S.catalogue()
        self.types = self.cat["difficulty_types"]
        self.bands = [b["label"] for b in self.cat["age_bands"]]
        self.ctx: S.ScoringContext | None = None
        self.last_preview: dict | None = None
        self._previewed = ""
        self.editable = ws.can("weights.edit")
        lay = QVBoxLayout(self)
        lay.addWidget(caveat_label())
        top = QHBoxLayout()
        self.version_label = QLabel()
        top.addWidget(self.version_label, 1)
        top.addWidget(QLabel(tr("版")))
        self.versions = QComboBox()
        top.addWidget(self.versions)
        self.load_btn = QPushButton(tr("この版を表示"))
        self.load_btn.clicked.connect(self.load_selected_version)
        top.addWidget(self.load_btn)
        lay.addLayout(top)
        split = QSplitter(Qt.Vertical)
        # indicators
        self.table = QTableWidget()
        self.fixed_cols = ["使用", "指標", "取込元", "基本", "期間(月)"]
        self.table.setColumnCount(len(self.fixed_cols) + len(self.types))
        self.table.setHorizontalHeaderLabels([tr(c) for c in self.fixed_cols] + [tr(t) for t in self.types])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Interactive)
        for i, w in enumerate((44, 300, 130, 44, 70)):
            self.table.setColumnWidth(i, w)
        fm = self.table.horizontalHeader().fontMetrics()
        for j, t in enumerate(self.types):  # wide enough for the header (「ヤングケアラー」 was clipped)
            self.table.setColumnWidth(len(self.fixed_cols) + j, max(82, fm.horizontalAdvance(tr(t)) + 18))
        split.addWidget(self.table)
        # thresholds and rules
        bottom = QWidget()
        bl = QHBoxLayout(bottom)
        th_box = QGroupBox(tr("しきい値（年齢区分ごと、高 / 中）"))
        tl = QVBoxLayout(th_box)
        self.thresholds = QTableWidget(len(self.types), 2 * len(self.bands))
        self.thresholds.setVerticalHeaderLabels([tr(t) for t in self.types])
        # two-line headers sized to their text (「未就学 高」 was clipped to 「₹就学 高」)
        self.thresholds.setHorizontalHeaderLabels([f"{tr(b)}\n{tr(lvl)}" for b in self.bands for lvl in ("高", "中")])
        self.thresholds.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.thresholds.horizontalHeader().setMinimumSectionSize(44)
        tl.addWidget(self.thresholds)
        bl.addWidget(th_box, 3)
        rules = QGroupBox(tr("ルール"))
        fl = QFormLayout(rules)
        self.sib_on = QCheckBox(tr("きょうだいが抽出されたら加点"))
        self.sib_pts = QDoubleSpinBox()
        self.sib_pts.setRange(0, 50)
        fl.addRow(self.sib_on, self.sib_pts)
        self.yt_mode = QComboBox()
        for key, label in (
            ("continue", "支援継続として表示（新規の一覧から外す）"),
            ("exclude", "抽出から除く"),
            ("none", "他のこどもと同じに扱う"),
        ):
            self.yt_mode.addItem(tr(label), key)
        fl.addRow(tr("要対協に登録中"), self.yt_mode)
        self.rank_mode = QComboBox()
        for key, label in (("none", "使わない"), ("top_percent", "上位％"), ("top_n", "上位N人")):
            self.rank_mode.addItem(tr(label), key)
        self.rank_value = QDoubleSpinBox()
        self.rank_value.setRange(0, 100000)
        self.rank_per = QComboBox()
        for key, label in (("age_band", "年齢区分ごと"), ("age", "年齢ごと"), ("all", "全体")):
            self.rank_per.addItem(tr(label), key)
        rk = QHBoxLayout()
        rk.addWidget(self.rank_mode)
        rk.addWidget(self.rank_value)
        rk.addWidget(self.rank_per)
        fl.addRow(tr("上位の抽出"), rk)
        self.basic_on = QCheckBox(tr("基本連携データ項目がこの数以上なら抽出"))
        self.basic_min = QSpinBox()
        self.basic_min.setRange(1, 19)
        fl.addRow(self.basic_on, self.basic_min)
        self.rise = QDoubleSpinBox()
        self.rise.setRange(0.5, 1000)
        fl.addRow(tr("急上昇とみなす上昇（点）"), self.rise)
        bl.addWidget(rules, 2)
        split.addWidget(bottom)
        # preview
        pv = QWidget()
        pl = QVBoxLayout(pv)
        btns = QHBoxLayout()
        self.preview_btn = QPushButton(tr("プレビュー（採用前の件数）"))
        self.preview_btn.clicked.connect(lambda: self.preview())
        btns.addWidget(self.preview_btn)
        self.adopt_btn = QPushButton(tr("保存して採用…"))
        self.adopt_btn.clicked.connect(lambda: self.adopt())
        btns.addWidget(self.adopt_btn)
        self.restore_btn = QPushButton(tr("選んだ版を再び採用（元に戻す）…"))
        self.restore_btn.clicked.connect(lambda: self.restore())
        btns.addWidget(self.restore_btn)
        btns.addStretch(1)
        pl.addLayout(btns)
        self.notice = Notice("scoringNotice")
        pl.addWidget(self.notice)
        # after adopting: the current scores were made with the old weights — offer to score again (on the page)
        self.on_rescore = None  # set by the page: run the scoring with the adopted weights
        self.rescore_box = QWidget()
        rb = QHBoxLayout(self.rescore_box)
        rb.setContentsMargins(0, 0, 0, 0)
        self.rescore_text = QLabel(
            tr("重みを採用しました。いまのスコアは前の重みで算出したものです。新しい重みでスコアを算出しますか？")
        )
        self.rescore_text.setWordWrap(True)
        self.rescore_text.setStyleSheet(f"color:{pal.OK_DARK};font-weight:bold;")
        self.rescore_btn = QPushButton(tr("いま算出する"))
        self.rescore_btn.clicked.connect(lambda: self.rescore())
        later = QPushButton(tr("あとで"))
        later.clicked.connect(lambda: self.rescore_box.setVisible(False))
        rb.addWidget(self.rescore_text, 1)
        rb.addWidget(self.rescore_btn)
        rb.addWidget(later)
        self.rescore_box.setVisible(False)
        pl.addWidget(self.rescore_box)
        self.preview_summary = QLabel(
            tr("重みを変えたら「プレビュー」で、学校・年齢区分ごとの件数を確かめてから採用してください。")
        )
        self.preview_summary.setWordWrap(True)
        pl.addWidget(self.preview_summary)
        ph = QHBoxLayout()
        self.preview_table = QTableWidget()
        self.preview_table.verticalHeader().setVisible(False)
        ph.addWidget(self.preview_table, 3)
        self.rates_table = QTableWidget()
        self.rates_table.verticalHeader().setVisible(False)
        ph.addWidget(self.rates_table, 2)
        pl.addLayout(ph)
        split.addWidget(pv)
        split.setSizes([440, 180, 120])
        for i, f in enumerate((3, 0, 1)):  # the indicator list takes the room the window has
            split.setStretchFactor(i, f)
        lay.addWidget(split, 1)
        for w in (self.adopt_btn, self.restore_btn):
            w.setEnabled(self.editable)
        self.reload()

    # -- data <-> widgets ----------------------------------------------------------------------------------------------
    def reload(self):
        self.active = S.active_weights(self.ws)
        self.versions.clear()
        for v in S.weight_sets(self.ws):
            self.versions.addItem(
                f"第{v['version']}版 {v['name']}" + (f"（{tr('採用中')}）" if v["active"] else ""), v["weight_set_id"]
            )
        self.version_label.setText(
            tr(
                "採用中: 第{v}版「{name}」（{by}・{at}）",
                v=self.active["version"],
                name=self.active["name"],
                by=self.active["adopted_by"] or "",
                at=when(self.active["adopted_at"]),
            )
        )
        self.show_data(self.active["data"])

    def load_selected_version(self):
        wid = self.versions.currentData()
        if wid is not None:
            self.show_data(S.get_weight_set(self.ws, wid)["data"])

    def show_data(self, data: dict):
        inds = self.cat["indicators"]
        t = self.table
        t.setRowCount(len(inds))
        src = {k: tr(v.get("label_ja", k)) for k, v in self.cat["sources"].items()}
        for r, ind in enumerate(inds):
            w = data["indicators"][ind["id"]]
            on = QTableWidgetItem()
            on.setFlags(Qt.ItemIsUserCheckable | Qt.ItemIsEnabled)
            on.setCheckState(Qt.Checked if w["enabled"] else Qt.Unchecked)
            on.setData(Qt.UserRole, ind["id"])
            t.setItem(r, 0, on)
            label = tr(ind["label_ja"]) + (tr("（保護的要因）") if ind["kind"] == "protective" else "")
            for c, text in (
                (1, label),
                (2, src.get(ind["source_type"], ind["source_type"])),
                (3, f"No.{ind['basic_no']}" if ind["basic"] else ""),
            ):
                it = QTableWidgetItem(text)
                it.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable)
                if c == 1:
                    it.setToolTip(f"{ind.get('purpose', '')}\n{ind.get('legal_basis', '')}")
                t.setItem(r, c, it)
            win = w.get("window_months")
            t.setItem(r, 4, QTableWidgetItem("" if win is None else str(win)))
            for j, ty in enumerate(self.types):
                p = w["points"].get(ty, 0)
                it = QTableWidgetItem(f"{p:g}" if p else "")
                it.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                t.setItem(r, len(self.fixed_cols) + j, it)
        for i, ty in enumerate(self.types):
            for b_i, band in enumerate(self.bands):
                cuts = data["thresholds"][ty].get(band)
                for k, lvl in enumerate(("高", "中")):
                    it = QTableWidgetItem("" if not cuts else f"{cuts[lvl]:g}")
                    it.setTextAlignment(Qt.AlignCenter)
                    if not cuts:
                        it.setToolTip(tr("空欄: この年齢区分ではこの種別を判定しません"))
                    self.thresholds.setItem(i, 2 * b_i + k, it)
        sib = data["sibling"]
        self.sib_on.setChecked(bool(sib["enabled"]))
        self.sib_pts.setValue(float(sib["points"]))
        self.yt_mode.setCurrentIndex(max(0, self.yt_mode.findData(data["yotaikyo"]["mode"])))
        rk = data["rank"]
        self.rank_mode.setCurrentIndex(max(0, self.rank_mode.findData(rk["mode"])))
        self.rank_value.setValue(float(rk["value"]))
        self.rank_per.setCurrentIndex(max(0, self.rank_per.findData(rk["per"])))
        self.basic_on.setChecked(bool(data["basic_items_rule"]["enabled"]))
        self.basic_min.setValue(int(data["basic_items_rule"]["min"]))
        self.rise.setValue(float(data["history"]["sharp_rise_points"]))
        self.base = data

    def collect(self) -> dict:
        """The edited weight set (raises KodomoError with a Japanese message when a cell is not a number)."""
        from ....core.errors import InputRefused

        data = {k: v for k, v in self.base.items()}
        inds = {}

        def num(text, what, allow_empty=True):
            text = (text or "").strip()
            if not text:
                if allow_empty:
                    return None
                raise InputRefused(f"{what} を入力してください。")
            try:
                return float(text) if "." in text else int(text)
            except ValueError:
                raise InputRefused(f"{what}「{text}」は数ではありません。")

        for r, ind in enumerate(self.cat["indicators"]):
            pts = {}
            for j, ty in enumerate(self.types):
                it = self.table.item(r, len(self.fixed_cols) + j)
                v = num(it.text() if it else "", f"{ind['label_ja']} の {ty}")
                if v:
                    pts[ty] = v
            win_item = self.table.item(r, 4)
            win = num(win_item.text() if win_item else "", f"{ind['label_ja']} の期間")
            inds[ind["id"]] = {
                "enabled": self.table.item(r, 0).checkState() == Qt.Checked,
                "points": pts,
                "window_months": int(win) if win is not None else None,
            }
        data["indicators"] = inds
        th = {}
        for i, ty in enumerate(self.types):
            th[ty] = {}
            for b_i, band in enumerate(self.bands):
                hi = num(self.thresholds.item(i, 2 * b_i).text(), f"{ty}（{band}）の高")
                mid = num(self.thresholds.item(i, 2 * b_i + 1).text(), f"{ty}（{band}）の中")
                th[ty][band] = (
                    None
                    if hi is None and mid is None
                    else {"高": hi if hi is not None else mid, "中": mid if mid is not None else hi}
                )
        data["thresholds"] = th
        data["sibling"] = {**self.base["sibling"], "enabled": self.sib_on.isChecked(), "points": self.sib_pts.value()}
        data["yotaikyo"] = {**self.base["yotaikyo"], "mode": self.yt_mode.currentData()}
        data["rank"] = {
            "mode": self.rank_mode.currentData(),
            "value": self.rank_value.value(),
            "per": self.rank_per.currentData(),
        }
        data["basic_items_rule"] = {"enabled": self.basic_on.isChecked(), "min": self.basic_min.value()}
        data["history"] = {"sharp_rise_points": self.rise.value()}
        return data

    def set_points(self, indicator_id: str, type_: str, points: float):
        """Edit one cell (used by tests and keyboard users alike)."""
        r = [i["id"] for i in self.cat["indicators"]].index(indicator_id)
        self.table.item(r, len(self.fixed_cols) + self.types.index(type_)).setText(f"{points:g}")

    # -- actions -------------------------------------------------------------------------------------------------------
    def _warn(self, title: str, text: str, interactive: bool) -> None:
        """A problem is always shown on the page; a message box only when the user started the action."""
        self.notice.error(text)
        if interactive:
            QMessageBox.warning(self, title, text)

    def preview(self) -> dict | None:
        self.notice.clear_text()
        try:
            data = self.collect()
            if self.ctx is None:
                self.ctx = S.ScoringContext.load(self.ws)
            pv = S.preview_weights(self.ws, data, context=self.ctx)
        except KodomoError as e:
            self._warn(tr("プレビュー"), e.message_ja, False)
            return None
        self.last_preview = pv
        self._previewed = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
        f = pv["flagged"]
        self.preview_summary.setText(
            tr(
                "基準日 {d}・{n} 人: 抽出 {a} 人 → {b} 人（新たに {x} 人、外れる {y} 人）。変更 {c} か所。",
                d=pv["as_of"],
                n=pv["children"],
                a=f["current"],
                b=f["new"],
                x=pv["moved"]["newly_flagged"],
                y=pv["moved"]["no_longer_flagged"],
                c=len(pv["changes"]),
            )
        )
        bands = list(pv["bands"]["new"])
        cols = (
            [tr(c) for c in ("学校・園", "年齢区分", "人数")]
            + [tr("{b}（現→案）", b=tr(b)) for b in bands]
            + [tr("抽出（現→案）")]
        )
        t = self.preview_table
        t.clear()
        t.setColumnCount(len(cols))
        t.setHorizontalHeaderLabels(cols)
        t.setRowCount(len(pv["by_school_age"]))
        for r, c in enumerate(pv["by_school_age"]):
            vals = (
                [c["school"], c["age_band"], str(c["children"])]
                + [f"{c['current'].get(b, 0)} → {c['new'].get(b, 0)}" for b in bands]
                + [f"{c['flagged_current']} → {c['flagged_new']}"]
            )
            for k, v in enumerate(vals):
                it = QTableWidgetItem(tr_list(v))
                if k == len(vals) - 1 and c["flagged_new"] != c["flagged_current"]:
                    it.setBackground(QColor(pal.TINT_AMBER))
                t.setItem(r, k, it)
        t.resizeColumnsToContents()
        rt = self.rates_table
        rt.clear()
        top = pv.get("top_band_label", "高")
        rt.setColumnCount(6)
        rt.setHorizontalHeaderLabels(
            [
                tr("グループ"),
                tr("人数"),
                tr("抽出率 現行"),
                tr("抽出率 案"),
                tr("{b}の率 現行", b=top),
                tr("{b}の率 案", b=top),
            ]
        )
        rows = [("全体", {"children": pv["children"], **{k: pv[k] for k in ("flagged_rate", "top_band_rate")}})]
        for kind, groups in pv.get("groups", {}).items():
            for g in groups:
                rows.append((f"{tr(S.GROUP_KINDS.get(kind, kind))}: {g['group']}", g))

        def pct(v):
            return "" if v is None else f"{v:.1f}%"

        rt.setRowCount(len(rows))
        warned = {(w["group_kind"], w["high"]) for w in pv.get("warnings", [])}
        kinds = [None] + [k for k, gs in pv.get("groups", {}).items() for _ in gs]
        names = [None] + [g["group"] for gs in pv.get("groups", {}).values() for g in gs]
        for r, (name, g) in enumerate(rows):
            vals = (
                name,
                str(g["children"]),
                pct(g["flagged_rate"]["current"]),
                pct(g["flagged_rate"]["new"]),
                pct(g["top_band_rate"]["current"]),
                pct(g["top_band_rate"]["new"]),
            )
            for k, v in enumerate(vals):
                it = QTableWidgetItem(tr_list(v))
                if (kinds[r], names[r]) in warned:
                    it.setBackground(QColor(pal.TINT_AMBER))
                rt.setItem(r, k, it)
        rt.resizeColumnsToContents()
        if pv.get("warnings"):
            self.notice.error(
                tr("グループ間の比の警告 {n} 件：", n=len(pv["warnings"]))
                + "　".join(w["text"] for w in pv["warnings"])
            )
        return pv

    def _preview_is_current(self, data: dict) -> bool:
        return self.last_preview is not None and self._previewed == json.dumps(
            data, sort_keys=True, ensure_ascii=False, default=str
        )

    def adopt(self, reason: str | None = None) -> bool:
        interactive = reason is None or isinstance(reason, bool)  # a button's clicked(bool) passes a bool
        if interactive:
            reason, ok = QInputDialog.getText(self, tr("重みの採用"), tr("採用する理由（必須・記録に残ります）:"))
            if not ok:
                return False
        if not (reason or "").strip():
            self._warn(tr("重みの採用"), tr("採用する理由を入力してください（理由は必須です）。"), interactive)
            return False
        try:
            data = self.collect()
        except KodomoError as e:
            self._warn(tr("重みの採用"), e.message_ja, interactive)
            return False
        if not self._preview_is_current(data):  # a preview nobody can skip: shown first, then 採用 again
            if self.preview() is not None:
                self.notice.info(
                    tr(
                        "採用の前にプレビューを表示しました。件数とグループ間の比を確かめてから、もう一度「保存して採用」を押してください。"
                    )
                )
            return False
        try:
            res = S.adopt_weights(self.ws, data, reason, preview=self.last_preview)
        except KodomoError as e:
            self._warn(tr("重みの採用"), e.message_ja, interactive)
            return False
        self.notice.clear_text()
        self.reload()
        self.adopted = res
        self.offer_rescore()
        return True

    def restore(self, reason: str | None = None) -> bool:
        wid = self.versions.currentData()
        if wid is None:
            return False
        interactive = reason is None or isinstance(reason, bool)
        if interactive:
            reason, ok = QInputDialog.getText(self, tr("元に戻す"), tr("この版を再び採用する理由（必須）:"))
            if not ok:
                return False
        try:
            S.adopt_weight_set(self.ws, wid, reason or "")
        except KodomoError as e:
            self._warn(tr("元に戻す"), e.message_ja, interactive)
            return False
        self.reload()
        self.offer_rescore()
        return True

    def offer_rescore(self) -> None:
        """Adopted weights score nothing until the next run: ask, on the page (never a box)."""
        self.rescore_btn.setEnabled(self.ws.can("score.run") and self.on_rescore is not None)
        self.rescore_box.setVisible(True)

    def rescore(self):
        self.rescore_box.setVisible(False)
        return self.on_rescore() if self.on_rescore is not None else None
