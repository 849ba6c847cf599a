"""person: a covering index for the child list

こども一覧 at 200,000 persons (issue 21): the list counts, pages, sorts and searches the children (a birth-date
range) in SQL. With every key it reads in one index — birth date, normalised kana and name, 宛名番号, sex, id — a
search by name or kana scans the children's index entries only (tens of milliseconds) instead of the table rows
behind the birth-date index (about a second).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 22:00:00
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_person_child_list",
        "person",
        ["birth_date", "kana_norm", "name_norm", "resident_no", "sex", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_person_child_list", table_name="person")
