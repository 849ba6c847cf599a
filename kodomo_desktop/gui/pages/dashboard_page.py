"""ダッシュボード: counts (persons, children, files, records, links and the review queue), each source's latest
as-of date (old extracts marked), due casework and reminders. Counts only — no child is named here."""
from __future__ import annotations

import datetime as dt
import json

from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ...core import persons as P
from ...core.errors import KodomoError
from ..i18n import tr
from .casework_page import DictTableModel, table_view


class _Card(QFrame):
    def __init__(self, title: str):
        super().__init__()
        self.setObjectName("card")
        self.setStyleSheet("#card { background:#F6F8F7; border:1px solid #DDE3E0; border-radius:6px; }")
        lay = QVBoxLayout(self)
        t = QLabel(title)
        t.setStyleSheet("color:#555555;")
        self.value = QLabel("—")
        self.value.setStyleSheet("font-size:20pt;font-weight:bold;color:#2E4F47;")
        self.sub = QLabel("")
        self.sub.setStyleSheet("color:#777777;")
        lay.addWidget(t)
        lay.addWidget(self.value)
        lay.addWidget(self.sub)

    def set(self, value, sub: str = ""):
        self.value.setText(f"{value:,}" if isinstance(value, int) else str(value))
        self.sub.setText(sub)


class DashboardPage(QWidget):
    def __init__(self, ws, main_window=None):
        super().__init__()
        self.ws, self.main = ws, main_window
        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        title = QLabel(tr("ダッシュボード"))
        title.setStyleSheet("font-size:15pt;font-weight:bold;")
        top.addWidget(title)
        top.addStretch(1)
        b = QPushButton(tr("更新"))
        b.clicked.connect(self.refresh)
        top.addWidget(b)
        lay.addLayout(top)
        grid = QGridLayout()
        self.cards = {}
        for n, (key, label) in enumerate([("children", "こども（0〜18歳）"), ("persons", "登録されている人"),
                                          ("batches", "取り込んだファイル"), ("linked", "連結された記録"),
                                          ("review", "名寄せの確認待ち"), ("households", "世帯")]):
            c = _Card(tr(label))
            self.cards[key] = c
            grid.addWidget(c, 0, n)
        lay.addLayout(grid)
        self.warn = QLabel()
        self.warn.setStyleSheet("color:#9C0006;")
        self.warn.setWordWrap(True)
        lay.addWidget(self.warn)
        lay.addWidget(QLabel(tr("取込元ごとの最新の時点（古い抽出は色つき）")))
        self.fresh = DictTableModel([("label", tr("取込元")), ("department", tr("部署")),
                                     ("latest_as_of", tr("最新の時点")), ("age_days", tr("経過日数")),
                                     ("batches", tr("ファイル数"))])
        self.fresh_view = table_view(self.fresh)
        lay.addWidget(self.fresh_view, 3)
        self.due_title = QLabel(tr("期日の近い対応（2週間以内）"))
        lay.addWidget(self.due_title)
        self.due = DictTableModel([("due_on", tr("期日")), ("person_id", tr("整理番号")), ("what", tr("内容"))])
        self.due_view = table_view(self.due)
        self.due_view.doubleClicked.connect(self._open_due)
        lay.addWidget(self.due_view, 1)
        self.refresh()

    def page_shown(self):
        self.refresh()

    def refresh(self):
        if self.ws.locked:
            return
        c = P.dashboard_counts(self.ws)
        self.cards["children"].set(c["children"], tr("{d} 現在", d=dt.date.today().isoformat()))
        self.cards["persons"].set(c["persons"])
        self.cards["batches"].set(c["batches"], tr("{n} 行", n=f"{c['records']:,}"))
        self.cards["linked"].set(c["linked"])
        self.cards["review"].set(c["review"], tr("名寄せのページで判断してください") if c["review"] else "")
        self.cards["households"].set(c["households"])
        limits = self._limits()
        rows = []
        for s in c["sources"]:
            stale = s["age_days"] is not None and s["age_days"] > limits.get(s["source_type"], 100)
            rows.append({**s, "overdue": stale})
        self.fresh.set_rows(rows)
        self.warn.setText("　".join(self._warnings(c)))
        try:
            if not self.ws.can("person.read"):  # the auditor: no names here (and no refusal in the log)
                raise ImportError
            from ...core.casework.service import due_list
            self.due.set_rows(due_list(self.ws))
            self.due_view.setVisible(True)
            self.due_title.setVisible(True)
        except (KodomoError, ImportError):
            self.due_view.setVisible(False)
            self.due_title.setVisible(False)

    def _limits(self) -> dict:
        try:
            from ...core.importing.service import DEFAULT_FRESHNESS_DAYS
            limits = dict(DEFAULT_FRESHNESS_DAYS)
        except ImportError:  # pragma: no cover
            limits = {}
        try:
            from ..prefs import db_setting
            custom = db_setting(self.ws, "freshness_limits", None)
            if isinstance(custom, dict):
                limits.update(custom)
        except Exception:
            pass
        return limits

    def _warnings(self, counts: dict) -> list[str]:
        out = []
        if not counts["batches"]:
            out.append(tr("まだファイルが取り込まれていません。「取込」から住民基本台帳を最初に取り込んでください。"))
        try:
            from ...core.governance.register import sources_without_basis
            with self.ws.session() as s:
                missing = sources_without_basis(s)
            if missing:
                out.append(tr("利用目的・法的根拠が未設定の取込元が {n} 件あります。", n=len(missing)))
        except Exception:
            pass
        try:
            from ..prefs import db_setting
            last = db_setting(self.ws, "last_backup_at", None)
            if isinstance(last, str) and last.startswith('"'):
                last = json.loads(last)
            if not last:
                out.append(tr("バックアップがまだありません（設定 → バックアップ）。"))
            else:
                when = dt.datetime.fromisoformat(str(last))
                now = dt.datetime.now(when.tzinfo) if when.tzinfo else dt.datetime.now()
                if (now - when).days > 30:
                    out.append(tr("最後のバックアップから {n} 日経っています。", n=(now - when).days))
        except Exception:
            pass
        return out

    def _open_due(self, index):
        row = self.due.rows[index.row()] if index.isValid() else None
        if row and row.get("person_id") and self.main is not None:
            self.main.open_person(row["person_id"])
