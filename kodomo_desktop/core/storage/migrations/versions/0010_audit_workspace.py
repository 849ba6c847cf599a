"""audit_workspace: the auditor's own encrypted workspace, opened by the town without an auditor password

An auditor's key slot lives only in the audit workspace (``<db>.audit-<slug>.db`` and its key file), never in the
town's key file. It holds a copy of the access log and the registers an auditor reads, without children's data
(core/auditspace.py). Its database key is sealed, in its key file, to a key pair whose private half is kept here
(``town_priv``), like a school workspace's (0008). ``log_seq``/``log_head``: how far the audit workspace's own log
(the auditor's reads) has been copied into the town's.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 02:15:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_workspace",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=32), nullable=False),
        sa.Column("town_priv", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("synced_at", sa.DateTime(), nullable=True),
        sa.Column("log_seq", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("log_head", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slug"),
    )


def downgrade() -> None:
    op.drop_table("audit_workspace")
