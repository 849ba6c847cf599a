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


def test_catalogue_labels_join_the_table_and_a_town_indicator_stays_japanese():
    """The catalogue's label_en is registered in the one table; a town-defined indicator (Japanese name only) is
    shown as it is in English mode; en.json wins where it has the text too."""
    import copy

    from kodomo_desktop.core.linkage import comparisons  # noqa: F401 (registers its English)
    from kodomo_desktop.core.scoring import catalogue as C

    shipped = C.load_catalogue()
    first = shipped["indicators"][0]
    town = copy.deepcopy(shipped)
    own = {**copy.deepcopy(first), "id": "town_own_1", "label_ja": "町独自の見守り対象"}
    own.pop("label_en", None)
    town["indicators"].append(own)
    try:
        C.set_town_catalogue(town)
        i18n.set_language("en")
        assert i18n.tr(first["label_ja"]) != first["label_ja"]  # English from the catalogue or en.json
        assert i18n.tr("町独自の見守り対象") == "町独自の見守り対象"
        assert i18n.tr("漢字1文字違い") == "One kanji differs"  # link explanations: registered by comparisons
        assert i18n.tr("虐待") == "Abuse"  # en.json
    finally:
        i18n.set_language("ja")
        C.set_town_catalogue(None)
    assert i18n.tr(first["label_ja"]) == first["label_ja"]  # Japanese mode: the source text


def test_a_template_translates_its_message_parameters_and_keeps_data():
    """A parameter that is a Message (a label, a part with its own template) is translated with the template; a
    plain value is data; msg_join translates its separator and parts."""
    from kodomo_desktop.core import i18n

    m = i18n.msg(
        "{source}: {cond}", source=i18n.msg("課税区分"), cond=i18n.msg_join("・", [i18n.msg("非課税"), "町の値"])
    )
    assert m == "課税区分: 非課税・町の値"
    try:
        i18n.set_language("en")
        assert i18n.translate(m) == "Tax category: Tax-exempt, 町の値"
    finally:
        i18n.set_language("ja")
    assert i18n.translate(m) == "課税区分: 非課税・町の値"
