"""Issue 19: the indicator editor — a cut-off and a difficulty type edited in the GUI, previewed, and adopted with a
reason (a new catalogue version and weight-set version); no dialog opens."""

from conftest import IMAGES, PASSWORD
from factories import takeup_world

from kodomo_desktop.core.scoring import service as S
from kodomo_desktop.core.scoring import town as T
from kodomo_desktop.core.workspace import Workspace


def test_edit_a_cutoff_and_a_type_then_adopt_through_the_preview(app, qtbot, no_modals, tmp_path):
    from kodomo_desktop.gui.pages.catalogue_page import CataloguePage

    ws = Workspace.create(tmp_path / "e.db", PASSWORD)
    try:
        takeup_world(ws)
        page = CataloguePage(ws)
        qtbot.addWidget(page)
        page.resize(1360, 860)
        page.show()
        qtbot.waitExposed(page)
        before = S.active_weights(ws)["version"]

        page.table.selectRow(page.row_of("absence_30"))
        assert page.value_edit.text() == "30"
        page.value_edit.setText("25")
        assert page.apply_indicator()
        assert not page.adopt_button.isEnabled()  # an edit needs a preview first
        assert page.adopt() is False and "プレビュー" in page.notice.text()

        row = page.draft["difficulty_types"].index("不登校")
        page.types.setCurrentRow(row)
        page.type_name.setText("登校しぶり・不登校")
        assert page.rename_type()

        assert page.preview()
        assert page.adopt_button.isEnabled() and "プレビュー" in page.preview_text.text()
        IMAGES.mkdir(parents=True, exist_ok=True)
        page.grab().save(str(IMAGES / "catalogue_editor.png"))
        assert page.adopt() is False  # no reason yet
        page.reason.setText("欠席の目安を町の基準に合わせる")
        assert page.adopt(), page.notice.text()

        cat = T.current(ws)
        absence = next(i for i in cat["indicators"] if i["id"] == "absence_30")
        assert absence["rule"]["value"] == 25
        assert "登校しぶり・不登校" in cat["difficulty_types"] and "不登校" not in cat["difficulty_types"]
        w = S.active_weights(ws)
        assert w["version"] > before and "登校しぶり・不登校" in w["data"]["thresholds"]
        hist = T.history(ws)
        assert len(hist) == 1 and hist[0]["weight_set_version"] == w["version"] and hist[0]["preview"]["children"]
        assert page.draft == cat and not page.adopt_button.isEnabled()
    finally:
        ws.close()
