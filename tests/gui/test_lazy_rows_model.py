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
