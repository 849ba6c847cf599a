"""link_model: the stored 名寄せ model and the pair comparisons an incremental link run reuses

A full link run (the first, ``link --full``, other settings or engine code, or the town changed past the drift bound)
fits the Fellegi–Sunter model — m, u, the prior, π and the registry's term frequencies — and keeps it here (one row:
``model``, compressed JSON). The runs after it reuse it (no EM, no u sampling) and compare only the candidate pairs
they have not seen: ``pairs`` holds the comparison levels and term frequencies of the last run's candidate pairs,
keyed by a hash of each side's identity fields (compressed npz). ``fit_state`` holds what the drift bound is measured
against (record ids and person hashes at the fit). A deletion, a removed batch and a retention purge delete the row:
the next run is full. Older databases have no row: their next run is full.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 06:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "link_model",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("fitted_at", sa.DateTime(), nullable=False),
        sa.Column("link_run_id", sa.Integer(), nullable=True),
        sa.Column("settings", sa.String(length=64), nullable=False),
        sa.Column("n_records", sa.Integer(), nullable=False),
        sa.Column("n_persons", sa.Integer(), nullable=False),
        sa.Column("model", sa.LargeBinary(), nullable=False),
        sa.Column("fit_state", sa.LargeBinary(), nullable=False),
        sa.Column("pairs", sa.LargeBinary(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("link_model")
