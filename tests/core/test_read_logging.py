"""Issue 22: every read of a child's data is logged — one entry per list view (not per row), ids and counts only."""

import json

import pytest
from factories import SCHOOLS, small_world
from sqlalchemy import text

from kodomo_desktop.core.casework import service as C
from kodomo_desktop.core.checklists import service as CL
from kodomo_desktop.core.linkage import service as L
from kodomo_desktop.core.scoring import service as S


def entries(ws):
    with ws.engine.connect() as c:
        return [
            (a, p, json.loads(d) if d else {})
            for a, p, d in c.execute(text("SELECT action, person_id, detail FROM access_log ORDER BY seq"))
        ]


@pytest.fixture
def world(new_db):
    return new_db, small_world(new_db)


def one_new_entry(ws, call):
    before = len(entries(ws))
    result = call()
    new = entries(ws)[before:]
    assert len(new) == 1, new  # one entry per list view, however many rows
    return result, new[0]


@pytest.mark.parametrize(
    "name, call, person, rows",
    [
        ("prioritised", lambda ws, pid: S.latest_scores(ws), False, 12),
        ("timeline", lambda ws, pid: C.timeline(ws, pid), True, None),
        ("cases", lambda ws, pid: C.cases_of(ws, pid), True, 0),
        ("score_history", lambda ws, pid: C.score_history(ws, pid), True, 1),
        ("open_cases", lambda ws, pid: C.open_cases(ws), False, 0),
        ("due", lambda ws, pid: C.due_list(ws), False, 0),
        ("review_queue", lambda ws, pid: L.review_queue(ws), False, 0),
        ("pupils", lambda ws, pid: CL.pupils(ws, SCHOOLS[0]), False, 4),
    ],
)
def test_each_list_view_is_logged_once_with_counts_only(world, name, call, person, rows):
    ws, w = world
    pid = w["persons"][0]
    result, (action, logged_pid, detail) = one_new_entry(ws, lambda: call(ws, pid))
    assert action == "view_list" and detail["list"] == name
    assert logged_pid == (pid if person else None)
    n = detail.get("rows", detail.get("entries"))
    assert n == len(result)
    if rows is not None:
        assert n == rows
    flat = json.dumps(detail, ensure_ascii=False)
    assert "試験" not in flat and "シケン" not in flat  # never a name


def test_round_list_is_logged_and_internal_use_is_not(world):
    ws, _ = world
    rid = C.create_round(ws, "第1回")
    rows, (_, _, detail) = one_new_entry(ws, lambda: C.round_candidates(ws, rid))
    assert detail == {"list": "round", "round_id": rid, "rows": len(rows)} and rows
    before = len(entries(ws))
    C.suggest_batch(ws, rid)
    assert not [e for e in entries(ws)[before:] if e[0] == "view_list"]


def test_conference_agenda_is_logged(world):
    ws, w = world
    import datetime as dt

    cid = C.create_conference(ws, "ケース会議", dt.date(2026, 10, 1), title="第1回")
    C.add_to_conference(ws, cid, w["persons"][:3])
    d, (action, _, detail) = one_new_entry(ws, lambda: C.conference_detail(ws, cid))
    assert action == "view_list" and detail == {"list": "conference", "conference_id": cid, "rows": 3}
    before = len(entries(ws))
    C.conference_detail(ws, cid, log=False)
    assert len(entries(ws)) == before
