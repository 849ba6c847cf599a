"""source_record: drop the birth-date index

No query looks department rows up by birth date (linkage and scoring read whole batches; search goes through
person), while every imported row paid for a random-order insert into this index — about a quarter of the
insert time of a 100,000-row file once the table is large (benchmarks/import_speed.py).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 17:00:00
"""
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_source_record_birth_date', table_name='source_record')


def downgrade() -> None:
    op.create_index('ix_source_record_birth_date', 'source_record', ['birth_date'], unique=False)
