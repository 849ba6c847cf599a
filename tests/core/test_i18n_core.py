"""One translation mechanism: core messages are templates with parameters, translated by the GUI's own table."""

from kodomo_desktop.core import i18n
from kodomo_desktop.core.errors import NotFound
from kodomo_desktop.core.vocab import LinkStatus


def test_a_core_message_keeps_its_template_and_translates():
    e = NotFound(i18n.msg("こども {person_id} はありません。", person_id="P000123"))
    assert e.message_ja == "こども P000123 はありません。"  # Japanese as before, for the CLI and the log
    try:
        i18n.set_language("en")
        assert i18n.translate(e.message_ja) == "There is no child P000123."
        assert i18n.tr(LinkStatus.CONFIRMED.label) == "Confirmed"  # vocabulary labels: the same table
        assert i18n.translate("表にない文") == "表にない文"
    finally:
        i18n.set_language("ja")
    assert i18n.translate(e.message_ja) == "こども P000123 はありません。"


def test_gui_tr_is_the_core_one():
    import pytest

    pytest.importorskip("PySide6")
    from kodomo_desktop.gui import i18n as gui_i18n

    assert gui_i18n.tr is i18n.tr and gui_i18n.set_language is i18n.set_language
