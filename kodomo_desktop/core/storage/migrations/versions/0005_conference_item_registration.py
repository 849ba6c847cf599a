"""conference_item: 要対協 registration and category

What a meeting decided about the child's 要対協 registration (登録する／継続／登録しない) and its category
(要保護児童／要支援児童／特定妊婦); core/casework/service.record_minutes stores them and the packet's decision box
marks them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 22:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conference_item") as b:
        b.add_column(sa.Column("registration", sa.String(length=20), nullable=True))
        b.add_column(sa.Column("category", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conference_item") as b:
        b.drop_column("category")
        b.drop_column("registration")
