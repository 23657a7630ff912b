"""Latest study per circuit version, fed by `simulation.run.completed` / `.failed` events.

A table of its own rather than columns on `circuit_versions`: versions stay immutable
(rows only inserted), while a version's study is overwritten by every newer run.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 06:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "version_studies",
        sa.Column("circuit_version_id", sa.Uuid(), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("solve_seconds", sa.Float(), nullable=True),
        sa.Column("bus_count", sa.Integer(), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["circuit_version_id"],
            ["circuit_versions.id"],
            name=op.f("fk_version_studies_circuit_version_id_circuit_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("circuit_version_id", name=op.f("pk_version_studies")),
    )


def downgrade() -> None:
    op.drop_table("version_studies")
