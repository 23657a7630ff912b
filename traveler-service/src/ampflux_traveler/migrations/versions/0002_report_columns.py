"""Report columns: executions and labor logs carry their step's name (and position and
standard minutes) and their traveler's type, and the report indexes cover what the
reports read, so each report aggregates one table (index-only on PostgreSQL).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

EXECUTION_FIGURES = [
    "kind",
    "status",
    "qty_passed",
    "qty_failed",
    "signed_off_by",
    "step_name",
    "step_position",
    "standard_minutes",
    "traveler_type",
]
LABOR_FIGURES = ["clock_out", "minutes", "operator_id", "step_name", "traveler_type"]


def upgrade() -> None:
    with op.batch_alter_table("step_executions") as batch:
        batch.add_column(sa.Column("step_name", sa.String(100), server_default="", nullable=False))
        batch.add_column(sa.Column("step_position", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("standard_minutes", sa.Float(), server_default="0", nullable=False))
        batch.add_column(sa.Column("traveler_type", sa.String(16), server_default="", nullable=False))
    with op.batch_alter_table("labor_logs") as batch:
        batch.add_column(sa.Column("step_name", sa.String(100), server_default="", nullable=False))
        batch.add_column(sa.Column("traveler_type", sa.String(16), server_default="", nullable=False))
    # Backfill from the rows they copy (correlated subqueries: the same SQL on both backends).
    op.execute(
        """
        UPDATE step_executions SET
          step_name = (SELECT s.name FROM traveler_steps s WHERE s.id = step_executions.step_id),
          step_position = (SELECT s.position FROM traveler_steps s WHERE s.id = step_executions.step_id),
          standard_minutes = (SELECT s.standard_minutes FROM traveler_steps s WHERE s.id = step_executions.step_id),
          traveler_type = (SELECT t.traveler_type FROM travelers t WHERE t.id = step_executions.traveler_id)
        """
    )
    op.execute(
        """
        UPDATE labor_logs SET
          step_name = (SELECT s.name FROM traveler_steps s WHERE s.id = labor_logs.step_id),
          traveler_type = (SELECT t.traveler_type FROM travelers t WHERE t.id = labor_logs.traveler_id)
        """
    )
    op.drop_index("ix_step_executions_company_completed", table_name="step_executions")
    op.create_index(
        "ix_step_executions_company_completed",
        "step_executions",
        ["company_id", "completed_at"],
        postgresql_include=EXECUTION_FIGURES,
    )
    op.drop_index("ix_labor_logs_company_clock_in", table_name="labor_logs")
    op.create_index(
        "ix_labor_logs_company_clock_in", "labor_logs", ["company_id", "clock_in"], postgresql_include=LABOR_FIGURES
    )


def downgrade() -> None:
    op.drop_index("ix_labor_logs_company_clock_in", table_name="labor_logs")
    op.create_index("ix_labor_logs_company_clock_in", "labor_logs", ["company_id", "clock_in"])
    op.drop_index("ix_step_executions_company_completed", table_name="step_executions")
    op.create_index("ix_step_executions_company_completed", "step_executions", ["company_id", "completed_at"])
    with op.batch_alter_table("labor_logs") as batch:
        batch.drop_column("traveler_type")
        batch.drop_column("step_name")
    with op.batch_alter_table("step_executions") as batch:
        for column in ("traveler_type", "standard_minutes", "step_position", "step_name"):
            batch.drop_column(column)
