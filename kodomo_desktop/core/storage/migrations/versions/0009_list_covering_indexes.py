"""child_score and link: covering indexes for the long lists

At 200,000 persons (issue 21) a filter on the prioritised list (抽出のみ, a school, an age band…) read every
``child_score`` row of the run, details JSON and all (1.6 s); the list's keys now sit in one index with the run and the
list order, so counting, filtering and paging read index entries only. The 名寄せ review queue is paged in match-weight
order from an index on (status, score DESC, record_id) instead of sorting the whole queue for every page. Sorting the
list by name or age probes each child's sort keys in ``ix_person_sort_keys`` (id, kana, name, birth date) instead of
the person rows.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 00:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

LIST_KEYS = [
    "run_id",
    "position",
    "flagged",
    "band_level",
    "band",
    "school",
    "age_band",
    "newly_flagged",
    "yotaikyo",
    "types",
    "total",
    "basic_items",
    "person_id",
]


def upgrade() -> None:
    op.drop_index("ix_child_score_list", table_name="child_score")
    op.create_index("ix_child_score_list_keys", "child_score", LIST_KEYS, unique=False)
    op.create_index("ix_link_queue", "link", ["status", sa.text("score DESC"), "record_id"], unique=False)
    op.create_index("ix_person_sort_keys", "person", ["id", "kana_norm", "name_norm", "birth_date"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_person_sort_keys", table_name="person")
    op.drop_index("ix_link_queue", table_name="link")
    op.drop_index("ix_child_score_list_keys", table_name="child_score")
    op.create_index("ix_child_score_list", "child_score", ["run_id", "position"], unique=False)
