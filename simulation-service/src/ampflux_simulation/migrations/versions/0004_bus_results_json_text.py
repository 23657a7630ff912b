"""study bus results: values and trail as json (text), not jsonb, on PostgreSQL

Storing a run is one row per (fault, case, bus): 6,000 rows for a 3,000-bus study with two
faults, 160k for 20k buses. Parsing each into jsonb cost the database about 0.05 s of CPU per
3,000-bus run, a third of the solve, for nothing: the rows are only ever read whole, never
queried inside. `json` checks the syntax and keeps the text (0.03 s), and reads return the
stored text without re-serialising it. SQLite stores JSON as text already.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 15:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COLUMNS = ("values", "trail")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in COLUMNS:
        op.alter_column(
            "study_bus_results",
            column,
            type_=sa.JSON(),
            existing_type=postgresql.JSONB(),
            postgresql_using=f'"{column}"::json',
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in COLUMNS:
        op.alter_column(
            "study_bus_results",
            column,
            type_=postgresql.JSONB(),
            existing_type=sa.JSON(),
            postgresql_using=f'"{column}"::jsonb',
        )
