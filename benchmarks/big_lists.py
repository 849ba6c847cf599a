"""Every long list of the GUI at 200,000 persons (issue 21, point 3): how long each takes to open, to filter or
search, and to sort, on the cached store of ``benchmarks/big_town.py`` (built on the first run, ~2 min).

    flock /tmp/kodomo-bigbench.lock python benchmarks/big_lists.py [--persons 200000] [--db FILE]

Prints a table: list, rows in the list, then seconds to open the page (offscreen, its first page fetched: the first
page of its kind in the process, so it includes building the page's other tabs), to reload it (F5: count and first
page again), to filter or search, and to sort by a column, and the rows the model had fetched (never the whole list); below
each list, the seconds to jump far down it (5,000, 50,000 or 100,000 rows, the last row). Goal: each under 0.5 s. ``tests/gui/test_big_lists.py`` checks the behaviour on the same store.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _big_town():
    spec = importlib.util.spec_from_file_location("big_town", ROOT / "benchmarks" / "big_town.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _t(f):
    t = time.perf_counter()
    r = f()
    return time.perf_counter() - t, r


def _jumps(model, view, settle, rows) -> str:
    """Seconds to jump to each row (selected and scrolled to, as a click on the scroll bar or Ctrl+End does): a jump
    fetches the page it lands on, not every row above it."""
    got = []
    for k in rows:
        if k < 0:
            continue

        def go(k=k):
            (model.row_at if hasattr(model, "row_at") else model.ensure)(k)
            view.selectRow(k)
            view.scrollTo(model.index(k, 0))
            settle()

        t, _ = _t(go)
        got.append(f"{k + 1:,}行目へ {t:.3f} s")
    return "　".join(got)


def measure(db: Path, password: str) -> list[dict]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from kodomo_desktop.core.workspace import Workspace
    from kodomo_desktop.gui.app import register_fonts

    app = QApplication.instance() or QApplication([])
    register_fonts(app)
    ws = Workspace.open(db, password)
    out = []

    def settle():
        app.processEvents()

    def row(name, total, open_s, search_label, search_s, hits, sort_label, sort_s, fetched, reload=None):
        out.append(
            {
                "list": name,
                "rows": total,
                "open_s": open_s,
                "reload_s": _t(lambda: (reload(), settle()))[0] if reload else float("nan"),
                "search": search_label,
                "search_s": search_s,
                "hits": hits,
                "sort": sort_label,
                "sort_s": sort_s,
                "fetched": fetched,
            }
        )

    # こども一覧
    from kodomo_desktop.gui.pages.children_page import ChildrenPage

    t_open, page = _t(lambda: (ChildrenPage(ws), settle())[0])
    page.search.setText("佐藤 陽")
    t_s, n = _t(lambda: (page.apply_search(log=False), settle())[0])
    page.search.setText("")
    page.apply_search(log=False)
    t_sort, _ = _t(lambda: (page.view.sortByColumn(2, Qt.AscendingOrder), settle()))
    row(
        "こども一覧",
        page.model.total,
        t_open,
        "氏名「佐藤 陽」",
        t_s,
        n,
        "生年月日",
        t_sort,
        page.model.rowCount(),
        page.reload,
    )
    out[-1]["extra"] = _jumps(page.model, page.view, settle, (5_000, 50_000, page.model.matches - 1))
    page.deleteLater()

    # スコア（優先リスト）
    from kodomo_desktop.gui.pages.scoring_page import ScoringPage

    t_open, page = _t(lambda: (ScoringPage(ws), settle())[0])
    total = page.model.matches
    t_f, n = _t(lambda: (page.f_flag.setChecked(True), settle(), page.model.matches)[2])
    page.f_flag.setChecked(False)
    page.search.setText("サトウ")
    t_s, n2 = _t(lambda: (page.apply_filters(), settle())[0])
    page.search.setText("")
    page.apply_filters()
    t_sort, _ = _t(lambda: (page.view.sortByColumn(2, Qt.AscendingOrder), settle()))
    row("スコア（抽出のみ）", total, t_open, "抽出のみ", t_f, n, "年齢", t_sort, page.model.rowCount(), page.reload)
    out[-1]["extra"] = f"カナ「サトウ」 {t_s:.3f} s ({n2:,})　" + _jumps(
        page.model, page.view, settle, (5_000, 50_000, page.model.matches - 1)
    )
    page.deleteLater()

    # 名寄せ 確認待ち
    from kodomo_desktop.gui.pages.linkage_page import LinkagePage

    t_open, page = _t(lambda: (LinkagePage(ws), settle())[0])
    total = page.queue_model.matches
    page.search.setText("佐藤")
    t_s, _ = _t(lambda: (page.refresh(), settle()))
    n = page.queue_model.matches
    page.search.setText("")
    page.refresh()
    t_sort, _ = _t(lambda: (page.list.setCurrentRow(5_000), settle()))
    fetched = page.queue_model.rowCount()
    row("名寄せ 確認待ち", total, t_open, "氏名「佐藤」", t_s, n, "5,000件目へ", t_sort, fetched, page.refresh)
    jumps = []
    for k in (15_000, total - 1, 2_500):  # further down, the end, and back up into the rows the jumps skipped
        t, _ = _t(lambda: (page.list.setCurrentRow(k), settle()))
        jumps.append(f"{k:,}件目へ {t:.3f} s")
    out[-1]["extra"] = "　".join(jumps) + f"（取得 {page.queue_model.fetches} ページ）"
    page.deleteLater()

    # 操作ログ
    from kodomo_desktop.gui.pages.log_page import LogPage

    t_open, page = _t(lambda: (LogPage(ws), settle())[0])
    total = page.model.matches
    page.action.setCurrentIndex(page.action.findData("view_person"))
    t_s, _ = _t(lambda: (page.refresh(), settle()))
    n = page.model.matches
    t_sort, _ = _t(lambda: (page.view.sortByColumn(0, Qt.AscendingOrder), settle()))
    row(
        "操作ログ",
        total,
        t_open,
        "操作「こどものページ閲覧」",
        t_s,
        n,
        "古い順",
        t_sort,
        page.model.rowCount(),
        page.refresh,
    )
    page.view.sortByColumn(0, Qt.DescendingOrder)
    page.action.setCurrentIndex(0)
    page.refresh()
    settle()
    extra = [_jumps(page.model, page.view, settle, (5_000, 100_000, page.model.matches - 1))]
    for col, label in ((3, "操作順"), (4, "整理番号順")):
        t, _ = _t(lambda: (page.view.sortByColumn(col, Qt.AscendingOrder), settle()))
        extra.append(f"{label} {t:.3f} s")
    if page._check is not None:
        t0 = time.perf_counter()
        page._check.wait()
        extra.append(f"連鎖の検査（別スレッド） {time.perf_counter() - t0 + t_open:.2f} s 以内")
    out[-1]["extra"] = "　".join(extra)
    page.deleteLater()

    # 取込の履歴・除外行
    from kodomo_desktop.gui.pages.import_page import HistoryView

    t_open, h = _t(lambda: (HistoryView(ws), settle())[0])
    total = h.model.matches
    h.query.setText("第7小学校")
    t_s, _ = _t(lambda: (h.refresh(), settle()))
    n = h.model.matches
    h.query.setText("")
    h.refresh()
    t_sort, _ = _t(lambda: (h.view.sortByColumn(3, Qt.AscendingOrder), settle()))
    row("取込の履歴", total, t_open, "ファイル名「第7小学校」", t_s, n, "時点", t_sort, h.model.rowCount(), h.refresh)
    bad = h.model.find(lambda b: (b["rejected"] or 0) > 10_000)
    h.view.sortByColumn(0, Qt.DescendingOrder)
    bad = h.model.find(lambda b: (b["rejected"] or 0) > 10_000)
    t_open, _ = _t(lambda: (h.view.selectRow(bad), settle()))
    total = h.rejected.matches
    h.rejected_query.setText("生年月日")
    t_s, _ = _t(lambda: (h.show_batch(), settle()))
    n = h.rejected.matches
    t_sort, _ = _t(lambda: (h.rejected_view.sortByColumn(2, Qt.AscendingOrder), settle()))
    row(
        "除外行（1バッチ）",
        total,
        t_open,
        "列・理由「生年月日」",
        t_s,
        n,
        "理由",
        t_sort,
        h.rejected.rowCount(),
        h.show_batch,
    )
    h.rejected_query.setText("")
    h.show_batch()
    settle()
    out[-1]["extra"] = _jumps(h.rejected, h.rejected_view, settle, (5_000, h.rejected.matches - 1))
    h.deleteLater()
    settle()
    ws.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--persons", type=int, default=200_000)
    ap.add_argument("--db", type=Path, default=None)
    a = ap.parse_args()
    bt = _big_town()
    a.db = a.db or bt.default_db()
    t = time.perf_counter()
    bt.build(a.db, a.persons)
    print(f"store ready in {time.perf_counter() - t:.1f} s ({a.persons:,} persons): {a.db}")
    rows = measure(a.db, bt.PASSWORD)
    print(
        f"{'list':<16} {'rows':>8} {'open s':>7} {'reload':>7}  {'filter / search':<26} {'s':>6} {'hits':>7}  {'sort':<10} {'s':>6} {'fetched':>7}"
    )
    for r in rows:
        print(
            f"{r['list']:<16} {r['rows']:>8,} {r['open_s']:>7.3f} {r['reload_s']:>7.3f}  {r['search']:<26} {r['search_s']:>6.3f} "
            f"{r['hits']:>7,}  {r['sort']:<10} {r['sort_s']:>6.3f} {r['fetched']:>7,}"
        )
        if r.get("extra"):
            print(f"{'':<16} {r['extra']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
