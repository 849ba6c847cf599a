"""The forms of 指標の編集 that add to the town's catalogue draft: a new indicator (one source, or two — present in A
and absent in B within a window — scored or shown as 利用できる可能性のある支援), a new source type of the town, and
the flagging rules (top N % per difficulty type per age band; at least K basic items).

Each form only turns its fields into a catalogue entry through the core (``town.build_indicator``,
``town.source_spec``, ``town.with_*`` — the functions the CLI uses) and shows every problem the core finds in
Japanese next to the field it concerns; the page previews and adopts the draft (core/scoring/town.py)."""

from __future__ import annotations

import copy
import re

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...core.errors import KodomoError
from ...core.importing import town_types as TT
from ...core.scoring import town as T
from .. import palette as pal
from ..i18n import tr

NO_FIELD = "（項目を使わない・どの記録でも）"
IDENTITY_LABELS = {
    "resident_no": "宛名番号",
    "name": "氏名",
    "name_kana": "カナ",
    "birth_date": "生年月日",
    "household_no": "世帯番号",
    "address": "住所",
    "sex": "性別",
}
BASIS_CHOICES = {
    "61-1": "第61条第1項（所掌事務に必要な範囲）",
    "69-2-2": "第69条第2項第2号（内部での目的外利用）",
    "69-2-3": "第69条第2項第3号（他の行政機関等への提供）",
    "other": "その他（根拠を記入）",
}
ATTR_COLUMNS = ["項目名（英字）", "表示名", "型", "選択肢", "見出しの別名"]  # lists: separated by 、


def _combo(choices: dict) -> QComboBox:
    c = QComboBox()
    for key, label in choices.items():
        c.addItem(tr(label) if label else "", key)
    return c


def _select(combo: QComboBox, key) -> None:
    i = combo.findData(key)
    if i >= 0:
        combo.setCurrentIndex(i)


class FieldErrors:
    """A red label under each field: ``show({field: [messages]})``; every label empty and hidden first."""

    def __init__(self):
        self.labels: dict[str, QLabel] = {}

    def make(self, key: str) -> QLabel:
        lab = QLabel("")
        lab.setWordWrap(True)
        lab.setObjectName(f"error_{key}")
        lab.setStyleSheet(f"color:{pal.ERROR};font-size:9pt;")
        lab.hide()
        self.labels[key] = lab
        return lab

    def clear(self) -> None:
        for lab in self.labels.values():
            lab.setText("")
            lab.hide()

    def show(self, found: dict[str, list[str]], fallback: str) -> list[str]:
        """Put each message next to its field (unknown fields: under ``fallback``); returns every message."""
        self.clear()
        every = []
        for key, msgs in found.items():
            lab = self.labels.get(key) or self.labels[fallback]
            lab.setText("\n".join(m for m in [lab.text(), *msgs] if m))
            lab.show()
            every += msgs
        return every

    def text(self, key: str) -> str:
        return self.labels[key].text()


class FormGrid:
    """A two-column form whose every field has its error label on the row below."""

    def __init__(self, errors: FieldErrors):
        self.grid = QGridLayout()
        self.grid.setColumnStretch(1, 1)
        self.errors = errors
        self.row = 0

    def add(self, key: str, label: str, widget) -> None:
        self.grid.addWidget(QLabel(tr(label)), self.row, 0)
        if isinstance(widget, QWidget):
            self.grid.addWidget(widget, self.row, 1)
        else:
            self.grid.addLayout(widget, self.row, 1)
        self.grid.addWidget(self.errors.make(key), self.row + 1, 1)
        self.row += 2

    def span(self, widget) -> None:
        self.grid.addWidget(widget, self.row, 0, 1, 2)
        self.row += 1


_WHERE = re.compile(r"^(取込元「[^」]*」|指標「[^」]*」|支援の候補「[^」]*」)(: )?((present|absent|ない記録): )?")
_KEY = re.compile(r"\b[a-z_]+（([^）]+)）")


def plain(msg: str) -> str:
    """A core message as shown next to its field: without the "取込元「…」: " it already stands next to, and
    without the catalogue file's key names (「label（表示名）」 → 「表示名」)."""
    return _KEY.sub(r"\1", _WHERE.sub("", msg))


def _by_field(found, strip: int) -> dict[str, list[str]]:
    """Problems (where, message) → {field key: [messages]}; ``strip`` leading parts of ``where`` dropped."""
    out: dict[str, list[str]] = {}
    for where, msg in found:
        key = ".".join(str(x) for x in where[strip:]) or "_"
        out.setdefault(key, []).append(plain(msg))
    return out


# --- a new indicator ----------------------------------------------------------------------------------------------
class IndicatorForm(QWidget):
    """指標を加える: one source's field with a condition, or two sources (present in A, absent in B within a window);
    whose record, kind (a take-up prompt is never scored), look-back window, points per difficulty type."""

    MAIN = ("label_ja", "kind", "source_type", "field", "aggregate", "op", "value", "window_months", "whose")

    def __init__(self, page):
        super().__init__()
        self.page = page
        self.errors = FieldErrors()
        lay = QVBoxLayout(self)
        g = FormGrid(self.errors)
        self.label = QLineEdit()
        self.label.setPlaceholderText(tr("例 給食費滞納 3か月以上"))
        g.add("label_ja", "名前", self.label)
        self.kind = _combo(T.KIND_EDIT)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        g.add("kind", "種類", self.kind)
        self.source = QComboBox()
        self.source.currentIndexChanged.connect(lambda *_: self._fill_fields(self.source, self.field))
        g.add("source_type", "取込元", self.source)
        self.field = QComboBox()
        g.add("field", "項目", self.field)
        self.aggregate = _combo(T.AGGREGATES)
        g.add("aggregate", "読む記録", self.aggregate)
        self.op = _combo(T.CONDITIONS)
        g.add("op", "条件", self.op)
        self.value = QLineEdit()
        self.value.setPlaceholderText(tr("しきい値・値（のいずれか は 、で区切る）"))
        g.add("value", "値", self.value)
        self.window = QSpinBox()
        self.window.setRange(0, 240)
        self.window.setSpecialValueText(tr("期限なし"))
        self.window.setSuffix(tr(" か月"))
        g.add("window_months", "さかのぼる期間", self.window)
        self.whose = _combo(T.WHOSE_EDIT)
        g.add("whose", "だれの記録", self.whose)
        self.points = QLineEdit()
        self.points.setPlaceholderText(tr("種類:点数（、で区切る） 例 貧困:3"))
        g.add("points", "点数", self.points)
        self.ages = QLineEdit()
        self.ages.setPlaceholderText(tr("例 6-15（空欄: すべての年齢）"))
        g.add("applies_to_ages", "対象の年齢", self.ages)

        self.two = QCheckBox(tr("2つ目の取込元に記録が「ない」ときだけ（例 非課税なのに就学援助の記録なし）"))
        self.two.toggled.connect(self._two_toggled)
        g.span(self.two)
        self.a_source = QComboBox()
        self.a_source.currentIndexChanged.connect(lambda *_: self._fill_fields(self.a_source, self.a_field, NO_FIELD))
        g.add("absent.source_type", "記録がない取込元", self.a_source)
        self.a_field = QComboBox()
        g.add("absent.field", "その項目", self.a_field)
        self.a_op = _combo({"": "", **T.CONDITIONS})
        g.add("absent.op", "その条件", self.a_op)
        self.a_value = QLineEdit()
        g.add("absent.value", "その値", self.a_value)
        self.a_window = QSpinBox()
        self.a_window.setRange(0, 240)
        self.a_window.setSpecialValueText(tr("期限なし"))
        self.a_window.setSuffix(tr(" か月"))
        g.add("absent.window_months", "その期間", self.a_window)
        self.a_whose = _combo(T.WHOSE_EDIT)
        _select(self.a_whose, "household")
        g.add("absent.whose", "だれの記録", self.a_whose)
        self.support = QLineEdit()
        self.support.setPlaceholderText(tr("例 就学援助の案内（利用できる可能性のある支援のとき）"))
        g.add("support", "案内する支援", self.support)
        lay.addLayout(g.grid)
        self.add_button = QPushButton(tr("この指標を下書きに加える"))
        self.add_button.clicked.connect(self.add)
        lay.addWidget(self.add_button)
        lay.addWidget(self.errors.make("_"))
        lay.addStretch(1)
        self._absent_widgets = [self.a_source, self.a_field, self.a_op, self.a_value, self.a_window, self.a_whose]
        self.refresh()
        self._two_toggled(False)

    # -- choices that follow the draft ------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Source choices from the draft (a source type defined in the draft is offered at once)."""
        for combo in (self.source, self.a_source):
            keep = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            for key, label in T.source_choices(self.page.draft).items():
                combo.addItem(tr(label), key)  # a town-defined source keeps its Japanese name
            combo.blockSignals(False)
            if keep is not None:
                _select(combo, keep)
        self._fill_fields(self.source, self.field)
        self._fill_fields(self.a_source, self.a_field, NO_FIELD)

    def _fill_fields(self, source: QComboBox, field: QComboBox, first: str | None = None) -> None:
        keep = field.currentData()
        field.clear()
        if first:
            field.addItem(tr(first), None)
        for f in T.source_fields(self.page.draft, source.currentData() or ""):
            field.addItem(tr(f["label"]), f["field"])
        if keep is not None:
            _select(field, keep)

    def _two_toggled(self, on: bool) -> None:
        for w in self._absent_widgets:
            w.setEnabled(on)

    def _kind_changed(self) -> None:
        if self.kind.currentData() == "takeup":
            self.two.setChecked(True)
            self.points.clear()

    def select_source(self, key: str, field: str | None = None, absent: bool = False) -> None:
        src, fld = (self.a_source, self.a_field) if absent else (self.source, self.field)
        _select(src, key)
        if field is not None:
            _select(fld, field)

    # -- the entry ----------------------------------------------------------------------------------------------------
    def form(self) -> dict:
        form: dict = {
            "label": self.label.text(),
            "kind": self.kind.currentData(),
            "source": self.source.currentData(),
            "field": self.field.currentData(),
            "aggregate": self.aggregate.currentData(),
            "op": self.op.currentData(),
            "value": self.value.text(),
            "window": self.window.value() or None,
            "whose": self.whose.currentData(),
            "points": self._points(),
            "support": self.support.text(),
        }
        if self.op.currentData() in ("exists", "missing"):
            form["value"] = None
        if self.ages.text().strip():
            lo, _, hi = self.ages.text().replace("〜", "-").replace("～", "-").partition("-")
            try:
                form["applies_to_ages"] = [int(lo), int(hi)]
            except ValueError:
                form["_ages_error"] = tr("対象の年齢は「6-15」のように入力してください。")
        if self.two.isChecked():
            form["absent"] = {
                "source": self.a_source.currentData(),
                "field": self.a_field.currentData(),
                "op": self.a_op.currentData() or None,
                "value": self.a_value.text(),
                "window": self.a_window.value() or None,
                "whose": self.a_whose.currentData(),
            }
        return form

    def _points(self) -> dict:
        out: dict = {}
        for part in self.points.text().replace("、", ",").replace("，", ",").split(","):
            part = part.strip()
            if part:
                t, _, v = part.replace("：", ":").rpartition(":")
                out[t or part] = v
        return out

    def add(self) -> bool:
        """Build the entry (the core's builder), check the draft with it, and add it when nothing is wrong with it."""
        draft = self.page.draft
        form = self.form()
        form["id"] = _next_id(draft, "town_gap" if form["kind"] == "takeup" else "town_ind")
        entry, found = T.build_indicator(draft, form)
        if form.get("_ages_error"):
            found.append((("indicator", "applies_to_ages"), form["_ages_error"]))
        if not found:  # the whole-catalogue check: what it says of this entry is shown next to its fields
            try:
                trial = T.with_indicator(copy.deepcopy(draft), entry)
            except KodomoError as e:
                found.append((("indicator", "_"), e.message_ja))
            else:
                kind = "gap" if "present" in entry else "indicator"
                for where, msg in T.problems_at(trial):
                    if where[:2] == (kind, entry["id"]):
                        rest = where[2:]
                        if rest[:1] == ("present",):
                            rest = rest[1:]
                        if rest[-1:] == ("rule",):
                            rest = rest[:-1] + ("op",)
                        found.append((("indicator", *rest), msg))
        if found:
            every = self.errors.show(_by_field(found, 1), "_")
            self.page.notice.error(tr("指標に {n} 件の問題があります（各項目の下に表示）。", n=len(every)))
            return False
        self.errors.clear()
        T.with_indicator(draft, entry)
        self.page.changed(tr("指標「{name}」を下書きに加えました（まだ採用していません）。", name=entry["label_ja"]))
        return True


def _next_id(cat: dict, prefix: str) -> str:
    taken = {i["id"] for i in cat["indicators"]} | {g.get("id") for g in cat.get("takeup_gaps") or []}
    taken |= set(cat.get("source_types") or {})
    n = 1
    while f"{prefix}_{n}" in taken:
        n += 1
    return f"{prefix}_{n}"


# --- a new source type -----------------------------------------------------------------------------------------------
class SourceForm(QWidget):
    """取込元を定義: the town's own source type — name, department, identity fields, typed attribute fields with
    header synonyms, the record date, dedupe keys, purpose and legal basis (for the file register)."""

    def __init__(self, page):
        super().__init__()
        self.page = page
        self.errors = FieldErrors()
        lay = QVBoxLayout(self)
        g = FormGrid(self.errors)
        self.label = QLineEdit()
        self.label.setPlaceholderText(tr("例 給食費"))
        g.add("label", "取込元の名前", self.label)
        self.key = QLineEdit()
        self.key.setPlaceholderText(tr("英小文字の名前（空欄: 自動）例 school_lunch"))
        g.add("key", "内部の名前", self.key)
        self.department = QLineEdit()
        self.department.setPlaceholderText(tr("例 学校教育課"))
        g.add("department", "担当課", self.department)
        idrow = QGridLayout()
        self.identity: dict[str, QCheckBox] = {}
        for n, (key, label) in enumerate(IDENTITY_LABELS.items()):
            cb = QCheckBox(tr(label))
            cb.setChecked(key in ("resident_no", "name", "birth_date"))
            self.identity[key] = cb
            idrow.addWidget(cb, n // 4, n % 4)
        g.add("identity", "本人を特定する項目", idrow)
        lay.addLayout(g.grid)

        lay.addWidget(QLabel(tr("項目（型: 数値・日付・コード・文字。見出しの別名で列を自動で対応づけます）")))
        self.attrs = QTableWidget(0, len(ATTR_COLUMNS))
        self.attrs.setHorizontalHeaderLabels([tr(c) for c in ATTR_COLUMNS])
        self.attrs.verticalHeader().setDefaultSectionSize(26)
        self.attrs.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.attrs.setMinimumHeight(130)
        self.attrs.itemChanged.connect(lambda *_: self._fill_dates())
        lay.addWidget(self.attrs)
        lay.addWidget(self.errors.make("attributes"))
        arow = QHBoxLayout()
        self.add_row_button = QPushButton(tr("項目を加える"))
        self.add_row_button.clicked.connect(lambda: self.add_attribute())
        arow.addWidget(self.add_row_button)
        self.remove_row_button = QPushButton(tr("選んだ項目を除く"))
        self.remove_row_button.clicked.connect(self._remove_row)
        arow.addWidget(self.remove_row_button)
        arow.addStretch(1)
        lay.addLayout(arow)

        g2 = FormGrid(self.errors)
        self.record_date = QComboBox()
        g2.add("record_date", "記録の日付", self.record_date)
        self.dedupe = QLineEdit()
        self.dedupe.setPlaceholderText(tr("同じ記録とみなす項目（、区切り・空欄: 記録の日付）"))
        g2.add("dedupe", "重複の判定", self.dedupe)
        self.purpose = QLineEdit()
        self.purpose.setPlaceholderText(tr("個人情報ファイル簿に載る利用目的"))
        g2.add("purpose", "利用目的", self.purpose)
        self.basis = _combo(BASIS_CHOICES)
        g2.add("legal_basis_code", "根拠（個人情報保護法）", self.basis)
        self.basis_note = QLineEdit()
        self.basis_note.setPlaceholderText(tr("根拠の補足（条例・要綱など）"))
        g2.add("legal_basis", "根拠の補足", self.basis_note)
        lay.addLayout(g2.grid)
        self.add_button = QPushButton(tr("この取込元を下書きに加える"))
        self.add_button.clicked.connect(self.add)
        lay.addWidget(self.add_button)
        lay.addWidget(self.errors.make("_"))
        lay.addStretch(1)
        self._fill_dates()

    def add_attribute(self, field="", label="", type_="number", values="", headers="") -> int:
        r = self.attrs.rowCount()
        self.attrs.blockSignals(True)
        self.attrs.insertRow(r)
        for c, text in ((0, field), (1, label), (3, values), (4, headers)):
            self.attrs.setItem(r, c, QTableWidgetItem(text))
        combo = _combo(TT.TYPE_LABELS)
        _select(combo, type_)
        combo.currentIndexChanged.connect(lambda *_: self._fill_dates())
        self.attrs.setCellWidget(r, 2, combo)
        self.attrs.blockSignals(False)
        self._fill_dates()
        return r

    def _remove_row(self) -> None:
        r = self.attrs.currentRow()
        if r >= 0:
            self.attrs.removeRow(r)
            self._fill_dates()

    def _cell(self, r: int, c: int) -> str:
        it = self.attrs.item(r, c)
        return it.text().strip() if it is not None else ""

    def _attributes(self) -> list[dict]:
        out = []
        for r in range(self.attrs.rowCount()):
            combo = self.attrs.cellWidget(r, 2)
            field = self._cell(r, 0) or f"item_{r + 1}"
            out.append(
                {
                    "field": field,
                    "label": self._cell(r, 1),
                    "type": combo.currentData() if isinstance(combo, QComboBox) else "text",
                    "values": self._cell(r, 3),
                    "headers": self._cell(r, 4) or self._cell(r, 1),
                }
            )
        return out

    def _fill_dates(self) -> None:
        keep = self.record_date.currentData()
        self.record_date.clear()
        self.record_date.addItem(tr("抽出の基準日（ファイルの時点）"), None)
        for a in self._attributes():
            if a["type"] == "date":
                self.record_date.addItem(tr(a["label"]) if a["label"] else a["field"], a["field"])
        if keep is not None:
            _select(self.record_date, keep)

    def form(self) -> dict:
        attrs = self._attributes()
        by_label = {a["label"]: a["field"] for a in attrs if a["label"]}
        dedupe = [
            by_label.get(x.strip(), x.strip()) for x in self.dedupe.text().replace("、", ",").split(",") if x.strip()
        ]
        return {
            "key": self.key.text().strip() or _next_id(self.page.draft, "town_source"),
            "label": self.label.text(),
            "department": self.department.text(),
            "identity": [k for k, cb in self.identity.items() if cb.isChecked()],
            "attributes": attrs,
            "record_date": self.record_date.currentData(),
            "dedupe": dedupe or ["record_date"],
            "purpose": self.purpose.text(),
            "legal_basis_code": self.basis.currentData(),
            "legal_basis": self.basis_note.text(),
        }

    def add(self) -> bool:
        key, spec = T.source_spec(self.form())
        found: dict[str, list[str]] = {}
        for f, msg in TT.field_problems(key, spec):
            if f.startswith("attributes."):
                n = int(f.split(".")[1]) + 1
                found.setdefault("attributes", []).append(tr("{n} 行目: ", n=n) + plain(msg))
            else:
                found.setdefault(f, []).append(plain(msg))
        if key in T.source_choices(self.page.draft):
            found.setdefault("key", []).append(tr("取込元「{key}」はもうあります。", key=key))
        if found:
            every = self.errors.show(found, "_")
            self.page.notice.error(tr("取込元の定義に {n} 件の問題があります（各項目の下に表示）。", n=len(every)))
            return False
        self.errors.clear()
        T.with_source(self.page.draft, key, spec)
        for edit in (self.label, self.key, self.department, self.dedupe, self.purpose, self.basis_note):
            edit.clear()  # ready for the next one; the draft keeps this one
        self.attrs.setRowCount(0)
        self._fill_dates()
        self.page.changed(
            tr("取込元「{name}」を下書きに加えました。指標を加えてから採用してください。", name=spec["label"])
        )
        return True


# --- the flagging rules ------------------------------------------------------------------------------------------------
class RulesForm(QWidget):
    """抽出のルール: top N (%) per difficulty type per age band (延岡市 2 %); at least K basic items (延岡市 ≥4)."""

    def __init__(self, page):
        super().__init__()
        self.page = page
        self.errors = FieldErrors()
        lay = QVBoxLayout(self)
        g = FormGrid(self.errors)
        self.mode = _combo(T.RANK_MODES)
        g.add("rules.rank", "上位抽出", self.mode)
        self.value = QDoubleSpinBox()
        self.value.setRange(0, 100000)
        self.value.setDecimals(1)
        g.add("rules.rank.value", "N（％ または 人）", self.value)
        self.per = _combo(T.RANK_PER)
        g.add("rules.rank.per", "まとまり", self.per)
        self.by_type = QCheckBox(tr("困難の種類ごとに上位を取る"))
        g.span(self.by_type)
        self.basic = QCheckBox(tr("基本連携データ項目が K 項目以上のこどもも抽出する"))
        g.span(self.basic)
        self.basic_min = QSpinBox()
        self.basic_min.setRange(1, 19)
        self.basic_min.setValue(4)
        g.add("rules.basic_items", "K（項目数）", self.basic_min)
        lay.addLayout(g.grid)
        self.apply_button = QPushButton(tr("このルールを下書きに反映"))
        self.apply_button.clicked.connect(self.apply)
        lay.addWidget(self.apply_button)
        lay.addWidget(self.errors.make("_"))
        lay.addStretch(1)

    def load(self, cat: dict, weights: dict | None) -> None:
        rules = cat.get("rules") or {}
        rk = rules.get("rank") or (weights or {}).get("rank") or {}
        bi = rules.get("basic_items") or (weights or {}).get("basic_items_rule") or {}
        _select(self.mode, rk.get("mode", "none"))
        self.value.setValue(float(rk.get("value", 10)))
        _select(self.per, rk.get("per", "age_band"))
        self.by_type.setChecked(bool(rk.get("by_type")))
        self.basic.setChecked(bool(bi.get("enabled")))
        self.basic_min.setValue(int(bi.get("min", 4)))

    def apply(self) -> bool:
        rank = {
            "mode": self.mode.currentData(),
            "value": self.value.value(),
            "per": self.per.currentData(),
            "by_type": self.by_type.isChecked(),
        }
        basic = {"enabled": self.basic.isChecked(), "min": self.basic_min.value()}
        trial = T.with_rules(copy.deepcopy(self.page.draft), rank=rank, basic_items=basic)
        found = [(w, m) for w, m in T.problems_at(trial) if w[:1] == ("rules",)]
        if found:
            every = self.errors.show(_by_field(found, 0), "_")
            self.page.notice.error(tr("抽出のルールに {n} 件の問題があります。", n=len(every)))
            return False
        self.errors.clear()
        T.with_rules(self.page.draft, rank=rank, basic_items=basic)
        self.page.changed(tr("抽出のルールを下書きに反映しました（まだ採用していません）。"))
        return True
