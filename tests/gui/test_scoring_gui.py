"""The スコア page with pytest-qt (offscreen) on the demo town: filter the list, open a child's reasons, what-if,
edit a weight with the preview, adopt with a reason; screenshots to docs/images (Japanese must render)."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

from kodomo_desktop.core.scoring import service as S  # noqa: E402
from kodomo_desktop.core.workspace import Workspace  # noqa: E402

pytestmark = pytest.mark.gui
from conftest import (
    DEMO_PW,  # noqa: E402
    IMAGES,  # noqa: E402  build/screenshots; copied to docs/images by tools/update-screenshots.sh
    PNG_QUICK,
)

PW = DEMO_PW  # the cached demo towns' password (conftest.demo_town)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory, demo_town):

    path = tmp_path_factory.mktemp("score_gui") / "demo.db"
    demo_town(path, residents=600, seed=1)  # the run's most used town (cached), not a town of its own
    return path


@pytest.fixture
def ws(demo_db, tmp_path):
    for suffix in ("", ".keys"):
        shutil.copy(str(demo_db) + suffix, str(tmp_path / "d.db") + suffix)
    w = Workspace.open(tmp_path / "d.db", PW)
    yield w
    w.close()


def _page(qtbot, ws):
    from kodomo_desktop.gui.pages.scoring_page import ScoringPage

    page = ScoringPage(ws, None)
    qtbot.addWidget(page)
    page.resize(1360, 860)
    page.show()
    qtbot.waitExposed(page)
    return page


def test_list_filters_reasons_and_what_if(app, qtbot, ws):
    page = _page(qtbot, ws)
    total = page.model.rowCount()
    assert total > 50 and page.count.text().startswith(str(total))
    caveats = page.findChildren(type(page.count), "scoreCaveat")
    assert len(caveats) == 2 and all(S.CAVEAT in c.text() for c in caveats)  # on both tabs
    assert any(c.isVisible() for c in caveats)
    # the list is in priority order, the top child first
    assert page.model.rows[0]["total"] == max(r["total"] for r in S.latest_scores(ws))
    # filters: only flagged, then one difficulty type
    page.f_flag.setChecked(True)
    flagged = page.model.rowCount()
    assert 0 < flagged < total and all(r["flagged"] for r in page.model.rows)
    page.f_type.setCurrentIndex(page.f_type.findData("虐待"))
    assert all("虐待" in r["types"] for r in page.model.rows) and page.model.rowCount() <= flagged
    page.f_type.setCurrentIndex(0)
    page.f_age.setCurrentIndex(page.f_age.findData("小学生"))
    assert page.model.rowCount() and all(r["age_band"] == "小学生" for r in page.model.rows)
    page.f_age.setCurrentIndex(0)
    # open the top child's reasons
    page.view.selectRow(0)
    qtbot.waitUntil(lambda: page.current is not None, timeout=3000)
    text = page.reasons.toPlainText()
    top = page.model.rows[0]
    assert top["details"]["reasons"][0]["label"] in text and "時点" in text
    assert S.CAVEAT in text
    IMAGES.mkdir(parents=True, exist_ok=True)
    assert page.grab().save(str(IMAGES / "scoring_list.png"), "PNG", PNG_QUICK)
    # what-if: switch the largest reason off
    wi = page.whatif
    assert wi.items.count() >= 1
    wi.items.item(0).setCheckState(Qt.Unchecked)
    wi.run_btn.click()
    assert wi.last is not None and wi.last["after"]["total"] < wi.last["before"]["total"] and not wi.last["saved"]
    assert "→" in wi.result.text()
    assert page.grab().save(str(IMAGES / "scoring_whatif.png"), "PNG", PNG_QUICK)
    # nothing was saved: the list is unchanged
    assert S.latest_scores(ws)[0]["total"] == top["total"]


def test_weights_editor_preview_adopt_and_restore(app, qtbot, ws, monkeypatch):
    from PySide6.QtWidgets import QInputDialog, QMessageBox

    def no_modal(*a, **k):
        raise AssertionError("a modal dialog was opened in a test")

    for name in ("warning", "information", "critical", "question"):
        monkeypatch.setattr(QMessageBox, name, no_modal)
    monkeypatch.setattr(QInputDialog, "getText", no_modal)
    page = _page(qtbot, ws)
    page.tabs.setCurrentIndex(1)
    ed = page.weights
    assert any(c.isVisible() for c in page.findChildren(type(page.count), "scoreCaveat"))
    assert any(c.isVisible() for c in page.findChildren(type(page.count), "scoreCaveat"))
    before = {r["person_id"]: r["total"] for r in S.latest_scores(ws)}
    ed.set_points("tax_exempt", "貧困", 8)  # 非課税世帯 alone reaches 貧困 中 (7)
    ed.thresholds.item(ed.types.index("不登校"), 2).setText("7")  # 小学生 高
    ed.thresholds.item(ed.types.index("不登校"), 3).setText("4")  # 小学生 中
    pv = ed.preview()
    assert pv is not None and pv["flagged"]["new"] > pv["flagged"]["current"]
    assert ed.preview_table.rowCount() == len(pv["by_school_age"]) > 0
    assert ed.rates_table.rowCount() >= 3 and "→" in ed.preview_summary.text()
    assert page.grab().save(str(IMAGES / "scoring_weights.png"), "PNG", PNG_QUICK)
    # adoption needs a reason
    assert not ed.adopt(reason="")
    assert ed.adopt(reason="非課税世帯を貧困の検討対象に含める")
    assert S.active_weights(ws)["version"] == 2 and "第2版" in ed.version_label.text()
    # the scores on screen were made with the old weights: the page offers to score again (no box)
    assert ed.rescore_box.isVisibleTo(ed) and "算出しますか" in ed.rescore_text.text()
    S.run_scoring(ws)
    page.reload()
    after = {r["person_id"]: r["total"] for r in S.latest_scores(ws)}
    assert any(after[p] > before[p] for p in before)
    # restore version 1 from the list of versions
    ed.versions.setCurrentIndex(ed.versions.findData(S.weight_sets(ws)[-1]["weight_set_id"]))
    assert ed.restore(reason="元に戻す")
    assert S.active_weights(ws)["version"] == 1
    assert ed.rescore_box.isVisibleTo(ed)
    active = S.active_weights(ws)["weight_set_id"]
    ed.rescore()  # 「いま算出する」: back to the list and a run with the restored weights
    assert not ed.rescore_box.isVisibleTo(ed) and page.tabs.currentIndex() == 0
    qtbot.waitUntil(lambda: (S.latest_run(ws) or {}).get("weight_set_id") == active, timeout=60000)
