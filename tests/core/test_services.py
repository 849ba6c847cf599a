"""@service(permission): the check comes before anything is read, is logged when refused, and opens the session."""

import pytest

from kodomo_desktop.core.errors import Cancelled, InputRefused, PermissionDenied
from kodomo_desktop.core.governance import documents
from kodomo_desktop.core.services import SERVICES, service
from kodomo_desktop.core.workspace import Workspace


def test_self_inspection_pdf_checks_before_it_reads(new_db, tmp_path, monkeypatch):
    new_db.add_user("s1", "staff pw 1", "staff")
    staff = Workspace.open(new_db.path, "staff pw 1", "s1")
    try:
        opened = []
        monkeypatch.setattr(staff, "session", lambda *a, **k: opened.append(1) or (_ for _ in ()).throw(AssertionError))
        with pytest.raises(PermissionDenied):
            documents.self_inspection_pdf(staff, 2026, tmp_path / "si.pdf")
        assert opened == [] and not (tmp_path / "si.pdf").exists()
    finally:
        staff.close()
    assert SERVICES["governance.documents.self_inspection_pdf"] == "governance.read"


def test_decorator_passes_a_session_and_refuses_unknown_permissions(new_db):
    @service("person.read", session=True)
    def count_people(ws, *, s):
        from sqlalchemy import text

        return s.execute(text("SELECT count(*) FROM person")).scalar()

    assert count_people(new_db) == 0
    with pytest.raises(KeyError):
        service("no.such.permission")


def test_one_cancelled():
    from kodomo_desktop.core.importing.service import Cancelled as ImportCancelled

    pytest.importorskip("PySide6")
    from kodomo_desktop.gui.ops import Cancelled as GuiCancelled

    assert ImportCancelled is Cancelled is GuiCancelled and issubclass(Cancelled, InputRefused)
    assert Cancelled().exit_code == 2 and Cancelled().message_ja
