"""The shared vocabulary, calendar and queries: one label per code, one 和暦, one opt-out rule."""

import datetime as dt

from kodomo_desktop.core import calendar as C
from kodomo_desktop.core import queries as Q
from kodomo_desktop.core import vocab as V
from kodomo_desktop.core.importing import values
from kodomo_desktop.core.importing.fields import SOURCES
from kodomo_desktop.core.security.roles import ROLES


def test_every_code_has_one_label():
    for enum in (V.LinkStatus, V.LinkMethod, V.SourceType, V.Role):
        for member in enum:
            assert member.label, member
    assert V.LinkStatus.CONFIRMED.label == "確定"
    assert V.LinkStatus.label_of("no_such") == "no_such"
    assert V.LINKED == ("auto", "confirmed")
    assert V.LINKED_SQL == "('auto','confirmed')"
    assert V.sex_label(1) == "男" and V.sex_label("2") == "女" and V.sex_label(None) == ""
    assert V.Sex.FEMALE.label == "女"


def test_source_labels_agree_with_the_importer_and_roles():
    assert {k: s.label for k, s in SOURCES.items()} == V.SOURCE_TYPE_LABELS
    assert ROLES == V.ROLE_LABELS


def test_calendar():
    assert C.wareki(dt.date(2019, 5, 1)) == "令和元年5月1日"
    assert C.wareki(dt.date(2019, 4, 30)) == "平成31年4月30日"
    assert C.wareki(None) == "" and C.wareki(dt.date(1850, 1, 1)) == "1850-01-01"
    assert C.fiscal_year(dt.date(2024, 3, 31)) == 2023 and C.fiscal_year(dt.date(2024, 4, 1)) == 2024
    assert C.fiscal_year_ja(2019) == "平成31年度" and C.fiscal_year_ja(2020) == "令和2年度"
    assert C.age_on(dt.date(2018, 4, 2), dt.date(2024, 4, 1)) == 5
    assert C.age_on(dt.date(2018, 4, 1), dt.date(2024, 4, 1)) == 6
    assert C.to_date("2024-05-06T10:00") == dt.date(2024, 5, 6) and C.to_date("x") is None
    # importing.values re-exports the same objects
    assert values.format_wareki is C.format_wareki and values.ERAS is C.ERAS and values.to_date is C.to_date


def test_opt_out_respects_its_start_date(tmp_path):
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from kodomo_desktop.core.storage.models import Base, Household, OptOut, Person

    eng = create_engine(f"sqlite:///{tmp_path / 'q.db'}")
    Base.metadata.create_all(eng)
    with Session(eng) as s:
        s.add(Household(id="H1"))
        s.add_all([Person(id="P1", household_id="H1"), Person(id="P2", household_id="H1"), Person(id="P3")])
        s.add(OptOut(household_id="H1", from_date=dt.date(2024, 6, 1), reason="r", created_by="t"))
        s.add(OptOut(person_id="P3", from_date=dt.date(2024, 1, 1), reason="r", created_by="t"))
        s.flush()
        assert Q.opted_out(s, dt.date(2024, 5, 31)) == {"P3"}
        assert Q.opted_out(s, dt.date(2024, 6, 1)) == {"P1", "P2", "P3"}
        assert not Q.is_opted_out(s, "P1", dt.date(2024, 5, 31))
        assert Q.is_opted_out(s, "P2", dt.date(2024, 6, 1))
        assert Q.is_opted_out(s, "P3", dt.date(2024, 1, 1)) and not Q.is_opted_out(s, "P3", dt.date(2023, 12, 31))
