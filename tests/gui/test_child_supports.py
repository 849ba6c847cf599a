"""Issue 19: the child's page shows 「利用できる可能性のある支援」 with the rule that found it (a take-up gap), and
shows nothing for a child no rule found; never a score point."""

from conftest import IMAGES, PNG_QUICK
from factories import takeup_world


def test_child_page_shows_the_takeup_gap(app, qtbot, no_modals, tmp_path, new_db_at):
    from kodomo_desktop.gui.pages.child_view import ChildView

    ws = new_db_at(tmp_path / "g.db")  # a new database (a copy of one Workspace.create)
    try:
        world = takeup_world(ws)
        view = ChildView(ws)
        qtbot.addWidget(view)
        view.resize(1360, 860)
        view.show()
        qtbot.waitExposed(view)
        assert view.show_person(world["planted"][0])
        text = view.supports.text()
        assert view.supports.isVisible() and "利用できる可能性のある支援" in text
        assert "住民税非課税世帯で就学援助の認定なし" in text and "非課税" in text and "就学援助" in text
        assert [g["id"] for g in view.supports_found] == ["gap_tax_exempt_no_school_assistance"]
        IMAGES.mkdir(parents=True, exist_ok=True)
        view.grab().save(str(IMAGES / "child_takeup_gap.png"), "PNG", PNG_QUICK)
        assert view.show_person(world["others"][0])
        assert not view.supports.isVisible() and view.supports_found == []
    finally:
        ws.close()
