"""Issue 16 on the スコア page: the list sorts by band then total and shows the band with the type that set it,
the child's detail shows its type's cut points and the own/household split, and 採用 shows the preview first."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

import shutil  # noqa: E402

from conftest import IMAGES, PNG_QUICK  # noqa: E402
from test_scoring_gui import PW, _page  # noqa: E402

from kodomo_desktop.core.scoring import service as S  # noqa: E402
from kodomo_desktop.core.workspace import Workspace  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory, demo_town):
    path = tmp_path_factory.mktemp("score_fair_gui") / "demo.db"
    demo_town(path, residents=600, seed=1)  # the run's most used town (cached), not a town of its own
    return path


@pytest.fixture
def ws(demo_db, tmp_path):
    for suffix in ("", ".keys"):
        shutil.copy(str(demo_db) + suffix, str(tmp_path / "d.db") + suffix)
    w = Workspace.open(tmp_path / "d.db", PW)
    yield w
    w.close()


def test_list_sorts_by_band_then_total_and_details_show_the_cuts(app, qtbot, ws, no_modals):
    page = _page(qtbot, ws)
    rows = page.model.rows
    keys = [(r["band_level"], r["total"]) for r in rows]
    assert keys == sorted(keys, reverse=True)
    top = rows[0]
    shown = page.model.data(page.model.index(0, 6))
    assert shown.startswith(top["band"] + "（") and "点）" in shown  # 「高（虐待 9点）」
    t = shown[len(top["band"]) + 1 :].split(" ")[0]
    assert top["details"]["types"][t]["band"] == top["band"]
    page.view.selectRow(0)
    qtbot.waitUntil(lambda: page.current is not None, timeout=3000)
    text = page.reasons.toPlainText()
    cuts = top["details"]["types"][t]["cuts"]
    assert all(f"{b} {v:g}" in text for b, v in cuts.items())  # 「しきい値 中 5・高 7」, not only the flag cut
    assert "本人の記録" in text and "世帯の状況" in text
    own = page.model.data(page.model.index(0, 12))
    assert own == f"{top['own_points']:g} ／ {top['household_points']:g}"


def test_adopt_shows_the_preview_first_and_keeps_it(app, qtbot, ws, no_modals):
    page = _page(qtbot, ws)
    page.tabs.setCurrentIndex(1)
    ed = page.weights
    ed.set_points("tax_exempt", "貧困", 8)
    assert not ed.adopt(reason="非課税世帯を重く")  # not previewed: the preview is shown instead
    assert ed.last_preview is not None and "→" in ed.preview_summary.text()
    assert ed.rates_table.rowCount() > 10 and S.active_weights(ws)["version"] == 1
    assert ed.adopt(reason="非課税世帯を重く")  # previewed, unchanged: adopted
    hist = S.adoptions(ws)
    assert hist[-1]["reason"] == "非課税世帯を重く" and hist[-1]["preview"]["flagged"] == ed.last_preview["flagged"]
    ed.set_points("tax_exempt", "貧困", 3)  # changed after the preview: previewed again first
    assert not ed.adopt(reason="戻す")


def test_evaluation_tab_counts_and_loads_the_suggestion_into_the_preview(app, qtbot, ws, no_modals):
    from kodomo_desktop.core.casework import service as CW

    page = _page(qtbot, ws)
    ev = page.evaluation
    assert ev.run() is None and not ev.load_btn.isEnabled()  # no round yet: said so, nothing to load
    rid = CW.create_round(ws, "第1回")
    cands = CW.round_candidates(ws, rid)
    for n, c in enumerate(cands[:6]):
        CW.classify(ws, rid, c["person_id"], "a" if n % 2 == 0 else "d", "会議で確認")
    res = ev.run()
    assert res is not None and res["summary"]["confirmed"] == 3 and ev.table.rowCount() > 5
    assert "確認 3 人" in ev.summary.text() and ev.sug.rowCount() > 0
    page.tabs.setCurrentIndex(2)
    assert page.grab().save(str(IMAGES / "scoring_evaluation.png"), "PNG", PNG_QUICK)
    ev.load_btn.click()  # into the editor and its preview, not adopted
    assert page.tabs.currentIndex() == 1 and page.weights.last_preview is not None
    assert S.active_weights(ws)["version"] == 1
