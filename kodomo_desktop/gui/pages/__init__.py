"""The main window's pages, plugged in from modules so that each engineer owns theirs.

A page is a factory ``Factory(workspace, main_window) -> QWidget`` named in :data:`PAGES` as
``"module:Factory"`` (module relative to this package, or a full dotted path). The main window lists the pages
whose permissions the signed-in role holds (``ws.can``; any one of ``permissions``; none = everyone) and builds a
page the first time it is shown. A module that does not exist yet gives a plain 「準備中」 page; a page whose
factory raises PermissionDenied gives 「権限がありません」; any other error gives a page with the message (the
window never crashes because one page is broken).

Optional hooks a page may define: ``page_shown()`` (called each time the page is shown — refresh cheap things
here, keep what the user typed), ``focus_search()`` (Ctrl+F), ``open_person(person_id)`` (children page).

The main window offers pages: ``main.ws``, ``main.open_person(person_id)`` (opens the child page),
``main.show_page(key)``, ``main.page(key)`` (the built widget), ``main.status(text)``.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ...core.errors import KodomoError, PermissionDenied
from .. import palette as pal
from ..i18n import tr

if TYPE_CHECKING:  # annotations only: the GUI gets its workspace from the caller
    from ...core.workspace import Workspace


@dataclass(frozen=True)
class PageSpec:
    key: str
    label: str  # Japanese; tr() gives the English label
    target: str  # "module:Factory"
    permissions: tuple[str, ...] = ()  # any one of them; empty: every role
    hint: str = ""  # tooltip

    @property
    def module(self) -> str:
        mod = self.target.split(":", 1)[0]
        return mod if "." in mod else f"{__name__}.{mod}"

    @property
    def factory(self) -> str:
        return self.target.split(":", 1)[1]


PAGES: list[PageSpec] = [
    PageSpec(
        "dashboard",
        "ダッシュボード",
        "dashboard_page:DashboardPage",
        ("person.read",),  # (counts of the town's data: not in the auditor's workspace)
        "件数と、取込元ごとの最新の時点",
    ),
    PageSpec("import", "取込", "importing:ImportPage", ("import",), "各課のファイル（CSV・Excel）を取り込む"),
    PageSpec(
        "linkage",
        "名寄せ",
        "linkage_page:LinkagePage",
        ("link.review", "link.run"),
        "記録と住民基本台帳を結びつける・確認待ちを判断する",
    ),
    PageSpec("scoring", "スコア", "scoring:ScoringPage", ("score.read",), "支援の検討のきっかけとなる項目と重み"),
    PageSpec(
        "catalogue",
        "指標の編集",
        "catalogue_page:CataloguePage",
        ("weights.edit",),
        "町の指標・しきい値・困難の種類を編集し、プレビューして採用する",
    ),
    PageSpec(
        "children",
        "こども一覧",
        "children_page:ChildrenPage",
        ("person.read",),
        "氏名・カナ・宛名番号で探し、こどものページを開く",
    ),
    PageSpec("conference", "会議", "casework:CaseworkPage", ("casework.write",), "レビューラウンド・会議・経過記録"),
    PageSpec(
        "print",
        "帳票",
        "print_page:PrintPage",
        ("report.print",),
        "アセスメントシート・会議資料・学校用シートなどの印刷・PDF保存",
    ),
    PageSpec(
        "checklist",
        "チェックリスト",
        "checklist_page:ChecklistPage",
        ("checklist.enter", "checklist.manage"),
        "学校の観察チェックリスト",
    ),
    PageSpec("settings", "設定", "settings_page:SettingsPage", (), "言語・自動ロック・バックアップ"),
    PageSpec("users", "利用者", "users_page:UsersPage", ("users.manage",), "サインインできる人の追加・再発行・削除"),
    PageSpec("log", "操作ログ", "log_page:LogPage", ("log.read",), "だれが・いつ・何をしたか（改ざん検知つき）"),
    PageSpec(
        "governance",
        "個人情報保護",
        "governance:GovernancePage",
        ("governance.read", "governance.write"),
        "利用目的と法的根拠・個人情報ファイル簿・利用停止・保存期間・自己点検",
    ),
    PageSpec(
        "help",
        "使い方",
        "help_page:HelpPage",
        ("import", "person.read", "score.read"),
        "毎月の流れ（取込 → 名寄せ → スコア → レビューラウンド → 会議 → 帳票）を画面つきで",
    ),
]


def register_page(spec: PageSpec, *, after: str | None = None) -> None:
    """Add (or replace) a page; ``after`` puts it after the page with that key."""
    for i, p in enumerate(PAGES):
        if p.key == spec.key:
            PAGES[i] = spec
            return
    if after is not None:
        for i, p in enumerate(PAGES):
            if p.key == after:
                PAGES.insert(i + 1, spec)
                return
    PAGES.append(spec)


def spec(key: str) -> PageSpec:
    for p in PAGES:
        if p.key == key:
            return p
    raise KeyError(key)


def allowed(ws: Workspace, page: PageSpec) -> bool:
    return not page.permissions or any(ws.can(p) for p in page.permissions)


def visible_pages(ws: Workspace) -> list[PageSpec]:
    return [p for p in PAGES if allowed(ws, p)]


class MessagePage(QWidget):
    """A plain page: 「準備中」, 「権限がありません」 or a page that failed to open."""

    def __init__(self, title: str, text: str = "", kind: str = "info"):
        super().__init__()
        self.kind = kind
        lay = QVBoxLayout(self)
        lay.addStretch(1)
        t = QLabel(title)
        t.setAlignment(Qt.AlignCenter)
        t.setStyleSheet("font-size:18pt;color:%s;" % (pal.ERROR if kind == "error" else pal.MUTED))
        lay.addWidget(t)
        if text:
            body = QLabel(text)
            body.setAlignment(Qt.AlignCenter)
            body.setWordWrap(True)
            body.setTextInteractionFlags(Qt.TextSelectableByMouse)
            body.setStyleSheet(f"color:{pal.MUTED};")
            lay.addWidget(body)
        lay.addStretch(2)


def _missing_module(e: ModuleNotFoundError, module: str) -> bool:
    """True when the page's own module is absent (not some import inside it)."""
    return (getattr(e, "name", None) or "") == module


def build_page(page: PageSpec, ws, main) -> QWidget:
    """The page widget, or a MessagePage; never raises."""
    if not allowed(ws, page):
        return MessagePage(tr("権限がありません"), tr("この役割ではこのページを使えません。"), "denied")
    try:
        module = importlib.import_module(page.module)
    except ModuleNotFoundError as e:
        if _missing_module(e, page.module):
            return MessagePage(tr("準備中"), tr("このページは準備中です。"), "pending")
        traceback.print_exc(file=sys.stderr)
        return MessagePage(tr("このページを開けませんでした"), f"{type(e).__name__}: {e}", "error")
    except Exception as e:
        traceback.print_exc(file=sys.stderr)
        return MessagePage(tr("このページを開けませんでした"), f"{type(e).__name__}: {e}", "error")
    factory = getattr(module, page.factory, None)
    if factory is None:
        return MessagePage(tr("準備中"), tr("このページは準備中です。"), "pending")
    try:
        return factory(ws, main)
    except PermissionDenied as e:
        return MessagePage(tr("権限がありません"), e.message_ja, "denied")
    except KodomoError as e:
        return MessagePage(tr("このページを開けませんでした"), e.message_ja, "error")
    except Exception as e:
        traceback.print_exc(file=sys.stderr)
        return MessagePage(tr("このページを開けませんでした"), f"{type(e).__name__}: {e}", "error")
