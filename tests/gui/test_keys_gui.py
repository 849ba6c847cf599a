"""設定 → 鍵の更新: a coordinator re-keys the database from the page; other roles cannot."""

from conftest import IMAGES, PNG_QUICK, show_page

from kodomo_desktop.core.workspace import Workspace

PW = "keys gui pw 1"


def test_coordinator_renews_the_key_from_the_settings_page(app, qtbot, no_modals, tmp_path):
    from kodomo_desktop.gui.pages.settings_page import SettingsPage

    ws = Workspace.create(tmp_path / "k.db", PW)
    ws.add_user("s1", "staff gui pw", "staff")
    before = ws.raw_key()
    page = show_page(qtbot, SettingsPage(ws))
    assert page.rotate_button.isEnabled()
    assert page.rotate_keys(confirmed=True)
    assert "鍵を更新しました" in page.rotate_info.text()
    assert ws.raw_key() != before and ws.verify()["ok"]
    IMAGES.mkdir(parents=True, exist_ok=True)
    assert page.grab().save(str(IMAGES / "settings_key_renewal.png"), "PNG", PNG_QUICK)
    page.close()
    ws.close()
    staff = Workspace.open(tmp_path / "k.db", "staff gui pw", "s1")
    page = show_page(qtbot, SettingsPage(staff))
    assert not page.rotate_button.isEnabled()
    page.close()
    staff.close()
