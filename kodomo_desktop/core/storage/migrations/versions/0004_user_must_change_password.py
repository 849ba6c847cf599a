"""app_user: must_change_password

A user added or reset by the coordinator signs in with a temporary password and must choose their own before
anything else (the GUI asks at sign-in; core/users.py sets and clears the flag).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 21:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("app_user") as b:
        b.add_column(sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("app_user") as b:
        b.drop_column("must_change_password")
