"""The GUI shell with pytest-qt (offscreen): main window on the demo town, search, child page, screenshots (the
Japanese must render as Japanese: the bundled IPAex font is registered), sign-in, lock/unlock, pages, ops.

Data: the demo town (``build_demo``, 600 residents, built once per session) when the demo service is importable,
else a small world inserted straight through the models. Synthetic names only."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

from kodomo_desktop.core.workspace import Workspace  # noqa: E402

pytestmark = pytest.mark.gui
from conftest import (
    DEMO_PW,  # noqa: E402
    IMAGES,  # noqa: E402  build/screenshots; copied to docs/images by tools/update-screenshots.sh
    PNG_QUICK,
)

PW = DEMO_PW  # the cached demo towns' password (conftest.demo_town)


def _fallback_world(path: Path) -> None:
    """Households with parents and children, a registry batch and a school batch, all linked."""
    from kodomo_desktop.core.storage.models import Household, Link, Person, SourceBatch, SourceRecord
    from kodomo_desktop.core.text.normalize import norm_kana, norm_name

    ws = Workspace.create(path, PW)
    as_of = dt.date.today().replace(day=1)
    surnames = [("見本", "ミホン"), ("試験", "シケン"), ("仮野", "カリノ"), ("例田", "レイダ"), ("髙見", "タカミ")]
    kids = [("花子", "ハナコ", 2), ("一郎", "イチロウ", 1), ("陽菜", "ヒナ", 2), ("湊", "ミナト", 1)]
    with ws.session() as s:
        reg = SourceBatch(
            source_type="resident_registry",
            file_name="住民基本台帳.csv",
            file_hash="r" * 64,
            as_of=as_of,
            rows_total=0,
            rows_imported=0,
        )
        sch = SourceBatch(
            source_type="school_attendance",
            file_name="出欠状況_第一小学校.xlsx",
            file_hash="s" * 64,
            as_of=as_of,
            rows_total=0,
            rows_imported=0,
        )
        s.add_all([reg, sch])
        s.flush()
        n = 0
        for h, (sur, sur_k) in enumerate(surnames):
            hh = Household(id=f"H{h + 1:06d}", household_no=f"50{h:05d}", address=f"みどり町{h + 1}丁目1番")
            s.add(hh)
            members = [
                ("世帯主", "太郎", "タロウ", 1, dt.date(1984, 5, 1)),
                ("妻", "陽子", "ヨウコ", 2, dt.date(1986, 7, 2)),
            ]
            members += [
                ("子", g, gk, sex, dt.date(2012 + (h + i) % 10, 1 + i, 10))
                for i, (g, gk, sex) in enumerate(kids[: 2 + h % 2])
            ]
            for rel, given, given_k, sex, birth in members:
                n += 1
                pid = f"P{n:06d}"
                name, kana = f"{sur}　{given}", f"{sur_k} {given_k}"
                s.add(
                    Person(
                        id=pid,
                        household_id=hh.id,
                        resident_no=f"00001{n:05d}",
                        name=name,
                        name_kana=kana,
                        name_norm=norm_name(name),
                        kana_norm=norm_kana(kana),
                        birth_date=birth,
                        sex=sex,
                        relationship=rel,
                        address=hh.address,
                    )
                )
                s.flush()
                r = SourceRecord(
                    batch_id=reg.id,
                    source_type="resident_registry",
                    row_number=n + 1,
                    raw={"氏名": name},
                    resident_no=f"00001{n:05d}",
                    name=name,
                    name_kana=kana,
                    birth_date=birth,
                    sex=sex,
                    relationship=rel,
                    record_date=as_of,
                    attributes={},
                )
                s.add(r)
                s.flush()
                s.add(Link(record_id=r.id, person_id=pid, status="auto", method="resident_no"))
                if rel == "子" and birth.year >= 2014:
                    r2 = SourceRecord(
                        batch_id=sch.id,
                        source_type="school_attendance",
                        row_number=n + 1,
                        raw={"児童氏名": name, "備考": "見本"},
                        name=name,
                        birth_date=birth,
                        school="第一小学校",
                        grade=str(1 + n % 6),
                        class_name="1",
                        record_date=as_of,
                        attributes={"absence_days": 3 + n, "late_days": 1, "extra": {"備考": "見本"}},
                    )
                    s.add(r2)
                    s.flush()
                    s.add(Link(record_id=r2.id, person_id=pid, status="auto", method="probabilistic"))
    ws.close()


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory, demo_town):
    d = tmp_path_factory.mktemp("gui_demo")
    path = d / "demo.db"
    try:
        from kodomo_desktop.core.demo.service import build_demo
    except ImportError:
        build_demo = None
    if build_demo is not None:
        demo_town(path, residents=600, seed=1)
    else:
        _fallback_world(path)
    return path


@pytest.fixture
def ws(demo_db, tmp_path):
    for suffix in ("", ".keys"):
        shutil.copy(str(demo_db) + suffix, str(tmp_path / "d.db") + suffix)
    w = Workspace.open(tmp_path / "d.db", PW)
    yield w
    w.close()


@pytest.fixture
def app(qapp, tmp_path, monkeypatch):
    monkeypatch.setenv("KODOMO_CONFIG_DIR", str(tmp_path / "config"))
    from kodomo_desktop.gui import i18n
    from kodomo_desktop.gui.app import register_fonts

    family = register_fonts(qapp)
    assert "IPAex" in family
    i18n.set_language("ja")
    assert i18n.install_qt_translations(qapp, "ja")  # Qt's own buttons in Japanese
    from PySide6.QtCore import QCoreApplication

    assert QCoreApplication.translate("QPlatformTheme", "Cancel") == "キャンセル"
    return qapp


def _window(qtbot, ws, **kw):
    from kodomo_desktop.gui.main_window import MainWindow

    win = MainWindow(ws, **kw)
    qtbot.addWidget(win)
    win.resize(1360, 860)
    win.show()
    qtbot.waitExposed(win)
    return win


def _shortcut(widget, key: str):
    from PySide6.QtGui import QShortcut

    return next(s for s in widget.findChildren(QShortcut) if s.key().toString() == key)


def _log(ws):
    from sqlalchemy import text

    with ws.engine.connect() as c:
        return [(r[0], r[1], r[2] or "") for r in c.execute(text("SELECT action, person_id, detail FROM access_log"))]


# --------------------------------------------------------------------------------------------------------------------
def test_search_child_open_page_and_screenshots(app, qtbot, ws):
    win = _window(qtbot, ws)
    page = win.page("children")
    model = page.model
    total = model.rowCount()
    assert total > 10
    assert all(r.age is not None and 0 <= r.age <= 18 for r in model.rows)
    # a schoolchild with siblings makes the best screenshot
    child = next(r for r in model.rows if r.school and sum(x.household_id == r.household_id for x in model.rows) > 1)

    IMAGES.mkdir(parents=True, exist_ok=True)
    assert win.grab().save(str(IMAGES / "child_list.png"), "PNG", PNG_QUICK)

    # search by kana, typed with half-width katakana: the surname's reading finds the child among fewer rows
    import unicodedata

    surname_kana = unicodedata.normalize("NFKC", child.name_kana).split()[0]
    half = __import__("jaconv").z2h(surname_kana, kana=True)
    page.search.setText(half)
    qtbot.waitUntil(lambda: 0 < model.rowCount() < total, timeout=3000)  # debounced
    assert model.view_row_of(child.person_id) >= 0
    # by 宛名番号 (full-width digits work too)
    page.search.setText(child.resident_no.translate(str.maketrans("0123456789", "０１２３４５６７８９")))
    page.apply_search()
    assert [model.row_at(i).person_id for i in range(model.rowCount())] == [child.person_id]
    # by kanji name (the surname as written)
    page.search.setText(child.name.split("\u3000")[0])
    page.apply_search()
    assert model.view_row_of(child.person_id) >= 0
    assert win.grab().save(str(IMAGES / "child_search.png"), "PNG", PNG_QUICK)

    # Enter on the selected row opens the child page
    row = model.view_row_of(child.person_id)
    page.view.setFocus()
    page.view.selectRow(row)
    qtbot.keyClick(page.view, Qt.Key_Return)
    assert page.stack.currentIndex() == 1
    view = page.child
    assert view.title.text() == child.name
    assert view.page.records, "the child has linked records"
    assert any(e.source_type == "resident_registry" for e in view.page.records)
    assert view.timeline.topLevelItemCount() >= len(view.page.records)
    assert "（" in view.fields["birth"].text() and (
        "平成" in view.fields["birth"].text() or "令和" in view.fields["birth"].text()
    )
    assert view.members.rowCount() >= 1 and view.page.siblings
    first = view.timeline.topLevelItem(0)
    assert first.text(3) and "時点" in first.text(3)  # file name and as-of date
    assert win.grab().save(str(IMAGES / "child_page.png"), "PNG", PNG_QUICK)

    # Esc goes back to the list, which kept the search
    _shortcut(view, "Esc").activated.emit()
    assert page.stack.currentIndex() == 0 and page.search.text()

    # the access log has the view and the search, with ids and counts only
    page._log_timer.stop()
    page._log_search()
    log = _log(ws)
    assert any(a == "view_person" and p == child.person_id for a, p, _ in log)
    assert any(a == "search" for a, _, _ in log)
    details = " ".join(d for _, _, d in log)
    surname = child.name.split("\u3000")[0]
    assert surname not in details and surname_kana not in details and half not in details


def test_every_page_opens_for_the_coordinator(app, qtbot, ws):
    from kodomo_desktop.gui.pages import MessagePage

    win = _window(qtbot, ws)
    assert win.keys[:2] == ["dashboard", "import"] and "log" in win.keys
    broken = []
    for key in win.keys:
        w = win.page(key)
        assert w is not None
        if isinstance(w, MessagePage) and w.kind == "error":
            broken.append(key)
    assert not broken, f"pages that failed to open: {broken}"
    win.page("dashboard")
    assert win.grab().save(str(IMAGES / "dashboard.png"), "PNG", PNG_QUICK)
    # Ctrl+5 is the fifth visible page (the offscreen platform may not activate the window: fire the shortcut)
    _shortcut(win, "Ctrl+5").activated.emit()
    assert win.current_key() == win.keys[4]
    _shortcut(win, "Ctrl+F").activated.emit()
    assert win.current_key() == "children"
    # the log page shows the chain state
    log = win.page("log")
    assert log.chain_report.ok and log.model.rowCount() > 0


def test_registry_missing_module_and_role_filter(app, qtbot, ws):
    from kodomo_desktop.gui import pages

    spec = pages.PageSpec("nowhere", "未実装", "no_such_page_module:Nope")
    w = pages.build_page(spec, ws, None)
    assert isinstance(w, pages.MessagePage) and w.kind == "pending"
    denied = pages.PageSpec("x", "x", "dashboard_page:DashboardPage", ("no.such.permission.but.any",))
    assert pages.allowed(ws, pages.spec("children"))
    with pytest.raises(KeyError):
        pages.allowed(ws, denied)  # an unknown permission is a programming error, caught early
    # a school account sees only the checklist and the settings
    ws.add_user("teacher1", "teacher pw 1", "school", school="第一小学校")
    t = Workspace.open(ws.path, "teacher pw 1", "teacher1")
    try:
        assert [p.key for p in pages.visible_pages(t)] == ["checklist", "settings"]
    finally:
        t.close()


def test_sign_in_wrong_password_then_failures_notice(app, qtbot, ws):
    from kodomo_desktop.gui.dialogs import SignInDialog, failures_message

    path = ws.path
    ws.close()
    dlg = SignInDialog(path, demo=True)
    qtbot.addWidget(dlg)
    assert dlg.demo_hint is not None and "demo" in dlg.demo_hint.text()
    dlg.pw.setText("wrong password")
    assert not dlg.try_open()
    assert "パスワードが違います" in dlg.msg.text() and dlg.workspace is None and dlg.pw.text() == ""
    dlg.pw.setText(PW)
    assert dlg.try_open()
    w = dlg.workspace
    try:
        assert w.failures_since_last == 1
        assert "パスワードの誤りが 1 回ありました" in failures_message(w.failures_since_last)
    finally:
        w.close()
    plain = SignInDialog(path)
    qtbot.addWidget(plain)
    assert plain.demo_hint is None  # the demo password is shown in demo mode only


def test_lock_and_unlock_keep_open_forms(app, qtbot, ws):
    from kodomo_desktop.gui.main_window import LockCover

    win = _window(qtbot, ws)
    page = win.page("children")
    page.search.setText("下書きの検索語")
    assert win.lock()
    assert ws.locked
    covers = [c for c in win.findChildren(LockCover) if c.isVisible()]
    assert covers and covers[0].geometry() == win.rect()
    dlg = win.lock_dialog
    assert dlg is not None and dlg.isVisible() and dlg.user.isReadOnly()
    dlg.pw.setText("not it")
    dlg.try_open()
    assert ws.locked and "パスワードが違います" in dlg.msg.text()
    assert win.grab().save(str(IMAGES / "lock_screen.png"), "PNG", PNG_QUICK)
    assert dlg.grab().save(str(IMAGES / "unlock_dialog.png"), "PNG", PNG_QUICK)
    dlg.pw.setText(PW)
    dlg.try_open()
    qtbot.waitUntil(lambda: win.lock_dialog is None, timeout=3000)
    assert not ws.locked and page.search.text() == "下書きの検索語"
    assert not [c for c in win.findChildren(LockCover) if c.isVisible()]
    actions = [a for a, _, _ in _log(ws)]
    assert "db_lock" in actions and actions[-1] in ("db_open", "search")


def test_auto_lock_after_idle(app, qtbot, ws):
    win = _window(qtbot, ws, lock_minutes=0.003)  # 0.18 s
    qtbot.waitUntil(lambda: ws.locked, timeout=5000)
    assert win.lock_dialog is not None
    win.lock_dialog.pw.setText(PW)
    win.lock_dialog.try_open()
    qtbot.waitUntil(lambda: win.lock_dialog is None, timeout=3000)
    win.set_lock_minutes(0)


def test_first_run_dialog_creates_database(app, qtbot, tmp_path):
    from kodomo_desktop.gui.dialogs import FirstRunDialog, strength

    assert strength("abc")[0] == 0 and strength("password")[0] == 1 and strength("correct horse battery staple")[0] == 4
    dlg = FirstRunDialog(path=tmp_path / "new" / "town.db")
    qtbot.addWidget(dlg)
    dlg.town.setText("みどり町")
    dlg.pw.setText("short")
    assert "8文字" in dlg.hint.text()
    dlg.pw.setText("long enough pass 1")
    dlg.pw2.setText("different")
    dlg.create()
    assert "一致しません" in dlg.msg.text() and dlg.workspace is None
    dlg.pw2.setText("long enough pass 1")
    dlg.create()
    assert dlg.choice == "created" and dlg.workspace is not None
    try:
        assert (tmp_path / "new" / "town.db").exists()
        assert not (tmp_path / "new" / "town.db").read_bytes().startswith(b"SQLite format 3")
    finally:
        dlg.workspace.close()


def test_child_list_model_on_10000_rows(app, qtbot):
    from kodomo_desktop.core.persons import ChildRow, normalisers
    from kodomo_desktop.gui.pages.children_page import ChildListModel

    nn, nk, _, _ = normalisers()
    sur = [("髙橋", "タカハシ"), ("渡邊", "ワタナベ"), ("齋藤", "サイトウ"), ("見本", "ミホン"), ("試験", "シケン")]
    rows = []
    for i in range(10_000):
        s, k = sur[i % len(sur)]
        name, kana = f"{s}　子{i:05d}", f"{k} コ{i:05d}"
        rows.append(
            ChildRow(
                f"P{i:06d}",
                name,
                kana,
                dt.date(2010 + i % 15, 1 + i % 12, 1 + i % 28),
                i % 18,
                "男",
                "第一小学校",
                str(1 + i % 6),
                "1",
                f"{i:010d}",
                f"H{i // 3:06d}",
                True,
                False,
                nn(name),
                nk(kana),
            )
        )
    model = ChildListModel(rows)
    t0 = time.perf_counter()
    n = model.set_filter("高橋")  # 新字体 finds 髙橋
    t1 = time.perf_counter()
    model.sort(2, Qt.AscendingOrder)
    t2 = time.perf_counter()
    print(f"\n10,000 rows: filter {1000 * (t1 - t0):.1f} ms, sort {1000 * (t2 - t1):.1f} ms")
    assert n == 2000
    assert model.set_filter("ﾜﾀﾅﾍﾞ ｺ00001") == 1
    assert model.set_filter("0000009999") == 1
    assert model.set_filter("") == 10_000
    births = [model.row_at(i).birth_date for i in range(0, 10_000, 997)]
    assert births == sorted(births)


def test_ops_delivers_result_error_and_cancel(app, qtbot):
    import threading

    from kodomo_desktop.core.errors import InputRefused
    from kodomo_desktop.gui import ops

    gui_thread = threading.get_ident()
    seen = {}

    def work(progress, cancel, a, b=0):
        seen["worker"] = threading.get_ident()
        for i in range(5):
            progress(i, 5)
            progress(f"段階 {i}")
        return a + b

    got = []
    op = ops.run_with_progress(None, "テスト", work, 2, b=3, on_done=lambda r: got.append((r, threading.get_ident())))
    assert op.wait(5000)
    assert got == [(5, gui_thread)] and seen["worker"] != gui_thread
    with pytest.raises(InputRefused):
        ops.call_with_progress(None, "テスト", lambda p, c: (_ for _ in ()).throw(InputRefused("だめです")))

    started = threading.Event()

    def slow(progress, cancel):
        started.set()
        for _ in range(200):
            cancel.check()
            time.sleep(0.01)
        return "finished"

    errors = []
    op = ops.run_with_progress(None, "テスト", slow, on_error=errors.append, delay_ms=0)
    started.wait(2)
    op.dialog.canceled.emit()  # the user pressed キャンセル
    assert op.wait(5000)
    assert errors and isinstance(errors[0], ops.Cancelled) and ops.running() == 0


def test_english_labels(app, qtbot, ws):
    from kodomo_desktop.gui import i18n

    i18n.set_language("en")
    try:
        assert i18n.tr("こども一覧") == "Children"
        win = _window(qtbot, ws)
        assert win.nav.item(0).text() == "Dashboard"
        assert win.page("children").model.headerData(0, Qt.Horizontal) == "Name"
    finally:
        i18n.set_language("ja")


def test_dashboard_warns_about_an_old_extract(app, qtbot, ws):
    """Each source's latest as-of date; older than its limit (設定) → the row is coloured and a warning names it."""
    from kodomo_desktop.gui.pages.dashboard_page import DashboardPage
    from kodomo_desktop.gui.prefs import set_db_setting

    page = DashboardPage(ws)
    qtbot.addWidget(page)
    assert "古い抽出" not in page.warn.text()
    ages = {r["source_type"]: r["age_days"] for r in page.fresh.rows if r["age_days"] is not None}
    st, age = next(iter(ages.items()))
    set_db_setting(ws, {"freshness_limits": {st: age - 1}})
    page.refresh()
    row = next(r for r in page.fresh.rows if r["source_type"] == st)
    assert row["overdue"] and "古い抽出" in page.warn.text() and row["label"] in page.warn.text()


def test_child_page_splits_a_wrong_record_off_and_undoes_it(app, qtbot, ws):
    """名寄せ fix from the child's page: two presses (no dialog), the link is gone and logged; 元に戻す brings the
    record back to the review queue."""
    from sqlalchemy import text

    from kodomo_desktop.core import persons as P
    from kodomo_desktop.core.storage.models import Link
    from kodomo_desktop.gui.pages.child_view import ChildView

    kids = P.list_children(ws)
    child = next(k for k in kids if len(P.child_page(ws, k.person_id).records) >= 2)
    view = ChildView(ws)
    qtbot.addWidget(view)
    view.resize(1400, 900)
    view.show()
    qtbot.waitExposed(view)
    assert view.show_person(child.person_id)
    rec = next(e for e in view.page.records if e.source_type != "resident_registry")
    n_before = len(view.page.records)
    assert view.split_selected() is None and "本人の記録を" in view.split_notice.text()  # nothing chosen
    assert view.select_record(rec.record_id)
    assert view.split_selected() is None and view.split_confirm.isVisible()  # first press only asks
    assert len(P.child_page(ws, child.person_id).records) == n_before
    did = view.split_selected(confirm=True)
    assert did and "切り離しました" in view.split_notice.text() and view.split_undo.isVisible()
    assert rec.record_id not in {e.record_id for e in view.page.records}
    with ws.session() as s:
        link = s.get(Link, rec.record_id)
        assert link.status == "unlinked" and link.person_id is None and link.method == "human"
    with ws.engine.connect() as c:
        assert (
            c.execute(
                text("SELECT count(*) FROM link_decision WHERE decision='split' AND record_id=:r"), {"r": rec.record_id}
            ).scalar()
            == 1
        )
        assert c.execute(text("SELECT count(*) FROM access_log WHERE action='link_decision'")).scalar() >= 1
    assert view.undo_split() and "取り消しました" in view.split_notice.text()
    with ws.session() as s:
        assert s.get(Link, rec.record_id).status == "review"
