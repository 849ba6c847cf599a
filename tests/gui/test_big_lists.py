"""こども一覧 at 200,000 persons (issue 21): a generated store, built once and cached under build/big/
(benchmarks/big_town.build), opened in the GUI: the list fetches lazily, counts, orders and searches in SQL with the
search semantics of ``persons.ChildIndex``. Behaviour only; ``python benchmarks/big_town.py`` prints the timings."""

from __future__ import annotations

import importlib.util
import json
import unicodedata
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _big_town():
    spec = importlib.util.spec_from_file_location("big_town", ROOT / "benchmarks" / "big_town.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def big_ws():
    from kodomo_desktop.core.workspace import Workspace

    bt = _big_town()
    db = bt.build(ROOT / "build" / "big" / "big.db", 200_000)  # cached: built on the first run only
    ws = Workspace.open(db, bt.PASSWORD)
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def everyone(big_ws):
    """Every child as the old in-memory list had them (the reference for the SQL search)."""
    from kodomo_desktop.core import persons as P

    rows = P.list_children(big_ws, log=False)
    return rows, P.ChildIndex(rows)


def _expected(everyone, query: str) -> set[str]:
    rows, index = everyone
    return {rows[i].person_id for i in index.filter(query)}


def _log_tail(ws, after: int) -> list[tuple[str, dict]]:
    with ws.engine.connect() as c:
        got = c.execute(text("SELECT action, detail FROM access_log WHERE seq > :s ORDER BY seq"), {"s": after})
        return [(a, json.loads(d) if d else {}) for a, d in got]


def _last_seq(ws) -> int:
    with ws.engine.connect() as c:
        return int(c.execute(text("SELECT max(seq) FROM access_log")).scalar() or 0)


def test_child_list_at_200000_opens_lazily_and_searches_in_sql(app, qtbot, big_ws, everyone, no_modals):
    from kodomo_desktop.gui.pages.children_page import PAGE_ROWS, ChildrenPage

    rows, _ = everyone
    with big_ws.engine.connect() as c:
        persons = c.execute(text("SELECT count(*) FROM person")).scalar()
    assert persons == 200_000 and len(rows) > 50_000

    seq = _last_seq(big_ws)
    page = ChildrenPage(big_ws)
    qtbot.addWidget(page)
    page.resize(1200, 800)
    page.show()
    qtbot.waitExposed(page)
    m = page.model
    # opening: every child counted, one page fetched, the rest fetched as the view scrolls
    assert m.total == m.matches == len(rows)
    assert PAGE_ROWS <= m.rowCount() < 3 * PAGE_ROWS and m.canFetchMore()
    assert page.count.text() == f"{len(rows)} 人"
    keys = [(r.kana_key, r.name_key, r.person_id) for r in m.rows]
    assert keys == sorted(keys)  # カナ order, as the in-memory list sorted it
    assert all(r.age is not None and 0 <= r.age <= 18 for r in m.rows)
    before = m.rowCount()
    page.view.scrollToBottom()
    qtbot.waitUntil(lambda: m.rowCount() > before, timeout=5000)
    assert m.rowCount() - before <= 2 * PAGE_ROWS
    # the list view is logged once, with the count only
    entries = _log_tail(big_ws, seq)
    assert entries == [("search", {"scope": "children_list", "results": len(rows)})]

    # school of a page's rows: the current school, read for just those ids
    schooled = [r for r in m.rows if r.age is not None and 7 <= r.age <= 13]
    assert schooled and all(r.school.startswith("ひなた市立第") for r in schooled)

    # searches: the same persons as the in-memory ChildIndex over every child
    first = rows[len(rows) // 2]
    digits = first.resident_no.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    half_kana = __import__("jaconv").z2h(unicodedata.normalize("NFKC", first.name_kana), kana=True)
    hira = __import__("jaconv").kata2hira(first.name_kana.split()[0])
    for query in ("佐藤 陽", "斎藤", half_kana, hira, digits, first.person_id, "サトー"):
        want = _expected(everyone, query)
        page.search.setText(query)
        n = page.apply_search(log=False)
        assert n == len(want) == m.matches, query
        assert 0 < n < len(rows), query
        assert {m.row_at(i).person_id for i in range(n)} == want, query
        assert m.rowCount() == n  # row_at fetched the rest of the matches
        assert page.count.text() == f"{len(rows)} 人中 {n} 人"
    # the looser fold level only when nothing matches: サトー (no one is written so) finds the サトウ children
    assert not any("サトー" in r.kana_key for r in rows)
    assert any(m.row_at(i).kana_key.startswith("サトウ") for i in range(m.matches))
    # 宛名番号 and the person id find exactly one child
    page.search.setText(digits)
    page.apply_search(log=False)
    assert [m.row_at(i).person_id for i in range(m.matches)] == [first.person_id]
    assert m.view_row_of(first.person_id) == 0
    page.search.setText("存在しない名前")
    assert page.apply_search(log=False) == 0 and m.rowCount() == 0

    # a search is logged once when it settles: the number of results, never the text
    seq = _last_seq(big_ws)
    page.search.setText("佐藤 陽")
    page.apply_search()
    qtbot.waitUntil(lambda: len(_log_tail(big_ws, seq)) == 1, timeout=5000)
    assert _log_tail(big_ws, seq) == [("search", {"scope": "children", "results": len(_expected(everyone, "佐藤 陽"))})]

    # sorting by 生年月日 runs in SQL over the whole list, not only the fetched rows
    page.search.setText("")
    page.apply_search(log=False)
    page.view.sortByColumn(2, Qt.AscendingOrder)
    births = [m.row_at(i).birth_date for i in range(0, 3 * PAGE_ROWS)]
    assert births == sorted(births) and births[0] == min(r.birth_date for r in rows)
    page.view.sortByColumn(3, Qt.AscendingOrder)  # 年齢, youngest first
    assert m.row_at(0).birth_date == max(r.birth_date for r in rows)
    page.view.sortByColumn(1, Qt.AscendingOrder)

    # opening a child and coming back selects the child's row again
    child = m.row_at(PAGE_ROWS + 5)
    page.open_person(child.person_id)
    assert page.stack.currentIndex() == 1 and page.child.title.text() == child.name
    page.back_to_list()
    assert page.view.currentIndex().row() == PAGE_ROWS + 5

    # the lock forgets every fetched row
    page.on_lock()
    assert m.rowCount() == 0 and m.rows == [] and m.total == 0
