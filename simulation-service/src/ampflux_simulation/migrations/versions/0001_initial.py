"""study runs, inputs, results, outbox and inbox

Revision ID: 0001
Revises:
Create Date: 2026-11-22 05:45:17.060497
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from ampflux_shared.migrations import create_event_tables, drop_event_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_event_tables()
    op.create_table(
        "study_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("circuit_id", sa.Uuid(), nullable=True),
        sa.Column("circuit_version_id", sa.Uuid(), nullable=True),
        sa.Column("circuit_version_number", sa.Integer(), nullable=True),
        sa.Column("document_id", sa.String(length=200), nullable=False),
        sa.Column("document_sha256", sa.String(length=64), nullable=False),
        sa.Column("bus_count", sa.Integer(), nullable=False),
        sa.Column(
            "options", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("requested_by", sa.Uuid(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("request_sha256", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.String(length=200), nullable=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("solve_seconds", sa.Float(), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_study_runs")),
        sa.UniqueConstraint("company_id", "idempotency_key", name="uq_study_runs_company_idempotency_key"),
    )
    with op.batch_alter_table("study_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_study_runs_circuit_version_id"), ["circuit_version_id"], unique=False)
        batch_op.create_index("ix_study_runs_company_project", ["company_id", "project_id", "queued_at"], unique=False)
        batch_op.create_index("ix_study_runs_status", ["status"], unique=False)

    op.create_table(
        "study_bus_results",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("fault", sa.String(length=8), nullable=False),
        sa.Column("case", sa.String(length=8), nullable=False),
        sa.Column("bus_index", sa.Integer(), nullable=False),
        sa.Column("bus_id", sa.String(length=200), nullable=False),
        sa.Column(
            "values", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "trail", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["study_runs.id"], name=op.f("fk_study_bus_results_run_id_study_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "fault", "case", "bus_index", name=op.f("pk_study_bus_results")),
    )
    with op.batch_alter_table("study_bus_results", schema=None) as batch_op:
        batch_op.create_index("ix_study_bus_results_run_bus", ["run_id", "bus_id"], unique=False)

    op.create_table(
        "study_inputs",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("document_gz", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["study_runs.id"], name=op.f("fk_study_inputs_run_id_study_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_study_inputs")),
    )
    op.create_table(
        "study_result_sets",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("fault", sa.String(length=8), nullable=False),
        sa.Column("case", sa.String(length=8), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column(
            "quantities", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "extra", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["study_runs.id"], name=op.f("fk_study_result_sets_run_id_study_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "fault", "case", name=op.f("pk_study_result_sets")),
    )


def downgrade() -> None:

    op.drop_table("study_result_sets")
    op.drop_table("study_inputs")
    with op.batch_alter_table("study_bus_results", schema=None) as batch_op:
        batch_op.drop_index("ix_study_bus_results_run_bus")

    op.drop_table("study_bus_results")
    with op.batch_alter_table("study_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_study_runs_status")
        batch_op.drop_index("ix_study_runs_company_project")
        batch_op.drop_index(batch_op.f("ix_study_runs_circuit_version_id"))

    op.drop_table("study_runs")
    drop_event_tables()
