"""English mode, walked: every label a user reads on the main pages — statuses, sources, difficulty types, bands,
age bands, log actions, casework lists, indicator names, link explanations, score reasons — is shown in English
wherever the one translation table (i18n/en.json plus the labels registered by their owners, core/i18n.py) has an
English entry. Data stays as it is: names of people, schools, addresses, a town's own items are not table keys, so
they are never counted.

The check is on whole texts (a cell, a combo item, a label, a tab, a header, a button): a Japanese text that is a
key of the table and still shown in Japanese is a label that missed ``tr()``.
"""

from __future__ import annotations

import html
import re

import pytest
from conftest import DEMO_PW
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QComboBox,
    QGroupBox,
    QLabel,
    QTableWidget,
    QTabWidget,
    QTreeWidget,
    QWidget,
)

JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")


def _table() -> dict[str, str]:
    import json

    from kodomo_desktop.core import i18n
    from kodomo_desktop.resources import i18n_path

    table = dict(i18n._registered.get("en", {}))
    table.update(json.loads(i18n_path("en.json").read_text(encoding="utf-8")))
    return {k: v for k, v in table.items() if not k.startswith("_") and JAPANESE.search(k) and v != k}


def _editors(win) -> set[int]:
    """Widgets that show the town's own names for editing (the catalogue editor's list of difficulty types)."""
    page = win.pages.get("catalogue")  # not win.page(): that would show it
    return {id(page.types)} if page is not None and hasattr(page, "types") else set()


def _texts(root: QWidget, skip: set[int] = frozenset()):
    """(kind, text) of every visible text under ``root``."""
    for w in root.findChildren(QWidget):
        if not w.isVisibleTo(root) or id(w) in skip:
            continue
        if isinstance(w, QLabel):
            yield "label", html.unescape(re.sub(r"<[^>]+>", "", w.text())).strip()
        elif isinstance(w, QAbstractButton):
            yield "button", w.text().replace("&", "")
        if isinstance(w, QGroupBox):
            yield "group", w.title()
        if isinstance(w, QTabWidget):
            for i in range(w.count()):
                yield "tab", w.tabText(i)
        if isinstance(w, QComboBox):
            for i in range(w.count()):
                yield "combo", w.itemText(i)
        if isinstance(w, QTreeWidget):
            for i in range(min(w.topLevelItemCount(), 30)):
                it = w.topLevelItem(i)
                for c in range(w.columnCount()):
                    yield "cell", it.text(c)
        elif isinstance(w, QAbstractItemView) and w.model() is not None:
            m = w.model()
            try:
                cols = m.columnCount(QModelIndex())
            except TypeError:  # a list model
                cols = 1
            for c in range(cols):
                yield "header", str(m.headerData(c, Qt.Horizontal) or "")
            for r in range(min(m.rowCount(QModelIndex()), 30)):
                for c in range(cols):
                    yield "cell", str(m.data(m.index(r, c, QModelIndex())) or "")
            if isinstance(w, QTableWidget):
                for c in range(w.columnCount()):
                    h = w.horizontalHeaderItem(c)
                    yield "header", h.text() if h else ""


def _child_view(win):
    from kodomo_desktop.gui.pages.child_view import ChildView

    views = [v for v in win.findChildren(ChildView) if v.page is not None]
    assert views, "no child page open"
    return views[0]


def _child_records(win):
    return list(_child_view(win).page.records)


def _timeline(win):
    return _child_view(win).timeline


@pytest.fixture
def english_ws(tmp_path, demo_town):
    from kodomo_desktop.core.workspace import Workspace
    from kodomo_desktop.gui import i18n

    demo_town(tmp_path / "d.db", residents=600, seed=1)
    ws = Workspace.open(tmp_path / "d.db", DEMO_PW)
    i18n.set_language("en")
    yield ws
    i18n.set_language("ja")
    ws.close()


def test_the_label_families_have_english():
    """Every shipped label family has an English entry in the one table."""
    from kodomo_desktop.core import i18n, vocab
    from kodomo_desktop.core.audit import log
    from kodomo_desktop.core.casework import service as CS
    from kodomo_desktop.core.linkage import comparisons, engine  # noqa: F401 (they register their English)
    from kodomo_desktop.core.policy import DEFAULT_SOURCES
    from kodomo_desktop.core.roles import PERMISSIONS
    from kodomo_desktop.core.scoring import catalogue as C
    from kodomo_desktop.core.scoring import explain

    cat = C.load_catalogue()
    families = {
        "vocabulary (core/vocab.py)": [v for d in vocab._LABELS.values() for v in d.values()],
        "app sources": list(vocab.APP_SOURCE_LABELS.values()),
        "log actions": list(log.ACTION_LABELS.values()),
        "classification labels": [x["label"] for x in CS.DEFAULT_LABELS],
        "conference kinds, directions, progress kinds": CS.CONFERENCE_KINDS
        + list(CS.DIRECTIONS.values())
        + CS.PROGRESS_KINDS,
        "reason kinds and whose": list(explain.KIND_LABELS.values()) + list(C.WHOSE_LABELS.values()),
        "difficulty types, age bands, bands": cat["difficulty_types"]
        + [b["label"] for b in cat["age_bands"]]
        + ["高", "中", "低"],
        "sources and their no-data labels": [s["label_ja"] for s in cat["sources"].values()]
        + [s["no_data_label"] for s in cat["sources"].values() if s.get("no_data_label")],
        "departments": [d for d, _, _ in DEFAULT_SOURCES.values()],
        "indicators, supports, take-up gaps": [x["label_ja"] for x in cat["indicators"]]
        + [x["label_ja"] for x in cat.get("supports") or []]
        + [x["label_ja"] for x in cat.get("takeup_gaps") or []],
        "link comparisons and levels": [c.label_ja for c in comparisons.COMPARISONS]
        + [ja for c in comparisons.COMPARISONS for _, ja, _ in c.levels],
        "link reasons": list(engine.REASONS_JA.values()),
        "permissions (refusals, the log)": [d for d, _ in PERMISSIONS.values()],
    }
    try:
        i18n.set_language("en")
        missing = [f"{name}: {t}" for name, labels in families.items() for t in labels if i18n.tr(t) == t]
    finally:
        i18n.set_language("ja")
    assert not missing, f"{len(missing)} labels without English:\n" + "\n".join(missing)


def test_english_pages_show_no_japanese_label_that_has_english(app, qtbot, english_ws, no_modals):
    from sqlalchemy import text

    from kodomo_desktop.gui.main_window import MainWindow

    win = MainWindow(english_ws)
    qtbot.addWidget(win)
    win.resize(1366, 728)
    win.show()
    table = _table()
    left: dict[str, str] = {}
    seen = 0

    def grab(where: str) -> None:
        nonlocal seen
        for kind, t in _texts(win, _editors(win)):
            seen += 1
            if t in table:
                left.setdefault(t, f"{where} ({kind})")

    for key in win.keys:
        win.show_page(key)
        page = win.page(key)
        grab(key)
        for tw in [t for t in page.findChildren(QTabWidget) if t.isVisibleTo(page)]:
            for i in range(tw.count()):
                tw.setCurrentIndex(i)
                grab(f"{key} / {tw.tabText(i)}")
    with english_ws.session() as s:
        pid = s.execute(text("SELECT person_id FROM child_score ORDER BY total DESC LIMIT 1")).scalar()
    win.open_person(pid)
    grab("child page")
    for tw in [t for t in win.findChildren(QTabWidget) if t.isVisibleTo(win)]:
        for i in range(tw.count()):
            tw.setCurrentIndex(i)
            grab(f"child page / {tw.tabText(i)}")
    assert seen > 1000 and len(win.keys) >= 10  # the walk did see the pages
    # the child's records: each summary reads '<field> <value>' with the source's field labels in English
    records = [r for r in _child_records(win) if r.summary_parts]
    assert records
    tree = _timeline(win)
    content = [tree.topLevelItem(i).text(2) for i in range(tree.topLevelItemCount())]
    assert content
    for e in records:
        for lab, _ in e.summary_parts:
            if lab in table:
                assert not any(f"{lab} " in c for c in content), lab
    assert not left, f"{len(left)} Japanese labels shown in English mode:\n" + "\n".join(
        f"{where}: {t} → {table[t]}" for t, where in sorted(left.items(), key=lambda kv: kv[1])
    )


def test_score_reasons_read_in_english(english_ws):
    """The explanation of the top child: its reasons' names, kinds, types and bands in English (data such as a
    record's own values and file names stay as they are)."""
    from sqlalchemy import text

    from kodomo_desktop.core.scoring import service as S
    from kodomo_desktop.core.scoring.explain import KIND_LABELS
    from kodomo_desktop.gui.i18n import label_of
    from kodomo_desktop.gui.pages.scoring_page import reasons_html

    with english_ws.session() as s:
        pid = s.execute(text("SELECT person_id FROM child_score ORDER BY total DESC LIMIT 1")).scalar()
    ex = S.child_explanation(english_ws, pid)
    out = html.unescape(reasons_html(ex))
    reasons = ex["details"]["reasons"]
    assert reasons
    for r in reasons:
        assert f"<b>{r['label']}</b>" not in out, r["label"]
        assert f"<b>{html.unescape(label_of(r))}</b>" in out, r["label"]
        assert KIND_LABELS[r["kind"]] not in out
    for t in ex["details"]["types"]:
        assert f"{t}<" not in out.replace("● ", "").replace("○ ", "")
    assert "Band: <b>" + ex["details"]["band"] not in out
    # the found values (「欠席日数 58」) name their field in English, and the thresholds read in English
    from kodomo_desktop.core import i18n

    values = [r["value"] for r in reasons if r.get("value") and " " in r["value"]]
    labels = {v.split(" ")[0] for v in values if i18n.tr(v.split(" ")[0]) != v.split(" ")[0]}
    assert labels
    assert not [lab for lab in labels if f"{lab} " in out], labels
    assert "しきい値" not in out and "Thresholds" in out


def _japanese_left(texts) -> list[str]:
    return [t for t in texts if JAPANESE.search(t)]


def test_rule_and_points_texts_read_in_english(app, qtbot, english_ws, no_modals):
    """The catalogue editor's rule in words (「要対協: 状況 ≠ 終結（最新の記録）」) and its points (「虐待:6」) are built
    from templates with parameters: in English no Japanese is left for the shipped catalogue (its sources, fields,
    conditions and coded values all have English); the points text reads back to the same points."""
    from kodomo_desktop.core import i18n
    from kodomo_desktop.core.scoring import catalogue as C
    from kodomo_desktop.core.scoring import town as T
    from kodomo_desktop.gui.pages import catalogue_page as CP

    cat = C.load_catalogue()
    rules = [i18n.translate(T.indicator_text(cat, ind)) for ind in cat["indicators"]]
    rules += [i18n.translate(T.gap_rule_text(cat, g)) for g in cat.get("takeup_gaps") or []]
    assert len(rules) > 30 and not _japanese_left(rules), _japanese_left(rules)
    first = cat["indicators"][0]
    assert str(T.indicator_text(cat, first)) != i18n.translate(T.indicator_text(cat, first))  # Japanese kept as data

    page = CP.CataloguePage(english_ws)
    qtbot.addWidget(page)
    cells = [
        page.table.item(r, c).text() for r in range(page.table.rowCount()) for c in (1, 3) if page.table.item(r, c)
    ]
    assert cells and not _japanese_left(cells), _japanese_left(cells)[:10]
    points = {t: p for ind in cat["indicators"] for t, p in (ind.get("points") or {}).items()}
    assert CP._parse_points(CP._points_text(points), cat["difficulty_types"]) == points


def test_score_texts_read_in_english(app, qtbot, english_ws, no_modals):
    """What a page builds from a score: the list's band with the type and points that set it (「高（虐待 11点）」),
    the what-if panel's reasons with their points, the child page's score line and the case chart's score and file
    entries — templates with parameters, so in English only data (a file's name) stays Japanese."""
    from sqlalchemy import text

    from kodomo_desktop.gui.main_window import MainWindow

    win = MainWindow(english_ws)
    qtbot.addWidget(win)
    win.resize(1366, 728)
    win.show()
    page = win.page("scoring")
    m = page.model
    bands = [str(m.data(m.index(r, 6, QModelIndex()))) for r in range(min(m.rowCount(QModelIndex()), 60))]
    assert any("pts" in b for b in bands) and not _japanese_left(bands), _japanese_left(bands)[:5]
    page.view.selectRow(0)
    whatif = [page.whatif.items.item(i).text() for i in range(page.whatif.items.count())]
    assert whatif and not _japanese_left(whatif), _japanese_left(whatif)
    with english_ws.session() as s:
        pid = s.execute(text("SELECT person_id FROM child_score ORDER BY total DESC LIMIT 1")).scalar()
    win.open_person(pid)
    view = _child_view(win)
    line = view.score.text().split("\n")[0]
    assert "pts" in line and not JAPANESE.search(line), line
    tree = view.karte
    rows = [[tree.topLevelItem(i).text(c) for c in range(4)] for i in range(tree.topLevelItemCount())]
    scores = [r for r in rows if r[2].startswith("Score ")]
    assert scores and not _japanese_left([x for r in scores for x in r]), scores
    files = [r[3] for r in rows if "(as of " in r[3]]
    assert files and not any("時点" in f for f in files), files


def test_record_summaries_and_inspection_counts_read_in_english(app, qtbot, english_ws, no_modals):
    """Summaries the core builds and pages show: a registry row's 「住民基本台帳に記載（続柄 子）」, a record's file
    and row (「…（2026-11-01 時点・24行目）」), a household member's relationship, a nested value's labels, and the
    self-inspection's counts per role — templates with parameters, so only data (names, file names) stays."""
    from sqlalchemy import text

    from kodomo_desktop.gui.main_window import MainWindow
    from kodomo_desktop.gui.pages.governance.inspection import InspectionTab

    win = MainWindow(english_ws)
    qtbot.addWidget(win)
    win.resize(1366, 728)
    win.show()
    with english_ws.session() as s:
        pid = s.execute(text("SELECT person_id FROM child_score ORDER BY total DESC LIMIT 1")).scalar()
    win.open_person(pid)
    tree = _timeline(win)
    rows = [[tree.topLevelItem(i).text(c) for c in range(5)] for i in range(tree.topLevelItemCount())]
    assert len(rows) > 5
    left = [r[2] for r in rows if any(w in r[2] for w in ("住民基本台帳に記載", "続柄", "受給者", "保護中"))]
    left += [r[3] for r in rows if "時点" in r[3] or "行目" in r[3]]  # the file's name itself is data
    assert not left, left[:5]
    assert any(r[2] == "In the resident registry (relationship: Child)" for r in rows), [r[2] for r in rows][:5]
    whose = [r[2].split("］")[0] for r in rows if r[2].startswith("［")]
    assert whose and all(not JAPANESE.search(w.split(" ")[0]) for w in whose), whose[:5]

    win.page("governance")
    tab = win.findChildren(InspectionTab)[0]
    tab.refresh_auto()
    m = tab.auto_model
    results = [
        str(m.data(m.index(r, c, QModelIndex())) or "") for r in range(m.rowCount(QModelIndex())) for c in (0, 1)
    ]
    assert results and not _japanese_left(results), _japanese_left(results)

    # the retention list's subjects and the app's default notes (「既定値」) on the retention and basis tabs
    from kodomo_desktop.gui.pages.governance.basis import BasisTab
    from kodomo_desktop.gui.pages.governance.retention import RetentionTab

    for cls, cols in ((RetentionTab, ("subject", "note")), (BasisTab, ("note",))):
        m = win.findChildren(cls)[0].model
        keys = [c[0] for c in m.columns]
        cells = [
            str(m.data(m.index(r, keys.index(k), QModelIndex())) or "")
            for r in range(m.rowCount(QModelIndex()))
            for k in cols
        ]
        assert cells and not _japanese_left(cells), (cls.__name__, _japanese_left(cells)[:5])


def test_queue_and_sheet_labels_read_in_english(english_ws):
    """The linkage queue's record line names its source in English; the shipped watch-list sheet's title too."""
    from kodomo_desktop.core.sharing import sheets
    from kodomo_desktop.gui.i18n import tr
    from kodomo_desktop.gui.pages import linkage_page as LP

    q = {
        "name": "テスト　花子",
        "birth_date": "2015-01-01",
        "source_type": "resident_registry",
        "row_number": 3,
        "score": 1,
    }
    line = LP._queue_text(q).split("\n")[1]
    assert "row 3" in line and not JAPANESE.search(line), line
    assert not JAPANESE.search(tr(sheets.WATCH_LIST["title"]))


def test_found_values_of_every_shape_read_in_english(english_ws):
    """Every found value the demo town's reasons carry whose field label has English reads without Japanese, unless
    the value itself is data (a number with a unit is not data: 「18歳以下 3人」 reads 'Aged 18 or under: 3')."""
    from sqlalchemy import text

    from kodomo_desktop.core import i18n
    from kodomo_desktop.core.scoring import service as S
    from kodomo_desktop.gui.i18n import reason_value

    with english_ws.session() as s:
        pids = [p for (p,) in s.execute(text("SELECT person_id FROM child_score ORDER BY total DESC LIMIT 25"))]
    values = {
        r["value"] for p in pids for r in S.child_explanation(english_ws, p)["details"]["reasons"] if r.get("value")
    }
    shown = {v: reason_value(v) for v in values if " " in v and i18n.tr(v.split(" ")[0]) != v.split(" ")[0]}
    assert any("人" in v for v in shown)
    left = {v: t for v, t in shown.items() if JAPANESE.search(t)}
    assert not left, left
