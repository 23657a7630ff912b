"""Daily rollups of labor and sign-offs (per step and per operator), backfilled from the
history, so the labor-efficiency and first-pass-yield reports read a few thousand rows.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 13:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _keys(*extra: sa.Column) -> list[sa.Column]:
    return [
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("traveler_type", sa.String(16), nullable=False),
        *extra,
    ]


def upgrade() -> None:
    op.create_table(
        "labor_step_days",
        *_keys(sa.Column("step_name", sa.String(100), nullable=False)),
        sa.Column("minutes", sa.Float(), nullable=False),
        sa.Column("logs", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("company_id", "day", "traveler_type", "step_name", name=op.f("pk_labor_step_days")),
    )
    op.create_table(
        "labor_operator_days",
        *_keys(sa.Column("operator_id", sa.Uuid(), nullable=False)),
        sa.Column("minutes", sa.Float(), nullable=False),
        sa.Column("logs", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "company_id", "day", "traveler_type", "operator_id", name=op.f("pk_labor_operator_days")
        ),
    )
    op.create_table(
        "signoff_step_days",
        *_keys(
            sa.Column("step_position", sa.Integer(), nullable=False),
            sa.Column("step_name", sa.String(100), nullable=False),
            sa.Column("kind", sa.String(8), nullable=False),
        ),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Integer(), nullable=False),
        sa.Column("earned_minutes", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(
            "company_id",
            "day",
            "traveler_type",
            "step_position",
            "step_name",
            "kind",
            name=op.f("pk_signoff_step_days"),
        ),
    )
    op.create_table(
        "signoff_operator_days",
        *_keys(sa.Column("operator_id", sa.Uuid(), nullable=False)),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("earned_minutes", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(
            "company_id", "day", "traveler_type", "operator_id", name=op.f("pk_signoff_operator_days")
        ),
    )
    postgres = op.get_bind().dialect.name == "postgresql"

    def day(column: str) -> str:  # the UTC calendar day of a stored timestamp
        return f"CAST(timezone('UTC', {column}) AS DATE)" if postgres else f"date({column})"

    units = "(qty_passed + qty_failed)"
    op.execute(
        f"""
        INSERT INTO labor_step_days (company_id, day, traveler_type, step_name, minutes, logs)
        SELECT company_id, {day("clock_in")}, traveler_type, step_name, SUM(minutes), COUNT(*)
        FROM labor_logs WHERE clock_out IS NOT NULL
        GROUP BY company_id, {day("clock_in")}, traveler_type, step_name
        """
    )
    op.execute(
        f"""
        INSERT INTO labor_operator_days (company_id, day, traveler_type, operator_id, minutes, logs)
        SELECT company_id, {day("clock_in")}, traveler_type, operator_id, SUM(minutes), COUNT(*)
        FROM labor_logs WHERE clock_out IS NOT NULL
        GROUP BY company_id, {day("clock_in")}, traveler_type, operator_id
        """
    )
    op.execute(
        f"""
        INSERT INTO signoff_step_days
          (company_id, day, traveler_type, step_position, step_name, kind, units, passed, earned_minutes)
        SELECT company_id, {day("completed_at")}, traveler_type, step_position, step_name, kind,
               SUM({units}), SUM(qty_passed), SUM({units} * standard_minutes)
        FROM step_executions WHERE status = 'completed'
        GROUP BY company_id, {day("completed_at")}, traveler_type, step_position, step_name, kind
        """
    )
    op.execute(
        f"""
        INSERT INTO signoff_operator_days (company_id, day, traveler_type, operator_id, units, earned_minutes)
        SELECT company_id, {day("completed_at")}, traveler_type, signed_off_by, SUM({units}),
               SUM({units} * standard_minutes)
        FROM step_executions WHERE status = 'completed' AND signed_off_by IS NOT NULL
        GROUP BY company_id, {day("completed_at")}, traveler_type, signed_off_by
        """
    )


def downgrade() -> None:
    for table in ("signoff_operator_days", "signoff_step_days", "labor_operator_days", "labor_step_days"):
        op.drop_table(table)
