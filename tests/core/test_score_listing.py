"""The prioritised list in SQL (scoring/listing.py, issue 21): the same rows and order as the whole list, filters in
SQL, pages by offset, one log entry per list view, and a run written without the list columns filled on first use."""

from __future__ import annotations

import json

import pytest
from conftest import DEMO_PW
from sqlalchemy import text

from kodomo_desktop.core.scoring import listing as LS
from kodomo_desktop.core.scoring import service as S
from kodomo_desktop.core.workspace import Workspace


@pytest.fixture
def ws(demo_town, tmp_path):
    demo_town(tmp_path / "t.db", residents=600, seed=1, score=True)
    w = Workspace.open(tmp_path / "t.db", DEMO_PW)
    yield w
    w.close()


def _log(ws):
    with ws.engine.connect() as c:
        return [(a, json.loads(d) if d else {}) for a, d in c.execute(text("SELECT action, detail FROM access_log"))]


def test_pages_filters_and_orders_match_the_whole_list(ws):
    everyone = S.latest_scores(ws, log=False)
    n = len(everyone)
    assert n > 50
    # list order: band level, total, basic items, id — and position is the place in it
    keys = [(-(r["band_level"] or 0), -r["total"], -r["basic_items"], r["person_id"]) for r in everyone]
    assert keys == sorted(keys) and [r["position"] for r in everyone] == list(range(1, n + 1))
    # pages by offset put together are the whole list
    before = len(_log(ws))
    assert LS.score_count(ws, log=False) == n
    pages = [r for k in range(0, n, 40) for r in LS.score_page(ws, 40, k)]
    assert [r["person_id"] for r in pages] == [r["person_id"] for r in everyone]
    assert len(_log(ws)) == before  # pages are not logged
    # each filter gives what the in-memory filter gave
    school = next(r["school"] for r in everyone if r["school"])
    cases = {
        "school": (dict(school=school), lambda r: r["school"] == school),
        "no school": (dict(school=""), lambda r: r["school"] == ""),
        "age band": (dict(age_band="小学生"), lambda r: r["age_band"] == "小学生"),
        "type": (dict(type_="虐待"), lambda r: "虐待" in r["types"]),
        "flagged": (dict(flagged_only=True), lambda r: r["flagged"]),
        "unreviewed": (dict(unreviewed=True), lambda r: r["flagged"] and not r["reviewed"]),
        "band": (dict(band=everyone[0]["band"]), lambda r: r["band"] == everyone[0]["band"]),
    }
    for label, (f, pred) in cases.items():
        want = [r["person_id"] for r in everyone if pred(r)]
        assert LS.score_count(ws, log=False, **f) == len(want), label
        assert [r["person_id"] for r in LS.score_page(ws, **f)] == want, label
        assert [r["person_id"] for r in S.latest_scores(ws, log=False, **f)] == want, label
    assert 0 < LS.score_count(ws, log=False, flagged_only=True) < n
    # a name search (the child list's semantics): every hit carries the surname
    surname = everyone[0]["name"].split()[0]
    hits = LS.score_page(ws, query=surname)
    assert hits and all(surname in r["name"] for r in hits)
    assert LS.score_count(ws, log=False, query="存在しない名前") == 0
    # orders in SQL: by total, by age (youngest first)
    totals = [r["total"] for r in LS.score_page(ws, order="total")]
    assert totals == sorted(totals, reverse=True)
    births = [r["birth_date"] for r in LS.score_page(ws, order="age")]
    assert births == sorted(births, reverse=True)
    assert LS.score_schools(ws) == sorted({r["school"] for r in everyone})


def test_one_log_entry_per_list_view(ws):
    before = len(_log(ws))
    n = LS.score_count(ws, flagged_only=True)
    new = _log(ws)[before:]
    assert new == [("view_list", {"list": "prioritised", "run_id": S.latest_run(ws)["run_id"], "rows": n})]


def test_a_run_without_list_columns_is_filled_when_listed(ws):
    want = [r["person_id"] for r in S.latest_scores(ws, log=False)]
    with ws.engine.begin() as c:
        c.execute(text("UPDATE child_score SET position = NULL, band_level = NULL, school = NULL"))
    assert [r["person_id"] for r in LS.score_page(ws)] == want
    with ws.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM child_score WHERE position IS NULL")).scalar() == 0


def test_the_list_functions_check_permissions(ws):
    """Every page and count asks its permission first: a staff member may read scores and the history but not the
    review queue or the log; an auditor reads the log only. A refusal is logged and nothing is returned."""
    from kodomo_desktop.core.audit import export as E
    from kodomo_desktop.core.errors import PermissionDenied
    from kodomo_desktop.core.importing import service as I
    from kodomo_desktop.core.linkage import service as L

    ws.add_user("staff1", "staff pw 1", "staff")
    ws.add_user("audit1", "audit pw 1", "auditor")
    staff = Workspace.open(ws.path, "staff pw 1", "staff1")
    auditor = Workspace.open(ws.path, "audit pw 1", "audit1")
    try:
        assert LS.score_count(staff, log=False) > 0 and LS.score_page(staff, 5)
        assert I.batch_count(staff) > 0 and I.batch_page(staff, 5)
        for call in (lambda: L.review_count(staff), lambda: L.review_page(staff, 5), lambda: E.log_page(staff, 5)):
            with pytest.raises(PermissionDenied):
                call()
        assert E.log_count(auditor) > 0 and E.log_page(auditor, 5)
        for call in (lambda: LS.score_page(auditor, 5), lambda: I.rejected_page(auditor, 1, 5)):
            with pytest.raises(PermissionDenied):
                call()
    finally:
        staff.close()
        auditor.close()
    ws.refresh_audit_copy()  # the auditor's refusals are in the audit workspace's log: the town reads them back
    denied = [e for e in _log(ws) if e[0] == "permission_denied"]
    assert len(denied) == 5
