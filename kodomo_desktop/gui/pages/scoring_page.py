"""スコア: the prioritised list (filters, colour bands, reasons in a side panel, what-if) and the weights editor
(points per difficulty type, windows, thresholds per age band, rules, preview per school and age band, flag rates
by group, adoption with a reason, restoring an earlier version).

The caveat 「スコアは支援の要否を検討するためのきっかけであり、判定結果ではありません。」 is on both tabs. Everything
goes through ``core.scoring.service`` (permissions and the access log live there)."""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ...core.errors import Cancelled, KodomoError
from ...core.scoring import listing as LS
from ...core.scoring import service as S
from ...core.scoring.explain import KIND_LABELS, Reason, ScoreDetails
from .. import palette as pal
from .. import roles as R
from ..format import when
from ..i18n import label_of, msg, reason_value, tr, tr_list, translate
from ..models import LazyRowsModel
from ..widgets import FlowLayout, Notice

if TYPE_CHECKING:  # annotations only: the GUI gets its workspace from the caller
    from ...core.workspace import Workspace

CAVEAT = S.CAVEAT
ALL = "（すべて）"
NO_SCHOOL = "（学校・園なし）"
SEARCH_DEBOUNCE_MS = 250
BAND_TINT = {"高": pal.BAND_HIGH_BG, "中": pal.BAND_MID_BG, "低": pal.BAND_LOW_BG}


def caveat_label() -> QLabel:
    lab = QLabel("⚠ " + tr(CAVEAT))
    lab.setWordWrap(True)
    lab.setObjectName("scoreCaveat")
    lab.setStyleSheet(
        f"background:{pal.CAVEAT_BG};border:1px solid {pal.CAVEAT_BORDER};padding:6px;color:{pal.CAVEAT_TEXT};font-weight:bold;"
    )
    return lab


def _tint(color: str | None, band: str) -> QColor:
    c = QColor(BAND_TINT.get(band) or color or pal.WHITE)
    if band not in BAND_TINT and color:
        c = QColor(color)
        c.setAlpha(60)
    return c


# --- the list ---------------------------------------------------------------------------------------------------------
class ScoreListModel(LazyRowsModel):
    """The prioritised list of the latest run, a page at a time: filtered, counted and ordered in SQL
    (``scoring.listing.score_count``/``score_page``); 順位 is the child's place in the whole run's list."""

    COLUMNS = [
        "順位",
        "氏名",
        "年齢",
        "年齢区分",
        "学校・園",
        "合計",
        "帯",
        "超えた種別",
        "基本項目",
        "学校／学校外",
        "状況",
        "データなし",
        "本人の記録／世帯",
    ]
    KEYS = [
        "position",
        "name",
        "age",
        "age_band",
        "school",
        "total",
        "band",
        "types",
        "basic_items",
        "points",
        "status",
        "no_data",
        "own",
    ]

    def __init__(self, ws: Workspace | None = None, parent=None):
        super().__init__(
            list(zip(self.KEYS, self.COLUMNS)),
            (lambda **f: LS.score_count(ws, **f)) if ws is not None else None,
            (lambda limit, offset, order, desc, **f: LS.score_page(ws, limit, offset, order, desc, **f))
            if ws is not None
            else None,
            parent,
            sort_keys={"position": "position", "name": "name", "age": "age", "school": "school", "total": "total"}
            | {"basic_items": "basic_items"},
            order="position",
        )

    @staticmethod
    def status(r: dict) -> str:
        bits = []
        if r["status_label"]:
            bits.append(tr(r["status_label"]))
        if r["new"]:
            bits.append(tr("新規"))
        if r["sharp_rise"]:
            bits.append(tr("急上昇"))
        if r["streak"] >= 2:
            bits.append(tr("{n}回連続", n=r["streak"]))
        if r["flagged"] and not r["reviewed"]:
            bits.append(tr("未確認"))
        if r.get("pending"):
            bits.append(tr("名寄せ確認待ち"))
        if r.get("implausible"):
            bits.append(tr("日付要確認"))
        return tr("・").join(bits)

    def data(self, index, role=R.DISPLAY):
        if not index.isValid():
            return None
        r, c = self.row(index.row()), index.column()
        if r is None:  # deleted since the list was counted
            return None
        if role == R.DISPLAY:
            return _CELLS[c](self, r)  # only the cell asked for (the view asks cell by cell)
        if role == R.BACKGROUND and c in (5, 6):
            return _tint(r.get("band_color"), r["band"])
        if role == R.FOREGROUND and c == 11 and r["no_data"]:
            return QColor(pal.WARN_BROWN)
        if role == R.TOOLTIP and c == 12:
            return tr("本人の記録の点／世帯の状況・経済状況・きょうだいの点（合計＝本人＋世帯）")
        if role == R.ALIGNMENT and c in (0, 2, 5, 8):
            return R.RIGHT_MIDDLE
        if role == R.TOOLTIP and c == 6:
            return tr("帯は困難の種別ごとのしきい値（年齢区分別）で決まります。確率ではありません。")
        if role == R.USER:
            return r["person_id"]
        return None

    def headerData(self, section, orientation, role=R.DISPLAY):
        if role == R.DISPLAY and orientation == R.HORIZONTAL:
            return tr(self.COLUMNS[section])
        return None


# ScoreListModel's cells by column (what the list shows; the columns are ScoreListModel.COLUMNS)
_CELLS = (
    lambda m, r: r.get("position") or "",
    lambda m, r: r["name"],
    lambda m, r: r["age"],
    lambda m, r: tr(r["age_band"]),
    lambda m, r: r["school"] or "－",
    lambda m, r: f"{r['total']:g}",
    lambda m, r: translate(r.get("band_text") or msg(r["band"] or "")),
    lambda m, r: tr("・").join(tr(t) for t in r["types"]),
    lambda m, r: r["basic_items"],
    lambda m, r: f"{r['school_points']:g} ／ {r['other_points']:g}",
    lambda m, r: m.status(r),
    lambda m, r: tr("・").join(tr(x) for x in r["no_data"]),
    lambda m, r: f"{r.get('own_points', 0):g} ／ {r.get('household_points', 0):g}",
)


def guard_off_text(off: dict | None) -> str:
    """Every list says so when the proxy guard is switched off for a type."""
    if not off:
        return ""
    return "　" + tr("※世帯・経済の指標だけで最上位の帯にしない規則を外している種別：{t}", t="、".join(off))


def _label(r: Reason) -> str:
    """A reason's label through the table, else its stored English when the language is English."""
    return label_of({"label": r.label, "label_en": r.label_en})


def reasons_html(ex: dict) -> str:
    """The child's score explained, read from the engine's :class:`ScoreDetails` (no key guessing)."""
    sd = ScoreDetails.from_dict(ex.get("details") or {})
    e = html.escape
    out = [
        f"<h3>{e(ex.get('name') or '')}　<small>{e(str(ex.get('person_id')))}</small></h3>",
        f"<p><b>{e(tr('合計'))} {sd.total:g}</b>（{e(tr('学校'))} {sd.school_points:g} ＋ "
        f"{e(tr('学校外'))} {sd.other_points:g}）　{e(tr('帯'))}: <b>{e(tr(sd.band))}</b>　"
        f"{e(tr('基本連携データ項目'))}: {sd.basic_items}</p>",
    ]
    own_hh = tr("本人の記録 {o} 点・世帯の状況 {h} 点", o=f"{sd.own_points:g}", h=f"{sd.household_points:g}")
    out.append(f"<p>{e(own_hh)}</p>")
    for line in sd.pending_lines:
        out.append(
            f"<p style='color:{pal.WARN_BROWN}'><b>{e(line)}</b>（{e(tr('確認されるまで点数に入りません'))}）</p>"
        )
    for x in sd.implausible:
        out.append(f"<p style='color:{pal.WARN_BROWN}'>{e(x.text)}（{e(tr('事実として扱いません'))}）</p>")
    if sd.status_label:
        out.append(f"<p style='color:{pal.INFO_BLUE}'><b>{e(tr(sd.status_label))}</b>（{e(tr('要対協に登録中'))}）</p>")
    if sd.types:
        out.append("<table border='0' cellspacing='0' cellpadding='2'>")
        for t, v in sorted(sd.types.items(), key=lambda kv: -kv[1].points):
            mark = "●" if v.flagged else "○"
            cuts = translate(sd.threshold_text(t))
            note = ""
            if v.guard_capped:
                note = "　" + tr("世帯・経済の指標だけのため最上位の帯にしていません")
            elif t in sd.guard_off:
                note = "　" + tr("世帯・経済の指標だけで最上位にしない規則を外しています（{r}）", r=sd.guard_off[t])
            out.append(
                f"<tr><td>{mark} {e(tr(t))}</td><td align='right'>{v.points:g}</td>"
                f"<td>{e(tr(v.band))}</td><td style='color:{pal.FAINT}'>"
                f"{e(cuts) if cuts else e(tr('対象外'))}{e(note)}</td></tr>"
            )
        out.append("</table>")
    out.append(f"<h4>{e(tr('理由'))}</h4><ol>")
    for r in sd.reasons:
        whose = [] if r.whose == "本人" else [tr(x) for x in (r.whose, r.relationship) if x]
        who = f"（{e('・'.join(whose))}）" if whose else ""
        kind = KIND_LABELS.get(r.kind, "")
        # A part that is not known (a store made without provenance) is left out, not shown as "・・（時点 ）".
        where = "・".join(x for x in (tr(r.department or r.source_label), r.record_date, r.file_name) if x)
        if r.batch_as_of:
            where += f"（{tr('時点')} {r.batch_as_of}）"
        detail = "　".join(x for x in (reason_value(r.value), where) if x)
        below = f"<br><span style='color:{pal.MUTED}'>{e(detail)}</span>" if detail else ""
        out.append(
            f"<li><b>{e(_label(r))}</b> +{r.points:g}{who}{'　［' + e(tr(kind)) + '］' if kind else ''}{below}</li>"
        )
    out.append("</ol>")
    if not sd.reasons:
        out.append(f"<p>{e(tr('該当する項目はありません。'))}</p>")
    if sd.protective:
        out.append(f"<h4>{e(tr('保護的な要因'))}</h4><ul>")
        for r in sd.protective:
            out.append(
                f"<li>{e(_label(r))}　<span style='color:{pal.MUTED}'>{e(tr(r.source_label))}・"
                f"{e(r.record_date or '')}</span></li>"
            )
        out.append("</ul>")
    if sd.no_data:
        out.append(
            f"<h4 style='color:{pal.WARN_BROWN}'>{e(tr('データがない情報源（リスクなしではありません）'))}</h4><ul>"
        )
        for x in sd.no_data:
            out.append(f"<li>{e(tr(x.label))} <span style='color:{pal.FAINT}'>{e(x.detail)}</span></li>")
        out.append("</ul>")
    hist = ex.get("history") or []
    if len(hist) > 1:
        out.append(
            f"<h4>{e(tr('これまでのスコア'))}</h4><p>"
            + "　→　".join(f"{e(str(h['as_of']))}: {h['total']:g}（{e(tr(h['band'] or ''))}）" for h in hist[-6:])
            + "</p>"
        )
    out.append(f"<p style='color:{pal.CAVEAT_TEXT}'><small>{e(tr(CAVEAT))}</small></p>")
    return "".join(out)


class WhatIfPanel(QGroupBox):
    """Switch reasons off or mark supports as started and see the score move — nothing is saved."""

    def __init__(self, ws: Workspace, parent=None):
        super().__init__(tr("試算（what-if）— 保存しません"), parent)
        self.ws = ws
        self.person_id: str | None = None
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel(tr("外す項目（チェックを外すと除いて計算）")))
        self.items = QListWidget()
        self.items.setMaximumHeight(110)
        lay.addWidget(self.items)
        lay.addWidget(QLabel(tr("始めた支援")))
        self.supports = QListWidget()
        self.supports.setMaximumHeight(100)
        for sp in S.supports():
            it = QListWidgetItem(tr(sp["label_ja"]))
            it.setData(Qt.UserRole, sp["id"])
            it.setFlags(it.flags() | Qt.ItemIsUserCheckable)
            it.setCheckState(Qt.Unchecked)
            self.supports.addItem(it)
        lay.addWidget(self.supports)
        row = QHBoxLayout()
        self.run_btn = QPushButton(tr("試算する"))
        self.run_btn.clicked.connect(self.run)
        row.addWidget(self.run_btn)
        row.addStretch(1)
        lay.addLayout(row)
        self.result = QLabel("")
        self.result.setWordWrap(True)
        self.result.setTextFormat(Qt.RichText)
        lay.addWidget(self.result)
        self.last: dict | None = None

    def set_child(self, person_id: str | None, details: dict | None):
        self.person_id = person_id
        self.items.clear()
        self.result.setText("")
        for r in ScoreDetails.from_dict(details or {}).reasons:
            if r.indicator == "sibling_flagged":
                continue
            it = QListWidgetItem(tr("{label}（+{p}）", label=_label(r), p=f"{r.points:g}"))
            it.setData(Qt.UserRole, r.indicator)
            it.setFlags(it.flags() | Qt.ItemIsUserCheckable)
            it.setCheckState(Qt.Checked)
            self.items.addItem(it)
        for i in range(self.supports.count()):
            self.supports.item(i).setCheckState(Qt.Unchecked)
        self.run_btn.setEnabled(person_id is not None)

    def run(self):
        if not self.person_id:
            return
        off = [
            self.items.item(i).data(Qt.UserRole)
            for i in range(self.items.count())
            if self.items.item(i).checkState() != Qt.Checked
        ]
        sup = [
            self.supports.item(i).data(Qt.UserRole)
            for i in range(self.supports.count())
            if self.supports.item(i).checkState() == Qt.Checked
        ]
        try:
            res = S.what_if(self.ws, self.person_id, disabled_indicators=off, supports_started=sup)
        except KodomoError as e:
            self.result.setText(f"<span style='color:{pal.ERROR}'>{html.escape(e.message_ja)}</span>")
            return
        self.last = res
        b, a = res["before"], res["after"]
        types = "、".join(f"{t} {b['types'].get(t, 0):g}→{a['types'].get(t, 0):g}" for t in sorted(res["type_changes"]))
        self.result.setText(
            f"<b>{tr('合計')} {b['total']:g} → {a['total']:g}（{res['change']:+g}）</b>　"
            f"{tr('帯')} {b['band']} → {a['band']}　{html.escape(types)}<br>"
            f"<span style='color:{pal.FAINT}'>{html.escape(tr('試算は保存されません。'))}</span>"
        )


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
        from ...core.errors import InputRefused

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


# --- the screen's own evaluation ------------------------------------------------------------------------------------
class EvaluationPanel(QWidget):
    """振り返り: per indicator over the review rounds — with the item, flagged, reviewed, confirmed (受理相当 or
    support started) — the misses, and suggested weights a person loads into the editor, previews and adopts
    (never applied here). The core is ``core.scoring.evaluation``."""

    COLUMNS = ["指標", "該当", "抽出", "分類済み", "確認", "確認の割合", "注意"]
    SUG_COLUMNS = ["指標", "現在の点", "提案", "90％の範囲", "該当（うち確認）", "注意"]

    def __init__(self, ws: Workspace, editor: WeightsEditor | None = None, parent=None):
        super().__init__(parent)
        self.ws, self.editor = ws, editor
        self.result: dict | None = None
        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        self.run_btn = QPushButton(tr("振り返りラウンドから評価する"))
        self.run_btn.clicked.connect(lambda: self.run())
        row.addWidget(self.run_btn)
        self.load_btn = QPushButton(tr("提案を重みの編集に読み込む（プレビューしてから採用）"))
        self.load_btn.clicked.connect(lambda: self.load_suggestion())
        self.load_btn.setEnabled(False)
        row.addWidget(self.load_btn)
        row.addStretch(1)
        lay.addLayout(row)
        self.summary = QLabel(tr("ラウンドの分類と支援の記録から、指標ごとに抽出と確認の件数を数えます。"))
        self.summary.setWordWrap(True)
        lay.addWidget(self.summary)
        split = QSplitter(Qt.Vertical)
        self.table = QTableWidget()
        self.table.verticalHeader().setVisible(False)
        split.addWidget(self.table)
        self.sug = QTableWidget()
        self.sug.verticalHeader().setVisible(False)
        split.addWidget(self.sug)
        lay.addWidget(split, 1)
        note = QLabel(tr("提案は自動では使われません。件数が少ない指標は現在の点の近くにとどまります。"))
        note.setWordWrap(True)
        lay.addWidget(note)

    def run(self) -> dict | None:
        from ...core.scoring.evaluation import evaluation

        try:
            ev = evaluation(self.ws)
        except KodomoError as e:
            self.summary.setText(e.message_ja)
            self.result = None
            self.load_btn.setEnabled(False)
            return None
        self.result = ev
        sm = ev["summary"]
        share = sm["confirmed_captured_share"]
        self.summary.setText(
            tr(
                "ラウンド {r} 回・抽出 {f} 人・分類済み {v} 人・確認 {c} 人（うち抽出されていた {cf} 人{s}）・"
                "見逃し {m} 人。",
                r=sm["rounds"],
                f=sm["flagged"],
                v=sm["reviewed"],
                c=sm["confirmed"],
                cf=sm["confirmed_flagged"],
                s="" if share is None else f"・{100 * share:.0f}%",
                m=sm["misses"],
            )
            + " "
            + sm["caution"]
        )
        rows = sorted(
            (r for r in ev["rows"] if r["round_id"] == "all" and r["with_item"]),
            key=lambda r: (-(r["confirmed_share"] or 0), -r["with_item"]),
        )
        self._fill(
            self.table,
            self.COLUMNS,
            [
                [
                    r["label"],
                    str(r["with_item"]),
                    str(r["flagged"]),
                    str(r["reviewed"]),
                    str(r["confirmed"]),
                    "" if r["confirmed_share"] is None else f"{100 * r['confirmed_share']:.1f}%",
                    r["caution"],
                ]
                for r in rows
            ],
        )
        self._fill(
            self.sug,
            self.SUG_COLUMNS,
            [
                [
                    x["label"],
                    f"{x['current']:g}",
                    f"{x['suggested']:g}",
                    f"{x['low']:g}〜{x['high']:g}",
                    f"{x['with_item']}（{x['confirmed_with_item']}）",
                    x["caution"],
                ]
                for x in sm["suggested"]
            ],
        )
        self.load_btn.setEnabled(self.editor is not None and self.editor.editable)
        return ev

    @staticmethod
    def _fill(t: QTableWidget, cols: list[str], rows: list[list[str]]) -> None:
        t.clear()
        t.setColumnCount(len(cols))
        t.setHorizontalHeaderLabels([tr(c) for c in cols])
        t.setRowCount(len(rows))
        for r, vals in enumerate(rows):
            for c, v in enumerate(vals):
                t.setItem(r, c, QTableWidgetItem(tr_list(v)))
        t.resizeColumnsToContents()

    def load_suggestion(self) -> bool:
        """The suggestion into the weight editor and its preview: a person adopts it there, with a reason."""
        if self.result is None or self.editor is None or not self.editor.editable:
            return False
        from ...core.scoring.weights import strip_meta, validate_weights

        data = validate_weights(strip_meta(self.result["suggested_weights"]), S.catalogue())
        self.editor.show_data(data)
        self.editor.preview()
        self.editor.notice.info(
            tr(
                "町の結果からの提案を読み込みました（まだ採用していません）。プレビューを確かめ、理由を付けて採用してください。"
            )
        )
        return True


# --- the page -----------------------------------------------------------------------------------------------------------------
class ScoringPage(QWidget):
    def __init__(self, ws: Workspace, main_window=None):
        super().__init__()
        self.ws, self.main = ws, main_window
        ws.require("score.read", what="scoring page")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        self.tabs = QTabWidget()
        lay.addWidget(self.tabs)
        # list tab
        lst = QWidget()
        ll = QVBoxLayout(lst)
        top = QHBoxLayout()
        title = QLabel(tr("スコア（支援を検討する候補）"))
        title.setStyleSheet("font-size:15pt;font-weight:bold;")
        top.addWidget(title)
        self.run_info = QLabel()
        self.run_info.setWordWrap(True)  # a long run description wraps instead of widening the page
        self.run_info.setStyleSheet(f"color:{pal.MUTED};")
        top.addWidget(self.run_info, 1)
        self.run_btn = QPushButton(tr("スコアを算出"))
        self.run_btn.setEnabled(ws.can("score.run"))
        self.run_btn.clicked.connect(self.run_scoring)
        top.addWidget(self.run_btn)
        ll.addLayout(top)
        ll.addWidget(caveat_label())
        filters = FlowLayout()  # one row in Japanese; the longer English labels wrap instead of widening the window
        self.f_school, self.f_age, self.f_type, self.f_band = QComboBox(), QComboBox(), QComboBox(), QComboBox()
        for label, combo in (
            (tr("学校・園"), self.f_school),
            (tr("年齢区分"), self.f_age),
            (tr("種別"), self.f_type),
            (tr("帯"), self.f_band),
        ):
            filters.addWidget(QLabel(label))
            combo.setMinimumWidth(110)
            # long school names must not widen the page past a 1366 px screen
            combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(8)
            filters.addWidget(combo)
            combo.currentIndexChanged.connect(self.apply_filters)
        self.f_new, self.f_yt, self.f_unrev, self.f_flag = (
            QCheckBox(tr("新規")),
            QCheckBox(tr("要対協")),
            QCheckBox(tr("未確認")),
            QCheckBox(tr("抽出のみ")),
        )
        for cb in (self.f_new, self.f_yt, self.f_unrev, self.f_flag):
            filters.addWidget(cb)
            cb.toggled.connect(self.apply_filters)
        self.search = QLineEdit()
        self.search.setPlaceholderText(tr("氏名・カナで探す"))
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(180)
        filters.addWidget(self.search)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DEBOUNCE_MS)
        self._debounce.timeout.connect(self.apply_filters)
        self.search.textChanged.connect(lambda *_: self._debounce.start())
        self.search.returnPressed.connect(self.apply_filters)
        self.count = QLabel()
        filters.addWidget(self.count)
        ll.addLayout(filters)
        split = QSplitter(Qt.Horizontal)
        self.model = ScoreListModel(ws, self)
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setSortingEnabled(True)  # in SQL, over the whole run (順位 is the place in the run's list)
        self.view.horizontalHeader().setSortIndicator(0, Qt.AscendingOrder)
        self.view.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.view.setAlternatingRowColors(True)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(24)
        fm = self.view.horizontalHeader().fontMetrics()
        for i, w in enumerate((44, 110, 40, 70, 120, 44, 170, 130, 60, 84, 130, 120, 90)):
            head = str(self.model.headerData(i, Qt.Horizontal) or "")  # never narrower than its header
            self.view.setColumnWidth(i, max(w, fm.horizontalAdvance(head) + 12))
        self.view.horizontalHeader().setStretchLastSection(True)
        self.view.selectionModel().currentRowChanged.connect(lambda cur, prev: self.show_reasons(cur.row()))
        split.addWidget(self.view)
        side = QWidget()
        sl = QVBoxLayout(side)
        sl.setContentsMargins(0, 0, 0, 0)
        self.reasons = QTextBrowser()
        self.reasons.setOpenExternalLinks(False)
        sl.addWidget(self.reasons, 3)
        self.whatif = WhatIfPanel(ws)
        sl.addWidget(self.whatif, 2)
        open_btn = QPushButton(tr("こどものページを開く"))
        open_btn.clicked.connect(self.open_child)
        open_btn.setEnabled(main_window is not None and hasattr(main_window, "open_person"))
        sl.addWidget(open_btn)
        split.addWidget(side)
        split.setSizes([820, 460])
        ll.addWidget(split, 1)
        self.tabs.addTab(lst, tr("一覧"))
        self.weights = WeightsEditor(ws)
        self.tabs.addTab(self.weights, tr("重み・しきい値"))
        self.weights.on_rescore = self._rescore_after_adopt
        self.evaluation = EvaluationPanel(ws, self.weights)
        self.tabs.addTab(self.evaluation, tr("振り返り（評価）"))
        self.evaluation.load_btn.clicked.connect(lambda: self.tabs.setCurrentIndex(1))
        QShortcut(QKeySequence(Qt.Key_F5), self, activated=self.reload)
        self.current: dict | None = None
        self.reload()

    # -- data --------------------------------------------------------------------------------------------------------
    def reload(self):
        if self.ws.locked:
            return
        run = S.latest_run(self.ws)
        self._run_id = run["run_id"] if run else None
        self.total = LS.score_count(self.ws, self._run_id, log=False) if run else 0
        if run:
            sm = run["summary"]
            self.run_info.setText(
                tr(
                    "基準日 {d}・重み 第{v}版・{n} 人中 抽出 {f} 人（新規 {x} 人）",
                    d=run["as_of"],
                    v=sm.get("weight_set_version", "?"),
                    n=sm.get("children", self.total),
                    f=sm.get("flagged", 0),
                    x=sm.get("newly_flagged", 0),
                )
                + guard_off_text(sm.get("proxy_guard_off"))
            )
        else:
            self.run_info.setText(tr("まだスコアを算出していません。"))
        schools = LS.score_schools(self.ws, self._run_id) if run else []
        for combo, values in (
            (self.f_school, [(v or NO_SCHOOL, v) for v in schools]),
            (self.f_age, [(b["label"], b["label"]) for b in S.catalogue()["age_bands"]]),
            (self.f_type, [(t, t) for t in S.catalogue()["difficulty_types"]]),
            (self.f_band, [(b["label"], b["label"]) for b in S.active_weights(self.ws)["data"]["bands"]]),
        ):
            keep = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItem(tr(ALL), None)
            for label, v in values:
                combo.addItem(tr(label), v)  # a school's name or a town's own type or band stays as it is
            i = combo.findText(keep)
            combo.setCurrentIndex(i if i >= 0 else 0)
            combo.blockSignals(False)
        self.apply_filters()

    def filters(self) -> dict:
        """The filters on screen as ``scoring.listing`` takes them (``school=""``: no school or nursery)."""
        school, age, type_, band = (c.currentData() for c in (self.f_school, self.f_age, self.f_type, self.f_band))
        new, yt, unrev, flag = (c.isChecked() for c in (self.f_new, self.f_yt, self.f_unrev, self.f_flag))
        return dict(
            school=school,
            age_band=age,
            type_=type_,
            band=band,
            new=True if new else None,
            yotaikyo=True if yt else None,
            unreviewed=True if unrev else None,
            flagged_only=flag,
            query=self.search.text().strip() or None,
        )

    def apply_filters(self) -> int:
        """Count and fetch the first page in SQL; the view is logged once (the count, never the search text)."""
        if self.ws.locked:
            return self.model.matches
        self._debounce.stop()
        if self._run_id is None:
            self.model.set_rows([])
            n = 0
        else:
            self.model.set_source(
                lambda **f: LS.score_count(self.ws, self._run_id, **f),
                lambda limit, offset, order, desc, **f: LS.score_page(
                    self.ws, limit, offset, order, desc, run_id=self._run_id, **f
                ),
            )
            n = self.model.set_filters(**self.filters())
        self.count.setText(tr("{n} 人 / {total} 人", n=n, total=self.total))
        if n:
            self.view.selectRow(0)
        else:
            self.show_reasons(-1)
        return n

    def show_reasons(self, row: int):
        r = self.model.row_at(row)
        if r is None:
            self.current = None
            self.reasons.setHtml(f"<p>{html.escape(tr('一覧からこどもを選ぶと、理由がここに表示されます。'))}</p>")
            self.whatif.set_child(None, None)
            return
        try:
            ex = S.child_explanation(self.ws, r["person_id"], run_id=r["run_id"])
        except KodomoError as e:
            self.reasons.setPlainText(e.message_ja)
            return
        self.current = ex
        self.reasons.setHtml(reasons_html(ex))
        self.whatif.set_child(r["person_id"], ex["details"])

    def run_scoring(self):
        from ..ops import run_with_progress

        self.run_btn.setEnabled(False)  # one run at a time; the window stays usable meanwhile
        self.op = run_with_progress(
            self,
            tr("スコア算出"),
            lambda progress, cancel: S.run_scoring(self.ws, progress=progress, cancel=cancel),
            on_done=lambda _: self.reload(),
            on_error=self._scoring_failed,
        )
        self.op.finished.connect(lambda: self.run_btn.setEnabled(self.ws.can("score.run")))
        return self.op

    def _scoring_failed(self, e):
        from ..ops import show_error

        if isinstance(e, Cancelled):
            self.run_info.setText(tr(e.message_ja))
            return
        show_error(self, tr("スコア算出"), e)

    def _rescore_after_adopt(self):
        self.tabs.setCurrentIndex(0)
        return self.run_scoring()

    def open_child(self):
        if self.current and self.main is not None and hasattr(self.main, "open_person"):
            self.main.open_person(self.current["person_id"])

    def page_shown(self):
        run = S.latest_run(self.ws) if not self.ws.locked else None
        if run and run["run_id"] != getattr(self, "_run_id", None):  # a run made elsewhere (demo, CLI)
            QTimer.singleShot(0, self.reload)
