"""「一覧」: the prioritised list (lazy, filtered and sorted in SQL), the reasons panel, what-if."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout

from ....core.errors import KodomoError
from ....core.scoring import listing as LS
from ....core.scoring import service as S
from ....core.scoring.explain import KIND_LABELS, Reason, ScoreDetails
from ... import palette as pal
from ... import roles as R
from ...i18n import label_of, msg, reason_value, tr, translate
from ...models import LazyRowsModel

if TYPE_CHECKING:  # annotations only: the GUI gets its workspace from the caller
    from ....core.workspace import Workspace

from .common import CAVEAT, _tint


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
