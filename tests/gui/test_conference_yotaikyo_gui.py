"""The conference minutes form records the 要対協 registration and category (two combo boxes); a wrong pair is
refused on the notice label (no modal dialog), and reselecting the child shows what was stored."""

from __future__ import annotations

import datetime as dt

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from factories import small_world  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402

from kodomo_desktop.core.casework import service as C  # noqa: E402

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("no_modals")]


def test_minutes_form_saves_registration_and_category(app, qtbot, new_db):
    from kodomo_desktop.gui.pages.casework_page import CaseworkPage

    w = small_world(new_db)
    ids = w["persons"][:2]
    cid = C.create_conference(new_db, "個別ケース検討会議", dt.date(2026, 11, 20), person_ids=ids)
    page = CaseworkPage(new_db, None)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitExposed(page)
    page.tabs.setCurrentWidget(page.conferences)
    ct = page.conferences
    ct.load(cid)
    assert ct.conference_id() == cid
    labels = [ct.registration.itemText(i) for i in range(ct.registration.count())]
    assert labels == ["（記録しない）", "登録する", "継続", "登録しない"]
    cats = [ct.category.itemData(i) for i in range(ct.category.count())]
    assert cats == [None, "要保護児童", "要支援児童", "特定妊婦"]

    assert not ct.category.isEnabled()  # a category goes with registering only
    ct.view.selectRow(0)
    pid = ct.model.rows[0]["person_id"]
    ct.need.setCurrentIndex(ct.need.findData("要"))
    ct.direction.setCurrentIndex(ct.direction.findData("C"))
    # 登録する without a category: refused on the notice, nothing stored
    ct.registration.setCurrentIndex(ct.registration.findData("登録する"))
    ct.category.setCurrentIndex(0)
    qtbot.mouseClick(ct.save_btn, Qt.LeftButton)
    assert not ct.notice.ok and "種別" in ct.notice.text()
    assert {i["person_id"]: i for i in C.conference_detail(new_db, cid)["items"]}[pid]["registration"] is None

    assert ct.category.isEnabled()
    ct.category.setCurrentIndex(ct.category.findData("特定妊婦"))
    qtbot.mouseClick(ct.save_btn, Qt.LeftButton)
    assert ct.notice.ok, ct.notice.text()
    item = {i["person_id"]: i for i in C.conference_detail(new_db, cid)["items"]}[pid]
    assert (item["registration"], item["category"]) == ("登録する", "特定妊婦")

    # the other child, then back: the form shows what was stored
    ct.view.selectRow(1)
    assert ct.registration.currentData() is None and ct.category.currentData() is None
    row = [r["person_id"] for r in ct.model.rows].index(pid)
    ct.view.selectRow(row)
    assert ct.registration.currentData() == "登録する" and ct.category.currentData() == "特定妊婦"
