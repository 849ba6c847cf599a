"""ダッシュボード: counts (persons, children, files, records, links and the review queue), each source's latest
as-of date (old extracts marked), due casework and reminders, and the funnel of a review round (chart, per school
and age band, Excel export through gui.ops). Counts only — no child is named here."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...core import persons as P
from ...core.errors import KodomoError
from .. import palette as pal
from ..format import day
from ..i18n import tr
from ..widgets import DictTableModel, Notice, table_view
from .casework.funnel import FUNNEL_COLUMNS, FunnelChart, export_funnel, funnel_rows

if TYPE_CHECKING:  # annotations only: the GUI gets its workspace from the caller
    from ...core.workspace import Workspace

log = logging.getLogger(__name__)


class _Card(QFrame):
    def __init__(self, title: str):
        super().__init__()
        self.setObjectName("card")
        self.setStyleSheet(
            f"#card {{ background:{pal.CARD_BG}; border:1px solid {pal.CARD_BORDER}; border-radius:6px; }}"
        )
        lay = QVBoxLayout(self)
        t = QLabel(title)
        t.setStyleSheet(f"color:{pal.MUTED};")
        self.value = QLabel("—")
        self.value.setStyleSheet(f"font-size:20pt;font-weight:bold;color:{pal.CARD_VALUE};")
        self.sub = QLabel("")
        self.sub.setStyleSheet(f"color:{pal.FAINT};")
        lay.addWidget(t)
        lay.addWidget(self.value)
        lay.addWidget(self.sub)

    def set(self, value, sub: str = ""):
        self.value.setText(f"{value:,}" if isinstance(value, int) else str(value))
        self.sub.setText(sub)


class DashboardPage(QWidget):
    FILLED_WHEN_BUILT = True  # the main window skips page_shown (a refresh) right after building it

    def __init__(self, ws: Workspace, main_window=None):
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
        for n, (key, label) in enumerate(
            [
                ("children", "こども（0〜18歳）"),
                ("persons", "登録されている人"),
                ("batches", "取り込んだファイル"),
                ("linked", "連結された記録"),
                ("review", "名寄せの確認待ち"),
                ("households", "世帯"),
            ]
        ):
            c = _Card(tr(label))
            self.cards[key] = c
            grid.addWidget(c, 0, n)
        lay.addLayout(grid)
        self.warn = QLabel()
        self.warn.setStyleSheet(f"color:{pal.ERROR};")
        self.warn.setWordWrap(True)
        lay.addWidget(self.warn)
        lay.addWidget(QLabel(tr("取込元ごとの最新の時点（古い抽出は色つき）")))
        self.fresh = DictTableModel(
            [
                ("label", tr("取込元")),
                ("department", tr("部署")),
                ("latest_as_of", tr("最新の時点")),
                ("age_days", tr("経過日数")),
                ("batches", tr("ファイル数")),
            ]
        )
        self.fresh_view = table_view(self.fresh)
        lay.addWidget(self.fresh_view, 3)  # the sources list gets the room (it showed five of fourteen)
        # the open checklist round: which schools have returned it (coordinator)
        self.cl_title = QLabel(tr("観察チェックリストの回収状況"))
        lay.addWidget(self.cl_title)
        self.cl = DictTableModel(
            [
                ("school", tr("学校・園")),
                ("pupils", tr("対象")),
                ("submitted", tr("提出済み")),
                ("draft", tr("下書き")),
                ("not_yet", tr("未入力")),
            ]
        )
        self.cl_view = table_view(self.cl)
        lay.addWidget(self.cl_view, 1)
        bottom = QHBoxLayout()
        due_box = QVBoxLayout()
        self.due_title = QLabel(tr("期日の近い対応（2週間以内）"))
        due_box.addWidget(self.due_title)
        self.due = DictTableModel([("due_on", tr("期日")), ("person_id", tr("整理番号")), ("what", tr("内容"))])
        self.due_view = table_view(self.due)
        self.due_view.doubleClicked.connect(self._open_due)
        due_box.addWidget(self.due_view, 1)
        bottom.addLayout(due_box, 2)
        self.funnel_box = QGroupBox(tr("ファネル（対象 → 抽出 → 分類済み → 会議で検討 → 支援開始）"))
        fl = QVBoxLayout(self.funnel_box)
        frow = QHBoxLayout()
        self.funnel_round = QComboBox()
        self.funnel_round.currentIndexChanged.connect(lambda *_: self.refresh_funnel())
        frow.addWidget(QLabel(tr("ラウンド")))
        frow.addWidget(self.funnel_round, 1)
        self.funnel_export_btn = QPushButton(tr("Excel に出力…"))
        self.funnel_export_btn.clicked.connect(lambda: self.export_funnel())
        frow.addWidget(self.funnel_export_btn)
        fl.addLayout(frow)
        self.funnel_chart = FunnelChart()
        fl.addWidget(self.funnel_chart)
        self.funnel_model = DictTableModel([(k, tr(v)) for k, v in FUNNEL_COLUMNS])
        self.funnel_view = table_view(self.funnel_model)
        fl.addWidget(self.funnel_view, 1)
        self.funnel_notice = Notice()
        fl.addWidget(self.funnel_notice)
        self.funnel: dict | None = None
        bottom.addWidget(self.funnel_box, 3)
        lay.addLayout(bottom, 2)
        self.refresh()

    def page_shown(self):
        self.refresh()

    def refresh(self):
        if self.ws.locked:
            return
        c = P.dashboard_counts(self.ws)
        self.cards["children"].set(c["children"], tr("{d} 現在", d=day(dt.date.today())))
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
        stale = [tr("{label}（{n} 日前）", label=r["label"], n=r["age_days"]) for r in rows if r["overdue"]]
        warnings = self._warnings(c)
        if stale:  # older than the per-source limit (設定): the next extract is due
            warnings.append(tr("古い抽出があります：{s}。新しいファイルを取り込んでください。", s="、".join(stale)))
        self.warn.setText("　".join(warnings))
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
        self.load_funnel_rounds()
        self.refresh_checklists()

    def refresh_checklists(self):
        rows, title = [], ""
        if self.ws.can("checklist.manage"):
            try:
                from ...core.checklists.service import status

                st = status(self.ws)
                if st["round"]:
                    rows = st["schools"]
                    due = st["round"].get("due_on")
                    title = tr("観察チェックリストの回収状況：{r}", r=st["round"]["name"]) + (
                        tr("（提出期限 {d}）", d=due) if due else ""
                    )
            except (KodomoError, ImportError):
                rows = []
        self.cl.set_rows(rows)
        self.cl_title.setText(title)
        for w in (self.cl_title, self.cl_view):
            w.setVisible(bool(rows))

    # -- funnel ---------------------------------------------------------------------------------------------------------
    def load_funnel_rounds(self):
        rounds = []
        if self.ws.can("person.read"):
            try:
                from ...core.casework.service import list_rounds

                rounds = list_rounds(self.ws)
            except KodomoError:
                rounds = []
        keep = self.funnel_round.currentData()
        self.funnel_round.blockSignals(True)
        self.funnel_round.clear()
        for r in rounds:
            self.funnel_round.addItem(f"{r['name']}（{r['as_of']} 時点）", r["round_id"])
        if keep is not None and self.funnel_round.findData(keep) >= 0:
            self.funnel_round.setCurrentIndex(self.funnel_round.findData(keep))
        self.funnel_round.blockSignals(False)
        self.funnel_box.setVisible(bool(rounds))
        self.refresh_funnel()

    def refresh_funnel(self) -> dict | None:
        rid = self.funnel_round.currentData()
        if not rid:
            self.funnel = None
            self.funnel_chart.set_stages([])
            self.funnel_model.set_rows([])
            return None
        from ...core.casework.service import funnel
        from ..ops import call_with_progress

        try:
            f = call_with_progress(
                self, tr("ファネルの集計"), lambda progress, cancel: funnel(self.ws, rid), cancellable=False
            )
        except KodomoError as e:
            self.funnel_notice.error(e.message_ja)
            return None
        self.funnel = f
        self.funnel_chart.set_stages(f["stages"])
        self.funnel_model.set_rows(funnel_rows(f))
        return f

    def export_funnel(self, path: str | None = None) -> str | None:
        rid = self.funnel_round.currentData()
        if not rid:
            return None
        try:
            out = export_funnel(self, self.ws, rid, path)
        except (KodomoError, OSError) as e:
            self.funnel_notice.error(getattr(e, "message_ja", None) or str(e))
            return None
        if out:
            self.funnel_notice.info(tr("出力しました: {p}", p=out))
        return out

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
        except Exception:  # a warning that cannot be worked out must not keep the dashboard from showing
            log.warning("dashboard: the town's freshness limits could not be read", exc_info=True)
        return limits

    def _warnings(self, counts: dict) -> list[str]:
        out = []
        if not counts["batches"]:
            out.append(tr("まだファイルが取り込まれていません。「取込」から住民基本台帳を最初に取り込んでください。"))
        try:
            from ...core.governance.register import missing_basis_sources

            missing = missing_basis_sources(self.ws)
            if missing:
                out.append(tr("利用目的・法的根拠が未設定の取込元が {n} 件あります。", n=len(missing)))
        except Exception:  # a warning that cannot be worked out must not keep the dashboard from showing
            log.warning("dashboard: the legal-basis check could not be read", exc_info=True)
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
        except Exception:  # a warning that cannot be worked out must not keep the dashboard from showing
            log.warning("dashboard: the last backup's date could not be read", exc_info=True)
        return out

    def _open_due(self, index):
        row = self.due.rows[index.row()] if index.isValid() else None
        if row and row.get("person_id") and self.main is not None:
            self.main.open_person(row["person_id"])
