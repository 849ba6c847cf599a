"""child_score: the prioritised list's keys as columns

The scoring page at 200,000 persons (issue 21) filters, counts and pages the prioritised list in SQL. Its keys lived
only inside the ``details`` JSON; they are copied into columns — the child's place in the run's list (``position``:
band level, total, basic items, id), ``band_level``, ``school``, ``age_band``, ``newly_flagged``, ``yotaikyo`` —
with an index on (run_id, position). Existing runs are filled from their details here.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 23:40:00
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

COLUMNS = ("position", "band_level", "school", "age_band", "newly_flagged", "yotaikyo")


def _keys(details) -> dict:
    """The same keys as ``scoring.service.list_keys`` (kept here: a migration never imports the application)."""
    try:
        d = json.loads(details) if isinstance(details, str) else (details or {})
    except ValueError:
        d = {}
    if not isinstance(d, dict):
        d = {}
    history = d.get("history") if isinstance(d.get("history"), dict) else {}
    return {
        "band_level": int(d.get("band_level") or 0),
        "school": str(d.get("school") or ""),
        "age_band": str(d.get("age_band") or ""),
        "newly_flagged": bool(d.get("newly_flagged", history.get("newly_flagged", False))),
        "yotaikyo": bool(d.get("yotaikyo_active")),
    }


def upgrade() -> None:
    with op.batch_alter_table("child_score", schema=None) as batch_op:
        batch_op.add_column(sa.Column("position", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("band_level", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("school", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("age_band", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("newly_flagged", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("yotaikyo", sa.Boolean(), nullable=True))
        batch_op.create_index("ix_child_score_list", ["run_id", "position"], unique=False)
    conn = op.get_bind()
    runs = [r for (r,) in conn.execute(sa.text("SELECT DISTINCT run_id FROM child_score"))]
    for run in runs:
        rows = []
        for pid, total, basic, details in conn.execute(
            sa.text("SELECT person_id, total, basic_items, details FROM child_score WHERE run_id = :r"), {"r": run}
        ):
            k = _keys(details)
            rows.append((k, -(k["band_level"]), -float(total or 0), -int(basic or 0), pid))
        rows.sort(key=lambda x: x[1:])
        if not rows:
            continue
        conn.execute(
            sa.text(
                "UPDATE child_score SET position = :position, band_level = :band_level, school = :school, "
                "age_band = :age_band, newly_flagged = :newly_flagged, yotaikyo = :yotaikyo "
                "WHERE run_id = :run_id AND person_id = :person_id"
            ),
            [{**k, "position": n + 1, "run_id": run, "person_id": pid} for n, (k, *_, pid) in enumerate(rows)],
        )


def downgrade() -> None:
    with op.batch_alter_table("child_score", schema=None) as batch_op:
        batch_op.drop_index("ix_child_score_list")
        for c in reversed(COLUMNS):
            batch_op.drop_column(c)
