"""LazyRowsModel (gui/models.py), the base of the long lists: it counts once per filter, fetches a page at a time
as the view scrolls, sorts by asking the source again, and forgets everything with ``set_rows([])``."""

from __future__ import annotations

from PySide6.QtCore import Qt


class Source:
    """10,000 rows in a list, filtered and ordered like a core query function (and counting its calls)."""

    def __init__(self, n=10_000):
        self.data = [{"id": i, "name": f"名前{i % 97:02d}", "even": i % 2 == 0} for i in range(n)]
        self.counts = self.pages = 0

    def _hit(self, even=None):
        return [r for r in self.data if even is None or r["even"] == even]

    def count(self, even=None):
        self.counts += 1
        return len(self._hit(even))

    def page(self, limit, offset, order, descending, even=None):
        self.pages += 1
        rows = sorted(self._hit(even), key=lambda r: (r[order], r["id"]), reverse=descending)
        return rows[offset : offset + limit]


def test_lazy_rows_model_fetches_pages_sorts_and_filters_at_the_source(app, qtbot):
    from PySide6.QtWidgets import QTableView

    from kodomo_desktop.gui.models import PAGE_ROWS, LazyRowsModel

    src = Source()
    m = LazyRowsModel(
        [("id", "番号"), ("name", "氏名")], src.count, src.page, sort_keys={"id": "id", "name": "name"}, order="id"
    )
    assert m.rowCount() == 0 and not m.canFetchMore()  # nothing read before set_filters
    assert m.set_filters() == 10_000
    assert m.rowCount() == PAGE_ROWS and m.canFetchMore() and src.counts == 1 and src.pages == 1
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(m)
    view.resize(400, 300)
    view.show()
    qtbot.waitExposed(view)
    view.scrollToBottom()
    qtbot.waitUntil(lambda: m.rowCount() > PAGE_ROWS, timeout=3000)
    assert m.rowCount() <= 3 * PAGE_ROWS  # one more page, not the whole list
    assert [m.row(i)["id"] for i in range(m.rowCount())] == list(range(m.rowCount()))
    # row_at fetches up to the row asked for
    assert m.row_at(1234)["id"] == 1234 and PAGE_ROWS * 6 <= m.rowCount() <= PAGE_ROWS * 7
    # sorting asks the source (descending by id: the last row first), from the first page again
    view.setSortingEnabled(True)
    view.sortByColumn(0, Qt.DescendingOrder)
    assert m.row(0)["id"] == 9_999 and m.rowCount() == PAGE_ROWS
    assert m.data(m.index(0, 0)) == "9999" and m.headerData(1, Qt.Horizontal) == "氏名"
    # a filter re-counts once and starts again from its first page
    counts = src.counts
    assert m.set_filters(even=False) == 5_000 and src.counts == counts + 1
    assert all(not m.row(i)["even"] for i in range(m.rowCount())) and m.row(0)["id"] == 9_999
    assert m.find(lambda r: r["id"] == 1) == 4_999  # found by fetching on
    # set_rows([]) forgets every fetched row (the lock) and fetches nothing more
    m.set_rows([])
    assert m.rowCount() == 0 and not m.canFetchMore() and m.rows == []


def test_a_jump_far_down_fetches_only_the_page_it_lands_on(app, qtbot):
    """5,000 or 9,000 rows deep costs one page; the pages skipped are fetched when they are read (painted)."""
    from PySide6.QtWidgets import QTableView

    from kodomo_desktop.gui.models import PAGE_ROWS, LazyRowsModel

    src = Source()
    m = LazyRowsModel([("id", "番号"), ("name", "氏名")], src.count, src.page, sort_keys={"id": "id"}, order="id")
    m.set_filters()
    pages = src.pages
    assert m.row_at(9_123)["id"] == 9_123
    assert src.pages == pages + 1 and m.rowCount() == 9_200  # one query, rows counted up to its page's end
    assert m.row_at(9_199)["id"] == 9_199 and src.pages == pages + 1  # on the same page: nothing more
    # a row skipped by the jump is fetched (with its page) when it is read, once
    assert m.row(5_000)["id"] == 5_000 and src.pages == pages + 2
    assert [m.row(i)["id"] for i in range(5_000, 5_000 + PAGE_ROWS)] == list(range(5_000, 5_000 + PAGE_ROWS))
    assert src.pages == pages + 2
    # the view paints the rows it shows: scrolled to a skipped place, it fetches those pages only
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(m)
    view.resize(400, 300)
    view.show()
    qtbot.waitExposed(view)
    view.scrollTo(m.index(2_500, 0))
    qtbot.wait(50)
    assert m.data(m.index(2_500, 0)) == "2500" and src.pages <= pages + 4
    # fetching on from the end continues after the furthest row; find reads through the gaps
    m.fetchMore()
    assert m.rowCount() == 9_400 and m.row(9_399)["id"] == 9_399
    assert m.find(lambda r: r["id"] == 7_777) == 7_777
    assert [r["id"] for r in m.rows[:3]] == [0, 1, 2]
    # a sort or a filter starts again from the first page
    view.setSortingEnabled(True)
    view.sortByColumn(0, Qt.DescendingOrder)
    assert m.rowCount() == PAGE_ROWS and m.row(0)["id"] == 9_999


def test_a_list_shorter_than_counted_ends_where_the_rows_end(app):
    """Rows deleted between the count and a jump: the list ends at the last row there is."""
    from kodomo_desktop.gui.models import LazyRowsModel

    src = Source()
    m = LazyRowsModel([("id", "番号")], src.count, src.page, order="id")
    m.set_filters()
    del src.data[6_050:]  # 3,950 rows gone
    m.ensure(6_010)  # a page that comes back short
    assert m.matches == m.rowCount() == 6_050 and m.row(6_049)["id"] == 6_049
    m.set_filters()
    del src.data[5_000:]
    m.ensure(5_500)  # a page with nothing on it any more: counted again
    assert m.matches == m.rowCount() == 5_000 and m.row(4_999)["id"] == 4_999
    assert not m.canFetchMore() and m.row(1_000)["id"] == 1_000


def test_the_child_list_reads_a_gaps_ids_in_one_query_not_one_per_page(app):
    """こども一覧 pages the whole list by ids: after a jump far down, reading back through the gap (scrolling up, an
    iteration) asks for the ids of many pages at once — each ids read is an OFFSET scan over the rows above it."""
    from kodomo_desktop.core import persons as P
    from kodomo_desktop.gui.pages.children_page import ID_RUN, PAGE_ROWS, ChildListModel

    ids = [f"P{i:06d}" for i in range(30_000)]

    class Store:
        def __init__(self):
            self.id_reads = self.row_reads = 0

        def total(self):
            return len(ids)

        def ids(self, query, order, descending, limit, offset):
            self.id_reads += 1
            return ids[offset : offset + limit]

        def rows(self, some):
            self.row_reads += 1
            return [P.ChildRow(i, i, "", None, None, "", "", "", "", "", None, True, False, i, i) for i in some]

    src = Store()
    m = ChildListModel()
    m._use(src)
    assert m.fetches == 1 and m.row_at(25_000).person_id == ids[25_000] and m.fetches == 2
    reads = src.id_reads
    assert [r.person_id for r in m.rows] == ids[: m.rowCount()]  # every row, in the list's order
    gap = 25_000 - PAGE_ROWS  # the first page was read on opening, the jump's page by the jump
    assert src.id_reads - reads == -(-gap // ID_RUN) < gap // PAGE_ROWS
    assert src.row_reads == m.fetches == m.rowCount() // PAGE_ROWS  # rows still a page at a time
