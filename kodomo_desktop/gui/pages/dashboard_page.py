"""ダッシュボード: counts, each source's latest as-of date (warned when stale), due casework, warnings."""
from __future__ import annotations

import json

from sqlalchemy import text
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from .casework_page import DictTableModel, table_view


class DashboardPage(QWidget):
    def __init__(self, ws, main_window=None):
        super().__init__()
        self.ws = ws
        lay = QVBoxLayout(self)
        self.summary = QLabel()
        self.summary.setStyleSheet("font-size:13pt;")
        self.summary.setWordWrap(True)
        lay.addWidget(self.summary)
        self.warn = QLabel()
        self.warn.setStyleSheet("color:#9C0006;")
        self.warn.setWordWrap(True)
        lay.addWidget(self.warn)
        lay.addWidget(QLabel("取込元ごとの最新の時点（古いものは赤）"))
        self.fresh = DictTableModel([("label", "取込元"), ("latest_as_of", "最新の時点"), ("age_days", "経過日数"),
                                     ("limit_days", "目安（日）")])
        lay.addWidget(table_view(self.fresh), 2)
        lay.addWidget(QLabel("期日の近い対応"))
        self.due = DictTableModel([("due_on", "期日"), ("name", "氏名"), ("what", "内容")])
        lay.addWidget(table_view(self.due), 1)
        b = QPushButton("更新")
        b.clicked.connect(self.refresh)
        lay.addWidget(b)
        self.refresh()

    def refresh(self):
        from ...core.casework.service import due_list
        from ...core.governance.register import ensure_defaults, sources_without_basis
        from ...core.importing.service import freshness
        with self.ws.session() as s:
            c = dict(s.execute(text(
                "SELECT 'persons', count(*) FROM person UNION ALL SELECT 'batches', count(*) FROM source_batch "
                "WHERE removed_at IS NULL UNION ALL SELECT 'review', count(*) FROM link WHERE status='review' "
                "UNION ALL SELECT 'records', count(*) FROM source_record")).all())
            ensure_defaults(s)
            missing_basis = sources_without_basis(s)
            last_backup = s.execute(text("SELECT value FROM setting WHERE key='last_backup_at'")).scalar()
        self.summary.setText(f"登録人数 {c['persons']} 人　取込済みファイル {c['batches']} 件（{c['records']} 行）　"
                             f"名寄せの確認待ち {c['review']} 件")
        warnings = []
        if missing_basis:
            warnings.append("利用目的・根拠が未設定の取込元: " + "、".join(missing_basis))
        if not last_backup:
            warnings.append("バックアップがまだありません。設定画面からバックアップを作成してください。")
        else:
            import datetime as dt
            age = (dt.datetime.now().astimezone() - dt.datetime.fromisoformat(json.loads(last_backup) if last_backup.startswith('"') else last_backup)).days
            if age > 30:
                warnings.append(f"最後のバックアップから {age} 日経っています。")
        self.warn.setText("　".join(warnings))
        rows = freshness(self.ws)
        for r in rows:
            r["overdue"] = r["stale"]
        self.fresh.set_rows(rows)
        self.due.set_rows(due_list(self.ws))
