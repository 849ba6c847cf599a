"""school_workspace: each school's own encrypted workspace, opened by the town without a school password

A school user's key slot lives only in the school's workspace (``<db>.school-<slug>.db`` and its key file), never
in the town's key file. The school's database key is sealed, in the school's key file, to a key pair whose private
half is kept here (``town_priv``), so the coordinator's account opens every school workspace and either side may
re-key it. ``log_seq``/``log_head``: how far the school's access log has been copied into the town's.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 00:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "school_workspace",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school", sa.String(length=120), nullable=False),
        sa.Column("slug", sa.String(length=32), nullable=False),
        sa.Column("town_priv", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("synced_at", sa.DateTime(), nullable=True),
        sa.Column("log_seq", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("log_head", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("school"),
        sa.UniqueConstraint("slug"),
    )


def downgrade() -> None:
    op.drop_table("school_workspace")
