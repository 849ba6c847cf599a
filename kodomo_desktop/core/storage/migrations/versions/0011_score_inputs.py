"""child_score: what an incremental score run reuses

An incremental run (issue 21) recomputes the indicators only for children whose inputs changed since the last run
with the same catalogue, weights and as-of date. Each row keeps the fingerprint of the child's inputs
(``input_key``: household, linked records, records waiting in review) and the indicators the child hit
(``hit_ids``); the ranks are then recomputed over every child. Older rows have neither: the next run is full.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 02:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("child_score") as b:
        b.add_column(sa.Column("input_key", sa.String(length=40), nullable=True))
        b.add_column(sa.Column("hit_ids", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("child_score") as b:
        b.drop_column("hit_ids")
        b.drop_column("input_key")
